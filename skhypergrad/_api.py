r"""The functional entry point: one criterion value and its hypergradient."""

import inspect
import numbers

from sklearn.utils import check_array

from ._base import default_solver
from ._linear_adapters import linear_adapter, supported_names
from ._validation import check_cv_size, check_sparse_structure, check_X_y, named
from .criteria import BaseCriterion, CrossVal, HeldOut
from .hypergrad import get_engine
from .models import InnerModel, from_estimator

__all__ = ["hypergradient"]

_CRITERIA = {"cv": lambda: CrossVal(cv=5)}


def hypergradient(model, X, y, *, criterion, method="aid-cg", tol=1e-8, solver=None,
                  random_state=None):
    r"""Criterion value and its gradient in the log of the penalty weights.

    The model's penalty weights :math:`\lambda` define the inner problem

    .. math::

        w^*(\lambda) = \arg\min_{w, b}\; F(w, b) + \lambda_1\|w\|_1
        + \frac{\lambda_2}{2}\|w\|_2^2,

    with :math:`F = \frac{1}{2n}\|y - Xw - b\|^2` (least squares) or
    :math:`F = \frac1n\sum_i \log(1 + e^{-y_i(x_i^Tw + b)})` (logistic, the two
    classes encoded as :math:`\pm 1` by scikit-learn's ``LabelEncoder``; more than
    two classes give the multinomial log-loss), and this function returns

    .. math::

        E(\lambda) = C(w^*(\lambda)), \qquad
        \nabla_{\log\lambda} E = \lambda \odot \nabla_\lambda E,

    the gradient taken through the solution map by implicit (or iterative)
    differentiation.

    Hyperparameters, in this order:

    ===========================================  ===============================================
    ``model``                                    :math:`\lambda`
    ===========================================  ===============================================
    ``Lasso(alpha)``                             :math:`[\alpha]`
    ``ElasticNet(alpha, l1_ratio=\rho)``         :math:`[\alpha\rho,\ \alpha(1-\rho)]`
    ``LogisticRegression(C)``, L1                :math:`[1/(Cn)]`
    ``LogisticRegression(C, l1_ratio=\rho)``     :math:`[\rho/(Cn),\ (1-\rho)/(Cn)]`
    ``LogisticRegression(C)``, L2                :math:`[1/(Cn)]`
    ``Ridge(alpha)``, ``RidgeClassifier``        :math:`[\alpha/n]`
    ``LinearSVC(C, fit_intercept=False)``        :math:`[1/(Cn)]`
    ``PoissonRegressor(alpha)``, Gamma, Tweedie  :math:`[\alpha]`
    ``HuberRegressor(alpha, epsilon)``           :math:`[2\alpha/n,\ \epsilon]`
    ``InnerModel(..., lam=lam)``                 ``lam`` (weighted Lasso: one per feature)
    ===========================================  ===============================================

    For ``LogisticRegression`` (which minimizes :math:`C\sum_i\ell_i + \rho\|w\|_1
    + \frac{1-\rho}{2}\|w\|^2`), :math:`n` is the number of samples of the full
    ``X`` given here. The L1 / elastic-net choice is read from ``l1_ratio``
    (scikit-learn >= 1.8) or from the deprecated ``penalty="l1"`` /
    ``"elasticnet"``; unpenalized models are rejected.

    :math:`\lambda` weighs the *per-sample normalized* objective, so in
    cross-validation every fold's model is trained with the same
    :math:`\lambda` on its own :math:`n_{train}` rows (as ``ElasticNetCV``
    does with ``alpha``); for ``LogisticRegression`` the conversion from ``C``
    is made once, with the full :math:`n`.

    For ``HuberRegressor`` the scale :math:`\sigma` is a constant of the datafit
    (:mod:`skhypergrad.huber`): it is estimated once, by the joint fit on the full
    ``X`` at the model's ``alpha`` and ``epsilon``, and held fixed in every fold. The
    gradient is that of this fixed-scale model (what
    :class:`~skhypergrad.HuberRegressorHyperGrad` descends), not the derivative of
    ``value`` as a function of ``alpha`` and ``epsilon`` when :math:`\sigma` is
    estimated again at each of them: the two differ wherever the scale moves with
    ``epsilon`` (with outliers, by a factor of several).

    Parameters
    ----------
    model : scikit-learn linear estimator or InnerModel
        A single-output scikit-learn estimator of
        :func:`~skhypergrad.models.from_estimator`'s table (fitted or not; only its
        parameters are read; ``LinearSVC`` with ``fit_intercept=False``) or
        a :class:`~skhypergrad.models.InnerModel` with ``lam`` set, carrying the
        current hyperparameters.
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Training data; CSR / CSC stay sparse; converted to float64 (float32 is
        accepted).
    y : array-like of shape (n_samples,) or (n_samples, n_tasks)
        Targets: real values, or labels of any type for a classifier; one column
        per output for an ``InnerModel`` with a multi-task datafit
        (:class:`~skhypergrad.MultiTaskQuadratic`).
    criterion : "cv" or criterion instance
        ``"cv"`` is :class:`~skhypergrad.criteria.CrossVal` with 5 folds;
        otherwise a :class:`~skhypergrad.criteria.HeldOut`,
        :class:`~skhypergrad.criteria.CrossVal` or
        :class:`~skhypergrad.criteria.SURE`.
    method : str or engine instance, default="aid-cg"
        Hypergradient engine (see :func:`skhypergrad.hypergrad.get_engine`):
        ``"itd"``, ``"itd-reverse"``, ``"aid-fp"``, ``"aid-cg"``, ``"nsid"``, or
        an engine object used as is. ITD engines iterate from zero themselves
        (no inner solve) until their iterates and Jacobian have converged to
        ``tol``, and the value is taken at their last iterate.
    tol : float, default=1e-8
        Tolerance of an engine given by name, which reaches it or raises a
        :class:`~sklearn.exceptions.ConvergenceWarning`: the relative residual
        of the adjoint system (AID), the relative step of the iterates and
        their Jacobian (ITD), the predicted relative root-mean-square error of
        the adjoint :math:`v` (NSID, whose cost grows as ``1 / tol**2``: pass
        e.g. ``tol=0.1`` with ``solver`` given; the hypergradient
        :math:`B^T v` can be relatively several times less accurate than
        :math:`v`, without bound where it nears zero, since :math:`B^T` may
        cancel the larger entries of :math:`v`). Also, when ``solver`` is None,
        the inner solver's (relative duality gap).
    solver : solver instance, default=None
        Inner solver; None uses the fastest that applies:
        :class:`~skhypergrad.solvers.CoordinateDescent` (proximal Newton for the
        logistic losses), or :class:`~skhypergrad.solvers.ProxGradient` (FISTA) for a
        datafit that declares no Newton model, at a relative duality gap of
        ``min(tol, 1e-10) ** 1.2``: the gap bounds
        the objective's suboptimality, whose square root (over the strong
        convexity) bounds the error of the coefficients, which the hypergradient
        inherits; a weakly strongly convex problem (``p > n``, a small L2 weight)
        needs a gap well below ``tol``.
    random_state : int, RandomState instance or None, default=None
        Seed of stochastic engines (``"nsid"``). Criteria own their randomness
        (e.g. ``SURE(random_state=...)``).

    Returns
    -------
    value : float
        :math:`E(\lambda)`.
    grad : ndarray of shape (n_hyper,)
        :math:`\nabla_{\log\lambda} E`.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import Lasso
    >>> from skhypergrad import hypergradient
    >>> rng = np.random.RandomState(0)
    >>> X, y = rng.randn(40, 5), rng.randn(40)
    >>> value, grad = hypergradient(Lasso(alpha=0.1), X, y, criterion="cv")
    >>> grad.shape
    (1,)
    """
    if not (isinstance(tol, numbers.Real) and tol > 0):
        raise ValueError(f"tol must be a positive float, got {tol!r}.")
    classifier = _is_classifier(model)
    multi_output = isinstance(model, InnerModel) and model.datafit_class.multi_output
    X, y = check_X_y(X, y, classifier=classifier, multi_output=multi_output)
    if isinstance(model, InnerModel):
        if model.lam is None:
            raise ValueError("model: an InnerModel passed to hypergradient must carry "
                             "its hyperparameters (lam=...).")
        inner = model.bind(y)
    else:
        inner = from_estimator(model, y)
        inner = inner.with_data_constants(X, inner.encode(y), inner.lam)  # Huber's scale
    with named("model"):
        lam = inner.check_lam(inner.lam, X.shape[1])
    criterion = _check_criterion(criterion)
    if isinstance(criterion, CrossVal):
        check_cv_size(criterion.cv, X.shape[0], name="criterion.cv")
    elif isinstance(criterion, HeldOut):
        with named("criterion.X_val"):
            check_array(check_sparse_structure(criterion.X_val, "criterion.X_val"),
                        accept_sparse=True, input_name="X_val")
    engine = _check_engine(method, tol, random_state)
    if solver is None:
        solver = default_solver("auto", tol=_inner_tol(tol), datafit=inner.get_datafit())
    elif not hasattr(solver, "solve"):
        raise ValueError(f"solver must be a skhypergrad solver (with a solve method) or "
                         f"None, got {solver!r}.")
    res = criterion.value_and_grad(inner, X, y, lam, solver=solver, engine=engine)
    return res.value, res.grad


def _inner_tol(tol):
    """The inner solver's relative gap for a hypergradient accurate to about ``tol``."""
    return min(tol, 1e-10) ** 1.2


def _is_classifier(model):
    """Whether ``model``'s targets are class labels (its adapter's ``classifier``); a
    ValueError for an estimator outside the table of adapters, a multi-output one, or
    liblinear's penalized intercept (a synthetic feature this function does not add)."""
    if isinstance(model, InnerModel):
        return model.is_classifier
    adapter = linear_adapter(model)
    name = type(model).__name__
    if adapter is None:
        raise ValueError(f"model must be a scikit-learn {supported_names()}, or a "
                         f"skhypergrad InnerModel; got {name}.")
    if adapter.multi_output:
        raise ValueError(f"model: {name} has several outputs, which hypergradient does not "
                         "take; use HyperGradSearchCV or the multi-task estimators.")
    if adapter.column(model) is not None:
        raise ValueError(f"model: {name}(fit_intercept=True) penalizes its intercept as the "
                         "weight of a synthetic feature; pass fit_intercept=False and X with "
                         "that column (skhypergrad.squared_hinge.append_intercept_column).")
    return adapter.classifier


def _check_criterion(criterion):
    if isinstance(criterion, str):
        if criterion not in _CRITERIA:
            raise ValueError(f"criterion must be one of {tuple(_CRITERIA)} or a criterion "
                             f"object (HeldOut, CrossVal, SURE), got {criterion!r}.")
        return _CRITERIA[criterion]()
    if not isinstance(criterion, BaseCriterion):
        raise ValueError(f"criterion must be one of {tuple(_CRITERIA)} or a criterion object "
                         f"(HeldOut, CrossVal, SURE), got {type(criterion).__name__}.")
    return criterion


def _check_engine(method, tol, random_state):
    """The engine of ``method``, given ``tol`` / ``random_state`` when it takes them."""
    if not isinstance(method, str):
        try:
            return get_engine(method)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"method must be an engine name or instance: {exc}") from exc
    try:
        accepted = inspect.signature(type(get_engine(method))).parameters
    except ValueError as exc:
        raise ValueError(f"method: {exc}") from exc
    params = {"tol": tol, "random_state": random_state}
    return get_engine(method, **{k: v for k, v in params.items() if k in accepted})
