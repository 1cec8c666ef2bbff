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

Multinomial logistic regression (K classes, coefficients ``W`` of shape (p, K))
uses the same proximal Newton scheme with the exact per-sample Hessians
:math:`H_i = \mathrm{diag}(p_i) - p_i p_i^T` (``p_i`` the class probabilities):
a feature's K coefficients are updated together, from one pass over its column,
by minimizing the feature's K-dimensional block of the model (coordinate sweeps
with the elastic-net prox per coefficient, and an exact step along ``(1, ...,
1)``, the direction the loss ignores; see
:func:`~skhypergrad.solvers._cd_kernels.cd_epoch_blocks`). A diagonal model
(glmnet's ``p_ik (1 - p_ik)`` weights, classes decoupled) is cheaper per epoch
but converges only linearly, slowly on nearly separable data; the coupled model
keeps proximal Newton's fast local convergence.

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

from numbers import Integral
from typing import NamedTuple

import numpy as np

from .._design import gram_of, xty_of
from ._base import BaseSolver, SolveResult
from ._cd_design import (_bounds, _entry_bounds, _feature_bounds, _squared_norms_range,
                         _use_gram)
from ._cd_kernels import (cd_epoch, cd_epoch_blocks, columns_gradient_curvature,
                          column_dots, gradient_curvature_blocks, prox_scores, prox_steps)
from ._gap import gap_scale
from ._gram_kernels import add_columns, gram_epoch, gram_product
from ._working_set import TopScores, working_set

__all__ = ["CoordinateDescent"]

_UNIT = np.empty(0)  # curvature h of least squares: all ones, never read
_H_FLOOR = 1e-12  # smallest model curvature, so that the model stays strongly convex


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
        Size of the first working set; later ones hold at least twice the
        support of the current iterate and never shrink.
    inner_ratio : float, default=0.3
        A working set is solved until its violation (largest ``L_jk |Delta_jk|``)
        is below ``inner_ratio`` times the largest violation over all features
        at the start of the outer iteration; each proximal Newton model, to
        ``inner_ratio`` times the violation at its center.
    anderson : int, default=5
        Anderson extrapolation from the last ``anderson + 1`` epochs, kept when
        it lowers the objective; 0 disables it.
    precompute : {"auto", True, False}, default="auto"
        Least squares with dense ``X`` only: run the working-set epochs on the
        Gram matrix ``X^T X / n`` (computed once per design and kept with it),
        an epoch then costing ``O(|W|^2)`` instead of ``O(n |W|)``. "auto" does
        when ``n_samples > n_features`` and ``n_features <= 2048`` (as
        scikit-learn's ``precompute="auto"``, with a memory cap), from the second
        solve on the same problem on (as in a search: the ``O(n p^2)`` product
        does not pay for a single solve), or from the first when the design's
        Gram matrix is there already (cross-validation forms its folds' from
        the Gram of the whole data).
        The iterates are those of the residual path (up to rounding), so that
        the results do not depend on where a problem is solved.
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

    #: the sparse format the kernels read: a caller that builds ``X`` for this solver
    #: (e.g. the training rows of a cross-validation fold) gives it in this format
    sparse_format = "csc"

    def __init__(self, tol=1e-8, max_iter=1000, max_epochs=10_000, ws_start_size=100,
                 inner_ratio=0.3, anderson=5, precompute="auto", warn=True):
        self.tol = tol
        self.max_iter = max_iter
        self.max_epochs = max_epochs
        self.ws_start_size = ws_start_size
        self.inner_ratio = inner_ratio
        self.anderson = anderson
        self.precompute = precompute
        self.warn = warn

    def _solve(self, pgmap, lam, w):
        self._check_params(pgmap)
        prob = _Problem.build(pgmap, lam, self.precompute)
        z = np.ascontiguousarray(pgmap.design.matvec(w), dtype=np.float64)
        n_epochs, ws_size, measure = 0, self.ws_start_size, np.inf
        for it in range(self.max_iter + 1):
            a = prob.derivative(z)
            # the next working set first: the scores (p-sized) are freed before the gap
            ws, next_size, violation, decrease, grad = prob.optimality(w, a, ws_size)
            floor = prob.rounding(a)
            last = it == self.max_iter
            # the gap is at least `decrease`; at the rounding floor, no step can help
            if last or decrease <= self.tol * prob.scale or violation <= floor:
                measure = self._gap_measure(pgmap, lam, prob, w, z, a, grad)
                if last or measure <= self.tol or violation <= floor:
                    break
            ws_size = next_size
            tol_in = max(self.inner_ratio * violation, floor)
            solve_ws = self._ws_least_squares if prob.exact else self._ws_newton
            if prob.gram is None:
                del grad  # p-sized, only read on the Gram matrix: freed during the solve
                grad = None
            n_epochs += solve_ws(prob, w, z, a, ws, tol_in, grad)
            del grad  # p-sized: freed before the next one is computed
        return SolveResult(w, n_epochs, measure, measure <= self.tol)

    def _gap_measure(self, pgmap, lam, prob, w, z, a, grad):
        """The stopping measure (relative duality gap) at ``w``, with ``X^T theta = -X^T a / n``
        minus the gradient ``grad``: negated in place (no p-sized copy), then back
        (negation is exact); when the scores took its memory (``grad`` None), read a
        block of features at a time for one output (no p-sized array), else computed again.
        """
        if grad is None and prob.n_outputs == 1:
            return self._stop_measure(pgmap, lam, w, z, prob.xt_theta_blocks(a))
        if grad is None:
            grad = prob.gradient(w, a)
        np.negative(grad, out=grad)
        xt_theta = grad.reshape(prob.p, prob.n_outputs) if prob.n_outputs > 1 else grad
        try:
            return self._stop_measure(pgmap, lam, w, z, xt_theta)
        finally:
            np.negative(grad, out=grad)

    def _check_params(self, pgmap):
        """ValueError for an unsupported datafit or an invalid parameter."""
        kind = getattr(pgmap.datafit, "kind", None)
        if kind not in (0, 1, 2) or (kind != 2 and pgmap.datafit.n_outputs != 1):
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
        if not (isinstance(self.precompute, (bool, np.bool_)) or self.precompute == "auto"):
            raise ValueError(f"precompute must be 'auto', True or False, got "
                             f"{self.precompute!r}.")

    # -- one working set ------------------------------------------------------------------
    def _ws_least_squares(self, prob, w, z, a, ws, tol, grad):
        """Coordinate descent on the working set (the model is exact); ``w``, ``z`` in place.

        ``grad`` is ``X^T a / n``, the gradient at the start (used on the Gram matrix; None
        otherwise).
        """
        if prob.gram is not None:
            return self._ws_gram(prob, w, z, a, ws, tol, grad)
        v, d = np.zeros_like(z), a.copy()
        epochs = self._minimize_model(prob, w, v, d, a, _UNIT, ws, prob.moving_bounds(ws), tol)
        z += v
        return epochs

    def _ws_gram(self, prob, w, z, a, ws, tol, grad):
        r""":meth:`_ws_least_squares` on the Gram matrix (:mod:`._gram_kernels`).

        The epochs, and the Anderson extrapolation of :meth:`_minimize_model`,
        run on the working set's coordinates and the intercept alone: with
        :math:`\delta w, \delta b` the changes since the start, the model is
        :math:`Q = c^T\delta w + \bar a\,\delta b + \tfrac12 \delta w^T G \delta w
        + \delta b\, s^T\delta w + \tfrac12 L_b \delta b^2 + G_W(w)`.
        """
        G, colmeans, _ = prob.gram
        c, s_ws, l1, lc = grad[ws], colmeans[ws], prob.l1[ws], prob.lc[ws]
        mean_a = float(a.mean())
        lc_b = prob.lc[-1] if prob.fit_intercept else 1.0
        w_ws = w[ws]  # a copy (fancy indexing)
        start = w_ws.copy()
        q, shift, gdx = np.zeros(ws.shape[0]), np.zeros(2), np.empty(ws.shape[0])

        def model(x, db):
            dx = x - start
            return float(c @ dx + mean_a * db + 0.5 * dx @ gram_product(G, ws, dx, gdx)
                         + db * (s_ws @ dx)
                         + 0.5 * lc_b * db * db + l1 @ np.abs(x) + 0.5 * prob.l2 * (x @ x))

        K, m = self.anderson, ws.shape[0]
        hist = np.empty((K + 1, m + 1))
        epochs = self.max_epochs
        for epoch in range(self.max_epochs):
            violation = gram_epoch(G, ws, c, s_ws, mean_a, w_ws, q, shift, l1, prob.l2, lc,
                                   lc_b, prob.fit_intercept)
            if violation <= tol:
                epochs = epoch + 1
                break
            if K > 0:
                k = epoch % (K + 1)
                hist[k, :m], hist[k, m] = w_ws, shift[1]
                if k == K:
                    extrapolated = _anderson(hist)
                    if extrapolated is not None and \
                            model(extrapolated[:m], extrapolated[m]) < model(w_ws, shift[1]):
                        w_ws[:] = extrapolated[:m]
                        shift[1] = extrapolated[m]
                        dx = w_ws - start
                        gram_product(G, ws, dx, q)
                        shift[0] = s_ws @ dx
        w[ws] = w_ws
        if prob.fit_intercept:
            w[-1] += shift[1]
        add_columns(prob.X, ws, w_ws - start, shift[1], z)
        return epochs

    def _ws_newton(self, prob, w, z, a, ws, tol, grad=None):
        """Proximal Newton on the working set: model by coordinate descent, line search."""
        idx, cols = prob.moving(ws), prob.entries(ws)
        lc_moving = prob.moving_bounds(ws)
        lc_cols = lc_moving[:cols.shape[0]]
        lc_model = lc_moving.copy() if prob.n_outputs == 1 else None
        epochs = 0
        while epochs < self.max_epochs:
            h = prob.curvatures(z, a)
            grad_ws, curv = prob.gradient_curvature(*prob.kernel_args, ws, a, h)
            lc_model = prob.model_curvatures(lc_model, curv, h, lc_moving)
            steps = prox_steps(w[cols], grad_ws, prob.l1_entries[cols], prob.l2, lc_cols)
            violation = np.max(lc_cols * np.abs(steps), initial=0.0)
            if prob.fit_intercept:
                violation = max(violation, prob.intercept_violation(a))
            if violation <= tol:
                break
            w_new, v, d = w.copy(), np.zeros_like(z), a.copy()
            model_tol = max(self.inner_ratio * violation, prob.rounding(a))
            epochs += self._minimize_model(prob, w_new, v, d, a, h, ws, lc_model, model_tol)
            t = prob.line_search(w, w_new, z, v, cols)
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
        hist_w = np.empty((K + 1, idx.shape[0]))
        # v = X (w - start) on the moving entries (v is zero at the start): on a sparse X
        # it is computed again from the extrapolated w (a product with the working set's
        # columns) instead of keeping K + 1 copies of v (n-sized each)
        if prob.lc is None:
            hist_v, start = None, w[idx]
        else:
            hist_v, start = np.empty((K + 1, v.size)), None
        for epoch in range(self.max_epochs):
            violation = prob.epoch(*prob.kernel_args, w, v, d, h, ws, prob.l1, prob.l2, lc,
                                   prob.fit_intercept)
            if violation <= tol:
                return epoch + 1
            if K > 0:
                k = epoch % (K + 1)
                hist_w[k] = w[idx]
                if hist_v is not None:
                    hist_v[k] = v.ravel()
                if k == K:
                    prob.anderson_step(w, v, d, a, h, ws, hist_w, hist_v, start)
        return self.max_epochs


class _Problem(NamedTuple):
    """What the driver needs of one problem ``(pgmap, lam)``, computed once per solve.

    Predictions ``z``, derivatives ``a`` and curvatures ``h`` have the datafit's
    layout: shape (n,) for one output, (n, K) for K classes. A working set is
    a sorted array of features; :meth:`entries` gives their coefficients in ``w``.
    """

    datafit: object
    y: np.ndarray
    onehot: np.ndarray  # (n, K) label indicators (multinomial), else empty
    kernel_args: tuple
    X: object
    l1: np.ndarray
    l1_entries: np.ndarray  # the L1 weight of every coefficient (entry j K + k: l1[j])
    l2: float
    # curvature bounds c ||X_j||^2 / n per coefficient, then c per intercept; None for a
    # sparse X (p may be large): computed for the entries needed (see moving_bounds)
    lc: object
    curvature: float
    col_norm: float  # largest ||X_j|| (intercept column included)
    scale: float
    exact: bool
    fit_intercept: bool
    p: int
    n_outputs: int
    epoch: object  # the epoch kernel: cd_epoch (one output) or cd_epoch_blocks
    gradient_curvature: object  # columns_gradient_curvature(_blocks)
    gram: object  # (X^T X / n, X^T 1 / n, X^T y / n) for least squares on the Gram, or None

    @classmethod
    def build(cls, pgmap, lam, precompute="auto"):
        datafit, design = pgmap.datafit, pgmap.design
        X, kernel_args, lc, col_norm = _bounds(design, datafit.curvature)
        # a uniform l1 stays a read-only zero-stride view: the kernels only read it
        l1, l2 = pgmap.penalty.weights(lam, design.n_features)
        n, c, K = design.n_samples, datafit.curvature, design.n_outputs
        l1 = np.asarray(l1, dtype=np.float64)
        if datafit.kind == 2:
            y = np.asarray(pgmap.y)
            onehot = np.zeros((n, K))
            onehot[np.arange(n), y] = 1.0
            kernels = (cd_epoch_blocks, gradient_curvature_blocks)
        else:
            y, onehot = np.ascontiguousarray(pgmap.y, dtype=np.float64), _UNIT
            kernels = (cd_epoch, columns_gradient_curvature)
        gram = None
        if _use_gram(design, datafit, precompute):
            gram = gram_of(design, X) + (xty_of(design, pgmap.y, X),)
        l1_entries = l1 if K == 1 else np.repeat(l1, K)
        return cls(datafit, y, onehot, kernel_args, X, l1, l1_entries, float(l2), lc,
                   c, col_norm, gap_scale(pgmap),
                   datafit.kind == 0, design.fit_intercept, design.n_features, K, *kernels,
                   gram)

    @property
    def n_coefs(self):
        return self.p * self.n_outputs

    def entries(self, ws):
        """The coefficients of the features ``ws`` in ``w`` (entries ``j K + k``), sorted."""
        K = self.n_outputs
        return ws if K == 1 else (ws[:, None] * K + np.arange(K)).ravel()

    def derivative(self, z):
        """``a_i = grad l(y_i, z_i)`` (the datafit's gradient in ``z``, times n)."""
        return self.datafit.raw_grad(self.y, z) * self.y.shape[0]

    def curvatures(self, z, a):
        """Curvatures ``h`` of the model, floored at 1e-12 so that it stays strongly convex.

        One output: ``h_i = l''(y_i, z_i)``. Multinomial: the class
        probabilities ``p = a + onehot`` (the Hessians are ``diag(p_i) - p_i p_i^T``;
        their blocks are floored in :meth:`model_curvatures`).
        """
        if self.n_outputs > 1:
            return np.clip(a + self.onehot, 0.0, 1.0)
        h = self.datafit.raw_hessp(self.y, z, np.ones_like(z)) * self.y.shape[0]
        return np.maximum(h, _H_FLOOR)

    def model_curvatures(self, lc_model, curv, h, lc_moving):
        """The model's curvatures for the epoch kernel on a working set, from ``curv``,
        those of its features (in its order), and ``lc_moving`` (:meth:`moving_bounds`).

        One output: ``L_j`` per feature, then ``mean(h)`` for the intercept
        (``lc_model`` updated in place). Multinomial: the flattened K x K blocks
        ``B_j``, then ``sum_i H_i / n`` for the intercepts, each diagonal
        floored at 1e-12 times ``||X_j||^2 / n``.
        """
        K, n = self.n_outputs, h.shape[0]
        if K == 1:
            lc_model[:curv.shape[0]] = curv
            if self.fit_intercept:
                lc_model[-1] = h.mean()
            return lc_model
        m = curv.shape[0] // (K * K)
        blocks = np.zeros((m + self.fit_intercept, K, K))
        blocks[:m] = curv.reshape(-1, K, K)
        if self.fit_intercept:
            blocks[-1] = np.diag(h.mean(axis=0)) - (h.T @ h) / n
        diag = blocks[:, np.arange(K), np.arange(K)]
        floor = (_H_FLOOR / self.curvature) * lc_moving.reshape(-1, K)[:, :1]
        blocks[:, np.arange(K), np.arange(K)] = np.maximum(diag, floor)
        return blocks.ravel()

    def hess_v(self, h, v):
        """The model's Hessian times ``v``: ``h * v`` (one output) or ``H_i v_i`` (multinomial)."""
        if h.shape[0] == 0:
            return v
        if self.n_outputs == 1:
            return h * v
        hv = h * v
        return hv - h * hv.sum(axis=1, keepdims=True)

    def intercept_violation(self, a):
        """``max_k |grad_{b_k} F|``."""
        return float(np.max(np.abs(a.reshape(a.shape[0], -1).mean(axis=0))))

    def gradient(self, w, a):
        """The gradient ``X^T a / n`` of the datafit in the coefficients (flat)."""
        if self.gram is not None:  # G w + s b - X^T y / n: O(p |supp|) instead of O(n p)
            G, colmeans, xty = self.gram
            coef = w[:self.n_coefs]
            nz = np.flatnonzero(coef)
            # a product with the gathered columns only pays for a small support
            grad = (G[:, nz] @ coef[nz] if 8 * nz.shape[0] < self.p else G @ coef) - xty
            if self.fit_intercept:
                grad += colmeans * w[-1]
            return grad
        grad = np.asarray(self.X.T @ a).ravel()
        grad /= a.shape[0]
        return grad

    def optimality(self, w, a, ws_size):
        """``(ws, size, violation, decrease, grad)``: the next working set and its size
        (grown from ``ws_size``), the largest violation ``max_k L_jk |Delta_jk|`` (and
        ``|grad_b|``), the lower bound on the gap, and the gradient ``X^T a / n`` (None
        on a sparse ``X``: not kept).

        One product ``X^T a`` gives the gradient; :func:`prox_scores` the scores
        of the coordinate steps ``Delta_jk``, each decreasing the objective by at
        least ``L_jk Delta_jk^2 / 2`` (``grad_b^2 / (2c)`` for an intercept), and
        the working set ranks them. For a sparse ``X`` (p may be large) and one
        output, all of it runs a block of features at a time (:class:`TopScores`):
        no ``p``-sized array; for several outputs the scores overwrite the
        gradient. The duality gap then reads ``X^T a`` by blocks again
        (:meth:`xt_theta_blocks`).
        """
        nc, K = self.n_coefs, self.n_outputs
        if self.lc is None and K == 1:
            top = TopScores(w[:nc], ws_size)
            violation, decrease = self._scores_by_blocks(w, a, top)
            (ws, size), grad = top.result(), None
        else:
            grad = self.gradient(w, a)
            if self.lc is None:  # sparse X, several outputs: in place, per block of features
                scores, decrease = grad, self._scores_in_place(w, grad)
                grad = None
            else:
                scores, decrease = prox_scores(w[:nc], grad, self.l1_entries, self.l2,
                                               self.lc[:nc], np.empty(nc))
            if K > 1:
                scores = scores.reshape(self.p, K).max(axis=1)
            violation = scores.max(initial=0.0)
            ws, size = working_set(scores, w[:nc], K, ws_size)
            del scores
        grad_b = self.intercept_violation(a) if self.fit_intercept else 0.0
        decrease = max(decrease, grad_b ** 2 / self.curvature)
        return ws, size, max(violation, grad_b), decrease / 2, grad

    def xt_theta_blocks(self, a, chunk=1 << 12):
        """``X^T theta = -X^T a / n`` (CSC ``X``, one output) as the callable giving its
        blocks ``(j0, block)`` of ``chunk`` features that
        :func:`~skhypergrad.solvers.duality_gap` takes: the entries of
        ``-gradient(w, a)``, bit for bit, without a ``p``-sized array."""
        X, n = self.X, a.shape[0]

        def blocks():
            for j0 in range(0, self.p, chunk):
                block = column_dots(X.data, X.indices, X.indptr, j0, min(j0 + chunk, self.p), a)
                block /= n
                yield j0, np.negative(block, out=block)
        return blocks

    def _block_bounds(self, j0, j1):
        """The curvature bounds of the coefficients of features ``j0 <= j < j1`` (sparse ``X``)."""
        return _feature_bounds(_squared_norms_range(self.X, j0, j1), self.curvature,
                               self.y.shape[0], self.n_outputs)

    def _scores_in_place(self, w, grad, chunk=1 << 12):
        """:func:`prox_scores` written over ``grad`` (sparse ``X``), ``chunk`` features at a
        time with their curvature bounds (no ``p``-sized array of them); returns the
        largest decrease bound."""
        K, decrease = self.n_outputs, 0.0
        for j0 in range(0, self.p, chunk):
            j1 = min(j0 + chunk, self.p)
            e0, e1 = j0 * K, j1 * K
            _, dec = prox_scores(w[e0:e1], grad[e0:e1], self.l1_entries[e0:e1], self.l2,
                                 self._block_bounds(j0, j1), grad[e0:e1])
            decrease = max(decrease, dec)
        return decrease

    def _scores_by_blocks(self, w, a, top, chunk=1 << 12):
        """The scores of :meth:`_scores_in_place` (sparse ``X``, one output), from the
        gradient ``X^T a / n`` computed ``chunk`` features at a time (the same sums as
        :meth:`gradient`) and ranked by ``top`` (:class:`TopScores`); returns the
        largest score (NaN if any) and the largest decrease bound."""
        X, n = self.X, a.shape[0]
        violation, decrease = 0.0, 0.0
        for j0 in range(0, self.p, chunk):
            j1 = min(j0 + chunk, self.p)
            grad = column_dots(X.data, X.indices, X.indptr, j0, j1, a)
            grad /= n
            scores, dec = prox_scores(w[j0:j1], grad, self.l1_entries[j0:j1], self.l2,
                                      self._block_bounds(j0, j1), grad)
            decrease = max(decrease, dec)
            violation = np.maximum(violation, scores.max(initial=0.0))  # NaN propagates
            top.add(j0, scores)
        return float(violation), decrease

    def moving_bounds(self, ws):
        """The curvature bounds of the entries :meth:`moving` of ``ws`` (in that order):
        ``c ||X_j||^2 / n`` for the coefficients, then ``c`` per intercept.

        Read from the design's ``lc`` (dense ``X``), or computed from the columns
        ``ws`` only (sparse ``X``: the same sums as for the whole matrix).
        """
        if self.lc is not None:
            return self.lc[self.moving(ws)]
        return _entry_bounds(_squared_norms_range(self.X[:, ws], 0, ws.shape[0]),
                             self.curvature, self.y.shape[0], self.n_outputs,
                             self.fit_intercept)

    def rounding(self, a):
        """Rounding error of the violations: ``16 eps max_j ||X_j|| ||a|| / n``."""
        return 16 * np.finfo(np.float64).eps * self.col_norm * float(np.linalg.norm(a)) / a.shape[0]

    def moving(self, ws):
        """Entries of ``w`` a working-set solve changes: those of ``ws`` and the intercepts."""
        cols = self.entries(ws)
        if not self.fit_intercept:
            return cols
        return np.append(cols, np.arange(self.n_coefs, self.n_coefs + self.n_outputs))

    def penalty(self, w_cols, cols):
        """Penalty of the coefficients ``w_cols``, entries ``cols`` of ``w``."""
        return float(self.l1_entries[cols] @ np.abs(w_cols) + 0.5 * self.l2 * (w_cols @ w_cols))

    def model(self, w_cols, v, a, h, cols):
        """``Q = (a^T v + v^T (h v) / 2) / n + G_ws(w)`` up to a constant, from the
        coefficients ``w_cols`` of the working set (entries ``cols`` of ``w``)."""
        hv = self.hess_v(h, v)
        return (float(np.vdot(a, v) + 0.5 * np.vdot(hv, v)) / v.shape[0]
                + self.penalty(w_cols, cols))

    def anderson_step(self, w, v, d, a, h, ws, hist_w, hist_v, start=None):
        """Replace ``(w, v, d)`` by the Anderson extrapolation of the history if ``Q`` drops.

        ``v`` extrapolated from its history ``hist_v``, or, when that is None,
        computed as :meth:`predictions_change` from ``start`` (the moving entries
        when ``v`` was zero).
        """
        c = _anderson_weights(hist_w)
        if c is None:
            return
        # on the moving entries only (the working set's, then the intercepts): no copy of w
        idx, cols = self.moving(ws), self.entries(ws)
        w_acc = c @ hist_w[1:]
        if hist_v is None:
            v_acc = self.predictions_change(ws, w_acc - start).reshape(v.shape)
        else:
            v_acc = (c @ hist_v[1:]).reshape(v.shape)
        if self.model(w_acc[:cols.shape[0]], v_acc, a, h, cols) < \
                self.model(w[cols], v, a, h, cols):
            w[idx], v[:] = w_acc, v_acc
            d[:] = a + self.hess_v(h, v_acc)

    def predictions_change(self, ws, delta):
        """``X_ws delta_W + delta_b``: how the predictions move when the moving entries of
        ``w`` (:meth:`moving`: the working set's coefficients, then the intercepts) move
        by ``delta``; shape (n,) or (n, K)."""
        K, m = self.n_outputs, ws.shape[0] * self.n_outputs
        coef = delta[:m] if K == 1 else delta[:m].reshape(ws.shape[0], K)
        out = np.asarray(self.X[:, ws] @ coef, dtype=np.float64)
        if self.fit_intercept:
            out += delta[m:] if K > 1 else delta[m]
        return out

    def line_search(self, w, w_new, z, v, cols, max_halvings=30):
        r"""Largest step ``t`` in 1, 1/2, ... at which the objective still decreases.

        With :math:`\Delta G = G(w_{new}) - G(w)` on the working set, the convex
        bound :math:`\psi(t) = F(z + tv) + G(w) + t \Delta G \ge P(w + t\Delta)`
        equals :math:`P(w)` at 0, so :math:`\psi'(t) = \langle v, \ell'(z + tv)\rangle / n +
        \Delta G < 0` certifies :math:`P(w + t\Delta) < P(w)`. Testing the
        derivative, not objective values, stays exact near the optimum where
        the decrease is below the objective's rounding. Returns 0 if none is found.
        """
        n, w_ws, new_ws = z.shape[0], w[cols], w_new[cols]
        # G(w_new) - G(w) without cancellation, exact near the optimum
        delta_g = float(self.l1_entries[cols] @ (np.abs(new_ws) - np.abs(w_ws))
                        + 0.5 * self.l2 * ((new_ws - w_ws) @ (new_ws + w_ws)))
        t = 1.0
        for _ in range(max_halvings):
            if float(np.vdot(v, self.derivative(z + t * v))) / n + delta_g < 0.0:
                return t
            t /= 2
        return 0.0


def _anderson_weights(hist):
    """Weights ``c`` (summing to 1) of the Anderson extrapolation ``c @ hist[1:]``, or None.

    With ``U`` the differences of the iterates (rows of ``hist``), ``c`` solves
    ``U U^T c = 1``, normalized.
    """
    U = np.diff(hist, axis=0)
    try:
        c = np.linalg.solve(U @ U.T, np.ones(U.shape[0]))
    except np.linalg.LinAlgError:
        return None
    if not np.all(np.isfinite(c)) or c.sum() == 0.0:
        return None
    return c / c.sum()


def _anderson(hist):
    """The Anderson extrapolation of the iterates ``hist`` (rows), or None."""
    c = _anderson_weights(hist)
    return None if c is None else c @ hist[1:]
