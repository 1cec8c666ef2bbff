"""The ``skhypergrad`` command: tune a model by hypergradient descent, compare with grids.

Without ``--csv`` the data are scikit-learn's bundled diabetes data with all
degree-2 interactions (442 samples, 65 standardized features), or its breast
cancer data (569 samples, 30 features) for ``--model logistic``. With ``--csv
FILE --target COLUMN`` they are the user's: a comma-separated file with a
header line, numeric feature columns and a target column (numeric for the
regressors, any labels for ``--model logistic``); features are standardized
(the scaler fitted on the training part).

In both cases 20% of the rows are held out for testing, the same folds are
used by every method, progress lines are printed while the search runs, and
a table compares the search with ``GridSearchCV`` and the scikit-learn
``*CV`` estimator of the same model: wall-clock time, inner fits, chosen
hyperparameters, cross-validation loss (recomputed with scikit-learn on the
same folds) and test score.

Errors (bad arguments, unreadable or malformed files, data the model cannot
use) print one line on stderr and exit with status 2.
"""

import argparse
import csv
import os
import sys
import time
import warnings

import numpy as np

__all__ = ["main"]

MODELS = ("enet", "lasso", "weighted-lasso", "logistic")


class UsageError(Exception):
    """An error the user can fix: printed as one line, exit status 2."""


# -- data ------------------------------------------------------------------------------
def _diabetes():
    from sklearn.datasets import load_diabetes
    from sklearn.preprocessing import PolynomialFeatures

    X, y = load_diabetes(return_X_y=True)
    X = PolynomialFeatures(2, include_bias=False).fit_transform(X)
    return X, y, "diabetes with degree-2 interactions"


def _breast_cancer():
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    return X, y, "breast cancer (binary classification)"


def read_csv(path, target, delimiter=",", numeric_target=True):
    """``(X, y, feature_names)`` from a CSV file with a header line.

    Parameters
    ----------
    path : str
        File to read.
    target : str
        Name of the target column (or its 0-based index, as a string of digits,
        when no column has that name).
    delimiter : str, default=","
    numeric_target : bool, default=True
        Parse the target as numbers (regression) or keep its labels as strings.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
    feature_names : list of str

    Raises
    ------
    UsageError
        Unreadable file, no header, unknown target column, ragged rows,
        non-numeric or missing values, fewer than 2 rows or no feature column.
    """
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f, delimiter=delimiter))
    except FileNotFoundError:
        raise UsageError(f"cannot read {path!r}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"cannot read {path!r}: it is a directory") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise UsageError(f"cannot read {path!r}: {exc}") from None
    rows = [r for r in rows if r and any(c.strip() for c in r)]
    if not rows:
        raise UsageError(f"{path!r} is empty")
    header = [c.strip() for c in rows[0]]
    body = rows[1:]
    if target in header:
        t = header.index(target)
    elif target.isdigit() and int(target) < len(header):
        t = int(target)
    else:
        shown = ", ".join(header[:10]) + (", ..." if len(header) > 10 else "")
        raise UsageError(f"target column {target!r} not found in {path!r} "
                         f"(columns: {shown})")
    if len(header) < 2:
        raise UsageError(f"{path!r} has no feature column besides the target {target!r}")
    if len(body) < 2:
        raise UsageError(f"{path!r} has fewer than 2 data rows")
    for i, r in enumerate(body):
        if len(r) != len(header):
            raise UsageError(f"{path!r}, line {i + 2}: {len(r)} fields, the header has "
                             f"{len(header)}")
    features = [j for j in range(len(header)) if j != t]
    X = np.empty((len(body), len(features)))
    for i, r in enumerate(body):
        for k, j in enumerate(features):
            X[i, k] = _number(r[j], path, i + 2, header[j])
    if numeric_target:
        y = np.array([_number(r[t], path, i + 2, header[t]) for i, r in enumerate(body)])
    else:
        y = np.array([r[t].strip() for r in body])
        if any(v == "" for v in y):
            raise UsageError(f"{path!r}: missing value in target column {header[t]!r}")
    return X, y, [header[j] for j in features]


def _number(text, path, line, column):
    text = text.strip()
    try:
        value = float(text)
    except ValueError:
        what = "missing value" if text == "" else f"non-numeric value {text!r}"
        raise UsageError(f"{path!r}, line {line}: {what} in column {column!r} "
                         f"(features and regression targets must be numbers)") from None
    if not np.isfinite(value):
        raise UsageError(f"{path!r}, line {line}: {text!r} in column {column!r} "
                         f"(values must be finite)")
    return value


# -- the methods compared --------------------------------------------------------------
def _hypergrad(model, cv, args):
    from . import (ElasticNetHyperGrad, LassoHyperGrad, LogisticRegressionHyperGrad,
                   WeightedLassoHyperGrad)
    common = dict(cv=cv, max_iter=args.max_iter, hypergradient=args.hypergradient)
    if model == "enet":
        return ElasticNetHyperGrad(**common)
    if model == "lasso":
        return LassoHyperGrad(**common)
    if model == "weighted-lasso":
        return WeightedLassoHyperGrad(**common)
    return LogisticRegressionHyperGrad(penalty="elasticnet", **common)


def _baselines(model, X, y, cv, quick, random_state):
    """``[(name, estimator, n_fits, params_of(fitted))]`` of the grid-search baselines."""
    from sklearn.linear_model import (ElasticNet, ElasticNetCV, Lasso, LassoCV,
                                      LogisticRegression, LogisticRegressionCV)
    from sklearn.model_selection import GridSearchCV

    k = cv.get_n_splits()
    n_a, n_r = (4, 3) if quick else (10, 10)
    if model == "logistic":
        Cs = np.logspace(-3, 2, n_a)
        l1_ratios = np.linspace(0.1, 1.0, n_r)
        lr = LogisticRegression(solver="saga", l1_ratio=0.5, max_iter=2000, tol=1e-4,
                                random_state=random_state)
        grid = GridSearchCV(lr, {"C": Cs, "l1_ratio": l1_ratios}, cv=cv,
                            scoring="neg_log_loss")
        lrcv = LogisticRegressionCV(Cs=Cs, l1_ratios=l1_ratios, solver="saga", cv=cv,
                                    max_iter=2000, tol=1e-4, scoring="neg_log_loss",
                                    random_state=random_state, use_legacy_attributes=False)
        return [
            (f"GridSearchCV(LogReg) {n_a}x{n_r}", grid, n_a * n_r * k + 1,
             lambda g: {"C": g.best_params_["C"], "l1_ratio": g.best_params_["l1_ratio"]}),
            ("LogisticRegressionCV", lrcv, n_a * n_r * k + 1,
             lambda e: {"C": float(np.ravel(e.C_)[0]),
                        "l1_ratio": float(np.ravel(e.l1_ratio_)[0])}),
        ]
    alpha_max = np.abs(X.T @ (y - y.mean())).max() / X.shape[0]
    alphas = alpha_max * np.logspace(0, -3, n_a)
    if model in ("lasso", "weighted-lasso"):
        n_g = 5 if quick else 30
        alphas = alpha_max * np.logspace(0, -3, n_g)
        grid = GridSearchCV(Lasso(max_iter=10_000), {"alpha": alphas}, cv=cv,
                            scoring="neg_mean_squared_error")
        n_path = 10 if quick else 100
        return [
            (f"GridSearchCV(Lasso) {n_g}", grid, n_g * k + 1,
             lambda g: {"alpha": g.best_params_["alpha"]}),
            ("LassoCV", LassoCV(cv=cv, n_alphas=n_path, max_iter=10_000)
             if _has_param(LassoCV, "n_alphas") else LassoCV(cv=cv, alphas=n_path,
                                                             max_iter=10_000),
             n_path * k + 1, lambda e: {"alpha": e.alpha_}),
        ]
    l1_ratios = np.linspace(0.1, 1.0, n_r)
    grid = GridSearchCV(ElasticNet(max_iter=10_000), {"alpha": alphas, "l1_ratio": l1_ratios},
                        cv=cv, scoring="neg_mean_squared_error")
    n_path = 10 if quick else 100
    encv = (ElasticNetCV(l1_ratio=l1_ratios, cv=cv, n_alphas=n_path, max_iter=10_000)
            if _has_param(ElasticNetCV, "n_alphas")
            else ElasticNetCV(l1_ratio=l1_ratios, cv=cv, alphas=n_path, max_iter=10_000))
    return [
        (f"GridSearchCV(ElasticNet) {n_a}x{n_r}", grid, n_a * n_r * k + 1,
         lambda g: {"alpha": g.best_params_["alpha"],
                    "l1_ratio": g.best_params_["l1_ratio"]}),
        ("ElasticNetCV", encv, n_r * n_path * k + 1,
         lambda e: {"alpha": e.alpha_, "l1_ratio": e.l1_ratio_}),
    ]


def _has_param(cls, name):
    import inspect
    params = inspect.signature(cls).parameters
    return name in params and params[name].default != "deprecated"


def _sklearn_model(model, params, random_state):
    """The scikit-learn estimator at ``params``, for the common CV loss column."""
    from sklearn.linear_model import ElasticNet, Lasso, LogisticRegression
    if model == "logistic":
        return LogisticRegression(solver="saga", max_iter=5000, tol=1e-6,
                                  random_state=random_state, **params)
    if "l1_ratio" in params:
        return ElasticNet(tol=1e-8, max_iter=100_000, **params)
    return Lasso(tol=1e-8, max_iter=100_000, **params)


def _cv_loss(model, params, X, y, cv, random_state):
    from sklearn.model_selection import cross_val_score
    scoring = "neg_log_loss" if model == "logistic" else "neg_mean_squared_error"
    est = _sklearn_model(model, params, random_state)
    return -cross_val_score(est, X, y, cv=cv, scoring=scoring).mean()


def _format_params(params):
    return " ".join(f"{k}={v:.4g}" for k, v in params.items())


def _progress(est, n_train, out):
    """A callback printing one line per criterion evaluation of ``est``'s search.

    Seconds are counted from the callback's creation (just before ``fit``).
    """
    state = {"k": 0, "best": np.inf, "t0": time.perf_counter()}

    def callback(entry):
        state["k"] += 1
        names = est._hyper_names(entry["lam"], n_train)
        if "alphas" in names:
            a = names["alphas"]
            hyper = f"alphas in [{a.min():.3g}, {a.max():.3g}] (median {np.median(a):.3g})"
        else:
            shown = {k: v for k, v in names.items()
                     if not (k == "alpha" and "C" in names)}
            hyper = _format_params(shown)
        phase = "scan" if entry["grad"] is None else "step"
        value = entry["value"]
        mark = " *" if value < state["best"] else ""
        state["best"] = min(state["best"], value)
        print(f"  [{phase} {state['k']:3d}] {hyper:<40} CV loss {value:<10.6g} "
              f"{time.perf_counter() - state['t0']:6.2f}s{mark}", file=out, flush=True)
        return False

    return callback


def run(args, out=None):
    """Run the comparison described by the parsed ``args``; returns the exit status."""
    out = sys.stdout if out is None else out
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import KFold, StratifiedKFold, train_test_split
    from sklearn.preprocessing import StandardScaler

    model = args.model
    classifier = model == "logistic"
    if args.csv is None:
        X, y, what = _breast_cancer() if classifier else _diabetes()
    else:
        X, y, names = read_csv(args.csv, args.target, delimiter=args.delimiter,
                               numeric_target=not classifier)
        what = f"{os.path.basename(args.csv)} (target {args.target!r}, {len(names)} features)"
    if classifier:
        classes, counts = np.unique(y, return_counts=True)
        if classes.shape[0] < 2:
            raise UsageError(f"the target column has a single class ({classes[0]!r})")
        if counts.min() < 2:
            raise UsageError("every class needs at least 2 rows for the train/test split")
    stratify = y if classifier else None
    try:
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=args.test_size, random_state=args.random_state, stratify=stratify)
    except ValueError as exc:
        raise UsageError(f"cannot split the data: {exc}") from None
    if X_train.shape[0] < 2 * args.cv:
        raise UsageError(f"{X_train.shape[0]} training rows are too few for {args.cv} folds")
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    folds = StratifiedKFold if classifier else KFold
    cv = folds(args.cv, shuffle=True, random_state=args.random_state)
    if classifier:
        _, counts = np.unique(y_train, return_counts=True)
        if counts.min() < args.cv:
            raise UsageError(f"the smallest class has {counts.min()} training rows, fewer "
                             f"than --cv {args.cv} folds")
    n, p = X_train.shape
    print(f"Data: {what}; {n} training rows, {p} features, {X_test.shape[0]} test rows; "
          f"{args.cv}-fold cross-validation.", file=out)

    warnings.simplefilter("ignore", ConvergenceWarning)
    est = _hypergrad(model, cv, args)
    if not args.quiet:
        est.set_params(callback=_progress(est, n, out))
    print(f"\n{type(est).__name__} ({args.hypergradient} hypergradient)"
          + ("" if args.quiet else ": one line per criterion evaluation (scan = starting "
             "points without gradient, step = gradient descent; * = best so far)"),
          file=out, flush=True)
    t0 = time.perf_counter()
    est.fit(X_train, y_train)
    seconds = time.perf_counter() - t0
    est.set_params(callback=None)
    if model == "weighted-lasso":
        # the grid baselines have one alpha: their CV loss column is comparable only through
        # the coefficients, so the weighted model's own criterion is reported instead
        params = None
    elif model == "logistic":
        params = {"C": est.C_, "l1_ratio": est.l1_ratio_}
    elif model == "lasso":
        params = {"alpha": est.alpha_}
    else:
        params = {"alpha": est.alpha_, "l1_ratio": est.l1_ratio_}
    rows = [(type(est).__name__, seconds, est.n_evals_ * args.cv + 1, params,
             est.best_loss_ if params is None else None, est)]

    if not args.no_compare:
        for name, baseline, fits, params_of in _baselines(model, X_train, y_train, cv,
                                                          args.quick, args.random_state):
            print(f"{name} ...", file=out, flush=True)
            t0 = time.perf_counter()
            baseline.fit(X_train, y_train)
            rows.append((name, time.perf_counter() - t0, fits, params_of(baseline), None,
                         baseline))

    from sklearn.metrics import accuracy_score, r2_score
    metric = accuracy_score if classifier else r2_score
    loss_name = "CV log-loss" if classifier else "CV MSE"
    score_name = "test acc" if classifier else "test R2"
    print(f"\n{'method':<34}{'time (s)':>9}{'fits':>7}  {'hyperparameters':<28}"
          f"{loss_name:>12}{score_name:>10}", file=out)
    for name, t, fits, params, loss, fitted in rows:
        if loss is None:
            loss = _cv_loss(model, params, X_train, y_train, cv, args.random_state)
        shown = (f"{p} alphas, median {np.median(est.alphas_):.3g}" if params is None
                 else _format_params(params))
        # not fitted.score: the *CV and search objects score with their own scoring
        test = metric(y_test, fitted.predict(X_test))
        print(f"{name:<34}{t:>9.2f}{fits:>7d}  {shown:<28}{loss:>12.5g}{test:>10.3f}",
              file=out)
    print(f"\n{loss_name} is recomputed with scikit-learn on the same folds at every "
          f"method's hyperparameters" + (" (for WeightedLassoHyperGrad: its own criterion)."
                                        if model == "weighted-lasso" else "."), file=out)
    if args.plot:
        _plot(est, X_train, y_train, args.plot)
        print(f"Figure written to {args.plot}", file=out)
    return 0


def _plot(est, X, y, path):
    try:
        import matplotlib
    except ImportError:
        raise UsageError("--plot needs matplotlib: pip install \"skhypergrad[plot]\"") from None
    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .plotting import plot_coef_path, plot_criterion, plot_trajectory

    two = est.lam_.shape[0] == 2
    fig, axes = plt.subplots(1, 3 if two else 2, figsize=(16 if two else 11, 4.5))
    if two:
        plot_trajectory(est, X, y, space="lam", ax=axes[0])
    plot_criterion(est, ax=axes[-2])
    plot_coef_path(est, X, y, ax=axes[-1])
    fig.tight_layout()
    try:
        fig.savefig(path, dpi=100)
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot write the figure to {path!r}: {exc}") from None
    finally:
        plt.close(fig)


# -- command line ----------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    """argparse, but its errors are one line (no usage block), still with exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _parser():
    from .hypergrad import ENGINES

    parser = _Parser(
        prog="skhypergrad",
        description="Tune a regularized linear model by hypergradient descent on the "
                    "cross-validation loss and compare it with GridSearchCV and the "
                    "scikit-learn *CV estimator. Default: an elastic net on the bundled "
                    "diabetes data (breast cancer data for --model logistic).",
        epilog="Example: skhypergrad --csv data.csv --target price --model lasso --plot "
               "search.png")
    parser.add_argument("--csv", metavar="FILE",
                        help="comma-separated file with a header line (numeric features)")
    parser.add_argument("--target", metavar="COLUMN",
                        help="name (or 0-based index) of the target column of --csv")
    parser.add_argument("--delimiter", default=",", help="field separator of --csv "
                        "(default ',')")
    parser.add_argument("--model", choices=MODELS, default="enet",
                        help="enet (default): alpha and l1_ratio; lasso: alpha; "
                             "weighted-lasso: one alpha per feature; logistic: C and "
                             "l1_ratio of an elastic-net logistic regression")
    parser.add_argument("--cv", type=int, default=5, help="number of folds (default 5)")
    parser.add_argument("--test-size", type=float, default=0.2,
                        help="fraction of rows held out for the test score (default 0.2)")
    parser.add_argument("--max-iter", type=int, default=30,
                        help="outer gradient steps (default 30)")
    parser.add_argument("--hypergradient", choices=ENGINES, default="aid-cg",
                        help="hypergradient engine (default aid-cg)")
    parser.add_argument("--quick", action="store_true",
                        help="small baseline grids and at most 5 outer steps (a smoke test)")
    parser.add_argument("--no-compare", action="store_true",
                        help="skip GridSearchCV and the *CV baseline")
    parser.add_argument("--plot", metavar="OUT.png",
                        help="write a figure of the search (landscape, criterion, "
                             "coefficient paths); needs matplotlib")
    parser.add_argument("--random-state", type=int, default=0,
                        help="seed of the train/test split and of the folds (default 0)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    return parser


def main(argv=None):
    """Entry point of ``python -m skhypergrad`` and of the ``skhypergrad`` command.

    Parameters
    ----------
    argv : list of str, default=None
        Arguments (``sys.argv[1:]`` when None).

    Returns
    -------
    int
        Exit status: 0 on success, 2 on a usage or data error (errors in the
        arguments exit with 2 through ``SystemExit``, as argparse does), 1 on an unexpected error
        (one line; the traceback with ``SKHYPERGRAD_DEBUG=1``).
    """
    parser = _parser()
    args = parser.parse_args(argv)
    if args.cv < 2:
        parser.error("--cv must be at least 2")
    if args.max_iter < 0:
        parser.error("--max-iter must be >= 0")
    if not 0 < args.test_size < 1:
        parser.error("--test-size must be in (0, 1)")
    if (args.csv is None) != (args.target is None):
        parser.error("--csv and --target go together")
    if len(args.delimiter) != 1:
        parser.error("--delimiter must be one character")
    if args.quick:
        args.max_iter = min(args.max_iter, 5)
    try:
        return run(args)
    except UsageError as exc:
        print(f"skhypergrad: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("skhypergrad: interrupted", file=sys.stderr)
        return 130
    except (ValueError, MemoryError, OSError) as exc:
        # e.g. data scikit-learn rejects (NaN after scaling a constant column...)
        message = " ".join(str(exc).split())
        print(f"skhypergrad: error: {type(exc).__name__}: {message}", file=sys.stderr)
        return 2
    except Exception as exc:  # a bug: still one line, the traceback on request
        if os.environ.get("SKHYPERGRAD_DEBUG"):
            raise
        message = " ".join(str(exc).split())
        print(f"skhypergrad: internal error: {type(exc).__name__}: {message} (set "
              f"SKHYPERGRAD_DEBUG=1 for the traceback)", file=sys.stderr)
        return 1
