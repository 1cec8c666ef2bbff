"""The squared-hinge linear SVM (:mod:`skhypergrad.squared_hinge`): its conjugate, the
solution of scikit-learn's ``LinearSVC`` (liblinear's objective, penalized synthetic
intercept), every engine against finite differences, the estimator's checks, and
``HyperGradSearchCV(LinearSVC())`` against ``GridSearchCV`` on the same folds."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn
from sklearn.datasets import make_blobs
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import make_scorer
from sklearn.model_selection import (GridSearchCV, StratifiedKFold, cross_val_score,
                                     train_test_split)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC
from sklearn.utils.estimator_checks import parametrize_with_checks

from skhypergrad import NSID, CrossVal, HeldOut, HyperGradSearchCV, LinearSVCHyperGrad
from skhypergrad._linear_adapters import ADAPTERS
from skhypergrad._search_space import SQUARED_HINGE
from skhypergrad.models import InnerModel, from_estimator
from skhypergrad.solvers import (CoordinateDescent, ProxGradient, StochasticProxGradient,
                                 duality_gap)
from skhypergrad.squared_hinge import (SquaredHinge, SquaredHingeOvR, append_intercept_column,
                                       squared_hinge_loss, squared_hinge_scorer)


def _data(n=90, p=8, n_classes=2, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    t = X[:, 0] + 0.5 * X[:, 1] - 0.3 * X[:, 2] + 0.7 * rng.standard_normal(n) + 0.3
    if n_classes == 2:
        return X, np.where(t > 0, "pos", "neg")
    return X, np.digitize(t, np.quantile(t, np.linspace(0, 1, n_classes + 1)[1:-1]))


def _solver(n_classes):
    return CoordinateDescent(tol=1e-14)


# -- the datafit -------------------------------------------------------------------------
@pytest.mark.parametrize("datafit", [SquaredHinge(), SquaredHingeOvR(3)], ids=repr)
def test_dual_term_is_a_fenchel_lower_bound(datafit):
    r"""Fenchel-Young: :math:`F(z) \ge D(\theta) - \theta^T z` for every dual point
    :math:`\theta` in the domain, with equality at :math:`\theta = -\nabla_z F(z)`."""
    rng = np.random.default_rng(0)
    n = 40
    K = datafit.n_outputs
    y = datafit.encode_classes(rng.integers(0, max(K, 2), n))
    shape = (n,) if K == 1 else (n, K)
    signs = y if K == 1 else datafit._signs(y)
    for _ in range(20):
        z = 2.0 * rng.standard_normal(shape)
        theta = signs * rng.uniform(0.0, 3.0 / n, shape)  # y_i theta_i >= 0: the domain
        assert datafit.loss(y, z) >= datafit.dual_term(y, theta) - np.sum(theta * z) - 1e-14
        theta = -datafit.raw_grad(y, z)
        assert datafit.loss(y, z) == pytest.approx(
            datafit.dual_term(y, theta) - np.sum(theta * z), rel=1e-12, abs=1e-14)
    assert datafit.dual_term(y, -signs / n) == -np.inf  # outside the domain


def test_null_model_and_heldout_loss():
    """The intercept-only model is the mean label; the held-out loss "squared_hinge" is
    :func:`squared_hinge_loss` of the decision function, whatever the classes."""
    y = np.array([1.0, 1.0, 1.0, -1.0])
    b = SquaredHinge().intercept_only(y)[0]
    grid = np.linspace(-1.5, 1.5, 3001)
    assert b == pytest.approx(grid[np.argmin([SquaredHinge().loss(y, np.full(4, g))
                                              for g in grid])], abs=1e-3)
    for n_classes in (2, 3):
        X, labels = _data(n_classes=n_classes)
        X_val, y_val = _data(n_classes=n_classes, seed=1)
        model = InnerModel("squared_hinge", "l2").bind(labels)
        lam = np.array([0.01])
        pgmap = model.make_map(X, model.encode(labels))
        w = _solver(n_classes).solve(pgmap, lam).w
        decision = X_val @ pgmap.design.coef(w)
        expected = squared_hinge_loss(y_val, decision, labels=model.classes)
        for loss in ("auto", "squared_hinge"):
            value = HeldOut(X_val, y_val, loss=loss).value(model, X, labels, lam,
                                                           solver=_solver(n_classes)).value
            assert value == pytest.approx(expected, rel=1e-10)
        with pytest.raises(ValueError, match="does not match the model's datafit"):
            HeldOut(X_val, y_val, loss="logistic").value(model, X, labels, lam,
                                                         solver=_solver(n_classes))


@pytest.mark.parametrize("penalty", ["l2", "l1"])
def test_ovr_is_solved_output_by_output(penalty):
    """One-vs-rest is "separable": coordinate descent solves the K binary problems in turn
    and reaches FISTA's optimum of the joint problem, its gap measured on the whole."""
    X, y = _data(n_classes=3)
    model = InnerModel("squared_hinge", penalty, fit_intercept=True).bind(y)
    assert isinstance(model.get_datafit(), SquaredHingeOvR)
    pgmap = model.make_map(X, model.encode(y), center=True)
    lam = np.array([0.01])
    cd = CoordinateDescent(tol=1e-12).solve(pgmap, lam)
    ref = ProxGradient(tol=1e-12, max_iter=200_000).solve(pgmap, lam)
    assert cd.converged and ref.converged and cd.gap <= 1e-12
    assert pgmap.objective(cd.w, lam) <= pgmap.objective(ref.w, lam) + 1e-12
    np.testing.assert_allclose(cd.w, ref.w, atol=1e-5)


# -- the solution: liblinear's objective -------------------------------------------------
def _liblinear_objective(X, y, C, penalty, coef, intercept):
    """``C sum_i max(0, 1 - y_i (x_i w + b))^2 + R(w, b)`` summed over the one-vs-rest
    problems (``coef`` of shape (K, p)), ``R`` liblinear's penalty on ``(w, b)``."""
    classes = np.unique(y)
    decision = X @ coef.T + intercept
    total = 0.0
    for k in range(coef.shape[0]):
        sign = np.where(y == classes[-1 if coef.shape[0] == 1 else k], 1.0, -1.0)
        margins = np.maximum(1.0 - sign * decision[:, k], 0.0)
        wt = np.append(coef[k], intercept[k])
        reg = 0.5 * wt @ wt if penalty == "l2" else np.abs(wt).sum()
        total += C * margins @ margins + reg
    return total


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("penalty", ["l2", "l1"])
@pytest.mark.parametrize("C", [0.01, 1.0])
def test_solution_is_linearsvc(penalty, C, n_classes):
    """The refit of ``LinearSVCHyperGrad``'s model at ``C`` reaches liblinear's optimum (to
    1e-6 relative in objective, and below it), dense and sparse."""
    X, y = _data(n=120, p=10, n_classes=n_classes)
    sk = LinearSVC(C=C, penalty=penalty, dual=False, tol=1e-12, max_iter=100_000,
                   random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sk.fit(X, y)
    ref = _liblinear_objective(X, y, C, penalty, sk.coef_, sk.intercept_)
    model = from_estimator(sk, y)
    for storage in (np.asarray, sp.csr_matrix):
        Xa = append_intercept_column(storage(X))
        w = _solver(n_classes).solve(model.make_map(Xa, model.encode(y)), model.lam).w
        W = w.reshape(X.shape[1] + 1, -1).T
        ours = _liblinear_objective(X, y, C, penalty, W[:, :-1], W[:, -1])
        assert ours <= ref * (1 + 1e-6) and ours == pytest.approx(ref, rel=1e-6)


def _separable(seed=42):
    """The data of scikit-learn's sample-weight checks: 15 rows of 30 uniform features,
    three classes, integer weights (zeros included), and the rows repeated by them."""
    rng = np.random.RandomState(seed)
    X = rng.rand(15, 30)
    y = rng.randint(0, 3, size=15)
    sw = rng.randint(0, 5, size=15).astype(float)
    return X, y, sw, X.repeat(sw.astype(int), axis=0), y.repeat(sw.astype(int))


@pytest.mark.parametrize("C", [1e2, 1e4])
def test_l2_near_separability_at_large_C(C):
    """Separable data with more features than rows, at large ``C``: the L2 problem (solved
    by Newton's method, the squared hinge being ``piecewise_quadratic``) reaches
    liblinear's optimum to 1e-9 in a few iterations per class (coordinate descent took
    millions of epochs at ``C = 1e4``), and sample weights equal repeated rows to 1e-9."""
    X, y, sw, Xr, yr = _separable()
    sk = LinearSVC(C=C, dual=False, tol=1e-12, max_iter=100_000, random_state=0).fit(Xr, yr)
    ref = _liblinear_objective(Xr, yr, C, "l2", sk.coef_, sk.intercept_)
    model = from_estimator(sk, yr)
    res = _solver(3).solve(model.make_map(append_intercept_column(Xr), model.encode(yr)),
                           model.lam)
    assert res.converged and res.n_iter <= 3 * 15
    W = res.w.reshape(X.shape[1] + 1, -1).T
    assert _liblinear_objective(Xr, yr, C, "l2", W[:, :-1], W[:, -1]) == \
        pytest.approx(ref, rel=1e-9)
    weighted = model.make_map(append_intercept_column(X), model.encode(y), sample_weight=sw)
    res_w = _solver(3).solve(weighted, model.lam)
    assert res_w.converged
    np.testing.assert_allclose(res_w.w, res.w, rtol=1e-9, atol=1e-9)


def _binary_maps(model, Xa, y, sample_weight=None):
    """The one-vs-rest problem's binary maps, one per class (as the solver splits it)."""
    maps = []
    for k in range(len(model.classes)):
        binary = InnerModel("squared_hinge", "l1", False, lam=model.lam).bind(
            np.where(y == model.classes[k], 1, 0))
        maps.append(binary.make_map(Xa, binary.encode(np.where(y == model.classes[k], 1, 0)),
                                    sample_weight=sample_weight))
    return maps


@pytest.mark.parametrize("C", [1e4, 1e6])
def test_l1_near_separability_at_large_C(C):
    """The L1 problem on the checks' separable data at large ``C`` (Newton's method on the
    support with fixed signs, :mod:`skhypergrad.solvers._active_set_newton`) converges
    without a warning, below liblinear's objective (which approaches it from above with
    its iterations), each class's duality gap below 1e-8 of its objective, in tens of
    iterations (coordinate descent: a million epochs, unconverged); sample weights equal
    repeated rows to 1e-8."""
    X, y, sw, Xr, yr = _separable()
    sk = LinearSVC(C=C, penalty="l1", dual=False, tol=1e-12, max_iter=20_000, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sk.fit(Xr, yr)
    ref = _liblinear_objective(Xr, yr, C, "l1", sk.coef_, sk.intercept_)
    model = from_estimator(sk, yr)
    Xa = append_intercept_column(Xr)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        res = _solver(3).solve(model.make_map(Xa, model.encode(yr)), model.lam)
        weighted = model.make_map(append_intercept_column(X), model.encode(y),
                                  sample_weight=sw)
        res_w = _solver(3).solve(weighted, model.lam)
    assert res.converged and res.n_iter <= 3 * 60
    W = res.w.reshape(X.shape[1] + 1, -1).T
    assert _liblinear_objective(Xr, yr, C, "l1", W[:, :-1], W[:, -1]) <= ref * (1 + 1e-6)
    for k, pgmap in enumerate(_binary_maps(model, Xa, yr)):
        primal, _, gap, _ = duality_gap(pgmap, W[k], model.lam)
        assert 0 <= gap <= 1e-8 * primal
    np.testing.assert_allclose(res_w.w, res.w, rtol=1e-8, atol=1e-8)


def test_l1_tolerance_is_relative_to_the_objective():
    """At ``C = 1e6`` on separable data the optimum is about 1e-7 of the null model's loss:
    a solve to ``tol=1e-6`` has its objective within 1e-6 of the optimum (relative to
    the gap's scale alone, it stopped 50% above it)."""
    X, y, _, Xr, yr = _separable()
    model = from_estimator(LinearSVC(C=1e6, penalty="l1", dual=False), yr)
    pgmap = model.make_map(append_intercept_column(Xr), model.encode(yr))
    loose = CoordinateDescent(tol=1e-6).solve(pgmap, model.lam)
    tight = CoordinateDescent(tol=1e-12).solve(pgmap, model.lam)
    assert loose.converged and tight.converged
    assert pgmap.objective(loose.w, model.lam) == pytest.approx(
        pgmap.objective(tight.w, model.lam), rel=1e-6)


# -- hypergradients ----------------------------------------------------------------------
@pytest.mark.parametrize("engine", ["aid-cg", "aid-fp", "itd"])
@pytest.mark.parametrize("penalty, n_classes", [("l2", 2), ("l1", 2), ("l2", 3)])
def test_hypergradient_matches_finite_differences(engine, penalty, n_classes):
    """Every engine against central finite differences of the 3-fold CV squared hinge
    (at a ``lam`` where no training margin sits on the kink ``y z = 1``)."""
    X, y = _data(n_classes=n_classes)
    Xa = append_intercept_column(X)
    model = InnerModel("squared_hinge", penalty).bind(y)
    crit, solver = CrossVal(cv=3), _solver(n_classes)
    lam = np.array([0.02])
    res = crit.value_and_grad(model, Xa, y, lam, solver=solver, engine=engine)
    eps = 1e-4  # truncation ~eps^2 = 1e-8; the solves' rounding of the values / eps ~1e-7
    fd = (crit.value(model, Xa, y, lam * np.exp(eps), solver=solver).value
          - crit.value(model, Xa, y, lam * np.exp(-eps), solver=solver).value) / (2 * eps)
    np.testing.assert_allclose(res.grad, [fd], rtol=1e-5)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_minibatch_kernels(n_classes):
    """The minibatch kernels' code 3: SAGA reaches the deterministic optimum, and NSID's
    stochastic hypergradient is within its tolerance (0.1) of AID's."""
    X, y = _data(n=300, n_classes=n_classes)
    Xa = append_intercept_column(X)
    model = InnerModel("squared_hinge", "l2").bind(y)
    lam = np.array([0.01])
    pgmap = model.make_map(Xa, model.encode(y))
    ref = _solver(n_classes).solve(pgmap, lam).w
    saga = StochasticProxGradient(tol=1e-10, random_state=0).solve(pgmap, lam)
    assert saga.converged
    assert pgmap.objective(saga.w, lam) == pytest.approx(pgmap.objective(ref, lam), rel=1e-9)
    crit = CrossVal(cv=3)
    exact = crit.value_and_grad(model, Xa, y, lam, solver=_solver(n_classes),
                                engine="aid-cg").grad
    noisy = crit.value_and_grad(model, Xa, y, lam, solver=_solver(n_classes),
                                engine=NSID(random_state=0)).grad
    np.testing.assert_allclose(noisy, exact, rtol=0.1)


# -- the estimator -----------------------------------------------------------------------

@parametrize_with_checks([LinearSVCHyperGrad(cv=3, max_iter=3),
                          LinearSVCHyperGrad(penalty="l1", cv=3, max_iter=3)])
def test_sklearn_compatible(estimator, check):
    """Every scikit-learn estimator check passes (binary and multiclass data), the two of
    sample weights as repeated rows included: on their separable data (15 rows, 30
    columns) the search goes to large ``C``, where the weighted and the repeated fits
    reach the same optimum (one-vs-rest keeps its Newton model with weights) and the
    searches take the same path."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


@pytest.mark.parametrize("penalty", ["l2", "l1"])
def test_estimator_parametrization_is_linearsvcs(penalty):
    """``C_`` handed to ``LinearSVC`` reproduces ``coef_`` and ``intercept_``."""
    X, y = _data(n=150)
    est = LinearSVCHyperGrad(penalty=penalty, cv=3, intercept_scaling=2.0).fit(X, y)
    sk = LinearSVC(C=est.C_, penalty=penalty, dual=False, intercept_scaling=2.0,
                   tol=1e-12, max_iter=100_000, random_state=0)
    with warnings.catch_warnings():  # liblinear stops on its iterations at this tol
        warnings.simplefilter("ignore", ConvergenceWarning)
        sk.fit(X, y)
    scale = np.abs(sk.coef_).max()
    np.testing.assert_allclose(est.coef_, sk.coef_, atol=1e-5 * scale)
    np.testing.assert_allclose(est.intercept_, sk.intercept_, atol=1e-5 * scale)
    np.testing.assert_array_equal(est.predict(X), sk.predict(X))
    assert est.lam_[0] == pytest.approx(1.0 / (est.C_ * X.shape[0]))


def test_from_estimator_refuses_what_it_cannot_differentiate():
    y = np.array([0, 1, 0, 1])
    for est, match in [(LinearSVC(loss="hinge"), "squared_hinge"),
                       (LinearSVC(class_weight="balanced"), "class_weight"),
                       (LinearSVC(C=0.0), "C > 0")]:
        with pytest.raises(ValueError, match=match):
            from_estimator(est, y)


# -- the search against a grid -----------------------------------------------------------
@pytest.mark.parametrize("penalty, n_classes", [("l2", 2), ("l1", 2), ("l2", 3)])
def test_search_matches_grid_search(penalty, n_classes):
    """HyperGradSearchCV(LinearSVC) lands within 1% of GridSearchCV with 20 values of
    ``C`` on the same folds, by the CV squared hinge both report; its scores are those of
    scikit-learn's ``LinearSVC`` on those folds, and it returns a plain ``LinearSVC``."""
    X, y = _data(n=150, p=10, n_classes=n_classes)
    cv = StratifiedKFold(4, shuffle=True, random_state=0)
    svc = LinearSVC(penalty=penalty, dual=False, tol=1e-10, max_iter=100_000)
    pipe = make_pipeline(StandardScaler(), svc)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search = HyperGradSearchCV(pipe, cv=cv, scoring="neg_squared_hinge").fit(X, y)
        grid = GridSearchCV(pipe, {"linearsvc__C": np.logspace(-4, 2, 20)}, cv=cv,
                            scoring=squared_hinge_scorer).fit(X, y)
        again = cross_val_score(pipe.set_params(**search.best_params_), X, y, cv=cv,
                                scoring=squared_hinge_scorer).mean()
        accuracy = {name: cross_val_score(pipe.set_params(**params), X, y, cv=cv).mean()
                    for name, params in (("hypergrad", search.best_params_),
                                         ("grid", grid.best_params_))}
    print(f"\n{penalty} K={n_classes}: CV squared hinge {-search.best_score_:.6f} "
          f"(grid {-grid.best_score_:.6f}), accuracy {accuracy}")
    assert -search.best_score_ <= -grid.best_score_ * 1.01
    assert search.best_score_ == pytest.approx(again, rel=1e-5)
    assert type(search.best_estimator_[-1]) is LinearSVC
    assert search.score(X, y) == pytest.approx(squared_hinge_scorer(search.best_estimator_,
                                                                    X, y))


def test_search_waits_out_a_weighted_rise_as_the_estimator():
    """HyperGradSearchCV(LinearSVC()) scans as LinearSVCHyperGrad (the declared patience of
    the squared hinge: one decade past the first path's minimum, two with weights): with
    three noisy blobs weighted 1000 : 1e-4 : 1e-4 (scikit-learn's
    check_class_weight_classifiers) in the fit and in the held-out squared hinge, the
    weighted loss rises for more than a decade of ``1 / C`` before it falls; one decade
    leaves the search at ``C ~ 1e-10`` (CV loss 3.0, the heavy class misclassified),
    two reach the grid's loss (about 1e-6) and classify the held-out heavy class."""
    assert (SQUARED_HINGE.patience(False), SQUARED_HINGE.patience(True)) == (1.0, 2.0)
    assert LinearSVCHyperGrad._search_defaults is SQUARED_HINGE
    assert ADAPTERS[LinearSVC].defaults is SQUARED_HINGE
    X, y = make_blobs(centers=3, random_state=0, cluster_std=20)
    X_train, X_test, y_train, _ = train_test_split(X, y, test_size=0.5, random_state=0)
    weights = np.where(y_train == 0, 1000.0, 1e-4)
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    with sklearn.config_context(enable_metadata_routing=True), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        scorer = make_scorer(squared_hinge_loss, greater_is_better=False,
                             response_method="decision_function", labels=np.unique(y))
        scorer = scorer.set_score_request(sample_weight=True)
        svc = LinearSVC(max_iter=1000).set_fit_request(sample_weight=True)
        search = HyperGradSearchCV(svc, cv=cv, scoring=scorer).fit(
            X_train, y_train, sample_weight=weights)
        grid = GridSearchCV(svc, {"C": np.logspace(-4, 1, 11)}, cv=cv, scoring=scorer).fit(
            X_train, y_train, sample_weight=weights)
    assert -search.best_score_ < 1e-5 and -grid.best_score_ < 1e-5
    assert np.mean(search.predict(X_test) == 0) > 0.87
