"""The proximal-gradient fixed-point map: adjoint identities, Jacobian products against
finite differences away from kinks, and the solution is a fixed point."""

import numpy as np
import pytest

from skhypergrad import (L1, ElasticNetPenalty, Logistic, Multinomial, ProxGradient, ProxGradMap,
                         Quadratic, WeightedL1)
from skhypergrad.fixed_point import FixedPointMap

from _data import as_storage, make_classification_data, make_regression_data

CASES = [("quadratic", L1()), ("quadratic", ElasticNetPenalty()), ("quadratic", WeightedL1()),
         ("logistic", ElasticNetPenalty()), ("multinomial", ElasticNetPenalty())]


def _map(name, penalty, storage="dense", fit_intercept=True):
    if name == "quadratic":
        X, y = make_regression_data(30, 10)
        datafit = Quadratic()
    elif name == "logistic":
        X, y = make_classification_data(30, 10)
        datafit = Logistic()
    else:
        X, y = make_classification_data(30, 10, n_classes=3)
        datafit = Multinomial(3)
    pgmap = ProxGradMap(datafit, penalty, as_storage(X, storage), datafit.encode(y),
                        fit_intercept=fit_intercept)
    lam = np.full(pgmap.n_hyper, 0.05)
    if pgmap.n_hyper == 2:
        lam[1] = 0.1
    return pgmap, lam


@pytest.mark.parametrize("name,penalty", CASES, ids=lambda c: repr(c))
@pytest.mark.parametrize("fit_intercept", [False, True])
def test_adjoint_identities(name, penalty, storage, fit_intercept):
    """<A v, u> = <v, A^T u> and <B e, u> = <e, B^T u> to 1e-10."""
    pgmap, lam = _map(name, penalty, storage, fit_intercept)
    rng = np.random.default_rng(0)
    w = 0.2 * rng.standard_normal(pgmap.n_params)
    v, u = rng.standard_normal((2, pgmap.n_params))
    e = rng.standard_normal(pgmap.n_hyper)
    lin = pgmap.linearize(w, lam)
    assert abs(lin.jvp_w(v) @ u - v @ lin.vjp_w(u)) <= 1e-10 * max(1.0, abs(v @ lin.vjp_w(u)))
    assert abs(lin.jvp_lam(e) @ u - e @ lin.vjp_lam(u)) <= 1e-10 * max(1.0, abs(e @ lin.vjp_lam(u)))
    # the methods of the map agree with its linearization
    np.testing.assert_allclose(pgmap.jvp_w(w, lam, v), lin.jvp_w(v), rtol=1e-12)
    np.testing.assert_allclose(pgmap.vjp_lam(w, lam, u), lin.vjp_lam(u), rtol=1e-12)
    np.testing.assert_allclose(pgmap.apply(w, lam), lin.value, rtol=1e-12)


@pytest.mark.parametrize("name,penalty", CASES, ids=lambda c: repr(c))
def test_jacobians_match_central_differences(name, penalty, storage):
    """A v and B e equal central differences of apply at a point away from the kinks."""
    pgmap, lam = _map(name, penalty, storage)
    k = pgmap.design.n_coefs
    l1, _ = pgmap.penalty.weights(lam, pgmap.n_features)
    for seed in range(20):  # first random point whose forward step is 1e-4 away from kinks
        rng = np.random.default_rng(seed)
        w = 0.2 * rng.standard_normal(pgmap.n_params)
        z = pgmap.forward_step(w)
        margin = np.abs(np.abs(z[:k]) - pgmap.step * np.repeat(l1, pgmap.design.n_outputs))
        if margin.min() > 1e-4:
            break
    assert margin.min() > 1e-4, "no test point away from the kinks"
    eps = 1e-7
    v = rng.standard_normal(pgmap.n_params)
    fd = (pgmap.apply(w + eps * v, lam) - pgmap.apply(w - eps * v, lam)) / (2 * eps)
    np.testing.assert_allclose(pgmap.jvp_w(w, lam, v), fd, rtol=1e-6, atol=1e-8)
    e = rng.standard_normal(pgmap.n_hyper)
    fd = (pgmap.apply(w, lam + eps * e) - pgmap.apply(w, lam - eps * e)) / (2 * eps)
    np.testing.assert_allclose(pgmap.jvp_lam(w, lam, e), fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name,penalty", CASES, ids=lambda c: repr(c))
def test_solution_is_fixed_point(name, penalty):
    pgmap, lam = _map(name, penalty)
    w = ProxGradient(tol=1e-14, max_iter=50_000).solve(pgmap, lam).w
    assert pgmap.residual(w, lam) < 1e-6
    np.testing.assert_allclose(pgmap.apply(w, lam), w, atol=1e-8)


@pytest.mark.parametrize("name,penalty", CASES[:4], ids=lambda c: repr(c))
@pytest.mark.parametrize("fit_intercept", [False, True])
def test_linearize_at_solution_reads_the_forward_step_from_optimality(
        name, penalty, storage, fit_intercept):
    """At the solution, the forward step on the support from ``w_S + g grad G(w)_S`` (no
    product with X) equals the computed one to the solver's accuracy, with the same mask,
    and the Jacobian products of both linearizations agree."""
    pgmap, lam = _map(name, penalty, storage, fit_intercept)
    w = ProxGradient(tol=1e-14, max_iter=50_000).solve(pgmap, lam).w
    k = pgmap.design.n_coefs
    support = np.flatnonzero(w[:k])
    assert 0 < support.shape[0] < k
    full, at_solution = pgmap.linearize(w, lam), pgmap.linearize(w, lam, at_solution=True)
    # the active set is the support plus the intercept, as in the full linearization
    np.testing.assert_array_equal(at_solution.jac_diag != 0, full.jac_diag != 0)
    np.testing.assert_allclose(at_solution.jac_diag, full.jac_diag, rtol=1e-15)
    np.testing.assert_allclose(at_solution.value, w, rtol=1e-13, atol=1e-15)
    l1, l2 = pgmap.penalty.weights(lam, pgmap.n_features)
    z = pgmap.forward_step(w)
    expected = w[support] + pgmap.step * (l1[support] * np.sign(w[support])
                                              + l2[support] * w[support])
    np.testing.assert_allclose(expected, z[support], rtol=1e-7)
    rng = np.random.default_rng(1)
    u = rng.standard_normal(pgmap.n_params)
    np.testing.assert_allclose(at_solution.vjp_lam(u), full.vjp_lam(u), rtol=1e-7)
    np.testing.assert_allclose(at_solution.vjp_w(u), full.vjp_w(u), rtol=1e-7, atol=1e-12)
    e = rng.standard_normal(pgmap.n_hyper)  # through the forward step, formed on demand
    np.testing.assert_allclose(at_solution.jvp_lam(e), full.jvp_lam(e), rtol=1e-6, atol=1e-12)


def test_user_defined_map_gets_linearize():
    """A map defining only the five products works through the generic linearize."""

    class Scale(FixedPointMap):
        n_params, n_hyper = 2, 1

        def apply(self, w, lam):
            return 0.5 * w + lam[0]

        def jvp_w(self, w, lam, v):
            return 0.5 * v

        vjp_w = jvp_w

        def jvp_lam(self, w, lam, e):
            return np.full(2, e[0])

        def vjp_lam(self, w, lam, u):
            return np.array([u.sum()])

    lin = Scale().linearize(np.zeros(2), np.array([1.0]))
    np.testing.assert_allclose(lin.value, [1.0, 1.0])
    np.testing.assert_allclose(lin.vjp_w(np.ones(2)), [0.5, 0.5])
    np.testing.assert_allclose(lin.vjp_lam(np.ones(2)), [2.0])
