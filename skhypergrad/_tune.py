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

from ._path_scan import _scan, _with_tol
from ._progress import Progress
from ._region import as_region
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
        inner problems, nan without a gradient), ``tol`` (the inner relative gap; inf
        for a point of a ``scan_solver``), ``seconds``, ``best``.
        Every entry is a value of the whole criterion; the best one is at the final
        inner accuracy (evaluated again, with ``refined=True``, when it was first
        evaluated at a looser one).
    n_iter : int
        Outer steps.
    n_evals : int
        Criterion evaluations (each solves every fold's inner problem once).
    converged : bool
        Whether the search ended on its stopping rule (or the callback), not on ``max_iter``.
    state : tuple
        Warm starts of the inner problems at the last evaluation.
    criterion : criterion or None
        The criterion searched, with what it kept between evaluations (e.g. the folds'
        Gram matrices, whose sums a refit on all the rows reads: see
        :meth:`~skhypergrad.criteria.BaseCriterion.whole_gram`); None when not given.
    """

    lam: np.ndarray
    value: float
    history: list
    n_iter: int
    n_evals: int
    converged: bool
    state: Any
    criterion: Any = None
    #: when not converged, the relative decrease of the best value that the stopping rule
    #: compares with ``tol`` (see :class:`~skhypergrad.optimizers.OuterResult`)
    decrease: float = np.nan


def tune(model, X, y, criterion, lam0, *, bounds=None, optimizer="gd", engine="aid-cg",
         solver=None, max_iter=50, tol=1e-4, inner_tol=(1e-4, 1e-8), candidates=None,
         monitor=None, callback=None, verbose=0, label="tune", names=None,
         loss_name="CV loss", scan_patience=1.0, scan_solver=None, scan_rank=None,
         scan_back=None, scan_below=None):
    r"""Minimize ``criterion`` over the hyperparameters of ``model`` from ``lam0``.

    Parameters
    ----------
    model : InnerModel
        Bound to the targets (see :meth:`~skhypergrad.models.InnerModel.bind`).
    X, y : the data the criterion trains on (``y`` as the user gave it).
    criterion : HeldOut, CrossVal or SURE
    lam0 : ndarray
        Starting hyperparameters (> 0).
    bounds : (ndarray, ndarray), region or None
        Bounds on ``lam`` (> 0), or its feasible region (:mod:`skhypergrad._region`:
        the descent's points are projected onto it); the search runs on their logs.
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
        values (no gradient, every fold) are computed first, at the looser inner
        tolerance; a path is left once its values have stayed above its minimum
        for ``scan_patience`` decades and the last is not below the one before it
        (a path whose values fall again is followed), and the paths once one finds
        no new best value
        and lowers the previous one nowhere near its minimum by more than its own
        minimum rose above the best. Each point is warm-started
        from the previous one of its path (the first one of a path from the first
        one of the previous path). The descent then starts from
        the best of them instead of ``lam0``, warm-started from that point's own
        solutions (its first evaluation then costs about one hypergradient; when the
        scan ran at a looser tolerance, the descent's first point is solved tenfold
        tighter than the scan, the accuracy of its second point) and, when the scan
        ran at the final ``inner_tol``, for one hyperparameter, with a first step from
        the values on either side of it (``around`` of
        :func:`~skhypergrad.optimizers.minimize`). The result is the best point of
        the scan and the descent. A coarse path from strong to weak regularization
        steers the descent to the right basin of a criterion with several local
        minima, at the cost of a few warm-started solves. For one hyperparameter,
        when the descent ends on the other side of the scan's best point than the
        vertex of the parabola through it and its neighbours, a second descent starts
        from that vertex, at the final inner accuracy, and goes on only when its first
        value is below the first descent's (:func:`_other_basin`; not for a criterion
        without kinks, :attr:`~skhypergrad.models.InnerModel.smooth_criterion`).
    monitor : (criterion, X, y), default=None
        Early stopping: a second criterion and its training data, evaluated (value
        only) at every point, entry ``"monitor"`` of the history; the result is the
        point with the smallest ``"monitor"`` instead of the smallest ``"value"``.
        For many hyperparameters (one per feature), which fit the criterion they
        descend: the monitor's validation rows must be rows that criterion never
        sees, neither as validation nor as training rows.
    verbose : int, default=0
        Progress lines (:mod:`skhypergrad._progress`): the scan's start and best
        point, every descent step and the result when >= 1, every point of the
        scan too when >= 2.
    label : str, default="tune"
        The name the progress lines start with (the searching estimator's).
    names : callable, default=None
        ``lam -> {name: value}``: the hyperparameters as the progress lines name them.
    loss_name : str, default="CV loss"
        What the progress lines call the criterion's value.
    scan_patience : float, default=1.0
        Decades of the weight (the first coordinate of ``candidates``) over which the
        first path's values must stay above its minimum before the scan leaves it
        (once they stop falling).
    scan_solver : solver instance, default=None
        The solver of the scan's points (values only), which may stop earlier than
        ``solver`` (e.g. at the user's estimator's own tolerance, see
        :meth:`~skhypergrad.solvers.CoordinateDescent.loosened`): their entries
        get ``tol = inf``; the descent starts from the best one's solutions as a warm
        start, solved again at the final ``inner_tol``, with its neighbours' values
        as ``around`` (their errors, within the user's tolerance, move that first
        step only; the descent's points are then solved at ``inner_tol[1]``), and a
        best point among them is evaluated again at the final ``inner_tol``. None:
        ``solver``, at ``inner_tol[0]``.
    scan_rank : callable, default=None
        ``entry -> float``, smaller is better: a second criterion the scan keeps
        following (the refit scorer, negated, of a search that descends a surrogate of
        it). A path is then left once both its values and its ranks are past their
        minimum (the ranks when none of the last ``scan_patience`` decades is below the
        smallest before), and the paths once one finds neither
        a new best value nor a new best rank. The scan's best point, from which the
        descent starts, is still the one of smallest value. None: the values alone.
    scan_back : ndarray of shape (n_back, n_hyper), default=None
        Points beyond the first point of ``candidates``' first path on its strong side,
        from it outwards, evaluated (each warm-started from the previous one, the first
        from that first point) only when that first point is the best of the scan: the
        scan then goes on the other way, and leaves those points as it leaves the first
        path (past their minimum for ``scan_patience`` decades). A scan can thus start
        near where the minimum usually is and still reach a minimum on its strong side
        a decade a point (for a criterion with one minimum along the path: the GLMs'
        ridge path). None: none.
    scan_below : list of ndarray or None, default=None
        Per path of ``candidates`` (a list of the same length), the points that continue
        it beyond its last point, from strong to weak (or None: none), evaluated only
        when the scan reached that last point, still on the path, with its smallest
        value (or, with ``scan_rank``, its smallest rank) there: the criterion still
        falling. The path then goes on over them, left as before (past its minimum).
        A path can thus end where the minimum usually lies and still reach one below
        it, on data whose plateau reaches further (a column in other units, see
        :meth:`~skhypergrad._search_space.SearchScales.scan_below`). None: none.

    Returns
    -------
    TuneResult
    """
    # one set of workers (and one shipment of the data to them) for the whole search
    with criterion.workers():
        result = _tune(model, X, y, criterion, lam0, bounds=bounds, optimizer=optimizer,
                       engine=engine, solver=solver, max_iter=max_iter, tol=tol,
                       inner_tol=inner_tol, candidates=candidates, monitor=monitor,
                       callback=callback, verbose=verbose, label=label, names=names,
                       loss_name=loss_name, scan_patience=scan_patience,
                       scan_solver=scan_solver, scan_rank=scan_rank, scan_back=scan_back,
                       scan_below=scan_below)
    return result._replace(criterion=criterion)


def _tune(model, X, y, criterion, lam0, *, bounds, optimizer, engine, solver, max_iter,
          tol, inner_tol, candidates, monitor, callback, verbose, label, names, loss_name,
          scan_patience, scan_solver, scan_rank, scan_back, scan_below):
    """:func:`tune` inside the criterion's :meth:`workers` block."""
    engine = get_engine(engine)
    last_state = [None]
    t0 = time.perf_counter()
    progress = Progress(verbose, label, names, loss=loss_name)
    if callback is not None:  # a callback sees copies: nothing it does reaches the search
        user_callback = callback
        callback = lambda h: user_callback(copy.deepcopy(h))  # noqa: E731

    def objective(theta, tol_k):
        lam = np.exp(theta)
        res = criterion.value_and_grad(model, X, y, lam, solver=_with_tol(solver, tol_k),
                                       engine=_with_tol(engine, engine.search_tol(tol_k)),
                                       state=last_state[0])
        extra = {} if monitor is None else {"monitor": watch(lam, tol_k)}
        last_state[0] = res.state
        info = {"lam": lam, "values": res.values, "n_iter_inner": int(np.sum(res.n_iter)),
                "n_iter_engine": int(np.sum(res.n_iter_engine)),
                "engine_residual": _largest(res.engine_residual), "_state": res.state,
                **extra}
        history_len.append(1)
        progress.step(len(history_len), lam, res.value)
        return res.value, res.grad, info

    history_len = []
    scan, around, scan_model = [], None, None
    key, watch = "value", None  # what the result minimizes
    if monitor is not None:
        key, watch = "monitor", _watcher(model, solver, *monitor)
    if candidates is not None and len(candidates):
        loose = scan_solver is not None
        lam0, scan, stop, around, best_state = _scan(
            model, X, y, criterion, candidates, solver if not loose else scan_solver,
            inner_tol[0], last_state, t0, callback, watch, progress, scan_patience,
            np.inf if loose else None, scan_rank, scan_back, scan_below)
        if best_state is not None:
            last_state[0] = best_state  # a warm start; the descent solves to its accuracy
        if around is not None:
            scan_model = (np.log(np.atleast_1d(lam0)), min(h["value"] for h in scan), around)
        scan_loose = inner_tol[0] > inner_tol[1]
        if scan_loose and not loose:
            # the descent's first point is the scan's best one: re-solved from its own
            # solutions at the scan's tolerance it would stop at once, with their error;
            # the descent starts tenfold tighter (the accuracy of its second point)
            inner_tol = (_tighter(*inner_tol), inner_tol[1])
        if scan_loose:
            # solutions at a loose gap: reused as they are, or through a model of the
            # values' differences, they would carry the solves' errors into the descent's
            # points (and, e.g., make them depend on the storage of X, or on weights
            # against repeated rows). A scan_solver's rows are the user's estimator's
            # own records, their values (not their solutions) the neighbours of `around`
            around = None
        if stop:
            best = min(scan, key=lambda h: h[key])
            return TuneResult(best["lam"], best["value"], scan, 0, len(scan), True,
                              last_state[0])
    region = as_region(bounds)
    log_bounds = None if region is None else (np.log(region.lower), np.log(region.upper))
    # the optimizer's clock starts now: its entries' seconds count from tune's start
    as_entry = partial(_outer_entry, offset=time.perf_counter() - t0)
    outer_callback = None if callback is None else (lambda h: callback(as_entry(h)))
    stopped = [False]  # whether the callback stopped the search

    def descent_callback(h):
        stopped[0] = stopped[0] or bool(outer_callback is not None and outer_callback(h))
        return stopped[0]

    out = minimize(objective, np.log(lam0), optimizer=optimizer, bounds=log_bounds,
                   project=None if region is None else region.project, max_iter=max_iter,
                   tol=tol, inner_tol=inner_tol, callback=descent_callback,
                   around=around)
    history = scan + [as_entry(h) for h in out.history]
    # a second basin is looked for across kinks; a smooth criterion's descent follows its
    # exact slope from the scan's best point, a finer model than the scan's parabola
    start = None if scan_model is None or stopped[0] or key != "value" \
        or model.smooth_criterion else _other_basin(*scan_model, out.theta)
    if start is not None and out.n_iter < max_iter:
        out, entries = _descend_other_basin(objective, start, out, optimizer, log_bounds,
                                            max_iter, tol, inner_tol[1], descent_callback,
                                            t0)
        history += entries
    # the best point evaluated, scan included (every evaluation is on the whole criterion),
    # its value made accurate
    best = _refine_best(model, X, y, criterion, history, solver, inner_tol[1], last_state,
                        key, watch)
    progress.done(len(history), best["lam"], best["value"])
    return TuneResult(np.array(best["lam"]), best["value"], history, out.n_iter,
                      len(history), out.converged, last_state[0], decrease=out.decrease)


def _other_basin(theta, value, neighbours, theta_end, xtol=1e-3):
    r"""Where a second descent of one hyperparameter starts, or None.

    The scan's best point :math:`\theta_s` (``theta``, ``value``) and its two
    ``neighbours`` ``(theta, value)`` on its path (see
    :func:`~skhypergrad._path_scan._neighbours`) bracket the scan's basin; the vertex of
    the parabola through the three values is the scan's estimate of its minimum. A
    descent from :math:`\theta_s` follows the gradient there, which on a criterion with
    kinks (a held-out loss, as features enter and leave) can point to a small local
    minimum on the other side of :math:`\theta_s` than the vertex. The vertex is
    returned when the descent ended (at ``theta_end``) on the other side of
    :math:`\theta_s` than it, and more than ``xtol`` away from :math:`\theta_s`; None
    otherwise (the descent went the way of the vertex, or stayed at
    :math:`\theta_s`)."""
    (ta, fa), (tc, fc) = ((float(np.ravel(t)[0]), float(f)) for t, f in neighbours)
    tb, fb = float(np.ravel(theta)[0]), float(value)
    moved = float(np.ravel(theta_end)[0]) - tb
    da, dc = tb - ta, tb - tc
    denominator = da * (fb - fc) - dc * (fb - fa)
    if not np.isfinite(denominator) or denominator == 0 or abs(moved) <= xtol:
        return None
    vertex = tb - 0.5 * (da * da * (fb - fc) - dc * dc * (fb - fa)) / denominator
    if not np.isfinite(vertex) or abs(vertex - tb) <= xtol or (vertex - tb) * moved >= 0:
        return None
    return np.array([vertex])


def _descend_other_basin(objective, start, out, optimizer, log_bounds, max_iter, tol,
                         tol_end, callback, t0):
    """A second descent from ``start`` (:func:`_other_basin`) at the final inner accuracy
    ``tol_end``, with the steps ``out`` (the first descent's result) left of ``max_iter``;
    it stops after its first point unless that point's value is below ``out``'s.
    Returns the combined result (the better point of the two descents) and the second
    descent's history entries."""
    first = [True]

    def stop_unless_better(h):
        worse, first[0] = first[0] and not h["value"] < out.value, False
        return callback(h) or worse

    as_entry = partial(_outer_entry, offset=time.perf_counter() - t0)
    second = minimize(objective, start, optimizer=optimizer, bounds=log_bounds,
                      max_iter=max_iter - out.n_iter, tol=tol, inner_tol=(tol_end, tol_end),
                      callback=stop_unless_better)
    best = second if second.value < out.value else out
    combined = best._replace(n_iter=out.n_iter + second.n_iter, converged=second.converged,
                             decrease=second.decrease)
    return combined, [as_entry(h) for h in second.history]


def _tighter(tol, tol_end):
    """``tol`` tenfold tighter, snapped to ``tol_end`` (as the descent's schedule)."""
    return tol_end if tol * 0.1 <= tol_end * (1 + 1e-9) else tol * 0.1


def _refine_best(model, X, y, criterion, history, solver, tol, last_state, key="value",
                 watch=None, max_checks=3):
    """The entry of ``history`` with the smallest ``key`` (its ``"value"``, or its
    ``"monitor"``: ``watch(lam, tol)``), once that value is at the final accuracy
    ``tol``.

    An entry evaluated at a looser inner accuracy (the scan, the first steps) may owe
    its small value to the inexact solve (a training loss near zero makes a loose
    relative gap a large error on the held-out loss): it is evaluated again at ``tol``
    and its ``value``, ``values`` and ``tol`` are updated in place (``refined=True``),
    until the best entry is accurate (at most ``max_checks`` times).
    """
    for _ in range(max_checks):
        best = min(history, key=lambda h: h[key])
        if best["tol"] <= tol * (1 + 1e-9):
            return best
        res = criterion.value(model, X, y, best["lam"], solver=_with_tol(solver, tol),
                              state=last_state[0])
        last_state[0] = res.state
        best.update(value=float(res.value), values=res.values, tol=tol, refined=True,
                    n_iter_inner=best["n_iter_inner"] + int(np.sum(res.n_iter)))
        if watch is not None:
            best["monitor"] = watch(best["lam"], tol)
    return min(history, key=lambda h: h[key])


def _watcher(model, solver, criterion, X, y):
    """``(lam, tol) -> value`` of ``criterion`` on ``(X, y)``, warm-started from its last
    call (the monitor of early stopping, see :func:`tune`)."""
    state = [None]

    def watch(lam, tol):
        res = criterion.value(model, X, y, lam, solver=_with_tol(solver, tol), state=state[0])
        state[0] = res.state
        return float(res.value)

    return watch


def _largest(residuals):
    """The largest residual (nan if any is nan: an engine that could not tell)."""
    residuals = np.asarray(residuals, dtype=np.float64)
    return float(residuals.max()) if residuals.size else np.nan


def _outer_entry(h, offset):
    """An optimizer's history entry as a tune entry: no ``theta``, seconds since tune's start."""
    entry = {k: v for k, v in h.items() if k != "theta"}
    entry["seconds"] = h["seconds"] + offset
    return entry
