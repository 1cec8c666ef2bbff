r"""The minimum of a piecewise-smooth function on a segment, from values and one-sided slopes.

A criterion :math:`E(\theta)` that is smooth except on the surfaces where the
support of the inner solution changes (kinks), restricted to a segment
:math:`\varphi(s) = E(\theta + s\,d)`, :math:`s \in [0, 1]`, is piecewise smooth.
Its gradient at a point is that of one of the pieces meeting there, so the slope
:math:`\varphi'(s) = \nabla E^T d` of a point is that of its piece. Given two
points ``lo < hi`` with :math:`\varphi'(lo) < 0 < \varphi'(hi)`, a local minimum
lies between them; :func:`bracket_minimum` shrinks the interval around it, each
new point replacing the end whose slope has its sign.

The next point minimizes the model

.. math::

    \hat\varphi(s) = \max\big(q_{lo}(s),\ q_{hi}(s)\big),\qquad
    q_e(s) = \varphi(e) + \varphi'(e)(s - e) + \tfrac{c_e}{2}(s - e)^2,

one quadratic per end, its curvature :math:`c_e` the change of slope between that
end and the previous point on its side. Until there is one, it is the change of
slope across the interval if the values look smooth there (the mean slope near the
mean of the end slopes, as for a quadratic), else 0: a tangent. Two pieces meeting
at a kink are met where their quadratics cross, a smooth minimum is that of the
quadratic of the side that reaches it, and the model is exact for two quadratic
pieces once each side has two points.

When the model's minimum is near the newest point, the next point aims past it,
twice as far from the newest point (four times further again for every point in a
row that stayed on the same side, at most half-way to the other end), so that the
minimum ends up with a point on either side: the end that does not move is
replaced, and at a kink both one-sided slopes are seen close to it. A point is
otherwise kept a thousandth of the interval from its ends, and an interval that
failed to halve in three points is bisected, so that it shrinks at least linearly.

The search stops when the interval is narrower than ``stol`` (at a kink, its two
sides resolved), or once the value is certified: where the function is convex,
the tangents at the ends bound it from below (where they meet), and the gap
between the best value and that bound is what a further point could gain.
"""

from typing import Any, NamedTuple

import numpy as np

__all__ = ["Probe", "Bracket", "bracket_minimum", "min_norm_combination",
           "tangent_lower_bound", "cubic_minimizer", "hermite_minimizer"]

#: a new point is kept this fraction of the interval away from either end
_MARGIN = 1e-3
#: values look smooth on an interval when its mean slope is within this fraction of the
#: change of slope from the mean of the end slopes
_SMOOTH_BAND = 0.2
#: the model's minimum is near the newest point within this fraction of the interval
_NEAR = 0.25


class Probe(NamedTuple):
    r"""One evaluation on the segment :math:`\theta_0 + s\,d`.

    Attributes
    ----------
    s : float
        Position on the segment.
    value : float
        :math:`\varphi(s) = E(\theta_0 + s\,d)`.
    slope : float
        :math:`\nabla E^T d` there: the one-sided derivative of the piece the point
        belongs to.
    theta : ndarray
    grad : ndarray
        :math:`\nabla E` there.
    """

    s: float
    value: float
    slope: float
    theta: Any
    grad: Any


def tangent_lower_bound(lo, hi):
    r"""Value where the tangents at ``lo`` and ``hi`` meet, at

    .. math::

        s = \frac{\varphi(hi) - \varphi(lo) + \varphi'(lo)\,lo - \varphi'(hi)\,hi}
                 {\varphi'(lo) - \varphi'(hi)}:

    a lower bound of a function convex on ``[lo.s, hi.s]``; ``-inf`` when they meet
    outside the interval (values and slopes no convex function has).
    """
    s = (hi.value - lo.value + lo.slope * lo.s - hi.slope * hi.s) / (lo.slope - hi.slope)
    if not lo.s <= s <= hi.s:
        return -np.inf
    return lo.value + lo.slope * (s - lo.s)


def curvature(end, previous, lo, hi):
    r"""Change of slope per unit of ``s`` between ``end`` and the ``previous`` point on its
    side. Without one: the change of slope across ``[lo, hi]`` when the values look
    smooth there (the mean slope within a fifth of the slopes' range of their mean,
    as it is exactly for a quadratic), else 0 (a tangent: the kink model)."""
    if previous is not None and previous.s != end.s:
        return (end.slope - previous.slope) / (end.s - previous.s)
    width, jump = hi.s - lo.s, hi.slope - lo.slope
    mean_slope = (hi.value - lo.value) / width
    if abs(mean_slope - 0.5 * (lo.slope + hi.slope)) <= _SMOOTH_BAND * jump:
        return jump / width
    return 0.0


def model_minimizer(lo, hi, c_lo, c_hi):
    r"""Minimizer ``s`` over ``[lo.s, hi.s]`` of :math:`\max(q_{lo}, q_{hi})` (module
    docstring), computed in the coordinate ``u = s - lo.s``; None when no candidate lies
    in the interval.

    The candidates are each quadratic's minimizer (positive curvature) and the
    points where the two cross, the roots of

    .. math::

        q_{lo}(u) - q_{hi}(u) = \tfrac{c_{lo} - c_{hi}}{2} u^2
        + (\varphi'(lo) - \varphi'(hi) + c_{hi} w)\,u
        + \varphi(lo) - \varphi(hi) + \varphi'(hi) w - \tfrac{c_{hi}}{2} w^2.
    """
    w = hi.s - lo.s

    def q_lo(u):
        return lo.value + lo.slope * u + 0.5 * c_lo * u * u

    def q_hi(u):
        return hi.value + hi.slope * (u - w) + 0.5 * c_hi * (u - w) ** 2

    candidates = []
    if c_lo > 0:
        candidates.append(-lo.slope / c_lo)
    if c_hi > 0:
        candidates.append(w - hi.slope / c_hi)
    candidates.extend(_roots(0.5 * (c_lo - c_hi), lo.slope - hi.slope + c_hi * w,
                             lo.value - hi.value + hi.slope * w - 0.5 * c_hi * w * w))
    slack = 1e-9 * w  # a kink at an end is a candidate, whatever the rounding
    inside = [min(max(u, 0.0), w) for u in candidates if -slack <= u <= w + slack]
    if not inside:
        return None
    u = min(inside, key=lambda u: max(q_lo(u), q_hi(u)))
    return lo.s + u


def _roots(a, b, c):
    """Real roots of ``a u^2 + b u + c`` (a linear or constant one included)."""
    if a == 0.0 or abs(a) * 1e12 < abs(b):
        return [-c / b] if b != 0.0 else []
    disc = b * b - 4.0 * a * c
    if disc < 0:
        return []
    # the root without cancellation first, the other from the product of the roots
    q = -0.5 * (b + np.copysign(np.sqrt(disc), b))
    return [q / a, c / q] if q != 0.0 else [0.0]


def _certified(lo, hi, best, ftol):
    """Whether ``best`` is within ``ftol`` (relative) of the minimum: of the tangents'
    lower bound (:func:`tangent_lower_bound`, a bound where the function is convex)."""
    return best.value - tangent_lower_bound(lo, hi) <= ftol * abs(best.value)


class Bracket(NamedTuple):
    """Outcome of :func:`bracket_minimum`.

    Attributes
    ----------
    lo, hi : Probe
        The final ends (a point whose slope is exactly 0 is both).
    best : Probe
        The point of smallest value evaluated (ends included).
    gap : float
        ``best.value`` minus the tangents' lower bound at the ends (inf where they
        give none): what a further point could gain, where the function is convex.
    """

    lo: Probe
    hi: Probe
    best: Probe
    gap: float


def bracket_minimum(evaluate, lo, hi, *, ftol, stol, max_evals):
    r"""Shrink ``[lo, hi]`` around a local minimum of :math:`\varphi`.

    Parameters
    ----------
    evaluate : callable
        ``evaluate(s) -> Probe`` or None (a failed evaluation, which ends the search).
    lo, hi : Probe
        Ends with ``lo.s < hi.s``, ``lo.slope < 0 < hi.slope``.
    ftol : float
        Stop when the best value exceeds the tangents' lower bound
        (:func:`tangent_lower_bound`) by at most ``ftol`` times its magnitude.
    stol : float
        Stop when the interval is at most ``stol`` wide (at a kink, its two sides).
    max_evals : int
        At most this many evaluations.

    Returns
    -------
    Bracket
    """
    best = min(lo, hi, key=lambda p: p.value)
    widths = [hi.s - lo.s]
    before_lo = before_hi = newest = None  # the previous point on each side, the last one
    repeats = 0  # how many points in a row fell on the side of the newest one
    for _ in range(max_evals):
        width = hi.s - lo.s
        if width <= stol or _gap(lo, hi, best) <= ftol * abs(best.value):
            break
        c_lo, c_hi = curvature(lo, before_lo, lo, hi), curvature(hi, before_hi, lo, hi)
        s = _next_position(lo, hi, c_lo, c_hi, newest, repeats, widths)
        probe = evaluate(s)
        if probe is None:
            break
        if probe.value < best.value:
            best = probe
        if probe.slope == 0:
            return Bracket(probe, probe, best, 0.0)
        same_side = newest is not None and (probe.slope < 0) == (newest.slope < 0)
        repeats = repeats + 1 if same_side else 1
        if probe.slope < 0:
            before_lo, lo = lo, probe
        else:
            before_hi, hi = hi, probe
        newest = probe
        widths.append(hi.s - lo.s)
    return Bracket(lo, hi, best, _gap(lo, hi, best))


def _gap(lo, hi, best):
    return best.value - tangent_lower_bound(lo, hi)


def _next_position(lo, hi, c_lo, c_hi, newest, repeats, widths):
    """The next point of :func:`bracket_minimum` (see the module docstring)."""
    width = hi.s - lo.s
    s = model_minimizer(lo, hi, c_lo, c_hi)
    if s is None or (len(widths) >= 4 and width > 0.5 * widths[-4]):
        return 0.5 * (lo.s + hi.s)  # no model minimum, or three points without halving
    margin = _MARGIN * width
    if newest is not None and abs(s - newest.s) <= _NEAR * width:
        # the model's minimum near the newest point: aim past it, so that the next
        # interval holds it with a point on either side (at a kink, both sides); twice
        # as far as the model puts it, four times further for every point in a row that
        # fell short on the newest point's side, at most half-way to the other end
        stale = hi.s if newest is lo else lo.s
        reach = 2.0 * 4.0 ** (repeats - 1) * abs(s - newest.s)
        reach = min(max(reach, 2.0 * margin), 0.5 * abs(stale - newest.s))
        s = newest.s + np.copysign(reach, stale - newest.s)
        margin = min(margin, 0.5 * reach)
    return float(np.clip(s, lo.s + margin, hi.s - margin))


def min_norm_combination(g1, g2):
    r"""The element of smallest norm of the segment between ``g1`` and ``g2``,

    .. math::

        (1 - t)\,g_1 + t\,g_2, \qquad
        t = \operatorname{clip}\Big(\frac{g_1^T(g_1 - g_2)}{\|g_1 - g_2\|^2}, 0, 1\Big).

    At a kink, ``g1`` and ``g2`` being the gradients of the pieces on either side,
    minus this vector is a descent direction for both pieces (its inner product with
    each is at least its squared norm), along the kink when the kink separates them;
    it is zero where no such direction exists (a minimum on the kink).
    """
    diff = g1 - g2
    denom = float(diff @ diff)
    t = float(np.clip((g1 @ diff) / denom, 0.0, 1.0)) if denom > 0 else 0.0
    return g1 - t * diff


def cubic_minimizer(value, slope, left, right):
    r"""The local minimizer, between two points, of the cubic through their values that
    has the value and slope of a third point between them.

    With the third point at 0, :math:`p(t) = f_0 + f'_0 t + c_2 t^2 + c_3 t^3` and
    ``left = (a, f_a)``, ``right = (c, f_c)``, :math:`a < 0 < c`, the coefficients solve

    .. math::

        \begin{pmatrix} a^2 & a^3 \\ c^2 & c^3 \end{pmatrix}
        \begin{pmatrix} c_2 \\ c_3 \end{pmatrix}
        = \begin{pmatrix} f_a - f_0 - f'_0 a \\ f_c - f_0 - f'_0 c \end{pmatrix},

    and the minimizer is the root of :math:`p'(t) = f'_0 + 2c_2 t + 3c_3 t^2` in
    :math:`(a, c)` where :math:`p'' > 0`. Exact for a cubic; for a smooth function whose
    minimum three values bracket (:math:`f_0 \le f_a, f_c`) it is a first step of
    the order of the error of a cubic fit there.

    Parameters
    ----------
    value, slope : float
        :math:`f_0` and :math:`f'_0`.
    left, right : (float, float)
        ``(a, f_a)`` and ``(c, f_c)`` with ``a < 0 < c``.

    Returns
    -------
    float or None
        None when the cubic has no local minimum in ``(a, c)``.
    """
    (a, fa), (c, fc) = left, right
    det = a * a * c * c * (c - a)
    if not a < 0 < c or not np.isfinite([value, slope, fa, fc]).all() or det == 0:
        return None
    ra, rc = fa - value - slope * a, fc - value - slope * c
    c2 = (ra * c ** 3 - rc * a ** 3) / det
    c3 = (rc * a * a - ra * c * c) / det
    roots = _roots(3.0 * c3, 2.0 * c2, slope)
    inside = [t for t in roots if a < t < c and 2.0 * c2 + 6.0 * c3 * t > 0]
    return min(inside, key=abs) if inside else None


def hermite_minimizer(value, slope, d, value_d, slope_d):
    r"""The local minimizer of the cubic with the values and slopes of two points.

    With the first point at 0 and the second at ``d`` (either sign),
    :math:`p(t) = f_0 + f'_0 t + c_2 t^2 + c_3 t^3` with :math:`p(d) = f_d`,
    :math:`p'(d) = f'_d`: with :math:`A = (f_d - f_0 - f'_0 d) / d^2` and
    :math:`B = (f'_d - f'_0) / d`, :math:`c_2 = 3A - B` and :math:`c_3 = (B - 2A) / d`;
    the minimizer is the root of :math:`p'` where :math:`p'' = 2c_2 + 6c_3 t > 0`,
    anywhere on the line (past ``d`` too: two slopes of one sign extrapolated to
    their root, where the secant of the slopes neglects their curvature). Exact for a
    cubic.

    Returns
    -------
    float or None
        None when the cubic has no local minimum (or the inputs are not finite).
    """
    if d == 0 or not np.isfinite([value, slope, value_d, slope_d]).all():
        return None
    A = (value_d - value - slope * d) / (d * d)
    B = (slope_d - slope) / d
    c2, c3 = 3.0 * A - B, (B - 2.0 * A) / d
    minima = [t for t in _roots(3.0 * c3, 2.0 * c2, slope) if 2.0 * c2 + 6.0 * c3 * t > 0]
    return minima[0] if minima else None
