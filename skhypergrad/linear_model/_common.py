"""Shared parts of the linear estimators: the common parameters' documentation and
the least-squares regressor base."""

import numbers

from sklearn.base import ClassifierMixin, RegressorMixin, _fit_context
from sklearn.utils._param_validation import Interval

from .._base import BaseHyperGrad
from .._validation import check_bounds
from ..models import InnerModel


_BOUNDS = [None, tuple, list]


_COMMON_DOC = """
    cv : int, cross-validation generator, iterable or float, default=5
        Folds of the cross-validation loss minimized (an int gives ``KFold``, or
        ``StratifiedKFold`` for the classifier), or, as a float in (0, 1), the
        fraction of the data held out for a single validation set.
    hypergradient : {"aid-cg", "aid-fp", "itd", "itd-reverse", "nsid"} or engine, default="aid-cg"
        How the gradient of the criterion is computed (see :mod:`skhypergrad.hypergrad`).
        Every engine runs to the search's tolerance (that of the inner solves,
        1e-6 down to 1e-10) or raises a ``ConvergenceWarning``; ``"itd"`` and
        ``"aid-fp"`` take about ``log(tol) / log(q)`` iterations, ``q`` the
        contraction factor, many on ill-conditioned problems. For large
        ``n_samples``, ``"nsid"`` or an instance such as
        ``NSID(batch_size=256, tol=0.05)`` estimates it from minibatches, to a
        predicted relative error of its own ``tol`` (default 0.1), and
        ``solver="auto"`` then solves the inner problems by minibatch SAGA (to a
        relative gap of at most 1e-6).
    solver : {"auto", "cd", "fista", "saga"} or solver instance, default="auto"
        Inner solver: coordinate descent with working sets ("cd", the default;
        proximal Newton for the logistic losses), FISTA, or minibatch SAGA.
    optimizer : {"gd", "adam", "lbfgs"} or optimizer instance, default="gd"
        Outer optimizer on the log-hyperparameters (:mod:`skhypergrad.optimizers`).
    max_iter : int, default=30
        Outer steps. A search that reaches ``max_iter`` before its stopping rule
        (``tol``) warns (``ConvergenceWarning``, with its last relative decrease).
    tol : float, default=1e-3
        Stop when the criterion improved by less than ``tol`` (relative) over
        three outer steps.
    fit_intercept : bool, default=True
    n_jobs : int, default=None
        Folds solved in parallel with joblib (any backend, see
        ``joblib.parallel_config``). Under joblib's default (process) backend, the
        folds run serially where the workers are not expected to pay (see
        :class:`~skhypergrad.CrossVal`'s ``n_jobs``): while the estimated work of an
        evaluation, the stored entries of the folds' training rows of ``X`` in all, is
        below ``10^8`` (e.g. 25,000 x 1,000 dense, 5 folds); and for least
        squares on dense ``X`` with one output and at most 2,048 features, fewer than
        the rows, whatever its size (solved on the folds' Gram matrices, formed once
        in the calling process while it keeps the folds' copies of ``X``, up to 512
        MiB).
    random_state : int, RandomState instance or None, default=None
        Held-out split (float ``cv``) and stochastic solvers / engines.
    verbose : int, default=0
        Progress lines with the hyperparameters' names and the elapsed time: the
        start of the starting scan, its best point, every descent step and the
        result (1), and every point of the scan (2 and more).
    callback : callable, default=None
        Called after every criterion evaluation with its history entry (a dict);
        returning True stops the search (the best point so far is kept).
"""


_COMMON_ATTRS = """
    intercept_ : float or ndarray
    n_iter_ : int
        Outer iterations run (at least 1 once the descent started).
    n_evals_ : int
        Criterion evaluations (each solves the inner problem once per fold).
    best_loss_ : float
        Criterion at the chosen hyperparameters: the mean held-out loss over the
        folds (lower is better), the smallest value of ``history_``.
    best_score_ : float
        ``-best_loss_``: greater is better, as scikit-learn's searches'
        ``best_score_``.
    history_ : list of dict
        One entry per criterion evaluation (every fold): hyperparameters (``lam``
        and the scikit-learn names), ``value`` (the loss), ``grad`` (in
        ``log lam``; None for the points of the starting scan), ``values`` (per
        fold), ``n_iter_inner``, ``n_iter_engine``, ``engine_residual`` (the
        largest residual of the engine over the folds, nan without a gradient),
        ``tol``, ``seconds``, ``best``.
    lam_ : ndarray
        Chosen penalty weights of the normalized objective (see :mod:`skhypergrad.penalties`).
    lam_bounds_ : (ndarray, ndarray)
        The bounds of ``lam_`` searched.
    at_bound_ : ndarray of int8 of the shape of ``lam_``
        -1 where ``lam_`` ended on its lower bound, +1 on its upper bound, 0
        inside: a weight on a bound was not chosen freely by the search (e.g. an L2
        weight on its lower bound means "no L2 term": widen the bounds to look
        further).
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Defined when ``X`` has feature names that are all strings.
"""


def _first(pair):
    """The first of a pair, None for None."""
    return None if pair is None else pair[0]


def _doc(cls):
    cls.__doc__ = cls.__doc__.replace("    %(common)s\n", _COMMON_DOC.strip("\n") + "\n") \
        .replace("    %(attrs)s\n", _COMMON_ATTRS.strip("\n") + "\n")
    return cls


class LinearRegressorMixin(RegressorMixin):
    """Regressors predicting the linear score ``X @ coef_ + intercept_``."""

    def predict(self, X):
        """Linear prediction ``X @ coef_ + intercept_``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        return self._decision(X)


class LinearClassifierMixin(ClassifierMixin):
    """Classifiers predicting the class of the largest ``decision_function`` score."""

    def predict(self, X):
        """The class of the largest decision score (its sign for two classes); for the
        logistic model, the most probable class.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        scores = self.decision_function(X)
        idx = (scores > 0).astype(int) if scores.ndim == 1 else scores.argmax(axis=1)
        return self.classes_[idx]


class _RegressorHyperGrad(LinearRegressorMixin, BaseHyperGrad):
    """Shared parts of the least-squares models."""

    _parameter_constraints = {
        **BaseHyperGrad._parameter_constraints,
        "alpha_init": [None, Interval(numbers.Real, 0, None, closed="neither")],
        "alpha_bounds": _BOUNDS,
        "positive": ["boolean"],
    }

    def __init__(self, *, cv=5, alpha_init=None, alpha_bounds=None, positive=False,
                 hypergradient="aid-cg", solver="auto", optimizer="gd", max_iter=30, tol=1e-3,
                 fit_intercept=True, n_jobs=None, random_state=None, verbose=0, callback=None):
        self.cv = cv
        self.alpha_init = alpha_init
        self.alpha_bounds = alpha_bounds
        self.positive = positive
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

    _penalty = "l1"
    #: the refit's relative gap: its objective within 1e-8 of the null model's datafit of
    #: the optimum (1e-6 of the objective while the model leaves 1% of the variance of
    #: ``y``), its predictions within about 1.4e-4 of the standard deviation of ``y``
    #: (the folds' errors are many times that). Tighter costs thousands of epochs on a
    #: rank-deficient design (one-hot blocks with an intercept) at a tiny L2 weight,
    #: whose coefficients creep along the blocks' flat directions.
    _refit_tol = 1e-8

    def _inner_model(self, y):
        return InnerModel("quadratic", self._penalty, self.fit_intercept,
                          positive=self.positive)

    def _initial_lam(self, scales, n_samples):
        if self.alpha_init is None:
            return None
        return scales.penalty.lam_from_weights(self.alpha_init, 0.0, scales.n_features)

    def _bounds(self, scales, n_samples):
        if self.alpha_bounds is None:
            return scales.bounds(self._search_defaults)
        lo, hi = check_bounds(self.alpha_bounds, "alpha_bounds")
        return (scales.penalty.lam_from_weights(lo, lo, scales.n_features),
                scales.penalty.lam_from_weights(hi, hi, scales.n_features))

    def _hyper_names(self, lam, n_samples):
        return {"alpha": float(lam[0])}

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, groups=None):
        """Tune the hyperparameters on ``(X, y)``, then refit on all of it.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample weights (None: all 1), in the training datafit (rescaled to sum
            to ``n_samples``, as scikit-learn's ``ElasticNet``) and in the held-out
            losses (weighted means, as ``ElasticNetCV``'s ``mse_path_``); integer
            weights fit as the rows repeated, zero weights as the rows dropped.
        groups : array-like of shape (n_samples,), default=None
            Group labels of the samples, for a group splitter as ``cv``
            (e.g. :class:`~sklearn.model_selection.GroupKFold`).

        Returns
        -------
        self
        """
        return self._fit(X, y, groups, sample_weight)
