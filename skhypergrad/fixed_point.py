r"""Fixed-point maps :math:`w = \Phi(w, \lambda)` and their conservative Jacobians.

Every hypergradient engine sees only this interface:

* ``apply(w, lam)``: :math:`\Phi(w, \lambda)`;
* ``jvp_w(w, lam, v)`` / ``vjp_w(w, lam, u)``: :math:`A v` / :math:`A^T u`
  with :math:`A = \partial_w \Phi`;
* ``jvp_lam(w, lam, e)`` / ``vjp_lam(w, lam, u)``: :math:`B e` / :math:`B^T u`
  with :math:`B = \partial_\lambda \Phi`;
* ``linearize(w, lam)``: the same four products at a fixed point, sharing the
  work they have in common (engines call this and reuse the result).

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
"""

import numpy as np

from ._design import Design, cached_gram, centred
from ._hessian_blocks import (gram_gradient, gram_subset, least_squares_rows_gram,
                              softmax_hessian_subset)
from ._validation import check_sparse_structure
from ._prox_jacobian import BlockJacobian, DiagonalJacobian
from ._datafit_contract import check_datafit
from .penalties import check_hyper

__all__ = ["FixedPointMap", "ProxGradMap", "Linearization"]


class Linearization:
    r"""The products ``A v``, ``A^T u``, ``B e``, ``B^T u`` of a map at one point.

    Built by :meth:`FixedPointMap.linearize`; holds ``value = Phi(w, lam)``
    (given as an array, or as a function of no argument, called on the first read:
    the implicit engines never read it).
    A proximal-gradient map also provides ``jacobian``, the prox's Jacobian
    :math:`\Delta` (symmetric, so :math:`A^T = (I - gH)\,\Delta`): ``jac_diag``, its
    diagonal ``delta``, for an elementwise penalty, or a block Jacobian
    (:mod:`skhypergrad._prox_jacobian`, ``jac_diag`` None) for a block penalty;
    ``step`` (``g``), ``hessp_subset(idx)``, a function ``u -> H[idx][:, idx] u``
    whose cost scales with the columns in ``idx``, ``hessian_subset(idx)``,
    the dense matrix ``H[idx][:, idx]`` (None where not available), and
    ``hessian_factor(idx)``, the matrix ``G`` of the rows of ``idx`` (whole rows of
    ``K`` outputs) with ``H[idx][:, idx] = G kron I_K`` when the Hessian has that form
    (multi-output least squares), else None.
    """

    def __init__(self, value, jvp_w, vjp_w, jvp_lam, vjp_lam, jac_diag=None, step=None,
                 hessp_subset=None, hessian_subset=None, jacobian=None, hessian_factor=None):
        self._value = value
        self.jvp_w = jvp_w
        self.vjp_w = vjp_w
        self.jvp_lam = jvp_lam
        self.vjp_lam = vjp_lam
        self.jac_diag = jac_diag
        self._jacobian = jacobian
        self.step = step
        self.hessp_subset = hessp_subset
        self.hessian_subset = hessian_subset
        self.hessian_factor = hessian_factor

    @property
    def jacobian(self):
        r"""The prox's Jacobian :math:`\Delta` as a
        :class:`~skhypergrad._prox_jacobian.DiagonalJacobian` (from ``jac_diag``) or a
        :class:`~skhypergrad._prox_jacobian.BlockJacobian` (a block penalty's), or None."""
        if self._jacobian is None and self.jac_diag is not None:
            self._jacobian = DiagonalJacobian(self.jac_diag)
        return self._jacobian

    @property
    def value(self):
        """``Phi(w, lam)``."""
        if callable(self._value):
            self._value = self._value()
        return self._value


class FixedPointMap:
    r"""Interface of a fixed-point map; see the module docstring.

    A map declares what more than the five products it offers (the engines read
    these declarations, never probe for methods):

    - ``prox_parts``: the map is :math:`\Phi = T(\Psi(w), \lambda)` with a diagonal
      :math:`\partial_z T` (or a block-diagonal one, which its linearizations give as
      their ``jacobian``: a block penalty's, whose ``prox_jac_diag`` is refused), and
      provides ``forward_step(w, samples=None)``,
      ``forward_step_vjp(w, u, samples=None)``, ``prox_jac_diag(z, lam)``,
      ``prox_vjp_lam(z, lam, u)`` and :meth:`forward_step_vjp_lam`;
    - ``n_samples``: the number of samples ``Psi`` averages (minibatch estimates
      on ``samples``), None if it is not an average;
    - :meth:`cheap_step`: a step of an equivalent map that needs no spectral norm.
    """

    n_params = None
    n_hyper = None
    #: Phi = T(Psi(w), lam) with a diagonal dT/dz (see above)
    prox_parts = False
    #: samples averaged by Psi (None: not an average of samples)
    n_samples = None

    def cheap_step(self):
        """A step ``g`` at which :meth:`with_step` gives the same fixed points and implicit
        Jacobian without a spectral norm, or None (the map has no step)."""
        return None

    def with_step(self, step):
        """The map with the step ``step`` (itself for a map without one)."""
        return self

    def forward_step_vjp_lam(self, w, lam, u):
        r""":math:`(\partial_\lambda \Psi)^T u` for a map with ``prox_parts``: 0 when the
        forward step does not depend on ``lam``."""
        return 0.0

    def apply(self, w, lam):
        raise NotImplementedError

    def jvp_w(self, w, lam, v):
        raise NotImplementedError

    def vjp_w(self, w, lam, u):
        raise NotImplementedError

    def jvp_lam(self, w, lam, e):
        raise NotImplementedError

    def vjp_lam(self, w, lam, u):
        raise NotImplementedError

    def bind(self, lam):
        """The map with its parts that take no ``lam`` evaluated at ``lam`` (the map
        itself unless they depend on ``lam``)."""
        return self

    def linearize(self, w, lam):
        """Products at ``(w, lam)``; override to share work between them."""
        return Linearization(
            value=lambda: self.apply(w, lam),
            jvp_w=lambda v: self.jvp_w(w, lam, v),
            vjp_w=lambda u: self.vjp_w(w, lam, u),
            jvp_lam=lambda e: self.jvp_lam(w, lam, e),
            vjp_lam=lambda u: self.vjp_lam(w, lam, u),
        )


class ProxGradMap(FixedPointMap):
    r"""Proximal-gradient map :math:`\Phi(w, \lambda) = T(\Psi(w), \lambda)`.

    .. math::

        \Psi(w) = w - g \nabla F(w), \qquad
        T(z, \lambda) = \mathrm{prox}_{g G_\lambda}(z)

    with step :math:`g = 1/L` (``L`` the Lipschitz constant of :math:`\nabla F`).
    The intercept entries of ``w`` are not penalized: ``T`` is the identity there.
    At a point, with ``D`` the prox's mask and ``H`` the Hessian of ``F``:

    .. math::

        A = \frac{D (I - gH)}{1 + g\,l2}, \qquad
        B = \big[\partial_\lambda T(\Psi(w), \lambda),\;
        -g\,\frac{D}{1 + g\,l2} [X, 1]^T \partial_\theta \nabla_z F\big]

    where the second block is that of the datafit's own hyperparameters
    :math:`\theta` (``datafit.n_hyper`` of them, last in ``lam``; none for most
    datafits), on which :math:`\Psi` depends.

    Parameters
    ----------
    datafit : BaseDatafit
        A datafit declaring the contract of :mod:`skhypergrad.datafits`.
    penalty : L1, ElasticNetPenalty, WeightedL1 or L2
    X : ndarray or sparse matrix of shape (n_samples, n_features)
        Used as given (float64 is expected). A sparse ``X`` is checked before
        any kernel reads it: malformed index arrays raise a ``ValueError``
        naming ``X``; unsorted or repeated indices give a canonical copy;
        formats other than CSR / CSC are converted to CSR (see
        :func:`~skhypergrad._validation.check_sparse_structure`).
    y : ndarray of shape (n_samples,)
        Target, already encoded for the datafit (see ``datafit.encode``).
    fit_intercept : bool, default=False
    step : float, default=None
        Step ``g``; ``1 / lipschitz`` when None.
    lipschitz : float, default=None
        Lipschitz constant of :math:`\nabla F`, when already known (e.g. from a
        previous map on the same rows); computed at first use otherwise, so a
        solver that never needs it (coordinate descent) never pays for it.
    center : {False, True, "inplace"}, default=False
        With an intercept and a dense ``X``: work on the centred design (see
        :mod:`skhypergrad._design`), a copy of ``X`` (``True``) or ``X`` itself,
        centred in place (``"inplace"``, for a copy the caller owns). The
        fixed points are then :math:`(w, b + \mu^T w)`; the model, its
        predictions and the hypergradients do not change, and no shift of the
        columns or of ``y`` reaches the solvers.
    """

    prox_parts = True

    def __init__(self, datafit, penalty, X, y, fit_intercept=False, step=None, lipschitz=None,
                 center=False):
        self.datafit = check_datafit(datafit)
        self.penalty = penalty
        X = check_sparse_structure(X, "X")
        offset, target_offset = None, 0.0
        if center:
            X, offset = centred(X, fit_intercept, copy=center != "inplace")
        if offset is not None and datafit.least_squares:
            target_offset = np.mean(y, axis=0)  # one per output
            y = y - target_offset
        self._set(Design(X, fit_intercept, datafit.n_outputs, offset, target_offset), y,
                  step, lipschitz)

    def _set(self, design, y, step, lipschitz):
        #: how many of the last entries of ``lam`` are the datafit's
        self.n_datafit_hyper = int(self.datafit.n_hyper)
        self.design = design
        self.y = y
        self._lipschitz = None if lipschitz is None else float(lipschitz)
        self._step = None if step is None else float(step)
        self._curvature = None

    @classmethod
    def on_design(cls, datafit, penalty, design, y, step=None, lipschitz=None):
        """The map of a :class:`~skhypergrad._design.Design` as it is (centred or not:
        e.g. columns or rows taken from another map's design).

        Parameters
        ----------
        datafit, penalty
            As for the constructor.
        design : Design
        y : ndarray of shape (n_samples,)
            The target in the design's coordinates (encoded, and centred with it).
        step, lipschitz : float, default=None
            As for the constructor.

        Returns
        -------
        ProxGradMap
        """
        self = object.__new__(cls)
        self.datafit = datafit
        self.penalty = penalty
        self._set(design, y, step, lipschitz)
        return self

    @property
    def curvature(self):
        r"""The curvature ``c`` that sets the map's step and the solvers' scales: the
        datafit's :meth:`~skhypergrad.datafits.BaseDatafit.data_curvature` at the
        targets (its global bound ``curvature`` when it has one; computed once)."""
        if self._curvature is None:
            self._curvature = float(self.datafit.data_curvature(self.y))
        return self._curvature

    @property
    def null_loss(self):
        """The datafit's :meth:`~skhypergrad.datafits.BaseDatafit.null_loss` on the map's
        targets (zero coefficients, the optimal intercept when fitted): computed once
        per target array ``y`` (a twin on other targets computes its own)."""
        kept = self.__dict__.get("_null_loss")
        if kept is None or kept[0] is not self.y:
            kept = (self.y, float(self.datafit.null_loss(self.y, self.design.fit_intercept)))
            self._null_loss = kept
        return kept[1]

    @property
    def lipschitz(self):
        r"""Lipschitz constant of :math:`\nabla F`, ``curvature * ||[X, 1]||_2^2 / n``
        (computed once, at first use)."""
        if self._lipschitz is None:
            self._lipschitz = self.datafit.lipschitz(self.design, self.curvature)
        return self._lipschitz

    @property
    def known_lipschitz(self):
        """The Lipschitz constant if it was computed or given, else None."""
        return self._lipschitz

    @property
    def step(self):
        """Step ``g`` of the map."""
        if self._step is None:
            self._step = 1.0 / self.lipschitz if self.lipschitz > 0 else 1.0
        return self._step

    @property
    def n_samples(self):
        return self.design.n_samples

    @property
    def n_params(self):
        return self.design.n_params

    @property
    def n_hyper(self):
        return self.penalty.n_hyper(self.design.n_features) + self.n_datafit_hyper

    # -- the hyperparameters: the penalty's, then the datafit's ----------------------
    def split(self, lam):
        """``(lam_penalty, theta)``: the penalty's hyperparameters and the datafit's (the
        last ``n_datafit_hyper`` entries of ``lam``). The one place ``lam`` is cut."""
        lam = np.atleast_1d(np.asarray(lam, dtype=np.float64))
        k = lam.shape[0] - self.n_datafit_hyper
        return lam[:k], lam[k:]

    def datafit_at(self, lam):
        """The datafit with its hyperparameters at their part of ``lam``."""
        if not self.n_datafit_hyper:
            return self.datafit
        return self.datafit.at(self.split(lam)[1])

    def check_lam(self, lam):
        """``lam`` as a float64 array of length ``n_hyper`` (ValueError otherwise)."""
        lam = np.atleast_1d(np.asarray(lam, dtype=np.float64))
        if lam.shape != (self.n_hyper,):
            raise ValueError(f"{self.penalty!r} with {self.datafit!r} takes {self.n_hyper} "
                             f"hyperparameter(s), got lam of shape {lam.shape}.")
        lam_pen, theta = self.split(lam)
        self.penalty.check_lam(lam_pen, self.n_features)
        check_hyper(theta)
        return lam

    def bind(self, lam):
        """The map with the datafit at its part of ``lam`` and the same ``n_hyper``: its
        forward step (which takes no ``lam``) is then that of ``apply(w, lam)``."""
        if not self.n_datafit_hyper:
            return self
        return self._with_datafit(self.datafit_at(lam), self.n_datafit_hyper)

    def problem(self, lam):
        """``(pgmap, lam_penalty)``: the inner problem at ``lam`` as solvers see it.

        The map with the datafit fixed at its part of ``lam`` (its hyperparameters
        are no longer the map's), and the penalty's part, checked: solvers, the
        duality gap and the prox read these only. ``(self, lam)`` when the datafit
        owns no hyperparameter.
        """
        lam = self.check_lam(lam)
        if not self.n_datafit_hyper:
            return self, lam
        return self._with_datafit(self.datafit_at(lam), 0), self.split(lam)[0]

    def _with_datafit(self, datafit, n_datafit_hyper):
        """The same map (same design and target, no copy) with another datafit; the
        Lipschitz constant and step are kept when its curvature is the same."""
        twin = object.__new__(type(self))
        twin.__dict__.update(self.__dict__)
        twin.__dict__.pop("_twin", None)
        twin.datafit = datafit
        twin.n_datafit_hyper = n_datafit_hyper
        if datafit.curvature != self.datafit.curvature:
            twin._lipschitz = twin._step = None
        return twin

    @property
    def n_features(self):
        return self.design.n_features

    # -- the smooth part Psi ---------------------------------------------------
    def forward_step(self, w, samples=None):
        r"""``Psi(w) = w - g grad F(w)``; on the rows ``samples`` only, an unbiased estimate.

        With the datafit as it is (see :meth:`bind` for a datafit with hyperparameters).
        """
        design, y, datafit = self._rows(samples)
        return w - self.step * datafit.gradient(design, y, w)

    def forward_step_vjp_lam(self, w, lam, u):
        r""":math:`(\partial_\lambda \Psi)^T u`: zero in the penalty's hyperparameters,
        :math:`-g\,\partial_\theta(\nabla_z F)^T [X, 1] u` in the datafit's."""
        out = np.zeros(self.n_hyper)
        if self.n_datafit_hyper:
            zpred = self.design.matvec(w)
            out[out.shape[0] - self.n_datafit_hyper:] = -self.step * self.datafit_at(
                lam).raw_grad_vjp_param(self.y, zpred, self.design.matvec(u))
        return out

    def _forward_step_jvp_theta(self, datafit, zpred, e_theta):
        r""":math:`(\partial_\theta \Psi)\, e = -g [X, 1]^T \partial_\theta(\nabla_z F)\, e`."""
        return -self.step * self.design.rmatvec(
            datafit.raw_grad_jvp_param(self.y, zpred, e_theta))

    def forward_step_vjp(self, w, u, samples=None):
        r"""``(d Psi / dw)^T u = u - g H u`` (``H`` symmetric, so also the JVP)."""
        design, y, datafit = self._rows(samples)
        return u - self.step * datafit.hessp(design, y, w, u)

    def _rows(self, samples):
        """``(design, y, datafit)`` of the rows ``samples`` (all when None): a weighted
        datafit keeps its rows' weights, not rescaled (unbiased estimates)."""
        if samples is None:
            return self.design, self.y, self.datafit
        return (self.design.take_rows(samples), self.y[samples],
                self.datafit.take_rows(samples))

    # -- the nonsmooth part T ----------------------------------------------------
    def _coef_args(self):
        return self.design.n_features, self.design.n_outputs

    def prox(self, z, lam):
        """``T(z, lam)``: the prox on the coefficients, identity on the intercept."""
        k = self.design.n_coefs
        lam = self.split(lam)[0]
        out = z.copy()
        out[:k] = self.penalty.prox(z[:k], self.step, lam, *self._coef_args())
        return out

    def prox_jac_diag(self, z, lam):
        """Diagonal of ``d T / dz`` (1 on the intercept)."""
        k = self.design.n_coefs
        d = np.ones(z.shape)
        d[:k] = self.penalty.prox_jac_diag(z[:k], self.step, self.split(lam)[0],
                                           *self._coef_args())
        return d

    def prox_jacobian(self, z, lam):
        r"""``d T / dz`` as a Jacobian object (:mod:`skhypergrad._prox_jacobian`): the
        penalty's on the coefficients, the identity on the intercept."""
        k = self.design.n_coefs
        if self.penalty.diagonal_jacobian:
            return DiagonalJacobian(self.prox_jac_diag(z, lam))
        J = self.penalty.prox_jacobian(z[:k], self.step, self.split(lam)[0], *self._coef_args())
        T = J.block_size
        n_b = (z.shape[0] - k) // T  # the intercept: one block of T, identity
        blocks = np.concatenate([J.blocks, self.design.n_features + np.arange(n_b)])
        normals = np.concatenate([J.normals, np.zeros((n_b, T))])
        ones = np.ones(n_b)
        return BlockJacobian(z.shape[0], blocks, normals, np.concatenate([J.along, ones]),
                             np.concatenate([J.across, ones]))

    def prox_jvp_lam(self, z, lam, e):
        """``(d T / d lam) e`` (``T`` does not depend on the datafit's hyperparameters)."""
        k = self.design.n_coefs
        out = np.zeros(z.shape)
        out[:k] = self.penalty.prox_jvp_lam(z[:k], self.step, self.split(lam)[0],
                                            self.split(e)[0], *self._coef_args())
        return out

    def prox_vjp_lam(self, z, lam, u):
        """``(d T / d lam)^T u``, of length ``n_hyper`` (zero in the datafit's entries)."""
        k = self.design.n_coefs
        return self._with_theta_zeros(self.penalty.prox_vjp_lam(
            z[:k], self.step, self.split(lam)[0], u[:k], *self._coef_args()))

    def _with_theta_zeros(self, g_pen):
        """The penalty's gradient ``g_pen`` followed by zeros for the datafit's entries."""
        if not self.n_datafit_hyper:
            return g_pen
        return np.concatenate([g_pen, np.zeros(self.n_datafit_hyper)])

    # -- the interface -------------------------------------------------------------
    def apply(self, w, lam):
        return self.prox(self.bind(lam).forward_step(w), lam)

    def jvp_w(self, w, lam, v):
        return self.linearize(w, lam).jvp_w(v)

    def vjp_w(self, w, lam, u):
        return self.linearize(w, lam).vjp_w(u)

    def jvp_lam(self, w, lam, e):
        return self.linearize(w, lam).jvp_lam(e)

    def vjp_lam(self, w, lam, u):
        return self.linearize(w, lam).vjp_lam(u)

    def with_step(self, step):
        """The same map (same data, no copy) with another step ``g``.

        The fixed points do not depend on ``g``; neither does the implicit
        Jacobian :math:`(I - A)^{-1}B` there (up to the choice at kinks).
        The map itself when its step is already ``step``; the last other map made
        is kept and returned again for the same ``step``.
        """
        step = float(step)
        if self._step is not None and step == self._step:
            return self
        twin = self.__dict__.get("_twin")  # the last one made, kept (a search asks again)
        if twin is not None and twin._step == step:
            return twin
        twin = object.__new__(type(self))  # a shallow copy: the same Design, and what
        twin.__dict__.update(self.__dict__)  # is cached with it, is shared
        twin.__dict__.pop("_twin", None)
        twin._step = step
        self._twin = twin
        return twin

    def with_target(self, y):
        """The same map (same design, no copy of ``X``) for another target.

        The design, what solvers cache with it (its converted copy of ``X``, its
        Gram matrix), the curvature, the Lipschitz constant and the step, as far as
        known, are shared.

        Parameters
        ----------
        y : ndarray of shape (n_samples,)
            The target, already encoded for the datafit (e.g. a perturbed one).

        Returns
        -------
        ProxGradMap
        """
        twin = object.__new__(type(self))
        twin.__dict__.update(self.__dict__)
        twin.__dict__.pop("_twin", None)
        twin.y = y
        return twin

    def cheap_step(self):
        """``g`` if known, else ``1 / curvature``: no spectral norm computed.

        For uses that only need the fixed points and the implicit Jacobian there
        (any ``g > 0`` gives them), not a contraction.
        """
        if self._step is not None or self._lipschitz is not None:
            return self.step
        return 1.0 / self.curvature

    def linearize(self, w, lam, at_solution=False):
        r"""Products at ``(w, lam)`` with ``Psi(w)``, the mask and ``Xw`` computed once.

        With ``at_solution=True``, ``w`` is taken to be the fixed point, whose
        forward step needs no product with ``X``: on the support S of ``w``,
        ``w_S = prox(z_S)`` with the mask 1 there gives
        :math:`z_S = w_S + g\,\nabla G(w)_S` (the penalty is differentiable on S,
        see :meth:`BasePenalty.gradient_on_support`); off S, ``z = 0`` (mask 0),
        and on the intercept ``z = w`` (its gradient is zero). The active set is
        then S plus the intercept, the prox's Jacobian diagonal is
        :math:`1 / (1 + g\,l2_j)` on S (:meth:`BasePenalty.prox_jac_on_support`), 0 off
        S and 1 on the intercept, ``value`` is ``w``, and the products in ``lam``
        read ``sign(w_S)`` and ``w_S``: the exact Jacobians at the fixed point. The
        forward step itself is formed only for ``value`` and ``jvp_lam``, and the
        predictions ``Xw`` (the Hessian's weights) from the columns S only, and
        only if a product needs them. A block penalty (``diagonal_jacobian`` False)
        and several outputs are linearized from the forward step, ``at_solution``
        or not; the Jacobian is then the penalty's block form (``jacobian``, with
        ``jac_diag`` None).
        """
        design, datafit, y, g = self.design, self.datafit_at(lam), self.y, self.step
        lam_pen = self.split(lam)[0]
        columns = {}  # the designs of column subsets, built once per subset

        def take_columns(idx):
            key = idx.tobytes()
            if key not in columns:
                columns[key] = design.take_columns(idx)
            return columns[key]

        def least_squares_gram():
            """The solver's cached Gram matrix of a least-squares design, or None."""
            return cached_gram(design) if datafit.least_squares else None

        block = not self.penalty.diagonal_jacobian
        if at_solution and design.n_outputs == 1 and not block:
            k = design.n_coefs
            support = w[:k].nonzero()[0]
            w_s = w[support]
            # the mask is 1 on S (|z_j| = |w_j| (1 + g l2_j) + g l1_j > g l1_j) and 0 off S
            diag = np.zeros(w.shape)
            diag[support] = self.penalty.prox_jac_on_support(g, lam_pen, support,
                                                             *self._coef_args())
            diag[k:] = 1.0

            def z_of():  # read by value and jvp_lam only, which AID does not call
                z = np.zeros(w.shape)
                z[support] = w_s + g * self.penalty.gradient_on_support(
                    w_s, support, lam_pen, *self._coef_args())
                z[k:] = w[k:]
                return z

            def prox_vjp_lam(u):  # D = 1, sign(z) = sign(w) and prox(z) = w on the support
                return self._with_theta_zeros(self.penalty.prox_vjp_lam_on_support(
                    w_s, support, g, lam_pen, u[support], *self._coef_args()))
            predictions = []  # Xw + b, from the columns S, once

            def zpred_of():
                if not predictions:
                    params = np.concatenate([support, np.arange(k, design.n_params)])
                    predictions.append(take_columns(params).matvec(w[params]))
                return predictions[0]
        else:
            grad = gram_gradient(design, datafit, y, w) if block else None
            if grad is None:
                zpred = design.matvec(w)
                grad = design.rmatvec(datafit.raw_grad(y, zpred))
            else:  # least squares: the predictions are never read (constant Hessian)
                zpred = None
            z = w - g * grad
            del grad
            if block:
                jacobian, diag = self.prox_jacobian(z, lam), None
            else:
                diag = self.prox_jac_diag(z, lam)

            def z_of():
                return z

            def prox_vjp_lam(u):
                return self.prox_vjp_lam(z, lam, u)

            def zpred_of():
                return zpred
        if block:  # Delta as its blocks (it is not diagonal)
            apply_jac = jacobian.apply
            any_active = jacobian.idx.shape[0] > 0
        else:
            def apply_jac(x):
                return diag * x
            any_active = bool((diag != 0.0).any())
        n_theta = self.n_datafit_hyper

        def vjp_lam(u):  # the prox's block, then the datafit's through the forward step
            out = prox_vjp_lam(u)
            if n_theta:
                out[out.shape[0] - n_theta:] = -g * datafit.raw_grad_vjp_param(
                    y, zpred_of(), design.matvec(apply_jac(u)))
            return out

        def jvp_lam(e):
            out = self.prox_jvp_lam(z_of(), lam, e)
            if n_theta:
                out = out + apply_jac(self._forward_step_jvp_theta(datafit, zpred_of(),
                                                                   self.split(e)[1]))
            return out

        constant_hessian = datafit.constant_hessian
        raw_hessp = []  # raw_hessp_at the predictions, made at the first product

        def hessian_weights_at(dz):
            """``raw_hessp`` at the predictions (not computed when ``H`` is constant)."""
            if not raw_hessp:
                raw_hessp.append(datafit.raw_hessp_at(
                    y, None if constant_hessian else zpred_of()))
            return raw_hessp[0](dz)

        def hessp(v):
            return design.rmatvec(hessian_weights_at(design.matvec(v)))

        def jvp_w(v):
            return apply_jac(v - g * hessp(v))

        def vjp_w(u):
            du = apply_jac(u)
            if not any_active:
                return du
            return du - g * hessp(du)

        def hessp_subset(idx):
            if design.n_outputs != 1:
                G_s = least_squares_rows_gram(design, datafit, np.asarray(idx))
                if G_s is not None:  # H_SS = G_SS kron I: |S|^2 / K per product
                    K = design.n_outputs
                    return lambda u: (G_s @ u.reshape(-1, K)).ravel()
                return None
            gram = least_squares_gram()
            if gram is not None:  # |S|^2 per product instead of 2 n |S|
                return gram_subset(*gram, np.asarray(idx), design.n_features).__matmul__
            sub = take_columns(idx)
            return lambda u: sub.rmatvec(hessian_weights_at(sub.matvec(u)))

        def hessian_subset(idx):
            if design.n_outputs != 1:
                if datafit.newton_model == "softmax":
                    return softmax_hessian_subset(design, zpred_of(),
                                                   datafit.sample_weight, np.asarray(idx))
                G_s = least_squares_rows_gram(design, datafit, np.asarray(idx))
                return None if G_s is None else np.kron(G_s, np.eye(design.n_outputs))
            gram = least_squares_gram()
            if gram is not None:  # least squares: [X, 1]^T [X, 1] / n from the solver's Gram
                return gram_subset(*gram, np.asarray(idx), design.n_features)
            # a number when the Hessian is constant (least squares: 1 / n)
            weights = hessian_weights_at(1.0 if constant_hessian
                                         else np.ones(design.n_samples))
            return take_columns(idx).weighted_gram(weights)

        def hessian_factor(idx):
            if design.n_outputs == 1:
                return None
            return least_squares_rows_gram(design, datafit, np.asarray(idx))

        return Linearization(
            value=lambda: self.prox(z_of(), lam),
            jvp_w=jvp_w,
            vjp_w=vjp_w,
            jvp_lam=jvp_lam,
            vjp_lam=vjp_lam,
            jac_diag=diag,
            step=g,
            hessp_subset=hessp_subset,
            hessian_subset=hessian_subset,
            hessian_factor=hessian_factor,
            jacobian=jacobian if block else None,
        )

    def objective(self, w, lam):
        """Primal objective ``F(w) + G_lam(coef)``."""
        return (self.datafit_at(lam).value(self.design, self.y, w)
                + self.penalty.value(self.design.coef(w), self.split(lam)[0]))

    def residual(self, w, lam):
        """Fixed-point residual ``||w - Phi(w, lam)|| / g`` (zero exactly at the solution)."""
        return float(np.linalg.norm(w - self.apply(w, lam))) / self.step
