r"""What :class:`~skhypergrad.HyperGradSearchCV` reads from the estimator it is given.

:func:`unwrap` splits a pipeline into its preprocessing and final step and finds the
final step's adapter: a :class:`~skhypergrad._kernel_search_cv.KernelAdapter` (the
kernel models' searches) or a :class:`~skhypergrad._linear_adapters.LinearAdapter`.
Two wrappers are declared: a :class:`~sklearn.pipeline.Pipeline` (its steps before
the last are the preprocessing) and a
:class:`~sklearn.compose.TransformedTargetRegressor` of a linear regressor (or of a
pipeline ending in one), whose target transformation the search applies on each fold
(:class:`~skhypergrad._target_transform.TargetTransform`). Any other estimator is
refused with the list of the supported ones.
:class:`SearchSpace` converts the searched ``lam`` to the final step's parameters
(``step__name`` in a pipeline) and the user's ``bounds`` to bounds on ``lam``;
:func:`search_model` is the final step's inner model.
"""

from dataclasses import replace
from typing import Any, NamedTuple

import numpy as np
import scipy.sparse as sp
from sklearn.compose import TransformedTargetRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from ._kernel_search_cv import _adapters as _kernel_adapters
from ._kernel_search_cv import dense_only, kernel_adapter
from ._linear_adapters import linear_adapter, supported_names
from ._target_transform import TargetTransform
from ._validation import check_one_output
from .squared_hinge import append_intercept_column

__all__ = ["SearchSpace", "Unwrapped", "unwrap", "search_model", "n_penalty_hyper",
           "searched_parameters"]


class SearchSpace(NamedTuple):
    """Which parameters of the final step are searched, and how they read as ``lam``.

    Attributes
    ----------
    prefix : str
        ``"step__"`` for a pipeline, ``""`` otherwise.
    parametrization : Parametrization
        The adapter's (:mod:`skhypergrad._linear_adapters`).
    n_penalty : int
        How many entries of ``lam`` are the penalty's (the datafit's follow).
    n_samples : float
        ``n`` of the full data (the sum of its weights): ``lam`` is the weight of the
        model refit on it.
    """

    prefix: str
    parametrization: Any
    n_penalty: int
    n_samples: float

    @property
    def names(self):
        """The searched parameters, without the prefix."""
        return self.parametrization.names(self.n_penalty)

    @property
    def sum_of_losses(self):
        """Whether the parameters weigh a sum of losses (each fold's ``lam`` is then
        scaled by ``n / n_train``, as GridSearchCV trains it)."""
        return self.parametrization.sum_of_losses

    def params(self, lam):
        """``{prefix + name: value}`` in scikit-learn's parametrization."""
        params = self.parametrization.params(lam, self.n_penalty, self.n_samples)
        return {self.prefix + name: v for name, v in params.items()}

    def lam_bounds(self, bounds):
        """User ``bounds`` on ``alpha`` (or ``C``) as bounds on each penalty weight."""
        return self.parametrization.lam_bounds(bounds, self.n_penalty, self.n_samples)


class Unwrapped(NamedTuple):
    """The final step of the user's estimator, what precedes it, and its adapter.

    Attributes
    ----------
    final : estimator
    preprocessing : Pipeline or None
        The steps before ``final`` (and, for liblinear's penalized intercept, its
        synthetic feature), fitted on each training fold.
    prefix : str
    linear : LinearAdapter or None
        The adapter of a linear model (None for a kernel model).
    kernel : KernelAdapter or None
    target : TargetTransform or None
        The target transformation of a ``TransformedTargetRegressor`` (None: the
        targets as given).
    """

    final: Any
    preprocessing: Any
    prefix: str
    linear: Any
    kernel: Any
    target: Any = None


def _supported():
    kernels = ", ".join(cls.__name__ for cls in _kernel_adapters())
    return f"{supported_names().replace(' or ', ', ')}, {kernels}"


def _refused(what):
    return ValueError(f"estimator must be one of scikit-learn's {_supported()} (or a "
                      "Pipeline ending with one; or a TransformedTargetRegressor of one of "
                      f"the linear regressors, or of such a Pipeline); got {what}.")


def unwrap(estimator):
    """:class:`Unwrapped` of a scikit-learn estimator, pipeline, or
    ``TransformedTargetRegressor`` of either (a linear regressor, its parameters
    prefixed by ``regressor__``); a ValueError naming the supported estimators for any
    other final step."""
    if isinstance(estimator, TransformedTargetRegressor):
        return _unwrap_target(estimator)
    final, preprocessing, prefix = estimator, None, ""
    if isinstance(estimator, Pipeline):
        name, final = estimator.steps[-1]
        preprocessing = estimator[:-1] if len(estimator.steps) > 1 else None
        prefix = name + "__"
    kernel = kernel_adapter(final)
    if kernel is not None:
        return Unwrapped(final, preprocessing, prefix, None, kernel)
    adapter = linear_adapter(final)
    if adapter is None:
        raise _refused(type(final).__name__)
    column = adapter.column(final)
    if column is not None:  # liblinear's intercept: the penalized weight of a feature
        step = FunctionTransformer(append_intercept_column, accept_sparse=True,
                                   kw_args={"intercept_scaling": column})
        steps = [] if preprocessing is None else list(preprocessing.steps)
        preprocessing = Pipeline(steps + [("intercept_column", step)])
    return Unwrapped(final, preprocessing, prefix, adapter, None)


def _unwrap_target(wrapper):
    """:class:`Unwrapped` of a ``TransformedTargetRegressor``: its regressor's, with the
    prefix ``regressor__`` and the
    :class:`~skhypergrad._target_transform.TargetTransform` of ``wrapper``."""
    regressor = wrapper.regressor
    if regressor is None or isinstance(regressor, TransformedTargetRegressor):
        name = "LinearRegression" if regressor is None else type(regressor).__name__
        raise _refused(f"a TransformedTargetRegressor of {name}")
    final = regressor[-1] if isinstance(regressor, Pipeline) else regressor
    try:
        inner = unwrap(regressor)
    except ValueError:
        inner = None
    if inner is None or inner.kernel is not None or inner.linear.classifier:
        raise _refused(f"a TransformedTargetRegressor of {type(final).__name__}") from None
    return inner._replace(prefix="regressor__" + inner.prefix,
                          target=TargetTransform(wrapper))


def search_model(adapter, final, y, n_samples=None):
    """The inner model of the final step, its class weights applied by the search (an L1
    model for an elastic net without L2 part, e.g. ``ElasticNet(l1_ratio=1)``);
    ``n_samples``: the ``n`` of a sum of losses (the sum of the sample weights). A
    ``y`` of several columns for a model of one output is unsupported (ValueError), as
    every reason the adapter gives."""
    try:
        if not adapter.multi_output:
            check_one_output(y)
        model = adapter.inner_model(final, y, n_samples, True)
    except ValueError as exc:
        raise ValueError(f"Unsupported estimator {type(final).__name__}: {exc}") from exc
    if model.penalty == "elasticnet" and model.lam[1] == 0:
        model = replace(model, penalty="l1", lam=model.lam[:1])
    return model


def n_penalty_hyper(model):
    """How many entries of the model's ``lam`` are its penalty's."""
    return np.asarray(model.lam).shape[0] - model.n_datafit_hyper


def searched_parameters(estimator, X, y):
    """``(names, needs)``: the parameters a search of ``estimator`` on ``X, y``
    differentiates in (``step__name`` in a pipeline), and ``{name: other}`` for a
    parameter searched only together with another: an elastic net's ``l1_ratio`` moves
    both weights, and is searched with ``alpha`` (``C``) only (``alpha`` alone is
    searched at a fixed ``l1_ratio``, see
    :class:`~skhypergrad.penalties.FixedRatioElasticNet`). ``y``: the targets (a
    classifier's classes). A ValueError for an estimator not searched, a kernel model
    given a sparse ``X`` included."""
    final, _, prefix, adapter, kernel, _ = unwrap(estimator)
    if kernel is not None:
        if sp.issparse(X):
            raise ValueError(dense_only(final, kernel))
        return tuple(prefix + n for n in kernel.names(kernel.spec(final))), {}
    model = search_model(adapter, final, y)
    k = n_penalty_hyper(model)
    names = tuple(prefix + n for n in adapter.parametrization.names(k))
    if not (adapter.parametrization.ratio and k == 2):
        return names, {}
    if model.get_penalty().at_fixed_ratio(model.lam) is not None:
        return names, {names[1]: names[0]}
    return names, {names[1]: names[0], names[0]: names[1]}


def tie_ratio(model, box, parametrization, prefix):
    """The model searched in its first parameter alone when ``box`` fixes ``l1_ratio``
    (a ``parametrization`` with a ratio): its penalty at that fixed ratio (with one
    weight, :class:`~skhypergrad.penalties.FixedRatioElasticNet`); ``model``
    otherwise."""
    names = [prefix + n for n in parametrization.names(n_penalty_hyper(model))]
    if not parametrization.ratio or len(names) != 2 or box[names[1]][0] != box[names[1]][1] or \
            box[names[0]][0] == box[names[0]][1]:
        return model
    penalty, lam = model.get_penalty().at_fixed_ratio(model.lam)
    return replace(model, penalty=penalty, lam=lam)
