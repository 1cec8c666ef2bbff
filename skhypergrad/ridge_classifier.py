r"""Least squares on class labels: the datafits of scikit-learn's ``RidgeClassifier``.

scikit-learn's ``RidgeClassifier(alpha)`` encodes two classes as the targets
:math:`y_i = \pm 1` (``+1`` for the second class) and ``K > 2`` classes as ``K``
columns :math:`Y_{ik} = +1` if sample ``i`` is of class ``k``, ``-1`` otherwise
(one-vs-all), then fits ``Ridge(alpha)`` on them:

.. math::

    \min_{W, b} \|Y - XW - 1 b^T\|_F^2 + \alpha\|W\|_F^2.

Divided by :math:`2n`, it is least squares (:class:`SquaredClassifier`, or the
multi-output :class:`SquaredClassifierOvR`) with the
:class:`~skhypergrad.penalties.L2` penalty at :math:`\lambda_2 = \alpha / n`. The
``K`` columns are ``K`` independent ridge problems sharing one ``alpha``.

The held-out loss is the mean squared error of the decision function against
the encoded labels, averaged over the columns,
:math:`\frac{1}{n_{val} K}\|Y_{val} - X_{val} W - 1 b^T\|_F^2` (``"squared_class_error"``;
``K = 1`` for two classes): the smooth surrogate of the
accuracy that the model itself minimizes; :func:`squared_class_error` is the
same number from a decision function, for scikit-learn's scorers.
"""

import numpy as np

from ._outer_loss import register_outer_loss
from ._core_datafits import Quadratic
from ._datafit_contract import register_datafit
from ._sample_weight import check_class_decision, per_weight, weighted_mean
from .multitask import MultiTaskQuadratic

__all__ = ["SquaredClassifier", "SquaredClassifierOvR", "squared_class_error",
           "squared_class_error_scorer"]


def _signs(idx, n_classes):
    """``Y`` of shape (n, K): +1 at ``(i, idx_i)``, -1 elsewhere."""
    idx = np.asarray(idx, dtype=np.int64)
    Y = -np.ones((idx.shape[0], n_classes))
    Y[np.arange(idx.shape[0]), idx] = 1.0
    return Y


@register_datafit
class SquaredClassifier(Quadratic):
    r"""Least squares :math:`\frac{1}{2n}\|y - Xw - b\|^2` on the labels
    :math:`y_i = \pm 1` of two classes (``classes[1]`` is +1).

    ``for_classes(K)`` gives :class:`SquaredClassifierOvR` for ``K > 2``.
    """

    name = "squared_classifier"
    is_classifier = True
    outer_losses = ("squared_class_error",)

    @classmethod
    def for_classes(cls, n_classes):
        return cls() if n_classes == 2 else SquaredClassifierOvR(n_classes)

    def encode_classes(self, idx):
        """Class indices 0, 1 as the labels -1, +1."""
        return 2.0 * np.asarray(idx, dtype=np.float64) - 1.0

    def encode(self, y):
        y = np.asarray(y, dtype=np.float64)
        if not np.all(np.abs(y) == 1.0):
            raise ValueError("SquaredClassifier expects labels in {-1, +1}; encode the two "
                             "classes first.")
        return y

    def __repr__(self):
        return "SquaredClassifier()"


@register_datafit
class SquaredClassifierOvR(MultiTaskQuadratic):
    r"""Least squares on ``K`` one-vs-all columns of labels :math:`\pm 1`,
    :math:`\frac{1}{2n}\|Y - XW - 1b^T\|_F^2`.

    The targets are class labels (1d, ``multi_output = False``); their encoding
    (``encode_classes``) is the (n, K) matrix ``Y``.

    Parameters
    ----------
    n_classes : int
        Number of classes K >= 3.
    """

    name = "squared_classifier_ovr"
    is_classifier = True
    multi_output = False
    outer_losses = ("squared_class_error",)
    accepts_sample_weight = True

    def __init__(self, n_classes):
        super().__init__(n_classes)

    def loss(self, y, z, sample_weight=None):
        r""":math:`\frac{1}{2n}\sum_i s_i \|Y_i - z_i\|^2` (:math:`s_i = 1` without
        ``sample_weight``)."""
        r = y - z
        return 0.5 * weighted_mean(np.sum(r * r, axis=1), sample_weight)

    def dual_term(self, y, theta, sample_weight=None):
        r""":math:`\sum_{ik} \theta_{ik} Y_{ik} - n\sum_{ik} \theta_{ik}^2 / (2 s_i)`."""
        return float(np.vdot(theta, y)) - 0.5 * y.shape[0] * float(
            np.vdot(theta, per_weight(theta, sample_weight)))

    @property
    def n_classes(self):
        return self.n_tasks

    @classmethod
    def for_classes(cls, n_classes):
        return SquaredClassifier.for_classes(n_classes)

    def encode_classes(self, idx):
        """Class indices as the (n, K) matrix of labels +1 (the class) and -1 (the rest)."""
        return _signs(idx, self.n_classes)

    def encode(self, y):
        y = super().encode(y)
        if not np.all(np.abs(y) == 1.0):
            raise ValueError("SquaredClassifierOvR expects labels in {-1, +1}; encode the "
                             "classes first.")
        return y

    def __repr__(self):
        return f"SquaredClassifierOvR(n_classes={self.n_classes})"


# the mean squared error over the columns: 2 / K times the datafit's mean loss
register_outer_loss("squared_class_error", lambda datafit: (datafit, 2.0 / datafit.n_outputs))


def squared_class_error(y_true, decision, *, labels=None, sample_weight=None):
    r"""Mean squared error of a decision function against the labels :math:`\pm 1`.

    Two classes (``decision`` of shape (n,), positive for ``labels[1]``):
    :math:`\frac1n\sum_i (y_i - d_i)^2`, :math:`y_i = \pm 1`. More (shape (n, K),
    column ``k`` for ``labels[k]``): :math:`\frac{1}{nK}\sum_{ik} (Y_{ik} - d_{ik})^2`.
    It is the held-out loss a search of ``RidgeClassifier`` minimizes. With
    ``sample_weight``, the weighted mean over the samples,
    :math:`\sum_i s_i \ell_i / \sum_i s_i`.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
    decision : array-like of shape (n_samples,) or (n_samples, n_classes)
    labels : array-like, default=None
        The classes in the order of the decision function's columns (the sorted
        labels of ``y_true`` when None).
    sample_weight : array-like of shape (n_samples,), default=None

    Returns
    -------
    float
    """
    idx, n_labels, decision, sample_weight = check_class_decision(y_true, decision, labels,
                                                                  sample_weight)
    target = 2.0 * idx - 1.0 if decision.ndim == 1 else _signs(idx, n_labels)
    sq = (target - decision) ** 2
    return weighted_mean(sq if sq.ndim == 1 else sq.mean(axis=1), sample_weight)


def squared_class_error_scorer(estimator, X, y, sample_weight=None):
    """Scorer (greater is better): ``-squared_class_error(y, estimator.decision_function(X),
    labels=estimator.classes_, sample_weight=sample_weight)``, e.g.
    ``GridSearchCV(RidgeClassifier(), ..., scoring=squared_class_error_scorer)``;
    :class:`~skhypergrad.HyperGradSearchCV`'s ``"neg_squared_class_error"``."""
    return -squared_class_error(y, estimator.decision_function(X), labels=estimator.classes_,
                                sample_weight=sample_weight)
