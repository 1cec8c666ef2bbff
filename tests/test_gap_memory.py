"""Memory-lean duality gap and penalty weights (issue 7, item 4).

Protects: the one-output duality gap computed in one numba pass equals the
NumPy formula (with every temporary) on dense and sparse ``X``, for the
least-squares and logistic datafits, every penalty (a tiny, zero and large L2
weight; unpenalized features of a weighted Lasso), with and without intercept
and with a precomputed ``X^T theta``; the multinomial gap is untouched. Uniform
L1 weights are a read-only zero-stride view (no ``p``-sized array), and
coordinate descent keeps one ``p``-sized array of curvatures per dense design
(not also the column norms) and none for a sparse one (the bounds of the
features it needs, the same numbers), with solutions identical to full L1 weights.
"""

import numpy as np
import pytest

from skhypergrad._kernels import prox_enet
from skhypergrad.datafits import Logistic, Multinomial, Quadratic
from skhypergrad.fixed_point import ProxGradMap
from skhypergrad.penalties import L1, ElasticNetPenalty, WeightedL1
from skhypergrad.solvers import CoordinateDescent, duality_gap
from skhypergrad.solvers._gap import _duality_gap_outputs
from skhypergrad.solvers._cd_kernels import prox_scores, support_and_candidates
from skhypergrad.solvers._cd_design import _PREPARED, _bounds
from skhypergrad.solvers._cd_problem import _Problem
from skhypergrad.solvers._working_set import TopScores, working_set

from _data import (make_classification_data, make_regression_data,
                   make_wide_sparse_data, traced_peak)


def _reference_gap(pgmap, w, lam):
    """The duality gap of :mod:`skhypergrad.solvers._gap` written with NumPy arrays."""
    design, datafit, penalty, y = pgmap.design, pgmap.datafit, pgmap.penalty, pgmap.y
    l1, l2 = penalty.weights(lam, design.n_features)
    l1 = np.array(l1, dtype=np.float64)  # a full array, as before
    z = design.matvec(w)
    theta = -datafit.raw_grad(y, z)
    coef = design.coef(w)
    l2 = np.array(l2, dtype=np.float64)
    primal = datafit.loss(y, z) + float(l1 @ np.abs(coef) + 0.5 * l2 @ (coef * coef))
    u = np.asarray(design.X.T @ theta).ravel()
    grad_b = float(abs(theta.sum())) if design.fit_intercept else 0.0
    au = np.abs(u)
    free = np.zeros(u.shape[0], dtype=bool)
    scale, g_star = 1.0, 0.0
    if np.all(l2 > 0):
        g_star = float(np.maximum(au - l1, 0.0) ** 2 @ (0.5 / l2))
    else:
        free = l1 <= 0
        grad_b = max(grad_b, float(au[free].max(initial=0.0)))
        with np.errstate(divide="ignore", invalid="ignore"):
            ratios = np.where((au > l1) & ~free, l1 / au, 1.0)
        scale = float(min(1.0, ratios.min(initial=1.0)))
        theta = scale * theta
    offset = float(np.sum(design.intercept(w) * theta.sum()))
    if free.any():
        offset += scale * float(np.sum(coef[free] * u[free]))
    dual = datafit.dual_term(y, theta) - offset - g_star
    if np.all(l2 > 0) and g_star > 0 and np.all(l1 > 0):
        s = float(np.min(l1 / np.maximum(au, l1)))
        dual = max(dual, datafit.dual_term(y, s * theta) - s * offset)
    return primal, dual, primal - dual, grad_b


def _weighted_lam(p, rng):
    lam = rng.uniform(0.01, 0.05, size=p)
    lam[::7] = 0.0  # unpenalized features, held fixed in the dual
    return lam


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("datafit", ["quadratic", "logistic"])
@pytest.mark.parametrize("case", ["l1", "enet", "enet_tiny_l2", "enet_large_l2", "weighted"])
@pytest.mark.parametrize("fit_intercept", [False, True])
def test_one_pass_gap_equals_numpy_formula(sparse, datafit, case, fit_intercept):
    rng = np.random.default_rng(0)
    make = make_classification_data if datafit == "logistic" else make_regression_data
    X, y = make(n=50, p=80, seed=1, density=0.3 if sparse else None)
    fit = Logistic() if datafit == "logistic" else Quadratic()
    penalty, lam = {
        "l1": (L1(), np.array([0.02])),
        "enet": (ElasticNetPenalty(), np.array([0.02, 0.01])),
        "enet_tiny_l2": (ElasticNetPenalty(), np.array([0.02, 1e-12])),
        "enet_large_l2": (ElasticNetPenalty(), np.array([0.02, 10.0])),
        "weighted": (WeightedL1(), _weighted_lam(X.shape[1], rng)),
    }[case]
    pgmap = ProxGradMap(fit, penalty, X, y, fit_intercept=fit_intercept)
    # a point away from the solution (a nonzero gap) and the solution (a tiny one)
    points = [0.1 * rng.standard_normal(pgmap.n_params),
              CoordinateDescent(tol=1e-10).solve(pgmap, lam).w]
    for w in points:
        expected = _reference_gap(pgmap, w, lam)
        # the gap is a difference: equal up to rounding of the primal (summation order)
        atol = 1e-13 * abs(expected[0])
        np.testing.assert_allclose(duality_gap(pgmap, w, lam), expected, rtol=1e-12,
                                   atol=atol)
        # with X^T theta given (as coordinate descent does)
        theta = -fit.raw_grad(y, pgmap.design.matvec(w))
        xt_theta = np.asarray(pgmap.design.X.T @ theta).ravel()
        np.testing.assert_allclose(duality_gap(pgmap, w, lam, xt_theta=xt_theta), expected,
                                   rtol=1e-12, atol=atol)


def test_multinomial_gap_unchanged():
    X, y = make_classification_data(n=60, p=30, seed=2, n_classes=3)
    pgmap = ProxGradMap(Multinomial(3), ElasticNetPenalty(), X, y, fit_intercept=True)
    lam = np.array([0.01, 0.001])
    w = 0.05 * np.random.default_rng(0).standard_normal(pgmap.n_params)
    assert duality_gap(pgmap, w, lam) == _duality_gap_outputs(pgmap, w, lam, None, None)


@pytest.mark.parametrize("penalty, lam", [(L1(), [0.3]), (ElasticNetPenalty(), [0.3, 0.1])])
def test_uniform_weights_are_a_zero_stride_view(penalty, lam):
    l1, _ = penalty.weights(np.array(lam), 1_000_000)
    assert l1.shape == (1_000_000,) and l1.strides == (0,)
    assert not l1.flags.writeable
    assert l1.base is not None and np.asarray(l1.base).nbytes == 8
    assert np.all(l1 == 0.3)
    # the prox kernel reads it exactly as a full array
    z = np.random.default_rng(0).standard_normal(1_000_000)
    l2 = lam[1] if len(lam) > 1 else 0.0
    np.testing.assert_array_equal(penalty.prox(z, 0.5, np.array(lam), 1_000_000),
                                  prox_enet(z, np.full(1_000_000, 0.3), np.full(1_000_000, l2),
                                            0.5, 1, -np.inf))


@pytest.mark.parametrize("sparse", [False, True])
def test_cd_with_uniform_view_matches_full_weights(sparse):
    # L1 (a broadcast view) and WeightedL1 with equal weights (a full array): same iterates
    X, y = make_regression_data(n=60, p=200, seed=4, density=0.2 if sparse else None)
    lam1 = 0.02
    solver = CoordinateDescent(tol=1e-10, precompute=False)
    w_view = solver.solve(ProxGradMap(Quadratic(), L1(), X, y, fit_intercept=True),
                          [lam1]).w
    w_full = solver.solve(ProxGradMap(Quadratic(), WeightedL1(), X, y, fit_intercept=True),
                          np.full(200, lam1)).w
    np.testing.assert_allclose(w_view, w_full, rtol=1e-12, atol=1e-14)


def test_curvatures_cached_without_column_norms():
    X, y = make_regression_data(n=40, p=500, seed=5)
    pgmap = ProxGradMap(Quadratic(), L1(), X, y, fit_intercept=True)
    CoordinateDescent(tol=1e-8, precompute=False).solve(pgmap, [0.01])
    Xc, _, bounds = _PREPARED[pgmap.design][1]
    (lc, col_norm, feature_norm), = bounds.values()  # one p-sized array: lc, not ||X_j||^2
    sq = np.einsum("ij,ij->j", Xc, Xc)
    np.testing.assert_array_equal(lc[:-1], sq * 1.0 / 40)
    assert lc[-1] == 1.0 and col_norm == np.sqrt(max(sq.max(), 40))
    assert feature_norm == np.sqrt(sq.max())
    assert _bounds(pgmap.design, 1.0)[2] is lc  # reused by the next solve


def test_sparse_curvatures_never_p_sized():
    # sparse X: no p-sized lc, neither kept nor per solve; the bounds of a working set
    # and the scores (a block of features at a time) are those of the whole lc, bit for bit
    X, y = make_regression_data(n=40, p=500, seed=5, density=0.05)
    pgmap = ProxGradMap(Quadratic(), L1(), X, y, fit_intercept=True)
    lam = np.array([0.01])
    w = CoordinateDescent(tol=1e-8).solve(pgmap, lam).w
    Xc, _, bounds = _PREPARED[pgmap.design][1]
    assert not bounds and _bounds(pgmap.design, 0.25)[2] is None
    sq = np.asarray(Xc.multiply(Xc).sum(axis=0)).ravel()
    lc = np.append(sq * 1.0 / 40, 1.0)
    prob = _Problem.build(pgmap, lam)
    assert prob.lc is None
    ws = np.array([0, 3, 17, 250, 499])
    np.testing.assert_array_equal(prob.moving_bounds(ws), lc[np.append(ws, 500)])
    a = prob.derivative(pgmap.design.matvec(w + 0.01))
    grad = prob.gradient(w, a)
    expected = prox_scores(w[:500], grad, prob.l1_entries, prob.l2_entries, prob.lower, lc[:500],
                           np.empty(500))
    for chunk in (7, 64, 500, 4096):
        scores = grad.copy()
        decrease = prob._scores_in_place(w, scores, chunk)
        np.testing.assert_array_equal(scores, expected[0])
        assert decrease == expected[1]


def test_sparse_solve_peak_is_one_p_vector():
    # p >> nnz: a warm-started solve holds its iterate w and nothing else p-sized: the
    # gradient, scores and curvature bounds a block of features at a time, the working
    # set ranked as they come (3 p-vectors, then 2, before)
    X, y = make_wide_sparse_data()
    pgmap = ProxGradMap(Quadratic(), ElasticNetPenalty(), X[:300].tocsc(), y[:300],
                        fit_intercept=True)
    solver, lam = CoordinateDescent(tol=1e-8), np.array([0.01, 0.001])
    w = solver.solve(pgmap, lam).w
    res, peak = traced_peak(solver.solve, pgmap, 1.1 * lam, w)
    assert np.count_nonzero(res.w[:-1]) > 0
    assert peak < 1.3 * w.nbytes


@pytest.mark.parametrize("n_outputs", [1, 3])
def test_support_and_candidates_equal_the_masks(n_outputs):
    # the working set's candidates without p-sized masks: the same as NumPy's
    rng = np.random.default_rng(0)
    p = 1_000
    scores = np.where(rng.random(p) < 0.3, rng.random(p), 0.0)
    scores[::97] = np.nan
    coef = np.where(rng.random(p * n_outputs) < 0.05, rng.standard_normal(p * n_outputs), 0.0)
    coef[5] = np.nan
    support = np.any(coef.reshape(p, n_outputs) != 0.0, axis=1)
    expected = scores.copy()
    expected[support] = np.inf
    got = scores.copy()
    candidates, n_support = support_and_candidates(got, coef, n_outputs)
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(candidates, np.flatnonzero(expected > 0.0))
    assert n_support == np.count_nonzero(support)


@pytest.mark.parametrize("size", [1, 30, 120, 5_000])
@pytest.mark.parametrize("chunk", [1, 37, 1_000])
def test_top_scores_by_blocks_equal_the_working_set(size, chunk):
    # the working set ranked a block of features at a time (memory in the set's size)
    # is the one ranked on all p scores (distinct scores: the top ones are unique)
    rng = np.random.default_rng(size + chunk)
    p = 1_000
    scores = np.where(rng.random(p) < 0.4, rng.random(p), 0.0)
    scores[::89] = np.nan  # never a candidate
    coef = np.where(rng.random(p) < 0.03, rng.standard_normal(p), 0.0)
    expected, expected_size = working_set(scores.copy(), coef, 1, size)
    top = TopScores(coef, size)
    for j0 in range(0, p, chunk):
        top.add(j0, scores[j0:j0 + chunk].copy())
    ws, got_size = top.result()
    assert got_size == expected_size == min(p, max(size, 2 * np.count_nonzero(coef)))
    np.testing.assert_array_equal(ws, expected)
    assert ws.dtype.kind == "i" and np.all(np.diff(ws) > 0)


def test_sparse_solve_by_blocks_equals_the_p_sized_ranking(monkeypatch):
    # one output, sparse X: the solve ranking the scores by blocks takes the working
    # sets of the ranking of one p-sized array of scores (as before): same iterates
    from skhypergrad.solvers import _cd_problem

    class PSizedRanking:
        """The scores gathered in one p-sized array, then :func:`working_set`."""

        def __init__(self, coef, size):
            self.coef, self.size, self.scores = coef, size, np.zeros(coef.shape[0])

        def add(self, j0, scores):
            self.scores[j0:j0 + scores.shape[0]] = scores

        def result(self):
            return working_set(self.scores, self.coef, 1, self.size)

    X, y = make_regression_data(n=60, p=3_000, seed=4, density=0.02)
    pgmap = ProxGradMap(Quadratic(), ElasticNetPenalty(), X.tocsc(), y, fit_intercept=True)
    solver = CoordinateDescent(tol=1e-10, ws_start_size=5)
    for lam in ([0.02, 0.001], [0.002, 0.0]):
        by_blocks = solver.solve(pgmap, lam)
        with monkeypatch.context() as m:
            m.setattr(_cd_problem, "TopScores", PSizedRanking)
            reference = solver.solve(pgmap, lam)
        assert by_blocks.converged and by_blocks.n_iter == reference.n_iter > 0
        np.testing.assert_array_equal(by_blocks.w, reference.w)
        assert np.count_nonzero(by_blocks.w[:-1]) > 10


@pytest.mark.parametrize("datafit", ["quadratic", "logistic"])
@pytest.mark.parametrize("case", ["l1", "enet", "enet_tiny_l2", "weighted"])
@pytest.mark.parametrize("chunk", [7, 64, 4096])
def test_gap_read_by_blocks_equals_one_pass(datafit, case, chunk):
    # sparse X: the duality gap reading X^T theta a block of features at a time (no
    # p-sized array) equals the one-pass gap on the whole vector, bit for bit
    rng = np.random.default_rng(3)
    make = make_classification_data if datafit == "logistic" else make_regression_data
    X, y = make(n=50, p=300, seed=2, density=0.05)
    fit = Logistic() if datafit == "logistic" else Quadratic()
    penalty, lam = {
        "l1": (L1(), np.array([0.02])),
        "enet": (ElasticNetPenalty(), np.array([0.02, 0.01])),
        "enet_tiny_l2": (ElasticNetPenalty(), np.array([0.02, 1e-12])),
        "weighted": (WeightedL1(), _weighted_lam(X.shape[1], rng)),
    }[case]
    pgmap = ProxGradMap(fit, penalty, X, y, fit_intercept=True)
    w = CoordinateDescent(tol=1e-6).solve(pgmap, lam).w
    prob = _Problem.build(pgmap, lam)
    for point in (w, w + 0.01 * rng.standard_normal(w.shape[0])):
        z = pgmap.design.matvec(point)
        a = prob.derivative(z)
        whole = -prob.gradient(point, a)
        blocks = prob.xt_theta_blocks(a, chunk)
        np.testing.assert_array_equal(np.concatenate([u for _, u in blocks()]), whole)
        assert duality_gap(pgmap, point, lam, z, blocks) == \
            duality_gap(pgmap, point, lam, z, whole)
