r"""Generalized linear models with the log link: Poisson, Gamma and Tweedie datafits.

With predictions :math:`z = Xw + b` and means :math:`\mu = e^z`, each datafit is
the mean *half* deviance

.. math::

    F(w) = \frac1n \sum_i \ell(y_i, z_i), \qquad \ell(y, z) = \tfrac12\,d(y, e^z),

so that :math:`F + \frac{\alpha}{2}\|w\|^2` is the objective of scikit-learn's
:class:`~sklearn.linear_model.PoissonRegressor`, :class:`~sklearn.linear_model.GammaRegressor`
and :class:`~sklearn.linear_model.TweedieRegressor` (``link="log"``), with
``lam = [alpha]`` and the :class:`~skhypergrad.penalties.L2` penalty. The
deviances :math:`d` (Tweedie power :math:`p`):

==============================  =======================================================
datafit                         :math:`\ell(y, z)`, :math:`\mu = e^z`
==============================  =======================================================
:class:`Poisson` (p = 1)        :math:`y\log y - y - yz + \mu`
:class:`Gamma` (p = 2)          :math:`z - \log y + y/\mu - 1`
:class:`Tweedie` (1 < p < 2)    :math:`\frac{y^{2-p}}{(1-p)(2-p)} - \frac{y\mu^{1-p}}{1-p}
                                + \frac{\mu^{2-p}}{2-p}`
==============================  =======================================================

The targets are ``y >= 0`` with a positive mean (Poisson, Tweedie), ``y > 0``
(Gamma). Only :math:`1 \le p \le 2` is offered: with the log link, the half
deviance is convex in :math:`z` exactly there (its second derivative
:math:`(2-p)\mu^{2-p} + (p-1)y\mu^{1-p}`), which the duality gap the solvers stop
on and the implicit differentiation of the solution need.

**The contract** (:mod:`skhypergrad.datafits`): a diagonal Newton model
(``h_i = \ell''(y_i, z_i)``, coordinate descent's proximal Newton steps), the null
model :math:`b = \log\bar y` (the mean of the targets: every power's first-order
condition at a constant prediction), the Fenchel conjugate for the duality gap
(closed forms for Poisson and Gamma, a one-dimensional root for Tweedie), and the
held-out losses: the mean deviance (``"poisson"``, ``"gamma"``, ``"tweedie"``,
scikit-learn's ``mean_poisson_deviance``, ``mean_gamma_deviance``,
``mean_tweedie_deviance``), or the squared error.

**Curvature.** :math:`\ell''` grows as :math:`\mu^{2-p}` (or as :math:`y/\mu`
for the Gamma as :math:`\mu \to 0`): there is no global bound, so these datafits
declare ``curvature = None`` and give :meth:`~_LogLinkDatafit.data_curvature`,
the largest :math:`\ell''` over the samples at the saturated means
:math:`\mu_i = y_i` and at the null model :math:`\mu_i = \bar y`. It sets the
step :math:`1/L` of the proximal-gradient map (FISTA, ITD, AID-FP; SAGA's step),
and the scales of coordinate descent's scores, of the relative duality gap's
intercept term and of the search's L2 weights (:mod:`skhypergrad._search_space`).
It is not a bound: a solver or engine whose steps it makes too long for the
curvature at the iterates does not converge and says so with a
``ConvergenceWarning`` (the gap, the fixed-point residual); coordinate descent,
the default solver, takes Newton steps with a line search and does not depend on
it, nor does AID-CG.
"""

import numpy as np
from scipy.special import xlogy

from ._outer_loss import register_outer_loss
from ._datafit_contract import BaseDatafit, register_datafit
from ._sample_weight import per_weight, weighted_mean

__all__ = ["Poisson", "Gamma", "Tweedie"]


class _LogLinkDatafit(BaseDatafit):
    r"""Shared parts of the log-link GLM datafits of power ``power`` (see the module)."""

    curvature = None
    newton_model = "diagonal"
    #: the minibatch kernels' log-link Tweedie code, of parameter ``power``
    kernel_code = 4
    smooth_hessian = True
    rowwise_grad = True
    power = None
    accepts_sample_weight = True

    def kernel_params(self):
        return np.array([self.power])

    def _check_targets(self, y):
        y = np.asarray(y, dtype=np.float64)
        if not np.all(np.isfinite(y)):
            raise ValueError(f"{type(self).__name__} datafit needs finite targets y.")
        return y

    def encode(self, y):
        y = self._check_targets(y)
        if y.size and (np.min(y) < 0.0 or not np.sum(y) > 0.0):
            raise ValueError(f"{type(self).__name__} datafit needs targets y >= 0 with a "
                             f"positive mean (log link), got min {np.min(y):g} and mean "
                             f"{np.mean(y):g}.")
        return y

    def intercept_only(self, y):
        return np.array([np.log(np.mean(y))])

    def raw_hessp(self, y, z, dz):
        return self._second(y, z) * dz / y.shape[0]

    def data_curvature(self, y):
        r"""``max_i l''(y_i, z)`` over the saturated means ``mu_i = y_i`` (where ``y_i > 0``)
        and the null model's ``mu = mean(y)``; 1.0 when that is not positive."""
        ybar = float(np.mean(y))
        c = float(np.max(self._second(y, np.full(y.shape, np.log(ybar))), initial=0.0))
        pos = y > 0
        if pos.any():
            c = max(c, float(np.max(self._second(y[pos], np.log(y[pos])))))
        return c if c > 0 and np.isfinite(c) else 1.0

    def __repr__(self):
        return f"{type(self).__name__}()"


@register_datafit
class Poisson(_LogLinkDatafit):
    r"""Poisson half deviance :math:`\frac1n\sum_i y_i\log y_i - y_i - y_i z_i + e^{z_i}`."""

    name = "poisson"
    power = 1.0
    outer_losses = ("poisson", "squared")

    def loss(self, y, z, sample_weight=None):
        return weighted_mean(xlogy(y, y) - y - y * z + np.exp(z), sample_weight)

    def raw_grad(self, y, z):
        return (np.exp(z) - y) / y.shape[0]

    def _second(self, y, z):
        return np.exp(z)

    def dual_term(self, y, theta, sample_weight=None):
        r"""With :math:`a_i = y_i - n\theta_i / s_i \ge 0`:
        :math:`-\frac1n\sum_i s_i (a_i\log a_i - a_i - y_i\log y_i + y_i)`
        (:math:`-\infty` outside the domain)."""
        n = y.shape[0]
        a = y - n * per_weight(theta, sample_weight)
        if np.any(a < 0):
            return -np.inf
        return -weighted_mean(xlogy(a, a) - a - xlogy(y, y) + y, sample_weight)


@register_datafit
class Gamma(_LogLinkDatafit):
    r"""Gamma half deviance :math:`\frac1n\sum_i z_i - \log y_i + y_i e^{-z_i} - 1`."""

    name = "gamma"
    power = 2.0
    outer_losses = ("gamma", "squared")

    def encode(self, y):
        y = self._check_targets(y)
        if y.size and np.min(y) <= 0.0:
            raise ValueError(f"Gamma datafit needs targets y > 0, got min {np.min(y):g}.")
        return y

    def loss(self, y, z, sample_weight=None):
        return weighted_mean(z - np.log(y) + y * np.exp(-z) - 1.0, sample_weight)

    def raw_grad(self, y, z):
        return (1.0 - y * np.exp(-z)) / y.shape[0]

    def _second(self, y, z):
        return y * np.exp(-z)

    def dual_term(self, y, theta, sample_weight=None):
        r"""With :math:`m_i = 1 + n\theta_i / s_i > 0`:
        :math:`-\frac1n\sum_i s_i (m_i\log m_i - m_i + 1 - (m_i - 1)\log y_i)`
        (:math:`-\infty` outside the domain)."""
        n = y.shape[0]
        m = 1.0 + n * per_weight(theta, sample_weight)
        if np.any(m <= 0):
            return -np.inf
        return -weighted_mean(xlogy(m, m) - m + 1.0 - (m - 1.0) * np.log(y), sample_weight)


#: at most this many safeguarded Newton steps for Tweedie's conjugate point (each at worst
#: halves the bracket, whose log-width is below 1500: enough for a bisection to converge)
_CONJUGATE_MAX_STEPS = 100
_EPS4 = 4.0 * np.finfo(float).eps


@register_datafit
class Tweedie(_LogLinkDatafit):
    r"""Tweedie half deviance of power ``1 < power < 2`` (compound Poisson-Gamma), log link.

    :math:`\ell(y, z) = \frac{y^{2-p}}{(1-p)(2-p)} - \frac{y e^{(1-p)z}}{1-p}
    + \frac{e^{(2-p)z}}{2-p}`; powers 1 and 2 are :class:`Poisson` and :class:`Gamma`.

    Parameters
    ----------
    power : float in (1, 2), default=1.5
    """

    name = "tweedie"
    outer_losses = ("tweedie", "squared")

    def __init__(self, power=1.5):
        power = float(power)
        if not 1.0 < power < 2.0:
            raise ValueError(f"Tweedie datafit needs 1 < power < 2 (1: Poisson, 2: Gamma; "
                             f"outside [1, 2] the log-link deviance is not convex), got "
                             f"power={power!r}.")
        self.power = power

    def loss(self, y, z, sample_weight=None):
        p = self.power
        return weighted_mean(y ** (2 - p) / ((1 - p) * (2 - p)) - y * np.exp((1 - p) * z)
                             / (1 - p) + np.exp((2 - p) * z) / (2 - p), sample_weight)

    def raw_grad(self, y, z):
        p = self.power
        return (np.exp((2 - p) * z) - y * np.exp((1 - p) * z)) / y.shape[0]

    def _second(self, y, z):
        p = self.power
        return (2 - p) * np.exp((2 - p) * z) + (p - 1) * y * np.exp((1 - p) * z)

    def dual_term(self, y, theta, sample_weight=None):
        r""":math:`-\frac1n\sum_i s_i (a_i u_i - \ell(y_i, u_i))`, :math:`a_i = -n\theta_i / s_i`,
        ``u_i`` the root of :math:`\ell'(y_i, u) = a_i` (:math:`-\infty` where there is
        none: ``y_i = 0`` and :math:`a_i \le 0`)."""
        n = y.shape[0]
        a = -n * per_weight(theta, sample_weight)
        if np.any((y <= 0) & (a <= 0)):
            return -np.inf
        u = self._conjugate_point(y, a)
        p = self.power
        ell = (y ** (2 - p) / ((1 - p) * (2 - p)) - y * np.exp((1 - p) * u) / (1 - p)
               + np.exp((2 - p) * u) / (2 - p))
        return -weighted_mean(a * u - ell, sample_weight)

    def _conjugate_point(self, y, a):
        r"""``u = log t`` with :math:`t^{1-p}(t - y) = a` (increasing in ``t > 0``): bracketed
        in log-space, then safeguarded Newton steps on
        :math:`\phi(u) = e^{(2-p)u} - y e^{(1-p)u} - a` (increasing, :math:`\phi' > 0`):
        each step shrinks the bracket by the sign of :math:`\phi` and bisects it where the
        Newton point falls outside, until every Newton step is below a few ulps of ``u``
        and of the rounding error of :math:`\phi(u)` (quadratic convergence: about 6
        steps instead of the 80 of a bisection)."""
        p = self.power
        q = 1.0 / (2.0 - p)
        pos = np.maximum(a, 0.0)
        with np.errstate(divide="ignore", over="ignore"):
            # a >= 0: max(y, a^q) <= t <= max(2y, (2a)^q); a < 0: lo <= t <= y
            lo = np.where(a >= 0, np.maximum(y, pos ** q),
                          np.minimum(y / 2, (y / (2 * np.maximum(-a, 1e-300)))
                                     ** (1.0 / (p - 1.0))))
            hi = np.where(a >= 0, np.maximum(2 * y, (2 * pos) ** q), y)
            lo, hi = np.log(np.maximum(lo, 1e-300)), np.log(np.maximum(hi, 1e-300))

        u = 0.5 * (lo + hi)
        for _ in range(_CONJUGATE_MAX_STEPS):
            e2, e1 = np.exp((2 - p) * u), y * np.exp((1 - p) * u)
            f = e2 - e1 - a
            slope = np.maximum((2 - p) * e2 + (p - 1) * e1, 1e-300)
            step = f / slope
            # converged: every step below a few ulps of u plus the rounding of f
            if np.all(np.abs(step) <= _EPS4 * (np.maximum(np.abs(u), 1.0)
                                               + (e2 + e1 + np.abs(a)) / slope)):
                break
            below = f < 0
            lo, hi = np.where(below, u, lo), np.where(below, hi, u)
            new = u - step
            u = np.where((new >= lo) & (new <= hi), new, 0.5 * (lo + hi))
        return u

    def __repr__(self):
        return f"Tweedie(power={self.power!r})"


# the held-out losses: the mean deviance, twice the mean half deviance of the model's datafit
register_outer_loss("poisson", lambda datafit: (Poisson(), 2.0))
register_outer_loss("gamma", lambda datafit: (Gamma(), 2.0))
register_outer_loss("tweedie", lambda datafit: (datafit, 2.0))
