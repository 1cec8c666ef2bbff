r"""Linear models that tune their own regularization by hypergradient descent.

Each estimator minimizes a cross-validation (or held-out) loss over its
regularization hyperparameters :math:`\lambda` by gradient descent on
:math:`\log\lambda`, the gradient coming from implicit differentiation of the
inner solver's fixed point, then refits on all the data. The parametrization
is scikit-learn's: a fitted :class:`ElasticNetHyperGrad` hands ``alpha_`` and
``l1_ratio_`` to :class:`sklearn.linear_model.ElasticNet` and gets the same
coefficients.
"""

from ._least_squares import LassoHyperGrad, ElasticNetHyperGrad, WeightedLassoHyperGrad
from ._logistic import LogisticRegressionHyperGrad
from ._linear_svc import LinearSVCHyperGrad
from ._multitask import MultiTaskLassoHyperGrad, MultiTaskElasticNetHyperGrad
from ._glm import PoissonRegressorHyperGrad, GammaRegressorHyperGrad, TweedieRegressorHyperGrad
from ._ridge import RidgeHyperGrad, RidgeClassifierHyperGrad, WeightedRidgeHyperGrad
from ._huber import HuberRegressorHyperGrad

__all__ = ["LassoHyperGrad", "ElasticNetHyperGrad", "WeightedLassoHyperGrad",
           "LogisticRegressionHyperGrad", "LinearSVCHyperGrad", "MultiTaskLassoHyperGrad",
           "MultiTaskElasticNetHyperGrad", "PoissonRegressorHyperGrad",
           "GammaRegressorHyperGrad", "TweedieRegressorHyperGrad", "RidgeHyperGrad",
           "RidgeClassifierHyperGrad", "WeightedRidgeHyperGrad", "HuberRegressorHyperGrad"]
