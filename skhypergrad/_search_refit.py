"""The end of a ``HyperGradSearchCV`` fit: the best row, the refit, and the methods
delegated to the refit estimator.

:func:`finish` sets ``cv_results_`` and the ``best_*`` attributes from a search's
:class:`~skhypergrad._search_results.SearchRun` and refits a clone of the user's
estimator; :func:`delegate` makes the methods (``predict``, ``transform``...) that call
``best_estimator_``, available only where it has them (:func:`best_estimator_has`).
"""

import time

import numpy as np

from sklearn.base import clone
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from ._refit_check import warn_far_refit
from ._search_results import best_index
from ._validation import check_sparse_structure


def check_refit(search, attr):
    """Raise an ``AttributeError`` saying that ``attr`` needs ``refit=True`` when
    ``search`` was initialized with ``refit=False``."""
    if not search.refit:
        raise AttributeError(
            f"This {type(search).__name__} instance was initialized with refit=False. "
            f"{attr} is available only after refitting on the best parameters; refit "
            "the estimator manually with best_params_.")


def best_estimator_has(attr):
    """``available_if`` check: the refit estimator (or, before fit, the estimator) has ``attr``."""
    def check(self):
        check_refit(self, attr)
        getattr(self.best_estimator_ if hasattr(self, "best_estimator_") else self.estimator,
                attr)
        return True
    return check


_DELEGATE_DOC = """Call ``{name}`` on the estimator refit with the best parameters.

        Only available if ``refit=True`` and the estimator has ``{name}``.

        Parameters
        ----------
        X : {{array-like, sparse matrix}} of shape (n_samples, n_features)
            Input of the estimator (of the pipeline's first step); a sparse ``X``
            is checked first, as in :meth:`fit`.

        Returns
        -------
        {returns}
        """


def delegate(name, returns):
    """The search's method ``name``: ``name`` of ``best_estimator_`` on a checked ``X``,
    documented as returning ``returns``, available where the refit estimator has it."""
    def method(self, X):
        check_is_fitted(self)
        return getattr(self.best_estimator_, name)(check_sparse_structure(X, "X"))
    method.__name__ = name
    method.__qualname__ = f"HyperGradSearchCV.{name}"
    method.__doc__ = _DELEGATE_DOC.format(name=name, returns=returns)
    return available_if(best_estimator_has(name))(method)


def finish(search, run):
    """Set the attributes of ``search`` (a ``HyperGradSearchCV``) from
    :class:`~skhypergrad._search_results.SearchRun` ``run``, choose the best row as
    ``GridSearchCV`` does and refit (a refit far from the minimum the scores are of is
    reported, :mod:`skhypergrad._refit_check`); returns ``search``."""
    search.cv_results_ = run.results
    search.n_iter_ = run.n_iter
    search.multimetric_ = run.multimetric
    search.scorer_ = run.scorer
    if search.refit or not run.multimetric:
        search.best_index_ = best_index(search.refit, run.key, run.results) \
            if run.best is None else run.best
        search.best_params_ = run.results["params"][search.best_index_]
        if not callable(search.refit):
            # NumPy scalars, as GridSearchCV's (a callable refit's index is its own)
            search.best_index_ = np.int64(search.best_index_)
            search.best_score_ = np.float64(
                run.results[f"mean_test_{run.key}"][search.best_index_])
            if run.chosen is not None:
                run.chosen(search.best_index_, run.key, search.best_score_)
    if search.refit:
        search.best_estimator_ = clone(search.estimator).set_params(
            **clone(search.best_params_, safe=False))
        t0 = time.perf_counter()
        search.best_estimator_.fit(run.X, run.y, **run.fit_params)
        search.refit_time_ = time.perf_counter() - t0
        warn_far_refit(search.best_estimator_, run.X, run.y, run.fit_params)
        if hasattr(search.best_estimator_, "feature_names_in_"):
            search.feature_names_in_ = search.best_estimator_.feature_names_in_
    return search
