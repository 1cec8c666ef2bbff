"""The bracketing line search of piecewise-smooth criteria: exact on two linear pieces and
on a quadratic, superlinear on curved pieces meeting at a kink, and the descent vector
at a kink."""

import numpy as np
import pytest

from skhypergrad._line_search import (Probe, bracket_minimum, cubic_minimizer,
                                      hermite_minimizer, min_norm_combination,
                                      tangent_lower_bound)


def _pieces(kink, left, right):
    """``phi(s)``: the quadratic ``left = (slope, curvature)`` of ``s - kink`` below the
    kink, ``right`` above it, both 1 at the kink."""
    def phi(s):
        d = s - kink
        slope, curv = left if d < 0 else right
        return 1.0 + slope * d + 0.5 * curv * d * d, slope + curv * d
    return phi


def _bracket(phi, ftol=1e-12, stol=1e-12, max_evals=30):
    calls = []

    def evaluate(s):
        calls.append(s)
        value, slope = phi(s)
        return Probe(s, value, slope, None, None)

    lo, hi = evaluate(0.0), evaluate(1.0)
    calls.clear()
    bracket = bracket_minimum(evaluate, lo, hi, ftol=ftol, stol=stol, max_evals=max_evals)
    return bracket.lo, bracket.hi, bracket.best, len(calls)


@pytest.mark.parametrize("kink", [0.05, 0.3, 0.62, 0.97])
def test_two_linear_pieces_are_met_at_their_kink(kink):
    _, _, best, n_evals = _bracket(_pieces(kink, (-1.0, 0.0), (3.0, 0.0)))
    assert best.s == pytest.approx(kink, abs=1e-12) and n_evals <= 5
    assert best.value == pytest.approx(1.0, abs=1e-12)


def test_a_quadratic_minimum_in_one_point():
    _, _, best, n_evals = _bracket(lambda s: (2 * (s - 0.3) ** 2, 4 * (s - 0.3)))
    assert best.s == pytest.approx(0.3, abs=1e-12) and n_evals == 1


@pytest.mark.parametrize("kink, left, right", [(0.3, (-2.0, 6.0), (5.0, -2.0)),
                                               (0.81, (-0.2, 1.0), (4.0, 3.0)),
                                               (0.02, (-3.0, 0.5), (0.1, 8.0))])
def test_curved_pieces_resolved_on_both_sides(kink, left, right):
    """Two curved pieces (one concave): the best point lands on the kink and both ends
    close in on it, their slopes those of either side, in a few points."""
    lo, hi, best, n_evals = _bracket(_pieces(kink, left, right))
    assert lo.s <= kink <= hi.s and hi.s - lo.s <= 1e-6
    assert lo.slope < 0.5 * left[0] and hi.slope > 0.5 * right[0]
    assert abs(best.s - kink) <= 1e-12 and n_evals <= 12


def test_tangent_lower_bound():
    phi = _pieces(0.4, (-1.0, 2.0), (1.0, 2.0))  # convex
    lo, hi = (Probe(s, *phi(s), None, None) for s in (0.0, 1.0))
    bound = tangent_lower_bound(lo, hi)
    grid = np.linspace(0.0, 1.0, 10001)
    assert bound <= min(phi(s)[0] for s in grid)
    # values and slopes no convex function has (3 > 1 + 1): no bound
    lo, hi = Probe(0.0, 1.0, -1.0, None, None), Probe(1.0, 3.0, 1.0, None, None)
    assert tangent_lower_bound(lo, hi) == -np.inf


def test_min_norm_combination():
    g1, g2 = np.array([3.0, 1.0]), np.array([-3.0, 1.0])  # a kink along the second axis
    d = min_norm_combination(g1, g2)
    np.testing.assert_allclose(d, [0.0, 1.0])
    assert d @ g1 >= d @ d and d @ g2 >= d @ d  # a descent direction for both pieces
    np.testing.assert_allclose(min_norm_combination(np.array([1.0]), np.array([-2.0])), [0.0])
    np.testing.assert_allclose(min_norm_combination(g1, 2 * g1), g1)  # the shorter one


def test_hermite_minimizer_is_exact_on_a_cubic_on_either_side():
    """The cubic of two points' values and slopes is the function itself for a cubic:
    its local minimizer (relative to the first point), between the points or past
    the second one, from either side; None without a local minimum."""
    def f(t):
        return 2.0 + (t - 0.3) ** 2 + 0.5 * (t - 0.3) ** 3

    def slope(t):
        return 2.0 * (t - 0.3) + 1.5 * (t - 0.3) ** 2

    for t0, t1 in ((-1.0, 0.1), (0.9, 0.5), (-1.0, 1.0)):
        t = hermite_minimizer(f(t0), slope(t0), t1 - t0, f(t1), slope(t1))
        assert t0 + t == pytest.approx(0.3, abs=1e-12)
    assert hermite_minimizer(0.0, -1.0, 1.0, -1.0, -1.0) is None  # a line
    assert hermite_minimizer(0.0, -1.0, 1.0, -2.0, -3.0) is None  # concave


def test_cubic_minimizer_is_exact_on_a_cubic_and_none_without_a_minimum():
    """The cubic through two values with a third point's value and slope is the function
    itself for a cubic: its local minimizer, wherever it lies between the points; None
    for a function with no local minimum between them."""
    def f(t):
        return 2.0 + (t - 0.3) ** 2 + 0.5 * (t - 0.3) ** 3

    def slope(t):
        return 2.0 * (t - 0.3) + 1.5 * (t - 0.3) ** 2

    assert cubic_minimizer(f(0.0), slope(0.0), (-1.0, f(-1.0)), (1.2, f(1.2))) == \
        pytest.approx(0.3, abs=1e-12)
    assert cubic_minimizer(0.0, -1.0, (-1.0, 1.0), (1.0, -1.0)) is None  # t -> -t
