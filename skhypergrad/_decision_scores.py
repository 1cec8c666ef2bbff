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
  root, and the weighted mean of :math:`|y - d|`;
- ``balanced_accuracy`` (classes): the mean over the classes present in :math:`y` of
  their weighted recall :math:`\sum_{y_i = c} s_i [\hat y_i = c] / \sum_{y_i = c} s_i`;
- ``f1`` (classes, two of them, one labelled 1: the positive class):
  :math:`2 TP / (2 TP + FP + FN)`, the counts weighted by :math:`s`;
- ``roc_auc`` (two classes, from :math:`d` itself): the weighted share of the
  (positive, negative) pairs ordered by :math:`d`, ties counting 1/2,
  :math:`\sum_{y_i = c_1, y_j = c_0} s_i s_j ([d_i > d_j] + [d_i = d_j] / 2) /
  (S_1 S_0)`, the area under the ROC curve scikit-learn computes by trapezoids.

Where scikit-learn's scorer would warn or raise (a class predicted that :math:`y` lacks,
an F1 of 0 / 0, a fold with one class, labels that are not those of the estimator), the
formula returns None and the scorer runs itself.

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


def _balanced_accuracy(y, pred, weights):
    classes, codes = np.unique(y, return_inverse=True)
    if not np.all(np.isin(pred, classes)):
        return None  # a class predicted that y lacks: scikit-learn's warning
    s = np.ones(y.shape[0]) if weights is None else weights
    totals = np.bincount(codes, weights=s, minlength=classes.shape[0])
    hits = np.bincount(codes, weights=s * (y == pred), minlength=classes.shape[0])
    if not np.all(totals > 0.0):
        return None
    return float(np.mean(hits / totals))


def _f1(y, pred, weights, classes):
    if classes.shape[0] != 2 or not np.any(classes == 1) or \
            not np.all(np.isin(y, classes)):
        return None  # scikit-learn's f1 (pos_label=1, binary) raises or warns there
    s = np.ones(y.shape[0]) if weights is None else weights
    true, positive = y == 1, pred == 1
    tp = float(s @ (true & positive))
    wrong = float(s @ (true != positive))
    if 2.0 * tp + wrong == 0.0:
        return None  # 0 / 0: scikit-learn's warning
    return 2.0 * tp / (2.0 * tp + wrong)


def _roc_auc(y, d, weights, classes):
    if classes.shape[0] != 2 or d.ndim != 1:
        return None
    positive = y == classes[1]
    if not np.all(positive | (y == classes[0])) or positive.all() or not positive.any():
        return None  # a label the estimator lacks, or one class: scikit-learn raises
    s = np.ones(y.shape[0]) if weights is None else weights
    order = np.argsort(d, kind="stable")
    d, pos, neg = d[order], np.where(positive, s, 0.0)[order], np.where(positive, 0.0, s)[order]
    # groups of equal decision values, in increasing order
    starts = np.flatnonzero(np.r_[True, d[1:] != d[:-1]])
    pos_g, neg_g = np.add.reduceat(pos, starts), np.add.reduceat(neg, starts)
    neg_below = np.cumsum(neg_g) - neg_g
    total_pos, total_neg = float(pos_g.sum()), float(neg_g.sum())
    if not (total_pos > 0.0 and total_neg > 0.0):
        return None
    return float(pos_g @ (neg_below + 0.5 * neg_g)) / (total_pos * total_neg)


#: scorer name -> (the kind of predictions it reads, what the formula is given: the
#: predictions, or the decision values and the estimator's classes, its formula)
_METRICS = {"accuracy": ("classes", "predictions", _accuracy),
            "balanced_accuracy": ("classes", "predictions", _balanced_accuracy),
            "f1": ("classes", "predictions and classes", _f1),
            "roc_auc": ("classes", "decision and classes", _roc_auc),
            "r2": ("values", "predictions", _r2),
            "neg_mean_squared_error": ("values", "predictions", _neg_mse),
            "neg_root_mean_squared_error": ("values", "predictions", _neg_rmse),
            "neg_mean_absolute_error": ("values", "predictions", _neg_mae)}


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
        metrics[key] = _bind(*_METRICS[name][1:], decision)
    return metrics


def _bind(reads, formula, decision):
    def metric(estimator, X, y, sample_weight=None):
        coef = estimator.coef_
        d = safe_sparse_dot(X, coef.T, dense_output=True) + estimator.intercept_
        y = np.asarray(y)
        if not np.all(np.isfinite(d)) or y.ndim != 1 or (decision == "values" and
                                                         d.ndim != 1):
            return None  # the scorer's own checks and errors
        weights = None if sample_weight is None else np.asarray(sample_weight,
                                                                 dtype=np.float64)
        if decision == "classes":
            d = d.ravel() if d.ndim == 2 and d.shape[1] == 1 else d
            if reads == "decision and classes":
                return formula(y, d, weights, estimator.classes_)
            d = (d > 0).astype(np.intp) if d.ndim == 1 else np.argmax(d, axis=1)
            d = estimator.classes_[d]
            if reads == "predictions and classes":
                return formula(y, d, weights, estimator.classes_)
        return formula(y, d, weights)
    return metric
