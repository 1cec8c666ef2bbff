r"""Newton's method on a support with fixed signs, for a piecewise-quadratic datafit with
an L1 and L2 penalty (one output).

The objective :math:`P(w) = F(Xw + b) + \sum_j l1_j |w_j| + \frac{l2_j}2 w_j^2`, on
the orthant of a sign vector :math:`\sigma`, is :math:`F(Xw + b) + \sum_j l1_j \sigma_j
w_j + \frac{l2_j}2 w_j^2`: smooth, and for the squared hinge and Huber's loss piecewise
quadratic. Each iteration

1. takes the support :math:`A`: the nonzero coefficients (signs :math:`\sigma_j =
   \mathrm{sign}(w_j)`), those without a kink at 0 (``l1_j = 0`` and no sign
   constraint: always in :math:`A`), and the coefficients at 0 whose gradient
   violates optimality, :math:`|g_j| > l1_j` (:math:`\sigma_j = -\mathrm{sign}(g_j)`;
   only :math:`g_j < -l1_j` under the constraint :math:`w_j \ge 0`), the largest
   violations first, at most as many as the nonzero coefficients (10 from 0): the
   support grows geometrically and its system stays of the size of the solution's;
2. solves the Newton system of the orthant's objective on :math:`A` (and the
   intercept), the other coefficients held at 0,

   .. math::

       \Big(\frac1n \tilde X_{RA}^T \mathrm{diag}(h_R) \tilde X_{RA} + \mathrm{diag}(l2_A)
       + \epsilon I\Big)\,\delta = -\big(g_A + l1_A \circ \sigma_A + l2_A \circ w_A\big),

   with :math:`h_i` the generalized second derivative of sample :math:`i`'s loss
   (0 where it is flat, the squared hinge's, or linear, Huber's beyond its threshold),
   the rows :math:`R = \{i: h_i > 0\}` of positive curvature
   (:func:`~skhypergrad.solvers._newton.newton_direction` on the columns :math:`A`) and
   the ridge :math:`\epsilon` = 1e-10 times the mean of the diagonal; a coefficient
   entering :math:`A` whose step leaves its orthant is taken out and the system solved
   again (the step is then a descent direction of :math:`P`); when the step finds no
   decrease, the coefficient at 0 of largest violation enters alone instead;
3. minimizes :math:`P` exactly along the projected path :math:`w(t) =
   \Pi_\sigma(w + t\delta)`, :math:`\Pi_\sigma` setting to 0 the coefficients whose
   sign left :math:`\sigma`: on each segment between two zero crossings the path is a
   line and :math:`P` a convex piecewise quadratic, minimized by
   :func:`~skhypergrad.solvers._newton.line_minimum`; a crossing reached with a
   negative slope sets its coefficient to 0 (exactly) and the path goes on without it,
   else the minimizer is inside the segment and the step ends there. Every step
   decreases :math:`P`.

Without kinks (a pure L2 penalty) :math:`A` is every coefficient, there is no
crossing, and this is the finite Newton method of :mod:`skhypergrad.solvers._newton`
(no ridge: the system is solved as there, unless it is singular: with no row of
positive curvature for the unpenalized intercept, Huber's when every residual is an
outlier, the ridge's step moves it to the next breakpoint). With kinks, once the signs
and the rows of positive curvature are those of the minimizer, the Newton step is exact: the method
ends after finitely many steps where coordinate descent converges at a rate set by the
conditioning of the curvature on the support (near separability at large ``C``, the
ratio of the largest curvature to the L1 weight: millions of epochs). The ridge makes
the step defined when the support has more coefficients than rows of positive
curvature (the system is then singular): along its null directions the step moves the
coefficients, at the L1 weight's slope, until one crosses 0 or a row's curvature turns
positive, as a pivot of the simplex method.

Stopping rule: the duality gap (plus :math:`\frac{g_b^2}{2c}` for an unpenalized
intercept's gradient :math:`g_b`, ``c`` the datafit's curvature) divided by the smaller
of the objective's scale (the null model's datafit,
:func:`~skhypergrad.solvers._gap.gap_scale`) and the objective :math:`P(w)` at the
iterate, at most ``tol``, the gap being first lowered by its rounding error, bounded
by 64 machine epsilons times the scale: the objective is then within ``tol`` of the
optimum relative to itself, up to that rounding. (Relative to the scale alone, a
near-separable problem at large ``C``, whose optimum is orders of magnitude below the
null model's loss, would stop with the objective a few percent above its optimum; and
relative to the objective alone, a tight ``tol`` would ask more than the gap's
evaluation can certify.)
"""

import numpy as np

from ._gap import duality_gap
from ._newton import line_minimum, newton_direction

__all__ = ["newton_solve", "objective_relative_gap"]

#: the ridge on the support's system, relative to the mean of its diagonal
_RIDGE = 1e-10
#: the rounding of the duality gap, in machine epsilons times the objective's scale
_GAP_ROUNDING = 64
#: at most this many coefficients enter the support at once, or as many as it holds
_ENTER_MIN = 10


def _second_derivatives(datafit, y, z):
    r"""The generalized second derivatives :math:`\ell''(y_i, z_i)` of the samples' losses
    (``n * raw_hessp`` along ones, sample weights included): constant on each piece of a
    piecewise quadratic loss, 0 where it is linear (Huber's beyond its threshold) or
    flat (the squared hinge's). Not ``newton_curvature``, which coordinate descent's
    models take from a majorizer where the loss is linear: the Newton step here is
    that of the objective on the current pieces, and the path's minimization handles
    the slope of the linear ones."""
    return datafit.raw_hessp(y, z, np.ones_like(z)) * y.shape[0]


def objective_relative_gap(pgmap, lam, w, z, xt_theta, scale):
    r"""The module's stopping measure at ``w``: the duality gap less its rounding
    :math:`64 u s` (:math:`u` the float64 machine epsilon), plus
    :math:`\frac{g_b^2}{2c}`, divided by :math:`\max(\min(s, P(w)), 10^{-12})` (``s`` =
    ``scale``, the objective's scale; ``xt_theta`` = :math:`X^T\theta` as
    :func:`~skhypergrad.solvers.duality_gap` takes it)."""
    primal, _, gap, grad_b = duality_gap(pgmap, w, lam, z, xt_theta)
    gap = max(gap - _GAP_ROUNDING * np.finfo(np.float64).eps * scale, 0.0)
    return (gap + 0.5 * grad_b ** 2 / pgmap.curvature) / max(min(scale, primal), 1e-12)


def newton_solve(prob, design, w, z, measure_at, tol, max_iter, stall_checks, stall_ratio,
                 reached=None):
    """The module's method from ``w`` (predictions ``z``), both updated in place.

    ``prob`` is coordinate descent's problem (``_Problem``: design, datafit, penalty
    weights), ``design`` the design the curvature matrix is kept with,
    ``measure_at(w, z, xt_theta)`` the stopping measure, ``reached(w, a, grad)`` (None:
    never) a second stopping rule, given the datafit's derivative ``a`` and gradient
    ``grad``. Stops when the measure is at most ``tol`` or ``reached`` holds, or,
    unconverged, when the largest violation of optimality is at the level of
    rounding errors, when ``stall_checks`` measures in a row, on one pattern of signs and
    rows of positive curvature, did not lower the best by the factor ``stall_ratio``,
    when a step finds no decrease, or after ``max_iter`` iterations. Returns
    ``(iterations, measure, done)``, ``done`` whether ``reached`` held.
    """
    p, fit_intercept, y = prob.p, prob.fit_intercept, prob.y
    l1 = np.broadcast_to(prob.l1, (p,))
    l2 = np.broadcast_to(prob.l2, (p,))
    kinked = (l1 > 0.0) | (prob.lower > -np.inf)
    smooth = not kinked.any()
    measure, best, stalled, it, prev = np.inf, np.inf, 0, 0, None
    while True:
        a = prob.derivative(z)
        grad = prob.gradient(w, a)
        measure = measure_at(w, z, -grad)
        done = reached is not None and reached(w, a, grad)
        grad += l2 * w[:p]
        signs, residual, entering, violation = _optimality(w[:p], grad, l1, kinked,
                                                           prob.lower)
        grad_b = float(a.mean()) if fit_intercept else 0.0
        violation = max(violation, abs(grad_b) * prob.intercept_unit)
        if measure <= tol or done or violation <= prob.rounding(a) or it == max_iter:
            break
        h = _second_derivatives(prob.datafit, y, z)
        # a stall counts on one pattern of signs and rows of positive curvature only
        # (where a piecewise quadratic's step is exact): while those change, the measure
        # may stay put for many steps
        pattern = np.concatenate([signs, h > 0.0])
        same = prev is not None and np.array_equal(pattern, prev)
        stalled = stalled + 1 if same and measure > stall_ratio * best else 0
        best = min(best, measure)
        prev = pattern
        if stalled >= stall_checks:
            break
        args = (prob, design, h, signs, residual, entering, grad_b, l2, kinked, smooth)
        step = _direction(*args)
        it += 1
        if step is None or not _path_step(prob, w, z, *step, signs, l1, l2, kinked):
            if not entering.any():
                break
            # no decrease on the support: the most violating coefficient at 0 alone
            # enters (its own Newton step is a descent direction)
            worst = np.argmax(np.where(entering, np.abs(residual), -1.0))
            step = _direction(*args, cols=np.array([worst]))
            if step is None or not _path_step(prob, w, z, *step, signs, l1, l2, kinked):
                break
        z[:] = prob.predictions(design, w)
    return it, measure, done


def _optimality(coef, grad, l1, kinked, lower):
    """``(signs, residual, entering, violation)`` at the coefficients ``coef`` (gradient
    ``grad`` of the smooth part): the orthant's signs (those of ``coef``; of the descent
    for the coefficients entering), the orthant objective's gradient, the mask of the
    coefficients at 0 that enter the support, and the largest violation of optimality
    (the residual on the support, ``|g_j| - l1_j`` at 0)."""
    signs = np.sign(coef)
    at_zero = kinked & (coef == 0.0)
    # w_j >= 0: only an increase can enter
    excess = np.where(at_zero, (-grad if lower == 0.0 else np.abs(grad)) - l1, 0.0)
    entering = excess > 0.0
    limit = max(_ENTER_MIN, np.count_nonzero(coef))
    if np.count_nonzero(entering) > limit:  # the largest violations only
        entering[:] = False
        entering[np.argpartition(excess, -limit)[-limit:]] = True
        entering &= excess > 0.0
    signs[entering] = 1.0 if lower == 0.0 else -np.sign(grad[entering])
    residual = grad + l1 * signs
    residual[at_zero & ~entering] = 0.0
    violation = max(float(np.max(np.abs(residual[~at_zero]), initial=0.0)),
                    float(np.max(excess, initial=0.0)))
    return signs, residual, entering, violation


def _direction(prob, design, h, signs, residual, entering, grad_b, l2, kinked, smooth,
               cols=None):
    """``(cols, delta)``: the support (or the coefficients ``cols``) and the Newton step on
    it (then the intercept's), the entering coefficients whose step leaves their orthant
    taken out; None when the system is singular (or empty)."""
    fit_intercept = prob.fit_intercept
    if cols is None:
        # the nonzero and entering coefficients (signs set) and those without a kink
        cols = np.arange(prob.p) if smooth else np.flatnonzero((signs != 0.0) | ~kinked)
    while True:
        if cols.shape[0] == 0 and not fit_intercept:
            return None
        rhs = np.append(residual[cols], grad_b) if fit_intercept else residual[cols]
        delta = newton_direction(prob.X, h, rhs, l2, fit_intercept, design,
                                 None if smooth and cols.shape[0] == prob.p else cols,
                                 0.0 if smooth else _RIDGE)
        if delta is None and smooth:  # no curvature along a direction: the ridge's pivot
            delta = newton_direction(prob.X, h, rhs, l2, fit_intercept, design, cols, _RIDGE)
        if delta is None or not np.all(np.isfinite(delta)):
            return None
        m = cols.shape[0]
        wrong = entering[cols] & (delta[:m] * signs[cols] <= 0.0)
        if not wrong.any():
            return cols, delta
        cols = cols[~wrong]


def _columns_product(X, cols, coef):
    """``X[:, cols] @ coef`` as a dense (n,) array."""
    return np.asarray(X[:, cols] @ coef, dtype=np.float64).ravel()


def _path_step(prob, w, z, cols, delta, signs, l1, l2, kinked):
    """Minimize the objective along the projected path (module docstring, step 3) from
    ``w`` (``z`` its predictions), ``w`` updated in place; whether it moved."""
    n, m = z.shape[0], cols.shape[0]
    d = delta[:m]
    d_b = delta[m] if prob.fit_intercept else 0.0
    wc = w[cols].copy()
    lin = l1[cols] * signs[cols]
    l2c = l2[cols]
    v = _columns_product(prob.X, cols, d) + d_b
    # the zero crossings: coefficients moving towards 0 from a kink's side
    crossing = kinked[cols] & (wc * d < 0.0)
    where = np.flatnonzero(crossing)
    times = -wc[where] / d[where]
    order = np.argsort(times, kind="stable")
    where, times = where[order], times[order]
    active = np.ones(m, dtype=bool)
    zc = z.copy()
    datafit, y = prob.datafit, prob.y
    total, k, moved = 0.0, 0, False
    while True:
        da = np.where(active, d, 0.0)
        c = float((lin + l2c * wc) @ da)
        dd = float((l2c * da) @ da)

        def slope(s):
            return float(v @ prob.derivative(zc + s * v)) / n + c + s * dd

        def curvature(s):
            return float(v @ (_second_derivatives(datafit, y, zc + s * v) * v)) / n + dd

        nxt = times[k] - total if k < times.shape[0] else np.inf
        if np.isfinite(nxt) and slope(nxt) < 0.0:
            # the crossing (and every one at the same time) is reached: those go to 0
            j = k
            while j < times.shape[0] and times[j] - total <= nxt:
                j += 1
            dropped = where[k:j]
            wc += nxt * da
            wc[dropped] = 0.0
            zc += nxt * v
            v -= _columns_product(prob.X, cols[dropped], d[dropped])
            active[dropped] = False
            total += nxt
            k, moved = j, True
            continue
        s = line_minimum(slope, curvature, upper=nxt)
        wc += s * da
        total += s
        moved = moved or s > 0.0
        break
    if moved:
        w[cols] = wc
        if prob.fit_intercept:
            w[-1] += total * d_b
    return moved
