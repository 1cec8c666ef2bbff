"""SVC by hypergradient: the SMO solver against libsvm, the projection and its map, the
hypergradients against central differences, the estimator and
``HyperGradSearchCV(SVC())`` against a 20 x 20 grid on the same folds."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_iris, make_moons
from sklearn.metrics.pairwise import laplacian_kernel, linear_kernel, rbf_kernel
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.utils.estimator_checks import parametrize_with_checks
from threadpoolctl import threadpool_limits

from skhypergrad import HyperGradSearchCV, SVCHyperGrad
from skhypergrad._kernel_search import kernel_folds
from skhypergrad.kernels import KernelSpec
from skhypergrad.svc import SVCCriterion, fold_weights, scaled_logistic_loss
from skhypergrad.svm import SVCDualMap, intercept_from_gradient, project_box_hyperplane, smo


def _binary(n=80, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, 2)
    return X, np.where(X[:, 0] + 0.5 * rng.randn(n) > 0, 1.0, -1.0)


@pytest.mark.parametrize("kernel, C, gamma", [("rbf", 1.0, 0.5), ("rbf", 10.0, 2.0),
                                              ("rbf", 0.05, 0.1), ("linear", 0.5, None)])
def test_smo_is_libsvm(kernel, C, gamma):
    """Dual coefficients (rbf: unique) and decision function = SVC's to 1e-5."""
    X, y = _binary()
    K = rbf_kernel(X, gamma=gamma) if kernel == "rbf" else linear_kernel(X)
    a, G, _, gap = smo(K, y, C, tol=1e-12)
    assert gap < 1e-11
    rho = intercept_from_gradient(a, G, y, C)
    sk = SVC(C=C, kernel=kernel, gamma=gamma or "scale", tol=1e-12).fit(X, y)
    np.testing.assert_allclose(K @ (a * y) - rho, sk.decision_function(X), atol=1e-5)
    if kernel == "rbf":
        coef = np.zeros(y.shape[0])
        coef[sk.support_] = sk.dual_coef_[0]
        np.testing.assert_allclose(a * y, coef, atol=1e-5 * C)


def test_smo_per_sample_bounds_is_libsvm_sample_weight():
    """An array C (C_i = C w_i) gives SVC(sample_weight=w)'s dual coefficients to 1e-5."""
    X, y = _binary()
    w = np.random.RandomState(1).uniform(0.2, 3.0, y.shape[0])
    K = rbf_kernel(X, gamma=0.5)
    a, G, _, gap = smo(K, y, 2.0 * w, tol=1e-12)
    assert gap < 1e-11
    sk = SVC(C=2.0, gamma=0.5, tol=1e-12).fit(X, y, sample_weight=w)
    coef = np.zeros(y.shape[0])
    coef[sk.support_] = sk.dual_coef_[0]
    np.testing.assert_allclose(a * y, coef, atol=1e-5)
    rho = intercept_from_gradient(a, G, y, 2.0 * w)
    np.testing.assert_allclose(K @ (a * y) - rho, sk.decision_function(X), atol=1e-5)
    with pytest.raises(ValueError, match="shape"):
        smo(K, y, np.ones(3))


def test_projection_is_the_nearest_feasible_point():
    """The projection is feasible, and no feasible pair move brings it closer to z."""
    rng = np.random.RandomState(0)
    y = np.where(rng.rand(30) > 0.4, 1.0, -1.0)
    z = 0.5 + 0.6 * rng.randn(30)
    a, _ = project_box_hyperplane(z, y, 1.0)
    assert abs(y @ a) < 1e-12 and a.min() >= 0 and a.max() <= 1
    # optimality: z - a = nu y + (multipliers of the bounds, of the right signs)
    r = z - a
    free = (a > 1e-12) & (a < 1 - 1e-12)
    assert free.sum() >= 3
    nu = r[free] / y[free]
    np.testing.assert_allclose(nu, nu[0], atol=1e-12)
    assert np.all((r - nu[0] * y)[a <= 1e-12] <= 1e-12)
    assert np.all((r - nu[0] * y)[a >= 1 - 1e-12] >= -1e-12)


def test_map_fixed_point_is_the_solution():
    X, y = _binary()
    K = rbf_kernel(X, gamma=0.5)
    a, _, _, _ = smo(K, y, 1.0, tol=1e-12)
    np.testing.assert_allclose(SVCDualMap(K, y).apply(a, [1.0]), a, atol=1e-10)


def test_scaled_logistic_loss_gradient():
    rng = np.random.RandomState(0)
    y = np.where(rng.rand(25) > 0.5, 1.0, -1.0)
    f = y * rng.rand(25) - 0.3
    loss, grad, s = scaled_logistic_loss(y, f)
    h = 1e-6
    fd = [(scaled_logistic_loss(y, f + h * e)[0] - scaled_logistic_loss(y, f - h * e)[0])
          / (2 * h) for e in np.eye(25)]
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-10)
    assert scaled_logistic_loss(y, 7.0 * f)[0] == pytest.approx(loss, rel=1e-10)


def _central(crit, lam, h=1e-5):
    out = []
    for j in range(lam.shape[0]):
        lp, lm = lam.copy(), lam.copy()
        lp[j] *= np.exp(h)
        lm[j] *= np.exp(-h)
        out.append((crit(lp).value - crit(lm).value) / (2 * h * lam[j]))
    return np.array(out)


@pytest.mark.parametrize("data, engine", [
    ("moons", "kkt"), ("moons", "aid-cg"), ("moons", "aid-fp"), ("moons", "itd"),
    ("iris", "kkt"), ("iris", "aid-cg")])
def test_rbf_hypergradient_matches_central_differences(data, engine):
    """d(surrogate)/d(C, gamma), binary and one-vs-one: 1e-5 relative. The fixed-point
    engines (AID-FP, ITD) iterate the projected gradient map, whose contraction factor
    is 1 - lambda_min / lambda_max of the free block of Q: they are tested on a
    well-conditioned kernel (a narrow width)."""
    if data == "moons":
        X, y = make_moons(40, noise=0.3, random_state=0)
        lam = np.array([1.0, 4.0])
    else:
        X, y = load_iris(return_X_y=True)
        X, y = X[::2], y[::2]
        lam = np.array([2.0, 0.7])
    folds = kernel_folds(X, y, list(StratifiedKFold(3).split(X, y)))
    nc = len(np.unique(y))
    fd = _central(SVCCriterion(KernelSpec("rbf"), folds, nc, tol=1e-14), lam)
    grad = SVCCriterion(KernelSpec("rbf"), folds, nc, engine, tol=1e-14)(lam).grad
    np.testing.assert_allclose(grad, fd, rtol=1e-5)


@pytest.mark.parametrize("engine", ["kkt", "aid-cg"])
def test_linear_hypergradient_matches_central_differences(engine):
    """Linear kernel (a singular Q: the fixed-point engines contract too slowly there)."""
    X, y = load_iris(return_X_y=True)
    X, y = X[::2], y[::2]
    folds = kernel_folds(X, y, list(StratifiedKFold(3).split(X, y)))
    lam = np.array([2.0])
    fd = _central(SVCCriterion(KernelSpec("linear"), folds, 3, tol=1e-14), lam)
    grad = SVCCriterion(KernelSpec("linear"), folds, 3, engine, tol=1e-14)(lam).grad
    np.testing.assert_allclose(grad, fd, rtol=1e-5)


def _expected_failures(estimator):
    """The check of extreme class weights (1000 against 1e-4) expects the predictions of
    the weighted fit at a fixed ``C``; the search picks ``C`` by the held-out accuracy
    (not weighted by class, as ``GridSearchCV``'s), which undoes such a weighting."""
    return {"check_class_weight_classifiers": "C is tuned by the unweighted accuracy"}


@parametrize_with_checks([SVCHyperGrad(cv=3, max_iter=2)],
                         expected_failed_checks=_expected_failures)
def test_sklearn_compatible(estimator, check):
    """Every scikit-learn estimator check passes, but the one of extreme class weights."""
    check(estimator)


def _datasets():
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    yield "breast_cancer", X[::4], y[::4]
    X, y = load_iris(return_X_y=True)
    yield "iris", X[::2], y[::2]
    yield "moons", *make_moons(100, noise=0.3, random_state=0)


def _grid_best_score(X, y, cv):
    """The best mean accuracy of the 20 x 20 grid of ``GridSearchCV(SVC(), ...)`` on the
    folds of ``cv``: scikit-learn's ``SVC`` fit and scored on each fold, on the kernel
    precomputed once per width (the same fits, without the search's overhead)."""
    g0 = 1.0 / (X.shape[1] * X.var())
    scores = np.zeros((20, 20))
    with threadpool_limits(1, "blas"):
        for train, test in cv.split(X, y):
            for j, gamma in enumerate(g0 * np.logspace(-3, 2, 20)):
                K = rbf_kernel(X[train], gamma=gamma)
                K_test = rbf_kernel(X[test], X[train], gamma=gamma)
                for i, C in enumerate(np.logspace(-2, 4, 20)):
                    svc = SVC(C=C, kernel="precomputed").fit(K, y[train])
                    scores[i, j] += np.mean(svc.predict(K_test) == y[test])
    return scores.max() / cv.get_n_splits()


@pytest.mark.parametrize("name, X, y", list(_datasets()), ids=lambda v: v
                         if isinstance(v, str) else "")
def test_search_cv_near_the_grid(name, X, y):
    """HyperGradSearchCV(SVC(kernel="rbf")): the refit SVC, and a CV accuracy at most 0.5
    points below a 20 x 20 GridSearchCV's on the same folds (the best of 400 noisy
    accuracies against the best of about 40: equal on these three)."""
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    search = HyperGradSearchCV(SVC(kernel="rbf"), cv=cv).fit(X, y)
    assert isinstance(search.best_estimator_, SVC)
    assert search.best_estimator_.C == search.best_params_["C"]
    assert search.best_score_ >= _grid_best_score(X, y, cv) - 0.005
    # the search's accuracy is scikit-learn's at its parameters
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = GridSearchCV(SVC(), {k: [v] for k, v in search.best_params_.items()},
                           cv=cv).fit(X, y)
    assert search.best_score_ == pytest.approx(ref.best_score_, abs=1e-12)


def _weighted_iris():
    X, y = load_iris(return_X_y=True)
    X, y = X[::2], y[::2]
    sw = np.random.RandomState(0).uniform(0.3, 3.0, y.shape[0])
    sw[[1, 7]] = 0.0
    return X, y, sw


def test_weighted_dual_is_libsvm():
    """Sample weights times balanced class weights (rows of weight 0 left out): each
    one-vs-one problem's decision function and dual coefficients are those of
    SVC(class_weight="balanced").fit(X, y, sample_weight) on the training fold, to 1e-5."""
    X, y, sw = _weighted_iris()
    splits = list(StratifiedKFold(3).split(X, y))
    weights, test_weights = fold_weights(y, splits, sw, "balanced")
    crit = SVCCriterion(KernelSpec("rbf"), kernel_folds(X, y, splits), 3, tol=1e-13,
                        weights=weights, test_weights=test_weights)
    crit([2.0, 0.7])
    train, test = splits[0]
    sk = SVC(C=2.0, gamma=0.7, class_weight="balanced", decision_function_shape="ovo",
             tol=1e-12).fit(X[train], y[train], sample_weight=sw[train])
    decision = sk.decision_function(X[test])
    # scikit-learn keeps the positive-weight rows, in order; its support_ indexes them
    kept = train[sw[train] > 0]
    for k, ((p, q), pair) in enumerate(crit.folds[0].pairs):
        rows = train[pair.train]
        f = rbf_kernel(X[test], X[rows], gamma=0.7) @ (pair.a * pair.y) - pair.rho
        np.testing.assert_allclose(f, -decision[:, k], atol=1e-5)  # libsvm: + for p
        coef = np.zeros(y.shape[0])
        sv = kept[sk.support_]
        start = np.concatenate([[0], np.cumsum(sk.n_support_)])
        for c, row in zip((p, q), (q - 1, p)):
            block = slice(start[c], start[c + 1])
            coef[sv[block]] = -sk.dual_coef_[row, block]
        np.testing.assert_allclose((pair.a * pair.y), coef[rows], atol=1e-5)


def test_weighted_hypergradient_matches_central_differences():
    X, y, sw = _weighted_iris()
    splits = list(StratifiedKFold(3).split(X, y))
    folds = kernel_folds(X, y, splits)
    weights, test_weights = fold_weights(y, splits, sw, {0: 2.0})

    def crit():
        return SVCCriterion(KernelSpec("rbf"), folds, 3, tol=1e-14, weights=weights,
                            test_weights=test_weights)

    lam = np.array([2.0, 0.7])
    np.testing.assert_allclose(crit()(lam).grad, _central(crit(), lam), rtol=1e-5)
    with pytest.raises(ValueError, match="hypergradient='kkt'"):
        SVCCriterion(KernelSpec("rbf"), folds, 3, "aid-cg", weights=weights)


def test_search_cv_sample_weight_as_gridsearchcv():
    """HyperGradSearchCV(SVC(class_weight=...)).fit(X, y, sample_weight=w): the accuracy
    at the best point is GridSearchCV's there (weighted fits and held-out accuracies on
    the same folds), and the refit gets the weights."""
    X, y = make_moons(90, noise=0.3, random_state=0)
    sw = np.random.RandomState(0).uniform(0.2, 3.0, y.shape[0])
    sw[:3] = 0.0
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    search = HyperGradSearchCV(SVC(class_weight="balanced"), cv=cv).fit(X, y,
                                                                        sample_weight=sw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = GridSearchCV(SVC(class_weight="balanced"),
                           {k: [v] for k, v in search.best_params_.items()},
                           cv=cv).fit(X, y, sample_weight=sw)
    assert search.best_score_ == pytest.approx(ref.best_score_, abs=1e-12)
    sk = SVC(class_weight="balanced", **search.best_params_).fit(X, y, sample_weight=sw)
    np.testing.assert_allclose(search.best_estimator_.dual_coef_, sk.dual_coef_)


def test_estimator_sample_weight():
    """SVCHyperGrad.fit(X, y, sample_weight): the refit is SVC's with the weights (rows
    of weight 0 among them); negative weights are refused."""
    X, y = make_moons(60, noise=0.3, random_state=0)
    sw = np.random.RandomState(0).randint(0, 3, y.shape[0]).astype(float)
    est = SVCHyperGrad(cv=3, max_iter=3).fit(X, y, sample_weight=sw)
    sk = SVC(C=est.C_, gamma=est.gamma_, tol=1e-6).fit(X, y, sample_weight=sw)
    np.testing.assert_allclose(est.svc_.dual_coef_, sk.dual_coef_, atol=1e-8)
    with pytest.raises(ValueError, match="Negative values"):
        SVCHyperGrad(cv=3).fit(X, y, sample_weight=-np.ones(60))


def test_estimator_laplacian_refit():
    """The refit of a laplacian kernel (which SVC does not name) is SVC on scikit-learn's
    laplacian kernel at the chosen width."""
    X, y = make_moons(60, noise=0.3, random_state=0)
    est = SVCHyperGrad(kernel="laplacian", cv=3, max_iter=2).fit(X, y)
    sk = SVC(C=est.C_, kernel="precomputed", tol=1e-6).fit(
        laplacian_kernel(X, gamma=est.gamma_), y)
    np.testing.assert_allclose(est.decision_function(X[:5]), sk.decision_function(
        laplacian_kernel(X[:5], X, gamma=est.gamma_)), atol=1e-6)


def test_search_cv_class_weight_dict_of_labels():
    """HyperGradSearchCV(SVC(class_weight={label: weight})) with labels that are not
    0..k-1 (strings here): the dict's keys are the user's labels, and every row's score is
    ``cross_val_score``'s at its parameters."""
    X, y = load_iris(return_X_y=True)
    labels = np.array(["setosa", "versicolor", "virginica"])[y]
    est = SVC(class_weight={"setosa": 1.0, "versicolor": 30.0, "virginica": 1.0})
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    search = HyperGradSearchCV(est, {"C": [0.01, 10.0], "gamma": [0.5]}, cv=cv,
                               max_iter=1).fit(X, labels)
    res = search.cv_results_
    for i in range(0, len(res["params"]), 3):
        ref = cross_val_score(SVC(class_weight=est.class_weight, **res["params"][i]), X,
                              labels, cv=cv)
        assert res["mean_test_score"][i] == pytest.approx(ref.mean(), abs=1e-12)


def test_sigmoid_kernel_as_libsvm():
    """kernel="sigmoid" (not positive semidefinite; libsvm's pairs of negative curvature):
    the gradient in (C, gamma) matches central differences, and the rows of
    HyperGradSearchCV(SVC(kernel="sigmoid")) are ``cross_val_score``'s."""
    X, y = make_moons(60, noise=0.3, random_state=0)
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    folds = kernel_folds(X, y, list(cv.split(X, y)))
    spec = KernelSpec("sigmoid", coef0=0.0)
    lam = np.array([1.0, 0.3])
    np.testing.assert_allclose(SVCCriterion(spec, folds, 2, tol=1e-14)(lam).grad,
                               _central(SVCCriterion(spec, folds, 2, tol=1e-14), lam),
                               rtol=1e-5)
    search = HyperGradSearchCV(SVC(kernel="sigmoid"), cv=cv, max_iter=2).fit(X, y)
    res = search.cv_results_
    for i in range(0, len(res["params"]), 4):
        ref = cross_val_score(SVC(kernel="sigmoid", **res["params"][i]), X, y, cv=cv)
        assert res["mean_test_score"][i] == pytest.approx(ref.mean(), abs=1e-12)


def test_search_cv_callable_kernel():
    """HyperGradSearchCV(SVC(kernel=callable)): the kernel (called as libsvm calls it,
    ``kernel(X_a, X_b)``) is computed once per fold, ``C`` is searched, and every row is
    ``cross_val_score``'s; the refit is the user's SVC with its callable."""
    X, y = load_iris(return_X_y=True)
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    search = HyperGradSearchCV(SVC(kernel=linear_kernel), cv=cv, max_iter=2).fit(X, y)
    assert search.best_estimator_.kernel is linear_kernel
    assert set(search.best_params_) == {"C"}
    res = search.cv_results_
    for i in range(0, len(res["params"]), 4):
        ref = cross_val_score(SVC(kernel=linear_kernel, **res["params"][i]), X, y, cv=cv)
        assert res["mean_test_score"][i] == pytest.approx(ref.mean(), abs=1e-12)


def test_vertex_intercept_is_libsvms():
    """At a small C with balanced class weights every coefficient is at its bound (a
    vertex of the box: the KKT conditions leave the intercept in an interval); the
    rows of HyperGradSearchCV are still ``cross_val_score``'s (libsvm's intercept, not
    the middle of the interval), and the best score is that of the refit SVC."""
    from sklearn.datasets import make_classification

    X, y = make_classification(150, 5, weights=[0.9, 0.1], random_state=0)
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    est = SVC(class_weight="balanced")
    search = HyperGradSearchCV(est, {"C": [0.002, 0.01], "gamma": [0.05, 0.5]}, cv=cv,
                               max_iter=1).fit(X, y)
    res = search.cv_results_
    for i in range(0, len(res["params"]), 2):
        ref = cross_val_score(SVC(class_weight="balanced", **res["params"][i]), X, y, cv=cv)
        assert res["mean_test_score"][i] == pytest.approx(ref.mean(), abs=1e-12)
    assert search.best_score_ == pytest.approx(
        cross_val_score(search.best_estimator_, X, y, cv=cv).mean(), abs=1e-12)


def test_class_of_one_sample():
    """A class with one sample (absent from the training rows of some folds, as
    GridSearchCV's SVC then never predicts it): the rows are ``cross_val_score``'s, for
    HyperGradSearchCV and SVCHyperGrad."""
    X, y = load_iris(return_X_y=True)
    X, y = X[::2], y[::2].copy()
    y[-1] = 3
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the least populated class
        search = HyperGradSearchCV(SVC(), {"C": [0.001, 10.0], "gamma": [0.01, 1.0]},
                                   cv=cv, max_iter=1).fit(X, y)
        res = search.cv_results_
        for i in range(0, len(res["params"]), 3):
            ref = cross_val_score(SVC(**res["params"][i]), X, y, cv=cv)
            assert res["mean_test_score"][i] == pytest.approx(ref.mean(), abs=1e-12)
        assert SVCHyperGrad(cv=cv, max_iter=1).fit(X, y).best_score_ > 0.9


def test_search_cv_probability_scorer():
    """HyperGradSearchCV(SVC(probability=True), scoring="neg_log_loss"): each fold's
    model at a point is the SVC with Platt's scaling fitted on the fold (as
    GridSearchCV's), and every row is ``cross_val_score``'s (before: NaN rows)."""
    X, y = load_iris(return_X_y=True)
    X, y = X[::2], y[::2]
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    est = SVC(probability=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # probability, in scikit-learn 1.9
        search = HyperGradSearchCV(est, {"C": [0.1, 10.0], "gamma": [0.1, 1.0]}, cv=cv,
                                   max_iter=1, scoring="neg_log_loss").fit(X, y)
        res = search.cv_results_
        for i in range(0, len(res["params"]), 4):
            ref = cross_val_score(SVC(probability=True, random_state=0, **res["params"][i]),
                                  X, y, cv=cv, scoring="neg_log_loss")
            assert res["mean_test_score"][i] == pytest.approx(ref.mean(), rel=1e-10)
    assert np.isfinite(search.best_score_)


def test_search_cv_checks_the_estimators_parameters_first():
    """A parameter SVC's own fit refuses (the "laplacian" kernel is SVCHyperGrad's, not
    SVC's) fails before the search, with SVC's message."""
    from sklearn.utils._param_validation import InvalidParameterError

    X, y = load_iris(return_X_y=True)
    calls = []
    with pytest.raises(InvalidParameterError, match="'kernel' parameter of SVC"):
        HyperGradSearchCV(SVC(kernel="laplacian"), cv=3,
                          callback=lambda entry: calls.append(entry)).fit(X, y)
    assert calls == []
