r"""``param_grid`` of :class:`~skhypergrad.HyperGradSearchCV`: ``GridSearchCV``'s grid read as
search boxes.

A grid is what ``GridSearchCV`` takes: a dict of parameter names to lists of values, or
a list of such dicts. Each dict becomes one or more *sub-searches*:

- the parameters the search differentiates in (the estimator's searched parameters,
  ``alpha``, ``l1_ratio``, ``C``, ``epsilon``, ``gamma``: the table of the user guide's
  :ref:`search-cv`) that the dict names are searched within
  :math:`[\min, \max]` of their values (a single value fixes the parameter; a
  scipy.stats distribution, as ``RandomizedSearchCV`` takes it, gives its support);
- the searched parameters the dict does not name keep the estimator's values, as
  ``GridSearchCV`` keeps them;
- every other parameter (``kernel``, ``fit_intercept``, a preprocessing step's
  option...), and a searched one given values that are not numbers (``gamma:
  ["scale", "auto"]``), is enumerated as ``GridSearchCV`` enumerates it: one
  sub-search per combination of its values.

An elastic net's ``alpha`` (``C``) searched with ``l1_ratio`` fixed is searched on the
penalty of one weight :class:`~skhypergrad.penalties.FixedRatioElasticNet`; with both
searched, on the L1 and L2 weights :math:`\alpha\rho` and :math:`\alpha(1-\rho)` of
the points of the grid's box only (:func:`lam_box`, a
:class:`~skhypergrad._region.RatioRegion` onto which the search's points are
projected): every point evaluated has an ``alpha`` (``C``) and an ``l1_ratio`` within
the grid's ranges, as ``GridSearchCV``'s. A sub-search whose
box the search cannot follow runs as ``GridSearchCV`` on its points, with a warning
saying why: ``l1_ratio`` searched at a fixed ``alpha`` (it moves both weights), a
searched parameter with a value at or below 0 (the search runs on logarithms: a list
of values both at or below 0 and above 0 is split, its positive values searched, see
:func:`_sign_parts`), a dict
that fixes every searched parameter, or an estimator the search does not
differentiate (any other than those of the table; a kernel model given a sparse ``X``).
The rows of all the sub-searches
form ``cv_results_`` (:func:`merge_results`), ranked together; their ``params`` hold
the dict's names only, as ``GridSearchCV``'s. Of several sub-searches, one whose
estimator fails to fit on the first training fold (:func:`_fit_error`: an enumerated
``solver`` that does not take the penalty; of points evaluated as ``GridSearchCV``, at
every point, :func:`_grid_error`) is not searched: its points score
``error_score`` (:func:`_failed_rows`) with a ``FitFailedWarning``, as ``GridSearchCV``
records failed fits; its error is raised with ``error_score="raise"`` or when every
sub-search fails.
"""

import itertools
import numbers
import warnings
from typing import Any, NamedTuple

import numpy as np
from sklearn.base import clone
from sklearn.exceptions import FitFailedWarning
from sklearn.model_selection import ParameterGrid
from sklearn.utils import _safe_indexing

from ._region import Box, ratio_region
from ._search_results import param_columns, rank_scores, store

__all__ = ["check_param_grid", "SubSearch", "sub_searches", "merge_results",
           "lam_box"]


def _is_distribution(values):
    return hasattr(values, "rvs") and hasattr(values, "support")


def check_param_grid(param_grid):
    """``param_grid`` as a list of dicts of name -> list of values (or distribution);
    the ValueError / TypeError ``GridSearchCV`` raises for a malformed grid."""
    grids = [param_grid] if isinstance(param_grid, dict) else param_grid
    if not isinstance(grids, (list, tuple)) or not grids:
        raise TypeError(f"param_grid must be a dict or a non-empty list of dicts, got "
                        f"{param_grid!r}.")
    out = []
    for grid in grids:
        if not isinstance(grid, dict):
            raise TypeError(f"param_grid must be a dict or a list of dicts, got an item "
                            f"{grid!r}.")
        checked = {}
        for name, values in grid.items():
            if not isinstance(name, str):
                raise TypeError(f"param_grid's keys are parameter names, got {name!r}.")
            if _is_distribution(values):
                checked[name] = values
                continue
            if isinstance(values, np.ndarray) and values.ndim > 1:
                raise ValueError(f"param_grid's array for {name!r} must be one-dimensional, "
                                 f"got the shape {values.shape}.")
            if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__") or \
                    (isinstance(values, np.ndarray) and values.ndim != 1):
                raise TypeError(f"param_grid's value for {name!r} must be a non-empty "
                                f"sequence (or a distribution), got {values!r}.")
            values = list(values)
            if not values:
                raise ValueError(f"param_grid's value for {name!r} is empty.")
            checked[name] = values
        out.append(checked)
    return out


class SubSearch(NamedTuple):
    """One search of a grid.

    Attributes
    ----------
    estimator : estimator
        A clone of the user's estimator with the sub-search's enumerated and fixed
        values set, and each searched parameter at the geometric centre of its box.
    shown : dict
        The dict's names with one value in this sub-search (enumerated or fixed),
        shown in every row's ``params``.
    names : tuple of str
        The dict's names that are searched (also shown in ``params``).
    box : dict or None
        ``{name: (low, high)}`` of every searched parameter of the estimator
        (``low == high``: fixed, its value possibly a string such as ``"scale"``), for
        the hypergradient search; None: run ``grid`` as ``GridSearchCV``.
    grid : dict
        The sub-grid of the dict's points the sub-search covers (lists of values, or a
        searched parameter's distribution): what ``GridSearchCV`` runs when ``box`` is
        None, and the points recorded as failed when the estimator fails to fit.
    """

    estimator: Any
    shown: dict
    names: tuple
    box: Any
    grid: Any


#: the quantiles that replace an end of a distribution's support the log-scale search
#: cannot take (0 or below, infinite): ``uniform(0, 1)`` is searched in [0.001, 1]
_DISTRIBUTION_QUANTILES = (1e-3, 1.0 - 1e-3)


def _numeric_range(values):
    """``(low, high)`` of numeric values or a distribution's support (an end at or below 0,
    or infinite, replaced by the quantile of :data:`_DISTRIBUTION_QUANTILES`: a point the
    distribution reaches with positive probability); None otherwise."""
    if _is_distribution(values):
        lo, hi = (float(v) for v in values.support())
        if not (lo > 0 and np.isfinite(lo)):
            lo = float(values.ppf(_DISTRIBUTION_QUANTILES[0]))
        if not np.isfinite(hi):
            hi = float(values.ppf(_DISTRIBUTION_QUANTILES[1]))
        return lo, hi
    if all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in values):
        return float(min(values)), float(max(values))
    return None


def _combinations(grid, names):
    names = sorted(names)
    for values in itertools.product(*(grid[name] for name in names)):
        yield dict(zip(names, values))


def sub_searches(estimator, grids, searched):
    """The :class:`SubSearch` list of ``grids`` (from :func:`check_param_grid`).

    Parameters
    ----------
    estimator : estimator
    grids : list of dict
    searched : callable
        ``estimator -> (names, needs)``: the estimator's searched parameters (with a
        pipeline's prefix) and ``{name: other}`` for a parameter searched only together
        with another (see :func:`~skhypergrad._search_estimator.searched_parameters`);
        a ValueError for an estimator the search does not differentiate (its points
        are then evaluated as ``GridSearchCV`` evaluates them, with a warning).
    """
    subs = []
    for grid in grids:
        base = estimator
        names, _, why = _searched(searched, base)
        if why is not None:  # a value the grid replaces (Ridge(alpha=0)) is not a reason
            base = _at_largest_values(estimator, grid)
            names, _, retry = _searched(searched, base)
            why = None if retry is None else why
        if why is not None:  # the whole dict, as GridSearchCV
            warnings.warn(f"param_grid: {why} These points are evaluated as GridSearchCV "
                          "evaluates them.", UserWarning, stacklevel=4)
            subs.append(SubSearch(clone(estimator), {}, (), None, grid))
            continue
        for combo in _grid_points(grid, _enumerated(grid, names)):
            # the grid's values cloned, as GridSearchCV does (a step given as a value is
            # then set, not modified in the user's grid)
            est = clone(base).set_params(**clone(combo, safe=False))
            names = _searched(searched, est)[0]
            more = [k for k in _enumerated(grid, names) if k not in combo]
            for extra in _grid_points(grid, more):
                shown = {**combo, **extra}
                for part in _sign_parts(grid, [k for k in names if k not in shown]):
                    subs.append(_sub_search(
                        clone(est).set_params(**clone(extra, safe=False)), part, shown,
                        searched))
    return subs


def _at_largest_values(estimator, grid):
    """A clone of ``estimator`` with every parameter that ``grid`` gives numbers, or a
    distribution, set to the largest of them (the upper end of the distribution's
    range, :func:`_numeric_range`): every point of the grid sets these parameters
    again, so the estimator's own values of them (``Ridge(alpha=0)``) never decide
    whether its points are searched."""
    values = {}
    for name, vals in grid.items():
        bounds = _numeric_range(vals)
        if bounds is not None:
            values[name] = bounds[1] if _is_distribution(vals) else max(vals)
    return clone(estimator).set_params(**values)


def _sign_parts(grid, names):
    """``grid`` split where a searched parameter of ``names`` is given a list of values
    both at or below 0 and above 0: the grids of its values at or below 0 (evaluated as
    ``GridSearchCV`` evaluates them) and of its positive values (searched), then the
    same for the next such parameter in each."""
    for name in names:
        values = grid.get(name)
        if values is None or _is_distribution(values) or _numeric_range(values) is None:
            continue
        low = [v for v in values if v <= 0]
        if low and len(low) < len(values):
            high = [v for v in values if v > 0]
            return [part for side in (low, high)
                    for part in _sign_parts({**grid, name: side}, names)]
    return [grid]


def _searched(searched, est):
    """``(names, needs, None)``, or ``((), {}, reason)`` for an estimator not searched."""
    try:
        return (*searched(est), None)
    except ValueError as exc:
        return (), {}, str(exc)


def _enumerated(grid, names):
    """The grid's names enumerated: those not searched, and searched ones given values
    that are not numbers (``gamma: ["scale", "auto"]``)."""
    return [k for k in grid if k not in names or _numeric_range(grid[k]) is None]


def _grid_points(grid, names):
    for name in names:
        if _is_distribution(grid[name]):
            raise ValueError(f"param_grid gives a distribution for {name!r}, which is not "
                             "searched by hypergradient here: give a list of its values.")
    return _combinations(grid, names)


def _sub_search(est, grid, shown, searched):
    names, _, why = _searched(searched, est)
    ranges = {k: _numeric_range(grid[k]) for k in names if k in grid and k not in shown}
    for k, r in ranges.items():
        if not np.all(np.isfinite(r)):
            raise ValueError(f"param_grid's values for {k!r} must be finite (it is "
                             f"searched on a log scale), got {grid[k]!r}.")
        if r[0] <= 0 and why is None:
            why = f"{k} takes values at or below 0 (the search runs on logarithms)"
    fixed = {k: grid[k][0] for k, (lo, hi) in ranges.items() if lo == hi}
    est = est.set_params(**fixed)
    if why is None:  # a fixed value may change them (l1_ratio=1: a Lasso)
        names, needs, why = _searched(searched, est)
    free = {k for k, (lo, hi) in ranges.items() if lo < hi and k in names}
    if why is None and not free:
        why = "every searched parameter has one value"
    for name, other in needs.items() if why is None else ():
        if name in free and other not in free:
            why = f"{name} is searched together with {other} only"
    shown = {**shown, **fixed}
    if why is not None:
        free = {k for k, (lo, hi) in ranges.items() if lo < hi}
        drawn = sorted(k for k in free if _is_distribution(grid[k]))
        if drawn:  # GridSearchCV cannot enumerate a distribution either
            raise ValueError(f"param_grid gives a distribution for {drawn[0]!r}, which "
                             f"cannot be searched here ({why}): give a list of its values, "
                             "or a distribution of positive values.")
        if free:
            warnings.warn(f"param_grid: {why}; these points are evaluated as GridSearchCV "
                          "evaluates them.", UserWarning, stacklevel=5)
        sub_grid = {k: [v] for k, v in shown.items()}
        sub_grid.update({k: grid[k] for k in free})
        return SubSearch(est, {}, (), None, sub_grid)
    est = est.set_params(**{k: float(np.sqrt(ranges[k][0] * ranges[k][1])) for k in free})
    params = est.get_params()
    box = {k: ranges[k] if k in free else (params[k], params[k]) for k in names}
    sub_grid = {**{k: [v] for k, v in shown.items()}, **{k: grid[k] for k in free}}
    return SubSearch(est, shown, tuple(k for k in names if k in free), box, sub_grid)


def lam_box(box, names, lam_of, ratio=None):
    """The region of ``lam`` (:mod:`skhypergrad._region`) spanned by ``box``
    (``{name: (low, high)}``), from ``lam_of(params)`` at the box's corners.

    For parameters each mapped to one entry of ``lam``, monotonically (``C``,
    ``alpha``, ``epsilon``), that is the box itself (a :class:`~skhypergrad._region.Box`
    of the corners' smallest and largest entries); for an elastic net's parameter and
    ``l1_ratio`` (``ratio``: their names, both free in ``box``), the set of L1 and L2
    weights :math:`\\alpha\\rho` and :math:`\\alpha(1-\\rho)` of the box's points (a
    :class:`~skhypergrad._region.RatioRegion`): no point of it has an ``alpha`` (``C``)
    or an ``l1_ratio`` outside the grid's range.
    """
    corners = np.array([lam_of(dict(zip(names, point)))
                        for point in itertools.product(*(sorted(set(box[k])) for k in names))])
    if ratio is not None and all(box[k][0] < box[k][1] for k in ratio):
        return ratio_region(corners)
    return Box(corners.min(axis=0), corners.max(axis=0))


def _value_type(values):
    """The type of a searched parameter's values in ``params``, given the grid's
    ``values``: ``np.float64`` when they all are (a NumPy array of floats), as
    ``GridSearchCV``'s ``params`` hold the grid's own objects; ``float`` otherwise (a
    point between integers, or between ``float32`` values, is neither)."""
    if not _is_distribution(values) and all(type(v) is np.float64 for v in values):
        return np.float64
    return float


def merge_results(results, shown, names, grids):
    """One ``cv_results_`` of the sub-searches' ``results`` (dicts in ``GridSearchCV``'s
    format), each row's ``params`` restricted to the grid's names: ``shown[i]`` (the
    values of sub-search ``i``'s enumerated and fixed names) and ``names[i]`` (its
    searched names, of the type of their values in ``grids[i]``, :func:`_value_type`;
    None: a ``GridSearchCV`` run, whose rows are kept), in the order of their names, as
    ``GridSearchCV``'s rows of a dict; ranks over all rows; the keys in
    ``GridSearchCV``'s order (the times, ``param_<name>``, ``params``, then each metric's
    splits, mean, std and rank), the search's own after them."""
    params = []
    for res, show, keep, grid in zip(results, shown, names, grids):
        types = {} if keep is None else {k: _value_type(grid[k]) for k in keep}
        for p in res["params"]:
            row = {**show, **(p if keep is None else
                              {k: types[k](v) for k, v in p.items() if k in keep})}
            params.append(dict(sorted(row.items())))
    merged = {}
    for key in dict.fromkeys(itertools.chain.from_iterable(results)):
        if key == "params":
            merged.update(param_columns(params))
            merged["params"] = params
        elif not key.startswith("param_") and not key.startswith("rank_"):
            merged[key] = np.concatenate([_column(res, key) for res in results])
            if key.startswith("std_test_") and "mean_test_" + key[9:] in merged:
                merged["rank_test_" + key[9:]] = rank_scores(merged["mean_test_" + key[9:]])
    return merged


def _column(res, key):
    n = len(res["params"])
    if key in res:
        return np.asarray(res[key])
    if key == "phase":
        return np.full(n, "grid")
    return np.full(n, np.nan)


def _fit_error(estimator, X, y, train):
    """The exception ``estimator`` raises when fitted on the rows ``train`` of ``X, y``,
    as ``GridSearchCV`` fits it; None when it fits."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clone(estimator).fit(_safe_indexing(X, train), _safe_indexing(y, train))
    except Exception as exc:
        return exc
    return None


def _grid_error(sub, X, y, train):
    """The exception of the estimator at the first point of ``sub.grid`` when it fails to
    fit at every point (:func:`_fit_error`); None when it fits at one."""
    errors = [_fit_error(clone(sub.estimator).set_params(**clone(point, safe=False)),
                         X, y, train)
              for point in ParameterGrid(sub.grid)]
    return None if any(e is None for e in errors) else errors[0]


def _failed_rows(sub, results, n_splits, error_score, train_score):
    """The rows ``GridSearchCV`` records for the points of ``sub.grid`` (a searched
    parameter's distribution: its sub-search's starting value) when the estimator fails
    to fit there: ``error_score`` for every split of the metrics of ``results`` (another
    sub-search's rows), zero times."""
    start = sub.estimator.get_params()
    points = list(ParameterGrid({k: [start[k]] if _is_distribution(v) else v
                                 for k, v in sub.grid.items()}))
    shape = (len(points), n_splits)
    rows = {"params": points}
    store(rows, "fit_time", np.zeros(shape))
    store(rows, "score_time", np.zeros(shape))
    scores = np.full(shape, float(error_score))
    for key in results:
        if key.startswith("mean_test_") and key != "mean_test_loss":
            store(rows, key[5:], scores, splits=True)
            if train_score:
                store(rows, "train_" + key[10:], scores, splits=True)
    return rows


def fit_param_grid(search, X, y, groups, params):
    """Run the sub-searches of ``search.param_grid`` (a ``HyperGradSearchCV``) on one set
    of splits: a :class:`~skhypergrad._search_results.SearchRun` of all their rows."""
    from sklearn.base import is_classifier
    from sklearn.model_selection import GridSearchCV
    from sklearn.utils import indexable

    from ._routing import FoldParamsError
    from ._search_estimator import searched_parameters
    from ._search_results import SearchRun
    from ._validation import cv_splits, named

    grids = check_param_grid(search.param_grid)
    with named("X and y"):
        X, y, groups = indexable(X, y, groups)
    splits = cv_splits(search.cv, X, y, groups,
                       classifier=is_classifier(search.estimator))
    subs = sub_searches(search.estimator, grids,
                        lambda est: searched_parameters(est, X, y))
    runs, refit_data, failures = [], (X, y, params), {}
    # with several sub-searches, one whose estimator fails to fit at every point (an
    # enumerated solver that does not take the penalty...) is recorded as GridSearchCV
    # records it: probed before a search, after a GridSearchCV run that raised
    tolerant = search.error_score != "raise" and len(subs) > 1
    for i, sub in enumerate(subs):
        error = _fit_error(sub.estimator, X, y, splits[0][0]) \
            if tolerant and sub.box is not None else None
        if error is None and sub.box is not None:
            try:
                run = search._run(sub.estimator, X, y, groups, params, splits, sub.box)
                refit_data = (run.X, run.y, run.fit_params)
            except FoldParamsError as exc:  # GridSearchCV applies them
                warnings.warn(f"param_grid: {exc} These points are evaluated as "
                              "GridSearchCV evaluates them.", UserWarning, stacklevel=4)
                subs[i] = sub = sub._replace(shown={}, names=(), box=None)
        if error is None and sub.box is None:
            grid = GridSearchCV(sub.estimator, sub.grid, scoring=search.scoring,
                                n_jobs=search.n_jobs, refit=False, cv=splits,
                                pre_dispatch=search.pre_dispatch,
                                error_score=search.error_score,
                                return_train_score=search.return_train_score)
            try:
                grid.fit(X, y, **params)
            except Exception:  # every fit failed, or an error of another kind
                error = _grid_error(sub, X, y, splits[0][0]) if tolerant else None
                if error is None:
                    raise
            else:
                run = SearchRun(grid.cv_results_, 0, grid.multimetric_, grid.scorer_,
                                None, X, y, params)
        if error is not None:
            failures[i] = error
            run = None
        runs.append(run)
    search.n_splits_ = len(splits)
    if len(failures) == len(subs):
        raise next(iter(failures.values()))
    first = next((r for r in runs if r is not None and r.key is not None),
                 next(r for r in runs if r is not None))
    for i, error in failures.items():
        runs[i] = first._replace(results=_failed_rows(
            subs[i], first.results, len(splits), search.error_score,
            search.return_train_score), n_iter=0)
        at = {k: v[0] for k, v in subs[i].grid.items()
              if not _is_distribution(v) and len(v) == 1}
        warnings.warn(f"param_grid: the estimator fails to fit at {at} "
                      f"({type(error).__name__}: {error}); the scores of these points are "
                      f"error_score={search.error_score!r}, as GridSearchCV records fits "
                      "that fail.", FitFailedWarning, stacklevel=4)
    key = first.key
    if key is None and not first.multimetric:
        key = "score"
    elif key is None and isinstance(search.refit, str):
        key = search.refit
    results = merge_results([r.results for r in runs], [s.shown for s in subs],
                            [s.names if s.box is not None else None for s in subs],
                            [s.grid for s in subs])
    return SearchRun(results, sum(r.n_iter for r in runs), first.multimetric, first.scorer,
                     key, *refit_data)
