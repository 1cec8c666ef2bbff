"""Huber regression (:mod:`skhypergrad.huber`): scikit-learn's ``HuberRegressor`` solution
(at its scale, and jointly with the scale), the threshold ``epsilon`` as a hyperparameter
of the datafit differentiated by every engine, L1 / elastic-net variants, and the
held-out loss (the squared error, not the Huber loss)."""

import warnings

import numpy as np
import pytest
from scipy.optimize import minimize_scalar
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import HuberRegressor

from skhypergrad import CrossVal, HeldOut, ProxGradMap
from skhypergrad._search_space import l2_scale, null_model
from skhypergrad.datafits import BaseDatafit, weighted
from skhypergrad.huber import Huber, concomitant_fit, huber_scale, scale_floor
from skhypergrad.hypergrad import NSID
from skhypergrad.models import InnerModel
from skhypergrad.penalties import (L2, huber_lam_from_sklearn,
                                   huber_sklearn_from_lam)
from skhypergrad.solvers import CoordinateDescent, ProxGradient


def _data(n=120, p=8, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    y = X @ rng.standard_normal(p) + 3.0 + rng.standard_t(2, n)  # heavy tails, offset
    return X, y


def _sk_objective(X, y, coef, intercept, scale, alpha, epsilon):
    """``HuberRegressor``'s objective (``sklearn.linear_model._huber``)."""
    r = y - X @ coef - intercept
    a = np.abs(r)
    H = np.where(a > epsilon * scale, 2 * epsilon * a / scale - epsilon ** 2, (r / scale) ** 2)
    return float(np.sum(scale + H * scale) + alpha * coef @ coef)


def _sklearn(X, y, alpha, epsilon):
    return HuberRegressor(alpha=alpha, epsilon=epsilon, tol=1e-12, max_iter=10_000).fit(X, y)


@pytest.mark.parametrize("solver", [CoordinateDescent(tol=1e-14),
                                    ProxGradient(tol=1e-14, max_iter=100_000)])
def test_fixed_scale_solution_is_huber_regressors(solver):
    """At scikit-learn's scale, the fixed-scale problem's minimizer is HuberRegressor's
    (objective within 1e-6, relative)."""
    X, y = _data()
    alpha, epsilon = 0.5, 1.35
    sk = _sklearn(X, y, alpha, epsilon)
    pgmap = ProxGradMap(Huber(epsilon, sk.scale_, tune_epsilon=False), L2(), X, y,
                        fit_intercept=True, center=True)
    res = solver.solve(pgmap, huber_lam_from_sklearn(alpha, 0.0, X.shape[0]))
    assert res.converged
    w = pgmap.design.to_original(res.w)
    ours = _sk_objective(X, y, w[:-1], w[-1], sk.scale_, alpha, epsilon)
    ref = _sk_objective(X, y, sk.coef_, sk.intercept_, sk.scale_, alpha, epsilon)
    assert ours <= ref * (1 + 1e-6)
    np.testing.assert_allclose(w[:-1], sk.coef_, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("alpha, epsilon", [(0.5, 1.35), (5.0, 1.1), (1e-3, 2.0)])
def test_concomitant_fit_is_huber_regressors_joint_solution(alpha, epsilon):
    X, y = _data()
    sk = _sklearn(X, y, alpha, epsilon)
    pgmap = ProxGradMap(Huber(epsilon, 1.0), L2(), X, y, fit_intercept=True, center=True)
    lam = np.append(huber_lam_from_sklearn(alpha, 0.0, X.shape[0]), epsilon)
    w, scale, fixed = concomitant_fit(pgmap, lam, CoordinateDescent(tol=1e-14))
    assert fixed.datafit.scale == scale and fixed.n_hyper == 1
    w = fixed.design.to_original(w)
    ours = _sk_objective(X, y, w[:-1], w[-1], scale, alpha, epsilon)
    ref = _sk_objective(X, y, sk.coef_, sk.intercept_, sk.scale_, alpha, epsilon)
    assert ours <= ref * (1 + 1e-6)
    assert scale == pytest.approx(sk.scale_, rel=1e-4)


def test_huber_scale_minimizes_over_the_scale():
    rng = np.random.default_rng(0)
    r = rng.standard_t(2, 50)
    for epsilon in (1.1, 1.35, 3.0):  # epsilon = 1: the infimum is at sigma -> 0
        s = huber_scale(r, epsilon)
        ref = minimize_scalar(
            lambda t: _sk_objective(np.zeros((50, 0)), r, np.zeros(0), 0.0, t, 0.0, epsilon),
            bounds=(1e-3, 100.0), method="bounded", options={"xatol": 1e-12}).x
        assert s == pytest.approx(ref, rel=1e-6)


def test_sklearn_conversions():
    n = 40
    for rho, pen in ((0.0, "l2"), (1.0, "l1"), (0.3, "elasticnet")):
        lam = huber_lam_from_sklearn(2.5, rho, n)
        assert huber_sklearn_from_lam(lam, pen, n) == pytest.approx((2.5, rho))
    # alpha ||w||^2 on the sum of losses is lam2/2 ||w||^2 on their mean: lam2 = 2 alpha / n
    np.testing.assert_allclose(huber_lam_from_sklearn(2.5, 0.0, n), [2 * 2.5 / n])


def test_huber_with_l1_and_elastic_net_penalties():
    """Coordinate descent against FISTA (the duality gap certifies both), sparse
    solutions for an L1 part."""
    X, y = _data()
    for pen, lam in (("l1", [0.3]), ("elasticnet", [0.3, 0.02])):
        pgmap = InnerModel(Huber(1.35, 1.0, tune_epsilon=False), pen, True).make_map(
            X, y, center=True)
        cd = CoordinateDescent(tol=1e-13).solve(pgmap, lam)
        ref = ProxGradient(tol=1e-13, max_iter=100_000).solve(pgmap, lam)
        assert cd.converged and ref.converged
        np.testing.assert_allclose(cd.w, ref.w, rtol=1e-5, atol=1e-7)
        assert pgmap.objective(cd.w, lam) == pytest.approx(pgmap.objective(ref.w, lam),
                                                           rel=1e-12)
        assert 0 < np.count_nonzero(cd.w[:-1]) < X.shape[1]


@pytest.mark.parametrize("lam", [1e-3, 1e-2])
def test_coordinate_descent_from_a_model_whose_samples_are_outliers(lam):
    """At a scale far below the residuals nearly every sample of the null model is an
    outlier, where the loss has a slope but no curvature (fewer inliers than
    coefficients: a Newton model would be unbounded below): coordinate descent's model
    takes the curvatures of a majorizing quadratic there, and reaches FISTA's optimum
    (the duality gap certifies both) in a bounded number of epochs (linear convergence:
    the majorizer's curvature on the outliers is not the loss's); coordinate descent
    itself (``newton=False``: the path of more than 2047 coefficients)."""
    X, y = _data()
    y = 20.0 * y  # residuals of the null model about 20 to 100 times the scale
    pgmap = InnerModel(Huber(1.35, 1.0, tune_epsilon=False), "l1", True).make_map(
        X, y, center=True)
    w0 = null_model(pgmap)
    assert np.count_nonzero(np.abs(y - pgmap.design.matvec(w0)) <= 1.35) < X.shape[1]
    cd = CoordinateDescent(tol=1e-10, newton=False).solve(pgmap, [lam], w0)
    ref = ProxGradient(tol=1e-10, max_iter=10_000).solve(pgmap, [lam], w0)
    assert cd.converged and ref.converged and cd.n_iter < 2000
    assert pgmap.objective(cd.w, [lam]) == pytest.approx(pgmap.objective(ref.w, [lam]),
                                                         rel=1e-10)
    np.testing.assert_allclose(cd.w, ref.w, rtol=1e-5, atol=1e-6)


def test_coordinate_descent_stops_when_its_newton_model_makes_no_progress():
    """With the second derivative as its model's curvature (0 on the outliers), the
    first Newton model (no inlier at the null model) is unbounded below and its minimizer
    fails the line search:
    the solve stops after that one working set (it would repeat it), with a warning
    (coordinate descent itself: ``newton=False``)."""

    class HessianModelHuber(Huber):
        newton_curvature = BaseDatafit.newton_curvature

    X, y = _data()
    pgmap = InnerModel(HessianModelHuber(1.35, 1.0, tune_epsilon=False), "l1",
                       True).make_map(X, 100.0 * y, center=True)
    solver = CoordinateDescent(max_iter=1000, max_epochs=200, newton=False)
    with pytest.warns(ConvergenceWarning, match="relative gap 9.99e-01"):
        res = solver.solve(pgmap, [1e-3], null_model(pgmap))
    assert not res.converged and res.n_iter <= 200  # one working set's budget


class _Polished:
    """Coordinate descent, then Newton steps on the support and the intercept: exact
    for the piecewise-quadratic Huber loss once its inliers and the support are found
    (finite differences of the solutions need them exact well below the step's effect;
    a duality gap of 1e-14 leaves errors near 1e-7 in ``w``)."""

    def solve(self, pgmap, lam, w0=None):
        res = CoordinateDescent(tol=1e-14).solve(pgmap, lam, w0)
        fixed, lam_pen = pgmap.problem(lam)
        design, w = fixed.design, res.w.copy()
        k = design.n_coefs
        for _ in range(3):
            lin = fixed.linearize(w, lam_pen, at_solution=True)
            idx = np.flatnonzero(lin.jac_diag)
            l1, l2 = fixed.penalty.weights(lam_pen, design.n_features)
            coef = idx < k
            g = fixed.datafit.gradient(design, fixed.y, w)[idx]
            g[coef] += l1[idx[coef]] * np.sign(w[idx[coef]]) + l2[idx[coef]] * w[idx[coef]]
            H = lin.hessian_subset(idx) + np.diag(np.where(coef, l2[np.minimum(idx, k - 1)],
                                                           0.0))
            w[idx] -= np.linalg.solve(H, g)
        return res._replace(w=w)


def _fd_log_grad(crit, model, X, y, lam, solver, eps=1e-4):
    fd = []
    for j in range(lam.shape[0]):
        up, down = lam.copy(), lam.copy()
        up[j] *= np.exp(eps)
        down[j] *= np.exp(-eps)
        fd.append((crit.value(model, X, y, up, solver=solver).value
                   - crit.value(model, X, y, down, solver=solver).value) / (2 * eps))
    return np.array(fd)


@pytest.mark.parametrize("penalty, lam_pen", [("l2", [0.05]), ("elasticnet", [0.02, 0.05])])
@pytest.mark.parametrize("engine", ["aid-cg", "aid-fp", "itd"])
def test_every_engine_differentiates_in_alpha_and_epsilon(engine, penalty, lam_pen):
    """The CV loss in ``log [penalty's..., epsilon]``: every engine against central
    finite differences, to 1e-5."""
    X, y = _data()
    model = InnerModel(Huber(1.35, 1.0), penalty, fit_intercept=True)
    crit = CrossVal(cv=3)
    lam = np.array(lam_pen + [1.35])
    solver = CoordinateDescent(tol=1e-14)
    res = crit.value_and_grad(model, X, y, lam, solver=solver, engine=engine)
    fd = _fd_log_grad(crit, model, X, y, lam, _Polished())
    assert abs(fd[-1]) > 1e-2  # epsilon matters
    np.testing.assert_allclose(res.grad, fd, rtol=1e-5, atol=1e-8)


def test_nsid_differentiates_in_epsilon():
    X, y = _data(n=300)
    model = InnerModel(Huber(1.35, 1.0), "l2", fit_intercept=True)
    crit = HeldOut(*_data(n=100, seed=1))
    lam = np.array([0.05, 1.35])
    solver = CoordinateDescent(tol=1e-14)
    exact = crit.value_and_grad(model, X, y, lam, solver=solver, engine="aid-cg").grad
    est = crit.value_and_grad(model, X, y, lam, solver=solver,
                              engine=NSID(n_samples=20_000, batch_size=50,
                                          random_state=0)).grad
    np.testing.assert_allclose(est, exact, rtol=5e-2)


def test_the_heldout_loss_is_the_squared_error():
    """A Huber model is scored by the MSE (its datafit's ``outer_losses``), not by its
    Huber loss."""
    X, y = _data()
    X_val, y_val = _data(seed=1)
    model = InnerModel(Huber(1.35, 1.0), "l2", fit_intercept=True)
    lam = np.array([0.05, 1.35])
    pgmap = model.make_map(X, y, center=True)
    w = pgmap.design.to_original(CoordinateDescent(tol=1e-12).solve(pgmap, lam).w)
    pred = X_val @ w[:-1] + w[-1]
    mse = np.mean((pred - y_val) ** 2)
    huber = Huber(1.35, 1.0).loss(y_val, pred)
    assert abs(huber - mse) > 0.1 * mse
    value = HeldOut(X_val, y_val).value(model, X, y, lam, solver=CoordinateDescent(tol=1e-12))
    assert value.value == pytest.approx(mse, rel=1e-8)


def test_scale_floor_formula():
    y = np.array([0.0, 1.0, 3.0, 7.0, 100.0])  # deviations from the median 3: 3 2 0 4 97
    assert scale_floor(y) == pytest.approx(1e-6 * 3.0)
    y = np.array([2.0, 2.0, 2.0, 5.0])  # median absolute deviation 0: the mean one, 0.75
    assert scale_floor(y) == pytest.approx(1e-6 * 0.75)
    assert scale_floor(np.full(4, 1e6)) == 10 * np.finfo(np.float64).eps * 1e6


@pytest.mark.parametrize("y_of", [lambda X: X[:, 0], lambda X: np.full(X.shape[0], 3.0)])
def test_concomitant_scale_stops_at_the_floor_on_a_perfect_fit(y_of):
    """The joint infimum is at sigma -> 0: the scale is the floor, phi' > 0 there (the
    minimizer on sigma >= floor), the fit exact to rounding."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(10, 4))
    y = y_of(X)
    pgmap = ProxGradMap(Huber(1.35, 1.0), L2(), X, y, fit_intercept=True, center=True)
    lam = np.append(huber_lam_from_sklearn(1e-4, 0.0, 10), 1.35)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        w, scale, fixed = concomitant_fit(pgmap, lam, CoordinateDescent(tol=1e-10))
    assert scale == pytest.approx(scale_floor(fixed.y), rel=1e-12)
    t = (fixed.y - fixed.design.matvec(w)) / scale
    assert np.all(np.abs(t) <= 1.35) and np.sum(t ** 2) < 10  # phi'(floor) > 0


@pytest.mark.parametrize("s", [1e6, 1e-6])
def test_concomitant_fit_from_the_null_model_follows_the_units_of_y(s, monkeypatch):
    """From the intercept-only model (as the estimators start), targets ``s y`` give
    ``s`` times the scale and the solution with as many solver iterations: the first
    solve is at the scale of the null model's residuals, not at the datafit's scale of
    1 (with y x 1e6 every residual was an outlier there, Newton's method stalled and
    coordinate descent took 25,000 epochs: HuberRegressorHyperGrad 5x slower)."""
    X, y = _data()
    iterations = []
    solve = CoordinateDescent.solve

    def counting(self, *args, **kwargs):
        res = solve(self, *args, **kwargs)
        iterations.append(res.n_iter)
        return res

    monkeypatch.setattr(CoordinateDescent, "solve", counting)
    fits = []
    for target, alpha in ((y, 0.5), (s * y, 0.5 / s)):  # the penalty in units of y too
        lam = np.append(huber_lam_from_sklearn(alpha, 0.0, X.shape[0]), 1.35)
        pgmap = ProxGradMap(Huber(1.35, 1.0), L2(), X, target, fit_intercept=True,
                            center=True)
        iterations.clear()
        w, scale, fixed = concomitant_fit(pgmap, lam, CoordinateDescent(tol=1e-10),
                                          null_model(pgmap), scale_tol=1e-6)
        fits.append((fixed.design.to_original(w), scale, sum(iterations)))
    (w, scale, n_iter), (w_s, scale_s, n_iter_s) = fits
    assert scale_s == pytest.approx(s * scale, rel=1e-6)
    np.testing.assert_allclose(w_s / s, w, rtol=1e-6, atol=1e-8 * np.abs(w).max())
    assert n_iter_s <= 1.2 * n_iter


def test_unconverged_scale_warns_with_the_residual():
    X, y = _data()
    pgmap = ProxGradMap(Huber(1.35, 1.0), L2(), X, y, fit_intercept=True, center=True)
    lam = np.append(huber_lam_from_sklearn(0.5, 0.0, X.shape[0]), 1.35)
    with pytest.warns(ConvergenceWarning, match=r"scale did not converge in 1 .*phi'"):
        concomitant_fit(pgmap, lam, CoordinateDescent(tol=1e-10), max_iter=1)


def test_l2_scale_is_the_robust_curvature_at_the_null_model():
    """kappa = min(2/sigma, 2 epsilon / med|r|) x the mean column variance, r the null
    model's residuals: at the floor scale of a noise-free target it is in units of y,
    whatever sigma; y -> c y (the scale with it) rescales it by 1/c."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((101, 5))
    y = X @ rng.standard_normal(5)

    def kappa(scale, c=1.0):
        return l2_scale(InnerModel(Huber(1.35, scale), "l2", True).make_map(X, c * y))

    colvar = float(np.mean(np.var(X, axis=0)))
    pgmap = InnerModel(Huber(1.35, 1e-6), "l2", True).make_map(X, y)
    r = y - pgmap.design.matvec(null_model(pgmap))
    assert kappa(1e-6) == pytest.approx(2.0 * 1.35 / np.median(np.abs(r)) * colvar, rel=1e-12)
    assert kappa(1e-6) == kappa(1e-3)  # the scale does not enter below the residuals'
    assert kappa(1e3) == pytest.approx(2.0 / 1e3 * colvar, rel=1e-12)  # all inliers
    for c in (1e-6, 1e6):
        for scale in (1e-6, 1e3):
            assert kappa(c * scale, c) == pytest.approx(kappa(scale) / c, rel=1e-10)


def test_coordinate_descent_stops_at_the_resolution_of_w():
    """At a tiny scale (2 / sigma ~ 1e6), a warm start far from the noise-free fit: the
    Newton loop stops once the violation is below what one ulp of w resolves, in
    hundreds of epochs (it repeated up to 1.4e5 times, 8 s), the gap near tol
    (coordinate descent itself: ``newton=False``)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((80, 5))
    y = X @ rng.standard_normal(5)
    pgmap = InnerModel(Huber(1.35, scale_floor(y), tune_epsilon=False), "l2",
                       True).make_map(X, y, center=True)
    solver = CoordinateDescent(tol=1e-10, newton=False)
    w0 = solver.solve(pgmap, [3.0], null_model(pgmap)).w  # a strongly shrunk fit
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        res = solver.solve(pgmap, [0.3], w0)
        ref = solver.solve(pgmap, [0.3], null_model(pgmap))
    assert res.n_iter < 3000 and res.gap < 1e-8
    np.testing.assert_allclose(res.w, ref.w, rtol=1e-7, atol=1e-9)


def _floor_scale_problem(n=60):
    """Noise-free ``y = X w`` at the floor scale (1e-6 MAD): a curvature ``2 / sigma`` of
    2e6 inside a band of width 1e-6 around the fit."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 5))
    y = (X @ rng.standard_normal(5))[:n]
    model = InnerModel(Huber(1.35, scale_floor(y), tune_epsilon=False), "l2", True)
    return model.make_map(X[:n], y, center=True)


@pytest.mark.parametrize("newton", [False, "auto"])
@pytest.mark.parametrize("lam", [0.01, 0.1, 0.75])
def test_gap_at_the_floor_scale_is_that_of_the_returned_coefficients(lam, newton):
    """Coordinate descent's predictions are updated by steps whose rounding adds up; at a
    curvature of 2e6 that drift (1e-8) made the gap it measured 1e-30 or 1e-9 where the
    gap of the coefficients it returned was 5e-5 or 1e-7. The predictions are formed
    again at every round: the reported gap is that of ``w``, below ``tol``, no warning;
    Newton's method (``newton="auto"``) reports the gap of its iterate too."""
    pgmap = _floor_scale_problem()
    solver = CoordinateDescent(tol=1e-10, newton=newton)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        res = solver.solve(pgmap, np.array([lam]), null_model(pgmap))
    assert res.converged and res.gap <= 1e-10
    assert res.gap == pytest.approx(solver._stop_measure(pgmap, np.array([lam]), res.w),
                                    rel=1e-6, abs=1e-14)


def test_unconverged_solve_at_the_floor_scale_warns_with_its_gap():
    """A solve stopped early still warns, with the gap of the coefficients it returns."""
    pgmap = _floor_scale_problem()
    lam = np.array([0.75])
    solver = CoordinateDescent(tol=1e-10, max_iter=3, newton=False)
    with pytest.warns(ConvergenceWarning, match=r"did not converge .*relative gap"):
        res = solver.solve(pgmap, lam, null_model(pgmap))
    assert not res.converged
    assert res.gap == pytest.approx(solver._stop_measure(pgmap, lam, res.w), rel=1e-6)


def _exact_fit_problem(penalty="elasticnet"):
    """scikit-learn's repeated-rows check data (15 rows of 30 features, integer targets)
    stacked twice, at the floor scale: fitted exactly, nearly every residual of a
    starting point beyond the threshold 1.35e-6."""
    rng = np.random.RandomState(42)
    X = rng.rand(15, 30)
    y = rng.randint(0, 3, size=15).astype(float)
    X, y = np.vstack([X, X]), np.concatenate([y, y])
    model = InnerModel(Huber(1.35, scale_floor(y), tune_epsilon=False), penalty, True)
    return model.make_map(X, y, center=True)


@pytest.mark.parametrize("lam", [[0.05, 0.002], [0.11, 0.022], [0.23, 2e-7]])
def test_newton_solves_an_exact_fit_at_the_floor_scale(lam):
    """Newton's method on a support, from the null model, at the floor scale of an exact
    fit (coordinate descent took 3e5 epochs per solve and stopped at gaps of 1e-2):
    directly, or along the larger scales of the smoothing path, it reaches the duality
    gap 1e-10 in a few hundred iterations, and coordinate descent started there finds no
    lower objective."""
    pgmap = _exact_fit_problem()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        res = CoordinateDescent(tol=1e-10).solve(pgmap, lam, null_model(pgmap))
    assert res.converged and res.gap <= 1e-10 and res.n_iter < 500
    polish = CoordinateDescent(tol=1e-12, newton=False, max_epochs=2000, warn=False).solve(
        pgmap, lam, res.w)
    assert pgmap.objective(polish.w, lam) >= pgmap.objective(res.w, lam) * (1 - 1e-9)


def test_newton_pivots_an_intercept_without_curvature():
    """A strong L2 weight at the floor scale of a noise-free fit: every residual is an
    outlier, and the Newton system has no curvature in the intercept (singular); its
    ridged step moves the intercept to the next breakpoint, and Newton's method
    converges (no warning) in a few steps, at the objective of coordinate descent (which
    took 9e4 epochs on such folds of 133 rows)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((80, 5))
    y = X @ rng.standard_normal(5)
    pgmap = InnerModel(Huber(1.35, scale_floor(y), tune_epsilon=False), "l2",
                       True).make_map(X, y, center=True)
    w0 = null_model(pgmap)
    assert not np.any(np.abs(y - pgmap.design.matvec(w0)) <= 1.35 * scale_floor(y))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        res = CoordinateDescent(tol=1e-10).solve(pgmap, [3.0], w0)
        ref = CoordinateDescent(tol=1e-10, newton=False).solve(pgmap, [3.0], w0)
    assert res.converged and ref.converged and res.n_iter < 20
    assert pgmap.objective(res.w, [3.0]) == pytest.approx(pgmap.objective(ref.w, [3.0]),
                                                           rel=1e-9)


def test_smoothing_path_scales():
    """The scales from the spread of ``y`` about its median down by factors of 10, the
    last within 10 of the datafit's; none above a scale at least that spread; with
    integer weights, those of the rows repeated."""
    y = np.array([0.0, 1.0, 3.0, 7.0, 100.0])  # deviations from the median 3: 3 2 0 4 97
    path = Huber(1.35, 2e-4).smoothing_path(y)
    np.testing.assert_allclose([d.scale for d in path], 3.0 / 10.0 ** np.arange(5),
                               rtol=1e-12)
    assert all(d.epsilon == 1.35 for d in path)
    assert Huber(1.35, 3.0).smoothing_path(y) == ()
    sw = np.array([2.0, 0.0, 1.0, 3.0, 1.0])
    rep = np.repeat(np.arange(5), sw.astype(int))
    weighted_path = weighted(Huber(1.35, 1e-3), sw).smoothing_path(y)
    np.testing.assert_allclose([d.unweighted.scale for d in weighted_path],
                               [d.scale for d in Huber(1.35, 1e-3).smoothing_path(y[rep])],
                               rtol=1e-12)
