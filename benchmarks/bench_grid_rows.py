"""``HyperGradSearchCV`` against ``GridSearchCV`` on the user calls that were slowest.

Each row is a user's call ``HyperGradSearchCV(estimator, param_grid, cv=5, scoring=...)``
timed against ``GridSearchCV`` with the same ``param_grid`` and folds (20 values of the
one parameter), plus ``LassoHyperGrad`` against ``LassoCV`` on a sparse ``X`` of 600
columns. CPU seconds (``time.process_time``, the smallest of ``--repeat`` fits after a
first one that compiles), one BLAS thread. Printed per row: our time, the grid's, their
ratio (grid / ours: above 1 is faster than the grid), and both best scores (for
``LassoHyperGrad`` and ``LassoCV``: the 5-fold mean squared error of ``Lasso`` at each
chosen ``alpha``, solved to ``tol=1e-10``).

Rows: ``Ridge`` and ``RidgeClassifier`` on a 400 x 300 CSR ``X`` at 5% density;
``Lasso`` on a 400 x 600 CSR at 5%; L1 ``LogisticRegression(solver="liblinear")`` on
the 400 x 300 one; ``LinearSVC`` with accuracy on standardized wine and iris;
multinomial ``LogisticRegression`` with accuracy on digits, standardized and in a
``Pipeline`` with ``StandardScaler``; ``TransformedTargetRegressor`` of ``Lasso``
(``func=np.log``) and of ``Ridge`` (``transformer=StandardScaler()``) on diabetes.

Usage::

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/bench_grid_rows.py
    python benchmarks/bench_grid_rows.py ridge-sparse lasso-hg-600   # some rows
"""

import argparse
import os
import warnings

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402
from sklearn.compose import TransformedTargetRegressor  # noqa: E402
from sklearn.datasets import load_diabetes, load_digits, load_iris, load_wine  # noqa: E402
from sklearn.linear_model import (Lasso, LassoCV, LogisticRegression, Ridge,  # noqa: E402
                                  RidgeClassifier)
from sklearn.model_selection import (GridSearchCV, KFold, StratifiedKFold,  # noqa: E402
                                     cross_val_score)
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.svm import LinearSVC  # noqa: E402

from bench_quality import best_cpu  # noqa: E402
from skhypergrad._jit import always_compile  # noqa: E402
from skhypergrad import HyperGradSearchCV, LassoHyperGrad  # noqa: E402

KF = KFold(5, shuffle=True, random_state=0)
SKF = StratifiedKFold(5, shuffle=True, random_state=0)


def _sparse(n, p, seed):
    rng = np.random.RandomState(seed)
    X = sp.random(n, p, density=0.05, format="csr", random_state=seed)
    y = X @ np.r_[rng.randn(20), np.zeros(p - 20)] + 0.1 * np.random.RandomState(
        seed + 1).randn(n)
    return X, np.asarray(y).ravel()


def _rows():
    X3, y3 = _sparse(400, 300, 0)
    y3c = (y3 > np.median(y3)).astype(int)
    X6, y6 = _sparse(400, 600, 1)
    Xw, yw = load_wine(return_X_y=True)
    Xi, yi = load_iris(return_X_y=True)
    Xg, yg = load_digits(return_X_y=True)
    Xd, yd = load_diabetes(return_X_y=True)
    std = StandardScaler().fit_transform
    grid = lambda lo, hi: np.logspace(lo, hi, 20)  # noqa: E731
    return {
        "ridge-sparse": (Ridge(), {"alpha": grid(-4, 2)}, X3, y3, None, KF),
        "ridgeclf-sparse": (RidgeClassifier(), {"alpha": grid(-3, 3)}, X3, y3c, None, SKF),
        "lasso-sparse-600": (Lasso(max_iter=10000), {"alpha": grid(-5, -1)}, X6, y6, None,
                             KF),
        "lasso-hg-600": (None, None, X6, y6, None, KF),
        "logreg-l1-sparse": (LogisticRegression(penalty="l1", solver="liblinear"),
                             {"C": grid(-1, 3)}, X3, y3c, None, SKF),
        "linsvc-wine": (LinearSVC(), {"C": grid(-4, 2)}, std(Xw), yw, None, SKF),
        "linsvc-iris": (LinearSVC(), {"C": grid(-4, 2)}, std(Xi), yi, None, SKF),
        "logreg-digits-acc": (LogisticRegression(), {"C": grid(-3, 3)}, std(Xg), yg,
                              "accuracy", SKF),
        "logreg-digits-pipe-acc": (make_pipeline(StandardScaler(), LogisticRegression()),
                                   {"logisticregression__C": grid(-3, 3)}, Xg, yg,
                                   "accuracy", SKF),
        "ttr-lasso-log": (TransformedTargetRegressor(regressor=Lasso(), func=np.log,
                                                     inverse_func=np.exp),
                          {"regressor__alpha": grid(-4, 0)}, Xd, yd, None, KF),
        "ttr-ridge-scaler": (TransformedTargetRegressor(regressor=Ridge(),
                                                        transformer=StandardScaler()),
                             {"regressor__alpha": grid(-3, 3)}, Xd, yd, None, KF),
    }


def _lasso_mse(X, y, alpha, cv):
    return -cross_val_score(Lasso(alpha=alpha, max_iter=100_000, tol=1e-10), X, y, cv=cv,
                            scoring="neg_mean_squared_error").mean()


def run(name, row, repeat):
    est, param_grid, X, y, scoring, cv = row
    if est is None:  # LassoHyperGrad against LassoCV
        ours, t_ours = best_cpu(lambda: LassoHyperGrad(cv=cv).fit(X, y), repeat)
        peer, t_peer = best_cpu(lambda: LassoCV(cv=cv, max_iter=10000).fit(X, y), repeat)
        s_ours, s_peer = _lasso_mse(X, y, ours.alpha_, cv), _lasso_mse(X, y, peer.alpha_, cv)
        label = "LassoCV"
    else:
        peer, t_peer = best_cpu(lambda: GridSearchCV(est, param_grid, scoring=scoring,
                                                 cv=cv).fit(X, y), repeat)
        ours, t_ours = best_cpu(lambda: HyperGradSearchCV(est, param_grid, scoring=scoring,
                                                      cv=cv).fit(X, y), repeat)
        s_ours, s_peer = ours.best_score_, peer.best_score_
        label = "grid"
    print(f"{name:24s} ours {t_ours:6.3f} s  {label} {t_peer:6.3f} s  ratio "
          f"{t_peer / t_ours:5.2f}  best {s_ours:.6f} ({label} {s_peer:.6f})", flush=True)


def main():
    always_compile()  # the compiled kernels timed, never their Python runs
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", nargs="*", help="rows to run (default: all)")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    rows = _rows()
    warnings.simplefilter("ignore")
    for name in args.rows or rows:
        run(name, rows[name], args.repeat)


if __name__ == "__main__":
    main()
