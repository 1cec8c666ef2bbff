"""Where a linear model's search starts, and within which region.

:func:`search_start` reads the data's scales from the folds' training maps
(:class:`~skhypergrad._search_space.SearchScales`) and returns the search's region of
``lam`` (:mod:`skhypergrad._region`: ``bounds``, a ``param_grid``'s box mapped by
:func:`linear_lam_box`, or the default range in units of the data) and either the
starting scan's paths (``init="scan"``) or the estimator's own ``lam``
(``init="estimator"``).
"""

import warnings

import numpy as np
from sklearn.base import clone

from ._param_grid import lam_box
from ._region import Box
from ._search_estimator import n_penalty_hyper
from ._gram_cv_kernel import PIVOT_FLOOR
from ._search_space import SearchScales, clipped_back, l2_scales, lam1_max
from ._validation import floored_lam_max


def search_start(search, model, folds, maps, floors, space, defaults, box=None):
    """``(lam0, region, candidates, back, below)``: the search's region of ``lam``
    (:mod:`skhypergrad._region`) in the user's parameter (``box``, the region from
    ``param_grid``; or ``bounds``) or relative to the data, and
    either the scan's paths, the points beyond its first one and those continuing each
    path (``init="scan"``, see ``scan_back`` and ``scan_below`` of
    :func:`~skhypergrad._tune.tune`, None when there are none;
    projected onto the region, repeated points dropped) or the estimator's ``lam``, off
    the flat region, in the region (``candidates``, ``back`` and ``below`` None). The data's scales
    are read from the folds' training maps ``maps`` (those the search's evaluations
    solve, see :meth:`~skhypergrad._prepared_folds.PreparedFolds.training_maps`); a
    fold's None is replaced by its map on the training rows as they are (not
    centred: no copy); ``floors``: the folds' floors of ``lam1_max``
    (:func:`~skhypergrad._validation.lam_max_floor` of their raw rows)."""
    maps = [model.make_map(f.X_train, model.encode(f.y_train), sample_weight=f.sample_weight)
            if m is None else m for m, f in zip(maps, folds)]
    kappas = np.array([l2_scales(m) for m in maps]) / [[f.scale] for f in folds]
    scales = SearchScales(
        max(floored_lam_max(lam1_max(m), floor) / f.scale
            for m, f, floor in zip(maps, folds, floors)),
        float(np.mean(kappas[:, 0])), maps[0].penalty, maps[0].n_features,
        float(np.mean(kappas[:, 1])), PIVOT_FLOOR * float(np.max(kappas[:, 2])))
    del maps
    lam0 = np.array(model.lam, dtype=np.float64)
    n_hyper = lam0.shape[0]
    k = n_hyper - model.n_datafit_hyper
    theta0 = lam0[k:]  # a datafit's hyperparameters, last
    lo, hi = scales.bounds(defaults) if search.bounds is None else \
        space.lam_bounds(search.bounds)
    lo, hi = (np.append(b, e) for b, e in zip((lo, hi), model.get_datafit().hyper_bounds()))
    region = Box(lo, hi)
    if box is not None:  # a weight of 0 at a corner (l1_ratio 1): the default bound
        lo = np.where(box.lower > 0, box.lower, lo)
        region = box._replace(lower=lo, upper=np.maximum(box.upper, lo))
    if search.init == "scan":
        def points(path):  # a path of the penalty's weights, with the datafit's, in region
            return region.clip(np.column_stack([path, np.tile(theta0, (len(path), 1))]))

        candidates = [_distinct(points(path)) for path in scales.scan(defaults)]
        back = scales.scan_back(defaults)
        if back is not None:
            back = clipped_back(points(back), candidates[0][0], region.lower, region.upper)
        below = scales.scan_below(defaults)
        if below is not None:
            below = [_continued(points(tail), path[-1], region)
                     for tail, path in zip(below, candidates)]
        return candidates[0][0], region, candidates, back, below
    if model.get_penalty().has_l1 and lam0[0] >= scales.l1:
        moved = lam0 * (0.1 * scales.l1 / lam0[0])
        warnings.warn(
            f"The starting point {space.params(lam0)} zeroes every coefficient on "
            "every training fold, where the cross-validation loss is flat; the search "
            f"starts from {space.params(moved)} instead.", UserWarning, stacklevel=4)
        lam0 = moved
    return region.clip(lam0), region, None, None, None


def linear_lam_box(box, prefix, adapter, final, y, n_samples, model):
    """The region of the full data's ``lam`` spanned by ``box`` (see
    :func:`~skhypergrad._param_grid.lam_box`), in the entries of the search's ``model``:
    where its penalty has one weight and the estimator's elastic net two (a fixed
    ``l1_ratio``: the tied penalty; ``l1_ratio=1``: the L1 penalty, its L2 weight 0),
    that weight is the total of the two; where it has two weights and a corner's
    estimator one (``MultiTaskElasticNet(l1_ratio=1)``: the L2,1 penalty alone), that
    corner's L2 weight is 0; where it has two weights read as a parameter and
    ``l1_ratio`` (both free in ``box``), the region of their ranges
    (:class:`~skhypergrad._region.RatioRegion`)."""
    n_penalty = n_penalty_hyper(model)

    def lam_of(params):
        est = clone(final).set_params(**{k[len(prefix):]: v for k, v in params.items()})
        lam = np.asarray(adapter.inner_model(est, y, n_samples, True).lam, dtype=np.float64)
        k = lam.shape[0] - model.n_datafit_hyper
        if k < n_penalty:
            return np.concatenate([lam[:k], np.zeros(n_penalty - k), lam[k:]])
        return lam if k == n_penalty else np.concatenate([lam[:k].sum(keepdims=True), lam[k:]])
    names = adapter.parametrization.names(n_penalty)
    ratio = [prefix + n for n in names] if adapter.parametrization.ratio and \
        n_penalty == 2 else None
    return lam_box(box, list(box), lam_of, ratio)


def _continued(tail, last, region):
    """The points ``tail`` that continue a path beyond its ``last`` point, projected onto
    ``region`` (:func:`~skhypergrad._search_space.clipped_back`), a point equal to
    ``last`` or to an earlier one dropped; None when none is left."""
    tail = clipped_back(tail, last, region.lower, region.upper)
    return None if tail is None else _distinct(tail)


def _distinct(path):
    """The points of a scan path, a point equal to an earlier one dropped (a path
    clipped to bounds repeats its ends; one projected onto a region, any point)."""
    _, first = np.unique(path, axis=0, return_index=True)
    return path[np.sort(first)]
