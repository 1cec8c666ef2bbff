r"""The guard of the models with one penalty weight per feature.

With ``p`` hyperparameters the descent fits the criterion it descends. A
per-feature model (:class:`WeightedLassoHyperGrad`, :class:`WeightedRidgeHyperGrad`)
therefore first finds its common-weight model's weight, then lets the weights
descend from it on four fifths of the rows, and keeps them only if they predict the
other fifth better than the common weight by more than two standard errors.

A model may scale the weights' steps (``_diagonal_decay``): their slopes in
:math:`\log\alpha_j` differ by decades (a noise feature's ridge weight far below its
column's curvature barely moves the criterion), and with the default optimizer "gd"
each weight's step is then divided by the root mean square of its slopes
(:class:`~skhypergrad.optimizers.GradientDescent` with ``diagonal``); the common
weight's search is the common-weight model's own.
"""

import numbers
from functools import partial

import numpy as np
from sklearn.model_selection import PredefinedSplit, train_test_split

from .._base import null_model, refit_solver
from .._tune import TuneResult
from ..criteria import HeldOut
from ..optimizers import GradientDescent
from ._common import _first

#: the fraction of the rows held out of the search as its monitor, the fewest rows for
#: which it is used, and how many standard errors lower the held-out errors of the
#: weights must be than those of the common weight
_EARLY_STOPPING_FRACTION = 0.2
_EARLY_STOPPING_MIN_SAMPLES = 100
_EARLY_STOPPING_Z = 2.0


class PerFeatureWeightsMixin:
    """``early_stopping`` for a least-squares model with one weight per feature.

    The estimator defines ``_common_model()``: the :class:`~skhypergrad.InnerModel`
    with one weight for every feature whose search gives the starting point (its
    ``lam`` broadcast to every feature is the weighted model's).
    """

    #: the decay of the weights' mean squared slopes that scale their steps with the
    #: optimizer "gd" (``GradientDescent(diagonal=...)``), None for plain steps
    _diagonal_decay = None

    def _search(self, search, model, X, y, groups, lam0, bounds, candidates, weights=None):
        """With ``early_stopping`` (see the module docstring): the common weight of
        ``_common_model()``, then the weights' descent from it on four fifths of the rows,
        kept only if it predicts the other fifth significantly better (sample weights
        split with the rows; the other fifth's errors weighted)."""
        weights_search = partial(search, optimizer=self._weights_optimizer())
        if not self.early_stopping:
            return super()._search(weights_search, model, X, y, groups, lam0, bounds,
                                   candidates, weights)
        common = self._common_search(search, X, y, groups, lam0, bounds, candidates,
                                     weights)
        if not self._can_hold_out(X):
            return common._replace(lam=np.full(X.shape[1], common.lam[0]), history=[
                _broadcast_lam(h, X.shape[1]) for h in common.history])
        start = np.full(X.shape[1], common.lam[0])
        # the same rows at every fit unless a seed says otherwise: the estimator stays a
        # deterministic function of its data, as the others are
        seed = 0 if self.random_state is None else self.random_state
        fit_rows, mon_rows = train_test_split(np.arange(X.shape[0]),
                                              test_size=_EARLY_STOPPING_FRACTION,
                                              random_state=seed)
        X_fit, y_fit, X_mon, y_mon = X[fit_rows], y[fit_rows], X[mon_rows], y[mon_rows]
        w_fit = w_mon = None
        if weights is not None and weights.fit is not None:
            w_fit, w_mon = (weights.fit[fit_rows], weights.score[fit_rows]), \
                weights.score[mon_rows]
        criterion, X_train, y_train = self._criterion(
            X_fit, y_fit, None if groups is None else groups[fit_rows], w_fit)
        weighted = weights_search(model, X_train, y_train, criterion, start, bounds=bounds,
                          monitor=(HeldOut(X_mon, y_mon, sample_weight=_first(w_fit),
                                           sample_weight_val=w_mon), X_fit, y_fit))
        errors = partial(self._held_out_errors, model, X_fit, y_fit, X_mon, y_mon,
                         _first(w_fit), w_mon)
        keep = _significantly_lower(errors(weighted.lam), errors(start))
        lam, value = (weighted.lam, weighted.value) if keep else (start, common.value)
        history = [_broadcast_lam(h, X.shape[1]) for h in common.history] + weighted.history
        # the weights' search, unfinished, matters only when its weights are kept
        unfinished = common if common.converged or not keep else weighted
        return TuneResult(lam, value, history, common.n_iter + weighted.n_iter,
                          common.n_evals + weighted.n_evals,
                          common.converged and (weighted.converged or not keep),
                          weighted.state, decrease=unfinished.decrease)

    def _weights_optimizer(self):
        """The optimizer of the weights' descent: with ``_diagonal_decay``, "gd" with
        each weight's step scaled by the root mean square of its slopes (see the module
        docstring); any other ``optimizer`` as it is."""
        if self._diagonal_decay is not None and isinstance(self.optimizer, str) \
                and self.optimizer.lower() == "gd":
            return GradientDescent(diagonal=self._diagonal_decay)
        return self.optimizer

    def _can_hold_out(self, X):
        """Whether rows can be held out as the weights' monitor: at least 100 of them (a
        fifth of fewer cannot tell the weights from the common weight), and a ``cv``
        that applies to the others (a number of folds, or a splitter whose folds follow
        the rows it is given; not folds fixed in advance: a list of them, or
        ``PredefinedSplit``, whose indices are those of all the rows)."""
        return X.shape[0] >= _EARLY_STOPPING_MIN_SAMPLES and \
            (isinstance(self.cv, numbers.Real) or
             (hasattr(self.cv, "split") and not isinstance(self.cv, PredefinedSplit)))

    def _common_search(self, search, X, y, groups, lam0, bounds, candidates, weights=None):
        """The search of ``_common_model()`` on all the rows: one weight for every feature
        (history entries, and the callback's, with ``lam`` repeated for each)."""
        n_features = X.shape[1]
        history_callback = self._history_callback(X.shape[0])
        callback = None if history_callback is None else \
            (lambda h: history_callback(_broadcast_lam(h, n_features)))
        criterion, X_train, y_train = self._criterion(X, y, groups, weights)
        # the scan's points (and those below its paths, tune's scan_below) in one weight
        below = search.keywords.get("scan_below")
        return search(self._common_model(), X_train, y_train, criterion, lam0[:1],
                      bounds=(bounds[0][:1], bounds[1][:1]),
                      candidates=None if candidates is None else
                      [path[:, :1] for path in candidates], callback=callback,
                      scan_below=None if below is None else
                      [None if tail is None else tail[:, :1] for tail in below])

    def _held_out_errors(self, model, X_fit, y_fit, X_mon, y_mon, w_fit, w_mon, lam):
        """Squared errors on ``(X_mon, y_mon)`` of the model trained on ``(X_fit, y_fit)``
        at ``lam`` (to the accuracy of the final refit), the rows' weights ``w_fit`` in the
        training, ``w_mon`` (rescaled to mean 1) times the errors (None: unit weights)."""
        pgmap = model.make_map(X_fit, model.encode(y_fit), center=True, sample_weight=w_fit)
        solver = refit_solver(self.solver, self._refit_tol, self.random_state, pgmap)
        w = solver.solve(pgmap, lam, null_model(pgmap)).w
        design = pgmap.design
        pred = np.asarray(X_mon @ design.coef(w)).ravel() + design.original_intercept(w)
        errors = (pred - y_mon) ** 2
        if w_mon is not None:
            errors *= w_mon * (w_mon.shape[0] / np.sum(w_mon))
        return errors


def _significantly_lower(errors, reference, z=_EARLY_STOPPING_Z):
    """Whether ``errors`` are below ``reference`` (the same rows) on average by more than
    ``z`` standard errors of the mean of their differences."""
    diff = np.asarray(reference) - np.asarray(errors)
    if diff.size < 2:
        return False
    return float(diff.mean()) > z * float(diff.std(ddof=1)) / np.sqrt(diff.size)


def _broadcast_lam(entry, n_features):
    """A history entry of a common weight with its ``lam`` repeated for every feature."""
    return {**entry, "lam": np.full(n_features, entry["lam"][0])}
