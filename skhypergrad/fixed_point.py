r"""Fixed-point maps :math:`w = \Phi(w, \lambda)` and their conservative Jacobians.

Every hypergradient engine sees only this interface:

* ``apply(w, lam)``: :math:`\Phi(w, \lambda)`;
* ``jvp_w(w, lam, v)`` / ``vjp_w(w, lam, u)``: :math:`A v` / :math:`A^T u`
  with :math:`A = \partial_w \Phi`;
* ``jvp_lam(w, lam, e)`` / ``vjp_lam(w, lam, u)``: :math:`B e` / :math:`B^T u`
  with :math:`B = \partial_\lambda \Phi`;
* ``linearize(w, lam)``: the same four products at a fixed point, sharing the
  work they have in common (engines call this and reuse the result), and the
  map's estimate of the rounding error of ``apply`` there (its ``rounding``,
  which ITD's stopping rule reads; 0 unless the map declares one).

A user-defined map subclasses :class:`FixedPointMap` and defines the first five
methods (and ``n_params``, ``n_hyper``); ``linearize`` then works unchanged.
``bind(lam)`` gives the map whose parts that take no ``lam`` (a composite map's
forward step) are evaluated at ``lam``: the map itself by default.

The hyperparameters of :class:`ProxGradMap` are the penalty's followed by the
datafit's (``lam = [penalty's..., datafit's...]``, the datafit's ``n_hyper`` last):
:meth:`ProxGradMap.split` is the one place where ``lam`` is cut in two,
:meth:`ProxGradMap.problem` gives the solvers the map with the datafit fixed at its
part and the penalty's part of ``lam``, and ``B`` has the datafit's columns
:math:`-g\,\partial_z T\,[X, 1]^T \partial_\theta \nabla_z F`.

The interface lives in :mod:`skhypergrad._fixed_point_map`, the map in
:mod:`skhypergrad._prox_grad_map` and its linearization in
:mod:`skhypergrad._prox_grad_linearization`.
"""

from ._fixed_point_map import FixedPointMap, Linearization
from ._prox_grad_map import ProxGradMap

__all__ = ["FixedPointMap", "ProxGradMap", "Linearization"]
