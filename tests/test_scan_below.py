"""The points below a scan's paths are evaluated only while the criterion still falls.

Protects ``scan_below`` of :func:`skhypergrad._tune.tune` and
:meth:`skhypergrad._search_space.SearchScales.scan_below`: on data whose columns have
different spreads, each L1 path of the starting scan can go on below its usual last
point (down to ``sqrt(kappa_min / kappa)`` times it), where one column in other units
leaves the criterion flat; a path whose criterion already rises at its last point stops
there (one evaluation of a multinomial model on ``load_digits`` spared), one whose
criterion still falls goes on and is left past its minimum as any other path.
"""

import warnings
from typing import NamedTuple

import numpy as np
import pytest
from sklearn.datasets import load_diabetes
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LassoCV
from sklearn.model_selection import KFold

from skhypergrad import LassoHyperGrad, _path_scan
from skhypergrad._search_space import LEAST_SQUARES, LOG_LOSS, search_scales
from skhypergrad.models import InnerModel


class _Result(NamedTuple):
    value: float
    values: np.ndarray
    state: object
    n_iter: int


class _Curve:
    """A criterion of one hyperparameter whose value at ``lam`` is ``loss(log10 lam)``."""

    def __init__(self, loss):
        self.loss, self.seen = loss, []

    def value(self, model, X, y, lam, *, solver, state=None):
        t = float(np.log10(lam[0]))
        self.seen.append(t)
        return _Result(self.loss(t), np.array([self.loss(t)]), None, 0)

    def value_path(self, model, X, y, path, *, solver, state=None, near, patience):
        return None  # the points one by one


def _scan(curve):
    """The scan of a path from 10 to 1e-3, half a decade a point, continued to 1e-6."""
    path = 10.0 ** np.arange(1.0, -3.01, -0.5)[:, None]
    below = 10.0 ** np.arange(-3.5, -6.01, -0.5)[:, None]
    return _path_scan._scan(None, None, None, curve, [path], None, 1e-4, [None], 0.0, None,
                            patience=1.0, below=[below])


def test_a_path_rising_at_its_end_is_not_continued():
    # smallest at 10**-2.5, the path's last point 10**-3 above it: the scan ends there
    curve = _Curve(lambda t: (t + 2.4) ** 2)
    lam, scan, stop, around, _ = _scan(curve)
    assert not stop and lam[0] == pytest.approx(10 ** -2.5)
    assert min(curve.seen) == pytest.approx(-3.0)
    assert [np.exp(t) for t, _ in around] == pytest.approx([1e-2, 1e-3])


def test_a_path_still_falling_at_its_end_goes_on_below_it():
    # smallest at 10**-5: followed below the path, left a decade (two points) past it
    curve = _Curve(lambda t: (t + 5.1) ** 2)
    lam, scan, stop, around, _ = _scan(curve)
    assert lam[0] == pytest.approx(1e-5)
    assert min(curve.seen) == pytest.approx(-6.0)
    assert len(scan) == len(curve.seen) == 15
    # smallest at the path's last point: the neighbours are read across its continuation
    curve = _Curve(lambda t: (t + 3.0) ** 2)
    lam, scan, stop, around, _ = _scan(curve)
    assert lam[0] == pytest.approx(1e-3)
    assert min(curve.seen) == pytest.approx(-4.0)
    assert [np.exp(t) for t, _ in around] == pytest.approx([10 ** -2.5, 10 ** -3.5])


def test_scan_below_continues_each_path_to_the_columns_spread():
    """With columns of one spread there are no points below; with one column times 1e6
    (``kappa_min / kappa = 10^1.5 / (10^12 / 8)`` on eight standardized columns) each
    path of the Lasso's and the elastic net's scan goes on at its own step, from its
    last point down to that point times ``sqrt(kappa_min / kappa)``, at the path's L2
    weight."""
    X, y = load_diabetes(return_X_y=True)
    X, y = X[:150, :8] / X[:150, :8].std(axis=0), y[:150]
    for penalty in ("l1", "elasticnet"):
        model = InnerModel("quadratic", penalty, True)
        assert search_scales(model.make_map(X, model.encode(y))).scan_below(
            LEAST_SQUARES) is None
    X[:, 0] *= 1e6
    for penalty, defaults in (("l1", LEAST_SQUARES), ("elasticnet", LEAST_SQUARES),
                              ("l1", LOG_LOSS)):
        model = InnerModel("quadratic", penalty, True)
        scales = search_scales(model.make_map(X, model.encode(y)))
        ratio = np.sqrt(scales.l2_low / scales.l2)
        # the geometric mean of the columns' variances over their mean
        assert ratio == pytest.approx(np.sqrt(10 ** 1.5 / ((1e12 + 7) / 8)), rel=1e-6)
        paths, below = scales.scan(defaults), scales.scan_below(defaults)
        assert len(below) == len(paths)
        step = defaults.scan_l1[-1] / defaults.scan_l1[-2]
        for path, tail in zip(paths, below):
            np.testing.assert_allclose(path[:, 0], scales.l1 * defaults.scan_l1,
                                       rtol=1e-12)
            whole = np.concatenate([path, tail])
            np.testing.assert_allclose(whole[1:, 0] / whole[:-1, 0], step, rtol=1e-12)
            # the last point within one step below the path's last one times the ratio
            assert path[-1, 0] * ratio * step < tail[-1, 0] <= path[-1, 0] * ratio
            if whole.shape[1] > 1:
                np.testing.assert_array_equal(whole[:, 1], path[0, 1])


def test_a_plateau_with_bumps_is_followed_to_the_points_below():
    """Flat to 1e-7 with bumps from 10 to 1e-3 (one column in other units fitted alone),
    falling below 1e-4: the bumps are a plateau's (within ``SCAN_FLAT``), not a
    minimum's side, so the path goes on and the scan finds the minimum at 1e-5 (on the
    old rule the path was left on the first bump, near 10)."""
    def loss(t):
        bump = 1e-7 * np.cos(7.0 * t)
        return 1.0 + bump if t > -3.75 else 1.0 - 0.1 * (1 - ((t + 5.0) / 1.25) ** 2)
    curve = _Curve(loss)
    lam, scan, stop, around, _ = _scan(curve)
    assert not stop and lam[0] == pytest.approx(1e-5)
    assert min(curve.seen) == pytest.approx(-6.0)


@pytest.mark.parametrize("seed", [0, 3])
def test_lasso_with_a_column_in_other_units_reaches_the_grids_minimum(seed):
    """``load_diabetes`` with its first column times 1e6: the criterion is flat (to 1e-7,
    with bumps) over the decades where that column alone is fitted; LassoHyperGrad's
    3-fold MSE is within 0.2% of a 300-point LassoCV grid on the same folds
    (it stopped on the plateau at 5730, 1.9x the grid's 2991 and 3038, in 6 of 8 fold
    settings)."""
    X, y = load_diabetes(return_X_y=True)
    X[:, 0] *= 1e6
    cv = KFold(3, shuffle=True, random_state=seed)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always", ConvergenceWarning)
        est = LassoHyperGrad(cv=cv).fit(X, y)
    # the adjoint systems are well posed once scaled (condition 5e2 against 1e14): none
    # is reported as singular (6 to 23 of them were, with residuals of 1e-6 to 7e-5)
    assert not [w for w in seen if "adjoint" in str(w.message)]
    grid = LassoCV(alphas=np.logspace(-6, 3, 300), cv=cv, tol=1e-10, max_iter=100_000)
    best = grid.fit(X, y).mse_path_.mean(axis=1).min()
    assert est.best_loss_ <= 1.002 * best
