r"""The weights of SVC's rows on each fold, as scikit-learn's ``SVC`` weighs them.

The bound of training row i's dual coefficient is :math:`C_i = C\,w_i`, with
:math:`w_i` its sample weight times the weight of its class (:func:`training_weights`);
the held-out rows are weighted by their sample weights (:func:`fold_weights`).
"""

import numpy as np
from sklearn.utils.class_weight import compute_class_weight

__all__ = ["training_weights", "fold_weights"]


def training_weights(y, sample_weight=None, class_weight=None, classes=None):
    """The weights of a fold's training rows (their bounds are ``C w_i``), as
    ``SVC(class_weight=class_weight).fit(X, y, sample_weight)`` weighs them.

    Parameters
    ----------
    y : ndarray of shape (n_rows,)
        Class labels of the rows, or their indices in ``classes``.
    sample_weight : ndarray of shape (n_rows,), default=None
        Non-negative.
    class_weight : dict or "balanced", default=None
        ``SVC``'s: the weight of each row's class, computed on ``y`` (for "balanced",
        without the sample weights, as ``SVC.fit``), multiplies ``sample_weight``. A
        dict's keys are class labels.
    classes : ndarray of shape (n_classes,), default=None
        The labels of the class indices ``y``; None: ``y`` holds the labels.

    Returns
    -------
    ndarray of shape (n_rows,) or None
        None when both ``sample_weight`` and ``class_weight`` are None.
    """
    if class_weight is None:
        return sample_weight
    labels = y if classes is None else np.asarray(classes)[y]
    present = np.unique(labels)
    per_class = compute_class_weight(class_weight, classes=present, y=labels)
    w = per_class[np.searchsorted(present, labels)]
    return w if sample_weight is None else sample_weight * w


def fold_weights(y, splits, sample_weight=None, class_weight=None):
    """Per fold, the weights of its training rows (:func:`training_weights`) and of its
    held-out rows (``sample_weight``), as ``SVC`` fit on each training fold and scored on
    its held-out rows weighs them.

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
        Class labels.
    splits : list of (train, test) index arrays
    sample_weight : ndarray of shape (n_samples,), default=None
    class_weight : dict or "balanced", default=None

    Returns
    -------
    weights : list of ndarray or None
        None when both ``sample_weight`` and ``class_weight`` are None.
    test_weights : list of ndarray or None
        None without ``sample_weight``.
    """
    if sample_weight is None and class_weight is None:
        return None, None
    weights = [training_weights(y[train], None if sample_weight is None
                                else sample_weight[train], class_weight)
               for train, _ in splits]
    if sample_weight is None:
        return weights, None
    return weights, [sample_weight[test] for _, test in splits]
