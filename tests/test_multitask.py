"""Multi-task Lasso and elastic net: multi-output least squares with the L2,1 block penalty.

The solution against scikit-learn's ``MultiTaskLasso`` / ``MultiTaskElasticNet``, the block
prox and its (non-diagonal) Jacobian against finite differences, every engine against
finite differences of the cross-validation loss, the estimators through scikit-learn's
checks, and the searches against grids on the same folds."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import MultiTaskElasticNet, MultiTaskLasso
from sklearn.metrics import mean_squared_error
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.utils.estimator_checks import parametrize_with_checks

from _checks import cv_weight_checks

from skhypergrad import (L1, SURE, CoordinateDescent, CrossVal, ElasticNetPenalty,
                         GroupElasticNet, GroupL21, HeldOut, HyperGradSearchCV, InnerModel,
                         MultiTaskElasticNetHyperGrad, MultiTaskLassoHyperGrad,
                         MultiTaskQuadratic, ProxGradient, ProxGradMap, WeightedL1)
from skhypergrad._base import default_solver
from skhypergrad._prox_jacobian import BlockJacobian
from skhypergrad.models import from_estimator
from skhypergrad.solvers._block_gram import (augmented_gram, gram_gap_measure,
                                             stacked_target_products)
from skhypergrad.solvers._gap import gap_scale


def _data(n=80, p=12, T=3, seed=0, density=None):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    if density is not None:
        X = sp.csr_matrix(np.where(rng.random((n, p)) < density, X, 0.0))
    W = np.zeros((p, T))
    W[:4] = 2.0 * rng.standard_normal((4, T))
    Y = np.asarray(X @ W) + rng.standard_normal((n, T)) + 3.0
    return X, Y


def _solver():
    return ProxGradient(tol=1e-14, max_iter=100_000)


CASES = [(GroupL21(), MultiTaskLasso, {}, lambda a: [a]),
         (GroupElasticNet(), MultiTaskElasticNet, {"l1_ratio": 0.6},
          lambda a: [0.6 * a, 0.4 * a])]


@pytest.mark.parametrize("penalty, sk_class, params, lam_of", CASES)
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("density", [None, 0.4])
@pytest.mark.parametrize("solver", [ProxGradient(tol=1e-14, max_iter=100_000),
                                    CoordinateDescent(tol=1e-14)])
def test_solution_is_sklearns(penalty, sk_class, params, lam_of, fit_intercept, density,
                              solver):
    """FISTA and block coordinate descent on the Gram matrix reach scikit-learn's
    objective to 1e-6 (relative)."""
    X, Y = _data(density=density)
    alpha = 0.3
    lam = lam_of(alpha)
    sk = sk_class(alpha=alpha, fit_intercept=fit_intercept, tol=1e-12, max_iter=100_000,
                  **params).fit(X.toarray() if sp.issparse(X) else X, Y)
    pgmap = ProxGradMap(MultiTaskQuadratic(3), penalty, X, Y, fit_intercept=fit_intercept,
                        center=True)
    res = solver.solve(pgmap, lam)
    assert res.converged
    w = pgmap.design.to_original(res.w)
    plain = ProxGradMap(MultiTaskQuadratic(3), penalty, X, Y, fit_intercept=fit_intercept)
    w_sk = np.concatenate([sk.coef_.T.ravel(), np.atleast_1d(sk.intercept_)
                           if fit_intercept else []])
    ours, theirs = plain.objective(w, lam), plain.objective(w_sk, lam)
    assert ours <= theirs * (1 + 1e-6)
    assert abs(ours - theirs) <= 1e-6 * theirs
    np.testing.assert_allclose(w[:36].reshape(12, 3), sk.coef_.T, atol=1e-5)
    # whole rows are selected or dropped together
    zero_rows = ~w[:36].reshape(12, 3).any(axis=1)
    assert zero_rows.any() and np.all((w[:36].reshape(12, 3) == 0).any(axis=1) == zero_rows)


@pytest.mark.parametrize("penalty, lam", [(GroupL21(), [0.3]), (GroupElasticNet(), [0.3, 0.2])])
def test_block_prox_jacobian_and_lam_derivatives(penalty, lam):
    """The block Jacobian (its products and powers) and the derivatives in ``lam`` match
    central finite differences of the prox away from the kinks."""
    rng = np.random.default_rng(1)
    p, T, g = 6, 3, 0.7
    z = rng.standard_normal(p * T)
    z[3 * T:4 * T] *= 0.01  # a row below the threshold
    lam = np.array(lam)
    J = penalty.prox_jacobian(z, g, lam, p, T)
    assert 3 not in J.blocks and J.blocks.shape[0] == 5
    eps = 1e-6
    for _ in range(3):
        v = rng.standard_normal(p * T)
        fd = (penalty.prox(z + eps * v, g, lam, p, T)
              - penalty.prox(z - eps * v, g, lam, p, T)) / (2 * eps)
        np.testing.assert_allclose(J.apply(v), fd, atol=1e-8)
    x = rng.standard_normal(J.idx.shape[0])
    np.testing.assert_allclose(J.power(J.power(x, -1), 1), x, atol=1e-12)
    np.testing.assert_allclose(J.power(J.power(x, 0.5), 0.5), J.power(x, 1), atol=1e-12)
    np.testing.assert_allclose(J.dense_inverse() @ J.power(x, 1), x, atol=1e-12)
    for k in range(lam.shape[0]):
        e = np.zeros_like(lam)
        e[k] = 1.0
        fd = (penalty.prox(z, g, lam + eps * e, p, T)
              - penalty.prox(z, g, lam - eps * e, p, T)) / (2 * eps)
        np.testing.assert_allclose(penalty.prox_jvp_lam(z, g, lam, e, p, T), fd, atol=1e-8)
        u = rng.standard_normal(p * T)
        assert penalty.prox_vjp_lam(z, g, lam, u, p, T)[k] == pytest.approx(fd @ u, abs=1e-8)


def test_block_jacobian_of_one_output_is_diagonal():
    """With one task the block penalty is the L1 penalty, its Jacobian the L1 mask."""
    z = np.array([1.0, -0.2, 0.5, -2.0])
    J = GroupL21().prox_jacobian(z, 1.0, np.array([0.3]), 4, 1)
    assert isinstance(J, BlockJacobian)
    np.testing.assert_array_equal(J.apply(np.ones(4)), [1.0, 0.0, 1.0, 1.0])


@pytest.mark.parametrize("engine", ["aid-cg", "aid-fp", "itd"])
@pytest.mark.parametrize("penalty, lam", [(GroupL21(), [0.05]),
                                          (GroupElasticNet(), [0.03, 0.05])])
@pytest.mark.parametrize("density", [None, 0.4])
def test_hypergradient_matches_finite_differences(engine, penalty, lam, density):
    """Every engine against central finite differences in ``log lam`` of the CV loss
    (the inner problems by coordinate descent, the differences by FISTA)."""
    X, Y = _data(density=density)
    model = InnerModel(MultiTaskQuadratic(3), penalty, fit_intercept=True)
    crit = CrossVal(cv=3)
    lam = np.array(lam)
    res = crit.value_and_grad(model, X, Y, lam, solver=CoordinateDescent(tol=1e-14),
                              engine=engine)
    eps = 1e-5
    fd = []
    for k in range(lam.shape[0]):
        up, down = lam.copy(), lam.copy()
        up[k] *= np.exp(eps)
        down[k] *= np.exp(-eps)
        fd.append((crit.value(model, X, Y, up, solver=_solver()).value
                   - crit.value(model, X, Y, down, solver=_solver()).value) / (2 * eps))
    assert np.all(np.abs(res.grad) > 1e-4)  # away from a flat point
    np.testing.assert_allclose(res.grad, fd, rtol=1e-5, atol=1e-9)


def test_heldout_loss_is_sklearns_mean_squared_error():
    """The held-out loss is ``mean_squared_error`` averaged over the tasks."""
    X, Y = _data()
    X_val, Y_val = _data(seed=1)
    sk = MultiTaskLasso(alpha=0.05, tol=1e-12, max_iter=100_000).fit(X, Y)
    model = InnerModel(MultiTaskQuadratic(3), GroupL21(), fit_intercept=True)
    value = HeldOut(X_val, Y_val).value(model, X, Y, [0.05], solver=_solver()).value
    assert value == pytest.approx(mean_squared_error(Y_val, sk.predict(X_val)), rel=1e-8)


def test_from_estimator_and_one_task():
    """scikit-learn's estimators convert to the block models; one task is the Lasso."""
    X, Y = _data(T=1)
    model = from_estimator(MultiTaskElasticNet(alpha=0.2, l1_ratio=0.25), Y)
    assert isinstance(model.get_penalty(), GroupElasticNet)
    np.testing.assert_allclose(model.lam, [0.05, 0.15])
    model = from_estimator(MultiTaskLasso(alpha=0.1), Y)
    assert isinstance(model.get_penalty(), GroupL21)
    sk = MultiTaskLasso(alpha=0.1, tol=1e-12, max_iter=100_000).fit(X, Y)
    pgmap = model.make_map(X, model.encode(Y), center=True)
    w = pgmap.design.to_original(_solver().solve(pgmap, [0.1]).w)
    np.testing.assert_allclose(w[:-1], sk.coef_.ravel(), atol=1e-6)
    with pytest.raises(ValueError, match="2d targets"):
        from_estimator(MultiTaskLasso(alpha=0.1), Y[:, 0])


@parametrize_with_checks([MultiTaskElasticNetHyperGrad(cv=3, max_iter=5)],
                         expected_failed_checks=cv_weight_checks)
def test_sklearn_compatible(estimator, check):
    """Every scikit-learn estimator check passes (multi-output tags) but those of integer
    weights against repeated rows: the weighted folds are solved by FISTA to a tolerance,
    not exactly on their support (see :func:`cv_weight_checks`)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


def _search_data():
    return _data(n=200, p=30, T=4, seed=3)


def _alpha_max(X, Y):
    return np.sqrt(((X.T @ (Y - Y.mean(axis=0))) ** 2).sum(axis=1)).max() / X.shape[0]


def test_estimator_refit_is_sklearns_and_search_matches_grid():
    """The refit is scikit-learn's model at ``alpha_``; the CV loss is within 1% of a
    20-alpha grid's best on the same folds."""
    X, Y = _search_data()
    cv = KFold(5)
    est = MultiTaskLassoHyperGrad(cv=cv).fit(X, Y)
    sk = MultiTaskLasso(alpha=est.alpha_, tol=1e-12, max_iter=100_000).fit(X, Y)
    np.testing.assert_allclose(est.coef_, sk.coef_, atol=1e-6)
    np.testing.assert_allclose(est.predict(X), sk.predict(X), atol=1e-6)
    grid = GridSearchCV(MultiTaskLasso(tol=1e-10, max_iter=100_000),
                        {"alpha": _alpha_max(X, Y) * np.logspace(-3, 0, 20)}, cv=cv,
                        scoring="neg_mean_squared_error").fit(X, Y)
    assert est.best_loss_ <= -grid.best_score_ * 1.01


@pytest.mark.parametrize("estimator, grid", [
    (MultiTaskLasso(), {"alpha": np.logspace(-3, 0, 20)}),
    (MultiTaskElasticNet(), {"alpha": np.logspace(-3, 0.5, 20),
                             "l1_ratio": np.linspace(0.1, 1.0, 20)}),
])
def test_search_cv_matches_grid(estimator, grid):
    """HyperGradSearchCV on scikit-learn's multi-task models returns a plain scikit-learn
    model whose CV score is within 1% of GridSearchCV's (20 values per parameter, the same
    folds, the same scorer)."""
    X, Y = _search_data()
    cv = KFold(5)
    grid = {**grid, "alpha": _alpha_max(X, Y) * grid["alpha"]}
    search = HyperGradSearchCV(estimator, cv=cv, scoring="neg_mean_squared_error").fit(X, Y)
    assert type(search.best_estimator_) is type(estimator)
    ref = GridSearchCV(estimator.set_params(tol=1e-10, max_iter=100_000), grid, cv=cv,
                       scoring="neg_mean_squared_error").fit(X, Y)
    assert -search.best_score_ <= -ref.best_score_ * 1.01
    assert search.predict(X).shape == Y.shape


def test_heldout_training_map_consumes_fortran_rows():
    """HeldOut.training_map(consume=True) centres a Fortran-ordered X in place (the map's
    design is X itself, its columns now centred), with the values of a map on a copy; a
    map that must be built again from the centred rows (another model) raises."""
    X, Y = _data(n=90)
    X_train, X_val = np.asfortranarray(X[:60]), X[60:]
    y_train, y_val = Y[:60], Y[60:]
    raw = X_train.copy()
    model = InnerModel(MultiTaskQuadratic(3), GroupL21(), fit_intercept=True)
    solver = CoordinateDescent(tol=1e-12)
    consumed = HeldOut(X_val, y_val)
    pgmap = consumed.training_map(model, X_train, y_train, solver, consume=True)
    assert pgmap.design.X is X_train
    np.testing.assert_allclose(X_train, raw - raw.mean(axis=0), atol=1e-14)
    copied = HeldOut(X_val, y_val)
    assert copied.training_map(model, raw, y_train, solver).design.X is not raw
    for lam in ([0.3], [0.05]):
        assert consumed.value(model, X_train, y_train, lam, solver=solver).value == \
            pytest.approx(copied.value(model, raw, y_train, lam, solver=solver).value,
                          rel=1e-12)
    other = InnerModel(MultiTaskQuadratic(3), GroupL21(), fit_intercept=True)
    with pytest.raises(RuntimeError, match="centred in place"):
        consumed.value(other, X_train, y_train, [0.3], solver=solver)


def test_search_on_fortran_x_is_the_search_on_c_x():
    """HyperGradSearchCV(MultiTaskLasso()) centres the folds' own Fortran-ordered training
    copies in place (not with return_train_score, which reads them): its rows, test and
    training scores are those of a C-ordered X to 1e-10."""
    X, Y = _data(n=90)
    out = {}
    for order, train in (("C", True), ("F", True), ("F", False)):
        search = HyperGradSearchCV(MultiTaskLasso(), cv=KFold(3), return_train_score=train,
                                   scoring="neg_mean_squared_error").fit(
            np.asarray(X, order=order), Y)
        out[order, train] = search.cv_results_
    ref = out["C", True]
    for key in (("F", True), ("F", False)):
        res = out[key]
        np.testing.assert_allclose([p["alpha"] for p in res["params"]],
                                   [p["alpha"] for p in ref["params"]], rtol=1e-10)
        np.testing.assert_allclose(res["mean_test_score"], ref["mean_test_score"],
                                   rtol=1e-10)
    np.testing.assert_allclose(out["F", True]["mean_train_score"], ref["mean_train_score"],
                               rtol=1e-10)


@pytest.mark.parametrize("penalty, lam", [(GroupL21(), [0.1]), (GroupElasticNet(), [0.06, 0.04])])
@pytest.mark.parametrize("density", [None, 0.4])
def test_gram_duality_gap_is_the_gap(penalty, lam, density):
    """Coordinate descent's gap from the Gram products equals the gap from the predictions
    at any point (here a partly converged one)."""
    X, Y = _data(density=density)
    pgmap = ProxGradMap(MultiTaskQuadratic(3), penalty, X, Y, fit_intercept=True, center=True)
    w = CoordinateDescent(tol=1e-3, warn=False).solve(pgmap, lam).w
    A = augmented_gram(pgmap.design)
    C = stacked_target_products(pgmap.design, pgmap.y)
    B = w.reshape(-1, 3)
    yy = float(np.vdot(pgmap.y, pgmap.y)) / pgmap.n_samples
    measure = gram_gap_measure(pgmap, np.array(lam), A, C, B, A @ B, yy, gap_scale(pgmap))
    expected = CoordinateDescent()._stop_measure(pgmap, np.array(lam), w)
    assert measure == pytest.approx(expected, rel=1e-8, abs=1e-15)
    assert measure > 1e-8


@pytest.mark.parametrize("penalty, lam", [
    (GroupL21(), [0.1]), (GroupElasticNet(), [0.06, 0.04]), (GroupElasticNet(), [0.5, 1e-4]),
    (L1(), [0.1]), (ElasticNetPenalty(), [0.06, 0.04]), (ElasticNetPenalty(), [0.5, 1e-4]),
    (WeightedL1(), [0.0] + [0.1] * 11)])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_gram_duality_gap_every_penalty(penalty, lam, fit_intercept):
    """The compiled gap from the Gram products equals the gap from the predictions for
    block and elementwise penalties, smooth (a small L2 weight: the rescaled dual point)
    or not, with an unpenalized feature (held fixed), at an arbitrary point."""
    X, Y = _data()
    pgmap = ProxGradMap(MultiTaskQuadratic(3), penalty, X, Y, fit_intercept=fit_intercept,
                        center=True)
    A = augmented_gram(pgmap.design)
    C = stacked_target_products(pgmap.design, pgmap.y)
    rng = np.random.default_rng(1)
    B = 0.3 * rng.standard_normal((A.shape[0], 3))
    B[5:9] = 0.0
    w = B.ravel().copy()
    yy = float(np.vdot(pgmap.y, pgmap.y)) / pgmap.n_samples
    lam = np.array(lam)
    measure = gram_gap_measure(pgmap, lam, A, C, B, A @ B, yy, gap_scale(pgmap))
    expected = CoordinateDescent()._stop_measure(pgmap, lam, w)
    assert measure == pytest.approx(expected, rel=1e-10)
    assert measure > 1e-3


def test_default_solver_is_coordinate_descent_on_the_gram():
    """``solver="auto"`` is coordinate descent for multi-task least squares; it reaches
    FISTA's solution in fewer epochs than FISTA's iterations."""
    datafit = MultiTaskQuadratic(3)
    assert isinstance(default_solver("auto", datafit=datafit), CoordinateDescent)
    X, Y = _data()
    pgmap = ProxGradMap(datafit, GroupL21(), X, Y, fit_intercept=True, center=True)
    cd = CoordinateDescent(tol=1e-12).solve(pgmap, [0.05])
    fista = _solver().solve(pgmap, [0.05])
    assert cd.converged and cd.n_iter < fista.n_iter
    np.testing.assert_allclose(cd.w, fista.w, atol=1e-7)


def test_unsupported_combinations_are_refused():
    """SURE (one output), NSID (a diagonal prox Jacobian) and SAGA (no minibatch kernel) are
    refused with a clear error, not a wrong number."""
    X, Y = _data()
    model = InnerModel(MultiTaskQuadratic(3), GroupL21(), fit_intercept=True)
    with pytest.raises(ValueError, match="single-output least squares"):
        SURE(sigma=0.1).value(model, X, Y, [0.01], solver=CoordinateDescent())
    with pytest.raises(ValueError, match="block diagonal.*aid-cg"):
        CrossVal(cv=3).value_and_grad(model, X, Y, [0.05], solver=CoordinateDescent(),
                                      engine="nsid")
    with pytest.raises(ValueError, match="minibatch kernel"):
        MultiTaskLassoHyperGrad(solver="saga", cv=3).fit(X, Y)
    with pytest.raises(ValueError, match="2d"):
        MultiTaskLassoHyperGrad(cv=3).fit(X, Y[:, 0])


def _weighted_data():
    X, Y = _data(n=90, p=8, T=3, seed=5)
    sw = np.random.default_rng(5).integers(0, 3, X.shape[0]).astype(float)
    return X, Y, sw


def _weighted_objective(X, Y, sw, coef, intercept, alpha, l1_ratio):
    """scikit-learn's multi-task elastic net objective with ``sw`` rescaled to sum n."""
    R = Y - X @ coef.T - intercept
    s = sw * X.shape[0] / sw.sum()
    return (0.5 * np.sum(s[:, None] * R ** 2) / X.shape[0]
            + alpha * l1_ratio * np.linalg.norm(coef, axis=0).sum()
            + 0.5 * alpha * (1 - l1_ratio) * np.sum(coef ** 2))


@pytest.mark.parametrize("Est, Sk, params, rtol", [
    (MultiTaskLassoHyperGrad, MultiTaskLasso, {}, 1e-6),
    (MultiTaskElasticNetHyperGrad, MultiTaskElasticNet, {"l1_ratio_init": 0.7}, 1e-3)])
def test_sample_weight_refit_is_scikit_learns(Est, Sk, params, rtol):
    """``fit(sample_weight=)`` as ``MultiTaskLassoCV``'s: at a given ``alpha`` the refit is
    scikit-learn's weighted model (weights 0, 1, 2): its objective above scikit-learn's
    by at most ``dual_gap_``, itself at most the refit's relative gap 1e-8 of the null
    model's objective (the weighted refit is FISTA's, to that gap: the elastic net's
    coefficients here to 2e-4, the Lasso's to 3e-7)."""
    X, Y, sw = _weighted_data()
    est = Est(cv=3, alpha_init=0.05, max_iter=0, **params).fit(X, Y, sample_weight=sw)
    rho = getattr(est, "l1_ratio_", 1.0)
    kw = {"l1_ratio": rho} if "l1_ratio_init" in params else {}
    sk = Sk(alpha=est.alpha_, tol=1e-14, max_iter=10 ** 6, **kw).fit(X, Y, sample_weight=sw)
    ours = _weighted_objective(X, Y, sw, est.coef_, est.intercept_, est.alpha_, rho)
    theirs = _weighted_objective(X, Y, sw, sk.coef_, sk.intercept_, est.alpha_, rho)
    null = _weighted_objective(X, Y, sw, 0 * sk.coef_, np.average(Y, axis=0, weights=sw),
                               est.alpha_, rho)
    assert est.dual_gap_ <= 1e-8 * null
    assert -1e-12 * null <= ours - theirs <= est.dual_gap_ + 1e-12 * null
    np.testing.assert_allclose(est.coef_, sk.coef_, atol=rtol * np.abs(sk.coef_).max())
    np.testing.assert_allclose(est.intercept_, sk.intercept_, atol=rtol * np.abs(Y).max())


def test_integer_sample_weight_is_the_search_of_repeated_rows():
    """Integer weights give the search of the rows repeated (splits that keep a row's
    copies in its fold): the same ``alpha_`` and criterion, to the search's tolerance."""
    X, Y, sw = _weighted_data()
    n, reps = X.shape[0], sw.astype(int)
    fold, copies = np.arange(n) % 3, np.repeat(np.arange(n), reps)
    cv_w = [(np.flatnonzero(fold != k), np.flatnonzero(fold == k)) for k in range(3)]
    cv_r = [(np.flatnonzero(fold[copies] != k), np.flatnonzero(fold[copies] == k))
            for k in range(3)]
    weighted = MultiTaskLassoHyperGrad(cv=cv_w).fit(X, Y, sample_weight=sw)
    repeated = MultiTaskLassoHyperGrad(cv=cv_r).fit(X[copies], Y[copies])
    np.testing.assert_allclose(weighted.alpha_, repeated.alpha_, rtol=1e-4)
    np.testing.assert_allclose(weighted.best_loss_, repeated.best_loss_, rtol=1e-6)
