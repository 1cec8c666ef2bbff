"""Outer criteria: values against scikit-learn, gradients against finite differences.

Protects :mod:`skhypergrad.criteria` (HeldOut, CrossVal, SURE): their
normalization, the folds they use, parallel folds equal to sequential ones,
warm starts carried in the returned state. The SURE estimate has its own file,
``test_sure.py``.
"""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import ElasticNet as SkElasticNet
from sklearn.linear_model import Lasso as SkLasso
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, mean_squared_error
from sklearn.model_selection import KFold, StratifiedKFold

from skhypergrad.criteria import SURE, CrossVal, HeldOut, InnerState
from skhypergrad.hypergrad import get_engine
from skhypergrad.models import InnerModel
from skhypergrad.solvers import ProxGradient



class NewtonPolished:
    """Test solver: FISTA, then Newton steps on the support, so ``w*`` is exact to rounding.

    Finite differences of a criterion divide its error by the step; a solver
    stopping on a duality gap of 1e-14 still leaves ``w`` off by ~1e-9.
    """

    base = ProxGradient(tol=1e-13, max_iter=100_000)

    def solve(self, pgmap, lam, w0=None):
        res = self.base.solve(pgmap, lam, w0)
        design, datafit, y = pgmap.design, pgmap.datafit, pgmap.y
        k = design.n_coefs
        l1, l2 = pgmap.penalty.weights(lam, design.n_features)
        l1, l2 = np.repeat(l1, design.n_outputs), np.repeat(l2, design.n_outputs)
        w = res.w.copy()
        act = np.concatenate([np.flatnonzero(w[:k]), np.arange(k, design.n_params)])
        sign = np.sign(w[:k])
        basis = np.eye(design.n_params)[:, act]
        ridge = np.diag(np.where(act < k, l2[np.minimum(act, k - 1)], 0.0))
        for _ in range(10):
            g = datafit.gradient(design, y, w)
            g[:k] += l1 * sign + l2 * w[:k]
            H = np.column_stack([datafit.hessp(design, y, w, e) for e in basis.T])[act]
            step = np.linalg.lstsq(H + ridge, g[act], rcond=None)[0]
            w[act] -= step
            if np.abs(step).max(initial=0.0) < 1e-15:
                break
        return res._replace(w=w)


SOLVER = NewtonPolished()


def regression(n=60, p=12, seed=0, noise=0.5):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, p)
    beta = np.zeros(p)
    beta[:4] = rng.randn(4)
    return X, X @ beta + noise * rng.randn(n)


def classification(n=60, p=8, seed=0, labels=("a", "b")):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, p)
    beta = np.zeros(p)
    beta[:3] = 2 * rng.randn(3)
    idx = (X @ beta + 0.5 * rng.randn(n) > 0).astype(int)
    return X, np.asarray(labels)[idx]


def fd_log_grad(criterion, model, X, y, lam, h=1e-5):
    """Central finite differences of the criterion's value in log(lam)."""
    out = []
    for e in np.eye(len(lam)):
        hi = criterion.value(model, X, y, lam * np.exp(h * e), solver=SOLVER).value
        lo = criterion.value(model, X, y, lam * np.exp(-h * e), solver=SOLVER).value
        out.append((hi - lo) / (2 * h))
    return np.array(out)


ENGINE = get_engine("aid-cg", tol=1e-12)


# -- values against scikit-learn --------------------------------------------------------
def test_heldout_value_is_sklearn_enet_mse():
    X, y = regression()
    Xt, yt, Xv, yv = X[:40], y[:40], X[40:], y[40:]
    alpha, l1_ratio = 0.1, 0.6
    lam = np.array([alpha * l1_ratio, alpha * (1 - l1_ratio)])
    model = InnerModel("quadratic", "elasticnet", fit_intercept=True)
    res = HeldOut(Xv, yv).value(model, Xt, yt, lam, solver=SOLVER)
    sk = SkElasticNet(alpha=alpha, l1_ratio=l1_ratio, tol=1e-14, max_iter=100_000).fit(Xt, yt)
    assert res.grad is None
    np.testing.assert_allclose(res.value, mean_squared_error(yv, sk.predict(Xv)), rtol=1e-6)


def test_heldout_value_is_sklearn_log_loss():
    X, y = classification()
    Xt, yt, Xv, yv = X[:40], y[:40], X[40:], y[40:]
    C = 0.5
    sk = LogisticRegression(C=C, l1_ratio=1.0, solver="saga", tol=1e-12,
                            max_iter=100_000).fit(Xt, yt)
    model = InnerModel("logistic", "l1", fit_intercept=True)
    res = HeldOut(Xv, yv, loss="logistic").value(model, Xt, yt, [1 / (C * len(yt))],
                                                 solver=SOLVER)
    np.testing.assert_allclose(res.value, log_loss(yv, sk.predict_proba(Xv)), rtol=1e-6)


def test_crossval_value_is_mean_over_sklearn_folds():
    X, y = regression(n=50)
    alpha = 0.05
    res = CrossVal(cv=4).value(InnerModel(fit_intercept=True), X, y, [alpha], solver=SOLVER)
    expected = [
        mean_squared_error(y[te], SkLasso(alpha=alpha, tol=1e-14, max_iter=100_000)
                           .fit(X[tr], y[tr]).predict(X[te]))
        for tr, te in KFold(4).split(X)]
    np.testing.assert_allclose(res.values, expected, rtol=1e-6)
    np.testing.assert_allclose(res.value, np.mean(expected), rtol=1e-6)


def test_crossval_classifier_uses_stratified_folds():
    X, y = classification(n=48, labels=(3, 7))
    model = InnerModel("logistic", "l1", fit_intercept=True)
    lam = [0.02]
    res = CrossVal(cv=3).value(model, X, y, lam, solver=SOLVER)
    expected = [HeldOut(X[te], y[te]).value(model.bind(y), X[tr], y[tr], lam,
                                            solver=SOLVER).value
                for tr, te in StratifiedKFold(3).split(X, y)]
    np.testing.assert_allclose(res.values, expected, rtol=1e-12)


# -- gradients against finite differences ----------------------------------------------
@pytest.mark.parametrize("sparse", [False, True])
def test_heldout_grad_matches_finite_differences(sparse):
    X, y = regression()
    if sparse:
        X = sp.csr_matrix(X)
    model = InnerModel("quadratic", "elasticnet", fit_intercept=True)
    crit = HeldOut(X[40:], y[40:])
    lam = np.array([0.05, 0.1])
    res = crit.value_and_grad(model, X[:40], y[:40], lam, solver=SOLVER, engine=ENGINE)
    np.testing.assert_allclose(res.grad, fd_log_grad(crit, model, X[:40], y[:40], lam),
                               rtol=1e-5)


def test_crossval_grad_matches_finite_differences_logistic():
    X, y = classification(labels=("no", "yes"))
    model = InnerModel("logistic", "elasticnet", fit_intercept=True)
    crit = CrossVal(cv=3)
    lam = np.array([0.02, 0.05])
    res = crit.value_and_grad(model, X, y, lam, solver=SOLVER, engine=ENGINE)
    np.testing.assert_allclose(res.grad, fd_log_grad(crit, model, X, y, lam), rtol=1e-5)


# -- parallel folds and warm starts ---------------------------------------------------------
def test_crossval_parallel_equals_sequential():
    X, y = regression(n=50)
    model = InnerModel("quadratic", "elasticnet", fit_intercept=True)
    lam = np.array([0.05, 0.1])
    r1 = CrossVal(cv=5, n_jobs=1).value_and_grad(model, X, y, lam, solver=SOLVER,
                                                 engine=ENGINE)
    r2 = CrossVal(cv=5, n_jobs=2).value_and_grad(model, X, y, lam, solver=SOLVER,
                                                 engine=ENGINE)
    np.testing.assert_allclose(r2.value, r1.value, rtol=1e-12)
    np.testing.assert_allclose(r2.grad, r1.grad, rtol=1e-12)
    np.testing.assert_allclose(r2.values, r1.values, rtol=1e-12)


def test_crossval_warm_start_travels_in_state():
    X, y = regression(n=50)
    model = InnerModel(fit_intercept=True)
    crit = CrossVal(cv=5)
    cold = crit.value_and_grad(model, X, y, [0.05], solver=SOLVER, engine=ENGINE)
    assert len(cold.state) == 5 and all(isinstance(s, InnerState) for s in cold.state)
    again = crit.value_and_grad(model, X, y, [0.05], solver=SOLVER, engine=ENGINE,
                                state=cold.state)
    # at the same lam the warm start is already optimal
    assert np.all(again.n_iter < cold.n_iter)
    np.testing.assert_allclose(again.grad, cold.grad, rtol=1e-8)
    # value() keeps the engine states and refreshes the solutions
    val = crit.value(model, X, y, [0.06], solver=SOLVER, state=cold.state)
    for s_new, s_old in zip(val.state, cold.state):
        assert s_new.engine_state is s_old.engine_state
        assert not np.array_equal(s_new.w, s_old.w)
    assert not hasattr(crit, "state_")


# -- bad inputs -------------------------------------------------------------------------------
def test_bad_inputs_raise():
    X, y = regression()
    model = InnerModel()
    with pytest.raises(ValueError, match="loss"):
        HeldOut(X, y, loss="logistic").value(model, X, y, [0.1], solver=SOLVER)
    with pytest.raises(ValueError, match="loss"):
        CrossVal(loss="hinge").value(model, X, y, [0.1], solver=SOLVER)
    with pytest.raises(ValueError, match="state"):
        CrossVal(cv=3).value(model, X, y, [0.1], solver=SOLVER, state=(InnerState(),))
    with pytest.raises(ValueError, match="features"):
        HeldOut(X[:, :3], y).value(model, X, y, [0.1], solver=SOLVER)
    with pytest.raises(ValueError, match="least squares"):
        Xc, yc = classification()
        SURE(1.0).value(InnerModel("logistic"), Xc, yc, [0.1], solver=SOLVER)
    with pytest.raises(ValueError, match="sigma"):
        SURE(0.0).value(model, X, y, [0.1], solver=SOLVER)
    with pytest.raises(ValueError, match="InnerModel"):
        HeldOut(X, y).value(SkLasso(), X, y, [0.1], solver=SOLVER)
    with pytest.raises(ValueError, match="hyperparameter"):
        HeldOut(X, y).value(model, X, y, [0.1, 0.2], solver=SOLVER)


def test_heldout_keeps_its_problem_during_a_search():
    """Evaluated again on the same data, HeldOut reuses its map (one Fortran copy of X,
    the solver's Gram matrix from the second solve on); other data builds a new one; a
    pickled copy does not carry it. Values equal a fresh criterion's."""
    import pickle

    from skhypergrad._design import cached_gram
    from skhypergrad.datafits import Quadratic
    from skhypergrad.penalties import ElasticNetPenalty
    from skhypergrad.solvers import CoordinateDescent

    rng = np.random.default_rng(0)
    X, X_val = rng.standard_normal((80, 6)), rng.standard_normal((30, 6))
    y, y_val = X[:, 0] + 0.1 * rng.standard_normal(80), X_val[:, 0]
    model = InnerModel(Quadratic(), ElasticNetPenalty(), fit_intercept=True)

    class PythonPath(CoordinateDescent):
        """Solves that no compiled Gram evaluation stands for (skhypergrad._gram_cv)."""

        def gram_budget(self):
            return None

    solver = PythonPath(tol=1e-12)
    crit = HeldOut(X_val, y_val)
    values = [crit.value(model, X, y, lam, solver=solver).value
              for lam in ([0.05, 0.01], [0.02, 0.01])]
    pgmap = crit._cache[2][0]
    assert pgmap.design.X.flags.f_contiguous and cached_gram(pgmap.design) is not None
    fresh = [HeldOut(X_val, y_val).value(model, X, y, lam, solver=solver).value
             for lam in ([0.05, 0.01], [0.02, 0.01])]
    np.testing.assert_allclose(values, fresh, rtol=1e-10)
    crit.value(model, X.copy(), y, [0.05, 0.01], solver=solver)
    assert crit._cache[2][0] is not pgmap
    assert not hasattr(pickle.loads(pickle.dumps(crit)), "_cache")


@pytest.mark.parametrize("fit_intercept", [False, True])
@pytest.mark.parametrize("kind", ["squared", "logistic"])
@pytest.mark.parametrize("n_nonzero", [30, 300])
def test_heldout_loss_on_dense_x_reads_the_support(fit_intercept, kind, n_nonzero):
    """The held-out loss on a dense X_val reads a sparse w on its nonzero columns (30 of
    400 here; 300 of 400 take the full product): the values of the full products, the
    same sums for a dense and a compact w, and grad_take equals grad on any entries."""
    from skhypergrad._compact_states import SparseVector
    from skhypergrad._outer_loss import _heldout_loss

    rng = np.random.default_rng(3)
    X_val = np.asfortranarray(rng.standard_normal((50, 400)))
    y_val = rng.standard_normal(50)
    model = InnerModel(penalty="elasticnet", fit_intercept=fit_intercept)
    if kind == "logistic":
        y_val = np.where(y_val > 0, 1.0, -1.0)
        model = InnerModel(datafit="logistic", penalty="l1", fit_intercept=fit_intercept)
    model = model.bind(y_val)
    y_enc = model.encode(y_val)
    outer = _heldout_loss(model, "auto", X_val, y_enc)
    w = np.zeros(400 + fit_intercept)
    w[rng.choice(400, n_nonzero, replace=False)] = 0.1 * rng.standard_normal(n_nonzero)
    if fit_intercept:
        w[-1] = 0.3
    z = X_val @ w[:400] + (w[-1] if fit_intercept else 0.0)
    if kind == "squared":
        value, gz = np.mean((z - y_enc) ** 2), 2.0 * (z - y_enc) / 50
    else:
        value, gz = np.mean(np.logaddexp(0.0, -y_enc * z)), -y_enc / (1.0 + np.exp(y_enc * z)) / 50
    grad = X_val.T @ gz
    if fit_intercept:
        grad = np.append(grad, gz.sum())
    np.testing.assert_allclose(outer.value(w), value, rtol=1e-13)
    np.testing.assert_allclose(outer.grad(w), grad, rtol=1e-12, atol=1e-15)
    compact = SparseVector.from_dense(w)
    assert outer.value(compact) == outer.value(w)
    np.testing.assert_array_equal(outer.grad(compact), outer.grad(w))
    idx = np.concatenate([rng.choice(w.shape[0], 25), [w.shape[0] - 1, 7, 7]])
    for w_in in (w, compact):
        np.testing.assert_allclose(outer.grad_take(w_in, idx), grad[idx], rtol=1e-12,
                                   atol=1e-15)


def test_crossval_keeps_the_fold_problems_of_a_sparse_x():
    """Evaluated again on the same sparse ``X``, CrossVal reuses its folds' maps (CSC
    training rows, as the solver reads them); the values and gradients equal a fresh
    criterion's."""
    from skhypergrad.solvers import CoordinateDescent

    rng = np.random.default_rng(3)
    X = sp.random(90, 40, density=0.2, format="csr", random_state=3)
    y = (X @ rng.standard_normal(40) + 0.3 * rng.standard_normal(90) > 0).astype(float)
    model = InnerModel("logistic", "l1", fit_intercept=True)
    solver, engine = CoordinateDescent(tol=1e-12), get_engine("aid-cg")
    crit = CrossVal(cv=3)
    crit.value_and_grad(model, X, y, [0.02], solver=solver, engine=engine)
    problems = crit._cache[2]
    kept = crit.value_and_grad(model, X, y, [0.01], solver=solver, engine=engine)
    assert crit._cache[2] is problems and len(problems) == 3
    assert all(pgmap.design.X.format == "csc" for pgmap, _ in problems)
    fresh = CrossVal(cv=3).value_and_grad(model, X, y, [0.01], solver=solver, engine=engine)
    np.testing.assert_allclose(kept.values, fresh.values, rtol=1e-10)
    np.testing.assert_allclose(kept.grad, fresh.grad, rtol=1e-8)
