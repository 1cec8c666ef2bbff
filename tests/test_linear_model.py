"""The self-tuning estimators: scikit-learn's estimator checks, composition with the rest
of scikit-learn, scikit-learn's own parametrization, and the quality of the search against
dense grids."""

import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_diabetes, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import ElasticNet as SkElasticNet
from sklearn.linear_model import (LogisticRegression, enet_path, lars_path,
                                  lasso_path)
from sklearn.model_selection import (GridSearchCV, KFold, ShuffleSplit,
                                     StratifiedShuffleSplit, cross_val_score)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from skhypergrad import (CoordinateDescent, CrossVal, ElasticNetHyperGrad, InnerModel,
                         LassoHyperGrad, LogisticRegressionHyperGrad, WeightedLassoHyperGrad)
from skhypergrad.hypergrad import get_engine
from skhypergrad.optimizers import GradientDescent
from skhypergrad.penalties import enet_lam_from_sklearn

# small searches: the checks fit each estimator dozens of times on tiny data
ESTIMATORS = [LassoHyperGrad(cv=3, max_iter=5), ElasticNetHyperGrad(cv=3, max_iter=5),
              WeightedLassoHyperGrad(cv=3, max_iter=5),
              LogisticRegressionHyperGrad(cv=3, max_iter=5)]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible(estimator, check):
    """Every scikit-learn estimator check passes, those of sample weights as repeated rows
    under their own folds included: the fold solutions of least squares end in a direct
    solve on the Gram matrix, the logistic ones in a Newton step on the support."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


def _diabetes():
    X, y = load_diabetes(return_X_y=True)
    return X, y


def test_enet_parametrization_is_sklearns():
    """alpha_ and l1_ratio_ handed to sklearn's ElasticNet reproduce coef_ and intercept_."""
    X, y = _diabetes()
    est = ElasticNetHyperGrad(cv=3, max_iter=5).fit(X, y)
    sk = SkElasticNet(alpha=est.alpha_, l1_ratio=est.l1_ratio_, tol=1e-12,
                      max_iter=100_000).fit(X, y)
    np.testing.assert_allclose(est.coef_, sk.coef_, rtol=1e-4, atol=1e-4 * abs(sk.coef_).max())
    assert est.intercept_ == pytest.approx(sk.intercept_, rel=1e-5)
    np.testing.assert_allclose(est.lam_, enet_lam_from_sklearn(est.alpha_, est.l1_ratio_))


def test_logistic_parametrization_is_sklearns():
    X, y = _diabetes()
    X = StandardScaler().fit_transform(X)
    labels = np.where(y > np.median(y), "high", "low")
    clf = LogisticRegressionHyperGrad(cv=3, max_iter=5).fit(X, labels)
    sk = LogisticRegression(C=clf.C_, l1_ratio=1.0, solver="saga", tol=1e-10,
                            max_iter=50_000).fit(X, labels)
    np.testing.assert_allclose(clf.coef_, sk.coef_, atol=2e-4)
    np.testing.assert_array_equal(clf.classes_, sk.classes_)
    np.testing.assert_allclose(clf.predict_proba(X), sk.predict_proba(X), atol=1e-4)
    assert set(clf.predict(X)) <= {"high", "low"}


def test_clone_pickle_pipeline_cross_val_score_gridsearch():
    X, y = _diabetes()
    est = ElasticNetHyperGrad(cv=3, max_iter=5)
    fitted = clone(est).fit(X, y)
    again = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(again.predict(X), fitted.predict(X))
    pipe = make_pipeline(StandardScaler(), ElasticNetHyperGrad(cv=3, max_iter=5))
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.shape == (3,) and scores.mean() > 0.4
    grid = GridSearchCV(LassoHyperGrad(max_iter=5), {"cv": [3, 4]}, cv=2).fit(X, y)
    assert grid.best_params_["cv"] in (3, 4)
    assert grid.best_estimator_.alpha_ > 0


def test_sparse_input_gives_the_dense_result():
    X, y = _diabetes()
    dense = LassoHyperGrad(cv=3, max_iter=5).fit(X, y)
    sparse = LassoHyperGrad(cv=3, max_iter=5).fit(sp.csr_matrix(X), y)
    # dense least squares is evaluated by the compiled Gram path (skhypergrad._gram_cv),
    # sparse by working-set CD: solves that stop at different points within the same
    # relative gap (1e-6 early in the search) move the search's steps by about that much
    assert sparse.alpha_ == pytest.approx(dense.alpha_, rel=1e-4)
    np.testing.assert_allclose(sparse.coef_, dense.coef_, rtol=1e-4, atol=1e-6)


def _p_greater_than_n(seed=0):
    """n = 80, p = 200, 10 informative features, signal-to-noise ratio about 4."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((80, 200))
    w = np.zeros(200)
    w[:10] = 2 * rng.standard_normal(10)
    return X, X @ w + 1.5 * rng.standard_normal(80)


def _grid_cv_losses(model, X, y, lams, cv):
    crit = CrossVal(cv=cv)
    solver = CoordinateDescent(tol=1e-9)
    return np.array([crit.value(model, X, y, lam, solver=solver).value for lam in lams])


@pytest.mark.parametrize("problem", ["diabetes", "p>n"])
def test_lasso_search_matches_dense_grid(problem):
    """The CV loss reached is within 1% of the best of 30 alphas, with fewer inner solves."""
    X, y = _diabetes() if problem == "diabetes" else _p_greater_than_n()
    cv = KFold(5)
    est = LassoHyperGrad(cv=cv).fit(X, y)
    alpha_max = np.abs(X.T @ (y - y.mean())).max() / X.shape[0]
    alphas = alpha_max * np.logspace(-3, 0, 30)
    grid = _grid_cv_losses(InnerModel("quadratic", "l1", True), X, y, alphas[:, None], cv)
    assert est.best_loss_ <= grid.min() * 1.01
    assert est.n_evals_ * 5 < grid.size * 5


@pytest.mark.parametrize("problem", ["diabetes", "p>n"])
def test_enet_search_matches_dense_grid(problem):
    """Within 1% of the best point of a 20 x 10 (alpha, l1_ratio) grid, with fewer solves."""
    X, y = _diabetes() if problem == "diabetes" else _p_greater_than_n()
    cv = KFold(5)
    est = ElasticNetHyperGrad(cv=cv).fit(X, y)
    alpha_max = np.abs(X.T @ (y - y.mean())).max() / X.shape[0]
    lams = [enet_lam_from_sklearn(a, r) for r in np.linspace(0.1, 1.0, 10)
            for a in alpha_max / r * np.logspace(-3, 0, 20)]
    lams = [np.maximum(lam, 1e-12) for lam in lams]
    grid = _grid_cv_losses(InnerModel("quadratic", "elasticnet", True), X, y, lams, cv)
    assert est.best_loss_ <= grid.min() * 1.01
    assert est.n_evals_ < len(lams)


def _heldout_lasso_curve(X, y, train, val):
    """``(alpha -> held-out MSE, breakpoints)``: the Lasso path of the training rows
    (centred: an intercept), exact, piecewise linear in alpha between the breakpoints."""
    X_tr, y_tr = X[train], y[train]
    x_mean, y_mean = X_tr.mean(axis=0), y_tr.mean()
    knots, _, coefs = lars_path(X_tr - x_mean, y_tr - y_mean, method="lasso")

    def mse(alphas):
        coef = np.array([np.interp(-alphas, -knots, c) for c in coefs])  # (p, n_alphas)
        pred = X[val] @ coef + (y_mean - x_mean @ coef)
        return np.mean((pred - y[val][:, None]) ** 2, axis=0)

    return mse, knots


def test_lasso_search_converges_to_a_kink():
    """Hold-out Lasso whose validation MSE is smallest where a feature enters the support:
    the one-sided derivatives there are -0.15 and +0.15 (in log alpha). Asked for a
    relative accuracy of 1e-6, the search lands on the breakpoint of the exact path, at
    the minimum of a fine grid; backtracking alone stops short of it."""
    rng = np.random.default_rng(10)
    X = rng.standard_normal((60, 30))
    w = np.zeros(30)
    w[:5] = rng.standard_normal(5)
    y = X @ w + rng.standard_normal(60)
    train, val = np.arange(40), np.arange(40, 60)
    mse, knots = _heldout_lasso_curve(X, y, train, val)
    kink = knots[np.argmin(mse(knots))]
    grid = kink * np.logspace(-2, 1, 30_001)
    assert mse(grid).min() >= mse(np.array([kink]))[0]  # the minimum is the breakpoint
    est = LassoHyperGrad(cv=[(train, val)], tol=1e-6).fit(X, y)
    assert abs(np.log(est.alpha_ / kink)) < 1e-8 and est.n_evals_ <= 16
    assert est.best_loss_ <= mse(grid).min() * (1 + 1e-9)
    plain = LassoHyperGrad(cv=[(train, val)], tol=1e-6,
                           optimizer=GradientDescent(bracket=False)).fit(X, y)
    assert abs(np.log(plain.alpha_ / kink)) > 1e-5


def _heldout_enet_grid(X, y, train, val, n=30):
    """Smallest validation MSE of scikit-learn's elastic net (tol 1e-10) over ``n``
    ``l1_ratio`` log-spaced in [0.01, 1] times ``n`` ``alpha`` log-spaced from
    ``alpha_max(l1_ratio)`` down to a thousandth of it."""
    X_tr, y_tr = X[train], y[train]
    x_mean, y_mean = X_tr.mean(axis=0), y_tr.mean()
    Xc, yc = X_tr - x_mean, y_tr - y_mean
    best = np.inf
    for l1_ratio in np.logspace(-2, 0, n):
        alpha_max = np.abs(Xc.T @ yc).max() / (len(train) * l1_ratio)
        alphas = alpha_max * np.logspace(0, -3, n)
        _, coefs, _ = enet_path(Xc, yc, l1_ratio=l1_ratio, alphas=alphas, tol=1e-10,
                                max_iter=100_000)
        pred = X[val] @ coefs + (y_mean - x_mean @ coefs)
        best = min(best, np.mean((pred - y[val][:, None]) ** 2, axis=0).min())
    return best


def test_enet_search_p_greater_than_n_finds_the_basin():
    """50 training rows, 200 correlated features (rank about 20), 50 informative: the
    hold-out loss has a poor local minimum at the Lasso end (descending from there
    ends 5% above the best), the best basin mixes L1 and L2. The search, its scan
    included, lands within 1% of the best of a 30 x 30 grid, in fewer solves than a
    tenth of the grid's."""
    X, y = make_regression(110, 200, n_informative=50, noise=10, effective_rank=20,
                           random_state=3)
    train, val = np.arange(50), np.arange(50, 110)
    best = _heldout_enet_grid(X, y, train, val)

    def heldout(est):  # the chosen point re-scored by scikit-learn
        sk = SkElasticNet(alpha=est.alpha_, l1_ratio=est.l1_ratio_, tol=1e-10,
                          max_iter=100_000).fit(X[train], y[train])
        return np.mean((sk.predict(X[val]) - y[val]) ** 2)

    est = ElasticNetHyperGrad(cv=[(train, val)]).fit(X, y)
    assert heldout(est) <= 1.01 * best and est.n_evals_ < 90
    alpha_max = np.abs((X[train] - X[train].mean(axis=0)).T @ (y[train] - y[train].mean()))
    alpha_max = alpha_max.max() / len(train)
    lasso_end = ElasticNetHyperGrad(cv=[(train, val)], alpha_init=alpha_max / np.sqrt(10) / 0.999,
                                    l1_ratio_init=0.999).fit(X, y)
    assert heldout(lasso_end) > 1.05 * best


def test_lasso_scan_follows_a_path_whose_loss_falls_again():
    """60 rows, 300 features (neighbours correlated), 15 informative, one hold-out split:
    the held-out MSE along the scan's path rises for two points past a first minimum
    (45.5 at ``0.79``, 46.8, 45.9) and then falls to 41 below ``alpha = 0.08``. The scan
    leaves a path only once its last value has stopped falling: the search lands within
    1% of the best of a 30-point grid on the same split, refereed by scikit-learn's
    ``lasso_path`` (main: 11% above it, at ``alpha = 0.78``)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 300))
    X = np.asfortranarray(X + 0.6 * np.roll(X, 1, axis=1))
    w = np.zeros(300)
    w[rng.choice(300, 15, replace=False)] = 2 * rng.standard_normal(15)
    y = X @ w + 2.0 * rng.standard_normal(60)
    train, val = next(ShuffleSplit(1, test_size=0.25, random_state=2).split(X))
    x_mean, y_mean = X[train].mean(axis=0), y[train].mean()

    def heldout(alphas):  # scikit-learn's Lasso path (the intercept from the means)
        _, coefs, _ = lasso_path(X[train] - x_mean, y[train] - y_mean, alphas=alphas,
                                 tol=1e-10, max_iter=100_000)
        pred = (X[val] - x_mean) @ coefs + y_mean
        return np.mean((pred - y[val][:, None]) ** 2, axis=0)

    alpha_max = np.abs((X[train] - x_mean).T @ (y[train] - y_mean)).max() / len(train)
    grid = heldout(alpha_max * np.logspace(0, -4, 30)).min()
    est = LassoHyperGrad(cv=[(train, val)]).fit(X, y)
    assert heldout([est.alpha_])[0] <= 1.01 * grid and est.n_evals_ <= 20


def test_one_parameter_search_also_descends_the_scans_basin():
    """Breast cancer (standardized), one stratified hold-out split: the held-out log-loss of
    the L1 logistic model has two minima in ``C``, 0.0936 near ``C = 1.04`` and 0.0954 near
    ``C = 1.58``, on either side of the scan's best point ``C = 1.45``, where the gradient
    points to the second one. The vertex of the scan's parabola lies on the side of the
    first: the search descends from there too and ends at the first minimum, within 0.1%
    of a fine grid of ``C`` around it (main: 2% above it, at the second)."""
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    cv = list(StratifiedShuffleSplit(1, test_size=0.25, random_state=0).split(X, y))
    est = LogisticRegressionHyperGrad(penalty="l1", cv=cv).fit(X, y)

    def heldout(C):  # the criterion at C alone (no scan, no step), at the final accuracy
        return LogisticRegressionHyperGrad(penalty="l1", cv=cv, C_init=C,
                                           max_iter=0).fit(X, y).best_loss_

    grid = min(heldout(C) for C in np.linspace(0.9, 1.2, 7))
    assert heldout(est.C_) == pytest.approx(est.best_loss_, rel=1e-6)
    assert est.best_loss_ <= (1 + 1e-3) * grid and est.n_evals_ <= 16


def test_weighted_lasso_beats_best_single_alpha():
    """With features of very different scales, one weight per feature generalizes better:
    test MSE 1.84 against LassoHyperGrad's 2.52."""
    rng = np.random.default_rng(0)
    n, p = 150, 200
    X = rng.standard_normal((n, p)) * np.logspace(-1, 1, p)
    w = np.zeros(p)
    w[rng.choice(p, 10, replace=False)] = rng.standard_normal(10) * 3 / np.logspace(-1, 1, p)[:10]
    y = X @ w + 0.5 * rng.standard_normal(n)
    X_test = rng.standard_normal((2000, p)) * np.logspace(-1, 1, p)
    y_test = X_test @ w + 0.5 * rng.standard_normal(2000)
    lasso = LassoHyperGrad(cv=5).fit(X, y)
    weighted = WeightedLassoHyperGrad(cv=5, alpha_init=lasso.alpha_, max_iter=30,
                                      random_state=0).fit(X, y)
    assert weighted.alphas_.shape == (p,)
    assert np.ptp(np.log10(weighted.alphas_)) > 0.1  # the weights were kept, not the common one
    mse = lambda m: np.mean((m.predict(X_test) - y_test) ** 2)  # noqa: E731
    # (best_loss_ is not compared: the weights' is the CV loss of four fifths of the rows)
    assert mse(weighted) < 0.85 * mse(lasso)


def test_history_and_callback():
    X, y = _diabetes()
    seen = []
    est = LassoHyperGrad(cv=3, max_iter=20, callback=lambda h: seen.append(h) or len(seen) >= 4)
    est.fit(X, y)
    # stopped during the starting scan, every point of which is on all the folds
    assert len(seen) == 4 and len(est.history_) == 4
    assert all(e["values"].shape == (3,) for e in est.history_)
    h = est.history_[0]
    assert {"alpha", "lam", "value", "grad", "values", "seconds", "n_iter_inner"} <= set(h)
    assert est.best_loss_ == min(e["value"] for e in est.history_) == -est.best_score_
    assert est.alpha_ == min(est.history_, key=lambda e: e["value"])["alpha"]


def test_callback_receives_copies():
    """A callback that writes into what it receives changes nothing in the search."""
    X, y = _diabetes()

    def scaling(h):
        h["lam"] *= 1e3
        h["values"][:] = 0.0

    ref = ElasticNetHyperGrad(cv=3, max_iter=5).fit(X, y)
    est = ElasticNetHyperGrad(cv=3, max_iter=5, callback=scaling).fit(X, y)
    np.testing.assert_array_equal(est.lam_, ref.lam_)
    assert est.best_loss_ == ref.best_loss_
    assert all(np.all(h["values"] > 0) for h in est.history_)


def test_callback_sees_the_history_entries_through_the_descent():
    X, y = _diabetes()
    seen = []
    est = ElasticNetHyperGrad(cv=3, max_iter=20, callback=seen.append).fit(X, y)
    assert len(seen) == len(est.history_) > 8
    for entry, h in zip(seen, est.history_):
        assert entry["alpha"] == h["alpha"] and entry["l1_ratio"] == h["l1_ratio"]
        assert entry["value"] == h["value"]
    # one clock for the scan and the descent
    seconds = [h["seconds"] for h in est.history_]
    assert np.all(np.diff(seconds) >= 0)
    assert any(h["grad"] is not None for h in est.history_)


def test_criterion_decreases_from_start_and_bounds_hold():
    X, y = _diabetes()
    est = ElasticNetHyperGrad(cv=3, alpha_bounds=(1e-3, 1.0)).fit(X, y)
    full = est.history_
    assert est.best_loss_ <= full[0]["value"]
    assert est.best_loss_ == min(e["value"] for e in full)
    assert all(np.all((1e-3 <= e["lam"]) & (e["lam"] <= 1.0)) for e in est.history_)


@pytest.mark.parametrize("params, match", [
    ({"alpha_bounds": (1.0, 0.1)}, "alpha_bounds"),
    ({"alpha_bounds": (0.0, 1.0)}, "alpha_bounds"),
    ({"cv": 1000}, "n_samples=442"),
    ({"hypergradient": "newton"}, "hypergradient"),
    ({"optimizer": "sgd"}, "optimizer"),
])
def test_bad_parameters_are_named(params, match):
    X, y = _diabetes()
    with pytest.raises(ValueError, match=match):
        LassoHyperGrad(**params).fit(X, y)


@pytest.mark.parametrize("engine", ["aid-fp", "itd", "itd-reverse"])
def test_other_engines_reach_the_same_alpha(engine):
    """Diabetes is ill-conditioned (contraction factor 0.99998 at the chosen alpha):
    capped at 1000 iterations, the fixed-point engines warn, and their approximate
    hypergradients still lead the search to the same loss."""
    X, y = _diabetes()
    X = sp.csr_matrix(X)  # dense, AID-FP would be replaced by its exact limit (_gram_cv)
    ref = LassoHyperGrad(cv=3).fit(X, y)
    est = LassoHyperGrad(cv=3, hypergradient=get_engine(engine, max_iter=1000))
    with pytest.warns(ConvergenceWarning, match="did not reach tol"):
        est.fit(X, y)
    assert est.best_loss_ <= ref.best_loss_ * 1.01


def test_nsid_search_end_to_end():
    """hypergradient="nsid": minibatch SAGA inner solves and NSID hypergradients reach
    a CV loss within 2% of the exact (aid-cg) search's, reproducibly for a seed."""
    from skhypergrad._base import inner_setup
    from skhypergrad.hypergrad import NSID
    from skhypergrad.solvers import StochasticProxGradient

    engine, solver, tol = inner_setup("nsid", "auto", (1e-6, 1e-10), 0)
    assert isinstance(engine, NSID) and engine.random_state == 0
    assert isinstance(solver, StochasticProxGradient) and tol == (1e-4, 1e-6)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((1500, 10))
    y = X[:, :3] @ np.array([1.0, -2.0, 0.5]) + rng.standard_normal(1500)
    exact = LassoHyperGrad(cv=3, max_iter=10).fit(X, y)
    kw = dict(cv=3, max_iter=10, random_state=0,
              hypergradient=NSID(n_samples=300, batch_size=32, step_schedule="constant"))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # SAGA converges here
        first = LassoHyperGrad(**kw).fit(X, y)
    again = LassoHyperGrad(**kw).fit(X, y)
    assert first.alpha_ == again.alpha_ and first.best_loss_ == again.best_loss_
    assert first.best_loss_ <= 1.02 * exact.best_loss_


def test_weighted_lasso_early_stopping_generalizes():
    """p = 1000 weights on n = 500 rows, the truth a plain sparse model: the descent on the
    CV loss alone fits it (CV loss down, test error up); with early stopping the weights
    descend from LassoHyperGrad's common weight and are kept only if they predict rows
    the search never saw significantly better, and the test error stays that of the
    tuned Lasso."""
    rng = np.random.default_rng(0)
    n, p = 500, 1000
    X = rng.standard_normal((n + 2000, p))
    beta = np.zeros(p)
    beta[:20] = rng.standard_normal(20)
    y = X @ beta + rng.standard_normal(n + 2000)
    X_test, y_test = X[n:], y[n:]
    X, y = X[:n], y[:n]
    mse = lambda m: np.mean((m.predict(X_test) - y_test) ** 2)  # noqa: E731
    lasso = LassoHyperGrad(cv=5).fit(X, y)
    stopped = WeightedLassoHyperGrad(cv=5, random_state=0).fit(X, y)
    fitted = WeightedLassoHyperGrad(cv=5, early_stopping=False).fit(X, y)
    common = [h for h in stopped.history_ if "monitor" not in h]
    descent = stopped.history_[len(common):]
    assert common and descent and all("monitor" in h for h in descent)
    assert all(np.ptp(h["alphas"]) == 0 for h in common)  # one weight for every feature
    assert np.ptp(descent[0]["alphas"]) == 0  # the descent starts from the common weight
    assert fitted.best_loss_ < lasso.best_loss_ and mse(fitted) > 1.1 * mse(lasso)
    assert mse(stopped) <= 1.01 * mse(lasso)


def _sparse_truth(seed, n, p, n_informative, useless_scale=1.0):
    """``n`` training and 2,000 test rows of ``p`` Gaussian features, the first
    ``n_informative`` with Gaussian coefficients, the others useless and multiplied by
    ``useless_scale``; unit noise."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n + 2000, p))
    X[:, n_informative:] *= useless_scale
    beta = np.zeros(p)
    beta[:n_informative] = rng.standard_normal(n_informative)
    y = X @ beta + rng.standard_normal(n + 2000)
    return X[:n], y[:n], X[n:], y[n:]


@pytest.mark.parametrize("seed", [2, 5, 6, 7])
def test_weighted_lasso_default_matches_lasso_on_a_lasso_truth(seed):
    """100 x 50, five informative features: per-feature weights have nothing to find. The
    default's test error is LassoHyperGrad's within 1% (picking among every point
    evaluated, common weights included, by one held-out fifth of 100 rows made it 18% to
    28% worse on these seeds)."""
    X, y, X_test, y_test = _sparse_truth(seed, 100, 50, 5)
    mse = lambda m: np.mean((m.predict(X_test) - y_test) ** 2)  # noqa: E731
    lasso = LassoHyperGrad(cv=5).fit(X, y)
    weighted = WeightedLassoHyperGrad(cv=5).fit(X, y)
    assert mse(weighted) <= 1.01 * mse(lasso)


@pytest.mark.parametrize("seed", [0, 1, 3])
def test_weighted_lasso_wins_with_useless_features_on_a_larger_scale(seed):
    """150 x 60: ten informative features on a unit scale, fifty useless ones ten times
    larger, which one common weight lets in first. Per-feature weights hold them out:
    the default's test error is below LassoHyperGrad's by more than 3%."""
    X, y, X_test, y_test = _sparse_truth(seed, 150, 60, 10, useless_scale=10.0)
    mse = lambda m: np.mean((m.predict(X_test) - y_test) ** 2)  # noqa: E731
    lasso = LassoHyperGrad(cv=5).fit(X, y)
    weighted = WeightedLassoHyperGrad(cv=5).fit(X, y)
    assert mse(weighted) < 0.97 * mse(lasso)
    assert np.median(weighted.alphas_[10:]) > np.median(weighted.alphas_[:10])


@pytest.mark.parametrize("Est", [LassoHyperGrad, LogisticRegressionHyperGrad])
def test_splitters_as_scikit_learn_has_them(Est):
    """A generator of splits is read once and serves the whole search (the same result as
    its list); ``groups`` reach a group splitter, whose folds never split a group."""
    from sklearn.model_selection import GroupKFold, KFold

    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 6))
    y = X[:, 0] - 0.5 * X[:, 1] + 0.3 * rng.standard_normal(60)
    if Est is LogisticRegressionHyperGrad:
        y = (y > 0).astype(int)
    kf = KFold(4, shuffle=True, random_state=0)
    ref = Est(cv=list(kf.split(X)), max_iter=4).fit(X, y)
    est = Est(cv=kf.split(X), max_iter=4).fit(X, y)
    assert est.n_evals_ > 1
    np.testing.assert_allclose(est.lam_, ref.lam_, rtol=1e-12)
    groups = np.repeat(np.arange(12), 5)
    grouped = Est(cv=GroupKFold(4), max_iter=4).fit(X, y, groups=groups)
    by_hand = Est(cv=list(GroupKFold(4).split(X, y, groups)), max_iter=4).fit(X, y)
    np.testing.assert_allclose(grouped.lam_, by_hand.lam_, rtol=1e-12)
    with pytest.raises(ValueError, match="groups"):
        Est(cv=GroupKFold(4), max_iter=4).fit(X, y)


def test_every_linear_estimator_fit_takes_groups():
    """``fit(X, y, ..., groups=None)`` on every estimator of skhypergrad.linear_model."""
    import inspect

    import skhypergrad.linear_model as lm

    for name in lm.__all__:
        assert "groups" in inspect.signature(getattr(lm, name).fit).parameters, name


@pytest.mark.parametrize("name", ["LinearSVCHyperGrad", "PoissonRegressorHyperGrad"])
def test_groups_reach_the_group_splitter(name):
    """``groups`` given to ``fit`` reach GroupKFold: the same search as its splits given as a
    list, and a GroupKFold without groups is refused."""
    from sklearn.model_selection import GroupKFold

    import skhypergrad.linear_model as lm

    Est = getattr(lm, name)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 5))
    z = X[:, 0] - 0.5 * X[:, 1] + 0.3 * rng.standard_normal(60)
    y = (z > 0).astype(int) if name == "LinearSVCHyperGrad" else rng.poisson(np.exp(0.5 * z))
    groups = np.repeat(np.arange(12), 5)
    splits = list(GroupKFold(3).split(X, y, groups))
    grouped = Est(cv=GroupKFold(3), max_iter=3).fit(X, y, groups=groups)
    by_hand = Est(cv=splits, max_iter=3).fit(X, y)
    np.testing.assert_allclose(grouped.lam_, by_hand.lam_, rtol=1e-12)
    np.testing.assert_allclose(grouped.coef_, by_hand.coef_, rtol=1e-12)
    with pytest.raises(ValueError, match="groups"):
        Est(cv=GroupKFold(3), max_iter=3).fit(X, y)


def _lasso_dual_gap(X, Y, coef, intercept, alpha):
    r"""scikit-learn's duality gap of :math:`\frac1{2n}\|Y - XW - b\|_F^2 + \alpha
    \sum_j \|W_j\|_2` (the Lasso for one output) at ``(coef, intercept)``: the dual
    point is the centred residual scaled into :math:`\|X_j^T\theta\|_2 \le n\alpha`."""
    n = X.shape[0]
    Y = Y.reshape(n, -1)
    W = np.reshape(coef, (Y.shape[1], X.shape[1])).T
    R = Y - X @ W - intercept
    theta = R - R.mean(axis=0)
    theta /= max(1.0, np.max(np.linalg.norm(X.T @ theta, axis=1)) / (n * alpha))
    primal = np.sum(R ** 2) / (2 * n) + alpha * np.sum(np.linalg.norm(W, axis=1))
    dual = np.sum((Y - Y.mean(axis=0)) * theta) / n - np.sum(theta ** 2) / (2 * n)
    return primal - dual


@pytest.mark.parametrize("name", ["LassoHyperGrad", "ElasticNetHyperGrad",
                                  "WeightedLassoHyperGrad", "MultiTaskLassoHyperGrad",
                                  "MultiTaskElasticNetHyperGrad"])
def test_dual_gap_is_the_refits_as_lasso_cvs(name):
    """``dual_gap_``, as ``LassoCV``'s and ``MultiTaskLassoCV``'s: a float, the duality gap
    of the refit's objective in its own units (not relative), below ``1e-8`` times the
    null model's objective (the refit's tolerance); for the Lasso and the multi-task Lasso the gap
    scikit-learn's formula gives at ``coef_``."""
    import skhypergrad

    X, y = load_diabetes(return_X_y=True)
    X, y = X[:150], y[:150]
    if name.startswith("MultiTask"):
        y = np.column_stack([y, 0.5 * y + 20.0 * X[:, 3]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = getattr(skhypergrad, name)(cv=3, max_iter=3).fit(X, y)
    scale = np.sum((y - y.mean(axis=0)) ** 2) / (2 * X.shape[0])
    assert isinstance(est.dual_gap_, float)
    assert -1e-12 * scale <= est.dual_gap_ <= 1e-8 * scale
    if name in ("LassoHyperGrad", "MultiTaskLassoHyperGrad"):
        ref = _lasso_dual_gap(X, y, est.coef_, est.intercept_, est.alpha_)
        np.testing.assert_allclose(est.dual_gap_, ref, rtol=1e-6, atol=1e-12 * scale)


def test_lasso_dual_gap_oracle_is_scikit_learns():
    """The oracle of the test above gives ``Lasso``'s own ``dual_gap_`` at its
    coefficients (a loose solve: a gap far above rounding)."""
    from sklearn.linear_model import Lasso

    X, y = load_diabetes(return_X_y=True)
    sk = Lasso(alpha=0.1, tol=1e-2).fit(X, y)
    assert sk.dual_gap_ > 1e-3
    np.testing.assert_allclose(_lasso_dual_gap(X, y, sk.coef_, sk.intercept_, 0.1),
                               sk.dual_gap_, rtol=1e-8)
