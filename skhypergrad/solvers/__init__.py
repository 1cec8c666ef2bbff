"""Inner solvers: each minimizes ``F + G_lam`` for a :class:`~skhypergrad.fixed_point.ProxGradMap`.

===============================  ==============================================
:class:`CoordinateDescent`       proximal coordinate descent with working sets
                                 (least squares, binary and multinomial
                                 logistic, every datafit with a Newton model):
                                 the default
:class:`ProxGradient`            ISTA / FISTA with adaptive restart (every datafit)
:class:`StochasticProxGradient`  minibatch proximal SAGA or SGD (every datafit)
===============================  ==============================================
"""

from ._base import SolveResult
from ._gap import duality_gap
from .coordinate_descent import CoordinateDescent
from .prox_grad import ProxGradient
from .stochastic import StochasticProxGradient

__all__ = ["SolveResult", "duality_gap", "CoordinateDescent", "ProxGradient",
           "StochasticProxGradient"]
