"""The datafit contract (:mod:`skhypergrad.datafits`): a datafit states what it is and
offers; the library reads the declarations, refuses what does not declare them, and
scores a model by the held-out loss asked for, whatever its inner datafit.

A smooth datafit written here against the contract alone (the log-cosh loss, a
smooth Huber) runs through coordinate descent, the engines and a cross-validated
search without a change to the library."""

import numpy as np
import pytest
from scipy.optimize import brentq

from skhypergrad import CrossVal, HeldOut, ProxGradMap
from skhypergrad.datafits import (BaseDatafit, Quadratic, check_datafit, datafit_class,
                                  register_datafit)
from skhypergrad.models import InnerModel
from skhypergrad.penalties import ElasticNet
from skhypergrad.solvers import CoordinateDescent, ProxGradient

from _data import log_lam_finite_differences


class LogCosh(BaseDatafit):
    r""":math:`F(w) = \frac1n \sum_i \log\cosh(z_i - y_i)`: quadratic near 0, linear in the
    tails (a smooth Huber); its conjugate is
    :math:`f^*(u) = u\,\mathrm{artanh}(u) + \frac12\log(1 - u^2)` on ``|u| < 1``."""

    name = "test-logcosh"
    curvature = 1.0

    def loss(self, y, z):
        r = z - y
        return float(np.mean(np.logaddexp(r, -r) - np.log(2.0)))

    def raw_grad(self, y, z):
        return np.tanh(z - y) / y.shape[0]

    def raw_hessp(self, y, z, dz):
        return (1.0 - np.tanh(z - y) ** 2) * dz / y.shape[0]

    def dual_term(self, y, theta):
        # f_i(u) = log cosh(u - y_i) / n: -sum_i f_i^*(-theta_i), u_i = -n theta_i
        n = y.shape[0]
        u = np.clip(-n * theta, -1.0 + 1e-15, 1.0 - 1e-15)
        conj = u * np.arctanh(u) + 0.5 * np.log1p(-u * u)
        return -float(np.sum(conj + u * y)) / n

    def intercept_only(self, y):
        return np.array([brentq(lambda b: np.sum(np.tanh(b - y)), y.min(), y.max())])


register_datafit(LogCosh)


def _data(n=60, p=8, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    y = X[:, :3] @ np.array([1.0, -2.0, 0.5]) + rng.standard_t(2, n)  # heavy tails
    return X, y


def test_an_unknown_datafit_is_refused_at_construction():
    with pytest.raises(ValueError, match="datafit must be one of .*quadratic"):
        InnerModel(datafit="huber-ish")
    with pytest.raises(ValueError, match="BaseDatafit subclass"):
        InnerModel(datafit=object())

    class Partial(BaseDatafit):
        name = "partial"

        def loss(self, y, z):
            return 0.0

    with pytest.raises(ValueError, match="does not define raw_grad, raw_hessp, dual_term, "
                                         "intercept_only"):
        InnerModel(datafit=Partial())
    with pytest.raises(ValueError, match="does not define"):
        register_datafit(Partial)
    X, y = _data()
    with pytest.raises(ValueError, match="BaseDatafit subclass"):
        ProxGradMap("quadratic", ElasticNet(), X, y)
    with pytest.raises(ValueError, match="already registered"):
        register_datafit(type("Other", (Quadratic,), {"name": "quadratic"}))


def test_declarations_are_read_not_types():
    assert datafit_class("test-logcosh") is LogCosh
    model = InnerModel("test-logcosh", "elasticnet", fit_intercept=True)
    assert not model.is_classifier and isinstance(model.get_datafit(), LogCosh)
    assert InnerModel("logistic").is_classifier
    # a datafit without a Newton model is sent to ProxGradient by coordinate descent
    X, y = _data()
    flat = type("NoNewton", (LogCosh,), {"newton_model": None})()
    with pytest.raises(ValueError, match="newton_model.*ProxGradient"):
        CoordinateDescent().solve(ProxGradMap(check_datafit(flat), ElasticNet(), X, y),
                                  [0.1, 0.1])


def test_a_contract_datafit_is_solved_by_coordinate_descent():
    """Its Newton model reaches FISTA's solution; the duality gap certifies it."""
    X, y = _data()
    pgmap = ProxGradMap(LogCosh(), ElasticNet(), X, y, fit_intercept=True, center=True)
    lam = np.array([0.02, 0.01])
    cd = CoordinateDescent(tol=1e-12).solve(pgmap, lam)
    ref = ProxGradient(tol=1e-12, max_iter=100_000).solve(pgmap, lam)
    assert cd.converged and ref.converged
    np.testing.assert_allclose(cd.w, ref.w, rtol=1e-5, atol=1e-7)
    assert pgmap.objective(cd.w, lam) <= pgmap.objective(ref.w, lam) + 1e-12


@pytest.mark.parametrize("engine", ["aid-cg", "aid-fp", "itd"])
def test_a_contract_datafit_has_exact_hypergradients(engine):
    """Every engine against central finite differences of the cross-validation loss."""
    X, y = _data()
    model = InnerModel("test-logcosh", "elasticnet", fit_intercept=True)
    crit = CrossVal(cv=3)
    lam = np.array([0.03, 0.02])
    solver = CoordinateDescent(tol=1e-13)
    res = crit.value_and_grad(model, X, y, lam, solver=solver, engine=engine)
    fd = log_lam_finite_differences(crit, model, X, y, lam, solver)
    np.testing.assert_allclose(res.grad, fd, rtol=1e-5, atol=1e-9)


def test_the_heldout_loss_is_the_one_asked_for():
    """A log-cosh model is scored by the mean squared error ("auto" and "squared"), not
    by its own loss; a classification loss is refused for it."""
    X, y = _data()
    X_val, y_val = _data(seed=1)
    model = InnerModel("test-logcosh", "elasticnet", fit_intercept=True)
    lam = np.array([0.02, 0.01])
    pgmap = model.make_map(X, y, center=True)
    w = CoordinateDescent(tol=1e-12).solve(pgmap, lam).w
    w = pgmap.design.to_original(w)
    mse = np.mean((X_val @ w[:-1] + w[-1] - y_val) ** 2)
    for loss in ("auto", "squared"):
        value = HeldOut(X_val, y_val, loss=loss).value(
            model, X, y, lam, solver=CoordinateDescent(tol=1e-12)).value
        assert value == pytest.approx(mse, rel=1e-8)
    with pytest.raises(ValueError, match="does not match the model's datafit"):
        HeldOut(X_val, y_val, loss="logistic").value(model, X, y, lam,
                                                     solver=CoordinateDescent())


class LogCoshWithoutNewton(LogCosh):
    """:class:`LogCosh` declaring no Newton model: coordinate descent does not apply."""

    name = "test-logcosh-no-newton"
    newton_model = None


register_datafit(LogCoshWithoutNewton)


def test_hypergradient_default_solver_is_fista_without_a_newton_model():
    """``hypergradient(solver=None)`` solves with coordinate descent when the datafit has a
    Newton model and with FISTA when it declares none: the same value and gradient (to
    the accuracy a relative gap of 1e-12 gives them)."""
    from skhypergrad import hypergradient

    X, y = _data()
    lam = np.array([0.03, 0.02])
    value, grad = hypergradient(InnerModel("test-logcosh", "elasticnet", lam=lam), X, y,
                                criterion=CrossVal(cv=3))
    value2, grad2 = hypergradient(InnerModel("test-logcosh-no-newton", "elasticnet",
                                             lam=lam), X, y, criterion=CrossVal(cv=3))
    assert value2 == pytest.approx(value, rel=1e-6)
    np.testing.assert_allclose(grad2, grad, rtol=1e-4, atol=1e-8)
