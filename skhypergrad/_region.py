r"""The feasible region of a search of ``lam``: where its points may be.

A region declares the bounding box of ``lam`` (``lower``, ``upper``: the scan's scales
and the bounds of the optimizers) and the projection onto the region of a point
outside it, on :math:`\theta = \log\lambda` (``project``) and on ``lam`` (``clip``):

- :class:`Box`: the box itself, every entry clipped to its bounds;
- :class:`RatioRegion`: an elastic net's box in its parameter and ``l1_ratio``
  (``param_grid`` naming both, :mod:`skhypergrad._param_grid`) as a set of penalty
  weights :math:`\lambda_1 = t\rho`, :math:`\lambda_2 = t(1-\rho)`: the total
  :math:`t = \lambda_1 + \lambda_2` (``alpha``, or :math:`1/(Cn)`) and the ratio
  :math:`\rho = \lambda_1 / t` (``l1_ratio``) each within its range. A point is
  projected by clipping its :math:`t` and :math:`\rho`, then its entries to the box (the
  datafit's hyperparameters; at ``l1_ratio = 1`` the L2 weight's lower bound, the
  search's default, as its logarithm needs a weight above 0).

:func:`as_region` reads bounds given as ``(lower, upper)`` as a :class:`Box`.
"""

from typing import NamedTuple

import numpy as np

__all__ = ["Box", "RatioRegion", "as_region", "ratio_region"]

#: The ranges of a :class:`RatioRegion` are shrunk inward by this relative margin, so
#: that a projected point read back as the estimator's parameters (through ``exp`` of its
#: logarithm, and the quotient :math:`\lambda_1 / t`) never leaves the user's ranges by
#: a rounding error.
_MARGIN = 1e-12


class Box(NamedTuple):
    """``lower <= lam <= upper`` (entries > 0)."""

    lower: np.ndarray
    upper: np.ndarray

    def clip(self, lam):
        """``lam`` (one point, or one per row) clipped to the box."""
        return np.clip(lam, self.lower, self.upper)

    def project(self, log_lam):
        """``log(lam)`` clipped to the box's logarithms."""
        return np.clip(log_lam, np.log(self.lower), np.log(self.upper))

    def move(self, log_lam, j, step):
        """``log_lam`` with its entry ``j`` moved by ``step``, clipped to its bounds."""
        out = np.array(log_lam, dtype=np.float64)
        out[j] = np.clip(out[j] + step, np.log(self.lower)[j], np.log(self.upper)[j])
        return out


class RatioRegion(NamedTuple):
    r"""The points of the box ``[lower, upper]`` whose first two entries have a total
    :math:`t = \lambda_1 + \lambda_2` in ``total`` and a ratio
    :math:`\rho = \lambda_1 / t` in ``ratio`` (each ``(low, high)``)."""

    lower: np.ndarray
    upper: np.ndarray
    total: tuple
    ratio: tuple

    def clip(self, lam):
        """``lam`` (one point, or one per row) projected onto the region: its total and
        ratio clipped to their ranges (the ratio also to :math:`1 - l_2 / t`, ``l_2`` the
        L2 weight's lower bound), then its entries to the box (a rounding error)."""
        lam = np.array(lam, dtype=np.float64)
        t = np.clip(lam[..., 0] + lam[..., 1], *self.total)
        # at an l1_ratio range reaching 1, the L2 weight stays at its lower bound
        rho = np.clip(lam[..., 0] / (lam[..., 0] + lam[..., 1]), self.ratio[0],
                      np.minimum(self.ratio[1], 1.0 - self.lower[1] / t))
        lam[..., 0], lam[..., 1] = t * rho, t * (1.0 - rho)
        return np.clip(lam, self.lower, self.upper)

    def project(self, log_lam):
        """``log(lam)`` projected onto the region (:meth:`clip`)."""
        return np.log(self.clip(np.exp(log_lam)))

    def move(self, log_lam, j, step):
        """``log_lam`` with its entry ``j`` moved by ``step``, projected onto the region."""
        out = np.array(log_lam, dtype=np.float64)
        out[j] += step
        return self.project(out)


def as_region(bounds):
    """``bounds`` as a region: a :class:`Box` or :class:`RatioRegion` as it is, a pair
    ``(lower, upper)`` as a :class:`Box`; None for None."""
    if bounds is None or isinstance(bounds, (Box, RatioRegion)):
        return bounds
    lower, upper = bounds
    return Box(np.asarray(lower, dtype=np.float64), np.asarray(upper, dtype=np.float64))


def ratio_region(corners):
    r"""The :class:`RatioRegion` of the box of an elastic net's two parameters whose
    ``corners`` (one ``lam`` a row) are given: :math:`t` and :math:`\rho` within their
    ranges over the corners (each moves with one parameter), shrunk inward by a relative
    :data:`_MARGIN`; the bounding box of the corners."""
    corners = np.asarray(corners, dtype=np.float64)
    t = corners[:, 0] + corners[:, 1]
    rho = corners[:, 0] / t
    return RatioRegion(corners.min(axis=0), corners.max(axis=0),
                       (t.min() * (1 + _MARGIN), t.max() * (1 - _MARGIN)),
                       (rho.min() * (1 + _MARGIN), rho.max() * (1 - _MARGIN)))
