"""Sample weights, class weights and metadata routing.

Integer weights give the fit and the criterion of the rows repeated (on splits where
the copies of a row stay in its fold), zero weights those of the rows dropped, the
hypergradients with weights match central finite differences for every engine, the
refits match scikit-learn's estimators fitted with the same weights, and the search
passes the weights as ``GridSearchCV`` does (legacy passing and metadata routing).
"""

import warnings

import numpy as np
import pytest
import sklearn
from sklearn.exceptions import UnsetMetadataPassedError
from sklearn.linear_model import (ElasticNet, HuberRegressor, Lasso, LogisticRegression,
                                  PoissonRegressor, Ridge, RidgeClassifier)
from sklearn.metrics import make_scorer, mean_squared_error
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from skhypergrad import (ElasticNetHyperGrad, HuberRegressorHyperGrad, HyperGradSearchCV,
                         LassoHyperGrad, LinearSVCHyperGrad, LogisticRegressionHyperGrad,
                         RidgeClassifierHyperGrad, RidgeHyperGrad)
from skhypergrad.criteria import CrossVal, HeldOut
from skhypergrad.datafits import Logistic, Multinomial, Quadratic, weighted
from skhypergrad.glm import Gamma, Poisson, Tweedie
from skhypergrad.hypergrad import NSID
from skhypergrad.linear_model import PoissonRegressorHyperGrad
from skhypergrad.models import InnerModel
from skhypergrad.solvers import CoordinateDescent, ProxGradient
from skhypergrad.huber import Huber, concomitant_fit, huber_scale, scale_floor, weighted_median
from skhypergrad.penalties import huber_lam_from_sklearn
from skhypergrad._search_space import null_model
from skhypergrad.ridge_classifier import SquaredClassifier, SquaredClassifierOvR
from skhypergrad.squared_hinge import SquaredHinge, SquaredHingeOvR


def _data(n=60, p=8, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    y = X[:, :3] @ np.array([1.0, -2.0, 1.0]) + 0.5 * rng.standard_normal(n) + 3.0
    return X, y, rng.integers(0, 4, n).astype(float)


def _targets(kind, y):
    """Targets of each datafit kind from the regression target ``y`` (mean 3)."""
    return {"quadratic": y, "logistic": (y > 3).astype(int),
            "poisson": np.exp(0.2 * (y - 3)), "multinomial": np.digitize(y, [2.0, 4.0])}[kind]


def _folds(fold_of, n_folds=3):
    return [(np.flatnonzero(fold_of != k), np.flatnonzero(fold_of == k))
            for k in range(n_folds)]


# -- the weighted datafits ------------------------------------------------------------------
@pytest.mark.parametrize("datafit, target", [
    (Quadratic(), lambda y: y), (Logistic(), lambda y: np.where(y > 3, 1.0, -1.0)),
    (Multinomial(3), lambda y: np.digitize(y, [2.0, 4.0])),
    (Poisson(), lambda y: np.exp(0.2 * (y - 3))), (Gamma(), lambda y: np.exp(0.2 * (y - 3))),
    (Tweedie(1.5), lambda y: np.exp(0.2 * (y - 3))),
    (SquaredHinge(), lambda y: np.where(y > 3, 1.0, -1.0)),
    (SquaredHingeOvR(3), lambda y: np.digitize(y, [2.0, 4.0])),
    (SquaredClassifier(), lambda y: np.where(y > 3, 1.0, -1.0)),
    (Huber(1.35, 0.3), lambda y: y),
    (SquaredClassifierOvR(3), lambda y: SquaredClassifierOvR(3).encode_classes(
        np.digitize(y, [2.0, 4.0])))])
def test_weighted_datafit_is_the_rows_repeated(datafit, target):
    """Loss, gradient, Hessian products, dual term and null model of integer weights are
    those of the rows repeated (to rounding)."""
    X, y, sw = _data()
    y = target(y)
    rep = np.repeat(np.arange(y.shape[0]), sw.astype(int))
    K = datafit.n_outputs
    rng = np.random.default_rng(1)
    z = 0.3 * rng.standard_normal((y.shape[0], K) if K > 1 else y.shape[0])
    dz = rng.standard_normal(z.shape)
    wdf = weighted(datafit, sw)
    assert wdf.loss(y, z) == pytest.approx(datafit.loss(y[rep], z[rep]), rel=1e-12)
    g, g_rep = wdf.raw_grad(y, z), datafit.raw_grad(y[rep], z[rep])
    np.testing.assert_allclose(np.add.reduceat(g_rep, np.cumsum(np.r_[0, sw[sw > 0][:-1]])
                                               .astype(int)), g[sw > 0], rtol=1e-12)
    h = wdf.raw_hessp(y, z, dz)
    h_rep = datafit.raw_hessp(y[rep], z[rep], dz[rep])
    assert np.sum(h) == pytest.approx(np.sum(h_rep), rel=1e-12)
    assert wdf.dual_term(y, -g) == pytest.approx(datafit.dual_term(y[rep], -g_rep), rel=1e-10)
    # the null model (unique up to a shift of the softmax's intercepts): its loss
    assert wdf.null_loss(y, True) == pytest.approx(datafit.null_loss(y[rep], True), rel=1e-9)


def test_weighted_datafit_refused_clearly():
    class Unweighted(Quadratic):
        accepts_sample_weight = False

    with pytest.raises(ValueError, match="does not take sample weights"):
        weighted(Unweighted(), np.ones(5))
    with pytest.raises(ValueError, match="nonnegative"):
        weighted(Quadratic(), np.array([1.0, -1.0, 2.0]))


# -- criteria: repeated rows, dropped rows, hypergradients -----------------------------
@pytest.mark.parametrize("kind", ["quadratic", "logistic", "poisson"])
def test_integer_weights_are_repeated_rows_in_crossval(kind):
    """Value and hypergradient of CrossVal with integer weights equal those of the rows
    repeated, each copy in its row's fold."""
    X, y, sw = _data()
    y = _targets(kind, y)
    rep = np.repeat(np.arange(y.shape[0]), sw.astype(int))
    fold_of = np.arange(y.shape[0]) % 3
    model = InnerModel(kind, "elasticnet", fit_intercept=True)
    lam = np.array([0.02, 0.05])
    solver = CoordinateDescent(tol=1e-14)
    a = CrossVal(_folds(fold_of), sample_weight=sw, score_sample_weight=sw).value_and_grad(
        model, X, y, lam, solver=solver, engine="aid-cg")
    b = CrossVal(_folds(fold_of[rep])).value_and_grad(model, X[rep], y[rep], lam,
                                                      solver=solver, engine="aid-cg")
    assert a.value == pytest.approx(b.value, rel=1e-6)
    np.testing.assert_allclose(a.grad, b.grad, rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("kind", ["quadratic", "logistic"])
def test_zero_weights_are_dropped_rows(kind):
    X, y, sw = _data(seed=2)
    y = _targets(kind, y)
    keep = sw > 0
    fold_of = np.arange(y.shape[0]) % 3
    w = keep.astype(float)
    model = InnerModel(kind, "l1", fit_intercept=True)
    solver = CoordinateDescent(tol=1e-14)
    a = CrossVal(_folds(fold_of), sample_weight=w, score_sample_weight=w).value_and_grad(
        model, X, y, [0.02], solver=solver, engine="aid-cg")
    b = CrossVal(_folds(fold_of[keep])).value_and_grad(model, X[keep], y[keep], [0.02],
                                                       solver=solver, engine="aid-cg")
    assert a.value == pytest.approx(b.value, rel=1e-7)
    np.testing.assert_allclose(a.grad, b.grad, rtol=1e-6)


@pytest.mark.parametrize("kind", ["quadratic", "logistic", "poisson", "multinomial"])
@pytest.mark.parametrize("engine", ["aid-cg", "aid-fp", "itd", "itd-reverse", "nsid"])
def test_weighted_hypergradient_matches_finite_differences(kind, engine):
    if engine == "nsid" and kind != "quadratic":
        pytest.skip("NSID needs about 1e5 samples here (q > 0.95): its minibatch weights "
                    "are tested on least squares")
    X, y, _ = _data(n=50, p=6, seed=1)
    y = _targets(kind, y)
    rng = np.random.default_rng(3)
    sw = rng.uniform(0.0, 3.0, y.shape[0])
    tr, va = np.arange(35), np.arange(35, 50)
    crit = HeldOut(X[va], y[va], sample_weight=sw[tr], sample_weight_val=sw[va])
    model = InnerModel(kind, "elasticnet", fit_intercept=True)
    lam = np.array([0.01, 0.05])
    solver = ProxGradient(tol=1e-14) if kind == "multinomial" else CoordinateDescent(tol=1e-14)
    h = 1e-5
    fd = np.array([(crit.value(model, X[tr], y[tr], lam * np.exp(h * e), solver=solver).value
                    - crit.value(model, X[tr], y[tr], lam * np.exp(-h * e),
                                 solver=solver).value) / (2 * h) for e in np.eye(2)])
    if engine == "nsid":  # seeded, with more samples than a search asks for
        engine = NSID(random_state=0, tol=0.01, max_samples=100_000)
    grad = crit.value_and_grad(model, X[tr], y[tr], lam, solver=solver, engine=engine).grad
    # NSID is stochastic: its error decays as O(1/k) in its samples; the multinomial
    # solution is accurate to about 1e-7 at a relative gap of 1e-14 (the gap is of the
    # order of the squared error, the problem with weights in [0, 3] ill-conditioned)
    rtol = 2e-2 if isinstance(engine, NSID) else 3e-5 if kind == "multinomial" else 1e-5
    assert np.max(np.abs(grad - fd)) <= rtol * np.max(np.abs(fd))


# -- estimators: refits vs scikit-learn ---------------------------------------------------
def _objective_gap(model, X, y_enc, lam, sw, coef, intercept, coef_ref, intercept_ref):
    """Relative difference of the weighted objectives of two solutions."""
    pgmap = model.make_map(X, y_enc, sample_weight=sw)
    f = pgmap.objective(np.r_[np.ravel(coef), np.ravel(intercept)], lam)
    f_ref = pgmap.objective(np.r_[np.ravel(coef_ref), np.ravel(intercept_ref)], lam)
    return abs(f - f_ref) / abs(f_ref)


@pytest.mark.parametrize("Est, Sk", [(LassoHyperGrad, Lasso), (ElasticNetHyperGrad, ElasticNet)])
def test_regressor_refit_matches_sklearn_with_weights(Est, Sk):
    X, y, sw = _data(n=90, p=10)
    est = Est(max_iter=4).fit(X, y, sample_weight=sw)
    params = {"alpha": est.alpha_}
    if Sk is ElasticNet:
        params["l1_ratio"] = est.l1_ratio_
    sk = Sk(**params, tol=1e-14, max_iter=100_000).fit(X, y, sample_weight=sw)
    rho = params.get("l1_ratio", 1.0)
    model = InnerModel("quadratic", "elasticnet", fit_intercept=True)
    lam = np.array([est.alpha_ * rho, est.alpha_ * (1 - rho)])
    assert _objective_gap(model, X, y, lam, sw, est.coef_, est.intercept_, sk.coef_,
                          sk.intercept_) < 1e-6
    np.testing.assert_allclose(est.coef_, sk.coef_, atol=1e-6)


@pytest.mark.parametrize("class_weight", [None, "balanced", {0: 3.0}])
def test_logistic_refit_matches_sklearn_with_weights(class_weight):
    X, y, sw = _data(n=90, p=10)
    y = (y > 2.5).astype(int)  # unbalanced classes
    est = LogisticRegressionHyperGrad(max_iter=4, class_weight=class_weight).fit(
        X, y, sample_weight=sw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        sk = LogisticRegression(C=est.C_, l1_ratio=1.0, solver="saga", tol=1e-13,
                                max_iter=300_000, class_weight=class_weight).fit(
            X, y, sample_weight=sw)
    from skhypergrad._base import class_sample_weights
    w = class_sample_weights(class_weight, y, sw)
    model = InnerModel("logistic", "l1", fit_intercept=True).bind(y)
    lam = np.array([1.0 / (est.C_ * w.sum())])
    assert _objective_gap(model, X, model.encode(y), lam, w, est.coef_, est.intercept_,
                          sk.coef_, sk.intercept_) < 1e-6
    np.testing.assert_allclose(est.coef_, sk.coef_, atol=1e-5)


def test_poisson_and_svc_refit_match_sklearn_with_weights():
    X, y, sw = _data(n=90, p=10)
    yp = np.exp(0.2 * (y - 3))
    est = PoissonRegressorHyperGrad(max_iter=3).fit(X, yp, sample_weight=sw)
    sk = PoissonRegressor(alpha=est.alpha_, tol=1e-12, max_iter=10_000).fit(
        X, yp, sample_weight=sw)
    model = InnerModel("poisson", "l2", fit_intercept=True)
    assert _objective_gap(model, X, yp, np.array([est.alpha_]), sw, est.coef_,
                          est.intercept_, sk.coef_, sk.intercept_) < 1e-6
    yc = (y > 2.5).astype(int)
    svc = LinearSVCHyperGrad(max_iter=3, class_weight="balanced").fit(X, yc, sample_weight=sw)
    sk = LinearSVC(C=svc.C_, class_weight="balanced", tol=1e-12, max_iter=100_000,
                   random_state=0).fit(
        X, yc, sample_weight=sw)
    np.testing.assert_allclose(svc.coef_, sk.coef_, atol=1e-6)
    np.testing.assert_allclose(svc.intercept_, sk.intercept_, atol=1e-6)


def test_estimator_integer_weights_are_repeated_rows():
    """The whole fit (scan, search, refit) with integer weights is that of the rows
    repeated, on splits that keep a row's copies in its fold."""
    X, y, sw = _data(n=60, p=8)
    rep = np.repeat(np.arange(y.shape[0]), sw.astype(int))
    fold_of = np.arange(y.shape[0]) % 3
    a = ElasticNetHyperGrad(cv=_folds(fold_of), max_iter=4).fit(X, y, sample_weight=sw)
    b = ElasticNetHyperGrad(cv=_folds(fold_of[rep]), max_iter=4).fit(X[rep], y[rep])
    assert a.alpha_ == pytest.approx(b.alpha_, rel=1e-4)
    assert a.best_loss_ == pytest.approx(b.best_loss_, rel=1e-6)
    np.testing.assert_allclose(a.coef_, b.coef_, atol=1e-5)


def test_estimator_sample_weight_through_a_pipeline():
    X, y, sw = _data(n=60, p=8)
    pipe = make_pipeline(StandardScaler(), LassoHyperGrad(max_iter=3))
    pipe.fit(X, y, lassohypergrad__sample_weight=sw)
    direct = LassoHyperGrad(max_iter=3).fit(StandardScaler().fit_transform(X), y,
                                            sample_weight=sw)
    np.testing.assert_allclose(pipe[-1].coef_, direct.coef_, atol=1e-12)


def test_sample_weight_errors():
    X, y, _ = _data(n=30, p=4)
    with pytest.raises(ValueError, match="sample_weight"):
        LassoHyperGrad(max_iter=1).fit(X, y, sample_weight=np.ones(5))
    with pytest.raises(ValueError, match="[Nn]egative"):
        LassoHyperGrad(max_iter=1).fit(X, y, sample_weight=-np.ones(30))
    with pytest.raises(ValueError, match="does not take sample weights"):
        LassoHyperGrad(max_iter=1, hypergradient="nsid", solver="saga").fit(
            X, y, sample_weight=np.ones(30))


# -- the search: as GridSearchCV on the same folds ----------------------------------------
def _grid_score(estimator, params, X, y, scoring, cv, **fit_params):
    grid = GridSearchCV(estimator, {k: [v] for k, v in params.items()}, scoring=scoring,
                        cv=cv).fit(X, y, **fit_params)
    return grid.best_score_


def test_search_weights_as_gridsearchcv_legacy():
    """Without routing: the weights reach the fits and the scorer (which takes them)."""
    X, y, sw = _data(n=90, p=10)
    s = HyperGradSearchCV(ElasticNet(tol=1e-12, max_iter=100_000), max_iter=3,
                          scoring="neg_mean_squared_error").fit(X, y, sample_weight=sw)
    sk = ElasticNet(**s.best_params_, tol=1e-14, max_iter=100_000).fit(X, y, sample_weight=sw)
    np.testing.assert_allclose(s.best_estimator_.coef_, sk.coef_, atol=1e-8)
    grid = _grid_score(ElasticNet(tol=1e-12, max_iter=100_000), s.best_params_, X, y,
                       "neg_mean_squared_error", KFold(5), sample_weight=sw)
    assert s.best_score_ == pytest.approx(grid, rel=1e-6)
    # through a pipeline: the final step's weights, the scorer unweighted
    pipe = make_pipeline(StandardScaler(), Lasso(tol=1e-12, max_iter=100_000))
    s = HyperGradSearchCV(pipe, max_iter=3, scoring="neg_mean_squared_error").fit(
        X, y, lasso__sample_weight=sw)
    grid = _grid_score(pipe, s.best_params_, X, y, "neg_mean_squared_error", KFold(5),
                       lasso__sample_weight=sw)
    assert s.best_score_ == pytest.approx(grid, rel=1e-6)
    with pytest.raises(ValueError, match="preprocessing"):
        HyperGradSearchCV(pipe, max_iter=1).fit(X, y, standardscaler__sample_weight=sw)


def test_grid_with_fit_parameters_the_folds_cannot_take_runs_as_gridsearchcv():
    """A ``param_grid`` and fit parameters the search cannot apply on its folds (a
    preprocessing step's ``sample_weight``): its points are evaluated as ``GridSearchCV``
    evaluates them, with a warning saying why, and the refit gets every parameter."""
    X, y, sw = _data(n=90, p=10)
    pipe = make_pipeline(StandardScaler(), Lasso())
    grid = {"lasso__alpha": [0.01, 0.1, 1.0]}
    params = {"standardscaler__sample_weight": sw, "lasso__sample_weight": sw}
    with pytest.warns(UserWarning, match="preprocessing.*evaluated as GridSearchCV"):
        search = HyperGradSearchCV(pipe, grid, cv=KFold(3)).fit(X, y, **params)
    reference = GridSearchCV(pipe, grid, cv=KFold(3)).fit(X, y, **params)
    np.testing.assert_allclose(search.cv_results_["mean_test_score"],
                               reference.cv_results_["mean_test_score"], rtol=1e-12)
    np.testing.assert_allclose(search.predict(X), reference.predict(X), rtol=1e-12)


@pytest.mark.parametrize("scoring", [None, "neg_mean_squared_error"])
def test_search_refuses_a_fold_of_zero_held_out_weights(scoring):
    """A fold whose held-out rows all weigh 0 has no held-out score (``r2_score`` refuses
    such weights): a ValueError naming ``sample_weight``, whatever the scorer."""
    X, y, sw = _data(n=90, p=10)
    sw[:18] = 0.0  # the held-out rows of KFold(5)'s first fold
    with pytest.raises(ValueError, match="sample_weight"):
        HyperGradSearchCV(Ridge(), {"alpha": [1e-3, 1.0]}, scoring=scoring).fit(
            X, y, sample_weight=sw)


@pytest.mark.parametrize("class_weight", ["balanced", {1: 3.0}])
def test_search_class_weight_as_gridsearchcv(class_weight):
    """``class_weight`` of the estimator: computed on each fold's training rows, as the
    fits of GridSearchCV do."""
    X, y, sw = _data(n=90, p=10)
    y = (y > 2.5).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        est = LogisticRegression(l1_ratio=1.0, solver="saga", class_weight=class_weight,
                                 tol=1e-12, max_iter=100_000)
        s = HyperGradSearchCV(est, max_iter=3, scoring="neg_log_loss").fit(
            X, y, sample_weight=sw)
        grid = _grid_score(est, s.best_params_, X, y, "neg_log_loss", StratifiedKFold(5),
                           sample_weight=sw)
    assert s.best_score_ == pytest.approx(grid, rel=1e-5)


def test_routing_scorer_gets_weights_only_when_requested():
    X, y, sw = _data(n=90, p=10)
    with sklearn.config_context(enable_metadata_routing=True):
        first = {}
        for request in (True, False):
            scorer = make_scorer(mean_squared_error, greater_is_better=False)
            scorer = scorer.set_score_request(sample_weight=request)
            est = Lasso(tol=1e-12, max_iter=100_000).set_fit_request(sample_weight=True)
            s = HyperGradSearchCV(est, scoring=scorer, max_iter=3).fit(X, y, sample_weight=sw)
            grid = _grid_score(est, s.best_params_, X, y, scorer, KFold(5), sample_weight=sw)
            assert s.best_score_ == pytest.approx(grid, rel=1e-6)
            assert s.get_metadata_routing().consumes("fit", ["sample_weight"]) == \
                {"sample_weight"}
            first[request] = s.cv_results_["mean_test_score"][0]
        # the same first point (the scan's, set by the fits' weights), scored differently
        assert abs(first[True] - first[False]) > 1e-3 * abs(first[False])
        # unset requests raise scikit-learn's own error, as GridSearchCV
        with pytest.raises(UnsetMetadataPassedError):
            HyperGradSearchCV(Lasso(), max_iter=1).fit(X, y, sample_weight=sw)



def _rows_as_grid(search, est, X, y, scoring, refit, **fit_params):
    """``GridSearchCV``'s ``cv_results_`` at the first 4 rows of ``search``."""
    points = [{"alpha": [p["alpha"]]} for p in search.cv_results_["params"][:4]]
    return GridSearchCV(est, points, scoring=scoring, refit=refit, cv=KFold(5)).fit(
        X, y, **fit_params).cv_results_


def test_each_scorer_of_several_weighted_as_it_requests():
    """Several metrics: each scorer scores the folds with the weights routed to it (none
    for a scorer that requests none, or, without routing, whose metric takes none), the
    held-out losses descended weighted as the refit scorer; every row is GridSearchCV's
    at its point. A scorer whose request is unset raises scikit-learn's error."""
    from sklearn.metrics import mean_absolute_error, r2_score

    X, y, sw = _data(n=90, p=10)
    est = Lasso(tol=1e-12, max_iter=100_000)

    def check(search, ref, names):
        for name in names:
            np.testing.assert_allclose(search.cv_results_[f"mean_test_{name}"][:4],
                                       ref[f"mean_test_{name}"], rtol=1e-7, err_msg=name)

    def r2():
        return make_scorer(r2_score)

    def mae():
        return make_scorer(mean_absolute_error, greater_is_better=False)

    with sklearn.config_context(enable_metadata_routing=True):
        est = est.set_fit_request(sample_weight=True)
        for r2_request, mae_request in ((True, False), (False, True)):
            scoring = {"r2": r2().set_score_request(sample_weight=r2_request),
                       "mae": mae().set_score_request(sample_weight=mae_request)}
            s = HyperGradSearchCV(est, scoring=scoring, refit="r2", max_iter=3).fit(
                X, y, sample_weight=sw)
            check(s, _rows_as_grid(s, est, X, y, scoring, "r2", sample_weight=sw),
                  ("r2", "mae"))
        scoring = {"r2": r2().set_score_request(sample_weight=True), "mae": mae()}
        for cls in (GridSearchCV, HyperGradSearchCV):
            with pytest.raises(UnsetMetadataPassedError, match="mean_absolute_error"):
                cls(est, {"alpha": [0.1]}, scoring=scoring, refit="r2").fit(
                    X, y, sample_weight=sw)
    # without routing: the weights go to the scorers whose metric takes them
    est = Lasso(tol=1e-12, max_iter=100_000)
    scoring = {"r2": "r2", "mae": make_scorer(lambda y, p: -np.mean(np.abs(y - p)))}
    with pytest.warns(UserWarning, match="sample_weight"):
        s = HyperGradSearchCV(est, scoring=scoring, refit="r2", max_iter=3).fit(
            X, y, sample_weight=sw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        check(s, _rows_as_grid(s, est, X, y, scoring, "r2", sample_weight=sw),
              ("r2", "mae"))


def test_routed_score_parameters_other_than_weights_are_refused():
    """A scorer requesting a parameter other than ``sample_weight`` (which the search's
    scores would be computed without) raises a ValueError naming it, alone or among
    several metrics; GridSearchCV's scores use it."""
    X, y, _ = _data(n=60, p=5)
    offset = np.full(60, 2.0)

    def shifted_error(y_true, pred, offset=0.0):
        return -np.mean(np.abs(y_true - pred - offset))

    with sklearn.config_context(enable_metadata_routing=True):
        scorer = make_scorer(shifted_error).set_score_request(offset=True)
        grid = GridSearchCV(Lasso(), {"alpha": [0.1]}, scoring=scorer).fit(X, y,
                                                                            offset=offset)
        unshifted = GridSearchCV(Lasso(), {"alpha": [0.1]},
                                 scoring=make_scorer(shifted_error)).fit(X, y)
        assert abs(grid.best_score_ - unshifted.best_score_) > 0.1
        for scoring in (scorer, {"r2": "r2", "shifted": scorer}):
            with pytest.raises(ValueError, match=r"score parameters \['offset'\]"):
                HyperGradSearchCV(Lasso(), scoring=scoring, refit="r2" if
                                  isinstance(scoring, dict) else True,
                                  max_iter=1).fit(X, y, offset=offset)

def test_estimators_have_fit_requests():
    for est in (LassoHyperGrad(), ElasticNetHyperGrad(), LogisticRegressionHyperGrad(),
                LinearSVCHyperGrad(), PoissonRegressorHyperGrad()):
        with sklearn.config_context(enable_metadata_routing=True):
            est.set_fit_request(sample_weight=True)
            assert est.get_metadata_routing().consumes("fit", ["sample_weight"]) == \
                {"sample_weight"}


# -- the L2-only models and Huber -------------------------------------------------------
def test_ridge_weights_refit_as_sklearn_and_repeat_rows():
    """RidgeHyperGrad: ``alpha_`` weighs the weighted sum of squares (scikit-learn's
    ``Ridge``); integer weights search and refit as the rows repeated: to 1e-10 once the
    search runs to its minimum (at the default ``tol`` it stops on this flat criterion
    after two steps, 20x above it, where the two inner solvers' rounding moves the stop
    by 2e-4)."""
    X, y, sw = _data(n=90, p=10)
    rep = np.repeat(np.arange(y.shape[0]), sw.astype(int))
    fold_of = np.arange(y.shape[0]) % 3
    a = RidgeHyperGrad(cv=_folds(fold_of), max_iter=50, tol=1e-8).fit(X, y, sample_weight=sw)
    b = RidgeHyperGrad(cv=_folds(fold_of[rep]), max_iter=50, tol=1e-8).fit(X[rep], y[rep])
    assert a.alpha_ == pytest.approx(b.alpha_, rel=1e-10)
    np.testing.assert_allclose(a.coef_, b.coef_, atol=1e-5)
    sk = Ridge(alpha=a.alpha_).fit(X, y, sample_weight=sw)
    np.testing.assert_allclose(a.coef_, sk.coef_, rtol=1e-5, atol=1e-6)
    assert a.intercept_ == pytest.approx(sk.intercept_, abs=1e-6)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_ridge_classifier_weights_refit_as_sklearn(n_classes):
    X, y, sw = _data(n=90, p=10)
    y = np.digitize(y, [3.0] if n_classes == 2 else [2.0, 4.0])
    est = RidgeClassifierHyperGrad(max_iter=3).fit(X, y, sample_weight=sw)
    sk = RidgeClassifier(alpha=est.alpha_).fit(X, y, sample_weight=sw)
    np.testing.assert_allclose(est.coef_, sk.coef_, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(est.intercept_, sk.intercept_, atol=1e-6)


def _huber_data(n=60, p=5, seed=0):
    """Heavy-tailed noise (Student's t with 2 degrees of freedom), integer weights 0-3."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    y = X @ np.arange(1.0, p + 1.0) + 3.0 + rng.standard_t(2, n)
    return X, y, rng.integers(0, 4, n).astype(float)


def _huber_objective(X, y, sw, alpha, epsilon, coef, intercept, scale):
    """scikit-learn's HuberRegressor objective with sample weights."""
    a = np.abs(y - X @ coef - intercept) / scale
    H = np.where(a > epsilon, 2 * epsilon * a - epsilon ** 2, a * a)
    return float(sw @ (scale + scale * H)) + alpha * float(coef @ coef)


def test_huber_joint_fit_with_weights_is_sklearns_and_repeats_rows():
    """The joint fit (coefficients and scale) with weights minimizes HuberRegressor's
    weighted objective (to 1e-6 of scikit-learn's at tol=1e-12); integer weights (zeros
    among them) fit as the rows repeated."""
    X, y, sw = _huber_data()
    rep = np.repeat(np.arange(y.shape[0]), sw.astype(int))
    alpha, eps = 0.3, 1.35

    def joint(X, y, sw):
        model = InnerModel(Huber(eps, 1.0, tune_epsilon=False), "l2", fit_intercept=True)
        pgmap = model.make_map(X, y, center=True, sample_weight=sw)
        lam = huber_lam_from_sklearn(alpha, 0.0, y.shape[0] if sw is None else sw.sum())
        w, scale, fixed = concomitant_fit(pgmap, lam, CoordinateDescent(tol=1e-14),
                                          null_model(pgmap))
        return fixed.design.coef(w), fixed.design.original_intercept(w), scale

    coef, b, scale = joint(X, y, sw)
    sk = HuberRegressor(alpha=alpha, epsilon=eps, tol=1e-12, max_iter=10_000).fit(
        X, y, sample_weight=sw)
    ref = _huber_objective(X, y, sw, alpha, eps, sk.coef_, sk.intercept_, sk.scale_)
    assert _huber_objective(X, y, sw, alpha, eps, coef, b, scale) <= ref * (1 + 1e-6)
    assert scale == pytest.approx(sk.scale_, rel=1e-4)
    coef_r, b_r, scale_r = joint(X[rep], y[rep], None)
    np.testing.assert_allclose(coef, coef_r, atol=1e-6)
    assert b == pytest.approx(b_r, abs=1e-6) and scale == pytest.approx(scale_r, rel=1e-5)


def test_huber_scale_helpers_weighted_are_rows_repeated():
    X, y, sw = _huber_data()
    rep = np.repeat(np.arange(y.shape[0]), sw.astype(int))
    r = y - np.median(y)
    assert huber_scale(r, 1.35, sw) == pytest.approx(huber_scale(r[rep], 1.35), rel=1e-12)
    for v in (r, np.round(r)):  # even and odd totals, ties
        assert weighted_median(v, sw) == np.median(v[rep])
        assert weighted_median(v, np.ones_like(v)) == np.median(v)
    assert scale_floor(y, sample_weight=sw) == pytest.approx(scale_floor(y[rep]), rel=1e-12)


@pytest.mark.parametrize("engine", ["aid-cg", "itd"])
def test_huber_weighted_hypergradient_matches_finite_differences(engine):
    """In the L2 weight and epsilon, real weights in [0, 3]."""
    X, y, _ = _huber_data(n=50, seed=1)
    sw = np.random.default_rng(3).uniform(0.0, 3.0, y.shape[0])
    tr, va = np.arange(35), np.arange(35, 50)
    crit = HeldOut(X[va], y[va], sample_weight=sw[tr], sample_weight_val=sw[va])
    model = InnerModel(Huber(1.35, 0.8), "l2", fit_intercept=True)
    lam, solver, h = np.array([0.05, 1.35]), CoordinateDescent(tol=1e-14), 1e-5
    fd = np.array([(crit.value(model, X[tr], y[tr], lam * np.exp(h * e), solver=solver).value
                    - crit.value(model, X[tr], y[tr], lam * np.exp(-h * e),
                                 solver=solver).value) / (2 * h) for e in np.eye(2)])
    grad = crit.value_and_grad(model, X[tr], y[tr], lam, solver=solver, engine=engine).grad
    assert np.max(np.abs(grad - fd)) <= 1e-5 * np.max(np.abs(fd))


def test_huber_integer_weights_are_repeated_rows_in_crossval():
    X, y, sw = _huber_data()
    rep = np.repeat(np.arange(y.shape[0]), sw.astype(int))
    fold_of = np.arange(y.shape[0]) % 3
    model = InnerModel(Huber(1.35, 0.8), "l2", fit_intercept=True)
    lam, solver = np.array([0.05, 1.35]), CoordinateDescent(tol=1e-14)
    a = CrossVal(_folds(fold_of), sample_weight=sw, score_sample_weight=sw).value_and_grad(
        model, X, y, lam, solver=solver, engine="aid-cg")
    b = CrossVal(_folds(fold_of[rep])).value_and_grad(model, X[rep], y[rep], lam,
                                                      solver=solver, engine="aid-cg")
    assert a.value == pytest.approx(b.value, rel=1e-7)
    np.testing.assert_allclose(a.grad, b.grad, rtol=1e-5)


def test_huber_estimator_weights_refit_as_sklearn_and_repeat_rows():
    """HuberRegressorHyperGrad.fit(sample_weight): the scale estimated, the search run
    and the refit made with the weights (integer ones: as the rows repeated, on splits
    that keep a row's copies in its fold); the refit is HuberRegressor's weighted
    solution at the chosen ``alpha_`` and ``epsilon_``."""
    X, y, sw = _huber_data()
    rep = np.repeat(np.arange(y.shape[0]), sw.astype(int))
    fold_of = np.arange(y.shape[0]) % 3
    a = HuberRegressorHyperGrad(cv=_folds(fold_of), max_iter=3).fit(X, y, sample_weight=sw)
    b = HuberRegressorHyperGrad(cv=_folds(fold_of[rep]), max_iter=3).fit(X[rep], y[rep])
    assert a.alpha_ == pytest.approx(b.alpha_, rel=1e-4)
    assert a.epsilon_ == pytest.approx(b.epsilon_, rel=1e-4)
    assert a.best_loss_ == pytest.approx(b.best_loss_, rel=1e-6)
    np.testing.assert_allclose(a.coef_, b.coef_, atol=1e-4)
    sk = HuberRegressor(alpha=a.alpha_, epsilon=a.epsilon_, tol=1e-12,
                        max_iter=10_000).fit(X, y, sample_weight=sw)
    args = X, y, sw, a.alpha_, a.epsilon_
    assert _huber_objective(*args, a.coef_, a.intercept_, a.scale_) <= \
        _huber_objective(*args, sk.coef_, sk.intercept_, sk.scale_) * (1 + 1e-6)


def test_huber_search_weights_within_one_percent_of_gridsearchcv():
    """HyperGradSearchCV(HuberRegressor()).fit(sample_weight=w) against a 6 x 4
    GridSearchCV with the same weights on the same folds: the chosen point, scored by
    GridSearchCV itself (its fits and scorer with the weights), within 1% of the grid's
    best; the refit is HuberRegressor's weighted fit there."""
    X, y, sw = _huber_data(n=150, p=5)
    cv = KFold(3, shuffle=True, random_state=0)
    est = HuberRegressor(max_iter=1000)
    s = HyperGradSearchCV(est, cv=cv, scoring="neg_mean_squared_error").fit(
        X, y, sample_weight=sw)
    ours = _grid_score(est, s.best_params_, X, y, "neg_mean_squared_error", cv,
                       sample_weight=sw)
    grid = GridSearchCV(est, {"alpha": np.geomspace(1e-4, 1e1, 6),
                              "epsilon": np.linspace(1.1, 3.0, 4)},
                        scoring="neg_mean_squared_error", cv=cv).fit(X, y, sample_weight=sw)
    assert ours >= grid.best_score_ * 1.01  # (negative scores)
    sk = HuberRegressor(**s.best_params_, tol=1e-12, max_iter=10_000).fit(
        X, y, sample_weight=sw)
    args = X, y, sw, sk.alpha, sk.epsilon
    best = s.best_estimator_
    assert _huber_objective(*args, best.coef_, best.intercept_, best.scale_) <= \
        _huber_objective(*args, sk.coef_, sk.intercept_, sk.scale_) * (1 + 1e-6)


def test_search_ridge_own_score_weighted_as_gridsearchcv():
    """``scoring=None`` (the estimator's R²) with routing: the requested weights reach
    the fits and ``Ridge.score``, as ``GridSearchCV``'s."""
    X, y, sw = _data(n=90, p=10)
    with sklearn.config_context(enable_metadata_routing=True):
        est = Ridge().set_fit_request(sample_weight=True).set_score_request(
            sample_weight=True)
        s = HyperGradSearchCV(est, max_iter=3).fit(X, y, sample_weight=sw)
        grid = _grid_score(est, s.best_params_, X, y, None, KFold(5), sample_weight=sw)
    assert s.best_score_ == pytest.approx(grid, rel=1e-6)


@pytest.mark.parametrize("name", ["LassoHyperGrad", "RidgeHyperGrad",
                                  "PoissonRegressorHyperGrad", "KernelRidgeHyperGrad"])
@pytest.mark.parametrize("part", ["held-out", "training"])
def test_a_split_with_no_weight_is_refused_by_name(name, part):
    """Weights zero on all the held-out rows of a split (their weighted mean loss is
    0 / 0), or on all its training rows (no model to fit), raise a ValueError naming the
    split and what to do (a kernel ridge's search ran on NaN losses, the linear models
    named the weights as if negative)."""
    import skhypergrad

    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 3))
    y = np.exp(0.3 * X[:, 0]) + 0.1 * rng.standard_normal(30)
    rows, sw = np.arange(30), np.ones(30)
    sw[:10] = 0.0
    cv = [(rows[10:], rows[:10]), (rows[:20], rows[20:])]  # split 0 scores rows 0..9
    if part == "training":  # split 0 trains on rows 0..9
        cv = [(rows[:10], rows[10:]), (rows[10:], rows[:10])]
    with pytest.raises(ValueError, match=f"zero on all the {part} rows of split 0 of cv"):
        getattr(skhypergrad, name)(cv=cv, max_iter=2).fit(X, y, sample_weight=sw)
