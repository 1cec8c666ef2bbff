"""HyperGradSearchCV on kernel models against a 20 x 20 GridSearchCV and HalvingGridSearchCV.

RBF ``SVC`` on breast cancer (scaled) and on synthetic classification problems of ``n``
rows; ``KernelRidge(kernel="rbf")``, ``SVR()`` (RBF; its grid: ``C`` x ``gamma`` at
``epsilon = 0.1 std(y)``, the search also tunes ``epsilon``) and ``LinearSVR`` (both
losses; ``C`` x ``epsilon``) on synthetic regression problems. For each: CPU
time (one BLAS thread), cross-validated score (accuracy, or MSE) on the same 5 folds,
the ratio of the grid's time to the search's (regressors), and for the SVC the smooth
held-out loss (the search's surrogate,
:func:`skhypergrad.svc.scaled_logistic_loss`) at each method's best point.

Run::

    python benchmarks/bench_svm_kernel.py                      # n = 2000 and 5000
    python benchmarks/bench_svm_kernel.py --n 1000 --no-krr    # quicker
    python benchmarks/bench_svm_kernel.py --grid-stride 2      # 10 x 10 grids

With ``--grid-stride s`` (default: 2 from n = 5000 on), the grid searches run on every
``s``-th value of each axis of the 20 x 20 grid: the table then reports their time times
``s^2`` (an estimate of the full grid's, marked ``~``) and the accuracy of the coarser
grid.
"""

import argparse
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
from skhypergrad._kernel_search import kernel_folds
from skhypergrad.kernels import KernelSpec
from skhypergrad.svc import SVCCriterion


def _timed(search, X, y):
    t0 = time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        search.fit(X, y)
    return time.process_time() - t0, search


def _grid(axes, stride):
    return {name: values[::stride] for name, values in axes.items()}


def _row(name, method, seconds, score, extra=""):
    print(f"| {name:24s} | {method:28s} | {seconds:>9s} | {score:8.4f} | {extra:>9s} |",
          flush=True)


def _svc_rows(name, X, y, stride):
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    splits = list(cv.split(X, y))
    criterion = SVCCriterion(KernelSpec("rbf"), kernel_folds(X, y, splits), 2,
                             value_tol=1e-3)

    def surrogate(params):
        return f"{criterion.value([params['C'], params['gamma']]).value:.4f}"

    g0 = 1.0 / (X.shape[1] * X.var())
    axes = {"C": np.logspace(-2, 4, 20), "gamma": g0 * np.logspace(-3, 2, 20)}
    t, hg = _timed(HyperGradSearchCV(SVC(kernel="rbf"), cv=cv), X, y)
    _row(name, f"HyperGradSearchCV ({len(hg.cv_results_['params'])} pts)", f"{t:.1f}",
         hg.best_score_, surrogate(hg.best_params_))
    side = 20 // stride
    scale = stride ** 2
    mark = "" if stride == 1 else "~"
    t, gs = _timed(GridSearchCV(SVC(), _grid(axes, stride), cv=cv), X, y)
    _row(name, f"GridSearchCV {side}x{side}", f"{mark}{t * scale:.1f}", gs.best_score_,
         surrogate(gs.best_params_))
    t, hs = _timed(HalvingGridSearchCV(SVC(), _grid(axes, stride), cv=cv, random_state=0),
                   X, y)
    _row(name, f"HalvingGridSearchCV {side}x{side}", f"{mark}{t * scale:.1f}",
         hs.best_score_, surrogate(hs.best_params_))


def _krr_rows(name, X, y, stride):
    cv = KFold(5, shuffle=True, random_state=0)
    g0 = 1.0 / (X.shape[1] * X.var())
    axes = {"alpha": np.logspace(-6, 1, 20), "gamma": g0 * np.logspace(-3, 2, 20)}
    t, hg = _timed(HyperGradSearchCV(KernelRidge(kernel="rbf"), cv=cv,
                                     scoring="neg_mean_squared_error"), X, y)
    _row(name, f"HyperGradSearchCV ({len(hg.cv_results_['params'])} pts)", f"{t:.1f}",
         -hg.best_score_)
    side = 20 // stride
    mark = "" if stride == 1 else "~"
    t, gs = _timed(GridSearchCV(KernelRidge(kernel="rbf"), _grid(axes, stride), cv=cv,
                                scoring="neg_mean_squared_error"), X, y)
    _row(name, f"GridSearchCV {side}x{side}", f"{mark}{t * stride ** 2:.1f}",
         -gs.best_score_)
    t, hs = _timed(HalvingGridSearchCV(KernelRidge(kernel="rbf"), _grid(axes, stride), cv=cv,
                                       scoring="neg_mean_squared_error", random_state=0), X, y)
    _row(name, f"HalvingGridSearchCV {side}x{side}", f"{mark}{t * stride ** 2:.1f}",
         -hs.best_score_)


def _regression_rows(name, estimator, X, y, axes, stride):
    """The search and the 20 x 20 grid on the same folds, by MSE, and the ratio of their
    times."""
    cv = KFold(5, shuffle=True, random_state=0)
    mse = "neg_mean_squared_error"
    t_hg, hg = _timed(HyperGradSearchCV(estimator, cv=cv, scoring=mse), X, y)
    _row(name, f"HyperGradSearchCV ({len(hg.cv_results_['params'])} pts)", f"{t_hg:.1f}",
         -hg.best_score_)
    side = 20 // stride
    mark = "" if stride == 1 else "~"
    t, gs = _timed(GridSearchCV(estimator, _grid(axes, stride), cv=cv, scoring=mse), X, y)
    t *= stride ** 2
    _row(name, f"GridSearchCV {side}x{side}", f"{mark}{t:.1f}", -gs.best_score_,
         f"{t / t_hg:.1f}x")


def _svr_rows(name, X, y, stride):
    """SVR (RBF): the grid on C x gamma at epsilon = 0.1 std(y) (the search also tunes
    epsilon)."""
    g0 = 1.0 / (X.shape[1] * X.var())
    s = float(np.std(y))
    axes = {"C": s * np.logspace(-1, 3, 20), "gamma": g0 * np.logspace(-2, 1, 20)}
    _regression_rows(name, SVR(epsilon=0.1 * s), X, y, axes, stride)


def _linear_svr_rows(name, X, y, loss, stride):
    c0 = 1.0 / (X.shape[0] * np.mean(np.sum(X ** 2, axis=1) + 1.0))
    axes = {"C": c0 * np.logspace(-2, 4, 20), "epsilon": np.std(y) * np.logspace(-3, 0, 20)}
    _regression_rows(name, LinearSVR(loss=loss, dual=True), X, y, axes, stride)


def main(sizes=(2000, 5000), grid_stride=None, krr=True, breast_cancer=True, svr=True):
    print(f"| {'problem':24s} | {'method':28s} | {'time (s)':>9s} | {'score':>8s} | "
          f"{'surrogate':>9s} |")
    print(f"|{'-' * 26}|{'-' * 30}|{'-' * 11}|{'-' * 10}|{'-' * 11}|")
    with threadpool_limits(1, "blas"):
        if breast_cancer:
            X, y = load_breast_cancer(return_X_y=True)
            _svc_rows("SVC breast cancer", StandardScaler().fit_transform(X), y,
                      grid_stride or 1)
        for n in sizes:
            stride = grid_stride or (2 if n >= 5000 else 1)
            X, y = make_classification(n, n_features=10, n_informative=5, flip_y=0.05,
                                       random_state=0)
            _svc_rows(f"SVC synthetic n={n}", StandardScaler().fit_transform(X), y, stride)
        for n in sizes:
            stride = grid_stride or (2 if n >= 5000 else 1)
            X, y = make_regression(n, n_features=8, noise=10.0, random_state=0)
            y = np.sin(y / 50.0) + 0.1 * np.random.RandomState(0).randn(n)
            X = StandardScaler().fit_transform(X)
            if krr:
                _krr_rows(f"KRR synthetic n={n}", X, y, stride)
            if svr:
                _svr_rows(f"SVR synthetic n={n}", X, y, stride)
        if svr:
            for n in sizes:
                stride = grid_stride or (2 if n >= 5000 else 1)
                X, y = make_regression(n, n_features=20, n_informative=8, noise=20.0,
                                       random_state=1)
                X, y = StandardScaler().fit_transform(X), y / np.std(y)
                for loss, short in (("epsilon_insensitive", "l1"),
                                    ("squared_epsilon_insensitive", "l2")):
                    _linear_svr_rows(f"LinearSVR {short} n={n}", X, y, loss, stride)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="*", default=[2000, 5000],
                        help="rows of the synthetic problems")
    parser.add_argument("--grid-stride", type=int, default=None,
                        help="run the grids on every s-th value of each axis")
    parser.add_argument("--no-krr", action="store_true", help="no KernelRidge rows")
    parser.add_argument("--no-svr", action="store_true", help="no SVR and LinearSVR rows")
    parser.add_argument("--no-breast-cancer", action="store_true")
    args = parser.parse_args()
    main(args.n, args.grid_stride, not args.no_krr, not args.no_breast_cancer,
         not args.no_svr)
