r"""The search shared by the kernel models: a scan of a coarse log grid, then gradient descent.

A kernel model's criterion (:mod:`skhypergrad.kernel_ridge`, :mod:`skhypergrad.svm`)
gives, at positive hyperparameters ``lam``, the mean held-out loss over the folds, its
gradient in ``lam`` and each fold's loss and score. :func:`kernel_search` evaluates it
on the points of a coarse grid in :math:`\log\lambda` (the scan), then minimizes it by
gradient descent in :math:`\theta = \log\lambda` from the best of them (the highest
mean score, the lowest loss among ties)
(:func:`skhypergrad.optimizers.minimize`, within bounds). Every evaluation is one
entry of the returned history; the best entry is that of the highest mean score
(ties: the lowest loss).
"""

import itertools
import time
from typing import NamedTuple, Optional

import numpy as np

from ._threads import search_blas_limits
from .optimizers import minimize

__all__ = ["Evaluation", "FoldData", "kernel_folds", "kernel_search", "log_grid",
           "best_entry"]


class FoldData(NamedTuple):
    """A fold's rows: training and held-out data and targets (for a precomputed kernel,
    ``X_train`` is the kernel among the training rows and ``X_test`` that of the held-out
    rows against them), and their sample weights (None: unit weights)."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    w_train: Optional[np.ndarray] = None
    w_test: Optional[np.ndarray] = None


def kernel_folds(X, y, splits, precomputed=False, preprocessing=None, sample_weight=None,
                 score_weight=None):
    """The :class:`FoldData` of each ``(train, test)`` split.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Dense data, or the kernel (n_samples, n_samples) when ``precomputed``.
    y : ndarray of shape (n_samples,)
    splits : list of (train, test) index arrays
    precomputed : bool, default=False
    preprocessing : transformer, default=None
        Fitted on each training fold (a clone), applied to its held-out rows.
    sample_weight : ndarray of shape (n_samples,), default=None
        Weights of the training losses, split with the rows (``w_train``).
    score_weight : ndarray of shape (n_samples,), default=None
        Weights of the held-out losses (``w_test``).

    Returns
    -------
    list of FoldData
    """
    from sklearn.base import clone

    folds = []
    for train, test in splits:
        w = (None if sample_weight is None else sample_weight[train],
             None if score_weight is None else score_weight[test])
        if precomputed:
            folds.append(FoldData(X[np.ix_(train, train)], y[train], X[np.ix_(test, train)],
                                  y[test], *w))
            continue
        X_train, X_test = X[train], X[test]
        if preprocessing is not None:
            pre = clone(preprocessing)
            X_train = np.asarray(pre.fit_transform(X_train, y[train]), dtype=np.float64)
            X_test = np.asarray(pre.transform(X_test), dtype=np.float64)
        folds.append(FoldData(X_train, y[train], X_test, y[test], *w))
    return folds


class Evaluation(NamedTuple):
    """A criterion's result at one point.

    Attributes
    ----------
    value : float
        Mean held-out loss over the folds (the smooth objective).
    grad : ndarray of shape (n_hyper,)
        Its gradient in ``lam``.
    losses : ndarray of shape (n_folds,)
        Each fold's held-out loss.
    scores : ndarray of shape (n_folds,)
        Each fold's score (greater is better), which ranks the points.
    values : ndarray or None, default=None
        Every score of every fold, when the points are scored by scorers (see
        :mod:`skhypergrad._kernel_scoring`).
    """

    value: float
    grad: np.ndarray
    losses: np.ndarray
    scores: np.ndarray
    values: Optional[np.ndarray] = None


def log_grid(axes):
    """Every combination of the 1d arrays ``axes`` (one per hyperparameter), as rows."""
    return np.array(list(itertools.product(*axes)), dtype=np.float64)


def best_entry(history):
    """Index of the entry with the highest mean score, the lowest loss among ties."""
    keys = [(-float(np.mean(h["scores"])), h["value"]) for h in history]
    return min(range(len(history)), key=keys.__getitem__)


def kernel_search(evaluate, candidates, bounds, optimizer="gd", max_iter=30, tol=1e-4,
                  callback=None, n_rows=None):
    r"""Scan ``candidates``, then descend the criterion from the best.

    Parameters
    ----------
    evaluate : callable
        ``lam -> Evaluation`` (see the module docstring).
    candidates : ndarray of shape (n_points, n_hyper)
        Points of the scan (positive).
    bounds : (ndarray, ndarray)
        Bounds on ``lam`` (positive) for the descent.
    optimizer : str or optimizer, default="gd"
        See :func:`~skhypergrad.optimizers.minimize`.
    max_iter : int, default=30
        Outer steps of the descent (0: the scan alone).
    tol : float, default=1e-4
        Relative improvement under which the descent stops.
    callback : callable, default=None
        Called with each history entry.
    n_rows : int, default=None
        Training rows of the largest fold: kernels of at most
        :data:`~skhypergrad._threads.SMALL_DENSE_ENTRIES` entries are searched on one
        BLAS thread (see :func:`~skhypergrad._threads.search_blas_limits`).

    Returns
    -------
    history : list of dict
        One entry per evaluation: ``lam``, ``value``, ``grad`` (in ``lam``), ``losses``,
        ``scores``, ``values``, ``seconds`` (since the start), ``phase`` ("scan" or "descent").
    n_iter : int
        Steps of the descent.
    """
    n_rows = 0 if n_rows is None else n_rows
    with search_blas_limits(np.empty((n_rows, n_rows)) if n_rows else None):
        return _search(evaluate, candidates, bounds, optimizer, max_iter, tol, callback)


def _search(evaluate, candidates, bounds, optimizer, max_iter, tol, callback):
    history = []
    t0 = time.perf_counter()

    def record(lam, ev, phase):
        entry = {"lam": np.array(lam, dtype=np.float64), "value": float(ev.value),
                 "grad": np.asarray(ev.grad, dtype=np.float64),
                 "losses": np.asarray(ev.losses), "scores": np.asarray(ev.scores),
                 "values": ev.values, "seconds": time.perf_counter() - t0, "phase": phase}
        history.append(entry)
        if callback is not None:
            callback(entry)

    for lam in candidates:
        record(lam, evaluate(lam), "scan")
    start = best_entry(history)
    n_iter = 0
    if max_iter > 0:
        def objective(theta, _tol):
            lam = np.exp(theta)
            ev = evaluate(lam)
            record(lam, ev, "descent")
            return ev.value, np.asarray(ev.grad) * lam, None

        lo, hi = np.log(bounds[0]), np.log(bounds[1])
        result = minimize(objective, np.log(history[start]["lam"]), optimizer=optimizer,
                          bounds=(lo, hi), max_iter=max_iter, tol=tol, inner_tol=(0.0, 0.0))
        n_iter = result.n_iter
    return history, n_iter
