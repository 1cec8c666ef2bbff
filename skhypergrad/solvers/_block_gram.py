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
(``O(qK)`` per changed row, ``O(q^2 K)`` per epoch, no pass over ``X``; stored
transposed, see :func:`block_gram_epoch`). The Gram
matrix of a dense design is the one cached with it
(:func:`~skhypergrad._design.gram_of`, shared with the engines' Hessian); a sparse
one's is formed per solve (its centring implicit, see
:meth:`~skhypergrad._design.Design.weighted_gram`).
"""

import numpy as np
from numba import njit

from .._design import Design, gram_of, xty_of


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
    (:func:`~skhypergrad._design.xty_of`), and so is ``C`` (to be only read) while that
    product and ``y`` stay."""
    Y = y if y.ndim == 2 else y[:, None]
    if design.is_sparse:
        # of the centred X (Design.implicit: full columns centred in their stored values)
        XtY = np.asarray(design.rmatvec_coef(Y)) / design.n_samples
        return _with_mean_row(design, XtY, Y)
    xty = xty_of(design, y)
    entry = design._cache.get("stacked_xty")
    if entry is None or entry[0] is not xty or entry[1] is not y:
        entry = (xty, y, _with_mean_row(design, xty.reshape(design.n_features, -1), Y))
        design._cache["stacked_xty"] = entry
    return entry[2]


def _with_mean_row(design, XtY, Y):
    """``X^T Y / n`` with the row of the means of ``Y`` below when fitting an intercept,
    C-contiguous."""
    if design.fit_intercept:
        XtY = np.vstack([XtY, Y.mean(axis=0)[None, :]])
    return np.ascontiguousarray(XtY)


def gram_gap_measure(pgmap, lam, A, C, B, Q, yy, scale):
    r"""The relative duality gap (as :meth:`BaseSolver._stop_measure
    <skhypergrad.solvers._base.BaseSolver._stop_measure>`) at ``B`` from the Gram
    products, no pass over ``X``: :func:`~skhypergrad.solvers._gap.gap_from_parts` in one
    compiled pass (:func:`_gram_gap`).

    With :math:`R = Y - [X, 1]B`, :math:`\theta = R / n` and ``yy`` :math:`= \|Y\|^2/n`:
    the datafit is :math:`F = \frac12(\langle B, Q\rangle - 2\langle B, C\rangle + yy)`,
    :math:`X^T\theta = (C - Q)_{:p}`, :math:`\sum_i\theta_i = (C - Q)_p` (the
    intercept's row) and the dual term at :math:`s\theta` is
    :math:`s\,(yy - \langle B, C\rangle) - s^2 F`. ``scale`` is
    :func:`~skhypergrad.solvers._gap.gap_scale` of the problem; ``A`` is not read (the
    products are in ``Q = A B``).
    """
    design, penalty = pgmap.design, pgmap.penalty
    p = design.n_features
    l1, l2 = penalty.weights(lam, p)
    gap, grad_b = _gram_gap(C, B, Q, l1, l2, p, bool(design.fit_intercept),
                            bool(penalty.group_rows), yy)
    return (max(gap, 0.0) + 0.5 * grad_b ** 2 / pgmap.datafit.curvature) / scale


@njit(cache=True)
def _gram_gap(C, B, Q, l1, l2, p, fit_intercept, group, yy):
    r"""``(gap, grad_free)`` of :func:`~skhypergrad.solvers._gap.gap_from_parts` for
    least squares on the Gram products (:func:`gram_gap_measure`), the penalty
    :math:`\sum_j l1_j N(B_j) + \frac{l2_j}2\|B_j\|^2` with :math:`N` the Euclidean norm
    of the row (``group``; dual norm the Euclidean norm) or the sum of its absolute
    values (dual norm the largest one).

    With every ``l2_j > 0``: :math:`G^*(U) = \sum_j \max(\|U_j\|_* - l1_j, 0)^2/(2 l2_j)`
    (elementwise: summed over the entries of the row) at :math:`U = (C - Q)_{:p}`, and
    the dual point rescaled by :math:`s = \min_j l1_j / \max(\|U_j\|_*, l1_j)` when every
    ``l1_j > 0``, the larger dual kept; otherwise the rows with ``l1_j <= 0`` are held
    fixed like the intercept (their largest dual norm joins ``grad_free``) and the dual
    point is rescaled into :math:`\|U_j\|_* \le l1_j`.
    """
    q, K = B.shape
    bc = 0.0
    bq = 0.0
    for j in range(q):
        for k in range(K):
            bc += B[j, k] * C[j, k]
            bq += B[j, k] * Q[j, k]
    loss = 0.5 * (bq - 2.0 * bc + yy)
    rdy = yy - bc
    smooth = True
    all_l1 = True
    for j in range(p):
        if not l2[j] > 0.0:
            smooth = False
        if not l1[j] > 0.0:
            all_l1 = False
    grad_b = 0.0
    b_dot = 0.0  # <b, sum_i theta_i>
    if fit_intercept:
        for k in range(K):
            t = C[p, k] - Q[p, k]
            grad_b = max(grad_b, abs(t))
            b_dot += B[p, k] * t
    pen = 0.0
    g_star = 0.0
    s_min = 1.0  # the rescaling into the dual feasible set
    free_dot = 0.0
    any_free = False
    for j in range(p):
        sq = 0.0
        norm = 0.0
        dual = 0.0
        excess = 0.0
        for k in range(K):
            c = B[j, k]
            u = C[j, k] - Q[j, k]
            sq += c * c
            if group:
                dual += u * u
            else:
                norm += abs(c)
                dual = max(dual, abs(u))
                if smooth:
                    e = abs(u) - l1[j]
                    if e > 0.0:
                        excess += e * e
        if group:
            norm = np.sqrt(sq)
            dual = np.sqrt(dual)
            if smooth:
                e = dual - l1[j]
                if e > 0.0:
                    excess = e * e
        pen += l1[j] * norm + 0.5 * l2[j] * sq
        if smooth:
            g_star += excess * (0.5 / l2[j])
            if dual > l1[j]:
                s_min = min(s_min, l1[j] / dual)
        elif l1[j] <= 0.0:
            any_free = True
            grad_b = max(grad_b, dual)
            for k in range(K):
                free_dot += B[j, k] * (C[j, k] - Q[j, k])
        elif dual > l1[j]:
            s_min = min(s_min, l1[j] / dual)
    primal = loss + pen
    if smooth:
        scale = 1.0
    else:
        scale = s_min
    offset = scale * b_dot
    if any_free:
        offset += scale * free_dot
    dual_value = scale * rdy - scale * scale * loss - offset - g_star
    if smooth and g_star > 0.0 and all_l1:
        dual_value = max(dual_value, s_min * rdy - s_min * s_min * loss - s_min * offset)
    return primal - dual_value, grad_b


@njit(cache=True)
def block_gram_epoch(A, C, B, Qt, l1, l2, n_penalized, group):
    r"""One epoch over the rows of ``B`` (module docstring); ``B`` and ``Qt = (A B)^T``
    (shape (K, q), C-contiguous) in place.

    Rows ``j >= n_penalized`` are unpenalized (the intercept); a row with
    ``A[j, j] = 0`` (a constant zero column) is left as it is. A changed row
    :math:`\Delta_j` updates ``Qt`` by K contiguous passes
    ``Qt[k] += Delta_jk A[j]`` over the rows of ``A`` (SIMD loops; each entry gets the
    same additions in the same order as along the columns of ``Q``). Returns
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
            z[k] = B[j, k] - (Qt[k, j] - C[j, k]) / L
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
        for k in range(K):  # A is symmetric: its row j is its column j
            step_k = z[k]
            for i in range(q):
                Qt[k, i] += A[j, i] * step_k
    return decrease
