r"""Blocks of a datafit's Hessian restricted to a support, for the fixed-point map's
linearization (:meth:`~skhypergrad.fixed_point.ProxGradMap.linearize`): from the Gram
matrix cached with a least-squares design (no pass over ``X``), or from the support's
columns (the multinomial model's softmax Hessian), and least squares' gradient from
that Gram matrix.

Indices are flat entries of ``w`` (``j K + k`` for the output ``k`` of feature ``j``,
the intercepts last; ``K = 1`` for one output).
"""

import numpy as np
from scipy.linalg import blas

from ._design import Design, cached_gram, xty_of
from ._core_datafits import class_probabilities

__all__ = ["gram_subset", "block_rows", "softmax_hessian_subset", "softmax_hessian_upper",
           "softmax_hessian",
           "least_squares_rows_gram",
           "gram_gradient"]


def gram_subset(G, colmeans, idx, p):
    """Rows and columns ``idx`` of ``[X, 1]^T [X, 1] / n`` (index ``p``: the intercept)."""
    cols = idx[idx < p]
    H = G.take(cols, axis=0).take(cols, axis=1)  # twice as fast as G[np.ix_(cols, cols)]
    if cols.shape[0] == idx.shape[0]:
        return H
    m = cols.shape[0]
    out = np.empty((m + 1, m + 1))
    out[:m, :m] = H
    out[:m, m] = out[m, :m] = colmeans[cols]
    out[m, m] = 1.0
    return out



def block_rows(design, idx):
    """The rows of ``(p + 1, K)`` (the intercept's row ``p``) whose K entries ``idx`` are,
    when ``idx`` is made of whole rows, else None."""
    K = design.n_outputs
    rows = idx[::K] // K
    if idx.shape[0] % K or not np.array_equal(idx, (rows[:, None] * K + np.arange(K)).ravel()):
        return None
    return rows


def softmax_hessian_subset(design, z, sample_weight, idx):
    r"""Rows and columns ``idx`` of the Hessian of a datafit whose per-sample Hessians are
    :math:`s_i(\mathrm{diag}(p_i) - p_i p_i^T)`, :math:`p_i = \mathrm{softmax}(z_i)`
    (``newton_model = "softmax"``; ``s`` the ``sample_weight``, or ones):

    .. math::

        H_{(j,k),(j',l)} = \frac1n \sum_i s_i \tilde x_{ij} \tilde x_{ij'}
        (\delta_{kl} p_{ik} - p_{ik} p_{il}),

    ``(j, k)`` the class ``k`` of the column ``j`` of :math:`\tilde X = [X, 1]` (entry
    ``j K + k`` of ``w``, the intercepts last), as :math:`D - U^T U / n` with
    :math:`U_{i,(j,k)} = \sqrt{s_i}\, p_{ik} \tilde x_{ij}` and :math:`D` the classes'
    weighted Gram blocks: ``O(n |S|^2)``, from the dense columns of the features in
    ``idx``."""
    K, p, k0 = design.n_outputs, design.n_features, design.n_coefs
    idx = np.asarray(idx)
    column = np.where(idx < k0, idx // K, p)  # p: the intercept's column of ones
    klass = np.where(idx < k0, idx % K, idx - k0)
    features, position = np.unique(column, return_inverse=True)
    n = z.shape[0]
    coef_cols = features[features < p]
    X = design.X[:, coef_cols]
    if design.is_sparse:
        X = X.toarray()
        if design.sparse_offset is not None:
            X -= design.sparse_offset[coef_cols]
    if coef_cols.shape[0] < features.shape[0]:
        X = np.column_stack([X, np.ones(n)])
    P = class_probabilities(z)
    order = np.argsort(klass, kind="stable")  # by class: each D_k a diagonal block
    bounds = np.searchsorted(klass[order], np.arange(K + 1))
    C = np.asfortranarray(X[:, position[order]], dtype=np.float64)
    M = np.asfortranarray(P[:, klass[order]])
    sw = np.empty(0) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    H = softmax_hessian_upper(C, M, bounds, sw, np.zeros((idx.shape[0],) * 2, order="F"))
    H /= n
    upper = np.triu_indices_from(H, 1)
    H.T[upper] = H[upper]
    inverse = np.empty_like(order)
    inverse[order] = np.arange(order.shape[0])
    return H.take(inverse, axis=0).take(inverse, axis=1)


def softmax_hessian(design, z, sample_weight):
    r"""The whole Hessian of a datafit whose per-sample Hessians are
    :math:`s_i(\mathrm{diag}(p_i) - p_i p_i^T)` (see :func:`softmax_hessian_subset`, of
    which it is the case ``idx`` = every entry), shape (q, q) in the order of ``w``:
    :math:`(D - U^T U) / n` with :math:`U_{i,(j,k)} = \sqrt{s_i}\, \tilde x_{ij} p_{ik}`
    (one symmetric product, BLAS ``syrk``, in that order directly) and ``D`` the classes'
    weighted Gram matrices :math:`\tilde X^T \mathrm{diag}(s\, p_k) \tilde X` on the
    entries of class ``k``. The columns are made dense (``q`` is small where it is
    formed)."""
    K, p, n = design.n_outputs, design.n_features, z.shape[0]
    X = design.X
    if design.is_sparse:
        X = X.toarray()
        if design.sparse_offset is not None:
            X -= design.sparse_offset
    if design.fit_intercept:
        X = np.column_stack([X, np.ones(n)])
    f = X.shape[1]
    P = class_probabilities(z)
    sP = P if sample_weight is None else P * np.asarray(sample_weight, dtype=np.float64)[:, None]
    # U^T with rows (j, k): (f, K, n) from X^T and P^T, then one product with itself
    Ut = np.multiply(np.asarray(X).T[:, None, :], P.T[None, :, :]).reshape(f * K, n)
    if sample_weight is not None:
        Ut *= np.sqrt(np.asarray(sample_weight, dtype=np.float64))
    H = blas.dsyrk(-1.0, Ut, trans=0, lower=0)
    del Ut
    H += np.triu(H, 1).T
    for k in range(K):
        H[k::K, k::K] += X.T @ (X * sP[:, k:k + 1])
    H /= n
    return H


def softmax_hessian_upper(C, M, bounds, sw, out):
    r"""The upper triangle of :math:`n H_{SS} = D - M^T M` (the lower one not
    written) into ``out``, Fortran-ordered (q, q), returned (see
    :func:`softmax_hessian_subset`), for entries sorted by class.

    ``C`` (n, q): the entries' columns of :math:`\tilde X`; ``M`` (n, q): the
    probability of each entry's class, :math:`p_{ik}`, overwritten with
    :math:`M_{i,(jk)} = \sqrt{s_i} \tilde x_{ij} p_{ik}`; ``bounds`` (K + 1,): class
    ``k``'s entries are ``bounds[k]:bounds[k + 1]``; ``sw``: the sample weights ``s``
    (empty: ones). ``D`` is block diagonal over the classes, :math:`D_k = \tilde X_{S_k}^T
    \mathrm{diag}(s\, p_k) \tilde X_{S_k}`: :math:`(\sqrt{s} C_k)^T M_k`. One
    symmetric rank-``n`` product (BLAS ``syrk``) and ``K`` products of the classes'
    columns."""
    M *= C
    Cw = C
    if sw.shape[0]:
        root = np.sqrt(sw)[:, None]
        M *= root
        Cw = C * root
    out = blas.dsyrk(-1.0, M, beta=0.0, c=out, trans=1, overwrite_c=1)
    for k in range(bounds.shape[0] - 1):
        e = slice(bounds[k], bounds[k + 1])
        out[e, e] += Cw[:, e].T @ M[:, e]
    return out


def least_squares_rows_gram(design, datafit, idx):
    r"""The rows and columns ``rows`` of :math:`[X, 1]^T [X, 1] / n` for ``idx`` made of
    whole rows of multi-output least squares (the per-sample Hessian the identity, so
    that :math:`H_{SS}` is it Kronecker :math:`I_K` in the flat C order); from the
    design's cached Gram matrix when there is one. None for another datafit or
    other indices."""
    if not datafit.least_squares:
        return None
    rows = block_rows(design, idx)
    if rows is None:
        return None
    gram = cached_gram(design)
    if gram is not None:
        return gram_subset(*gram, rows, design.n_features)
    one = Design(design.X, design.fit_intercept, 1, design.offset)
    return one.take_columns(rows).weighted_gram(1.0 / design.n_samples)


def gram_gradient(design, datafit, y, w):
    r""":math:`\nabla F(w)` of least squares from the Gram matrix cached with a dense
    design (:math:`[X, 1]^T [X, 1] B / n - [X, 1]^T Y / n` for the stacked
    :math:`B = [W; b^T]`, no pass over ``X``), or None without one."""
    gram = cached_gram(design)
    if gram is None or not (datafit.least_squares and datafit.constant_hessian) \
            or design.is_sparse:
        return None
    G, colmeans = gram
    p = design.n_features
    W = w[:design.n_coefs].reshape(p, -1)
    grad_W = G @ W - xty_of(design, y).reshape(p, -1)
    if not design.fit_intercept:
        return grad_W.ravel()
    b = w[design.n_coefs:]
    grad_W += np.multiply.outer(colmeans, b)
    grad_b = colmeans @ W + b - np.mean(y, axis=0)
    return np.concatenate([grad_W.ravel(), np.atleast_1d(grad_b)])
