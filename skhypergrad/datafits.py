r"""Data-fitting terms :math:`F(w) = \frac{1}{n} \sum_i \ell(y_i, z_i)`, :math:`z = Xw + b`.

Each datafit is written once at the level of the linear predictions ``z``
(``loss``, ``raw_grad``, ``raw_hessp``, ``dual_term``); everything in terms of
the parameters ``w`` (value, gradient, Hessian-vector product, Lipschitz
constant) follows from the chain rule through a :class:`~skhypergrad._design.Design`
and is shared by every datafit.

**The contract.** A datafit is a :class:`BaseDatafit` subclass that states what
it is and what it offers, as class attributes the rest of the library reads
(never a type test):

- its task and targets: ``is_classifier``, ``multi_output`` (targets of shape
  (n, n_outputs)), ``encode`` (and, for a classifier,
  :meth:`BaseDatafit.for_classes` and ``encode_classes`` from class indices);
- its null model, :meth:`~BaseDatafit.intercept_only`;
- its curvature: ``curvature``, a bound on the second derivative of one sample's
  loss, or None when there is none (the log-link GLMs of :mod:`skhypergrad.glm`),
  the datafit then giving :meth:`~BaseDatafit.data_curvature`, the curvature at the
  scale of the targets. The library reads it through
  :attr:`ProxGradMap.curvature <skhypergrad.fixed_point.ProxGradMap.curvature>`: the
  map's step ``1 / L`` (FISTA, ITD, AID-FP), SAGA's step, the scales of coordinate
  descent's scores and of the gap's intercept term; and
  :meth:`~BaseDatafit.reference_curvature`, the curvature at the null model the
  search measures its L2 weights in (by default the bound);
- the held-out losses it can be scored by, ``outer_losses`` (the first is the
  default of a criterion's ``loss="auto"``), chosen separately from the datafit
  itself (a Huber model is scored by the squared error);
- its fast paths: ``least_squares`` (Gram matrices, exact SURE, an exact
  coordinate-descent model), ``constant_hessian``, ``newton_model`` (the form of
  the per-sample Hessians coordinate descent's proximal Newton model takes:
  ``"diagonal"``, ``"softmax"``, ``"separable"``, ``"identity"`` or None; a
  "diagonal" model's curvatures are :meth:`~BaseDatafit.newton_curvature`), and
  ``kernel_code`` with :meth:`~BaseDatafit.kernel_params` (the minibatch kernels' code and
  parameters, or None), :meth:`~BaseDatafit.raw_hessp_at` (Hessian products at fixed
  predictions, what depends on them alone computed once),
  ``piecewise_quadratic`` with :meth:`~BaseDatafit.smoothing_path` (Newton's method on
  a support instead of coordinate descent, from the smoother datafits of the path
  when it does not converge directly);
- its hyperparameters, if it owns any (``n_hyper``, :meth:`~BaseDatafit.hyper`,
  :meth:`~BaseDatafit.at`): the trailing entries of the map's ``lam``, with the
  derivatives of ``raw_grad`` in them (:meth:`~BaseDatafit.raw_grad_jvp_param`,
  :meth:`~BaseDatafit.raw_grad_vjp_param`), from which
  :class:`~skhypergrad.fixed_point.ProxGradMap` differentiates the map in them for
  every engine;
- its sample weights, ``accepts_sample_weight``: whether ``loss`` and ``dual_term``
  take a keyword ``sample_weight`` (see :func:`weighted`, which binds weights to it;
  a datafit with hyperparameters or estimated constants declares False).

Registered datafits (:func:`register_datafit`) are named by
:class:`~skhypergrad.models.InnerModel`; an object that does not declare the
contract is refused by :func:`check_datafit` with a ``ValueError``.

Targets are encoded: real values for :class:`Quadratic`, labels in {-1, +1} for
:class:`Logistic`, integer class indices 0..K-1 for :class:`Multinomial`.

**Where it lives.** This module is the public face of the datafits: the contract
and the registry are in ``skhypergrad._datafit_contract``, the core datafits in
``skhypergrad._core_datafits``, the weight helpers in ``skhypergrad._sample_weight``
and the weighted wrapper in ``skhypergrad._weighted_datafit``; the other datafits
live with their models (:mod:`skhypergrad.glm`, :mod:`skhypergrad.huber`, ...).
"""

from . import _core_datafits, _datafit_contract, _sample_weight
from ._core_datafits import Logistic, Multinomial, Quadratic
from ._datafit_contract import BaseDatafit, check_datafit, datafit_class, register_datafit
from ._weighted_datafit import WeightedDatafit, weighted

__all__ = ["BaseDatafit", "Quadratic", "Logistic", "Multinomial", "register_datafit",
           "datafit_class", "check_datafit", "weighted", "WeightedDatafit"]

# the helpers the datafits are written with, importable from here too (not in __all__)
NEWTON_MODELS = _datafit_contract.NEWTON_MODELS
class_probabilities = _core_datafits.class_probabilities
check_class_decision = _sample_weight.check_class_decision
check_sample_weight = _sample_weight.check_sample_weight
per_weight = _sample_weight.per_weight
weighted_mean = _sample_weight.weighted_mean
