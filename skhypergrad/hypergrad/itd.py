r"""Iterative differentiation (ITD): differentiate T steps of :math:`w_{t+1} = \Phi(w_t, \lambda)`.

The iterates are plain fixed-point (proximal-gradient, ISTA) steps, never
momentum steps: the derivative of heavy-ball or FISTA iterations of a
nonsmooth problem need not converge (products of their conservative Jacobians
can have spectral radius above 1), whereas every conservative Jacobian of a
contraction :math:`\Phi` has norm below 1, so :math:`J_t` converges to the
conservative Jacobian of the fixed point. ``tests/test_engines.py`` builds the
counterexample.

With :math:`A_t = \partial_w\Phi(w_t, \lambda)`, :math:`B_t = \partial_\lambda\Phi(w_t, \lambda)`
and :math:`w_0` independent of :math:`\lambda` (so :math:`J_0 = 0`), the chain
rule gives :math:`J_{t+1} = A_t J_t + B_t` for :math:`J_t = dw_t / d\lambda`,
and the hypergradient of :math:`C(w_T)` is :math:`J_T^T \nabla C(w_T)`.

* forward mode carries :math:`J_t` (one column per hyperparameter) alongside
  the iterates: memory independent of T, cost proportional to ``n_hyper``;
* reverse mode stores the T linearizations, then runs one backward pass

  .. math::

      v_T = \nabla C(w_T); \quad t = T-1, \dots, 0:\;
      h \mathrel{+}= B_t^T v_{t+1}, \; v_t = A_t^T v_{t+1},

  whose cost does not depend on ``n_hyper`` (weighted Lasso) but whose memory
  grows with T.

Both see only ``pgmap.linearize`` and work for any
:class:`~skhypergrad.fixed_point.FixedPointMap`.
"""

import numbers

import numpy as np

from ._base import BaseEngine, HypergradResult

__all__ = ["ITD"]


class ITD(BaseEngine):
    r"""Iterative differentiation through ``n_iter`` fixed-point steps.

    Starting from the ``w`` it is given (not a solution: ``needs_solution`` is
    False), the engine runs :math:`w_{t+1} = \Phi(w_t, \lambda)` for
    ``t < n_iter`` and returns :math:`J_T^T \nabla C(w_T)` with
    :math:`J_{t+1} = A_t J_t + B_t`, :math:`J_0 = 0` (see the module docstring
    for both modes). ``result.w`` is :math:`w_T`; the error of the
    hypergradient decays linearly in ``n_iter`` once the support of
    :math:`w_t` is identified.

    Parameters
    ----------
    n_iter : int, default=100
        Number of fixed-point steps T.
    mode : {"forward", "reverse"}, default="forward"
        Forward (piggyback) or reverse accumulation; same result up to rounding.
    """

    needs_solution = False

    def __init__(self, n_iter=100, mode="forward"):
        self.n_iter = n_iter
        self.mode = mode

    def hypergradient(self, pgmap, lam, w, outer_grad, state=None):
        """Hypergradient of ``C(w_T)`` with respect to ``lam``; ``state`` is ignored.

        Parameters
        ----------
        pgmap : FixedPointMap
            The map :math:`\\Phi`.
        lam : ndarray of shape (n_hyper,)
            Hyperparameters.
        w : ndarray of shape (n_params,) or None
            Starting point :math:`w_0` (zeros when None).
        outer_grad : callable
            ``w -> grad C(w)``.
        state : None
            Unused (ITD has nothing to warm start).

        Returns
        -------
        HypergradResult
            ``grad`` is :math:`J_T^T\\nabla C(w_T)`, ``w`` is :math:`w_T`,
            ``state`` None, ``n_iter`` T, ``residual`` nan.
        """
        if not isinstance(self.n_iter, numbers.Integral) or self.n_iter < 0:
            raise ValueError(f"n_iter must be a non-negative integer, got {self.n_iter!r}.")
        if self.mode not in ("forward", "reverse"):
            raise ValueError(f"mode must be 'forward' or 'reverse', got {self.mode!r}.")
        lam = np.atleast_1d(np.asarray(lam, dtype=np.float64))
        w = np.zeros(pgmap.n_params) if w is None else np.array(w, dtype=np.float64)
        run = _forward if self.mode == "forward" else _reverse
        grad, w = run(pgmap, lam, w, outer_grad, int(self.n_iter))
        return HypergradResult(grad, w, None, int(self.n_iter), np.nan)


def _forward(pgmap, lam, w, outer_grad, n_iter):
    """``J_{t+1} = A_t J_t + B_t`` column by column; returns ``(J_T^T grad C(w_T), w_T)``."""
    eye = np.eye(lam.shape[0])
    J = np.zeros((w.shape[0], lam.shape[0]))
    for _ in range(n_iter):
        lin = pgmap.linearize(w, lam)
        J = np.column_stack([lin.jvp_w(J[:, j]) + lin.jvp_lam(eye[j])
                             for j in range(lam.shape[0])])
        w = lin.value
    return J.T @ outer_grad(w), w


def _reverse(pgmap, lam, w, outer_grad, n_iter):
    """Store the linearizations, then ``h += B_t^T v; v = A_t^T v`` backwards."""
    tape = []
    for _ in range(n_iter):
        lin = pgmap.linearize(w, lam)
        tape.append(lin)
        w = lin.value
    v = outer_grad(w)
    h = np.zeros(lam.shape[0])
    for t in range(n_iter - 1, -1, -1):
        h += tape[t].vjp_lam(v)
        if t > 0:  # v_0 is not needed
            v = tape[t].vjp_w(v)
        tape[t] = None  # free memory as the backward pass proceeds
    return h, w
