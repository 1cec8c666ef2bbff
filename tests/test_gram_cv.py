"""The compiled criterion evaluation of small least-squares problems
(:mod:`skhypergrad._gram_cv`): the same values, gradients and warm starts as the
Python path (fold maps, coordinate descent, AID-CG), a warning when a fold's solve
stops above ``tol``, and the conditions under which it runs."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numba import njit
from numba.core.dispatcher import Dispatcher
from sklearn.datasets import load_diabetes, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import KFold
from sklearn.preprocessing import PolynomialFeatures, StandardScaler

import skhypergrad._gram_cv_kernel as gram_kernels
import skhypergrad.criteria as criteria
from skhypergrad._gram_cv import gram_path_applies, heldout_gram_folds
from skhypergrad._gram_cv_kernel import _exact_on_support, _factor_support
from skhypergrad.criteria import CrossVal, HeldOut
from skhypergrad.hypergrad import get_engine
from skhypergrad.models import InnerModel
from skhypergrad.solvers import CoordinateDescent, ProxGradient

from _data import make_one_hot_data


def _tables():
    X, y = load_diabetes(return_X_y=True)
    poly = PolynomialFeatures(2, include_bias=False).fit_transform(X)
    Xw, yw = make_regression(60, 80, n_informative=8, noise=1.0, random_state=0)
    return {"diabetes": (X, y),
            "poly2": (StandardScaler().fit_transform(poly), y),
            "p>n": (Xw, yw)}


TABLES = _tables()
MODELS = {"enet": (InnerModel("quadratic", "elasticnet", fit_intercept=True), [0.05, 0.01]),
          "lasso": (InnerModel("quadratic", "l1", fit_intercept=True), [0.05]),
          "positive": (InnerModel("quadratic", "elasticnet", fit_intercept=True,
                                  positive=True), [0.05, 0.01]),
          "no intercept": (InnerModel("quadratic", "elasticnet"), [0.05, 0.01])}


def _lam(X, y, scale):
    return np.asarray(scale) * np.abs(X.T @ (y - y.mean())).max() / X.shape[0]


@pytest.fixture
def compiled_calls(monkeypatch):
    calls = []
    original = criteria.evaluate_gram_folds

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(criteria, "evaluate_gram_folds", counting)
    return calls


@pytest.mark.parametrize("table", list(TABLES))
@pytest.mark.parametrize("name", list(MODELS))
def test_cross_validation_matches_the_python_path(table, name, compiled_calls):
    X, y = TABLES[table]
    model, scale = MODELS[name]
    lam = _lam(X, y, scale)
    crit = CrossVal(cv=4)
    fast = crit.value_and_grad(model, X, y, lam, solver=CoordinateDescent(tol=1e-12),
                               engine="aid-cg")
    assert compiled_calls
    # the Python path (no Gram epochs) from the compiled solutions: its solver finds
    # them solved (no epoch), its engine and held-out loss give the same numbers
    python = CoordinateDescent(tol=1e-12, precompute=False)
    at = crit.value_and_grad(model, X, y, lam, solver=python, engine="aid-cg",
                             state=fast.state)
    assert np.all(at.n_iter == 0)
    np.testing.assert_allclose(fast.value, at.value, rtol=1e-10)
    np.testing.assert_allclose(fast.values, at.values, rtol=1e-10)
    np.testing.assert_allclose(fast.grad, at.grad, rtol=1e-10,
                               atol=1e-10 * np.max(np.abs(at.grad)))
    # from a cold start both solve to tol: the same point to the solvers' accuracy
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # a stalled gap at 1e-12
        cold = crit.value_and_grad(model, X, y, lam, solver=python, engine="aid-cg")
    np.testing.assert_allclose(fast.value, cold.value, rtol=1e-6)
    np.testing.assert_allclose(fast.grad, cold.grad, rtol=1e-4,
                               atol=1e-4 * np.max(np.abs(cold.grad)))
    for a, b in zip(fast.state, at.state):
        np.testing.assert_allclose(a.w, b.w, rtol=1e-10, atol=1e-10 * np.max(np.abs(b.w)))


def test_heldout_matches_the_python_path_and_finite_differences(compiled_calls):
    X, y = TABLES["diabetes"]
    model = MODELS["enet"][0]
    lam = _lam(X, y, [0.01, 0.002])  # no support change within the finite differences
    crit = HeldOut(X[:120], y[:120])
    solver = CoordinateDescent(tol=1e-14)
    fast = crit.value_and_grad(model, X[120:], y[120:], lam, solver=solver, engine="aid-cg")
    at = crit.value_and_grad(model, X[120:], y[120:], lam,
                             solver=CoordinateDescent(tol=1e-14, precompute=False),
                             engine="aid-cg", state=fast.state)
    assert compiled_calls and np.all(at.n_iter == 0)
    np.testing.assert_allclose(fast.value, at.value, rtol=1e-10)
    np.testing.assert_allclose(fast.grad, at.grad, rtol=1e-10)
    # values to rounding (a gap of 1e-14 moves them by up to 1e-9): those of the
    # evaluations with a gradient, which end on the exact solution of their support
    h = 1e-4
    for i in range(2):
        e = np.zeros(2)
        e[i] = h
        up, down = (crit.value_and_grad(model, X[120:], y[120:], lam * np.exp(s * e),
                                        solver=solver, engine="aid-cg",
                                        state=fast.state).value for s in (1, -1))
        np.testing.assert_allclose(fast.grad[i], (up - down) / (2 * h), rtol=1e-6)


def test_a_fold_stopped_at_its_budget_warns_with_the_gap():
    X, y = TABLES["poly2"]
    model, scale = MODELS["lasso"]
    solver = CoordinateDescent(tol=1e-12, max_iter=1, max_epochs=2)
    with pytest.warns(ConvergenceWarning, match=r"did not converge in 2 epochs \(relative "
                                                 r"gap [0-9.e+-]+ > tol 1.00e-12\)"):
        res = CrossVal(cv=3).value(model, X, y, _lam(X, y, [0.01]), solver=solver)
    assert np.all(res.n_iter == 2)


def test_value_on_folds_keeps_the_other_folds_states(compiled_calls):
    X, y = TABLES["diabetes"]
    model, scale = MODELS["lasso"]
    crit = CrossVal(cv=5)
    solver = CoordinateDescent(tol=1e-10)
    full = crit.value(model, X, y, _lam(X, y, scale), solver=solver)
    part = crit.value_on_folds(model, X, y, _lam(X, y, [0.02]), [1, 3], solver=solver,
                               state=full.state)
    assert compiled_calls and part.values.shape == (2,)
    for k in (0, 2, 4):
        np.testing.assert_array_equal(part.state[k].w, full.state[k].w)
    ref = crit.value(model, X, y, _lam(X, y, [0.02]), solver=solver)
    np.testing.assert_allclose(part.values, ref.values[[1, 3]], rtol=1e-8)


def test_when_the_compiled_path_runs():
    X, y = TABLES["diabetes"]
    enet = MODELS["enet"][0]
    cd = CoordinateDescent()
    run = gram_path_applies(enet, X, cd, get_engine("aid-cg"), 5, "squared")
    assert run and gram_path_applies(enet, X, cd, None, 5, "squared")
    # the engine must solve the implicit system itself (AID-CG; not AID-FP's or ITD's
    # iterations, whose own convergence they report), the solver
    # allow Gram epochs, the datafit be least squares (weighted or not)
    assert not gram_path_applies(enet, X, cd, get_engine("itd"), 5, "squared")
    assert not gram_path_applies(enet, X, cd, get_engine("aid-fp"), 5, "squared")
    assert not gram_path_applies(enet, X, CoordinateDescent(precompute=False), None, 5,
                                 "squared")
    assert not gram_path_applies(enet, X, ProxGradient(), None, 5, "squared")
    assert gram_path_applies(enet, X, cd, None, 5, "squared", weighted=True)
    logistic = InnerModel("logistic", "l1", fit_intercept=True).bind(y > np.median(y))
    assert not gram_path_applies(logistic, X, cd, None, 5, "logistic")
    # a sparse X whose Gram matrix is small against its stored entries, or of at most 512
    # columns, or of at most 768 columns with p^2 <= 40 nnz: compiled; a wide one
    # (p^2 > 4 nnz beyond 768 columns, p^2 > 40 nnz below, as text features) is not
    assert gram_path_applies(enet, sp.csr_matrix(X), cd, None, 5, "squared")
    narrow = sp.random(100, 512, density=0.01, format="csr", random_state=0)
    assert gram_path_applies(enet, narrow, cd, None, 5, "squared")
    wide = sp.random(100, 600, density=0.01, format="csr", random_state=0)
    assert not gram_path_applies(enet, wide, cd, None, 5, "squared")
    filled = sp.random(400, 600, density=0.05, format="csr", random_state=0)  # p^2 = 30 nnz
    assert gram_path_applies(enet, filled, cd, None, 5, "squared")
    assert not gram_path_applies(enet, sp.random(400, 800, density=0.05, format="csr",
                                                 random_state=0), cd, None, 5, "squared")
    # sparse held-out rows apart from X (HeldOut's) are copied densely: only when they fit
    assert gram_path_applies(enet, X, cd, None, 1, "squared", X_val=sp.csr_matrix(X))
    tall = sp.csr_matrix((10**7, X.shape[1]))  # 800 MB dense
    assert not gram_path_applies(enet, X, cd, None, 1, "squared", X_val=tall)


def test_a_support_above_the_direct_size_is_differentiated_by_conjugate_gradients(
        compiled_calls):
    """A support of more than ``DIRECT_MAX`` coefficients: the hypergradient comes from
    conjugate gradients in the separate kernel, equal to the Python path's (AID-CG)."""
    from skhypergrad._gram_cv_kernel import DIRECT_MAX

    rng = np.random.default_rng(0)
    n, p = 400, DIRECT_MAX + 8
    X = rng.standard_normal((n, p))
    y = X @ rng.standard_normal(p) + rng.standard_normal(n)
    model = MODELS["enet"][0]
    lam = np.array([1e-4, 0.5])  # l1 small: every coefficient nonzero (l2 > 0, p > n)
    crit = HeldOut(X[:100], y[:100])
    fast = crit.value_and_grad(model, X[100:], y[100:], lam,
                               solver=CoordinateDescent(tol=1e-12), engine="aid-cg")
    assert compiled_calls and np.count_nonzero(fast.state[0].w[:p]) > DIRECT_MAX
    assert fast.n_iter_engine[0] > 1  # iterations of CG, not one Cholesky solve
    at = crit.value_and_grad(model, X[100:], y[100:], lam,
                             solver=CoordinateDescent(tol=1e-12, precompute=False),
                             engine="aid-cg", state=fast.state)
    assert np.all(at.n_iter == 0)
    np.testing.assert_allclose(fast.value, at.value, rtol=1e-10)
    np.testing.assert_allclose(fast.grad, at.grad, rtol=1e-7)


def test_every_fit_runs_one_compiled_signature():
    """Lasso and elastic net, positive or not, with or without intercept, on float32,
    Fortran, C, read-only or sparse ``X``, the search (its scan's paths) and the refit: one
    signature of the kernel (a first fit compiles it once), and no deferred
    hypergradient (conjugate gradients, least norm) on these small regular supports."""
    from skhypergrad import ElasticNetHyperGrad, LassoHyperGrad, WeightedLassoHyperGrad
    from skhypergrad._gram_cv_kernel import (gram_cv_evaluate,
                                             gram_cv_least_norm_hypergradients)

    X, y = TABLES["diabetes"]
    X, y = X[:150], y[:150]
    X_ro, y_ro = X.copy(), y.copy()
    X_ro.setflags(write=False)
    y_ro.setflags(write=False)
    before = len(gram_cv_least_norm_hypergradients.signatures)
    for est, X_fit in [(ElasticNetHyperGrad(cv=3, max_iter=2), X),
                       (LassoHyperGrad(cv=3, max_iter=2, fit_intercept=False),
                        X.astype(np.float32)),
                       (ElasticNetHyperGrad(cv=3, max_iter=2, positive=True),
                        np.asfortranarray(X)),
                       (LassoHyperGrad(cv=3, max_iter=2), sp.csr_matrix(X)),
                       (WeightedLassoHyperGrad(cv=3, max_iter=2), X_ro)]:
        est.fit(X_fit, y_ro)
    assert len(gram_cv_evaluate.signatures) == 1
    assert len(gram_cv_least_norm_hypergradients.signatures) == before


def _weights(n, seed):
    """Positive weights of ``n`` rows, from 0.1 to 3, some of them 0."""
    w = np.random.default_rng(seed).uniform(0.1, 3.0, n)
    w[::17] = 0.0
    return w


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("cv", [4, "shuffle"])
def test_weighted_folds_match_the_python_path(sparse, cv, compiled_calls):
    """Datafit weights and other held-out weights (zeros among both), on K-fold's
    partition and on splits that are not one (ShuffleSplit's, each fold's sums from its
    own rows): the compiled values, hypergradients and warm starts are those of the
    Python path at the compiled solutions (which it finds solved), a cold Python solve
    reaches the same values, and the solutions are scikit-learn's ``ElasticNet`` fitted
    with the same weights (at ``tol=1e-15``; the cold Python solve stalls ~1e-6 away
    from it); HeldOut's too."""
    from sklearn.linear_model import ElasticNet
    from sklearn.model_selection import ShuffleSplit

    X, y = TABLES["diabetes"]
    X = sp.csr_matrix(np.where(np.abs(X) > 0.03, X, 0.0)) if sparse else X
    model, scale = MODELS["enet"]
    lam = _lam(X.toarray() if sparse else X, y, [0.05, 0.002])
    sw, score_w = _weights(y.shape[0], 0), _weights(y.shape[0], 1)
    splitter = KFold(4) if cv == 4 else ShuffleSplit(4, test_size=0.2, random_state=0)
    splits = list(splitter.split(X))
    python = CoordinateDescent(tol=1e-12, precompute=False)
    n_tr = 300
    for crit, X_fit, y_fit, trains in [
            (CrossVal(cv=splits, sample_weight=sw, score_sample_weight=score_w), X, y,
             [train for train, _ in splits]),
            (HeldOut(X[n_tr:], y[n_tr:], sample_weight=sw[:n_tr],
                     sample_weight_val=score_w[n_tr:]), X[:n_tr], y[:n_tr],
             [np.arange(n_tr)])]:
        compiled_calls.clear()
        fast = crit.value_and_grad(model, X_fit, y_fit, lam,
                                   solver=CoordinateDescent(tol=1e-12), engine="aid-cg")
        assert compiled_calls
        at = crit.value_and_grad(model, X_fit, y_fit, lam, solver=python, engine="aid-cg",
                                 state=fast.state)
        assert np.all(at.n_iter == 0)
        np.testing.assert_allclose(fast.values, at.values, rtol=1e-10)
        np.testing.assert_allclose(fast.grad, at.grad, rtol=1e-10,
                                   atol=1e-10 * np.max(np.abs(at.grad)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # a stalled gap at 1e-12
            cold = crit.value_and_grad(model, X_fit, y_fit, lam, solver=python,
                                       engine="aid-cg")
        np.testing.assert_allclose(fast.value, cold.value, rtol=1e-6)
        for train, st in zip(trains, fast.state):
            sk = ElasticNet(alpha=lam.sum(), l1_ratio=lam[0] / lam.sum(), tol=1e-15,
                            max_iter=100_000).fit(X[train], y[train], sample_weight=sw[train])
            ref = np.r_[sk.coef_, sk.intercept_]
            assert np.linalg.norm(st.w - ref) <= 1e-6 * np.linalg.norm(ref)


def test_weighted_compiled_folds_are_the_rows_repeated(compiled_calls):
    """Integer weights, in the datafits and the held-out losses: the compiled criterion
    of the rows repeated (each copy in its row's fold), to rounding."""
    X, y = TABLES["diabetes"]
    sw = np.random.default_rng(2).integers(0, 4, y.shape[0]).astype(float)
    rep = np.repeat(np.arange(y.shape[0]), sw.astype(int))
    fold_of = np.arange(y.shape[0]) % 4
    folds = [(np.flatnonzero(fold_of != k), np.flatnonzero(fold_of == k)) for k in range(4)]
    folds_rep = [(np.flatnonzero(fold_of[rep] != k), np.flatnonzero(fold_of[rep] == k))
                 for k in range(4)]
    model, scale = MODELS["enet"]
    lam, solver = _lam(X, y, [0.05, 0.002]), CoordinateDescent(tol=1e-14)
    a = CrossVal(folds, sample_weight=sw, score_sample_weight=sw).value_and_grad(
        model, X, y, lam, solver=solver, engine="aid-cg")
    b = CrossVal(folds_rep).value_and_grad(model, X[rep], y[rep], lam, solver=solver,
                                           engine="aid-cg")
    assert len(compiled_calls) == 2
    np.testing.assert_allclose(a.values, b.values, rtol=1e-10)
    np.testing.assert_allclose(a.grad, b.grad, rtol=1e-8)


def test_sparse_heldout_rows_are_evaluated_as_the_dense_ones(compiled_calls):
    X, y = make_one_hot_data()
    model, scale = MODELS["enet"]
    lam = _lam(X, y, scale)
    solver = CoordinateDescent(tol=1e-12)
    dense = HeldOut(X[:100], y[:100]).value_and_grad(model, X[100:], y[100:], lam,
                                                     solver=solver, engine="aid-cg")
    Xs = sp.csr_matrix(X)
    sparse = HeldOut(Xs[:100], y[:100]).value_and_grad(model, Xs[100:], y[100:], lam,
                                                       solver=solver, engine="aid-cg")
    assert len(compiled_calls) == 2
    np.testing.assert_allclose(sparse.value, dense.value, rtol=1e-9)
    np.testing.assert_allclose(sparse.grad, dense.grad, rtol=1e-7)


@pytest.mark.parametrize("name", ["lasso", "enet", "no intercept"])
def test_sparse_x_is_evaluated_as_the_dense_one(name, compiled_calls):
    X, y = make_one_hot_data()
    model, scale = MODELS[name]
    lam = _lam(X, y, scale)
    crit, solver = CrossVal(cv=4), CoordinateDescent(tol=1e-12)
    dense = crit.value_and_grad(model, X, y, lam, solver=solver, engine="aid-cg")
    crit = CrossVal(cv=4)
    sparse = crit.value_and_grad(model, sp.csr_matrix(X), y, lam, solver=solver,
                                 engine="aid-cg")
    assert len(compiled_calls) == 2
    np.testing.assert_allclose(sparse.values, dense.values, rtol=1e-9)
    np.testing.assert_allclose(sparse.grad, dense.grad, rtol=1e-7)
    for a, b in zip(sparse.state, dense.state):
        np.testing.assert_allclose(a.w, b.w, rtol=1e-7, atol=1e-9 * np.max(np.abs(b.w)))


def test_a_rank_deficient_support_has_the_finite_difference_hypergradient(compiled_calls):
    """One-hot blocks with every level in the Lasso's support and an intercept: the
    support's system is singular; the hypergradient in the L1 weight (a scalar) is that
    of any of its solutions, and equals central finite differences of the CV loss."""
    X, y = make_one_hot_data()
    model = MODELS["lasso"][0]
    lam = _lam(X, y, [0.002])
    splits = list(KFold(3).split(X))
    crit, solver = CrossVal(cv=splits), CoordinateDescent(tol=1e-14)
    res = crit.value_and_grad(model, X, y, lam, solver=solver, engine="aid-cg")
    assert compiled_calls
    # the first two blocks (4 and 6 levels) on every fold's support: singular systems
    for (train, _), st in zip(splits, res.state):
        support = np.flatnonzero(st.w[:X.shape[1]])
        assert set(range(10)) <= set(support)
        Xs = X[np.ix_(train, support)]
        assert np.linalg.matrix_rank(Xs - Xs.mean(axis=0)) < support.size
    # solved directly (one iteration), not by conjugate gradients
    assert np.all(res.n_iter_engine == 1) and np.all(res.engine_residual < 1e-12)
    # every kernel and helper the evaluation and the least-norm solves reached was
    # compiled for one signature (none for a literal integer, another layout, ...)
    kernels = [f for f in vars(gram_kernels).values() if isinstance(f, Dispatcher)]
    assert all(len(f.signatures) <= 1 for f in kernels)
    assert gram_kernels.gram_cv_least_norm_hypergradients.signatures
    h = 1e-4
    up, down = (crit.value(model, X, y, lam * np.exp(s * h), solver=solver,
                           state=res.state).value for s in (1, -1))
    np.testing.assert_allclose(res.grad[0], (up - down) / (2 * h), rtol=1e-6)


@pytest.mark.parametrize("name", ["lasso", "enet"])
def test_a_path_in_one_call_is_its_points_one_by_one(name):
    """``value_path``: the points of a path, warm-started in turn, left once its last
    three values are above the smallest before them, as the scan of a search."""
    X, y = TABLES["poly2"]
    model, scale = MODELS[name]
    path = [_lam(X, y, np.asarray(scale) * 10.0 ** (-k / 3)) for k in range(1, 13)]
    crit, solver = CrossVal(cv=4), CoordinateDescent(tol=1e-8)
    batch = crit.value_path(model, X, y, path, solver=solver, near=len(path) + 1,
                            patience=3)
    state, values = None, []
    for lam in path:
        res = crit.value(model, X, y, lam, solver=solver, state=state)
        state, values = res.state, values + [res.value]
        if len(values) > 3 and min(values[-3:]) > min(values[:-3]):
            break
    assert 4 <= len(batch) == len(values) < len(path)
    np.testing.assert_allclose([r.value for r in batch], values, rtol=1e-12)
    for a, b in zip(batch[-1].state, state):
        np.testing.assert_allclose(a.w, b.w, rtol=1e-12, atol=1e-14)
    assert all(r.state is None for r in batch[1:-1])


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("weights", [False, True])
def test_the_refit_reads_the_sums_of_all_the_rows_from_the_folds(sparse, weights):
    X, y = make_one_hot_data()
    X = sp.csr_matrix(X) if sparse else X
    sw = np.random.default_rng(1).uniform(0.2, 3.0, y.shape[0]) if weights else None
    model, scale = MODELS["enet"]
    crit = CrossVal(cv=5, sample_weight=sw)
    crit.value(model, X, y, _lam(X.toarray() if sparse else X, y, scale),
               solver=CoordinateDescent())
    whole = crit.whole_gram(X, y)
    ref = heldout_gram_folds(X, y, X[:0], y[:0], True, sw)
    for name in ("G", "c", "gamma", "mu", "ybar", "offset", "target_offset"):
        a, b = getattr(whole, name), getattr(ref, name)
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12 * np.max(np.abs(b)))
    # only for the data the criterion was evaluated on
    assert crit.whole_gram(X.copy(), y) is None and crit.whole_gram(X, y.copy()) is None


@njit(cache=True)
def _step_towards_exact(G, c, w, q, l1, S, sign, L, b, rhs, partial):
    """:func:`~skhypergrad._gram_cv_kernel._exact_on_support` on the support ``S`` (the
    Lasso: no L2 weight, no bound), its factor formed first."""
    m = S.shape[0]
    rank = _factor_support(G, 0.0, S, m, L)
    return _exact_on_support(G, c, w, q, l1, 0.0, -np.inf, S, sign, m, L, rank, b, rhs,
                             partial)


def test_a_wrong_sign_pattern_steps_to_its_first_sign_change():
    """The exact solution on a support whose signs it does not keep: the coefficients move
    towards it up to the first one that reaches 0 (set to 0 exactly), the others keep
    their signs and the objective decreases; without ``partial``, nothing moves."""
    def step(G, c, w, l1, S, sign, partial):
        m = S.shape[0]
        return _step_towards_exact(G, c, w, G @ w, l1, S, sign, np.zeros((m, m)),
                                   np.empty(m), np.empty(m), partial)

    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 6))
    X[:, 1] = X[:, 0] + 0.3 * rng.standard_normal(40)  # correlated: signs can flip
    y = X @ np.array([1.0, -0.2, 0.5, 0.0, 0.0, 0.0]) + 0.1 * rng.standard_normal(40)
    G, c = X.T @ X / 40, X.T @ y / 40
    l1 = np.full(6, 0.01)
    S = np.arange(3, dtype=np.int64)
    w = np.array([0.5, 0.4, 0.3, 0.0, 0.0, 0.0])  # coefficient 1 of the wrong sign
    sign = np.sign(w[:3])

    def objective(v):
        return 0.5 * v @ G @ v - c @ v + l1 @ np.abs(v)

    exact = np.linalg.solve(G[:3, :3], c[:3] - l1[:3] * sign)
    assert np.any(exact * sign <= 0)
    kept = w.copy()
    assert step(G, c, kept, l1, S, sign, False) == 0
    np.testing.assert_array_equal(kept, w)
    moved = w.copy()
    assert step(G, c, moved, l1, S, sign, True) == 2
    t = np.min([w[a] / (w[a] - exact[a]) for a in range(3) if exact[a] * sign[a] <= 0])
    expected = w[:3] + t * (exact - w[:3])
    first = np.argmin(np.abs(expected))
    expected[first] = 0.0
    np.testing.assert_allclose(moved[:3], expected, rtol=1e-12, atol=1e-15)
    assert moved[first] == 0.0 and np.all(moved[:3] * sign >= 0)
    assert objective(moved) < objective(w)


@njit(cache=True)
def _exact_ridge_on_support(G, c, w, q, l2, S, sign, L, b, rhs):
    """:func:`~skhypergrad._gram_cv_kernel._exact_on_support` of a ridge (no L1 weight, no
    bound) on the support ``S``, its factor formed first, without a partial step."""
    m = S.shape[0]
    rank = _factor_support(G, l2, S, m, L)
    return _exact_on_support(G, c, w, q, np.zeros(G.shape[0]), l2, -np.inf, S, sign, m, L,
                             rank, b, rhs, False)


def test_ridge_exact_solution_on_a_support_binds_no_sign():
    """Without an L1 weight a coefficient is smooth through 0: the exact solution on the
    support is taken whatever its signs (a ridge whose steps stopped at each sign change
    zeroed coefficients exactly and crawled 1,000 epochs on one-hot blocks + 1e4)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 4))
    X[:, 1] = X[:, 0] + 0.3 * rng.standard_normal(40)
    y = X @ np.array([1.0, -1.0, 0.5, 0.3]) + 0.1 * rng.standard_normal(40)
    G, c, l2 = X.T @ X / 40, X.T @ y / 40, 0.01
    exact = np.linalg.solve(G + l2 * np.eye(4), c)
    w = np.abs(exact) + 0.1  # every coefficient positive: exact[1] < 0
    assert exact[1] < 0
    moved = _exact_ridge_on_support(G, c, w, G @ w, l2, np.arange(4, dtype=np.int64),
                                    np.sign(w), np.zeros((4, 4)), np.empty(4), np.empty(4))
    assert moved == 1
    np.testing.assert_allclose(w, exact, rtol=1e-12)


@pytest.mark.parametrize("alpha", [1e-3, 1e-2, 1e-1])
def test_ridge_solves_at_rounding_converge_within_their_floor(alpha, compiled_calls):
    """``load_diabetes + 1e4`` without an intercept: ``X^T X / n`` has one eigenvalue 1e9
    (the means) and the others near 1e-3, and the gradient ``c - G w`` (terms of 1e10
    cancelling) is resolved to about 1e-5: a gap of 1e-10 cannot be certified. The
    solves end on the exact solution of the fold (its held-out MSE that of the
    accurate solve of the rows, by QR, to the Gram matrix's rounding) in a few epochs,
    converged: their gaps are within the floor of that rounding (they ran 2,000 epochs
    and warned of gaps of 1e-10 to 1e-8, on the same solutions)."""
    X, y = load_diabetes(return_X_y=True)
    X = X + 1e4
    model = InnerModel("quadratic", "l2", fit_intercept=False)
    cv = KFold(5)
    lam = np.array([alpha / X.shape[0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        res = CrossVal(cv=cv).value_and_grad(model, X, y, lam,
                                             solver=CoordinateDescent(tol=1e-10),
                                             engine="aid-cg")
    assert compiled_calls and np.all(res.n_iter <= 20)
    losses = []
    for train, test in cv.split(X):
        n = train.shape[0]
        rows = np.vstack([X[train] / np.sqrt(n), np.sqrt(lam[0]) * np.eye(X.shape[1])])
        w = np.linalg.lstsq(rows, np.r_[y[train] / np.sqrt(n), np.zeros(X.shape[1])],
                            rcond=None)[0]
        losses.append(np.mean((X[test] @ w - y[test]) ** 2))
    assert res.value == pytest.approx(np.mean(losses), rel=2e-5)


@pytest.mark.parametrize("alpha", [1e-2, 1e-1])
def test_lasso_solves_at_rounding_converge_within_their_floor(alpha, compiled_calls):
    """The Lasso on ``load_diabetes + 1e4`` without an intercept: the gradient's entries
    (terms of 1e10 cancelling) are resolved to about 1e-4, and the rescaled dual point
    moves the gap by that times ``||w||_1``. The solves end in a few epochs, converged,
    on solutions whose optimality conditions hold to that resolution, checked on the
    rows in extended precision (they ran 2,000 epochs and warned of gaps of 1e-6 before,
    on the same solutions)."""
    X, y = load_diabetes(return_X_y=True)
    X = X + 1e4
    model = InnerModel("quadratic", "l1", fit_intercept=False)
    cv = KFold(5)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        res = CrossVal(cv=cv).value(model, X, y, np.array([alpha]),
                                    solver=CoordinateDescent(tol=1e-10))
    assert compiled_calls and np.all(res.n_iter <= 20)
    for (train, _), state in zip(cv.split(X), res.state):
        w = np.asarray(state.w)[:X.shape[1]]
        rows = X[train].astype(np.longdouble)
        u = np.asarray(rows.T @ (y[train] - rows @ w) / train.shape[0], dtype=np.float64)
        on = w != 0
        assert on.any()
        assert np.max(np.abs(u[on] - alpha * np.sign(w[on]))) <= 2e-4
        assert np.max(np.abs(u[~on]), initial=0.0) <= alpha + 2e-4
