"""skhypergrad: gradient-based hyperparameter tuning for scikit-learn linear models."""

__version__ = "0.1.0.dev0"

from .datafits import Logistic, Multinomial, Quadratic
from .fixed_point import FixedPointMap, ProxGradMap
from .penalties import L1, ElasticNet, WeightedL1
from .solvers import ProxGradient, SolveResult

__all__ = [
    "Quadratic", "Logistic", "Multinomial",
    "L1", "ElasticNet", "WeightedL1",
    "FixedPointMap", "ProxGradMap",
    "ProxGradient", "SolveResult",
    "__version__",
]
