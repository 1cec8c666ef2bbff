r"""Huber regression: the datafit, its concomitant scale, scikit-learn's conversions.

scikit-learn's :class:`~sklearn.linear_model.HuberRegressor` minimizes, jointly over
the coefficients ``w``, the intercept ``b`` and a scale :math:`\sigma > 0`,

.. math::

    \sum_{i=1}^n \Big[\sigma + \sigma H_\epsilon\Big(\frac{y_i - x_i^T w - b}{\sigma}\Big)\Big]
    + \alpha \|w\|^2, \qquad
    H_\epsilon(t) = \begin{cases} t^2 & |t| \le \epsilon \\
                                  2\epsilon|t| - \epsilon^2 & |t| > \epsilon. \end{cases}

Divided by ``n``, at a fixed scale, this is the datafit :class:`Huber`,
:math:`F(z) = \frac1n \sum_i \sigma H_\epsilon((y_i - z_i)/\sigma)` (the constant
:math:`\sigma` dropped), with the ridge penalty
:class:`~skhypergrad.penalties.L2` of weight :math:`\lambda_2 = 2\alpha/n`
(:func:`~skhypergrad.penalties.huber_lam_from_sklearn`). The threshold
:math:`\epsilon` is a hyperparameter of the datafit itself (``n_hyper = 1``, the
last entry of ``lam``): every engine differentiates the fit in it.

**The scale.** Here the scale is a constant of the datafit, not a variable of the
inner problem. :func:`concomitant_fit` minimizes over :math:`\sigma` as well: the
objective minimized in the coefficients at a fixed scale is convex in the scale, whose
derivative is a closed form of the residuals there; its root is found by regula
falsi in :math:`\log\sigma`, which reaches scikit-learn's joint solution. The scale is
kept above a floor relative to the spread of ``y`` (:func:`scale_floor`, :math:`10^{-6}`
times its median absolute deviation): on a (near) perfect fit the joint infimum is at
:math:`\sigma \to 0`, where the residuals are rounding errors.
The self-tuning estimator estimates the scale that way once, at its starting
hyperparameters, keeps it fixed during the search (the hypergradient is that of the
fixed-scale model), and refits jointly at the chosen ones, so that its ``coef_``,
``intercept_`` and ``scale_`` are those of ``HuberRegressor(alpha=alpha_,
epsilon=epsilon_)``.
"""

import copy
import warnings
from dataclasses import replace

import numpy as np
from scipy.optimize import brentq
from sklearn.exceptions import ConvergenceWarning

from ._search_space import l2_scale, null_model
from ._datafit_contract import BaseDatafit, register_datafit
from ._sample_weight import per_weight, weighted_mean
from ._weighted_datafit import weighted
from .fixed_point import ProxGradMap
from .solvers import CoordinateDescent

__all__ = ["Huber", "huber_scale", "weighted_median", "spread", "scale_floor",
           "concomitant_fit",
           "reference_curvature_at_floor"]


@register_datafit
class Huber(BaseDatafit):
    r"""Huber loss at a fixed scale: :math:`F(z) = \frac1n\sum_i \sigma H_\epsilon(r_i/\sigma)`.

    Per sample, with :math:`r = y - z`: :math:`r^2/\sigma` where
    :math:`|r| \le \epsilon\sigma` (an inlier), :math:`2\epsilon|r| - \epsilon^2\sigma`
    beyond. Its gradient in ``z`` is :math:`-\psi(r)/n`, :math:`\psi(r) = 2r/\sigma` on
    the inliers and :math:`2\epsilon\,\mathrm{sign}(r)` on the outliers; its second
    derivative :math:`2/\sigma` on the inliers, 0 beyond (``curvature = 2/sigma``).

    Parameters
    ----------
    epsilon : float, default=1.35
        Threshold, in units of the scale (scikit-learn's ``epsilon``).
    scale : float, default=1.0
        The scale :math:`\sigma` (scikit-learn's ``scale_``; see :func:`concomitant_fit`).
    tune_epsilon : bool, default=True
        Whether ``epsilon`` is a hyperparameter (``n_hyper = 1``: the last entry of
        ``lam``, whose value then replaces ``epsilon``), or a constant.
    """

    name = "huber"
    outer_losses = ("squared",)
    estimates_constants = True
    accepts_sample_weight = True
    newton_model = "diagonal"
    piecewise_quadratic = True

    def __init__(self, epsilon=1.35, scale=1.0, tune_epsilon=True):
        self.epsilon = float(epsilon)
        self.scale = float(scale)
        self.tune_epsilon = bool(tune_epsilon)

    @property
    def n_hyper(self):
        return int(self.tune_epsilon)

    @property
    def curvature(self):
        return 2.0 / self.scale

    def hyper(self):
        return np.array([self.epsilon]) if self.tune_epsilon else np.empty(0)

    def hyper_bounds(self):
        """``epsilon`` in [1.1, 3] (scikit-learn requires ``epsilon >= 1``; at 1 the
        concomitant scale vanishes)."""
        n = self.n_hyper
        return np.full(n, 1.1), np.full(n, 3.0)

    def at(self, theta):
        return Huber(float(theta[0]), self.scale, self.tune_epsilon)

    def _outliers(self, r):
        return np.abs(r) > self.epsilon * self.scale

    def loss(self, y, z, sample_weight=None):
        r = y - z
        a = np.abs(r)
        eps, s = self.epsilon, self.scale
        return weighted_mean(np.where(a > eps * s, 2.0 * eps * a - eps * eps * s, r * r / s),
                             sample_weight)

    def raw_grad(self, y, z):
        r = y - z
        psi = np.where(self._outliers(r), 2.0 * self.epsilon * np.sign(r), 2.0 * r / self.scale)
        return -psi / y.shape[0]

    def raw_hessp(self, y, z, dz):
        return np.where(self._outliers(y - z), 0.0, 2.0 / self.scale) * dz / y.shape[0]

    def newton_curvature(self, y, z):
        r"""The curvature of the sharpest quadratic majorizing each sample's loss at
        ``z_i`` (Huber's iteratively reweighted least squares):
        :math:`h_i = \psi(r_i)/r_i`, i.e. :math:`2/\sigma` on the inliers (the second
        derivative) and :math:`2\epsilon/|r_i| \le 2/\sigma` on the outliers.

        The loss is :math:`\rho(r) = g(r^2)` with :math:`g` concave, so
        :math:`\rho(s) \le \rho(r) + \psi(r)(s - r) + \frac{\psi(r)}{2r}(s - r)^2`: the
        model with these curvatures lies above the objective and its minimizer decreases
        it, where the second derivative (0 on the outliers, where the slope is not)
        would leave the model unbounded below."""
        r = np.abs(y - z)
        out = r > self.epsilon * self.scale
        return np.where(out, 2.0 * self.epsilon / np.where(out, r, 1.0), 2.0 / self.scale)

    def reference_curvature(self, y, z, sample_weight=None):
        r"""The curvature the search measures L2 weights in, in units of the data:
        :math:`c = \min(2/\sigma,\ 2\epsilon/s)`, :math:`s` the spread
        (:func:`spread`, weighted by ``sample_weight``) of the residuals
        :math:`r = y - z` of the null model ``z``.

        It is the :meth:`newton_curvature` :math:`\psi(r_i)/r_i` of the sample of median
        residual, that is the median of the per-sample curvatures: :math:`2/\sigma` when
        that sample is an inlier, else the curvature of the quadratic through its loss.
        The bound :math:`2/\sigma` alone would tie the search's range to the scale,
        which on a (near) perfect fit is at its floor (:func:`scale_floor`, a millionth
        of the spread of ``y``) and put every weight of that range in the region where
        the penalty zeroes the coefficients. Both terms scale as :math:`1/c` for
        :math:`y \to c\,y`, as the L2 weight of the same fit does."""
        s = spread(np.asarray(y) - np.asarray(z), sample_weight)
        return min(2.0 / self.scale, 2.0 * self.epsilon / s) if s > 0 else 2.0 / self.scale

    def smoothing_path(self, y, sample_weight=None):
        r"""The datafits at the scales :math:`s_k = s_0 / 10^k` above :math:`\sigma`,
        from :math:`s_0` = the :func:`spread` of :math:`y - \mathrm{med}(y)` (with
        ``sample_weight``, weighted: the path of the rows repeated for integer weights),
        the last within a factor 10 of :math:`\sigma`; none when :math:`s_0 \le
        \sigma`.

        At :math:`s_0` most residuals of a fit are inliers and the problem is nearly a
        weighted least squares; as the scale shrinks by 10, the residuals of each
        solution scale with it, so that few samples change pieces from one solution to
        the next. At a tiny scale (the floor of an exact fit) Newton's method from
        an arbitrary start sees every sample on a linear piece and pivots through the
        breakpoints one at a time, or finds no curvature at all."""
        s = spread(np.asarray(y) - weighted_median(y, sample_weight), sample_weight)
        path = []
        while s > self.scale:
            path.append(Huber(self.epsilon, s, self.tune_epsilon))
            s /= 10.0
        return tuple(path)

    def _dgrad_depsilon(self, y, z):
        r = y - z
        return np.where(self._outliers(r), -2.0 * np.sign(r), 0.0) / y.shape[0]

    def raw_grad_jvp_param(self, y, z, e):
        return self._dgrad_depsilon(y, z) * e[0]

    def raw_grad_vjp_param(self, y, z, u):
        return np.array([float(self._dgrad_depsilon(y, z) @ u)])

    def dual_term(self, y, theta, sample_weight=None):
        r"""With :math:`f_i(u) = \sigma H_\epsilon((y_i - u)/\sigma)/n`:
        :math:`\sum_i s_i (t_i y_i - \sigma n t_i^2 / 4)`, :math:`t_i = \theta_i / s_i`
        clipped to :math:`|n t_i| \le 2\epsilon` (:math:`s_i = 1` without
        ``sample_weight``)."""
        n = y.shape[0]
        t = np.clip(per_weight(theta, sample_weight), -2.0 * self.epsilon / n,
                    2.0 * self.epsilon / n)
        d = t * y - 0.25 * self.scale * n * t * t
        return float(np.sum(d)) if sample_weight is None else float(d @ sample_weight)

    def estimate_constants(self, pgmap, lam):
        """The datafit at the concomitant scale of the joint fit at ``lam``
        (:func:`concomitant_fit`, to 1e-6 in the scale, at least :func:`scale_floor`,
        from the intercept-only model), with the weights of ``pgmap``'s datafit."""
        scale = concomitant_fit(pgmap, lam, CoordinateDescent(tol=1e-8), null_model(pgmap),
                                scale_tol=1e-6)[1]
        return Huber(self.epsilon, scale, self.tune_epsilon)

    def constants_lam(self, model, X, y, lam, l2_relative, sample_weight=None):
        r"""``lam`` with the penalty's L2 weight replaced by ``l2_relative`` times the
        curvature at the floor scale (:func:`reference_curvature_at_floor`, with
        ``sample_weight``); its L1 weight (which, like the loss, scales as :math:`c` for
        :math:`y \to c\,y`) and ``epsilon`` kept."""
        penalty, p = model.get_penalty(), X.shape[1]
        lam = np.asarray(lam, dtype=np.float64)
        k = lam.shape[0] - model.n_datafit_hyper
        l1 = float(np.max(penalty.weights(lam[:k], p)[0], initial=0.0))
        l2 = l2_relative * reference_curvature_at_floor(model, X, y, sample_weight)
        return np.append(penalty.lam_from_weights(l1, l2, p), lam[k:])

    def intercept_only(self, y):
        """The Huber location of ``y``: the root of :math:`\\sum_i \\psi(y_i - b)`."""
        lo, hi = float(np.min(y)), float(np.max(y))
        if hi <= lo:
            return np.array([lo])
        return np.array([brentq(lambda b: float(np.sum(self.raw_grad(y, np.full_like(y, b)))),
                                lo, hi, xtol=1e-14 * max(1.0, abs(hi)), rtol=1e-15)])

    def __repr__(self):
        return (f"Huber(epsilon={self.epsilon!r}, scale={self.scale!r}"
                + ("" if self.tune_epsilon else ", tune_epsilon=False") + ")")


def huber_scale(residuals, epsilon, sample_weight=None):
    r"""The scale minimizing :math:`\sum_i s_i (\sigma + \sigma H_\epsilon(r_i/\sigma))` at
    fixed residuals: the root of :math:`\sum_i s_i - \sum_{|r_i| \le \epsilon\sigma}
    s_i r_i^2/\sigma^2 - \epsilon^2 \sum_{|r_i| > \epsilon\sigma} s_i`.

    On the interval where the ``k`` smallest :math:`|r_i|` are the inliers the root is
    :math:`\sigma^2 = \sum_{i<k} s_{(i)} r_{(i)}^2 / (S - \epsilon^2 \sum_{i \ge k}
    s_{(i)})`, :math:`S = \sum_i s_i`; the one ``k`` whose root lies in its interval is
    taken (the derivative increases with :math:`\sigma`: the objective is convex).

    Parameters
    ----------
    residuals : ndarray of shape (n_samples,)
    epsilon : float
        At least 1 (below, the scale tends to 0 when every residual is an outlier).
    sample_weight : ndarray of shape (n_samples,), default=None
        Nonnegative weights :math:`s_i` (None: all 1); a row of weight 0 counts as absent.

    Returns
    -------
    float
    """
    a = np.abs(np.asarray(residuals, dtype=np.float64))
    s = np.ones_like(a) if sample_weight is None else np.asarray(sample_weight, np.float64)
    a, s = a[s > 0], s[s > 0]
    order = np.argsort(a, kind="stable")
    a, s = a[order], s[order]
    cum = np.cumsum(s)
    den = cum - (epsilon * epsilon - 1.0) * (cum[-1] - cum)
    with np.errstate(divide="ignore", invalid="ignore"):
        sigma = np.sqrt(np.cumsum(s * a * a) / den)
    upper = np.append(a[1:], np.inf)
    ok = (den > 0) & (a <= epsilon * sigma * (1 + 1e-12)) & (epsilon * sigma <= upper)
    if not ok.any():
        return float(np.finfo(np.float64).eps * 10)
    return max(float(sigma[np.argmax(ok)]), float(np.finfo(np.float64).eps * 10))


def weighted_median(values, sample_weight=None):
    r"""The median of ``values`` with nonnegative weights :math:`s_i`: the smallest
    value whose cumulated weight (values sorted) exceeds half the total, the mean of it
    and the next value of positive weight when the cumulated weight reaches exactly
    half (to :math:`10^{-12}` relative). Integer weights give the median of the values
    repeated (``np.median``); None gives ``np.median``.

    Parameters
    ----------
    values : ndarray of shape (n_samples,)
    sample_weight : ndarray of shape (n_samples,), default=None

    Returns
    -------
    float
    """
    v = np.asarray(values, dtype=np.float64)
    if sample_weight is None:
        return float(np.median(v))
    s = np.asarray(sample_weight, dtype=np.float64)
    v, s = v[s > 0], s[s > 0]
    order = np.argsort(v, kind="stable")
    v, s = v[order], s[order]
    frac = np.cumsum(s) / np.sum(s)
    k = int(np.searchsorted(frac, 0.5 - 1e-12))  # first with frac >= 1/2 (to rounding)
    if abs(frac[k] - 0.5) <= 1e-12 and k + 1 < v.shape[0]:
        return 0.5 * float(v[k] + v[k + 1])
    return float(v[k])


def spread(r, sample_weight=None):
    r"""The median absolute value :math:`\mathrm{med}_i |r_i|`, or the mean
    :math:`\frac1n\sum_i |r_i|` when that is 0 (half the values or more are 0; both
    0 when all are); with ``sample_weight``, their weighted forms
    (:func:`weighted_median`, the weighted mean), those of the values repeated for
    integer weights.

    Parameters
    ----------
    r : ndarray of shape (n_samples,)
    sample_weight : ndarray of shape (n_samples,), default=None

    Returns
    -------
    float
    """
    a = np.abs(np.asarray(r, dtype=np.float64))
    mean = float(np.mean(a)) if sample_weight is None else \
        float(a @ sample_weight) / float(np.sum(sample_weight))
    return weighted_median(a, sample_weight) or mean


def reference_curvature_at_floor(model, X, y, sample_weight=None):
    r"""The curvature :math:`\kappa_0` (:func:`~skhypergrad._search_space.l2_scale`) of
    ``model`` (a :class:`Huber` datafit) on ``(X, y)`` at the floor scale
    (:func:`scale_floor`): :math:`\frac{2\epsilon}{s}\frac{1}{np}\sum_j\|X_j -
    \bar X_j\|^2`, :math:`s` the median absolute residual of the null model (with
    ``sample_weight``: weighted medians, means and sums of squares, those of the rows
    repeated for integer weights).

    The L2 weights at which the scale is estimated before a search are multiples of
    it: it scales as :math:`1/c` for :math:`y \to c\,y`, so that the L2 term, like the
    loss, scales as :math:`c`, and the estimated scale as :math:`c`.
    """
    floor = replace(model, datafit=Huber(model.get_datafit().epsilon,
                                         scale_floor(y, sample_weight=sample_weight),
                                         tune_epsilon=False))
    return l2_scale(floor.make_map(X, floor.encode(y), center=True,
                                   sample_weight=sample_weight))


def scale_floor(y, ratio=1e-6, sample_weight=None):
    r"""The smallest scale :func:`concomitant_fit` takes:
    :math:`\sigma_{\min} = \max\big(\delta\, s(y),\ 10\,u \max(1, \|y\|_\infty)\big)`.

    :math:`\delta` is ``ratio``, :math:`u` the float64 machine epsilon and :math:`s(y)`
    the :func:`spread` of :math:`y - \mathrm{med}(y)`: the median absolute deviation, or
    the mean absolute deviation when that is 0 (half the targets or more equal; both 0
    for a constant ``y``). The second term is
    scikit-learn's own bound on the scale (:math:`10u`), raised to the rounding level of
    ``y``: below it the residuals, hence the derivative in the scale, are rounding errors.
    With ``sample_weight``, the weighted median and spread (:func:`weighted_median`) and
    the largest :math:`|y_i|` of positive weight: those of the rows repeated for integer
    weights, of the rows dropped for zero weights.

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
    ratio : float, default=1e-6
        :math:`\delta`.
    sample_weight : ndarray of shape (n_samples,), default=None

    Returns
    -------
    float
    """
    y = np.asarray(y, dtype=np.float64)
    u = float(np.finfo(np.float64).eps)
    top = float(np.max(np.abs(y if sample_weight is None else y[sample_weight > 0])))
    return max(ratio * spread(y - weighted_median(y, sample_weight), sample_weight),
               10.0 * u * max(1.0, top))


def concomitant_fit(pgmap, lam, solver, w0=None, scale_tol=1e-12, max_iter=100,
                    floor_ratio=1e-6, eval_tol=1e-10):
    r"""The joint minimizer over ``(w, b, sigma)`` of :class:`Huber`'s objective plus the
    penalty, as :class:`~sklearn.linear_model.HuberRegressor` defines it, with
    :math:`\sigma \ge \sigma_{\min}` (:func:`scale_floor` of the target).

    The objective minimized in ``(w, b)`` at a fixed scale,
    :math:`\phi(\sigma)`, is convex in :math:`\sigma` (a partial minimization of a
    jointly convex function), with the derivative (Danskin)
    :math:`\phi'(\sigma) = \sum_i s_i (1 - \min(t_i^2, \epsilon^2))`,
    :math:`t = r(w^*(\sigma)) / \sigma`, :math:`s_i` the weights of ``pgmap``'s datafit
    (1 without; scikit-learn's ``sample_weight`` enter its objective as these factors of
    each sample's :math:`\sigma + \sigma H_\epsilon`, so the joint fit with weights
    is the weighted one of :class:`~sklearn.linear_model.HuberRegressor`): its root is found in
    :math:`\log\sigma` by regula falsi (Illinois), bracketed from the scale of the
    residuals of the solution at the scale of those of ``w0`` (the datafit's scale
    without ``w0``) by steps doubling in length, each evaluation one
    warm-started ``solver`` call. When :math:`\phi' > 0` at :math:`\sigma_{\min}` (a
    perfect fit, or ``epsilon`` near 1 with few samples per coefficient: the infimum is
    at :math:`\sigma \to 0`) the scale is :math:`\sigma_{\min}`, the minimizer on
    :math:`\sigma \ge \sigma_{\min}`.

    The evaluations while the scale is searched run ``solver`` with its warning off and
    its ``tol`` raised to ``eval_tol``: the root finder needs :math:`\phi'` to the
    accuracy of the scale, not of the coefficients, and a tighter gap can cost orders of
    magnitude more epochs where it nears its rounding floor (with an L1 part).
    The final solve at the returned scale is ``solver``'s own, warm-started: it warns
    (``ConvergenceWarning``) when it does not reach ``solver``'s tolerance, and a
    ``ConvergenceWarning`` states
    :math:`|\phi'(\sigma)|/\sum_i s_i` and the bracket's width when ``max_iter`` evaluations
    did not bring the scale to ``scale_tol``.

    Parameters
    ----------
    pgmap : ProxGradMap
        With a :class:`Huber` datafit (its ``epsilon`` and starting ``scale``), weighted
        or not (:func:`~skhypergrad.datafits.weighted`).
    lam : ndarray
        The map's hyperparameters (``epsilon`` last when it is one of them).
    solver : solver instance
    w0 : ndarray, default=None
        Warm start of ``(w, b)`` in the map's coordinates.
    scale_tol : float, default=1e-12
        Accuracy of :math:`\log\sigma` (relative accuracy of the scale).
    max_iter : int, default=100
        Evaluations of the root finder.
    floor_ratio : float, default=1e-6
        The ratio :math:`\delta` of :func:`scale_floor`.
    eval_tol : float, default=1e-10
        The tolerance of the evaluations of :math:`\phi'` (``solver``'s when larger).

    Returns
    -------
    w : ndarray of shape (n_params,)
        In the map's coordinates.
    scale : float
    fixed_map : ProxGradMap
        The map of the Huber datafit at that scale (``epsilon`` fixed), ``w`` its
        solution at ``lam``'s penalty part.
    """
    fixed, lam_pen = pgmap.problem(lam)
    huber, sw = fixed.datafit.unweighted, fixed.datafit.sample_weight
    eps = huber.epsilon
    lo = np.log(scale_floor(fixed.y, floor_ratio, sw))
    quiet = copy.copy(solver)  # the search's evaluations: to eval_tol, unwarned
    quiet.warn = False
    if solver.tol is not None:
        quiet.tol = max(solver.tol, eval_tol)
    last = {"w": w0}

    def solve_at(log_scale, by=quiet):
        m = ProxGradMap.on_design(
            weighted(Huber(eps, float(np.exp(log_scale)), tune_epsilon=False), sw),
            fixed.penalty, fixed.design, fixed.y)
        last["w"] = by.solve(m, lam_pen, last["w"]).w
        return m, last["w"]

    def dphi(log_scale):
        m, w = solve_at(log_scale)
        t = (m.y - m.design.matvec(w)) / np.exp(log_scale)
        return 1.0 - weighted_mean(np.minimum(t * t, eps * eps), sw)

    # the first solve at the scale of the residuals of w0 (the datafit's without w0): in
    # the units of y, where most residuals are inliers and Newton's steps hold
    start = huber.scale if w0 is None else \
        huber_scale(fixed.y - fixed.design.matvec(w0), eps, sw)
    m, w = solve_at(max(np.log(max(start, np.finfo(np.float64).tiny)), lo))
    a = max(np.log(huber_scale(m.y - m.design.matvec(w), eps, sw)), lo)
    fa = dphi(a)
    step = np.log(2.0) * (1.0 if fa < 0 else -1.0)  # phi' < 0: the scale is too small
    b = max(a + step, lo)
    fb = dphi(b) if b != a else fa
    while fa * fb > 0 and b > lo:
        # upwards by constant steps: phi' > 0 once the scale exceeds the residuals' root
        # mean square (at most std(y)); downwards by doubling ones, to the floor at most
        step *= 2.0 if step < 0 else 1.0
        a, fa = b, fb
        b = max(b + step, lo)
        fb = dphi(b)
    if fa * fb > 0:  # phi' > 0 at the floor: the minimizer on sigma >= sigma_min
        return _final(solve_at, solver, b)
    for _ in range(max_iter):  # Illinois regula falsi on the bracket [a, b]
        if fb == 0 or abs(b - a) <= scale_tol:
            break
        c = b - fb * (b - a) / (fb - fa)
        fc = dphi(c)
        if fc * fb < 0:
            a, fa = b, fb
        else:
            fa *= 0.5
        b, fb = c, fc
    else:
        warnings.warn(
            f"The Huber scale did not converge in {max_iter} evaluations (|phi'(sigma)|/n "
            f"{abs(fb):.2e}, log-scale bracket {abs(b - a):.2e} > scale_tol "
            f"{scale_tol:.1e}); increase max_iter or scale_tol.", ConvergenceWarning,
            stacklevel=2)
    return _final(solve_at, solver, b)


def _final(solve_at, solver, log_scale):
    """``(w, scale, map)`` at the scale found, solved by ``solver`` itself (its warning)."""
    m, w = solve_at(log_scale, solver)
    return w, float(np.exp(log_scale)), m
