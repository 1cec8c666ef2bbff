r"""Linear support vector regression (liblinear's) tuned by hypergradient: ``C`` and ``epsilon``.

scikit-learn's :class:`~sklearn.svm.LinearSVR` (liblinear) fits
:math:`f(x) = w^T \tilde x` on the rows :math:`\tilde x = [x, s]` (with ``fit_intercept``:
a synthetic feature of value :math:`s` = ``intercept_scaling``, whose weight is
*penalized*; the intercept is :math:`s\,w_{p+1}`), by

.. math::

    \min_w \; \tfrac12 \|w\|^2 + \sum_i C_i\,\ell\big(|y_i - w^T \tilde x_i| - \epsilon\big)_+,
    \qquad C_i = C\,w_i,

:math:`\ell(t) = t` (``loss="epsilon_insensitive"``) or :math:`t^2`
(``"squared_epsilon_insensitive"``), :math:`w_i` the sample weights. Its dual, in
:math:`\beta` with :math:`w = \tilde X^T \beta` and :math:`Q = \tilde X \tilde X^T`, is

.. math::

    \min_\beta \; \tfrac12 \beta^T (Q + D) \beta - y^T \beta + \epsilon\|\beta\|_1,
    \quad |\beta_i| \le U_i,

with :math:`D = 0`, :math:`U_i = C_i` for the first loss and
:math:`D_{ii} = 1 / (2 C_i)`, :math:`U_i = \infty` for the second (no equality
constraint: the intercept is a penalized weight). :func:`linear_svr_dual` solves it by
dual coordinate descent (liblinear's method), each step the prox of
:math:`\epsilon|\beta_i|` and the clip to :math:`[-U_i, U_i]`, keeping :math:`w`.

**Hypergradient** (exact, on the KKT system): with F the free coefficients
(:math:`0 < |\beta_i| < U_i`), B those at a bound and :math:`s = \mathrm{sign}\,\beta`,
:math:`((Q + D)\beta)_F - y_F + \epsilon s_F = 0` gives, for :math:`\lambda = [C, \epsilon]`,

.. math::

    (Q + D)_{FF}\, \partial\beta_F = -\big(Q_{FB}\,\partial\beta_B + s_F\,\partial\epsilon
    + \partial_C D_{FF}\, \beta_F\,\partial C\big), \qquad
    \partial_C \beta_B = (w s)_B, \quad \partial_C D = -D / C,

solved once per fold in its adjoint form (for the squared loss through
:math:`(Q + D)_{FF}^{-1} = D^{-1} - D^{-1}\tilde X_F (I + \tilde X_F^T D^{-1} \tilde X_F)^{-1}
\tilde X_F^T D^{-1}`, a system of the features' size). The held-out loss is the
(weighted) mean squared error of :math:`f`.
"""

import numpy as np
from numba import njit

from ._kernel_search import (AdaptiveScan, FoldMeanCriterion, NearestWarmStart,
                             kernel_search)
from ._linear_svr_active_set import active_set

__all__ = ["LOSSES", "linear_svr_dual", "LinearSVRCriterion", "search_linear_svr",
           "augment"]

#: the losses of LinearSVR: whether the loss is squared
LOSSES = {"epsilon_insensitive": False, "squared_epsilon_insensitive": True}

#: the scan: C over these factors of the scale where the penalty and the loss weigh
#: alike, from this one; epsilon over these factors of the targets' standard deviation,
#: from this one
_C_FACTORS = 10.0 ** np.arange(-2, 4.1, 0.5)
_C_START = 10.0
_EPS_FACTORS = np.array([0.001, 0.01, 0.05, 0.1, 0.3, 0.6])
_EPS_CENTRE = 0.1
#: the descent also stops after this many evaluations in a row that do not lower the
#: loss by this much (relative)
_STALL = (3, 1e-3)
_C_RANGE = (1e-4, 1e7)
_EPS_RANGE = (1e-5, 2.0)
_RTOL = 1e-10
#: epochs of dual coordinate descent between the active-set attempts (epsilon-insensitive)
_EPOCHS = 20


def augment(X, intercept_scaling):
    """``X`` with liblinear's intercept column of value ``intercept_scaling`` (None: no
    intercept)."""
    if intercept_scaling is None:
        return np.ascontiguousarray(X, dtype=np.float64)
    return np.hstack([X, np.full((X.shape[0], 1), float(intercept_scaling))])


@njit(cache=True)
def _cd(Xa, y, U, d, eps, beta, w, tol, max_epochs, seed):
    n = Xa.shape[0]
    gap = np.inf
    np.random.seed(seed)
    for epoch in range(max_epochs):
        gap = 0.0
        for i in np.random.permutation(n):
            q = d[i]
            g = d[i] * beta[i] - y[i]
            for j in range(Xa.shape[1]):
                q += Xa[i, j] * Xa[i, j]
                g += w[j] * Xa[i, j]
            if q <= 0.0:
                continue
            v = beta[i] - g / q
            m = max(abs(v) - eps / q, 0.0)
            m = min(m, U[i])
            b = m if v > 0 else -m
            delta = b - beta[i]
            if delta != 0.0:
                gap = max(gap, abs(delta) * q)
                beta[i] = b
                for j in range(Xa.shape[1]):
                    w[j] += delta * Xa[i, j]
        if gap < tol:
            return epoch + 1, gap
    return max_epochs, gap


def _step_gap(Xa, y, U, d, eps, beta, w):
    """The largest coordinate step of an epoch from ``beta``, times its curvature (0 exactly
    at the solution)."""
    q = np.einsum("ij,ij->i", Xa, Xa) + d
    G = Xa @ w + d * beta - y
    with np.errstate(divide="ignore", invalid="ignore"):
        v = beta - G / q
        b = np.sign(v) * np.minimum(np.maximum(np.abs(v) - eps / q, 0.0), U)
    return float(np.max(np.where(q > 0, np.abs(b - beta) * q, 0.0), initial=0.0))


def _newton_squared(Xa, y, C, eps, w, tol, max_iter=200):
    r"""The squared loss's primal :math:`\tfrac12\|w\|^2 + \sum_i C_i (|r_i| - \epsilon)_+^2`
    (:math:`r = y - \tilde X w`, a convex piecewise quadratic) by generalized Newton steps
    with backtracking, from ``w``; its dual point is
    :math:`\beta_i = 2 C_i (|r_i| - \epsilon)_+ \mathrm{sign}\, r_i` (:math:`w = \tilde
    X^T \beta`). Returns ``(beta, w)``, stopped at a gradient norm below ``tol`` or after
    a full step that keeps the active residuals (:math:`|r_i| > \epsilon`): the exact
    minimizer of that quadratic piece."""
    def parts(w):
        r = y - Xa @ w
        m = np.maximum(np.abs(r) - eps, 0.0)
        return 0.5 * float(w @ w) + float(C @ (m * m)), 2.0 * C * m * np.sign(r)

    f, beta = parts(w)
    for _ in range(max_iter):
        grad = w - Xa.T @ beta
        if np.linalg.norm(grad) <= tol:
            break
        active = beta != 0
        H = Xa[active].T @ (2.0 * C[active, None] * Xa[active])
        H[np.diag_indices_from(H)] += 1.0
        step = -np.linalg.solve(H, grad)
        t, slope = 1.0, float(grad @ step)
        while True:
            f_new, beta_new = parts(w + t * step)
            if f_new <= f + 1e-4 * t * slope or t < 1e-12:
                break
            t *= 0.5
        w, f, beta = w + t * step, f_new, beta_new
        if t == 1.0 and np.array_equal(beta != 0, active):
            break  # the minimizer of the quadratic piece, which is still the active one
    return beta, Xa.T @ beta


def linear_svr_dual(Xa, y, C, epsilon, squared, beta0=None, tol=1e-12, max_epochs=100_000):
    r"""Solve LinearSVR's dual (module docstring).

    The squared loss is solved in the primal by generalized Newton steps (a system of the
    features' size each), its dual point read from the residuals (then dual coordinate
    descent if that is not yet within ``tol``). The epsilon-insensitive loss by dual
    coordinate descent (liblinear's method): every 20 epochs an active-set method is run from
    the descent's point, and its result kept (ending the descent) when it satisfies the
    optimality conditions: the descent is slow where the dual is degenerate (large
    ``C``: a quadratic of rank ``p + 1``), the active-set method exact.

    Parameters
    ----------
    Xa : ndarray of shape (n, p)
        Rows with the intercept column if any (:func:`augment`).
    y : ndarray of shape (n,)
    C : ndarray of shape (n,)
        :math:`C_i = C w_i` (positive).
    epsilon : float
    squared : bool
        The squared epsilon-insensitive loss.
    beta0 : ndarray of shape (n,), default=None
        Warm start (clipped to the bounds).
    tol : float, default=1e-12
        Largest change of a coordinate in an epoch, times its curvature, at which the
        descent stops (0 exactly at the solution), relative to :math:`\max(1, \|y\|_\infty)`.
    max_epochs : int, default=100_000

    Returns
    -------
    beta : ndarray of shape (n,)
    w : ndarray of shape (p,)
        :math:`\tilde X^T \beta`.
    """
    C = np.asarray(C, dtype=np.float64)
    d = 0.5 / C if squared else np.zeros_like(C)
    U = np.full_like(C, np.inf) if squared else C
    beta = np.zeros(y.shape[0]) if beta0 is None else np.clip(beta0, -U, U)
    Xa = np.ascontiguousarray(Xa, dtype=np.float64)
    y = np.ascontiguousarray(y, dtype=np.float64)
    w = Xa.T @ beta
    tol = tol * max(1.0, float(np.max(np.abs(y))))
    epochs, gap = 0, np.inf
    if squared:  # exact in a few steps of the features' size
        beta[:], w[:] = _newton_squared(Xa, y, C, float(epsilon), w, 1e-3 * tol)
        gap = _step_gap(Xa, y, U, d, epsilon, beta, w)
    while epochs < max_epochs and gap >= tol:
        n, gap = _cd(Xa, y, U, d, float(epsilon), beta, w, tol, min(_EPOCHS, max_epochs - epochs),
                     epochs)
        epochs += n
        if gap < tol:
            break
        if not squared:
            finished = beta.copy()
            if active_set(Xa, y, U, float(epsilon), finished, tol, 10 * y.shape[0]):
                w_f = Xa.T @ finished
                gap_f = _step_gap(Xa, y, U, d, epsilon, finished, w_f)
                if gap_f < tol:
                    beta[:], w[:], gap = finished, w_f, gap_f
                    break
    if gap >= tol:
        import warnings

        from sklearn.exceptions import ConvergenceWarning

        warnings.warn(f"LinearSVR's dual coordinate descent stopped after {epochs} epochs "
                      f"with a step of {gap:.3g} (asked: below {tol:.3g}).",
                      ConvergenceWarning, stacklevel=2)
    return beta, w


class _Fold(NearestWarmStart):
    """One fold's rows (with the intercept column), targets and weights, and the
    solutions at the points evaluated (warm starts)."""

    def __init__(self, data, intercept_scaling):
        self.Xa = augment(data.X_train, intercept_scaling)
        self.Xv = augment(data.X_test, intercept_scaling)
        self.y_train = data.y_train
        self.y_test = data.y_test
        n, n_v = data.y_train.shape[0], data.y_test.shape[0]
        self.w = np.ones(n) if data.w_train is None else data.w_train
        v = np.ones(n_v) if data.w_test is None else data.w_test
        self.v = v / np.sum(v)
        self.beta = None
        self.coef = None
        self.solutions = []   # (log lam, C, beta)


class LinearSVRCriterion(FoldMeanCriterion):
    r"""Mean over folds of LinearSVR's held-out squared error and its exact gradient.

    Parameters
    ----------
    folds : list of FoldData
        Dense rows; ``w_train`` (:math:`C_i = C w_i`) and ``w_test`` (the weights of the
        held-out error) are read.
    squared : bool
        The squared epsilon-insensitive loss.
    intercept_scaling : float or None
        Value of liblinear's intercept column (None: no intercept).
    tol : float, default=1e-12
        Of :func:`linear_svr_dual`.

    Notes
    -----
    ``lam`` is ``[C, epsilon]``. Every solve warm-starts from the fold's solution at the
    nearest point evaluated before (in :math:`\log\lambda`).
    """

    def __init__(self, folds, squared, intercept_scaling, tol=1e-12):
        self.folds = [_Fold(f, intercept_scaling) for f in folds]
        self.squared = squared
        self.tol = tol

    def solution(self, k, lam):
        """``(beta, w)`` of fold ``k`` at ``lam`` (kept as the fold's ``beta`` and
        ``coef``)."""
        lam = np.asarray(lam, dtype=np.float64)
        C, eps = float(lam[0]), float(lam[1])
        f = self.folds[k]
        theta = f.log_point(lam)
        beta, w = linear_svr_dual(f.Xa, f.y_train, C * f.w, eps, self.squared,
                                  f.warm_start(theta, C), self.tol)
        f.beta, f.coef = beta, w
        f.solutions.append((theta, C, beta))
        return beta, w

    def fold(self, k, lam, gradient=True):
        """``(loss, grad)`` of fold ``k`` at ``lam`` (``grad`` None without
        ``gradient``)."""
        C = float(lam[0])
        f = self.folds[k]
        beta, w = self.solution(k, lam)
        r = f.Xv @ w - f.y_test
        if not gradient:
            return float(f.v @ (r * r)), None
        g = 2.0 * f.v * r
        dl_dw = f.Xv.T @ g  # d loss / d beta = Xa dl_dw
        s = np.sign(beta)
        grad = np.zeros(2)
        Cs = C * f.w
        if self.squared:
            F = np.flatnonzero(np.abs(beta) > 0)
            if F.shape[0]:
                XF = f.Xa[F]
                dinv = 2.0 * Cs[F]  # D^{-1}
                rhs = XF @ dl_dw
                # (XF XF^T + D)^{-1} rhs by Woodbury
                small = np.eye(XF.shape[1]) + XF.T @ (dinv[:, None] * XF)
                a = dinv * rhs - dinv * (XF @ np.linalg.solve(small, XF.T @ (dinv * rhs)))
                Dbeta = beta[F] / dinv
                grad[0] = float(a @ Dbeta) / C
                grad[1] = -float(a @ s[F])
        else:
            free = (np.abs(beta) > _RTOL * Cs) & (np.abs(beta) < Cs * (1 - _RTOL))
            bound = np.abs(beta) >= Cs * (1 - _RTOL)
            F, B = np.flatnonzero(free), np.flatnonzero(bound)
            ws = f.w * s
            dl_dbeta_B = f.Xa[B] @ dl_dw
            grad[0] = float(dl_dbeta_B @ ws[B])
            if F.shape[0]:
                XF = f.Xa[F]
                a = np.linalg.lstsq(XF @ XF.T, XF @ dl_dw, rcond=None)[0]
                grad[0] -= float(a @ (XF @ (f.Xa[B].T @ ws[B])))
                grad[1] = -float(a @ s[F])
        return float(f.v @ (r * r)), grad


def search_linear_svr(folds, squared, intercept_scaling, optimizer="lbfgs", max_iter=30,
                      tol=1e-4, callback=None, criterion=None, box=None):
    r"""Scan then descend LinearSVR's cross-validated squared error.

    The scan (:class:`~skhypergrad._kernel_search.AdaptiveScan`, value only) walks ``C``
    over half decades from 0.01 to 1e4 times :math:`c_0 = 1 / (n\,\overline{\|\tilde
    x\|^2})` (where the penalty and the loss weigh alike), times the standard deviation
    :math:`s` of the targets for the epsilon-insensitive loss (targets :math:`c\,y` have
    the solution :math:`c\,w` at :math:`c\,C` and :math:`c\,\epsilon`: its ``C`` is in
    units of ``y``; the squared loss's has none), from :data:`_C_START` times it, each
    row to its lowest loss (to 0.1%); the rows of ``epsilon`` (0.001 to 0.6 times the
    standard deviation of the targets) start at the previous row's best ``C`` and are
    added away from 0.1 times it while they improve. The descent starts from its lowest
    loss and stops, besides the optimizer's own rule, after 3 evaluations in a row that
    do not lower the loss by 0.1%.

    Parameters
    ----------
    folds : list of FoldData
    squared : bool
    intercept_scaling : float or None
    optimizer : str or optimizer, default="lbfgs"
    max_iter : int, default=30
    tol : float, default=1e-4
    callback : callable, default=None
    criterion : callable, default=None
        ``LinearSVRCriterion -> evaluate``: what is searched, built on the folds'
        criterion, with ``evaluate(lam)`` and ``evaluate.value(lam)`` (``Evaluation`` objects
        with and without the gradient); the criterion itself when None.
    box : (ndarray, ndarray), default=None
        The user's bounds on ``lam`` (see :func:`~skhypergrad._kernel_search.kernel_search`);
        the scan covers the box (at most half a decade apart)
        (:meth:`~skhypergrad._kernel_search.AdaptiveScan.within`).

    Returns
    -------
    history : list of dict
        ``lam`` is ``[C, epsilon]``.
    n_iter : int
    """
    Xa = augment(folds[0].X_train, intercept_scaling)
    scale = float(np.std(folds[0].y_train)) or 1.0
    c0 = (1.0 if squared else scale) / \
        (Xa.shape[0] * max(float(np.mean(np.einsum("ij,ij->i", Xa, Xa))), 1e-12))
    evaluate = LinearSVRCriterion(folds, squared, intercept_scaling)
    if criterion is not None:
        evaluate = criterion(evaluate)
    scan = AdaptiveScan(c0 * _C_FACTORS, scale * _EPS_FACTORS,
                        int(np.argmin(np.abs(_EPS_FACTORS - _EPS_CENTRE))),
                        int(np.argmin(np.abs(_C_FACTORS - _C_START))), follow=True,
                        rtol=_STALL[1]).within(box, 0, 1)
    lo = np.array([c0 * _C_RANGE[0], scale * _EPS_RANGE[0]])
    hi = np.array([c0 * _C_RANGE[1], scale * _EPS_RANGE[1]])
    return kernel_search(evaluate, scan, (lo, hi), optimizer, max_iter, tol, callback,
                         value=evaluate.value, start="loss", stall=_STALL,
                         box=box)
