r"""The interface every hypergradient engine sees: :class:`FixedPointMap`, a map
:math:`w = \Phi(w, \lambda)` given by its products with its conservative Jacobians,
and :class:`Linearization`, those products at one point (see
:mod:`skhypergrad.fixed_point`, which exports both).
"""

from ._prox_jacobian import DiagonalJacobian


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

    ``rounding`` (a float, or a function of no argument called on the first read) is
    the map's estimate of the rounding error of ``value``, in the norm of ``w``: a step
    of the iterates no larger than it cannot be told from zero. It is 0 for a map that
    declares none (:meth:`FixedPointMap.linearize`): its steps are then taken as exact.
    """

    def __init__(self, value, jvp_w, vjp_w, jvp_lam, vjp_lam, jac_diag=None, step=None,
                 hessp_subset=None, hessian_subset=None, jacobian=None, hessian_factor=None,
                 rounding=0.0):
        self._value = value
        self._rounding = rounding
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

    @property
    def rounding(self):
        """Rounding error of ``value`` (see the class docstring), 0 when not declared."""
        if callable(self._rounding):
            self._rounding = float(self._rounding())
        return self._rounding


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
