r"""The proximal-gradient map :class:`ProxGradMap` of a datafit, a penalty and a design:
its construction (centring, the step, the Lipschitz constant and the curvature computed
once and shared by its twins), the cut of ``lam`` into the penalty's and the
datafit's hyperparameters, its smooth part :math:`\Psi` and nonsmooth part :math:`T`;
its linearization is :mod:`skhypergrad._prox_grad_linearization`. Exported by
:mod:`skhypergrad.fixed_point`.
"""

import numpy as np

from ._datafit_contract import check_datafit
from ._design import Design, centred
from ._fixed_point_map import FixedPointMap
from ._prox_grad_linearization import linearize
from ._prox_jacobian import BlockJacobian, DiagonalJacobian
from ._validation import check_sparse_structure
from .penalties import check_hyper


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
        return linearize(self, w, lam, at_solution)

    def objective(self, w, lam):
        """Primal objective ``F(w) + G_lam(coef)``."""
        return (self.datafit_at(lam).value(self.design, self.y, w)
                + self.penalty.value(self.design.coef(w), self.split(lam)[0]))

    def residual(self, w, lam):
        """Fixed-point residual ``||w - Phi(w, lam)|| / g`` (zero exactly at the solution)."""
        return float(np.linalg.norm(w - self.apply(w, lam))) / self.step
