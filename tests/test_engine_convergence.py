"""Every engine used by name converges to the caller's tolerance, or says it did not.

Protects: on problems whose contraction factor reaches 0.9999 (a Lasso on features
correlated at 0.9 and 0.99, L1 logistic and multinomial regressions at small
penalties), every engine by name, through ``hypergradient(..., tol=...)`` and through a
criterion's ``value_and_grad``, is within 1e-4 (relative) of AID-CG, or within the
tolerance it was given when that is looser (NSID), or raises a ConvergenceWarning: no
call is both wrong and silent; on a well-conditioned problem every engine is right and
silent. ITD by name honours ``tol`` (measured), converges its Jacobian from a warm
start at the solution, and stops at once and silently at a zero solution (iterates that
are rounding errors), and ``ITD(n_iter=T)`` runs exactly T steps silently; reverse
mode's checkpointed tape gives the forward result with bounded memory. The warnings
state the residual and the contraction factor. NSID chooses its number of samples from
``tol`` and warns with the predicted error when ``max_samples`` cannot reach it. The
residuals reach ``CriterionResult`` and the search histories, and a Lasso search with
``hypergradient="itd"`` chooses AID-CG's alpha and reports the loss it achieves.
"""

import re
import warnings
from functools import lru_cache

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from skhypergrad import (CoordinateDescent, CrossVal, HeldOut, HyperGradSearchCV, InnerModel,
                         LassoHyperGrad, ProxGradient, SURE, hypergradient)
from skhypergrad._base import lam1_max
from skhypergrad._outer_loss import _heldout_loss
from skhypergrad.hypergrad import (ENGINES, ITD, NSID, AIDConjugateGradient, AIDFixedPoint,
                                   contraction_factor, get_engine)
from skhypergrad.hypergrad.aid import contraction_off_invariances

from _data import traced_peak
from test_engines import Opaque

DETERMINISTIC_TOL = 1e-10
ACCURACY = 1e-4  # relative error that counts as right for an engine asked for 1e-10


def _data(n, p, rho, seed=0, classes=None):
    """Features with pairwise correlation ``rho`` (one shared factor); 4 informative."""
    rng = np.random.default_rng(seed)
    X = np.sqrt(rho) * rng.standard_normal((n, 1)) \
        + np.sqrt(1 - rho) * rng.standard_normal((n, p))
    w = np.zeros(p)
    w[:4] = [2.0, -1.5, 1.0, 0.5]
    t = X @ w + 0.5 * rng.standard_normal(n)
    if classes == 2:
        t = (t > np.median(t)).astype(int)
    elif classes == 3:
        t = np.searchsorted(np.quantile(t, [1 / 3, 2 / 3]), t)
    return X, t


class Case:
    """Training and validation data, an L1 model at ``frac * lam_max``, its solution, the
    held-out gradient in ``w`` and AID-CG's hypergradient (in ``log lam`` through
    :func:`hypergradient`, ``exact``; in ``lam`` from the map, ``exact_lam``)."""

    def __init__(self, datafit, rho, frac, n=40, p=20):
        classes = {"quadratic": None, "logistic": 2, "multinomial": 3}[datafit]
        X, y = _data(n + 30, p, rho, classes=classes)
        self.X, self.y, X_val, y_val = X[:n], y[:n], X[n:], y[n:]
        self.criterion = HeldOut(X_val, y_val)
        model = InnerModel(datafit=datafit, penalty="l1", fit_intercept=True).bind(self.y)
        self.pgmap = model.make_map(self.X, model.encode(self.y))
        self.lam = np.array([frac * lam1_max(self.pgmap)])
        self.model = InnerModel(datafit=datafit, penalty="l1", fit_intercept=True,
                                lam=self.lam)
        # coordinate descent for least squares and the binary logistic loss
        self.solver = ProxGradient(tol=1e-13, max_iter=100_000) if datafit == "multinomial" \
            else CoordinateDescent(tol=1e-13)
        self.w = self.solver.solve(self.pgmap, self.lam).w
        self.q = contraction_off_invariances(self.pgmap, self.lam, self.w)
        self.outer_grad = _heldout_loss(model, "auto", X_val, model.encode(y_val)).grad
        self.exact_lam = AIDConjugateGradient(tol=1e-13).hypergradient(
            self.pgmap, self.lam, self.w, self.outer_grad).grad
        self.exact = hypergradient(self.model, self.X, self.y, criterion=self.criterion,
                                   method="aid-cg", tol=1e-12, solver=self.solver)[1]

    def error(self, grad):
        """Relative error of a hypergradient in ``log lam``."""
        return np.linalg.norm(grad - self.exact) / np.linalg.norm(self.exact)

    def error_lam(self, grad):
        """Relative error of a hypergradient in ``lam``."""
        return np.linalg.norm(grad - self.exact_lam) / np.linalg.norm(self.exact_lam)


CASES = {  # contraction factors 0.87, 0.992, 0.9996, 0.9998, 0.9999
    "well-conditioned": ("quadratic", 0.0, 0.2),
    "lasso-rho0.9": ("quadratic", 0.9, 0.1),
    "lasso-rho0.99": ("quadratic", 0.99, 0.05),
    "logistic": ("logistic", 0.9, 0.01),
    "multinomial": ("multinomial", 0.9, 0.02),
}
HARD = [name for name in CASES if name != "well-conditioned"]


@lru_cache(maxsize=None)
def case(name):
    return Case(*CASES[name])


def _call(func):
    """``(result, the engines' convergence warnings)`` of ``func()`` (an inner solver's
    warning would not excuse a wrong hypergradient)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = func()
    return out, [w for w in caught if issubclass(w.category, ConvergenceWarning)
                 and "did not reach tol" in str(w.message)]


def _by_name(c, engine, route, tol):
    """The log-lam hypergradient of ``engine`` (a name) through ``route`` and the warnings:
    ``hypergradient(..., tol=tol)``, or a criterion's ``value_and_grad`` with a solver
    at ``tol`` (the engine then gets ``search_tol(tol)``: NSID keeps its own)."""
    if route == "hypergradient":
        return _call(lambda: hypergradient(c.model, c.X, c.y, criterion=c.criterion,
                                           method=engine, tol=tol, solver=c.solver,
                                           random_state=0)[1])
    solver = ProxGradient(tol=tol, max_iter=100_000) if isinstance(c.solver, ProxGradient) \
        else CoordinateDescent(tol=tol)
    return _call(lambda: c.criterion.value_and_grad(c.model, c.X, c.y, c.lam, solver=solver,
                                                    engine=engine).grad)


def _accuracy_asked(engine, route, tol):
    """What the engine was asked for, or ACCURACY when tighter: NSID by name in a
    criterion keeps its own tol."""
    asked = get_engine(engine).search_tol(tol) if route == "value_and_grad" else tol
    return max(ACCURACY, asked)


@pytest.mark.parametrize("route", ["hypergradient", "value_and_grad"])
@pytest.mark.parametrize("name", HARD)
def test_no_engine_is_wrong_and_silent(name, route):
    """Each engine by name, asked for 1e-10 (1e-12 through the criterion's solver),
    is within 1e-4 of AID-CG or warns; those that converge (AID-CG everywhere, all
    the deterministic ones at q = 0.992) are right and silent."""
    c = case(name)
    tol = DETERMINISTIC_TOL if route == "hypergradient" else 1e-12
    outcomes = {}
    for engine in ENGINES:
        grad, caught = _by_name(c, engine, route, tol)
        err = c.error(grad)
        outcomes[engine] = (err, len(caught))
        assert caught or err <= _accuracy_asked(engine, route, tol), (engine, err)
    # exact, up to the inner solves (a relative gap of 1e-12 here, 1e-13 for the reference)
    assert outcomes["aid-cg"] == (pytest.approx(0.0, abs=5e-8), 0)
    if c.q < 0.995:  # moderately ill-conditioned: the fixed-point engines converge
        for engine in ("itd", "itd-reverse", "aid-fp"):
            assert outcomes[engine][1] == 0 and outcomes[engine][0] <= ACCURACY, engine
    else:  # q >= 0.9996: 10,000 steps are not enough for 1e-10
        for engine in ("itd", "itd-reverse", "aid-fp"):
            assert outcomes[engine][1] == 1, engine


@pytest.mark.parametrize("route", ["hypergradient", "value_and_grad"])
def test_every_engine_right_and_silent_when_well_conditioned(route):
    """q = 0.87: the deterministic engines asked for 1e-10 (1e-12) are within 1e-8 of
    AID-CG, NSID asked for 0.1 within 0.1, and nothing warns."""
    c = case("well-conditioned")
    assert c.q < 0.9
    for engine in ENGINES:
        tol = 0.1 if engine == "nsid" and route == "hypergradient" else \
            (DETERMINISTIC_TOL if route == "hypergradient" else 1e-12)
        grad, caught = _by_name(c, engine, route, tol)
        assert not caught, (engine, [str(w.message) for w in caught])
        limit = 0.1 if engine == "nsid" else 1e-8
        assert c.error(grad) <= limit, (engine, c.error(grad))


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_itd_by_name_honours_tol(mode):
    """q = 0.992: the error against AID-CG falls with tol, and stays below
    tol / (1 - q); the steps taken grow like log(tol) / log(q)."""
    c = case("lasso-rho0.9")
    name = "itd" if mode == "forward" else "itd-reverse"
    errors, steps = [], []
    for tol in (1e-4, 1e-6, 1e-8, 1e-10):
        res, caught = _call(lambda: get_engine(name, tol=tol).hypergradient(
            c.pgmap, c.lam, None, c.outer_grad))
        assert not caught
        assert res.residual <= tol
        err = c.error_lam(res.grad)
        assert err <= tol / (1 - c.q)
        errors.append(err)
        steps.append(res.n_iter)
    assert np.all(np.diff(np.log10(errors)) < -1), errors  # each 100x tighter: 10x better
    assert np.all(np.diff(steps) > 0)


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_itd_from_the_solution_still_converges_its_jacobian(mode):
    """Started at the solution, the iterate converges at once; J (from J_0 = 0) does not:
    ITD by name keeps going until J (reverse: the tangent J lam) has converged."""
    c = case("lasso-rho0.9")
    res, caught = _call(lambda: ITD(mode=mode, tol=1e-8).hypergradient(
        c.pgmap, c.lam, c.w, c.outer_grad))
    assert not caught
    assert res.n_iter > 0.5 * np.log(1e-8) / np.log(c.q)  # ~2,000 steps, not 1
    assert c.error_lam(res.grad) <= 1e-5


def test_fixed_itd_runs_exactly_t_steps_silently():
    """ITD(n_iter=T) on a problem it cannot converge on in T steps: T steps, no warning,
    in both modes, directly and through hypergradient()."""
    c = case("lasso-rho0.99")
    for mode in ("forward", "reverse"):
        res, caught = _call(lambda: ITD(n_iter=50, mode=mode).hypergradient(
            c.pgmap, c.lam, None, c.outer_grad))
        assert res.n_iter == 50 and not caught
        assert res.residual > 1e-3  # far from converged, as asked
        _, caught = _call(lambda: hypergradient(c.model, c.X, c.y, criterion=c.criterion,
                                                method=ITD(n_iter=50, mode=mode)))
        assert not caught


def test_reverse_tape_is_checkpointed():
    """Reverse mode with at most 7 linearizations kept (segments recomputed from
    checkpoints) == with the whole tape == forward mode, for T = 250; and its memory
    peak is a fraction of the whole tape's."""
    c = case("logistic")
    outer = np.linspace(-1, 1, c.w.shape[0])

    def grad_C(w):
        return w - outer

    forward = ITD(n_iter=250).hypergradient(c.pgmap, c.lam, None, grad_C)
    short = ITD(n_iter=250, mode="reverse", max_tape=7).hypergradient(c.pgmap, c.lam, None,
                                                                        grad_C)
    whole = ITD(n_iter=250, mode="reverse", max_tape=250).hypergradient(c.pgmap, c.lam, None,
                                                                          grad_C)
    np.testing.assert_allclose(short.grad, whole.grad, rtol=1e-12)
    np.testing.assert_allclose(short.grad, forward.grad, rtol=1e-10)
    np.testing.assert_array_equal(short.w, forward.w)
    _, peak_short = traced_peak(ITD(n_iter=250, mode="reverse", max_tape=7).hypergradient,
                                c.pgmap, c.lam, None, grad_C)
    _, peak_whole = traced_peak(ITD(n_iter=250, mode="reverse", max_tape=250).hypergradient,
                                c.pgmap, c.lam, None, grad_C)
    assert peak_short < peak_whole / 4, (peak_short, peak_whole)


def _numbers(message, label):
    """The number after ``label`` in a warning message."""
    match = re.search(re.escape(label) + r"\s*=?\s*([0-9.eE+-]+)", message)
    assert match, (label, message)
    return float(match.group(1).rstrip("."))


def test_warnings_state_residual_and_contraction_factor():
    """AID-FP, ITD (both modes) and NSID at their budgets on q = 0.9996: the message holds
    the residual returned and the contraction factor of the map; on a map that is not a
    ProxGradMap, a rate measured on the iteration, close to it."""
    c = case("lasso-rho0.99")
    q = contraction_factor(c.pgmap, c.lam, c.w)
    engines = [AIDFixedPoint(max_iter=200), ITD(max_iter=200),
               ITD(mode="reverse", max_iter=200), NSID(tol=1e-3, max_samples=500)]
    for engine in engines:
        start = None if isinstance(engine, ITD) else c.w
        res, caught = _call(lambda: engine.hypergradient(c.pgmap, c.lam, start,
                                                         c.outer_grad))
        assert len(caught) == 1, engine
        message = str(caught[0].message)
        assert "did not reach tol" in message
        assert _numbers(message, "residual") == pytest.approx(res.residual, rel=1e-2)
        assert res.residual > engine.tol
        assert _numbers(message, "contraction factor q") == pytest.approx(q, abs=2e-3)
    assert "samples would reach it" in message  # NSID's own prediction of what it needs
    # a generic map: the rate of three more adjoint steps (AID) or of the last ten
    # relative steps (ITD)
    for engine, start in ((AIDFixedPoint(max_iter=200), c.w), (ITD(max_iter=2000), None)):
        _, caught = _call(lambda: engine.hypergradient(Opaque(c.pgmap), c.lam, start,
                                                       c.outer_grad))
        message = str(caught[0].message)
        assert _numbers(message, "empirical rate") == pytest.approx(q, abs=2e-3), message


def test_warnings_give_tol_to_the_digits_of_the_residual():
    """A residual just above ``tol`` read 'relative gap 3.99e-15 > tol 4.0e-15' (tol to two
    digits, the residual to three): both are now printed to three digits."""
    c = case("lasso-rho0.99")
    _, caught = _call(lambda: AIDFixedPoint(tol=1.234e-3, max_iter=1).hypergradient(
        c.pgmap, c.lam, c.w, c.outer_grad))
    assert "did not reach tol=1.23e-03 in 1 iterations" in str(caught[0].message)
    with pytest.warns(ConvergenceWarning, match=r"> tol 1\.23e-12\)"):
        ProxGradient(tol=1.234e-12, max_iter=1).solve(c.pgmap, c.lam)


def test_nsid_chooses_its_samples_from_tol():
    """Well-conditioned: K grows as tol shrinks (about 1 / tol^2 once the noise
    dominates), the predicted error (the residual) is at most tol and the error reached
    too; an explicit n_samples runs silently even when its prediction exceeds tol."""
    c = case("well-conditioned")
    outer, exact = c.outer_grad, c.exact_lam
    samples = []
    for tol in (0.2, 0.1, 0.05):
        res, caught = _call(lambda: NSID(tol=tol, random_state=0).hypergradient(
            c.pgmap, c.lam, c.w, outer))
        assert not caught and res.residual <= tol
        assert np.linalg.norm(res.grad - exact) <= tol * np.linalg.norm(exact)
        samples.append(res.n_iter)
    assert samples[0] < samples[1] < samples[2]
    assert 3 < samples[2] / samples[1] < 5  # 4 for pure 1 / tol^2
    res, caught = _call(lambda: NSID(n_samples=10, tol=0.01, random_state=0).hypergradient(
        c.pgmap, c.lam, c.w, outer))
    assert res.n_iter == 10 and res.residual > 0.01 and not caught


def test_nsid_warns_with_the_predicted_error_it_reached():
    """max_samples too small for tol: it runs max_samples and warns with the predicted
    error (the residual); a constant step warns with its error floor."""
    c = case("well-conditioned")
    outer = c.outer_grad
    res, caught = _call(lambda: NSID(tol=0.01, max_samples=50, random_state=0).hypergradient(
        c.pgmap, c.lam, c.w, outer))
    assert 49 <= res.n_iter <= 50 and res.residual > 0.01 and len(caught) == 1
    assert _numbers(str(caught[0].message), "residual") == pytest.approx(res.residual,
                                                                           rel=1e-2)
    res, caught = _call(lambda: NSID(tol=1e-4, step_schedule="constant",
                                     random_state=0).hypergradient(c.pgmap, c.lam, c.w, outer))
    assert len(caught) == 1 and "error floor" in str(caught[0].message)
    assert res.n_iter < 10_000  # stopped where the floor is reached


def test_search_tol():
    """A search asks the deterministic engines for the inner tolerance, NSID for its own."""
    for name in ("itd", "itd-reverse", "aid-fp", "aid-cg"):
        assert get_engine(name).search_tol(1e-8) == 1e-8
    assert get_engine("nsid").search_tol(1e-8) == 0.1
    assert NSID(tol=0.3).search_tol(1e-6) == 0.3


def test_criterion_results_carry_the_engine_residuals():
    """HeldOut: one residual, CrossVal: one per fold, SURE: one (exact df) or one per
    Monte-Carlo problem; at most the tol the
    engine was given (the solver's); nan from value()."""
    c = case("well-conditioned")
    solver = CoordinateDescent(tol=1e-10)
    for criterion, k in ((c.criterion, 1), (CrossVal(cv=3), 3), (SURE(sigma=0.5), 1),
                         (SURE(sigma=0.5, df="monte-carlo", n_probes=2), 3)):
        res = criterion.value_and_grad(c.model, c.X, c.y, c.lam, solver=solver,
                                       engine="aid-fp")
        assert res.engine_residual.shape == (k,) and res.engine_residual.dtype == np.float64
        assert np.all(res.engine_residual <= 1e-10) and np.all(res.engine_residual > 0)
        assert np.all(res.n_iter_engine > 1)
        itd = criterion.value_and_grad(c.model, c.X, c.y, c.lam, solver=solver, engine="itd")
        assert np.all(itd.engine_residual <= 1e-10)
        assert np.all(np.isnan(criterion.value(c.model, c.X, c.y, c.lam,
                                               solver=solver).engine_residual))


def test_search_histories_record_the_engine_residual():
    """LassoHyperGrad's history_: nan on the scan's entries, at most the entry's tol on
    the others; HyperGradSearchCV's entries (PreparedFolds) too."""
    c = case("well-conditioned")
    est = LassoHyperGrad(cv=3, max_iter=3, hypergradient="aid-fp").fit(c.X, c.y)
    scan = [h for h in est.history_ if h["grad"] is None]
    descent = [h for h in est.history_ if h["grad"] is not None]
    assert scan and descent
    assert all(np.isnan(h["engine_residual"]) for h in scan)
    assert all(0 < h["engine_residual"] <= h["tol"] for h in descent)
    entries = []
    from sklearn.linear_model import Lasso
    HyperGradSearchCV(Lasso(), cv=3, max_iter=2, hypergradient="aid-fp",
                      callback=entries.append).fit(c.X, c.y)
    graded = [h for h in entries if h["grad"] is not None]
    assert graded and all(0 < h["engine_residual"] <= h["tol"] for h in graded)


@pytest.mark.parametrize("rho", [0.9, 0.99])
def test_lasso_search_with_itd_chooses_aid_cg_alpha(rho):
    """Correlated features: LassoHyperGrad(hypergradient="itd") chooses AID-CG's alpha
    (within 5%) and reports the held-out loss of the model it chose (read at ITD's last
    iterate, converged), or says it did not converge (a warning, or history entries
    whose engine residual is above their tolerance); at rho = 0.9 (q about 0.99) it must
    not need to."""
    X, y = _data(80, 15, rho, seed=3)
    kw = dict(cv=0.3, max_iter=15, random_state=0)
    exact = LassoHyperGrad(**kw).fit(X, y)
    est, caught = _call(lambda: LassoHyperGrad(hypergradient="itd", **kw).fit(X, y))
    unconverged = [h for h in est.history_ if h["engine_residual"] > h["tol"]]
    if rho == 0.9:
        assert not caught and not unconverged
    if not caught and not unconverged:
        assert est.alpha_ == pytest.approx(exact.alpha_, rel=0.05)
        X_tr, X_val, y_tr, y_val = _split(X, y, kw)
        model = InnerModel(fit_intercept=True, lam=est.lam_)
        value = HeldOut(X_val, y_val).value(model, X_tr, y_tr, est.lam_,
                                            solver=CoordinateDescent(tol=1e-12)).value
        assert est.best_loss_ == pytest.approx(value, rel=1e-6)


def _split(X, y, kw):
    from sklearn.model_selection import train_test_split
    X_tr, X_val, y_tr, y_val = train_test_split(X, y, test_size=kw["cv"],
                                                random_state=kw["random_state"])
    return X_tr, X_val, y_tr, y_val


def _zero_solution_problem(datafit, frac):
    """A centred L1 map (as the criteria build it) at ``frac * lam_max`` with an
    intercept, its held-out gradient, and the model and data for finite differences."""
    classes = {"quadratic": None, "logistic": 2}[datafit]
    X, y = _data(70, 12, 0.5, seed=1, classes=classes)
    model = InnerModel(datafit=datafit, penalty="l1", fit_intercept=True).bind(y[:40])
    pgmap = model.make_map(X[:40], model.encode(y[:40]), center=True)
    lam = np.array([frac * lam1_max(pgmap)])
    outer = _heldout_loss(model, "auto", X[40:], model.encode(y[40:]), frame=pgmap.design)
    return pgmap, lam, outer, X, y


@pytest.mark.parametrize("mode", ["forward", "reverse"])
@pytest.mark.parametrize("datafit", ["quadratic", "logistic"])
def test_itd_at_a_zero_solution_stops_at_once_and_silently(datafit, mode):
    """Above lam_max every coefficient is 0 and the centred intercept of least squares a
    mean of cancelling residuals: the iterates are rounding errors, which their steps
    (less the map's rounding) show converged in a few steps, with the exact zero
    hypergradient of AID-CG and of finite differences; below lam_max ITD keeps its
    accuracy, and an ITD cut short still warns."""
    pgmap, lam, outer, X, y = _zero_solution_problem(datafit, 2.0)
    res, caught = _call(lambda: ITD(mode=mode, tol=1e-10).hypergradient(
        pgmap, lam, None, outer.grad))
    assert not caught
    # least squares: w_1 is already the solution; logistic: the intercept converges
    assert res.n_iter <= (2 if datafit == "quadratic" else 200), res.n_iter
    assert res.residual <= 1e-10
    w = CoordinateDescent(tol=1e-13).solve(pgmap, lam).w
    assert not np.any(w[:-1])
    exact = AIDConjugateGradient(tol=1e-13).hypergradient(pgmap, lam, w, outer.grad).grad
    np.testing.assert_array_equal(res.grad, exact)
    np.testing.assert_array_equal(res.grad, 0.0)
    model = InnerModel(datafit=datafit, penalty="l1", fit_intercept=True)
    crit, solver = HeldOut(X[40:], y[40:]), CoordinateDescent(tol=1e-13)
    fd = [crit.value(model, X[:40], y[:40], lam * np.exp(h), solver=solver).value
          for h in (1e-4, -1e-4)]
    assert fd[0] == pytest.approx(fd[1], abs=1e-14)
    # below lam_max: as accurate as before, within the relative tolerance
    pgmap, lam, outer, _, _ = _zero_solution_problem(datafit, 0.3)
    res, caught = _call(lambda: ITD(mode=mode, tol=1e-10).hypergradient(
        pgmap, lam, None, outer.grad))
    w = CoordinateDescent(tol=1e-13).solve(pgmap, lam).w
    exact = AIDConjugateGradient(tol=1e-13).hypergradient(pgmap, lam, w, outer.grad).grad
    assert not caught and np.any(w[:-1])
    np.testing.assert_allclose(res.grad, exact, rtol=1e-7)
    _, caught = _call(lambda: ITD(mode=mode, tol=1e-10, max_iter=5).hypergradient(
        pgmap, lam, None, outer.grad))
    assert len(caught) == 1


def test_warning_at_an_infinite_residual_predicts_no_steps():
    """A last step onto an iterate of zero norm has an infinite relative residual: the
    warning states it, with no number of further steps (a math domain error before)."""
    from skhypergrad.hypergrad._base import warn_not_converged
    with pytest.warns(ConvergenceWarning, match=r"residual inf, q = 0\.5\. Advice"):
        warn_not_converged("ITD", 10, "steps", np.inf, 1e-8, 0.5, "q", "Advice")
