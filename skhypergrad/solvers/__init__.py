"""Inner solvers: each minimizes ``F + G_lam`` for a :class:`~skhypergrad.fixed_point.ProxGradMap`."""

from ._base import SolveResult
from ._gap import duality_gap
from .prox_grad import ProxGradient

__all__ = ["SolveResult", "duality_gap", "ProxGradient"]
