r"""Minibatch stochastic proximal gradient: SAGA (variance reduced) and plain SGD.

For data sets where one full gradient per inner step is too expensive. Each
epoch visits the samples once in a fresh random order, cut into minibatches
``B`` of ``batch_size``; every minibatch makes one proximal step

.. math::

    w \leftarrow \mathrm{prox}_{g_t G_\lambda}(w - g_t d), \qquad
    d = \frac{1}{|B|} \sum_{i \in B} \big(\nabla f_i(w) - \nabla f_i(\phi_i)\big)
        + \frac1n \sum_{i=1}^n \nabla f_i(\phi_i)

where :math:`\phi_i` is the point at which sample ``i``'s gradient was last
computed (SAGA, ``variance_reduction=True``; it converges linearly to the exact
solution with a constant step), or simply
:math:`d = \frac{1}{|B|}\sum_{i \in B} \nabla f_i(w)` (plain SGD,
``variance_reduction=False``; it only reaches a neighbourhood of the solution
whose size shrinks with the step, hence a decreasing schedule by default).
With ``variance_reduction="svrg"`` the :math:`\phi_i` are all the point at the
start of the epoch (proximal SVRG). The memory holds one raw gradient per
sample and output (``n * K`` floats).
The epochs themselves run in the numba kernel
:func:`~skhypergrad._sgd_kernels.prox_sgd_epoch`.
"""

import math
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.utils import check_random_state

from .._parallel import spawn_seeded
from ._base import BaseSolver, SolveResult
from .._sgd_kernels import (SUPPORTED_KINDS, kernel_params, kernel_rows, max_row_squared_norm,
                            prox_sgd_epoch, prox_svrg_epoch)

__all__ = ["StochasticProxGradient"]

_NO_OFFSET = np.empty(0)  # the kernels' column means when X is not centred implicitly


class StochasticProxGradient(BaseSolver):
    r"""Minibatch proximal SAGA (default) or proximal SGD.

    Supports the datafits :class:`~skhypergrad.Quadratic`, :class:`~skhypergrad.Logistic`
    and :class:`~skhypergrad.Multinomial`, every elastic-net penalty, an intercept,
    dense and sparse ``X`` (CSR is used as is; CSC is converted to CSR once per
    solve, so pass CSR when solving repeatedly).

    Parameters
    ----------
    variance_reduction : bool or "svrg", default=True
        SAGA (True): linear convergence to the exact solution. Plain SGD (False):
        no memory, but in general it cannot reach a small ``tol``; give it an
        epoch budget with ``tol=None``. ``"svrg"``: minibatch proximal SVRG (Xiao
        and Zhang, 2014): every epoch starts from a full gradient at the current
        point (the snapshot) and the correction uses the snapshot's gradients,
        which do not change during the epoch; one more full gradient per epoch,
        but with epochs in a random order SAGA's memory mixes gradients from
        the whole previous epoch and, on well-conditioned problems with many
        samples, shrinks the error only by a constant factor per epoch
        (about e), where SVRG gains an order of magnitude (least squares with
        n=200,000, p=200, batch 200; ``benchmarks/bench_stochastic.py``).
    batch_size : int, default=32
        Samples per proximal step (capped at ``n_samples``).
    step : "auto" or float, default="auto"
        Initial step :math:`g_0`. ``"auto"``: :math:`1 / (3 L_b)` with the
        minibatch smoothness constant (Gazagnadou, Gower and Salmon, 2019)

        .. math::

            L_b = \frac{n (b - 1)}{b (n - 1)} L + \frac{n - b}{b (n - 1)} L_{\max},

        ``L`` the Lipschitz constant of :math:`\nabla F`, :math:`L_{\max}` the
        largest over samples of ``curvature * (||x_i||^2 + fit_intercept)``. With
        ``b = 1`` this is SAGA's classical :math:`1 / (3 L_{\max})`.
    schedule : {"auto", "constant", "decreasing"}, default="auto"
        Step of the ``t``-th minibatch step: constant :math:`g_t = g_0`, or
        decreasing :math:`g_t = g_0 / \sqrt{1 + t / m}`, ``m`` minibatches per
        epoch (the step halves after three epochs, quarters after fifteen).
        ``"auto"``: constant for SAGA, decreasing for SGD.
    max_epochs : int, default=1000
        Passes over the data.
    tol : float or None, default=1e-8
        Stop when the relative duality gap (see
        :class:`~skhypergrad.solvers.ProxGradient`) is below ``tol``. ``None``: run
        exactly ``max_epochs`` epochs with no intermediate gap evaluation and no
        warning (the gap at the end is still reported); the natural choice for
        plain SGD.
    check_every : int, default=1
        Epochs between two duality-gap evaluations. Each costs one full gradient
        through BLAS / scipy.sparse, a fraction of an epoch (about a sixth for dense
        least squares with n=10,000, p=100): cheaper than the epochs a sparser
        check overshoots by.
    random_state : int, RandomState instance or None, default=None
        Order of the samples. An int gives bitwise reproducible solves.
    warn : bool, default=True
        Emit a ``ConvergenceWarning`` when ``tol`` is not reached in ``max_epochs``.

    Notes
    -----
    ``SolveResult.n_iter`` counts epochs. Starting from the solution (the gap
    already below ``tol``) returns at once with ``n_iter = 0``. SAGA's memory is
    initialized with the per-sample gradients at the starting point (one full
    gradient, shared with the initial gap evaluation). Every minibatch step
    applies the prox to all coefficients, an ``O(p K)`` cost on top of the
    minibatch's nonzeros.

    Plain SGD with the decreasing schedule does converge, slowly: its squared
    distance to the solution shrinks like the step, as :math:`1/\sqrt{t}`. It is
    there for fixed budgets and as a baseline; SAGA is the solver for accurate
    solutions.
    """

    _budget = ("max_epochs", "epochs")

    def __init__(self, variance_reduction=True, batch_size=32, step="auto", schedule="auto",
                 max_epochs=1000, tol=1e-8, check_every=1, random_state=None, warn=True):
        self.variance_reduction = variance_reduction
        self.batch_size = batch_size
        self.step = step
        self.schedule = schedule
        self.max_epochs = max_epochs
        self.tol = tol
        self.check_every = check_every
        self.random_state = random_state
        self.warn = warn

    # -- settings -------------------------------------------------------------------
    def spawn(self, n_tasks):
        """Copies seeded from a ``RandomState`` instance in the calling thread (see
        :meth:`BaseSolver.spawn <skhypergrad.solvers._base.BaseSolver.spawn>`)."""
        return spawn_seeded(self, n_tasks)

    def check_params(self):
        """Raise a ValueError naming an invalid setting (see
        :meth:`BaseSolver.check_params <skhypergrad.solvers._base.BaseSolver.check_params>`)."""
        super().check_params()
        if not (isinstance(self.variance_reduction, (bool, np.bool_))
                or self.variance_reduction == "svrg"):
            raise ValueError("variance_reduction must be True (SAGA), False (SGD) or 'svrg', "
                             f"got {self.variance_reduction!r}.")
        if self.schedule not in ("auto", "constant", "decreasing"):
            raise ValueError("schedule must be 'auto', 'constant' or 'decreasing', "
                             f"got {self.schedule!r}.")
        if not (self.step == "auto" if isinstance(self.step, str)
                else isinstance(self.step, Real) and self.step > 0):
            raise ValueError(f"step must be 'auto' or a positive float, got {self.step!r}.")
        for name in ("batch_size", "max_epochs", "check_every"):
            value = getattr(self, name)
            if not isinstance(value, Integral) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}.")

    def _check_params(self, pgmap):
        kind = pgmap.datafit.kernel_code
        if pgmap.datafit.sample_weight is not None:
            raise ValueError(f"{type(self).__name__} (solver='saga') does not take sample "
                             "weights; use solver='cd' or 'fista'.")
        if kind not in SUPPORTED_KINDS:
            raise ValueError(f"{type(self).__name__} needs a datafit with a minibatch kernel "
                             f"(kernel_code in {SUPPORTED_KINDS}), got {pgmap.datafit!r} "
                             f"(kernel_code={kind!r}); use ProxGradient for it.")
        return kind

    def _initial_step(self, pgmap, batch_size):
        """``step``, or ``1 / (3 L_b)`` (see the class docstring)."""
        if self.step != "auto":
            return float(self.step)
        n, L = pgmap.design.n_samples, pgmap.lipschitz
        L_max = pgmap.curvature * (_max_row_squared_norm(pgmap.design)
                                           + pgmap.design.fit_intercept)
        L_b = L_max if n == 1 else (n * (batch_size - 1) * L
                                    + (n - batch_size) * L_max) / (batch_size * (n - 1))
        return 1.0 / (3.0 * L_b) if L_b > 0 else 1.0

    def _epoch_steps(self, step, epoch, n_batches):
        """Steps of the minibatches of ``epoch`` (1-based)."""
        decreasing = self.schedule == "decreasing" or (
            self.schedule == "auto" and not self.variance_reduction)
        if not decreasing:
            return np.full(n_batches, step)
        t = np.arange((epoch - 1) * n_batches, epoch * n_batches, dtype=np.float64)
        return step / np.sqrt(1.0 + t / n_batches)

    def _initial_memory(self, pgmap, z):
        """SAGA's memory at the start: raw gradients ``n * raw_grad(y, z)`` and their mean.

        Empty arrays for plain SGD.
        """
        if not self.variance_reduction:
            return np.empty(0), np.empty(0)
        raw = pgmap.datafit.raw_grad(pgmap.y, z)  # the 1/n of the mean included
        return raw.ravel() * pgmap.design.n_samples, pgmap.design.rmatvec(raw)

    # -- the solve ----------------------------------------------------------------------
    def _solve(self, pgmap, lam, w, reference=None):
        kind = self._check_params(pgmap)
        design = pgmap.design
        n = design.n_samples
        batch_size = int(min(self.batch_size, n))
        n_batches = math.ceil(n / batch_size)

        z = design.matvec(w)
        if self.tol is not None:  # with a fixed budget, only the final gap is reported
            measure = self._stop_measure(pgmap, lam, w, z)
            if measure <= self.tol:
                return SolveResult(w, 0, measure, True)

        memory, grad_mean = self._initial_memory(pgmap, z)
        l1, l2 = pgmap.penalty.weights(lam, design.n_features)
        l1 = np.ascontiguousarray(l1, dtype=np.float64)
        mu = _NO_OFFSET if design.sparse_offset is None else \
            np.ascontiguousarray(design.sparse_offset, dtype=np.float64)
        problem = (*kernel_rows(design.X), design.n_features,
                   np.ascontiguousarray(pgmap.y, dtype=np.float64), kind,
                   kernel_params(pgmap.datafit), design.n_outputs, design.fit_intercept, mu)
        step = self._initial_step(pgmap, batch_size)
        rng = check_random_state(self.random_state)
        checking = self.tol is not None

        svrg = isinstance(self.variance_reduction, str)
        for epoch in range(1, self.max_epochs + 1):
            steps = self._epoch_steps(step, epoch, n_batches)
            if svrg:  # snapshot at the current point (at w itself for the first epoch)
                if epoch > 1:
                    memory, grad_mean = self._initial_memory(pgmap, design.matvec(w))
                prox_svrg_epoch(*problem, w, l1, l2, pgmap.penalty.lower,
                                rng.permutation(n), batch_size, steps, memory, grad_mean)
            else:
                prox_sgd_epoch(*problem, w, l1, l2, pgmap.penalty.lower,
                               rng.permutation(n), batch_size, steps,
                               bool(self.variance_reduction), memory, grad_mean)
            if epoch == self.max_epochs or (checking and epoch % self.check_every == 0):
                measure = self._stop_measure(pgmap, lam, w)
                if checking and measure <= self.tol:
                    return SolveResult(w, epoch, measure, True)
        return SolveResult(w, self.max_epochs, measure, not checking)

def _max_row_squared_norm(design):
    """``max_i ||x_i||^2`` of the design's rows (0.0 without rows): for a dense ``X`` one
    pass, no temporary of the size of ``X``."""
    X = design.X
    if X.shape[0] == 0:
        return 0.0
    if sp.issparse(X):
        return float(design.row_squared_norms().max(initial=0.0))
    return max_row_squared_norm(np.ascontiguousarray(X, dtype=np.float64))
