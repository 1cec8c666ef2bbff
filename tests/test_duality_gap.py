"""The duality gap that every solver stops on.

Protects: the gap is a true upper bound on the suboptimality (primal minus the
optimum, found by scikit-learn to 1e-14), it vanishes at the solution, and it
stays finite and tight when the L2 weight is tiny (the l2 -> 0 limit of the
elastic net, where the conjugate term ``max(|X^T theta| - l1, 0)^2 / (2 l2)``
alone blows up).
"""

import numpy as np
import pytest
from sklearn.linear_model import ElasticNet as SkElasticNet

from skhypergrad.datafits import Quadratic
from skhypergrad.fixed_point import ProxGradMap
from skhypergrad.penalties import ElasticNetPenalty, enet_sklearn_from_lam
from skhypergrad.solvers import duality_gap
from skhypergrad.solvers.coordinate_descent import CoordinateDescent

from _data import make_regression_data


def _problem():
    X, y = make_regression_data(n=60, p=40, seed=3)
    X[:, 1] = X[:, 0] + 1e-3 * X[:, 1]  # two nearly collinear columns: ill-conditioned
    return ProxGradMap(Quadratic(), ElasticNetPenalty(), X, y, fit_intercept=True), X, y


def _sklearn_optimum(X, y, lam):
    alpha, l1_ratio = enet_sklearn_from_lam(lam)
    sk = SkElasticNet(alpha=alpha, l1_ratio=l1_ratio, tol=1e-14, max_iter=1_000_000).fit(X, y)
    return np.append(sk.coef_, sk.intercept_)


@pytest.mark.parametrize("l2", [1e-100, 1e-12, 1e-6, 1e-2])
def test_gap_bounds_the_suboptimality_and_stays_finite_for_tiny_l2(l2):
    pgmap, X, y = _problem()
    lam = np.array([0.05, l2])
    primal_opt = duality_gap(pgmap, _sklearn_optimum(X, y, lam), lam)[0]
    # a point away from the solution: the gap bounds primal - optimum, and not by miles
    w = CoordinateDescent(tol=1e-2).solve(pgmap, lam).w
    primal, dual, gap, _ = duality_gap(pgmap, w, lam)
    assert np.isfinite(gap)
    assert dual <= primal_opt * (1 + 1e-12) + 1e-14
    assert gap >= primal - primal_opt - 1e-12
    assert gap <= 1e3 * max(primal - primal_opt, 1e-10)


@pytest.mark.parametrize("l2", [1e-100, 1e-8])
def test_solver_reaches_a_tight_gap_for_tiny_l2(l2):
    pgmap, X, y = _problem()
    lam = np.array([0.05, l2])
    res = CoordinateDescent(tol=1e-10).solve(pgmap, lam)
    primal, _, gap, _ = duality_gap(pgmap, res.w, lam)
    assert gap <= 1e-10 * primal
    primal_opt = duality_gap(pgmap, _sklearn_optimum(X, y, lam), lam)[0]
    assert primal <= primal_opt + 1e-9 * primal
