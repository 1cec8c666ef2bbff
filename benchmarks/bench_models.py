"""Every model of issue 16: HyperGradSearchCV against GridSearchCV, 20 values per parameter.

One row per model, on data of ``n = 5,000`` samples and ``p = 200`` features
(``--n``, ``--p``), the same 5 folds for both methods:

==========================  ==============================  =============================
model                       data                            grid (20 values / parameter)
==========================  ==============================  =============================
``HuberRegressor()``        10 informative, Student-t(2)    ``alpha`` log [1e-4, 1e2] x
                            noise (``bench_huber.data``)    ``epsilon`` lin [1.1, 3]
``LinearSVC("l2")``,        ``make_classification`` (20     ``C`` log [1e-4, 1e2]
``LinearSVC("l1",           informative, 5% flipped)
dual=False)``,
``LogisticRegression()``
(L2, binary)
``PoissonRegressor()``,     log-link means                  ``alpha`` log [1e-5, 10]
``GammaRegressor()``,       (``bench_glm.make_data``)
``TweedieRegressor(1.5)``
``MultiTaskLasso()``        5 tasks, 20 shared rows         ``alpha`` log [1e-3, 1]
                            (``bench_multitask``)           x ``alpha_max``
``MultiTaskElasticNet()``   same                            ``l1_ratio`` lin [0.05, 1] x
                                                            ``alpha`` as above / l1_ratio
==========================  ==============================  =============================

Both methods are scored by the loss of the model (``scoring``): the mean squared
error (Huber, multi-task), the mean squared hinge (LinearSVC,
:func:`~skhypergrad.squared_hinge.squared_hinge_scorer`), the log-loss (logistic) or the
mean deviance (GLMs);
each refits the estimator on all the data at its best point (counted in its time).
The grids run the estimators at their scikit-learn defaults, what a user would run.

Columns: CPU seconds of the search (one thread: ``threadpool_limits(1)``, ``n_jobs=1``,
numba warmed before timing; the smallest of ``--repeat`` runs, as for the one-parameter
grids, whose repeats are as cheap: a first run in a process also pays for mapping the
memory its copies of the data take, which the grid's later fits reuse), the number of evaluated points, the CV loss at the chosen
parameters recomputed by one referee for both methods (``cross_val_score`` of the
estimator at a tight tolerance on the same folds), its ratio to the grid's (target
<= 1.01) and the speedup (target >= 10x). With ``--budget S`` a two-parameter grid runs
one value of its second parameter (20 points) at a time, spread over its range, stops
after ``S`` CPU seconds and its time is extrapolated to the whole grid (marked ``~``;
its best point is then the best of what it ran). With ``--tight`` the one-parameter
grids also run at the referee's tolerance (row ``grid, tight``): the accuracy of
HyperGradSearchCV's rows with a hypergradient and of its best row, whose scores are
those of a tight grid to about 1e-6, where a default grid's scores carry its solver's
error (e.g. ``lbfgs`` at ``tol=1e-4`` for the GLMs; the GLMs' value-only rows are
solved to that same ``tol``, see HyperGradSearchCV).

Run ``python benchmarks/bench_models.py [--models huber svc-l2 ...] [--budget 120] [--repeat 3]``
(``--quick`` for n = 1,000, p = 50); ``--profile NAME`` prints a cProfile
of that model's HyperGradSearchCV fit instead.
"""

import argparse
import cProfile
import io
import pstats
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import (GammaRegressor, HuberRegressor, LogisticRegression,
                                  MultiTaskElasticNet, MultiTaskLasso, PoissonRegressor,
                                  TweedieRegressor)
from sklearn.metrics import make_scorer, mean_tweedie_deviance
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold, cross_val_score
from sklearn.svm import LinearSVC
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).parent))
import bench_glm  # noqa: E402
import bench_huber  # noqa: E402
import bench_multitask  # noqa: E402

from skhypergrad._jit import always_compile  # noqa: E402
from skhypergrad import HyperGradSearchCV  # noqa: E402
from skhypergrad.squared_hinge import squared_hinge_scorer  # noqa: E402

N_GRID = 20


class Case:
    """One row: the estimator, its data, its grid (a list of one-column grids), the scorers
    of both searches and the referee's tight estimator."""

    def __init__(self, name, estimator, data, grids, scoring, ours_scoring, cv, tight):
        self.name, self.estimator, self.data, self.grids = name, estimator, data, grids
        self.scoring, self.ours_scoring, self.cv, self.tight = (scoring, ours_scoring, cv,
                                                                tight)


def _deviance(power):
    return make_scorer(mean_tweedie_deviance, greater_is_better=False, power=power)


def _spread(values):
    """``values`` in an order spread over their range (a budgeted grid's columns)."""
    order = np.argsort((np.arange(len(values)) * 7) % len(values))
    return [values[i] for i in order]


def cases(n, p):
    """``{key: callable -> Case}`` (the data are made when the row runs)."""
    def huber():
        X, y = bench_huber.data(n, p)
        alphas = np.geomspace(1e-4, 1e2, N_GRID)
        return Case("HuberRegressor", HuberRegressor(), (X, y),
                    [{"alpha": alphas, "epsilon": [e]}
                     for e in _spread(np.linspace(1.1, 3.0, N_GRID))],
                    "neg_mean_squared_error", "neg_mean_squared_error",
                    KFold(5, shuffle=True, random_state=0),
                    lambda est: est.set_params(max_iter=1000, tol=1e-10))

    def svc(penalty):
        def make():
            X, y = make_classification(n_samples=n, n_features=p, n_informative=20,
                                       flip_y=0.05, random_state=0)
            est = LinearSVC(penalty=penalty, dual=False) if penalty == "l1" else \
                LinearSVC(penalty=penalty)
            return Case(f"LinearSVC({penalty})", est, (X, y),
                        [{"C": np.logspace(-4, 2, N_GRID)}], squared_hinge_scorer,
                        "neg_squared_hinge", StratifiedKFold(5, shuffle=True, random_state=0),
                        lambda est: est.set_params(dual=False, tol=1e-10, max_iter=100_000))
        return make

    def logistic():
        X, y = make_classification(n_samples=n, n_features=p, n_informative=20,
                                   flip_y=0.05, random_state=0)
        return Case("LogisticRegression", LogisticRegression(), (X, y),
                    [{"C": np.logspace(-4, 2, N_GRID)}], "neg_log_loss", "neg_log_loss",
                    StratifiedKFold(5, shuffle=True, random_state=0),
                    lambda est: est.set_params(tol=1e-10, max_iter=10_000))

    def glm(kind, estimator, power):
        def make():
            X, y = bench_glm.make_data(kind, n, p)
            return Case(type(estimator).__name__, estimator, (X, y),
                        [{"alpha": np.logspace(-5, 1, N_GRID)}], _deviance(power),
                        bench_glm.scorer_name(power), KFold(5, shuffle=True, random_state=0),
                        lambda est: est.set_params(solver="newton-cholesky", tol=1e-10,
                                                   max_iter=1000))
        return make

    def multitask(lasso):
        def make():
            X, Y = bench_multitask.make_problem(n, p, 5, n_informative=p // 10)
            amax = bench_multitask.alpha_max
            if lasso:
                grids = [{"alpha": amax(X, Y) * np.logspace(0, -3, N_GRID)}]
            else:
                grids = [{"l1_ratio": [r], "alpha": amax(X, Y, r) * np.logspace(0, -3, N_GRID)}
                         for r in _spread(np.linspace(0.05, 1.0, N_GRID))]
            est = MultiTaskLasso() if lasso else MultiTaskElasticNet()
            return Case(type(est).__name__, est, (X, Y), grids, "neg_mean_squared_error",
                        "neg_mean_squared_error", KFold(5),
                        lambda est: est.set_params(tol=1e-8, max_iter=100_000))
        return make

    return {"huber": huber, "svc-l2": svc("l2"), "svc-l1": svc("l1"), "logistic": logistic,
            "poisson": glm("poisson", PoissonRegressor(), 1.0),
            "gamma": glm("gamma", GammaRegressor(), 2.0),
            "tweedie": glm("tweedie", TweedieRegressor(power=1.5, link="log"), 1.5),
            "mtlasso": multitask(True), "mtenet": multitask(False)}


def cpu(fn):
    c0 = time.process_time()
    out = fn()
    return time.process_time() - c0, out


def ours(case):
    X, y = case.data
    return HyperGradSearchCV(clone(case.estimator), cv=case.cv,
                             scoring=case.ours_scoring).fit(X, y)


def grid(case, budget, tight=False, repeat=1):
    """``(seconds extrapolated to the whole grid, fraction run, best params)``; the refit
    at the best point counted. ``tight``: the estimator at the referee's tolerance. A
    one-parameter grid runs ``repeat`` times and counts its smallest time."""
    if repeat > 1 and len(case.grids) == 1:
        runs = [grid(case, budget, tight) for _ in range(repeat)]
        return min(runs, key=lambda run: run[0])
    X, y = case.data
    spent, best, done = 0.0, None, 0
    estimator = case.tight(clone(case.estimator)) if tight else case.estimator
    for g in case.grids:
        t, gs = cpu(lambda: GridSearchCV(clone(estimator), g, cv=case.cv,
                                         scoring=case.scoring, refit=False).fit(X, y))
        spent += t
        done += 1
        if best is None or gs.best_score_ > best[0]:
            best = (gs.best_score_, gs.best_params_)
        if budget is not None and spent >= budget:
            break
    t_refit, _ = cpu(lambda: clone(estimator).set_params(**best[1]).fit(X, y))
    return spent * len(case.grids) / done + t_refit, done / len(case.grids), best[1]


def referee(case, params):
    X, y = case.data
    est = case.tight(clone(case.estimator).set_params(**params))
    return -float(np.mean(cross_val_score(est, X, y, cv=case.cv, scoring=case.scoring)))


def warm():
    """Compile (or load) numba's kernels of every model before timing."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((120, 6))
    z = X[:, 0] - X[:, 1] + 0.3 * rng.standard_normal(120)
    for est, y in ((HuberRegressor(), z), (LinearSVC(), z > 0),
                   (LinearSVC(penalty="l1", dual=False), z > 0), (LogisticRegression(), z > 0),
                   (PoissonRegressor(), rng.poisson(np.exp(0.3 * z))),
                   (GammaRegressor(), np.exp(0.3 * z)),
                   (TweedieRegressor(power=1.5, link="log"), np.exp(0.3 * z)),
                   (MultiTaskLasso(), np.column_stack([z, -z])),
                   (MultiTaskElasticNet(), np.column_stack([z, -z]))):
        HyperGradSearchCV(est, cv=3, max_iter=2).fit(X, y)


def main():
    always_compile()  # the compiled kernels timed, never their Python runs
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    keys = list(cases(1, 1))
    parser.add_argument("--models", nargs="+", choices=keys, default=keys)
    parser.add_argument("--n", type=int, default=None)
    parser.add_argument("--p", type=int, default=None)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--budget", type=float, default=None)
    parser.add_argument("--no-grid", action="store_true",
                        help="time HyperGradSearchCV only (no grid, no ratio)")
    parser.add_argument("--tight", action="store_true",
                        help="also time the one-parameter grids at the referee's tolerance "
                             "(the accuracy of HyperGradSearchCV's rows)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of each search (and of each one-parameter grid): the "
                             "smallest CPU time counts")
    parser.add_argument("--profile", choices=keys, default=None)
    args = parser.parse_args()
    n, p = (1000, 50) if args.quick else (5000, 200)
    n, p = args.n or n, args.p or p
    table = cases(n, p)
    warnings.simplefilter("ignore", ConvergenceWarning)
    with threadpool_limits(1):
        warm()
        if args.profile:
            case = table[args.profile]()
            prof = cProfile.Profile(time.process_time)  # CPU time: the machine is shared
            prof.runcall(ours, case)
            out = io.StringIO()
            pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(40)
            print(out.getvalue())
            return
        print(f"n={n} p={p}, 5 folds; CPU seconds on one thread")
        header = (f"{'model':<22}{'ours s':>9}{'evals':>6}{'grid s':>10}{'CV loss':>12}"
                  f"{'grid CV':>12}{'ratio':>8}{'speedup':>9}  chosen (ours | grid)")
        print(header)
        print("-" * len(header))
        for key in args.models:
            case = table[key]()
            t_ours, search = min((cpu(lambda: ours(case)) for _ in range(args.repeat)),
                                 key=lambda run: run[0])
            loss = referee(case, search.best_params_)
            chosen = {k: float(f"{v:.4g}") for k, v in search.best_params_.items()}
            evals = len(search.cv_results_["params"])
            if args.no_grid:
                print(f"{case.name:<22}{t_ours:>9.2f}{evals:>6}{'':>10}{loss:>12.6g}"
                      f"{'':>12}{'':>8}{'':>9}  {chosen}", flush=True)
                continue
            t_grid, frac, params = grid(case, args.budget, repeat=args.repeat)
            loss_grid = referee(case, params)
            mark = "~" if frac < 1 else ""
            picked = {k: float(f"{v:.4g}") for k, v in params.items()}
            print(f"{case.name:<22}{t_ours:>9.2f}{evals:>6}{mark + format(t_grid, '.1f'):>10}"
                  f"{loss:>12.6g}{loss_grid:>12.6g}{loss / loss_grid:>8.4f}"
                  f"{t_grid / t_ours:>8.1f}x  {chosen} | {picked}"
                  + (f" ({frac:.0%} of the grid run)" if frac < 1 else ""), flush=True)
            if args.tight and len(case.grids) == 1:
                t_tight, _, params = grid(case, None, tight=True)
                loss_tight = referee(case, params)
                print(f"{'  grid, tight':<22}{'':>9}{'':>6}{t_tight:>10.1f}{'':>12}"
                      f"{loss_tight:>12.6g}{loss / loss_tight:>8.4f}{t_tight / t_ours:>8.1f}x",
                      flush=True)


if __name__ == "__main__":
    main()
