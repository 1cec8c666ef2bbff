r"""Coordinate descent for least squares on a precomputed Gram matrix (dense ``X``, n > p).

With :math:`G = X^T X / n`, :math:`s = X^T \mathbf 1 / n` and the gradient
:math:`c = X^T a / n` at the start of a working-set solve (:math:`a = z - y`),
the gradient of coordinate :math:`j` after the changes :math:`\delta w` and
:math:`\delta b` is

.. math::

    g_j = c_j + (G\,\delta w)_j + s_j\,\delta b, \qquad
    g_b = \bar a + s^T \delta w + \delta b,

so an epoch over a working set :math:`W` costs :math:`O(|W|^2)` instead of
:math:`O(n |W|)`: the same coordinate updates as
:func:`~skhypergrad.solvers._cd_kernels.cd_epoch` (in exact arithmetic), as
scikit-learn's ``precompute=True``.
"""

from numba import njit

from ._cd_kernels import _prox_coordinate

_FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}


@njit(cache=True, fastmath=_FASTMATH)
def gram_epoch(G, ws, c, s, mean_a, w, q, shift, l1, l2, lower, lc, lc_b, intercept):
    """One epoch over the working set, then the intercept; returns the epoch's violation.

    Parameters
    ----------
    G : ndarray of shape (p, p)
        ``X^T X / n`` (symmetric, C order); only its rows and columns ``ws`` are read.
    ws : ndarray of shape (m,)
        The working set (features).
    c : ndarray of shape (m,)
        ``X_W^T a / n`` at the start of the working-set solve.
    s : ndarray of shape (m,)
        ``X_W^T 1 / n`` (column means).
    mean_a : float
        ``mean(a)`` at the start.
    w : ndarray of shape (m,)
        Coefficients of ``W``, updated in place.
    q : ndarray of shape (m,)
        ``G_WW (w - w_start)``, updated in place.
    shift : ndarray of shape (2,)
        ``[s^T (w - w_start), b - b_start]``, updated in place.
    l1, l2 : ndarray of shape (m,)
        The L1 and L2 weights of the features of ``W``.
    lower : float
        Lower bound on the coefficients (0.0 or ``-inf``).
    lc : ndarray of shape (m,)
        Coordinate curvatures ``||X_j||^2 / n`` (the diagonal of ``G_WW``).
    lc_b : float
        Curvature of the intercept (1 for least squares).
    intercept : float
        0 without an intercept; else the unit of its violation (see
        :func:`~skhypergrad.solvers._cd_kernels.cd_epoch`).

    Returns
    -------
    violation : float
        ``max L_j |Delta w_j|`` over the epoch, and ``|dQ/db|`` for the intercept.
    """
    m = w.shape[0]
    violation = 0.0
    db = shift[1]
    for k in range(m):
        g = c[k] + q[k] + s[k] * db
        new = _prox_coordinate(w[k], g, lc[k], l1[k], l2[k], lower)
        delta = new - w[k]
        if delta != 0.0:
            w[k] = new
            row = ws[k]  # column ws[k] of the symmetric G, read along a row
            for i in range(m):
                q[i] += G[row, ws[i]] * delta
            shift[0] += s[k] * delta
            violation = max(violation, lc[k] * abs(delta))
    if intercept > 0.0:
        g_b = mean_a + shift[0] + db
        shift[1] = db - g_b / lc_b
        violation = max(violation, intercept * abs(g_b))
    return violation


@njit(cache=True, fastmath=_FASTMATH)
def gram_product(G, ws, x, out):
    """``out = G_WW x``: rows and columns ``ws`` of ``G`` times ``x``, without forming ``G_WW``."""
    m = x.shape[0]
    for i in range(m):
        row = ws[i]
        acc = 0.0
        for k in range(m):
            acc += G[row, ws[k]] * x[k]
        out[i] = acc
    return out


@njit(cache=True, fastmath=_FASTMATH)
def add_columns(X, cols, delta, shift, z):
    """``z += X[:, cols] @ delta + shift`` for Fortran-ordered ``X`` (zero ``delta`` skipped)."""
    n = z.shape[0]
    for k in range(cols.shape[0]):
        dk = delta[k]
        if dk != 0.0:
            j = cols[k]
            for i in range(n):
                z[i] += X[i, j] * dk
    if shift != 0.0:
        for i in range(n):
            z[i] += shift
