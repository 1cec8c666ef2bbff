"""Bad input for every public entry point: a clear error naming the parameter, or a correct result.

Protects issue 7, item 1. Every public estimator, :class:`HyperGradSearchCV` and
:func:`hypergradient` is fed the same table of malformed data (NaN, inf, empty,
wrong shapes, strings, ...) and must raise a ``ValueError`` / ``TypeError`` whose
message names the offending parameter; the table of unusual but valid data
(integer, float32, Fortran, non-contiguous, CSR / CSC / COO, one feature,
constant target) must give the result of the plain float64 C-ordered input.
No input is ever modified in place.

Sparse matrices whose index arrays are malformed (out-of-range or negative
indices, a broken ``indptr``, ``data`` and ``indices`` of different lengths)
must get a ``ValueError`` naming the input from every public entry point,
before a compiled kernel reads them; those cases run in a subprocess
(``tests/_malformed_sparse.py``), so that a crash fails the test instead of the
test run. Unsorted or repeated indices must give the result of the canonical
matrix. Many of these checks are scikit-learn's
(``validate_data``, ``_parameter_constraints``); they are tested here anyway,
because they are part of our contract.
"""

import copy
import functools
import json
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import ElasticNet, Lars, Lasso, LogisticRegression, Ridge

import skhypergrad
from skhypergrad import (CoordinateDescent, CrossVal, ElasticNetHyperGrad, HeldOut,
                         HyperGradSearchCV, InnerModel, KernelRidgeHyperGrad, LassoHyperGrad,
                         LogisticRegressionHyperGrad, ProxGradient, StochasticProxGradient,
                         WeightedLassoHyperGrad, hypergradient)
from skhypergrad._validation import check_sparse_structure

from _malformed_sparse import VARIANTS as SPARSE_VARIANTS

NONCANONICAL = {k: SPARSE_VARIANTS[k] for k in ("unsorted", "duplicates")}

N, P = 24, 4


def _data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((N, P))
    y = X[:, 0] - 0.5 * X[:, 1] + 0.3 * rng.standard_normal(N)
    return X, y


def _labels(y):
    return (y > np.median(y)).astype(np.int64)


# -- the entry points: name -> (classifier?, run(X, y) -> array of results) ----------------
def _est_result(est):
    return np.concatenate([np.ravel(est.lam_), np.ravel(est.coef_), np.ravel(est.intercept_)])


def _search_result(search):
    return np.array(list(search.best_params_.values()) + [search.best_score_])


def _fit(make, result):
    def run(X, y, **params):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return result(make().set_params(**params).fit(X, y))
    return run


def _hypergradient(model):
    def run(X, y, **params):
        kwargs = {"criterion": CrossVal(cv=3), **params}
        value, grad = hypergradient(model, X, y, **kwargs)
        return np.concatenate([[value], grad])
    return run


ENTRIES = {
    "lasso": (False, _fit(lambda: LassoHyperGrad(cv=3, max_iter=2), _est_result)),
    "enet": (False, _fit(lambda: ElasticNetHyperGrad(cv=3, max_iter=2), _est_result)),
    "weighted_lasso": (False, _fit(lambda: WeightedLassoHyperGrad(cv=3, max_iter=2),
                                   _est_result)),
    "logistic": (True, _fit(lambda: LogisticRegressionHyperGrad(cv=3, max_iter=2),
                            _est_result)),
    "search": (False, _fit(lambda: HyperGradSearchCV(Lasso(alpha=0.1), cv=3, max_iter=2),
                           _search_result)),
    "search_logistic": (True, _fit(lambda: HyperGradSearchCV(
        LogisticRegression(C=1.0, l1_ratio=1.0, solver="saga"), cv=3, max_iter=2),
        _search_result)),
    "hypergradient": (False, _hypergradient(Lasso(alpha=0.05))),
    "hypergradient_logistic": (True, _hypergradient(LogisticRegression(C=1.0, l1_ratio=1.0))),
}


def _target(entry, y):
    return _labels(y) if ENTRIES[entry][0] else y


@functools.lru_cache(maxsize=None)
def _reference(entry):
    X, y = _data()
    return ENTRIES[entry][1](X, _target(entry, y))


# -- malformed data: (name, make(X, y) -> (X, y), regex the message must match) -------------
def _with(a, i, value):
    a = np.array(a, dtype=np.float64)
    a.flat[i] = value
    return a


BAD_DATA = [
    ("X_nan", lambda X, y: (_with(X, 3, np.nan), y), r"\bX\b"),
    ("X_inf", lambda X, y: (_with(X, 3, np.inf), y), r"\bX\b"),
    ("X_neg_inf", lambda X, y: (_with(X, 3, -np.inf), y), r"\bX\b"),
    ("X_sparse_nan", lambda X, y: (sp.csr_matrix(_with(X, 3, np.nan)), y), r"\bX\b"),
    ("y_nan", lambda X, y: (X, _with(y, 2, np.nan)), r"\by\b"),
    ("y_inf", lambda X, y: (X, _with(y, 2, np.inf)), r"\by\b"),
    ("empty", lambda X, y: (X[:0], y[:0]), r"\bX\b|\by\b"),
    ("no_feature", lambda X, y: (X[:, :0], y), r"\bX\b"),
    ("one_sample", lambda X, y: (X[:1], y[:1]), r"\bcv\b|\by\b"),
    ("two_samples", lambda X, y: (X[:2], y[:2]), r"\bcv\b|\by\b"),
    ("y_too_short", lambda X, y: (X, y[:-1]), r"\bX\b.*\by\b"),
    ("y_too_long", lambda X, y: (X, np.r_[y, y[:1]]), r"\bX\b.*\by\b"),
    ("X_1d", lambda X, y: (X[:, 0], y), r"\bX\b"),
    ("X_3d", lambda X, y: (X[:, :, None], y), r"\bX\b"),
    ("y_2d", lambda X, y: (X, np.c_[y, y]), r"\by\b"),
    ("X_strings", lambda X, y: (np.full(X.shape, "a"), y), r"\bX\b"),
    ("X_complex", lambda X, y: (X + 1j, y), r"\bX\b|complex"),
    ("y_none", lambda X, y: (X, None), r"\by\b"),
]
# targets only a regressor (or only a classifier) must reject
BAD_REGRESSION_TARGETS = [
    ("y_strings", lambda X, y: (X, np.array(["a", "b"] * (N // 2))), r"\by\b"),
]
BAD_CLASSIFICATION_TARGETS = [
    ("y_continuous", lambda X, y: (X, np.linspace(0, 1, N)), r"\by\b"),
    ("single_class", lambda X, y: (X, np.zeros(N, dtype=int)), r"\by\b|class"),
    ("single_class_strings", lambda X, y: (X, np.array(["a"] * N)), r"\by\b|class"),
]


def _bad_data_cases():
    for entry, (classifier, _) in ENTRIES.items():
        extra = BAD_CLASSIFICATION_TARGETS if classifier else BAD_REGRESSION_TARGETS
        for name, make, match in BAD_DATA + extra:
            yield pytest.param(entry, make, match, id=f"{entry}-{name}")


@pytest.mark.parametrize("entry, make, match", list(_bad_data_cases()))
def test_bad_data_raises_naming_the_parameter(entry, make, match):
    X, y = _data()
    X, y = make(X, _target(entry, y))
    with pytest.raises((ValueError, TypeError), match=match):
        ENTRIES[entry][1](X, y)


# -- unusual but valid data: (name, make(X, y), rtol against the float64 C-ordered result) ---
def _integers(X):
    return np.round(3 * X).astype(np.int64)


GOOD_DATA = [
    ("fortran", lambda X, y: (np.asfortranarray(X), y), 1e-8),
    ("non_contiguous", lambda X, y: (np.repeat(X, 2, axis=1)[:, ::2], y), 1e-8),
    ("negative_strides", lambda X, y: (X[::-1][::-1], y), 1e-8),
    ("float32", lambda X, y: (X.astype(np.float32), y), 1e-4),
    ("csr", lambda X, y: (sp.csr_matrix(X), y), 1e-5),
    ("csc", lambda X, y: (sp.csc_matrix(X), y), 1e-5),
    ("coo", lambda X, y: (sp.coo_matrix(X), y), 1e-5),
    ("coo_array", lambda X, y: (sp.coo_array(X), y), 1e-5),
    ("csr_array", lambda X, y: (sp.csr_array(X), y), 1e-5),
    ("list", lambda X, y: (X.tolist(), list(y)), 1e-8),
]


@pytest.mark.parametrize("entry", list(ENTRIES))
@pytest.mark.parametrize("name, make, rtol", GOOD_DATA, ids=[c[0] for c in GOOD_DATA])
def test_valid_storage_gives_the_same_result(entry, name, make, rtol):
    X, y = _data()
    y = _target(entry, y)
    if name == "float32":  # compare with the same (rounded) values in float64
        expected = ENTRIES[entry][1](X.astype(np.float32).astype(np.float64), y)
    else:
        expected = _reference(entry)
    got = ENTRIES[entry][1](*make(X, y))
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=rtol * np.abs(expected).max())


@pytest.mark.parametrize("entry", list(ENTRIES))
def test_integer_X_is_the_same_as_float(entry):
    X, y = _data()
    Xi = _integers(X)
    y = _target(entry, y)
    run = ENTRIES[entry][1]
    np.testing.assert_allclose(run(Xi, y), run(Xi.astype(np.float64), y), rtol=1e-10)


@pytest.mark.parametrize("entry", list(ENTRIES))
def test_one_feature(entry):
    X, y = _data()
    out = ENTRIES[entry][1](X[:, :1], _target(entry, y))
    assert np.all(np.isfinite(out))


REGRESSORS = [LassoHyperGrad, ElasticNetHyperGrad, WeightedLassoHyperGrad]


@pytest.mark.parametrize("cls", REGRESSORS)
@pytest.mark.parametrize("value", [1.0, 3.7, -2e5])
def test_constant_target_gives_the_intercept_alone(cls, value):
    X, _ = _data()
    y = np.full(N, value)
    est = cls(cv=3, max_iter=2).fit(X, y)
    np.testing.assert_allclose(est.coef_, 0.0, atol=1e-12 * abs(value))
    assert est.intercept_ == pytest.approx(value, rel=1e-12)
    assert np.all(np.isfinite(est.lam_)) and np.all(est.lam_ > 0)
    np.testing.assert_allclose(est.predict(X), value, rtol=1e-12)


def test_constant_target_search_and_hypergradient():
    X, _ = _data()
    y = np.full(N, 3.7)
    with pytest.warns(UserWarning, match="zeroes every coefficient"):
        search = HyperGradSearchCV(Lasso(alpha=0.1), cv=3, max_iter=2,
                                   init="estimator").fit(X, y)
    np.testing.assert_allclose(search.best_estimator_.coef_, 0.0, atol=1e-12)
    search = HyperGradSearchCV(Lasso(alpha=0.1), cv=3, max_iter=2).fit(X, y)
    np.testing.assert_allclose(search.best_estimator_.coef_, 0.0, atol=1e-12)
    value, grad = hypergradient(Lasso(alpha=0.1), X, y, criterion=CrossVal(cv=3))
    assert 0 <= value <= 1e-8 * 3.7 ** 2 and np.all(np.abs(grad) <= 1e-8)


# -- inputs are never modified ----------------------------------------------------------------
STORAGES = {
    "dense": lambda X: X.copy(),
    "fortran": np.asfortranarray,
    "float32": lambda X: X.astype(np.float32),
    "int": _integers,
    "csr": sp.csr_matrix,
    "csc": sp.csc_matrix,
    "coo": sp.coo_matrix,
}


def _assert_same(a, b):
    if sp.issparse(a):
        assert sp.issparse(b) and a.format == b.format and a.dtype == b.dtype
        for attr in ("data", "indices", "indptr", "row", "col"):
            if hasattr(a, attr):
                np.testing.assert_array_equal(getattr(a, attr), getattr(b, attr))
    else:
        assert a.dtype == b.dtype and a.flags.c_contiguous == b.flags.c_contiguous
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("entry", list(ENTRIES))
@pytest.mark.parametrize("storage", list(STORAGES))
def test_inputs_are_not_modified(entry, storage):
    X, y = _data()
    X = STORAGES[storage](X)
    y = _target(entry, y)
    X_before, y_before = copy.deepcopy(X), y.copy()
    ENTRIES[entry][1](X, y)
    _assert_same(X, X_before)
    _assert_same(y, y_before)


def test_heldout_and_cv_inputs_are_not_modified():
    X, y = _data()
    X_val, y_val = X[:8].copy(), y[:8].copy()
    crit = HeldOut(X_val, y_val)
    hypergradient(Lasso(alpha=0.05), X[8:], y[8:], criterion=crit)
    np.testing.assert_array_equal(crit.X_val, X[:8])
    np.testing.assert_array_equal(crit.y_val, y[:8])


# -- bad parameters: (entry, params, regex naming the parameter) ------------------------------
def _lasso(**p):
    return LassoHyperGrad(**{"cv": 3, "max_iter": 2, **p})


def _enet(**p):
    return ElasticNetHyperGrad(**{"cv": 3, "max_iter": 2, **p})


def _logistic(**p):
    return LogisticRegressionHyperGrad(**{"cv": 3, "max_iter": 2, **p})


def _search(est, **p):
    return HyperGradSearchCV(est, **{"cv": 3, "max_iter": 2, **p})


BAD_PARAMS = [
    # starting values: zero, negative, NaN, inf, strings
    (_lasso(alpha_init=0.0), "alpha_init"),
    (_lasso(alpha_init=-1.0), "alpha_init"),
    (_lasso(alpha_init=np.nan), "alpha_init"),
    (_lasso(alpha_init=np.inf), "alpha_init"),
    (_lasso(alpha_init="a"), "alpha_init"),
    (WeightedLassoHyperGrad(alpha_init=-1.0), "alpha_init"),
    (_enet(alpha_init=0.0), "alpha_init"),
    (_enet(l1_ratio_init=0.0), "l1_ratio_init"),
    (_enet(l1_ratio_init=1.0), "l1_ratio_init"),
    (_enet(l1_ratio_init=-0.5), "l1_ratio_init"),
    (_logistic(C_init=0.0), "C_init"),
    (_logistic(C_init=-1.0), "C_init"),
    (_logistic(penalty="elasticnet", l1_ratio_init=1.5), "l1_ratio_init"),
    # bounds: zero, negative, wrong order, infinite, NaN, malformed
    (_lasso(alpha_bounds=(0.0, 1.0)), "alpha_bounds"),
    (_lasso(alpha_bounds=(-1.0, 1.0)), "alpha_bounds"),
    (_lasso(alpha_bounds=(1.0, 0.1)), "alpha_bounds"),
    (_lasso(alpha_bounds=(1e-3, np.inf)), "alpha_bounds"),
    (_lasso(alpha_bounds=(np.nan, 1.0)), "alpha_bounds"),
    (_lasso(alpha_bounds=(1.0,)), "alpha_bounds"),
    (_lasso(alpha_bounds=(1.0, 2.0, 3.0)), "alpha_bounds"),
    (_lasso(alpha_bounds=("a", "b")), "alpha_bounds"),
    (_lasso(alpha_bounds=1.0), "alpha_bounds"),
    (_enet(alpha_bounds=(1.0, 0.1)), "alpha_bounds"),
    (WeightedLassoHyperGrad(alpha_bounds=(0.0, 1.0)), "alpha_bounds"),
    (_logistic(C_bounds=(10.0, 1.0)), "C_bounds"),
    (_logistic(C_bounds=(0.0, 1.0)), "C_bounds"),
    (_logistic(C_bounds=(1.0,)), "C_bounds"),
    # cross-validation
    (_lasso(cv=1), "cv"),
    (_lasso(cv=0), "cv"),
    (_lasso(cv=-3), "cv"),
    (_lasso(cv=1.0), "cv"),
    (_lasso(cv=0.0), "cv"),
    (_lasso(cv="five"), "cv"),
    (_lasso(cv=N + 1), "cv"),
    (_logistic(cv=N + 1), "cv"),
    # the rest of the search's settings
    (_lasso(max_iter=-1), "max_iter"),
    (_lasso(tol=-1.0), "tol"),
    (_lasso(hypergradient="newton"), "hypergradient"),
    (_lasso(solver="lbfgs"), "solver"),
    (_lasso(optimizer="sgd"), "optimizer"),
    (_lasso(optimizer=3), "optimizer"),
    (_lasso(n_jobs="all"), "n_jobs"),
    (_lasso(callback=3), "callback"),
    (_lasso(fit_intercept="yes"), "fit_intercept"),
    (_logistic(penalty="none"), "penalty"),
    # HyperGradSearchCV: the estimator's own starting point, bounds, cv, scoring
    (_search(Lasso(alpha=0.0)), "alpha"),
    (_search(Lasso(alpha=-1.0)), "alpha"),
    (_search(ElasticNet(alpha=1.0, l1_ratio=0.0)), "l1_ratio"),
    (_search(Lars()), "estimator"),
    (_search(Lasso(alpha=0.1), bounds=(1.0, 0.1)), "bounds"),
    (_search(Lasso(alpha=0.1), bounds=(0.0, 1.0)), "bounds"),
    (_search(Lasso(alpha=0.1), bounds=(1.0,)), "bounds"),
    (_search(Lasso(alpha=0.1), cv=N + 1), "cv"),
    (_search(Lasso(alpha=0.1), cv=1), "cv"),
    (_search(Lasso(alpha=0.1), scoring="not_a_scorer"), "scoring"),
    (_search(Lasso(alpha=0.1), max_iter=-1), "max_iter"),
    (_search(Lasso(alpha=0.1), optimizer="sgd"), "optimizer"),
]


def _param_id(case):
    est, name = case
    inner = getattr(est, "estimator", None)
    return f"{type(est).__name__}{'(' + type(inner).__name__ + ')' if inner else ''}-{name}"


@pytest.mark.parametrize("est, name", BAD_PARAMS, ids=[_param_id(c) for c in BAD_PARAMS])
def test_bad_parameter_raises_naming_it(est, name):
    X, y = _data()
    classifier = isinstance(est, LogisticRegressionHyperGrad)
    with pytest.raises((ValueError, TypeError), match=rf"(?<!\w){name}(?!\w)"):
        est.fit(X, _labels(y) if classifier else y)
    assert not hasattr(est, "n_features_in_")  # a failed fit leaves nothing behind


BAD_HYPERGRADIENT_CALLS = [
    (dict(model=Lasso(alpha=0.0)), "alpha"),
    (dict(model=Lasso(alpha=-1.0)), "alpha"),
    (dict(model=Lasso(alpha=np.nan)), "alpha"),
    (dict(model=ElasticNet(alpha=1.0, l1_ratio=0.0)), "l1_ratio"),
    (dict(model=LogisticRegression(C=-1.0, l1_ratio=1.0)), r"\bC\b"),
    (dict(model=Lars()), "model"),
    (dict(model=InnerModel("quadratic", "l1")), "model"),
    (dict(model=InnerModel("quadratic", "l1", lam=[-1.0])), "model"),
    (dict(model=InnerModel("quadratic", "elasticnet", lam=[1.0])), "model"),
    (dict(criterion="holdout"), "criterion"),
    (dict(criterion=3), "criterion"),
    (dict(criterion=CrossVal(cv=N + 1)), "criterion"),
    (dict(criterion=HeldOut(np.full((3, P), np.nan), np.zeros(3))), "X_val"),
    (dict(criterion=HeldOut(np.zeros((3, P - 1)), np.zeros(3))), "X_val"),
    (dict(criterion=HeldOut(np.zeros((3, P)), [0.0, np.nan, 1.0])), "y_val"),
    (dict(criterion=HeldOut(np.zeros((3, P)), [0.0, np.inf, 1.0])), "y_val"),
    (dict(model=LogisticRegression(l1_ratio=1.0),
          criterion=HeldOut(np.zeros((3, P)), [0.0, np.nan, 1.0])), "y_val"),
    (dict(method="newton"), "method"),
    (dict(method=3), "method"),
    (dict(tol=0.0), "tol"),
    (dict(tol=-1.0), "tol"),
    (dict(tol="a"), "tol"),
    (dict(solver=3), "solver"),
    (dict(solver=CoordinateDescent(tol=-1.0)), "tol"),
    (dict(solver=CoordinateDescent(tol=np.nan)), "tol"),
    (dict(solver=CoordinateDescent(max_epochs=0)), "max_epochs"),
    (dict(solver=CoordinateDescent(inner_ratio="a")), "inner_ratio"),
    (dict(solver=ProxGradient(tol="a")), "tol"),
    (dict(solver=ProxGradient(check_every=0)), "check_every"),
]


@pytest.mark.parametrize("kwargs, name", BAD_HYPERGRADIENT_CALLS,
                         ids=[f"{next(iter(k))}-{i}" for i, (k, _) in
                              enumerate(BAD_HYPERGRADIENT_CALLS)])
def test_bad_hypergradient_argument_raises_naming_it(kwargs, name):
    X, y = _data()
    kwargs = {"model": Lasso(alpha=0.1), "criterion": "cv", **kwargs}
    model = kwargs.pop("model")
    if isinstance(model, LogisticRegression):
        y = _labels(y)
    with pytest.raises((ValueError, TypeError), match=name):
        hypergradient(model, X, y, **kwargs)


@pytest.mark.parametrize("solver, name", [
    (CoordinateDescent(tol=np.nan), "tol"), (CoordinateDescent(tol="a"), "tol"),
    (ProxGradient(tol=-1.0), "tol"), (ProxGradient(tol="a"), "tol"),
    (ProxGradient(check_every=0), "check_every"), (StochasticProxGradient(tol=-1.0), "tol"),
])
def test_bad_solver_setting_raises_naming_it(solver, name):
    """A solver's settings are checked when it solves (and by a criterion before an
    evaluation, see BAD_HYPERGRADIENT_CALLS), not met as a NumPy type error, a division by
    zero or a solve run to its budget against a tolerance it can never reach."""
    X, y = _data()
    pgmap = InnerModel("quadratic", "l1").make_map(X, y)
    with pytest.raises(ValueError, match=rf"\b{name}\b"):
        solver.solve(pgmap, [0.1])


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nonfinite_validation_targets_raise_naming_them(bad):
    """A NaN or infinite ``y_val`` is refused, not turned into a NaN loss (``data_gradient``)
    or an extra class without training rows (``poison``)."""
    X, y = _data()
    y_val = y[:6].copy()
    y_val[2] = bad
    with pytest.raises(ValueError, match="y_val"):
        skhypergrad.data_gradient(Lasso(alpha=0.1), X, y, X[:6], y_val, rows=[0])
    labels = _labels(y).astype(np.float64)
    with pytest.raises(ValueError, match="y_val"):
        skhypergrad.poison(np.abs(X), labels, np.abs(X[:6]), np.r_[labels[:5], bad],
                           method="aid-cg", n_steps=1, random_state=0)
    with pytest.raises(ValueError, match="y_train"):
        skhypergrad.poison(np.abs(X), np.r_[bad, labels[1:]], np.abs(X[:6]), labels[:6],
                           method="aid-cg", n_steps=1, random_state=0)


def _validation_calls(y_val):
    """``hypergradient`` with ``HeldOut(X_val, y_val)`` and ``data_gradient`` on a Lasso:
    their values and gradients."""
    X, y = _data()
    return [hypergradient(Lasso(alpha=0.05), X, y, criterion=HeldOut(X[:6], y_val)),
            skhypergrad.data_gradient(Lasso(alpha=0.05), X, y, X[:6], y_val, rows=[0])]


def test_validation_targets_are_read_as_the_estimators_read_y():
    """A regression ``y_val`` (and ``data_gradient``'s ``y_train``) follows the rule of the
    estimators' ``y`` (scikit-learn's regressors'): numbers given as strings are
    converted, what does not convert to a finite float is refused naming it (a NaN loss
    from None, a dropped imaginary part and an unnamed error before)."""
    X, y = _data()
    exact = _validation_calls(y[:6])
    for y_val in (y[:6].astype(str), y[:6].astype(str).astype(object),
                  list(y[:6].astype(str))):
        for (value, grad), (value_0, grad_0) in zip(_validation_calls(y_val), exact):
            assert value == value_0
            np.testing.assert_array_equal(grad, grad_0)
    est = LassoHyperGrad(cv=3).fit(X, y.astype(str))
    np.testing.assert_array_equal(est.coef_, LassoHyperGrad(cv=3).fit(X, y).coef_)
    for bad, match in [(np.array(["a"] * 6), "y_val: could not convert"),
                       (np.array([None] * 6), "y_val contains NaN"),
                       (y[:6] + 1j, "y_val: Complex data")]:
        with pytest.raises(ValueError, match=match):
            hypergradient(Lasso(alpha=0.05), X, y, criterion=HeldOut(X[:6], bad))
        with pytest.raises(ValueError, match=match):
            skhypergrad.data_gradient(Lasso(alpha=0.05), X, y, X[:6], bad, rows=[0])
    with pytest.raises(ValueError, match="y_train: could not convert"):
        skhypergrad.data_gradient(Lasso(alpha=0.05), X, np.array(["a"] * N), X[:6], y[:6])


@pytest.mark.parametrize("cv", [0.5, 0.01, 0.99])
def test_held_out_fraction_needs_two_samples(cv):
    X, y = _data()
    with pytest.raises(ValueError, match=r"\bcv\b"):
        LassoHyperGrad(cv=cv).fit(X[:1], y[:1])
    if cv <= 0.5:
        LassoHyperGrad(cv=cv, max_iter=1).fit(X[:2], y[:2])  # one to train, one to validate


def test_bounds_around_the_start_clip_it():
    """A starting value outside the bounds is moved inside, not rejected."""
    X, y = _data()
    est = LassoHyperGrad(cv=3, max_iter=2, alpha_init=5.0, alpha_bounds=(1e-3, 1e-2)).fit(X, y)
    assert 1e-3 <= est.alpha_ <= 1e-2


# -- sparse index arrays ------------------------------------------------------------------------
SPARSE_GROUPS = ("estimators", "search", "criteria", "data_and_solvers")


@functools.lru_cache(maxsize=None)
def _sparse_records(group):
    """The records of ``tests/_malformed_sparse.py`` for ``group``, from one subprocess.

    A crash (or any exception outside the cases) fails here, naming the case
    that was running.
    """
    paths = [str(Path(__file__).parent), str(Path(skhypergrad.__file__).resolve().parents[1])]
    code = (f"import sys; sys.path[:0] = {paths!r}; "
            f"from _malformed_sparse import main; main({group!r})")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=600)
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    started = [line["start"] for line in lines if "start" in line]
    assert proc.returncode == 0 and lines and "done" in lines[-1], (
        f"the subprocess ended with return code {proc.returncode} during "
        f"{started[-1] if started else 'the imports'}:\n{proc.stderr[-3000:]}")
    return [line for line in lines if "kind" in line]


def _case_id(r):
    return f"{r['entry']}({r['input']}, {r['format']}): {r['case']}"


@pytest.mark.parametrize("group", SPARSE_GROUPS)
def test_malformed_sparse_input_raises_naming_it(group):
    records = [r for r in _sparse_records(group) if r["kind"] == "malformed"]
    assert records
    wrong = []
    for r in records:
        expected = (rf"^{re.escape(r['name'])}: malformed {r['format'].upper()} sparse matrix: "
                    rf".*{r['word']}")
        if r["error"] is None or r["error"][0] != "ValueError" \
                or not re.search(expected, r["error"][1]):
            wrong.append(f"{_case_id(r)} gave {r['error']}, expected ValueError({expected!r})")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("group", SPARSE_GROUPS)
def test_noncanonical_sparse_input_gives_the_canonical_result(group):
    """Unsorted and repeated indices, int64 indices and sparse arrays give the result of the
    canonical matrix; that one the result of the dense input; no input is modified."""
    records = [r for r in _sparse_records(group) if r["kind"] == "valid"]
    assert records
    wrong = []
    for r in records:
        if r["entry"] == "poison":  # dense only: a clear TypeError, the same for every storage
            if r["error"] is None or r["error"][0] != "TypeError" \
                    or not re.search(rf"\b{r['input']}\b", r["error"][1]):
                wrong.append(f"{_case_id(r)} gave {r['error']}, expected a TypeError")
            continue
        # a dense design with an intercept is centred, a sparse one is not: their
        # searches may end a few 1e-5 apart
        tol = 1e-3 if r["case"] == "canonical" else 1e-12
        if r["error"] is not None or r["diff"] is None or r["diff"] > tol:
            wrong.append(f"{_case_id(r)}: error {r['error']}, relative difference {r['diff']}")
        if r.get("unchanged") is False:
            wrong.append(f"{_case_id(r)}: the input was modified")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("container", [sp.csr_matrix, sp.csc_matrix, sp.csr_array,
                                       sp.csc_array])
@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
def test_check_sparse_structure_keeps_a_canonical_matrix(container, index_dtype):
    X, _ = _data()
    A = container(X)
    A.indices, A.indptr = A.indices.astype(index_dtype), A.indptr.astype(index_dtype)
    assert check_sparse_structure(A) is A


@pytest.mark.parametrize("container", [sp.csr_matrix, sp.csc_array])
@pytest.mark.parametrize("variant", ["unsorted", "duplicates"])
def test_check_sparse_structure_copies_a_noncanonical_matrix(container, variant):
    X, _ = _data()
    X[X < 0] = 0
    A = NONCANONICAL[variant](container(X))
    before = copy.deepcopy(A)
    B = check_sparse_structure(A)
    assert B is not A and type(B) is type(A) and B.has_canonical_format
    _assert_same(A, before)  # the input is not sorted in place
    np.testing.assert_array_equal(B.toarray(), X)
    assert B.nnz == container(X).nnz


@pytest.mark.parametrize("make", [sp.coo_matrix, sp.coo_array, sp.lil_matrix, sp.dok_matrix,
                                  sp.dia_matrix, lambda X: sp.bsr_matrix(X, blocksize=(2, 2))])
def test_check_sparse_structure_converts_other_formats_to_csr(make):
    X, _ = _data()
    A = make(X)
    B = check_sparse_structure(A)
    assert B.format == "csr" and B.has_canonical_format
    assert isinstance(B, sp.sparray) == isinstance(A, sp.sparray)
    np.testing.assert_array_equal(B.toarray(), X)


def test_check_sparse_structure_passes_anything_else_through():
    X, _ = _data()
    for obj in (X, X.tolist(), None, "X", sp.csr_array(X[0])):
        assert check_sparse_structure(obj) is obj


def _public_estimators():
    """Every estimator class of ``skhypergrad.__all__`` whose ``fit`` has a fixed
    signature (the search takes ``**params``, refused by name elsewhere)."""
    from sklearn.base import BaseEstimator

    for name in skhypergrad.__all__:
        obj = getattr(skhypergrad, name)
        if isinstance(obj, type) and issubclass(obj, BaseEstimator) \
                and obj is not HyperGradSearchCV:
            yield obj


@pytest.mark.parametrize("cls", list(_public_estimators()), ids=lambda c: c.__name__)
def test_unknown_fit_keyword_names_the_public_class(cls):
    """``fit(X, y, bogus=1)`` is Python's TypeError, naming the class the user holds."""
    X, y = _data()
    with pytest.raises(TypeError, match=rf"^{cls.__name__}\.fit\(\) got an unexpected "
                                        r"keyword argument 'bogus'"):
        cls().fit(X, y, bogus=1)


@pytest.mark.parametrize("make", [
    lambda: LassoHyperGrad(cv=3, max_iter=2),
    lambda: HyperGradSearchCV(Ridge(), cv=3, max_iter=2),
    lambda: HyperGradSearchCV(KernelRidge(), cv=3, max_iter=2),
    lambda: KernelRidgeHyperGrad(cv=3, max_iter=2),
], ids=["lasso", "search_ridge", "search_kernel_ridge", "kernel_ridge"])
def test_several_outputs_to_a_one_output_model_say_what_to_use(make):
    """scikit-learn's ``Ridge`` and ``Lasso`` take a 2d ``y``; a model tuned on one output
    refuses it naming the multi-task models, and takes a single column."""
    X, y = _data()
    with pytest.raises(ValueError, match="y has 2 columns.*MultiTaskLasso"):
        make().fit(X, np.c_[y, -y])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # DataConversionWarning, ConvergenceWarning
        assert make().fit(X, y[:, None]).predict(X[:2]).shape == (2,)


@pytest.mark.parametrize("cv", [0.25, 1])
def test_search_cv_is_gridsearchcvs(cv):
    """HyperGradSearchCV's ``cv`` is GridSearchCV's: refused as scikit-learn refuses it,
    without offering the estimators' held-out fraction (a float the search does not
    take)."""
    X, y = _data()
    with pytest.raises(ValueError, match=r"'cv' parameter of HyperGradSearchCV") as info:
        HyperGradSearchCV(Lasso(), cv=cv).fit(X, y)
    assert "float" not in str(info.value)


@pytest.mark.parametrize("estimator, fit, match", [
    (Ridge(positive=True), {}, r"positive=True.*ElasticNet\(positive=True\) or GridSearchCV"),
], ids=["ridge_positive"])
def test_unsupported_options_say_what_to_use(estimator, fit, match):
    X, y = _data()
    with pytest.raises(ValueError, match=match):
        HyperGradSearchCV(estimator, cv=3).fit(X, y, **fit)


@pytest.mark.parametrize("ours, theirs, multi", [
    ("LassoHyperGrad", "LassoCV", False), ("ElasticNetHyperGrad", "ElasticNetCV", False),
    ("RidgeHyperGrad", "RidgeCV", False), ("PoissonRegressorHyperGrad", "PoissonRegressor", False),
    ("HuberRegressorHyperGrad", "HuberRegressor", False),
    ("MultiTaskLassoHyperGrad", "MultiTaskLassoCV", True),
    ("LogisticRegressionHyperGrad", "LogisticRegressionCV", False),
    ("RidgeClassifierHyperGrad", "RidgeClassifierCV", False),
    ("LinearSVCHyperGrad", "LinearSVC", False)])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_float32_data_gives_the_coefficient_dtype_of_scikit_learn(ours, theirs, multi,
                                                                  fit_intercept):
    """float32 X and y: ``coef_``, ``intercept_`` and ``predict`` of the dtype the
    scikit-learn estimator mirrored gives (float32 for its regressors but HuberRegressor
    and for RidgeClassifierCV, float64 for the other classifiers, and for every
    ``intercept_`` without an intercept, a float but for LogisticRegressionCV), with the
    float64 fit's coefficients rounded."""
    import sklearn.linear_model as lm
    import sklearn.svm as svm
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 4))
    y = X @ [1.0, -2.0, 0.0, 0.5] + 0.1 * rng.standard_normal(60)
    if ours in ("LogisticRegressionHyperGrad", "RidgeClassifierHyperGrad",
                "LinearSVCHyperGrad"):
        y = (y > 0).astype(float)
    elif ours == "PoissonRegressorHyperGrad":
        y = rng.poisson(np.exp(0.3 * X[:, 0]))
    if multi:
        y = np.column_stack([y, 2.0 * y])
    X32, y32 = X.astype(np.float32), y.astype(np.float32)
    est = getattr(skhypergrad, ours)(cv=3, max_iter=3, fit_intercept=fit_intercept)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fitted = est.fit(X32, y32)
        ref = getattr(svm if theirs == "LinearSVC" else lm, theirs)(
            fit_intercept=fit_intercept).fit(X32, y32)
        wide = copy.deepcopy(est).fit(X32.astype(np.float64), y32.astype(np.float64))
    assert fitted.coef_.dtype == ref.coef_.dtype
    assert np.ndim(fitted.intercept_) == np.ndim(ref.intercept_)
    assert np.asarray(fitted.intercept_).dtype == np.asarray(ref.intercept_).dtype
    np.testing.assert_array_equal(fitted.coef_, wide.coef_.astype(fitted.coef_.dtype))
    if fitted.coef_.dtype == np.float32:
        assert fitted.predict(X32).dtype == np.float32
        if hasattr(ref, "decision_function"):
            assert fitted.decision_function(X32).dtype == np.float32


def test_data_beyond_float64s_range_for_its_squares_is_refused_clearly():
    """Columns of about 1e-160: their squares underflow, the search range computed from
    them is 0; a ValueError says so and what to do (it named internal bounds)."""
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True)
    with pytest.raises(ValueError, match="out of float64's range.*Standardize X"):
        skhypergrad.RidgeHyperGrad(cv=3).fit(X * 1e-160, y)
