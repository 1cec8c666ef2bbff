"""Ridge regression and the ridge classifier tuned by hypergradient descent."""

import numbers

import numpy as np
from sklearn.base import _fit_context
from sklearn.utils._param_validation import Interval

from .._base import BaseHyperGrad
from .._validation import check_bounds
from ..models import InnerModel
from ._common import _BOUNDS, LinearClassifierMixin, LinearRegressorMixin, _doc
from ._per_feature import PerFeatureWeightsMixin


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
        points ``alpha / n = kappa_min * 10^(2 - k/2)``, ``k = 0..12`` (warm-started
        solves without gradients, on every fold), ``kappa_min`` the smaller of
        ``kappa`` and the geometric mean of the columns' variances, ``kappa`` the mean
        variance (the curvature of the datafit; without an intercept, the mean of the
        columns' squares; both equal for standardized columns, see
        :mod:`skhypergrad._search_space`).
    alpha_bounds : (float, float), default=None
        Search interval of ``alpha``; ``alpha / n`` from ``1e-6 kappa_min`` (at
        least ``1e-13`` times the largest column's curvature, the resolution of the
        solves' factorizations) to ``1e3 kappa`` when None.
"""


def _ridge_doc(cls):
    cls.__doc__ = cls.__doc__.replace("    %(ridge)s\n", _RIDGE_PARAMS.strip("\n") + "\n")
    return _doc(cls)


@_ridge_doc
class RidgeHyperGrad(LinearRegressorMixin, _RidgeHyperGrad):
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


@_ridge_doc
class RidgeClassifierHyperGrad(LinearClassifierMixin, _RidgeHyperGrad):
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

    def _set_solution(self, pgmap, model, w, dtype):
        super()._set_solution(pgmap, model, w, dtype)
        if self.coef_.shape[0] == 1:  # two classes: (n_features,), as RidgeClassifier
            self.coef_ = self.coef_[0]
        if not self.fit_intercept:  # 0.0, as RidgeClassifier's
            self.intercept_ = 0.0

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


@_ridge_doc
class WeightedRidgeHyperGrad(PerFeatureWeightsMixin, RidgeHyperGrad):
    r"""Ridge regression with one penalty weight per feature, all tuned by hypergradient
    descent.

    .. math::

        w^*(\alpha) = \arg\min_{w, b} \|y - Xw - b\|^2 + \sum_{j=1}^p \alpha_j w_j^2,

    searched as ``lam = alpha / n`` (one per feature) in log-space, the weights of the
    normalized objective :math:`\frac{1}{2n}\|y - Xw - b\|^2 + \frac12 \sum_j
    \lambda_j w_j^2`. The problem is smooth and strongly convex: with
    :math:`H = X^T X / n + \mathrm{diag}(\lambda)` (centred columns with an
    intercept), the implicit function theorem gives all ``p`` partial derivatives
    with one solve, :math:`\partial E / \partial \lambda_j = -w^*_j (H^{-1}
    \nabla_w E)_j`. Large weights switch off features that only add noise.

    The slopes :math:`\partial E / \partial \log\lambda_j` differ by decades: a
    noise feature's weight far below its column's curvature barely moves the
    criterion, and must still grow by decades. With ``optimizer="gd"`` the weights'
    descent therefore divides each weight's step by the root mean square of its
    slopes (:class:`~skhypergrad.optimizers.GradientDescent` with ``diagonal=0.9``);
    steps set by the steepest slope leave those weights in place, and the search
    stops on its ``tol`` far above the minimum.

    Parameters
    ----------
    %(ridge)s
    early_stopping : bool, default=True
        As :class:`WeightedLassoHyperGrad`'s: the search first finds the common
        ``alpha`` of :class:`RidgeHyperGrad` (the same search on all the rows). With
        at least 100 samples and ``cv`` a fraction or a splitter, the weights then
        descend from it on the ``cv`` loss of four fifths of the rows (drawn with
        ``random_state``, with the seed 0 when it is None), and the point that
        predicts the other fifth best is kept only if its squared errors there are
        lower than the common weight's by more than two standard errors of their
        mean difference; otherwise every ``alpha_j`` is the common ``alpha``: the
        model is :class:`RidgeHyperGrad`'s. The final model is refit on all the rows.
    %(common)s

    Attributes
    ----------
    alphas_ : ndarray of shape (n_features,)
        Chosen weights ``alpha_j`` (of the sum of squares, as ``alpha_`` of
        :class:`RidgeHyperGrad`).
    coef_ : ndarray of shape (n_features,)
    %(attrs)s

    Examples
    --------
    >>> import numpy as np
    >>> from skhypergrad import WeightedRidgeHyperGrad
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((200, 5)) * [1, 1, 1, 10, 10]
    >>> y = X[:, :3] @ [1.0, -2.0, 0.5] + 0.5 * rng.standard_normal(200)
    >>> est = WeightedRidgeHyperGrad(cv=5).fit(X, y)
    >>> est.alphas_.shape
    (5,)
    """

    _parameter_constraints = {
        **RidgeHyperGrad._parameter_constraints,
        "early_stopping": ["boolean"],
    }
    _diagonal_decay = 0.9

    def __init__(self, *, cv=5, alpha_init=None, alpha_bounds=None, early_stopping=True,
                 hypergradient="aid-cg", solver="auto", optimizer="gd", max_iter=30,
                 tol=1e-3, fit_intercept=True, n_jobs=None, random_state=None, verbose=0,
                 callback=None):
        super().__init__(cv=cv, alpha_init=alpha_init, alpha_bounds=alpha_bounds,
                         hypergradient=hypergradient, solver=solver, optimizer=optimizer,
                         max_iter=max_iter, tol=tol, fit_intercept=fit_intercept,
                         n_jobs=n_jobs, random_state=random_state, verbose=verbose,
                         callback=callback)
        self.early_stopping = early_stopping

    def _inner_model(self, y):
        return InnerModel(self._datafit_name, "weighted_l2", self.fit_intercept)

    def _common_model(self):
        return InnerModel(self._datafit_name, "l2", self.fit_intercept)

    def _initial_lam(self, scales, n_samples):
        if self.alpha_init is None:
            return None
        return np.full(scales.n_features, self.alpha_init / n_samples)

    def _bounds(self, scales, n_samples):
        if self.alpha_bounds is None:
            return scales.bounds(self._search_defaults)
        lo, hi = check_bounds(self.alpha_bounds, "alpha_bounds")
        return (np.full(scales.n_features, lo / n_samples),
                np.full(scales.n_features, hi / n_samples))

    def _hyper_names(self, lam, n_samples):
        return {"alphas": np.asarray(lam, dtype=np.float64) * n_samples}
