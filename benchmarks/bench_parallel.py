"""Parallel folds: wall time of ``n_jobs=2`` and ``n_jobs=-1`` against ``n_jobs=1``.

Rows:

- the estimators of ``benchmarks/bench_tables.py`` on its tables (its loaders,
  imported): ``ElasticNetHyperGrad`` and ``LassoHyperGrad`` (defaults) on the
  regression tables, ``LogisticRegressionHyperGrad`` on breast cancer and digits, all
  with ``KFold(5)`` / ``StratifiedKFold(5)`` folds shuffled with seed 0;
- ``HyperGradSearchCV`` (defaults, ``cv=5``) of scikit-learn's ``Lasso``,
  ``ElasticNet`` and ``KernelRidge(kernel="rbf")`` on diabetes (standardized),
  ``LogisticRegression(l1_ratio=1, solver="liblinear")``, ``SVC()`` and ``LinearSVC()``
  on breast cancer (standardized), ``HuberRegressor()`` on a 500 x 20 regression with
  Student-t noise, ``PoissonRegressor()`` on 500 x 20 counts and ``MultiTaskLasso()`` on
  a 300 x 20 regression of 3 targets;
- without ``--quick``, larger problems, 5,000 x 500 synthetic: ``ElasticNetHyperGrad``
  and ``HyperGradSearchCV(Lasso())`` on a regression, ``LogisticRegressionHyperGrad``
  on a binary ``make_classification``, ``MultiTaskLassoHyperGrad`` on 10 targets.

Columns: the wall time of the fit (refit included; the time a user waits) with
``n_jobs=1``, ``2`` and ``-1``, each the minimum of ``--repeat`` rounds (3 by default:
the machine is shared; more for serial fits under 0.17 s, 0.5 s of them in all) in
which the three take turns, after one untimed fit of each (numba's kernels compiled,
joblib's workers started and their imports done); the ratios ``n_jobs=2 / serial`` and
``n_jobs=-1 / serial``, flagged ``!`` above 1.10 (issue "Parallel work that pays":
``n_jobs`` is never more than 10% slower than serial); ``cpu 2/1``: the ratio of the
calling process's CPU times (minimum over the same fits), the work ``n_jobs=2`` leaves
in the calling process: where the folds run serially it measures the cost of
``n_jobs`` itself without the scheduler's noise, which on a loaded machine dominates
fits of milliseconds; ``jobs``: the most jobs a ``joblib.Parallel`` of the
``n_jobs=2`` fit ran with (1: its folds ran serially, by the rule of
:mod:`skhypergrad._parallel`, the code path of ``n_jobs=1``); ``|dcoef|``: the largest
difference between the coefficients of the parallel and serial fits (the contract is
1e-10). BLAS runs one thread in the calling process (joblib limits the workers'
own). The load average is printed before and after.

Run ``python benchmarks/bench_parallel.py`` (``--quick``: the small tables, no
5,000 x 500 row; ``--rows NAME ...``: rows whose name contains one of these;
``--repeat R``; ``--min-work W``: the work threshold of
:mod:`skhypergrad._parallel` set to ``W``, e.g. 0 to run every parallel fit's folds
in parallel).
"""

import argparse
import os
import time
import warnings

import joblib
import numpy as np
from sklearn.datasets import (load_breast_cancer, load_diabetes, make_classification,
                              make_regression)
from sklearn.exceptions import ConvergenceWarning
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import (ElasticNet, HuberRegressor, Lasso, LogisticRegression,
                                  MultiTaskLasso, PoissonRegressor)
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, LinearSVC
from threadpoolctl import threadpool_limits

from bench_tables import SEED, classification_tables, regression_tables
from skhypergrad._jit import always_compile  # noqa: E402
import skhypergrad._parallel as parallel
from skhypergrad import (ElasticNetHyperGrad, HyperGradSearchCV, LassoHyperGrad,
                         LogisticRegressionHyperGrad, MultiTaskLassoHyperGrad)

N_JOBS = (1, 2, -1)
LIMIT = 1.10
#: seconds that the timed fits of a cell take at least
MIN_SPENT = 0.5


def table_rows(quick):
    """``(name, make, X, y)``: ``make(n_jobs)`` the estimator, fitted on ``X, y``."""
    cv = KFold(5, shuffle=True, random_state=SEED)
    scv = StratifiedKFold(5, shuffle=True, random_state=SEED)
    for name, X, y in regression_tables(quick):
        yield (f"ElasticNetHyperGrad {name}",
               lambda n_jobs: ElasticNetHyperGrad(cv=cv, n_jobs=n_jobs), X, y)
        yield (f"LassoHyperGrad {name}",
               lambda n_jobs: LassoHyperGrad(cv=cv, n_jobs=n_jobs), X, y)
    for name, X, y, _, _ in classification_tables():
        yield (f"LogisticRegressionHyperGrad {name.split(' (')[0]}",
               lambda n_jobs: LogisticRegressionHyperGrad(cv=scv, n_jobs=n_jobs), X, y)


def large_rows():
    """``(name, make, X, y)`` on 5,000 x 500 synthetic data."""
    cv = KFold(5, shuffle=True, random_state=SEED)
    X, y = make_regression(5000, 500, n_informative=50, noise=20.0, random_state=SEED)
    X = np.asfortranarray(X)
    yield ("ElasticNetHyperGrad synthetic 5000x500",
           lambda n_jobs: ElasticNetHyperGrad(cv=cv, n_jobs=n_jobs), X, y)
    yield ("HyperGradSearchCV Lasso synthetic 5000x500",
           lambda n_jobs: HyperGradSearchCV(Lasso(), cv=cv, n_jobs=n_jobs), X, y)
    X, y = make_classification(5000, 500, n_informative=50, random_state=SEED)
    yield ("LogisticRegressionHyperGrad synthetic 5000x500",
           lambda n_jobs: LogisticRegressionHyperGrad(
               cv=StratifiedKFold(5, shuffle=True, random_state=SEED), n_jobs=n_jobs),
           np.asfortranarray(X), y)
    rng = np.random.default_rng(SEED)
    X = np.asfortranarray(rng.standard_normal((5000, 500)))
    Y = X[:, :20] @ rng.standard_normal((20, 10)) + 5.0 * rng.standard_normal((5000, 10))
    yield ("MultiTaskLassoHyperGrad synthetic 5000x500x10",
           lambda n_jobs: MultiTaskLassoHyperGrad(cv=cv, n_jobs=n_jobs), X, Y)


def search_rows():
    """``(name, make, X, y)`` of ``HyperGradSearchCV`` on small data."""
    X, y = load_diabetes(return_X_y=True)
    diabetes = StandardScaler().fit_transform(X), y
    X, y = load_breast_cancer(return_X_y=True)
    cancer = StandardScaler().fit_transform(X), y
    rng = np.random.default_rng(SEED)
    X = rng.standard_normal((500, 20))
    coef = np.r_[rng.standard_normal(5), np.zeros(15)]
    heavy = X, X @ coef + rng.standard_t(2, 500)
    counts = X, rng.poisson(np.exp(0.3 * X @ coef)).astype(float)
    Xm = rng.standard_normal((300, 20))
    multi = Xm, Xm[:, :4] @ rng.standard_normal((4, 3)) + rng.standard_normal((300, 3))
    cases = [("Lasso diabetes", Lasso(), diabetes),
             ("ElasticNet diabetes", ElasticNet(), diabetes),
             ("KernelRidge rbf diabetes", KernelRidge(kernel="rbf"), diabetes),
             ("LogisticRegression breast cancer",
              LogisticRegression(l1_ratio=1.0, solver="liblinear", random_state=0), cancer),
             ("SVC breast cancer", SVC(), cancer),
             ("LinearSVC breast cancer", LinearSVC(random_state=0), cancer),
             ("HuberRegressor 500x20", HuberRegressor(), heavy),
             ("PoissonRegressor 500x20", PoissonRegressor(), counts),
             ("MultiTaskLasso 300x20x3", MultiTaskLasso(), multi)]
    for name, estimator, (X, y) in cases:
        yield (f"HyperGradSearchCV {name}",
               lambda n_jobs, e=estimator: HyperGradSearchCV(e, cv=5, n_jobs=n_jobs), X, y)


def coefficients(fitted):
    """The fitted coefficients (a search's best estimator's), flattened; the dual
    coefficients of the kernel models."""
    fitted = getattr(fitted, "best_estimator_", fitted)
    for name in ("coef_", "dual_coef_"):
        if hasattr(fitted, name):
            coef = getattr(fitted, name)
            return np.asarray(coef.toarray() if hasattr(coef, "toarray") else coef).ravel()
    raise ValueError(f"{type(fitted).__name__} has no coefficients")


class JobsRecorder:
    """Records the jobs of every ``joblib.Parallel`` call while installed."""

    def __init__(self):
        self.jobs = []
        self._call = joblib.Parallel.__call__

    def install(self):
        recorder, call = self, self._call

        def recording_call(parallel, iterable):
            recorder.jobs.append(joblib.effective_n_jobs(parallel.n_jobs))
            return call(parallel, iterable)
        joblib.Parallel.__call__ = recording_call


JOBS = JobsRecorder()


def run_row(make, X, y, repeat):
    """The minimum wall and CPU times of each ``n_jobs`` over ``repeat`` rounds (more,
    up to ``MIN_SPENT`` seconds of serial fits, when the fits are short), the values of
    ``n_jobs`` taking turns within a round so that the machine's load weighs on them
    alike, after one untimed fit of each; the jobs of the ``n_jobs=2`` fit; and the
    largest difference between the parallel fits' coefficients and the serial fit's."""
    wall = {n_jobs: [] for n_jobs in N_JOBS}
    cpu = {n_jobs: [] for n_jobs in N_JOBS}
    coefs = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", FutureWarning)
        for n_jobs in N_JOBS:
            JOBS.jobs.clear()
            coefs[n_jobs] = coefficients(make(n_jobs).fit(X, y))
            if n_jobs == 2:
                jobs = max(JOBS.jobs, default=1)
        while len(wall[1]) < repeat or sum(wall[1]) < MIN_SPENT:
            for n_jobs in N_JOBS:
                t0, c0 = time.perf_counter(), time.process_time()
                make(n_jobs).fit(X, y)
                cpu[n_jobs].append(time.process_time() - c0)
                wall[n_jobs].append(time.perf_counter() - t0)
    dcoef = max(float(np.max(np.abs(coefs[j] - coefs[1]))) for j in N_JOBS[1:])
    return ({n_jobs: min(t) for n_jobs, t in wall.items()},
            {n_jobs: min(t) for n_jobs, t in cpu.items()}, jobs, dcoef)


def print_row(name, wall, cpu, jobs, dcoef):
    ratios = [wall[j] / wall[1] for j in N_JOBS[1:]]
    cells = "".join(f"{r:>8.2f}{'!' if r > LIMIT else ' '}" for r in ratios)
    print(f"{name:<52}" + "".join(f"{wall[j]:>10.3f}" for j in N_JOBS) + cells
          + f"{cpu[2] / cpu[1]:>9.2f}{jobs:>5}{dcoef:>10.1e}", flush=True)
    return max(ratios)


def main():
    always_compile()  # the compiled kernels timed, never their Python runs
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the small tables only")
    parser.add_argument("--rows", nargs="*", help="rows whose name contains one of these")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per cell")
    parser.add_argument("--min-work", type=float, help="the work threshold, set")
    args = parser.parse_args()
    if args.min_work is not None:
        parallel.PARALLEL_MIN_WORK = args.min_work
    print("load average before: %.2f %.2f %.2f" % os.getloadavg())
    print(f"{'wall s (min of ' + str(args.repeat) + ')':<52}"
          + "".join(f"{'n_jobs=' + str(j):>10}" for j in N_JOBS)
          + f"{'2/1':>9}{'-1/1':>9}{'cpu 2/1':>9}{'jobs':>5}{'|dcoef|':>10}")
    worst = {}
    JOBS.install()
    with threadpool_limits(1):
        for rows in (table_rows(args.quick), search_rows(),
                     () if args.quick else large_rows()):
            for name, make, X, y in rows:
                if args.rows and not any(s in name for s in args.rows):
                    continue
                worst[name] = print_row(name, *run_row(make, X, y, args.repeat))
    over = [name for name, r in worst.items() if r > LIMIT]
    print(f"\nrows with a parallel/serial ratio above {LIMIT}: {len(over)}/{len(worst)}"
          + "".join(f"\n  {name}" for name in over))
    print("load average after: %.2f %.2f %.2f" % os.getloadavg())


if __name__ == "__main__":
    main()
