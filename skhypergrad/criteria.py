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
"""

import numbers
from contextlib import contextmanager
from typing import Any, NamedTuple

import numpy as np
import scipy.sparse as sp
from joblib import Parallel, delayed, effective_n_jobs
from sklearn.model_selection import check_cv
from sklearn.utils import check_array, check_random_state, column_or_1d

from ._compact_states import SparseVector, _AdjointOffGradient, _compact, _expand
from ._design import gram_pays, seed_row_subset_grams
from ._parallel import dask_client, evaluation_work, fold_n_jobs
from ._folds import _FoldSplits, _fold_problem, _rows_friendly, _solver_format
from ._gram_cv import (cv_gram_folds, evaluate_gram_folds, evaluate_gram_path,
                       gram_path_applies, heldout_gram_folds)
from ._outer_loss import _OuterLoss, _check_loss, _heldout_loss
from ._validation import check_sparse_structure, named
from .datafits import Quadratic, check_sample_weight
from .hypergrad import get_engine
from .hypergrad._protocols import GradientWithEntries
from .models import InnerModel
from .solvers._base import BaseSolver

__all__ = ["InnerState", "SparseVector", "CriterionResult", "HeldOut", "CrossVal", "SURE"]

class InnerState(NamedTuple):
    """Warm start of one inner problem.

    Attributes
    ----------
    w : ndarray or None
        Last inner solution ``[coef.ravel(), intercept]`` (the solver's warm start,
        or ITD's starting point).
    engine_state : object
        ``state`` of the engine's last :class:`~skhypergrad.hypergrad._base.HypergradResult`.
    lipschitz : float or None
        Lipschitz constant of the inner datafit's gradient, once computed (it
        depends on the rows only, not on ``lam``).
    """

    w: Any = None
    engine_state: Any = None
    lipschitz: Any = None


class CriterionResult(NamedTuple):
    """Outcome of a criterion evaluation.

    Attributes
    ----------
    value : float
        :math:`E(\\lambda)`.
    grad : ndarray of shape (n_hyper,) or None
        :math:`\\nabla_{\\log\\lambda} E = \\lambda \\odot \\nabla_\\lambda E`;
        None from :meth:`BaseCriterion.value`.
    state : tuple of InnerState
        One warm start per inner problem; pass it back as ``state``.
    values : ndarray
        Components of ``value``: ``[value]`` for :class:`HeldOut`, the held-out
        loss of every fold for :class:`CrossVal`, ``[mse, df]`` for :class:`SURE`.
    n_iter : ndarray of int
        Inner solver iterations per inner problem (0 when the engine iterates itself).
    n_iter_engine : ndarray of int
        Engine iterations per inner problem (0 without a gradient).
    engine_residual : ndarray of float
        Final residual of the engine per inner problem
        (:attr:`~skhypergrad.hypergrad.HypergradResult.residual`: what it compares
        with its ``tol``; nan without a gradient).
    """

    value: float
    grad: Any
    state: tuple
    values: np.ndarray
    n_iter: np.ndarray
    n_iter_engine: np.ndarray
    engine_residual: np.ndarray


class _Outcome(NamedTuple):
    value: float
    grad: Any           # gradient in lam (not log lam), or None
    state: InnerState
    n_iter: int
    n_iter_engine: int
    engine_residual: float


def _solve_one(pgmap, outer, lam, solver, engine, inner_state, compute_grad):
    """Solve one inner problem, evaluate ``outer`` there and (optionally) differentiate it.

    Engines that need the solution (``engine.needs_solution``) get ``w*`` from
    ``solver``; the others (ITD) iterate from the warm start themselves and the
    value is taken at their last iterate. Warm starts may be :class:`SparseVector`:
    they are made dense only when used (the solver's copy of ``w0`` is then the
    only dense one). The warm start and the returned state hold the model's own
    ``[coef, intercept]``; a centred map's coordinates (see :mod:`skhypergrad._design`)
    stay inside.
    """
    w0, engine_state, _ = inner_state
    design = pgmap.design
    if design.offset is not None and w0 is not None:
        w0 = design.from_original(_expand(w0))
    res = None
    if compute_grad and not engine.needs_solution:
        w_init = pgmap.design.zeros() if w0 is None else _expand(w0)
        res = engine.hypergradient(pgmap, lam, w_init, outer.grad,
                                   state=_engine_warm_start(engine, engine_state, outer.grad))
        w, n_iter = res.w, 0
    else:
        if solver is None:
            raise ValueError("solver is required (only ITD engines run without one).")
        sol = solver.solve(pgmap, lam, _expand(w0))
        w, n_iter = sol.w, sol.n_iter
        del sol
        if compute_grad:
            res = engine.hypergradient(
                pgmap, lam, w, outer.grad,
                state=_engine_warm_start(engine, engine_state, outer.grad))
    lip = pgmap.known_lipschitz
    value = outer.value(w)
    w = design.to_original(w)
    if res is None:
        return _Outcome(value, None, InnerState(w, engine_state, lip), n_iter, 0, np.nan)
    state = res.state
    if isinstance(state, GradientWithEntries):  # kept as stored, without the outer function
        state = _AdjointOffGradient.from_lazy(state)
    return _Outcome(value, np.asarray(res.grad, dtype=np.float64),
                    InnerState(w, state, lip), n_iter, int(res.n_iter), float(res.residual))


def _compact_like(x, stored):
    """The dense ``x`` stored on the entries of ``stored`` (a compact vector, sharing its
    index array) when its nonzeros are among them, else :func:`_compact`."""
    if isinstance(stored, SparseVector):
        values = x[stored.indices]
        if np.count_nonzero(values) == np.count_nonzero(x):
            return SparseVector(stored.indices, values, stored.size)
    return _compact(x)


def _engine_from_name(name, solver):
    """The engine ``name``, with the tolerance a search gives it at the solver's ``tol``."""
    engine = get_engine(name)
    if isinstance(solver, BaseSolver) and solver.tol is not None:
        engine.tol = engine.search_tol(solver.tol)
    return engine


def _engine_warm_start(engine, state, outer_grad):
    """A compact stored engine state as the engine takes it: lazy for the AID engines
    (``accepts_lazy_state``), dense for the others; anything else as it is."""
    if not isinstance(state, (SparseVector, _AdjointOffGradient)):
        return state
    if engine.accepts_lazy_state:
        return state if isinstance(state, SparseVector) else state.lazy(outer_grad)
    return _expand(state, outer_grad)


#: largest size of the fold copies of X that CrossVal keeps between evaluations
_FOLD_CACHE_BYTES = 512 * 2**20


def _fold_value_and_grad(model, X, y, train, test, lam, loss, solver, engine,
                         inner_state, compute_grad, problem=None, weights=(None, None)):
    """One cross-validation fold: train on ``train`` rows, held-out loss on ``test`` rows.

    A pure module-level function (like scikit-learn's ``_path_residuals``) so
    that joblib can run folds in any backend; ``X`` is only indexed here, unless
    the fold's ``problem`` (see :func:`_fold_problem`) is given already built.
    ``y`` is already encoded. For sparse ``X`` the warm starts come in and go
    out compact (dense only while the fold is solved): the solution as a
    :class:`SparseVector`, the engine's adjoint as the entries where it differs
    from the held-out gradient at that solution (recomputed when needed) or as
    a :class:`SparseVector`, whichever is smaller.
    """
    if problem is None:
        problem = _fold_problem(model, X, y, train, test, loss, inner_state.lipschitz,
                                _solver_format(solver), *weights)
    pgmap, outer = problem
    out = _solve_one(pgmap, outer, lam, solver, engine, inner_state, compute_grad)
    if not sp.issparse(X):
        return out
    # an engine state passed through stays the same object; the dense w is freed
    # (compacted) before the adjoint is compared with the gradient there
    v = out.state.engine_state
    dense_adjoint = compute_grad and isinstance(v, np.ndarray) and v.dtype == np.float64 \
        and v.shape == out.state.w.shape
    # the adjoint is relative to the outer gradient at w in the map's coordinates (those
    # of a centred design differ from the state's in the intercept: its own compact copy)
    w_map = pgmap.design.from_original(out.state.w)
    out = out._replace(state=out.state._replace(w=_compact(out.state.w), engine_state=None))
    w_map = out.state.w if w_map is None or pgmap.design.offset is None else \
        _compact_like(w_map, out.state.w)
    if dense_adjoint:
        v = _AdjointOffGradient.compress(v, w_map, outer.grad)
    elif compute_grad and isinstance(v, _AdjointOffGradient):  # stored so by the engine
        v = v.rebase(w_map)
    elif compute_grad:
        v = _compact(v)
    return out._replace(state=out.state._replace(engine_state=v))


def _check_data(X, y, names=("X", "y"), multi_output=False):
    """``X`` as float64 CSR / CSC or array, ``y`` 1d (2d float64 for a ``multi_output``
    datafit, one column per output) of the same length; errors name ``names`` (a
    malformed sparse ``X`` included, see
    :func:`~skhypergrad._validation.check_sparse_structure`)."""
    X = check_sparse_structure(X, names[0])
    with named(names[0]):
        X = check_array(X, accept_sparse=("csr", "csc"), dtype=np.float64,
                        input_name=names[0])
    with named(names[1]):
        y = check_array(y, dtype=np.float64, input_name=names[1]) if multi_output \
            else column_or_1d(y)
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"{names[0]} has {X.shape[0]} samples but {names[1]} has "
                         f"{y.shape[0]}.")
    return X, y


def _centred_map(model, X, y_enc, lipschitz, sample_weight=None):
    """``model``'s map on ``X`` in the layout of the solvers, centred when dense with an
    intercept (see :mod:`skhypergrad._design`): in place when the layout needed a copy,
    else on a copy (``X`` is the caller's); weighted by ``sample_weight`` if given."""
    X_solver = _rows_friendly(X)
    return model.make_map(X_solver, y_enc, lipschitz,
                          center="inplace" if X_solver is not X else True,
                          sample_weight=sample_weight)


def _check_weights(sample_weight, n_samples, name="sample_weight"):
    """``sample_weight`` as a float64 vector of length ``n_samples`` (None stays None;
    ValueError naming ``name`` otherwise)."""
    if sample_weight is None:
        return None
    s = np.asarray(sample_weight, dtype=np.float64)
    if s.ndim != 1 or s.shape[0] != n_samples:
        raise ValueError(f"{name} has shape {s.shape}; it needs one weight per row of "
                         f"the data ({n_samples}).")
    return check_sample_weight(s, n_samples)


def _check_state(state, n_problems):
    if state is None:
        return (InnerState(),) * n_problems
    state = tuple(InnerState(*s) for s in state)
    if len(state) != n_problems:
        raise ValueError(f"state has {len(state)} inner problem(s), this criterion has "
                         f"{n_problems}; pass the state returned for the same data.")
    return state


def _result(value, grads, lam, weights, outcomes, values=None):
    """Combine per-problem outcomes: ``grad = lam * sum_k weights_k grad_k``."""
    grad = None
    if grads is not None:
        grad = lam * sum(wk * gk for wk, gk in zip(weights, grads))
    return CriterionResult(
        value=float(value), grad=grad, state=tuple(o.state for o in outcomes),
        values=np.array([o.value for o in outcomes] if values is None else values,
                        dtype=np.float64),
        n_iter=np.array([o.n_iter for o in outcomes], dtype=np.int64),
        n_iter_engine=np.array([o.n_iter_engine for o in outcomes], dtype=np.int64),
        engine_residual=np.array([o.engine_residual for o in outcomes], dtype=np.float64),
    )


def _gram_result(outcomes, states, chosen, lam, compute_grad):
    """The :class:`CriterionResult` of the compiled evaluation's ``outcomes`` (one per fold
    of ``chosen``, see :func:`~skhypergrad._gram_cv.evaluate_gram_folds`); the folds
    not chosen keep their ``states``."""
    new_states = list(states)
    per_fold = []
    for k, o in zip(chosen, outcomes):
        new_states[k] = InnerState(o.w, None, states[k].lipschitz)
        per_fold.append(_Outcome(o.value, o.grad, new_states[k], o.n_iter, o.n_iter_engine,
                                 o.engine_residual))
    K = len(per_fold)
    grads = [o.grad for o in per_fold] if compute_grad else None
    result = _result(np.mean([o.value for o in per_fold]), grads, lam, [1.0 / K] * K,
                     per_fold)
    return result._replace(state=tuple(new_states))


class BaseCriterion:
    """Shared entry points; subclasses implement ``_evaluate``."""

    #: the attributes :meth:`_cached` keeps its entries in (never pickled)
    _CACHE_SLOTS = ("_cache", "_prepared", "_split", "_open")

    def _cached(self, same, equal, build, slot="_cache"):
        """``build()``, kept between evaluations while the objects ``same`` (compared by
        identity) and the values ``equal`` do not change, as during a search.

        One entry per ``slot`` (one of :attr:`_CACHE_SLOTS`), dropped before a new one
        is built (it may hold copies of ``X``), and never pickled: a copy sent to a
        worker builds its own.
        """
        cached = self.__dict__.get(slot)
        if cached is not None and len(cached[0]) == len(same) \
                and all(a is b for a, b in zip(cached[0], same)) and cached[1] == equal:
            return cached[2]
        setattr(self, slot, None)
        value = build()
        setattr(self, slot, (same, equal, value))
        return value

    def value_path(self, model, X, y, path, *, solver, state=None, near, patience):
        """Values along ``path`` in one call (see :meth:`CrossVal.value_path`); None
        here: the caller evaluates the points one by one with :meth:`value`."""
        return None

    def whole_gram(self, X, y):
        """The :class:`~skhypergrad._gram_cv.GramFolds` of one problem trained on all
        the rows of ``X`` and ``y`` (the objects the criterion was last evaluated on), from
        the sums
        of the folds' Gram matrices the compiled evaluation keeps
        (:attr:`~skhypergrad._gram_cv.GramFolds.whole`): a refit on all the rows then
        forms no Gram matrix of its own. None when the criterion keeps none for them."""
        cached = self.__dict__.get("_cache")
        if cached is None or cached[1] != ("gram",) or cached[0][0] is not X \
                or cached[0][1] is not y:
            return None
        return cached[2].whole

    def __getstate__(self):
        state = self.__dict__.copy()
        for slot in self._CACHE_SLOTS:
            state.pop(slot, None)
        return state

    @contextmanager
    def workers(self):
        """Keep one ``joblib.Parallel`` (and its workers) for the evaluations made inside
        the ``with`` block, e.g. a search's.

        The arrays the folds are given are then sent to the workers once for the
        block, not once per evaluation: a process backend (loky, joblib's default)
        writes an array above its ``max_nbytes`` to a memory-mapped file the first time
        and passes a reference afterwards; under the Dask backend the folds' data is
        scattered to the cluster once (:meth:`_shipped`) and the tasks of every
        evaluation refer to it; other backends keep their own state for the block. The
        ``Parallel`` is opened at the first evaluation that runs its folds in parallel
        (see :class:`CrossVal`'s ``n_jobs``), never when they all run serially; a
        criterion with a single inner problem never opens one.
        """
        self._open = [None, None]  # the Parallel, once opened; the data on a cluster
        try:
            yield self
        finally:
            opened = self._open[0]
            del self._open  # the cluster releases the data with its futures
            if opened is not None:
                opened.__exit__(None, None, None)

    def _parallel(self, n_jobs, **kwargs):
        """A ``joblib.Parallel`` for ``n_jobs`` (and ``kwargs``): the one kept by
        :meth:`workers` when inside its block and ``n_jobs`` asks for more than one job,
        else a new one."""
        opened = self.__dict__.get("_open")
        if opened is None or effective_n_jobs(n_jobs) == 1:
            return Parallel(n_jobs=n_jobs, **kwargs)
        if opened[0] is None:
            opened[0] = Parallel(n_jobs=n_jobs, **kwargs).__enter__()
        return opened[0]

    def _shipped(self, n_jobs, same, objects):
        """``objects()`` (a list) as the folds' tasks are given them: under joblib's Dask
        backend, inside :meth:`workers` and with more than one job, futures of the
        objects, scattered to every worker of the cluster once for the block (again only
        when the objects ``same``, compared by identity, change), which the tasks of every
        evaluation refer to; the objects themselves otherwise (joblib's own Dask
        backend would scatter them again at every evaluation)."""
        opened = self.__dict__.get("_open")
        client = None if opened is None or effective_n_jobs(n_jobs) == 1 else dask_client()
        if client is None:
            return objects()
        kept = opened[1]
        if kept is None or len(kept[0]) != len(same) \
                or not all(a is b for a, b in zip(kept[0], same)):
            opened[1] = None  # the previous data released first
            opened[1] = (tuple(same), client.scatter(objects(), broadcast=True, hash=False))
        return opened[1][1]

    def value_and_grad(self, model, X, y, lam, *, solver, engine, state=None):
        r"""Value of the criterion and its gradient with respect to :math:`\log\lambda`.

        Parameters
        ----------
        model : InnerModel
            The inner model (a classifier is bound to the classes of ``y`` here
            if it is not already, see :meth:`InnerModel.bind`).
        X : ndarray or sparse matrix of shape (n_samples, n_features)
            Training data (CSR / CSC kept sparse; converted to float64).
        y : array-like of shape (n_samples,)
            Training targets (user labels for a classifier).
        lam : array-like of shape (n_hyper,)
            Hyperparameters :math:`\lambda` (not their log).
        solver : solver instance or None
            Inner solver (``solve(pgmap, lam, w0)``); may be None only for an
            engine that does not need the solution (ITD).
        engine : engine instance or str
            Hypergradient engine (``hypergradient(pgmap, lam, w, outer_grad, state)``),
            or a name for :func:`skhypergrad.hypergrad.get_engine`, built with the
            tolerance a search gives it at the solver's ``tol``
            (:meth:`~skhypergrad.hypergrad.BaseEngine.search_tol`: the solver's
            ``tol`` itself for the deterministic engines, NSID's own for NSID),
            or its default without a solver (ITD).
        state : tuple of InnerState, default=None
            ``state`` of a previous result on the same data (warm starts).

        Returns
        -------
        CriterionResult
            ``value``, ``grad`` (in :math:`\log\lambda`), the new ``state`` and
            per-problem diagnostics.
        """
        if isinstance(engine, str):
            engine = _engine_from_name(engine, solver)
        if engine is None:
            raise ValueError("engine is required for value_and_grad; use value() for "
                             "the criterion alone.")
        return self._evaluate(model, X, y, lam, solver, engine, state, True)

    def value(self, model, X, y, lam, *, solver, state=None):
        r"""Value of the criterion alone (no hypergradient), e.g. for line searches.

        Parameters
        ----------
        model : InnerModel
            The inner model.
        X : ndarray or sparse matrix of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,)
            Training targets.
        lam : array-like of shape (n_hyper,)
            Hyperparameters :math:`\lambda` (not their log).
        solver : solver instance
            Inner solver.
        state : tuple of InnerState, default=None
            Warm starts; their engine states are passed through unchanged.

        Returns
        -------
        CriterionResult
            With ``grad=None``.
        """
        return self._evaluate(model, X, y, lam, solver, None, state, False)

    def _prepare(self, model, X, y, lam):
        """``(model, X, y, y_enc, lam)``: the model bound to ``y``, the data validated
        (:func:`_check_data`) and encoded, ``lam`` checked; the data (and, for
        :class:`CrossVal`, its splits) validated once while the criterion is evaluated
        on the same ``X``, ``y`` and model, as during a search (``X`` modified in place
        between two evaluations is not supported, as by the solvers)."""
        if not isinstance(model, InnerModel):
            raise ValueError(f"model must be a skhypergrad InnerModel, got "
                             f"{type(model).__name__}; convert scikit-learn estimators "
                             "with skhypergrad.models.from_estimator.")

        def build():
            Xv, yv = _check_data(X, y, multi_output=model.datafit_class.multi_output)
            bound = model.bind(yv)
            return bound, Xv, yv, bound.encode(yv)

        bound, Xv, yv, y_enc = self._cached((X, y, model), (), build, slot="_prepared")
        return bound, Xv, yv, y_enc, bound.check_lam(lam, Xv.shape[1])

    def __repr__(self):
        params = ", ".join(f"{k}={v}" for k, v in self._repr_params())
        return f"{type(self).__name__}({params})"


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
    (``mean_squared_error`` averaged over the outputs).

    Parameters
    ----------
    X_val : ndarray or sparse matrix of shape (n_val, n_features)
    y_val : array-like of shape (n_val,) or (n_val, n_tasks)
        Validation targets, in the same labels as the training targets.
    loss : {"auto", "squared", "logistic", "multinomial", "multitask_squared"}, default="auto"
        ``"auto"`` takes the loss matching the model's datafit; any other value
        must match it.
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
        weighted = self.sample_weight is not None or self.sample_weight_val is not None
        if not sp.issparse(self.X_val) and gram_path_applies(
                model, X, solver, engine, 1, _check_loss(self.loss, model), weighted):
            data = self._cached((X_in, y_in, model, self.X_val, self.y_val), ("gram",),
                                lambda: self._gram_folds(model, X, y_enc))
            outcomes = evaluate_gram_folds(data, model.get_penalty(), lam, [inner_state.w],
                                           solver, engine, compute_grad, [0])
            if outcomes is not None:
                return _gram_result(outcomes, (inner_state,), [0], lam, compute_grad)
        pgmap, outer = self._problem(model, X_in, y_in, X, y_enc, inner_state.lipschitz)
        out = _solve_one(pgmap, outer, lam, solver, engine, inner_state, compute_grad)
        return _result(out.value, [out.grad] if compute_grad else None, lam, [1.0], [out])

    def _gram_folds(self, model, X, y_enc):
        """The compiled evaluation's :class:`~skhypergrad._gram_cv.GramFolds` (see
        :mod:`skhypergrad._gram_cv`)."""
        X_val, y_val = _check_data(self.X_val, self.y_val, ("X_val", "y_val"))
        if X_val.shape[1] != X.shape[1]:
            raise ValueError(f"X_val has {X_val.shape[1]} features, X has {X.shape[1]}.")
        return heldout_gram_folds(X, y_enc, X_val, model.encode(y_val), model.fit_intercept)

    def _problem(self, model, X_in, y_in, X, y_enc, lipschitz):
        """``(pgmap, outer)``, built once and reused while the criterion is evaluated on
        the same ``X``, ``y`` and model (as in a search), with a dense ``X`` in the
        layout of the solvers (one copy per search, not per solve); the map keeps its
        Lipschitz constant and the solvers' per-design preparations (the Gram
        matrix of coordinate descent). Not pickled: a copy sent to a worker
        builds its own."""
        def build():
            X_val, y_val = _check_data(self.X_val, self.y_val, ("X_val", "y_val"),
                                       model.datafit_class.multi_output)
            if X_val.shape[1] != X.shape[1]:
                raise ValueError(f"X_val has {X_val.shape[1]} features, X has {X.shape[1]}.")
            sw = _check_weights(self.sample_weight, X.shape[0])
            sw_val = _check_weights(self.sample_weight_val, X_val.shape[0],
                                    "sample_weight_val")
            pgmap = _centred_map(model, X, y_enc, lipschitz, sw)
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
    unweighted, solved by coordinate descent and differentiated
    by an AID engine, is evaluated by one compiled call on the folds' Gram matrices
    (formed once per search, :mod:`skhypergrad._gram_cv`): the same solutions to the
    same relative gap, held-out losses and implicit hypergradients (exact on the
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
        ``W`` for an unweighted least-squares datafit with one output on dense ``X``
        of at most 2,048 features, fewer than a fold's training rows, which the
        calling process solves on the folds' Gram matrices, formed once (while it
        keeps the folds' copies of ``X``: ``K - 1`` times its size, up to 512 MiB).
        A backend chosen with ``joblib.parallel_config`` (threads, Dask) runs them as
        asked. A small dense least-squares problem is evaluated in one compiled call
        in the calling process whatever ``n_jobs`` (see below).
    loss : {"auto", "squared", "logistic", "multinomial", "multitask_squared"}, default="auto"
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

    def _fold_problems(self, model, X_in, y_in, X, y_enc, splits):
        """The folds' ``(pgmap, outer)``, built once and reused while the criterion is
        evaluated on the same ``X``, ``y`` and model (as in a search), for dense ``X``
        in a single process (the fold copies would otherwise travel to the workers;
        there ``X`` is sent once and indexed); a list of None otherwise.

        Kept, the fold maps keep their Lipschitz constants and the solvers'
        per-design preparations; the price is the fold copies of ``X``, about
        ``(K - 1)`` times its size, and is not paid above ``_FOLD_CACHE_BYTES``.
        """
        none = [None] * len(splits)
        if sp.issparse(X) or effective_n_jobs(self._n_jobs(model, X, splits)) != 1 or \
                (len(splits) - 1) * X.nbytes > _FOLD_CACHE_BYTES:
            return none
        def build():
            weights = self._weights(X.shape[0])
            problems = [_fold_problem(model, X, y_enc, train, test, self.loss, None, None,
                                      *weights)
                        for train, test in splits]
            designs = [pgmap.design for pgmap, _ in problems]
            if problems[0][0].datafit.least_squares and all(map(gram_pays, designs)):
                # the folds will be solved again and again: their Gram matrices, from X's
                seed_row_subset_grams(X, designs, [train for train, _ in splits])
            return problems

        splits_key = (self.loss,) + tuple(train.tobytes() for train, _ in splits)
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
            check_cv(self.cv, y_enc, classifier=model.is_classifier).split(X, y_enc),
            X.shape[0]), slot="_split")

    def _cv_gram_folds(self, X_in, y_in, model, X, y_enc, splits):
        """The compiled evaluation's :class:`~skhypergrad._gram_cv.GramFolds`, formed
        once while the criterion is evaluated on the same data, model and splits."""
        return self._cached((X_in, y_in, model, splits), ("gram",), lambda: cv_gram_folds(
            X, y_enc, list(splits), model.fit_intercept))

    def value_path(self, model, X, y, path, *, solver, state=None, near, patience):
        r"""Values of the criterion (no hypergradient) along ``path``, each point
        warm-started from the one before (the first from ``state``), until the path is
        past its minimum: its last value above its smallest once past ``near`` points,
        or else its last ``patience`` values all above the smallest of the ones before
        (the rule of a search's starting scan, :func:`~skhypergrad._tune.tune`).

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
        lams = [model.check_lam(lam, X.shape[1]) for lam in path]
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
        results = []
        for i in range(n):
            state_i = tuple(first) if i == 0 else tuple(last) if i == n - 1 else None
            results.append(CriterionResult(
                float(np.mean(out.values[i])), None, state_i, out.values[i], out.epochs[i],
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
        problems = self._fold_problems(model, X_in, y_in, X, y_enc, splits)
        n_jobs = self._n_jobs(model, X, splits)
        data = [X, y_enc, self._weights(X.shape[0])]
        # with the folds' rows: on a Dask cluster once per search
        X, y_enc, weights, *rows = self._shipped(
            n_jobs, (X_in, y_in, model, splits, self.sample_weight, self.score_sample_weight),
            lambda: data + [index for k in range(len(splits)) for index in splits[k]])
        outcomes = self._parallel(n_jobs)(
            delayed(_fold_value_and_grad)(model, X, y_enc, rows[2 * k], rows[2 * k + 1], lam,
                                          self.loss, solver, engine, states[k], compute_grad,
                                          problems[k], weights)
            for k in chosen)
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


_DF_METHODS = ("auto", "exact", "monte-carlo")


class SURE(BaseCriterion):
    r"""Stein's unbiased risk estimate of a least-squares model.

    For :math:`y = \mu + \varepsilon`, :math:`\varepsilon \sim N(0, \sigma^2 I_n)`,
    and the fit :math:`\hat y(y) = X w^*(y) + b^*(y)` of the model trained on
    :math:`(X, y)`,

    .. math::

        \mathrm{SURE}(\lambda) = \frac1n \|y - \hat y\|^2 - \sigma^2
        + \frac{2\sigma^2}{n}\, \mathrm{df}, \qquad
        \mathrm{df} = \mathrm{div}_y\, \hat y
        = \sum_{i=1}^n \frac{\partial \hat y_i}{\partial y_i},

    is an unbiased estimate of the prediction risk
    :math:`\frac1n E\|\hat y - \mu\|^2`. The intercept is part of the fit:
    :math:`\mu` includes the true intercept and a fitted intercept counts in df.
    ``values`` of the result are ``[mse, df]``.

    **Exact degrees of freedom** (``df="exact"``; ``"auto"`` when the datafit is
    least squares, :attr:`~skhypergrad.datafits.BaseDatafit.least_squares`). Every
    penalty is an elastic net :math:`\sum_j l1_j |w_j| + \frac{l2}{2}\|w\|^2`
    (:mod:`skhypergrad.penalties`). With :math:`S` the support of :math:`w^*`,
    :math:`Z = [X_S, 1]` (:math:`Z = X_S` without intercept),
    :math:`H = Z^T Z / n` and :math:`P` diagonal, 1 on the coefficients and 0 on
    the intercept, the fit is locally (support and signs fixed)
    :math:`\hat y = Z (H + l2\,P)^{-1} Z^T y / n` plus a term constant in
    :math:`y`, so that, with :math:`M = (H + l2\,P)^{-1}`,

    .. math::

        \mathrm{df} = \mathrm{tr}(M H) = n_b + \sum_j \frac{e_j}{e_j + l2},
        \qquad
        \frac{\partial\,\mathrm{df}}{\partial\, l2} = -\mathrm{tr}(M P M H)
        = -\sum_j \frac{e_j}{(e_j + l2)^2},
        \qquad
        \frac{\partial\,\mathrm{df}}{\partial\, l1} = 0,

    where :math:`n_b` is 1 with an intercept and 0 without, and :math:`e_j` are
    the eigenvalues of :math:`X_S^T X_S / n`, or with an intercept of its
    centered version :math:`X_S^T (I - \frac1n 1 1^T) X_S / n` (the Schur
    complement of the intercept in :math:`H`). df is piecewise constant in
    :math:`l1`: SURE jumps where the support changes (by :math:`2\sigma^2/n` per
    coefficient for the Lasso) and its gradient is that of the smooth piece at
    :math:`\lambda` (the Monte-Carlo estimate, with a step :math:`\epsilon > 0`,
    is continuous in :math:`\lambda`). Eigenvalues at or
    below :math:`|S|\,\epsilon_{\mathrm{mach}}` times the largest diagonal entry of
    :math:`X_S^T X_S / n` count as zeros (the pseudo-inverse on a singular
    :math:`H`): for the Lasso df is the rank of :math:`Z`, that is :math:`|S| + n_b`
    when its columns are independent, also for :math:`p > n`. The gradient is
    the hypergradient of the training mean squared error (one inner problem)
    plus :math:`\frac{2\sigma^2}{n}` times the derivative of df, mapped to
    :math:`\lambda` by the penalty's
    :meth:`~skhypergrad.penalties.BasePenalty.weights_vjp`.

    **Monte Carlo** (``df="monte-carlo"``; ``"auto"`` for other datafits): the
    finite-difference Monte-Carlo divergence of Deledalle, Vaiter, Fadili and
    Peyré (SUGAR), with :math:`K` = ``n_probes`` directions
    :math:`\delta_k \sim N(0, I_n)` and a step :math:`\epsilon`,

    .. math::

        \mathrm{df} \approx \frac{1}{K \epsilon} \sum_{k=1}^{K}
        \delta_k^T \big(\hat y(y + \epsilon \delta_k) - \hat y(y)\big).

    It needs :math:`1 + K` inner problems (:math:`y` and each perturbed target),
    all solved by the given solver on one shared design, each probe starting
    from the solution at :math:`y` when it has no warm start of its own. SURE is
    then a sum of one outer function of each solution, and its gradient the sum
    of their hypergradients (any engine, any penalty). The variance of the
    estimate of df falls as :math:`1 / K`. Its mean over the directions is the
    mean of :math:`\mathrm{div}\,\hat y(y + \epsilon\delta)` (Stein's lemma in
    :math:`\delta`), the df at a noise level :math:`\sqrt{\sigma^2 + \epsilon^2}`
    rather than :math:`\sigma`: a bias that a smaller :math:`\epsilon` reduces.
    With an int ``random_state`` the same directions serve every call, so their
    error on df (about :math:`\sqrt{2\,\mathrm{df} / K}`) does not average out
    over noise draws either. The finite difference divides the inner solver's
    error by :math:`\epsilon`: an error :math:`e` on the predictions moves df by
    up to :math:`\|\delta_k\|\, e / \epsilon \approx \sqrt{n}\, e / \epsilon`,
    so the solver's tolerance must keep that far below 1.

    Parameters
    ----------
    sigma : float
        Noise standard deviation :math:`\sigma` (known or estimated beforehand), > 0.
    eps : float, default=None
        Monte Carlo: the finite-difference step :math:`\epsilon`; None uses the
        power law :math:`2\sigma / n^{0.3}` of Deledalle et al.
    random_state : int, RandomState instance or None, default=0
        Monte Carlo: draws the directions :math:`\delta_k`. An int (the default)
        gives the same directions at every call, so SURE is a deterministic
        function of :math:`\lambda` (needed by line searches); a RandomState
        instance or None draws new directions per call.
    df : {"auto", "exact", "monte-carlo"}, default="auto"
        How df is computed: exactly (least-squares datafits only), by Monte Carlo,
        or ``"auto"``: exactly when the model's datafit is least squares, by Monte
        Carlo otherwise.
    n_probes : int, default=10
        Monte Carlo: the number of directions :math:`K`.

    References
    ----------
    C. M. Stein. Estimation of the mean of a multivariate normal distribution.
    Ann. Statist. 9(6), 1981.

    H. Zou, T. Hastie, R. Tibshirani. On the "degrees of freedom" of the lasso.
    Ann. Statist. 35(5), 2007.

    R. J. Tibshirani, J. Taylor. Degrees of freedom in lasso problems. Ann.
    Statist. 40(2), 2012.

    C.-A. Deledalle, S. Vaiter, J. Fadili, G. Peyré. Stein Unbiased GrAdient
    estimator of the Risk (SUGAR) for multiple parameter selection. SIAM J.
    Imaging Sci. 7(4), 2014.
    """

    def __init__(self, sigma, eps=None, random_state=0, *, df="auto", n_probes=10):
        self.sigma = sigma
        self.eps = eps
        self.random_state = random_state
        self.df = df
        self.n_probes = n_probes

    def _repr_params(self):
        return [("sigma", repr(self.sigma)), ("eps", repr(self.eps)),
                ("random_state", repr(self.random_state)), ("df", repr(self.df)),
                ("n_probes", repr(self.n_probes))]

    def _sigma(self):
        sigma = float(self.sigma)
        if not sigma > 0:
            raise ValueError(f"SURE needs sigma > 0, got sigma={self.sigma!r}.")
        return sigma

    def _uses_exact_df(self, datafit):
        """Whether df is computed exactly for ``datafit`` (ValueError for a bad ``df``)."""
        if not (isinstance(self.df, str) and self.df in _DF_METHODS):
            raise ValueError(f"SURE's df must be one of {_DF_METHODS}, got {self.df!r}.")
        if self.df == "exact" and not datafit.least_squares:
            raise ValueError(f"SURE(df='exact') needs a least-squares datafit, got "
                             f"{datafit!r}; use df='monte-carlo'.")
        return self.df == "exact" or (self.df == "auto" and datafit.least_squares)

    def direction(self, n_samples):
        r"""The Monte-Carlo directions and the finite-difference step.

        Parameters
        ----------
        n_samples : int
            Number of training samples :math:`n`.

        Returns
        -------
        delta : ndarray of shape (n_probes, n_samples)
            :math:`\delta_k \sim N(0, I_n)`, one per row, drawn from ``random_state``.
        eps : float
            :math:`\epsilon`.
        """
        sigma = self._sigma()
        n_probes = self.n_probes
        if not (isinstance(n_probes, numbers.Integral) and not isinstance(n_probes, bool)
                and n_probes >= 1):
            raise ValueError(f"SURE needs an integer n_probes >= 1, got "
                             f"n_probes={self.n_probes!r}.")
        eps = 2.0 * sigma / n_samples ** 0.3 if self.eps is None else float(self.eps)
        if not eps > 0:
            raise ValueError(f"SURE needs eps > 0, got eps={self.eps!r}.")
        delta = check_random_state(self.random_state).standard_normal((int(n_probes),
                                                                       n_samples))
        return delta, eps

    def _evaluate(self, model, X, y, lam, solver, engine, state, compute_grad):
        X_in, y_in = X, y
        model, X, _, y_enc, lam = self._prepare(model, X, y, lam)
        if model.is_classifier or model.datafit_class.multi_output:
            raise ValueError("SURE is defined for single-output least squares models only.")
        sigma2 = self._sigma() ** 2
        if self._uses_exact_df(model.get_datafit()):
            (inner_state,) = _check_state(state, 1)
            pgmap = self._map(model, X_in, y_in, X, y_enc, inner_state.lipschitz)
            return self._exact(pgmap, lam, solver, engine, inner_state, compute_grad, sigma2)
        deltas, eps = self.direction(X.shape[0])
        states = _check_state(state, 1 + deltas.shape[0])
        pgmap = self._map(model, X_in, y_in, X, y_enc, states[0].lipschitz)
        return self._monte_carlo(pgmap, lam, solver, engine, states, compute_grad, sigma2,
                                 deltas, eps)

    def _map(self, model, X_in, y_in, X, y_enc, lipschitz):
        """The map of the model trained on ``(X, y)``, built once and reused while the
        criterion is evaluated on the same ``X``, ``y`` and model (as in a search), with
        a dense ``X`` in the layout of the solvers; the Monte-Carlo probes share its
        design (:meth:`~skhypergrad.fixed_point.ProxGradMap.with_target`). Not pickled."""
        return self._cached((X_in, y_in, model), (),
                            lambda: _centred_map(model, X, y_enc, lipschitz))

    @staticmethod
    def _exact(pgmap, lam, solver, engine, inner_state, compute_grad, sigma2):
        """SURE with the exact df: one inner problem, the training MSE as its outer function."""
        n = pgmap.n_samples
        # twice Quadratic's ||y - yhat||^2 / (2n): the mean squared error
        outer = _OuterLoss(pgmap.design, pgmap.y, Quadratic(), 2.0)
        out = _solve_one(pgmap, outer, lam, solver, engine, inner_state, compute_grad)
        df, ddf_dl2 = _least_squares_df(pgmap, pgmap.design.from_original(out.state.w), lam)
        c = 2.0 * sigma2 / n
        value = out.value - sigma2 + c * df
        grads = None
        if compute_grad:
            ddf = pgmap.penalty.weights_vjp(np.zeros(pgmap.n_features), ddf_dl2)
            grads = [out.grad + c * np.asarray(ddf, dtype=np.float64)]
        return _result(value, grads, lam, [1.0], [out], values=[out.value, df])

    @staticmethod
    def _monte_carlo(pgmap, lam, solver, engine, states, compute_grad, sigma2, deltas, eps):
        """SURE with the Monte-Carlo df: ``1 + K`` inner problems, for ``y`` and
        ``y + eps delta_k``."""
        n, K = pgmap.n_samples, deltas.shape[0]
        design, y = pgmap.design, pgmap.y
        c = 2.0 * sigma2 / (n * eps * K)
        # SURE = [||y - yhat_0||^2 / n - c sum_k delta_k . yhat_0]
        #        + sum_k [c delta_k . yhat_k] - sigma^2
        base = _solve_one(pgmap, _OuterLoss(design, y, Quadratic(), 2.0,
                                            -c * deltas.sum(axis=0)),
                          lam, solver, engine, states[0], compute_grad)
        probes = []
        for delta, st in zip(deltas, states[1:]):
            if st.w is None:
                st = st._replace(w=base.state.w.copy())
            probes.append(_solve_one(pgmap.with_target(y + eps * delta),
                                     _OuterLoss(design, y, Quadratic(), 0.0, c * delta),
                                     lam, solver, engine, st, compute_grad))
        outcomes = [base] + probes
        def fit(w):  # the predictions of a state's w (the model's own coordinates)
            return design.matvec(design.from_original(w))

        yhat = fit(base.state.w)
        mse = float(np.mean((y - yhat) ** 2))
        df = float(np.mean([delta @ (fit(o.state.w) - yhat)
                            for delta, o in zip(deltas, probes)])) / eps
        value = sum(o.value for o in outcomes) - sigma2
        grads = [o.grad for o in outcomes] if compute_grad else None
        return _result(value, grads, lam, [1.0] * (K + 1), outcomes, values=[mse, df])


def _least_squares_df(pgmap, w, lam):
    r"""The exact df of :class:`SURE` at the solution ``w`` of a least-squares elastic
    net, and its derivatives in the L2 weights: ``(df, d df / d l2)``, the second of
    shape (p,) (zero off the support).

    ``H = Z^T Z / n`` comes from the map (``hessian_subset`` on the support and the
    intercept); the intercept, unpenalized, counts 1 and is eliminated by its Schur
    complement ``G``. With one L2 weight, ``df = n_b + sum_i e_i / (e_i + l2)`` from the
    eigenpairs ``(e_i, v_i)`` of ``G``, those at or below ``|S| eps_mach max(diag H_SS)``
    taken as 0, and ``d df / d l2_j = -sum_i v_ij^2 e_i / (e_i + l2)^2``. With one L2
    weight per feature (all positive), ``M = (G + diag(l2_S))^{-1}``,
    ``df = n_b + tr(M G)`` and ``d df / d l2_j = -(M G M)_jj``.
    """
    design = pgmap.design
    k = design.n_coefs
    support = np.flatnonzero(w[:k])
    n_b = design.n_params - k
    m = support.shape[0]
    ddf = np.zeros(pgmap.n_features)
    if m == 0:
        return float(n_b), ddf
    idx = np.concatenate([support, np.arange(k, design.n_params)])
    # H does not depend on the map's step: any step will do, none computed from X
    H = pgmap.with_step(pgmap.cheap_step()).linearize(w, lam, at_solution=True) \
        .hessian_subset(idx)
    G = H[:m, :m]
    if n_b:
        G = G - H[:m, m:] @ np.linalg.solve(H[m:, m:], H[m:, :m])
    features = support // design.n_outputs  # the feature of each coefficient
    if not pgmap.penalty.uniform_l2:
        l2 = pgmap.penalty.weights(lam, pgmap.n_features)[1][features]
        M = np.linalg.inv(G + np.diag(l2))
        MG = M @ G
        np.add.at(ddf, features, -np.einsum("ij,ji->i", MG, M))
        return float(n_b + np.trace(MG)), ddf
    e, V = np.linalg.eigh(G)
    keep = e > m * np.finfo(np.float64).eps * np.max(np.diag(H)[:m])
    e, V = e[keep], V[:, keep]
    l2 = pgmap.penalty.l2_weight(lam)
    ratio = e / (e + l2)
    np.add.at(ddf, features, -(V * V) @ (ratio / (e + l2)))
    return float(n_b + ratio.sum()), ddf


def _shape_str(X):
    shape = getattr(X, "shape", None)
    return f"<{shape[0]}x{shape[1]}>" if shape is not None and len(shape) == 2 else "..."
