r"""The smooth paths of :class:`~skhypergrad.solvers.CoordinateDescent`.

A one-output problem without an L1 part and without a sign constraint is smooth:
``grad_tol`` then stops it on the largest entry of the objective's gradient (the rule
of scikit-learn's GLMs), and it is solved by L-BFGS (:mod:`._lbfgs`) or, for a datafit
declaring ``smooth_hessian`` with at most ``_REFERENCE_MAX`` parameters (beyond
``_REFERENCE_SMALL``, with ``_REFERENCE_ROWS`` samples for each), by L-BFGS
preconditioned by a reference Hessian (:mod:`._reference_hessian`), before coordinate
descent takes over when they stop short of the rule or of the duality gap. A multinomial
problem (``newton_model = "softmax"``) with an L2 penalty alone and at most
``_SOFTMAX_REFERENCE_MAX`` parameters (``_SOFTMAX_REFERENCE_ENTRIES`` times the samples)
is smooth too, and solved the same way, its
reference the softmax Hessian with the intercepts' null direction made definite
(:func:`_datafit_hessian`). The datafit's value and gradient at the last point evaluated
and at the last solutions are kept with the design (:func:`_datafit_at`): a solve
warm-started at a solution of other penalty weights starts without a product with ``X``;
so are the curvature pairs of the last solve by plain L-BFGS steps to the gradient rule
(:func:`_kept_pairs`), from which the next one's steps start: the datafit's part of a
pair does not depend on the penalty, and the L2 term's is exact at any weights. For a
datafit computing its derivatives sample by sample (``rowwise_grad``), the predictions
and the gradient are formed by blocks of rows (:func:`_fused_datafit_gradient`).
"""

import numpy as np

from .._hessian_blocks import softmax_hessian
from ._lbfgs import lbfgs
from ._reference_hessian import reference_lbfgs

#: the float64 machine epsilon
_EPS = np.finfo(np.float64).eps


def _largest_gradient(grad, offset):
    """The largest entry of the gradient ``grad`` (coefficients, entries ``j K + k``, then
    the ``K`` intercepts) in the coordinates of the uncentred design: the coefficients'
    entries plus ``offset`` (the centred design's column means, None when not centred)
    times their output's intercept's."""
    if offset is None:
        return float(np.max(np.abs(grad), initial=0.0))
    p = offset.shape[0]
    K = grad.shape[0] // (p + 1)
    coef, intercept = grad[:p * K].reshape(p, K), grad[p * K:]
    return max(float(np.max(np.abs(coef + np.multiply.outer(offset, intercept)),
                            initial=0.0)),
               float(np.max(np.abs(intercept))))


def _null_start(prob, w):
    """A cold start (``w = 0``, in place) from the null model: zero coefficients and the
    datafit's optimal intercepts (``intercept_only``, one per output; 0 where it is not
    finite: all-zero counts), whose predictions are the targets' scale (a log-link GLM of
    counts near 1e6 starts at ``log(mean(y))``, not at ``exp(0) = 1``, far below every
    count; a multinomial model at the classes' log frequencies)."""
    if prob.fit_intercept and not np.any(w):
        b = np.asarray(prob.datafit.intercept_only(prob.y), dtype=np.float64)
        b = b[:prob.n_outputs]
        w[prob.n_coefs:] = np.where(np.isfinite(b), b, 0.0)


def _value_rounding(prob, z):
    r"""The rounding error of the datafit's value at predictions ``z``:
    :math:`8u \frac1n \sum_i h_i (|z_i| + 1)`, ``h_i`` the curvatures and ``u`` the
    float64 machine epsilon. A term :math:`\ell(y_i, z_i)` is computed from parts about
    :math:`h_i (|z_i| + 1)` in size (a Poisson term :math:`y\log y - y - yz + e^z`
    from :math:`\mu |z|` at :math:`h = \mu`; the rounding of its derivative that
    :func:`~._gap.separable_gap_floor` reads), far above the term itself when they
    cancel (counts near :math:`10^6`: parts of :math:`10^7`, a deviance of
    :math:`10^{-6}`), and carries their rounding. A multinomial term
    :math:`\mathrm{lse}(z_i) - z_{i y_i}` is computed from parts about
    :math:`\max_k |z_{ik}|` in size: :math:`8u \frac1n \sum_i (\max_k |z_{ik}| + 1)`."""
    if prob.n_outputs > 1:
        return 8.0 * _EPS * float(np.mean(np.max(np.abs(z), axis=1) + 1.0))
    h = prob.curvatures(z, None)
    return 8.0 * _EPS * float(np.mean(h * (np.abs(z) + 1.0)))


def _objective_gradient(prob, w, a, grad=None, a_mean=None):
    """The objective's gradient of a problem without an L1 part: the datafit's
    ``grad = X^T a / n`` (None: computed; flat, entries ``j K + k``) plus the L2 term,
    then the intercepts' ``mean(a)`` over the samples (``a_mean`` when given, ``a`` then
    unread)."""
    g = prob.gradient(w, a) if grad is None else grad.copy()
    g += prob.l2_entries * w[:prob.n_coefs]
    if prob.fit_intercept:
        g = np.append(g, a.mean(axis=0) if a_mean is None else a_mean)
    return g


def _objective_value_gradient(prob, design, v):
    r"""``(value, gradient, z, grad)`` of a problem without an L1 part at ``v``: the
    objective :math:`F(z) + \frac12 \sum_j l2_j v_j^2` (over the coefficients, every
    output's) at the predictions ``z``, its gradient (:func:`_objective_gradient`), and
    the datafit's gradient ``grad = X^T a / n`` (new arrays: the caller may change
    them)."""
    loss, z, a_mean, grad = _datafit_at(prob, design, v)
    coef = v[:prob.n_coefs]
    value = loss + 0.5 * float((prob.l2_entries * coef) @ coef)
    return value, _objective_gradient(prob, v, None, grad, a_mean), z.copy(), grad


#: the solutions whose datafit values a design keeps (:func:`_datafit_at`), the newest
_KEPT_SOLUTIONS = 4


def _datafit_at(prob, design, v):
    r"""``(F(z), z, mean(a), grad)``: the datafit's value at the predictions ``z`` of
    ``v`` (read only), the mean of its derivatives ``a`` in ``z``
    (:meth:`~._cd_problem._Problem.derivative`) and its gradient ``grad = X^T a / n`` (a
    new array).

    They do not depend on the penalty: those of the last point evaluated and of the
    last solutions (:func:`_keep_solution`) are kept with the design (for the map's
    targets and datafit) and given again for the same ``v``, so that the first point of
    a solve warm-started at the solution of another penalty's solve on the same map (a
    search's next evaluation) costs no product with ``X``. The same ``v``: bit for bit,
    or, for a solution on a centred design (see :mod:`skhypergrad._design`), the point
    after its way through the model's own intercept and back
    (``from_original(to_original(v))``, as a warm start kept in a criterion's state
    returns), whose intercept differs from it by the rounding of that way alone."""
    key = (design.X, prob.y, prob.datafit)
    kept = design._cache.get("datafit_at")
    if kept is None or any(a is not b for a, b in zip(kept[0], key)):
        kept = design._cache["datafit_at"] = (key, [None], [])
    point = v.tobytes()
    for entry in kept[1][:1] + kept[2]:
        if entry is not None and point in entry[0]:
            loss, z, a_mean, grad = entry[1]
            return loss, z, a_mean, grad.copy()
    fused = _fused_datafit_gradient(prob, design, v)
    if fused is None:
        z = prob.predictions(design, v)
        a = prob.derivative(z)
        grad = prob.gradient(v, a)
    else:
        z, a, grad = fused
    loss = float(prob.datafit.loss(prob.y, z))
    a_mean = a.mean(axis=0)
    kept[1][0] = ((point,), (loss, z, a_mean, grad.copy()))
    return loss, z, a_mean, grad


#: entries of a block of rows of :func:`_fused_datafit_gradient` (1 MiB of float64)
_BLOCK_ENTRIES = 2**17


def _fused_datafit_gradient(prob, design, v):
    """``(z, a, grad)``: the predictions of ``v``, the datafit's derivatives ``a`` in them
    (:meth:`~._cd_problem._Problem.derivative`) and ``grad = X^T a / n``, by blocks of
    rows of about 1 MiB, each read from memory once for both of its products (the second
    reads it from cache), for one output, a dense design centred explicitly (or not
    centred) without a Gram matrix, and an unweighted datafit declaring ``rowwise_grad``
    (``raw_grad`` of a block of rows is that of the whole times the rows' number over
    the block's); None otherwise."""
    datafit = prob.datafit
    if not datafit.rowwise_grad or datafit.sample_weight is not None \
            or prob.n_outputs != 1 or design.is_sparse or prob.gram is not None \
            or prob.mu is not None:
        return None
    X, y = design.X, prob.y
    n, p = X.shape
    coef, b = design.coef(v), design.intercept(v)
    z, a, grad = np.empty(n), np.empty(n), np.zeros(p)
    rows = max(1, _BLOCK_ENTRIES // max(p, 1))
    for start in range(0, n, rows):
        stop = min(start + rows, n)
        block = X[start:stop]
        zb = z[start:stop]
        np.matmul(block, coef, out=zb)
        zb += b
        ab = datafit.raw_grad(y[start:stop], zb) * (stop - start)
        a[start:stop] = ab
        grad += block.T @ ab
    grad /= n
    return z, a, grad


def _keep_solution(design, w):
    """Keep the datafit's values at ``w`` when they are those of the last point evaluated
    (see :func:`_datafit_at`), among the newest ``_KEPT_SOLUTIONS`` solutions, for ``w``
    and, on a centred design, ``w`` through the model's own intercept and back."""
    kept = design._cache.get("datafit_at")
    last = None if kept is None else kept[1][0]
    if last is None or w.tobytes() not in last[0]:
        return
    points, values = last
    if design.offset is not None and design.fit_intercept:
        points += (design.from_original(design.to_original(w)).tobytes(),)
    solutions = kept[2]
    solutions.insert(0, (points, values))
    del solutions[_KEPT_SOLUTIONS:]


#: largest number of parameters solved with a reference Hessian (its q x q matrix is kept
#: with the solution, for the next solve)
_REFERENCE_MAX = 1024
#: fewest samples per parameter for a reference Hessian of more than ``_REFERENCE_SMALL``
#: parameters: forming it costs n q^2 and factoring it q^3 / 3, which the steps it saves
#: do not pay back on wide data (searches of a binary logistic and a Poisson model at
#: n = 2000, p = 1000: 1.4 to 2.2 times the CPU time without it; at p = 400, 0.7 to 1.0
#: times); a small one costs little, and keeps the curvature's scale that L-BFGS and
#: coordinate descent lack on a log-link GLM of large counts (a Poisson model of counts
#: near 1e6, n = 150, p = 60: gap 1e-20 in 2 steps, 9.9e-7 after 82 epochs without it)
_REFERENCE_ROWS = 4
_REFERENCE_SMALL = 256
#: largest number of parameters of a multinomial problem solved with a reference Hessian,
#: and of its samples times its parameters (the (q, n) matrix the Hessian is formed from)
_SOFTMAX_REFERENCE_MAX = 1024
_SOFTMAX_REFERENCE_ENTRIES = 1 << 22
#: a step of a multinomial solve lowering the Newton decrement by less than this factor
#: asks for a new reference (see :func:`~._reference_hessian.reference_lbfgs`): forming
#: and factoring one, ``O(n q^2 + q^3)`` for ``q = (p + 1) K`` parameters, costs about
#: as much as tens of steps, so it is asked for later than for one output
_SOFTMAX_SLOW = 0.3
#: the duality gap is evaluated once the suboptimality the reference Hessian predicts
#: (half the Newton decrement) is below this many times the target (relative)
_GAP_CHECK = 20.0
#: the target of the preconditioned L-BFGS solve, times ``tol``: the gap is checked at
#: every step once near, where coordinate descent checks it after epochs that decrease
#: the objective by less than ``tol`` (its gaps end far below ``tol``); a step or two
#: more of L-BFGS's fast local rate gives solutions as accurate
_OVERSHOOT = 1e-2
#: a relative gap below this is at the rounding of the objective's values: the solve then
#: also waits for a step that no longer shrinks the Newton decrement below ``_STALLED``
#: times itself
_RESOLVED = 1e3 * np.finfo(float).eps
_STALLED = 0.1


class _SmoothSolves:
    """The gradient rule and the (preconditioned) L-BFGS solves of
    :class:`~skhypergrad.solvers.CoordinateDescent` (a base class of it: reads its
    ``tol``, ``max_iter``, ``grad_tol`` and ``_stop_measure``)."""

    def _grad_rule(self, prob):
        """Whether ``grad_tol`` applies: scikit-learn's rule is for a smooth problem (one
        output or the multinomial model, no L1 part, no sign constraint)."""
        return self.grad_tol is not None \
            and (prob.n_outputs == 1 or prob.datafit.newton_model == "softmax") \
            and not np.any(prob.l1) and prob.lower == -np.inf

    def _gradient_reached(self, prob, design, w, a, grad):
        """Whether the largest entry of the objective's gradient (see ``grad_tol``) is at
        most ``grad_tol``; ``grad`` the datafit's ``X^T a / n`` (None: computed)."""
        return self._gradient_small(prob, design, _objective_gradient(prob, w, a, grad))

    def _gradient_small(self, prob, design, g):
        """Whether the objective's gradient ``g`` (coefficients, then the intercept) is
        at most ``grad_tol`` in scikit-learn's coordinates (:func:`_largest_gradient`)."""
        offset = None
        if prob.fit_intercept:
            offset = design.offset if design.offset is not None else prob.mu
        return _largest_gradient(g, offset) <= self.grad_tol

    def _solve_lbfgs(self, pgmap, prob, w):
        """``(n_iter, reached)``: L-BFGS (:mod:`._lbfgs`) from ``w`` (updated in place;
        from the null model's intercept when ``w = 0``, :func:`_null_start`) on a smooth
        one-output problem without an L1 part, stopped by the ``grad_tol`` rule
        (scikit-learn's lbfgs method and rule), at most ``max_iter`` steps; the caller
        goes on by coordinate descent from ``w`` when the rule is not reached (an
        objective too flat for the line search to see its decrease)."""
        design = pgmap.design
        _null_start(prob, w)

        def value_grad(v):
            value, gradient, z, _ = _objective_value_gradient(prob, design, v)
            return value, gradient, z

        return lbfgs(value_grad, w, lambda v, g, _: self._gradient_small(prob, design, g),
                     self.max_iter, rounding=lambda z: _value_rounding(prob, z))

    def _reference_applies(self, pgmap, prob):
        """Whether the problem is solved by :meth:`_solve_reference`: a datafit declaring
        ``smooth_hessian``, one output, an L2 penalty alone (no L1 part, no sign
        constraint), at most ``_REFERENCE_MAX`` parameters, and beyond
        ``_REFERENCE_SMALL`` at least ``_REFERENCE_ROWS`` samples per parameter."""
        q = pgmap.design.n_params
        return pgmap.datafit.smooth_hessian and prob.n_outputs == 1 and not prob.exact \
            and not np.any(prob.l1) and prob.lower == -np.inf and q <= _REFERENCE_MAX \
            and (q <= _REFERENCE_SMALL or pgmap.design.n_samples >= _REFERENCE_ROWS * q)

    def _softmax_reference_applies(self, pgmap, prob):
        r"""Whether a multinomial problem (``newton_model = "softmax"``: the exact
        per-sample Hessians :math:`\mathrm{diag}(p_i) - p_i p_i^T`) is solved by
        :meth:`_solve_reference`: an L2 penalty alone (no L1 part), at most
        ``_SOFTMAX_REFERENCE_MAX`` parameters ``q`` and ``q n`` at most
        ``_SOFTMAX_REFERENCE_ENTRIES``."""
        q = pgmap.design.n_params
        return pgmap.datafit.newton_model == "softmax" and prob.n_outputs > 1 \
            and not np.any(prob.l1) and q <= _SOFTMAX_REFERENCE_MAX \
            and q * pgmap.design.n_samples <= _SOFTMAX_REFERENCE_ENTRIES

    def _solve_reference(self, pgmap, lam, prob, w, reference):
        """``(n_iter, reached, reference, measure, (z, grad))``: L-BFGS preconditioned by a
        reference Hessian (:mod:`._reference_hessian`) from ``w`` (updated in place; from
        the null model's intercept when ``w = 0``, :func:`_null_start`), at most
        ``max_iter`` steps, stopped by the ``grad_tol`` rule or by the relative duality gap
        below ``_OVERSHOOT * tol`` (evaluated once the suboptimality the reference predicts
        is near it); the caller goes on by coordinate descent from ``w`` when neither is
        reached. ``measure``: the relative gap at ``w`` when the solve stopped on it, else
        None; ``z`` and ``grad``: the predictions and the datafit's gradient
        ``X^T a / n`` at ``w``."""
        design = pgmap.design
        scale, grad_rule = prob.scale, self._grad_rule(prob)
        _null_start(prob, w)

        def value_grad(v):
            value, gradient, z, grad = _objective_value_gradient(prob, design, v)
            return value, gradient, (z, grad)

        measure = [None]  # the gap at the last iterate, when evaluated there
        last = [None]  # (predictions, datafit gradient) at the last iterate
        shrinking = [np.inf]  # the Newton decrement at the last iterate below the target
        target = _OVERSHOOT * self.tol

        def reached(v, g, extra, decrement):
            measure[0], last[0] = None, extra
            if grad_rule and self._gradient_small(prob, design, g):
                return True
            if decrement is None or decrement > _GAP_CHECK * target * scale:
                return False  # without a reference (a loose solve): the gradient rule
            z, grad = extra
            measure[0] = self._stop_measure(pgmap, lam, v, z, xt_theta=_xt_theta(prob, grad),
                                            scale=scale)
            if measure[0] > target:
                return False
            if target >= _RESOLVED:
                return True
            # a gap below the values' rounding says little of the gradient: the steps go
            # on while they shrink it (a held-out loss reads w, not the objective)
            stalled = decrement > _STALLED * shrinking[0]
            shrinking[0] = decrement
            return stalled

        def hessian_at(v):  # (at the point L-BFGS evaluates next, or last did)
            return _datafit_hessian(prob, design, _datafit_at(prob, design, v)[1])

        shift = np.append(prob.l2_entries, np.zeros(prob.n_outputs * prob.fit_intercept))
        # a solve to the gradient rule (the user's tolerance) takes a few L-BFGS steps:
        # it uses a reference it is given, forms one only once its plain steps cost as
        # much (see reference_lbfgs)
        slow = {} if prob.n_outputs == 1 else {"slow": _SOFTMAX_SLOW}
        # its plain steps (without a reference) start from the curvature pairs of the last
        # such solve on the same data (a search's previous point), kept with the design
        pairs = _kept_pairs(prob, design, shift) if grad_rule else None
        n_iter, done, reference = reference_lbfgs(value_grad, w, reached, hessian_at, shift,
                                                  reference, self.max_iter,
                                                  form=not grad_rule, pairs=pairs, **slow)
        if pairs:
            _keep_pairs(prob, design, pairs, shift)
        # (no step shrinking the gradient further, at a gap below the target: converged)
        done = done or (measure[0] is not None and measure[0] <= target)
        if done:  # the next solve may start from w
            _keep_solution(design, w)
        if last[0] is None:  # stopped before a step (a reference not positive definite)
            last[0] = value_grad(w)[2]
        return n_iter, done, reference, measure[0] if done else None, last[0]


def _kept_pairs(prob, design, shift):
    r"""The L-BFGS pairs ``(s, y, 1 / s^T y)`` of the objective of ``prob``, from the
    datafit's pairs :func:`_keep_pairs` kept with ``design`` for the same targets and
    datafit: :math:`y = y_F + \mathrm{shift} \odot s`, ``y_F`` the change of the
    datafit's gradient along ``s`` (it does not depend on the penalty) and
    ``shift * s`` that of the L2 term at this solve's weights (exact), the pairs with
    :math:`s^T y > 0`, oldest first; a new empty list when none are kept."""
    kept = design._cache.get("lbfgs_pairs")
    if kept is None or any(a is not b for a, b in zip(kept[0], (design.X, prob.y,
                                                               prob.datafit))):
        return []
    pairs = []
    for s, y_datafit in kept[1]:
        if s.shape != shift.shape:
            return []
        y = y_datafit + shift * s
        sy = float(s @ y)
        if sy > 0.0:
            pairs.append((s, y, 1.0 / sy))
    return pairs


def _keep_pairs(prob, design, pairs, shift):
    """Keep with ``design`` the datafit's parts ``(s, y - shift * s)`` of the L-BFGS
    ``pairs`` of a solve of ``prob`` whose L2 term's curvatures are ``shift`` (see
    :func:`_kept_pairs`), for the next solve on the same data."""
    design._cache["lbfgs_pairs"] = ((design.X, prob.y, prob.datafit),
                                    [(s, y - shift * s) for s, y, _ in pairs])


def _xt_theta(prob, grad):
    """``X^T theta = -grad`` as the duality gap reads it: shape (p,), or (p, K) for ``K``
    outputs (``grad`` the datafit's flat gradient ``X^T a / n``, entries ``j K + k``)."""
    return -grad if prob.n_outputs == 1 else -grad.reshape(prob.p, prob.n_outputs)


def _datafit_hessian(prob, design, z):
    r"""The datafit's Hessian at the predictions ``z``, shape (q, q) over the flat
    parameters (coefficients ``j K + k``, then the intercepts).

    One output: :math:`[X, 1]^T \mathrm{diag}(h) [X, 1] / n`, ``h`` the curvatures.
    Multinomial (``newton_model = "softmax"``): the sum over the samples of
    :math:`\tilde x_i \tilde x_i^T \otimes s_i (\mathrm{diag}(p_i) - p_i p_i^T) / n`
    (:func:`~skhypergrad._hessian_blocks.softmax_hessian`), plus
    :math:`\sum_j c_j u_j u_j^T` over the columns ``j`` of :math:`\tilde X = [X, 1]`,
    ``u_j`` the indicator of the ``K`` entries of column ``j`` and ``c_j`` the mean of
    their diagonal entries. Each ``u_j`` is a direction the loss ignores (every class's
    score moved alike): the Hessian is singular along the intercepts' and, relative to
    its column's curvature, nearly so along a column's whose L2 weight is small
    against it (a column scaled by 1e6), beyond what a Cholesky factor resolves.
    The L2 term (equal across a column's classes) maps every ``u_j`` to a multiple of
    itself, so the term acts on the span of the ``u_j`` alone: a vector orthogonal to
    it, as every datafit gradient is (and the L2 term's at a point whose classes sum
    to 0 per column, as every iterate from 0), has the same image under the inverse
    with or without it, and the matrix is positive definite for a Cholesky factor.
    """
    if prob.n_outputs == 1:
        return design.weighted_gram(prob.curvatures(z, None)) / design.n_samples
    sw = prob.sw if prob.sw.shape[0] else None
    H = softmax_hessian(design, z, sw)
    K = prob.n_outputs
    for start in range(0, H.shape[0], K):
        block = slice(start, start + K)
        H[block, block] += np.trace(H[block, block]) / K
    return H
