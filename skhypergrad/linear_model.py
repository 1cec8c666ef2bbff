r"""Linear models that tune their own regularization by hypergradient descent.

Each estimator minimizes a cross-validation (or held-out) loss over its
regularization hyperparameters :math:`\lambda` by gradient descent on
:math:`\log\lambda`, the gradient coming from implicit differentiation of the
inner solver's fixed point, then refits on all the data. The parametrization
is scikit-learn's: a fitted :class:`ElasticNetHyperGrad` hands ``alpha_`` and
``l1_ratio_`` to :class:`sklearn.linear_model.ElasticNet` and gets the same
coefficients.
"""

import numbers
import time
from functools import partial

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin, _fit_context
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import d2_tweedie_score
from sklearn.model_selection import train_test_split
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.extmath import softmax

from ._base import BaseHyperGrad, ClassWeightMixin, null_model, refit_solver
from ._scoring import (POLISH_EVALS, FoldScorer, FoldView, ScoredCriterion,
                       check_search_scoring, polish, scan_entry, unfitted_template)
from ._tune import _with_tol
from ._validation import check_bounds
from .criteria import HeldOut
from ._search_space import GLM, LOG_LOSS, SQUARED_HINGE
from ._tune import TuneResult
from .glm import Tweedie
from .group_penalties import GroupElasticNet, GroupL21
from .huber import Huber, concomitant_fit
from .models import InnerModel
from .multitask import MultiTaskQuadratic
from .penalties import (enet_lam_from_sklearn, enet_sklearn_from_lam, huber_lam_from_sklearn,
                        huber_sklearn_from_lam, logistic_lam_from_sklearn,
                        logistic_sklearn_from_lam, logistic_weight_from_C,
                        svc_lam_from_sklearn, svc_sklearn_from_lam)
from .squared_hinge import append_intercept_column

__all__ = ["LassoHyperGrad", "ElasticNetHyperGrad", "WeightedLassoHyperGrad",
           "LogisticRegressionHyperGrad", "LinearSVCHyperGrad", "MultiTaskLassoHyperGrad",
           "MultiTaskElasticNetHyperGrad", "PoissonRegressorHyperGrad",
           "GammaRegressorHyperGrad", "TweedieRegressorHyperGrad", "RidgeHyperGrad",
           "RidgeClassifierHyperGrad", "HuberRegressorHyperGrad"]

_BOUNDS = [None, tuple, list]
#: the weighted Lasso's early stopping: the fraction of the rows held out of the search
#: as its monitor, the fewest rows for which it is used, and how many standard errors
#: lower the held-out errors of the weights must be than those of the common weight
_EARLY_STOPPING_FRACTION = 0.2
_EARLY_STOPPING_MIN_SAMPLES = 100
_EARLY_STOPPING_Z = 2.0

_COMMON_DOC = """
    cv : int, cross-validation generator, iterable or float, default=5
        Folds of the cross-validation loss minimized (an int gives ``KFold``, or
        ``StratifiedKFold`` for the classifier), or, as a float in (0, 1), the
        fraction of the data held out for a single validation set.
    hypergradient : {"aid-cg", "aid-fp", "itd", "itd-reverse", "nsid"} or engine, default="aid-cg"
        How the gradient of the criterion is computed (see :mod:`skhypergrad.hypergrad`).
        Every engine runs to the search's tolerance (that of the inner solves,
        1e-6 down to 1e-10) or raises a ``ConvergenceWarning``; ``"itd"`` and
        ``"aid-fp"`` take about ``log(tol) / log(q)`` iterations, ``q`` the
        contraction factor, many on ill-conditioned problems. For large
        ``n_samples``, ``"nsid"`` or an instance such as
        ``NSID(batch_size=256, tol=0.05)`` estimates it from minibatches, to a
        predicted relative error of its own ``tol`` (default 0.1), and
        ``solver="auto"`` then solves the inner problems by minibatch SAGA (to a
        relative gap of at most 1e-6).
    solver : {"auto", "cd", "fista", "saga"} or solver instance, default="auto"
        Inner solver: coordinate descent with working sets ("cd", the default;
        proximal Newton for the logistic losses), FISTA, or minibatch SAGA.
    optimizer : {"gd", "adam", "lbfgs"} or optimizer instance, default="gd"
        Outer optimizer on the log-hyperparameters (:mod:`skhypergrad.optimizers`).
    max_iter : int, default=30
        Outer steps.
    tol : float, default=1e-3
        Stop when the criterion improved by less than ``tol`` (relative) over
        three outer steps.
    fit_intercept : bool, default=True
    n_jobs : int, default=None
        Folds solved in parallel with joblib (any backend, see
        ``joblib.parallel_config``). Under joblib's default (process) backend, the
        folds run serially while the stored entries of ``X`` times the number of
        folds are below ``10^8`` (e.g. 20,000 x 1,000 dense, 5 folds): below it,
        sending the data and rebuilding the folds' problems in the workers at every
        evaluation costs more than the solves.
    random_state : int, RandomState instance or None, default=None
        Held-out split (float ``cv``) and stochastic solvers / engines.
    verbose : int, default=0
        Progress lines with the hyperparameters' names and the elapsed time: the
        start of the starting scan, its best point, every descent step and the
        result (1), and every point of the scan (2 and more).
    callback : callable, default=None
        Called after every criterion evaluation with its history entry (a dict);
        returning True stops the search (the best point so far is kept).
"""

_COMMON_ATTRS = """
    intercept_ : float or ndarray
    n_iter_ : int
        Outer steps taken.
    n_evals_ : int
        Criterion evaluations (each solves the inner problem once per fold).
    best_loss_ : float
        Criterion at the chosen hyperparameters: the mean held-out loss over the
        folds (lower is better), the smallest value of ``history_``.
    best_score_ : float
        ``-best_loss_``: greater is better, as scikit-learn's searches'
        ``best_score_``.
    history_ : list of dict
        One entry per criterion evaluation (every fold): hyperparameters (``lam``
        and the scikit-learn names), ``value`` (the loss), ``grad`` (in
        ``log lam``; None for the points of the starting scan), ``values`` (per
        fold), ``n_iter_inner``, ``n_iter_engine``, ``engine_residual`` (the
        largest residual of the engine over the folds, nan without a gradient),
        ``tol``, ``seconds``, ``best``.
    lam_ : ndarray
        Chosen penalty weights of the normalized objective (see :mod:`skhypergrad.penalties`).
    lam_bounds_ : (ndarray, ndarray)
        The bounds of ``lam_`` searched.
    at_bound_ : ndarray of int8 of the shape of ``lam_``
        -1 where ``lam_`` ended on its lower bound, +1 on its upper bound, 0
        inside: a weight on a bound was not chosen freely by the search (e.g. an L2
        weight on its lower bound means "no L2 term": widen the bounds to look
        further).
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Defined when ``X`` has feature names that are all strings.
"""


def _first(pair):
    """The first of a pair, None for None."""
    return None if pair is None else pair[0]


def _doc(cls):
    cls.__doc__ = cls.__doc__.replace("    %(common)s\n", _COMMON_DOC.strip("\n") + "\n") \
        .replace("    %(attrs)s\n", _COMMON_ATTRS.strip("\n") + "\n")
    return cls


class _RegressorHyperGrad(RegressorMixin, BaseHyperGrad):
    """Shared parts of the least-squares models."""

    _parameter_constraints = {
        **BaseHyperGrad._parameter_constraints,
        "alpha_init": [None, Interval(numbers.Real, 0, None, closed="neither")],
        "alpha_bounds": _BOUNDS,
        "positive": ["boolean"],
    }

    def __init__(self, *, cv=5, alpha_init=None, alpha_bounds=None, positive=False,
                 hypergradient="aid-cg", solver="auto", optimizer="gd", max_iter=30, tol=1e-3,
                 fit_intercept=True, n_jobs=None, random_state=None, verbose=0, callback=None):
        self.cv = cv
        self.alpha_init = alpha_init
        self.alpha_bounds = alpha_bounds
        self.positive = positive
        self.hypergradient = hypergradient
        self.solver = solver
        self.optimizer = optimizer
        self.max_iter = max_iter
        self.tol = tol
        self.fit_intercept = fit_intercept
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose
        self.callback = callback

    _penalty = "l1"
    #: the refit's relative gap: its objective within 1e-8 of the null model's datafit of
    #: the optimum (1e-6 of the objective while the model leaves 1% of the variance of
    #: ``y``), its predictions within about 1.4e-4 of the standard deviation of ``y``
    #: (the folds' errors are many times that). Tighter costs thousands of epochs on a
    #: rank-deficient design (one-hot blocks with an intercept) at a tiny L2 weight,
    #: whose coefficients creep along the blocks' flat directions.
    _refit_tol = 1e-8

    def _inner_model(self, y):
        return InnerModel("quadratic", self._penalty, self.fit_intercept,
                          positive=self.positive)

    def _initial_lam(self, scales, n_samples):
        if self.alpha_init is None:
            return None
        return scales.penalty.lam_from_weights(self.alpha_init, 0.0, scales.n_features)

    def _bounds(self, scales, n_samples):
        if self.alpha_bounds is None:
            return scales.bounds(self._search_defaults)
        lo, hi = check_bounds(self.alpha_bounds, "alpha_bounds")
        return (scales.penalty.lam_from_weights(lo, lo, scales.n_features),
                scales.penalty.lam_from_weights(hi, hi, scales.n_features))

    def _hyper_names(self, lam, n_samples):
        return {"alpha": float(lam[0])}

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, groups=None):
        """Tune the hyperparameters on ``(X, y)``, then refit on all of it.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample weights (None: all 1), in the training datafit (rescaled to sum
            to ``n_samples``, as scikit-learn's ``ElasticNet``) and in the held-out
            losses (weighted means, as ``ElasticNetCV``'s ``mse_path_``); integer
            weights fit as the rows repeated, zero weights as the rows dropped.
        groups : array-like of shape (n_samples,), default=None
            Group labels of the samples, for a group splitter as ``cv``
            (e.g. :class:`~sklearn.model_selection.GroupKFold`).

        Returns
        -------
        self
        """
        return self._fit(X, y, groups, sample_weight)

    def predict(self, X):
        """Linear prediction ``X @ coef_ + intercept_``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        return self._decision(X)


@_doc
class LassoHyperGrad(_RegressorHyperGrad):
    r"""Lasso whose ``alpha`` is tuned by hypergradient descent on the CV loss.

    Minimizes over ``alpha`` the mean held-out squared error of

    .. math::

        w^*(\alpha) = \arg\min_w \frac{1}{2n}\|y - Xw - b\|^2 + \alpha\|w\|_1

    (scikit-learn's :class:`~sklearn.linear_model.Lasso` objective), then refits.

    Parameters
    ----------
    alpha_init : float, default=None
        Starting ``alpha``. When None, the descent starts from the best of the
        points ``alpha_max * 10^(-k/3)``, ``k = 1..12`` (warm-started solves
        without gradients, on every fold), ``alpha_max`` being the smallest
        ``alpha`` for which all coefficients are zero: the CV loss can have several
        local minima. A start at or above ``alpha_max``, where the loss is flat, is
        moved to ``alpha_max / 10`` with a warning.
    alpha_bounds : (float, float), default=None
        Search interval for ``alpha``; ``(1e-6, 10) * alpha_max`` when None.
    positive : bool, default=False
        Constrain the coefficients to be nonnegative (scikit-learn's ``positive``).
    %(common)s

    Attributes
    ----------
    alpha_ : float
        Chosen ``alpha``.
    coef_ : ndarray of shape (n_features,)
    %(attrs)s

    See Also
    --------
    sklearn.linear_model.LassoCV : the grid-search counterpart.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from skhypergrad import LassoHyperGrad
    >>> X, y = load_diabetes(return_X_y=True)
    >>> est = LassoHyperGrad(cv=5).fit(X, y)
    >>> est.alpha_ > 0
    True
    """


@_doc
class ElasticNetHyperGrad(_RegressorHyperGrad):
    r"""Elastic net whose ``alpha`` and ``l1_ratio`` are both tuned by hypergradient descent.

    The inner problem is scikit-learn's :class:`~sklearn.linear_model.ElasticNet`,

    .. math::

        \frac{1}{2n}\|y - Xw - b\|^2 + \alpha\rho\|w\|_1 + \frac{\alpha(1-\rho)}{2}\|w\|^2,

    searched as ``lam = [alpha * l1_ratio, alpha * (1 - l1_ratio)]`` in log-space.

    Parameters
    ----------
    alpha_init : float, default=None
        Starting ``alpha`` (with ``l1_ratio_init``). When None, the descent starts
        from the best point of a coarse scan in units of the data: paths of the L1
        weight ``alpha * l1_ratio`` from ``alpha_max / 10^(1/3)`` down to
        ``alpha_max / 10^4``, three per decade (``alpha_max`` the smallest L1
        weight that zeroes every coefficient), at the L2 weights ``alpha * (1 - l1_ratio)`` of
        ``kappa`` times 1e-6 (the Lasso end), 1e-2, 0.1, 1, 10 and 100, ``kappa`` the mean
        variance of the columns (the curvature of the datafit). Every point is
        evaluated on every fold, warm-started along its path; the first path is
        left once its loss has stayed above its minimum for a decade, the next
        ones past their minimum and that of the path before, and the next L2
        weights are not scanned once a path finds no new best value and lowers the
        previous path nowhere near its minimum by more than its own minimum rose
        above the best. Rescaling ``y`` or ``X`` then rescales the
        chosen weights and leaves the predictions unchanged.
    l1_ratio_init : float in (0, 1), default=0.5
        Starting ``l1_ratio`` (with ``alpha_init``).
    alpha_bounds : (float, float), default=None
        Interval in which each of ``alpha * l1_ratio`` and ``alpha * (1 - l1_ratio)``
        is searched. None: the L1 weight in ``(1e-6, 10) * alpha_max`` and the L2
        weight in ``(1e-6, 1e3) * kappa``.
    positive : bool, default=False
        Constrain the coefficients to be nonnegative (scikit-learn's ``positive``).
    %(common)s

    Attributes
    ----------
    alpha_ : float
    l1_ratio_ : float
    coef_ : ndarray of shape (n_features,)
    %(attrs)s

    See Also
    --------
    sklearn.linear_model.ElasticNetCV : the grid-search counterpart.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.linear_model import ElasticNet
    >>> from skhypergrad import ElasticNetHyperGrad
    >>> X, y = load_diabetes(return_X_y=True)
    >>> est = ElasticNetHyperGrad(cv=5).fit(X, y)
    >>> sk = ElasticNet(alpha=est.alpha_, l1_ratio=est.l1_ratio_, tol=1e-10).fit(X, y)
    >>> bool(abs(sk.coef_ - est.coef_).max() < 1e-3 * abs(est.coef_).max())
    True
    """

    _penalty = "elasticnet"
    _parameter_constraints = {
        **_RegressorHyperGrad._parameter_constraints,
        "l1_ratio_init": [Interval(numbers.Real, 0, 1, closed="neither")],
    }

    def __init__(self, *, cv=5, alpha_init=None, l1_ratio_init=0.5, alpha_bounds=None,
                 positive=False, hypergradient="aid-cg", solver="auto", optimizer="gd",
                 max_iter=30, tol=1e-3, fit_intercept=True, n_jobs=None, random_state=None,
                 verbose=0, callback=None):
        super().__init__(cv=cv, alpha_init=alpha_init, alpha_bounds=alpha_bounds,
                         positive=positive, hypergradient=hypergradient, solver=solver,
                         optimizer=optimizer, max_iter=max_iter, tol=tol,
                         fit_intercept=fit_intercept, n_jobs=n_jobs,
                         random_state=random_state, verbose=verbose, callback=callback)
        self.l1_ratio_init = l1_ratio_init

    def _initial_lam(self, scales, n_samples):
        if self.alpha_init is None:
            return None
        return enet_lam_from_sklearn(self.alpha_init, self.l1_ratio_init)

    def _hyper_names(self, lam, n_samples):
        alpha, l1_ratio = enet_sklearn_from_lam(lam)
        return {"alpha": alpha, "l1_ratio": l1_ratio}


@_doc
class WeightedLassoHyperGrad(_RegressorHyperGrad):
    r"""Lasso with one penalty weight per feature, all tuned by hypergradient descent.

    .. math::

        \frac{1}{2n}\|y - Xw - b\|^2 + \sum_{j=1}^p \alpha_j |w_j|

    One gradient gives all ``p`` partial derivatives at the cost of one
    implicit solve, so hundreds or thousands of hyperparameters are tuned in the
    time a grid search spends on one.

    Parameters
    ----------
    alpha_init : float, default=None
        Starting value of every ``alpha_j``. When None, the descent starts from the
        best of the common values ``alpha_max * 10^(-k/3)``, ``k = 1..12`` (as
        :class:`LassoHyperGrad`).
    alpha_bounds : (float, float), default=None
        Interval of every ``alpha_j``; ``(1e-6, 10) * alpha_max`` when None.
    positive : bool, default=False
        Constrain the coefficients to be nonnegative (scikit-learn's ``positive``).
    early_stopping : bool, default=True
        With ``p`` hyperparameters the descent fits the criterion it descends (its
        CV loss falls while the test error rises: the folds' training and
        validation rows all shape the weights). With ``early_stopping``, the
        search first finds the common weight of :class:`LassoHyperGrad` (the same
        search on all the rows). With at least 100 samples and ``cv`` a fraction
        or a splitter, it then holds a fifth of the rows out (drawn with
        ``random_state``, with the seed 0 when it is None): the weights descend
        from the common weight on the ``cv`` loss of the other rows, and the point
        whose model, trained on those rows, predicts the held-out fifth best is
        kept only if its squared errors there are lower than the common weight's
        by more than two standard errors of their mean difference. Otherwise, and
        with fewer samples or fixed splits, every ``alpha_j`` is the common weight:
        the model is :class:`LassoHyperGrad`'s. The final model is refit on all the
        rows; ``best_loss_`` is the ``cv`` loss at the chosen point (of the four
        fifths for the weights, of all the rows for the common weight), and
        ``history_`` holds the common search's entries (``grad`` in the common
        log-weight), then the descent's (with the held-out loss, ``"monitor"``).
    %(common)s

    Attributes
    ----------
    alphas_ : ndarray of shape (n_features,)
        Chosen weights.
    coef_ : ndarray of shape (n_features,)
    %(attrs)s
    """

    _penalty = "weighted_l1"
    _parameter_constraints = {
        **_RegressorHyperGrad._parameter_constraints,
        "early_stopping": ["boolean"],
    }

    def __init__(self, *, cv=5, alpha_init=None, alpha_bounds=None, early_stopping=True,
                 positive=False, hypergradient="aid-cg", solver="auto", optimizer="gd",
                 max_iter=30, tol=1e-3, fit_intercept=True, n_jobs=None, random_state=None,
                 verbose=0, callback=None):
        super().__init__(cv=cv, alpha_init=alpha_init, alpha_bounds=alpha_bounds,
                         positive=positive, hypergradient=hypergradient, solver=solver,
                         optimizer=optimizer, max_iter=max_iter, tol=tol,
                         fit_intercept=fit_intercept, n_jobs=n_jobs,
                         random_state=random_state, verbose=verbose, callback=callback)
        self.early_stopping = early_stopping

    def _search(self, search, model, X, y, groups, lam0, bounds, candidates, weights=None):
        """With ``early_stopping`` (see the class docstring): the common weight of
        :class:`LassoHyperGrad`, then the weights' descent from it on four fifths of
        the rows, kept only if it predicts the other fifth significantly better
        (sample weights split with the rows; the other fifth's errors weighted)."""
        if not self.early_stopping:
            return super()._search(search, model, X, y, groups, lam0, bounds, candidates,
                                   weights)
        common = self._common_search(search, X, y, groups, lam0, bounds, candidates,
                                     weights)
        if not self._can_hold_out(X):
            return common._replace(lam=np.full(X.shape[1], common.lam[0]), history=[
                _broadcast_lam(h, X.shape[1]) for h in common.history])
        start = np.full(X.shape[1], common.lam[0])
        # the same rows at every fit unless a seed says otherwise: the estimator stays a
        # deterministic function of its data, as the others are
        seed = 0 if self.random_state is None else self.random_state
        fit_rows, mon_rows = train_test_split(np.arange(X.shape[0]),
                                              test_size=_EARLY_STOPPING_FRACTION,
                                              random_state=seed)
        X_fit, y_fit, X_mon, y_mon = X[fit_rows], y[fit_rows], X[mon_rows], y[mon_rows]
        w_fit = w_mon = None
        if weights is not None and weights.fit is not None:
            w_fit, w_mon = (weights.fit[fit_rows], weights.score[fit_rows]), \
                weights.score[mon_rows]
        criterion, X_train, y_train = self._criterion(
            X_fit, y_fit, None if groups is None else groups[fit_rows], w_fit)
        weighted = search(model, X_train, y_train, criterion, start, bounds=bounds,
                          monitor=(HeldOut(X_mon, y_mon, sample_weight=_first(w_fit),
                                           sample_weight_val=w_mon), X_fit, y_fit))
        errors = partial(self._held_out_errors, model, X_fit, y_fit, X_mon, y_mon,
                         _first(w_fit), w_mon)
        keep = _significantly_lower(errors(weighted.lam), errors(start))
        lam, value = (weighted.lam, weighted.value) if keep else (start, common.value)
        history = [_broadcast_lam(h, X.shape[1]) for h in common.history] + weighted.history
        return TuneResult(lam, value, history, common.n_iter + weighted.n_iter,
                          common.n_evals + weighted.n_evals,
                          common.converged and weighted.converged, weighted.state)

    def _can_hold_out(self, X):
        """Whether rows can be held out as the weights' monitor: at least 100 of them (a
        fifth of fewer cannot tell the weights from the common weight), and a ``cv``
        that applies to the others (a fraction or a splitter)."""
        return X.shape[0] >= _EARLY_STOPPING_MIN_SAMPLES and \
            (isinstance(self.cv, numbers.Real) or hasattr(self.cv, "split"))

    def _common_search(self, search, X, y, groups, lam0, bounds, candidates, weights=None):
        """:class:`LassoHyperGrad`'s search on all the rows: one weight for every feature
        (history entries, and the callback's, with ``lam`` repeated for each)."""
        n_features = X.shape[1]
        history_callback = self._history_callback(X.shape[0])
        callback = None if history_callback is None else \
            (lambda h: history_callback(_broadcast_lam(h, n_features)))
        criterion, X_train, y_train = self._criterion(X, y, groups, weights)
        return search(InnerModel("quadratic", "l1", self.fit_intercept,
                                 positive=self.positive), X_train, y_train,
                      criterion, lam0[:1], bounds=(bounds[0][:1], bounds[1][:1]),
                      candidates=None if candidates is None else
                      [path[:, :1] for path in candidates], callback=callback)

    def _held_out_errors(self, model, X_fit, y_fit, X_mon, y_mon, w_fit, w_mon, lam):
        """Squared errors on ``(X_mon, y_mon)`` of the model trained on ``(X_fit, y_fit)``
        at ``lam`` (to the accuracy of the final refit), the rows' weights ``w_fit`` in the
        training, ``w_mon`` (rescaled to mean 1) times the errors (None: unit weights)."""
        pgmap = model.make_map(X_fit, model.encode(y_fit), center=True, sample_weight=w_fit)
        solver = refit_solver(self.solver, self._refit_tol, self.random_state, pgmap)
        w = solver.solve(pgmap, lam, null_model(pgmap)).w
        design = pgmap.design
        pred = np.asarray(X_mon @ design.coef(w)).ravel() + design.original_intercept(w)
        errors = (pred - y_mon) ** 2
        if w_mon is not None:
            errors *= w_mon * (w_mon.shape[0] / np.sum(w_mon))
        return errors

    def _hyper_names(self, lam, n_samples):
        return {"alphas": np.asarray(lam, dtype=np.float64).copy()}


@_doc
class LogisticRegressionHyperGrad(ClassWeightMixin, ClassifierMixin, BaseHyperGrad):
    r"""Logistic regression whose ``C`` (and ``l1_ratio``) are tuned.

    Binary problems use the logistic loss, more classes the multinomial one.
    The inner problem is scikit-learn's
    :class:`~sklearn.linear_model.LogisticRegression` objective

    .. math::

        C\sum_i \ell(y_i, x_i^T W + b) + \rho\|W\|_1 + \frac{1-\rho}{2}\|W\|^2,

    searched as ``lam = [rho, 1 - rho] / (C n)`` in log-space (``[1 / (C n)]`` for
    ``penalty="l1"``, :math:`\rho = 1`, and for ``penalty="l2"``, :math:`\rho = 0`,
    scikit-learn's default); the criterion is the held-out log-loss, or the Brier
    score (``scoring="neg_brier_score"``, two classes). With the L2 penalty the inner
    problem is smooth and strongly convex: the implicit function theorem applies
    directly.

    Parameters
    ----------
    penalty : {"l1", "l2", "elasticnet"}, default="l1"
        Which hyperparameters are tuned: ``C`` alone (of the L1 or the L2
        penalty), or ``C`` and ``l1_ratio``.
    scoring : str or callable, default=None
        How the points of the search are scored and the best one chosen, as
        ``LogisticRegressionCV``'s ``scoring`` (a scorer name or a callable
        ``scorer(estimator, X, y)``, greater is better). The search descends the
        held-out log-loss (the Brier score with ``"neg_brier_score"`` and two
        classes: that scorer exactly) and scores every evaluated point with the
        scorer on every fold, from the fold's model there (a
        :class:`~sklearn.linear_model.LogisticRegression` with that model's
        ``coef_``, ``intercept_`` and ``classes_``, no extra fit; entries ``scores``
        and ``score`` of ``history_``); the best point is refined by the scorer itself
        (a compass search of at most 6 value-only evaluations per parameter) and the
        chosen point is the one with the best mean score, ``best_score_``. None (the
        default) is the log-loss, which the search minimizes, not
        ``LogisticRegressionCV``'s accuracy.
    C_init : float, default=None
        Starting ``C`` (with ``l1_ratio_init``). When None, the descent starts
        from the best of the points ``C_min * 10^(k/2)``, ``k = 1..6``, ``C_min``
        the largest ``C`` for which all coefficients are zero (for the elastic net,
        paths of the L1 weight at four L2 weights relative to the curvature of the
        log-loss, as :class:`ElasticNetHyperGrad`; for ``"l2"``, ``1 / (C n)`` from
        ``100 kappa`` down to ``1e-4 kappa`` in steps of ``10^0.5``, ``kappa`` the
        curvature of the log-loss, see :mod:`skhypergrad._search_space`). With an L1
        part, a ``C_init`` at or below ``C_min`` is moved to ``10 C_min`` with a
        warning.
    l1_ratio_init : float in (0, 1), default=0.5
        Starting ``l1_ratio`` (``penalty="elasticnet"``).
    C_bounds : (float, float), default=None
        Search interval of ``C`` (for the elastic net, of ``C / l1_ratio`` and
        ``C / (1 - l1_ratio)``); when None, ``C`` in ``(0.1, 1e4) * C_min`` (for the
        elastic net, the L2 weight relative to the curvature as in
        :class:`ElasticNetHyperGrad`; for ``"l2"``, ``1 / (C n)`` in
        ``(1e-4, 1e3) * kappa``).
    class_weight : dict or "balanced", default=None
        Weights of the classes in the training loss, multiplied into
        ``sample_weight``: a dict of labels to weights (1 for a label not in it), or
        ``"balanced"``, ``n_samples / (n_classes * np.bincount(y))`` (with
        ``sample_weight``, its sums per class), computed once on all of ``y`` as
        ``LogisticRegressionCV`` does; the held-out losses are not weighted by class.
    %(common)s

    Attributes
    ----------
    C_ : float
        ``C`` of the model refit on all ``n`` samples. The search holds the
        normalized weight ``alpha_ = 1 / (C n)`` fixed across folds (as
        ``ElasticNetCV`` holds ``alpha``), so a fold trained on ``n_train``
        samples used ``C_ n / n_train``; scikit-learn's ``LogisticRegressionCV``
        holds ``C`` itself fixed, and picks a ``C`` about ``K / (K - 1)`` times
        larger for the same optimum with ``K`` folds.
    l1_ratio_ : float
    alpha_ : float
        ``1 / (C_ n)``: the penalty weight of the normalized objective.
    classes_ : ndarray of shape (n_classes,)
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
    %(attrs)s

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.preprocessing import scale
    >>> from skhypergrad import LogisticRegressionHyperGrad
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> clf = LogisticRegressionHyperGrad(cv=3).fit(scale(X), y)
    >>> bool(clf.score(scale(X), y) > 0.9)
    True
    """

    _is_classifier = True
    _search_defaults = LOG_LOSS
    # the log-loss is flat near the optimum: a looser end accuracy is enough
    _inner_tol = (1e-5, 1e-8)
    _parameter_constraints = {
        **BaseHyperGrad._parameter_constraints,
        "penalty": [StrOptions({"l1", "l2", "elasticnet"})],
        "scoring": [None, str, callable],
        "C_init": [None, Interval(numbers.Real, 0, None, closed="neither")],
        "l1_ratio_init": [Interval(numbers.Real, 0, 1, closed="neither")],
        "C_bounds": _BOUNDS,
        "class_weight": [None, dict, StrOptions({"balanced"})],
    }

    def __init__(self, *, penalty="l1", scoring=None, cv=5, C_init=None, l1_ratio_init=0.5,
                 C_bounds=None, hypergradient="aid-cg", solver="auto", optimizer="gd",
                 max_iter=30, tol=1e-3, fit_intercept=True, n_jobs=None, random_state=None,
                 verbose=0, callback=None, class_weight=None):
        self.class_weight = class_weight
        self.penalty = penalty
        self.scoring = scoring
        self.cv = cv
        self.C_init = C_init
        self.l1_ratio_init = l1_ratio_init
        self.C_bounds = C_bounds
        self.hypergradient = hypergradient
        self.solver = solver
        self.optimizer = optimizer
        self.max_iter = max_iter
        self.tol = tol
        self.fit_intercept = fit_intercept
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose
        self.callback = callback

    def _inner_model(self, y):
        n_classes = np.unique(y).shape[0]
        datafit = "logistic" if n_classes <= 2 else "multinomial"
        return InnerModel(datafit, self.penalty, self.fit_intercept)

    def _rho(self):
        return {"l1": 1.0, "l2": 0.0}.get(self.penalty, self.l1_ratio_init)

    def _initial_lam(self, scales, n_samples):
        if self.C_init is None:
            return None
        lam = logistic_lam_from_sklearn(self.C_init, self._rho(), n_samples)
        # the penalty's own weights: [lam1], [lam2] or [lam1, lam2]
        return scales.penalty.lam_from_weights(lam[0], lam[1], scales.n_features)

    def _bounds(self, scales, n_samples):
        if self.C_bounds is None:
            return scales.bounds(self._search_defaults)
        C_lo, C_hi = check_bounds(self.C_bounds, "C_bounds")
        lo, hi = logistic_weight_from_C(C_hi, n_samples), logistic_weight_from_C(C_lo, n_samples)
        return (scales.penalty.lam_from_weights(lo, lo, scales.n_features),
                scales.penalty.lam_from_weights(hi, hi, scales.n_features))

    def _hyper_names(self, lam, n_samples):
        C, l1_ratio = logistic_sklearn_from_lam(lam, n_samples)
        if self.penalty == "l2":
            l1_ratio = 0.0
        return {"C": C, "l1_ratio": l1_ratio, "alpha": float(np.sum(lam))}

    def _scoring(self, n_classes):
        """The :class:`~skhypergrad._scoring.SearchScoring` of ``scoring`` (None: the
        log-loss the search minimizes) for ``n_classes`` classes."""
        final = LogisticRegression(fit_intercept=self.fit_intercept)
        return check_search_scoring("neg_log_loss" if self.scoring is None else self.scoring,
                                    True, "log", final, n_classes)

    def _search(self, search, model, X, y, groups, lam0, bounds, candidates, weights=None):
        """The search of :class:`BaseHyperGrad` on the held-out loss ``scoring`` follows
        (see the class docstring); with a scorer that is not that loss, every point is
        also scored (entries ``scores``, per fold, and ``score``, their mean, of the
        history), the best point refined by the scorer itself (a few value-only
        evaluations, entries ``polish=True``), and the result is the point with the
        best mean score."""
        plan = self._scoring(len(model.classes))
        criterion, X_train, y_train = self._criterion(X, y, groups, weights)
        criterion.loss = plan.loss
        if not plan.rescore:
            return search(model, X_train, y_train, criterion, lam0, bounds=bounds,
                          candidates=candidates)
        template = unfitted_template(LogisticRegression(fit_intercept=self.fit_intercept),
                                     model.classes, X.shape[1],
                                     model.get_datafit().n_outputs)
        views = partial(_fold_views, criterion, template, model.fit_intercept)
        scored = ScoredCriterion(criterion, FoldScorer(plan.scorers, np.nan), views)
        t0 = time.perf_counter()
        result = search(model, X_train, y_train, scored, lam0, bounds=bounds,
                        candidates=candidates)
        n_folds = len(result.history[0]["values"]) // 2
        history = list(result.history)
        if not plan.exact:  # refined by the scorer itself (see skhypergrad._scoring.polish)
            solver = _with_tol(search.keywords["solver"], search.keywords["inner_tol"][1])
            last = [result.state]

            def evaluate(lam):
                entry, last[0] = scan_entry(scored, model, X_train, y_train, lam, solver,
                                            last[0], t0)
                return entry

            polish(evaluate, history, lambda h: np.mean(h["values"][n_folds:]), bounds,
                   POLISH_EVALS * len(bounds[0]))
        for h in history:
            h["scores"] = h["values"][n_folds:]
            h["values"] = h["values"][:n_folds]
            h["score"] = float(np.mean(h["scores"]))
        scores = np.array([h["score"] for h in history])
        best = history[int(np.argmax(np.where(np.isnan(scores), -np.inf, scores)))]
        return result._replace(lam=best["lam"], value=best["value"], history=history,
                               n_evals=len(history))

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, groups=None):
        """Tune ``C`` (and ``l1_ratio``) on ``(X, y)``, then refit on all of it.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Class labels (any two or more classes).
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample weights (None: all 1): each sample's loss is multiplied by its
            weight (and by its class's weight, ``class_weight``), as in scikit-learn's
            ``LogisticRegression``, whose ``C`` multiplies the weighted *sum* of the
            losses; the held-out losses are weighted means (the class weights
            left out, as ``LogisticRegressionCV`` scores).
        groups : array-like of shape (n_samples,), default=None
            Group labels of the samples, for a group splitter as ``cv``
            (e.g. :class:`~sklearn.model_selection.StratifiedGroupKFold`).

        Returns
        -------
        self
        """
        self._fit(X, y, groups, sample_weight)
        if self._scoring(len(self.classes_)).rescore:
            self.best_score_ = max((h["score"] for h in self.history_),
                                   key=lambda s: -np.inf if np.isnan(s) else s)
        return self

    def decision_function(self, X):
        """Linear scores: shape (n_samples,) for two classes, (n_samples, n_classes) otherwise.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray
        """
        scores = self._decision(X)
        return scores.ravel() if scores.shape[1] == 1 else scores

    def predict_proba(self, X):
        """Class probabilities (sigmoid for two classes, softmax otherwise).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        scores = self.decision_function(X)
        if scores.ndim == 1:
            p1 = 1.0 / (1.0 + np.exp(-scores))
            return np.column_stack([1.0 - p1, p1])
        return softmax(scores, copy=False)

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        return np.log(self.predict_proba(X))

    def predict(self, X):
        """Most probable class.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        scores = self.decision_function(X)
        idx = (scores > 0).astype(int) if scores.ndim == 1 else scores.argmax(axis=1)
        return self.classes_[idx]


def _fold_views(criterion, template, fit_intercept, X, y):
    """The :class:`~skhypergrad._scoring.FoldView` of each inner problem of ``criterion``
    (the held-out rows of a ``HeldOut`` or of each split of a ``CrossVal`` whose ``cv``
    is a list of splits), trained on ``(X, y)``; the scorers are given the held-out
    rows' ``sample_weight`` (the criterion's weights of its held-out losses)."""
    if isinstance(criterion, HeldOut):
        rows = [(criterion.X_val, np.asarray(criterion.y_val), criterion.sample_weight_val)]
    else:
        weights = criterion.score_sample_weight
        rows = [(X[test], y[test], None if weights is None else weights[test])
                for _, test in criterion.cv]
    return [FoldView(template, None, None, X_test, y_test, fit_intercept, None,
                     None if w is None else {"sample_weight": w})
            for X_test, y_test, w in rows]


def _significantly_lower(errors, reference, z=_EARLY_STOPPING_Z):
    """Whether ``errors`` are below ``reference`` (the same rows) on average by more than
    ``z`` standard errors of the mean of their differences."""
    diff = np.asarray(reference) - np.asarray(errors)
    if diff.size < 2:
        return False
    return float(diff.mean()) > z * float(diff.std(ddof=1)) / np.sqrt(diff.size)


def _broadcast_lam(entry, n_features):
    """A history entry of a common weight with its ``lam`` repeated for every feature."""
    return {**entry, "lam": np.full(n_features, entry["lam"][0])}


@_doc
class LinearSVCHyperGrad(ClassWeightMixin, ClassifierMixin, BaseHyperGrad):
    r"""Linear SVM (squared hinge, L2 or L1 penalty) whose ``C`` is tuned by hypergradient
    descent.

    The inner problem is scikit-learn's :class:`~sklearn.svm.LinearSVC`
    (``loss="squared_hinge"``, liblinear's objective),

    .. math::

        C\sum_i \max(0, 1 - y_i \tilde x_i^T \tilde w)^2 + \frac12\|\tilde w\|^2
        \quad (\text{or } + \|\tilde w\|_1 \text{ for } \texttt{penalty="l1"}),

    with :math:`\tilde x_i = (x_i, s)`, ``s = intercept_scaling``: the intercept
    :math:`s\,\tilde w_{p+1}` is penalized as every coefficient (see
    :mod:`skhypergrad.squared_hinge`), searched as ``lam = [1 / (C n)]`` in
    log-space; the criterion is the held-out mean squared hinge (summed over the
    classes). More than two classes are one-vs-rest: ``K`` binary problems
    sharing one ``C``, the criterion summed over them (coordinate descent solves
    them in turn). A fitted estimator hands ``C_`` to ``LinearSVC`` and gets
    the same coefficients.

    Parameters
    ----------
    penalty : {"l2", "l1"}, default="l2"
    C_init : float, default=None
        Starting ``C``. When None, the descent starts from the best point of a
        scan relative to the data: for ``"l2"``, ``1 / (C n)`` from ``10 kappa``
        down to ``1e-5 kappa`` in steps of ``10^0.5`` (``kappa`` the curvature of
        the datafit, see :mod:`skhypergrad._search_space`); for ``"l1"``,
        ``C_min * 10^(k/2)``, ``k = 1..6``, ``C_min`` the largest ``C`` that zeroes
        every coefficient.
    C_bounds : (float, float), default=None
        Search interval of ``C``; when None, ``1 / (C n)`` in ``(1e-6, 1e3) kappa``
        (``"l2"``) or ``C`` in ``(0.1, 1e4) C_min`` (``"l1"``).
    intercept_scaling : float, default=1.0
        The synthetic feature's value ``s`` (``fit_intercept=True``), as in
        ``LinearSVC``.
    class_weight : dict or "balanced", default=None
        Weights of the classes in the training loss, multiplied into
        ``sample_weight`` (see :class:`LogisticRegressionHyperGrad`).
    %(common)s

    Attributes
    ----------
    C_ : float
        ``C`` of the model refit on all ``n`` samples (the search holds
        ``1 / (C n)`` fixed across folds).
    alpha_ : float
        ``1 / (C_ n)``: the penalty weight of the normalized objective.
    classes_ : ndarray of shape (n_classes,)
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
    %(attrs)s

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.preprocessing import scale
    >>> from skhypergrad import LinearSVCHyperGrad
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> clf = LinearSVCHyperGrad(cv=3).fit(scale(X), y)
    >>> bool(clf.score(scale(X), y) > 0.9)
    True
    """

    _is_classifier = True
    _search_defaults = SQUARED_HINGE
    _parameter_constraints = {
        **BaseHyperGrad._parameter_constraints,
        "penalty": [StrOptions({"l2", "l1"})],
        "C_init": [None, Interval(numbers.Real, 0, None, closed="neither")],
        "class_weight": [None, dict, StrOptions({"balanced"})],
        "C_bounds": _BOUNDS,
        "intercept_scaling": [Interval(numbers.Real, 0, None, closed="neither")],
    }

    def __init__(self, *, penalty="l2", cv=5, C_init=None, C_bounds=None,
                 intercept_scaling=1.0, hypergradient="aid-cg", solver="auto", optimizer="gd",
                 max_iter=30, tol=1e-3, fit_intercept=True, n_jobs=None, random_state=None,
                 verbose=0, callback=None, class_weight=None):
        self.class_weight = class_weight
        self.penalty = penalty
        self.cv = cv
        self.C_init = C_init
        self.C_bounds = C_bounds
        self.intercept_scaling = intercept_scaling
        self.hypergradient = hypergradient
        self.solver = solver
        self.optimizer = optimizer
        self.max_iter = max_iter
        self.tol = tol
        self.fit_intercept = fit_intercept
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose
        self.callback = callback

    def _inner_model(self, y):
        # the intercept is a penalized synthetic feature (_training_design), not b
        return InnerModel("squared_hinge", self.penalty, fit_intercept=False)

    def _training_design(self, X):
        if not self.fit_intercept:
            return X
        return append_intercept_column(X, self.intercept_scaling)

    def _initial_lam(self, scales, n_samples):
        if self.C_init is None:
            return None
        return svc_lam_from_sklearn(self.C_init, n_samples)

    def _bounds(self, scales, n_samples):
        if self.C_bounds is None:
            return scales.bounds(self._search_defaults)
        C_lo, C_hi = check_bounds(self.C_bounds, "C_bounds")
        return svc_lam_from_sklearn(C_hi, n_samples), svc_lam_from_sklearn(C_lo, n_samples)

    def _hyper_names(self, lam, n_samples):
        return {"C": svc_sklearn_from_lam(lam, n_samples), "alpha": float(lam[0])}

    def _set_solution(self, pgmap, model, w):
        super()._set_solution(pgmap, model, w)
        coef = self.coef_  # (n_outputs, n_features [+ 1])
        if self.fit_intercept:
            self.intercept_ = self.intercept_scaling * coef[:, -1]
            self.coef_ = coef[:, :-1].copy()
        else:
            self.intercept_ = np.zeros(coef.shape[0])

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Tune ``C`` on ``(X, y)``, then refit on all of it.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Class labels (any two or more classes).
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample weights (None: all 1): each sample's loss is multiplied by its
            weight, as in scikit-learn's ``LinearSVC``, whose ``C`` multiplies the
            weighted *sum* of the losses; the held-out losses are weighted means.

        Returns
        -------
        self
        """
        return self._fit(X, y, sample_weight=sample_weight)

    def decision_function(self, X):
        """Signed distances: shape (n_samples,) for two classes, (n_samples, n_classes)
        otherwise (one-vs-rest).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray
        """
        scores = self._decision(X)
        return scores.ravel() if scores.shape[1] == 1 else scores

    def predict(self, X):
        """The class of the largest decision function (its sign for two classes).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        scores = self.decision_function(X)
        idx = (scores > 0).astype(int) if scores.ndim == 1 else scores.argmax(axis=1)
        return self.classes_[idx]


class _MultiTaskHyperGrad(_RegressorHyperGrad):
    """Shared parts of the multi-task models: 2d targets, the L2,1 block penalty, FISTA."""

    _multi_output = True

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = False
        return tags

    def _inner_model(self, y):
        return InnerModel(MultiTaskQuadratic(y.shape[1]), self._block_penalty(),
                          self.fit_intercept)

    def _set_solution(self, pgmap, model, w):
        super()._set_solution(pgmap, model, w)
        T = model.get_datafit().n_outputs
        self.coef_ = self.coef_.reshape(T, -1)  # (n_tasks, n_features), one task included
        self.intercept_ = np.atleast_1d(self.intercept_)

    def fit(self, X, y, groups=None):
        """Tune the hyperparameters on ``(X, y)``, then refit on all of it.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples, n_tasks)
        groups : array-like of shape (n_samples,), default=None
            Group labels for a group splitter given as ``cv``.

        Returns
        -------
        self
        """
        return super().fit(X, y, groups=groups)

    def predict(self, X):
        """Linear prediction ``X @ coef_.T + intercept_``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_tasks)
        """
        return self._decision(X)


@_doc
class MultiTaskLassoHyperGrad(_MultiTaskHyperGrad):
    r"""Multi-task Lasso whose ``alpha`` is tuned by hypergradient descent on the CV loss.

    Minimizes over ``alpha`` the held-out mean squared error (averaged over the
    tasks, as ``sklearn.metrics.mean_squared_error``) of

    .. math::

        W^*(\alpha) = \arg\min_W \frac{1}{2n}\|Y - XW - 1b^T\|_F^2 + \alpha\sum_j \|W_j\|_2

    (scikit-learn's :class:`~sklearn.linear_model.MultiTaskLasso` objective, ``W_j``
    the coefficients of feature ``j`` on every task), then refits. The inner
    problems are solved by FISTA (``solver="auto"``).

    Parameters
    ----------
    alpha_init : float, default=None
        Starting ``alpha``; None starts from the best of the points
        ``alpha_max * 10^(-k/2)``, ``k = 1..8`` (``alpha_max`` the smallest ``alpha``
        that zeroes every coefficient: :math:`\max_j \|X_j^T (Y - \bar Y)\|_2 / n`).
    alpha_bounds : (float, float), default=None
        Search interval for ``alpha``; ``(1e-6, 10) * alpha_max`` when None.
    %(common)s

    Attributes
    ----------
    alpha_ : float
        Chosen ``alpha``.
    coef_ : ndarray of shape (n_tasks, n_features)
    %(attrs)s

    See Also
    --------
    sklearn.linear_model.MultiTaskLassoCV : the grid-search counterpart.

    Examples
    --------
    >>> import numpy as np
    >>> from skhypergrad import MultiTaskLassoHyperGrad
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((100, 10))
    >>> Y = X[:, :2] @ rng.standard_normal((2, 3)) + 0.1 * rng.standard_normal((100, 3))
    >>> est = MultiTaskLassoHyperGrad(cv=3).fit(X, Y)
    >>> est.coef_.shape
    (3, 10)
    """

    def _block_penalty(self):
        return GroupL21()


@_doc
class MultiTaskElasticNetHyperGrad(_MultiTaskHyperGrad):
    r"""Multi-task elastic net whose ``alpha`` and ``l1_ratio`` are tuned by hypergradient
    descent.

    The inner problem is scikit-learn's :class:`~sklearn.linear_model.MultiTaskElasticNet`,

    .. math::

        \frac{1}{2n}\|Y - XW - 1b^T\|_F^2 + \alpha\rho\sum_j \|W_j\|_2
        + \frac{\alpha(1-\rho)}{2}\|W\|_F^2,

    searched as ``lam = [alpha * l1_ratio, alpha * (1 - l1_ratio)]`` in log-space
    (the starting scan and bounds of :class:`ElasticNetHyperGrad`).

    Parameters
    ----------
    alpha_init : float, default=None
        Starting ``alpha`` (with ``l1_ratio_init``); None starts from the best point
        of a coarse scan in units of the data, as :class:`ElasticNetHyperGrad`.
    l1_ratio_init : float in (0, 1), default=0.5
        Starting ``l1_ratio`` (with ``alpha_init``).
    alpha_bounds : (float, float), default=None
        Interval in which each of ``alpha * l1_ratio`` and ``alpha * (1 - l1_ratio)``
        is searched (see :class:`ElasticNetHyperGrad`).
    %(common)s

    Attributes
    ----------
    alpha_ : float
    l1_ratio_ : float
    coef_ : ndarray of shape (n_tasks, n_features)
    %(attrs)s

    See Also
    --------
    sklearn.linear_model.MultiTaskElasticNetCV : the grid-search counterpart.
    """

    _parameter_constraints = ElasticNetHyperGrad._parameter_constraints

    def __init__(self, *, cv=5, alpha_init=None, l1_ratio_init=0.5, alpha_bounds=None,
                 hypergradient="aid-cg", solver="auto", optimizer="gd", max_iter=30, tol=1e-3,
                 fit_intercept=True, n_jobs=None, random_state=None, verbose=0, callback=None):
        super().__init__(cv=cv, alpha_init=alpha_init, alpha_bounds=alpha_bounds,
                         hypergradient=hypergradient, solver=solver, optimizer=optimizer,
                         max_iter=max_iter, tol=tol, fit_intercept=fit_intercept,
                         n_jobs=n_jobs, random_state=random_state, verbose=verbose,
                         callback=callback)
        self.l1_ratio_init = l1_ratio_init

    _initial_lam = ElasticNetHyperGrad._initial_lam
    _hyper_names = ElasticNetHyperGrad._hyper_names

    def _block_penalty(self):
        return GroupElasticNet()


# -- log-link GLMs (skhypergrad.glm) ---------------------------------------------------
class _GLMHyperGrad(RegressorMixin, BaseHyperGrad):
    """Shared parts of the log-link GLM regressors: the datafit is stated by
    ``_datafit()``, the penalty chosen by ``penalty``."""

    _search_defaults = GLM
    _parameter_constraints = {
        **_RegressorHyperGrad._parameter_constraints,
        "penalty": [StrOptions({"l2", "l1", "elasticnet"})],
        "l1_ratio_init": [Interval(numbers.Real, 0, 1, closed="neither")],
    }

    def __init__(self, *, penalty="l2", cv=5, alpha_init=None, l1_ratio_init=0.5,
                 alpha_bounds=None, hypergradient="aid-cg", solver="auto", optimizer="gd",
                 max_iter=30, tol=1e-3, fit_intercept=True, n_jobs=None, random_state=None,
                 verbose=0, callback=None):
        self.penalty = penalty
        self.cv = cv
        self.alpha_init = alpha_init
        self.l1_ratio_init = l1_ratio_init
        self.alpha_bounds = alpha_bounds
        self.hypergradient = hypergradient
        self.solver = solver
        self.optimizer = optimizer
        self.max_iter = max_iter
        self.tol = tol
        self.fit_intercept = fit_intercept
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose
        self.callback = callback

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.positive_only = True
        return tags

    #: the registered datafit's name (see :mod:`skhypergrad.glm`)
    _datafit_name = None

    def _datafit(self):
        """The datafit of the inner model (a name, or an instance with parameters)."""
        return self._datafit_name

    def _inner_model(self, y):
        return InnerModel(self._datafit(), self.penalty, self.fit_intercept)

    def _initial_lam(self, scales, n_samples):
        if self.alpha_init is None:
            return None
        if self.penalty == "elasticnet":
            return enet_lam_from_sklearn(self.alpha_init, self.l1_ratio_init)
        return np.array([float(self.alpha_init)])

    def _bounds(self, scales, n_samples):
        if self.alpha_bounds is None:
            return scales.bounds(self._search_defaults)
        lo, hi = check_bounds(self.alpha_bounds, "alpha_bounds")
        return (scales.penalty.lam_from_weights(lo, lo, scales.n_features),
                scales.penalty.lam_from_weights(hi, hi, scales.n_features))

    def _hyper_names(self, lam, n_samples):
        alpha, l1_ratio = enet_sklearn_from_lam(lam)
        if self.penalty == "elasticnet":
            return {"alpha": alpha, "l1_ratio": l1_ratio}
        return {"alpha": alpha}

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Tune the penalty on ``(X, y)``, then refit on all of it.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Targets in the datafit's domain (``y >= 0`` with a positive mean, or
            ``y > 0`` for the Gamma model).
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample weights (None: all 1), in the training datafit (rescaled to sum
            to ``n_samples``, as scikit-learn's ``PoissonRegressor``) and in the held-out
            losses (weighted means, mean deviances); integer
            weights fit as the rows repeated, zero weights as the rows dropped.

        Returns
        -------
        self
        """
        return self._fit(X, y, sample_weight=sample_weight)

    def predict(self, X):
        """Predicted means ``exp(X @ coef_ + intercept_)``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        return np.exp(self._decision(X))

    def score(self, X, y, sample_weight=None):
        """D², the fraction of the deviance explained (scikit-learn's GLMs' ``score``).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        float
        """
        return d2_tweedie_score(y, self.predict(X), sample_weight=sample_weight,
                                power=self._power())

    def _power(self):
        return InnerModel(self._datafit()).get_datafit().power


_GLM_DOC = r"""{title}

    The inner problem is scikit-learn's :class:`~sklearn.linear_model.{sk}` objective
    (``penalty="l2"``), the mean half deviance (:mod:`skhypergrad.glm`) plus a penalty,

    .. math::

        \frac{{1}}{{n}}\sum_i \ell(y_i, x_i^T w + b) + \alpha\rho\|w\|_1
        + \frac{{\alpha(1 - \rho)}}{{2}}\|w\|^2

    with ``rho = 0`` (``"l2"``, scikit-learn's), 1 (``"l1"``) or ``l1_ratio``
    (``"elasticnet"``), searched in log-space as ``lam = [alpha]`` (or ``[alpha rho,
    alpha (1 - rho)]``); the criterion is the held-out mean {deviance}. A fitted
    ``penalty="l2"`` model hands ``alpha_`` to ``{sk}`` and gets the same coefficients.

    Parameters
    ----------{extra}
    penalty : {{"l2", "l1", "elasticnet"}}, default="l2"
        The penalty whose weights are tuned: ``alpha`` alone, or ``alpha`` and
        ``l1_ratio``.
    alpha_init : float, default=None
        Starting ``alpha`` (with ``l1_ratio_init``). When None, the descent starts
        from the best point of a coarse scan in units of the data: for ``"l2"``,
        the L2 weights ``kappa * 10^(1 - k/2)``, ``k = 0..10``, ``kappa`` the mean
        diagonal of the datafit's Hessian at the null model (see
        :mod:`skhypergrad._search_space`); with an L1 part, paths of the L1 weight
        from ``alpha_max / 10^0.5`` down to ``alpha_max / 10^3`` (as
        :class:`ElasticNetHyperGrad`).
    l1_ratio_init : float in (0, 1), default=0.5
        Starting ``l1_ratio`` (``penalty="elasticnet"``).
    alpha_bounds : (float, float), default=None
        Interval of ``alpha`` (of each of ``alpha * l1_ratio`` and ``alpha * (1 -
        l1_ratio)``); None: the L1 weight in ``(1e-4, 10) * alpha_max`` and the L2
        weight in ``(1e-5, 1e3) * kappa``.
    %(common)s

    Attributes
    ----------
    alpha_ : float
    l1_ratio_ : float
        ``penalty="elasticnet"`` only.
    coef_ : ndarray of shape (n_features,)
    %(attrs)s

    See Also
    --------
    sklearn.linear_model.{sk} : the model with a fixed ``alpha``.

    Examples
    --------
    >>> import numpy as np
    >>> from skhypergrad import {name}
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((200, 5))
    >>> y = {draw}
    >>> est = {name}({args}cv=3).fit(X, y)
    >>> bool(est.alpha_ > 0 and est.predict(X).min() > 0)
    True
    """


def _glm_doc(cls, title, sk, deviance, draw, args="", extra=""):
    cls.__doc__ = _GLM_DOC.format(title=title, sk=sk, deviance=deviance, name=cls.__name__,
                                  draw=draw, args=args, extra=extra)
    return _doc(cls)


class PoissonRegressorHyperGrad(_GLMHyperGrad):
    _datafit_name = "poisson"


class GammaRegressorHyperGrad(_GLMHyperGrad):
    _datafit_name = "gamma"


class TweedieRegressorHyperGrad(_GLMHyperGrad):
    _parameter_constraints = {
        **_GLMHyperGrad._parameter_constraints,
        "power": [Interval(numbers.Real, 1, 2, closed="both")],
    }

    def __init__(self, *, power=1.5, penalty="l2", cv=5, alpha_init=None, l1_ratio_init=0.5,
                 alpha_bounds=None, hypergradient="aid-cg", solver="auto", optimizer="gd",
                 max_iter=30, tol=1e-3, fit_intercept=True, n_jobs=None, random_state=None,
                 verbose=0, callback=None):
        super().__init__(penalty=penalty, cv=cv, alpha_init=alpha_init,
                         l1_ratio_init=l1_ratio_init, alpha_bounds=alpha_bounds,
                         hypergradient=hypergradient, solver=solver, optimizer=optimizer,
                         max_iter=max_iter, tol=tol, fit_intercept=fit_intercept,
                         n_jobs=n_jobs, random_state=random_state, verbose=verbose,
                         callback=callback)
        self.power = power

    def _datafit(self):
        power = float(self.power)
        return {1.0: "poisson", 2.0: "gamma"}.get(power) or Tweedie(power)


_glm_doc(PoissonRegressorHyperGrad, "Poisson regression whose penalty is tuned by "
         "hypergradient descent.", "PoissonRegressor", "Poisson deviance",
         "rng.poisson(np.exp(X[:, 0]))")
_glm_doc(GammaRegressorHyperGrad, "Gamma regression (log link) whose penalty is tuned by "
         "hypergradient descent.", "GammaRegressor", "Gamma deviance",
         "rng.gamma(2.0, np.exp(X[:, 0]) / 2.0)")
_glm_doc(TweedieRegressorHyperGrad, "Tweedie regression (log link, 1 <= power <= 2) whose "
         "penalty is tuned by hypergradient descent.", "TweedieRegressor",
         "Tweedie deviance of the model's power",
         "rng.poisson(np.exp(X[:, 0])) * rng.gamma(2.0, 1.0, 200)", args="power=1.5, ",
         extra="""
    power : float in [1, 2], default=1.5
        Tweedie power: 1 is the Poisson model, 2 the Gamma model, in between the
        compound Poisson-Gamma (``y >= 0`` with exact zeros). Outside [1, 2] the
        log-link deviance is not convex and is not offered.""")


class _RidgeHyperGrad(BaseHyperGrad):
    """Shared parts of the ridge models: ``alpha`` of a sum of squares, ``lam = alpha / n``."""

    _parameter_constraints = {
        **BaseHyperGrad._parameter_constraints,
        "alpha_init": [None, Interval(numbers.Real, 0, None, closed="neither")],
        "alpha_bounds": _BOUNDS,
    }

    def __init__(self, *, cv=5, alpha_init=None, alpha_bounds=None, hypergradient="aid-cg",
                 solver="auto", optimizer="gd", max_iter=30, tol=1e-3, fit_intercept=True,
                 n_jobs=None, random_state=None, verbose=0, callback=None):
        self.cv = cv
        self.alpha_init = alpha_init
        self.alpha_bounds = alpha_bounds
        self.hypergradient = hypergradient
        self.solver = solver
        self.optimizer = optimizer
        self.max_iter = max_iter
        self.tol = tol
        self.fit_intercept = fit_intercept
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose
        self.callback = callback

    _datafit_name = "quadratic"

    def _inner_model(self, y):
        return InnerModel(self._datafit_name, "l2", self.fit_intercept)

    def _initial_lam(self, scales, n_samples):
        if self.alpha_init is None:
            return None
        return np.array([self.alpha_init / n_samples])

    def _bounds(self, scales, n_samples):
        if self.alpha_bounds is None:
            return scales.bounds(self._search_defaults)
        lo, hi = check_bounds(self.alpha_bounds, "alpha_bounds")
        return np.array([lo / n_samples]), np.array([hi / n_samples])

    def _hyper_names(self, lam, n_samples):
        return {"alpha": float(lam[0]) * n_samples}

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, groups=None):
        """Tune ``alpha`` on ``(X, y)``, then refit on all of it.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Targets (class labels of any type for the classifier).
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample weights (None: all 1): each squared error is multiplied by its
            weight, as in scikit-learn's ``Ridge``, whose ``alpha`` weighs the weighted
            *sum* of squares (``alpha_ / sum(sample_weight)`` is the normalized
            weight); the held-out losses are weighted means. Integer weights fit as
            the rows repeated, zero weights as the rows dropped.
        groups : array-like of shape (n_samples,), default=None
            Group labels of the samples, for a group splitter as ``cv``
            (e.g. :class:`~sklearn.model_selection.GroupKFold`).

        Returns
        -------
        self
        """
        return self._fit(X, y, groups, sample_weight)


_RIDGE_PARAMS = """
    alpha_init : float, default=None
        Starting ``alpha``. When None, the descent starts from the best of the
        points ``alpha / n = kappa * 10^(2 - k/2)``, ``k = 0..12`` (warm-started
        solves without gradients, on every fold), ``kappa`` the mean variance of the
        columns (the curvature of the datafit, see :mod:`skhypergrad._search_space`).
    alpha_bounds : (float, float), default=None
        Search interval of ``alpha``; ``alpha / n`` in ``(1e-6, 1e3) * kappa`` when
        None.
"""


def _ridge_doc(cls):
    cls.__doc__ = cls.__doc__.replace("    %(ridge)s\n", _RIDGE_PARAMS.strip("\n") + "\n")
    return _doc(cls)


@_ridge_doc
class RidgeHyperGrad(RegressorMixin, _RidgeHyperGrad):
    r"""Ridge regression whose ``alpha`` is tuned by hypergradient descent on the CV loss.

    The inner problem is scikit-learn's :class:`~sklearn.linear_model.Ridge`,

    .. math::

        w^*(\alpha) = \arg\min_{w, b} \|y - Xw - b\|^2 + \alpha\|w\|^2

    (a sum of squares, not divided by ``n``), searched as ``lam = [alpha / n]`` in
    log-space, the weight of the normalized objective
    :math:`\frac{1}{2n}\|y - Xw - b\|^2 + \frac{\lambda}{2}\|w\|^2`; the criterion is
    the mean held-out squared error. The problem is smooth and strongly convex:
    the implicit function theorem gives the hypergradient exactly,
    :math:`\nabla_\lambda E = -w^{*T} H^{-1} \nabla_w E` with
    :math:`H = X^T X / n + \lambda I` (centred columns with an intercept).

    Parameters
    ----------
    %(ridge)s
    %(common)s

    Attributes
    ----------
    alpha_ : float
        ``alpha`` of the model refit on all ``n`` samples. The search holds
        ``alpha / n`` fixed across folds (as ``ElasticNetCV`` holds its ``alpha``),
        so a fold trained on ``n_train`` samples used ``alpha_ n_train / n``.
    coef_ : ndarray of shape (n_features,)
    %(attrs)s

    See Also
    --------
    sklearn.linear_model.RidgeCV : the grid counterpart (efficient leave-one-out).

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.linear_model import Ridge
    >>> from skhypergrad import RidgeHyperGrad
    >>> X, y = load_diabetes(return_X_y=True)
    >>> est = RidgeHyperGrad(cv=5).fit(X, y)
    >>> sk = Ridge(alpha=est.alpha_).fit(X, y)
    >>> bool(abs(sk.coef_ - est.coef_).max() < 1e-6 * abs(sk.coef_).max())
    True
    """

    def predict(self, X):
        """Linear prediction ``X @ coef_ + intercept_``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        return self._decision(X)


@_ridge_doc
class RidgeClassifierHyperGrad(ClassifierMixin, _RidgeHyperGrad):
    r"""Ridge classifier whose ``alpha`` is tuned by hypergradient descent on the CV loss.

    The inner problem is scikit-learn's
    :class:`~sklearn.linear_model.RidgeClassifier`: ``Ridge(alpha)`` on the labels
    :math:`\pm 1` (``+1`` for ``classes_[1]``), and for ``K > 2`` classes on ``K``
    one-vs-all columns :math:`Y_{ik} = \pm 1` sharing ``alpha``,

    .. math::

        \min_{W, b} \|Y - XW - 1b^T\|_F^2 + \alpha\|W\|_F^2,

    searched as ``lam = [alpha / n]`` in log-space (see
    :mod:`skhypergrad.ridge_classifier`). The criterion is the held-out squared
    error of the decision function against the encoded labels, averaged over the
    columns (:func:`~skhypergrad.squared_class_error`): the smooth loss the model
    minimizes, a surrogate of the accuracy.

    Parameters
    ----------
    %(ridge)s
    %(common)s

    Attributes
    ----------
    alpha_ : float
        ``alpha`` of the model refit on all ``n`` samples (the search holds
        ``alpha / n`` fixed across folds).
    classes_ : ndarray of shape (n_classes,)
    coef_ : ndarray of shape (n_features,) or (n_classes, n_features)
        ``(n_features,)`` for two classes, as scikit-learn's ``RidgeClassifier``.
    %(attrs)s

    See Also
    --------
    sklearn.linear_model.RidgeClassifierCV : the grid counterpart.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.preprocessing import scale
    >>> from skhypergrad import RidgeClassifierHyperGrad
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> clf = RidgeClassifierHyperGrad(cv=3).fit(scale(X), y)
    >>> bool(clf.score(scale(X), y) > 0.9)
    True
    """

    _is_classifier = True
    _datafit_name = "squared_classifier"

    def _set_solution(self, pgmap, model, w):
        super()._set_solution(pgmap, model, w)
        if self.coef_.shape[0] == 1:  # two classes: (n_features,), as RidgeClassifier
            self.coef_ = self.coef_[0]

    def decision_function(self, X):
        """Linear scores: shape (n_samples,) for two classes, (n_samples, n_classes) otherwise.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray
        """
        scores = self._decision(X)
        return scores.ravel() if scores.ndim == 1 or scores.shape[1] == 1 else scores

    def predict(self, X):
        """The class of the largest score (its sign for two classes).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        scores = self.decision_function(X)
        idx = (scores > 0).astype(int) if scores.ndim == 1 else scores.argmax(axis=1)
        return self.classes_[idx]


@_doc
class HuberRegressorHyperGrad(RegressorMixin, BaseHyperGrad):
    r"""Huber regression whose ``alpha`` and ``epsilon`` are tuned by hypergradient descent.

    The inner problem is scikit-learn's :class:`~sklearn.linear_model.HuberRegressor`
    (``penalty="l2"``), or its L1 / elastic-net variant,

    .. math::

        \sum_{i=1}^n \Big[\sigma + \sigma H_\epsilon\Big(\frac{y_i - x_i^T w - b}
        {\sigma}\Big)\Big] + \alpha\big(\rho\|w\|_1 + (1 - \rho)\|w\|^2\big)

    (:math:`\rho` 0, 1 or ``l1_ratio``; see :mod:`skhypergrad.huber`), searched as
    ``lam = [penalty's..., epsilon]`` in log-space (``epsilon`` is a hyperparameter
    of the datafit) to minimize the cross-validated squared error.

    The scale :math:`\sigma` is estimated once, jointly with the coefficients on all
    the data at the starting ``alpha`` (``alpha_init``, or scikit-learn's default
    1e-4 when None) and ``epsilon_init``, and kept fixed during the search: the
    hypergradient is that of the fixed-scale model. The refit at the chosen
    hyperparameters is joint (:func:`~skhypergrad.huber.concomitant_fit`): with
    ``penalty="l2"``, ``coef_``, ``intercept_`` and ``scale_`` are those of
    ``HuberRegressor(alpha=alpha_, epsilon=epsilon_)``, except that the scale is at
    least :func:`~skhypergrad.huber.scale_floor` of ``y`` (1e-6 times its median
    absolute deviation: below, on a near perfect fit, the residuals are rounding errors).

    Parameters
    ----------
    penalty : {"l2", "l1", "elasticnet"}, default="l2"
    alpha_init : float, default=None
        Starting ``alpha``. When None, the descent starts from the best point of a
        coarse scan relative to the data (the L2 weight from 100 to 1e-5 times the
        datafit's curvature ``kappa``; the L1 weight from ``alpha_max / 10^0.5``
        down, as :class:`ElasticNetHyperGrad`), at ``epsilon_init``.
    epsilon_init : float, default=1.35
        Starting ``epsilon`` (at least 1), its value when ``tune_epsilon=False``.
    tune_epsilon : bool, default=True
        Whether ``epsilon`` is searched as well.
    l1_ratio_init : float in (0, 1), default=0.5
        The ratio of the L1 part at the start (``penalty="elasticnet"``).
    alpha_bounds : (float, float), default=None
        Interval of ``alpha`` (of each of its L1 and L2 parts for the elastic net);
        None: relative to the data, as :class:`ElasticNetHyperGrad`.
    epsilon_bounds : (float, float), default=(1.1, 3.0)
        Interval of ``epsilon`` (at 1 the concomitant scale vanishes).
    %(common)s
        Inner solvers: "auto" is coordinate descent; minibatch SAGA has no
        Huber kernel (with ``hypergradient="nsid"`` pass ``solver="cd"``).

    Attributes
    ----------
    alpha_ : float
    epsilon_ : float
    l1_ratio_ : float
        Only with ``penalty="elasticnet"``.
    scale_ : float
        The concomitant scale of the refit.
    coef_ : ndarray of shape (n_features,)
    %(attrs)s

    See Also
    --------
    sklearn.linear_model.HuberRegressor : the model, at given ``alpha`` and ``epsilon``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import HuberRegressor
    >>> from skhypergrad import HuberRegressorHyperGrad
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((200, 5))
    >>> y = X @ np.arange(1.0, 6.0) + rng.standard_t(2, 200)
    >>> est = HuberRegressorHyperGrad(cv=3, max_iter=10).fit(X, y)
    >>> sk = HuberRegressor(alpha=est.alpha_, epsilon=est.epsilon_, tol=1e-10).fit(X, y)
    >>> bool(np.allclose(sk.coef_, est.coef_, rtol=1e-3))
    True
    """

    _parameter_constraints = {
        **BaseHyperGrad._parameter_constraints,
        "penalty": [StrOptions({"l2", "l1", "elasticnet"})],
        "alpha_init": [None, Interval(numbers.Real, 0, None, closed="neither")],
        "epsilon_init": [Interval(numbers.Real, 1, None, closed="left")],
        "tune_epsilon": ["boolean"],
        "l1_ratio_init": [Interval(numbers.Real, 0, 1, closed="neither")],
        "alpha_bounds": _BOUNDS,
        "epsilon_bounds": [tuple, list],
    }
    #: HuberRegressor's default alpha: the scale is estimated there without alpha_init
    _scale_alpha = 1e-4

    def __init__(self, *, penalty="l2", cv=5, alpha_init=None, epsilon_init=1.35,
                 tune_epsilon=True, l1_ratio_init=0.5, alpha_bounds=None,
                 epsilon_bounds=(1.1, 3.0), hypergradient="aid-cg", solver="auto",
                 optimizer="gd", max_iter=30, tol=1e-3, fit_intercept=True, n_jobs=None,
                 random_state=None, verbose=0, callback=None):
        self.penalty = penalty
        self.cv = cv
        self.alpha_init = alpha_init
        self.epsilon_init = epsilon_init
        self.tune_epsilon = tune_epsilon
        self.l1_ratio_init = l1_ratio_init
        self.alpha_bounds = alpha_bounds
        self.epsilon_bounds = epsilon_bounds
        self.hypergradient = hypergradient
        self.solver = solver
        self.optimizer = optimizer
        self.max_iter = max_iter
        self.tol = tol
        self.fit_intercept = fit_intercept
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose
        self.callback = callback

    def _rho(self):
        return {"l2": 0.0, "l1": 1.0}.get(self.penalty, self.l1_ratio_init)

    def _with_epsilon(self, lam_pen, epsilon):
        """``lam``: the penalty's part, then ``epsilon`` when it is searched."""
        return np.append(lam_pen, epsilon) if self.tune_epsilon else np.asarray(lam_pen)

    def _inner_model(self, y):
        # the scale is set from the data by _prepare_model
        return InnerModel(Huber(self.epsilon_init, 1.0, self.tune_epsilon), self.penalty,
                          self.fit_intercept)

    def _prepare_model(self, model, X, y):
        """The model at the scale of the joint fit at the starting hyperparameters."""
        alpha = self._scale_alpha if self.alpha_init is None else self.alpha_init
        lam = self._with_epsilon(huber_lam_from_sklearn(alpha, self._rho(), X.shape[0]),
                                 self.epsilon_init)
        return model.with_data_constants(X, model.encode(y), lam)

    def _initial_lam(self, scales, n_samples):
        if self.alpha_init is None:
            return None
        return self._with_epsilon(huber_lam_from_sklearn(self.alpha_init, self._rho(),
                                                         n_samples), self.epsilon_init)

    def _scan(self, scales):
        return [np.column_stack([path, np.full(path.shape[0], self.epsilon_init)])
                if self.tune_epsilon else path for path in scales.scan(self._search_defaults)]

    def _bounds(self, scales, n_samples):
        if self.alpha_bounds is None:
            lo, hi = scales.bounds(self._search_defaults)
        else:
            a_lo, a_hi = check_bounds(self.alpha_bounds, "alpha_bounds")
            lo, hi = (scales.penalty.lam_from_weights(a / n_samples, 2.0 * a / n_samples,
                                                      scales.n_features) for a in (a_lo, a_hi))
        e_lo, e_hi = check_bounds(self.epsilon_bounds, "epsilon_bounds")
        return self._with_epsilon(lo, e_lo), self._with_epsilon(hi, e_hi)

    def _hyper_names(self, lam, n_samples):
        lam = np.asarray(lam)
        k = lam.shape[0] - self.tune_epsilon
        alpha, l1_ratio = huber_sklearn_from_lam(lam[:k], self.penalty, n_samples)
        names = {"alpha": alpha,
                 "epsilon": float(lam[-1]) if self.tune_epsilon else float(self.epsilon_init)}
        if self.penalty == "elasticnet":
            names["l1_ratio"] = l1_ratio
        return names

    def _refit(self, model, X, y, lam, sample_weight=None):
        """The joint fit (coefficients and scale) at ``lam``, from the intercept-only
        model at the search's scale (``sample_weight``: None, see :meth:`fit`)."""
        full_map = model.make_map(X, model.encode(y), center=True,
                                  sample_weight=sample_weight)
        solver = refit_solver(self.solver, self._refit_tol, self.random_state, full_map)
        w, _, fixed = concomitant_fit(full_map, lam, solver, null_model(full_map))
        return fixed, w

    def _set_solution(self, pgmap, model, w):
        super()._set_solution(pgmap, model, w)
        self.scale_ = pgmap.datafit.scale

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, groups=None):
        """Tune ``alpha`` (and ``epsilon``) on ``(X, y)``, then refit on all of it.

        Sample weights are not supported (no ``sample_weight`` parameter): the
        Huber datafit takes none, its scale being estimated jointly with the
        coefficients.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        groups : array-like of shape (n_samples,), default=None
            Group labels of the samples, for a group splitter as ``cv``
            (e.g. :class:`~sklearn.model_selection.GroupKFold`).

        Returns
        -------
        self
        """
        return self._fit(X, y, groups)

    def predict(self, X):
        """Linear prediction ``X @ coef_ + intercept_``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        return self._decision(X)
