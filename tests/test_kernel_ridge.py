"""Kernel ridge by hypergradient: the dual map, the criterion's gradient, the estimator,
and ``HyperGradSearchCV(KernelRidge())``."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.kernel_ridge import KernelRidge
from sklearn.metrics.pairwise import rbf_kernel
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.utils.estimator_checks import parametrize_with_checks
from threadpoolctl import threadpool_limits

from skhypergrad import HyperGradSearchCV, KernelRidgeHyperGrad
from skhypergrad._kernel_search import kernel_folds
from skhypergrad.dual import KernelRidgeMap
from skhypergrad.kernel_ridge import KernelRidgeCriterion
from skhypergrad.kernels import KernelSpec, check_kernel_memory, pair_data


def _data(n=40, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, 3)
    return X, np.sin(X[:, 0]) + 0.5 * X[:, 1] + 0.1 * rng.randn(n)


def _central(f, lam, j, h=1e-5):
    """Central difference of ``f`` in ``log lam[j]``, as a derivative in ``lam[j]``."""
    lp, lm = lam.copy(), lam.copy()
    lp[j] *= np.exp(h)
    lm[j] *= np.exp(-h)
    return (f(lp) - f(lm)) / (2 * h * lam[j])


@pytest.mark.parametrize("kernel", ["rbf", "laplacian", "poly", "linear"])
def test_pair_data_kernels_are_sklearns(kernel):
    """K and its gamma derivative: scikit-learn's kernel, and its central difference."""
    from sklearn.metrics.pairwise import pairwise_kernels

    X, _ = _data(20)
    spec = KernelSpec(kernel)
    pd = pair_data(spec, X[:12], X[12:])
    gamma = 0.3
    K, dK = pd.kernel(gamma, derivative=True)
    params = {} if kernel == "linear" else {"gamma": gamma}
    if kernel == "poly":
        params.update(degree=3, coef0=1)
    np.testing.assert_allclose(K, pairwise_kernels(X[:12], X[12:], metric=kernel, **params),
                               rtol=1e-12)
    if spec.has_gamma:
        h = 1e-6
        fd = (pd.kernel(gamma + h)[0] - pd.kernel(gamma - h)[0]) / (2 * h)
        np.testing.assert_allclose(dK, fd, rtol=1e-6, atol=1e-9)


def test_map_fixed_point_is_kernel_ridge():
    """The map's fixed point is scikit-learn's dual solution."""
    X, y = _data()
    K = rbf_kernel(X, gamma=0.5)
    c = KernelRidge(alpha=0.3, kernel="rbf", gamma=0.5).fit(X, y).dual_coef_
    pgmap = KernelRidgeMap(K, y)
    np.testing.assert_allclose(pgmap.apply(c, np.array([0.3])), c, atol=1e-10)


def test_fold_solutions_are_kernel_ridges_by_cholesky_then_eigendecomposition():
    """A fold's dual coefficients at 12 alphas of one width (Cholesky factorizations, then
    the eigendecomposition) are scikit-learn's."""
    X, y = _data()
    w = np.random.RandomState(1).uniform(0.5, 2.0, y.shape[0])
    train, test = next(KFold(3).split(X))
    crit = KernelRidgeCriterion(KernelSpec("rbf"),
                                kernel_folds(X, y, [(train, test)], sample_weight=w))
    for alpha in np.logspace(-4, 1, 12):
        ref = KernelRidge(alpha=alpha, kernel="rbf", gamma=0.5).fit(
            X[train], y[train], sample_weight=w[train]).dual_coef_
        np.testing.assert_allclose(crit.solution(0, [alpha, 0.5]), ref,
                                   atol=1e-9 * np.abs(ref).max())
    assert crit.folds[0]._eig is not None


#: every engine on the RBF kernel (with and without sample weights), the exact ones on the
#: others
CASES = [(engine, "rbf", weighted) for engine in ["eig", "aid-cg", "aid-fp", "itd",
                                                  "itd-reverse"]
         for weighted in (False, True)] + \
    [(engine, kernel, False) for engine in ["eig", "aid-cg"]
     for kernel in ["laplacian", "poly", "linear"]]


@pytest.mark.parametrize("engine, kernel, weighted", CASES)
def test_hypergradient_matches_central_differences(engine, kernel, weighted):
    """d(held-out MSE)/d(alpha, gamma) of every engine = central differences, 1e-5 rel;
    with sample weights (KernelRidge's, and a weighted held-out MSE) too."""
    X, y = _data()
    w = np.random.RandomState(1).uniform(0.5, 2.0, y.shape[0]) if weighted else None
    folds = kernel_folds(X, y, list(KFold(3).split(X)), sample_weight=w, score_weight=w)
    spec = KernelSpec(kernel)
    lam = np.array([1.0, 0.2]) if spec.has_gamma else np.array([1.0])
    crit = KernelRidgeCriterion(spec, folds, engine)
    grad = crit(lam).grad
    ref = KernelRidgeCriterion(spec, folds, "eig")
    fd = np.array([_central(lambda l: ref(l).value, lam, j) for j in range(lam.shape[0])])
    np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-5 * np.abs(fd).max())


def test_memory_limit_refuses_with_sizes():
    """Kernels that would take more than half of the memory are refused, with the sizes."""
    with pytest.raises(MemoryError, match=r"4 matrices of 1000 x 1000 float64 need 0.03 GiB"):
        check_kernel_memory(1000, 1000, 4, available=2**20)
    check_kernel_memory(1000, 1000, 4, available=2**30)


@parametrize_with_checks([KernelRidgeHyperGrad(cv=3, max_iter=2)])
def test_sklearn_compatible(estimator, check):
    """Every scikit-learn estimator check passes (weights as repeated rows included: the
    check's data leaves the same point the best under both folds)."""
    check(estimator)


def test_estimator_weighted_refit_is_kernel_ridges():
    """With sample weights, the refit at ``alpha_``, ``gamma_`` is ``KernelRidge``'s with the
    same weights, and the search's criterion is the weighted held-out MSE (the weighted
    mean of the folds' errors of the weighted fold models)."""
    rng = np.random.default_rng(0)
    X = rng.uniform(-3, 3, (60, 2))
    y = np.sin(X[:, 0]) + 0.1 * rng.standard_normal(60)
    w = rng.uniform(0.2, 3.0, 60)
    w[:4] = 0.0
    est = KernelRidgeHyperGrad(cv=KFold(3, shuffle=True, random_state=0), max_iter=4).fit(
        X, y, sample_weight=w)
    sk = KernelRidge(alpha=est.alpha_, kernel="rbf", gamma=est.gamma_).fit(X, y,
                                                                           sample_weight=w)
    np.testing.assert_allclose(est.predict(X[:9]), sk.predict(X[:9]), rtol=1e-6, atol=1e-10)
    errors = []
    for train, test in KFold(3, shuffle=True, random_state=0).split(X):
        fold = KernelRidge(alpha=est.alpha_, kernel="rbf", gamma=est.gamma_).fit(
            X[train], y[train], sample_weight=w[train])
        errors.append(np.average((fold.predict(X[test]) - y[test]) ** 2, weights=w[test]))
    np.testing.assert_allclose(est.best_loss_, np.mean(errors), rtol=1e-6)
    assert est.best_score_ == -est.best_loss_


@pytest.mark.parametrize("kernel", ["rbf", "linear"])
def test_estimator_refit_is_kernel_ridges(kernel):
    """``alpha_`` and ``gamma_`` handed to KernelRidge give the same dual coefficients."""
    X, y = _data(80)
    est = KernelRidgeHyperGrad(kernel=kernel, cv=3, max_iter=10).fit(X, y)
    sk = KernelRidge(alpha=est.alpha_, kernel=kernel, gamma=est.gamma_).fit(X, y)
    np.testing.assert_allclose(est.dual_coef_, sk.dual_coef_,
                               atol=1e-8 * np.abs(sk.dual_coef_).max())
    np.testing.assert_allclose(est.predict(X[:7]), sk.predict(X[:7]), atol=1e-8)


def test_precomputed_kernel_is_the_same_model():
    """kernel="precomputed" on the linear kernel matrix finds what kernel="linear" finds."""
    X, y = _data(80)
    lin = KernelRidgeHyperGrad(kernel="linear", cv=3, max_iter=5).fit(X, y)
    pre = KernelRidgeHyperGrad(kernel="precomputed", cv=3, max_iter=5).fit(X @ X.T, y)
    assert pre.alpha_ == pytest.approx(lin.alpha_, rel=1e-6)
    np.testing.assert_allclose(pre.predict(X[:5] @ X.T), lin.predict(X[:5]), atol=1e-8)


def test_search_cv_returns_kernel_ridge_as_good_as_grid():
    """HyperGradSearchCV(KernelRidge(kernel="rbf")) refits the user's KernelRidge, with a
    CV MSE within 0.1% of a 12 x 12 GridSearchCV on the same folds."""
    X, y = _data(70)
    cv = KFold(3, shuffle=True, random_state=0)
    search = HyperGradSearchCV(KernelRidge(kernel="rbf"), cv=cv,
                               scoring="neg_mean_squared_error").fit(X, y)
    assert isinstance(search.best_estimator_, KernelRidge)
    assert search.best_estimator_.alpha == search.best_params_["alpha"]
    with threadpool_limits(1, "blas"):  # 576 small fits
        grid = GridSearchCV(KernelRidge(kernel="rbf"),
                            {"alpha": np.logspace(-6, 1, 12), "gamma": np.logspace(-3, 2, 12)},
                            cv=cv, scoring="neg_mean_squared_error").fit(X, y)
    assert search.best_score_ >= grid.best_score_ * 1.001  # negative MSEs
    # cv_results_ rows are scikit-learn's scores at their parameters
    i = search.best_index_
    ref = GridSearchCV(KernelRidge(kernel="rbf"),
                       {k: [v] for k, v in search.best_params_.items()}, cv=cv,
                       scoring="neg_mean_squared_error").fit(X, y)
    assert search.cv_results_["mean_test_score"][i] == pytest.approx(ref.best_score_,
                                                                     rel=1e-8)


def test_search_cv_refuses_sparse():
    X, y = _data(30)
    with pytest.raises(TypeError, match="dense data only"):
        HyperGradSearchCV(KernelRidge(kernel="rbf"), cv=3).fit(sp.csr_matrix(X), y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        HyperGradSearchCV(KernelRidge(kernel="laplacian"), cv=3, max_iter=2).fit(X, y)
