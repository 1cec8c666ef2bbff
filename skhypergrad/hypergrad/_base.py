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
"""

from typing import Any, NamedTuple

import numpy as np


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
        Final residual of the engine's linear system (nan where not defined).
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
    The engines never write into an array ``outer_grad`` returns, unless
    ``outer_grad.returns_new_array`` is True (the library's outer losses: a new
    array at every call, which the engine may then reuse).
    """

    #: whether the engine needs the inner problem solved first (False for ITD)
    needs_solution = True

    def hypergradient(self, pgmap, lam, w, outer_grad, state=None):
        raise NotImplementedError
