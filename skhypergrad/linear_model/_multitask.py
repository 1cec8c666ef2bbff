"""Multi-task Lasso and elastic net tuned by hypergradient descent."""

import numpy as np

from .._search_space import L1_LEAST_SQUARES
from ..group_penalties import GroupElasticNet, GroupL21
from ..models import InnerModel
from ..multitask import MultiTaskQuadratic
from ._common import _RegressorHyperGrad, _doc
from ._least_squares import ElasticNetHyperGrad


class _MultiTaskHyperGrad(_RegressorHyperGrad):
    """Shared parts of the multi-task models: 2d targets, the L2,1 block penalty, FISTA."""

    _multi_output = True
    _reports_dual_gap = True
    _search_defaults = L1_LEAST_SQUARES

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = False
        return tags

    def _inner_model(self, y):
        return InnerModel(MultiTaskQuadratic(y.shape[1]), self._block_penalty(),
                          self.fit_intercept)

    def _set_solution(self, pgmap, model, w, dtype):
        super()._set_solution(pgmap, model, w, dtype)
        T = model.get_datafit().n_outputs
        self.coef_ = self.coef_.reshape(T, -1)  # (n_tasks, n_features), one task included
        # one per task, or 0.0 without an intercept (as MultiTaskLasso's)
        self.intercept_ = np.atleast_1d(self.intercept_) if self.fit_intercept else 0.0

    def fit(self, X, y, sample_weight=None, groups=None):
        """Tune the hyperparameters on ``(X, y)``, then refit on all of it.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples, n_tasks)
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the rows in the datafit and in the held-out squared errors, as
            ``MultiTaskLassoCV``'s (integer weights: the rows repeated).
        groups : array-like of shape (n_samples,), default=None
            Group labels for a group splitter given as ``cv``.

        Returns
        -------
        self
        """
        return super().fit(X, y, sample_weight=sample_weight, groups=groups)

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
        ``alpha_max * 10^(-k/3)``, ``k = 1..12`` (``alpha_max`` the smallest ``alpha``
        that zeroes every coefficient: :math:`\max_j \|X_j^T (Y - \bar Y)\|_2 / n`;
        values only, on every fold, warm-started; the scan is left once two of them
        are above the smallest before, as :class:`LassoHyperGrad`'s).
    alpha_bounds : (float, float), default=None
        Search interval for ``alpha``; ``(1e-6, 10) * alpha_max`` when None.
    %(common)s

    Attributes
    ----------
    alpha_ : float
        Chosen ``alpha``.
    coef_ : ndarray of shape (n_tasks, n_features)
    dual_gap_ : float
        Duality gap of the refit's objective (the one above, in its units) at
        ``coef_``, as ``MultiTaskLassoCV``'s.
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
    dual_gap_ : float
        Duality gap of the refit's objective (the one above, in its units) at
        ``coef_``, as ``MultiTaskElasticNetCV``'s.
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
