r"""The starting scan of a search: criterion values along paths of hyperparameters.

:func:`_scan` evaluates the paths of candidate points that :func:`~skhypergrad._tune.tune`
starts from (value only, each path warm-started along its points), leaves a path once it
is past its minimum and the paths once they are past the minimum in their second
direction, and returns the best point and its neighbours on its path, where the descent
starts. The compiled Gram path (:func:`~skhypergrad._gram_cv_kernel.gram_cv_evaluate`)
follows the same stopping rule (:func:`_past_minimum`).
"""

import copy
import time

import numpy as np

from ._progress import Progress

#: on a path that continues below its end (``scan_below`` of
#: :func:`~skhypergrad._tune.tune`: columns of very unequal spreads), rises of the
#: criterion within this fraction of its smallest value are a plateau, not a minimum: a
#: column in other units fits alone over decades of the L1 weight, where the criterion
#: is flat to 1e-7 with bumps, before the other columns enter
SCAN_FLAT = 1e-3


def _with_tol(obj, tol):
    """A copy of a solver / engine with its ``tol`` set (objects without ``tol`` as they are)."""
    if obj is None or not hasattr(obj, "tol"):
        return obj
    obj = copy.copy(obj)
    obj.tol = tol
    return obj


def _scan(model, X, y, criterion, candidates, solver, tol, last_state, t0, callback,
          watch=None, progress=None, patience=1.0, entry_tol=None, rank=None, back=None,
          below=None):
    """Criterion values along the paths ``candidates``, each warm-started from its own
    first point's solution. The first path is left once its values have stayed above
    its minimum for ``patience`` decades of its L1 weight and stopped falling (the loss
    can rise as noisy features enter first, then fall), the next ones once they are
    above their minimum past
    the positions compared with the path before (see below).

    The paths are ordered along a second direction (e.g. an increasing L2 weight) and
    left once one has no new best value and lowers the previous path nowhere near its
    minimum (up to one point past it) by more (relative) than its own minimum rose
    above the best: past the minimum in that direction too. A rise of the minimum
    alone is not enough: the best point of a path is often its most regularized one,
    where the second weight matters least, while the second weight lowers the next
    points.

    With ``rank`` (``entry -> float``, see ``scan_rank`` of
    :func:`~skhypergrad._tune.tune`), a path is left once its ranks too are past their
    minimum (:func:`_ranks_past_minimum`), and the paths once one has neither a new best
    value nor a new best rank.

    ``back`` (see ``scan_back`` of :func:`~skhypergrad._tune.tune`): points stronger
    than the first path's first one, from it outwards, evaluated (warm-started from it)
    only when that first point is the best of the scan, and left as the first path is;
    the first path's neighbours are then read on ``back`` reversed followed by the first
    path.

    ``below`` (see ``scan_below`` of :func:`~skhypergrad._tune.tune`): per path, the
    points that continue it, evaluated when the path reached its last point with its
    smallest value (or rank) there (:func:`_still_falling`).

    The solves stop at the relative gap ``tol`` (or earlier by the solver's own rule:
    the entries' ``tol`` is then ``entry_tol``). Returns the best point, the history
    entries, whether ``callback`` asked to stop,
    the best point's neighbours on its path (:func:`_neighbours`; None with several
    hyperparameters) and its inner solutions (``last_state`` is left at the last
    point's).
    """
    scan = []
    solver = _with_tol(solver, tol)
    paths = [np.atleast_2d(candidates)] if isinstance(candidates, np.ndarray) \
        else [np.atleast_2d(path) for path in candidates]
    progress = Progress(0, "") if progress is None else progress
    # (the points of ``back`` counted: "up to" that many)
    below = [None] * len(paths) if below is None else list(below)
    n_points = sum(len(path) for path in paths) + (0 if back is None else len(back)) + \
        sum(0 if tail is None else len(tail) for tail in below)
    progress.scan_start(n_points)
    best_value, first_state, previous = np.inf, last_state[0], []
    best_state = [np.inf, None]  # the smallest value of the scan and its solutions
    best_path = None  # (path, values) of the path with the smallest value
    best_rank = np.inf  # the smallest rank of the paths before
    path_states = []  # the solutions at each path's first point

    def walk(path, state0, points, near, values, ranks, start=0, flat=0.0):
        """Evaluate ``path`` from its point ``start`` (the first from ``state0``, the next
        ones from the point before) until it is past its minimum (rises within ``flat``
        of it relative not counted), appending to ``values`` and ``ranks`` (which may
        hold the values before it); True when ``callback`` asked to stop."""
        nonlocal best_path
        # the whole path in one call when the criterion can (a compiled evaluation), with
        # the same rule to leave it; not with a callback, monitor, rank or flat rises,
        # which see every point
        batch = None if callback is not None or watch is not None or rank is not None \
            or values or flat else \
            criterion.value_path(model, X, y, path, solver=solver, state=state0,
                                 near=near, patience=points)
        for i, lam in enumerate(path[start:] if batch is None else path[:len(batch)],
                                start):
            if batch is None:
                state = state0 if i == 0 else last_state[0]
                res = criterion.value(model, X, y, lam, solver=solver, state=state)
                last_state[0] = res.state
            else:
                res = batch[i]
                last_state[0] = batch[-1].state
            if i == 0:
                path_states.append(res.state)
            if res.value < best_state[0]:
                best_state[:] = [res.value, res.state]
                best_path = (path, values)
            entry = {"lam": np.array(lam, dtype=np.float64), "value": float(res.value),
                     "grad": None, "tol": tol if entry_tol is None else entry_tol,
                     "seconds": time.perf_counter() - t0,
                     "best": res.value < min([best_value, *values]), "values": res.values,
                     "n_iter_inner": int(np.sum(res.n_iter)), "n_iter_engine": 0,
                     "engine_residual": np.nan}
            if watch is not None:
                entry["monitor"] = watch(lam, tol)
            scan.append(entry)
            values.append(float(res.value))
            if rank is not None:
                ranks.append(_ranked(rank(entry)))
            progress.scan_point(len(scan), n_points, lam, res.value)
            if callback is not None and callback(entry):
                return True
            if _past_minimum(values, near if previous else None, points, flat) and \
                    (rank is None or _ranks_past_minimum(ranks, points)):
                break  # the rest of the path is weaker and worse
        return False

    first = None  # (values, ranks) of the first path
    walked = []  # the paths as evaluated: continued by their points below, when followed
    for path, tail in zip(paths, below):
        values, ranks = [], []
        points = max(1, round(patience * _points_per_decade(path)))
        near = _near(previous) if previous else len(path) + 1
        flat = SCAN_FLAT if tail is not None and len(tail) else 0.0
        if walk(path, first_state, points, near, values, ranks, flat=flat):
            return _best(scan), scan, True, None, None
        if flat and _still_falling(values, ranks if rank is not None else None, len(path),
                                   flat):
            path = np.concatenate([path, np.atleast_2d(tail)])
            if best_path is not None and best_path[1] is values:
                best_path = (path, values)
            if walk(path, None, points, near, values, ranks, start=len(values), flat=flat):
                return _best(scan), scan, True, None, None
        walked.append(path)
        first_state = path_states[-1]
        first = (values, ranks) if first is None else first
        if _past_best_path(values, previous, best_value) and \
                (rank is None or min(ranks) >= best_rank):
            break  # past the minimum along the paths too
        best_value, previous = min(best_value, min(values)), values
        best_rank = min([best_rank, *ranks])
    if back is not None and len(back) and min(scan, key=lambda h: h["value"]) is scan[0]:
        back = np.atleast_2d(back)
        # from the first point outwards: its value first, so that the path is left as
        # the first path is (past its minimum); the first path's own are kept aside
        values, ranks = [first[0][0]], list(first[1][:1])
        points = max(1, round(patience * _points_per_decade(paths[0])))
        previous = []
        if walk(back, path_states[0], points, len(back) + 1, values, ranks):
            return _best(scan), scan, True, None, None
        # the best point's neighbours along the points evaluated, from strong to weak
        best_path = (np.concatenate([back[:len(values) - 1][::-1], walked[0]]),
                     values[:0:-1] + first[0])
    best = min(scan, key=lambda h: h["value"])
    progress.scan_end(len(scan), best["lam"], best["value"])
    around = None if best_path is None else _neighbours(*best_path)
    return best["lam"], scan, False, around, best_state[1]


def _neighbours(path, values):
    r"""The points ``(log lam, value)`` on either side of the point of smallest ``values``
    (evaluated along ``path``, one hyperparameter), or None (several hyperparameters, or
    no neighbour on one side)."""
    path = np.asarray(path, dtype=np.float64)
    i = int(np.argmin(values))
    if path.ndim != 2 or path.shape[1] != 1 or not 0 < i < len(values) - 1:
        return None
    return [(np.log(path[k]), float(values[k])) for k in (i - 1, i + 1)]


def _still_falling(values, ranks, n_points, flat=0.0):
    """Whether a path of ``n_points`` points was evaluated to its last one and its last
    value is its smallest (within ``flat`` of it, relative: a plateau) or, ``ranks``
    given, its last rank is its smallest: the criterion still falls, or may, where the
    path ends."""
    if len(values) != n_points:
        return False
    lowest = min(values)
    return values[-1] <= lowest + flat * abs(lowest) or \
        (ranks is not None and ranks[-1] <= min(ranks))


def _points_per_decade(path):
    """How many steps of ``path`` (geometric in its first coordinate, the L1 weight) make
    a decade (at least 1)."""
    if len(path) < 2 or path[0][0] == path[1][0]:
        return 1
    return max(1, round(np.log(10.0) / abs(np.log(path[0][0] / path[1][0]))))


def _past_minimum(values, near, patience, flat=0.0):
    """Whether a path is past its minimum: its last ``patience`` values above its
    smallest one, the last not below the one before (a path whose values fall again
    is followed: a held-out loss can rise as noisy features enter, then fall below its
    first minimum as the true ones do) or, after a first path, its last value above its
    smallest one once it is past the ``near`` positions :func:`_past_best_path` compares
    (:func:`_near` of the path before; None on a first path). "Above" is by more than
    ``flat`` times the smallest value: rises within it are a plateau's bumps, not a
    minimum's side."""
    lowest = min(values)
    rise = flat * abs(lowest)
    if near is not None and len(values) > near:
        return values[-1] > lowest + rise
    return len(values) > patience and \
        min(values[-patience:]) > min(values[:-patience]) + rise \
        and not values[-1] < values[-2]


def _ranks_past_minimum(ranks, patience):
    """Whether a path's ``ranks`` are past their minimum: none of the last ``patience``
    below the smallest of the ones before (a tie, common for a piecewise constant
    scorer, is no progress)."""
    return len(ranks) > patience and min(ranks[-patience:]) >= min(ranks[:-patience])


def _ranked(value):
    """A rank as :func:`_past_minimum` compares it: nan (a failed point) as inf."""
    return np.inf if np.isnan(value) else float(value)


def _near(previous):
    """How many positions of a path are compared with the ``previous`` one: up to one
    past its minimum."""
    return int(np.argmin(previous)) + 2


def _past_best_path(values, previous, best_value):
    """Whether the path of ``values`` neither reaches below ``best_value`` nor lowers the
    ``previous`` path, at a position up to one past the previous path's minimum, by
    more (relative) than its minimum rose above ``best_value``."""
    if not np.isfinite(best_value):
        return False
    rise = (min(values) - best_value) / _magnitude(best_value)
    near = _near(previous) if previous else 0
    gain = max(((p - v) / _magnitude(p) for v, p in zip(values[:near], previous[:near])),
               default=-np.inf)
    return rise >= 0 and gain <= rise


def _magnitude(value):
    """``|value|``, kept above the smallest positive float (a criterion can be 0)."""
    return max(abs(value), np.finfo(float).tiny)


def _best(scan):
    return min(scan, key=lambda h: h["value"])["lam"]
