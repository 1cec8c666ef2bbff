r"""Matrix-free linear solvers with one signature.

Every solver here is called as

.. code-block:: python

    x, n_iter, residual = solver(matvec, b, x0=None, tol=1e-10, max_iter=1000)

where ``matvec`` is a function ``u -> M u`` on 1-d arrays (the matrix is never
formed), ``x0`` a starting point (zeros when None), ``n_iter`` the number of
``matvec`` calls made and ``residual`` the final residual divided by
``||b||``. Every solver stops as soon as that relative residual is at most
``tol``, or after ``max_iter`` products. What differs is the equation:

=========================  =========================  ===============================
solver                     solves                     needs
=========================  =========================  ===============================
:func:`solve_cg`           :math:`M x = b`            ``M`` symmetric positive definite
:func:`solve_fixed_point`  :math:`x = M x + b`        ``M`` a contraction
                                                      (spectral radius < 1)
:func:`solve_gmres`        :math:`M x = b`            ``M`` nonsingular
=========================  =========================  ===============================

When ``b = 0`` every solver returns ``x = 0`` without calling ``matvec`` (the
unique solution when the system is nonsingular).
"""

import numpy as np
from scipy.sparse.linalg import LinearOperator, gmres

__all__ = ["solve_cg", "solve_fixed_point", "solve_gmres"]


_SIGNATURE = """    Parameters
    ----------
    matvec : callable
        ``u -> M u`` for 1-d arrays of the shape of ``b``.
    b : ndarray of shape (n,)
        Right-hand side (constant term of the fixed-point equation).
    x0 : ndarray of shape (n,), default=None
        Starting point (warm start); zeros when None.
    tol : float, default=1e-10
        Value of ``residual`` (below) at which to stop.
    max_iter : int, default=1000
        Maximum number of products with ``M``{max_iter_note}.

    Returns
    -------
    x : ndarray of shape (n,)
        Approximate solution (last iterate).
    n_iter : int
        Number of products with ``M``.
    residual : float
        {residual}"""


def _document(**fields):
    """Fill the shared Parameters / Returns sections into a solver's docstring."""
    fields.setdefault("max_iter_note", "")

    def decorate(func):
        func.__doc__ = func.__doc__.replace("{signature}", _SIGNATURE.format(**fields))
        return func

    return decorate


def _start(b, x0):
    b = np.asarray(b, dtype=np.float64)
    x = np.zeros_like(b) if x0 is None else np.array(x0, dtype=np.float64)
    if x.shape != b.shape:
        raise ValueError(f"x0 has shape {x.shape}, expected {b.shape}.")
    return b, x, float(np.linalg.norm(b))


@_document(residual=r":math:`\|b - M x\| / \|b\|` (recursively updated).")
def solve_cg(matvec, b, x0=None, tol=1e-10, max_iter=1000):
    r"""Conjugate gradients for :math:`M x = b`, ``M`` symmetric positive definite.

    With :math:`r_0 = b - M x_0`, :math:`p_0 = r_0`:

    .. math::

        \alpha_k = \frac{r_k^T r_k}{p_k^T M p_k}, \quad
        x_{k+1} = x_k + \alpha_k p_k, \quad r_{k+1} = r_k - \alpha_k M p_k, \quad
        p_{k+1} = r_{k+1} + \frac{r_{k+1}^T r_{k+1}}{r_k^T r_k} p_k,

    stopped when :math:`\|r_k\| \le \mathrm{tol}\,\|b\|`. The residual is
    updated recursively (one product per iteration).

{signature}
    """
    b, x, bnorm = _start(b, x0)
    if bnorm == 0.0:
        return np.zeros_like(b), 0, 0.0
    n_iter = 0
    if x0 is None:
        r = b.copy()
    else:
        r = b - matvec(x)
        n_iter = 1
    rr = float(r @ r)
    p = r.copy()
    while np.sqrt(rr) > tol * bnorm and n_iter < max_iter:
        Mp = matvec(p)
        n_iter += 1
        pMp = float(p @ Mp)
        if pMp <= 0.0:  # breakdown: M not positive definite along p (or p = 0)
            break
        alpha = rr / pMp
        x += alpha * p
        r -= alpha * Mp
        rr_new = float(r @ r)
        p = r + (rr_new / rr) * p
        rr = rr_new
    return x, n_iter, np.sqrt(rr) / bnorm


@_document(residual=r":math:`\|x_k - x_{k-1}\| / \|b\|`, the relative residual of the"
           "\n        second-to-last iterate (nan when ``max_iter = 0``).")
def solve_fixed_point(matvec, b, x0=None, tol=1e-10, max_iter=1000):
    r"""Fixed-point iteration for :math:`x = M x + b`, ``M`` a contraction.

    .. math::

        x_{k+1} = M x_k + b,

    which converges linearly, :math:`\|x_k - x^*\| = O(\rho(M)^k)`, and is stopped
    when the step :math:`\|x_{k+1} - x_k\| = \|(M - I) x_k + b\|` (the residual
    of :math:`x_k`) is at most :math:`\mathrm{tol}\,\|b\|`; ``x_{k+1}`` is
    returned.

{signature}
    """
    b, x, bnorm = _start(b, x0)
    if bnorm == 0.0:
        return np.zeros_like(b), 0, 0.0
    residual = np.nan
    for n_iter in range(1, max_iter + 1):
        x_new = matvec(x) + b
        residual = float(np.linalg.norm(x_new - x)) / bnorm
        x = x_new
        if residual <= tol:
            return x, n_iter, residual
    return x, max_iter, residual


@_document(residual=r":math:`\|b - M x\| / \|b\|` (recomputed exactly, one extra product"
           "\n        not counted in ``n_iter``).",
           max_iter_note=",\n        rounded up to whole restart cycles of 50")
def solve_gmres(matvec, b, x0=None, tol=1e-10, max_iter=1000):
    r"""GMRES for :math:`M x = b`, ``M`` any nonsingular matrix.

    Minimizes :math:`\|b - M x\|` over :math:`x_0 + \mathcal{K}_k(M, r_0)` (scipy's
    :func:`scipy.sparse.linalg.gmres`, restarted every 50 iterations), stopped
    when :math:`\|b - M x_k\| \le \mathrm{tol}\,\|b\|`.

{signature}
    """
    b, x, bnorm = _start(b, x0)
    if bnorm == 0.0:
        return np.zeros_like(b), 0, 0.0
    counter = [0]

    def counted(u):
        counter[0] += 1
        return matvec(np.asarray(u).ravel())

    n = b.shape[0]
    op = LinearOperator((n, n), matvec=counted, dtype=np.float64)
    restart = min(50, n)
    x, _ = gmres(op, b, x0=x, rtol=tol, atol=0.0, restart=restart,
                 maxiter=max(1, -(-max_iter // restart)))
    n_iter = counter[0]
    residual = float(np.linalg.norm(b - matvec(x))) / bnorm
    return x, n_iter, residual
