"""``HyperGradSearchCV(estimator, param_grid)``: the ``GridSearchCV`` call, unchanged.

The grid's ranges are the search's box (an elastic net's parameter and ``l1_ratio``: the
weights of the points of their box only), a searched parameter with one value is fixed,
the searched parameters the grid does not name keep the estimator's values, every
other parameter is enumerated; what the search cannot follow as a box runs as
``GridSearchCV`` (with a warning). Each call lands within 0.5% of ``GridSearchCV`` on
the same grid and folds, every row's score is ``GridSearchCV``'s at its parameters,
and an elastic net searched in ``alpha`` alone (a fixed ``l1_ratio``, the penalty
:class:`~skhypergrad.FixedRatioElasticNet`) has the hypergradient of central
differences.
"""

import inspect
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.stats import expon, loguniform, norm, uniform
from sklearn.datasets import load_diabetes, load_iris, load_linnerud, make_classification
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import ElasticNet, HuberRegressor, Lasso, LogisticRegression, \
    MultiTaskElasticNet, Ridge
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, SVR

from skhypergrad import FixedRatioElasticNet, HeldOut, HyperGradSearchCV, InnerModel, \
    hypergradient
from skhypergrad._kernel_search import AdaptiveScan, axis_in_box
from skhypergrad._param_grid import lam_box

CV = KFold(4, shuffle=True, random_state=0)


@pytest.fixture(scope="module")
def diabetes():
    X, y = load_diabetes(return_X_y=True)
    return StandardScaler().fit_transform(X[:200]), y[:200]


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def test_param_grid_is_the_second_positional_parameter():
    params = list(inspect.signature(HyperGradSearchCV).parameters)
    assert params[:2] == list(inspect.signature(GridSearchCV).parameters)[:2]


def _searched_values(search, name):
    return np.array([p[name] for p in search.cv_results_["params"]], dtype=float)


REGRESSORS = [
    (Lasso(), {"alpha": np.logspace(-2, 1, 20)}),
    (ElasticNet(l1_ratio=0.3), {"alpha": np.logspace(-2, 1, 20)}),
    (ElasticNet(), {"alpha": np.logspace(-2, 1, 20), "l1_ratio": np.linspace(0.1, 1, 5)}),
    (Ridge(), {"alpha": np.logspace(-2, 3, 20)}),
    (HuberRegressor(max_iter=500), {"alpha": np.logspace(-3, 1, 5)}),
    (KernelRidge(kernel="rbf"), {"alpha": np.logspace(-3, 1, 8)}),
]


@pytest.mark.parametrize("estimator, grid", REGRESSORS,
                         ids=["lasso", "enet-alpha", "enet-both", "ridge", "huber", "krr"])
def test_regressor_grid_lands_on_grid_search(diabetes, estimator, grid):
    X, y = diabetes
    if isinstance(estimator, HuberRegressor):  # (its lbfgs is slow on y of scale 100)
        y = (y - y.mean()) / y.std()
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # searched, not a grid fallback
        search = HyperGradSearchCV(estimator, grid, cv=CV).fit(X, y)
    reference = GridSearchCV(estimator, grid, cv=CV).fit(X, y)
    assert search.best_score_ >= reference.best_score_ - 5e-3 * abs(reference.best_score_)
    for name, values in grid.items():  # every row within the grid's range
        v = _searched_values(search, name)
        assert np.all((v >= values.min() * (1 - 1e-12)) &
                      (v <= values.max() * (1 + 1e-12)))
    assert all(set(p) == set(grid) for p in search.cv_results_["params"])
    fixed = {k: v for k, v in estimator.get_params().items() if k not in grid}
    assert {k: search.best_estimator_.get_params()[k] for k in fixed} == fixed
    if isinstance(estimator, HuberRegressor):
        return  # its rows are those of the scale fixed on the first fold (documented)
    # a row's score is GridSearchCV's at its parameters
    row = search.best_index_
    est = estimator.set_params(**search.cv_results_["params"][row])
    assert search.cv_results_["mean_test_score"][row] == pytest.approx(
        cross_val_score(est, X, y, cv=CV).mean(), rel=1e-5, abs=1e-6)


def test_elastic_net_grid_of_both_stays_within_their_ranges(diabetes):
    """``alpha`` and ``l1_ratio`` named together are searched on the weights of the
    points of their box only: ``l1_ratio`` in [0.1, 0.9] keeps an elastic net (the box of
    the L1 and L2 weights holding the grid's corners reaches ``l1_ratio`` 0.999), every
    row within both ranges, the best score within 1% of ``GridSearchCV``'s."""
    X, y = diabetes
    grid = {"alpha": np.logspace(-3, 1, 20), "l1_ratio": [0.1, 0.5, 0.9]}
    search = HyperGradSearchCV(ElasticNet(), grid, cv=CV).fit(X, y)
    a, r = (_searched_values(search, k) for k in ("alpha", "l1_ratio"))
    assert np.all((a >= 1e-3) & (a <= 10.0)) and np.all((r >= 0.1) & (r <= 0.9))
    assert 0.1 <= search.best_params_["l1_ratio"] <= 0.9
    reference = GridSearchCV(ElasticNet(), grid, cv=CV).fit(X, y)
    assert search.best_score_ >= reference.best_score_ - 1e-2 * abs(reference.best_score_)


def test_multitask_elastic_net_grid_reaching_l1_ratio_one():
    """``MultiTaskElasticNet`` with ``l1_ratio`` up to 1, where the estimator's penalty is
    the L2,1 block penalty alone (one weight against the search's two): that corner's L2
    weight is 0 (the region's corners had inhomogeneous shapes, a ValueError); every
    row within both ranges, the best score within 1% of ``GridSearchCV``'s."""
    X, Y = load_linnerud(return_X_y=True)
    est = MultiTaskElasticNet(max_iter=10000)
    grid = {"alpha": np.logspace(-2, 2, 8), "l1_ratio": np.linspace(0.2, 1.0, 5)}
    cv = KFold(4)
    search = HyperGradSearchCV(est, grid, cv=cv, scoring="neg_mean_squared_error").fit(X, Y)
    a, r = (_searched_values(search, k) for k in ("alpha", "l1_ratio"))
    assert np.all((a >= 1e-2 * (1 - 1e-9)) & (a <= 1e2 * (1 + 1e-9)))
    assert np.all((r >= 0.2 * (1 - 1e-9)) & (r <= 1.0 + 1e-9))
    reference = GridSearchCV(est, grid, cv=cv, scoring="neg_mean_squared_error").fit(X, Y)
    assert search.best_score_ >= reference.best_score_ - 1e-2 * abs(reference.best_score_)


def test_ratio_region_projects_onto_the_ranges_and_keeps_its_points():
    """:func:`lam_box` of ``alpha`` in [0.01, 1] and ``l1_ratio`` in [0.1, 0.9]: a point
    of the region is kept (to rounding), one outside it is moved to the nearest
    ``alpha`` and ``l1_ratio`` within their ranges."""
    region = lam_box({"alpha": (0.01, 1.0), "l1_ratio": (0.1, 0.9)}, ["alpha", "l1_ratio"],
                     lambda p: np.array([p["alpha"] * p["l1_ratio"],
                                         p["alpha"] * (1 - p["l1_ratio"])]),
                     ratio=["alpha", "l1_ratio"])
    inside = np.array([0.5 * 0.3, 0.5 * 0.7])
    np.testing.assert_allclose(region.clip(inside), inside, rtol=1e-14)
    # a corner of the box of the weights: alpha 0.91, l1_ratio 0.99
    out = region.clip(np.array([0.9, 0.01]))
    assert out.sum() == pytest.approx(0.91) and out[0] / out.sum() == pytest.approx(0.9)
    theta = region.project(np.log([[1e-4, 1e-6], [10.0, 10.0]]))
    alpha, rho = np.exp(theta).sum(axis=1), np.exp(theta[:, 0]) / np.exp(theta).sum(axis=1)
    np.testing.assert_allclose(alpha, [0.01, 1.0])
    np.testing.assert_allclose(rho, [0.9, 0.5])
    assert np.all((alpha >= 0.01) & (alpha <= 1.0) & (rho >= 0.1) & (rho <= 0.9))


def test_logistic_grid_of_C_and_l1_ratio_stays_within_their_ranges():
    """The same for ``C`` and ``l1_ratio`` (whose weights :math:`[\\rho, 1-\\rho]/(Cn)`
    spanned ``l1_ratio`` 0.002 to 0.9998 for [0.2, 0.8])."""
    X, y = make_classification(120, 6, random_state=0)
    est = LogisticRegression(l1_ratio=0.5, solver="saga", tol=1e-6, max_iter=5000)
    grid = {"C": np.logspace(-2, 2, 9), "l1_ratio": [0.2, 0.8]}
    cv = StratifiedKFold(4, shuffle=True, random_state=0)
    search = HyperGradSearchCV(est, grid, cv=cv, scoring="neg_log_loss").fit(X, y)
    c, r = (_searched_values(search, k) for k in ("C", "l1_ratio"))
    assert np.all((c >= 1e-2) & (c <= 1e2)) and np.all((r >= 0.2) & (r <= 0.8))
    reference = GridSearchCV(est, grid, cv=cv, scoring="neg_log_loss").fit(X, y)
    assert search.best_score_ >= reference.best_score_ - 1e-2 * abs(reference.best_score_)


def test_logistic_C_at_a_fixed_l1_ratio(iris):
    X, y = iris
    est = LogisticRegression(l1_ratio=0.5, solver="saga", tol=1e-8, max_iter=5000)
    grid = {"C": np.logspace(-2, 2, 8)}
    cv = StratifiedKFold(4, shuffle=True, random_state=0)
    search = HyperGradSearchCV(est, grid, cv=cv, scoring="neg_log_loss").fit(X, y)
    reference = GridSearchCV(est, grid, cv=cv, scoring="neg_log_loss").fit(X, y)
    assert search.best_score_ >= reference.best_score_ * 1.005
    assert search.best_estimator_.l1_ratio == 0.5
    assert set(search.best_params_) == {"C"}



def test_elastic_net_grid_fixing_l1_ratio_at_one_is_a_lasso_search(diabetes):
    """``l1_ratio: [1.0]`` fixes the elastic net at its L1 end (an L1 model, one weight):
    ``alpha`` is searched in the grid's box, alone or in a list of dicts."""
    X, y = diabetes
    grid = {"alpha": [1e-2, 1.0], "l1_ratio": [1.0]}
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # searched, not a grid fallback
        search = HyperGradSearchCV(ElasticNet(), grid, cv=CV).fit(X, y)
    alpha = _searched_values(search, "alpha")
    assert np.all((alpha >= 1e-2 * (1 - 1e-12)) & (alpha <= 1.0 * (1 + 1e-12)))
    assert {p["l1_ratio"] for p in search.cv_results_["params"]} == {1.0}
    reference = GridSearchCV(ElasticNet(l1_ratio=1.0), {"alpha": np.logspace(-2, 0, 30)},
                             cv=CV).fit(X, y)
    assert search.best_score_ >= reference.best_score_ - 5e-3 * abs(reference.best_score_)
    grids = [{"alpha": [1e-2, 1.0], "l1_ratio": [0.5]}, grid]
    both = HyperGradSearchCV(ElasticNet(), grids, cv=CV).fit(X, y)
    assert {p["l1_ratio"] for p in both.cv_results_["params"]} == {0.5, 1.0}

def test_fixed_ratio_penalty_matches_elastic_net_and_finite_differences(diabetes):
    """The solution is scikit-learn's ``ElasticNet(alpha=t, l1_ratio=rho)``; the
    hypergradient in ``log t`` (``rho dE/dl1 + (1 - rho) dE/dl2`` times ``t``) is
    checked against central differences of the held-out MSE."""
    X, y = diabetes
    rho, t = 0.3, 0.2
    model = InnerModel("quadratic", FixedRatioElasticNet(rho), fit_intercept=True, lam=[t])
    Xtr, ytr, Xte, yte = X[:150], y[:150], X[150:], y[150:]

    def held_out(t):
        sk = ElasticNet(alpha=t, l1_ratio=rho, tol=1e-14, max_iter=100000).fit(Xtr, ytr)
        return float(np.mean((sk.predict(Xte) - yte) ** 2))

    for engine in ("aid-cg", "aid-fp", "itd"):
        value, grad = hypergradient(model, Xtr, ytr, criterion=HeldOut(Xte, yte),
                                    method=engine, tol=1e-13)
        assert value == pytest.approx(held_out(t), rel=1e-8)
        h = 1e-5
        fd = (held_out(t * np.exp(h)) - held_out(t * np.exp(-h))) / (2 * h)
        assert abs(fd) > 1e-2
        assert grad[0] == pytest.approx(fd, rel=1e-5)  # in log t


def test_penalty_weights_and_their_transpose():
    pen = FixedRatioElasticNet(0.25)
    l1, l2 = pen.weights([2.0], 3)
    np.testing.assert_allclose(l1, 0.5)
    np.testing.assert_allclose(l2, 1.5)
    assert pen.weights_vjp(np.ones(3), np.full(3, 2.0))[0] == pytest.approx(0.75 + 4.5)
    assert pen.lam_from_weights(0.5, 123.0, 3)[0] == pytest.approx(2.0)
    with pytest.raises(ValueError, match="l1_ratio"):
        FixedRatioElasticNet(0.0)


def test_user_guide_svc_call_enumerates_the_kernel(iris):
    """scikit-learn's user guide: ``GridSearchCV(svc, {'kernel': ('linear', 'rbf'),
    'C': [1, 10]})``; ``gamma`` stays ``"scale"``."""
    X, y = iris
    parameters = {"kernel": ("linear", "rbf"), "C": [1, 10]}
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    search = HyperGradSearchCV(SVC(), parameters, cv=cv).fit(X, y)
    reference = GridSearchCV(SVC(), parameters, cv=cv).fit(X, y)
    results = search.cv_results_
    assert set(results["param_kernel"]) == {"linear", "rbf"}
    assert all(set(p) == {"kernel", "C"} for p in results["params"])
    C = _searched_values(search, "C")
    assert C.min() >= 1 - 1e-12 and C.max() <= 10 + 1e-12
    assert search.best_estimator_.gamma == "scale"
    assert search.best_score_ >= reference.best_score_ - 0.005
    assert results["rank_test_score"][search.best_index_] == 1
    assert len(results["mean_fit_time"]) == len(results["params"])


def test_list_of_grids_ranks_every_row(diabetes):
    X, y = diabetes
    grids = [{"kernel": ["linear"], "alpha": [1e-2, 10.0]},
             {"kernel": ["rbf"], "alpha": [1e-2, 10.0], "gamma": [1e-3, 1e-1]}]
    search = HyperGradSearchCV(KernelRidge(), grids, cv=CV).fit(X, y)
    results = search.cv_results_
    kernels = np.asarray(results["param_kernel"])
    assert set(kernels) == {"linear", "rbf"}
    gamma = results["param_gamma"]
    assert np.all(gamma.mask == (kernels == "linear"))
    means = results["mean_test_score"]
    assert results["rank_test_score"][np.argmax(means)] == 1
    assert search.best_index_ == int(np.argmax(means))
    assert search.best_estimator_.kernel == kernels[search.best_index_]


def test_grid_svr_with_fixed_gamma_lands_on_grid_search(diabetes):
    X, y = diabetes
    y = (y - y.mean()) / y.std()
    grid = {"C": np.logspace(-1, 2, 8), "epsilon": [0.01, 0.5]}
    search = HyperGradSearchCV(SVR(), grid, cv=CV).fit(X, y)
    reference = GridSearchCV(SVR(), grid, cv=CV).fit(X, y)
    assert search.best_score_ >= reference.best_score_ - 5e-3 * abs(reference.best_score_)
    assert search.best_estimator_.gamma == "scale"


def test_what_the_search_cannot_follow_runs_as_grid_search(diabetes):
    """``l1_ratio`` searched at a fixed ``alpha`` moves both weights: those points are
    ``GridSearchCV``'s, exactly."""
    X, y = diabetes
    grid = {"l1_ratio": [0.2, 0.5, 0.8]}
    with pytest.warns(UserWarning, match="l1_ratio is searched together with alpha"):
        search = HyperGradSearchCV(ElasticNet(alpha=0.1), grid, cv=CV).fit(X, y)
    reference = GridSearchCV(ElasticNet(alpha=0.1), grid, cv=CV).fit(X, y)
    assert search.cv_results_["params"] == reference.cv_results_["params"]
    np.testing.assert_allclose(search.cv_results_["mean_test_score"],
                               reference.cv_results_["mean_test_score"], rtol=1e-12)
    assert search.best_params_ == reference.best_params_


@pytest.mark.parametrize("estimator, name", [
    (Ridge(alpha=0.0), "alpha"), (make_pipeline(StandardScaler(), Lasso(alpha=0.0)),
                                  "lasso__alpha")])
def test_a_value_the_grid_replaces_does_not_stop_the_search(diabetes, estimator, name):
    """The estimator's own ``alpha = 0`` (which the search cannot start from) is
    replaced by every point of a grid naming ``alpha``: searched, without a warning,
    every row ``GridSearchCV``'s at its parameters."""
    X, y = diabetes
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        search = HyperGradSearchCV(estimator, {name: np.logspace(-3, 2, 6)}, cv=CV).fit(X, y)
    values = np.asarray(search.cv_results_[f"param_{name}"], dtype=float)
    assert not np.all(np.isin(values, np.logspace(-3, 2, 6)))  # off the grid: searched
    points = [{k: [v] for k, v in p.items()} for p in search.cv_results_["params"]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = GridSearchCV(estimator, points, cv=CV).fit(X, y)
    np.testing.assert_allclose(search.cv_results_["mean_test_score"],
                               reference.cv_results_["mean_test_score"], rtol=1e-4)


def test_values_at_zero_run_as_grid_search_and_the_positive_ones_are_searched(diabetes):
    """``l1_ratio`` from 0 (a ridge, not searched on logarithms) to 1: the points at
    ``l1_ratio=0`` are ``GridSearchCV``'s, exactly (with the warning); those above are
    searched (points off the grid, within its ranges), and the best lands within 0.5%
    of ``GridSearchCV``'s."""
    X, y = diabetes
    alphas = np.logspace(-3, 1, 6)
    grid = {"alpha": alphas, "l1_ratio": [0.0, 0.5, 1.0]}
    with pytest.warns(UserWarning, match="l1_ratio takes values at or below 0"):
        search = HyperGradSearchCV(ElasticNet(), grid, cv=CV).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = GridSearchCV(ElasticNet(), grid, cv=CV).fit(X, y)
    results, ref = search.cv_results_, reference.cv_results_
    ratio = np.asarray(results["param_l1_ratio"], dtype=float)
    at_zero = [i for i, p in enumerate(ref["params"]) if p["l1_ratio"] == 0.0]
    assert [results["params"][i] for i in np.flatnonzero(ratio == 0.0)] == \
        [ref["params"][i] for i in at_zero]
    np.testing.assert_allclose(results["mean_test_score"][ratio == 0.0],
                               ref["mean_test_score"][at_zero], rtol=1e-12)
    alpha = np.asarray(results["param_alpha"], dtype=float)[ratio > 0.0]
    off_grid = ~np.isin(alpha, alphas) | ~np.isin(ratio[ratio > 0.0], [0.5, 1.0])
    assert np.any(off_grid)
    assert np.all((alpha >= 1e-3 * (1 - 1e-12)) & (alpha <= 10.0 * (1 + 1e-12)))
    assert np.all((ratio >= 0.0) & (ratio <= 1.0))
    assert search.best_score_ >= reference.best_score_ - 5e-3 * abs(reference.best_score_)


def test_pipeline_enumerates_a_step_option_and_a_distribution_gives_the_box(diabetes):
    X, y = diabetes
    pipe = make_pipeline(StandardScaler(), Lasso())
    grid = {"standardscaler__with_mean": [True, False],
            "lasso__alpha": loguniform(1e-2, 1.0)}
    search = HyperGradSearchCV(pipe, grid, cv=CV).fit(X, y)
    assert set(search.cv_results_["param_standardscaler__with_mean"]) == {True, False}
    alpha = _searched_values(search, "lasso__alpha")
    assert alpha.min() >= 1e-2 * (1 - 1e-12) and alpha.max() <= 1.0 * (1 + 1e-12)
    assert search.best_estimator_.steps[-1][1].alpha == search.best_params_["lasso__alpha"]


def test_distributions_reaching_0_or_infinity_are_searched_within_quantiles(diabetes):
    """``l1_ratio: uniform(0, 1)`` (support [0, 1]) and ``alpha: expon(scale=0.1)``
    (support [0, inf)): the ends the log-scale search cannot take are replaced by the
    0.1% and 99.9% quantiles, and the search runs there (it fell back to GridSearchCV,
    which cannot enumerate a distribution: TypeError); every row within those bounds."""
    X, y = diabetes
    grid = {"alpha": expon(scale=0.1), "l1_ratio": uniform(0, 1)}
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        search = HyperGradSearchCV(ElasticNet(), grid, cv=CV).fit(X, y)
    alpha, ratio = (_searched_values(search, k) for k in ("alpha", "l1_ratio"))
    assert alpha.min() >= expon(scale=0.1).ppf(1e-3) * (1 - 1e-9)
    assert alpha.max() <= expon(scale=0.1).ppf(1 - 1e-3) * (1 + 1e-9)
    assert ratio.min() >= 1e-3 * (1 - 1e-9) and ratio.max() <= 1.0 + 1e-12
    reference = GridSearchCV(ElasticNet(), {"alpha": np.logspace(-4, np.log10(0.69), 20),
                                            "l1_ratio": np.linspace(0.001, 1, 20)},
                             cv=CV).fit(X, y)
    assert search.best_score_ >= reference.best_score_ - 5e-3 * abs(reference.best_score_)


def test_a_distribution_of_values_at_or_below_0_is_refused_clearly(diabetes):
    X, y = diabetes
    with pytest.raises(ValueError, match="distribution for 'alpha'.*positive values"):
        HyperGradSearchCV(Lasso(), {"alpha": norm(1.0, 1.0)}, cv=CV).fit(X, y)


@pytest.mark.parametrize("grid, error, match", [
    ({"alpha": []}, ValueError, "empty"),
    ({"alpha": "0.1"}, TypeError, "sequence"),
    ({"alpha": [0.1, np.inf]}, ValueError, "must be finite"),
    ([{"alpha": [0.1, 1]}, "alpha"], TypeError, "list of dicts"),
    ({"bogus": [1, 2]}, ValueError, "bogus"),
])
def test_malformed_grids_are_refused(diabetes, grid, error, match):
    X, y = diabetes
    with pytest.raises(error, match=match):
        HyperGradSearchCV(Lasso(), grid, cv=CV).fit(X, y)


def test_values_that_are_not_numbers_are_enumerated(diabetes):
    """``gamma: ["scale", 0.1]``: each value a search over ``C``, as GridSearchCV would
    fit each."""
    X, y = diabetes
    y = (y - y.mean()) / y.std()
    grid = {"C": [0.1, 10.0], "gamma": ["scale", 0.1]}
    search = HyperGradSearchCV(SVR(), grid, cv=CV).fit(X, y)
    gammas = list(search.cv_results_["param_gamma"])
    assert set(gammas) == {"scale", 0.1}
    assert search.best_estimator_.gamma == search.best_params_["gamma"]


def test_an_estimator_not_searched_runs_as_grid_search(diabetes):
    from sklearn.neighbors import KNeighborsRegressor

    X, y = diabetes
    grid = {"n_neighbors": [3, 10]}
    with pytest.warns(UserWarning, match="evaluated as GridSearchCV"):
        search = HyperGradSearchCV(KNeighborsRegressor(), grid, cv=CV).fit(X, y)
    reference = GridSearchCV(KNeighborsRegressor(), grid, cv=CV).fit(X, y)
    np.testing.assert_allclose(search.cv_results_["mean_test_score"],
                               reference.cv_results_["mean_test_score"], rtol=1e-12)
    assert search.best_params_ == reference.best_params_



@pytest.mark.parametrize("estimator", [SVR(), make_pipeline(StandardScaler(with_mean=False),
                                                             KernelRidge(kernel="rbf"))],
                         ids=["SVR", "pipeline-KernelRidge"])
def test_a_kernel_model_on_sparse_data_runs_as_grid_search(diabetes, estimator):
    """A kernel model is searched on a dense ``X`` only; with a ``param_grid``, the points
    of a sparse ``X`` are evaluated as ``GridSearchCV`` evaluates them (with a warning
    that says why), and the refit is the estimator's own on the sparse ``X``."""
    X, y = diabetes
    X = sp.csr_matrix(np.where(np.abs(X) > 1.0, X, 0.0))
    prefix = "kernelridge__alpha" if hasattr(estimator, "steps") else "C"
    grid = {prefix: [0.1, 10.0]}
    with pytest.warns(UserWarning, match="dense data only.*evaluated as GridSearchCV"):
        search = HyperGradSearchCV(estimator, grid, cv=CV).fit(X, y)
    reference = GridSearchCV(estimator, grid, cv=CV).fit(X, y)
    np.testing.assert_allclose(search.cv_results_["mean_test_score"],
                               reference.cv_results_["mean_test_score"], rtol=1e-12)
    assert search.best_params_ == reference.best_params_
    np.testing.assert_allclose(search.predict(X[:5]), reference.predict(X[:5]), rtol=1e-12)


@pytest.mark.parametrize("estimator", [Lasso(), ElasticNet(l1_ratio=0.5), Ridge()],
                         ids=["Lasso", "ElasticNet", "Ridge"])
def test_several_outputs_of_a_one_output_model_run_as_grid_search(diabetes, estimator):
    """A ``y`` of several columns for ``Lasso``, ``ElasticNet`` or ``Ridge`` (which fit
    one model per output) with a ``param_grid``: its points are evaluated as
    ``GridSearchCV`` evaluates them, with a warning (the search tunes one output);
    without a ``param_grid``, a ValueError saying so."""
    X, y = diabetes
    Y = np.c_[y, np.sqrt(y)]
    grid = {"alpha": [0.01, 0.1, 1.0]}
    with pytest.warns(UserWarning, match="y has 2 columns"):
        search = HyperGradSearchCV(estimator, grid, cv=CV).fit(X, Y)
    reference = GridSearchCV(estimator, grid, cv=CV).fit(X, Y)
    np.testing.assert_allclose(search.cv_results_["mean_test_score"],
                               reference.cv_results_["mean_test_score"], rtol=1e-12)
    assert search.best_estimator_.coef_.shape == (2, X.shape[1])
    with pytest.raises(ValueError, match="y has 2 columns"):
        HyperGradSearchCV(estimator, cv=CV, max_iter=1).fit(X, Y)

def test_a_step_given_in_the_grid_is_not_modified(diabetes):
    """A pipeline's step given as a grid value is cloned, as GridSearchCV clones it."""
    X, y = diabetes
    ridge, lasso = Ridge(alpha=1.0), Lasso(alpha=1.0)
    pipe = make_pipeline(StandardScaler(), Ridge())
    grid = {"ridge": [ridge, lasso], "ridge__alpha": [0.01, 10.0]}
    search = HyperGradSearchCV(pipe, grid, cv=CV).fit(X, y)
    assert ridge.alpha == 1.0 and lasso.alpha == 1.0
    assert {type(p["ridge"]) for p in search.cv_results_["params"]} == {Ridge, Lasso}
    final = search.best_estimator_.steps[-1][1]
    assert final is not search.best_params_["ridge"]
    assert final.alpha == search.best_params_["ridge__alpha"]


def test_bounds_and_param_grid_together_are_refused(diabetes):
    X, y = diabetes
    with pytest.raises(ValueError, match="not both"):
        HyperGradSearchCV(Lasso(), {"alpha": [0.1, 1]}, bounds=(0.1, 1), cv=CV).fit(X, y)


def test_param_columns_have_grid_search_dtypes_and_masks(diabetes):
    """``param_<name>`` as ``GridSearchCV`` forms it: ``float64`` for a searched number,
    ``bool`` for a boolean, ``object`` for strings, masked in the rows of the dicts
    without the name (``np.log10(cv_results_["param_alpha"])`` works); the keys of
    ``cv_results_`` and of each row's ``params`` in ``GridSearchCV``'s order."""
    X, y = diabetes
    grid = [{"alpha": [0.1, 10.0], "fit_intercept": [True, False]},
            {"alpha": [1.0], "solver": ["svd", "cholesky"]}]
    scoring = {"r2": "r2", "mae": "neg_mean_absolute_error"}
    search = HyperGradSearchCV(Ridge(), grid, cv=CV, scoring=scoring, refit="r2",
                               return_train_score=True).fit(X, y)
    reference = GridSearchCV(Ridge(), grid, cv=CV, scoring=scoring, refit="r2",
                             return_train_score=True).fit(X, y)
    assert list(search.cv_results_) == list(reference.cv_results_)
    rows = search.cv_results_["params"]
    assert [list(p) for p in rows[:1] + rows[-1:]] == [["alpha", "fit_intercept"],
                                                       ["alpha", "solver"]]
    for name in ("alpha", "fit_intercept", "solver"):
        column = search.cv_results_["param_" + name]
        assert isinstance(column, np.ma.MaskedArray)
        assert column.dtype == reference.cv_results_["param_" + name].dtype, name
        np.testing.assert_array_equal(column.mask, [name not in p for p in rows])
        assert [column[i] for i in range(len(rows)) if name in rows[i]] == \
            [p[name] for p in rows if name in p]
    assert np.all(np.isfinite(np.log10(search.cv_results_["param_alpha"])))


def test_a_sub_search_whose_estimator_fails_to_fit_scores_error_score(iris):
    """An enumerated value the estimator cannot fit with (``lbfgs`` with an L1 penalty):
    its points score ``error_score`` with a ``FitFailedWarning``, as ``GridSearchCV``
    records them, and the others are searched; ``error_score="raise"`` raises the
    estimator's error."""
    from sklearn.exceptions import FitFailedWarning

    X, y = iris[0], iris[1] == 2
    grid = {"C": [0.1, 10.0], "solver": ["lbfgs", "liblinear"]}
    est = LogisticRegression(l1_ratio=1.0)
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    with pytest.warns(FitFailedWarning, match="fails to fit at {'solver': 'lbfgs'}"):
        search = HyperGradSearchCV(est, grid, cv=cv, scoring="neg_log_loss",
                                   error_score=-5.0, return_train_score=True).fit(X, y)
    res = search.cv_results_
    failed = np.array([p["solver"] == "lbfgs" for p in res["params"]])
    assert [p for p in res["params"] if p["solver"] == "lbfgs"] == \
        [{"C": 0.1, "solver": "lbfgs"}, {"C": 10.0, "solver": "lbfgs"}]
    for key in ("split0_test_score", "mean_test_score", "split2_train_score"):
        np.testing.assert_array_equal(res[key][failed], -5.0)
    assert np.all(res["mean_test_score"][~failed] > -1)
    assert search.best_params_["solver"] == "liblinear"
    assert search.best_estimator_.solver == "liblinear"
    with pytest.raises(ValueError, match="Solver lbfgs supports only"):
        HyperGradSearchCV(est, grid, cv=cv, scoring="neg_log_loss",
                          error_score="raise").fit(X, y)


def test_points_evaluated_as_grid_search_that_all_fail_score_error_score(iris):
    """Points evaluated as ``GridSearchCV`` (an invalid enumerated ``kernel``) that all
    fail to fit score NaN, as in ``GridSearchCV`` over the whole grid, instead of its
    "all the fits failed" of a run of theirs alone."""
    from sklearn.exceptions import FitFailedWarning

    X, y = iris
    grid = {"kernel": ["rbf", "bogus"], "C": [1.0, 10.0]}
    with pytest.warns(FitFailedWarning, match="fails to fit at {'kernel': 'bogus'"):
        search = HyperGradSearchCV(SVC(), grid, cv=CV).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # GridSearchCV's own FitFailedWarning
        reference = GridSearchCV(SVC(), grid, cv=CV).fit(X, y)
    rows = search.cv_results_["params"]
    failed = np.array([p["kernel"] == "bogus" for p in rows])
    assert [p for p in rows if p["kernel"] == "bogus"] == \
        [p for p in reference.cv_results_["params"] if p["kernel"] == "bogus"]
    assert np.all(np.isnan(search.cv_results_["mean_test_score"][failed]))
    assert np.all(search.cv_results_["rank_test_score"][failed] == failed.size - 1)
    assert search.best_params_["kernel"] == "rbf"


def test_scan_of_a_box_covers_it_at_the_default_spacing_or_finer():
    """:func:`axis_in_box` spans the box from bound to bound, log-spaced at the default
    axis's mean spacing or half a decade, whichever is finer (one point for equal bounds;
    a box from 0 from the axis's start), and :meth:`AdaptiveScan.within` starts and
    centres at the points nearest to the default scan's."""
    decades = 10.0 ** np.arange(-1, 3)
    np.testing.assert_allclose(axis_in_box(decades, 1.0, 1000.0), 10.0 ** np.arange(0, 3.1, 0.5))
    # 1.4 decades: 4 points, 0.47 decade apart
    np.testing.assert_allclose(axis_in_box(decades, 2.0, 50.0), np.geomspace(2.0, 50.0, 4))
    quarters = 10.0 ** np.arange(0, 2.1, 0.25)  # finer than half a decade: kept
    np.testing.assert_allclose(axis_in_box(quarters, 1.0, 10.0), quarters[:5])
    np.testing.assert_allclose(axis_in_box(decades, 3.0, 3.0), [3.0])
    np.testing.assert_allclose(axis_in_box(decades, 0.0, 10.0), 10.0 ** np.arange(-1, 1.1, 0.5))
    scan = AdaptiveScan(7.8 * decades, 0.1 * decades, centre=1, start=1)
    inside = scan.within((np.array([1.0, 0.001]), np.array([1000.0, 1.0])), 0, 1)
    np.testing.assert_allclose(inside.axis, 10.0 ** np.arange(0, 3.1, 0.5))
    np.testing.assert_allclose(inside.widths, 10.0 ** np.arange(-3, 0.1, 0.5))
    assert (inside.start, inside.centre) == (2, 4)  # C 7.8 -> 10, width 0.1 -> 0.1
    assert scan.within(None, 0, 1) is scan
