r"""The refit of a search checked against the minimum its scores are of.

A search scores each point by its folds' solutions, solved to its own accuracy (or,
for the GLMs' value-only rows, to their estimator's ``tol``, read relative to where the
solve starts); its refit is the user's estimator, fitted by scikit-learn. A GLM's
``lbfgs`` stops once the largest entry of its objective's gradient is at most ``tol``,
an absolute bound in the units of ``y``: with targets of a small scale
(``PoissonRegressor`` on ``y`` times 1e-6) the gradient of the null model is already
below it, and the refit returns the intercept alone (``n_iter_ = 0``), while the search
reports the score of the minimum. The refit is therefore solved again from its own
coefficients to a tight tolerance, and when its predictions differ from the minimum's by
more than :data:`REFIT_SPREAD` (the root mean square of the difference of their log, the
linear predictors of the log link: without the cancellation of an objective's
difference, which on counts near 1e6 is at the deviance's rounding), a
``ConvergenceWarning`` says so.
"""

import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics.pairwise import pairwise_kernels
from sklearn.pipeline import Pipeline
from sklearn.svm import SVR
from sklearn.utils import check_array

from ._linear_adapters import ADAPTERS
from .solvers import CoordinateDescent
from .svr_dual import svr_dual, target_spread

__all__ = ["REFIT_SPREAD", "refit_spread", "svr_refit_spread", "warn_far_refit"]

#: a refit whose log-predictions differ from the minimum's by more than this (root mean
#: square over the rows) is reported: 1% (scikit-learn's default ``tol`` leaves at most
#: 2.4e-4 on ``load_diabetes``, whatever the scale of ``y``, for Gamma and Poisson)
REFIT_SPREAD = 1e-2


def refit_spread(final, X, y, sample_weight=None):
    """The root mean square over the rows of ``(X, y)`` of the difference between the
    linear predictors (log-predictions) of the fitted ``final`` (a GLM regressor of
    :data:`~skhypergrad._linear_adapters.ADAPTERS`) and of its minimum (solved from its
    coefficients to a relative duality gap of 1e-8); None when that solve stops short
    of it (no verdict)."""
    model = ADAPTERS[type(final)].inner_model(final, y)
    pgmap = model.make_map(check_array(X, accept_sparse="csc", dtype=np.float64),
                           model.encode(y), sample_weight=sample_weight)
    w = np.append(np.asarray(final.coef_, dtype=np.float64), final.intercept_) \
        if model.fit_intercept else np.asarray(final.coef_, dtype=np.float64).copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        res = CoordinateDescent(tol=1e-8).solve(pgmap, model.lam, w.copy())
    if not res.converged:
        return None
    moved = pgmap.design.matvec(w - res.w)
    return float(np.sqrt(np.mean(moved ** 2)))


#: largest number of rows whose SVR refit is checked (its kernel matrix is formed)
SVR_CHECK_MAX_ROWS = 3000
#: the kernels whose SVR refit is checked (:func:`~sklearn.metrics.pairwise.pairwise_kernels`)
_SVR_KERNELS = ("linear", "rbf", "poly", "sigmoid", "precomputed")


def svr_refit_spread(final, X, y, sample_weight=None):
    """The root mean square over the rows of ``(X, y)`` of the difference between the
    predictions of the fitted ``SVR`` ``final`` and of its dual solved from its
    coefficients to a KKT violation of 1e-8 times the spread of ``y``
    (:func:`~skhypergrad.svr_dual.svr_dual`), divided by that spread (the standard
    deviation of ``y``); None when not checked (a callable kernel, a zero sample weight,
    more than :data:`SVR_CHECK_MAX_ROWS` rows)."""
    n = X.shape[0]
    if not isinstance(final.kernel, str) or final.kernel not in _SVR_KERNELS \
            or n > SVR_CHECK_MAX_ROWS \
            or (sample_weight is not None and not np.all(np.asarray(sample_weight) > 0)):
        return None
    K = X if final.kernel == "precomputed" else pairwise_kernels(
        X, metric=final.kernel, filter_params=True, gamma=final._gamma,
        degree=final.degree, coef0=final.coef0)
    K = np.asarray(K, dtype=np.float64)
    C = final.C if sample_weight is None else \
        final.C * np.asarray(sample_weight, dtype=np.float64)
    beta = np.zeros(n)
    beta[final.support_] = final.dual_coef_[0]
    exact, b = svr_dual(K, y, C, float(final.epsilon), beta0=beta, tol=1e-8)
    moved = K @ (beta - exact) + (float(final.intercept_[0]) - b)
    return float(np.sqrt(np.mean(moved ** 2))) / target_spread(y)


def warn_far_refit(estimator, X, y, fit_params):
    """Warn when the refit ``estimator`` (a GLM regressor whose ``tol`` bounds a
    gradient, ``row_tol``, or a pipeline ending in one) stopped with predictions further than
    :data:`REFIT_SPREAD` from its minimum's (see the module); other estimators, and fit
    parameters other than the final step's ``sample_weight``, are not checked; nor is an
    ``SVR`` given a sparse ``X``, whose points ``param_grid`` evaluates as
    ``GridSearchCV`` evaluates them (by libsvm's own fits)."""
    final, prefix = (estimator[-1], estimator.steps[-1][0] + "__") \
        if isinstance(estimator, Pipeline) else (estimator, "")
    adapter = ADAPTERS.get(type(final))
    is_svr = type(final) is SVR
    if not is_svr and (adapter is None or adapter.row_tol is None or adapter.classifier) \
            or set(fit_params) - {prefix + "sample_weight"} or is_svr and sp.issparse(X):
        return
    Xt = estimator[:-1].transform(X) if prefix else X
    if is_svr:
        _warn_far_svr(final, Xt, y, fit_params.get(prefix + "sample_weight"))
        return
    spread = refit_spread(final, Xt, np.asarray(y, dtype=np.float64),
                          fit_params.get(prefix + "sample_weight"))
    if spread is not None and spread > REFIT_SPREAD:
        warnings.warn(
            f"The refit {type(final).__name__} stopped away from its minimum: its "
            f"predictions differ from the minimum's by {100 * np.expm1(spread):.3g}% (root "
            f"mean square of their log; n_iter_={final.n_iter_}, tol={final.tol:g}). The "
            "search's scores are those of the minimum, not of the refit. Its tol bounds "
            "the gradient in the units of y: lower tol, or rescale y.",
            ConvergenceWarning, stacklevel=4)


def _warn_far_svr(final, X, y, sample_weight):
    """The ``SVR`` case of :func:`warn_far_refit` (:func:`svr_refit_spread`)."""
    X = check_array(X, dtype=np.float64)
    spread = svr_refit_spread(final, X, np.asarray(y, dtype=np.float64), sample_weight)
    if spread is not None and spread > REFIT_SPREAD:
        warnings.warn(
            f"The refit SVR stopped away from its minimum: its predictions differ from the "
            f"minimum's by {100 * spread:.3g}% of the standard deviation of y (root mean "
            f"square; tol={final.tol:g}). The search's scores are those of the minimum, "
            "not of the refit. libsvm's tol bounds the KKT violation in the units of y: "
            "lower tol, or rescale y.", ConvergenceWarning, stacklevel=5)
