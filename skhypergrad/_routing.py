"""The fit parameters of :class:`~skhypergrad.HyperGradSearchCV`, as ``GridSearchCV`` takes them.

With scikit-learn's metadata routing enabled
(``sklearn.set_config(enable_metadata_routing=True)``), the search is a router
like ``GridSearchCV``: the parameters of its ``fit`` go to the estimator's ``fit``
(as the estimator, or the steps of a pipeline, request them with
``set_fit_request``), to the scorer's ``score`` (``set_score_request``) and
``groups`` to the splitter's ``split``; an unrequested parameter raises
scikit-learn's own errors; with several metrics, each scorer gets the parameters it
requests (``sample_weight`` only: a scorer requesting another raises a ValueError).
Without it (the legacy behaviour of ``GridSearchCV``), every parameter goes to the
estimator's ``fit`` (``step__name`` for a step of a pipeline), and a ``sample_weight``
(of the estimator itself, not of a step) to each scorer that takes one (with a
warning for each that does not).

The search itself reads the sample weights of the final step's ``fit`` (its
training datafit, on every fold and in the refit) and those of the scorers: the
held-out losses it descends are weighted as the refit scorer is (as any scorer is,
without one), and each scorer scores the folds with its own weights or none;
scorers given different weights are refused. The whole set of estimator parameters
goes to the refit.
"""

import warnings
from inspect import signature
from typing import Any, NamedTuple

import numpy as np

from sklearn.base import is_classifier
from sklearn.metrics._scorer import _BaseScorer, _MultimetricScorer, _PassthroughScorer
from sklearn.model_selection import check_cv
from sklearn.pipeline import Pipeline
from sklearn.utils.metadata_routing import (MetadataRouter, MethodMapping, _routing_enabled,
                                            process_routing)
from sklearn.utils.validation import _check_sample_weight

__all__ = ["FitParams", "FoldParamsError", "search_router", "route_fit_params"]


class FoldParamsError(ValueError):
    """Parameters of ``fit`` that the search cannot apply on its folds, which
    ``GridSearchCV`` applies: a preprocessing step's, the final step's other than
    ``sample_weight``, a scorer's other than ``sample_weight``, scorers' different
    weights. Raised without a ``param_grid``; with one, its points are evaluated as
    ``GridSearchCV`` evaluates them (see :mod:`skhypergrad._param_grid`)."""


class FitParams(NamedTuple):
    """The parameters of one ``fit`` of the search.

    Attributes
    ----------
    estimator : dict
        Parameters of the estimator's (the pipeline's) ``fit``, for the refit.
    sample_weight : ndarray or None
        Weights of the final step's ``fit`` (its training datafit).
    score_weight : ndarray or None
        Weights of the held-out losses: those of the refit scorer (with several
        metrics and no refit metric, those of any scorer).
    groups : array-like or None
        Groups of the splitter.
    scorer_weight : ndarray or None
        The weights of the scorers that take weights (one array for all of them).
    weighted : frozenset
        The names of the scorers (``"score"`` for a single metric) that score with
        ``scorer_weight``; the others score without weights.
    """

    estimator: dict
    sample_weight: Any
    score_weight: Any
    groups: Any
    scorer_weight: Any = None
    weighted: frozenset = frozenset()


def search_router(search, scorer):
    """The :class:`~sklearn.utils.metadata_routing.MetadataRouter` of ``search``:
    ``fit`` to the estimator's ``fit``; ``fit`` and ``score`` to ``scorer``'s ``score``;
    ``fit`` to the splitter's ``split`` (as ``GridSearchCV``'s)."""
    return (MetadataRouter(owner=type(search).__name__)
            .add(estimator=search.estimator,
                 method_mapping=MethodMapping().add(caller="fit", callee="fit"))
            .add(scorer=scorer,
                 method_mapping=MethodMapping().add(caller="score", callee="score")
                 .add(caller="fit", callee="score"))
            .add(splitter=check_cv(search.cv, classifier=is_classifier(search.estimator)),
                 method_mapping=MethodMapping().add(caller="fit", callee="split")))


def route_fit_params(search, scorer, X, groups, params):
    """The :class:`FitParams` of ``search.fit(X, y, groups=groups, **params)``, ``scorer``
    scoring it (see the module docstring). ValueError for parameters the search cannot
    apply on its folds (:class:`FoldParamsError`): any of a pipeline's preprocessing
    steps, any of the final step or a scorer other than ``sample_weight``."""
    estimator = search.estimator
    if _routing_enabled():
        if groups is not None:  # a parameter like the others (GridSearchCV's **params)
            params = {**params, "groups": groups}
        routed = process_routing(search, "fit", **params)
        groups = routed.splitter.split.get("groups")
        est_params = dict(routed.estimator.fit)
        if isinstance(scorer, _MultimetricScorer):  # each scorer's requests
            each = process_routing(scorer, "score", **routed.scorer.score)
            score_params = {name: each[name].score for name in scorer._scorers}
        else:
            score_params = {"score": routed.scorer.score}
        others = sorted({key for p in score_params.values() for key in p} -
                        {"sample_weight"})
        if others:
            raise FoldParamsError(f"{type(search).__name__} passes sample_weight to its "
                                  f"scorers; the score parameters {others} are not "
                                  "supported: use GridSearchCV.")
        scorer_weights = {name: p.get("sample_weight") for name, p in score_params.items()}
        if isinstance(estimator, Pipeline):
            steps = process_routing(estimator, "fit", **est_params)
            for name, _ in estimator.steps[:-1]:
                _refuse_step_params(name, [key for method in steps[name].values()
                                           for key in method])
            final_params = dict(steps[estimator.steps[-1][0]].fit)
        else:
            final_params = est_params
    else:
        est_params = dict(params)
        final_params = est_params
        scorers = scorer._scorers if isinstance(scorer, _MultimetricScorer) \
            else {"score": scorer}
        sw = params.get("sample_weight")
        scorer_weights = {name: sw if _accepts_sample_weight(one) else None
                          for name, one in scorers.items()}
        if sw is not None:
            for name, one in scorers.items():
                if scorer_weights[name] is None:
                    warnings.warn(f"The scoring {one} does not take sample_weight: its "
                                  f"scores in {type(search).__name__} are not weighted.",
                                  UserWarning, stacklevel=4)
        if isinstance(estimator, Pipeline):
            last = estimator.steps[-1][0]
            for name, _ in estimator.steps[:-1]:
                _refuse_step_params(name, [key for key in params
                                           if key.startswith(name + "__")])
            final_params = {key[len(last) + 2:]: value for key, value in params.items()
                            if key.startswith(last + "__")}
    others = sorted(set(final_params) - {"sample_weight"})
    if others:
        raise FoldParamsError(f"HyperGradSearchCV applies sample_weight on its folds; the "
                              f"fit parameters {others} are not supported.")
    weighted = frozenset(name for name, w in scorer_weights.items() if w is not None)
    given = [scorer_weights[name] for name in sorted(weighted)]
    if any(w is not given[0] and not np.array_equal(w, given[0]) for w in given[1:]):
        raise FoldParamsError(f"{type(search).__name__} scores every fold with one set of "
                              f"sample weights; the scorers {sorted(weighted)} are given "
                              "different ones. Use GridSearchCV.")
    scorer_weight = _weights(given[0], X) if given else None
    if not isinstance(scorer, _MultimetricScorer):
        refit_key = "score"
    else:  # None: no refit metric (refit=False or a callable)
        refit_key = search.refit if isinstance(search.refit, str) else None
    score_weight = scorer_weight if (weighted if refit_key is None
                                     else refit_key in weighted) else None
    return FitParams(est_params, _weights(final_params.get("sample_weight"), X),
                     score_weight, groups, scorer_weight, weighted)


def _accepts_sample_weight(scorer):
    """Whether ``scorer`` takes ``sample_weight``: a scikit-learn scorer's score function,
    the estimator's ``score`` (``scoring=None``), or the callable itself."""
    if isinstance(scorer, _PassthroughScorer):
        func = scorer._estimator.score
    elif isinstance(scorer, _BaseScorer):
        func = scorer._score_func
    else:
        func = scorer
    return "sample_weight" in signature(func).parameters


def _refuse_step_params(name, keys):
    if keys:
        raise FoldParamsError("HyperGradSearchCV fits a pipeline's preprocessing on each "
                              f"fold without fit parameters; got {sorted(keys)} for the "
                              f"step {name!r}.")


def _weights(sample_weight, X):
    """``sample_weight`` as float64, one per row of ``X`` (None stays None)."""
    if sample_weight is None:
        return None
    return _check_sample_weight(sample_weight, X, dtype="float64", ensure_non_negative=True)
