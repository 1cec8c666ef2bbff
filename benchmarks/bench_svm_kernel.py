"""HyperGradSearchCV on the dual models against a 20 x 20 GridSearchCV (and HalvingGridSearchCV).

RBF ``SVC`` on breast cancer (scaled) and on a synthetic classification problem of
``n`` rows; ``KernelRidge(kernel="rbf")``, ``SVR()`` (RBF) and ``LinearSVR`` (both
losses) on synthetic regression problems of ``n`` rows. For each: wall time (one BLAS
thread), cross-validated score (accuracy, or MSE) on the same 5 folds, and the ratio of
the grid's time to the search's; for the SVC the smooth held-out loss of the search at
its best point. The grids: ``C`` x ``gamma`` (SVC), ``alpha`` x ``gamma`` (KernelRidge),
``C`` x ``gamma`` at ``epsilon = 0.1 std(y)`` (SVR: the search also tunes ``epsilon``),
``C`` x ``epsilon`` (LinearSVR).
Run: ``python benchmarks/bench_svm_kernel.py [n_synthetic]``.
"""

import sys
import time
import warnings

import numpy as np
from sklearn.datasets import load_breast_cancer, make_classification, make_regression
from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.kernel_ridge import KernelRidge
from sklearn.model_selection import (GridSearchCV, HalvingGridSearchCV, KFold,
                                     StratifiedKFold)
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, SVR, LinearSVR
from threadpoolctl import threadpool_limits

from skhypergrad import HyperGradSearchCV


def _timed(search, X, y):
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        search.fit(X, y)
    return time.perf_counter() - t0, search


def _svc_rows(name, X, y):
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    g0 = 1.0 / (X.shape[1] * X.var())
    grid = {"C": np.logspace(-2, 4, 20), "gamma": g0 * np.logspace(-3, 2, 20)}
    t_hg, hg = _timed(HyperGradSearchCV(SVC(kernel="rbf"), cv=cv), X, y)
    loss = hg.cv_results_["mean_test_loss"][hg.best_index_]
    print(f"{name:22s} HyperGradSearchCV  {t_hg:8.2f} s  acc {hg.best_score_:.4f}  "
          f"surrogate {loss:.4f}  points {len(hg.cv_results_['params'])}", flush=True)
    t, gs = _timed(GridSearchCV(SVC(), grid, cv=cv), X, y)
    print(f"{name:22s} GridSearchCV 20x20 {t:8.2f} s  acc {gs.best_score_:.4f}  "
          f"time ratio {t / t_hg:.1f}x", flush=True)
    t, hs = _timed(HalvingGridSearchCV(SVC(), grid, cv=cv, random_state=0), X, y)
    print(f"{name:22s} HalvingGridSearch  {t:8.2f} s  acc {hs.best_score_:.4f}", flush=True)


def _krr_rows(name, X, y):
    g0 = 1.0 / (X.shape[1] * X.var())
    _regression_rows(name, KernelRidge(kernel="rbf"), X, y,
                     {"alpha": np.logspace(-6, 1, 20), "gamma": g0 * np.logspace(-3, 2, 20)})


def _regression_rows(name, estimator, X, y, grid):
    """Search and 20 x 20 grid (no halving) on the same folds, by MSE."""
    cv = KFold(5, shuffle=True, random_state=0)
    mse = "neg_mean_squared_error"
    t_hg, hg = _timed(HyperGradSearchCV(estimator, cv=cv, scoring=mse), X, y)
    print(f"{name:22s} HyperGradSearchCV  {t_hg:8.2f} s  MSE {-hg.best_score_:.4f}  "
          f"points {len(hg.cv_results_['params'])}", flush=True)
    t_gs, gs = _timed(GridSearchCV(estimator, grid, cv=cv, scoring=mse), X, y)
    print(f"{name:22s} GridSearchCV 20x20 {t_gs:8.2f} s  MSE {-gs.best_score_:.4f}  "
          f"time ratio {t_gs / t_hg:.1f}x  MSE ratio {hg.best_score_ / gs.best_score_:.4f}",
          flush=True)


def _svr_rows(name, X, y):
    g0 = 1.0 / (X.shape[1] * X.var())
    s = float(np.std(y))
    _regression_rows(name, SVR(), X, y, {"C": s * np.logspace(-1, 3, 20),
                                         "gamma": g0 * np.logspace(-2, 1, 20),
                                         "epsilon": [0.1 * s]})


def _linear_svr_rows(name, X, y, loss):
    c0 = 1.0 / (X.shape[0] * np.mean(np.sum(X ** 2, axis=1) + 1.0))
    _regression_rows(name, LinearSVR(loss=loss, dual=True), X, y,
                     {"C": c0 * np.logspace(-2, 4, 20),
                      "epsilon": np.std(y) * np.logspace(-3, 0, 20)})


def main(n=2000):
    with threadpool_limits(1, "blas"):
        X, y = load_breast_cancer(return_X_y=True)
        _svc_rows("SVC breast cancer", StandardScaler().fit_transform(X), y)
        X, y = make_classification(n, n_features=10, n_informative=5, flip_y=0.05,
                                   random_state=0)
        _svc_rows(f"SVC synthetic n={n}", StandardScaler().fit_transform(X), y)
        X, y = make_regression(n, n_features=8, noise=10.0, random_state=0)
        y = np.sin(y / 50.0) + 0.1 * np.random.RandomState(0).randn(n)
        X = StandardScaler().fit_transform(X)
        _krr_rows(f"KRR synthetic n={n}", X, y)
        _svr_rows(f"SVR synthetic n={n}", X, y)
        X, y = make_regression(n, n_features=20, n_informative=8, noise=20.0,
                               random_state=1)
        X, y = StandardScaler().fit_transform(X), y / np.std(y)
        _linear_svr_rows(f"LinearSVR l1 n={n}", X, y, "epsilon_insensitive")
        _linear_svr_rows(f"LinearSVR l2 n={n}", X, y, "squared_epsilon_insensitive")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
