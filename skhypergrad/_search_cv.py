r""":class:`HyperGradSearchCV`: the search class, its parameters and its public methods.

``fit`` runs one search of the estimator's parameters per combination of a
``param_grid``'s enumerated values (:mod:`skhypergrad._param_grid`): a linear model's
(:mod:`skhypergrad._linear_search_cv`) or a kernel model's
(:mod:`skhypergrad._kernel_search_cv`), each returning the rows of ``cv_results_``
(:mod:`skhypergrad._search_results`); it then chooses the best row and refits the
user's estimator (:mod:`skhypergrad._search_refit`), to which ``predict``,
``transform``... are delegated. What is searched for each estimator, and how, is
the user guide's :ref:`search-cv`.
"""

import copy
import numbers

import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin, _fit_context
from sklearn.utils import get_tags, indexable
from sklearn.utils._param_validation import HasMethods, StrOptions
from sklearn.utils.metadata_routing import _raise_for_params, _routing_enabled, process_routing
from sklearn.utils.validation import _num_samples, check_is_fitted

from ._base import BaseHyperGrad
from ._jit import set_up_numba
from ._kernel_search_cv import fit_kernel_search
from ._linear_search_cv import fit_linear_search
from ._param_grid import fit_param_grid
from ._routing import search_router
from ._scoring import SCORER_NAMES, routing_scorer
from ._search_estimator import unwrap
from ._search_refit import best_estimator_has, check_refit, delegate, finish
from ._validation import atomic_fit, check_cv_size, check_sparse_structure, named

__all__ = ["HyperGradSearchCV"]


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

    The estimators it takes (the linear models of scikit-learn, ``HuberRegressor`` and
    the kernel models), the parameters it searches for each, and how the scores of its
    rows compare with ``GridSearchCV``'s are in the user guide, :ref:`search-cv`.

    Parameters
    ----------
    estimator : scikit-learn linear model, Pipeline or TransformedTargetRegressor
        ``Lasso``, ``ElasticNet``, ``LogisticRegression``, ``LinearSVC``,
        ``PoissonRegressor``, ``GammaRegressor``, ``TweedieRegressor`` (the log
        link, ``1 <= power <= 2``) or ``HuberRegressor``, or a pipeline ending with
        one; or a ``TransformedTargetRegressor`` of such a regressor (or pipeline),
        searched in ``regressor__<name>``: each fold's inner model is trained on its
        transformed training targets (the transformer fitted on them) and every point
        scored on the original targets by the wrapper's inverse-transformed
        predictions (the transformed held-out loss is then a surrogate, see Notes).
        Its parameters say
        which ones are searched (see :ref:`search-cv`); with ``init="estimator"``
        they are also the starting point. ``positive=True`` (Lasso, ElasticNet) is
        kept: the search runs on the nonnegative model. A ``class_weight``
        (``LogisticRegression``, ``LinearSVC``, ``RidgeClassifier``) weighs each fold's
        training loss, computed on the fold's training rows as in ``GridSearchCV``.
        ``RidgeClassifier`` is scored by the squared error of its decision
        function against the labels ``+-1`` (``"neg_squared_class_error"``, see
        :mod:`skhypergrad.ridge_classifier`). The dual models (``KernelRidge``,
        ``SVC``, ``SVR``, ``LinearSVR``) are listed in :ref:`search-cv`.
    param_grid : dict or list of dicts, default=None
        ``GridSearchCV``'s grid, read as boxes (see :mod:`skhypergrad._param_grid`):
        a searched parameter (:ref:`search-cv`) that the grid names is searched
        within the smallest and largest of its values (one value fixes it; a
        scipy.stats distribution gives its support, an end at or below 0, or infinite,
        replaced by its 0.1% or 99.9% quantile: ``uniform(0, 1)`` is searched in
        [0.001, 1]), and one the grid does not name keeps the estimator's value, as
        ``GridSearchCV`` keeps it; any other
        parameter (``kernel``, ``fit_intercept``, a preprocessing step's option) is
        enumerated (as is a searched parameter given values that are not numbers, such
        as ``gamma: ["scale", "auto"]``), one search per combination of its values,
        as ``GridSearchCV`` enumerates it. ``HyperGradSearchCV(SVC(), {"kernel": ["linear", "rbf"],
        "C": [1, 10]})`` searches ``C`` in [1, 10] for each kernel (``gamma`` stays
        ``"scale"``). An elastic net's ``alpha`` and ``l1_ratio`` (``C`` and
        ``l1_ratio``) named together are searched together, each within its values'
        range, as ``GridSearchCV`` never leaves its grid's hull: every row of
        ``cv_results_``, and the best point, has an ``alpha`` (``C``) and an
        ``l1_ratio`` within their ranges (the search's points on the L1 and L2
        weights are projected onto them; an end of a range is reached to a relative
        1e-12, ``l1_ratio`` 0.8999999999991 for 0.9). Points the search cannot follow
        as a box (an elastic net's ``l1_ratio`` with ``alpha`` fixed, values at or below 0,
        every searched parameter fixed, an estimator not in :ref:`search-cv`, a kernel
        model given a sparse ``X``) are evaluated as ``GridSearchCV`` evaluates them,
        with a warning. The rows of every
        search form ``cv_results_``, ranked together; their ``params`` hold the grid's
        names. None: every searched parameter, within ``bounds`` or the default range
        in units of the data.
    scoring : str, callable, list, tuple, set, dict or None, default=None
        As in ``GridSearchCV``: a scorer name, a callable
        ``scorer(estimator, X, y)`` returning a number (e.g. from ``make_scorer``; one
        returning a dict of several metrics raises a ``TypeError``: give them as a
        dict), a list / tuple / set of names or a dict ``{name: scorer}`` (several
        metrics, recorded as ``mean_test_<name>``...), or None for the estimator's own
        ``score`` (R² for the regressors, D² for the GLMs, the accuracy for the
        classifiers). Greater
        is better. The search descends the refit scorer exactly when it is
        differentiable in the predictions, and otherwise a smooth surrogate, the
        loss of the model (see :ref:`scorers`); either way every evaluated
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
        ``max_iter=0`` evaluates the starting point only). A search that reaches
        ``max_iter`` before its stopping rule (``tol``) warns (``ConvergenceWarning``,
        with its last relative decrease).
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
        point (3 and more, with a ``scoring`` other than the descended loss). The dual
        models print the start, every point of the descent and of the refinement and
        the result (1), and every point of the scan too (2).
    callback : callable, default=None
        Called after every criterion evaluation with a dict (``params`` in the
        estimator's names, ``lam``, ``value`` (mean held-out loss), ``grad``,
        ``values`` (the held-out loss of every fold, followed by the training
        losses with ``return_train_score``), ``seconds``, ...; the dual models' also
        ``phase``: "scan", "descent" or "polish"); returning True stops the search.
    error_score : "raise" or float, default=np.nan
        The score recorded for a failing fold at a point, as ``GridSearchCV``'s:
        a scorer that raises (or, with ``"raise"``, its exception is raised) and a
        point whose held-out loss is not finite (an inner solve or hypergradient
        that failed numerically: the search itself backs off from such points and
        keeps the best point seen; with ``"raise"`` a ``ValueError``). Exceptions of
        the inner solvers are raised, as ``error_score="raise"``. Of a
        ``param_grid`` of several searches, the points of one whose estimator fails
        to fit on the first training fold (an enumerated ``solver`` that does not take
        the penalty...) score ``error_score``, with a ``FitFailedWarning``. Failed
        (NaN) rows rank last.
    return_train_score : bool, default=False
        Also record each fold's training score (``train_<name>`` keys).
    init : {"scan", "estimator"}, default="scan"
        Where the descent starts: the best point of the coarse scan (its points
        are rows of ``cv_results_``; its first path is left once its loss has
        stayed above its minimum for a decade of the weight, and stopped falling: two
        thirds of a decade, two points, for ``Lasso``, ``ElasticNet`` and their multi-task
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
        The searches of ``KernelRidge``, ``SVC``, ``SVR`` and ``LinearSVR`` add two
        keys after ``GridSearchCV``'s: ``mean_test_loss``, the mean held-out loss
        of the criterion they descend, and ``phase``, the part of the search of each
        row ("scan", "descent", "polish"; "grid" for the points of a ``param_grid``
        evaluated as ``GridSearchCV`` evaluates them, NaN loss).
    best_index_ : numpy.int64
        Row of ``cv_results_`` with the best mean test score of the refit metric
        (or returned by a callable ``refit``).
    best_params_ : dict
        Its parameters, in the estimator's names (``"enet__alpha"`` for a
        pipeline step named ``"enet"``). An enumerated or fixed value is the grid's
        own object, as in ``GridSearchCV``; a searched one lies between the grid's
        values: an ``np.float64`` when they are (a NumPy array of floats), a ``float``
        otherwise, integers included (``C: [1, 10]`` may give ``3.16``).
    best_score_ : numpy.float64
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
    The search descends the refit scorer exactly when the scorer's mean over folds is
    a smooth function of each fold's held-out loss (the mean squared error, RMSE, R²,
    log-loss, Brier score, the GLMs' deviances and D², the squared hinge; not for a
    ``TransformedTargetRegressor``, scored on the original targets), and
    otherwise a surrogate, the model's loss, then refines its best point by a compass
    search on the refit scorer itself (the accuracy, ROC AUC, a callable, the metrics
    of a callable ``refit``...): see :ref:`scorers`. A row of ``cv_results_`` is what
    ``GridSearchCV`` would record for the estimator at its parameters, its folds
    solved at least as accurately as the estimator's own solver solves them (see
    :ref:`search-cv-accuracy`); the result is the best row, never worse than any point
    evaluated.

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
        # the names checked here, as GridSearchCV's; the items of a list... in fit
        "scoring": [None, StrOptions(set(SCORER_NAMES)), callable, list, tuple, set, dict],
        "bounds": [None, tuple, list],
        "refit": ["boolean", str, callable],
        "error_score": [StrOptions({"raise"}), numbers.Real],
        "pre_dispatch": [numbers.Integral, str],
        "init": [StrOptions({"scan", "estimator"})],
        "return_train_score": ["boolean"],
        "cv": ["cv_object"],  # GridSearchCV's (not the estimators' held-out fraction)
        **{key: BaseHyperGrad._parameter_constraints[key]
           for key in ("hypergradient", "solver", "optimizer", "max_iter", "tol",
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
    def fit(self, X, y=None, groups=None, **params):
        """Search the regularization parameters, then refit the best estimator.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data, as the estimator (pipeline) takes it. A sparse ``X`` is
            checked first (a ``ValueError`` naming ``X`` when its index arrays are
            malformed; a canonical copy when its indices are unsorted or repeated)
            and indexed as CSR, as ``GridSearchCV`` indexes it; a sparse output of
            the pipeline's preprocessing is checked in the same way.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs), default=None
            Targets (class labels of any type for the classifiers); several columns
            for ``MultiTaskLasso`` and ``MultiTaskElasticNet`` only (a ``Ridge`` or
            ``Lasso`` of several outputs is refused, or with a ``param_grid`` evaluated
            at its points as ``GridSearchCV`` evaluates them, with a warning: tune each
            output separately).
            None only for an estimator that ``param_grid`` evaluates as
            ``GridSearchCV`` does, such as a transformer.
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
            Parameters the search cannot apply on its folds (a preprocessing step's,
            the final step's or a scorer's other than ``sample_weight``) raise a
            ``ValueError``; with a ``param_grid``, its points are then evaluated as
            ``GridSearchCV`` evaluates them, with a warning.

        Returns
        -------
        self
        """
        set_up_numba()
        if self.param_grid is not None:
            if self.bounds is not None:
                raise ValueError("Give the search's range as param_grid or as bounds, not "
                                 "both.")
            return finish(self, fit_param_grid(self, X, y, groups, params))
        return finish(self, self._run(self.estimator, X, y, groups, params))

    def _run(self, estimator, X, y, groups, params, cv=None, box=None):
        """One search of ``estimator``'s parameters (see :ref:`search-cv`) on
        the splits of ``cv`` (``self.cv`` when None), within ``box`` (``{name: (low,
        high)}`` in the estimator's parameters, see :mod:`skhypergrad._param_grid`; None:
        ``bounds`` or the data's scales): a
        :class:`~skhypergrad._search_results.SearchRun`."""
        cv = self.cv if cv is None else cv
        final, preprocessing, prefix, adapter, kernel, target = unwrap(estimator)
        if y is None:
            raise ValueError(f"{type(final).__name__} requires y to be passed, but the "
                             "target y is None.")
        if kernel is not None:
            with named("X and y"):
                X, y, groups = indexable(X, y, groups)
            check_cv_size(cv, _num_samples(X))
            return fit_kernel_search(self, final, preprocessing, prefix, X, y, groups,
                                     params, cv, box)
        return fit_linear_search(self, final, preprocessing, prefix, adapter, X, y, groups,
                                 params, cv, box, target)

    def get_metadata_routing(self):
        """The routing of the search's parameters, as ``GridSearchCV``'s: ``fit`` to the
        estimator's ``fit``, ``fit`` and ``score`` to the scorer's ``score``, ``fit``
        to the splitter's ``split`` (see :mod:`skhypergrad._routing`).

        Returns
        -------
        sklearn.utils.metadata_routing.MetadataRouter
        """
        return search_router(self, routing_scorer(self.scoring, unwrap(self.estimator).final))

    def score(self, X, y=None, **params):
        """Score of the refit estimator on ``(X, y)`` by the refit scorer, as
        ``GridSearchCV``: ``scorer_`` (``scorer_[refit]`` with several metrics), the
        estimator's own ``score`` with ``scoring=None`` (R² for a regressor, D² for
        a GLM, the accuracy for a classifier).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            A sparse ``X`` is checked first, as in :meth:`fit`.
        y : array-like of shape (n_samples,), default=None
        **params : dict
            Parameters of the scorer (``sample_weight``), routed as ``GridSearchCV``
            routes them: only with scikit-learn's metadata routing enabled, to the
            scorer that requests them (a ``ValueError`` without it).

        Returns
        -------
        float
            The scorer's value, of the type it returns.
        """
        check_refit(self, "score")
        check_is_fitted(self)
        _raise_for_params(params, self, "score")
        score_params = process_routing(self, "score", **params).scorer["score"] \
            if _routing_enabled() else {}
        scorer = self.scorer_
        if self.multimetric_:
            if not isinstance(self.refit, str):
                raise AttributeError(
                    f"{type(self).__name__}.score needs refit to name the metric it scores "
                    f"with, got refit={self.refit!r}.")
            scorer = scorer[self.refit]
        return scorer(self.best_estimator_, check_sparse_structure(X, "X"), y, **score_params)

    predict = delegate("predict", "ndarray of shape (n_samples,)")
    predict_proba = delegate("predict_proba", "ndarray of shape (n_samples, n_classes)")
    predict_log_proba = delegate("predict_log_proba",
                                 "ndarray of shape (n_samples, n_classes)")
    decision_function = delegate("decision_function",
                                 "ndarray of shape (n_samples,) or (n_samples, n_classes)")
    score_samples = delegate("score_samples", "ndarray of shape (n_samples,)")
    transform = delegate("transform", "{ndarray, sparse matrix} of shape (n_samples, n_out)")
    inverse_transform = delegate("inverse_transform",
                                 "{ndarray, sparse matrix} of shape (n_samples, n_features)")

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
        best_estimator_has("classes_")(self)
        return self.best_estimator_.classes_

