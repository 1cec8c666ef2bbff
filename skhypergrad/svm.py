r"""The dual of the binary support vector classifier: solver, projection and fixed-point map.

scikit-learn's :class:`~sklearn.svm.SVC` (libsvm) solves, for labels
:math:`y_i \in \{-1, +1\}` and a kernel :math:`K`,

.. math::

    \min_a \; \tfrac12 a^T Q a - \mathbf 1^T a \quad\text{s.t.}\quad
    0 \le a_i \le C,\; y^T a = 0, \qquad Q = (y y^T) \circ K,

and predicts with :math:`f(x) = \sum_i a_i y_i K(x_i, x) - \rho`, where :math:`\rho` is the
multiplier of the equality constraint: :math:`y_i G_i = \rho` on the free coefficients
(:math:`0 < a_i < C`), :math:`G = Qa - \mathbf 1` the gradient
(:func:`intercept_from_gradient`). At a vertex of the box (no free coefficient: at a
small ``C`` every coefficient at its bound, which classes of equal total bound, e.g.
``class_weight="balanced"``, make feasible) the KKT conditions only bound :math:`\rho`
to an interval, and libsvm's choice in it (:func:`libsvm_intercept`) decides the
predictions.

:func:`smo` is a sequential minimal optimization solver with libsvm's second-order
working-set selection (pairs of coordinates moved along :math:`y_i e_i - y_j e_j`,
which keeps :math:`y^T a`) and its shrinking, run until the maximal violation of the
KKT conditions :math:`\max_{I_{up}} -y_t G_t - \min_{I_{low}} -y_t G_t` is below
``tol``. It also takes per-sample bounds :math:`0 \le a_i \le C_i` (libsvm's sample
weights, :math:`C_i = C w_i`).

:class:`SVCDualMap` is the projected-gradient fixed point

.. math::

    \Phi(a, \lambda) = P_C\big(a - g\,(Q a - \mathbf 1)\big), \qquad \lambda = [C, \gamma],

:math:`P_C` the Euclidean projection onto :math:`\{0 \le a \le C, y^T a = 0\}`
(:func:`project_box_hyperplane`). Its conservative Jacobian at :math:`z`, with F the
free coordinates of :math:`P_C(z)` and U those at the upper bound, is

.. math::

    \partial_z P_C = I_F - \frac{y_F y_F^T}{|F|}, \qquad
    \partial_C P_C = \mathbf 1_U - y_F\,\frac{y_U^T \mathbf 1_U}{|F|}

(the projection onto the hyperplane restricted to the free coordinates, 0 at the bounds;
the shift of the multiplier moves the free coordinates when C moves those at the
bound). The map is not a separable prox (``prox_parts`` is False): AID-FP and ITD
iterate it, AID-CG runs GMRES on its adjoint system.
"""

import numpy as np
from numba import njit

from .fixed_point import FixedPointMap

__all__ = ["smo", "intercept_from_gradient", "libsvm_intercept", "project_box_hyperplane",
           "SVCDualMap",
           "free_set", "upper_bounds"]

#: smallest curvature of a pair (libsvm's tau)
_TAU = 1e-12


@njit(cache=True)
def _can_up(yt, at, Ct):
    """Whether :math:`y_t a_t` can increase (t in libsvm's I_up)."""
    return (yt > 0 and at < Ct) or (yt < 0 and at > 0)


@njit(cache=True)
def _can_down(yt, at, Ct):
    """Whether :math:`y_t a_t` can decrease (t in libsvm's I_low)."""
    return (yt > 0 and at > 0) or (yt < 0 and at < Ct)


@njit(cache=True)
def _reconstruct(K, rows, y, a, p, G, act, m):
    r"""The gradient :math:`G_t = p_t + y_t \sum_s K_{r_t r_s} a_s y_s` of the shrunk
    coordinates ``act[m:]`` (those of the active ones are kept up to date)."""
    n = y.shape[0]
    sv = np.flatnonzero(a > 0)
    for k in range(m, n):
        t = act[k]
        Kt = K[rows[t]]
        acc = 0.0
        for s in sv:
            acc += Kt[rows[s]] * a[s] * y[s]
        G[t] = p[t] + y[t] * acc


@njit(cache=True)
def _shrink(y, C, a, G, act, m):
    """Move to ``act[m:]`` the coordinates at a bound that cannot be part of a violating
    pair (their :math:`-y_t G_t` beyond the extremes of the other side); returns the new
    number of active coordinates."""
    gmax = -np.inf  # max over I_up of -y G
    gmin = np.inf   # min over I_low of -y G
    for k in range(m):
        t = act[k]
        v = -y[t] * G[t]
        if _can_up(y[t], a[t], C[t]):
            gmax = max(gmax, v)
        if _can_down(y[t], a[t], C[t]):
            gmin = min(gmin, v)
    k = 0
    while k < m:
        t = act[k]
        v = -y[t] * G[t]
        up = _can_up(y[t], a[t], C[t])
        down = _can_down(y[t], a[t], C[t])
        if (up and not down and v < gmin) or (down and not up and v > gmax):
            m -= 1
            act[k], act[m] = act[m], act[k]
        else:
            k += 1
    return m


@njit(cache=True)
def _smo(K, rows, y, C, a, G, p, tol, max_iter, shrinking):
    n = y.shape[0]
    Kd = np.empty(n)
    for t in range(n):
        Kd[t] = K[rows[t], rows[t]]
    act = np.arange(n)
    m = n
    it = 0
    gap = np.inf
    period = min(n, 1000)
    counter = period
    unshrunk = False
    while True:
        stalled = False
        while it < max_iter:
            if shrinking:
                counter -= 1
                if counter == 0:
                    counter = period
                    m = _shrink(y, C, a, G, act, m)
            # i: the most violating coordinate that can increase y_i a_i
            gmax = -np.inf
            i = -1
            for k in range(m):
                t = act[k]
                if _can_up(y[t], a[t], C[t]):
                    v = -y[t] * G[t]
                    if v > gmax:
                        gmax = v
                        i = t
            # j: second-order choice among those that can decrease y_j a_j
            gmin = np.inf
            j = -1
            best = np.inf
            Ki = K[rows[max(i, 0)]]
            for k in range(m):
                t = act[k]
                if _can_down(y[t], a[t], C[t]):
                    v = -y[t] * G[t]
                    if v < gmin:
                        gmin = v
                    if i >= 0 and v < gmax:
                        b = gmax - v
                        curv = Kd[i] + Kd[t] - 2.0 * Ki[rows[t]]
                        if curv <= 0:
                            curv = _TAU
                        score = -b * b / curv
                        if score < best:
                            best = score
                            j = t
            gap = gmax - gmin
            if i < 0 or j < 0 or gap < tol:
                break
            if shrinking and not unshrunk and gap <= 10.0 * tol:
                # near the end: every coordinate back once (libsvm's unshrink)
                unshrunk = True
                _reconstruct(K, rows, y, a, p, G, act, m)
                m = n
                continue
            # move a_i += y_i s, a_j -= y_j s: derivative -(gmax - m_j), curvature curv
            curv = Kd[i] + Kd[j] - 2.0 * Ki[rows[j]]
            if curv <= 0:
                curv = _TAU
            s = (-y[i] * G[i] + y[j] * G[j]) / curv
            # feasibility: 0 <= a_i + y_i s <= C_i and 0 <= a_j - y_j s <= C_j, s >= 0
            if y[i] > 0:
                s = min(s, C[i] - a[i])
            else:
                s = min(s, a[i])
            if y[j] > 0:
                s = min(s, a[j])
            else:
                s = min(s, C[j] - a[j])
            if s <= 0:
                stalled = True
                break
            it += 1
            a[i] += y[i] * s
            a[j] -= y[j] * s
            # snap to the bounds (no rounding residue that would leave a coordinate free)
            for t in (i, j):
                if a[t] < 1e-14 * C[t]:
                    a[t] = 0.0
                elif a[t] > C[t] * (1 - 1e-14):
                    a[t] = C[t]
            Kj = K[rows[j]]
            for k in range(m):
                t = act[k]
                G[t] += s * y[t] * (Ki[rows[t]] - Kj[rows[t]])
        if m == n:
            break
        # converged (or stopped) on the active coordinates: check them all
        _reconstruct(K, rows, y, a, p, G, act, m)
        m = n
        if it >= max_iter or stalled:
            break
    return it, gap


def smo(K, y, C, a0=None, tol=1e-10, max_iter=None, p=None, shrinking=True, rows=None):
    r"""Solve the binary SVC dual (module docstring) by SMO.

    With ``p``, the same solver minimizes :math:`\frac12 a^T Q a + p^T a` under the same
    constraints (libsvm's generic form; the SVC's is ``p = -1``). With an array ``C``, the
    box is :math:`0 \le a_i \le C_i` (libsvm's per-sample bounds: ``sample_weight``
    gives :math:`C_i = C w_i`).

    Parameters
    ----------
    K : ndarray of shape (n, n)
        Kernel of the training rows (symmetric); see ``rows``.
    y : ndarray of shape (n,)
        Labels in {-1, +1} (float).
    C : float or ndarray of shape (n,)
        Upper bound of every coefficient, or of each (positive).
    a0 : ndarray of shape (n,), default=None
        Feasible start (warm start): clipped to ``[0, C]`` and, if that breaks
        :math:`y^T a = 0`, replaced by zero.
    tol : float, default=1e-10
        Largest KKT violation accepted.
    max_iter : int, default=None
        Pair updates (``max(10_000_000, 100 n)`` when None).
    p : ndarray of shape (n,), default=None
        Linear term (``-1`` when None).
    shrinking : bool, default=True
        libsvm's shrinking: every ``min(n, 1000)`` updates, the coordinates at a bound
        that cannot be part of a violating pair leave the working set; their gradient is
        recomputed (from the symmetric ``K``) when the violation gets below ``10 tol``
        and at the end, where the violation is checked on all coordinates.
    rows : ndarray of int of shape (n,), default=None
        The kernel of coordinates ``s, t`` is ``K[rows[s], rows[t]]`` (``K`` of shape
        ``(m, m)``, ``m`` at most ``n``): coordinates that share a sample (SVR's
        :math:`\alpha_i, \alpha^*_i`) share its kernel row. None: ``range(n)``.

    Returns
    -------
    a : ndarray of shape (n,)
    G : ndarray of shape (n,)
        The gradient :math:`Qa + p`.
    n_iter : int
    gap : float
        The KKT violation reached.
    """
    n = y.shape[0]
    C = upper_bounds(C, n)
    a = np.zeros(n) if a0 is None else np.clip(np.asarray(a0, dtype=np.float64), 0.0, C)
    if abs(float(y @ a)) > 1e-12 * max(float(C.max()), 1.0) * n:
        a = np.zeros(n)
    p = np.full(n, -1.0) if p is None else np.ascontiguousarray(p, dtype=np.float64)
    rows = np.arange(n) if rows is None else np.ascontiguousarray(rows, dtype=np.int64)
    G = y * (K @ np.bincount(rows, a * y, minlength=K.shape[0]))[rows] + p
    max_iter = max(10_000_000, 100 * n) if max_iter is None else int(max_iter)
    it, gap = _smo(np.ascontiguousarray(K), rows, y, C, a, G, p, float(tol), max_iter,
                   bool(shrinking))
    return a, G, int(it), float(gap)


def upper_bounds(C, n):
    """``C`` as the array of the ``n`` upper bounds (a scalar repeated; an array checked:
    shape ``(n,)``, positive)."""
    if np.ndim(C) == 0:
        return np.full(n, float(C))
    C = np.ascontiguousarray(C, dtype=np.float64)
    if C.shape != (n,):
        raise ValueError(f"C has shape {C.shape}; expected a scalar or shape ({n},).")
    if not np.all(C > 0):
        raise ValueError("The upper bounds C must be positive.")
    return C


def free_set(a, C, rtol=1e-10):
    """Boolean masks ``(free, upper)``: :math:`0 < a_i < C_i`, and :math:`a_i = C_i`
    (within ``rtol * C_i``); ``C`` a scalar or per-sample bounds."""
    upper = a >= C * (1 - rtol)
    free = (a > C * rtol) & ~upper
    return free, upper


def intercept_from_gradient(a, G, y, C):
    r""":math:`\rho`: the mean of :math:`y_i G_i` on the free coefficients, or (none
    free) the middle of its feasible interval (``C`` a scalar or per-sample bounds).

    The middle is libsvm's rule when none of its coefficients is free; at such a vertex
    its last update usually leaves one coefficient a rounding below its bound, whose
    :math:`y_i G_i` it returns instead (:func:`libsvm_intercept`)."""
    free, upper = free_set(a, C)
    yG = y * G
    if np.any(free):
        return float(np.mean(yG[free]))
    lower = ~free & ~upper
    # rho <= y G on {y=+1, a=0} U {y=-1, a=C}; rho >= y G on {y=+1, a=C} U {y=-1, a=0}
    ub = yG[((y > 0) & lower) | ((y < 0) & upper)]
    lb = yG[((y > 0) & upper) | ((y < 0) & lower)]
    hi = ub.min() if ub.size else np.inf
    lo = lb.max() if lb.size else -np.inf
    if not np.isfinite(hi):
        return float(lo)
    if not np.isfinite(lo):
        return float(hi)
    return 0.5 * float(hi + lo)


def libsvm_intercept(K, y, C):
    r"""The :math:`\rho` of scikit-learn's ``SVC`` (libsvm) on the binary problem.

    Where some coefficient is free, :math:`\rho` is determined by the solution
    (:func:`intercept_from_gradient`); at a vertex of the box it is not, and libsvm's
    choice, which the ``SVC`` fitted on these rows makes, follows from its iterates: it
    is computed by libsvm itself, on the kernel ``K`` with the bounds ``C`` as sample
    weights (its bounds are :math:`C w_i`; here with :math:`C = 1`, the same numbers).

    Parameters
    ----------
    K : ndarray of shape (n, n)
    y : ndarray of shape (n,)
        Labels in {-1, +1}, both present.
    C : float or ndarray of shape (n,)

    Returns
    -------
    float
        :math:`\rho`, for the decision :math:`f = K (a \circ y) - \rho`.
    """
    from sklearn.svm import SVC

    svc = SVC(kernel="precomputed", C=1.0).fit(K, y, sample_weight=upper_bounds(C, y.shape[0]))
    return -float(svc.intercept_[0])  # its positive class is +1: f = K(a y) + intercept


@njit(cache=True)
def _h(z, y, C, nu):
    out = 0.0
    for i in range(z.shape[0]):
        t = z[i] - nu * y[i]
        out += y[i] * min(max(t, 0.0), C)
    return out


@njit(cache=True)
def _root_nu(z, y, C):
    span = np.max(np.abs(z)) + C + 1.0
    lo, hi = -span, span
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if _h(z, y, C, mid) > 0:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-15 * span:
            break
    nu = 0.5 * (lo + hi)
    # exactly, on the linear piece of h around its root
    s_free = 0.0
    s_upper = 0.0
    n_free = 0
    for i in range(z.shape[0]):
        t = z[i] - nu * y[i]
        if 0.0 < t < C:
            s_free += y[i] * z[i]
            n_free += 1
        elif t >= C:
            s_upper += y[i]
    if n_free:
        nu = (s_free + C * s_upper) / n_free
    return nu


def project_box_hyperplane(z, y, C):
    r"""Projection of ``z`` onto :math:`\{0 \le a \le C,\; y^T a = 0\}` (``y`` in ±1).

    :math:`a_i = \mathrm{clip}(z_i - \nu y_i, 0, C)` with :math:`\nu` the root of the
    decreasing :math:`h(\nu) = \sum_i y_i\,\mathrm{clip}(z_i - \nu y_i, 0, C)`, found by
    bisection, then exactly on its linear piece:
    :math:`\nu = (\sum_F y_i z_i + C \sum_U y_i) / |F|`.

    Returns
    -------
    a : ndarray
    nu : float
    """
    nu = _root_nu(np.asarray(z, dtype=np.float64), y, float(C))
    return np.clip(z - nu * y, 0.0, C), nu


class SVCDualMap(FixedPointMap):
    r"""Projected gradient step on the binary SVC dual (module docstring).

    Parameters
    ----------
    K : ndarray of shape (n, n)
        Kernel of the training rows, at the width the map is built at.
    y : ndarray of shape (n,)
        Labels in {-1, +1}.
    dK : ndarray of shape (n, n), default=None
        :math:`\partial_\gamma K` (``lam = [C, gamma]``), or None (``lam = [C]``).
    step : float, default=None
        ``g``; :math:`1 / \lambda_{\max}(K)` when None.
    """

    def __init__(self, K, y, dK=None, step=None):
        self.K = K
        self.y = np.asarray(y, dtype=np.float64)
        self.dK = dK
        self.n_params = K.shape[0]
        self.n_hyper = 1 if dK is None else 2
        if step is None:
            step = 1.0 / max(float(np.linalg.eigvalsh(K)[-1]), 1e-12)
        self.step = step

    def _Q(self, v):
        return self.y * (self.K @ (self.y * v))

    def _z(self, w):
        return w - self.step * (self._Q(w) - 1.0)

    def _jacobian_parts(self, w, lam):
        """``(free, upper)`` masks of :math:`P_C(z)` at the forward step of ``w``."""
        C = float(lam[0])
        a, _ = project_box_hyperplane(self._z(w), self.y, C)
        return free_set(a, C)

    def _proj_jac(self, free, v):
        """:math:`(I_F - y_F y_F^T / |F|)\\,v` (symmetric)."""
        out = np.zeros_like(v)
        if np.any(free):
            yf = self.y[free]
            vf = v[free]
            out[free] = vf - yf * (float(yf @ vf) / yf.shape[0])
        return out

    def _dC(self, free, upper):
        """:math:`\\partial_C P_C` (module docstring)."""
        d = upper.astype(np.float64)
        nf = np.count_nonzero(free)
        if nf:
            d[free] = -self.y[free] * (float(np.sum(self.y[upper])) / nf)
        return d

    def apply(self, w, lam):
        return project_box_hyperplane(self._z(w), self.y, float(lam[0]))[0]

    def jvp_w(self, w, lam, v):
        free, _ = self._jacobian_parts(w, lam)
        return self._proj_jac(free, v - self.step * self._Q(v))

    def vjp_w(self, w, lam, u):
        free, _ = self._jacobian_parts(w, lam)
        x = self._proj_jac(free, u)
        return x - self.step * self._Q(x)

    def _columns(self, w, free, upper):
        cols = [self._dC(free, upper)]
        if self.n_hyper == 2:
            dQw = self.y * (self.dK @ (self.y * w))
            cols.append(-self.step * self._proj_jac(free, dQw))
        return cols

    def jvp_lam(self, w, lam, e):
        free, upper = self._jacobian_parts(w, lam)
        return sum(ej * col for ej, col in zip(e, self._columns(w, free, upper)))

    def vjp_lam(self, w, lam, u):
        free, upper = self._jacobian_parts(w, lam)
        return np.array([float(col @ u) for col in self._columns(w, free, upper)])
