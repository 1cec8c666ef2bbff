r"""numba kernels of proximal coordinate descent on a quadratic model of the datafit.

The coordinate descent solver minimizes, over the coefficients ``w`` (and the
intercept ``b``, last entry of ``w`` when fitted), a quadratic model of the
datafit around a point :math:`z^0 = Xw^0 + b^0` plus the elastic net,

.. math::

    Q(w) = \frac1n \sum_i \left(a_i v_i + \frac{h_i}{2} v_i^2\right)
           + \sum_j l1_j |w_j| + \sum_j \frac{l2_j}{2} w_j^2,
    \qquad v = X(w - w^0) + (b - b^0),

with :math:`a_i = \ell'(y_i, z^0_i)` and :math:`h_i = \ell''(y_i, z^0_i)`. For
least squares the model is the problem itself (``h = 1``); for other datafits
it is the proximal Newton model, and the driver adds a line search. The model
is datafit-free, so the kernels never evaluate a loss: they maintain in place
the prediction change ``v`` and the model's derivative :math:`d = a + h \circ v`,
so that the partial derivative in coordinate ``j`` is one dot product,

.. math::

    g_j = \frac1n X_j^T d, \qquad
    w_j \leftarrow \frac{S_{l1_j / L_j}(w_j - g_j / L_j)}{1 + l2_j / L_j},
    \qquad L_j = \frac1n \sum_i h_i X_{ij}^2,

the exact minimization of :math:`Q` along coordinate ``j``. The intercept is
minimized exactly once per epoch: :math:`b \leftarrow b - \sum_i d_i / \sum_i h_i`.

One kernel, :func:`cd_epoch`, serves both storages of ``X``: dense
(Fortran-ordered float64) or CSC (``data, indices, indptr``); only the column
primitives (dot product, update of ``v`` and ``d``) look at the storage.

A sparse ``X`` centred implicitly (its column means ``mu`` given; see
:mod:`skhypergrad._design`) has the columns :math:`X_j - \mu_j 1`, dense. A
step along one of them moves every prediction, so the kernels keep ``v`` and
``d`` as their stored arrays plus a common shift, :math:`v = v^s + s 1` and
:math:`d = d^s + s h`, with :math:`1^T d^s` and :math:`1^T h` kept alongside:

.. math::

    (X_j - \mu_j 1)^T d = X_j^T d^s + s X_j^T h - \mu_j (1^T d^s + s 1^T h),

``O(nnz_j)`` per coordinate; the shift is added to ``v`` and ``d`` once at the
end of the epoch (``O(n)``, as the intercept's step).

Several outputs (the K classes of the multinomial model): ``v``, ``d`` and the
class probabilities ``h`` have shape (n, K) and the model is the proximal
Newton model with the multinomial Hessians :math:`H_i = s_i(\mathrm{diag}(h_i) -
h_i h_i^T)`, :math:`\frac1n \sum_i a_i^T v_i + \frac12 v_i^T H_i v_i` (``s_i``
the sample weights, an empty array ``sw`` for unit weights).
:func:`cd_epoch_blocks` visits a feature's K coefficients together (block
``W_j``, entries ``j K + k`` of the flat ``w``): one pass over column ``j``
gives the K partial derivatives, the block's K-dimensional model (curvature
:math:`B_j = \frac1n \sum_i X_{ij}^2 H_i`, precomputed) is minimized by cheap
coordinate sweeps with the elastic-net prox per coefficient, plus an exact step
along ``(1, ..., 1)``, the direction the loss does not see; a second pass over
the column updates ``v`` and ``d``.
"""

import numpy as np
from numba import njit

from .._kernels import prox_enet_scalar

# Reassociation lets LLVM vectorize the column reductions; no flag assumes
# finite values or changes the prox's comparisons.
_FASTMATH = {"reassoc", "contract", "nsz", "arcp"}


@njit(cache=True, inline="always")
def _weight(h, i):
    """``h[i]``, or 1 when ``h`` is empty (unit curvature: least squares)."""
    return 1.0 if h.shape[0] == 0 else h[i]


@njit(cache=True, inline="always", fastmath=_FASTMATH)
def _column_dot(X, data, indices, indptr, j, u, squared):
    """``X_j^T u`` (``(X_j**2)^T u`` when ``squared``), dense ``X`` or CSC triplet.

    ``X`` is used when ``indptr`` is empty; ``u`` may be empty (then all ones).
    """
    out = 0.0
    if indptr.shape[0] == 0:
        for i in range(X.shape[0]):
            x = X[i, j]
            out += (x * x if squared else x) * _weight(u, i)
    else:
        for k in range(indptr[j], indptr[j + 1]):
            x = data[k]
            out += (x * x if squared else x) * _weight(u, indices[k])
    return out


@njit(cache=True, inline="always", fastmath=_FASTMATH)
def _column_update(X, data, indices, indptr, j, delta, h, v, d):
    """``v += delta X_j`` and ``d += delta h X_j``."""
    if indptr.shape[0] == 0:
        for i in range(X.shape[0]):
            dv = delta * X[i, j]
            v[i] += dv
            d[i] += dv * _weight(h, i)
    else:
        for k in range(indptr[j], indptr[j + 1]):
            i = indices[k]
            dv = delta * data[k]
            v[i] += dv
            d[i] += dv * _weight(h, i)


@njit(cache=True, inline="always", fastmath=_FASTMATH)
def _column_dot_pair(data, indices, indptr, j, u, h):
    """``(X_j^T u, X_j^T h)`` of a CSC column (``h`` empty: all ones)."""
    du, dh = 0.0, 0.0
    for k in range(indptr[j], indptr[j + 1]):
        x = data[k]
        i = indices[k]
        du += x * u[i]
        dh += x * _weight(h, i)
    return du, dh


@njit(cache=True, inline="always")
def _centred_curvature(sq, xh, mu_j, h_sum, n):
    r"""``(X_j - mu_j 1)^T H (X_j - mu_j 1) / n`` from ``sq = (X_j**2)^T h``, ``xh = X_j^T h``
    and ``h_sum = 1^T h``; 0 when the centred column is zero up to rounding (a
    constant column: its coefficient then stays 0)."""
    out = sq - 2.0 * mu_j * xh + mu_j * mu_j * h_sum
    if out <= 4.0 * n * 2.220446049250313e-16 * (sq + mu_j * mu_j * h_sum):
        return 0.0
    return out / n


@njit(cache=True, inline="always")
def _prox_coordinate(w_j, g_j, lc_j, l1_j, l2, lower):
    """``max(S_{l1/L}(w_j - g_j/L) / (1 + l2/L), lower)``; 0 for a zero column (``L = 0``)."""
    if lc_j > 0.0:
        return prox_enet_scalar(w_j - g_j / lc_j, l1_j / lc_j, l2 / lc_j, lower)
    return 0.0


@njit(cache=True, fastmath=_FASTMATH)
def cd_epoch(X, data, indices, indptr, mu, w, v, d, h, ws, l1, l2, lower, lc, intercept):
    """One epoch of coordinate minimization of the model ``Q`` over ``ws``, then the intercept.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), Fortran-ordered float64
        Dense design; an empty array when ``X`` is sparse.
    data, indices, indptr : ndarray
        CSC arrays of a sparse design; empty arrays when ``X`` is dense.
    mu : ndarray of shape (n_features,) or (0,)
        Column means of a sparse ``X`` centred implicitly (the columns are then
        ``X_j - mu_j``); empty otherwise.
    w : ndarray of shape (n_features + fit_intercept,)
        Coefficients (then the intercept), updated in place.
    v : ndarray of shape (n_samples,)
        Prediction change ``X(w - w0) + (b - b0)``, updated in place.
    d : ndarray of shape (n_samples,)
        Model derivative ``a + h * v``, updated in place.
    h : ndarray of shape (n_samples,) or (0,)
        Curvatures ``l''(y_i, z0_i)``; empty for unit curvature (least squares).
    ws : ndarray of int
        The working set: coordinates visited, in this order.
    l1, l2 : ndarray of shape (n_features,)
        Per-feature L1 and L2 weights.
    lower : float
        Lower bound on the coefficients: 0.0 for a nonnegative model, ``-inf`` otherwise.
    lc : ndarray of shape (len(ws) + fit_intercept,)
        Model curvatures ``L_j = (h^T X_j**2) / n`` of the coordinates of ``ws``
        (entry ``t`` for ``ws[t]``: nothing ``p``-sized), then ``sum(h) / n`` for
        the intercept.
    intercept : float
        0 without an intercept; else the unit of its violation (its ``|dQ/db|``
        is multiplied by it before it is compared with the coefficients'
        ``L_j |Delta w_j|``, which scale with ``X``).

    Returns
    -------
    violation : float
        ``max L_j |Delta w_j|`` over the epoch's updates, intercept included: the
        epoch's fixed-point violation.
    """
    n = v.shape[0]
    centred = mu.shape[0] > 0
    # v = v_stored + shift, d = d_stored + shift * h (see the module docstring)
    shift, d_sum, h_sum = 0.0, 0.0, float(n)
    if centred:
        for i in range(n):
            d_sum += d[i]
        if h.shape[0] > 0:
            h_sum = 0.0
            for i in range(n):
                h_sum += h[i]
    violation = 0.0
    for t in range(ws.shape[0]):
        j = ws[t]
        if centred:
            du, dh = _column_dot_pair(data, indices, indptr, j, d, h)
            g_j = (du + shift * dh - mu[j] * (d_sum + shift * h_sum)) / n
        else:
            g_j = _column_dot(X, data, indices, indptr, j, d, False) / n
        new = _prox_coordinate(w[j], g_j, lc[t], l1[j], l2[j], lower)
        delta = new - w[j]
        if delta != 0.0:
            w[j] = new
            _column_update(X, data, indices, indptr, j, delta, h, v, d)
            if centred:
                d_sum += delta * dh
                shift -= delta * mu[j]
            violation = max(violation, lc[t] * abs(delta))
    if intercept > 0.0:
        g_b = 0.0
        if centred:
            g_b = (d_sum + shift * h_sum) / n
        else:  # summed again: no drift of the kept sum in the intercept's step
            for i in range(n):
                g_b += d[i]
            g_b /= n
        delta = -g_b / lc[lc.shape[0] - 1]
        w[w.shape[0] - 1] += delta
        shift += delta
        violation = max(violation, intercept * abs(g_b))
    if shift != 0.0:
        for i in range(n):
            v[i] += shift
            d[i] += shift * _weight(h, i)
    return violation


@njit(cache=True, fastmath=_FASTMATH)
def columns_gradient_curvature(X, data, indices, indptr, mu, ws, a, h):
    """``X_j^T a / n`` and ``(X_j**2)^T h / n`` for ``j`` in ``ws``: the model at a new point
    (of the columns ``X_j - mu_j`` when ``mu`` is not empty: see :func:`cd_epoch`)."""
    n = a.shape[0]
    grad = np.empty(ws.shape[0])
    curv = np.empty(ws.shape[0])
    centred = mu.shape[0] > 0
    a_sum, h_sum = 0.0, 0.0
    if centred:
        for i in range(n):
            a_sum += a[i]
            h_sum += _weight(h, i)
    for k in range(ws.shape[0]):
        j = ws[k]
        sq = _column_dot(X, data, indices, indptr, j, h, True)
        if centred:
            da, dh = _column_dot_pair(data, indices, indptr, j, a, h)
            grad[k] = (da - mu[j] * a_sum) / n
            curv[k] = _centred_curvature(sq, dh, mu[j], h_sum, n)
        else:
            grad[k] = _column_dot(X, data, indices, indptr, j, a, False) / n
            curv[k] = sq / n
    return grad, curv


@njit(cache=True)
def prox_steps(w, grad, l1, l2, lower, lc):
    r"""Coordinate prox-gradient steps :math:`\Delta_j` from ``w`` for every feature.

    :math:`\Delta_j = S_{l1_j/L_j}(w_j - g_j/L_j) / (1 + l2_j/L_j) - w_j` (clipped at
    ``lower``). With
    :math:`L_j` a bound on the curvature along coordinate ``j``, the step
    decreases the objective by at least :math:`L_j \Delta_j^2 / 2` (a lower
    bound on the suboptimality), and :math:`L_j |\Delta_j|` scores how far
    feature ``j`` is from optimality (zero exactly there).
    """
    out = np.empty(grad.shape[0])
    for j in range(grad.shape[0]):
        out[j] = _prox_coordinate(w[j], grad[j], lc[j], l1[j], l2[j], lower) - w[j]
    return out


@njit(cache=True)
def prox_scores(w, grad, l1, l2, lower, lc, out):
    r"""Scores :math:`L_j |\Delta_j|` of the steps of :func:`prox_steps` in ``out`` (which
    may be ``grad`` itself: entry ``j`` is written after it is read), and the largest
    decrease bound :math:`L_j \Delta_j^2` (as ``|Delta_j| (L_j |Delta_j|)``), without
    the steps themselves."""
    decrease = 0.0
    for j in range(grad.shape[0]):
        step = abs(_prox_coordinate(w[j], grad[j], lc[j], l1[j], l2[j], lower) - w[j])
        out[j] = step * lc[j]
        decrease = max(decrease, step * out[j])
    return out, decrease


@njit(cache=True)
def column_dots(data, indices, indptr, j0, j1, u):
    """``X_j^T u`` for the columns ``j0 <= j < j1`` of a CSC ``X``, each summed in the
    stored order from 0 (scipy's ``X.T @ u``, bit for bit: no reassociation here)."""
    out = np.empty(j1 - j0)
    for j in range(j0, j1):
        s = 0.0
        for k in range(indptr[j], indptr[j + 1]):
            s += data[k] * u[indices[k]]
        out[j - j0] = s
    return out


@njit(cache=True)
def selected_columns_t(data, indices, indptr, ws, u):
    """``X_ws^T u``, shape (m, K), for the columns ``ws`` of a CSC ``X`` and ``u`` of shape
    (n, K): scipy's ``X[:, ws].T @ u`` bit for bit (each sum in the stored order from 0),
    without building ``X[:, ws]``."""
    K = u.shape[1]
    out = np.zeros((ws.shape[0], K))
    for t in range(ws.shape[0]):
        j = ws[t]
        for k in range(indptr[j], indptr[j + 1]):
            x, i = data[k], indices[k]
            for c in range(K):
                out[t, c] += x * u[i, c]
    return out


@njit(cache=True)
def selected_columns_times(data, indices, indptr, ws, coef, n):
    """``X_ws coef``, shape (n, K), for the columns ``ws`` of a CSC ``X`` with ``n`` rows and
    ``coef`` of shape (m, K): scipy's ``X[:, ws] @ coef`` bit for bit (column by column
    from 0), without building ``X[:, ws]``."""
    K = coef.shape[1]
    out = np.zeros((n, K))
    for t in range(ws.shape[0]):
        j = ws[t]
        for k in range(indptr[j], indptr[j + 1]):
            x, i = data[k], indices[k]
            for c in range(K):
                out[i, c] += x * coef[t, c]
    return out


@njit(cache=True)
def selected_columns_dense(data, indices, indptr, ws, n):
    """The columns ``ws`` of a canonical CSC ``X`` with ``n`` rows as a dense (n, m)
    array (scipy's ``X[:, ws].toarray()``)."""
    out = np.zeros((n, ws.shape[0]))
    for t in range(ws.shape[0]):
        j = ws[t]
        for k in range(indptr[j], indptr[j + 1]):
            out[indices[k], t] = data[k]
    return out


@njit(cache=True)
def selected_columns_data(data, indptr, ws):
    """``(data, indptr)`` of the columns ``ws`` of a CSC ``X``, as scipy's ``X[:, ws]``
    stores them."""
    sub_indptr = np.zeros(ws.shape[0] + 1, dtype=np.int64)
    for t in range(ws.shape[0]):
        sub_indptr[t + 1] = sub_indptr[t] + indptr[ws[t] + 1] - indptr[ws[t]]
    sub = np.empty(sub_indptr[-1])
    for t in range(ws.shape[0]):
        start = indptr[ws[t]]
        for k in range(sub_indptr[t], sub_indptr[t + 1]):
            sub[k] = data[start + k - sub_indptr[t]]
    return sub, sub_indptr


@njit(cache=True)
def support_and_candidates(scores, coef, n_outputs):
    """Mark the support in ``scores`` and list the features worth a working set.

    The score of every feature with a nonzero coefficient (``coef[j * n_outputs
    + k] != 0`` for some ``k``) is set to infinity, in place; returns the
    features whose score is then positive (increasing: ``np.flatnonzero(scores
    > 0)``) and the size of the support, in two passes without a ``p``-sized mask.
    """
    n_support = 0
    m = 0
    for j in range(scores.shape[0]):
        for k in range(n_outputs):
            if coef[j * n_outputs + k] != 0.0:
                scores[j] = np.inf
                n_support += 1
                break
        if scores[j] > 0.0:
            m += 1
    out = np.empty(m, dtype=np.intp)
    t = 0
    for j in range(scores.shape[0]):
        if scores[j] > 0.0:
            out[t] = j
            t += 1
    return out, n_support


@njit(cache=True, inline="always", fastmath=_FASTMATH)
def _column_dots_blocks(X, data, indices, indptr, j, u, out, squared):
    """``out[k] = X_j^T u[:, k]`` (``(X_j**2)^T u[:, k]`` when ``squared``), ``u`` of shape
    (n, K): one class at a time, over the samples (contiguous for a Fortran-ordered ``u``)."""
    if indptr.shape[0] == 0:
        for k in range(out.shape[0]):
            acc = 0.0
            for i in range(X.shape[0]):
                x = X[i, j]
                acc += (x * x if squared else x) * u[i, k]
            out[k] = acc
    else:
        for k in range(out.shape[0]):
            acc = 0.0
            for q in range(indptr[j], indptr[j + 1]):
                x = data[q]
                acc += (x * x if squared else x) * u[indices[q], k]
            out[k] = acc


@njit(cache=True, inline="always", fastmath=_FASTMATH)
def _column_update_blocks(X, data, indices, indptr, j, delta, h, sw, v, d, hd):
    r"""``v_i += X_ij delta`` and ``d_i += X_ij H_i delta``,
    ``H_i = s_i (diag(h_i) - h_i h_i^T)`` (``sw`` empty: ``s_i = 1``).

    One class at a time over the samples (contiguous for Fortran-ordered ``(n, K)``
    arrays), the classes whose ``delta_k`` is 0 skipped where they add nothing; ``hd``
    (shape (n,)) receives :math:`h_i^T \delta` (dense ``X``: every entry; CSC: those of
    the column's rows).
    """
    K = delta.shape[0]
    weighted = sw.shape[0] > 0
    if indptr.shape[0] == 0:
        n = X.shape[0]
        hd[:] = 0.0
        for k in range(K):
            dk = delta[k]
            if dk != 0.0:
                for i in range(n):
                    hd[i] += h[i, k] * dk
                    v[i, k] += X[i, j] * dk
        if weighted:
            for k in range(K):
                dk = delta[k]
                for i in range(n):
                    d[i, k] += X[i, j] * sw[i] * h[i, k] * (dk - hd[i])
        else:
            for k in range(K):
                dk = delta[k]
                for i in range(n):
                    d[i, k] += X[i, j] * h[i, k] * (dk - hd[i])
    else:
        lo, hi = indptr[j], indptr[j + 1]
        for q in range(lo, hi):
            hd[indices[q]] = 0.0
        for k in range(K):
            dk = delta[k]
            if dk != 0.0:
                for q in range(lo, hi):
                    i = indices[q]
                    hd[i] += h[i, k] * dk
                    v[i, k] += data[q] * dk
        for k in range(K):
            dk = delta[k]
            for q in range(lo, hi):
                i = indices[q]
                x = data[q] * sw[i] if weighted else data[q]
                d[i, k] += x * h[i, k] * (dk - hd[i])


@njit(cache=True, inline="always")
def _common_shift(w, first, K, g, B, l1_j, l2):
    r"""Exact minimizer ``c`` of the block model along ``(1, ..., 1)`` (0 if none is better).

    The loss does not change when ``c`` is added to the K coefficients of a
    feature (:math:`H_i 1 = 0`), so along that direction the model is
    :math:`\phi(c) = c\,1^Tg + \frac{c^2}2 1^TB1 + \sum_k l1 |x_k + c| +
    \frac{l2}2 (x_k + c)^2`, a convex piecewise quadratic that coordinate sweeps
    follow only slowly. Its minimizer is a kink ``-x_k`` or the stationary
    point of a piece (``m`` positive entries); ``phi`` is evaluated at all of them.
    """
    s1, s2, sx = 0.0, 0.0, 0.0
    for k in range(K):
        s1 += g[k]
        sx += w[first + k]
        for m in range(K):
            s2 += B[k, m]
    s2 = max(s2, 0.0)
    best_c, best = 0.0, _phi(w, first, K, 0.0, s1, s2, l1_j, l2)
    for t in range(2 * K + 1):
        if t < K:
            c = -w[first + t]
        else:
            denom = s2 + K * l2
            if denom <= 0.0:
                continue
            c = -(s1 + l2 * sx + l1_j * (2 * (t - K) - K)) / denom
        val = _phi(w, first, K, c, s1, s2, l1_j, l2)
        if val < best:
            best_c, best = c, val
    return best_c


@njit(cache=True, inline="always")
def _phi(w, first, K, c, s1, s2, l1_j, l2):
    r""":math:`\phi(c)` of :func:`_common_shift`."""
    out = c * s1 + 0.5 * c * c * s2
    for k in range(K):
        x = w[first + k] + c
        out += l1_j * abs(x) + 0.5 * l2 * x * x
    return out


_MAX_SWEEPS = 50  # coordinate sweeps on one block's K-dimensional model
_SWEEP_RTOL = 1e-4  # ... until a sweep moves less than this times the first


@njit(cache=True, inline="always")
def _minimize_block(w, first, K, g, B, l1_j, l2, delta):
    """Minimize the block model ``g^T u + u^T B u / 2`` + penalty over ``w[first:first + K]``.

    Coordinate sweeps (exact along each coefficient, ``g`` kept current through
    ``B``), each followed for a penalized block by :func:`_common_shift`, at most
    ``_MAX_SWEEPS``. ``delta`` receives the change; returns ``max_k B_kk |delta_k|``.
    """
    delta[:] = 0.0
    shift = l1_j > 0.0 or l2 > 0.0
    first_change = 0.0
    for sweep in range(_MAX_SWEEPS):
        change = 0.0
        for k in range(K):
            e = first + k
            step = _prox_coordinate(w[e], g[k], B[k, k], l1_j, l2, -np.inf) - w[e]
            if step != 0.0:
                w[e] += step
                delta[k] += step
                for m in range(K):
                    g[m] += B[m, k] * step
                change = max(change, B[k, k] * abs(step))
        if shift:
            c = _common_shift(w, first, K, g, B, l1_j, l2)
            if c != 0.0:
                for k in range(K):
                    w[first + k] += c
                    delta[k] += c
                    change = max(change, B[k, k] * abs(c))
                for m in range(K):
                    for k in range(K):
                        g[m] += B[m, k] * c
        if sweep == 0:
            first_change = change
        if change <= _SWEEP_RTOL * first_change:
            break
    violation = 0.0
    for k in range(K):
        violation = max(violation, B[k, k] * abs(delta[k]))
    return violation


@njit(cache=True, fastmath=_FASTMATH)
def cd_epoch_blocks(X, data, indices, indptr, mu, sw, w, v, d, h, ws, l1, l2, lower, blocks,
                    intercept):
    """:func:`cd_epoch` for K outputs: block minimization over the features of ``ws``, then
    the intercepts (the block of the column of ones, unpenalized).

    Parameters
    ----------
    X, data, indices, indptr, mu : ndarray
        The design, as for :func:`cd_epoch`.
    sw : ndarray of shape (n_samples,) or (0,)
        Sample weights ``s_i`` of the Hessians; empty for unit weights.
    w : ndarray of shape (n_features * K + K * fit_intercept,)
        Coefficients (entry ``j * K + k``), then the K intercepts, updated in place.
    v, d : ndarray of shape (n_samples, K)
        Prediction change and model derivative ``a_i + H_i v_i``, updated in place.
    h : ndarray of shape (n_samples, K)
        Class probabilities at the model's center: ``H_i = s_i (diag(h_i) - h_i h_i^T)``.
    ws : ndarray of int
        The working set: features visited, in this order (all K classes of each).
    l1, l2 : ndarray of shape (n_features,)
        Per-feature L1 and L2 weights, shared by the K classes.
    lower : float
        ``-inf`` (the blocks' coefficients are not bounded; the argument keeps the
        signature of :func:`cd_epoch`).
    blocks : ndarray of shape ((len(ws) + fit_intercept) * K * K,)
        The blocks ``B_j = sum_i X_ij^2 H_i / n`` of the features of ``ws`` (block
        ``t`` for ``ws[t]``), then ``sum_i H_i / n`` for the intercepts, each flattened.
    intercept : float
        0 without intercepts; else the unit of their violation, as for :func:`cd_epoch`.

    Returns
    -------
    violation : float
        ``max (B_j)_kk |Delta w_jk|`` over the epoch's updates, intercepts included.
    """
    n, K = v.shape
    B3 = blocks.reshape(-1, K, K)
    g = np.empty(K)
    delta = np.empty(K)
    centred = mu.shape[0] > 0
    # v = v_stored + 1 shift^T, d_i = d_stored_i + H_i shift (see the module docstring):
    # with d_sum = sum_i d_stored_i and h_sum = sum_i H_i
    shift, d_sum, h_sum = np.zeros(K), np.zeros(K), np.zeros((K, K))
    hx = np.empty(K)  # X_j^T (H shift), then X_j^T (H delta)
    hd = np.empty(n)  # h_i^T delta of a column's update
    if centred:
        for i in range(n):
            for k in range(K):
                d_sum[k] += d[i, k]
            _add_hessian(h_sum, _weight(sw, i), h, i)
    violation = 0.0
    for t in range(ws.shape[0]):
        j = ws[t]
        _column_dots_blocks(X, data, indices, indptr, j, d, g, False)
        if centred:
            _column_hessian_dots(data, indices, indptr, j, h, sw, shift, hx)
            for k in range(K):
                total = d_sum[k]
                for m in range(K):
                    total += h_sum[k, m] * shift[m]
                g[k] += hx[k] - mu[j] * total
        g /= n
        change = _minimize_block(w, j * K, K, g, B3[t], l1[j], l2[j], delta)
        if change > 0.0:
            _column_update_blocks(X, data, indices, indptr, j, delta, h, sw, v, d, hd)
            violation = max(violation, change)
            if centred:
                _column_hessian_dots(data, indices, indptr, j, h, sw, delta, hx)
                for k in range(K):
                    d_sum[k] += hx[k]
                    shift[k] -= mu[j] * delta[k]
    if intercept > 0.0:
        first = w.shape[0] - K
        g[:] = 0.0
        if centred:
            for k in range(K):
                g[k] = d_sum[k]
                for m in range(K):
                    g[k] += h_sum[k, m] * shift[m]
        else:
            for i in range(n):
                for k in range(K):
                    g[k] += d[i, k]
        g /= n
        change = _minimize_block(w, first, K, g, B3[B3.shape[0] - 1], 0.0, 0.0, delta)
        violation = max(violation, intercept * change)
        for k in range(K):
            shift[k] += delta[k]
    for i in range(n if centred or intercept > 0.0 else 0):
        s = 0.0
        for k in range(K):
            s += h[i, k] * shift[k]
        si = _weight(sw, i)
        for k in range(K):
            v[i, k] += shift[k]
            d[i, k] += si * h[i, k] * (shift[k] - s)
    return violation


@njit(cache=True, inline="always", fastmath=_FASTMATH)
def _column_hessian_dots(data, indices, indptr, j, h, sw, u, out):
    """``out = sum_i X_ij H_i u`` over the stored entries of a CSC column,
    ``H_i = s_i (diag(h_i) - h_i h_i^T)``."""
    K = out.shape[0]
    out[:] = 0.0
    for q in range(indptr[j], indptr[j + 1]):
        i = indices[q]
        x = data[q] * _weight(sw, i)
        s = 0.0
        for k in range(K):
            s += h[i, k] * u[k]
        for k in range(K):
            out[k] += x * h[i, k] * (u[k] - s)


@njit(cache=True, fastmath=_FASTMATH)
def columns_gradient_curvature_blocks(X, data, indices, indptr, mu, sw, ws, a, h):
    """The model at a new point for K outputs: ``X_j^T a / n`` and the flattened blocks ``B_j``.

    ``B_j = sum_i X_ij^2 s_i (diag(h_i) - h_i h_i^T) / n`` from the class
    probabilities ``h`` and the sample weights ``sw`` (empty: unit weights); gradient entry
    ``t K + k`` and block ``t`` for ``ws[t]``.
    For the columns ``X_j - mu_j`` when ``mu`` is not empty (see :func:`cd_epoch`):
    ``B_j = (S2 - 2 mu_j S1 + mu_j^2 S0) / n`` with ``Sk = sum_i X_ij^k H_i``.
    """
    n, K = a.shape
    grad = np.empty(ws.shape[0] * K)
    blocks = np.zeros((ws.shape[0], K, K))
    out = np.empty(K)
    centred = mu.shape[0] > 0
    a_sum, h_sum, linear = np.zeros(K), np.zeros((K, K)), np.zeros((K, K))
    if centred:
        for i in range(n):
            for k in range(K):
                a_sum[k] += a[i, k]
            _add_hessian(h_sum, _weight(sw, i), h, i)
    for t in range(ws.shape[0]):
        j = ws[t]
        _column_dots_blocks(X, data, indices, indptr, j, a, out, False)
        if centred:
            for k in range(K):
                out[k] -= mu[j] * a_sum[k]
        grad[t * K:(t + 1) * K] = out / n
        B = blocks[t]
        if indptr.shape[0] == 0:
            for i in range(X.shape[0]):
                x2 = X[i, j] * X[i, j] * _weight(sw, i)
                _add_hessian(B, x2, h, i)
        else:
            linear[:, :] = 0.0
            for q in range(indptr[j], indptr[j + 1]):
                i = indices[q]
                x = data[q] * _weight(sw, i)
                _add_hessian(B, x * data[q], h, i)
                if centred:
                    _add_hessian(linear, x, h, i)
        if centred:
            m2 = mu[j] * mu[j]
            for k in range(K):
                for m in range(K):
                    B[k, m] += m2 * h_sum[k, m] - 2.0 * mu[j] * linear[k, m]
        for k in range(K):
            for m in range(K):
                B[k, m] /= n
    return grad, blocks.ravel()


def gradient_curvature_blocks(X, data, indices, indptr, mu, sw, ws, a, h,
                              max_entries=1 << 21):
    r""":func:`columns_gradient_curvature_blocks`, through BLAS products for a dense ``X``.

    With :math:`X_W` the columns ``ws``, :math:`P_i = \mathrm{vec}(h_i h_i^T)` and
    :math:`S` the sample weights (``sw``; the identity when empty),
    the gradient is :math:`X_W^T a / n` and the blocks
    :math:`B_j = \mathrm{diag}((X_W^{\circ 2})^T S h)_j - ((X_W^{\circ 2})^T S P)_j`, over
    ``n``: three matrix products per chunk of rows (at most ``max_entries`` entries
    of :math:`X_W` or :math:`P` at a time), instead of a loop over ``i`` and the
    ``K^2`` entries per feature; :math:`P` holds the ``K (K + 1) / 2`` products
    :math:`h_{ik} h_{il}`, ``k <= l`` (the blocks are symmetric). A sparse ``X`` goes to
    the numba kernel.
    """
    if indptr.shape[0] != 0:
        return columns_gradient_curvature_blocks(X, data, indices, indptr, mu, sw, ws, a, h)
    n, K = a.shape
    m = ws.shape[0]
    rows_k, cols_k = np.triu_indices(K)  # P's symmetric pairs k <= l, once each
    grad, diag = np.zeros((m, K)), np.zeros((m, K))
    upper = np.zeros((m, rows_k.shape[0]))
    step = max(1, max_entries // max(m, rows_k.shape[0]))
    pairs = np.empty((min(step, n), rows_k.shape[0]))
    for r0 in range(0, n, step):
        rows = slice(r0, min(r0 + step, n))
        Xc, hc = X[rows][:, ws], h[rows]
        grad += Xc.T @ a[rows]
        Xc *= Xc
        if sw.shape[0]:
            Xc *= sw[rows, None]
        diag += Xc.T @ hc
        P = pairs[:hc.shape[0]]
        np.multiply(hc[:, rows_k], hc[:, cols_k], out=P)
        upper -= Xc.T @ P
    blocks = np.empty((m, K, K))
    blocks[:, rows_k, cols_k] = upper
    blocks[:, cols_k, rows_k] = upper
    blocks[:, np.arange(K), np.arange(K)] += diag
    blocks /= n
    grad /= n
    return grad.ravel(), blocks.ravel()


@njit(cache=True, inline="always")
def _add_hessian(B, x2, h, i):
    """``B += x2 (diag(h_i) - h_i h_i^T)``."""
    K = B.shape[0]
    for k in range(K):
        hk = x2 * h[i, k]
        B[k, k] += hk
        for m in range(K):
            B[k, m] -= hk * h[i, m]
