r"""Stein's unbiased risk estimate of a least-squares model (:class:`SURE`), with exact
degrees of freedom (:func:`_least_squares_df`) or their Monte-Carlo estimate.
"""

import numbers

import numpy as np
from sklearn.utils import check_random_state

from ._base_criterion import BaseCriterion
from ._criterion_data import _centred_map
from ._criterion_result import _check_state, _result
from ._inner_solve import _solve_one
from ._outer_loss import _OuterLoss
from ._core_datafits import Quadratic


_DF_METHODS = ("auto", "exact", "monte-carlo")


class SURE(BaseCriterion):
    r"""Stein's unbiased risk estimate of a least-squares model.

    For :math:`y = \mu + \varepsilon`, :math:`\varepsilon \sim N(0, \sigma^2 I_n)`,
    and the fit :math:`\hat y(y) = X w^*(y) + b^*(y)` of the model trained on
    :math:`(X, y)`,

    .. math::

        \mathrm{SURE}(\lambda) = \frac1n \|y - \hat y\|^2 - \sigma^2
        + \frac{2\sigma^2}{n}\, \mathrm{df}, \qquad
        \mathrm{df} = \mathrm{div}_y\, \hat y
        = \sum_{i=1}^n \frac{\partial \hat y_i}{\partial y_i},

    is an unbiased estimate of the prediction risk
    :math:`\frac1n E\|\hat y - \mu\|^2`. The intercept is part of the fit:
    :math:`\mu` includes the true intercept and a fitted intercept counts in df.
    ``values`` of the result are ``[mse, df]``.

    **Exact degrees of freedom** (``df="exact"``; ``"auto"`` when the datafit is
    least squares, :attr:`~skhypergrad.datafits.BaseDatafit.least_squares`). Every
    penalty is an elastic net :math:`\sum_j l1_j |w_j| + \frac{l2}{2}\|w\|^2`
    (:mod:`skhypergrad.penalties`). With :math:`S` the support of :math:`w^*`,
    :math:`Z = [X_S, 1]` (:math:`Z = X_S` without intercept),
    :math:`H = Z^T Z / n` and :math:`P` diagonal, 1 on the coefficients and 0 on
    the intercept, the fit is locally (support and signs fixed)
    :math:`\hat y = Z (H + l2\,P)^{-1} Z^T y / n` plus a term constant in
    :math:`y`, so that, with :math:`M = (H + l2\,P)^{-1}`,

    .. math::

        \mathrm{df} = \mathrm{tr}(M H) = n_b + \sum_j \frac{e_j}{e_j + l2},
        \qquad
        \frac{\partial\,\mathrm{df}}{\partial\, l2} = -\mathrm{tr}(M P M H)
        = -\sum_j \frac{e_j}{(e_j + l2)^2},
        \qquad
        \frac{\partial\,\mathrm{df}}{\partial\, l1} = 0,

    where :math:`n_b` is 1 with an intercept and 0 without, and :math:`e_j` are
    the eigenvalues of :math:`X_S^T X_S / n`, or with an intercept of its
    centered version :math:`X_S^T (I - \frac1n 1 1^T) X_S / n` (the Schur
    complement of the intercept in :math:`H`). df is piecewise constant in
    :math:`l1`: SURE jumps where the support changes (by :math:`2\sigma^2/n` per
    coefficient for the Lasso) and its gradient is that of the smooth piece at
    :math:`\lambda` (the Monte-Carlo estimate, with a step :math:`\epsilon > 0`,
    is continuous in :math:`\lambda`). Eigenvalues at or
    below :math:`|S|\,\epsilon_{\mathrm{mach}}` times the largest diagonal entry of
    :math:`X_S^T X_S / n` count as zeros (the pseudo-inverse on a singular
    :math:`H`): for the Lasso df is the rank of :math:`Z`, that is :math:`|S| + n_b`
    when its columns are independent, also for :math:`p > n`. The gradient is
    the hypergradient of the training mean squared error (one inner problem)
    plus :math:`\frac{2\sigma^2}{n}` times the derivative of df, mapped to
    :math:`\lambda` by the penalty's
    :meth:`~skhypergrad.penalties.BasePenalty.weights_vjp`.

    **Monte Carlo** (``df="monte-carlo"``; ``"auto"`` for other datafits): the
    finite-difference Monte-Carlo divergence of Deledalle, Vaiter, Fadili and
    Peyré (SUGAR), with :math:`K` = ``n_probes`` directions
    :math:`\delta_k \sim N(0, I_n)` and a step :math:`\epsilon`,

    .. math::

        \mathrm{df} \approx \frac{1}{K \epsilon} \sum_{k=1}^{K}
        \delta_k^T \big(\hat y(y + \epsilon \delta_k) - \hat y(y)\big).

    It needs :math:`1 + K` inner problems (:math:`y` and each perturbed target),
    all solved by the given solver on one shared design, each probe starting
    from the solution at :math:`y` when it has no warm start of its own. SURE is
    then a sum of one outer function of each solution, and its gradient the sum
    of their hypergradients (any engine, any penalty). The variance of the
    estimate of df falls as :math:`1 / K`. Its mean over the directions is the
    mean of :math:`\mathrm{div}\,\hat y(y + \epsilon\delta)` (Stein's lemma in
    :math:`\delta`), the df at a noise level :math:`\sqrt{\sigma^2 + \epsilon^2}`
    rather than :math:`\sigma`: a bias that a smaller :math:`\epsilon` reduces.
    With an int ``random_state`` the same directions serve every call, so their
    error on df (about :math:`\sqrt{2\,\mathrm{df} / K}`) does not average out
    over noise draws either. The finite difference divides the inner solver's
    error by :math:`\epsilon`: an error :math:`e` on the predictions moves df by
    up to :math:`\|\delta_k\|\, e / \epsilon \approx \sqrt{n}\, e / \epsilon`,
    so the solver's tolerance must keep that far below 1.

    Parameters
    ----------
    sigma : float
        Noise standard deviation :math:`\sigma` (known or estimated beforehand), > 0.
    eps : float, default=None
        Monte Carlo: the finite-difference step :math:`\epsilon`; None uses the
        power law :math:`2\sigma / n^{0.3}` of Deledalle et al.
    random_state : int, RandomState instance or None, default=0
        Monte Carlo: draws the directions :math:`\delta_k`. An int (the default)
        gives the same directions at every call, so SURE is a deterministic
        function of :math:`\lambda` (needed by line searches); a RandomState
        instance or None draws new directions per call.
    df : {"auto", "exact", "monte-carlo"}, default="auto"
        How df is computed: exactly (least-squares datafits only), by Monte Carlo,
        or ``"auto"``: exactly when the model's datafit is least squares, by Monte
        Carlo otherwise.
    n_probes : int, default=10
        Monte Carlo: the number of directions :math:`K`.

    References
    ----------
    C. M. Stein. Estimation of the mean of a multivariate normal distribution.
    Ann. Statist. 9(6), 1981.

    H. Zou, T. Hastie, R. Tibshirani. On the "degrees of freedom" of the lasso.
    Ann. Statist. 35(5), 2007.

    R. J. Tibshirani, J. Taylor. Degrees of freedom in lasso problems. Ann.
    Statist. 40(2), 2012.

    C.-A. Deledalle, S. Vaiter, J. Fadili, G. Peyré. Stein Unbiased GrAdient
    estimator of the Risk (SUGAR) for multiple parameter selection. SIAM J.
    Imaging Sci. 7(4), 2014.
    """

    def __init__(self, sigma, eps=None, random_state=0, *, df="auto", n_probes=10):
        self.sigma = sigma
        self.eps = eps
        self.random_state = random_state
        self.df = df
        self.n_probes = n_probes

    def _repr_params(self):
        return [("sigma", repr(self.sigma)), ("eps", repr(self.eps)),
                ("random_state", repr(self.random_state)), ("df", repr(self.df)),
                ("n_probes", repr(self.n_probes))]

    def _sigma(self):
        sigma = float(self.sigma)
        if not sigma > 0:
            raise ValueError(f"SURE needs sigma > 0, got sigma={self.sigma!r}.")
        return sigma

    def _uses_exact_df(self, datafit):
        """Whether df is computed exactly for ``datafit`` (ValueError for a bad ``df``)."""
        if not (isinstance(self.df, str) and self.df in _DF_METHODS):
            raise ValueError(f"SURE's df must be one of {_DF_METHODS}, got {self.df!r}.")
        if self.df == "exact" and not datafit.least_squares:
            raise ValueError(f"SURE(df='exact') needs a least-squares datafit, got "
                             f"{datafit!r}; use df='monte-carlo'.")
        return self.df == "exact" or (self.df == "auto" and datafit.least_squares)

    def direction(self, n_samples):
        r"""The Monte-Carlo directions and the finite-difference step.

        Parameters
        ----------
        n_samples : int
            Number of training samples :math:`n`.

        Returns
        -------
        delta : ndarray of shape (n_probes, n_samples)
            :math:`\delta_k \sim N(0, I_n)`, one per row, drawn from ``random_state``.
        eps : float
            :math:`\epsilon`.
        """
        sigma = self._sigma()
        n_probes = self.n_probes
        if not (isinstance(n_probes, numbers.Integral) and not isinstance(n_probes, bool)
                and n_probes >= 1):
            raise ValueError(f"SURE needs an integer n_probes >= 1, got "
                             f"n_probes={self.n_probes!r}.")
        eps = 2.0 * sigma / n_samples ** 0.3 if self.eps is None else float(self.eps)
        if not eps > 0:
            raise ValueError(f"SURE needs eps > 0, got eps={self.eps!r}.")
        delta = check_random_state(self.random_state).standard_normal((int(n_probes),
                                                                       n_samples))
        return delta, eps

    def _evaluate(self, model, X, y, lam, solver, engine, state, compute_grad):
        X_in, y_in = X, y
        model, X, _, y_enc, lam = self._prepare(model, X, y, lam)
        if model.is_classifier or model.datafit_class.multi_output:
            raise ValueError("SURE is defined for single-output least squares models only.")
        sigma2 = self._sigma() ** 2
        if self._uses_exact_df(model.get_datafit()):
            (inner_state,) = _check_state(state, 1)
            pgmap = self._map(model, X_in, y_in, X, y_enc, inner_state.lipschitz)
            return self._exact(pgmap, lam, solver, engine, inner_state, compute_grad, sigma2)
        deltas, eps = self.direction(X.shape[0])
        states = _check_state(state, 1 + deltas.shape[0])
        pgmap = self._map(model, X_in, y_in, X, y_enc, states[0].lipschitz)
        return self._monte_carlo(pgmap, lam, solver, engine, states, compute_grad, sigma2,
                                 deltas, eps)

    def _map(self, model, X_in, y_in, X, y_enc, lipschitz):
        """The map of the model trained on ``(X, y)``, built once and reused while the
        criterion is evaluated on the same ``X``, ``y`` and model (as in a search), with
        a dense ``X`` in the layout of the solvers; the Monte-Carlo probes share its
        design (:meth:`~skhypergrad.fixed_point.ProxGradMap.with_target`). Not pickled."""
        return self._cached((X_in, y_in, model), (),
                            lambda: _centred_map(model, X, y_enc, lipschitz))

    @staticmethod
    def _exact(pgmap, lam, solver, engine, inner_state, compute_grad, sigma2):
        """SURE with the exact df: one inner problem, the training MSE as its outer function."""
        n = pgmap.n_samples
        # twice Quadratic's ||y - yhat||^2 / (2n): the mean squared error
        outer = _OuterLoss(pgmap.design, pgmap.y, Quadratic(), 2.0)
        out = _solve_one(pgmap, outer, lam, solver, engine, inner_state, compute_grad)
        df, ddf_dl2 = _least_squares_df(pgmap, pgmap.design.from_original(out.state.w), lam)
        c = 2.0 * sigma2 / n
        value = out.value - sigma2 + c * df
        grads = None
        if compute_grad:
            ddf = pgmap.penalty.weights_vjp(np.zeros(pgmap.n_features), ddf_dl2)
            grads = [out.grad + c * np.asarray(ddf, dtype=np.float64)]
        return _result(value, grads, lam, [1.0], [out], values=[out.value, df])

    @staticmethod
    def _monte_carlo(pgmap, lam, solver, engine, states, compute_grad, sigma2, deltas, eps):
        """SURE with the Monte-Carlo df: ``1 + K`` inner problems, for ``y`` and
        ``y + eps delta_k``."""
        n, K = pgmap.n_samples, deltas.shape[0]
        design, y = pgmap.design, pgmap.y
        c = 2.0 * sigma2 / (n * eps * K)
        # SURE = [||y - yhat_0||^2 / n - c sum_k delta_k . yhat_0]
        #        + sum_k [c delta_k . yhat_k] - sigma^2
        base = _solve_one(pgmap, _OuterLoss(design, y, Quadratic(), 2.0,
                                            -c * deltas.sum(axis=0)),
                          lam, solver, engine, states[0], compute_grad)
        probes = []
        for delta, st in zip(deltas, states[1:]):
            if st.w is None:
                st = st._replace(w=base.state.w.copy())
            probes.append(_solve_one(pgmap.with_target(y + eps * delta),
                                     _OuterLoss(design, y, Quadratic(), 0.0, c * delta),
                                     lam, solver, engine, st, compute_grad))
        outcomes = [base] + probes
        def fit(w):  # the predictions of a state's w (the model's own coordinates)
            return design.matvec(design.from_original(w))

        yhat = fit(base.state.w)
        mse = float(np.mean((y - yhat) ** 2))
        df = float(np.mean([delta @ (fit(o.state.w) - yhat)
                            for delta, o in zip(deltas, probes)])) / eps
        value = sum(o.value for o in outcomes) - sigma2
        grads = [o.grad for o in outcomes] if compute_grad else None
        return _result(value, grads, lam, [1.0] * (K + 1), outcomes, values=[mse, df])


def _least_squares_df(pgmap, w, lam):
    r"""The exact df of :class:`SURE` at the solution ``w`` of a least-squares elastic
    net, and its derivatives in the L2 weights: ``(df, d df / d l2)``, the second of
    shape (p,) (zero off the support).

    ``H = Z^T Z / n`` comes from the map (``hessian_subset`` on the support and the
    intercept); the intercept, unpenalized, counts 1 and is eliminated by its Schur
    complement ``G``. With one L2 weight, ``df = n_b + sum_i e_i / (e_i + l2)`` from the
    eigenpairs ``(e_i, v_i)`` of ``G``, those at or below ``|S| eps_mach max(diag H_SS)``
    taken as 0, and ``d df / d l2_j = -sum_i v_ij^2 e_i / (e_i + l2)^2``. With one L2
    weight per feature (all positive), ``M = (G + diag(l2_S))^{-1}``,
    ``df = n_b + tr(M G)`` and ``d df / d l2_j = -(M G M)_jj``.
    """
    design = pgmap.design
    k = design.n_coefs
    support = np.flatnonzero(w[:k])
    n_b = design.n_params - k
    m = support.shape[0]
    ddf = np.zeros(pgmap.n_features)
    if m == 0:
        return float(n_b), ddf
    idx = np.concatenate([support, np.arange(k, design.n_params)])
    # H does not depend on the map's step: any step will do, none computed from X
    H = pgmap.with_step(pgmap.cheap_step()).linearize(w, lam, at_solution=True) \
        .hessian_subset(idx)
    G = H[:m, :m]
    if n_b:
        G = G - H[:m, m:] @ np.linalg.solve(H[m:, m:], H[m:, :m])
    features = support // design.n_outputs  # the feature of each coefficient
    if not pgmap.penalty.uniform_l2:
        l2 = pgmap.penalty.weights(lam, pgmap.n_features)[1][features]
        M = np.linalg.inv(G + np.diag(l2))
        MG = M @ G
        np.add.at(ddf, features, -np.einsum("ij,ji->i", MG, M))
        return float(n_b + np.trace(MG)), ddf
    e, V = np.linalg.eigh(G)
    keep = e > m * np.finfo(np.float64).eps * np.max(np.diag(H)[:m])
    e, V = e[keep], V[:, keep]
    l2 = pgmap.penalty.l2_weight(lam)
    ratio = e / (e + l2)
    np.add.at(ddf, features, -(V * V) @ (ratio / (e + l2)))
    return float(n_b + ratio.sum()), ddf
