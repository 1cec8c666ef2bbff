r"""Multi-output least squares: the datafit of the multi-task Lasso and elastic net.

.. math::

    F(W, b) = \frac{1}{2n} \|Y - XW - 1 b^T\|_F^2,

with targets :math:`Y` of shape (n, T) and coefficients :math:`W` of shape
(p, T), flat in C order as every multi-output model here
(``w = [W.ravel(), b]``, :class:`~skhypergrad._design.Design` with
``n_outputs = T``). Each output is least squares on its own (the per-sample
Hessian is the identity): its null model is the column means of ``Y``, its
duality gap the sum of the outputs'. Paired with a block penalty
(:mod:`skhypergrad.group_penalties`) it is scikit-learn's
``MultiTaskLasso`` / ``MultiTaskElasticNet``.

Its held-out loss, ``"multitask_squared"``, is the mean squared error averaged
over the outputs, :math:`\frac{1}{n_{val} T}\|Y_{val} - X_{val} W - 1 b^T\|_F^2`
(scikit-learn's ``mean_squared_error`` with ``multioutput="uniform_average"``,
the ``neg_mean_squared_error`` scorer). ``"multitask_r2"`` is one minus the R²
averaged over the outputs (:class:`R2OutputsLoss`, the ``r2`` scorer's
``multioutput="uniform_average"``).

Its per-sample Hessian is the identity across the outputs (``newton_model =
"identity"``): :class:`~skhypergrad.solvers.CoordinateDescent` (``solver="auto"``)
solves it by block coordinate descent on the Gram matrix, a feature's T
coefficients at a time (:mod:`skhypergrad.solvers._block_gram`).
"""

import numpy as np

from ._outer_loss import HeldOutLoss, register_outer_loss
from ._datafit_contract import BaseDatafit, register_datafit
from ._sample_weight import per_weight, weighted_mean

__all__ = ["MultiTaskQuadratic", "R2OutputsLoss"]


@register_datafit
class MultiTaskQuadratic(BaseDatafit):
    r"""Least squares on T outputs, :math:`F = \frac{1}{2n}\|Y - XW - 1b^T\|_F^2`.

    Parameters
    ----------
    n_tasks : int
        Number of outputs T (columns of the targets).
    """

    name = "multitask_quadratic"
    multi_output = True
    curvature = 1.0
    constant_hessian = True
    least_squares = True
    newton_model = "identity"
    outer_losses = ("multitask_squared",)
    accepts_sample_weight = True

    def __init__(self, n_tasks):
        self.n_tasks = int(n_tasks)

    @property
    def n_outputs(self):
        return self.n_tasks

    def encode(self, y):
        """Targets as float64 of shape (n, T), or (n,) for one task (the layout of the
        predictions of a one-output design); ValueError for another number of columns."""
        y = np.asarray(y, dtype=np.float64)
        if y.ndim != 2 or y.shape[1] != self.n_tasks:
            raise ValueError(f"{self!r} expects targets of shape (n_samples, {self.n_tasks}), "
                             f"got {y.shape}.")
        return y[:, 0] if self.n_tasks == 1 else y

    def intercept_only(self, y):
        return np.atleast_1d(np.asarray(y, dtype=np.float64).mean(axis=0))

    def loss(self, y, z, sample_weight=None):
        r""":math:`\frac1{2n}\sum_i s_i \|y_i - z_i\|^2` (:math:`s_i = 1` when
        ``sample_weight`` is None)."""
        r = y - z
        if sample_weight is None:
            return 0.5 * float(np.vdot(r, r)) / y.shape[0]
        return 0.5 * weighted_mean(r * r if r.ndim == 1 else np.sum(r * r, axis=1),
                                   sample_weight)

    def raw_grad(self, y, z):
        return (z - y) / y.shape[0]

    def raw_hessp(self, y, z, dz):
        return dz / y.shape[0]

    def dual_term(self, y, theta, sample_weight=None):
        r""":math:`\sum_{ik} \theta_{ik} y_{ik} - n\sum_{ik} \theta_{ik}^2 / (2 s_i)` (each
        output's; :math:`s_i = 1` when ``sample_weight`` is None)."""
        return float(np.vdot(theta, y)) - \
            0.5 * y.shape[0] * float(np.vdot(theta, per_weight(theta, sample_weight)))

    def __repr__(self):
        return f"MultiTaskQuadratic(n_tasks={self.n_tasks})"


# the MSE averaged over the outputs: 2 / T times the datafit's mean loss
register_outer_loss("multitask_squared", lambda datafit: (datafit, 2.0 / datafit.n_outputs))


class R2OutputsLoss(HeldOutLoss):
    r"""One minus the R² averaged over the T outputs, as a mean loss of the predictions
    :math:`Z` (shape (n, T)) on the targets :math:`Y`.

    .. math::

        L = \frac1T \sum_t \frac{\mathrm{MSE}_t}{c_t}, \qquad
        \mathrm{MSE}_t = \frac1n \sum_i s_i (z_{it} - y_{it})^2, \quad
        c_t = \frac1n \sum_i s_i (y_{it} - \bar y_t)^2,

    (:math:`\bar y_t` the weighted mean; weights :math:`s_i` of mean 1, all 1
    without ``sample_weight``), so that :math:`1 - L` is scikit-learn's ``r2_score``
    with ``multioutput="uniform_average"``: per fold an affine map of each output's
    mean squared error. An output with constant targets (:math:`c_t = 0`) adds
    :math:`1/T` unless it is predicted exactly, and nothing to the gradient (its R² is
    0 or 1, as scikit-learn's).
    """

    def _scales(self, y):
        mean = np.average(y, axis=0, weights=self.sample_weight)
        sq = (y - mean) ** 2
        return np.average(sq, axis=0, weights=self.sample_weight)

    def _mse(self, y, z):
        sq = (z - y) ** 2
        return np.average(sq, axis=0, weights=self.sample_weight)

    def loss(self, y, z):
        c, mse = self._scales(y), self._mse(y, z)
        terms = np.where(c > 0, mse / np.where(c > 0, c, 1.0), (mse > 0).astype(float))
        return float(np.mean(terms))

    def raw_grad(self, y, z):
        c = self._scales(y)
        inv = np.where(c > 0, 1.0 / np.where(c > 0, c, 1.0), 0.0) / c.shape[0]
        G = 2.0 * (z - y) * inv / y.shape[0]
        return G if self.sample_weight is None else G * self.sample_weight[:, None]


register_outer_loss("multitask_r2", lambda datafit: (R2OutputsLoss(), 1.0),
                    datafits=("multitask_quadratic",))
