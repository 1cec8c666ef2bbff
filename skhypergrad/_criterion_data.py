r"""The data a criterion is given: ``X`` and ``y`` checked (:func:`_check_data`), sample
weights checked (:func:`_check_weights`), and the model's map on ``X`` in the layout of the
solvers (:func:`_centred_map`); the data's shape as a criterion's repr shows it
(:func:`_shape_str`).
"""

import numpy as np
from sklearn.utils import assert_all_finite, check_array

from ._folds import _rows_friendly
from ._validation import check_sparse_structure, check_target, is_checked_dense, named
from ._sample_weight import check_sample_weight


def _check_data(X, y, names=("X", "y"), *, classifier, multi_output=False):
    """``X`` as float64 CSR / CSC or array, ``y`` as the estimators read a target
    (:func:`~skhypergrad._validation.check_target`: float64 for a regression, numbers
    given as strings included; class labels for a ``classifier``; 2d float64 for a
    ``multi_output`` datafit, one column per output) of the same length, both without NaN
    or infinity (as scikit-learn's ``check_X_y``: labels included); errors name ``names``
    (a malformed sparse ``X`` included, see
    :func:`~skhypergrad._validation.check_sparse_structure`).

    Data already in that form, as an estimator's fit passes it on (an ``X`` that is a
    2d float64 ndarray, not empty, finite; a ``y`` that is a contiguous 1d ndarray of
    numbers), is taken as it is: scikit-learn's checks would return the same
    arrays."""
    if not is_checked_dense(X):
        X = check_sparse_structure(X, names[0])
        with named(names[0]):
            X = check_array(X, accept_sparse=("csr", "csc"), dtype=np.float64,
                            input_name=names[0])
    if not multi_output and type(y) is np.ndarray and y.ndim == 1 \
            and y.dtype.kind in "biuf" and y.flags.c_contiguous:
        with named(names[1]):
            assert_all_finite(y, input_name=names[1])
    else:
        y = check_target(y, classifier=classifier, multi_output=multi_output, name=names[1])
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"{names[0]} has {X.shape[0]} samples but {names[1]} has "
                         f"{y.shape[0]}.")
    return X, y


def _centred_map(model, X, y_enc, lipschitz, sample_weight=None, owned=False):
    """``model``'s map on ``X`` in the layout of the solvers, centred when dense with an
    intercept (see :mod:`skhypergrad._design`): in place when the layout needed a copy
    or the caller gives ``X`` away (``owned``), else on a copy (``X`` is the caller's);
    weighted by ``sample_weight`` if given."""
    X_solver = _rows_friendly(X)
    return model.make_map(X_solver, y_enc, lipschitz,
                          center="inplace" if owned or X_solver is not X else True,
                          sample_weight=sample_weight)


def _check_weights(sample_weight, n_samples, name="sample_weight"):
    """``sample_weight`` as a float64 vector of length ``n_samples`` (None stays None;
    ValueError naming ``name`` otherwise)."""
    if sample_weight is None:
        return None
    s = np.asarray(sample_weight, dtype=np.float64)
    if s.ndim != 1 or s.shape[0] != n_samples:
        raise ValueError(f"{name} has shape {s.shape}; it needs one weight per row of "
                         f"the data ({n_samples}).")
    return check_sample_weight(s, n_samples)


def _shape_str(X):
    shape = getattr(X, "shape", None)
    return f"<{shape[0]}x{shape[1]}>" if shape is not None and len(shape) == 2 else "..."
