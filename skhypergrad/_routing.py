"""The fit parameters of :class:`~skhypergrad.HyperGradSearchCV`, as ``GridSearchCV`` takes them.

With scikit-learn's metadata routing enabled
(``sklearn.set_config(enable_metadata_routing=True)``), the search is a router
like ``GridSearchCV``: the parameters of its ``fit`` go to the estimator's ``fit``
(as the estimator, or the steps of a pipeline, request them with
``set_fit_request``), to the scorer's ``score`` (``set_score_request``) and
``groups`` to the splitter's ``split``; an unrequested parameter raises
scikit-learn's own errors. Without it (the legacy behaviour of ``GridSearchCV``),
every parameter goes to the estimator's ``fit`` (``step__name`` for a step of a
pipeline), and a ``sample_weight`` (of the estimator itself, not of a step) to the
scorer too when it takes one (with a warning when it does not).

The search itself reads the sample weights of the final step's ``fit`` (its
training datafit, on every fold and in the refit) and those of the scorer (its
held-out losses); the whole set of estimator parameters goes to the refit.
"""

import warnings
from inspect import signature
from typing import Any, NamedTuple

from sklearn.base import is_classifier
from sklearn.metrics._scorer import _BaseScorer, _MultimetricScorer, _PassthroughScorer
from sklearn.model_selection import check_cv
from sklearn.pipeline import Pipeline
from sklearn.utils.metadata_routing import (MetadataRouter, MethodMapping, _routing_enabled,
                                            process_routing)
from sklearn.utils.validation import _check_sample_weight

__all__ = ["FitParams", "search_router", "route_fit_params"]


class FitParams(NamedTuple):
    """The parameters of one ``fit`` of the search.

    Attributes
    ----------
    estimator : dict
        Parameters of the estimator's (the pipeline's) ``fit``, for the refit.
    sample_weight : ndarray or None
        Weights of the final step's ``fit`` (its training datafit).
    score_weight : ndarray or None
        Weights the scorer requested (its held-out losses).
    groups : array-like or None
        Groups of the splitter.
    """

    estimator: dict
    sample_weight: Any
    score_weight: Any
    groups: Any


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
    apply on its folds: any of a pipeline's preprocessing steps, any of the final step
    other than ``sample_weight``."""
    estimator = search.estimator
    if _routing_enabled():
        if groups is not None:  # a parameter like the others (GridSearchCV's **params)
            params = {**params, "groups": groups}
        routed = process_routing(search, "fit", **params)
        groups = routed.splitter.split.get("groups")
        est_params = dict(routed.estimator.fit)
        score_weight = routed.scorer.score.get("sample_weight")
        if isinstance(estimator, Pipeline):
            steps = process_routing(estimator, "fit", **est_params)
            for name, _ in estimator.steps[:-1]:
                _refuse_step_params(name, [key for method in steps[name].values()
                                           for key in method])
            final_params = dict(steps[estimator.steps[-1][0]].fit)
        else:
            final_params = est_params
    else:
        est_params, score_weight = dict(params), None
        final_params = est_params
        if params.get("sample_weight") is not None:
            if _accepts_sample_weight(scorer):
                score_weight = params["sample_weight"]
            else:
                warnings.warn(f"The scoring {scorer} does not take sample_weight: the "
                              f"held-out losses of {type(search).__name__} are not "
                              "weighted.", UserWarning, stacklevel=4)
        if isinstance(estimator, Pipeline):
            last = estimator.steps[-1][0]
            for name, _ in estimator.steps[:-1]:
                _refuse_step_params(name, [key for key in params
                                           if key.startswith(name + "__")])
            final_params = {key[len(last) + 2:]: value for key, value in params.items()
                            if key.startswith(last + "__")}
    others = sorted(set(final_params) - {"sample_weight"})
    if others:
        raise ValueError(f"HyperGradSearchCV applies sample_weight on its folds; the fit "
                         f"parameters {others} are not supported.")
    return FitParams(est_params, _weights(final_params.get("sample_weight"), X),
                     _weights(score_weight, X), groups)


def _accepts_sample_weight(scorer):
    """Whether ``scorer`` takes ``sample_weight``: a scikit-learn scorer's score function,
    the estimator's ``score`` (``scoring=None``), every scorer of several, or the
    callable itself."""
    if isinstance(scorer, _MultimetricScorer):
        return all(map(_accepts_sample_weight, scorer._scorers.values()))
    if isinstance(scorer, _PassthroughScorer):
        func = scorer._estimator.score
    elif isinstance(scorer, _BaseScorer):
        func = scorer._score_func
    else:
        func = scorer
    return "sample_weight" in signature(func).parameters


def _refuse_step_params(name, keys):
    if keys:
        raise ValueError(f"HyperGradSearchCV fits a pipeline's preprocessing on each fold "
                         f"without fit parameters; got {sorted(keys)} for the step "
                         f"{name!r}.")


def _weights(sample_weight, X):
    """``sample_weight`` as float64, one per row of ``X`` (None stays None)."""
    if sample_weight is None:
        return None
    return _check_sample_weight(sample_weight, X, dtype="float64", ensure_non_negative=True)
