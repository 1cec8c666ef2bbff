"""SVR by hypergradient: the dual against libsvm, its fixed-point map, the hypergradient of
every engine against central differences and the exact KKT one, the estimator, and
``HyperGradSearchCV(SVR())`` against a grid on the same folds."""

import numpy as np
import pytest
from sklearn.metrics.pairwise import laplacian_kernel, linear_kernel, rbf_kernel
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.svm import SVR
from sklearn.utils.estimator_checks import parametrize_with_checks
from threadpoolctl import threadpool_limits

from skhypergrad import HyperGradSearchCV, SVRHyperGrad
from skhypergrad._kernel_search import kernel_folds
from skhypergrad.kernels import KernelSpec
from skhypergrad.svr import SVRCriterion
from skhypergrad.svr_dual import SVRDualMap, project_svr, svr_dual, svr_intercept

from _checks import cv_weight_checks


def _data(n=45, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, 2)
    return X, np.sin(2 * X[:, 0]) + 0.2 * rng.randn(n)


def _weights(n, seed=1):
    return np.random.RandomState(seed).uniform(0.5, 2.0, n)


@pytest.mark.parametrize("kernel, C, epsilon, gamma, weighted", [
    ("rbf", 1.0, 0.1, 0.5, False), ("rbf", 10.0, 0.05, 2.0, True),
    ("linear", 1.0, 0.1, None, False)])
def test_dual_is_libsvm(kernel, C, epsilon, gamma, weighted):
    """Dual coefficients (rbf: unique) and predictions = SVR's to 1e-5, with
    ``sample_weight`` as per-sample bounds ``C w_i``."""
    X, y = _data()
    w = _weights(y.shape[0]) if weighted else None
    K = rbf_kernel(X, gamma=gamma) if kernel == "rbf" else linear_kernel(X)
    beta, b = svr_dual(K, y, C if w is None else C * w, epsilon, tol=1e-12)
    sk = SVR(C=C, epsilon=epsilon, kernel=kernel, gamma=gamma or "scale",
             tol=1e-12).fit(X, y, sample_weight=w)
    np.testing.assert_allclose(K @ beta + b, sk.predict(X), atol=1e-5)
    if kernel == "rbf":
        coef = np.zeros(y.shape[0])
        coef[sk.support_] = sk.dual_coef_[0]
        np.testing.assert_allclose(beta, coef, atol=1e-5 * C)


def test_active_set_solve_from_libsvms_tolerance_is_the_exact_dual():
    """From SMO stopped at libsvm's KKT violation 1e-3, the active-set steps reach the
    dual of SMO run to 1e-12 (to 1e-8; libsvm's, which keeps its kernel in single
    precision, to 1e-5), with a KKT violation below 1e-10; svr_dual at tol 1e-10 (SMO to
    1e-3, then those steps) returns the same."""
    from skhypergrad.svm import smo
    from skhypergrad.svr_dual import _active_set_solution, kkt_violation

    X, y = _data(80)
    n, C, eps = y.shape[0], 10.0 * _weights(80), 0.05
    K = rbf_kernel(X, gamma=2.0)
    args = (K, np.r_[np.ones(n), -np.ones(n)], np.r_[C, C], None)
    kw = dict(p=np.r_[eps - y, eps + y], rows=np.r_[np.arange(n), np.arange(n)])
    a, _, _, _ = smo(*args, 1e-3, **kw)
    beta, b = _active_set_solution(K, y, C, eps, a[:n] - a[n:], 1e-10)
    assert kkt_violation(K, y, C, eps, beta) < 1e-10
    a, _, _, _ = smo(*args, 1e-12, **kw)
    np.testing.assert_allclose(beta, a[:n] - a[n:], atol=1e-8 * C.max())
    sk = SVR(C=10.0, epsilon=eps, gamma=2.0, tol=1e-12).fit(X, y, sample_weight=C / 10.0)
    coef = np.zeros(n)
    coef[sk.support_] = sk.dual_coef_[0]
    np.testing.assert_allclose(beta, coef, atol=1e-5 * C.max())
    assert b == pytest.approx(sk.intercept_[0], abs=1e-5)
    beta2, b2 = svr_dual(K, y, C, eps, tol=1e-10)
    np.testing.assert_allclose(beta2, beta, atol=1e-10 * C.max())
    assert b2 == pytest.approx(b, abs=1e-10)


@pytest.mark.parametrize("scale", [1e6, 1e-6])
def test_dual_of_a_scaled_target_is_the_scaled_dual_in_as_many_steps(scale, monkeypatch):
    """The KKT violation is in the units of y, and svr_dual's tolerances are relative to
    its spread: ``(s y, s C, s epsilon)`` gives ``s (beta, b)`` (1e-9) with as many SMO
    pair updates (to rounding: 1495 against 1442). With absolute tolerances, y x 1e6 took 100x the updates (SVRHyperGrad on
    diabetes: 34 s against 0.6 s) and y x 1e-6 stopped 1e-4 relative from the dual (its
    search picked other hyperparameters, predictions 4% apart)."""
    import skhypergrad.svr_dual as svr_dual_module

    updates = []
    smo = svr_dual_module.smo

    def counting(*args, **kwargs):
        out = smo(*args, **kwargs)
        updates.append(out[2])
        return out

    monkeypatch.setattr(svr_dual_module, "smo", counting)
    X, y = _data(60)
    K = rbf_kernel(X, gamma=1.0)
    C, eps = 10.0 * _weights(60), 0.05
    beta, b = svr_dual(K, y, C, eps)
    plain, updates[:] = list(updates), []
    beta_s, b_s = svr_dual(K, scale * y, scale * C, scale * eps)
    assert len(updates) == len(plain) and sum(updates) <= 1.1 * sum(plain)
    np.testing.assert_allclose(beta_s / scale, beta, rtol=0, atol=1e-9 * C.max())
    assert b_s / scale == pytest.approx(b, abs=1e-9)


@pytest.mark.parametrize("scale", [1e-6, 1e6])
def test_estimator_follows_the_units_of_y(scale):
    """Targets ``s y``: SVRHyperGrad picks ``s C``, ``s epsilon`` and the same gamma
    (1e-8) and predicts ``s`` times the predictions (1e-5 relative; the refit's libsvm
    tolerance is relative to the spread of y: with its absolute 1e-6, y x 1e-6 was
    refit 1.4e-3 away)."""
    X, y = _data(60)
    y = 3.0 + y
    cv = KFold(3, shuffle=True, random_state=0)
    est, scaled = (SVRHyperGrad(cv=cv).fit(X, s * y) for s in (1.0, scale))
    assert scaled.C_ == pytest.approx(scale * est.C_, rel=1e-8)
    assert scaled.epsilon_ == pytest.approx(scale * est.epsilon_, rel=1e-8)
    assert scaled.gamma_ == pytest.approx(est.gamma_, rel=1e-8)
    p, p_s = est.predict(X), scaled.predict(X) / scale
    assert np.linalg.norm(p_s - p) <= 1e-5 * np.linalg.norm(p)


def test_projection_is_the_prox_on_the_feasible_set():
    """P(z) is feasible and beats every feasible perturbation of it (it minimizes a
    strongly convex function on a convex set)."""
    rng = np.random.RandomState(0)
    z, C, t = rng.randn(30), rng.uniform(0.2, 1.0, 30), 0.3
    b, _ = project_svr(z, C, t)
    assert abs(b.sum()) < 1e-12 and np.all(np.abs(b) <= C + 1e-15)

    def f(x):
        return 0.5 * np.sum((x - z) ** 2) + t * np.sum(np.abs(x))

    for _ in range(200):  # moves along e_i - e_j, clipped: feasible
        i, j = rng.choice(30, 2, replace=False)
        d = rng.uniform(-0.05, 0.05)
        x = b.copy()
        x[i] += d
        x[j] -= d
        if abs(x[i]) <= C[i] and abs(x[j]) <= C[j]:
            assert f(x) >= f(b) - 1e-12


def test_map_fixed_point_is_the_solution():
    """libsvm's solution is the map's fixed point, and the intercept read from it is
    libsvm's."""
    X, y = _data()
    w = _weights(y.shape[0])
    K = rbf_kernel(X, gamma=0.5)
    beta, b = svr_dual(K, y, 2.0 * w, 0.1, tol=1e-13)
    pgmap = SVRDualMap(K, y, sample_weight=w)
    np.testing.assert_allclose(pgmap.apply(beta, np.array([2.0, 0.1])), beta, atol=1e-10)
    assert svr_intercept(K, y, beta, 2.0 * w, 0.1) == pytest.approx(b, abs=1e-9)


def _central(crit, lam, h=1e-5):
    out = []
    for j in range(lam.shape[0]):
        lp, lm = lam.copy(), lam.copy()
        lp[j] *= np.exp(h)
        lm[j] *= np.exp(-h)
        out.append((crit(lp).value - crit(lm).value) / (2 * h * lam[j]))
    return np.array(out)


@pytest.mark.parametrize("engine", ["kkt", "aid-cg", "aid-fp", "itd", "itd-reverse"])
@pytest.mark.parametrize("weighted", [False, True])
def test_rbf_hypergradient_matches_central_differences(engine, weighted):
    """d(held-out MSE)/d(C, epsilon, gamma) of every engine (through SVRDualMap) =
    central differences in the logs, 1e-5 relative, = the exact KKT gradient; with
    sample weights (bounds C w_i, weighted held-out MSE) too. The point is away from
    support changes (a narrow width: a well-conditioned kernel, which the fixed-point
    engines AID-FP and ITD need)."""
    X, y = _data(30)
    w = _weights(y.shape[0]) if weighted else None
    folds = kernel_folds(X, y, list(KFold(3).split(X)), sample_weight=w,
                         score_weight=w)
    lam = np.array([1.0, 0.1, 2.0])
    spec = KernelSpec("rbf")
    fd = _central(SVRCriterion(spec, folds, tol=1e-14), lam)
    grad = SVRCriterion(spec, folds, engine, tol=1e-14)(lam).grad
    np.testing.assert_allclose(grad, fd, rtol=1e-5)
    kkt = SVRCriterion(spec, folds, "kkt", tol=1e-14)(lam).grad
    np.testing.assert_allclose(grad, kkt, rtol=1e-6)


@pytest.mark.parametrize("engine", ["kkt", "aid-cg"])
def test_linear_hypergradient_matches_central_differences(engine):
    """Linear kernel (a singular K: the fixed-point engines contract too slowly there)."""
    X, y = _data()
    folds = kernel_folds(X, y, list(KFold(3).split(X)))
    lam = np.array([1.0, 0.1])
    spec = KernelSpec("linear")
    fd = _central(SVRCriterion(spec, folds, tol=1e-14), lam)
    grad = SVRCriterion(spec, folds, engine, tol=1e-14)(lam).grad
    np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-8 * np.abs(fd).max())


@parametrize_with_checks([SVRHyperGrad(cv=2, max_iter=1)],
                         expected_failed_checks=cv_weight_checks)
def test_sklearn_compatible(estimator, check):
    """Every scikit-learn estimator check passes, but that of weights as repeated rows."""
    check(estimator)


def test_estimator_refit_is_svrs():
    """``C_``, ``epsilon_``, ``gamma_`` handed to SVR (at the refit's tolerance, 1e-6
    times the spread of y) give its predictions; the search is the criterion's best
    point."""
    X, y = _data(60)
    w = _weights(60)
    est = SVRHyperGrad(cv=3, max_iter=5).fit(X, y, sample_weight=w)
    sk = SVR(C=est.C_, epsilon=est.epsilon_, gamma=est.gamma_, tol=1e-6 * np.std(y)).fit(
        X, y, sample_weight=w)
    np.testing.assert_allclose(est.predict(X[:7]), sk.predict(X[:7]), atol=1e-8)
    assert est.best_loss_ == min(h["value"] for h in est.history_)
    assert est.best_score_ == -est.best_loss_


def test_estimator_laplacian_refit():
    """The refit of a laplacian kernel (which SVR does not name) is SVR on scikit-learn's
    laplacian kernel at the chosen width."""
    X, y = _data(60)
    est = SVRHyperGrad(kernel="laplacian", cv=3, max_iter=2).fit(X, y)
    sk = SVR(C=est.C_, epsilon=est.epsilon_, kernel="precomputed", tol=1e-6).fit(
        laplacian_kernel(X, gamma=est.gamma_), y)
    np.testing.assert_allclose(est.predict(X[:5]), sk.predict(
        laplacian_kernel(X[:5], X, gamma=est.gamma_)), atol=1e-6)

def test_search_cv_returns_svr_near_the_grid():
    """HyperGradSearchCV(SVR()) refits the user's SVR; its CV MSE is within 2% of a
    6 x 3 x 6 GridSearchCV's on the same folds, and its rows are scikit-learn's scores."""
    X, y = _data(60)
    cv = KFold(3, shuffle=True, random_state=0)
    search = HyperGradSearchCV(SVR(), cv=cv, scoring="neg_mean_squared_error").fit(X, y)
    assert isinstance(search.best_estimator_, SVR)
    assert set(search.best_params_) == {"C", "epsilon", "gamma"}
    s = np.std(y)
    with threadpool_limits(1, "blas"):
        grid = GridSearchCV(SVR(), {"C": s * np.logspace(-1, 3, 6),
                                    "epsilon": s * np.array([0.01, 0.1, 0.3]),
                                    "gamma": np.logspace(-2, 1, 6) / (2 * X.var())},
                            cv=cv, scoring="neg_mean_squared_error").fit(X, y)
    assert search.best_score_ >= 1.02 * grid.best_score_
    ref = GridSearchCV(SVR(tol=1e-10), {k: [v] for k, v in search.best_params_.items()},
                       cv=cv, scoring="neg_mean_squared_error").fit(X, y)
    assert search.best_score_ == pytest.approx(ref.best_score_, rel=1e-5)


def test_search_cv_warns_when_the_refit_svr_stops_far_from_the_minimum():
    """libsvm's ``tol`` (1e-3) bounds the KKT violation in the units of y: on y x 1e-4
    the refit SVR stops with predictions far from the minimum its search scored (the
    search's own solves are relative to the spread of y), which a ConvergenceWarning
    states with the distance; on y, the refit is within 1e-3 of the spread (libsvm's
    tolerance) and no warning is given."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    from skhypergrad._refit_check import svr_refit_spread

    X, y = _data(60)
    cv = KFold(3, shuffle=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        search = HyperGradSearchCV(SVR(), cv=cv).fit(X, y)
    assert svr_refit_spread(search.best_estimator_, X, y) < 1e-3
    with pytest.warns(ConvergenceWarning, match=r"refit SVR stopped away .* of the "
                                                r"standard deviation of y"):
        search = HyperGradSearchCV(SVR(), cv=cv).fit(X, 1e-4 * y)
    assert svr_refit_spread(search.best_estimator_, X, 1e-4 * y) > 1e-2


def test_sigmoid_kernel_refused():
    """SVR's dual with the sigmoid kernel (not positive semidefinite) is not convex: the
    search and the estimator refuse it with a clear error."""
    X, y = _data(30)
    with pytest.raises(ValueError, match="not positive semidefinite"):
        HyperGradSearchCV(SVR(kernel="sigmoid"), cv=3).fit(X, y)
    with pytest.raises(ValueError, match="'kernel' parameter"):
        SVRHyperGrad(kernel="sigmoid").fit(X, y)


def test_search_cv_callable_kernel():
    """HyperGradSearchCV(SVR(kernel=callable)): ``C`` and ``epsilon`` searched on the
    kernel's matrices; its best score is GridSearchCV's at its parameters."""
    X, y = _data(45)
    cv = KFold(3, shuffle=True, random_state=0)
    search = HyperGradSearchCV(SVR(kernel=linear_kernel), cv=cv, max_iter=3,
                               scoring="neg_mean_squared_error").fit(X, y)
    assert set(search.best_params_) == {"C", "epsilon"}
    ref = GridSearchCV(SVR(kernel=linear_kernel, tol=1e-10),
                       {k: [v] for k, v in search.best_params_.items()}, cv=cv,
                       scoring="neg_mean_squared_error").fit(X, y)
    assert search.best_score_ == pytest.approx(ref.best_score_, rel=1e-5)


def test_indefinite_precomputed_kernel_refused():
    """A precomputed kernel with negative eigenvalues (a sigmoid's) is refused, clearly;
    a positive semidefinite one (a linear kernel's, singular) is searched."""
    from sklearn.metrics.pairwise import sigmoid_kernel

    X, y = _data(30)
    with pytest.raises(ValueError, match="negative eigenvalues"):
        HyperGradSearchCV(SVR(kernel="precomputed"), cv=3).fit(
            sigmoid_kernel(X, gamma=0.5, coef0=0.0), y)
    HyperGradSearchCV(SVR(kernel="precomputed"), cv=3, max_iter=1).fit(linear_kernel(X), y)


def test_grid_of_c_and_epsilon_scans_the_box_and_lands_on_grid_search():
    """``HyperGradSearchCV(SVR(), {"C": [1, 1000], "epsilon": [0.1, 31.6]})`` on the
    standardized diabetes data: the scan walks C over the box's decades and then a row of
    epsilon at its best C (with the default scan clipped onto the box it evaluated two
    values of C and one of epsilon, and ended 0.8% below the grid); every point is in
    the box and the best score is within 0.5% of ``GridSearchCV`` on the same grid."""
    from sklearn.datasets import load_diabetes
    from sklearn.preprocessing import StandardScaler

    X, y = load_diabetes(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    grid = {"C": np.logspace(0, 3, 8), "epsilon": np.logspace(-1, 1.5, 6)}
    search = HyperGradSearchCV(SVR(), grid).fit(X, y)
    params = search.cv_results_["params"]
    scan = [p for p, phase in zip(params, search.cv_results_["phase"]) if phase == "scan"]
    assert len({p["C"] for p in scan}) >= 3
    assert len({p["epsilon"] for p in scan}) >= 3
    for name, values in grid.items():
        v = np.array([p[name] for p in params])
        assert np.all((v >= values[0] * (1 - 1e-12)) & (v <= values[-1] * (1 + 1e-12)))
    with threadpool_limits(1, "blas"):
        ref = GridSearchCV(SVR(), grid).fit(X, y)
    assert search.best_score_ >= ref.best_score_ - 0.005 * abs(ref.best_score_)
