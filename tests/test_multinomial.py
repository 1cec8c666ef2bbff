"""Multinomial logistic regression solved by coordinate descent (block proximal Newton).

Protects the multinomial solver of :class:`~skhypergrad.solvers.CoordinateDescent`
(a feature's K classes as one block): its objective equals scikit-learn's saga
solution to 1e-6 for the L1, elastic-net and L2 penalties, with and without sample
weights, dense and sparse, float32 input; and hypergradients at its solutions
(AID-CG, AID-FP, ITD) match central finite differences of the held-out loss.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_iris, load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from test_criteria import NewtonPolished

from skhypergrad._hessian_blocks import softmax_hessian, softmax_hessian_subset
from skhypergrad.criteria import HeldOut
from skhypergrad.datafits import Multinomial, weighted
from skhypergrad.fixed_point import ProxGradMap
from skhypergrad.hypergrad import get_engine
from skhypergrad.models import InnerModel, from_estimator
from skhypergrad.penalties import L1, L2, ElasticNetPenalty, logistic_lam_from_sklearn
from skhypergrad.solvers import CoordinateDescent, _cd_smooth
from skhypergrad.solvers._cd_design import _stores_dense
from skhypergrad.solvers._support_newton import support_step, support_system

from _data import log_lam_finite_differences


def _iris_plus_noise(seed=0):
    """Iris (150 x 4, 3 classes), standardized, with 6 noise columns: an L1 path to zero."""
    X, y = load_iris(return_X_y=True)
    rng = np.random.default_rng(seed)
    X = np.hstack([X, rng.standard_normal((X.shape[0], 6))])
    return StandardScaler().fit_transform(X), y


def _weights(n, seed=0):
    w = np.random.default_rng(seed).uniform(0.2, 3.0, n)
    w[::17] = 0.0  # rows dropped
    return w


PENALTIES = {"l1": (L1(), 1.0), "elasticnet": (ElasticNetPenalty(), 0.5), "l2": (L2(), 0.0)}


def _sklearn_w(model):
    """scikit-learn's ``coef_`` (K, p) and ``intercept_`` as our flat ``[W.ravel(), b]``."""
    return np.append(model.coef_.T.ravel(), model.intercept_)


@pytest.mark.parametrize("storage", ["dense", "csc", "float32"])
@pytest.mark.parametrize("sample_weight", [False, True], ids=["unit", "weighted"])
@pytest.mark.parametrize("penalty", list(PENALTIES))
def test_objective_matches_sklearn_saga(penalty, sample_weight, storage):
    X, y = _iris_plus_noise()
    pen, l1_ratio = PENALTIES[penalty]
    C = 0.05
    sw = _weights(X.shape[0]) if sample_weight else None
    ref = LogisticRegression(C=C, l1_ratio=l1_ratio, solver="saga", tol=1e-10,
                             max_iter=100_000).fit(X, y, sample_weight=sw)
    Xs = {"dense": X, "csc": sp.csc_matrix(X), "float32": X.astype(np.float32)}[storage]
    # sklearn's C sum_i w_i l_i is ours, (1/n) sum_i s_i l_i (s of mean 1), at 1/(C sum w)
    total = X.shape[0] if sw is None else sw.sum()
    lam = logistic_lam_from_sklearn(C, l1_ratio, total)
    lam = {"l1": lam[:1], "elasticnet": lam, "l2": lam[1:]}[penalty]
    pgmap = ProxGradMap(weighted(Multinomial(3), sw), pen, Xs, y, fit_intercept=True)
    res = CoordinateDescent(tol=1e-10).solve(pgmap, lam)
    assert res.converged
    if penalty != "l2":
        assert 0 < np.count_nonzero(res.w[:-3]) < 3 * X.shape[1]  # a real L1 support
    ours, theirs = pgmap.objective(res.w, lam), pgmap.objective(_sklearn_w(ref), lam)
    assert ours == pytest.approx(theirs, rel=1e-6)
    assert ours <= theirs + 1e-9 * abs(theirs)


@pytest.mark.parametrize("sample_weight", [False, True], ids=["unit", "weighted"])
def test_sparse_kernels_match_dense(sample_weight):
    """A sparse ``X`` (a fifth of its entries stored: the CSC kernels, not a dense copy)
    and a CSC matrix with every entry stored (read as a dense array) solve as dense."""
    X, y = _iris_plus_noise(seed=2)
    X[np.random.default_rng(2).uniform(size=X.shape) > 0.2] = 0.0
    sw = _weights(X.shape[0]) if sample_weight else None
    lam, solver = np.array([0.01]), CoordinateDescent(tol=1e-12)

    def solve(Xs):
        return solver.solve(ProxGradMap(weighted(Multinomial(3), sw), L1(), Xs, y,
                                        fit_intercept=True), lam).w

    assert not _stores_dense(sp.csc_matrix(X))
    dense = solve(X)
    np.testing.assert_allclose(solve(sp.csc_matrix(X)), dense, rtol=0, atol=1e-8)
    full = sp.csc_matrix(X + 1.0)
    assert _stores_dense(full)
    np.testing.assert_array_equal(solve(full), solve(X + 1.0))


def test_weighted_rows_are_repeated_rows():
    """Integer sample weights solve the problem of the rows repeated (to 1e-8)."""
    X, y = _iris_plus_noise(seed=1)
    counts = np.random.default_rng(1).integers(0, 4, X.shape[0])
    lam = np.array([0.02])
    solver = CoordinateDescent(tol=1e-12)
    w_weighted = solver.solve(ProxGradMap(weighted(Multinomial(3), counts), L1(), X, y,
                                          fit_intercept=True), lam).w
    rows = np.repeat(np.arange(X.shape[0]), counts)
    w_repeated = solver.solve(ProxGradMap(Multinomial(3), L1(), X[rows], y[rows],
                                          fit_intercept=True), lam).w
    coef = slice(0, 3 * X.shape[1])
    np.testing.assert_allclose(w_weighted[coef], w_repeated[coef], atol=1e-8)


class _PolishedCD(NewtonPolished):
    """Coordinate descent, then Newton steps on its support (finite differences need
    the solution exact to rounding)."""

    base = CoordinateDescent(tol=1e-13, warn=False)


ENGINES = {"aid-cg": dict(tol=1e-12), "aid-fp": dict(tol=1e-12, max_iter=100_000),
           "itd": dict(tol=1e-13, max_iter=100_000)}


@pytest.mark.parametrize("sample_weight", [False, True], ids=["unit", "weighted"])
@pytest.mark.parametrize("penalty, lam", [("l1", [0.05]), ("elasticnet", [0.015, 0.05]),
                                          ("l2", [0.05])])
@pytest.mark.parametrize("engine", list(ENGINES))
def test_hypergradient_matches_finite_differences(engine, penalty, lam, sample_weight):
    X, y = _iris_plus_noise(seed=2)
    Xt, yt, Xv, yv = X[::2], y[::2], X[1::2], y[1::2]
    sw = _weights(Xt.shape[0], seed=3) if sample_weight else None
    criterion = HeldOut(Xv, yv, sample_weight=sw)
    model = InnerModel("multinomial", penalty, fit_intercept=True)
    lam = np.array(lam)
    solver = _PolishedCD()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        res = criterion.value_and_grad(model, Xt, yt, lam, solver=solver,
                                       engine=get_engine(engine, **ENGINES[engine]))
    expected = log_lam_finite_differences(criterion, model, Xt, yt, lam, solver)
    np.testing.assert_allclose(res.grad, expected, rtol=1e-5, atol=1e-9)
    assert np.all(np.abs(expected) > 1e-4)  # hyperparameters that matter here


def test_estimator_intercepts_have_mean_zero():
    """The multinomial intercepts are defined up to a common shift (the softmax ignores
    it): the estimator reports the one of mean 0, and its probabilities are those of
    scikit-learn's model at the chosen C."""
    from skhypergrad import LogisticRegressionHyperGrad

    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    est = LogisticRegressionHyperGrad(cv=3, max_iter=3).fit(X, y)
    assert abs(est.intercept_.mean()) < 1e-12
    sk = LogisticRegression(C=est.C_, l1_ratio=1.0, solver="saga", tol=1e-10,
                            max_iter=100_000).fit(X, y)
    np.testing.assert_allclose(est.predict_proba(X), sk.predict_proba(X), atol=1e-4)


def test_support_system_solves_the_support_hessian():
    """The support's system (:mod:`skhypergrad.solvers._support_newton`) is the model's
    Hessian on the support, built entry by entry, plus the L2 weights: its step solves
    it to the ridge's 1e-11, and its prediction change is ``X_S delta``."""
    rng = np.random.default_rng(0)
    n, K = 50, 3
    columns = rng.standard_normal((n, 3))
    features, classes = np.array([0, 1, 1, 2]), np.array([0, 1, 2, 2])
    h = rng.uniform(0.1, 1.0, (n, K))
    h /= h.sum(axis=1, keepdims=True)
    sw = rng.uniform(0.5, 2.0, n)
    cols = np.hstack([columns[:, features], np.ones((n, K))])
    entry_class = np.append(classes, np.arange(K))
    hess = np.zeros((7, 7))
    for i in range(n):
        H_i = sw[i] * (np.diag(h[i]) - np.outer(h[i], h[i]))
        hess += np.outer(cols[i], cols[i]) * H_i[np.ix_(entry_class, entry_class)]
    l2 = np.r_[np.full(4, 0.1), np.zeros(K)]
    hess = hess / n + np.diag(l2)
    rhs = rng.standard_normal(7)
    rhs[4:] -= rhs[4:].mean()  # the intercepts' gradient sums to 0
    delta, v = support_step(support_system(columns, features, classes, True, h, sw, l2), rhs)
    np.testing.assert_allclose(hess @ delta, -rhs, atol=1e-9)
    expected = np.zeros((n, K))
    for e in range(7):
        expected[:, entry_class[e]] += cols[:, e] * delta[e]
    np.testing.assert_allclose(v, expected, atol=1e-13)
    assert abs(delta[4:].sum()) < 1e-10  # no drift along the intercepts' null direction


def test_support_step_holds_entries_at_zero():
    """Entries held at 0 (``support_step``'s ``held``): the free entries solve the principal
    submatrix of the support's Hessian, built entry by entry, with the held entries'
    steps moved to the right-hand side; a feature whose K classes are all in the support
    without L2 loses its null direction's term once one of them is held."""
    rng = np.random.default_rng(1)
    n, K = 60, 3
    columns = rng.standard_normal((n, 3))
    # feature 1 has its K classes (a null direction without L2); the intercepts follow
    features, classes = np.array([0, 1, 1, 1, 2]), np.array([0, 0, 1, 2, 2])
    h = rng.uniform(0.1, 1.0, (n, K))
    h /= h.sum(axis=1, keepdims=True)
    cols = np.hstack([columns[:, features], np.ones((n, K))])
    entry_class = np.append(classes, np.arange(K))
    hess = np.zeros((8, 8))
    for i in range(n):
        H_i = np.diag(h[i]) - np.outer(h[i], h[i])
        hess += np.outer(cols[i], cols[i]) * H_i[np.ix_(entry_class, entry_class)]
    l2 = np.r_[0.1, 0.0, 0.0, 0.0, 0.1, np.zeros(K)]
    hess = hess / n + np.diag(l2)
    system = support_system(columns, features, classes, True, h, np.empty(0), l2)
    rhs = rng.standard_normal(8)
    rhs[5:] -= rhs[5:].mean()
    held = np.zeros(8, dtype=bool)
    held[[0, 2]] = True  # one of feature 1's classes: no null direction left but the intercepts'
    fixed = np.where(held, rng.standard_normal(8), 0.0)
    delta, v = support_step(system, rhs, (held, fixed))
    free = ~held
    np.testing.assert_array_equal(delta[held], fixed[held])
    residual = hess[np.ix_(free, free)] @ delta[free] + hess[np.ix_(free, held)] @ fixed[held]
    np.testing.assert_allclose(residual, -rhs[free], atol=1e-9)
    expected = np.zeros((n, K))
    for e in range(8):
        expected[:, entry_class[e]] += cols[:, e] * delta[e]
    np.testing.assert_allclose(v, expected, atol=1e-13)


@pytest.mark.parametrize("sample_weight", [False, True], ids=["unit", "weighted"])
def test_smooth_solve_matches_sklearn_lbfgs(sample_weight):
    """An L2 penalty alone is solved by L-BFGS preconditioned by the multinomial Hessian
    (a reference of shape (q, q) returned, then given to the next solve): the solutions
    at two weights, the second warm-started with the first's reference, have scikit-learn's
    tight lbfgs objective (to 1e-9, never above it) and coefficients (to 1e-5: lbfgs
    stops on its objective's decrease), and newton-cholesky's coefficients to 1e-8."""
    X, y = _iris_plus_noise(seed=4)
    sw = _weights(X.shape[0], seed=4) if sample_weight else None
    total = X.shape[0] if sw is None else sw.sum()
    pgmap = ProxGradMap(weighted(Multinomial(3), sw), L2(), X, y, fit_intercept=True)
    solver, w0, reference = CoordinateDescent(tol=1e-12), None, None
    for C in (0.05, 3.0):
        lam = logistic_lam_from_sklearn(C, 0.0, total)[1:]
        res = solver.solve(pgmap, lam, w0, reference=reference)
        assert res.converged
        assert res.reference.shape == (3 * X.shape[1] + 3,) * 2
        w0, reference = res.w, res.reference
        for method, atol in (("lbfgs", 1e-5), ("newton-cholesky", 1e-8)):
            sk = LogisticRegression(C=C, solver=method, tol=1e-12, max_iter=100_000)
            theirs = _sklearn_w(sk.fit(X, y, sample_weight=sw))
            np.testing.assert_allclose(res.w[:-3], theirs[:-3], rtol=0, atol=atol)
            # the intercepts up to their common shift (the softmax ignores it)
            np.testing.assert_allclose(res.w[-3:] - res.w[-3:].mean(),
                                       theirs[-3:] - theirs[-3:].mean(), rtol=0, atol=atol)
            ours, best = pgmap.objective(res.w, lam), pgmap.objective(theirs, lam)
            assert ours == pytest.approx(best, rel=1e-9)
            assert ours <= best + 1e-12 * abs(best)


@pytest.mark.parametrize("sample_weight", [False, True], ids=["unit", "weighted"])
def test_smooth_hypergradient_matches_finite_differences(sample_weight):
    """The hypergradient of a held-out loss at the preconditioned L-BFGS solution (AID-CG
    given the solve's reference, as a search runs it) matches central finite differences
    of exact solutions."""
    X, y = _iris_plus_noise(seed=5)
    Xt, yt, Xv, yv = X[::2], y[::2], X[1::2], y[1::2]
    sw = _weights(Xt.shape[0], seed=5) if sample_weight else None
    criterion = HeldOut(Xv, yv, sample_weight=sw)
    model = InnerModel("multinomial", "l2", fit_intercept=True)
    lam = np.array([0.02])
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        res = criterion.value_and_grad(model, Xt, yt, lam,
                                       solver=CoordinateDescent(tol=1e-13),
                                       engine=get_engine("aid-cg", tol=1e-12))
    assert res.state[0].reference.shape == (3 * X.shape[1] + 3,) * 2  # the reference path
    expected = log_lam_finite_differences(criterion, model, Xt, yt, lam, _PolishedCD())
    np.testing.assert_allclose(res.grad, expected, rtol=1e-6, atol=1e-9)
    assert np.all(np.abs(expected) > 1e-4)


@pytest.mark.parametrize("storage", ["dense", "csc"])
def test_whole_softmax_hessian_is_the_subset_of_every_entry(storage):
    """:func:`softmax_hessian` (the reference of the smooth solves) is
    :func:`softmax_hessian_subset` on every entry, with sample weights and an
    intercept, on a dense (centred) or a sparse (centred implicitly) design."""
    X, y = _iris_plus_noise(seed=6)
    X = X + 3.0
    sw = _weights(X.shape[0], seed=6)
    Xs = X if storage == "dense" else sp.csc_matrix(X)
    design = ProxGradMap(Multinomial(3), L2(), Xs, y, fit_intercept=True).design
    z = np.random.default_rng(6).standard_normal((X.shape[0], 3))
    expected = softmax_hessian_subset(design, z, sw, np.arange(design.n_params))
    np.testing.assert_allclose(softmax_hessian(design, z, sw), expected, rtol=1e-12,
                               atol=1e-14)


@pytest.mark.parametrize("reference", [True, False], ids=["reference", "plain"])
def test_gradient_rule_stops_multinomial_lbfgs(reference, monkeypatch):
    """``grad_tol`` on an L2 multinomial model (scikit-learn's lbfgs rule for
    ``LogisticRegression``): L-BFGS from the null model, then warm-started at a weaker
    penalty, stops with the largest entry of the objective's gradient, coefficients and
    intercepts in the original coordinates of a centred design, at most ``grad_tol``
    (the rule holds where the centred coordinates' entries alone would not say so);
    also by plain L-BFGS, for a problem too large for a reference Hessian."""
    if not reference:
        monkeypatch.setattr(_cd_smooth, "_SOFTMAX_REFERENCE_ENTRIES", 0)
    X, y = _iris_plus_noise(seed=7)
    X = X + 5.0  # a centred design: its intercepts differ from the original ones
    solver, w0 = CoordinateDescent(tol=1e-12).loosened(1e-5), None
    for C in (0.1, 2.0):
        model = from_estimator(LogisticRegression(C=C), y)
        pgmap = model.make_map(X, model.encode(y), center=True)
        raw = model.make_map(X, model.encode(y))
        res = solver.solve(pgmap, model.lam, w0)
        assert res.converged and 0 < res.n_iter <= 60
        w0 = res.w.copy()
        w = pgmap.design.to_original(res.w)
        grad = raw.datafit.gradient(raw.design, raw.y, w)
        k = raw.design.n_coefs
        grad[:k] += raw.penalty.weights(model.lam, X.shape[1])[1][0] * w[:k]
        assert 1e-9 < np.max(np.abs(grad)) <= 1e-5  # stopped by the rule, not tighter
        tight = _sklearn_w(LogisticRegression(C=C, solver="newton-cholesky",
                                              tol=1e-12).fit(X, y))
        assert raw.objective(w, model.lam) == pytest.approx(
            raw.objective(tight, model.lam), rel=1e-6)


def test_search_rows_are_solved_to_the_estimators_tol():
    """A value-only row of a multinomial ``LogisticRegression`` search is what
    GridSearchCV records for the user's estimator (``lbfgs`` at its default ``tol``):
    solved until the gradient's largest entry is below that ``tol``, it is as far from
    ``cross_val_score`` of a tight estimator at the row's C as the user's estimator's
    own row is (at a weak penalty, 1e-2 relative here), and not solved tighter; the
    rows with a hypergradient and the best row are solved to a relative gap of 1e-10
    (scores to about 1e-6). With ``saga`` (another stopping rule) every row is tight."""
    from sklearn.base import clone
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    from skhypergrad import HyperGradSearchCV

    X, y = _iris_plus_noise(seed=8)
    cv = StratifiedKFold(4, shuffle=True, random_state=0)
    tight = LogisticRegression(solver="newton-cholesky", tol=1e-12)

    def score(estimator, C):
        return cross_val_score(clone(estimator).set_params(C=C), X, y, cv=cv,
                               scoring="neg_log_loss").mean()

    for solver, loose in (("lbfgs", True), ("saga", False)):
        user = LogisticRegression(solver=solver, max_iter=10_000)
        search = HyperGradSearchCV(user, cv=cv, scoring="neg_log_loss").fit(X, y)
        Cs = np.array([params["C"] for params in search.cv_results_["params"]])
        exact = np.array([score(tight, C) for C in Cs])
        errors = np.abs(search.cv_results_["mean_test_score"] - exact) / np.abs(exact)
        descent = next(i for i in range(len(Cs))
                       if np.any(np.isclose(Cs[:i], Cs[i], rtol=1e-12, atol=0)))
        if loose:
            users = np.abs([score(user, C) - e for C, e in zip(Cs[:descent], exact)])
            assert errors[:descent].max() <= 3 * np.max(users / np.abs(exact[:descent]))
            assert np.sum(errors[:descent] > 1e-5) >= 3  # the scan's rows: the user's
        else:
            assert errors.max() <= 1e-6
        assert errors[descent:].max() <= 1e-6
        assert errors[search.best_index_] <= 1e-6


def test_refinement_rows_are_solved_to_the_estimators_tol():
    """The rows that refine the best point by the refit scorer (accuracy here; a
    surrogate search of the log-loss) are value-only rows as the scan's: solved to the
    user's estimator's ``tol`` (``lbfgs``), as far from a tight estimator's scores as the
    user's own rows are, not solved tighter."""
    from sklearn.base import clone
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    from skhypergrad import HyperGradSearchCV
    from skhypergrad._scoring import POLISH_EVALS

    X, y = _iris_plus_noise(seed=8)
    cv = StratifiedKFold(4, shuffle=True, random_state=0)
    tight = LogisticRegression(solver="newton-cholesky", tol=1e-12)
    user = LogisticRegression(max_iter=10_000)

    def score(estimator, C):
        return cross_val_score(clone(estimator).set_params(C=C), X, y, cv=cv,
                               scoring="neg_log_loss").mean()

    search = HyperGradSearchCV(user, cv=cv, scoring={"acc": "accuracy", "ll": "neg_log_loss"},
                               refit="acc").fit(X, y)
    Cs = np.array([params["C"] for params in search.cv_results_["params"]])
    rows = slice(len(Cs) - POLISH_EVALS, None)  # the refinement's, appended last
    exact = np.array([score(tight, C) for C in Cs[rows]])
    errors = np.abs(search.cv_results_["mean_test_ll"][rows] - exact) / np.abs(exact)
    users = np.abs([score(user, C) - e for C, e in zip(Cs[rows], exact)]) / np.abs(exact)
    assert errors.max() <= 3 * users.max()
    assert np.sum(errors > 1e-5) >= 1


@pytest.mark.parametrize("fold", [1, 0])
def test_smooth_solve_with_a_column_scaled_by_1e6(fold):
    """Wine (standardized) with one column times 1e6 and a weak L2 weight: the column's
    class-sum direction, ignored by the loss, has a curvature 1e-15 times its others'.
    The smooth solve converges without a warning, to a point whose gradient, computed
    here from the softmax probabilities, is zero to 1e-9 in the units of each column
    (``|g_j| / scale_j``). Fold 0 reaches the coordinate descent epochs, whose block
    of that column, its diagonal computed directly, was indefinite along the class sums
    by more than the L2 weight: the epochs diverged (iterates 1e153, overflow warnings
    from the Anderson weights, a gap of 9e-7 after 10000 epochs)."""
    X, y = load_wine(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    X[:, 0] *= 1e6
    train = np.arange(X.shape[0]) % 5 != fold
    Xt, yt = X[train], y[train]
    pgmap = ProxGradMap(Multinomial(3), L2(), Xt, yt, fit_intercept=True)
    lam = np.array([1e-5])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = CoordinateDescent(tol=1e-12).solve(pgmap, lam)
    assert res.converged
    W, b = res.w[:-3].reshape(X.shape[1], 3), res.w[-3:]
    Z = Xt @ W + b
    P = np.exp(Z - Z.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    R = (P - np.eye(3)[yt]) / Xt.shape[0]
    grad = Xt.T @ R + lam[0] * W
    scale = np.std(Xt, axis=0)
    assert np.max(np.abs(grad) / scale[:, None]) < 1e-9
    assert np.max(np.abs(R.sum(axis=0))) < 1e-9

