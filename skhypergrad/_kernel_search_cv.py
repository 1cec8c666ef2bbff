r"""``HyperGradSearchCV`` for scikit-learn's dual models (``KernelRidge``, ``SVC``, ``SVR``,
``LinearSVR``).

Each supported estimator class has a :class:`KernelAdapter` stating what is searched
(``alpha`` / ``C`` / ``epsilon`` and ``gamma``), in which order the criterion reads
them as ``lam``, how the search runs (:mod:`skhypergrad.kernel_ridge`,
:mod:`skhypergrad.svc`, :mod:`skhypergrad.svr`, :mod:`skhypergrad.linear_svr`), a
fold's loss and its model at an evaluated point (for the scorers), and whether the
model takes sample weights. :func:`fit_kernel_search` reads ``scoring`` and ``refit``
(:mod:`skhypergrad._kernel_scoring`), runs the search on the folds of the splitter,
fills the attributes of the search in ``GridSearchCV``'s format and refits the user's
estimator at the best point.
"""

import copy
import functools
from typing import Callable, NamedTuple

import numpy as np
import scipy.sparse as sp
from sklearn.base import clone

from ._kernel_scoring import (DualRegressor, KernelFoldView, OneVsOneClassifier,
                              ScoredKernelCriterion)
from ._kernel_search import best_entry, kernel_folds
from ._progress import Progress
from ._routing import route_fit_params
from ._search_results import SearchRun, param_columns
from ._validation import check_one_output, cv_splits
from ._scoring import (FoldScorer, FoldTransform, check_error_score, check_search_scoring,
                       routing_scorer)
from .kernels import KernelSpec

__all__ = ["KernelAdapter", "kernel_adapter", "fit_kernel_search", "dense_only"]


class KernelAdapter(NamedTuple):
    """How ``HyperGradSearchCV`` searches one scikit-learn dual-model estimator class.

    Attributes
    ----------
    names : callable
        ``spec -> tuple`` of the estimator's parameter names, in the order of ``lam``.
    classifier : bool
    spec : callable
        ``final -> KernelSpec`` (ValueError for what is not supported).
    search : callable
        ``(final, spec, folds, classes, search, criterion, box, callback) -> (history,
        n_iter)``; ``classes`` are the labels of a classifier's class indices (the
        folds' targets; None for a regressor), ``criterion`` wraps the model's
        criterion into what is searched, ``box`` is the user's bounds on ``lam`` or None,
        ``callback`` is called with each history entry and stops the search by returning
        True (see
        :func:`~skhypergrad._kernel_search.kernel_search`).
    fold_loss : callable
        ``(criterion, k, lam, gradient) -> (loss, grad, own_score)`` of fold ``k`` (``grad``
        may be None without ``gradient``).
    model : callable
        ``(final, spec, criterion, k, fold, classes, lam) -> estimator``: fold ``k``'s
        model at ``lam``, the point last evaluated, as the scorers see it.
    weights : bool
        Whether the model's training loss takes sample weights.
    positive : bool
        Whether they must be positive (a zero bound ``C w_i`` is refused by the SVR
        solvers; the SVC drops those rows, kernel ridge weighs them 0).
    smooth : bool
        Whether the descended loss is the mean squared error (else a surrogate: the
        refit scorer only ranks the points).
    gram : callable
        ``final -> (X_a, X_b) -> K`` for a kernel without a width that the search takes
        as fixed matrices, computed as ``final`` computes them (a callable kernel; for
        ``KernelRidge`` also "cosine" and "additive_chi2"), its spec then "precomputed";
        ``final -> None`` otherwise.
    kernels : bool
        Whether the search stores ``n x n`` kernel matrices (``LinearSVR``'s does not).
    """

    names: Callable
    classifier: bool
    spec: Callable
    search: Callable
    fold_loss: Callable
    model: Callable
    weights: bool
    positive: bool
    smooth: bool
    gram: Callable = lambda final: None
    kernels: bool = True


def dense_only(final, adapter):
    """Why ``final`` (of :class:`KernelAdapter` ``adapter``) is not searched on a sparse
    ``X``."""
    return (f"{type(final).__name__} is searched on dense data only: the dual solvers keep "
            "dense rows; convert X with X.toarray()"
            + ("." if not adapter.kernels else
               " (the kernel of n samples takes 8 n^2 bytes whatever the density of X)."))


def _named_spec(final):
    if callable(final.kernel):  # fixed matrices (_libsvm_gram)
        return KernelSpec("precomputed")
    return KernelSpec(final.kernel, float(final.degree), float(final.coef0)).check()


def _libsvm_gram(final):
    """``SVC`` / ``SVR``'s callable kernel, which libsvm calls as ``kernel(X_a, X_b)``."""
    return final.kernel if callable(final.kernel) else None


#: KernelRidge's kernels without a width that are not in :data:`~skhypergrad.kernels.KERNELS`
#: (searched as fixed matrices), and its other names of kernels that are
_KRR_FIXED = ("cosine", "additive_chi2")
_KRR_ALIASES = {"polynomial": "poly"}


def _krr_spec(final):
    if callable(final.kernel) or final.kernel in _KRR_FIXED:  # fixed matrices (_krr_gram)
        return KernelSpec("precomputed")
    kernel = _KRR_ALIASES.get(final.kernel, final.kernel)
    return KernelSpec(kernel, float(final.degree), float(final.coef0)).check()


def _krr_gram(final):
    """``KernelRidge``'s kernel as it computes it (``pairwise_kernels`` with
    ``kernel_params`` for a callable), for the kernels of :func:`_krr_spec` without a
    width."""
    from sklearn.metrics.pairwise import pairwise_kernels

    if not (callable(final.kernel) or final.kernel in _KRR_FIXED):
        return None
    params = (final.kernel_params or {}) if callable(final.kernel) else {}
    return functools.partial(pairwise_kernels, metric=final.kernel, filter_params=True,
                             **params)


def _linear_svr_spec(final):
    from .linear_svr import LOSSES

    if final.loss not in LOSSES:
        raise ValueError(f"LinearSVR(loss={final.loss!r}) is not supported; loss must be "
                         f"one of {sorted(LOSSES)}.")
    if final.dual is False and final.loss == "epsilon_insensitive":  # liblinear's refusal
        raise ValueError("LinearSVR(loss='epsilon_insensitive') is solved in the dual only: "
                         "use dual=True or dual='auto'.")
    return KernelSpec("linear")


def _gamma(spec, lam):
    return float(lam[-1]) if spec.has_gamma else 0.0


# -- searches ----------------------------------------------------------------------------
def _krr_search(final, spec, folds, classes, search, criterion, box, callback):
    from .kernel_ridge import search_kernel_ridge

    return search_kernel_ridge(spec, folds, _engine(search.hypergradient),
                               _optimizer(search.optimizer), search.max_iter, search.tol,
                               callback=callback, criterion=criterion, box=box)


def _svc_search(final, spec, folds, classes, search, criterion, box, callback):
    from .svc import search_svc, training_weights

    n_classes = classes.shape[0]
    # the bounds C w_i: the sample weights times the class weights of each training fold
    weights = [training_weights(f.y_train, f.w_train, final.class_weight, classes)
               for f in folds]
    test_weights = [f.w_test for f in folds]
    return search_svc(spec, folds, n_classes, _engine(search.hypergradient, "kkt"),
                      _optimizer(search.optimizer), search.max_iter, search.tol,
                      weights=None if weights[0] is None else weights,
                      test_weights=None if test_weights[0] is None else test_weights,
                      callback=callback, criterion=criterion, box=box)


def _svr_search(final, spec, folds, classes, search, criterion, box, callback):
    from .svr import search_svr

    return search_svr(spec, folds, _engine(search.hypergradient, "kkt"),
                      _optimizer(search.optimizer), search.max_iter, search.tol,
                      callback=callback, criterion=criterion, box=box)


def _linear_svr_search(final, spec, folds, classes, search, criterion, box, callback):
    from .linear_svr import LOSSES, search_linear_svr

    if search.hypergradient != "aid-cg":
        raise ValueError(f"hypergradient={search.hypergradient!r} is not available for "
                         "LinearSVR: its hypergradient is the exact KKT one "
                         "(hypergradient='aid-cg', the default).")
    return search_linear_svr(folds, LOSSES[final.loss],
                             final.intercept_scaling if final.fit_intercept else None,
                             _optimizer(search.optimizer), search.max_iter, search.tol,
                             callback=callback, criterion=criterion, box=box)


def _engine(hypergradient, fast="eig"):
    """The search's ``hypergradient``: its default "aid-cg" is the model's exact fast path
    (``fast``)."""
    return fast if hypergradient == "aid-cg" else hypergradient


def _optimizer(optimizer):
    """The search's ``optimizer``: its default "gd" is L-BFGS-B for the kernel models, whose
    criteria are exact and whose valleys (``alpha`` against ``gamma``) are narrow."""
    return "lbfgs" if optimizer == "gd" else optimizer


# -- a fold's loss and model -----------------------------------------------------------
def _regression_loss(criterion, k, lam, gradient=True):
    """A fold's loss, its gradient (None without ``gradient``) and score (the negated
    loss)."""
    loss, grad = criterion.fold(k, lam, gradient)
    return loss, grad, -loss


def _svc_loss(criterion, k, lam, gradient=True):
    return criterion.fold(k, lam, gradient)


def _krr_model(final, spec, criterion, k, fold, classes, lam):
    params = {"alpha": float(lam[0])}
    if spec.has_gamma:
        params["gamma"] = float(lam[1])
    if spec.kernel == "precomputed":  # the folds hold kernel matrices (also _krr_gram's)
        params["kernel"] = "precomputed"
    est = clone(final).set_params(**params)
    est.dual_coef_ = criterion.solution(k, lam)
    est.X_fit_ = fold.X_train
    est.n_features_in_ = fold.X_train.shape[1]
    return est


def _svr_model(final, spec, criterion, k, fold, classes, lam):
    f = criterion.folds[k]
    return DualRegressor(spec, _gamma(spec, lam), fold.X_train, f.beta, f.b)


def _linear_svr_model(final, spec, criterion, k, fold, classes, lam):
    coef = criterion.folds[k].coef
    p = fold.X_train.shape[1]
    est = copy.copy(final)
    est.coef_ = coef[:p].copy()
    est.intercept_ = np.array([final.intercept_scaling * coef[p]
                               if final.fit_intercept else 0.0])
    est.n_features_in_ = p
    return est


def _svc_model(final, spec, criterion, k, fold, classes, lam):
    """The fold's SVC at ``lam``: from the criterion's solutions, or, with
    ``probability=True`` (Platt's scaling, from libsvm's internal cross-validation, which
    ``predict_proba`` reads), ``final`` itself fitted on the fold, as ``GridSearchCV``
    fits it."""
    if final.probability is True:
        params = {"C": float(lam[0])}
        if spec.has_gamma:
            params["gamma"] = float(lam[1])
        if spec.kernel == "precomputed":  # the folds hold kernel matrices
            params["kernel"] = "precomputed"
        return clone(final).set_params(**params).fit(fold.X_train, classes[fold.y_train],
                                                     sample_weight=fold.w_train)
    pairs = [(pq, pair.train, pair.a * pair.y, pair.rho)
             for pq, pair in criterion.folds[k].pairs]
    return OneVsOneClassifier(spec, _gamma(spec, lam), fold.X_train, classes, pairs)


def _adapters():
    from sklearn.kernel_ridge import KernelRidge
    from sklearn.svm import SVC, SVR, LinearSVR

    return {
        KernelRidge: KernelAdapter(
            names=lambda spec: ("alpha", "gamma") if spec.has_gamma else ("alpha",),
            classifier=False, spec=_krr_spec, search=_krr_search,
            fold_loss=_regression_loss, model=_krr_model, weights=True, positive=False,
            smooth=True, gram=_krr_gram),
        SVC: KernelAdapter(
            names=lambda spec: ("C", "gamma") if spec.has_gamma else ("C",),
            classifier=True, spec=_named_spec, search=_svc_search, fold_loss=_svc_loss,
            model=_svc_model, weights=True, positive=False, smooth=False, gram=_libsvm_gram),
        SVR: KernelAdapter(
            names=lambda spec: ("C", "epsilon", "gamma") if spec.has_gamma
            else ("C", "epsilon"),
            classifier=False, spec=_named_spec, search=_svr_search,
            fold_loss=_regression_loss, model=_svr_model, weights=True, positive=True,
            smooth=True, gram=_libsvm_gram),
        LinearSVR: KernelAdapter(
            names=lambda spec: ("C", "epsilon"), classifier=False, spec=_linear_svr_spec,
            search=_linear_svr_search, fold_loss=_regression_loss, model=_linear_svr_model,
            weights=True, positive=True, smooth=True, kernels=False)}


def kernel_adapter(final):
    """The :class:`KernelAdapter` of the estimator ``final``, or None if it is not a
    supported dual model."""
    return _adapters().get(type(final))


# -- scoring -------------------------------------------------------------------------------
def _plan(search, final, adapter):
    """The :class:`~skhypergrad._scoring.SearchScoring` of the search: the regressors'
    as the linear least-squares models'; the SVC's descends its surrogate, and its own
    score (``scoring`` None or "accuracy") is the accuracy of its criterion."""
    plan = check_search_scoring(search.scoring, search.refit, "squared", final)
    if adapter.smooth:
        return plan
    own = not plan.multimetric and search.scoring in (None, "accuracy")
    return plan._replace(loss="auto", transform="identity", exact=False, rescore=not own)


def _weight_params(weights, rows):
    return None if weights is None else {"sample_weight": weights[rows]}


def fit_kernel_search(search, final, preprocessing, prefix, X, y, groups, params, cv=None,
                      box=None):
    """Run ``search`` (a ``HyperGradSearchCV``) on a dual model; see the module docstring.

    Parameters
    ----------
    search : HyperGradSearchCV
    final : estimator
        The final step (a supported model).
    preprocessing : Pipeline or None
        The steps before it, fitted on each training fold.
    prefix : str
        ``"step__"`` for a pipeline.
    X, y, groups
        As given to ``fit`` (``X`` dense).
    params : dict
        The fit parameters (routed as ``GridSearchCV`` routes them: ``sample_weight``).
    cv : splitter or iterable, default=None
        The splits (``search.cv`` when None).
    box : dict, default=None
        ``{name: (low, high)}`` of every searched parameter (``param_grid``, see
        :mod:`skhypergrad._param_grid`; equal bounds fix a parameter, a width
        ``"scale"`` or ``"auto"`` then being the mean of the folds'); None: the
        search's own bounds, in units of the data.

    Returns
    -------
    SearchRun
    """
    from sklearn.utils.validation import check_array, column_or_1d

    from ._search_results import store as _store

    adapter = kernel_adapter(final)
    name = type(final).__name__
    # the estimator's parameters as its own fit checks them (e.g. SVC(kernel="laplacian")),
    # before the search rather than at the refit
    clone(final)._validate_params()
    if sp.issparse(X):
        raise TypeError(dense_only(final, adapter))
    error_score = check_error_score(search.error_score)
    plan = _plan(search, final, adapter)
    spec = adapter.spec(final)
    gram = adapter.gram(final)
    if preprocessing is not None and spec.kernel == "precomputed" and gram is None:
        raise ValueError("A precomputed kernel cannot follow preprocessing steps.")
    X_refit = X  # the user's (feature names, a DataFrame's columns), refit as given
    if preprocessing is None:
        X = check_array(X, dtype=np.float64, input_name="X")
    check_one_output(y)
    y = np.asarray(y) if adapter.classifier else \
        column_or_1d(y, warn=True).astype(np.float64)
    fit_params = route_fit_params(search, routing_scorer(search.scoring, final), X, groups,
                                  params)
    sw = None if fit_params.sample_weight is None else \
        np.asarray(fit_params.sample_weight, dtype=np.float64)
    vw, rw = (None if w is None else np.asarray(w, dtype=np.float64)
              for w in (fit_params.score_weight, fit_params.scorer_weight))
    if sw is not None and not adapter.weights:
        raise ValueError(f"HyperGradSearchCV({name}()) does not take sample weights yet.")
    if sw is not None and adapter.positive and np.any(sw <= 0):
        raise ValueError(f"HyperGradSearchCV({name}()) needs positive sample weights (a "
                         "weight of 0 fixes a dual coefficient at 0: drop those rows).")
    classes, codes = (np.unique(y, return_inverse=True) if adapter.classifier
                      else (None, y))
    splits = cv_splits(search.cv if cv is None else cv, X, y, fit_params.groups,
                       classifier=adapter.classifier)
    search.n_splits_ = len(splits)
    folds = kernel_folds(X, codes, splits,
                         precomputed=spec.kernel == "precomputed" and gram is None,
                         preprocessing=preprocessing, sample_weight=sw, score_weight=vw,
                         gram=gram)
    train = bool(search.return_train_score)
    rescore = plan.rescore or train or (rw is not None and not adapter.smooth)
    transform = None if plan.transform == "identity" else \
        FoldTransform(plan.transform, [f.y_test for f in folds], None,
                      [f.w_test for f in folds])
    rank = list(plan.scorers).index(plan.refit_key) \
        if rescore and plan.refit_key is not None else None

    def scored(criterion):
        views = None
        if rescore:
            labels = (lambda c: classes[c]) if adapter.classifier else (lambda c: c)
            views = [KernelFoldView(
                functools.partial(adapter.model, final, spec, criterion, k, fold, classes),
                fold.X_train, labels(fold.y_train), fold.X_test, labels(fold.y_test),
                _weight_params(rw, test), _weight_params(rw, tr))
                for k, (fold, (tr, test)) in enumerate(zip(folds, splits))]
        return ScoredKernelCriterion(
            functools.partial(adapter.fold_loss, criterion), len(folds), transform,
            FoldScorer(plan.scorers, error_score, weighted=fit_params.weighted)
            if rescore else None, views, train, rank)

    names = adapter.names(spec)
    if box is not None:
        box = _lam_box(box, [prefix + n for n in names], folds, spec)

    def named_params(lam):
        return {prefix + n: float(v) for n, v in zip(names, lam)}

    progress = Progress(search.verbose, type(search).__name__, named_params)
    progress.start(search.n_splits_, "CV loss (mean_test_loss)",
                   [name if name != "score" else "the estimator's score"
                    if search.scoring is None else "the scorer" for name in plan.scorers])
    history, n_iter = adapter.search(final, spec, folds, classes, search, scored, box,
                                     _entry_callback(search.callback, progress, named_params))
    params = [named_params(h["lam"]) for h in history]
    results = _results(history, params, plan, search.n_splits_, rescore, train, _store)
    best = None if rescore else best_entry(history)
    if best is not None:
        progress.done(len(history), history[best]["lam"], history[best]["value"])
    return SearchRun(results, n_iter, plan.multimetric,
                     plan.scorers if plan.multimetric else plan.scorers["score"],
                     "score" if not plan.multimetric else plan.refit_key, X_refit, y,
                     fit_params.estimator, best=best,
                     chosen=None if best is not None else
                     lambda i, key, score: progress.chosen(history[i]["lam"], key, score))


def _entry_callback(callback, progress, named_params):
    """The kernel search's callback: prints the entry (``progress``: a scan point at
    ``verbose >= 2``, a descent or refinement point at ``verbose >= 1``), then calls the
    user's ``callback`` with the entry and its ``params`` (the estimator's names); its
    True stops the search. None when there is nothing to do."""
    if callback is None and progress.verbose < 1:
        return None
    seen = [0]

    def on_entry(entry):
        seen[0] += 1
        if entry["phase"] == "scan":
            progress.scan_point(seen[0], None, entry["lam"], entry["value"])
        else:
            progress.step(seen[0], entry["lam"], entry["value"])
        return callback is not None and bool(
            callback({**entry, "params": named_params(entry["lam"])}))
    return on_entry


def _lam_box(box, names, folds, spec):
    """``box`` (``{name: (low, high)}``) as bounds on ``lam`` (in the order of ``names``);
    a fixed width named by scikit-learn (``"scale"``, ``"auto"`` or None) is the mean
    of the training folds' widths."""
    from .kernel_ridge import default_gamma

    def number(name, value):
        if not isinstance(value, str) and value is not None:
            return float(value)
        if not name.endswith("gamma") or value not in ("scale", "auto", None):
            raise ValueError(f"{name}={value!r} cannot be searched.")
        return float(np.mean([default_gamma(f.X_train) if value == "scale"
                              else 1.0 / f.X_train.shape[1] for f in folds]))
    lo = np.array([number(n, box[n][0]) for n in names])
    hi = np.array([number(n, box[n][1]) for n in names])
    return lo, hi


def _results(history, params, plan, n_splits, rescore, train, store):
    """``cv_results_`` in ``GridSearchCV``'s format (scores: each fold's, by every scorer;
    or the criterion's own), with the criterion's mean held-out loss
    (``mean_test_loss``) and the phase of the search (``phase``: "scan", "descent" or
    "polish") of each point."""
    n_rows = len(history)
    seconds = np.diff([0.0] + [h["seconds"] for h in history])
    results = {}
    store(results, "fit_time", np.repeat(seconds[:, None] / n_splits, n_splits, axis=1))
    store(results, "score_time", np.zeros((n_rows, n_splits)))
    results.update(param_columns(params))
    results["params"] = params
    if rescore:
        values = np.array([h["values"] for h in history], dtype=np.float64)
        for m, name in enumerate(plan.scorers):
            store(results, "test_" + name, values[:, :, 0, m], splits=True, rank=True)
            if train:
                store(results, "train_" + name, values[:, :, -1, m], splits=True)
    else:
        store(results, "test_score", np.array([h["scores"] for h in history],
                                              dtype=np.float64), splits=True, rank=True)
    results["mean_test_loss"] = np.array([h["value"] for h in history])
    results["phase"] = np.array([h["phase"] for h in history])
    return results
