r"""The squared hinge loss of scikit-learn's ``LinearSVC``, binary and one-vs-rest.

With labels :math:`y_i = \pm 1` and margins :math:`m_i = \max(0, 1 - y_i z_i)`,

.. math::

    F(w) = \frac1n \sum_i m_i^2, \qquad
    \nabla_z F = -\frac{2}{n}\, y \odot m, \qquad
    \partial^2_{z_i} F = \frac2n\, 1\{y_i z_i < 1\}:

continuously differentiable, with a piecewise-constant generalized Hessian
(the value 0 is chosen at the kink :math:`y_i z_i = 1`: an element of the
conservative Jacobian). One-vs-rest with ``K`` classes is the sum of the ``K``
binary losses of "class k against the rest" (:class:`SquaredHingeOvR`); with a
penalty that is separable over classes (every penalty here), its solution is the
``K`` binary solutions, trained with one shared weight.

scikit-learn's ``LinearSVC(C)`` (liblinear) minimizes
:math:`C \sum_i m_i^2 + \frac12 \|\tilde w\|^2` (``penalty="l2"``) or
:math:`C \sum_i m_i^2 + \|\tilde w\|_1` (``penalty="l1"``) over
:math:`\tilde w = (w, w_b)`, on the rows :math:`\tilde x_i = (x_i, s)` with the
synthetic feature :math:`s` = ``intercept_scaling`` (the intercept
:math:`s\,w_b` is penalized); dividing by :math:`Cn` gives the normalized
objective with the weight :math:`\lambda = 1/(Cn)` on every coefficient,
:func:`append_intercept_column` builds :math:`\tilde X`.

The held-out loss ``"squared_hinge"`` is the model's own mean loss (summed over
the classes of one-vs-rest); :func:`squared_hinge_loss` is the same number from
a decision function, for scikit-learn's scorers.
"""

import numpy as np
import scipy.sparse as sp

from ._outer_loss import register_outer_loss
from ._datafit_contract import BaseDatafit, register_datafit
from ._sample_weight import check_class_decision, per_weight, weighted_mean

__all__ = ["SquaredHinge", "SquaredHingeOvR", "squared_hinge_loss", "squared_hinge_scorer",
           "append_intercept_column"]


def _margins(y, z):
    """``max(0, 1 - y z)`` (elementwise)."""
    return np.maximum(1.0 - y * z, 0.0)


def _conjugate_sum(y, theta, n, sample_weight=None):
    r""":math:`-\sum_i f_i^*(-\theta_i)` of :math:`f_i(u) = \max(0, 1 - y_i u)^2 / n`:
    :math:`f_i^*(v) = y_i v + n v^2 / 4` for :math:`y_i v \le 0` (:math:`+\infty`
    otherwise), so the sum is :math:`\sum_i y_i\theta_i - n\theta_i^2/4`, and
    :math:`-\infty` when some :math:`y_i \theta_i < 0`; with weights :math:`s_i`
    (``f_i`` times :math:`s_i`), :math:`\sum_i y_i\theta_i - n\theta_i^2/(4 s_i)`."""
    a = y * theta
    if np.any(a < 0):
        return -np.inf
    return float(np.sum(a) - 0.25 * n * np.sum(theta * per_weight(theta, sample_weight)))


@register_datafit
class SquaredHinge(BaseDatafit):
    r"""Binary squared hinge :math:`F(w) = \frac1n \sum_i \max(0, 1 - y_i z_i)^2`,
    :math:`y_i = \pm 1`.

    ``curvature`` 2 (the Lipschitz constant of one sample's derivative); coordinate
    descent's Newton model uses the generalized Hessian
    :math:`h_i = 2\,1\{y_i z_i < 1\}`. Its null model is :math:`b = \bar y`
    (the minimizer of :math:`\sum_i \max(0, 1 - y_i b)^2`, in :math:`[-1, 1]`).
    ``for_classes(K)`` gives :class:`SquaredHingeOvR` for ``K > 2``.
    """

    name = "squared_hinge"
    is_classifier = True
    curvature = 2.0
    outer_losses = ("squared_hinge",)
    newton_model = "diagonal"
    piecewise_quadratic = True
    kernel_code = 3
    accepts_sample_weight = True

    @classmethod
    def for_classes(cls, n_classes):
        return cls() if n_classes == 2 else SquaredHingeOvR(n_classes)

    def encode_classes(self, idx):
        """Class indices 0, 1 as the labels -1, +1."""
        return 2.0 * np.asarray(idx) - 1.0

    def encode(self, y):
        y = np.asarray(y, dtype=np.float64)
        if not np.all(np.abs(y) == 1.0):
            raise ValueError("SquaredHinge expects labels in {-1, +1}; encode the two "
                             "classes first.")
        return y

    def intercept_only(self, y):
        return np.array([float(np.mean(y))])

    def loss(self, y, z, sample_weight=None):
        m = _margins(y, z)
        return weighted_mean(m * m, sample_weight)

    def raw_grad(self, y, z):
        return -2.0 * y * _margins(y, z) / y.shape[0]

    def raw_hessp(self, y, z, dz):
        return np.where(y * z < 1.0, 2.0 / y.shape[0], 0.0) * dz

    def dual_term(self, y, theta, sample_weight=None):
        r""":math:`\sum_i y_i\theta_i - n\theta_i^2/(4 s_i)` (:math:`-\infty` unless every
        :math:`y_i\theta_i \ge 0`)."""
        return _conjugate_sum(y, theta, y.shape[0], sample_weight)

    def __repr__(self):
        return "SquaredHinge()"


class SquaredHingeOvR(BaseDatafit):
    r"""One-vs-rest squared hinge over ``K`` classes,
    :math:`F(W) = \frac1n \sum_i \sum_k \max(0, 1 - Y_{ik} z_{ik})^2` with
    :math:`Y_{ik} = +1` if sample ``i`` is of class ``k``, -1 otherwise.

    The ``K`` columns of ``W`` are ``K`` independent binary problems
    (``newton_model = "separable"``): coordinate descent solves them in turn with
    :class:`SquaredHinge` (``output_datafit``, ``output_target``); the minibatch
    kernels share the binary loss's code 3.

    Parameters
    ----------
    n_classes : int
        Number of classes K >= 3; predictions ``z`` have shape (n, K).
    """

    name = "squared_hinge_ovr"
    is_classifier = True
    curvature = 2.0
    outer_losses = ("squared_hinge",)
    newton_model = "separable"
    piecewise_quadratic = True
    kernel_code = 3
    accepts_sample_weight = True

    def __init__(self, n_classes):
        self.n_classes = int(n_classes)

    @classmethod
    def for_classes(cls, n_classes):
        return SquaredHinge.for_classes(n_classes)

    @property
    def n_outputs(self):
        return self.n_classes

    def encode_classes(self, idx):
        """Class indices as they are (int64)."""
        return np.asarray(idx).astype(np.int64)

    def encode(self, y):
        y = np.asarray(y)
        yi = y.astype(np.int64)
        if not np.array_equal(yi, y) or yi.min(initial=0) < 0 \
                or yi.max(initial=0) >= self.n_classes:
            raise ValueError(f"SquaredHingeOvR expects class indices in "
                             f"0..{self.n_classes - 1}.")
        return yi

    def _signs(self, y):
        """``Y``: +1 at ``(i, y_i)``, -1 elsewhere, shape (n, K)."""
        Y = -np.ones((y.shape[0], self.n_classes))
        Y[np.arange(y.shape[0]), y] = 1.0
        return Y

    def output_datafit(self):
        """The datafit of one output: :class:`SquaredHinge`."""
        return SquaredHinge()

    def output_target(self, y, k):
        """Output ``k``'s labels: +1 for class ``k``, -1 otherwise."""
        return np.where(y == k, 1.0, -1.0)

    def intercept_only(self, y):
        return self._signs(y).mean(axis=0)

    def loss(self, y, z, sample_weight=None):
        m = _margins(self._signs(y), z)
        return weighted_mean(np.sum(m * m, axis=1), sample_weight)

    def raw_grad(self, y, z):
        Y = self._signs(y)
        return -2.0 * Y * _margins(Y, z) / y.shape[0]

    def raw_hessp(self, y, z, dz):
        return np.where(self._signs(y) * z < 1.0, 2.0 / y.shape[0], 0.0) * dz

    def dual_term(self, y, theta, sample_weight=None):
        r"""The binary :meth:`SquaredHinge.dual_term` summed over the classes."""
        return _conjugate_sum(self._signs(y), theta, y.shape[0], sample_weight)

    def __repr__(self):
        return f"SquaredHingeOvR(n_classes={self.n_classes})"


register_datafit(SquaredHingeOvR)
# the held-out loss of either: the model's own mean loss
register_outer_loss("squared_hinge", lambda datafit: (datafit, 1.0))


def squared_hinge_loss(y_true, decision, *, labels=None, sample_weight=None):
    r"""Mean squared hinge of a decision function, summed over classes for one-vs-rest.

    Two classes (``decision`` of shape (n,), positive for ``labels[1]``):
    :math:`\frac1n\sum_i \max(0, 1 - y_i d_i)^2`, :math:`y_i = \pm 1`. More
    (shape (n, K), column ``k`` for ``labels[k]``):
    :math:`\frac1n\sum_i\sum_k \max(0, 1 - Y_{ik} d_{ik})^2`. It is the held-out
    loss ``"squared_hinge"`` the search minimizes. With ``sample_weight``, the
    weighted mean :math:`\sum_i s_i \ell_i / \sum_i s_i`.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
    decision : array-like of shape (n_samples,) or (n_samples, n_classes)
    labels : array-like, default=None
        The classes in the order of the decision function's columns (sorted
        ``y_true`` labels when None).
    sample_weight : array-like of shape (n_samples,), default=None

    Returns
    -------
    float
    """
    idx, n_labels, decision, sample_weight = check_class_decision(y_true, decision, labels,
                                                                  sample_weight)
    if decision.ndim == 1:
        return SquaredHinge().loss(2.0 * idx - 1.0, decision, sample_weight)
    return SquaredHingeOvR(n_labels).loss(idx, decision, sample_weight)


def squared_hinge_scorer(estimator, X, y, sample_weight=None):
    """Scorer (greater is better): ``-squared_hinge_loss(y, estimator.decision_function(X),
    labels=estimator.classes_, sample_weight=sample_weight)``, e.g.
    ``GridSearchCV(LinearSVC(), ..., scoring=squared_hinge_scorer)``;
    :class:`~skhypergrad.HyperGradSearchCV`'s ``"neg_squared_hinge"``."""
    return -squared_hinge_loss(y, estimator.decision_function(X), labels=estimator.classes_,
                               sample_weight=sample_weight)


def append_intercept_column(X, intercept_scaling=1.0):
    r"""``[X, s 1]``: liblinear's synthetic feature of value ``s`` =
    ``intercept_scaling`` (dense as float64 in Fortran order, sparse as CSC)."""
    n = X.shape[0]
    if sp.issparse(X):
        col = sp.csc_matrix(np.full((n, 1), float(intercept_scaling)))
        return sp.hstack([X, col], format="csc", dtype=np.float64)
    out = np.empty((n, X.shape[1] + 1), dtype=np.float64, order="F")
    out[:, :-1] = X
    out[:, -1] = intercept_scaling
    return out
