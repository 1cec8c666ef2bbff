"""Nonnegative models (``positive=True``): the prox onto the nonnegative orthant with its
conservative Jacobian, through every solver, engine, estimator and HyperGradSearchCV;
solutions against scikit-learn's, hypergradients against finite differences."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import ElasticNet, Lasso
from sklearn.model_selection import GridSearchCV, KFold

from skhypergrad import (CrossVal, ElasticNetHyperGrad, HeldOut, HyperGradSearchCV,
                         LassoHyperGrad, WeightedLassoHyperGrad)
from skhypergrad.models import InnerModel
from skhypergrad.penalties import L1
from skhypergrad.solvers import CoordinateDescent, ProxGradient, StochasticProxGradient

from _data import log_lam_finite_differences


def _data(n=80, p=12, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    beta = np.array([1.5, -2.0, 0.8, 0.0, -0.5, 1.0] + [0.0] * (p - 6))
    return X, X @ beta + 0.5 * rng.standard_normal(n)


def test_prox_clips_at_zero_with_its_jacobian():
    z = np.array([-2.0, -0.05, 0.05, 0.3, 2.0])
    pen, lam, step = L1(positive=True), np.array([0.1]), 1.0
    np.testing.assert_allclose(pen.prox(z, step, lam, 5), [0.0, 0.0, 0.0, 0.2, 1.9],
                               rtol=1e-15, atol=0)
    np.testing.assert_array_equal(pen.prox_jac_diag(z, step, lam, 5), [0, 0, 0, 1, 1])
    assert repr(pen) == "L1(positive=True)"


@pytest.mark.parametrize("solver", [CoordinateDescent(tol=1e-13),
                                    ProxGradient(tol=1e-12, max_iter=100_000),
                                    StochasticProxGradient(tol=1e-9, max_epochs=50_000,
                                                           random_state=0)],
                         ids=["cd", "fista", "saga"])
def test_solvers_reach_sklearns_nonnegative_elastic_net(solver):
    X, y = _data()
    model = InnerModel("quadratic", "elasticnet", fit_intercept=True, positive=True)
    lam = np.array([0.05, 0.02])
    pgmap = model.make_map(X, y, center=True)
    res = solver.solve(pgmap, lam)
    assert res.converged
    w = pgmap.design.to_original(res.w)
    sk = ElasticNet(alpha=0.07, l1_ratio=0.05 / 0.07, positive=True, tol=1e-14,
                    max_iter=10**6).fit(X, y)
    assert np.all(w[:-1] >= 0) and np.any(sk.coef_ == 0)
    # the objectives to 1e-6 (a minibatch solver's coefficients are as accurate as the
    # square root of its gap); the deterministic solvers' coefficients to 1e-5
    ref = pgmap.design.from_original(np.append(sk.coef_, sk.intercept_))
    assert pgmap.objective(res.w, lam) == pytest.approx(pgmap.objective(ref, lam), rel=1e-6)
    if not isinstance(solver, StochasticProxGradient):
        np.testing.assert_allclose(w[:-1], sk.coef_, rtol=1e-5, atol=1e-7)
        assert w[-1] == pytest.approx(sk.intercept_, rel=1e-6)


@pytest.mark.parametrize("engine", ["aid-cg", "aid-fp", "itd"])
@pytest.mark.parametrize("criterion", ["heldout", "cv"])
def test_hypergradients_match_finite_differences(engine, criterion):
    X, y = _data()
    X_val, y_val = _data(seed=1)
    crit = HeldOut(X_val, y_val) if criterion == "heldout" else CrossVal(cv=3)
    model = InnerModel("quadratic", "elasticnet", fit_intercept=True, positive=True)
    lam, solver = np.array([0.05, 0.02]), CoordinateDescent(tol=1e-14)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # the rounding floor
        res = crit.value_and_grad(model, X, y, lam, solver=solver, engine=engine)
        fd = log_lam_finite_differences(crit, model, X, y, lam, solver)
    np.testing.assert_allclose(res.grad, fd, rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("Est, Sk", [(LassoHyperGrad, Lasso), (ElasticNetHyperGrad, ElasticNet),
                                     (WeightedLassoHyperGrad, None)])
def test_estimators_fit_nonnegative_models(Est, Sk):
    X, y = _data(n=120)
    est = Est(positive=True, max_iter=8, random_state=0).fit(X, y)
    assert np.all(est.coef_ >= 0) and np.any(est.coef_ > 0)
    assert est.coef_[1] == 0.0  # a negative true coefficient
    if Sk is not None:
        params = {"alpha": est.alpha_}
        if Sk is ElasticNet:
            params["l1_ratio"] = est.l1_ratio_
        sk = Sk(positive=True, tol=1e-14, max_iter=10**6, **params).fit(X, y)
        np.testing.assert_allclose(est.coef_, sk.coef_, rtol=1e-6, atol=1e-8)


def test_search_cv_keeps_positive_and_matches_a_grid():
    X, y = _data(n=120)
    cv = KFold(4, shuffle=True, random_state=0)
    search = HyperGradSearchCV(Lasso(positive=True), cv=cv,
                               scoring="neg_mean_squared_error").fit(X, y)
    assert search.best_estimator_.positive and np.all(search.best_estimator_.coef_ >= 0)
    alpha_max = np.max(X.T @ (y - y.mean())) / X.shape[0]
    grid = GridSearchCV(Lasso(positive=True, tol=1e-10, max_iter=10**5),
                        {"alpha": alpha_max * np.logspace(-4, 0, 20)}, cv=cv,
                        scoring="neg_mean_squared_error").fit(X, y)
    assert -search.best_score_ <= -grid.best_score_ * 1.005
