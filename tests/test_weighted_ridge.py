"""The per-feature L2 penalty (:class:`~skhypergrad.WeightedL2`) and
:class:`~skhypergrad.WeightedRidgeHyperGrad`.

At fixed weights every solver's solution is the closed form
:math:`(X_c^T X_c / n + \\mathrm{diag}(\\lambda)) w = X_c^T y_c / n` (centred data, the
intercept from the means); the duality gap is zero there and bounds the
suboptimality elsewhere; every engine's hypergradient (all ``p`` partial derivatives)
matches central finite differences, and SURE's exact degrees of freedom match the
trace formula. The estimator passes scikit-learn's checks, and its guard returns
:class:`~skhypergrad.RidgeHyperGrad`'s model when the weights do not predict held-out
rows significantly better (noise features at a larger scale, a plain ridge truth).
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.estimator_checks import parametrize_with_checks

from skhypergrad import (SURE, HeldOut, InnerModel, LassoHyperGrad, RidgeHyperGrad,
                         WeightedL2, WeightedLassoHyperGrad, WeightedRidgeHyperGrad,
                         hypergradient)
from skhypergrad._base import null_model
from skhypergrad.solvers import CoordinateDescent, ProxGradient, duality_gap

from _checks import cv_weight_checks

ENGINES = ["aid-cg", "aid-fp", "itd"]
LAM = np.linspace(0.05, 2.0, 6)


def _regression(n=60, p=6, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, p) + 0.5
    return X, X @ rng.randn(p) + rng.randn(n) + 3.0


def _closed_form(X, y, lam):
    """``(coef, intercept)`` of :math:`\\frac{1}{2n}\\|y - Xw - b\\|^2 +
    \\frac12\\sum_j \\lambda_j w_j^2`."""
    Xc, yc = X - X.mean(axis=0), y - y.mean()
    n = X.shape[0]
    coef = np.linalg.solve(Xc.T @ Xc / n + np.diag(lam), Xc.T @ yc / n)
    return coef, y.mean() - X.mean(axis=0) @ coef


def _model(lam=LAM, fit_intercept=True):
    return InnerModel("quadratic", "weighted_l2", fit_intercept=fit_intercept, lam=lam)


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("solver", [CoordinateDescent(tol=1e-15),
                                    CoordinateDescent(tol=1e-15, precompute=True),
                                    ProxGradient(tol=1e-15)], ids=["cd", "cd-gram", "fista"])
def test_solution_is_the_closed_form(solver, sparse):
    X, y = _regression()
    pgmap = _model().make_map(sp.csc_matrix(X) if sparse else X, y, center=True)
    res = solver.solve(pgmap, LAM, null_model(pgmap))
    coef, b = _closed_form(X, y, LAM)
    assert res.converged
    np.testing.assert_allclose(pgmap.design.coef(res.w), coef, rtol=0, atol=1e-8)
    assert abs(pgmap.design.original_intercept(res.w) - b) < 1e-8


def test_duality_gap_is_zero_at_the_solution_and_bounds_elsewhere():
    X, y = _regression()
    pgmap = _model().make_map(X, y, center=True)
    w = CoordinateDescent(tol=1e-16).solve(pgmap, LAM, null_model(pgmap)).w
    primal, _, gap, _ = duality_gap(pgmap, w, LAM)
    assert primal == pytest.approx(pgmap.objective(w, LAM), rel=1e-12)
    assert abs(gap) < 1e-12 * primal
    w_off = w.copy()
    w_off[:-1] += 0.05 * np.arange(1, 7)
    primal_off, _, gap_off, _ = duality_gap(pgmap, w_off, LAM)
    assert gap_off >= primal_off - primal > 0


@pytest.mark.parametrize("engine", ENGINES)
def test_hypergradient_matches_finite_differences(engine):
    """All six partial derivatives in ``log lam_j`` against central differences of the
    held-out MSE of the closed-form solution (whose value the criterion gives)."""
    X, y = _regression(n=50)

    def held_out_mse(lam):
        coef, b = _closed_form(X[:35], y[:35], lam)
        return float(np.mean((X[35:] @ coef + b - y[35:]) ** 2))

    value, grad = hypergradient(_model(), X[:35], y[:35], criterion=HeldOut(X[35:], y[35:]),
                                method=engine, tol=1e-14)
    assert value == pytest.approx(held_out_mse(LAM), rel=1e-10)
    h = 1e-5
    fd = [(held_out_mse(LAM * np.exp(e)) - held_out_mse(LAM * np.exp(-e))) / (2 * h)
          for e in h * np.eye(LAM.size)]
    assert np.all(np.abs(fd) > 1e-3)  # real slopes are compared
    np.testing.assert_allclose(grad, fd, rtol=1e-5)


def test_prox_vjp_on_support_is_the_full_one():
    """The fixed-point shortcut (at a solution, on the support) gives the full transposed
    Jacobian in ``lam``."""
    X, y = _regression()
    pgmap = _model().make_map(X, y, center=True)
    w = CoordinateDescent(tol=1e-16).solve(pgmap, LAM, null_model(pgmap)).w
    u = np.random.default_rng(0).standard_normal(w.size)
    full, at_solution = pgmap.linearize(w, LAM), pgmap.linearize(w, LAM, at_solution=True)
    np.testing.assert_allclose(at_solution.vjp_lam(u), full.vjp_lam(u), rtol=1e-7)
    np.testing.assert_allclose(at_solution.jac_diag, full.jac_diag, rtol=1e-12)


def test_sure_exact_df_is_the_trace_formula():
    """``df = 1 + tr((G + diag(lam))^-1 G)``, ``G`` the centred Gram matrix, and the
    gradient of SURE matches central differences."""
    X, y = _regression()
    n = X.shape[0]
    Xc = X - X.mean(axis=0)
    G = Xc.T @ Xc / n
    res = SURE(1.0).value_and_grad(_model(), X, y, LAM, solver=CoordinateDescent(tol=1e-14),
                                   engine="aid-cg")
    assert res.values[1] == pytest.approx(1 + np.trace(np.linalg.solve(G + np.diag(LAM), G)),
                                          rel=1e-10)
    h = 1e-5
    for j in (0, 3):
        e = np.zeros(LAM.size)
        e[j] = h
        hi, lo = (SURE(1.0).value(_model(), X, y, LAM * np.exp(s * e),
                                  solver=CoordinateDescent(tol=1e-14)).value for s in (1, -1))
        assert res.grad[j] == pytest.approx((hi - lo) / (2 * h), rel=1e-5)


def test_penalty_refuses_a_common_weight():
    with pytest.raises(ValueError, match="one L2 weight per feature"):
        WeightedL2().l2_weight(LAM)


# -- the estimator ------------------------------------------------------------------------
@parametrize_with_checks([WeightedRidgeHyperGrad(cv=3, max_iter=3)],
                         expected_failed_checks=cv_weight_checks)
def test_sklearn_compatible(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


def _split(X, y, n_train):
    return X[:n_train], y[:n_train], X[n_train:], y[n_train:]


def _test_mse(est, X, y):
    return float(np.mean((est.predict(X) - y) ** 2))


def _noise_at_scale(seed, n_informative, n_noise, scale, n_train=200):
    """``n_train`` training and 2,000 test rows: ``n_informative`` N(0, 1) features with
    N(0, 1) coefficients, ``n_noise`` useless ones times ``scale``, unit noise."""
    rng = np.random.RandomState(seed)
    n = n_train + 2000
    X = np.hstack([rng.randn(n, n_informative), scale * rng.randn(n, n_noise)])
    y = X[:, :n_informative] @ rng.randn(n_informative) + rng.randn(n)
    return _split(X, y, n_train)


@pytest.mark.parametrize("seed", [0, 2, 3])
def test_weights_descend_to_the_minimum_of_the_criterion(seed):
    """The noise features' weights must grow by decades from slopes far below the
    informative ones': with each weight's step scaled by its slopes' root mean square
    the descent of ``early_stopping=False`` reaches a CV loss of 0.84-0.93 and a test
    error 11-14% below RidgeHyperGrad's (steps set by the steepest slope stopped after
    4-9 steps at 1.23-1.31, the test error 0.5-1.1% above Ridge's)."""
    X_tr, y_tr, X_te, y_te = _noise_at_scale(seed, 5, 40, 3.0)
    weighted = WeightedRidgeHyperGrad(cv=5, early_stopping=False).fit(X_tr, y_tr)
    ridge = RidgeHyperGrad(cv=5).fit(X_tr, y_tr)
    assert weighted.best_loss_ < 0.75 * ridge.best_loss_
    assert _test_mse(weighted, X_te, y_te) < 0.92 * _test_mse(ridge, X_te, y_te)


@pytest.mark.parametrize("seed", [0, 1, 3])
def test_weights_hold_out_useless_features_on_a_larger_scale(seed):
    """150 rows, ten informative features, fifty useless ones ten times larger: the
    weights kept by the guard predict with a test error below a fifth of
    RidgeHyperGrad's (0.09-0.13 of it; steps set by the steepest slope gave weights
    the guard discarded on seeds 0 and 1, and 0.46 of it on seed 3)."""
    X_tr, y_tr, X_te, y_te = _noise_at_scale(seed, 10, 50, 10.0, n_train=150)
    weighted = WeightedRidgeHyperGrad(cv=5).fit(X_tr, y_tr)
    ridge = RidgeHyperGrad(cv=5).fit(X_tr, y_tr)
    assert np.ptp(np.log10(weighted.alphas_)) > 1
    assert _test_mse(weighted, X_te, y_te) < 0.2 * _test_mse(ridge, X_te, y_te)


def test_guard_keeps_ridge_when_the_weights_do_not_predict_better():
    """Five informative features, forty noise features at three times their scale, 200
    rows: the weights' descent lowers the monitor rows' error by less than two standard
    errors of its differences (1.13 against 1.22, z = 1.3), so the guard keeps the
    common weight: every weight is RidgeHyperGrad's ``alpha_``, the predictions its."""
    X_tr, y_tr, X_te, y_te = _noise_at_scale(0, 5, 40, 3.0)
    weighted = WeightedRidgeHyperGrad(cv=5).fit(X_tr, y_tr)
    ridge = RidgeHyperGrad(cv=5).fit(X_tr, y_tr)
    np.testing.assert_allclose(weighted.alphas_, ridge.alpha_, rtol=1e-12)
    np.testing.assert_allclose(weighted.predict(X_te), ridge.predict(X_te), rtol=1e-8)
    # the refit is the closed form at the chosen weights
    coef, b = _closed_form(X_tr, y_tr, weighted.alphas_ / X_tr.shape[0])
    np.testing.assert_allclose(weighted.coef_, coef, atol=1e-6 * np.abs(coef).max())
    assert weighted.intercept_ == pytest.approx(b, abs=1e-6 * np.abs(coef).max())


def test_matches_ridge_on_a_ridge_truth():
    """Dense coefficients of one scale: the guard keeps the common weight (or weights as
    good), and the test error is within 1% of RidgeHyperGrad's."""
    rng = np.random.RandomState(1)
    n, n_train = 1200, 200
    X = rng.randn(n, 10)
    y = X @ (0.3 * rng.randn(10)) + rng.randn(n)
    X_tr, y_tr, X_te, y_te = _split(X, y, n_train)
    weighted = WeightedRidgeHyperGrad(cv=5, max_iter=20).fit(X_tr, y_tr)
    ridge = RidgeHyperGrad(cv=5).fit(X_tr, y_tr)
    assert _test_mse(weighted, X_te, y_te) == pytest.approx(_test_mse(ridge, X_te, y_te),
                                                            rel=0.01)


def test_without_early_stopping_and_with_few_rows():
    """``early_stopping=False`` descends the weights on all the rows; with fewer than 100
    rows the guard keeps RidgeHyperGrad's common weight."""
    X, y = _regression(n=60)
    few = WeightedRidgeHyperGrad(cv=3).fit(X, y)
    ridge = RidgeHyperGrad(cv=3).fit(X, y)
    np.testing.assert_allclose(few.alphas_, ridge.alpha_, rtol=1e-12)
    free = WeightedRidgeHyperGrad(cv=3, early_stopping=False, max_iter=5).fit(X, y)
    assert free.alphas_.shape == (6,) and np.ptp(free.alphas_) > 0


@pytest.mark.parametrize("Est, Common", [(WeightedRidgeHyperGrad, RidgeHyperGrad),
                                         (WeightedLassoHyperGrad, LassoHyperGrad)])
def test_predefined_split_keeps_its_folds(Est, Common):
    """A ``PredefinedSplit`` fixes its folds over all the rows: the weights' monitor
    cannot hold a fifth of them out (the folds would index rows it removed), so the
    guard keeps the common weight, searched on the user's folds, as for a list of
    folds (before: an IndexError)."""
    from sklearn.model_selection import PredefinedSplit

    X, y = _regression(n=120)
    cv = PredefinedSplit(np.arange(120) % 3)
    est = Est(cv=cv, max_iter=3).fit(X, y, sample_weight=np.arange(120) % 4)
    common = Common(cv=cv, max_iter=3).fit(X, y, sample_weight=np.arange(120) % 4)
    np.testing.assert_allclose(est.lam_, common.lam_[0], rtol=1e-12)
