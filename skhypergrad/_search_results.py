r"""``cv_results_`` of :class:`~skhypergrad.HyperGradSearchCV`, in ``GridSearchCV``'s format.

Every criterion evaluation of the search is one entry of its history (``lam``,
``values``: the held-out loss of every fold, then the training losses with
``return_train_score``, then the scorers' scores of every fold, ``seconds``). This
module turns that history into the keys of ``GridSearchCV.cv_results_``
(``param_<name>``, ``params``, ``split<k>_test_<metric>``, ``mean_`` / ``std_`` /
``rank_test_<metric>``, the times) and picks the best row as ``GridSearchCV`` does.
"""

import numbers
from typing import Any, Callable, NamedTuple, Optional

import numpy as np
from scipy.stats import rankdata

__all__ = ["SearchRun", "format_results", "param_columns", "best_index", "failed", "store",
           "rank_scores"]


class SearchRun(NamedTuple):
    """What one search hands to :class:`~skhypergrad.HyperGradSearchCV` to choose its best
    row and refit.

    Attributes
    ----------
    results : dict
        ``cv_results_``.
    n_iter : int
        Outer steps taken.
    multimetric : bool
    scorer : callable or dict
        ``scorer_``.
    key : str or None
        The metric that ranks the rows (``"score"`` with one metric; None with several
        and ``refit=False``).
    X, y : array-like
        The data of the refit.
    fit_params : dict
        The estimator's ``fit`` parameters in the refit.
    best : int, default=None
        The best row when the search chooses it itself (the kernel searches scored by
        their criterion's own score); None: the best rank of ``key`` (or a callable
        ``refit``'s choice).
    chosen : callable, default=None
        ``(index, key, score) -> None``: reports the chosen row (progress lines).
    """

    results: dict
    n_iter: int
    multimetric: bool
    scorer: Any
    key: Optional[str]
    X: Any
    y: Any
    fit_params: dict
    best: Optional[int] = None
    chosen: Optional[Callable] = None


def format_results(history, params, n_splits, plan, error_score, return_train_score):
    """``cv_results_`` of the search ``history`` whose rows have the parameters ``params``
    (one dict per row), scored as ``plan`` (:class:`~skhypergrad._scoring.SearchScoring`)
    says."""
    n_rows, k = len(history), n_splits
    seconds = np.diff([0.0] + [h["seconds"] for h in history])
    values = np.array([h["values"] for h in history], dtype=np.float64)
    results = {}
    store(results, "fit_time", np.repeat(seconds[:, None] / k, k, axis=1))
    store(results, "score_time", np.zeros((n_rows, k)))
    results.update(param_columns(params))
    results["params"] = params
    train = return_train_score
    if not plan.rescore:  # the scores are the negated held-out losses
        tests = {"score": failed(-values[:, :k], error_score)}
        trains = {"score": -values[:, k:2 * k]}
    else:
        n_metrics = len(plan.scorers)
        scores = values[:, k * (1 + train):].reshape(n_rows, k, 1 + train, n_metrics)
        tests = {name: scores[:, :, 0, m] for m, name in enumerate(plan.scorers)}
        trains = {name: scores[:, :, -1, m] for m, name in enumerate(plan.scorers)}
    for name in tests:
        store(results, "test_" + name, tests[name], splits=True, rank=True)
        if train:
            store(results, "train_" + name, trains[name], splits=True)
    return results


def param_columns(params):
    """The ``param_<name>`` columns of rows with the parameters ``params`` (one dict per
    row), as ``GridSearchCV`` forms them: one masked array per name, masked in the rows
    without it, of the dtype numpy gives the name's values (``float64`` for numbers,
    ``bool`` for booleans), or ``object`` for strings, sequences and mixed types (never
    a string dtype, which would turn the numbers of a mixed column into strings)."""
    values = {}
    for row, p in enumerate(params):
        for name, value in p.items():
            values.setdefault(name, {})[row] = value
    columns = {}
    for name, column in values.items():
        try:
            inferred = np.array(list(column.values()))
        except ValueError:  # sequences of different lengths
            inferred = np.array(None)
        dtype = inferred.dtype if inferred.ndim == 1 and inferred.dtype.kind not in "US" \
            else np.dtype(object)
        array = np.ma.MaskedArray(np.empty(len(params), dtype=dtype), mask=True)
        for row, value in column.items():
            array[row] = value
        columns["param_" + name] = array
    return columns


def failed(scores, error_score):
    """``scores`` with ``error_score`` where they are not finite (a point whose held-out
    loss is not finite); a ValueError with ``error_score="raise"``."""
    bad = ~np.isfinite(scores)
    if not bad.any():
        return scores
    if isinstance(error_score, str):
        n_bad = int(bad.any(axis=1).sum())
        raise ValueError(f"The cross-validation loss is not finite at {n_bad} evaluated "
                         "point(s) (error_score='raise').")
    return np.where(bad, error_score, scores)


def best_index(refit, key, results):
    """The best row, as ``GridSearchCV`` chooses it: the index returned by a callable
    ``refit``, or the best rank of the metric ``key`` (``"score"`` with one metric)."""
    if callable(refit):
        index = refit(results)
        if not isinstance(index, numbers.Integral) or isinstance(index, bool):
            raise TypeError(f"refit (a callable) must return an int, got {index!r}.")
        if not 0 <= index < len(results["params"]):
            raise IndexError(f"refit (a callable) returned {index}, out of the "
                             f"{len(results['params'])} rows of cv_results_.")
        return int(index)
    return int(results[f"rank_test_{key}"].argmin())


def store(results, key, array, splits=False, rank=False):
    """``split<k>_<key>``, ``mean_<key>``, ``std_<key>`` (and ``rank_<key>``), as GridSearchCV."""
    if splits:
        for k in range(array.shape[1]):
            results[f"split{k}_{key}"] = array[:, k]
    means = array.mean(axis=1)
    results["mean_" + key] = means
    results["std_" + key] = np.sqrt(((array - means[:, None]) ** 2).mean(axis=1))
    if rank:
        results["rank_" + key] = rank_scores(means)


def rank_scores(means):
    """``GridSearchCV``'s ranks of mean scores (greater is better): failed (NaN) rows tie
    with the worst."""
    if np.isnan(means).all():
        return np.ones(means.shape, dtype=np.int32)
    means = np.where(np.isnan(means), np.nanmin(means) - 1, means)
    return rankdata(-means, method="min").astype(np.int32)
