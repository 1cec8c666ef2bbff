r"""Iterative differentiation (ITD): differentiate the steps :math:`w_{t+1} = \Phi(w_t, \lambda)`.

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
* reverse mode stores the linearizations, then runs one backward pass

  .. math::

      v_T = \nabla C(w_T); \quad t = T-1, \dots, 0:\;
      h \mathrel{+}= B_t^T v_{t+1}, \; v_t = A_t^T v_{t+1},

  whose cost does not depend on ``n_hyper`` (weighted Lasso). Its memory is
  bounded by checkpointing: at most ``max_tape`` consecutive linearizations
  are kept; the iterates that start the earlier segments of ``max_tape``
  steps are kept instead (one vector each) and each segment is linearized
  again when the backward pass reaches it. Memory: ``max_tape``
  linearizations (each about ``n_samples + 3 n_params`` floats for a
  :class:`~skhypergrad.fixed_point.ProxGradMap`) plus ``T / max_tape``
  iterates; cost: one more forward pass over all but the last segment.

How many steps. ``ITD(n_iter=T)`` runs exactly T steps (the fixed-T
variant of the literature: it differentiates what T steps produce, and does
not warn). With ``n_iter=None`` (the default, what the names ``"itd"`` and
``"itd-reverse"`` build) it runs until the iterates and their derivative have
converged: the first t with

.. math::

    \|w_{t+1} - w_t\| \le \mathrm{tol}\,\|w_{t+1}\| + \rho_t \quad\text{and}\quad
    \|J_{t+1} - J_t\|_F \le \mathrm{tol}\,\max_{s \le t+1}\|J_s\|_F

where :math:`\rho_t` is the map's estimate of the rounding error of
:math:`w_{t+1} = \Phi(w_t, \lambda)` (the ``rounding`` of its
:class:`~skhypergrad.fixed_point.Linearization`, 0 for a map that declares none),
below which a step cannot be told from zero. It matters where the iterates are
themselves rounding errors, as at a zero solution (a Lasso above
:math:`\lambda_{max}`, whose centred intercept is a mean of residuals that
cancel): a step relative to :math:`\|w_{t+1}\|` would compare one rounding
error with another and never fall below ``tol``. Elsewhere :math:`\rho_t` is
far below :math:`\mathrm{tol}\,\|w_{t+1}\|`. The Jacobian's steps are relative
to the largest Jacobian seen rather than to :math:`\|J_{t+1}\|_F`, so that a
Jacobian that decays to zero, as when every coefficient ends at zero while
the intercept converges, has converged too. Reverse mode, which has
no :math:`J_t` during the forward pass, tracks the tangent
:math:`J_t\lambda` (the derivative along
:math:`\lambda(1 + s)`, i.e. along all log-hyperparameters at once; one more
Jacobian-vector product per step) in place of :math:`J_t`. Both tests matter:
started from a warm start near the solution, the iterates converge at once
while :math:`J_t` (from :math:`J_0 = 0`) still needs
:math:`\approx\log(\mathrm{tol})/\log(q)` steps, :math:`q` the contraction
factor. Since both decay linearly at rate :math:`q` after the support is
identified, the error at the stop is at most about :math:`\mathrm{tol}\,q/(1 - q)`
(relative). At ``max_iter`` steps without convergence the engine warns
(:class:`~sklearn.exceptions.ConvergenceWarning`) with the last relative steps
and the contraction factor.

Both modes see only ``pgmap.linearize`` and work for any
:class:`~skhypergrad.fixed_point.FixedPointMap`.
"""

import numbers
from collections import deque

import numpy as np

from ._base import BaseEngine, HypergradResult, empirical_rate, relative_step, warn_not_converged
from ._contraction import convergence_rate

__all__ = ["ITD"]

#: relative steps kept for the empirical rate of a warning (maps without a contraction factor)
_RATE_WINDOW = 10


class ITD(BaseEngine):
    r"""Iterative differentiation through fixed-point steps, to ``tol`` or for ``n_iter`` steps.

    Starting from the ``w`` it is given (not a solution: ``needs_solution`` is
    False), the engine runs :math:`w_{t+1} = \Phi(w_t, \lambda)` and returns
    :math:`J_T^T \nabla C(w_T)` with :math:`J_{t+1} = A_t J_t + B_t`,
    :math:`J_0 = 0` (see the module docstring for both modes, the stopping rule
    and the memory of reverse mode). ``result.w`` is :math:`w_T`, at which a
    criterion takes its value.

    Parameters
    ----------
    n_iter : int or None, default=None
        Number of steps T, run exactly (no warning); None runs until the
        relative steps of :math:`w_t` and of :math:`J_t` (reverse mode: of the
        tangent :math:`J_t\lambda`) are at most ``tol``, up to ``max_iter`` steps.
    mode : {"forward", "reverse"}, default="forward"
        Forward (piggyback) or reverse accumulation; same result up to rounding
        for the same T.
    tol : float, default=1e-10
        Relative step at which to stop (``n_iter=None``).
    max_iter : int, default=10_000
        Largest number of steps (``n_iter=None``); reaching it without
        convergence raises a :class:`~sklearn.exceptions.ConvergenceWarning`.
    max_tape : int, default=100
        Reverse mode: largest number of linearizations kept at once (see the
        module docstring); longer runs are checkpointed.
    """

    needs_solution = False

    def __init__(self, n_iter=None, mode="forward", tol=1e-10, max_iter=10_000, max_tape=100):
        self.n_iter = n_iter
        self.mode = mode
        self.tol = tol
        self.max_iter = max_iter
        self.max_tape = max_tape

    def check_params(self):
        """Raise a ValueError naming an invalid setting (see :meth:`BaseEngine.check_params
        <skhypergrad.hypergrad._base.BaseEngine.check_params>`)."""
        if self.n_iter is not None and (not isinstance(self.n_iter, numbers.Integral)
                                        or self.n_iter < 0):
            raise ValueError(f"n_iter must be None or a non-negative integer, got "
                             f"{self.n_iter!r}.")
        if self.mode not in ("forward", "reverse"):
            raise ValueError(f"mode must be 'forward' or 'reverse', got {self.mode!r}.")
        if not isinstance(self.tol, numbers.Real) or not self.tol >= 0:
            raise ValueError(f"tol must be a non-negative number, got {self.tol!r}.")
        for name in ("max_iter", "max_tape"):
            value = getattr(self, name)
            if not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}.")

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
            ``state`` None, ``n_iter`` T, ``residual`` the last relative step:
            the larger of the iterate's (less the map's rounding of it) and the
            Jacobian's (reverse mode: the tangent's, not tracked with a fixed
            ``n_iter``: the iterate's alone).
        """
        self.check_params()
        lam = np.atleast_1d(np.asarray(lam, dtype=np.float64))
        w = np.zeros(pgmap.n_params) if w is None else np.array(w, dtype=np.float64)
        fixed = self.n_iter is not None
        budget = int(self.n_iter) if fixed else int(self.max_iter)
        tol = -1.0 if fixed else float(self.tol)  # a fixed T runs to the end
        if self.mode == "forward":
            grad, w, steps = _forward(pgmap, lam, w, outer_grad, budget, tol)
        else:
            grad, w, steps = _reverse(pgmap, lam, w, outer_grad, budget, tol,
                                      int(self.max_tape), track_tangent=not fixed)
        residual = steps.residual
        if not fixed and not residual <= self.tol:
            name, rate = convergence_rate(pgmap, lam, w,
                                          lambda: empirical_rate(steps.history))
            warn_not_converged(
                f"ITD ({self.mode} mode)", steps.n_iter, "steps", residual, self.tol, rate, name,
                "Increase max_iter or tol, or use 'aid-cg' (implicit differentiation at "
                "the solution).")
        return HypergradResult(grad, w, None, int(steps.n_iter), float(residual))


class _Steps:
    """Relative steps of an ITD run: the last one, the last few (for a rate), the count,
    and the largest norm of the Jacobian (or tangent) seen, which its steps are divided by.
    The iterate's step is taken less the rounding error ``rho`` of the new iterate."""

    def __init__(self):
        self.n_iter = 0
        self.residual = np.nan
        self.history = deque(maxlen=_RATE_WINDOW)
        self.jacobian_scale = 0.0

    def record(self, w, w_new, rho, J=None, J_new=None):
        """The relative step of ``w``, less ``rho`` (and of ``J``, relative to the largest
        ``J`` seen)."""
        step = max(float(np.linalg.norm(w_new - w)) - rho, 0.0)
        r = relative_step(step, np.linalg.norm(w_new))
        if J_new is not None:
            self.jacobian_scale = max(self.jacobian_scale, float(np.linalg.norm(J_new)))
            r = max(r, relative_step(np.linalg.norm(J_new - J), self.jacobian_scale))
        self.n_iter += 1
        self.residual = r
        self.history.append(r)
        return r


def _forward(pgmap, lam, w, outer_grad, budget, tol):
    """``J_{t+1} = A_t J_t + B_t`` column by column, at most ``budget`` steps, stopped when
    the relative steps of ``w`` and ``J`` are both ``<= tol``; ``(J_T^T grad C(w_T), w_T,
    steps)``."""
    eye = np.eye(lam.shape[0])
    J = np.zeros((w.shape[0], lam.shape[0]))
    steps = _Steps()
    for _ in range(budget):
        lin = pgmap.linearize(w, lam)
        J_new = np.column_stack([lin.jvp_w(J[:, j]) + lin.jvp_lam(eye[j])
                                 for j in range(lam.shape[0])])
        w_new = lin.value
        r = steps.record(w, w_new, lin.rounding, J, J_new)
        w, J = w_new, J_new
        if r <= tol:
            break
    return J.T @ outer_grad(w), w, steps


def _reverse(pgmap, lam, w, outer_grad, budget, tol, max_tape, track_tangent):
    """Forward pass (at most ``budget`` steps; with ``track_tangent``, stopped when the
    relative steps of ``w`` and of the tangent ``J_t lam`` are ``<= tol``), then
    ``h += B_t^T v; v = A_t^T v`` backwards, segment by segment from checkpoints."""
    checkpoints = []  # (w at the start of a segment of max_tape steps)
    segment, segment_start = [], w
    tangent = np.zeros_like(w)
    steps = _Steps()
    for _ in range(budget):
        if len(segment) == max_tape:  # keep the segment's start only
            checkpoints.append(segment_start)
            segment, segment_start = [], w
        lin = pgmap.linearize(w, lam)
        segment.append(lin)
        w_new = lin.value
        if track_tangent:
            tangent_new = lin.jvp_w(tangent) + lin.jvp_lam(lam)
            r = steps.record(w, w_new, lin.rounding, tangent, tangent_new)
            tangent = tangent_new
        else:
            r = steps.record(w, w_new, lin.rounding)
        w = w_new
        if r <= tol:
            break
    v = outer_grad(w)
    h = np.zeros(lam.shape[0])
    first = not checkpoints  # whether the segment in hand starts at step 0
    v = _backward(segment, v, h, skip_first=first)
    del segment
    for k in range(len(checkpoints) - 1, -1, -1):
        start = checkpoints.pop()  # the segments are linearized again from their starts
        again = []
        for _ in range(max_tape):
            lin = pgmap.linearize(start, lam)
            again.append(lin)
            start = lin.value
        v = _backward(again, v, h, skip_first=k == 0)
    return h, w, steps


def _backward(tape, v, h, skip_first):
    """``h += B_t^T v; v = A_t^T v`` for the linearizations of ``tape``, last to first
    (emptied as it goes); ``A_0^T v`` is not computed when ``skip_first``."""
    for t in range(len(tape) - 1, -1, -1):
        h += tape[t].vjp_lam(v)
        if t > 0 or not skip_first:
            v = tape[t].vjp_w(v)
        tape[t] = None  # free memory as the backward pass proceeds
    return v
