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
the ``neg_mean_squared_error`` scorer).

Its per-sample Hessian is the identity across the outputs (``newton_model =
"identity"``): :class:`~skhypergrad.solvers.CoordinateDescent` (``solver="auto"``)
solves it by block coordinate descent on the Gram matrix, a feature's T
coefficients at a time (:mod:`skhypergrad.solvers._block_gram`).
"""

import numpy as np

from ._outer_loss import register_outer_loss
from .datafits import BaseDatafit, register_datafit

__all__ = ["MultiTaskQuadratic"]


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

    def loss(self, y, z):
        r = y - z
        return 0.5 * float(np.vdot(r, r)) / y.shape[0]

    def raw_grad(self, y, z):
        return (z - y) / y.shape[0]

    def raw_hessp(self, y, z, dz):
        return dz / y.shape[0]

    def dual_term(self, y, theta):
        r""":math:`\sum_{ik} \theta_{ik} y_{ik} - n\|\theta\|_F^2 / 2` (each output's)."""
        return float(np.vdot(theta, y)) - 0.5 * y.shape[0] * float(np.vdot(theta, theta))

    def __repr__(self):
        return f"MultiTaskQuadratic(n_tasks={self.n_tasks})"


# the MSE averaged over the outputs: 2 / T times the datafit's mean loss
register_outer_loss("multitask_squared", lambda datafit: (datafit, 2.0 / datafit.n_outputs))
