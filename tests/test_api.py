"""``skhypergrad.hypergradient``: conversions from scikit-learn models, gradients, validation.

Protects the functional entry point (:mod:`skhypergrad._api`) and the model
conversions of :mod:`skhypergrad.models`: the value it returns is the
criterion's (and scikit-learn's), its gradient is the finite-difference
derivative of that value in ``log(lam)`` for every supported model, dense and
sparse, and bad inputs fail with a ValueError naming the parameter.
"""

import joblib
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import ElasticNet, Lars, Lasso, LogisticRegression
from sklearn.metrics import log_loss, mean_squared_error
from test_criteria import SOLVER, classification, fd_log_grad, regression

from skhypergrad import MultiTaskQuadratic
from skhypergrad._api import hypergradient
from skhypergrad.criteria import SURE, CrossVal, HeldOut
from skhypergrad.hypergrad import ITD
from skhypergrad.models import InnerModel, from_estimator


def _heldout(X, y, n_train=40):
    return X[:n_train], y[:n_train], HeldOut(X[n_train:], y[n_train:])


def _cv(X, y):
    return X, y, CrossVal(cv=3)


def _multiclass():
    rng = np.random.RandomState(1)
    X = rng.randn(60, 6)
    y = np.argmax(X[:, :3] @ rng.randn(3, 3) + 0.3 * rng.randn(60, 3), axis=1)
    return X, np.array(["x", "y", "z"])[y]


def _two_tasks():
    rng = np.random.RandomState(2)
    X = rng.randn(60, 6)
    W = np.r_[rng.randn(3, 2), np.zeros((3, 2))]
    return X, X @ W + 0.3 * rng.randn(60, 2)


CASES = {
    "lasso": (lambda: Lasso(alpha=0.05), regression, _heldout),
    "enet": (lambda: ElasticNet(alpha=0.1, l1_ratio=0.5), regression, _cv),
    "logreg-l1-ab": (lambda: LogisticRegression(C=1.0, l1_ratio=1.0), classification, _cv),
    "logreg-enet-37": (lambda: LogisticRegression(C=0.5, l1_ratio=0.5),
                       lambda: classification(labels=(3, 7)), _heldout),
    "logreg-old-penalty": (lambda: LogisticRegression(penalty="elasticnet", C=0.5,
                                                      l1_ratio=0.3),
                           classification, _heldout),
    "weighted-lasso": (lambda: InnerModel("quadratic", "weighted_l1", fit_intercept=True,
                                          lam=np.linspace(0.02, 0.12, 12)),
                       regression, _heldout),
    "multinomial": (lambda: LogisticRegression(C=2.0, l1_ratio=1.0), _multiclass, _heldout),
    "multitask-enet": (lambda: InnerModel(MultiTaskQuadratic(2), "elasticnet",
                                          fit_intercept=True, lam=np.array([0.03, 0.02])),
                       _two_tasks, _heldout),
}


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
@pytest.mark.parametrize("case", list(CASES))
def test_hypergradient_matches_finite_differences(case, sparse):
    make_model, make_data, make_criterion = CASES[case]
    X, y = make_data()
    if sparse:
        X = sp.csr_matrix(X)
    X, y, criterion = make_criterion(X, y)
    model = make_model()
    value, grad = hypergradient(model, X, y, criterion=criterion, method="aid-cg",
                                tol=1e-12, solver=SOLVER)
    inner = model.bind(y) if isinstance(model, InnerModel) else from_estimator(model, y)
    assert grad.shape == inner.lam.shape
    expected = criterion.value(inner, X, y, inner.lam, solver=SOLVER).value
    np.testing.assert_allclose(value, expected, rtol=1e-12)
    np.testing.assert_allclose(grad, fd_log_grad(criterion, inner, X, y, inner.lam),
                               rtol=1e-5, atol=1e-10)


def test_a_datafit_name_that_needs_parameters_is_refused_at_construction():
    """``InnerModel("multitask_quadratic")`` cannot build its datafit: a ValueError naming
    the parameter when the model is made, not a TypeError when it is first used."""
    with pytest.raises(ValueError, match="n_tasks"):
        InnerModel("multitask_quadratic", "l1")
    assert InnerModel(MultiTaskQuadratic(2), "l1").get_datafit().n_tasks == 2


@pytest.mark.parametrize("flag", ["fit_intercept", "positive"])
def test_inner_model_flags_must_be_booleans(flag):
    """``positive="no"`` was taken as True (a nonempty string)."""
    with pytest.raises(ValueError, match=flag):
        InnerModel("quadratic", "l1", **{flag: "no"})
    assert getattr(InnerModel("quadratic", "l1", **{flag: np.bool_(True)}), flag)


def test_values_match_sklearn_estimators():
    X, y = regression()
    Xt, yt, crit = _heldout(X, y)
    value, _ = hypergradient(Lasso(alpha=0.05), Xt, yt, criterion=crit, solver=SOLVER)
    sk = Lasso(alpha=0.05, tol=1e-14, max_iter=100_000).fit(Xt, yt)
    np.testing.assert_allclose(value, mean_squared_error(crit.y_val, sk.predict(crit.X_val)),
                               rtol=1e-6)
    # C is converted with the number of training samples given to hypergradient
    Xc, yc = classification(labels=(3, 7))
    Xt, yt, crit = _heldout(Xc, yc)
    est = LogisticRegression(C=0.5, l1_ratio=0.5, solver="saga", tol=1e-12, max_iter=100_000)
    value, _ = hypergradient(est, Xt, yt, criterion=crit, solver=SOLVER)
    proba = est.fit(Xt, yt).predict_proba(crit.X_val)
    np.testing.assert_allclose(value, log_loss(crit.y_val, proba), rtol=1e-6)


def test_conversions():
    y = np.arange(60) % 2
    np.testing.assert_allclose(from_estimator(Lasso(alpha=0.3), y).lam, [0.3])
    np.testing.assert_allclose(from_estimator(ElasticNet(alpha=0.5, l1_ratio=0.2), y).lam,
                               [0.1, 0.4])
    inner = from_estimator(LogisticRegression(C=2.0, l1_ratio=0.25), y)
    np.testing.assert_allclose(inner.lam, np.array([0.25, 0.75]) / (2.0 * 60))
    assert inner.penalty == "elasticnet" and inner.datafit == "logistic"
    old = from_estimator(LogisticRegression(penalty="l1", C=2.0), y)
    new = from_estimator(LogisticRegression(l1_ratio=1.0, C=2.0), y)
    assert old.penalty == new.penalty == "l1"
    np.testing.assert_allclose(old.lam, new.lam)
    assert from_estimator(LogisticRegression(l1_ratio=1.0), np.arange(60) % 3).datafit \
        == "multinomial"


def test_engines_agree_through_api():
    X, y = regression()
    Xt, yt, crit = _heldout(X, y)
    model = ElasticNet(alpha=0.1, l1_ratio=0.5)
    ref = hypergradient(model, Xt, yt, criterion=crit, method="aid-cg", tol=1e-12,
                        solver=SOLVER)[1]
    for method in ("aid-fp", ITD(n_iter=3000), ITD(n_iter=3000, mode="reverse")):
        grad = hypergradient(model, Xt, yt, criterion=crit, method=method, tol=1e-12,
                             solver=SOLVER)[1]
        np.testing.assert_allclose(grad, ref, rtol=1e-6)


def test_stochastic_engine_is_seeded():
    X, y = regression(n=80)
    Xt, yt, crit = _heldout(X, y, n_train=60)
    model = ElasticNet(alpha=0.1, l1_ratio=0.5)
    runs = [hypergradient(model, Xt, yt, criterion=crit, method="nsid", random_state=0,
                          tol=0.1, solver=SOLVER)[1] for _ in range(2)]
    exact = hypergradient(model, Xt, yt, criterion=crit, solver=SOLVER)[1]
    np.testing.assert_array_equal(runs[0], runs[1])
    assert np.linalg.norm(runs[0] - exact) < 0.5 * np.linalg.norm(exact)


def test_string_criterion_and_sure():
    X, y = regression(n=50)
    v1, g1 = hypergradient(Lasso(alpha=0.05), X, y, criterion="cv", tol=1e-12, solver=SOLVER)
    v2, g2 = hypergradient(Lasso(alpha=0.05), X, y, criterion=CrossVal(cv=5), tol=1e-12,
                           solver=SOLVER)
    assert v1 == v2 and np.array_equal(g1, g2)
    value, grad = hypergradient(Lasso(alpha=0.05), X, y, criterion=SURE(0.5), solver=SOLVER)
    assert np.isfinite(value) and grad.shape == (1,)


def test_parallel_config_is_honored():
    X, y = regression(n=50)
    crit = CrossVal(cv=5)
    ref = hypergradient(Lasso(alpha=0.05), X, y, criterion=crit, solver=SOLVER)
    with joblib.parallel_config(backend="threading", n_jobs=2):
        par = hypergradient(Lasso(alpha=0.05), X, y, criterion=crit, solver=SOLVER)
    np.testing.assert_allclose(par[0], ref[0], rtol=1e-12)
    np.testing.assert_allclose(par[1], ref[1], rtol=1e-12)


def test_float32_and_csc_inputs():
    X, y = regression()
    Xt, yt, crit = _heldout(X.astype(np.float32).astype(np.float64), y)
    ref = hypergradient(Lasso(alpha=0.05), Xt, yt, criterion=crit, solver=SOLVER)
    out32 = hypergradient(Lasso(alpha=0.05), Xt.astype(np.float32), yt, criterion=crit,
                          solver=SOLVER)
    csc = hypergradient(Lasso(alpha=0.05), sp.csc_matrix(Xt), yt, criterion=crit,
                        solver=SOLVER)
    for out in (out32, csc):
        np.testing.assert_allclose(out[0], ref[0], rtol=1e-10)
        np.testing.assert_allclose(out[1], ref[1], rtol=1e-8)


@pytest.mark.parametrize("kwargs, match", [
    (dict(method="newton"), "method"),
    (dict(method=object()), "method"),
    (dict(criterion="heldout"), "criterion"),
    (dict(criterion=42), "criterion"),
    (dict(model=LogisticRegression(l1_ratio=1.5)), "l1_ratio"),
    (dict(model=LogisticRegression(penalty=None)), "penalty"),
    (dict(model=LogisticRegression(l1_ratio=1.0, C=np.inf)), "C"),
    (dict(model=ElasticNet(l1_ratio=0.0)), "l1_ratio"),
    (dict(model=Lars()), "model"),
    (dict(model=InnerModel()), "lam"),
    (dict(solver="fista"), "solver"),
    (dict(tol=-1.0), "tol"),
])
def test_bad_inputs_raise(kwargs, match):
    X, y = classification()
    if not isinstance(kwargs.get("model"), LogisticRegression):
        X, y = regression()
    params = dict(model=Lasso(alpha=0.1), criterion="cv")
    params.update(kwargs)
    model = params.pop("model")
    with pytest.raises(ValueError, match=match):
        hypergradient(model, X, y, **params)
