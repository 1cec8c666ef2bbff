"""L2-only models: Ridge, RidgeClassifier and the L2 LogisticRegression.

Solutions against scikit-learn (objective to 1e-6), hypergradients of every engine
against central finite differences, the estimators against scikit-learn's checks,
and the searches against ``GridSearchCV`` (20 values, same folds) and ``RidgeCV``.
"""

import warnings
from dataclasses import replace

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, Ridge, RidgeClassifier, RidgeCV
from sklearn.metrics import log_loss
from sklearn.model_selection import (GridSearchCV, KFold, LeaveOneOut, StratifiedKFold,
                                     cross_val_score)
from sklearn.preprocessing import PolynomialFeatures, StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from skhypergrad import (CrossVal, HeldOut, HyperGradSearchCV, LogisticRegressionHyperGrad,
                         RidgeClassifierHyperGrad, RidgeHyperGrad, hypergradient,
                         squared_class_error, squared_class_error_scorer)
from skhypergrad._base import null_model
from skhypergrad.hypergrad import AIDConjugateGradient
from skhypergrad.models import from_estimator
from skhypergrad.solvers import CoordinateDescent

from _checks import cv_weight_checks

ENGINES = ["aid-cg", "aid-fp", "itd"]


def _regression(n=60, p=8, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, p) + 0.5
    return X, X @ rng.randn(p) + 2.0 * rng.randn(n) + 3.0


def _classes(n=90, p=6, n_classes=2, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, p)
    scores = X @ rng.randn(p, n_classes) + 1.5 * rng.randn(n, n_classes)
    return X, np.array(["a", "b", "c", "d"])[scores.argmax(axis=1)]


def _solve(model, X, y):
    """``(coef (K, p), intercept (K,))`` of ``model`` at its ``lam``, to a gap of 1e-14."""
    pgmap = model.make_map(X, model.encode(y), center=True)
    w = CoordinateDescent(tol=1e-14).solve(pgmap, model.lam, null_model(pgmap)).w
    coef = np.atleast_2d(pgmap.design.coef(w).T)
    return coef, np.atleast_1d(pgmap.design.original_intercept(w))


def _ridge_objective(X, Y, coef, intercept, alpha):
    r"""scikit-learn's :math:`\|Y - XW - b\|_F^2 + \alpha\|W\|_F^2`."""
    R = Y - X @ coef.T - intercept
    return float(np.sum(R * R) + alpha * np.sum(coef * coef))


def _signs(y, classes):
    Y = np.where(y[:, None] == classes[None, :], 1.0, -1.0)
    return Y[:, 1:] if len(classes) == 2 else Y


def _logistic_objective(X, y, coef, intercept, C, classes):
    scores = X @ coef.T + intercept
    if scores.shape[1] == 1:
        scores = np.column_stack([np.zeros(len(y)), scores[:, 0]])
    z = scores - scores.max(axis=1, keepdims=True)
    proba = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    return C * log_loss(y, proba, labels=classes, normalize=False) \
        + 0.5 * float(np.sum(coef * coef))


# -- solutions against scikit-learn ------------------------------------------------------
@pytest.mark.parametrize("alpha", [0.1, 10.0])
def test_ridge_solution_is_sklearns(alpha):
    X, y = _regression()
    model = from_estimator(Ridge(alpha=alpha), y)
    np.testing.assert_allclose(model.lam, [alpha / len(y)])
    coef, b = _solve(model, X, y)
    sk = Ridge(alpha=alpha, solver="cholesky").fit(X, y)
    ours = _ridge_objective(X, y[:, None], coef, b, alpha)
    theirs = _ridge_objective(X, y[:, None], sk.coef_[None, :], np.atleast_1d(sk.intercept_),
                              alpha)
    assert abs(ours - theirs) <= 1e-6 * theirs
    np.testing.assert_allclose(coef.ravel(), sk.coef_, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_ridge_classifier_solution_is_sklearns(n_classes):
    X, y = _classes(n_classes=n_classes)
    alpha = 2.0
    model = from_estimator(RidgeClassifier(alpha=alpha), y)
    coef, b = _solve(model, X, y)
    sk = RidgeClassifier(alpha=alpha, solver="cholesky").fit(X, y)
    Y = _signs(y, sk.classes_)
    ours = _ridge_objective(X, Y, coef, b, alpha)
    sk_coef = np.atleast_2d(sk.coef_)  # (p,) for two classes in scikit-learn 1.9
    theirs = _ridge_objective(X, Y, sk_coef, np.atleast_1d(sk.intercept_), alpha)
    assert abs(ours - theirs) <= 1e-6 * theirs
    np.testing.assert_allclose(coef, sk_coef, rtol=1e-6, atol=1e-9)
    # the held-out loss is the mean squared error against the labels +-1
    decision = sk.decision_function(X)
    assert squared_class_error(y, decision) == pytest.approx(
        np.mean((Y.ravel() - decision.ravel()) ** 2), rel=1e-12)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_l2_logistic_solution_is_sklearns(n_classes):
    X, y = _classes(n_classes=n_classes)
    C = 0.3
    model = from_estimator(LogisticRegression(C=C), y)  # scikit-learn's default: L2
    assert model.penalty == "l2"
    np.testing.assert_allclose(model.lam, [1.0 / (C * len(y))])
    coef, b = _solve(model, X, y)
    sk = LogisticRegression(C=C, tol=1e-12, max_iter=10_000).fit(X, y)
    ours = _logistic_objective(X, y, coef, b, C, sk.classes_)
    theirs = _logistic_objective(X, y, sk.coef_, sk.intercept_, C, sk.classes_)
    assert ours <= theirs * (1 + 1e-6) and theirs <= ours * (1 + 1e-6)
    np.testing.assert_allclose(coef, sk.coef_, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("C", [0.01, 1.0, 1e3])
def test_l2_logistic_solves_by_a_reference_hessian(C):
    """Binary L2 logistic regression (breast cancer, standardized; C = 1e3 nearly
    separable) is solved by L-BFGS preconditioned with the datafit's Hessian (the logistic
    datafit declares ``smooth_hessian``): the solve returns its last reference and reaches
    scikit-learn's objective to 1e-6; from the solution and that reference, the solve at
    1.2 C forms at most one Hessian, takes at most 6 steps, and reaches the objective of a
    cold solve at a gap of 1e-14 to 1e-10 (relative)."""
    X, y = load_breast_cancer(return_X_y=True)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    model = from_estimator(LogisticRegression(C=C), y)
    pgmap = model.make_map(X, model.encode(y), center=True)
    solver = CoordinateDescent(tol=1e-10)  # a search's
    res = solver.solve(pgmap, model.lam)
    assert res.converged and res.reference.shape == (31, 31)
    coef = np.atleast_2d(pgmap.design.coef(res.w))
    b = np.atleast_1d(pgmap.design.original_intercept(res.w))
    sk = LogisticRegression(C=C, tol=1e-12, max_iter=100_000).fit(X, y)
    ours = _logistic_objective(X, y, coef, b, C, sk.classes_)
    theirs = _logistic_objective(X, y, sk.coef_, sk.intercept_, C, sk.classes_)
    assert ours <= theirs * (1 + 1e-6) and theirs <= ours * (1 + 1e-6)
    lam = from_estimator(LogisticRegression(C=1.2 * C), y).lam
    formed, gram = [], type(pgmap.design).weighted_gram
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(type(pgmap.design), "weighted_gram",
                   lambda self, h: formed.append(1) or gram(self, h))
        warm = solver.solve(pgmap, lam, res.w, reference=res.reference)
    cold = CoordinateDescent(tol=1e-14).solve(pgmap, lam)
    assert warm.converged and warm.n_iter <= 6 and len(formed) <= 1
    assert pgmap.objective(warm.w, lam) == pytest.approx(pgmap.objective(cold.w, lam),
                                                         rel=1e-10)


@pytest.mark.parametrize("C", [1.0, 100.0])
def test_l2_logistic_loose_solve_of_raw_columns_forms_a_reference(C):
    """Raw breast cancer (columns from 1e-3 to 1e3): a solve to scikit-learn's gradient
    rule (``loosened(1e-4)``, the search's value-only rows) forms no reference while
    plain L-BFGS converges within ``loose_steps(q)``, and one where it stands when not:
    it meets the rule in at most 60 steps (plain L-BFGS took 242 to 936, or stopped
    unconverged at 1000), at scikit-learn's objective to 1e-6."""
    X, y = load_breast_cancer(return_X_y=True)
    model = from_estimator(LogisticRegression(C=C), y)
    pgmap = model.make_map(X, model.encode(y), center=True)
    res = CoordinateDescent(tol=1e-10).loosened(1e-4).solve(pgmap, model.lam)
    assert res.converged and res.n_iter <= 60
    assert res.reference is not None and res.reference.shape == (31, 31)
    coef = np.atleast_2d(pgmap.design.coef(res.w))
    b = np.atleast_1d(pgmap.design.original_intercept(res.w))
    sk = LogisticRegression(C=C, solver="newton-cholesky", tol=1e-12, max_iter=1000)
    sk.fit(X, y)
    ours = _logistic_objective(X, y, coef, b, C, sk.classes_)
    theirs = _logistic_objective(X, y, sk.coef_, sk.intercept_, C, sk.classes_)
    assert ours <= theirs * (1 + 1e-6) and theirs <= ours * (1 + 1e-6)


@pytest.mark.parametrize("C", [1.0, 10.0])
def test_loose_l2_logistic_solve_forms_a_reference_once_plain_steps_cost_as_much(C):
    """A loose solve (scikit-learn's gradient rule at 1e-4; breast cancer, standardized)
    given no reference runs plain L-BFGS for ``loose_steps(q)`` steps, then forms the
    datafit's Hessian once there and goes on preconditioned: it returns that reference,
    takes fewer steps than plain L-BFGS to the end (which forms none), and meets the rule,
    the largest entry of the objective's gradient in the model's own coordinates
    (computed here from the logistic loss) at most 1e-4."""
    from skhypergrad.solvers import _reference_hessian

    X, y = load_breast_cancer(return_X_y=True)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    model = from_estimator(LogisticRegression(C=C), y)
    solver = CoordinateDescent(tol=1e-10).loosened(1e-4)
    runs = []
    for budget in (_reference_hessian._LOOSE_MIN, 10_000):
        pgmap = model.make_map(X, model.encode(y), center=True)
        formed, gram = [], type(pgmap.design).weighted_gram
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(_reference_hessian, "_LOOSE_MIN", budget)
            mp.setattr(type(pgmap.design), "weighted_gram",
                       lambda self, h: formed.append(1) or gram(self, h))
            res = solver.solve(pgmap, model.lam)
        coef, b = pgmap.design.coef(res.w), pgmap.design.original_intercept(res.w)
        s = np.where(y == 1, 1.0, -1.0)
        a = -s / (1.0 + np.exp(s * (X @ coef + b))) / len(y)
        grad = np.append(X.T @ a + model.lam[0] * coef, a.sum())
        assert res.converged and np.max(np.abs(grad)) <= 1e-4
        runs.append((res, len(formed)))
    (rented, n_formed), (plain, n_plain) = runs
    assert _reference_hessian.loose_steps(31) == 7 < rented.n_iter < plain.n_iter
    assert n_formed == 1 and rented.reference.shape == (31, 31)
    assert n_plain == 0 and plain.reference is None


@pytest.mark.parametrize("C", [0.05, 50.0])
def test_l2_logistic_hypergradient_with_a_reference_matches_finite_differences(C):
    """The cross-validated log-loss of binary L2 logistic regression (breast cancer,
    standardized): AID-CG, preconditioned by each fold's reference Hessian, against
    central finite differences in log lam (1e-7 relative)."""
    X, y = load_breast_cancer(return_X_y=True)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    model = from_estimator(LogisticRegression(C=C), y)
    crit, solver, lam, eps = CrossVal(cv=3), CoordinateDescent(tol=1e-13), model.lam, 1e-5
    fd = (crit.value(model, X, y, lam * np.exp(eps), solver=solver).value
          - crit.value(model, X, y, lam * np.exp(-eps), solver=solver).value) / (2 * eps)
    given, hypergradient = [], AIDConjugateGradient.hypergradient
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(AIDConjugateGradient, "hypergradient", lambda self, *args, **kw: (
            given.append(kw.get("reference") is not None) or hypergradient(self, *args, **kw)))
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            res = crit.value_and_grad(model, X, y, lam, solver=solver, engine="aid-cg")
    assert given == [True] * 3
    np.testing.assert_allclose(res.grad, [fd], rtol=1e-7)

# -- hypergradients against finite differences ------------------------------------------
def _l2_models():
    X, y = _regression(n=50, p=6)
    Xc, yc = _classes(n=60, p=5, n_classes=3)
    return {
        "ridge": (Ridge(alpha=3.0), X, y),
        "ridge-classifier": (RidgeClassifier(alpha=3.0), *_classes(n=60, p=5)),
        "ridge-classifier-3": (RidgeClassifier(alpha=3.0), Xc, yc),
        "logistic": (LogisticRegression(C=0.5), *_classes(n=60, p=5)),
        "logistic-3": (LogisticRegression(C=0.5), Xc, yc),
    }


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("name", list(_l2_models()))
def test_hypergradient_matches_finite_differences(name, engine):
    est, X, y = _l2_models()[name]
    model = from_estimator(est, y[:40])
    criterion = HeldOut(X[40:], y[40:])
    value, grad = hypergradient(model, X[:40], y[:40], criterion=criterion, method=engine,
                                tol=1e-10)
    h = 1e-4
    lam = model.lam
    hi = hypergradient(replace(model, lam=lam * np.exp(h)),
                       X[:40], y[:40], criterion=criterion, tol=1e-10)[0]
    lo = hypergradient(replace(model, lam=lam * np.exp(-h)),
                       X[:40], y[:40], criterion=criterion, tol=1e-10)[0]
    fd = (hi - lo) / (2 * h)
    assert abs(fd) > 1e-6  # a real slope is compared
    np.testing.assert_allclose(grad, [fd], rtol=1e-5, atol=1e-9 * abs(value))


# -- the estimators ----------------------------------------------------------------------

@parametrize_with_checks([RidgeHyperGrad(cv=3, max_iter=3),
                          RidgeClassifierHyperGrad(cv=3, max_iter=3),
                          LogisticRegressionHyperGrad(penalty="l2", cv=3, max_iter=3)],
                         expected_failed_checks=cv_weight_checks)
def test_sklearn_compatible(estimator, check):
    """Every scikit-learn estimator check passes, but the two of sample weights as repeated
    rows under their own folds (see :func:`cv_weight_checks`)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


def test_ridge_estimator_refits_sklearns_ridge():
    X, y = _regression()
    est = RidgeHyperGrad(cv=4).fit(X, y)
    sk = Ridge(alpha=est.alpha_, solver="cholesky").fit(X, y)
    np.testing.assert_allclose(est.coef_, sk.coef_, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(est.intercept_, sk.intercept_, rtol=1e-6)
    np.testing.assert_allclose(est.lam_, [est.alpha_ / len(y)])
    assert est.at_bound_[0] == 0


@pytest.mark.parametrize("n_classes", [2, 3])
def test_ridge_classifier_estimator_refits_sklearns(n_classes):
    X, y = _classes(n_classes=n_classes)
    est = RidgeClassifierHyperGrad(cv=3).fit(X, y)
    sk = RidgeClassifier(alpha=est.alpha_, solver="cholesky").fit(X, y)
    assert est.coef_.shape == sk.coef_.shape
    scale = np.abs(sk.coef_).max()
    np.testing.assert_allclose(est.coef_, sk.coef_, atol=1e-6 * scale)
    np.testing.assert_allclose(est.decision_function(X), sk.decision_function(X),
                               atol=1e-6 * scale)
    np.testing.assert_array_equal(est.predict(X), sk.predict(X))


def test_l2_logistic_estimator_refits_sklearns():
    X, y = _classes()
    est = LogisticRegressionHyperGrad(penalty="l2", cv=3).fit(X, y)
    assert est.l1_ratio_ == 0.0
    sk = LogisticRegression(C=est.C_, tol=1e-12, max_iter=10_000).fit(X, y)
    np.testing.assert_allclose(est.predict_proba(X), sk.predict_proba(X), atol=1e-6)
    # a starting C is read as the L2 weight 1 / (C n)
    start = LogisticRegressionHyperGrad(penalty="l2", cv=3, C_init=2.0, max_iter=0).fit(X, y)
    np.testing.assert_allclose(start.C_, 2.0)


def test_ridge_estimator_matches_ridgecv_loo():
    """The leave-one-out loss found by the descent is RidgeCV's best over 20 alphas (or
    lower); RidgeCV trains each fold with alpha, the estimator with alpha / n fixed: the
    same loss curve, in alpha (n - 1) / n."""
    X, y = _regression(n=40, p=6)
    alphas = np.logspace(-3, 3, 20)
    ridge_cv = RidgeCV(alphas=alphas, scoring="neg_mean_squared_error").fit(X, y)
    est = RidgeHyperGrad(cv=LeaveOneOut()).fit(X, y)
    assert est.best_loss_ <= -ridge_cv.best_score_ * (1 + 1e-6)
    # and it is the leave-one-out loss at its alpha on n - 1 rows
    loo = -cross_val_score(Ridge(alpha=est.alpha_ * (len(y) - 1) / len(y)), X, y,
                           cv=LeaveOneOut(), scoring="neg_mean_squared_error").mean()
    assert est.best_loss_ == pytest.approx(loo, rel=1e-6)


# -- HyperGradSearchCV against GridSearchCV ----------------------------------------------
def _search_cases():
    X, y = _regression(n=80, p=10)
    Xb, yb = _classes(n=120, p=6)
    X3, y3 = _classes(n=120, p=6, n_classes=3)
    return {
        "ridge": (Ridge(), X, y, "neg_mean_squared_error", "alpha", KFold(4)),
        "ridge-classifier": (RidgeClassifier(), X3, y3, squared_class_error_scorer,
                             "alpha", StratifiedKFold(4)),
        "logistic": (LogisticRegression(solver="newton-cholesky", tol=1e-10), Xb, yb,
                     "neg_log_loss", "C", StratifiedKFold(4)),
        "logistic-3": (LogisticRegression(solver="newton-cholesky", tol=1e-10), X3, y3,
                       "neg_log_loss", "C", StratifiedKFold(4)),
    }


@pytest.mark.parametrize("name", list(_search_cases()))
def test_search_lands_near_the_grid(name):
    est, X, y, scoring, param, cv = _search_cases()[name]
    search = HyperGradSearchCV(est, cv=cv, scoring=scoring).fit(X, y)
    assert list(search.best_params_) == [param]
    grid = GridSearchCV(est, {param: np.logspace(-3, 3, 20)}, cv=cv, scoring=scoring).fit(X, y)
    assert search.best_score_ >= grid.best_score_ - 0.005 * abs(grid.best_score_)
    # each row is the score GridSearchCV would record there (same C or alpha on every fold)
    at_best = cross_val_score(est.set_params(**search.best_params_), X, y, cv=cv,
                              scoring=scoring).mean()
    assert search.best_score_ == pytest.approx(at_best, rel=1e-5)
    assert type(search.best_estimator_) is type(est)


@pytest.mark.parametrize("name", ["ridge", "ridge-classifier-3", "logistic"])
def test_hypergradient_takes_the_sklearn_estimator(name):
    """``hypergradient`` reads the scikit-learn estimator as its inner model."""
    est, X, y = _l2_models()[name]
    criterion = HeldOut(X[40:], y[40:])
    direct = hypergradient(est, X[:40], y[:40], criterion=criterion)
    inner = hypergradient(from_estimator(est, y[:40]), X[:40], y[:40], criterion=criterion)
    np.testing.assert_allclose(direct[0], inner[0], rtol=1e-12)
    np.testing.assert_allclose(direct[1], inner[1], rtol=1e-12)


# -- columns in other units --------------------------------------------------------------
def test_l2_floor_scale_follows_the_product_of_the_column_scales():
    """kappa_min (the lower end of the L2 weights) is kappa for columns of one variance,
    moves by the product of the columns' scales (not by the largest), scales with c_X^2;
    kappa follows the largest column; both ignore a constant column."""
    from skhypergrad._search_space import search_scales
    from skhypergrad.models import InnerModel

    X, y = load_diabetes(return_X_y=True)
    X, y = X[:100] / X[:100].std(axis=0), y[:100]

    def scales(X):
        model = InnerModel("quadratic", "l2", True)
        return search_scales(model.make_map(X, model.encode(y)))

    base = scales(X)
    assert base.l2 == pytest.approx(1.0, rel=1e-12)
    assert base.l2_low == pytest.approx(1.0, rel=1e-12)
    Xs = X.copy()
    Xs[:, 0] *= 1e4
    Xs[:, 1] *= 1e-4
    other = scales(Xs)
    assert other.l2 == pytest.approx((1e8 + 1e-8 + 8) / 10, rel=1e-10)
    assert other.l2_low == pytest.approx(1.0, rel=1e-8)
    assert scales(3.0 * Xs).l2_low == pytest.approx(9.0, rel=1e-8)
    with_constant = scales(np.column_stack([X, np.full(100, 5.0)]))
    # a constant column is left out of kappa (the mean over the 10 others) as of kappa_min
    assert with_constant.l2 == pytest.approx(1.0, rel=1e-10)
    assert with_constant.l2_low == pytest.approx(1.0, rel=1e-10)


def test_ridge_search_with_a_column_in_other_units():
    """One column of ``load_diabetes`` times 1e4: the 3-fold MSE is flat from ``kappa`` down
    to ``1e-4 kappa`` (about 5,470) and falls to 2,965 near ``1e-8 kappa``; the scan in
    units of kappa_min finds that minimum (it stopped at 5,468 in units of kappa)."""
    X, y = load_diabetes(return_X_y=True)
    X, y = X[:200] / X[:200].std(axis=0), y[:200]
    X[:, 0] *= 1e4
    cv = KFold(3, shuffle=True, random_state=0)
    est = RidgeHyperGrad(cv=cv).fit(X, y)
    grid = GridSearchCV(Ridge(), {"alpha": np.logspace(-3, 3, 25) * 200 / 3 * 2},
                        cv=cv, scoring="neg_mean_squared_error").fit(X, y)
    assert -grid.best_score_ == pytest.approx(2965.5, rel=1e-3)
    assert est.best_loss_ <= -grid.best_score_ * 1.005
    assert est.at_bound_.tolist() == [0]
    # HyperGradSearchCV's start reads the same scales (R^2 0.014 at alpha 1e9 before)
    search = HyperGradSearchCV(Ridge(), cv=cv, scoring="neg_mean_squared_error").fit(X, y)
    assert search.best_score_ >= grid.best_score_ * 1.005


def _shifted_without_intercept(name):
    """``load_diabetes`` (``"diabetes"``), its degree-2 features (``"poly2"``), or its
    columns and one-hot blocks of three quartile-binned ones (``"one-hot"``, collinear:
    every level of each block), every column plus 1e4."""
    X, y = load_diabetes(return_X_y=True)
    if name == "poly2":
        X = PolynomialFeatures(2, include_bias=False).fit_transform(X)
    elif name == "one-hot":
        blocks = [np.searchsorted(np.quantile(X[:, j], [0.25, 0.5, 0.75]), X[:, j])
                  for j in (0, 2, 3)]
        X = np.column_stack([X] + [np.eye(4)[b] for b in blocks])
    return X + 1e4, y


@pytest.mark.parametrize("name", ["diabetes", "poly2", "one-hot"])
def test_ridge_search_without_intercept_on_shifted_columns(name):
    """Without an intercept, the columns' means (1e4) make one eigenvalue of the Hessian
    ``1e8`` per column while the others stay at the spread's (about 1e-3 for
    ``load_diabetes``): the 5-fold MSE is flat at about 5,980 from ``alpha = 1e3`` to
    ``1e9`` and falls to the grid's minimum near ``alpha = 0.01``. The default search
    range reaches it (it stopped at ``alpha`` 4e8 in units of the uncentred columns),
    with no false warning of the solves at rounding (a condition number of 1e13)."""
    X, y = _shifted_without_intercept(name)
    cv = KFold(5)
    scoring = "neg_mean_squared_error"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn's ill-conditioned solves
        grid = GridSearchCV(Ridge(fit_intercept=False), {"alpha": np.logspace(-4, 10, 57)},
                            cv=cv, scoring=scoring).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est = RidgeHyperGrad(cv=cv, fit_intercept=False).fit(X, y)
        search = HyperGradSearchCV(Ridge(fit_intercept=False), cv=cv,
                                   scoring=scoring).fit(X, y)
    for alpha in (est.alpha_, search.best_params_["alpha"]):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loss = -cross_val_score(Ridge(alpha=alpha, fit_intercept=False), X, y, cv=cv,
                                    scoring=scoring).mean()
        assert loss <= -grid.best_score_ * 1.001


def test_ridge_search_of_a_grid_without_intercept_on_shifted_columns():
    """``param_grid``'s range on ``load_diabetes + 1e4`` without an intercept: the search
    reaches the grid's minimum (3,100 near ``alpha = 0.01``; 5,982 at 4e8 before),
    its solves at rounding converged (their gaps within the floor of the rounding of
    the gradient, not the 32 warnings of gaps 2.5e-10 > 1e-10)."""
    X, y = _shifted_without_intercept("diabetes")
    cv = KFold(5)
    grid = {"alpha": np.logspace(-4, 10, 60)}
    scoring = "neg_mean_squared_error"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        best = GridSearchCV(Ridge(fit_intercept=False), grid, cv=cv,
                            scoring=scoring).fit(X, y).best_score_
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        search = HyperGradSearchCV(Ridge(fit_intercept=False), grid, cv=cv,
                                   scoring=scoring).fit(X, y)
    assert -best == pytest.approx(3100.32, rel=1e-5)
    assert search.best_score_ >= best * 1.001


def test_l2_floor_scale_without_an_intercept_reads_the_centred_columns():
    """Without an intercept, ``X + 1e4``: ``kappa`` is the mean diagonal of ``X^T X / n``
    (``1e8`` plus the variance), ``kappa_min`` the geometric mean of the variances
    (those of the p - 1 directions the means' rank-one term leaves in place), as with
    an intercept; the smallest weight searched is ``1e-13`` times the largest diagonal
    entry."""
    from skhypergrad._search_space import search_scales
    from skhypergrad.models import InnerModel

    X, y = load_diabetes(return_X_y=True)
    variances = X.var(axis=0)
    for fit_intercept in (False, True):
        model = InnerModel("quadratic", "l2", fit_intercept)
        scales = search_scales(model.make_map(X + 1e4, model.encode(y)))
        square = np.mean((X + 1e4) ** 2, axis=0)
        kappa = variances.mean() if fit_intercept else square.mean()
        assert scales.l2 == pytest.approx(kappa, rel=1e-8)
        assert scales.l2_low == pytest.approx(np.exp(np.log(variances).mean()), rel=1e-6)
        top = variances.max() if fit_intercept else square.max()
        assert scales.l2_resolved == pytest.approx(1e-13 * top, rel=1e-8)
        low = scales.bounds()[0][0]
        assert low == pytest.approx(max(1e-6 * scales.l2_low, 1e-13 * top), rel=1e-8)


def test_l2_logistic_search_with_a_column_in_other_units():
    """Scaled ``load_breast_cancer`` with one column times 1e4: the L2 weight's lower bound
    in units of kappa (3e6 times the other columns' curvature) held the search at a
    log-loss of 0.364; from kappa_min it reaches the grid's 0.141."""
    X, y = load_breast_cancer(return_X_y=True)
    X, y = X[:150], y[:150]
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    X[:, 0] *= 1e4
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    est = LogisticRegressionHyperGrad(penalty="l2", cv=cv).fit(X, y)
    losses = []
    for lam in np.logspace(-4, 0, 9):
        fold = []
        for tr, va in cv.split(X, y):
            clf = LogisticRegression(C=1 / (lam * len(tr)), solver="newton-cholesky", tol=1e-10)
            clf.fit(X[tr], y[tr])
            fold.append(log_loss(y[va], clf.predict_proba(X[va])))
        losses.append(np.mean(fold))
    assert min(losses) == pytest.approx(0.1412, abs=1e-3)
    assert est.best_loss_ <= min(losses) * 1.005
    assert est.at_bound_.tolist() == [0]


def test_smooth_solve_with_duplicated_large_columns_warns_not_raises():
    """Breast cancer (binary, standardized) with its first column times 1e6 twice and
    ``C=1000``: the reference Hessian is not positive definite to rounding (the two
    columns' difference has curvature 1e-15 times theirs). The hypergradient comes back
    finite, with a ConvergenceWarning stating the gap where the solve stopped."""
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    X = np.hstack([X, X[:, :1] * 1e6, X[:, :1] * 1e6])
    with pytest.warns(ConvergenceWarning, match="relative gap"):
        value, grad = hypergradient(LogisticRegression(C=1000.0, l1_ratio=0.0), X[:400],
                                    y[:400], criterion=HeldOut(X[400:], y[400:]))
    assert np.isfinite(value) and np.all(np.isfinite(grad))
