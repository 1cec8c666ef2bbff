r"""One compiled criterion evaluation of a least-squares elastic net on fold Gram matrices.

For every fold ``k`` (training rows centred by their means :math:`\mu_k`, target by
:math:`\bar y_k`), with :math:`G = X_c^T X_c / n_k`, :math:`c = X_c^T y_c / n_k` and
:math:`\gamma = \|y_c\|^2 / n_k`, :func:`gram_cv_evaluate` solves

.. math::

    \min_w \tfrac12 (\gamma - 2 c^T w + w^T G w) + \sum_j l1_j |w_j| + \tfrac{l2}{2}\|w\|^2
    \quad (w \ge \mathrm{lower})

(the centred intercept is 0 at the optimum) by cyclic coordinate descent from the warm
start, keeping :math:`q = G w`, with sweeps over the nonzero coefficients between full
sweeps and, when that is slow (after :data:`POLISH_AFTER` epochs) and the support and
signs are stable, the exact solution on the support
(:math:`(G_{SS} + l2\,I) w_S = c_S - l1_S \odot \mathrm{sign}(w_S)`, kept when its
signs agree), until the relative duality gap (the gap over :math:`\gamma / 2`, as
:func:`~skhypergrad.solvers._gap.duality_gap` computes it with the dual point
:math:`\theta = (y_c - X_c w) / n_k`, :math:`X_c^T\theta = c - q`) is at most ``tol``.

The solution is then replaced by the exact one on its support when that has the same
signs, if the factorization is needed for the hypergradient anyway, or costs no more than
the epochs spent, or the support has at most :data:`EXACT_ALWAYS` coefficients. Then the held-out
mean squared error on the fold's test rows, read with the training
means, :math:`E_k = \frac{1}{n_t}\sum_i r_i^2`, :math:`r_i = (x_i - \mu_k)^T w - (y_i -
\bar y_k)`, its gradient on the support :math:`g_S = \frac{2}{n_t} (X_t - 1\mu_k^T)_S^T
r` and the implicit hypergradient there: :math:`(G_{SS} + l2\,I) u = g_S`,
:math:`\partial E / \partial l1_j = -\mathrm{sign}(w_j) u_j` on S (0 elsewhere),
:math:`\partial E / \partial l2 = -w_S^T u`, by Cholesky for :math:`|S| \le`
:data:`DIRECT_MAX`, by conjugate gradients otherwise or when the system is singular
(collinear columns on the support: CG then converges to its minimum-norm solution, the
right side being in the range of :math:`G_{SS}` when the held-out rows share the
training rows' collinearity), in :func:`gram_cv_conjugate_gradients`.

Compilation is most of a first fit's time (numba compiles these kernels once per
machine, then loads them from its cache), so the kernels are written to compile
little: one signature each (the caller fixes every argument's type); no array
allocated and no builtin ``min`` / ``max`` in the kernels a fit always runs (each
would compile a numba overload of its own); the conjugate-gradient path, rarely
needed, in a kernel of its own that only the fits needing it compile.
"""

import numpy as np
from numba import njit

#: largest support factored by Cholesky (for the exact solution on the support and the
#: hypergradient); larger ones use conjugate gradients for the hypergradient only
DIRECT_MAX = 512
#: evaluations of the gap in a row that did not lower the best by 10%: stop, unconverged
STALL_CHECKS = 20

#: helpers called from compiled code only: no Python or C wrapper compiled for them
_HELPER = {"error_model": "numpy", "no_cpython_wrapper": True, "no_cfunc_wrapper": True}
#: epochs after which the exact solution on a stable support is tried (a factorization,
#: :math:`O(|S|^3)`: for the slowly converging solves only)
POLISH_AFTER = 30
#: supports at most this large always end on the exact solution (its factorization
#: costs microseconds)
EXACT_ALWAYS = 64
#: most sweeps over the support between two full sweeps (and gap evaluations)
INNER_SWEEPS = 100

# status codes of a fold
OK = 0
NOT_CONVERGED = 1
SINGULAR = 2


@njit(cache=True, **_HELPER)
def _sweep(G, c, w, q, l1, l2, lower, idx, m):
    """One cyclic pass over the coordinates ``idx[:m]``; returns the largest
    ``G_jj |delta_j|``."""
    violation = 0.0
    p = w.shape[0]
    for t in range(m):
        j = idx[t]
        gjj = G[j, j]
        curv = gjj + l2
        if curv <= 0.0:
            continue
        old = w[j]
        z = c[j] - q[j] + gjj * old
        a = abs(z) - l1[j]
        new = 0.0
        if a > 0.0:
            new = a / curv if z > 0.0 else -a / curv
        if new < lower:
            new = lower
        delta = new - old
        if delta != 0.0:
            w[j] = new
            row = G[j]
            for i in range(p):
                q[i] += row[i] * delta
            step = gjj * abs(delta)
            if step > violation:
                violation = step
    return violation


@njit(cache=True, **_HELPER)
def _relative_gap(c, gamma, w, q, l1, l2, positive):
    """The relative duality gap at ``w`` (``q = G w``); see the module docstring."""
    cw = 0.0
    wq = 0.0
    s1 = 0.0
    s2 = 0.0
    g_sum = 0.0
    s_tight = 1.0
    scale = 1.0
    for j in range(w.shape[0]):
        wj = w[j]
        cw += c[j] * wj
        wq += wj * q[j]
        s1 += l1[j] * abs(wj)
        s2 += wj * wj
        u = c[j] - q[j]
        a = u if positive else abs(u)
        t = l1[j]
        if a > t:
            if l2 > 0.0:
                g_sum += (a - t) * (a - t)
                if t / a < s_tight:
                    s_tight = t / a
            else:
                if t / a < scale:
                    scale = t / a
    resid = gamma - 2.0 * cw + wq  # ||y_c - X_c w||^2 / n
    primal = 0.5 * resid + s1 + 0.5 * l2 * s2
    lin = gamma - cw               # theta^T y_c (times 1)
    if l2 > 0.0:
        dual = lin - 0.5 * resid - g_sum / (2.0 * l2)
        if g_sum > 0.0:
            scaled = s_tight * lin - 0.5 * s_tight * s_tight * resid
            if scaled > dual:
                dual = scaled
    else:
        dual = scale * lin - 0.5 * scale * scale * resid
    half = 0.5 * gamma
    return (primal - dual) / (1e-12 if 1e-12 > half else half)


@njit(cache=True, **_HELPER)
def _cho_solve(L, b, m):
    """Solve ``L L^T x = b`` (``b[:m]`` overwritten by ``x``)."""
    for i in range(m):
        s = b[i]
        for k in range(i):
            s -= L[i, k] * b[k]
        b[i] = s / L[i, i]
    for i in range(m - 1, -1, -1):
        s = b[i]
        for k in range(i + 1, m):
            s -= L[k, i] * b[k]
        b[i] = s / L[i, i]


@njit(cache=True, **_HELPER)
def _factor_support(G, l2, S, m, L):
    """``L[:m, :m]``: the lower Cholesky factor of ``G_SS + l2 I``; False when that is not
    positive definite (a pivot at or below ``1e-13`` times its largest diagonal entry)."""
    big = 0.0
    for a in range(m):
        for b in range(a + 1):
            L[a, b] = G[S[a], S[b]]
        L[a, a] += l2
        if L[a, a] > big:
            big = L[a, a]
    floor = 1e-13 * big
    for j in range(m):
        d = L[j, j]
        for k in range(j):
            d -= L[j, k] * L[j, k]
        if not d > floor:
            return False
        d = np.sqrt(d)
        L[j, j] = d
        for i in range(j + 1, m):
            t = L[i, j]
            for k in range(j):
                t -= L[i, k] * L[j, k]
            L[i, j] = t / d
    return True


@njit(cache=True, **_HELPER)
def _support(w, S, sign):
    """The nonzero coefficients of ``w`` in ``S`` and their signs; returns their number
    and a signature of the support and signs."""
    m = 0
    key = 0
    for j in range(w.shape[0]):
        if w[j] != 0.0:
            S[m] = j
            sign[m] = 1.0 if w[j] > 0.0 else -1.0
            key = key * 1000003 + (2 * j + (1 if w[j] > 0.0 else 0)) + 1
            m += 1
    return m, key


@njit(cache=True, **_HELPER)
def _exact_on_support(c, w, l1, lower, S, sign, m, L, b):
    r"""Replace ``w`` by the exact solution on its support ``S`` with signs ``sign``,
    :math:`(G_{SS} + l2\,I)^{-1}(c_S - l1_S \odot \mathrm{sign})` (``L`` its factor), when
    that solution has the same signs (and respects ``lower``); returns whether it did."""
    for a in range(m):
        b[a] = c[S[a]] - l1[S[a]] * sign[a]
    _cho_solve(L, b, m)
    for a in range(m):
        if b[a] * sign[a] <= 0.0 or b[a] < lower:
            return False
    for a in range(m):
        w[S[a]] = b[a]
    return True


@njit(cache=True, **_HELPER)
def _solve_fold(G, c, gamma, w, l1, l2, lower, tol, max_rounds, max_epochs, S, sign, L, b,
                idx, Sf, q):
    """Coordinate descent on one fold (``w`` in place, see the module docstring).

    Full sweeps (each followed by the gap, and by the exact solution on the support
    when it is stable) alternate with sweeps over the support, until one of those is
    below 0.3 times the last full sweep's violation (at most :data:`INNER_SWEEPS`).
    The solve ends after a full sweep: at most ``max_rounds + 1`` full sweeps (as many
    rounds of sweeps over the support between them) and ``max_epochs`` epochs in all.

    Returns ``(epochs, gap, status, m, factored)``: the support is ``S[:m]`` (signs
    ``sign``) and ``factored`` whether ``L`` holds the factor of ``G_SS + l2 I``
    (``Sf`` is scratch: the support ``L`` was factored for; ``q`` is scratch for
    :math:`G w`). Each kernel is called from one place (every call site is compiled
    again).
    """
    p = w.shape[0]
    positive = lower == 0.0
    for j in range(p):
        q[j] = 0.0
    for j in range(p):
        idx[j] = j
        if w[j] != 0.0:
            row = G[j]
            for i in range(p):
                q[i] += row[i] * w[j]
    epochs = 0
    best = np.inf
    stalled = 0
    last_key = -1
    failed_key = -1
    mf = -1
    gap = np.inf
    status = NOT_CONVERGED
    full = True
    m_sweep = p
    inner = 0
    violation = 0.0
    rounds = 0
    while True:
        v = _sweep(G, c, w, q, l1, l2, lower, idx, m_sweep)
        epochs += 1
        if full:
            rounds += 1
            gap = _relative_gap(c, gamma, w, q, l1, l2, positive)
            if gap <= tol:
                status = OK
                break
            if v == 0.0 or epochs >= max_epochs or rounds > max_rounds:
                break
            stalled = stalled + 1 if gap > 0.9 * best else 0
            if gap < best:
                best = gap
            if stalled >= STALL_CHECKS:
                break
            violation = v
            m, key = _support(w, S, sign)
            if epochs >= POLISH_AFTER and 0 < m <= DIRECT_MAX and key != failed_key \
                    and key == last_key:
                # the exact solution on the support (q = G w recomputed when it moved)
                mf = -1
                moved = False
                if _factor_support(G, l2, S, m, L):
                    mf = m
                    for a in range(m):
                        Sf[a] = S[a]
                    moved = _exact_on_support(c, w, l1, lower, S, sign, m, L, b)
                if moved:
                    for i in range(p):
                        q[i] = 0.0
                    for a in range(m):
                        row = G[S[a]]
                        for i in range(p):
                            q[i] += row[i] * w[S[a]]
                else:
                    failed_key = key
            last_key = key
            m_sweep = 0
            for j in range(p):
                if w[j] != 0.0:
                    idx[m_sweep] = j
                    m_sweep += 1
            full = False
            inner = 0
        else:
            inner += 1
            violation_ok = v <= 0.3 * violation
            if violation_ok or inner >= INNER_SWEEPS:
                m_sweep = 0  # back to a full sweep
        if not full and (m_sweep == 0 or epochs >= max_epochs - 1):
            for j in range(p):
                idx[j] = j
            m_sweep = p
            full = True
    m, key = _support(w, S, sign)
    factored = mf == m
    if factored:
        for a in range(m):
            if Sf[a] != S[a]:
                factored = False
                break
    return epochs, gap, status, m, factored


@njit(cache=True, **_HELPER)
def _dot(a, b, m):
    """``a[:m] . b[:m]`` (a loop: numba's ``@``, as its slicing, costs seconds of
    compilation)."""
    s = 0.0
    for i in range(m):
        s += a[i] * b[i]
    return s


@njit(cache=True, **_HELPER)
def _cg(G, l2, S, m, g, x, tol, max_iter):
    """Conjugate gradients on ``(G_SS + l2 I) x = g``; returns (iterations, residual)."""
    r = np.empty(m)
    d = np.empty(m)
    for a in range(m):
        x[a] = 0.0
        r[a] = g[a]
        d[a] = g[a]
    Ad = np.empty(m)
    rr = _dot(r, r, m)
    norm_g = np.sqrt(rr)
    if norm_g == 0.0:
        return 0, 0.0
    it = 0
    while it < max_iter and np.sqrt(rr) > tol * norm_g:
        for a in range(m):
            s = l2 * d[a]
            row = G[S[a]]
            for bb in range(m):
                s += row[S[bb]] * d[bb]
            Ad[a] = s
        alpha = rr / _dot(d, Ad, m)
        for a in range(m):
            x[a] += alpha * d[a]
            r[a] -= alpha * Ad[a]
        rr_new = _dot(r, r, m)
        for a in range(m):
            d[a] = r[a] + (rr_new / rr) * d[a]
        rr = rr_new
        it += 1
    return it, np.sqrt(rr) / norm_g


@njit(cache=True, error_model="numpy")
def gram_cv_evaluate(G, c, gamma, X_test, y_test, starts, mu, ybar, W, l1, l2, lower, tol,
                     max_rounds, max_epochs, compute_grad, folds, L, work, iwork, values,
                     g_l1, g_l2, epochs, gaps, status, n_iter_engine, residuals, to_cg):
    """Every fold of ``folds``: solve, held-out loss and (``compute_grad``) hypergradient.

    The hypergradient of a fold whose support is larger than :data:`DIRECT_MAX` or whose
    system is singular is left to :func:`gram_cv_conjugate_gradients` (``to_cg``): a
    separate kernel, compiled only when a fit needs it. No array is allocated here: the
    scratch space comes from the caller.

    Parameters
    ----------
    G : ndarray of shape (K, p, p)
        The folds' centred Gram matrices ``X_c^T X_c / n_k`` (C order).
    c : ndarray of shape (K, p)
        ``X_c^T y_c / n_k``.
    gamma : ndarray of shape (K,)
        ``||y_c||^2 / n_k``.
    X_test : ndarray of shape (n_test, p)
        The folds' held-out rows, fold after fold (uncentred, C order).
    y_test : ndarray of shape (n_test,)
    starts : ndarray of shape (K + 1,)
        Fold ``k``'s held-out rows are ``starts[k]:starts[k + 1]``.
    mu : ndarray of shape (K, p)
        The training means of the columns (zeros without an intercept).
    ybar : ndarray of shape (K,)
        The training means of the target (zeros without an intercept).
    W : ndarray of shape (K, p)
        Warm starts, replaced by the solutions.
    l1 : ndarray of shape (p,)
    l2, lower, tol : float
        L2 weight, lower bound of the coefficients (0 or ``-inf``), relative gap.
    max_rounds, max_epochs : int
        Budget of each fold's solve (see :func:`_solve_fold`).
    compute_grad : bool
    folds : ndarray of int64
        The folds evaluated.
    L : ndarray of shape (min(p, DIRECT_MAX), min(p, DIRECT_MAX))
        Scratch: a Cholesky factor.
    work : ndarray of shape (4, p)
        Scratch (float64).
    iwork : ndarray of shape (3, p)
        Scratch (int64).
    values, g_l2, gaps : ndarray of shape (K,)
        Out: held-out MSE, ``dE/dl2``, relative gap reached.
    g_l1 : ndarray of shape (K, p)
        Out: ``dE/dl1`` per feature; for a fold of ``to_cg``, the held-out gradient
        :math:`g_S` on the support instead.
    epochs, status, n_iter_engine : ndarray of int64 of shape (K,)
        Out: epochs, :data:`OK` / :data:`NOT_CONVERGED`, engine iterations (1 for
        Cholesky).
    residuals : ndarray of shape (K,)
        Out: relative residual of the hypergradient's system (nan without gradient).
    to_cg : ndarray of int64 of shape (K,)
        Out: 1 for the folds whose hypergradient is left to
        :func:`gram_cv_conjugate_gradients`, 0 for the others.
    """
    p = W.shape[1]
    sign = work[0]
    b = work[1]
    gS = work[2]
    q = work[3]
    S = iwork[0]
    idx = iwork[1]
    Sf = iwork[2]
    for f in range(folds.shape[0]):
        k = folds[f]
        w = W[k]
        Gk = G[k]
        ep, gap, st, m, factored = _solve_fold(Gk, c[k], gamma[k], w, l1, l2, lower, tol,
                                               max_rounds, max_epochs, S, sign, L, b,
                                               idx, Sf, q)
        epochs[k] = ep
        gaps[k] = gap
        status[k] = st
        to_cg[k] = 0
        if 0 < m <= DIRECT_MAX and (compute_grad or m <= EXACT_ALWAYS
                                    or m * m <= 3 * ep * Gk.shape[0]):
            # the exact solution on the support, when its factorization is the
            # hypergradient's or costs no more than the epochs spent (m^3 / 3 against
            # about epochs * p * m): values and gradients then of the exact solution
            if not factored:
                factored = _factor_support(Gk, l2, S, m, L)
            if factored:
                _exact_on_support(c[k], w, l1, lower, S, sign, m, L, b)
        # held-out residuals and the gradient on the support
        lo, hi = starts[k], starts[k + 1]
        n_t = hi - lo
        shift = -ybar[k]
        for a in range(m):
            shift += mu[k, S[a]] * w[S[a]]
        total = 0.0
        sum_r = 0.0
        for a in range(m):
            gS[a] = 0.0
        for i in range(lo, hi):
            row = X_test[i]
            z = 0.0
            for a in range(m):
                z += row[S[a]] * w[S[a]]
            r = z - shift - y_test[i]
            total += r * r
            sum_r += r
            for a in range(m):
                gS[a] += row[S[a]] * r
        values[k] = total / n_t if n_t > 0 else 0.0
        for j in range(p):
            g_l1[k, j] = 0.0
        g_l2[k] = 0.0
        residuals[k] = np.nan
        n_iter_engine[k] = 0
        if not compute_grad or m == 0:
            if compute_grad:
                residuals[k] = 0.0
            continue
        for a in range(m):
            gS[a] = 2.0 * (gS[a] - mu[k, S[a]] * sum_r) / (1 if 1 > n_t else n_t)
        if not (m <= DIRECT_MAX and (factored or _factor_support(Gk, l2, S, m, L))):
            # large, or singular (collinear columns on the support): CG, elsewhere
            for a in range(m):
                g_l1[k, S[a]] = gS[a]
            to_cg[k] = 1
            continue
        u = b
        for a in range(m):
            u[a] = gS[a]
        _cho_solve(L, u, m)
        n_iter_engine[k] = 1
        # the residual of the direct solve
        num = 0.0
        den = 0.0
        for a in range(m):
            s = l2 * u[a] - gS[a]
            row = Gk[S[a]]
            for bb in range(m):
                s += row[S[bb]] * u[bb]
            num += s * s
            den += gS[a] * gS[a]
        residuals[k] = np.sqrt(num / den) if den > 0.0 else 0.0
        dot = 0.0
        for a in range(m):
            g_l1[k, S[a]] = -sign[a] * u[a]
            dot += w[S[a]] * u[a]
        g_l2[k] = -dot


@njit(cache=True, error_model="numpy")
def gram_cv_conjugate_gradients(G, W, l2, hyper_tol, folds, g_l1, g_l2, status,
                                n_iter_engine, residuals):
    r"""The hypergradients :func:`gram_cv_evaluate` left to conjugate gradients.

    For every fold ``k`` of ``folds``, with :math:`S` and the signs the support of the
    solution ``W[k]`` and :math:`g_S` read from ``g_l1[k, S]``: conjugate gradients on
    :math:`(G_{SS} + l2\,I) u = g_S` to the relative residual ``hyper_tol`` (at most
    :math:`10 |S|` iterations), then ``g_l1[k]``, ``g_l2[k]`` as in
    :func:`gram_cv_evaluate`; ``status[k]`` becomes :data:`SINGULAR` when the residual
    stays above ``max(hyper_tol, 1e-12)``. ``n_iter_engine`` and ``residuals`` as there.
    """
    p = W.shape[1]
    S = np.empty(p, dtype=np.int64)
    sign = np.empty(p)
    gS = np.empty(p)
    u = np.empty(p)
    for f in range(folds.shape[0]):
        k = folds[f]
        w = W[k]
        m, _ = _support(w, S, sign)
        for a in range(m):
            gS[a] = g_l1[k, S[a]]
        it, res = _cg(G[k], l2, S, m, gS, u, hyper_tol, 10 * m)
        n_iter_engine[k] = it
        residuals[k] = res
        if res > max(hyper_tol, 1e-12):
            status[k] = SINGULAR
        dot = 0.0
        for j in range(p):
            g_l1[k, j] = 0.0
        for a in range(m):
            g_l1[k, S[a]] = -sign[a] * u[a]
            dot += w[S[a]] * u[a]
        g_l2[k] = -dot
