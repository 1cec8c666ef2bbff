"""Faults during the search: the search recovers, warns once, and keeps the best point.

Protects issue 7, item 2. Faults are injected: an inner solver with a budget of
one iteration, an engine whose hypergradient is NaN or explodes, outer steps
that increase the loss, a callback that interrupts the fit (KeyboardInterrupt)
or asks it to stop. A fit either completes with the best point evaluated, or
leaves the estimator exactly as it was before the call.
"""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.linear_model import Lasso
from sklearn.utils.validation import check_is_fitted

from skhypergrad import (AIDConjugateGradient, CoordinateDescent, ElasticNetHyperGrad,
                         HyperGradSearchCV, LassoHyperGrad, LogisticRegressionHyperGrad)
from skhypergrad.optimizers import Adam, GradientDescent, minimize


def _data(n=40, p=8, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    y = X[:, :3] @ np.array([2.0, -1.5, 1.0]) + 0.5 * rng.standard_normal(n)
    return X, y


class FaultyEngine(AIDConjugateGradient):
    """AID-CG whose hypergradient is replaced by ``fault(grad)`` at the listed calls.

    Calls are counted per criterion evaluation (all folds of one evaluation share
    a number) through a counter shared by the copies the search makes.
    """

    #: its hypergradients are not the implicit ones: no criterion computes them otherwise
    implicit_at_solution = False

    def __init__(self, tol=1e-10, max_iter=1000, direct=True, fault=None, at=(), log=None):
        super().__init__(tol=tol, max_iter=max_iter, direct=direct)
        self.fault = fault
        self.at = at
        self.log = log if log is not None else {"calls": 0}

    def hypergradient(self, pgmap, lam, w, outer_grad, state=None, reference=None):
        res = super().hypergradient(pgmap, lam, w, outer_grad, state, reference=reference)
        self.log["calls"] += 1
        evaluation = (self.log["calls"] - 1) // self.log.get("folds", 1)
        if evaluation in self.at:
            res = res._replace(grad=self.fault(res.grad))
        return res


def _convergence_warnings(record):
    return [w for w in record if issubclass(w.category, ConvergenceWarning)]


def _fit_recording(est, X, y):
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        est.fit(X, y)
    return _convergence_warnings(record)


def _assert_best_point_kept(est):
    # every entry, the starting scan's included, is a value of the whole criterion
    full = est.history_
    values = [h["value"] for h in full]
    assert est.best_loss_ == min(values) == -est.best_score_
    best = full[int(np.argmin(values))]
    np.testing.assert_allclose(est.lam_, best["lam"], rtol=1e-12)
    assert np.all(np.isfinite(est.coef_)) and np.isfinite(est.intercept_)


# -- inner solver that does not converge ------------------------------------------------------
def test_inner_solver_not_converging_warns_once_and_keeps_best():
    # one epoch: a solve stopped on its budget ends on the exact solution of its support,
    # converged when that is the solution's (the compiled path's, at max_iter=1); one
    # epoch from zero leaves some supports wrong
    X, y = _data()
    est = LassoHyperGrad(cv=3, max_iter=5,
                         solver=CoordinateDescent(max_iter=1, max_epochs=1))
    caught = _fit_recording(est, X, y)
    assert len(caught) == 1
    assert "did not converge" in str(caught[0].message)
    _assert_best_point_kept(est)


def test_logistic_inner_solver_not_converging():
    X, y = _data()
    est = LogisticRegressionHyperGrad(cv=3, max_iter=3, solver=CoordinateDescent(max_iter=1))
    caught = _fit_recording(est, X, (y > 0).astype(int))
    assert len(caught) == 1
    _assert_best_point_kept(est)


# -- NaN and exploding hypergradients ---------------------------------------------------------
@pytest.mark.parametrize("fault", [lambda g: np.full_like(g, np.nan),
                                   lambda g: np.full_like(g, np.inf),
                                   lambda g: g * np.nan],
                         ids=["nan", "inf", "nan_times"])
def test_nan_hypergradient_is_retried_with_smaller_step_and_tighter_tol(fault):
    X, y = _data()
    engine = FaultyEngine(fault=fault, at={1}, log={"calls": 0, "folds": 3})
    est = LassoHyperGrad(cv=3, alpha_init=0.5, max_iter=6, hypergradient=engine)
    caught = _fit_recording(est, X, y)
    assert len(caught) == 1 and "Non-finite" in str(caught[0].message)
    h = est.history_
    # evaluation 1 (the first trial) failed: the next trial is closer to the start and
    # solved at the final inner accuracy
    start, failed, retry = (np.log(h[k]["lam"]) for k in range(3))
    assert np.abs(retry - start).max() < np.abs(failed - start).max()
    assert h[2]["tol"] == est._inner_tol[1] < h[1]["tol"]
    assert len(h) > 3  # and the search went on from there
    _assert_best_point_kept(est)
    assert est.best_loss_ < h[0]["value"]


def test_nan_hypergradient_everywhere_ends_at_the_start():
    X, y = _data()
    engine = FaultyEngine(fault=lambda g: g * np.nan, at=range(1000))
    est = LassoHyperGrad(cv=3, alpha_init=0.5, max_iter=5, hypergradient=engine)
    caught = _fit_recording(est, X, y)
    assert len(caught) == 1
    _assert_best_point_kept(est)
    assert est.alpha_ == pytest.approx(0.5)


@pytest.mark.parametrize("scale", [1e12, 1e300])
def test_exploding_hypergradient_is_contained(scale):
    """A huge gradient moves no hyperparameter by more than max_move (a factor e)."""
    X, y = _data()
    engine = FaultyEngine(fault=lambda g: g * scale, at={0, 2, 3},
                          log={"calls": 0, "folds": 3})
    est = ElasticNetHyperGrad(cv=3, alpha_init=0.5, max_iter=6, hypergradient=engine)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no overflow in the step
        caught = _fit_recording(est, X, y)
    assert len(caught) <= 1
    theta = np.log([h["lam"] for h in est.history_])
    assert np.all(np.abs(np.diff(theta, axis=0)) <= 1.0 + 1e-12)
    assert all(np.isfinite(h["value"]) for h in est.history_)
    _assert_best_point_kept(est)


# -- outer steps that increase the loss -------------------------------------------------------
def test_step_that_increases_the_loss_is_backtracked():
    X, y = _data()
    # from twice the best alpha, a first step of 10 (a factor e^10) overshoots the minimum
    est = LassoHyperGrad(cv=3, alpha_init=0.15, max_iter=8,
                         optimizer=GradientDescent(step=1e3, max_move=10.0))
    caught = _fit_recording(est, X, y)
    assert len(caught) == 0
    h = est.history_
    assert h[1]["value"] > h[0]["value"]                     # the step increased the loss
    moves = [np.abs(np.log(h[k]["lam"] / h[0]["lam"])).max() for k in (1, 2)]
    # shrunk to the quadratic interpolation's minimizer, between a tenth and a half,
    assert 0.1 * moves[0] * (1 - 1e-9) <= moves[1] <= 0.5 * moves[0] * (1 + 1e-9)
    assert h[2]["tol"] < h[1]["tol"]                         # at a tighter accuracy
    _assert_best_point_kept(est)
    assert est.best_loss_ < h[0]["value"]


def test_adam_keeps_the_best_point_not_the_last():
    X, y = _data()
    est = LassoHyperGrad(cv=3, alpha_init=1e-3, max_iter=8, tol=0.0,
                         optimizer=Adam(learning_rate=3.0))
    _fit_recording(est, X, y)
    values = [h["value"] for h in est.history_]
    assert values[-1] > min(values)   # the last steps overshoot ...
    _assert_best_point_kept(est)       # ... but the fitted model is the best one


def test_minimize_overflowing_step_does_not_produce_nan():
    """A tiny first gradient gives a huge step; a later large gradient must not overflow."""
    grads = iter([1e-300] + [1e10] * 50)

    def objective(theta, tol):
        return float(np.sum(theta ** 2)), np.full(1, next(grads)) * np.sign(theta + 1e-9), {}

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = minimize(objective, np.ones(1), optimizer="gd", max_iter=5)
    assert np.all(np.isfinite(res.theta)) and res.value <= 1.0


# -- KeyboardInterrupt and callbacks ----------------------------------------------------------
def _interrupt_after(k):
    seen = []

    def callback(entry):
        seen.append(entry)
        if len(seen) >= k:
            raise KeyboardInterrupt
    return callback


def _fitted_attributes(est):
    return {k for k in vars(est) if k.endswith("_") and not k.startswith("__")}


ESTIMATORS = [
    lambda cb: LassoHyperGrad(cv=3, max_iter=5, callback=cb),
    lambda cb: ElasticNetHyperGrad(cv=3, max_iter=5, callback=cb),
    lambda cb: LogisticRegressionHyperGrad(cv=3, max_iter=5, callback=cb),
    lambda cb: HyperGradSearchCV(Lasso(alpha=0.1), cv=3, max_iter=12, tol=0.0, callback=cb),
]
IDS = ["lasso", "enet", "logistic", "search"]


def _target(est, y):
    return (y > 0).astype(int) if isinstance(est, LogisticRegressionHyperGrad) else y


@pytest.mark.parametrize("make", ESTIMATORS, ids=IDS)
@pytest.mark.parametrize("k", [1, 4, 8])
def test_keyboard_interrupt_leaves_the_estimator_unfitted(make, k):
    X, y = _data()
    est = make(_interrupt_after(k))
    params = est.get_params()
    with pytest.raises(KeyboardInterrupt):
        est.fit(X, _target(est, y))
    assert _fitted_attributes(est) == set()
    with pytest.raises(NotFittedError):
        check_is_fitted(est)
    assert est.get_params() == params


@pytest.mark.parametrize("make", ESTIMATORS, ids=IDS)
def test_keyboard_interrupt_keeps_a_previous_fit(make):
    X, y = _data()
    est = make(None).fit(X, _target(est := make(None), y))
    before = {k: np.copy(v) if isinstance(v, np.ndarray) else v
              for k, v in vars(est).items() if k.endswith("_") and k != "cv_results_"}
    est.set_params(callback=_interrupt_after(3))
    X2, y2 = _data(seed=1)
    with pytest.raises(KeyboardInterrupt):
        est.fit(X2, _target(est, y2))
    for key, value in before.items():
        np.testing.assert_array_equal(getattr(est, key), value) if isinstance(value, np.ndarray) \
            else None
    assert _fitted_attributes(est) >= set(before)


def test_keyboard_interrupt_inside_the_solver():
    class Interrupting(CoordinateDescent):
        calls = [0]

        def gram_budget(self):  # solve() changed: no compiled solve stands for it
            return None

        def solve(self, pgmap, lam, w0=None, reference=None):
            type(self).calls[0] += 1
            if type(self).calls[0] > 5:
                raise KeyboardInterrupt
            return super().solve(pgmap, lam, w0, reference=reference)

    X, y = _data()
    est = LassoHyperGrad(cv=3, solver=Interrupting())
    with pytest.raises(KeyboardInterrupt):
        est.fit(X, y)
    assert _fitted_attributes(est) == set()


@pytest.mark.parametrize("k", [1, 3, 12])
def test_callback_true_stops_with_the_best_point_so_far(k):
    X, y = _data()
    seen = []

    def callback(entry):
        seen.append(entry["value"])
        return len(seen) >= k

    est = LassoHyperGrad(cv=3, max_iter=20, callback=callback).fit(X, y)
    assert len(seen) == k
    assert [h["value"] for h in est.history_] == seen
    _assert_best_point_kept(est)
    assert est.predict(X).shape == (X.shape[0],)


def test_callback_true_stops_the_search_cv():
    X, y = _data()
    seen = []

    def callback(entry):
        seen.append(entry)
        return len(seen) >= 3

    search = HyperGradSearchCV(Lasso(alpha=0.1), cv=3, max_iter=20, callback=callback).fit(X, y)
    assert len(search.cv_results_["params"]) == 3
    assert search.best_score_ == max(search.cv_results_["mean_test_score"])
    assert search.best_estimator_.alpha == search.best_params_["alpha"]
