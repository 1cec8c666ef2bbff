"""skhypergrad: gradient-based hyperparameter tuning for scikit-learn linear models."""

__version__ = "0.1.0.dev0"

from ._api import hypergradient
from .data_gradient import TrainingDataMap, data_gradient
from .poisoning import PoisoningResult, poison
from .criteria import SURE, CriterionResult, CrossVal, HeldOut, InnerState
from .datafits import BaseDatafit, Logistic, Multinomial, Quadratic, register_datafit
from .huber import Huber
from .fixed_point import FixedPointMap, ProxGradMap
from .glm import Gamma, Poisson, Tweedie
from .hypergrad import ITD, NSID, AIDConjugateGradient, AIDFixedPoint
from .linear_model import (ElasticNetHyperGrad, GammaRegressorHyperGrad,
                           HuberRegressorHyperGrad, LassoHyperGrad, LinearSVCHyperGrad,
                           LogisticRegressionHyperGrad, MultiTaskElasticNetHyperGrad,
                           MultiTaskLassoHyperGrad, PoissonRegressorHyperGrad,
                           RidgeClassifierHyperGrad, RidgeHyperGrad, TweedieRegressorHyperGrad,
                           WeightedLassoHyperGrad, WeightedRidgeHyperGrad)
from .kernel_ridge import KernelRidgeHyperGrad
from .svc import SVCHyperGrad
from .svr import SVRHyperGrad
from .model_selection import HyperGradSearchCV
from .models import InnerModel
from .group_penalties import GroupElasticNet, GroupL21
from .multitask import MultiTaskQuadratic
from .penalties import L1, L2, ElasticNetPenalty, FixedRatioElasticNet, WeightedL1, WeightedL2
from .ridge_classifier import (SquaredClassifier, SquaredClassifierOvR, squared_class_error,
                               squared_class_error_scorer)
from .squared_hinge import (SquaredHinge, SquaredHingeOvR, squared_hinge_loss,
                            squared_hinge_scorer)
from .solvers import CoordinateDescent, ProxGradient, SolveResult, StochasticProxGradient

__all__ = [
    # estimators
    "LassoHyperGrad", "ElasticNetHyperGrad", "WeightedLassoHyperGrad",
    "LogisticRegressionHyperGrad", "LinearSVCHyperGrad", "MultiTaskLassoHyperGrad",
    "MultiTaskElasticNetHyperGrad", "PoissonRegressorHyperGrad", "GammaRegressorHyperGrad",
    "TweedieRegressorHyperGrad", "RidgeHyperGrad", "RidgeClassifierHyperGrad",
    "WeightedRidgeHyperGrad",
    "HuberRegressorHyperGrad", "KernelRidgeHyperGrad", "SVCHyperGrad", "SVRHyperGrad",
    "HyperGradSearchCV",
    # functional entry point and criteria
    "hypergradient", "InnerModel", "HeldOut", "CrossVal", "SURE", "CriterionResult",
    "InnerState",
    # engines
    "ITD", "AIDFixedPoint", "AIDConjugateGradient", "NSID",
    # problems
    "Quadratic", "Logistic", "Multinomial", "SquaredHinge", "SquaredHingeOvR",
    "squared_hinge_loss", "squared_hinge_scorer", "SquaredClassifier", "SquaredClassifierOvR",
    "squared_class_error", "squared_class_error_scorer", "MultiTaskQuadratic", "Poisson", "Gamma",
    "Tweedie", "Huber", "BaseDatafit", "register_datafit",
    "L1", "ElasticNetPenalty", "FixedRatioElasticNet", "WeightedL1", "L2", "WeightedL2",
    "GroupL21", "GroupElasticNet",
    "FixedPointMap", "ProxGradMap",
    # inner solvers
    "CoordinateDescent", "ProxGradient", "StochasticProxGradient", "SolveResult",
    # outer variables that are not hyperparameters
    "data_gradient", "TrainingDataMap", "poison", "PoisoningResult",
    "__version__",
]


def __getattr__(name):
    """The penalties renamed in :mod:`skhypergrad.penalties`, under their old names (with
    a FutureWarning naming the new one)."""
    from .penalties import _renamed

    return _renamed(__name__, name)
