r"""The dual of support vector regression: solver, projection and fixed-point map.

scikit-learn's :class:`~sklearn.svm.SVR` (libsvm) solves, in the coefficients
:math:`\beta = \alpha - \alpha^*` of its prediction
:math:`f(x) = \sum_i \beta_i K(x_i, x) + b`,

.. math::

    \min_\beta \; \tfrac12 \beta^T K \beta - y^T \beta + \epsilon \|\beta\|_1
    \quad\text{s.t.}\quad -C_i \le \beta_i \le C_i,\; \mathbf 1^T \beta = 0,

with :math:`C_i = C w_i` for sample weights :math:`w` (:math:`C_i = C` without).
:func:`svr_dual` solves it as libsvm does, in its 2n-variable form
:math:`a = [\alpha; \alpha^*]` by :func:`~skhypergrad.svm.smo` (labels
:math:`[+1; -1]`, linear term :math:`[\epsilon - y; \epsilon + y]`).

:class:`SVRDualMap` is its projected (proximal) gradient fixed point

.. math::

    \Phi(\beta, \lambda) = P\big(\beta - g\,(K\beta - y)\big), \qquad
    P(z) = \arg\min_{|b_i| \le C_i,\ \mathbf 1^T b = 0}
    \tfrac12 \|b - z\|^2 + g\epsilon \|b\|_1,

:math:`\lambda = [C, \epsilon, \gamma]`. :math:`P` is the prox of
:math:`g\epsilon|b_i|` followed by the clip to :math:`[-C_i, C_i]`, shifted by the
multiplier :math:`\nu` of the equality constraint:
:math:`b_i = \mathrm{clip}(\mathrm{soft}(z_i - \nu, g\epsilon), -C_i, C_i)`, :math:`\nu`
the root of the non-increasing :math:`\sum_i b_i(\nu)` (:func:`project_svr`). With F
the free coordinates of :math:`P(z)` (:math:`0 < |b_i| < C_i`), U those at a bound and
:math:`s = \mathrm{sign}\,b`, its conservative Jacobian is

.. math::

    \partial_z P = I_F - \frac{\mathbf 1_F \mathbf 1_F^T}{|F|}, \qquad
    \partial_\epsilon P = -g\,\partial_z P\, s, \qquad
    \partial_C P = (w s)_U - \mathbf 1_F\,\frac{\sum_U w_i s_i}{|F|},

and 0 on the coordinates at 0 or at a bound. At the fixed point the intercept is
:math:`b = \nu / g = -\mathrm{mean}_F\,\big((K\beta)_i - y_i + \epsilon s_i\big)`
(:func:`svr_intercept`). The map is not a separable prox (``prox_parts`` is False):
AID-FP and ITD iterate it, AID-CG runs GMRES on its adjoint system.
"""

import warnings

import numpy as np
from numba import njit
from numpy.linalg import LinAlgError
from scipy.linalg import LinAlgWarning, solve

from .fixed_point import FixedPointMap
from .svm import smo, upper_bounds

__all__ = ["svr_dual", "svr_intercept", "kkt_violation", "project_svr", "SVRDualMap",
           "target_spread"]

#: relative distance to 0 or to a bound under which a coefficient is at it
_RTOL = 1e-10
#: SMO's KKT violations before the active-set solve of :func:`svr_dual` (the first:
#: libsvm's default)
_SMO_TOLS = (1e-3, 1e-6)
#: largest number of active-set solves after each SMO run
_ACTIVE_SET_STEPS = 8


def svr_dual(K, y, C, epsilon, beta0=None, tol=1e-10):
    r"""``(beta, b)`` of scikit-learn's ``SVR`` on the kernel ``K`` (module docstring).

    SMO (:func:`~skhypergrad.svm.smo` on libsvm's 2n-variable form, the two
    coefficients of a sample sharing its kernel row) runs to each KKT violation of
    :data:`_SMO_TOLS` above ``tol`` in turn, each followed by the active-set solve
    (:func:`_active_set_solution`: the free coefficients and the intercept from the
    equalities of the KKT conditions on the sets SMO found), accepted when its KKT
    violation is below ``tol``; SMO runs to ``tol`` when none is.

    Parameters
    ----------
    K : ndarray of shape (n, n)
    y : ndarray of shape (n,)
    C : float or ndarray of shape (n,)
        The bound, or each sample's (``C * sample_weight``).
    epsilon : float
    beta0 : ndarray of shape (n,), default=None
        Warm start (feasible: within the bounds, summing to 0).
    tol : float, default=1e-10
        KKT violation of the solution (libsvm's measure: the largest gap
        :math:`\max_{I_{up}} -z_t G_t - \min_{I_{low}} -z_t G_t` of the 2n-variable form),
        relative to the standard deviation of ``y`` (1 for a constant ``y``), as are
        the tolerances of :data:`_SMO_TOLS`: the solve of ``s y`` with ``s C`` and
        ``s epsilon`` takes the same steps as that of ``y``.

    Returns
    -------
    beta : ndarray of shape (n,)
    b : float
        The intercept (libsvm's :math:`-\rho`).
    """
    n = y.shape[0]
    # the KKT violation is in the units of y: every tolerance is relative to its spread
    scale = target_spread(y)
    tol = tol * scale
    Cs = upper_bounds(C, n)
    z = np.concatenate([np.ones(n), -np.ones(n)])
    rows = np.concatenate([np.arange(n), np.arange(n)])
    p = np.concatenate([epsilon - y, epsilon + y])
    a = None if beta0 is None else np.concatenate([np.maximum(beta0, 0),
                                                   np.maximum(-beta0, 0)])
    C2 = np.concatenate([Cs, Cs])
    for smo_tol in [t * scale for t in _SMO_TOLS if t * scale > tol]:
        a, G, _, _ = smo(K, z, C2, a, smo_tol, p=p, rows=rows)
        exact = _active_set_solution(K, y, Cs, epsilon, a[:n] - a[n:], tol)
        if exact is not None:
            return exact
    a, G, _, _ = smo(K, z, C2, a, tol, p=p, rows=rows)
    beta = a[:n] - a[n:]
    zG = z * G
    free = (a > _RTOL * C2) & (a < C2 * (1 - _RTOL))
    if np.any(free):
        rho = float(np.mean(zG[free]))
    else:  # the middle of the feasible interval, as libsvm
        up = ((z > 0) & (a < C2 * (1 - _RTOL))) | ((z < 0) & (a > _RTOL * C2))
        low = ((z > 0) & (a > _RTOL * C2)) | ((z < 0) & (a < C2 * (1 - _RTOL)))
        hi = zG[up].min() if np.any(up) else np.inf
        lo = zG[low].max() if np.any(low) else -np.inf
        rho = 0.5 * (hi + lo) if np.isfinite(hi) and np.isfinite(lo) else \
            float(hi if np.isfinite(hi) else lo)
    return beta, -rho


def target_spread(y):
    """The standard deviation of ``y``, 1 when it is 0 (the unit of the KKT violation)."""
    spread = float(np.std(y))
    return spread if spread > 0.0 else 1.0


def kkt_violation(K, y, C, epsilon, beta):
    r"""libsvm's KKT violation of ``beta`` (feasible) in the 2n-variable form.

    With :math:`u = y - K\beta`, the coefficient :math:`\alpha_i = \max(\beta_i, 0)`
    has :math:`-z_i G_i = u_i - \epsilon` and :math:`\alpha^*_i = \max(-\beta_i, 0)`
    has :math:`u_i + \epsilon`; the violation is the largest of them over the
    coefficients that can increase (:math:`\alpha_i < C_i` or :math:`\alpha^*_i > 0`)
    minus the smallest over those that can decrease (:math:`\alpha_i > 0` or
    :math:`\alpha^*_i < C_i`).

    Parameters
    ----------
    K : ndarray of shape (n, n)
    y : ndarray of shape (n,)
    C : ndarray of shape (n,)
    epsilon : float
    beta : ndarray of shape (n,)

    Returns
    -------
    float
    """
    u = y - K @ beta
    top = beta < C
    bottom = beta > -C
    up = np.concatenate([(u - epsilon)[top], (u + epsilon)[beta < 0]])
    low = np.concatenate([(u - epsilon)[beta > 0], (u + epsilon)[bottom]])
    if up.size == 0 or low.size == 0:
        return 0.0
    return float(up.max() - low.min())


def _active_set_solution(K, y, C, epsilon, beta, tol):
    r"""The exact ``(beta, b)`` from the sets of ``beta``, or None when not found.

    With F the free coefficients (:func:`support_sets` of ``beta``), U those at a bound
    (held at :math:`C_i s_i`), the others at 0 and :math:`s = \mathrm{sign}\,\beta`,
    the KKT equalities :math:`(K\beta)_F + b - y_F + \epsilon s_F = 0`,
    :math:`\mathbf 1^T \beta = 0` are solved for :math:`\beta_F` and :math:`b`. The
    result is returned when its free coefficients keep their signs strictly inside their
    bounds and its KKT violation (:func:`kkt_violation`) is below ``tol``. Otherwise
    (at most :data:`_ACTIVE_SET_STEPS` times, a primal-dual active-set step) a free
    coefficient that changed sign goes to 0 and one past its bound to the bound; with
    :math:`g = K\beta + b - y`, a coefficient at 0 with :math:`|g_i| > \epsilon` and
    one at a bound whose :math:`g_i + \epsilon s_i` has the sign of :math:`s_i` become
    free (sign :math:`-\mathrm{sign}\,g_i`, or :math:`s_i`), and the equalities are
    solved again; None when the sets repeat.
    """
    s = np.sign(beta)
    free, bound = support_sets(beta, C)
    seen = set()
    for _ in range(_ACTIVE_SET_STEPS):
        key = (free.tobytes(), bound.tobytes(), s.tobytes())
        F = np.flatnonzero(free)
        nf = F.shape[0]
        if nf == 0 or key in seen:
            return None
        seen.add(key)
        out = np.where(bound, C * s, 0.0)
        U = np.flatnonzero(bound)
        M = np.empty((nf + 1, nf + 1))
        M[:nf, :nf] = K[np.ix_(F, F)]
        M[:nf, nf] = 1.0
        M[nf, :nf] = 1.0
        M[nf, nf] = 0.0
        rhs = np.append(y[F] - epsilon * s[F] - K[np.ix_(F, U)] @ out[U], -np.sum(out[U]))
        try:
            with warnings.catch_warnings():  # ill-conditioned: the KKT check decides
                warnings.simplefilter("ignore", LinAlgWarning)
                x = solve(M, rhs, assume_a="sym", check_finite=False)
        except LinAlgError:
            return None
        if not np.all(np.isfinite(x)):
            return None
        xF, b = x[:nf], float(x[nf])
        out[F] = xF
        flipped = np.sign(xF) != s[F]
        past = np.abs(xF) >= C[F]
        if not (np.any(flipped) or np.any(past)) and \
                kkt_violation(K, y, C, epsilon, out) < tol:
            return out, b
        g = K @ out + b - y
        zero = ~free & ~bound
        enter_zero = zero & (np.abs(g) > epsilon)
        enter_bound = bound & (s * (g + epsilon * s) > 0)
        s = np.where(enter_zero, -np.sign(g), s)
        free = (free | enter_zero | enter_bound)
        bound = bound & ~enter_bound
        to_zero, to_bound = F[flipped & ~past], F[past]
        free[to_zero] = free[to_bound] = False
        s[to_zero] = 0.0
        s[to_bound] = np.sign(xF[past])
        bound[to_bound] = True
    return None


def support_sets(beta, C):
    """Boolean masks ``(free, bound)``: :math:`0 < |\\beta_i| < C_i` and
    :math:`|\\beta_i| = C_i` (within a relative ``1e-10``)."""
    bound = np.abs(beta) >= C * (1 - _RTOL)
    return (np.abs(beta) > _RTOL * C) & ~bound, bound


def svr_intercept(K, y, beta, C, epsilon):
    r"""The intercept :math:`b = -\mathrm{mean}_F\,((K\beta)_i - y_i + \epsilon s_i)` of a
    solution with free coefficients F (module docstring); 0 when none is free."""
    free, _ = support_sets(beta, C)
    if not np.any(free):
        return 0.0
    return -float(np.mean(K[free] @ beta - y[free] + epsilon * np.sign(beta[free])))


@njit(cache=True)
def _sum_at(z, C, t, nu):
    out = 0.0
    for i in range(z.shape[0]):
        u = z[i] - nu
        m = min(max(abs(u) - t, 0.0), C[i])
        out += m if u > 0 else -m
    return out


@njit(cache=True)
def _root(z, C, t):
    span = np.max(np.abs(z)) + t + np.max(C) + 1.0
    lo, hi = -span, span
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if _sum_at(z, C, t, mid) > 0:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-15 * span:
            break
    nu = 0.5 * (lo + hi)
    # exactly, on the linear piece of the sum around its root
    total = 0.0
    n_free = 0
    for i in range(z.shape[0]):
        u = z[i] - nu
        s = 1.0 if u > 0 else -1.0
        m = abs(u) - t
        if 0.0 < m < C[i]:
            total += z[i] - t * s
            n_free += 1
        elif m >= C[i]:
            total += C[i] * s
    if n_free:
        nu = total / n_free
    return nu


def project_svr(z, C, t):
    r""":math:`P(z)`: the prox of :math:`t\|b\|_1` on :math:`\{|b_i| \le C_i,\
    \mathbf 1^T b = 0\}` (module docstring, :math:`t = g\epsilon`).

    Returns
    -------
    b : ndarray
    nu : float
        The multiplier of the equality constraint.
    """
    z = np.asarray(z, dtype=np.float64)
    nu = _root(z, C, float(t))
    u = z - nu
    return np.sign(u) * np.minimum(np.maximum(np.abs(u) - t, 0.0), C), nu


class SVRDualMap(FixedPointMap):
    r"""Projected gradient step on the SVR dual (module docstring).

    Parameters
    ----------
    K : ndarray of shape (n, n)
        Kernel of the training rows, at the width the map is built at.
    y : ndarray of shape (n,)
    dK : ndarray of shape (n, n), default=None
        :math:`\partial_\gamma K` (``lam = [C, epsilon, gamma]``), or None
        (``lam = [C, epsilon]``).
    sample_weight : ndarray of shape (n,), default=None
        :math:`w` of the bounds :math:`C_i = C w_i` (ones when None).
    step : float, default=None
        ``g``; :math:`1 / \lambda_{\max}(K)` when None.
    """

    def __init__(self, K, y, dK=None, sample_weight=None, step=None):
        self.K = K
        self.y = np.asarray(y, dtype=np.float64)
        self.dK = dK
        n = K.shape[0]
        self.w = np.ones(n) if sample_weight is None else \
            np.asarray(sample_weight, dtype=np.float64)
        self.n_params = n
        self.n_hyper = 2 if dK is None else 3
        if step is None:
            step = 1.0 / max(float(np.linalg.eigvalsh(K)[-1]), 1e-12)
        self.step = step

    def _z(self, w):
        return w - self.step * (self.K @ w - self.y)

    def _project(self, w, lam):
        return project_svr(self._z(w), float(lam[0]) * self.w, self.step * float(lam[1]))[0]

    def _parts(self, w, lam):
        """``(free, bound, signs)`` of :math:`P` at the forward step of ``w``."""
        b = self._project(w, lam)
        free, bound = support_sets(b, float(lam[0]) * self.w)
        return free, bound, np.sign(b)

    @staticmethod
    def _proj_jac(free, v):
        """:math:`(I_F - \\mathbf 1_F \\mathbf 1_F^T / |F|)\\,v` (symmetric)."""
        out = np.zeros_like(v)
        if np.any(free):
            vf = v[free]
            out[free] = vf - np.mean(vf)
        return out

    def apply(self, w, lam):
        return self._project(w, lam)

    def jvp_w(self, w, lam, v):
        free, _, _ = self._parts(w, lam)
        return self._proj_jac(free, v - self.step * (self.K @ v))

    def vjp_w(self, w, lam, u):
        free, _, _ = self._parts(w, lam)
        x = self._proj_jac(free, u)
        return x - self.step * (self.K @ x)

    def _columns(self, w, lam):
        free, bound, s = self._parts(w, lam)
        dC = np.where(bound, self.w * s, 0.0)
        nf = np.count_nonzero(free)
        if nf:
            dC[free] = -float(np.sum((self.w * s)[bound])) / nf
        cols = [dC, -self.step * self._proj_jac(free, s)]
        if self.n_hyper == 3:
            cols.append(-self.step * self._proj_jac(free, self.dK @ w))
        return cols

    def jvp_lam(self, w, lam, e):
        return sum(ej * col for ej, col in zip(e, self._columns(w, lam)))

    def vjp_lam(self, w, lam, u):
        return np.array([float(col @ u) for col in self._columns(w, lam)])
