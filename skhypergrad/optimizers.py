r"""Outer optimizers on the log-hyperparameters :math:`\theta = \log\lambda`, with bounds.

An optimizer is a small object with settings only; everything that changes
during a search lives in a NamedTuple state (``init`` / ``update``, in the style
of optax), so a search can be pickled, resumed or run in another process.
:func:`minimize` drives any of them on an *inexact* objective

.. code-block:: python

    value, grad, info = objective(theta, tol)

whose accuracy ``tol`` (inner solver and adjoint tolerance) it tightens as the
search converges: geometrically with the outer steps, and at once when a step
fails to decrease the criterion. It never returns a point worse than the best
one evaluated, and stops when the relative improvement over ``patience`` steps
falls below ``tol`` or after ``max_iter`` steps, or when ``callback`` returns True.

An optimizer with ``line_search = True`` (:class:`GradientDescent`) proposes
trial points (``propose``, ``cap``) that :func:`minimize` accepts or rejects
(``accept``, ``reject``), brackets minima between them (``bracket``,
``max_bracket``) and restarts along a kink (``along``); one with
``line_search = False`` (:class:`Adam`) only maps a point and its gradient to the
next (``update``).
"""

import time
import warnings
from typing import Any, NamedTuple

import numpy as np
from scipy.optimize import minimize as scipy_minimize
from sklearn.exceptions import ConvergenceWarning

from ._line_search import (Probe, bracket_minimum, cubic_minimizer, hermite_minimizer,
                           min_norm_combination)

__all__ = ["GradientDescent", "Adam", "LBFGSB", "OuterResult", "minimize", "get_optimizer"]


class GDState(NamedTuple):
    """State of :class:`GradientDescent`: the current step size and, with ``diagonal``,
    the root mean square ``scale`` of each coordinate's gradient (None without)."""

    step: float
    scale: Any = None


class GradientDescent:
    r"""Projected gradient descent with a line search made for piecewise-smooth criteria.

    A step :math:`\theta^+ = \Pi(\theta - s\,g)` (``g`` the gradient, or at a kink
    the descent vector below) is accepted when it decreases the criterion
    sufficiently (Armijo), :math:`E(\theta^+) \le E(\theta) - c\,g^T(\theta - \theta^+)`,
    unless the search has one hyperparameter and the slope at the trial point is
    positive: the minimum of the whole search is then bracketed, as below.
    Otherwise, with :math:`\varphi(t) = E(\theta + t(\theta^+ - \theta))`:

    - if the slope at the trial point is positive, :math:`\varphi'(1) > 0`, a minimum
      lies between :math:`\theta` and :math:`\theta^+` (with ``bracket``): it is
      located by :func:`~skhypergrad._line_search.bracket_minimum` (exactly in a
      few points when it is a kink, where the one-sided slopes disagree), and the
      best point found is the step;
    - else, if the value still decreased, the step is taken (across a kink where
      the slope flattens);
    - else ``s`` shrinks to the minimizer of the quadratic through :math:`E(\theta)`,
      its slope along the step and :math:`E(\theta^+)`, kept between a tenth and a half
      of it (and the inner accuracy is tightened).

    When the bracket closes on a kink (its ends within ``xtol`` of each other), the
    next step descends along minus the element of smallest norm of the segment
    between the gradients on either side
    (:func:`~skhypergrad._line_search.min_norm_combination`): along the kink, where
    the two pieces meet; the search stops there when that element is negligible
    (a minimum on the kink). After an accepted step the next ``s`` is the
    Barzilai-Borwein step :math:`\Delta\theta^T\Delta\theta / \Delta\theta^T\Delta\nabla E`
    (the inverse curvature seen along the step), kept within a factor ``grow`` below
    and ``10 grow`` above the accepted one; ``s`` grows by ``grow`` when that
    curvature is not positive. For one hyperparameter that step is the secant step
    to the root of the slope, and the search ends once the quadratic of the last
    two slopes explains the values between them and promises less than a tenth of
    the search's ``tol`` past the accepted point (see :func:`minimize`).

    Parameters
    ----------
    step : float or None, default=None
        Initial step; None uses ``1 / ||grad||_inf`` at the first point (a unit move
        in log-space of the most sensitive hyperparameter, at most).
    c : float, default=1e-4
        Armijo constant.
    grow : float, default=1.5
    bb : bool, default=True
        Barzilai-Borwein steps after accepted steps (False: always grow by ``grow``).
    max_backtrack : int, default=8
    max_move : float, default=1.0
        Largest change of any :math:`\theta_j` in one step (a trust region in
        log-space: no hyperparameter changes by more than a factor ``e`` at once).
        Cross-validation criteria are only piecewise smooth; without it, one large
        gradient at a kink can throw the search across the whole range.
    bracket : bool, default=True
        Locate the minimum between the current point and a trial point whose slope
        is positive (False: backtrack only, as for a smooth criterion).
        The bracketing stops once the best value is certified (the tangents' lower
        bound within that relative distance of it) to the search's ``tol`` for one
        hyperparameter (its certified minimum ends the search: the accuracy of the
        search's own stopping test), to a tenth of it for several (the next steps
        start from its point), or when it has resolved a kink to a thousandth of the
        search's ``xtol``.
    max_bracket : int, default=10
        Evaluations per bracketing, at most.
    diagonal : float or None, default=None
        Scale each coordinate's step by the inverse of the root mean square of its
        gradients, :math:`\theta^+ = \Pi(\theta - s\,g / r)` with
        :math:`r_j^2 \leftarrow \beta r_j^2 + (1 - \beta) g_j^2` after every accepted
        step (:math:`r = |g|` at the first point, :math:`\beta` = ``diagonal``):
        a diagonal preconditioner, for many hyperparameters whose slopes differ by
        decades (one penalty weight per feature, where the weights of the noise
        features must grow by decades from slopes far below the others'). Every
        step is still tested on :math:`g^T(\theta^+ - \theta)`, and the
        Barzilai-Borwein step is taken in the metric of :math:`r`:
        :math:`\Delta\theta^T (r \odot \Delta\theta) / \Delta\theta^T\Delta\nabla E`.
        None: no scaling.
    """

    line_search = True

    def __init__(self, step=None, c=1e-4, grow=1.5, bb=True, max_backtrack=8, max_move=1.0,
                 bracket=True, max_bracket=10, diagonal=None):
        self.step = step
        self.c = c
        self.grow = grow
        self.bb = bb
        self.max_backtrack = max_backtrack
        self.max_move = max_move
        self.bracket = bracket
        self.max_bracket = max_bracket
        if diagonal is not None and not 0.0 <= diagonal < 1.0:
            raise ValueError(f"diagonal must be None or in [0, 1), got {diagonal!r}.")
        self.diagonal = diagonal

    def init(self, theta, grad):
        scale = None if self.diagonal is None else np.abs(grad)
        state = GDState(step=1.0, scale=scale)
        step = self.step
        if step is None:
            gmax = _largest(self.direction(grad, state))
            step = 1.0 / gmax if gmax > 0 else 1.0
        return state._replace(step=float(step))

    def direction(self, grad, state):
        """``grad`` divided by ``state.scale`` (0 where the scale is 0), or ``grad``."""
        if state.scale is None:
            return grad
        out = np.zeros_like(grad)
        np.divide(grad, state.scale, out=out, where=state.scale > 0)
        return out

    def propose(self, theta, grad, state):
        """Trial point for the current step, its move capped at ``max_move``."""
        grad = self.direction(grad, state)
        gmax = _largest(grad)
        if gmax > 0 and state.step * gmax > self.max_move:  # no overflow for huge steps
            return theta - grad * (self.max_move / gmax)
        return theta - state.step * grad

    def cap(self, state, grad, move=None):
        """The state with its step moving no coordinate by more than ``move`` along
        ``grad`` (``max_move`` when None: the capped step ``propose`` would take).

        Called before a line search, so that a rejection halves the move actually
        tried (a step far above the cap would otherwise propose the same capped
        point again and again).
        """
        move = self.max_move if move is None else move
        gmax = _largest(self.direction(grad, state))
        if gmax > 0 and state.step * gmax > move:
            return state._replace(step=move / gmax)
        return state

    def along(self, grad, move, state=None):
        """The state whose step moves the most sensitive coordinate by ``move`` along
        ``grad`` (a new direction, e.g. along a kink, tried as far as the last one;
        ``state`` gives the scale)."""
        state = GDState(step=1.0) if state is None else state
        gmax = _largest(self.direction(grad, state))
        return state._replace(step=move / gmax if gmax > 0 else 1.0)

    def accept(self, state, move=None, grad_change=None, grad=None):
        """The step after an accepted one: ``move`` the change of ``theta``, ``grad_change``
        that of the gradient (Barzilai-Borwein when both are given and ``bb``), ``grad``
        the gradient at the accepted point (updates the scale with ``diagonal``)."""
        if state.scale is not None and grad is not None:
            state = state._replace(scale=np.sqrt(self.diagonal * state.scale ** 2
                                                 + (1 - self.diagonal) * grad ** 2))
        if self.bb and move is not None and grad_change is not None:
            curvature = float(move @ grad_change)
            if curvature > 0:
                metric = move if state.scale is None else state.scale * move
                bb = float(move @ metric) / curvature
                return state._replace(step=min(max(bb, state.step / self.grow),
                                               10 * self.grow * state.step))
        return state._replace(step=state.step * self.grow)

    def reject(self, state, value_change=None, slope=None):
        """The step after a rejected trial: ``value_change`` is ``E(trial) - E(theta)``,
        ``slope`` the directional derivative ``grad^T (trial - theta)`` (< 0)."""
        factor = 0.5
        if value_change is not None and slope is not None and np.isfinite(value_change) \
                and slope < 0:
            curvature = value_change - slope  # > 0 for a rejected trial
            if curvature > 0:
                factor = min(max(-slope / (2.0 * curvature), 0.1), 0.5)
        return state._replace(step=state.step * factor)


def _largest(v):
    """``max |v_j|`` (0 for an empty ``v``)."""
    return float(np.max(np.abs(v))) if v.size else 0.0


class AdamState(NamedTuple):
    """State of :class:`Adam`: step count and first / second moment estimates."""

    count: int
    mu: np.ndarray
    nu: np.ndarray


class Adam:
    r"""Adam (Kingma and Ba) on :math:`\theta`, projected onto the bounds.

    .. math::

        m \leftarrow \beta_1 m + (1-\beta_1) g,\quad v \leftarrow \beta_2 v + (1-\beta_2) g^2,\quad
        \theta \leftarrow \Pi\Big(\theta - \eta\,\frac{m / (1-\beta_1^t)}{\sqrt{v/(1-\beta_2^t)}
            + \epsilon}\Big)

    No line search; the search keeps the best point seen.

    Parameters
    ----------
    learning_rate : float, default=0.2
        In log-space: 0.2 moves each hyperparameter by about 20% per step.
    b1, b2, eps : float
    """

    line_search = False

    def __init__(self, learning_rate=0.2, b1=0.9, b2=0.999, eps=1e-8):
        self.learning_rate = learning_rate
        self.b1 = b1
        self.b2 = b2
        self.eps = eps

    def init(self, theta, grad):
        return AdamState(0, np.zeros_like(theta), np.zeros_like(theta))

    def update(self, theta, grad, state):
        """``(new_theta, new_state)``."""
        count = state.count + 1
        mu = self.b1 * state.mu + (1 - self.b1) * grad
        nu = self.b2 * state.nu + (1 - self.b2) * grad ** 2
        mhat = mu / (1 - self.b1 ** count)
        vhat = nu / (1 - self.b2 ** count)
        return theta - self.learning_rate * mhat / (np.sqrt(vhat) + self.eps), \
            AdamState(count, mu, nu)


class LBFGSB:
    r"""scipy's L-BFGS-B on ``theta`` with the bounds (its own line search).

    The criterion is divided by :math:`\|\nabla E(\theta_0)\|_\infty`: the first step
    is a unit move of the most sensitive log-hyperparameter (as with
    :class:`GradientDescent`) and the path does not depend on the criterion's scale.

    Parameters
    ----------
    maxcor : int, default=10
        Number of stored corrections.
    """

    line_search = None  # scipy drives the iterations

    def __init__(self, maxcor=10):
        self.maxcor = maxcor


_OPTIMIZERS = {"gd": GradientDescent, "adam": Adam, "lbfgs": LBFGSB, "l-bfgs-b": LBFGSB}


def get_optimizer(optimizer):
    """An optimizer from its name ("gd", "adam", "lbfgs") or an instance."""
    if isinstance(optimizer, str):
        try:
            return _OPTIMIZERS[optimizer.lower()]()
        except KeyError:
            raise ValueError(f"optimizer must be one of {sorted(_OPTIMIZERS)} or an optimizer "
                             f"instance, got {optimizer!r}.") from None
    if not hasattr(optimizer, "line_search"):
        raise ValueError(f"optimizer must be one of {sorted(_OPTIMIZERS)} or an optimizer "
                         f"instance, got {optimizer!r}.")
    return optimizer


class OuterResult(NamedTuple):
    """Outcome of :func:`minimize`.

    Attributes
    ----------
    theta : ndarray
        Best point evaluated (log-hyperparameters).
    value : float
        Criterion there.
    info : object
        The objective's ``info`` at the best point (e.g. warm starts).
    history : list of dict
        One entry per evaluation: ``theta``, ``value``, ``grad``, ``tol``, ``seconds``,
        ``accepted`` and the objective's ``info`` fields.
    n_iter : int
        Outer iterations run (the last one may have found no decrease: a stationary
        point).
    converged : bool
        Whether the stopping rule ended the search (or the callback did), not ``max_iter``.
    decrease : float
        When not converged, the relative decrease of the best value over the iterations
        the stopping rule compares (``(f_old - f_best) / |f_old|``, which it needs at most
        ``tol``); nan when converged or when no iteration ran.
    """

    theta: np.ndarray
    value: float
    info: Any
    history: list
    n_iter: int
    converged: bool
    decrease: float = np.nan


def _relative_decrease(bests, patience):
    """``(f_old - f_best) / |f_old|`` over the last ``patience`` entries of ``bests`` (the
    best value after each outer iteration, the first after ``theta0``); nan without one."""
    if len(bests) < 2:
        return np.nan
    old = bests[-min(patience, len(bests) - 1) - 1]
    return float((old - bests[-1]) / max(abs(old), np.finfo(float).tiny))


class _Tracker:
    """Evaluates the objective, records history, keeps the best point, calls the callback."""

    def __init__(self, objective, callback):
        self.objective = objective
        self.callback = callback
        self.history = []
        self.best = None  # (value, theta, grad, info)
        self.t0 = time.perf_counter()
        self.stopped = False
        self.finite = True   # whether the last evaluation gave a finite value and gradient
        self.warned = False  # non-finite results are reported once per search
        #: the best value after each outer iteration (the first: after theta0)
        self.iteration_bests = []

    def __call__(self, theta, tol):
        value, grad, info = self.objective(theta, tol)
        value = float(value)
        grad = np.asarray(grad, dtype=np.float64)
        finite_grad = np.isfinite(grad)
        self.finite = bool(np.isfinite(value) and finite_grad.all())
        if not np.isfinite(value):
            value = np.inf
        if not self.finite and not self.warned:
            self.warned = True
            warnings.warn("Non-finite criterion value or hypergradient (inner solve or "
                          "hypergradient failed); the search retries with a smaller step and "
                          "a tighter tolerance, and keeps the best point seen.",
                          ConvergenceWarning, stacklevel=3)
        if not finite_grad.all():
            grad = np.where(finite_grad, grad, 0.0)
        improved = self.best is None or value < self.best[0]
        if improved:
            self.best = (value, theta.copy(), grad, info)
        entry = {"theta": theta.copy(), "value": value, "grad": grad, "tol": tol,
                 "seconds": time.perf_counter() - self.t0, "best": improved}
        if isinstance(info, dict):
            entry.update({k: v for k, v in info.items() if not k.startswith("_")})
        self.history.append(entry)
        if self.callback is not None and self.callback(entry):
            self.stopped = True
        return value, grad, info


def minimize(objective, theta0, optimizer="gd", bounds=None, max_iter=50, tol=1e-4,
             inner_tol=(1e-4, 1e-8), patience=2, xtol=1e-3, callback=None,
             around=None, project=None):
    r"""Minimize an inexact criterion over log-hyperparameters.

    Parameters
    ----------
    objective : callable
        ``objective(theta, tol) -> (value, grad, info)``; ``grad`` in ``theta``.
    theta0 : ndarray
    optimizer : str or optimizer instance, default="gd"
        "gd" (:class:`GradientDescent`), "adam" (:class:`Adam`), "lbfgs" (:class:`LBFGSB`).
    bounds : (ndarray, ndarray) or None
        Lower and upper bounds on ``theta`` (projected onto).
    max_iter : int, default=50
        Outer steps.
    tol : float, default=1e-4
        Stop when the best value improved by less than ``tol`` (relative) over
        the last ``patience`` steps; for one hyperparameter and a line-search
        method, also after a step at the final inner accuracy past which the
        quadratic of its two slopes (when the trapezoid rule of those slopes gives
        the change of the value to ``tol``) gains less than ``tol / 10``; for
        "lbfgs", scipy's ``ftol`` (relative decrease in one step), scaled so that
        it stays relative below 1.
    inner_tol : (float, float), default=(1e-4, 1e-8)
        Inner accuracy at the start and at the end; tightened by a factor 10 every
        step and after every rejected step, down to the final value.
    patience : int, default=2
    xtol : float, default=1e-3
        Line-search methods also stop when a trial step moves no ``theta_j`` by more
        than ``xtol`` (a 0.1% change of every hyperparameter). A bracket whose ends
        come within ``xtol`` of each other holds a kink, whose two sides it resolves
        to a thousandth of ``xtol`` (see :class:`GradientDescent`).
    callback : callable, default=None
        Called with each history entry; returning True stops the search.
    around : list of (ndarray, float), default=None
        Two points ``(theta, value)`` on either side of ``theta0`` (one hyperparameter),
        whose values are above the one at ``theta0``, e.g. a scan's neighbours of its best
        point: a line-search optimizer tries first the minimizer between them of the cubic
        through their values with the value and gradient at ``theta0``
        (:func:`~skhypergrad._line_search.cubic_minimizer`), and its own first step when
        there is none; it evaluates at the final inner accuracy from the start (the
        model's step is only as accurate as the gradient at ``theta0``, and the
        minimum is already bracketed). Other optimizers ignore it.
    project : callable, default=None
        ``theta -> theta``: the projection onto the feasible set, a subset of the box
        ``bounds`` (e.g. the points of an elastic net's ranges of ``alpha`` and
        ``l1_ratio``); None: the clip to ``bounds``. Every point evaluated is
        projected; "lbfgs" keeps scipy's box ``bounds`` and evaluates the criterion and
        its gradient at the projection of scipy's point.

    Returns
    -------
    OuterResult
    """
    optimizer = get_optimizer(optimizer)
    theta0 = np.asarray(theta0, dtype=np.float64).copy()
    lo, hi = (np.full_like(theta0, -np.inf), np.full_like(theta0, np.inf)) if bounds is None \
        else (np.broadcast_to(bounds[0], theta0.shape), np.broadcast_to(bounds[1], theta0.shape))
    if project is None:
        project = lambda t: np.clip(t, lo, hi)  # noqa: E731
    track = _Tracker(objective, callback)
    tol0, tol_end = inner_tol
    inner = max(tol0, tol_end)

    if isinstance(optimizer, LBFGSB):
        n_iter = _minimize_lbfgsb(track, project(theta0), lo, hi, max_iter, tol, tol_end,
                                  optimizer, project)
        converged = n_iter < max_iter or track.stopped
        compared = 1
    else:
        n_iter, converged = _minimize_iterative(track, optimizer, project(theta0), project,
                                                max_iter, tol, inner, tol_end, patience, xtol,
                                                around)
        compared = patience
    value, theta, _, info = track.best
    decrease = np.nan if converged else _relative_decrease(track.iteration_bests, compared)
    return OuterResult(theta, value, info, track.history, n_iter, converged, decrease)


class _Point(NamedTuple):
    """A point of the search: ``theta``, the criterion and its gradient there, and
    ``descent``, the vector the next step goes down along (the gradient, or at a kink
    the smallest combination of the gradients on either side)."""

    theta: np.ndarray
    value: float
    grad: np.ndarray
    descent: np.ndarray


class _Step(NamedTuple):
    """Outcome of a line search: the new point (the old one when nothing better was
    found), the optimizer's state, the inner accuracy, and whether the search ends."""

    point: _Point
    state: Any
    inner: float
    done: bool


#: at a kink, the search stops when the descent vector is below this fraction of the
#: one-sided gradients (a minimum on the kink)
_KINK_STATIONARY = 1e-3


def _minimize_iterative(track, optimizer, theta, project, max_iter, tol, inner, tol_end,
                        patience, xtol, around=None):
    around = around if optimizer.line_search and theta.shape == (1,) else None
    if around is not None:  # the model's step is as accurate as the gradient it starts from
        inner = tol_end
    value, grad, _ = track(theta, inner)
    if not track.finite and inner > tol_end and not track.stopped:
        value, grad, _ = track(theta, tol_end)  # retry at the final accuracy
    state = optimizer.init(theta, grad)
    move = None if around is None else _first_move(theta, value, grad, around)
    if move is not None:
        state = optimizer.along(grad, move, state)
    point = _Point(theta, value, grad, grad)
    bests = track.iteration_bests
    bests.append(value)
    for it in range(1, max_iter + 1):
        if track.stopped:
            return it - 1, True
        # tenfold tighter, snapped to the final accuracy (no rounding residue above it)
        inner = tol_end if inner * 0.1 <= tol_end * (1 + 1e-9) else inner * 0.1
        if optimizer.line_search:
            step = _line_search(track, optimizer, point, state, project, inner, tol_end,
                                xtol, tol)
            point, state, inner = step.point, step.state, step.inner
            if step.done:  # the iteration ran, even when no trial decreased the criterion
                return it, True
        else:
            theta, state = optimizer.update(point.theta, point.grad, state)
            theta = project(theta)
            value, grad, _ = track(theta, inner)
            if not track.finite and not track.stopped:
                inner = tol_end
                value, grad, _ = track(theta, inner)  # retry at the final accuracy
            point = _Point(theta, value, grad, grad)
        bests.append(track.best[0])
        if len(bests) > patience:
            old = bests[-patience - 1]
            if old - bests[-1] <= tol * max(abs(old), np.finfo(float).tiny):
                return it, True
    return max_iter, False


def _first_move(theta, value, grad, around):
    """How far (in ``theta``) the first step goes down ``grad`` to the minimizer of the
    cubic model of ``around`` (see :func:`minimize`), or None (no model minimum between
    them, or one uphill)."""
    if not np.isfinite(value):
        return None
    (ta, fa), (tc, fc) = sorted(((float(np.ravel(t)[0]) - theta[0], f) for t, f in around),
                                key=lambda p: p[0])
    t = cubic_minimizer(value, float(grad[0]), (ta, fa), (tc, fc))
    if t is None or t * grad[0] >= 0:
        return None
    return abs(t)


def _line_search(track, optimizer, point, state, project, inner, tol_end, xtol, tol):
    """One step of a line-search optimizer (:class:`GradientDescent`) from ``point``.

    Trials along ``point.descent`` are accepted on sufficient decrease; a trial whose
    slope along the step is positive brackets a minimum (``optimizer.bracket``), located
    by :func:`_bracket_step` (first, even on a sufficient decrease, for one
    hyperparameter: the segment is then the whole search space, and the bracket's
    certified minimum ends the search); a decrease without a positive slope is taken as it is;
    anything else shrinks the step. A trial moving no coordinate by more than
    ``xtol``, or ``max_backtrack`` failures, end the search.
    """
    state = optimizer.cap(state, point.descent)
    for _ in range(optimizer.max_backtrack + 1):
        trial = project(optimizer.propose(point.theta, point.descent, state))
        move = trial - point.theta
        if np.max(np.abs(move), initial=0.0) <= xtol:
            return _Step(point, state, inner, True)  # on a kink, or on the bounds
        value, grad, _ = track(trial, inner)
        if track.stopped:
            return _Step(point, state, inner, True)  # the best point is the tracker's
        # a trial without a finite gradient cannot be continued from: rejected
        if track.finite:
            crossed = optimizer.bracket and float(point.grad @ move) < 0 < float(grad @ move)
            if crossed and move.size == 1:  # the segment is the whole search: bracket it
                return _bracket_step(track, optimizer, point, trial, value, grad, state,
                                     project, tol_end, xtol, tol)
            if value <= point.value + optimizer.c * float(point.descent @ move):
                state = optimizer.accept(state, move, grad - point.grad, grad)
                new = _Point(trial, value, grad, grad)
                if move.size != 1:
                    return _Step(new, state, inner, False)
                if inner <= tol_end * (1 + 1e-9) and _settled(point, new, tol):
                    return _Step(new, state, inner, True)
                return _Step(new, _secant_cubic(optimizer, state, point, new), inner, False)
            if crossed:
                return _bracket_step(track, optimizer, point, trial, value, grad, state,
                                     project, tol_end, xtol, tol)
            if value < point.value:  # still going down, across a kink that flattens it
                return _Step(_Point(trial, value, grad, grad), state, inner, False)
        state = optimizer.reject(state, value - point.value, float(point.descent @ move))
        inner = tol_end
    return _Step(point, state, inner, True)  # no decrease found: stationary at this accuracy


def _secant_cubic(optimizer, state, a, b):
    """One hyperparameter, ``b`` accepted after ``a``, Barzilai-Borwein steps
    (``bb``): the next step, the shorter of ``state``'s (the secant step of the
    slopes) and the step to the minimizer of the cubic of their values and slopes
    (:func:`~skhypergrad._line_search.hermite_minimizer`) when that lies ahead of
    ``b`` (along its descent direction); ``state`` otherwise. Where the slope
    steepens towards the minimum the secant passes it, and a bracket then costs
    evaluations to certify it; where the slope flattens the secant stops short, and
    the cubic, fitted on a segment, may pass it by extrapolating the slope's
    curvature: the nearer of the two estimates keeps the approach on one side, where
    the search ends by :func:`_settled`."""
    if not optimizer.bb:
        return state
    d = float(b.theta[0] - a.theta[0])
    t = hermite_minimizer(a.value, float(a.grad[0]), d, b.value, float(b.grad[0]))
    if t is None or not (t - d) * -float(b.grad[0]) > 0:
        return state
    secant = float(optimizer.propose(b.theta, b.grad, state)[0] - b.theta[0])
    if abs(t - d) >= abs(secant):
        return state
    return optimizer.along(b.grad, abs(t - d), state)


def _settled(a, b, tol):
    r"""One hyperparameter, ``b`` accepted after ``a`` (both at the final inner
    accuracy): whether the quadratic of the two slopes explains the criterion between
    them and gains less than a tenth of ``tol`` (relative to ``E(b)``) past ``b``.

    With :math:`d = \theta_b - \theta_a` and the slopes :math:`g_a, g_b`, the quadratic
    has the curvature :math:`c = (g_b - g_a) / d`; it explains the criterion when
    :math:`|E(b) - E(a) - \frac{g_a + g_b}2 d| \le tol\,|E(b)|` (the trapezoid rule,
    exact for a quadratic: a kink between the points breaks it), and its minimum is
    :math:`g_b^2 / (2c)` below :math:`E(b)`. That gain below ``tol / 10``: the next
    step, the secant step to the minimum, would gain less than the search's own
    stopping test asks for, and the search ends at ``b`` instead of taking
    ``patience`` more steps. A tenth, because the quadratic's gain is an estimate,
    not a bound: a slope that flattens towards the minimum (a third derivative)
    makes the secant step short, and the gain with it (by a third on
    ``bench_models``' Poisson row).
    """
    d = float(b.theta[0] - a.theta[0])
    ga, gb = float(a.grad[0]), float(b.grad[0])
    if d == 0.0 or not (gb - ga) / d > 0:
        return False
    scale = tol * max(abs(b.value), np.finfo(float).tiny)
    return abs(b.value - a.value - 0.5 * (ga + gb) * d) <= scale and \
        0.5 * gb * gb * d / (gb - ga) <= 0.1 * scale


def _bracket_step(track, optimizer, point, trial, value, grad, state, project, tol_end,
                  xtol, tol):
    """The step to the minimum between ``point`` (slope < 0 towards ``trial``) and
    ``trial`` (slope > 0), found by :func:`~skhypergrad._line_search.bracket_minimum`
    at the final inner accuracy (its value certified to ``tol`` for one
    hyperparameter, ``tol / 10`` for several, or a kink resolved to ``xtol / 1000``).

    When the bracket closes within ``xtol``, its ends are on either side of a kink:
    the next step descends along minus the smallest combination of their gradients, as
    far as this step's trial went, and the search ends when that combination is
    negligible. A certified minimum ends the search where the projected gradient
    points along the segment (the search is one-dimensional there: one
    hyperparameter, or the others held by their bounds). Otherwise the next step is
    the Barzilai-Borwein step of the move to the best point, no longer than the
    interval left.
    """
    direction = trial - point.theta
    scale = float(np.max(np.abs(direction)))

    def evaluate(s):
        theta = point.theta + s * direction
        v, g, _ = track(theta, tol_end)
        if not track.finite or track.stopped:
            return None
        return Probe(s, v, float(g @ direction), theta, g)

    lo = Probe(0.0, point.value, float(point.grad @ direction), point.theta, point.grad)
    hi = Probe(1.0, value, float(grad @ direction), trial, grad)
    ftol = tol if direction.size == 1 else 0.1 * tol
    lo, hi, best, gap = bracket_minimum(evaluate, lo, hi, ftol=ftol, stol=1e-3 * xtol / scale,
                                        max_evals=optimizer.max_bracket)
    new = point if best.s == 0.0 else _Point(best.theta, best.value, best.grad, best.grad)
    certified = gap <= ftol * abs(best.value)
    if track.stopped or (certified and _parallel(_projected_move(project, best), direction)):
        return _Step(new, state, tol_end, True)
    if (hi.s - lo.s) * scale > xtol:  # a minimum inside the interval
        state = optimizer.accept(state, best.theta - point.theta, best.grad - point.grad,
                                   best.grad)
        # the next move no longer than the interval left: the minimum is within it
        state = optimizer.cap(state, best.grad, (hi.s - lo.s) * scale)
        return _Step(new, state, tol_end, best.s == 0.0)
    descent = min_norm_combination(lo.grad, hi.grad)
    one_sided = max(np.max(np.abs(lo.grad)), np.max(np.abs(hi.grad)))
    done = np.max(np.abs(descent), initial=0.0) <= _KINK_STATIONARY * one_sided
    return _Step(new._replace(descent=descent), optimizer.along(descent, scale, state), tol_end,
                 done)


def _projected_move(project, point):
    """The move ``project(theta - g / |g|_inf) - theta`` of ``point`` down its gradient
    ``g``, scaled to a unit step of the most sensitive coordinate: its direction is
    that of the projected gradient whatever the criterion's units (the gradient of a
    loss of 1e-13 is below the rounding of ``theta`` itself); 0 for a zero gradient."""
    size = float(np.max(np.abs(point.grad), initial=0.0))
    if not size > 0 or not np.isfinite(size):
        return np.zeros_like(point.theta)
    return project(point.theta - point.grad / size) - point.theta


def _parallel(u, v):
    """Whether ``u`` and ``v`` are parallel (to 1e-9 in their cosine)."""
    norms = float(np.linalg.norm(u) * np.linalg.norm(v))
    return norms > 0 and abs(float(u @ v)) >= (1 - 1e-9) * norms


def _minimize_lbfgsb(track, theta, lo, hi, max_iter, tol, tol_end, optimizer, project):
    # L-BFGS-B's first step is minus the gradient (bounded problems), and scipy stops when
    # (f_k - f_k+1) / max(|f_k|, |f_k+1|, 1) <= ftol, an absolute test for a criterion below 1
    # (a CV MSE of 0.15, a log-loss). Dividing the criterion by ||grad f(theta0)||_inf makes
    # the first step a unit move of the most sensitive log-hyperparameter (as
    # GradientDescent's first step) whatever the criterion's scale; ftol is set so that
    # ``tol`` is relative to f, and gtol (scipy's default) is relative to the first gradient.
    value0, grad0, _ = track(theta, tol_end)
    track.iteration_bests.append(track.best[0])
    if track.stopped:
        return 0
    gmax = float(np.max(np.abs(grad0), initial=0.0))
    scale = gmax if np.isfinite(gmax) and gmax > 0 else 1.0
    # |f| / scale: scipy's test is relative above 1, absolute (times ftol) below
    size = min(1.0, abs(value0) / scale) if np.isfinite(value0) and value0 != 0 else 1.0
    cached = [(theta.copy(), value0, grad0)]  # scipy's first call is at theta0

    def fun(t):
        t = np.asarray(t, dtype=np.float64)
        if cached:
            theta0, value, grad = cached.pop()
            if np.array_equal(t, theta0):
                return value / scale, grad / scale
        if track.stopped:
            raise StopIteration
        value, grad, _ = track(project(t), tol_end)  # (the clip of a point in bounds: t)
        return value / scale, grad / scale

    n_iter = [0]

    def cb(intermediate_result):
        n_iter[0] += 1
        track.iteration_bests.append(track.best[0])
        if track.stopped:
            raise StopIteration

    bounds = list(zip(np.where(np.isfinite(lo), lo, None), np.where(np.isfinite(hi), hi, None)))
    try:
        res = scipy_minimize(fun, theta, jac=True, method="L-BFGS-B", bounds=bounds,
                             callback=cb, options={"maxiter": max_iter, "ftol": tol * size,
                                                   "maxcor": optimizer.maxcor})
        return int(res.nit)
    except StopIteration:
        return n_iter[0]
