"""Tables of the sizes people tune: the self-tuning estimators against scikit-learn's ``*CV``.

Tables (all of them ship with scikit-learn or are synthetic): diabetes, as is and
with degree-2 polynomial features (standardized); a one-hot table (10 categorical
columns of 5 to 30 levels, every level encoded, so that the blocks are collinear with
the intercept, plus three numeric columns; sparse CSR and dense); synthetic
regressions of ``n`` from 200 to 10,000 rows and ``p`` from 10 to 300 columns;
breast cancer (standardized) for the binary L1 logistic model; and digits (1797 x 64,
10 classes, pixels scaled to [0, 1]) for the multinomial one.

Every method picks its hyperparameters on the same folds (``KFold(5)`` /
``StratifiedKFold(5)``, shuffled with seed 0), on all the rows:

- regression: ``ElasticNetHyperGrad`` and ``LassoHyperGrad`` (defaults) against
  ``ElasticNetCV`` (``l1_ratio`` in ``[.1, .5, .7, .9, .95, .99, 1]``, 100 alphas),
  ``LassoCV`` (100 alphas) and, when ``n * p <= 20,000``, ``GridSearchCV`` of
  ``ElasticNet`` over 10 ``l1_ratio`` x 10 ``alpha``;
- classification: ``LogisticRegressionHyperGrad`` (L1) against
  ``LogisticRegressionCV(l1_ratios=[1], Cs=20, solver="liblinear")`` and
  ``GridSearchCV`` of the same model over the 20 ``C``, both scored by the log-loss;
  multinomial (digits): against ``LogisticRegressionCV(l1_ratios=[1], Cs=20,
  solver="saga")`` (liblinear is one-vs-rest), the referee's ``saga`` at ``tol=1e-6``.

Columns: ``cpu s`` the CPU time of the fit, refit included (one BLAS thread,
``n_jobs=1``; numba compiled before the clock); ``speedup``: the matching ``*CV``
estimator's CPU time over ours (``ElasticNetCV`` for ``ElasticNetHyperGrad``,
``LassoCV`` for ``LassoHyperGrad``, ``LogisticRegressionCV`` for the logistic
model); ``CV/best``: the cross-validation loss at the chosen hyperparameters,
recomputed by one referee for every method (scikit-learn's ``ElasticNet`` at
``tol=1e-8`` on the same folds, on the dense rows with its Gram matrix; ``LogisticRegression(
l1_ratio=1, solver="saga", tol=1e-8)`` for the logistic rows, at the ``C`` each
method's fold models used: ``LogisticRegressionHyperGrad`` holds ``1 / (C n)`` fixed
across folds, scikit-learn's searches ``C``), over the best of the
peers' (for ``LassoHyperGrad``: over ``LassoCV``'s). Targets (issue "fast where users are"): a median speedup of 10x and at
least 3x on every row; ``CV/best`` at most 1.002 on every row.

Run ``python benchmarks/bench_tables.py`` (``--quick``: the small rows; ``--only
NAME ...``: tables whose name contains one of these; ``--methods NAME ...``: these
methods and their matching ``*CV`` estimators only, e.g. ``--methods
LassoHyperGrad``). The cold start (import and first fit with an empty numba cache) is
measured by ``benchmarks/bench_cold_start.py``.
"""

import argparse
import warnings

import numpy as np
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import (ElasticNet, ElasticNetCV, LassoCV, LogisticRegression,
                                  LogisticRegressionCV)
from sklearn.metrics import log_loss
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold
from sklearn.preprocessing import PolynomialFeatures, StandardScaler
from threadpoolctl import threadpool_limits

from bench_quality import ENETCV_RATIOS, REFEREE_TOL, mse, one_hot_table, timed
from skhypergrad._jit import always_compile  # noqa: E402
from skhypergrad import ElasticNetHyperGrad, LassoHyperGrad, LogisticRegressionHyperGrad

SEED = 0
GRID_CELLS = 20_000
GRID_RATIOS = [0.05, 0.1, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0]
CS = np.logspace(-4, 4, 20)
#: the one-hot table's categorical columns: their numbers of levels
LEVELS = (5, 7, 9, 11, 13, 16, 19, 22, 26, 30)


# -- tables -----------------------------------------------------------------------------
def regression_tables(quick):
    X, y = load_diabetes(return_X_y=True)
    yield "diabetes 442x10", np.asfortranarray(X), y
    poly = PolynomialFeatures(2, include_bias=False).fit_transform(X)
    Xp = np.asfortranarray(StandardScaler().fit_transform(poly))
    yield f"diabetes poly2 442x{Xp.shape[1]}", Xp, y
    n = 800 if quick else 2400
    X, y = one_hot_table(n, SEED, cardinalities=LEVELS, useless=(2, 7))
    yield f"one-hot sparse {X.shape[0]}x{X.shape[1]}", X, y
    yield f"one-hot dense {X.shape[0]}x{X.shape[1]}", np.asfortranarray(X.toarray()), y
    sizes = [(200, 10), (1000, 50)] if quick else [(200, 10), (1000, 50), (3000, 300),
                                                   (10000, 30)]
    for n, p in sizes:
        X, y = make_regression(n, p, n_informative=max(3, p // 5), noise=20.0,
                               effective_rank=max(5, p // 2), random_state=SEED)
        yield f"synthetic {n}x{p}", np.asfortranarray(X), y


def classification_tables():
    """``(name, X, y, methods, referee_tol)``: breast cancer (standardized, binary) and
    digits (pixels scaled to [0, 1], 10 classes; saga at ``1e-8`` takes minutes per fold
    there, the referee stops at ``1e-6``)."""
    X, y = load_breast_cancer(return_X_y=True)
    yield ("breast cancer 569x30 (log-loss)", StandardScaler().fit_transform(X), y,
           CLASSIFICATION, 1e-8)
    X, y = load_digits(return_X_y=True)
    yield "digits 1797x64, 10 classes (log-loss)", X / 16.0, y, MULTINOMIAL, 1e-6


def cv_loss(spec, X, y, folds):
    """The referee's CV loss of ``("enet", alpha, l1_ratio)``: scikit-learn's ``ElasticNet``
    at ``tol=1e-8`` on the folds, on dense rows with its Gram matrix (a sparse one-hot
    table's rank-deficient blocks take it hours of epochs on the columns)."""
    X = X.toarray() if hasattr(X, "toarray") else X
    losses = []
    for train, test in folds:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model = ElasticNet(alpha=spec[1], l1_ratio=spec[2], tol=REFEREE_TOL,
                               precompute=X.shape[0] > X.shape[1],
                               max_iter=1_000_000).fit(X[train], y[train])
        losses.append(mse(model.predict, X[test], y[test]))
    return float(np.mean(losses))


# -- regression methods: each returns a spec ("enet", alpha, l1_ratio) ---------------------
def enet_hypergrad(X, y, cv):
    est = ElasticNetHyperGrad(cv=cv).fit(X, y)
    return "enet", est.alpha_, est.l1_ratio_


def lasso_hypergrad(X, y, cv):
    return "enet", LassoHyperGrad(cv=cv).fit(X, y).alpha_, 1.0


def enet_cv(X, y, cv):
    est = ElasticNetCV(l1_ratio=ENETCV_RATIOS, cv=cv, n_jobs=1).fit(X, y)
    return "enet", est.alpha_, est.l1_ratio_


def lasso_cv(X, y, cv):
    return "enet", LassoCV(cv=cv, n_jobs=1).fit(X, y).alpha_, 1.0


def enet_grid(X, y, cv):
    Xc = X - X.mean(axis=0) if isinstance(X, np.ndarray) else X
    alpha_max = float(np.max(np.abs(Xc.T @ (y - y.mean())))) / X.shape[0]
    grid = {"l1_ratio": GRID_RATIOS, "alpha": alpha_max * np.logspace(0, -3, 10)}
    est = GridSearchCV(ElasticNet(), grid, cv=cv, scoring="neg_mean_squared_error").fit(X, y)
    return "enet", est.best_params_["alpha"], est.best_params_["l1_ratio"]


REGRESSION = {"ElasticNetHyperGrad": (enet_hypergrad, "ElasticNetCV"),
              "LassoHyperGrad": (lasso_hypergrad, "LassoCV"),
              "ElasticNetCV": (enet_cv, None), "LassoCV": (lasso_cv, None),
              "GridSearchCV 10x10": (enet_grid, None)}


# -- classification ---------------------------------------------------------------------
def _referee_logistic(C, tol=1e-8):
    return LogisticRegression(l1_ratio=1.0, C=C, solver="saga", tol=tol, max_iter=100_000)


def logistic_hypergrad(X, y, cv):
    # its fold models hold alpha = 1 / (C n) fixed: C = 1 / (alpha n_train) on a fold
    return {"alpha": LogisticRegressionHyperGrad(cv=cv).fit(X, y).alpha_}


def logistic_cv_loss(choice, X, y, folds, tol=1e-8):
    """The referee's CV log-loss of the fold models a method fits at its ``choice``: a
    ``C`` held fixed on every fold (scikit-learn's searches), or ``{"alpha": a}``, the
    normalized weight held fixed (``C = 1 / (a n_train)``)."""
    losses = []
    for train, test in folds:
        C = 1.0 / (choice["alpha"] * len(train)) if isinstance(choice, dict) else choice
        model = _referee_logistic(C, tol).fit(X[train], y[train])
        losses.append(log_loss(y[test], model.predict_proba(X[test])))
    return float(np.mean(losses))


def logistic_cv(X, y, cv):
    est = LogisticRegressionCV(Cs=CS, l1_ratios=[1.0], solver="liblinear", cv=cv,
                               scoring="neg_log_loss").fit(X, y)
    return float(est.C_[0])


def logistic_grid(X, y, cv):
    est = GridSearchCV(LogisticRegression(l1_ratio=1.0, solver="liblinear"), {"C": CS},
                       cv=cv, scoring="neg_log_loss").fit(X, y)
    return est.best_params_["C"]


CLASSIFICATION = {"LogisticRegressionHyperGrad": (logistic_hypergrad, "LogisticRegressionCV"),
                  "LogisticRegressionCV": (logistic_cv, None),
                  "GridSearchCV 20": (logistic_grid, None)}


def multinomial_cv(X, y, cv):
    est = LogisticRegressionCV(Cs=CS, l1_ratios=[1.0], solver="saga", cv=cv,
                               scoring="neg_log_loss").fit(X, y)
    return float(est.C_[0])


MULTINOMIAL = {"LogisticRegressionHyperGrad": (logistic_hypergrad, "LogisticRegressionCV"),
               "LogisticRegressionCV": (multinomial_cv, None)}


# -- the table --------------------------------------------------------------------------
def chosen(methods, names):
    """The entries of ``methods`` named in ``names`` and their matching ``*CV`` estimators
    (all of them when ``names`` is None)."""
    if names is None:
        return methods
    keep = {n for n in names if n in methods}
    keep |= {methods[n][1] for n in keep if methods[n][1] is not None}
    return {n: m for n, m in methods.items() if n in keep}


def run_table(methods, X, y, cv, referee):
    rows = {}
    for name, (fit, _) in methods.items():
        if name.startswith("GridSearchCV") and X.shape[0] * X.shape[1] > GRID_CELLS \
                and name in REGRESSION:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.simplefilter("ignore", FutureWarning)
            if "HyperGrad" in name:  # the kernels this table's path needs, compiled first
                fit(X, y, cv)
            seconds, choice = timed(lambda: fit(X, y, cv))
            rows[name] = {"time": seconds, "cv": referee(choice)}
    peers = [r["cv"] for name, r in rows.items() if methods[name][1] is None] or [np.nan]
    for name, r in rows.items():
        match = methods[name][1]
        r["speedup"] = rows[match]["time"] / r["time"] if match else np.nan
        # the Lasso against the Lasso's peer: the elastic net's fit better when they can
        best = rows[match]["cv"] if name == "LassoHyperGrad" else min(peers)
        r["cv_ratio"] = r["cv"] / best
    return rows


def print_table(name, rows):
    print(f"\n{name}")
    for method, r in rows.items():
        speedup = "" if np.isnan(r["speedup"]) else f"{r['speedup']:.2f}x"
        print(f"  {method:<30}{r['time']:>8.2f}{speedup:>10}{r['cv_ratio']:>10.4f}"
              f"{r['cv']:>13.6g}", flush=True)


def print_summary(results):
    print("\nsummary: speedup against the matching *CV estimator, CV loss against the best peer")
    for method in ["ElasticNetHyperGrad", "LassoHyperGrad", "LogisticRegressionHyperGrad"]:
        rows = [r[method] for r in results.values() if method in r]
        if not rows:
            continue
        s = np.array([r["speedup"] for r in rows])
        cv = np.array([r["cv_ratio"] for r in rows])
        print(f"  {method:<30} speedup median {np.median(s):.2f}x, min {s.min():.2f}x; "
              f"CV/best max {cv.max():.4f}, rows <= 1.002: {np.sum(cv <= 1.002)}/{len(cv)}")


def warm_up():
    """Compile numba's kernels before the clock."""
    import scipy.sparse as sp

    X, y = make_regression(60, 8, random_state=0)
    for storage in (X, sp.csr_matrix(X)):
        ElasticNetHyperGrad(cv=3, max_iter=2).fit(storage, y)
    LogisticRegressionHyperGrad(cv=3, max_iter=2).fit(X, y > 0)
    LogisticRegressionHyperGrad(cv=3, max_iter=2).fit(X, np.digitize(y, [-50, 50]))


def main():
    always_compile()  # the compiled kernels timed, never their Python runs
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the small rows")
    parser.add_argument("--only", nargs="*", help="tables whose name contains these")
    parser.add_argument("--methods", nargs="*", help="these methods (and their *CV) only")
    args = parser.parse_args()
    regression = chosen(REGRESSION, args.methods)
    print(f"{'':<32}{'cpu s':>8}{'speedup':>10}{'CV/best':>10}{'CV loss':>13}")
    results = {}
    with threadpool_limits(1):
        warm_up()
        cv = KFold(5, shuffle=True, random_state=SEED)
        for name, X, y in regression_tables(args.quick):
            if args.only and not any(s in name for s in args.only):
                continue
            folds = list(cv.split(X))
            results[name] = run_table(regression, X, y, cv,
                                      lambda spec: cv_loss(spec, X, y, folds))
            print_table(name, results[name])
        for name, X, y, methods, referee_tol in classification_tables():
            methods = chosen(methods, args.methods)
            if not methods or (args.only and not any(s in name for s in args.only)):
                continue
            scv = StratifiedKFold(5, shuffle=True, random_state=SEED)
            folds = list(scv.split(X, y))
            results[name] = run_table(
                methods, X, y, scv,
                lambda choice: logistic_cv_loss(choice, X, y, folds, tol=referee_tol))
            print_table(name, results[name])
    print_summary(results)


if __name__ == "__main__":
    main()
