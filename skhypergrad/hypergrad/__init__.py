r"""Hypergradient engines: compute :math:`\nabla_\lambda C(w^*(\lambda))` from a fixed-point map.

Every engine implements :class:`BaseEngine.hypergradient(pgmap, lam, w, outer_grad, state=None)
<skhypergrad.hypergrad._base.BaseEngine>` and returns a :class:`HypergradResult`.
The public API names them by strings:

==================  ===========================================  =======================
name                engine                                       sees
==================  ===========================================  =======================
``"itd"``           :class:`ITD` (``mode="forward"``)            any map
``"itd-reverse"``   :class:`ITD` (``mode="reverse"``)            any map
``"aid-fp"``        :class:`AIDFixedPoint`                       any map
``"aid-cg"``        :class:`AIDConjugateGradient`                proximal-gradient maps
                                                                 (GMRES for other maps)
``"nsid"``          :class:`NSID`                                proximal-gradient maps
                                                                 with minibatches
==================  ===========================================  =======================

An engine built from a name runs until it reaches its ``tol`` (the relative
residual of the adjoint system for AID, the relative steps of the iterates and
their Jacobian for ITD, a predicted relative error for NSID) or raises a
:class:`~sklearn.exceptions.ConvergenceWarning` stating the residual reached and
the contraction factor; the residual is :attr:`HypergradResult.residual`.
"""

from ._base import BaseEngine, HypergradResult
from ._contraction import contraction_factor
from .aid import AIDConjugateGradient, AIDFixedPoint
from .itd import ITD
from .nsid import NSID

__all__ = [
    "BaseEngine", "HypergradResult", "ITD", "AIDFixedPoint", "AIDConjugateGradient",
    "NSID", "ENGINES", "get_engine", "contraction_factor",
]

#: engine names accepted by :func:`get_engine`: (class, fixed keyword arguments)
_REGISTRY = {
    "itd": (ITD, {"mode": "forward"}),
    "itd-reverse": (ITD, {"mode": "reverse"}),
    "aid-fp": (AIDFixedPoint, {}),
    "aid-cg": (AIDConjugateGradient, {}),
    "nsid": (NSID, {}),
}

#: the engine names, in the order of the table above
ENGINES = tuple(_REGISTRY)


def get_engine(engine, **params):
    """An engine from its name, or the engine itself.

    Parameters
    ----------
    engine : str or BaseEngine
        One of :data:`ENGINES` (``"itd"``, ``"itd-reverse"``, ``"aid-fp"``,
        ``"aid-cg"``, ``"nsid"``), or an engine instance, returned as is.
    **params
        Settings of the engine built from a name (e.g. ``n_iter=200`` for
        ``"itd"``, ``tol=1e-8`` for ``"aid-fp"``); not allowed with an instance.

    Returns
    -------
    BaseEngine

    Examples
    --------
    >>> from skhypergrad.hypergrad import get_engine
    >>> get_engine("itd-reverse", n_iter=50).mode
    'reverse'
    """
    if isinstance(engine, BaseEngine):
        if params:
            raise TypeError("Settings can only be given with an engine name, not with an "
                            f"engine instance ({type(engine).__name__}).")
        return engine
    if not isinstance(engine, str) or engine not in _REGISTRY:
        raise ValueError(f"Unknown hypergradient engine {engine!r}; expected one of "
                         f"{', '.join(map(repr, ENGINES))} or a BaseEngine instance.")
    cls, fixed = _REGISTRY[engine]
    clash = set(fixed) & set(params)
    if clash:
        raise TypeError(f"Engine {engine!r} fixes {', '.join(sorted(clash))}.")
    return cls(**fixed, **params)
