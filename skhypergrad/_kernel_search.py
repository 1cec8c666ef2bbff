r"""The search shared by the kernel models: a scan of a coarse log grid, then gradient descent.

A kernel model's criterion (:mod:`skhypergrad.kernel_ridge`, :mod:`skhypergrad.svm`)
gives, at positive hyperparameters ``lam``, the mean held-out loss over the folds, its
gradient in ``lam`` and each fold's loss and score. :func:`kernel_search` evaluates it
on the points of a coarse grid in :math:`\log\lambda` (the scan), then minimizes it by
gradient descent in :math:`\theta = \log\lambda` from the best of them (the highest
mean score, the lowest loss among ties; or the lowest loss, ``start="loss"``)
(:func:`skhypergrad.optimizers.minimize`, within bounds), and optionally refines the
best point by the score itself (a compass search, :func:`skhypergrad._scoring.polish`).
The scan and the refinement may use a cheaper value-only evaluation. Every evaluation
is one entry of the returned history; the best entry is that of the highest mean score
(ties: the lowest loss).
"""

import itertools
import time
from typing import NamedTuple, Optional

import numpy as np
import scipy.sparse as sp
from sklearn.utils import _safe_indexing, check_array
from sklearn.utils.validation import _num_samples

from ._threads import search_blas_limits
from .optimizers import minimize

__all__ = ["AdaptiveScan", "Evaluation", "FoldData", "FoldMeanCriterion",
           "NearestWarmStart", "RowAtBest", "axis_in_box", "kernel_folds", "kernel_search",
           "log_grid", "best_entry"]


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
                 score_weight=None, gram=None):
    """The :class:`FoldData` of each ``(train, test)`` split.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features) or array-like
        Dense data, or the kernel (n_samples, n_samples) when ``precomputed``; with
        ``preprocessing``, what it takes (e.g. a DataFrame of strings).
    y : ndarray of shape (n_samples,)
    splits : list of (train, test) index arrays
    precomputed : bool, default=False
    preprocessing : transformer, default=None
        Fitted on each training fold (a clone), applied to its held-out rows; its
        output is made dense float64.
    sample_weight : ndarray of shape (n_samples,), default=None
        Weights of the training losses, split with the rows (``w_train``).
    score_weight : ndarray of shape (n_samples,), default=None
        Weights of the held-out losses (``w_test``).
    gram : callable, default=None
        ``(X_a, X_b) -> K(X_a, X_b)``, a kernel without a width (e.g. the user's callable
        kernel): the folds then hold its matrices, as ``precomputed`` ones (of the rows
        after ``preprocessing``); they are refused first when they would not fit in
        memory (:func:`~skhypergrad.kernels.check_kernel_memory`).

    Returns
    -------
    list of FoldData
    """
    from sklearn.base import clone

    from .kernels import check_kernel_memory

    if gram is not None:
        n_train = max(train.shape[0] for train, _ in splits)
        check_kernel_memory(n_train, _num_samples(X), len(splits))
    folds = []
    for train, test in splits:
        w = (None if sample_weight is None else sample_weight[train],
             None if score_weight is None else score_weight[test])
        if precomputed:
            folds.append(FoldData(X[np.ix_(train, train)], y[train], X[np.ix_(test, train)],
                                  y[test], *w))
            continue
        X_train, X_test = _safe_indexing(X, train), _safe_indexing(X, test)
        if preprocessing is not None:
            pre = clone(preprocessing)
            X_train = _dense(pre.fit_transform(X_train, y[train]))
            X_test = _dense(pre.transform(X_test))
        if gram is not None:
            X_train, X_test = (_dense(gram(X_train, X_train)),
                               _dense(gram(X_test, X_train)))
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


def _dense(X):
    """A preprocessing step's output as a finite dense float64 array (a sparse one
    densified: the dual solvers keep dense rows)."""
    return check_array(X.toarray() if sp.issparse(X) else X, dtype=np.float64,
                       input_name="X")


def log_grid(axes):
    """Every combination of the 1d arrays ``axes`` (one per hyperparameter), as rows."""
    return np.array(list(itertools.product(*axes)), dtype=np.float64)


class FoldMeanCriterion:
    """Base of a dual model's criterion with ``folds`` and ``fold(k, lam, gradient) ->
    (loss, grad, ...)``: the :class:`Evaluation` of the mean over the folds, each
    fold's score given by :meth:`scores` (the negated loss)."""

    def __call__(self, lam):
        """The :class:`Evaluation` at ``lam``."""
        return self._evaluate(lam, True)

    def value(self, lam):
        """The :class:`Evaluation` at ``lam`` without the gradient (nan)."""
        return self._evaluate(lam, False)

    def _evaluate(self, lam, gradient):
        out = [self.fold(k, lam, gradient) for k in range(len(self.folds))]
        losses = np.array([o[0] for o in out])
        grad = np.mean([o[1] for o in out], axis=0) if gradient else \
            np.full(len(lam), np.nan)
        return Evaluation(float(losses.mean()), grad, losses, self.scores(out, losses))

    def scores(self, out, losses):
        """Each fold's score from its ``fold`` output ``out[k]`` and loss: ``-loss``."""
        return -losses


class NearestWarmStart:
    """Base of a dual model's fold that records its solutions ``(log lam, C, x)`` in
    ``solutions``: warm starts from the nearest."""

    @staticmethod
    def log_point(lam):
        """``log lam``, a zero entry (LinearSVR's default ``epsilon = 0``, held fixed) at
        the log of the smallest normal float: a finite coordinate, equal at every point."""
        return np.log(np.maximum(lam, np.finfo(np.float64).tiny))

    def warm_start(self, theta, C):
        """The solution at the nearest evaluated point (in log ``lam``), rescaled to ``C``
        (exact for the coefficients at their bound), or None."""
        if not self.solutions:
            return None
        thetas = np.array([t for t, _, _ in self.solutions])
        k = int(np.argmin(np.sum((thetas - theta) ** 2, axis=1)))
        _, C0, x = self.solutions[k]
        return x * (C / C0)


#: the widest spacing (in log) of a scan in a box: half a decade
_BOX_STEP = 0.5 * np.log(10.0)


def axis_in_box(axis, low, high):
    r"""A scan axis over ``[low, high]``: ``n`` log-spaced points from ``low`` to
    ``high``, with :math:`n = \lceil \log(high/low) / s \rceil + 1` for ``s`` the mean
    log spacing of ``axis`` or half a decade, whichever is finer (one point when
    ``low == high``; a box from 0 starts at ``min(axis[0], high / 10)``).

    Parameters
    ----------
    axis : ndarray
        The default axis (positive, increasing, at least two points).
    low, high : float
        The box's bounds on the axis's hyperparameter (positive, ``low <= high``).

    Returns
    -------
    ndarray
    """
    axis = np.asarray(axis, dtype=np.float64)
    if not high > low:
        return np.array([float(low)])
    if low <= 0.0:  # a box from 0 (e.g. epsilon): its positive part from the axis's start
        low = min(float(axis[0]), high / 10.0)
    step = min(np.log(axis[-1] / axis[0]) / (axis.shape[0] - 1), _BOX_STEP)
    n = int(np.ceil(np.log(high / low) / step - 1e-9)) + 1
    return np.geomspace(low, high, max(n, 2))


def _nearest(values, value):
    """Index of the entry of ``values`` nearest to ``value`` in log (0 for one entry)."""
    if values.shape[0] == 1:
        return 0
    return int(np.argmin(np.abs(np.log(values) - np.log(value))))


class AdaptiveScan:
    r"""An adaptive scan of the grid ``axis`` x ``widths``, one row (one width) at a time.

    A row walks ``axis`` up from its start index and ends after the first point whose
    loss is above the previous one's, or equal to it (within ``rtol``, relative) once the
    loss has decreased (the cross-validated loss of one width is, in practice, unimodal
    along ``axis``; equal losses: the solution no longer moves). When that walk lowers
    no loss below the
    start's, the row then walks down from the start on the same rule. The first row is
    that of ``widths[centre]``; then the rows go up ``widths`` from it while the lowest
    loss of a row improves on the previous row's, then down from it on the same rule.
    Each row starts at index ``start`` of ``axis``, or, with ``follow``, at the index of
    the previous row's lowest loss (the first row's, for the rows below the centre).

    Parameters
    ----------
    axis : ndarray
        The first hyperparameter's values.
    widths : ndarray or None
        Increasing kernel widths; None for a kernel without a width (one row).
    centre : int, default=0
        Index of the first row's width.
    start : int, default=0
        Index of ``axis`` where the first row (every row without ``follow``) starts.
    follow : bool, default=False
    rtol : float, default=1e-12
        Relative difference under which two losses count as equal.

    Notes
    -----
    Called with the search's history, it returns the next point, or None at the end.
    """

    def __init__(self, axis, widths=None, centre=0, start=0, follow=False, rtol=1e-12):
        self.axis = np.asarray(axis, dtype=np.float64)
        self.rtol = rtol
        self.widths = widths
        self.centre = centre
        self.start = start
        self.follow = follow
        self._history = None
        self._points = self._all()

    def __call__(self, history):
        self._history = history
        return next(self._points, None)

    def within(self, box, axis_index, width_index=None):
        """The scan of the box: its axis and widths over the box's bounds on entries
        ``axis_index`` and ``width_index`` of ``lam`` (:func:`axis_in_box`), starting and
        centred at the points nearest (in log) to this scan's; this scan when ``box`` is
        None.

        Parameters
        ----------
        box : (ndarray, ndarray) or None
            Bounds on ``lam``.
        axis_index : int
        width_index : int, default=None
            Needed when the scan has widths.

        Returns
        -------
        AdaptiveScan
        """
        if box is None:
            return self
        lo, hi = box
        axis = axis_in_box(self.axis, lo[axis_index], hi[axis_index])
        widths, centre = None, 0
        if self.widths is not None:
            widths = axis_in_box(self.widths, lo[width_index], hi[width_index])
            centre = _nearest(widths, self.widths[self.centre])
        return AdaptiveScan(axis, widths, centre, _nearest(axis, self.axis[self.start]),
                            self.follow, self.rtol)

    def _walk(self, width, indices, losses, last=None):
        first = best = last
        for j in indices:
            yield np.array([self.axis[j]] if width is None else [self.axis[j], width])
            loss = losses[j] = self._history[-1]["value"]
            if last is None:
                first = last = best = loss
                continue
            flat = abs(loss - last) <= self.rtol * abs(last)
            if (loss > last and not flat) or (flat and best < first):
                break
            best = min(best, loss)
            last = loss

    def _row(self, width, start):
        """Yields the row's points; returns its lowest loss and the index of it."""
        losses = {}
        yield from self._walk(width, range(start, self.axis.shape[0]), losses)
        if start > 0 and min(losses.values()) >= losses[start]:
            yield from self._walk(width, range(start - 1, -1, -1), losses, losses[start])
        j = min(losses, key=losses.__getitem__)
        return losses[j], j

    def _all(self):
        if self.widths is None:
            yield from self._row(None, self.start)
            return
        middle, at = yield from self._row(self.widths[self.centre], self.start)
        for rows in (range(self.centre + 1, self.widths.shape[0]),
                     range(self.centre - 1, -1, -1)):
            previous, j = middle, at
            for k in rows:
                best, found = yield from self._row(self.widths[k],
                                                   j if self.follow else self.start)
                if best >= previous:
                    break
                previous, j = best, found


class RowAtBest:
    """An adaptive scan, then a row of one more hyperparameter at the scan's point of
    lowest loss: entry ``index`` of ``lam`` walks ``axis`` from index ``start`` on
    :class:`AdaptiveScan`'s rule (up, then down when going up lowered no loss).

    Parameters
    ----------
    scan : callable
        ``history -> lam`` or None (the first scan).
    index : int
        The entry of ``lam`` the row varies.
    axis : ndarray
        Its values.
    start : int
    rtol : float, default=1e-12
        See :class:`AdaptiveScan`.
    """

    def __init__(self, scan, index, axis, start, rtol=1e-12):
        self.scan = scan
        self.index = index
        self.row = AdaptiveScan(axis, start=start, rtol=rtol)
        self._base = None

    def __call__(self, history):
        if self._base is None:
            lam = self.scan(history)
            if lam is not None:
                return lam
            self._base = np.array(history[_lowest_loss(history)]["lam"], dtype=np.float64)
        value = self.row(history)
        if value is None:
            return None
        lam = self._base.copy()
        lam[self.index] = value[0]
        return lam


def best_entry(history):
    """Index of the entry with the highest mean score, the lowest loss among ties."""
    keys = [(-float(np.mean(h["scores"])), h["value"]) for h in history]
    return min(range(len(history)), key=keys.__getitem__)


def kernel_search(evaluate, candidates, bounds, optimizer="gd", max_iter=30, tol=1e-4,
                  callback=None, n_rows=None, value=None, start="score", polish=0,
                  stall=None, box=None):
    r"""Scan ``candidates``, then descend the criterion from the best.

    Parameters
    ----------
    evaluate : callable
        ``lam -> Evaluation`` (see the module docstring).
    candidates : ndarray of shape (n_points, n_hyper) or callable
        Points of the scan (positive), or an adaptive scan: ``history -> lam``, the
        next point given the entries so far, or None to end the scan.
    bounds : (ndarray, ndarray)
        Bounds on ``lam`` (positive) for the descent.
    optimizer : str or optimizer, default="gd"
        See :func:`~skhypergrad.optimizers.minimize`.
    max_iter : int, default=30
        Outer steps of the descent (0: the scan alone).
    tol : float, default=1e-4
        Relative improvement under which the descent stops.
    callback : callable, default=None
        Called with each history entry; returning True stops the search (the scan,
        the descent or the refinement) after that entry.
    n_rows : int, default=None
        Training rows of the largest fold: kernels of at most
        :data:`~skhypergrad._threads.SMALL_DENSE_ENTRIES` entries are searched on one
        BLAS thread (see :func:`~skhypergrad._threads.search_blas_limits`).
    value : callable, default=None
        ``lam -> Evaluation`` whose gradient is not needed (nan), for the scan and the
        refinement; ``evaluate`` when None.
    start : {"score", "loss"}, default="score"
        The scan point the descent starts from, and the point the refinement starts
        from: the best entry (:func:`best_entry`), or that of the lowest loss.
    polish : int, default=0
        Evaluations of the refinement by the score after the descent
        (:func:`skhypergrad._scoring.polish`; 0: none).
    stall : (int, float), default=None
        ``(patience, rtol)``: the descent also stops after ``patience`` evaluations in a
        row that do not lower the best loss by ``rtol`` (relative); None: the
        optimizer's own rule alone.
    box : (ndarray, ndarray), default=None
        The user's bounds on ``lam`` (``param_grid``; equal bounds fix an entry): they
        replace ``bounds``, and the scan's points are clipped to them, each point
        evaluated once (a model's scan covers the box itself:
        :meth:`AdaptiveScan.within`).

    Returns
    -------
    history : list of dict
        One entry per evaluation: ``lam``, ``value``, ``grad`` (in ``lam``), ``losses``,
        ``scores``, ``values``, ``seconds`` (since the start), ``phase`` ("scan",
        "descent" or "polish").
    n_iter : int
        Steps of the descent.
    """
    n_rows = 0 if n_rows is None else n_rows
    if box is not None:
        bounds = (np.asarray(box[0], dtype=np.float64), np.asarray(box[1], dtype=np.float64))
        candidates = _clipped(candidates, bounds)
    with search_blas_limits(np.empty((n_rows, n_rows)) if n_rows else None):
        return _search(evaluate, candidates, bounds, optimizer, max_iter, tol, callback,
                       evaluate if value is None else value, start, polish, stall)


#: proposals in a row of points already evaluated after which a clipped scan ends
_MAX_REPEATS = 50


def _clipped(candidates, bounds):
    """The scan ``candidates`` clipped to ``bounds``, each point once: an array's rows
    (in order), or an adaptive scan's proposals (a proposal already evaluated is
    answered by that entry, which the scan sees again; :func:`_search` keeps one)."""
    if not callable(candidates):
        points = np.clip(np.asarray(candidates, dtype=np.float64), *bounds)
        _, first = np.unique(points, axis=0, return_index=True)
        return points[np.sort(first)]

    def propose(history):
        lam = candidates(history)
        return None if lam is None else np.clip(np.asarray(lam, dtype=np.float64), *bounds)
    return propose


def _lowest_loss(history):
    return min(range(len(history)), key=lambda i: history[i]["value"])


class _Stall:
    """``minimize``'s callback: True (stop) after ``patience`` evaluations in a row that
    do not lower the best value by ``rtol`` (relative); never with ``stall`` None."""

    def __init__(self, stall):
        self.patience, self.rtol = (None, 0.0) if stall is None else stall
        self.best = np.inf
        self.count = 0

    def __call__(self, entry):
        value = entry["value"]
        # the first evaluation sets the best (against an infinite best the margin is nan)
        if self.best == np.inf or value < self.best - self.rtol * abs(self.best):
            self.count = 0
        else:
            self.count += 1
        self.best = min(self.best, value)
        return self.patience is not None and self.count >= self.patience


def _search(evaluate, candidates, bounds, optimizer, max_iter, tol, callback, value, start,
            polish, stall):
    from ._scoring import polish as compass

    history = []
    t0 = time.perf_counter()
    stopped = [False]  # whether callback asked the search to stop

    def entry_of(lam, ev, phase):
        entry = {"lam": np.array(lam, dtype=np.float64), "value": float(ev.value),
                 "grad": np.asarray(ev.grad, dtype=np.float64),
                 "losses": np.asarray(ev.losses), "scores": np.asarray(ev.scores),
                 "values": ev.values, "seconds": time.perf_counter() - t0, "phase": phase}
        if callback is not None and callback(entry):
            stopped[0] = True
        return entry

    def record(lam, ev, phase):
        history.append(entry_of(lam, ev, phase))

    if callable(candidates):
        seen, repeats = {}, 0  # a clipped adaptive scan may propose a point twice
        lam = candidates(history)
        while lam is not None and repeats < _MAX_REPEATS and not stopped[0]:
            key = tuple(np.asarray(lam, dtype=np.float64))
            repeats = repeats + 1 if key in seen else 0
            if key in seen:
                history.append(dict(history[seen[key]]))
            else:
                seen[key] = len(history)
                record(lam, value(lam), "scan")
            lam = candidates(history)
        history[:] = [history[i] for i in sorted(seen.values())]
    else:
        for lam in candidates:
            if stopped[0]:
                break
            record(lam, value(lam), "scan")
    first = _lowest_loss(history) if start == "loss" else best_entry(history)
    n_iter = 0
    # the descent is in the log of the entries that are free (equal bounds fix an entry,
    # which may be 0: LinearSVR's epsilon)
    lower, upper = (np.asarray(b, dtype=np.float64) for b in bounds)
    free = lower < upper
    if max_iter > 0 and not stopped[0] and np.any(free):
        stall = _Stall(stall)
        fixed_lam = np.array(history[first]["lam"], dtype=np.float64)

        def objective(theta, _tol):
            lam = fixed_lam.copy()
            lam[free] = np.exp(theta)
            ev = evaluate(lam)
            record(lam, ev, "descent")
            return ev.value, (np.asarray(ev.grad) * lam)[free], None

        lo, hi = np.log(lower[free]), np.log(upper[free])
        result = minimize(objective, np.log(fixed_lam[free]), optimizer=optimizer,
                          bounds=(lo, hi), max_iter=max_iter, tol=tol, inner_tol=(0.0, 0.0),
                          callback=lambda entry: stall(entry) or stopped[0])
        n_iter = result.n_iter
    if polish > 0 and not stopped[0]:
        centre = [history[_lowest_loss(history) if start == "loss" else best_entry(history)]]
        compass(lambda lam: None if stopped[0] else entry_of(lam, value(lam), "polish"),
                centre, lambda h: float(np.mean(h["scores"])), bounds, polish)
        history.extend(centre[1:])
    return history, n_iter
