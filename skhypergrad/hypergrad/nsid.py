r"""NSID: stochastic implicit differentiation of a composite fixed-point map.

For :math:`\Phi(w, \lambda) = T(\Psi(w, \lambda), \lambda)` with
:math:`\Psi(w, \lambda) = w - g\nabla F(w)` available only through unbiased
minibatch estimates :math:`\hat\Psi(w; \xi)` (``F`` is a mean over samples) and
:math:`T` the exact, cheap, nonsmooth prox, NSID (Grazzi, Pontil and Salzo, 2024)
estimates :math:`B^T v`, :math:`v = (I - A^T)^{-1}\nabla C(w)`, as follows:

1. :math:`\bar\Psi = \frac1J \sum_{j<J} \hat\Psi(w; \xi_j)` on fresh minibatches;
2. :math:`v_0 = 0` and, for :math:`k < K` with a fresh minibatch :math:`\xi_k`,

   .. math::

       v_{k+1} = (1 - \eta_k) v_k + \eta_k \big( \partial_w\hat\Psi(w; \xi_k)^T\,
       \partial_z T(\bar\Psi, \lambda)^T v_k + \nabla C(w) \big);

3. return :math:`\partial_\lambda [T(\bar\Psi(w, \lambda), \lambda)]^T v_K`, i.e.
   :math:`\partial_\lambda T(\bar\Psi, \lambda)^T v_K` plus, for maps whose smooth
   part depends on the outer variable (``forward_step_vjp_lam``, e.g.
   :class:`~skhypergrad.data_gradient.TrainingDataMap`),
   :math:`\partial_\lambda\Psi^T\,\partial_z T(\bar\Psi, \lambda)^T v_K`.

The nonsmooth :math:`T` is differentiated once, at the averaged point
:math:`\bar\Psi`, never at a single noisy estimate: with :math:`J \propto K`
the mean squared error of the result is :math:`O(1/K)`. Differentiating
:math:`T` at each noisy :math:`\hat\Psi(w; \xi_k)` instead is the biased "SID"
baseline (``biased=True``), kept for comparisons only: its error does not
vanish as K grows, since :math:`\partial_z T` at a noisy point has the wrong
mask with a probability that does not decrease.

Step sizes (why the defaults are what they are). Write
:math:`M = \partial_w\Psi^T \Delta` (:math:`\Delta = \partial_z T(\bar\Psi)`,
:math:`\|M\| \le q < 1`) and :math:`\hat M_k` its minibatch estimate, with
:math:`\mathbb{E}\|(\hat M_k - M)u\|^2 \le \sigma^2\|u\|^2`. The error
:math:`e_k = v_k - v^*` satisfies, up to a noise term proportional to
:math:`\eta_k^2\sigma^2\|v^*\|^2`,

.. math::

    \mathbb{E}\|e_{k+1}\|^2 \lesssim \big[(1 - \eta_k(1 - q))^2 + \eta_k^2\sigma^2\big]
    \|e_k\|^2 \le (1 - \eta_k(1 - q))\,\|e_k\|^2
    \quad\text{iff}\quad \eta_k \le \eta_{\max} = \frac{1-q}{(1-q)^2 + \sigma^2}

(half the step beyond which the mean square grows). The schedule
:math:`\eta_k = \beta/(\gamma + k)` with :math:`\beta = \gamma = 2/(1-q^2)`
starts at :math:`\eta_0 = 1`, which exceeds :math:`\eta_{\max}` as soon as the
minibatch Jacobians are noisy (small batches, heavy rows): the first iterations
then multiply ``v`` by random matrices of norm above one and the estimate blows
up before the decreasing steps bring it back. The defaults therefore keep
:math:`\beta = 2/(1-q^2)` (so that :math:`\beta(1-q) = 2/(1+q) > 1` and the
mean squared error is :math:`O(1/K)`) and take
:math:`\gamma = \beta / \min(1, \eta_{\max})`, i.e. :math:`\eta_0 = \min(1, \eta_{\max})`,
with :math:`\sigma^2` bounded by :func:`jacobian_noise` (a few passes over at
most 10,000 rows).

How many samples (:func:`predicted_error`). Write :math:`\mu = 1 - q`,
:math:`r_k = \mathbb{E}\|e_k\|^2 / \|v^*\|^2` and neglect the noise's
dependence on :math:`e_k` (:math:`\|v_k\| \approx \|v^*\|` once the error is
small): :math:`r_{k+1} = (1 - \eta_k\mu)^2 r_k + \eta_k^2\sigma^2`, with
:math:`r_0 = 1` (:math:`v_0 = 0`). With :math:`\eta_k = \beta/(\gamma + k)`,
:math:`s = 2\beta\mu` and :math:`\rho_K = \gamma / (\gamma + K)`, bounding
:math:`(1 - x)^2 \le e^{-2x}` and the sums by integrals,

.. math::

    r_K \approx \rho_K^{\,s}
    + \frac{\beta^2\sigma^2}{(s - 1)(\gamma + K)}\big(1 - \rho_K^{\,s-1}\big),

the transient of forgetting :math:`v_0` (which decays as :math:`K^{-s}`,
:math:`s = 4/(1+q) > 2` with the default :math:`\beta`, but only once
:math:`K \gg \gamma`) plus the noise, which tends to
:math:`\beta^2\sigma^2 / ((2\beta\mu - 1) K)`: the :math:`O(1/K)` rate
(:math:`\beta^2\sigma^2\log(1/\rho_K)/(\gamma + K)` when :math:`s = 1`).
With a constant step :math:`\eta`, :math:`a = (1 - \eta\mu)^2`:
:math:`r_K = a^K + \eta^2\sigma^2 (1 - a^K) / (1 - a)`, which stalls at the
floor :math:`\eta\sigma^2 / (\mu(2 - \eta\mu))`. The predicted relative error is
:math:`\sqrt{r_K}`, an upper estimate: :math:`\sigma^2` bounds the noise in
every direction and all of it is taken to decay at the slowest rate
:math:`\mu`, whereas most of it usually lies on faster modes, so the error
reached is often several times smaller. With ``n_samples=None`` the engine
takes the smallest ``K`` (within 2%) whose predicted error is at most ``tol``,
up to ``max_samples``; when even ``max_samples`` does not reach ``tol`` it runs
the smallest ``K`` whose predicted error is within 1% of the smallest up to
``max_samples`` (about ``max_samples`` for decreasing steps; for a constant
step, where the floor is reached) and warns
(:class:`~sklearn.exceptions.ConvergenceWarning`) with the predicted error, the
contraction factor and the noise. The mask of :math:`T` at :math:`\bar\Psi`
and the inexactness of ``w`` are not in the prediction.

What ``tol`` bounds. The prediction, hence ``tol``, is the relative error of the
adjoint, :math:`\|e_K\| / \|v^*\|` with :math:`e_K = v_K - v^*`, not that of the
hypergradient :math:`B^T v`. The two are related by

.. math::

    \frac{\|B^T e_K\|}{\|B^T v^*\|} \le \kappa\,\frac{\|e_K\|}{\|v^*\|},
    \qquad \kappa = \frac{\|B\|\,\|v^*\|}{\|B^T v^*\|} \ge 1,

:math:`B = \partial_\lambda\Phi` at the solution. :math:`\kappa` is near 1 when
:math:`v^*` lies along the directions :math:`B` reads (1.03 to 2.3 on small
elastic nets and Lassos, where the hypergradient's root-mean-square error was 0.01
to 0.06 at ``tol=0.1``: the prediction is an upper estimate), and it grows without
bound as the hypergradient nears zero, at the outer optimum, where a relative error
of the hypergradient has no bound that a finite K can promise. No cheap estimate of
:math:`\kappa` is made: ``tol`` bounds the adjoint only.

A stochastic estimate cannot be asked for 1e-10: its cost grows as
:math:`1/\mathrm{tol}^2`. A search (:func:`~skhypergrad._tune.tune`) asks NSID
for its own ``tol`` (default 0.1: a direction within 10% of the hypergradient is
a descent direction with a wide margin, and the line search checks values
computed from the inner solutions), not for the inner solver's tolerance (see
:meth:`NSID.search_tol`).

The engine needs the composite structure of
:class:`~skhypergrad.fixed_point.ProxGradMap`: ``forward_step(w, samples)``,
``forward_step_vjp(w, u, samples)``, ``prox_jac_diag(z, lam)``,
``prox_vjp_lam(z, lam, u)`` and the number of samples (``pgmap.n_samples``
or ``pgmap.design.n_samples``).
"""

import numbers
import warnings

import numpy as np
import scipy.sparse as sp
from joblib import Parallel, delayed
from sklearn.utils import check_random_state

from ._base import BaseEngine, HypergradResult, warn_not_converged
from .._parallel import spawn_seeded
from ..fixed_point import ProxGradMap
from .._sgd_kernels import (SUPPORTED_KINDS, kernel_params, kernel_rows, nsid_adjoint,
                            sample_gradient_sum)
from ._nsid_error import _estimate_contraction, _samples_for, jacobian_noise, predicted_error

__all__ = ["NSID", "jacobian_noise", "predicted_error"]

#: rows of the design taken at once when averaging the J estimates of Psi; the
#: chunks (and their seeds) do not depend on ``n_jobs``, so neither does the result
_CHUNK_ROWS = 10_000

_SCHEDULES = ("decreasing", "constant")


def _check_map(pgmap):
    if not pgmap.prox_parts or pgmap.n_samples is None:
        raise TypeError(
            f"NSID needs a composite map Phi = T(Psi(w)) with minibatch estimates of Psi "
            f"(as ProxGradMap: prox_parts and n_samples declared); {type(pgmap).__name__} "
            f"declares prox_parts={pgmap.prox_parts}, n_samples={pgmap.n_samples}.")


def _kernel_problem(pgmap):
    """Arguments of the numba minibatch kernels for ``pgmap``, or None.

    Only for a :class:`~skhypergrad.fixed_point.ProxGradMap` itself (a subclass may
    redefine its smooth part) with a datafit the kernels implement, and a design
    they read without copying it (C-ordered float64, or sparse: CSR as is).
    """
    if type(pgmap) is not ProxGradMap or pgmap.datafit.kernel_code not in SUPPORTED_KINDS:
        return None
    design = pgmap.design
    X = design.X
    if design.sparse_offset is not None:  # the kernels read the stored rows as they are
        return None
    if not (sp.issparse(X) or (isinstance(X, np.ndarray) and X.dtype == np.float64
                                and X.flags.c_contiguous)):
        return None
    return (*kernel_rows(X), design.n_features, np.ascontiguousarray(pgmap.y, dtype=np.float64),
            pgmap.datafit.kernel_code, kernel_params(pgmap.datafit), design.n_outputs,
            design.fit_intercept)


def _chunk_sum(pgmap, w, n_batches, batch_size, seed, problem=None):
    r"""Sum of ``n_batches`` estimates :math:`\hat\Psi(w; \xi_j)`, minibatches drawn from ``seed``.

    Since :math:`\hat\Psi(w; \xi) = w - g \frac{1}{|\xi|}\sum_{i\in\xi}\nabla f_i(w)`
    is affine in the empirical mean, the mean of ``m`` estimates on minibatches
    of equal size is the estimate on their concatenation: one product per chunk
    (through the numba kernel when ``problem`` is given, no copy of the rows).
    """
    rows = np.random.RandomState(seed).randint(pgmap.n_samples, size=n_batches * batch_size)
    if problem is None:
        return n_batches * pgmap.forward_step(w, samples=rows)
    total = np.zeros_like(w)
    sample_gradient_sum(*problem, w, rows, total)
    return n_batches * w - (pgmap.step / batch_size) * total


def _mean_forward_step(pgmap, w, n_batches, batch_size, rng, n_jobs=None, problem=None):
    r"""Mean of ``n_batches`` i.i.d. minibatch estimates :math:`\hat\Psi(w; \xi_j)`.

    The estimates are grouped in chunks of at most ``_CHUNK_ROWS`` rows, each
    with its own seed drawn from ``rng``; chunks run through joblib
    (``n_jobs``, threads preferred: the work is BLAS) and are summed in order,
    so the result does not depend on ``n_jobs`` or the backend.
    """
    per_chunk = max(1, _CHUNK_ROWS // batch_size)
    sizes = [min(per_chunk, n_batches - start) for start in range(0, n_batches, per_chunk)]
    seeds = rng.randint(np.iinfo(np.int32).max, size=len(sizes))
    if n_jobs is None or n_jobs == 1 or len(sizes) == 1:
        parts = (_chunk_sum(pgmap, w, m, batch_size, s, problem) for m, s in zip(sizes, seeds))
    else:
        parts = Parallel(n_jobs=n_jobs, prefer="threads")(
            delayed(_chunk_sum)(pgmap, w, m, batch_size, s, problem)
            for m, s in zip(sizes, seeds))
    total = np.zeros_like(w)
    for part in parts:
        total += part
    return total / n_batches


class NSID(BaseEngine):
    r"""Stochastic implicit differentiation (NSID) with minibatch estimates of :math:`\Psi`.

    See the module docstring for the three steps and the step-size analysis.
    Minibatches are ``batch_size`` indices drawn uniformly with replacement (so
    every estimate is unbiased and independent of the others). Step sizes,
    with ``q`` the contraction factor and
    :math:`\eta_{\max} = (1-q)/((1-q)^2 + \sigma^2)` (:func:`jacobian_noise`):

    * ``step_schedule="decreasing"``: :math:`\eta_k = \beta / (\gamma + k)`, by
      default :math:`\beta = 2 / (1 - q^2)` and :math:`\gamma = \beta / \min(1, \eta_{\max})`
      (so :math:`\eta_0 = \min(1, \eta_{\max})`: 1 for noiseless products); the
      mean squared error then decays as :math:`O(1/K)`;
    * ``step_schedule="constant"``: :math:`\eta_k = \beta / \gamma`, by default
      :math:`\min((1 - q^2)/2, \eta_{\max})`; faster at first, then stalls at an
      error floor proportional to :math:`\eta`.

    ``q`` is ``contraction`` when given, else
    :func:`~skhypergrad.hypergrad.contraction_factor` (the spectral radius
    of :math:`\partial_w\Phi` restricted to the active set) computed on at
    most 10,000 evenly spaced rows (it only sets the steps): a few tens of
    passes over that subsample; pass ``contraction``, or ``beta``, ``gamma``
    and an integer ``n_samples``, to avoid it. Explicit
    ``beta`` and ``gamma`` are used as given.

    The number of samples K is ``n_samples`` when given (run as asked, no
    warning), else the smallest whose :func:`predicted_error` is at most
    ``tol``, up to ``max_samples``; when ``max_samples`` cannot reach ``tol`` the
    engine warns (:class:`~sklearn.exceptions.ConvergenceWarning`) with the
    predicted error reached. The prediction, from ``q``, :math:`\sigma^2` and
    the steps, is ``result.residual`` (nan when ``beta``, ``gamma`` and
    ``n_samples`` are all given without ``contraction``: nothing else needs ``q``).

    Parameters
    ----------
    n_samples : int or None, default=None
        Number K of stochastic iterations (minibatches) for ``v``; None chooses
        it from ``tol`` (see above).
    batch_size : int, default=100
        Size of every minibatch.
    step_schedule : {"decreasing", "constant"}, default="decreasing"
        Step-size schedule.
    beta, gamma : float, default=None
        Step-size constants; derived from the contraction factor and the
        Jacobian noise when None.
    J : int, default=None
        Number of minibatch estimates averaged into :math:`\bar\Psi`; ``K + 1``
        when None.
    contraction : float, default=None
        Contraction factor ``q`` in [0, 1); estimated when None and needed.
    random_state : int, RandomState instance or None, default=None
        Seed of the minibatch draws (through :func:`sklearn.utils.check_random_state`;
        an int gives the same draws at every call).
    biased : bool, default=False
        Differentiate ``T`` at each noisy :math:`\hat\Psi(w; \xi_k)` (the SID
        baseline, biased: for comparisons only) instead of :math:`\bar\Psi`.
    n_jobs : int or None, default=None
        Workers (joblib, threads preferred) for the J independent estimates
        averaged into :math:`\bar\Psi`. The result is identical for every
        ``n_jobs``. Serial by default: on two cores it pays little (see
        ``benchmarks/bench_stochastic.py``).
    step : {"decreasing", "constant"} or None, default=None
        Former name of ``step_schedule``; overrides it when given.
    tol : float, default=0.1
        Predicted relative error of the adjoint to reach (``n_samples=None``).
        Also what a search asks of NSID (:meth:`search_tol`). It bounds the
        adjoint's error, not the hypergradient's, which can be :math:`\kappa \ge 1`
        times larger (relative), without bound near a zero hypergradient (see
        "What tol bounds" in :mod:`skhypergrad.hypergrad.nsid`).
    max_samples : int, default=10_000
        Largest K chosen for ``tol``.
    """

    def __init__(self, n_samples=None, batch_size=100, step_schedule="decreasing", beta=None,
                 gamma=None, J=None, contraction=None, random_state=None, biased=False,
                 n_jobs=None, step=None, tol=0.1, max_samples=10_000):
        self.n_samples = n_samples
        self.batch_size = batch_size
        self.step_schedule = step_schedule
        self.beta = beta
        self.gamma = gamma
        self.J = J
        self.contraction = contraction
        self.random_state = random_state
        self.biased = biased
        self.n_jobs = n_jobs
        self.step = step
        self.tol = tol
        self.max_samples = max_samples

    def spawn(self, n_tasks):
        """Copies seeded from a ``RandomState`` instance in the calling thread (see
        :meth:`BaseEngine.spawn <skhypergrad.hypergrad._base.BaseEngine.spawn>`)."""
        return spawn_seeded(self, n_tasks)

    def search_tol(self, inner_tol):
        r"""NSID's own ``tol``, whatever the inner tolerance of the search.

        The relative error of a stochastic estimate costs :math:`1/\mathrm{tol}^2`
        samples, so it is not tightened with the inner solver's gap (which
        reaches 1e-6 to 1e-10); a search only needs descent directions, and
        checks its steps on criterion values.

        Parameters
        ----------
        inner_tol : float
            Relative duality gap asked of the inner solver (unused).

        Returns
        -------
        tol : float
        """
        return self.tol

    @property
    def schedule(self):
        """The step schedule in use (``step`` when given, else ``step_schedule``)."""
        return self.step_schedule if self.step is None else self.step

    def check_params(self):
        """Raise a ValueError naming an invalid setting (see :meth:`BaseEngine.check_params
        <skhypergrad.hypergrad._base.BaseEngine.check_params>`)."""
        for name, low in (("n_samples", 0), ("batch_size", 1), ("max_samples", 1)):
            value = getattr(self, name)
            if name == "n_samples" and value is None:
                continue
            if not isinstance(value, numbers.Integral) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}.")
        if not isinstance(self.tol, numbers.Real) or not self.tol >= 0:
            raise ValueError(f"tol must be a non-negative number, got {self.tol!r}.")
        for name in ("beta", "gamma"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, numbers.Real)
                                          and 0 < value < np.inf):
                raise ValueError(f"{name} must be None or a positive number, got {value!r}.")
        if self.contraction is not None and not (isinstance(self.contraction, numbers.Real)
                                                 and 0 <= self.contraction < 1):
            raise ValueError(f"contraction must be None or a number in [0, 1), got "
                             f"{self.contraction!r}.")
        if self.J is not None and (not isinstance(self.J, numbers.Integral) or self.J < 1):
            raise ValueError(f"J must be None or an integer >= 1, got {self.J!r}.")
        if self.schedule not in _SCHEDULES:
            raise ValueError(f"step_schedule (or step) must be 'decreasing' or 'constant', "
                             f"got {self.schedule!r}.")
        if self.n_jobs is not None and not isinstance(self.n_jobs, numbers.Integral):
            raise ValueError(f"n_jobs must be None or an integer, got {self.n_jobs!r}.")

    def _plan(self, pgmap, lam, w):
        """``(K, eta, predicted, constants)``: the number of samples, the steps, the
        predicted relative error (nan when ``q`` is not known) and its inputs
        ``(q, sigma2, beta, gamma, schedule)`` for :func:`predicted_error`."""
        beta, gamma = self.beta, self.gamma
        q = self.contraction
        sigma2 = None
        if beta is None or gamma is None or self.n_samples is None or q is not None:
            if q is None:
                q = _estimate_contraction(pgmap, lam, w)
            if not 0.0 <= q < 1.0:
                raise ValueError(f"The map is not a contraction at w (q = {q:.6g}); pass "
                                 "beta and gamma explicitly.")
            sigma2 = 0.0 if pgmap is None else jacobian_noise(pgmap, self.batch_size)
        if beta is None or gamma is None:
            eta_max = min(1.0, (1.0 - q) / ((1.0 - q) ** 2 + sigma2))
            scale = 2.0 / (1.0 - q * q)
            if self.schedule == "decreasing":
                beta = scale if beta is None else beta
                gamma = beta / eta_max if gamma is None else gamma
            else:
                eta = min(1.0 / scale, eta_max)
                if beta is None and gamma is None:
                    beta, gamma = eta, 1.0
                elif beta is None:
                    beta = eta * gamma
                else:
                    gamma = beta / eta
        constants = (q, sigma2, beta, gamma, self.schedule)
        if self.n_samples is None:
            K, predicted = _samples_for(float(self.tol), int(self.max_samples), *constants)
        else:
            K = int(self.n_samples)
            predicted = np.nan if q is None else predicted_error(K, *constants)
        k = np.arange(K)
        if self.schedule == "constant":
            eta = np.full(k.shape, beta / gamma)
        else:
            eta = beta / (gamma + k)
        return K, eta, predicted, constants

    def step_sizes(self, pgmap, lam, w):
        r"""The K step sizes :math:`\eta_k` used at ``(w, lam)``.

        Parameters
        ----------
        pgmap : ProxGradMap
            The map (used for the contraction factor and the Jacobian noise
            when ``beta`` / ``gamma`` or ``n_samples`` are not given; may be None
            when they are, and also when ``contraction`` is given: no noise
            bound is then used).
        lam : ndarray of shape (n_hyper,)
            Hyperparameters.
        w : ndarray of shape (n_params,)
            Point.

        Returns
        -------
        eta : ndarray of shape (K,)
            K is ``n_samples``, or the number chosen for ``tol``.
        """
        return self._plan(pgmap, lam, w)[1]

    def hypergradient(self, pgmap, lam, w, outer_grad, state=None):
        """Stochastic hypergradient at the (approximate) solution ``w``.

        Parameters
        ----------
        pgmap : ProxGradMap
            Composite map with minibatch estimates of its smooth part.
        lam : ndarray of shape (n_hyper,)
            Hyperparameters.
        w : ndarray of shape (n_params,)
            Inner solution, e.g. from a stochastic solver.
        outer_grad : callable
            ``w -> grad C(w)`` (deterministic).
        state : None
            Unused (NSID starts from :math:`v_0 = 0`).

        Returns
        -------
        HypergradResult
            ``grad`` the stochastic estimate, ``state`` None, ``n_iter`` K,
            ``residual`` the predicted relative error of the adjoint
            (:func:`predicted_error`; nan when not known).
        """
        self.check_params()
        _check_map(pgmap)
        lam = np.atleast_1d(np.asarray(lam, dtype=np.float64))
        pgmap = pgmap.bind(lam)  # its forward step (and kernels) at lam's datafit part
        w = np.ascontiguousarray(w, dtype=np.float64)
        rng = check_random_state(self.random_state)
        n, b = pgmap.n_samples, self.batch_size
        K, eta, predicted, constants = self._plan(pgmap, lam, w)
        if self.n_samples is None and not predicted <= self.tol:
            self._warn(K, predicted, constants)
        c = outer_grad(w)
        problem = None if self.biased else _kernel_problem(pgmap)
        if not self.biased:
            n_batches = K + 1 if self.J is None else self.J
            z = _mean_forward_step(pgmap, w, n_batches, b, rng, self.n_jobs, problem)
            delta = pgmap.prox_jac_diag(z, lam)
        v = np.zeros_like(w)
        if problem is not None and K > 0:  # the K iterations in one numba call
            # same draws as K calls rng.randint(n, size=b)
            rows = rng.randint(n, size=K * b)
            nsid_adjoint(*problem, np.ascontiguousarray(w), rows, b,
                         np.ascontiguousarray(delta, dtype=np.float64),
                         np.ascontiguousarray(c, dtype=np.float64), float(pgmap.step),
                         np.ascontiguousarray(eta, dtype=np.float64), v)
        for k in range(0 if problem is not None else K):
            idx = rng.randint(n, size=b)
            if self.biased:  # SID: T differentiated at a single noisy estimate
                delta = pgmap.prox_jac_diag(pgmap.forward_step(w, samples=idx), lam)
            target = pgmap.forward_step_vjp(w, delta * v, samples=idx) + c
            v = (1.0 - eta[k]) * v + eta[k] * target
        if self.biased:
            z = pgmap.forward_step(w, samples=rng.randint(n, size=b))
            delta = pgmap.prox_jac_diag(z, lam)
        if not np.all(np.isfinite(v)):
            warnings.warn("NSID: the adjoint iterates overflowed; pass a smaller step "
                          "(beta / gamma) or a larger batch_size.", RuntimeWarning,
                          stacklevel=2)
        grad = pgmap.prox_vjp_lam(z, lam, v)
        # (0 when Psi does not depend on the outer variable)
        grad = grad + pgmap.forward_step_vjp_lam(w, lam, delta * v)
        return HypergradResult(grad, w, None, K, float(predicted))

    def _warn(self, K, predicted, constants):
        """The warning of a ``tol`` that ``max_samples`` cannot reach."""
        q, sigma2 = constants[:2]
        needed, err = _samples_for(float(self.tol), 10**15, *constants)
        if err <= self.tol:
            more = f"about {needed:,} samples would reach it"
        elif self.schedule == "constant":
            more = (f"the constant step's error floor is "
                    f"{predicted_error(np.inf, *constants):.2e}")
        else:
            more = "even 1e15 samples would not reach it"
        warn_not_converged(
            "NSID", K, "samples", predicted, self.tol, q, "contraction factor q",
            f"(Predicted relative error of the adjoint, minibatch Jacobian noise sigma^2 = "
            f"{sigma2:.3g}, batch_size={self.batch_size}.) Increase max_samples or "
            "batch_size, or loosen tol.", more=more, stacklevel=4)
