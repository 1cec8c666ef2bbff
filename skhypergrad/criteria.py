r"""Outer criteria :math:`E(\lambda) = C(w^*(\lambda))` and their gradients in :math:`\log\lambda`.

A criterion trains an :class:`~skhypergrad.models.InnerModel` on some rows for
the hyperparameters ``lam``, evaluates an outer loss :math:`C` at the solution
and, through a hypergradient engine, its gradient

.. math::

    \nabla_{\log\lambda} E = \lambda \odot \nabla_\lambda E, \qquad
    \nabla_\lambda E = B^T (I - A^T)^{-1} \nabla C(w^*)

(see :mod:`skhypergrad.hypergrad`). Every criterion is a set of independent
*inner problems* (one for :class:`HeldOut`, one per fold for :class:`CrossVal`,
one for :class:`SURE` with exact degrees of freedom, one plus one per direction
with their Monte-Carlo estimate), each a fixed-point map with its own outer
function, and combines their values and gradients linearly.

Criteria hold only their settings. Warm starts (the inner solution ``w`` and the
engine's state, per inner problem) are returned in
:attr:`CriterionResult.state` and passed back as ``state`` at the next
hyperparameters; nothing is stored on the criterion. For sparse ``X``,
:class:`CrossVal` keeps them as :class:`SparseVector` (the nonzero entries
only) between evaluations and makes them dense again inside the fold being
solved: with ``p`` large, K dense warm starts (and the adjoints) would
otherwise outweigh ``X`` itself.

Normalization: ``lam`` is defined on the normalized objective
:math:`\frac1n\sum_i \ell_i + G_\lambda`, so the same ``lam`` is used for every
training set whatever its size ``n`` (in cross-validation each fold's model is
trained with the same ``lam`` on its own ``n_train`` rows).

This module holds :class:`HeldOut` and :class:`CrossVal` and exports :class:`SURE`
(:mod:`skhypergrad._sure`); the parts they share are the entry points
(:mod:`skhypergrad._base_criterion`), the warm starts and results
(:mod:`skhypergrad._criterion_result`), one inner problem solved and differentiated
(:mod:`skhypergrad._inner_solve`) and the checks of the data
(:mod:`skhypergrad._criterion_data`).
"""

import numpy as np
import scipy.sparse as sp
from joblib import delayed, effective_n_jobs

from ._base_criterion import BaseCriterion
from ._compact_states import SparseVector
from ._criterion_data import _centred_map, _check_data, _check_weights, _shape_str
from ._criterion_result import CriterionResult, InnerState, _check_state, _gram_result, _result
from ._design import gram_pays, seed_row_subset_grams
from ._parallel import evaluation_work, fold_n_jobs
from ._folds import _FoldSplits, _fold_problem, _rows_friendly, _solver_format
from ._gram_cv import (cv_gram_folds, evaluate_gram_folds, evaluate_gram_path,
                       gram_path_applies, heldout_gram_folds)
from ._inner_solve import _fold_value_and_grad, _solve_one
from .hypergrad import BaseEngine
from .solvers._base import BaseSolver
from ._outer_loss import _check_loss, _heldout_loss
from ._sure import SURE
from ._validation import cv_splits

__all__ = ["InnerState", "SparseVector", "CriterionResult", "HeldOut", "CrossVal", "SURE"]


#: largest size of the fold copies of X that CrossVal keeps between evaluations
_FOLD_CACHE_BYTES = 512 * 2**20


class HeldOut(BaseCriterion):
    r"""Loss on a fixed validation set of the model trained on ``(X, y)``.

    .. math::

        E(\lambda) = \frac{1}{n_{val}} \sum_{i \in val} \ell_{val}(y_i, x_i^T w^*(\lambda) +
            b^*(\lambda))

    with :math:`\ell_{val}(y, z) = (z - y)^2` (``"squared"``: the mean squared
    error, *not* halved, as ``sklearn.metrics.mean_squared_error``) or the
    natural-log log-loss (``"logistic"``, ``"multinomial"``, as
    ``sklearn.metrics.log_loss``); for T outputs (multi-task models),
    ``"multitask_squared"``, :math:`\frac{1}{n_{val} T}\|Y_{val} - X_{val}W - 1b^T\|_F^2`
    (``mean_squared_error`` averaged over the outputs). Other held-out losses are
    named by the models they score (``"brier"``, the GLMs' deviances...); a datafit
    lists its own in ``outer_losses``.

    Parameters
    ----------
    X_val : ndarray or sparse matrix of shape (n_val, n_features)
    y_val : array-like of shape (n_val,) or (n_val, n_tasks)
        Validation targets, in the same labels as the training targets.
    loss : str, default="auto"
        ``"auto"`` takes the loss matching the model's datafit (the first of its
        ``outer_losses``); any other name must be one the model can be scored by
        (``"squared"``, ``"logistic"``, ``"brier"``, ``"multinomial"``,
        ``"multitask_squared"``, ``"poisson"``...), else a ``ValueError`` says which.
    sample_weight : array-like of shape (n_samples,), default=None
        Weights of the training rows (those of the ``X`` the criterion is evaluated
        on): the inner datafit is :math:`\frac1n\sum_i s_i \ell_i` with the
        weights rescaled to mean 1 (see :func:`~skhypergrad.datafits.weighted`).
    sample_weight_val : array-like of shape (n_val,), default=None
        Weights of the validation rows: the held-out loss is the weighted mean
        :math:`\sum_i s_i \ell_{val,i} / \sum_i s_i`.
    """

    def __init__(self, X_val, y_val, loss="auto", *, sample_weight=None,
                 sample_weight_val=None):
        self.X_val = X_val
        self.y_val = y_val
        self.loss = loss
        self.sample_weight = sample_weight
        self.sample_weight_val = sample_weight_val

    def _repr_params(self):
        return [("X_val", _shape_str(self.X_val)), ("loss", repr(self.loss))]

    def _evaluate(self, model, X, y, lam, solver, engine, state, compute_grad):
        X_in, y_in = X, y
        model, X, _, y_enc, lam = self._prepare(model, X, y, lam)
        (inner_state,) = _check_state(state, 1)
        if self._compiled(model, X, solver, engine):
            data = self._cached((X_in, y_in, model, self.X_val, self.y_val,
                                 self.sample_weight, self.sample_weight_val), ("gram",),
                                lambda: self._gram_folds(model, X, y_enc))
            outcomes = evaluate_gram_folds(data, model.get_penalty(), lam, [inner_state.w],
                                           solver, engine, compute_grad, [0])
            if outcomes is not None:
                return _gram_result(outcomes, (inner_state,), [0], lam, compute_grad)
        pgmap, outer = self._problem(model, X_in, y_in, X, y_enc, inner_state.lipschitz)
        out = _solve_one(pgmap, outer, lam, solver, engine, inner_state, compute_grad)
        return _result(out.value, [out.grad] if compute_grad else None, lam, [1.0], [out])

    def training_map(self, model, X, y, solver, consume=False):
        """The map of ``model`` trained on ``X`` and ``y`` that the value-only evaluations
        with ``solver`` solve, built as an evaluation builds it and kept for the next
        ones (:meth:`_problem`), or None when those evaluations run compiled on Gram
        matrices and build no map (see :func:`~skhypergrad._gram_cv.gram_path_applies`).

        ``consume``: a dense ``X`` already in the solvers' layout (Fortran order) is
        centred in place rather than copied when the model fits an intercept (see
        :mod:`skhypergrad._design`): ``X`` then holds the centred rows, for a caller
        that owns ``X`` and reads it no more; the map is kept for the evaluations on
        ``X`` and is never built again from the centred rows (RuntimeError).
        """
        bound, Xv, _, y_enc, _ = self._prepare(model, X, y, None)
        if self._compiled(bound, Xv, solver, None):
            return None
        return self._problem(bound, X, y, Xv, y_enc, None, consume)[0]

    def _compiled(self, model, X, solver, engine):
        """Whether an evaluation with ``solver`` and ``engine`` (None: the value alone)
        runs compiled (:func:`~skhypergrad._gram_cv.gram_path_applies`, with the
        criterion's weights and ``X_val``)."""
        weighted = self.sample_weight is not None or self.sample_weight_val is not None
        return gram_path_applies(model, X, solver, engine, 1, _check_loss(self.loss, model),
                                 weighted, X_val=self.X_val)

    def _gram_folds(self, model, X, y_enc):
        """The compiled evaluation's :class:`~skhypergrad._gram_cv.GramFolds` (see
        :mod:`skhypergrad._gram_cv`)."""
        X_val, y_val = _check_data(self.X_val, self.y_val, ("X_val", "y_val"),
                                   classifier=model.is_classifier)
        if X_val.shape[1] != X.shape[1]:
            raise ValueError(f"X_val has {X_val.shape[1]} features, X has {X.shape[1]}.")
        return heldout_gram_folds(
            X, y_enc, X_val, model.encode(y_val), model.fit_intercept,
            _check_weights(self.sample_weight, X.shape[0]),
            _check_weights(self.sample_weight_val, X_val.shape[0], "sample_weight_val"))

    def _problem(self, model, X_in, y_in, X, y_enc, lipschitz, consume=False):
        """``(pgmap, outer)``, built once and reused while the criterion is evaluated on
        the same ``X``, ``y`` and model (as in a search), with a dense ``X`` in the
        layout of the solvers (one copy per search, not per solve; none when
        ``consume``, see :meth:`training_map`); the map keeps its Lipschitz constant
        and the solvers' per-design preparations (the Gram matrix of coordinate
        descent). Not pickled: a copy sent to a worker builds its own."""
        def build():
            if X is self.__dict__.get("_centred_in_place"):
                raise RuntimeError("HeldOut's training rows were centred in place by a map "
                                   "it no longer keeps; that map cannot be built again "
                                   "from them.")
            X_val, y_val = _check_data(self.X_val, self.y_val, ("X_val", "y_val"),
                                       classifier=model.is_classifier,
                                       multi_output=model.datafit_class.multi_output)
            if X_val.shape[1] != X.shape[1]:
                raise ValueError(f"X_val has {X_val.shape[1]} features, X has {X.shape[1]}.")
            sw = _check_weights(self.sample_weight, X.shape[0])
            sw_val = _check_weights(self.sample_weight_val, X_val.shape[0],
                                    "sample_weight_val")
            pgmap = _centred_map(model, X, y_enc, lipschitz, sw, owned=consume)
            if pgmap.design.X is X and pgmap.design.offset is not None \
                    and not sp.issparse(X):
                self._centred_in_place = X
            outer = _heldout_loss(model, self.loss, X_val, model.encode(y_val),
                                  frame=pgmap.design, sample_weight=sw_val)
            return pgmap, outer

        return self._cached((X_in, y_in, model, self.X_val, self.y_val, self.sample_weight,
                             self.sample_weight_val), self.loss, build)


class CrossVal(BaseCriterion):
    r"""K-fold cross-validation: mean over folds of the held-out loss.

    .. math::

        E(\lambda) = \frac{1}{K} \sum_{k=1}^K \frac{1}{|V_k|} \sum_{i \in V_k}
        \ell_{val}\big(y_i, x_i^T w^*_{-k}(\lambda) + b^*_{-k}(\lambda)\big)

    where :math:`w^*_{-k}` is trained on the rows outside fold :math:`V_k` with
    the same :math:`\lambda` (defined on the per-sample normalized objective,
    whatever the fold's size) and :math:`\ell_{val}` is as in :class:`HeldOut`.
    The mean is unweighted over folds, as ``ElasticNetCV``'s ``mse_path_``.

    A least-squares model (its datafit declares ``least_squares``) on an ``X`` of at most
    2048 columns (dense, or sparse with few columns, see :mod:`skhypergrad._gram_cv`),
    with or without sample weights, solved by coordinate descent and differentiated
    by an AID engine, is evaluated by one compiled call on the folds' (weighted) Gram
    matrices (formed once per search, :mod:`skhypergrad._gram_cv`): the same solutions to
    the same relative gap, held-out losses and implicit hypergradients (exact on the
    support), without a Python step per fold. The same holds for :class:`HeldOut`.
    Folds are solved and differentiated in parallel by a pure function under
    ``joblib.Parallel``, so ``joblib.parallel_config`` (e.g. a Dask backend)
    applies unchanged.

    Parameters
    ----------
    cv : int, cross-validation generator or iterable, default=5
        As in scikit-learn's ``check_cv``: an int gives ``StratifiedKFold``
        for a classifier and ``KFold`` otherwise (no shuffling). The splits
        must be the same at every call for warm starts to make sense: they are made
        once and kept while the criterion is evaluated on the same ``X``, ``y``, model
        and ``cv`` (as during a search), and made again for other ones (give a
        splitter with a fixed ``random_state`` when shuffling).
    n_jobs : int, default=None
        Folds run in parallel; None means 1 unless in a
        ``joblib.parallel_config`` context. Under a process backend (joblib's
        default) the folds run serially where the workers are not expected to pay
        (they get the data and rebuild the folds' problems at every evaluation; see
        :mod:`skhypergrad._parallel`): while the estimated work of an evaluation,
        ``W = sum_k e_k`` (``e_k`` the stored entries of fold ``k``'s training rows of
        ``X``), is below ``10^8`` (e.g. 25,000 x 1,000 dense, 5 folds); and whatever
        ``W`` for a least-squares datafit (weighted or not) with one output on dense ``X``
        of at most 2,048 features, fewer than a fold's training rows, which the
        calling process solves on the folds' Gram matrices, formed once (while it
        keeps the folds' copies of ``X``: ``K - 1`` times its size, up to 512 MiB).
        A backend chosen with ``joblib.parallel_config`` (threads, Dask) runs them as
        asked. A small dense least-squares problem is evaluated in one compiled call
        in the calling process whatever ``n_jobs`` (see below).
    loss : str, default="auto"
        Held-out loss, see :class:`HeldOut`.
    sample_weight : array-like of shape (n_samples,), default=None
        Weights of the rows of the ``X`` the criterion is evaluated on in the
        training datafit, split with the rows: a fold is trained on the weighted
        datafit of its training rows (rescaled to mean 1 there, see :class:`HeldOut`).
    score_sample_weight : array-like of shape (n_samples,), default=None
        Weights of the same rows in the held-out loss: a fold is scored by the
        weighted mean loss of its test rows (as ``ElasticNetCV`` weights its
        ``mse_path_``). The mean over the folds stays unweighted.
    """

    def __init__(self, cv=5, n_jobs=None, loss="auto", *, sample_weight=None,
                 score_sample_weight=None):
        self.cv = cv
        self.n_jobs = n_jobs
        self.loss = loss
        self.sample_weight = sample_weight
        self.score_sample_weight = score_sample_weight

    def _repr_params(self):
        return [("cv", repr(self.cv)), ("n_jobs", repr(self.n_jobs)), ("loss", repr(self.loss))]

    def _n_jobs(self, model, X, splits):
        """``n_jobs``, or 1 for folds that run serially (see ``n_jobs``)."""
        work, gram = evaluation_work(model.get_datafit(), [(X, len(tr)) for tr, _ in splits],
                                     weighted=self.sample_weight is not None)
        # the Gram matrices stay in the process with the fold copies (_fold_problems)
        kept = not sp.issparse(X) and (len(splits) - 1) * X.nbytes <= _FOLD_CACHE_BYTES
        return fold_n_jobs(self.n_jobs, work, gram and kept)

    def value_on_folds(self, model, X, y, lam, folds, *, solver, state=None):
        r"""Mean held-out loss over the folds ``folds`` only (indices into the splits).

        A cheaper estimate of the criterion, e.g. to choose where a search starts.
        ``state`` and the returned ``state`` cover every fold: the folds not
        evaluated keep theirs; ``values`` and ``n_iter`` are for ``folds`` only.
        """
        return self._evaluate(model, X, y, lam, solver, None, state, False, folds=folds)

    def _fold_problems(self, model, X_in, y_in, X, y_enc, splits, sparse_format=None):
        """The folds' ``(pgmap, outer)``, built once and reused while the criterion is
        evaluated on the same ``X``, ``y`` and model (as in a search), in a single
        process (the fold copies would otherwise travel to the workers; there ``X`` is
        sent once and indexed); a list of None otherwise. ``sparse_format``: that of
        the training rows of a sparse ``X`` (the solver's, see :func:`_fold_problem`).

        Kept, the fold maps keep their Lipschitz constants and the solvers'
        per-design preparations; the price is the fold copies of ``X``, about
        ``(K - 1)`` times its size (its stored entries and indices when sparse), and
        is not paid above ``_FOLD_CACHE_BYTES``.
        """
        none = [None] * len(splits)
        size = X.data.nbytes + X.indices.nbytes + X.indptr.nbytes if sp.issparse(X) \
            else X.nbytes
        if effective_n_jobs(self._n_jobs(model, X, splits)) != 1 or \
                (len(splits) - 1) * size > _FOLD_CACHE_BYTES:
            return none
        def build():
            weights = self._weights(X.shape[0])
            problems = [_fold_problem(model, X, y_enc, train, test, self.loss, None,
                                      sparse_format, *weights)
                        for train, test in splits]
            designs = [pgmap.design for pgmap, _ in problems]
            if problems[0][0].datafit.least_squares and all(map(gram_pays, designs)):
                # the folds will be solved again and again: their Gram matrices, from X's
                seed_row_subset_grams(X, designs, [train for train, _ in splits])
            return problems

        splits_key = (self.loss, sparse_format) + tuple(train.tobytes() for train, _ in splits)
        return self._cached((X_in, y_in, model, self.sample_weight,
                             self.score_sample_weight), splits_key, build)

    def _weights(self, n_samples):
        """``(sample_weight, score_sample_weight)`` as float64 vectors or None (each fold
        rescales its own rows')."""
        return (_check_weights(self.sample_weight, n_samples),
                _check_weights(self.score_sample_weight, n_samples, "score_sample_weight"))

    def _splits(self, X_in, y_in, model, X, y_enc):
        """The folds' :class:`~skhypergrad._folds._FoldSplits`, made once while the
        criterion is evaluated on the same data, model and ``cv``."""
        return self._cached((X_in, y_in, model, self.cv), (), lambda: _FoldSplits(
            cv_splits(self.cv, X, y_enc, classifier=model.is_classifier), X.shape[0]),
            slot="_split")

    def _cv_gram_folds(self, X_in, y_in, model, X, y_enc, splits):
        """The compiled evaluation's :class:`~skhypergrad._gram_cv.GramFolds`, formed
        once while the criterion is evaluated on the same data, model and splits."""
        return self._cached(
            (X_in, y_in, model, splits, self.sample_weight, self.score_sample_weight),
            ("gram",), lambda: cv_gram_folds(X, y_enc, list(splits), model.fit_intercept,
                                             *self._weights(X.shape[0])))

    def value_path(self, model, X, y, path, *, solver, state=None, near, patience):
        r"""Values of the criterion (no hypergradient) along ``path``, each point
        warm-started from the one before (the first from ``state``), until the path is
        past its minimum: its last value above its smallest once past ``near`` points,
        or else its last ``patience`` values all above the smallest of the ones
        before, the last not below the one before it (the rule of a search's starting
        scan, :func:`~skhypergrad._tune.tune`).

        When the compiled evaluation applies (see the class docstring), the whole path
        is one compiled call; otherwise None, and the caller evaluates the points one by
        one with :meth:`value`.

        Returns
        -------
        list of CriterionResult or None
            One per point evaluated; the ``state`` of the first and the last ones are
            their warm starts, those in between None.
        """
        X_in, y_in = X, y
        model, X, _, y_enc, _ = self._prepare(model, X_in, y_in, path[0])
        lams = model.check_path(path, X.shape[1])
        splits = self._splits(X_in, y_in, model, X, y_enc)
        states = _check_state(state, len(splits))
        weighted = self.sample_weight is not None or self.score_sample_weight is not None
        if not gram_path_applies(model, X, solver, None, len(splits),
                                 _check_loss(self.loss, model), weighted):
            return None
        data = self._cv_gram_folds(X_in, y_in, model, X, y_enc, splits)
        chosen = list(range(len(splits)))
        out = evaluate_gram_path(data, model.get_penalty(), lams, [st.w for st in states],
                                 solver, chosen, near, patience)
        if out is None:
            return None
        first, last = ([InnerState(w, None, st.lipschitz) for w, st in zip(ws, states)]
                       for ws in (out.first, out.last))
        n = out.values.shape[0]
        means = out.values.mean(axis=1).tolist()
        results = []
        for i in range(n):
            state_i = tuple(first) if i == 0 else tuple(last) if i == n - 1 else None
            results.append(CriterionResult(
                means[i], None, state_i, out.values[i], out.epochs[i],
                np.zeros(len(chosen), dtype=np.int64), np.full(len(chosen), np.nan)))
        return results

    def _evaluate(self, model, X, y, lam, solver, engine, state, compute_grad, folds=None):
        X_in, y_in = X, y
        model, X, _, y_enc, lam = self._prepare(model, X, y, lam)
        loss = _check_loss(self.loss, model)
        splits = self._splits(X_in, y_in, model, X, y_enc)
        states = _check_state(state, len(splits))
        chosen = range(len(splits)) if folds is None else [int(k) for k in folds]
        if folds is not None and not all(0 <= k < len(splits) for k in chosen):
            raise ValueError(f"folds must be indices of the {len(splits)} splits, got {folds}.")
        weighted = self.sample_weight is not None or self.score_sample_weight is not None
        if gram_path_applies(model, X, solver, engine, len(splits), loss, weighted):
            data = self._cv_gram_folds(X_in, y_in, model, X, y_enc, splits)
            outcomes = evaluate_gram_folds(data, model.get_penalty(), lam,
                                           [st.w for st in states], solver, engine,
                                           compute_grad, chosen)
            if outcomes is not None:
                return _gram_result(outcomes, states, chosen, lam, compute_grad)
        X = _rows_friendly(X)
        # the folds' (train, test) indices made once for this evaluation (a _FoldSplits
        # makes them again at every access)
        folds = [splits[k] for k in range(len(splits))]
        problems = self._fold_problems(model, X_in, y_in, X, y_enc, folds,
                                       _solver_format(solver))
        n_jobs = self._n_jobs(model, X, folds)
        data = [X, y_enc, self._weights(X.shape[0])]
        # with the folds' rows: on a Dask cluster once per search
        X, y_enc, weights, *rows = self._shipped(
            n_jobs, (X_in, y_in, model, splits, self.sample_weight, self.score_sample_weight),
            lambda: data + [index for pair in folds for index in pair])
        # a RandomState instance is drawn from here, once, whatever the backend
        solvers, engines = _spawn(solver, len(chosen)), _spawn(engine, len(chosen))
        outcomes = self._parallel(n_jobs)(
            delayed(_fold_value_and_grad)(model, X, y_enc, rows[2 * k], rows[2 * k + 1], lam,
                                          self.loss, task_solver, task_engine, states[k],
                                          compute_grad, problems[k], weights)
            for k, task_solver, task_engine in zip(chosen, solvers, engines))
        k = len(outcomes)
        value = np.mean([o.value for o in outcomes])
        grads = [o.grad for o in outcomes] if compute_grad else None
        result = _result(value, grads, lam, [1.0 / k] * k, outcomes)
        if folds is not None:
            new_states = list(states)
            for j, st in zip(chosen, result.state):
                new_states[j] = st
            result = result._replace(state=tuple(new_states))
        return result


def _spawn(obj, n_tasks):
    """The engines or solvers of ``n_tasks`` folds (their ``spawn``), ``obj`` itself for
    anything else (None: the value alone; ITD's solver)."""
    if isinstance(obj, (BaseEngine, BaseSolver)):
        return obj.spawn(n_tasks)
    return [obj] * n_tasks
