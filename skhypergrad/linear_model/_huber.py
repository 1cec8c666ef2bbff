"""Huber regression tuned by hypergradient descent."""

import numbers

import numpy as np
from sklearn.base import _fit_context
from sklearn.utils._param_validation import Interval, StrOptions

from .._base import BaseHyperGrad, null_model, refit_solver
from .._validation import check_bounds
from ..huber import Huber, concomitant_fit
from ..models import InnerModel
from ..penalties import huber_lam_from_sklearn, huber_sklearn_from_lam
from ._common import _BOUNDS, LinearRegressorMixin, _doc


@_doc
class HuberRegressorHyperGrad(LinearRegressorMixin, BaseHyperGrad):
    r"""Huber regression whose ``alpha`` and ``epsilon`` are tuned by hypergradient descent.

    The inner problem is scikit-learn's :class:`~sklearn.linear_model.HuberRegressor`
    (``penalty="l2"``), or its L1 / elastic-net variant,

    .. math::

        \sum_{i=1}^n \Big[\sigma + \sigma H_\epsilon\Big(\frac{y_i - x_i^T w - b}
        {\sigma}\Big)\Big] + \alpha\big(\rho\|w\|_1 + (1 - \rho)\|w\|^2\big)

    (:math:`\rho` 0, 1 or ``l1_ratio``; see :mod:`skhypergrad.huber`), searched as
    ``lam = [penalty's..., epsilon]`` in log-space (``epsilon`` is a hyperparameter
    of the datafit) to minimize the cross-validated squared error.

    The scale :math:`\sigma` is estimated once, jointly with the coefficients on all
    the data at ``alpha_init`` (when None: the L2 weight at the lower end of the
    search's range, relative to the data, and the L1 weight of scikit-learn's default
    ``alpha=1e-4``: :math:`y \to c\,y` then rescales the scale by :math:`c`, ``alpha_``
    by :math:`1/c` for ``penalty="l2"`` (the loss scales as :math:`c`, the L2 term as
    :math:`c^2`) and leaves ``epsilon_``) and ``epsilon_init``, and kept fixed during
    the search: the
    hypergradient is that of the fixed-scale model. The refit at the chosen
    hyperparameters is joint (:func:`~skhypergrad.huber.concomitant_fit`): with
    ``penalty="l2"``, ``coef_``, ``intercept_`` and ``scale_`` are those of
    ``HuberRegressor(alpha=alpha_, epsilon=epsilon_)``, except that the scale is at
    least :func:`~skhypergrad.huber.scale_floor` of ``y`` (1e-6 times its median
    absolute deviation: below, on a near perfect fit, the residuals are rounding errors).

    Parameters
    ----------
    penalty : {"l2", "l1", "elasticnet"}, default="l2"
    alpha_init : float, default=None
        Starting ``alpha``. When None, the descent starts from the best point of a
        coarse scan relative to the data (the L2 weight from 100 to 1e-5 times the
        reference curvature ``kappa_min``, in units of the data whatever the scale: see
        :meth:`Huber.reference_curvature <skhypergrad.huber.Huber.reference_curvature>`
        and, for ``kappa_min``, :func:`~skhypergrad._search_space.l2_floor_scale`;
        the L1 weight from ``alpha_max / 10^0.5`` down, as
        :class:`ElasticNetHyperGrad`), at ``epsilon_init``.
    epsilon_init : float, default=1.35
        Starting ``epsilon`` (at least 1), its value when ``tune_epsilon=False``.
    tune_epsilon : bool, default=True
        Whether ``epsilon`` is searched as well.
    l1_ratio_init : float in (0, 1), default=0.5
        The ratio of the L1 part at the start (``penalty="elasticnet"``).
    alpha_bounds : (float, float), default=None
        Interval of ``alpha`` (of each of its L1 and L2 parts for the elastic net);
        None: relative to the data, as :class:`ElasticNetHyperGrad`.
    epsilon_bounds : (float, float), default=(1.1, 3.0)
        Interval of ``epsilon`` (at 1 the concomitant scale vanishes).
    %(common)s
        Inner solvers: "auto" is coordinate descent; minibatch SAGA has no
        Huber kernel (with ``hypergradient="nsid"`` pass ``solver="cd"``).

    Attributes
    ----------
    alpha_ : float
    epsilon_ : float
    l1_ratio_ : float
        Only with ``penalty="elasticnet"``.
    scale_ : float
        The concomitant scale of the refit.
    coef_ : ndarray of shape (n_features,)
    %(attrs)s

    See Also
    --------
    sklearn.linear_model.HuberRegressor : the model, at given ``alpha`` and ``epsilon``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import HuberRegressor
    >>> from skhypergrad import HuberRegressorHyperGrad
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((200, 5))
    >>> y = X @ np.arange(1.0, 6.0) + rng.standard_t(2, 200)
    >>> est = HuberRegressorHyperGrad(cv=3, max_iter=10).fit(X, y)
    >>> sk = HuberRegressor(alpha=est.alpha_, epsilon=est.epsilon_, tol=1e-10).fit(X, y)
    >>> bool(np.allclose(sk.coef_, est.coef_, rtol=1e-3))
    True
    """

    _parameter_constraints = {
        **BaseHyperGrad._parameter_constraints,
        "penalty": [StrOptions({"l2", "l1", "elasticnet"})],
        "alpha_init": [None, Interval(numbers.Real, 0, None, closed="neither")],
        "epsilon_init": [Interval(numbers.Real, 1, None, closed="left")],
        "tune_epsilon": ["boolean"],
        "l1_ratio_init": [Interval(numbers.Real, 0, 1, closed="neither")],
        "alpha_bounds": _BOUNDS,
        "epsilon_bounds": [tuple, list],
    }
    #: HuberRegressor's default alpha: the L1 weight the scale is estimated at without
    #: alpha_init (see _scale_lam)
    _scale_alpha = 1e-4
    #: float64 coefficients whatever the data's dtype, as HuberRegressor's
    _coef_follows_dtype = False

    def __init__(self, *, penalty="l2", cv=5, alpha_init=None, epsilon_init=1.35,
                 tune_epsilon=True, l1_ratio_init=0.5, alpha_bounds=None,
                 epsilon_bounds=(1.1, 3.0), hypergradient="aid-cg", solver="auto",
                 optimizer="gd", max_iter=30, tol=1e-3, fit_intercept=True, n_jobs=None,
                 random_state=None, verbose=0, callback=None):
        self.penalty = penalty
        self.cv = cv
        self.alpha_init = alpha_init
        self.epsilon_init = epsilon_init
        self.tune_epsilon = tune_epsilon
        self.l1_ratio_init = l1_ratio_init
        self.alpha_bounds = alpha_bounds
        self.epsilon_bounds = epsilon_bounds
        self.hypergradient = hypergradient
        self.solver = solver
        self.optimizer = optimizer
        self.max_iter = max_iter
        self.tol = tol
        self.fit_intercept = fit_intercept
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose
        self.callback = callback

    def _rho(self):
        return {"l2": 0.0, "l1": 1.0}.get(self.penalty, self.l1_ratio_init)

    def _with_epsilon(self, lam_pen, epsilon):
        """``lam``: the penalty's part, then ``epsilon`` when it is searched."""
        return np.append(lam_pen, epsilon) if self.tune_epsilon else np.asarray(lam_pen)

    def _inner_model(self, y):
        # the scale is set from the data by _prepare_model
        return InnerModel(Huber(self.epsilon_init, 1.0, self.tune_epsilon), self.penalty,
                          self.fit_intercept)

    def _prepare_model(self, model, X, y, sample_weight=None):
        """The model at the scale of the joint fit, weighted by ``sample_weight``, at the
        starting hyperparameters (without ``alpha_init``, at :meth:`_scale_lam`)."""
        n = X.shape[0] if sample_weight is None else float(np.sum(sample_weight))
        lam = huber_lam_from_sklearn(self.alpha_init, self._rho(), n) \
            if self.alpha_init is not None else self._scale_lam(model, X, y, sample_weight)
        return model.with_data_constants(X, model.encode(y), self._with_epsilon(
            lam, self.epsilon_init), sample_weight)

    def _scale_lam(self, model, X, y, sample_weight=None):
        r"""The penalty's ``lam`` the scale is estimated at without ``alpha_init``: the L1
        weight of ``alpha = 1e-4`` (scikit-learn's default; the L1 term, like the Huber
        loss, scales with ``y``), the L2 weight the lower end of the search's range times
        the curvature at the floor scale
        (:meth:`~skhypergrad.huber.Huber.constants_lam`). Both scale as the weights of
        the same fit when ``y`` is rescaled: the scale, and then the search, follow ``y``;
        with ``sample_weight``, ``n`` is their sum (scikit-learn's ``alpha`` weighs a sum
        of weighted losses)."""
        n = X.shape[0] if sample_weight is None else float(np.sum(sample_weight))
        l1 = self._scale_alpha * self._rho() / n
        lam = model.get_penalty().lam_from_weights(l1, 0.0, X.shape[1])
        lam = model.get_datafit().constants_lam(
            model, X, model.encode(y), self._with_epsilon(lam, self.epsilon_init),
            self._search_defaults.l2_range[0], sample_weight)
        return lam[:lam.shape[0] - model.n_datafit_hyper]

    def _initial_lam(self, scales, n_samples):
        if self.alpha_init is None:
            return None
        return self._with_epsilon(huber_lam_from_sklearn(self.alpha_init, self._rho(),
                                                         n_samples), self.epsilon_init)

    def _scan_path(self, path):
        return np.column_stack([path, np.full(path.shape[0], self.epsilon_init)]) \
            if self.tune_epsilon else path

    def _bounds(self, scales, n_samples):
        if self.alpha_bounds is None:
            lo, hi = scales.bounds(self._search_defaults)
        else:
            a_lo, a_hi = check_bounds(self.alpha_bounds, "alpha_bounds")
            lo, hi = (scales.penalty.lam_from_weights(a / n_samples, 2.0 * a / n_samples,
                                                      scales.n_features) for a in (a_lo, a_hi))
        e_lo, e_hi = check_bounds(self.epsilon_bounds, "epsilon_bounds")
        return self._with_epsilon(lo, e_lo), self._with_epsilon(hi, e_hi)

    def _hyper_names(self, lam, n_samples):
        lam = np.asarray(lam)
        k = lam.shape[0] - self.tune_epsilon
        alpha, l1_ratio = huber_sklearn_from_lam(lam[:k], self.penalty, n_samples)
        names = {"alpha": alpha,
                 "epsilon": float(lam[-1]) if self.tune_epsilon else float(self.epsilon_init)}
        if self.penalty == "elasticnet":
            names["l1_ratio"] = l1_ratio
        return names

    def _refit(self, model, X, y, lam, sample_weight=None, gram=None, starts=None):
        """The joint fit (coefficients and scale) at ``lam``, its rows weighted by
        ``sample_weight``, from the intercept-only model at the search's scale (``gram``
        and ``starts`` unused: not least squares)."""
        full_map = model.make_map(X, model.encode(y), center=True,
                                  sample_weight=sample_weight)
        solver = refit_solver(self.solver, self._refit_tol, self.random_state, full_map)
        w, _, fixed = concomitant_fit(full_map, lam, solver, null_model(full_map))
        return fixed, w

    def _set_solution(self, pgmap, model, w, dtype):
        super()._set_solution(pgmap, model, w, dtype)
        self.scale_ = pgmap.datafit.unweighted.scale

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, groups=None, sample_weight=None):
        r"""Tune ``alpha`` (and ``epsilon``) on ``(X, y)``, then refit on all of it.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        groups : array-like of shape (n_samples,), default=None
            Group labels of the samples, for a group splitter as ``cv``
            (e.g. :class:`~sklearn.model_selection.GroupKFold`).
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the samples, as ``HuberRegressor.fit`` takes them: each
            multiplies its sample's term :math:`\sigma + \sigma H_\epsilon(\cdot)` (in
            the scale's estimate too, integer weights being the rows repeated); the
            held-out squared errors are weighted alike.

        Returns
        -------
        self
        """
        return self._fit(X, y, groups, sample_weight)
