r"""Block coordinate descent on the Gram matrix, for multi-output least squares.

When the per-sample Hessian of the datafit is the identity across its K outputs
(``newton_model = "identity"``: least squares on every output,
:class:`~skhypergrad.multitask.MultiTaskQuadratic`), the problem in the stacked
parameters :math:`B = [W; b^T]` (shape (q, K), ``q = p + 1`` with an intercept, the
flat ``w`` in C order) is

.. math::

    \min_B \tfrac12 \mathrm{tr}(B^T A B) - \mathrm{tr}(C^T B) + \sum_{j < p} G_j(B_j),
    \qquad A = \tfrac1n [X, 1]^T [X, 1], \quad C = \tfrac1n [X, 1]^T Y,

(up to a constant), a quadratic whose blocks along a row are :math:`A_{jj} I`. Row
``j`` is minimized exactly: with :math:`g_j = (AB)_j - C_j`,

.. math::

    B_j \leftarrow \mathrm{prox}_{G_j / A_{jj}}(B_j - g_j / A_{jj}),

the block soft-thresholding :math:`\max(1 - t/\|z\|, 0)\,z / (1 + l2_j/A_{jj})` for a
penalty on whole rows (``group_rows``, the L2,1 norm), the elementwise one
otherwise, the identity on the intercept's row; :math:`Q = AB` is kept up to date
(``O(qK)`` per changed row, ``O(q^2 K)`` per epoch, no pass over ``X``). The Gram
matrix of a dense design is the one cached with it
(:func:`~skhypergrad._design.gram_of`, shared with the engines' Hessian); a sparse
one's is formed per solve (its centring implicit, see
:meth:`~skhypergrad._design.Design.weighted_gram`).
"""

import numpy as np
from numba import njit

from .._design import Design, gram_of, xty_of
from ._gap import gap_from_parts


def augmented_gram(design):
    r""":math:`A = [X, 1]^T [X, 1] / n` (the intercept's row and column last when fitted),
    C-contiguous; kept with a dense design (from its cached Gram matrix)."""
    n = design.n_samples
    if design.is_sparse:
        one = Design(design.X, design.fit_intercept, 1, design.offset)
        return np.ascontiguousarray(one.weighted_gram(1.0 / n))
    G, colmeans = gram_of(design)
    if not design.fit_intercept:
        return G
    # assembled once from the design's Gram matrix and cached with it
    entry = design._cache.get("augmented_gram")
    if entry is None or entry[0] is not G:
        A = np.block([[G, colmeans[:, None]], [colmeans[None, :], np.ones((1, 1))]])
        entry = (G, A)
        design._cache["augmented_gram"] = entry
    return entry[1]


def stacked_target_products(design, y):
    r""":math:`C = [X, 1]^T Y / n` of shape (q, K) for targets ``y`` of shape (n, K) or
    (n,) (one output); :math:`X^T Y / n` of a dense design is cached with it
    (:func:`~skhypergrad._design.xty_of`)."""
    Y = y if y.ndim == 2 else y[:, None]
    if design.is_sparse:
        XtY = np.asarray(design.X.T @ Y) / design.n_samples
        if design.sparse_offset is not None:
            XtY -= np.multiply.outer(design.sparse_offset, Y.mean(axis=0))
    else:
        XtY = xty_of(design, y).reshape(design.n_features, -1)
    if design.fit_intercept:
        XtY = np.vstack([XtY, Y.mean(axis=0)[None, :]])
    return np.ascontiguousarray(XtY)


def gram_gap_measure(pgmap, lam, A, C, B, Q, yy, scale):
    r"""The relative duality gap (as :meth:`BaseSolver._stop_measure
    <skhypergrad.solvers._base.BaseSolver._stop_measure>`) at ``B`` from the Gram
    products, no pass over ``X``.

    With :math:`R = Y - [X, 1]B`, :math:`\theta = R / n` and ``yy`` :math:`= \|Y\|^2/n`:
    the datafit is :math:`F = \frac12(\langle B, Q\rangle - 2\langle B, C\rangle + yy)`,
    :math:`X^T\theta = (C - Q)_{:p}`, :math:`\sum_i\theta_i = (C - Q)_p` (the
    intercept's row) and the dual term at :math:`s\theta` is
    :math:`s\,(yy - \langle B, C\rangle) - s^2 F`. ``scale`` is
    :func:`~skhypergrad.solvers._gap.gap_scale` of the problem.
    """
    design = pgmap.design
    p = design.n_features
    bc = float(np.vdot(B, C))
    loss = 0.5 * (float(np.vdot(B, Q)) - 2.0 * bc + yy)
    residual_dot_y = yy - bc
    theta_sum = C[p] - Q[p] if design.fit_intercept else np.zeros(B.shape[1])
    w = B.ravel()
    _, _, gap, grad_b = gap_from_parts(pgmap, w, lam, loss,
                                       lambda s: s * residual_dot_y - s * s * loss,
                                       theta_sum, C[:p] - Q[:p])
    return (max(gap, 0.0) + 0.5 * grad_b ** 2 / pgmap.datafit.curvature) / scale


@njit(cache=True)
def block_gram_epoch(A, C, B, Q, l1, l2, n_penalized, group):
    r"""One epoch over the rows of ``B`` (module docstring); ``B`` and ``Q = A B`` in place.

    Rows ``j >= n_penalized`` are unpenalized (the intercept); a row with
    ``A[j, j] = 0`` (a constant zero column) is left as it is. Returns
    :math:`\sum_j A_{jj}\|\Delta_j\|^2 / 2`, a lower bound on the objective's decrease.
    """
    q, K = B.shape
    z = np.empty(K)
    decrease = 0.0
    for j in range(q):
        L = A[j, j]
        if L <= 0.0:
            continue
        for k in range(K):
            z[k] = B[j, k] - (Q[j, k] - C[j, k]) / L
        if j < n_penalized:
            t1 = l1[j] / L
            shrink = 1.0 / (1.0 + l2[j] / L)
            if group:
                norm = 0.0
                for k in range(K):
                    norm += z[k] * z[k]
                norm = np.sqrt(norm)
                scale = (1.0 - t1 / norm) * shrink if norm > t1 else 0.0
                for k in range(K):
                    z[k] *= scale
            else:
                for k in range(K):
                    if z[k] > t1:
                        z[k] = (z[k] - t1) * shrink
                    elif z[k] < -t1:
                        z[k] = (z[k] + t1) * shrink
                    else:
                        z[k] = 0.0
        step = 0.0
        for k in range(K):
            z[k] -= B[j, k]
            step += z[k] * z[k]
        if step == 0.0:
            continue
        decrease += 0.5 * L * step
        for k in range(K):
            B[j, k] += z[k]
        for i in range(q):
            a = A[j, i]  # A is symmetric: its row j is its column j
            if a != 0.0:
                for k in range(K):
                    Q[i, k] += a * z[k]
    return decrease
