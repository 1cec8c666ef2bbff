"""Logistic regression (L1, elastic-net or L2 penalty) tuned by hypergradient descent."""

import numbers
import time
from functools import partial

import numpy as np
from sklearn.base import _fit_context
from sklearn.linear_model import LogisticRegression
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.extmath import softmax

from .._base import BaseHyperGrad, ClassWeightMixin
from .._decision_scores import decision_metrics
from .._scoring import (FoldScorer, FoldView, POLISH_EVALS, ScoredCriterion, check_search_scoring,
                        polish, scan_entry, unfitted_template)
from .._search_space import LOG_LOSS
from .._tune import _with_tol
from .._validation import check_bounds
from ..criteria import HeldOut
from ..models import InnerModel
from ..penalties import (logistic_lam_from_sklearn, logistic_sklearn_from_lam,
                         logistic_weight_from_C)
from ._common import _BOUNDS, LinearClassifierMixin, _doc


@_doc
class LogisticRegressionHyperGrad(ClassWeightMixin, LinearClassifierMixin,
                                  BaseHyperGrad):
    r"""Logistic regression whose ``C`` (and ``l1_ratio``) are tuned.

    Binary problems use the logistic loss, more classes the multinomial one.
    The inner problem is scikit-learn's
    :class:`~sklearn.linear_model.LogisticRegression` objective

    .. math::

        C\sum_i \ell(y_i, x_i^T W + b) + \rho\|W\|_1 + \frac{1-\rho}{2}\|W\|^2,

    searched as ``lam = [rho, 1 - rho] / (C n)`` in log-space (``[1 / (C n)]`` for
    ``penalty="l1"``, :math:`\rho = 1`, and for ``penalty="l2"``, :math:`\rho = 0`,
    scikit-learn's default); the criterion is the held-out log-loss, or the Brier
    score (``scoring="neg_brier_score"``, summed over the classes for three or more).
    With the L2 penalty the inner problem is smooth and strongly convex: the implicit
    function theorem applies directly.

    Parameters
    ----------
    penalty : {"l1", "l2", "elasticnet"}, default="l1"
        Which hyperparameters are tuned: ``C`` alone (of the L1 or the L2
        penalty), or ``C`` and ``l1_ratio``.
    scoring : str or callable, default=None
        How the points of the search are scored and the best one chosen, as
        ``LogisticRegressionCV``'s ``scoring`` (a scorer name or a callable
        ``scorer(estimator, X, y)``, greater is better). The search descends the
        held-out log-loss (the Brier score with ``"neg_brier_score"``: that scorer
        exactly) and scores every evaluated point with the
        scorer on every fold, from the fold's model there (a
        :class:`~sklearn.linear_model.LogisticRegression` with that model's
        ``coef_``, ``intercept_`` and ``classes_``, no extra fit; entries ``scores``
        and ``score`` of ``history_``); the best point is refined by the scorer itself
        (a compass search of at most 6 value-only evaluations per parameter) and the
        chosen point is the one with the best mean score, ``best_score_``. None (the
        default) is the log-loss, which the search minimizes, not
        ``LogisticRegressionCV``'s accuracy.
    C_init : float, default=None
        Starting ``C`` (with ``l1_ratio_init``). When None, the descent starts
        from the best of the points ``C_min * 10^(k/2)``, ``k = 1..6``, ``C_min``
        the largest ``C`` for which all coefficients are zero (for the elastic net,
        paths of the L1 weight at four L2 weights relative to the curvature of the
        log-loss, as :class:`ElasticNetHyperGrad`; for ``"l2"``, ``1 / (C n)`` at
        ``kappa_min * 10^(-k)``, ``k = 0..4``, then, only when ``kappa_min`` is the best
        of them, ``kappa_min * 10^k``, ``k = 1..3``, until the values rise,
        ``kappa_min`` the curvature of the log-loss, with the geometric mean of the
        columns' variances where it is below their mean, see
        :mod:`skhypergrad._search_space`). With an L1
        part, a ``C_init`` at or below ``C_min`` is moved to ``10 C_min`` with a
        warning.
    l1_ratio_init : float in (0, 1), default=0.5
        Starting ``l1_ratio`` (``penalty="elasticnet"``).
    C_bounds : (float, float), default=None
        Search interval of ``C`` (for the elastic net, of ``C / l1_ratio`` and
        ``C / (1 - l1_ratio)``); when None, ``C`` in ``(0.1, 1e4) * C_min`` (for the
        elastic net, the L2 weight relative to the curvature as in
        :class:`ElasticNetHyperGrad`; for ``"l2"``, ``1 / (C n)`` from
        ``1e-4 kappa_min`` to ``1e3 kappa``).
    class_weight : dict or "balanced", default=None
        Weights of the classes in the training loss, multiplied into
        ``sample_weight``: a dict of labels to weights (1 for a label not in it), or
        ``"balanced"``, ``n_samples / (n_classes * np.bincount(y))`` (with
        ``sample_weight``, its sums per class), computed once on all of ``y`` as
        ``LogisticRegressionCV`` does; the held-out losses are not weighted by class.
    %(common)s

    Attributes
    ----------
    C_ : float
        ``C`` of the model refit on all ``n`` samples. The search holds the
        normalized weight ``alpha_ = 1 / (C n)`` fixed across folds (as
        ``ElasticNetCV`` holds ``alpha``), so a fold trained on ``n_train``
        samples used ``C_ n / n_train``; scikit-learn's ``LogisticRegressionCV``
        holds ``C`` itself fixed, and picks a ``C`` about ``K / (K - 1)`` times
        larger for the same optimum with ``K`` folds.
    l1_ratio_ : float
    alpha_ : float
        ``1 / (C_ n)``: the penalty weight of the normalized objective.
    classes_ : ndarray of shape (n_classes,)
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
    %(attrs)s

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.preprocessing import scale
    >>> from skhypergrad import LogisticRegressionHyperGrad
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> clf = LogisticRegressionHyperGrad(cv=3).fit(scale(X), y)
    >>> bool(clf.score(scale(X), y) > 0.9)
    True
    """

    _is_classifier = True
    _coef_follows_dtype = False  # LogisticRegressionCV's are float64
    _search_defaults = LOG_LOSS
    # the log-loss is flat near the optimum: a looser end accuracy is enough
    _inner_tol = (1e-5, 1e-8)
    _parameter_constraints = {
        **BaseHyperGrad._parameter_constraints,
        "penalty": [StrOptions({"l1", "l2", "elasticnet"})],
        "scoring": [None, str, callable],
        "C_init": [None, Interval(numbers.Real, 0, None, closed="neither")],
        "l1_ratio_init": [Interval(numbers.Real, 0, 1, closed="neither")],
        "C_bounds": _BOUNDS,
        "class_weight": [None, dict, StrOptions({"balanced"})],
    }

    def __init__(self, *, penalty="l1", scoring=None, cv=5, C_init=None, l1_ratio_init=0.5,
                 C_bounds=None, hypergradient="aid-cg", solver="auto", optimizer="gd",
                 max_iter=30, tol=1e-3, fit_intercept=True, n_jobs=None, random_state=None,
                 verbose=0, callback=None, class_weight=None):
        self.class_weight = class_weight
        self.penalty = penalty
        self.scoring = scoring
        self.cv = cv
        self.C_init = C_init
        self.l1_ratio_init = l1_ratio_init
        self.C_bounds = C_bounds
        self.hypergradient = hypergradient
        self.solver = solver
        self.optimizer = optimizer
        self.max_iter = max_iter
        self.tol = tol
        self.fit_intercept = fit_intercept
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose
        self.callback = callback

    def _inner_model(self, y):
        n_classes = np.unique(y).shape[0]
        datafit = "logistic" if n_classes <= 2 else "multinomial"
        return InnerModel(datafit, self.penalty, self.fit_intercept)

    def _set_solution(self, pgmap, model, w, dtype):
        super()._set_solution(pgmap, model, w, dtype)
        if self.intercept_.shape[0] > 1:
            # the softmax is unchanged by a shift common to the unpenalized intercepts:
            # the one of mean 0 is reported, whatever the solver's path
            self.intercept_ -= self.intercept_.mean()

    def _rho(self):
        return {"l1": 1.0, "l2": 0.0}.get(self.penalty, self.l1_ratio_init)

    def _initial_lam(self, scales, n_samples):
        if self.C_init is None:
            return None
        lam = logistic_lam_from_sklearn(self.C_init, self._rho(), n_samples)
        # the penalty's own weights: [lam1], [lam2] or [lam1, lam2]
        return scales.penalty.lam_from_weights(lam[0], lam[1], scales.n_features)

    def _bounds(self, scales, n_samples):
        if self.C_bounds is None:
            return scales.bounds(self._search_defaults)
        C_lo, C_hi = check_bounds(self.C_bounds, "C_bounds")
        lo, hi = logistic_weight_from_C(C_hi, n_samples), logistic_weight_from_C(C_lo, n_samples)
        return (scales.penalty.lam_from_weights(lo, lo, scales.n_features),
                scales.penalty.lam_from_weights(hi, hi, scales.n_features))

    def _hyper_names(self, lam, n_samples):
        C, l1_ratio = logistic_sklearn_from_lam(lam, n_samples)
        if self.penalty == "l2":
            l1_ratio = 0.0
        return {"C": C, "l1_ratio": l1_ratio, "alpha": float(np.sum(lam))}

    def _scoring(self, n_classes):
        """The :class:`~skhypergrad._scoring.SearchScoring` of ``scoring`` (None: the
        log-loss the search minimizes) for ``n_classes`` classes."""
        final = LogisticRegression(fit_intercept=self.fit_intercept)
        return check_search_scoring("neg_log_loss" if self.scoring is None else self.scoring,
                                    True, "log", final, n_classes)

    def _search(self, search, model, X, y, groups, lam0, bounds, candidates, weights=None):
        """The search of :class:`BaseHyperGrad` on the held-out loss ``scoring`` follows
        (see the class docstring); with a scorer that is not that loss, every point is
        also scored (entries ``scores``, per fold, and ``score``, their mean, of the
        history), its starting scan following the scorer too, the best point refined by
        the scorer itself (a few value-only
        evaluations, entries ``polish=True``), and the result is the point with the
        best mean score."""
        plan = self._scoring(len(model.classes))
        criterion, X_train, y_train = self._criterion(X, y, groups, weights)
        criterion.loss = plan.loss
        if not plan.rescore:
            return search(model, X_train, y_train, criterion, lam0, bounds=bounds,
                          candidates=candidates)
        template = unfitted_template(LogisticRegression(fit_intercept=self.fit_intercept),
                                     model.classes, X.shape[1],
                                     model.get_datafit().n_outputs)
        views = partial(_fold_views, criterion, template, model.fit_intercept)
        scorer = FoldScorer(plan.scorers, np.nan, decision_metrics(plan.names, "classes"))
        scored = ScoredCriterion(criterion, scorer, views)
        t0 = time.perf_counter()
        # through the surrogate, the scan follows the scorer too (scan_rank of tune)
        result = search(model, X_train, y_train, scored, lam0, bounds=bounds,
                        candidates=candidates,
                        scan_rank=None if plan.exact else _negated_score)
        n_folds = len(result.history[0]["values"]) // 2
        history = list(result.history)
        if not plan.exact:  # refined by the scorer itself (see skhypergrad._scoring.polish)
            solver = _with_tol(search.keywords["solver"], search.keywords["inner_tol"][1])
            last = [result.state]

            def evaluate(lam):
                entry, last[0] = scan_entry(scored, model, X_train, y_train, lam, solver,
                                            last[0], t0)
                return entry

            polish(evaluate, history, lambda h: np.mean(h["values"][n_folds:]), bounds,
                   POLISH_EVALS * len(bounds[0]))
        for h in history:
            h["scores"] = h["values"][n_folds:]
            h["values"] = h["values"][:n_folds]
            h["score"] = float(np.mean(h["scores"]))
        scores = np.array([h["score"] for h in history])
        best = history[int(np.argmax(np.where(np.isnan(scores), -np.inf, scores)))]
        return result._replace(lam=best["lam"], value=best["value"], history=history,
                               n_evals=len(history))

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, groups=None):
        """Tune ``C`` (and ``l1_ratio``) on ``(X, y)``, then refit on all of it.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Class labels (any two or more classes).
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample weights (None: all 1): each sample's loss is multiplied by its
            weight (and by its class's weight, ``class_weight``), as in scikit-learn's
            ``LogisticRegression``, whose ``C`` multiplies the weighted *sum* of the
            losses; the held-out losses are weighted means (the class weights
            left out, as ``LogisticRegressionCV`` scores).
        groups : array-like of shape (n_samples,), default=None
            Group labels of the samples, for a group splitter as ``cv``
            (e.g. :class:`~sklearn.model_selection.StratifiedGroupKFold`).

        Returns
        -------
        self
        """
        self._fit(X, y, groups, sample_weight)
        if self._scoring(len(self.classes_)).rescore:
            self.best_score_ = max((h["score"] for h in self.history_),
                                   key=lambda s: -np.inf if np.isnan(s) else s)
        return self

    def decision_function(self, X):
        """Linear scores: shape (n_samples,) for two classes, (n_samples, n_classes) otherwise.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray
        """
        scores = self._decision(X)
        return scores.ravel() if scores.shape[1] == 1 else scores

    def predict_proba(self, X):
        """Class probabilities (sigmoid for two classes, softmax otherwise).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        scores = self.decision_function(X)
        if scores.ndim == 1:
            p1 = 1.0 / (1.0 + np.exp(-scores))
            return np.column_stack([1.0 - p1, p1])
        return softmax(scores, copy=False)

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        return np.log(self.predict_proba(X))


def _fold_views(criterion, template, fit_intercept, X, y):
    """The :class:`~skhypergrad._scoring.FoldView` of each inner problem of ``criterion``
    (the held-out rows of a ``HeldOut`` or of each split of a ``CrossVal`` whose ``cv``
    is a list of splits), trained on ``(X, y)``; the scorers are given the held-out
    rows' ``sample_weight`` (the criterion's weights of its held-out losses)."""
    if isinstance(criterion, HeldOut):
        rows = [(criterion.X_val, np.asarray(criterion.y_val), criterion.sample_weight_val)]
    else:
        weights = criterion.score_sample_weight
        rows = [(X[test], y[test], None if weights is None else weights[test])
                for _, test in criterion.cv]
    return [FoldView(template, None, None, X_test, y_test, fit_intercept, None,
                     None if w is None else {"sample_weight": w})
            for X_test, y_test, w in rows]


def _negated_score(entry):
    """Minus the mean score of a :class:`~skhypergrad._scoring.ScoredCriterion` entry of
    one scorer (its ``values``: the folds' losses, then their scores)."""
    values = np.asarray(entry["values"])
    return -float(np.mean(values[len(values) // 2:]))
