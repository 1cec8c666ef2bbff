r"""Scores of a linear model computed from its decision values, without its ``predict``.

A search scores each fold's model at every evaluated point (:class:`~skhypergrad.
_scoring.FoldScorer`). For the scorers below, with an estimator whose predictions are
its decision values :math:`d = X w + b` (``"values"``: ``Lasso``, ``ElasticNet``,
``Ridge``, ``HuberRegressor``) or the classes they pick (``"classes"``:
``LogisticRegression``, ``LinearSVC``, ``RidgeClassifier``; the second class where
:math:`d > 0` with one column, the column of the largest value with several), the score
is a formula of :math:`d`, the held-out targets :math:`y` and the sample weights
:math:`s` (1 without), the same as scikit-learn's:

- ``accuracy`` (a classifier's ``score``): :math:`\sum_i s_i [\hat y_i = y_i] / \sum s`;
- ``r2`` (a regressor's ``score``): :math:`1 - \sum_i s_i (y_i - d_i)^2 / \sum_i s_i
  (y_i - \bar y_s)^2`, with scikit-learn's values for constant targets (1 for a
  perfect fit, else 0);
- ``neg_mean_squared_error``, ``neg_root_mean_squared_error``,
  ``neg_mean_absolute_error``: minus the weighted mean of :math:`(y - d)^2`, its square
  root, and the weighted mean of :math:`|y - d|`.

A scikit-learn scorer spends most of its time validating its inputs (about a
millisecond a call), more than a small fold's solve; these read the arrays as they are.
"""

import numpy as np
from sklearn.utils.extmath import safe_sparse_dot

__all__ = ["decision_metrics"]


def _accuracy(y, pred, weights):
    return float(np.average(y == pred, weights=weights))


def _r2(y, pred, weights):
    if y.shape[0] < 2:
        return None  # scikit-learn's R² of one sample: nan, with its warning
    s = np.ones(y.shape[0]) if weights is None else weights
    numerator = float(s @ (y - pred) ** 2)
    denominator = float(s @ (y - np.average(y, weights=weights)) ** 2)
    if denominator == 0.0:
        return 1.0 if numerator == 0.0 else 0.0
    return 1.0 - numerator / denominator


def _neg_mse(y, pred, weights):
    return -float(np.average((y - pred) ** 2, weights=weights))


def _neg_rmse(y, pred, weights):
    return -float(np.sqrt(np.average((y - pred) ** 2, weights=weights)))


def _neg_mae(y, pred, weights):
    return -float(np.average(np.abs(y - pred), weights=weights))


#: scorer name -> (the kind of predictions it reads, its formula)
_METRICS = {"accuracy": ("classes", _accuracy), "r2": ("values", _r2),
            "neg_mean_squared_error": ("values", _neg_mse),
            "neg_root_mean_squared_error": ("values", _neg_rmse),
            "neg_mean_absolute_error": ("values", _neg_mae)}


def decision_metrics(names, decision):
    """``{key: metric}`` of a search's scorers, each ``metric(estimator, X, y,
    sample_weight)`` returning the score (None: the scorer must run), or None when one
    of them is not a formula of the decision values here.

    ``names``: ``{key: scorer name}`` (None: the estimator's ``score``, accuracy for a
    classifier, R² for a regressor); ``decision``: what the estimator's predictions are
    (``"values"``, ``"classes"``, or None: neither, e.g. a GLM's inverse link).
    """
    if decision is None or names is None:
        return None
    metrics = {}
    for key, name in names.items():
        if name is None:
            name = "accuracy" if decision == "classes" else "r2"
        if not isinstance(name, str) or name not in _METRICS \
                or _METRICS[name][0] != decision:
            return None
        metrics[key] = _bind(_METRICS[name][1], decision)
    return metrics


def _bind(formula, decision):
    def metric(estimator, X, y, sample_weight=None):
        coef = estimator.coef_
        d = safe_sparse_dot(X, coef.T, dense_output=True) + estimator.intercept_
        y = np.asarray(y)
        if not np.all(np.isfinite(d)) or (decision == "values" and
                                          (d.ndim != 1 or y.ndim != 1)):
            return None  # the scorer's own checks and errors
        if decision == "classes":
            d = d.ravel() if d.ndim == 2 and d.shape[1] == 1 else d
            d = (d > 0).astype(np.intp) if d.ndim == 1 else np.argmax(d, axis=1)
            d = estimator.classes_[d]
        weights = None if sample_weight is None else np.asarray(sample_weight,
                                                                 dtype=np.float64)
        return formula(y, d, weights)
    return metric
