"""Inner solvers: time to a relative duality gap of 1e-6, against scikit-learn.

For each problem and regularization (``alpha_max / 20`` and ``alpha_max / 100``)
the table gives the time of our :class:`CoordinateDescent`, our
:class:`ProxGradient` (FISTA) and scikit-learn's solver (``Lasso`` for least
squares, ``LogisticRegression(solver="liblinear")`` for L1 logistic regression,
without intercept since liblinear penalizes it) to reach the same relative
duality gap. scikit-learn's ``tol`` is set from that target and tightened
tenfold until our gap, computed on its solution with
:func:`skhypergrad.solvers.duality_gap`, reaches the target; the time of the
first ``tol`` that does is reported. Times are the best of ``--repeat`` runs,
numba warm, BLAS limited to ``--threads`` threads (1 by default: every solver
compared is sequential); problem construction is not timed. The last line
times a first solve in a fresh interpreter with the numba cache warm.

Run ``python benchmarks/bench_inner.py`` (``--quick`` for small sizes).
"""

import argparse
import subprocess
import sys
import time
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Lasso, LogisticRegression
from threadpoolctl import threadpool_limits

from skhypergrad._jit import always_compile  # noqa: E402
from skhypergrad.datafits import Logistic, Quadratic
from skhypergrad.fixed_point import ProxGradMap
from skhypergrad.penalties import L1, logistic_sklearn_from_lam
from skhypergrad.solvers import CoordinateDescent, ProxGradient, duality_gap

TARGET = 1e-6


# -- problems ---------------------------------------------------------------------------
def correlated_dense(n, p, rho=0.5, seed=0):
    """Gaussian columns with AR(1) correlation ``rho`` between neighbours, Fortran order."""
    rng = np.random.default_rng(seed)
    X = np.empty((n, p), order="F")
    X[:, 0] = rng.standard_normal(n)
    for j in range(1, p):
        X[:, j] = rho * X[:, j - 1] + np.sqrt(1 - rho ** 2) * rng.standard_normal(n)
    return X


def planted_target(X, n_informative, snr=3.0, seed=0):
    rng = np.random.default_rng(seed)
    coef = np.zeros(X.shape[1])
    coef[rng.choice(X.shape[1], n_informative, replace=False)] = rng.standard_normal(n_informative)
    signal = X @ coef
    return signal + np.std(signal) / snr * rng.standard_normal(X.shape[0])


def problems(quick):
    """``(name, datafit, X, y, fit_intercept)`` for every row group."""
    n, p = (200, 1000) if quick else (1000, 5000)
    X = correlated_dense(n, p)
    y = planted_target(X, p // 50)
    yield "dense LS", Quadratic(), X, y, True
    ns, ps = (2000, 5000) if quick else (20_000, 50_000)
    Xs = sp.random(ns, ps, density=1e-3 if not quick else 5e-3, format="csc",
                   random_state=0, data_rvs=np.random.default_rng(0).standard_normal)
    yield "sparse LS", Quadratic(), Xs, planted_target(Xs, ps // 100), True
    yield "dense logistic", Logistic(), X, np.where(y > np.median(y), 1.0, -1.0), False


def lam_max(datafit, X, y, fit_intercept):
    """Smallest ``lam1`` with a zero solution: ``||X^T grad_z F(b*)||_inf``."""
    b = (y.mean() if isinstance(datafit, Quadratic) else 2 * np.arctanh(y.mean())) \
        if fit_intercept else 0.0
    return np.max(np.abs(X.T @ datafit.raw_grad(y, np.full(y.shape[0], b))))


# -- gap of any solution ----------------------------------------------------------------
def relative_gap(pgmap, w, lam):
    """The solvers' stopping measure: (gap + grad_b^2 / (2c)) / F(0)."""
    _, _, gap, grad_b = duality_gap(pgmap, w, lam)
    scale = pgmap.objective(np.zeros_like(w), lam)
    return (max(gap, 0.0) + 0.5 * grad_b ** 2 / pgmap.datafit.curvature) / scale


# -- timed runs -------------------------------------------------------------------------
def best_time(fit, repeat):
    """Best wall time of ``repeat`` calls of ``fit()`` and its last result."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fit()
        times.append(time.perf_counter() - t0)
    return min(times), out


def time_ours(solver, make_pgmap, lam, repeat):
    """Time of ``solver.solve`` on a fresh problem (so X's conversion is included)."""
    times = []
    for _ in range(repeat):
        pgmap = make_pgmap()
        t0 = time.perf_counter()
        res = solver.solve(pgmap, lam)
        times.append(time.perf_counter() - t0)
    return min(times), relative_gap(pgmap, res.w, lam)


def time_sklearn(make_model, pgmap, lam, X, y, fit_intercept, repeat):
    """Time of scikit-learn at the loosest ``tol`` (from TARGET down) reaching TARGET."""
    tol = TARGET
    for _ in range(6):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            t, model = best_time(lambda: make_model(tol).fit(X, y), repeat)
        coef = np.ravel(model.coef_)
        w = np.append(coef, np.ravel(model.intercept_)[0]) if fit_intercept else coef
        gap = relative_gap(pgmap, w, lam)
        if gap <= TARGET:
            break
        tol /= 10
    return t, gap, tol


def sklearn_model(datafit, lam1, n, fit_intercept):
    if isinstance(datafit, Quadratic):
        # sklearn stops at n * gap <= tol ||y||^2, i.e. relative gap <= 2 tol
        return "Lasso", lambda tol: Lasso(alpha=lam1, tol=tol / 2, max_iter=100_000,
                                          fit_intercept=fit_intercept)
    C, _ = logistic_sklearn_from_lam([lam1], n)
    return "liblinear", lambda tol: LogisticRegression(
        C=C, l1_ratio=1.0, solver="liblinear", tol=tol, max_iter=100_000,
        fit_intercept=fit_intercept)


def warm_numba():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 5))
    for datafit, y in ((Quadratic(), rng.standard_normal(20)),
                       (Logistic(), np.sign(rng.standard_normal(20)))):
        for Xs in (X, sp.csc_matrix(X)):
            CoordinateDescent().solve(ProxGradMap(datafit, L1(), Xs, y, True), [0.01])


COLD_START = """
import time
t0 = time.perf_counter()
import numpy as np
from skhypergrad import ProxGradMap, Quadratic, L1
from skhypergrad.solvers import CoordinateDescent
t1 = time.perf_counter()
X = np.random.default_rng(0).standard_normal((50, 20)); y = X[:, 0]
CoordinateDescent().solve(ProxGradMap(Quadratic(), L1(), X, y, True), [0.01])
print(t1 - t0, time.perf_counter() - t1)
"""


def cold_start():
    """Wall time of a fresh process, its import time and its first solve (second of two runs)."""
    for _ in range(2):
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", COLD_START], capture_output=True,
                             text=True, check=True).stdout
        wall = time.perf_counter() - t0
    t_import, t_solve = map(float, out.split())
    return wall, t_import, t_solve


def main():
    always_compile()  # the compiled kernels timed, never their Python runs
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small problems")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--fista-max-iter", type=int, default=3000)
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads")
    args = parser.parse_args()
    with threadpool_limits(args.threads):
        run(args)


def run(args):
    warm_numba()
    header = (f"{'problem':<16}{'alpha':>8}{'nnz':>6}{'CD s':>9}{'FISTA s':>9}"
              f"{'sklearn s':>10}{'CD/skl':>8}  sklearn solver (tol), gaps CD/FISTA/skl")
    print(f"relative duality gap target {TARGET:.0e}\n{header}\n{'-' * len(header)}")
    for name, datafit, X, y, fi in problems(args.quick):
        penalty = L1()

        def make_pgmap():
            return ProxGradMap(datafit, penalty, X, y, fit_intercept=fi)

        pgmap = make_pgmap()
        lmax = lam_max(datafit, X, y, fi)
        for div in (20, 100):
            lam = np.array([lmax / div])
            t_cd, g_cd = time_ours(CoordinateDescent(tol=TARGET), make_pgmap, lam, args.repeat)
            fista = ProxGradient(tol=TARGET, max_iter=args.fista_max_iter, warn=False)
            t_pg, g_pg = time_ours(fista, lambda: pgmap, lam, 1)
            sk_name, make_model = sklearn_model(datafit, lam[0], X.shape[0], fi)
            t_sk, g_sk, tol = time_sklearn(make_model, pgmap, lam, X, y, fi, args.repeat)
            nnz = np.count_nonzero(CoordinateDescent(tol=TARGET).solve(pgmap, lam).w[:X.shape[1]])
            fista_t = f"{t_pg:9.3f}" if g_pg <= TARGET else f"{'>' + format(t_pg, '.2f'):>9}"
            print(f"{name:<16}{'max/' + str(div):>8}{nnz:>6}{t_cd:9.3f}{fista_t}{t_sk:10.3f}"
                  f"{t_cd / t_sk:8.2f}  {sk_name} ({tol:.0e}), "
                  f"{g_cd:.1e}/{g_pg:.1e}/{g_sk:.1e}")
    wall, t_import, t_solve = cold_start()
    print(f"\ncold start (fresh interpreter, numba cache warm, 2nd run): import skhypergrad "
          f"{t_import:.2f} s, first solve {t_solve:.2f} s, whole process {wall:.2f} s")


if __name__ == "__main__":
    main()
