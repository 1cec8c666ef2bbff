"""``HyperGradSearchCV``: a drop-in for ``GridSearchCV`` (Lasso, ElasticNet, LogisticRegression).

Protects :mod:`skhypergrad.model_selection`: ``cv_results_`` has
``GridSearchCV``'s keys and dtypes; every recorded split score is the score
scikit-learn itself gives on that fold at that row's parameters (so a pipeline's
preprocessing is fitted per training fold, and a logistic model's ``C`` means
the same on every fold); the best row is refit with the user's own class; the
search matches a fine grid; prediction methods delegate; unsupported
estimators and malformed ``scoring`` / ``refit`` fail with a ValueError naming the
parameter. (The scorers themselves: ``tests/test_gridsearch_parity.py``.)
"""

import pickle

import numpy as np
import pytest
from _data import make_regression_data
from sklearn.base import clone, is_classifier, is_regressor
from sklearn.linear_model import ElasticNet, Lars, Lasso, LogisticRegression
from sklearn.model_selection import GridSearchCV, GroupKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import NuSVC

from skhypergrad.model_selection import HyperGradSearchCV


def _regression(n=100, p=15, seed=0):
    return make_regression_data(n, p, seed)


def _classification(n=120, p=10, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    t = X[:, :3] @ np.array([1.5, -1.0, 0.8]) + 0.8 * rng.standard_normal(n)
    return X, np.where(t > 0, "yes", "no")


@pytest.fixture(scope="module")
def enet_search():
    X, y = _regression()
    search = HyperGradSearchCV(ElasticNet(alpha=0.1, l1_ratio=0.5), cv=5, max_iter=8,
                               return_train_score=True).fit(X, y)
    return search, X, y


def _grid_results(estimator, search, X, y, **kwargs):
    """``GridSearchCV`` evaluated at the rows of ``search``, with the same splits."""
    grid = [{k: [v] for k, v in params.items()} for params in search.cv_results_["params"]]
    return GridSearchCV(estimator, grid, cv=search.cv, scoring=search.scorer_,
                        **kwargs).fit(X, y).cv_results_


# -- cv_results_ -----------------------------------------------------------------------
def test_cv_results_format_matches_grid_search(enet_search):
    search, X, y = enet_search
    res = search.cv_results_
    ref = GridSearchCV(ElasticNet(), {"alpha": [0.1, 0.2], "l1_ratio": [0.5]},
                       scoring="neg_mean_squared_error", return_train_score=True,
                       cv=5).fit(X, y).cv_results_
    assert list(res) == list(ref)
    n_rows = len(res["params"])
    assert n_rows > 1
    for key, value in ref.items():
        if key == "params":
            assert isinstance(res[key], list) and set(res[key][0]) == set(value[0])
        elif key.startswith("param_"):
            assert isinstance(res[key], np.ma.MaskedArray) and res[key].dtype == np.float64
            assert not res[key].mask.any()
        else:
            assert res[key].dtype == value.dtype, key
            assert res[key].shape == (n_rows,), key
    assert search.n_splits_ == 5 and search.multimetric_ is False


def test_dataframe_conversion(enet_search):
    pd = pytest.importorskip("pandas")
    search, _, _ = enet_search
    df = pd.DataFrame(search.cv_results_)
    assert len(df) == len(search.cv_results_["params"])
    assert df.loc[search.best_index_, "rank_test_score"] == 1


def test_split_scores_are_sklearn_scores(enet_search):
    """Every row, every split: -MSE of sklearn's ElasticNet fitted on the fold at those params."""
    search, X, y = enet_search
    res = search.cv_results_
    ref = _grid_results(ElasticNet(tol=1e-12, max_iter=100_000), search, X, y,
                        return_train_score=True)
    for kind in ("test", "train"):
        for k in range(5):
            np.testing.assert_allclose(res[f"split{k}_{kind}_score"],
                                       ref[f"split{k}_{kind}_score"], rtol=1e-4)
        np.testing.assert_allclose(res[f"mean_{kind}_score"], ref[f"mean_{kind}_score"],
                                   rtol=1e-4)
    # the same order as GridSearchCV's, but for rows whose scores tie to the accuracy
    ours, theirs = res["mean_test_score"], ref["mean_test_score"]
    apart = np.abs(np.subtract.outer(theirs, theirs)) > 1e-6 * np.abs(theirs).max()
    order = np.sign(np.subtract.outer(res["rank_test_score"], res["rank_test_score"]))
    order_ref = np.sign(np.subtract.outer(ref["rank_test_score"], ref["rank_test_score"]))
    np.testing.assert_array_equal(order[apart], order_ref[apart])
    assert res["rank_test_score"][np.argmax(ours)] == 1


def test_best_row_and_refit(enet_search):
    search, X, y = enet_search
    res = search.cv_results_
    best = search.best_index_
    assert res["rank_test_score"][best] == 1
    assert best == np.argmax(res["mean_test_score"])
    assert search.best_score_ == res["mean_test_score"][best]
    assert search.best_params_ == res["params"][best]
    # starts at the scan's strongest point, and improves on it
    assert search.best_score_ > res["mean_test_score"][0]
    est = search.best_estimator_
    assert type(est) is ElasticNet
    assert est.get_params()["alpha"] == search.best_params_["alpha"]
    assert est.get_params()["l1_ratio"] == search.best_params_["l1_ratio"]
    ref = ElasticNet(**search.best_params_).fit(X, y)
    np.testing.assert_allclose(est.coef_, ref.coef_)
    assert search.refit_time_ >= 0 and search.n_features_in_ == X.shape[1]
    assert np.all(res["mean_fit_time"] > 0) and np.all(res["std_score_time"] == 0)


def test_matches_fine_grid_on_lasso():
    """The search's best CV loss is within 1% of the best of a 30-alpha grid."""
    X, y = _regression(n=80, p=20, seed=3)
    grid = GridSearchCV(Lasso(), {"alpha": np.geomspace(1e-3, 1.0, 30)},
                        scoring="neg_mean_squared_error", cv=5).fit(X, y)
    search = HyperGradSearchCV(Lasso(alpha=0.5), cv=5, max_iter=20).fit(X, y)
    assert -search.best_score_ <= 1.01 * -grid.best_score_


# -- pipelines ---------------------------------------------------------------------------
def test_pipeline_preprocessing_is_fitted_per_fold():
    X, y = _regression(n=90, p=12, seed=1)
    X = X * np.linspace(0.5, 20, X.shape[1]) + 3.0   # scaling matters
    pipe = Pipeline([("scale", StandardScaler()), ("enet", ElasticNet())])
    search = HyperGradSearchCV(pipe, cv=4, max_iter=6).fit(X, y)
    assert set(search.best_params_) == {"enet__alpha", "enet__l1_ratio"}
    assert "param_enet__alpha" in search.cv_results_
    # GridSearchCV refits the scaler on every training fold: the same scores
    ref = _grid_results(Pipeline([("scale", StandardScaler()),
                                  ("enet", ElasticNet(tol=1e-12, max_iter=100_000))]),
                        search, X, y)
    for k in range(4):
        np.testing.assert_allclose(search.cv_results_[f"split{k}_test_score"],
                                   ref[f"split{k}_test_score"], rtol=1e-4)
    est = search.best_estimator_
    assert isinstance(est, Pipeline) and est is not pipe
    assert est.get_params()["enet__alpha"] == search.best_params_["enet__alpha"]
    np.testing.assert_allclose(search.predict(X), est.predict(X))


# -- classifiers -------------------------------------------------------------------------
@pytest.mark.parametrize("l1_ratio, names", [(1.0, {"C"}), (0.5, {"C", "l1_ratio"})])
def test_logistic_regression_string_labels(l1_ratio, names):
    X, y = _classification()
    clf = LogisticRegression(C=0.5, l1_ratio=l1_ratio, solver="saga", max_iter=5000)
    search = HyperGradSearchCV(clf, scoring="neg_log_loss", cv=3, max_iter=5).fit(X, y)
    assert set(search.best_params_) == names
    np.testing.assert_array_equal(search.classes_, ["no", "yes"])
    assert set(search.predict(X)) <= {"no", "yes"}
    assert search.predict_proba(X).shape == (X.shape[0], 2)
    np.testing.assert_allclose(search.decision_function(X),
                               search.best_estimator_.decision_function(X))
    assert search.best_score_ >= search.cv_results_["mean_test_score"][0]
    # C means what it means to sklearn on every fold (fitted on n_train samples)
    ref = _grid_results(LogisticRegression(l1_ratio=l1_ratio, solver="saga", tol=1e-10,
                                           max_iter=100_000), search, X, y)
    for k in range(3):
        np.testing.assert_allclose(search.cv_results_[f"split{k}_test_score"],
                                   ref[f"split{k}_test_score"], rtol=1e-3)
    assert search.score(X, y) == pytest.approx(search.scorer_(search.best_estimator_, X, y))


# -- delegation and refit=False ----------------------------------------------------------
def test_predict_and_score_delegate(enet_search):
    search, X, y = enet_search
    np.testing.assert_allclose(search.predict(X), search.best_estimator_.predict(X))
    # scoring=None: score is the estimator's own (R^2), as GridSearchCV's
    assert search.score(X, y) == pytest.approx(search.best_estimator_.score(X, y))
    assert not hasattr(search, "predict_proba") and not hasattr(search, "transform")
    assert is_regressor(search) and not is_classifier(search)
    restored = pickle.loads(pickle.dumps(search))
    np.testing.assert_allclose(restored.predict(X), search.predict(X))


def test_every_method_of_grid_search_delegates():
    """The methods ``GridSearchCV`` delegates, ``transform``, ``inverse_transform`` and
    ``score_samples`` too, on an estimator the search evaluates as ``GridSearchCV``
    (fitted without ``y``, which a searched estimator requires)."""
    from sklearn.decomposition import PCA

    X, _ = _regression(n=60, p=6)
    pipe = Pipeline([("scale", StandardScaler()), ("pca", PCA())])
    grid = {"pca__n_components": [2, 3]}
    with pytest.warns(UserWarning, match="evaluated as GridSearchCV"):
        search = HyperGradSearchCV(pipe, grid, cv=3).fit(X)
    reference = GridSearchCV(pipe, grid, cv=3).fit(X)
    for name in ("transform", "inverse_transform", "score_samples"):
        data = search.transform(X) if name == "inverse_transform" else X
        np.testing.assert_allclose(getattr(search, name)(data),
                                   getattr(reference, name)(data), rtol=1e-10)
    assert not hasattr(HyperGradSearchCV(Lasso()), "inverse_transform")
    with pytest.raises(ValueError, match="^Lasso requires y to be passed"):
        HyperGradSearchCV(Lasso(), {"alpha": [0.1, 1.0]}).fit(X)


def test_refit_false():
    X, y = _regression(n=60, p=8)
    search = HyperGradSearchCV(Lasso(alpha=0.1), refit=False, max_iter=0,
                               init="estimator").fit(X, y)
    assert search.best_params_ == pytest.approx({"alpha": 0.1})   # only the start
    assert search.best_index_ == 0 and len(search.cv_results_["params"]) == 1
    assert not hasattr(search, "best_estimator_")
    assert not hasattr(search, "predict") and not hasattr(search, "n_features_in_")
    with pytest.raises(AttributeError, match="refit=False"):
        search.score(X, y)


# -- parameters --------------------------------------------------------------------------
@pytest.mark.parametrize("scoring, refit, match", [
    ("not_a_scorer", True, "'scoring' parameter of HyperGradSearchCV must be"),
    ([], True, "at least one"),
    (["r2", "r2"], True, "distinct"),
    ({"a": 3}, True, "scorer name or a callable"),
    (["r2", "neg_mean_squared_error"], True, "refit must be a key of scoring"),
    (["r2", "neg_mean_squared_error"], "mae", "refit must be a key of scoring"),
])
def test_bad_scoring_raises(scoring, refit, match):
    X, y = _regression(n=40, p=5)
    with pytest.raises(ValueError, match=match):
        HyperGradSearchCV(Lasso(), scoring=scoring, refit=refit, max_iter=0).fit(X, y)


@pytest.mark.parametrize("estimator", [
    Lars(), NuSVC(), LogisticRegression(C=np.inf),
    Pipeline([("scale", StandardScaler()), ("lars", Lars())]),
], ids=["lars", "nusvc", "logreg-unpenalized", "pipeline-lars"])
def test_unsupported_estimator_raises(estimator):
    X, y = _classification(n=40, p=4)
    y = (y == "yes").astype(float)
    with pytest.raises(ValueError, match="[Ee]stimator"):
        HyperGradSearchCV(estimator).fit(X, y)


def test_flat_start_warns_and_moves():
    X, y = _regression(n=60, p=8)
    with pytest.warns(UserWarning, match="zeroes every coefficient"):
        search = HyperGradSearchCV(Lasso(alpha=1e3), max_iter=5, init="estimator").fit(X, y)
    assert search.cv_results_["param_alpha"][0] < 1e3
    assert search.best_score_ > search.cv_results_["mean_test_score"][0]


def test_bounds_callback_groups():
    X, y = _regression(n=60, p=8)
    seen = []

    def callback(entry):
        seen.append(entry["params"])
        return len(seen) == 3

    groups = np.arange(60) % 6
    search = HyperGradSearchCV(Lasso(alpha=0.3), bounds=(0.01, 0.2), cv=GroupKFold(3),
                               callback=callback, max_iter=20)
    search.fit(X, y, groups=groups)
    alphas = search.cv_results_["param_alpha"]
    assert len(alphas) == 3 and seen == search.cv_results_["params"]
    assert np.all((alphas >= 0.01 - 1e-12) & (alphas <= 0.2 + 1e-12))
    assert search.n_splits_ == 3
    assert clone(search).get_params()["bounds"] == (0.01, 0.2)


def test_verbose_lines_name_the_hyperparameters_and_start_with_the_scan(capsys):
    """verbose=1: the scan's start (before any solve), its best point, each descent step
    and the result, in the estimator's names with the elapsed time; verbose=2 adds each
    scan point. No private name appears."""
    from sklearn.datasets import load_diabetes

    from skhypergrad import ElasticNetHyperGrad

    X, y = load_diabetes(return_X_y=True)
    est = ElasticNetHyperGrad(verbose=1, max_iter=3).fit(X, y)
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("[ElasticNetHyperGrad] scan of up to")
    assert "scan done" in lines[1] and "alpha=" in lines[1] and "l1_ratio=" in lines[1]
    assert lines[-1].startswith("[ElasticNetHyperGrad] done")
    assert f"alpha={est.alpha_:.4g}" in lines[-1]
    assert all(line.rstrip().endswith(" s)") for line in lines)
    assert not any("CrossVal" in line or "PreparedFolds" in line for line in lines)
    HyperGradSearchCV(ElasticNet(), verbose=2, max_iter=2).fit(X, y)
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("[HyperGradSearchCV] 5 folds; descending the -CV R2")
    assert lines[2].startswith("[HyperGradSearchCV] scan 1/")
    assert sum("] scan " in line and "/" in line for line in lines) >= 5


def test_splits_as_lists_masks_or_negative_indices_select_the_same_rows():
    """A ``cv`` of ``(train, test)`` pairs given as lists, boolean masks or negative
    indices selects the rows ``GridSearchCV`` indexes with them: the same rows, the same
    scores as the index arrays (a mask was read as row numbers 0 and 1, or raised); a
    ``cv`` without a split raises a ValueError, as ``GridSearchCV``'s."""
    from sklearn.model_selection import KFold

    from skhypergrad import LassoHyperGrad

    X, y = _regression(n=60, p=8)
    splits = list(KFold(3, shuffle=True, random_state=0).split(X))
    rows = np.arange(60)
    forms = {"lists": [(list(a), list(b)) for a, b in splits],
             "masks": [(np.isin(rows, a), np.isin(rows, b)) for a, b in splits],
             "negative": [(a - 60, b - 60) for a, b in splits]}
    grid = {"alpha": [1e-3, 1.0]}
    ref = HyperGradSearchCV(Lasso(), grid, cv=splits, max_iter=3).fit(X, y)
    ref_est = LassoHyperGrad(cv=splits, max_iter=3).fit(X, y)
    grid_ref = GridSearchCV(Lasso(), {"alpha": ref.cv_results_["param_alpha"][:3].data},
                            cv=splits).fit(X, y)
    for name, cv in forms.items():
        search = HyperGradSearchCV(Lasso(), grid, cv=cv, max_iter=3).fit(X, y)
        np.testing.assert_array_equal(search.cv_results_["mean_test_score"],
                                      ref.cv_results_["mean_test_score"], err_msg=name)
        assert LassoHyperGrad(cv=cv, max_iter=3).fit(X, y).alpha_ == ref_est.alpha_, name
        scores = GridSearchCV(Lasso(), {"alpha": ref.cv_results_["param_alpha"][:3].data},
                              cv=cv).fit(X, y).cv_results_["mean_test_score"]
        np.testing.assert_array_equal(scores, grid_ref.cv_results_["mean_test_score"])
    np.testing.assert_allclose(ref.cv_results_["mean_test_score"][:3],
                               grid_ref.cv_results_["mean_test_score"], rtol=1e-6)
    for est in (HyperGradSearchCV(Lasso(), grid, cv=[]), HyperGradSearchCV(Lasso(), cv=[]),
                LassoHyperGrad(cv=[])):
        with pytest.raises(ValueError, match="no split"):
            est.fit(X, y)


def test_refinement_stops_on_a_plateau_after_its_first_round():
    """``polish`` with ``plateau_stop``: a first round (a quarter decade each way) that
    finds the best score again and nothing better ends the refinement (2 evaluations,
    not the budget of 6); a better point found goes on as before."""
    from skhypergrad._scoring import polish

    bounds = (np.array([1e-3]), np.array([1e3]))

    def run(score, stop):
        thetas = []

        def evaluate(lam):
            thetas.append(float(np.log(lam[0])))
            return {"lam": np.asarray(lam, dtype=np.float64), "s": score(thetas[-1])}
        history = [{"lam": np.array([1.0]), "s": score(0.0)}]
        polish(evaluate, history, lambda h: h["s"], bounds, 6, plateau_stop=stop)
        return thetas, max(h["s"] for h in history)

    plateau = lambda t: 1.0 if abs(t) < 1.0 else 0.5  # noqa: E731
    assert len(run(plateau, False)[0]) == 6
    thetas, best = run(plateau, True)
    np.testing.assert_allclose(thetas, [np.log(10) / 4, -np.log(10) / 4])
    assert best == 1.0
    slope = lambda t: -abs(t - 1.0)  # noqa: E731
    thetas, best = run(slope, True)
    assert len(thetas) == 6 and best > -0.2
