r"""Support vector regression tuned by hypergradient: ``C``, ``epsilon`` and ``gamma``.

scikit-learn's :class:`~sklearn.svm.SVR` (libsvm) solves, in the coefficients
:math:`\beta = \alpha - \alpha^*` of its prediction
:math:`f(x) = \sum_i \beta_i K(x_i, x) + b`,

.. math::

    \min_\beta \; \tfrac12 \beta^T K \beta - y^T \beta + \epsilon \|\beta\|_1
    \quad\text{s.t.}\quad -C \le \beta_i \le C,\; \mathbf 1^T \beta = 0,

solved by :func:`~skhypergrad.svr_dual.svr_dual` (libsvm's 2n-variable form, by SMO); with
sample weights :math:`w` the bounds are :math:`C_i = C w_i`, as libsvm's. The held-out
loss is the (weighted) mean squared error.

**Hypergradient** (exact, on the KKT system): with F the free coefficients
(:math:`0 < |\beta_i| < C_i`), U those at :math:`\pm C_i` and
:math:`s = \mathrm{sign}\,\beta`,
the conditions :math:`(K\beta)_F + b - y_F + \epsilon s_F = 0`, :math:`\mathbf 1^T\beta = 0`
give, for :math:`\lambda = [C, \epsilon, \gamma]`,

.. math::

    \begin{bmatrix} K_{FF} & \mathbf 1 \\ \mathbf 1^T & 0 \end{bmatrix}
    \begin{bmatrix} \partial\beta_F \\ \partial b \end{bmatrix}
    = -\begin{bmatrix} K_{FU}\,\partial\beta_U + s_F\,\partial\epsilon
    + (\partial_\gamma K\,\beta)_F \\ \mathbf 1^T \partial\beta_U \end{bmatrix},
    \qquad \partial_C \beta_U = (w s)_U,

solved once per fold in its adjoint form (the matrix is symmetric)
(``hypergradient="kkt"``). The engines of :mod:`skhypergrad.hypergrad` (``"aid-fp"``,
``"itd"``, ``"aid-cg"``: GMRES) give the same gradient through
:class:`~skhypergrad.svr_dual.SVRDualMap`, with the intercept read from
:math:`\beta` (:func:`~skhypergrad.svr_dual.svr_intercept`). At a change of the sets (a
coefficient reaching 0 or a bound) the loss has a kink and this is one of its one-sided
derivatives.
"""



import numpy as np
from sklearn.base import RegressorMixin
from sklearn.svm import SVR
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import _check_sample_weight, check_is_fitted

from ._kernel_estimator import BaseKernelHyperGrad, hypergradient_options
from ._kernel_search import (AdaptiveScan, FoldMeanCriterion, NearestWarmStart, RowAtBest,
                             axis_in_box, best_entry, kernel_folds, kernel_search)
from .hypergrad import get_engine
from ._validation import cv_splits
from .kernel_ridge import default_gamma
from .kernels import KERNELS, check_kernel_memory, is_semidefinite, pair_data
from .svr_dual import SVRDualMap, support_sets, svr_dual, target_spread

__all__ = ["SVRCriterion", "SVRHyperGrad", "search_svr", "svr_dual"]

#: the scan: C over these factors of the targets' standard deviation, epsilon at this
#: factor of it, gamma over these factors of the default width
_C_FACTORS = 10.0 ** np.arange(-1, 3)
_EPS_SCAN = 0.1
_GAMMA_FACTORS = 10.0 ** np.arange(-2, 2)
#: in a box where epsilon is free, the row of epsilon after the scan: the box at the
#: spacing of these factors of the targets' standard deviation
_EPS_FACTORS = 10.0 ** np.arange(-3, 0.1, 0.5)
#: KKT violation of the scan's solutions (libsvm's default), relative to the spread of y
#: (as every tolerance of :func:`~skhypergrad.svr_dual.svr_dual`)
_VALUE_TOL = 1e-3
#: libsvm's tolerance of the refit ``svr_``, relative to the spread of y (its KKT
#: violation is in the units of y)
_REFIT_TOL = 1e-6
#: the descent also stops after this many evaluations in a row that do not lower the
#: loss by this much (relative)
_STALL = (3, 1e-3)
_C_RANGE = (1e-3, 1e5)
_EPS_RANGE = (1e-4, 2.0)
_GAMMA_RANGE = (1e-5, 1e3)


class _Fold(NearestWarmStart):
    """One fold's pair data, targets and weights, its kernels at the last width, and the
    solutions at the points evaluated (warm starts)."""

    def __init__(self, spec, data):
        self.train = pair_data(spec, data.X_train)
        self.test = pair_data(spec, data.X_test, None if spec.kernel == "precomputed"
                              else data.X_train)
        self.y_train = data.y_train
        self.y_test = data.y_test
        n, n_v = data.y_train.shape[0], data.y_test.shape[0]
        self.w = np.ones(n) if data.w_train is None else data.w_train
        # the held-out loss's weights, summing to 1
        v = np.ones(n_v) if data.w_test is None else data.w_test
        self.v = v / np.sum(v)
        self.beta = None
        self.b = 0.0
        self.solutions = []   # (log lam, C, beta)
        self._gamma = None
        self._derivative = False

    def at(self, gamma, derivative=True):
        """``(K, dK, Kv, dKv)`` at ``gamma`` (kept for the next call; the derivatives
        None without ``derivative``, or for a kernel without a width)."""
        if self._gamma != gamma or (derivative and self._derivative is False):
            self._cache = self.train.kernel(gamma, derivative) + \
                self.test.kernel(gamma, derivative)
            self._derivative = derivative
            self._gamma = gamma
        return self._cache


class SVRCriterion(FoldMeanCriterion):
    r"""Mean over folds of the held-out squared error of SVR and its gradient.

    Parameters
    ----------
    spec : KernelSpec
    folds : list of FoldData
        Their ``w_train`` (the bounds :math:`C_i = C w_i`) and ``w_test`` (the weights of
        the held-out mean squared error) are read.
    hypergradient : str or BaseEngine, default="kkt"
        "kkt" (exact, module docstring) or an engine of :mod:`skhypergrad.hypergrad` run
        on :class:`~skhypergrad.svr_dual.SVRDualMap`.
    tol : float, default=1e-10
        KKT violation of the solutions where the gradient is computed
        (:func:`~skhypergrad.svr_dual.svr_dual`).
    value_tol : float, default=None
        KKT violation of the solutions where it is not (:meth:`value`); ``tol`` when
        None.

    Notes
    -----
    ``lam`` is ``[C, epsilon, gamma]`` for kernels with a width, ``[C, epsilon]``
    otherwise. Every solve warm-starts from the fold's solution at the nearest point
    evaluated before (in :math:`\log\lambda`).
    """

    def __init__(self, spec, folds, hypergradient="kkt", tol=1e-10, value_tol=None):
        self.spec = spec
        self.folds = [_Fold(spec, f) for f in folds]
        self.engine = None if hypergradient == "kkt" else get_engine(hypergradient)
        self.tol = tol
        self.value_tol = tol if value_tol is None else value_tol

    def solution(self, k, lam, gradient=True):
        """``(beta, b, K, dK, Kv, dKv)`` of fold ``k`` at ``lam`` (kept as the fold's
        ``beta`` and ``b``), to ``tol`` (``value_tol`` without ``gradient``)."""
        lam = np.asarray(lam, dtype=np.float64)
        C, eps = float(lam[0]), float(lam[1])
        f = self.folds[k]
        K, dK, Kv, dKv = f.at(float(lam[2]) if self.spec.has_gamma else 0.0, gradient)
        theta = f.log_point(lam)
        beta, b = svr_dual(K, f.y_train, C * f.w, eps, f.warm_start(theta, C),
                           self.tol if gradient else self.value_tol)
        f.beta, f.b = beta, b
        f.solutions.append((theta, C, beta))
        return beta, b, K, dK, Kv, dKv

    def fold(self, k, lam, gradient=True):
        """``(loss, grad)`` of fold ``k`` at ``lam`` (``grad`` None without
        ``gradient``)."""
        lam = np.asarray(lam, dtype=np.float64)
        f = self.folds[k]
        beta, b, K, dK, Kv, dKv = self.solution(k, lam, gradient)
        r = Kv @ beta + b - f.y_test
        if not gradient:
            return float(f.v @ (r * r)), None
        g = 2.0 * f.v * r
        dl_dbeta, dl_db = Kv.T @ g, float(np.sum(g))
        if self.engine is None:
            grad = self._kkt(K, dK, beta, f.w, lam, dl_dbeta, dl_db)
        else:
            grad = self._engine(K, dK, f.y_train, beta, f.w, lam, dl_dbeta, dl_db)
        if dKv is not None:  # the validation kernel's own dependence on gamma
            grad[2] += float(g @ (dKv @ beta))
        return float(f.v @ (r * r)), grad

    @staticmethod
    def _kkt(K, dK, beta, w, lam, dl_dbeta, dl_db):
        C = float(lam[0])
        grad = np.zeros(lam.shape[0])
        free, bound = support_sets(beta, C * w)
        F, U = np.flatnonzero(free), np.flatnonzero(bound)
        ws = w * np.sign(beta)  # d beta_U / dC
        grad[0] = float(dl_dbeta[U] @ ws[U])
        nf = F.shape[0]
        if nf == 0:
            return grad
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
        grad[0] -= float(adj @ np.append(K[np.ix_(F, U)] @ ws[U], np.sum(ws[U])))
        grad[1] = -float(adj[:nf] @ np.sign(beta[F]))
        if dK is not None:
            grad[2] = -float(adj[:nf] @ (dK[F] @ beta))
        return grad

    def _engine(self, K, dK, y, beta, w, lam, dl_dbeta, dl_db):
        # b = -mean_F ((K beta)_i - y_i + epsilon s_i)
        free, _ = support_sets(beta, float(lam[0]) * w)
        F = np.flatnonzero(free)
        c = dl_dbeta.copy()
        direct = np.zeros(lam.shape[0])
        if F.shape[0]:
            c -= dl_db * K[F].mean(axis=0)
            direct[1] = -dl_db * float(np.mean(np.sign(beta[F])))
            if dK is not None:
                direct[2] = -dl_db * float(np.mean(dK[F] @ beta))
        pgmap = SVRDualMap(K, y, dK, w)
        return self.engine.hypergradient(pgmap, lam, beta, lambda _: c).grad + direct


class _AtEpsilon:
    """The points ``[C]`` or ``[C, gamma]`` of an adaptive scan, with ``epsilon``
    inserted second."""

    def __init__(self, scan, epsilon):
        self.scan = scan
        self.epsilon = epsilon

    def __call__(self, history):
        lam = self.scan(history)
        return None if lam is None else np.insert(lam, 1, self.epsilon)


def search_svr(spec, folds, hypergradient="kkt", optimizer="lbfgs", max_iter=30, tol=1e-4,
               callback=None, criterion=None, box=None):
    """Scan then descend the cross-validated squared error of SVR.

    The scan (:class:`~skhypergrad._kernel_search.AdaptiveScan`, value only: solutions to
    libsvm's KKT violation 1e-3) walks ``C`` up from 0.1 to 100 times the standard
    deviation of the targets, each row to its lowest loss, at ``epsilon`` 0.1 times it;
    the rows of ``gamma`` (0.01 to 10 times scikit-learn's ``"scale"`` width) are added
    away from the ``"scale"`` width while they improve. The descent (L-BFGS-B by default,
    in ``C``, ``epsilon`` and ``gamma``, exact solutions and hypergradients) starts from
    its lowest loss and stops, besides the optimizer's own rule, after 3 evaluations in
    a row that do not lower the loss by 0.1%.

    Parameters
    ----------
    spec : KernelSpec
        A positive semidefinite kernel (not "sigmoid", nor a precomputed one with
        negative eigenvalues on a training fold: ValueError).
    folds : list of FoldData
    hypergradient : str or BaseEngine, default="kkt"
    optimizer : str or optimizer, default="lbfgs"
    max_iter : int, default=30
    tol : float, default=1e-4
    callback : callable, default=None
    criterion : callable, default=None
        ``SVRCriterion -> evaluate``: what is searched, built on the folds' criterion,
        with ``evaluate(lam)`` and ``evaluate.value(lam)`` (``Evaluation`` objects with and
        without the gradient); the criterion itself when None.
    box : (ndarray, ndarray), default=None
        The user's bounds on ``lam`` (see :func:`~skhypergrad._kernel_search.kernel_search`):
        the scan covers the box (at most half a decade apart)
        (:meth:`~skhypergrad._kernel_search.AdaptiveScan.within`), and when ``epsilon`` is
        free in it a row of ``epsilon`` (the box at half-decade spacing, from the point
        nearest 0.1 times the standard deviation of the targets) follows at the scan's
        point of lowest loss (:class:`~skhypergrad._kernel_search.RowAtBest`).

    Returns
    -------
    history : list of dict
        ``lam`` is ``[C, epsilon, gamma]`` (``[C, epsilon]`` without a width).
    n_iter : int
    """
    if not spec.semidefinite:
        raise ValueError(f"SVR with kernel={spec.kernel!r} is not supported: the kernel is "
                         "not positive semidefinite, and the SVR dual's solver (SMO then an "
                         "active-set Newton solve) needs a convex problem.")
    if spec.kernel == "precomputed" and not all(is_semidefinite(f.X_train) for f in folds):
        raise ValueError("SVR is searched on positive semidefinite kernels only: the given "
                         "(precomputed or callable) kernel has negative eigenvalues on a "
                         "training fold, and the SVR dual's solver (SMO then an active-set "
                         "Newton solve) needs a convex problem.")
    n_train = max(f.y_train.shape[0] for f in folds)
    # per fold the kernels and their derivatives, and the solver's system
    check_kernel_memory(n_train, n_train, 1 + 3 * len(folds))
    scale = float(np.std(folds[0].y_train)) or 1.0
    g = default_gamma(folds[0].X_train) \
        if spec.has_gamma and spec.kernel != "precomputed" else None
    evaluate = SVRCriterion(spec, folds, hypergradient, value_tol=_VALUE_TOL)
    if criterion is not None:
        evaluate = criterion(evaluate)
    lo = [scale * _C_RANGE[0], scale * _EPS_RANGE[0]] + \
        ([] if g is None else [g * _GAMMA_RANGE[0]])
    hi = [scale * _C_RANGE[1], scale * _EPS_RANGE[1]] + \
        ([] if g is None else [g * _GAMMA_RANGE[1]])
    scan = AdaptiveScan(scale * _C_FACTORS) if g is None else AdaptiveScan(
        scale * _C_FACTORS, g * _GAMMA_FACTORS, int(np.argmin(np.abs(_GAMMA_FACTORS - 1.0))))
    scan = _AtEpsilon(scan.within(box, 0, 2), scale * _EPS_SCAN)
    if box is not None and box[0][1] < box[1][1]:
        eps = axis_in_box(scale * _EPS_FACTORS, box[0][1], box[1][1])
        start = int(np.argmin(np.abs(np.log(eps / (scale * _EPS_SCAN)))))
        scan = RowAtBest(scan, 1, eps, start)
    return kernel_search(evaluate, scan, (np.array(lo), np.array(hi)), optimizer, max_iter,
                         tol, callback, n_rows=n_train, value=evaluate.value, start="loss",
                         stall=_STALL, box=box)


class SVRHyperGrad(RegressorMixin, BaseKernelHyperGrad):
    r"""Support vector regression with ``C``, ``epsilon`` and ``gamma`` tuned by
    hypergradient descent.

    Searches :math:`\log C`, :math:`\log\epsilon` and :math:`\log\gamma` of
    scikit-learn's :class:`~sklearn.svm.SVR`, which solves in the dual coefficients
    :math:`\beta` of its prediction :math:`f(x) = \sum_i \beta_i K(x_i, x) + b`

    .. math::

        \min_\beta \; \tfrac12 \beta^T K \beta - y^T \beta + \epsilon \|\beta\|_1
        \quad\text{s.t.}\quad |\beta_i| \le C w_i,\; \mathbf 1^T \beta = 0

    (:math:`w` the sample weights), by minimizing the K-fold cross-validated (weighted)
    mean squared error (:mod:`skhypergrad.svr`): an adaptive scan of a coarse grid
    (``C`` from 0.1 to 100 times the standard deviation of the targets, ``epsilon`` at
    0.1 times it, ``gamma`` from 0.01 to 10 times scikit-learn's ``"scale"`` width
    :math:`1 / (p\,\mathrm{Var}(X))`; see :func:`search_svr`), then L-BFGS-B in
    ``C``, ``epsilon`` and ``gamma`` from its best point, the gradient from implicit
    differentiation of the dual solution. An ``SVR`` refit at the best point on all the
    data predicts (``svr_``).

    **Memory**: each fold keeps dense kernels of its rows (the kernel and its derivative
    among the training rows, and against the held-out rows), and the solver's
    active-set system is at most as large as one of them: about ``8 (1 + 3 k) n^2``
    bytes for ``k`` folds of ``n`` training rows. A fit that would take more than half
    of the available memory is refused with a ``MemoryError``
    (:func:`~skhypergrad.kernels.check_kernel_memory`). Sparse ``X`` is not supported.

    Parameters
    ----------
    kernel : {"rbf", "laplacian", "poly", "linear", "precomputed"}, default="rbf"
        The kernel (see :mod:`skhypergrad.kernels`); without a width only ``C`` and
        ``epsilon`` are tuned. Not "sigmoid": its SVR dual is not convex.
    degree : float, default=3
        Degree of "poly".
    coef0 : float, default=1
        Constant of "poly" (scikit-learn's ``SVR`` defaults to 0; here 1, so that the
        width matters; the refit uses this value).
    cv : int or cross-validation generator, default=5
    hypergradient : {"kkt"} or engine name or BaseEngine, default="kkt"
        "kkt" (exact, see :mod:`skhypergrad.svr`), or an engine of
        :mod:`skhypergrad.hypergrad` ("aid-fp", "itd", "itd-reverse", "aid-cg") run on
        :class:`~skhypergrad.svr_dual.SVRDualMap`.
    max_iter : int, default=30
        Steps of the descent after the scan.
    tol : float, default=1e-4
        Relative improvement under which the descent stops.
    optimizer : str or optimizer, default="lbfgs"

    Attributes
    ----------
    C_ : float
    epsilon_ : float
    gamma_ : float or None
    svr_ : sklearn.svm.SVR
        Refit on all the data at ``C_``, ``epsilon_``, ``gamma_``, to libsvm's KKT
        violation ``1e-6`` times the standard deviation of ``y`` (the violation is in
        the units of ``y``: targets ``s y`` give ``s`` times the predictions).
    best_loss_ : float
        Cross-validated mean squared error at the chosen point (lower is better), the
        smallest value of ``history_``.
    best_score_ : float
        ``-best_loss_`` (greater is better, as scikit-learn's scores).
    history_ : list of dict
        Every evaluation (see :func:`~skhypergrad._kernel_search.kernel_search`).
    n_iter_ : int
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from skhypergrad import SVRHyperGrad
    >>> rng = np.random.RandomState(0)
    >>> X = rng.uniform(-3, 3, (80, 1)); y = np.sin(X[:, 0]) + 0.1 * rng.randn(80)
    >>> model = SVRHyperGrad(cv=3, max_iter=5).fit(X, y)
    >>> bool(model.score(X, y) > 0.9)
    True
    """

    _parameter_constraints = {**BaseKernelHyperGrad._parameter_constraints,
                              "kernel": [StrOptions(set(KERNELS) - {"sigmoid"})],
                              "hypergradient": hypergradient_options("kkt")}

    def __init__(self, kernel="rbf", *, degree=3, coef0=1, cv=5, hypergradient="kkt",
                 max_iter=30, tol=1e-4, optimizer="lbfgs"):
        self.kernel = kernel
        self.degree = degree
        self.coef0 = coef0
        self.cv = cv
        self.hypergradient = hypergradient
        self.max_iter = max_iter
        self.tol = tol
        self.optimizer = optimizer

    def fit(self, X, y, sample_weight=None):
        """Tune ``C``, ``epsilon`` (and ``gamma``) by cross-validation, then refit an ``SVR``.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Dense data, or the kernel (n_samples, n_samples) for "precomputed".
        y : ndarray of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample bounds :math:`C_i = C w_i` on every fold and in the refit (libsvm's),
            and the weights of the held-out squared errors.

        Returns
        -------
        self
        """
        X, y = self._check_fit_data(X, y, y_numeric=True)
        Xs, ys, ws = X, y, None
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, ensure_non_negative=True)
            if not np.any(sample_weight > 0):
                raise ValueError("sample_weight has no positive weight.")
            keep = sample_weight > 0  # a zero bound: a coefficient fixed at 0, as libsvm
            Xs, ys, ws = X[keep], y[keep], sample_weight[keep]
            if self.kernel == "precomputed":
                Xs = Xs[:, keep]
        spec = self._spec()
        splits = cv_splits(self.cv, Xs, ys)
        folds = kernel_folds(Xs, ys, splits, precomputed=spec.kernel == "precomputed",
                             sample_weight=ws, score_weight=ws)
        history, self.n_iter_ = search_svr(spec, folds, self.hypergradient, self.optimizer,
                                           self.max_iter, self.tol)
        best = history[best_entry(history)]
        self.history_ = history
        self.best_loss_ = float(best["value"])
        self.best_score_ = -self.best_loss_
        self.C_ = float(best["lam"][0])
        self.epsilon_ = float(best["lam"][1])
        self.gamma_ = float(best["lam"][2]) if spec.has_gamma else None
        self.svr_ = SVR(kernel=self._libsvm_kernel(self.gamma_), degree=self.degree,
                        coef0=self.coef0, gamma=self.gamma_ or "scale", C=self.C_,
                        epsilon=self.epsilon_,
                        tol=_REFIT_TOL * target_spread(y)).fit(X, y,
                                                               sample_weight=sample_weight)
        return self

    def predict(self, X):
        """The refit ``SVR``'s predictions.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Data, or the kernel against the training samples for "precomputed".

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        X = self._check_X(X)
        return self.svr_.predict(X)
