r"""Newton's method with direct solves for a smooth datafit and an L2 penalty.

For one output, a datafit with a diagonal Newton model (per-sample curvatures
:math:`h_i`, see :meth:`~skhypergrad.datafits.BaseDatafit.newton_curvature`) and the
penalty :math:`\sum_j \frac{l2_j}2 w_j^2` (no L1 part), each iteration solves the
Newton system on the coefficients and the unpenalized intercept,

.. math::

    \Big(\frac1n \tilde X_A^T \mathrm{diag}(h_A) \tilde X_A + \mathrm{diag}(l2, 0)\Big)
    \,\delta = -\nabla P(w), \qquad \tilde X = [X, 1],

on the rows :math:`A = \{i : h_i > 0\}` only, by a Cholesky factorization: of that
``q x q`` matrix, or, when there are fewer such rows than coefficients and every
coefficient is penalized, of the ``|A| x |A|`` matrix
:math:`I + B\,\mathrm{diag}(l2)^{-1} B^T` (:math:`B = \mathrm{diag}(\sqrt{h_A/n})
X_A`, the Woodbury identity). The step along :math:`\delta` minimizes the objective on
the line (:func:`line_minimum`).

The squared hinge has the generalized Hessian :math:`h_i = 2\,1\{y_i z_i < 1\}`: its
objective is piecewise quadratic, and this is the finite Newton method of Mangasarian
(2002) and Keerthi and DeCoste (2005), exact after finitely many steps. Coordinate
descent on the same problem converges at a rate set by the conditioning of the
Hessian, which, near separability at a small L2 weight (large ``C``), is the ratio of
the largest curvature to that weight: millions of epochs where Newton takes tens of
steps.

References
----------
Mangasarian, "A finite Newton method for classification", Optim. Methods Softw. 2002.
Keerthi and DeCoste, "A modified finite Newton method for fast solution of large scale
linear SVMs", JMLR 2005.
"""

import weakref

import numpy as np
import scipy.linalg as la
from scipy.linalg import lapack
import scipy.sparse as sp

__all__ = ["newton_direction", "gram_direction", "line_minimum"]


def newton_direction(X, h, grad, l2, fit_intercept, key=None, cols=None, ridge=0.0):
    r"""The Newton step :math:`\delta` (coefficients, then the intercept) of the module's
    system, or None when the curvature is zero along some direction (no unique step).

    With ``cols``, the system of those coefficients (and the intercept) alone: the
    rows and columns ``cols`` of the curvature matrix (:func:`curvature_gram`; for
    fewer than a quarter of the coefficients, formed from their columns only), plus
    ``ridge`` times the mean of their diagonal (1 if that is 0) on the diagonal, for
    the gradient ``grad`` of the coefficients ``cols`` (then the intercept's): the
    step on a support with the other coefficients held
    (:mod:`skhypergrad.solvers._active_set_newton`).

    Parameters
    ----------
    X : ndarray (Fortran order) or CSC matrix of shape (n, p)
    h : ndarray of shape (n,)
        Per-sample curvatures (nonnegative); rows with ``h_i = 0`` are left out.
    grad : ndarray of shape (p + fit_intercept,)
        The objective's gradient: ``X^T a / n + l2 w`` for the coefficients, then
        ``mean(a)`` for the intercept.
    l2 : ndarray of shape (p,)
        The L2 weights (nonnegative).
    fit_intercept : bool
    key : object, default=None
        What the curvature matrix is kept with (:func:`curvature_gram`): the design
        ``X`` was converted from; None: not kept.
    cols : ndarray of int, default=None
        The coefficients of the step (sorted); None: all.
    ridge : float, default=0.0
        With ``cols``: the relative weight added to the diagonal.
    """
    n, p = X.shape
    if cols is not None and 4 * cols.shape[0] < p:
        # a small support: the matrix of its columns alone, in O(|A| m^2), not O(|A| q^2)
        m = cols.shape[0]
        G = np.zeros((m + fit_intercept, m + fit_intercept))
        rows = np.flatnonzero(h > 0.0)
        sub = X[:, cols]
        _add_rows(G, sub.tocsc() if sp.issparse(sub) else sub, rows, h[rows] / n,
                  fit_intercept)
        return _support_direction(G, np.arange(m), grad, l2[cols], fit_intercept, ridge)
    if cols is not None:
        return _support_direction(curvature_gram(X, h, fit_intercept, key), cols, grad, l2,
                                  fit_intercept, ridge)
    rows = np.flatnonzero(h > 0.0)
    if not fit_intercept and rows.shape[0] < p and np.all(l2 > 0.0):
        root = np.sqrt(h[rows] / n)
        B = _rows(X, rows)
        B = B.multiply(root[:, None]).tocsr() if sp.issparse(B) else B * root[:, None]
        return _woodbury(B, l2, grad)
    return gram_direction(curvature_gram(X, h, fit_intercept, key), grad, l2)


def gram_direction(G, grad, l2):
    r"""The step :math:`-(G + \mathrm{diag}(l2, 0))^{-1} g` for a curvature matrix ``G``
    of :func:`curvature_gram` (not modified), or None when that matrix is singular."""
    p = l2.shape[0]
    H = G.copy()
    H[np.arange(p), np.arange(p)] += l2
    return _newton_step(H, grad)


# the last curvature matrix of each design: ``key -> [h, G, X]``, dropped with the design
_GRAMS = weakref.WeakKeyDictionary()
#: the matrices are kept for at most this many coefficients (8 MB each)
_KEEP_MAX = 1024


def curvature_gram(X, h, fit_intercept, key=None):
    r""":math:`\frac1n \tilde X^T \mathrm{diag}(h) \tilde X` (:math:`\tilde X = [X, 1]` with
    ``fit_intercept``), a new array.

    The last one computed on ``X`` is kept with its curvatures and ``X``, on ``key`` (for
    at most 1024 coefficients; weakly: dropped with ``key``): when at most a quarter of the
    curvatures changed since, as for a
    piecewise-constant curvature (the squared hinge's, from one Newton step to the next
    and from one solve to the next in a search), it is updated by the rows that
    changed, in :math:`O(|\Delta| q^2)` instead of :math:`O(|A| q^2)`.
    """
    n, p = X.shape
    q = p + fit_intercept
    entry = None if key is None else _GRAMS.get(key)
    if entry is not None and entry[2] is X and entry[1].shape[0] == q:
        changed = np.flatnonzero(h != entry[0])
        if 4 * changed.shape[0] <= n:
            G = entry[1]
            _add_rows(G, X, changed, (h[changed] - entry[0][changed]) / n, fit_intercept)
            entry[0][changed] = h[changed]
            return G.copy()
    rows = np.flatnonzero(h > 0.0)
    G = np.zeros((q, q))
    if rows.shape[0] == n and not sp.issparse(X):
        _add_all_rows(G, X, h / n, fit_intercept)
    else:
        _add_rows(G, X, rows, h[rows] / n, fit_intercept)
    if key is not None and q <= _KEEP_MAX:
        _GRAMS[key] = [h.copy(), G.copy(), X]
    return G


def _support_direction(G, cols, grad, l2, fit_intercept, ridge):
    """:func:`newton_direction` on the coefficients ``cols`` from the whole curvature
    matrix ``G``."""
    p = G.shape[0] - fit_intercept
    idx = np.append(cols, p) if fit_intercept else cols
    H = G[np.ix_(idx, idx)]
    diag = np.arange(cols.shape[0])
    H[diag, diag] += l2[cols]
    if ridge > 0.0 and idx.shape[0]:
        mean = float(np.mean(np.diag(H)))
        H[np.diag_indices_from(H)] += ridge * (mean if mean > 0.0 else 1.0)
    return _newton_step(H, grad)


def _newton_step(H, grad):
    """``-H^{-1} grad`` by LAPACK's Cholesky factorization of ``H`` (its lower triangle,
    overwritten) and solve: :func:`scipy.linalg.cho_factor` and ``cho_solve`` with
    ``lower=True``, without their checks; None when ``H`` is not positive definite."""
    if H.shape[0] == 0:
        return np.zeros(0)
    factor, info = lapack.dpotrf(H, lower=1, overwrite_a=1, clean=0)
    if info != 0:
        if info < 0:
            raise ValueError(f"dpotrf: illegal value in argument {-info}")
        return None
    x, info = lapack.dpotrs(factor, grad, lower=1)
    if info < 0:
        raise ValueError(f"dpotrs: illegal value in argument {-info}")
    return -x


def _rows(X, rows):
    """The rows ``rows`` of ``X`` (dense, or CSR for a sparse ``X``)."""
    return X.tocsr()[rows] if sp.issparse(X) else X[rows]


def _add_rows(G, X, rows, c, fit_intercept):
    r""":math:`G \mathrel{+}= \tilde X_R^T \mathrm{diag}(c) \tilde X_R` for the rows ``R``,
    in place (``c`` of any sign)."""
    if rows.shape[0] == 0:
        return
    p = X.shape[1]
    D = _rows(X, rows)
    Dc = D.multiply(c[:, None]).tocsr() if sp.issparse(D) else D * c[:, None]
    prod = D.T @ Dc
    G[:p, :p] += prod.toarray() if sp.issparse(prod) else prod
    if fit_intercept:
        col = np.asarray(Dc.sum(axis=0)).ravel()
        G[:p, p] += col
        G[p, :p] += col
        G[p, p] += c.sum()


def _add_all_rows(G, X, c, fit_intercept):
    r""":math:`G \mathrel{+}= \tilde X^T \mathrm{diag}(c) \tilde X` for a dense ``X`` and
    ``c >= 0``: one symmetric product :math:`B^T B`, :math:`B = \mathrm{diag}(\sqrt c) X`
    (no copy of the rows)."""
    p = X.shape[1]
    root = np.sqrt(c)
    B = X * root[:, None]
    G[:p, :p] += B.T @ B
    if fit_intercept:
        col = B.T @ root
        G[:p, p] += col
        G[p, :p] += col
        G[p, p] += c.sum()


def _woodbury(B, l2, grad):
    r""":math:`-(B^T B + \mathrm{diag}(l2))^{-1} g` by
    :math:`(D + B^T B)^{-1} = D^{-1} - D^{-1} B^T (I + B D^{-1} B^T)^{-1} B D^{-1}`."""
    u = grad / l2
    BD = B.multiply(1.0 / l2).tocsr() if sp.issparse(B) else B / l2
    K = BD @ B.T
    K = K.toarray() if sp.issparse(K) else K
    K[np.diag_indices_from(K)] += 1.0
    Bu = np.asarray(B @ u).ravel()
    c = la.cho_solve(la.cho_factor(K, lower=True, check_finite=False), Bu, check_finite=False)
    return -(u - np.asarray(BD.T @ c).ravel())


def line_minimum(slope, curvature, max_steps=60, upper=np.inf):
    r"""The step ``t > 0`` minimizing a convex :math:`\phi` on the line, given its
    derivative ``slope(t)`` (:math:`\phi'(0) < 0`) and ``curvature(t)``
    (:math:`\phi''(t)`, a generalized second derivative for a piecewise quadratic).
    ``upper``: a step where :math:`\phi' \ge 0` is known (the minimizer lies below it).

    Newton's method on :math:`\phi'` from ``t = 1`` (the Newton step of the full
    problem; ``upper / 2`` when ``upper <= 1``), kept inside the bracket of the
    minimizer known so far (bisection when a
    Newton step leaves it, doubling while no point with :math:`\phi' > 0` is known); it
    stops when :math:`|\phi'(t)| \le 10^{-10} |\phi'(0)|`, when the bracket is below
    the rounding of ``t`` or after ``max_steps`` evaluations. The step returned has
    :math:`|\phi'(t)| \le 10^{-10} |\phi'(0)|` or :math:`\phi'(t) < 0` (the largest
    such step found), so that :math:`\phi(t) < \phi(0)`; 0 when none is found.
    """
    d0 = slope(0.0)
    if not d0 < 0.0:
        return 0.0
    lo, hi = 0.0, float(upper)
    t = 1.0 if hi > 1.0 else 0.5 * hi
    best = 0.0  # the largest step known with phi' <= 0
    for _ in range(max_steps):
        d = slope(t)
        if abs(d) <= 1e-10 * abs(d0):
            return t
        if d < 0.0:
            lo = best = t
        else:
            hi = t
        if hi - lo <= 1e-15 * hi:
            break
        c = curvature(t)
        step = t - d / c if c > 0.0 else np.nan
        if lo < step < hi:
            t = step
        else:
            t = 0.5 * (lo + hi) if np.isfinite(hi) else 2.0 * t
    return best
