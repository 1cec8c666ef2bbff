"""Differentiation with respect to training data (skhypergrad.data_gradient).

Protects: the map's derivative in the training rows (jvp / vjp) against finite
differences of the map and against each other, for least squares (with
intercept), binary logistic and multinomial datafits, dense and CSR; every engine's
gradient of the validation loss with respect to X_train[rows] against central finite
differences of the retrained model (1e-5 relative; NSID statistically, against the
exact value); the public function ``data_gradient`` and its checks.
"""

from functools import lru_cache

import numpy as np
import pytest

from skhypergrad import (ElasticNetPenalty, InnerModel, Logistic, Multinomial, ProxGradMap,
                         Quadratic, TrainingDataMap, data_gradient)
from skhypergrad.hypergrad import NSID, contraction_factor, get_engine

from _data import as_storage, make_classification_data, make_regression_data
from test_engines import ACCURATE, held_out, solve

ROWS = np.array([1, 4, 7])

# name: (datafit, lam, fit_intercept)
MAPS = {
    "quadratic": (Quadratic(), [0.05, 0.1], True),
    "logistic": (Logistic(), [0.01, 0.05], True),
    "multinomial": (Multinomial(3), [0.01, 0.05], False),
}


def _data(kind, seed=0, n=30, p=6):
    if kind == "quadratic":
        return make_regression_data(n, p, seed=seed)
    return make_classification_data(n, p, seed=seed, n_classes=3 if kind == "multinomial" else 2)


def _data_map(kind, storage="dense"):
    datafit, lam, fi = MAPS[kind]
    X, y = _data(kind)
    pgmap = ProxGradMap(datafit, ElasticNetPenalty(), as_storage(X, storage), datafit.encode(y),
                        fit_intercept=fi)
    return TrainingDataMap(pgmap, lam, ROWS), solve(pgmap, np.asarray(lam, dtype=float))


@pytest.mark.parametrize("storage", ["dense", "csr"])
@pytest.mark.parametrize("kind", list(MAPS))
def test_map_derivative_in_rows_matches_finite_differences(kind, storage):
    """B e == (Phi(w, u + eps e) - Phi(w, u - eps e)) / (2 eps) at a non-solution w, and
    <B e, a> == <e, B^T a> (both to 1e-7 relative)."""
    dmap, w_star = _data_map(kind, storage)
    rng = np.random.default_rng(0)
    w = w_star + 0.01 * rng.standard_normal(w_star.shape)  # away from the kinks' edges
    u = 0.1 * rng.standard_normal(dmap.n_hyper)
    e, a = rng.standard_normal(dmap.n_hyper), rng.standard_normal(dmap.n_params)
    lin = dmap.linearize(w, u)
    eps = 1e-6
    fd = (dmap.apply(w, u + eps * e) - dmap.apply(w, u - eps * e)) / (2 * eps)
    Be = lin.jvp_lam(e)
    assert np.linalg.norm(Be - fd) <= 1e-7 * np.linalg.norm(fd)
    assert float(Be @ a) == pytest.approx(float(e @ lin.vjp_lam(a)), rel=1e-10)
    # derivative of Psi in the rows, used by NSID (at u = 0)
    fdpsi = (dmap._at(eps * e).forward_step(w) - dmap._at(-eps * e).forward_step(w)) / (2 * eps)
    assert float(fdpsi @ a) == pytest.approx(
        float(e @ dmap.forward_step_vjp_lam(w, np.zeros_like(u), a)), rel=1e-6)


class DataProblem:
    """Held-out squared loss of an elastic net as a function of X_train[ROWS]."""

    def __init__(self):
        X, y = make_regression_data(30, 5, seed=3)
        self.X_val, self.y_val = make_regression_data(20, 5, seed=4)
        self.lam = np.array([0.05, 0.1])
        self.pgmap = ProxGradMap(Quadratic(), ElasticNetPenalty(), X, y, fit_intercept=True)
        self.dmap = TrainingDataMap(self.pgmap, self.lam, ROWS)
        self.C, self.grad_C = held_out(self.X_val, self.y_val)
        self.w = solve(self.pgmap, self.lam)
        self.X, self.y = X, y

    def finite_differences(self, eps=1e-4):
        fd = np.empty(self.dmap.n_hyper)
        support = self.w != 0
        for j in range(fd.size):
            values = []
            for sign in (1.0, -1.0):
                u = np.zeros(fd.size)
                u[j] = sign * eps
                pg = self.dmap._at(u)
                w = solve(pg, self.lam, self.w)
                assert np.array_equal(w != 0, support)
                values.append(self.C(w))
            fd[j] = (values[0] - values[1]) / (2 * eps)
        return fd


@lru_cache(maxsize=None)
def data_problem():
    prob = DataProblem()
    prob.fd = prob.finite_differences()
    return prob


@pytest.mark.parametrize("engine", list(ACCURATE))
def test_every_engine_matches_finite_differences(engine):
    """d C(w*(X)) / d X[ROWS] by ITD (both modes), AID-FP and AID-CG == central
    finite differences of the retrained model to 1e-5 (relative, whole vector)."""
    prob = data_problem()
    eng = get_engine(engine, **ACCURATE[engine])
    start = None if engine.startswith("itd") else prob.w
    res = eng.hypergradient(prob.dmap, np.zeros(prob.dmap.n_hyper), start, prob.grad_C)
    err = np.linalg.norm(res.grad - prob.fd) / np.linalg.norm(prob.fd)
    assert err < 1e-5, err


def test_nsid_matches_finite_differences_statistically():
    """NSID (K = 512, batch 5): the mean of 20 draws is within 4 standard errors (and 5%)
    of the finite differences; n_jobs=2 gives the same draw as n_jobs=1."""
    prob = data_problem()
    u0 = np.zeros(prob.dmap.n_hyper)
    q = contraction_factor(prob.dmap, u0, prob.w)
    draws = np.array([NSID(n_samples=512, batch_size=5, random_state=s, contraction=q)
                      .hypergradient(prob.dmap, u0, prob.w, prob.grad_C).grad
                      for s in range(20)])
    mean = draws.mean(axis=0)
    se = draws.std(axis=0, ddof=1) / np.sqrt(len(draws))
    assert np.all(np.abs(mean - prob.fd) <= 4 * se + 1e-12)
    assert np.linalg.norm(mean - prob.fd) < 0.05 * np.linalg.norm(prob.fd)
    one = NSID(n_samples=64, batch_size=5, random_state=0, contraction=q, n_jobs=1)
    two = NSID(n_samples=64, batch_size=5, random_state=0, contraction=q, n_jobs=2)
    np.testing.assert_array_equal(
        one.hypergradient(prob.dmap, u0, prob.w, prob.grad_C).grad,
        two.hypergradient(prob.dmap, u0, prob.w, prob.grad_C).grad)


def test_data_gradient_function():
    """The public function: the elastic net of sklearn's parametrization, AID-CG and
    reverse ITD agree with the finite differences; classifier targets of any type."""
    prob = data_problem()
    from sklearn.linear_model import ElasticNet as SkElasticNet
    alpha = prob.lam.sum()
    model = SkElasticNet(alpha=alpha, l1_ratio=prob.lam[0] / alpha)
    # sklearn's squared validation loss is the mean squared error: twice held_out's C
    value, grad = data_gradient(model, prob.X, prob.y, prob.X_val, prob.y_val, rows=ROWS,
                                tol=1e-12)
    assert value == pytest.approx(2 * prob.C(prob.w), rel=1e-6)  # gap 1e-12 solve
    assert grad.shape == (ROWS.size, 5)
    np.testing.assert_allclose(grad.ravel(), 2 * prob.fd, rtol=1e-5, atol=1e-8)
    _, grad_itd = data_gradient(model, prob.X, prob.y, prob.X_val, prob.y_val, rows=ROWS,
                                method=get_engine("itd-reverse", n_iter=400))
    np.testing.assert_allclose(grad_itd, grad, rtol=1e-5, atol=1e-8)

    X, y = make_classification_data(40, 4, seed=5, n_classes=3)
    labels = np.array(["a", "b", "c"])[y]
    inner = InnerModel("multinomial", "elasticnet", lam=[0.01, 0.05])
    value, grad = data_gradient(inner, X[:30], labels[:30], X[30:], labels[30:], rows=[0, 2])
    assert np.isfinite(value) and grad.shape == (2, 4) and np.any(grad != 0)
    _, all_rows = data_gradient(inner, X[:30], labels[:30], X[30:], labels[30:])
    np.testing.assert_allclose(all_rows[[0, 2]], grad, rtol=1e-6, atol=1e-10)


def test_invalid_rows_and_perturbed_composite_parts():
    dmap, w = _data_map("quadratic")
    with pytest.raises(ValueError, match="distinct"):
        TrainingDataMap(dmap.pgmap, [0.1, 0.1], [1, 1])
    with pytest.raises(ValueError, match="indices"):
        TrainingDataMap(dmap.pgmap, [0.1, 0.1], [100])
    with pytest.raises(ValueError, match="only defined at u = 0"):
        dmap.prox_jac_diag(w, np.ones(dmap.n_hyper))
    with pytest.raises(ValueError, match="m \\* p"):
        dmap.apply(w, np.zeros(3))
