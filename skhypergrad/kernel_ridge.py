r"""Kernel ridge regression tuned by hypergradient: ``alpha`` and the kernel's ``gamma``.

scikit-learn's :class:`~sklearn.kernel_ridge.KernelRidge` (no intercept) fits the dual
coefficients

.. math::

    c(\lambda) = (K + \alpha I)^{-1} y, \qquad \lambda = [\alpha, \gamma],

and predicts :math:`K(X', X)\,c`. The held-out loss of a fold (training rows T,
validation rows V) is the mean squared error
:math:`E = \frac{1}{|V|}\|K_{VT}\,c - y_V\|^2`, whose gradient is

.. math::

    \partial_\alpha E = -c^T v, \qquad
    \partial_\gamma E = -(\partial_\gamma K_{TT}\, c)^T v
    + \tfrac{2}{|V|} (K_{VT} c - y_V)^T \partial_\gamma K_{VT}\, c,
    \qquad (K_{TT} + \alpha I)\, v = \tfrac{2}{|V|} K_{VT}^T (K_{VT} c - y_V).

The second term of :math:`\partial_\gamma E` is the validation kernel's own dependence on
:math:`\gamma`, added to what an engine returns (:math:`B^T v` of
:class:`~skhypergrad.dual.KernelRidgeMap`).

**Fast path** (``hypergradient="eig"``, the default): direct solves with
:math:`K_{TT} + \alpha I` give :math:`c` and :math:`v` exactly. Each training fold
factorizes it by Cholesky at each point (:math:`n^3/3` flops), up to
:data:`_EIG_AFTER` values of :math:`\alpha` at one :math:`\gamma`; from then on
the eigendecomposition :math:`K_{TT} = U \Lambda U^T`, computed once per
:math:`\gamma` and kept (about 14 Cholesky factorizations' cost), gives them at any
further :math:`\alpha` in :math:`O(n^2)`. Any engine of :mod:`skhypergrad.hypergrad`
(``"aid-cg"``, ``"aid-fp"``,
``"itd"``, ...) computes the same gradient through the map.
"""



import numpy as np
from numpy.linalg import LinAlgError
from scipy.linalg import cho_factor, cho_solve
from sklearn.base import RegressorMixin
from sklearn.utils.validation import _check_sample_weight, check_is_fitted

from ._kernel_estimator import BaseKernelHyperGrad, hypergradient_options
from ._kernel_search import (AdaptiveScan, FoldMeanCriterion, best_entry, kernel_folds,
                             kernel_search)
from ._threads import search_blas_limits
from ._validation import check_fold_weights, cv_splits
from .dual import KernelRidgeMap
from .hypergrad import get_engine
from .kernels import check_kernel_memory, pair_data

__all__ = ["KernelRidgeCriterion", "KernelRidgeHyperGrad", "search_kernel_ridge",
           "default_gamma"]

#: the scan: gamma over these factors of the default width, alpha over these factors of
#: the mean diagonal of the kernel
_GAMMA_FACTORS = 10.0 ** np.arange(-3, 3)
_ALPHA_FACTORS = 10.0 ** np.arange(-6, 2)
#: Cholesky factorizations per fold and width after which the eigendecomposition (which
#: serves every further alpha in O(n^2)) is computed instead: LAPACK's symmetric
#: eigensolver costs about 14 Cholesky factorizations at n = 1,600
_EIG_AFTER = 8
#: where each row of the scan starts, as a factor of the mean diagonal of the kernel
_ALPHA_START = 1e-3
#: the descent also stops after this many evaluations in a row that do not lower the
#: loss by this much (relative)
_STALL = (3, 1e-3)
#: bounds of the descent, as factors of the same scales
_GAMMA_RANGE = (1e-4, 1e3)
_ALPHA_RANGE = (1e-8, 1e3)


def default_gamma(X):
    r"""scikit-learn's ``gamma="scale"``: :math:`1 / (p\,\mathrm{Var}(X))` (1 when X is
    constant)."""
    v = float(np.var(X)) * X.shape[1]
    return 1.0 / v if v > 0 else 1.0


class _Fold:
    r"""One fold's pair data, targets, and the kernels and factorizations at the last gamma.

    With training weights :math:`w` (``KernelRidge``'s ``sample_weight``:
    :math:`c = S (S K S + \alpha I)^{-1} S y`, :math:`S = \mathrm{diag}\sqrt w`), the
    fold is the unweighted problem of kernel :math:`S K S`, targets :math:`S y` and
    held-out kernel :math:`K_{VT} S`, whose solution :math:`c'` gives :math:`c = S c'`.

    :meth:`solver` solves with :math:`K + \alpha I` by a Cholesky factorization per
    ``alpha``, until :data:`_EIG_AFTER` of them at the same ``gamma``; from then on by
    the eigendecomposition of :math:`K`, computed once and kept for every further
    ``alpha`` at that ``gamma``.
    """

    def __init__(self, spec, data):
        self.sw = None if data.w_train is None else np.sqrt(data.w_train)
        self.y_train = data.y_train if self.sw is None else self.sw * data.y_train
        self.y_test = data.y_test
        v = np.ones(data.y_test.shape[0]) if data.w_test is None else data.w_test
        self.v = v / np.sum(v)  # the held-out loss's weights, summing to 1
        self.train = pair_data(spec, data.X_train)
        self.test = pair_data(spec, data.X_test, None if spec.kernel == "precomputed"
                              else data.X_train)
        self.last = (None, None, None)  # alpha, gamma and solution of the last evaluation
        self._gamma = None

    def _weighted(self, K, Kv):
        if self.sw is None or K is None:
            return K, Kv
        return self.sw[:, None] * K * self.sw, Kv * self.sw

    def kernels(self, gamma, derivative=False):
        """``(K, Kv, dK, dKv)`` at ``gamma`` (kept for the next call; the derivatives are
        None unless ``derivative``, or for a kernel without a width)."""
        if self._gamma != gamma:
            self._K = self._dK = self._eig = None
            self._n_factor = 0
            self._gamma = gamma
        if self._K is None or (derivative and self._dK is None):
            K, dK = self.train.kernel(gamma, derivative)
            Kv, dKv = self.test.kernel(gamma, derivative)
            self._K = self._weighted(K, Kv)
            if derivative:
                self._dK = self._weighted(dK, dKv)
        return self._K + (self._dK or (None, None))

    def eig(self, gamma):
        """``(evals, evecs)`` of the training kernel at ``gamma``, kept for the next calls
        at the same gamma (not clipped at 0: a precomputed or callable kernel, or
        "sigmoid", may be indefinite, and ``KernelRidge`` then solves the indefinite
        system)."""
        K = self.kernels(gamma)[0]
        if self._eig is None:
            self._eig = np.linalg.eigh(K)
        return self._eig

    def solver(self, gamma, alpha):
        r"""``b -> (K + \alpha I)^{-1} b`` at ``gamma`` (see the class docstring)."""
        K = self.kernels(gamma)[0]
        if self._eig is None and self._n_factor < _EIG_AFTER:
            self._n_factor += 1
            A = K.copy()
            A[np.diag_indices_from(A)] += alpha
            try:
                factor = cho_factor(A, lower=True, overwrite_a=True, check_finite=False)
            except LinAlgError:   # eigenvalues below -alpha (rounding, or "sigmoid")
                pass
            else:
                return lambda b: cho_solve(factor, b, check_finite=False)
        evals, U = self.eig(gamma)
        return lambda b: U @ ((U.T @ b) / (evals + alpha))


class KernelRidgeCriterion(FoldMeanCriterion):
    r"""Mean over folds of the held-out squared error of kernel ridge, and its gradient.

    Parameters
    ----------
    spec : KernelSpec
    folds : list of FoldData
        The folds' rows (see :func:`~skhypergrad._kernel_search.kernel_folds`); their
        ``w_train`` weigh the training losses (``KernelRidge``'s ``sample_weight``), their
        ``w_test`` the held-out squared errors.
    hypergradient : str or BaseEngine, default="eig"
        "eig" (direct solves, see the module docstring) or an engine of
        :mod:`skhypergrad.hypergrad` run on :class:`~skhypergrad.dual.KernelRidgeMap`.

    Notes
    -----
    ``lam`` is ``[alpha, gamma]`` for kernels with a width, ``[alpha]`` otherwise.
    """

    def __init__(self, spec, folds, hypergradient="eig"):
        self.spec = spec
        self.folds = [_Fold(spec, f) for f in folds]
        self.hypergradient = hypergradient
        self.engine = None if hypergradient == "eig" else get_engine(hypergradient)

    @property
    def n_hyper(self):
        return 2 if self.spec.has_gamma else 1

    def fold(self, k, lam, gradient=True):
        """``(loss, grad)`` of fold ``k`` at ``lam`` (``grad`` None without
        ``gradient``)."""
        lam = np.asarray(lam, dtype=np.float64)
        alpha = float(lam[0])
        gamma = float(lam[1]) if self.spec.has_gamma else 0.0
        f = self.folds[k]
        K, Kv, dK, dKv = f.kernels(gamma, derivative=gradient)
        if self.engine is None:
            solve = f.solver(gamma, alpha)
        else:
            evals, U = f.eig(gamma)
            solve = lambda b: U @ ((U.T @ b) / (evals + alpha))  # noqa: E731
        c = solve(f.y_train)
        f.last = (alpha, gamma, c)
        r = Kv @ c - f.y_test
        loss = float(f.v @ (r * r))
        if not gradient:
            return loss, None
        gr = 2.0 * f.v * r
        gc = Kv.T @ gr
        if self.engine is None:
            v = solve(gc)
            grad = [-float(c @ v)]
            if dK is not None:
                grad.append(-float((dK @ c) @ v))
            grad = np.array(grad)
        else:
            pgmap = KernelRidgeMap(K, f.y_train, dK, step=1.0 / (evals[-1] + alpha))
            grad = self.engine.hypergradient(pgmap, lam, c, lambda _: gc).grad.copy()
        if dKv is not None:  # the validation kernel's own dependence on gamma
            grad[1] += float(gr @ (dKv @ c))
        return loss, grad

    def solution(self, k, lam):
        """``dual_coef_`` of fold ``k`` at ``lam`` (``KernelRidge``'s, weights included;
        that of the fold's last evaluation when at ``lam``)."""
        f = self.folds[k]
        alpha, gamma = float(lam[0]), float(lam[1]) if self.spec.has_gamma else 0.0
        c = f.last[2] if f.last[:2] == (alpha, gamma) else \
            f.solver(gamma, alpha)(f.y_train)
        return c if f.sw is None else f.sw * c


def _scales(spec, X):
    """``(alpha_scale, gamma_scale)``: the mean diagonal of the kernel at the default
    width, and that width (None without one)."""
    gamma = default_gamma(X) if spec.has_gamma and spec.kernel != "precomputed" else None
    return float(np.mean(np.abs(spec.diagonal(X, gamma)))) or 1.0, gamma


def search_kernel_ridge(spec, folds, hypergradient="eig", optimizer="lbfgs", max_iter=30,
                        tol=1e-4, callback=None, criterion=None, box=None):
    """Scan then descend the cross-validated squared error of kernel ridge.

    The scan (:class:`~skhypergrad._kernel_search.AdaptiveScan`, value only) walks
    ``alpha`` over :data:`_ALPHA_FACTORS` times the mean diagonal of the kernel, from
    :data:`_ALPHA_START` times it, each row to its lowest loss (to 0.1%), the rows of ``gamma``
    (:data:`_GAMMA_FACTORS` times scikit-learn's ``"scale"`` width) starting from the
    previous row's best ``alpha`` and added away from the ``"scale"`` width while they
    improve. The descent (L-BFGS-B by default) starts from its lowest loss and stops,
    besides the optimizer's own rule, after 3 evaluations in a row that do not lower the
    loss by 0.1%.

    Parameters
    ----------
    spec : KernelSpec
    folds : list of FoldData
        The folds' rows (see :func:`~skhypergrad._kernel_search.kernel_folds`).
    hypergradient : str or BaseEngine, default="eig"
    optimizer : str or optimizer, default="lbfgs"
    max_iter : int, default=30
    tol : float, default=1e-4
    callback : callable, default=None
    criterion : callable, default=None
        ``KernelRidgeCriterion -> evaluate``: what is searched, built on the folds'
        criterion, with ``evaluate(lam)`` and ``evaluate.value(lam)`` (``Evaluation`` objects
        with and without the gradient); the criterion itself when None.
    box : (ndarray, ndarray), default=None
        The user's bounds on ``lam`` (see :func:`~skhypergrad._kernel_search.kernel_search`);
        the scan covers the box (at most half a decade apart)
        (:meth:`~skhypergrad._kernel_search.AdaptiveScan.within`).

    Returns
    -------
    history : list of dict
        See :func:`~skhypergrad._kernel_search.kernel_search`; ``lam`` is
        ``[alpha, gamma]`` (``[alpha]`` without a width).
    n_iter : int
    """
    n_train = max(f.y_train.shape[0] for f in folds)
    n_test = max(f.y_test.shape[0] for f in folds)
    # per fold: the pair data and K, dK, U (n_train^2), and the validation blocks
    check_kernel_memory(n_train, n_train + n_test, 4 * len(folds))
    a, g = _scales(spec, folds[0].X_train)
    evaluate = KernelRidgeCriterion(spec, folds, hypergradient)
    if criterion is not None:
        evaluate = criterion(evaluate)
    lo = [a * _ALPHA_RANGE[0]] + ([] if g is None else [g * _GAMMA_RANGE[0]])
    hi = [a * _ALPHA_RANGE[1]] + ([] if g is None else [g * _GAMMA_RANGE[1]])
    start = int(np.argmin(np.abs(_ALPHA_FACTORS - _ALPHA_START)))
    scan = AdaptiveScan(a * _ALPHA_FACTORS, None if g is None else g * _GAMMA_FACTORS,
                        int(np.argmin(np.abs(_GAMMA_FACTORS - 1.0))), start, follow=True,
                        rtol=_STALL[1]).within(box, 0, 1)
    return kernel_search(evaluate, scan, (np.array(lo), np.array(hi)), optimizer,
                         max_iter, tol, callback, n_rows=n_train, value=evaluate.value,
                         start="loss", stall=_STALL, box=box)


class KernelRidgeHyperGrad(RegressorMixin, BaseKernelHyperGrad):
    r"""Kernel ridge regression with ``alpha`` and ``gamma`` tuned by hypergradient descent.

    Minimizes the K-fold cross-validated mean squared error of
    :class:`~sklearn.kernel_ridge.KernelRidge` over :math:`\log\alpha` and
    :math:`\log\gamma`: an adaptive scan of a coarse grid (``alpha`` over 1e-6 to 10
    times the mean diagonal of the kernel, ``gamma`` over 1e-3 to 100 times
    scikit-learn's ``"scale"`` width :math:`1 / (p\,\mathrm{Var}(X))`; see
    :func:`search_kernel_ridge`), then L-BFGS-B from its best point, the gradient from
    implicit differentiation of the dual solution
    (:mod:`skhypergrad.kernel_ridge`). It then refits on all the data: ``dual_coef_``
    are those of ``KernelRidge(alpha=alpha_, kernel=kernel, gamma=gamma_)``.

    There is no intercept, as in ``KernelRidge``: a constant added to ``y`` is fitted
    by the kernel, and changes the chosen point and the CV error (``load_diabetes``,
    standardized, 5 folds: ``y + 1e6`` 3,089 against 2,888; ``y * c`` leaves ``alpha_``
    and ``gamma_`` and scales the error by ``c^2``). Centre ``y`` first (e.g.
    :class:`~sklearn.compose.TransformedTargetRegressor` with a
    :class:`~sklearn.preprocessing.StandardScaler`) when its mean is far from 0.

    **Memory**: each fold keeps dense matrices of its training rows (the kernel, its
    derivative, its factorization, the pair data): about ``32 n^2`` bytes per fold for
    ``n`` training rows. A fit that would take more than half of the available memory is
    refused with a ``MemoryError`` (:func:`~skhypergrad.kernels.check_kernel_memory`).
    Sparse ``X`` is not supported (a ``TypeError``).

    Parameters
    ----------
    kernel : {"rbf", "laplacian", "poly", "sigmoid", "linear", "precomputed"}, default="rbf"
        The kernel (see :mod:`skhypergrad.kernels`). With "precomputed", ``X`` is the
        kernel between samples (``n x n`` to fit, ``n_test x n`` to predict) and only
        ``alpha`` is tuned.
    degree : float, default=3
        Degree of "poly".
    coef0 : float, default=1
        Constant of "poly" and "sigmoid".
    cv : int or cross-validation generator, default=5
        Folds (scikit-learn's ``cv``).
    hypergradient : {"eig"} or engine name or BaseEngine, default="eig"
        How the hypergradient is computed: "eig" (direct solves: Cholesky
        factorizations, or the eigendecomposition per fold and width; see
        :mod:`skhypergrad.kernel_ridge`), or an engine of :mod:`skhypergrad.hypergrad`
        ("aid-cg", "aid-fp", "itd",
        "itd-reverse").
    max_iter : int, default=30
        Steps of the descent after the scan (0: the scan alone).
    tol : float, default=1e-4
        Relative improvement under which the descent stops.
    optimizer : str or optimizer, default="lbfgs"
        See :func:`~skhypergrad.optimizers.minimize`.

    Attributes
    ----------
    alpha_ : float
    gamma_ : float or None
        None for kernels without a width.
    dual_coef_ : ndarray of shape (n_samples,)
    X_fit_ : ndarray
        Training data (the training kernel for "precomputed").
    history_ : list of dict
        Every evaluation (see :func:`~skhypergrad._kernel_search.kernel_search`).
    best_loss_ : float
        Cross-validated mean squared error at the chosen point (lower is better), the
        smallest value of ``history_``.
    best_score_ : float
        ``-best_loss_`` (greater is better, as scikit-learn's scores).
    n_iter_ : int
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from skhypergrad import KernelRidgeHyperGrad
    >>> rng = np.random.RandomState(0)
    >>> X = rng.uniform(-3, 3, (80, 1)); y = np.sin(X[:, 0]) + 0.1 * rng.randn(80)
    >>> model = KernelRidgeHyperGrad(max_iter=10).fit(X, y)
    >>> bool(model.score(X, y) > 0.9)
    True
    """

    _parameter_constraints = {**BaseKernelHyperGrad._parameter_constraints,
                              "hypergradient": hypergradient_options("eig")}

    def __init__(self, kernel="rbf", *, degree=3, coef0=1, cv=5, hypergradient="eig",
                 max_iter=30, tol=1e-4, optimizer="lbfgs"):
        self.optimizer = optimizer
        self.kernel = kernel
        self.degree = degree
        self.coef0 = coef0
        self.cv = cv
        self.hypergradient = hypergradient
        self.max_iter = max_iter
        self.tol = tol

    def fit(self, X, y, sample_weight=None):
        r"""Tune ``alpha`` (and ``gamma``) by cross-validation, then refit on all the data.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Dense data, or the kernel (n_samples, n_samples) for "precomputed".
        y : ndarray of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None
            Nonnegative weights of the squared errors, as ``KernelRidge.fit``'s: the
            problem of kernel :math:`S K S` and targets :math:`S y`,
            :math:`S = \operatorname{diag}(\sqrt{w})`, on every training fold and in the
            refit; the held-out squared errors are weighted by them too.

        Returns
        -------
        self
        """
        X, y = self._check_fit_data(X, y, y_numeric=True)
        sw = None if sample_weight is None else _check_sample_weight(
            sample_weight, X, ensure_non_negative=True)
        spec = self._spec()
        splits = cv_splits(self.cv, X, y)
        check_fold_weights(splits, sw, sw)
        folds = kernel_folds(X, y, splits, precomputed=spec.kernel == "precomputed",
                             sample_weight=sw, score_weight=sw)
        history, self.n_iter_ = search_kernel_ridge(
            spec, folds, self.hypergradient, self.optimizer, self.max_iter, self.tol)
        best = history[best_entry(history)]
        self.history_ = history
        self.best_loss_ = float(best["value"])
        self.best_score_ = -self.best_loss_
        self.alpha_ = float(best["lam"][0])
        self.gamma_ = float(best["lam"][1]) if spec.has_gamma else None
        self.X_fit_ = X
        K, _ = pair_data(spec, X).kernel(self.gamma_ or 0.0)
        root = np.ones(y.shape[0]) if sw is None else np.sqrt(sw)
        K = root[:, None] * K * root[None, :]
        K[np.diag_indices_from(K)] += self.alpha_
        with search_blas_limits(K):
            self.dual_coef_ = root * np.linalg.solve(K, root * y)
        return self

    def predict(self, X):
        """Predictions :math:`K(X, X_{fit})\\,c`.

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
        spec = self._spec()
        if spec.kernel == "precomputed":
            return X @ self.dual_coef_
        K, _ = pair_data(spec, X, self.X_fit_).kernel(self.gamma_ or 0.0)
        return K @ self.dual_coef_
