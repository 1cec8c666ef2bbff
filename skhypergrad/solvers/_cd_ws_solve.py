r"""One working set's solve in :class:`~skhypergrad.solvers.CoordinateDescent`.

Least squares minimizes the restricted problem itself by coordinate descent epochs, on
the residuals or on the Gram matrix (:mod:`._gram_kernels`; on the Gram matrix without an
L1 term, by one linear solve); another datafit takes
proximal Newton steps, each model minimized on its support directly or by coordinate
descent epochs, followed by the line search (see
:mod:`skhypergrad.solvers.coordinate_descent`). Epochs are accelerated by Anderson
extrapolation.
"""

import numpy as np
import scipy.sparse as sp
from scipy.linalg.lapack import dposv as _posv

from ._cd_kernels import prox_steps
from ._cd_problem import _UNIT, _anderson
from ._gram_kernels import add_columns, gram_epoch, gram_product


class _WorkingSetSolves:
    """The working-set solves of :class:`~skhypergrad.solvers.CoordinateDescent` (a base
    class of it: reads its ``max_epochs``, ``inner_ratio`` and ``anderson``)."""

    def _ws_least_squares(self, prob, w, z, a, ws, tol, grad):
        """Coordinate descent on the working set (the model is exact); ``w``, ``z`` in place.

        ``grad`` is ``X^T a / n``, the gradient at the start (used on the Gram matrix; None
        otherwise). Returns ``(epochs, True)`` (every epoch is a step; see
        :meth:`_ws_newton`).
        """
        if prob.gram is not None:
            return self._ws_gram(prob, w, z, a, ws, tol, grad), True
        v, d = np.zeros_like(z), a.copy()
        epochs = self._minimize_model(prob, w, v, d, a, _UNIT, ws, prob.moving_bounds(ws), tol,
                                      self.max_epochs)
        z += v
        return epochs, True

    def _ws_gram(self, prob, w, z, a, ws, tol, grad):
        r""":meth:`_ws_least_squares` on the Gram matrix (:mod:`._gram_kernels`).

        The epochs, and the Anderson extrapolation of :meth:`_minimize_model`,
        run on the working set's coordinates and the intercept alone: with
        :math:`\delta w, \delta b` the changes since the start, the model is
        :math:`Q = c^T\delta w + \bar a\,\delta b + \tfrac12 \delta w^T G \delta w
        + \delta b\, s^T\delta w + \tfrac12 L_b \delta b^2 + G_W(w)`.
        """
        G, colmeans, _ = prob.gram
        # (a sparse X: no p-sized gradient kept, the working set's entries computed)
        c = grad[ws] if grad is not None else prob.columns_t(ws, a)
        s_ws, l1, l2 = colmeans[ws], prob.l1[ws], prob.l2[ws]
        mean_a = float(a.mean())
        lc_b = prob.curvature if prob.fit_intercept else 1.0
        w_ws = w[ws]  # a copy (fancy indexing)
        start = w_ws.copy()
        if prob.lower == -np.inf and not np.any(l1) and np.all(l2 > 0.0):
            every = ws.shape[0] == G.shape[0] and np.array_equal(ws, np.arange(G.shape[0]))
            db = _ridge_step(G if every else G[np.ix_(ws, ws)], c, s_ws, mean_a, lc_b, l2,
                             w_ws, prob.fit_intercept)
            w[ws] = w_ws
            if prob.fit_intercept:
                w[-1] += db
            _add_columns(prob, ws, w_ws - start, db, z)
            return 1
        lc = prob.lc[ws]  # (a dense X: the epochs below run on dense designs alone)
        q, shift, gdx = np.zeros(ws.shape[0]), np.zeros(2), np.empty(ws.shape[0])

        def model(x, db):
            dx = x - start
            return float(c @ dx + mean_a * db + 0.5 * dx @ gram_product(G, ws, dx, gdx)
                         + db * (s_ws @ dx)
                         + 0.5 * lc_b * db * db + l1 @ np.abs(x) + 0.5 * (l2 * x) @ x)

        K, m = self.anderson, ws.shape[0]
        hist = np.empty((K + 1, m + 1))
        metric = np.sqrt(np.append(lc, lc_b))  # the Anderson differences' metric
        epochs = self.max_epochs
        for epoch in range(self.max_epochs):
            violation = gram_epoch(G, ws, c, s_ws, mean_a, w_ws, q, shift, l1, l2,
                                   prob.lower, lc, lc_b, prob.intercept_unit)
            if violation <= tol:
                epochs = epoch + 1
                break
            if K > 0:
                k = epoch % (K + 1)
                hist[k, :m], hist[k, m] = w_ws, shift[1]
                if k == K:
                    extrapolated = _anderson(hist, metric)
                    if extrapolated is not None and extrapolated[:m].min(initial=0.0) >= \
                            prob.lower and \
                            model(extrapolated[:m], extrapolated[m]) < model(w_ws, shift[1]):
                        w_ws[:] = extrapolated[:m]
                        shift[1] = extrapolated[m]
                        dx = w_ws - start
                        gram_product(G, ws, dx, q)
                        shift[0] = s_ws @ dx
        w[ws] = w_ws
        if prob.fit_intercept:
            w[-1] += shift[1]
        _add_columns(prob, ws, w_ws - start, shift[1], z)
        return epochs

    def _ws_newton(self, prob, w, z, a, ws, tol, grad=None):
        """Proximal Newton on the working set: the model minimized on its support directly
        (:meth:`_Problem.support_model_minimizer`, see :attr:`_Problem.direct`) or by
        coordinate descent, then the line search.

        The models' epochs add up to at most ``max_epochs``. Returns ``(epochs, moved)``,
        ``moved`` whether a step was taken (False when the working set is solved to
        ``tol`` at the start, or the line search rejects the first model's minimizer).
        """
        idx, cols = prob.moving(ws), prob.entries(ws)
        lc_moving = prob.moving_bounds(ws)
        lc_cols = lc_moving[:cols.shape[0]]
        resolution_weights = prob.resolution_weights(ws, lc_moving)
        lc_model = lc_moving.copy() if prob.n_outputs == 1 else None
        epochs, moved = 0, False
        try_direct = prob.direct
        while epochs < self.max_epochs:
            h = prob.curvatures(z, a)
            if try_direct:  # the model's curvatures only if coordinate descent needs them
                grad_ws, modelled = prob.columns_t(ws, a).ravel(), False
            else:
                grad_ws, curv = prob.gradient_curvature(*prob.kernel_args, ws, a, h)
                lc_model, modelled = prob.model_curvatures(lc_model, curv, h, lc_moving), True
            steps = prox_steps(w[cols], grad_ws, prob.l1_entries[cols], prob.l2_entries[cols],
                               prob.lower,
                               lc_cols)
            violation = np.max(lc_cols * np.abs(steps), initial=0.0)
            if prob.fit_intercept:
                violation = max(violation, prob.intercept_violation(a))
            # below the resolution of w no step can lower the violation (Huber's 2 / sigma
            # at a tiny scale times one ulp of w can exceed tol): the loop would repeat
            resolution = prob.resolution(w, idx, resolution_weights)
            if violation <= max(tol, resolution):
                break
            model_tol = max(self.inner_ratio * violation, prob.rounding(a), resolution)
            w_new, start, solved = None, None, False
            if try_direct:
                direct = prob.support_model_minimizer(w, a, h, ws, grad_ws, lc_cols, model_tol)
                if direct is not None and direct[3]:
                    (w_new, v, _, _), epochs = direct, epochs + 1
                    t, a_t = prob.line_search(w, w_new, z, v, cols, a)
                    solved = t > 0.0
                    if t == 0.0:  # at the rounding of its slopes: descent on the model
                        w_new = None
                elif direct is not None and prob.model(direct[0][cols], direct[1], a, h, cols) \
                        < prob.penalty(w[cols], cols):
                    start, epochs = direct[:3], epochs + 1  # below the center's model value
            if w_new is None:
                if not modelled:
                    _, curv = prob.gradient_curvature(*prob.kernel_args, ws, a, h)
                    lc_model = prob.model_curvatures(lc_model, curv, h, lc_moving)
                if start is None:
                    w_new, (v, d) = w.copy(), prob.model_start(z, a)
                else:  # Fortran-ordered, as the epoch kernel reads them
                    w_new, v, d = start[0], np.asfortranarray(start[1]), \
                        np.asfortranarray(start[2])
                epochs += self._minimize_model(prob, w_new, v, d, a, h, ws, lc_model, model_tol,
                                               self.max_epochs - epochs, w)
                if np.array_equal(w_new[idx], w[idx]):  # the model's steps all rounded away
                    break
                # the model's minimizer kept the signs: the next one may be found directly
                try_direct = prob.direct and \
                    np.array_equal(np.sign(w_new[cols]), np.sign(w[cols]))
                t, a_t = prob.line_search(w, w_new, z, v, cols, a)
            if t == 0.0:
                break
            w[idx] += t * (w_new[idx] - w[idx])
            z += t * v
            a = np.ascontiguousarray(a_t)  # that of z (C-ordered, as z)
            if solved and prob.n_outputs == 1 and prob.fit_intercept:
                a = prob.intercept_step(w, z, a)
            moved = True
        return epochs, moved

    def _minimize_model(self, prob, w, v, d, a, h, ws, lc, tol, max_epochs, center=None):
        """Epochs on the model until an epoch's violation is below ``tol``, at most
        ``max_epochs``; returns the count. ``w`` (with ``v`` and ``d``) may start away
        from the model's ``center`` (by default ``w`` itself).

        Every ``anderson + 1`` epochs, the iterates are extrapolated (Anderson):
        with ``U`` the differences of the last iterates (each entry times the square
        root of its curvature: the result does not depend on the scale of the
        columns), ``c`` solves ``U U^T c = 1`` normalized to sum 1, and
        ``sum_k c_k w_k`` replaces ``w`` when it lowers the model.
        """
        idx = prob.moving(ws)
        K = self.anderson
        hist_w = np.empty((K + 1, idx.shape[0]))
        # v = X (w - start) on the moving entries (v is zero at the start): on a sparse X
        # it is computed again from the extrapolated w (a product with the working set's
        # columns) instead of keeping K + 1 copies of v (n-sized each)
        if prob.lc is None:
            hist_v, start = None, (w if center is None else center)[idx]
        else:
            hist_v, start = np.empty((K + 1, v.size)), None
        metric = prob.entry_metric(lc)
        for epoch in range(max_epochs):
            violation = prob.epoch(*prob.kernel_args, w, v, d, h, ws, prob.l1, prob.l2,
                                   prob.lower, lc, prob.intercept_unit)
            if violation <= tol:
                return epoch + 1
            if K > 0:
                k = epoch % (K + 1)
                hist_w[k] = w[idx]
                if hist_v is not None:
                    hist_v[k] = v.ravel()
                if k == K:
                    prob.anderson_step(w, v, d, a, h, ws, hist_w, hist_v, start, metric)
        return max_epochs


def _add_columns(prob, ws, delta, shift, z):
    """``z += X_ws delta + shift`` (the columns ``X_j - mu_j`` of an implicitly centred
    sparse ``X``; ``shift`` the intercept's change, 0 without one)."""
    if not sp.issparse(prob.X):
        add_columns(prob.X, ws, delta, shift, z)
        return
    z += prob.predictions_change(ws, np.append(delta, shift) if prob.fit_intercept
                                 else delta)


def _ridge_step(G_ws, c, s, mean_a, lc_b, l2, w, fit_intercept):
    r"""The working set's model without an L1 term (every L2 weight positive, no bound)
    minimized in one linear solve; ``w`` moved in place, returns :math:`\delta b`.

    The stationarity of the model of :meth:`_WorkingSetSolves._ws_gram`,

    .. math::

        \begin{pmatrix} G_{WW} + \mathrm{diag}(\lambda_2) & s \\ s^T & L_b \end{pmatrix}
        \begin{pmatrix} \delta w \\ \delta b \end{pmatrix}
        = -\begin{pmatrix} c + \lambda_2 \odot w \\ \bar a \end{pmatrix},

    (without an intercept, the first block row with :math:`\delta b = 0`) is positive
    definite: the Gram matrix of the columns and the constant plus the L2 weights. The
    coordinate epochs converge on it at the rate of its condition number, which
    correlated columns at a small weight make large.
    """
    m = w.shape[0]
    rhs = -(c + l2 * w)
    A = np.empty((m + fit_intercept, m + fit_intercept), order="F")  # (LAPACK's order)
    A[:m, :m] = G_ws
    A[np.arange(m), np.arange(m)] += l2
    if fit_intercept:
        A[:m, m] = A[m, :m] = s
        A[m, m] = lc_b
        rhs = np.append(rhs, -mean_a)
    step = _spd_solve(A, rhs)
    w += step[:m]
    return float(step[m]) if fit_intercept else 0.0


def _spd_solve(A, b):
    """``A^{-1} b`` for a symmetric positive definite ``A``: LAPACK's Cholesky solve, or
    LU (``np.linalg.solve``) when the factorization finds a pivot that is not positive
    (a matrix definite below the rounding of its entries)."""
    _, x, info = _posv(A, b, lower=1)
    if info < 0:
        raise ValueError(f"dposv: illegal value in argument {-info}")
    return x if info == 0 else np.linalg.solve(A, b)
