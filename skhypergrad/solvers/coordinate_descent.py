r"""Proximal coordinate descent with working sets: the default inner solver.

For least squares and binary logistic regression with an elastic-net penalty
(:class:`~skhypergrad.penalties.L1`, :class:`~skhypergrad.penalties.ElasticNet`,
:class:`~skhypergrad.penalties.WeightedL1`), coordinate ``j`` of a quadratic
model of the datafit is minimized exactly,

.. math::

    w_j \leftarrow \frac{S_{l1_j / L_j}(w_j - g_j / L_j)}{1 + l2 / L_j},
    \qquad g_j = \frac1n X_j^T d, \quad L_j = \frac1n \sum_i h_i X_{ij}^2,

and the unpenalized intercept after every epoch (:math:`b \leftarrow b - \sum_i
d_i / \sum_i h_i`); ``d`` is the model's derivative with respect to the
predictions and ``h`` its curvature (see :mod:`skhypergrad.solvers._cd_kernels`).
For least squares the model is the problem (``h = 1``, plain coordinate
descent); for the logistic loss it is the proximal Newton model at the current
point, ``h_i = l''(y_i, z_i)``, followed by a backtracking line search (the
approach of glmnet, newGLMNET/liblinear and skglm's ``ProxNewton``).

Working sets (celer, skglm): each outer iteration computes the full gradient
:math:`X^T \nabla_z F` once, scores every feature by its coordinate step
:math:`L_j |\Delta_j|` (zero exactly at optimality), and solves the problem
restricted to the current support plus the worst violators (at least twice the
support) until the violation inside is below ``inner_ratio`` times the
violation outside. Coordinate descent epochs on a working set are accelerated by
Anderson extrapolation (Bertrand and Massias, 2021). The stopping test is the
relative duality gap of the full problem, evaluated only when the coordinate
steps allow it: a step :math:`\Delta_j` decreases the objective by at least
:math:`L_j \Delta_j^2 / 2`, a lower bound on the gap.
"""

import weakref
from numbers import Integral
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

from .._design import Design
from ._base import BaseSolver, SolveResult
from ._cd_kernels import cd_epoch, columns_gradient_curvature, prox_steps
from ._gap import gap_scale

__all__ = ["CoordinateDescent"]

_UNIT = np.empty(0)  # curvature h of least squares: all ones, never read


class CoordinateDescent(BaseSolver):
    """Proximal coordinate descent with working sets, stopping on the relative duality gap.

    Supports the :class:`~skhypergrad.datafits.Quadratic` and
    :class:`~skhypergrad.datafits.Logistic` datafits with the elastic-net
    penalties, dense or sparse ``X``; use
    :class:`~skhypergrad.solvers.ProxGradient` for the multinomial datafit.
    The algorithm is described in :mod:`skhypergrad.solvers.coordinate_descent`.

    Parameters
    ----------
    tol : float, default=1e-8
        Stop when the duality gap divided by the objective's scale (the datafit
        at ``w = 0``) is below ``tol``. The solver also stops, unconverged, when
        every coordinate's violation is at the level of rounding errors.
    max_iter : int, default=1000
        Maximum number of outer iterations (each builds a working set and
        solves the problem restricted to it).
    max_epochs : int, default=10_000
        Maximum number of epochs on one working set (summed over its Newton
        steps for the logistic loss). The ``n_iter`` of the result counts
        epochs, summed over working sets.
    ws_start_size : int, default=100
        Size of the first working set; later ones hold at least twice the
        support of the current iterate and never shrink.
    inner_ratio : float, default=0.3
        A working set is solved until its violation (largest ``L_j |Delta_j|``)
        is below ``inner_ratio`` times the largest violation over all features
        at the start of the outer iteration; each proximal Newton model, to
        ``inner_ratio`` times the violation at its center.
    anderson : int, default=5
        Anderson extrapolation from the last ``anderson + 1`` epochs, kept when
        it lowers the objective; 0 disables it.
    warn : bool, default=True
        Emit a ``ConvergenceWarning`` when ``tol`` is not reached.

    Notes
    -----
    ``X`` is converted once per :class:`~skhypergrad.fixed_point.ProxGradMap`
    (Fortran order for dense ``X``, CSC for sparse ``X``, float64) and kept
    while the map lives, so that repeated solves on one problem, as in a
    hyperparameter search, do not convert it again. Modifying ``X`` in place
    between two solves on the same map is therefore not supported (give the
    map a new array instead).

    References
    ----------
    Massias, Gramfort and Salmon, "Celer: a fast solver for the Lasso with dual
    extrapolation", ICML 2018. Bertrand and Massias, "Anderson acceleration of
    coordinate descent", AISTATS 2021. Lee, Sun and Saunders, "Proximal Newton-type
    methods for minimizing composite functions", SIAM J. Optim. 2014.
    """

    def __init__(self, tol=1e-8, max_iter=1000, max_epochs=10_000, ws_start_size=100,
                 inner_ratio=0.3, anderson=5, warn=True):
        self.tol = tol
        self.max_iter = max_iter
        self.max_epochs = max_epochs
        self.ws_start_size = ws_start_size
        self.inner_ratio = inner_ratio
        self.anderson = anderson
        self.warn = warn

    def _solve(self, pgmap, lam, w):
        self._check_params(pgmap)
        prob = _Problem.build(pgmap, lam)
        z = np.ascontiguousarray(pgmap.design.matvec(w), dtype=np.float64)
        n_epochs, ws_size, measure = 0, self.ws_start_size, np.inf
        for it in range(self.max_iter + 1):
            a = prob.derivative(z)
            scores, grad_b, decrease = prob.optimality(w, a)
            violation = max(scores.max(initial=0.0), grad_b)
            floor = prob.rounding(a)
            last = it == self.max_iter
            # the gap is at least `decrease`; at the rounding floor, no step can help
            if last or decrease <= self.tol * prob.scale or violation <= floor:
                measure = self._stop_measure(pgmap, lam, w, z)
                if last or measure <= self.tol or violation <= floor:
                    break
            ws, ws_size = _working_set(scores, w[:prob.p], ws_size)
            tol_in = max(self.inner_ratio * violation, floor)
            solve_ws = self._ws_least_squares if prob.exact else self._ws_newton
            n_epochs += solve_ws(prob, w, z, a, ws, tol_in)
        return SolveResult(w, n_epochs, measure, measure <= self.tol)

    def _check_params(self, pgmap):
        """ValueError for an unsupported datafit or an invalid parameter."""
        if getattr(pgmap.datafit, "kind", None) not in (0, 1) or pgmap.datafit.n_outputs != 1:
            raise ValueError(
                f"CoordinateDescent supports the Quadratic and Logistic datafits, got "
                f"{pgmap.datafit!r}; use ProxGradient for it.")
        for name, low in (("max_iter", 0), ("max_epochs", 1), ("ws_start_size", 1),
                          ("anderson", 0)):
            value = getattr(self, name)
            if not isinstance(value, Integral) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}.")
        if not 0.0 < self.inner_ratio < 1.0:
            raise ValueError(f"inner_ratio must be in (0, 1), got {self.inner_ratio!r}.")

    # -- one working set ------------------------------------------------------------------
    def _ws_least_squares(self, prob, w, z, a, ws, tol):
        """Coordinate descent on the working set (the model is exact); ``w``, ``z`` in place."""
        v, d = np.zeros_like(z), a.copy()
        epochs = self._minimize_model(prob, w, v, d, a, _UNIT, ws, prob.lc, tol)
        z += v
        return epochs

    def _ws_newton(self, prob, w, z, a, ws, tol):
        """Proximal Newton on the working set: model by coordinate descent, line search."""
        idx = prob.moving(ws)
        lc_model = prob.lc.copy()
        epochs = 0
        while epochs < self.max_epochs:
            h = prob.curvatures(z)
            grad_ws, lc_model[ws] = columns_gradient_curvature(*prob.kernel_args, ws, a, h)
            steps = prox_steps(w[ws], grad_ws, prob.l1[ws], prob.l2, prob.lc[ws])
            violation = np.max(prob.lc[ws] * np.abs(steps), initial=0.0)
            if prob.fit_intercept:
                violation = max(violation, abs(a.mean()))
                lc_model[-1] = h.mean()
            if violation <= tol:
                break
            w_new, v, d = w.copy(), np.zeros_like(z), a.copy()
            model_tol = max(self.inner_ratio * violation, prob.rounding(a))
            epochs += self._minimize_model(prob, w_new, v, d, a, h, ws, lc_model, model_tol)
            t = prob.line_search(w, w_new, z, v, a, ws)
            if t == 0.0:
                break
            w[idx] += t * (w_new[idx] - w[idx])
            z += t * v
            a = prob.derivative(z)
        return epochs

    def _minimize_model(self, prob, w, v, d, a, h, ws, lc, tol):
        """Epochs on the model until an epoch's violation is below ``tol``; returns the count.

        Every ``anderson + 1`` epochs, the iterates are extrapolated (Anderson):
        with ``U`` the differences of the last iterates, ``c`` solves
        ``U U^T c = 1`` normalized to sum 1, and ``sum_k c_k w_k`` replaces ``w``
        when it lowers the model.
        """
        idx = prob.moving(ws)
        K = self.anderson
        hist_w, hist_v = np.empty((K + 1, idx.shape[0])), np.empty((K + 1, v.shape[0]))
        for epoch in range(self.max_epochs):
            violation = cd_epoch(*prob.kernel_args, w, v, d, h, ws, prob.l1, prob.l2, lc,
                                 prob.fit_intercept)
            if violation <= tol:
                return epoch + 1
            if K > 0:
                k = epoch % (K + 1)
                hist_w[k], hist_v[k] = w[idx], v
                if k == K:
                    prob.anderson_step(w, v, d, a, h, ws, hist_w, hist_v)
        return self.max_epochs


class _Problem(NamedTuple):
    """What the driver needs of one problem ``(pgmap, lam)``, computed once per solve."""

    datafit: object
    y: np.ndarray
    kernel_args: tuple
    X: object
    l1: np.ndarray
    l2: float
    lc: np.ndarray  # curvature bounds c ||X_j||^2 / n, then c for the intercept
    curvature: float
    col_norm: float  # largest ||X_j|| (intercept column included)
    scale: float
    exact: bool
    fit_intercept: bool
    p: int

    @classmethod
    def build(cls, pgmap, lam):
        datafit, design = pgmap.datafit, pgmap.design
        X, kernel_args, sq_norms = _prepare(design)
        l1, l2 = pgmap.penalty.weights(lam, design.n_features)
        n, c = design.n_samples, datafit.curvature
        if design.fit_intercept:
            sq_norms = np.append(sq_norms, n)
        return cls(datafit, np.ascontiguousarray(pgmap.y, dtype=np.float64), kernel_args, X,
                   np.ascontiguousarray(l1, dtype=np.float64), float(l2), c * sq_norms / n,
                   c, float(np.sqrt(sq_norms.max(initial=0.0))), gap_scale(pgmap),
                   datafit.kind == 0, design.fit_intercept, design.n_features)

    def derivative(self, z):
        """``a_i = l'(y_i, z_i)`` (the datafit's gradient in ``z``, times n)."""
        return self.datafit.raw_grad(self.y, z) * self.y.shape[0]

    def curvatures(self, z):
        """``h_i = l''(y_i, z_i)``, floored at 1e-12 so that the model stays strongly convex."""
        h = self.datafit.raw_hessp(self.y, z, np.ones_like(z)) * self.y.shape[0]
        return np.maximum(h, 1e-12)

    def optimality(self, w, a):
        """Scores ``L_j |Delta_j|``, ``|grad_b F|`` and the lower bound on the gap.

        One product ``X^T a`` gives the gradient; :func:`prox_steps` the
        coordinate steps ``Delta_j``, each decreasing the objective by at least
        ``L_j Delta_j^2 / 2`` (``grad_b^2 / (2c)`` for the intercept).
        """
        p, n = self.p, a.shape[0]
        grad = np.asarray(self.X.T @ a).ravel() / n
        steps = prox_steps(w, grad, self.l1, self.l2, self.lc)
        scores = self.lc[:p] * np.abs(steps)
        grad_b = abs(a.mean()) if self.fit_intercept else 0.0
        decrease = max(np.max(scores * np.abs(steps), initial=0.0), grad_b ** 2 / self.curvature)
        return scores, grad_b, decrease / 2

    def rounding(self, a):
        """Rounding error of the violations: ``16 eps max_j ||X_j|| ||a|| / n``."""
        return 16 * np.finfo(np.float64).eps * self.col_norm * float(np.linalg.norm(a)) / a.shape[0]

    def moving(self, ws):
        """Entries of ``w`` a working-set solve changes: ``ws`` and the intercept."""
        return np.append(ws, self.p) if self.fit_intercept else ws

    def penalty(self, w_ws, ws):
        """Penalty of the coefficients ``w_ws`` of the features ``ws``."""
        return float(self.l1[ws] @ np.abs(w_ws) + 0.5 * self.l2 * (w_ws @ w_ws))

    def model(self, w, v, a, h, ws):
        """``Q = (a^T v + v^T (h v) / 2) / n + G_ws(w)`` up to a constant."""
        hv = v if h.shape[0] == 0 else h * v
        return float(a @ v + 0.5 * (hv @ v)) / v.shape[0] + self.penalty(w[ws], ws)

    def anderson_step(self, w, v, d, a, h, ws, hist_w, hist_v):
        """Replace ``(w, v, d)`` by the Anderson extrapolation of the history if ``Q`` drops."""
        U = np.diff(hist_w, axis=0)
        try:
            c = np.linalg.solve(U @ U.T, np.ones(U.shape[0]))
        except np.linalg.LinAlgError:
            return
        if not np.all(np.isfinite(c)) or c.sum() == 0.0:
            return
        c /= c.sum()
        idx = self.moving(ws)
        w_acc = w.copy()
        w_acc[idx] = c @ hist_w[1:]
        v_acc = c @ hist_v[1:]
        if self.model(w_acc, v_acc, a, h, ws) < self.model(w, v, a, h, ws):
            w[idx], v[:] = w_acc[idx], v_acc
            d[:] = a + (v_acc if h.shape[0] == 0 else h * v_acc)

    def line_search(self, w, w_new, z, v, a, ws, max_halvings=30):
        r"""Largest step ``t`` in 1, 1/2, ... at which the objective still decreases.

        With :math:`\Delta G = G(w_{new}) - G(w)` on the working set, the convex
        bound :math:`\psi(t) = F(z + tv) + G(w) + t \Delta G \ge P(w + t\Delta)`
        equals :math:`P(w)` at 0, so :math:`\psi'(t) = v^T \ell'(z + tv) / n +
        \Delta G < 0` certifies :math:`P(w + t\Delta) < P(w)`. Testing the
        derivative, not objective values, stays exact near the optimum where
        the decrease is below the objective's rounding. Returns 0 if none is found.
        """
        n, w_ws, new_ws = z.shape[0], w[ws], w_new[ws]
        # G(w_new) - G(w) without cancellation, exact near the optimum
        delta_g = float(self.l1[ws] @ (np.abs(new_ws) - np.abs(w_ws))
                        + 0.5 * self.l2 * ((new_ws - w_ws) @ (new_ws + w_ws)))
        t = 1.0
        for _ in range(max_halvings):
            if float(v @ self.derivative(z + t * v)) / n + delta_g < 0.0:
                return t
            t /= 2
        return 0.0


def _working_set(scores, coef, size):
    """Support of ``coef`` plus the features of largest ``scores``: sorted indices and size.

    The size never decreases and is at least twice the support; features
    outside the support with a zero score (already optimal) are left out.
    """
    p = scores.shape[0]
    support = coef != 0.0
    size = int(min(p, max(size, 2 * np.count_nonzero(support))))
    priority = np.where(support, np.inf, scores)
    ws = np.argpartition(priority, p - size)[p - size:] if size < p else np.arange(p)
    ws = ws[priority[ws] > 0.0]
    return np.sort(ws), size


# -- the design as the kernels need it, converted once per design ---------------------
_EMPTY_DENSE = np.empty((0, 0), order="F")
_EMPTY_DATA = np.empty(0)
_EMPTY_INDEX = np.empty(0, dtype=np.int32)

# Conversions keyed by the (weakly referenced) Design: repeated solves on one
# problem, as in a hyperparameter search, convert X once; the entry goes away
# with the design and is rebuilt if ``design.X`` is replaced. Nothing is stored
# on the solver or pickled with the problem.
_PREPARED = weakref.WeakKeyDictionary()


def _prepare(design):
    """``(X, kernel_args, ||X_j||^2)`` for ``design.X``, cached per design."""
    entry = _PREPARED.get(design)
    if entry is None or entry[0] is not design.X:
        entry = (design.X, _convert(design.X))
        _PREPARED[design] = entry
    return entry[1]


def _convert(X):
    """Fortran-ordered float64 for dense ``X``, canonical float64 CSC for sparse ``X``."""
    if sp.issparse(X):
        Xc = sp.csc_matrix(X, dtype=np.float64)
        if not Xc.has_canonical_format:
            Xc = Xc.copy()
            Xc.sum_duplicates()
        args = (_EMPTY_DENSE, Xc.data, Xc.indices, Xc.indptr)
    else:
        Xc = np.asfortranarray(X, dtype=np.float64)
        args = (Xc, _EMPTY_DATA, _EMPTY_INDEX, _EMPTY_INDEX)
    return Xc, args, Design(Xc).column_squared_norms()
