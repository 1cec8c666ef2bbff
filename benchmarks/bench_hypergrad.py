"""Hypergradient engines: relative error versus iterations and versus seconds.

For every engine (``itd``, ``itd-reverse``, ``aid-fp``, ``aid-cg``, ``nsid``)
the hypergradient of a held-out criterion with respect to ``lam`` is compared
with a reference ("exact") hypergradient; the relative error
``||g - g_ref|| / ||g_ref||`` is plotted against the engine's iterations and
against wall-clock seconds (one PNG, two panels per problem, log scales) and
printed as a table.

Problems (the deterministic elastic-net setting of Grazzi, Pontil and Salzo,
ICML 2024, and a logistic analogue):

* ``enet``: synthetic regression, n = 500 (100 train / 200 validation / 200
  test, the test rows unused here), p = 100, X ~ N(0, I), 30 informative
  features with weights |N(0, 1)|, noise 0.1, no intercept,
  ``lam = (0.02, 0.002)`` and ITD up to t = 500, and (not with ``--quick``)
  ``lam = (0.002, 0.002)`` up to t = 1000. Outer criterion: validation mean
  squared error ``||X_val w - y_val||^2 / n_val``.
* ``logistic``: binary labels ``sign(X w + noise)`` on the same kind of design
  (weights with random signs), 100 / 200 / 200 split, p = 100, intercept,
  ``lam = (0.01, 0.002)``, t up to 1000. Outer criterion: validation log-loss.

The inner problem is the library's :class:`~skhypergrad.fixed_point.ProxGradMap`
(L2 term in the prox); its objective is ``F(w) + lam1 ||w||_1 + lam2 / 2 ||w||^2``
with ``F`` the mean loss (``1/(2n) ||Xw - y||^2`` for least squares), as in the
seed paper. The step is the library's default ``1 / L``; ``--step seed`` gives
the least-squares maps the seed code's step ``2 / (L + mu + 2 lam2)`` (about
twice as long here, where mu ~ 0; the seed code puts the L2 term in the smooth
part instead, a slightly different map with the same fixed point), which
roughly halves the ITD iteration counts.

Reference: the inner problem solved by :class:`CoordinateDescent` at
``tol=1e-14``, then polished by Newton steps on its support (fixed signs), so
that ``w`` is a fixed point of the map to rounding (a duality gap of 1e-14
leaves a fixed-point residual of about 1e-8 when, as here, n_train = p), and
:class:`AIDConjugateGradient` at ``tol=1e-14``. The script checks it against
the closed-form active-set formula (dense solve) and AID-FP at ``tol=1e-14``.

Curves (x = the engine's ``n_iter``):

* ``itd`` / ``itd-reverse``: t proximal-gradient (ISTA) steps from w_0 = 0,
  each point a separate call ``ITD(n_iter=t)``; the dotted vertical line marks
  the first t at which the support of w_t equals the solution's.
* ``aid-fp`` (exact inner): k fixed-point adjoint iterations from v_0 = 0 at
  the reference solution w*; seconds are the engine's only (the inner solve is
  not included; its time is printed under the table).
* ``aid-fp k=t @ w_t``: the seed paper's variant, k = t adjoint iterations at
  the ITD iterate w_t; seconds include the t ISTA steps.
* ``aid-cg`` (exact inner): k conjugate-gradient iterations at w*.
* ``nsid`` at w*: K minibatches of size 10 (``--batch-size``), J = K + 1,
  decreasing steps; the error is the mean over ``--seeds`` seeds of the
  relative error (expected to decay as K^(-1/2), the mean squared error as
  1/K); the contraction factor is computed once and passed to the engine.
* ``sid (biased)``: the same with ``NSID(biased=True)``, the baseline that
  differentiates the prox at each noisy point.

A second table measures the cost of one ``aid-cg`` hypergradient (default
settings, ``tol=1e-10``, the gradient of the outer function included: the
library's held-out loss, as the criteria pass it) relative to one inner solve
(``CoordinateDescent``, ``tol=1e-8``, from zero and warm-started at the
solution for ``1.1 lam``, after a first solve: with the Gram matrix cached on
least squares with ``p < n``, as in a search) on the first elastic-net problem and on two larger
ones: least squares and logistic, n = 5000 training and 1000 validation rows,
p = 2000, 100 informative features, ``lam = (lam_max / 20, lam_max / 200)``
(least squares) and ``(lam_max / 10, lam_max / 100)`` (logistic); with
``--quick``, n = 1000, p = 400. ``aid-cg`` is timed with the map's Lipschitz
constant already known (as in a hyperparameter search, where it is carried
between evaluations); the first call, which computes it, is reported
separately.

Times: numba warm, BLAS limited to ``--threads`` threads (1 by default), best
of ``--repeat`` runs (at least 7 in the cost table, where the solves and the
hypergradient are timed in turns: the machine may be shared), calls under 2 ms timed in batches of about 2 ms (as
:mod:`timeit`); NSID times are means over the seeds.

Run ``python benchmarks/bench_hypergrad.py`` (``--quick`` for a smoke run).
Outputs: ``benchmarks/results/bench_hypergrad.png``, ``.json`` (all curves)
and ``.txt`` (the printed tables); ``bench_hypergrad_quick.*`` with ``--quick``,
``*_seedstep.*`` with ``--step seed``.
"""

import argparse
import json
import time
import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

from skhypergrad._jit import always_compile  # noqa: E402
from skhypergrad._outer_loss import _heldout_loss
from skhypergrad.datafits import Logistic, Quadratic
from skhypergrad.fixed_point import ProxGradMap
from skhypergrad.hypergrad import (ITD, NSID, AIDConjugateGradient, AIDFixedPoint,
                                   contraction_factor)
from skhypergrad.models import InnerModel
from skhypergrad.penalties import ElasticNetPenalty
from skhypergrad.solvers import CoordinateDescent

RESULTS = Path(__file__).resolve().parent / "results"
FLOOR = 1e-16  # relative errors are clipped here for the log axes
YMAX = 20.0  # top of the plots' error axes (larger errors are listed on the plot)


# -- data -------------------------------------------------------------------------------
def seed_design(n, p, n_informative, seed, signed=False):
    """``X ~ N(0, I)`` (Fortran order) and weights ``|N(0, 1)|`` on the first features."""
    rng = np.random.default_rng(seed)
    X = np.asfortranarray(rng.standard_normal((n, p)))
    coef = np.zeros(p)
    coef[:n_informative] = np.abs(rng.standard_normal(n_informative))
    if signed:
        coef[:n_informative] *= rng.choice([-1.0, 1.0], n_informative)
    return X, coef, rng


def split(n, sizes, rng):
    """Disjoint random index sets of the given sizes."""
    perm = rng.permutation(n)
    return np.split(perm, np.cumsum(sizes)[:-1])[: len(sizes)]


def heldout(kind, X_val, y_val, fit_intercept):
    """The library's held-out loss (what ``HeldOut`` and ``CrossVal`` pass to the
    engines): mean squared error or mean log-loss on the validation rows."""
    model = InnerModel(datafit="quadratic" if kind == "mse" else "logistic",
                       penalty="elasticnet", fit_intercept=fit_intercept).bind(y_val)
    return _heldout_loss(model, "auto", X_val, model.encode(y_val))


class Problem(NamedTuple):
    name: str
    title: str
    pgmap: ProxGradMap
    lam: np.ndarray
    outer: object    # held-out loss: value(w), grad(w)
    T: int           # ITD / AID-FP iterations
    K_max: int       # NSID samples


def seed_step(X, l2):
    """Seed paper's step ``2 / (L + mu + 2 l2)``; L, mu: extreme eigenvalues of ``X^T X / n``."""
    eig = np.linalg.eigvalsh(X.T @ X / X.shape[0])
    return 2.0 / (eig[-1] + max(eig[0], 0.0) + 2.0 * l2)


def enet_problem(lam, T, K_max, seed=0, n=500, p=100, sizes=(100, 200, 200), step="lipschitz"):
    X, coef, rng = seed_design(n, p, 30, seed)
    y = X @ coef + 0.1 * rng.standard_normal(n)
    tr, va, _ = split(n, sizes, rng)
    Xtr = np.asfortranarray(X[tr])
    g = seed_step(Xtr, lam[1]) if step == "seed" else None
    pgmap = ProxGradMap(Quadratic(), ElasticNetPenalty(), Xtr, y[tr], step=g)
    name = f"enet lam=({lam[0]:g}, {lam[1]:g})"
    title = (f"elastic net: n_train={sizes[0]}, n_val={sizes[1]}, p={p}, "
             f"lam=({lam[0]:g}, {lam[1]:g})\nouter: validation MSE; ISTA step "
             + ("1/L" if g is None else f"2/(L+mu+2 lam2) = {g:.3g}"))
    return Problem(name, title, pgmap, np.asarray(lam, float),
                   heldout("mse", X[va], y[va], False), T, K_max)


def logistic_data(n, p, n_informative, seed):
    X, coef, rng = seed_design(n, p, n_informative, seed, signed=True)
    z = X @ coef
    y = np.where(z + 0.5 * np.std(z) * rng.standard_normal(n) > 0, 1.0, -1.0)
    return X, y, rng


def logistic_problem(lam, T, K_max, seed=0, n=500, p=100, sizes=(100, 200, 200)):
    X, y, rng = logistic_data(n, p, 30, seed)
    tr, va, _ = split(n, sizes, rng)
    pgmap = ProxGradMap(Logistic(), ElasticNetPenalty(), np.asfortranarray(X[tr]), y[tr],
                        fit_intercept=True)
    name = f"logistic lam=({lam[0]:g}, {lam[1]:g})"
    title = (f"binary logistic + elastic net + intercept: n_train={sizes[0]}, "
             f"n_val={sizes[1]}, p={p}, lam=({lam[0]:g}, {lam[1]:g})\n"
             "outer: validation log-loss; ISTA step 1/L")
    return Problem(name, title, pgmap, np.asarray(lam, float),
                   heldout("logloss", X[va], y[va], True), T, K_max)


# -- reference hypergradient ------------------------------------------------------------
def polish(pgmap, lam, w, max_steps=30):
    """Newton steps on the support of ``w`` (signs fixed); returns ``(w, idx, H)``.

    ``H`` is the Hessian of ``F + l1 s.w + sum_j l2_j/2 w_j^2`` restricted to the
    support (plus the intercept), ``idx`` those entries of ``w``.
    """
    design, datafit, y = pgmap.design, pgmap.datafit, pgmap.y
    p = design.n_features
    l1, l2 = pgmap.penalty.weights(lam, p)
    w = w.copy()
    idx = np.flatnonzero(w[:p])
    if design.fit_intercept:
        idx = np.append(idx, p)
    pen = idx < p
    signs = np.sign(w[idx[pen]])
    eye = np.eye(w.shape[0])
    H = None
    for _ in range(max_steps):
        g = datafit.gradient(design, y, w)[idx]
        g[pen] += l1[idx[pen]] * signs + l2[idx[pen]] * w[idx[pen]]
        H = np.column_stack([datafit.hessp(design, y, w, eye[j])[idx] for j in idx])
        H[np.flatnonzero(pen), np.flatnonzero(pen)] += l2[idx[pen]]
        d = np.linalg.solve(H, -g)
        w[idx] += d
        if np.linalg.norm(d) <= 1e-15 * max(1.0, np.linalg.norm(w)):
            break
    if not np.array_equal(np.sign(w[idx[pen]]), signs):
        raise RuntimeError("polishing changed the signs of the support")
    return w, idx, H


def reference(pb):
    """Exact solution and hypergradient, with the checks of the module docstring."""
    pgmap, lam = pb.pgmap, pb.lam
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sol = CoordinateDescent(tol=1e-14, max_iter=10_000).solve(pgmap, lam)
    res_cd = pgmap.residual(sol.w, lam)
    w, idx, H = polish(pgmap, lam, sol.w)
    res_w = pgmap.residual(w, lam)
    cg = AIDConjugateGradient(tol=1e-14, max_iter=100_000, direct=False).hypergradient(
        pgmap, lam, w, pb.outer.grad)
    g_ref = cg.grad
    # closed form: (H_SS + lam2 P) u = grad C_S, dE/dlam1 = -sign(w_S).u, dE/dlam2 = -w_S.u
    u = np.linalg.solve(H, pb.outer.grad(w)[idx])
    pen = idx < pgmap.n_features
    closed = np.array([-np.sign(w[idx[pen]]) @ u[pen], -w[idx[pen]] @ u[pen]])
    fp = AIDFixedPoint(tol=1e-14, max_iter=1_000_000).hypergradient(
        pgmap, lam, w, pb.outer.grad)
    q = contraction_factor(pgmap, lam, w)
    nrm = np.linalg.norm(g_ref)
    return dict(w=w, grad=g_ref, support=w[: pgmap.n_features] != 0, q=q,
                n_support=int(np.count_nonzero(w[: pgmap.n_features])),
                cg_iter=int(cg.n_iter), residual_cd=res_cd, residual=res_w,
                err_closed=float(np.linalg.norm(closed - g_ref) / nrm),
                err_fp=float(np.linalg.norm(fp.grad - g_ref) / nrm), fp_iter=int(fp.n_iter))


# -- timing -----------------------------------------------------------------------------
def timed(fn, repeat, batch=2e-3, once_above=None):
    """``(seconds, result)``: best over ``repeat`` batches of the mean time of one call.

    Calls faster than ``batch`` seconds are run in batches lasting about
    ``batch`` seconds (as :mod:`timeit` does; the batch size from the second
    call, the first one warming caches up), so that sub-millisecond
    timings are not dominated by noise; a first call slower than
    ``once_above`` seconds is not repeated.
    """
    t0 = time.perf_counter()
    out = fn()
    first = time.perf_counter() - t0
    if once_above is not None and first > once_above:
        return first, out
    t0 = time.perf_counter()  # the batch size from a second call: the first one warms up
    fn()
    second = time.perf_counter() - t0
    number = max(1, int(np.ceil(batch / max(second, 1e-7))))
    best = min(first, second)
    for _ in range(max(1, repeat)):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t0) / number)
    return best, out


def timed_in_turns(fns, repeat, batch=2e-3):
    """``[(seconds, result), ...]`` of :func:`timed` for each function, their batches
    run in turns (one batch of each per round, ``repeat`` rounds)."""
    out, numbers = [], []
    for fn in fns:
        t0 = time.perf_counter()
        result = fn()
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        fn()
        second = time.perf_counter() - t0
        numbers.append(max(1, int(np.ceil(batch / max(second, 1e-7)))))
        out.append([min(first, second), result])
    for _ in range(max(1, repeat)):
        for k, fn in enumerate(fns):
            t0 = time.perf_counter()
            for _ in range(numbers[k]):
                fn()
            out[k][0] = min(out[k][0], (time.perf_counter() - t0) / numbers[k])
    return [tuple(o) for o in out]


def grid(T, n_lin=30, n_log=20, start=1):
    """Iteration counts in [start, T]: linear and log spaced, unique, sorted."""
    decades = 10 ** np.arange(0, 7)
    pts = np.concatenate([np.linspace(start, T, n_lin), np.geomspace(start, T, n_log),
                          decades[(decades >= start) & (decades <= T)]])
    return np.unique(np.round(pts).astype(int))


def rel_err(g, g_ref):
    return max(float(np.linalg.norm(np.asarray(g) - g_ref) / np.linalg.norm(g_ref)), FLOOR)


def ista_path(pgmap, lam, T, ts, support, repeat):
    """ITD iterates: ``{t: w_t}`` on ``ts``, cumulative seconds, support-identification t.

    Returns the first t with ``supp(w_t) == supp(w*)`` and the first t after
    which it stays equal up to T (None when never).
    """
    keep = set(int(t) for t in ts)
    best = None
    for _ in range(max(1, repeat)):
        w = pgmap.design.zeros()
        iterates, secs = {}, {}
        elapsed = 0.0
        for t in range(1, T + 1):
            t0 = time.perf_counter()
            w = pgmap.apply(w, lam)
            elapsed += time.perf_counter() - t0
            if t in keep:
                iterates[t], secs[t] = w.copy(), elapsed
        if best is None or elapsed < best[2]:
            best = (iterates, secs, elapsed)
    iterates, secs, _ = best
    w = pgmap.design.zeros()
    first, stable = None, None
    p = pgmap.n_features
    for t in range(1, T + 1):
        w = pgmap.apply(w, lam)
        same = np.array_equal(w[:p] != 0, support)
        if same and first is None:
            first = t
        if same and stable is None:
            stable = t
        elif not same:
            stable = None
    return iterates, secs, first, stable


# -- the curves -------------------------------------------------------------------------
def run_problem(pb, ref, args):
    pgmap, lam, og, g_ref = pb.pgmap, pb.lam, pb.outer.grad, ref["grad"]
    curves = {}

    def add(name, iters, secs, errs):
        curves[name] = dict(iters=[int(i) for i in iters], secs=[float(s) for s in secs],
                            errs=[float(e) for e in errs])

    ts = grid(pb.T)
    for mode, name in (("forward", "itd"), ("reverse", "itd-reverse")):
        secs, errs = [], []
        for t in ts:
            eng = ITD(n_iter=int(t), mode=mode)
            s, res = timed(lambda: eng.hypergradient(pgmap, lam, None, og), args.repeat,
                           once_above=1.0)
            secs.append(s)
            errs.append(rel_err(res.grad, g_ref))
        add(name, ts, secs, errs)

    w_star = ref["w"]
    secs, errs = [], []
    for k in ts:
        eng = AIDFixedPoint(tol=0.0, max_iter=int(k))
        s, res = timed(lambda: eng.hypergradient(pgmap, lam, w_star, og), args.repeat,
                           once_above=1.0)
        secs.append(s)
        errs.append(rel_err(res.grad, g_ref))
    add("aid-fp", ts, secs, errs)

    iterates, ista_secs, t_supp, t_stable = ista_path(pgmap, lam, pb.T, ts, ref["support"],
                                                      args.repeat)
    secs, errs = [], []
    for t in ts:
        eng = AIDFixedPoint(tol=0.0, max_iter=int(t))
        w_t = iterates[int(t)]
        s, res = timed(lambda: eng.hypergradient(pgmap, lam, w_t, og), args.repeat,
                           once_above=1.0)
        secs.append(s + ista_secs[int(t)])
        errs.append(rel_err(res.grad, g_ref))
    add("aid-fp k=t @ w_t", ts, secs, errs)

    ks = np.arange(1, ref["cg_iter"] + 3)
    secs, errs = [], []
    for k in ks:
        eng = AIDConjugateGradient(tol=0.0, max_iter=int(k), direct=False)
        s, res = timed(lambda: eng.hypergradient(pgmap, lam, w_star, og), args.repeat,
                           once_above=1.0)
        secs.append(s)
        errs.append(rel_err(res.grad, g_ref))
    add("aid-cg", ks, secs, errs)

    decades = 10 ** np.arange(1, 7)
    Ks = np.unique(np.concatenate([np.round(np.geomspace(10, pb.K_max, args.n_nsid)),
                                   decades[decades <= pb.K_max]]).astype(int))
    for biased, name in ((False, "nsid"), (True, "sid (biased)")):
        secs, errs = [], []
        for K in Ks:
            s_all, e_all = [], []
            for seed in range(args.seeds):
                eng = NSID(n_samples=int(K), batch_size=args.batch_size, contraction=ref["q"],
                           random_state=seed, biased=biased)
                t0 = time.perf_counter()
                res = eng.hypergradient(pgmap, lam, w_star, og)
                s_all.append(time.perf_counter() - t0)
                e_all.append(rel_err(res.grad, g_ref))
            secs.append(np.mean(s_all))
            errs.append(np.mean(e_all))
        add(name, Ks, secs, errs)
    return curves, t_supp, t_stable


# -- cost of aid-cg relative to an inner solve ------------------------------------------
def cost_problems(quick):
    """``(name, pgmap, lam, outer)`` for the cost-ratio table."""
    pb = enet_problem(np.array([0.02, 0.002]), 0, 0)
    yield "enet seed (100 x 100)", pb.pgmap, pb.lam, pb.outer
    n, p, n_val = (1000, 400, 200) if quick else (5000, 2000, 1000)
    X, coef, rng = seed_design(n + n_val, p, 100, seed=1)
    y = X @ coef + 0.1 * rng.standard_normal(n + n_val)
    Xtr, Xva = np.asfortranarray(X[:n]), X[n:]
    pgmap = ProxGradMap(Quadratic(), ElasticNetPenalty(), Xtr, y[:n])
    lmax = np.max(np.abs(Xtr.T @ y[:n])) / n
    yield (f"enet large ({n} x {p})", pgmap, np.array([lmax / 20, lmax / 200]),
           heldout("mse", Xva, y[n:], False))
    X, y, rng = logistic_data(n + n_val, p, 100, seed=2)
    Xtr = np.asfortranarray(X[:n])
    pgmap = ProxGradMap(Logistic(), ElasticNetPenalty(), Xtr, y[:n], fit_intercept=True)
    lmax = np.max(np.abs(Xtr.T @ (y[:n] - y[:n].mean()))) / (2 * n)
    yield (f"logistic large ({n} x {p})", pgmap, np.array([lmax / 10, lmax / 100]),
           heldout("logloss", X[n:], y[n:], True))


def cost_ratios(quick, repeat):
    rows = []
    for name, pgmap, lam, outer in cost_problems(quick):
        # a fresh map, to time the first aid-cg call (which computes the Lipschitz constant)
        fresh = ProxGradMap(pgmap.datafit, pgmap.penalty, pgmap.design.X, pgmap.y,
                            fit_intercept=pgmap.design.fit_intercept)
        cd = CoordinateDescent(tol=1e-8)
        near = cd.solve(pgmap, 1.1 * lam)  # the previous outer step's solution
        sol = cd.solve(pgmap, lam)
        eng = AIDConjugateGradient()
        t0 = time.perf_counter()
        eng.hypergradient(fresh, lam, sol.w, outer.grad)
        t_first = time.perf_counter() - t0
        prev = eng.hypergradient(pgmap, 1.1 * lam, near.w, outer.grad)
        # the two sides of the ratios timed in turns: a busy spell of the machine
        # slows both, not one
        (t_cold, sol), (t_warm, _), (t_cg, res) = timed_in_turns(
            [lambda: cd.solve(pgmap, lam), lambda: cd.solve(pgmap, lam, near.w),
             lambda: eng.hypergradient(pgmap, lam, sol.w, outer.grad)], repeat)
        t_og, _ = timed(lambda: outer.grad(sol.w), repeat)
        loose = AIDConjugateGradient(tol=1e-6)
        t_loose, res_l = timed(lambda: loose.hypergradient(pgmap, lam, sol.w, outer.grad), repeat)
        t_cg_warm, res_w = timed(
            lambda: eng.hypergradient(pgmap, lam, sol.w, outer.grad, state=prev.state),
            repeat)
        rows.append(dict(problem=name, n=pgmap.n_samples, p=pgmap.n_features,
                         support=int(np.count_nonzero(sol.w[: pgmap.n_features])),
                         solve_cold=t_cold, solve_warm=t_warm, epochs_cold=int(sol.n_iter),
                         aidcg=t_cg, outer_grad=t_og, aidcg_iter=int(res.n_iter),
                         aidcg_warm=t_cg_warm,
                         aidcg_warm_iter=int(res_w.n_iter), aidcg_first=t_first,
                         aidcg_1e6=t_loose, aidcg_1e6_iter=int(res_l.n_iter),
                         ratio_cold=t_cg / t_cold, ratio_warm=t_cg / t_warm))
    return rows


# -- output -----------------------------------------------------------------------------
STYLES = {
    "itd": dict(color="C0", ls="-"),
    "itd-reverse": dict(color="C9", ls="--"),
    "aid-fp": dict(color="C1", ls="-"),
    "aid-fp k=t @ w_t": dict(color="C1", ls=":"),
    "aid-cg": dict(color="C2", ls="-", marker=".", ms=3),
    "nsid": dict(color="C3", ls="-", marker="o", ms=3),
    "sid (biased)": dict(color="C7", ls=":", marker="x", ms=3),
}
LABELS = {
    "itd": "itd (forward), t ISTA steps from 0",
    "itd-reverse": "itd-reverse",
    "aid-fp": "aid-fp, k adjoint steps at w*",
    "aid-fp k=t @ w_t": "aid-fp, k = t at ITD iterate w_t (time incl. ISTA)",
    "aid-cg": "aid-cg, k CG steps at w*",
    "nsid": "nsid at w*, K minibatches (mean of seeds)",
    "sid (biased)": "sid (biased baseline)",
}


def plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(results)
    fig, axes = plt.subplots(n, 2, figsize=(14, 4.3 * n), squeeze=False)
    for row, r in zip(axes, results):
        for name, c in r["curves"].items():
            kw = dict(STYLES[name], lw=1.4)
            row[0].plot(c["iters"], c["errs"], label=LABELS[name], **kw)
            row[1].plot(c["secs"], c["errs"], label=LABELS[name], **kw)
        if r["t_supp"] is not None:
            row[0].axvline(r["t_supp"], color="k", ls=":", lw=1)
            row[0].annotate(f"supp(w_t) = supp(w*)\nfirst at t = {r['t_supp']}",
                            (r["t_supp"], 0.02), xycoords=("data", "axes fraction"),
                            xytext=(4, 0), textcoords="offset points", fontsize=8)
        else:
            row[0].annotate(f"supp(w_t) != supp(w*)\nfor all t <= {r['T']}", (0.99, 0.02),
                            xycoords="axes fraction", ha="right", fontsize=8)
        off = [f"{name} (max {max(c['errs']):.1e})" for name, c in r["curves"].items()
               if max(c["errs"]) > YMAX]
        off = f"\nabove the plotted range: {', '.join(off)}" if off else ""
        for ax in row:
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_ylim(FLOOR * 0.5, YMAX)
            ax.grid(True, which="major", alpha=0.3)
            ax.set_ylabel("relative error of the hypergradient")
        row[0].set_xlabel("iterations (ITD: t; AID: adjoint k; NSID: minibatches K)")
        row[1].set_xlabel("seconds (AID, NSID at w*: engine only, inner solve excluded)")
        row[0].set_title(r["title"] + off, fontsize=9, loc="left")
        row[1].set_title(f"{r['name']}: |supp w*| = {r['ref']['n_support']}, contraction q = "
                         f"{r['ref']['q']:.4f}\ninner solve (CD, tol 1e-8, from 0) "
                         f"{r['solve_time'] * 1e3:.2f} ms, not included", fontsize=9, loc="left")
        row[0].legend(fontsize=7.5, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def checkpoints(iters):
    """Indices of the points at 10, 100, 1000, ... iterations (or just below) and of the last."""
    iters = np.asarray(iters)
    out = []
    for v in 10 ** np.arange(0, 7):
        if iters[0] <= v <= iters[-1]:
            out.append(int(np.flatnonzero(iters <= v)[-1]))
    out.append(len(iters) - 1)
    return sorted(set(out))


def first_below(c, thr):
    idx = np.flatnonzero(np.asarray(c["errs"]) <= thr)
    if idx.size == 0:
        return "-"
    i = idx[0]
    return f"{c['iters'][i]} / {c['secs'][i] * 1e3:.2f} ms"


def report(results, cost_rows, out):
    for r in results:
        ref = r["ref"]
        out(f"\n== {r['name']}: {r['title'].replace(chr(10), '; ')}")
        out(f"reference: |supp w*| = {ref['n_support']}, contraction q = {ref['q']:.5f}, "
            f"fixed-point residual {ref['residual_cd']:.1e} after CD (tol 1e-14), "
            f"{ref['residual']:.1e} after polishing; aid-cg {ref['cg_iter']} its; "
            f"|g_ref - closed form| / |g_ref| = {ref['err_closed']:.1e}, "
            f"|g_ref - aid-fp(tol 1e-14, {ref['fp_iter']} its)| / |g_ref| = "
            f"{ref['err_fp']:.1e}")
        if r["t_supp"] is None:
            supp = f"supp(w_t) never equals supp(w*) for t <= {r['T']}"
        else:
            supp = (f"supp(w_t) first equals supp(w*) at t = {r['t_supp']}, "
                    f"stays equal from t = {r['t_stable']}")
        out(f"g_ref (d/dlam1, d/dlam2) = {np.array2string(np.asarray(ref['grad']), precision=6)}; "
            f"ITD iterates: {supp}")
        out(f"inner solve (CoordinateDescent tol 1e-8, from 0): {r['solve_time'] * 1e3:.2f} ms "
            "(not included in the aid-fp / aid-cg / nsid seconds)")
        header = f"{'engine':<20}{'iterations':>11}{'seconds':>12}{'rel. error':>12}"
        out(header)
        out("-" * len(header))
        for name, c in r["curves"].items():
            for i in checkpoints(c["iters"]):
                out(f"{name:<20}{c['iters'][i]:>11d}{c['secs'][i]:>12.5f}{c['errs'][i]:>12.2e}")
        out("\nfirst point below a relative error (iterations / time):")
        header = f"{'engine':<20}{'<= 1e-2':>22}{'<= 1e-4':>22}{'<= 1e-8':>22}"
        out(header)
        out("-" * len(header))
        for name, c in r["curves"].items():
            out(f"{name:<20}"
                + "".join(f"{first_below(c, thr):>22}" for thr in (1e-2, 1e-4, 1e-8)))

    out("\n== cost of one aid-cg hypergradient (tol 1e-10) relative to one inner solve "
        "(CoordinateDescent, tol 1e-8); target <= 0.2")
    header = (f"{'problem':<28}{'|S|':>5}{'CD cold ms':>11}{'CD warm ms':>11}{'aid-cg ms':>10}"
              f"{'(its)':>6}{'gradC ms':>9}{'warm-v ms':>10}{'1st call ms':>12}"
              f"{'tol 1e-6 ms':>12}{'(its)':>6}{'cg/cold':>8}{'cg/warm':>8}")
    out(header)
    out("-" * len(header))
    for c in cost_rows:
        out(f"{c['problem']:<28}{c['support']:>5}{c['solve_cold'] * 1e3:>11.2f}"
            f"{c['solve_warm'] * 1e3:>11.2f}{c['aidcg'] * 1e3:>10.2f}{c['aidcg_iter']:>6}"
            f"{c['outer_grad'] * 1e3:>9.2f}"
            f"{c['aidcg_warm'] * 1e3:>10.2f}{c['aidcg_first'] * 1e3:>12.1f}"
            f"{c['aidcg_1e6'] * 1e3:>12.2f}{c['aidcg_1e6_iter']:>6}"
            f"{c['ratio_cold']:>8.2f}{c['ratio_warm']:>8.2f}")
    out("CD warm: started at the solution for 1.1 lam; aid-cg: one hypergradient at the CD "
        "solution, the held-out loss's gradient included (gradC: the\nwhole gradient alone; "
        "aid-cg reads it on the support only when |S| < p / 4); warm-v: aid-cg started from "
        "the adjoint at 1.1 lam; 1st call: aid-cg on a fresh map (computes the Lipschitz "
        "constant);\ntol 1e-6: aid-cg(tol=1e-6); cg/cold, cg/warm: aid-cg ms over CD cold / "
        "warm ms.")


def warm_numba():
    """Compile (or load from cache) every kernel used below, outside the timings."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 8))
    for datafit, y, fi in ((Quadratic(), rng.standard_normal(30), False),
                           (Logistic(), np.sign(rng.standard_normal(30)), True)):
        pgmap = ProxGradMap(datafit, ElasticNetPenalty(), X, y, fit_intercept=fi)
        lam = np.array([0.01, 0.01])
        w = CoordinateDescent().solve(pgmap, lam).w
        grad = lambda v: np.ones_like(v)  # noqa: E731
        for eng in (ITD(n_iter=3), ITD(n_iter=3, mode="reverse"), AIDFixedPoint(),
                    AIDConjugateGradient(), NSID(n_samples=3, batch_size=5, random_state=0),
                    NSID(n_samples=3, batch_size=5, random_state=0, biased=True)):
            eng.hypergradient(pgmap, lam, w, grad)


def main():
    always_compile()  # the compiled kernels timed, never their Python runs
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="short runs: fewer iterations, seeds and smaller cost problems")
    parser.add_argument("--repeat", type=int, default=3, help="timing repeats (best of)")
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads")
    parser.add_argument("--seeds", type=int, default=None, help="NSID seeds (5; quick 2)")
    parser.add_argument("--batch-size", type=int, default=10, help="NSID minibatch size")
    parser.add_argument("--n-nsid", type=int, default=12, help="points on the NSID curve")
    parser.add_argument("--step", choices=("lipschitz", "seed"), default="lipschitz",
                        help="step of the least-squares maps: the library's 1/L, or the seed "
                             "paper's 2/(L + mu + 2 lam2) (logistic: always 1/L)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="output directory")
    args = parser.parse_args()
    if args.seeds is None:
        args.seeds = 2 if args.quick else 5
    with threadpool_limits(args.threads):
        run(args)


def run(args):
    t_start = time.perf_counter()
    args.out.mkdir(parents=True, exist_ok=True)
    lines = []

    def out(s=""):
        print(s, flush=True)
        lines.append(s)

    warm_numba()
    if args.quick:
        problems = [enet_problem([0.02, 0.002], T=200, K_max=1000, step=args.step),
                    logistic_problem([0.01, 0.002], T=300, K_max=1000)]
    else:
        problems = [enet_problem([0.02, 0.002], T=500, K_max=5000, step=args.step),
                    enet_problem([0.002, 0.002], T=1000, K_max=5000, step=args.step),
                    logistic_problem([0.01, 0.002], T=1000, K_max=5000)]
    results = []
    for pb in problems:
        ref = reference(pb)
        solve_time, _ = timed(lambda: CoordinateDescent(tol=1e-8).solve(pb.pgmap, pb.lam),
                              args.repeat)
        curves, t_supp, t_stable = run_problem(pb, ref, args)
        results.append(dict(name=pb.name, title=pb.title, ref=ref, curves=curves, T=pb.T,
                            t_supp=t_supp, t_stable=t_stable, solve_time=solve_time))
        print(f"[{pb.name} done, {time.perf_counter() - t_start:.1f} s]", flush=True)
    cost_rows = cost_ratios(args.quick, max(args.repeat, 7))  # best of 7 at least
    report(results, cost_rows, out)

    stem = "bench_hypergrad" + ("_quick" if args.quick else "") + \
        ("_seedstep" if args.step == "seed" else "")
    png = args.out / f"{stem}.png"
    plot(results, png)
    summary = [dict(name=r["name"], title=r["title"], T=r["T"], t_supp=r["t_supp"],
                    t_stable=r["t_stable"], solve_time=r["solve_time"], curves=r["curves"],
                    ref={k: (v.tolist() if isinstance(v, np.ndarray) else v)
                         for k, v in r["ref"].items() if k not in ("w", "support")})
               for r in results]
    (args.out / f"{stem}.json").write_text(
        json.dumps(dict(problems=summary, cost=cost_rows, quick=args.quick), indent=1))
    (args.out / f"{stem}.txt").write_text("\n".join(lines) + "\n")
    out(f"\nplot: {png}\ntotal {time.perf_counter() - t_start:.1f} s")


if __name__ == "__main__":
    main()
