r"""Penalties :math:`G_\lambda`, all elastic nets with a linear parametrization.

Every penalty here is

.. math::

    G(w) = \sum_j \left(l1_j |w_j| + \frac{l2_j}{2} w_j^2\right),

with per-feature L1 weights ``l1`` and L2 weights ``l2`` that depend
linearly on the hyperparameters ``lam`` (always positive):

==============================  ===================  ====================  ======================
penalty                         ``lam``              ``l1``                ``l2``
==============================  ===================  ====================  ======================
:class:`L1`                     ``[lam1]``           ``lam1 * ones(p)``    0
:class:`ElasticNetPenalty`      ``[lam1, lam2]``     ``lam1 * ones(p)``    ``lam2 * ones(p)``
:class:`FixedRatioElasticNet`   ``[t]``              ``rho t * ones(p)``   ``(1-rho)t * ones(p)``
:class:`WeightedL1`             ``lam`` of length p  ``lam``               0
:class:`L2`                     ``[lam2]``           0                     ``lam2 * ones(p)``
:class:`WeightedL2`             ``lam`` of length p  0                     ``lam``
==============================  ===================  ====================  ======================

so the prox, its conservative Jacobian and its derivative with respect to
``lam`` are written once (:meth:`BasePenalty.prox` and friends) and each
penalty only states its map ``lam -> (l1, l2)`` and the transpose of that map.

The proximal operator with step ``g`` is, coordinate by coordinate,
:math:`S_{g\,l1_j}(z_j) / (1 + g\,l2_j)` with
:math:`S_t(z) = \mathrm{sign}(z)\max(|z| - t, 0)`. With ``D`` the mask
:math:`1\{|z_j| > g\,l1_j\}` (0 chosen at the kinks),

.. math::

    \partial_{z_j} \mathrm{prox}_j = \frac{D_j}{1 + g\,l2_j}, \quad
    \partial_{l1_j} \mathrm{prox}_j = -\frac{g\,D_j\,\mathrm{sign}(z_j)}{1 + g\,l2_j}, \quad
    \partial_{l2_j} \mathrm{prox}_j = -\frac{g\,\mathrm{prox}_j(z)}{1 + g\,l2_j}.

Multi-output coefficients (shape (p, K), flattened in C order) share the
weights ``l1_j`` and ``l2_j`` of their feature.

The module also converts scikit-learn's parametrizations (``alpha``,
``l1_ratio``, ``C``) to and from ``lam``.
"""

import numpy as np

from ._kernels import prox_enet, prox_enet_mask
from ._prox_jacobian import DiagonalJacobian

__all__ = [
    "L1", "ElasticNetPenalty", "FixedRatioElasticNet", "WeightedL1", "L2", "WeightedL2",
    "check_hyper",
    "enet_lam_from_sklearn", "enet_sklearn_from_lam",
    "logistic_lam_from_sklearn", "logistic_sklearn_from_lam", "logistic_weight_from_C",
    "svc_lam_from_sklearn", "svc_sklearn_from_lam",
    "huber_lam_from_sklearn", "huber_sklearn_from_lam",
]


#: names kept importable for one release, with a FutureWarning: old name -> new name
_RENAMED = {"ElasticNet": "ElasticNetPenalty"}


def _renamed(module, name, stacklevel=3):
    """The penalty ``name`` of :data:`_RENAMED` read from ``module`` under its old name,
    with a FutureWarning naming the new one (``ElasticNet`` is scikit-learn's
    estimator's name); AttributeError for any other name."""
    if name not in _RENAMED:
        raise AttributeError(f"module {module!r} has no attribute {name!r}")
    import warnings

    new = _RENAMED[name]
    warnings.warn(f"{module}.{name} was renamed {module}.{new} ({name} is the name of "
                  f"scikit-learn's estimator); import {new} instead. The old name will be "
                  "removed in the next release.", FutureWarning, stacklevel=stacklevel)
    return globals()[new]


def __getattr__(name):
    """The renamed penalties under their old names (see :func:`_renamed`)."""
    return _renamed(__name__, name)


def _uniform(value, n_features):
    """``value`` for every feature: a read-only zero-stride view, no ``p``-sized memory
    (``np.broadcast_to``'s result, built directly: it is made at every prox call)."""
    out = np.ndarray((n_features,), np.float64, np.array([value], dtype=np.float64), 0, (0,))
    out.flags.writeable = False
    return out


def _mask(z, l1, step, n_outputs, lower):
    """The kernel :func:`prox_enet_mask` on flat coefficients ``z``."""
    return prox_enet_mask(np.ascontiguousarray(z, dtype=np.float64), l1, float(step),
                          int(n_outputs), lower)


def _prox(z, l1, l2, step, n_outputs, lower):
    """The kernel :func:`prox_enet` on flat coefficients ``z``."""
    return prox_enet(np.ascontiguousarray(z, dtype=np.float64), l1, l2, float(step),
                     int(n_outputs), lower)


def _expand(weights, n_outputs):
    """Per-feature ``weights`` on the flat coefficients (entry ``j K + k``: feature ``j``)."""
    return weights if n_outputs == 1 else np.repeat(weights, n_outputs)


def _fold(g, n_features, n_outputs):
    return g if n_outputs == 1 else g.reshape(n_features, n_outputs).sum(axis=1)


class BasePenalty:
    r"""Shared elastic-net algebra; subclasses define the linear map ``lam -> (l1, l2)``.

    Parameters
    ----------
    positive : bool, default=False
        Constrain the coefficients to be nonnegative (scikit-learn's ``positive=True``):
        the penalty is then :math:`G(w) + \iota_{w \ge 0}`, whose prox clips at 0
        and whose conservative Jacobian is 0 where the clip is active.
    """

    #: whether the map uses ``l2`` (False: ``l2`` is always 0)
    has_l2 = False
    #: whether the map gives every feature the same ``l2`` (:meth:`l2_weight`)
    uniform_l2 = True
    #: whether the prox's Jacobian is diagonal (:meth:`prox_jac_diag`); a penalty whose
    #: Jacobian is not (block penalties) declares False and gives :meth:`prox_jacobian`
    diagonal_jacobian = True
    #: whether the penalty acts on whole rows of multi-output coefficients (the L2,1
    #: norm of a feature's outputs) rather than on each coefficient
    group_rows = False
    #: whether the map uses ``l1`` (False: ``l1`` is always 0)
    has_l1 = True
    #: whether the L1 and L2 weights are one hyperparameter's (a fixed ratio):
    #: :meth:`lam_from_weights` then reads the L1 weight only
    tied = False
    #: nonnegative coefficients (set by the constructor)
    positive = False

    def __init__(self, positive=False):
        self.positive = bool(positive)

    @property
    def lower(self):
        """The lower bound on the coefficients the kernels take: 0.0 or ``-inf``."""
        return 0.0 if self.positive else -np.inf

    def __repr__(self):
        return f"{type(self).__name__}(positive=True)" if self.positive \
            else f"{type(self).__name__}()"

    def n_hyper(self, n_features):
        """Number of hyperparameters for ``n_features`` features."""
        raise NotImplementedError

    def weights(self, lam, n_features):
        """``(l1, l2)``: per-feature L1 and L2 weights (float64, each of shape (p,)).

        They are only to be read: a penalty with one weight for every feature
        returns it as a read-only, zero-stride view (``np.broadcast_to``), which
        costs no ``p``-sized memory (p may be large with a sparse ``X``).
        """
        raise NotImplementedError

    def l2_weight(self, lam):
        """The L2 weight common to every feature (0.0 for a penalty without one);
        ValueError for a penalty whose L2 weights differ by feature
        (``uniform_l2`` False)."""
        if not self.uniform_l2:
            raise ValueError(f"{type(self).__name__} has one L2 weight per feature, not "
                             "one for all of them.")
        return float(self.weights(lam, 1)[1][0]) if self.has_l2 else 0.0

    def path_weights(self, lams, n_features):
        """``(L1, L2)`` of the points ``lams`` (one ``lam`` per row): the L1 weights of
        every point, a new array of shape (n_points, p), and their common L2 weights
        (:meth:`l2_weight`), of shape (n_points,)."""
        L1, L2 = np.empty((len(lams), n_features)), np.empty(len(lams))
        for i, lam in enumerate(lams):
            L1[i] = self.weights(lam, n_features)[0]
            L2[i] = self.l2_weight(lam)
        return L1, L2

    def weights_jvp(self, e, n_features):
        """``(dl1, dl2)``: the map applied to a direction ``e`` in ``lam`` (it is linear)."""
        return self.weights(e, n_features)

    def weights_vjp(self, g_l1, g_l2):
        """Transpose of the map: gradient in ``lam`` from the gradients in ``l1`` and in
        ``l2`` (each of shape (p,))."""
        raise NotImplementedError

    def lam_from_weights(self, l1, l2, n_features):
        """The ``lam`` whose weights are ``l1`` and ``l2`` on every feature (each ignored
        by a penalty without that term): a right inverse of :meth:`weights` on uniform weights.

        Searches state their scales, bounds and starting points as an L1 and an L2
        weight and turn them into ``lam`` here, for every penalty alike.
        """
        raise NotImplementedError

    def at_fixed_ratio(self, lam):
        """``(penalty, lam)``: the penalty with its weights' ratio fixed at that of
        ``lam`` and one hyperparameter, or None when it has no such form (the
        default)."""
        return None

    def check_lam(self, lam, n_features):
        """``lam`` as a float64 array of the right length; ValueError when not positive."""
        lam = np.atleast_1d(np.asarray(lam, dtype=np.float64))
        return self._checked(lam, (self.n_hyper(n_features),))

    def check_path(self, lams, n_features):
        """Points of ``lam`` (the rows of ``lams``) as a float64 array of shape
        ``(n_points, n_hyper)``, each checked as by :meth:`check_lam`, all at once."""
        lams = np.atleast_2d(np.asarray(lams, dtype=np.float64))
        return self._checked(lams, (lams.shape[0], self.n_hyper(n_features)))

    def _checked(self, lam, shape):
        """``lam`` when of ``shape`` (one point, or one per row), finite and >= 0;
        ValueError otherwise."""
        if lam.shape != shape:
            raise ValueError(f"{type(self).__name__} takes {shape[-1]} hyperparameter(s), "
                             f"got lam of shape {lam.shape}.")
        # (a nan makes both comparisons False)
        if lam.size and not (lam.min() >= 0 and lam.max() < np.inf):
            raise ValueError(f"Hyperparameters lam must be finite and >= 0, got {lam}.")
        return lam

    # -- the elastic-net algebra, written once ---------------------------------
    def row_dual_norms(self, u):
        r"""Dual norms of the rows of multi-output ``u`` (p, K): :math:`\|u_j\|_\infty`
        (the dual of :math:`\sum_k |w_{jk}|`)."""
        return np.abs(u).max(axis=1)

    def conjugate(self, u, l1, l2):
        r"""The conjugate of the penalty at ``u`` of shape (p, K), for positive L2 weights:
        :math:`\sum_{jk} \max(|u_{jk}| - l1_j, 0)^2 / (2\,l2_j)`."""
        excess = np.abs(u) - l1[:, None]
        np.maximum(excess, 0.0, out=excess)  # in place: p may be large
        np.square(excess, out=excess)
        return float(np.sum(excess, axis=1) @ (0.5 / l2))

    def value(self, coef, lam):
        """``sum_j l1_j |coef_j| + l2_j/2 coef_j^2`` (coef of shape (p,) or (p, K))."""
        coef = np.asarray(coef)
        p = coef.shape[0]
        l1, l2 = self.weights(lam, p)
        absc = np.abs(coef) if coef.ndim == 1 else np.abs(coef).sum(axis=1)
        sq = coef * coef if coef.ndim == 1 else (coef * coef).sum(axis=1)
        return float(l1 @ absc + 0.5 * (l2 @ sq))

    def gradient_on_support(self, coef_s, support, lam, n_features, n_outputs=1):
        r"""``l1_j sign(w_j) + l2_j w_j`` for ``w_j = coef_s`` nonzero at flat indices
        ``support``.

        The gradient of :math:`G` where it is differentiable; at a fixed point of
        the proximal-gradient map it gives the forward step on the support,
        :math:`z_S = w_S + g\,\nabla G(w)_S` (then ``prox(z)_S = w_S``).
        """
        l1, l2 = self.weights(lam, n_features)
        features = support if n_outputs == 1 else support // n_outputs
        return l1[features] * np.sign(coef_s) + l2[features] * coef_s

    def prox(self, z, step, lam, n_features, n_outputs=1):
        r"""``S_{g l1_j}(z_j) / (1 + g l2_j)`` on flat coefficients ``z``."""
        l1, l2 = self.weights(lam, n_features)
        return _prox(z, l1, l2, step, n_outputs, self.lower)

    def prox_mask(self, z, step, lam, n_features, n_outputs=1):
        r"""``D = 1{|z| > g l1}`` (``1{z > g l1}`` when ``positive``);
        ``d prox_j / dz_j = D_j / (1 + g l2_j)``."""
        l1, _ = self.weights(lam, n_features)
        return _mask(z, l1, step, n_outputs, self.lower)

    def prox_jac_diag(self, z, step, lam, n_features, n_outputs=1):
        """Diagonal of the conservative Jacobian ``d prox / dz``."""
        l1, l2 = self.weights(lam, n_features)
        return _mask(z, l1, step, n_outputs, self.lower) / (1.0 + step * _expand(l2, n_outputs))

    def prox_jacobian(self, z, step, lam, n_features, n_outputs=1):
        """The Jacobian of :meth:`prox_jac_diag` as a
        :class:`~skhypergrad._prox_jacobian.DiagonalJacobian`."""
        return DiagonalJacobian(self.prox_jac_diag(z, step, lam, n_features, n_outputs))

    def prox_jac_on_support(self, step, lam, support, n_features, n_outputs=1):
        r"""The entries of :meth:`prox_jac_diag` at flat indices ``support`` where the
        mask is 1: :math:`1 / (1 + g\,l2_j)` (at a fixed point, on the support of ``w``)."""
        l2 = self.weights(lam, n_features)[1]
        return 1.0 / (1.0 + step * l2[support if n_outputs == 1 else support // n_outputs])

    def prox_jvp_lam(self, z, step, lam, e, n_features, n_outputs=1):
        r"""``(d prox / d lam) e`` for a direction ``e`` in ``lam``."""
        l1, l2 = self.weights(lam, n_features)
        dl1, dl2 = self.weights_jvp(np.asarray(e, dtype=np.float64), n_features)
        D = self.prox_mask(z, step, lam, n_features, n_outputs)
        out = -step * D * np.sign(z) * _expand(dl1, n_outputs)
        if self.has_l2:
            out = out - step * _expand(dl2, n_outputs) * self.prox(z, step, lam, n_features,
                                                                   n_outputs)
        return out / (1.0 + step * _expand(l2, n_outputs))

    def prox_vjp_lam(self, z, step, lam, u, n_features, n_outputs=1):
        r"""``(d prox / d lam)^T u`` for a cotangent ``u`` on the coefficients."""
        l1, l2 = self.weights(lam, n_features)
        prox_u = _prox(z, l1, l2, step, n_outputs, self.lower) * u if self.has_l2 else None
        d_sign_u = _mask(z, l1, step, n_outputs, self.lower) * np.sign(z) * u
        return self._vjp_lam(d_sign_u, prox_u, step, l2, n_features, n_outputs)

    def prox_vjp_lam_on_support(self, coef_s, support, step, lam, u_s, n_features,
                                n_outputs=1):
        r""":meth:`prox_vjp_lam` at the forward step of a fixed point, for ``u`` read on
        its support only.

        At a fixed point with nonzero coefficients ``coef_s`` at flat indices
        ``support``, the forward step ``z`` has the mask ``D = 1`` there and 0
        elsewhere, ``sign(z) = sign(w)`` and ``prox(z) = w``: only the entries
        ``u_s`` of ``u`` on the support are read.
        """
        l2 = self.weights(lam, n_features)[1]
        g_l1 = np.zeros(n_features * n_outputs)
        g_l1[support] = np.sign(coef_s) * u_s
        prox_u = None
        if self.has_l2:
            prox_u = np.zeros(n_features * n_outputs)
            prox_u[support] = coef_s * u_s
        return self._vjp_lam(g_l1, prox_u, step, l2, n_features, n_outputs)

    def _vjp_lam(self, d_sign_u, prox_u, step, l2, n_features, n_outputs):
        r"""``(d prox / d lam)^T u`` from :math:`D\,\mathrm{sign}(z)\,u` and
        :math:`\mathrm{prox}(z)\,u` (elementwise, flat; None without an L2 term): the
        gradients in ``l1_j`` and ``l2_j`` are the sums over feature ``j``'s entries
        of :math:`c_j\,D\,\mathrm{sign}(z)\,u` and :math:`c_j\,\mathrm{prox}(z)\,u` with
        :math:`c_j = -g / (1 + g\,l2_j)`, then the transpose of ``lam -> (l1, l2)``."""
        c = -step / (1.0 + step * np.asarray(l2))
        g_l2 = c * _fold(prox_u, n_features, n_outputs) if self.has_l2 \
            else np.zeros(n_features)
        return self.weights_vjp(c * _fold(d_sign_u, n_features, n_outputs), g_l2)


class L1(BasePenalty):
    r"""Lasso penalty :math:`\lambda_1 \|w\|_1`; ``lam = [lam1]``."""

    def n_hyper(self, n_features):
        return 1

    def weights(self, lam, n_features):
        return _uniform(float(np.asarray(lam).ravel()[0]), n_features), \
            _uniform(0.0, n_features)

    def path_weights(self, lams, n_features):
        lams = np.asarray(lams, dtype=np.float64).reshape(len(lams), 1)
        return np.repeat(lams, n_features, axis=1), np.zeros(lams.shape[0])

    def weights_vjp(self, g_l1, g_l2):
        return np.array([g_l1.sum()])

    def lam_from_weights(self, l1, l2, n_features):
        return np.array([float(l1)])



class ElasticNetPenalty(BasePenalty):
    r"""Elastic net :math:`\lambda_1 \|w\|_1 + \frac{\lambda_2}{2}\|w\|^2`;
    ``lam = [lam1, lam2]``."""

    has_l2 = True

    def n_hyper(self, n_features):
        return 2

    def weights(self, lam, n_features):
        lam = np.asarray(lam, dtype=np.float64).ravel()
        return _uniform(lam[0], n_features), _uniform(lam[1], n_features)

    def l2_weight(self, lam):
        return float(np.asarray(lam, dtype=np.float64).ravel()[1])

    def path_weights(self, lams, n_features):
        lams = np.asarray(lams, dtype=np.float64).reshape(len(lams), 2)
        return np.repeat(lams[:, :1], n_features, axis=1), lams[:, 1].copy()

    def weights_vjp(self, g_l1, g_l2):
        return np.array([g_l1.sum(), np.sum(g_l2)])

    def lam_from_weights(self, l1, l2, n_features):
        return np.array([float(l1), float(l2)])

    def at_fixed_ratio(self, lam):
        """``(penalty, lam)``: the :class:`FixedRatioElasticNet` at the ratio of ``lam``,
        and its one hyperparameter, the total weight ``lam1 + lam2``."""
        lam = np.asarray(lam, dtype=np.float64).ravel()
        total = float(lam.sum())
        return FixedRatioElasticNet(lam[0] / total, positive=self.positive), \
            np.array([total])


class FixedRatioElasticNet(BasePenalty):
    r"""Elastic net at a fixed ratio, :math:`t\,(\rho\|w\|_1 + \frac{1-\rho}{2}\|w\|^2)`;
    ``lam = [t]``.

    scikit-learn's ``ElasticNet(alpha, l1_ratio)`` searched in ``alpha`` alone
    (:math:`t = \alpha`, :math:`\rho` = ``l1_ratio``), or ``LogisticRegression(C,
    l1_ratio)`` in ``C`` alone (:math:`t = 1 / (C n)`). The derivative in :math:`t` is
    :math:`\rho\,\partial_{l1} + (1 - \rho)\,\partial_{l2}` (:meth:`weights_vjp`).

    Parameters
    ----------
    l1_ratio : float in (0, 1]
        :math:`\rho`.
    positive : bool, default=False
    """

    has_l2 = True
    tied = True

    def __init__(self, l1_ratio, positive=False):
        super().__init__(positive)
        if not 0 < l1_ratio <= 1:
            raise ValueError(f"l1_ratio must be in (0, 1], got {l1_ratio!r}.")
        self.l1_ratio = float(l1_ratio)

    def __repr__(self):
        extra = ", positive=True" if self.positive else ""
        return f"{type(self).__name__}(l1_ratio={self.l1_ratio!r}{extra})"

    def n_hyper(self, n_features):
        return 1

    def weights(self, lam, n_features):
        t = float(np.asarray(lam, dtype=np.float64).ravel()[0])
        return _uniform(self.l1_ratio * t, n_features), \
            _uniform((1.0 - self.l1_ratio) * t, n_features)

    def l2_weight(self, lam):
        return (1.0 - self.l1_ratio) * float(np.asarray(lam, dtype=np.float64).ravel()[0])

    def weights_vjp(self, g_l1, g_l2):
        return np.array([self.l1_ratio * np.sum(g_l1) + (1.0 - self.l1_ratio) * np.sum(g_l2)])

    def lam_from_weights(self, l1, l2, n_features):
        return np.array([float(l1) / self.l1_ratio])



class WeightedL1(BasePenalty):
    r"""Weighted Lasso :math:`\sum_j \lambda_j |w_j|`; one hyperparameter per feature."""

    def n_hyper(self, n_features):
        return n_features

    def weights(self, lam, n_features):
        return np.asarray(lam, dtype=np.float64).ravel(), _uniform(0.0, n_features)

    def weights_vjp(self, g_l1, g_l2):
        return np.asarray(g_l1, dtype=np.float64).copy()

    def lam_from_weights(self, l1, l2, n_features):
        return np.full(n_features, float(l1))



class L2(BasePenalty):
    r"""Ridge penalty :math:`\frac{\lambda_2}{2}\|w\|^2`; ``lam = [lam2]``.

    Smooth: the prox is :math:`z / (1 + g\,\lambda_2)` and its Jacobian
    :math:`1 / (1 + g\,\lambda_2)` wherever ``z != 0`` (a coefficient exactly 0,
    as that of a zero column, is read as inactive).
    """

    has_l2 = True
    has_l1 = False

    def n_hyper(self, n_features):
        return 1

    def weights(self, lam, n_features):
        return _uniform(0.0, n_features), _uniform(self.l2_weight(lam), n_features)

    def l2_weight(self, lam):
        return float(np.asarray(lam, dtype=np.float64).ravel()[0])

    def weights_vjp(self, g_l1, g_l2):
        return np.array([np.sum(g_l2)])

    def lam_from_weights(self, l1, l2, n_features):
        return np.array([float(l2)])


class WeightedL2(BasePenalty):
    r"""Ridge with one weight per feature, :math:`\frac12 \sum_j \lambda_j w_j^2`; one
    hyperparameter per feature.

    Smooth: the prox is :math:`z_j / (1 + g\,\lambda_j)`, its Jacobian in ``z``
    :math:`1 / (1 + g\,\lambda_j)` (wherever ``z_j != 0``, as for :class:`L2`) and in
    :math:`\lambda_j` :math:`-g\,\mathrm{prox}_j(z) / (1 + g\,\lambda_j)`.
    """

    has_l2 = True
    has_l1 = False
    uniform_l2 = False

    def n_hyper(self, n_features):
        return n_features

    def weights(self, lam, n_features):
        return _uniform(0.0, n_features), np.asarray(lam, dtype=np.float64).ravel()

    def weights_vjp(self, g_l1, g_l2):
        return np.asarray(g_l2, dtype=np.float64).copy()

    def lam_from_weights(self, l1, l2, n_features):
        return np.full(n_features, float(l2))



def check_hyper(theta):
    """A datafit's hyperparameters ``theta`` as float64; ValueError unless finite and > 0
    (they are searched in log scale, as the penalty's)."""
    theta = np.atleast_1d(np.asarray(theta, dtype=np.float64))
    if not np.all(np.isfinite(theta)) or np.any(theta <= 0):
        raise ValueError(f"A datafit's hyperparameters must be finite and > 0, got {theta}.")
    return theta


# -- scikit-learn parametrizations ---------------------------------------------
def enet_lam_from_sklearn(alpha, l1_ratio=1.0):
    r"""``lam`` of :class:`ElasticNetPenalty` from scikit-learn's ``Lasso`` / ``ElasticNet``.

    scikit-learn minimizes :math:`\frac{1}{2n}\|y - Xw\|^2 + \alpha\rho\|w\|_1 +
    \frac{\alpha(1-\rho)}{2}\|w\|^2`, so :math:`\lambda_1 = \alpha\rho`,
    :math:`\lambda_2 = \alpha(1 - \rho)`.
    """
    return np.array([alpha * l1_ratio, alpha * (1.0 - l1_ratio)])


def enet_sklearn_from_lam(lam):
    """``(alpha, l1_ratio)`` from ``lam = [lam1]`` or ``[lam1, lam2]``."""
    lam = np.atleast_1d(np.asarray(lam, dtype=np.float64))
    if lam.shape[0] == 1:
        return float(lam[0]), 1.0
    alpha = float(lam[0] + lam[1])
    return alpha, float(lam[0] / alpha) if alpha > 0 else 1.0


def logistic_lam_from_sklearn(C, l1_ratio, n_samples):
    r"""``lam`` from scikit-learn's ``LogisticRegression(C, l1_ratio)``.

    scikit-learn minimizes :math:`C\sum_i \ell_i + \rho\|w\|_1 + \frac{1-\rho}{2}\|w\|^2`;
    dividing by :math:`Cn`: :math:`\lambda_1 = \rho/(Cn)`, :math:`\lambda_2 = (1-\rho)/(Cn)`.
    """
    return np.array([l1_ratio, 1.0 - l1_ratio]) / (C * n_samples)


def logistic_weight_from_C(C, n_samples):
    r"""The total weight :math:`1/(Cn)` (``lam1 + lam2``) of scikit-learn's ``C``: a bound
    on ``C`` as a bound on the weights (``C`` large is a weight small)."""
    return 1.0 / (C * n_samples)


def logistic_sklearn_from_lam(lam, n_samples):
    """``(C, l1_ratio)`` from ``lam = [lam1]`` or ``[lam1, lam2]``."""
    lam = np.atleast_1d(np.asarray(lam, dtype=np.float64))
    total = float(lam.sum())
    l1_ratio = float(lam[0] / total) if total > 0 else 1.0
    return 1.0 / (total * n_samples), l1_ratio


def svc_lam_from_sklearn(C, n_samples):
    r"""``lam = [1 / (C n)]`` from scikit-learn's ``LinearSVC(C)`` (either penalty).

    liblinear minimizes :math:`C\sum_i \ell_i + \frac12\|w\|^2` (or
    :math:`+ \|w\|_1`); dividing by :math:`Cn`: the weight :math:`1/(Cn)` of
    :class:`L2` (``lam = [lam2]``) or :class:`L1` (``lam = [lam1]``).
    """
    return np.array([1.0 / (float(C) * n_samples)])


def svc_sklearn_from_lam(lam, n_samples):
    """``C`` from ``lam = [lam1]`` or ``[lam2]``."""
    return 1.0 / (float(np.atleast_1d(lam)[0]) * n_samples)


def huber_lam_from_sklearn(alpha, l1_ratio, n_samples):
    r"""The penalty's ``lam`` from scikit-learn's ``HuberRegressor(alpha)`` and its L1 /
    elastic-net variants.

    scikit-learn's penalty is :math:`\alpha\|w\|^2` on the *sum* of the losses, with
    no 1/2; the variants here weigh :math:`\alpha(\rho\|w\|_1 + (1-\rho)\|w\|^2)`
    (``l1_ratio`` :math:`\rho`; 0 is ``HuberRegressor``). Divided by ``n``:
    :math:`\lambda_1 = \alpha\rho/n`, :math:`\lambda_2 = 2\alpha(1-\rho)/n`.

    Returns
    -------
    ndarray
        ``[lam2]`` (``l1_ratio = 0``, :class:`L2`), ``[lam1]`` (``l1_ratio = 1``,
        :class:`L1`) or ``[lam1, lam2]`` (:class:`ElasticNet`).
    """
    lam = np.array([alpha * l1_ratio, 2.0 * alpha * (1.0 - l1_ratio)]) / n_samples
    if l1_ratio == 0:
        return lam[1:]
    return lam[:1] if l1_ratio == 1 else lam


def huber_sklearn_from_lam(lam, penalty, n_samples):
    """``(alpha, l1_ratio)`` from the penalty's ``lam`` (``penalty`` "l2", "l1" or
    "elasticnet"); the inverse of :func:`huber_lam_from_sklearn`."""
    lam = np.atleast_1d(np.asarray(lam, dtype=np.float64))
    lam1, lam2 = {"l2": (0.0, lam[0]), "l1": (lam[0], 0.0)}.get(penalty, lam[:2])
    alpha = n_samples * (lam1 + 0.5 * lam2)
    return float(alpha), float(n_samples * lam1 / alpha) if alpha > 0 else 0.0
