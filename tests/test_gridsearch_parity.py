"""GridSearchCV parity: the calls scikit-learn users write, with HyperGradSearchCV.

Protects :mod:`skhypergrad._scoring` and the scoring of
:class:`~skhypergrad.model_selection.HyperGradSearchCV`: every ``scoring`` /
``refit`` GridSearchCV takes (a name, a callable, a list, a dict, ``make_scorer``;
``refit`` a bool, a name or a callable) runs; where a grid is natural the search
lands, by the user's scorer on the same folds, within 0.5% of a GridSearchCV over 20
values per tuned parameter; its rows are the scores GridSearchCV records at the same
parameters; the scorers followed exactly give hypergradients that match central
finite differences of the scorer's own CV value; ``score()``, ``error_score``,
``return_train_score`` and ``verbose`` behave as GridSearchCV's.
"""

import warnings

import numpy as np
import pytest
from joblib import parallel_config
from sklearn import config_context
from sklearn.datasets import load_iris, make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import (ElasticNet, Lasso, LogisticRegression, PoissonRegressor)
from sklearn.metrics import (accuracy_score, get_scorer, make_scorer, mean_absolute_error)
from sklearn.model_selection import (GridSearchCV, KFold, StratifiedKFold, cross_val_score)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVR
from threadpoolctl import threadpool_limits

from skhypergrad import LogisticRegressionHyperGrad
from skhypergrad._base import default_solver
from skhypergrad._prepared_folds import PreparedFolds, prepare_fold
from skhypergrad._scoring import FoldTransform, transform_power
from skhypergrad.hypergrad import get_engine
from skhypergrad.model_selection import HyperGradSearchCV
from skhypergrad.models import from_estimator

from _data import log_lam_finite_differences

#: the parity tolerance of the issue: within 0.5% of the grid's best CV score
PARITY = 0.005
CV = KFold(5, shuffle=True, random_state=0)
SCV = StratifiedKFold(5, shuffle=True, random_state=0)


def _regression(n=150, p=20, seed=0):
    X, y = make_regression(n, p, n_informative=8, noise=15.0, random_state=seed)
    return StandardScaler().fit_transform(X), y


def _classification(n=150, p=20, seed=0):
    X, y = make_classification(n, p, n_informative=5, random_state=seed)
    return StandardScaler().fit_transform(X), y


def _alpha_max(X, y):
    return float(np.max(np.abs(X.T @ (y - y.mean()))) / X.shape[0])


def _lasso_grid(X, y):
    return {"alpha": _alpha_max(X, y) * np.logspace(-3, 0, 20)}


def _logistic(tol=1e-6):
    return LogisticRegression(l1_ratio=1.0, solver="saga", tol=tol, max_iter=100_000)


_C_GRID = {"C": np.logspace(-2, 1, 20)}


def _lands(search, grid, key="score", grid_key=None):
    """The search's best CV score is within PARITY of the grid's best (greater is
    better); ``grid_key``: the grid's metric, when it differs."""
    ours = search.cv_results_[f"mean_test_{key}"][search.best_index_]
    theirs = np.max(grid.cv_results_[f"mean_test_{grid_key or key}"])
    assert ours >= theirs - PARITY * abs(theirs), (ours, theirs)
    return ours, theirs


#: the scorers of the issue's table, and the grid metric of each (None: R2 / accuracy)
_LASSO_SCORERS = ["r2", "neg_root_mean_squared_error", "neg_mean_absolute_error",
                  "neg_median_absolute_error"]
_LOGISTIC_SCORERS = ["accuracy", "roc_auc", "neg_log_loss", "neg_brier_score",
                     "balanced_accuracy", "f1"]


@pytest.fixture(scope="module")
def lasso_grid():
    """One GridSearchCV over 20 alphas recording every scorer of the table."""
    X, y = _regression()
    return GridSearchCV(Lasso(tol=1e-10, max_iter=100_000), _lasso_grid(X, y),
                        scoring=_LASSO_SCORERS, refit=False, cv=CV).fit(X, y)


@pytest.fixture(scope="module")
def logistic_grid():
    """One GridSearchCV over 20 C recording every scorer of the table."""
    X, y = _classification()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return GridSearchCV(_logistic(), _C_GRID, scoring=_LOGISTIC_SCORERS, refit=False,
                            cv=SCV).fit(X, y)


def _honest(search, estimator, X, y, cv, scoring, key="score", rtol=1e-5):
    """The best row's score is scikit-learn's own CV score at best_params_ (same folds)."""
    again = cross_val_score(estimator.set_params(**search.best_params_), X, y, cv=cv,
                            scoring=scoring).mean()
    assert search.cv_results_[f"mean_test_{key}"][search.best_index_] == \
        pytest.approx(again, rel=rtol, abs=1e-9)


# -- the table: single scorers on Lasso / ElasticNet / LogisticRegression ---------
@pytest.mark.parametrize("scoring", _LASSO_SCORERS + [None])
def test_lasso_scorers_land_on_the_grid(scoring, lasso_grid):
    X, y = _regression()
    search = HyperGradSearchCV(Lasso(), scoring=scoring, cv=CV).fit(X, y)
    _lands(search, lasso_grid, grid_key=scoring or "r2")
    _honest(search, Lasso(tol=1e-12, max_iter=100_000), X, y, CV, scoring)
    assert search.best_score_ == search.cv_results_["mean_test_score"][search.best_index_]
    # score() is the refit scorer's (None: the estimator's own R^2), as GridSearchCV's
    scorer = get_scorer(scoring) if scoring else (lambda est, X, y: est.score(X, y))
    assert search.score(X, y) == pytest.approx(scorer(search.best_estimator_, X, y))


def test_elastic_net_r2_lands_on_a_20x20_grid():
    X, y = _regression()
    cv = KFold(3, shuffle=True, random_state=0)
    search = HyperGradSearchCV(ElasticNet(), scoring="r2", cv=cv).fit(X, y)
    grid = GridSearchCV(ElasticNet(tol=1e-8, max_iter=100_000),
                        {"alpha": _alpha_max(X, y) * np.logspace(-3, 1, 20),
                         "l1_ratio": np.linspace(0.05, 1.0, 20)},
                        scoring="r2", cv=cv).fit(X, y)
    _lands(search, grid)
    _honest(search, ElasticNet(tol=1e-12, max_iter=100_000), X, y, cv, "r2")


@pytest.mark.parametrize("scoring", _LOGISTIC_SCORERS)
def test_logistic_scorers_land_on_the_grid(scoring, logistic_grid):
    X, y = _classification()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search = HyperGradSearchCV(_logistic(), scoring=scoring, cv=SCV).fit(X, y)
    _lands(search, logistic_grid, grid_key=scoring)
    _honest(search, _logistic(1e-12), X, y, SCV, scoring, rtol=1e-4)
    assert search.score(X, y) == pytest.approx(
        get_scorer(scoring)(search.best_estimator_, X, y))


def test_rows_are_grid_search_rows():
    """Every row of a surrogate search is GridSearchCV's row at its parameters (each fold's
    ROC AUC of the model the search solved, no extra fit)."""
    X, y = _classification(n=120, p=10)
    search = HyperGradSearchCV(_logistic(), scoring="roc_auc", cv=SCV, max_iter=3,
                               return_train_score=True).fit(X, y)
    rows = [{"C": [p["C"]]} for p in search.cv_results_["params"][:4]]
    ref = GridSearchCV(_logistic(1e-12), rows, scoring="roc_auc", cv=SCV,
                       return_train_score=True).fit(X, y).cv_results_
    for k in range(5):
        for part in ("test", "train"):
            np.testing.assert_allclose(search.cv_results_[f"split{k}_{part}_score"][:4],
                                       ref[f"split{k}_{part}_score"], rtol=1e-6)


# -- multi-metric, refit by name or callable, make_scorer, callables -----------------------
def test_multimetric_list_refit_by_name():
    X, y = _regression()
    scoring = ["r2", "neg_mean_squared_error"]
    search = HyperGradSearchCV(Lasso(), scoring=scoring, refit="r2", cv=CV,
                               return_train_score=True).fit(X, y)
    grid = GridSearchCV(Lasso(tol=1e-10, max_iter=100_000), _lasso_grid(X, y),
                        scoring=scoring, refit="r2", cv=CV, return_train_score=True).fit(X, y)
    assert search.multimetric_ and isinstance(search.scorer_, dict)
    assert [k for k in search.cv_results_ if "time" not in k and "param" not in k] == \
        [k for k in grid.cv_results_ if "time" not in k and "param" not in k]
    _lands(search, grid, "r2")
    assert search.best_score_ == search.cv_results_["mean_test_r2"][search.best_index_]
    assert search.score(X, y) == pytest.approx(search.best_estimator_.score(X, y))


def test_multimetric_dict_with_make_scorer():
    """scikit-learn's user guide: a dict of a name and a ``make_scorer``, refit by one key."""
    X, y = _regression()
    scoring = {"mae": make_scorer(mean_absolute_error, greater_is_better=False),
               "r2": "r2"}
    search = HyperGradSearchCV(Lasso(), scoring=scoring, refit="mae", cv=CV).fit(X, y)
    grid = GridSearchCV(Lasso(tol=1e-10, max_iter=100_000), _lasso_grid(X, y),
                        scoring=scoring, refit="mae", cv=CV).fit(X, y)
    _lands(search, grid, "mae")
    assert search.best_index_ == np.argmin(search.cv_results_["rank_test_mae"])
    assert search.score(X, y) == pytest.approx(
        -mean_absolute_error(y, search.best_estimator_.predict(X)))


def test_multimetric_classifier_auc_and_accuracy():
    """scikit-learn's multi-metric example: ``{"AUC": "roc_auc", "Accuracy":
    make_scorer(accuracy_score)}``, refit="AUC"."""
    X, y = _classification()
    scoring = {"AUC": "roc_auc", "Accuracy": make_scorer(accuracy_score)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search = HyperGradSearchCV(_logistic(), scoring=scoring, refit="AUC",
                                   cv=SCV).fit(X, y)
        grid = GridSearchCV(_logistic(), _C_GRID, scoring=scoring, refit="AUC",
                            cv=SCV).fit(X, y)
    _lands(search, grid, "AUC")
    assert {"mean_test_AUC", "rank_test_Accuracy", "split4_test_Accuracy"} <= \
        set(search.cv_results_)


def _simplest_within_one_std(cv_results):
    """The user guide's refit callable: the strongest regularization whose mean R^2 is
    within one standard deviation of the best."""
    mean, std = cv_results["mean_test_r2"], cv_results["std_test_r2"]
    best = np.argmax(mean)
    ok = np.flatnonzero(mean >= mean[best] - std[best])
    alphas = np.array([p["alpha"] for p in cv_results["params"]])
    return int(ok[np.argmax(alphas[ok])])


def test_refit_callable_picks_the_index_it_returns():
    X, y = _regression()
    search = HyperGradSearchCV(Lasso(), scoring=["r2", "neg_mean_absolute_error"],
                               refit=_simplest_within_one_std, cv=CV).fit(X, y)
    assert search.best_index_ == _simplest_within_one_std(search.cv_results_)
    assert search.best_params_ == search.cv_results_["params"][search.best_index_]
    assert search.best_estimator_.alpha == search.best_params_["alpha"]
    # as GridSearchCV: no best_score_ with a callable refit
    grid = GridSearchCV(Lasso(), {"alpha": [0.1, 1.0]}, scoring=["r2"],
                        refit=_simplest_within_one_std, cv=CV).fit(X, y)
    assert not hasattr(grid, "best_score_") and not hasattr(search, "best_score_")
    with pytest.raises(IndexError, match="out of the"):
        HyperGradSearchCV(Lasso(), scoring="r2", refit=lambda r: 10_000, cv=CV,
                          max_iter=0).fit(X, y)


def test_refit_name_with_a_single_metric_is_true():
    """As GridSearchCV: with one metric, a name as ``refit`` refits by that metric."""
    X, y = _regression(n=80, p=8)
    search = HyperGradSearchCV(Lasso(), scoring="r2", refit="r2", cv=CV, max_iter=1).fit(X, y)
    grid = GridSearchCV(Lasso(), {"alpha": [0.1, 1.0]}, scoring="r2", refit="r2", cv=CV)
    assert hasattr(grid.fit(X, y), "best_estimator_") and hasattr(search, "best_estimator_")
    assert search.score(X, y) == pytest.approx(search.best_estimator_.score(X, y))


def test_refit_false_multimetric_has_no_best():
    X, y = _regression(n=80, p=8)
    search = HyperGradSearchCV(Lasso(), scoring=["r2", "neg_mean_absolute_error"],
                               refit=False, cv=CV, max_iter=2).fit(X, y)
    assert "mean_test_r2" in search.cv_results_
    assert not hasattr(search, "best_index_") and not hasattr(search, "best_estimator_")


def test_plain_callable_scorer():
    X, y = _regression()

    def within_10(estimator, X, y):
        return float(np.mean(np.abs(estimator.predict(X) - y) < 10.0))

    search = HyperGradSearchCV(make_pipeline(StandardScaler(), Lasso()), scoring=within_10,
                               cv=CV).fit(X, y)
    assert 0 < search.best_score_ <= 1
    assert search.best_score_ == pytest.approx(cross_val_score(
        make_pipeline(StandardScaler(), Lasso(tol=1e-12)).set_params(**search.best_params_),
        X, y, cv=CV, scoring=within_10).mean())


# -- the search's own options ---------------------------------------------------------------
def test_error_score_for_a_failing_scorer():
    X, y = _regression(n=80, p=8)

    def fails(estimator, X, y):
        raise RuntimeError("no score here")

    with pytest.warns(UserWarning, match="Scoring 'broken' failed"):
        search = HyperGradSearchCV(Lasso(), scoring={"r2": "r2", "broken": fails}, refit="r2",
                                   error_score=-1.0, cv=CV, max_iter=1).fit(X, y)
    assert np.all(search.cv_results_["mean_test_broken"] == -1.0)
    with pytest.raises(RuntimeError, match="no score here"):
        HyperGradSearchCV(Lasso(), scoring=fails, error_score="raise", cv=CV,
                          max_iter=0).fit(X, y)


def test_pre_dispatch_and_verbose_levels(capsys):
    X, y = _regression(n=80, p=8)
    with parallel_config(backend="threading"):
        HyperGradSearchCV(Lasso(), scoring="neg_mean_absolute_error", cv=3, n_jobs=2,
                          pre_dispatch=2, verbose=3, max_iter=1).fit(X, y)
    out = capsys.readouterr().out
    assert "fold 3/3  score=" in out and "(surrogate)" in out and "alpha=" in out
    HyperGradSearchCV(Lasso(), scoring="r2", cv=3, verbose=1, max_iter=1).fit(X, y)
    out = capsys.readouterr().out
    assert "fold 1/3" not in out and "-CV R2" in out and "3 folds; descending" in out


def test_progress_names_the_descended_brier_score_of_several_classes(capsys):
    """Three classes scored by ``neg_brier_score``: the search descends the multinomial
    Brier score exactly and says so (not the log-loss)."""
    X, y = load_iris(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # (the refit's lbfgs)
        HyperGradSearchCV(LogisticRegression(), scoring="neg_brier_score", cv=3, verbose=1,
                          max_iter=1).fit(X, y)
    assert "descending the CV Brier score" in capsys.readouterr().out


# -- the estimators' scoring ----------------------------------------------------------------
@pytest.mark.parametrize("scoring", ["roc_auc", "accuracy", "neg_brier_score"])
def test_logistic_regression_hypergrad_scoring(scoring):
    """As LogisticRegressionCV: the points are scored by ``scoring`` on the folds and the
    best mean score chosen; it is scikit-learn's CV score of the model there."""
    X, y = _classification()
    est = LogisticRegressionHyperGrad(scoring=scoring, cv=SCV).fit(X, y)
    best = max(est.history_, key=lambda h: h["score"])
    assert est.best_score_ == best["score"] and est.C_ == pytest.approx(best["C"])
    # each fold is trained with C_ n / n_train (the normalized weight held fixed)
    again = cross_val_score(_logistic().set_params(C=est.C_ * 5 / 4, tol=1e-12), X, y,
                            cv=SCV, scoring=scoring).mean()
    assert est.best_score_ == pytest.approx(again, rel=1e-4)
    C_fold = est.C_ * 5 / 4
    grid = GridSearchCV(_logistic(), {"C": C_fold * np.logspace(-1, 1, 20)}, cv=SCV,
                        scoring=scoring).fit(X, y)
    assert est.best_score_ >= grid.best_score_ - PARITY * abs(grid.best_score_)


# -- exact scorers: hypergradients of the scorer's own CV value ---------------------------
#: the exact scorers' (held-out loss, per-fold map) as the search picks them
_EXACT_CASES = {"r2": ("auto", "ratio"), "rmse": ("auto", "sqrt"), "d2": ("auto", "ratio"),
                "brier": ("brier", "identity"),
                "multiclass-brier": ("multinomial_brier", "identity"),
                "multitask-r2": ("multitask_r2", "shift")}


def _criterion(estimator, X, y, cv, case):
    splits = list(cv.split(X, y))
    classifier = case.endswith("brier")
    folds = [prepare_fold(None, X, y, tr, te, len(y) / len(tr) if classifier else 1.0)
             for tr, te in splits]
    loss, kind = _EXACT_CASES[case]
    power = transform_power("poisson", estimator) if case == "d2" else None
    return PreparedFolds(folds, loss=loss,
                         transform=FoldTransform(kind, [f.y_test for f in folds], power))


@pytest.mark.parametrize("case", list(_EXACT_CASES))
def test_exact_scorer_hypergradient_matches_finite_differences(case):
    """The criterion of an exact scorer is minus its CV value (scikit-learn's scorer on
    the same folds) and its hypergradient matches central differences of it; with
    three classes the Brier score sums over them, with three outputs R² averages
    theirs (``uniform_average``)."""
    from sklearn.linear_model import MultiTaskLasso

    if case.endswith("brier"):
        X, y = _classification(n=120, p=10) if case == "brier" else \
            make_classification(120, 10, n_informative=5, n_classes=3, random_state=0)
        est, params = _logistic(1e-12), lambda lam: {"C": 1.0 / (lam[0] * len(y))}
        lam, scoring, cv = np.array([0.02]), "neg_brier_score", SCV
    elif case == "multitask-r2":
        X, y = make_regression(100, 8, n_targets=3, noise=20.0, random_state=0)
        y = y * [1.0, 10.0, 0.1]  # outputs of different scales: R² is not the MSE's map
        est, params = MultiTaskLasso(tol=1e-14, max_iter=100_000), \
            lambda lam: {"alpha": lam[0]}
        lam, scoring, cv = np.array([30.0]), "r2", CV
    elif case == "d2":
        rng = np.random.default_rng(0)
        X = rng.standard_normal((120, 8))
        y = rng.poisson(np.exp(0.3 * X[:, 0] - 0.2 * X[:, 1] + 0.5)).astype(float)
        est, params = PoissonRegressor(solver="newton-cholesky", tol=1e-12), \
            lambda lam: {"alpha": lam[0]}
        lam, scoring, cv = np.array([0.01]), None, CV
    else:
        X, y = _regression(n=120, p=10)
        est, params = Lasso(tol=1e-14, max_iter=100_000), lambda lam: {"alpha": lam[0]}
        lam = np.array([0.5])
        scoring, cv = ("r2" if case == "r2" else "neg_root_mean_squared_error"), CV
    model = from_estimator(est, y)
    crit = _criterion(est, X, y, cv, case)
    solver = default_solver("auto", tol=1e-13, datafit=model.get_datafit())
    res = crit.value_and_grad(model, None, None, lam, solver=solver,
                              engine=get_engine("aid-cg"))
    score = cross_val_score(est.set_params(**params(lam)), X, y, cv=cv,
                            scoring=scoring).mean()
    assert res.value == pytest.approx(-score, rel=1e-6)
    fd = log_lam_finite_differences(crit, model, None, None, lam, solver, eps=1e-4)
    np.testing.assert_allclose(res.grad, fd, rtol=1e-4, atol=1e-9)


@pytest.mark.parametrize("case", ["multitask-r2", "multiclass-brier"])
def test_several_outputs_or_classes_follow_the_scorer(case):
    """R² of a multi-task model (averaged over the outputs) and the Brier score of three
    classes are descended exactly (not the surrogate); the search lands on a grid of 20
    values and its best row is scikit-learn's CV score there."""
    from sklearn.linear_model import MultiTaskLasso

    from skhypergrad._scoring import check_search_scoring

    if case == "multitask-r2":
        X, y = make_regression(80, 8, n_targets=3, noise=20.0, random_state=0)
        y = y * [1.0, 10.0, 0.1]
        est, ref, scoring, cv = MultiTaskLasso(), MultiTaskLasso(tol=1e-12, max_iter=10**5), \
            "r2", CV
        grid_est = MultiTaskLasso(tol=1e-8)
        plan = check_search_scoring(scoring, True, "squared", est, None, True)
        alpha_max = np.max(np.linalg.norm(X.T @ (y - y.mean(axis=0)), axis=1)) / len(y)
        grid = {"alpha": alpha_max * np.logspace(-3, 0, 20)}
    else:
        X, y = make_classification(120, 10, n_informative=5, n_classes=3, random_state=0)
        est, ref = LogisticRegression(), LogisticRegression(tol=1e-12, max_iter=10**4)
        scoring, cv, grid_est = "neg_brier_score", SCV, LogisticRegression()
        plan = check_search_scoring(scoring, True, "log", est, 3, False)
        grid = _C_GRID
    assert plan.exact and plan.loss == _EXACT_CASES[case][0]
    # one BLAS thread: lbfgs' small products spin on a busy machine
    with warnings.catch_warnings(), threadpool_limits(1):
        warnings.simplefilter("ignore", ConvergenceWarning)
        search = HyperGradSearchCV(est, scoring=scoring, cv=cv).fit(X, y)
        _lands(search, GridSearchCV(grid_est, grid, scoring=scoring, cv=cv).fit(X, y))
        _honest(search, ref, X, y, cv, scoring)


def _poisson_data(n=100, p=6):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, p))
    return X, rng.poisson(np.exp(0.3 * X[:, 0] + 0.5)).astype(float)


@pytest.mark.parametrize("case", ["multitask-r2", "poisson-d2", "poisson-mae",
                                  "svc-ovr-accuracy", "multinomial-accuracy"])
def test_rows_of_other_models_are_grid_search_rows(case):
    """The fold models the scorers see are the user's estimator's: for the multi-task,
    GLM, LinearSVC (penalized intercept, one-vs-rest) and multinomial models, the first
    rows are GridSearchCV's at their parameters (the GLM's to the user's tol)."""
    from sklearn.linear_model import MultiTaskLasso
    from sklearn.svm import LinearSVC

    scv = StratifiedKFold(4, shuffle=True, random_state=0)
    cv = KFold(4, shuffle=True, random_state=0)
    if case == "multitask-r2":
        X, y = make_regression(80, 10, n_targets=3, noise=5.0, random_state=0)
        est, ref, scoring = MultiTaskLasso(), MultiTaskLasso(tol=1e-12, max_iter=10**5), None
    elif case.startswith("poisson"):
        X, y = _poisson_data()
        scoring = None if case == "poisson-d2" else "neg_mean_absolute_error"
        est, ref = PoissonRegressor(), PoissonRegressor(solver="newton-cholesky", tol=1e-12)
    else:
        X, y = make_classification(120, 10, n_informative=4, n_classes=3, random_state=0)
        cv, scoring = scv, "accuracy"
        final = LinearSVC(dual=False, tol=1e-10, max_iter=10**5) if case.startswith("svc") \
            else _logistic(1e-12).set_params(l1_ratio=0.5)
        est = ref = make_pipeline(StandardScaler(), final)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search = HyperGradSearchCV(est, cv=cv, max_iter=2, scoring=scoring).fit(X, y)
        rows = [{k: [v] for k, v in p.items()} for p in search.cv_results_["params"][:3]]
        grid = GridSearchCV(ref, rows, cv=cv, scoring=scoring).fit(X, y).cv_results_
    # the GLM's first rows (its scan's) are solved to the user's tol (lbfgs's 1e-4):
    # equal to a tight grid to that accuracy (scikit-learn's own rows are off by up to
    # 1.2e-4 on poisson-d2, the search's by 1.6e-4; see test_glm)
    rtol = 5e-4 if case.startswith("poisson") else 1e-4
    np.testing.assert_allclose(search.cv_results_["mean_test_score"][:3],
                               grid["mean_test_score"], rtol=rtol)


def test_fold_scorer_failures_and_score_params():
    """A point whose held-out loss is not finite scores error_score (or raises); the
    scorers receive the fold's score parameters (e.g. its rows' sample weights)."""
    from skhypergrad._scoring import FoldScorer, FoldView
    from skhypergrad._search_results import failed as _failed

    scorers = {"a": get_scorer("r2"), "b": get_scorer("r2")}
    np.testing.assert_array_equal(FoldScorer(scorers, -5.0)(None, None, False, True),
                                  [-5.0] * 4)
    with pytest.raises(ValueError, match="not finite"):
        FoldScorer(scorers, "raise")(None, None, False, False)
    np.testing.assert_array_equal(_failed(np.array([[1.0, np.inf]]), -1.0), [[1.0, -1.0]])
    with pytest.raises(ValueError, match="not finite at 1 evaluated point"):
        _failed(np.array([[1.0, np.nan]]), "raise")
    X, y = _regression(n=40, p=3)
    template = Lasso().fit(X, y)
    weights = np.r_[np.ones(20), np.zeros(20)]
    view = FoldView(template, X, y, X, y, True, None, {"sample_weight": weights}, None)
    w = np.r_[template.coef_, template.intercept_]
    weighted = FoldScorer({"r2": get_scorer("r2")}, np.nan)(view, w, True, True)
    assert weighted[0] == pytest.approx(template.score(X[:20], y[:20]))
    assert weighted[1] == pytest.approx(template.score(X, y))


@pytest.mark.parametrize("make", [lambda: Lasso(), lambda: SVR()], ids=["Lasso", "SVR"])
def test_callable_scoring_of_several_metrics_is_refused(make):
    """A callable ``scoring`` returning a dict of metrics (which ``GridSearchCV`` records as
    several) raises a TypeError saying to give them as a dict of scorers, whatever
    ``error_score``, instead of recording every row as a failed score; the dict of
    scorers gives GridSearchCV's rows."""
    from sklearn.metrics import r2_score

    X, y = make_regression(60, 5, noise=10.0, random_state=0)

    def both(est, X, y):
        pred = est.predict(X)
        return {"r2": r2_score(y, pred), "mae": -mean_absolute_error(y, pred)}

    with pytest.raises(TypeError, match=r"dict of several metrics \(\['mae', 'r2'\]\)"):
        HyperGradSearchCV(make(), scoring=both, refit="r2", max_iter=2).fit(X, y)
    scoring = {"r2": lambda est, X, y: both(est, X, y)["r2"],
               "mae": lambda est, X, y: both(est, X, y)["mae"]}
    search = HyperGradSearchCV(make(), scoring=scoring, refit="r2", max_iter=2).fit(X, y)
    points = [{k: [v] for k, v in p.items()} for p in search.cv_results_["params"][:2]]
    grid = GridSearchCV(make(), points, scoring=both, refit="r2").fit(X, y).cv_results_
    for key in ("mean_test_r2", "mean_test_mae"):
        np.testing.assert_allclose(search.cv_results_[key][:2], grid[key], rtol=1e-3)


def test_best_index_and_score_are_the_numpy_scalars_of_gridsearchcv():
    """``best_index_`` and ``best_score_`` of the types GridSearchCV gives (``np.int64``,
    ``np.float64``: code written against GridSearchCV, e.g. ``np.issubdtype`` or JSON
    encoders told of NumPy types, runs unchanged), at the index and score of the row."""
    X, y = make_regression(60, 5, noise=1.0, random_state=0)
    grid = {"alpha": np.logspace(-2, 1, 4)}
    ours = HyperGradSearchCV(Lasso(), grid, cv=3).fit(X, y)
    theirs = GridSearchCV(Lasso(), grid, cv=3).fit(X, y)
    assert type(ours.best_index_) is type(theirs.best_index_) is np.int64
    assert type(ours.best_score_) is type(theirs.best_score_) is np.float64
    assert ours.best_score_ == ours.cv_results_["mean_test_score"][ours.best_index_]


@pytest.mark.parametrize("values, kind", [(np.logspace(-2, 1, 4), np.float64),
                                          ([0.01, 0.1, 1.0, 10.0], float),
                                          ([1, 10], float)])
def test_searched_values_are_of_the_grid_type(values, kind):
    """A searched parameter's values in ``params`` and ``best_params_`` are ``np.float64``
    from a NumPy array of floats (GridSearchCV's are the grid's own objects), ``float``
    from a list of floats, and ``float`` from integers (a point between them); an
    enumerated value is the grid's object itself, as GridSearchCV's."""
    X, y = make_regression(60, 5, noise=1.0, random_state=0)
    grid = {"alpha": values, "fit_intercept": [np.True_]}
    search = HyperGradSearchCV(Lasso(), grid, cv=3, max_iter=3).fit(X, y)
    rows = search.cv_results_["params"]
    assert {type(p["alpha"]) for p in rows} == {type(search.best_params_["alpha"])} == {kind}
    assert all(p["fit_intercept"] is grid["fit_intercept"][0] for p in rows)
    assert search.cv_results_["param_alpha"].dtype == np.float64


def test_score_routes_the_scorer_parameters_as_gridsearchcv():
    """``score(X, y, sample_weight=w)``: with metadata routing, the refit scorer's own
    value with the weights it requests; without it, GridSearchCV's ValueError. A
    callable scorer's value is returned as it is (``np.float64`` here)."""
    X, y = make_regression(60, 5, noise=10.0, random_state=0)
    w = np.random.RandomState(0).uniform(0.5, 2.0, len(y))
    grid = {"alpha": [0.1, 1.0]}
    search = HyperGradSearchCV(Lasso(), grid, cv=3, max_iter=2).fit(X, y)
    with pytest.raises(ValueError, match="enable_metadata_routing"):
        search.score(X, y, sample_weight=w)
    scorer = get_scorer("r2")
    with config_context(enable_metadata_routing=True):
        scorer = scorer.set_score_request(sample_weight=True)
        search = HyperGradSearchCV(Lasso(), grid, cv=3, max_iter=2, scoring=scorer)
        search.fit(X, y)
        expected = scorer(search.best_estimator_, X, y, sample_weight=w)
        assert search.score(X, y, sample_weight=w) == expected != search.score(X, y)
    search = HyperGradSearchCV(Lasso(), grid, cv=3, max_iter=2,
                               scoring=lambda est, X, y: np.float64(est.score(X, y)))
    assert type(search.fit(X, y).score(X, y)) is np.float64


@pytest.mark.parametrize("grid, scoring", [({"alpha": [0.1, 1.0]}, "not_a_scorer"),
                                           ({"alpha": [0.1, 1.0]}, ["r2", "not_a_scorer"]),
                                           ({"alpha": [0.1, 1.0]}, {"a": "not_a_scorer"}),
                                           ({"alpha": np.ones((2, 2))}, None)])
def test_malformed_parameters_raise_the_exceptions_of_gridsearchcv(grid, scoring):
    """A scorer name scikit-learn does not know, alone or in a list or dict, raises
    scikit-learn's ``InvalidParameterError`` (a ``ValueError`` and a ``TypeError``), and
    a grid array of two dimensions a ``ValueError``, as ``GridSearchCV`` raises them."""
    X, y = make_regression(30, 3, random_state=0)
    errors = []
    refit = "a" if isinstance(scoring, dict) else "r2" if isinstance(scoring, list) else True
    for search in (GridSearchCV, HyperGradSearchCV):
        with pytest.raises(ValueError) as error:
            search(Lasso(), grid, scoring=scoring, refit=refit, cv=3).fit(X, y)
        errors.append(type(error.value))
    assert errors[0] is errors[1]
