r"""The search loop shared by every estimator and by :class:`HyperGradSearchCV`.

:func:`tune` minimizes a criterion :math:`E(\lambda)` over :math:`\theta = \log\lambda`
with an outer optimizer (:mod:`skhypergrad.optimizers`). Each evaluation solves
the inner problems (warm-started from the previous evaluation) to the accuracy
the optimizer asks for, and differentiates them with the chosen engine.
"""

import copy
import time
from functools import partial
from typing import Any, NamedTuple

import numpy as np

from .hypergrad import get_engine
from .optimizers import minimize

__all__ = ["TuneResult", "tune"]


class TuneResult(NamedTuple):
    """Outcome of :func:`tune`.

    Attributes
    ----------
    lam : ndarray
        Best hyperparameters found.
    value : float
        Criterion there.
    history : list of dict
        One entry per criterion evaluation: ``lam``, ``value``, ``grad`` (in
        ``log lam``), ``values`` (per fold), ``n_iter_inner``, ``n_iter_engine``,
        ``engine_residual`` (the largest final residual of the engine over the
        inner problems, nan without a gradient), ``tol``, ``seconds``, ``best``,
        ``partial`` (True for the starting scan's entries evaluated on a subset of
        the folds).
    n_iter : int
        Outer steps.
    n_evals : int
        Criterion evaluations (each solves every fold's inner problem once).
    converged : bool
    state : tuple
        Warm starts of the inner problems at the last evaluation.
    """

    lam: np.ndarray
    value: float
    history: list
    n_iter: int
    n_evals: int
    converged: bool
    state: Any


def _with_tol(obj, tol):
    """A copy of a solver / engine with its ``tol`` set (objects without ``tol`` as they are)."""
    if obj is None or not hasattr(obj, "tol"):
        return obj
    obj = copy.copy(obj)
    obj.tol = tol
    return obj


def tune(model, X, y, criterion, lam0, *, bounds=None, optimizer="gd", engine="aid-cg",
         solver=None, max_iter=50, tol=1e-4, inner_tol=(1e-4, 1e-8), candidates=None,
         callback=None, verbose=0):
    r"""Minimize ``criterion`` over the hyperparameters of ``model`` from ``lam0``.

    Parameters
    ----------
    model : InnerModel
        Bound to the targets (see :meth:`~skhypergrad.models.InnerModel.bind`).
    X, y : the data the criterion trains on (``y`` as the user gave it).
    criterion : HeldOut, CrossVal or SURE
    lam0 : ndarray
        Starting hyperparameters (> 0).
    bounds : (ndarray, ndarray) or None
        Bounds on ``lam`` (> 0); the search runs on their logs.
    optimizer : str or optimizer instance, default="gd"
    engine : str or engine instance, default="aid-cg"
    solver : solver instance
        Inner solver; its ``tol`` follows the inexactness schedule, and the
        engine's is ``engine.search_tol`` of it (the same for the deterministic
        engines, NSID's own ``tol`` for NSID).
    max_iter, tol, inner_tol, callback
        See :func:`skhypergrad.optimizers.minimize`.
    candidates : ndarray of shape (n_candidates, n_hyper) or list of them, default=None
        Paths of points (from strong to weak regularization) whose criterion
        values (no gradient) are computed first, in order; a path is left once
        its values rise past its minimum. They are computed in order
        and warm-started one from the other, at the looser inner tolerance and, for
        :class:`~skhypergrad.criteria.CrossVal`, on the first fold only (their
        history entries have ``partial=True``; they only choose the start and are
        not compared with the full criterion); the descent then starts from the best
        of them instead of ``lam0`` (from the vertex of the parabola through it and
        its two neighbours, in log-space, when they lie on one geometric path; after
        a scan on one fold, whichever of the two is better on every fold). A
        coarse path from strong to weak regularization
        steers the descent to the right basin of a criterion with several local
        minima, at the cost of a few cheap solves.
    verbose : int, default=0
        Print one line per criterion evaluation when > 0.

    Returns
    -------
    TuneResult
    """
    engine = get_engine(engine)
    last_state = [None]
    t0 = time.perf_counter()

    def objective(theta, tol_k):
        lam = np.exp(theta)
        res = criterion.value_and_grad(model, X, y, lam, solver=_with_tol(solver, tol_k),
                                       engine=_with_tol(engine, engine.search_tol(tol_k)),
                                       state=last_state[0])
        last_state[0] = res.state
        info = {"lam": lam, "values": res.values, "n_iter_inner": int(np.sum(res.n_iter)),
                "n_iter_engine": int(np.sum(res.n_iter_engine)),
                "engine_residual": _largest(res.engine_residual), "_state": res.state}
        if verbose:
            print(f"[{type(criterion).__name__}] eval {len(history_len) + 1:3d}  "
                  f"lam={np.array2string(lam, precision=4, threshold=4)}  "
                  f"value={res.value:.6g}  ({time.perf_counter() - t0:.2f}s)", flush=True)
        history_len.append(1)
        return res.value, res.grad, info

    history_len = []
    scan = []
    if candidates is not None and len(candidates):
        lam0, scan = _scan(model, X, y, criterion, lam0, candidates, solver, inner_tol[0],
                           last_state, t0, callback)
    partial_scan = any(h["partial"] for h in scan)
    if partial_scan and not scan[-1].get("stop", False):
        lam0, stop = _full_start(model, X, y, criterion, lam0, scan, solver, inner_tol[0],
                                 last_state, t0, callback)
        if stop:
            best = min((h for h in scan if not h["partial"]), key=lambda h: h["value"])
            return TuneResult(best["lam"], best["value"], scan, 0, len(scan), True,
                              last_state[0])
    if scan and scan[-1].pop("stop", False):
        best = min(scan, key=lambda h: h["value"])
        if partial_scan:  # the whole criterion at the chosen point, as the last entry
            res = criterion.value(model, X, y, best["lam"],
                                  solver=_with_tol(solver, inner_tol[1]), state=last_state[0])
            last_state[0] = res.state
            best = {**best, "value": float(res.value), "values": res.values,
                    "n_iter_inner": int(np.sum(res.n_iter)), "tol": inner_tol[1],
                    "seconds": time.perf_counter() - t0, "best": True, "partial": False}
            scan.append(best)
        return TuneResult(best["lam"], best["value"], scan, 0, len(scan), True, last_state[0])
    log_bounds = None if bounds is None else (np.log(bounds[0]), np.log(bounds[1]))
    # the optimizer's clock starts now: its entries' seconds count from tune's start
    as_entry = partial(_outer_entry, offset=time.perf_counter() - t0)
    outer_callback = None if callback is None else (lambda h: callback(as_entry(h)))
    out = minimize(objective, np.log(lam0), optimizer=optimizer, bounds=log_bounds,
                   max_iter=max_iter, tol=tol, inner_tol=inner_tol, callback=outer_callback)
    history = scan + [as_entry(h) for h in out.history]
    # the best point seen: scan entries on the whole criterion count, one-fold ones do not
    best_scan = min((h for h in scan if not h["partial"]), key=lambda h: h["value"],
                    default=None)
    if best_scan is not None and best_scan["value"] < out.value:
        return TuneResult(best_scan["lam"], best_scan["value"], history, out.n_iter,
                          len(history), out.converged, out.info["_state"])
    return TuneResult(np.exp(out.theta), out.value, history, out.n_iter, len(history),
                      out.converged, out.info["_state"])


def _largest(residuals):
    """The largest residual (nan if any is nan: an engine that could not tell)."""
    residuals = np.asarray(residuals, dtype=np.float64)
    return float(np.max(residuals)) if residuals.size else np.nan


def _outer_entry(h, offset):
    """An optimizer's history entry as a tune entry: no ``theta``, seconds since tune's start."""
    entry = {k: v for k, v in h.items() if k != "theta"}
    entry["seconds"] = h["seconds"] + offset
    entry["partial"] = False
    return entry


def _scan(model, X, y, criterion, lam0, candidates, solver, tol, last_state, t0, callback):
    """Criterion values along ``candidates``: the best of them and the history entries."""
    scan = []
    best_lam, best_value = lam0, np.inf
    solver = _with_tol(solver, tol)
    # on cross-validation, one fold is enough to choose where to start
    on_subset = hasattr(criterion, "value_on_folds")
    evaluate = partial(criterion.value_on_folds, folds=[0]) if on_subset else criterion.value
    paths = [np.atleast_2d(candidates)] if isinstance(candidates, np.ndarray) \
        else [np.atleast_2d(path) for path in candidates]
    for path in paths:
        path_best = np.inf
        for lam in path:
            res = evaluate(model, X, y, lam, solver=solver, state=last_state[0])
            last_state[0] = res.state
            improved = res.value < best_value
            if improved:
                best_lam, best_value = lam, res.value
            entry = {"lam": np.array(lam, dtype=np.float64), "value": float(res.value),
                     "grad": None, "tol": tol, "seconds": time.perf_counter() - t0,
                     "best": improved, "values": res.values, "partial": on_subset,
                     "n_iter_inner": int(np.sum(res.n_iter)), "n_iter_engine": 0,
                     "engine_residual": np.nan}
            scan.append(entry)
            if callback is not None and callback(entry):
                entry["stop"] = True
                return _parabolic_start(scan, best_lam), scan
            if res.value > path_best and len(scan) > 1 and res.value > scan[-2]["value"]:
                break  # past the path's minimum: the rest of the path is weaker and worse
            path_best = min(path_best, res.value)
    return _parabolic_start(scan, best_lam), scan


def _full_start(model, X, y, criterion, vertex, scan, solver, tol, last_state, t0, callback):
    """The better, on the whole criterion, of the best partial scan point and ``vertex``.

    A scan on one fold picks the basin; its parabola may step out of it when the
    criterion has several local minima, so both points are checked on every
    fold (at the scan's tolerance) and their entries added to ``scan``.
    Returns the point and whether ``callback`` asked to stop.
    """
    best_lam = min(scan, key=lambda h: h["value"])["lam"]
    points = [best_lam] if np.allclose(vertex, best_lam) else [best_lam, vertex]
    solver = _with_tol(solver, tol)
    best, stop = None, False
    for lam in points:
        res = criterion.value(model, X, y, lam, solver=solver, state=last_state[0])
        last_state[0] = res.state
        improved = best is None or res.value < best["value"]
        entry = {"lam": np.array(lam, dtype=np.float64), "value": float(res.value),
                 "grad": None, "tol": tol, "seconds": time.perf_counter() - t0,
                 "best": improved, "values": res.values, "partial": False,
                 "n_iter_inner": int(np.sum(res.n_iter)), "n_iter_engine": 0,
                 "engine_residual": np.nan}
        best = entry if improved else best
        scan.append(entry)
        if callback is not None and callback(entry):
            stop = True
            break
    return best["lam"], stop


def _parabolic_start(scan, best_lam):
    r"""Vertex of the parabola through the best scan point and its neighbours.

    With the neighbours at :math:`\log\lambda_k \mp d` (one geometric path) and
    values :math:`v_-, v_0, v_+`, the vertex is at :math:`s^* d`,
    :math:`s^* = (v_- - v_+) / (2 (v_- - 2 v_0 + v_+)) \in [-1/2, 1/2]`.
    Otherwise (an end point, another path) the best point itself.
    """
    values = [h["value"] for h in scan]
    k = int(np.argmin(values))
    if not 0 < k < len(scan) - 1:
        return best_lam
    logs = [np.log(scan[i]["lam"]) for i in (k - 1, k, k + 1)]
    d = logs[2] - logs[1]
    if not np.allclose(logs[1] - logs[0], d):
        return best_lam
    v_minus, v0, v_plus = values[k - 1], values[k], values[k + 1]
    curvature = v_minus - 2.0 * v0 + v_plus
    if not (np.isfinite(curvature) and curvature > 0):
        return best_lam
    return np.exp(logs[1] + (v_minus - v_plus) / (2.0 * curvature) * d)
