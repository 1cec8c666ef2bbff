"""``HyperGradSearchCV`` of a ``TransformedTargetRegressor`` (``_target_transform.py``).

A wrapper of a linear regressor (or of a pipeline ending in one) is searched by
hypergradient: each fold's transformer is fitted on its training targets, the inner
model trained on the transformed targets, and every row scored on the original scale
by the wrapper's inverse-transformed predictions. Each row's score is
``GridSearchCV``'s at its parameters, the best score is within 1% of a 20-point
``GridSearchCV`` on the same folds, and the refit is the user's wrapper; a wrapper of
any other regressor is evaluated as ``GridSearchCV`` evaluates it, with a warning.
"""

import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.compose import TransformedTargetRegressor
from sklearn.datasets import load_diabetes
from sklearn.linear_model import ElasticNet, Lasso, Ridge
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.neighbors import KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import QuantileTransformer, StandardScaler

from skhypergrad import HyperGradSearchCV

CV = KFold(5, shuffle=True, random_state=0)

#: (wrapper, searched parameter, grid, relative tolerance of a row's score): the
#: scikit-learn solvers at a tight tolerance, whose scores match the search's rows
CASES = {
    "lasso-log": (TransformedTargetRegressor(regressor=Lasso(tol=1e-10, max_iter=100_000),
                                             func=np.log, inverse_func=np.exp),
                  "regressor__alpha", np.logspace(-4, 0, 20), None),
    "ridge-scaler": (TransformedTargetRegressor(regressor=Ridge(),
                                                transformer=StandardScaler()),
                     "regressor__alpha", np.logspace(-3, 3, 20), None),
    "pipeline-quantile": (TransformedTargetRegressor(
        regressor=make_pipeline(StandardScaler(),
                                ElasticNet(l1_ratio=0.5, tol=1e-10, max_iter=100_000)),
        transformer=QuantileTransformer(n_quantiles=100, output_distribution="normal")),
        "regressor__elasticnet__alpha", np.logspace(-4, 0, 20), "r2"),
}


@pytest.fixture(scope="module")
def diabetes():
    return load_diabetes(return_X_y=True)


def _search(est, grid, X, y, scoring=None):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        search = HyperGradSearchCV(est, grid, cv=CV, scoring=scoring).fit(X, y)
    return search, [str(w.message) for w in caught]


@pytest.mark.parametrize("case", sorted(CASES))
def test_wrapper_searched_and_scored_on_the_original_scale(diabetes, case):
    X, y = diabetes
    est, name, values, scoring = CASES[case]
    search, messages = _search(est, {name: values}, X, y, scoring)
    assert not [m for m in messages if "param_grid" in m], messages
    grid = GridSearchCV(est, {name: values}, cv=CV, scoring=scoring).fit(X, y)
    assert search.best_score_ >= grid.best_score_ - 0.01 * abs(grid.best_score_)
    assert list(search.best_params_) == [name]
    res = search.cv_results_
    assert np.all((res["param_" + name] >= values[0]) & (res["param_" + name] <= values[-1]))
    for params, mean in zip(res["params"], res["mean_test_score"]):
        scores = cross_val_score(clone(est).set_params(**params), X, y, cv=CV,
                                 scoring=scoring)
        np.testing.assert_allclose(mean, scores.mean(), rtol=1e-6)
    best = search.best_estimator_
    assert type(best) is TransformedTargetRegressor
    expected = clone(est).set_params(**search.best_params_).fit(X, y)
    np.testing.assert_allclose(best.predict(X), expected.predict(X), rtol=1e-6)


def test_wrapper_transformer_fitted_per_fold(diabetes):
    """A transformer that depends on the training targets (a scaler): each fold's rows
    score as the wrapper fitted on that fold, by a scorer of the original targets."""
    X, y = diabetes
    est = TransformedTargetRegressor(regressor=Ridge(), transformer=StandardScaler())
    search, _ = _search(est, {"regressor__alpha": [0.1, 10.0]}, X, y,
                        scoring="neg_mean_absolute_error")
    res = search.cv_results_
    for k, (train, test) in enumerate(CV.split(X)):
        for i, params in enumerate(res["params"][:3]):
            fold = TransformedTargetRegressor(
                regressor=Ridge(alpha=params["regressor__alpha"]),
                transformer=StandardScaler()).fit(X[train], y[train])
            score = -np.mean(np.abs(fold.predict(X[test]) - y[test]))
            np.testing.assert_allclose(res[f"split{k}_test_score"][i], score, rtol=1e-6)


def test_wrapper_of_an_unsupported_regressor_falls_back(diabetes):
    X, y = diabetes
    est = TransformedTargetRegressor(regressor=KNeighborsRegressor(), func=np.log,
                                     inverse_func=np.exp)
    grid = {"regressor__n_neighbors": [3, 5, 9]}
    with pytest.warns(UserWarning, match="param_grid: estimator must be one of.*"
                      "TransformedTargetRegressor of KNeighborsRegressor"):
        search = HyperGradSearchCV(est, grid, cv=CV).fit(X, y)
    expected = GridSearchCV(est, grid, cv=CV).fit(X, y)
    np.testing.assert_allclose(search.cv_results_["mean_test_score"],
                               expected.cv_results_["mean_test_score"], rtol=1e-12)
    assert search.best_params_ == expected.best_params_
