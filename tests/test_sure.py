"""SURE: exact degrees of freedom of least squares, their gradient, and the Monte-Carlo option.

Protects :class:`skhypergrad.criteria.SURE`: the estimate is unbiased for the
prediction risk (Lasso and elastic net, from a nearly empty to a nearly
interpolating fit with ``p > n``); the exact df is the direct numpy trace formula,
the rank on a singular support and the divergence of the fit by finite
differences in ``y``; the gradient in ``log(lam)`` is the finite-difference one for
every penalty, with and without intercept; the Monte-Carlo option with several
probes agrees with the exact df and has the finite-difference gradient.
"""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import ElasticNet as SkElasticNet
from test_criteria import ENGINE, SOLVER, classification, fd_log_grad, regression

from skhypergrad import hypergradient
from skhypergrad._sure import _least_squares_df
from skhypergrad._threads import search_blas_limits
from skhypergrad.criteria import SURE
from skhypergrad.datafits import Quadratic
from skhypergrad.models import InnerModel
from skhypergrad.solvers import CoordinateDescent

PENALTIES = {"lasso": ("l1", [0.05]), "enet": ("elasticnet", [0.05, 0.1]),
             "weighted": ("weighted_l1", np.linspace(0.02, 0.12, 10))}


def _fit(res, X, fit_intercept):
    """The fit ``X w + b`` of the base inner problem of a SURE result."""
    w = res.state[0].w
    p = X.shape[1]
    return X @ w[:p] + (w[p] if fit_intercept else 0.0)


def _numpy_df(X, w, l2, fit_intercept):
    """``tr(Z (Z^T Z + n l2 P)^{-1} Z^T)`` on the support of ``w``, ``Z = [X_S, 1]``."""
    n, p = X.shape
    support = np.flatnonzero(w[:p])
    Z = X[:, support]
    pen = np.ones(len(support))
    if fit_intercept:
        Z, pen = np.column_stack([Z, np.ones(n)]), np.append(pen, 0.0)
    if l2 == 0:
        return np.linalg.matrix_rank(Z)
    return np.trace(Z @ np.linalg.solve(Z.T @ Z + n * l2 * np.diag(pen), Z.T))


# -- unbiasedness -----------------------------------------------------------------------------
N_DRAWS = 300


def _unbiasedness_problem():
    """n = 100 < p = 150, 10 informative features, true intercept 1, sigma = 1."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((100, 150))
    beta = np.zeros(150)
    beta[:10] = 2.0 * rng.standard_normal(10)
    return X, X @ beta + 1.0, 1.0


@pytest.mark.parametrize("fraction", [0.4, 0.03, 0.002])
@pytest.mark.parametrize("penalty", ["lasso", "enet"])
def test_sure_is_unbiased(penalty, fraction):
    """Over 300 noise draws, mean(SURE - risk) is within 2 standard errors of 0, with
    risk = ||X beta + b - yhat||^2 / n; alpha a fraction of alpha_max (support sizes
    about 4, 25 and 90 of n = 100). The Lasso fits an intercept, the elastic net
    (l1_ratio 0.5) does not. The draws are fixed (seeded): a correct estimator would
    miss a 2-SE band at about 1 seed in 20 per setting."""
    X, mu, sigma = _unbiasedness_problem()
    n = X.shape[0]
    fit_intercept = penalty == "lasso"
    rho = 1.0 if penalty == "lasso" else 0.5
    centered = mu - mu.mean() if fit_intercept else mu
    alpha = fraction * np.abs(X.T @ centered).max() / (n * rho)
    lam = [alpha] if penalty == "lasso" else [alpha * rho, alpha * (1 - rho)]
    model = InnerModel("quadratic", PENALTIES[penalty][0], fit_intercept=fit_intercept)
    crit, solver = SURE(sigma), CoordinateDescent(tol=1e-10, max_iter=10_000)
    Y = mu + sigma * np.random.default_rng(1).standard_normal((N_DRAWS, n))
    sure, fits = np.empty(N_DRAWS), np.empty((N_DRAWS, n))
    res = None
    with search_blas_limits(X):  # one BLAS thread, as in a search: small products
        for i, y in enumerate(Y):  # each draw warm-started from the previous one's solution
            res = crit.value(model, X, y, lam, solver=solver,
                             state=None if res is None else res.state)
            sure[i], fits[i] = res.value, _fit(res, X, fit_intercept)
    diff = sure - np.mean((fits - mu) ** 2, axis=1)
    assert abs(diff.mean()) < 2.0 * diff.std(ddof=1) / np.sqrt(N_DRAWS)


# -- the exact degrees of freedom -------------------------------------------------------------
@pytest.mark.parametrize("fit_intercept", [False, True])
@pytest.mark.parametrize("penalty", list(PENALTIES))
def test_exact_df_is_the_trace_formula(penalty, fit_intercept):
    """df = |S| (+1) for the Lasso, tr(Z (Z^T Z + n l2 P)^{-1} Z^T) for the elastic
    net; value = mse - sigma^2 + 2 sigma^2 df / n, and the fit is scikit-learn's."""
    X, y = regression(n=50, p=10)
    name, lam = PENALTIES[penalty]
    lam = np.asarray(lam, dtype=float)
    sigma, n = 0.5, len(y)
    model = InnerModel("quadratic", name, fit_intercept=fit_intercept)
    res = SURE(sigma).value(model, X, y, lam, solver=SOLVER)
    w = res.state[0].w
    l2 = lam[1] if penalty == "enet" else 0.0
    df = _numpy_df(X, w, l2, fit_intercept)
    if penalty != "enet":
        assert df == np.count_nonzero(w[:10]) + fit_intercept
    yhat = _fit(res, X, fit_intercept)
    np.testing.assert_allclose(res.values, [np.mean((y - yhat) ** 2), df], rtol=1e-10)
    np.testing.assert_allclose(res.value, res.values[0] - sigma ** 2 + 2 * sigma ** 2 * df / n,
                               rtol=1e-12)
    if penalty == "enet":
        sk = SkElasticNet(alpha=lam.sum(), l1_ratio=lam[0] / lam.sum(), tol=1e-14,
                          max_iter=100_000, fit_intercept=fit_intercept).fit(X, y)
        np.testing.assert_allclose(yhat, sk.predict(X), rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("penalty", ["lasso", "enet"])
def test_exact_df_is_the_divergence_of_the_fit(penalty):
    """df equals sum_i d yhat_i / d y_i by central finite differences in y (intercept
    fitted): the closed form is the divergence it claims to be."""
    X, y = regression(n=30, p=8)
    name, lam = PENALTIES[penalty]
    model = InnerModel("quadratic", name, fit_intercept=True)
    crit, h = SURE(0.5), 1e-6
    res = crit.value(model, X, y, lam, solver=SOLVER)
    div = 0.0
    for i in range(len(y)):
        e = np.zeros(len(y))
        e[i] = h
        hi, lo = (_fit(crit.value(model, X, y + s * e, lam, solver=SOLVER), X, True)[i]
                  for s in (1, -1))
        div += (hi - lo) / (2 * h)
    np.testing.assert_allclose(res.values[1], div, rtol=1e-6)


@pytest.mark.parametrize("fit_intercept", [False, True])
def test_exact_df_on_a_singular_support(fit_intercept):
    """A support whose columns are dependent (a sum of two others, and a constant column
    that the intercept absorbs): the Lasso's df is the rank of Z, the elastic net's the
    trace formula (H + l2 P is invertible); the derivative in l2 is -tr(K P K H)."""
    rng = np.random.default_rng(0)
    n = 20
    X = rng.standard_normal((n, 6))
    X[:, 2] = X[:, 0] + X[:, 1]
    X[:, 3] = 3.0
    w = np.array([0.5, -1.0, 0.3, 0.2, 0.0, 0.7] + [0.1] * fit_intercept)
    for penalty, lam in (("l1", [0.1]), ("elasticnet", [0.1, 0.3])):
        model = InnerModel("quadratic", penalty, fit_intercept=fit_intercept)
        pgmap = model.make_map(X, rng.standard_normal(n))
        df, ddf = _least_squares_df(pgmap, w, np.array(lam))
        l2 = lam[-1] if penalty == "elasticnet" else 0.0
        assert abs(df - _numpy_df(X, w, l2, fit_intercept)) < 1e-10
        if penalty == "l1":
            assert df == 4  # columns 0, 1, 5 and the constant (the intercept)
            continue
        Z = X[:, [0, 1, 2, 3, 5]]
        P = np.eye(5)
        if fit_intercept:
            Z, P = np.column_stack([Z, np.ones(n)]), np.diag([1.0] * 5 + [0.0])
        H = Z.T @ Z / n
        K = np.linalg.inv(H + l2 * P)
        assert abs(ddf.sum() + np.trace(K @ P @ K @ H)) < 1e-10


def test_lasso_df_is_the_rank_when_p_exceeds_n():
    """p > n, alpha small: the support nearly fills the n rows; df = rank([X_S, 1])."""
    X, y = regression(n=20, p=40, noise=1.0)
    model = InnerModel("quadratic", "l1", fit_intercept=True)
    res = SURE(1.0).value(model, X, y, [1e-3], solver=CoordinateDescent(tol=1e-12))
    w = res.state[0].w
    assert np.count_nonzero(w[:40]) >= 15
    assert res.values[1] == _numpy_df(X, w, 0.0, True)


# -- gradients ------------------------------------------------------------------------------
def _fd_values(crit, model, X, y, lam, h=1e-5):
    """Central finite differences of ``values`` (mse, df) in each log(lam)."""
    return np.array([(crit.value(model, X, y, lam * np.exp(h * e), solver=SOLVER).values
                      - crit.value(model, X, y, lam * np.exp(-h * e), solver=SOLVER).values)
                     / (2 * h) for e in np.eye(len(lam))])


@pytest.mark.parametrize("fit_intercept", [False, True])
@pytest.mark.parametrize("penalty", list(PENALTIES))
def test_exact_gradient_matches_finite_differences(penalty, fit_intercept):
    """Gradient in log(lam) against central finite differences. The Lasso's df is
    locally constant (its gradient is the MSE's alone, nonzero); the elastic net's
    depends on lam2 (both parts nonzero)."""
    X, y = regression(n=50, p=10)
    name, lam = PENALTIES[penalty]
    lam = np.asarray(lam, dtype=float)
    model = InnerModel("quadratic", name, fit_intercept=fit_intercept)
    crit = SURE(0.5)
    res = crit.value_and_grad(model, X, y, lam, solver=SOLVER, engine=ENGINE)
    assert len(res.state) == 1
    np.testing.assert_allclose(res.grad, fd_log_grad(crit, model, X, y, lam), rtol=1e-6,
                               atol=1e-9 * np.abs(res.grad).max())
    d_mse, d_df = _fd_values(crit, model, X, y, lam).T
    assert np.abs(d_mse).max() > 1e-3
    if penalty == "enet":
        assert abs(d_df[1]) > 1e-2
    else:
        np.testing.assert_array_equal(d_df, 0.0)


@pytest.mark.parametrize("df", ["exact", "monte-carlo"])
def test_sparse_x_gives_the_dense_result(df):
    X, y = regression(n=50, p=10)
    X[np.abs(X) < 0.5] = 0.0
    model = InnerModel("quadratic", "elasticnet", fit_intercept=True)
    lam = np.array([0.05, 0.1])
    crit = SURE(0.5, df=df, n_probes=2)
    dense, csr = (crit.value_and_grad(model, Xs, y, lam, solver=SOLVER, engine=ENGINE)
                  for Xs in (X, sp.csr_matrix(X)))
    np.testing.assert_allclose(csr.values, dense.values, rtol=1e-9)
    np.testing.assert_allclose(csr.grad, dense.grad, rtol=1e-8)


# -- the Monte-Carlo option ---------------------------------------------------------------------
def test_monte_carlo_value_is_the_finite_difference_formula():
    """For the Lasso, yhat is locally the projection P onto [X_S, 1] plus a constant: the
    finite difference of each probe is delta_k^T P delta_k, averaged over the probes."""
    X, y = regression(n=50, p=10)
    sigma, lam, n = 0.5, np.array([0.05]), 50
    crit = SURE(sigma, eps=1e-6, random_state=3, df="monte-carlo", n_probes=3)
    model = InnerModel(fit_intercept=True)
    res = crit.value(model, X, y, lam, solver=SOLVER)
    assert len(res.state) == 4
    w = res.state[0].w
    Z = np.column_stack([X[:, np.flatnonzero(w[:-1])], np.ones(n)])
    P = Z @ np.linalg.pinv(Z)
    deltas, eps = crit.direction(n)
    assert deltas.shape == (3, n) and eps == 1e-6
    df = np.mean([d @ P @ d for d in deltas])
    mse = np.mean((y - _fit(res, X, True)) ** 2)
    np.testing.assert_allclose(res.values, [mse, df], rtol=1e-6)
    np.testing.assert_allclose(res.value, mse - sigma ** 2 + 2 * sigma ** 2 * df / n,
                               rtol=1e-6)


def test_monte_carlo_directions_come_from_random_state():
    """An int seeds the same directions at every call (the first is the one a single
    probe draws); another int, other directions."""
    d1, _ = SURE(1.0, random_state=7, n_probes=4).direction(30)
    d2, _ = SURE(1.0, random_state=7, n_probes=4).direction(30)
    d3, _ = SURE(1.0, random_state=8, n_probes=4).direction(30)
    np.testing.assert_array_equal(d1, d2)
    np.testing.assert_array_equal(d1[0], np.random.RandomState(7).standard_normal(30))
    assert not np.allclose(d1, d3)


@pytest.mark.parametrize("penalty", ["lasso", "enet"])
def test_monte_carlo_df_is_close_to_exact(penalty):
    """With 200 probes and a small step the Monte-Carlo df is within 4 standard
    deviations of the exact one (its variance is 2 tr(J^2) / K <= 2 df / K, J the
    symmetric Jacobian of the fit, 0 <= J <= I)."""
    X, y = regression(n=50, p=10)
    name, lam = PENALTIES[penalty]
    model = InnerModel("quadratic", name, fit_intercept=True)
    exact = SURE(0.5).value(model, X, y, lam, solver=SOLVER).values[1]
    K = 200
    mc = SURE(0.5, eps=1e-4, df="monte-carlo", n_probes=K).value(model, X, y, lam,
                                                                  solver=SOLVER).values[1]
    assert abs(mc - exact) < 4.0 * np.sqrt(2.0 * exact / K)


@pytest.mark.parametrize("penalty", ["enet", "weighted"])
def test_monte_carlo_gradient_matches_finite_differences(penalty):
    X, y = regression(n=50, p=10)
    name, lam = PENALTIES[penalty]
    lam = np.asarray(lam, dtype=float)
    model = InnerModel("quadratic", name, fit_intercept=True)
    crit = SURE(0.5, random_state=0, df="monte-carlo", n_probes=3)
    res = crit.value_and_grad(model, X, y, lam, solver=SOLVER, engine=ENGINE)
    assert len(res.state) == 4
    np.testing.assert_allclose(res.grad, fd_log_grad(crit, model, X, y, lam), rtol=1e-5,
                               atol=1e-8 * np.abs(res.grad).max())


class _UndeclaredQuadratic(Quadratic):
    """Least squares that does not declare itself so: no exact df."""

    least_squares = False


def test_auto_follows_the_datafit_declaration():
    """"auto": exact for a least-squares datafit (one inner problem), Monte Carlo for a
    datafit that does not declare least squares (1 + n_probes problems); "exact"
    refuses the latter."""
    X, y = regression(n=40, p=6)
    ls = InnerModel(Quadratic(), "l1")
    other = InnerModel(_UndeclaredQuadratic(), "l1")
    assert len(SURE(0.5).value(ls, X, y, [0.05], solver=SOLVER).state) == 1
    assert len(SURE(0.5, n_probes=2).value(other, X, y, [0.05], solver=SOLVER).state) == 3
    with pytest.raises(ValueError, match="least-squares"):
        SURE(0.5, df="exact").value(other, X, y, [0.05], solver=SOLVER)


def test_warm_starts_and_shared_design():
    """Evaluated again on the same data SURE reuses its map; the probes' maps share its
    design; the returned state warm-starts the next evaluation."""
    import pickle

    X, y = regression(n=40, p=6)
    model = InnerModel(fit_intercept=True)
    crit = SURE(0.5, df="monte-carlo", n_probes=2)
    solver = CoordinateDescent(tol=1e-12)
    cold = crit.value(model, X, y, [0.05], solver=solver)
    pgmap = crit._cache[2]
    warm = crit.value(model, X, y, [0.05], solver=solver, state=cold.state)
    assert crit._cache[2] is pgmap and pgmap.with_target(y).design is pgmap.design
    assert warm.n_iter.sum() < cold.n_iter.sum()
    np.testing.assert_allclose(warm.value, cold.value, rtol=1e-10)
    assert not hasattr(pickle.loads(pickle.dumps(crit)), "_cache")


def test_hypergradient_api_with_sure():
    X, y = regression(n=50, p=10)
    lam = np.array([0.05, 0.1])
    model = InnerModel("quadratic", "elasticnet", fit_intercept=True, lam=lam)
    value, grad = hypergradient(model, X, y, criterion=SURE(0.5), solver=SOLVER, tol=1e-12)
    res = SURE(0.5).value_and_grad(model, X, y, lam, solver=SOLVER, engine=ENGINE)
    np.testing.assert_allclose([value, *grad], [res.value, *res.grad], rtol=1e-8)


# -- bad inputs -----------------------------------------------------------------------------------
def test_bad_inputs_raise():
    X, y = regression(n=40, p=6)
    model = InnerModel()
    Xc, yc = classification()
    with pytest.raises(ValueError, match="least squares"):
        SURE(1.0).value(InnerModel("logistic"), Xc, yc, [0.1], solver=SOLVER)
    for sigma in (0.0, -1.0):
        with pytest.raises(ValueError, match="sigma"):
            SURE(sigma).value(model, X, y, [0.1], solver=SOLVER)
    with pytest.raises(ValueError, match="df"):
        SURE(1.0, df="sugar").value(model, X, y, [0.1], solver=SOLVER)
    for n_probes in (0, 2.5, True):
        with pytest.raises(ValueError, match="n_probes"):
            SURE(1.0, df="monte-carlo", n_probes=n_probes).value(model, X, y, [0.1],
                                                                  solver=SOLVER)
    with pytest.raises(ValueError, match="eps"):
        SURE(1.0, eps=0.0, df="monte-carlo").value(model, X, y, [0.1], solver=SOLVER)
    with pytest.raises(ValueError, match="state"):
        SURE(1.0).value(model, X, y, [0.1], solver=SOLVER,
                        state=SURE(1.0, df="monte-carlo", n_probes=2).value(
                            model, X, y, [0.1], solver=SOLVER).state)
