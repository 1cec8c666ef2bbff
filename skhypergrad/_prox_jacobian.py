r"""The conservative Jacobian :math:`\Delta = \partial_z T` of a prox, on its active set.

The adjoint engines only need :math:`\Delta` restricted to its active set
:math:`S` (where it does not vanish) through three operations: its powers
:math:`\Delta_S^s x` for :math:`s \in \{1, -1, 1/2\}`, and, to form a small
system, the dense matrix :math:`\Delta_S^{-1}`. Two forms are declared:

- :class:`DiagonalJacobian`: :math:`\Delta = \mathrm{diag}(\delta)` (elementwise
  penalties: the L1 / elastic-net family), :math:`S = \{\delta_i \neq 0\}`;
- :class:`BlockJacobian`: :math:`\Delta` block diagonal over consecutive blocks of
  ``T`` entries, each block symmetric with two eigenvalues,

  .. math::

      \Delta_r = b_r\,I + (a_r - b_r)\, n_r n_r^T, \qquad \|n_r\| = 1,

  :math:`a_r` along the unit direction :math:`n_r` and :math:`b_r` across it (the
  block soft-thresholding of the L2,1 penalty; an unpenalized block has
  :math:`a_r = b_r = 1`). Then :math:`f(\Delta_r) = f(b_r) I + (f(a_r) - f(b_r))
  n_r n_r^T` for any power :math:`f`.
"""

import numpy as np

__all__ = ["DiagonalJacobian", "BlockJacobian", "as_jacobian"]


class DiagonalJacobian:
    r""":math:`\Delta = \mathrm{diag}(\delta)`, read on :math:`S = \{\delta_i \ne 0\}`.

    Parameters
    ----------
    delta : ndarray of shape (n_params,)
    """

    diagonal = True

    def __init__(self, delta):
        self.delta = delta
        self.size = delta.shape[0]
        #: the active set S (sorted flat indices)
        self.idx = delta.nonzero()[0]
        #: :math:`\delta_S`
        self.d = delta[self.idx]

    def power(self, x, s):
        r""":math:`\Delta_S^s x` for ``x`` on S (``s`` in 1, -1, 0.5)."""
        if s == 1:
            return self.d * x
        if s == -1:
            return x / self.d
        return self.d ** s * x

    def apply(self, x):
        r""":math:`\Delta x` for ``x`` of length ``n_params``."""
        return self.delta * x

    def dense_inverse(self):
        r""":math:`\Delta_S^{-1}` as a dense matrix."""
        return np.diag(1.0 / self.d)


class BlockJacobian:
    r""":math:`\Delta` with blocks :math:`b_r I + (a_r - b_r) n_r n_r^T` on S (module docstring).

    Parameters
    ----------
    size : int
        Length of the vectors :math:`\Delta` acts on.
    blocks : ndarray of int of shape (m,)
        Sorted indices of the active blocks: block ``r`` is the entries
        ``blocks[r] * T + t``, ``t < T``.
    normals : ndarray of shape (m, T)
        Unit directions :math:`n_r` (any vector, e.g. zero, where :math:`a_r = b_r`).
    along, across : ndarray of shape (m,)
        :math:`a_r > 0` and :math:`b_r > 0`.
    """

    diagonal = False

    def __init__(self, size, blocks, normals, along, across):
        self.size = int(size)
        m, T = normals.shape
        self.block_size = T
        self.blocks = blocks
        self.normals = normals
        self.along = along
        self.across = across
        #: the active set S (sorted flat indices)
        self.idx = (blocks[:, None] * T + np.arange(T)).ravel()

    def power(self, x, s):
        r""":math:`\Delta_S^s x` for ``x`` on S."""
        X = x.reshape(-1, self.block_size)
        fa, fb = self.along ** s, self.across ** s
        proj = np.einsum("rt,rt->r", X, self.normals)
        return (fb[:, None] * X + ((fa - fb) * proj)[:, None] * self.normals).ravel()

    def apply(self, x):
        r""":math:`\Delta x` for ``x`` of length ``size`` (zero off S)."""
        out = np.zeros(self.size)
        out[self.idx] = self.power(x[self.idx], 1)
        return out

    def dense_inverse(self):
        r""":math:`\Delta_S^{-1}` as a dense (block diagonal) matrix."""
        m, T = self.normals.shape
        out = np.zeros((m * T, m * T))
        fa, fb = 1.0 / self.along, 1.0 / self.across
        for r in range(m):
            sl = slice(r * T, (r + 1) * T)
            n = self.normals[r]
            out[sl, sl] = fb[r] * np.eye(T) + (fa[r] - fb[r]) * np.outer(n, n)
        return out


def as_jacobian(jac):
    """``jac`` as a Jacobian object: a vector is the diagonal of a :class:`DiagonalJacobian`."""
    if isinstance(jac, np.ndarray):
        return DiagonalJacobian(jac)
    return jac
