r"""Duality gap of ``min_w F(Xw + b) + sum_j l1_j |w_j| + l2/2 ||w||^2``.

With the intercept ``b`` held at its current value, the Fenchel dual is

.. math::

    D(\theta) = -\sum_i f_i^*(-\theta_i) - b^T \sum_i \theta_i - G^*(X^T\theta),
    \qquad \theta = -\nabla_z F(Xw + b),

with :math:`G^*(u) = \sum_j \max(|u_j| - l1_j, 0)^2 / (2\,l2)` when ``l2 > 0``;
for ``l2 = 0`` the point :math:`\theta` is rescaled into the dual feasible set
:math:`|X_j^T\theta| \le l1_j` (a rescaled :math:`\theta` stays in the domain
of every datafit here). The gap bounds the suboptimality in ``w`` for that
``b``; solvers pair it with the intercept's gradient, which is zero at the
optimal ``b`` (and exactly zero for least squares after an intercept update).
"""

import numpy as np


def duality_gap(pgmap, w, lam, z=None):
    """``(primal, dual, gap, grad_intercept_norm)`` at ``w``.

    ``pgmap`` is a :class:`~skhypergrad.fixed_point.ProxGradMap`; ``z`` the
    predictions ``Xw + b`` when already known.
    """
    design, datafit, penalty, y = pgmap.design, pgmap.datafit, pgmap.penalty, pgmap.y
    p, K = design.n_features, design.n_outputs
    l1, l2 = penalty.weights(lam, p)
    if z is None:
        z = design.matvec(w)
    theta = -datafit.raw_grad(y, z)
    u = np.asarray(design.X.T @ theta)
    coef = design.coef(w)
    primal = datafit.loss(y, z) + penalty.value(coef, lam)
    grad_b = float(np.max(np.abs(theta.sum(axis=0)))) if design.fit_intercept else 0.0
    au = np.abs(u) if K == 1 else np.abs(u).max(axis=1)
    if l2 > 0:
        excess = np.maximum(np.abs(u) - (l1 if K == 1 else l1[:, None]), 0.0)
        g_star = float(np.sum(excess ** 2)) / (2.0 * l2)
        scale = 1.0
    else:
        g_star = 0.0
        with np.errstate(divide="ignore", invalid="ignore"):
            ratios = np.where(au > l1, l1 / au, 1.0)
        scale = float(min(1.0, ratios.min(initial=1.0)))
        theta = scale * theta
    sum_theta = theta.sum(axis=0)
    b = design.intercept(w)
    dual = datafit.dual_term(y, theta) - float(np.sum(b * sum_theta)) - g_star
    return primal, dual, primal - dual, grad_b


def gap_scale(pgmap):
    """The objective's scale for relative tolerances: ``F`` at ``w = 0`` (at least 1e-12)."""
    y = pgmap.y
    zero = np.zeros((y.shape[0], pgmap.design.n_outputs)) if pgmap.design.n_outputs > 1 \
        else np.zeros(y.shape[0])
    return max(pgmap.datafit.loss(y, zero), 1e-12)
