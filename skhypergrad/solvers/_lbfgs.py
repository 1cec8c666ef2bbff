r"""L-BFGS for a smooth objective, stopped by a rule on its gradient.

:func:`lbfgs` minimizes :math:`P(w)` from ``w`` with the limited-memory BFGS direction
:math:`d = -H_k \nabla P(w)` (the two-loop recursion over the last ``memory`` pairs
:math:`s = w_{k+1} - w_k`, :math:`y = \nabla P(w_{k+1}) - \nabla P(w_k)` with
:math:`s^T y > 0`, scaled by :math:`s^T y / y^T y` of the newest pair; the first
direction is the gradient scaled to a unit move of the largest entry; with a
preconditioner :math:`P \approx \nabla^2 P(w)^{-1}`, :math:`H_0 = P` instead of the
scaling, and the first direction is :math:`-P \nabla P(w)`), and a
backtracking line search on the sufficient decrease
:math:`P(w + t d) \le P(w) + 10^{-4}\, t\, \nabla P(w)^T d`: from ``t = 1``, then the
minimizer of the quadratic through :math:`P(w)`, the slope and :math:`P(w + t d)`,
kept within a tenth and a half of ``t``; a trial point whose value is not finite (an
overflow of a long step, evaluated without floating-point warnings) is shortened to a
tenth. The values measure a step's progress down to their rounding: a few ulps of
:math:`|P|`, or the ``rounding`` the caller gives from the size of the objective's terms
(far above :math:`|P|` when they cancel: a Poisson deviance of :math:`10^{-10}` summed
from terms of :math:`10^7`). Below it (near a tight optimum), with ``rounding`` given,
the slopes measure it: a step is taken when the trapezoid
:math:`-t (\nabla P(w)^T d + \nabla P(w + t d)^T d) / 2` (the decrease of a quadratic,
free of the values' rounding) makes the sufficient decrease, else ``t`` is shortened to
the root of the slope's secant (within a tenth and a half of ``t``). It stops when
``reached`` says so at an iterate, or, unconverged, after ``max_iter`` steps or a line
search that finds no decrease, leaving the rest to the caller (without ``rounding``, a
decrease at the values' rounding ends it); with a preconditioner, a full step at the
values' rounding is taken when it shrinks :math:`\nabla P^T H_0 \nabla P` fourfold
(the gradient measures the progress).

This is the method of scikit-learn's GLMs (``solver="lbfgs"``) with their stopping
rule given as ``reached``: a warm-started solve to the same gradient rule takes a few
steps of two products with ``X`` each.
"""

import numpy as np

__all__ = ["lbfgs"]

#: sufficient decrease constant of the line search
_ARMIJO = 1e-4
#: a decrease of at most this fraction of |P| is rounding: the value can no longer
#: tell a step's progress, and the solve stops (a few ulps of P)
_ROUNDING = 8 * np.finfo(float).eps
#: with a preconditioner, a full step whose value is at the rounding of P is taken when it
#: lowers the preconditioned squared gradient norm below this fraction of it
_SHRINK = 0.25


def lbfgs(value_grad, w, reached, max_iter, memory=10, max_backtrack=30, precondition=None,
          rounding=None, pairs=None):
    """Minimize from ``w`` (updated in place).

    Parameters
    ----------
    value_grad : callable
        ``w -> (P(w), grad, extra)``; ``extra`` is passed to ``reached``.
    w : ndarray of shape (q,)
    reached : callable
        ``(w, grad, extra) -> bool``: whether ``w`` is accurate enough.
    max_iter : int
        Steps at most.
    memory : int, default=10
        Pairs ``(s, y)`` kept.
    max_backtrack : int, default=30
    precondition : callable, default=None
        ``g -> P g``, a symmetric positive definite approximation of the inverse Hessian
        (the recursion's :math:`H_0`); None: the scalar :math:`s^T y / y^T y`.
    rounding : callable, default=None
        ``extra -> r``: the rounding error of :math:`P` at the point whose ``extra`` it
        is, from the size of its terms (a value far below them carries theirs); a
        line search then judges a change of the value within ``r`` by the slopes (see
        the module). None: a few ulps of :math:`|P|` (terms of the value's size).
    pairs : list, default=None
        The pairs ``(s, y, 1 / s^T y)`` (oldest first, ``s^T y > 0``) the recursion starts
        from, e.g. those of a solve of a nearby objective on the same data (the
        directions of the first steps are then quasi-Newton ones, not the scaled
        gradient); updated in place with this solve's pairs (the newest ``memory``
        kept). None: none, a new list.

    Returns
    -------
    (n_iter, done) : int, bool
        Steps taken, and whether ``reached`` held at the returned ``w``.
    """
    f, g, extra = value_grad(w)
    pairs = [] if pairs is None else pairs
    for it in range(max_iter + 1):
        if reached(w, g, extra):
            return it, True
        if it == max_iter:
            break
        d = _direction(g, pairs, precondition)
        slope = float(g @ d)
        if not slope < 0.0:  # not a descent direction (rounding): the gradient
            pairs.clear()
            d = _direction(g, pairs, precondition)
            slope = float(g @ d)
            if not slope < 0.0:
                break
        t, step = 1.0, None
        noise = _ROUNDING * abs(f)
        if rounding is not None:
            noise = max(noise, rounding(extra))
        for _ in range(max_backtrack):
            w_t = w + t * d
            # a trial point whose values overflow (a long step of a log link: exp of a
            # large prediction) is no descent, rejected below: not the user's error
            with np.errstate(over="ignore", invalid="ignore"):
                f_t, g_t, extra_t = value_grad(w_t)
            if precondition is not None and t == 1.0 and abs(f_t - f) <= noise:
                # at the rounding of P, a full step is taken when it shrinks the
                # preconditioned gradient (the values no longer tell)
                if g_t @ precondition(g_t) < _SHRINK * float(g @ precondition(g)):
                    step = (w_t, f_t, g_t, extra_t, t)
                break
            if rounding is not None and np.isfinite(f_t) and abs(f_t - f) <= noise:
                # the values no longer tell: the slopes do (the trapezoid's decrease)
                slope_t = float(g_t @ d)
                if slope_t <= -(1.0 - 2.0 * _ARMIJO) * slope:
                    step = (w_t, f_t, g_t, extra_t, t)
                    break
                # the root of the slope's secant, within [t / 10, t / 2]
                t = min(max(t * slope / (slope - slope_t), 0.1 * t), 0.5 * t)
                continue
            if np.isfinite(f_t) and f_t <= f + _ARMIJO * t * slope:
                if f - f_t > noise:
                    step = (w_t, f_t, g_t, extra_t, t)
                break  # a decrease at the rounding of P: not measured, left to the caller
            # the quadratic's minimizer, within [t / 10, t / 2]
            q = -slope * t * t / (2.0 * (f_t - f - slope * t)) if np.isfinite(f_t) else 0.0
            t = min(max(q, 0.1 * t), 0.5 * t)
        if step is None:
            break  # no decrease found: at the objective's rounding
        w_t, f, g_new, extra, t = step
        s, y = t * d, g_new - g
        sy = float(s @ y)
        if sy > 0.0:
            pairs.append((s, y, 1.0 / sy))
            if len(pairs) > memory:
                pairs.pop(0)
        w[:] = w_t
        g = g_new
    return it, False


def _direction(g, pairs, precondition=None):
    """``-H g`` by the two-loop recursion over ``pairs`` ``(s, y, 1 / s^T y)``, oldest
    first, from ``H_0 = precondition`` when given (with no pair, ``-P g``), else from
    the scalar of the newest pair (with no pair, ``-g`` scaled to move its largest
    entry by 1)."""
    if precondition is not None and not pairs:
        return -precondition(g)
    if not pairs:
        gmax = float(np.max(np.abs(g), initial=0.0))
        return -g / gmax if gmax > 0 else -g
    q = g.copy()
    alphas = []
    for s, y, rho in reversed(pairs):
        a = rho * float(s @ q)
        q -= a * y
        alphas.append(a)
    if precondition is not None:
        q = precondition(q)
    else:
        s, y, rho = pairs[-1]
        q *= 1.0 / (rho * float(y @ y))  # s^T y / y^T y
    for (s, y, rho), a in zip(pairs, reversed(alphas)):
        b = rho * float(y @ q)
        q += (a - b) * s
    return -q
