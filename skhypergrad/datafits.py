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
  predictions, what depends on them alone computed once);
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
"""

import weakref
from functools import partial

import numpy as np
from scipy.special import expit, log_expit, xlogy

__all__ = ["BaseDatafit", "Quadratic", "Logistic", "Multinomial", "register_datafit",
           "datafit_class", "check_datafit", "weighted", "WeightedDatafit"]

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

    def reference_curvature(self, y, z):
        r"""The curvature :math:`c` of one sample's loss that the search's L2 weights are
        measured in (:func:`~skhypergrad._search_space.l2_scale`), at the null model's
        predictions ``z`` (``y`` its targets).

        By default ``unit_curvature``, the global bound; for a datafit without one
        (``curvature = None``: the log-link GLMs), the mean second derivative there,
        :math:`\frac1n\sum_i \ell''(y_i, z_i)` (``n * raw_hessp`` along ones: with
        sample weights, :math:`\frac1n\sum_i s_i \ell''(y_i, z_i)`). A datafit whose
        bound can lie orders of magnitude above the curvature its fits see (Huber's
        :math:`2/\sigma`, at a scale that vanishes on a perfect fit) gives one in the
        units of the data instead. Rescaling ``y`` must rescale it as it rescales the
        second derivatives (Huber's by :math:`1/c` for :math:`y \to c\,y`), so that
        the chosen model does not depend on the units of ``y``."""
        c = self.unit_curvature
        if c is None:
            c = float(np.mean(self.raw_hessp(y, z, np.ones_like(z)))) * y.shape[0]
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

    def constants_lam(self, model, X, y, lam, l2_relative):
        r"""The hyperparameters at which a search that starts from no given point
        estimates the constants (:meth:`estimate_constants`) of ``model`` (of this
        datafit) on the training data ``(X, y)`` (``y`` encoded): ``lam``, the defaults'
        point, itself. ``l2_relative`` is the lower end of the search's L2 range,
        relative to the curvature of :func:`~skhypergrad._search_space.l2_scale`: a
        datafit whose constants follow the scale of ``y`` (Huber's) states its L2 weight
        in those units here, so that the search follows :math:`y \to c\,y`."""
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


@register_datafit
class Quadratic(BaseDatafit):
    r"""Least squares :math:`F(w) = \frac{1}{2n} \|y - Xw - b\|^2`."""

    name = "quadratic"
    curvature = 1.0
    kernel_code = 0
    constant_hessian = True
    least_squares = True
    accepts_sample_weight = True

    def intercept_only(self, y):
        return np.array([np.mean(y)])

    def loss(self, y, z, sample_weight=None):
        r = y - z
        return 0.5 * float(r @ (r if sample_weight is None else sample_weight * r)) / y.shape[0]

    def raw_grad(self, y, z):
        return (z - y) / y.shape[0]

    def raw_hessp(self, y, z, dz):
        return dz / y.shape[0]

    def dual_term(self, y, theta, sample_weight=None):
        r"""With :math:`f_i(u) = s_i (y_i - u)^2/(2n)`:
        :math:`\sum_i \theta_i y_i - n\theta_i^2/(2 s_i)`."""
        n = y.shape[0]
        return float(theta @ y) - 0.5 * n * float(theta @ per_weight(theta, sample_weight))

    def __repr__(self):
        return "Quadratic()"


@register_datafit
class Logistic(BaseDatafit):
    r"""Binary logistic loss :math:`F(w) = \frac1n \sum_i \log(1 + e^{-y_i z_i})`,
    :math:`y_i = \pm 1`."""

    name = "logistic"
    is_classifier = True
    curvature = 0.25
    outer_losses = ("logistic",)
    kernel_code = 1
    accepts_sample_weight = True

    @classmethod
    def for_classes(cls, n_classes):
        if n_classes != 2:
            raise ValueError(f"The logistic datafit needs exactly 2 classes, got "
                             f"{n_classes}; use datafit='multinomial'.")
        return cls()

    def encode_classes(self, idx):
        """Class indices 0, 1 as the labels -1, +1."""
        return 2.0 * np.asarray(idx) - 1.0

    def encode(self, y):
        y = np.asarray(y, dtype=np.float64)
        if not np.all(np.abs(y) == 1.0):
            raise ValueError("Logistic datafit expects labels in {-1, +1}; "
                             "encode the two classes first.")
        return y

    def intercept_only(self, y):
        t = np.clip((np.mean(y) + 1.0) / 2.0, 1e-12, 1.0 - 1e-12)  # the frequency of +1
        return np.array([np.log(t / (1.0 - t))])

    def loss(self, y, z, sample_weight=None):
        return -weighted_mean(log_expit(y * z), sample_weight)

    def raw_grad(self, y, z):
        return -y * expit(-y * z) / y.shape[0]

    def raw_hessp(self, y, z, dz):
        s = expit(y * z)
        return s * (1.0 - s) * dz / y.shape[0]

    def dual_term(self, y, theta, sample_weight=None):
        r"""With :math:`a_i = n y_i \theta_i / s_i \in [0, 1]`:
        :math:`-\frac1n\sum_i s_i (a\log a + (1-a)\log(1-a))`."""
        n = y.shape[0]
        a = np.clip(n * y * per_weight(theta, sample_weight), 0.0, 1.0)
        return -weighted_mean(xlogy(a, a) + xlogy(1.0 - a, 1.0 - a), sample_weight)

    def __repr__(self):
        return "Logistic()"


@register_datafit
class Multinomial(BaseDatafit):
    r"""Multinomial logistic loss :math:`F(W) = \frac1n \sum_i \mathrm{lse}(z_i) - z_{i, y_i}`.

    Parameters
    ----------
    n_classes : int
        Number of classes K; predictions ``z`` have shape (n, K).
    """

    name = "multinomial"
    is_classifier = True
    curvature = 0.5
    outer_losses = ("multinomial",)
    newton_model = "softmax"
    kernel_code = 2
    accepts_sample_weight = True

    def __init__(self, n_classes):
        self.n_classes = int(n_classes)

    @classmethod
    def for_classes(cls, n_classes):
        return cls(n_classes)

    def encode_classes(self, idx):
        """Class indices as they are (int64)."""
        return np.asarray(idx).astype(np.int64)

    @property
    def n_outputs(self):
        return self.n_classes

    def encode(self, y):
        y = np.asarray(y)
        yi = y.astype(np.int64)
        if not np.array_equal(yi, y) or yi.min(initial=0) < 0 \
                or yi.max(initial=0) >= self.n_classes:
            raise ValueError("Multinomial datafit expects class indices in "
                             f"0..{self.n_classes - 1}.")
        return yi

    def _onehot(self, y):
        Y = np.zeros((y.shape[0], self.n_classes))
        Y[np.arange(y.shape[0]), y] = 1.0
        return Y

    def intercept_only(self, y):
        freq = np.bincount(y, minlength=self.n_classes) / y.shape[0]
        return np.log(np.clip(freq, 1e-12, None))

    def loss(self, y, z, sample_weight=None):
        n = y.shape[0]
        return weighted_mean(_row_logsumexp(z) - z[np.arange(n), y], sample_weight)

    def raw_grad(self, y, z):
        P = class_probabilities(z)
        P[np.arange(y.shape[0]), y] -= 1.0
        return P / y.shape[0]

    def raw_hessp(self, y, z, dz):
        return _softmax_hessp(class_probabilities(z), dz)

    def raw_hessp_at(self, y, z):
        """``dz -> (diag(p_i) - p_i p_i^T) dz_i / n`` with the class probabilities ``p_i``
        computed once."""
        return partial(_softmax_hessp, class_probabilities(z))

    def dual_term(self, y, theta, sample_weight=None):
        r"""With :math:`p_i = e_{y_i} - n\theta_i / s_i` on the simplex:
        :math:`-\frac1n \sum_i s_i \sum_k p_{ik}\log p_{ik}`."""
        n = y.shape[0]
        P = np.clip(self._onehot(y) - n * per_weight(theta, sample_weight), 0.0, 1.0)
        return -weighted_mean(np.sum(xlogy(P, P), axis=1), sample_weight)

    def __repr__(self):
        return f"Multinomial(n_classes={self.n_classes})"


def _row_logsumexp(z):
    r""":math:`m_i + \log \sum_k e^{z_{ik} - m_i}` with :math:`m_i = \max_k z_{ik}` for the
    rows of a finite ``z`` (no overflow; scipy's ``logsumexp`` without its per-call
    overhead, which showed in solvers evaluating the loss at every step)."""
    m = z.max(axis=1)
    E = z - m[:, None]
    np.exp(E, out=E)
    return np.log(E.sum(axis=1)) + m


def class_probabilities(z):
    r"""The softmax of the rows of ``z``, :math:`p_{ik} = e^{z_{ik} - m_i} / \sum_l
    e^{z_{il} - m_i}` with :math:`m_i = \max_l z_{il}` (one exponential per entry; no
    overflow)."""
    P = z - z.max(axis=1, keepdims=True)
    np.exp(P, out=P)
    P /= P.sum(axis=1, keepdims=True)
    return P


def _softmax_hessp(P, dz):
    r""":math:`(\mathrm{diag}(p_i) - p_i p_i^T)\, dz_i / n` for the class probabilities
    ``P`` (rows :math:`p_i`)."""
    Pdz = P * dz
    Pdz -= P * Pdz.sum(axis=1, keepdims=True)
    Pdz /= P.shape[0]
    return Pdz


def weighted_mean(values, sample_weight=None):
    r""":math:`\frac1n \sum_i s_i v_i` of per-sample ``values`` (shape (n,)), the plain
    mean when ``sample_weight`` is None."""
    if sample_weight is None:  # np.mean's sum and division, without its dispatch
        return float(np.add.reduce(values) / values.shape[0]) \
            if values.ndim == 1 and values.dtype == np.float64 else float(np.mean(values))
    return float(values @ sample_weight) / values.shape[0]


def per_weight(theta, sample_weight=None):
    r""":math:`\theta_i / s_i` (rows of ``theta``), 0 where :math:`s_i = 0` (there
    :math:`\theta_i = 0` too: a dual point of the weighted datafit); ``theta`` itself
    when ``sample_weight`` is None."""
    if sample_weight is None:
        return theta
    s = sample_weight if theta.ndim == 1 else sample_weight[:, None]
    return np.divide(theta, s, out=np.zeros(theta.shape), where=s > 0)


def check_sample_weight(sample_weight, n_samples):
    r"""``sample_weight`` as float64 weights rescaled to mean 1 over the ``n_samples``
    rows, :math:`s_i = n\,w_i / \sum_j w_j` (ValueError unless finite, nonnegative,
    of length ``n_samples`` and of positive sum); None stays None."""
    if sample_weight is None:
        return None
    s = np.asarray(sample_weight, dtype=np.float64)
    if s.ndim != 1 or s.shape[0] != n_samples:
        raise ValueError(f"sample_weight must have shape ({n_samples},), got {s.shape}.")
    total = float(np.sum(s))
    if not np.all(np.isfinite(s)) or np.any(s < 0) or not total > 0:
        raise ValueError("sample_weight must be finite and nonnegative with a positive "
                         "sum.")
    return s * (n_samples / total)



def check_class_decision(y_true, decision, labels=None, sample_weight=None):
    """The arguments of a held-out loss of a decision function, checked.

    Returns ``(idx, n_labels, decision, sample_weight)``: ``idx[i]`` the position of
    ``y_true[i]`` in ``labels`` (the sorted labels of ``y_true`` when None; ValueError
    for a label outside them), ``decision`` as float64 and the weights as
    :func:`check_sample_weight` gives them.
    """
    y_true = np.asarray(y_true)
    sample_weight = check_sample_weight(sample_weight, y_true.shape[0])
    labels = np.unique(y_true) if labels is None else np.asarray(labels)
    idx = np.searchsorted(labels, y_true)
    if np.any(idx >= labels.shape[0]) or np.any(labels[np.minimum(idx, len(labels) - 1)]
                                                 != y_true):
        raise ValueError("y_true has labels outside labels.")
    return idx, labels.shape[0], np.asarray(decision, dtype=np.float64), sample_weight

class WeightedDatafit(BaseDatafit):
    r"""A datafit with per-sample weights bound to its rows (made by :func:`weighted`).

    .. math::

        F_s(w) = \frac1n \sum_i s_i\, \ell(y_i, z_i), \qquad
        \frac1n \sum_i s_i = 1,

    the weights rescaled to mean 1 (scikit-learn's ``ElasticNet`` and
    ``PoissonRegressor`` rescale them to sum to ``n``; the objective of
    ``LogisticRegression`` and ``LinearSVC``, :math:`C \sum_i w_i \ell_i`, is this one
    at :math:`1 / (C \sum_i w_i)`). Integer weights give the fit of the rows
    repeated, zero weights that of the rows dropped.

    Its gradient and Hessian in the predictions are the datafit's times :math:`s_i`
    (``raw_grad``, ``raw_hessp``); its loss and dual term the datafit's own weighted
    forms (``accepts_sample_weight``); its curvature bound the datafit's times
    :math:`\max_i s_i`; its null model the root of the weighted gradient in the
    intercept (Newton's method from the unweighted one). It declares no fast path
    that assumes unit weights: not ``least_squares`` (no Gram matrix, no exact
    SURE), no minibatch kernels, coordinate descent's Newton model only when it is
    ``"diagonal"`` (per-sample curvatures, weighted), ``"softmax"`` (the solver
    reads ``sample_weight``: the Hessians :math:`s_i (\mathrm{diag}(p_i) - p_i p_i^T)`)
    or ``"separable"`` (each output's datafit weighted alike, :meth:`output_datafit`).

    Parameters
    ----------
    datafit : BaseDatafit
        A datafit with ``accepts_sample_weight``.
    sample_weight : array-like of shape (n_samples,)
        Nonnegative weights of the rows it is evaluated on (rescaled to mean 1).
    rescale : bool, default=True
        False: the weights as given (the rows of a weighted datafit, see
        :meth:`take_rows`).
    """

    def __init__(self, datafit, sample_weight, *, rescale=True):
        check_datafit(datafit)
        if not datafit.accepts_sample_weight:
            raise ValueError(f"The datafit {datafit!r} does not take sample weights.")
        s = np.asarray(sample_weight, dtype=np.float64)
        self.datafit = datafit
        self.sample_weight = check_sample_weight(s, s.shape[0]) if rescale else s
        self._s_max = float(np.max(self.sample_weight))
        for name in ("is_classifier", "multi_output", "n_outputs", "outer_losses",
                     "constant_hessian", "piecewise_quadratic"):
            setattr(self, name, getattr(datafit, name))
        self.newton_model = datafit.newton_model \
            if datafit.newton_model in ("diagonal", "softmax", "separable") else None
        self.curvature = None if datafit.curvature is None \
            else datafit.curvature * self._s_max
        self._null = None  # (y, intercept_only(y)) last computed

    @property
    def unit_curvature(self):
        return self.datafit.curvature

    def data_curvature(self, y):
        return self.datafit.data_curvature(y) * self._s_max

    def take_rows(self, samples):
        """The datafit of the rows ``samples``, with their weights as they are (not
        rescaled: the minibatch estimates of the full datafit stay unbiased)."""
        return WeightedDatafit(self.datafit, self.sample_weight[samples], rescale=False)

    def encode(self, y):
        return self.datafit.encode(y)

    def output_datafit(self):
        """The datafit of one output of a "separable" datafit: the output's, with the same
        weights (``newton_model = "separable"``)."""
        return WeightedDatafit(self.datafit.output_datafit(), self.sample_weight,
                               rescale=False)

    def output_target(self, y, k):
        """Output ``k``'s targets (``newton_model = "separable"``)."""
        return self.datafit.output_target(y, k)

    def _weigh(self, g):
        s = self.sample_weight
        return g * (s if np.ndim(g) <= 1 else s[:, None])

    def loss(self, y, z):
        return self.datafit.loss(y, z, sample_weight=self.sample_weight)

    def raw_grad(self, y, z):
        return self._weigh(self.datafit.raw_grad(y, z))

    def raw_hessp(self, y, z, dz):
        return self._weigh_hessp(y, self.datafit.raw_hessp(y, z, dz))

    def raw_hessp_at(self, y, z):
        hessp = self.datafit.raw_hessp_at(y, z)
        return lambda dz: self._weigh_hessp(y, hessp(dz))

    def _weigh_hessp(self, y, h):
        return self._weigh(np.broadcast_to(h, (y.shape[0],) + np.shape(h)[1:]))

    def dual_term(self, y, theta):
        return self.datafit.dual_term(y, theta, sample_weight=self.sample_weight)

    def intercept_only(self, y):
        r"""The intercept(s) :math:`b` of zero coefficients: the root of
        :math:`\sum_i s_i \nabla_z \ell(y_i, b)`, by Newton's method (a pseudo-inverse
        for the shift-invariant softmax) from the unweighted datafit's; kept for the
        targets ``y`` it was last computed for (the solvers' stopping tests read it at
        every check)."""
        if self._null is not None and self._null[0] is y:
            return self._null[1].copy()
        b = self._newton_intercept(y)
        self._null = (y, b)
        return b.copy()

    def _newton_intercept(self, y):
        b = np.array(self.datafit.intercept_only(y), dtype=np.float64)
        K, n = self.n_outputs, y.shape[0]
        for _ in range(100):
            z = np.full(n, b[0]) if K == 1 else np.tile(b, (n, 1))
            g = np.atleast_1d(self.raw_grad(y, z).sum(axis=0))
            if K == 1:
                h = float(self.raw_hessp(y, z, np.ones(n)).sum())
                step = g / h if h > 0 else np.zeros(1)
            else:
                H = np.column_stack([self.raw_hessp(y, z, np.tile(e, (n, 1))).sum(axis=0)
                                     for e in np.eye(K)])
                step = np.linalg.pinv(H) @ g
            b = b - step
            if not np.all(np.isfinite(b)):
                return np.array(self.datafit.intercept_only(y), dtype=np.float64)
            if np.max(np.abs(step)) <= 1e-13 * (1.0 + np.max(np.abs(b))):
                break
        return b

    def __repr__(self):
        return f"weighted({self.datafit!r})"


def weighted(datafit, sample_weight):
    """``datafit`` with the per-sample weights ``sample_weight`` of its rows bound to it
    (a :class:`WeightedDatafit`), or ``datafit`` itself when ``sample_weight`` is None.
    ValueError for a datafit that does not take weights (``accepts_sample_weight``)."""
    if sample_weight is None:
        return datafit
    return WeightedDatafit(datafit, sample_weight)
