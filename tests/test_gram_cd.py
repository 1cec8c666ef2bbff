"""Coordinate descent on the Gram matrix (``CoordinateDescent(precompute=...)``).

Protects: the Gram path (least squares, dense ``X``) reaches the same solution as
the residual path and as scikit-learn, with and without intercept, for the
Lasso, the elastic net and the weighted Lasso, warm-started or not, including
``n < p`` when forced; "auto" picks it only where it pays (``n > p``, from the
second solve on a design; a sparse ``X`` without an L1 term); bad values are refused.
"""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import ElasticNet as SkElasticNet
from sklearn.linear_model import Ridge as SkRidge

from skhypergrad.datafits import Logistic, Quadratic
from skhypergrad.fixed_point import ProxGradMap
from skhypergrad.penalties import L1, L2, ElasticNetPenalty, WeightedL1, enet_sklearn_from_lam
from skhypergrad.solvers import duality_gap
from skhypergrad.solvers._cd_problem import _Problem
from skhypergrad.solvers.coordinate_descent import CoordinateDescent

from _data import make_classification_data, make_regression_data


def _problem(n, p, penalty, fit_intercept, seed=0):
    X, y = make_regression_data(n=n, p=p, seed=seed)
    X[:, 1] = 0.9 * X[:, 0] + 0.1 * X[:, 1]  # correlated columns: many epochs
    return ProxGradMap(Quadratic(), penalty, X, y, fit_intercept=fit_intercept), X, y


_LAMS = {"l1": np.array([0.05]), "enet": np.array([0.05, 0.02]), "weighted": None}


@pytest.mark.parametrize("fit_intercept", [False, True])
@pytest.mark.parametrize("kind", ["l1", "enet", "weighted"])
@pytest.mark.parametrize("n, p", [(120, 40), (30, 60)])
def test_gram_path_reaches_the_residual_paths_solution(kind, fit_intercept, n, p):
    penalty = {"l1": L1(), "enet": ElasticNetPenalty(), "weighted": WeightedL1()}[kind]
    pgmap, X, y = _problem(n, p, penalty, fit_intercept)
    lam = _LAMS[kind] if kind != "weighted" else np.linspace(0.02, 0.2, p)
    gram = CoordinateDescent(tol=1e-12, precompute=True).solve(pgmap, lam)
    plain = CoordinateDescent(tol=1e-12, precompute=False).solve(pgmap, lam)
    assert gram.converged and plain.converged
    scale = np.mean(y ** 2) / 2  # the objective at w = 0, what tol is relative to
    primal_gram, _, gap, _ = duality_gap(pgmap, gram.w, lam)
    primal_plain = duality_gap(pgmap, plain.w, lam)[0]
    assert gap <= 1e-12 * scale
    assert abs(primal_gram - primal_plain) <= 2e-12 * scale
    # the coefficients agree as far as the conditioning allows at that gap (l2 = 0.02
    # with n < p: sqrt(2 gap / l2) ~ 1e-5)
    np.testing.assert_allclose(gram.w, plain.w, atol=1e-4 * np.abs(plain.w).max())
    # warm start at a nearby lam lands on the same point as a cold start
    warm = CoordinateDescent(tol=1e-12, precompute=True).solve(pgmap, lam * 1.3, gram.w)
    cold = CoordinateDescent(tol=1e-12, precompute=False).solve(pgmap, lam * 1.3)
    assert abs(duality_gap(pgmap, warm.w, lam * 1.3)[0]
               - duality_gap(pgmap, cold.w, lam * 1.3)[0]) <= 2e-12 * scale


def test_gram_path_matches_sklearn():
    pgmap, X, y = _problem(200, 30, ElasticNetPenalty(), True)
    lam = np.array([0.03, 0.01])
    res = CoordinateDescent(tol=1e-12, precompute=True).solve(pgmap, lam)
    alpha, l1_ratio = enet_sklearn_from_lam(lam)
    sk = SkElasticNet(alpha=alpha, l1_ratio=l1_ratio, tol=1e-14, max_iter=100_000).fit(X, y)
    np.testing.assert_allclose(res.w[:-1], sk.coef_, atol=1e-7)
    assert res.w[-1] == pytest.approx(sk.intercept_, abs=1e-7)


def test_auto_uses_the_gram_matrix_only_where_it_pays():
    lam = np.array([0.05])
    tall, _, _ = _problem(120, 40, L1(), True)
    wide, _, _ = _problem(30, 60, L1(), True)
    X, y = make_classification_data(n=120, p=10)
    logistic = ProxGradMap(Logistic(), L1(), X, y, fit_intercept=True)
    assert _Problem.build(tall, lam).gram is None  # a single solve: not worth O(n p^2)
    assert _Problem.build(tall, lam).gram is not None  # the second one on the design
    assert _Problem.build(wide, lam).gram is None
    assert _Problem.build(wide, lam).gram is None
    assert _Problem.build(wide, lam, precompute=True).gram is not None
    assert _Problem.build(tall, lam, precompute=False).gram is None
    assert _Problem.build(logistic, lam, precompute=True).gram is None  # least squares only


@pytest.mark.parametrize("bad", ["yes", None, 2])
def test_bad_precompute_is_refused(bad):
    pgmap, _, _ = _problem(40, 10, L1(), True)
    with pytest.raises(ValueError, match="precompute"):
        CoordinateDescent(precompute=bad).solve(pgmap, np.array([0.1]))


@pytest.mark.parametrize("solve", ["cholesky", "cg"])
@pytest.mark.parametrize("fit_intercept", [False, True])
def test_aid_cg_reads_the_solvers_gram_matrix(fit_intercept, solve, monkeypatch):
    """The least-squares Hessian on the support, from the cached Gram matrix, gives the
    hypergradient of the direct product ``[X_S, 1]^T [X_S, 1] / n``: factored (small
    support) or in the products of conjugate gradients (a support above the direct
    solve's limit, here forced)."""
    from skhypergrad import AIDConjugateGradient
    from skhypergrad._design import cached_gram
    from skhypergrad.hypergrad import _active_set

    if solve == "cg":
        monkeypatch.setattr(_active_set, "_DIRECT_MAX", 0)

    pgmap, X, y = _problem(150, 30, ElasticNetPenalty(), fit_intercept)
    fresh = ProxGradMap(Quadratic(), ElasticNetPenalty(), X.copy(), y, fit_intercept=fit_intercept)
    lam = np.array([0.03, 0.01])
    w = CoordinateDescent(tol=1e-13, precompute=True).solve(pgmap, lam).w
    assert cached_gram(pgmap.design) is not None and cached_gram(fresh.design) is None
    at_solution = [m.linearize(w, lam, at_solution=True) for m in (pgmap, fresh)]
    np.testing.assert_allclose(at_solution[0].value, at_solution[1].value, rtol=1e-12,
                               atol=1e-15)
    np.testing.assert_array_equal(at_solution[0].jac_diag, at_solution[1].jac_diag)
    outer = np.random.default_rng(0).standard_normal(w.shape[0])
    engine = AIDConjugateGradient(tol=1e-13)
    with_gram = engine.hypergradient(pgmap, lam, w, lambda _: outer.copy()).grad
    direct = engine.hypergradient(fresh, lam, w, lambda _: outer.copy()).grad
    assert cached_gram(fresh.design) is None
    np.testing.assert_allclose(with_gram, direct, rtol=1e-10)


def _fold_designs(X, subsets):
    from skhypergrad._design import Design
    return [Design(np.asfortranarray(X[rows]), fit_intercept=True) for rows in subsets]


@pytest.mark.parametrize("splitter", ["kfold", "shuffle", "bootstrap", "small"])
def test_row_subset_grams_equal_the_direct_products(splitter):
    """Seeded from the Gram of X (``G - X_C^T X_C``) when the subset is the complement
    of a smaller set of rows; computed directly otherwise (rows left out of both
    sides, repeated rows, a subset smaller than its complement)."""
    from sklearn.model_selection import KFold, ShuffleSplit

    from skhypergrad._design import cached_gram, seed_row_subset_grams

    X, _ = make_regression_data(n=90, p=12, seed=3)
    rng = np.random.default_rng(0)
    subsets = {
        "kfold": [train for train, _ in KFold(5).split(X)],
        "shuffle": [train for train, _ in ShuffleSplit(3, train_size=0.6, test_size=0.2,
                                                      random_state=0).split(X)],
        "bootstrap": [rng.integers(0, 90, size=80) for _ in range(2)],
        "small": [np.arange(30)],
    }[splitter]
    designs = _fold_designs(X, subsets)
    seed_row_subset_grams(X, designs, subsets)
    for design, rows in zip(designs, subsets):
        G, colmeans = cached_gram(design)
        Xk = X[rows]
        np.testing.assert_allclose(G, Xk.T @ Xk / len(rows), rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(colmeans, Xk.mean(axis=0), rtol=1e-12, atol=1e-14)


def test_cross_validation_solves_its_folds_on_the_gram_from_the_first_solve():
    """CrossVal keeps its dense least-squares folds and seeds their Gram matrices: the
    first evaluation already runs on them (and gives the residual path's value)."""
    from skhypergrad import CrossVal, InnerModel
    from skhypergrad._design import cached_gram

    X, y = make_regression_data(n=150, p=20, seed=1)
    model = InnerModel(Quadratic(), ElasticNetPenalty(), fit_intercept=True)
    lam = np.array([0.03, 0.01])
    criterion = CrossVal(cv=3)

    class PythonPath(CoordinateDescent):
        """Solves that no compiled Gram evaluation stands for (skhypergrad._gram_cv)."""

        def gram_budget(self):
            return None

    gram = criterion.value(model, X, y, lam, solver=PythonPath(tol=1e-12))
    designs = [pgmap.design for pgmap, _ in criterion._cache[2]]
    assert all(cached_gram(d) is not None for d in designs)
    assert all(d.X.flags.f_contiguous for d in designs)  # as the solver reads it: no copy
    plain = CrossVal(cv=3).value(model, X, y, lam,
                                 solver=CoordinateDescent(tol=1e-12, precompute=False))
    np.testing.assert_allclose(gram.values, plain.values, rtol=1e-5)  # gap 1e-12: w to ~1e-6


def test_gram_product_reads_the_working_sets_block_in_place():
    from skhypergrad.solvers._gram_kernels import gram_product

    rng = np.random.default_rng(0)
    A = rng.standard_normal((30, 12))
    G = np.ascontiguousarray(A.T @ A)
    ws = np.array([0, 3, 4, 9, 11])
    x = rng.standard_normal(ws.shape[0])
    out = gram_product(G, ws, x, np.empty(ws.shape[0]))
    np.testing.assert_allclose(out, G[np.ix_(ws, ws)] @ x, rtol=1e-13)


@pytest.mark.parametrize("fit_intercept", [False, True])
def test_ridge_on_the_gram_matrix_is_one_linear_solve(fit_intercept):
    """Without an L1 term (the L2 penalty, positive weights), the working set's model is
    minimized by one linear solve: scikit-learn's ``Ridge`` to 1e-10 on nearly collinear
    columns at a small weight, in one round, where the residual path's accelerated
    epochs take about a hundred."""
    X, y = make_regression_data(n=120, p=30, seed=1)
    X[:, 1] = X[:, 0] + 1e-3 * X[:, 1]
    lam = np.array([1e-4])
    pgmap = ProxGradMap(Quadratic(), L2(), X, y, fit_intercept=fit_intercept)
    gram = CoordinateDescent(tol=1e-12, precompute=True).solve(pgmap, lam)
    plain = CoordinateDescent(tol=1e-12, precompute=False).solve(pgmap, lam)
    assert gram.converged and gram.n_iter <= 3 and plain.n_iter >= 50
    sk = SkRidge(alpha=lam[0] * X.shape[0], fit_intercept=fit_intercept, solver="cholesky",
                 tol=1e-14).fit(X, y)
    coef = gram.w[:-1] if fit_intercept else gram.w
    np.testing.assert_allclose(coef, sk.coef_, rtol=1e-10, atol=1e-10 * np.abs(sk.coef_).max())
    if fit_intercept:
        assert gram.w[-1] == pytest.approx(sk.intercept_, rel=1e-10, abs=1e-10)


@pytest.mark.parametrize("fit_intercept, center", [(False, False), (True, False),
                                                   (True, True)])
def test_sparse_ridge_on_the_gram_matrix_of_its_columns(fit_intercept, center):
    """A sparse ``X`` without an L1 term runs on the Gram matrix of its centred columns
    (one sparse product, ``X`` never densified): one linear solve, scikit-learn's
    ``Ridge`` on the dense ``X`` and the dense Gram path to 1e-10 on nearly collinear
    columns, one of them stored on every row with a large mean; the solve hands the
    datafit's Hessian ``[X, 1]^T [X, 1] / n`` of the centred columns to the engine."""
    X, y = make_regression_data(n=150, p=40, seed=2, density=0.2)
    rng = np.random.default_rng(2)
    dense_col = 50.0 + rng.standard_normal(X.shape[0])
    X = sp.hstack([X, X[:, :1] + 1e-3 * X[:, 1:2], dense_col[:, None]], format="csc")
    y = y + 0.3 * dense_col
    lam = np.array([1e-4])
    pgmap = ProxGradMap(Quadratic(), L2(), X, y, fit_intercept=fit_intercept, center=center)
    gram = CoordinateDescent(tol=1e-12).solve(pgmap, lam)
    plain = CoordinateDescent(tol=1e-12, precompute=False).solve(pgmap, lam)
    assert gram.converged and gram.n_iter <= 3 and plain.n_iter >= 50
    Xd = X.toarray()
    dense = CoordinateDescent(tol=1e-12, precompute=True).solve(
        ProxGradMap(Quadratic(), L2(), Xd, y, fit_intercept=fit_intercept, center=center),
        lam)
    sk = SkRidge(alpha=lam[0] * X.shape[0], fit_intercept=fit_intercept, solver="cholesky",
                 tol=1e-14).fit(Xd, y)
    p = X.shape[1]
    scale = np.abs(sk.coef_).max()
    np.testing.assert_allclose(gram.w[:p], sk.coef_, rtol=1e-10, atol=1e-10 * scale)
    np.testing.assert_allclose(gram.w, dense.w, rtol=1e-10, atol=1e-10 * scale)
    if fit_intercept:
        assert pgmap.design.original_intercept(gram.w) == pytest.approx(sk.intercept_,
                                                                         rel=1e-10)
    Xc = Xd - Xd.mean(axis=0) if pgmap.design.sparse_offset is not None else Xd
    A = np.hstack([Xc, np.ones((X.shape[0], 1))]) if fit_intercept else Xc
    np.testing.assert_allclose(gram.reference, A.T @ A / X.shape[0], rtol=1e-10,
                               atol=1e-12 * np.abs(A.T @ A).max() / X.shape[0])
