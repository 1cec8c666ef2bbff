r"""``HyperGradSearchCV`` for scikit-learn's kernel models (``KernelRidge``, ``SVC``, ``SVR``).

Each supported estimator class has a :class:`KernelAdapter` stating what is searched
(``alpha`` / ``C`` / ``epsilon`` and ``gamma``), in which order the criterion reads
them as ``lam``, how the search runs (:mod:`skhypergrad.kernel_ridge`,
:mod:`skhypergrad.svc`, :mod:`skhypergrad.svr`) and which score ranks the evaluated points.
:func:`fit_kernel_search` runs the search on the folds of the splitter, fills the
attributes of the search in ``GridSearchCV``'s format and refits the user's estimator
at the best point.
"""

import time
from typing import Any, Callable, NamedTuple

import numpy as np
import scipy.sparse as sp
from scipy.stats import rankdata
from sklearn.base import clone
from sklearn.metrics import get_scorer
from sklearn.model_selection import check_cv

from ._kernel_search import best_entry, kernel_folds
from .kernels import KernelSpec

__all__ = ["KernelAdapter", "kernel_adapter", "fit_kernel_search"]


class KernelAdapter(NamedTuple):
    """How ``HyperGradSearchCV`` searches one scikit-learn kernel estimator class.

    Attributes
    ----------
    names : callable
        ``spec -> tuple`` of the estimator's parameter names, in the order of ``lam``.
    classifier : bool
    scoring : str
        The only scoring accepted (the one the criterion's fold scores are).
    spec : callable
        ``final -> KernelSpec``.
    search : callable
        ``(final, spec, folds, search) -> (history, n_iter)``.
    """

    names: Callable
    classifier: bool
    scoring: str
    spec: Callable
    search: Any


def _krr_spec(final):
    if callable(final.kernel):
        raise ValueError("KernelRidge with a callable kernel is not supported; use a named "
                         "kernel or kernel='precomputed'.")
    return KernelSpec(final.kernel, float(final.degree), float(final.coef0)).check()


def _krr_search(final, spec, folds, search):
    from .kernel_ridge import search_kernel_ridge

    return search_kernel_ridge(spec, folds, _engine(search.hypergradient),
                               _optimizer(search.optimizer), search.max_iter, search.tol)


def _svc_spec(final):
    if callable(final.kernel):
        raise ValueError("SVC with a callable kernel is not supported; use a named kernel "
                         "or kernel='precomputed'.")
    if final.class_weight is not None:
        raise ValueError("SVC(class_weight=...) is not supported.")
    return KernelSpec(final.kernel, float(final.degree), float(final.coef0)).check()


def _svr_spec(final):
    if callable(final.kernel):
        raise ValueError("SVR with a callable kernel is not supported; use a named kernel "
                         "or kernel='precomputed'.")
    return KernelSpec(final.kernel, float(final.degree), float(final.coef0)).check()


def _svc_search(final, spec, folds, search):
    from sklearn.preprocessing import LabelEncoder

    from .svc import search_svc

    enc = LabelEncoder().fit(np.concatenate([folds[0].y_train, folds[0].y_test]))
    coded = [f._replace(y_train=enc.transform(f.y_train), y_test=enc.transform(f.y_test))
             for f in folds]
    return search_svc(spec, coded, enc.classes_.shape[0],
                      _engine(search.hypergradient, "kkt"), _optimizer(search.optimizer),
                      search.max_iter, search.tol)


def _svr_search(final, spec, folds, search):
    from .svr import search_svr

    return search_svr(spec, folds, _engine(search.hypergradient, "kkt"),
                      _optimizer(search.optimizer), search.max_iter, search.tol)


def _engine(hypergradient, fast="eig"):
    """The search's ``hypergradient``: its default "aid-cg" is the model's exact fast path
    (``fast``)."""
    return fast if hypergradient == "aid-cg" else hypergradient


def _optimizer(optimizer):
    """The search's ``optimizer``: its default "gd" is L-BFGS-B for the kernel models, whose
    criteria are exact and whose valleys (``alpha`` against ``gamma``) are narrow."""
    return "lbfgs" if optimizer == "gd" else optimizer


def _adapters():
    from sklearn.kernel_ridge import KernelRidge
    from sklearn.svm import SVC, SVR

    return {KernelRidge: KernelAdapter(
        names=lambda spec: ("alpha", "gamma") if spec.has_gamma else ("alpha",),
        classifier=False, scoring="neg_mean_squared_error", spec=_krr_spec,
        search=_krr_search),
        SVC: KernelAdapter(
        names=lambda spec: ("C", "gamma") if spec.has_gamma else ("C",),
        classifier=True, scoring="accuracy", spec=_svc_spec, search=_svc_search),
        SVR: KernelAdapter(
        names=lambda spec: ("C", "epsilon", "gamma") if spec.has_gamma else ("C", "epsilon"),
        classifier=False, scoring="neg_mean_squared_error", spec=_svr_spec,
        search=_svr_search)}


def kernel_adapter(final):
    """The :class:`KernelAdapter` of the estimator ``final``, or None if it is not a
    supported kernel model."""
    return _adapters().get(type(final))


def _check_scoring(scoring, adapter):
    if scoring is None or scoring == adapter.scoring:
        return adapter.scoring
    raise ValueError(f"scoring={scoring!r} is not supported for this estimator: its search "
                     f"ranks the points by {adapter.scoring!r} (scoring must be None or "
                     f"{adapter.scoring!r}).")


def fit_kernel_search(search, final, preprocessing, prefix, X, y, groups):
    """Run ``search`` (a ``HyperGradSearchCV``) on a kernel model; see the module docstring.

    Parameters
    ----------
    search : HyperGradSearchCV
    final : estimator
        The final step (a supported kernel model).
    preprocessing : Pipeline or None
        The steps before it, fitted on each training fold.
    prefix : str
        ``"step__"`` for a pipeline.
    X, y, groups
        As given to ``fit`` (``X`` dense).

    Returns
    -------
    search
    """
    from sklearn.utils.validation import check_array, column_or_1d

    adapter = kernel_adapter(final)
    if sp.issparse(X):
        raise TypeError(f"{type(final).__name__} is searched on dense data only: the kernel "
                        "matrix is dense; convert X with X.toarray() (the kernel of n samples "
                        "takes 8 n^2 bytes whatever the density of X).")
    scoring = _check_scoring(search.scoring, adapter)
    spec = adapter.spec(final)
    if preprocessing is not None and spec.kernel == "precomputed":
        raise ValueError("A precomputed kernel cannot follow preprocessing steps.")
    X = check_array(X, dtype=np.float64, input_name="X")
    y = np.asarray(y) if adapter.classifier else \
        column_or_1d(y, warn=True).astype(np.float64)
    splits = list(check_cv(search.cv, y, classifier=adapter.classifier).split(X, y, groups))
    search.n_splits_ = len(splits)
    folds = kernel_folds(X, y, splits, precomputed=spec.kernel == "precomputed",
                         preprocessing=preprocessing)
    history, n_iter = adapter.search(final, spec, folds, search)
    names = adapter.names(spec)
    params = [{prefix + n: float(v) for n, v in zip(names, h["lam"])} for h in history]
    search.cv_results_ = _results(history, params, search.n_splits_)
    search.best_index_ = best_entry(history)
    search.best_params_ = params[search.best_index_]
    search.best_score_ = float(search.cv_results_["mean_test_score"][search.best_index_])
    search.n_iter_ = n_iter
    search.scorer_ = get_scorer(scoring)
    search.multimetric_ = False
    if search.refit:
        search.best_estimator_ = clone(search.estimator).set_params(**search.best_params_)
        t0 = time.perf_counter()
        search.best_estimator_.fit(X, y)
        search.refit_time_ = time.perf_counter() - t0
    return search


def _results(history, params, n_splits):
    """``cv_results_`` in ``GridSearchCV``'s format (scores: each fold's), with the
    criterion's mean held-out loss (``mean_test_loss``) and the phase of the search
    (``phase``: "scan" or "descent") of each point."""
    n_rows = len(history)
    seconds = np.diff([0.0] + [h["seconds"] for h in history])
    scores = np.array([h["scores"] for h in history], dtype=np.float64)
    results = {"mean_fit_time": seconds, "std_fit_time": np.zeros(n_rows),
               "mean_score_time": np.zeros(n_rows), "std_score_time": np.zeros(n_rows)}
    for name in params[0]:
        results["param_" + name] = np.ma.MaskedArray([p[name] for p in params],
                                                     mask=np.zeros(n_rows, dtype=bool))
    results["params"] = params
    for k in range(n_splits):
        results[f"split{k}_test_score"] = scores[:, k]
    means = scores.mean(axis=1)
    results["mean_test_score"] = means
    results["std_test_score"] = scores.std(axis=1)
    results["rank_test_score"] = rankdata(-means, method="min").astype(np.int32)
    results["mean_test_loss"] = np.array([h["value"] for h in history])
    results["phase"] = np.array([h["phase"] for h in history])
    return results
