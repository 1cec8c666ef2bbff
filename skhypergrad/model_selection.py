r"""A drop-in for ``GridSearchCV`` that follows the gradient instead of a grid.

:class:`HyperGradSearchCV` takes the estimator a user would give to
:class:`~sklearn.model_selection.GridSearchCV` (scikit-learn's ``Lasso``,
``ElasticNet`` or L1 / elastic-net ``LogisticRegression``, alone or at the end
of a ``Pipeline``) and, instead of a parameter grid, nothing: a coarse scan in
units of the data (:mod:`skhypergrad._search_space`) picks where to start. It
minimizes the cross-validation loss by gradient descent on the logarithms of the
regularization parameters, recording every
evaluated point as a row of ``cv_results_`` in ``GridSearchCV``'s format, then
refits the user's estimator at the best point.

How it fits together: the folds are prepared once (the preprocessing steps of a
pipeline fitted on each training fold, as ``GridSearchCV`` does, since they do
not depend on the tuned parameters), the estimator is converted to an
:class:`~skhypergrad.models.InnerModel`, and :func:`skhypergrad._tune.tune`
minimizes the mean of the folds' :class:`~skhypergrad.criteria.HeldOut` losses
(:mod:`skhypergrad._prepared_folds`).
"""

import copy
import time
import warnings
from dataclasses import replace
from typing import NamedTuple

import numpy as np
from joblib import Parallel, delayed
from scipy.stats import rankdata
from sklearn.base import BaseEstimator, MetaEstimatorMixin, _fit_context, clone
from sklearn.linear_model import (ElasticNet, GammaRegressor, Lasso, LogisticRegression,
                                  PoissonRegressor, TweedieRegressor)
from sklearn.linear_model import MultiTaskElasticNet, MultiTaskLasso
from sklearn.metrics import get_scorer, make_scorer, mean_tweedie_deviance
from sklearn.model_selection import check_cv
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.svm import LinearSVC
from sklearn.utils import get_tags, indexable
from sklearn.utils._param_validation import HasMethods, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import _num_samples, check_is_fitted

from ._base import BaseHyperGrad, class_sample_weights, inner_setup
from ._search_space import (GLM, LEAST_SQUARES, LOG_LOSS, SQUARED_HINGE, SearchScales,
                            l2_scale, lam1_max)
from ._threads import search_blas_limits
from ._tune import tune
from ._validation import (atomic_fit, check_bounds, check_cv_size, check_sparse_structure,
                          check_target, safe_lam_max, named, one_convergence_warning)
from ._prepared_folds import PreparedFolds, prepare_fold
from ._routing import route_fit_params, search_router
from .datafits import weighted
from .models import from_estimator
from .optimizers import get_optimizer
from .penalties import (enet_sklearn_from_lam, logistic_sklearn_from_lam,
                        logistic_weight_from_C)
from .squared_hinge import append_intercept_column, squared_hinge_scorer

__all__ = ["HyperGradSearchCV"]

#: the scoring of each estimator's loss, and the scorers scikit-learn does not name (made
#: for the final step: the Tweedie deviance of its power)
_SCORING = {"squared": "neg_mean_squared_error", "log": "neg_log_loss",
            "squared_hinge": "neg_squared_hinge", "poisson": "neg_mean_poisson_deviance",
            "gamma": "neg_mean_gamma_deviance", "tweedie": "neg_mean_tweedie_deviance"}
_SCORERS = {"neg_squared_hinge": lambda final: squared_hinge_scorer,
            "neg_mean_tweedie_deviance": lambda final: make_scorer(
                mean_tweedie_deviance, greater_is_better=False, power=final.power)}
#: where the search looks by default, by loss (as the estimators)
_DEFAULTS = {"squared": LEAST_SQUARES, "log": LOG_LOSS, "squared_hinge": SQUARED_HINGE,
             "poisson": GLM, "gamma": GLM, "tweedie": GLM}
#: the losses of classifiers
_CLASSIFICATION = ("log", "squared_hinge")
#: the scikit-learn GLMs searched (their ``alpha``, an L2 penalty), by loss
_GLMS = {PoissonRegressor: "poisson", GammaRegressor: "gamma", TweedieRegressor: "tweedie"}


#: Inner accuracy (relative duality gap) of every evaluation. Not the loose-to-tight
#: schedule of the estimators: every row of ``cv_results_`` is a record the user
#: compares with ``GridSearchCV``, so its scores must be accurate (about 1e-6
#: relative; a gap of 1e-4 gives errors near 1e-2), for about 10% more time.
_INNER_TOL = (1e-10, 1e-10)


# -- the estimator's parameters <-> lam -----------------------------------------------
class _Space(NamedTuple):
    """Which parameters of the final step are searched, and how they read as ``lam``."""

    prefix: str          # "step__" for a pipeline, "" otherwise
    names: tuple         # e.g. ("alpha", "l1_ratio")
    logistic: bool       # C parametrization (a sum of losses) instead of alpha
    n_samples: int       # n of the full data: lam is the weight of the model refit on it

    def params(self, lam):
        """``{prefix + name: value}`` in scikit-learn's parametrization."""
        if self.logistic:
            C, l1_ratio = logistic_sklearn_from_lam(lam, self.n_samples)
            values = (C, l1_ratio)
        else:
            values = enet_sklearn_from_lam(lam)
        return {self.prefix + name: float(v) for name, v in zip(self.names, values)}

    def lam_bounds(self, bounds, n_hyper):
        """User ``bounds`` on alpha (or C) as bounds on every component of ``lam``."""
        lo, hi = check_bounds(bounds, "bounds")
        if self.logistic:
            lo, hi = (logistic_weight_from_C(hi, self.n_samples),
                      logistic_weight_from_C(lo, self.n_samples))
        return np.full(n_hyper, lo), np.full(n_hyper, hi)


def _unwrap(estimator):
    """``(final_step, preprocessing or None, prefix)``; ValueError for unsupported estimators."""
    final, preprocessing, prefix = estimator, None, ""
    if isinstance(estimator, Pipeline):
        name, final = estimator.steps[-1]
        preprocessing = estimator[:-1] if len(estimator.steps) > 1 else None
        prefix = name + "__"
    if not isinstance(final, (Lasso, ElasticNet, LogisticRegression, LinearSVC, MultiTaskLasso,
                              MultiTaskElasticNet) + tuple(_GLMS)):
        raise ValueError(
            "estimator must be a scikit-learn Lasso, ElasticNet, MultiTaskLasso, "
            "MultiTaskElasticNet or LogisticRegression with an L1 or elastic-net penalty, a "
            "LinearSVC, a PoissonRegressor, GammaRegressor or TweedieRegressor (log link), "
            f"or a Pipeline ending with one; got {type(final).__name__}.")
    if isinstance(final, LinearSVC) and final.fit_intercept:
        # liblinear's intercept: the penalized weight of a synthetic feature
        column = FunctionTransformer(append_intercept_column, accept_sparse=True,
                                     kw_args={"intercept_scaling": final.intercept_scaling})
        steps = [] if preprocessing is None else list(preprocessing.steps)
        preprocessing = Pipeline(steps + [("intercept_column", column)])
    return final, preprocessing, prefix


def _loss_kind(final):
    """The loss the search minimizes for the final step: "squared", "log",
    "squared_hinge", or the mean deviance "poisson", "gamma" or "tweedie"."""
    if isinstance(final, LinearSVC):
        return "squared_hinge"
    if type(final) in _GLMS:
        return _GLMS[type(final)]
    return "log" if isinstance(final, LogisticRegression) else "squared"


def _inner_model(final, y, n_samples=None):
    """The inner model of the final step (an L1 model for ``ElasticNet(l1_ratio=1)``);
    ``n_samples``: the ``n`` of a classifier's ``C`` (the sum of the sample weights),
    its class weights applied by the search."""
    try:
        model = from_estimator(final, y, n_samples=n_samples, class_weight_applied=True)
    except ValueError as exc:
        raise ValueError(f"Unsupported estimator {type(final).__name__}: {exc}") from exc
    if model.penalty == "elasticnet" and model.lam[1] == 0:
        model = replace(model, penalty="l1", lam=model.lam[:1])
    return model


def _check_scoring(scoring, kind):
    expected = _SCORING[kind]
    if scoring is None or (isinstance(scoring, str) and scoring == expected):
        return expected
    raise ValueError(
        f"scoring={scoring!r} is not supported for this estimator: HyperGradSearchCV "
        "follows the gradient of a differentiable cross-validation loss, so scoring must "
        f"be None or {expected!r} (the allowed values are None, 'neg_mean_squared_error' "
        "for Lasso and ElasticNet, 'neg_log_loss' for LogisticRegression, "
        "'neg_squared_hinge' for LinearSVC, 'neg_mean_poisson_deviance', "
        "'neg_mean_gamma_deviance' and 'neg_mean_tweedie_deviance' (of its power) for "
        "PoissonRegressor, GammaRegressor and TweedieRegressor).")


# -- delegation to best_estimator_ ----------------------------------------------------
def _check_refit(search, attr):
    if not search.refit:
        raise AttributeError(
            f"This {type(search).__name__} instance was initialized with refit=False. "
            f"{attr} is available only after refitting on the best parameters; refit "
            "the estimator manually with best_params_.")


def _best_estimator_has(attr):
    """``available_if`` check: the refit estimator (or, before fit, the estimator) has ``attr``."""
    def check(self):
        _check_refit(self, attr)
        getattr(self.best_estimator_ if hasattr(self, "best_estimator_") else self.estimator,
                attr)
        return True
    return check


_DELEGATE_DOC = """Call ``{name}`` on the estimator refit with the best parameters.

        Only available if ``refit=True`` and the estimator has ``{name}``.

        Parameters
        ----------
        X : {{array-like, sparse matrix}} of shape (n_samples, n_features)
            Input of the estimator (of the pipeline's first step); a sparse ``X``
            is checked first, as in :meth:`fit`.

        Returns
        -------
        {returns}
        """


def _delegate(name, returns):
    def method(self, X):
        check_is_fitted(self)
        return getattr(self.best_estimator_, name)(check_sparse_structure(X, "X"))
    method.__name__ = name
    method.__qualname__ = f"HyperGradSearchCV.{name}"
    method.__doc__ = _DELEGATE_DOC.format(name=name, returns=returns)
    return available_if(_best_estimator_has(name))(method)


# -- the search -----------------------------------------------------------------------
class HyperGradSearchCV(MetaEstimatorMixin, BaseEstimator):
    r"""Regularization search by hypergradient descent, in ``GridSearchCV``'s clothes.

    Give it the estimator (or pipeline) you would give to
    :class:`~sklearn.model_selection.GridSearchCV` and no grid: the search starts
    from the best point of a coarse scan, warm-started paths over the L1 weight
    for a few L2 weights, all relative to the data (so that the result does not
    depend on the units of ``y`` or ``X``), and descends the cross-validation loss

    .. math::

        E(\lambda) = \frac1K \sum_{k=1}^K \mathrm{loss}\big(y_{V_k},\,
        \hat y_{V_k}(w^*_{-k}(\lambda))\big)

    over :math:`\log\lambda`, the gradient coming from implicit differentiation
    of each fold's training problem (see :mod:`skhypergrad.hypergrad`). Every
    criterion evaluation becomes one row of ``cv_results_``, in the format of
    ``GridSearchCV`` (``pandas.DataFrame(search.cv_results_)`` works), and the
    best row's parameters are refit on all the data with the estimator's own
    ``fit``.

    Searched parameters (of the final step of a pipeline, named
    ``step__param``):

    ==============================================  =========================
    estimator                                       parameters searched
    ==============================================  =========================
    ``Lasso``                                       ``alpha``
    ``ElasticNet`` (``0 < l1_ratio < 1``)           ``alpha``, ``l1_ratio``
    ``ElasticNet(l1_ratio=1)``                      ``alpha``
    ``LogisticRegression(l1_ratio=1)``              ``C``
    ``LogisticRegression`` (``0 < l1_ratio < 1``)   ``C``, ``l1_ratio``
    ``LinearSVC`` (``loss="squared_hinge"``)        ``C``
    ``PoissonRegressor``, ``GammaRegressor``        ``alpha`` (L2)
    ``TweedieRegressor`` (``1 <= power <= 2``)      ``alpha`` (L2), log link
    ==============================================  =========================

    The deprecated ``penalty="l1"`` and ``penalty="elasticnet"`` (with
    ``l1_ratio``) are also read. Internally the search runs on the logarithms
    of the L1 and L2 weights, ``alpha * l1_ratio`` and ``alpha * (1 - l1_ratio)``
    (for the logistic model ``l1_ratio / C`` and ``(1 - l1_ratio) / C``; for
    ``LinearSVC`` the weight ``1 / C`` of its L2 or L1 penalty, with liblinear's
    penalized intercept: the weight of a synthetic feature of value
    ``intercept_scaling``, see :mod:`skhypergrad.squared_hinge`).

    Parameters
    ----------
    estimator : scikit-learn linear model or Pipeline
        ``Lasso``, ``ElasticNet``, ``LogisticRegression``, ``LinearSVC``,
        ``PoissonRegressor``, ``GammaRegressor`` or ``TweedieRegressor`` (the log
        link, ``1 <= power <= 2``), or a pipeline ending with one. Its parameters say
        which ones are searched (see the table above); with ``init="estimator"``
        they are also the starting point. ``positive=True`` (Lasso, ElasticNet) is
        kept: the search runs on the nonnegative model. A ``class_weight``
        (``LogisticRegression``, ``LinearSVC``) weighs each fold's training loss, computed
        on the fold's training rows as in ``GridSearchCV``; a ``LogisticRegression``
        must have an L1 part (``l1_ratio > 0``).
    scoring : None or str, default=None
        None, "neg_mean_squared_error", "neg_log_loss", "neg_squared_hinge",
        "neg_mean_poisson_deviance", "neg_mean_gamma_deviance" or
        "neg_mean_tweedie_deviance". Only differentiable losses can be followed: the
        mean squared error for ``Lasso`` / ``ElasticNet``, the log-loss for
        ``LogisticRegression``, the mean squared hinge (summed over the classes of
        one-vs-rest, :func:`~skhypergrad.squared_hinge_scorer`) for ``LinearSVC``, and
        the mean deviance for the GLMs (for ``TweedieRegressor``, that of its
        ``power``, a scorer made with ``make_scorer``), which None selects. Scores follow scikit-learn's convention
        (greater is better, the negated loss). Note that ``GridSearchCV``'s ``scoring=None``
        means ``estimator.score`` (R² or accuracy): here it always means the
        loss minimized, and :meth:`score` reports that same score.
    cv : int, cross-validation generator or iterable, default=5
        As in ``GridSearchCV``: an int gives ``StratifiedKFold`` for a classifier
        and ``KFold`` otherwise. The splits are drawn once.
    hypergradient : {"aid-cg", "aid-fp", "itd", "itd-reverse", "nsid"} or engine, default="aid-cg"
        How the gradient of the criterion is computed (:mod:`skhypergrad.hypergrad`);
        every engine runs to the search's tolerance, or to its own for ``"nsid"``
        (see :class:`~skhypergrad.NSID`), or raises a ``ConvergenceWarning``.
        With ``"nsid"`` (or an ``NSID`` instance) and ``solver="auto"`` the inner
        problems are solved by minibatch SAGA.
    optimizer : {"gd", "adam", "lbfgs"} or optimizer instance, default="gd"
        Outer optimizer on the log-parameters (:mod:`skhypergrad.optimizers`).
    max_iter : int, default=30
        Outer steps (a line search may evaluate more than one point per step;
        ``max_iter=0`` evaluates the starting point only).
    tol : float, default=1e-4
        Stop when the best loss improved by less than ``tol`` (relative) over
        three outer steps.
    bounds : (float, float), default=None
        Search interval in the estimator's own parameter: ``alpha`` for
        ``Lasso`` / ``ElasticNet``, ``C`` for ``LogisticRegression``. With two
        parameters it bounds each of ``alpha * l1_ratio`` and
        ``alpha * (1 - l1_ratio)`` (``C / l1_ratio`` and ``C / (1 - l1_ratio)``).
        None: the L1 weight in ``(1e-6, 10) * alpha_max``, ``alpha_max`` being the
        smallest L1 weight that zeroes every coefficient on every training fold,
        and the L2 weight in ``(1e-6, 1e3) * kappa``, ``kappa`` the mean curvature
        of the datafit (the mean variance of the columns for least squares; see
        :mod:`skhypergrad._search_space`). The starting point is moved inside the
        bounds.
    solver : {"auto", "cd", "fista", "saga"} or solver instance, default="auto"
        Inner solver used during the search (the refit uses the estimator's own).
    refit : bool, default=True
        Refit a clone of ``estimator`` with ``best_params_`` on all the data.
    n_jobs : int, default=None
        Folds prepared and solved in parallel with joblib.
    random_state : int, RandomState instance or None, default=None
        Seeds the stochastic solver ("saga") and engine ("nsid").
    verbose : int, default=0
        Progress lines with the estimator's parameter names and the elapsed time:
        the start of the starting scan, its best point, every descent step and
        the result (1), and every point of the scan (2 and more).
    callback : callable, default=None
        Called after every criterion evaluation with a dict (``params`` in the
        estimator's names, ``lam``, ``value`` (mean held-out loss), ``grad``,
        ``values`` (the held-out loss of every fold, followed by the training
        losses with ``return_train_score``), ``seconds``, ...); returning True
        stops the search.
    return_train_score : bool, default=False
        Also record each fold's training score (one matrix-vector product per
        fold and evaluation).
    init : {"scan", "estimator"}, default="scan"
        Where the descent starts: the best point of the coarse scan (its points
        are rows of ``cv_results_``), or the estimator's own parameters (no scan;
        the result then depends on that starting point and on the units of the
        data).

    Attributes
    ----------
    cv_results_ : dict of ndarray
        One row per criterion evaluation, in evaluation order (line-search trial
        points included), with ``GridSearchCV``'s keys: ``param_<name>`` (masked
        arrays), ``params``, ``split<k>_test_score``, ``mean_test_score``,
        ``std_test_score``, ``rank_test_score`` (and the ``train`` counterparts
        with ``return_train_score``), and the times: ``mean_fit_time`` is the
        wall-clock time of the evaluation divided by ``n_splits_`` (solving and
        differentiating every fold: the cost per fold; folds are not timed
        separately, so ``std_fit_time`` is 0), ``mean_score_time`` and
        ``std_score_time`` are 0 (the held-out losses come with the evaluation
        and are counted in the fit time). The preprocessing of a pipeline is
        fitted once per fold before the search and is not counted.
    best_index_ : int
        Row of ``cv_results_`` with the best mean test score.
    best_params_ : dict
        Its parameters, in the estimator's names (``"enet__alpha"`` for a
        pipeline step named ``"enet"``).
    best_score_ : float
        Its mean test score (negated loss: greater is better).
    best_estimator_ : estimator
        Clone of ``estimator`` with ``best_params_``, refit on all the data
        (``refit=True``).
    refit_time_ : float
        Seconds spent refitting.
    scorer_ : callable
        The scorer of ``scoring`` (used by :meth:`score`).
    multimetric_ : bool
        Always False.
    n_splits_ : int
        Number of cross-validation splits.
    n_iter_ : int
        Outer steps taken.
    classes_ : ndarray of shape (n_classes,)
        Class labels (classifiers, ``refit=True``).
    n_features_in_ : int
        Number of features of ``X`` (``refit=True``).
    feature_names_in_ : ndarray of str
        Defined when the refit estimator defines it.

    See Also
    --------
    sklearn.model_selection.GridSearchCV : the exhaustive counterpart.
    skhypergrad.ElasticNetHyperGrad : the same search as a single estimator.

    Notes
    -----
    Every evaluation solves the folds' training problems to a relative duality
    gap of 1e-10, so every row's scores, not only the last ones, are those
    ``GridSearchCV`` would record at its parameters (to about 1e-6 relative).
    The result is the best row: never worse than any point evaluated.
    ``LogisticRegression``'s ``C`` multiplies a *sum* of losses: every fold is
    trained with the same ``C`` on its own training rows, as in ``GridSearchCV``.

    The search trains each fold's model with skhypergrad's own solvers (an
    unpenalized intercept, as scikit-learn's ``Lasso``, ``ElasticNet`` and
    ``LogisticRegression(solver="saga")``; ``liblinear`` penalizes the
    intercept, so its refit differs slightly). ``LinearSVC``'s folds are trained on
    liblinear's own objective, its intercept penalized as the weight of a synthetic
    feature: the search's scores are those of the user's ``LinearSVC``. With
    ``init="estimator"``, a starting L1 weight at which every coefficient of every
    fold is zero lies where the loss is flat (zero gradient); the search then
    starts from a tenth of that threshold, with a warning.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.linear_model import ElasticNet
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skhypergrad.model_selection import HyperGradSearchCV
    >>> X, y = load_diabetes(return_X_y=True)
    >>> pipe = make_pipeline(StandardScaler(), ElasticNet(alpha=1.0, l1_ratio=0.5))
    >>> search = HyperGradSearchCV(pipe, cv=5, max_iter=10).fit(X, y)
    >>> sorted(search.best_params_)
    ['elasticnet__alpha', 'elasticnet__l1_ratio']
    >>> bool(search.best_score_ > search.cv_results_["mean_test_score"][0])
    True
    >>> search.predict(X[:2]).shape
    (2,)
    """

    _parameter_constraints = {
        "estimator": [HasMethods(["fit"])],
        "scoring": [None, str, callable],  # values checked in fit, with a dedicated message
        "bounds": [None, tuple, list],
        "refit": ["boolean"],
        "init": [StrOptions({"scan", "estimator"})],
        "return_train_score": ["boolean"],
        **{key: BaseHyperGrad._parameter_constraints[key]
           for key in ("cv", "hypergradient", "solver", "optimizer", "max_iter", "tol",
                       "n_jobs", "random_state", "verbose", "callback")},
    }

    def __init__(self, estimator, *, scoring=None, cv=5, hypergradient="aid-cg",
                 optimizer="gd", max_iter=30, tol=1e-4, bounds=None, solver="auto",
                 refit=True, n_jobs=None, random_state=None, verbose=0, callback=None,
                 return_train_score=False, init="scan"):
        self.estimator = estimator
        self.scoring = scoring
        self.cv = cv
        self.hypergradient = hypergradient
        self.optimizer = optimizer
        self.max_iter = max_iter
        self.tol = tol
        self.bounds = bounds
        self.solver = solver
        self.refit = refit
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose
        self.callback = callback
        self.return_train_score = return_train_score
        self.init = init

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        sub = get_tags(self.estimator)
        tags.estimator_type = sub.estimator_type
        tags.classifier_tags = copy.deepcopy(sub.classifier_tags)
        tags.regressor_tags = copy.deepcopy(sub.regressor_tags)
        tags.input_tags.sparse = sub.input_tags.sparse
        return tags

    @_fit_context(prefer_skip_nested_validation=False)  # the estimator is validated by its fit
    @atomic_fit
    def fit(self, X, y, groups=None, **params):
        """Search the regularization parameters, then refit the best estimator.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data, as the estimator (pipeline) takes it. A sparse ``X`` is
            checked first (a ``ValueError`` naming ``X`` when its index arrays are
            malformed; a canonical copy when its indices are unsorted or repeated)
            and indexed as CSR, as ``GridSearchCV`` indexes it; a sparse output of
            the pipeline's preprocessing is checked in the same way.
        y : array-like of shape (n_samples,)
            Targets (class labels of any type for ``LogisticRegression``).
        groups : array-like of shape (n_samples,), default=None
            Group labels for a group splitter given as ``cv``.
        **params : dict
            Parameters of the estimator's ``fit``, as ``GridSearchCV`` takes them
            (see :mod:`skhypergrad._routing`): ``sample_weight``
            (``step__sample_weight`` for a pipeline's final step), or, with
            scikit-learn's metadata routing enabled, the parameters the estimator
            and the scorer request. The final step's ``sample_weight`` weighs its
            training loss on every fold (and in the refit, which gets every
            parameter); the weights the scorer requests weigh the held-out losses.
            A classifier's ``class_weight`` multiplies the training weights, computed
            on each fold's training rows as the refit computes it on all of them.

        Returns
        -------
        self
        """
        final, preprocessing, prefix = _unwrap(self.estimator)
        kind = _loss_kind(final)
        classifier = kind in _CLASSIFICATION
        scoring = _check_scoring(self.scoring, kind)
        get_optimizer(self.optimizer)
        X = check_sparse_structure(X, "X")  # before scipy's indexing reads its indices
        with named("X and y"):
            X, y, groups = indexable(X, y, groups)
        check_cv_size(self.cv, _num_samples(X))
        y = check_target(y, classifier=classifier,
                         multi_output=isinstance(final, MultiTaskElasticNet))
        fit_params = route_fit_params(self, self._routing_scorer(), X, groups, params)
        groups = fit_params.groups
        class_weight = getattr(final, "class_weight", None) if classifier else None
        fit_weight = class_sample_weights(class_weight, y, fit_params.sample_weight)
        # the n of C (a classifier's): the sum of the weights of the refit's loss
        n_samples = y.shape[0] if fit_weight is None else float(np.sum(fit_weight))
        model = _inner_model(final, y, n_samples)
        space = _Space(prefix, ("C",) if classifier else ("alpha",), classifier, n_samples)
        if model.get_penalty().n_hyper(1) == 2:  # (alpha, l1_ratio): the elastic nets
            space = space._replace(names=space.names + ("l1_ratio",))

        splits = list(check_cv(self.cv, y, classifier=classifier).split(X, y, groups))
        self.n_splits_ = len(splits)
        sw = fit_params.sample_weight
        train_weights = [class_sample_weights(class_weight, y[train], _rows(sw, train))
                         for train, _ in splits]
        folds = Parallel(n_jobs=self.n_jobs)(
            delayed(prepare_fold)(preprocessing, X, y, train, test,
                                  n_samples / _total(w_train, train) if classifier else 1.0,
                                  w_train, fit_params.score_weight)
            for (train, test), w_train in zip(splits, train_weights))
        lam0, bounds, candidates = self._start(model, folds, space, _DEFAULTS[kind])

        engine, solver, inner_tol = inner_setup(self.hypergradient, self.solver, _INNER_TOL,
                                                self.random_state,
                                                weighted(model.get_datafit(), fit_weight),
                                                weighted=fit_weight is not None)
        callback = None if self.callback is None else \
            (lambda entry: self.callback({**entry, "params": space.params(entry["lam"])}))
        criterion = PreparedFolds(folds, n_jobs=self.n_jobs,
                                  train_loss=self.return_train_score)
        with one_convergence_warning(type(self).__name__), \
                search_blas_limits(folds[0].X_train):
            result = tune(model, None, None, criterion, lam0, bounds=bounds,
                          candidates=candidates, optimizer=self.optimizer, engine=engine,
                          solver=solver,
                          max_iter=self.max_iter, tol=self.tol, inner_tol=inner_tol,
                          callback=callback, verbose=self.verbose,
                          label=type(self).__name__, names=space.params)

        self.cv_results_ = self._format_results(result.history, space)
        self.best_index_ = int(self.cv_results_["rank_test_score"].argmin())
        self.best_params_ = self.cv_results_["params"][self.best_index_]
        self.best_score_ = float(self.cv_results_["mean_test_score"][self.best_index_])
        self.n_iter_ = result.n_iter
        self.scorer_ = _SCORERS[scoring](final) if scoring in _SCORERS \
            else get_scorer(scoring)
        self.multimetric_ = False
        if self.refit:
            self.best_estimator_ = clone(self.estimator).set_params(**self.best_params_)
            t0 = time.perf_counter()
            self.best_estimator_.fit(X, y, **fit_params.estimator)
            self.refit_time_ = time.perf_counter() - t0
            if hasattr(self.best_estimator_, "feature_names_in_"):
                self.feature_names_in_ = self.best_estimator_.feature_names_in_
        return self

    def _start(self, model, folds, space, defaults):
        """``(lam0, bounds, candidates)``: bounds in the user's parameter or relative to the
        data, and either the scan's paths (``init="scan"``) or the estimator's ``lam``,
        off the flat region, in bounds."""
        maps = [model.make_map(f.X_train, model.encode(f.y_train), sample_weight=f.sample_weight)
                for f in folds]
        scales = SearchScales(
            max(safe_lam_max(lam1_max(m), f.X_train, f.y_train) / f.scale
                for m, f in zip(maps, folds)),
            float(np.mean([l2_scale(m) / f.scale for m, f in zip(maps, folds)])),
            maps[0].penalty, maps[0].n_features)
        del maps
        lam0 = np.array(model.lam, dtype=np.float64)
        n_hyper = lam0.shape[0]
        if self.bounds is None:
            lo, hi = scales.bounds(defaults)
        else:
            lo, hi = space.lam_bounds(self.bounds, n_hyper)
        if self.init == "scan":
            candidates = [np.clip(path, lo, hi) for path in scales.scan(defaults)]
            return candidates[0][0], (lo, hi), candidates
        if model.get_penalty().has_l1 and lam0[0] >= scales.l1:
            moved = lam0 * (0.1 * scales.l1 / lam0[0])
            warnings.warn(
                f"The starting point {space.params(lam0)} zeroes every coefficient on "
                "every training fold, where the cross-validation loss is flat; the search "
                f"starts from {space.params(moved)} instead.", UserWarning, stacklevel=3)
            lam0 = moved
        return np.clip(lam0, lo, hi), (lo, hi), None

    def _format_results(self, history, space):
        """``cv_results_`` from the search history, in ``GridSearchCV``'s format."""
        n_rows, k = len(history), self.n_splits_
        seconds = np.diff([0.0] + [h["seconds"] for h in history])
        losses = np.array([h["values"] for h in history], dtype=np.float64)
        params = [space.params(h["lam"]) for h in history]
        results = {}
        _store(results, "fit_time", np.repeat(seconds[:, None] / k, k, axis=1))
        _store(results, "score_time", np.zeros((n_rows, k)))
        for name in params[0]:
            results["param_" + name] = np.ma.MaskedArray(
                [p[name] for p in params], mask=np.zeros(n_rows, dtype=bool))
        results["params"] = params
        _store(results, "test_score", -losses[:, :k], splits=True, rank=True)
        if self.return_train_score:
            _store(results, "train_score", -losses[:, k:], splits=True)
        return results

    def get_metadata_routing(self):
        """The routing of the search's parameters, as ``GridSearchCV``'s: ``fit`` to the
        estimator's ``fit``, ``fit`` and ``score`` to the scorer's ``score``, ``fit``
        to the splitter's ``split`` (see :mod:`skhypergrad._routing`).

        Returns
        -------
        sklearn.utils.metadata_routing.MetadataRouter
        """
        return search_router(self, self._routing_scorer())

    def _routing_scorer(self):
        """The scorer the parameters are routed to: ``scoring`` when it is a callable,
        else the scorer of its name (of the estimator's loss for None)."""
        if callable(self.scoring):
            return self.scoring
        name = self.scoring
        if name is None:
            name = _SCORING[_loss_kind(_unwrap(self.estimator)[0])]
        return _SCORERS[name](_unwrap(self.estimator)[0]) if name in _SCORERS \
            else get_scorer(name)

    def score(self, X, y):
        """Score of the refit estimator on ``(X, y)`` with ``scorer_``.

        The same score as ``best_score_`` and ``cv_results_`` (the negated mean
        squared error or log-loss), not ``estimator.score``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            A sparse ``X`` is checked first, as in :meth:`fit`.
        y : array-like of shape (n_samples,)

        Returns
        -------
        float
        """
        _check_refit(self, "score")
        check_is_fitted(self)
        return self.scorer_(self.best_estimator_, check_sparse_structure(X, "X"), y)

    predict = _delegate("predict", "ndarray of shape (n_samples,)")
    predict_proba = _delegate("predict_proba", "ndarray of shape (n_samples, n_classes)")
    predict_log_proba = _delegate("predict_log_proba",
                                  "ndarray of shape (n_samples, n_classes)")
    decision_function = _delegate("decision_function",
                                  "ndarray of shape (n_samples,) or (n_samples, n_classes)")
    transform = _delegate("transform", "{ndarray, sparse matrix} of shape (n_samples, n_out)")

    @property
    def n_features_in_(self):
        """Number of features seen by the refit estimator (``refit=True``)."""
        if not hasattr(self, "best_estimator_"):
            raise AttributeError(f"{type(self).__name__} has no n_features_in_ before a fit "
                                 "with refit=True.")
        return self.best_estimator_.n_features_in_

    @property
    def classes_(self):
        """Class labels of the refit classifier (``refit=True``)."""
        _best_estimator_has("classes_")(self)
        return self.best_estimator_.classes_


def _rows(values, rows):
    """``values[rows]``, None for None."""
    return None if values is None else values[rows]


def _total(weights, rows):
    """The sum of ``weights`` (the number of ``rows`` for None)."""
    return len(rows) if weights is None else float(np.sum(weights))


def _store(results, key, array, splits=False, rank=False):
    """``split<k>_<key>``, ``mean_<key>``, ``std_<key>`` (and ``rank_<key>``), as GridSearchCV."""
    if splits:
        for k in range(array.shape[1]):
            results[f"split{k}_{key}"] = array[:, k]
    means = array.mean(axis=1)
    results["mean_" + key] = means
    results["std_" + key] = np.sqrt(((array - means[:, None]) ** 2).mean(axis=1))
    if rank:  # failed (NaN) rows tie with the worst, as in GridSearchCV
        if np.isnan(means).all():
            results["rank_" + key] = np.ones(means.shape, dtype=np.int32)
        else:
            means = np.where(np.isnan(means), np.nanmin(means) - 1, means)
            results["rank_" + key] = rankdata(-means, method="min").astype(np.int32)
