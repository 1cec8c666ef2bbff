"""ISTA / FISTA: same objective as scikit-learn's solvers, warm start, non-convergence."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import ElasticNet as SkElasticNet
from sklearn.linear_model import LogisticRegression

from skhypergrad import (L1, ElasticNetPenalty, Logistic, Multinomial, ProxGradient, ProxGradMap,
                         Quadratic)
from skhypergrad.penalties import enet_lam_from_sklearn, logistic_lam_from_sklearn

from _data import as_storage, make_classification_data, make_regression_data


def _sk_w(model, fit_intercept):
    coef = np.asarray(model.coef_)
    coef = coef.ravel() if coef.shape[0] == 1 else coef.T.ravel()  # (K, p) -> flat (p, K)
    return np.r_[coef, np.atleast_1d(model.intercept_)] if fit_intercept else coef


@pytest.mark.parametrize("fit_intercept", [False, True])
@pytest.mark.parametrize("accelerated", [True, False])
def test_least_squares_matches_sklearn(storage, fit_intercept, accelerated):
    X, y = make_regression_data(50, 15)
    X = as_storage(X, storage)
    alpha, l1_ratio = 0.05, 0.7
    sk = SkElasticNet(alpha=alpha, l1_ratio=l1_ratio, fit_intercept=fit_intercept,
                      tol=1e-12, max_iter=100_000).fit(X, y)
    pgmap = ProxGradMap(Quadratic(), ElasticNetPenalty(), X, y, fit_intercept=fit_intercept)
    lam = enet_lam_from_sklearn(alpha, l1_ratio)
    res = ProxGradient(accelerated=accelerated, tol=1e-12, max_iter=100_000).solve(pgmap, lam)
    assert res.converged
    ours, theirs = pgmap.objective(res.w, lam), pgmap.objective(_sk_w(sk, fit_intercept), lam)
    assert ours <= theirs * (1 + 1e-6)
    assert theirs <= ours * (1 + 1e-6)
    np.testing.assert_allclose(res.w, _sk_w(sk, fit_intercept), atol=1e-5)


@pytest.mark.parametrize("fit_intercept", [False, True])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_logistic_matches_sklearn_saga(storage, fit_intercept, n_classes):
    X, y = make_classification_data(60, 8, n_classes=n_classes)
    X = as_storage(X, storage)
    C, l1_ratio = 2.0, 0.5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sk = LogisticRegression(C=C, l1_ratio=l1_ratio, solver="saga", tol=1e-12,
                                max_iter=20_000, fit_intercept=fit_intercept).fit(X, y)
    datafit = Logistic() if n_classes == 2 else Multinomial(n_classes)
    pgmap = ProxGradMap(datafit, ElasticNetPenalty(), X, datafit.encode(y),
                        fit_intercept=fit_intercept)
    lam = logistic_lam_from_sklearn(C, l1_ratio, X.shape[0])
    res = ProxGradient(tol=1e-13, max_iter=100_000).solve(pgmap, lam)
    assert res.converged
    ours, theirs = pgmap.objective(res.w, lam), pgmap.objective(_sk_w(sk, fit_intercept), lam)
    assert ours <= theirs * (1 + 1e-6)
    assert theirs <= ours * (1 + 1e-6)


def test_warm_start_from_solution_returns_at_once():
    X, y = make_regression_data()
    pgmap = ProxGradMap(Quadratic(), L1(), X, y, fit_intercept=True)
    first = ProxGradient(tol=1e-10).solve(pgmap, [0.1])
    again = ProxGradient(tol=1e-10).solve(pgmap, [0.1], w0=first.w)
    assert first.n_iter > 10 and again.n_iter == 0
    np.testing.assert_array_equal(again.w, first.w)


def test_nonconvergence_warns():
    X, y = make_regression_data()
    pgmap = ProxGradMap(Quadratic(), L1(), X, y)
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        res = ProxGradient(tol=1e-14, max_iter=3).solve(pgmap, [0.01])
    assert not res.converged and res.n_iter == 3


def test_bad_warm_start_shape():
    X, y = make_regression_data()
    pgmap = ProxGradMap(Quadratic(), L1(), X, y)
    with pytest.raises(ValueError, match="w0 has shape"):
        ProxGradient().solve(pgmap, [0.1], w0=np.zeros(3))
