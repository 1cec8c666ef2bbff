r"""The core datafits: least squares, binary logistic and multinomial logistic losses.

:class:`Quadratic` (real targets), :class:`Logistic` (labels in {-1, +1}) and
:class:`Multinomial` (class indices 0..K-1, with the row-wise softmax helpers
:func:`class_probabilities`, ``_row_logsumexp`` and ``_softmax_hessp``), each
registered under its name and taking sample weights.
"""

from functools import partial

import numpy as np
from scipy.special import expit, log_expit, xlogy

from ._datafit_contract import BaseDatafit, register_datafit
from ._sample_weight import per_weight, weighted_mean


@register_datafit
class Quadratic(BaseDatafit):
    r"""Least squares :math:`F(w) = \frac{1}{2n} \|y - Xw - b\|^2`."""

    name = "quadratic"
    curvature = 1.0
    kernel_code = 0
    constant_hessian = True
    least_squares = True
    accepts_sample_weight = True

    def intercept_only(self, y):
        return np.array([np.mean(y)])

    def loss(self, y, z, sample_weight=None):
        r = y - z
        return 0.5 * float(r @ (r if sample_weight is None else sample_weight * r)) / y.shape[0]

    def raw_grad(self, y, z):
        return (z - y) / y.shape[0]

    def raw_hessp(self, y, z, dz):
        return dz / y.shape[0]

    def dual_term(self, y, theta, sample_weight=None):
        r"""With :math:`f_i(u) = s_i (y_i - u)^2/(2n)`:
        :math:`\sum_i \theta_i y_i - n\theta_i^2/(2 s_i)`."""
        n = y.shape[0]
        return float(theta @ y) - 0.5 * n * float(theta @ per_weight(theta, sample_weight))

    def __repr__(self):
        return "Quadratic()"


@register_datafit
class Logistic(BaseDatafit):
    r"""Binary logistic loss :math:`F(w) = \frac1n \sum_i \log(1 + e^{-y_i z_i})`,
    :math:`y_i = \pm 1`."""

    name = "logistic"
    is_classifier = True
    curvature = 0.25
    outer_losses = ("logistic",)
    kernel_code = 1
    accepts_sample_weight = True
    #: ``l'' = s (1 - s) > 0``, ``s = expit(y z)``, smooth: an L2 penalty alone is solved
    #: by L-BFGS preconditioned with the Hessian of a nearby solution
    smooth_hessian = True
    rowwise_grad = True

    @classmethod
    def for_classes(cls, n_classes):
        if n_classes != 2:
            raise ValueError(f"The logistic datafit needs exactly 2 classes, got "
                             f"{n_classes}; use datafit='multinomial'.")
        return cls()

    def encode_classes(self, idx):
        """Class indices 0, 1 as the labels -1, +1."""
        return 2.0 * np.asarray(idx) - 1.0

    def encode(self, y):
        y = np.asarray(y, dtype=np.float64)
        if not np.all(np.abs(y) == 1.0):
            raise ValueError("Logistic datafit expects labels in {-1, +1}; "
                             "encode the two classes first.")
        return y

    def intercept_only(self, y):
        t = np.clip((np.mean(y) + 1.0) / 2.0, 1e-12, 1.0 - 1e-12)  # the frequency of +1
        return np.array([np.log(t / (1.0 - t))])

    def loss(self, y, z, sample_weight=None):
        return -weighted_mean(log_expit(y * z), sample_weight)

    def raw_grad(self, y, z):
        return -y * expit(-y * z) / y.shape[0]

    def raw_hessp(self, y, z, dz):
        s = expit(y * z)
        return s * (1.0 - s) * dz / y.shape[0]

    def dual_term(self, y, theta, sample_weight=None):
        r"""With :math:`a_i = n y_i \theta_i / s_i \in [0, 1]`:
        :math:`-\frac1n\sum_i s_i (a\log a + (1-a)\log(1-a))`."""
        n = y.shape[0]
        a = np.clip(n * y * per_weight(theta, sample_weight), 0.0, 1.0)
        return -weighted_mean(xlogy(a, a) + xlogy(1.0 - a, 1.0 - a), sample_weight)

    def __repr__(self):
        return "Logistic()"


@register_datafit
class Multinomial(BaseDatafit):
    r"""Multinomial logistic loss :math:`F(W) = \frac1n \sum_i \mathrm{lse}(z_i) - z_{i, y_i}`.

    Parameters
    ----------
    n_classes : int
        Number of classes K; predictions ``z`` have shape (n, K).
    """

    name = "multinomial"
    is_classifier = True
    curvature = 0.5
    outer_losses = ("multinomial",)
    newton_model = "softmax"
    kernel_code = 2
    accepts_sample_weight = True

    def __init__(self, n_classes):
        self.n_classes = int(n_classes)

    @classmethod
    def for_classes(cls, n_classes):
        return cls(n_classes)

    def encode_classes(self, idx):
        """Class indices as they are (int64)."""
        return np.asarray(idx).astype(np.int64)

    @property
    def n_outputs(self):
        return self.n_classes

    def encode(self, y):
        y = np.asarray(y)
        yi = y.astype(np.int64)
        if not np.array_equal(yi, y) or yi.min(initial=0) < 0 \
                or yi.max(initial=0) >= self.n_classes:
            raise ValueError("Multinomial datafit expects class indices in "
                             f"0..{self.n_classes - 1}.")
        return yi

    def _onehot(self, y):
        Y = np.zeros((y.shape[0], self.n_classes))
        Y[np.arange(y.shape[0]), y] = 1.0
        return Y

    def intercept_only(self, y):
        freq = np.bincount(y, minlength=self.n_classes) / y.shape[0]
        return np.log(np.clip(freq, 1e-12, None))

    def loss(self, y, z, sample_weight=None):
        n = y.shape[0]
        return weighted_mean(_row_logsumexp(z) - z[np.arange(n), y], sample_weight)

    def raw_grad(self, y, z):
        P = class_probabilities(z)
        P[np.arange(y.shape[0]), y] -= 1.0
        return P / y.shape[0]

    def raw_hessp(self, y, z, dz):
        return _softmax_hessp(class_probabilities(z), dz)

    def raw_hessp_at(self, y, z):
        """``dz -> (diag(p_i) - p_i p_i^T) dz_i / n`` with the class probabilities ``p_i``
        computed once."""
        return partial(_softmax_hessp, class_probabilities(z))

    def dual_term(self, y, theta, sample_weight=None):
        r"""With :math:`p_i = e_{y_i} - n\theta_i / s_i` on the simplex:
        :math:`-\frac1n \sum_i s_i \sum_k p_{ik}\log p_{ik}`."""
        n = y.shape[0]
        P = np.clip(self._onehot(y) - n * per_weight(theta, sample_weight), 0.0, 1.0)
        return -weighted_mean(np.sum(xlogy(P, P), axis=1), sample_weight)

    def __repr__(self):
        return f"Multinomial(n_classes={self.n_classes})"


def _row_logsumexp(z):
    r""":math:`m_i + \log \sum_k e^{z_{ik} - m_i}` with :math:`m_i = \max_k z_{ik}` for the
    rows of a finite ``z`` (no overflow; scipy's ``logsumexp`` without its per-call
    overhead, which showed in solvers evaluating the loss at every step), on ``z`` in
    Fortran order (a copy of a C-ordered one): a reduction along a row of a few classes
    then runs over whole columns."""
    z = np.asfortranarray(z)
    m = z.max(axis=1)
    E = z - m[:, None]
    np.exp(E, out=E)
    return np.log(E.sum(axis=1)) + m


def class_probabilities(z):
    r"""The softmax of the rows of ``z``, :math:`p_{ik} = e^{z_{ik} - m_i} / \sum_l
    e^{z_{il} - m_i}` with :math:`m_i = \max_l z_{il}` (one exponential per entry; no
    overflow); Fortran-ordered (see :func:`_row_logsumexp`)."""
    z = np.asfortranarray(z)
    P = z - z.max(axis=1, keepdims=True)
    np.exp(P, out=P)
    P /= P.sum(axis=1, keepdims=True)
    return P


def _softmax_hessp(P, dz):
    r""":math:`(\mathrm{diag}(p_i) - p_i p_i^T)\, dz_i / n` for the class probabilities
    ``P`` (rows :math:`p_i`), in the order of ``P`` (Fortran from
    :func:`class_probabilities`: the sums along the rows run over whole columns)."""
    Pdz = np.multiply(P, dz, out=np.empty_like(P))
    Pdz -= P * Pdz.sum(axis=1, keepdims=True)
    Pdz /= P.shape[0]
    return Pdz
