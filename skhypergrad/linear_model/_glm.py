"""Poisson, Gamma and Tweedie regressors tuned by hypergradient descent."""

import numbers

import numpy as np
from sklearn.base import RegressorMixin, _fit_context
from sklearn.metrics import d2_tweedie_score
from sklearn.utils._param_validation import Interval, StrOptions

from .._base import BaseHyperGrad
from .._search_space import GLM
from .._validation import check_bounds
from ..glm import Tweedie
from ..models import InnerModel
from ..penalties import enet_lam_from_sklearn, enet_sklearn_from_lam
from ._common import _RegressorHyperGrad, _doc


# -- log-link GLMs (skhypergrad.glm) ---------------------------------------------------
class _GLMHyperGrad(RegressorMixin, BaseHyperGrad):
    """Shared parts of the log-link GLM regressors: the datafit is stated by
    ``_datafit()``, the penalty chosen by ``penalty``."""

    _search_defaults = GLM
    _parameter_constraints = {
        **_RegressorHyperGrad._parameter_constraints,
        "penalty": [StrOptions({"l2", "l1", "elasticnet"})],
        "l1_ratio_init": [Interval(numbers.Real, 0, 1, closed="neither")],
    }

    def __init__(self, *, penalty="l2", cv=5, alpha_init=None, l1_ratio_init=0.5,
                 alpha_bounds=None, hypergradient="aid-cg", solver="auto", optimizer="gd",
                 max_iter=30, tol=1e-3, fit_intercept=True, n_jobs=None, random_state=None,
                 verbose=0, callback=None):
        self.penalty = penalty
        self.cv = cv
        self.alpha_init = alpha_init
        self.l1_ratio_init = l1_ratio_init
        self.alpha_bounds = alpha_bounds
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

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.positive_only = True
        return tags

    #: the registered datafit's name (see :mod:`skhypergrad.glm`)
    _datafit_name = None

    def _datafit(self):
        """The datafit of the inner model (a name, or an instance with parameters)."""
        return self._datafit_name

    def _inner_model(self, y):
        return InnerModel(self._datafit(), self.penalty, self.fit_intercept)

    def _initial_lam(self, scales, n_samples):
        if self.alpha_init is None:
            return None
        if self.penalty == "elasticnet":
            return enet_lam_from_sklearn(self.alpha_init, self.l1_ratio_init)
        return np.array([float(self.alpha_init)])

    def _bounds(self, scales, n_samples):
        if self.alpha_bounds is None:
            return scales.bounds(self._search_defaults)
        lo, hi = check_bounds(self.alpha_bounds, "alpha_bounds")
        return (scales.penalty.lam_from_weights(lo, lo, scales.n_features),
                scales.penalty.lam_from_weights(hi, hi, scales.n_features))

    def _hyper_names(self, lam, n_samples):
        alpha, l1_ratio = enet_sklearn_from_lam(lam)
        if self.penalty == "elasticnet":
            return {"alpha": alpha, "l1_ratio": l1_ratio}
        return {"alpha": alpha}

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, groups=None):
        """Tune the penalty on ``(X, y)``, then refit on all of it.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Targets in the datafit's domain (``y >= 0`` with a positive mean, or
            ``y > 0`` for the Gamma model).
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample weights (None: all 1), in the training datafit (rescaled to sum
            to ``n_samples``, as scikit-learn's ``PoissonRegressor``) and in the held-out
            losses (weighted means, mean deviances); integer
            weights fit as the rows repeated, zero weights as the rows dropped.

        groups : array-like of shape (n_samples,), default=None
            Group labels of the samples, for a group splitter as ``cv``
            (e.g. :class:`~sklearn.model_selection.GroupKFold`).

        Returns
        -------
        self
        """
        return self._fit(X, y, groups, sample_weight)

    def predict(self, X):
        """Predicted means ``exp(X @ coef_ + intercept_)``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        return np.exp(self._decision(X))

    def score(self, X, y, sample_weight=None):
        """D², the fraction of the deviance explained (scikit-learn's GLMs' ``score``).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        float
        """
        return d2_tweedie_score(y, self.predict(X), sample_weight=sample_weight,
                                power=self._power())

    def _power(self):
        return InnerModel(self._datafit()).get_datafit().power


_GLM_DOC = r"""{title}

    The inner problem is scikit-learn's :class:`~sklearn.linear_model.{sk}` objective
    (``penalty="l2"``), the mean half deviance (:mod:`skhypergrad.glm`) plus a penalty,

    .. math::

        \frac{{1}}{{n}}\sum_i \ell(y_i, x_i^T w + b) + \alpha\rho\|w\|_1
        + \frac{{\alpha(1 - \rho)}}{{2}}\|w\|^2

    with ``rho = 0`` (``"l2"``, scikit-learn's), 1 (``"l1"``) or ``l1_ratio``
    (``"elasticnet"``), searched in log-space as ``lam = [alpha]`` (or ``[alpha rho,
    alpha (1 - rho)]``); the criterion is the held-out mean {deviance}. A fitted
    ``penalty="l2"`` model hands ``alpha_`` to ``{sk}`` and gets the same coefficients.

    Parameters
    ----------{extra}
    penalty : {{"l2", "l1", "elasticnet"}}, default="l2"
        The penalty whose weights are tuned: ``alpha`` alone, or ``alpha`` and
        ``l1_ratio``.
    alpha_init : float, default=None
        Starting ``alpha`` (with ``l1_ratio_init``). When None, the descent starts
        from the best point of a coarse scan in units of the data: for ``"l2"``,
        the L2 weights ``kappa_min * 10^(-k)``, ``k = 0..4``, then, only when
        ``kappa_min`` is the best of them, ``kappa_min * 10^k``, ``k = 1..3``, until the
        values rise, ``kappa_min`` the smaller of the mean and the geometric mean of the
        diagonal of the datafit's Hessian at the null model, ``kappa`` the mean (see
        :mod:`skhypergrad._search_space`); with an L1 part, paths of the L1 weight
        from ``alpha_max / 10^0.5`` down to ``alpha_max / 10^3`` (as
        :class:`ElasticNetHyperGrad`).
    l1_ratio_init : float in (0, 1), default=0.5
        Starting ``l1_ratio`` (``penalty="elasticnet"``).
    alpha_bounds : (float, float), default=None
        Interval of ``alpha`` (of each of ``alpha * l1_ratio`` and ``alpha * (1 -
        l1_ratio)``); None: the L1 weight in ``(1e-4, 10) * alpha_max`` and the L2
        weight from ``1e-5 kappa_min`` to ``1e3 kappa``.
    %(common)s

    Attributes
    ----------
    alpha_ : float
    l1_ratio_ : float
        ``penalty="elasticnet"`` only.
    coef_ : ndarray of shape (n_features,)
    %(attrs)s

    See Also
    --------
    sklearn.linear_model.{sk} : the model with a fixed ``alpha``.

    Examples
    --------
    >>> import numpy as np
    >>> from skhypergrad import {name}
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((200, 5))
    >>> y = {draw}
    >>> est = {name}({args}cv=3).fit(X, y)
    >>> bool(est.alpha_ > 0 and est.predict(X).min() > 0)
    True
    """


def _glm_doc(cls, title, sk, deviance, draw, args="", extra=""):
    cls.__doc__ = _GLM_DOC.format(title=title, sk=sk, deviance=deviance, name=cls.__name__,
                                  draw=draw, args=args, extra=extra)
    return _doc(cls)


class PoissonRegressorHyperGrad(_GLMHyperGrad):
    _datafit_name = "poisson"


class GammaRegressorHyperGrad(_GLMHyperGrad):
    _datafit_name = "gamma"


class TweedieRegressorHyperGrad(_GLMHyperGrad):
    _parameter_constraints = {
        **_GLMHyperGrad._parameter_constraints,
        "power": [Interval(numbers.Real, 1, 2, closed="both")],
    }

    def __init__(self, *, power=1.5, penalty="l2", cv=5, alpha_init=None, l1_ratio_init=0.5,
                 alpha_bounds=None, hypergradient="aid-cg", solver="auto", optimizer="gd",
                 max_iter=30, tol=1e-3, fit_intercept=True, n_jobs=None, random_state=None,
                 verbose=0, callback=None):
        super().__init__(penalty=penalty, cv=cv, alpha_init=alpha_init,
                         l1_ratio_init=l1_ratio_init, alpha_bounds=alpha_bounds,
                         hypergradient=hypergradient, solver=solver, optimizer=optimizer,
                         max_iter=max_iter, tol=tol, fit_intercept=fit_intercept,
                         n_jobs=n_jobs, random_state=random_state, verbose=verbose,
                         callback=callback)
        self.power = power

    def _datafit(self):
        power = float(self.power)
        return {1.0: "poisson", 2.0: "gamma"}.get(power) or Tweedie(power)


_glm_doc(PoissonRegressorHyperGrad, "Poisson regression whose penalty is tuned by "
         "hypergradient descent.", "PoissonRegressor", "Poisson deviance",
         "rng.poisson(np.exp(X[:, 0]))")


_glm_doc(GammaRegressorHyperGrad, "Gamma regression (log link) whose penalty is tuned by "
         "hypergradient descent.", "GammaRegressor", "Gamma deviance",
         "rng.gamma(2.0, np.exp(X[:, 0]) / 2.0)")


_glm_doc(TweedieRegressorHyperGrad, "Tweedie regression (log link, 1 <= power <= 2) whose "
         "penalty is tuned by hypergradient descent.", "TweedieRegressor",
         "Tweedie deviance of the model's power",
         "rng.poisson(np.exp(X[:, 0])) * rng.gamma(2.0, 1.0, 200)", args="power=1.5, ",
         extra="""
    power : float in [1, 2], default=1.5
        Tweedie power: 1 is the Poisson model, 2 the Gamma model, in between the
        compound Poisson-Gamma (``y >= 0`` with exact zeros). Outside [1, 2] the
        log-link deviance is not convex and is not offered.""")
