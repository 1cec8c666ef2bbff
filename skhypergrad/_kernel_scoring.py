r"""The scorers of the dual-model searches (``KernelRidge``, ``SVC``, ``SVR``, ``LinearSVR``).

The searches of :mod:`skhypergrad._kernel_search_cv` read ``scoring`` and ``refit`` as the
linear models' (:func:`~skhypergrad._scoring.check_search_scoring`): the descended
criterion is the held-out mean squared error of the regressors, or minus the refit
scorer's mean when it is a function of it (:data:`~skhypergrad._scoring.EXACT`: RMSE,
R², through :class:`~skhypergrad._scoring.FoldTransform`); the SVC's is its smooth
surrogate. Each evaluated point is then scored, on every fold, by every scorer
(:class:`~skhypergrad._scoring.FoldScorer`), from the fold's model at that point, the
solution the criterion computed, as an estimator (no extra fit):

- ``KernelRidge`` and ``LinearSVR``: a copy of the user's estimator with its fitted
  state set (``dual_coef_`` and ``X_fit_``; ``coef_`` and ``intercept_``);
- ``SVR``: :class:`DualRegressor`, :math:`f(x) = \sum_i \beta_i K(x_i, x) + b`;
- ``SVC``: :class:`OneVsOneClassifier`, the votes and decision function of ``SVC``.

:class:`ScoredKernelCriterion` is the criterion that the search descends, whose
evaluations carry those scores.
"""

from typing import Any, Callable, NamedTuple

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import _ovr_decision_function

from ._kernel_search import Evaluation
from .kernels import pair_data

__all__ = ["DualRegressor", "OneVsOneClassifier", "KernelFoldView", "ScoredKernelCriterion"]


class DualRegressor(RegressorMixin, BaseEstimator):
    r"""A fitted dual regression model :math:`f(x) = \sum_i c_i K(x_i, x) + b` (a fold's
    model at an evaluated point, as the scorers see it).

    Parameters
    ----------
    spec : KernelSpec
    gamma : float
    X_fit : ndarray
        The training rows (for "precomputed", unused: ``X`` is the kernel).
    coef : ndarray of shape (n_train,)
    intercept : float
    """

    def __init__(self, spec, gamma, X_fit, coef, intercept):
        self.spec = spec
        self.gamma = gamma
        self.X_fit = X_fit
        self.coef = coef
        self.intercept = intercept

    def __sklearn_is_fitted__(self):
        return True

    def predict(self, X):
        """:math:`K(X, X_{fit})\\,c + b`."""
        X = np.asarray(X, dtype=np.float64)
        K, _ = pair_data(self.spec, X, None if self.spec.kernel == "precomputed"
                         else self.X_fit).kernel(self.gamma)
        return K @ self.coef + self.intercept


class OneVsOneClassifier(ClassifierMixin, BaseEstimator):
    r"""A fitted one-vs-one SVC (a fold's model at an evaluated point): per pair
    :math:`(p, q)` of classes the decision :math:`f_{pq}(x) = \sum_i a_i y_i K(x_i, x) -
    \rho` (positive for ``q``), the class of most votes (ties to the first), and
    ``SVC``'s decision function (binary: :math:`f`; more classes: its ``"ovr"`` shape).

    Parameters
    ----------
    spec : KernelSpec
    gamma : float
    X_fit : ndarray
        The fold's training rows.
    classes : ndarray
        The labels of the class indices.
    pairs : list of ((int, int), ndarray, ndarray, float)
        ``((p, q), rows, a * y, rho)`` of each pair.
    """

    def __init__(self, spec, gamma, X_fit, classes, pairs):
        self.spec = spec
        self.gamma = gamma
        self.X_fit = X_fit
        self.classes = classes
        self.pairs = pairs

    def __sklearn_is_fitted__(self):
        return True

    @property
    def classes_(self):
        return self.classes

    def _pair_decisions(self, X):
        X = np.asarray(X, dtype=np.float64)
        K, _ = pair_data(self.spec, X, None if self.spec.kernel == "precomputed"
                         else self.X_fit).kernel(self.gamma)
        return np.column_stack([K[:, rows] @ ay - rho for _, rows, ay, rho in self.pairs])

    def decision_function(self, X):
        """The binary decision, or ``SVC``'s one-vs-rest shape of the pairs' decisions."""
        f = self._pair_decisions(X)
        if len(self.classes) == 2:
            return f[:, 0]
        dec = -f  # libsvm's sign: positive for the first class of a pair
        return _ovr_decision_function(dec < 0, -dec, len(self.classes))

    def predict(self, X):
        """The class of most votes (ties to the first)."""
        f = self._pair_decisions(X)
        votes = np.zeros((f.shape[0], len(self.classes)))
        rows = np.arange(f.shape[0])
        for j, ((p, q), _, _, _) in enumerate(self.pairs):
            votes[rows, np.where(f[:, j] > 0, q, p)] += 1
        return self.classes[np.argmax(votes, axis=1)]


class KernelFoldView(NamedTuple):
    """A fold's rows as the scorers see them (the interface of
    :class:`~skhypergrad._scoring.FoldScorer`): ``estimator(lam)`` is the fold's model at
    the point ``lam`` last evaluated."""

    make: Callable
    X_train: Any
    y_train: np.ndarray
    X_test: Any
    y_test: np.ndarray
    test_params: Any = None
    train_params: Any = None

    def estimator(self, lam):
        """The fold's model at ``lam`` (the criterion's last solution there)."""
        return self.make(lam)


class ScoredKernelCriterion:
    r"""The criterion a dual-model search descends, and the scores of its points.

    Per fold :math:`k`, ``fold_loss(k, lam)`` gives the held-out loss :math:`L_k`, its
    gradient and the fold's own score; the value is
    :math:`\frac1K \sum_k g_k(L_k)` with ``transform`` (:math:`g_k = L` when None).
    With ``scorer``, every fold's model (``views[k].estimator(lam)``) is then scored by
    every scorer (test scores, then training scores with ``train``): the evaluation's
    ``values``, of shape ``(n_folds, 1 + train, n_metrics)``, and its ``scores`` are
    those of the metric ``rank`` (minus :math:`g_k(L_k)` when ``rank`` is None).
    Without ``scorer``, the scores are the folds' own.

    Parameters
    ----------
    fold_loss : callable
        ``(k, lam, gradient) -> (loss, grad, own_score)`` (``grad`` unused without
        ``gradient``).
    n_folds : int
    transform : FoldTransform or None
    scorer : FoldScorer or None
    views : list of KernelFoldView or None
    train : bool
    rank : int or None
        Index of the metric that ranks the points.
    """

    def __init__(self, fold_loss, n_folds, transform=None, scorer=None, views=None,
                 train=False, rank=None):
        self.fold_loss = fold_loss
        self.n_folds = n_folds
        self.transform = transform
        self.scorer = scorer
        self.views = views
        self.train = train
        self.rank = rank

    def __call__(self, lam):
        """The :class:`~skhypergrad._kernel_search.Evaluation` at ``lam``."""
        return self._evaluate(lam, True)

    def value(self, lam):
        """The :class:`~skhypergrad._kernel_search.Evaluation` at ``lam`` without the
        gradient (nan), for a search's value-only evaluations."""
        return self._evaluate(lam, False)

    def _evaluate(self, lam, gradient):
        lam = np.asarray(lam, dtype=np.float64)
        values, grads, losses, own = [], [], [], []
        for k in range(self.n_folds):
            loss, grad, score = self.fold_loss(k, lam, gradient)
            g, dg = (loss, 1.0) if self.transform is None else self.transform(k, loss)
            losses.append(loss)
            values.append(g)
            if gradient:
                grads.append(dg * np.asarray(grad))
            own.append(score if self.transform is None else -g)
        value = float(np.mean(values))
        grad = np.mean(grads, axis=0) if gradient else np.full(lam.shape[0], np.nan)
        if self.scorer is None:
            return Evaluation(value, grad, np.array(losses), np.array(own))
        scores = np.array([
            self.scorer(self.views[k], lam, bool(np.isfinite(losses[k])), self.train)
            for k in range(self.n_folds)]).reshape(self.n_folds, 1 + self.train, -1)
        ranked = -np.array(values) if self.rank is None else scores[:, 0, self.rank]
        return Evaluation(value, grad, np.array(losses), ranked, scores)
