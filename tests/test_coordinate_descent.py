"""CoordinateDescent reaches scikit-learn's and ProxGradient's solutions.

Protects: the coordinate updates (least squares, logistic, elastic net,
weighted L1, intercept), both storages of ``X`` (dense, CSR, CSC, float32), the
working-set driver's stopping rule (warm start, non-convergence warning,
tolerances below rounding), its parameters, the multinomial model (against
scikit-learn's saga and FISTA) and the refusal of other datafits.
"""

import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import ElasticNet as SkElasticNet
from sklearn.linear_model import Lasso, LogisticRegression

from skhypergrad.datafits import Logistic, Multinomial, Quadratic, weighted
from skhypergrad.fixed_point import ProxGradMap
from skhypergrad.penalties import (L1, L2, ElasticNetPenalty, WeightedL1, enet_lam_from_sklearn,
                                   logistic_lam_from_sklearn)
from skhypergrad.solvers._cd_design import _prepare
from skhypergrad.solvers._cd_problem import _Problem, _anderson_weights
from skhypergrad.solvers.coordinate_descent import CoordinateDescent
from skhypergrad.solvers.prox_grad import ProxGradient
from skhypergrad.squared_hinge import SquaredHinge

from _data import as_storage


def _regression(n=80, p=50, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    X[rng.random((n, p)) < 0.3] = 0.0  # columns of different supports for the CSC kernel
    coef = np.zeros(p)
    coef[:8] = rng.standard_normal(8)
    y = X @ coef + 0.5 + 0.1 * rng.standard_normal(n)
    return X, y


def _classification(n=120, p=30, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    X[rng.random((n, p)) < 0.3] = 0.0
    logits = X[:, :5] @ rng.standard_normal(5) + 0.3
    y = np.where(rng.random(n) < 1.0 / (1.0 + np.exp(-logits)), 1.0, -1.0)
    return X, y


def _alpha_max(X, y, fit_intercept):
    yc = y - y.mean() if fit_intercept else y
    return np.max(np.abs(X.T @ yc)) / X.shape[0]


def _w(model, fit_intercept):
    coef = np.ravel(model.coef_)
    return np.append(coef, np.ravel(model.intercept_)[0]) if fit_intercept else coef


def _assert_same_objective(pgmap, w, w_ref, lam):
    """Objectives equal to 1e-6 relative, ours not worse than the reference beyond 1e-9."""
    ours, ref = pgmap.objective(w, lam), pgmap.objective(w_ref, lam)
    np.testing.assert_allclose(ours, ref, rtol=1e-6)
    assert ours <= ref * (1 + 1e-9)


@pytest.mark.parametrize("fit_intercept", [False, True])
@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
def test_matches_sklearn_enet(storage, fit_intercept, l1_ratio):
    X, y = _regression()
    alpha = _alpha_max(X, y, fit_intercept) / 10 / l1_ratio
    Xs = as_storage(X, storage)
    Sk = Lasso if l1_ratio == 1.0 else SkElasticNet
    kw = {} if l1_ratio == 1.0 else {"l1_ratio": l1_ratio}
    ref = Sk(alpha=alpha, fit_intercept=fit_intercept, tol=1e-12, max_iter=100_000,
             **kw).fit(Xs, y)
    penalty = L1() if l1_ratio == 1.0 else ElasticNetPenalty()
    lam = enet_lam_from_sklearn(alpha, l1_ratio)[: penalty.n_hyper(X.shape[1])]
    pgmap = ProxGradMap(Quadratic(), penalty, Xs, y, fit_intercept=fit_intercept)
    res = CoordinateDescent(tol=1e-10, ws_start_size=5).solve(pgmap, lam)  # growing sets
    assert res.converged and res.gap <= 1e-10
    assert 0 < np.count_nonzero(res.w[:X.shape[1]]) < X.shape[1]
    _assert_same_objective(pgmap, res.w, _w(ref, fit_intercept), lam)
    np.testing.assert_allclose(res.w, _w(ref, fit_intercept), atol=1e-5)


@pytest.mark.parametrize("fit_intercept", [False, True])
@pytest.mark.parametrize("l1_ratio", [1.0, 0.7])
def test_matches_sklearn_logistic(storage, fit_intercept, l1_ratio):
    X, y = _classification()
    C = 0.5
    Xs = as_storage(X, storage)
    ref = LogisticRegression(C=C, l1_ratio=l1_ratio, solver="saga", tol=1e-10,
                             max_iter=100_000, fit_intercept=fit_intercept).fit(Xs, y)
    penalty = L1() if l1_ratio == 1.0 else ElasticNetPenalty()
    lam = logistic_lam_from_sklearn(C, l1_ratio, X.shape[0])[: penalty.n_hyper(X.shape[1])]
    pgmap = ProxGradMap(Logistic(), penalty, Xs, y, fit_intercept=fit_intercept)
    res = CoordinateDescent(tol=1e-10, ws_start_size=5).solve(pgmap, lam)
    assert res.converged
    assert 0 < np.count_nonzero(res.w[:X.shape[1]]) < X.shape[1]
    _assert_same_objective(pgmap, res.w, _w(ref, fit_intercept), lam)
    np.testing.assert_allclose(res.w, _w(ref, fit_intercept), atol=1e-4)


@pytest.mark.parametrize("storage", ["dense", "csr"])
def test_float32_input(storage):
    X, y = _regression()
    X32 = as_storage(X.astype(np.float32), storage)
    X64 = as_storage(X.astype(np.float32).astype(np.float64), storage)
    lam = np.array([_alpha_max(X, y, True) / 10])
    w32 = CoordinateDescent(tol=1e-10).solve(
        ProxGradMap(Quadratic(), L1(), X32, y, fit_intercept=True), lam).w
    pgmap64 = ProxGradMap(Quadratic(), L1(), X64, y, fit_intercept=True)
    w64 = CoordinateDescent(tol=1e-10).solve(pgmap64, lam).w
    _assert_same_objective(pgmap64, w32, w64, lam)


@pytest.mark.parametrize("datafit", [Quadratic(), Logistic()])
@pytest.mark.parametrize("storage", ["dense", "csc"])
def test_weighted_l1_matches_prox_gradient(datafit, storage):
    X, y = _classification() if isinstance(datafit, Logistic) else _regression()
    p = X.shape[1]
    lam = np.random.default_rng(1).uniform(0.5, 2.0, p) * _alpha_max(X, y, True) / 8
    lam[:3] *= 1e-3  # nearly unpenalized features (the gap needs l1_j > 0)
    pgmap = ProxGradMap(datafit, WeightedL1(), as_storage(X, storage), y, fit_intercept=True)
    res = CoordinateDescent(tol=1e-12).solve(pgmap, lam)
    ref = ProxGradient(tol=1e-12, max_iter=100_000).solve(pgmap, lam)
    assert res.converged and ref.converged
    assert np.all(res.w[:3] != 0.0) and np.count_nonzero(res.w[:p]) < p
    _assert_same_objective(pgmap, res.w, ref.w, lam)
    np.testing.assert_allclose(res.w, ref.w, atol=1e-5)


@pytest.mark.parametrize("datafit", [Quadratic(), Logistic()])
@pytest.mark.parametrize("params", [{}, dict(anderson=0, ws_start_size=1)])
def test_same_solution_as_prox_gradient_enet(datafit, params):
    X, y = _classification() if isinstance(datafit, Logistic) else _regression()
    lam = np.array([_alpha_max(X, y, False) / 5, 0.05])
    pgmap = ProxGradMap(datafit, ElasticNetPenalty(), X, y)
    res = CoordinateDescent(tol=1e-12, **params).solve(pgmap, lam)
    ref = ProxGradient(tol=1e-12, max_iter=100_000).solve(pgmap, lam)
    np.testing.assert_allclose(res.w, ref.w, atol=1e-6)
    np.testing.assert_array_equal(res.w != 0, ref.w != 0)


@pytest.mark.parametrize("datafit", [Quadratic(), Logistic()])
def test_warm_start_from_solution_returns_at_once(datafit):
    X, y = _classification() if isinstance(datafit, Logistic) else _regression()
    lam = np.array([_alpha_max(X, y, True) / 10])
    pgmap = ProxGradMap(datafit, L1(), sp.csc_matrix(X), y, fit_intercept=True)
    solver = CoordinateDescent(tol=1e-9)
    res = solver.solve(pgmap, lam)
    assert res.converged and res.n_iter > 0
    again = solver.solve(pgmap, lam, w0=res.w)
    assert again.n_iter == 0 and again.converged
    np.testing.assert_array_equal(again.w, res.w)


def test_lambda_above_alpha_max_gives_zero_coef():
    X, y = _regression()
    lam = np.array([1.01 * _alpha_max(X, y, True)])
    pgmap = ProxGradMap(Quadratic(), L1(), X, y, fit_intercept=True)
    res = CoordinateDescent().solve(pgmap, lam)
    np.testing.assert_array_equal(res.w[:-1], 0.0)
    np.testing.assert_allclose(res.w[-1], y.mean(), rtol=1e-12)


def test_zero_column_stays_zero():
    X, y = _regression()
    X[:, 4] = 0.0
    lam = np.array([_alpha_max(X, y, False) / 20, 0.01])
    pgmap = ProxGradMap(Quadratic(), ElasticNetPenalty(), X, y)
    w0 = np.zeros(X.shape[1])
    w0[4] = 3.0
    res = CoordinateDescent(tol=1e-10).solve(pgmap, lam, w0=w0)
    assert res.converged and res.w[4] == 0.0


def test_non_convergence_warns():
    X, y = _regression()
    pgmap = ProxGradMap(Quadratic(), L1(), X, y)
    lam = np.array([_alpha_max(X, y, False) / 50])
    with pytest.warns(ConvergenceWarning, match="CoordinateDescent did not converge"):
        res = CoordinateDescent(tol=1e-12, max_iter=1).solve(pgmap, lam)
    assert not res.converged and res.gap > 1e-12


def _multiclass(n=90, p=12, K=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    X[rng.random((n, p)) < 0.3] = 0.0
    logits = X[:, :4] @ rng.standard_normal((4, K)) + rng.standard_normal(K)
    P = np.exp(logits - logits.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    y = np.array([rng.choice(K, p=row) for row in P])
    return X, y


def _w_multinomial(model, fit_intercept):
    coef = model.coef_.T.ravel()  # sklearn's (K, p) -> our (p, K) C-order
    return np.append(coef, model.intercept_) if fit_intercept else coef


@pytest.mark.parametrize("fit_intercept", [False, True])
@pytest.mark.parametrize("l1_ratio", [1.0, 0.6])
def test_multinomial_matches_sklearn(storage, fit_intercept, l1_ratio):
    X, y = _multiclass()
    C = 0.3
    Xs = as_storage(X, storage)
    ref = LogisticRegression(C=C, l1_ratio=l1_ratio, solver="saga", tol=1e-12,
                             max_iter=200_000, fit_intercept=fit_intercept).fit(Xs, y)
    penalty = L1() if l1_ratio == 1.0 else ElasticNetPenalty()
    lam = logistic_lam_from_sklearn(C, l1_ratio, X.shape[0])[: penalty.n_hyper(X.shape[1])]
    pgmap = ProxGradMap(Multinomial(3), penalty, Xs, y, fit_intercept=fit_intercept)
    res = CoordinateDescent(tol=1e-12, ws_start_size=3).solve(pgmap, lam)
    assert res.converged
    nnz = np.count_nonzero(res.w[:3 * X.shape[1]])
    assert 0 < nnz < 3 * X.shape[1]
    _assert_same_objective(pgmap, res.w, _w_multinomial(ref, fit_intercept), lam)


@pytest.mark.parametrize("storage", ["dense", "csc"])
@pytest.mark.parametrize("fit_intercept", [False, True])
@pytest.mark.parametrize("penalty, lam", [(L1(), [0.02]), (ElasticNetPenalty(), [0.01, 0.05]),
                                          (L1(), [1e-3])])
def test_multinomial_matches_prox_gradient(storage, fit_intercept, penalty, lam):
    X, y = _multiclass(seed=1)
    pgmap = ProxGradMap(Multinomial(3), penalty, as_storage(X, storage), y,
                        fit_intercept=fit_intercept)
    res = CoordinateDescent(tol=1e-12).solve(pgmap, lam)
    ref = ProxGradient(tol=1e-12, max_iter=200_000).solve(pgmap, lam)
    assert res.converged and ref.converged
    _assert_same_objective(pgmap, res.w, ref.w, lam)
    if isinstance(penalty, ElasticNetPenalty):  # strongly convex in the coefficients
        p = X.shape[1]
        np.testing.assert_allclose(res.w[:3 * p], ref.w[:3 * p], atol=1e-5)


def test_multinomial_weighted_l1():
    X, y = _multiclass(seed=2)
    lam = np.random.default_rng(0).uniform(0.005, 0.05, X.shape[1])
    pgmap = ProxGradMap(Multinomial(3), WeightedL1(), sp.csc_matrix(X), y, fit_intercept=True)
    res = CoordinateDescent(tol=1e-12).solve(pgmap, lam)
    ref = ProxGradient(tol=1e-12, max_iter=200_000).solve(pgmap, lam)
    assert res.converged
    _assert_same_objective(pgmap, res.w, ref.w, lam)


@pytest.mark.parametrize("storage", ["dense", "csc"])
def test_multinomial_warm_start_and_non_convergence(storage):
    X, y = _multiclass()
    pgmap = ProxGradMap(Multinomial(3), L1(), as_storage(X, storage), y, fit_intercept=True)
    solver = CoordinateDescent(tol=1e-9)
    res = solver.solve(pgmap, [0.01])
    assert res.converged and res.n_iter > 0
    again = solver.solve(pgmap, [0.01], w0=res.w)
    assert again.n_iter == 0 and again.converged
    np.testing.assert_array_equal(again.w, res.w)
    with pytest.warns(ConvergenceWarning, match="CoordinateDescent did not converge"):
        res = CoordinateDescent(tol=1e-12, max_iter=1).solve(pgmap, [0.001])
    assert not res.converged


def test_unsupported_datafit_is_refused():
    X, y = _regression()

    class Other(Quadratic):
        newton_model = None

    with pytest.raises(ValueError, match="CoordinateDescent.*ProxGradient"):
        CoordinateDescent().solve(ProxGradMap(Other(), L1(), X, y), [0.1])


@pytest.mark.parametrize("params, name", [
    (dict(max_epochs=0), "max_epochs"), (dict(max_iter=1.5), "max_iter"),
    (dict(ws_start_size=0), "ws_start_size"), (dict(anderson=-1), "anderson"),
    (dict(inner_ratio=1.0), "inner_ratio")])
def test_invalid_parameters(params, name):
    X, y = _regression()
    with pytest.raises(ValueError, match=name):
        CoordinateDescent(**params).solve(ProxGradMap(Quadratic(), L1(), X, y), [0.1])


@pytest.mark.parametrize("datafit", [Quadratic(), Logistic()])
def test_tolerance_below_rounding_stops_quickly(datafit):
    X, y = _classification() if isinstance(datafit, Logistic) else _regression()
    pgmap = ProxGradMap(datafit, L1(), X, y, fit_intercept=True)
    with pytest.warns(ConvergenceWarning):
        res = CoordinateDescent(tol=0.0).solve(pgmap, [_alpha_max(X, y, True) / 10])
    assert res.n_iter < 200 and res.gap < 1e-13


def test_parameters_stored_as_given_and_picklable():
    solver = CoordinateDescent(tol=1e-6, max_iter=7, anderson=0, inner_ratio=0.5)
    clone = pickle.loads(pickle.dumps(solver))
    assert vars(clone) == vars(solver) == dict(
        tol=1e-6, max_iter=7, max_epochs=10_000, ws_start_size=100, inner_ratio=0.5,
        anderson=0, precompute="auto", newton="auto", warn=True, grad_tol=None)


def test_design_converted_once():
    X, y = _regression()
    pgmap = ProxGradMap(Quadratic(), L1(), np.ascontiguousarray(X), y)
    first = _prepare(pgmap.design)
    assert first[0].flags.f_contiguous and first[0] is not pgmap.design.X
    assert _prepare(pgmap.design) is first
    Xf = np.asfortranarray(X)
    assert _prepare(ProxGradMap(Quadratic(), L1(), Xf, y).design)[0] is Xf


@pytest.mark.parametrize("max_entries", [1 << 21, 50])  # one chunk of rows, or many
def test_dense_curvature_blocks_equal_the_kernels(max_entries):
    """The BLAS form of the multinomial model's gradient and curvature blocks (dense X,
    by chunks of rows) equals the numba kernel's sums, with unit and with sample weights."""
    from skhypergrad.solvers._cd_kernels import (columns_gradient_curvature_blocks,
                                                 gradient_curvature_blocks)

    rng = np.random.default_rng(0)
    n, p, K = 37, 9, 4
    X = np.asfortranarray(rng.standard_normal((n, p)))
    h = rng.random((n, K))
    h /= h.sum(axis=1, keepdims=True)
    a = rng.standard_normal((n, K))
    ws = np.array([0, 2, 3, 7])
    empty, no_index = np.empty(0), np.empty(0, dtype=np.int32)
    for sw in (empty, 2.0 * rng.random(n)):
        ref = columns_gradient_curvature_blocks(X, empty, no_index, no_index, empty, sw, ws,
                                                a, h)
        got = gradient_curvature_blocks(X, empty, no_index, no_index, empty, sw, ws, a, h,
                                        max_entries)
        for r, g in zip(ref, got):
            np.testing.assert_allclose(g, r, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("n_outputs", [1, 3])
@pytest.mark.parametrize("fit_intercept", [False, True])
def test_predictions_change_of_the_moving_entries(n_outputs, fit_intercept):
    # sparse X: Anderson's extrapolated v is X_ws delta_W + delta_b (no history of v)
    from skhypergrad.solvers._cd_problem import _Problem

    rng = np.random.default_rng(n_outputs)
    X = sp.random(30, 40, density=0.2, format="csc", random_state=1)
    if n_outputs == 1:
        datafit, y, lam = Quadratic(), rng.standard_normal(30), [0.01, 0.1]
    else:
        datafit, y, lam = Multinomial(n_classes=3), rng.integers(0, 3, 30), [0.01, 0.1]
    pgmap = ProxGradMap(datafit, ElasticNetPenalty(), X, y, fit_intercept=fit_intercept)
    prob = _Problem.build(pgmap, np.array(lam))
    assert prob.lc is None
    ws = np.array([0, 7, 8, 39])
    delta = rng.standard_normal(prob.moving(ws).shape[0])
    m = ws.shape[0] * n_outputs
    coef = delta[:m].reshape(ws.shape[0], n_outputs)
    expected = X.toarray()[:, ws] @ coef + (delta[m:] if fit_intercept else 0.0)
    got = prob.predictions_change(ws, delta)
    np.testing.assert_allclose(got.reshape(30, n_outputs), expected, rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("n_outputs", [1, 3])
def test_selected_columns_of_csc_equal_scipy_products(n_outputs):
    # the working set's products on a CSC X, by the kernels on its triplet, are scipy's
    # on X[:, ws] bit for bit
    from skhypergrad.solvers._cd_design import _squared_norms_range
    from skhypergrad.solvers._cd_problem import _Problem

    rng = np.random.default_rng(5)
    X = sp.random(50, 60, density=0.15, format="csc", random_state=2) + 0.0
    datafit, y = ((Quadratic(), rng.standard_normal(50)) if n_outputs == 1 else
                  (Multinomial(n_classes=3), rng.integers(0, 3, 50)))
    pgmap = ProxGradMap(datafit, ElasticNetPenalty(), X, y, fit_intercept=True)
    prob = _Problem.build(pgmap, np.array([0.01, 0.1]))
    Xc = prob.X
    assert sp.issparse(Xc)
    mu = np.zeros(60) if prob.mu is None else prob.mu
    ws = np.array([0, 3, 17, 18, 59])
    u = rng.standard_normal((50, n_outputs)).squeeze()
    expected = (Xc[:, ws].T @ u - np.multiply.outer(mu[ws], u.sum(axis=0))) / 50
    np.testing.assert_array_equal(prob.columns_t(ws, u), expected)
    coef = rng.standard_normal((5, n_outputs)).squeeze()
    delta = np.concatenate((coef.ravel(), np.zeros(n_outputs)))
    np.testing.assert_array_equal(prob.predictions_change(ws, delta),
                                  Xc[:, ws] @ coef - mu[ws] @ coef)
    bounds = prob.moving_bounds(ws)
    sq = _squared_norms_range(Xc[:, ws], 0, 5, None if prob.mu is None else mu[ws])
    np.testing.assert_array_equal(bounds[:5 * n_outputs],
                                  np.repeat(sq * prob.curvature / 50, n_outputs))


@pytest.mark.parametrize("datafit", ["quadratic", "logistic", "multinomial"])
def test_sparse_anderson_without_history_of_v_matches_dense(datafit):
    # the same problem on sparse and dense X, Anderson on: the same solution, in about as
    # many epochs (v recomputed from w on sparse X, extrapolated from its history on dense)
    rng = np.random.default_rng(7)
    X = sp.random(80, 300, density=0.1, format="csc", random_state=3)
    fit, y = {"quadratic": (Quadratic(), rng.standard_normal(80)),
              "logistic": (Logistic(), np.where(rng.random(80) < 0.5, -1.0, 1.0)),
              "multinomial": (Multinomial(n_classes=3), rng.integers(0, 3, 80))}[datafit]
    lam = [0.002, 0.01]
    sols = [CoordinateDescent(tol=1e-12, anderson=5, precompute=False).solve(
        ProxGradMap(fit, ElasticNetPenalty(), Xf, y, fit_intercept=True), lam)
        for Xf in (X, X.toarray(order="F"))]
    assert sols[0].converged and sols[1].converged
    np.testing.assert_allclose(sols[0].w, sols[1].w, rtol=1e-7, atol=1e-9)
    assert sols[0].n_iter <= 1.5 * sols[1].n_iter + 5


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("storage", ["dense", "csc"])
def test_newton_path_equals_coordinate_descent(fit_intercept, storage):
    """``newton=True`` (direct Newton solves, :mod:`skhypergrad.solvers._newton`) on logistic
    regression with an L2 penalty reaches coordinate descent's optimum (objective to
    1e-12 relative), with and without an unpenalized intercept, in a few iterations."""
    from skhypergrad.penalties import L2

    X, y = _classification()
    pgmap = ProxGradMap(Logistic(), L2(), as_storage(X, storage), y,
                        fit_intercept=fit_intercept)
    lam = np.array([1e-3])
    cd = CoordinateDescent(tol=1e-13, newton=False).solve(pgmap, lam)
    newton = CoordinateDescent(tol=1e-13, newton=True).solve(pgmap, lam)
    assert newton.converged and newton.n_iter <= 20
    assert pgmap.objective(newton.w, lam) == pytest.approx(pgmap.objective(cd.w, lam),
                                                           rel=1e-12)


def test_newton_parameter_is_checked():
    pgmap = ProxGradMap(Logistic(), L1(), *_classification())
    with pytest.raises(ValueError, match="newton must be 'auto', True or False"):
        CoordinateDescent(newton="yes").solve(pgmap, np.array([0.01]))


@pytest.mark.parametrize("penalty", ["l1", "positive", "enet", "weighted"])
@pytest.mark.parametrize("storage", ["dense", "csc"])
def test_newton_with_kinks_equals_coordinate_descent(penalty, storage):
    """``newton=True`` with an L1 part (Newton's method on the support with fixed signs,
    :mod:`skhypergrad.solvers._active_set_newton`): L1, L1 with ``w >= 0``, elastic net
    and a weighted L1 with unpenalized features (always in the support) reach coordinate
    descent's optimum on logistic regression with an intercept (objective to 1e-10
    relative), with a sparse solution."""
    X, y = _classification()
    p = X.shape[1]
    alpha = _alpha_max(X, y, True) / 10
    penalties = {"l1": (L1(), [alpha]), "positive": (L1(positive=True), [alpha]),
                 "enet": (ElasticNetPenalty(), [alpha, 0.1]),
                 "weighted": (WeightedL1(), np.r_[np.zeros(3), np.full(p - 3, alpha)])}
    pen, lam = penalties[penalty]
    lam = np.asarray(lam, dtype=float)
    pgmap = ProxGradMap(Logistic(), pen, as_storage(X, storage), y, fit_intercept=True)
    cd = CoordinateDescent(tol=1e-13, newton=False).solve(pgmap, lam)
    newton = CoordinateDescent(tol=1e-13, newton=True).solve(pgmap, lam)
    assert cd.converged and newton.converged and newton.n_iter <= 30
    assert 0 < np.count_nonzero(newton.w[:p]) < p
    assert pgmap.objective(newton.w, lam) == pytest.approx(pgmap.objective(cd.w, lam),
                                                           rel=1e-10)


@pytest.mark.parametrize("make, penalty, lam, direct", [
    (Logistic, L1, [0.01], True),  # an L1 part, a curvature that varies
    (Logistic, L2, [0.01], False),  # every coefficient on the support: the epochs pay
    (lambda: weighted(Quadratic(), np.arange(1.0, 121.0)), L1, [0.01], False),
    (SquaredHinge, L1, [0.01], False),  # piecewise quadratic: the Newton path
    (lambda: Multinomial(3), L2, [0.01], True)])
def test_support_step_where_declared(make, penalty, lam, direct):
    """The support's direct solve is taken for several outputs, and for one output with an
    L1 part whose curvature varies and is not piecewise quadratic."""
    X, y = _classification()
    datafit = make()
    if datafit.n_outputs > 1:
        y = np.digitize(X[:, 0], [-0.5, 0.5])
    pgmap = ProxGradMap(datafit, penalty(), X, y, fit_intercept=True)
    assert _Problem.build(pgmap, np.array(lam)).direct is direct



def test_line_search_returns_the_derivative_and_stops_at_rounding(monkeypatch):
    """The line search returns its step with the datafit's derivative there, bit for bit
    that of the predictions moved by the step; an intercept step at the optimum, whose
    slopes are rounding, ends in a few evaluations with a certified (negative) slope."""
    X, y = _classification()
    pgmap = ProxGradMap(Logistic(), L1(), X, y, fit_intercept=True)
    lam = np.array([0.02])
    w = CoordinateDescent(tol=1e-14).solve(pgmap, lam, np.zeros(pgmap.n_params)).w
    prob = _Problem.build(pgmap, lam)
    z = prob.predictions(pgmap.design, w)
    a = prob.derivative(z)
    calls = []
    derivative = _Problem.derivative
    monkeypatch.setattr(_Problem, "derivative",
                        lambda self, z: calls.append(1) or derivative(self, z))
    no_cols = np.empty(0, dtype=np.intp)
    # a step of the intercept alone: away from the optimum (a real decrease), and near it
    # (slopes of 1e-26 at rounding, which regula falsi narrowed for 30 evaluations)
    for shift in (0.3, 1e-13, 1e-11):
        w0, z0 = w.copy(), z.copy()
        w0[-1] += shift
        z0 += shift
        a0 = derivative(prob, z0)
        delta = -float(np.mean(a0)) / float(np.mean(prob.curvatures(z0, a0)))
        w_new = w0.copy()
        w_new[-1] += delta
        v = np.full(z0.shape[0], delta)
        calls.clear()
        t, a_t = prob.line_search(w0, w_new, z0, v, no_cols, a0)
        assert len(calls) <= 6
        if t > 0.0:
            z0 += t * v
            np.testing.assert_array_equal(a_t, derivative(prob, z0))
            assert float(np.vdot(v, a_t)) < 0.0  # the slope there certifies a decrease
        assert shift < 1e-3 or t > 0.5
    assert a.shape == z.shape


def test_anderson_weights_do_not_depend_on_the_scale_of_the_iterates():
    """The Anderson weights solve ``U U^T c = 1`` normalized: invariant to a common
    scaling of ``U``. Iterates of magnitude 1e200 (whose ``U U^T`` overflows) give the
    weights of the same iterates at magnitude 1 (the scale a power of two: exactly),
    without a warning; iterates that are not finite give None."""
    rng = np.random.default_rng(0)
    hist = rng.standard_normal((6, 9))
    metric = np.exp(rng.standard_normal(9))
    scale = 2.0 ** 664  # 1.9e200
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        c = _anderson_weights(hist, metric)
        big = _anderson_weights(hist * scale, metric)
        hist[2, 3] = np.inf
        none = _anderson_weights(hist, metric)
    assert c is not None and c.sum() == pytest.approx(1.0)
    np.testing.assert_array_equal(big, c)
    assert none is None
