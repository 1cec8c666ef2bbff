r"""The adjoint system on the active set, preconditioned by a reference Hessian.

The reduced system of :mod:`skhypergrad.hypergrad._active_set` with a diagonal prox
Jacobian :math:`\Delta_S` reads :math:`M u = c_S`, :math:`M = g\,H_{SS} +
\mathrm{diag}(1/\delta_S - 1)`. Given a *reference* :math:`R` of the datafit's Hessian
(an approximation of :math:`H` over every parameter, e.g. the Hessian at a nearby
point kept by the inner solver), :func:`solve_with_reference` runs conjugate gradients
on :math:`M` (its products through :math:`H_{SS}` as the map gives them, two products
with the design each) preconditioned by the Cholesky factor of :math:`P = g\,R_{SS} +
\mathrm{diag}(1/\delta_S - 1)`:

.. math::

    z_k = P^{-1} r_k, \quad \alpha_k = \frac{r_k^T z_k}{p_k^T M p_k}, \quad
    x_{k+1} = x_k + \alpha_k p_k, \quad r_{k+1} = r_k - \alpha_k M p_k, \quad
    p_{k+1} = z_{k+1} + \frac{r_{k+1}^T z_{k+1}}{r_k^T z_k} p_k,

stopped when :math:`\|r_k\| \le \mathrm{tol}\,\|c_S\|`. With :math:`R = H` the first
iterate is the solution; the error contracts at the rate set by
:math:`\|P^{-1}(M - P)\|`, small when :math:`R` is the Hessian at a nearby point: a few
products instead of forming :math:`H_{SS}` (:math:`O(n |S|^2)`).
"""

import numpy as np
from scipy.linalg import LinAlgError, cho_factor, cho_solve

__all__ = ["solve_with_reference"]


def solve_with_reference(matvec, c, u0, reference, idx, step, shift, tol, max_iter):
    """``(u, n_iter, residual)`` of ``M u = c`` by preconditioned conjugate gradients,
    or None when the preconditioner is not positive definite.

    Parameters
    ----------
    matvec : callable
        ``u -> M u`` (the reduced system's product).
    c : ndarray of shape (|S|,)
    u0 : ndarray of shape (|S|,) or None
        Warm start (zeros when None).
    reference : ndarray of shape (q, q)
        The reference Hessian over every parameter.
    idx : ndarray of shape (|S|,)
        The active set's parameters.
    step : float
        The map's step ``g``.
    shift : ndarray of shape (|S|,)
        :math:`1/\\delta_S - 1`.
    tol, max_iter : float, int
        As for :func:`~skhypergrad.linalg.solve_cg` (``n_iter`` counts products with
        ``M``).
    """
    # (the active set of a smooth problem is every parameter: no copy of its rows)
    P = step * (reference if idx.shape[0] == reference.shape[0]
                else reference[np.ix_(idx, idx)])
    P[np.diag_indices_from(P)] += shift
    try:
        factor = cho_factor(P, overwrite_a=True, check_finite=False)
    except LinAlgError:
        return None
    c = np.asarray(c, dtype=np.float64)
    cnorm = float(np.linalg.norm(c))
    if cnorm == 0.0:
        return np.zeros_like(c), 0, 0.0
    n_iter = 0
    if u0 is None:
        x, r = np.zeros_like(c), c.copy()
    else:
        x = np.array(u0, dtype=np.float64)
        r = c - matvec(x)
        n_iter = 1
    z = cho_solve(factor, r, check_finite=False)
    rz = float(r @ z)
    p = z.copy()
    while float(np.linalg.norm(r)) > tol * cnorm and n_iter < max_iter:
        Mp = matvec(p)
        n_iter += 1
        pMp = float(p @ Mp)
        if not pMp > 0.0:  # breakdown: M not positive definite along p
            break
        alpha = rz / pMp
        x += alpha * p
        r -= alpha * Mp
        z = cho_solve(factor, r, check_finite=False)
        rz_new = float(r @ z)
        p = z + (rz_new / rz) * p
        rz = rz_new
    return x, n_iter, float(np.linalg.norm(r)) / cnorm
