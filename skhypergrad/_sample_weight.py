r"""Per-sample weights as the datafits and held-out losses read them.

:func:`check_sample_weight` checks weights and rescales them to mean 1,
:func:`weighted_mean` and :func:`per_weight` give the weighted mean of per-sample
values and a dual point per unit weight (the weighted forms of a datafit's ``loss``
and ``dual_term``), and :func:`check_class_decision` checks the (labels, decision,
weights) arguments of a classifier's held-out loss.
"""

import numpy as np


def weighted_mean(values, sample_weight=None):
    r""":math:`\frac1n \sum_i s_i v_i` of per-sample ``values`` (shape (n,)), the plain
    mean when ``sample_weight`` is None."""
    if sample_weight is None:  # np.mean's sum and division, without its dispatch
        return float(np.add.reduce(values) / values.shape[0]) \
            if values.ndim == 1 and values.dtype == np.float64 else float(np.mean(values))
    return float(values @ sample_weight) / values.shape[0]


def per_weight(theta, sample_weight=None):
    r""":math:`\theta_i / s_i` (rows of ``theta``), 0 where :math:`s_i = 0` (there
    :math:`\theta_i = 0` too: a dual point of the weighted datafit); ``theta`` itself
    when ``sample_weight`` is None."""
    if sample_weight is None:
        return theta
    s = sample_weight if theta.ndim == 1 else sample_weight[:, None]
    return np.divide(theta, s, out=np.zeros(theta.shape), where=s > 0)


def check_sample_weight(sample_weight, n_samples):
    r"""``sample_weight`` as float64 weights rescaled to mean 1 over the ``n_samples``
    rows, :math:`s_i = n\,w_i / \sum_j w_j` (ValueError unless finite, nonnegative,
    of length ``n_samples`` and of positive sum); None stays None."""
    if sample_weight is None:
        return None
    s = np.asarray(sample_weight, dtype=np.float64)
    if s.ndim != 1 or s.shape[0] != n_samples:
        raise ValueError(f"sample_weight must have shape ({n_samples},), got {s.shape}.")
    total = float(np.sum(s))
    if not np.all(np.isfinite(s)) or np.any(s < 0) or not total > 0:
        raise ValueError("sample_weight must be finite and nonnegative with a positive "
                         "sum.")
    return s * (n_samples / total)



def check_class_decision(y_true, decision, labels=None, sample_weight=None):
    """The arguments of a held-out loss of a decision function, checked.

    Returns ``(idx, n_labels, decision, sample_weight)``: ``idx[i]`` the position of
    ``y_true[i]`` in ``labels`` (the sorted labels of ``y_true`` when None; ValueError
    for a label outside them), ``decision`` as float64 and the weights as
    :func:`check_sample_weight` gives them.
    """
    y_true = np.asarray(y_true)
    sample_weight = check_sample_weight(sample_weight, y_true.shape[0])
    labels = np.unique(y_true) if labels is None else np.asarray(labels)
    idx = np.searchsorted(labels, y_true)
    if np.any(idx >= labels.shape[0]) or np.any(labels[np.minimum(idx, len(labels) - 1)]
                                                 != y_true):
        raise ValueError("y_true has labels outside labels.")
    return idx, labels.shape[0], np.asarray(decision, dtype=np.float64), sample_weight
