r"""The datafit contract: :class:`BaseDatafit` and the registry of datafits.

:class:`BaseDatafit` holds the chain rule from a datafit's terms in the predictions
:math:`z = Xw + b` to the parameters and the defaults of every declaration; the
registry (:func:`register_datafit`, :func:`datafit_class`, :func:`check_datafit`)
names the datafits and refuses a class that does not declare the contract. The
contract itself is described in :mod:`skhypergrad.datafits`.
"""

import weakref
from functools import partial

import numpy as np

from ._sample_weight import weighted_mean

#: the forms of the per-sample Hessian coordinate descent's Newton model implements
NEWTON_MODELS = ("diagonal", "softmax", "separable", "identity")


class BaseDatafit:
    r"""Shared chain rule from the raw (per-prediction) terms to ``w``, and the contract.

    Subclasses define ``loss(y, z)`` (the mean loss), ``raw_grad(y, z)``
    (:math:`\nabla_z F`, the 1/n included), ``raw_hessp(y, z, dz)``,
    ``curvature`` (a bound on the second derivative of one sample's loss),
    ``dual_term(y, theta)`` (:math:`-\sum_i f_i^*(-\theta_i)`, for the duality gap)
    and ``intercept_only(y)``, and declare the attributes below.
    """

    #: the name :class:`~skhypergrad.models.InnerModel` knows it by (:func:`register_datafit`)
    name = None
    #: whether the targets are class labels (then :meth:`for_classes` and
    #: ``encode_classes`` are defined)
    is_classifier = False
    n_outputs = 1
    #: whether the targets have one column per output, shape (n, n_outputs) (multi-task
    #: regression), rather than one entry per sample
    multi_output = False
    #: a bound on the second derivative of one sample's loss in its prediction (times n:
    #: of ``n * raw_hessp``), or None when there is none (an exponential link): the
    #: datafit then defines :meth:`data_curvature`, the bound at the scale of the targets
    curvature = 1.0
    #: the held-out losses it can be scored by (:mod:`skhypergrad._outer_loss`); the
    #: first is the default
    outer_losses = ("squared",)
    #: whether ``raw_hessp`` does not depend on the predictions ``z`` (it is then
    #: called with ``z=None``)
    constant_hessian = False
    #: whether ``F`` is least squares :math:`\frac{1}{2n}\|y - z\|^2` on real targets:
    #: the fit is then locally linear in ``y``, with a closed-form divergence
    #: (:class:`~skhypergrad.criteria.SURE`'s exact degrees of freedom), Gram
    #: matrices stand for ``X``, and coordinate descent's model is exact
    least_squares = False
    #: whether each sample's loss is piecewise quadratic, its (generalized) second
    #: derivative piecewise constant and zero on some pieces (the squared hinge): with an
    #: L2 penalty, Newton's method is then exact after finitely many steps, where
    #: coordinate descent's rate is set by the L2 weight alone along the directions the
    #: samples of zero curvature leave free (see ``CoordinateDescent(newton="auto")``)
    piecewise_quadratic = False
    #: whether each sample's loss is twice continuously differentiable, with
    #: ``newton_curvature`` its exact second derivative (not a majorizer), and strictly
    #: convex: with an L2 penalty alone, ``CoordinateDescent`` then solves by L-BFGS
    #: preconditioned with the Hessian of a nearby solution, kept between solves (see
    #: :mod:`skhypergrad.solvers._reference_hessian`)
    smooth_hessian = False
    #: the per-sample Hessian's form in coordinate descent's proximal Newton model:
    #: "diagonal" (one output, ``h_i = raw_hessp`` of a unit direction), "softmax"
    #: (``diag(p_i) - p_i p_i^T``), "separable" (``K`` outputs that are independent
    #: one-output problems of the datafit ``output_datafit()`` with the targets
    #: ``output_target(y, k)``, solved in turn), "identity" (``I / n`` across the
    #: outputs: least squares on each, solved on the Gram matrix, a feature's outputs
    #: together), or None (coordinate descent does
    #: not apply)
    newton_model = "diagonal"
    #: the minibatch kernels' code (:mod:`skhypergrad._sgd_kernels`), or None
    kernel_code = None
    #: whether ``raw_grad`` is computed sample by sample (one output): for rows ``r``,
    #: ``raw_grad(y[r], z[r]) * len(r)`` equals ``raw_grad(y, z)[r] * n``, each entry
    #: :math:`\ell'(y_i, z_i)` over the number of rows given; the smooth solves then form
    #: the predictions and the gradient :math:`X^T a` by blocks of rows, each read from
    #: memory once for both (see :mod:`skhypergrad.solvers._cd_smooth`)
    rowwise_grad = False
    #: whether ``loss(y, z, sample_weight=None)`` and ``dual_term(y, theta,
    #: sample_weight=None)`` take per-sample weights ``s`` (mean 1 over the rows):
    #: :math:`\frac1n\sum_i s_i \ell(y_i, z_i)` and its dual term
    #: :math:`\sum_i s_i d_i(\theta_i / s_i)` (``d_i`` the unweighted one's terms, 0
    #: where :math:`s_i = 0`); :func:`~skhypergrad.datafits.weighted` then gives the
    #: weighted datafit
    accepts_sample_weight = False
    #: the per-sample weights bound to the datafit (mean 1 over its rows), or None for
    #: unit weights (a :class:`~skhypergrad.datafits.WeightedDatafit`'s)
    sample_weight = None

    @property
    def unit_curvature(self):
        """``curvature`` of the datafit with unit weights (the search's scales read it:
        a weighted datafit's ``curvature`` is scaled by its largest weight)."""
        return self.curvature

    @property
    def unweighted(self):
        """The datafit without per-sample weights: itself (a
        :class:`~skhypergrad.datafits.WeightedDatafit`'s is the datafit it weighs)."""
        return self

    def reference_curvature(self, y, z, sample_weight=None):
        r"""The curvature :math:`c` of one sample's loss that the search's L2 weights are
        measured in (:func:`~skhypergrad._search_space.l2_scale`), at the null model's
        predictions ``z`` (``y`` its targets).

        By default ``unit_curvature``, the global bound; for a datafit without one
        (``curvature = None``: the log-link GLMs), the mean second derivative there,
        :math:`\frac1n\sum_i \ell''(y_i, z_i)` (``n * raw_hessp`` along ones: with
        sample weights ``sample_weight``, :math:`\frac1n\sum_i s_i \ell''(y_i, z_i)`).
        A datafit whose bound can lie orders of magnitude above the curvature its fits
        see (Huber's :math:`2/\sigma`, at a scale that vanishes on a perfect fit) gives
        one in the units of the data instead. Rescaling ``y`` must rescale it as it
        rescales the second derivatives (Huber's by :math:`1/c` for :math:`y \to c\,y`),
        so that the chosen model does not depend on the units of ``y``."""
        c = self.unit_curvature
        if c is None:
            c = weighted_mean(self.raw_hessp(y, z, np.ones_like(z)) * y.shape[0],
                              sample_weight)
        return c

    def newton_curvature(self, y, z):
        r"""The per-sample curvatures :math:`h_i` of coordinate descent's Newton model
        at the predictions ``z`` (``newton_model = "diagonal"``), shape of ``z``.

        By default the second derivatives :math:`\ell''(y_i, z_i)` (``n * raw_hessp``
        along ones): the proximal Newton model. A loss that is linear where its second
        derivative vanishes (a nonzero slope there, as Huber's beyond its threshold)
        would make that model linear, unbounded below along directions that move
        those samples only; such a datafit gives instead the curvatures of a quadratic
        that majorizes each sample's loss at ``z_i`` (equal to :math:`\ell''` where the
        loss is locally quadratic), whose minimizer then decreases the objective."""
        return self.raw_hessp(y, z, np.ones_like(z)) * y.shape[0]

    def smoothing_path(self, y, sample_weight=None):
        r"""Smoother datafits of the same family, from the smoothest, ending above this
        one, that Newton's method on a support (``CoordinateDescent``, a
        ``piecewise_quadratic`` datafit) solves in turn, each from the last one's
        solution, when it does not solve this one directly in a few steps; the targets
        ``y`` (with ``sample_weight``, their weights) set where the path starts.

        By default none (empty). A loss whose quadratic piece narrows with a parameter
        (Huber's scale: at a tiny scale nearly every sample lies on a linear piece and
        the steps pivot through the breakpoints one at a time) gives the datafits at
        larger values of it: each solution starts the next one a few steps from its
        own."""
        return ()

    def raw_hessp_at(self, y, z):
        """The map ``dz -> raw_hessp(y, z, dz)`` at fixed predictions ``z``, for repeated
        products (the conjugate gradients of a hypergradient); a datafit whose
        ``raw_hessp`` computes something of ``z`` alone (the multinomial loss's class
        probabilities) computes it once here."""
        return partial(self.raw_hessp, y, z)

    def data_curvature(self, y):
        """The curvature the steps and scales of a problem with targets ``y`` are set by:
        ``curvature`` when the datafit has a global bound; a datafit without one
        (``curvature = None``) defines it from ``y`` (see :mod:`skhypergrad.glm`)."""
        return self.curvature

    #: the number of hyperparameters the datafit owns (Huber's epsilon, a margin, a kernel
    #: width): the last ``n_hyper`` entries of the map's ``lam``, after the penalty's
    n_hyper = 0

    def hyper(self):
        """The current values of the datafit's hyperparameters, shape (n_hyper,)."""
        return np.empty(0)

    def at(self, theta):
        """The same datafit with its hyperparameters at ``theta`` (shape (n_hyper,)),
        still declaring them (``n_hyper`` unchanged); itself when it owns none."""
        return self

    def hyper_bounds(self):
        """``(low, high)``: the default search interval of each hyperparameter, shape
        (n_hyper,) each."""
        return np.empty(0), np.empty(0)

    def raw_grad_jvp_param(self, y, z, e):
        r""":math:`\partial_\theta (\nabla_z F)\, e`: the derivative of ``raw_grad`` in the
        datafit's hyperparameters along ``e`` (shape (n_hyper,)); shape of ``z``."""
        raise NotImplementedError

    def raw_grad_vjp_param(self, y, z, u):
        r""":math:`\partial_\theta (\nabla_z F)^T u` for ``u`` of the shape of ``z``;
        shape (n_hyper,)."""
        raise NotImplementedError

    #: whether :meth:`estimate_constants` estimates anything
    estimates_constants = False

    def estimate_constants(self, pgmap, lam):
        """The datafit with the constants it estimates from training data (not
        hyperparameters: e.g. Huber's scale), from the problem ``pgmap`` at ``lam``,
        before a search; itself when it has none."""
        return self

    def constants_lam(self, model, X, y, lam, l2_relative, sample_weight=None):
        r"""The hyperparameters at which a search that starts from no given point
        estimates the constants (:meth:`estimate_constants`) of ``model`` (of this
        datafit) on the training data ``(X, y)`` (``y`` encoded): ``lam``, the defaults'
        point, itself. ``l2_relative`` is the lower end of the search's L2 range,
        relative to the curvature of :func:`~skhypergrad._search_space.l2_scale`: a
        datafit whose constants follow the scale of ``y`` (Huber's) states its L2 weight
        in those units here, so that the search follows :math:`y \to c\,y`;
        ``sample_weight`` the weights of the rows (None: all 1)."""
        return lam

    def take_rows(self, samples):
        """The datafit of the rows ``samples`` of its targets (itself: only a datafit with
        weights bound to its rows, a :class:`~skhypergrad.datafits.WeightedDatafit`, has
        rows of its own)."""
        return self

    def kernel_params(self):
        """The datafit's parameters as the minibatch kernels read them (float64 array)."""
        return np.empty(0)

    def encode(self, y):
        """Target as used by the datafit (float64)."""
        return np.asarray(y, dtype=np.float64)

    @classmethod
    def for_classes(cls, n_classes):
        """The datafit of a classifier with ``n_classes`` classes (ValueError if it has no
        such form); only for ``is_classifier``."""
        raise ValueError(f"{cls.__name__} is not a classification datafit.")

    def intercept_only(self, y):
        """The optimal intercept(s) of the model with zero coefficients (the null model),
        shape (n_outputs,)."""
        raise NotImplementedError

    def null_loss(self, y, fit_intercept):
        """The mean loss of the null model: zero coefficients, the optimal intercept when
        ``fit_intercept`` (zero predictions otherwise). It does not move with a shift of
        ``y`` absorbed by the intercept: solvers measure their accuracy relative to it."""
        n, K = y.shape[0], self.n_outputs
        z = np.zeros((n, K)) if K > 1 else np.zeros(n)
        if fit_intercept:
            z = z + (self.intercept_only(y) if K > 1 else self.intercept_only(y)[0])
        return self.loss(y, z)

    def value(self, design, y, w):
        r"""Datafit value :math:`F(w)`."""
        return self.loss(y, design.matvec(w))

    def gradient(self, design, y, w):
        r"""Gradient :math:`\nabla F(w) = [X, 1]^T \nabla_z F(Xw + b)`."""
        return design.rmatvec(self.raw_grad(y, design.matvec(w)))

    def hessp(self, design, y, w, v):
        r"""Hessian-vector product :math:`\nabla^2 F(w) v` (generalized Hessian)."""
        return design.rmatvec(self.raw_hessp(y, design.matvec(w), design.matvec(v)))

    def lipschitz(self, design, curvature=None):
        r"""Lipschitz constant of :math:`\nabla F`: ``c * ||[X, 1]||_2^2 / n``, ``c`` the
        ``curvature`` given (a map's :meth:`data_curvature`) or the datafit's own."""
        c = self.curvature if curvature is None else curvature
        return c * design.squared_norm() / design.n_samples

    def coordinate_lipschitz(self, design, curvature=None):
        r"""Per-coordinate Lipschitz constants ``c * ||X_j||^2 / n`` (``c`` as in
        :meth:`lipschitz`)."""
        c = self.curvature if curvature is None else curvature
        return c * design.column_squared_norms() / design.n_samples


#: registered datafit classes by name
_REGISTRY = {}

#: what a datafit must define (beyond BaseDatafit's defaults)
_REQUIRED = ("loss", "raw_grad", "raw_hessp", "dual_term", "intercept_only")
#: what a datafit with hyperparameters must define as well
_HYPER = ("hyper", "at", "raw_grad_jvp_param", "raw_grad_vjp_param")


def register_datafit(cls):
    """Register a :class:`BaseDatafit` subclass under its ``name`` (usable as a class
    decorator); returns ``cls``. ValueError if it does not declare the contract or its
    name is taken by another class."""
    _check_contract(cls)
    if not isinstance(cls.name, str) or not cls.name:
        raise ValueError(f"{cls.__name__}.name must be a non-empty string to register it.")
    if _REGISTRY.get(cls.name, cls) is not cls:
        raise ValueError(f"A datafit is already registered as {cls.name!r}: "
                         f"{_REGISTRY[cls.name].__name__}.")
    _REGISTRY[cls.name] = cls
    return cls


def datafit_class(name):
    """The registered datafit class ``name`` (ValueError naming the registered ones)."""
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(f"datafit must be one of {tuple(_REGISTRY)} or a datafit instance, "
                         f"got {name!r}.") from None


def check_datafit(datafit):
    """``datafit`` if it is an instance of a class that declares the contract (a
    :class:`BaseDatafit` subclass defining ``loss``, ``raw_grad``, ``raw_hessp``,
    ``dual_term``, ``intercept_only`` and valid declarations), else a ValueError."""
    if not isinstance(datafit, BaseDatafit):
        raise ValueError(f"datafit must be a registered name {tuple(_REGISTRY)} or an "
                         f"instance of a BaseDatafit subclass, got {datafit!r}.")
    _check_contract(type(datafit))
    return datafit


#: the classes whose declarations passed :func:`_check_contract` (a class's contract is
#: its declarations, read once: models check their datafit at every construction)
_CHECKED = weakref.WeakSet()


def _check_contract(cls):
    if isinstance(cls, type) and cls in _CHECKED:
        return
    if not (isinstance(cls, type) and issubclass(cls, BaseDatafit)):
        raise ValueError(f"A datafit must be a BaseDatafit subclass, got {cls!r}.")
    missing = [m for m in _REQUIRED if getattr(cls, m, None) is None
               or getattr(cls, m) is getattr(BaseDatafit, m, None)]
    if missing:
        raise ValueError(f"Datafit {cls.__name__} does not define {', '.join(missing)} "
                         "(see skhypergrad.datafits: the datafit contract).")
    if cls.newton_model is not None and cls.newton_model not in NEWTON_MODELS:
        raise ValueError(f"{cls.__name__}.newton_model must be one of {NEWTON_MODELS} or "
                         f"None, got {cls.newton_model!r}.")
    if cls.curvature is None and cls.data_curvature is BaseDatafit.data_curvature:
        raise ValueError(f"{cls.__name__} declares no curvature bound (curvature=None) "
                         "and does not define data_curvature(y).")
    if cls.newton_model == "separable" and not (hasattr(cls, "output_datafit")
                                                and hasattr(cls, "output_target")):
        raise ValueError(f"{cls.__name__}.newton_model='separable' needs output_datafit() "
                         "and output_target(y, k).")
    if cls.n_hyper and any(getattr(cls, m) is getattr(BaseDatafit, m) for m in _HYPER):
        raise ValueError(f"{cls.__name__} declares hyperparameters (n_hyper) but does not "
                         f"define {', '.join(_HYPER)}.")
    if not (isinstance(cls.outer_losses, tuple) and cls.outer_losses):
        raise ValueError(f"{cls.__name__}.outer_losses must be a non-empty tuple of loss "
                         f"names, got {cls.outer_losses!r}.")
    _CHECKED.add(cls)
