"""The folds of a cross-validation: their splits, kept compactly, and their problems.

A fold's problem is the fixed-point map on its training rows (copied once, in
the layout of the solver; for sparse ``X``, on the columns those rows use) and
the held-out loss on its test rows (read in place in a CSR ``X``).
"""

import numpy as np
import scipy.sparse as sp

from ._outer_loss import _heldout_loss
from .solvers._base import BaseSolver


def _rows_friendly(X):
    """``X`` in the layout whose row subsets the solvers use as they are: Fortran
    order for a dense ``X`` (coordinate descent reads columns), CSR or CSC kept."""
    if sp.issparse(X) or X.flags.f_contiguous:
        return X
    return np.asfortranarray(X)


def _take_rows(X, rows, sparse_format=None, fortran=False):
    """``X[rows]``, in Fortran order when ``X`` is or ``fortran`` asks (no conversion by
    the solver later), and, for sparse ``X``, in ``sparse_format`` ("csc", "csr") when
    given. The rows of a 2d C-ordered ``X`` of float32 taken with ``fortran`` are
    float64 (the solvers' dtype, every value exact)."""
    if sp.issparse(X):
        out = X[rows]
        if sparse_format is not None and out.format != sparse_format:
            out = out.asformat(sparse_format)  # the row copy is freed: one copy kept
        return out
    if X.flags.f_contiguous and not X.flags.c_contiguous:
        return X.T.take(rows, axis=1).T  # Fortran order (fancy indexing would give C order)
    if fortran and X.ndim == 2:
        return _take_rows_fortran(X, rows)
    return X[rows]


#: elements of a block of rows of :func:`_take_rows_fortran` (256 KiB of float64)
_BLOCK = 2**15


def _take_rows_fortran(X, rows):
    """``X[rows]`` of a 2d array as a new Fortran-ordered array, float64 for float32 or
    float64 ``X`` (else in its dtype), copied once: by blocks of rows gathered in C
    order, each small enough to stay in cache while it is written column by column.
    The new array is first written in its own order (its pages mapped in sequence: the
    blocks' strided first writes would map them at several times the cost)."""
    dtype = np.float64 if X.dtype in (np.float32, np.float64) else X.dtype
    out = np.empty((rows.shape[0], X.shape[1]), dtype=dtype, order="F")
    out.fill(0)
    step = max(1, _BLOCK // max(X.shape[1], 1))
    for start in range(0, rows.shape[0], step):
        out[start:start + step] = X[rows[start:start + step]]
    return out


def _fold_problem(model, X, y, train, test, loss, lipschitz=None, sparse_format=None,
                  sample_weight=None, score_sample_weight=None):
    """``(pgmap, outer)`` of one fold: the map on the ``train`` rows, the held-out loss
    on the ``test`` rows (``y`` already encoded), the training rows of a dense ``X``
    centred (see :mod:`skhypergrad._design`) and the held-out rows read with the
    same column means. ``sparse_format``: the format
    of the training rows of a sparse ``X``, that of the solver (see
    :func:`_solver_format`), so that the solver does not convert them again.

    CSC training rows with empty columns (wide sparse data: a fold does not
    use every feature) and a penalty with the same hyperparameters for every
    feature: the fold is trained on the columns its rows use
    (:func:`_used_columns`), whose coefficients alone can be nonzero (an empty
    column's gradient is zero): ``w`` and every ``p``-sized vector of the
    fold are that much shorter, with the same solution, value and hypergradient.
    The fold's warm starts are then on those columns, the same ones at every
    evaluation.

    ``sample_weight`` and ``score_sample_weight`` (of the rows of ``X``, or None) are
    split with the rows: the training rows' ``sample_weight`` enter the fold's
    datafit, the held-out rows' ``score_sample_weight`` its held-out loss (each
    rescaled to mean 1 on its rows).
    """
    sw_train = None if sample_weight is None else sample_weight[train]
    sw_test = None if score_sample_weight is None else score_sample_weight[test]
    X_train, columns = _take_rows(X, train, sparse_format), None
    penalty = model.get_penalty()
    if sp.issparse(X_train) and X_train.format == "csc" \
            and penalty.n_hyper(1) == penalty.n_hyper(2):
        X_train, columns = _used_columns(X_train)
    # the rows are a copy: a dense one is centred in place
    pgmap = model.make_map(X_train, y[train], lipschitz=lipschitz, center="inplace",
                           sample_weight=sw_train)
    return pgmap, _heldout_loss(model, loss, X, y[test], rows=test, columns=columns,
                                frame=pgmap.design, sample_weight=sw_test)


def _used_columns(X):
    """``(X[:, columns], columns)`` for a CSC ``X`` and its nonempty ``columns`` (int32
    when they fit), sharing ``X``'s data and row indices; ``(X, None)`` when every
    column has an entry."""
    columns = np.flatnonzero(np.diff(X.indptr))
    if columns.shape[0] == X.shape[1]:
        return X, None
    indptr = np.append(X.indptr[columns], X.indptr[-1]).astype(X.indptr.dtype, copy=False)
    columns = _compact_index(columns)
    X_used = sp.csc_matrix((X.data, X.indices, indptr), shape=(X.shape[0], columns.shape[0]),
                           copy=False)
    return X_used, columns


def _compact_index(rows):
    """Row indices as int32 when they fit (half the memory of the splitter's int64)."""
    rows = np.asarray(rows)
    if rows.dtype != np.int32 and rows.size and rows.max() <= np.iinfo(np.int32).max \
            and rows.min() >= 0:
        return rows.astype(np.int32)
    return rows


class _FoldSplits:
    """The ``(train, test)`` row indices of every fold, as a sequence, made per fold.

    Folds whose test rows are sorted, in no earlier test fold, and whose
    training rows are the sorted rest (as every scikit-learn
    ``BaseCrossValidator`` gives them, e.g. ``KFold``, ``StratifiedKFold``)
    are kept as the fold of every row (``2 n`` bytes for all of them), and
    their indices made again when asked for; any other split is kept as given.
    Indices are int32 when they fit (see :func:`_compact_index`).

    Parameters
    ----------
    splits : iterable of (ndarray, ndarray)
        Training and test row indices of every fold.
    n_samples : int
    """

    def __init__(self, splits, n_samples):
        self.fold_of = np.full(n_samples, -1, dtype=np.int16)
        # the indices made from fold_of lie in [0, n): int32 when n fits
        self._dtype = np.int32 if n_samples <= np.iinfo(np.int32).max + 1 else np.intp
        self.pairs = []  # None for a fold made from fold_of
        for k, (train, test) in enumerate(splits):
            train, test = np.asarray(train), np.asarray(test)
            if k < np.iinfo(np.int16).max and _is_partition_fold(self.fold_of, train, test):
                self.fold_of[test] = k
                self.pairs.append(None)
            else:
                self.pairs.append((_compact_index(train), _compact_index(test)))

    def __len__(self):
        return len(self.pairs)

    def __getitem__(self, k):
        pair = self.pairs[k]
        if pair is not None:
            return pair
        in_fold = self.fold_of == k
        test = np.flatnonzero(in_fold).astype(self._dtype, copy=False)
        np.logical_not(in_fold, out=in_fold)
        return np.flatnonzero(in_fold).astype(self._dtype, copy=False), test

    def __iter__(self):
        return (self[k] for k in range(len(self)))


def _is_partition_fold(fold_of, train, test):
    """Whether ``test`` holds sorted rows of no earlier test fold and ``train`` is the
    sorted rest (``fold_of``: the test fold of every row so far, -1 if none)."""
    n = fold_of.shape[0]
    if train.shape[0] + test.shape[0] != n or test.shape[0] == 0:
        return False
    if test[0] < 0 or test[-1] >= n or not (test[1:] > test[:-1]).all() \
            or (fold_of[test] >= 0).any():
        return False
    # test holds n - len(train) distinct rows: the rest has the length of train
    rest = np.ones(n, dtype=bool)
    rest[test] = False
    return bool((np.flatnonzero(rest) == train).all())


def _solver_format(solver):
    """The sparse format a library solver declares it reads ``X`` in (its
    ``sparse_format``), or None (any other object with a ``solve`` method)."""
    return solver.sparse_format if isinstance(solver, BaseSolver) else None
