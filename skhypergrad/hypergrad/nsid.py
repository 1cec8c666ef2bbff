r"""NSID: stochastic implicit differentiation of a composite fixed-point map.

For :math:`\Phi(w, \lambda) = T(\Psi(w), \lambda)` with :math:`\Psi(w) = w - g\nabla F(w)`
available only through unbiased minibatch estimates :math:`\hat\Psi(w; \xi)`
(``F`` is a mean over samples) and :math:`T` the exact, cheap, nonsmooth prox,
NSID (Grazzi, Pontil and Salzo, 2024) estimates :math:`B^T v`,
:math:`v = (I - A^T)^{-1}\nabla C(w)`, as follows:

1. :math:`\bar\Psi = \frac1J \sum_{j<J} \hat\Psi(w; \xi_j)` on fresh minibatches;
2. :math:`v_0 = 0` and, for :math:`k < K` with a fresh minibatch :math:`\xi_k`,

   .. math::

       v_{k+1} = (1 - \eta_k) v_k + \eta_k \big( \partial_w\hat\Psi(w; \xi_k)^T\,
       \partial_z T(\bar\Psi, \lambda)^T v_k + \nabla C(w) \big);

3. return :math:`\partial_\lambda T(\bar\Psi, \lambda)^T v_K`.

The nonsmooth :math:`T` is differentiated once, at the averaged point
:math:`\bar\Psi`, never at a single noisy estimate: with :math:`J \propto K`
the mean squared error of the result is :math:`O(1/K)`. Differentiating
:math:`T` at each noisy :math:`\hat\Psi(w; \xi_k)` instead is the biased "SID"
baseline (``biased=True``), kept for comparisons only: its error does not
vanish as K grows, since :math:`\partial_z T` at a noisy point has the wrong
mask with a probability that does not decrease.

The engine needs the composite structure of
:class:`~skhypergrad.fixed_point.ProxGradMap`: ``forward_step(w, samples)``,
``forward_step_vjp(w, u, samples)``, ``prox_jac_diag(z, lam)``,
``prox_vjp_lam(z, lam, u)`` and the number of samples (``pgmap.n_samples``
or ``pgmap.design.n_samples``).
"""

import numbers

import numpy as np
from sklearn.utils import check_random_state

from ._base import BaseEngine, HypergradResult
from .aid import contraction_factor

__all__ = ["NSID"]

_NEEDED = ("forward_step", "forward_step_vjp", "prox_jac_diag", "prox_vjp_lam", "linearize")

#: rows of the design taken at once when averaging the J estimates of Psi
_CHUNK_ROWS = 10_000


def _n_samples(pgmap):
    n = getattr(pgmap, "n_samples", None)
    if n is None:
        n = getattr(getattr(pgmap, "design", None), "n_samples", None)
    return n


def _check_map(pgmap):
    missing = [name for name in _NEEDED if not callable(getattr(pgmap, name, None))]
    if missing or _n_samples(pgmap) is None:
        raise TypeError(
            f"NSID needs a composite map Phi = T(Psi(w)) with minibatch estimates of Psi "
            f"(as ProxGradMap); {type(pgmap).__name__} lacks "
            f"{', '.join(missing) or 'n_samples'}.")


def _mean_forward_step(pgmap, w, n_batches, batch_size, rng):
    r"""Mean of ``n_batches`` estimates :math:`\hat\Psi(w; \xi_j)` on i.i.d. minibatches.

    Since :math:`\hat\Psi(w; \xi) = w - g \frac{1}{|\xi|}\sum_{i\in\xi}\nabla f_i(w)`
    is affine in the empirical mean, the mean of ``m`` estimates on minibatches
    of equal size is the estimate on their concatenation: chunks of minibatches
    (at most ``_CHUNK_ROWS`` rows) are evaluated at once.
    """
    n = _n_samples(pgmap)
    per_chunk = max(1, _CHUNK_ROWS // batch_size)
    total = np.zeros_like(w)
    done = 0
    while done < n_batches:
        m = min(per_chunk, n_batches - done)
        total += m * pgmap.forward_step(w, samples=rng.randint(n, size=m * batch_size))
        done += m
    return total / n_batches


class NSID(BaseEngine):
    r"""Stochastic implicit differentiation (NSID) with minibatch estimates of :math:`\Psi`.

    See the module docstring for the three steps. Minibatches are ``batch_size``
    indices drawn uniformly with replacement (so every estimate is unbiased and
    independent of the others). Step sizes:

    * ``step="decreasing"``: :math:`\eta_k = \beta / (\gamma + k)`, by default
      :math:`\beta = \gamma = 2 / (1 - q^2)` (so :math:`\eta_0 = 1`); the mean
      squared error then decays as :math:`O(1/K)`;
    * ``step="constant"``: :math:`\eta_k = \beta / \gamma`, by default
      :math:`\beta = 1`, :math:`\gamma = 2 / (1 - q^2)`, i.e.
      :math:`\eta = (1 - q^2)/2`; faster at first, then stalls at an error
      floor proportional to :math:`\eta`.

    Here ``q`` is the contraction factor of the map at ``w``: ``contraction``
    when given, else :func:`~skhypergrad.hypergrad.aid.contraction_factor`
    (the spectral radius of :math:`\partial_w\Phi` restricted to the active set,
    with full-batch Hessian products: a one-time cost of a few tens of passes
    over the data; pass ``contraction``, or ``beta`` and ``gamma``, to avoid it).

    Parameters
    ----------
    n_samples : int, default=1000
        Number K of stochastic iterations (minibatches) for ``v``.
    batch_size : int, default=100
        Size of every minibatch.
    step : {"decreasing", "constant"}, default="decreasing"
        Step-size schedule.
    beta, gamma : float, default=None
        Step-size constants; derived from the contraction factor when None.
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
    """

    def __init__(self, n_samples=1000, batch_size=100, step="decreasing", beta=None,
                 gamma=None, J=None, contraction=None, random_state=None, biased=False):
        self.n_samples = n_samples
        self.batch_size = batch_size
        self.step = step
        self.beta = beta
        self.gamma = gamma
        self.J = J
        self.contraction = contraction
        self.random_state = random_state
        self.biased = biased

    def _validate(self):
        for name, low in (("n_samples", 0), ("batch_size", 1)):
            value = getattr(self, name)
            if not isinstance(value, numbers.Integral) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}.")
        if self.J is not None and (not isinstance(self.J, numbers.Integral) or self.J < 1):
            raise ValueError(f"J must be None or an integer >= 1, got {self.J!r}.")
        if self.step not in ("decreasing", "constant"):
            raise ValueError(f"step must be 'decreasing' or 'constant', got {self.step!r}.")

    def step_sizes(self, pgmap, lam, w):
        r"""The K step sizes :math:`\eta_k` used at ``(w, lam)``.

        Parameters
        ----------
        pgmap : ProxGradMap
            The map (only used to estimate the contraction factor when needed).
        lam : ndarray of shape (n_hyper,)
            Hyperparameters.
        w : ndarray of shape (n_params,)
            Point.

        Returns
        -------
        eta : ndarray of shape (n_samples,)
        """
        beta, gamma = self.beta, self.gamma
        if beta is None or gamma is None:
            q = self.contraction
            if q is None:
                q = contraction_factor(pgmap, lam, w)
            if not 0.0 <= q < 1.0:
                raise ValueError(f"The map is not a contraction at w (q = {q:.6g}); pass "
                                 "beta and gamma explicitly.")
            scale = 2.0 / (1.0 - q * q)
            if gamma is None:
                gamma = scale
            if beta is None:
                beta = scale if self.step == "decreasing" else 1.0
        k = np.arange(self.n_samples)
        if self.step == "constant":
            return np.full(k.shape, beta / gamma)
        return beta / (gamma + k)

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
            ``residual`` nan.
        """
        self._validate()
        _check_map(pgmap)
        lam = np.atleast_1d(np.asarray(lam, dtype=np.float64))
        w = np.asarray(w, dtype=np.float64)
        rng = check_random_state(self.random_state)
        n, b, K = _n_samples(pgmap), self.batch_size, self.n_samples
        eta = self.step_sizes(pgmap, lam, w)
        c = outer_grad(w)
        if not self.biased:
            n_batches = K + 1 if self.J is None else self.J
            z = _mean_forward_step(pgmap, w, n_batches, b, rng)
            delta = pgmap.prox_jac_diag(z, lam)
        batches = rng.randint(n, size=(K, b))
        v = np.zeros_like(w)
        for k in range(K):
            idx = batches[k]
            if self.biased:  # SID: T differentiated at a single noisy estimate
                delta = pgmap.prox_jac_diag(pgmap.forward_step(w, samples=idx), lam)
            target = pgmap.forward_step_vjp(w, delta * v, samples=idx) + c
            v = (1.0 - eta[k]) * v + eta[k] * target
        if self.biased:
            z = pgmap.forward_step(w, samples=rng.randint(n, size=b))
        return HypergradResult(pgmap.prox_vjp_lam(z, lam, v), w, None, K, np.nan)
