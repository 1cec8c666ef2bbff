"""Log-link GLM datafits (:mod:`skhypergrad.glm`): Poisson, Gamma and Tweedie.

Solutions against scikit-learn's ``PoissonRegressor``, ``GammaRegressor`` and
``TweedieRegressor`` (objective to 1e-6 relative), every engine against central finite
differences with L2, L1 and elastic-net penalties, the duality gap as a certificate,
the held-out loss as scikit-learn's mean deviance, and the targets' domains."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import GammaRegressor, PoissonRegressor, TweedieRegressor
from sklearn.metrics import (get_scorer, mean_gamma_deviance, mean_poisson_deviance,
                             mean_tweedie_deviance)

from sklearn.base import clone
from sklearn.datasets import load_diabetes
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from skhypergrad import (CrossVal, GammaRegressorHyperGrad, HeldOut, HyperGradSearchCV,
                         PoissonRegressorHyperGrad, TweedieRegressorHyperGrad)
from skhypergrad._search_space import GLM, search_scales
from skhypergrad.datafits import BaseDatafit, register_datafit
from skhypergrad.glm import Gamma, Poisson, Tweedie
from skhypergrad.models import InnerModel, from_estimator
from skhypergrad.solvers import CoordinateDescent, ProxGradient, StochasticProxGradient
from skhypergrad.solvers._gap import duality_gap, separable_gap_floor

from _checks import smooth_search_weight_checks

POWERS = {"poisson": 1.0, "gamma": 2.0, "tweedie": 1.5}


def _datafit(name):
    return Tweedie(1.5) if name == "tweedie" else name


def _data(name, n=90, p=8, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    w = np.r_[0.6, -0.4, 0.3, np.zeros(p - 3)]
    mu = np.exp(X @ w + 0.5)
    if name == "poisson":
        y = rng.poisson(mu).astype(float)
    elif name == "gamma":
        y = rng.gamma(2.0, mu / 2.0)
    else:  # compound Poisson-Gamma: exact zeros and positive values
        y = rng.poisson(mu) * rng.gamma(2.0, 1.0, n)
    return X, y


def _sklearn(name, alpha):
    kw = dict(alpha=alpha, tol=1e-12, max_iter=1000, solver="newton-cholesky")
    if name == "poisson":
        return PoissonRegressor(**kw)
    if name == "gamma":
        return GammaRegressor(**kw)
    return TweedieRegressor(power=1.5, link="log", **kw)


@pytest.mark.parametrize("name", ["poisson", "gamma", "tweedie"])
@pytest.mark.parametrize("alpha", [1e-2, 0.3])
def test_solution_matches_sklearn(name, alpha):
    """CD (default) and FISTA reach scikit-learn's objective to 1e-6 (relative)."""
    X, y = _data(name)
    sk = _sklearn(name, alpha).fit(X, y)
    model = from_estimator(_sklearn(name, alpha), y)
    assert model.penalty == "l2" and model.lam[0] == alpha
    raw = model.make_map(X, model.encode(y))
    ref = np.append(sk.coef_, sk.intercept_)
    pgmap = model.make_map(X, model.encode(y), center=True)
    for solver in (CoordinateDescent(tol=1e-12), ProxGradient(tol=1e-11, max_iter=50_000)):
        res = solver.solve(pgmap, model.lam)
        assert res.converged
        w = pgmap.design.to_original(res.w)
        obj, obj_ref = raw.objective(w, model.lam), raw.objective(ref, model.lam)
        assert obj <= obj_ref * (1 + 1e-6)
        assert obj_ref <= obj * (1 + 1e-6)
        np.testing.assert_allclose(w, ref, atol=1e-5 * max(1.0, np.abs(ref).max()))


@pytest.mark.parametrize("name", ["poisson", "gamma", "tweedie"])
def test_gradient_rule_solves_by_lbfgs(name):
    """``grad_tol`` on an L2 GLM (scikit-learn's lbfgs rule): L-BFGS from the null
    model, then warm-started at a weaker penalty, stops in a few steps with the
    largest entry of the objective's gradient in the original coordinates at most
    ``grad_tol``, the objective then within 1e-9 of scikit-learn's tight one; the same
    solution on a CSC ``X`` (to 1e-10), and with integer weights as on repeated rows
    (to the rule's accuracy). A rule below the rounding of the objective is met by
    coordinate descent after L-BFGS."""
    X, y = _data(name, n=120, p=8)
    counts = np.random.default_rng(3).integers(0, 3, y.shape[0])
    rows = np.repeat(np.arange(y.shape[0]), counts)
    solver = CoordinateDescent(tol=1e-12).loosened(1e-6)
    warm = {}
    for alpha in (0.3, 0.05):
        model = from_estimator(_sklearn(name, alpha), y)
        raw = model.make_map(X, model.encode(y))
        solutions = {}
        for key, Xk, yk, sw in (("dense", X, y, None), ("csc", sp.csc_matrix(X), y, None),
                                ("weights", X, y, counts), ("repeated", X[rows], y[rows], None)):
            pgmap = model.make_map(Xk, model.encode(yk), center=True, sample_weight=sw)
            res = solver.solve(pgmap, model.lam, warm.get(key))
            assert res.converged and 0 < res.n_iter <= 20
            warm[key] = res.w.copy()
            solutions[key] = pgmap.design.to_original(res.w)
        w = solutions["dense"]
        grad = raw.datafit.gradient(raw.design, raw.y, w)
        grad[:-1] += alpha * w[:-1]
        assert np.max(np.abs(grad)) <= 1e-6
        sk = _sklearn(name, alpha).fit(X, y)
        obj, obj_ref = (raw.objective(v, model.lam)
                        for v in (w, np.append(sk.coef_, sk.intercept_)))
        assert obj_ref * (1 - 1e-12) <= obj <= obj_ref * (1 + 1e-9)
        np.testing.assert_allclose(solutions["csc"], w, rtol=0, atol=1e-10)
        # the two are centred by different means: their paths differ, their solutions
        # agree to the rule's accuracy
        np.testing.assert_allclose(solutions["weights"], solutions["repeated"], rtol=0,
                                   atol=1e-5)
    # a rule below the objective's rounding: L-BFGS stops where its values no longer
    # decrease, coordinate descent ends the solve on its gap
    res = CoordinateDescent(tol=1e-12).loosened(1e-14).solve(pgmap, model.lam)
    assert res.converged and res.n_iter <= 40 and res.gap <= 1e-12


@pytest.mark.parametrize("name", ["poisson", "gamma", "tweedie"])
@pytest.mark.parametrize("penalty, lam", [("l2", [0.05]), ("l1", [0.02]),
                                          ("elasticnet", [0.02, 0.05])])
def test_duality_gap_is_a_certificate(name, penalty, lam):
    """The dual value is below the primal everywhere (at random points, after a few
    steps and at the solution) and meets it at the solution."""
    X, y = _data(name)
    model = InnerModel(_datafit(name), penalty, fit_intercept=True)
    pgmap = model.make_map(X, model.encode(y), center=True)
    lam = np.array(lam)
    sol = CoordinateDescent(tol=1e-13).solve(pgmap, lam).w
    primal_opt = pgmap.objective(sol, lam)
    rng = np.random.default_rng(1)
    for w in [pgmap.design.zeros(), sol + 0.1 * rng.standard_normal(sol.shape),
              sol + 0.01 * rng.standard_normal(sol.shape)]:
        w[-1] = sol[-1]  # the gap holds the intercept fixed
        primal, dual, gap, _ = duality_gap(pgmap, w, lam)
        assert dual <= primal_opt + 1e-12 and gap >= 0
    primal, dual, gap, grad_b = duality_gap(pgmap, sol, lam)
    assert gap <= 1e-10 * primal and grad_b < 1e-8


def test_support_step_leaves_the_intercept_minimized():
    """With an L1 part coordinate descent's Newton models are minimized on their support
    directly, then the intercept takes its own Newton step: its gradient, which the
    duality gap (holding it fixed) does not see, ends at the level of rounding (8.8e-12
    without that step)."""
    X, y = _data("tweedie")
    model = InnerModel(_datafit("tweedie"), "elasticnet", fit_intercept=True)
    pgmap = model.make_map(X, model.encode(y), center=True)
    lam = np.array([0.02, 0.05])
    res = CoordinateDescent(tol=1e-13).solve(pgmap, lam)
    primal, _, gap, grad_b = duality_gap(pgmap, res.w, lam)
    assert res.converged and gap <= 1e-12 * primal and grad_b <= 1e-14

def _stable_objective(name, X, y, w, alpha):
    r"""The L2 objective of scikit-learn's GLM at ``w = [coef, intercept]`` from
    :math:`t_i = \log y_i - z_i` (not from the deviance's terms, which cancel: for counts
    near 1e6 they are 1e7 where their mean is 1e-6): the half deviance per sample is
    :math:`\mu(e^t t - (e^t - 1))` (Poisson), :math:`(e^t - 1) - t` (Gamma) and
    :math:`2\sqrt\mu\,(e^{t/2} - 1)^2` (Tweedie, power 1.5)."""
    z = X @ w[:-1] + w[-1]
    t = np.log(y) - z
    if name == "poisson":
        dev = np.exp(z) * (np.exp(t) * t - np.expm1(t))
    elif name == "gamma":
        dev = np.expm1(t) - t
    else:
        dev = 2.0 * np.exp(0.5 * z) * np.expm1(0.5 * t) ** 2
    return float(np.mean(dev)) + 0.5 * alpha * float(w[:-1] @ w[:-1])


@pytest.mark.parametrize("name", ["poisson", "gamma", "tweedie"])
def test_targets_far_from_zero_converge_without_warning(name):
    """Counts shifted by 1e6 (their deviance a sum of terms 1e13 times its value): the
    duality gap in its separable form reads the gradient, not the rounding of the
    deviance's terms (which read 5e-5 times the objective), so a tight solve converges
    without a warning, at scikit-learn's ``newton-cholesky`` objective to 1e-6 (evaluated
    without cancellation), and the same on float32 ``X`` holding the same values."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((120, 5)).astype(np.float32).astype(np.float64)
    y = rng.poisson(np.exp(0.3 * X[:, 0] + 0.2 * X[:, 1] + 1.0)) + 1e6
    for alpha in (1e-4, 0.1, 100.0):
        model = from_estimator(_sklearn(name, alpha), y)
        sk = _sklearn(name, alpha).fit(X, y)
        ref = _stable_objective(name, X, y, np.append(sk.coef_, sk.intercept_), alpha)
        coefs = []
        for XX in (X, X.astype(np.float32)):
            pgmap = model.make_map(XX, model.encode(y), center=True)
            with warnings.catch_warnings():
                warnings.simplefilter("error", ConvergenceWarning)
                res = CoordinateDescent(tol=1e-10).solve(pgmap, model.lam)
            assert res.converged
            w = pgmap.design.to_original(res.w)
            obj = _stable_objective(name, X, y, w, alpha)
            assert abs(obj - ref) <= 1e-6 * ref
            coefs.append(w)
        # (the coefficients, near 1e-7, are resolved to 1e-14: the gradient's rounding)
        np.testing.assert_allclose(coefs[1], coefs[0], rtol=1e-9,
                                   atol=1e-7 * np.abs(coefs[0][:-1]).max())


def test_unconverged_solve_of_far_targets_still_warns_with_its_gap():
    """The separable gap's rounding floor (:func:`~skhypergrad.solvers._gap.
    separable_gap_floor`) stops no real progress: a solve of the shifted counts cut at
    no step warns with the gap it reached, far above the floor."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((120, 5))
    y = rng.poisson(np.exp(0.3 * X[:, 0] + 0.2 * X[:, 1] + 1.0)) + 1e6
    model = from_estimator(_sklearn("poisson", 0.1), y)
    pgmap = model.make_map(X, model.encode(y), center=True)
    with pytest.warns(ConvergenceWarning, match="relative gap") as record:
        res = CoordinateDescent(tol=1e-10, max_iter=0).solve(pgmap, model.lam)
    assert not res.converged and res.gap > 1.0
    assert f"{res.gap:.2e}" in str(record[0].message)
    z = pgmap.design.matvec(res.w)
    fixed, lam = pgmap.problem(model.lam)
    assert separable_gap_floor(fixed, lam, z) <= 1e-9 * pgmap.null_loss


def test_wide_far_targets_solve_by_a_reference_without_warning():
    """Counts shifted by 1e6 on wide data (n = 150, p = 60: fewer than 4 samples per
    parameter, but few parameters) are still solved with a reference Hessian, which holds
    the curvature's scale: a tight solve converges in a few steps without a warning
    (coordinate descent alone stalled at a gap of 1e-6 after 82 epochs)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((150, 60))
    y = rng.poisson(np.exp(0.3 * X[:, 0] + 0.2 * X[:, 1] + 1.0)) + 1e6
    for alpha in (1e-4, 1.0):
        model = from_estimator(_sklearn("poisson", alpha), y)
        pgmap = model.make_map(X, model.encode(y), center=True)
        with warnings.catch_warnings():
            warnings.simplefilter("error", ConvergenceWarning)
            res = CoordinateDescent(tol=1e-10).solve(pgmap, model.lam)
        assert res.converged and res.n_iter <= 10 and res.reference is not None

def test_estimators_on_far_targets_search_without_warning():
    """``PoissonRegressorHyperGrad`` and ``HyperGradSearchCV(PoissonRegressor())`` on
    counts shifted by 1e6 search without a ``ConvergenceWarning`` (each warned of gaps
    of 1e-5 to 5e-5 at the deviance's rounding)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((150, 5))
    y = rng.poisson(np.exp(0.3 * X[:, 0] + 0.2 * X[:, 1] + 1.0)) + 1e6
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est = PoissonRegressorHyperGrad(cv=3, max_iter=10).fit(X, y)
        search = HyperGradSearchCV(PoissonRegressor(), {"alpha": (1e-4, 1e2)}, cv=3,
                                   max_iter=10).fit(X, y)
    assert est.alpha_ > 0 and search.best_params_["alpha"] > 0

def test_wide_far_targets_solve_by_lbfgs_from_the_null_model_without_warning():
    """Counts shifted by 1e6 on wide data (n = 200, p = 300: no reference Hessian) solved
    to a gradient rule by plain L-BFGS start from the null model's intercept, not from
    ``exp(0) = 1``, whose long steps overflowed ``exp`` ("overflow encountered in exp",
    from the line search: 36 RuntimeWarnings in the search below); its line search
    judges the values' rounding by the size of the deviance's terms (1e7, for a
    deviance of 1e-10) and takes the steps below it by their slopes, so L-BFGS meets the
    rule itself (without: at alpha = 1, coordinate descent took over from steps taken on
    the values' rounding, 2.7e-5 off); the objective is scikit-learn's
    ``newton-cholesky`` one to 1e-6 (evaluated without cancellation)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 300))
    y = rng.poisson(np.exp(0.3 * X[:, 0] + 0.2 * X[:, 1] + 1.0)) + 1e6
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for alpha in (1.0, 1e2, 1e4):
            model = from_estimator(_sklearn("poisson", alpha), y)
            pgmap = model.make_map(X, model.encode(y), center=True)
            res = CoordinateDescent(tol=1e-10).loosened(1e-8).solve(pgmap, model.lam)
            assert res.converged
            with warnings.catch_warnings():  # (converged in 5 steps; its tol 1e-12 is
                warnings.simplefilter("ignore", ConvergenceWarning)  # below the rounding)
                sk = _sklearn("poisson", alpha).set_params(max_iter=10).fit(X, y)
            ref = _stable_objective("poisson", X, y, np.append(sk.coef_, sk.intercept_),
                                    alpha)
            obj = _stable_objective("poisson", X, y, pgmap.design.to_original(res.w), alpha)
            assert abs(obj - ref) <= 1e-6 * ref
        search = HyperGradSearchCV(PoissonRegressor(), {"alpha": (1e-4, 1e2)}, cv=3,
                                   max_iter=5).fit(X, y)
    assert search.best_params_["alpha"] > 0


def test_wide_far_targets_search_rows_are_grid_search_rows():
    """A GammaRegressor's search on wide targets near 1e6 (n = 200, p = 300): its
    value-only rows, solved to the estimator's ``tol`` by plain L-BFGS from the null
    model, are GridSearchCV's at the same alphas (from a zero intercept they scored
    -7.6e3 for GridSearchCV's -0.036)."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal((200, 300))
    y = rng.poisson(np.exp(0.3 * X[:, 0] + 0.2 * X[:, 1] + 1.0)) + 1e6 + 1.0
    cv = KFold(3)
    with warnings.catch_warnings():  # (the outer search's, cut at 3 steps)
        warnings.simplefilter("ignore", ConvergenceWarning)
        search = HyperGradSearchCV(GammaRegressor(), {"alpha": (1e-4, 1e2)}, cv=cv,
                                   max_iter=3).fit(X, y)
    alphas = [p["alpha"] for p in search.cv_results_["params"]][:3]
    grid = GridSearchCV(GammaRegressor(), {"alpha": alphas}, cv=cv,
                        scoring=search.scorer_).fit(X, y)
    np.testing.assert_allclose(search.cv_results_["mean_test_score"][:3],
                               grid.cv_results_["mean_test_score"], rtol=1e-6)


@pytest.mark.parametrize("name", ["poisson", "gamma", "tweedie"])
def test_reference_hessian_carries_to_the_next_solve(name):
    """A tight L2 solve returns the datafit's Hessian it formed (its reference); from the
    previous solution and that reference, the solve at a nearby weight forms none and
    takes at most 3 steps to the solution of a cold solve (objective to 1e-12 relative),
    and AID-CG preconditioned by it gives the hypergradient of the factored H (1e-9)."""
    from skhypergrad.hypergrad import AIDConjugateGradient

    X, y = _data(name, n=150, p=10)
    model = InnerModel(_datafit(name), "l2", fit_intercept=True)
    pgmap = model.make_map(X, model.encode(y), center=True)
    solver = CoordinateDescent(tol=1e-10)  # a search's
    first = solver.solve(pgmap, np.array([0.05]))
    # from its solution, a solve forms the reference there and stops at once
    first = solver.solve(pgmap, np.array([0.05]), first.w)
    assert first.n_iter == 0 and first.reference.shape == (11, 11)
    lam = np.array([0.06])
    calls = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(type(pgmap.design), "weighted_gram",
                   lambda self, h: calls.append(1) or pytest.fail("formed a Hessian"))
        warm = solver.solve(pgmap, lam, first.w, reference=first.reference)
    cold = CoordinateDescent(tol=1e-14).solve(pgmap, lam)
    assert warm.converged and warm.n_iter <= 3 and not calls
    assert pgmap.objective(warm.w, lam) == pytest.approx(pgmap.objective(cold.w, lam),
                                                         rel=1e-12)
    engine = AIDConjugateGradient(tol=1e-12)
    direction = np.linspace(-1.0, 1.0, warm.w.shape[0])
    exact = engine.hypergradient(pgmap, lam, warm.w, lambda w: direction)
    pcg = engine.hypergradient(pgmap, lam, warm.w, lambda w: direction,
                               reference=first.reference)
    assert 1 < pcg.n_iter <= 8
    np.testing.assert_allclose(pcg.grad, exact.grad, rtol=1e-9)


@pytest.mark.parametrize("name", ["poisson", "gamma", "tweedie", "logistic"])
def test_blocked_datafit_gradient_is_the_two_products(name, monkeypatch):
    """For a datafit declaring ``rowwise_grad``, the predictions, derivatives and
    gradient formed by blocks of rows (here of 12 rows, the last one partial) are those
    of the two whole products (1e-13), with and without an intercept; a weighted datafit
    and a sparse design keep the two products."""
    from skhypergrad import Logistic
    from skhypergrad.solvers import _cd_smooth
    from skhypergrad.solvers._cd_problem import _Problem

    monkeypatch.setattr(_cd_smooth, "_BLOCK_ENTRIES", 12 * 8)
    X, y = _data("poisson" if name == "logistic" else name, n=90, p=8)
    datafit = Logistic() if name == "logistic" else _datafit(name)
    y = np.where(y > np.median(y), 1.0, -1.0) if name == "logistic" else y
    rng = np.random.default_rng(0)
    for fit_intercept in (True, False):
        model = InnerModel(datafit, "l2", fit_intercept=fit_intercept).bind(y)
        pgmap = model.make_map(X, model.encode(y), center=True)
        prob = _Problem.build(pgmap, np.array([0.1]))
        v = 0.1 * rng.standard_normal(pgmap.design.n_params)
        z, a, grad = _cd_smooth._fused_datafit_gradient(prob, pgmap.design, v)
        z0 = prob.predictions(pgmap.design, v)
        a0 = prob.derivative(z0)
        for got, expected in ((z, z0), (a, a0), (grad, prob.gradient(v, a0))):
            np.testing.assert_allclose(got, expected, rtol=1e-13, atol=1e-15)
    weighted = model.make_map(X, model.encode(y), center=True, sample_weight=np.ones(90))
    sparse = model.make_map(sp.csc_matrix(X), model.encode(y), center=True)
    for other in (weighted, sparse):
        prob = _Problem.build(other, np.array([0.1]))
        assert _cd_smooth._fused_datafit_gradient(prob, other.design, v) is None


@pytest.mark.parametrize("name", ["poisson", "gamma"])
def test_loose_solve_starts_from_the_kept_curvature_pairs(name):
    """A loose solve (the gradient rule, plain L-BFGS steps) keeps its curvature pairs
    with its design; the next one on the same map, at a tenfold smaller weight and from
    the first solution, starts from them: fewer steps than on a twin map that kept
    none, to the same rule, within the rule's accuracy of the tight solution."""
    X, y = _data(name, n=300, p=20)
    model = InnerModel(_datafit(name), "l2", fit_intercept=True)
    solver = CoordinateDescent(tol=1e-10).loosened(1e-4)
    maps = [model.make_map(X, model.encode(y), center=True) for _ in range(2)]
    first = solver.solve(maps[0], np.array([1.0]))
    lam = np.array([0.1])  # (solved without the first's reference: plain steps)
    kept, twin = (solver.solve(m, lam, first.w.copy()) for m in maps)
    tight = CoordinateDescent(tol=1e-14).solve(maps[0], lam)
    assert kept.converged and twin.converged and kept.reference is None
    assert kept.n_iter < twin.n_iter
    np.testing.assert_allclose(kept.w, tight.w, atol=2e-4)


@pytest.mark.parametrize("name", ["poisson", "gamma"])
def test_warm_solve_reads_its_start_from_the_previous_solution(name):
    """The datafit's values at a solution are kept with its design: a solve at another L2
    weight warm-started there (through the model's own intercept and back, as a
    criterion keeps it) makes one product with X fewer than on a twin map that kept
    nothing, and ends at the same point (the start differs by rounding only)."""
    X, y = _data(name, n=150, p=10)
    model = InnerModel(_datafit(name), "l2", fit_intercept=True)
    solver = CoordinateDescent(tol=1e-10)
    maps = [model.make_map(X, model.encode(y), center=True) for _ in range(2)]
    first = solver.solve(maps[0], np.array([0.05]))
    start = maps[0].design.from_original(maps[0].design.to_original(first.w))
    counts, solutions = [], []
    from skhypergrad.solvers import _cd_smooth

    design_class = type(maps[0].design)
    matvec, blocked = design_class.matvec, _cd_smooth._fused_datafit_gradient
    for pgmap in maps:  # the second kept nothing
        calls = []
        with pytest.MonkeyPatch.context() as mp:  # (products by blocks of rows counted)
            mp.setattr(design_class, "matvec",
                       lambda self, w: calls.append(1) or matvec(self, w))
            mp.setattr(_cd_smooth, "_fused_datafit_gradient",
                       lambda *args: calls.append(1) or blocked(*args))
            solutions.append(solver.solve(pgmap, np.array([0.08]), start,
                                          reference=first.reference))
        counts.append(len(calls))
    assert all(s.converged for s in solutions)
    assert counts[0] == counts[1] - 1
    np.testing.assert_allclose(solutions[0].w, solutions[1].w, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", ["poisson", "gamma", "tweedie"])
@pytest.mark.parametrize("penalty, lam", [("l2", [0.05]), ("l1", [0.02]),
                                          ("elasticnet", [0.02, 0.2])])
def test_every_engine_matches_finite_differences(name, penalty, lam):
    """The cross-validated mean deviance: AID-CG, AID-FP and ITD against central finite
    differences in log lam (1e-5 relative)."""
    X, y = _data(name)
    model = InnerModel(_datafit(name), penalty, fit_intercept=True)
    crit = CrossVal(cv=3)
    lam = np.array(lam)
    solver = CoordinateDescent(tol=1e-13)
    eps = 1e-5
    fd = []
    for j in range(lam.shape[0]):
        up, down = lam.copy(), lam.copy()
        up[j] *= np.exp(eps)
        down[j] *= np.exp(-eps)
        fd.append((crit.value(model, X, y, up, solver=solver).value
                   - crit.value(model, X, y, down, solver=solver).value) / (2 * eps))
    for engine in ("aid-cg", "aid-fp", "itd"):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # converged: no ConvergenceWarning
            res = crit.value_and_grad(model, X, y, lam, solver=solver, engine=engine)
        np.testing.assert_allclose(res.grad, fd, rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("name, metric", [("poisson", mean_poisson_deviance),
                                          ("gamma", mean_gamma_deviance),
                                          ("tweedie", lambda y, m: mean_tweedie_deviance(
                                              y, m, power=1.5))])
def test_heldout_loss_is_the_mean_deviance(name, metric):
    """``loss="auto"`` is scikit-learn's mean deviance of the model's power; "squared"
    the mean squared error of the means' log-predictions ``z``."""
    X, y = _data(name)
    X_val, y_val = _data(name, n=40, seed=3)
    model = InnerModel(_datafit(name), "l2", fit_intercept=True)
    lam = np.array([0.05])
    pgmap = model.make_map(X, model.encode(y), center=True)
    w = pgmap.design.to_original(CoordinateDescent(tol=1e-12).solve(pgmap, lam).w)
    z = X_val @ w[:-1] + w[-1]
    solver = CoordinateDescent(tol=1e-12)
    assert model.datafit_class.outer_losses == (name, "squared")
    for loss in ("auto", name):
        value = HeldOut(X_val, y_val, loss=loss).value(model, X, y, lam, solver=solver).value
        assert value == pytest.approx(metric(y_val, np.exp(z)), rel=1e-10)
    value = HeldOut(X_val, y_val, loss="squared").value(model, X, y, lam, solver=solver).value
    assert value == pytest.approx(np.mean((z - y_val) ** 2), rel=1e-10)
    with pytest.raises(ValueError, match="does not match the model's datafit"):
        HeldOut(X_val, y_val, loss="logistic").value(model, X, y, lam, solver=solver)


def test_targets_are_checked_with_clear_errors():
    X, y = _data("poisson")
    with pytest.raises(ValueError, match=r"Poisson datafit needs targets y >= 0"):
        InnerModel("poisson", "l2").encode(np.r_[y[:-1], -1.0])
    with pytest.raises(ValueError, match=r"positive mean"):
        InnerModel("poisson", "l2").encode(np.zeros(5))
    with pytest.raises(ValueError, match=r"Gamma datafit needs targets y > 0"):
        InnerModel("gamma", "l2").encode(y)  # has zeros
    with pytest.raises(ValueError, match=r"Tweedie datafit needs targets y >= 0"):
        InnerModel(Tweedie(1.5), "l2").encode(-y)
    with pytest.raises(ValueError, match=r"1 < power < 2"):
        Tweedie(3.0)
    with pytest.raises(ValueError, match=r"convex for 1 <= power <= 2"):
        from_estimator(TweedieRegressor(power=3.0), y)
    with pytest.raises(ValueError, match=r"only the log link"):
        from_estimator(TweedieRegressor(power=1.5, link="identity"), y)
    with pytest.raises(ValueError, match=r"alpha > 0"):
        from_estimator(PoissonRegressor(alpha=0.0), y)
    assert from_estimator(TweedieRegressor(power=1.0), y).datafit == "poisson"
    assert from_estimator(TweedieRegressor(power=2.0), y).datafit == "gamma"
    assert from_estimator(TweedieRegressor(power=1.3), y).get_datafit().power == 1.3


@pytest.mark.parametrize("datafit", [Poisson(), Gamma(), Tweedie(1.5)])
def test_data_curvature_and_null_model(datafit):
    """No global curvature bound (``curvature = None``): the map's curvature is the
    largest second derivative at the saturated and the null means; the null model is
    ``log(mean(y))``, where the intercept's gradient vanishes."""
    name = {"poisson": "poisson", "gamma": "gamma", "tweedie": "tweedie"}[datafit.name]
    X, y = _data(name)
    assert type(datafit).curvature is None
    pgmap = InnerModel(datafit, "l2", fit_intercept=True).make_map(X, y)
    p = POWERS[name]
    ybar = y.mean()
    h_sat = y[y > 0] ** (2 - p)
    h_null = (2 - p) * ybar ** (2 - p) + (p - 1) * y * ybar ** (1 - p)
    assert pgmap.curvature == pytest.approx(max(h_sat.max(), h_null.max()), rel=1e-12)
    assert pgmap.lipschitz == pytest.approx(
        pgmap.curvature * np.linalg.norm(np.c_[X, np.ones(len(y))], 2) ** 2 / len(y))
    b = datafit.intercept_only(y)[0]
    assert b == pytest.approx(np.log(ybar))
    assert abs(datafit.raw_grad(y, np.full(y.shape, b)).sum()) < 1e-12


# -- estimators ---------------------------------------------------------------------------
ESTIMATORS = [PoissonRegressorHyperGrad(cv=3, max_iter=5),
              GammaRegressorHyperGrad(penalty="l1", cv=3, max_iter=5),
              TweedieRegressorHyperGrad(power=1.5, penalty="elasticnet", cv=3, max_iter=5)]


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=smooth_search_weight_checks)
def test_sklearn_compatible(estimator, check):
    """Every scikit-learn estimator check passes, but, for a pure L2 penalty, the two of
    sample weights as repeated rows under their own folds (see
    :func:`smooth_search_weight_checks`)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


@pytest.mark.parametrize("name, cls, sk", [
    ("poisson", PoissonRegressorHyperGrad(cv=3), PoissonRegressor),
    ("gamma", GammaRegressorHyperGrad(cv=3), GammaRegressor),
    ("tweedie", TweedieRegressorHyperGrad(power=1.5, cv=3),
     lambda **kw: TweedieRegressor(power=1.5, link="log", **kw))])
def test_estimator_refit_is_sklearns_model(name, cls, sk):
    """The L2 estimators hand ``alpha_`` to scikit-learn's GLM and get its coefficients;
    ``predict`` gives the means and ``score`` scikit-learn's D²."""
    X, y = _data(name, n=150)
    est = cls.fit(X, y)
    ref = sk(alpha=est.alpha_, tol=1e-12, solver="newton-cholesky").fit(X, y)
    np.testing.assert_allclose(est.coef_, ref.coef_, rtol=1e-5, atol=1e-7)
    assert est.intercept_ == pytest.approx(ref.intercept_, rel=1e-6, abs=1e-7)
    np.testing.assert_allclose(est.predict(X), ref.predict(X), rtol=1e-5)
    assert est.score(X, y) == pytest.approx(ref.score(X, y), rel=1e-6)
    assert est.at_bound_.tolist() == [0] and est.best_loss_ > 0


@pytest.mark.parametrize("penalty", ["l1", "elasticnet"])
def test_sparse_penalties_select_features(penalty):
    """With an L1 part the chosen model is sparse and its CV deviance is no worse than
    the ridge's by more than 2%."""
    X, y = _data("poisson", n=200, p=20)
    est = PoissonRegressorHyperGrad(penalty=penalty, cv=3).fit(X, y)
    ridge = PoissonRegressorHyperGrad(cv=3).fit(X, y)
    assert np.count_nonzero(est.coef_) < 20
    assert np.all(est.coef_[:3] != 0)
    assert est.best_loss_ <= 1.02 * ridge.best_loss_
    if penalty == "elasticnet":
        assert 0 < est.l1_ratio_ < 1


# -- HyperGradSearchCV on scikit-learn's GLMs --------------------------------------------
_SCORERS = {"poisson": "neg_mean_poisson_deviance", "gamma": "neg_mean_gamma_deviance",
            "tweedie": "neg_mean_tweedie_deviance"}


@pytest.mark.parametrize("name", ["poisson", "gamma", "tweedie"])
def test_search_matches_a_grid_search(name):
    """HyperGradSearchCV(PoissonRegressor()) (Gamma, Tweedie) lands within 1% of a
    GridSearchCV over 20 alphas spanning the scan, on the same folds and by scikit-learn's
    mean-deviance scorer; it returns a plain scikit-learn model, and its rows are the
    scores GridSearchCV records at the same alphas (to the accuracy of the estimator's own
    ``tol=1e-12``, at which the scan's rows stop)."""
    X, y = _data(name, n=150, p=10)
    est = _sklearn(name, 1.0)
    cv = KFold(4, shuffle=True, random_state=0)
    search = HyperGradSearchCV(est, cv=cv, scoring=_SCORERS[name]).fit(X, y)
    assert type(search.best_estimator_) is type(est)
    if name != "tweedie":
        assert repr(search.scorer_) == repr(get_scorer(_SCORERS[name]))
    alphas = [p["alpha"] for p in search.cv_results_["params"]]
    grid = GridSearchCV(est, {"alpha": np.geomspace(min(alphas), max(alphas), 20)}, cv=cv,
                        scoring=search.scorer_).fit(X, y)
    assert search.best_score_ >= grid.best_score_ - 0.01 * abs(grid.best_score_)
    rows = GridSearchCV(est, {"alpha": alphas[:3]}, cv=cv, scoring=search.scorer_).fit(X, y)
    np.testing.assert_allclose(search.cv_results_["mean_test_score"][:3],
                               rows.cv_results_["mean_test_score"], rtol=1e-5)
    assert search.score(X, y) == pytest.approx(search.scorer_(search.best_estimator_, X, y))


@pytest.mark.parametrize("name", ["poisson"])
def test_search_rows_are_solved_to_the_estimators_tol(name):
    """A value-only row is what GridSearchCV records for the user's estimator (here
    ``lbfgs`` at ``tol=1e-3``): solved until the gradient's largest entry is below that
    ``tol``, it equals ``cross_val_score`` of a tight estimator at the row's alpha to the
    accuracy that tol gives (the user's estimator's own rows are off by up to 1.2e-4
    here, ours by up to 1.9e-4), and is not solved tighter; the rows with a
    hypergradient (from the second visit of the best scan point on) and the best row
    are solved to a relative gap of 1e-10 (scores to about 1e-6). How far inside the
    rule a scan row's solve ends varies with its last step (down to 2e-6 here): every
    scan row is still tenfold less accurate than the least accurate tight row."""
    X, y = _data(name, n=150, p=10)
    user = _sklearn(name, 1.0).set_params(tol=1e-3, solver="lbfgs")
    cv = KFold(4, shuffle=True, random_state=0)
    search = HyperGradSearchCV(user, cv=cv, scoring=_SCORERS[name]).fit(X, y)
    alphas = np.array([params["alpha"] for params in search.cv_results_["params"]])
    errors = []
    for alpha, score in zip(alphas, search.cv_results_["mean_test_score"]):
        tight = np.mean(cross_val_score(clone(_sklearn(name, alpha)), X, y, cv=cv,
                                        scoring=search.scorer_))
        errors.append(abs(score - tight) / abs(tight))
    errors = np.array(errors)
    descent = next(i for i in range(len(alphas))
                   if np.any(np.isclose(alphas[:i], alphas[i], rtol=1e-12, atol=0)))
    assert errors.max() <= 5e-4
    # the scan's rows: the user's accuracy, none solved to the tight gap
    assert np.sum(errors[:descent] > 1e-5) >= 2
    assert errors[:descent].min() > 10 * errors[descent:].max()
    assert errors[descent:].max() <= 1e-6
    assert errors[search.best_index_] <= 1e-6


@pytest.mark.parametrize("name", ["gamma"])
def test_search_is_the_same_on_csc_and_in_threads(name):
    """The solutions' reference Hessians travel with the warm starts (the next solve's
    preconditioner): a search on a CSC ``X``, and one whose folds run in two threads,
    evaluate the same points to the same scores (1e-10) as the serial dense search."""
    from joblib import parallel_config

    X, y = _data(name, n=150, p=10)
    cv = KFold(3, shuffle=True, random_state=0)

    def scores(X, n_jobs=None):
        search = HyperGradSearchCV(_sklearn(name, 1.0).set_params(solver="lbfgs", tol=1e-4),
                                   cv=cv, scoring=_SCORERS[name], n_jobs=n_jobs).fit(X, y)
        return np.array([p["alpha"] for p in search.cv_results_["params"]]), \
            search.cv_results_["mean_test_score"]

    alphas, reference = scores(X)
    with parallel_config(backend="threading"):
        threads = scores(X, n_jobs=2)
    for other in (scores(sp.csc_matrix(X)), threads):
        np.testing.assert_allclose(other[0], alphas, rtol=1e-10)
        np.testing.assert_allclose(other[1], reference, rtol=1e-10)


def test_search_refuses_other_glms():
    X, y = _data("poisson", n=60, p=5)
    with pytest.raises(ValueError, match="convex for 1 <= power <= 2"):
        HyperGradSearchCV(TweedieRegressor(power=3.0)).fit(X, y + 1)
    with pytest.raises(ValueError, match="targets y >= 0"):
        HyperGradSearchCV(PoissonRegressor()).fit(X, -y)


# -- the declared curvature and the search space ------------------------------------------
def test_a_datafit_without_a_curvature_bound_must_give_one_at_the_data():
    class NoBound(Poisson):
        name = "test-no-bound"
        data_curvature = BaseDatafit.data_curvature

    with pytest.raises(ValueError, match="curvature=None.*data_curvature"):
        register_datafit(NoBound)


@pytest.mark.parametrize("name", ["poisson", "gamma", "tweedie"])
@pytest.mark.parametrize("penalty, lam", [("l2", [0.05]), ("l1", [0.02])])
def test_minibatch_saga_reaches_the_solution(name, penalty, lam):
    """The minibatch kernels' log-link code (``kernel_code = 4``, the power as parameter):
    SAGA, its step from the data curvature, reaches coordinate descent's objective."""
    X, y = _data(name, n=150)
    model = InnerModel(_datafit(name), penalty, fit_intercept=True)
    pgmap = model.make_map(X, model.encode(y), center=True)
    ref = CoordinateDescent(tol=1e-12).solve(pgmap, lam).w
    res = StochasticProxGradient(tol=1e-9, random_state=0, max_epochs=3000).solve(pgmap, lam)
    assert res.converged
    obj, obj_ref = pgmap.objective(res.w, np.array(lam)), pgmap.objective(ref, np.array(lam))
    assert abs(obj - obj_ref) <= 1e-7 * obj_ref


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # NSID's own
def test_nsid_searches_a_glm():
    """NSID (minibatch SAGA inner solves, ``solver="auto"``) reaches AID-CG's CV loss."""
    X, y = _data("poisson", n=200)
    est = PoissonRegressorHyperGrad(hypergradient="nsid", cv=3, random_state=0).fit(X, y)
    ref = PoissonRegressorHyperGrad(cv=3).fit(X, y)
    assert est.best_loss_ <= ref.best_loss_ * (1 + 1e-3)


@pytest.mark.parametrize("name", ["poisson", "gamma", "tweedie"])
def test_search_scales_of_a_ridge_glm(name):
    """kappa is the mean Hessian diagonal at the null model (``ybar^(2-p)`` times the mean
    column variance), kappa_min the same with the geometric mean; an L2 penalty is
    scanned along one path of distinct L2 weights relative to kappa_min, searched from
    ``l2_range[0] kappa_min`` to ``l2_range[1] kappa``, the L1 scale not read."""
    X, y = _data(name)
    model = InnerModel(_datafit(name), "l2", fit_intercept=True)
    scales = search_scales(model.make_map(X, model.encode(y)))
    var = X.var(axis=0)
    kappa = y.mean() ** (2 - POWERS[name]) * var.mean()
    kappa_min = y.mean() ** (2 - POWERS[name]) * np.exp(np.log(var).mean())
    assert scales.l2 == pytest.approx(kappa, rel=1e-10)
    assert scales.l2_low == pytest.approx(kappa_min, rel=1e-10)
    assert kappa_min < 0.99 * kappa
    (path,) = scales.scan(GLM)
    np.testing.assert_allclose(path[:, 0], kappa_min * GLM.scan_ridge, rtol=1e-10)
    np.testing.assert_allclose(scales.scan_back(GLM)[:, 0], kappa_min * GLM.scan_back,
                               rtol=1e-10)
    lo, hi = scales.bounds(GLM)
    np.testing.assert_allclose([lo[0], hi[0]], [kappa_min * GLM.l2_range[0],
                                                kappa * GLM.l2_range[1]], rtol=1e-10)


@pytest.mark.parametrize("signal", [True, False])
def test_glm_scan_goes_past_its_first_point_only_when_it_is_the_best(signal):
    """The ridge path of a GLM's scan starts at kappa_min and goes down a decade a point;
    where the deviance falls below it (y follows X) no stronger weight is evaluated, where
    it is the best of its path (y independent of X: the null model predicts best) the
    scan goes on at 10, 100, 1000 kappa_min (the upper bound is 1000 kappa). Either
    way the search ends within 1e-6 of a 30-point grid's best CV deviance."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((90, 8))
    z = X[:, :3] @ np.array([0.6, -0.4, 0.3]) if signal else np.zeros(90)
    y = rng.poisson(np.exp(z + 0.5)).astype(float)
    est, cv = _sklearn("poisson", 1.0), KFold(3, shuffle=True, random_state=0)
    search = HyperGradSearchCV(est, cv=cv, scoring="neg_mean_poisson_deviance").fit(X, y)
    alphas = np.array([p["alpha"] for p in search.cv_results_["params"]])
    scan = [1.0, 0.1, 0.01, 1e-3, 1e-4] if signal else [1.0, 0.1, 10.0, 100.0, 1000.0]
    np.testing.assert_allclose(alphas[:5] / alphas[0], scan, rtol=1e-10)
    grid = GridSearchCV(est, {"alpha": np.geomspace(alphas.min(), alphas.max(), 30)},
                        cv=cv, scoring="neg_mean_poisson_deviance").fit(X, y)
    assert search.best_score_ >= grid.best_score_ - 1e-6 * abs(grid.best_score_)


@pytest.mark.parametrize("power", [1.1, 1.5, 1.9])
def test_tweedie_conjugate_point_is_the_root(power):
    r"""The point of Tweedie's dual term solves :math:`e^{(2-p)u} - y e^{(1-p)u} = a` to
    rounding, for targets and dual values over six orders of magnitude."""
    rng = np.random.default_rng(0)
    datafit = Tweedie(power)
    for scale in (1e-3, 1.0, 1e3):
        y = rng.poisson(2.0, 500) * rng.gamma(2.0, 1.0, 500) * scale
        a = rng.standard_normal(500) * scale ** (2 - power)
        a[y == 0] = np.abs(a[y == 0]) + 1e-3
        u = datafit._conjugate_point(y, a)
        e2, e1 = np.exp((2 - power) * u), y * np.exp((1 - power) * u)
        np.testing.assert_array_less(np.abs(e2 - e1 - a), 1e-14 * (e2 + e1 + np.abs(a)))


@pytest.mark.parametrize("estimator, y_bad, match", [
    (GammaRegressor(), 0.0, r"y > 0"), (PoissonRegressor(), -1.0, r"y >= 0")],
    ids=["gamma", "poisson"])
def test_search_refuses_targets_out_of_the_family_before_any_fold(estimator, y_bad, match):
    """A target the family does not take is refused by the datafit's own message, not by
    a held-out metric of the scoring's set-up (scikit-learn's mean_tweedie_deviance)."""
    rng = np.random.RandomState(0)
    X = rng.randn(30, 3)
    y = np.exp(0.3 * X[:, 0])
    y[0] = y_bad
    with pytest.raises(ValueError, match=match):
        HyperGradSearchCV(estimator, cv=3).fit(X, y)


def test_long_steps_of_a_log_link_do_not_warn():
    """A Newton step whose trial point overflows ``exp`` is not a descent (its slope inf or
    nan), so the line search halves it, silently: ``y * 1e-6`` warned "overflow
    encountered in exp" from the line search; the Gamma model is scale-free in ``y``."""
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True)
    X, y = X[:150], y[:150] / y[:150].mean()
    ref = GammaRegressorHyperGrad(cv=3).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est = GammaRegressorHyperGrad(cv=3).fit(X, y * 1e-6)
    assert est.alpha_ == pytest.approx(ref.alpha_, rel=1e-6)
    np.testing.assert_allclose(est.coef_, ref.coef_, rtol=1e-5, atol=1e-8)
    assert est.intercept_ == pytest.approx(ref.intercept_ + np.log(1e-6), rel=1e-8)


@pytest.mark.parametrize("pipeline", [False, True])
def test_search_warns_when_the_refit_stops_far_from_the_minimum(pipeline):
    """``PoissonRegressor`` on targets times 1e-6: the null model's gradient is below its
    ``tol``, its refit returns the intercept alone (``n_iter_ = 0``, score 0) while the
    search's best score is that of the minimum (0.48): a ConvergenceWarning says so,
    with how far the refit's predictions are; at ``tol=1e-12`` the refit reaches it,
    silently, and the search's score is the refit's ``cross_val_score``."""
    X, y = load_diabetes(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    cv = KFold(5, shuffle=True, random_state=0)
    grid = {"alpha": np.logspace(-5, 1, 8)}
    for tol, far in [(1e-4, True), (1e-12, False)]:
        est = PoissonRegressor(tol=tol, max_iter=1000)
        est = make_pipeline(FunctionTransformer(), est) if pipeline else est
        g = {("poissonregressor__" if pipeline else "") + k: v for k, v in grid.items()}
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            search = HyperGradSearchCV(est, g, cv=cv).fit(X, y * 1e-6)
        messages = [str(w.message) for w in seen if w.category is ConvergenceWarning]
        assert search.best_score_ == pytest.approx(0.478, abs=1e-3)
        assert any("away from its minimum" in m for m in messages) == far
        if not far:
            params = search.best_params_
            assert cross_val_score(clone(est).set_params(**params), X, y * 1e-6,
                                   cv=cv).mean() == pytest.approx(search.best_score_, rel=1e-5)
