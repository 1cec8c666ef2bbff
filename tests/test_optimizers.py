"""Outer optimizers: reach the minimizer of smooth test functions within bounds, keep the
best point, honor callbacks, and cope with inexact gradients."""

import numpy as np
import pytest

from skhypergrad.optimizers import Adam, GradientDescent, LBFGSB, get_optimizer, minimize

CENTER = np.array([1.0, -2.0])
SCALE = np.array([1.0, 10.0])


def _quadratic(theta, tol):
    """An ill-conditioned quadratic whose gradient carries an error of size tol."""
    d = theta - CENTER
    noise = tol * np.array([1.0, -1.0])
    return float(0.5 * np.sum(SCALE * d * d)), SCALE * d + noise, {"tol_used": tol}


@pytest.mark.parametrize("optimizer", ["gd", "lbfgs", Adam(learning_rate=0.1)])
def test_reaches_minimizer(optimizer):
    res = minimize(_quadratic, np.zeros(2), optimizer=optimizer, max_iter=300, tol=1e-12, xtol=1e-9,
                   patience=30)
    np.testing.assert_allclose(res.theta, CENTER, atol=2e-2 if isinstance(optimizer, Adam)
                               else 1e-4)
    assert res.value == min(h["value"] for h in res.history)


@pytest.mark.parametrize("optimizer", ["gd", "lbfgs", "adam"])
def test_bounds_are_respected(optimizer):
    lo, hi = np.array([-5.0, -1.0]), np.array([0.5, 5.0])
    res = minimize(_quadratic, np.zeros(2), optimizer=optimizer, bounds=(lo, hi), max_iter=200)
    assert np.all(res.theta >= lo) and np.all(res.theta <= hi)
    assert all(np.all(h["theta"] >= lo) and np.all(h["theta"] <= hi) for h in res.history)
    np.testing.assert_allclose(res.theta, [0.5, -1.0], atol=1e-2)


def test_inner_tolerance_is_tightened():
    res = minimize(_quadratic, np.zeros(2), optimizer="gd", max_iter=20,
                   inner_tol=(1e-2, 1e-6), tol=0)
    tols = [h["tol"] for h in res.history]
    assert tols[0] == 1e-2 and min(tols) == 1e-6
    assert all(b <= a for a, b in zip(tols, tols[1:]))


def test_callback_stops_and_best_is_kept():
    seen = []

    def callback(entry):
        seen.append(entry["value"])
        return len(seen) >= 3

    res = minimize(_quadratic, np.zeros(2), optimizer="gd", callback=callback, max_iter=100)
    assert len(res.history) == 3
    assert res.value == min(seen)


def test_nan_value_is_never_best():
    def objective(theta, tol):
        if theta[0] > 0.5:
            return np.nan, np.array([np.nan]), {}
        return float((theta[0] - 1) ** 2), np.array([2 * (theta[0] - 1)]), {}

    with pytest.warns(Warning):
        res = minimize(objective, np.zeros(1), optimizer=Adam(learning_rate=1.0), max_iter=5)
    assert np.isfinite(res.value) and res.theta[0] <= 0.5


def test_get_optimizer():
    assert isinstance(get_optimizer("gd"), GradientDescent)
    assert isinstance(get_optimizer("L-BFGS-B"), LBFGSB)
    with pytest.raises(ValueError, match="optimizer must be"):
        get_optimizer("sgd")


def _parabola(theta, tol):
    """``2 (theta - 0.3)^2`` in one dimension, exact gradient."""
    d = theta - 0.3
    return float(2.0 * d @ d), 4.0 * d, {}


def test_gd_backtracks_to_the_interpolated_minimizer_and_takes_newton_steps():
    # a unit first move from 0 overshoots 0.3; the quadratic through E(0), E'(0) and E(1)
    # is the function itself, so the second trial is the minimizer, then BB is exact
    res = minimize(_parabola, np.zeros(1), optimizer=GradientDescent(max_move=1.0),
                   max_iter=10, tol=0.0, xtol=1e-12)
    thetas = [float(h["theta"][0]) for h in res.history]
    assert thetas[1] == pytest.approx(1.0)
    assert thetas[2] == pytest.approx(0.3, abs=1e-12)
    assert res.theta[0] == pytest.approx(0.3, abs=1e-12)


def _skewed(theta, tol):
    """A smooth one-dimensional criterion, not symmetric about its minimizer."""
    t = float(theta[0])
    return np.exp(t) - 2.0 * t, np.array([np.exp(t) - 2.0]), {}


def test_neighbour_values_give_the_first_step_and_a_bracket_ends_the_search():
    """From a scan's best point with its neighbours' values (``around``), the first trial
    is the minimizer of the cubic through them, and the minimum of one hyperparameter,
    bracketed, is certified in a few evaluations; without them the search takes more."""
    h = np.log(10.0) / 2.0  # a scan by half decades, from its best point 0
    around = [(np.array([t]), _skewed(np.array([t]), 0)[0]) for t in (-h, h)]
    kwargs = dict(max_iter=30, inner_tol=(0.0, 0.0), tol=1e-6)
    res = minimize(_skewed, np.zeros(1), around=around, **kwargs)
    plain = minimize(_skewed, np.zeros(1), **kwargs)
    assert res.theta[0] == pytest.approx(np.log(2.0), abs=1e-3)
    assert abs(res.history[1]["theta"][0] - np.log(2.0)) < 0.1  # the cubic's minimizer
    assert len(res.history) <= 5 < len(plain.history)
    assert res.value <= plain.value + 1e-6 * plain.value


def test_one_hyperparameter_search_ends_where_the_secant_promises_less_than_tol():
    """Approached from one side (the slope flattens towards the minimum, and each
    secant step stops short of it), a one-hyperparameter search ends at the accepted
    step past which the quadratic of its last two slopes gains less than ``tol / 10``
    instead of ``patience`` steps later: one evaluation fewer here, the value within
    ``tol / 10`` of the minimum; a tighter ``tol`` takes the next step too."""
    minimum = 2.0 - 2.0 * np.log(2.0)
    kwargs = dict(max_iter=30, inner_tol=(0.0, 0.0))
    loose = minimize(_skewed, np.full(1, 2.5), tol=1e-3, **kwargs)
    tight = minimize(_skewed, np.full(1, 2.5), tol=1e-4, **kwargs)
    thetas = [float(h["theta"][0]) for h in tight.history]
    assert np.all(np.diff(thetas) < 0)  # from one side, no bracket
    assert len(loose.history) == len(tight.history) - 1 == 6
    assert loose.history[-1]["best"] and loose.value - minimum <= 1e-4 * minimum
    assert tight.value - minimum <= 1e-8


def test_one_hyperparameter_step_is_the_nearer_of_the_secant_and_the_cubic():
    """Where the slope steepens towards the minimum, the secant of two slopes passes
    it (0.837 here, the minimum at log 2 = 0.693) and a bracket then takes three more
    evaluations; the cubic of their values and slopes, the nearer estimate, lands at
    0.711 and the search ends in four evaluations within 1e-5 of the minimum (six,
    2e-6, with the secant)."""
    minimum = 2.0 - 2.0 * np.log(2.0)
    res = minimize(_skewed, np.full(1, -0.5), max_iter=30, inner_tol=(0.0, 0.0), tol=1e-4)
    thetas = [float(h["theta"][0]) for h in res.history]
    assert thetas[2] == pytest.approx(0.711, abs=1e-3)
    assert len(res.history) == 4 and res.value - minimum <= 1e-5 * minimum


def test_barzilai_borwein_steps_need_fewer_evaluations():
    """On the ill-conditioned quadratic (curvatures 1 and 10) BB steps find the minimizer
    in a handful of evaluations; steps that only grow by 1.5 need over a hundred."""
    kwargs = dict(max_iter=300, inner_tol=(0.0, 0.0), tol=1e-14, xtol=1e-10, patience=5)
    bb = minimize(_quadratic, np.zeros(2), optimizer=GradientDescent(bb=True), **kwargs)
    plain = minimize(_quadratic, np.zeros(2), optimizer=GradientDescent(bb=False), **kwargs)
    np.testing.assert_allclose(bb.theta, CENTER, atol=1e-8)
    np.testing.assert_allclose(plain.theta, CENTER, atol=1e-5)
    assert len(bb.history) <= 10 < 50 <= len(plain.history)


@pytest.mark.parametrize("scale", [1e-6, 1e-2, 1.0, 1e3])
def test_lbfgs_tol_is_relative_whatever_the_scale(scale):
    # scipy's ftol divides by max(|f|, 1): for a criterion below 1 (a CV MSE of 0.05, a
    # log-loss) it is an absolute test, met long before a relative tol of 1e-5 is.
    def objective(theta, tol):
        value, grad, info = _quadratic(theta, 0.0)
        return scale * (1.0 + value), scale * grad, info

    res = minimize(objective, np.zeros(2), optimizer="lbfgs", max_iter=100, tol=1e-5)
    assert res.converged
    assert not np.array_equal(res.history[1]["theta"], res.history[0]["theta"])  # one f(theta0)
    assert abs(res.value / scale - 1.0) < 1e-4
    np.testing.assert_allclose(res.theta, CENTER, atol=1e-2)


def test_lbfgs_steps_do_not_depend_on_the_criterion_scale():
    # the same search, point for point, on the criterion times 1e-6, 1 or 1e3: the first
    # step is a unit move of the most sensitive log-hyperparameter (like gd's first step)
    lo, hi = np.full(2, -10.0), np.full(2, 10.0)

    def path(scale):
        def objective(theta, tol):
            value, grad, info = _quadratic(theta, 0.0)
            return scale * value, scale * grad, info

        res = minimize(objective, np.zeros(2), optimizer="lbfgs", bounds=(lo, hi), tol=1e-6)
        return np.array([h["theta"] for h in res.history])

    reference = path(1.0)
    np.testing.assert_allclose(reference[1], [1 / 20, -1.0], rtol=1e-12)  # grad(0) = [-1, 20]
    np.testing.assert_allclose(reference[-1], CENTER, atol=1e-3)
    for scale in (1e-6, 1e3):
        theta = path(scale)
        assert theta.shape == reference.shape
        np.testing.assert_allclose(theta, reference, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("offset, size", [(0.0, 1.0), (-20.0, 0.5 / 20)])
def test_lbfgs_ftol_passed_to_scipy(monkeypatch, offset, size):
    # scipy sees f / ||grad f(theta0)||_inf (20 here); its test divides the decrease by
    # max(|f| / 20, 1), so ftol is tol times min(1, |f(theta0)| / 20) (f(0) = 20.5 + offset)
    import skhypergrad.optimizers as optimizers

    seen, scipy_minimize = {}, optimizers.scipy_minimize

    def spy(*args, options, **kwargs):
        seen.update(options)
        return scipy_minimize(*args, options=options, **kwargs)

    monkeypatch.setattr(optimizers, "scipy_minimize", spy)

    def objective(theta, tol):
        value, grad, info = _quadratic(theta, 0.0)
        return offset + value, grad, info

    minimize(objective, np.zeros(2), optimizer="lbfgs", tol=1e-4)
    assert seen["ftol"] == pytest.approx(1e-4 * size, rel=1e-12)


KINK = 0.37


def _kinked(theta, tol):
    """Two curved pieces meeting at their minimum ``KINK``: slopes -0.5 and +0.2 there."""
    d = theta[0] - KINK
    if d < 0:
        return 1.0 - 0.5 * d + 0.3 * d * d, np.array([-0.5 + 0.6 * d]), {}
    return 1.0 + 0.2 * d + 0.8 * d * d, np.array([0.2 + 1.6 * d]), {}


def test_gd_converges_to_a_kink_at_the_minimum():
    """The one-sided slopes disagree at the minimum: the bracketing line search lands on it
    (the minimum of a fine grid), where backtracking alone stops short."""
    grid = np.linspace(-2.0, 2.0, 40_001)
    grid_min = min(_kinked(np.array([t]), 0.0)[0] for t in grid)
    res = minimize(_kinked, np.array([-1.5]), optimizer="gd", max_iter=50, tol=1e-4)
    assert abs(res.theta[0] - KINK) <= 1e-9 and res.converged
    assert res.value <= grid_min + 1e-12 and len(res.history) <= 10
    plain = minimize(_kinked, np.array([-1.5]), optimizer=GradientDescent(bracket=False),
                     max_iter=50, tol=1e-4)
    assert abs(plain.theta[0] - KINK) > 1e-4


def _kinked_valley(theta, tol):
    """``3 |x - y| + (x + y - 1)^2 / 2 + (x - y)^2 / 10``: kinked along the diagonal, whose
    point (0.5, 0.5) is the minimum."""
    x, y = theta
    side = 1.0 if x >= y else -1.0
    value = 3 * abs(x - y) + 0.5 * (x + y - 1) ** 2 + 0.1 * (x - y) ** 2
    grad = np.array([3 * side + (x + y - 1) + 0.2 * (x - y),
                     -3 * side + (x + y - 1) - 0.2 * (x - y)])
    return value, grad, {}


@pytest.mark.parametrize("start", [[2.0, 0.3], [-1.0, 2.5]])
def test_gd_follows_a_kink_to_the_minimum(start):
    """In two dimensions the kink is a line: once the bracket closes on it, the steps go
    along it (the smallest combination of the gradients on either side) to the minimum;
    gradient steps alone zigzag across it and stop far from it."""
    res = minimize(_kinked_valley, np.array(start), optimizer="gd", max_iter=50, tol=1e-4)
    np.testing.assert_allclose(res.theta, [0.5, 0.5], atol=1e-4)
    assert res.value < 1e-6 and len(res.history) <= 20
    plain = minimize(_kinked_valley, np.array(start), optimizer=GradientDescent(bracket=False),
                     max_iter=50, tol=1e-4)
    assert plain.value > 1e-3


@pytest.mark.parametrize("optimizer", ["gd", "lbfgs", Adam(learning_rate=0.1)])
def test_budget_ended_search_reports_its_last_decrease(optimizer):
    """A search ended by ``max_iter`` is not converged and carries the relative decrease
    of its best value over the iterations its stopping rule compares (1 for L-BFGS-B);
    one ended by its rule is converged, without one."""
    short = minimize(_quadratic, np.zeros(2), optimizer=optimizer, max_iter=3, tol=1e-12,
                     patience=2)
    assert not short.converged and short.n_iter == 3
    steps = [h["value"] for h in short.history]
    bests = np.minimum.accumulate(steps)
    assert 0 < short.decrease <= 1
    # at most the decrease from the start, at least the last evaluation's
    assert short.decrease <= (bests[0] - bests[-1]) / bests[0] + 1e-12
    assert short.decrease >= (bests[-2] - bests[-1]) / bests[-2] - 1e-12
    done = minimize(_quadratic, np.zeros(2), optimizer=optimizer, max_iter=300, tol=1e-3)
    assert done.converged and np.isnan(done.decrease)


def test_estimators_warn_when_the_search_ends_on_max_iter():
    """``max_iter`` outer steps that end before the stopping rule: a ConvergenceWarning
    with the last relative decrease against ``tol``, from the estimators and from
    HyperGradSearchCV; none when the rule ends the search."""
    import warnings

    from sklearn.datasets import load_diabetes
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import Lasso

    from skhypergrad import HyperGradSearchCV, LassoHyperGrad

    X, y = load_diabetes(return_X_y=True)
    X, y = X[:150], y[:150]
    for est in [LassoHyperGrad(max_iter=1, alpha_init=0.5, cv=3),
                HyperGradSearchCV(Lasso(alpha=0.5), max_iter=1, cv=3)]:
        with pytest.warns(ConvergenceWarning, match=r"stopped at max_iter=1 outer steps: "
                          r"its best value still fell by [0-9.e-]+ \(relative\)"):
            est.fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        LassoHyperGrad(cv=3).fit(X, y)
        HyperGradSearchCV(Lasso(), cv=3).fit(X, y)


def _decades_apart(theta, tol):
    r"""``1 + sum_j a_j (e^u_j - u_j - 1)``, ``u = theta - c``, slopes ``a_j`` 1 to 1e-4: as
    the weights of a per-feature model, whose noise features' slopes are decades below
    the others' and grow as :math:`e^{\theta_j}` towards their minimum."""
    a, u = 10.0 ** -np.arange(5), theta - np.array([1.0, -2.0, 3.0, 4.0, 5.0])
    return 1.0 + float(np.sum(a * (np.exp(u) - u - 1))), a * (np.exp(u) - 1), {}


def test_diagonal_scaling_moves_coordinates_whose_slopes_are_decades_apart():
    # plain steps, set by the steepest slope, leave the last coordinates near 0 after 100
    # steps (value 3e-3 above the minimum); scaled by each slope's root mean square, the
    # search ends at the minimizer in 15
    plain = minimize(_decades_apart, np.zeros(5), optimizer=GradientDescent(), max_iter=100,
                     tol=1e-6)
    assert not plain.converged and plain.value - 1 > 1e-3
    res = minimize(_decades_apart, np.zeros(5), optimizer=GradientDescent(diagonal=0.9),
                   max_iter=100, tol=1e-6)
    assert res.converged and res.n_iter <= 20
    np.testing.assert_allclose(res.theta, [1.0, -2.0, 3.0, 4.0, 5.0], atol=2e-3)
    assert res.value - 1 < 1e-7


@pytest.mark.parametrize("diagonal", [-0.1, 1.0, 2.0])
def test_diagonal_out_of_range_is_refused(diagonal):
    with pytest.raises(ValueError, match=r"diagonal must be None or in \[0, 1\)"):
        GradientDescent(diagonal=diagonal)


@pytest.mark.parametrize("optimizer", ["gd", "lbfgs", "adam"])
def test_points_are_projected_onto_the_feasible_set(optimizer):
    """With ``project`` (the half-plane theta_0 - theta_1 <= 2 within the box), every point
    evaluated is in it, and a line search ends at the constrained minimizer (1, -21) / 11
    (Adam stops earlier, by its own rule)."""
    lo, hi = np.full(2, -5.0), np.full(2, 5.0)
    a = np.array([1.0, -1.0])

    def project(theta):
        return np.clip(theta - max(0.0, a @ theta - 2.0) / 2.0 * a, lo, hi)

    res = minimize(_quadratic, np.zeros(2), optimizer=optimizer, bounds=(lo, hi),
                   project=project, max_iter=200, tol=1e-10, xtol=1e-6)
    assert all(a @ h["theta"] <= 2.0 + 1e-12 for h in res.history)
    if optimizer != "adam":
        np.testing.assert_allclose(res.theta, np.array([1.0, -21.0]) / 11, atol=2e-2)
