"""The ``skhypergrad`` command: tune a model by hypergradient descent, compare with grids.

Without ``--csv`` the data are scikit-learn's bundled diabetes data with all
degree-2 interactions (442 samples, 65 features), or its breast cancer data
(569 samples, 30 features) for ``--model logistic``. With ``--csv FILE --target
COLUMN`` they are the user's: a delimited text file (compressed or not), read by
:func:`skhypergrad._cli_data.read_table`, whose numeric, text and boolean columns
are imputed, one-hot encoded and standardized by a ``ColumnTransformer``
(:func:`skhypergrad._cli_data.make_preprocessor`).

In both cases 20% of the rows are held out for testing; the preprocessing is
the first step of a ``Pipeline`` whose last step is the tuned model, fitted on
the other 80% (so its statistics, medians, categories and scales, come from
those rows), and printed. The same folds are used by every method, progress
lines are printed while the search and the baselines run, and a table compares
the search with ``GridSearchCV`` and the scikit-learn ``*CV`` estimator of the
same model: wall-clock time, inner fits, chosen hyperparameters,
cross-validation loss (recomputed with scikit-learn on the same folds) and test
score. ``--no-compare`` runs the search and its refit only.

Errors (bad arguments, unreadable or malformed files, data the model cannot
use) print one line on stderr and exit with status 2; output paths are checked
before any computation.
"""

import argparse
import os
import sys
import time
import warnings

import numpy as np

from ._cli_data import (UsageError, describe_preprocessor, make_preprocessor, parse_delimiter,
                        read_table)

__all__ = ["main"]

MODELS = ("enet", "lasso", "weighted-lasso", "logistic")


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


def _load(args, err):
    """``(X, y, description, preprocessor)``; layout warnings are printed on ``err``."""
    from sklearn.preprocessing import StandardScaler

    classifier = args.model == "logistic"
    if args.csv is None:
        X, y, what = _breast_cancer() if classifier else _diabetes()
        return X, y, what, StandardScaler()
    table = read_table(args.csv, args.target, delimiter=args.delimiter, decimal=args.decimal,
                       header=not args.no_header, index_col=args.index_col,
                       classifier=classifier, drop_missing=args.drop_missing,
                       encoding=args.encoding, thousands=args.thousands)
    for message in table.warnings:
        print(f"skhypergrad: warning: {message}", file=err, flush=True)
    kinds = [f"{len(table.numeric)} numeric"]
    if table.categorical:
        kinds.append(f"{len(table.categorical)} text or boolean")
    what = (f"{os.path.basename(args.csv)} (target {args.target!r}, columns: "
            f"{', '.join(kinds)}; separator {table.delimiter!r}")
    if table.n_missing_rows:
        what += (f"; {table.n_missing_rows} rows with missing values, imputed "
                 f"(--drop-missing drops them)")
    return table.X, table.y, what + ")", make_preprocessor(table.numeric, table.categorical)


def _check_classes(y):
    """Refuse class labels that --model logistic cannot split: a single class, or a class
    with a single row (more than 20 numeric labels: perhaps a quantity, so the regression
    models are named)."""
    classes, counts = np.unique(y, return_counts=True)
    if classes.shape[0] < 2:
        raise UsageError(f"the target column has a single class ({classes.tolist()[0]!r}); "
                         f"--model logistic needs at least 2")
    if counts.min() < 2:
        lonely = classes[counts < 2].tolist()
        which = (f"class {lonely[0]!r} has" if len(lonely) == 1 else
                 f"{len(lonely)} of the {classes.shape[0]} classes (such as {lonely[0]!r}) "
                 f"have")
        hint = ""
        if y.dtype.kind in "iuf" and classes.shape[0] > 20:
            hint = (f"; {classes.shape[0]} numeric classes: if the target is a quantity, "
                    f"use a regression model (--model enet, lasso or weighted-lasso)")
        raise UsageError(f"{which} a single row; every class needs at least 2 rows for the "
                         f"train/test split" + hint)


def _check_plot_path(path):
    """Fail now, not after the search, when the figure cannot be written to ``path``."""
    try:
        from matplotlib.backend_bases import FigureCanvasBase
    except ImportError:
        raise UsageError('--plot needs matplotlib: pip install "skhypergrad[demo]"') from None
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise UsageError(f"cannot write the figure to {path!r}: it is a directory")
    if not os.path.isdir(directory):
        raise UsageError(f"cannot write the figure to {path!r}: no directory {directory!r}")
    existed = os.path.exists(path)
    try:                 # the file system's answer (os.access says yes to root on /sys)
        with open(path, "ab"):
            pass
    except OSError as exc:
        raise UsageError(f"cannot write the figure to {path!r}: {exc.strerror.lower()}"
                         ) from None
    if not existed:
        os.remove(path)
    suffix = os.path.splitext(path)[1][1:].lower()
    formats = FigureCanvasBase.get_supported_filetypes()
    if suffix and suffix not in formats:
        raise UsageError(f"cannot write the figure to {path!r}: unknown image format "
                         f"{suffix!r} (use .png, .pdf or .svg)")


# -- the methods compared --------------------------------------------------------------
def _compile_kernels(est, X, y, out, announce):
    """Compile the numba kernels that fitting ``est`` on ``(X, y)`` needs, before the
    timed fit: a one-step search of a clone of ``est`` (the same kernels and signatures).
    A first run in an environment, or the first after the package's sources changed
    (numba's cache keeps kernels by their source file's time stamp), pays this once; the
    seconds and kernel count are printed when any kernel compiled (with ``announce``, a
    line before: nothing is cached), else the seconds of loading them from the cache;
    the comparison's table times each method's own work. The kernels compile even where
    a fit would run them as Python (:func:`~skhypergrad._jit.always_compile`): the table
    shows the compiled speed of every later run."""
    from sklearn.base import clone

    from ._jit import always_compile
    from ._kernel_cache import compiled_count

    always_compile()

    if announce:
        print("\nCompiling numerical kernels once (first run in this environment; numba "
              "caches them: later runs load them in under a second) ...", file=out,
              flush=True)
    before, t0 = compiled_count(), time.perf_counter()
    clone(est).set_params(max_iter=1).fit(X, y)
    compiled, seconds = compiled_count() - before, time.perf_counter() - t0
    if compiled:
        lead = "  " if announce else "\nNumerical kernels: "
        print(f"{lead}compiled {compiled} kernels in {seconds:.1f}s (not counted in the "
              f"times below; numba caches them)", file=out, flush=True)
    else:
        # the seconds are the warm-up search's, not only loading: with a slow engine
        # (itd, nsid) its one step can take seconds
        print(f"\nWarm-up: a one-step search loaded the numerical kernels from numba's "
              f"cache, {seconds:.2f}s (once per process, not counted in the times below).",
              file=out, flush=True)


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


class _ScoringProgress:
    """A scorer that also prints how far its search is: ``which: done/total fits, seconds``.

    Grid searches call their scorer once per (candidate, fold), in this process
    (``n_jobs=None``); a line is printed at most every ``every`` seconds, and at the end.
    """

    def __init__(self, name, scoring, total, out, every=2.0):
        from sklearn.metrics import get_scorer

        self.name, self.total, self.out, self.every = name, total, out, every
        self.scorer = get_scorer(scoring)
        self.start()

    def start(self):
        """Count fits and seconds from now (call it just before the search's ``fit``)."""
        self.done, self.t0 = 0, time.perf_counter()
        self.shown = self.t0

    def __call__(self, estimator, X, y):
        score = self.scorer(estimator, X, y)
        self.done += 1
        now = time.perf_counter()
        if now - self.shown >= self.every or self.done == self.total:
            self.shown = now
            print(f"  {self.name}: {self.done}/{self.total} fits, {now - self.t0:.1f}s",
                  file=self.out, flush=True)
        return score


def _baselines(model, X, y, cv, quick, random_state, out):
    """``[(name, estimator, n_fits, params_of(fitted), progress)]`` of the baselines.

    ``progress`` is the :class:`_ScoringProgress` the estimator scores with where
    scikit-learn lets it (``GridSearchCV``, ``LogisticRegressionCV``), else None.
    """
    from sklearn.linear_model import (ElasticNet, ElasticNetCV, Lasso, LassoCV,
                                      LogisticRegression, LogisticRegressionCV)
    from sklearn.model_selection import GridSearchCV

    k = cv.get_n_splits()
    n_a, n_r = (4, 3) if quick else (10, 10)
    if model == "logistic":
        Cs = np.logspace(-3, 2, n_a)
        l1_ratios = np.linspace(0.1, 1.0, n_r)
        name_g, name_cv = f"GridSearchCV(LogReg) {n_a}x{n_r}", "LogisticRegressionCV"
        lr = LogisticRegression(solver="saga", l1_ratio=0.5, max_iter=2000, tol=1e-4,
                                random_state=random_state)
        p_g = _ScoringProgress(name_g, "neg_log_loss", n_a * n_r * k, out)
        p_cv = _ScoringProgress(name_cv, "neg_log_loss", n_a * n_r * k, out)
        grid = GridSearchCV(lr, {"C": Cs, "l1_ratio": l1_ratios}, cv=cv, scoring=p_g)
        lrcv = LogisticRegressionCV(Cs=Cs, l1_ratios=l1_ratios, solver="saga", cv=cv,
                                    max_iter=2000, tol=1e-4, scoring=p_cv,
                                    random_state=random_state, use_legacy_attributes=False)
        return [
            (name_g, grid, n_a * n_r * k + 1,
             lambda g: {"C": g.best_params_["C"], "l1_ratio": g.best_params_["l1_ratio"]},
             p_g),
            (name_cv, lrcv, n_a * n_r * k + 1,
             lambda e: {"C": float(np.ravel(e.C_)[0]),
                        "l1_ratio": float(np.ravel(e.l1_ratio_)[0])}, p_cv),
        ]
    alpha_max = np.abs(X.T @ (y - y.mean())).max() / X.shape[0]
    n_path = 10 if quick else 100
    if model in ("lasso", "weighted-lasso"):
        n_g = 5 if quick else 30
        alphas = alpha_max * np.logspace(0, -3, n_g)
        name_g = f"GridSearchCV(Lasso) {n_g}"
        p_g = _ScoringProgress(name_g, "neg_mean_squared_error", n_g * k, out)
        grid = GridSearchCV(Lasso(max_iter=10_000), {"alpha": alphas}, cv=cv, scoring=p_g)
        return [
            (name_g, grid, n_g * k + 1, lambda g: {"alpha": g.best_params_["alpha"]}, p_g),
            ("LassoCV", LassoCV(cv=cv, n_alphas=n_path, max_iter=10_000)
             if _has_param(LassoCV, "n_alphas") else LassoCV(cv=cv, alphas=n_path,
                                                             max_iter=10_000),
             n_path * k + 1, lambda e: {"alpha": e.alpha_}, None),
        ]
    alphas = alpha_max * np.logspace(0, -3, n_a)
    l1_ratios = np.linspace(0.1, 1.0, n_r)
    name_g = f"GridSearchCV(ElasticNet) {n_a}x{n_r}"
    p_g = _ScoringProgress(name_g, "neg_mean_squared_error", n_a * n_r * k, out)
    grid = GridSearchCV(ElasticNet(max_iter=10_000), {"alpha": alphas, "l1_ratio": l1_ratios},
                        cv=cv, scoring=p_g)
    encv = (ElasticNetCV(l1_ratio=l1_ratios, cv=cv, n_alphas=n_path, max_iter=10_000)
            if _has_param(ElasticNetCV, "n_alphas")
            else ElasticNetCV(l1_ratio=l1_ratios, cv=cv, alphas=n_path, max_iter=10_000))
    return [
        (name_g, grid, n_a * n_r * k + 1,
         lambda g: {"alpha": g.best_params_["alpha"],
                    "l1_ratio": g.best_params_["l1_ratio"]}, p_g),
        ("ElasticNetCV", encv, n_r * n_path * k + 1,
         lambda e: {"alpha": e.alpha_, "l1_ratio": e.l1_ratio_}, None),
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


def run(args, out=None, err=None):
    """Run the comparison described by the parsed ``args``; returns the exit status.

    Progress and results go to ``out`` (stdout), warnings to ``err`` (stderr).
    """
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import KFold, StratifiedKFold, train_test_split
    from sklearn.pipeline import Pipeline

    from ._kernel_cache import compiled_count, kernels_cached

    if args.plot:
        _check_plot_path(args.plot)
    model = args.model
    classifier = model == "logistic"
    X, y, what, prep = _load(args, err)
    if classifier:
        _check_classes(y)
    stratify = y if classifier else None
    try:
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=args.test_size, random_state=args.random_state, stratify=stratify)
    except ValueError as exc:
        raise UsageError(f"cannot split the data: {exc}") from None
    if X_train.shape[0] < 2 * args.cv:
        raise UsageError(f"{X_train.shape[0]} training rows are too few for {args.cv} folds")
    folds = StratifiedKFold if classifier else KFold
    cv = folds(args.cv, shuffle=True, random_state=args.random_state)
    if classifier:
        _, counts = np.unique(y_train, return_counts=True)
        if counts.min() < args.cv:
            raise UsageError(f"the smallest class has {counts.min()} training rows, fewer "
                             f"than --cv {args.cv} folds")
    print(f"Data: {what}; {X_train.shape[0]} training rows, {X_test.shape[0]} test rows; "
          f"{args.cv}-fold cross-validation.", file=out)

    warnings.simplefilter("ignore", ConvergenceWarning)
    # documented: a category seen only in the test rows is encoded as zeros
    warnings.filterwarnings("ignore", message="Found unknown categories", category=UserWarning)
    est = _hypergrad(model, cv, args)
    pipe = Pipeline([("preprocess", prep), ("model", est)])
    # the preprocessing alone first: the progress lines need the number of training rows
    Z_train = prep.fit_transform(X_train, y_train)
    n, p = Z_train.shape
    print(f"Preprocessing, the first step of the fitted pipeline (fitted on the training "
          f"rows; {p} features; the same steps in Python: 'The command line' in the "
          f"documentation):", file=out)
    for line in describe_preprocessor(prep):
        print(f"  {line}", file=out)
    _compile_kernels(est, Z_train, y_train, out, announce=not kernels_cached())
    if not args.quiet:
        est.set_params(callback=_progress(est, n, out))
    print(f"\n{type(est).__name__} ({args.hypergradient} hypergradient)"
          + ("" if args.quiet else ": one line per criterion evaluation (scan = starting "
             "points without gradient, step = gradient descent; * = best so far)"),
          file=out, flush=True)
    compiled = compiled_count()
    t0 = time.perf_counter()
    est.fit(Z_train, y_train)
    seconds = time.perf_counter() - t0
    compiled = compiled_count() - compiled
    est.set_params(callback=None)
    if model == "weighted-lasso" or args.no_compare:
        # weighted: the grid baselines have one alpha, their CV loss column is comparable
        # only through the coefficients; --no-compare: nothing is recomputed
        params = None
    else:
        params = _chosen(est, model)
    from sklearn.metrics import accuracy_score, r2_score
    metric = accuracy_score if classifier else r2_score
    name = type(est).__name__ + (" (+)" if compiled else "")
    rows = [(name, seconds, est.n_evals_ * args.cv + 1, params,
             est.best_loss_ if params is None else None, metric(y_test, pipe.predict(X_test)))]

    if not args.no_compare:
        Z_test = prep.transform(X_test)
        for name, baseline, fits, params_of, progress in _baselines(
                model, Z_train, y_train, cv, args.quick, args.random_state, out):
            print(f"{name}: {fits} fits ...", file=out, flush=True)
            if progress is not None:
                progress.start()
            t0 = time.perf_counter()
            baseline.fit(Z_train, y_train)
            t = time.perf_counter() - t0
            print(f"  {name}: done in {t:.1f}s", file=out, flush=True)
            # not baseline.score: the *CV and search objects score with their own scoring
            rows.append((name, t, fits, params_of(baseline), None,
                         metric(y_test, baseline.predict(Z_test))))

    loss_name = "CV log-loss" if classifier else "CV MSE"
    score_name = "test acc" if classifier else "test R2"
    print(f"\n{'method':<34}{'time (s)':>9}{'fits':>7}  {'hyperparameters':<28}"
          f"{loss_name:>12}{score_name:>10}", file=out)
    for name, t, fits, params, loss, test in rows:
        if loss is None:
            loss = _cv_loss(model, params, Z_train, y_train, cv, args.random_state)
        if params is not None:
            shown = _format_params(params)
        elif model == "weighted-lasso":
            shown = f"{p} alphas, median {np.median(est.alphas_):.3g}"
        else:
            shown = _format_params(_chosen(est, model))
        print(f"{name:<34}{t:>9.2f}{fits:>7d}  {shown:<28}{loss:>12.5g}{test:>10.3f}",
              file=out)
    if args.no_compare:
        print(f"\n{loss_name}: the search's own criterion (--no-compare: no baseline, "
              f"nothing recomputed).", file=out)
    else:
        print(f"\n{loss_name} is recomputed with scikit-learn on the same folds at every "
              f"method's hyperparameters" + (" (for WeightedLassoHyperGrad: its own "
                                            "criterion)." if model == "weighted-lasso"
                                            else "."), file=out)
    if compiled:
        print(f"(+) its time includes compiling {compiled} numerical kernels that were not in "
              f"numba's cache yet (done once: later runs load them).", file=out)
    if args.plot:
        _plot(est, Z_train, y_train, args.plot)
        print(f"Figure written to {args.plot}", file=out)
    return 0


def _chosen(est, model):
    """The hyperparameters ``est`` chose (one or two numbers: not the weighted Lasso)."""
    if model == "logistic":
        return {"C": est.C_, "l1_ratio": est.l1_ratio_}
    if model == "lasso":
        return {"alpha": est.alpha_}
    return {"alpha": est.alpha_, "l1_ratio": est.l1_ratio_}


def _plot(est, X, y, path):
    try:
        import matplotlib
    except ImportError:
        raise UsageError('--plot needs matplotlib: pip install "skhypergrad[demo]"') from None
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
                        help="delimited text file (.csv, or compressed: .gz, .bz2, .zip, "
                             ".xz) with a header line; numeric, text and True/False columns, "
                             "empty cells allowed (needs pandas)")
    parser.add_argument("--target", metavar="COLUMN",
                        help="name (or 0-based position) of the target column of --csv")
    parser.add_argument("--delimiter", metavar="CHAR",
                        help="field separator of --csv, e.g. ';' or '\\t' for a tab "
                             "(default: detected among , ; tab |)")
    parser.add_argument("--decimal", choices=(".", ","), default=".", metavar="SEP",
                        help="decimal separator of the numbers in --csv: '.' (default) or "
                             "','")
    parser.add_argument("--thousands", metavar="CHAR",
                        help="thousands separator of the numbers in --csv, e.g. ',' for "
                             "1,234.5 or '.' with --decimal , for 1.234,5 (default: none)")
    parser.add_argument("--encoding", default="utf-8", metavar="NAME",
                        help="text encoding of --csv (default utf-8, a byte-order mark "
                             "skipped), e.g. latin-1 or cp1252")
    parser.add_argument("--no-header", action="store_true",
                        help="the first line of --csv is data: columns are named 0, 1, ...")
    parser.add_argument("--index-col", type=int, metavar="N",
                        help="drop column N (0-based) of --csv, a row index")
    parser.add_argument("--drop-missing", action="store_true",
                        help="drop the rows with a missing feature value instead of imputing "
                             "them (median for numbers, most frequent value for text)")
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
                        help="run the search and its refit only: no GridSearchCV, no *CV "
                             "baseline, no recomputed CV loss")
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
    try:
        args.delimiter = parse_delimiter(args.delimiter)
    except ValueError as exc:
        parser.error(str(exc))
    if args.delimiter is not None and args.delimiter == args.decimal:
        parser.error("--delimiter and --decimal must differ")
    if args.thousands is not None and (len(args.thousands) != 1
                                       or args.thousands == args.decimal):
        parser.error("--thousands must be one character, not the --decimal separator")
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
