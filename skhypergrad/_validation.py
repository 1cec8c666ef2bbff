"""Input checks shared by the estimators, :class:`HyperGradSearchCV` and :func:`hypergradient`.

Every check raises a ``ValueError`` or ``TypeError`` whose message starts with
(or contains) the name of the offending parameter, so a user can tell ``X``
from ``y``, ``cv`` or ``alpha_bounds`` without reading a traceback. Most of
the work is scikit-learn's own (``validate_data``, ``check_array``); these
helpers name what it does not, and add what it cannot know (bounds, folds).

Sparse input is checked by :func:`check_sparse_structure` before anything
reads its index arrays: the numba kernels (and scipy's own conversions) index
memory with them unchecked.

The module also holds two guards of the fit itself: :func:`atomic_fit`
(an interrupted or failed fit leaves the estimator as it was) and
:func:`one_convergence_warning` (a search that hit numerical trouble says so
once, not at every evaluation).
"""

import contextlib
import functools
import numbers
import re
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import check_cv
from sklearn.utils import assert_all_finite, check_array, column_or_1d
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (_check_y, _num_samples, check_consistent_length,
                                      validate_data)

__all__ = ["named", "check_sparse_structure", "check_X_y", "check_target", "check_bounds",
           "check_cv_size", "check_fold_weights", "cv_splits", "is_checked_dense",
           "is_checked_target", "safe_lam_max", "lam_max_floor", "floored_lam_max",
           "atomic_fit", "one_convergence_warning"]

_ACCEPT_SPARSE = ("csr", "csc")


@contextlib.contextmanager
def named(param):
    """Re-raise ``ValueError`` / ``TypeError`` with ``param`` in the message if it is not.

    scikit-learn's checks name the input for some failures (``"Input X contains
    NaN"``) and not for others (``"Found array with 0 sample(s)"``); this makes
    every message name it, keeping the exception's type (and its subclass, e.g.
    ``InvalidParameterError``). The parameter is "named" when it appears as a
    whole word.
    """
    try:
        yield
    except (ValueError, TypeError) as exc:
        msg = str(exc)
        if re.search(rf"(?<![\w.]){re.escape(param)}(?!\w)", msg):
            raise
        try:
            new = type(exc)(f"{param}: {msg}")
        except Exception:  # an exception type with a richer constructor
            new = ValueError(f"{param}: {msg}") if isinstance(exc, ValueError) \
                else TypeError(f"{param}: {msg}")
        raise new from exc


_INDEX_DTYPES = (np.dtype(np.int32), np.dtype(np.int64))


def check_sparse_structure(X, name="X"):
    """Check the index arrays of a sparse ``X``; return ``X`` or a canonical CSR / CSC copy.

    The solvers and helpers read ``data``, ``indices`` and ``indptr`` in
    compiled kernels that do not check bounds, so a malformed matrix is
    refused here, before any of them (or a scipy conversion) reads it.

    Contract, for a 2-d scipy sparse matrix or array:

    * CSR / CSC: ``indptr`` has ``n_major + 1`` entries (rows for CSR, columns
      for CSC), starts at 0, never decreases and ends at ``len(indices)``,
      which is ``len(data)``; every index is in ``[0, n_minor)``. Index arrays
      are one-dimensional int32 or int64. Anything else raises a ``ValueError``
      whose message starts with ``name``.
    * Unsorted or repeated indices within a row (column) are valid scipy
      storage (repeated entries add up): they give a canonical copy (indices
      sorted, duplicates summed), as scipy's ``sum_duplicates`` would make in
      place. ``X`` itself is never modified, and a canonical ``X`` is returned
      as it is, without a copy.
    * COO and BSR: their index arrays are checked in the same way (COO
      coordinates within the shape, BSR as CSR over the grid of blocks), then
      the matrix is converted to CSR; LIL, DOK and DIA are converted to CSR
      directly. The CSR is then checked as above. scikit-learn makes the same
      conversion when given ``accept_sparse=("csr", "csc")``.

    Anything that is not a 2-d scipy sparse container (dense arrays, lists,
    data frames, 1-d sparse arrays) is returned unchanged, for the usual
    scikit-learn validation to accept or reject.

    The cost is ``O(nnz + n_major)`` vectorized numpy work and ``O(nnz)``
    temporary booleans, without a copy of a valid, canonical ``X``.

    Parameters
    ----------
    X : object
        The input, of any type.
    name : str, default="X"
        Name of the parameter, used in error messages.

    Returns
    -------
    X : object
        ``X`` itself, or a canonical CSR / CSC copy (see above).

    Raises
    ------
    ValueError
        When the index arrays do not describe a valid matrix of ``X.shape``.
    """
    if not sp.issparse(X) or X.ndim != 2:
        return X
    fmt = X.format
    if fmt in ("csr", "csc"):
        return _checked_compressed(X, name)
    if fmt == "coo":
        _check_coo(X, name)
    elif fmt == "bsr":
        _check_bsr(X, name)
    return _checked_compressed(X.tocsr(), name)


def _fail(name, fmt, msg):
    raise ValueError(f"{name}: malformed {fmt.upper()} sparse matrix: {msg}")


def _index_array(a, what, name, fmt):
    """``a`` as a 1-d int32 / int64 ndarray, or a ValueError."""
    if not isinstance(a, np.ndarray) or a.ndim != 1 or a.dtype not in _INDEX_DTYPES:
        desc = (f"a {a.ndim}-d array of {a.dtype}" if isinstance(a, np.ndarray)
                else type(a).__name__)
        _fail(name, fmt, f"{what} must be a 1-d array of int32 or int64, got {desc}.")
    return a


def _check_range(idx, bound, what, name, fmt):
    """Every entry of ``idx`` in ``[0, bound)``."""
    if idx.shape[0] == 0:
        return
    lo, hi = idx.min(), idx.max()
    if lo < 0:
        k = int(np.argmax(idx < 0))
        _fail(name, fmt, f"negative {what} {int(idx[k])} at position {k}.")
    if hi >= bound:
        k = int(np.argmax(idx >= bound))
        _fail(name, fmt, f"{what} {int(idx[k])} at position {k} is out of range: "
                         f"expected 0 <= index < {bound}.")


def _check_pointers(indptr, n_major, nnz, major, name, fmt):
    """``indptr``: ``n_major + 1`` entries from 0 to ``nnz``, never decreasing."""
    if indptr.shape[0] != n_major + 1:
        _fail(name, fmt, f"indptr has {indptr.shape[0]} entries, expected {n_major + 1} "
                         f"({n_major} {major}s + 1).")
    if indptr[0] != 0:
        _fail(name, fmt, f"indptr[0] is {int(indptr[0])}, expected 0.")
    if indptr[-1] != nnz:
        _fail(name, fmt, f"indptr[-1] is {int(indptr[-1])} but indices has {nnz} entries; "
                         "they must be equal.")
    decreasing = np.flatnonzero(indptr[1:] < indptr[:-1])
    if decreasing.shape[0]:
        k = int(decreasing[0])
        _fail(name, fmt, f"indptr decreases from {int(indptr[k])} to {int(indptr[k + 1])} "
                         f"at {major} {k}; it must be non-decreasing.")


def _checked_compressed(X, name):
    """A CSR / CSC ``X`` checked, and canonical (a copy when it is not)."""
    fmt = X.format
    major, minor = ("row", "column") if fmt == "csr" else ("column", "row")
    n_major, n_minor = X.shape if fmt == "csr" else X.shape[::-1]
    indices = _index_array(X.indices, "indices", name, fmt)
    indptr = _index_array(X.indptr, "indptr", name, fmt)
    nnz = indices.shape[0]
    if not isinstance(X.data, np.ndarray) or X.data.ndim != 1 or X.data.shape[0] != nnz:
        _fail(name, fmt, f"data has shape {np.shape(X.data)} and indices {indices.shape}; "
                         "they must be 1-d of the same length.")
    _check_pointers(indptr, n_major, nnz, major, name, fmt)
    _check_range(indices, n_minor, f"{minor} index", name, fmt)
    # canonical: indices strictly increasing within every row (column); a decrease
    # is allowed only where a new row (column) starts
    if nnz > 1:
        not_increasing = indices[1:] <= indices[:-1]
        starts = indptr[1:-1]
        starts = starts[(starts > 0) & (starts < nnz)]
        not_increasing[starts - 1] = False
        if not_increasing.any():
            X = X.copy()
            X.has_sorted_indices = False  # sort_indices must not trust a cached flag
            X.sum_duplicates()
    return X


def _check_coo(X, name):
    """Coordinates of a COO ``X``: as many as ``data``, within ``X.shape``."""
    nnz = np.shape(X.data)[0] if np.ndim(X.data) == 1 else -1
    coords = (X.row, X.col)
    for attr, idx, what, n in zip(("row", "col"), coords, ("row index", "column index"),
                                  X.shape):
        idx = _index_array(idx, attr, name, "coo")
        if idx.shape[0] != nnz:
            _fail(name, "coo", f"data has shape {np.shape(X.data)} and {attr} {idx.shape}; "
                               "they must be 1-d of the same length.")
        _check_range(idx, n, what, name, "coo")


def _check_bsr(X, name):
    """Block structure of a BSR ``X``, checked as CSR over the grid of blocks."""
    R, C = X.blocksize
    indices = _index_array(X.indices, "indices", name, "bsr")
    indptr = _index_array(X.indptr, "indptr", name, "bsr")
    nnzb = indices.shape[0]
    if not isinstance(X.data, np.ndarray) or X.data.shape != (nnzb, R, C):
        _fail(name, "bsr", f"data has shape {np.shape(X.data)}, expected {(nnzb, R, C)} "
                           "(one block per index).")
    _check_pointers(indptr, X.shape[0] // R, nnzb, "block row", name, "bsr")
    _check_range(indices, X.shape[1] // C, "block column index", name, "bsr")


def check_X_y(X, y, *, estimator=None, classifier=False, reset=True, multi_output=False,
              return_dtype=False):
    """Validate training data: ``X`` as float64 (CSR / CSC kept sparse), ``y`` 1d.

    A sparse ``X`` is first checked by :func:`check_sparse_structure` (a
    ``ValueError`` naming ``X`` when malformed, a canonical copy when its
    indices are unsorted or repeated). With ``estimator``, ``X`` then goes
    through ``validate_data`` (which sets ``n_features_in_`` and
    ``feature_names_in_`` when ``reset``); without, through ``check_array``.
    COO and other sparse formats are converted to CSR; float32 and integer
    ``X`` are converted to float64 (a new array; the input is never modified).
    ``y`` must be numeric and finite for a regressor, and hold at least two
    classes for a classifier.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
    estimator : estimator instance, default=None
        Passed to ``validate_data`` (feature counts and names).
    classifier : bool, default=False
        Whether ``y`` holds class labels.
    reset : bool, default=True
        ``validate_data``'s ``reset``.
    multi_output : bool, default=False
        Whether ``y`` is 2d, one column per output (multi-task regression): a 1d
        ``y`` is then refused.
    return_dtype : bool, default=False
        Also return the floating dtype ``X`` validated as (float32 for float32 data,
        float64 for the rest), the dtype scikit-learn's regressors give their
        coefficients.

    Returns
    -------
    X : ndarray or sparse matrix of float64
    y : ndarray of shape (n_samples,), or (n_samples, n_outputs) when ``multi_output``
    dtype : numpy.dtype
        With ``return_dtype``.
    """
    if y is None:
        raise ValueError("y: this estimator requires y to be passed, but the target y is None.")
    X = check_sparse_structure(X, "X")
    kwargs = {"accept_sparse": _ACCEPT_SPARSE, "dtype": [np.float64, np.float32]}
    # an X already as check_array returns it skips the conversion, not the estimator's
    # bookkeeping (n_features_in_, feature names)
    checked = is_checked_dense(X)
    with named("X"):
        if estimator is not None:
            X = validate_data(estimator, X, reset=reset, skip_check_array=checked, **kwargs)
        elif not checked:
            X = check_array(X, input_name="X", **kwargs)
        dtype = X.dtype
        X = X.astype(np.float64, copy=False)
    with named("y"):
        if not multi_output:
            check_one_output(y)
        if classifier or multi_output or not is_checked_target(y):
            y = _check_y(y, multi_output=multi_output, y_numeric=not classifier,
                         estimator=estimator)
        if multi_output and y.ndim != 2:
            raise ValueError(f"y must be 2d of shape (n_samples, n_tasks) for a multi-task "
                             f"model, got shape {y.shape}.")
        if classifier:
            check_classification_targets(y)
        else:
            y = y.astype(np.float64, copy=False)
    with named("X and y"):
        check_consistent_length(X, y)
    return (X, y, dtype) if return_dtype else (X, y)


def is_checked_dense(X):
    """Whether ``X`` is already what ``check_array(X, dtype=np.float64)`` returns: a 2d
    float64 ndarray, not empty, every entry finite (told by a finite sum, with no
    temporary the size of ``X``; a sum that overflows answers False)."""
    return type(X) is np.ndarray and X.dtype == np.float64 and X.ndim == 2 and X.size > 0 \
        and bool(np.isfinite(X.sum()))


def is_checked_target(y):
    """Whether a regression target ``y`` is already what scikit-learn's checks return: a
    contiguous 1d float64 ndarray, every entry finite (as :func:`is_checked_dense`)."""
    return type(y) is np.ndarray and y.dtype == np.float64 and y.ndim == 1 \
        and y.flags.c_contiguous and bool(np.isfinite(y.sum()))


def check_one_output(y):
    """A ValueError for a ``y`` of several columns given to a model of one output (a
    single column is accepted, as scikit-learn accepts it)."""
    shape = np.asarray(y).shape  # (not np.shape: an array-like may refuse numpy's protocol)
    if len(shape) == 2 and shape[1] > 1:
        raise ValueError(
            f"y has {shape[1]} columns (outputs), but this model is tuned on one output: give "
            "y of shape (n_samples,). For several regression outputs with one shared penalty, "
            "use MultiTaskLasso or MultiTaskElasticNet (MultiTaskLassoHyperGrad, "
            "MultiTaskElasticNetHyperGrad); otherwise tune each output separately.")


def check_target(y, *, classifier, multi_output=False, name="y"):
    """A target as the estimators' ``fit`` reads one, for the inputs whose ``X`` is not
    checked with it (a meta-estimator's ``y``, a held-out ``y_val``): errors name
    ``name``.

    A regression target is converted to float64 as scikit-learn's regressors convert
    theirs (``check_array(y, dtype=np.float64)``: numbers given as strings included;
    a ValueError for what does not convert, such as words, and for complex numbers),
    then must be finite (None converts to NaN); it is 1d (2d, one column per output,
    when ``multi_output``). Class labels are 1d and of a classification type
    (``check_classification_targets``), numeric ones finite.

    Parameters
    ----------
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
    classifier : bool
        Whether ``y`` holds class labels.
    multi_output : bool, default=False
        Whether ``y`` is 2d, one column per output (multi-task regression).
    name : str, default="y"
        The parameter's name, for the messages.

    Returns
    -------
    ndarray
    """
    with named(name):
        if multi_output:
            y = check_array(y, dtype=np.float64, input_name=name)
            if y.ndim != 2:
                raise ValueError(f"{name} must be 2d for a multi-task model, got {y.shape}.")
            return y
        check_one_output(y)
        y = column_or_1d(y)
        if classifier:
            if y.dtype.kind in "biuf":  # (before the type of labels is read from them)
                assert_all_finite(y, input_name=name)
            check_classification_targets(y)
        else:
            y = check_array(y, ensure_2d=False, dtype=np.float64, input_name=name)
    return y


def check_bounds(bounds, name):
    """``(low, high)`` as floats with ``0 < low <= high < inf``; errors name ``name``."""
    if isinstance(bounds, (str, bytes)) or not hasattr(bounds, "__len__") \
            or len(bounds) != 2:
        raise ValueError(f"{name} must be a pair (low, high) with 0 < low <= high < inf, "
                         f"got {bounds!r}.")
    lo, hi = bounds
    for v in (lo, hi):
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
            raise TypeError(f"{name} must hold two real numbers, got {bounds!r}.")
    lo, hi = float(lo), float(hi)
    if not (0 < lo <= hi < np.inf):
        raise ValueError(f"{name} must satisfy 0 < low <= high < inf, got {bounds!r}.")
    return lo, hi


def check_cv_size(cv, n_samples, name="cv"):
    """Enough samples for ``cv`` (an int number of folds or a float held-out fraction)."""
    if n_samples < 1:
        raise ValueError(f"X: found array with 0 sample(s); {name}={cv!r} needs samples.")
    if isinstance(cv, numbers.Integral):
        if cv > n_samples:
            raise ValueError(f"{name}={cv} folds need at least {cv} samples, got "
                             f"n_samples={n_samples}.")
    elif isinstance(cv, numbers.Real):
        n_val = int(np.ceil(cv * n_samples))
        if n_val < 1 or n_samples - n_val < 1:
            raise ValueError(f"{name}={cv} holds out {n_val} of n_samples={n_samples}: "
                             "the training and validation sets both need a sample.")


def cv_splits(cv, X, y=None, groups=None, classifier=False):
    """The ``(train, test)`` row numbers of every split of ``cv``, as scikit-learn's
    ``check_cv(cv, y, classifier=classifier).split(X, y, groups)`` gives them, each as a
    nonnegative integer array: a split given as a list, a boolean mask or negative
    indices selects the rows ``GridSearchCV`` indexes with it (``X[train]``), in the
    same order. A ``ValueError`` when ``cv`` gives no split, or a split that selects
    rows that ``X`` does not have."""
    n_samples = _num_samples(X)
    rows = np.arange(n_samples)

    def take(index):
        index = np.asarray(index)
        return rows[index if index.size else index.astype(np.intp)]

    splits = []
    for train, test in check_cv(cv, y, classifier=classifier).split(X, y, groups):
        try:
            splits.append((take(train), take(test)))
        except IndexError as exc:
            raise ValueError(f"cv: a split does not index the n_samples={n_samples} rows "
                             f"of X ({exc}).") from exc
    if not splits:
        raise ValueError(f"cv={cv!r} gives no split of the data: no fits were performed.")
    return splits


def check_fold_weights(splits, fit_weight=None, score_weight=None):
    """ValueError when the weights leave a split with no positive weight: ``fit_weight``
    (the datafit's, None for unit weights) on its training rows (no model to fit) or
    ``score_weight`` (the held-out losses') on its held-out rows (their weighted mean,
    0 / 0, is undefined); ``splits`` a list of ``(train, test)`` row numbers."""
    for k, (train, test) in enumerate(splits):
        for weights, rows, part in ((fit_weight, train, "training"),
                                    (score_weight, test, "held-out")):
            if weights is not None and not np.sum(weights[rows]) > 0:
                raise ValueError(
                    f"sample_weight is zero on all the {part} rows of split {k} of cv: its "
                    "weighted loss is undefined. Shuffle the folds (e.g. KFold(shuffle="
                    "True)) or drop the rows of zero weight.")


def safe_lam_max(lam_max, X, y):
    r"""``lam_max``, or a value far above round-off when the target is constant.

    With a constant target and an intercept, :math:`\nabla F(0, \bar y)` is
    round-off (or exactly zero) and so is ``lam_max``: a search below it fits
    floating-point noise, and relative stopping tests of the inner solvers lose
    their meaning. When ``lam_max`` is below a floor of a few thousand ulps of
    :math:`\max|X| \max|y|`, every coefficient is zero for every ``lam`` above
    the floor (the correct fit: the intercept alone); ``lam_max`` is then put at
    ``1e6`` times the floor, so that the default search interval
    ``(1e-6, 10) * lam_max`` lies entirely above it. Real signals give a
    ``lam_max`` orders of magnitude above the floor and are unaffected.
    """
    return floored_lam_max(lam_max, lam_max_floor(X, y))


def lam_max_floor(X, y):
    r"""The floor of :func:`safe_lam_max`: ``1e3`` ulps of :math:`\max|X| \max|y|`."""
    if sp.issparse(X):
        x_scale = abs(X).max()
    else:  # max |X| without a temporary |X|
        x_scale = max(np.max(X, initial=0.0), -np.min(X, initial=0.0))
    y = np.asarray(y)
    y_scale = np.max(np.abs(y), initial=0.0) if np.issubdtype(y.dtype, np.number) else 1.0
    scale = float(x_scale) * float(y_scale)
    return 1e3 * np.finfo(np.float64).eps * (scale if scale > 0 else 1.0)


def floored_lam_max(lam_max, floor):
    """:func:`safe_lam_max` from its floor (:func:`lam_max_floor`)."""
    return float(lam_max) if lam_max >= floor else 1e6 * floor


def atomic_fit(fit):
    """Decorator: an exception (``KeyboardInterrupt`` included) leaves the estimator as it was.

    ``fit`` may set attributes as it goes (``validate_data`` sets
    ``n_features_in_`` first); when it raises, the instance's ``__dict__`` is
    restored to its state before the call, so a fresh estimator stays unfitted
    and a fitted one keeps its previous fit, never a mix of the two.
    """
    @functools.wraps(fit)
    def wrapper(self, *args, **kwargs):
        before = dict(self.__dict__)
        try:
            return fit(self, *args, **kwargs)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(before)
            raise
    return wrapper


def warn_unfinished_search(what, result, max_iter, tol):
    """A ``ConvergenceWarning`` when the search ``result`` (a
    :class:`~skhypergrad._tune.TuneResult`) ended on ``max_iter`` instead of its stopping
    rule, with the relative decrease of the best value the rule compares with ``tol``."""
    if result.converged:
        return
    decrease = "" if not np.isfinite(result.decrease) else \
        f": its best value still fell by {result.decrease:.2g} (relative) over its last " \
        f"steps, where the stopping rule needs at most tol={tol:g}"
    warnings.warn(f"{what}: the hyperparameter search stopped at max_iter={max_iter} outer "
                  f"steps{decrease}. The best point seen is returned; increase max_iter (or "
                  f"tol) to let the search finish.", ConvergenceWarning, stacklevel=3)


@contextlib.contextmanager
def one_convergence_warning(what):
    """Collect the ``ConvergenceWarning`` s raised inside; emit one summary at the end.

    A search evaluates its criterion dozens of times; an inner solver that stops
    at its iteration budget, or a non-finite hypergradient, would otherwise warn
    at every evaluation. Other warnings pass through unchanged.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    convergence = []
    for w in caught:
        if issubclass(w.category, ConvergenceWarning):
            convergence.append(str(w.message))
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno,
                                   source=w.source)
    if convergence:
        kinds = list(dict.fromkeys(convergence))
        detail = kinds[0] if len(kinds) == 1 else \
            f"{kinds[0]} (and {len(kinds) - 1} other message(s))"
        warnings.warn(f"{what}: {len(convergence)} numerical issue(s) during the search, "
                      f"which kept the best point seen. First: {detail}",
                      ConvergenceWarning, stacklevel=3)
