r"""L-BFGS preconditioned by a reference Hessian, for smooth problems with an L2 penalty.

The objective :math:`P(w) = F(Xw + b) + \frac12 \sum_j l2_j w_j^2` of a smooth
one-output datafit has the Hessian :math:`\nabla^2 P(w) = [X, 1]^T \mathrm{diag}(h)
[X, 1] / n + \mathrm{diag}(l2, 0)`, ``h`` the datafit's curvatures at :math:`w`. A
*reference* is its datafit part :math:`R = [X, 1]^T \mathrm{diag}(h_r) [X, 1] / n` at
some point :math:`w_r` (e.g. the solution of the same problem at other penalty weights).
:func:`reference_lbfgs` minimizes :math:`P` by L-BFGS (:mod:`._lbfgs`) whose initial
inverse Hessian is the Cholesky factor of :math:`R + \mathrm{diag}(l2, \epsilon)`: its
first step from a warm start :math:`w_0` at the solution for weights :math:`l2'` is
:math:`-(R + l2)^{-1} (l2 - l2') w_0`, the tangent of the solution path (exact when
:math:`w_r = w_0`), and the steps converge at the rate
:math:`\|(R + l2)^{-1} (\nabla^2 P - R - l2)\|` (the reference's error), each costing a
product with :math:`X` and one with :math:`X^T`. When a step lowers the Newton decrement
:math:`g^T (R + l2)^{-1} g` by less than the factor ``slow``, the reference is formed
again at the current iterate (an :math:`O(n q^2)` product, a Newton step) and L-BFGS
restarts from there; the reference returned is the last one formed, for the next solve.
A loose solve (``form=False``) given no reference runs plain L-BFGS (from the curvature
pairs it is given, e.g. a previous solve's on the same data); when its steps have
cost as much as forming one (:func:`loose_steps` of them, the rule of renting before
buying) without reaching ``reached``, it forms the reference at the current iterate once
and goes on preconditioned (and returns it: the next solves start with it).
"""

import numpy as np
from scipy.linalg import LinAlgError, cho_factor, cho_solve

from ._lbfgs import lbfgs

__all__ = ["reference_lbfgs"]

#: a step lowering the Newton decrement by less than this factor asks for a new reference
_SLOW = 0.1
#: plain L-BFGS steps of a loose solve that cost about as much as forming a reference of
#: ``q`` parameters: ``max(_LOOSE_MIN, q // _LOOSE_PER_STEP)`` (a step: a value and a
#: gradient, two matrix-vector products of ``2 n q`` flops each, and its line search's
#: extra values; a reference: ``n q^2`` flops of one matrix-matrix product, at a higher
#: rate; at ``q = 201`` it costs about 7 steps)
_LOOSE_MIN = 7
_LOOSE_PER_STEP = 28


def loose_steps(q):
    """The plain L-BFGS steps a loose solve of ``q`` parameters takes before it forms a
    reference: ``max(7, q // 28)``."""
    return max(_LOOSE_MIN, q // _LOOSE_PER_STEP)


def reference_lbfgs(value_grad, w, reached, hessian_at, shift, reference, max_iter,
                    form=True, slow=_SLOW, pairs=None):
    """Minimize from ``w`` (updated in place).

    Parameters
    ----------
    value_grad : callable
        ``w -> (P(w), grad, extra)`` (see :func:`~._lbfgs.lbfgs`).
    w : ndarray of shape (q,)
    reached : callable
        ``(w, grad, extra, decrement) -> bool``: whether ``w`` is accurate enough;
        ``decrement`` is :math:`g^T (R + \\mathrm{diag}(shift))^{-1} g`, twice the
        suboptimality predicted by the reference (None without a reference).
    hessian_at : callable
        ``w -> R``: the datafit's Hessian at ``w``, shape (q, q).
    shift : ndarray of shape (q,)
        Added to the diagonal of ``R``: the L2 weights (0 for an unpenalized intercept,
        whose entry of ``R`` is the mean curvature).
    reference : ndarray of shape (q, q) or None
        The reference to start from; None (or another shape): formed at ``w`` with
        ``form``, else none (plain L-BFGS).
    max_iter : int
        Steps at most, over the restarts.
    form : bool, default=True
        Whether references are formed (at ``w`` without one, and when a step is slow);
        False: the given one alone, or plain L-BFGS without one (for a loose solve, which
        takes a few steps: an :math:`O(n q^2)` product costs several) until
        :func:`loose_steps` steps, then one reference formed there.
    slow : float, default=0.1
        A step lowering the decrement by less than this factor asks for a new reference
        (with ``form``).
    pairs : list, default=None
        The curvature pairs the plain L-BFGS steps of a loose solve without a reference
        start from, updated in place (``pairs`` of :func:`~._lbfgs.lbfgs`); unread by
        the preconditioned steps. None: none.

    Returns
    -------
    (n_iter, done, reference) : int, bool, ndarray
        Steps taken, whether ``reached`` held at ``w``, and the last reference formed
        (None when none was).
    """
    factor = None  # (another shape, or not positive definite: a reference of other data)
    if reference is not None and reference.shape == (w.shape[0], w.shape[0]):
        factor = _factor(reference, shift)
    n_iter = 0
    if factor is None:
        if not form:
            budget = min(max_iter, loose_steps(w.shape[0]))
            n_iter, done = lbfgs(value_grad, w,
                                 lambda v, g, extra: reached(v, g, extra, None), budget,
                                 pairs=pairs)
            if done or n_iter < budget or n_iter >= max_iter:
                return n_iter, done, None
        reference = hessian_at(w)
        factor = _factor(reference, shift)
    while True:
        if factor is None:  # not positive definite where it was formed
            return n_iter, False, reference

        def precondition(g, factor=factor):
            return cho_solve(factor, g, check_finite=False)

        last, renew = [None], [False]

        def stop(v, g, extra):
            decrement = float(g @ precondition(g))
            if reached(v, g, extra, decrement):
                return True
            renew[0] = form and last[0] is not None and decrement > slow * last[0]
            last[0] = decrement
            return renew[0]

        it, done = lbfgs(value_grad, w, stop, max_iter - n_iter, precondition=precondition)
        n_iter += it
        if not renew[0] or n_iter >= max_iter:
            return n_iter, done and not renew[0], reference
        reference = hessian_at(w)
        factor = _factor(reference, shift)


def _factor(reference, shift):
    """The Cholesky factor of ``reference + diag(shift)``, or None when it is not
    positive definite."""
    matrix = reference + np.diag(shift)
    try:
        return cho_factor(matrix, lower=False, overwrite_a=True, check_finite=False)
    except LinAlgError:
        return None
