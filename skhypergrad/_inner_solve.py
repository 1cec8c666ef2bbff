r"""One inner problem of a criterion: solved, its outer function evaluated at the solution
and differentiated by an engine (:func:`_solve_one`); one cross-validation fold so, as a
pure function that joblib runs in any backend (:func:`_fold_value_and_grad`), its warm
starts stored compact for sparse ``X`` (:mod:`skhypergrad._compact_states`).
"""

import numpy as np
import scipy.sparse as sp

from ._compact_states import SparseVector, _AdjointOffGradient, _compact, _expand
from ._criterion_result import InnerState, _Outcome
from ._folds import _fold_problem, _solver_format
from .hypergrad import get_engine
from .hypergrad._base import BaseEngine
from .hypergrad._protocols import GradientWithEntries
from .solvers._base import BaseSolver


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
    w0, engine_state, _, reference = inner_state
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
        if isinstance(solver, BaseSolver) and solver.takes_reference:
            sol = solver.solve(pgmap, lam, _expand(w0), reference=reference)
            reference = sol.reference
        else:  # any object with solve(pgmap, lam, w0) is a solver
            sol = solver.solve(pgmap, lam, _expand(w0))
        w, n_iter = sol.w, sol.n_iter
        del sol
        if compute_grad:
            takes = isinstance(engine, BaseEngine) and engine.takes_reference
            extra = {"reference": reference} if takes else {}
            res = engine.hypergradient(
                pgmap, lam, w, outer.grad,
                state=_engine_warm_start(engine, engine_state, outer.grad), **extra)
    lip = pgmap.known_lipschitz
    value = outer.value(w)
    w = design.to_original(w)
    if res is None:
        return _Outcome(value, None, InnerState(w, engine_state, lip, reference), n_iter, 0,
                        np.nan)
    state = res.state
    if isinstance(state, GradientWithEntries):  # kept as stored, without the outer function
        state = _AdjointOffGradient.from_lazy(state)
    return _Outcome(value, np.asarray(res.grad, dtype=np.float64),
                    InnerState(w, state, lip, reference), n_iter, int(res.n_iter),
                    float(res.residual))


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
