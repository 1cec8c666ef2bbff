"""The table of scikit-learn linear estimators (skhypergrad._linear_adapters): every
entry's parameters survive the round trip estimator -> lam -> parameters, a subclass
reads as its parent, and an estimator outside the table is refused with the list of
those supported, by every entry point."""

import numpy as np
import pytest
from sklearn.linear_model import (ElasticNet, GammaRegressor, HuberRegressor, Lars, Lasso,
                                  LogisticRegression, MultiTaskElasticNet, MultiTaskLasso,
                                  PoissonRegressor, Ridge, RidgeClassifier, TweedieRegressor)
from sklearn.svm import LinearSVC

from skhypergrad import HyperGradSearchCV, hypergradient
from skhypergrad._linear_adapters import ADAPTERS, linear_adapter
from skhypergrad._search_estimator import n_penalty_hyper
from skhypergrad.models import from_estimator

RNG = np.random.default_rng(0)
Y_REG = RNG.poisson(2.0, 40).astype(float) + 0.5
Y_CLS = np.arange(40) % 2
Y_MULTI = RNG.standard_normal((40, 3))

CASES = [
    (Lasso(alpha=0.3), Y_REG, {"alpha": 0.3}),
    (ElasticNet(alpha=0.5, l1_ratio=0.2), Y_REG, {"alpha": 0.5, "l1_ratio": 0.2}),
    (MultiTaskLasso(alpha=0.4), Y_MULTI, {"alpha": 0.4}),
    (MultiTaskElasticNet(alpha=0.4, l1_ratio=0.7), Y_MULTI, {"alpha": 0.4, "l1_ratio": 0.7}),
    (Ridge(alpha=3.0), Y_REG, {"alpha": 3.0}),
    (RidgeClassifier(alpha=3.0), Y_CLS, {"alpha": 3.0}),
    (LogisticRegression(C=2.0, l1_ratio=0.25), Y_CLS, {"C": 2.0, "l1_ratio": 0.25}),
    (LogisticRegression(C=2.0), Y_CLS, {"C": 2.0}),
    (LinearSVC(C=0.7), Y_CLS, {"C": 0.7}),
    (LinearSVC(C=0.7, penalty="l1", dual=False), Y_CLS, {"C": 0.7}),
    (PoissonRegressor(alpha=0.2), Y_REG, {"alpha": 0.2}),
    (GammaRegressor(alpha=0.2), Y_REG, {"alpha": 0.2}),
    (TweedieRegressor(alpha=0.2, power=1.5, link="log"), Y_REG, {"alpha": 0.2}),
    (HuberRegressor(alpha=0.01, epsilon=1.5), Y_REG, {"alpha": 0.01, "epsilon": 1.5}),
]


def test_every_class_of_the_table_is_tested():
    assert {type(est) for est, _, _ in CASES} == set(ADAPTERS)


@pytest.mark.parametrize("estimator, y, params", CASES,
                         ids=[f"{type(c[0]).__name__}-{i}" for i, c in enumerate(CASES)])
def test_parameters_round_trip(estimator, y, params):
    adapter = linear_adapter(estimator)
    model = from_estimator(estimator, y)
    back = adapter.parametrization.params(model.lam, n_penalty_hyper(model), len(y))
    assert back.keys() == params.keys()
    for name, value in params.items():
        assert back[name] == pytest.approx(value, rel=1e-12)
    assert adapter.classifier == model.is_classifier


def test_a_subclass_reads_as_its_parent():
    class MyLasso(Lasso):
        pass

    assert linear_adapter(MyLasso()) is ADAPTERS[Lasso]
    assert linear_adapter(MultiTaskLasso()) is ADAPTERS[MultiTaskLasso]
    np.testing.assert_allclose(from_estimator(MyLasso(alpha=0.2), Y_REG).lam, [0.2])


def test_unsupported_estimators_are_refused_with_the_supported_list():
    X = RNG.standard_normal((40, 3))
    for call in (lambda: from_estimator(Lars(), Y_REG),
                 lambda: hypergradient(Lars(), X, Y_REG, criterion="cv"),
                 lambda: HyperGradSearchCV(Lars()).fit(X, Y_REG)):
        with pytest.raises(ValueError, match="got Lars") as info:
            call()
        for cls in ADAPTERS:
            assert cls.__name__ in str(info.value)
    with pytest.raises(ValueError, match="KernelRidge, SVC, SVR"):
        HyperGradSearchCV(Lars()).fit(X, Y_REG)


def test_hypergradient_reads_the_table():
    """hypergradient() on estimators of the table: PoissonRegressor's gradient in
    log(alpha) matches central finite differences of its value; LinearSVC's value and
    gradient are those of its inner model, the squared hinge at lam = 1 / (C n)."""
    from skhypergrad import InnerModel

    rng = np.random.default_rng(1)
    X = rng.standard_normal((80, 4))
    z = X[:, 0] - X[:, 1] + 0.3 * rng.standard_normal(80)
    y = rng.poisson(np.exp(0.3 * z))
    value, grad = hypergradient(PoissonRegressor(alpha=0.1), X, y, criterion="cv", tol=1e-10)
    h = 1e-4
    ends = [hypergradient(PoissonRegressor(alpha=0.1 * np.exp(s)), X, y, criterion="cv",
                          tol=1e-10)[0] for s in (h, -h)]
    assert grad[0] == pytest.approx((ends[0] - ends[1]) / (2 * h), rel=1e-5)
    svc = hypergradient(LinearSVC(C=0.5, fit_intercept=False), X, z > 0, criterion="cv")
    inner = hypergradient(InnerModel("squared_hinge", "l2", lam=[1.0 / (0.5 * 80)]), X,
                          z > 0, criterion="cv")
    np.testing.assert_allclose(svc[0], inner[0], rtol=1e-12)
    np.testing.assert_allclose(svc[1], inner[1], rtol=1e-12)


def test_hypergradient_refuses_what_it_cannot_read_clearly():
    X = RNG.standard_normal((40, 3))
    with pytest.raises(ValueError, match="synthetic feature"):
        hypergradient(LinearSVC(), X, Y_CLS, criterion="cv")
    with pytest.raises(ValueError, match="several outputs"):
        hypergradient(MultiTaskLasso(), X, Y_MULTI, criterion="cv")


def test_adapters_declare_the_parameters_they_read():
    """Every declared parameter is one of the installed class's (``get_params()``), the
    optional ones' stand-ins are used when a class lacks them, and a conversion reading
    an undeclared parameter fails: the adapters probe nothing."""
    for cls, adapter in ADAPTERS.items():
        names = set(cls().get_params(deep=False))
        assert set(adapter.params) <= names, cls.__name__
        for est, y, _ in CASES:
            if type(est) is cls:
                adapter.inner_model(est, y)  # reads declared parameters only

    class NoMultiClass(LinearSVC):
        @classmethod
        def _get_param_names(cls):
            return sorted(set(super()._get_param_names()) - {"multi_class"})

    params = ADAPTERS[LinearSVC].read(NoMultiClass(C=0.7))
    assert params.multi_class == "ovr" and params.C == 0.7
    with pytest.raises(AttributeError, match="'dual' is not a parameter"):
        params.dual


def test_a_missing_declared_parameter_is_a_clear_error():
    class NoAlpha(Lasso):
        @classmethod
        def _get_param_names(cls):
            return sorted(set(super()._get_param_names()) - {"alpha"})

    with pytest.raises(ValueError, match=r"NoAlpha has no parameter\(s\) \['alpha'\]"):
        from_estimator(NoAlpha(), Y_REG)
