r"""The active-set method that finishes LinearSVR's epsilon-insensitive dual (numba).

The dual, in :math:`\beta` with :math:`w = \tilde X^T \beta`, is
:math:`\min_\beta \tfrac12 \|\tilde X^T \beta\|^2 - y^T \beta + \epsilon\|\beta\|_1`,
:math:`|\beta_i| \le U_i`. On a face (the free coefficients F, :math:`0 < |\beta_i| < U_i`,
their signs :math:`s_F` kept, the others fixed) it is a quadratic in :math:`\beta_F` of
Hessian :math:`M = X_F X_F^T` (:math:`X_F` the rows of F, :math:`|F| \times p`) and
gradient :math:`g = X_F w - y_F + \epsilon s_F`.

**Face step** through the smaller of the two Gram matrices, by a Cholesky factorization
(:math:`O(\min(|F|, p)^3)`; :math:`X_F X_F^T` formed in :math:`O(|F|^2 p)`,
:math:`X_F^T X_F` kept through the steps by rank-one changes, :math:`O(p^2)` each):

- :math:`|F| \le p`: :math:`M` is (generically) nonsingular; the step is
  :math:`-M^{-1} g`.
- :math:`|F| > p`: with :math:`G = X_F^T X_F` (:math:`p \times p`, nonsingular when
  :math:`X_F` has full column rank), the range of :math:`M` is that of :math:`X_F` and
  its projector :math:`P = X_F G^{-1} X_F^T`. If :math:`g \ne P g`, the face has no
  minimizer and the step is the descent direction of zero curvature :math:`-(g - Pg)`;
  otherwise it is :math:`-M^+ g = -X_F G^{-2} X_F^T g`.

A dual point of coordinate descent leaves many more free coefficients than features:
the null steps that remove them, one a step, run in :func:`_null_phase` at one pass over
:math:`X_F` each.

A pivot of the Cholesky factorization below :data:`_PIVOT` times the largest diagonal
entry (a rank-deficient or ill-conditioned Gram matrix) sends the step to the thin SVD of
:math:`X_F` (:math:`M^+ = U S^{-2} U^T`, the null test on :math:`(I - UU^T) g`).
"""

import numpy as np
from numba import njit

#: a Cholesky pivot below this times the Gram matrix's largest diagonal entry: the face
#: step by the SVD instead (the Gram matrix squares the condition number of X_F)
_PIVOT = 1e-8
#: the gradient on a face has a component off the range of M (the face has no minimizer)
#: when that component is longer than this times the gradient
_NULL = 1e-9


@njit(cache=True)
def _cholesky(A):
    """The lower Cholesky factor of the symmetric ``A`` (in place), and whether every
    pivot is above ``_PIVOT`` times the largest diagonal entry."""
    m = A.shape[0]
    top = 0.0
    for i in range(m):
        top = max(top, A[i, i])
    floor = _PIVOT * top
    for j in range(m):
        s = A[j, j]
        for k in range(j):
            s -= A[j, k] * A[j, k]
        if not s > floor:
            return False
        A[j, j] = np.sqrt(s)
        for i in range(j + 1, m):
            s = A[i, j]
            for k in range(j):
                s -= A[i, k] * A[j, k]
            A[i, j] = s / A[j, j]
    return True


@njit(cache=True)
def _cho_solve(L, b):
    """:math:`(L L^T)^{-1} b`."""
    m = L.shape[0]
    z = b.copy()
    for i in range(m):
        s = z[i]
        for k in range(i):
            s -= L[i, k] * z[k]
        z[i] = s / L[i, i]
    for i in range(m - 1, -1, -1):
        s = z[i]
        for k in range(i + 1, m):
            s -= L[k, i] * z[k]
        z[i] = s / L[i, i]
    return z


@njit(cache=True)
def _null_or_step(g, Pg, step_of_range):
    """``(-(g - Pg), inf)`` when ``g`` leaves the range (by ``_NULL``), else
    ``(step_of_range, 1)``."""
    null = g - Pg
    if np.sqrt(np.dot(null, null)) > _NULL * (np.sqrt(np.dot(g, g)) + 1e-300):
        return -null, np.inf
    return step_of_range, 1.0


@njit(cache=True)
def _face_step_svd(XF, g):
    U, S, _ = np.linalg.svd(XF, full_matrices=False)
    cut = S[0] * max(XF.shape[0], XF.shape[1]) * np.finfo(np.float64).eps
    r = 0
    while r < S.shape[0] and S[r] > cut:
        r += 1
    U, S = np.ascontiguousarray(U[:, :r]), S[:r]
    Ug = U.T @ g
    return _null_or_step(g, U @ Ug, -(U @ (Ug / S ** 2)))


@njit(cache=True)
def face_step(XF, g, gram):
    r"""The step to the minimizer of the dual on a face, :math:`-M^+ g`, and its largest
    length (1); or, when the face has no minimizer, the descent direction of zero
    curvature :math:`-(I - M M^+)\,g` and no largest length (inf). ``gram`` is
    :math:`X_F^T X_F`, read when :math:`|F| > p`. Module docstring."""
    nF, p = XF.shape
    if nF <= p:
        L = XF @ XF.T
        if _cholesky(L):
            return -_cho_solve(L, g), 1.0
        return _face_step_svd(XF, g)
    L = gram.copy()
    if not _cholesky(L):
        return _face_step_svd(XF, g)
    z = _cho_solve(L, XF.T @ g)
    return _null_or_step(g, XF @ z, -(XF @ _cho_solve(L, z)))


@njit(cache=True)
def _rank_one(gram, x, sign):
    """``gram += sign * x x^T``."""
    for j in range(x.shape[0]):
        for k in range(x.shape[0]):
            gram[j, k] += sign * x[j] * x[k]


@njit(cache=True)
def _null_phase(F, XF, g, gram, beta, sign, free, U):
    r"""Null steps on a face of more rows than features, until it has a minimizer.

    Along a null direction :math:`d` (:math:`X_F^T d = 0`) :math:`w` does not change, nor
    does the gradient ``g`` of the coefficients that stay in F; so each step updates
    :math:`b = X_F^T g` and the Gram matrix (``gram``, in place) by the removed row
    (:math:`O(p^2)`), factors the Gram matrix (:math:`O(p^3)`) and forms
    :math:`d = -(g - X_F G^{-1} b)` (:math:`O(|F|\,p)`). Stops when F has no more rows
    than features, when ``g`` is in the range of :math:`X_F` (the face has a minimizer) or
    when the Gram matrix is ill-conditioned (the caller's SVD step). ``F``, ``XF`` and
    ``g`` are reordered; ``beta``, ``sign``, ``free`` updated in place.

    Returns
    -------
    removed : int
        The coefficients that left F; -1 when a null direction has no blocking
        coefficient (the dual unbounded below: not for finite bounds).
    """
    nF, p = XF.shape
    b = XF.T @ g
    removed = 0
    while nF > p:
        L = gram.copy()
        if not _cholesky(L):
            break
        z = _cho_solve(L, b)
        d = XF[:nF] @ z - g[:nF]
        if not np.sqrt(np.dot(d, d)) > _NULL * (np.sqrt(np.dot(g[:nF], g[:nF])) + 1e-300):
            break  # g in the range of X_F: the face has a minimizer
        t, block = np.inf, -1
        for a in range(nF):  # ratio test: keep the signs and the bounds
            i, si = F[a], d[a]
            if si == 0.0:
                continue
            if si * sign[i] < 0:
                ratio = -beta[i] / si
            else:
                ratio = (sign[i] * U[i] - beta[i]) / si
            if ratio < t:
                t, block = ratio, a
        if block < 0:
            return -1
        for a in range(nF):
            beta[F[a]] += t * d[a]
        i = F[block]
        if abs(beta[i]) >= U[i] * (1 - 1e-12):
            beta[i] = sign[i] * U[i]
        else:
            beta[i] = 0.0
            sign[i] = 0.0
        free[i] = False
        _rank_one(gram, XF[block], -1.0)
        for j in range(p):
            b[j] -= g[block] * XF[block, j]
        nF -= 1  # the last row of F takes the removed one's place
        F[block], g[block] = F[nF], g[nF]
        XF[block] = XF[nF]
        removed += 1
    return removed


@njit(cache=True)
def active_set(Xa, y, U, eps, beta, tol, max_iter):
    r"""Finish the dual from the feasible ``beta`` (in place) by a primal active-set
    method; whether it ended at a point where every coefficient off the free set satisfies
    its optimality condition to ``tol``.

    The free coefficients F (signs kept) move toward the minimizer of the dual on their
    face (:func:`face_step`), as far as the signs and bounds allow; a coefficient reaching
    0 or a bound leaves F; at the face's minimizer, the coefficient that violates its
    optimality condition most (by more than ``tol``) enters F: at 0,
    :math:`|G_i| \le \epsilon`; at :math:`+U_i`, :math:`G_i + \epsilon \le 0`; at
    :math:`-U_i`, :math:`G_i - \epsilon \ge 0` (:math:`G = \tilde X w - y`). Each step
    decreases the objective: a finite method.

    A step costs :math:`O(|F|\,p + p^3)`: :math:`w` and the Gram matrix
    :math:`X_F^T X_F` follow the steps (a coefficient leaving or entering F is a rank-one
    change of the Gram matrix); both are formed afresh, from :math:`\beta` and F, for the
    step to a face's minimizer and for the optimality test.
    """
    n, p = Xa.shape
    sign = np.sign(beta)
    free = (beta != 0) & (np.abs(beta) < U)
    XaT = np.ascontiguousarray(Xa.T)
    w = XaT @ beta
    F = np.flatnonzero(free)
    gram = Xa[F].T @ Xa[F]
    changes = 0  # rank-one changes of the Gram matrix since it was formed
    for _ in range(max_iter):
        F = np.flatnonzero(free)
        nF = F.shape[0]
        if nF:
            XF = np.empty((nF, p))
            for a in range(nF):
                XF[a] = Xa[F[a]]
            g = XF @ w
            for a in range(nF):
                g[a] += eps * sign[F[a]] - y[F[a]]
            if nF > p:
                removed = _null_phase(F, XF, g, gram, beta, sign, free, U)
                if removed < 0:
                    return False
                if removed:
                    changes += removed
                    w = XaT @ beta
                    continue
            step, t = face_step(XF, g, gram)
            if t == 1.0 and changes:  # to the face's minimizer: from a fresh Gram matrix
                gram, changes = XF.T @ XF, 0
                step, t = face_step(XF, g, gram)
            block = -1
            for a in range(nF):  # ratio test: keep the signs and the bounds
                i, si = F[a], step[a]
                if si == 0.0:
                    continue
                if si * sign[i] < 0:
                    ratio = -beta[i] / si
                else:
                    ratio = (sign[i] * U[i] - beta[i]) / si
                if ratio < t:
                    t, block = ratio, i
            if not np.isfinite(t):
                return False
            for a in range(nF):
                beta[F[a]] += t * step[a]
            w += t * (XF.T @ step)
            if block >= 0:
                if abs(beta[block]) >= U[block] * (1 - 1e-12):
                    beta[block] = sign[block] * U[block]
                else:
                    beta[block] = 0.0
                    sign[block] = 0.0
                free[block] = False
                _rank_one(gram, Xa[block], -1.0)
                changes += 1
                continue
        w = XaT @ beta
        G = Xa @ w - y
        best, enter = tol, -1
        for i in range(n):
            if free[i]:
                continue
            if beta[i] == 0:
                v = abs(G[i]) - eps
            elif beta[i] > 0:
                v = G[i] + eps
            else:
                v = eps - G[i]
            if v > best:
                best, enter = v, i
        if enter < 0:
            return True
        if beta[enter] == 0:
            sign[enter] = -np.sign(G[enter])
        free[enter] = True
        _rank_one(gram, Xa[enter], 1.0)
        changes += 1
    return False
