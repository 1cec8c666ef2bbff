"""The search's hand-over from the scan to the descent: it starts from the warm starts of
the scan's best point, and its first step is the inverse curvature of the parabola
through the scan's best point and its neighbours."""

import numpy as np
import pytest
from sklearn.datasets import make_classification

from skhypergrad import LogisticRegressionHyperGrad
from skhypergrad._tune import _scan_step
from skhypergrad.optimizers import GradientDescent


def _scan(ts, values):
    return [{"lam": np.array([np.exp(t)]), "value": v} for t, v in zip(ts, values)]


def test_first_step_is_the_newton_step_of_the_parabola_through_the_scan():
    # E(t) = (t - 1.3)^2 at the scan's points 0, 1, 2: curvature 2, gradient -0.6 at 1
    scan = _scan([0.0, 1.0, 2.0], [1.69, 0.09, 0.49])
    opt = _scan_step(GradientDescent(), scan)
    theta, grad = np.array([1.0]), np.array([-0.6])
    np.testing.assert_allclose(opt.step, 0.5, rtol=1e-12)
    np.testing.assert_allclose(opt.propose(theta, grad, opt.init(theta, grad)), [1.3],
                               rtol=1e-12)
    # the move is still capped: a very flat parabola
    flat = _scan_step(GradientDescent(max_move=0.2), _scan([0.0, 1.0, 2.0], [1.0, 0.9, 0.9]))
    np.testing.assert_allclose(flat.propose(theta, grad, flat.init(theta, grad)), [1.2])


@pytest.mark.parametrize("scan, optimizer", [
    (_scan([0.0, 1.0, 2.0], [0.5, 0.4, 0.3]), GradientDescent()),  # best at the path's end
    (_scan([0.0, 1.0, 2.0], [0.5, 0.3, 0.4]), GradientDescent(step=0.1)),  # a step given
    ([{"lam": np.ones(2), "value": v} for v in (0.5, 0.3, 0.4)], GradientDescent()),
])
def test_scan_step_applies_only_inside_a_path_of_one_hyperparameter(scan, optimizer):
    assert _scan_step(optimizer, scan) is optimizer


def test_descent_starts_from_the_scans_best_solutions_with_the_scans_curvature():
    X, y = make_classification(150, 8, n_informative=3, n_classes=3, n_clusters_per_class=1,
                               flip_y=0.1, random_state=0)
    est = LogisticRegressionHyperGrad(cv=3).fit(X, y)
    h = est.history_
    n_scan = sum(entry["grad"] is None for entry in h)
    scan, start, first = h[:n_scan], h[n_scan], h[n_scan + 1]
    i = int(np.argmin([entry["value"] for entry in scan]))
    assert 0 < i < n_scan - 1  # inside the path: the quadratic applies
    np.testing.assert_allclose(start["lam"], scan[i]["lam"], rtol=1e-12)
    assert start["n_iter_inner"] == 0  # the scan's solutions there, at the same accuracy
    t = [float(np.log(scan[k]["lam"][0])) for k in (i - 1, i, i + 1)]
    e = [scan[k]["value"] for k in (i - 1, i, i + 1)]
    c = 2.0 * ((e[2] - e[1]) / (t[2] - t[1]) - (e[1] - e[0]) / (t[1] - t[0])) / (t[2] - t[0])
    g = float(start["grad"][0])
    assert c > 0 and abs(g / c) < 1.0  # the Newton step, below the cap
    np.testing.assert_allclose(np.log(first["lam"][0]), t[1] - g / c, rtol=1e-10)
    assert first["value"] < start["value"]
