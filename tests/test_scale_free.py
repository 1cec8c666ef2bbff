"""Protects the scale-free search (:mod:`skhypergrad._search_space`): the chosen model does
not depend on the units of ``y`` or ``X``, the scan runs on every fold, bounds hit are
reported, and the result is never worse than a point evaluated."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_diabetes
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import ElasticNet, ElasticNetCV
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.preprocessing import PolynomialFeatures, StandardScaler

from skhypergrad import (ElasticNetHyperGrad, HuberRegressorHyperGrad, HyperGradSearchCV,
                         LassoHyperGrad, LogisticRegressionHyperGrad, RidgeHyperGrad,
                         WeightedLassoHyperGrad)
from skhypergrad._search_space import l2_scale, search_scales
from skhypergrad.models import InnerModel

SCALES = [1e-6, 1e-3, 1.0, 1e3, 1e6]


def _diabetes(n=150, p=8):
    X, y = load_diabetes(return_X_y=True)
    return X[:n, :p], y[:n]


def _relative(lam, c_l1, c_l2, penalty):
    """``lam`` in the units of the unscaled problem: L1 weights / c_l1, the L2 weight / c_l2."""
    rel = np.array(lam, dtype=np.float64)
    if penalty == "elasticnet":
        rel[0] /= c_l1
        rel[1] /= c_l2
    else:
        rel /= c_l1
    return rel


def _fit_quiet(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y)


@pytest.mark.parametrize("Est, penalty", [(ElasticNetHyperGrad, "elasticnet"),
                                          (LassoHyperGrad, "l1"),
                                          (WeightedLassoHyperGrad, "weighted_l1")])
def test_target_scale_changes_nothing_but_units(Est, penalty):
    """y -> c y: the L1 weights scale by c, the L2 weight stays, coef_ scales by c and
    the CV loss by c^2, for c from 1e-6 to 1e6 (to 1e-6 relative)."""
    X, y = _diabetes()
    cv = KFold(3, shuffle=True, random_state=0)
    kw = {"max_iter": 8, "random_state": 0} if Est is WeightedLassoHyperGrad else {}
    ref = _fit_quiet(Est(cv=cv, **kw), X, y)
    for c in SCALES:
        est = _fit_quiet(Est(cv=cv, **kw), X, c * y)
        np.testing.assert_allclose(_relative(est.lam_, c, 1.0, penalty), ref.lam_, rtol=1e-6)
        np.testing.assert_allclose(est.coef_ / c, ref.coef_, rtol=1e-6,
                                   atol=1e-6 * np.abs(ref.coef_).max())
        assert est.intercept_ / c == pytest.approx(ref.intercept_, rel=1e-6)
        assert est.best_loss_ / c ** 2 == pytest.approx(ref.best_loss_, rel=1e-6)
        np.testing.assert_array_equal(est.at_bound_, ref.at_bound_)


def test_search_cv_target_scale_changes_nothing_but_units():
    X, y = _diabetes()
    cv = KFold(3, shuffle=True, random_state=0)
    mse = "neg_mean_squared_error"
    ref = HyperGradSearchCV(ElasticNet(), cv=cv, max_iter=10, scoring=mse).fit(X, y)
    for c in SCALES:
        search = HyperGradSearchCV(ElasticNet(), cv=cv, max_iter=10, scoring=mse).fit(X, c * y)
        lam = [search.best_params_["alpha"] * search.best_params_["l1_ratio"],
               search.best_params_["alpha"] * (1 - search.best_params_["l1_ratio"])]
        lam_ref = [ref.best_params_["alpha"] * ref.best_params_["l1_ratio"],
                   ref.best_params_["alpha"] * (1 - ref.best_params_["l1_ratio"])]
        # l1_ratio near 1 resolves alpha * (1 - l1_ratio) only to about 1e-16 alpha
        np.testing.assert_allclose(_relative(lam, c, 1.0, "elasticnet"), lam_ref, rtol=1e-6,
                                   atol=1e-15 * search.best_params_["alpha"])
        assert search.best_score_ / c ** 2 == pytest.approx(ref.best_score_, rel=1e-6)
        np.testing.assert_allclose(search.best_estimator_.coef_ / c,
                                   ref.best_estimator_.coef_, rtol=1e-5,
                                   atol=1e-6 * np.abs(ref.best_estimator_.coef_).max())


@pytest.mark.parametrize("Est, penalty", [(LassoHyperGrad, "l1"),
                                          (WeightedLassoHyperGrad, "weighted_l1")])
def test_design_scale_changes_nothing_but_units(Est, penalty):
    """X -> c X: the L1 weights scale by c, coef_ by 1 / c, the CV loss not at all."""
    X, y = _diabetes()
    X = X / X.std(axis=0)
    cv = KFold(3, shuffle=True, random_state=0)
    kw = {"max_iter": 8, "random_state": 0} if Est is WeightedLassoHyperGrad else {}
    ref = _fit_quiet(Est(cv=cv, **kw), X, y)
    for c in (1e-3, 1e3):
        est = _fit_quiet(Est(cv=cv, **kw), c * X, y)
        np.testing.assert_allclose(_relative(est.lam_, c, c * c, penalty), ref.lam_,
                                   rtol=1e-6)
        assert est.best_loss_ == pytest.approx(ref.best_loss_, rel=1e-6)
        np.testing.assert_allclose(est.coef_ * c, ref.coef_, rtol=1e-6,
                                   atol=1e-6 * np.abs(ref.coef_).max())


def test_lasso_with_one_column_in_other_units_matches_a_grid():
    """One column times 1e6 sets ``lam1_max`` alone: the CV loss is flat for five decades
    below it, until the other columns enter. The search goes past the plateau (its weak
    end lowered by the columns' spread, ``sqrt(kappa_min / kappa)``) and lands within
    1e-3 of the minimum of a fine grid on the same folds (scikit-learn's ``lasso_path``),
    not on the plateau, 74% above it."""
    from sklearn.linear_model import lasso_path

    X, y = _diabetes()
    X = X.copy()
    X[:, 0] *= 1e6
    cv = KFold(3, shuffle=True, random_state=0)
    est = _fit_quiet(LassoHyperGrad(cv=cv), X, y)
    alphas = np.logspace(6, -4, 301)  # decreasing, as lasso_path returns them
    losses = 0.0
    for tr, va in cv.split(X):
        mu, ym = X[tr].mean(axis=0), y[tr].mean()
        _, coefs, _ = lasso_path(X[tr] - mu, y[tr] - ym, alphas=alphas, tol=1e-10,
                                 max_iter=100000)
        pred = (X[va] - mu) @ coefs + ym
        losses = losses + np.mean((pred - y[va, None]) ** 2, axis=0) / 3
    assert est.best_loss_ <= losses.min() * (1 + 1e-3)
    assert est.best_loss_ == pytest.approx(
        losses[np.argmin(np.abs(np.log(alphas / est.alpha_)))], rel=1e-2)


@pytest.mark.parametrize("Est", [RidgeHyperGrad, ElasticNetHyperGrad, HuberRegressorHyperGrad])
def test_a_constant_column_changes_nothing(Est):
    """With an intercept a constant column is zero once centred: the search scales leave
    it out, so adding one changes neither the chosen weights nor the other coefficients
    (before, it lowered the mean curvature kappa by p / (p + 1) and moved the scan)."""
    X, y = _diabetes()
    cv = KFold(3, shuffle=True, random_state=0)
    ref = _fit_quiet(Est(cv=cv), X, y)
    est = _fit_quiet(Est(cv=cv), np.hstack([X, np.full((X.shape[0], 1), 3.0)]), y)
    np.testing.assert_allclose(est.lam_, ref.lam_, rtol=1e-9)
    np.testing.assert_allclose(est.coef_[:-1], ref.coef_, rtol=1e-7,
                               atol=1e-9 * np.abs(ref.coef_).max())
    assert est.coef_[-1] == 0.0


@pytest.mark.parametrize("penalty", ["l1", "elasticnet"])
def test_logistic_design_scale_changes_nothing_but_units(penalty):
    """X -> c X: the L1 weight scales by c, the L2 weight by c^2 (C by 1 / c), the
    log-loss not at all: the intercept's violations in coordinate descent are measured
    in the units of the coefficients'."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((150, 6))
    y = (X[:, 0] - X[:, 1] + 0.8 * rng.standard_normal(150) > 0).astype(int)
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    ref = _fit_quiet(LogisticRegressionHyperGrad(cv=cv, penalty=penalty), X, y)
    for c in (1e-3, 1e3):
        est = _fit_quiet(LogisticRegressionHyperGrad(cv=cv, penalty=penalty), c * X, y)
        np.testing.assert_allclose(_relative(est.lam_, c, c * c, penalty), ref.lam_,
                                   rtol=1e-6)
        assert est.best_loss_ == pytest.approx(ref.best_loss_, rel=1e-6)
        np.testing.assert_allclose(est.coef_ * c, ref.coef_, rtol=1e-6,
                                   atol=1e-6 * np.abs(ref.coef_).max())


def test_reference_scales():
    """lam1_max scales as c_y c_X, the curvature as c_X^2, and neither moves with a shift."""
    X, y = _diabetes()
    model = InnerModel("quadratic", "elasticnet", True)
    base = search_scales(model.make_map(X, y))
    scaled = search_scales(model.make_map(3.0 * X + 100.0, 5.0 * y - 7.0))
    assert scaled.l1 == pytest.approx(15.0 * base.l1, rel=1e-9)
    assert scaled.l2 == pytest.approx(9.0 * base.l2, rel=1e-9)
    Xc = X - X.mean(axis=0)
    assert base.l2 == pytest.approx(np.sum(Xc ** 2) / X.size, rel=1e-12)
    assert l2_scale(InnerModel("quadratic", "elasticnet", True).make_map(
        np.ones((5, 2)), np.arange(5.0))) == 1.0  # constant columns: any L2 weight
    np.testing.assert_allclose(base.lam(0.5, 2.0), [0.5 * base.l1, 2.0 * base.l2])


def test_scan_is_on_every_fold_and_never_lost():
    """Every history entry is a value of the whole criterion, and the result is the best."""
    X, y = _diabetes()
    est = ElasticNetHyperGrad(cv=3).fit(X, y)
    assert all(h["values"].shape == (3,) for h in est.history_)
    values = [h["value"] for h in est.history_]
    assert est.best_loss_ == min(values) == -est.best_score_
    scan = [h for h in est.history_ if h["grad"] is None]
    l2 = {float(h["lam"][1]) for h in scan}
    assert len(l2) >= 2  # paths at several L2 weights, left once their minimum rises
    assert len(scan) >= 6


def test_readme_example_matches_elasticnetcv():
    """The README's ten lines (raw diabetes, cv=5): the CV loss is within 0.1% of that of
    ElasticNetCV with 9 l1_ratios x 100 alphas on the same folds, both scored by
    scikit-learn's ElasticNet."""
    X, y = load_diabetes(return_X_y=True)
    cv = KFold(5)
    est = ElasticNetHyperGrad(cv=cv).fit(X, y)
    ref = ElasticNetCV(l1_ratio=[0.1, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0], alphas=100,
                       cv=cv).fit(X, y)

    def cv_mse(alpha, l1_ratio):
        errors = []
        for train, test in cv.split(X):
            m = ElasticNet(alpha=alpha, l1_ratio=l1_ratio, tol=1e-10, max_iter=100_000)
            m.fit(X[train], y[train])
            errors.append(np.mean((m.predict(X[test]) - y[test]) ** 2))
        return np.mean(errors)

    ours, theirs = cv_mse(est.alpha_, est.l1_ratio_), cv_mse(ref.alpha_, ref.l1_ratio_)
    assert ours <= 1.001 * theirs
    assert est.best_loss_ == pytest.approx(ours, rel=1e-4)


def test_bounds_hit_are_reported():
    X, y = _diabetes()
    # an interval far above alpha_max: the search ends on its lower end, and says so
    est = LassoHyperGrad(cv=3, alpha_bounds=(1e3, 1e4)).fit(X, y)
    np.testing.assert_array_equal(est.at_bound_, [-1])
    assert est.alpha_ == pytest.approx(1e3)
    # the Lasso end of an elastic net: its L2 weight on the lower bound
    est = ElasticNetHyperGrad(cv=3).fit(X, y)
    assert est.at_bound_.shape == (2,)
    lo, hi = est.lam_bounds_
    for k, flag in enumerate(est.at_bound_):
        if flag == -1:
            assert est.lam_[k] == pytest.approx(lo[k])
        elif flag == 1:
            assert est.lam_[k] == pytest.approx(hi[k])
        else:
            assert lo[k] < est.lam_[k] < hi[k]


@pytest.mark.parametrize("Est, kw", [(LassoHyperGrad, {"alpha_init": 1e4}),
                                     (LogisticRegressionHyperGrad, {"C_init": 1e-8})])
def test_flat_start_is_left_with_a_warning(Est, kw):
    """A start where every coefficient is zero (a zero hypergradient) is moved below
    lam1_max, with a warning, and the search improves on the null model."""
    X, y = _diabetes()
    if Est is LogisticRegressionHyperGrad:
        y = (y > np.median(y)).astype(int)
    with pytest.warns(UserWarning, match="zeroes every coefficient") as record:
        est = Est(cv=3, max_iter=10, **kw).fit(X, y)
    message = str(record[0].message)
    assert ("alpha=" if Est is LassoHyperGrad else "C=") in message
    assert "array(" not in message and "{" not in message
    assert np.any(est.coef_ != 0)
    assert est.best_loss_ <= est.history_[0]["value"]


def test_huber_target_scale_changes_nothing_but_units():
    """Huber (``penalty="l2"``): y -> c y rescales the scale and ``coef_`` by c, ``alpha_`` by
    1/c (the loss scales as c, the L2 term as c^2), leaves ``epsilon_``, the CV loss by c^2
    (to 1e-6 relative); the scale is estimated at an L2 weight relative to the data."""
    X, y = _diabetes()
    cv = KFold(3, shuffle=True, random_state=0)
    ref = _fit_quiet(HuberRegressorHyperGrad(cv=cv), X, y)
    for c in (1e-6, 1e6):
        est = _fit_quiet(HuberRegressorHyperGrad(cv=cv), X, c * y)
        assert est.alpha_ * c == pytest.approx(ref.alpha_, rel=1e-6)
        assert est.epsilon_ == pytest.approx(ref.epsilon_, rel=1e-6)
        assert est.scale_ / c == pytest.approx(ref.scale_, rel=1e-6)
        assert est.best_loss_ / c ** 2 == pytest.approx(ref.best_loss_, rel=1e-6)
        np.testing.assert_allclose(est.coef_ / c, ref.coef_, rtol=1e-6)


@pytest.mark.parametrize("Est, design", [(RidgeHyperGrad, "raw"), (ElasticNetHyperGrad, "poly2"),
                                         (HuberRegressorHyperGrad, "raw")])
def test_tiny_target_scale_changes_nothing_but_units(Est, design):
    """y -> 1e-8 y on diabetes (all 442 rows, 5 shuffled folds; its degree-2 features
    standardized for the elastic net), where the CV MSE is near 3e-13: coef_ scales by
    1e-8 and the CV loss by 1e-16 (to 1e-6 relative), the search's stopping and
    certification tests being relative to the criterion's scale."""
    X, y = load_diabetes(return_X_y=True)
    if design == "poly2":
        X = PolynomialFeatures(2, include_bias=False).fit_transform(
            StandardScaler().fit_transform(X))
    cv = KFold(5, shuffle=True, random_state=0)
    ref = _fit_quiet(Est(cv=cv), X, y)
    est = _fit_quiet(Est(cv=cv), X, 1e-8 * y)
    np.testing.assert_allclose(est.coef_ / 1e-8, ref.coef_, rtol=1e-6,
                               atol=1e-6 * np.abs(ref.coef_).max())
    assert est.best_loss_ / 1e-16 == pytest.approx(ref.best_loss_, rel=1e-6)
    assert est.n_evals_ == ref.n_evals_
