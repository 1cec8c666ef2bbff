r"""Proximal coordinate descent with working sets: the default inner solver.

For least squares and binary logistic regression with an elastic-net penalty
(:class:`~skhypergrad.penalties.L1`, :class:`~skhypergrad.penalties.ElasticNetPenalty`,
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
point, ``h_i = l''(y_i, z_i)``, followed by a line search (the approach of
glmnet, newGLMNET/liblinear and skglm's ``ProxNewton``): the full step when the
objective's slope there is still negative, else a step near the minimizer along
it (regula falsi on the slope, see
:meth:`~skhypergrad.solvers._cd_problem._Problem.line_search`), which keeps the
fast local convergence of exact Newton steps. A datafit
whose loss is linear where ``l''`` vanishes (Huber's beyond its threshold) gives
the curvatures of a quadratic majorizing it instead
(:meth:`~skhypergrad.datafits.BaseDatafit.newton_curvature`), which keeps the
model bounded below.

Multinomial logistic regression (K classes, coefficients ``W`` of shape (p, K))
uses the same proximal Newton scheme with the exact per-sample Hessians
:math:`H_i = s_i(\mathrm{diag}(p_i) - p_i p_i^T)` (``p_i`` the class
probabilities, ``s_i`` the sample weights of a
:func:`~skhypergrad.datafits.weighted` datafit, 1 otherwise). The model is
minimized by block coordinate descent, a block being one feature across the K
classes: one pass over its column gives the block's K partial derivatives and its
exact K x K curvature :math:`B_j = \frac1n \sum_i X_{ij}^2 H_i` (the
model's own, not a majorizer: the model is quadratic), and the block's
K-dimensional model plus the penalty is minimized by coordinate sweeps with the
elastic-net prox per coefficient (scikit-learn's multinomial L1 is the plain
elementwise L1 of ``W``, not a group norm), each sweep followed by the exact step
along ``(1, ..., 1)``, the direction the loss ignores (see
:func:`~skhypergrad.solvers._cd_kernels.cd_epoch_blocks`). A diagonal model
(glmnet's ``p_ik (1 - p_ik)`` weights, classes decoupled) is cheaper per epoch
but converges only linearly, slowly on nearly separable data; the coupled model
keeps proximal Newton's fast local convergence. On a model whose minimizer keeps
the support and signs of its center, the model is a quadratic there: its minimizer
solves a linear system of the support's size, formed in one product of ``n x |S|``
matrices and factored by Cholesky (:mod:`skhypergrad.solvers._support_newton`); that
candidate is taken when it passes the test coordinate descent stops on (the model's
coordinate steps at it, on the whole working set, below the model's tolerance), and
otherwise starts coordinate descent on the model (its coefficients whose sign changed
set to 0) when it lowers the model. Coordinate descent alone converges linearly on
the model, slowly when the columns are correlated (neighbouring pixels); the direct
solve gives the exact model minimizer in the cost of a few epochs. One output's models
are tried the same way first with an L1 part and a datafit whose curvature varies and
is not piecewise quadratic (the binary logistic loss, the GLMs; their matrix
:math:`X_S^T \mathrm{diag}(h) X_S / n`, formed at each center), the intercept then
taking its own Newton step (see ``_Problem.direct``). With an L2 penalty alone (a smooth
problem), the multinomial model is solved instead by L-BFGS preconditioned by its
Hessian at a nearby point, kept across solves (see :mod:`._cd_smooth`), before coordinate
descent when that stops short of the duality gap.

Convergence: the blocks' diagonals are floored at 1e-12 ``||X_j||^2 / n`` (1e-12
for the intercepts), so that each model is a strongly convex quadratic plus a
separable penalty, which block coordinate descent minimizes (Tseng, 2001). Each
model is solved to ``inner_ratio`` times the violation at its center, and its
minimizer is followed by the line search on the objective's directional
derivative: every accepted step decreases the objective. Proximal
Newton with uniformly positive definite models and a line search converges
globally to the minimizer, and, with the exact Hessians and models solved to a
relative accuracy below 1, locally linearly at the rate ``inner_ratio`` (Lee, Sun
and Saunders, 2014, theorems 3.1 and 3.4; superlinearly as the accuracy goes to 0).
The stopping test is the duality gap, as for one output.

Multi-output least squares (``newton_model = "identity"``: the per-sample Hessian
is the identity across the outputs, as for the multi-task Lasso) is solved by
block coordinate descent on the Gram matrix: the rows of the coefficients (a
feature's K outputs together, with the block soft-thresholding of an L2,1
penalty) and the intercepts in turn, exactly (see
:mod:`skhypergrad.solvers._block_gram`), without working sets.

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

import copy
from numbers import Integral, Real

import numpy as np

from .._design import GRAM_MAX_FEATURES, Design
from ._base import BaseSolver, SolveResult
from ._block_gram import (augmented_gram, block_gram_epoch, gram_gap_measure,
                          stacked_target_products)
from ._gap import gap_scale, separable_gap_floor
from .prox_grad import ProxGradient
from ._cd_problem import _Problem
from ._cd_smooth import _SmoothSolves, _xt_theta
from ._cd_ws_solve import _WorkingSetSolves
from ._active_set_newton import newton_solve, objective_relative_gap

__all__ = ["CoordinateDescent"]

#: the solve stops, unconverged, after this many gap evaluations in a row none of which
#: lowered the best gap below ``_STALL_RATIO`` times itself
_STALL_CHECKS = 20
_STALL_RATIO = 0.9
#: Newton's iterations on a problem itself before its datafit's smoothing path is taken
_DIRECT_NEWTON = 30


class CoordinateDescent(_SmoothSolves, _WorkingSetSolves, BaseSolver):
    """Proximal coordinate descent with working sets, stopping on the relative duality gap.

    Supports the :class:`~skhypergrad.datafits.Quadratic`,
    :class:`~skhypergrad.datafits.Logistic` and
    :class:`~skhypergrad.datafits.Multinomial` datafits (and every datafit declaring a
    Newton model), with sample weights (:func:`~skhypergrad.datafits.weighted`), with
    the elastic-net penalties (L1, elastic net, L2, weighted L1), dense or sparse ``X``. The
    algorithm is described in
    :mod:`skhypergrad.solvers.coordinate_descent`.

    Parameters
    ----------
    tol : float, default=1e-8
        Stop when the duality gap divided by the objective's scale (the datafit
        at ``w = 0``) is below ``tol``. The solver also stops, unconverged (with a
        warning that states the gap reached), when every coordinate's violation is
        at the level of rounding errors (or, on a working set, of the resolution of
        ``w``: a step below one ulp of a coordinate leaves it unchanged), or when 20
        evaluations of the gap in a row did not lower it by 10%: the gap is then at
        the accuracy its dual point can certify; or when a working set's solve took no
        step (its line search found no decrease) and the next working set is the same
        one (the solve would repeat).
        For one output and an L2 penalty alone, a gap within ``tol`` plus its rounding
        floor (:func:`~skhypergrad.solvers._gap.separable_gap_floor`, relative to the
        scale: the gradient resolved no better by the data) is converged.
        In all, at most ``max_iter * max_epochs`` epochs. A problem solved by Newton's
        method (``newton``) stops when the duality gap, less its rounding (64 machine
        epsilons times the scale), divided by the smaller of the scale and the objective
        at the iterate, is below ``tol``: the objective is then within ``tol`` of its
        optimum relative to itself (at large ``C`` the squared hinge's optimum is orders
        of magnitude below its scale).
    max_iter : int, default=1000
        Maximum number of outer iterations (each builds a working set and
        solves the problem restricted to it).
    max_epochs : int, default=10_000
        Maximum number of epochs on one working set (summed over its Newton
        steps for a datafit other than least squares). The ``n_iter`` of the
        result counts epochs, summed over working sets.
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
    newton : {"auto", True, False}, default="auto"
        True: a one-output datafit other than least squares (dense ``X`` or sparse
        ``X`` not centred implicitly, at most 2048 coefficients) is solved by Newton's
        method on the support with fixed signs, with direct solves of the Newton
        systems and exact minimization along the projected path
        (:mod:`skhypergrad.solvers._active_set_newton`; with a pure L2 penalty, the
        finite Newton method of :mod:`skhypergrad.solvers._newton`; ``max_iter`` bounds
        its iterations), not by coordinate descent, whose rate degrades with the
        conditioning of the Hessian on the support. "auto": so for the datafits
        declaring ``piecewise_quadratic`` (the squared hinge, where near separability at
        large ``C`` that conditioning is the penalty weight's: coordinate descent takes
        millions of epochs, Newton tens of steps; Huber's loss, whose curvature
        ``2 / scale`` at a tiny scale, that of an exact fit, made coordinate descent
        stall at 1e4 epochs per working set; its solves go through the smoothing path of
        the datafit when they do not converge directly, and on by coordinate descent
        when Newton's system lacks curvature). False: coordinate descent always.
    warn : bool, default=True
        Emit a ``ConvergenceWarning`` when ``tol`` is not reached.
    grad_tol : float, default=None
        For one output or the multinomial model, and no L1 part: also stop,
        converged, when the largest entry of the objective's gradient, over the
        coefficients and the intercepts (scikit-learn's coordinates: the coefficients'
        entries of a centred design corrected by its column means times their
        output's intercept's), is at most ``grad_tol``: the stopping rule of
        scikit-learn's GLMs and ``LogisticRegression`` (``lbfgs``'s ``gtol``,
        ``newton-cholesky``'s ``tol``) on the same objective. Such a problem (not
        least squares) is then solved by their method too: L-BFGS from ``w`` (at most
        ``max_iter`` steps; preconditioned by a reference Hessian it is given, see
        :mod:`._cd_smooth`) until the rule holds, coordinate descent from its last
        point when it does not (a line search that no longer sees a decrease). None:
        the duality gap alone.

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
    methods for minimizing composite functions", SIAM J. Optim. 2014. Tseng,
    "Convergence of a block coordinate descent method for nondifferentiable
    minimization", J. Optim. Theory Appl. 2001.
    """

    #: the sparse format the kernels read: a caller that builds ``X`` for this solver
    #: (e.g. the training rows of a cross-validation fold) gives it in this format
    sparse_format = "csc"
    #: smooth L2 problems start from the reference Hessian of a previous solve and return
    #: theirs (see ``_solve_reference``)
    takes_reference = True

    def __init__(self, tol=1e-8, max_iter=1000, max_epochs=10_000, ws_start_size=100,
                 inner_ratio=0.3, anderson=5, precompute="auto", newton="auto", warn=True,
                 grad_tol=None):
        self.tol = tol
        self.max_iter = max_iter
        self.max_epochs = max_epochs
        self.ws_start_size = ws_start_size
        self.inner_ratio = inner_ratio
        self.anderson = anderson
        self.precompute = precompute
        self.newton = newton
        self.warn = warn
        self.grad_tol = grad_tol

    def loosened(self, grad_tol):
        """A copy with ``grad_tol`` set (see :meth:`BaseSolver.loosened`); the rule applies
        to one output or the multinomial model without an L1 part, the other solves stop
        on ``tol`` alone."""
        solver = copy.copy(self)
        solver.grad_tol = float(grad_tol)
        return solver

    def gram_budget(self):
        """``(max_iter, max_iter * max_epochs)``: a round for each working set, its
        budget in all; None with ``precompute=False`` (no Gram matrix asked for). See
        :meth:`BaseSolver.gram_budget`."""
        if isinstance(self.precompute, (bool, np.bool_)) and not self.precompute:
            return None
        return int(self.max_iter), max(1, int(self.max_iter) * int(self.max_epochs))

    def _solve(self, pgmap, lam, w, reference=None):
        self._check_params(pgmap)
        if pgmap.datafit.newton_model == "identity":
            return self._solve_identity_blocks(pgmap, lam, w)
        if pgmap.datafit.newton_model == "separable":
            return self._solve_outputs(pgmap, lam, w)
        prob = _Problem.build(pgmap, lam, self.precompute)
        n_epochs, ws_size, measure = 0, self.ws_start_size, np.inf
        best, stalled = np.inf, 0
        prev_ws, moved = None, True
        grad_rule = self._grad_rule(prob)
        reached = False
        newton = self._newton_applies(pgmap, prob)
        by_reference = not newton and (self._reference_applies(pgmap, prob)
                                       or self._softmax_reference_applies(pgmap, prob))
        if by_reference:
            n_epochs, reached, reference, measure, (z, grad) = self._solve_reference(
                pgmap, lam, prob, w, reference)
            if reached:
                if measure is None:
                    measure = self._stop_measure(pgmap, lam, w, z,
                                                 xt_theta=_xt_theta(prob, grad),
                                                 scale=prob.scale)
                return SolveResult(w, n_epochs, measure, True, reference)
            z, measure = np.ascontiguousarray(z, dtype=np.float64), np.inf
        else:
            z = np.ascontiguousarray(prob.predictions(pgmap.design, w), dtype=np.float64)
            if newton:
                res = self._solve_newton(pgmap, lam, prob, w, z)
                if res.converged or not pgmap.datafit.smoothing_path(pgmap.y):
                    return res
                # Newton's method did not converge (see _solve_newton): coordinate
                # descent's majorized models go on from w
                n_epochs = res.n_iter
                z = np.ascontiguousarray(prob.predictions(pgmap.design, w), dtype=np.float64)
        if grad_rule and not prob.exact and not by_reference:
            n_epochs, reached = self._solve_lbfgs(pgmap, prob, w)
            if reached:
                z = prob.predictions(pgmap.design, w)
                return SolveResult(w, n_epochs, self._stop_measure(pgmap, lam, w, z), True)
            z = np.ascontiguousarray(prob.predictions(pgmap.design, w), dtype=np.float64)
        for it in range(self.max_iter + 1):
            if stalled and not prob.exact:  # the predictions of w afresh (see _resynced)
                z = self._resynced(prob, pgmap.design, w, z)
            a = prob.derivative(z)
            # the next working set first: the scores (p-sized) are freed before the gap
            ws, next_size, violation, decrease, grad = prob.optimality(w, a, ws_size)
            floor = prob.rounding(a)
            if grad_rule and self._gradient_reached(prob, pgmap.design, w, a, grad):
                reached = True
                break
            # no step from this iterate, and the same working set: the solve would repeat
            last = it == self.max_iter or (not moved and np.array_equal(ws, prev_ws))
            # the gap is at least `decrease`; at the rounding floor, no step can help
            if last or decrease <= self.tol * prob.scale or violation <= floor:
                measure = self._gap_measure(pgmap, lam, prob, w, z, a, grad)
                if measure <= self.tol and not prob.exact:  # confirmed at w (_resynced)
                    z = self._resynced(prob, pgmap.design, w, z)
                    measure = self._stop_measure(pgmap, lam, w, z, scale=prob.scale)
                    if measure > self.tol and not last:
                        continue  # the next round from the predictions of w
                if last or measure <= self.tol or violation <= floor \
                        or self._within_floor(pgmap, lam, prob, z, measure):
                    break
                # a gap that no longer decreases is at the accuracy the dual point can
                # certify (rounding in X^T theta, amplified by a small l2): stop, unconverged
                stalled = stalled + 1 if measure > _STALL_RATIO * best else 0
                best = min(best, measure)
                if stalled >= _STALL_CHECKS:
                    break
            ws_size = next_size
            tol_in = max(self.inner_ratio * violation, floor)
            solve_ws = self._ws_least_squares if prob.exact else self._ws_newton
            if prob.gram is None:
                del grad  # p-sized, only read on the Gram matrix: freed during the solve
                grad = None
            epochs, moved = solve_ws(prob, w, z, a, ws, tol_in, grad)
            n_epochs += epochs
            prev_ws = ws
            del grad  # p-sized: freed before the next one is computed
        if reached:
            measure = self._stop_measure(pgmap, lam, w, z)
        elif measure > self.tol and not prob.exact:  # the gap reported is that of w
            z = prob.predictions(pgmap.design, w)
            measure = self._stop_measure(pgmap, lam, w, z, scale=prob.scale)
        done = reached or self._within_floor(pgmap, lam, prob, z, measure)
        if reference is None and prob.gram is not None and pgmap.design.is_sparse:
            reference = prob.gram_hessian()  # for the engine (see takes_reference)
        return SolveResult(w, n_epochs, measure, done, reference)

    def _within_floor(self, pgmap, lam, prob, z, measure):
        """Whether the relative gap ``measure`` (at predictions ``z``) is at most ``tol``
        plus, for one output and an L2 penalty alone, the rounding floor of the gap
        relative to the scale (:func:`~._gap.separable_gap_floor`: a gradient the data
        resolve no better, e.g. that of a log-link GLM of large counts): converged
        then."""
        if measure <= self.tol:
            return True
        if not np.isfinite(measure) or prob.n_outputs != 1 or np.any(prob.l1) \
                or not np.min(prob.l2) > 0.0:
            return False
        return measure <= self.tol + separable_gap_floor(pgmap, lam, z) / prob.scale


    @staticmethod
    def _resynced(prob, design, w, z):
        r"""The predictions ``X w + b`` computed again from ``w`` (into ``z``).

        The epochs and line searches of a Newton-model solve update ``z`` by steps, whose
        rounding errors add up; a datafit with a large curvature turns them into errors
        of the gradient (Huber's :math:`2/\sigma` at a tiny scale: a drift of 1e-8 in
        ``z`` at :math:`\sigma = 10^{-6}` is a gap measured at 1e-30, or stalled at
        1e-9, where that of ``w`` is 1e-5 or 1e-7). So a gap below ``tol`` is confirmed
        at the predictions of ``w`` (one product with ``X`` per solve, when it is), the
        next rounds of a stalled gap start from them, and an unconverged solve reports
        the gap of ``w``. Least squares (``exact``) is left out: its rounds read the Gram
        matrix, and a drift moves its gradient (curvature 1) by as little.
        """
        z[:] = prob.predictions(design, w)
        return z

    def _newton_applies(self, pgmap, prob):
        """Whether the problem is solved by :meth:`_solve_newton` (see ``newton``)."""
        design = pgmap.design
        wanted = pgmap.datafit.piecewise_quadratic if isinstance(self.newton, str) \
            else bool(self.newton)
        if not wanted:
            return False
        return prob.n_outputs == 1 and not prob.exact and prob.mu is None \
            and design.n_features + design.fit_intercept <= GRAM_MAX_FEATURES

    def _solve_newton(self, pgmap, lam, prob, w, z):
        """Newton's method on a support with fixed signs, direct solves and exact
        minimization along the projected path (:mod:`._active_set_newton`; with a pure L2
        penalty, the finite Newton method of :mod:`._newton`), for a one-output datafit.

        Stops on the duality gap relative to the smaller of the objective's scale and
        the objective (evaluated at every iteration, from the gradient the step needs) or
        on ``grad_tol`` (smooth problems), or, unconverged, when the violation is at the
        level of rounding errors, when 20 gaps in a row did not lower the best by 10%,
        when the path finds no decrease, or after ``max_iter`` iterations (``n_iter``
        counts them).

        A datafit with a smoothing path (``datafit.smoothing_path(y)``, Huber's larger
        scales) is solved directly for at most 30
        iterations (fewer than 10 where the quadratic pieces hold the residuals'
        spread); unconverged, its path's datafits are solved in turn from ``w``, each
        to ``tol`` from the last one's solution, then the problem itself, from the
        path's end (at most ``max_iter`` iterations each). Still unconverged, such a
        problem goes on by coordinate descent from there (:meth:`_solve`), whose models
        take a majorizer's curvature (``newton_curvature``) where a loss with linear
        pieces leaves the Newton system none (a safety net: the ridged step of a singular
        system, see :mod:`._active_set_newton`, resolves the cases known).
        """
        path = pgmap.datafit.smoothing_path(pgmap.y)
        it, measure, done = self._newton_at(
            pgmap, lam, prob, w, z, min(self.max_iter, _DIRECT_NEWTON) if path else None)
        if measure <= self.tol or done or not path:
            return SolveResult(w, it, measure, measure <= self.tol or done)
        for datafit in path + (pgmap.datafit,):
            stage = type(pgmap).on_design(datafit, pgmap.penalty, pgmap.design, pgmap.y)
            stage_prob = _Problem.build(stage, lam, self.precompute)
            z = np.ascontiguousarray(stage_prob.predictions(pgmap.design, w),
                                     dtype=np.float64)
            n, measure, done = self._newton_at(stage, lam, stage_prob, w, z)
            it += n
        return SolveResult(w, it, measure, measure <= self.tol or done)

    def _newton_at(self, pgmap, lam, prob, w, z, max_iter=None):
        """``(iterations, measure, done)`` of :func:`._active_set_newton.newton_solve` on
        ``pgmap`` from ``w`` (predictions ``z``), both updated in place; at most
        ``max_iter`` iterations (None: ``self.max_iter``)."""
        scale = prob.scale

        def measure_at(w, z, xt_theta):
            return objective_relative_gap(pgmap, lam, w, z, xt_theta, scale)

        def reached(w, a, grad):
            return self._gradient_reached(prob, pgmap.design, w, a, grad)

        return newton_solve(
            prob, pgmap.design, w, z, measure_at, self.tol,
            self.max_iter if max_iter is None else max_iter, _STALL_CHECKS, _STALL_RATIO,
            reached=reached if self._grad_rule(prob) else None)

    def _solve_identity_blocks(self, pgmap, lam, w):
        """Block coordinate descent on the Gram matrix (:mod:`._block_gram`) for a datafit
        whose per-sample Hessian is the identity; FISTA (:class:`ProxGradient`) when
        the Gram matrix would have more than 2048 rows.

        Epochs run until one decreases the objective by less than ``tol`` times its
        scale (the gap is at least that); the duality gap is then evaluated (from the
        Gram products alone, see :func:`._block_gram.gram_gap_measure`), and the epochs
        go on (at most ``max_epochs`` in all) until it is below ``tol`` or stalls (20
        evaluations without lowering it by 10%). After a gap ``m > tol``, the next one is
        evaluated once an epoch's decrease has fallen by ``tol / m`` (the two fall
        at the same linear rate), not at every epoch."""
        design, penalty = pgmap.design, pgmap.penalty
        q = design.n_features + design.fit_intercept
        if q > GRAM_MAX_FEATURES:
            return ProxGradient(tol=self.tol, max_iter=self.max_epochs,
                                warn=False)._solve(pgmap, lam, w)
        K = design.n_outputs
        Y = pgmap.y if K > 1 else pgmap.y[:, None]
        A = augmented_gram(design)
        C = stacked_target_products(design, pgmap.y)
        B = np.ascontiguousarray(w.reshape(q, K))
        Qt = np.ascontiguousarray((A @ B).T)  # (A B)^T: the epochs' updates run along rows
        l1, l2 = penalty.weights(lam, design.n_features)
        l1 = np.ascontiguousarray(l1, dtype=np.float64)
        p = design.n_features
        yy = float(np.vdot(Y, Y)) / design.n_samples
        scale = gap_scale(pgmap)
        threshold = self.tol * scale
        measure, best, stalled, epoch = np.inf, np.inf, 0, 0
        while epoch < self.max_epochs:
            decrease = block_gram_epoch(A, C, B, Qt, l1, l2, p,
                                        bool(penalty.group_rows))
            epoch += 1
            if decrease <= threshold or epoch == self.max_epochs:
                measure = gram_gap_measure(pgmap, lam, A, C, B, Qt.T, yy, scale)
                if measure <= self.tol:
                    break
                stalled = stalled + 1 if measure > _STALL_RATIO * best else 0
                best = min(best, measure)
                if stalled >= _STALL_CHECKS:
                    break
                threshold = min(threshold, decrease * self.tol / measure)
        return SolveResult(B.ravel().copy(), epoch, measure, measure <= self.tol)
    def _solve_outputs(self, pgmap, lam, w):
        """The ``K`` independent outputs of a "separable" datafit solved in turn, each a
        one-output problem (``datafit.output_datafit()``, targets
        ``datafit.output_target(y, k)``) on the same design, to the relative gap ``tol``.

        The datafit, its null model and the penalty are sums over the outputs, so the
        outputs' duality gaps (each certified by its own dual point) add up to a bound
        on the whole problem's suboptimality: the measure returned is their sum
        relative to the whole problem's scale, at most ``tol`` when every output
        reached it. (The whole problem's own dual point, rescaled by one factor for
        every output, certifies less.)
        """
        design, datafit = pgmap.design, pgmap.datafit
        K, p, fit_intercept = design.n_outputs, design.n_features, design.fit_intercept
        one = Design(design.X, fit_intercept, 1, design.offset, design.target_offset)
        output_datafit = datafit.output_datafit()
        W, b = w[:p * K].reshape(p, K), w[p * K:]  # views: written in place
        solver = copy.copy(self)
        solver.warn = False  # the whole problem's measure decides, below
        n_iter, total = 0, 0.0
        for k in range(K):
            sub = type(pgmap).on_design(output_datafit, pgmap.penalty, one,
                                        datafit.output_target(pgmap.y, k))
            res = solver.solve(sub, lam, np.append(W[:, k], b[k:k + 1]))
            W[:, k] = res.w[:p]
            b[k:k + 1] = res.w[p:]
            n_iter += res.n_iter
            total += res.gap * gap_scale(sub)
        measure = total / gap_scale(pgmap)
        return SolveResult(w, n_iter, measure, measure <= self.tol)

    def _gap_measure(self, pgmap, lam, prob, w, z, a, grad):
        """The stopping measure (relative duality gap) at ``w``, with ``X^T theta = -X^T a / n``
        minus the gradient ``grad``: negated in place (no p-sized copy), then back
        (negation is exact); when the scores took its memory (``grad`` None), read a
        block of features at a time for one output (no p-sized array), else computed again.
        """
        if grad is None and prob.n_outputs == 1:
            return self._stop_measure(pgmap, lam, w, z, prob.xt_theta_blocks(a), prob.scale)
        if grad is None:
            grad = prob.gradient(w, a)
        np.negative(grad, out=grad)
        xt_theta = grad.reshape(prob.p, prob.n_outputs) if prob.n_outputs > 1 else grad
        try:
            return self._stop_measure(pgmap, lam, w, z, xt_theta, prob.scale)
        finally:
            np.negative(grad, out=grad)

    def check_params(self):
        """Raise a ValueError naming an invalid setting (see
        :meth:`BaseSolver.check_params <skhypergrad.solvers._base.BaseSolver.check_params>`)."""
        super().check_params()
        for name, low in (("max_iter", 0), ("max_epochs", 1), ("ws_start_size", 1),
                          ("anderson", 0)):
            value = getattr(self, name)
            if not isinstance(value, Integral) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}.")
        if not (isinstance(self.inner_ratio, Real) and 0.0 < self.inner_ratio < 1.0):
            raise ValueError(f"inner_ratio must be in (0, 1), got {self.inner_ratio!r}.")
        if not (isinstance(self.precompute, (bool, np.bool_)) or self.precompute == "auto"):
            raise ValueError(f"precompute must be 'auto', True or False, got "
                             f"{self.precompute!r}.")
        if not (isinstance(self.newton, (bool, np.bool_)) or self.newton == "auto"):
            raise ValueError(f"newton must be 'auto', True or False, got {self.newton!r}.")

    def _check_params(self, pgmap):
        """ValueError for an unsupported datafit (the settings: :meth:`check_params`)."""
        datafit = pgmap.datafit
        model = datafit.newton_model
        if pgmap.penalty.positive and datafit.n_outputs > 1:
            raise ValueError("CoordinateDescent: positive=True is for one output only.")
        if model is None or (model == "diagonal" and datafit.n_outputs != 1) \
                or (model == "softmax" and datafit.n_outputs == 1):
            raise ValueError(
                f"CoordinateDescent needs a datafit with a Newton model (newton_model "
                f"'diagonal' for one output, 'softmax' or 'separable' for several, "
                f"'identity' for outputs with identity Hessians), got {datafit!r} "
                f"(newton_model={model!r}); use ProxGradient for it.")
