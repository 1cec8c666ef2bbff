"""Penalties: prox against its definition, derivatives against finite differences,
scikit-learn parametrizations round-trip."""

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

from skhypergrad.penalties import (
    L1, L2, ElasticNetPenalty, FixedRatioElasticNet, WeightedL1, WeightedL2,
    enet_lam_from_sklearn,
    enet_sklearn_from_lam,
    logistic_lam_from_sklearn, logistic_sklearn_from_lam)

P = 6


def _lam(penalty):
    return {"L1": np.array([0.3]), "ElasticNetPenalty": np.array([0.3, 0.5]),
            "WeightedL1": np.linspace(0.1, 0.6, P), "L2": np.array([0.5]),
            "WeightedL2": np.linspace(0.2, 1.7, P)}[type(penalty).__name__]


PENALTIES = [L1(), ElasticNetPenalty(), WeightedL1(), L2(), WeightedL2()]


@pytest.mark.parametrize("penalty", PENALTIES, ids=repr)
def test_prox_minimizes_its_objective(penalty):
    """prox_g(z)_j = argmin_x (x - z_j)^2 / (2g) + G_j(x), checked coordinate by coordinate."""
    lam, step = _lam(penalty), 0.7
    z = np.array([-1.3, -0.1, 0.0, 0.15, 0.4, 2.0])
    l1, l2 = penalty.weights(lam, P)
    out = penalty.prox(z, step, lam, P)
    for j in range(P):
        res = minimize_scalar(lambda x: (x - z[j]) ** 2 / (2 * step) + l1[j] * abs(x)
                              + 0.5 * l2[j] * x * x, bounds=(-5, 5), method="bounded",
                              options={"xatol": 1e-12})
        assert out[j] == pytest.approx(res.x, abs=1e-7)


@pytest.mark.parametrize("penalty", PENALTIES, ids=repr)
@pytest.mark.parametrize("n_outputs", [1, 3])
def test_prox_derivatives_match_finite_differences(penalty, n_outputs):
    rng = np.random.default_rng(0)
    lam, step = _lam(penalty), 0.5
    z = rng.standard_normal(P * n_outputs)
    eps = 1e-7
    # away from kinks: |z| - g l1 not within eps
    l1, _ = penalty.weights(lam, P)
    assert np.all(np.abs(np.abs(z) - step * np.repeat(l1, n_outputs)) > 1e-3)
    d = penalty.prox_jac_diag(z, step, lam, P, n_outputs)
    fd = np.array([(penalty.prox(z + eps * e, step, lam, P, n_outputs)
                    - penalty.prox(z - eps * e, step, lam, P, n_outputs)) @ e / (2 * eps)
                   for e in np.eye(z.size)])
    np.testing.assert_allclose(d, fd, atol=1e-8)
    e = rng.standard_normal(lam.size)
    fd_lam = (penalty.prox(z, step, lam + eps * e, P, n_outputs)
              - penalty.prox(z, step, lam - eps * e, P, n_outputs)) / (2 * eps)
    np.testing.assert_allclose(penalty.prox_jvp_lam(z, step, lam, e, P, n_outputs), fd_lam,
                               atol=1e-8)
    u = rng.standard_normal(z.size)
    np.testing.assert_allclose(penalty.prox_vjp_lam(z, step, lam, u, P, n_outputs) @ e,
                               u @ penalty.prox_jvp_lam(z, step, lam, e, P, n_outputs),
                               rtol=1e-12)


def test_kink_uses_zero():
    """At |z| = g lam1 the conservative Jacobian element chosen is 0."""
    assert L1().prox_mask(np.array([0.5, -0.5]), 1.0, [0.5], 2).tolist() == [0.0, 0.0]


@pytest.mark.parametrize("penalty", PENALTIES, ids=repr)
def test_value(penalty):
    coef = np.linspace(-1, 1, P)
    l1, l2 = penalty.weights(_lam(penalty), P)
    assert penalty.value(coef, _lam(penalty)) == pytest.approx(
        np.sum(l1 * np.abs(coef)) + 0.5 * np.sum(l2 * coef * coef))


@pytest.mark.parametrize("penalty", [pen for pen in PENALTIES if pen.uniform_l2]
                         + [FixedRatioElasticNet(0.3)], ids=repr)
def test_path_weights_are_each_points_weights(penalty):
    # the weights of a path (the compiled scan's) are those of each of its points, exactly
    lam = np.array([0.3]) if isinstance(penalty, FixedRatioElasticNet) else _lam(penalty)
    lams = np.array([lam, 2.5 * lam, 0.1 * lam])
    L1, L2 = penalty.path_weights(list(lams), P)
    assert L1.shape == (3, P) and L2.shape == (3,) and L1.flags.c_contiguous
    for i, point in enumerate(lams):
        np.testing.assert_array_equal(L1[i], penalty.weights(point, P)[0])
        assert L2[i] == penalty.l2_weight(point)


def test_check_lam_errors():
    with pytest.raises(ValueError, match="2 hyperparameter"):
        ElasticNetPenalty().check_lam([1.0], 4)
    with pytest.raises(ValueError, match=">= 0"):
        L1().check_lam([-1.0], 4)


@pytest.mark.parametrize("bad", [-1e-300, np.nan, np.inf])
def test_check_path_checks_every_point(bad):
    # a path is checked at once, as each of its points by check_lam: a point of the wrong
    # length, negative, nan or infinite anywhere on it is refused
    from skhypergrad.models import InnerModel

    model = InnerModel("quadratic", "elasticnet", True)
    path = np.array([[0.3, 0.1], [0.2, 0.1], [0.1, 0.0]])
    np.testing.assert_array_equal(model.check_path(path, 4), path)
    np.testing.assert_array_equal(model.check_path(path, 4)[1], model.check_lam(path[1], 4))
    with pytest.raises(ValueError, match="2 hyperparameter"):
        model.check_path(path[:, :1], 4)
    path[1, 1] = bad
    with pytest.raises(ValueError, match=">= 0"):
        model.check_path(path, 4)
    with pytest.raises(ValueError, match=">= 0"):
        model.check_lam(path[1], 4)


def test_sklearn_parametrizations_round_trip():
    lam = enet_lam_from_sklearn(0.4, 0.25)
    np.testing.assert_allclose(lam, [0.1, 0.3])
    assert enet_sklearn_from_lam(lam) == pytest.approx((0.4, 0.25))
    lam = logistic_lam_from_sklearn(2.0, 0.5, 100)
    np.testing.assert_allclose(lam, [0.0025, 0.0025])
    assert logistic_sklearn_from_lam(lam, 100) == pytest.approx((2.0, 0.5))


def test_ridge_is_sklearns_with_exact_hypergradients():
    """InnerModel(penalty="l2"): scikit-learn's Ridge(alpha) at lam2 = alpha / n, and the
    held-out gradient in lam2 against central finite differences."""
    from sklearn.linear_model import Ridge

    from skhypergrad import HeldOut
    from skhypergrad.models import InnerModel
    from skhypergrad.solvers import CoordinateDescent

    rng = np.random.default_rng(0)
    X, X_val = rng.standard_normal((50, 8)), rng.standard_normal((30, 8))
    beta = rng.standard_normal(8)
    y, y_val = X @ beta + rng.standard_normal(50), X_val @ beta + rng.standard_normal(30)
    model = InnerModel("quadratic", "l2", fit_intercept=True)
    lam, solver = np.array([0.3]), CoordinateDescent(tol=1e-14)
    pgmap = model.make_map(X, y, center=True)
    w = pgmap.design.to_original(solver.solve(pgmap, lam).w)
    sk = Ridge(alpha=lam[0] * 50).fit(X, y)
    np.testing.assert_allclose(w[:-1], sk.coef_, rtol=1e-6)
    assert w[-1] == pytest.approx(sk.intercept_, rel=1e-6)
    crit = HeldOut(X_val, y_val)
    res = crit.value_and_grad(model, X, y, lam, solver=solver, engine="aid-cg")
    eps = 1e-5
    fd = (crit.value(model, X, y, lam * np.exp(eps), solver=solver).value
          - crit.value(model, X, y, lam * np.exp(-eps), solver=solver).value) / (2 * eps)
    assert res.grad[0] == pytest.approx(fd, rel=1e-6)


@pytest.mark.parametrize("module", ["skhypergrad", "skhypergrad.penalties"])
def test_old_elastic_net_name_warns_and_gives_the_penalty(module):
    """``ElasticNet`` (scikit-learn's estimator's name) is ``ElasticNetPenalty`` now; the
    old name still imports, with a FutureWarning naming the new one."""
    import importlib

    from skhypergrad import ElasticNetPenalty

    with pytest.warns(FutureWarning, match="renamed .*ElasticNetPenalty"):
        old = getattr(importlib.import_module(module), "ElasticNet")
    assert old is ElasticNetPenalty
    with pytest.raises(AttributeError, match="no attribute 'Nothing'"):
        getattr(importlib.import_module(module), "Nothing")
