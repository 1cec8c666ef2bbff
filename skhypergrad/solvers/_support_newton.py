r"""The multinomial proximal Newton model minimized directly on its support.

The model of :mod:`skhypergrad.solvers._cd_kernels` for K classes,

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
:math:`H_{SS}` may be singular: the system is solved in the least-squares sense
(eigenvalues below ``1e-10`` times the largest are dropped), and the check
rejects a candidate that is not a minimizer.
"""

import numpy as np
import scipy.sparse as sp
from scipy.linalg import blas, cho_factor, cho_solve

__all__ = ["support_columns", "support_newton_step"]

_RIDGE = 1e-11


def support_columns(X, mu, features):
    """The columns ``features`` of ``X`` as a dense (n, m) array (``X_j - mu_j`` when the
    column means ``mu`` of an implicitly centred sparse ``X`` are given)."""
    cols = X[:, features]
    cols = cols.toarray() if sp.issparse(cols) else np.asarray(cols, dtype=np.float64)
    if mu is not None:
        cols = cols - mu[features]
    return cols


def support_newton_step(cols, classes, intercept, a, h, sw, rhs, l2_diag):
    r"""The step :math:`\delta` of the support's linear system (module docstring), and
    the prediction change ``v`` it makes, shape (n, K); None when the system is not
    positive definite.

    Parameters
    ----------
    cols : ndarray of shape (n, m)
        The column of each coefficient of the support (its feature's, repeated for
        each of its classes in the support).
    classes : ndarray of int, shape (m,)
        The class of each of them.
    intercept : bool
        Whether the K intercepts follow the m coefficients (columns of ones).
    a : ndarray of shape (n, K)
        The datafit's derivative in the predictions at the center (times n).
    h : ndarray of shape (n, K)
        The class probabilities at the center.
    sw : ndarray of shape (n,) or (0,)
        The sample weights of the Hessians (empty: unit weights).
    rhs : ndarray of shape (m + K * intercept,)
        The gradient of the model at the center on the support (penalty included).
    l2_diag : ndarray of shape (m + K * intercept,)
        The L2 weights (0 for the intercepts), added to the diagonal.

    The system's matrix is :math:`(D - M^T M) / n + \mathrm{diag}(l2)` with
    :math:`M_{i,(jk)} = \sqrt{s_i} x_{ij} h_{ik}` (one symmetric rank-``n`` product) and
    :math:`D` block diagonal over the classes, :math:`D_k = X_{S_k}^T \mathrm{diag}(s
    h_k) X_{S_k}`; it is factored by Cholesky after ``1e-11`` times its mean diagonal
    is added to the diagonal (the singular directions, see the module docstring).
    """
    n, K = h.shape
    m = cols.shape[1]
    q = m + K * intercept
    M = np.empty((n, q), order="F")
    np.multiply(cols, h[:, classes], out=M[:, :m])
    if intercept:
        M[:, m:] = h
        classes = np.append(classes, np.arange(K))
    weights = h
    if sw.shape[0]:
        M *= np.sqrt(sw)[:, None]
        weights = h * sw[:, None]
    hess = blas.dsyrk(-1.0, M, trans=1)  # upper triangle: -M^T M
    del M
    blocks = []
    for k in range(K):
        e = np.flatnonzero(classes == k)
        Ck = np.empty((n, e.shape[0]), order="F")
        f = e[e < m]
        Ck[:, :f.shape[0]] = cols[:, f]
        if f.shape[0] < e.shape[0]:
            Ck[:, f.shape[0]:] = 1.0
        hess[np.ix_(e, e)] += (Ck * weights[:, k:k + 1]).T @ Ck
        blocks.append((e, Ck))
    hess /= n
    diag = np.diag_indices_from(hess)
    hess[diag] += l2_diag + _RIDGE * max(float(np.mean(hess[diag])), 0.0)
    try:
        factor = cho_factor(hess, lower=False, overwrite_a=True, check_finite=False)
    except np.linalg.LinAlgError:
        return None
    delta = -cho_solve(factor, rhs, check_finite=False)
    v = np.zeros((n, K), order="F")
    for k, (e, Ck) in enumerate(blocks):
        v[:, k] = Ck @ delta[e]
    return delta, v
