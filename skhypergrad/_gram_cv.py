r"""Criterion evaluations of small least-squares problems as one compiled call.

When the datafit declares ``least_squares`` (one output, no hyperparameters of its
own), ``X`` has at most :data:`~skhypergrad._design.GRAM_MAX_FEATURES` columns (dense,
or sparse with at most :data:`SPARSE_GRAM_FEATURES` columns or a Gram matrix of at most
:data:`SPARSE_GRAM_RATIO` times as many entries as ``X`` stores (at most
:data:`SPARSE_GRAM_WIDE_RATIO` times up to :data:`SPARSE_GRAM_WIDE_FEATURES` columns),
and held-out rows that
fit densely in :data:`GRAM_FOLDS_BYTES`), the
penalty is an elastic net with one L2 weight for all features (ridge and the Lasso
included) and a diagonal prox Jacobian, the solver
allows Gram epochs (:meth:`~skhypergrad.solvers._base.BaseSolver.gram_budget`) and the
engine computes the implicit hypergradient at the solution
(:attr:`~skhypergrad.hypergrad.BaseEngine.implicit_at_solution`), a criterion
evaluation of :class:`~skhypergrad.criteria.CrossVal` or
:class:`~skhypergrad.criteria.HeldOut` is the compiled
:func:`~skhypergrad._gram_cv_kernel.gram_cv_evaluate` on the folds' Gram matrices,
formed once per search (:class:`GramFolds`): every fold's warm-started solve to the
solver's ``tol``, its held-out mean squared error and its exact hypergradient, with no
Python work per fold.

Each fold is the centred problem of :mod:`skhypergrad._design` (training columns and
target minus their training means, so the intercept is 0 at the optimum), its
held-out rows read with the training means: the same problems, solutions and
hypergradients as the maps of :func:`~skhypergrad._folds._fold_problem`. With sample
weights :math:`s` (the training datafit's, rescaled to mean 1 over a fold's training
rows), the fold's weighted least squares with an intercept is, the intercept
eliminated, the unweighted one of the rows :math:`\sqrt{s_i}(x_i - m)` and
:math:`\sqrt{s_i}(y_i - \bar y)` centred by the weighted means: its Gram matrices are
:math:`X_c^T S X_c / n` and :math:`X_c^T S y_c / n`. With held-out weights, a fold's
held-out rows are stored centred by its training means and scaled by the square roots of
their weights (rescaled to mean 1 over them), whose plain mean squared residual is the
weighted held-out MSE. The warm
starts are the criterion's :class:`~skhypergrad.criteria.InnerState` (the model's own
``[coef, intercept]``).

A sparse ``X`` is never densified as a whole: its Gram matrices come from sparse products
of its raw rows, centred algebraically,
:math:`(X - 1\mu^T)^T (X - 1\mu^T) / n = X^T X / n - \mu\mu^T` with :math:`\mu` the
rows' means (as scikit-learn's ``ElasticNet`` centres a sparse ``X``), the columns
stored on every row centred in their stored values first
(:func:`~skhypergrad._design.centre_stored_columns`: no cancellation of a large mean
against a small spread), and only its held-out rows are copied densely (the compiled
kernel reads them).
"""

import warnings
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning

from ._compact_states import _expand
from ._design import GRAM_MAX_FEATURES, centre_stored_columns
from ._gram_cv_kernel import (DIRECT_MAX, NOT_CONVERGED, SINGULAR,
                              gram_cv_evaluate, gram_cv_least_norm_hypergradients)
from ._jit import TieredKernel
from ._sample_weight import check_sample_weight
from .hypergrad import BaseEngine
from .linalg import solve_cg
from .solvers._base import BaseSolver

__all__ = ["GramFolds", "GramOutcome", "GramPath", "gram_path_applies", "cv_gram_folds",
           "heldout_gram_folds", "evaluate_gram_folds", "evaluate_gram_path", "gram_fit"]

#: largest memory of the folds' Gram matrices (``K p^2`` doubles), and of the dense copy of
#: a sparse ``X``'s held-out rows
GRAM_FOLDS_BYTES = 512 * 2**20
#: a sparse ``X`` runs compiled while its Gram matrix has at most this many times as many
#: entries as ``X`` stores (``p^2 <= 4 nnz``): a coordinate's update then costs about as
#: much on the Gram matrix (``p``) as on ``X``'s column (its stored entries)
SPARSE_GRAM_RATIO = 4
#: a sparse ``X`` of at most this many columns runs compiled whatever it stores: an epoch on
#: its Gram matrix (at most ``512^2`` products) costs less than a round of the solver on
#: ``X``, and the compiled solve's exact steps on the support converge where cyclic
#: epochs crawl (collinear columns at a small L2 weight, as one-hot blocks with every level)
SPARSE_GRAM_FEATURES = 512
#: ... and of at most this many columns while its Gram matrix has at most
#: :data:`SPARSE_GRAM_WIDE_RATIO` times as many entries as ``X`` stores (``p^2 <= 40 nnz``:
#: columns of at least ``p / 40`` stored entries, whose epochs on ``X`` cost a round of the
#: solver's Python work more than the compiled epochs on the Gram matrix)
SPARSE_GRAM_WIDE_FEATURES = 768
SPARSE_GRAM_WIDE_RATIO = 40
#: folds of at most this many columns, whose held-out rows hold at most
#: :data:`INTERPRETED_HELD_OUT` entries, may run as Python until compiling the kernels pays
#: (:class:`~skhypergrad._jit.TieredKernel`; a diabetes search: 0.05 to 0.1 s as Python,
#: against about 2 s to compile the kernels)
INTERPRETED_FEATURES = 32
INTERPRETED_HELD_OUT = 250_000

#: the kernels, run as Python on small folds until compiling them pays
_evaluate = TieredKernel(gram_cv_evaluate)
_least_norm_hypergradients = TieredKernel(gram_cv_least_norm_hypergradients)


def _small(G, X_test):
    """Whether folds of Gram matrices ``G`` and held-out rows ``X_test`` are small enough
    to run as Python (see :data:`INTERPRETED_FEATURES`)."""
    p = G.shape[1]
    return p <= INTERPRETED_FEATURES and X_test.shape[0] * p <= INTERPRETED_HELD_OUT


class GramFolds(NamedTuple):
    """What the compiled evaluation reads of the folds (see
    :func:`~skhypergrad._gram_cv_kernel.gram_cv_evaluate` for the shapes)."""

    G: np.ndarray
    c: np.ndarray
    gamma: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    starts: np.ndarray
    mu: np.ndarray
    ybar: np.ndarray
    #: the training means of the columns and the target in the data's own frame (``mu``
    #: and ``ybar`` are those of the frame ``X_test`` and ``y_test`` are stored in)
    offset: np.ndarray
    target_offset: np.ndarray
    fit_intercept: bool
    #: the :class:`GramFolds` of one problem trained on all the rows (none held out), from
    #: the sums over all the rows the folds' are computed from (None when no fold's are:
    #: no fold trained on the rows outside its test rows)
    whole: object = None


class GramOutcome(NamedTuple):
    """Per evaluated fold: held-out MSE, gradient in ``lam`` (None without), the new
    warm start ``[coef, intercept]``, epochs, engine iterations and residual."""

    value: float
    grad: object
    w: np.ndarray
    n_iter: int
    n_iter_engine: int
    engine_residual: float


def gram_path_applies(model, X, solver, engine, n_folds, loss, weighted=False, X_val=None):
    """Whether an evaluation of ``model`` on ``X`` with ``solver`` and ``engine`` (None:
    the value alone) over ``n_folds`` folds, scored by the held-out loss ``loss`` (a
    resolved name), runs compiled (see the module docstring); with sample weights
    (``weighted``, of the training datafits or of the held-out losses) only for a
    datafit that takes them (``accepts_sample_weight``; :func:`cv_gram_folds`
    weighs the Gram matrices and the held-out rows). ``X_val``: held-out rows stored
    apart from ``X`` (:class:`~skhypergrad.criteria.HeldOut`'s), whose dense copy, when
    sparse, must fit in :data:`GRAM_FOLDS_BYTES` as a sparse ``X``'s must."""
    datafit, penalty = model.get_datafit(), model.get_penalty()
    if (weighted and not datafit.accepts_sample_weight) or loss != "squared" \
            or not datafit.least_squares or datafit.n_hyper or datafit.n_outputs != 1 \
            or model.datafit_class.multi_output:
        return False
    if sp.issparse(X_val) and X_val.shape[0] * X_val.shape[1] * 8 > GRAM_FOLDS_BYTES:
        return False
    if sp.issparse(X) and (not _sparse_gram_pays(X)
                           or X.shape[0] * X.shape[1] * 8 > GRAM_FOLDS_BYTES):
        return False
    if not penalty.uniform_l2 or not penalty.diagonal_jacobian \
            or penalty.group_rows:
        return False
    p = X.shape[1]
    if p > GRAM_MAX_FEATURES or n_folds * p * p * 8 > GRAM_FOLDS_BYTES:
        return False
    if not isinstance(solver, BaseSolver) or solver.gram_budget() is None:
        return False
    return engine is None or (isinstance(engine, BaseEngine) and engine.implicit_at_solution)


def _sparse_gram_pays(X):
    """Whether a sparse ``X`` runs compiled by its shape and stored entries (see
    :data:`SPARSE_GRAM_FEATURES`, :data:`SPARSE_GRAM_RATIO`,
    :data:`SPARSE_GRAM_WIDE_FEATURES`)."""
    p = X.shape[1]
    entries = p * p
    return p <= SPARSE_GRAM_FEATURES or entries <= SPARSE_GRAM_RATIO * X.nnz \
        or (p <= SPARSE_GRAM_WIDE_FEATURES and entries <= SPARSE_GRAM_WIDE_RATIO * X.nnz)


def _fold_gram(Xc_rows, yc_rows, fit_intercept, shift=None, weights=None):
    r"""``(G, c, gamma, mean_x, mean_y)`` of training rows (already shifted by a common
    vector), centred by their own means when ``fit_intercept``; for sparse rows, the raw
    rows and the common vector ``shift`` (the means are then those of the shifted rows).

    ``weights``: the rows' sample weights :math:`s_i` (None: unit weights), of any
    positive sum :math:`S`: the means are weighted, :math:`m = \sum_i s_i x_i / S`, and
    the sums too, :math:`G = \sum_i s_i (x_i - m)(x_i - m)^T / S` (the weighted datafit's
    Gram matrix, its weights rescaled to mean 1 over the rows)."""
    if sp.issparse(Xc_rows):
        return _sparse_fold_gram(Xc_rows, yc_rows, fit_intercept, shift, weights)
    n = Xc_rows.shape[0]
    if weights is None:
        mx = Xc_rows.mean(axis=0) if fit_intercept else np.zeros(Xc_rows.shape[1])
        my = float(yc_rows.mean()) if fit_intercept else 0.0
        Xr, yr = Xc_rows - mx, yc_rows - my
        return Xr.T @ Xr / n, Xr.T @ yr / n, float(yr @ yr) / n, mx, my
    total = _positive_total(weights)
    mx = weights @ Xc_rows / total if fit_intercept else np.zeros(Xc_rows.shape[1])
    my = float(weights @ yc_rows) / total if fit_intercept else 0.0
    Xr, yr = Xc_rows - mx, yc_rows - my
    Xs, ys = Xr * weights[:, None], yr * weights
    return Xs.T @ Xr / total, Xs.T @ yr / total, float(ys @ yr) / total, mx, my


def _sparse_fold_gram(X_rows, yc_rows, fit_intercept, shift, weights=None):
    """:func:`_fold_gram` of sparse raw rows ``X_rows`` (their means in the frame shifted
    by ``shift``): ``G = X^T S X / sum(s) - m m^T`` with ``m`` their raw (weighted) means
    (the centred Gram matrix, whatever the shift), from one sparse product."""
    p = X_rows.shape[1]
    if weights is None:
        total = float(X_rows.shape[0])
        raw_mean = np.asarray(X_rows.mean(axis=0)).ravel() if fit_intercept else np.zeros(p)
        my = float(yc_rows.mean()) if fit_intercept else 0.0
        yr = ys = yc_rows - my
    else:
        total = _positive_total(weights)
        raw_mean = np.asarray(X_rows.T @ weights).ravel() / total if fit_intercept \
            else np.zeros(p)
        my = float(weights @ yc_rows) / total if fit_intercept else 0.0
        yr = yc_rows - my
        ys = yr * weights
    G = _sparse_gram(X_rows, weights) / total - np.outer(raw_mean, raw_mean)
    c = np.asarray(X_rows.T @ ys).ravel() / total
    mx = raw_mean - shift if fit_intercept else raw_mean
    return G, c, float(ys @ yr) / total, mx, my


def _positive_total(weights):
    """The sum of the sample weights ``weights`` of some rows (ValueError unless
    positive, as :func:`~skhypergrad.datafits.check_sample_weight`'s)."""
    total = float(np.sum(weights))
    if not total > 0:
        raise ValueError("sample_weight must be finite and nonnegative with a positive "
                         "sum.")
    return total


def _sparse_gram(X_rows, weights=None):
    """``X^T S X`` of sparse rows as a dense array (``S`` the diagonal of the rows'
    ``weights``, the identity when None): the sparse ``X^T`` times the rows made dense
    (``nnz p`` products; no sparse product, whose output has up to ``p^2`` stored
    entries)."""
    dense = X_rows.toarray()
    if weights is not None:
        dense *= weights[:, None]
    return np.asarray(X_rows.T @ dense, dtype=np.float64)


def _weighed_rows(X_test, y_test, mean_x, mean_y, score_weight):
    r"""Held-out rows ``X_test`` and ``y_test`` (modified in place) centred by the
    training means ``mean_x`` and ``mean_y`` and scaled by :math:`\sqrt{s_i}`, the
    ``score_weight`` of the rows rescaled to mean 1 over them: the unweighted mean of the
    squared residuals of the rows so made, :math:`\frac1{n_v}\sum_i (\sqrt{s_i}(y_i -
    \bar y) - \sqrt{s_i}(x_i - m)^T w)^2`, is the weighted held-out MSE
    :math:`\sum_i s_i r_i^2 / \sum_i s_i` (and its gradient the weighted one)."""
    root = np.sqrt(check_sample_weight(score_weight, score_weight.shape[0]))
    X_test -= mean_x
    X_test *= root[:, None]
    y_test -= mean_y
    y_test *= root


def _distinct(rows, n):
    """Whether the indices ``rows`` (in ``[0, n)``) are all different."""
    seen = np.zeros(n, dtype=bool)
    seen[rows] = True
    return int(np.count_nonzero(seen)) == rows.shape[0]


def _dense_gram(R, weights=None):
    """``R^T S R`` of dense rows ``R`` (``S`` the diagonal of their ``weights``, the
    identity when None)."""
    return R.T @ R if weights is None else R.T @ (R * weights[:, None])


def cv_gram_folds(X, y, splits, fit_intercept, sample_weight=None, score_weight=None):
    r""":class:`GramFolds` of the cross-validation ``splits`` of ``X`` (dense or sparse)
    and ``y``.

    With :math:`X_c` and :math:`y_c` centred as a whole (when ``fit_intercept``), a
    fold whose training rows are the complement of its test rows :math:`T` gets its
    sums from those of all rows minus the test rows' (:math:`X_c^T X_c - X_{c,T}^T
    X_{c,T}`: one product with each small test block, whose sum is the total when the
    test blocks partition the rows, as K-fold's), then is centred by its own means
    :math:`m`: :math:`G = S / n_k - m m^T`. Other splits are computed from their
    training rows. The held-out rows are kept centred as a whole (the kernel's ``mu``
    is then :math:`m`), copied once: no centred copy of all of ``X`` is made. For a
    sparse ``X`` the test blocks' products are sparse and raw, each fold's sums centred
    algebraically by its raw means (see the module docstring).

    ``sample_weight`` (of the rows of ``X``, or None): the weights :math:`s_i` of the
    training datafits, every fold's rescaled to mean 1 over its training rows (the
    folds' weighted datafits, as :func:`~skhypergrad._folds._fold_problem`'s): the sums
    and the means above are weighted, :math:`X_c^T S X_c` and :math:`n_k` the sum of
    the fold's weights (see :func:`_fold_gram`). ``score_weight`` (of the rows, or
    None): the weights of the held-out MSEs, every fold's rescaled to mean 1 over its
    test rows; a fold's held-out rows are then centred by its training means and scaled
    by the square roots of their weights (:func:`_weighed_rows`), the kernel's ``mu``
    and ``ybar`` zero.
    """
    sparse = sp.issparse(X)
    X = sp.csr_matrix(X, dtype=np.float64) if sparse else np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n, p = X.shape
    K = len(splits)
    sw = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    if sw is None:
        total = float(n)
        mu0 = (np.asarray(X.mean(axis=0)).ravel() if sparse else X.mean(axis=0)) \
            if fit_intercept else np.zeros(p)
        y0 = float(y.mean()) if fit_intercept else 0.0
    else:
        total = _positive_total(sw)
        mu0 = np.asarray(X.T @ sw).ravel() / total if fit_intercept else np.zeros(p)
        y0 = float(sw @ y) / total if fit_intercept else 0.0
    yc = y - y0
    ys = yc if sw is None else yc * sw  # the weighted centred target
    # a sparse X's columns stored on every row centred in its stored values (its sums
    # then have no cancellation), the others' means mu0 left to centre algebraically
    raw = mu0
    if sparse:
        X, stored_shift = centre_stored_columns(X, mu0)
        raw = mu0 - stored_shift
    tests = [test for _, test in splits]
    order = np.concatenate(tests)
    # gathering the rows of a Fortran-ordered X: faster through a C-ordered copy
    X_rows = X[order] if sparse else np.ascontiguousarray(X)[order]
    X_test = np.ascontiguousarray(X_rows.toarray()) if sparse else X_rows
    X_test -= raw
    y_test = yc[order]
    starts = np.concatenate([[0], np.cumsum([t.shape[0] for t in tests])]).astype(np.int64)
    blocks = [X_test[starts[k]:starts[k + 1]] for k in range(K)]
    w_blocks = [None if sw is None else sw[test] for test in tests]
    # the test blocks' rows the Gram matrices are formed from: the dense ones centred by
    # mu0, or the sparse rows (their sums raw, the full columns' centred: each fold's
    # centred algebraically by its means in that frame, raw + m, below)
    raw = raw if sparse else np.zeros(p)
    gram_rows = [X_rows[starts[k]:starts[k + 1]] for k in range(K)] if sparse else blocks
    # the test blocks' Gram matrices, for the folds trained on the rest of the rows
    rest = [train.shape[0] + test.shape[0] == n and _distinct(test, n)
            for train, test in splits]
    grams = [(_sparse_gram(R, wT) if sparse else _dense_gram(R, wT)) if r else None
             for R, wT, r in zip(gram_rows, w_blocks, rest)]
    totals = None
    if any(rest):
        in_blocks = np.concatenate([t for t, r in zip(tests, rest) if r])
        partition = in_blocks.shape[0] == n and _distinct(in_blocks, n)
        if partition:
            G_all = sum(g for g in grams if g is not None)
        elif sparse:
            G_all = _sparse_gram(X, sw)
        else:
            G_all = _dense_gram(X - mu0, sw)
        # X_c^T s = 0 and s^T y_c = 0 (up to rounding, summed as the blocks are)
        block_sums = [(XT.sum(axis=0) if wT is None else wT @ XT) if r else None
                      for XT, wT, r in zip(blocks, w_blocks, rest)]
        if partition:
            colsum = sum(s for s in block_sums if s is not None)
        elif sparse:
            colsum = (np.asarray(X.sum(axis=0)).ravel() if sw is None
                      else np.asarray(X.T @ sw).ravel()) - total * raw
        else:
            colsum = (X - mu0).sum(axis=0) if sw is None else sw @ (X - mu0)
        totals = (G_all, colsum, np.asarray(X.T @ ys).ravel(), float(ys.sum()),
                  float(ys @ yc))
    G = np.empty((K, p, p))
    c = np.empty((K, p))
    gamma = np.empty(K)
    m_all = np.empty((K, p))
    my_all = np.empty(K)
    for k, (train, test) in enumerate(splits):
        w_train = None if sw is None else sw[train]
        if not rest[k]:
            rows = X[train] if sparse else X[train] - mu0
            G[k], c[k], gamma[k], m, my = _fold_gram(rows, yc[train], fit_intercept, raw,
                                                     w_train)
        else:
            n_k = train.shape[0] if sw is None else _positive_total(w_train)
            XT, yT = blocks[k], y_test[starts[k]:starts[k + 1]]
            yTs = yT if sw is None else yT * w_blocks[k]
            m = (totals[1] - block_sums[k]) / n_k
            my = (totals[3] - yTs.sum()) / n_k
            if not fit_intercept:
                m, my = np.zeros(p), 0.0
            G[k] = (totals[0] - grams[k]) / n_k - np.outer(m + raw, m + raw)
            c[k] = (totals[2] - XT.T @ yTs) / n_k - m * my
            gamma[k] = (totals[4] - float(yTs @ yT)) / n_k - my * my
        m_all[k], my_all[k] = m, my
    whole = None
    if totals is not None:
        # all the rows: their sums are the totals, centred by their own means
        m = totals[1] / total if fit_intercept else np.zeros(p)
        my = totals[3] / total if fit_intercept else 0.0
        whole = GramFolds((totals[0] / total - np.outer(m + raw, m + raw))[None],
                          (totals[2] / total - m * my)[None],
                          np.array([totals[4] / total - my * my]), X_test[:0], y_test[:0],
                          np.zeros(2, dtype=np.int64), (mu0 + m)[None], np.array([y0 + my]),
                          (mu0 + m)[None], np.array([y0 + my]), bool(fit_intercept))
    if fit_intercept:
        _zero_constant_columns(G, c, whole, blocks, splits, rest, X, sparse)
    mu, ybar = m_all, my_all
    if score_weight is not None:
        score_weight = np.asarray(score_weight, dtype=np.float64)
        for k, test in enumerate(tests):
            lo, hi = starts[k], starts[k + 1]
            _weighed_rows(X_test[lo:hi], y_test[lo:hi], m_all[k], my_all[k],
                          score_weight[test])
        mu, ybar = np.zeros((K, p)), np.zeros(K)
    return GramFolds(G, c, gamma, X_test, y_test, starts, mu, ybar, mu0 + m_all,
                     y0 + my_all, bool(fit_intercept), whole)


#: a column is checked for being constant on a fold's training rows (exactly, on its
#: values) when its centred square sum is at most this fraction of the largest one
CONSTANT_CHECK = 1e-6


def _zero_constant_columns(G, c, whole, blocks, splits, rest, X, sparse):
    """Rows and columns of ``G`` and entries of ``c`` set to 0, exactly, for the columns
    constant on a fold's training rows (of ``whole`` for those constant on every row),
    with an intercept: centred, such a column is 0, but its sums centred algebraically
    keep rounding errors, which a coordinate without an L1 weight would read as a slope.
    Only the columns of a near-zero diagonal (:data:`CONSTANT_CHECK`) are read. The
    training rows' extremes come from the test blocks (``blocks``, every row in one)
    when the folds partition the rows, else from the training rows themselves (a dense
    ``X``)."""
    K = len(splits)
    partition = all(rest)
    for k, (train, _) in enumerate(splits):
        cols = _near_constant(G[k])
        if not cols.size:
            continue
        if partition and K > 1:
            rows = [b[:, cols] for i, b in enumerate(blocks) if i != k and b.shape[0]]
        elif not sparse and train.shape[0]:
            rows = [X[np.ix_(train, cols)]]
        else:
            continue
        _zero_columns(G[k], c[k], cols[_constant(rows, cols.size)])
    if whole is not None and partition:
        cols = _near_constant(whole.G[0])
        if cols.size:
            rows = [b[:, cols] for b in blocks if b.shape[0]]
            _zero_columns(whole.G[0], whole.c[0], cols[_constant(rows, cols.size)])


def _near_constant(G):
    """The columns whose diagonal entry of ``G`` is at most :data:`CONSTANT_CHECK` times the
    largest."""
    d = np.diagonal(G)
    return np.flatnonzero(d <= CONSTANT_CHECK * d.max(initial=0.0))


def _constant(row_blocks, n_columns):
    """Which of the ``n_columns`` columns hold one value over all the rows of
    ``row_blocks`` (none without rows)."""
    if not row_blocks:
        return np.zeros(n_columns, dtype=bool)
    low = np.min([b.min(axis=0) for b in row_blocks], axis=0)
    high = np.max([b.max(axis=0) for b in row_blocks], axis=0)
    return low == high


def _zero_columns(G, c, constant):
    """``G``'s rows and columns and ``c``'s entries of the columns ``constant`` (indices or
    a mask) set to 0."""
    G[constant] = 0.0
    G[:, constant] = 0.0
    c[constant] = 0.0


def heldout_gram_folds(X, y, X_val, y_val, fit_intercept, sample_weight=None,
                       sample_weight_val=None):
    """:class:`GramFolds` of one problem: trained on ``(X, y)`` (dense or sparse), scored
    on ``(X_val, y_val)`` (copied densely); ``sample_weight``: the weights of the
    training datafit (rescaled to mean 1), ``sample_weight_val`` those of the held-out
    MSE (see :func:`cv_gram_folds`), each None for unit weights."""
    y = np.asarray(y, dtype=np.float64)
    weights = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    if sp.issparse(X):
        X, shift = sp.csr_matrix(X, dtype=np.float64), 0.0
        if fit_intercept and X.shape[0]:  # full columns centred in their stored values
            total = X.shape[0] if weights is None else _positive_total(weights)
            mean = np.asarray(X.sum(axis=0) if weights is None else X.T @ weights).ravel()
            X, shift = centre_stored_columns(X, mean / total)
            shift = -shift
        G, c, gamma, mx, my = _fold_gram(X, y, fit_intercept, shift, weights)
    else:
        G, c, gamma, mx, my = _fold_gram(np.asarray(X, dtype=np.float64), y, fit_intercept,
                                         weights=weights)
    X_val = X_val.toarray() if sp.issparse(X_val) else X_val
    # C-ordered and writable (a read-only memmap's rows would compile another signature)
    X_val = np.require(X_val, np.float64, ("C", "W"))
    y_val = np.require(y_val, np.float64, ("C", "W"))
    cols = _near_constant(G) if fit_intercept and not sp.issparse(X) and X.shape[0] \
        else np.zeros(0, dtype=np.int64)
    if cols.size:  # see _zero_constant_columns
        _zero_columns(G, c, cols[_constant([X[:, cols]], cols.size)])
    mu, ybar = mx, my
    if sample_weight_val is not None:
        X_val, y_val = X_val.copy(), y_val.copy()  # the caller's are not changed
        _weighed_rows(X_val, y_val, mx, my, np.asarray(sample_weight_val, dtype=np.float64))
        mu, ybar = np.zeros_like(mx), 0.0
    return GramFolds(G[None], c[None], np.array([gamma]), X_val, y_val,
                     np.array([0, X_val.shape[0]], dtype=np.int64), mu[None],
                     np.array([ybar]), mx[None], np.array([my]), bool(fit_intercept))


class _GramRun(NamedTuple):
    """The outputs of one call of :func:`~skhypergrad._gram_cv_kernel.gram_cv_evaluate`
    (see there), ``n_points`` points evaluated; ``W`` the solutions at the last one."""

    n_points: int
    W: np.ndarray
    W_first: np.ndarray
    values: np.ndarray
    epochs: np.ndarray
    g_l1: np.ndarray
    g_l2: np.ndarray
    n_engine: np.ndarray
    residuals: np.ndarray


def _deferred_hypergradients(G, W, l2, hyper_tol, folds, L, Sf, factors, g_l1, g_l2, status,
                             n_engine, residuals):
    r"""The hypergradients that :func:`gram_cv_evaluate` left to others (the folds
    ``folds``; ``g_l1[k]`` holds the held-out gradient :math:`g_S` on the support
    :math:`S` of ``W[k]``), in place as there: supports of at most ``DIRECT_MAX``
    coefficients (singular ones) by the least-norm solution of :math:`(G_{SS} + l2\,I) u
    = g_S` (:func:`gram_cv_least_norm_hypergradients`), larger ones (and those it leaves)
    by conjugate gradients from 0 (:func:`~skhypergrad.linalg.solve_cg`, at most
    :math:`10 |S|` iterations, relative residual ``hyper_tol``). A fold whose relative
    residual stays above ``max(hyper_tol, 1e-12)`` (:math:`g_S` not in the range of the
    system) gets the status ``SINGULAR``."""
    p = W.shape[1]
    small = folds[np.count_nonzero(W[folds], axis=1) <= DIRECT_MAX]
    if small.size:
        side = L.shape[1]
        _least_norm_hypergradients(G, W, l2, small, L, Sf, factors, g_l1, g_l2, n_engine,
                                   residuals, np.empty((5, p)),
                                   np.empty((1, p), dtype=np.int64),
                                   np.empty((2, side, side)), small=p <= INTERPRETED_FEATURES)
    for k in folds[n_engine[folds] != 1]:
        S = np.flatnonzero(W[k])
        A = G[k][np.ix_(S, S)]
        A[np.diag_indices_from(A)] += l2
        u, n_engine[k], residuals[k] = solve_cg(A.__matmul__, g_l1[k, S], None, hyper_tol,
                                                10 * S.size)
        g_l2[k] = -(W[k, S] @ u)
        g_l1[k] = 0.0
        g_l1[k, S] = -np.sign(W[k, S]) * u
    status[folds[residuals[folds] > max(hyper_tol, 1e-12)]] = SINGULAR


#: a stopping rule that never stops (one point)
_NEVER = np.iinfo(np.int64).max


def _run(data, penalty, lams, warm, solver, engine, compute_grad, folds, near, patience):
    """The compiled evaluation of the folds ``folds`` (an int64 array) of ``data`` at the
    points ``lams`` (a :class:`_GramRun`), or None when it does not apply at one of them
    (an L1 weight of 0 without L2) or a support's system is singular; warns (a
    :class:`~sklearn.exceptions.ConvergenceWarning` with the gap reached, when
    ``solver.warn``) when a fold stops above ``tol``."""
    K, p = data.c.shape
    n = len(lams)
    L1, L2 = penalty.path_weights(lams, p)
    if ((L2 <= 0.0) & (L1 <= 0.0).any(axis=1)).any():
        return None
    W = np.zeros((K, p))
    for k in folds.tolist():
        if warm[k] is not None:
            W[k] = _expand(warm[k])[:p]
    W_first = np.zeros((K, p))
    values, gaps = np.zeros((n, K)), np.zeros((n, K))
    epochs, status = np.zeros((n, K), dtype=np.int64), np.zeros((n, K), dtype=np.int64)
    g_l1, g_l2, residuals = np.zeros((K, p)), np.zeros(K), np.zeros(K)
    n_engine, deferred = np.zeros(K, dtype=np.int64), np.zeros(K, dtype=np.int64)
    side = min(p, DIRECT_MAX)
    L, Sf = np.empty((K, side, side)), np.empty((K, p), dtype=np.int64)
    factors = np.zeros((K, 3))
    factors[:, 0] = -1.0  # no factor yet
    max_rounds, max_epochs = solver.gram_budget()
    # the types of every argument are fixed here (one compiled signature for all calls)
    done = _evaluate(data.G, data.c, data.gamma, data.X_test, data.y_test, data.starts,
                     data.mu, data.ybar, W, L1, L2, float(penalty.lower), float(solver.tol),
                     int(max_rounds), int(max_epochs), bool(compute_grad), folds, int(near),
                     int(patience), L, Sf, factors, np.empty((5, p)),
                     np.empty((2, p), dtype=np.int64), np.empty(n), W_first, values, g_l1,
                     g_l2, epochs, gaps, status, n_engine, residuals, deferred,
                     small=_small(data.G, data.X_test))
    if deferred.any():  # (zero outside folds)
        hyper_tol = 1e-10 if engine is None else float(engine.tol)
        _deferred_hypergradients(data.G, W, float(L2[done - 1]), hyper_tol,
                                 folds[deferred[folds] != 0], L, Sf, factors, g_l1, g_l2,
                                 status[done - 1], n_engine, residuals)
    status = status[:done, folds]
    if compute_grad and (status == SINGULAR).any():
        return None
    stopped = status == NOT_CONVERGED
    if stopped.any() and solver.warn:
        gaps = gaps[:done, folds]
        i, f = np.unravel_index(np.argmax(np.where(stopped, gaps, -np.inf)), gaps.shape)
        warnings.warn(f"{type(solver).__name__} did not converge in {epochs[i, folds[f]]} "
                      f"epochs (relative gap {gaps[i, f]:.2e} > tol {solver.tol:.2e}); "
                      "increase max_iter, max_epochs or tol.", ConvergenceWarning,
                      stacklevel=5)
    return _GramRun(int(done), W, W_first, values[:done], epochs[:done], g_l1, g_l2,
                    n_engine, residuals)


def _states(data, W, folds):
    """The warm starts ``[coef, intercept]`` of the folds ``folds`` (an int64 array) from
    their coefficients ``W`` (the intercept of the centred problem read back)."""
    W = W[folds]
    if not data.fit_intercept:
        return list(W)
    states = np.empty((W.shape[0], W.shape[1] + 1))
    states[:, :-1] = W
    states[:, -1] = data.target_offset[folds] - np.einsum("kj,kj->k", data.offset[folds], W)
    return list(states)


def evaluate_gram_folds(data, penalty, lam, warm, solver, engine, compute_grad, folds):
    """The folds ``folds`` of ``data`` (a :class:`GramFolds`) at ``lam``: a list of
    :class:`GramOutcome`, or None when the compiled path does not apply at this ``lam``
    (an L1 weight of 0 without L2) or a support's system is singular (the caller then
    evaluates as usual).

    ``warm`` are the warm starts of every fold (the model's ``[coef, intercept]``, or
    None for zeros); ``solver`` gives ``tol``,
    the budget (:meth:`~skhypergrad.solvers._base.BaseSolver.gram_budget`) and ``warn``
    (a :class:`~sklearn.exceptions.ConvergenceWarning` with the gap reached when a fold
    stops above ``tol``).
    """
    folds = np.asarray(folds, dtype=np.int64)
    run = _run(data, penalty, [lam], warm, solver, engine, compute_grad, folds, _NEVER,
               _NEVER)
    if run is None:
        return None
    values, epochs = run.values[0].tolist(), run.epochs[0].tolist()
    n_engine, residuals = run.n_engine.tolist(), run.residuals.tolist()
    return [GramOutcome(values[k], penalty.weights_vjp(run.g_l1[k], run.g_l2[k])
                        if compute_grad else None, w, epochs[k], n_engine[k], residuals[k])
            for k, w in zip(folds.tolist(), _states(data, run.W, folds))]


class GramPath(NamedTuple):
    """Values along a path (see :func:`evaluate_gram_path`): per point evaluated, the
    held-out losses and epochs of the folds (rows), and the warm starts of every fold
    at the first and the last point."""

    values: np.ndarray
    epochs: np.ndarray
    first: list
    last: list


def evaluate_gram_path(data, penalty, lams, warm, solver, folds, near, patience):
    """The criterion's values (no gradient) at the points ``lams`` in turn, every one
    warm-started from the one before (the first from ``warm``), in one compiled call,
    until the path is past its minimum: its last value above its smallest once past
    ``near`` points, or else its last ``patience`` values all above the smallest of
    the ones before, the last not below the one before it
    (:func:`skhypergrad._path_scan._scan`'s rule). A :class:`GramPath`
    (the points evaluated are the first ``len(values)``), or None when the compiled
    path does not apply at one of the points (see :func:`evaluate_gram_folds`)."""
    folds = np.asarray(folds, dtype=np.int64)
    run = _run(data, penalty, lams, warm, solver, None, False, folds, near, patience)
    if run is None:
        return None
    return GramPath(run.values[:, folds], run.epochs[:, folds],
                    _states(data, run.W_first, folds), _states(data, run.W, folds))


def gram_fit(model, X, y_enc, lam, solver, data=None, starts=None, sample_weight=None):
    """``[coef, intercept]`` of ``model`` trained on all of ``X`` (dense or sparse) and the
    encoded ``y_enc`` at ``lam`` by the compiled coordinate descent on the Gram matrix of
    ``X`` to ``solver``'s ``tol`` (a final refit; see :func:`gram_path_applies` for when
    it applies), from the mean coefficients of the model states ``starts`` (``[coef,
    intercept]``, e.g. the folds' solutions of a search near ``lam``; None or empty:
    from zero coefficients). ``data``: the :class:`GramFolds` of all of ``X`` when
    already formed (a criterion's :attr:`GramFolds.whole`, of the same weights), else
    formed here, the datafit weighted by ``sample_weight`` (None: unit weights)."""
    if data is None:
        X = X if sp.issparse(X) else np.asarray(X, dtype=np.float64)
        data = heldout_gram_folds(X, y_enc, X[:0], y_enc[:0], model.fit_intercept,
                                  sample_weight)
    p = data.c.shape[1]
    coefs = [_expand(w)[:p] for w in (starts or ()) if w is not None]
    warm = np.mean(coefs, axis=0) if coefs else None
    (out,) = evaluate_gram_folds(data, model.get_penalty(), lam, [warm], solver, None, False,
                                 [0])
    return out.w
