"""``HuberRegressorHyperGrad`` and ``HyperGradSearchCV(HuberRegressor())``: scikit-learn's
estimator checks, the refit is ``HuberRegressor``'s solution at the chosen ``alpha_`` and
``epsilon_``, and the search lands within 1% of a 20 x 20 ``GridSearchCV`` on the same
folds (scored by the squared error)."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import HuberRegressor
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.utils.estimator_checks import parametrize_with_checks

from skhypergrad import HuberRegressorHyperGrad
from skhypergrad.model_selection import HyperGradSearchCV


def _data(n=150, p=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    y = X @ np.arange(1.0, p + 1.0) + 2.0 + rng.standard_t(1.5, n)
    return X, y


@parametrize_with_checks([HuberRegressorHyperGrad(penalty="elasticnet", cv=3, max_iter=3)])
def test_sklearn_compatible(estimator, check):
    """scikit-learn's checks, those of ``sample_weight`` included: the two of integer
    weights against repeated rows fit data (15 rows of 30 features, integer targets) the
    model fits exactly, the scale at its floor (1e-6), in about 2 s of CPU each."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


@pytest.mark.parametrize("tune_epsilon", [True, False])
def test_refit_is_huber_regressor_at_the_chosen_hyperparameters(tune_epsilon):
    X, y = _data()
    est = HuberRegressorHyperGrad(cv=3, max_iter=10, tune_epsilon=tune_epsilon,
                                  epsilon_init=1.5).fit(X, y)
    assert est.lam_.shape == (1 + tune_epsilon,)
    if not tune_epsilon:
        assert est.epsilon_ == 1.5
    sk = HuberRegressor(alpha=est.alpha_, epsilon=est.epsilon_, tol=1e-12,
                        max_iter=10_000).fit(X, y)

    def objective(coef, intercept, scale):
        r = y - X @ coef - intercept
        a, eps = np.abs(r), est.epsilon_
        H = np.where(a > eps * scale, 2 * eps * a / scale - eps ** 2, (r / scale) ** 2)
        return np.sum(scale + H * scale) + est.alpha_ * coef @ coef

    ref = objective(sk.coef_, sk.intercept_, sk.scale_)
    assert objective(est.coef_, est.intercept_, est.scale_) <= ref * (1 + 1e-6)
    assert est.scale_ == pytest.approx(sk.scale_, rel=1e-4)


@pytest.mark.parametrize("penalty", ["l1", "elasticnet"])
def test_l1_and_elastic_net_variants(penalty):
    X, y = _data(p=10)
    est = HuberRegressorHyperGrad(penalty=penalty, cv=3, max_iter=10).fit(X, y)
    assert est.alpha_ > 0 and 1.1 <= est.epsilon_ <= 3.0
    assert hasattr(est, "l1_ratio_") == (penalty == "elasticnet")
    assert np.isfinite(est.best_loss_) and est.score(X, y) > 0.5


def _grid(X, y, cv, alphas, epsilons):
    return GridSearchCV(HuberRegressor(max_iter=1000), {"alpha": alphas, "epsilon": epsilons},
                        cv=cv, scoring="neg_mean_squared_error").fit(X, y)


def test_search_cv_matches_grid_search_within_one_percent():
    """HyperGradSearchCV(HuberRegressor()) against GridSearchCV on 20 alphas x 20 epsilons,
    the same folds; the chosen parameters scored by scikit-learn's own HuberRegressor."""
    X, y = _data(n=200, p=8)
    cv = KFold(4, shuffle=True, random_state=0)
    search = HyperGradSearchCV(HuberRegressor(), cv=cv, max_iter=20).fit(X, y)
    best = search.best_estimator_
    assert type(best) is HuberRegressor
    assert set(search.best_params_) == {"alpha", "epsilon"}
    assert best.alpha == search.best_params_["alpha"]
    ours = -cross_val_score(HuberRegressor(max_iter=1000, **search.best_params_), X, y,
                            cv=cv, scoring="neg_mean_squared_error").mean()
    grid = _grid(X, y, cv, np.geomspace(1e-4, 1e2, 20), np.linspace(1.1, 3.0, 20))
    assert ours <= -grid.best_score_ * 1.01


def test_search_cv_on_noise_free_targets_warns_no_overflow():
    """``y = X w`` exactly, searched where ``alpha`` over-regularizes (bounds 1e5 to
    1e8): the concomitant scale is at its floor, so every training residual is beyond the
    threshold (a linear datafit, the intercept undetermined) and the adjoint system has
    no solution. The hypergradient is the least-squares one, with a ConvergenceWarning
    that says so, never an overflow (the conjugate gradients that diverged on that
    system are not run), and every point is scored."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((100, 5))
    y = X @ rng.standard_normal(5)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        search = HyperGradSearchCV(HuberRegressor(), cv=3, max_iter=1,
                                   bounds=(1e5, 1e8)).fit(X, y)
    assert not [str(c.message) for c in caught if issubclass(c.category, RuntimeWarning)]
    notes = [str(c.message) for c in caught if issubclass(c.category, ConvergenceWarning)]
    # the one-step search (max_iter=1) says it did not finish; the solves' notes are the
    # least-squares adjoint's
    solves = [m for m in notes if "stopped at max_iter=1" not in m]
    assert len(solves) < len(notes) and solves
    assert all("not in its range" in m for m in solves)
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))


@pytest.mark.parametrize("noise", [0.0, 1e-8])
def test_noise_free_targets_are_fitted(noise):
    """y = X w (+ 1e-8 noise): the search's L2 range is in units of the data whatever the
    floor scale, so both searches reach a near-exact fit (the L2 reference was 2 / sigma,
    sigma at 1e-6 MAD(y): every alpha of the range returned the null model)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 5))
    y = X @ rng.standard_normal(5) + noise * rng.standard_normal(300)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)  # gaps at their rounding floor
        est = HuberRegressorHyperGrad(cv=5).fit(X[:100], y[:100])
        search = HyperGradSearchCV(HuberRegressor(), cv=5).fit(X[:100], y[:100])
    for model in (est, search.best_estimator_):
        assert model.score(X[100:], y[100:]) > 1 - 1e-8


def test_search_cv_follows_a_rescaling_of_the_targets():
    """y -> c y: the search estimates the scale at an L2 weight in units of the data (not
    at HuberRegressor's own alpha), so it searches the same problem: the same ``alpha * c``
    (the loss scales as c, the L2 term as c^2) and ``epsilon`` (at HuberRegressor's alpha
    they differed by 1e-4), the same R² of every point (to the inner solves' accuracy),
    and the refit's coefficients times c (to the accuracy of its L-BFGS)."""
    X, y = _data(n=120, p=5)
    cv = KFold(3, shuffle=True, random_state=0)
    searches = {c: HyperGradSearchCV(HuberRegressor(tol=1e-12, max_iter=10_000),
                                     cv=cv).fit(X, c * y) for c in (1e-3, 1.0, 1e3)}
    ref = searches[1.0]
    for c, search in searches.items():
        assert search.best_params_["alpha"] * c == pytest.approx(
            ref.best_params_["alpha"], rel=1e-6)
        assert search.best_params_["epsilon"] == pytest.approx(
            ref.best_params_["epsilon"], rel=1e-6)
        np.testing.assert_allclose(search.cv_results_["mean_test_score"],
                                   ref.cv_results_["mean_test_score"], rtol=0, atol=1e-8)
        np.testing.assert_allclose(search.best_estimator_.coef_ / c,
                                   ref.best_estimator_.coef_, rtol=1e-4)
