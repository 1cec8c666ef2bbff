r""":class:`HyperGradSearchCV`: the search class, from the user's estimator to ``cv_results_``.

``fit`` reads the estimator (:mod:`skhypergrad._search_estimator`), prepares the
folds once (:mod:`skhypergrad._prepared_folds`), starts from the scan in units of
the data (:mod:`skhypergrad._search_space`), runs :func:`skhypergrad._tune.tune` on
the mean of the folds' held-out losses, scores every point
(:mod:`skhypergrad._scoring`), assembles ``cv_results_``
(:mod:`skhypergrad._search_results`) and refits the user's estimator. The kernel
models' searches run in :mod:`skhypergrad._kernel_search_cv`.
"""

import copy
import numbers
import time
import warnings

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, MetaEstimatorMixin, _fit_context, clone
from sklearn.model_selection import check_cv
from sklearn.utils import get_tags, indexable
from sklearn.utils._param_validation import HasMethods, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import _num_samples, check_is_fitted

from ._base import BaseHyperGrad, class_sample_weights, inner_setup
from ._kernel_search_cv import fit_kernel_search
from ._progress import Progress
from ._scoring import (POLISH_EVALS, FoldScorer, FoldTransform, check_error_score,
                       check_search_scoring, descended_name, fold_view, polish, routing_scorer,
                       scan_entry, transform_power)
from ._search_estimator import SearchSpace, n_penalty_hyper, search_model, tie_ratio, unwrap
from ._param_grid import fit_param_grid, lam_box
from ._search_results import SearchRun, best_index, format_results
from ._search_space import SearchScales, l2_scale, lam1_max
from ._threads import search_blas_limits
from ._tune import _with_tol, tune
from ._validation import (atomic_fit, check_cv_size, check_sparse_structure,
                          check_target, floored_lam_max, lam_max_floor, named,
                          one_convergence_warning)
from ._prepared_folds import PreparedFolds, prepare_fold
from ._parallel import design_entries, fold_n_jobs
from ._routing import route_fit_params, search_router
from ._weighted_datafit import weighted
from .optimizers import get_optimizer

__all__ = ["HyperGradSearchCV"]


#: Inner accuracy (relative duality gap) of every evaluation. Not the loose-to-tight
#: schedule of the estimators: every row of ``cv_results_`` is a record the user
#: compares with ``GridSearchCV``, so its scores must be as accurate as the user's
#: estimator's (a relative gap of 1e-4 gives errors near 1e-2). The value-only rows of
#: an estimator whose adapter states its own stopping rule (``row_tol``) stop there.
_INNER_TOL = (1e-10, 1e-10)


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
    :class:`~sklearn.model_selection.GridSearchCV`, with or without its grid (its
    ranges become the search's box, see ``param_grid``): the search starts
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
    ``LogisticRegression()`` (L2, the default)      ``C``
    ``Ridge``, ``RidgeClassifier``                  ``alpha`` (L2)
    ``HuberRegressor``                              ``alpha``, ``epsilon``
    ``KernelRidge`` (dense ``X``)                   ``alpha``, ``gamma``
    ``SVC`` (dense ``X``)                           ``C``, ``gamma``
    ``SVR`` (dense ``X``)                           ``C``, ``epsilon``, ``gamma``
    ``LinearSVR`` (dense ``X``)                     ``C``, ``epsilon``
    ==============================================  =========================

    The dual models (``KernelRidge``, ``SVC``, ``SVR``, ``LinearSVR``) are searched by
    :mod:`skhypergrad.kernel_ridge`, :mod:`skhypergrad.svc`, :mod:`skhypergrad.svr` and
    :mod:`skhypergrad.linear_svr`: a scan of a coarse grid in units of the data, then
    gradient descent, every point a row of ``cv_results_``; ``gamma`` is searched for the
    kernels with a width ("rbf", "laplacian", "poly"). They take ``scoring`` and
    ``refit`` as the linear models do (see :mod:`skhypergrad._kernel_scoring`): the
    regressors descend the held-out mean squared error, or the RMSE or R² when that is
    the refit scorer; ``SVC``'s descent follows a smooth surrogate, the held-out logistic
    loss of the scaled decision function (``mean_test_loss`` of ``cv_results_``), and
    the refit scorer (accuracy by default) ranks the points. Sample weights are those of
    ``KernelRidge``, ``SVC`` and ``SVR`` (per-sample bounds ``C w_i``; ``SVC``'s
    ``class_weight`` too) and ``LinearSVR``. The default
    ``optimizer="gd"`` is L-BFGS-B for them (their criterion is exact, its valleys
    narrow), and the default ``hypergradient="aid-cg"`` their exact fast path (the
    eigendecomposition of each training fold's kernel, the KKT system of the SVMs' free
    coefficients). The kernel models store dense ``n x n`` kernels, refused when they
    would not fit in memory (:func:`~skhypergrad.kernels.check_kernel_memory`).

    For ``HuberRegressor`` the concomitant scale is estimated once, on the first
    training fold at the estimator's ``epsilon`` and an L2 weight in units of the data
    (:meth:`~skhypergrad.huber.Huber.constants_lam`, as
    :class:`~skhypergrad.HuberRegressorHyperGrad`: the search follows
    :math:`y \to c\,y`, its ``alpha`` times :math:`1/c`), and kept fixed
    during the search (see :mod:`skhypergrad.huber`): the rows of ``cv_results_``
    are the scores of that fixed-scale model, close to but not exactly
    ``HuberRegressor``'s; the refit is ``HuberRegressor``'s own. ``epsilon`` is
    searched in [1.1, 3] (at 1 the scale vanishes).

    The deprecated ``penalty="l1"`` and ``penalty="elasticnet"`` (with
    ``l1_ratio``) are also read. Internally the search runs on the logarithms
    of the L1 and L2 weights, ``alpha * l1_ratio`` and ``alpha * (1 - l1_ratio)``
    (for the logistic model ``l1_ratio / C`` and ``(1 - l1_ratio) / C``; for
    ``LinearSVC`` the weight ``1 / C`` of its L2 or L1 penalty, with liblinear's
    penalized intercept: the weight of a synthetic feature of value
    ``intercept_scaling``, see :mod:`skhypergrad.squared_hinge`; for ``Ridge`` and
    ``RidgeClassifier``, ``alpha / n``: their ``alpha`` multiplies a sum of squares,
    and every fold is trained with the same ``alpha`` on its own rows, as in
    ``GridSearchCV``).

    Parameters
    ----------
    estimator : scikit-learn linear model or Pipeline
        ``Lasso``, ``ElasticNet``, ``LogisticRegression``, ``LinearSVC``,
        ``PoissonRegressor``, ``GammaRegressor``, ``TweedieRegressor`` (the log
        link, ``1 <= power <= 2``) or ``HuberRegressor``, or a pipeline ending with
        one. Its parameters say
        which ones are searched (see the table above); with ``init="estimator"``
        they are also the starting point. ``positive=True`` (Lasso, ElasticNet) is
        kept: the search runs on the nonnegative model. A ``class_weight``
        (``LogisticRegression``, ``LinearSVC``, ``RidgeClassifier``) weighs each fold's
        training loss, computed on the fold's training rows as in ``GridSearchCV``.
        ``RidgeClassifier`` is scored by the squared error of its decision
        function against the labels ``+-1`` (``"neg_squared_class_error"``, see
        :mod:`skhypergrad.ridge_classifier`). The dual models (``KernelRidge``,
        ``SVC``, ``SVR``, ``LinearSVR``) are listed in the table above.
    param_grid : dict or list of dicts, default=None
        ``GridSearchCV``'s grid, read as boxes (see :mod:`skhypergrad._param_grid`):
        a searched parameter of the table above that the grid names is searched
        within the smallest and largest of its values (one value fixes it; a
        scipy.stats distribution gives its support), and one the grid does not name
        keeps the estimator's value, as ``GridSearchCV`` keeps it; any other
        parameter (``kernel``, ``fit_intercept``, a preprocessing step's option) is
        enumerated (as is a searched parameter given values that are not numbers, such
        as ``gamma: ["scale", "auto"]``), one search per combination of its values,
        as ``GridSearchCV`` enumerates it. ``HyperGradSearchCV(SVC(), {"kernel": ["linear", "rbf"],
        "C": [1, 10]})`` searches ``C`` in [1, 10] for each kernel (``gamma`` stays
        ``"scale"``). Points the search cannot follow as a box (an elastic net's
        ``l1_ratio`` with ``alpha`` fixed, values at or below 0, every searched
        parameter fixed, an estimator not in the table) are evaluated as
        ``GridSearchCV`` evaluates them, with a warning. The rows of every search form
        ``cv_results_``, ranked together; their
        ``params`` hold the grid's names. None: every searched parameter, within
        ``bounds`` or the default range in units of the data.
    scoring : str, callable, list, tuple, set, dict or None, default=None
        As in ``GridSearchCV``: a scorer name, a callable
        ``scorer(estimator, X, y)`` (e.g. from ``make_scorer``), a list / tuple /
        set of names or a dict ``{name: scorer}`` (several metrics, recorded as
        ``mean_test_<name>``...), or None for the estimator's own ``score`` (R² for
        the regressors, D² for the GLMs, the accuracy for the classifiers). Greater
        is better. The search descends the refit scorer exactly when it is
        differentiable in the predictions, and otherwise a smooth surrogate, the
        loss of the model (see the table in the Notes); either way every evaluated
        point is scored by every scorer on every fold and the best point is chosen
        by the refit scorer, as ``GridSearchCV`` does. The scorers also take the
        names "neg_squared_hinge" (:func:`~skhypergrad.squared_hinge_scorer`),
        "neg_squared_class_error" (:func:`~skhypergrad.squared_class_error_scorer`) and
        "neg_mean_tweedie_deviance" (of the ``TweedieRegressor``'s power).
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
        Search interval (without ``param_grid``) in the estimator's own parameter: ``alpha`` for
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
    refit : bool, str or callable, default=True
        As in ``GridSearchCV``: refit a clone of ``estimator`` with ``best_params_``
        on all the data. With several metrics, the name of the one the best point
        is chosen by (or False: no ``best_*`` attributes). A callable takes
        ``cv_results_`` and returns ``best_index_`` (then there is no
        ``best_score_``); the search then descends the surrogate.
    n_jobs : int, default=None
        Folds prepared, solved and scored in parallel with joblib. Under a process
        backend (joblib's default) they run serially where the workers are not
        expected to pay: prepared, without a pipeline's preprocessing (the workers would
        send the folds' rows back) and while the stored entries of ``X`` times the
        folds are below ``10^8``; solved, while the estimated work of an evaluation, the
        stored entries of the folds' training designs in all, is below ``10^8`` (e.g.
        25,000 x 1,000 dense, 5 folds), and whatever its size for least
        squares on dense designs with one output and at most 2,048 features, fewer
        than the rows (solved on Gram matrices formed once in the calling process; see
        :class:`~skhypergrad.CrossVal`'s ``n_jobs``). The searches of ``KernelRidge``,
        ``SVC``, ``SVR`` and ``LinearSVR`` and the refit run in the calling process
        whatever ``n_jobs``; a discrete ``param_grid`` is handed to ``GridSearchCV``
        with it.
    pre_dispatch : int or str, default="2*n_jobs"
        joblib's ``pre_dispatch`` of those parallel calls: how many fold tasks are
        dispatched ahead (with K folds per call, it matters only for more folds
        than jobs).
    random_state : int, RandomState instance or None, default=None
        Seeds the stochastic solver ("saga") and engine ("nsid").
    verbose : int, default=0
        Progress lines with the estimator's parameter names and the elapsed time
        (the levels of ``GridSearchCV``): the start of the starting scan, its best
        point, every descent step, the refinement by the refit scorer and the
        result (1); every point of the scan too (2); and every fold's scores at every
        point (3 and more, with a ``scoring`` other than the descended loss).
    callback : callable, default=None
        Called after every criterion evaluation with a dict (``params`` in the
        estimator's names, ``lam``, ``value`` (mean held-out loss), ``grad``,
        ``values`` (the held-out loss of every fold, followed by the training
        losses with ``return_train_score``), ``seconds``, ...); returning True
        stops the search.
    error_score : "raise" or float, default=np.nan
        The score recorded for a failing fold at a point, as ``GridSearchCV``'s:
        a scorer that raises (or, with ``"raise"``, its exception is raised) and a
        point whose held-out loss is not finite (an inner solve or hypergradient
        that failed numerically: the search itself backs off from such points and
        keeps the best point seen; with ``"raise"`` a ``ValueError``). Exceptions of
        the inner solvers are raised, as ``error_score="raise"``. Failed (NaN)
        rows rank last.
    return_train_score : bool, default=False
        Also record each fold's training score (``train_<name>`` keys).
    init : {"scan", "estimator"}, default="scan"
        Where the descent starts: the best point of the coarse scan (its points
        are rows of ``cv_results_``; its first path is left once its loss has
        stayed above its minimum for a decade of the weight: two thirds of a
        decade, two points, for ``Lasso``, ``ElasticNet`` and their multi-task
        versions; two decades for ``LinearSVC`` with sample or class weights, as
        ``LinearSVCHyperGrad``), or the
        estimator's own parameters (no scan; the result then depends on that starting
        point and on the units of the data).

    Attributes
    ----------
    cv_results_ : dict of ndarray
        One row per criterion evaluation, in evaluation order (scan, descent with
        its line-search trial points, refinement by the refit scorer), with
        ``GridSearchCV``'s keys: ``param_<name>`` (masked arrays), ``params``,
        ``split<k>_test_score``, ``mean_test_score``, ``std_test_score``,
        ``rank_test_score`` (``..._test_<name>`` for each metric with several; and
        the ``train`` counterparts with ``return_train_score``), and the times:
        ``mean_fit_time`` is the wall-clock time of the evaluation divided by ``n_splits_``
        (solving and
        differentiating every fold: the cost per fold; folds are not timed
        separately, so ``std_fit_time`` is 0), ``mean_score_time`` and
        ``std_score_time`` are 0 (the held-out losses come with the evaluation
        and are counted in the fit time, as is the scoring). The preprocessing of
        a pipeline is fitted once per fold before the search and is not counted.
    best_index_ : int
        Row of ``cv_results_`` with the best mean test score of the refit metric
        (or returned by a callable ``refit``).
    best_params_ : dict
        Its parameters, in the estimator's names (``"enet__alpha"`` for a
        pipeline step named ``"enet"``).
    best_score_ : float
        Its mean test score (greater is better); not set with a callable ``refit``.
    best_estimator_ : estimator
        Clone of ``estimator`` with ``best_params_``, refit on all the data
        (``refit=True``).
    refit_time_ : float
        Seconds spent refitting.
    scorer_ : callable or dict
        The scorer of ``scoring`` (a dict of them with several metrics), used by
        :meth:`score`.
    multimetric_ : bool
        Whether ``scoring`` has several metrics.
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
    What is descended, by refit scorer (the scorer's mean over folds is followed
    exactly when it is a smooth function of each fold's held-out loss
    :math:`L_k`; see :mod:`skhypergrad._scoring`):

    ====================================  ======================================
    refit scorer                          descended
    ====================================  ======================================
    ``"neg_mean_squared_error"``          the CV mean squared error
    ``"neg_root_mean_squared_error"``     :math:`\frac1K\sum_k \sqrt{L_k}`
    ``"r2"``; None for a regressor        :math:`\frac1K\sum_k L_k / v_k`, with
                                          :math:`v_k` the variance of the
                                          fold's held-out targets (the mean
                                          R² is 1 minus that)
    ``"neg_log_loss"``                    the CV log-loss
    ``"neg_brier_score"``                 the CV Brier score (summed over the
                                          classes for three or more)
    ``"neg_mean_<family>_deviance"``      the CV mean deviance of the GLM
    None for a GLM                        :math:`\frac1K\sum_k L_k / d_k`, with
                                          :math:`d_k` the mean deviance of the
                                          fold's mean (mean D² = 1 minus that)
    ``"neg_squared_hinge"``               the CV mean squared hinge
    any other                             the surrogate, the model's loss (the
                                          mean squared error, log-loss, squared
                                          hinge or deviance), then a compass
                                          search on the refit scorer itself
                                          from its best point
    ====================================  ======================================

    "Any other" is, e.g., the accuracy, ROC AUC, F1, balanced accuracy, mean or
    median absolute error, a callable or ``make_scorer`` scorer, and the metrics
    of a callable ``refit``.
    The multi-output models follow their mean squared error and their R²
    (averaged over the outputs: :math:`\frac1K\sum_k \frac1T\sum_t L_{kt} / v_{kt}`,
    each output's mean squared error over its variance) exactly, the root mean
    squared error (averaged over the outputs' roots) through the surrogate. The scores
    of the rows are those of ``GridSearchCV``: each fold's model at the point (the
    solution the search computed, set as ``coef_`` and ``intercept_`` of a copy of the
    final step fitted once on the fold) scored on the fold's held-out rows as the
    pipeline's preprocessing (fitted on the fold's training rows) transforms
    them. A scorer therefore receives the final step, not the pipeline.

    A row of ``cv_results_`` is what ``GridSearchCV`` would record for the
    estimator at its parameters: the folds' training problems solved to the
    accuracy of the estimator's own solver, not tighter. For ``PoissonRegressor``,
    ``GammaRegressor`` and ``TweedieRegressor``, the rows of the scan (values only)
    are solved until the largest entry of the objective's gradient, over the
    coefficients and the intercept, is at most the estimator's ``tol``
    (scikit-learn's ``lbfgs`` stopping rule on the same objective; or to a
    relative duality gap of 1e-10, if reached first), checked once per outer
    iteration of coordinate descent, so that a row may be more accurate than the
    estimator's own. The points where a
    hypergradient is taken, and the best row (solved again when it is a scan
    row), are solved to a relative duality gap of 1e-10: a hypergradient's error
    is proportional to the solution's, and the refit's point is exact. Every row
    of the other estimators is solved to a relative duality gap of 1e-10 (its
    scores those of a tight ``GridSearchCV`` to about 1e-6 relative).
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
        "param_grid": [None, dict, list],
        "scoring": [None, str, callable, list, tuple, set, dict],  # values checked in fit
        "bounds": [None, tuple, list],
        "refit": ["boolean", str, callable],
        "error_score": [StrOptions({"raise"}), numbers.Real],
        "pre_dispatch": [numbers.Integral, str],
        "init": [StrOptions({"scan", "estimator"})],
        "return_train_score": ["boolean"],
        **{key: BaseHyperGrad._parameter_constraints[key]
           for key in ("cv", "hypergradient", "solver", "optimizer", "max_iter", "tol",
                       "n_jobs", "random_state", "verbose", "callback")},
    }

    def __init__(self, estimator, param_grid=None, *, scoring=None, cv=5,
                 hypergradient="aid-cg",
                 optimizer="gd", max_iter=30, tol=1e-4, bounds=None, solver="auto",
                 refit=True, n_jobs=None, pre_dispatch="2*n_jobs", random_state=None,
                 verbose=0, callback=None, error_score=np.nan, return_train_score=False,
                 init="scan"):
        self.estimator = estimator
        self.param_grid = param_grid
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
        self.pre_dispatch = pre_dispatch
        self.random_state = random_state
        self.verbose = verbose
        self.callback = callback
        self.error_score = error_score
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
        if self.param_grid is not None:
            if self.bounds is not None:
                raise ValueError("Give the search's range as param_grid or as bounds, not "
                                 "both.")
            return self._finish(fit_param_grid(self, X, y, groups, params))
        return self._finish(self._run(self.estimator, X, y, groups, params))

    def _run(self, estimator, X, y, groups, params, cv=None, box=None):
        """One search of ``estimator``'s parameters (the table of the class docstring) on
        the splits of ``cv`` (``self.cv`` when None), within ``box`` (``{name: (low,
        high)}`` in the estimator's parameters, see :mod:`skhypergrad._param_grid`; None:
        ``bounds`` or the data's scales): a
        :class:`~skhypergrad._search_results.SearchRun`."""
        cv = self.cv if cv is None else cv
        final, preprocessing, prefix, adapter, kernel = unwrap(estimator)
        if kernel is not None:
            with named("X and y"):
                X, y, groups = indexable(X, y, groups)
            check_cv_size(cv, _num_samples(X))
            return fit_kernel_search(self, final, preprocessing, prefix, X, y, groups,
                                     params, cv, box)
        kind, classifier, multi_output = adapter.loss, adapter.classifier, adapter.multi_output
        error_score = check_error_score(self.error_score)
        get_optimizer(self.optimizer)
        X = check_sparse_structure(X, "X")  # before scipy's indexing reads its indices
        with named("X and y"):
            X, y, groups = indexable(X, y, groups)
        check_cv_size(cv, _num_samples(X))
        y = check_target(y, classifier=classifier, multi_output=multi_output)
        plan = check_search_scoring(self.scoring, self.refit, kind, final,
                                    len(np.unique(y)) if classifier else None, multi_output)
        fit_params = route_fit_params(self, routing_scorer(self.scoring, final), X, groups,
                                      params)
        groups = fit_params.groups
        class_weight = final.class_weight if classifier else None  # (every classifier's)
        fit_weight = class_sample_weights(class_weight, y, fit_params.sample_weight)
        # the n of C and of a sum of losses' alpha: the sum of the weights of the refit's
        n_samples = y.shape[0] if fit_weight is None else float(np.sum(fit_weight))
        model = search_model(adapter, final, y, n_samples)
        if box is not None:  # l1_ratio fixed, alpha (C) searched: a penalty of one weight
            model = tie_ratio(model, box, adapter.parametrization, prefix)
        if fit_weight is not None and not model.get_datafit().accepts_sample_weight:
            raise ValueError(f"{type(final).__name__} cannot be searched with sample "
                             "weights: its datafit takes none.")
        space = SearchSpace(prefix, adapter.parametrization, n_penalty_hyper(model), n_samples)

        splits = list(check_cv(cv, y, classifier=classifier).split(X, y, groups))
        self.n_splits_ = len(splits)
        progress = Progress(self.verbose, type(self).__name__, space.params)
        progress.start(self.n_splits_, descended_name(plan, kind),
                       [_scoring_label(self.scoring) if name == "score" else name
                        for name in plan.scorers])
        # without preprocessing, a fold is its rows: a worker would only index them and
        # send the copies back, slower than the process copies them
        parallel = Parallel(n_jobs=fold_n_jobs(self.n_jobs, design_entries(X) * len(splits),
                                               in_process=preprocessing is None),
                            pre_dispatch=self.pre_dispatch)
        sw = fit_params.sample_weight
        train_weights = [class_sample_weights(class_weight, y[train], _rows(sw, train))
                         for train, _ in splits]
        folds = parallel(
            delayed(prepare_fold)(preprocessing, X, y, train, test,
                                  n_samples / _total(w_train, train)
                                  if space.sum_of_losses else 1.0,
                                  w_train, fit_params.score_weight)
            for (train, test), w_train in zip(splits, train_weights))
        # constants the datafit estimates (Huber's scale), once, on the first training fold,
        # at the weights its datafit states in units of the data (not the estimator's
        # own alpha, which the search replaces)
        X0, y0 = folds[0].X_train, model.encode(folds[0].y_train)
        model = model.with_data_constants(X0, y0, model.get_datafit().constants_lam(
            model, X0, y0, _fold_lam(model, model.lam, folds[0].scale),
            adapter.defaults.l2_range[0]))
        engine, solver, inner_tol = inner_setup(self.hypergradient, self.solver, _INNER_TOL,
                                                self.random_state,
                                                weighted(model.get_datafit(), fit_weight),
                                                weighted=fit_weight is not None)
        # the value-only rows at the user's estimator's own accuracy (see the class)
        scan_solver = None if adapter.row_tol is None or solver is None \
            else solver.loosened(adapter.row_tol(adapter.read(final)))
        stopped = [False]  # whether callback asked the search to stop
        callback = self._entry_callback(plan, space, stopped)
        criterion = PreparedFolds(folds, n_jobs=self.n_jobs, pre_dispatch=self.pre_dispatch,
                                  train_loss=self.return_train_score, loss=plan.loss,
                                  **self._scoring_parts(plan, final, adapter, model, folds,
                                                        error_score, parallel))
        # the floors of lam1_max from the folds' raw rows, before their maps centre them
        floors = [lam_max_floor(f.X_train, f.y_train) for f in folds]
        lam0, bounds, candidates = self._start(
            model, folds, criterion.training_maps(model, solver), floors, space,
            adapter.defaults,
            None if box is None else _linear_lam_box(box, prefix, adapter, final, y,
                                                      n_samples, model.get_penalty().tied))
        t0 = time.perf_counter()
        with one_convergence_warning(type(self).__name__), \
                search_blas_limits(folds[0].X_train):
            result = tune(model, None, None, criterion, lam0, bounds=bounds,
                          candidates=candidates, optimizer=self.optimizer, engine=engine,
                          solver=solver,
                          max_iter=self.max_iter, tol=self.tol, inner_tol=inner_tol,
                          callback=callback, verbose=self.verbose,
                          label=type(self).__name__, names=space.params,
                          loss_name=descended_name(plan, kind), scan_solver=scan_solver,
                          scan_patience=adapter.defaults.patience(
                              fit_weight is not None or fit_params.score_weight is not None))
            history = list(result.history)
            if plan.rescore and not plan.exact and plan.refit_key is not None \
                    and not stopped[0]:
                self._polish(history, plan, criterion, model, result.state, bounds,
                             _with_tol(solver, inner_tol[1]), callback, stopped, progress,
                             t0)

        results = format_results(history, [space.params(h["lam"]) for h in history],
                                 self.n_splits_, plan, error_score, self.return_train_score)
        key = "score" if not plan.multimetric else plan.refit_key

        def chosen(index, key, score):
            if plan.rescore:
                progress.chosen(history[index]["lam"], key, score)

        return SearchRun(results, result.n_iter, plan.multimetric,
                         plan.scorers if plan.multimetric else plan.scorers["score"], key,
                         X, y, fit_params.estimator, chosen=chosen)

    def _finish(self, run):
        """Set the attributes of :class:`~skhypergrad._search_results.SearchRun` ``run``,
        choose the best row as ``GridSearchCV`` does and refit; returns self."""
        self.cv_results_ = run.results
        self.n_iter_ = run.n_iter
        self.multimetric_ = run.multimetric
        self.scorer_ = run.scorer
        if self.refit or not run.multimetric:
            self.best_index_ = best_index(self.refit, run.key, run.results) \
                if run.best is None else run.best
            self.best_params_ = run.results["params"][self.best_index_]
            if not callable(self.refit):
                self.best_score_ = float(
                    run.results[f"mean_test_{run.key}"][self.best_index_])
                if run.chosen is not None:
                    run.chosen(self.best_index_, run.key, self.best_score_)
        if self.refit:
            self.best_estimator_ = clone(self.estimator).set_params(
                **clone(self.best_params_, safe=False))
            t0 = time.perf_counter()
            self.best_estimator_.fit(run.X, run.y, **run.fit_params)
            self.refit_time_ = time.perf_counter() - t0
            if hasattr(self.best_estimator_, "feature_names_in_"):
                self.feature_names_in_ = self.best_estimator_.feature_names_in_
        return self

    def _polish(self, history, plan, criterion, model, state, bounds, solver, callback,
                stopped, progress, t0):
        """Refine the best point by the refit scorer itself (a surrogate search; see
        :func:`~skhypergrad._scoring.polish`), :data:`POLISH_EVALS` evaluations per
        parameter at most; the new entries are appended to ``history``."""
        k, train = self.n_splits_, int(self.return_train_score)
        m = list(plan.scorers).index(plan.refit_key)
        last = [state]

        def score_of(entry):
            scores = np.asarray(entry["values"])[k * (1 + train):]
            return float(scores.reshape(k, 1 + train, len(plan.scorers))[:, 0, m].mean())

        def evaluate(lam):
            if stopped[0]:
                return None
            entry, last[0] = scan_entry(criterion, model, None, None, lam, solver, last[0],
                                        t0)
            progress.refine(lam, plan.refit_key, score_of(entry))
            if callback is not None:
                callback(entry)
            return entry

        polish(evaluate, history, score_of, bounds, POLISH_EVALS * len(bounds[0]))

    def _entry_callback(self, plan, space, stopped):
        """Called by the search with every history entry: prints each fold's scores
        (``verbose >= 3``, scorers), then calls ``callback`` with ``params``; when it
        returns True, sets ``stopped[0]`` and asks the search to stop."""
        progress = Progress(self.verbose if plan.rescore else 0, type(self).__name__)
        if progress.verbose < 3 and self.callback is None:
            return None
        k, train, seen = self.n_splits_, int(self.return_train_score), [0]

        def on_entry(entry):
            seen[0] += 1
            if progress.verbose >= 3:
                scores = np.asarray(entry["values"])[k * (1 + train):]
                scores = scores.reshape(k, 1 + train, len(plan.scorers))[:, 0]
                progress.fold_scores(seen[0], [dict(zip(plan.scorers, s)) for s in scores])
            if self.callback is not None and \
                    self.callback({**entry, "params": space.params(entry["lam"])}):
                stopped[0] = True
            return stopped[0]
        return on_entry

    @staticmethod
    def _scoring_parts(plan, final, adapter, model, folds, error_score, parallel):
        """The keyword arguments of :class:`PreparedFolds` that score the points:
        the per-fold map of the descended loss, and the scorer of the folds' models."""
        parts = {}
        if plan.transform != "identity":
            parts["transform"] = FoldTransform(plan.transform, [f.y_test for f in folds],
                                               transform_power(adapter.loss, final),
                                               [f.score_weight_test for f in folds])
        if plan.rescore:
            column = adapter.column(final)
            parts["views"] = parallel(delayed(fold_view)(final, fold, column,
                                                         model.fit_intercept,
                                                         _weight_params(fold.score_weight_test),
                                                         _weight_params(fold.score_weight_train))
                                      for fold in folds)
            parts["scorer"] = FoldScorer(plan.scorers, error_score)
        return parts

    def _start(self, model, folds, maps, floors, space, defaults, box=None):
        """``(lam0, bounds, candidates)``: bounds in the user's parameter (``box``, bounds
        on ``lam`` from ``param_grid``; or ``bounds``) or relative to the data, and either
        the scan's paths (``init="scan"``, clipped to the bounds, repeated points dropped)
        or the estimator's ``lam``, off the flat region, in bounds. The data's scales
        are read from the folds' training maps ``maps`` (those the search's evaluations
        solve, see :meth:`~skhypergrad._prepared_folds.PreparedFolds.training_maps`); a
        fold's None is replaced by its map on the training rows as they are (not
        centred: no copy); ``floors``: the folds' floors of ``lam1_max``
        (:func:`~skhypergrad._validation.lam_max_floor` of their raw rows)."""
        maps = [model.make_map(f.X_train, model.encode(f.y_train), sample_weight=f.sample_weight)
                if m is None else m for m, f in zip(maps, folds)]
        scales = SearchScales(
            max(floored_lam_max(lam1_max(m), floor) / f.scale
                for m, f, floor in zip(maps, folds, floors)),
            float(np.mean([l2_scale(m) / f.scale for m, f in zip(maps, folds)])),
            maps[0].penalty, maps[0].n_features)
        del maps
        lam0 = np.array(model.lam, dtype=np.float64)
        n_hyper = lam0.shape[0]
        k = n_hyper - model.n_datafit_hyper
        theta0 = lam0[k:]  # a datafit's hyperparameters, last
        lo, hi = scales.bounds(defaults) if self.bounds is None else \
            space.lam_bounds(self.bounds)
        lo, hi = (np.append(b, e) for b, e in zip((lo, hi), model.get_datafit().hyper_bounds()))
        if box is not None:  # a weight of 0 at a corner (l1_ratio 1): the default bound
            lo = np.where(box[0] > 0, box[0], lo)
            hi = np.maximum(box[1], lo)
        if self.init == "scan":
            candidates = [_distinct(np.clip(np.column_stack([path, np.tile(theta0, (len(path),
                                                                                  1))]),
                                            lo, hi)) for path in scales.scan(defaults)]
            return candidates[0][0], (lo, hi), candidates
        if model.get_penalty().has_l1 and lam0[0] >= scales.l1:
            moved = lam0 * (0.1 * scales.l1 / lam0[0])
            warnings.warn(
                f"The starting point {space.params(lam0)} zeroes every coefficient on "
                "every training fold, where the cross-validation loss is flat; the search "
                f"starts from {space.params(moved)} instead.", UserWarning, stacklevel=3)
            lam0 = moved
        return np.clip(lam0, lo, hi), (lo, hi), None

    def get_metadata_routing(self):
        """The routing of the search's parameters, as ``GridSearchCV``'s: ``fit`` to the
        estimator's ``fit``, ``fit`` and ``score`` to the scorer's ``score``, ``fit``
        to the splitter's ``split`` (see :mod:`skhypergrad._routing`).

        Returns
        -------
        sklearn.utils.metadata_routing.MetadataRouter
        """
        return search_router(self, routing_scorer(self.scoring, unwrap(self.estimator).final))

    def score(self, X, y):
        """Score of the refit estimator on ``(X, y)`` by the refit scorer, as
        ``GridSearchCV``: ``scorer_`` (``scorer_[refit]`` with several metrics), the
        estimator's own ``score`` with ``scoring=None`` (R² for a regressor, D² for
        a GLM, the accuracy for a classifier).

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
        scorer = self.scorer_
        if self.multimetric_:
            if not isinstance(self.refit, str):
                raise AttributeError(
                    f"{type(self).__name__}.score needs refit to name the metric it scores "
                    f"with, got refit={self.refit!r}.")
            scorer = scorer[self.refit]
        return float(scorer(self.best_estimator_, check_sparse_structure(X, "X"), y))

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


def _linear_lam_box(box, prefix, adapter, final, y, n_samples, tied):
    """Bounds on the full data's ``lam`` spanned by ``box`` (see
    :func:`~skhypergrad._param_grid.lam_box`); ``tied``: the search's penalty has one
    weight, the total of the elastic net's two."""
    def lam_of(params):
        est = clone(final).set_params(**{k[len(prefix):]: v for k, v in params.items()})
        lam = np.asarray(adapter.inner_model(est, y, n_samples, True).lam, dtype=np.float64)
        return lam.sum(keepdims=True) if tied else lam
    return lam_box(box, list(box), lam_of)


def _distinct(path):
    """The points of a scan path, a point equal to the previous one dropped (a path
    clipped to bounds repeats its ends)."""
    keep = np.ones(len(path), dtype=bool)
    keep[1:] = np.any(path[1:] != path[:-1], axis=1)
    return path[keep]


def _rows(values, rows):
    """``values[rows]``, None for None."""
    return None if values is None else values[rows]


def _weight_params(weights):
    """The scorers' keyword arguments of a fold's rows: ``{"sample_weight": weights}``,
    None without weights."""
    return None if weights is None else {"sample_weight": weights}


def _total(weights, rows):
    """The sum of ``weights`` (the number of ``rows`` for None)."""
    return len(rows) if weights is None else float(np.sum(weights))


def _scoring_label(scoring):
    """How the progress lines name a single-metric ``scoring``."""
    if scoring is None:
        return "the estimator's score"
    return scoring if isinstance(scoring, str) else getattr(scoring, "__name__", "a callable")


def _fold_lam(model, lam, scale):
    """``lam`` of a fold: the penalty's weights times the fold's ``scale``."""
    lam = np.array(lam, dtype=np.float64)
    lam[:lam.shape[0] - model.n_datafit_hyper] *= scale
    return lam
