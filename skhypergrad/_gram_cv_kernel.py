r"""One compiled criterion evaluation of a least-squares elastic net on fold Gram matrices.

For every fold ``k`` (training rows centred by their means :math:`\mu_k`, target by
:math:`\bar y_k`), with :math:`G = X_c^T X_c / n_k`, :math:`c = X_c^T y_c / n_k` and
:math:`\gamma = \|y_c\|^2 / n_k`, :func:`gram_cv_evaluate` solves

.. math::

    \min_w \tfrac12 (\gamma - 2 c^T w + w^T G w) + \sum_j l1_j |w_j| + \tfrac{l2}{2}\|w\|^2
    \quad (w \ge \mathrm{lower})

(the centred intercept is 0 at the optimum) by cyclic coordinate descent from the warm
start, keeping :math:`q = G w`, with sweeps over the nonzero coefficients between full
sweeps and, when the support and signs are stable and the epochs still needed (as the
gap's rate predicts them) cost more than a factorization, the exact solution on the
support (:math:`(G_{SS} + l2\,I) w_S = c_S - l1_S \odot \mathrm{sign}(w_S)`, kept
when its signs agree where ``l1_j > 0``, else a step towards it up to the first such sign
change, then the exact
solution on the rest of the support), until the
relative duality gap (the gap over :math:`\gamma / 2`, as
:func:`~skhypergrad.solvers._gap.duality_gap` computes it with the dual point
:math:`\theta = (y_c - X_c w) / n_k`, :math:`X_c^T\theta = c - q`) is at most ``tol``
plus its rounding floor (:func:`_relative_gap`: the gradient :math:`c - q` is resolved
no better than the rounding of its terms, which cancel on uncentred columns). A solve
stopped above it (its budget, or a gap that no longer falls) and ended on the exact
solution of its support (below) is measured again there.
It does so at every point of a path of weights in turn, each warm-started from the
previous one's solutions, until the path is past its minimum (one point for a single
evaluation).

The solution is then replaced by the exact one on its support when that has the same
signs, if the factorization is needed for the hypergradient anyway, or costs no more than
the epochs spent, or the support has at most :data:`EXACT_ALWAYS` coefficients. Then
the held-out mean squared error on the fold's test rows, read with the training
means, :math:`E_k = \frac{1}{n_t}\sum_i r_i^2`, :math:`r_i = (x_i - \mu_k)^T w - (y_i -
\bar y_k)`, its gradient on the support :math:`g_S = \frac{2}{n_t} (X_t - 1\mu_k^T)_S^T
r` and the implicit hypergradient there: :math:`(G_{SS} + l2\,I) u = g_S`,
:math:`\partial E / \partial l1_j = -\mathrm{sign}(w_j) u_j` on S (0 elsewhere),
:math:`\partial E / \partial l2 = -w_S^T u`, by Cholesky for :math:`|S| \le`
:data:`DIRECT_MAX`, by conjugate gradients for larger supports (left to the caller,
:func:`skhypergrad._gram_cv._deferred_hypergradients`).

**Singular supports.** With collinear columns on the support (e.g. one-hot blocks with
every level, whose centred columns sum to 0, at ``l2 = 0``), :math:`A = G_{SS} + l2\,I`
is singular: its factorization drops the coordinates whose pivot is at or below
``1e-13`` times the largest diagonal entry (:func:`_semidefinite_cholesky`). The
solutions on the support then form an affine set :math:`w + \ker A`, all with the same
training fit; the one kept is the coordinate-descent iterate corrected by the basic
solution (:func:`_exact_on_support`). The hypergradient is :math:`u = A^+ g_S`, the
least-norm solution (:func:`_least_norm`, in :func:`gram_cv_least_norm_hypergradients`:
the limit of the nonsingular systems' as ``l2 -> 0+``, the one conjugate gradients from
0 converge to). It is well defined when the held-out rows share the training rows'
collinearity (:math:`X_{t,S} v = 1 \mu_k^T v` for :math:`v \in \ker A`, as for one-hot
blocks): then :math:`g_S \perp \ker A`, the held-out loss is the same at every
solution, and since a solution has :math:`X_S^T \theta = l1_S \odot
\mathrm{sign}(w_S)` with :math:`X_{c,S} v = 0`, :math:`l1_S \odot \mathrm{sign}(w_S)
\perp \ker A`: the derivative in a common L1 weight, :math:`-\sum_j \mathrm{sign}(w_j)
u_j` (the Lasso's ``alpha``), is the same for every solution :math:`u` of :math:`A u =
g_S`. Per-coefficient L1 weights get the least-norm one. When :math:`g_S` is not in
the range of :math:`A` (relative residual above the engine's ``hyper_tol``) the fold
reports :data:`SINGULAR`.

Compilation is most of a first fit's time on folds too large to run these kernels as
Python (:class:`~skhypergrad._jit.TieredKernel`; numba compiles them once per machine,
then loads them from its cache), so the kernels are written to compile
little (the time grows with the lines of kernel, and a function's code is optimized
again in every kernel calling it): one signature each (the caller fixes every
argument's type, and an integer handed to a helper is never a local counter started at
a constant, which numba types as that literal and compiles the helper for); no array
allocated and no builtin ``min`` / ``max`` in the kernels (each would compile a numba
overload of its own); each helper called from as few places as possible (every call
site is compiled again); the solve of a fold written in :func:`gram_cv_evaluate` itself
(a helper is compiled in a library of its own, then again in every kernel calling it,
with all the helpers it calls); the hypergradients of singular supports (the least-norm
solution), rarely needed, in a kernel of their own that only the fits needing them
compile, and those of large supports (conjugate gradients, on BLAS products) left to
NumPy. They compile through :data:`~skhypergrad._jit.LeanPipeline` (the numba passes
such kernels need, without the SSA form: a variable assigned module constants, as the
fold's status, casts them to ``np.int64``), and without numba's reference counting
(``_nrt=False``): every array they read or write is the caller's, alive for the whole
call, so the increments and decrements of a reference count that numba otherwise emits
around every view taken (``G[k]``, a row) are neither needed nor compiled (nor called,
at every such view, while the kernel runs). A kernel that allocated an array would not
compile (a typing error), rather than run without its memory managed.
"""

import numpy as np
from numba import njit

from ._jit import LeanPipeline

#: largest support factored by Cholesky (for the exact solution on the support and the
#: hypergradient); larger ones use conjugate gradients (NumPy) for the hypergradient
DIRECT_MAX = 512
#: a pivot of a support's factorization at or below this times the largest diagonal entry
#: is taken as 0 (:func:`_semidefinite_cholesky`): the resolution of the factored matrix
PIVOT_FLOOR = 1e-13
#: evaluations of the gap in a row that did not lower the best by 10%: stop, unconverged
STALL_CHECKS = 20

#: options of every kernel here: no C wrapper, the lean pipeline, and no reference counting
#: (numba's ``_nrt=False``: the kernels allocate nothing, see the module docstring)
_KERNEL = {"error_model": "numpy", "no_cfunc_wrapper": True, "pipeline_class": LeanPipeline,
           "_nrt": False}
#: helpers called from compiled code only: no Python wrapper compiled for them either
_HELPER = dict(_KERNEL, no_cpython_wrapper=True)
#: epochs after which the exact solution on a stable support is tried whatever the
#: gap's rate predicts
POLISH_AFTER = 30
#: epochs before which the exact solution is not tried (the gap's rate is not known)
EARLY_POLISH = 3
#: a factorization of ``m`` coordinates costs about as much as ``m^2 / (FACTOR_SWEEPS p)``
#: epochs that move ``m`` coordinates (``m^3 / 3`` vectorized multiply-adds against ``m p``
#: per epoch: measured about 8 times faster per multiply-add)
FACTOR_SWEEPS = 8
#: supports at most this large always end on the exact solution (its factorization
#: costs microseconds)
EXACT_ALWAYS = 64
#: most sweeps over the support between two full sweeps (and gap evaluations)
INNER_SWEEPS = 100
#: a step towards the exact solution on a support that stopped where a coefficient reached
#: 0 is followed by the exact solution on the rest of the support (that one held at 0), at
#: most this many times in a row
HOLD_ROUNDS = 8

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
def _relative_gap(G, c, gamma, w, q, l1, l2, positive):
    r"""``(gap, floor)``: the relative duality gap at ``w`` (``q = G w``; see the module
    docstring) and its rounding floor.

    With ``l2 > 0`` the gap is summed over the features in the separable form of
    :mod:`skhypergrad.solvers._gap` (from :math:`u = c - q`, free of the rounding of
    the objective's values, whose terms :math:`c_j w_j` and :math:`w_j q_j` may be
    orders of magnitude above it: the columns of ``X + 1e4`` without an intercept), the
    smaller of it and the gap at the point rescaled into :math:`|u_j| \le l1_j`. Its
    floor is that of the gradient :math:`u_j` (see
    :func:`~skhypergrad.solvers._gap.separable_gap_floor`): :math:`c_j` less a sum of
    ``p`` terms :math:`G_{jk} w_k`, at most :math:`\sqrt{G_{jj}\gamma}` and
    :math:`\sqrt{G_{jj}}\sqrt{G_{kk}}|w_k|` in size (Cauchy-Schwarz), rounded at each
    of its additions (and in the Gram matrices' own entries) with no sign pattern, is
    resolved no better than :math:`\sqrt p\,u` times the root sum of squares of its
    terms, :math:`\delta_j = u\sqrt{p\,G_{jj}}(\sqrt\gamma + \sqrt{\sum_k G_{kk}
    w_k^2})`, ``u`` the float64 machine epsilon; the floor is :math:`\sum_j
    \delta_j^2 / (2\,l2)`, over :math:`\gamma / 2` like the gap. With ``l2 = 0`` the
    gap is that of the point rescaled by :math:`s = \min_j l1_j / |u_j|`, whose value
    moves with ``s`` by :math:`\theta^T X w = u^T w`, about :math:`l1 \|w\|_1` near the
    solution: an error :math:`\delta` of the largest :math:`|u_j|` moves it by
    :math:`\delta \|w\|_1`, and the floor is :math:`\max_j \delta_j \|w\|_1`. Both
    are far below any tolerance unless the columns' terms cancel: without an
    intercept, the columns of ``X + 1e4`` (:math:`G_{jk} \approx 10^8`) at weights
    that resolve their spread (``1e-3``)."""
    cw = 0.0
    wq = 0.0
    s1 = 0.0
    s2 = 0.0
    g_sum = 0.0
    s_tight = 1.0
    scale = 1.0
    separable = 0.0
    trace = 0.0
    size = 0.0
    top = 0.0
    norm1 = 0.0
    for j in range(w.shape[0]):
        wj = w[j]
        cw += c[j] * wj
        wq += wj * q[j]
        s1 += l1[j] * abs(wj)
        s2 += wj * wj
        u = c[j] - q[j]
        a = u if positive else abs(u)
        t = l1[j]
        gjj = G[j, j]
        trace += gjj
        size += gjj * wj * wj
        norm1 += abs(wj)
        if gjj > top:
            top = gjj
        if a > t:
            if l2 > 0.0:
                g_sum += (a - t) * (a - t)
                if t / a < s_tight:
                    s_tight = t / a
                if u * wj >= 0.0:
                    r = (a - t) - l2 * abs(wj)
                    separable += r * r / (2.0 * l2)
                else:
                    separable += t * abs(wj) + 0.5 * l2 * wj * wj \
                        + (a - t) * (a - t) / (2.0 * l2) - u * wj
            else:
                if t / a < scale:
                    scale = t / a
        elif l2 > 0.0:
            pen = t * abs(wj) + 0.5 * l2 * wj * wj - u * wj
            if pen > 0.0:
                separable += pen
    resid = gamma - 2.0 * cw + wq  # ||y_c - X_c w||^2 / n
    primal = 0.5 * resid + s1 + 0.5 * l2 * s2
    lin = gamma - cw               # theta^T y_c (times 1)
    half = 0.5 * gamma
    if 1e-12 > half:
        half = 1e-12
    # (delta_j / sqrt(G_jj), see the docstring)
    delta = 2.220446049250313e-16 * np.sqrt(w.shape[0]) * (np.sqrt(gamma) + np.sqrt(size))
    if l2 > 0.0:
        gap = separable
        if g_sum > 0.0:
            scaled = primal - (s_tight * lin - 0.5 * s_tight * s_tight * resid)
            if scaled < gap:
                gap = scaled
        return gap / half, delta * delta * trace / (2.0 * l2) / half
    dual = scale * lin - 0.5 * scale * scale * resid
    return (primal - dual) / half, delta * np.sqrt(top) * norm1 / half


@njit(cache=True, **_HELPER)
def _semidefinite_cholesky(A, m):
    """In-place lower Cholesky factor of the positive semidefinite ``A[:m, :m]`` (read from
    its lower triangle), a pivot at or below ``1e-13`` times the largest diagonal entry
    taken as 0: its coordinate is dropped (its column of the factor set to 0, with
    ``A[j, j] = 0``; in exact arithmetic the rest of that column of a singular matrix
    vanishes with the pivot). The factor of the kept coordinates ``B`` is then that of
    ``A_BB``. Returns the number of coordinates kept (``m``: ``A`` is positive definite,
    the factor is its Cholesky factor).

    Computed as :math:`A = U^T U` on the upper triangle (the lower one mirrored there),
    row by row: row ``j`` of :math:`U` is row ``j`` of :math:`A` minus the rows above in
    proportion (:math:`U_{kj} U_{k,j:}`, ``k = 0, 1, ...`` in turn, four rows a pass),
    over its pivot;
    then :math:`U^T` is written back to the lower triangle. The updates run along
    contiguous rows, without sums: vectorized, and the same numbers compiled or run as
    Python (:class:`~skhypergrad._jit.TieredKernel`)."""
    big = 0.0
    for i in range(m):
        if A[i, i] > big:
            big = A[i, i]
        for a in range(i):
            A[a, i] = A[i, a]
    floor = PIVOT_FLOOR * big
    r = 0
    for j in range(m):
        row = A[j, j:m]  # row j of U from its diagonal (loops from 0: vectorized)
        top = j - j % 4
        for k in range(0, top, 4):  # four rows above at a time, in order
            f0 = A[k, j]
            f1 = A[k + 1, j]
            f2 = A[k + 2, j]
            f3 = A[k + 3, j]
            u0 = A[k, j:m]
            u1 = A[k + 1, j:m]
            u2 = A[k + 2, j:m]
            u3 = A[k + 3, j:m]
            for t in range(m - j):
                row[t] = (((row[t] - f0 * u0[t]) - f1 * u1[t]) - f2 * u2[t]) - f3 * u3[t]
        for k in range(top, j):
            f0 = A[k, j]
            u0 = A[k, j:m]
            for t in range(m - j):
                row[t] -= f0 * u0[t]
        if row[0] > floor:
            d = np.sqrt(row[0])
            for t in range(m - j):
                row[t] = row[t] / d
            row[0] = d
            r += 1
        else:  # a null pivot: the coordinate dropped
            for t in range(m - j):
                row[t] = 0.0
    for i in range(m):
        for a in range(i):
            A[i, a] = A[a, i]
    return r


@njit(cache=True, **_HELPER)
def _basic_solve(L, b, m):
    r"""``b[:m]`` overwritten by the basic solution of :math:`A x = b` from the factor of
    :func:`_semidefinite_cholesky`: :math:`x_B = A_{BB}^{-1} b_B`, 0 on the dropped
    coordinates (a solution when ``b`` is in the range of ``A``); with none dropped,
    :math:`A^{-1} b` (the Cholesky solve)."""
    for i in range(m):
        if L[i, i] == 0.0:
            b[i] = 0.0
            continue
        s = b[i]
        for k in range(i):
            s -= L[i, k] * b[k]
        b[i] = s / L[i, i]
    for i in range(m - 1, -1, -1):
        if L[i, i] == 0.0:
            continue
        s = b[i]
        for k in range(i + 1, m):
            s -= L[k, i] * b[k]
        b[i] = s / L[i, i]


@njit(cache=True, **_HELPER)
def _support_residual(G, l2, S, m, u, g):
    r"""The relative residual :math:`\|(G_{SS} + l2\,I) u - g\| / \|g\|` of a solve of the
    support system (0 when :math:`g = 0`), on the first ``m`` entries of ``u`` and ``g``."""
    num = 0.0
    den = 0.0
    for a in range(m):
        s = l2 * u[a] - g[a]
        row = G[S[a]]
        for b in range(m):
            s += row[S[b]] * u[b]
        num += s * s
        den += g[a] * g[a]
    return np.sqrt(num / den) if den > 0.0 else 0.0


@njit(cache=True, **_HELPER)
def _factor_support(G, l2, S, m, L):
    r"""``L[:m, :m]``: the factor of :math:`A = G_{SS} + l2\,I` by
    :func:`_semidefinite_cholesky` (the Cholesky factor when ``A`` is positive definite);
    returns the number of coordinates kept, ``m`` when none was dropped, 0 when none
    was kept (not factored). (:func:`gram_cv_evaluate` forms the same factor itself.)"""
    for a in range(m):
        for b in range(a + 1):
            L[a, b] = G[S[a], S[b]]
        L[a, a] += l2
    return _semidefinite_cholesky(L, m)


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
def _exact_on_support(G, c, w, q, l1, l2, lower, S, sign, m, L, r, b, rhs, partial):
    r"""Move ``w`` to the exact solution on its support ``S`` with signs ``sign``,
    :math:`b = A^{-1}(c_S - l1_S \odot \mathrm{sign})`, :math:`A = G_{SS} + l2\,I`
    (factored in ``L`` by :func:`_factor_support`, ``r`` coordinates kept), when that
    solution has the same signs where ``l1_j > 0`` (a coordinate without an L1 weight is
    smooth through 0: its sign binds nothing) and respects ``lower``: returns 1.
    Otherwise, with ``partial``, move ``w_S`` towards :math:`b` up to the first such
    coordinate that reaches 0
    (``lower`` is 0 or ``-inf``), set to 0 exactly: on that segment the objective is the quadratic
    :math:`\frac12 v^T A v - (c_S - l1_S \odot \mathrm{sign})^T v` that :math:`b`
    minimizes, so it decreases, and a coordinate leaves the support; returns 2. Returns
    0 when ``w`` is left as it is.

    On a singular ``A`` (``r < m``: collinear columns on the support, e.g. one-hot blocks
    with every level and an intercept) the solutions form an affine set: the one taken
    is :math:`w_S + x`, :math:`x` the basic solution of :math:`A x = b - A w_S` (``w``
    unchanged on the dropped coordinates), used only when it solves the system
    (relative residual at most ``1e-9``; ``q = G w``, so that :math:`A w_S = q_S +
    l2\,w_S`; ``b`` and ``rhs`` are scratch)."""
    for a in range(m):
        rhs[a] = c[S[a]] - l1[S[a]] * sign[a]
        b[a] = rhs[a]
        if r < m:
            b[a] -= q[S[a]] + l2 * w[S[a]]
    _basic_solve(L, b, m)
    if r < m:
        for a in range(m):
            b[a] += w[S[a]]
        if not _support_residual(G, l2, S, m, b, rhs) <= 1e-9:
            return 0
    step = 1.0
    first = -1
    for a in range(m):
        # a sign change binds where the coordinate has an L1 weight (its kink at 0),
        # or at the bound (lower is 0 or -inf)
        if (l1[S[a]] > 0.0 and b[a] * sign[a] <= 0.0) or b[a] < lower:
            t = w[S[a]] / (w[S[a]] - b[a])
            if first < 0 or t < step:
                step = t
                first = a
    if first >= 0 and not partial:
        return 0
    for a in range(m):
        j = S[a]
        w[j] += step * (b[a] - w[j]) if first >= 0 else b[a] - w[j]
    if first < 0:
        return 1
    w[S[first]] = 0.0
    return 2


@njit(cache=True, **_HELPER)
def _past_minimum(path, n, near, patience):
    """Whether a path whose first ``n`` values are ``path[:n]`` is past its minimum: its
    last value above its smallest one once past ``near`` values, or else its last
    ``patience`` values all above the smallest of the ones before, the last not below
    the one before (:func:`skhypergrad._path_scan._past_minimum`)."""
    lowest = np.inf
    if n > near:
        for i in range(n):
            if path[i] < lowest:
                lowest = path[i]
        return path[n - 1] > lowest
    if n <= patience:
        return False
    for i in range(n - patience):
        if path[i] < lowest:
            lowest = path[i]
    for i in range(n - patience, n):
        if path[i] <= lowest:
            return False
    return not path[n - 1] < path[n - 2]


@njit(cache=True, **_KERNEL)
def gram_cv_evaluate(G, c, gamma, X_test, y_test, starts, mu, ybar, W, L1, L2, lower, tol,
                     max_rounds, max_epochs, compute_grad, folds, near, patience, L, Sf,
                     factors, work, iwork, path, W_first, values, g_l1, g_l2, epochs, gaps,
                     status, n_iter_engine, residuals, deferred):
    """Every fold of ``folds`` at each point of a path of weights, in turn: solve (warm
    started from the previous point's solutions), held-out loss and (``compute_grad``)
    hypergradient; the path is left once it is past its minimum (:func:`_past_minimum`,
    the rule of :func:`skhypergrad._path_scan._scan`). Returns the number of points
    evaluated.

    The hypergradient of a fold whose support is larger than :data:`DIRECT_MAX` or
    whose system is singular is left to the caller (``deferred``; see
    :func:`gram_cv_least_norm_hypergradients`, a separate kernel compiled only when a
    fit needs it). No array is
    allocated here: the scratch space comes from the caller.

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
        Warm starts, replaced by the solutions (at the last point evaluated).
    L1 : ndarray of shape (n_points, p)
        The L1 weights of every point.
    L2 : ndarray of shape (n_points,)
        The L2 weight of every point.
    lower, tol : float
        Lower bound of the coefficients (0 or ``-inf``), relative gap.
    max_rounds, max_epochs : int
        Budget of each fold's solve (see the notes).
    compute_grad : bool
    folds : ndarray of int64
        The folds evaluated.
    near, patience : int
        The stopping rule of the path (see :func:`_past_minimum`).
    L : ndarray of shape (K, min(p, DIRECT_MAX), min(p, DIRECT_MAX))
        Every fold's factor of a support (see the notes), kept from point to point and
        read by :func:`gram_cv_least_norm_hypergradients`.
    Sf : ndarray of int64 of shape (K, p)
        The supports of the factors ``L``.
    factors : ndarray of shape (K, 3)
        Of each fold's factor: its support's size (-1: no factor), the coordinates it
        kept and its L2 weight.
    work : ndarray of shape (5, p)
        Scratch (float64).
    iwork : ndarray of shape (2, p)
        Scratch (int64).
    path : ndarray of shape (n_points,)
        Scratch: the mean held-out loss of every point.
    W_first : ndarray of shape (K, p)
        Out: the solutions at the first point.
    values, gaps : ndarray of shape (n_points, K)
        Out: held-out MSE and relative gap reached at every point.
    g_l1 : ndarray of shape (K, p)
        Out: ``dE/dl1`` per feature (at the last point); for a fold of ``deferred``, the
        held-out gradient :math:`g_S` on the support instead.
    g_l2 : ndarray of shape (K,)
        Out: ``dE/dl2`` (at the last point).
    epochs, status : ndarray of int64 of shape (n_points, K)
        Out: epochs, :data:`OK` / :data:`NOT_CONVERGED`.
    n_iter_engine : ndarray of int64 of shape (K,)
        Out: engine iterations (1 for Cholesky; at the last point).
    residuals : ndarray of shape (K,)
        Out: relative residual of the hypergradient's system (nan without gradient).
    deferred : ndarray of int64 of shape (K,)
        Out: 1 for the folds whose hypergradient (at the last point) is left to
        the caller, 0 for the others.

    Notes
    -----
    The solve of a fold (coordinate descent, ``W[k]`` in place, see the module
    docstring) is written here rather than in a helper of its own: a helper's code is
    compiled in its own library and again in every kernel calling it.

    Full sweeps (each followed by the gap) alternate with sweeps over the support, until
    one of those is below 0.3 times the last full sweep's violation (at most
    :data:`INNER_SWEEPS`). After any sweep from the :data:`EARLY_POLISH`-th on, when the
    support and signs are those of the sweep before, the exact solution on the support
    is tried (once per support) if the epochs still needed to reach ``tol`` at the rate
    the gap fell between the last two full sweeps cost more than its factorization
    (about :math:`m^2 / (8 p)` epochs, :data:`FACTOR_SWEEPS`), or after
    :data:`POLISH_AFTER` epochs; when its signs differ, the coefficients move towards
    it up to the first that reaches 0 (a lower objective, a smaller support), and the
    exact solution on the rest of the support, that coefficient held at 0, is tried at
    once (at most :data:`HOLD_ROUNDS` times in a row): on collinear columns at a small
    ``l2`` (one-hot blocks with every level) the optimum has a coefficient of a block at
    0, which these steps find, while epochs on the whole block crawl along its near-null
    direction by about ``l2`` per epoch.
    The solve ends after a full sweep: at most ``max_rounds + 1`` full sweeps (as many
    rounds of sweeps over the support between them) and ``max_epochs`` epochs in all.
    It ends on the exact solution on the support when that has the same signs, if
    ``compute_grad`` (the factorization is the hypergradient's) or that costs no more
    than the epochs spent (``m^2 <= 8 epochs p``) or the support has at most
    :data:`EXACT_ALWAYS` coefficients.

    ``L[k]`` holds the factor of ``G_SS + l2 I`` (:func:`_factor_support`'s) for the
    support ``Sf[k, :factors[k, 0]]`` and the L2 weight ``factors[k, 2]``,
    ``factors[k, 1]`` coordinates kept (``factors[k, 0] = -1``: none), kept up to date
    and read on entry: a factor from an earlier solve of this fold serves again while
    its support and L2 weight are the same. The factorization and the exact solution are
    called from one place (every call site of a kernel is compiled again); the copy of
    ``G_SS + l2 I`` is written here rather than through :func:`_factor_support`: a
    helper's library holds the helpers it calls, each level of calls compiles them
    once more.
    """
    p = W.shape[1]
    sign = work[0]
    b = work[1]
    gS = work[2]
    q = work[3]
    rhs = work[4]
    S = iwork[0]
    idx = iwork[1]
    n_folds = folds.shape[0]
    n_points = L1.shape[0]
    positive = lower == 0.0
    for pt in range(n_points):
        l1 = L1[pt]
        l2 = L2[pt]
        mean = 0.0
        for f in range(n_folds):
            k = folds[f]
            w = W[k]
            Gk = G[k]
            ck = c[k]
            Lk = L[k]
            Sfk = Sf[k]
            held = factors[k]
            # the solve (see the notes; w in place, q = G w), ending on the exact solution
            # when worth it: values and gradients then of the exact solution
            for j in range(p):
                q[j] = 0.0
            for j in range(p):
                idx[j] = j
                if w[j] != 0.0:
                    row = Gk[j]
                    for i in range(p):
                        q[i] += row[i] * w[j]
            ep = 0  # epochs
            best = np.inf
            stalled = 0
            last_key = -1
            failed_key = -1
            exact_key = -1
            rate = 0.0  # the log of the gap's decrease per epoch (0: unknown)
            last_gap = np.inf
            last_epochs = 0
            mf = np.int64(held[0]) if held[2] == l2 else -1  # the support L[k] holds the factor
            rf = np.int64(held[1])
            gap = np.inf
            st = np.int64(NOT_CONVERGED)
            full = True
            m_sweep = p
            inner = 0
            violation = 0.0
            rounds = 0
            while True:
                v = _sweep(Gk, ck, w, q, l1, l2, lower, idx, m_sweep)
                ep += 1
                done = False
                if full:
                    rounds += 1
                    gap, floor = _relative_gap(Gk, ck, gamma[k], w, q, l1, l2, positive)
                    if gap <= tol + floor:
                        st = np.int64(OK)
                    stalled = stalled + 1 if gap > 0.9 * best else 0
                    if gap < best:
                        best = gap
                    done = st == OK or v == 0.0 or ep >= max_epochs \
                        or rounds > max_rounds or stalled >= STALL_CHECKS
                    violation = v
                    rate = np.log(gap / last_gap) / (ep - last_epochs) if gap < last_gap else 0.0
                    last_gap = gap
                    last_epochs = ep
                m, key = _support(w, S, sign)
                on = mf == m  # whether L[k] holds the factor of this support
                if on:
                    for a in range(m):
                        if Sfk[a] != S[a]:
                            on = False
                            break
                if done:  # the end: the exact solution on the support, when worth it
                    polish = 0 < m <= DIRECT_MAX and (compute_grad or m <= EXACT_ALWAYS
                                                      or m * m <= FACTOR_SWEEPS * ep * p)
                else:
                    # a support stable over two sweeps: its exact solution, once the epochs
                    # the gap's rate predicts (or POLISH_AFTER epochs) cost more than its
                    # factor
                    slow = ep >= POLISH_AFTER
                    if not slow and ep >= EARLY_POLISH and rate < 0.0:
                        ahead = np.log(tol / last_gap) / rate - (ep - last_epochs)
                        slow = FACTOR_SWEEPS * ahead * p >= m * m
                    polish = slow and 0 < m <= DIRECT_MAX and key == last_key \
                        and key != failed_key and key != exact_key
                held_rounds = 0
                while polish:
                    if not on:
                        # _factor_support's factor, formed here (see the notes)
                        for a in range(m):
                            for i in range(a + 1):
                                Lk[a, i] = Gk[S[a], S[i]]
                            Lk[a, a] += l2
                        rf = _semidefinite_cholesky(Lk, m)
                        on = rf > 0
                        mf = m if on else -1
                        for a in range(m):
                            Sfk[a] = S[a]
                        held[0] = mf
                        held[1] = rf
                        held[2] = l2
                    if not on:
                        failed_key = key
                        break
                    moved = _exact_on_support(Gk, ck, w, q, l1, l2, lower, S, sign, m, Lk, rf,
                                              b, rhs, not done)
                    if moved != 1:
                        failed_key = key
                    else:
                        exact_key = key
                    # q = G w recomputed (at the end: for the gap of a solve stopped
                    # above it, now at the exact solution)
                    if moved and (not done or st != OK):
                        for i in range(p):
                            q[i] = 0.0
                        for a in range(m):
                            row = Gk[S[a]]
                            for i in range(p):
                                q[i] += row[i] * w[S[a]]
                    if done and moved == 1 and st != OK:
                        gap, floor = _relative_gap(Gk, ck, gamma[k], w, q, l1, l2, positive)
                        if gap <= tol + floor:
                            st = np.int64(OK)
                    if moved != 2 or done or held_rounds >= HOLD_ROUNDS:
                        break
                    # the coefficient the step left at 0 held there: the exact solution on
                    # the rest
                    held_rounds += 1
                    m, key = _support(w, S, sign)
                    on = False
                    polish = m > 0
                if done:
                    rank = rf if on else 0
                    break
                last_key = key
                if full:
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
                if not full and (m_sweep == 0 or ep >= max_epochs - 1):
                    for j in range(p):
                        idx[j] = j
                    m_sweep = p
                    full = True
            epochs[pt, k] = ep
            gaps[pt, k] = gap
            status[pt, k] = st
            deferred[k] = 0
            # held-out residuals and (compute_grad) the gradient on the support
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
                if compute_grad:
                    for a in range(m):
                        gS[a] += row[S[a]] * r
            values[pt, k] = total / n_t if n_t > 0 else 0.0
            mean += values[pt, k]
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
            if not (m <= DIRECT_MAX and rank == m):
                # large, or singular (collinear columns on the support): elsewhere
                for a in range(m):
                    g_l1[k, S[a]] = gS[a]
                deferred[k] = 1
                continue
            # factored by the solve (positive definite): the Cholesky solve
            u = b
            for a in range(m):
                u[a] = gS[a]
            _basic_solve(L[k], u, m)
            n_iter_engine[k] = 1
            residuals[k] = _support_residual(Gk, l2, S, m, u, gS)
            dot = 0.0
            for a in range(m):
                g_l1[k, S[a]] = -sign[a] * u[a]
                dot += w[S[a]] * u[a]
            g_l2[k] = -dot
        path[pt] = mean / (n_folds if n_folds > 1 else 1)
        if pt == 0:
            for k in range(W.shape[0]):
                for j in range(p):
                    W_first[k, j] = W[k, j]
        if _past_minimum(path, pt + 1, near, patience):
            return pt + 1
    return n_points


@njit(cache=True, **_HELPER)
def _least_norm(G, l2, S, m, L, d, N, C, t, proj, u):
    r"""Replace the solution ``u[:m]`` of :math:`A u = g` (``A = G_SS + l2 I``, factored
    in ``L`` with ``d`` coordinates dropped) by the solution of least norm: ``u`` minus
    its projection on the null space of ``A``, spanned by :math:`v_j = e_j - A_{BB}^{-1}
    A_{Bj}` for the dropped coordinates ``j`` (the columns of ``N``; ``C`` scratch for
    their Gram matrix, ``t`` and ``proj`` scratch vectors). False when that Gram matrix
    is singular."""
    col = 0
    for j in range(m):
        if L[j, j] != 0.0:
            continue
        for a in range(m):
            t[a] = G[S[a], S[j]]
        t[j] += l2
        _basic_solve(L, t, m)
        for a in range(m):
            N[a, col] = -t[a]
        N[j, col] += 1.0
        col += 1
    for i in range(d):
        s = 0.0
        for a in range(m):
            s += N[a, i] * u[a]
        proj[i] = s
        for j in range(i + 1):
            s = 0.0
            for a in range(m):
                s += N[a, i] * N[a, j]
            C[i, j] = s
    if _semidefinite_cholesky(C, d) < d:
        return False
    _basic_solve(C, proj, d)
    for a in range(m):
        s = 0.0
        for i in range(d):
            s += N[a, i] * proj[i]
        u[a] -= s
    return True


@njit(cache=True, **_KERNEL)
def gram_cv_least_norm_hypergradients(G, W, l2, folds, L, Sf, factors, g_l1, g_l2,
                                      n_iter_engine, residuals, work, iwork, NC):
    r"""The hypergradients of the singular supports :func:`gram_cv_evaluate` left aside
    (``deferred``), by their least-norm solutions.

    For every fold ``k`` of ``folds``, with :math:`S` and the signs the support of the
    solution ``W[k]`` (at most :data:`DIRECT_MAX` coefficients), :math:`g_S` read from
    ``g_l1[k, S]`` and :math:`A = G_{SS} + l2\,I`: the least-norm solution of :math:`A u
    = g_S` (the factor of :func:`_factor_support`, read from ``L[k]`` when
    :func:`gram_cv_evaluate` left it there (``Sf``, ``factors``), then
    :func:`_least_norm`; see the module docstring), then ``g_l1[k]``, ``g_l2[k]`` as in
    :func:`gram_cv_evaluate`, ``n_iter_engine[k] = 1`` and ``residuals[k]`` the relative
    residual of :math:`A u = g_S`. A fold whose factor keeps no coordinate, or whose
    null space's Gram matrix is singular, is left as it is (``n_iter_engine[k] = 0``,
    ``g_l1[k]`` still holding :math:`g_S`) for conjugate gradients. No array is
    allocated here: ``work`` (float64, shape ``(5, p)``), ``iwork`` (int64, ``(1, p)``)
    and ``NC`` (float64, ``(2, D, D)`` with ``D = min(p, DIRECT_MAX)``) are scratch
    from the caller.
    """
    sign, gS, u, t, proj = work[0], work[1], work[2], work[3], work[4]
    S = iwork[0]
    N, C = NC[0], NC[1]
    p = W.shape[1]
    for f in range(folds.shape[0]):
        k = folds[f]
        w = W[k]
        Gk = G[k]
        Lk = L[k]
        m, _ = _support(w, S, sign)
        for a in range(m):
            gS[a] = g_l1[k, S[a]]
        on = factors[k, 0] == m and factors[k, 2] == l2
        if on:
            for a in range(m):
                if Sf[k, a] != S[a]:
                    on = False
                    break
        rank = np.int64(factors[k, 1]) if on else _factor_support(Gk, l2, S, m, Lk)
        n_iter_engine[k] = 0
        if rank == 0:
            continue
        for a in range(m):
            u[a] = gS[a]
        _basic_solve(Lk, u, m)
        if rank < m and not _least_norm(Gk, l2, S, m, Lk, m - rank, N, C, t, proj, u):
            continue
        n_iter_engine[k] = 1
        residuals[k] = _support_residual(Gk, l2, S, m, u, gS)
        dot = 0.0
        for j in range(p):
            g_l1[k, j] = 0.0
        for a in range(m):
            g_l1[k, S[a]] = -sign[a] * u[a]
            dot += w[S[a]] * u[a]
        g_l2[k] = -dot
