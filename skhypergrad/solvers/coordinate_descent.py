r"""Proximal coordinate descent with working sets: the default inner solver.

For least squares, binary logistic and multinomial logistic regression with an
elastic-net penalty (:class:`~skhypergrad.penalties.L1`,
:class:`~skhypergrad.penalties.ElasticNet`, :class:`~skhypergrad.penalties.WeightedL1`),
coordinate ``(j, k)`` (feature ``j``, class ``k``; one class except for the
multinomial model) of a quadratic model of the datafit is minimized exactly,

.. math::

    W_{jk} \leftarrow \frac{S_{l1_j / L_{jk}}(W_{jk} - g_{jk} / L_{jk})}{1 + l2 / L_{jk}},
    \qquad g_{jk} = \frac1n X_j^T d_k, \quad L_{jk} = \frac1n \sum_i (H_i)_{kk} X_{ij}^2,

and the unpenalized intercepts after every epoch (:math:`b_k \leftarrow b_k -
\sum_i d_{ik} / \sum_i (H_i)_{kk}`); ``d`` is the model's derivative with
respect to the predictions and ``H_i`` its curvature (see
:mod:`skhypergrad.solvers._cd_kernels`). For least squares the model is the
problem (``H = 1``, plain coordinate descent); for the logistic losses it is
the proximal Newton model at the current point, :math:`H_i = \nabla^2
\ell(y_i, z_i)`, followed by a backtracking line search (the approach of
glmnet, newGLMNET/liblinear and skglm's ``ProxNewton``). For the multinomial
loss the model keeps the full Hessian :math:`H_i = \mathrm{diag}(p_i) - p_i
p_i^T` (``p_i`` the class probabilities), coupling the classes: one
coordinate step updates the model's derivative of every class, at the cost of
``K`` times the column's entries. Unlike glmnet's cycle over classes, each with
its own diagonal model and line search, a proximal Newton step then moves all
the classes at once along the exact second-order model: on nearly separable
data with weak regularization the class-by-class scheme crawls along the
directions that trade one class against another, which the coupled model sees.

Working sets (celer, skglm): each outer iteration computes the full gradient
:math:`X^T \nabla_z F` once, scores every feature by its largest coordinate
step :math:`L_{jk} |\Delta_{jk}|` over the classes (zero exactly at
optimality), and solves the problem restricted to the current support plus the
worst violators (at least twice the support) until the violation inside is
below ``inner_ratio`` times the violation outside. Coordinate descent epochs on
a working set are accelerated by Anderson extrapolation (Bertrand and Massias,
2021). The stopping test is the relative duality gap of the full problem,
evaluated only when the coordinate steps allow it: a step :math:`\Delta_{jk}`
decreases the objective by at least :math:`L_{jk} \Delta_{jk}^2 / 2`, a lower
bound on the gap.
"""

import weakref
from numbers import Integral
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

from .._design import Design
from ._base import BaseSolver, SolveResult
from ._cd_kernels import columns_gradient_curvature, minimize_model, prox_steps
from ._gap import gap_scale

__all__ = ["CoordinateDescent"]

_UNIT = np.empty((0, 0))  # curvature h of least squares: all ones, never read
_H_FLOOR = 1e-12  # smallest curvature kept in a model, so that it stays strongly convex


class CoordinateDescent(BaseSolver):
    """Proximal coordinate descent with working sets, stopping on the relative duality gap.

    Supports the :class:`~skhypergrad.datafits.Quadratic`,
    :class:`~skhypergrad.datafits.Logistic` and
    :class:`~skhypergrad.datafits.Multinomial` datafits with the elastic-net
    penalties, dense or sparse ``X``. The algorithm is described in
    :mod:`skhypergrad.solvers.coordinate_descent`.

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
        steps for the logistic losses). The ``n_iter`` of the result counts
        epochs, summed over working sets.
    ws_start_size : int, default=100
        Size (in features) of the first working set; later ones hold at least
        twice the support of the current iterate and never shrink.
    inner_ratio : float, default=0.3
        A working set is solved until its violation (largest ``L_jk |Delta_jk|``)
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
    Friedman, Hastie and Tibshirani, "Regularization paths for generalized
    linear models via coordinate descent", J. Stat. Softw. 2010.
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
        z = prob.predictions(w)
        n_epochs, ws_size, measure = 0, self.ws_start_size, np.inf
        for it in range(self.max_iter + 1):
            a = prob.derivative(z)
            scores, grad_b, decrease = prob.optimality(w, a)
            violation = max(scores.max(initial=0.0), grad_b)
            floor = prob.rounding(a)
            last = it == self.max_iter
            # the gap is at least `decrease`; at the rounding floor, no step can help
            if last or decrease <= self.tol * prob.scale or violation <= floor:
                measure = self._stop_measure(pgmap, lam, w, prob.design_layout(z))
                if last or measure <= self.tol or violation <= floor:
                    break
            features, ws_size = _working_set(scores, prob.support(w), ws_size)
            ws = prob.working_set(features)
            tol_in = max(self.inner_ratio * violation, floor)
            solve_ws = self._ws_least_squares if prob.exact else self._ws_newton
            n_epochs += solve_ws(prob, w, z, a, ws, tol_in)
        return SolveResult(w, n_epochs, measure, measure <= self.tol)

    def _check_params(self, pgmap):
        """ValueError for an unsupported datafit or an invalid parameter."""
        kind = getattr(pgmap.datafit, "kind", None)
        if kind not in (0, 1, 2) or (kind < 2 and pgmap.datafit.n_outputs != 1):
            raise ValueError(
                f"CoordinateDescent supports the Quadratic, Logistic and Multinomial "
                f"datafits, got {pgmap.datafit!r}; use ProxGradient for it.")
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
        blocks = prob.lc.reshape(-1, 1, 1)  # the model is the problem
        epochs = self._minimize_model(prob, w, v, d, a, _UNIT, ws, blocks, tol)
        z += v
        return epochs

    def _ws_newton(self, prob, w, z, a, ws, tol):
        """Proximal Newton on the working set: model by coordinate descent, line search."""
        K = prob.n_outputs
        blocks = np.zeros((prob.p + prob.fit_intercept, K, K))
        epochs = 0
        while epochs < self.max_epochs:
            h, h_pairs = prob.curvatures(z, a)
            grad_ws, blocks[ws.features] = columns_gradient_curvature(
                *prob.kernel_args, ws.features, a, h_pairs)
            steps = prox_steps(w[ws.coefs], grad_ws, prob.l1[ws.features], prob.l2,
                               prob.lc[ws.coefs], prob.n_outputs)
            violation = np.max(prob.lc[ws.coefs] * np.abs(steps), initial=0.0)
            if prob.fit_intercept:
                violation = max(violation, np.max(np.abs(a.mean(axis=1))))
                blocks[-1] = h_pairs.mean(axis=1).reshape(K, K)
            if violation <= tol:
                break
            w_new, v, d = w.copy(), np.zeros_like(z), a.copy()
            model_tol = max(self.inner_ratio * violation, prob.rounding(a))
            epochs += self._minimize_model(prob, w_new, v, d, a, h, ws, blocks, model_tol)
            t = prob.line_search(w, w_new, z, v, ws)
            if t == 0.0:
                break
            idx = ws.moving
            w[idx] += t * (w_new[idx] - w[idx])
            z += t * v
            a = prob.derivative(z)
        return epochs

    def _minimize_model(self, prob, w, v, d, a, h, ws, blocks, tol):
        """Epochs on the model (accelerated by Anderson) until one's violation is below ``tol``.

        ``w``, ``v``, ``d`` are updated in place; returns the number of epochs.
        """
        return minimize_model(*prob.kernel_args, w, v, d, a, h, ws.features, ws.moving,
                              ws.coefs, ws.l1, prob.l1, prob.l2, blocks, prob.fit_intercept,
                              prob.coupled, float(tol), self.max_epochs, self.anderson)


class _WorkingSet(NamedTuple):
    """A working set of features and the entries of ``w`` it involves."""

    features: np.ndarray  # sorted feature indices
    coefs: np.ndarray  # their coefficients' entries in w (j * K + k)
    moving: np.ndarray  # the entries a working-set solve changes: coefs, then the intercepts
    l1: np.ndarray  # the L1 weight of every entry of coefs


class _Problem(NamedTuple):
    """What the driver needs of one problem ``(pgmap, lam)``, computed once per solve.

    Predictions, derivatives and curvatures are stored class by class, shape
    (K, n) (K = 1 for one output).
    """

    datafit: object
    y: np.ndarray
    onehot: np.ndarray  # (K, n) indicators of the labels (multinomial), else empty
    kernel_args: tuple
    X: object
    l1: np.ndarray
    l2: float
    lc: np.ndarray  # curvature bounds c ||X_j||^2 / n per coefficient, then c per intercept
    curvature: float
    col_norm: float  # largest ||X_j|| (intercept column included)
    scale: float
    exact: bool
    coupled: bool
    fit_intercept: bool
    p: int
    n_outputs: int

    @classmethod
    def build(cls, pgmap, lam):
        datafit, design = pgmap.datafit, pgmap.design
        X, kernel_args, sq_norms = _prepare(design)
        l1, l2 = pgmap.penalty.weights(lam, design.n_features)
        n, c, K = design.n_samples, datafit.curvature, design.n_outputs
        coupled = datafit.kind == 2
        lc = np.repeat(c * sq_norms / n, K)
        if design.fit_intercept:
            lc = np.append(lc, np.full(K, c))
            sq_norms = np.append(sq_norms, n)
        if coupled:
            y = np.asarray(pgmap.y)
            onehot = np.zeros((K, n))
            onehot[y, np.arange(n)] = 1.0
        else:
            y, onehot = np.ascontiguousarray(pgmap.y, dtype=np.float64), _UNIT
        return cls(datafit, y, onehot, kernel_args, X,
                   np.ascontiguousarray(l1, dtype=np.float64), float(l2), lc,
                   c, float(np.sqrt(sq_norms.max(initial=0.0))), gap_scale(pgmap),
                   datafit.kind == 0, coupled, design.fit_intercept, design.n_features, K)

    @property
    def n_coefs(self):
        return self.p * self.n_outputs

    # -- layouts ----------------------------------------------------------------------
    def predictions(self, w):
        """``Z = X W + b`` class by class, shape (K, n)."""
        K, nc = self.n_outputs, self.n_coefs
        z = np.asarray(self.X @ w[:nc].reshape(self.p, K)).T
        if self.fit_intercept:
            z = z + w[nc:, None]
        return np.ascontiguousarray(z, dtype=np.float64)

    def design_layout(self, u):
        """A (K, n) array as the datafits see it: (n,) for one output, else (n, K)."""
        return u[0] if self.n_outputs == 1 else u.T

    def _class_layout(self, u):
        """Inverse of :meth:`design_layout`, as a new C-contiguous (K, n) array."""
        u = np.asarray(u, dtype=np.float64)
        return u.reshape(1, -1) if self.n_outputs == 1 else np.ascontiguousarray(u.T)

    def working_set(self, features):
        """The :class:`_WorkingSet` of the (sorted) ``features``."""
        K = self.n_outputs
        coefs = (features[:, None] * K + np.arange(K)).ravel()
        moving = np.append(coefs, np.arange(self.n_coefs, self.n_coefs + K)) \
            if self.fit_intercept else coefs
        return _WorkingSet(features, coefs, moving, np.repeat(self.l1[features], K))

    def support(self, w):
        """Features with a nonzero coefficient (in any class)."""
        return np.any(w[:self.n_coefs].reshape(self.p, self.n_outputs) != 0.0, axis=1)

    # -- the datafit at the predictions -------------------------------------------------
    def derivative(self, z):
        """``a_i = grad l(y_i, z_i)`` (the datafit's gradient in ``z``, times n), shape (K, n)."""
        n = self.y.shape[0]
        return self._class_layout(self.datafit.raw_grad(self.y, self.design_layout(z)) * n)

    def curvatures(self, z, a):
        """``(h, h_pairs)``: the model's curvatures and the entries of its Hessians.

        ``h_pairs[k K + l, i] = (H_i)_kl``, the diagonal floored at 1e-12 so
        that the model stays strongly convex along every coordinate. One output:
        ``h = h_pairs = l''(y_i, z_i)`` (floored). Multinomial: ``h`` the class
        probabilities ``p = a + e_y`` (the Hessians are ``diag(p_i) - p_i p_i^T``),
        with the diagonal ``p (1 - p)`` computed as ``-a p`` for the label class,
        exact even for probabilities near 1.
        """
        if self.coupled:
            K = self.n_outputs
            prob = a + self.onehot
            h_pairs = -(prob[:, None, :] * prob[None, :, :])
            h_pairs[np.arange(K), np.arange(K)] = np.maximum(
                prob * ((1.0 - self.onehot) - a), _H_FLOOR)
            return prob, h_pairs.reshape(K * K, -1)
        n = self.y.shape[0]
        zd = self.design_layout(z)
        h = self._class_layout(self.datafit.raw_hessp(self.y, zd, np.ones_like(zd)) * n)
        h = np.maximum(h, _H_FLOOR)
        return h, h

    # -- optimality -----------------------------------------------------------------------
    def optimality(self, w, a):
        """Scores ``max_k L_jk |Delta_jk|``, ``max_k |grad_b_k F|`` and the lower bound on the gap.

        One product ``X^T a`` gives the gradient; :func:`prox_steps` the
        coordinate steps ``Delta_jk``, each decreasing the objective by at least
        ``L_jk Delta_jk^2 / 2`` (``grad_b^2 / (2c)`` for an intercept).
        """
        nc, n = self.n_coefs, a.shape[1]
        grad = np.asarray(self.X.T @ self.design_layout(a)).ravel() / n
        steps = prox_steps(w[:nc], grad, self.l1, self.l2, self.lc[:nc], self.n_outputs)
        scores = self.lc[:nc] * np.abs(steps)
        grad_b = float(np.max(np.abs(a.mean(axis=1)))) if self.fit_intercept else 0.0
        decrease = max(np.max(scores * np.abs(steps), initial=0.0), grad_b ** 2 / self.curvature)
        if self.n_outputs > 1:
            scores = scores.reshape(self.p, self.n_outputs).max(axis=1)
        return scores, grad_b, decrease / 2

    def rounding(self, a):
        """Rounding error of the violations: ``16 eps max_j ||X_j|| ||a|| / n``."""
        return 16 * np.finfo(np.float64).eps * self.col_norm * float(np.linalg.norm(a)) / a.shape[1]

    # -- the line search --------------------------------------------------------------
    def line_search(self, w, w_new, z, v, ws, max_halvings=30):
        r"""Largest step ``t`` in 1, 1/2, ... at which the objective still decreases.

        With :math:`\Delta G = G(w_{new}) - G(w)` on the working set, the convex
        bound :math:`\psi(t) = F(z + tv) + G(w) + t \Delta G \ge P(w + t\Delta)`
        equals :math:`P(w)` at 0, so :math:`\psi'(t) = \langle v, \nabla_z
        \ell(z + tv)\rangle / n + \Delta G < 0` certifies :math:`P(w + t\Delta) <
        P(w)`. Testing the derivative, not objective values, stays exact near
        the optimum where the decrease is below the objective's rounding.
        Returns 0 if none is found.
        """
        n, w_ws, new_ws = z.shape[1], w[ws.coefs], w_new[ws.coefs]
        # G(w_new) - G(w) without cancellation, exact near the optimum
        delta_g = float(ws.l1 @ (np.abs(new_ws) - np.abs(w_ws))
                        + 0.5 * self.l2 * ((new_ws - w_ws) @ (new_ws + w_ws)))
        t = 1.0
        for _ in range(max_halvings):
            if float(np.vdot(v, self.derivative(z + t * v))) / n + delta_g < 0.0:
                return t
            t /= 2
        return 0.0


def _working_set(scores, support, size):
    """The ``support`` (boolean) plus the features of largest ``scores``: sorted indices and size.

    The size never decreases and is at least twice the support; features
    outside the support with a zero score (already optimal) are left out.
    """
    p = scores.shape[0]
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
