r"""The contract between hypergradient engines and the criteria that call them.

An engine computes, for a fixed-point map :math:`\Phi` (any
:class:`~skhypergrad.fixed_point.FixedPointMap`) and an outer function
:math:`C(w)` given through its gradient, the hypergradient

.. math::

    \nabla_\lambda C(w^*(\lambda)) = B^T v, \qquad v = (I - A^T)^{-1} \nabla C(w^*),

with :math:`A = \partial_w\Phi`, :math:`B = \partial_\lambda\Phi` at the fixed point
(the conservative Jacobian of the solution map). The gradient is with respect to
``lam`` itself; criteria convert to ``log(lam)`` by multiplying by ``lam``.

Engines hold only their settings; what carries over between calls at nearby
hyperparameters (the adjoint ``v``) travels in :class:`HypergradResult.state`
and comes back as the ``state`` argument of the next call.

Every engine either reaches its ``tol`` or says so: an engine that stops at
its budget (``max_iter``, ``max_samples``) without reaching ``tol`` raises a
:class:`~sklearn.exceptions.ConvergenceWarning` stating the residual it reached
and the rate at which it was converging (:func:`warn_not_converged`), and the
residual travels back in :attr:`HypergradResult.residual`. A budget the user
fixes (``ITD(n_iter=T)``, ``NSID(n_samples=K)``) is run as asked, without a
warning.
"""

import math
import warnings
from typing import Any, NamedTuple

import numpy as np
from sklearn.exceptions import ConvergenceWarning


class HypergradResult(NamedTuple):
    """Outcome of one hypergradient computation.

    Attributes
    ----------
    grad : ndarray of shape (n_hyper,)
        Hypergradient with respect to ``lam``.
    w : ndarray
        The inner point at which it was computed (``w`` itself for implicit
        engines, the last iterate for ITD).
    state : object
        Warm start for the next call (e.g. the adjoint ``v``), or None.
    n_iter : int
        Iterations of the engine (adjoint iterations, ITD steps, samples).
    residual : float
        What the engine compares with its ``tol``: the relative residual of
        the adjoint system (AID), the last relative step of the iterates (less
        their rounding error) and of their Jacobian (ITD), the predicted relative
        root-mean-square error of the adjoint :math:`v` (NSID, not of the
        hypergradient :math:`B^T v`; nan when it cannot be predicted).
    """

    grad: np.ndarray
    w: np.ndarray
    state: Any
    n_iter: int
    residual: float


class BaseEngine:
    """Interface of every engine.

    ``hypergradient(pgmap, lam, w, outer_grad, state=None)`` where ``w`` is the
    inner solution (or, for ITD, the starting point of its iterations),
    ``outer_grad(w)`` returns :math:`\\nabla C(w)` (same shape as ``w``; it may be
    called more than once, recomputing being cheaper in memory than keeping a
    copy) and ``state`` is the ``state`` of a previous result (warm start) or None.
    The engines never write into an array ``outer_grad`` returns, unless it is an
    :class:`~skhypergrad.hypergrad._protocols.OuterGradient` that declares
    ``returns_new_array`` (the library's outer losses: a new array at every call,
    which the engine may then reuse).
    """

    #: whether the engine needs the inner problem solved first (False for ITD)
    needs_solution = True
    #: whether a warm start may be a :class:`~skhypergrad.hypergrad._protocols.LazyVector`
    #: (read by entries), not only an ndarray
    accepts_lazy_state = False
    #: whether the hypergradient returned is the implicit one at the given solution,
    #: :math:`B^T (I - A^T)^{-1} \nabla C(w^*)`, solved as a linear system to the
    #: engine's ``tol`` (AID-CG; not the fixed-point iterations of AID-FP and ITD, whose
    #: own convergence is what they report): a criterion may then compute that
    #: quantity exactly by other means
    #: (e.g. on a least-squares problem's Gram matrix, see :mod:`skhypergrad._gram_cv`);
    #: a subclass that changes the result declares False
    implicit_at_solution = False
    #: whether ``hypergradient`` takes ``reference=``: an approximation of the datafit's
    #: Hessian near ``w`` over every parameter, a ``(n_params, n_params)`` array (the
    #: inner solver's, :attr:`~skhypergrad.solvers.SolveResult.reference`), which it may
    #: use to solve its linear system (AID-CG: as CG's preconditioner); a subclass that
    #: overrides ``hypergradient`` without that argument declares False
    takes_reference = False

    def hypergradient(self, pgmap, lam, w, outer_grad, state=None):
        raise NotImplementedError

    def spawn(self, n_tasks):
        """The engines for ``n_tasks`` independent tasks run in parallel (a criterion's
        folds): this engine itself by default. An engine holding a ``RandomState``
        instance returns copies seeded by integers drawn from it here, in the calling
        thread, so that every joblib backend gives the same result (see
        :func:`~skhypergrad._parallel.spawn_seeded`).

        Parameters
        ----------
        n_tasks : int

        Returns
        -------
        list of BaseEngine
        """
        return [self] * n_tasks

    def check_params(self):
        """Raise a ValueError naming a setting of the engine that is invalid.

        Every engine's ``hypergradient`` calls it first; a criterion calls it before an
        evaluation that may reach the engine's answer without calling ``hypergradient``
        (the compiled evaluation of :mod:`skhypergrad._gram_cv`). Nothing to check here.
        """

    def search_tol(self, inner_tol):
        """The ``tol`` a search gives this engine while it solves the inner problems to
        ``inner_tol``.

        A search (:func:`~skhypergrad._tune.tune`) sets the engine's ``tol`` to
        this value at every evaluation. Deterministic engines follow the inner
        tolerance (their residuals cost a few products to tighten); a stochastic
        engine returns its own accuracy (see :meth:`NSID.search_tol
        <skhypergrad.hypergrad.NSID.search_tol>`).

        Parameters
        ----------
        inner_tol : float
            Relative duality gap asked of the inner solver.

        Returns
        -------
        tol : float
        """
        return inner_tol


def relative_step(step, norm):
    """``step / norm``, 0 when both are 0 (a step of zero from zero has converged)."""
    if norm > 0:
        return step / norm
    return 0.0 if step == 0 else math.inf


def empirical_rate(residuals):
    r"""Mean rate :math:`(r_k / r_j)^{1/(k-j)}` over a sequence of residuals (nan if undefined)."""
    r = [x for x in residuals if np.isfinite(x) and x > 0]
    if len(r) < 2:
        return math.nan
    return (r[-1] / r[0]) ** (1.0 / (len(r) - 1))


def warn_not_converged(what, n_iter, unit, residual, tol, rate, rate_name, advice,
                       more=None, stacklevel=3):
    r"""Raise the :class:`~sklearn.exceptions.ConvergenceWarning` of an engine at its budget.

    The message states the residual reached, ``tol``, the rate (the contraction
    factor of the map, or a rate measured on the iteration) and, for a linear
    rate :math:`0 < q < 1`, the number of further steps that rate predicts,
    :math:`\lceil\log(\mathrm{tol}/r)/\log q\rceil` (none for an infinite
    residual: a step from a nonzero iterate to zero).

    Parameters
    ----------
    what : str
        The engine, e.g. ``"AIDFixedPoint"``.
    n_iter : int
        Steps (or samples) spent.
    unit : str
        Their name ("iterations", "steps", "samples").
    residual : float
        Residual reached (the engine's :attr:`HypergradResult.residual`).
    tol : float
        Residual asked for.
    rate : float
        Contraction factor or empirical rate (nan when unknown).
    rate_name : str
        What ``rate`` is, e.g. ``"contraction factor q"``.
    advice : str
        What the user can do.
    more : str, default=None
        Replaces the prediction of further steps (an engine whose error does not
        decay linearly states its own).
    stacklevel : int, default=3
    """
    if more is not None:
        more = f"; {more}"
    elif 0.0 < rate < 1.0 and math.isfinite(residual) and residual > tol > 0.0:
        steps = math.log(tol / residual) / math.log(rate)
        more = f"; about {math.ceil(steps):,} more {unit} at that rate"
    else:
        more = ""
    warnings.warn(f"{what} did not reach tol={tol:.2e} in {n_iter} {unit}: residual "
                  f"{residual:.2e}, {rate_name} = {rate:.6g}{more}. {advice}",
                  ConvergenceWarning, stacklevel=stacklevel)
