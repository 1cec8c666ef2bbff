"""Memory of cross-validation on sparse X: compact per-fold warm starts.

Protects the storage of :class:`~skhypergrad.criteria.CrossVal`'s state for
sparse ``X`` (issue 7, item 4): the per-fold solutions and adjoints kept
between evaluations are stored compactly (not as dense ``p``-vectors), and
they warm-start exactly as the dense ones would (same values, same
hypergradients).
"""

import numpy as np
import pytest
import scipy.sparse as sp

from skhypergrad import _folds, _inner_solve, criteria
from skhypergrad._compact_states import _AdjointOffGradient
from skhypergrad._outer_loss import _OuterLoss
from skhypergrad.criteria import CrossVal, SparseVector
from skhypergrad.hypergrad import ITD
from skhypergrad.models import InnerModel
from skhypergrad.solvers import CoordinateDescent

from _data import make_regression_data, make_wide_sparse_data, traced_peak


def _state_bytes(x):
    return 0 if x is None else x.nbytes


def _problem(p=5_000):
    # p >> n, sparse: about 150 nonzero coefficients, 40 nonzeros per row
    X, y = make_regression_data(n=200, p=p, density=40 / p, seed=0)
    return sp.csr_matrix(X), y


def test_sparse_state_is_compact():
    X, y = _problem()
    p = X.shape[1]
    model = InnerModel(penalty="elasticnet", fit_intercept=True)
    solver = CoordinateDescent(tol=1e-8)
    crit = CrossVal(cv=4)
    res = crit.value_and_grad(model, X, y, [0.05, 0.01], solver=solver, engine="aid-cg")
    from sklearn.model_selection import KFold
    for st, (train, _) in zip(res.state, KFold(4).split(X)):
        # on the columns the fold's training rows use (3,500 of the 5,000), and the intercept
        used = np.count_nonzero(X[train].getnnz(axis=0))
        assert used < 0.8 * p
        assert isinstance(st.w, SparseVector) and st.w.size == used + 1
        assert not isinstance(st.engine_state, np.ndarray)
    stored = sum(_state_bytes(st.w) + _state_bytes(st.engine_state) for st in res.state)
    dense = 2 * len(res.state) * 8 * (p + 1)
    # the dense warm starts would be 8 (p + 1) bytes each, solution and adjoint
    assert stored < 0.15 * dense
    # dense X keeps dense arrays (cheap there, and no conversion per evaluation)
    res_dense = crit.value_and_grad(model, X.toarray(), y, [0.05, 0.01], solver=solver,
                                    engine="aid-cg")
    assert all(isinstance(st.w, np.ndarray) for st in res_dense.state)


@pytest.mark.parametrize("engine", ["aid-cg", "aid-fp"])
def test_compact_warm_starts_are_exact(engine, monkeypatch):
    X, y = _problem(p=2_000)
    model = InnerModel(penalty="elasticnet", fit_intercept=True)
    solver = CoordinateDescent(tol=1e-8)
    crit = CrossVal(cv=3)
    path = ([0.08, 0.01], [0.05, 0.01])

    def run():
        state, out = None, []
        for lam in path:
            res = crit.value_and_grad(model, X, y, lam, solver=solver, engine=engine,
                                      state=state)
            state = res.state
            out.append((res.value, res.grad, res.n_iter, res.n_iter_engine))
        val = crit.value(model, X, y, [0.03, 0.01], solver=solver, state=state)
        res = crit.value_and_grad(model, X, y, [0.03, 0.01], solver=solver, engine=engine,
                                  state=val.state)
        out.append((res.value, res.grad, res.n_iter, res.n_iter_engine))
        return out

    compact = run()
    # the same search with the warm starts kept dense (and AID-CG's adjoint made dense
    # from the whole outer gradient)
    from skhypergrad.hypergrad import aid
    monkeypatch.setattr(aid, "lazy_gradient", lambda outer_grad, w: None)
    monkeypatch.setattr(_inner_solve, "_compact", lambda x: x)
    monkeypatch.setattr(_AdjointOffGradient, "compress",
                        classmethod(lambda cls, v, w_stored, outer_grad: v))
    dense = run()
    for (v1, g1, it1, e1), (v2, g2, it2, e2) in zip(compact, dense):
        assert v1 == v2
        np.testing.assert_array_equal(g1, g2)
        np.testing.assert_array_equal(it1, it2)
        np.testing.assert_array_equal(e1, e2)


def test_sparse_vector_roundtrip():
    x = np.zeros(1000)
    x[[3, 500, 999]] = [1.5, -2.0, np.nan]
    v = SparseVector.from_dense(x)
    assert v.shape == (1000,) and v.indices.dtype == np.int32
    np.testing.assert_array_equal(np.asarray(v), x)
    idx = np.array([0, 3, 4, 500, 998, 999, 3])
    np.testing.assert_array_equal(v.take(idx), x[idx])  # read without densifying
    import pickle
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(v)).toarray(), x)


def test_aid_cg_on_the_support_equals_full_system():
    # sparse X: AID-CG solves on the columns of the support (no p-sized temporaries
    # but grad C and v); same hypergradient and adjoint as the full active-set system
    from skhypergrad.criteria import _heldout_loss
    from skhypergrad.hypergrad.aid import AIDConjugateGradient, _AdjointEngine

    X, y = _problem()
    model = InnerModel(penalty="elasticnet", fit_intercept=True)
    pgmap = model.make_map(X[:150].tocsc(), y[:150])
    outer = _heldout_loss(model, "auto", X[150:], y[150:])
    lam = np.array([0.05, 0.01])
    w = CoordinateDescent(tol=1e-12).solve(pgmap, lam).w
    engine = AIDConjugateGradient(tol=1e-12)
    assert engine._restriction(pgmap, w) is not None
    sub = engine.hypergradient(pgmap, lam, w, outer.grad)
    full = _AdjointEngine.hypergradient(engine, pgmap, lam, w, outer.grad)
    np.testing.assert_allclose(sub.grad, full.grad, rtol=1e-12)
    np.testing.assert_array_equal(sub.state, full.state)
    assert sub.n_iter == full.n_iter


@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize("fit_intercept", [False, True])
def test_heldout_gradient_from_compact_w_is_exact(fmt, fit_intercept):
    # the held-out gradient at a compact w, written into its result without a
    # p-sized temporary, equals the dense computation bit for bit
    from skhypergrad._design import Design
    from skhypergrad.datafits import Quadratic

    X, y = _problem(p=3_000)
    X = X.asformat(fmt)
    rng = np.random.default_rng(0)
    w = np.zeros(X.shape[1] + fit_intercept)
    w[rng.choice(X.shape[1], 40, replace=False)] = rng.standard_normal(40)
    if fit_intercept:
        w[-1] = 0.7
    outer = _OuterLoss(Design(X, fit_intercept=fit_intercept), y, Quadratic())
    dense = Design(X, fit_intercept=fit_intercept).rmatvec(
        Quadratic().raw_grad(y, Design(X, fit_intercept=fit_intercept).matvec(w)))
    for w_in in (w, SparseVector.from_dense(w)):
        np.testing.assert_array_equal(outer.grad(w_in), dense)


@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_stored_adjoint_take_is_exact(fmt):
    # a stored adjoint read on a few entries, from those columns of the held-out rows
    # only, equals the entries of the dense adjoint bit for bit
    from skhypergrad._design import Design
    from skhypergrad.datafits import Quadratic

    X, y = _problem(p=3_000)
    X = X.asformat(fmt)
    rng = np.random.default_rng(1)
    w = np.zeros(X.shape[1] + 1)
    w[rng.choice(X.shape[1], 40, replace=False)] = rng.standard_normal(40)
    w[-1] = 0.3
    outer = _OuterLoss(Design(X, fit_intercept=True), y, Quadratic())
    v = outer.grad(w)
    changed = np.sort(rng.choice(v.shape[0], 25, replace=False))
    v[changed] += rng.standard_normal(25)
    stored = _AdjointOffGradient.compress(v, SparseVector.from_dense(w), outer.grad)
    assert isinstance(stored, _AdjointOffGradient)
    idx = np.concatenate([changed[::2], rng.choice(v.shape[0] - 1, 30, replace=False),
                          [v.shape[0] - 1]])
    lazy = stored.lazy(outer.grad)
    np.testing.assert_array_equal(lazy.take(idx), v[idx])
    np.testing.assert_array_equal(np.asarray(lazy), v)


def test_aid_cg_and_crossval_peaks_on_wide_sparse_x():
    # p >> nnz. AID-CG on the support: the adjoint is the only p-sized array it makes
    # (not also the held-out gradient kept during the solve); a cross-validation
    # evaluation holds at most about two p-vectors per fold at a time (with the
    # fold's CSC indptr, half of one): the dense w is freed before the adjoint is
    # compressed, and the solve keeps no p-sized curvature bounds
    from skhypergrad.criteria import _heldout_loss
    from skhypergrad.hypergrad.aid import AIDConjugateGradient

    X, y = make_wide_sparse_data()
    model = InnerModel(penalty="elasticnet", fit_intercept=True)
    solver, lam = CoordinateDescent(tol=1e-8), np.array([0.01, 0.001])
    pgmap = model.make_map(X[:300].tocsc(), y[:300])
    w = solver.solve(pgmap, lam).w
    outer = _heldout_loss(model, "auto", X[300:], y[300:])
    engine = AIDConjugateGradient()
    res, peak = traced_peak(engine.hypergradient, pgmap, lam, w, outer.grad)
    assert res.state.shape == w.shape and peak < 1.5 * w.nbytes
    del res
    crit = CrossVal(cv=3)
    first = crit.value_and_grad(model, X, y, lam, solver=solver, engine=engine)
    res, peak = traced_peak(crit.value_and_grad, model, X, y, 1.1 * lam, solver=solver,
                            engine=engine, state=first.state)
    assert np.all(res.n_iter > 0) and peak < 3.2 * w.nbytes


@pytest.mark.parametrize("cv", ["kfold", "stratified", "shuffled", "shuffle_split",
                                "overlapping"])
def test_fold_splits_equal_the_splitter(cv):
    # the folds are kept as the test fold of every row (2 n bytes) when they partition
    # the rows (every BaseCrossValidator); the indices made per fold are the splitter's
    from sklearn.model_selection import KFold, ShuffleSplit, StratifiedKFold

    n = 103
    y = np.arange(n) % 3
    splitter = {
        "kfold": KFold(4), "stratified": StratifiedKFold(3),
        "shuffled": KFold(5, shuffle=True, random_state=0),
        "shuffle_split": ShuffleSplit(3, random_state=0),
        "overlapping": [(np.arange(50, n), np.arange(50)), (np.arange(40), np.arange(40, n)),
                        (np.arange(30, n), np.arange(30))],
    }[cv]
    given = list(splitter.split(np.zeros((n, 1)), y)) if hasattr(splitter, "split") \
        else splitter
    splits = criteria._FoldSplits(iter(given), n)
    assert len(splits) == len(given)
    for (train, test), (tr, te) in zip(given, splits):
        assert tr.dtype == te.dtype == np.int32
        np.testing.assert_array_equal(tr, train)
        np.testing.assert_array_equal(te, test)
    made = sum(pair is None for pair in splits.pairs)
    assert made == {"kfold": 4, "stratified": 3, "shuffled": 5, "shuffle_split": 0,
                    "overlapping": 1}[cv]


def test_adjoint_shares_the_support_indices_of_w():
    # AID-CG's adjoint differs from the held-out gradient on the support and the
    # intercept, the entries of the compact w: one index array for both, also pickled
    # (the adjoint's w is the same solution in the centred fold's coordinates: another
    # intercept value, the same entries)
    import pickle

    X, y = _problem()
    model = InnerModel(penalty="elasticnet", fit_intercept=True)
    res = CrossVal(cv=4).value_and_grad(model, X, y, [0.05, 0.01],
                                        solver=CoordinateDescent(tol=1e-8), engine="aid-cg")
    for st in res.state:
        adjoint = st.engine_state
        assert isinstance(adjoint, _AdjointOffGradient)
        assert adjoint.indices is st.w.indices
        assert adjoint.nbytes == adjoint.values.nbytes
        w2, adjoint2 = pickle.loads(pickle.dumps((st.w, adjoint)))
        assert adjoint2.indices is w2.indices and adjoint2.w.indices is w2.indices
        np.testing.assert_array_equal(adjoint2.w.values[:-1], w2.values[:-1])


@pytest.mark.parametrize("fit_intercept", [False, True])
@pytest.mark.parametrize("kind", ["elasticnet_squared", "logistic"])
@pytest.mark.parametrize("on_columns", [False, True])
def test_heldout_rows_read_in_place_equal_the_copy(fit_intercept, kind, on_columns):
    # a fold's held-out loss reads its rows of the CSR X in place: value, gradient
    # (dense and compact w) and gradient entries equal those of the copy X[test], bit
    # for bit (rows in any order); for a fold trained on some columns only (those its
    # training rows use), those of the copy X[test][:, columns]
    from skhypergrad.criteria import _heldout_loss

    X, y = _problem(p=3_000)
    if kind == "logistic":
        y = np.where(y > np.median(y), 1.0, -1.0)
        model = InnerModel(datafit="logistic", penalty="l1", fit_intercept=fit_intercept)
    else:
        model = InnerModel(penalty="elasticnet", fit_intercept=fit_intercept)
    model = model.bind(y)
    y_enc = model.encode(y)
    rng = np.random.default_rng(2)
    test = rng.permutation(X.shape[0])[:60].astype(np.int32)
    if on_columns:
        columns = np.sort(rng.choice(X.shape[1], 1_800, replace=False)).astype(np.int32)
        copy = _heldout_loss(model, "auto", X[test][:, columns], y_enc[test])
    else:
        columns, copy = None, _heldout_loss(model, "auto", X[test], y_enc[test])
    rows = _heldout_loss(model, "auto", X, y_enc[test], rows=test, columns=columns)
    assert rows.rows is not None and rows.design.X is X
    p = X.shape[1] if columns is None else columns.shape[0]
    assert rows.n_features == p
    w = np.zeros(p + fit_intercept)
    w[rng.choice(p, 50, replace=False)] = 0.1 * rng.standard_normal(50)
    if fit_intercept:
        w[-1] = 0.2
    idx = np.concatenate([rng.choice(w.shape[0], 40), [w.shape[0] - 1, 7, 7]])
    for w_in in (w, SparseVector.from_dense(w)):
        assert rows.value(w_in) == copy.value(w_in)
        np.testing.assert_array_equal(rows.grad(w_in), copy.grad(w_in))
        np.testing.assert_array_equal(rows.grad_take(w_in, idx), copy.grad_take(w_in, idx))


@pytest.mark.parametrize("engine", ["aid-cg", "aid-fp", "itd"])
@pytest.mark.parametrize("kind", ["elasticnet", "logistic", "weighted"])
def test_folds_on_used_columns_equal_the_full_folds(engine, kind, monkeypatch):
    # wide sparse X: each fold trained on the columns its rows use gives the value and
    # hypergradient of the fold on all p columns (empty columns have zero coefficients)
    X, y = make_regression_data(n=60, p=1_500, density=6 / 1_500, seed=1)
    X = sp.csr_matrix(X)
    if kind == "logistic":
        y = np.where(y > np.median(y), 1.0, -1.0)
        model = InnerModel(datafit="logistic", penalty="elasticnet", fit_intercept=True)
        lam = [0.01, 0.01]
    elif kind == "weighted":  # one hyperparameter per feature: all columns kept
        model, lam = InnerModel(penalty="weighted_l1", fit_intercept=True), np.full(1_500, 0.02)
    else:
        model, lam = InnerModel(penalty="elasticnet", fit_intercept=True), [0.02, 0.01]
    solver = CoordinateDescent(tol=1e-12)  # CSC folds (ITD iterates from the warm start)
    if engine == "itd":  # a fixed number of steps: the same on both column sets
        # (reverse mode for the weighted Lasso: forward needs a tangent per hyperparameter)
        engine = ITD(n_iter=100, mode="reverse" if kind == "weighted" else "forward")
    crit = CrossVal(cv=3)
    used = crit.value_and_grad(model, X, y, lam, solver=solver, engine=engine)
    sizes = {st.w.size for st in used.state}
    with monkeypatch.context() as m:
        m.setattr(_folds, "_used_columns", lambda X: (X, None))
        # (a new criterion: one keeps its folds' problems between evaluations)
        full = CrossVal(cv=3).value_and_grad(model, X, y, lam, solver=solver, engine=engine)
    assert {st.w.size for st in full.state} == {X.shape[1] + 1}
    if kind == "weighted":
        assert sizes == {X.shape[1] + 1}
    else:
        assert max(sizes) < 0.8 * X.shape[1]
    np.testing.assert_allclose(used.value, full.value, rtol=1e-9)
    np.testing.assert_allclose(used.grad, full.grad, rtol=1e-6, atol=1e-12)
    assert np.linalg.norm(used.grad) > 0


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_prepared_fold_rows_copied_once_in_the_solvers_layout(dtype):
    """A search's dense fold holds its training rows once, in the solvers' layout
    (Fortran order, float64: ``X[train]`` exactly), which its map centres in place (no
    second copy); with a preprocessing step the rows it reads stay as indexed."""
    from sklearn.preprocessing import StandardScaler

    from skhypergrad._prepared_folds import PreparedFolds, prepare_fold

    rng = np.random.default_rng(0)
    X = rng.standard_normal((103, 7)).astype(dtype)  # C order
    y = X[:, 0] + 0.1 * rng.standard_normal(103)
    train, test = np.arange(3, 103, 2), np.arange(0, 103, 2)
    fold = prepare_fold(None, X, y, train, test, 1.0)
    assert fold.X_train.flags.f_contiguous and fold.X_train.dtype == np.float64
    np.testing.assert_array_equal(fold.X_train, X[train].astype(np.float64))
    np.testing.assert_array_equal(fold.X_test, X[test].astype(np.float64))
    rows = fold.X_train
    # one L2 weight per feature: solved on the rows (a uniform one runs compiled, no map)
    model = InnerModel(penalty="weighted_l2", fit_intercept=True)
    (pgmap,) = PreparedFolds([fold]).training_maps(model, CoordinateDescent())
    assert pgmap.design.X is rows  # centred in place
    scaled = prepare_fold(StandardScaler(), X, y, train, test, 1.0)
    np.testing.assert_allclose(scaled.X_train, StandardScaler().fit_transform(X[train]),
                               rtol=1e-6 if dtype == np.float32 else 1e-15)
