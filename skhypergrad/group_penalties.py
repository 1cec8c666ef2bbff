r"""Block (L2,1) penalties of multi-output coefficients: rows selected or dropped together.

For coefficients :math:`W` of shape (p, T) (flat in C order, as every
multi-output model here), with per-row L1 weights ``l1`` and one L2 weight
``l2`` that depend linearly on ``lam`` as for the elementwise penalties
(:mod:`skhypergrad.penalties`),

.. math::

    G(W) = \sum_j l1_j \|W_j\|_2 + \frac{l2}{2} \|W\|_F^2,

===========================  ================  ===================  ==========
penalty                      ``lam``           ``l1``               ``l2``
===========================  ================  ===================  ==========
:class:`GroupL21`            ``[lam1]``        ``lam1 * ones(p)``   0
:class:`GroupElasticNet`     ``[lam1, lam2]``  ``lam1 * ones(p)``   ``lam2``
===========================  ================  ===================  ==========

(scikit-learn's ``MultiTaskLasso`` / ``MultiTaskElasticNet``:
:math:`\lambda_1 = \alpha\rho`, :math:`\lambda_2 = \alpha(1 - \rho)`).

The prox with step ``g`` is the block soft-thresholding of each row,

.. math::

    \mathrm{prox}(z)_j = c \max\Big(1 - \frac{g\,l1_j}{\|z_j\|}, 0\Big) z_j,
    \qquad c = \frac{1}{1 + g\,l2}.

On the block support :math:`\|z_j\| > g\,l1_j` its Jacobian is the block

.. math::

    \partial_{z_j} \mathrm{prox}_j = c\Big(I - \frac{g\,l1_j}{\|z_j\|}(I - n_j n_j^T)\Big),
    \qquad n_j = z_j / \|z_j\|,

(eigenvalue :math:`c` along :math:`n_j`, :math:`c(1 - g\,l1_j/\|z_j\|)` across it),
0 off the support (0 chosen at the kink): not diagonal, so these penalties
declare ``diagonal_jacobian = False`` and give the Jacobian as a
:class:`~skhypergrad._prox_jacobian.BlockJacobian` (:meth:`prox_jacobian`). In the
hyperparameters, on the support,

.. math::

    \partial_{l1_j} \mathrm{prox}_j = -c\,g\,n_j, \qquad
    \partial_{l2} \mathrm{prox} = -c\,g\,\mathrm{prox}(z).

With one output (T = 1) they are the L1 and elastic-net penalties.
"""

import numpy as np

from ._prox_jacobian import BlockJacobian
from .penalties import L1, BasePenalty, ElasticNetPenalty

__all__ = ["GroupL21", "GroupElasticNet"]


class _BlockAlgebra(BasePenalty):
    """The L2,1 algebra on rows of (p, T) coefficients; the map ``lam -> (l1, l2)`` comes
    from the elementwise penalty it is combined with."""

    #: the prox's Jacobian is block diagonal (:meth:`prox_jacobian`), not diagonal
    diagonal_jacobian = False
    #: the prox acts on whole rows (block soft-thresholding)
    group_rows = True

    def __init__(self):
        super().__init__(positive=False)  # no nonnegative form

    def at_fixed_ratio(self, lam):
        """None: no block penalty at a fixed ratio of its weights."""
        return None

    @staticmethod
    def _rows(z, n_features):
        return np.asarray(z, dtype=np.float64).reshape(n_features, -1)

    def row_dual_norms(self, u):
        r"""Dual norms of the rows of ``u`` (p, T): :math:`\|u_j\|_2`."""
        return np.sqrt(np.einsum("jt,jt->j", u, u))

    def conjugate(self, u, l1, l2):
        r"""The conjugate :math:`\sum_j \max(\|u_j\|_2 - l1_j, 0)^2 / (2\,l2_j)` (positive
        L2 weights)."""
        excess = np.maximum(self.row_dual_norms(u) - l1, 0.0)
        return float((excess * excess) @ (0.5 / l2))

    def value(self, coef, lam):
        """``sum_j l1_j ||coef_j|| + l2_j/2 ||coef_j||^2`` (coef of shape (p,) or (p, T))."""
        coef = np.asarray(coef, dtype=np.float64)
        rows = coef.reshape(coef.shape[0], -1)
        l1, l2 = self.weights(lam, rows.shape[0])
        return float(l1 @ self.row_dual_norms(rows) + 0.5 * (l2 @ np.sum(rows * rows, axis=1)))

    def _shrink(self, z, step, lam, n_features):
        """``(rows, norms, keep, l1, l2)``: ``keep`` the factors :math:`\\max(1 - g l1_j /
        \\|z_j\\|, 0)` (0 where ``z_j = 0``)."""
        rows = self._rows(z, n_features)
        l1, l2 = self.weights(lam, n_features)
        norms = self.row_dual_norms(rows)
        with np.errstate(divide="ignore", invalid="ignore"):
            keep = np.where(norms > step * l1, 1.0 - step * l1 / norms, 0.0)
        return rows, norms, keep, l1, l2

    def prox(self, z, step, lam, n_features, n_outputs=1):
        r"""Block soft-thresholding of the rows of flat ``z``, divided by ``1 + g l2``."""
        rows, _, keep, _, l2 = self._shrink(z, step, lam, n_features)
        return (rows * (keep / (1.0 + step * l2))[:, None]).ravel()

    def prox_mask(self, z, step, lam, n_features, n_outputs=1):
        r"""``1{||z_j|| > g l1_j}`` on every entry of row ``j``."""
        _, _, keep, _, _ = self._shrink(z, step, lam, n_features)
        return np.repeat((keep > 0).astype(np.float64), n_outputs)

    def prox_jac_diag(self, z, step, lam, n_features, n_outputs=1):
        """Refused (ValueError): the Jacobian is block diagonal (:meth:`prox_jacobian`)."""
        raise ValueError(f"{type(self).__name__}'s prox Jacobian is block diagonal, not "
                         "diagonal: engines that need a diagonal one (NSID) do not apply; "
                         "use 'aid-cg', 'aid-fp' or 'itd'.")

    def prox_jacobian(self, z, step, lam, n_features, n_outputs=1):
        r"""The prox's conservative Jacobian at flat ``z``, as a
        :class:`~skhypergrad._prox_jacobian.BlockJacobian` on the active rows."""
        rows, norms, keep, _, l2 = self._shrink(z, step, lam, n_features)
        active = np.flatnonzero(keep)
        c = 1.0 / (1.0 + step * l2[active])
        normals = rows[active] / norms[active, None]
        return BlockJacobian(rows.size, active, normals, c, c * keep[active])

    def _unit_rows(self, z, step, lam, n_features):
        """``(D n, l2)``: the unit rows ``n_j`` on the support, zero rows elsewhere."""
        rows, norms, keep, _, l2 = self._shrink(z, step, lam, n_features)
        with np.errstate(divide="ignore", invalid="ignore"):
            unit = np.where((keep > 0)[:, None], rows / norms[:, None], 0.0)
        return unit, l2

    def prox_jvp_lam(self, z, step, lam, e, n_features, n_outputs=1):
        r"""``(d prox / d lam) e`` for a direction ``e`` in ``lam``."""
        unit, l2 = self._unit_rows(z, step, lam, n_features)
        dl1, dl2 = self.weights_jvp(np.asarray(e, dtype=np.float64), n_features)
        out = -step * unit * np.asarray(dl1)[:, None]
        if self.has_l2:
            out = out - step * np.asarray(dl2)[:, None] * \
                self.prox(z, step, lam, n_features, n_outputs).reshape(unit.shape)
        return (out / (1.0 + step * np.asarray(l2))[:, None]).ravel()

    def prox_vjp_lam(self, z, step, lam, u, n_features, n_outputs=1):
        r"""``(d prox / d lam)^T u`` for a cotangent ``u`` on the coefficients."""
        unit, l2 = self._unit_rows(z, step, lam, n_features)
        u = np.asarray(u, dtype=np.float64)
        prox_u = self.prox(z, step, lam, n_features) * u if self.has_l2 else None
        return self._vjp_lam(unit.ravel() * u, prox_u, step, l2, n_features,
                             unit.shape[1])

    def gradient_on_support(self, coef_s, support, lam, n_features, n_outputs=1):
        raise NotImplementedError("a block penalty is linearized from its forward step.")


class GroupL21(_BlockAlgebra, L1):
    r"""Multi-task Lasso penalty :math:`\lambda_1 \sum_j \|W_j\|_2`; ``lam = [lam1]``."""

    def __repr__(self):
        return "GroupL21()"


class GroupElasticNet(_BlockAlgebra, ElasticNetPenalty):
    r"""Multi-task elastic net :math:`\lambda_1 \sum_j \|W_j\|_2 + \frac{\lambda_2}{2}\|W\|_F^2`;
    ``lam = [lam1, lam2]``."""

    def __repr__(self):
        return "GroupElasticNet()"

