r"""The entry points every criterion shares (:class:`BaseCriterion`): ``value_and_grad`` and
``value`` on validated data, the objects kept between the evaluations of a search, and the
``joblib.Parallel`` (and Dask data) kept for a block of evaluations.
"""

from contextlib import contextmanager

from joblib import Parallel, effective_n_jobs

from ._criterion_data import _check_data
from ._inner_solve import _engine_from_name
from .hypergrad import BaseEngine
from .solvers._base import BaseSolver
from ._parallel import dask_client
from .models import InnerModel


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
        if isinstance(engine, BaseEngine):  # also when the compiled path stands for it
            engine.check_params()
        _check_solver(solver)
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
        _check_solver(solver)
        return self._evaluate(model, X, y, lam, solver, None, state, False)

    def _prepare(self, model, X, y, lam):
        """``(model, X, y, y_enc, lam)``: the model bound to ``y``, the data validated
        (:func:`_check_data`) and encoded, ``lam`` checked (None stays None); the data
        (and, for :class:`CrossVal`, its splits) validated once while the criterion is
        evaluated on the same ``X``, ``y`` and model, as during a search (``X`` modified
        in place between two evaluations is not supported, as by the solvers)."""
        if not isinstance(model, InnerModel):
            raise ValueError(f"model must be a skhypergrad InnerModel, got "
                             f"{type(model).__name__}; convert scikit-learn estimators "
                             "with skhypergrad.models.from_estimator.")

        def build():
            Xv, yv = _check_data(X, y, classifier=model.is_classifier,
                                 multi_output=model.datafit_class.multi_output)
            bound = model.bind(yv)
            return bound, Xv, yv, bound.encode(yv)

        bound, Xv, yv, y_enc = self._cached((X, y, model), (), build, slot="_prepared")
        return bound, Xv, yv, y_enc, \
            None if lam is None else bound.check_lam(lam, Xv.shape[1])

    def __repr__(self):
        params = ", ".join(f"{k}={v}" for k, v in self._repr_params())
        return f"{type(self).__name__}({params})"


def _check_solver(solver):
    """The solver's settings checked (:meth:`~skhypergrad.solvers._base.BaseSolver.check_params`)
    before an evaluation, whose compiled path may stand for its solves."""
    if isinstance(solver, BaseSolver):
        solver.check_params()
