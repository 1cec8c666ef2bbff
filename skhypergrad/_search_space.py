r"""Where a search looks, in units of the data: reference weights, default bounds, the scan.

For least squares, :math:`y \to c\,y` maps the solution at :math:`(l1, l2)` to
:math:`c\,w` at :math:`(c\,l1, l2)`, and :math:`X \to c\,X` maps it to :math:`w / c`
at :math:`(c\,l1, c^2 l2)`: the same predictions. So an L1 weight is measured
relative to :math:`l1_{\max}`, the smallest weight that zeroes every coefficient
(:func:`lam1_max`, which scales as :math:`c_y c_X`), and an L2 weight relative to
the curvature of the datafit,

.. math::

    \kappa = \frac{c}{n p} \sum_j \|X_j - \bar X_j\|^2

over the ``p`` columns that are not constant (a constant column, zero once centred,
changes no model; see :func:`l2_scales`), ``c`` the datafit's
:meth:`~skhypergrad.datafits.BaseDatafit.reference_curvature` at the null model
(its ``curvature`` for least squares, the columns centred when an intercept is
fitted: the mean diagonal of the Hessian, which scales as :math:`c_X^2` and
moves with neither :math:`y` nor a shift of the columns; for a datafit whose
curvature scales with :math:`y`, Huber's, :math:`\kappa` scales with it, as the
L2 weight of the same predictions does). Bounds, starting
points and the starting scan stated in these units (:class:`SearchScales`)
make the chosen model equivariant: rescaling ``y`` or ``X`` rescales the chosen
weights and leaves their relative position, and the predictions, unchanged.

The weak end of the L2 weight (its lower bound, the "no L2 term" level of the
scan and the ridge path) is relative to :math:`\kappa_{\min} \le \kappa`
(:func:`l2_floor_scale`), the geometric mean of the centred columns' curvatures where
it is below their mean: a mean follows the largest column, a column in other units
alone, or without an intercept the columns' means (one direction of the Hessian,
:math:`\|\bar X\|^2` for ``X + 1e4``, the others at the columns' variances), and it
scales as :math:`c_X^2` too. The weak end of the L1 weight (its lower
bound, and the points that continue the scan's paths while their values still fall,
:meth:`SearchScales.scan_below`) is lowered by the same spread,
:math:`\sqrt{\kappa_{\min} / \kappa} \le 1` (an L1 weight scales as :math:`c_X`): a
column in other units alone sets :math:`l1_{\max}`, and the other columns enter only
that many times below it. The weakest L2 weight searched is also at least ``1e-13``
times the largest diagonal entry of the Hessian (:attr:`SearchScales.l2_resolved`): the
resolution at which the compiled solves factor the Hessian, below which a weight acts
only on directions under the rounding of its entries.
"""

from typing import Any, NamedTuple

import numpy as np
import scipy.sparse as sp

from ._design import centred_column_squares, xty_of
from ._gram_cv_kernel import PIVOT_FLOOR
from ._validation import safe_lam_max

__all__ = ["SearchScales", "SearchDefaults", "lam1_max", "null_model", "l2_scale",
           "l2_floor_scale", "l2_scales", "search_scales", "clipped_back", "LEAST_SQUARES",
           "L1_LEAST_SQUARES", "LOG_LOSS", "SQUARED_HINGE", "GLM"]


class SearchDefaults(NamedTuple):
    """Where a search looks by default, in relative weights (see :class:`SearchScales`).

    Attributes
    ----------
    l1_range, l2_range : (float, float)
        Search intervals of the L1 weight (relative to ``lam1_max``) and of the L2
        weight (relative to the curvature ``kappa``).
    scan_l1 : ndarray
        Relative L1 weights of the starting scan's paths, from strong to weak.
    scan_l2 : tuple of float
        Relative L2 weights of the paths (penalties with an L2 term), increasing; the
        lower bound of ``l2_range`` stands for "no L2 term".
    scan_ridge : ndarray
        Relative L2 weights of the one path of a penalty without an L1 term, from
        strong to weak.
    scan_patience : float
        How many decades of its weight the first path of the scan must stay above its
        minimum before the scan leaves it (see :func:`skhypergrad._tune.tune`).
    weighted_scan_patience : float or None
        The ``scan_patience`` of a search whose held-out losses or training loss are
        weighted (sample or class weights); None: ``scan_patience``.
    scan_back : ndarray or None
        Relative L2 weights above ``scan_ridge[0]``, increasing: the points the scan of a
        penalty without an L1 term evaluates, from the ridge path's first point
        outwards, when that first point is the best of its path (see ``scan_back`` of
        :func:`skhypergrad._tune.tune`); None: none (the descent climbs from it).
    """

    l1_range: tuple
    l2_range: tuple
    scan_l1: np.ndarray
    scan_l2: tuple
    scan_ridge: np.ndarray = 10.0 ** (2.0 - np.arange(13) / 2.0)
    scan_patience: float = 1.0
    weighted_scan_patience: Any = None
    scan_back: Any = None

    def patience(self, weighted):
        """The scan's patience (:attr:`scan_patience`, or :attr:`weighted_scan_patience`
        when set and the search's losses are ``weighted``)."""
        if weighted and self.weighted_scan_patience is not None:
            return self.weighted_scan_patience
        return self.scan_patience


#: least squares: paths down to 1e-4 lam1_max
LEAST_SQUARES = SearchDefaults((1e-6, 10.0), (1e-6, 1e3), 10.0 ** (-np.arange(1, 13) / 3.0),
                               (1e-6, 1e-2, 1e-1, 1.0, 10.0, 1e2))
#: the Lasso and the elastic net: as least squares, their first path left after two of
#: its points (two thirds of a decade) above its minimum, the last not below the one before
#: (a loss that falls again, as the true features enter after noisy ones, is followed):
#: past its minimum, the held-out loss of an L1 least-squares path mostly rises steadily as
#: the weight falls, and these points, the least regularized, are the slowest to solve
L1_LEAST_SQUARES = LEAST_SQUARES._replace(scan_patience=2.0 / 3.0)
#: log-losses: ``C`` from ``C_min`` to ``1e4 C_min``; the log-loss keeps decreasing towards
#: separation, so the scan stops at 1e-3 lam1_max; below 1e-4 kappa an L2 term changes
#: little but the conditioning of nearly separable problems. The ridge path (an L2
#: penalty alone) is the log-link GLMs' (see :data:`GLM`): from kappa to 1e-4 kappa, a
#: decade a point, its stronger points evaluated only when kappa is its best one; the
#: held-out log-loss of an L2 path is smooth, and the descent locates its minimum from
#: the best point and its two neighbours
LOG_LOSS = SearchDefaults((1e-4, 10.0), (1e-4, 1e3), 10.0 ** (-np.arange(1, 7) / 2.0),
                          (1e-4, 1e-2, 1.0, 1e2), 10.0 ** -np.arange(0.0, 5.0),
                          scan_back=10.0 ** np.arange(1.0, 4.0))
#: the squared hinge (``LinearSVC``, searched by ``LinearSVCHyperGrad`` and by
#: ``HyperGradSearchCV``): as the log-losses for the L1 weight; an L2 weight from ``1e-6``
#: to ``1e3`` times ``kappa``, its path from ``10 kappa`` to ``1e-5 kappa``. Its intercept
#: is penalized as a coefficient: a strong penalty first moves the coefficients, not the
#: intercept, and a loss weighted like unbalanced classes can rise for two decades of the
#: weight before it falls; a weighted search's scan waits as long (one decade leaves three
#: blobs weighted 1000 : 1e-4 : 1e-4 at ``C ~ 1e-10``, every row of the heavy class
#: misclassified), an unweighted one a decade (two found the same ``C`` on 66 problems,
#: with 18% more evaluations, and on bench_models' LinearSVC rows, two more of nine)
SQUARED_HINGE = SearchDefaults((1e-4, 10.0), (1e-6, 1e3), 10.0 ** (-np.arange(1, 7) / 2.0),
                               (1e-4, 1e-2, 1.0, 1e2), 10.0 ** (1.0 - np.arange(13) / 2.0),
                               scan_patience=1.0, weighted_scan_patience=2.0)
#: log-link GLMs (:mod:`skhypergrad.glm`): as the log-losses (a nearly unpenalized model
#: of counts can drift towards zero means), and a ridge path from kappa to 1e-4 kappa,
#: one point per decade: the held-out deviance of an L2 path is smooth and has one
#: minimum, which the descent then locates from the best point and its two neighbours
#: (on bench_models' GLM rows, half-decade points cost three more evaluations, a sixth
#: of the search, for the same CV deviance to 1e-5). The path starts at kappa, its
#: stronger points (10 kappa to 1e3 kappa) evaluated only when kappa is its best point
#: (``scan_back``): where the minimum is below kappa (bench_models' GLM rows, at 0.1
#: kappa), a point at 10 kappa is one value-only evaluation of seven spent for nothing;
#: where it is above, they are the scan's neighbours of its best point, a decade a point
#: where the descent climbs by a factor e
GLM = SearchDefaults((1e-4, 10.0), (1e-5, 1e3), 10.0 ** (-np.arange(1, 7) / 2.0),
                     (1e-4, 1e-2, 1.0, 1e2), 10.0 ** -np.arange(0.0, 5.0),
                     scan_back=10.0 ** np.arange(1.0, 4.0))


def null_model(pgmap):
    """``w`` of the intercept-only model: zero coefficients, the optimal intercept."""
    design = pgmap.design
    w = design.zeros()
    if design.fit_intercept:
        w[design.n_coefs:] = pgmap.datafit.intercept_only(pgmap.y)
    return w


def null_predictions(pgmap):
    """The predictions ``Xw + b`` of :func:`null_model`: its intercept on every row (0
    without one), shape (n,) or (n, K); no product with ``X`` (``X`` times zero
    coefficients is zero: ``X`` is finite)."""
    design = pgmap.design
    n, K = design.n_samples, design.n_outputs
    z = np.zeros(n if K == 1 else (n, K))
    if design.fit_intercept:
        z += design.intercept(null_model(pgmap))
    return z


def lam1_max(pgmap):
    r"""Smallest L1 weight for which the solution's coefficients are all zero.

    :math:`\max_j |\nabla_j F(0, b^*)|` (for several outputs, the penalty's dual
    norm of the row :math:`\nabla_j F`: the max over classes for the multinomial
    model, the Euclidean norm for a block penalty), with the intercept :math:`b^*`
    optimal for zero coefficients. On a centred dense design (see
    :mod:`skhypergrad._design`) with a ``least_squares`` datafit, :math:`\nabla_W F =
    X^T (b^* - Y) / n = -X^T Y / n` (the centred columns sum to zero): the product
    :func:`~skhypergrad._design.xty_of` keeps with the design for the Gram solvers.
    """
    design, datafit, y = pgmap.design, pgmap.datafit, pgmap.y
    if datafit.least_squares and design.offset is not None and not design.is_sparse:
        g = -xty_of(design, y).ravel()
    else:  # the gradient [X, 1]^T grad_z F(z) at the null model's predictions z
        g = design.rmatvec(datafit.raw_grad(y, null_predictions(pgmap)))[: design.n_coefs]
    # a nonnegative model: a coefficient enters where -grad_j exceeds the weight
    g = np.maximum(-g, 0.0) if pgmap.penalty.positive else np.abs(g)
    g = pgmap.penalty.row_dual_norms(g.reshape(design.n_features, design.n_outputs))
    return max(float(g.max(initial=0.0)), np.finfo(float).tiny)


#: a column is constant where its centred sum of squares is at most this times its sum of
#: squares: its spread below 1e-10 times its mean. The centred sums are summed over the
#: differences (:func:`~skhypergrad._design.centred_column_squares`), whose round-off is
#: about 1e-32 times the sum of squares; a column of mean 1e4 with one entry in 300 off
#: by 0.06 (``load_digits / 16 + 1e4``) is at 1e-13, and not constant.
_CONSTANT_RATIO = 1e-20


def _column_curvatures(pgmap):
    r"""``(k, constant, spread, flat)``: the diagonal of the Hessian at the null model,
    :math:`k_j = \frac{c}{n}\|X_j - \bar X_j\|^2` per column with an intercept,
    :math:`\frac{c}{n}\|X_j\|^2` without one (see :func:`l2_scale`), and where that
    column is constant (with an intercept: its centred sum of squares at most
    ``_CONSTANT_RATIO`` times its sum of squares, the round-off of the centring; without
    one: zero); ``spread`` and ``flat``: the same of the columns centred (``k`` and
    ``constant`` themselves with an intercept). With sample weights :math:`s_i` (mean 1),
    the sums and the means are weighted."""
    design = pgmap.design
    c = pgmap.datafit.reference_curvature(pgmap.y, null_predictions(pgmap))
    X, n, p = design.X, design.n_samples, design.n_features
    sq = design.column_squared_norms()[:p] if design.fit_intercept else \
        design.column_squared_norms()
    raw = centred = sq
    s = pgmap.datafit.sample_weight
    if s is not None:  # sum_i s_i (x_ij - m_j)^2, shift-invariant: from the stored X
        raw = np.asarray(X.multiply(X).T @ s if sp.issparse(X) else (X * X).T @ s).ravel()
        centred = centred_column_squares(X, np.asarray(X.T @ s).ravel() / n, s)
    elif design.fit_intercept and design.offset is None:  # (a centred design's are)
        centred = centred_column_squares(X, np.asarray(X.sum(axis=0)).ravel() / n)
    elif design.offset is None:
        centred = _spreads(X, sq)
    else:
        raw = sq + n * np.asarray(design.offset, dtype=np.float64) ** 2
    raw = np.asarray(raw, dtype=np.float64)
    centred = np.asarray(centred, dtype=np.float64)
    flat = centred <= _CONSTANT_RATIO * raw
    if design.fit_intercept:
        return c * centred / n, flat, c * centred / n, flat
    return c * raw / n, raw <= 0.0, c * centred / n, flat


#: a column's centred sum of squares is read as its sum of squares less ``n`` times its
#: squared mean where it is above this fraction of the sum (losing at most ``u / 1e-6``
#: of it to rounding), from the differences elsewhere
_SPREAD_RATIO = 1e-6


def _spreads(X, sq):
    r""":math:`\|X_j - \bar X_j\|^2` for every column of ``X`` from its sum of squares
    ``sq``: :math:`\|X_j\|^2 - n \bar X_j^2`, or summed over the differences
    (:func:`~skhypergrad._design.centred_column_squares`) for the columns where that
    cancels (``X + 1e4``); no copy of ``X`` when none does."""
    n = X.shape[0]
    mu = np.asarray(X.sum(axis=0), dtype=np.float64).ravel() / n
    sq = np.asarray(sq, dtype=np.float64)
    spread = sq - n * mu * mu
    close = np.flatnonzero(spread <= _SPREAD_RATIO * sq)
    if close.size:
        spread[close] = centred_column_squares(X[:, close], mu[close])
    return spread


def l2_scale(pgmap):
    r"""The curvature :math:`\kappa` of the module docstring (1.0 when every column is
    constant: the L2 weight then changes nothing).

    ``c`` is the datafit's
    :meth:`~skhypergrad.datafits.BaseDatafit.reference_curvature` at the predictions
    :math:`b^*` of the null model (:func:`null_model`): its ``curvature`` when it has a
    global bound; for the log-link GLMs (``curvature = None``) the mean second
    derivative :math:`\frac1n\sum_i \ell''(y_i, b^*)`, so that :math:`\kappa` is the
    mean diagonal of the Hessian there (:math:`\bar y^{2-p}` for a Tweedie power
    ``p``); for :class:`~skhypergrad.huber.Huber`, the robust curvature of the median
    residual there. With sample weights :math:`s_i` (mean 1), the columns' weighted
    sums of squares about their weighted means: the scales of the rows repeated."""
    return l2_scales(pgmap)[0]


def l2_floor_scale(pgmap):
    r"""The curvature :math:`\kappa_{\min} \le \kappa` the lower end of an L2 weight's
    search is stated in: the smaller of :math:`\kappa` (:func:`l2_scale`) and the
    geometric mean of the centred columns' curvatures :math:`\frac{c}{n}\|X_j - \bar
    X_j\|^2` (the diagonal of the Hessian at the null model with an intercept),
    constant columns left out.

    The mean :math:`\kappa` follows the largest columns: one column in other units
    (``X[:, j] * 1e4``, areas next to ratios in ``load_breast_cancer``) raises it by
    orders of magnitude, and an L2 weight of ``1e-6`` :math:`\kappa` still shrinks
    the other columns hard. The geometric mean moves by the product of the
    columns' scales, not by the largest: equal to :math:`\kappa` when the columns
    have one variance (standardized data), and, like it, scaled by :math:`c_X^2`.

    Without an intercept the Hessian of least squares is :math:`\frac{c}{n} X^T X =
    c\,(C + \bar X \bar X^T)`, ``C`` the covariance of the columns and :math:`\bar X`
    their means: the rank-one term of the means lifts one eigenvalue (the means'
    direction: :math:`c\|\bar X\|^2` for ``X + 1e4``, which :math:`\kappa` follows)
    and, by interlacing, leaves the other ``p - 1`` between the extremes of ``C``'s,
    where an L2 weight acts on every direction but that one. The floor is therefore
    read from the centred columns, with or without an intercept."""
    return l2_scales(pgmap)[1]


def l2_scales(pgmap):
    r"""``(kappa, kappa_min, kappa_max)``: :func:`l2_scale` and :func:`l2_floor_scale`
    from one pass over the columns, constant columns left out of both (with an
    intercept, a constant column is zero once centred: adding one changes neither;
    ``kappa_min`` is read from the centred columns, see :func:`l2_floor_scale`), and
    the largest diagonal entry of the Hessian at the null model (``kappa`` when every
    column is constant)."""
    k, constant, spread, flat = _column_curvatures(pgmap)
    k = k[~constant]  # a constant column (centred: zero) changes no model
    kappa = _positive(float(np.mean(k)) if k.size else 0.0)
    kappa_max = _positive(float(np.max(k))) if k.size and np.all(np.isfinite(k)) else kappa
    k = spread[~flat]  # without an intercept, a constant column is the mean's direction
    k = k[np.isfinite(k) & (k > 0)]
    if k.size == 0:
        return kappa, kappa, kappa_max
    return kappa, min(kappa, _positive(float(np.exp(np.mean(np.log(k)))))), kappa_max


def _positive(kappa):
    """``kappa``, or 1.0 when it is not a positive finite number."""
    return kappa if kappa > 0 and np.isfinite(kappa) else 1.0


class SearchScales(NamedTuple):
    """Reference weights of one problem: ``lam`` from relative weights and back.

    Attributes
    ----------
    l1 : float
        ``lam1_max``.
    l2 : float
        The curvature ``kappa``.
    penalty : BasePenalty
    n_features : int
    l2_low : float or None, default=None
        The curvature ``kappa_min`` of the lower end of the L2 weight's search
        (:func:`l2_floor_scale`); None: ``kappa``.
    l2_resolved : float, default=0.0
        The smallest L2 weight searched (its lower bound and the scan's weak end are
        raised to it): ``PIVOT_FLOOR`` (``1e-13``) times the largest diagonal entry of
        the Hessian at the null model (:func:`l2_scales`), the resolution at which the
        solvers factor the Hessian (:mod:`skhypergrad._gram_cv_kernel`). A weight below
        it acts only on directions whose curvatures are below the rounding of the
        Hessian's entries (without an intercept, the means' direction of ``X + 1e4``
        has ``1e8`` per column and the others ``1e-3``): its solutions and held-out
        losses are rounding.
    """

    l1: float
    l2: float
    penalty: Any
    n_features: int
    l2_low: Any = None
    l2_resolved: float = 0.0

    def lam(self, r1, r2=LEAST_SQUARES.l2_range[0]):
        """``lam`` with the L1 weight ``r1 * l1`` and the L2 weight ``r2 * l2``."""
        return self.penalty.lam_from_weights(r1 * self.l1, r2 * self.l2, self.n_features)

    def _floor_ratio(self):
        """``kappa_min / kappa`` (at most 1)."""
        return 1.0 if self.l2_low is None else min(self.l2_low / self.l2, 1.0)

    def _resolved(self, r2):
        """The relative L2 weight ``r2``, at least ``l2_resolved / kappa``."""
        return max(r2, self.l2_resolved / self.l2)

    def _l1_floor_ratio(self):
        """``sqrt(kappa_min / kappa)`` (at most 1): the weak end of the L1 weight's search,
        relative to ``lam1_max``, is lowered by it."""
        return float(np.sqrt(self._floor_ratio()))

    def _scan_l1_below(self, defaults):
        """The relative L1 weights that continue a scan's path below ``scan_l1`` of
        ``defaults``: at its last ratio, down to its last point times
        :meth:`_l1_floor_ratio` (empty when that ratio is 1)."""
        r1 = np.asarray(defaults.scan_l1, dtype=np.float64)
        ratio = self._l1_floor_ratio()
        if ratio >= 1.0 or r1.shape[0] < 2:
            return r1[:0]
        step = r1[-1] / r1[-2]
        more = int(np.ceil(np.log(ratio) / np.log(step) - 1e-9))
        return r1[-1] * step ** np.arange(1, more + 1)

    def unit(self):
        """``lam`` at relative weights 1: ``lam / unit()`` is the relative position."""
        return self.penalty.lam_from_weights(self.l1, self.l2, self.n_features)

    def bounds(self, defaults=LEAST_SQUARES):
        """``(low, high)`` in ``lam`` from the relative intervals of ``defaults``: the L1
        weight from ``l1_range[0]`` times ``lam1_max sqrt(kappa_min / kappa)`` up to
        ``l1_range[1]`` times ``lam1_max``, the L2 weight from ``l2_range[0]`` times
        ``kappa_min`` (at least ``l2_resolved``) up to ``l2_range[1]`` times ``kappa``."""
        lo1, hi1 = defaults.l1_range
        lo2, hi2 = defaults.l2_range
        return (self.lam(lo1 * self._l1_floor_ratio(),
                         self._resolved(lo2 * self._floor_ratio())),
                self.lam(hi1, hi2))

    def scan(self, defaults=LEAST_SQUARES):
        """Paths of the starting scan of ``defaults``, one per L2 level (one for a penalty
        without an L2 term), each from strong to weak L1 weight (``scan_l1``); for a
        penalty without an L1 term, one path over the L2 weights ``scan_ridge``. Relative
        to ``kappa``, except the L2 weights of the weak end: the lowest level
        ``scan_l2[0]`` (no L2 term) and the ridge path are relative to ``kappa_min``
        (the same when ``kappa_min = kappa``). A ridge path from ``100 kappa`` would
        cross, flat, the decades in which only the largest columns are fitted, and the
        scan would leave it before the other columns enter: on ``load_diabetes``
        (columns of unit variance) with one column times 1e4, the 5-fold MSE is 5764 at
        ``kappa`` and at ``1e-4 kappa`` alike, 2983 at ``1e-8 kappa``. The descent still
        reaches ``l2_range[1] kappa`` from the scan's best point. The L1 paths go on
        below ``scan_l1[-1]`` in :meth:`scan_below`."""
        ratio = self._floor_ratio()
        if not self.penalty.has_l1:  # (its weak end raised to l2_resolved: once)
            r2 = np.array([self._resolved(r2 * ratio) for r2 in defaults.scan_ridge])
            return [np.array([self.lam(1.0, r) for r in r2[np.r_[True, r2[1:] < r2[:-1]]]])]
        return self._l1_paths(defaults, defaults.scan_l1)

    def scan_below(self, defaults=LEAST_SQUARES):
        """The points that continue each path of :meth:`scan` below its last L1 weight
        (one array per path, from strong to weak), down to that weight times
        ``sqrt(kappa_min / kappa)`` (see :meth:`bounds`), or None when there are none
        (a penalty without an L1 term, or ``kappa_min = kappa``). A search follows them
        only while its path's values still fall at its last point (``scan_below`` of
        :func:`~skhypergrad._tune.tune`): with one column times 1e6 the Lasso's 5-fold
        MSE on ``load_diabetes`` stays at 5766 from ``5e-2`` to ``5e-6 lam1_max`` (only
        that column fitted; falling by 0.01%), and drops to 2979 at ``3e-8``, as the
        other columns enter."""
        below = self._scan_l1_below(defaults)
        if not self.penalty.has_l1 or below.shape[0] == 0:
            return None
        return self._l1_paths(defaults, below)

    def _l1_paths(self, defaults, scan_l1):
        """One path over the relative L1 weights ``scan_l1`` per L2 level of ``defaults``
        (see :meth:`scan`)."""
        levels = defaults.scan_l2 if self.penalty.has_l2 and not self.penalty.tied \
            else defaults.scan_l2[:1]
        levels = (self._resolved(levels[0] * self._floor_ratio()),) + tuple(levels[1:])
        return [np.array([self.lam(r1, r2) for r1 in scan_l1]) for r2 in levels]

    def scan_back(self, defaults=LEAST_SQUARES):
        """The points above the ridge path's first one (``scan_back`` of ``defaults``,
        relative as the ridge path, :meth:`scan`), increasing: for a penalty without an
        L1 term; None otherwise, or when ``defaults`` states none."""
        if self.penalty.has_l1 or defaults.scan_back is None:
            return None
        ratio = self._floor_ratio()
        return np.array([self.lam(1.0, r2 * ratio) for r2 in defaults.scan_back])


def search_scales(pgmap, X=None, y=None):
    """:class:`SearchScales` of a problem; ``lam1_max`` kept above round-off of a constant
    target (:func:`~skhypergrad._validation.safe_lam_max`, from ``X`` and ``y``)."""
    l1 = lam1_max(pgmap)
    if X is not None:
        l1 = safe_lam_max(l1, X, y)
    kappa, kappa_min, kappa_max = l2_scales(pgmap)
    return SearchScales(l1, kappa, pgmap.penalty, pgmap.design.n_features, kappa_min,
                        PIVOT_FLOOR * kappa_max)


def clipped_back(back, first, lo, hi):
    """The points ``back`` beyond a scan's ``first`` point (:meth:`SearchScales.scan_back`,
    or beyond a path's last point: :meth:`SearchScales.scan_below`) clipped to the
    bounds ``[lo, hi]``, without the points equal to the one before them or to
    ``first`` (clipped, they can repeat a bound, or ``first`` when it is on it); None
    when none is left."""
    back = np.clip(np.atleast_2d(back), lo, hi)
    keep = np.any(back != first, axis=1)
    keep[1:] &= np.any(back[1:] != back[:-1], axis=1)
    return back[keep] if np.any(keep) else None
