"""Lasso, elastic net and weighted Lasso regressors tuned by hypergradient descent."""

import numbers

import numpy as np
from sklearn.utils._param_validation import Interval

from .._search_space import L1_LEAST_SQUARES
from ..models import InnerModel
from ..penalties import enet_lam_from_sklearn, enet_sklearn_from_lam
from ._common import _RegressorHyperGrad, _doc
from ._per_feature import PerFeatureWeightsMixin


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
        without gradients, on every fold; left once two of them are above the
        smallest before), ``alpha_max`` being the smallest ``alpha`` for which all
        coefficients are zero: the CV loss can have several local minima. A start
        at or above ``alpha_max``, where the loss is flat, is moved to
        ``alpha_max / 10`` with a warning.
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
    dual_gap_ : float
        Duality gap of the refit's objective (the one above, in its units) at
        ``coef_``, as ``LassoCV``'s.
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

    _reports_dual_gap = True
    _search_defaults = L1_LEAST_SQUARES


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
        ``kappa_min`` times 1e-6 (the Lasso end), and ``kappa`` times 1e-2, 0.1, 1, 10
        and 100, ``kappa`` the mean variance of the columns (the curvature of the
        datafit; without an intercept, the mean of their squares), ``kappa_min`` the
        smaller of ``kappa`` and the geometric mean of the variances (equal for
        standardized columns; far below when a column is in other units, or without an
        intercept when the columns' means are large, see
        :mod:`skhypergrad._search_space`). Every point is
        evaluated on every fold, warm-started along its path; the first path is
        left once its loss has stayed above its minimum for two points and stopped
        falling, the next
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
        weight from ``1e-6 kappa_min`` (at least ``1e-13`` times the largest column's
        curvature) to ``1e3 kappa``.
    positive : bool, default=False
        Constrain the coefficients to be nonnegative (scikit-learn's ``positive``).
    %(common)s

    Attributes
    ----------
    alpha_ : float
    l1_ratio_ : float
    coef_ : ndarray of shape (n_features,)
    dual_gap_ : float
        Duality gap of the refit's objective (the one above, in its units) at
        ``coef_``, as ``ElasticNetCV``'s.
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

    _reports_dual_gap = True
    _penalty = "elasticnet"
    _search_defaults = L1_LEAST_SQUARES
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
class WeightedLassoHyperGrad(PerFeatureWeightsMixin, _RegressorHyperGrad):
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
    dual_gap_ : float
        Duality gap of the refit's objective (the one above, in its units) at
        ``coef_``, as ``LassoCV``'s.
    %(attrs)s
    """

    _reports_dual_gap = True
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

    def _common_model(self):
        return InnerModel("quadratic", "l1", self.fit_intercept, positive=self.positive)

    def _hyper_names(self, lam, n_samples):
        return {"alphas": np.asarray(lam, dtype=np.float64).copy()}
