r"""The adjoint system of a proximal-gradient map restricted to its active set.

For a map :math:`\Phi = T(\Psi(w))` with :math:`A^T = (I - gH)\Delta`
(:math:`\Delta = \partial_z T`, diagonal or block diagonal) and
:math:`S = \{j : \delta_j \neq 0\}`, the rows S of :math:`(I - A^T)\, v = c` close on
themselves; with :math:`u = \Delta_S v_S` they read

.. math::

    \big(\Delta_S^{-1} - (I - gH)_{SS}\big)\, u
    = \big(g\,H_{SS} + \Delta_S^{-1} - I\big)\, u = c_S,

symmetric positive semidefinite (the derivation is in :mod:`skhypergrad.hypergrad.aid`).
:class:`_ActiveSet` gives its products, through :math:`H_{SS}` or one ``vjp_w`` each, and,
when :math:`|S| \le` ``_DIRECT_MAX`` and the map forms :math:`H_{SS}`, its Cholesky solve,
with the least-norm solution of a singular system (:func:`_min_norm_solve`).

A block penalty over rows of ``K`` outputs (the L2,1 penalty of the multi-task models)
whose Hessian is :math:`H_{SS} = G \otimes I_K` (multi-output least squares, ``G`` the
``m x m`` Gram matrix of the ``m`` active rows) has the system

.. math::

    \big(A_0 \otimes I_K + N D N^T\big)\, u = c_S, \qquad
    A_0 = g\,G + \mathrm{diag}(1/b_r - 1), \quad D = \mathrm{diag}(1/a_r - 1/b_r),

:math:`N` the block-diagonal ``mK x m`` matrix of the blocks' unit directions
:math:`n_r` (:class:`~skhypergrad._prox_jacobian.BlockJacobian`). By Woodbury's
identity, with :math:`K_N = N^T (A_0^{-1} \otimes I) N = A_0^{-1} \circ (n_r^T n_s)`,

.. math::

    u = (A_0^{-1} \otimes I)\big(c_S - N y\big), \qquad
    (I + D K_N)\, y = D N^T (A_0^{-1} \otimes I)\, c_S,

two ``m x m`` factorizations (:meth:`_ActiveSet.solve_kronecker`): the cost of a
system of ``m``, not ``mK``, unknowns, so it is used up to ``m \le`` ``_DIRECT_MAX``
rows whatever ``K``.
"""

import math

import numpy as np
from scipy.linalg import cho_factor, cho_solve, solve_triangular
from scipy.linalg.lapack import dposv as _posv, dpotrs as _potrs, dpstrf as _pstrf

from .._prox_jacobian import as_jacobian

#: largest active set whose reduced system is formed and factored (Cholesky)
#: instead of solved by CG: forming ``H_SS`` costs about ``|S| / 16`` products
#: with ``H_SS`` (one BLAS-3 call), fewer than CG needs at tight tolerances. A system
#: with ``H_SS = G kron I_K`` counts its ``m = |S| / K`` rows: its two ``m x m``
#: factorizations cost about ``m / K`` of its CG products (``K m^2`` each), a smaller
#: share than a dense system of ``m`` unknowns
_DIRECT_MAX = 256
#: smallest active set whose system is factored by numpy's LAPACK rather than scipy's:
#: from this size on (|S|^2 >= 10^4) OpenBLAS factors on several threads, and the numpy
#: and scipy wheels each bundle their own OpenBLAS, whose thread pools wait for each other
#: when a threaded factorization by one follows a threaded H_SS product by the other; the
#: factorization is done by the library that formed H_SS (under MKL or a shared OpenBLAS,
#: the same)
_NUMPY_CHOLESKY_MIN = 100


def _jacobi_scale(M):
    r""":math:`\mathrm{diag}(M)^{-1/2}` (1 where the diagonal is not positive): the
    symmetric scaling that gives the system a unit diagonal, whose Cholesky pivots are
    then independent of the units of the columns."""
    d = M.diagonal()
    scale = np.ones(d.shape[0])
    np.divide(1.0, np.sqrt(d, where=d > 0, out=np.ones_like(d)), out=scale, where=d > 0)
    return scale


def _jacobian(pgmap, lin, w, lam):
    """The prox's Jacobian of a proximal-gradient map at ``w``: the linearization's,
    else computed from the forward step."""
    if lin.jacobian is not None:
        return lin.jacobian
    return as_jacobian(pgmap.prox_jac_diag(pgmap.bind(lam).forward_step(w), lam))


def _has_prox_parts(pgmap):
    """Whether ``pgmap`` is split as ``Phi = T(Psi(w))`` with a diagonal ``dT/dz`` (its
    declared ``prox_parts``, see :class:`~skhypergrad.fixed_point.FixedPointMap`)."""
    return pgmap.prox_parts


class _ActiveSet:
    r"""The adjoint system of a proximal-gradient map restricted to its active set S.

    Built from the map's ``vjp_w`` (:math:`x \mapsto (I - gH)\Delta x`) and the
    prox's Jacobian :math:`\Delta`: its diagonal ``delta`` (then
    :math:`S = \{\delta \ne 0\}`), or a Jacobian object of
    :mod:`skhypergrad._prox_jacobian` (block penalties), read on S through its
    powers :math:`\Delta_S^s`; every product below costs one ``vjp_w``.
    """

    def __init__(self, vjp_w, delta, hessp_subset=None, step=None, hessian_subset=None,
                 hessian_factor=None):
        self.vjp_w = vjp_w
        self.jac = as_jacobian(delta)
        self.size = self.jac.size
        self.idx = self.jac.idx
        self.step = step
        # G of H_SS = G kron I_K for a block Jacobian over rows of K outputs (m <=
        # _DIRECT_MAX rows): the structured solve of the module docstring
        self.hess_factor = None
        if hessian_factor is not None and not self.jac.diagonal and \
                0 < self.idx.shape[0] <= _DIRECT_MAX * self.jac.block_size:
            G = hessian_factor(self.idx)
            if G is not None and G.shape[0] * self.jac.block_size == self.idx.shape[0]:
                self.hess_factor = G
        self._hessian_subset = hessian_subset
        # H_SS as a matrix (small S), or u -> H_SS u through the active columns only,
        # when the map provides them
        H = None
        if self.hess_factor is None and hessian_subset is not None and \
                0 < self.idx.shape[0] <= _DIRECT_MAX:
            H = hessian_subset(self.idx)
        self.hess_matrix = H
        if H is not None:
            self.hess_ss = H.__matmul__
        else:
            self.hess_ss = None if hessp_subset is None else hessp_subset(self.idx)

    def _system_matrix(self):
        r""":math:`(\Delta_S^{-1} - I) + g H_{SS}` (a new array) and its shift
        :math:`\Delta_S^{-1} - I` (the diagonal, or the block-diagonal matrix)."""
        M = self.step * self.hess_matrix
        if self.jac.diagonal:
            shift = 1.0 / self.jac.d - 1.0
            M.ravel()[::M.shape[0] + 1] += shift  # the diagonal (M is a new array)
        else:  # Delta_S^{-1} - I, block diagonal
            shift = self.jac.dense_inverse()
            shift.ravel()[::shift.shape[0] + 1] -= 1.0
            M += shift
        return M, shift

    def solve_direct(self, b):
        r"""``u`` solving the reduced system by Cholesky, or None when ``H_SS`` is not
        available or the matrix is not positive semidefinite.

        A singular system (a direction that neither ``H_SS`` nor the penalty sees: a
        shift of the K classes of the multinomial loss) is found by a Cholesky pivot
        below :math:`10^{-6}` times the largest, after the Jacobi scaling that gives the
        system a unit diagonal (its square below 1e-12: the rounding
        of the factorization) or a failed one, and solved by pivoted Cholesky for the
        solution of least norm (pivots below 1e-12 times the largest diagonal entry
        dropped, :func:`_min_norm_solve`), the one CG from 0 converges to when ``b`` is
        in the range. Its residual tells whether it is: when it is not (e.g. every
        training residual beyond Huber's threshold, where the datafit is linear and
        nothing fixes the unpenalized intercept), the system has no solution, CG
        diverges on it, and the least-squares solution is the answer
        (``singular=True``).

        With ``G`` of :math:`H_{SS} = G \otimes I_K`, the structured solve
        (:meth:`solve_kronecker`) first; the dense one when it fails and
        :math:`|S| \le` ``_DIRECT_MAX``.

        Returns
        -------
        (u, residual, singular) or None
        """
        if self.hess_factor is not None:
            kron = self.solve_kronecker(b)
            if kron is not None:
                return kron
            if self._hessian_subset is not None and self.idx.shape[0] <= _DIRECT_MAX:
                self.hess_matrix = self._hessian_subset(self.idx)
        if self.hess_matrix is None:
            return None
        H = self.hess_matrix
        M, shift = self._system_matrix()
        # Jacobi scaling: D M D (D u') = D b with D = diag(M)^(-1/2), so that the pivots
        # compared below measure singularity, not columns in other units
        scale = _jacobi_scale(M)
        M *= scale[:, None]
        M *= scale
        if M.shape[0] < _NUMPY_CHOLESKY_MIN:
            # LAPACK's Cholesky solve, without scipy's checks, in place: M is symmetric,
            # so M.T is the same matrix in Fortran order, factored with no copy
            factor, u, info = _posv(M.T, b * scale, lower=1, overwrite_a=1)
        else:
            try:
                factor = np.linalg.cholesky(M)
                # L.T is U = L^T in Fortran order: potrs solves U^T U u = b, no copy
                u, info = _potrs(factor.T, b * scale, lower=0)
            except np.linalg.LinAlgError:
                factor, info = None, 1
        pivots = None if info != 0 else np.abs(np.diagonal(factor))
        singular = pivots is None or \
            pivots.min(initial=np.inf) <= 1e-6 * pivots.max(initial=0.0)
        if singular:
            u = _min_norm_solve(self._system_matrix()[0], b)
            if u is None:
                return None
        else:
            u *= scale
        r = H @ u
        r *= self.step
        r += shift * u if self.jac.diagonal else shift @ u
        r -= b
        bb = float(b @ b)
        residual = math.sqrt(float(r @ r) / bb) if bb > 0 else 0.0
        return u, residual, singular  # nan when u is not finite: the caller then runs CG

    def solve_kronecker(self, b):
        r"""``(u, residual, False)`` solving the reduced system of a block Jacobian with
        :math:`H_{SS} = G \otimes I_K` by Woodbury's identity (module docstring), or None
        when :math:`A_0` is not positive definite (a singular system: the dense solve
        finds its least-norm solution) or the solution is not finite."""
        jac, G = self.jac, self.hess_factor
        m, K = jac.normals.shape
        A0 = self.step * G  # a new array
        A0.ravel()[::m + 1] += 1.0 / jac.across - 1.0
        try:
            if m < _NUMPY_CHOLESKY_MIN:
                factor = cho_factor(A0, lower=True, overwrite_a=True, check_finite=False)
                A_inv = cho_solve(factor, np.eye(m), check_finite=False)
            else:  # by the library that formed G (see _NUMPY_CHOLESKY_MIN)
                L_inv = np.linalg.inv(np.linalg.cholesky(A0))
                A_inv = L_inv.T @ L_inv
        except np.linalg.LinAlgError:
            return None
        normals = jac.normals
        d = 1.0 / jac.along - 1.0 / jac.across
        B = b.reshape(m, K)
        Y = A_inv @ B  # (A0^{-1} kron I) c_S
        capacitance = A_inv * (normals @ normals.T)
        capacitance *= d[:, None]
        capacitance.ravel()[::m + 1] += 1.0
        try:
            y = np.linalg.solve(capacitance, d * np.einsum("rk,rk->r", normals, Y))
        except np.linalg.LinAlgError:
            return None
        Y -= A_inv @ (y[:, None] * normals)
        u = Y.ravel()
        if not np.all(np.isfinite(u)):
            return None
        r = self.power(u, -1) - u
        r += self.step * (G @ Y).ravel()
        r -= b
        bb = float(b @ b)
        residual = math.sqrt(float(r @ r) / bb) if bb > 0 else 0.0
        return u, residual, False

    def embed(self, u):
        x = np.zeros(self.size)
        x[self.idx] = u
        return x

    def power(self, u, s):
        r""":math:`\Delta_S^s u` (``s`` in 1, -1, 1/2)."""
        return self.jac.power(u, s)

    def restricted(self, u):
        r""":math:`[(I - gH)\,\mathrm{embed}(u)]` (all coordinates)."""
        return self.vjp_w(self.embed(self.power(u, -1)))

    def reduced_matvec(self, u):
        r""":math:`(\Delta_S^{-1} - (I - gH)_{SS})\,u`, symmetric positive definite.

        Through ``H_SS`` directly when available (cost proportional to ``|S|``
        columns), else through one full ``vjp_w``.
        """
        if self.hess_ss is not None:
            return self.power(u, -1) - u + self.step * self.hess_ss(u)
        return self.power(u, -1) - self.restricted(u)[self.idx]

    def symmetric_jacobian(self, x):
        r""":math:`\Delta_S^{1/2} (I - gH)_{SS} \Delta_S^{1/2} x`, similar to :math:`A^T` on S."""
        return self.power(self.restricted(self.power(x, 0.5))[self.idx], 0.5)


def _min_norm_solve(M, b, rcond=1e-12):
    r"""The least-norm solution of the symmetric positive semidefinite ``M u = b``, or
    None if ``M`` is not finite or has no pivot above ``rcond`` times its largest
    diagonal entry.

    Cholesky with diagonal pivoting (LAPACK ``pstrf``) factors
    :math:`P^T M P = R^T R`, :math:`R = [R_{11}\; R_{12}]` of ``r`` rows, stopping at
    the first pivot below ``rcond`` times the largest diagonal entry (the dropped
    Schur complement is below it). The basic solution :math:`x = P [R_{11}^{-1}
    R_{11}^{-T} (P^T b)_{1:r}; 0]` is projected onto the orthogonal complement of the
    null space :math:`N = P [-R_{11}^{-1} R_{12}; I]` (``q - r`` columns, few: the
    directions the loss and the penalty ignore): the least-norm solution when ``b``
    is in the range, at the cost of a Cholesky factorization (an eigendecomposition
    costs several).
    """
    q = M.shape[0]
    top = float(np.max(np.diagonal(M), initial=0.0))
    if not (np.isfinite(top) and top > 0.0 and np.all(np.isfinite(M))):
        return None
    c, piv, rank, info = _pstrf(M, tol=rcond * top, lower=0)
    if info < 0 or rank == 0:
        return None
    perm = piv[:q] - 1
    R11, R12 = np.triu(c[:rank, :rank]), c[:rank, rank:]
    x = np.zeros(q)
    x[:rank] = solve_triangular(R11, solve_triangular(R11, b[perm[:rank]], trans="T"))
    if rank < q:
        N = np.vstack([-solve_triangular(R11, R12), np.eye(q - rank)])
        x -= N @ np.linalg.solve(N.T @ N, N.T @ x)
    u = np.empty(q)
    u[perm] = x
    return u
