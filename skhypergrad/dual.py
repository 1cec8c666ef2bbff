r"""Fixed-point maps of dual kernel problems, for the library's hypergradient engines.

:class:`KernelRidgeMap` is the gradient step on the dual of kernel ridge regression
(scikit-learn's :class:`~sklearn.kernel_ridge.KernelRidge`, no intercept): the dual
coefficients :math:`c` solve :math:`(K + \alpha I)\,c = y`, the fixed point of

.. math::

    \Phi(c, \lambda) = c - g\,\big((K + \alpha I)\,c - y\big), \qquad
    \lambda = [\alpha, \gamma],

with step :math:`g = 1 / (\lambda_{\max}(K) + \alpha)`. It declares ``prox_parts``
with the identity as its prox (:math:`\Delta = I`), so AID-CG solves the adjoint
system :math:`g\,(K + \alpha I)\,u = \nabla C` exactly (Cholesky, or CG on large
problems), and its Jacobians are

.. math::

    A = I - g\,(K + \alpha I), \qquad
    B = -g\,\big[c,\; \partial_\gamma K\, c\big].

The kernel :math:`K` is that of the width :math:`\gamma` the map was built at: ``lam``'s
second entry only names the direction of :math:`B`'s second column.
"""

import numpy as np

from .fixed_point import FixedPointMap, Linearization

__all__ = ["KernelRidgeMap"]


class KernelRidgeMap(FixedPointMap):
    r"""Gradient step on :math:`\frac12 c^T (K + \alpha I) c - y^T c` (module docstring).

    Parameters
    ----------
    K : ndarray of shape (n, n)
        Kernel of the training rows (symmetric positive semi-definite).
    y : ndarray of shape (n,)
        Training targets.
    dK : ndarray of shape (n, n), default=None
        :math:`\partial_\gamma K` (then ``n_hyper = 2``, ``lam = [alpha, gamma]``), or
        None for a kernel without a width (``lam = [alpha]``).
    alpha : float, default=None
        The ``alpha`` of :meth:`forward_step` (set by :meth:`bind`).
    step : float, default=None
        Step ``g``; ``1 / (lambda_max(K) + alpha)`` at the first ``alpha`` used when None
        (the fixed point and the implicit Jacobian do not depend on it, for any
        :math:`0 < g < 2 / (\lambda_{\max}(K) + \alpha)`).
    """

    prox_parts = True

    def __init__(self, K, y, dK=None, step=None, alpha=None):
        self.K = K
        self.alpha = alpha
        self.y = np.asarray(y, dtype=np.float64)
        self.dK = dK
        self._step = step
        self.n_params = K.shape[0]
        self.n_hyper = 1 if dK is None else 2

    def step_at(self, alpha):
        """The step ``g``: the given one, else :math:`1 / (\\lambda_{\\max}(K) + \\alpha)`."""
        if self._step is None:
            top = np.linalg.eigvalsh(self.K)[-1] if self.n_params else 0.0
            self._step = 1.0 / (max(float(top), 0.0) + alpha)
        return self._step

    def with_step(self, step):
        return KernelRidgeMap(self.K, self.y, self.dK, step, self.alpha)

    def bind(self, lam):
        """The map with ``alpha = lam[0]`` bound (for :meth:`forward_step`)."""
        return KernelRidgeMap(self.K, self.y, self.dK, self.step_at(float(lam[0])),
                              float(lam[0]))

    def _hessp(self, alpha, v):
        return self.K @ v + alpha * v

    # -- the five products ------------------------------------------------------------
    def _step_from(self, w, alpha):
        return w - self.step_at(alpha) * (self._hessp(alpha, w) - self.y)

    def forward_step(self, w, samples=None):
        """:math:`\\Psi(c) = c - g((K + \\alpha I)c - y)` at the bound ``alpha`` (see
        :meth:`bind`): the map itself, its prox being the identity."""
        return self._step_from(w, self.alpha)

    def forward_step_vjp(self, w, u, samples=None):
        """:math:`(\\partial_c \\Psi)^T u` at the bound ``alpha``."""
        return self.jvp_w(w, [self.alpha], u)

    def apply(self, w, lam):
        return self._step_from(w, float(lam[0]))

    def jvp_w(self, w, lam, v):
        alpha = float(lam[0])
        return v - self.step_at(alpha) * self._hessp(alpha, v)

    vjp_w = jvp_w  # A is symmetric

    def _dgamma(self, w):
        return self.dK @ w

    def jvp_lam(self, w, lam, e):
        g = self.step_at(float(lam[0]))
        out = -g * e[0] * w
        if self.n_hyper == 2:
            out = out - g * e[1] * self._dgamma(w)
        return out

    def vjp_lam(self, w, lam, u):
        g = self.step_at(float(lam[0]))
        out = [-g * float(w @ u)]
        if self.n_hyper == 2:
            out.append(-g * float(self._dgamma(w) @ u))
        return np.array(out)

    # -- the prox-gradient parts (the prox is the identity) ------------------------------
    def prox_jac_diag(self, z, lam):
        """All ones: the prox is the identity."""
        return np.ones(self.n_params)

    def prox_vjp_lam(self, z, lam, u):
        """Zero: the prox does not depend on ``lam``."""
        return np.zeros(self.n_hyper)

    def forward_step_vjp_lam(self, w, lam, u):
        return self.vjp_lam(w, lam, u)

    def linearize(self, w, lam, at_solution=False):
        """The products at ``(w, lam)``, with ``H = K + alpha I`` on subsets for AID-CG."""
        alpha = float(lam[0])
        g = self.step_at(alpha)

        def hessian_subset(idx):
            H = self.K[np.ix_(idx, idx)]
            H[np.diag_indices_from(H)] += alpha
            return H

        def hessp_subset(idx):
            K_ss = self.K[np.ix_(idx, idx)]
            return lambda u: K_ss @ u + alpha * u

        dKw = None if self.n_hyper == 1 else self._dgamma(w)

        def vjp_lam(u):
            out = [-g * float(w @ u)]
            if dKw is not None:
                out.append(-g * float(dKw @ u))
            return np.array(out)

        return Linearization(
            value=lambda: self.apply(w, lam),
            jvp_w=lambda v: self.jvp_w(w, lam, v),
            vjp_w=lambda u: self.vjp_w(w, lam, u),
            jvp_lam=lambda e: self.jvp_lam(w, lam, e),
            vjp_lam=vjp_lam,
            jac_diag=np.ones(self.n_params), step=g, hessp_subset=hessp_subset,
            hessian_subset=hessian_subset)
