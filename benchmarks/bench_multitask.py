"""Multi-task Lasso / elastic net: HyperGradSearchCV against GridSearchCV, same folds.

One dense problem, ``Y = X W + noise`` with ``T`` tasks sharing ``n_informative`` rows
of ``W`` (AR(1) correlated columns, ``rho = 0.6``; noise std(signal) / 2), and
``KFold(5)`` on all of it. Rows:

- ``MultiTaskLasso``: ``HyperGradSearchCV(MultiTaskLasso())`` against
  ``GridSearchCV(MultiTaskLasso(), 20 alphas)`` log-spaced from ``alpha_max`` down to
  ``1e-3 alpha_max``;
- ``MultiTaskElasticNet`` (unless ``--lasso-only``): ``HyperGradSearchCV`` against a
  20 x 20 grid (``l1_ratio`` in [0.05, 1], 20 alphas per ``l1_ratio`` from
  ``alpha_max / l1_ratio``). With ``--budget S`` the grid runs one ``l1_ratio`` at a
  time, spread over [0.05, 1], stops after ``S`` CPU seconds and its time is
  extrapolated to the whole grid (marked ``~``).

Columns: CPU seconds of the search, refit included (one thread: BLAS limited to one,
``n_jobs=1``); ``CV MSE``: the 5-fold MSE (averaged over the tasks, scikit-learn's
``neg_mean_squared_error``) at the chosen hyperparameters, recomputed for both by one
referee (``cross_val_score`` of the scikit-learn model with ``tol=1e-8``);
``ratio``: CV MSE over the grid's; the speedup in CPU time.

Run ``python benchmarks/bench_multitask.py`` (``--quick`` for a small problem).
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import MultiTaskElasticNet, MultiTaskLasso
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from threadpoolctl import threadpool_limits

from skhypergrad._jit import always_compile  # noqa: E402
from skhypergrad import HyperGradSearchCV

SEED = 0
N_GRID = 20
REFEREE_TOL = 1e-8


def make_problem(n, p, T, n_informative, rho=0.6, snr=2.0, seed=SEED):
    rng = np.random.default_rng(seed)
    X = np.empty((n, p), order="F")
    X[:, 0] = rng.standard_normal(n)
    for j in range(1, p):
        X[:, j] = rho * X[:, j - 1] + np.sqrt(1 - rho ** 2) * rng.standard_normal(n)
    W = np.zeros((p, T))
    W[rng.choice(p, n_informative, replace=False)] = rng.standard_normal((n_informative, T))
    signal = X @ W
    return X, signal + signal.std() / snr * rng.standard_normal((n, T)) + 1.0


def alpha_max(X, Y, l1_ratio=1.0):
    R = Y - Y.mean(axis=0)
    return float(np.sqrt(((X.T @ R) ** 2).sum(axis=1)).max() / (X.shape[0] * l1_ratio))


def cpu(fn):
    c0 = time.process_time()
    out = fn()
    return time.process_time() - c0, out


def referee_cv_mse(estimator, X, Y, cv, params):
    model = estimator.set_params(tol=REFEREE_TOL, max_iter=100_000, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        scores = cross_val_score(model, X, Y, cv=cv, scoring="neg_mean_squared_error")
    return float(-scores.mean())


def run_grid(estimator, grids, X, Y, cv, budget):
    """The best of the grids (dicts), run one at a time until ``budget`` CPU seconds:
    ``(seconds extrapolated, fraction run, best params)``."""
    spent, best, done = 0.0, None, 0
    for grid in grids:
        t, gs = cpu(lambda: GridSearchCV(estimator, grid, cv=cv,
                                         scoring="neg_mean_squared_error").fit(X, Y))
        spent += t
        done += 1
        if best is None or gs.best_score_ > best[0]:
            best = (gs.best_score_, gs.best_params_)
        if budget is not None and spent >= budget:
            break
    return spent * len(grids) / done, done / len(grids), best[1]


def main():
    always_compile()  # the compiled kernels timed, never their Python runs
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--lasso-only", action="store_true")
    parser.add_argument("--budget", type=float, default=None)
    args = parser.parse_args()
    n, p, T = (500, 50, 3) if args.quick else (5000, 200, 5)
    X, Y = make_problem(n, p, T, n_informative=p // 10)
    cv = KFold(5)
    print(f"multi-task, dense n={n} p={p} T={T}, KFold(5); CPU seconds on one thread")
    header = (f"{'model':<22}{'method':<20}{'seconds':>10}{'CV MSE':>12}{'ratio':>9}"
              f"{'speedup':>9}  chosen")
    print(header)
    # numba and the code paths compiled / warmed before timing
    HyperGradSearchCV(MultiTaskLasso(), cv=3).fit(X[:200, :20], Y[:200])
    cases = [("MultiTaskLasso", MultiTaskLasso(),
              [{"alpha": alpha_max(X, Y) * np.logspace(0, -3, N_GRID)}])]
    if not args.lasso_only:
        ratios = np.linspace(0.05, 1.0, N_GRID)
        order = np.argsort((np.arange(N_GRID) * 7) % N_GRID)  # spread over [0.05, 1]
        cases.append(("MultiTaskElasticNet", MultiTaskElasticNet(),
                      [{"l1_ratio": [ratios[i]],
                        "alpha": alpha_max(X, Y, ratios[i]) * np.logspace(0, -3, N_GRID)}
                       for i in order]))
    with threadpool_limits(1):
        for name, est, grids in cases:
            t_ours, search = cpu(lambda: HyperGradSearchCV(
                est, cv=cv, scoring="neg_mean_squared_error").fit(X, Y))
            ours = referee_cv_mse(est, X, Y, cv, search.best_params_)
            t_grid, frac, params = run_grid(est, grids, X, Y, cv, args.budget)
            grid = referee_cv_mse(est, X, Y, cv, params)
            mark = "~" if frac < 1 else ""
            fmt = {k: round(float(v), 6) for k, v in search.best_params_.items()}
            print(f"{name:<22}{'HyperGradSearchCV':<20}{t_ours:>10.2f}{ours:>12.5f}"
                  f"{ours / grid:>9.4f}{t_grid / t_ours:>8.1f}x  {fmt} "
                  f"({len(search.cv_results_['params'])} evals)")
            fmt = {k: round(float(v), 6) for k, v in params.items()}
            print(f"{'':<22}{'GridSearchCV':<20}{mark + format(t_grid, '.2f'):>10}"
                  f"{grid:>12.5f}{1.0:>9.4f}{'':>9}  {fmt}"
                  + (f" ({frac:.0%} of the grid run)" if frac < 1 else ""))


if __name__ == "__main__":
    main()
