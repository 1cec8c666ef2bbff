"""SVR by hypergradient: the dual against libsvm, the exact hypergradient against central
differences, and ``HyperGradSearchCV(SVR())`` against a grid on the same folds."""

import numpy as np
import pytest
from sklearn.metrics.pairwise import linear_kernel, rbf_kernel
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.svm import SVR
from threadpoolctl import threadpool_limits

from skhypergrad import HyperGradSearchCV
from skhypergrad._kernel_search import kernel_folds
from skhypergrad.kernels import KernelSpec
from skhypergrad.svr import SVRCriterion, svr_dual


def _data(n=60, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, 2)
    return X, np.sin(2 * X[:, 0]) + 0.2 * rng.randn(n)


@pytest.mark.parametrize("kernel, C, epsilon, gamma", [
    ("rbf", 1.0, 0.1, 0.5), ("rbf", 10.0, 0.05, 2.0), ("rbf", 0.1, 0.3, 0.3),
    ("linear", 1.0, 0.1, None)])
def test_dual_is_libsvm(kernel, C, epsilon, gamma):
    """Dual coefficients (rbf: unique) and predictions = SVR's to 1e-5."""
    X, y = _data()
    K = rbf_kernel(X, gamma=gamma) if kernel == "rbf" else linear_kernel(X)
    beta, b = svr_dual(K, y, C, epsilon, tol=1e-12)
    sk = SVR(C=C, epsilon=epsilon, kernel=kernel, gamma=gamma or "scale", tol=1e-12).fit(X, y)
    np.testing.assert_allclose(K @ beta + b, sk.predict(X), atol=1e-5)
    if kernel == "rbf":
        coef = np.zeros(y.shape[0])
        coef[sk.support_] = sk.dual_coef_[0]
        np.testing.assert_allclose(beta, coef, atol=1e-5 * C)


@pytest.mark.parametrize("kernel", ["rbf", "linear"])
def test_hypergradient_matches_central_differences(kernel):
    """d(held-out MSE)/d(C, epsilon, gamma): 1e-5 relative."""
    X, y = _data()
    folds = kernel_folds(X, y, list(KFold(3).split(X)))
    spec = KernelSpec(kernel)
    lam = np.array([1.0, 0.1, 0.5]) if spec.has_gamma else np.array([1.0, 0.1])
    crit = SVRCriterion(spec, folds, tol=1e-14)
    grad = crit(lam).grad
    fd = []
    for j in range(lam.shape[0]):
        lp, lm = lam.copy(), lam.copy()
        lp[j] *= np.exp(1e-5)
        lm[j] *= np.exp(-1e-5)
        fd.append((crit(lp).value - crit(lm).value) / (2e-5 * lam[j]))
    np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-8 * np.abs(fd).max())


def test_search_cv_returns_svr_near_the_grid():
    """HyperGradSearchCV(SVR()) refits the user's SVR; its CV MSE is within 2% of a
    8 x 4 x 8 GridSearchCV's on the same folds."""
    X, y = _data(90)
    cv = KFold(3, shuffle=True, random_state=0)
    search = HyperGradSearchCV(SVR(), cv=cv).fit(X, y)
    assert isinstance(search.best_estimator_, SVR)
    assert set(search.best_params_) == {"C", "epsilon", "gamma"}
    s = np.std(y)
    with threadpool_limits(1, "blas"):
        grid = GridSearchCV(SVR(), {"C": s * np.logspace(-1, 3, 8),
                                    "epsilon": s * np.array([0.01, 0.05, 0.1, 0.3]),
                                    "gamma": np.logspace(-2, 1, 8) / (2 * X.var())},
                            cv=cv, scoring="neg_mean_squared_error").fit(X, y)
    assert search.best_score_ >= 1.02 * grid.best_score_
    ref = GridSearchCV(SVR(tol=1e-10), {k: [v] for k, v in search.best_params_.items()},
                       cv=cv, scoring="neg_mean_squared_error").fit(X, y)
    assert search.best_score_ == pytest.approx(ref.best_score_, rel=1e-5)
