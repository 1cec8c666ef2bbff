r"""Sample weights bound to a datafit: :class:`WeightedDatafit` and :func:`weighted`.

A weighted datafit is a datafit of its own (it declares the contract of
:mod:`skhypergrad.datafits`): the mean of the per-sample losses times weights
rescaled to mean 1, built on a datafit with ``accepts_sample_weight``.
"""

import numpy as np
from scipy.optimize import brentq

from ._datafit_contract import BaseDatafit, check_datafit
from ._sample_weight import check_sample_weight


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
    intercept (Newton's method from the unweighted one); its hyperparameters
    (``n_hyper``, ``hyper``, ``at``, ``hyper_bounds``) the datafit's, the derivatives of
    its gradient in them the datafit's times :math:`s_i`; its Newton curvatures and
    reference curvature the datafit's weighted forms (``newton_curvature`` times
    :math:`s_i`, ``reference_curvature`` with ``sample_weight``). It declares no fast path
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
                     "constant_hessian", "piecewise_quadratic", "smooth_hessian"):
            setattr(self, name, getattr(datafit, name))
        self.newton_model = datafit.newton_model \
            if datafit.newton_model in ("diagonal", "softmax", "separable") else None
        self.curvature = None if datafit.curvature is None \
            else datafit.curvature * self._s_max
        self.n_hyper = datafit.n_hyper
        self._null = None  # (y, intercept_only(y)) last computed

    @property
    def unit_curvature(self):
        return self.datafit.curvature

    @property
    def unweighted(self):
        return self.datafit

    def hyper(self):
        return self.datafit.hyper()

    def hyper_bounds(self):
        return self.datafit.hyper_bounds()

    def at(self, theta):
        """The datafit at the hyperparameters ``theta``, with the same weights."""
        return WeightedDatafit(self.datafit.at(theta), self.sample_weight, rescale=False)

    def raw_grad_jvp_param(self, y, z, e):
        return self._weigh(self.datafit.raw_grad_jvp_param(y, z, e))

    def raw_grad_vjp_param(self, y, z, u):
        return self.datafit.raw_grad_vjp_param(y, z, self._weigh(u))

    def newton_curvature(self, y, z):
        return self._weigh(self.datafit.newton_curvature(y, z))

    def smoothing_path(self, y, sample_weight=None):
        """The datafit's path at its weights (``sample_weight``: None, they are bound),
        each weighted alike."""
        return tuple(WeightedDatafit(d, self.sample_weight, rescale=False)
                     for d in self.datafit.smoothing_path(y, self.sample_weight))

    def reference_curvature(self, y, z, sample_weight=None):
        """The datafit's at its weights (``sample_weight``: None, they are bound)."""
        return self.datafit.reference_curvature(y, z, sample_weight=self.sample_weight)

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
        for the shift-invariant softmax) from the unweighted datafit's (one output:
        Brent's method on a bracket where Newton's does not converge); kept for the
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
                if not h > 0:  # a flat piece (Huber's outliers): Newton has no step
                    return self._bracketed_intercept(y, b)
                step = g / h
            else:
                H = np.column_stack([self.raw_hessp(y, z, np.tile(e, (n, 1))).sum(axis=0)
                                     for e in np.eye(K)])
                step = np.linalg.pinv(H) @ g
            b = b - step
            if not np.all(np.isfinite(b)):
                return np.array(self.datafit.intercept_only(y), dtype=np.float64)
            if np.max(np.abs(step)) <= 1e-13 * (1.0 + np.max(np.abs(b))):
                return b
        return self._bracketed_intercept(y, b) if K == 1 else b

    def _bracketed_intercept(self, y, b):
        r"""The root of the weighted gradient's sum :math:`g(c)` in the intercept (one
        output), where Newton's method did not converge (it can cycle on a piecewise
        quadratic loss, or meet a flat piece): :math:`g` is nondecreasing (a convex
        datafit), bracketed from ``b`` by steps doubling in length, its root found by
        Brent's method; ``b`` when no sign change is found."""
        n, b0 = y.shape[0], float(b[0])

        def g(c):
            return float(self.raw_grad(y, np.full(n, c)).sum())

        g0 = g(b0)
        if g0 == 0:
            return np.array([b0])
        direction = -1.0 if g0 > 0 else 1.0
        step = 1e-3 * max(1.0, abs(b0))
        for _ in range(200):
            c = b0 + direction * step
            if g(c) * g0 <= 0:
                lo, hi = sorted((b0, c))
                return np.array([brentq(g, lo, hi, xtol=1e-14 * max(1.0, abs(c)),
                                        rtol=4 * np.finfo(np.float64).eps)])
            b0, g0, step = c, g(c), 2.0 * step
        return np.asarray(b, dtype=np.float64)

    def __repr__(self):
        return f"weighted({self.datafit!r})"


def weighted(datafit, sample_weight):
    """``datafit`` with the per-sample weights ``sample_weight`` of its rows bound to it
    (a :class:`WeightedDatafit`), or ``datafit`` itself when ``sample_weight`` is None.
    ValueError for a datafit that does not take weights (``accepts_sample_weight``)."""
    if sample_weight is None:
        return datafit
    return WeightedDatafit(datafit, sample_weight)
