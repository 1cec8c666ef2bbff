r"""Proximal gradient: ISTA and FISTA with adaptive restart.

ISTA iterates the map itself, :math:`w_{t+1} = \Phi(w_t, \lambda)`. FISTA
evaluates it at an extrapolated point,

.. math::

    w_{t+1} = \Phi(y_t), \quad t_{k+1} = \frac{1 + \sqrt{1 + 4t_k^2}}{2}, \quad
    y_{t+1} = w_{t+1} + \frac{t_k - 1}{t_{k+1}} (w_{t+1} - w_t),

and restarts the momentum (``t_k = 1``) whenever
:math:`(y_t - w_{t+1})^T (w_{t+1} - w_t) > 0` (O'Donoghue and Candes' gradient
scheme). Dense products go through BLAS; the prox is a numba kernel.
"""

from numbers import Integral

import numpy as np

from ._base import BaseSolver, SolveResult

__all__ = ["ProxGradient"]


class ProxGradient(BaseSolver):
    """ISTA / FISTA solver, stopping on the relative duality gap.

    Parameters
    ----------
    accelerated : bool, default=True
        FISTA (True) or plain ISTA (False).
    restart : bool, default=True
        Adaptive restart of the momentum (FISTA only).
    tol : float, default=1e-8
        Stop when the duality gap divided by the objective's scale (the datafit
        at ``w = 0``) is below ``tol``.
    max_iter : int, default=10_000
    check_every : int, default=10
        Iterations between two duality-gap evaluations (each costs one gradient).
    warn : bool, default=True
        Emit a ``ConvergenceWarning`` when ``max_iter`` is reached.
    """

    def __init__(self, accelerated=True, restart=True, tol=1e-8, max_iter=10_000,
                 check_every=10, warn=True):
        self.accelerated = accelerated
        self.restart = restart
        self.tol = tol
        self.max_iter = max_iter
        self.check_every = check_every
        self.warn = warn

    def check_params(self):
        """Raise a ValueError naming an invalid setting (see
        :meth:`BaseSolver.check_params <skhypergrad.solvers._base.BaseSolver.check_params>`)."""
        super().check_params()
        for name, low in (("max_iter", 0), ("check_every", 1)):
            value = getattr(self, name)
            if not isinstance(value, Integral) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}.")

    def _solve(self, pgmap, lam, w, reference=None):
        measure = self._stop_measure(pgmap, lam, w)
        if measure <= self.tol:
            return SolveResult(w, 0, measure, True)
        w_prev = w.copy()
        y = w.copy()
        t = 1.0
        for it in range(1, self.max_iter + 1):
            w_new = pgmap.apply(y, lam)
            if self.accelerated:
                if self.restart and np.dot(y - w_new, w_new - w_prev) > 0:
                    t = 1.0
                t_next = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * t * t))
                y = w_new + ((t - 1.0) / t_next) * (w_new - w_prev)
                t = t_next
            else:
                y = w_new
            w_prev = w_new
            if it % self.check_every == 0 or it == self.max_iter:
                measure = self._stop_measure(pgmap, lam, w_new)
                if measure <= self.tol:
                    return SolveResult(w_new, it, measure, True)
        return SolveResult(w_prev, self.max_iter, measure, False)
