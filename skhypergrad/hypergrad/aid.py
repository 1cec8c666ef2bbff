r"""Approximate implicit differentiation (AID): solve the adjoint system at the fixed point.

At a fixed point :math:`w = \Phi(w, \lambda)`, with :math:`A = \partial_w\Phi`,
:math:`B = \partial_\lambda\Phi` (conservative Jacobians),

.. math::

    \nabla_\lambda C(w^*(\lambda)) = B^T v, \qquad (I - A^T)\, v = \nabla C(w).

:class:`AIDFixedPoint` solves the adjoint system by the fixed-point iteration
:math:`v \leftarrow A^T v + \nabla C(w)` (any map; linear rate
:math:`\rho(A)`), warm-started from the previous call's ``v``.

:class:`AIDConjugateGradient` uses conjugate gradients on the active set of a
proximal-gradient map (:class:`~skhypergrad.fixed_point.ProxGradMap`, or any
map with the same ``forward_step`` / ``prox_jac_diag`` parts). There
:math:`A^T = (I - gH)\Delta` with :math:`\Delta = \partial_z T` diagonal
(:math:`\delta_j = D_j / (1 + g\,l2)` on the coefficients, 1 on the
intercept), or block diagonal and symmetric for a block penalty (the
multi-task L2,1: :mod:`skhypergrad.group_penalties`), where :math:`\Delta_S^{-1}`
below is the inverse of its blocks on S. Let :math:`S = \{j : \delta_j \neq 0\}` (support plus
intercept). Only :math:`\Delta v` enters :math:`A^T v`, and :math:`B^T v` only
reads :math:`v_S`, so the rows S of the system close on themselves; with
:math:`u = \Delta_S v_S` they read

.. math::

    \big(\Delta_S^{-1} - (I - gH)_{SS}\big)\, u
    = \big(g\,H_{SS} + g\,l2\,P_S\big)\, u = \nabla C(w)_S,

(:math:`P_S` the identity on the penalized coordinates, zero on the intercept)
a symmetric positive definite system: for least squares
:math:`u = (H_{SS} + l2\,I)^{-1}\nabla C_S / g`, and
:math:`B^T v = -g\,\mathrm{sign}(w_S)\cdot u` for ``lam1``: the classical
Lasso / elastic-net formula. Outside S the solution is explicit,
:math:`v = \nabla C(w) + A^T v`, and the full ``v`` is returned as the
warm-start state (interchangeable with :class:`AIDFixedPoint`'s). For any
other map, :class:`AIDConjugateGradient` falls back to GMRES on
:math:`(I - A^T) v = \nabla C(w)` (the system is not symmetric in general).
"""

import numbers
import warnings
from typing import Any, NamedTuple

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from ..linalg import solve_cg, solve_fixed_point, solve_gmres
from ..fixed_point import ProxGradMap
from .._prox_jacobian import as_jacobian
from ._active_set import _ActiveSet, _has_prox_parts, _jacobian
from ._base import BaseEngine, HypergradResult, warn_not_converged
from ._contraction import (_fixed_point_rate, contraction_factor, contraction_off_invariances,
                           convergence_rate)
from ._protocols import LazyVector, lazy_gradient, returns_new_array
from ._reference_adjoint import solve_with_reference

__all__ = ["AIDFixedPoint", "AIDConjugateGradient", "contraction_factor",
           "contraction_off_invariances", "convergence_rate"]


def _warm_start(state, w):
    """The previous adjoint ``v`` when it fits this problem, else None.

    ``state`` is an ndarray, or a :class:`~skhypergrad.hypergrad._protocols.LazyVector`
    (e.g. a criterion's compact storage) that AID-CG reads on the active set only
    and the other solvers make dense.
    """
    if isinstance(state, (np.ndarray, LazyVector)) and tuple(state.shape) == w.shape:
        return state
    return None


def _with_entries(c, idx, values):
    """The gradient ``c`` with the entries ``idx`` replaced: a new array, or for a lazy
    gradient (:class:`~skhypergrad.hypergrad._protocols.GradientAt`) a lazy vector
    that keeps those entries only."""
    if isinstance(c, np.ndarray):
        v = c.copy()
        v[idx] = values
        return v
    return c.with_entries(idx, values)


def _on_active_set(v):
    r"""``v`` as :math:`B^T v` reads it: itself, or for a lazy adjoint of
    :func:`_with_entries` its entries (the active set, the only ones :math:`B^T`
    reads) with zeros elsewhere, without the outer gradient."""
    if isinstance(v, np.ndarray):
        return v
    return v.on_entries()


class _AdjointSolve(NamedTuple):
    """An adjoint solve: ``v``, the products spent, the relative residual, and ``note``:
    None, or ``(why, advice)`` when the residual is the smallest there is (a system with
    no solution), for the warning."""

    v: Any
    n_iter: int
    residual: float
    note: Any = None


#: the warning's note of an adjoint system with no solution (see ``_ActiveSet.solve_direct``)
_NO_SOLUTION = (
    "the adjoint system is singular and the held-out loss's gradient is not in its range "
    "(the training solution is not unique in a direction the held-out loss depends on, e.g. "
    "the unpenalized intercept when every training residual is beyond Huber's threshold), "
    "so the least-squares adjoint is used",
    "The hypergradient is that of the solution with that direction held fixed.")


class _AdjointEngine(BaseEngine):
    r"""Shared part of the AID engines: :math:`B^T v` with :math:`(I - A^T) v = \nabla C(w)`.

    Subclasses define ``_solve_adjoint(pgmap, lam, w, lin, c, v0, reference) ->
    _AdjointSolve`` (which
    can explain a residual that no further iteration lowers) and ``_advice`` (the end of
    the warning). When the residual stays above
    ``max(tol, _residual_floor)`` the engine raises a
    :class:`~sklearn.exceptions.ConvergenceWarning` with the residual and the
    contraction factor (:func:`convergence_rate`).

    Parameters
    ----------
    tol : float, default=1e-10
        Relative residual of the adjoint system at which to stop.
    max_iter : int, default=1000
        Maximum number of products with :math:`A^T`.
    """

    #: ``state`` may be a lazy vector (see :func:`_warm_start`), not only an ndarray
    accepts_lazy_state = True
    #: residuals at or below this count as converged whatever ``tol`` (rounding)
    _residual_floor = 0.0
    #: what the warning suggests
    _advice = "Increase max_iter."

    def __init__(self, tol=1e-10, max_iter=1000):
        self.tol = tol
        self.max_iter = max_iter

    def _map(self, pgmap):
        """The map whose adjoint system is solved (the given one by default)."""
        return pgmap

    def _linearize(self, pgmap, w, lam):
        return pgmap.linearize(w, lam)

    def hypergradient(self, pgmap, lam, w, outer_grad, state=None, reference=None):
        r"""Hypergradient ``B^T v`` at the solution ``w``.

        Parameters
        ----------
        pgmap : FixedPointMap
            The map :math:`\\Phi`.
        lam : ndarray of shape (n_hyper,)
            Hyperparameters.
        w : ndarray of shape (n_params,)
            Inner solution (a fixed point of ``pgmap``).
        outer_grad : callable
            ``w -> grad C(w)`` (see :class:`~skhypergrad.hypergrad._base.BaseEngine`).
        state : ndarray of shape (n_params,) or None
            Adjoint ``v`` of a previous call at nearby hyperparameters (warm
            start); ignored when its shape does not fit.
        reference : ndarray of shape (n_params, n_params) or None
            An approximation of the datafit's Hessian near ``w`` (an inner solver's
            reference, see :attr:`~skhypergrad.hypergrad._base.BaseEngine.takes_reference`),
            for the engines that take one; ignored when its shape does not fit.

        Returns
        -------
        HypergradResult
            ``state`` is the adjoint ``v`` (the engines' states are
            interchangeable on maps with the same step; AID-CG's is exact on the
            active set, the only part :math:`B^T v` reads, and holds
            :math:`\nabla C` elsewhere, as a lazy vector when the outer function
            is the library's held-out loss: ``np.asarray`` gives it);
            ``n_iter`` the products with :math:`A^T`; ``residual`` the relative
            residual of the adjoint system.
        """
        self.check_params()
        lam = np.atleast_1d(np.asarray(lam, dtype=np.float64))
        pgmap = self._map(pgmap)
        lin = self._linearize(pgmap, w, lam)
        c = self._outer_gradient(outer_grad, w)
        v, n_iter, residual, note = self._solve_adjoint(pgmap, lam, w, lin, c,
                                                        _warm_start(state, w), reference)
        reached = residual <= max(self.tol, self._residual_floor)
        if not reached and note is not None:  # no solution: no iterations, no rate to tell
            warnings.warn(f"{type(self).__name__}: {note[0]} (its relative residual "
                          f"{residual:.2e} > tol={self.tol:.2e}). {note[1]}",
                          ConvergenceWarning, stacklevel=2)
        elif not reached:
            name, rate = convergence_rate(
                pgmap, lam, w, lambda: _fixed_point_rate(lin.vjp_w, np.asarray(c),
                                                         np.asarray(v)))
            warn_not_converged(type(self).__name__, n_iter, "iterations", residual, self.tol,
                               rate, name, self._advice)
        return HypergradResult(lin.vjp_lam(_on_active_set(v)), w, v, n_iter, residual)

    def check_params(self):
        """Raise a ValueError naming an invalid setting (see :meth:`BaseEngine.check_params
        <skhypergrad.hypergrad._base.BaseEngine.check_params>`)."""
        if not isinstance(self.tol, numbers.Real) or not self.tol >= 0:
            raise ValueError(f"tol must be a non-negative number, got {self.tol!r}.")
        if not isinstance(self.max_iter, numbers.Integral) or self.max_iter < 0:
            raise ValueError(f"max_iter must be a non-negative integer, got {self.max_iter!r}.")

    def _outer_gradient(self, outer_grad, w):
        r""":math:`\nabla C(w)` as ``_solve_adjoint`` reads it (the whole array here)."""
        return outer_grad(w)


class AIDFixedPoint(_AdjointEngine):
    r"""Implicit differentiation, adjoint system solved by fixed-point iteration.

    .. math::

        v_{k+1} = A^T v_k + \nabla C(w), \qquad \text{grad} = B^T v_K,

    with :math:`v_0` the previous call's ``v`` (``state``) or zero. The error
    decays as :math:`O(q^k)`, :math:`q = \rho(A) < 1` (see
    :func:`contraction_factor`), and at the stopping point
    :math:`\|v_{k+1} - v^*\| \le \frac{q}{1 - q}\,\mathrm{tol}\,\|\nabla C(w)\|`:
    about :math:`\log(\mathrm{tol}) / \log(q)` iterations, 2,300 for
    ``tol=1e-10`` at :math:`q = 0.99`, 23,000 at :math:`q = 0.999`. Works for any
    :class:`~skhypergrad.fixed_point.FixedPointMap` (only ``linearize`` is used).
    At ``max_iter`` without reaching ``tol`` it warns
    (:class:`~sklearn.exceptions.ConvergenceWarning`) with the residual reached and
    the contraction factor (an empirical rate for maps other than
    :class:`~skhypergrad.fixed_point.ProxGradMap`).

    Parameters
    ----------
    tol : float, default=1e-10
        Stop when :math:`\|v_{k+1} - v_k\| \le \mathrm{tol}\,\|\nabla C(w)\|`.
    max_iter : int, default=10_000
        Maximum number of iterations (products with :math:`A^T`, each about the
        cost of one gradient of the inner problem).
    """

    _advice = "Increase max_iter, or use 'aid-cg' (conjugate gradients on the active set)."

    def __init__(self, tol=1e-10, max_iter=10_000):
        super().__init__(tol=tol, max_iter=max_iter)

    def _solve_adjoint(self, pgmap, lam, w, lin, c, v0, reference=None):
        return _AdjointSolve(*solve_fixed_point(lin.vjp_w, c, v0, self.tol, self.max_iter))


class AIDConjugateGradient(_AdjointEngine):
    r"""Implicit differentiation, adjoint system solved by conjugate gradients on the active set.

    For a proximal-gradient map (``forward_step``, ``forward_step_vjp`` and
    ``prox_jac_diag`` present, as on
    :class:`~skhypergrad.fixed_point.ProxGradMap`) CG solves the symmetric
    positive definite system of the module docstring,

    .. math::

        \big(\Delta_S^{-1} - (I - gH)_{SS}\big)\, u = \nabla C(w)_S, \qquad
        v_S = \Delta_S^{-1} u, \qquad
        \text{grad} = B^T v,

    with one product with :math:`H_{SS}` per CG iteration, through the active
    columns of ``X`` only (no matrix is formed), the active set read from the
    support of the solution ``w`` and the map's step replaced by one that needs
    no spectral norm (the result does not depend on it), and
    :math:`O(\sqrt{\kappa(H_{SS} + l2\,I)})` iterations, at most
    :math:`|S|` in exact arithmetic. A warm start (``state``) helps little:
    CG is already fast. When :math:`|S| \le 256` and the map provides
    :math:`H_{SS}` as a matrix (``direct=True``), the system is instead formed
    (one BLAS-3 product, :math:`O(n|S|^2)`) and solved by Cholesky, which is
    cheaper than the CG iterations at tight tolerances; CG remains the
    fallback if the factorization fails. A block penalty over the ``K`` outputs of
    multi-output least squares (:math:`H_{SS} = G \otimes I_K`, the multi-task
    models) is solved through Woodbury's identity with two factorizations of
    :math:`m \times m` matrices, ``m`` its active rows, up to :math:`m \le 256`
    whatever ``K`` (:mod:`skhypergrad.hypergrad._active_set`). For any other
    :class:`~skhypergrad.fixed_point.FixedPointMap` (no active-set structure to
    exploit) it falls back to GMRES on :math:`(I - A^T) v = \nabla C(w)`.

    (:math:`v_S = \Delta_S^{-1} u` is the rows S of :math:`v = \nabla C + A^T v`
    by the system itself.) Outside S, where :math:`B^T v` does not read it, ``v``
    is kept equal to :math:`\nabla C(w)`. When ``outer_grad`` is the library's
    held-out loss (the criteria's) and ``w`` has few nonzeros, :math:`\nabla C`
    is read on S only (those columns of the held-out data) and the returned
    ``v`` is lazy: its entries on S, :math:`\nabla C(w)` when made dense.

    When CG (or GMRES) stops at ``max_iter`` with a residual above ``tol`` (and
    above 1e-12, the rounding level of the direct solve) it warns
    (:class:`~sklearn.exceptions.ConvergenceWarning`) with the residual and the
    contraction factor. A singular system (found by the direct solve) whose right-hand
    side is not in its range has no solution, and CG diverges on it: the least-squares
    adjoint is returned instead, with that warning saying so (e.g. every training residual
    beyond Huber's threshold: the datafit is linear and the unpenalized intercept is
    not determined; the hypergradient is then that of the solution with the intercept
    held).

    Parameters
    ----------
    tol : float, default=1e-10
        Relative residual of the linear system at which to stop.
    max_iter : int, default=1000
        Maximum number of products with the system's matrix.
    direct : bool, default=True
        Whether to factor small active-set systems instead of running CG
        (``n_iter`` is then 1).
    """

    #: CG solves the adjoint linear system itself: any exact solve of it is its answer
    implicit_at_solution = True
    #: a reference Hessian preconditions CG on the active set (see ``_solve_adjoint``)
    takes_reference = True

    _residual_floor = 1e-12

    def __init__(self, tol=1e-10, max_iter=1000, direct=True):
        super().__init__(tol=tol, max_iter=max_iter)
        self.direct = direct

    def check_params(self):
        super().check_params()
        if not isinstance(self.direct, (bool, np.bool_)):
            raise ValueError(f"direct must be True or False, got {self.direct!r}.")

    def _map(self, pgmap):
        """A proximal-gradient map with a step that needs no spectral norm.

        The result does not depend on the step ``g`` (see :meth:`ProxGradMap.with_step`),
        so the Lipschitz constant is not computed just for this.
        """
        step = pgmap.cheap_step()
        return pgmap if step is None else pgmap.with_step(step)

    def hypergradient(self, pgmap, lam, w, outer_grad, state=None, reference=None):
        # the parameters and the result are those of _AdjointEngine.hypergradient
        restricted = self._restriction(pgmap, w)
        if restricted is None:
            return super().hypergradient(pgmap, lam, w, outer_grad, state, reference)
        sub_map, idx = restricted
        lazy = lazy_gradient(outer_grad, w)
        # the p-sized gradient is not kept during the solve (not even computed when lazy)
        c_idx = outer_grad(w)[idx] if lazy is None else lazy.take(idx)
        v0 = _warm_start(state, w)
        res = super().hypergradient(sub_map, lam, w[idx], lambda _: c_idx,
                                    None if v0 is None else v0.take(idx))
        if lazy is not None:
            return res._replace(w=w, state=lazy.with_entries(idx, res.state))
        # outside S, v is grad C(w): computed again and, when it is a new array (see
        # BaseEngine), written into, so that one p-sized array is alive with w, not
        # also a kept gradient and its copy
        v = outer_grad(w)
        if not returns_new_array(outer_grad):
            v = np.array(v, dtype=np.float64)  # a caller's array is never written into
        v[idx] = res.state
        return res._replace(w=w, state=v)

    hypergradient.__doc__ = _AdjointEngine.hypergradient.__doc__

    def _restriction(self, pgmap, w):
        r"""``(sub_map, idx)``: ``pgmap`` on the support of ``w`` (and the intercept), or None.

        At the solution the system and :math:`B^T v` only involve the support S
        of ``w`` (plus the intercept): on the map built from the columns
        :math:`X_S` they are the same, with no vector of length ``p`` formed but
        :math:`\nabla C` and ``v`` (outside S, ``v`` is :math:`\nabla C`). Used
        for a sparse ``X`` (large ``p``, small S) and penalties whose
        hyperparameters do not depend on the feature (L1, elastic net); the
        hypergradient equals the full computation's up to the order of its sums.
        """
        if not (isinstance(pgmap, ProxGradMap) and pgmap.design.is_sparse
                and pgmap.design.n_outputs == 1
                and pgmap.penalty.n_hyper(1) == pgmap.penalty.n_hyper(2)):
            return None
        design = pgmap.design
        k = design.n_coefs
        support = np.flatnonzero(w[:k])
        if support.shape[0] == 0 or 2 * support.shape[0] > k:
            return None
        idx = np.append(support, np.arange(k, design.n_params))
        step = self._map(pgmap).step
        sub_map = ProxGradMap.on_design(pgmap.datafit, pgmap.penalty, design.take_columns(idx),
                                        pgmap.y, step=step)
        return sub_map, idx

    def _linearize(self, pgmap, w, lam):
        """At the solution: the active set is the support of ``w`` (see ``ProxGradMap``)."""
        if isinstance(pgmap, ProxGradMap):
            return pgmap.linearize(w, lam, at_solution=True)
        return pgmap.linearize(w, lam)

    def _outer_gradient(self, outer_grad, w):
        r""":math:`\nabla C(w)`, lazy when the outer function gives entries alone (the
        library's held-out loss): the system reads it on the active set only."""
        lazy = lazy_gradient(outer_grad, w)
        return outer_grad(w) if lazy is None else lazy

    def _solve_adjoint(self, pgmap, lam, w, lin, c, v0, reference=None):
        if not _has_prox_parts(pgmap):
            c = np.asarray(c)
            return _AdjointSolve(*solve_gmres(lambda u: u - lin.vjp_w(u), c, v0, self.tol,
                                              self.max_iter))
        jacobian = _jacobian(pgmap, lin, w, lam)
        n = w.shape[0]
        # a reference Hessian preconditions CG (a few products) instead of H_SS formed
        use_reference = reference is not None and reference.shape == (n, n) \
            and as_jacobian(jacobian).diagonal
        direct_parts = self.direct and not use_reference
        active = _ActiveSet(lin.vjp_w, jacobian, lin.hessp_subset,
                            lin.step, lin.hessian_subset if direct_parts else None,
                            lin.hessian_factor if direct_parts else None)
        c_s = c.take(active.idx)
        if active.idx.shape[0] == 0:  # A = 0: v = grad C (and B^T v = 0)
            return _AdjointSolve(_with_entries(c, active.idx, c_s), 0, 0.0)
        if use_reference:
            u0 = None if v0 is None else active.power(v0.take(active.idx), 1)
            out = solve_with_reference(active.reduced_matvec, c_s, u0, reference, active.idx,
                                       active.step, 1.0 / active.jac.d - 1.0, self.tol,
                                       self.max_iter)
            if out is not None:
                u, n_iter, residual = out
                return _AdjointSolve(_with_entries(c, active.idx, active.power(u, -1)),
                                     n_iter, residual)
        direct = active.solve_direct(c_s)
        # a singular system whose least-squares residual is finite but above tol has no
        # solution: CG would diverge on it, and the residual is reported (warned) instead
        note = None
        if direct is not None and (direct[1] <= max(self.tol, self._residual_floor)
                                   or (direct[2] and np.isfinite(direct[1]))):
            (u, residual, singular), n_iter = direct, 1
            note = _NO_SOLUTION if singular else None
        else:
            u0 = None if v0 is None else active.power(v0.take(active.idx), 1)
            u, n_iter, residual = solve_cg(active.reduced_matvec, c_s, u0,
                                           self.tol, self.max_iter)
        # v = c + A^T v on S: v_S = c_S + (I - gH)_SS u = u / delta_S by the system,
        # with no product; outside S, where B^T v does not read it, the state keeps c
        return _AdjointSolve(_with_entries(c, active.idx, active.power(u, -1)), n_iter,
                             residual, note)
