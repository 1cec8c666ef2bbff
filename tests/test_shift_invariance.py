"""Protects the intercept's invariance (:mod:`skhypergrad._design`, centred designs): with
``fit_intercept=True``, shifting the columns of ``X`` (dense, or sparse: centred
implicitly) or the target changes neither the chosen hyperparameters, nor ``coef_``,
nor the work done; the intercept absorbs the shift exactly."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import ElasticNet, Lasso, LogisticRegression
from sklearn.model_selection import KFold, StratifiedKFold

from skhypergrad import (SURE, CrossVal, ElasticNetHyperGrad, HeldOut, HyperGradSearchCV,
                         LassoHyperGrad, LogisticRegressionHyperGrad, WeightedLassoHyperGrad,
                         hypergradient)
from skhypergrad import ElasticNetPenalty as EnetPenalty
from skhypergrad import Logistic, Multinomial, ProxGradMap, Quadratic
from skhypergrad._design import Design, centred, gram_of, seed_row_subset_grams
from skhypergrad.solvers import CoordinateDescent, ProxGradient, StochasticProxGradient

SHIFTS = [(100.0, 0.0), (1e4, 0.0), (0.0, 1e5)]
#: dense, and sparse with every entry stored (the shifted columns have no zeros)
STORAGES = ["dense", "csr"]


def _stored(X, storage):
    return sp.csr_matrix(X) if storage == "csr" else X


def _data(n=90, p=8, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    beta = np.zeros(p)
    beta[:3] = [1.5, -1.0, 0.5]
    return X, X @ beta + 2.0 * rng.standard_normal(n)


def _epochs(est):
    return sum(h["n_iter_inner"] for h in est.history_)


@pytest.mark.parametrize("storage", STORAGES)
@pytest.mark.parametrize("Est, shift_x, shift_y, n_classes", [
    (Est, sx, sy, n_classes)
    for Est, n_classes in ((ElasticNetHyperGrad, 0), (LassoHyperGrad, 0),
                           (WeightedLassoHyperGrad, 0), (LogisticRegressionHyperGrad, 2),
                           (LogisticRegressionHyperGrad, 3))
    for sx, sy in SHIFTS if not (n_classes and sy)])  # labels: no shift
def test_estimators_do_not_see_a_shift(Est, shift_x, shift_y, n_classes, storage):
    X, y = _data()
    if n_classes:
        y = np.searchsorted(np.quantile(y, np.linspace(0, 1, n_classes + 1)[1:-1]), y)
        cv = StratifiedKFold(3, shuffle=True, random_state=0)
    else:
        cv = KFold(3, shuffle=True, random_state=0)
    kw = {"max_iter": 8, "random_state": 0} if Est is WeightedLassoHyperGrad else {}
    ref = Est(cv=cv, **kw).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est = Est(cv=cv, **kw).fit(_stored(X + shift_x, storage), y + shift_y)
    np.testing.assert_allclose(est.lam_, ref.lam_, rtol=1e-6)
    scale = np.abs(ref.coef_).max()
    np.testing.assert_allclose(est.coef_, ref.coef_, rtol=1e-6, atol=1e-6 * scale)
    expected = ref.intercept_ + shift_y - shift_x * np.sum(ref.coef_, axis=-1)
    if np.ndim(expected) and expected.shape[0] > 1:
        expected = expected - expected.mean()  # multinomial intercepts: reported with mean 0
    np.testing.assert_allclose(est.intercept_, expected,
                               rtol=1e-6, atol=1e-6 * max(1.0, np.abs(expected).max()))
    assert est.best_loss_ == pytest.approx(ref.best_loss_, rel=1e-6)
    assert _epochs(est) <= 2 * _epochs(ref)


@pytest.mark.parametrize("storage", STORAGES)
@pytest.mark.parametrize("Est, shift_x, shift_y", [
    (Est, sx, sy) for Est in (ElasticNet, LogisticRegression) for sx, sy in SHIFTS
    if not (Est is LogisticRegression and sy)])
def test_search_cv_does_not_see_a_shift(Est, shift_x, shift_y, storage):
    X, y = _data()
    if Est is LogisticRegression:
        y = (y > np.median(y)).astype(int)
        est = LogisticRegression(solver="saga", l1_ratio=0.5,
                                 max_iter=10_000)
        names, scoring = ("C", "l1_ratio"), "neg_log_loss"
        cv = StratifiedKFold(3, shuffle=True, random_state=0)
    else:
        est, names = ElasticNet(), ("alpha", "l1_ratio")
        cv, scoring = KFold(3, shuffle=True, random_state=0), "neg_mean_squared_error"
    ref = HyperGradSearchCV(est, cv=cv, max_iter=10, scoring=scoring).fit(X, y)
    search = HyperGradSearchCV(est, cv=cv, max_iter=10, scoring=scoring).fit(
        _stored(X + shift_x, storage), y + shift_y)
    for name in names:
        assert search.best_params_[name] == pytest.approx(ref.best_params_[name], rel=1e-6)
    assert search.best_score_ == pytest.approx(ref.best_score_, rel=1e-6)


@pytest.mark.parametrize("storage", STORAGES)
@pytest.mark.parametrize("criterion", [HeldOut, CrossVal, SURE], ids=lambda c: c.__name__)
@pytest.mark.parametrize("shift_x, shift_y", SHIFTS)
def test_hypergradient_does_not_see_a_shift(criterion, shift_x, shift_y, storage):
    X, y = _data()
    X_val, y_val = _data(seed=1)

    def crit(sx, sy):
        if criterion is HeldOut:
            return HeldOut(_stored(X_val + sx, storage), y_val + sy)
        return CrossVal(cv=3) if criterion is CrossVal else SURE(sigma=2.0)

    model = ElasticNet(alpha=0.2, l1_ratio=0.7)
    ref = hypergradient(model, X, y, criterion=crit(0.0, 0.0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # X + 1e4: the rounding floor
        value, grad = hypergradient(model, _stored(X + shift_x, storage), y + shift_y,
                                    criterion=crit(shift_x, shift_y))
    assert value == pytest.approx(ref[0], rel=1e-6)
    np.testing.assert_allclose(grad, ref[1], rtol=1e-5, atol=1e-8 * np.abs(ref[1]).max())


@pytest.mark.parametrize("storage", STORAGES)
@pytest.mark.parametrize("criterion", [HeldOut, CrossVal], ids=lambda c: c.__name__)
@pytest.mark.parametrize("shift_x", [100.0, 1e4])
def test_logistic_hypergradient_does_not_see_a_shift(criterion, shift_x, storage):
    X, t = _data()
    X_val, t_val = _data(seed=1)
    y, y_val = (t > np.median(t)).astype(int), (t_val > np.median(t)).astype(int)

    def crit(sx):
        return HeldOut(_stored(X_val + sx, storage), y_val) if criterion is HeldOut \
            else CrossVal(cv=3)

    model = LogisticRegression(solver="saga", C=0.5, l1_ratio=0.5)
    ref = hypergradient(model, X, y, criterion=crit(0.0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # X + 1e4: the rounding floor
        value, grad = hypergradient(model, _stored(X + shift_x, storage), y,
                                    criterion=crit(shift_x))
    assert value == pytest.approx(ref[0], rel=1e-6)
    np.testing.assert_allclose(grad, ref[1], rtol=1e-5, atol=1e-8 * np.abs(ref[1]).max())


@pytest.mark.parametrize("storage", STORAGES)
def test_hypergradient_on_a_shifted_target_is_the_closed_form(storage):
    """y + 1e5 with a signal of standard deviation 2, default settings: value and
    gradient of the held-out MSE match the active-set formula to 1e-4."""
    X, y = _data(n=60, p=10)
    X_val, y_val = _data(n=50, p=10, seed=1)
    y, y_val = y + 1e5, y_val + 1e5
    l1, l2 = 0.1, 0.01
    value, grad = hypergradient(ElasticNet(alpha=l1 + l2, l1_ratio=l1 / (l1 + l2)),
                                _stored(X, storage), y,
                                criterion=HeldOut(_stored(X_val, storage), y_val))
    sk = ElasticNet(alpha=l1 + l2, l1_ratio=l1 / (l1 + l2), tol=1e-14, max_iter=10**6)
    sk.fit(X, y)
    S = np.flatnonzero(sk.coef_)
    n = X.shape[0]
    Xc = X[:, S] - X[:, S].mean(axis=0)
    H = Xc.T @ Xc / n + l2 * np.eye(S.size)
    r = X_val @ sk.coef_ + sk.intercept_ - y_val
    # the held-out gradient in the coefficients through the intercept b = mean(y - X w)
    Xv = X_val[:, S] - X[:, S].mean(axis=0)
    g = 2.0 * Xv.T @ r / len(y_val)
    a = np.linalg.solve(H, g)
    exact = np.array([-np.sign(sk.coef_[S]) @ a * l1, -sk.coef_[S] @ a * l2])
    assert value == pytest.approx(np.mean(r ** 2), rel=1e-4)
    np.testing.assert_allclose(grad, exact, rtol=1e-4)


def test_centred_design_round_trip_and_predictions():
    X, _ = _data()
    X = X + 50.0
    Xc, mu = centred(X, True)
    np.testing.assert_allclose(mu, X.mean(axis=0))
    np.testing.assert_allclose(Xc, X - mu)
    design = Design(Xc, True, 1, mu)
    w = np.append(np.arange(1.0, 9.0), 3.0)  # coef, then the original intercept
    w_map = design.from_original(w)
    np.testing.assert_allclose(design.to_original(w_map), w)
    np.testing.assert_allclose(design.matvec(w_map), X @ w[:-1] + w[-1])
    assert centred(X, False)[1] is None


def test_fold_grams_of_centred_designs():
    """The folds' Gram matrices seeded from the whole X's equal those of the centred folds."""
    X, _ = _data(n=120, p=6)
    X = X + 1e3
    splits = [np.setdiff1d(np.arange(120), np.arange(k, 120, 4)) for k in range(4)]
    designs = []
    for rows in splits:
        Xk, mu = centred(X[rows], True)
        designs.append(Design(Xk, True, 1, mu))
    seed_row_subset_grams(X, designs, splits)
    for design in designs:
        G, means = gram_of(design)
        np.testing.assert_allclose(G, design.X.T @ design.X / design.n_samples, rtol=1e-9,
                                   atol=1e-9)
        np.testing.assert_allclose(means, 0.0, atol=1e-9)


def test_lasso_is_sklearns_on_shifted_columns():
    X, y = _data()
    est = LassoHyperGrad(cv=3).fit(X + 1e4, y)
    sk = Lasso(alpha=est.alpha_, tol=1e-12, max_iter=10**6).fit(X + 1e4, y)
    np.testing.assert_allclose(est.coef_, sk.coef_, rtol=1e-6, atol=1e-8)
    assert est.intercept_ == pytest.approx(sk.intercept_, rel=1e-8)


def _sparse_shifted(n=80, p=12, seed=0, density=0.3, shift=100.0):
    """A sparse ``X`` whose stored entries have mean ``shift`` (its columns' means are
    large against their spread, the case of shifted data), in CSR."""
    rng = np.random.default_rng(seed)
    X = sp.random(n, p, density=density, random_state=seed, format="csr")
    X.data = shift + rng.standard_normal(X.nnz)
    return X


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_weighted_gram_product_by_blocks(fit_intercept):
    """``weighted_gram_matvec`` (one pass over the rows by blocks, the last one partial)
    is the product with the formed weighted Gram matrix, on a dense centred design and
    on the sparse design centred implicitly (its two products)."""
    rng = np.random.default_rng(3)
    n, p = 3000, 100  # blocks of 1310 rows
    X = rng.standard_normal((n, p)) + 5.0
    mu = X.mean(axis=0) if fit_intercept else None
    dense = Design(X - mu if fit_intercept else X, fit_intercept, 1, mu)
    sparse = Design(sp.csc_matrix(X), fit_intercept, 1, mu)
    h, v = rng.random(n), rng.standard_normal(p + fit_intercept)
    expected = dense.weighted_gram(h) @ v
    np.testing.assert_allclose(dense.weighted_gram_matvec(h, v), expected, rtol=1e-12,
                               atol=1e-9)
    np.testing.assert_allclose(sparse.weighted_gram_matvec(h, v), expected, rtol=1e-9,
                               atol=1e-8)


def test_sparse_design_is_centred_implicitly():
    """Every product of a sparse design with column means is that of the dense centred
    matrix, and the round trip to the model's own coordinates holds."""
    X = _sparse_shifted()
    Xc, mu = centred(X, True)
    assert Xc is X
    dense = Design(X.toarray() - mu, True, 1, mu)
    design = Design(X, True, 1, mu)
    assert design.sparse_offset is mu and dense.sparse_offset is None
    rng = np.random.default_rng(1)
    w, u, h = rng.standard_normal(13), rng.standard_normal(80), rng.random(80)
    np.testing.assert_allclose(design.matvec(w), dense.matvec(w), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(design.rmatvec(u), dense.rmatvec(u), rtol=1e-10, atol=1e-9)
    for weights in (h, 0.5):
        np.testing.assert_allclose(design.weighted_gram(weights), dense.weighted_gram(weights),
                                   rtol=1e-9, atol=1e-8)
    np.testing.assert_allclose(design.column_squared_norms(), dense.column_squared_norms(),
                               rtol=1e-9)
    np.testing.assert_allclose(design.row_squared_norms(), dense.row_squared_norms(),
                               rtol=1e-9)
    assert design.squared_norm() == pytest.approx(dense.squared_norm(), rel=1e-6)
    idx = np.array([1, 4, 7, 12])  # three columns and the intercept
    np.testing.assert_allclose(design.take_columns(idx).matvec(w[idx]),
                               dense.take_columns(idx).matvec(w[idx]), rtol=1e-10, atol=1e-9)
    rows = np.arange(0, 80, 3)
    np.testing.assert_allclose(design.take_rows(rows).matvec(w), dense.matvec(w)[rows],
                               rtol=1e-10, atol=1e-9)
    w_orig = design.to_original(w)
    np.testing.assert_allclose(X @ w_orig[:12] + w_orig[12], design.matvec(w), rtol=1e-10,
                               atol=1e-9)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_search_scales_of_a_shifted_sparse_design(fmt, weighted):
    """The reference weights of the search (lam1_max, the curvatures kappa and kappa_min)
    of ``X + 1e4`` with columns of spread 0.05 are the dense matrix's to 1e-10, stored
    sparse or not: the columns' centred sums of squares are summed over differences,
    not as ``||X_j||^2 - n mu_j^2`` (which loses ``(mu_j / sd_j)^2`` times the round-off,
    4e10 here)."""
    from sklearn.datasets import load_diabetes

    from skhypergrad import Huber
    from skhypergrad._search_space import search_scales
    from skhypergrad.models import InnerModel

    X, y = load_diabetes(return_X_y=True)
    X, y = X[:120] + 1e4, y[:120]
    sw = np.random.default_rng(0).integers(0, 4, 120).astype(float) if weighted else None
    for model in (InnerModel("quadratic", "elasticnet", True),
                  InnerModel(Huber(1.35, 50.0), "l2", True)):
        ref = search_scales(model.make_map(X, y, sample_weight=sw))
        got = search_scales(model.make_map(sp.csr_matrix(X).asformat(fmt), y,
                                           sample_weight=sw))
        for a, b in ((got.l1, ref.l1), (got.l2, ref.l2), (got.l2_low, ref.l2_low)):
            assert a == pytest.approx(b, rel=1e-10)


def test_search_scales_of_nearly_constant_shifted_columns():
    """``load_digits / 16`` has columns with one entry in 300 off zero: shifted by 1e4
    their spread is 1e-13 of their sum of squares, above the round-off of the centred
    sums (1e-32), so they stay columns, not constant ones, and the curvatures kappa and
    kappa_min do not move (before: declared constant at 1e-12, left out of kappa_min,
    and LogisticRegressionHyperGrad chose a C 7% apart)."""
    from sklearn.datasets import load_digits

    from skhypergrad._search_space import search_scales
    from skhypergrad.models import InnerModel

    X, y = load_digits(return_X_y=True)
    X, y = X[:300] / 16.0, y[:300].astype(float)
    model = InnerModel("quadratic", "elasticnet", True)
    ref = search_scales(model.make_map(X, y))
    for Xs in (X + 1e4, sp.csc_matrix(X + 1e4)):
        got = search_scales(model.make_map(Xs, y))
        for a, b in ((got.l1, ref.l1), (got.l2, ref.l2), (got.l2_low, ref.l2_low)):
            assert a == pytest.approx(b, rel=1e-8)


@pytest.mark.parametrize("kind", ["quadratic", "logistic", "multinomial"])
@pytest.mark.parametrize("solver", ["cd", "fista", "saga"])
def test_solvers_on_a_sparse_design_centred_implicitly(kind, solver):
    """On a sparse ``X`` whose columns are shifted by 100, each solver reaches the
    solution of the dense centred problem (the same coordinates), coordinate descent
    in as many epochs."""
    X = _sparse_shifted(n=60, p=10, density=1.0)
    rng = np.random.default_rng(2)
    Xd = X.toarray()
    t = (Xd - Xd.mean(axis=0)) @ rng.standard_normal(10) + 0.5 * rng.standard_normal(60)
    if kind == "quadratic":
        datafit, y, lam = Quadratic(), t + 1e3, np.array([0.05, 0.01])
    elif kind == "logistic":
        datafit, y, lam = Logistic(), np.where(t > np.median(t), 1.0, -1.0), np.array([0.01,
                                                                                        0.01])
    else:
        datafit = Multinomial(3)
        y = np.searchsorted(np.quantile(t, [1 / 3, 2 / 3]), t)
        lam = np.array([0.01, 0.01])
    penalty = EnetPenalty()
    maps = [ProxGradMap(datafit, penalty, Xs, y, fit_intercept=True, center=True)
            for Xs in (Xd, X.tocsc())]
    make = {"cd": lambda: CoordinateDescent(tol=1e-12),
            "fista": lambda: ProxGradient(tol=1e-10, max_iter=200_000),
            "saga": lambda: StochasticProxGradient(tol=1e-8, max_epochs=20_000,
                                                   random_state=0)}[solver]
    ref, res = (make().solve(pgmap, lam) for pgmap in maps)
    assert maps[1].design.sparse_offset is not None and res.converged
    scale = np.abs(ref.w).max()
    np.testing.assert_allclose(res.w, ref.w, rtol=1e-5, atol=1e-5 * scale)
    if solver == "cd":
        assert res.n_iter <= 2 * ref.n_iter


@pytest.mark.parametrize("Est", [LassoHyperGrad, ElasticNetHyperGrad])
def test_sparse_gram_of_columns_with_a_small_spread(Est):
    """Degree-2 features of diabetes (spread ~1e-3) plus 1e4, stored as CSR: the
    compiled path's Gram matrices of the search and of the refit are formed without
    the cancellation of :math:`X^T X - n\\mu\\mu^T` (which cost ``lam_`` 1e-4 and
    ``coef_`` 3e-5, relatively): the same search and solution as dense storage."""
    from sklearn.datasets import load_diabetes
    from sklearn.preprocessing import PolynomialFeatures

    X, y = load_diabetes(return_X_y=True)
    X = PolynomialFeatures(2, include_bias=False).fit_transform(X[:100, :6]) + 1e4
    ref = Est().fit(X, y[:100])
    est = Est().fit(sp.csr_matrix(X), y[:100])
    np.testing.assert_allclose(est.lam_, ref.lam_, rtol=1e-8)
    np.testing.assert_allclose(est.coef_, ref.coef_, rtol=0,
                               atol=1e-8 * np.abs(ref.coef_).max())


def test_sparse_kernels_on_columns_with_a_small_spread():
    """A CSC ``X`` too sparse to be stored densely (degree-2 features of diabetes plus
    1e4, then sparse columns): coordinate descent's sparse kernels read the full columns
    centred in their stored values, so that its gradients and duality gap do not lose
    ``(mu / sd)^2`` times the round-off (the gap stalled at 5e-10, a ConvergenceWarning
    after 50000 iterations): the dense solution, converged in as many epochs."""
    from sklearn.datasets import load_diabetes
    from sklearn.preprocessing import PolynomialFeatures

    X, y = load_diabetes(return_X_y=True)
    n = 100
    X = PolynomialFeatures(2, include_bias=False).fit_transform(X[:n, :6]) + 1e4
    extra = sp.random(n, 200, density=0.01, random_state=0, format="csc") * 0.05
    Xs = sp.hstack([sp.csc_matrix(X), extra], format="csc")
    assert Xs.nnz < 0.25 * n * Xs.shape[1]  # not stored densely by the solver
    lam = np.array([0.01, 0.0])
    maps = [ProxGradMap(Quadratic(), EnetPenalty(), Z, y[:n], fit_intercept=True, center=True)
            for Z in (Xs.toarray(), Xs)]
    ref = CoordinateDescent(tol=1e-12).solve(maps[0], lam)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        res = CoordinateDescent(tol=1e-12).solve(maps[1], lam)
    assert res.converged and res.n_iter <= 2 * ref.n_iter
    np.testing.assert_allclose(res.w[:-1], ref.w[:-1], rtol=0,
                               atol=1e-8 * np.abs(ref.w[:-1]).max())


def test_sparse_design_products_on_columns_with_a_small_spread():
    """The products of a sparse design centred implicitly (the hypergradient's Hessian
    products, curvature blocks) read its full columns centred in their stored values
    (:meth:`~skhypergrad._design.Design.implicit`): on degree-2 features of diabetes
    plus 1e4 and sparse columns, the logistic search ends where the dense one does (it
    was 3e-5 away in ``C_``, after numerical issues)."""
    from sklearn.datasets import load_diabetes
    from sklearn.preprocessing import PolynomialFeatures

    X, y = load_diabetes(return_X_y=True)
    n = 200
    X = PolynomialFeatures(2, include_bias=False).fit_transform(X[:n, :6]) + 1e4
    extra = sp.random(n, 150, density=0.01, random_state=0, format="csr") * 0.05
    Xs = sp.hstack([sp.csr_matrix(X), extra], format="csr")
    y = (y[:n] > np.median(y[:n])).astype(int)
    ref = LogisticRegressionHyperGrad(max_iter=5).fit(Xs.toarray(), y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est = LogisticRegressionHyperGrad(max_iter=5).fit(Xs, y)
    assert est.C_ == pytest.approx(ref.C_, rel=1e-8)
    np.testing.assert_allclose(est.coef_, ref.coef_, rtol=0,
                               atol=1e-8 * np.abs(ref.coef_).max())
