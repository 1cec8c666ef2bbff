"""LinearSVR by hypergradient: liblinear's solution, the exact hypergradient against central
differences, and ``HyperGradSearchCV(LinearSVR())`` against a 20 x 20 GridSearchCV on the
same folds."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.svm import LinearSVR
from threadpoolctl import threadpool_limits

from skhypergrad import HyperGradSearchCV
from skhypergrad._kernel_search import kernel_folds
from skhypergrad._linear_svr_active_set import face_step
from skhypergrad.linear_svr import LinearSVRCriterion, augment, linear_svr_dual

LOSSES = ["epsilon_insensitive", "squared_epsilon_insensitive"]


def _data(n=60, p=4, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, p)
    coef = np.zeros(p)
    coef[:3] = [1.0, -2.0, 0.5]
    return X, X @ coef + 1.0 + rng.randn(n)


def _objective(coef, intercept, X, y, C, eps, squared, scaling, weights):
    r = np.maximum(np.abs(y - X @ coef - intercept) - eps, 0.0)
    return 0.5 * (coef @ coef + (intercept / scaling) ** 2) + \
        C * np.sum(weights * (r ** 2 if squared else r))


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("C, weighted", [(0.5, True), (50.0, False)])
def test_dual_is_liblinears(loss, C, weighted):
    """The primal objective of the dual's solution = LinearSVR's (converged) to 1e-6,
    with intercept_scaling != 1 and sample weights."""
    X, y = _data()
    w = np.random.RandomState(1).uniform(0.5, 2.0, y.shape[0]) if weighted else np.ones(60)
    squared, eps, s = loss.startswith("squared"), 0.2, 2.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sk = LinearSVR(C=C, epsilon=eps, loss=loss, intercept_scaling=s, dual=True,
                       tol=1e-10, max_iter=1_000_000).fit(X, y, sample_weight=w)
    _, coef = linear_svr_dual(augment(X, s), y, C * w, eps, squared)
    ours = _objective(coef[:-1], s * coef[-1], X, y, C, eps, squared, s, w)
    theirs = _objective(sk.coef_, sk.intercept_[0], X, y, C, eps, squared, s, w)
    assert ours <= theirs * (1 + 1e-6)
    assert ours == pytest.approx(theirs, rel=1e-6)


@pytest.mark.parametrize("rows, in_range, duplicate", [
    (3, True, False), (12, True, False), (12, False, False), (12, True, True),
    (12, False, True)])
def test_face_step_is_the_pseudo_inverse_step(rows, in_range, duplicate):
    """The active set's face step: -pinv(M) g (M = X_F X_F^T) and a largest length of 1
    when g is in the range of M, else -(I - M pinv(M)) g and none, through the Gram
    matrix of either side and, for a rank-deficient one (a duplicated column), the SVD."""
    rng = np.random.RandomState(0)
    XF = rng.randn(rows, 5)
    if duplicate:
        XF[:, 4] = XF[:, 0]
    g = XF @ rng.randn(5) if in_range else rng.randn(rows)
    Mp = np.linalg.pinv(XF @ XF.T)
    step, t = face_step(XF, g, XF.T @ XF)
    if in_range or rows <= 5:
        assert t == 1.0
        np.testing.assert_allclose(step, -Mp @ g, rtol=1e-9, atol=1e-12)
    else:
        assert t == np.inf
        np.testing.assert_allclose(step, -(g - XF @ XF.T @ Mp @ g), rtol=1e-9, atol=1e-12)


def test_dual_with_a_duplicated_feature_is_liblinears():
    """A rank-deficient X (the free rows' Gram matrix singular: the SVD's face step):
    the primal objective = LinearSVR's (converged) to 1e-6."""
    X, y = _data()
    X = np.hstack([X, X[:, :1]])
    C, eps = 50.0, 0.2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sk = LinearSVR(C=C, epsilon=eps, dual=True, tol=1e-10, max_iter=1_000_000).fit(X, y)
    _, coef = linear_svr_dual(augment(X, 1.0), y, np.full(60, C), eps, False)
    ours = _objective(coef[:-1], coef[-1], X, y, C, eps, False, 1.0, np.ones(60))
    theirs = _objective(sk.coef_, sk.intercept_[0], X, y, C, eps, False, 1.0, np.ones(60))
    assert ours == pytest.approx(theirs, rel=1e-6)


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("scaling", [1.0, None])
def test_hypergradient_matches_central_differences(loss, scaling):
    """d(weighted held-out MSE)/d(C, epsilon): 1e-5 relative (with p + 1 free
    coefficients, the epsilon-insensitive fit is locally constant in C: a zero
    derivative, to 1e-8 of the largest)."""
    X, y = _data()
    w = np.random.RandomState(1).uniform(0.5, 2.0, y.shape[0])
    folds = kernel_folds(X, y, list(KFold(3).split(X)), sample_weight=w, score_weight=w)
    crit = LinearSVRCriterion(folds, loss.startswith("squared"), scaling, tol=1e-14)
    lam = np.array([0.3, 0.2])
    fd = []
    for j in range(2):
        lp, lm = lam.copy(), lam.copy()
        lp[j] *= np.exp(1e-5)
        lm[j] *= np.exp(-1e-5)
        fd.append((crit(lp).value - crit(lm).value) / (2e-5 * lam[j]))
    np.testing.assert_allclose(crit(lam).grad, fd, rtol=1e-5, atol=1e-8 * np.abs(fd).max())


@pytest.mark.parametrize("loss", LOSSES)
def test_search_cv_near_a_20_by_20_grid(loss):
    """HyperGradSearchCV(LinearSVR(loss)) refits the user's LinearSVR at the best point;
    its CV MSE is within 1% of a 20 x 20 GridSearchCV's on the same folds, and its rows
    are scikit-learn's scores there."""
    X, y = _data(100, 8)
    cv = KFold(3, shuffle=True, random_state=0)
    # liblinear visits the coordinates in a random order: a grid of loose fits scores
    # differently on each run (by up to 3% here), so it is seeded
    est = LinearSVR(loss=loss, dual=True, random_state=0)
    search = HyperGradSearchCV(est, cv=cv, scoring="neg_mean_squared_error").fit(X, y)
    assert isinstance(search.best_estimator_, LinearSVR)
    assert search.best_estimator_.loss == loss
    assert search.best_estimator_.C == search.best_params_["C"]
    c0 = 1.0 / (X.shape[0] * np.mean(np.sum(X ** 2, axis=1) + 1.0))
    with threadpool_limits(1, "blas"), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        grid = GridSearchCV(est, {"C": c0 * np.logspace(-2, 4, 20),
                                  "epsilon": np.std(y) * np.logspace(-3, 0, 20)},
                            cv=cv, scoring="neg_mean_squared_error").fit(X, y)
        ref = GridSearchCV(clone(est).set_params(tol=1e-10, max_iter=1_000_000),
                           {k: [v] for k, v in search.best_params_.items()}, cv=cv,
                           scoring="neg_mean_squared_error").fit(X, y)
    assert search.best_score_ >= 1.01 * grid.best_score_  # negative MSEs
    assert search.best_score_ == pytest.approx(ref.best_score_, rel=1e-6)



@pytest.mark.parametrize("loss", LOSSES)
def test_search_cv_follows_the_units_of_y(loss):
    """Targets ``c y`` have the solution ``c w`` at ``c epsilon`` and ``c C`` (the
    epsilon-insensitive loss) or ``C`` (the squared one): the search's points follow, its
    scores (R²) are the same."""
    X, y = _data(60, 4)
    cv = KFold(3, shuffle=True, random_state=0)
    est = LinearSVR(loss=loss, dual=True)
    search, scaled = (HyperGradSearchCV(est, cv=cv).fit(X, c * y) for c in (1.0, 1e4))
    c_unit = 1.0 if loss.startswith("squared") else 1e4
    assert scaled.best_params_["C"] == pytest.approx(c_unit * search.best_params_["C"],
                                                     rel=1e-6)
    assert scaled.best_params_["epsilon"] == pytest.approx(
        1e4 * search.best_params_["epsilon"], rel=1e-6)
    assert scaled.best_score_ == pytest.approx(search.best_score_, rel=1e-8)

def test_search_cv_of_c_alone_keeps_epsilon_0_with_no_log_of_0():
    """``{"C": ...}`` with LinearSVR's default ``epsilon=0``: equal bounds fix epsilon at
    0, and the descent runs in the log of ``C`` alone (it ran in the log of both, with
    ``log 0``: "divide by zero" RuntimeWarnings, and every warm start read from the first
    solution, as distances in ``log lam`` were nan); every row keeps epsilon 0 and the
    search is within 1% of the 20-point grid."""
    X, y = _data(100, 8)
    cv = KFold(3, shuffle=True, random_state=0)
    est = LinearSVR(dual=True, random_state=0, tol=1e-8, max_iter=100_000)
    grid = {"C": np.logspace(-3, 2, 20)}
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        search = HyperGradSearchCV(est, grid, cv=cv, scoring="neg_mean_squared_error")
        search.fit(X, y)
    assert set(search.best_params_) == {"C"}
    assert search.best_estimator_.epsilon == 0.0
    assert "descent" in search.cv_results_["phase"]  # the descent ran
    with threadpool_limits(1, "blas"):
        ref = GridSearchCV(est, grid, cv=cv, scoring="neg_mean_squared_error").fit(X, y)
    assert search.best_score_ >= 1.01 * ref.best_score_  # negative MSEs


def test_search_cv_refuses_what_it_does_not_support():
    X, y = _data(30)
    with pytest.raises(TypeError, match=r"dense data only: .* X.toarray\(\)\.$"):
        HyperGradSearchCV(LinearSVR(), cv=3).fit(sp.csr_matrix(X), y)  # no kernel
    with pytest.raises(ValueError, match="not available for LinearSVR"):
        HyperGradSearchCV(LinearSVR(), cv=3, hypergradient="itd").fit(X, y)
    with pytest.raises(ValueError, match="solved in the dual only"):
        HyperGradSearchCV(LinearSVR(dual=False), cv=3).fit(X, y)
