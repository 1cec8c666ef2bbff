r"""Coordinate descent's proximal Newton model minimized directly on its support.

The model of :mod:`skhypergrad.solvers._cd_kernels` for K classes (for one output,
:math:`H_i = h_i` the model's curvature, the sample weight included, and the null
directions below do not arise),

.. math::

    Q(w') = \frac1n \sum_i \left(a_i^T v_i + \frac12 v_i^T H_i v_i\right)
            + \sum_{jk} l1_j |w'_{jk}| + \frac{l2_j}2 w'^2_{jk},
    \qquad H_i = s_i(\mathrm{diag}(h_i) - h_i h_i^T),

with ``v = X(W' - W) + (b' - b)``, is a quadratic on every orthant. When its
minimizer keeps the support ``S`` of the center ``w`` (its nonzero coefficients,
plus the intercepts) and their signs, it solves the linear system

.. math::

    (H_{SS} + \mathrm{diag}(l2_S))\,\delta = -\left(g_S + l1_S \circ \mathrm{sign}(w_S)
    + l2_S \circ w_S\right),
    \qquad (H_{SS})_{(jk),(lm)} = \frac1n \sum_i x_{ij} x_{il} (H_i)_{km},

``g`` the datafit's gradient at the center (``x_ij = 1`` for an intercept). One
product of ``n x |S|`` matrices forms :math:`H_{SS}`, and the system is of the
support's size: on a small support this costs a few coordinate-descent epochs and
gives the model's exact minimizer, where coordinate descent converges only
linearly (slowly on correlated columns). The candidate is kept only when it is
the model's minimizer, which the caller checks (the signs are kept and the
model's coordinate steps at it, off the support too, vanish to the model's
tolerance); otherwise coordinate descent minimizes the model.

The loss does not change along ``(1, ..., 1)`` across the classes (intercepts,
or a feature whose K coefficients are all in ``S`` with ``l2 = 0``), so
:math:`H_{SS}` may be singular: a rank-one term along each such direction (and a
ridge of ``1e-11`` times the mean diagonal) makes it definite, and the check
rejects a candidate that is not a minimizer.

When the minimizer changes the sign of some entries, the model's minimizer on the
orthant has them at 0: with ``R`` the entries held at 0 (:math:`\delta_R = -w_R`)
and ``A = S \setminus R``,

.. math::

    (H_{AA} + \mathrm{diag}(l2_A))\,\delta_A = -\left(g_A + l1_A \circ
    \mathrm{sign}(w_A) + l2_A \circ w_A\right) - H_{AR}\,\delta_R,

a principal submatrix of the same matrix (:func:`support_step`'s ``held``):
``O(|S|^3)``, without forming products with the columns again.
"""

from typing import NamedTuple

import numpy as np
from scipy.linalg import blas, lapack

from .._hessian_blocks import softmax_hessian_upper

__all__ = ["SupportSystem", "support_step", "support_system"]

_RIDGE = 1e-11


class SupportSystem(NamedTuple):
    """The support's system, factored (:func:`support_system`)."""

    C: np.ndarray  # (n, q) the entries' columns, sorted by class
    order: np.ndarray  # the support's entries in that order
    bounds: np.ndarray  # (K + 1,) class k's entries: order[bounds[k]:bounds[k + 1]]
    factor: tuple  # the Cholesky factor (scipy's cho_factor)
    # (q, q) the matrix in that order (its upper triangle), with the L2 weights and the
    # ridge, without the null directions' rank-one terms (their groups below)
    hess: np.ndarray
    groups: list  # the entries (in that order) of each null direction
    scale: float  # the rank-one terms' weight (the mean diagonal)


def support_system(columns, features, classes, intercept, h, sw, l2_diag, work=None):
    r"""The support's linear system (module docstring), factored: a
    :class:`SupportSystem`, or None when it is not positive definite (or empty).

    Parameters
    ----------
    columns : ndarray of shape (n, f)
        Columns of ``X`` holding the support's features (those of a sparse ``X``,
        dense, or a dense ``X`` itself).
    features, classes : ndarray of int, shape (m,)
        The feature (a column of ``columns``) and the class of each coefficient of the
        support.
    intercept : bool
        Whether the K intercepts follow the m coefficients (columns of ones).
    h : ndarray of shape (n, K) or (n,)
        The class probabilities at the center; for one output (shape (n,)), the
        curvatures :math:`h_i > 0` of the model (the sample weights included): the matrix
        is then :math:`X_S^T \mathrm{diag}(h) X_S / n + \mathrm{diag}(l2)`, one class.
    sw : ndarray of shape (n,) or (0,)
        The sample weights of the Hessians (empty: unit weights; not read for one
        output).
    l2_diag : ndarray of shape (m + K * intercept,)
        The L2 weights (0 for the intercepts), added to the diagonal.
    work : dict, default=None
        Buffers kept from one call to the next (the system returned lives in them
        until the next call with the same ``work``).

    The system's matrix is :math:`(D - M^T M) / n + \mathrm{diag}(l2)` with
    :math:`M_{i,(jk)} = \sqrt{s_i} x_{ij} h_{ik}` (one symmetric rank-``n`` product) and
    :math:`D` block diagonal over the classes, :math:`D_k = X_{S_k}^T \mathrm{diag}(s
    h_k) X_{S_k}` (the entries are ordered by class for it); it is factored by Cholesky
    after ``1e-11`` times its mean diagonal is added to the diagonal (the singular
    directions, see the module docstring).
    """
    one = h.ndim == 1  # one output: the curvatures h_i (weighted), no class structure
    n, K = h.shape[0], 1 if one else h.shape[1]
    f = columns.shape[1]
    if intercept:  # the column of ones, feature f (not stored: its entries set below)
        features = np.concatenate((features, np.full(K, f, dtype=features.dtype)))
        classes = np.concatenate((classes, np.arange(K, dtype=classes.dtype)))
    if classes.shape[0] == 0:
        return None
    # the entries sorted by class: each D_k is a contiguous diagonal block
    order = np.argsort(classes, kind="stable")
    bounds = np.searchsorted(classes[order], np.arange(K + 1))
    # in the buffers of ``work`` (from one call to the next): fresh (n, q) temporaries
    # cost their page faults, more than the products on them
    q = order.shape[0]
    # rows of the transposes: contiguous copies
    C = _buffer(work, "C", (n, q))
    if f:
        np.take(np.asfortranarray(columns).T, features[order], axis=0, out=C.T, mode="clip")
    if intercept:
        C[:, features[order] == f] = 1.0
    M = _buffer(work, "M", (n, q))
    hess = _buffer(work, "hess", (q, q), exact=True)
    if one:  # (sqrt(h) C)^T (sqrt(h) C)
        np.multiply(C, np.sqrt(h)[:, None], out=M)
        hess = blas.dsyrk(1.0, M, beta=0.0, c=hess, trans=1, overwrite_c=1)
    else:
        np.take(np.asfortranarray(h).T, classes[order], axis=0, out=M.T, mode="clip")
        hess = softmax_hessian_upper(C, M, bounds, sw, hess)
    del M
    hess /= n
    diag = (np.arange(q),) * 2  # np.diag_indices_from's, without its shape checks
    # the mean as np.mean forms it (np.add.reduce over q), without its dispatch
    scale = max(float(np.add.reduce(hess[diag])) / q, 0.0)
    hess[diag] += l2_diag[order] + _RIDGE * scale
    groups = [] if one else _null_groups(features[order], l2_diag[order] != 0.0, K)
    factor = _factor(hess, groups, scale, _buffer(work, "factor", (q, q), exact=True))
    if factor is None:
        return None
    return SupportSystem(C, order, bounds, factor, hess, groups, scale)


def _null_groups(features, penalized, K):
    """The entries of each exact null direction, a feature's K entries unpenalized by L2
    (``features`` and ``penalized`` per entry): its gradient is 0 up to rounding, so a
    rank-one term keeps the step along it at rounding instead of rounding over the ridge."""
    f = int(features.max(initial=-1)) + 1
    counts = np.bincount(features, minlength=f)
    unpenalized = np.bincount(features, weights=penalized, minlength=f) == 0
    return [np.flatnonzero(features == j) for j in np.flatnonzero((counts == K) & unpenalized)]


def _factor(hess, groups, scale, out):
    """The Cholesky factor of ``hess`` plus ``scale`` times the rank-one term of each of
    ``groups``, computed in ``out`` (None if not positive definite)."""
    out[...] = hess
    for g in groups:
        out[np.ix_(g, g)] += scale
    return _cholesky(out)


def _cholesky(a):
    """``(U, False)`` with ``U^T U = a`` (``U`` in the upper triangle of ``a``,
    overwritten when Fortran-ordered; the lower triangle left as it was), as
    :func:`scipy.linalg.cho_factor` returns it, from LAPACK's ``dpotrf`` directly (the
    wrapper's checks cost more than the factorization of a small support's system);
    None if ``a`` is not positive definite."""
    factor, info = lapack.dpotrf(a, lower=0, overwrite_a=1, clean=0)
    if info < 0:
        raise ValueError(f"dpotrf: illegal value in argument {-info}")
    return None if info > 0 else (factor, False)


def _cho_solve(factor, b):
    """``x`` with ``U^T U x = b`` for ``factor = (U, False)`` (:func:`_cholesky`), from
    LAPACK's ``dpotrs`` (:func:`scipy.linalg.cho_solve` without its checks; ``b`` is
    not overwritten)."""
    x, info = lapack.dpotrs(factor[0], b, lower=0)
    if info < 0:
        raise ValueError(f"dpotrs: illegal value in argument {-info}")
    return x


def _buffer(work, name, shape, exact=False):
    """A Fortran-ordered float64 array of ``shape`` in the buffer ``name`` of ``work`` (a
    dict; None: a new array), grown when too small; its leading columns when larger
    (contiguous), unless ``exact``. New buffers are zeros; a reused one holds what was
    written to it last (finite)."""
    if work is None:
        return np.zeros(shape, order="F")
    buf = work.get(name)
    if buf is None or buf.shape[0] != shape[0] or buf.shape[1] < shape[1] or \
            (exact and buf.shape[1] != shape[1]):
        # zeros: the system's lower triangle is never read (BLAS writes the upper)
        buf = work[name] = np.zeros(shape, order="F")
    return buf[:, :shape[1]]


def support_step(system, rhs, held=None):
    """The step :math:`\\delta` solving ``system`` (:func:`support_system`) for the
    gradient ``rhs`` of the model at its center on the support (penalty included; the
    entries in the support's order), and the prediction change ``v`` it makes, shape
    (n, K), or (n,) for one output.

    ``held``: a mask of the entries held at 0 (boolean, in the support's order) and
    their steps :math:`\\delta_R = -w_R`; the other entries solve the system's
    principal submatrix (module docstring).
    """
    C, order, bounds, factor = system[:4]
    K = bounds.shape[0] - 1
    if held is None:
        step = -_cho_solve(factor, rhs[order])
    else:
        step = _held_step(system, rhs[order], held[0][order], held[1][order])
        if step is None:
            return None
    v = np.zeros((C.shape[0], K), order="F")
    for k in range(K):
        e = slice(bounds[k], bounds[k + 1])
        v[:, k] = C[:, e] @ step[e]
    delta = np.empty_like(step)
    delta[order] = step
    return delta, (v[:, 0] if K == 1 else v)


def _held_step(system, rhs, held, fixed):
    """The step of :func:`support_step` with the entries ``held`` (a mask, the system's
    order) fixed at the steps ``fixed`` (read where ``held``), in the system's order;
    None if the submatrix is not positive definite.

    Only the upper triangle of ``system.hess`` is read: the free entries keep their
    order, so their submatrix's upper triangle is in it, and the coupling
    :math:`H_{AR}` of a free entry ``a`` with a held one ``r`` is read at ``(a, r)``
    when ``a < r``, else at ``(r, a)``.
    """
    hess = system.hess
    free, at = np.flatnonzero(~held), np.flatnonzero(held)
    step = np.where(held, fixed, 0.0)
    if free.shape[0]:
        groups = []
        if system.groups:
            kept = np.cumsum(~held) - 1  # an entry's position among the free ones
            groups = [kept[g] for g in system.groups if not np.any(held[g])]
        sub = hess.take(free, axis=0).take(free, axis=1)
        factor = _factor(sub, groups, system.scale, sub)
        if factor is None:
            return None
        rows, cols = free[:, None], at[:, None]  # np.ix_'s, without its checks
        cross = np.where(rows < at, hess[rows, at], hess[cols, free].T)
        step[free] = -_cho_solve(factor, rhs[free] + cross @ fixed[at])
    return step
