"""L2-only models: hypergradient search against RidgeCV, LogisticRegressionCV and grids.

Problems (the columns standardized): a synthetic regression and a synthetic
binary classification of ``n x p`` (5000 x 200 by default), scikit-learn's
diabetes and breast cancer data. Every method picks ``alpha`` (Ridge) or ``C``
(LogisticRegression) on the same 5 folds (``KFold(5)`` / ``StratifiedKFold(5)``,
shuffled with seed 0):

- ``RidgeHyperGrad`` / ``LogisticRegressionHyperGrad(penalty="l2")`` and
  ``HyperGradSearchCV(Ridge())`` / ``HyperGradSearchCV(LogisticRegression())``;
- ``RidgeCV(alphas=20 values)`` (its efficient leave-one-out: a different
  cross-validation, which it is fast at) and ``LogisticRegressionCV(Cs=20 values,
  scoring="neg_log_loss")`` on the folds;
- ``GridSearchCV`` over the same 20 log-spaced values (``alpha`` in
  ``10^[-3, 4]``, ``C`` in ``10^[-4, 3]``), scored by the loss.

Columns: CPU seconds of the search (refit included), the chosen parameter, and
``CV loss``: the 5-fold MSE or log-loss at the chosen parameter recomputed for every
method by one referee (``cross_val_score`` of ``Ridge(alpha)`` /
``LogisticRegression(C, solver="newton-cholesky", tol=1e-10)`` on the folds),
``/best`` its ratio to the best in the table. One thread (BLAS limited); numba is
warmed first. Run ``python benchmarks/bench_l2.py`` (``--quick``: 1000 x 50).
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.datasets import load_breast_cancer, load_diabetes, make_classification
from sklearn.datasets import make_regression
from sklearn.linear_model import (LogisticRegression, LogisticRegressionCV, Ridge, RidgeCV)
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold, cross_val_score
from sklearn.preprocessing import scale
from threadpoolctl import threadpool_limits

from skhypergrad._jit import always_compile  # noqa: E402
from skhypergrad import (HyperGradSearchCV, LogisticRegressionHyperGrad, RidgeHyperGrad)

ALPHAS = np.logspace(-3, 4, 20)
CS = np.logspace(-4, 3, 20)


def _logistic(C=1.0):
    return LogisticRegression(C=C, solver="newton-cholesky", tol=1e-10)


def _timed(fit):
    t0 = time.process_time()
    out = fit()
    return out, time.process_time() - t0


def ridge_rows(X, y):
    cv = KFold(5, shuffle=True, random_state=0)
    methods = {
        "RidgeHyperGrad": lambda: RidgeHyperGrad(cv=cv).fit(X, y).alpha_,
        "HyperGradSearchCV(Ridge)": lambda: HyperGradSearchCV(
            Ridge(), cv=cv, scoring="neg_mean_squared_error").fit(
            X, y).best_params_["alpha"],
        "RidgeCV (LOO, 20)": lambda: RidgeCV(alphas=ALPHAS).fit(X, y).alpha_,
        "GridSearchCV(Ridge, 20)": lambda: GridSearchCV(
            Ridge(), {"alpha": ALPHAS}, cv=cv, scoring="neg_mean_squared_error").fit(
            X, y).best_params_["alpha"],
    }
    rows = []
    for name, fit in methods.items():
        alpha, seconds = _timed(fit)
        loss = -cross_val_score(Ridge(alpha=alpha), X, y, cv=cv,
                                scoring="neg_mean_squared_error").mean()
        rows.append((name, seconds, "alpha", alpha, loss))
    return rows


def logistic_rows(X, y):
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    methods = {
        "LogisticRegressionHyperGrad(l2)": lambda: LogisticRegressionHyperGrad(
            penalty="l2", cv=cv).fit(X, y).C_,
        "HyperGradSearchCV(LogReg)": lambda: HyperGradSearchCV(
            _logistic(), cv=cv, scoring="neg_log_loss").fit(
            X, y).best_params_["C"],
        "LogisticRegressionCV(Cs=20)": lambda: float(LogisticRegressionCV(
            Cs=CS, cv=cv, scoring="neg_log_loss", solver="newton-cholesky",
            tol=1e-6).fit(X, y).C_[0]),
        "GridSearchCV(LogReg, 20)": lambda: GridSearchCV(
            _logistic(), {"C": CS}, cv=cv, scoring="neg_log_loss").fit(
            X, y).best_params_["C"],
    }
    rows = []
    for name, fit in methods.items():
        C, seconds = _timed(fit)
        loss = -cross_val_score(_logistic(C), X, y, cv=cv, scoring="neg_log_loss").mean()
        rows.append((name, seconds, "C", C, loss))
    return rows


def _print(title, rows):
    best = min(r[4] for r in rows)
    print(f"\n{title}")
    print(f"{'method':34s} {'CPU s':>8s} {'param':>14s} {'CV loss':>12s} {'/best':>9s}")
    for name, seconds, pname, value, loss in rows:
        print(f"{name:34s} {seconds:8.2f} {pname + '=' + format(value, '.3g'):>14s} "
              f"{loss:12.6g} {loss / best:9.5f}")


def main():
    always_compile()  # the compiled kernels timed, never their Python runs
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1000 x 50 synthetic problems")
    args = parser.parse_args()
    n, p = (1000, 50) if args.quick else (5000, 200)
    Xr, yr = make_regression(n, p, n_informative=p // 4, noise=20.0, effective_rank=p // 4,
                             random_state=0)
    Xc, yc = make_classification(n, p, n_informative=p // 10, flip_y=0.1, random_state=0)
    Xd, yd = load_diabetes(return_X_y=True)
    Xb, yb = load_breast_cancer(return_X_y=True)
    warnings.simplefilter("ignore")
    with threadpool_limits(1):
        RidgeHyperGrad(cv=3, max_iter=2).fit(scale(Xd[:60]), yd[:60])  # numba warm-up
        LogisticRegressionHyperGrad(penalty="l2", cv=3, max_iter=2).fit(scale(Xb[:60]),
                                                                        yb[:60])
        HyperGradSearchCV(_logistic(), cv=3, max_iter=2).fit(scale(Xb[:60]), yb[:60])
        _print(f"Ridge, synthetic {n} x {p}", ridge_rows(scale(Xr), yr))
        _print("Ridge, diabetes (442 x 10)", ridge_rows(scale(Xd), yd))
        _print(f"LogisticRegression (L2), synthetic {n} x {p}",
               logistic_rows(scale(Xc), yc))
        _print("LogisticRegression (L2), breast cancer (569 x 30)",
               logistic_rows(scale(Xb), yb))


if __name__ == "__main__":
    main()
