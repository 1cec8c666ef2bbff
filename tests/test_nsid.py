"""NSID engine (skhypergrad.hypergrad.nsid).

Protects: the O(1/K) mean squared error (log-log slope) and unbiasedness of NSID with
its default steps; the bias of the SID baseline that does not vanish when the solution
has coordinates near the kink; the robust default steps (bounded by the minibatch
Jacobian noise) against the former eta_0 = 1 schedule on heavy rows with batch 1;
identical results for every n_jobs; the step_schedule / step names.
"""

from functools import lru_cache

import numpy as np
import pytest

from skhypergrad import ElasticNetPenalty, ProxGradMap, Quadratic
from skhypergrad.hypergrad import NSID, contraction_factor
from skhypergrad.hypergrad.nsid import jacobian_noise

from _data import make_regression_data
from test_engines import Problem, stochastic_problem


def _draws(prob, seeds, **params):
    params.setdefault("contraction", prob.q)
    return np.array([NSID(random_state=s, **params).hypergradient(
        prob.pgmap, prob.lam, prob.w, prob.grad_C).grad for s in seeds])


def _mse(draws, exact):
    return float(np.mean(np.sum((draws - exact) ** 2, axis=1)))


def test_mse_slope_and_mean_within_standard_error():
    """Default (robust) decreasing steps, batch 4: MSE over 16 seeds at K = 2^6 .. 2^12
    has a log-log slope in [-1.3, -0.7]; at K = 2^12 the mean of the draws is within 4
    standard errors of the exact hypergradient."""
    prob = stochastic_problem()
    ks = 2 ** np.arange(6, 13, 2)
    runs = [_draws(prob, range(16), n_samples=int(k), batch_size=4) for k in ks]
    mse = [_mse(d, prob.exact) for d in runs]
    slope, _ = np.polyfit(np.log(ks), np.log(mse), 1)
    assert -1.3 <= slope <= -0.7, (slope, mse)
    last = runs[-1]
    se = last.std(axis=0, ddof=1) / np.sqrt(len(last))
    assert np.all(np.abs(last.mean(axis=0) - prob.exact) <= 4 * se)


def test_sid_bias_does_not_vanish_near_the_kink():
    """The solution has coordinates whose z is within ~0.016 of the threshold: SID's prox
    mask at a noisy point (batch 4) is wrong with a probability that does not shrink.
    From K = 2^8 to 2^12 NSID's MSE drops over 5x, SID's by less than 2x, and at 2^12
    SID's is over 10 times NSID's."""
    prob = stochastic_problem()
    margin = np.abs(np.abs(prob.pgmap.forward_step(prob.w)[:5])
                    - prob.pgmap.step * prob.lam[0])
    assert margin.min() < 0.02
    nsid = [_mse(_draws(prob, range(16), n_samples=k, batch_size=4), prob.exact)
            for k in (256, 4096)]
    sid_runs = [_draws(prob, range(16), n_samples=k, batch_size=4, biased=True)
                for k in (256, 4096)]
    sid = [_mse(d, prob.exact) for d in sid_runs]
    assert nsid[1] < nsid[0] / 5
    assert sid[1] > sid[0] / 2
    assert sid[1] > 10 * nsid[1]


@lru_cache(maxsize=None)
def heavy_rows_problem():
    """n = 100, p = 10, three rows scaled by 8: a minibatch of one row has a Jacobian
    product of norm far above one."""
    X, y = make_regression_data(100, 10, seed=5)
    X[:3] *= 8.0
    X_val, y_val = make_regression_data(50, 10, seed=6)
    pgmap = ProxGradMap(Quadratic(), ElasticNetPenalty(), X, y, fit_intercept=True)
    prob = Problem(pgmap, [0.05, 0.05], X_val, y_val)
    prob.exact = prob.dense_adjoint()[1]
    prob.q = contraction_factor(pgmap, prob.lam, prob.w)
    return prob


def test_default_steps_do_not_blow_up_with_noisy_jacobians():
    """batch_size=1 on heavy rows: the former default eta_k = beta / (beta + k),
    beta = 2 / (1 - q^2) (eta_0 = 1) gives errors of several times the hypergradient at
    K = 256; the default (eta_0 = eta_max < 1) stays within it."""
    prob = heavy_rows_problem()
    sigma2 = jacobian_noise(prob.pgmap, 1)
    assert sigma2 > 10 * (1 - prob.q)
    eta = NSID(n_samples=3, batch_size=1, contraction=prob.q).step_sizes(
        prob.pgmap, prob.lam, prob.w)
    eta_max = (1 - prob.q) / ((1 - prob.q) ** 2 + sigma2)
    assert eta[0] == pytest.approx(eta_max)
    scale = 2 / (1 - prob.q ** 2)
    norm = np.linalg.norm(prob.exact)
    old = _draws(prob, range(10), n_samples=256, batch_size=1, beta=scale, gamma=scale)
    new = _draws(prob, range(10), n_samples=256, batch_size=1)
    assert np.sqrt(_mse(old, prob.exact)) > 3 * norm
    assert np.sqrt(_mse(new, prob.exact)) < norm
    assert np.all(np.isfinite(new))


def test_n_jobs_gives_identical_results():
    """J = 2001 estimates of batch 20 (four chunks of 10,000 rows) averaged serially or
    by two threads: bitwise equal; an int seed repeats."""
    prob = stochastic_problem()
    kw = dict(n_samples=2000, batch_size=20, random_state=3, contraction=prob.q)
    one = NSID(n_jobs=1, **kw).hypergradient(prob.pgmap, prob.lam, prob.w, prob.grad_C)
    two = NSID(n_jobs=2, **kw).hypergradient(prob.pgmap, prob.lam, prob.w, prob.grad_C)
    default = NSID(**kw).hypergradient(prob.pgmap, prob.lam, prob.w, prob.grad_C)
    np.testing.assert_array_equal(one.grad, two.grad)
    np.testing.assert_array_equal(one.grad, default.grad)


def test_a_random_state_instance_gives_the_same_folds_on_every_backend():
    """CrossVal's folds drawing from one shared RandomState instance (NSID's, minibatch
    SAGA's): threads consumed it in an order that changed from run to run. The folds now
    get integer seeds drawn from it once, in the calling thread: serial and threaded
    evaluations agree, and an int seed is kept as it is."""
    import joblib
    from sklearn.linear_model import ElasticNet

    from skhypergrad import CrossVal, StochasticProxGradient, hypergradient

    rng = np.random.RandomState(0)
    X = rng.randn(200, 20)
    y = X[:, 0] - X[:, 1] + 0.5 * rng.randn(200)

    def grad(backend):
        engine = NSID(random_state=np.random.RandomState(7), tol=0.2)
        solver = StochasticProxGradient(random_state=np.random.RandomState(8), tol=1e-6)
        with joblib.parallel_config(backend=backend, n_jobs=2):
            return hypergradient(ElasticNet(alpha=0.01, l1_ratio=0.5), X, y,
                                 criterion=CrossVal(cv=4, n_jobs=2), method=engine,
                                 solver=solver)[1]

    serial = grad("sequential")
    for _ in range(3):
        np.testing.assert_allclose(grad("threading"), serial, rtol=1e-12, atol=0)
    engines = NSID(random_state=np.random.RandomState(7)).spawn(4)
    seeds = [e.random_state for e in engines]
    assert all(isinstance(s, int) for s in seeds) and len(set(seeds)) == 4
    assert all(e is not engines[0] for e in engines[1:])
    same = NSID(random_state=3)
    assert same.spawn(2) == [same, same]
    assert [type(s.random_state) for s in StochasticProxGradient(
        random_state=np.random.RandomState(1)).spawn(2)] == [int, int]


def test_a_search_on_a_pipeline_with_a_random_state_instance_is_the_same_threaded():
    """HyperGradSearchCV's prepared folds (a pipeline) draw from NSID's RandomState
    instance as CrossVal's do: the threaded search repeats the serial one."""
    import joblib
    from sklearn.linear_model import ElasticNet
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from skhypergrad import HyperGradSearchCV

    rng = np.random.RandomState(0)
    X = rng.randn(120, 8)
    y = X[:, 0] - X[:, 1] + 0.5 * rng.randn(120)

    def results(backend):
        search = HyperGradSearchCV(
            make_pipeline(StandardScaler(), ElasticNet()), cv=3, max_iter=3, n_jobs=2,
            hypergradient=NSID(random_state=np.random.RandomState(3), tol=0.2),
            random_state=0)
        with joblib.parallel_config(backend=backend, n_jobs=2):
            search.fit(X, y)
        return np.asarray(search.cv_results_["mean_test_score"])

    serial, threaded = results("sequential"), results("threading")
    assert serial.shape == threaded.shape
    np.testing.assert_allclose(threaded, serial, rtol=1e-12, atol=0)


def test_step_schedule_names():
    prob = stochastic_problem()
    args = (prob.pgmap, prob.lam, prob.w)
    a = NSID(n_samples=4, step_schedule="constant", contraction=prob.q).step_sizes(*args)
    b = NSID(n_samples=4, step="constant", contraction=prob.q).step_sizes(*args)
    np.testing.assert_array_equal(a, b)
    assert np.all(a == a[0]) and 0 < a[0] <= (1 - prob.q ** 2) / 2
    d = NSID(n_samples=4, contraction=prob.q).step_sizes(*args)
    assert d[0] <= 1.0 and np.all(np.diff(d) < 0)
    with pytest.raises(ValueError, match="step_schedule"):
        NSID(step_schedule="adaptive").hypergradient(*args[:2], prob.w, prob.grad_C)
