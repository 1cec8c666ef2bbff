r"""The held-out surrogate loss of SVC: the logistic loss of the margin after the best
scaling of the decision function (:func:`scaled_logistic_loss`), and its gradient in the
decision function."""

import numpy as np
from numba import njit

__all__ = ["scaled_logistic_loss"]


#: bounds of the held-out scaling of the decision function
_SCALE_RANGE = (1e-6, 1e6)


@njit(cache=True)
def _log_scale(m, v, t, lo, hi):
    r""":math:`\log s^*` of :func:`scaled_logistic_loss` (margins ``m``, normalized
    weights ``v``): Newton's method on :math:`\log s` from ``t``, steps clipped to 2,
    within ``[lo, hi]``."""
    t = min(max(t, lo), hi)
    for _ in range(100):
        s = np.exp(t)
        d1 = 0.0  # d phi / d log s
        d2 = 0.0  # d2 phi / d log s^2
        for i in range(m.shape[0]):
            z = s * m[i]
            p = 1.0 / (1.0 + np.exp(z)) if z > -30.0 else 1.0  # sigma(-z)
            d1 -= v[i] * m[i] * p
            d2 += v[i] * m[i] * m[i] * p * (1.0 - p)
        d1 *= s
        d2 = d2 * s * s + d1
        step = d1 / d2 if d2 > 0 else np.sign(d1)
        t_new = min(max(t - min(max(step, -2.0), 2.0), lo), hi)
        if abs(t_new - t) < 1e-13:
            return t_new
        t = t_new
    return t


def scaled_logistic_loss(y, f, sample_weight=None):
    r"""The held-out surrogate loss of a decision ``f``, and its gradient in ``f``.

    .. math::

        \ell(f) = \min_{s} \sum_i v_i \log(1 + e^{-s y_i f_i}),
        \qquad 10^{-6} \le s \le 10^{6},

    with :math:`v` the held-out weights normalized to sum 1 (:math:`1/n` without
    ``sample_weight``): the logistic loss of the margin after the best scaling (a Platt
    scaling without offset), which does not change when ``C`` only rescales the
    decision function. Its gradient is that at the minimizing :math:`s^*` (envelope
    theorem): :math:`\nabla_f \ell = -s^* v \circ y \circ \sigma(-s^* y f)`. :math:`s^*`
    is found by Newton's method on :math:`\log s`.

    Returns
    -------
    loss : float
    grad : ndarray
    s : float
        The scaling :math:`s^*`.
    """
    m = y * f
    n = y.shape[0]
    v = np.full(n, 1.0 / n) if sample_weight is None else sample_weight / np.sum(sample_weight)
    scale = float(np.std(f))
    t = _log_scale(m, v, -np.log(scale) if scale > 0 else 0.0,
                   np.log(_SCALE_RANGE[0]), np.log(_SCALE_RANGE[1]))
    s = float(np.exp(t))
    loss = float(v @ np.logaddexp(0.0, -s * m))
    grad = -s * v * y * np.exp(-np.logaddexp(0.0, s * m))
    return loss, grad, s
