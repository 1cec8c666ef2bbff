r"""Support vector classification tuned by hypergradient: ``C`` and the kernel's ``gamma``.

Each fold trains scikit-learn's :class:`~sklearn.svm.SVC` model (libsvm's dual, solved by
:func:`~skhypergrad.svm.smo`): for two classes one binary problem, for more one per pair
of classes (**one-vs-one**, as ``SVC``), each on the training rows of its two classes,
labels :math:`+1` for the later class of the pair. The decision of a pair is
:math:`f(x) = \sum_i a_i y_i K(x_i, x) - \rho`; a class is predicted by the votes of the
pairs (ties to the first class), as ``SVC.predict``.

**Held-out loss** (the smooth surrogate that the descent follows): the logistic loss of
the margin after the best scaling of the decision function,
:math:`\min_s \mathrm{mean}\,\log(1 + e^{-s\,y f(x)})` (:func:`scaled_logistic_loss`),
over the held-out rows of each pair's two classes, averaged over the pairs. Unscaled,
the logistic loss of the margin would favour large ``C`` (a larger decision function)
rather than a better one. **Score** (what ranks the points): the
held-out accuracy of the votes.

**Hypergradient** (``hypergradient="kkt"``, exact): with F the free coefficients
(:math:`0 < a_i < C`) and U those at ``C``, the KKT conditions
:math:`(Qa)_F - \mathbf 1 - \rho\, y_F = 0`, :math:`y^T a = 0` hold on a neighbourhood
of :math:`\lambda = [C, \gamma]` where the sets do not change; differentiating them,

.. math::

    \begin{bmatrix} Q_{FF} & -y_F \\ y_F^T & 0 \end{bmatrix}
    \begin{bmatrix} \partial a_F \\ \partial\rho \end{bmatrix}
    = -\begin{bmatrix} Q_{FU}\,\partial a_U + (\partial_\gamma Q\, a)_F \\
    y_U^T\,\partial a_U \end{bmatrix},
    \qquad \partial_C a_U = \mathbf 1,

solved once per pair in its transposed (adjoint) form. The engines of
:mod:`skhypergrad.hypergrad` (``"aid-fp"``, ``"itd"``, ``"aid-cg"``: GMRES) give the
same gradient through :class:`~skhypergrad.svm.SVCDualMap`, with :math:`\rho` read from
``a`` as the mean of :math:`y_i G_i` on F. At a change of the sets (a coefficient
reaching 0 or ``C``) the loss has a kink and this is one of its one-sided derivatives.
"""

import numbers

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import check_cv
from sklearn.preprocessing import LabelEncoder
from sklearn.svm import SVC
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ._kernel_search import Evaluation, kernel_folds, kernel_search, log_grid
from .hypergrad import ENGINES, BaseEngine, get_engine
from .kernel_ridge import default_gamma
from .kernels import KERNELS, KernelSpec, check_kernel_memory, pair_data
from .svm import SVCDualMap, free_set, intercept_from_gradient, smo

__all__ = ["SVCCriterion", "SVCHyperGrad", "search_svc", "scaled_logistic_loss"]

_C_FACTORS = 10.0 ** np.arange(-2, 4)
_GAMMA_FACTORS = 10.0 ** np.arange(-3, 3)
_C_RANGE = (1e-3, 1e6)
_GAMMA_RANGE = (1e-5, 1e3)


#: bounds of the held-out scaling of the decision function
_SCALE_RANGE = (1e-6, 1e6)


def scaled_logistic_loss(y, f):
    r"""The held-out surrogate loss of a decision ``f``, and its gradient in ``f``.

    .. math::

        \ell(f) = \min_{s} \frac1n \sum_i \log(1 + e^{-s y_i f_i}),
        \qquad 10^{-6} \le s \le 10^{6},

    the logistic loss of the margin after the best scaling (a Platt scaling without
    offset): it does not change when ``C`` only rescales the decision function. Its
    gradient is that at the minimizing :math:`s^*` (envelope theorem):
    :math:`\nabla_f \ell = -s^* y\, \sigma(-s^* y f) / n`. :math:`s^*` is found by Newton's
    method on :math:`\log s`.

    Returns
    -------
    loss : float
    grad : ndarray
    s : float
        The scaling :math:`s^*`.
    """
    m = y * f
    n = y.shape[0]
    lo, hi = np.log(_SCALE_RANGE[0]), np.log(_SCALE_RANGE[1])
    scale = float(np.std(f))
    t = float(np.clip(-np.log(scale) if scale > 0 else 0.0, lo, hi))
    for _ in range(100):
        s = np.exp(t)
        p = np.exp(-np.logaddexp(0.0, s * m))  # sigma(-s m)
        d1 = -float(np.mean(m * p)) * s                        # d phi / d log s
        d2 = float(np.mean(m * m * p * (1 - p))) * s * s + d1  # d2 phi / d log s^2
        step = d1 / d2 if d2 > 0 else np.sign(d1)
        step = float(np.clip(step, -2.0, 2.0))
        t_new = float(np.clip(t - step, lo, hi))
        if abs(t_new - t) < 1e-13:
            t = t_new
            break
        t = t_new
    s = float(np.exp(t))
    loss = float(np.mean(np.logaddexp(0.0, -s * m)))
    grad = -s * y * np.exp(-np.logaddexp(0.0, s * m)) / n
    return loss, grad, s


class _Pair:
    """One binary problem of a fold: its rows, labels and warm start."""

    def __init__(self, train_rows, y_train, test_rows, y_test):
        self.train = train_rows
        self.y = y_train
        self.test = test_rows
        self.y_test = y_test
        self.a = None
        self.C = None
        self.rho = 0.0


class _Fold:
    def __init__(self, spec, data, n_classes):
        self.train = pair_data(spec, data.X_train)
        self.test = pair_data(spec, data.X_test, None if spec.kernel == "precomputed"
                              else data.X_train)
        self.y_test = data.y_test
        self.n_test = data.y_test.shape[0]
        self.pairs = []
        for p in range(n_classes):
            for q in range(p + 1, n_classes):
                tr = np.flatnonzero((data.y_train == p) | (data.y_train == q))
                te = np.flatnonzero((data.y_test == p) | (data.y_test == q))
                self.pairs.append(((p, q), _Pair(tr, np.where(data.y_train[tr] == q, 1.0, -1.0),
                                                 te, np.where(data.y_test[te] == q, 1.0, -1.0))))
        self._gamma = None

    def at(self, gamma):
        if self._gamma != gamma:
            self._cache = self.train.kernel(gamma, True) + self.test.kernel(gamma, True)
            self._gamma = gamma
        return self._cache


class SVCCriterion:
    r"""Mean over folds of the held-out surrogate loss of SVC, its gradient, and accuracy.

    Parameters
    ----------
    spec : KernelSpec
    folds : list of FoldData
        Targets encoded as class indices 0..n_classes-1 (see
        :func:`~skhypergrad._kernel_search.kernel_folds`).
    n_classes : int
    hypergradient : str or BaseEngine, default="kkt"
        "kkt" (module docstring) or an engine run on
        :class:`~skhypergrad.svm.SVCDualMap`.
    tol : float, default=1e-8
        KKT violation at which the solver stops.

    Notes
    -----
    ``lam`` is ``[C, gamma]`` for kernels with a width, ``[C]`` otherwise.
    """

    def __init__(self, spec, folds, n_classes, hypergradient="kkt", tol=1e-8):
        self.spec = spec
        self.folds = [_Fold(spec, f, n_classes) for f in folds]
        self.n_classes = n_classes
        self.engine = None if hypergradient == "kkt" else get_engine(hypergradient)
        self.tol = tol

    def _pair(self, pair, K, dK, Kv, dKv, lam):
        """``(loss, grad)`` of one binary problem (its solution and intercept kept on
        ``pair``)."""
        C = float(lam[0])
        Kp = K[np.ix_(pair.train, pair.train)]
        y = pair.y
        a0 = None if pair.a is None else pair.a * (C / pair.C)
        a, G, _, _ = smo(Kp, y, C, a0, self.tol)
        pair.a, pair.C = a, C
        rho = intercept_from_gradient(a, G, y, C)
        pair.rho = rho
        Kvp = Kv[np.ix_(pair.test, pair.train)]
        ay = a * y
        f = Kvp @ ay - rho
        loss, gf, _ = scaled_logistic_loss(pair.y_test, f)
        dl_da = y * (Kvp.T @ gf)
        dl_drho = -float(np.sum(gf))
        dKp = None if dK is None else dK[np.ix_(pair.train, pair.train)]
        direct = 0.0 if dKv is None else float(gf @ (dKv[np.ix_(pair.test, pair.train)] @ ay))
        free, upper = free_set(a, C)
        if self.engine is None:
            grad = self._kkt(Kp, dKp, y, a, free, upper, dl_da, dl_drho)
        else:
            grad = self._engine(Kp, dKp, y, a, lam, free, dl_da, dl_drho)
        if dKv is not None:
            grad[1] += direct
        return loss, grad

    def _kkt(self, Kp, dKp, y, a, free, upper, dl_da, dl_drho):
        F, U = np.flatnonzero(free), np.flatnonzero(upper)
        nf = F.shape[0]
        grad = np.zeros(1 if dKp is None else 2)
        grad[0] = float(np.sum(dl_da[U]))  # da_U / dC = 1
        if nf == 0:
            return grad
        yF = y[F]
        M = np.empty((nf + 1, nf + 1))
        M[:nf, :nf] = (yF[:, None] * yF[None, :]) * Kp[np.ix_(F, F)]
        M[:nf, nf] = -yF
        M[nf, :nf] = yF
        M[nf, nf] = 0.0
        rhs = np.append(dl_da[F], dl_drho)
        try:
            adj = np.linalg.solve(M.T, rhs)
        except np.linalg.LinAlgError:
            adj = np.linalg.lstsq(M.T, rhs, rcond=None)[0]
        yU = y[U]
        r_C = -np.append(yF * (Kp[np.ix_(F, U)] @ yU), np.sum(yU))
        grad[0] += float(adj @ r_C)
        if dKp is not None:
            dQa = yF * (dKp[F] @ (a * y))
            grad[1] = -float(adj[:nf] @ dQa)
        return grad

    def _engine(self, Kp, dKp, y, a, lam, free, dl_da, dl_drho):
        pgmap = SVCDualMap(Kp, y, dKp)
        F = np.flatnonzero(free)
        c = dl_da.copy()
        extra = 0.0
        if F.shape[0]:  # rho = mean_F y_i G_i, G = Q a - 1
            c += dl_drho * y * Kp[F].sum(axis=0) / F.shape[0]
            if dKp is not None:
                extra = dl_drho * float(np.sum(dKp[F] @ (a * y))) / F.shape[0]
        lam = np.asarray(lam, dtype=np.float64)[:pgmap.n_hyper]
        grad = self.engine.hypergradient(pgmap, lam, a, lambda _: c).grad.copy()
        if dKp is not None:
            grad[1] += extra
        return grad

    def fold(self, k, lam):
        """``(loss, grad, accuracy)`` of fold ``k`` at ``lam``."""
        lam = np.asarray(lam, dtype=np.float64)
        gamma = float(lam[1]) if self.spec.has_gamma else 0.0
        fold = self.folds[k]
        K, dK, Kv, dKv = fold.at(gamma)
        votes = np.zeros((fold.n_test, self.n_classes))
        loss, grad = 0.0, np.zeros(lam.shape[0])
        rows = np.arange(fold.n_test)
        for (p, q), pair in fold.pairs:
            lp, gp = self._pair(pair, K, dK, Kv, dKv, lam)
            loss += lp
            grad += gp
            # every held-out row votes in every pair (the rows of other classes too)
            f_all = Kv[:, pair.train] @ (pair.a * pair.y) - pair.rho
            votes[rows, np.where(f_all > 0, q, p)] += 1
        accuracy = float(np.mean(np.argmax(votes, axis=1) == fold.y_test))
        n_pairs = len(fold.pairs)
        return loss / n_pairs, grad / n_pairs, accuracy

    def __call__(self, lam):
        """The :class:`~skhypergrad._kernel_search.Evaluation` at ``lam`` (scores: the
        accuracies)."""
        out = [self.fold(k, lam) for k in range(len(self.folds))]
        losses = np.array([o[0] for o in out])
        return Evaluation(float(losses.mean()), np.mean([o[1] for o in out], axis=0), losses,
                          np.array([o[2] for o in out]))


def search_svc(spec, folds, n_classes, hypergradient="kkt", optimizer="lbfgs", max_iter=30,
               tol=1e-4, callback=None, criterion=None):
    """Scan then descend the cross-validated surrogate loss of SVC.

    Parameters
    ----------
    spec : KernelSpec
    folds : list of FoldData
        Targets as class indices.
    n_classes : int
    hypergradient : str or BaseEngine, default="kkt"
    optimizer : str or optimizer, default="lbfgs"
    max_iter : int, default=30
    tol : float, default=1e-4
    callback : callable, default=None
    criterion : callable, default=None
        ``SVCCriterion -> (lam -> Evaluation)``: what is searched, built on the folds'
        criterion (the criterion itself when None).

    Returns
    -------
    history : list of dict
        ``lam`` is ``[C, gamma]`` (``[C]`` without a width); scores are accuracies.
    n_iter : int
    """
    n_train = max(f.y_train.shape[0] for f in folds)
    n_test = max(f.y_test.shape[0] for f in folds)
    check_kernel_memory(n_train, n_train + n_test, 3 * len(folds))
    X0 = folds[0].X_train
    g = default_gamma(X0) if spec.has_gamma and spec.kernel != "precomputed" else None
    evaluate = SVCCriterion(spec, folds, n_classes, hypergradient)
    if criterion is not None:
        evaluate = criterion(evaluate)
    axes = [_C_FACTORS] + ([] if g is None else [g * _GAMMA_FACTORS])
    lo = [_C_RANGE[0]] + ([] if g is None else [g * _GAMMA_RANGE[0]])
    hi = [_C_RANGE[1]] + ([] if g is None else [g * _GAMMA_RANGE[1]])
    grid = log_grid(axes[::-1])[:, ::-1]  # C varies fastest: warm starts along C
    return kernel_search(evaluate, grid, (np.array(lo), np.array(hi)), optimizer,
                         max_iter, tol, callback, n_rows=n_train)


class SVCHyperGrad(ClassifierMixin, BaseEstimator):
    r"""Support vector classifier with ``C`` and ``gamma`` tuned by hypergradient descent.

    Searches :math:`\log C` and :math:`\log\gamma` of scikit-learn's
    :class:`~sklearn.svm.SVC` by K-fold cross-validation (:mod:`skhypergrad.svc`): a
    scan of a coarse grid (``C`` from 0.01 to 1e3, ``gamma`` from 1e-3 to 100 times
    scikit-learn's ``"scale"`` width), then L-BFGS-B on the held-out logistic loss of
    the margin after the best scaling (a smooth surrogate of the decision function,
    :func:`scaled_logistic_loss`), the gradient from
    implicit differentiation of the dual solution. The evaluated point of highest
    cross-validated accuracy is kept (the lowest surrogate loss among ties), and an
    ``SVC`` refit there on all the data predicts (``svc_``). Binary and multiclass
    (one-vs-one, as ``SVC``).

    **Memory**: each fold keeps dense kernels of its rows (the kernel and its derivative
    among the training rows, and against the held-out rows): about ``24 n^2`` bytes per
    fold. A fit that would take more than half of the available memory is refused with a
    ``MemoryError`` (:func:`~skhypergrad.kernels.check_kernel_memory`). Sparse ``X`` is
    not supported.

    Parameters
    ----------
    kernel : {"rbf", "laplacian", "poly", "linear", "precomputed"}, default="rbf"
        The kernel (see :mod:`skhypergrad.kernels`); without a width only ``C`` is tuned.
    degree : float, default=3
        Degree of "poly".
    coef0 : float, default=1
        Constant of "poly" (scikit-learn's ``SVC`` defaults to 0; here 1, so that the
        width matters; the refit uses this value).
    cv : int or cross-validation generator, default=5
    hypergradient : {"kkt"} or engine name or BaseEngine, default="kkt"
        "kkt" (exact, module docstring), or an engine of :mod:`skhypergrad.hypergrad`
        ("aid-fp", "itd", "aid-cg").
    max_iter : int, default=30
        Steps of the descent after the scan.
    tol : float, default=1e-4
        Relative improvement under which the descent stops.
    optimizer : str or optimizer, default="lbfgs"

    Attributes
    ----------
    C_ : float
    gamma_ : float or None
    svc_ : sklearn.svm.SVC
        Refit on all the data at ``C_``, ``gamma_``.
    classes_ : ndarray
    best_score_ : float
        Cross-validated accuracy at the chosen point.
    history_ : list of dict
    n_iter_ : int
    n_features_in_ : int

    Examples
    --------
    >>> from sklearn.datasets import make_moons
    >>> from skhypergrad import SVCHyperGrad
    >>> X, y = make_moons(100, noise=0.2, random_state=0)
    >>> clf = SVCHyperGrad(cv=3, max_iter=5).fit(X, y)
    >>> bool(clf.best_score_ > 0.9)
    True
    """

    _parameter_constraints = {
        "kernel": [StrOptions(set(KERNELS))],
        "degree": [Interval(numbers.Real, 0, None, closed="left")],
        "coef0": [numbers.Real],
        "cv": ["cv_object"],
        "hypergradient": [StrOptions({"kkt"} | set(ENGINES) - {"nsid"}), BaseEngine],
        "max_iter": [Interval(numbers.Integral, 0, None, closed="left")],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "optimizer": "no_validation",
    }

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

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.pairwise = self.kernel == "precomputed"
        return tags

    def fit(self, X, y):
        """Tune ``C`` (and ``gamma``) by cross-validation, then refit an ``SVC``.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Dense data, or the kernel (n_samples, n_samples) for "precomputed".
        y : array-like of shape (n_samples,)
            Class labels.

        Returns
        -------
        self
        """
        self._validate_params()
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        enc = LabelEncoder().fit(y)
        self.classes_ = enc.classes_
        if self.classes_.shape[0] < 2:
            raise ValueError(f"The number of classes has to be greater than one; got "
                             f"{self.classes_.shape[0]} class.")
        spec = KernelSpec(self.kernel, float(self.degree), float(self.coef0)).check()
        codes = enc.transform(y)
        splits = list(check_cv(self.cv, codes, classifier=True).split(X, codes))
        folds = kernel_folds(X, codes, splits, precomputed=spec.kernel == "precomputed")
        history, self.n_iter_ = search_svc(spec, folds, self.classes_.shape[0],
                                           self.hypergradient, self.optimizer,
                                           self.max_iter, self.tol)
        from ._kernel_search import best_entry

        best = history[best_entry(history)]
        self.history_ = history
        self.best_score_ = float(np.mean(best["scores"]))
        self.C_ = float(best["lam"][0])
        self.gamma_ = float(best["lam"][1]) if spec.has_gamma else None
        self.svc_ = SVC(C=self.C_, kernel=self.kernel, degree=self.degree,
                        coef0=self.coef0, gamma=self.gamma_ or "scale", tol=1e-6).fit(X, y)
        return self

    def decision_function(self, X):
        """The refit ``SVC``'s decision function.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_classes)
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return self.svc_.decision_function(X)

    def predict(self, X):
        """The refit ``SVC``'s predictions.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return self.svc_.predict(X)
