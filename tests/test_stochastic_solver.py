"""Minibatch proximal SAGA / SGD: the kernel's gradients, the solution it reaches
(against FISTA and scikit-learn), reproducibility, warm start, stopping and warnings."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import ElasticNet as SkElasticNet
from sklearn.linear_model import LogisticRegression

from skhypergrad import (L1, ElasticNetPenalty, Logistic, Multinomial, ProxGradient, ProxGradMap,
                         Quadratic, WeightedL1)
from skhypergrad.penalties import enet_lam_from_sklearn, logistic_lam_from_sklearn
from skhypergrad._sgd_kernels import kernel_rows, prox_sgd_epoch
from skhypergrad.solvers.stochastic import StochasticProxGradient

from _data import as_storage, make_classification_data, make_regression_data

N, P = 150, 12
RTOL = 1e-6
ENET = dict(alpha=0.05, l1_ratio=0.7)  # scikit-learn's ElasticNet parameters
LOGREG = dict(C=0.5, l1_ratio=0.5)  # scikit-learn's LogisticRegression parameters


def _problem(kind, storage="dense", fit_intercept=False, penalty=None, center=False):
    """A small regularized problem ``(pgmap, lam)`` of each datafit."""
    if kind == "quadratic":
        X, y = make_regression_data(N, P)
        datafit, lam = Quadratic(), enet_lam_from_sklearn(**ENET)
    else:
        n_classes = 2 if kind == "logistic" else 3
        X, y = make_classification_data(N, P, n_classes=n_classes)
        datafit = Logistic() if n_classes == 2 else Multinomial(n_classes)
        lam = logistic_lam_from_sklearn(n_samples=N, **LOGREG)
    pgmap = ProxGradMap(datafit, penalty or ElasticNetPenalty(), as_storage(X, storage),
                        datafit.encode(y), fit_intercept=fit_intercept, center=center)
    return pgmap, lam


def _sklearn_solution(kind, pgmap):
    """scikit-learn's solution of the problem of :func:`_problem`, as a flat ``w``."""
    fit_intercept = pgmap.design.fit_intercept
    if kind == "quadratic":
        model = SkElasticNet(fit_intercept=fit_intercept, tol=1e-12, max_iter=100_000, **ENET)
    else:
        model = LogisticRegression(solver="saga", fit_intercept=fit_intercept, tol=1e-12,
                                   max_iter=20_000, **LOGREG)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(pgmap.design.X, pgmap.y)
    coef = np.asarray(model.coef_)
    coef = coef.ravel() if coef.ndim == 1 or coef.shape[0] == 1 else coef.T.ravel()
    return np.r_[coef, np.atleast_1d(model.intercept_)] if fit_intercept else coef


def _assert_same_objective(pgmap, lam, w, w_ref, rtol=RTOL):
    ours, ref = pgmap.objective(w, lam), pgmap.objective(w_ref, lam)
    assert abs(ours - ref) <= rtol * abs(ref), (ours, ref)


@pytest.mark.parametrize("fit_intercept, center", [(False, False), (True, False),
                                                   (True, True)])
@pytest.mark.parametrize("kind", ["quadratic", "logistic", "multinomial"])
def test_kernel_sample_gradients_match_datafit(storage, kind, fit_intercept, center):
    # an epoch with zero steps fills the SAGA memory with the raw gradients at w
    # and its mean with the full gradient (of the centred design: implicitly for a
    # sparse X, whose column means the kernel then takes)
    pgmap, _ = _problem(kind, storage, fit_intercept, center=center)
    design, n = pgmap.design, pgmap.design.n_samples
    mu = np.empty(0) if design.sparse_offset is None else design.sparse_offset
    w = np.random.default_rng(1).standard_normal(design.n_params)
    memory, grad_mean = np.zeros(n * design.n_outputs), np.zeros(design.n_params)
    w_before = w.copy()
    prox_sgd_epoch(*kernel_rows(design.X), design.n_features, pgmap.y.astype(np.float64),
                   pgmap.datafit.kernel_code, np.empty(0), design.n_outputs,
                   design.fit_intercept, mu, w,
                   np.full(design.n_features, 0.1), np.zeros(design.n_features), -np.inf,
                   np.arange(n), 7,
                   np.zeros(-(-n // 7)), True, memory, grad_mean)
    np.testing.assert_array_equal(w, w_before)
    raw = pgmap.datafit.raw_grad(pgmap.y, design.matvec(w))
    np.testing.assert_allclose(memory, n * raw.ravel(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(grad_mean, pgmap.datafit.gradient(design, pgmap.y, w),
                               rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("fit_intercept", [False, True])
@pytest.mark.parametrize("kind", ["quadratic", "logistic", "multinomial"])
def test_saga_reaches_prox_gradient_solution(storage, kind, fit_intercept):
    pgmap, lam = _problem(kind, storage, fit_intercept)
    ref = ProxGradient(tol=1e-13, max_iter=100_000).solve(pgmap, lam)
    res = StochasticProxGradient(tol=1e-10, random_state=0).solve(pgmap, lam)
    assert res.converged and res.gap <= 1e-10 and 0 < res.n_iter < 1000
    _assert_same_objective(pgmap, lam, res.w, ref.w)


@pytest.mark.parametrize("fit_intercept", [False, True])
@pytest.mark.parametrize("kind", ["quadratic", "logistic", "multinomial"])
def test_svrg_reaches_prox_gradient_solution(storage, kind, fit_intercept):
    pgmap, lam = _problem(kind, storage, fit_intercept)
    ref = ProxGradient(tol=1e-13, max_iter=100_000).solve(pgmap, lam)
    res = StochasticProxGradient(variance_reduction="svrg", tol=1e-10,
                                 random_state=0).solve(pgmap, lam)
    assert res.converged and res.gap <= 1e-10 and 0 < res.n_iter < 1000
    _assert_same_objective(pgmap, lam, res.w, ref.w)


@pytest.mark.parametrize("penalty", [L1(), WeightedL1()])
def test_saga_lasso_and_weighted_lasso(penalty):
    pgmap, _ = _problem("quadratic", fit_intercept=True, penalty=penalty)
    lam = np.array([0.1]) if isinstance(penalty, L1) else np.linspace(0.02, 0.3, P)
    ref = ProxGradient(tol=1e-13).solve(pgmap, lam)
    res = StochasticProxGradient(tol=1e-10, batch_size=1, random_state=0).solve(pgmap, lam)
    assert res.converged
    _assert_same_objective(pgmap, lam, res.w, ref.w)
    np.testing.assert_array_equal(res.w[:P] == 0, ref.w[:P] == 0)


@pytest.mark.parametrize("fit_intercept", [False, True])
@pytest.mark.parametrize("kind", ["quadratic", "logistic", "multinomial"])
def test_saga_matches_sklearn(storage, kind, fit_intercept):
    # ElasticNet (coordinate descent) and LogisticRegression(solver="saga")
    pgmap, lam = _problem(kind, storage, fit_intercept)
    res = StochasticProxGradient(tol=1e-10, random_state=0).solve(pgmap, lam)
    _assert_same_objective(pgmap, lam, res.w, _sklearn_solution(kind, pgmap))


@pytest.mark.parametrize("variance_reduction", [True, False])
def test_same_seed_same_result_other_seed_other_iterates(variance_reduction):
    pgmap, lam = _problem("logistic", "csr", fit_intercept=True)

    def run(seed):
        return StochasticProxGradient(variance_reduction=variance_reduction, max_epochs=3,
                                      tol=None, random_state=seed).solve(pgmap, lam)

    first, again, other = run(0), run(0), run(1)
    np.testing.assert_array_equal(first.w, again.w)
    assert first.gap == again.gap
    assert np.max(np.abs(first.w - other.w)) > 1e-8


def test_random_state_instance_is_advanced():
    # sklearn's convention: a RandomState instance gives a new order on every solve
    pgmap, lam = _problem("quadratic")
    solver = StochasticProxGradient(max_epochs=2, tol=None,
                                    random_state=np.random.RandomState(0))
    assert np.any(solver.solve(pgmap, lam).w != solver.solve(pgmap, lam).w)


def test_warm_start_from_solution_returns_at_once():
    pgmap, lam = _problem("logistic", fit_intercept=True)
    solver = StochasticProxGradient(tol=1e-10, random_state=0)
    first = solver.solve(pgmap, lam)
    again = solver.solve(pgmap, lam, w0=first.w)
    assert first.n_iter > 1 and again.n_iter == 0 and again.converged
    np.testing.assert_array_equal(again.w, first.w)


def test_plain_sgd_with_decreasing_steps_gets_close():
    pgmap, lam = _problem("quadratic", fit_intercept=True)
    ref = ProxGradient(tol=1e-13).solve(pgmap, lam)
    f_ref, f_zero = pgmap.objective(ref.w, lam), pgmap.objective(np.zeros_like(ref.w), lam)

    def excess(schedule):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # tol=None: a budget, never a warning
            res = StochasticProxGradient(variance_reduction=False, schedule=schedule,
                                         max_epochs=300, tol=None, batch_size=8,
                                         random_state=0).solve(pgmap, lam)
        assert res.converged and res.n_iter == 300
        return (pgmap.objective(res.w, lam) - f_ref) / (f_zero - f_ref)

    decreasing, constant = excess("decreasing"), excess("constant")
    assert decreasing < 1e-4
    assert decreasing < constant  # a constant step stalls at its noise level


def test_tiny_max_epochs_warns():
    pgmap, lam = _problem("quadratic")
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        res = StochasticProxGradient(max_epochs=2, tol=1e-12, random_state=0).solve(pgmap, lam)
    assert not res.converged and res.n_iter == 2 and res.gap > 1e-12


@pytest.mark.parametrize("batch_size", [1, 10 * N])
def test_extreme_batch_sizes(batch_size):
    # batch_size >= n is full-batch proximal gradient with step 1 / (3 L)
    pgmap, lam = _problem("quadratic", fit_intercept=True)
    ref = ProxGradient(tol=1e-13).solve(pgmap, lam)
    res = StochasticProxGradient(batch_size=batch_size, tol=1e-10, max_epochs=5000,
                                 random_state=0).solve(pgmap, lam)
    assert res.converged
    _assert_same_objective(pgmap, lam, res.w, ref.w)


@pytest.mark.parametrize("params, match", [
    (dict(schedule="cosine"), "schedule"),
    (dict(step=-1.0), "step"),
    (dict(batch_size=0), "batch_size"),
    (dict(check_every=1.5), "check_every"),
    (dict(variance_reduction="sag"), "variance_reduction"),
])
def test_invalid_parameters(params, match):
    pgmap, lam = _problem("quadratic")
    with pytest.raises(ValueError, match=match):
        StochasticProxGradient(**params).solve(pgmap, lam)


def test_unsupported_datafit():
    pgmap, lam = _problem("quadratic")
    pgmap.datafit = type("Huber", (Quadratic,), {"kernel_code": None})()
    with pytest.raises(ValueError, match="minibatch kernel.*ProxGradient"):
        StochasticProxGradient().solve(pgmap, lam)
