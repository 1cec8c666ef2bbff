r"""Duality gap of ``min_w F(Xw + b) + sum_j (l1_j |w_j| + l2_j/2 w_j^2)``.

With the intercept ``b`` held at its current value, the Fenchel dual is

.. math::

    D(\theta) = -\sum_i f_i^*(-\theta_i) - b^T \sum_i \theta_i - G^*(X^T\theta),
    \qquad \theta = -\nabla_z F(Xw + b),

with :math:`G^*(u) = \sum_j \max(|u_j| - l1_j, 0)^2 / (2\,l2_j)` when every ``l2_j > 0``;
otherwise the point :math:`\theta` is rescaled into the dual feasible set
:math:`|X_j^T\theta| \le l1_j` (where :math:`G^* = 0` whatever the L2 weights; also
for small ``l2_j > 0``, where that bound is the tighter one; a rescaled :math:`\theta`
stays in the domain of every datafit here); features with a zero L1 weight (and some
``l2_j = 0``) are held fixed like ``b``, adding :math:`\theta^T X_j w_j` to the offset.
The gap bounds the suboptimality in the other coefficients; solvers pair it with the
gradient of the fixed ones, which is zero at the optimum (and exactly zero for
the least-squares intercept after an intercept update).

**The separable form.** When every ``l2_j > 0``, :math:`\theta = -\nabla_z F(Xw + b)`
is not rescaled, and the Fenchel-Young equality :math:`f_i(z_i) + f_i^*(-\theta_i) =
-\theta_i z_i` of each sample turns the gap into a sum over the features alone,

.. math::

    P(w) - D(\theta) = \sum_j G_j(w_j) + G_j^*(u_j) - u_j w_j, \qquad
    u = X^T\theta,

each term nonnegative: with :math:`a_j = |u_j|` (:math:`u_j` for nonnegative
coefficients), it is :math:`((a_j - l1_j) - l2_j |w_j|)^2 / (2\,l2_j)` when
:math:`a_j > l1_j` and :math:`u_j w_j \ge 0` (the squared distance of the gradient
to the subdifferential, over :math:`2\,l2_j`), else
:math:`l1_j|w_j| + \frac{l2_j}{2} w_j^2 + G_j^*(u_j) - u_j w_j`. The difference of
the values ``primal - dual`` carries the rounding of the datafit's terms, which may be
orders of magnitude above the gap (targets far from zero: a Poisson deviance of
:math:`10^{-6}` summed from terms of :math:`10^{7}`, where it reads a gap of 5e-5
times the objective, or of 1e-21, when the separable form reads 3e-14 or 2e-5); the
separable form carries only that of :math:`X^T\theta`, and is the gap returned then
(with the rescaled point below, the smaller of the two).
"""

import numpy as np
from numba import njit

from .._jit import TieredKernel

#: the float64 machine epsilon
_EPS = np.finfo(np.float64).eps
#: blocks of at most this many features have their gap's sums run as Python until
#: compiling pays (:class:`~skhypergrad._jit.TieredKernel`): the duality gap of a small
#: refit (``dual_gap_``) costs tens of microseconds so, against 0.3 s to compile
_INTERPRETED_FEATURES = 256


def duality_gap(pgmap, w, lam, z=None, xt_theta=None):
    """``(primal, dual, gap, grad_free)`` at ``w``.

    ``grad_free`` is the largest gradient entry of the unpenalized variables (the
    intercept, and features whose L1 weight is 0 when some ``l2_j = 0``), held fixed
    in the dual: the gap bounds the suboptimality in the others.

    ``pgmap`` is a :class:`~skhypergrad.fixed_point.ProxGradMap`; ``z`` the
    predictions ``Xw + b`` and ``xt_theta`` the product ``X^T theta`` (minus the
    datafit's gradient in the coefficients, shape (p,) or (p, K)) when already known;
    for one output it may also be a callable returning an iterable of ``(j0, u)``,
    ``u`` its entries ``j0, j0 + 1, ...`` in consecutive blocks covering all
    features (read a block at a time: no ``p``-sized array; the same sums).
    """
    design, datafit, penalty, y = pgmap.design, pgmap.datafit, pgmap.penalty, pgmap.y
    p, K = design.n_features, design.n_outputs
    if K > 1:
        return _duality_gap_outputs(pgmap, w, lam, z, xt_theta)
    l1, l2 = penalty.weights(lam, p)
    smooth = _all_positive(l2)
    if z is None:
        z = design.matvec(w)
    theta = -datafit.raw_grad(y, z)
    coef = design.coef(w)
    grad_b = float(np.abs(theta.sum())) if design.fit_intercept else 0.0
    # the p-sized work in one pass, without temporaries (p may be large, X sparse)
    acc = _gap_start()
    positive = penalty.positive
    if callable(xt_theta):
        for j0, u in xt_theta():
            j1 = j0 + u.shape[0]
            _gap_sums(coef[j0:j1], u, l1[j0:j1], l2[j0:j1], smooth, positive, acc,
                      small=u.shape[0] <= _INTERPRETED_FEATURES)
    else:
        u = design.rmatvec_coef(theta) if xt_theta is None else xt_theta
        _gap_sums(coef, np.asarray(u).reshape(p), l1, l2, smooth, positive, acc,
                  small=p <= _INTERPRETED_FEATURES)
        del u
    pen, g_star, s_tight, grad_free, scale, free_dot, any_free, separable = _gap_end(acc)
    primal = datafit.loss(y, z) + pen
    if not smooth:
        grad_b = max(grad_b, grad_free)
        theta = scale * theta
    offset = float(np.sum(design.intercept(w) * theta.sum(axis=0)))
    if any_free:
        offset += scale * free_dot
    if not smooth:
        dual = datafit.dual_term(y, theta) - offset - g_star
        return primal, dual, primal - dual, grad_b
    # theta itself: the gap in the separable form (see the module), free of the rounding
    # of the datafit's terms
    gap = separable
    if g_star > 0 and s_tight >= 0.0:
        # for small l2_j, theta rescaled into |X_j^T theta| <= l1_j (where G* = 0)
        # gives the tighter bound: keep the smaller gap
        gap = min(gap, primal - datafit.dual_term(y, s_tight * theta) + s_tight * offset)
    return primal, primal - gap, gap, grad_b


def _all_positive(l2):
    """Whether every L2 weight is positive (the conjugate of the penalty is finite)."""
    return bool(np.min(l2, initial=np.inf) > 0.0)


def _gap_start():
    """The accumulators of :func:`gap_sums` before the first feature."""
    # penalty, G*, s_tight, grad_free, scale, free_dot, any_free, separable gap
    return np.array([0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0])


def _gap_end(acc):
    """``(penalty, g_star, s_tight, grad_free, scale, free_dot, any_free, separable)`` of
    the accumulators once every feature went through :func:`gap_sums`."""
    pen, g_star, s_tight, grad_free, scale, free_dot, any_free, separable = acc
    return pen, g_star, s_tight, grad_free, scale, free_dot, bool(any_free), separable


@njit(cache=True)
def gap_sums(coef, u, l1, l2, smooth, positive, acc):
    """The gap's sums and extrema over the features, one pass (one output), added to
    the accumulators ``acc`` (:func:`_gap_start`, in place): feature blocks passed in
    order give the sums of one pass over all of them.

    With ``positive`` (coefficients constrained to be nonnegative) the conjugate and
    the dual feasibility are one-sided: ``|u_j|`` is replaced by ``u_j`` (a feature
    with ``u_j < l1_j`` stays at 0 at no cost), and a free feature at 0 violates
    optimality by ``max(u_j, 0)`` only.

    Accumulates the penalty ``sum_j l1_j |coef_j| + l2_j/2 coef_j^2``; with ``smooth``
    (every ``l2_j > 0``): ``G* = sum_j max(|u_j| - l1_j, 0)^2 / (2 l2_j)`` and
    ``s_tight = min_j l1_j / max(|u_j|, l1_j)``, -1 when some ``l1_j <= 0``; without,
    with the free features ``l1_j <= 0``: their largest ``|u_j|``, the rescaling
    ``min(1, min_j l1_j / |u_j|)`` over the others with ``|u_j| > l1_j``,
    ``sum_j coef_j u_j`` over them, and whether there is one (see :func:`_gap_end`);
    with ``smooth``, also the gap's separable form (see the module).
    """
    pen = acc[0]
    g_star = acc[1]
    s_tight = acc[2]
    grad_free = acc[3]
    scale = acc[4]
    free_dot = acc[5]
    any_free = acc[6] != 0.0
    separable = acc[7]
    for j in range(u.shape[0]):
        c, t = coef[j], l1[j]
        a = u[j] if positive else abs(u[j])
        pen_j = t * abs(c) + 0.5 * l2[j] * c * c
        pen += pen_j
        if smooth:
            if a > t:
                conj = (a - t) * (a - t) / (2.0 * l2[j])
                g_star += conj
                if u[j] * c >= 0.0:
                    r = (a - t) - l2[j] * abs(c)
                    separable += r * r / (2.0 * l2[j])
                else:
                    separable += pen_j + conj - u[j] * c
            else:
                separable += max(pen_j - u[j] * c, 0.0)
            if t > 0.0:
                if s_tight >= 0.0 and a > t:
                    s_tight = min(s_tight, t / a)
            else:
                s_tight = -1.0
        elif t <= 0.0:
            any_free = True
            grad_free = max(grad_free, abs(u[j]) if c != 0.0 else a)
            free_dot += c * u[j]
        elif a > t:
            scale = min(scale, t / a)
    acc[0] = pen
    acc[1] = g_star
    acc[2] = s_tight
    acc[3] = grad_free
    acc[4] = scale
    acc[5] = free_dot
    acc[6] = 1.0 if any_free else 0.0
    acc[7] = separable


#: :func:`gap_sums`, run as Python on small blocks until compiling it pays
_gap_sums = TieredKernel(gap_sums)


def _duality_gap_outputs(pgmap, w, lam, z, xt_theta):
    """:func:`duality_gap` for several outputs (coefficients of shape (p, K)), in NumPy;
    the dual norms of the rows and the conjugate of the penalty are the penalty's
    (``row_dual_norms``, ``conjugate``)."""
    design, datafit, y = pgmap.design, pgmap.datafit, pgmap.y
    if pgmap.penalty.positive:
        raise ValueError("positive=True is for one output only.")
    if z is None:
        z = design.matvec(w)
    theta = -datafit.raw_grad(y, z)
    loss = datafit.loss(y, z)
    u = design.rmatvec_coef(theta) if xt_theta is None else xt_theta
    return gap_from_parts(pgmap, w, lam, loss, lambda s: datafit.dual_term(y, s * theta),
                          theta.sum(axis=0), u)


def gap_from_parts(pgmap, w, lam, loss, dual_term, theta_sum, u):
    r"""``(primal, dual, gap, grad_free)`` of :func:`duality_gap` (several outputs) from
    the parts it reads of the data: the datafit's value ``loss`` at ``w``,
    ``dual_term(s)`` (the datafit's dual term at :math:`s\theta`),
    :math:`\sum_i \theta_i` (``theta_sum``, shape (K,)) and :math:`X^T\theta` (``u``,
    shape (p, K)): computed from the predictions, or from Gram products without them.
    """
    design, penalty = pgmap.design, pgmap.penalty
    p = design.n_features
    l1, l2 = penalty.weights(lam, p)
    coef = design.coef(w).reshape(p, -1)
    primal = loss + penalty.value(coef, lam)
    grad_b = float(np.max(np.abs(theta_sum))) if design.fit_intercept else 0.0
    # the dual norms of the rows (the penalty's: max over outputs for elementwise L1,
    # the Euclidean norm for a block penalty)
    au = penalty.row_dual_norms(u)
    free = np.zeros(p, dtype=bool)
    smooth = _all_positive(l2)
    if smooth:
        g_star = penalty.conjugate(u, l1, l2)
        scale = 1.0
    else:
        # unpenalized features (l1_j = 0) are held fixed like the intercept
        free = l1 <= 0
        grad_b = max(grad_b, float(au[free].max(initial=0.0)))
        g_star = 0.0
        with np.errstate(divide="ignore", invalid="ignore"):
            ratios = np.where((au > l1) & ~free, l1 / au, 1.0)
        scale = float(min(1.0, ratios.min(initial=1.0)))
    offset = scale * float(np.sum(design.intercept(w) * theta_sum))
    if free.any():
        offset += scale * float(np.sum(coef[free] * u[free]))
    dual = dual_term(scale) - offset - g_star
    if smooth and g_star > 0 and np.all(l1 > 0):
        # for a small l2, theta rescaled into |X_j^T theta| <= l1_j (where G* = 0)
        # gives the tighter bound: keep the larger of the two
        ratios = np.maximum(au, l1)
        s = float(np.min(np.divide(l1, ratios, out=ratios)))
        dual = max(dual, dual_term(s) - s * offset)
    return primal, dual, primal - dual, grad_b


def gap_scale(pgmap):
    """The objective's scale for relative tolerances: the datafit of the null model
    (:meth:`~skhypergrad.datafits.BaseDatafit.null_loss`: zero coefficients and the
    optimal intercept, so a shift of ``y`` absorbed by the intercept does not loosen
    the tolerance; ``F(0)`` without an intercept; kept with the map), at least 1e-12."""
    return max(pgmap.null_loss, 1e-12)


def separable_gap_floor(pgmap, lam, z):
    r"""The rounding floor of the separable gap (see the module) at predictions ``z``, one
    output and an L2 penalty alone, every ``l2_j > 0`` (0 otherwise).

    The gap is a sum of squared gradients :math:`g_j^2 / (2\,l2_j)` (and the intercept's
    :math:`g_b^2 / (2c)` of the solvers' measure, ``c`` the map's ``curvature``), and a
    gradient :math:`g_j = \frac1n \sum_i X_{ij} \ell'(y_i, z_i) + l2_j w_j` is no more
    accurate than its derivatives: an ulp of :math:`z_i` (a prediction is a sum as large
    as :math:`|z_i|`) and the derivative's own rounding move
    :math:`\ell'(y_i, z_i)` by about :math:`r_i = u\,h_i (|z_i| + 1)`, ``h_i`` the
    second derivative, ``u`` the float64 machine epsilon. With errors of that size
    and no sign pattern, :math:`g_j` is at :math:`\delta_j = \|X_j\| \bar r / n`
    (:math:`\bar r` the root mean square of the :math:`r_i`), and the floor is

    .. math::

        \sum_j \frac{\delta_j^2}{2\,l2_j} + \frac{\delta_b^2}{2c}, \qquad
        \delta_b = \sqrt n\, \bar r / n.

    It is far below any tolerance for targets and predictions of moderate size (a
    Poisson model of counts near 3: 1e-30 times the objective), and reaches it when
    the means are large (counts near :math:`10^6`, where :math:`h_i = \mu_i`) and
    the penalty small; no solver's steps resolve the gradient below it.
    """
    design, datafit, penalty, y = pgmap.design, pgmap.datafit, pgmap.penalty, pgmap.y
    if design.n_outputs > 1:
        return 0.0
    p, n = design.n_features, design.n_samples
    l1, l2 = penalty.weights(lam, p)
    if np.any(l1) or not _all_positive(l2) or penalty.positive:
        return 0.0
    h = np.abs(datafit.raw_hessp(y, z, np.ones_like(z))) * n
    r = _EPS * h * (np.abs(z) + 1.0)
    rms = float(np.sqrt(r @ r / n))
    delta_sq = design.column_squared_norms() * (rms / n) ** 2
    floor = float(np.sum(delta_sq[:p] / (2.0 * np.broadcast_to(l2, (p,)))))
    if design.fit_intercept:
        floor += 0.5 * float(delta_sq[p]) / pgmap.curvature
    return floor

