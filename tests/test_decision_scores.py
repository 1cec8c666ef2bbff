"""Scores from the decision values (:mod:`skhypergrad._decision_scores`).

Protects: for every supported estimator whose adapter declares its predictions as its
decision values or the classes they pick, the scores computed from them equal
scikit-learn's scorers on the same fitted estimator (to rounding), with sample
weights, string labels, several classes, sparse rows and constant targets; a scorer
that is not such a formula (or an estimator the table does not hold itself) runs
itself.
"""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_diabetes, load_iris
from sklearn.linear_model import (ElasticNet, HuberRegressor, Lasso, LogisticRegression,
                                  PoissonRegressor, Ridge, RidgeClassifier)
from sklearn.metrics import get_scorer
from sklearn.svm import LinearSVC

from skhypergrad._decision_scores import decision_metrics
from skhypergrad._linear_adapters import ADAPTERS, decision_of

REGRESSION = ["r2", "neg_mean_squared_error", "neg_root_mean_squared_error",
              "neg_mean_absolute_error", None]
rng = np.random.RandomState(0)


def _check(estimator, X, y, names):
    metrics = decision_metrics({str(n): n for n in names}, decision_of(estimator))
    assert metrics is not None
    weights = rng.uniform(0.2, 3.0, X.shape[0])
    for name in names:
        scorer = get_scorer(name) if name is not None else (lambda e, X, y, **kw:
                                                            e.score(X, y, **kw))
        for kw in ({}, {"sample_weight": weights}):
            ours = metrics[str(name)](estimator, X, y, **kw)
            assert ours == pytest.approx(scorer(estimator, X, y, **kw), rel=1e-12, abs=1e-14)


@pytest.mark.parametrize("estimator", [Lasso(alpha=0.1), ElasticNet(alpha=0.01), Ridge(),
                                       HuberRegressor(max_iter=1000)])
@pytest.mark.parametrize("sparse", [False, True])
def test_regressors_scores_equal_sklearns(estimator, sparse):
    X, y = load_diabetes(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)
    X = sp.csr_matrix(X) if sparse and not isinstance(estimator, HuberRegressor) else X
    _check(estimator.fit(X, y), X, y, REGRESSION)
    # constant targets: R2 is 1 for a perfect fit, 0 otherwise (scikit-learn's values)
    est = estimator.fit(X, y)
    constant = np.full(X.shape[0], 3.0)
    metric = decision_metrics({"s": None}, decision_of(est))["s"]
    assert metric(est, X, constant) == est.score(X, constant) == 0.0


@pytest.mark.parametrize("estimator", [LogisticRegression(max_iter=1000), LinearSVC(),
                                       RidgeClassifier()])
@pytest.mark.parametrize("classes", [2, 3])
def test_classifiers_accuracy_equals_sklearns(estimator, classes):
    X, y = load_iris(return_X_y=True)
    keep = y >= 3 - classes  # versicolor and virginica, then all three
    X, y = X[keep, :2], y[keep]  # two features: not separable, an accuracy below 1
    labels = np.array(["setosa", "versicolor", "virginica"])[y]
    est = estimator.fit(X, labels)
    _check(est, X, labels, ["accuracy", None])
    assert est.score(X, labels) < 1.0


@pytest.mark.parametrize("estimator", [LogisticRegression(max_iter=1000), LinearSVC(),
                                       RidgeClassifier()])
@pytest.mark.parametrize("labels", ["01", "strings", "12"])
def test_binary_classifiers_f1_balanced_accuracy_roc_auc_equal_sklearns(estimator, labels):
    # two iris classes on two features (not separable), rounded to give ties in the
    # decision values: balanced accuracy, F1 (positive label 1) and the ROC AUC
    X, y = load_iris(return_X_y=True)
    keep = y >= 1
    X, y = np.round(X[keep, :2]), y[keep] - 1
    y = {"01": y, "12": y + 1, "strings": np.array(["versicolor", "virginica"])[y]}[labels]
    est = estimator.fit(X, y)
    names = ["balanced_accuracy", "roc_auc"] + (["f1"] if labels != "strings" else [])
    _check(est, X, y, names)
    d = est.decision_function(X)
    assert len(np.unique(d)) < len(d) and 0.5 < get_scorer("roc_auc")(est, X, y) < 1.0
    if labels == "strings":  # no label 1: scikit-learn's f1 raises, its scorer runs
        metric = decision_metrics({"s": "f1"}, decision_of(est))["s"]
        assert metric(est, X, y) is None
    # a fold with one class: scikit-learn's roc_auc raises, its scorer runs
    metric = decision_metrics({"s": "roc_auc"}, decision_of(est))["s"]
    one = y == y[0]
    assert metric(est, X[one], y[one]) is None


def test_multiclass_balanced_accuracy_equals_sklearns():
    X, y = load_iris(return_X_y=True)
    est = LogisticRegression(max_iter=1000).fit(X[:, :2], y)
    _check(est, X[:, :2], y, ["balanced_accuracy"])
    for name in ("roc_auc", "f1"):  # binary only: the scorer runs (and raises)
        metric = decision_metrics({"s": name}, decision_of(est))["s"]
        assert metric(est, X[:, :2], y) is None


def test_other_scorers_and_estimators_run_their_scorers():
    assert decision_metrics({"s": "average_precision"}, "classes") is None
    assert decision_metrics({"s": "roc_auc"}, "values") is None
    assert decision_metrics({"s": "accuracy"}, "values") is None
    assert decision_metrics({"s": "r2", "t": "neg_log_loss"}, "classes") is None
    assert decision_metrics({"s": lambda e, X, y: 0.0}, "values") is None
    assert decision_of(PoissonRegressor()) is None  # predictions through the inverse link

    class MyRidge(Ridge):
        def predict(self, X):
            return super().predict(X) + 1.0
    assert Ridge in ADAPTERS and decision_of(MyRidge()) is None
    X, y = load_diabetes(return_X_y=True)
    est = Ridge().fit(X, y)
    est.coef_ = est.coef_ * np.nan  # the scorer's own error, not a nan score
    assert decision_metrics({"s": "r2"}, "values")["s"](est, X, y) is None
