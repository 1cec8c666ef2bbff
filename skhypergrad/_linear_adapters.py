r"""The scikit-learn linear models skhypergrad tunes, one declared adapter per class.

A :class:`LinearAdapter` states everything the library reads from, and writes back
to, one scikit-learn estimator class:

- ``inner_model``: the conversion of the estimator's parameters to an
  :class:`~skhypergrad.models.InnerModel` (the datafit and penalty it maps to, and
  ``lam``; a clear ValueError for parameters it cannot differentiate);
- ``parametrization``: the names of the parameters a search writes back and their
  conversion from ``lam`` (:class:`Parametrization`);
- ``loss``: the held-out loss the search descends by default, which names its
  default scorer (a key of :data:`skhypergrad._scoring.SURROGATES`);
- ``defaults``: where the search looks (:mod:`skhypergrad._search_space`);
- ``classifier``, ``multi_output``: how the targets are read;
- ``intercept_column``: liblinear's penalized intercept, the weight of a synthetic
  feature of that value (None for an unpenalized intercept);
- ``params``, ``optional``: the names of the estimator's parameters the conversions
  read, as declared data (:class:`EstimatorParams`): those every supported
  scikit-learn version has, and those some versions lack, with the value their
  absence stands for (e.g. ``LinearSVC``'s ``multi_class``, ``"ovr"``). The conversions
  read nothing else: the parameters come from ``get_params()``, not from probing the
  estimator's attributes.

:data:`ADAPTERS` maps each supported class to its adapter; :func:`linear_adapter` finds
the adapter of an estimator by its class (the first of its classes, in method
resolution order, that the table has: a subclass of ``Lasso`` is a ``Lasso``).
Supporting another scikit-learn estimator is one entry here.
"""

from typing import Any, Callable, NamedTuple

import numpy as np
from sklearn.linear_model import (ElasticNet, GammaRegressor, HuberRegressor, Lasso,
                                  LogisticRegression, MultiTaskElasticNet, MultiTaskLasso,
                                  PoissonRegressor, Ridge, RidgeClassifier, TweedieRegressor)
from sklearn.preprocessing import LabelEncoder
from sklearn.svm import LinearSVC

from ._search_space import (GLM, L1_LEAST_SQUARES, LEAST_SQUARES, LOG_LOSS,
                            SQUARED_HINGE, SearchDefaults)
from ._validation import check_bounds
from .glm import Tweedie
from .group_penalties import GroupElasticNet, GroupL21
from .huber import Huber
from .models import InnerModel
from .multitask import MultiTaskQuadratic
from .penalties import (enet_lam_from_sklearn, enet_sklearn_from_lam, huber_lam_from_sklearn,
                        huber_sklearn_from_lam, logistic_lam_from_sklearn,
                        logistic_sklearn_from_lam, logistic_weight_from_C,
                        svc_lam_from_sklearn)

__all__ = ["LinearAdapter", "EstimatorParams", "Parametrization", "ADAPTERS", "linear_adapter",
           "decision_of", "supported_names", "ALPHA", "C", "RIDGE_ALPHA", "HUBER"]


# -- lam -> the estimator's parameters ------------------------------------------------------
class Parametrization(NamedTuple):
    r"""How ``lam`` reads as an estimator's parameters, ``n`` the number of samples (the
    sum of the sample weights) of the data the estimator is fitted on.

    Attributes
    ----------
    names : tuple of str
        The parameters of a penalty with one weight, then the name of the second one
        (``"l1_ratio"``) for an elastic net, then the datafit's hyperparameters'.
    values : callable
        ``(lam, n) -> tuple of float``, in the order of ``names``.
    weight_bounds : callable
        ``(low, high, n) -> (low, high)``: bounds on the estimator's first parameter
        (``alpha`` or ``C``) as bounds on each penalty weight.
    sum_of_losses : bool
        Whether the parameter weighs a *sum* of losses (``C``, ``Ridge``'s and
        ``HuberRegressor``'s ``alpha``): a fold of :math:`n_k` training rows is then
        trained at ``lam`` times :math:`n / n_k`, as ``GridSearchCV`` trains it.
    ratio : bool, default=False
        Whether a penalty with two weights reads as the first parameter and
        ``l1_ratio``: each weight then depends on both, which are searched together.
    """

    names: Callable
    values: Callable
    weight_bounds: Callable
    sum_of_losses: bool
    ratio: bool = False

    def params(self, lam, n_penalty, n_samples):
        """``{name: value}`` of ``lam`` whose first ``n_penalty`` entries are the penalty's."""
        names = self.names(n_penalty)
        return dict(zip(names, (float(v) for v in self.values(lam, n_samples))))

    def lam_bounds(self, bounds, n_penalty, n_samples):
        """User ``bounds`` on the first parameter as bounds on each of the ``n_penalty``
        penalty weights."""
        lo, hi = self.weight_bounds(*check_bounds(bounds, "bounds"), n_samples)
        return np.full(n_penalty, lo), np.full(n_penalty, hi)


def _with_ratio(first):
    return lambda k: (first, "l1_ratio") if k == 2 else (first,)


#: ``alpha`` of a mean of losses (``Lasso``, ``ElasticNet``, multi-task, GLMs):
#: :math:`\lambda = [\alpha\rho, \alpha(1-\rho)]`
ALPHA = Parametrization(_with_ratio("alpha"), lambda lam, n: enet_sklearn_from_lam(lam),
                        lambda lo, hi, n: (lo, hi), False, ratio=True)
#: ``C`` of a sum of losses (``LogisticRegression``, ``LinearSVC``):
#: :math:`\lambda = [\rho, 1-\rho] / (Cn)`
C = Parametrization(_with_ratio("C"), logistic_sklearn_from_lam,
                    lambda lo, hi, n: (logistic_weight_from_C(hi, n),
                                       logistic_weight_from_C(lo, n)), True, ratio=True)
#: ``Ridge``'s ``alpha`` of a sum of squares: :math:`\lambda_2 = \alpha / n`
RIDGE_ALPHA = Parametrization(lambda k: ("alpha",), lambda lam, n: (lam[0] * n,),
                              lambda lo, hi, n: (lo / n, hi / n), True)
#: ``HuberRegressor``'s ``alpha`` of a sum of losses and ``epsilon`` of the datafit:
#: :math:`\lambda = [2\alpha/n, \epsilon]`
HUBER = Parametrization(lambda k: ("alpha", "epsilon"),
                        lambda lam, n: (huber_sklearn_from_lam(lam[:1], "l2", n)[0], lam[1]),
                        lambda lo, hi, n: (2.0 * lo / n, 2.0 * hi / n), True)


class EstimatorParams:
    """The parameters an adapter declares, read from an estimator's ``get_params()``.

    Attribute access gives a declared parameter's value: the estimator's, or, for an
    ``optional`` one the estimator's class lacks (another scikit-learn version), the
    value its absence stands for. An undeclared name raises ``AttributeError``.

    Parameters
    ----------
    estimator : estimator instance
    params : tuple of str
        Names every supported version has: ValueError when the estimator lacks one.
    optional : dict, default=None
        ``{name: value when absent}``.
    """

    def __init__(self, estimator, params, optional=None):
        values = estimator.get_params(deep=False)
        self.estimator_name = type(estimator).__name__
        missing = [name for name in params if name not in values]
        if missing:
            raise ValueError(f"{self.estimator_name} has no parameter(s) {missing}: is "
                             "this scikit-learn version supported?")
        read = {name: values[name] for name in params}
        read.update({name: values.get(name, absent)
                     for name, absent in (optional or {}).items()})
        self._values = read

    def __getattr__(self, name):
        try:
            return self.__dict__["_values"][name]
        except KeyError:
            raise AttributeError(f"{name!r} is not a parameter the adapter of "
                                 f"{self.__dict__.get('estimator_name')} declares.") from None


class LinearAdapter(NamedTuple):
    """How skhypergrad reads and writes one scikit-learn linear estimator class (see the
    module docstring).

    Attributes
    ----------
    convert : callable
        ``(params, y, n_samples, class_weight_applied) -> InnerModel`` with ``lam``
        set (bound to the classes of ``y`` for a classifier), ``params`` the
        :class:`EstimatorParams` of the declared parameters; see :meth:`inner_model`.
    parametrization : Parametrization
    loss : str
        The default held-out loss (and scorer) of a search.
    defaults : SearchDefaults
    classifier : bool
    params : tuple of str
        The parameters ``convert`` (and ``intercept_column``) read, which every
        supported scikit-learn version has.
    optional : dict, default=None
        Parameters read that some versions lack: ``{name: value when absent}``.
    multi_output : bool, default=False
    intercept_column : callable, default=None
        ``params -> float or None``: the value of liblinear's synthetic intercept
        feature when the estimator fits one.
    row_tol : callable, default=None
        ``params -> float or None``: the estimator's own stopping rule as a bound on the
        largest entry of its objective's gradient (the GLMs' and ``LogisticRegression``'s
        ``tol``, where their default ``lbfgs`` stops), to which a search solves its
        value-only rows (see :class:`~skhypergrad.model_selection.HyperGradSearchCV`);
        None (or a None it returns: a solver of the estimator with another rule): every
        row to the search's own accuracy.
    decision : str, default=None
        What the estimator's ``predict`` returns of its decision values
        :math:`X w + b` (one output): ``"values"`` (themselves), ``"classes"`` (the
        classes they pick), None (neither: an inverse link, several outputs); see
        :mod:`skhypergrad._decision_scores`.
    """

    convert: Callable
    parametrization: Parametrization
    loss: str
    defaults: SearchDefaults
    classifier: bool
    params: tuple
    optional: dict = None
    multi_output: bool = False
    intercept_column: Callable = None
    row_tol: Callable = None
    decision: Any = None

    def read(self, estimator):
        """The declared parameters of ``estimator`` (:class:`EstimatorParams`)."""
        return EstimatorParams(estimator, self.params, self.optional)

    def inner_model(self, estimator, y, n_samples=None, class_weight_applied=False):
        """The :class:`~skhypergrad.models.InnerModel` of ``estimator`` (``convert`` on its
        declared parameters); see :func:`~skhypergrad.models.from_estimator`."""
        return self.convert(self.read(estimator), y, n_samples, class_weight_applied)

    def column(self, estimator):
        """The synthetic intercept feature's value of ``estimator`` (None: none)."""
        if self.intercept_column is None:
            return None
        return self.intercept_column(self.read(estimator))


# -- estimator -> InnerModel ----------------------------------------------------------------
def _n(y, n_samples):
    return len(y) if n_samples is None else n_samples


def _positive_alpha(params):
    alpha = float(params.alpha)
    if not alpha > 0:
        raise ValueError(f"{params.estimator_name} needs alpha > 0, got "
                         f"alpha={params.alpha!r}.")
    return alpha


def _l1_ratio(params):
    rho = float(params.l1_ratio)
    if not 0 < rho <= 1:
        raise ValueError(f"{params.estimator_name} needs 0 < l1_ratio <= 1 (an L1 part), "
                         f"got l1_ratio={params.l1_ratio!r}.")
    return rho


def _no_class_weight(params, applied):
    if params.class_weight is not None and not applied:
        raise ValueError(f"{params.estimator_name}(class_weight=...) is not supported "
                         "here: weigh the samples by class instead.")


def _lasso(params, y, n_samples=None, class_weight_applied=False):
    return InnerModel("quadratic", "l1", bool(params.fit_intercept),
                      lam=np.array([_positive_alpha(params)]),
                      positive=bool(params.positive))


def _enet(params, y, n_samples=None, class_weight_applied=False):
    alpha = _positive_alpha(params)
    return InnerModel("quadratic", "elasticnet", bool(params.fit_intercept),
                      lam=enet_lam_from_sklearn(alpha, _l1_ratio(params)),
                      positive=bool(params.positive))


def _multitask(lasso):
    r"""The inner model of ``MultiTaskLasso`` (``lasso``) or ``MultiTaskElasticNet``:
    multi-output least squares with the block penalty
    (:class:`~skhypergrad.group_penalties.GroupL21`, or
    :class:`~skhypergrad.group_penalties.GroupElasticNet` when ``l1_ratio < 1``)."""
    def inner_model(params, y, n_samples=None, class_weight_applied=False):
        name = params.estimator_name
        y = np.asarray(y)
        if y.ndim != 2:
            raise ValueError(f"{name} needs 2d targets (n_samples, n_tasks), got {y.shape}.")
        alpha = _positive_alpha(params)
        rho = 1.0 if lasso else _l1_ratio(params)
        datafit = MultiTaskQuadratic(y.shape[1])
        if rho == 1.0:
            return InnerModel(datafit, GroupL21(), bool(params.fit_intercept),
                              lam=np.array([alpha]))
        return InnerModel(datafit, GroupElasticNet(), bool(params.fit_intercept),
                          lam=enet_lam_from_sklearn(alpha, rho))
    return inner_model


def _logistic_l1_ratio(params):
    """``l1_ratio`` in [0, 1] of a LogisticRegression, from either parametrization (0: the
    L2 penalty)."""
    penalty, l1_ratio = params.penalty, params.l1_ratio
    if penalty == "deprecated":        # scikit-learn >= 1.8: l1_ratio carries the penalty
        rho = 0.0 if l1_ratio is None else float(l1_ratio)
    elif penalty in ("l1", "l2"):
        rho = 1.0 if penalty == "l1" else 0.0
    elif penalty == "elasticnet":
        if l1_ratio is None:
            raise ValueError("LogisticRegression(penalty='elasticnet') needs l1_ratio.")
        rho = float(l1_ratio)
    else:
        raise ValueError(f"LogisticRegression(penalty={penalty!r}) has no penalty to tune; "
                         "hyperparameter gradients need penalty='l1', 'l2' or 'elasticnet' "
                         "(scikit-learn >= 1.8: 0 <= l1_ratio <= 1).")
    if not 0 <= rho <= 1:
        raise ValueError(f"LogisticRegression needs 0 <= l1_ratio <= 1, got "
                         f"l1_ratio={l1_ratio!r}.")
    return rho


def _logistic(params, y, n_samples=None, class_weight_applied=False):
    """The binary logistic datafit for two classes, the multinomial one for more; the
    penalty "l2" (``l1_ratio = 0``), "l1" (1) or "elasticnet"."""
    rho = _logistic_l1_ratio(params)
    C_ = float(params.C)
    if not 0 < C_ < np.inf:
        raise ValueError(f"LogisticRegression needs a finite C > 0, got C={params.C!r}.")
    _no_class_weight(params, class_weight_applied)
    lam = logistic_lam_from_sklearn(C_, rho, _n(y, n_samples))
    n_classes = len(LabelEncoder().fit(np.asarray(y)).classes_)
    datafit = "logistic" if n_classes == 2 else "multinomial"
    penalty, lam = {0.0: ("l2", lam[1:]), 1.0: ("l1", lam[:1])}.get(rho, ("elasticnet", lam))
    return InnerModel(datafit, penalty, bool(params.fit_intercept), lam=lam).bind(y)


def _linear_svc(params, y, n_samples=None, class_weight_applied=False):
    """The squared hinge, one-vs-rest, without an unpenalized intercept (liblinear's is
    the weight of a synthetic feature, :data:`LinearAdapter.intercept_column`)."""
    if params.loss != "squared_hinge":
        raise ValueError(f"LinearSVC(loss={params.loss!r}) is not differentiable; "
                         "hyperparameter gradients need loss='squared_hinge'.")
    if params.multi_class != "ovr":
        raise ValueError(f"LinearSVC(multi_class={params.multi_class!r}) is not "
                         "supported; use multi_class='ovr'.")
    _no_class_weight(params, class_weight_applied)
    C_ = float(params.C)
    if not 0 < C_ < np.inf:
        raise ValueError(f"LinearSVC needs a finite C > 0, got C={params.C!r}.")
    return InnerModel("squared_hinge", params.penalty, False,
                      lam=svc_lam_from_sklearn(C_, _n(y, n_samples))).bind(y)


def _liblinear_column(params):
    return float(params.intercept_scaling) if params.fit_intercept else None


def _ridge(params, y, n_samples=None, class_weight_applied=False, classifier=False):
    r"""Least squares with the :class:`~skhypergrad.penalties.L2` penalty at
    :math:`\lambda_2 = \alpha / n`; for ``RidgeClassifier``, on the targets
    :math:`\pm 1` (:mod:`skhypergrad.ridge_classifier`)."""
    name = params.estimator_name
    alpha = np.asarray(params.alpha, dtype=np.float64)
    if alpha.ndim != 0 or not 0 < float(alpha) < np.inf:
        raise ValueError(f"{name} needs one finite alpha > 0 (an L2 penalty to tune), got "
                         f"alpha={params.alpha!r}.")
    if params.positive:
        other = "" if classifier else "ElasticNet(positive=True) or "
        raise ValueError(f"{name}(positive=True) is not supported (its L2 search has no sign "
                         f"constraint): use {other}GridSearchCV.")
    lam = np.array([float(alpha) / _n(y, n_samples)])
    if classifier:
        _no_class_weight(params, class_weight_applied)
        return InnerModel("squared_classifier", "l2", bool(params.fit_intercept),
                          lam=lam).bind(y)
    if np.ndim(y) != 1:
        raise ValueError(f"{name} with 2d targets is not supported.")
    return InnerModel("quadratic", "l2", bool(params.fit_intercept), lam=lam)


def _ridge_classifier(params, y, n_samples=None, class_weight_applied=False):
    return _ridge(params, y, n_samples, class_weight_applied, classifier=True)


def _glm(datafit_of):
    """The inner model of a log-link GLM regressor whose datafit is ``datafit_of(est)``:
    scikit-learn's mean half deviance plus :math:`\\frac{\\alpha}{2}\\|w\\|^2`."""
    def inner_model(params, y, n_samples=None, class_weight_applied=False):
        datafit = datafit_of(params)
        alpha = float(params.alpha)
        if not alpha > 0:
            raise ValueError(f"{params.estimator_name} needs alpha > 0 (an L2 penalty to "
                             f"tune), got alpha={params.alpha!r}.")
        return InnerModel(datafit, "l2", bool(params.fit_intercept), lam=np.array([alpha]))
    return inner_model


#: LogisticRegression's solvers that stop once the largest entry of the objective's
#: gradient is at most ``tol`` (newton-cholesky: and its Newton decrement below it)
_GRADIENT_RULE_SOLVERS = ("lbfgs", "newton-cg", "newton-cholesky")


def _logistic_tol(params):
    r"""``LogisticRegression``'s ``tol`` when its solver stops on the largest entry of the
    objective's gradient (the default ``lbfgs``'s ``gtol``, on the mean loss plus
    :math:`\|W\|^2 / (2 C n)`, the same objective), else None (``sag``, ``saga`` and
    ``liblinear`` stop on other measures)."""
    return float(params.tol) if params.solver in _GRADIENT_RULE_SOLVERS else None


def _glm_tol(params):
    """A GLM's ``tol``: its default ``lbfgs`` stops once the largest entry of the
    objective's gradient (coefficients and intercept) is at most ``tol`` (its
    ``newton-cholesky`` once its Newton decrement is below ``tol`` too)."""
    return float(params.tol)


def _tweedie_datafit(params):
    """The datafit of ``TweedieRegressor`` (1 <= power <= 2, the log link)."""
    power, link = float(params.power), params.link
    if link not in ("log", "auto") or (link == "auto" and power <= 0):
        raise ValueError(f"TweedieRegressor(link={link!r}, power={power!r}) is not "
                         "supported: only the log link (link='log', or 'auto' with "
                         "power > 0).")
    if power in (1.0, 2.0):
        return "poisson" if power == 1.0 else "gamma"
    if not 1.0 < power < 2.0:
        raise ValueError(f"TweedieRegressor(power={power!r}) is not supported: the log-link "
                         "deviance is convex for 1 <= power <= 2 only.")
    return Tweedie(power)


def _huber(params, y, n_samples=None, class_weight_applied=False):
    r"""The :class:`~skhypergrad.huber.Huber` datafit, ``epsilon`` its hyperparameter, at
    the scale 1 until :meth:`~skhypergrad.models.InnerModel.with_data_constants`
    estimates it; ``lam = [2 alpha / n, epsilon]``."""
    alpha, epsilon = float(params.alpha), float(params.epsilon)
    if not (alpha > 0 and epsilon >= 1):
        raise ValueError(f"HuberRegressor needs alpha > 0 and epsilon >= 1, got "
                         f"alpha={params.alpha!r}, epsilon={params.epsilon!r}.")
    lam = np.append(huber_lam_from_sklearn(alpha, 0.0, _n(y, n_samples)), epsilon)
    return InnerModel(Huber(epsilon), "l2", bool(params.fit_intercept), lam=lam)


#: parameters several conversions read
_ENET = ("alpha", "fit_intercept", "positive")
_GLM = ("alpha", "fit_intercept")

#: the supported scikit-learn linear estimators
ADAPTERS = {
    Lasso: LinearAdapter(_lasso, ALPHA, "squared", L1_LEAST_SQUARES, classifier=False,
                         params=_ENET, decision="values"),
    ElasticNet: LinearAdapter(_enet, ALPHA, "squared", L1_LEAST_SQUARES, classifier=False,
                              params=_ENET + ("l1_ratio",), decision="values"),
    MultiTaskLasso: LinearAdapter(_multitask(True), ALPHA, "squared", L1_LEAST_SQUARES,
                                  classifier=False, params=_GLM, multi_output=True),
    MultiTaskElasticNet: LinearAdapter(_multitask(False), ALPHA, "squared",
                                       L1_LEAST_SQUARES, classifier=False,
                                       params=_GLM + ("l1_ratio",), multi_output=True),
    Ridge: LinearAdapter(_ridge, RIDGE_ALPHA, "squared", LEAST_SQUARES, classifier=False,
                         params=_GLM + ("positive",), decision="values"),
    RidgeClassifier: LinearAdapter(_ridge_classifier, RIDGE_ALPHA, "squared_class_error",
                                   LEAST_SQUARES, classifier=True,
                                   params=_GLM + ("positive", "class_weight"),
                                   decision="classes"),
    # scikit-learn >= 1.8 deprecates penalty (l1_ratio alone carries it): once removed,
    # its absence reads as the new parametrization
    LogisticRegression: LinearAdapter(_logistic, C, "log", LOG_LOSS, classifier=True,
                                      params=("C", "l1_ratio", "fit_intercept",
                                              "class_weight", "tol", "solver"),
                                      optional={"penalty": "deprecated"},
                                      row_tol=_logistic_tol, decision="classes"),
    # multi_class is deprecated (one-vs-rest, "crammer_singer" going away)
    LinearSVC: LinearAdapter(_linear_svc, C, "squared_hinge", SQUARED_HINGE,
                             classifier=True,
                             params=("C", "loss", "penalty", "fit_intercept",
                                     "intercept_scaling", "class_weight"),
                             optional={"multi_class": "ovr"},
                             intercept_column=_liblinear_column, decision="classes"),
    PoissonRegressor: LinearAdapter(_glm(lambda params: "poisson"), ALPHA, "poisson", GLM,
                                    classifier=False, params=_GLM + ("tol",),
                                    row_tol=_glm_tol),
    GammaRegressor: LinearAdapter(_glm(lambda params: "gamma"), ALPHA, "gamma", GLM,
                                  classifier=False, params=_GLM + ("tol",), row_tol=_glm_tol),
    TweedieRegressor: LinearAdapter(_glm(_tweedie_datafit), ALPHA, "tweedie", GLM,
                                    classifier=False, params=_GLM + ("power", "link", "tol"),
                                    row_tol=_glm_tol),
    HuberRegressor: LinearAdapter(_huber, HUBER, "squared", LEAST_SQUARES, classifier=False,
                                  params=_GLM + ("epsilon",), decision="values"),
}


def decision_of(estimator):
    """:attr:`LinearAdapter.decision` of ``estimator``'s class, None for a class the
    table does not hold itself (a subclass may change ``predict`` or ``score``)."""
    adapter = ADAPTERS.get(type(estimator))
    return None if adapter is None else adapter.decision


def supported_names():
    """The names of the supported scikit-learn linear estimators, as a sentence's list."""
    names = [cls.__name__ for cls in ADAPTERS]
    return ", ".join(names[:-1]) + " or " + names[-1]


def linear_adapter(estimator):
    """The :class:`LinearAdapter` of ``estimator`` (the first of its classes in method
    resolution order that :data:`ADAPTERS` has), or None."""
    for cls in type(estimator).__mro__:
        if cls in ADAPTERS:
            return ADAPTERS[cls]
    return None
