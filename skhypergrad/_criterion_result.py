r"""What a criterion evaluation takes back and returns: the warm start of each inner problem
(:class:`InnerState`) and the result (:class:`CriterionResult`), assembled from the inner
problems' outcomes (:func:`_result`): the gradient in :math:`\log\lambda` of a criterion
combining them with weights :math:`c_k` is
:math:`\nabla_{\log\lambda} E = \lambda \odot \sum_k c_k \nabla_\lambda C_k`.
"""

from typing import Any, NamedTuple

import numpy as np


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
    reference : ndarray or None
        The solver's reference Hessian near ``w`` (``reference`` of
        :class:`~skhypergrad.solvers.SolveResult`), its next solve's start.
    """

    w: Any = None
    engine_state: Any = None
    lipschitz: Any = None
    reference: Any = None


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
    of ``chosen``, see :func:`~skhypergrad._gram_cv.evaluate_gram_folds`), combined as
    :func:`_result` combines its outcomes (equal weights); the folds not chosen keep
    their ``states``."""
    new_states = list(states)
    for k, o in zip(chosen, outcomes):
        new_states[k] = InnerState(o.w, None, states[k].lipschitz)
    weight = 1.0 / len(outcomes)
    values = np.array([o.value for o in outcomes], dtype=np.float64)
    grad = lam * sum(weight * o.grad for o in outcomes) if compute_grad else None
    return CriterionResult(
        value=float(np.mean(values)), grad=grad, state=tuple(new_states), values=values,
        n_iter=np.array([o.n_iter for o in outcomes], dtype=np.int64),
        n_iter_engine=np.array([o.n_iter_engine for o in outcomes], dtype=np.int64),
        engine_residual=np.array([o.engine_residual for o in outcomes], dtype=np.float64))
