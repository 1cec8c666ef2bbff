r"""Cross-validation over folds prepared once, the criterion of :class:`HyperGradSearchCV`.

A fold's rows are indexed and the preprocessing steps of a pipeline fitted on
its training rows once per search (they do not depend on the tuned
parameters); each evaluation then solves every fold's inner problem and
averages the folds' :class:`~skhypergrad.criteria.HeldOut` losses.
"""

from typing import Any, NamedTuple

import numpy as np
from joblib import delayed, effective_n_jobs
from sklearn.base import clone
from sklearn.utils import _safe_indexing, check_array

from ._compact_states import _expand
from ._folds import _take_rows
from ._parallel import evaluation_work, fold_n_jobs
from ._validation import check_sparse_structure, named
from .criteria import (BaseCriterion, CriterionResult, HeldOut, _check_state, _heldout_loss,
                       _spawn)

__all__ = ["PreparedFolds", "prepare_fold"]


class _Fold(NamedTuple):
    """One split, ready for the inner problems.

    ``scale`` converts the search's ``lam`` (the normalized weights of a model
    trained on all ``n`` samples) to this fold's: 1 for ``Lasso`` /
    ``ElasticNet`` (scikit-learn normalizes by the number of samples),
    ``n / n_train`` for ``LogisticRegression`` and ``HuberRegressor``, whose
    ``C`` or ``alpha`` weighs a *sum* of losses, so that every fold is trained
    with the same ``C`` or ``alpha``, as in ``GridSearchCV`` (with sample weights,
    the ratio of their sums). It scales the penalty's weights only: a datafit's own
    hyperparameters (Huber's ``epsilon``, last in ``lam``) are not weights.

    ``sample_weight``: the weights of the training rows in the datafit;
    ``score_weight_train`` and ``score_weight_test``: those of the held-out losses on
    the training and the test rows (None: unit weights).

    ``target``: a ``TransformedTargetRegressor`` fitted on the fold's training targets
    (:class:`~skhypergrad._target_transform.TargetTransform`), or None; with it,
    ``y_train`` and ``y_test`` are the transformed targets (the inner problems' and the
    held-out losses') and ``raw`` the original ``(y_train, y_test)``, which the scorers
    score.
    """

    X_train: Any
    y_train: np.ndarray
    X_test: Any
    y_test: np.ndarray
    scale: float
    sample_weight: Any = None
    score_weight_train: Any = None
    score_weight_test: Any = None
    target: Any = None
    raw: Any = None

    @property
    def scored_targets(self):
        """``(y_train, y_test)`` as the scorers see them: the original targets."""
        return (self.y_train, self.y_test) if self.raw is None else self.raw


def prepare_fold(preprocessing, X, y, train, test, scale, sample_weight=None,
                 score_weight=None, target=None):
    """The fold's matrices: rows indexed, the preprocessing fitted on the training rows.

    ``sample_weight``: the datafit's weights of the training rows (already those
    rows'); ``score_weight``: the held-out losses' weights of all the rows of ``X``
    (split here), or None; ``target``: the
    :class:`~skhypergrad._target_transform.TargetTransform` of the targets, fitted on
    the training rows (None: the targets as given).
    """
    if isinstance(X, np.ndarray):
        # the training rows in the solvers' layout (Fortran order, float64) unless a
        # preprocessing reads them: one copy, which the fold's map then centres in place
        X_train = _take_rows(X, train, fortran=preprocessing is None)
        X_test = _take_rows(X, test)
    else:
        X_train, X_test = _safe_indexing(X, train), _safe_indexing(X, test)
    y_train, y_test = y[train], y[test]
    fitted = raw = None
    if target is not None:
        raw = (y_train, y_test)
        fitted, y_train = target.fit(X_train, y_train)
        y_test = target.transform(fitted, y_test)
    if preprocessing is not None:
        preprocessing = clone(preprocessing)
        X_train = preprocessing.fit_transform(X_train, y_train)
        X_test = preprocessing.transform(X_test)
    name = "X" if preprocessing is None else "X transformed by the pipeline"
    score_train = score_test = None
    if score_weight is not None:
        score_train, score_test = score_weight[train], score_weight[test]
    return _Fold(_as_float(X_train, name), y_train, _as_float(X_test, name), y_test,
                 float(scale), sample_weight, score_train, score_test, fitted, raw)


def _as_float(X, name="X"):
    """``X`` as float64 array or checked CSR / CSC (see ``check_sparse_structure``)."""
    X = check_sparse_structure(X, name)
    with named(name):
        return check_array(X, accept_sparse=("csr", "csc"), dtype=np.float64, input_name="X")


def _fold_result(model, fold, criterion, lam, solver, engine, state, compute_grad,
                 train_loss, scorer=None, view=None):
    """The fold's :class:`HeldOut` ``criterion`` at the fold's ``lam``, the training
    loss if asked, and the scores of ``scorer`` (test, then train with ``train_loss``)
    of the fold's model there (an empty array without ``scorer``).

    The gradient is in ``log lam``, unchanged by the fold's constant ``scale``.
    """
    lam = np.array(lam, dtype=np.float64)
    lam[:lam.shape[0] - model.n_datafit_hyper] *= fold.scale
    if compute_grad:
        res = criterion.value_and_grad(model, fold.X_train, fold.y_train, lam, solver=solver,
                                       engine=engine, state=state)
    else:
        res = criterion.value(model, fold.X_train, fold.y_train, lam, solver=solver,
                              state=state)
    w = res.state[0].w
    scores = np.empty(0) if scorer is None else \
        scorer(view, _expand(w), bool(np.isfinite(res.value)), train_loss)
    if not train_loss:
        return res, None, scores
    outer = _heldout_loss(model, "auto", fold.X_train, model.encode(fold.y_train),
                          sample_weight=fold.score_weight_train)
    return res, outer.value(w), scores


class PreparedFolds(BaseCriterion):
    r"""K-fold cross-validation over folds whose matrices were prepared beforehand.

    :math:`E(\lambda) = \frac1K \sum_k g_k(E_k(s_k\lambda))` where :math:`E_k` is the
    :class:`~skhypergrad.criteria.HeldOut` loss ``loss`` of fold :math:`k` (trained on
    its training rows, evaluated on its test rows), :math:`s_k` the fold's ``scale``
    and :math:`g_k` the fold's map ``transform`` (the identity by default; see
    :class:`~skhypergrad._scoring.FoldTransform`): the gradient is
    :math:`\frac1K \sum_k g_k'(E_k) \nabla E_k`. The folds carry their data: the
    ``X`` and ``y`` of the calls are ignored (the search passes None).

    ``values`` of the result: the K held-out losses :math:`E_k`, followed by the K
    training losses when ``train_loss`` is True (these do not enter ``value``), then,
    with ``scorer``, the scores of fold 0 (its M test scores, then its M training
    scores with ``train_loss``), of fold 1, ...

    Parameters
    ----------
    folds : list of _Fold
    n_jobs : int, default=None
        Folds solved in parallel with joblib; serially under a process backend
        (joblib's default) where the workers are not expected to pay
        (:func:`~skhypergrad._parallel.evaluation_work` of the folds' training designs,
        see :class:`~skhypergrad.criteria.CrossVal`'s ``n_jobs``).
    train_loss : bool, default=False
        Also compute each fold's loss on its training rows.
    loss : str, default="auto"
        The held-out loss (see :class:`~skhypergrad.criteria.HeldOut`).
    transform : callable, default=None
        ``(k, loss_k) -> (g_k(loss_k), g_k'(loss_k))``; None for the identity.
    scorer : FoldScorer, default=None
        Scores every fold's model at every evaluation, from ``views`` (one
        :class:`~skhypergrad._scoring.FoldView` per fold).
    views : list of FoldView, default=None
    pre_dispatch : int or str, default="2*n_jobs"
        joblib's ``pre_dispatch`` of the parallel folds.
    """

    def __init__(self, folds, n_jobs=None, train_loss=False, loss="auto", transform=None,
                 scorer=None, views=None, pre_dispatch="2*n_jobs"):
        self.folds = folds
        self.n_jobs = n_jobs
        self.train_loss = train_loss
        self.loss = loss
        self.transform = transform
        self.scorer = scorer
        self.views = [None] * len(folds) if views is None else views
        self.pre_dispatch = pre_dispatch
        # one HeldOut per fold for the whole search: in one process, each keeps its
        # fold's inner problem (and the solver's preparations) between evaluations
        self._criteria = [HeldOut(fold.X_test, fold.y_test, loss=loss,
                                  sample_weight=fold.sample_weight,
                                  sample_weight_val=fold.score_weight_test)
                          for fold in folds]

    def _repr_params(self):
        return [("n_folds", len(self.folds)), ("n_jobs", repr(self.n_jobs)),
                ("loss", repr(self.loss))]

    def training_maps(self, model, solver):
        """Each fold's map of ``model`` on its training rows as the value-only evaluations
        with ``solver`` solve it (:meth:`~skhypergrad.criteria.HeldOut.training_map`:
        built once, kept by the fold for the evaluations), when the folds are solved in
        this process; None for a fold whose evaluations build no map (they run
        compiled), and for every fold when they are solved in workers (which build
        their own).

        Without a training loss or a scorer (the only readers of a fold's training rows
        but its map), the map consumes the rows, the fold's own copy
        (:func:`prepare_fold`): a dense fold in the solvers' layout is centred in place,
        not copied again, and its ``X_train`` then holds the centred rows."""
        if effective_n_jobs(self._n_jobs(model)) != 1:
            return [None] * len(self.folds)
        consume = not self.train_loss and self.scorer is None
        return [criterion.training_map(model, fold.X_train, fold.y_train, solver, consume)
                for fold, criterion in zip(self.folds, self._criteria)]

    def _n_jobs(self, model):
        """The ``n_jobs`` of an evaluation's folds (see :func:`fold_n_jobs`)."""
        work, gram = evaluation_work(model.get_datafit(),
                                     [(fold.X_train, None) for fold in self.folds],
                                     weighted=self.folds[0].sample_weight is not None)
        return fold_n_jobs(self.n_jobs, work, gram)

    def _evaluate(self, model, X, y, lam, solver, engine, state, compute_grad):
        states = _check_state(state, len(self.folds))
        n_jobs = self._n_jobs(model)
        K = len(self.folds)
        # the folds' matrices, criteria and views: on a Dask cluster once per search
        shipped = self._shipped(n_jobs, (),
                                lambda: [*self.folds, *self._criteria, *self.views])
        folds, criteria, views = shipped[:K], shipped[K:2 * K], shipped[2 * K:]
        # a RandomState instance is drawn from here, once, whatever the backend
        solvers, engines = _spawn(solver, K), _spawn(engine, K)
        out = self._parallel(n_jobs, pre_dispatch=self.pre_dispatch)(
            delayed(_fold_result)(model, fold, criterion, lam, task_solver, task_engine, (st,),
                                  compute_grad, self.train_loss, self.scorer, view)
            for fold, criterion, st, view, task_solver, task_engine
            in zip(folds, criteria, states, views, solvers, engines))
        results = [res for res, _, _ in out]
        values = np.concatenate([res.values for res in results])
        if self.train_loss:
            values = np.concatenate([values, [loss for _, loss, _ in out]])
        values = np.concatenate([values] + [scores for _, _, scores in out])
        parts = [(res.value, 1.0) if self.transform is None else self.transform(k, res.value)
                 for k, res in enumerate(results)]
        grad = None
        if compute_grad:
            grad = np.mean([d * res.grad for (_, d), res in zip(parts, results)], axis=0)
        return CriterionResult(
            value=float(np.mean([v for v, _ in parts])),
            grad=grad,
            state=tuple(res.state[0] for res in results),
            values=values,
            n_iter=np.concatenate([res.n_iter for res in results]),
            n_iter_engine=np.concatenate([res.n_iter_engine for res in results]),
            engine_residual=np.concatenate([res.engine_residual for res in results]),
        )
