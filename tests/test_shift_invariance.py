"""Protects the intercept's invariance (:mod:`skhypergrad._design`, centred designs): with
``fit_intercept=True``, shifting the columns of a dense ``X`` or the target changes
neither the chosen hyperparameters, nor ``coef_``, nor the work done; the intercept
absorbs the shift exactly."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import ElasticNet, Lasso
from sklearn.model_selection import KFold, StratifiedKFold

from skhypergrad import (SURE, CrossVal, ElasticNetHyperGrad, HeldOut, HyperGradSearchCV,
                         LassoHyperGrad, LogisticRegressionHyperGrad, WeightedLassoHyperGrad,
                         hypergradient)
from skhypergrad._design import Design, centred, gram_of, seed_row_subset_grams

SHIFTS = [(100.0, 0.0), (1e4, 0.0), (0.0, 1e5)]


def _data(n=90, p=8, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    beta = np.zeros(p)
    beta[:3] = [1.5, -1.0, 0.5]
    return X, X @ beta + 2.0 * rng.standard_normal(n)


def _epochs(est):
    return sum(h["n_iter_inner"] for h in est.history_)


@pytest.mark.parametrize("Est, shift_x, shift_y", [
    (Est, sx, sy) for Est in (ElasticNetHyperGrad, LassoHyperGrad, WeightedLassoHyperGrad,
                              LogisticRegressionHyperGrad)
    for sx, sy in SHIFTS if not (Est is LogisticRegressionHyperGrad and sy)])  # labels: no shift
def test_estimators_do_not_see_a_shift(Est, shift_x, shift_y):
    X, y = _data()
    classifier = Est is LogisticRegressionHyperGrad
    if classifier:
        y = (y > np.median(y)).astype(int)
        cv = StratifiedKFold(3, shuffle=True, random_state=0)
    else:
        cv = KFold(3, shuffle=True, random_state=0)
    kw = {"max_iter": 8, "random_state": 0} if Est is WeightedLassoHyperGrad else {}
    ref = Est(cv=cv, **kw).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est = Est(cv=cv, **kw).fit(X + shift_x, y + shift_y)
    np.testing.assert_allclose(est.lam_, ref.lam_, rtol=1e-6)
    scale = np.abs(ref.coef_).max()
    np.testing.assert_allclose(est.coef_, ref.coef_, rtol=1e-6, atol=1e-6 * scale)
    expected = ref.intercept_ + shift_y - shift_x * np.sum(ref.coef_, axis=-1)
    np.testing.assert_allclose(est.intercept_, expected,
                               rtol=1e-6, atol=1e-6 * max(1.0, np.abs(expected).max()))
    assert est.best_loss_ == pytest.approx(ref.best_loss_, rel=1e-6)
    assert _epochs(est) <= 2 * _epochs(ref)


@pytest.mark.parametrize("shift_x, shift_y", SHIFTS)
def test_search_cv_does_not_see_a_shift(shift_x, shift_y):
    X, y = _data()
    cv = KFold(3, shuffle=True, random_state=0)
    ref = HyperGradSearchCV(ElasticNet(), cv=cv, max_iter=10).fit(X, y)
    search = HyperGradSearchCV(ElasticNet(), cv=cv, max_iter=10).fit(X + shift_x, y + shift_y)
    for name in ("alpha", "l1_ratio"):
        assert search.best_params_[name] == pytest.approx(ref.best_params_[name], rel=1e-6)
    assert search.best_score_ == pytest.approx(ref.best_score_, rel=1e-6)


@pytest.mark.parametrize("criterion", [HeldOut, CrossVal, SURE], ids=lambda c: c.__name__)
@pytest.mark.parametrize("shift_x, shift_y", SHIFTS)
def test_hypergradient_does_not_see_a_shift(criterion, shift_x, shift_y):
    X, y = _data()
    X_val, y_val = _data(seed=1)

    def crit(sx, sy):
        if criterion is HeldOut:
            return HeldOut(X_val + sx, y_val + sy)
        return CrossVal(cv=3) if criterion is CrossVal else SURE(sigma=2.0)

    model = ElasticNet(alpha=0.2, l1_ratio=0.7)
    ref = hypergradient(model, X, y, criterion=crit(0.0, 0.0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # X + 1e4: the rounding floor
        value, grad = hypergradient(model, X + shift_x, y + shift_y,
                                    criterion=crit(shift_x, shift_y))
    assert value == pytest.approx(ref[0], rel=1e-6)
    np.testing.assert_allclose(grad, ref[1], rtol=1e-5, atol=1e-8 * np.abs(ref[1]).max())


def test_hypergradient_on_a_shifted_target_is_the_closed_form():
    """y + 1e5 with a signal of standard deviation 2, default settings: value and
    gradient of the held-out MSE match the active-set formula to 1e-4."""
    X, y = _data(n=60, p=10)
    X_val, y_val = _data(n=50, p=10, seed=1)
    y, y_val = y + 1e5, y_val + 1e5
    l1, l2 = 0.1, 0.01
    value, grad = hypergradient(ElasticNet(alpha=l1 + l2, l1_ratio=l1 / (l1 + l2)), X, y,
                                criterion=HeldOut(X_val, y_val))
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
