r"""How fast fixed-point iterations of a map converge at a point.

For :math:`v \leftarrow A^T v + c` (the adjoint iteration, :math:`A = \partial_w\Phi`) the
error decays as :math:`O(q^k)` with :math:`q = \rho(A)`, the contraction factor. For a
proximal-gradient map it is computed exactly on the active set
(:func:`contraction_factor`, :func:`contraction_off_invariances`); for any other map a rate
is measured on the iteration itself (:func:`_fixed_point_rate`). The engines state it in
their :class:`~sklearn.exceptions.ConvergenceWarning` (:func:`convergence_rate`).
"""

import numpy as np
from scipy.sparse.linalg import LinearOperator, eigsh

from ._active_set import _ActiveSet, _has_prox_parts, _jacobian
from ._base import empirical_rate

__all__ = ["contraction_factor", "contraction_off_invariances", "convergence_rate"]


def contraction_factor(pgmap, lam, w):
    r"""Contraction factor :math:`q = \rho(A)` of a proximal-gradient map at ``w``.

    The adjoint iteration :math:`v \leftarrow A^T v + c` only mixes the
    coordinates S where :math:`\delta = \mathrm{diag}(\partial_z T) \neq 0`, where
    :math:`A^T` is similar to the symmetric matrix
    :math:`\Delta_S^{1/2} (I - gH)_{SS} \Delta_S^{1/2}`; ``q`` is the largest
    magnitude of its eigenvalues. For least squares with step :math:`g = 1/L`
    it equals :math:`(1 - g\,\mu_S) / (1 + g\,l2)` without intercept
    (:math:`\mu_S` the smallest eigenvalue of :math:`H_{SS}`). Computed
    densely when :math:`|S| \le 64`, else by Lanczos (``eigsh``, relative
    tolerance 1e-4); one ``vjp_w`` per product.

    Parameters
    ----------
    pgmap : ProxGradMap
        A map with ``forward_step`` and ``prox_jac_diag``.
    lam : ndarray of shape (n_hyper,)
        Hyperparameters.
    w : ndarray of shape (n_params,)
        Point (usually the solution).

    Returns
    -------
    q : float
        Spectral radius of the restricted Jacobian (0.0 when S is empty).
    """
    if not _has_prox_parts(pgmap):
        raise TypeError(f"contraction_factor needs a proximal-gradient map with forward_step "
                        f"and prox_jac_diag; got {type(pgmap).__name__}.")
    lam = np.atleast_1d(np.asarray(lam, dtype=np.float64))
    lin = pgmap.linearize(w, lam)
    active = _ActiveSet(lin.vjp_w, _jacobian(pgmap, lin, w, lam))
    m = active.idx.shape[0]
    if m == 0:
        return 0.0
    if m <= 64:
        M = np.column_stack([active.symmetric_jacobian(e) for e in np.eye(m)])
        return float(np.max(np.abs(np.linalg.eigvalsh(0.5 * (M + M.T)))))
    op = LinearOperator((m, m), matvec=active.symmetric_jacobian, dtype=np.float64)
    ev = eigsh(op, k=1, which="LM", tol=1e-4, v0=np.ones(m), return_eigenvectors=False)
    return float(abs(ev[0]))


def contraction_off_invariances(pgmap, lam, w, dense_max=512):
    r"""Contraction factor of a proximal-gradient map, leaving out its invariant directions.

    The largest magnitude of the eigenvalues of
    :math:`\Delta_S^{1/2} (I - gH)_{SS} \Delta_S^{1/2}` (see
    :func:`contraction_factor`) other than those equal to 1 to rounding
    (within 1e-10). Those are directions where :math:`H_{SS}` vanishes with no
    L2 shrinkage, such as the shift of every class of the multinomial loss (its
    intercepts; a feature whose every class is active): every per-sample
    Hessian vanishes there too, so no adjoint iteration, exact or stochastic,
    moves along them, and an outer loss with the same invariance has no
    component there; the convergence of the iterations is set by the other
    eigenvalues. Formed densely when :math:`|S| \le` ``dense_max`` (from
    :math:`H_{SS}` when the map provides it, else from ``|S|`` products), else
    :func:`contraction_factor` itself.

    Parameters
    ----------
    pgmap : ProxGradMap
        A map with ``forward_step`` and ``prox_jac_diag``.
    lam : ndarray of shape (n_hyper,)
        Hyperparameters.
    w : ndarray of shape (n_params,)
        Point (usually the solution).
    dense_max : int, default=512
        Largest active set formed densely.

    Returns
    -------
    q : float
    """
    lam = np.atleast_1d(np.asarray(lam, dtype=np.float64))
    lin = pgmap.linearize(w, lam)
    jac = _jacobian(pgmap, lin, w, lam)
    idx = jac.idx
    if idx.shape[0] == 0:
        return 0.0
    if idx.shape[0] > dense_max:
        return contraction_factor(pgmap, lam, w)
    H = lin.hessian_subset(idx) if lin.hessian_subset is not None else None
    active = _ActiveSet(lin.vjp_w, jac)
    if H is None:
        M = np.column_stack([active.symmetric_jacobian(e) for e in np.eye(idx.shape[0])])
    else:  # Delta_S^{1/2} (I - g H_SS) Delta_S^{1/2}, columns then rows
        M = -lin.step * H
        M[np.diag_indices_from(M)] += 1.0
        M = np.column_stack([active.power(col, 0.5) for col in M.T])
        M = np.vstack([active.power(row, 0.5) for row in M])
    ev = np.abs(np.linalg.eigvalsh(0.5 * (M + M.T)))
    return float(ev[ev < 1.0 - 1e-10].max(initial=0.0))


def convergence_rate(pgmap, lam, w, empirical):
    r"""``(name, q)``: how fast fixed-point iterations of ``pgmap`` converge at ``w``.

    For a proximal-gradient map, its contraction factor off its invariant
    directions (:func:`contraction_off_invariances`); for any other map,
    ``empirical()`` (a rate measured on the iteration itself). Computed only to
    explain a :class:`~sklearn.exceptions.ConvergenceWarning`.
    """
    if _has_prox_parts(pgmap):
        return "contraction factor q", contraction_off_invariances(pgmap, lam, w)
    return "empirical rate", empirical()


def _fixed_point_rate(matvec, b, x, n_steps=3):
    r"""Rate of :math:`x \leftarrow M x + b` measured over ``n_steps`` steps from ``x``:
    :math:`(r_{k} / r_1)^{1/(k-1)}` with :math:`r_j` the norm of the j-th step."""
    steps = []
    for _ in range(n_steps):
        x_new = matvec(x) + b
        steps.append(float(np.linalg.norm(x_new - x)))
        x = x_new
    return empirical_rate(steps)
