"""Hypergradient engines.

Protects: every engine's hypergradient against central finite differences of the
held-out loss in log-hyperparameters (dense and sparse X), against each other and a
dense adjoint solve; ITD forward == reverse; AID-FP's linear rate at the contraction
factor and its advantage over ITD; warm starts; NSID's unbiasedness and O(1/K) mean
squared error (and the bias of the SID baseline); engines on a map that is not a
ProxGradMap; the registry; and the momentum counterexample that makes ITD
differentiate plain proximal-gradient steps.
"""

from functools import lru_cache

import numpy as np
import pytest
from sklearn.linear_model import Lasso

from skhypergrad import (L1, ElasticNetPenalty, HeldOut, Logistic, Multinomial, ProxGradient,
                         ProxGradMap, Quadratic, WeightedL1, hypergradient)
from skhypergrad.fixed_point import FixedPointMap
from skhypergrad.hypergrad import (ENGINES, ITD, NSID, AIDConjugateGradient, AIDFixedPoint,
                                   BaseEngine, contraction_factor, get_engine)
from skhypergrad.hypergrad.nsid import jacobian_noise, predicted_error

from _data import as_storage, make_classification_data, make_regression_data

# name: (datafit, penalty, lam)
CASES = {
    "quadratic-l1": ("quadratic", L1(), [0.1]),
    "quadratic-enet": ("quadratic", ElasticNetPenalty(), [0.1, 0.1]),
    "quadratic-wl1": ("quadratic", WeightedL1(), np.geomspace(0.05, 0.2, 20)),
    "logistic-enet": ("logistic", ElasticNetPenalty(), [0.01, 0.05]),
}

# engines as used against finite differences (ITD starts from w = 0)
ACCURATE = {
    "itd": dict(n_iter=400),
    "itd-reverse": dict(n_iter=400),
    "aid-fp": dict(tol=1e-12, max_iter=10_000),
    "aid-cg": dict(tol=1e-12),
}


def solve(pgmap, lam, w0=None):
    """Inner solution to machine precision: FISTA (gap 1e-14), then ISTA to a fixed point."""
    w = ProxGradient(tol=1e-14, max_iter=100_000, warn=False).solve(pgmap, lam, w0).w
    for _ in range(100_000):
        w_new = pgmap.apply(w, lam)
        if np.linalg.norm(w_new - w) <= 1e-15 * max(1.0, np.linalg.norm(w)):
            return w_new
        w = w_new
    raise AssertionError("inner problem not solved to machine precision")


def held_out(X_val, y_val, fit_intercept=True):
    r"""``C(w) = ||X_val coef + b - y_val||^2 / (2 n_val)`` and its gradient in ``w``."""
    p, n_val = X_val.shape[1], X_val.shape[0]

    def residual(w):
        return X_val @ w[:p] + (w[p] if fit_intercept else 0.0) - y_val

    def value(w):
        r = residual(w)
        return 0.5 * float(r @ r) / n_val

    def grad(w):
        r = residual(w)
        g = X_val.T @ r / n_val
        return np.concatenate([g, [r.sum() / n_val]]) if fit_intercept else g

    return value, grad


class Problem:
    """A map at its solution with the held-out criterion and two references."""

    def __init__(self, pgmap, lam, X_val, y_val, grad_C=None):
        self.pgmap, self.lam = pgmap, np.asarray(lam, dtype=np.float64)
        if grad_C is None:
            self.C, self.grad_C = held_out(X_val, y_val, pgmap.design.fit_intercept)
        else:  # another outer function, through its gradient only
            self.C, self.grad_C = None, grad_C
        self.w = solve(pgmap, self.lam)

    def dense_adjoint(self):
        """``(v, B^T v)`` with ``(I - A^T) v = grad C`` solved densely."""
        lin = self.pgmap.linearize(self.w, self.lam)
        n, k = self.w.shape[0], self.lam.shape[0]
        A = np.column_stack([lin.jvp_w(e) for e in np.eye(n)])
        B = np.column_stack([lin.jvp_lam(e) for e in np.eye(k)])
        v = np.linalg.solve(np.eye(n) - A.T, self.grad_C(self.w))
        return v, B.T @ v

    def finite_differences(self, eps=1e-3):
        """Central differences of ``theta -> C(w*(exp(theta)))``; the support must not move."""
        theta = np.log(self.lam)
        support = self.w != 0
        fd = np.empty_like(theta)
        for j in range(theta.shape[0]):
            values = []
            for sign in (1.0, -1.0):
                t = theta.copy()
                t[j] += sign * eps
                w = solve(self.pgmap, np.exp(t), self.w)
                assert np.array_equal(w != 0, support), "finite-difference step crosses a kink"
                values.append(self.C(w))
            fd[j] = (values[0] - values[1]) / (2 * eps)
        return fd


@lru_cache(maxsize=None)
def problem(case, storage="dense"):
    kind, penalty, lam = CASES[case]
    if kind == "quadratic":
        X, y = make_regression_data(60, 20, seed=0)
        X_val, y_val = make_regression_data(40, 20, seed=1)
        datafit = Quadratic()
    else:
        X, y = make_classification_data(60, 20, seed=0)
        X_val, y_val = make_classification_data(40, 20, seed=1)
        datafit = Logistic()
    pgmap = ProxGradMap(datafit, penalty, as_storage(X, storage), datafit.encode(y),
                        fit_intercept=True)
    return Problem(pgmap, lam, X_val, y_val)


@lru_cache(maxsize=None)
def reference(case, storage):
    prob = problem(case, storage)
    return prob.finite_differences(), prob.dense_adjoint()


@pytest.mark.parametrize("engine", list(ACCURATE))
@pytest.mark.parametrize("storage", ["dense", "csr"])
@pytest.mark.parametrize("case", list(CASES))
def test_engine_matches_finite_differences(case, storage, engine):
    """lam * hypergradient == d C(w*(exp(theta))) / d theta to 1e-5 (relative, whole vector)."""
    prob = problem(case, storage)
    fd, _ = reference(case, storage)
    eng = get_engine(engine, **ACCURATE[engine])
    w_start = None if engine.startswith("itd") else prob.w
    res = eng.hypergradient(prob.pgmap, prob.lam, w_start, prob.grad_C)
    assert res.grad.shape == prob.lam.shape
    err = np.linalg.norm(prob.lam * res.grad - fd) / np.linalg.norm(fd)
    assert err < 1e-5, err
    np.testing.assert_allclose(res.w, prob.w, atol=1e-10)


@pytest.mark.parametrize("case", list(CASES))
def test_engines_match_dense_adjoint_solve(case):
    """All deterministic engines and their adjoints agree with a dense solve to 1e-10."""
    prob = problem(case)
    _, (v, exact) = reference(case, "dense")
    scale = np.linalg.norm(exact)
    for name, params in ACCURATE.items():
        w_start = None if name.startswith("itd") else prob.w
        res = get_engine(name, **params).hypergradient(prob.pgmap, prob.lam, w_start,
                                                      prob.grad_C)
        assert np.linalg.norm(res.grad - exact) <= 1e-10 * scale, name
        if name == "aid-fp":  # the warm-start state is the full adjoint v
            np.testing.assert_allclose(res.state, v, rtol=1e-9, atol=1e-12 * np.abs(v).max())
        elif name == "aid-cg":  # ... on the active set S (the only part B^T v reads)
            S = np.flatnonzero(prob.pgmap.linearize(prob.w, prob.lam).jac_diag)
            np.testing.assert_allclose(res.state[S], v[S], rtol=1e-9,
                                       atol=1e-12 * np.abs(v).max())


def test_engines_on_a_multinomial_map():
    """Multi-output coefficients (p = 10, 3 classes, flattened), C(w) = ||w - t||^2 / 2:
    engines == dense solve."""
    X, y = make_classification_data(40, 10, seed=2, n_classes=3)
    pgmap = ProxGradMap(Multinomial(3), ElasticNetPenalty(), X, y, fit_intercept=False)
    target = np.linspace(-1, 1, pgmap.n_params)
    prob = Problem(pgmap, [0.02, 0.05], None, None, grad_C=lambda w: w - target)
    _, exact = prob.dense_adjoint()
    assert 0 < np.count_nonzero(prob.w) < prob.w.shape[0]
    for name, params in ACCURATE.items():
        w_start = None if name.startswith("itd") else prob.w
        res = get_engine(name, **params).hypergradient(pgmap, prob.lam, w_start, prob.grad_C)
        assert np.linalg.norm(res.grad - exact) <= 1e-9 * np.linalg.norm(exact), name


@pytest.mark.parametrize("storage", ["dense", "csr"])
@pytest.mark.parametrize("case", list(CASES))
def test_itd_forward_equals_reverse(case, storage):
    """Same T = 30 unconverged iterations, both accumulation orders: equal to 1e-10."""
    prob = problem(case, storage)
    fwd = ITD(n_iter=30, mode="forward").hypergradient(prob.pgmap, prob.lam, None, prob.grad_C)
    rev = ITD(n_iter=30, mode="reverse").hypergradient(prob.pgmap, prob.lam, None, prob.grad_C)
    assert np.linalg.norm(fwd.grad - rev.grad) <= 1e-10 * np.linalg.norm(rev.grad)
    np.testing.assert_array_equal(fwd.w, rev.w)
    assert fwd.n_iter == rev.n_iter == 30 and fwd.state is None
    zero = ITD(n_iter=0).hypergradient(prob.pgmap, prob.lam, prob.w, prob.grad_C)
    assert np.all(zero.grad == 0.0) and np.array_equal(zero.w, prob.w)


# -- convergence rates on an ill-conditioned problem -----------------------------------
@lru_cache(maxsize=None)
def ill_conditioned():
    """Correlated design (rho = 0.8), small lam2 = 1e-3: contraction factor q ~ 0.99."""
    rng = np.random.default_rng(0)
    n, p = 60, 30
    cov = 0.8 ** np.abs(np.subtract.outer(np.arange(p), np.arange(p)))
    chol = np.linalg.cholesky(cov)
    X, X_val = rng.standard_normal((n, p)) @ chol.T, rng.standard_normal((40, p)) @ chol.T
    w_true = np.zeros(p)
    w_true[:8] = rng.standard_normal(8)
    y = X @ w_true + 0.5 * rng.standard_normal(n)
    y_val = X_val @ w_true + 0.5 * rng.standard_normal(40)
    pgmap = ProxGradMap(Quadratic(), ElasticNetPenalty(), X, y, fit_intercept=True)
    prob = Problem(pgmap, [0.1, 1e-3], X_val, y_val)
    prob.exact = prob.dense_adjoint()[1]
    return prob


def _relative_error(prob, grad):
    return np.linalg.norm(grad - prob.exact) / np.linalg.norm(prob.exact)


def _first_below(error_of, lo, hi, target, step):
    """Smallest multiple of ``step`` in (lo, hi] with ``error_of(k) <= target`` (bisection)."""
    assert error_of(hi) <= target and error_of(lo) > target
    while hi - lo > step:
        mid = (lo + hi) // (2 * step) * step
        lo, hi = (lo, mid) if error_of(mid) <= target else (mid, hi)
    return hi


def test_contraction_factor_is_the_spectral_radius_of_A():
    """Dense path (|S| <= 64) on three problems, Lanczos path on a 90-coefficient one."""
    probs = [problem("quadratic-enet"), problem("logistic-enet"), ill_conditioned()]
    X, y = make_classification_data(60, 30, seed=0, n_classes=3)
    pgmap = ProxGradMap(Multinomial(3), ElasticNetPenalty(), X, y, fit_intercept=False)
    big = Problem(pgmap, [1e-4, 0.5], X[:10], np.zeros(10))
    for prob in probs + [big]:
        lin = prob.pgmap.linearize(prob.w, prob.lam)
        A = np.column_stack([lin.jvp_w(e) for e in np.eye(prob.w.shape[0])])
        rho = np.max(np.abs(np.linalg.eigvals(A)))
        assert contraction_factor(prob.pgmap, prob.lam, prob.w) == pytest.approx(rho, rel=1e-6)
    assert np.count_nonzero(big.w) > 64
    assert contraction_factor(*(lambda p: (p.pgmap, p.lam, p.w))(ill_conditioned())) > 0.98


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # tol=0, max_iter
def test_aid_fp_error_decays_linearly_at_the_contraction_factor():
    """log(error_k) is linear in k with slope log(q), q ~ 0.99, within 5%, once the faster
    modes (eigenvalues 0.986, 0.978, ...) have died out; errors 4e-8 .. 6e-12 here."""
    prob = ill_conditioned()
    q = contraction_factor(prob.pgmap, prob.lam, prob.w)
    ks = np.arange(1500, 2751, 250)
    errors = [_relative_error(prob, AIDFixedPoint(tol=0.0, max_iter=int(k)).hypergradient(
        prob.pgmap, prob.lam, prob.w, prob.grad_C).grad) for k in ks]
    slope, _ = np.polyfit(ks, np.log(errors), 1)
    assert slope < 0
    assert abs(slope / np.log(q) - 1.0) < 0.05, (slope, np.log(q))
    assert np.all(np.diff(np.log(errors)) < 0)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # tol=0, max_iter
def test_aid_fp_reaches_1e6_in_fewer_iterations_than_itd():
    """Iterations to a relative error of 1e-6 (to within 10): AID-FP from v = 0 at the
    solution vs ITD from w = 0, both applying the same map once per iteration."""
    prob = ill_conditioned()

    def aid(k):
        return _relative_error(prob, AIDFixedPoint(tol=0.0, max_iter=int(k)).hypergradient(
            prob.pgmap, prob.lam, prob.w, prob.grad_C).grad)

    def itd(k):
        return _relative_error(prob, ITD(n_iter=int(k), mode="reverse").hypergradient(
            prob.pgmap, prob.lam, None, prob.grad_C).grad)

    k_aid = _first_below(aid, 0, 3000, 1e-6, 10)
    k_itd = _first_below(itd, 0, 3000, 1e-6, 10)
    assert 1000 < k_aid < k_itd
    assert k_itd - k_aid >= 100, (k_aid, k_itd)
    # AID-CG on the same problem: a few dozen products
    res = AIDConjugateGradient(tol=1e-10, direct=False).hypergradient(
        prob.pgmap, prob.lam, prob.w, prob.grad_C)
    assert res.n_iter <= 40 and _relative_error(prob, res.grad) < 1e-8


@pytest.mark.parametrize("engine", [AIDFixedPoint, AIDConjugateGradient])
def test_warm_start_from_nearby_adjoint(engine):
    """Previous v at lam, new solve at lam * (1 + 1e-3): same result; AID-FP needs 39
    iterations instead of 65 (linear rate: the saving is log(1e-3) / log(q)). CG ends in
    at most |S| + 1 = 8 products anyway here, so its warm start only has to do no harm."""
    prob = problem("quadratic-enet")
    eng = engine(tol=1e-10, max_iter=10_000)
    if engine is AIDConjugateGradient:
        eng.direct = False  # the iterative path; the direct one takes no state
    first = eng.hypergradient(prob.pgmap, prob.lam, prob.w, prob.grad_C)
    lam2 = prob.lam * (1 + 1e-3)
    w2 = solve(prob.pgmap, lam2, prob.w)
    cold = eng.hypergradient(prob.pgmap, lam2, w2, prob.grad_C)
    warm = eng.hypergradient(prob.pgmap, lam2, w2, prob.grad_C, state=first.state)
    np.testing.assert_allclose(warm.grad, cold.grad, rtol=1e-8)
    if engine is AIDFixedPoint:
        assert cold.n_iter == 65 and warm.n_iter <= 40
    else:
        assert cold.n_iter == 8 and warm.n_iter <= cold.n_iter + 1
    # at the same lam the state is the solution (AID-CG's on the active set only, the
    # rest is filled in by one more step): AID-FP stops after one or two steps
    again = AIDFixedPoint(tol=1e-8).hypergradient(prob.pgmap, lam2, w2, prob.grad_C,
                                                  state=cold.state)
    assert again.n_iter == (1 if engine is AIDFixedPoint else 2)
    # a state that does not fit the problem is ignored
    other = eng.hypergradient(prob.pgmap, lam2, w2, prob.grad_C, state=np.ones(3))
    assert other.n_iter == cold.n_iter


# -- NSID --------------------------------------------------------------------------
@lru_cache(maxsize=None)
def stochastic_problem(storage="dense"):
    """Tiny elastic net (n = 40, p = 5), q ~ 0.60; support margins ~ 0.016 in z."""
    X, y = make_regression_data(40, 5, seed=3)
    X_val, y_val = make_regression_data(30, 5, seed=4)
    pgmap = ProxGradMap(Quadratic(), ElasticNetPenalty(), as_storage(X, storage), y,
                        fit_intercept=True)
    prob = Problem(pgmap, [0.05, 0.1], X_val, y_val)
    prob.exact = prob.dense_adjoint()[1]
    prob.q = contraction_factor(pgmap, prob.lam, prob.w)
    return prob


def _nsid_draws(prob, n_seeds, **params):
    params.setdefault("contraction", prob.q)
    return np.array([NSID(random_state=seed, **params).hypergradient(
        prob.pgmap, prob.lam, prob.w, prob.grad_C).grad for seed in range(n_seeds)])


def test_nsid_is_unbiased_and_sid_is_not():
    """Mean of 30 NSID draws (K = 1024, batch 4) within 4 standard errors of the exact
    hypergradient; the SID baseline's mean squared error is over 5 times NSID's."""
    prob = stochastic_problem()
    draws = _nsid_draws(prob, 30, n_samples=1024, batch_size=4)
    se = draws.std(axis=0, ddof=1) / np.sqrt(len(draws))
    assert np.all(np.abs(draws.mean(axis=0) - prob.exact) <= 4 * se)
    mse = np.mean(np.sum((draws - prob.exact) ** 2, axis=1))
    assert mse < 0.01 * np.sum(prob.exact ** 2)
    sid = _nsid_draws(prob, 30, n_samples=1024, batch_size=4, biased=True)
    mse_sid = np.mean(np.sum((sid - prob.exact) ** 2, axis=1))
    assert mse_sid > 5 * mse


def test_nsid_mean_squared_error_decays_as_one_over_k():
    """MSE over 20 seeds at K = 2^6, 2^8, 2^10, 2^12 (J = K + 1): log-log slope ~ -1."""
    prob = stochastic_problem()
    ks = 2 ** np.arange(6, 13, 2)
    mse = [np.mean(np.sum((_nsid_draws(prob, 20, n_samples=int(k), batch_size=4)
                           - prob.exact) ** 2, axis=1)) for k in ks]
    slope, _ = np.polyfit(np.log(ks), np.log(mse), 1)
    assert -1.3 < slope < -0.7, slope


def test_nsid_step_sizes_dense_sparse_and_constant_step():
    prob = stochastic_problem()
    q = prob.q
    eta = NSID(n_samples=5).step_sizes(prob.pgmap, prob.lam, prob.w)
    scale = 2 / (1 - q ** 2)
    np.testing.assert_allclose(eta, scale / (scale + np.arange(5)), rtol=1e-4)
    assert eta[0] == pytest.approx(1.0)
    eta = NSID(n_samples=3, step="constant", contraction=0.5).step_sizes(None, None, None)
    np.testing.assert_allclose(eta, [0.375] * 3)
    eta = NSID(n_samples=2, beta=2.0, gamma=4.0).step_sizes(None, None, None)
    np.testing.assert_allclose(eta, [0.5, 0.4])
    # same seed, same draws: CSR gives the dense result
    sparse = stochastic_problem("csr")
    a = NSID(n_samples=64, batch_size=4, random_state=0, contraction=q).hypergradient(
        prob.pgmap, prob.lam, prob.w, prob.grad_C)
    b = NSID(n_samples=64, batch_size=4, random_state=0, contraction=q).hypergradient(
        sparse.pgmap, sparse.lam, sparse.w, sparse.grad_C)
    np.testing.assert_allclose(a.grad, b.grad, rtol=1e-10)
    assert a.n_iter == 64 and a.state is None
    # the residual is the predicted relative error of the 64 samples
    eta0 = NSID(n_samples=64, batch_size=4, contraction=q).step_sizes(
        prob.pgmap, prob.lam, prob.w)[0]
    beta = 2 / (1 - q ** 2)
    assert a.residual == pytest.approx(predicted_error(
        64, q, jacobian_noise(prob.pgmap, 4), beta, beta / eta0))
    # constant step: error stalls at a floor, but stays a usable estimate
    const = _nsid_draws(prob, 10, n_samples=1024, batch_size=4, step="constant")
    mse = np.mean(np.sum((const - prob.exact) ** 2, axis=1))
    assert mse < 0.1 * np.sum(prob.exact ** 2)
    with pytest.raises(ValueError, match="not a contraction"):
        NSID(contraction=1.0).step_sizes(None, None, None)


# -- maps that are not ProxGradMap ----------------------------------------------------
class Opaque(FixedPointMap):
    """A ProxGradMap seen only through the generic interface (no prox parts)."""

    def __init__(self, inner):
        self.inner = inner
        self.n_params, self.n_hyper = inner.n_params, inner.n_hyper

    def apply(self, w, lam):
        return self.inner.apply(w, lam)

    def jvp_w(self, w, lam, v):
        return self.inner.jvp_w(w, lam, v)

    def vjp_w(self, w, lam, u):
        return self.inner.vjp_w(w, lam, u)

    def jvp_lam(self, w, lam, e):
        return self.inner.jvp_lam(w, lam, e)

    def vjp_lam(self, w, lam, u):
        return self.inner.vjp_lam(w, lam, u)


@pytest.mark.parametrize("case", ["quadratic-wl1", "logistic-enet"])
def test_engines_on_a_generic_fixed_point_map(case):
    """ITD, AID-FP and AID-CG (GMRES fallback) need only apply / jvp / vjp."""
    prob = problem(case)
    _, (_, exact) = reference(case, "dense")
    opaque = Opaque(prob.pgmap)
    for name in ("itd", "itd-reverse", "aid-fp", "aid-cg"):
        w_start = None if name.startswith("itd") else prob.w
        res = get_engine(name, **ACCURATE[name]).hypergradient(opaque, prob.lam, w_start,
                                                              prob.grad_C)
        assert np.linalg.norm(res.grad - exact) <= 1e-9 * np.linalg.norm(exact), name
    with pytest.raises(TypeError, match="NSID needs a composite map"):
        NSID().hypergradient(opaque, prob.lam, prob.w, prob.grad_C)
    with pytest.raises(TypeError, match="proximal-gradient map"):
        contraction_factor(opaque, prob.lam, prob.w)


# -- registry and validation -----------------------------------------------------------
def test_registry():
    assert ENGINES == ("itd", "itd-reverse", "aid-fp", "aid-cg", "nsid")
    assert get_engine("itd").mode == "forward" and get_engine("itd-reverse").mode == "reverse"
    assert isinstance(get_engine("aid-fp", tol=1e-3), AIDFixedPoint)
    assert isinstance(get_engine("aid-cg"), AIDConjugateGradient)
    assert get_engine("nsid", n_samples=7).n_samples == 7
    eng = ITD(n_iter=3)
    assert get_engine(eng) is eng and isinstance(eng, BaseEngine)
    assert not ITD.needs_solution and AIDFixedPoint.needs_solution and NSID.needs_solution
    with pytest.raises(ValueError, match="Unknown hypergradient engine 'aid'"):
        get_engine("aid")
    with pytest.raises(TypeError, match="engine name"):
        get_engine(eng, n_iter=4)
    with pytest.raises(TypeError, match="fixes mode"):
        get_engine("itd", mode="reverse")


@pytest.mark.parametrize("engine,match", [
    (ITD(mode="backward"), "mode"), (ITD(n_iter=-1), "n_iter"),
    (AIDFixedPoint(tol=-1.0), "tol"), (AIDConjugateGradient(max_iter=2.5), "max_iter"),
    (NSID(step="adaptive"), "step"), (NSID(batch_size=0), "batch_size"), (NSID(J=0), "J"),
    (AIDFixedPoint(tol=np.nan), "tol"), (AIDConjugateGradient(tol=np.nan), "tol"),
    (AIDConjugateGradient(direct="no"), "direct"),
    (NSID(beta=-1.0, gamma=1.0, n_samples=5), "beta"),
    (NSID(beta=1.0, gamma=0.0, n_samples=5), "gamma"),
])
def test_invalid_settings_raise_at_call(engine, match):
    prob = problem("quadratic-l1")
    with pytest.raises(ValueError, match=match):
        engine.hypergradient(prob.pgmap, prob.lam, prob.w, prob.grad_C)


@pytest.mark.parametrize("engine,match", [
    (AIDConjugateGradient(tol=-1.0), "tol"), (AIDConjugateGradient(max_iter=-1), "max_iter"),
    (AIDConjugateGradient(direct="no"), "direct"),
])
def test_invalid_settings_raise_on_the_compiled_path(engine, match):
    """A dense least-squares held-out criterion is evaluated on Gram matrices without
    calling the engine's ``hypergradient``: its settings are checked all the same."""
    rng = np.random.RandomState(0)
    X, X_val = rng.randn(30, 4), rng.randn(10, 4)
    y, y_val = X[:, 0] + 0.1 * rng.randn(30), X_val[:, 0]
    with pytest.raises(ValueError, match=match):
        hypergradient(Lasso(alpha=0.1), X, y, criterion=HeldOut(X_val, y_val), method=engine)


# -- the momentum pitfall ------------------------------------------------------------
def test_differentiating_momentum_diverges_where_ista_converges():
    r"""Heavy ball vs gradient (ISTA) steps at a kink of the curvature.

    ``f_theta(x) = h(x) x^2 / 2 - theta x`` with ``h = 5/8`` for ``x >= 0`` and
    ``h = 1`` for ``x < 0`` (``L = 1``): at ``theta = 0`` the solution ``x* = 0``
    sits on the kink, where any ``h in [5/8, 1]`` is a conservative Jacobian of
    ``f'``. Both methods started at ``x* = 0`` stay there; differentiating them in
    ``theta`` with the selection alternating between the two pieces:

    * heavy ball (step 2, momentum 3/4), state ``(d_k, d_{k-1})``:
      ``d_{k+1} = (1 + beta - g h_k) d_k - beta d_{k-1} + g``. Each piece's matrix
      ``[[1 + beta - g h, -beta], [1, 0]]`` has spectral radius sqrt(3)/2 < 1, but
      the product of the two has eigenvalues -9/8 and -1/2: the derivative diverges;
    * gradient steps (step 0.8): ``d_{k+1} = (1 - g h_k) d_k + g`` with factors 0.5
      and 0.2; the derivative stays bounded and settles on the 2-cycle {4/3, 16/15},
      both inside the conservative Jacobian [1/h_b, 1/h_a] = [1, 8/5] of ``x*(theta)``.
    """
    h_a, h_b = 5 / 8, 1.0
    g, beta = 2.0, 0.75

    def heavy_ball(h):
        return np.array([[1 + beta - g * h, -beta], [1.0, 0.0]])

    Ma, Mb = heavy_ball(h_a), heavy_ball(h_b)
    for M in (Ma, Mb):
        assert np.max(np.abs(np.linalg.eigvals(M))) == pytest.approx(np.sqrt(3) / 2)
    np.testing.assert_allclose(np.sort(np.linalg.eigvals(Ma @ Mb).real), [-9 / 8, -1 / 2])

    # the iterates themselves stay at the solution (the kink)
    x_prev = x = 0.0
    for k in range(200):
        h = h_a if k % 2 == 0 else h_b  # the same iterates for either curvature
        x, x_prev = x - g * h * x + beta * (x - x_prev), x
    assert x == 0.0

    # forward derivatives in theta: d/dtheta of (x_{k+1}) has the constant term g
    d = np.zeros(2)
    norms = []
    for k in range(200):
        M = Ma if k % 2 == 0 else Mb
        d = M @ d + np.array([g, 0.0])
        norms.append(abs(d[0]))
    assert norms[-1] > 1e4
    assert norms[-1] / norms[-3] == pytest.approx(9 / 8, rel=1e-3)
    # each piece alone: converges to 1/h
    for h in (h_a, h_b):
        d = np.zeros(2)
        for _ in range(300):
            d = heavy_ball(h) @ d + np.array([g, 0.0])
        assert d[0] == pytest.approx(1 / h, rel=1e-10)

    # gradient steps (ITD's plain iterations), same alternating selection
    g_ista, d = 0.8, 0.0
    trace = []
    for k in range(200):
        h = h_a if k % 2 == 0 else h_b
        d = (1 - g_ista * h) * d + g_ista
        trace.append(d)
    assert trace[-2] == pytest.approx(4 / 3) and trace[-1] == pytest.approx(16 / 15)
    assert all(1.0 <= t <= 1.6 for t in trace[20:])


@pytest.mark.parametrize("case", ["quadratic-enet", "quadratic-wl1", "logistic-enet"])
def test_aid_cg_direct_solve_matches_cg(case, storage):
    """Small active sets are factored (Cholesky on the formed H_SS, one "iteration"):
    same hypergradient as CG to 1e-9, dense and sparse, with an intercept."""
    prob = problem(case, storage)
    direct = AIDConjugateGradient(tol=1e-12).hypergradient(
        prob.pgmap, prob.lam, prob.w, prob.grad_C)
    cg = AIDConjugateGradient(tol=1e-12, direct=False).hypergradient(
        prob.pgmap, prob.lam, prob.w, prob.grad_C)
    assert direct.n_iter == 1 and cg.n_iter > 1
    assert direct.residual < 1e-12
    np.testing.assert_allclose(direct.grad, cg.grad, rtol=1e-9, atol=1e-14)
    # v agrees on the active set, the only part B^T v reads
    S = np.flatnonzero(prob.pgmap.prox_jac_diag(prob.pgmap.forward_step(prob.w), prob.lam))
    np.testing.assert_allclose(direct.state[S], cg.state[S], rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("m", [7, 120])  # factored by scipy's posv / by numpy's Cholesky
def test_direct_solve_of_the_active_set_system(m):
    """``_ActiveSet.solve_direct`` solves ``(g H_SS + diag(1/delta_S - 1)) u = b`` (the
    reduced system) to rounding, reports that residual, leaves ``H_SS`` intact (CG's
    fallback reads it), and gives None for a matrix that is not positive definite."""
    from skhypergrad.hypergrad._active_set import _NUMPY_CHOLESKY_MIN, _ActiveSet

    assert (m < _NUMPY_CHOLESKY_MIN) == (m == 7)
    rng = np.random.default_rng(0)
    step = 0.3
    A = rng.standard_normal((3 * m, m))
    H = A.T @ A / (3 * m)
    delta = np.zeros(m + 3)
    delta[2:2 + m] = rng.uniform(0.5, 1.0, m)  # the active set: indices 2..m+1
    b = rng.standard_normal(m)
    active = _ActiveSet(None, delta, step=step, hessian_subset=lambda idx: H.copy())
    np.testing.assert_array_equal(active.idx, np.arange(2, 2 + m))
    H_seen = active.hess_matrix.copy()
    u, residual, singular = active.solve_direct(b)
    assert not singular
    M = step * H + np.diag(1 / delta[2:2 + m] - 1)
    np.testing.assert_allclose(u, np.linalg.solve(M, b), rtol=1e-11)
    assert residual < 1e-14  # the residual of that system (a wrong one would be O(1))
    np.testing.assert_array_equal(active.hess_matrix, H_seen)
    indefinite = _ActiveSet(None, delta, step=step, hessian_subset=lambda idx: -10 * H)
    assert indefinite.solve_direct(b) is None


@pytest.mark.parametrize("m", [7, 120])
def test_direct_solve_is_not_fooled_by_a_column_in_other_units(m):
    """One active column times 1e6 makes ``H_SS``'s diagonal span 1e12 (condition
    1e14) while the system is well posed: the Jacobi-scaled Cholesky keeps it regular and
    solves it to rounding (unscaled, its pivots fell below 1e-6 of the largest and the
    least-norm solve left a residual of 1e-6 to 7e-5, reported as a system with no
    solution)."""
    from skhypergrad.hypergrad._active_set import _ActiveSet

    rng = np.random.default_rng(1)
    A = rng.standard_normal((3 * m, m))
    A[:, 0] *= 1e6
    H = A.T @ A / (3 * m)
    step = 1.0 / np.linalg.norm(H, 2)
    delta = np.ones(m)  # the support of an L1 solution: M = g H_SS
    b = rng.standard_normal(m)
    active = _ActiveSet(None, delta, step=step, hessian_subset=lambda idx: H.copy())
    u, residual, singular = active.solve_direct(b)
    M = step * H + np.diag(1 / delta - 1)
    assert np.linalg.cond(M) > 1e11
    assert not singular and residual < 1e-10  # AID-CG's default tol (the products' rounding)
    D = 1 / np.sqrt(np.diag(M))
    np.testing.assert_allclose(u, D * np.linalg.solve(D[:, None] * M * D, D * b),
                               rtol=1e-8)


@pytest.mark.parametrize("m", [70, 120])  # factored by scipy / by numpy
def test_kronecker_solve_of_a_block_active_set_system(m):
    """A block Jacobian over rows of K outputs with ``H_SS = G kron I_K``: the structured
    solve (Woodbury, ``m x m`` factorizations) gives the dense solution of the reduced
    system to rounding, for a support of ``m K`` unknowns above the dense limit, without
    forming ``H_SS``; a singular ``A_0`` falls back to the dense least-norm solve."""
    from skhypergrad._prox_jacobian import BlockJacobian
    from skhypergrad.hypergrad._active_set import _DIRECT_MAX, _ActiveSet

    rng = np.random.default_rng(0)
    K, step = 5, 0.4
    assert m * K > _DIRECT_MAX >= m
    Z = rng.standard_normal((2 * m, m))
    G = Z.T @ Z / (2 * m)
    normals = rng.standard_normal((m, K))
    normals /= np.linalg.norm(normals, axis=1)[:, None]
    along, across = np.ones(m), rng.uniform(0.2, 0.9, m)  # block soft-thresholding
    along[-1] = across[-1] = 1.0  # an unpenalized row (the intercept)
    jac = BlockJacobian((m + 4) * K, np.arange(2, 2 + m), normals, along, across)
    formed = []

    def dense(idx):
        formed.append(idx.shape[0])
        return np.kron(G, np.eye(K))

    active = _ActiveSet(None, jac, step=step, hessian_subset=dense,
                        hessian_factor=lambda idx: G.copy())
    b = rng.standard_normal(m * K)
    u, residual, singular = active.solve_direct(b)
    M = step * np.kron(G, np.eye(K)) + jac.dense_inverse() - np.eye(m * K)
    np.testing.assert_allclose(u, np.linalg.solve(M, b), rtol=1e-10, atol=1e-12)
    assert not singular and residual < 1e-13 and formed == []
    # A_0 singular (a zero row of G where the row is unpenalized): the dense solve
    G0 = G.copy()
    G0[-1] = G0[:, -1] = 0.0
    small = BlockJacobian(13 * K, np.arange(2, 12), normals[-10:], along[-10:], across[-10:])
    G0 = G0[-10:, -10:]
    active = _ActiveSet(None, small, step=step,
                        hessian_subset=lambda idx: np.kron(G0, np.eye(K)),
                        hessian_factor=lambda idx: G0.copy())
    assert active.solve_kronecker(b[:10 * K]) is None
    u, residual, singular = active.solve_direct(b[:10 * K])
    assert singular and np.isfinite(residual)


def test_singular_adjoint_system_without_solution_gives_least_squares_not_overflow():
    """Every training residual beyond Huber's threshold: the datafit is linear, its
    Hessian 0, and nothing fixes the unpenalized intercept, so the adjoint system is
    singular and the held-out gradient's intercept entry is outside its range. AID-CG
    returns the least-squares adjoint (the coefficients' derivative ``-w / l2`` of a
    linear datafit, the intercept held), warns with its residual, and runs no CG (which
    diverged to overflow on it)."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    from skhypergrad import AIDConjugateGradient, CoordinateDescent
    from skhypergrad.fixed_point import ProxGradMap
    from skhypergrad.huber import Huber
    from skhypergrad.penalties import L2

    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3))
    y = X @ np.array([1.0, -2.0, 0.5])
    X_val = rng.standard_normal((20, 3))
    y_val = X_val @ np.array([1.0, -2.0, 0.5])
    pgmap = ProxGradMap(Huber(1.35, 1e-6, tune_epsilon=False), L2(), X, y, fit_intercept=True)
    lam = np.array([10.0])
    # coordinate descent stops inside the flat interval of the intercept (Newton's method,
    # newton="auto", at its end: a residual on the threshold, a nonsingular system)
    w = CoordinateDescent(tol=1e-12, newton=False).solve(pgmap, lam, np.zeros(4)).w
    r = y - X @ w[:3] - w[3]
    assert np.all(np.abs(r) > 1.35e-6)  # every residual an outlier: H = 0

    def outer_grad(w):  # the held-out mean squared error in (coef, intercept)
        e = X_val @ w[:3] + w[3] - y_val
        return 2.0 * np.append(X_val.T @ e, e.sum()) / 20

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = AIDConjugateGradient().hypergradient(pgmap, lam, w, outer_grad)
    assert not [c for c in caught if issubclass(c.category, RuntimeWarning)]
    assert [c for c in caught if issubclass(c.category, ConvergenceWarning)]
    assert 0.0 < res.residual < 1.0
    # d coef / d log l2 = -coef (a linear datafit), the intercept held
    np.testing.assert_allclose(res.grad, [-outer_grad(w)[:3] @ w[:3] / lam[0]], rtol=1e-8)


def test_aid_cg_never_writes_into_the_callers_outer_gradient():
    """AID-CG on the support of a sparse problem reuses the array ``outer_grad`` returns
    only when it says it is new (an OuterGradient declaring ``returns_new_array``); a
    caller's kept array is left as it was, and the hypergradient is the same either way."""
    import scipy.sparse as sp

    from skhypergrad.hypergrad._protocols import OuterGradient

    from skhypergrad import AIDConjugateGradient, CoordinateDescent
    from skhypergrad.datafits import Quadratic
    from skhypergrad.fixed_point import ProxGradMap
    from skhypergrad.penalties import ElasticNetPenalty

    rng = np.random.default_rng(0)
    X = sp.random(80, 60, density=0.2, format="csc", random_state=0)
    y = X @ np.where(np.arange(60) < 5, 1.0, 0.0) + 0.01 * rng.standard_normal(80)
    pgmap = ProxGradMap(Quadratic(), ElasticNetPenalty(), X, y, fit_intercept=True)
    lam = np.array([0.02, 0.005])
    w = CoordinateDescent(tol=1e-12).solve(pgmap, lam).w
    assert 0 < np.count_nonzero(w[:60]) < 30  # the support path is taken
    kept = rng.standard_normal(w.shape[0])
    before = kept.copy()
    res = AIDConjugateGradient(tol=1e-12).hypergradient(pgmap, lam, w, lambda _: kept)
    np.testing.assert_array_equal(kept, before)

    class Fresh(OuterGradient):
        returns_new_array = True

        def __call__(self, _):
            return kept.copy()

    again = AIDConjugateGradient(tol=1e-12).hypergradient(pgmap, lam, w, Fresh())
    np.testing.assert_allclose(again.grad, res.grad, rtol=1e-12)
    np.testing.assert_allclose(again.state, res.state, rtol=1e-12)


@pytest.mark.parametrize("fit_intercept", [False, True])
@pytest.mark.parametrize("storage", ["dense", "csc"])
def test_aid_cg_reads_the_heldout_gradient_on_the_active_set(fit_intercept, storage,
                                                             monkeypatch):
    """With the library's held-out loss, AID-CG reads grad C on the active set only (no
    whole gradient computed) and returns the adjoint as the entries where it differs from
    grad C: the hypergradient and the dense adjoint of a caller's plain function, a state
    that warm-starts AID-FP and AID-CG alike."""
    from skhypergrad._outer_loss import _HeldOutGradient, _heldout_loss
    from skhypergrad.models import InnerModel
    from skhypergrad.solvers import CoordinateDescent

    X, y = make_regression_data(120, 400, seed=3)
    X_tr, X_val = as_storage(X[:80], storage), X[80:]
    model = InnerModel(penalty="elasticnet", fit_intercept=fit_intercept).bind(y)
    outer = _heldout_loss(model, "auto", X_val, y[80:])
    pgmap = model.make_map(X_tr, y[:80])
    pgmap.lipschitz  # every engine on the step 1 / L: the adjoints then agree
    lam = np.array([0.4, 0.05])
    w = CoordinateDescent(tol=1e-13).solve(pgmap, lam).w
    assert 0 < 4 * np.count_nonzero(w) < w.shape[0]
    plain = AIDConjugateGradient(tol=1e-13).hypergradient(pgmap, lam, w,
                                                          lambda w_: outer.grad(w_))
    whole = []
    grad = _HeldOutGradient.__call__
    monkeypatch.setattr(_HeldOutGradient, "__call__",
                        lambda self, w_: whole.append(1) or grad(self, w_))
    lazy = AIDConjugateGradient(tol=1e-13).hypergradient(pgmap, lam, w, outer.grad)
    assert whole == []
    np.testing.assert_allclose(lazy.grad, plain.grad, rtol=1e-11)
    v = np.asarray(lazy.state)
    np.testing.assert_allclose(v, plain.state, rtol=1e-11, atol=1e-15)
    assert len(whole) == 1  # np.asarray computed it once
    # the lazy state warm-starts as the dense one does (AID-FP: 50 iterations of a
    # slow contraction, n < p here)
    for engine in (AIDFixedPoint(max_iter=50), AIDConjugateGradient(direct=False)):
        from_lazy = engine.hypergradient(pgmap, lam, w, outer.grad, state=lazy.state)
        from_dense = engine.hypergradient(pgmap, lam, w, lambda w_: outer.grad(w_),
                                          state=plain.state)
        np.testing.assert_allclose(from_lazy.grad, from_dense.grad, rtol=1e-10)
        assert from_lazy.n_iter == from_dense.n_iter
    # conjugate gradients started at the adjoint: at most a step
    warm = AIDConjugateGradient(direct=False, tol=1e-10).hypergradient(
        pgmap, lam, w, outer.grad, state=lazy.state)
    assert warm.n_iter <= 1
    np.testing.assert_allclose(warm.grad, plain.grad, rtol=1e-9)
