r"""Numba kernels of minibatch proximal SAGA and SGD, and NSID's minibatch products.

Shared by :class:`~skhypergrad.solvers.StochasticProxGradient` and
:class:`~skhypergrad.hypergrad.NSID`, below both.

The problem is :math:`\min_w \frac1n \sum_i f_i(w) + \sum_j l1_j |w_j| + \frac{l2}{2}\|w\|^2`
with :math:`f_i(w) = \ell(y_i, z_i)`, :math:`z_i = x_i^T W + b` (``K`` outputs,
``W`` of shape (p, K) stored flat in C order, intercept ``b`` in the last ``K``
entries of ``w`` when fitted). The gradient of one sample is
:math:`\nabla f_i(w) = [x_i \otimes a_i, a_i]` with the *raw* gradient
:math:`a_i = \partial_z \ell(y_i, z_i) \in \mathbb{R}^K`, so a SAGA memory
stores ``K`` numbers per sample (:math:`\alpha_i`), never a full gradient.

For a minibatch ``B`` and step ``g_t``, with :math:`\bar\alpha = \frac1n \sum_i [x_i \otimes
\alpha_i, \alpha_i]` the mean gradient in memory,

.. math::

    \text{SGD:}\quad  d &= \frac{1}{|B|} \sum_{i \in B} [x_i \otimes a_i, a_i] \\
    \text{SAGA:}\quad d &= \frac{1}{|B|} \sum_{i \in B} [x_i \otimes (a_i - \alpha_i),
                                                         a_i - \alpha_i] + \bar\alpha,
    \qquad \alpha_i \leftarrow a_i \ (i \in B),\
    \bar\alpha \leftarrow \bar\alpha + \frac{|B|}{n}(d - \bar\alpha) \\
    w &\leftarrow \mathrm{prox}_{g_t G}(w - g_t d)
    \quad \text{(identity on the intercept).}

Both share one loop; they differ only by the correction. A sparse ``X`` centred
implicitly (column means ``mu``; see :mod:`skhypergrad._design`) has the rows
:math:`x_i - \mu`: its predictions subtract :math:`\mu^T W` (once per
minibatch) and its minibatch gradient :math:`\mu \otimes \sum_{i \in B} a_i / |B|`
(a dense term, as the prox step). Rows of ``X`` come
either from a dense C-ordered matrix (flattened, ``dense=True``; ``indices`` and
``indptr`` unused) or from CSR arrays ``(data, indices, indptr)``, so one
compiled signature serves both storages.

Datafit codes (``datafit.kernel_code``, with the float64 array ``params`` of
``datafit.kernel_params()``, empty for the first three): 0 least squares
:math:`a = z - y`, 1 logistic :math:`a = -y / (1 + e^{yz})` with :math:`y = \pm 1`,
2 multinomial :math:`a = \mathrm{softmax}(z) - e_y` (``y`` a class index stored
as float), 3 squared hinge :math:`a_k = -2\,t_k \max(0, 1 - t_k z_k)` with
:math:`t = y = \pm 1` for one output, and for ``K`` outputs (one-vs-rest) :math:`t_k = +1`
for the class ``k = y``, -1 otherwise (its second derivative: :math:`2\,1\{t_k z_k < 1\}`);
4 log-link Tweedie half deviance of power ``p = params[0]`` in [1, 2]
(:mod:`skhypergrad.glm`: Poisson, Gamma, Tweedie) :math:`a = e^{(2-p)z} - y e^{(1-p)z}`.
"""

import numpy as np
import scipy.sparse as sp
from numba import njit

from ._kernels import prox_enet

__all__ = ["prox_sgd_epoch", "prox_svrg_epoch", "max_row_squared_norm", "SUPPORTED_KINDS",
           "kernel_rows", "kernel_params"]

#: datafit codes the kernel implements (Quadratic, Logistic, Multinomial, SquaredHinge,
#: the log-link GLMs)
SUPPORTED_KINDS = (0, 1, 2, 3, 4)


@njit(cache=True, inline="always")
def _row_bounds(indptr, dense, n_features, i):
    """Positions of row ``i`` in the flat storage ``data``."""
    if dense:
        return i * n_features, (i + 1) * n_features
    return indptr[i], indptr[i + 1]


@njit(cache=True, inline="always")
def _column(indices, dense, start, pos):
    """Feature index of the stored entry ``pos`` of a row starting at ``start``."""
    return pos - start if dense else indices[pos]


@njit(cache=True)
def _predict(data, indices, indptr, dense, n_features, i, w, fit_intercept, z):
    """``z = x_i^T W + b`` (``z`` of length K, overwritten)."""
    K = z.shape[0]
    n_coefs = n_features * K
    start, end = _row_bounds(indptr, dense, n_features, i)
    for k in range(K):
        acc = w[n_coefs + k] if fit_intercept else 0.0
        for pos in range(start, end):
            acc += data[pos] * w[_column(indices, dense, start, pos) * K + k]
        z[k] = acc


@njit(cache=True)
def _add_sample_gradient(data, indices, indptr, dense, n_features, i, a, scale,
                         fit_intercept, d):
    """``d += scale * [x_i (x) a, a]`` (the intercept part only when fitted)."""
    K = a.shape[0]
    n_coefs = n_features * K
    start, end = _row_bounds(indptr, dense, n_features, i)
    for k in range(K):
        ak = scale * a[k]
        for pos in range(start, end):
            d[_column(indices, dense, start, pos) * K + k] += data[pos] * ak
        if fit_intercept:
            d[n_coefs + k] += ak


@njit(cache=True, fastmath=True)
def _dense_predict_batch(data, n_features, rows, w, fit_intercept, z):
    """``z[s] = x_{rows[s]}^T w (+ b)`` for dense rows, one output.

    Four rows at a time: four independent memory streams (random rows are
    latency bound) and four vectorized dot products (reassociated sums).
    """
    m = rows.shape[0]
    b = w[n_features] if fit_intercept else 0.0
    s = 0
    while s + 4 <= m:
        o0 = rows[s] * n_features
        o1 = rows[s + 1] * n_features
        o2 = rows[s + 2] * n_features
        o3 = rows[s + 3] * n_features
        a0 = a1 = a2 = a3 = 0.0
        for j in range(n_features):
            wj = w[j]
            a0 += data[o0 + j] * wj
            a1 += data[o1 + j] * wj
            a2 += data[o2 + j] * wj
            a3 += data[o3 + j] * wj
        z[s] = a0 + b
        z[s + 1] = a1 + b
        z[s + 2] = a2 + b
        z[s + 3] = a3 + b
        s += 4
    while s < m:
        o0 = rows[s] * n_features
        a0 = 0.0
        for j in range(n_features):
            a0 += data[o0 + j] * w[j]
        z[s] = a0 + b
        s += 1


@njit(cache=True)
def _dense_add_batch(data, n_features, rows, coef, fit_intercept, d):
    """``d += sum_s coef[s] [x_{rows[s]}, 1]`` for dense rows, one output (four rows at a time)."""
    m = rows.shape[0]
    s = 0
    while s + 4 <= m:
        o0 = rows[s] * n_features
        o1 = rows[s + 1] * n_features
        o2 = rows[s + 2] * n_features
        o3 = rows[s + 3] * n_features
        c0, c1, c2, c3 = coef[s], coef[s + 1], coef[s + 2], coef[s + 3]
        for j in range(n_features):
            d[j] += (c0 * data[o0 + j] + c1 * data[o1 + j]) + (c2 * data[o2 + j]
                                                               + c3 * data[o3 + j])
        s += 4
    while s < m:
        o0 = rows[s] * n_features
        c0 = coef[s]
        for j in range(n_features):
            d[j] += c0 * data[o0 + j]
        s += 1
    if fit_intercept:
        total = 0.0
        for s in range(m):
            total += coef[s]
        d[n_features] += total


@njit(cache=True, fastmath=True)
def max_row_squared_norm(X):
    """``max_i ||x_i||^2`` of a dense C-ordered matrix with at least one row."""
    best = 0.0
    for i in range(X.shape[0]):
        acc = 0.0
        for j in range(X.shape[1]):
            acc += X[i, j] * X[i, j]
        best = max(best, acc)
    return best


@njit(cache=True, inline="always")
def _hinge_sign(yi, k, n_outputs):
    """The squared hinge's label of output ``k``: ``yi`` (one output), else +1 for the
    class ``yi`` and -1 for the others."""
    if n_outputs == 1:
        return yi
    return 1.0 if k == int(yi) else -1.0


@njit(cache=True)
def _raw_grad(kind, params, yi, z, a):
    """Raw gradient ``a = d loss(yi, z) / dz`` of one sample (see the module docstring)."""
    if kind == 0:
        a[0] = z[0] - yi
    elif kind == 1:
        a[0] = -yi / (1.0 + np.exp(yi * z[0]))
    elif kind == 3:
        for k in range(z.shape[0]):
            t = _hinge_sign(yi, k, z.shape[0])
            a[k] = -2.0 * t * max(1.0 - t * z[k], 0.0)
    elif kind == 4:
        p = params[0]
        a[0] = np.exp((2.0 - p) * z[0]) - yi * np.exp((1.0 - p) * z[0])
    else:
        zmax = z.max()
        total = 0.0
        for k in range(z.shape[0]):
            a[k] = np.exp(z[k] - zmax)
            total += a[k]
        for k in range(z.shape[0]):
            a[k] /= total
        a[int(yi)] -= 1.0


@njit(cache=True)
def _prox_step(w, d, step, l1, l2, lower, n_coefs, n_outputs):
    """``w <- prox_{step G}(w - step d)`` on the coefficients, a gradient step on the intercept."""
    w[:n_coefs] = prox_enet(w[:n_coefs] - step * d[:n_coefs], l1, l2, step, n_outputs, lower)
    for m in range(n_coefs, w.shape[0]):
        w[m] -= step * d[m]


@njit(cache=True)
def prox_sgd_epoch(data, indices, indptr, dense, n_features, y, kind, params, n_outputs,
                   fit_intercept, mu, w, l1, l2, lower, order, batch_size, steps,
                   variance_reduction, memory, grad_mean):
    r"""One pass of minibatch proximal SAGA or SGD (see :func:`_prox_epoch`)."""
    _prox_epoch(data, indices, indptr, dense, n_features, y, kind, params, n_outputs,
                fit_intercept, mu, w, l1, l2, lower, order, batch_size, steps, variance_reduction,
                True, memory, grad_mean)


@njit(cache=True)
def prox_svrg_epoch(data, indices, indptr, dense, n_features, y, kind, params, n_outputs,
                    fit_intercept, mu, w, l1, l2, lower, order, batch_size, steps, memory,
                    grad_mean):
    r"""One inner loop of minibatch proximal SVRG, in place on ``w``.

    ``memory`` holds the raw gradients at the snapshot and ``grad_mean`` the full
    gradient there; neither changes (see :func:`_prox_epoch`).
    """
    _prox_epoch(data, indices, indptr, dense, n_features, y, kind, params, n_outputs,
                fit_intercept, mu, w, l1, l2, lower, order, batch_size, steps, True, False, memory,
                grad_mean)


@njit(cache=True)
def _prox_epoch(data, indices, indptr, dense, n_features, y, kind, params, n_outputs,
                fit_intercept, mu, w, l1, l2, lower, order, batch_size, steps,
                variance_reduction, update_memory, memory, grad_mean):
    r"""One pass of minibatch proximal SAGA or SGD over the samples ``order``, in place.

    Parameters
    ----------
    data, indices, indptr : ndarray
        Rows of ``X``: CSR arrays, or (``dense=True``) the C-ordered dense matrix
        flattened, with ``indices``/``indptr`` unused (empty).
    dense : bool
    n_features : int
    y : ndarray of shape (n_samples,), float64
        Encoded target (class indices as floats for the multinomial loss).
    kind : int
        Datafit code: 0 least squares, 1 logistic, 2 multinomial.
    params : ndarray of float64
        The datafit's parameters (``kernel_params()``; empty for these three).
    n_outputs : int
        ``K`` (1 unless multinomial).
    fit_intercept : bool
    mu : ndarray of shape (n_features,) or (0,)
        Column means of a sparse ``X`` centred implicitly (its rows are then
        ``x_i - mu``); empty otherwise.
    w : ndarray of shape (n_features * K + K * fit_intercept,)
        Parameters, updated in place.
    l1, l2 : ndarray of shape (n_features,)
        Per-feature L1 and L2 weights.
    lower : float
        Lower bound on the coefficients (0.0 for a nonnegative model, ``-inf``).
    order : ndarray of int64
        Samples visited, cut into consecutive minibatches of ``batch_size``
        (the last one may be smaller).
    batch_size : int
    steps : ndarray of shape (ceil(len(order) / batch_size),)
        Step of each minibatch.
    variance_reduction : bool
        SAGA / SVRG (True) or plain SGD (False).
    update_memory : bool
        SAGA (True): the memory of the samples visited and its mean follow the
        iterates. SVRG (False): they stay at the snapshot.
    memory : ndarray of shape (n_samples * K,)
        SAGA memory :math:`\alpha` of raw gradients, updated in place (unused,
        may be empty, for SGD).
    grad_mean : ndarray of shape (len(w),)
        :math:`\bar\alpha = \frac1n \sum_i [x_i \otimes \alpha_i, \alpha_i]`, updated
        in place (unused for SGD).
    """
    n_samples = y.shape[0]
    K = n_outputs
    n_coefs = n_features * K
    z = np.empty(K)
    a = np.empty(K)
    d = np.empty(w.shape[0])
    single = dense and K == 1
    zb = np.empty(batch_size if single else 0)
    centred = mu.shape[0] > 0
    shift = np.zeros(K)
    a_sum = np.zeros(K)
    for t in range(steps.shape[0]):
        start = t * batch_size
        stop = min(start + batch_size, order.shape[0])
        d[:] = 0.0
        if single:  # dense rows, one output: the whole minibatch at once
            rows = order[start:stop]
            _dense_predict_batch(data, n_features, rows, w, fit_intercept, zb)
            for s in range(stop - start):
                i = rows[s]
                z[0] = zb[s]
                _raw_grad(kind, params, y[i], z, a)
                if variance_reduction:
                    old = memory[i]
                    if update_memory:
                        memory[i] = a[0]
                    a[0] -= old
                zb[s] = a[0] / (stop - start)
            _dense_add_batch(data, n_features, rows, zb[:stop - start], fit_intercept, d)
        else:
            if centred:  # mu^T W, and the sum of the minibatch's a / |B|
                for k in range(K):
                    shift[k] = 0.0
                    a_sum[k] = 0.0
                    for j in range(n_features):
                        shift[k] += mu[j] * w[j * K + k]
            for s in range(start, stop):
                i = order[s]
                _predict(data, indices, indptr, dense, n_features, i, w, fit_intercept, z)
                if centred:
                    for k in range(K):
                        z[k] -= shift[k]
                _raw_grad(kind, params, y[i], z, a)
                if variance_reduction:
                    for k in range(K):
                        old = memory[i * K + k]
                        if update_memory:
                            memory[i * K + k] = a[k]
                        a[k] -= old
                _add_sample_gradient(data, indices, indptr, dense, n_features, i, a,
                                     1.0 / (stop - start), fit_intercept, d)
                if centred:
                    for k in range(K):
                        a_sum[k] += a[k] / (stop - start)
            if centred:
                for j in range(n_features):
                    for k in range(K):
                        d[j * K + k] -= mu[j] * a_sum[k]
        if variance_reduction:
            # d holds the correction; add the mean memory gradient, then refresh it
            frac = (stop - start) / n_samples
            for m in range(d.shape[0]):
                mean_old = grad_mean[m]
                if update_memory:
                    grad_mean[m] += frac * d[m]
                d[m] += mean_old
        _prox_step(w, d, steps[t], l1, l2, lower, n_coefs, K)


_NO_INDEX = np.empty(0, dtype=np.int32)


def kernel_params(datafit):
    """The datafit's parameters as the kernels take them (contiguous float64)."""
    return np.ascontiguousarray(datafit.kernel_params(), dtype=np.float64)


def kernel_rows(X):
    """``(data, indices, indptr, dense)`` as the kernels read rows (copies only if needed)."""
    if sp.issparse(X):
        X = X.tocsr()
        return np.asarray(X.data, dtype=np.float64), X.indices, X.indptr, False
    X = np.ascontiguousarray(X, dtype=np.float64)
    return X.reshape(-1), _NO_INDEX, _NO_INDEX, True


# -- minibatch products for NSID (skhypergrad.hypergrad.nsid) ---------------------------
#: rows handled at once by the dense single-output paths below (their buffers)
_BLOCK = 256


@njit(cache=True)
def _raw_hessp(kind, params, yi, z, dz, out):
    """``out = d^2 loss(yi, z) / dz^2 @ dz`` of one sample (``z`` needed unless kind 0)."""
    if kind == 0:
        out[0] = dz[0]
    elif kind == 1:
        s = 1.0 / (1.0 + np.exp(-yi * z[0]))
        out[0] = s * (1.0 - s) * dz[0]
    elif kind == 3:
        for k in range(z.shape[0]):
            t = _hinge_sign(yi, k, z.shape[0])
            out[k] = 2.0 * dz[k] if t * z[k] < 1.0 else 0.0
    elif kind == 4:
        p = params[0]
        out[0] = ((2.0 - p) * np.exp((2.0 - p) * z[0])
                  + (p - 1.0) * yi * np.exp((1.0 - p) * z[0])) * dz[0]
    else:
        zmax = z.max()
        total = 0.0
        for k in range(z.shape[0]):
            out[k] = np.exp(z[k] - zmax)
            total += out[k]
        inner = 0.0
        for k in range(z.shape[0]):
            out[k] = out[k] / total * dz[k]
            inner += out[k]
        for k in range(z.shape[0]):
            out[k] -= np.exp(z[k] - zmax) / total * inner


@njit(cache=True, nogil=True)
def sample_gradient_sum(data, indices, indptr, dense, n_features, y, kind, params, n_outputs,
                        fit_intercept, w, rows, out):
    r"""``out += sum_{i in rows} grad f_i(w)`` (rows may repeat), in place.

    Same storage and datafit conventions as :func:`prox_sgd_epoch`; releases the
    GIL, so that chunks of rows can be summed by threads.
    """
    K = n_outputs
    z = np.empty(K)
    a = np.empty(K)
    if dense and K == 1:
        buf = np.empty(_BLOCK)
        for start in range(0, rows.shape[0], _BLOCK):
            block = rows[start:start + _BLOCK]
            m = block.shape[0]
            _dense_predict_batch(data, n_features, block, w, fit_intercept, buf)
            for s in range(m):
                z[0] = buf[s]
                _raw_grad(kind, params, y[block[s]], z, a)
                buf[s] = a[0]
            _dense_add_batch(data, n_features, block, buf[:m], fit_intercept, out)
        return
    for s in range(rows.shape[0]):
        i = rows[s]
        _predict(data, indices, indptr, dense, n_features, i, w, fit_intercept, z)
        _raw_grad(kind, params, y[i], z, a)
        _add_sample_gradient(data, indices, indptr, dense, n_features, i, a, 1.0,
                             fit_intercept, out)


@njit(cache=True)
def nsid_adjoint(data, indices, indptr, dense, n_features, y, kind, params, n_outputs,
                 fit_intercept, w, rows, batch_size, delta, c, step, eta, v):
    r"""NSID's adjoint iterations, in place on ``v``.

    For ``k < len(eta)``, with the minibatch ``B_k = rows[k b:(k + 1) b]``,
    :math:`u = \delta \odot v` and :math:`\hat H_k` the mean Hessian of the
    samples of ``B_k`` at ``w``:

    .. math::

        v \leftarrow (1 - \eta_k) v + \eta_k \big(u - g \hat H_k u + c\big),

    i.e. :math:`\partial_w\hat\Psi(w; B_k)^T \partial_z T^T v + \nabla C(w)` with
    :math:`\hat\Psi(w; B) = w - g \frac{1}{|B|}\sum_{i\in B}\nabla f_i(w)`.
    Same storage and datafit conventions as :func:`prox_sgd_epoch`.
    """
    K = n_outputs
    z = np.empty(K)
    dz = np.empty(K)
    h = np.empty(K)
    u = np.empty(v.shape[0])
    hu = np.empty(v.shape[0])
    single = dense and K == 1
    zb = np.empty(batch_size if single else 0)
    sb = np.empty(batch_size if single else 0)
    scale = 1.0 / batch_size
    for k in range(eta.shape[0]):
        batch = rows[k * batch_size:(k + 1) * batch_size]
        for m in range(v.shape[0]):
            u[m] = delta[m] * v[m]
            hu[m] = 0.0
        if single:
            _dense_predict_batch(data, n_features, batch, u, fit_intercept, sb)
            if kind != 0:
                _dense_predict_batch(data, n_features, batch, w, fit_intercept, zb)
            for s in range(batch_size):
                z[0] = zb[s] if kind != 0 else 0.0
                dz[0] = sb[s]
                _raw_hessp(kind, params, y[batch[s]], z, dz, h)
                sb[s] = h[0] * scale
            _dense_add_batch(data, n_features, batch, sb, fit_intercept, hu)
        else:
            for s in range(batch_size):
                i = batch[s]
                if kind != 0:
                    _predict(data, indices, indptr, dense, n_features, i, w, fit_intercept, z)
                _predict(data, indices, indptr, dense, n_features, i, u, fit_intercept, dz)
                _raw_hessp(kind, params, y[i], z, dz, h)
                _add_sample_gradient(data, indices, indptr, dense, n_features, i, h, scale,
                                     fit_intercept, hu)
        e = eta[k]
        for m in range(v.shape[0]):
            v[m] = (1.0 - e) * v[m] + e * (u[m] - step * hu[m] + c[m])
