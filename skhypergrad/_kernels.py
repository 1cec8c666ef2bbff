r"""Elementwise numba kernels shared by the penalties and the solvers.

The elastic-net proximal operator is written here once; every penalty
(L1, elastic net, weighted L1, L2, weighted L2) is an elastic net with per-feature
L1 weights ``l1``, per-feature L2 weights ``l2`` and a lower bound ``lower`` on the
coefficients: 0 for a nonnegative model (``positive=True``), ``-inf`` otherwise.
The prox is then :math:`\max(S_{t_1}(x) / (1 + t_2), \mathrm{lower})`.
"""

import numpy as np
from numba import njit


@njit(cache=True, inline="always")
def soft_threshold(x, t):
    """``S_t(x) = sign(x) max(|x| - t, 0)``."""
    if x > t:
        return x - t
    if x < -t:
        return x + t
    return 0.0


@njit(cache=True, inline="always")
def prox_enet_scalar(x, t1, t2, lower):
    """``prox`` of ``t1 |.| + t2 / 2 (.)^2`` (+ the indicator of ``[lower, inf)``) at ``x``:
    ``max(S_t1(x) / (1 + t2), lower)`` (``lower`` is 0 or ``-inf``)."""
    return max(soft_threshold(x, t1) / (1.0 + t2), lower)


@njit(cache=True)
def prox_enet(z, l1, l2, step, n_outputs, lower):
    """Elastic-net prox of the flat coefficients ``z`` (length ``p * n_outputs``).

    Entry ``j * n_outputs + k`` uses the weights ``l1[j]`` and ``l2[j]``.
    """
    out = np.empty(z.shape[0])
    for j in range(l1.shape[0]):
        t1 = step * l1[j]
        t2 = step * l2[j]
        for k in range(n_outputs):
            i = j * n_outputs + k
            out[i] = prox_enet_scalar(z[i], t1, t2, lower)
    return out


@njit(cache=True)
def prox_enet_mask(z, l1, step, n_outputs, lower):
    """``1{|z_i| > step * l1[j]}`` (``1{z_i > step * l1[j]}`` when ``lower`` is 0): the
    element of the prox's conservative Jacobian.

    At the kink ``|z_i| = step * l1[j]`` the value 0 is chosen.
    """
    out = np.empty(z.shape[0])
    for j in range(l1.shape[0]):
        t1 = step * l1[j]
        for k in range(n_outputs):
            i = j * n_outputs + k
            x = z[i] if lower == 0.0 else abs(z[i])
            out[i] = 1.0 if x > t1 else 0.0
    return out
