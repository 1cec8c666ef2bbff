"""HyperGradSearchCV on kernel models against a 20 x 20 GridSearchCV and HalvingGridSearchCV.

RBF ``SVC`` on breast cancer (scaled) and on a synthetic classification problem of
``n`` rows; ``KernelRidge(kernel="rbf")`` on a synthetic regression problem. For each:
wall time (one BLAS thread), cross-validated score (accuracy, or negated MSE) on the
same 5 folds, and for the SVC the smooth held-out loss of the search at its best point.
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
from sklearn.svm import SVC
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
    t, hg = _timed(HyperGradSearchCV(SVC(kernel="rbf"), cv=cv), X, y)
    loss = hg.cv_results_["mean_test_loss"][hg.best_index_]
    print(f"{name:22s} HyperGradSearchCV  {t:8.2f} s  acc {hg.best_score_:.4f}  "
          f"surrogate {loss:.4f}  points {len(hg.cv_results_['params'])}", flush=True)
    t, gs = _timed(GridSearchCV(SVC(), grid, cv=cv), X, y)
    print(f"{name:22s} GridSearchCV 20x20 {t:8.2f} s  acc {gs.best_score_:.4f}", flush=True)
    t, hs = _timed(HalvingGridSearchCV(SVC(), grid, cv=cv, random_state=0), X, y)
    print(f"{name:22s} HalvingGridSearch  {t:8.2f} s  acc {hs.best_score_:.4f}", flush=True)


def _krr_rows(name, X, y):
    cv = KFold(5, shuffle=True, random_state=0)
    g0 = 1.0 / (X.shape[1] * X.var())
    grid = {"alpha": np.logspace(-6, 1, 20), "gamma": g0 * np.logspace(-3, 2, 20)}
    t, hg = _timed(HyperGradSearchCV(KernelRidge(kernel="rbf"), cv=cv), X, y)
    print(f"{name:22s} HyperGradSearchCV  {t:8.2f} s  MSE {-hg.best_score_:.4f}  "
          f"points {len(hg.cv_results_['params'])}", flush=True)
    t, gs = _timed(GridSearchCV(KernelRidge(kernel="rbf"), grid, cv=cv,
                                scoring="neg_mean_squared_error"), X, y)
    print(f"{name:22s} GridSearchCV 20x20 {t:8.2f} s  MSE {-gs.best_score_:.4f}", flush=True)
    t, hs = _timed(HalvingGridSearchCV(KernelRidge(kernel="rbf"), grid, cv=cv,
                                       scoring="neg_mean_squared_error", random_state=0), X, y)
    print(f"{name:22s} HalvingGridSearch  {t:8.2f} s  MSE {-hs.best_score_:.4f}", flush=True)


def main(n=2000):
    with threadpool_limits(1, "blas"):
        X, y = load_breast_cancer(return_X_y=True)
        _svc_rows("SVC breast cancer", StandardScaler().fit_transform(X), y)
        X, y = make_classification(n, n_features=10, n_informative=5, flip_y=0.05,
                                   random_state=0)
        _svc_rows(f"SVC synthetic n={n}", StandardScaler().fit_transform(X), y)
        X, y = make_regression(n, n_features=8, noise=10.0, random_state=0)
        y = np.sin(y / 50.0) + 0.1 * np.random.RandomState(0).randn(n)
        _krr_rows(f"KRR synthetic n={n}", StandardScaler().fit_transform(X), y)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
