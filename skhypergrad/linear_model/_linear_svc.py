"""The squared-hinge linear SVM (``LinearSVC``) tuned by hypergradient descent."""

import numbers

import numpy as np
from sklearn.base import _fit_context
from sklearn.utils._param_validation import Interval, StrOptions

from .._base import BaseHyperGrad, ClassWeightMixin, SampleWeights
from .._search_space import SQUARED_HINGE
from .._validation import check_bounds
from ..models import InnerModel
from ..penalties import svc_lam_from_sklearn, svc_sklearn_from_lam
from ..squared_hinge import append_intercept_column
from ._common import _BOUNDS, LinearClassifierMixin, _doc


@_doc
class LinearSVCHyperGrad(ClassWeightMixin, LinearClassifierMixin, BaseHyperGrad):
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
    log-space; the criterion is the held-out mean squared hinge (weighted as the
    training loss, ``class_weight`` included; summed over the
    classes). More than two classes are one-vs-rest: ``K`` binary problems
    sharing one ``C``, the criterion summed over them (coordinate descent solves
    them in turn). A fitted estimator hands ``C_`` to ``LinearSVC`` and gets
    the same coefficients.

    Parameters
    ----------
    penalty : {"l2", "l1"}, default="l2"
    C_init : float, default=None
        Starting ``C``. When None, the descent starts from the best point of a
        scan relative to the data: for ``"l2"``, ``1 / (C n)`` from ``10 kappa_min``
        down to ``1e-5 kappa_min`` in steps of ``10^0.5`` (``kappa_min`` the
        curvature of the datafit, with the geometric mean of the columns' variances
        where it is below their mean, ``kappa`` with their mean, see
        :mod:`skhypergrad._search_space`); for ``"l1"``,
        ``C_min * 10^(k/2)``, ``k = 1..6``, ``C_min`` the largest ``C`` that zeroes
        every coefficient.
    C_bounds : (float, float), default=None
        Search interval of ``C``; when None, ``1 / (C n)`` from ``1e-6 kappa_min``
        to ``1e3 kappa`` (``"l2"``) or ``C`` in ``(0.1, 1e4) C_min`` (``"l1"``).
    intercept_scaling : float, default=1.0
        The synthetic feature's value ``s`` (``fit_intercept=True``), as in
        ``LinearSVC``.
    class_weight : dict or "balanced", default=None
        Weights of the classes, multiplied into ``sample_weight`` (see
        :class:`LogisticRegressionHyperGrad`), in the training loss and in the
        held-out squared hinge alike: ``C`` is chosen by the loss the model minimizes.
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
    _coef_follows_dtype = False  # LinearSVC's are float64
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

    def _sample_weights(self, X, y, model, sample_weight):
        """The class-weighted sample weights for the datafit and the held-out loss."""
        weights = super()._sample_weights(X, y, model, sample_weight)
        return SampleWeights(weights.fit, weights.fit)

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

    def _set_solution(self, pgmap, model, w, dtype):
        super()._set_solution(pgmap, model, w, dtype)
        coef = self.coef_  # (n_outputs, n_features [+ 1])
        if self.fit_intercept:
            self.intercept_ = self.intercept_scaling * coef[:, -1]
            self.coef_ = coef[:, :-1].copy()
        else:  # 0.0, as LinearSVC's
            self.intercept_ = 0.0

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, groups=None):
        """Tune ``C`` on ``(X, y)``, then refit on all of it.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Class labels (any two or more classes).
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample weights (None: all 1): each sample's loss is multiplied by its
            weight, as in scikit-learn's ``LinearSVC``, whose ``C`` multiplies the
            weighted *sum* of the losses; the held-out losses are means weighted by
            ``sample_weight`` times the class weights.

        groups : array-like of shape (n_samples,), default=None
            Group labels of the samples, for a group splitter as ``cv``
            (e.g. :class:`~sklearn.model_selection.GroupKFold`).

        Returns
        -------
        self
        """
        return self._fit(X, y, groups, sample_weight)

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
