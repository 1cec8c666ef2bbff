"""HyperGradSearchCV on the dual models (KernelRidge, SVR, LinearSVR, SVC) with scikit-learn's
scorers and sample weights: cv_results_ in GridSearchCV's format, its rows GridSearchCV's
scores at the same parameters."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_iris
from sklearn.kernel_ridge import KernelRidge
from sklearn.metrics import make_scorer, mean_absolute_error
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold
from sklearn.svm import SVC, SVR, LinearSVR

from skhypergrad import HyperGradSearchCV


def _data(n=45, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, 3)
    return X, np.sin(X[:, 0]) + 0.5 * X[:, 1] + 0.1 * rng.randn(n)


def _grid_at(estimator, params, cv, X, y, **kwargs):
    return GridSearchCV(estimator, {k: [v] for k, v in params.items()}, cv=cv,
                        **kwargs).fit(X, y).cv_results_


#: (estimator, its reference for GridSearchCV, tolerance, rows compared: the best one
#: too except for LinearSVR, whose liblinear does not converge at the large C chosen;
#: the reference and tolerance of the scan's rows when its solutions are not exact: the
#: SVR's stop at libsvm's KKT violation 1e-3, as the default SVR of a GridSearchCV, where
#: SMO's and libsvm's iterates differ)
REGRESSORS = [(KernelRidge(kernel="rbf"), KernelRidge(kernel="rbf"), 1e-8, True, None),
              (SVR(), SVR(tol=1e-10), 1e-6, True, (SVR(), 1e-3)),
              (LinearSVR(), LinearSVR(tol=1e-12, max_iter=1_000_000, random_state=0), 1e-6,
               False, None)]


@pytest.mark.parametrize("estimator, reference, rtol, best, scan", REGRESSORS)
def test_multimetric_rows_are_gridsearchcvs(estimator, reference, rtol, best, scan):
    """Several metrics with refit by name: GridSearchCV's keys, and the split scores of the
    first row (and of the best) are GridSearchCV's at those parameters."""
    X, y = _data()
    cv = KFold(3, shuffle=True, random_state=0)
    scoring = {"r2": "r2", "mae": "neg_mean_absolute_error"}
    search = HyperGradSearchCV(estimator, cv=cv, scoring=scoring, refit="mae", max_iter=3,
                               return_train_score=True).fit(X, y)
    res = search.cv_results_
    assert search.multimetric_ and isinstance(search.best_estimator_, type(estimator))
    for i in (0, search.best_index_) if best else (0,):
        ref_est, tol = scan if scan is not None and res["phase"][i] == "scan" else \
            (reference, rtol)
        ref = _grid_at(ref_est, res["params"][i], cv, X, y, scoring=scoring, refit="mae",
                       return_train_score=True)
        assert set(ref) <= set(res)
        for key in ref:
            if key.startswith(("split", "mean_t", "std_t")) and "time" not in key:
                np.testing.assert_allclose(res[key][i], ref[key][0], rtol=tol, atol=tol,
                                           err_msg=key)
    assert search.best_index_ == int(np.argmax(res["mean_test_mae"]))
    assert search.best_score_ == res["mean_test_mae"][search.best_index_]


def test_r2_is_descended_exactly():
    """scoring="r2" (and None: the regressor's score): the descended criterion is minus the
    mean R² (the per-fold map of the MSE), and the rows are GridSearchCV's."""
    X, y = _data()
    cv = KFold(3, shuffle=True, random_state=0)
    for scoring in ("r2", None):
        search = HyperGradSearchCV(KernelRidge(kernel="rbf"), cv=cv, scoring=scoring,
                                   max_iter=5).fit(X, y)
        res = search.cv_results_
        np.testing.assert_allclose(res["mean_test_loss"], -res["mean_test_score"],
                                   rtol=1e-10)
        ref = _grid_at(KernelRidge(kernel="rbf"), search.best_params_, cv, X, y,
                       scoring=scoring)
        assert search.best_score_ == pytest.approx(ref["mean_test_score"][0], rel=1e-8)


def test_callable_scorer_and_refit_on_svc():
    """SVC: a callable scorer ranks the points its surrogate descent visits, a callable
    refit picks the row; the rows are GridSearchCV's."""
    X, y = load_iris(return_X_y=True)
    X, y = X[::3], y[::3]
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    scoring = {"acc": "accuracy", "f1": "f1_macro"}

    def refit(results):
        return int(np.argmax(results["mean_test_f1"]))

    search = HyperGradSearchCV(SVC(), cv=cv, scoring=scoring, refit=refit,
                               max_iter=1).fit(X, y)
    res = search.cv_results_
    assert search.best_index_ == refit(res) and not hasattr(search, "best_score_")
    ref = _grid_at(SVC(tol=1e-10), search.best_params_, cv, X, y, scoring=scoring,
                   refit="acc")
    for key in ("split0_test_acc", "split1_test_f1", "mean_test_f1"):
        assert res[key][search.best_index_] == pytest.approx(ref[key][0], abs=1e-12)
    # a callable scorer, decision_function based (multiclass "ovr" shape)
    X2, y2 = X[y != 2], y[y != 2]
    search = HyperGradSearchCV(SVC(), cv=cv, scoring="roc_auc", max_iter=1).fit(X2, y2)
    ref = _grid_at(SVC(tol=1e-10), search.best_params_, cv, X2, y2, scoring="roc_auc")
    assert search.best_score_ == pytest.approx(ref["mean_test_score"][0], rel=1e-8)


def test_mae_callable_scorer_on_svr():
    X, y = _data()
    cv = KFold(3, shuffle=True, random_state=0)
    mae = make_scorer(mean_absolute_error, greater_is_better=False)
    search = HyperGradSearchCV(SVR(), cv=cv, scoring=mae, max_iter=3).fit(X, y)
    ref = _grid_at(SVR(tol=1e-10), search.best_params_, cv, X, y, scoring=mae)
    assert search.best_score_ == pytest.approx(ref["mean_test_score"][0], rel=1e-5)


@pytest.mark.parametrize("estimator, reference", [
    (KernelRidge(kernel="rbf"), KernelRidge(kernel="rbf")), (SVR(), SVR(tol=1e-10)),
    (LinearSVR(), LinearSVR(tol=1e-12, max_iter=1_000_000, random_state=0))])
def test_sample_weight_trains_and_scores_every_fold(estimator, reference):
    """sample_weight weighs each fold's training loss (KernelRidge's; SVR's bounds C w_i;
    LinearSVR's) and its held-out squared errors: a row is the mean over folds of the
    weighted MSE of the reference trained with the fold's weights; the refit gets them.
    The row compared is the best one, for LinearSVR that of the smallest ``C`` (at the
    best point, C = 5.9, liblinear stops on one fold at twice the objective of the exact
    solution, which the row's score is to 1e-6: checked against a QP solver)."""
    X, y = _data()
    w = np.random.RandomState(3).uniform(0.5, 2.0, y.shape[0])
    cv = KFold(3, shuffle=True, random_state=0)
    search = HyperGradSearchCV(estimator, cv=cv, scoring="neg_mean_squared_error",
                               max_iter=3).fit(X, y, sample_weight=w)
    results = search.cv_results_
    row = int(np.argmin(results["param_C"])) if isinstance(estimator, LinearSVR) else \
        search.best_index_
    est = reference.set_params(**results["params"][row])
    scores = []
    for train, test in cv.split(X):
        pred = est.fit(X[train], y[train], sample_weight=w[train]).predict(X[test])
        scores.append(-np.average((pred - y[test]) ** 2, weights=w[test]))
    assert results["mean_test_score"][row] == pytest.approx(np.mean(scores), rel=1e-5)
    assert search.best_estimator_.get_params() == \
        clone(estimator).set_params(**search.best_params_).get_params()
    if not isinstance(estimator, LinearSVR):  # liblinear's order of the coordinates is random
        refit = clone(estimator).set_params(**search.best_params_).fit(X, y, sample_weight=w)
        np.testing.assert_allclose(search.predict(X[:5]), refit.predict(X[:5]), rtol=1e-12)



@pytest.mark.parametrize("estimator", [KernelRidge(kernel="rbf"), LinearSVR(),
                                       SVC()], ids=["krr", "linear_svr", "svc"])
def test_callback_and_verbose_as_for_the_linear_models(estimator, capsys):
    """``callback`` gets every entry with its ``params`` in the estimator's names, and its
    True stops the search there; ``verbose=1`` prints the start and the descent's steps,
    ``verbose=2`` the scan's points too."""
    X, y = _data()
    if isinstance(estimator, SVC):
        y = (y > np.median(y)).astype(int)
    seen = []

    def callback(entry):
        seen.append(entry)
        return len(seen) == 3

    search = HyperGradSearchCV(estimator, cv=3, callback=callback).fit(X, y)
    assert len(search.cv_results_["params"]) == len(seen) == 3
    assert [e["params"] for e in seen] == search.cv_results_["params"]
    np.testing.assert_array_equal([e["value"] for e in seen],
                                  search.cv_results_["mean_test_loss"])
    capsys.readouterr()
    search = HyperGradSearchCV(estimator, cv=3, verbose=2, max_iter=2).fit(X, y)
    out = capsys.readouterr().out
    assert out.startswith("[HyperGradSearchCV] 3 folds")
    assert out.count(" scan ") + out.count(" evaluation ") + out.count("refine") == \
        len(search.cv_results_["params"])
    HyperGradSearchCV(estimator, cv=3, verbose=1, max_iter=2).fit(X, y)
    assert " scan " not in capsys.readouterr().out


def test_dataframe_with_strings_through_a_pipeline(recwarn):
    """A pipeline's preprocessing takes what ``GridSearchCV`` would give it (a DataFrame
    with a column of strings, one-hot encoded): the rows are ``GridSearchCV``'s, and the
    refit keeps the DataFrame's feature names, with or without a pipeline."""
    pd = pytest.importorskip("pandas")
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    X, y = _data()
    frame = pd.DataFrame(X, columns=["a", "b", "c"]).assign(
        kind=np.where(X[:, 2] > 0, "up", "down"))
    pipe = Pipeline([("ct", ColumnTransformer([("cat", OneHotEncoder(), ["kind"])],
                                              remainder=StandardScaler())),
                     ("krr", KernelRidge(kernel="rbf"))])
    cv = KFold(3, shuffle=True, random_state=0)
    search = HyperGradSearchCV(pipe, cv=cv, max_iter=2).fit(frame, y)
    ref = _grid_at(pipe, search.best_params_, cv, frame, y)
    assert search.best_score_ == pytest.approx(ref["mean_test_score"][0], rel=1e-8)
    assert list(search.feature_names_in_) == list(frame.columns)
    plain = HyperGradSearchCV(KernelRidge(kernel="rbf"), cv=cv, max_iter=2)
    plain.fit(frame[["a", "b"]], y)
    assert list(plain.feature_names_in_) == ["a", "b"]
    plain.predict(frame[["a", "b"]])
    assert not [w for w in recwarn if "feature names" in str(w.message)]


def test_descent_stall_counts_evaluations_after_the_first():
    """The kernel searches' stall rule ``(patience, rtol)``: the first evaluation sets the
    best (it counted as a stall: against the infinite starting best the margin was nan,
    so ``patience`` 3 stopped after 2 new evaluations); then ``patience`` evaluations in a
    row that do not lower the best by ``rtol`` stop the descent."""
    from skhypergrad._kernel_search import _Stall

    stall = _Stall((3, 1e-3))
    assert [stall({"value": v}) for v in (10.0, 9.999, 9.998, 9.997)] == \
        [False, False, False, True]
    stall = _Stall((3, 1e-3))
    assert [stall({"value": v}) for v in (10.0, 9.0, 8.995, 8.99, 8.0)] == \
        [False, False, False, False, False]
    assert not any(_Stall(None)({"value": v}) for v in (1.0, 1.0, 1.0, 1.0))
