r"""Bilevel problems whose outer variable is training data.

The inner problem is trained on inputs :math:`X(u)`, equal to ``X`` except on
the rows ``R`` (``m`` of them), which are shifted by a perturbation
:math:`u \in \mathbb{R}^{m \times p}`:

.. math::

    w^*(u) = \arg\min_w F_{X(u)}(w) + G_\lambda(w), \qquad
    X(u)_R = X_R + u,

with the penalty weights :math:`\lambda` fixed. :class:`TrainingDataMap` is the
proximal-gradient fixed-point map of that problem seen as a function of
``(w, u)``: ``u`` (flattened, C order) plays the part of the hyperparameters,
so every engine (``"itd"``, ``"itd-reverse"``, ``"aid-fp"``, ``"aid-cg"``,
``"nsid"``) differentiates an outer loss with respect to the training inputs
through the interface it already uses for :math:`\lambda`.

Derivative of the map with respect to the rows. With :math:`z_i = W^T x_i + b`
and :math:`G_i = \nabla_z F` at sample ``i`` (the datafit's ``raw_grad``,
:math:`1/n` included), :math:`\nabla_W F = \sum_i x_i G_i^T` and
:math:`\nabla_b F = \sum_i G_i`, so a change :math:`dx_i` of row ``i`` gives

.. math::

    d\nabla_W F = dx_i\, G_i^T + x_i\, dG_i^T, \quad d\nabla_b F = dG_i, \qquad
    dG_i = h_i\, W^T dx_i

(:math:`h_i` the per-sample Hessian in ``z``, the datafit's ``raw_hessp``).
Since :math:`\Phi = T(w - g\nabla F)` and ``T`` does not depend on the data,
:math:`B = \partial_u\Phi = -g\,\Delta\,\partial_u\nabla F` with
:math:`\Delta = \partial_z T`, and for a cotangent :math:`a` (coefficient part
:math:`a_W`, intercept part :math:`a_b`), row ``i`` of
:math:`(\partial_u\nabla F)^T a` is

.. math::

    a_W\, G_i + W\, h_i\, (a_W^T x_i + a_b),

written once for every datafit from ``raw_grad`` / ``raw_hessp``. Only the
``m`` rows of ``R`` are touched: ``O(m p K)`` per product.

:func:`data_gradient` is the functional entry point: the validation loss of a
model trained on ``(X_train, y_train)`` and its gradient with respect to
``X_train[rows]``.
"""

import numbers

import numpy as np
import scipy.sparse as sp
from sklearn.utils import check_array

from ._design import Design
from ._validation import check_sparse_structure, check_target, named
from .fixed_point import FixedPointMap, Linearization, ProxGradMap
from .models import InnerModel, from_estimator

__all__ = ["TrainingDataMap", "data_gradient"]


class TrainingDataMap(FixedPointMap):
    r"""Proximal-gradient map whose outer variable is a perturbation of training rows.

    .. math::

        \Phi(w, u) = \mathrm{prox}_{g G_\lambda}\big(w - g\nabla F_{X(u)}(w)\big),
        \qquad X(u)_R = X_R + u,

    with :math:`\lambda` and the step ``g`` fixed (those of ``pgmap``). The
    "hyperparameter" vector of the engines is ``u.ravel()`` (length ``m * p``);
    see the module docstring for :math:`\partial_u\Phi`.

    Engines reach the composite parts (``forward_step``, ``prox_jac_diag``,
    ...; AID-CG's active set, NSID's minibatches) at the unperturbed data
    ``u = 0`` only, where the map is built: to differentiate at perturbed
    data, build the map on the perturbed ``X`` (as :func:`data_gradient` does).
    ``apply`` / ``linearize`` / the products accept any ``u``.

    Parameters
    ----------
    pgmap : ProxGradMap
        The inner problem on the unperturbed data (datafit, penalty, ``X``,
        encoded ``y``, intercept, step).
    lam : array-like
        Penalty weights :math:`\lambda` (fixed).
    rows : array-like of int, default=None
        Distinct indices of the perturbed rows ``R``; all rows when None.
    """

    prox_parts = True

    def __init__(self, pgmap, lam, rows=None):
        if not isinstance(pgmap, ProxGradMap):
            raise TypeError(f"pgmap must be a ProxGradMap, got {type(pgmap).__name__}.")
        n = pgmap.n_samples
        rows = np.arange(n) if rows is None else np.asarray(rows)
        if rows.ndim != 1 or not np.issubdtype(rows.dtype, np.integer):
            raise ValueError("rows must be a 1-d array of integer indices.")
        rows = np.where(rows < 0, rows + n, rows).astype(np.intp)
        if rows.size == 0 or rows.min() < 0 or rows.max() >= n:
            raise ValueError(f"rows must be non-empty indices in [0, {n}).")
        if np.unique(rows).size != rows.size:
            raise ValueError("rows must be distinct.")
        self.pgmap = pgmap
        self.lam = pgmap.penalty.check_lam(lam, pgmap.n_features)
        self.rows = rows
        self._last = (None, pgmap)

    # -- sizes --------------------------------------------------------------------------
    @property
    def n_params(self):
        return self.pgmap.n_params

    @property
    def n_hyper(self):
        return self.rows.size * self.pgmap.n_features

    @property
    def n_samples(self):
        return self.pgmap.n_samples

    @property
    def design(self):
        """Design of the unperturbed data."""
        return self.pgmap.design

    @property
    def datafit(self):
        return self.pgmap.datafit

    @property
    def step(self):
        return self.pgmap.step

    @property
    def curvature(self):
        return self.pgmap.curvature

    @property
    def lipschitz(self):
        return self.pgmap.lipschitz

    @property
    def known_lipschitz(self):
        return self.pgmap.known_lipschitz

    # -- the perturbed problem ---------------------------------------------------------
    def perturbed_X(self, u):
        """``X(u)``: ``X`` with ``u`` (shape (m, p) or flat) added to the rows ``R``."""
        base = self.pgmap.design.X
        U = np.asarray(u, dtype=np.float64).reshape(self.rows.size, base.shape[1])
        if sp.issparse(base):
            shift = sp.csr_matrix((U.ravel(), (np.repeat(self.rows, U.shape[1]),
                                               np.tile(np.arange(U.shape[1]), U.shape[0]))),
                                  shape=base.shape)
            return (base.tocsr() + shift).tocsr()
        X = np.array(base, dtype=np.float64, copy=True)
        X[self.rows] += U
        return X

    def _at(self, u):
        """The ProxGradMap of ``X(u)`` (same step); the last one is kept (no mutation of
        results)."""
        u = np.asarray(u, dtype=np.float64).ravel()
        if u.shape != (self.n_hyper,):
            raise ValueError(f"u has {u.size} entries, expected m * p = {self.n_hyper}.")
        last_u, last = self._last
        if not u.any():
            return self.pgmap
        if last_u is not None and np.array_equal(last_u, u):
            return last
        pg = self.pgmap
        out = ProxGradMap(pg.datafit, pg.penalty, self.perturbed_X(u), pg.y,
                          pg.design.fit_intercept, step=pg.step, lipschitz=pg.known_lipschitz)
        self._last = (u.copy(), out)
        return out

    def _check_zero(self, u, what):
        if np.any(np.asarray(u) != 0.0):
            raise ValueError(f"TrainingDataMap.{what} is only defined at u = 0; build the map "
                             "on the perturbed data instead.")

    # -- d grad F / d X_R, written once -------------------------------------------------
    def _row_terms(self, pg, w):
        """``(design of X(u)_R, y_R, z_R, G_R, scale)`` with ``G = raw_grad`` (1/n included)."""
        design = pg.design
        sub = Design(design.X[self.rows], design.fit_intercept, design.n_outputs)
        y_r = pg.y[self.rows]
        z_r = sub.matvec(w)
        scale = self.rows.size / design.n_samples  # raw terms divide by len(y_r), not n
        return sub, y_r, z_r, scale * pg.datafit.raw_grad(y_r, z_r), scale

    def grad_jvp_rows(self, w, u, e):
        r""":math:`(\partial_u \nabla F)\, e` at ``(w, u)`` (direction ``e`` of shape (m*p,))."""
        pg = self._at(u)
        sub, y_r, z_r, G, scale = self._row_terms(pg, w)
        m, p = self.rows.size, pg.n_features
        E = np.asarray(e, dtype=np.float64).reshape(m, p)
        W = pg.design.coef(w).reshape(p, -1)
        dz = (E @ W).reshape(z_r.shape)
        dG = scale * pg.datafit.raw_hessp(y_r, z_r, dz)
        out = sub.rmatvec(dG)
        out[:pg.design.n_coefs] += (E.T @ G.reshape(m, -1)).ravel()
        return out

    def grad_vjp_rows(self, w, u, a):
        r""":math:`(\partial_u \nabla F)^T a` at ``(w, u)``, shape (m*p,): rows
        :math:`a_W G_i + W h_i (a_W^T x_i + a_b)`."""
        pg = self._at(u)
        sub, y_r, z_r, G, scale = self._row_terms(pg, w)
        m, p = self.rows.size, pg.n_features
        a = np.asarray(a, dtype=np.float64)
        A_W = pg.design.coef(a).reshape(p, -1)
        W = pg.design.coef(w).reshape(p, -1)
        s = sub.matvec(a)                       # a_W^T x_i + a_b, shape of z_r
        t = scale * pg.datafit.raw_hessp(y_r, z_r, s)
        return (G.reshape(m, -1) @ A_W.T + t.reshape(m, -1) @ W.T).ravel()

    # -- the FixedPointMap interface -------------------------------------------------------
    def apply(self, w, u):
        return self._at(u).apply(w, self.lam)

    def jvp_w(self, w, u, v):
        return self._at(u).jvp_w(w, self.lam, v)

    def vjp_w(self, w, u, v):
        return self._at(u).vjp_w(w, self.lam, v)

    def jvp_lam(self, w, u, e):
        return self.linearize(w, u).jvp_lam(e)

    def vjp_lam(self, w, u, a):
        return self.linearize(w, u).vjp_lam(a)

    def linearize(self, w, u):
        """Products at ``(w, u)``; the ones in ``w`` are the perturbed ProxGradMap's."""
        pg = self._at(u)
        lin = pg.linearize(w, self.lam)
        delta, g = lin.jac_diag, lin.step

        def jvp_lam(e):
            return -g * delta * self.grad_jvp_rows(w, u, e)

        def vjp_lam(a):
            return -g * self.grad_vjp_rows(w, u, delta * a)

        return Linearization(value=lambda: lin.value, jvp_w=lin.jvp_w, vjp_w=lin.vjp_w,
                             jvp_lam=jvp_lam, vjp_lam=vjp_lam, jac_diag=delta, step=g,
                             hessp_subset=lin.hessp_subset, rounding=lambda: lin.rounding)

    # -- composite parts (at u = 0), for AID-CG, NSID and contraction_factor -------------
    def forward_step(self, w, samples=None):
        """``Psi(w)`` on the unperturbed data (see :meth:`ProxGradMap.forward_step`)."""
        return self.pgmap.forward_step(w, samples)

    def forward_step_vjp(self, w, v, samples=None):
        return self.pgmap.forward_step_vjp(w, v, samples)

    def forward_step_vjp_lam(self, w, u, a):
        r""":math:`(\partial_u\Psi)^T a = -g\,(\partial_u\nabla F)^T a` (exact: only the rows R
        enter)."""
        self._check_zero(u, "forward_step_vjp_lam")
        return -self.pgmap.step * self.grad_vjp_rows(w, u, a)

    def prox_jac_diag(self, z, u):
        self._check_zero(u, "prox_jac_diag")
        return self.pgmap.prox_jac_diag(z, self.lam)

    def prox_vjp_lam(self, z, u, a):
        """``T`` does not depend on the data: zeros."""
        return np.zeros(self.n_hyper)

    def prox_jvp_lam(self, z, u, e):
        return np.zeros(self.n_params)


def data_gradient(model, X_train, y_train, X_val, y_val, *, rows=None, method="aid-cg",
                  tol=1e-8, solver=None, random_state=None):
    r"""Validation loss and its gradient with respect to training inputs.

    .. math::

        E(X_R) = C\big(w^*(X)\big), \qquad
        w^*(X) = \arg\min_w F_X(w) + G_\lambda(w),

    with :math:`C` the mean validation loss of the model's datafit (squared
    error :math:`\frac{1}{n_{val}}\|X_{val}w + b - y_{val}\|^2`, or the log-loss),
    :math:`\lambda` fixed, differentiated through the solution map with
    respect to the rows ``X_train[rows]`` (see :class:`TrainingDataMap`).

    Parameters
    ----------
    model : Lasso, ElasticNet, LogisticRegression or InnerModel
        The inner model and its penalty weights (an :class:`~skhypergrad.InnerModel`
        must carry ``lam``); see :func:`skhypergrad.hypergradient` for the
        conversions.
    X_train : ndarray or sparse matrix of shape (n_samples, n_features)
        A sparse ``X_train`` or ``X_val`` with malformed index arrays raises a
        ``ValueError`` naming it (see ``ProxGradMap``).
    y_train : array-like of shape (n_samples,)
    X_val : ndarray or sparse matrix of shape (n_val, n_features)
    y_val : array-like of shape (n_val,)
    rows : array-like of int, default=None
        Rows of ``X_train`` to differentiate with respect to; all when None.
    method : str or engine instance, default="aid-cg"
        ``"itd"``, ``"itd-reverse"``, ``"aid-fp"``, ``"aid-cg"``, ``"nsid"`` or an
        engine (see :func:`skhypergrad.hypergrad.get_engine`). ITD iterates from
        zero itself (no inner solve), until it converges to ``tol``, and the
        value is taken at its last iterate; forward ITD costs one product per
        entry of ``X_train[rows]`` and step.
    tol : float, default=1e-8
        Tolerance of an engine given by name (see
        :func:`skhypergrad.hypergradient`) and, when ``solver`` is None, of the
        inner solver.
    solver : solver instance, default=None
        Inner solver; :class:`~skhypergrad.solvers.ProxGradient` with ``tol``
        when None.
    random_state : int, RandomState instance or None, default=None
        Seed of a stochastic engine (``"nsid"``).

    Returns
    -------
    value : float
        Validation loss at the inner solution.
    grad : ndarray of shape (len(rows), n_features)
        Its gradient with respect to ``X_train[rows]``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import ElasticNet
    >>> from skhypergrad import data_gradient
    >>> rng = np.random.RandomState(0)
    >>> X, y, Xv, yv = rng.randn(30, 4), rng.randn(30), rng.randn(10, 4), rng.randn(10)
    >>> value, grad = data_gradient(ElasticNet(alpha=0.1), X, y, Xv, yv, rows=[0, 5])
    >>> grad.shape
    (2, 4)
    """
    from ._api import _check_engine, _is_classifier
    from .criteria import _heldout_loss
    from .solvers import ProxGradient

    if not (isinstance(tol, numbers.Real) and tol > 0):
        raise ValueError(f"tol must be a positive float, got {tol!r}.")
    classifier = _is_classifier(model)
    X_train = check_sparse_structure(X_train, "X_train")
    X_val = check_sparse_structure(X_val, "X_val")
    with named("X_train"):
        X_train = check_array(X_train, accept_sparse=("csr", "csc"), dtype=np.float64,
                              input_name="X_train")
    with named("X_val"):
        X_val = check_array(X_val, accept_sparse=("csr", "csc"), dtype=np.float64,
                            input_name="X_val")
    y_train = check_target(y_train, classifier=classifier, name="y_train")
    y_val = check_target(y_val, classifier=classifier, name="y_val")
    if y_train.shape[0] != X_train.shape[0]:
        raise ValueError(f"X_train has {X_train.shape[0]} samples but y_train has "
                         f"{y_train.shape[0]}.")
    if X_val.shape[1] != X_train.shape[1] or y_val.shape[0] != X_val.shape[0]:
        raise ValueError("X_val / y_val do not match X_train's features or each other.")
    if isinstance(model, InnerModel):
        if model.lam is None:
            raise ValueError("model: an InnerModel passed to data_gradient must carry lam.")
        inner = model.bind(y_train)
    else:
        inner = from_estimator(model, y_train)
    lam = inner.check_lam(inner.lam, X_train.shape[1])
    engine = _check_engine(method, tol, random_state)
    pgmap = inner.make_map(X_train, inner.encode(y_train))
    dmap = TrainingDataMap(pgmap, lam, rows)
    outer = _heldout_loss(inner, "auto", X_val, inner.encode(y_val))
    u0 = np.zeros(dmap.n_hyper)
    if engine.needs_solution:
        solver = ProxGradient(tol=tol) if solver is None else solver
        w = solver.solve(pgmap, lam).w
        res = engine.hypergradient(dmap, u0, w, outer.grad)
    else:
        res = engine.hypergradient(dmap, u0, None, outer.grad)
    return outer.value(res.w), np.asarray(res.grad).reshape(dmap.rows.size, -1)
