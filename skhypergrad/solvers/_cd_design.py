"""The design as coordinate descent's kernels read it, converted once per design.

Dense ``X`` in Fortran order, sparse ``X`` as canonical CSC (kernel arguments of
one signature for both, then the column means of a sparse ``X`` centred
implicitly, or an empty array), a sparse ``X`` stored densely when that is small
and the kernels read it faster so (:func:`_stores_dense`), and the curvature
bounds ``c ||X_j||^2 / n`` of the coordinates (of the centred columns): kept with
a dense design, computed for the features needed on a sparse one (``p`` may be
large). Whether least squares runs on the Gram matrix.
"""

import weakref

import numpy as np
import scipy.sparse as sp

from .._design import (Design, cached_gram, centre_stored_columns, centred_squared_norms,
                       gram_pays)

_EMPTY_DENSE = np.empty((0, 0), order="F")
_EMPTY_DATA = np.empty(0)
_EMPTY_INDEX = np.empty(0, dtype=np.int32)

# Conversions keyed by the (weakly referenced) Design: repeated solves on one
# problem, as in a hyperparameter search, convert X once; the entry goes away
# with the design and is rebuilt if ``design.X`` is replaced. Nothing is stored
# on the solver or pickled with the problem.
_PREPARED = weakref.WeakKeyDictionary()


def _prepare(design):
    """``(X, kernel_args, bounds)`` for ``design.X``, cached per design.

    ``bounds`` caches the output of :func:`_curvature_bounds`, for the last
    datafit curvature asked.
    """
    entry = _PREPARED.get(design)
    if entry is None or entry[0] is not design.X:
        Xc, args, mu = _convert(design.X, design.sparse_offset)
        mu = _EMPTY_DATA if mu is None else np.ascontiguousarray(mu, dtype=np.float64)
        entry = (design.X, (Xc, args + (mu,), {}))
        _PREPARED[design] = entry
    return entry[1]


def _bounds(design, curvature):
    """``(X, kernel_args, lc, col_norm, feature_norm)`` for ``design.X``, cached per design.

    ``lc`` holds the curvature bounds ``c ||X_j||^2 / n`` of the coefficients
    (repeated for the K outputs), then ``c`` per intercept, for the datafit's
    ``c = curvature``; ``col_norm`` is the largest ``||X_j||`` (the intercept
    column's ``sqrt(n)`` included), ``feature_norm`` that of the features alone.
    For a dense ``X``, ``lc`` is kept with the design (not the squared norms it is
    made of; another ``c`` rebuilds it). For
    a sparse ``X`` (``p`` may be large) ``lc`` is None: the solver computes the
    bounds of the features it needs, in ``O(nnz)`` for all of them, and
    ``col_norm`` is found without a ``p``-sized array.
    """
    X, kernel_args, bounds = _prepare(design)
    key = (curvature, design.n_outputs, design.fit_intercept)
    if sp.issparse(X):
        sq_max = _max_squared_norm(X, implicit_offset(kernel_args))
        return X, kernel_args, None, _column_norm_bound(design, sq_max), float(np.sqrt(sq_max))
    if key not in bounds:
        bounds.clear()  # first: one lc alive at a time
        bounds[key] = _curvature_bounds(design, Design(X).column_squared_norms(),
                                        curvature)
    return (X, kernel_args) + bounds[key]


def implicit_offset(kernel_args):
    """The column means the kernels subtract from the CSC ``X`` of ``kernel_args`` (of
    :func:`_prepare`): those of the columns :func:`_convert` did not
    centre in their stored values, 0 for the others; None for a dense or uncentred ``X``."""
    mu = kernel_args[4]
    return mu if mu.shape[0] else None


def _squared_norms_range(X, j0, j1, mu=None):
    """``||X_j||^2`` for the columns ``j0 <= j < j1`` of a CSC ``X``, as
    ``X.multiply(X).sum(axis=0)`` (the same sums: ``np.add.reduceat`` per column,
    whatever the range), without a copy of ``X``; ``||X_j - mu_j 1||^2`` when the
    column means ``mu`` (of all columns of ``X``) are given."""
    out = stored_squared_norms(X.data, X.indptr[j0:j1 + 1])
    if mu is not None:
        out = centred_squared_norms(out, mu[j0:j1], X.shape[0])
    return out


def stored_squared_norms(data, indptr):
    """The sums of squares of the stored values of each column of a CSC triplet (its
    columns ``data[indptr[j]:indptr[j + 1]]``, ``indptr`` possibly a slice), by
    ``np.add.reduceat``."""
    out = np.zeros(indptr.shape[0] - 1)
    lo = indptr[0]
    cols = np.flatnonzero(np.diff(indptr))
    if cols.shape[0]:
        out[cols] = np.add.reduceat(np.square(data[lo:indptr[-1]]), indptr[cols] - lo)
    return out


def _max_squared_norm(X, mu=None, chunk=1 << 12):
    """``max_j ||X_j||^2`` of a CSC ``X`` (of ``X_j - mu_j 1`` when ``mu`` is given),
    ``chunk`` columns at a time (0 without columns)."""
    p, out = X.shape[1], 0.0
    for j0 in range(0, p, chunk):
        out = max(out, _squared_norms_range(X, j0, min(j0 + chunk, p), mu).max(initial=0.0))
    return out


def _feature_bounds(sq_norms, c, n, n_outputs):
    """The curvature bounds ``c ||X_j||^2 / n`` of the coefficients of the features
    whose squared norms are ``sq_norms`` (each repeated for the ``n_outputs`` classes)."""
    lc = np.multiply(sq_norms, c)
    lc /= n
    return lc if n_outputs == 1 else np.repeat(lc, n_outputs)


def _entry_bounds(sq_norms, c, n, n_outputs, fit_intercept):
    """:func:`_feature_bounds`, then ``c`` for each of the ``n_outputs`` intercepts when
    ``fit_intercept`` (the layout of ``w``)."""
    lc = _feature_bounds(sq_norms, c, n, n_outputs)
    return np.append(lc, np.full(n_outputs, c)) if fit_intercept else lc


def _column_norm_bound(design, sq_max):
    """The largest ``||X_j||`` from the largest squared norm, the intercept column's
    ``sqrt(n)`` included."""
    n = design.n_samples
    return float(np.sqrt(max(sq_max, n if design.fit_intercept else 0.0)))


def _curvature_bounds(design, sq_norms, c):
    """``(lc, col_norm, feature_norm)`` of :func:`_bounds` from the squared column norms
    (dense ``X``)."""
    lc = _entry_bounds(sq_norms, c, design.n_samples, design.n_outputs, design.fit_intercept)
    sq_max = sq_norms.max(initial=0.0)
    return lc, _column_norm_bound(design, sq_max), float(np.sqrt(sq_max))


_SOLVES = weakref.WeakKeyDictionary()  # solves per design without the Gram matrix so far

#: a sparse ``X`` of at most this many columns runs least squares without an L1 term on
#: its Gram matrix (its working sets solved by one linear system each)
SPARSE_RIDGE_GRAM_FEATURES = 512


def _use_gram(design, datafit, precompute, ridge=False):
    """Whether least-squares working sets run on the Gram matrix (see ``precompute``).

    A sparse ``X`` does with ``ridge`` (no L1 term, every L2 weight positive, no bound)
    and at most :data:`SPARSE_RIDGE_GRAM_FEATURES` columns, unless ``precompute`` is
    False: its Gram matrix (one sparse product) then replaces the epochs on ``X``.
    """
    if precompute is False or not datafit.least_squares or design.n_outputs != 1:
        return False
    if design.is_sparse:
        return ridge and design.n_features <= SPARSE_RIDGE_GRAM_FEATURES
    if precompute is True or cached_gram(design) is not None:
        return True
    solves = _SOLVES.get(design, 0)
    _SOLVES[design] = solves + 1
    return solves >= 1 and gram_pays(design)


#: a sparse ``X`` with at most this many entries (32 MB dense) ...
_DENSE_MAX_ENTRIES = 1 << 22
#: ... and at least this fraction of them stored is converted to a dense array
_DENSE_MIN_DENSITY = 0.25


def _stores_dense(X):
    """Whether the kernels read the sparse ``X`` as a dense array: at most
    ``_DENSE_MAX_ENTRIES`` entries, at least ``_DENSE_MIN_DENSITY`` of them stored.

    The dense kernels read a column contiguously (BLAS products for the multinomial
    curvature blocks), the sparse ones through its row indices: on digits (half the
    entries stored, 10 classes) an epoch costs 5 times as much from CSC, the
    curvature blocks 8 times. The iterates are those of the dense ``X`` (up to the
    rounding of an implicit centring, made explicit).
    """
    n, p = X.shape
    return n * p <= _DENSE_MAX_ENTRIES and X.nnz >= _DENSE_MIN_DENSITY * n * p


def _convert(X, offset=None):
    """``(Xc, args, mu)``: Fortran-ordered float64 for dense ``X``, canonical float64 CSC
    for sparse ``X`` (dense, ``X - 1 offset^T`` when ``offset`` is given, if
    :func:`_stores_dense`; else the columns stored on every row centred in their stored
    values, :func:`~skhypergrad._design.centre_stored_columns`), the kernels' arguments,
    and the offset left to subtract implicitly (None for a dense ``Xc`` or no
    ``offset``)."""
    dense = not sp.issparse(X) or _stores_dense(X)
    if dense:
        Xc = np.asfortranarray(X.toarray() if sp.issparse(X) else X, dtype=np.float64)
        if sp.issparse(X) and offset is not None:
            Xc -= offset
        args, mu = (Xc, _EMPTY_DATA, _EMPTY_INDEX, _EMPTY_INDEX), None
    else:
        Xc = sp.csc_matrix(X, dtype=np.float64)
        if not Xc.has_canonical_format:
            Xc = Xc.copy()
            Xc.sum_duplicates()
        mu = None
        if offset is not None:
            Xc, stored = centre_stored_columns(Xc, offset)
            mu = offset - stored
        args = (_EMPTY_DENSE, Xc.data, Xc.indices, Xc.indptr)
    return Xc, args, mu
