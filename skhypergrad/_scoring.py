r"""The scorers of a search: what it descends, what it records, what it calls best.

A search takes ``scoring`` as :class:`~sklearn.model_selection.GridSearchCV` does (a
name, a callable, a list / tuple / set of names or a dict of them, with ``refit`` a
bool, a scorer name or a callable) and reads it in three ways:

- **descended**: the cross-validation criterion whose hypergradient drives the
  search. When the refit scorer is differentiable in the predictions of the model
  (:data:`EXACT`), the criterion is minus its mean over the folds, exactly: per fold
  :math:`k` the score is a smooth function :math:`s_k = -g_k(L_k)` of the fold's
  held-out loss :math:`L_k`, and

  .. math::

      E(\lambda) = \frac1K \sum_k g_k(L_k(\lambda)), \qquad
      \nabla E = \frac1K \sum_k g_k'(L_k)\, \nabla L_k,

  with :math:`g_k(L) = L` (the loss itself), :math:`\sqrt{L}` (root mean squared
  error), :math:`L / c_k - 1` (R², :math:`c_k` the variance of the fold's held-out
  targets; D² of the GLMs, :math:`c_k` the mean deviance of the fold's held-out
  targets from their mean; a fold of constant targets, :math:`c_k = 0`, scores a
  constant, as scikit-learn's R²), or :math:`L - 1` when the loss is itself one minus
  a score (the R² averaged over the outputs of a multi-task model,
  :class:`~skhypergrad.multitask.R2OutputsLoss`: each output's mean squared error
  over its own variance). Otherwise it is the *surrogate*, the loss matching the
  model (:data:`SURROGATES`).
- **recorded**: every evaluated point is scored by every scorer on every fold,
  from the fold's model at that point (the solution the criterion computed, set as
  ``coef_`` / ``intercept_`` of a copy of the estimator: no extra fit), on the
  fold's held-out rows and, with ``return_train_score``, its training rows.
- **best**: the point with the best mean of the refit scorer, or the index
  returned by a callable ``refit``, as ``GridSearchCV`` chooses.

The scorer receives the final step of the estimator, fitted on the fold, and the
fold's rows as the preprocessing steps of a pipeline (fitted on the fold's
training rows) transform them; of a ``TransformedTargetRegressor``, the wrapper fitted
on the fold around that step, and the fold's original targets (:class:`FoldView`).
"""

import copy
import numbers
import time
import warnings
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import (check_scoring, get_scorer, get_scorer_names, make_scorer,
                             mean_tweedie_deviance)
from sklearn.metrics._scorer import _MultimetricScorer
from sklearn.utils._param_validation import InvalidParameterError

from ._compact_states import _expand
from ._region import as_region
from ._sample_weight import check_sample_weight
from ._target_transform import TargetTransform
from .criteria import BaseCriterion
from .ridge_classifier import squared_class_error_scorer
from .squared_hinge import squared_hinge_scorer

__all__ = ["EXACT", "EXACT_SEVERAL", "SURROGATES", "SearchScoring", "FoldScorer",
           "FoldTransform", "FoldView", "SCORER_NAMES",
           "ScoredCriterion", "check_search_scoring", "check_error_score", "descended_name",
           "fold_view", "polish", "routing_scorer", "scan_entry", "POLISH_EVALS",
           "transform_power", "unfitted_template"]

#: the loss each model's search descends, and the name of its own scorer
SURROGATES = {"squared": ("mean squared error", "neg_mean_squared_error"),
              "log": ("log-loss", "neg_log_loss"),
              "squared_hinge": ("mean squared hinge", "neg_squared_hinge"),
              "poisson": ("mean Poisson deviance", "neg_mean_poisson_deviance"),
              "gamma": ("mean Gamma deviance", "neg_mean_gamma_deviance"),
              "tweedie": ("mean Tweedie deviance", "neg_mean_tweedie_deviance"),
              "squared_class_error": ("mean squared class error",
                                      "neg_squared_class_error")}

#: scorers followed exactly, by the model's loss: scoring name (None: the estimator's
#: ``score``) -> (held-out loss name, per-fold map :math:`g_k`), for one output and two
#: classes; :data:`EXACT_SEVERAL` overrides it for several outputs or classes
EXACT = {
    "squared": {"neg_mean_squared_error": ("auto", "identity"),
                "neg_root_mean_squared_error": ("auto", "sqrt"),
                "r2": ("auto", "ratio"), None: ("auto", "ratio")},
    "log": {"neg_log_loss": ("auto", "identity"), "neg_brier_score": ("brier", "identity")},
    "squared_hinge": {"neg_squared_hinge": ("auto", "identity")},
    "poisson": {"neg_mean_poisson_deviance": ("auto", "identity"), None: ("auto", "ratio")},
    "gamma": {"neg_mean_gamma_deviance": ("auto", "identity"), None: ("auto", "ratio")},
    "tweedie": {"neg_mean_tweedie_deviance": ("auto", "identity"), None: ("auto", "ratio")},
    "squared_class_error": {"neg_squared_class_error": ("auto", "identity")},
}

#: the scorers scikit-learn does not name, made for the final step
#: what several outputs (multi-task least squares) or more than two classes change in
#: :data:`EXACT` (None: not followed): R² (also the estimator's ``score``) averages the
#: outputs' R², the root mean squared error the outputs' roots, and the Brier score of
#: several classes sums over them
EXACT_SEVERAL = {
    "squared": {"r2": ("multitask_r2", "shift"), None: ("multitask_r2", "shift"),
                "neg_root_mean_squared_error": None},
    "log": {"neg_brier_score": ("multinomial_brier", "identity")},
}

_NAMED = {"neg_squared_hinge": lambda final: squared_hinge_scorer,
          "neg_squared_class_error": lambda final: squared_class_error_scorer,
          "neg_mean_tweedie_deviance": lambda final: make_scorer(
              mean_tweedie_deviance, greater_is_better=False, power=final.power)}

#: every scorer name ``scoring`` takes: scikit-learn's and those of ``_NAMED``
SCORER_NAMES = frozenset(get_scorer_names()) | frozenset(_NAMED)

_GLM_POWER = {"poisson": 1.0, "gamma": 2.0}


def _get_scorer(name, final):
    """The scorer of ``name``; scikit-learn's ``InvalidParameterError`` for a name it does
    not know, as ``GridSearchCV`` raises it for a name in a list or dict."""
    if name not in SCORER_NAMES:
        raise InvalidParameterError(
            f"{name!r} is not a valid scoring value: use sklearn.metrics.get_scorer_names() "
            f"or one of {sorted(_NAMED)}.")
    return _NAMED[name](final) if name in _NAMED else get_scorer(name)


class SearchScoring(NamedTuple):
    """How a search reads ``scoring`` and ``refit`` (see the module).

    Attributes
    ----------
    scorers : dict
        ``{name: scorer}``: ``{"score": scorer}`` for a single metric.
    multimetric : bool
    refit : bool, str or callable
        False, True (or any name: single metric), a key of ``scorers`` or a
        callable.
    refit_key : str or None
        The key of ``scorers`` the best point is chosen by (None: a callable
        ``refit``, or ``refit=False`` with several metrics).
    loss : str
        The held-out loss the search descends (a name of
        :data:`skhypergrad._outer_loss.OUTER_LOSSES`, or "auto": the model's).
    transform : str
        The per-fold map :math:`g_k` of that loss: "identity", "sqrt", "ratio" or
        "shift".
    exact : bool
        Whether the descended criterion is minus the refit scorer's mean (else the
        surrogate).
    rescore : bool
        Whether the points are scored by the scorers (False: the scoring is the
        descended loss's own, recorded as minus the held-out losses).
    names : dict, default=None
        ``{key: scoring name}`` of ``scorers`` (None: the estimator's ``score``; a
        callable: itself).
    """

    scorers: dict
    multimetric: bool
    refit: Any
    refit_key: Any
    loss: str
    transform: str
    exact: bool
    rescore: bool
    names: Any = None


def _as_scorers(scoring, final):
    """``(scorers, names, multimetric)``: ``names`` maps each key to its scoring name
    (None for a callable or the estimator's ``score``)."""
    if scoring is None or callable(scoring):
        scorer = check_scoring(final, scoring=scoring)
        return {"score": scorer}, {"score": None if scoring is None else scoring}, False
    if isinstance(scoring, str):
        return {"score": _get_scorer(scoring, final)}, {"score": scoring}, False
    if isinstance(scoring, (list, tuple, set)):
        items = list(scoring)
        if not items or not all(isinstance(s, str) for s in items) \
                or len(set(items)) != len(items):
            raise ValueError("scoring given as a list, tuple or set must hold distinct "
                             f"scorer names, at least one; got {scoring!r}.")
        return ({s: _get_scorer(s, final) for s in items}, {s: s for s in items}, True)
    if isinstance(scoring, dict):
        if not scoring or not all(isinstance(k, str) for k in scoring):
            raise ValueError("scoring given as a dict must map metric names (str) to "
                             f"scorer names or callables, at least one; got {scoring!r}.")
        scorers, names = {}, {}
        for key, value in scoring.items():
            if isinstance(value, str):
                scorers[key], names[key] = _get_scorer(value, final), value
            elif callable(value):
                scorers[key], names[key] = value, value
            else:
                raise ValueError(f"scoring[{key!r}] must be a scorer name or a callable, "
                                 f"got {value!r}.")
        return scorers, names, True
    raise ValueError("scoring must be None, a scorer name, a callable, a list, tuple or "
                     f"set of names, or a dict of them; got {scoring!r}.")


def routing_scorer(scoring, final):
    """The scorer of ``scoring`` for a final step ``final`` as one object, which the
    search's fit parameters are routed to (as ``GridSearchCV`` routes them): the
    scorer of a single metric (the estimator's ``score`` for None), or the
    scikit-learn multimetric scorer of several."""
    scorers, _, multimetric = _as_scorers(scoring, final)
    return _MultimetricScorer(scorers=scorers, raise_exc=True) if multimetric \
        else scorers["score"]


def check_search_scoring(scoring, refit, kind, final, n_classes=None, multi_output=False,
                         rescaled=False):
    """The :class:`SearchScoring` of ``scoring`` and ``refit`` for a model of loss
    ``kind`` (a key of :data:`SURROGATES`) whose final step is ``final``.

    ``rescaled``: the scorers score predictions on another scale than the model's loss
    (a ``TransformedTargetRegressor``'s inverse-transformed predictions), so no scorer is
    followed exactly: the loss is a surrogate and every point is scored by the scorers.
    """
    scorers, names, multimetric = _as_scorers(scoring, final)
    if multimetric:
        if not (refit is False or callable(refit) or
                (isinstance(refit, str) and refit in scorers)):
            raise ValueError(
                "For multi-metric scoring, refit must be a key of scoring (the metric the "
                "best point is chosen by), a callable (cv_results_ -> best_index_) or "
                f"False; got refit={refit!r} with scoring keys {sorted(scorers)}.")
        refit_key = refit if isinstance(refit, str) else None
    else:  # a name as refit means True, as in GridSearchCV
        refit_key = None if callable(refit) else "score"
    own = SURROGATES[kind][1]
    if not multimetric and names["score"] == own and not rescaled:
        return SearchScoring(scorers, False, refit, refit_key, "auto", "identity", True,
                             False, names)
    exact = None if refit_key is None or rescaled else \
        _exact_for(kind, names[refit_key], n_classes, multi_output)
    loss, transform = exact or ("auto", "identity")
    return SearchScoring(scorers, multimetric, refit, refit_key, loss, transform,
                         exact is not None, True, names)


def descended_name(plan, kind):
    """What the progress lines call the descended criterion of ``plan``."""
    if not plan.exact:
        return f"CV {SURROGATES[kind][0]} (surrogate)"
    if plan.transform == "identity":
        return _LOSS_NAMES.get(plan.loss, f"CV {SURROGATES[kind][0]}")
    if plan.transform == "sqrt":
        return "CV root mean squared error"
    return "-CV R2" if kind == "squared" else "-CV D2"


#: what the progress lines call the held-out losses that are not the model's own
_LOSS_NAMES = {"brier": "CV Brier score", "multinomial_brier": "CV Brier score"}


def _exact_for(kind, name, n_classes, multi_output):
    """``(loss, transform)`` following the scorer ``name`` exactly, or None."""
    if not (name is None or isinstance(name, str)):
        return None  # a callable: not known to be differentiable
    several = EXACT_SEVERAL.get(kind, {}) \
        if multi_output or (n_classes is not None and n_classes > 2) else {}
    return several[name] if name in several else EXACT[kind].get(name)


def check_error_score(error_score):
    """``error_score`` checked: "raise" or a real number (nan included)."""
    if isinstance(error_score, str) and error_score == "raise":
        return error_score
    if isinstance(error_score, numbers.Real) and not isinstance(error_score, bool):
        return float(error_score)
    raise ValueError(f"error_score must be 'raise' or a number, got {error_score!r}.")


# -- per-fold maps of the held-out loss ----------------------------------------------------
class FoldTransform:
    r"""The per-fold maps :math:`g_k` of the held-out losses (see the module).

    ``transform(k, loss) -> (g_k(loss), g_k'(loss))``. ``"ratio"`` reads one constant
    per fold, :math:`c_k`: the variance of the fold's held-out targets (R²), or
    their mean deviance of power ``power`` from their mean (the GLMs' D²);
    ``"shift"`` is :math:`L - 1` (a loss that is one minus the score).

    With the folds' held-out ``weights``, the weighted variance (deviance) about the
    weighted mean, as ``r2_score`` and ``d2_tweedie_score`` take ``sample_weight``.

    Parameters
    ----------
    kind : {"identity", "sqrt", "ratio", "shift"}
    y_tests : list of ndarray
        The folds' held-out targets (read by ``"ratio"``).
    power : float or None, default=None
        Tweedie power of the deviance (None: the variance).
    weights : list of (ndarray or None), default=None
        The folds' held-out sample weights (None: unit weights).
    """

    def __init__(self, kind, y_tests=(), power=None, weights=None):
        self.kind = kind
        self.scales = None
        if kind == "ratio":
            weights = [None] * len(y_tests) if weights is None else weights
            self.scales = np.array([_null_loss(np.asarray(y, dtype=np.float64), power, w)
                                    for y, w in zip(y_tests, weights)])

    def __call__(self, k, loss):
        if self.kind == "identity":
            return loss, 1.0
        if self.kind == "shift":
            return loss - 1.0, 1.0
        if self.kind == "sqrt":
            root = np.sqrt(loss)
            return root, (0.5 / root if root > 0 else np.inf)
        c = self.scales[k]
        if c == 0:  # constant held-out targets: the score is 1 for a perfect fit, else 0
            return (-1.0 if loss == 0 else 0.0), 0.0
        return loss / c - 1.0, 1.0 / c


def _null_loss(y, power, sample_weight=None):
    """Mean loss of the constant prediction ``mean(y)``: the variance, or the mean
    Tweedie deviance of ``power`` (weighted mean and means with ``sample_weight``, checked
    as :func:`~skhypergrad._sample_weight.check_sample_weight` checks it)."""
    sample_weight = check_sample_weight(sample_weight, y.shape[0])
    mean = np.average(y, weights=sample_weight)
    if power is None:
        return float(np.average((y - mean) ** 2, weights=sample_weight))
    return float(mean_tweedie_deviance(y, np.full(y.shape, mean), power=power,
                                       sample_weight=sample_weight))


def transform_power(kind, final):
    """The deviance power of D² for a GLM ``kind`` (None for R²)."""
    if kind in _GLM_POWER:
        return _GLM_POWER[kind]
    if kind == "tweedie":
        return float(final.power)
    return None


# -- scoring the folds' models -------------------------------------------------------------
class FoldScorer:
    """Scores of the fold's model at an evaluated point, by every scorer.

    Parameters
    ----------
    scorers : dict
        ``{name: scorer}``, called as ``scorer(estimator, X, y)``.
    error_score : "raise" or float
        The score recorded when a scorer raises or returns a non-finite value (with a
        warning), or when the point's held-out losses are not finite.
    metrics : dict, default=None
        ``{name: metric}`` computing scorers from the model's decision values
        (:func:`~skhypergrad._decision_scores.decision_metrics`), the same scores
        without the scorers' input checks; a scorer runs where its metric returns None.
    weighted : collection of str, default=None
        The names of the scorers given the views' ``test_params`` / ``train_params``
        (the scorers that take the sample weights routed to them); the others are
        called without them. None: every scorer.
    """

    def __init__(self, scorers, error_score, metrics=None, weighted=None):
        self.scorers = scorers
        self.error_score = error_score
        self.metrics = metrics or {}
        self.weighted = weighted

    def __call__(self, view, w, finite, train):
        """The scores (test, then train when ``train``) of the fold ``view``'s model of
        solution ``w``; ``finite``: whether the fold's held-out loss is finite."""
        n = len(self.scorers)
        if not finite:
            if self.error_score == "raise":
                raise ValueError("The cross-validation loss is not finite at this point "
                                 "(error_score='raise').")
            return np.full(2 * n if train else n, self.error_score)
        estimator = view.estimator(w)
        rows = [(view.X_test, view.y_test, view.test_params)]
        if train:
            rows.append((view.X_train, view.y_train, view.train_params))
        return np.array([self._score(name, scorer, estimator, X, y, params)
                         for X, y, params in rows for name, scorer in self.scorers.items()])

    def _score(self, name, scorer, estimator, X, y, params):
        if self.weighted is not None and name not in self.weighted:
            params = None
        metric = self.metrics.get(name)
        if metric is not None and set(params or ()) <= {"sample_weight"}:
            value = metric(estimator, X, y, **(params or {}))
            if value is not None:
                return value
        try:
            value = scorer(estimator, X, y, **(params or {}))
            if isinstance(value, Mapping):
                raise _SeveralMetrics(sorted(value))
            value = float(value)
        except _SeveralMetrics as exc:
            raise TypeError(
                f"The scoring callable returned a dict of several metrics ({exc.args[0]}); "
                "a search takes several metrics as a list of scorer names or a dict "
                "{name: scorer}, each returning one number. Give scoring={name: "
                "scorer} (or use GridSearchCV).") from None
        except Exception as exc:
            if self.error_score == "raise":
                raise
            warnings.warn(f"Scoring {name!r} failed at an evaluated point; its score is "
                          f"error_score={self.error_score}: {exc!r}", UserWarning,
                          stacklevel=2)
            return self.error_score
        return value


class _SeveralMetrics(Exception):
    """A scorer returned a dict of several metrics (their names as its argument)."""


class FoldView(NamedTuple):
    """A fold's rows as the final step sees them, and that step fitted once on them
    (its fitted state other than ``coef_`` / ``intercept_``).

    ``intercept_column``: the scaling of liblinear's synthetic intercept feature (the
    last column of the rows the model is trained on, dropped for the estimator), or
    None. ``test_params`` / ``train_params``: keyword arguments passed to the scorers
    (those :class:`FoldScorer` gives them to) with the fold's test / training rows
    (e.g. ``{"sample_weight": w[test]}``), or None. ``target``: the fold's fitted
    ``TransformedTargetRegressor`` (None: none), which then wraps the scored model
    (:meth:`~skhypergrad._target_transform.TargetTransform.scored`); ``y_train`` and
    ``y_test`` are the original targets, the template is fitted on the transformed.
    """

    template: Any
    X_train: Any
    y_train: np.ndarray
    X_test: Any
    y_test: np.ndarray
    fit_intercept: bool
    intercept_column: Any
    test_params: Any = None
    train_params: Any = None
    target: Any = None

    def estimator(self, w):
        r"""A copy of the template with the coefficients of ``w`` (the inner model's
        ``[coef.ravel(), intercept]``, coefficients in (p, K) order), wrapped by the
        fold's ``target`` when there is one."""
        est = copy.copy(self.template)  # new coef_ / intercept_, the rest shared
        shape = np.shape(self.template.coef_)
        n_out = shape[0] if len(shape) == 2 else 1
        p = shape[-1] + (self.intercept_column is not None)
        w = np.asarray(w, dtype=np.float64)
        coef = w[:p * n_out].reshape(p, n_out).T
        b = w[p * n_out:] if self.fit_intercept else np.zeros(n_out)
        if self.intercept_column is not None:
            coef, b = coef[:, :-1], self.intercept_column * coef[:, -1]
        est.coef_ = coef if len(shape) == 2 else coef[0]
        est.intercept_ = b.copy() if np.ndim(self.template.intercept_) else float(b[0])
        return est if self.target is None else TargetTransform.scored(self.target, est)


def fold_view(final, fold, intercept_column=None, fit_intercept=True, test_params=None,
              train_params=None):
    """The :class:`FoldView` of a prepared fold: ``final`` fitted once on the fold's
    training rows with one iteration (for its fitted state: classes, number of
    features, link; its coefficients are replaced at each point); ``test_params`` and
    ``train_params`` as :class:`FoldView`'s."""
    X_train, X_test = fold.X_train, fold.X_test
    if intercept_column is not None:
        X_train, X_test = X_train[:, :-1], X_test[:, :-1]
    template = clone(final)
    params = template.get_params(deep=False)
    if "max_iter" in params:
        template.set_params(max_iter=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", UserWarning)
        template.fit(X_train, fold.y_train)
    if "max_iter" in params:
        template.set_params(max_iter=params["max_iter"])
    y_train, y_test = fold.scored_targets
    return FoldView(template, X_train, y_train, X_test, y_test, fit_intercept,
                    intercept_column, test_params, train_params, fold.target)


def unfitted_template(estimator, classes, n_features, n_outputs):
    """``estimator`` (a scikit-learn linear classifier) with the fitted state a
    :class:`FoldView` needs set by hand, as ``LogisticRegressionCV`` scores its folds:
    ``classes_``, ``n_features_in_``, and ``coef_`` / ``intercept_`` of the shapes
    ``(n_outputs, n_features)`` / ``(n_outputs,)``."""
    template = clone(estimator)
    template.classes_ = np.asarray(classes)
    template.n_features_in_ = int(n_features)
    template.coef_ = np.zeros((n_outputs, n_features))
    template.intercept_ = np.zeros(n_outputs)
    return template


class ScoredCriterion(BaseCriterion):
    """``criterion``, whose evaluations also score the model of each of its inner
    problems with ``scorer`` (:class:`FoldScorer`, test scores only).

    ``values`` of a result: those of ``criterion`` (one per inner problem), followed by
    the scores of problem 0, of problem 1, ... The views (:class:`FoldView`, one per
    inner problem) are ``views_of(X, y)``, built once while ``X`` and ``y`` stay the
    same objects.
    """

    def __init__(self, criterion, scorer, views_of):
        self.criterion = criterion
        self.scorer = scorer
        self.views_of = views_of

    def _repr_params(self):
        return [("criterion", repr(self.criterion))]

    def workers(self):
        """The wrapped criterion's :meth:`~skhypergrad.criteria.CrossVal.workers`."""
        return self.criterion.workers()

    def _evaluate(self, model, X, y, lam, solver, engine, state, compute_grad):
        res = self.criterion._evaluate(model, X, y, lam, solver, engine, state, compute_grad)
        views = self._cached((X, y), (), lambda: self.views_of(X, y))
        scores = [self.scorer(view, _expand(st.w), bool(np.isfinite(value)), False)
                  for view, st, value in zip(views, res.state, res.values)]
        return res._replace(values=np.concatenate([res.values] + scores))


# -- the refit scorer's own refinement ------------------------------------------------------
#: evaluations of :func:`polish` per hyperparameter, and its smallest step (in log lam)
POLISH_EVALS = 6
_POLISH_FIRST_STEP = np.log(10) / 4
_POLISH_MIN_STEP = 0.02


def scan_entry(criterion, model, X, y, lam, solver, state, t0):
    """``(entry, state)``: a value-only evaluation of ``criterion`` at ``lam`` as a
    history entry of :func:`~skhypergrad._tune.tune` (``polish=True``), warm-started
    from ``state``; ``seconds`` counted from ``t0``."""
    res = criterion.value(model, X, y, lam, solver=solver, state=state)
    entry = {"lam": np.asarray(lam, dtype=np.float64), "value": float(res.value),
             "grad": None, "tol": getattr(solver, "tol", None),
             "seconds": time.perf_counter() - t0, "best": False, "values": res.values,
             "n_iter_inner": int(np.sum(res.n_iter)), "n_iter_engine": 0,
             "engine_residual": np.nan, "polish": True}
    return entry, res.state


def polish(evaluate, history, score_of, bounds, budget, plateau_stop=False):
    r"""Refine the best point of a surrogate search by the refit score itself.

    A surrogate search descends the model's loss; the refit scorer (accuracy, MAE,
    ...) may be best a little away from the loss's minimum. This compass search on
    :math:`\theta = \log\lambda` tries, from the row with the best score, a step
    ``+/- s`` along each coordinate (``s`` first a quarter of a decade, about the
    spacing of the starting scan), moves to any point that scores better, halves
    ``s`` after a round without one, and stops after ``budget`` evaluations or below
    a step of 0.02. A step that leaves ``bounds`` is projected onto them; points already
    evaluated (within ``s / 4``) are skipped. With ``plateau_stop``, it also stops
    after a first round (at the first ``s``) that found no better point and a point
    scoring the same: the best row is then on a plateau of a piecewise constant score
    at least ``s`` wide.

    Parameters
    ----------
    evaluate : callable
        ``lam -> entry`` (a history entry) or None to stop (a callback asked to).
    history : list of dict
        The search's entries (``"lam"``); the new entries are appended to it.
    score_of : callable
        ``entry -> float``: the refit scorer's mean (nan for a failed point).
    bounds : (ndarray, ndarray) or region
        Bounds on ``lam``, or its region (:mod:`skhypergrad._region`).
    budget : int
        Largest number of evaluations.
    """
    def score(entry):
        s = score_of(entry)
        return -np.inf if np.isnan(s) else s

    thetas = [np.log(np.asarray(h["lam"], dtype=np.float64)) for h in history]
    best = max(range(len(history)), key=lambda i: score(history[i]))
    centre, best_score = thetas[best], score(history[best])
    step, tied = _POLISH_FIRST_STEP, False
    region = as_region(bounds)
    while budget > 0 and step >= _POLISH_MIN_STEP:
        moved = False
        for j in range(centre.shape[0]):
            for sign in (1.0, -1.0):
                if budget <= 0:
                    break
                trial = region.move(centre, j, sign * step)
                if min(np.linalg.norm(t - trial) for t in thetas) < step / 4:
                    continue
                entry = evaluate(np.exp(trial))
                if entry is None:
                    return
                budget -= 1
                history.append(entry)
                thetas.append(trial)
                if score(entry) > best_score:
                    centre, best_score, moved = trial, score(entry), True
                elif score(entry) == best_score:
                    tied = True
        if not moved:
            if plateau_stop and tied and step == _POLISH_FIRST_STEP:
                return
            step /= 2
