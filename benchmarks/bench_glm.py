"""Log-link GLMs: HyperGradSearchCV against GridSearchCV over 20 alphas, same folds.

One row per model (``PoissonRegressor``, ``GammaRegressor``,
``TweedieRegressor(power=1.5, link="log")``, each with its default parameters) on
simulated data of ``n = 5000`` samples and ``p = 200`` features (a dense signal
plus a few strong coefficients, means ``exp(Xw + 0.5)``), with ``KFold(5)``:

- ``HyperGradSearchCV(estimator, cv=folds)``: the ridge scan in units of the data,
  then hypergradient descent on ``log alpha``, and the refit of the estimator;
- ``GridSearchCV(estimator, {"alpha": np.logspace(-5, 1, 20)}, cv=folds)``, scored by
  the model's mean deviance (``neg_mean_poisson_deviance`` ...), refit included: with
  the estimator's defaults (lbfgs, ``tol=1e-4``), and "tight" (``solver=
  "newton-cholesky", tol=1e-10``: the accuracy of HyperGradSearchCV's rows, whose
  scores are GridSearchCV's at the same alphas to about 1e-6).

Columns: CPU seconds of the process (one thread: ``threadpool_limits(1)``, numba
warmed before timing), the chosen ``alpha``, the CV mean deviance at it recomputed by
one referee for both (``cross_val_score`` of the estimator with
``solver="newton-cholesky", tol=1e-10`` on the same folds), its ratio to the grid's, and
the speedup. Run ``python benchmarks/bench_glm.py`` (``--n N --p P`` for other sizes).
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import GammaRegressor, PoissonRegressor, TweedieRegressor
from sklearn.metrics import make_scorer, mean_tweedie_deviance
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from threadpoolctl import threadpool_limits

from skhypergrad._jit import always_compile  # noqa: E402
from skhypergrad import HyperGradSearchCV

ALPHAS = np.logspace(-5, 1, 20)


def make_data(kind, n, p, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    w = rng.standard_normal(p) * 0.3 / np.sqrt(p)
    w[:5] += np.array([0.3, -0.25, 0.2, -0.15, 0.1])
    mu = np.exp(X @ w + 0.5)
    if kind == "poisson":
        y = rng.poisson(mu).astype(float)
    elif kind == "gamma":
        y = rng.gamma(2.0, mu / 2.0)
    else:
        y = rng.poisson(mu) * rng.gamma(2.0, 1.0, n)
    return X, y


def scorer(power):
    return make_scorer(mean_tweedie_deviance, greater_is_better=False, power=power)


def scorer_name(power):
    """The name of the mean deviance of ``power``, which HyperGradSearchCV descends."""
    names = {1.0: "neg_mean_poisson_deviance", 2.0: "neg_mean_gamma_deviance"}
    return names.get(float(power), "neg_mean_tweedie_deviance")


def referee(estimator, alpha, X, y, folds, power):
    """CV mean deviance at ``alpha`` with a tight scikit-learn solve."""
    est = clone(estimator).set_params(alpha=alpha, solver="newton-cholesky", tol=1e-10,
                                      max_iter=1000)
    return -float(np.mean(cross_val_score(est, X, y, cv=folds, scoring=scorer(power))))


def timed(fn):
    t0 = time.process_time()
    out = fn()
    return out, time.process_time() - t0


def main():
    always_compile()  # the compiled kernels timed, never their Python runs
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--p", type=int, default=200)
    args = parser.parse_args()
    models = [("poisson", PoissonRegressor(), 1.0), ("gamma", GammaRegressor(), 2.0),
              ("tweedie", TweedieRegressor(power=1.5, link="log"), 1.5)]
    folds = KFold(5, shuffle=True, random_state=0)
    # warm numba's kernels
    Xw, yw = make_data("poisson", 200, 10)
    HyperGradSearchCV(PoissonRegressor(), cv=3, max_iter=2).fit(Xw, yw)
    print(f"n = {args.n}, p = {args.p}, KFold(5); CPU seconds, one thread")
    header = (f"{'model':<10} {'method':<18} {'seconds':>8} {'alpha':>10} "
              f"{'CV deviance':>12} {'/grid':>8} {'speedup':>8}")
    print(header)
    print("-" * len(header))
    for kind, estimator, power in models:
        X, y = make_data(kind, args.n, args.p)
        with threadpool_limits(1), warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # lbfgs at its defaults
            search, t_hg = timed(lambda: HyperGradSearchCV(clone(estimator), cv=folds,
                                                           scoring=scorer_name(power))
                                 .fit(X, y))
            grid, t_grid = timed(lambda: GridSearchCV(clone(estimator), {"alpha": ALPHAS},
                                                      cv=folds, scoring=scorer(power))
                                 .fit(X, y))
            tight = clone(estimator).set_params(solver="newton-cholesky", tol=1e-10)
            grid_tight, t_tight = timed(lambda: GridSearchCV(tight, {"alpha": ALPHAS},
                                                             cv=folds, scoring=scorer(power))
                                        .fit(X, y))
            a_hg, a_grid = search.best_params_["alpha"], grid.best_params_["alpha"]
            a_tight = grid_tight.best_params_["alpha"]
            d_hg = referee(estimator, a_hg, X, y, folds, power)
            d_grid = referee(estimator, a_grid, X, y, folds, power)
            d_tight = referee(estimator, a_tight, X, y, folds, power)
        print(f"{kind:<10} {'HyperGradSearchCV':<18} {t_hg:8.2f} {a_hg:10.3g} "
              f"{d_hg:12.6f} {d_hg / d_grid:8.5f} {t_grid / t_hg:7.1f}x")
        print(f"{kind:<10} {'GridSearchCV(20)':<18} {t_grid:8.2f} {a_grid:10.3g} "
              f"{d_grid:12.6f} {1.0:8.5f} {'':>8}")
        print(f"{kind:<10} {'GridSearchCV tight':<18} {t_tight:8.2f} {a_tight:10.3g} "
              f"{d_tight:12.6f} {d_tight / d_grid:8.5f} {'':>8}")
        print(f"{'':<10} ({len(search.cv_results_['params'])} evaluations; speedup against "
              f"the tight grid {t_tight / t_hg:.1f}x)")


if __name__ == "__main__":
    main()
