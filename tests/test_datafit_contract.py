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
from skhypergrad.penalties import ElasticNetPenalty
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
        ProxGradMap("quadratic", ElasticNetPenalty(), X, y)
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
        CoordinateDescent().solve(ProxGradMap(check_datafit(flat), ElasticNetPenalty(), X, y),
                                  [0.1, 0.1])


def test_a_contract_datafit_is_solved_by_coordinate_descent():
    """Its Newton model reaches FISTA's solution; the duality gap certifies it."""
    X, y = _data()
    pgmap = ProxGradMap(LogCosh(), ElasticNetPenalty(), X, y, fit_intercept=True, center=True)
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


# -- hyperparameters that live in the datafit ---------------------------------------
class WidthLogCosh(BaseDatafit):
    r""":math:`F = \frac1n \sum_i c^2 \log\cosh((z_i - y_i)/c)`, its width ``c`` a
    hyperparameter of the datafit (``lam = [penalty's..., c]``)."""

    name = "test-width-logcosh"
    curvature = 1.0
    n_hyper = 1

    def __init__(self, width=1.0):
        self.width = float(width)

    def hyper(self):
        return np.array([self.width])

    def at(self, theta):
        return WidthLogCosh(float(theta[0]))

    def loss(self, y, z):
        c = self.width
        t = (z - y) / c
        return c * c * float(np.mean(np.logaddexp(t, -t) - np.log(2.0)))

    def raw_grad(self, y, z):
        return self.width * np.tanh((z - y) / self.width) / y.shape[0]

    def raw_hessp(self, y, z, dz):
        return (1.0 - np.tanh((z - y) / self.width) ** 2) * dz / y.shape[0]

    def _dgrad_dwidth(self, y, z):  # d/dc [c tanh(r/c)] / n
        t = (z - y) / self.width
        th = np.tanh(t)
        return (th - t * (1.0 - th * th)) / y.shape[0]

    def raw_grad_jvp_param(self, y, z, e):
        return self._dgrad_dwidth(y, z) * e[0]

    def raw_grad_vjp_param(self, y, z, u):
        return np.array([float(self._dgrad_dwidth(y, z) @ u)])

    def dual_term(self, y, theta):
        n, c = y.shape[0], self.width
        v = np.clip(-n * theta / c, -1.0 + 1e-15, 1.0 - 1e-15)
        conj = v * np.arctanh(v) + 0.5 * np.log1p(-v * v)
        return float(theta @ y) - c * c * float(np.sum(conj)) / n

    def intercept_only(self, y):
        c = self.width
        return np.array([brentq(lambda b: np.sum(np.tanh((b - y) / c)), y.min(), y.max())])


register_datafit(WidthLogCosh)


def _light_tails(n=60, p=8, seed=0):
    """Gaussian noise: no residual so large that the dual's ``artanh`` saturates (the
    duality gap then certifies the solutions to 1e-14, what finite differences need)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    return X, X[:, :3] @ np.array([1.0, -2.0, 0.5]) + 0.8 * rng.standard_normal(n)


def test_a_datafit_declaring_hyperparameters_must_differentiate_in_them():
    with pytest.raises(ValueError, match="declares hyperparameters .* raw_grad_jvp_param"):
        register_datafit(type("NoDerivative", (LogCosh,), {"name": "x", "n_hyper": 1}))


def test_the_map_splits_lam_and_differentiates_in_the_datafits_part():
    """``lam = [lam1, lam2, c]``: the solver sees the penalty's part and the datafit at
    ``c``; ``B e`` and ``B^T u`` match finite differences of ``Phi`` in every entry."""
    X, y = _light_tails()
    pgmap = ProxGradMap(WidthLogCosh(), ElasticNetPenalty(), X, y, fit_intercept=True)
    lam = np.array([0.02, 0.01, 0.7])
    assert pgmap.n_hyper == 3
    lam_pen, theta = pgmap.split(lam)
    np.testing.assert_array_equal(lam_pen, [0.02, 0.01])
    np.testing.assert_array_equal(theta, [0.7])
    fixed, lam_fixed = pgmap.problem(lam)
    assert fixed.n_hyper == 2 and fixed.datafit.width == 0.7
    np.testing.assert_array_equal(lam_fixed, lam_pen)
    with pytest.raises(ValueError, match="takes 3 hyperparameter"):
        pgmap.problem(lam_pen)
    with pytest.raises(ValueError, match="finite and > 0"):
        pgmap.problem([0.02, 0.01, 0.0])
    w = ProxGradient(tol=1e-12, max_iter=100_000).solve(pgmap, lam).w
    ref = ProxGradient(tol=1e-12, max_iter=100_000).solve(
        ProxGradMap(WidthLogCosh(0.7), ElasticNetPenalty(), X, y, fit_intercept=True), lam)
    np.testing.assert_allclose(w, ref.w, rtol=1e-10, atol=1e-12)
    w = w + 0.01 * np.random.default_rng(0).standard_normal(w.shape)  # off the solution
    u = np.random.default_rng(1).standard_normal(w.shape)
    eps = 1e-6
    for j in range(3):
        e = np.zeros(3)
        e[j] = 1.0
        fd = (pgmap.apply(w, lam + eps * e) - pgmap.apply(w, lam - eps * e)) / (2 * eps)
        np.testing.assert_allclose(pgmap.jvp_lam(w, lam, e), fd, rtol=1e-6, atol=1e-8)
        assert pgmap.vjp_lam(w, lam, u)[j] == pytest.approx(fd @ u, rel=1e-6, abs=1e-8)


def _fd_log_grad(crit, model, X, y, lam, solver, eps=1e-4):
    """Central differences in ``log lam`` (a step of 1e-4: its O(eps^2) error is below
    1e-7, where 1e-5 would meet the solver's accuracy)."""
    fd = []
    for j in range(lam.shape[0]):
        up, down = lam.copy(), lam.copy()
        up[j] *= np.exp(eps)
        down[j] *= np.exp(-eps)
        fd.append((crit.value(model, X, y, up, solver=solver).value
                   - crit.value(model, X, y, down, solver=solver).value) / (2 * eps))
    return np.array(fd)


@pytest.mark.parametrize("engine", ["aid-cg", "aid-fp", "itd"])
def test_every_engine_differentiates_in_the_datafits_hyperparameters(engine):
    """Cross-validation loss in ``log [lam1, lam2, c]``: every engine against central
    finite differences (1e-5), the datafit's width included."""
    X, y = _light_tails()
    model = InnerModel(WidthLogCosh(), "elasticnet", fit_intercept=True)
    crit = CrossVal(cv=3)
    lam = np.array([0.03, 0.02, 0.8])
    solver = CoordinateDescent(tol=1e-14)
    res = crit.value_and_grad(model, X, y, lam, solver=solver, engine=engine)
    fd = _fd_log_grad(crit, model, X, y, lam, solver)
    assert abs(fd[2]) > 1e-3  # the width matters
    np.testing.assert_allclose(res.grad, fd, rtol=1e-5, atol=1e-9)


def test_nsid_differentiates_in_the_datafits_hyperparameters():
    """NSID's estimate (its B^T v adds the forward step's block in the width) against the
    exact hypergradient, within its sampling error."""
    from skhypergrad.hypergrad import NSID
    X, y = _light_tails(n=200)
    model = InnerModel(WidthLogCosh(), "elasticnet", fit_intercept=True)
    crit = HeldOut(*_light_tails(n=100, seed=1))
    lam = np.array([0.01, 0.02, 0.8])
    solver = CoordinateDescent(tol=1e-13)
    exact = crit.value_and_grad(model, X, y, lam, solver=solver, engine="aid-cg").grad
    est = crit.value_and_grad(model, X, y, lam, solver=solver,
                              engine=NSID(n_samples=20_000, batch_size=50,
                                          random_state=0)).grad
    assert abs(exact[2]) > 1e-3
    np.testing.assert_allclose(est, exact, rtol=5e-2)  # 20,000 samples: ~2% error


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
