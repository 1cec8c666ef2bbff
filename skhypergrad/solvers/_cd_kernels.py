r"""numba kernels of proximal coordinate descent on a quadratic model of the datafit.

The coordinate descent solver minimizes, over the coefficients ``W`` (shape
(p, K), flattened in C order as in every inner problem, ``K = 1`` except for
the multinomial model) and the intercepts ``b`` (last ``K`` entries of ``w``
when fitted), a quadratic model of the datafit around a point
:math:`Z^0 = XW^0 + b^0` plus the elastic net,

.. math::

    Q(w) = \frac1n \sum_i \left(a_i^T v_i + \frac12 v_i^T H_i v_i\right)
           + \sum_{j,k} l1_j |W_{jk}| + \frac{l2}{2} \|W\|^2,
    \qquad v = X(W - W^0) + (b - b^0),

with :math:`a_i = \nabla \ell(y_i, Z^0_i)` and :math:`H_i = \nabla^2 \ell(y_i, Z^0_i)`.
For least squares the model is the problem itself (``H = 1``); for other
datafits it is the proximal Newton model, and the driver adds a line search.
The Hessians are :math:`H_i = h_i` (one output: least squares, binary logistic)
or, *coupled* (multinomial, ``h_i`` the class probabilities),
:math:`H_i = \mathrm{diag}(h_i) - h_i h_i^T`. The model is datafit-free, so
the kernels never evaluate a loss: they maintain in place the prediction change
``v`` and the model's derivative :math:`d_i = a_i + H_i v_i` (both stored class
by class, shape (K, n)), so that the partial derivative in coordinate
``(j, k)`` is one dot product,

.. math::

    g_{jk} = \frac1n X_j^T d_{k}, \qquad
    W_{jk} \leftarrow \frac{S_{l1_j / L_{jk}}(W_{jk} - g_{jk} / L_{jk})}{1 + l2 / L_{jk}},
    \qquad L_{jk} = \frac1n \sum_i (H_i)_{kk} X_{ij}^2,

the exact minimization of :math:`Q` along the coordinate. A step
:math:`\delta` changes :math:`v_k` by :math:`\delta X_j` and every class of
``d`` (coupled) or class ``k`` only. The intercept ``b_k`` is the coordinate of
the column of ones (index ``-1`` below), unpenalized, minimized once per epoch
after the working set.

One kernel, :func:`cd_epoch`, serves both storages of ``X`` and every datafit:
dense (Fortran-ordered float64) or CSC (``data, indices, indptr``); only the
column primitives (dot product, update of ``v`` and ``d``) look at the storage.
"""

import numpy as np
from numba import njit

from .._kernels import prox_enet_scalar

# Reassociation lets LLVM vectorize the column reductions; no flag assumes
# finite values or changes the prox's comparisons.
_FASTMATH = {"reassoc", "contract", "nsz", "arcp"}


# A block (the K classes of a feature) is minimized by coordinate sweeps on its
# K x K model until a sweep moves less than _SWEEP_RTOL times the first sweep.
_MAX_SWEEPS = 100
_SWEEP_RTOL = 1e-3
_PIVOT_RTOL = 1e-10  # smallest Cholesky pivot, relative to the diagonal


@njit(cache=True, inline="always")
def _weight(h, k, i):
    """``h[k, i]``, or 1 when ``h`` is empty (unit curvature: least squares)."""
    return 1.0 if h.shape[0] == 0 else h[k, i]


@njit(cache=True, inline="always", fastmath=_FASTMATH)
def _column_dot(X, data, indices, indptr, j, u, k, squared):
    """``X_j^T u[k]`` (``(X_j**2)^T u[k]`` when ``squared``), dense ``X`` or CSC triplet.

    ``X`` is used when ``indptr`` is empty; ``j = -1`` is the column of ones
    (then ``u`` is not empty); otherwise an empty ``u`` means all ones.
    """
    out = 0.0
    if j < 0:
        for i in range(u.shape[1]):
            out += u[k, i]
    elif indptr.shape[0] == 0:
        for i in range(X.shape[0]):
            x = X[i, j]
            out += (x * x if squared else x) * _weight(u, k, i)
    else:
        for q in range(indptr[j], indptr[j + 1]):
            x = data[q]
            out += (x * x if squared else x) * _weight(u, k, indices[q])
    return out


@njit(cache=True, inline="always", fastmath=_FASTMATH)
def _entry(op, i, x, k, dk, h, v, d, s):
    """Work on the entry ``x = X_ij`` of class ``k``, ``dk = delta_k``, for :func:`_column_pass`.

    ``op`` (a literal at every call site): 0, ``s_i = h_ki delta_k``; 1,
    ``s_i += h_ki delta_k``; 2, the coupled update ``v_ki += x delta_k``,
    ``d_ki += x h_ki (delta_k - s_i)`` (with ``s_i = h_i^T delta``: ``d_i +=
    x H_i delta``); 3, the one-output update ``v_i += x delta``, ``d_i += x h_i delta``.
    """
    if op == 0:
        s[i] = h[k, i] * dk
    elif op == 1:
        s[i] += h[k, i] * dk
    elif op == 2:
        v[k, i] += x * dk
        d[k, i] += x * h[k, i] * (dk - s[i])
    else:
        dv = x * dk
        v[k, i] += dv
        d[k, i] += dv * _weight(h, k, i)


@njit(cache=True, inline="always", fastmath=_FASTMATH)
def _column_pass(X, data, indices, indptr, j, op, k, dk, h, v, d, s):
    """:func:`_entry` over the entries of column ``j`` (``j = -1``: the column of ones)."""
    if j < 0:
        for i in range(v.shape[1]):
            _entry(op, i, 1.0, k, dk, h, v, d, s)
    elif indptr.shape[0] == 0:
        for i in range(X.shape[0]):
            _entry(op, i, X[i, j], k, dk, h, v, d, s)
    else:
        for q in range(indptr[j], indptr[j + 1]):
            _entry(op, indices[q], data[q], k, dk, h, v, d, s)


@njit(cache=True, inline="always", fastmath=_FASTMATH)
def _column_update(X, data, indices, indptr, j, delta, h, v, d, s, coupled):
    """``v += X_j delta^T`` and ``d_i += X_ij H_i delta`` (``j = -1``: the column of ones).

    Coupled, in class-by-class passes over the column (contiguous, vectorized):
    ``s = h^T delta`` on the column's rows first. ``s`` is scratch of length n.
    """
    if coupled:
        _column_pass(X, data, indices, indptr, j, 0, 0, delta[0], h, v, d, s)
        for k in range(1, delta.shape[0]):
            if delta[k] != 0.0:
                _column_pass(X, data, indices, indptr, j, 1, k, delta[k], h, v, d, s)
        for k in range(delta.shape[0]):
            _column_pass(X, data, indices, indptr, j, 2, k, delta[k], h, v, d, s)
    else:
        _column_pass(X, data, indices, indptr, j, 3, 0, delta[0], h, v, d, s)


@njit(cache=True, inline="always")
def _prox_coordinate(w_j, g_j, lc_j, l1_j, l2):
    """``S_{l1/L}(w_j - g_j/L) / (1 + l2/L)``; 0 for a zero column (``L = 0``)."""
    if lc_j > 0.0:
        return prox_enet_scalar(w_j - g_j / lc_j, l1_j / lc_j, l2 / lc_j)
    return 0.0


@njit(cache=True, inline="always")
def _common_shift(w, first, g, blocks, b, l1_j, l2_j, kinks):
    r"""Minimize the block model along ``(1, ..., 1)``: the shift ``c`` added to every class.

    The multinomial loss does not change when the same ``c`` is added to the K
    coefficients of a feature (``H_i 1 = 0``), so along that direction the
    model is :math:`c\,1^Tg + c^2\,1^TB1/2` (both 0 up to rounding) plus the
    penalty :math:`\sum_k l1 |x_k + c| + l2 (x_k + c)^2 / 2`: a convex
    piecewise quadratic in ``c``, minimized exactly by scanning its derivative
    over the sorted kinks ``c = -x_k`` (a weighted median). Coordinate sweeps
    alone crawl along this direction when ``l1`` is small. Returns ``c``, 0
    when 0 is optimal.
    """
    n_out = g.shape[0]
    base, slope, n_pos, n_neg = 0.0, 0.0, 0, 0
    for k in range(n_out):
        x = w[first + k]
        base += g[k] + l2_j * x
        for m in range(n_out):
            slope += blocks[b, k, m]
        n_pos += x > 0.0
        n_neg += x < 0.0
    slope = max(slope, 0.0) + n_out * l2_j
    # 0 is optimal when the subdifferential at 0 contains 0
    n_zero = n_out - n_pos - n_neg
    if base + l1_j * (n_pos - n_neg - n_zero) <= 0.0 <= base + l1_j * (n_pos - n_neg + n_zero):
        return 0.0
    for k in range(n_out):  # insertion sort of the kinks
        t, m = -w[first + k], k
        while m > 0 and kinks[m - 1] > t:
            kinks[m] = kinks[m - 1]
            m -= 1
        kinks[m] = t
    # between the kinks m - 1 and m, m entries are positive: derivative base + slope c + l1 (2m - K)
    for m in range(n_out + 1):
        sub = base + l1_j * (2 * m - n_out)
        if slope > 0.0:
            c = -sub / slope
            if (m == 0 or c >= kinks[m - 1]) and (m == n_out or c <= kinks[m]):
                return c
        if m < n_out:
            left = sub + slope * kinks[m]
            if left <= 0.0 <= left + 2.0 * l1_j:
                return kinks[m]
    return 0.0


@njit(cache=True, inline="always")
def _support_newton(w, first, g, blocks, b, l1_j, l2_j, delta, M, r, free):
    r"""Try the exact minimizer of the block model with the signs of the current block.

    With ``F`` the nonzero entries of ``x = w[first:first + K]`` and ``s`` their
    signs, the model restricted to that support is smooth:
    :math:`u_F = -(B_{FF} + l2 I)^{-1}(g_F + l1 s + l2 x_F)` (Cholesky). When
    ``x + u`` keeps the signs ``s`` on ``F`` and :math:`|g_k + (Bu)_k| \le l1`
    off ``F``, it satisfies the block's optimality conditions: the step is
    taken and True returned. Otherwise (or for a singular system) nothing
    changes and the coordinate sweeps go on. ``M``, ``r``, ``free`` are scratch.
    """
    n_out = g.shape[0]
    nf = 0
    for k in range(n_out):
        if w[first + k] != 0.0:
            free[nf] = k
            nf += 1
    if nf == 0:
        return False
    for p in range(nf):
        k = free[p]
        x = w[first + k]
        r[p] = -(g[k] + (l1_j if x > 0.0 else -l1_j) + l2_j * x)
        for q in range(p + 1):
            M[p, q] = blocks[b, k, free[q]] + (l2_j if q == p else 0.0)
    for p in range(nf):  # Cholesky factor, lower triangle of M
        for q in range(p + 1):
            acc = M[p, q]
            for m in range(q):
                acc -= M[p, m] * M[q, m]
            if q < p:
                M[p, q] = acc / M[q, q]
            elif acc > _PIVOT_RTOL * (blocks[b, free[p], free[p]] + l2_j):
                M[p, p] = np.sqrt(acc)
            else:  # singular: the model is flat along a direction of the support
                return False
    for p in range(nf):  # forward, then backward substitution
        acc = r[p]
        for m in range(p):
            acc -= M[p, m] * r[m]
        r[p] = acc / M[p, p]
    for p in range(nf - 1, -1, -1):
        acc = r[p]
        for m in range(p + 1, nf):
            acc -= M[m, p] * r[m]
        r[p] = acc / M[p, p]
    for p in range(nf):
        x = w[first + free[p]]
        if (x + r[p] > 0.0) != (x > 0.0) or x + r[p] == 0.0:
            return False
    for k in range(n_out):  # optimality off the support
        if w[first + k] == 0.0:
            gk = g[k]
            for p in range(nf):
                gk += blocks[b, k, free[p]] * r[p]
            if abs(gk) > l1_j:
                return False
    for p in range(nf):
        k = free[p]
        w[first + k] += r[p]
        delta[k] += r[p]
        for m in range(n_out):
            g[m] += blocks[b, m, k] * r[p]
    return True


@njit(cache=True, inline="always")
def _minimize_block(w, first, g, blocks, b, l1_j, l2_j, coupled, delta, kinks, M, r, free):
    """Minimize the model over the block ``w[first:first + K]``, in place; ``delta`` the change.

    The model restricted to the block is ``g^T u + u^T B u / 2`` plus the
    penalty, ``g`` its gradient at the block's current value (updated in place):
    coordinate sweeps, each followed (coupled, penalized block) by the exact
    step along the loss's flat direction (:func:`_common_shift`), until the
    Newton step on the support solves the block (:func:`_support_newton`) or a
    sweep moves little; exact in one sweep for one output. Returns
    ``max_k B_kk |delta_k|``.
    """
    n_out = g.shape[0]
    for k in range(n_out):
        delta[k] = 0.0
    first_change = 0.0
    shift = coupled and (l1_j > 0.0 or l2_j > 0.0)
    for sweep in range(1 if n_out == 1 else _MAX_SWEEPS):
        change = 0.0
        for k in range(n_out):
            e = first + k
            step = _prox_coordinate(w[e], g[k], blocks[b, k, k], l1_j, l2_j) - w[e]
            if step != 0.0:
                w[e] += step
                delta[k] += step
                for m in range(n_out):
                    g[m] += blocks[b, m, k] * step
                change = max(change, blocks[b, k, k] * abs(step))
        if shift:
            c = _common_shift(w, first, g, blocks, b, l1_j, l2_j, kinks)
            if c != 0.0:
                for k in range(n_out):
                    w[first + k] += c
                    delta[k] += c
                    for m in range(n_out):
                        g[m] += blocks[b, m, k] * c
                    change = max(change, blocks[b, k, k] * abs(c))
        if sweep == 0:
            first_change = change
        if change <= _SWEEP_RTOL * first_change:
            break
        if n_out > 1 and _support_newton(w, first, g, blocks, b, l1_j, l2_j, delta, M, r, free):
            break
    violation = 0.0
    for k in range(n_out):
        violation = max(violation, blocks[b, k, k] * abs(delta[k]))
    return violation


@njit(cache=True, fastmath=_FASTMATH)
def cd_epoch(X, data, indices, indptr, w, v, d, h, ws, l1, l2, blocks, fit_intercept, coupled):
    """One epoch of block coordinate minimization of the model ``Q`` over ``ws``, then the intercepts.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), Fortran-ordered float64
        Dense design; an empty array when ``X`` is sparse.
    data, indices, indptr : ndarray
        CSC arrays of a sparse design; empty arrays when ``X`` is dense.
    w : ndarray of shape (n_features * K + K * fit_intercept,)
        Coefficients (entry ``j * K + k``), then the intercepts, updated in place.
    v : ndarray of shape (K, n_samples)
        Prediction change ``X(W - W0) + (b - b0)``, class by class, updated in place.
    d : ndarray of shape (K, n_samples)
        Model derivative ``a + H v``, updated in place.
    h : ndarray of shape (K, n_samples) or (0, 0)
        Curvatures ``l''(y_i, z0_i)`` (one output), class probabilities
        (``coupled``); empty for unit curvature (least squares).
    ws : ndarray of int
        The working set: features visited, in this order (all their classes).
    l1 : ndarray of shape (n_features,)
        Per-feature L1 weights, shared by the K classes of a feature.
    l2 : float
        L2 weight.
    blocks : ndarray of shape (n_features + fit_intercept, K, K)
        Model curvature blocks ``B_j = sum_i X_ij^2 H_i / n`` (read on ``ws``;
        the diagonal may be larger), then ``sum_i H_i / n`` for the intercepts.
    fit_intercept : bool
    coupled : bool
        Whether ``H_i = diag(h_i) - h_i h_i^T`` (multinomial) instead of ``h_i``
        (one output).

    Returns
    -------
    violation : float
        ``max B_j,kk |Delta w_jk|`` over the epoch's block updates, intercepts
        included: the epoch's fixed-point violation.
    """
    # a literal flag: one copy of the epoch per model, without the other's branches
    if coupled:
        return _epoch(X, data, indices, indptr, w, v, d, h, ws, l1, l2, blocks, fit_intercept,
                      True)
    return _epoch(X, data, indices, indptr, w, v, d, h, ws, l1, l2, blocks, fit_intercept,
                  False)


@njit(cache=True, inline="always", fastmath=_FASTMATH)
def _epoch(X, data, indices, indptr, w, v, d, h, ws, l1, l2, blocks, fit_intercept, coupled):
    """The body of :func:`cd_epoch`, inlined with a literal ``coupled``."""
    n_out, n = v.shape
    n_coefs = w.shape[0] - n_out if fit_intercept else w.shape[0]
    n_cols = ws.shape[0] + 1 if fit_intercept else ws.shape[0]
    g, delta, kinks, r = np.empty(n_out), np.empty(n_out), np.empty(n_out), np.empty(n_out)
    M, free = np.empty((n_out, n_out)), np.empty(n_out, dtype=np.int64)
    s = np.empty(n if coupled else 0)
    violation = 0.0
    for c in range(n_cols):
        if c < ws.shape[0]:
            j = ws[c]
            first, block, l1_j, l2_j = j * n_out, j, l1[j], l2
        else:  # the unpenalized intercepts, column of ones
            j = -1
            first, block, l1_j, l2_j = n_coefs, blocks.shape[0] - 1, 0.0, 0.0
        if not coupled:  # one output: one coordinate, minimized exactly in one step
            g0 = _column_dot(X, data, indices, indptr, j, d, 0, False) / n
            lc = blocks[block, 0, 0]
            step = _prox_coordinate(w[first], g0, lc, l1_j, l2_j) - w[first]
            change = 0.0
            if step != 0.0:
                w[first] += step
                delta[0] = step
                change = lc * abs(step)
        else:
            for k in range(n_out):
                g[k] = _column_dot(X, data, indices, indptr, j, d, k, False) / n
            change = _minimize_block(w, first, g, blocks, block, l1_j, l2_j, coupled, delta,
                                     kinks, M, r, free)
        if change > 0.0:
            _column_update(X, data, indices, indptr, j, delta, h, v, d, s, coupled)
            violation = max(violation, change)
    return violation


@njit(cache=True, fastmath=_FASTMATH)
def _model_value(w, v, a, h, coefs, l1_coefs, l2, coupled):
    """``Q = (a^T v + v^T H v / 2) / n`` plus the penalty of ``w[coefs]``, up to a constant."""
    n_out, n = v.shape
    quad = 0.0
    for i in range(n):
        s = 0.0
        for k in range(n_out):
            hv = _weight(h, k, i) * v[k, i]
            quad += (a[k, i] + 0.5 * hv) * v[k, i]
            s += hv
        if coupled:
            quad -= 0.5 * s * s
    pen = 0.0
    for t in range(coefs.shape[0]):
        x = w[coefs[t]]
        pen += l1_coefs[t] * abs(x) + 0.5 * l2 * x * x
    return quad / n + pen


@njit(cache=True)
def _anderson_step(w, v, d, a, h, moving, coefs, l1_coefs, l2, coupled, hist_w, hist_v):
    """Replace ``(w, v, d)`` by the Anderson extrapolation of the history if ``Q`` drops.

    With ``U`` the differences of the last iterates ``hist_w`` (entries
    ``moving`` of ``w``), ``c`` solves ``U U^T c = 1`` normalized to sum 1, and
    ``sum_k c_k w_k`` (with ``v`` extrapolated alike) replaces ``w``.
    """
    m = hist_w.shape[0] - 1
    U = hist_w[1:] - hist_w[:-1]
    G = np.empty((m, m))
    for r in range(m):
        for c in range(r, m):
            G[r, c] = G[c, r] = (U[r] * U[c]).sum()
    try:
        coef = np.linalg.solve(G, np.ones(m))
    except Exception:  # singular
        return
    total = coef.sum()
    if not np.all(np.isfinite(coef)) or total == 0.0:
        return
    coef /= total
    w_acc = w.copy()
    v_acc = np.zeros(hist_v.shape[1])
    for r in range(m):
        for t in range(moving.shape[0]):
            w_acc[moving[t]] += coef[r] * (hist_w[r + 1, t] - w[moving[t]])
        v_acc += coef[r] * hist_v[r + 1]
    v_acc = v_acc.reshape(v.shape)
    if (_model_value(w_acc, v_acc, a, h, coefs, l1_coefs, l2, coupled)
            < _model_value(w, v, a, h, coefs, l1_coefs, l2, coupled)):
        w[:] = w_acc
        v[:] = v_acc
        n_out, n = v.shape
        for i in range(n):
            s = 0.0
            for k in range(n_out):
                s += _weight(h, k, i) * v[k, i] if coupled else 0.0
            for k in range(n_out):
                d[k, i] = a[k, i] + _weight(h, k, i) * (v[k, i] - s)


@njit(cache=True)
def minimize_model(X, data, indices, indptr, w, v, d, a, h, ws, moving, coefs, l1_coefs,
                   l1, l2, blocks, fit_intercept, coupled, tol, max_epochs, anderson):
    """Epochs of :func:`cd_epoch` until an epoch's violation is below ``tol``; the count.

    ``a`` is the model's derivative at its center (``d`` at ``v = 0``);
    ``moving`` the entries of ``w`` the epochs change, ``coefs`` its
    coefficients and ``l1_coefs`` their L1 weights. Every ``anderson + 1``
    epochs the iterates are extrapolated (:func:`_anderson_step`); 0 disables it.
    Returns ``max_epochs`` when ``tol`` is not reached.
    """
    hist_w = np.empty((anderson + 1, moving.shape[0]))
    hist_v = np.empty((anderson + 1, v.size))
    for epoch in range(max_epochs):
        violation = cd_epoch(X, data, indices, indptr, w, v, d, h, ws, l1, l2, blocks,
                             fit_intercept, coupled)
        if violation <= tol:
            return epoch + 1
        if anderson > 0:
            k = epoch % (anderson + 1)
            for t in range(moving.shape[0]):
                hist_w[k, t] = w[moving[t]]
            hist_v[k] = v.ravel()
            if k == anderson:
                _anderson_step(w, v, d, a, h, moving, coefs, l1_coefs, l2, coupled,
                               hist_w, hist_v)
    return max_epochs


@njit(cache=True, fastmath=_FASTMATH)
def columns_gradient_curvature(X, data, indices, indptr, ws, a, h_pairs):
    """``X_j^T a_k / n`` and ``(X_j**2)^T h_pairs[k K + l] / n`` for ``j`` in ``ws``.

    The model at a new point: the gradient (entry ``t * K + k`` for feature
    ``ws[t]``) and the curvature blocks ``B_j`` (shape (len(ws), K, K)), from the
    per-sample entries of the Hessians ``h_pairs[k K + l, i] = (H_i)_kl``.
    """
    n_out, n = a.shape
    grad = np.empty(ws.shape[0] * n_out)
    blocks = np.empty((ws.shape[0], n_out, n_out))
    for t in range(ws.shape[0]):
        j = ws[t]
        for k in range(n_out):
            grad[t * n_out + k] = _column_dot(X, data, indices, indptr, j, a, k, False) / n
            for m in range(k, n_out):
                b = _column_dot(X, data, indices, indptr, j, h_pairs, k * n_out + m, True) / n
                blocks[t, k, m] = blocks[t, m, k] = b
    return grad, blocks


@njit(cache=True)
def prox_steps(w, grad, l1, l2, lc, n_outputs):
    r"""Coordinate prox-gradient steps :math:`\Delta_e` from ``w`` for every coefficient.

    :math:`\Delta_e = S_{l1_j/L_e}(w_e - g_e/L_e) / (1 + l2/L_e) - w_e` with
    ``j = e // n_outputs`` the feature of entry ``e``. With :math:`L_e` a bound
    on the curvature along the coordinate, the step decreases the objective by
    at least :math:`L_e \Delta_e^2 / 2` (a lower bound on the suboptimality),
    and :math:`L_e |\Delta_e|` scores how far the coordinate is from optimality
    (zero exactly there).
    """
    out = np.empty(grad.shape[0])
    for e in range(grad.shape[0]):
        out[e] = _prox_coordinate(w[e], grad[e], lc[e], l1[e // n_outputs], l2) - w[e]
    return out
