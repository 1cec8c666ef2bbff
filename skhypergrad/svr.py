r"""Support vector regression tuned by hypergradient: ``C``, ``epsilon`` and ``gamma``.

scikit-learn's :class:`~sklearn.svm.SVR` (libsvm) solves, in the coefficients
:math:`\beta = \alpha - \alpha^*` of its prediction
:math:`f(x) = \sum_i \beta_i K(x_i, x) + b`,

.. math::

    \min_\beta \; \tfrac12 \beta^T K \beta - y^T \beta + \epsilon \|\beta\|_1
    \quad\text{s.t.}\quad -C \le \beta_i \le C,\; \mathbf 1^T \beta = 0,

solved here as libsvm does, in its 2n-variable form :math:`a = [\alpha; \alpha^*]` by
:func:`~skhypergrad.svm.smo` (labels :math:`[+1; -1]`, linear term
:math:`[\epsilon - y; \epsilon + y]`). The held-out loss is the mean squared error.

**Hypergradient** (exact, on the KKT system): with F the free coefficients
(:math:`0 < |\beta_i| < C`), U those at :math:`\pm C` and :math:`s = \mathrm{sign}\,\beta`,
the conditions :math:`(K\beta)_F + b - y_F + \epsilon s_F = 0`, :math:`\mathbf 1^T\beta = 0`
give, for :math:`\lambda = [C, \epsilon, \gamma]`,

.. math::

    \begin{bmatrix} K_{FF} & \mathbf 1 \\ \mathbf 1^T & 0 \end{bmatrix}
    \begin{bmatrix} \partial\beta_F \\ \partial b \end{bmatrix}
    = -\begin{bmatrix} K_{FU}\,\partial\beta_U + s_F\,\partial\epsilon
    + (\partial_\gamma K\,\beta)_F \\ \mathbf 1^T \partial\beta_U \end{bmatrix},
    \qquad \partial_C \beta_U = s_U,

solved once per fold in its adjoint form (the matrix is symmetric).
"""

import numpy as np

from ._kernel_search import Evaluation, kernel_search, log_grid
from .kernel_ridge import default_gamma
from .kernels import check_kernel_memory, pair_data
from .svm import smo

__all__ = ["SVRCriterion", "search_svr", "svr_dual"]

_C_FACTORS = 10.0 ** np.arange(-1, 3)
_EPS_FACTORS = np.array([0.01, 0.1, 0.5])
_GAMMA_FACTORS = 10.0 ** np.arange(-2, 2)
_C_RANGE = (1e-3, 1e5)
_EPS_RANGE = (1e-4, 2.0)
_GAMMA_RANGE = (1e-5, 1e3)


def svr_dual(K, y, C, epsilon, beta0=None, tol=1e-10):
    """``(beta, b)`` of scikit-learn's ``SVR`` on the kernel ``K`` (module docstring).

    Parameters
    ----------
    K : ndarray of shape (n, n)
    y : ndarray of shape (n,)
    C, epsilon : float
    beta0 : ndarray of shape (n,), default=None
        Warm start (feasible: in ``[-C, C]``, summing to 0).
    tol : float, default=1e-10
        KKT violation at which SMO stops.

    Returns
    -------
    beta : ndarray of shape (n,)
    b : float
        The intercept (libsvm's :math:`-\\rho`).
    """
    n = y.shape[0]
    z = np.concatenate([np.ones(n), -np.ones(n)])
    K2 = np.block([[K, K], [K, K]])
    p = np.concatenate([epsilon - y, epsilon + y])
    a0 = None if beta0 is None else np.concatenate([np.maximum(beta0, 0),
                                                    np.maximum(-beta0, 0)])
    a, G, _, _ = smo(K2, z, C, a0, tol, p=p)
    beta = a[:n] - a[n:]
    zG = z * G
    free = (a > 1e-10 * C) & (a < C * (1 - 1e-10))
    if np.any(free):
        rho = float(np.mean(zG[free]))
    else:  # the middle of the feasible interval, as libsvm
        up = ((z > 0) & (a < C * (1 - 1e-10))) | ((z < 0) & (a > 1e-10 * C))
        low = ((z > 0) & (a > 1e-10 * C)) | ((z < 0) & (a < C * (1 - 1e-10)))
        hi = zG[up].min() if np.any(up) else np.inf
        lo = zG[low].max() if np.any(low) else -np.inf
        rho = 0.5 * (hi + lo) if np.isfinite(hi) and np.isfinite(lo) else \
            float(hi if np.isfinite(hi) else lo)
    return beta, -rho


class _Fold:
    def __init__(self, spec, data):
        self.train = pair_data(spec, data.X_train)
        self.test = pair_data(spec, data.X_test, None if spec.kernel == "precomputed"
                              else data.X_train)
        self.y_train = data.y_train
        self.y_test = data.y_test
        self.beta = None
        self.C = None
        self._gamma = None

    def at(self, gamma):
        if self._gamma != gamma:
            self._cache = self.train.kernel(gamma, True) + self.test.kernel(gamma, True)
            self._gamma = gamma
        return self._cache


class SVRCriterion:
    r"""Mean over folds of the held-out squared error of SVR and its exact gradient.

    Parameters
    ----------
    spec : KernelSpec
    folds : list of FoldData
    tol : float, default=1e-10
        KKT violation at which the solver stops.

    Notes
    -----
    ``lam`` is ``[C, epsilon, gamma]`` for kernels with a width, ``[C, epsilon]``
    otherwise.
    """

    def __init__(self, spec, folds, tol=1e-10):
        self.spec = spec
        self.folds = [_Fold(spec, f) for f in folds]
        self.tol = tol

    def fold(self, k, lam):
        """``(loss, grad)`` of fold ``k`` at ``lam``."""
        lam = np.asarray(lam, dtype=np.float64)
        C, eps = float(lam[0]), float(lam[1])
        f = self.folds[k]
        K, dK, Kv, dKv = f.at(float(lam[2]) if self.spec.has_gamma else 0.0)
        beta0 = None if f.beta is None else f.beta * (C / f.C)
        beta, b = svr_dual(K, f.y_train, C, eps, beta0, self.tol)
        f.beta, f.C = beta, C
        r = Kv @ beta + b - f.y_test
        n_v = r.shape[0]
        g = 2.0 * r / n_v
        dl_dbeta, dl_db = Kv.T @ g, float(np.sum(g))
        grad = np.zeros(lam.shape[0])
        s = np.sign(beta)
        at_bound = np.abs(beta) >= C * (1 - 1e-10)
        F = np.flatnonzero((np.abs(beta) > 1e-10 * C) & ~at_bound)
        U = np.flatnonzero(at_bound)
        grad[0] = float(dl_dbeta[U] @ s[U])
        if dKv is not None:
            grad[2] = float(g @ (dKv @ beta))
        nf = F.shape[0]
        if nf:
            M = np.empty((nf + 1, nf + 1))
            M[:nf, :nf] = K[np.ix_(F, F)]
            M[:nf, nf] = 1.0
            M[nf, :nf] = 1.0
            M[nf, nf] = 0.0
            rhs = np.append(dl_dbeta[F], dl_db)
            try:
                adj = np.linalg.solve(M, rhs)
            except np.linalg.LinAlgError:
                adj = np.linalg.lstsq(M, rhs, rcond=None)[0]
            grad[0] -= float(adj @ np.append(K[np.ix_(F, U)] @ s[U], np.sum(s[U])))
            grad[1] = -float(adj[:nf] @ s[F])
            if dK is not None:
                grad[2] -= float(adj[:nf] @ (dK[F] @ beta))
        return float(r @ r) / n_v, grad

    def __call__(self, lam):
        """The :class:`~skhypergrad._kernel_search.Evaluation` at ``lam`` (scores: the
        negated losses)."""
        out = [self.fold(k, lam) for k in range(len(self.folds))]
        losses = np.array([o[0] for o in out])
        return Evaluation(float(losses.mean()), np.mean([o[1] for o in out], axis=0), losses,
                          -losses)


def search_svr(spec, folds, optimizer="lbfgs", max_iter=30, tol=1e-4, callback=None):
    """Scan then descend the cross-validated squared error of SVR.

    ``C`` is scanned from 0.1 to 100 times the standard deviation of the targets,
    ``epsilon`` at 0.01, 0.1 and 0.5 times it, ``gamma`` from 0.01 to 10 times
    scikit-learn's ``"scale"`` width.

    Parameters
    ----------
    spec : KernelSpec
    folds : list of FoldData
    optimizer : str or optimizer, default="lbfgs"
    max_iter : int, default=30
    tol : float, default=1e-4
    callback : callable, default=None

    Returns
    -------
    history : list of dict
        ``lam`` is ``[C, epsilon, gamma]`` (``[C, epsilon]`` without a width).
    n_iter : int
    """
    n_train = max(f.y_train.shape[0] for f in folds)
    # the 2n x 2n kernel of the solver, and per fold the kernels and their derivatives
    check_kernel_memory(n_train, n_train, 4 + 3 * len(folds))
    scale = float(np.std(folds[0].y_train)) or 1.0
    g = default_gamma(folds[0].X_train) \
        if spec.has_gamma and spec.kernel != "precomputed" else None
    criterion = SVRCriterion(spec, folds)
    axes = [scale * _C_FACTORS, scale * _EPS_FACTORS] + \
        ([] if g is None else [g * _GAMMA_FACTORS])
    lo = [scale * _C_RANGE[0], scale * _EPS_RANGE[0]] + \
        ([] if g is None else [g * _GAMMA_RANGE[0]])
    hi = [scale * _C_RANGE[1], scale * _EPS_RANGE[1]] + \
        ([] if g is None else [g * _GAMMA_RANGE[1]])
    grid = log_grid(axes[::-1])[:, ::-1]
    return kernel_search(criterion, grid, (np.array(lo), np.array(hi)), optimizer,
                         max_iter, tol, callback, n_rows=n_train)

