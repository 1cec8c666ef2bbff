r"""NSID's error model: the minibatch Jacobian noise, the contraction factor, and the
predicted error of the adjoint after ``K`` steps, from which
:class:`~skhypergrad.hypergrad.nsid.NSID` sets its step sizes and its number of samples
(the derivation is in :mod:`skhypergrad.hypergrad.nsid`).
"""

import numpy as np

from .._design import Design
from ..fixed_point import ProxGradMap
from ._contraction import contraction_factor, contraction_off_invariances

__all__ = ["jacobian_noise", "predicted_error"]

#: largest number of parameters for which the small symmetric matrix of the Jacobian
#: noise is formed densely rather than iterated on
_DENSE_MAX = 512


def jacobian_noise(pgmap, batch_size, max_rows=10_000, n_iter=20):
    r"""Variance :math:`\sigma^2` of a minibatch Jacobian product, from above.

    For ``b`` rows drawn uniformly with replacement and per-sample Hessians
    :math:`h_i \preceq c\,\tilde x_i \tilde x_i^T` (``c`` the map's curvature: the
    datafit's bound, or its curvature at the data for a datafit without one;
    :math:`\tilde x_i` the row with a 1 for the intercept),

    .. math::

        \mathbb{E}\,\|g(\hat H_\xi - H) u\|^2 \le \frac{g^2}{b}\,\mathbb{E}_i\|h_i u\|^2
        \le \frac{g^2 c^2}{b}\,\lambda_{\max}\Big(\frac1n\sum_i \|\tilde x_i\|^2
        \tilde x_i \tilde x_i^T\Big)\,\|u\|^2 .

    The largest eigenvalue is computed on at most ``max_rows`` evenly spaced
    rows (a deterministic subsample): exactly, from the matrix formed densely,
    with at most 512 parameters (one pass over the subsample); else estimated by
    ``n_iter`` power iterations. Returns 0.0 for a map other than a
    :class:`~skhypergrad.fixed_point.ProxGradMap` (no bound is then known and none
    is used).

    Parameters
    ----------
    pgmap : ProxGradMap
        The map (``design``, ``datafit``, ``step``, ``curvature``).
    batch_size : int
        Rows per minibatch.
    max_rows : int, default=10_000
        Rows of the subsample.
    n_iter : int, default=20
        Power iterations (more than 512 parameters).

    Returns
    -------
    sigma2 : float
    """
    if not isinstance(pgmap, ProxGradMap):
        return 0.0
    design = pgmap.design
    n = design.n_samples
    if n > max_rows:
        design = design.take_rows(np.linspace(0, n - 1, max_rows).astype(int))
    fi = design.fit_intercept
    weights = design.row_squared_norms() + fi
    one = Design(design.X, fi, 1, design.offset)  # the coefficients of one output
    n_rows, p = design.X.shape
    g, c = pgmap.step, pgmap.curvature
    if p + fi <= _DENSE_MAX:
        lam_max = np.linalg.eigvalsh(one.weighted_gram(weights))[-1] / n_rows
        return float(g * g * c * c * max(lam_max, 0.0) / batch_size)

    def matvec(u):
        return one.rmatvec(weights * one.matvec(u))

    u = np.ones(p + fi) / np.sqrt(p + fi)
    lam_max = 0.0
    for _ in range(n_iter):
        x = matvec(u)
        lam_max = float(np.linalg.norm(x))
        if lam_max == 0.0:
            break
        u = x / lam_max
    lam_max /= n_rows
    return float(g * g * c * c * lam_max / batch_size)


def predicted_error(n_samples, contraction, sigma2, beta, gamma, step_schedule="decreasing"):
    r"""Predicted relative root-mean-square error of NSID's adjoint after ``n_samples`` steps.

    :math:`\sqrt{\mathbb{E}\|v_K - v^*\|^2} / \|v^*\|` from :math:`v_0 = 0`
    (see :mod:`skhypergrad.hypergrad.nsid` for the derivation): with :math:`\mu = 1 - q`,
    :math:`s = 2\beta\mu`, :math:`\rho = \gamma / (\gamma + K)`,

    .. math::

        r_K = \rho^{\,s} + \frac{\beta^2\sigma^2}{(s - 1)(\gamma + K)}\,
        \big(1 - \rho^{\,s-1}\big)

    for the decreasing steps :math:`\eta_k = \beta / (\gamma + k)`, and
    :math:`r_K = a^K + \eta^2\sigma^2(1 - a^K)/(1 - a)`, :math:`a = (1 - \eta\mu)^2`,
    for the constant step :math:`\eta = \beta / \gamma`; returns :math:`\sqrt{r_K}`.

    Parameters
    ----------
    n_samples : int or ndarray of int
        Number K of stochastic steps.
    contraction : float
        Contraction factor ``q`` in [0, 1).
    sigma2 : float
        Minibatch Jacobian noise :math:`\sigma^2` (:func:`jacobian_noise`).
    beta, gamma : float
        Step-size constants.
    step_schedule : {"decreasing", "constant"}, default="decreasing"

    Returns
    -------
    error : float or ndarray
    """
    K = np.asarray(n_samples, dtype=np.float64)
    mu = 1.0 - float(contraction)
    if step_schedule == "constant":
        eta = beta / gamma
        a = (1.0 - eta * mu) ** 2
        decay = a ** K
        floor = eta * eta * sigma2 / (1.0 - a) if a < 1.0 else np.inf
        r = decay + floor * (1.0 - decay)
    else:
        s = 2.0 * beta * mu
        rho = gamma / (gamma + K)
        if abs(s - 1.0) > 1e-9:
            noise = beta * beta * sigma2 / ((s - 1.0) * (gamma + K)) * (1.0 - rho ** (s - 1.0))
        else:
            noise = beta * beta * sigma2 * np.log(1.0 / rho) / (gamma + K)
        r = rho ** s + noise
    r = np.sqrt(r)
    return float(r) if r.ndim == 0 else r


def _samples_for(tol, max_samples, *constants):
    """``(K, error)``: the smallest K (to 2%) with ``predicted_error(K) <= tol``, at most
    ``max_samples``; else the smallest K whose error is within 1% of the smallest
    predicted up to ``max_samples``."""
    grid = np.unique(np.append(np.geomspace(1, max_samples, int(np.log(max_samples) / 0.02) + 2)
                               .astype(np.int64), max_samples))
    grid = grid[grid >= 1]
    errors = predicted_error(grid, *constants)
    bad = np.flatnonzero(~(errors <= tol))
    if bad.shape[0] == 0:
        k = 0
    elif bad[-1] + 1 < grid.shape[0]:  # from there on every K reaches tol
        k = bad[-1] + 1
    else:
        k = int(np.flatnonzero(errors <= 1.01 * np.nanmin(errors))[0])
    return int(grid[k]), float(errors[k])


def _estimate_contraction(pgmap, lam, w, max_rows=10_000):
    r"""Contraction factor, on at most ``max_rows`` evenly spaced rows of a ProxGradMap.

    It only sets the step sizes, so the Hessian of a deterministic subsample
    (same step ``g``) is accurate enough and keeps the cost independent of n.
    Directions along which the loss is invariant (eigenvalue 1 to rounding,
    e.g. the multinomial's shift of every class) are left out: the adjoint
    does not move along them (see
    :func:`~skhypergrad.hypergrad._contraction.contraction_off_invariances`).
    """
    n = pgmap.n_samples
    if not isinstance(pgmap, ProxGradMap):
        return contraction_factor(pgmap, lam, w)
    if n > max_rows:
        rows = np.linspace(0, n - 1, max_rows).astype(np.intp)
        pgmap = ProxGradMap.on_design(pgmap.datafit, pgmap.penalty, pgmap.design.take_rows(rows),
                                      pgmap.y[rows], step=pgmap.step)
    return contraction_off_invariances(pgmap, lam, w)
