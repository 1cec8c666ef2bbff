"""Lasso, elastic net and weighted Lasso regressors tuned by hypergradient descent."""

import numbers
from functools import partial

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.utils._param_validation import Interval

from .._base import null_model, refit_solver
from .._tune import TuneResult
from ..criteria import HeldOut
from ..models import InnerModel
from ..penalties import enet_lam_from_sklearn, enet_sklearn_from_lam
from ._common import _RegressorHyperGrad, _doc, _first


#: the weighted Lasso's early stopping: the fraction of the rows held out of the search
#: as its monitor, the fewest rows for which it is used, and how many standard errors
#: lower the held-out errors of the weights must be than those of the common weight
_EARLY_STOPPING_FRACTION = 0.2
_EARLY_STOPPING_MIN_SAMPLES = 100
_EARLY_STOPPING_Z = 2.0


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
