"""One coordinate-descent problem ``(pgmap, lam)`` as the driver reads it.

:class:`_Problem` holds what one solve needs (the converted design, the
penalty weights, the curvature bounds or the Gram matrix, the epoch kernels)
and computes the optimality scores, the working sets, the models and the
steps that :class:`~skhypergrad.solvers.CoordinateDescent` iterates.
"""

import math
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

from .._design import centred_squared_norms, gram_of, xty_of
from ._cd_design import (_bounds, _entry_bounds, _feature_bounds, _squared_norms_range,
                         _use_gram, implicit_offset, stored_squared_norms)
from ._cd_kernels import (cd_epoch, cd_epoch_blocks, columns_gradient_curvature,
                          column_dots, gradient_curvature_blocks, prox_scores, prox_steps,
                          selected_columns_data, selected_columns_dense, selected_columns_t,
                          selected_columns_times)
from ._gap import gap_scale
from ._support_newton import support_step, support_system
from ._working_set import TopScores, working_set

_EPS = float(np.finfo(np.float64).eps)
_UNIT = np.empty(0)  # curvature h of least squares: all ones, never read
_H_FLOOR = 1e-12  # smallest model curvature, so that the model stays strongly convex
# the support's direct solve is tried up to this many entries, and this
# many entries of its (n, q) matrices
_DIRECT_MAX = 2048
_DIRECT_MAX_ENTRIES = 1 << 22
# the entries whose sign the support's step changes are held at 0 and the rest solved again,
# at most this many times
_HOLD_ROUNDS = 8

def _direct(datafit, n_outputs, l1):
    """Whether coordinate descent's proximal Newton models are first minimized on their
    support directly (:meth:`_Problem.support_model_minimizer`): for several outputs,
    and for one output with an L1 part whose datafit's curvature varies with the
    predictions and is not piecewise quadratic (the binary logistic loss, the GLMs).

    With an L1 part the support is the few nonzero coefficients, and coordinate descent
    on the model is slow along correlated columns: the direct solve, ``O(n q^2)`` for
    ``q`` entries, costs a few epochs. With an L2 penalty alone the support is every
    coefficient and the L2 weight conditions the model, whose epochs (``O(n q)`` each)
    converge in a few. A constant curvature (a weighted least squares) keeps the epochs
    of least squares, so that integer weights fit as the rows repeated; a piecewise
    quadratic one (the squared hinge, zero on a piece) has the Newton path of
    :mod:`._active_set_newton`.
    """
    if n_outputs > 1:
        return True
    return bool(np.any(l1)) and not (datafit.constant_hessian or datafit.piecewise_quadratic)


class _Problem(NamedTuple):
    """What the driver needs of one problem ``(pgmap, lam)``, computed once per solve.

    Predictions ``z``, derivatives ``a`` and curvatures ``h`` have the datafit's
    layout: shape (n,) for one output, (n, K) for K classes. A working set is
    a sorted array of features; :meth:`entries` gives their coefficients in ``w``.
    """

    datafit: object
    y: np.ndarray
    onehot: np.ndarray  # (n, K) label indicators (multinomial), else empty
    # the sample weights of the multinomial Hessians (mean 1), or empty: unit weights, or
    # one output (whose curvatures h are weighted already)
    sw: np.ndarray
    # (X, data, indices, indptr, mu) of the epoch kernels, then sw for several outputs
    kernel_args: tuple
    X: object
    # column means of a sparse X centred implicitly (its columns are X_j - mu_j), else None
    mu: object
    l1: np.ndarray
    l1_entries: np.ndarray  # the L1 weight of every coefficient (entry j K + k: l1[j])
    l2: np.ndarray
    l2_entries: np.ndarray  # the L2 weight of every coefficient (entry j K + k: l2[j])
    lower: float  # lower bound on the coefficients: 0.0 (positive) or -inf
    # curvature bounds c ||X_j||^2 / n per coefficient, then c per intercept; None for a
    # sparse X (p may be large): computed for the entries needed (see moving_bounds)
    lc: object
    curvature: float
    col_norm: float  # largest ||X_j|| (intercept column included)
    # the intercept's violations are multiplied by it before they are compared with the
    # coefficients' (max_j ||X_j|| / sqrt(n): both then scale alike with X); 0 without one
    intercept_unit: float
    scale: float
    exact: bool
    fit_intercept: bool
    p: int
    n_outputs: int
    epoch: object  # the epoch kernel: cd_epoch (one output) or cd_epoch_blocks
    gradient_curvature: object  # columns_gradient_curvature(_blocks)
    gram: object  # (X^T X / n, X^T 1 / n, X^T y / n) for least squares on the Gram, or None
    # whether the proximal Newton models are first minimized on their support directly
    # (support_model_minimizer): see _direct
    direct: bool
    # the support's factored system of the last Newton step, for the next ones (see
    # support_model_minimizer)
    newton_cache: dict

    @classmethod
    def build(cls, pgmap, lam, precompute="auto"):
        datafit, design = pgmap.datafit, pgmap.design
        X, kernel_args, lc, col_norm, feature_norm = _bounds(design, pgmap.curvature)
        unit = feature_norm / np.sqrt(design.n_samples) if design.fit_intercept else 0.0
        # uniform weights stay read-only zero-stride views: the kernels only read them
        l1, l2 = pgmap.penalty.weights(lam, design.n_features)
        n, c, K = design.n_samples, pgmap.curvature, design.n_outputs
        l1, l2 = np.asarray(l1, dtype=np.float64), np.asarray(l2, dtype=np.float64)
        sw = _UNIT
        if datafit.newton_model == "softmax":
            y = np.asarray(pgmap.y)
            onehot = np.zeros((n, K))
            onehot[np.arange(n), y] = 1.0
            kernels = (cd_epoch_blocks, gradient_curvature_blocks)
            if datafit.sample_weight is not None:
                sw = np.ascontiguousarray(datafit.sample_weight, dtype=np.float64)
            kernel_args = kernel_args + (sw,)
        else:
            y, onehot = np.ascontiguousarray(pgmap.y, dtype=np.float64), _UNIT
            kernels = (cd_epoch, columns_gradient_curvature)
        gram = None
        ridge = not np.any(l1) and pgmap.penalty.lower == -np.inf and bool(np.all(l2 > 0.0))
        if _use_gram(design, datafit, precompute, ridge):
            gram = gram_of(design, X) + (xty_of(design, pgmap.y, X),)
        l1_entries = l1 if K == 1 else np.repeat(l1, K)
        l2_entries = l2 if K == 1 else np.repeat(l2, K)
        # a sparse X stored densely is centred explicitly, a CSC one partly (see _cd_design)
        mu = implicit_offset(kernel_args)
        return cls(datafit, y, onehot, sw, kernel_args, X, mu, l1, l1_entries,
                   l2, l2_entries, pgmap.penalty.lower, lc,
                   c, col_norm, unit if unit > 0 else float(design.fit_intercept),
                   gap_scale(pgmap),
                   datafit.least_squares, design.fit_intercept, design.n_features, K,
                   *kernels,
                   gram, _direct(datafit, K, l1), {})

    @property
    def n_coefs(self):
        return self.p * self.n_outputs

    def entries(self, ws):
        """The coefficients of the features ``ws`` in ``w`` (entries ``j K + k``), sorted."""
        K = self.n_outputs
        return ws if K == 1 else (ws[:, None] * K + np.arange(K)).ravel()

    def predictions(self, design, w):
        """``z = X coef + intercept`` (:meth:`~skhypergrad._design.Design.matvec`), from the
        dense array a sparse ``design.X`` is stored as, when it is (the same products as
        for a dense ``X``)."""
        if not design.is_sparse:
            return design.matvec(w)
        z = design.intercept(w) + self.X @ design.coef(w)
        return z if self.mu is None else z - self.mu @ design.coef(w)

    def derivative(self, z):
        """``a_i = grad l(y_i, z_i)`` (the datafit's gradient in ``z``, times n)."""
        return self.datafit.raw_grad(self.y, z) * self.y.shape[0]

    def curvatures(self, z, a):
        """Curvatures ``h`` of the model, floored at 1e-12 so that it stays strongly convex.

        One output: the datafit's
        :meth:`~skhypergrad.datafits.BaseDatafit.newton_curvature`, ``h_i = l''(y_i, z_i)``
        unless a majorizing curvature stands for it. Multinomial: the class
        probabilities ``p_i = a_i / s_i + onehot_i`` (``s_i`` the sample weight; the
        one-hot row where ``s_i = 0``: that sample's Hessian is 0 whatever ``p_i``). The
        Hessians are ``s_i (diag(p_i) - p_i p_i^T)``; their blocks are floored in
        :meth:`model_curvatures`. Fortran-ordered (see :meth:`model_start`).
        """
        if self.n_outputs > 1:
            if self.sw.shape[0]:
                s = self.sw[:, None]
                a = np.divide(a, s, out=np.zeros(a.shape), where=s > 0)
            return np.asfortranarray(np.clip(a + self.onehot, 0.0, 1.0))
        return np.maximum(self.datafit.newton_curvature(self.y, z), _H_FLOOR)

    def model_start(self, z, a):
        """``(v, d)`` at the model's center: the prediction change 0 and the derivative
        ``a`` (a copy), Fortran-ordered for several outputs (the block kernels run over
        the samples one class at a time)."""
        return np.zeros(z.shape, order="F"), np.array(a, order="F")

    def model_curvatures(self, lc_model, curv, h, lc_moving):
        """The model's curvatures for the epoch kernel on a working set, from ``curv``,
        those of its features (in its order), and ``lc_moving`` (:meth:`moving_bounds`).

        One output: ``L_j`` per feature, then ``mean(h)`` for the intercept
        (``lc_model`` updated in place). Multinomial: the flattened K x K blocks
        ``B_j``, then ``sum_i H_i / n`` for the intercepts (``H_i = s_i (diag(h_i) -
        h_i h_i^T)``), each diagonal
        floored at 1e-12 times ``||X_j||^2 / n``.

        The probabilities ``h_i`` sum to 1, so ``H_i 1 = 0``: a block's diagonal entry
        is minus the sum of the other entries of its row, and is taken so. Computed
        directly, its rounding (relative to ``||X_j||^2 / n``) can leave a block
        indefinite along ``1`` by more than the L2 weight (a column scaled by 1e6:
        ``1^T B_j 1 = -2e-4`` against ``l2 = 1e-5``), along which the block sweeps then
        diverge; with its entries off the diagonal ``<= 0``, every block is then positive
        semidefinite, ``1`` in its kernel.
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
            sh = h * self.sw[:, None] if self.sw.shape[0] else h
            blocks[-1] = np.diag(sh.mean(axis=0)) - (sh.T @ h) / n
        blocks[:, np.arange(K), np.arange(K)] = 0.0
        diag = -blocks.sum(axis=2)  # minus the sums of the entries off the diagonal
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
        hv -= h * hv.sum(axis=1, keepdims=True)
        if self.sw.shape[0]:
            hv *= self.sw[:, None]
        return hv

    def intercept_gradient(self, a):
        """``max_k |grad_{b_k} F|`` (``mean(a)``'s sum over the samples as numpy's
        ``mean`` forms it: ``np.add.reduce`` divided by ``n``)."""
        if a.ndim == 1:  # one output: without mean's dispatch, called at every round
            return abs(float(np.add.reduce(a) / a.shape[0]))
        return float(np.max(np.abs(a.mean(axis=0))))

    def intercept_violation(self, a):
        """:meth:`intercept_gradient` in the units of the coefficients' violations
        (times ``intercept_unit``)."""
        return self.intercept_gradient(a) * self.intercept_unit

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
        grad = np.asarray(self.X.T @ a)
        if self.mu is not None:
            grad -= np.multiply.outer(self.mu, a.sum(axis=0))
        grad = grad.ravel()
        grad /= a.shape[0]
        return grad

    def gram_hessian(self):
        """The datafit's Hessian :math:`[X, 1]^T [X, 1] / n` (without the intercept's
        row and column when there is none) from :attr:`gram`, shape (q, q)."""
        G, colmeans, _ = self.gram
        if not self.fit_intercept:
            return G * self.curvature
        p = G.shape[0]
        H = np.empty((p + 1, p + 1))
        H[:p, :p] = G
        H[:p, p] = H[p, :p] = colmeans
        H[p, p] = 1.0
        H *= self.curvature
        return H

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
                scores, decrease = prox_scores(w[:nc], grad, self.l1_entries,
                                               self.l2_entries,
                                               self.lower, self.lc[:nc], np.empty(nc))
            if K > 1:
                scores = scores.reshape(self.p, K).max(axis=1)
            violation = scores.max(initial=0.0)
            ws, size = working_set(scores, w[:nc], K, ws_size)
            del scores
        grad_b = self.intercept_gradient(a) if self.fit_intercept else 0.0
        decrease = max(decrease, grad_b ** 2 / self.curvature)
        return ws, size, max(violation, grad_b * self.intercept_unit), decrease / 2, grad

    def xt_theta_blocks(self, a, chunk=1 << 12):
        """``X^T theta = -X^T a / n`` (CSC ``X``, one output) as the callable giving its
        blocks ``(j0, block)`` of ``chunk`` features that
        :func:`~skhypergrad.solvers.duality_gap` takes: the entries of
        ``-gradient(w, a)``, bit for bit, without a ``p``-sized array."""
        def blocks():
            for j0 in range(0, self.p, chunk):
                block = self._gradient_range(a, j0, min(j0 + chunk, self.p))
                yield j0, np.negative(block, out=block)
        return blocks

    def _gradient_range(self, a, j0, j1):
        """``X_j^T a / n`` for the features ``j0 <= j < j1`` (CSC ``X``, one output): the
        entries of :meth:`gradient`, bit for bit."""
        X = self.X
        grad = column_dots(X.data, X.indices, X.indptr, j0, j1, a)
        if self.mu is not None:
            grad -= self.mu[j0:j1] * a.sum()
        grad /= a.shape[0]
        return grad

    def _block_bounds(self, j0, j1):
        """The curvature bounds of the coefficients of features ``j0 <= j < j1`` (sparse ``X``)."""
        return _feature_bounds(_squared_norms_range(self.X, j0, j1, self.mu), self.curvature,
                               self.y.shape[0], self.n_outputs)

    def _scores_in_place(self, w, grad, chunk=1 << 12):
        """:func:`prox_scores` written over ``grad`` (sparse ``X``), ``chunk`` features at a
        time with their curvature bounds (no ``p``-sized array of them); returns the
        largest decrease bound."""
        K, decrease = self.n_outputs, 0.0
        for j0 in range(0, self.p, chunk):
            j1 = min(j0 + chunk, self.p)
            e0, e1 = j0 * K, j1 * K
            _, dec = prox_scores(w[e0:e1], grad[e0:e1], self.l1_entries[e0:e1],
                                 self.l2_entries[e0:e1],
                                 self.lower, self._block_bounds(j0, j1), grad[e0:e1])
            decrease = max(decrease, dec)
        return decrease

    def _scores_by_blocks(self, w, a, top, chunk=1 << 12):
        """The scores of :meth:`_scores_in_place` (sparse ``X``, one output), from the
        gradient ``X^T a / n`` computed ``chunk`` features at a time (the same sums as
        :meth:`gradient`) and ranked by ``top`` (:class:`TopScores`); returns the
        largest score (NaN if any) and the largest decrease bound."""
        violation, decrease = 0.0, 0.0
        for j0 in range(0, self.p, chunk):
            j1 = min(j0 + chunk, self.p)
            grad = self._gradient_range(a, j0, j1)
            scores, dec = prox_scores(w[j0:j1], grad, self.l1_entries[j0:j1],
                                      self.l2_entries[j0:j1],
                                      self.lower, self._block_bounds(j0, j1), grad)
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
        _, data, _, indptr = self.kernel_args[:4]
        sq = stored_squared_norms(*selected_columns_data(data, indptr, ws))
        if self.mu is not None:
            sq = centred_squared_norms(sq, self.mu[ws], self.y.shape[0])
        return _entry_bounds(sq, self.curvature, self.y.shape[0], self.n_outputs,
                             self.fit_intercept)

    def resolution_weights(self, ws, lc_moving):
        """The weights of :meth:`resolution` on the entries :meth:`moving` of the working
        set ``ws`` (``lc_moving`` their bounds): the bounds, an intercept's times
        ``intercept_unit``; fixed for a working set's solve."""
        units = np.ones(lc_moving.shape[0])
        if self.fit_intercept:
            units[lc_moving.shape[0] - self.n_outputs:] = self.intercept_unit
        return units * lc_moving

    def resolution(self, w, idx, weights):
        r"""The smallest violation a step can resolve on a working set:
        :math:`4u \max_k L_k |w_k|` over its entries ``idx`` (:meth:`moving`; ``weights``
        their :meth:`resolution_weights` :math:`L_k`, an intercept's bound times
        ``intercept_unit``), :math:`u` the float64 machine epsilon. A coordinate's
        violation is :math:`L_k |\Delta_k|`, and a step below one ulp of :math:`w_k`
        leaves it unchanged: with a large curvature (Huber's :math:`2/\sigma` at a tiny
        scale) that floor can exceed a requested ``tol``."""
        return 4 * _EPS * float(np.max(weights * np.abs(w[idx]), initial=0.0))

    def rounding(self, a):
        """Rounding error of the violations: ``16 eps max_j ||X_j|| ||a|| / n`` (``||a||``
        as :func:`numpy.linalg.norm` forms it, without its dispatch)."""
        flat = a.ravel(order="K")
        return 16 * _EPS * self.col_norm * math.sqrt(float(flat.dot(flat))) / a.shape[0]

    def moving(self, ws):
        """Entries of ``w`` a working-set solve changes: those of ``ws`` and the intercepts."""
        cols = self.entries(ws)
        if not self.fit_intercept:
            return cols
        return np.concatenate((cols, np.arange(self.n_coefs, self.n_coefs + self.n_outputs)))

    def penalty(self, w_cols, cols):
        """Penalty of the coefficients ``w_cols``, entries ``cols`` of ``w``."""
        return float(self.l1_entries[cols] @ np.abs(w_cols)
                     + 0.5 * (self.l2_entries[cols] * w_cols) @ w_cols)

    def model(self, w_cols, v, a, h, cols):
        """``Q = (a^T v + v^T (h v) / 2) / n + G_ws(w)`` up to a constant, from the
        coefficients ``w_cols`` of the working set (entries ``cols`` of ``w``)."""
        hv = self.hess_v(h, v)
        return (float(np.vdot(a, v) + 0.5 * np.vdot(hv, v)) / v.shape[0]
                + self.penalty(w_cols, cols))

    def anderson_step(self, w, v, d, a, h, ws, hist_w, hist_v, start=None, metric=None):
        """Replace ``(w, v, d)`` by the Anderson extrapolation of the history if ``Q`` drops.

        ``v`` extrapolated from its history ``hist_v``, or, when that is None,
        computed as :meth:`predictions_change` from ``start`` (the moving entries
        when ``v`` was zero). ``metric``: the square roots of the moving entries'
        curvatures, in which the differences of the iterates are measured.
        """
        c = _anderson_weights(hist_w, metric)
        if c is None:
            return
        # on the moving entries only (the working set's, then the intercepts): no copy of w
        idx, cols = self.moving(ws), self.entries(ws)
        w_acc = c @ hist_w[1:]
        if np.any(w_acc[:cols.shape[0]] < self.lower):  # outside a nonnegative model's set
            return
        if hist_v is None:
            v_acc = self.predictions_change(ws, w_acc - start).reshape(v.shape)
        else:
            v_acc = (c @ hist_v[1:]).reshape(v.shape)
        if self.model(w_acc[:cols.shape[0]], v_acc, a, h, cols) < \
                self.model(w[cols], v, a, h, cols):
            w[idx], v[:] = w_acc, v_acc
            d[:] = a + self.hess_v(h, v_acc)

    def entry_metric(self, lc):
        """The square roots of the diagonal curvatures of the moving entries, from the
        model curvatures ``lc`` the epoch kernel takes (one per entry for one output,
        the flattened K x K blocks for several)."""
        K = self.n_outputs
        diag = lc if K == 1 else lc.reshape(-1, K, K)[:, np.arange(K), np.arange(K)].ravel()
        return np.sqrt(np.maximum(diag, 0.0))

    def predictions_change(self, ws, delta):
        """``X_ws delta_W + delta_b``: how the predictions move when the moving entries of
        ``w`` (:meth:`moving`: the working set's coefficients, then the intercepts) move
        by ``delta``; shape (n,) or (n, K)."""
        K, m = self.n_outputs, ws.shape[0] * self.n_outputs
        coef = delta[:m] if K == 1 else delta[:m].reshape(ws.shape[0], K)
        if sp.issparse(self.X):
            _, data, indices, indptr = self.kernel_args[:4]
            out = selected_columns_times(data, indices, indptr, ws, coef.reshape(-1, K),
                                         self.y.shape[0])
            out = out.ravel() if K == 1 else out
        else:
            out = self.X[:, ws] @ coef
        if self.mu is not None:
            out -= self.mu[ws] @ coef
        if self.fit_intercept:
            out += delta[m:] if K > 1 else delta[m]
        return out

    def support_model_minimizer(self, w, a, h, ws, grad_ws, lc_cols, tol):
        """The model's minimizer from the linear system on the support (see
        :mod:`._support_newton`): ``(w_new, v, d, ok)``, or None when the system is
        not positive definite, or too large (more than 2048 entries, or ``n`` times
        their count above ``2^22``: coordinate descent then minimizes the model).

        ``ok`` tells whether ``w_new`` keeps the support's signs and is the model's
        minimizer to ``tol``; if not, ``w_new`` (with the coefficients whose sign
        changed set to 0) is where coordinate descent on the model may start, with its
        prediction change ``v`` and model derivative ``d``. ``grad_ws`` is the datafit's
        gradient on the entries of ``ws`` at the center ``w``; ``lc_cols`` their
        curvature bounds, in which the model's coordinate steps at the candidate are
        measured (as the driver measures the problem's).

        For several outputs, the system factored at an earlier center on the same
        support (kept in ``newton_cache`` for the solve) is tried first: its step
        minimizes a model whose curvatures are those of that center, and is kept when it
        passes the same test on the current model (near the optimum, where the curvatures
        hardly move between steps); otherwise the system is formed and factored at
        ``w``. For one output it is always formed at ``w`` (``O(n q^2)``, the cost of a
        few epochs on a small support): an earlier center's step passes that test at
        ``tol`` = ``inner_ratio`` times the violation and converges only linearly, so
        that a solve stops just below its tolerance, where exact Newton steps converge
        quadratically and stop well below it.
        """
        K, cols = self.n_outputs, self.entries(ws)
        w_cols = w[cols]
        steps = prox_steps(w_cols, grad_ws, self.l1_entries[cols], self.l2_entries[cols],
                           self.lower, lc_cols)
        # the support, and the zero entries whose coordinate step leaves 0 (above tol)
        on = (w_cols != 0.0) | (lc_cols * np.abs(steps) > tol)
        support = cols[on]
        q = support.shape[0] + K * self.fit_intercept
        if q > _DIRECT_MAX or q * self.y.shape[0] > _DIRECT_MAX_ENTRIES:
            return None  # the system (q x q) and its columns (n x q) would cost too much
        sign = np.where(w_cols[on] != 0.0, np.sign(w_cols[on]), np.sign(steps[on]))
        rhs = grad_ws[on] + self.l1_entries[support] * sign + self.l2_entries[support] * \
            w[support]
        l2_diag = self.l2_entries[support]
        if self.fit_intercept:  # the intercepts' gradient: np.mean's, without its dispatch
            rhs = np.concatenate((rhs, np.ravel(np.add.reduce(a, axis=0) / a.shape[0])))
            l2_diag = np.concatenate((l2_diag, np.zeros(K)))
        cache = self.newton_cache
        if K > 1 and cache.get("support") is not None and \
                np.array_equal(cache["support"], support):
            out = self._support_candidate(cache["system"], w, a, h, ws, support, sign, rhs,
                                          lc_cols, tol)
            if out[3]:
                return out
        if sp.issparse(self.X):  # the support's columns, dense
            features, inverse = np.unique(support // K, return_inverse=True)
            columns = selected_columns_dense(*self.kernel_args[1:4], features,
                                             self.y.shape[0])
            if self.mu is not None:
                columns -= self.mu[features]
        else:  # gathered from X itself
            columns, inverse = self.X, support // K
        system = support_system(columns, inverse, support % K, self.fit_intercept, h, self.sw,
                                l2_diag, cache.setdefault("work", {}))
        if system is None:
            cache.pop("support", None)
            return None
        cache.update(support=support, system=system)
        return self._support_candidate(system, w, a, h, ws, support, sign, rhs, lc_cols, tol)

    def _support_candidate(self, system, w, a, h, ws, support, sign, rhs, lc_cols, tol):
        """``(w_new, v, d, ok)`` of :meth:`support_model_minimizer` from a factored system.

        The entries whose sign the step changes are held at 0 and the others solved
        again (:func:`support_step`'s ``held``), up to ``_HOLD_ROUNDS`` times, until no
        sign changes: the model's minimizer on the orthant of the rest.
        """
        m = support.shape[0]
        held = np.zeros(m + self.n_outputs * self.fit_intercept, dtype=bool)
        fixed = np.zeros(held.shape[0])
        fixed[:m] = -w[support]
        step = support_step(system, rhs)
        for _ in range(_HOLD_ROUNDS):
            flipped = (np.sign(w[support] + step[0][:m]) != sign) & ~held[:m]
            if not np.any(flipped):
                break
            held[:m] |= flipped
            retry = support_step(system, rhs, (held, fixed))
            if retry is None:
                break
            step = retry
        delta, v = step
        cols = self.entries(ws)
        w_new = w.copy()
        w_new[support] += delta[:m]
        if self.fit_intercept:
            w_new[self.n_coefs:] += delta[m:]
        flipped = np.sign(w_new[support]) != sign
        flipped &= w_new[support] != 0.0  # the held entries are at 0
        if np.any(flipped):
            w_new[support[flipped]] = 0.0
            idx = self.moving(ws)
            v = np.asfortranarray(self.predictions_change(ws, w_new[idx] - w[idx]))
        d = a + self.hess_v(h, v)
        if np.any(flipped):
            return w_new, v, d, False
        model_grad = self.columns_t(ws, d).ravel()
        steps = prox_steps(w_new[cols], model_grad, self.l1_entries[cols], self.l2_entries[cols],
                           self.lower, lc_cols)
        violation = np.max(lc_cols * np.abs(steps), initial=0.0)
        if self.fit_intercept:
            violation = max(violation, self.intercept_violation(d))
        return w_new, v, d, violation <= tol

    def intercept_step(self, w, z, a):
        r"""The intercept's Newton step given the coefficients, ``w`` and ``z`` updated in
        place; returns the derivative ``a`` at the new predictions (one output).

        :math:`\delta_b = -\bar a / \bar h` (``a`` and the curvatures ``h`` averaged over
        the samples), scaled by the step :meth:`line_search` certifies (0: no step).
        Coordinate descent's epochs leave the intercept minimized given the
        coefficients; a step on the whole support leaves it only to the accuracy of that
        step, and the duality gap, which holds the intercept fixed, does not see it.
        """
        n = a.shape[0]  # the means as np.mean forms them, without its dispatch
        h_mean = float(np.add.reduce(self.curvatures(z, a))) / n
        grad_b = float(np.add.reduce(a)) / n
        if grad_b == 0.0 or not h_mean > 0.0:
            return a
        delta = -grad_b / h_mean
        b = self.n_coefs
        w_new = w.copy()
        w_new[b] += delta
        v = np.full(z.shape[0], delta)
        t, a_t = self.line_search(w, w_new, z, v, np.empty(0, dtype=np.intp), a)
        if t == 0.0:
            return a
        w[b] += t * delta
        z += t * v
        return a_t

    def columns_t(self, ws, u):
        """``X_ws^T u / n`` (columns ``X_j - mu_j`` of an implicitly centred ``X``)."""
        if sp.issparse(self.X):
            _, data, indices, indptr = self.kernel_args[:4]
            out = selected_columns_t(data, indices, indptr, ws, u.reshape(u.shape[0], -1))
            out = out.reshape((ws.shape[0],) + u.shape[1:])
        else:
            out = self.X[:, ws].T @ u
        if self.mu is not None:
            out -= np.multiply.outer(self.mu[ws], u.sum(axis=0))
        return out / u.shape[0]

    def line_search(self, w, w_new, z, v, cols, a, max_steps=30, rtol=1e-6):
        r"""``(t, a_t)``: a step ``t`` in (0, 1] at which the objective decreases: 1,
        close to the minimizer of the bound below when that is past 1/2
        (:attr:`direct`), else the largest of 1/2, 1/4, ...; 0 if none is found; and the
        datafit's derivative :meth:`derivative` at ``z + t v``, computed for the slope
        there (None when ``t = 0``): bit for bit that of ``z`` after ``z += t * v``.

        With :math:`\Delta G = G(w_{new}) - G(w)` on the working set, the convex
        bound :math:`\psi(t) = F(z + tv) + G(w) + t \Delta G \ge P(w + t\Delta)`
        equals :math:`P(w)` at 0, so :math:`\psi'(t) = \langle v, \ell'(z + tv)\rangle / n +
        \Delta G < 0` certifies :math:`P(w + t\Delta) < P(w)`. Testing the
        derivative, not objective values, stays exact near the optimum where
        the decrease is below the objective's rounding. ``t = 1`` is taken when
        :math:`\psi'(1) < 0`, or :math:`\psi'(1) = 0 > \psi'(0)` (1 is then the
        minimizer). When :math:`0 \le \psi'(1) \le -\psi'(0)` (the secant's
        root, the minimizer of a quadratic :math:`\psi`, is past 1/2: a Newton step near
        the optimum lands at the minimizer itself, where the sign of :math:`\psi'(1)` is
        rounding, and halving it would give up half of the step and the fast local
        convergence with it), when the models are minimized exactly on their support
        (:attr:`direct`), regula falsi (Illinois) on :math:`\psi'` narrows the
        minimizer, keeping the largest ``t`` with :math:`\psi'(t) < 0` found, until
        :math:`|\psi'(t)| \le` ``rtol`` :math:`|\psi'(0)|`, or until such a ``t`` is
        found and :math:`|\psi'(t)|` is at the rounding of the slopes, :math:`4u(\langle
        |v|, |\ell'(z)|\rangle / n + |\Delta G|)` (:math:`u` the machine epsilon: their
        signs are then rounding, and a step of an intercept already minimized to it
        would narrow them for ``max_steps`` evaluations), or after ``max_steps``
        evaluations. Otherwise (or if that found none) the steps 1/2, 1/4, ... are
        tested. ``a`` is the datafit's derivative at ``z`` (:meth:`derivative`).
        """
        n, w_ws, new_ws = z.shape[0], w[cols], w_new[cols]
        # G(w_new) - G(w) without cancellation, exact near the optimum (0 for the
        # intercepts alone)
        delta_g = 0.0 if cols.shape[0] == 0 else \
            float(self.l1_entries[cols] @ (np.abs(new_ws) - np.abs(w_ws))
                  + 0.5 * (self.l2_entries[cols] * (new_ws - w_ws)) @ (new_ws + w_ws))

        derivatives = {}  # the derivative at the last point and at the regula's lo

        def slope(t):  # inf or nan where a long step overflows a log link: not a descent
            with np.errstate(over="ignore", invalid="ignore"):
                derivatives["last"] = d = self.derivative(z + t * v)
                return float(np.vdot(v, d)) / n + delta_g

        s_hi = slope(1.0)
        if s_hi < 0.0:
            return 1.0, derivatives["last"]
        s0 = float(np.vdot(v, a)) / n + delta_g
        if s_hi == 0.0 and s0 < 0.0:  # 1 is the minimizer on the line
            return 1.0, derivatives["last"]
        hi = 1.0
        if self.direct and s0 < 0.0 and s_hi <= -s0:
            lo, s_lo, side = 0.0, s0, 0
            noise = 4 * _EPS * (float(np.vdot(np.abs(v), np.abs(a))) / n + abs(delta_g))
            for _ in range(max_steps):
                t = lo - s_lo * (hi - lo) / (s_hi - s_lo)
                if not lo < t < hi:
                    t = 0.5 * (lo + hi)
                s = slope(t)
                if s < 0.0:
                    lo, s_lo = t, s
                    derivatives["lo"] = derivatives["last"]
                    if side < 0:
                        s_hi *= 0.5
                    side = -1
                    if -s <= rtol * -s0:
                        break
                else:
                    hi, s_hi = t, s
                    if side > 0:
                        s_lo *= 0.5
                    side = 1
                if lo > 0.0 and abs(s) <= noise:
                    break
            if lo > 0.0:
                return lo, derivatives["lo"]
        t = hi / 2
        for _ in range(max_steps):
            if slope(t) < 0.0:
                return t, derivatives["last"]
            t /= 2
        return 0.0, None


def _anderson_weights(hist, metric=None):
    """Weights ``c`` (summing to 1) of the Anderson extrapolation ``c @ hist[1:]``, or None.

    With ``U`` the differences of the iterates (rows of ``hist``), each entry times
    ``metric`` (the square root of its curvature, so that a coefficient and the
    intercept are measured alike whatever the scale of their columns), ``c``
    solves ``U U^T c = 1``, normalized. ``c`` does not change when ``U`` is scaled:
    it is scaled by the power of two that brings its largest entry into [1/2, 1)
    (exactly, so ``c`` is that of ``U`` itself), and ``U U^T`` cannot overflow.
    None when ``U`` is not finite or the system is singular.
    """
    U = np.diff(hist, axis=0)
    if metric is not None:
        U *= metric
    top = float(np.max(np.abs(U), initial=0.0))
    if not math.isfinite(top) or top == 0.0:
        return None
    U *= math.ldexp(1.0, -math.frexp(top)[1])
    try:
        c = np.linalg.solve(U @ U.T, np.ones(U.shape[0]))
    except np.linalg.LinAlgError:
        return None
    if not np.all(np.isfinite(c)) or c.sum() == 0.0:
        return None
    return c / c.sum()


def _anderson(hist, metric=None):
    """The Anderson extrapolation of the iterates ``hist`` (rows), or None."""
    c = _anderson_weights(hist, metric)
    return None if c is None else c @ hist[1:]
