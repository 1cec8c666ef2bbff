"""Datafits: gradients and Hessian products against finite differences, sparse == dense,
Lipschitz constants against the true curvature, duals below primals."""

import numpy as np
import pytest

from skhypergrad._design import Design
from skhypergrad.datafits import Logistic, Multinomial, Quadratic

from _data import as_storage, make_classification_data, make_regression_data


def _problem(name, storage, fit_intercept, seed=0):
    if name == "quadratic":
        X, y = make_regression_data(40, 8, seed)
        datafit = Quadratic()
    elif name == "logistic":
        X, y = make_classification_data(40, 8, seed)
        datafit = Logistic()
    else:
        X, y = make_classification_data(40, 8, seed, n_classes=3)
        datafit = Multinomial(3)
    design = Design(as_storage(X, storage), fit_intercept, datafit.n_outputs)
    return datafit, design, datafit.encode(y)


DATAFITS = ["quadratic", "logistic", "multinomial"]


@pytest.mark.parametrize("name", DATAFITS)
@pytest.mark.parametrize("fit_intercept", [False, True])
def test_gradient_and_hessp_match_finite_differences(name, storage, fit_intercept):
    datafit, design, y = _problem(name, storage, fit_intercept)
    rng = np.random.default_rng(1)
    w = 0.3 * rng.standard_normal(design.n_params)
    v = rng.standard_normal(design.n_params)
    eps = 1e-6
    fd = (datafit.value(design, y, w + eps * v) - datafit.value(design, y, w - eps * v)) / (2 * eps)
    np.testing.assert_allclose(datafit.gradient(design, y, w) @ v, fd, rtol=1e-7)
    fd_h = (datafit.gradient(design, y, w + eps * v)
            - datafit.gradient(design, y, w - eps * v)) / (2 * eps)
    np.testing.assert_allclose(datafit.hessp(design, y, w, v), fd_h, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name", DATAFITS)
def test_sparse_equals_dense(name):
    dense = _problem(name, "dense", True)
    w = np.linspace(-1, 1, dense[1].n_params)
    for storage in ["csr", "csc"]:
        datafit, design, y = _problem(name, storage, True)
        np.testing.assert_allclose(datafit.value(design, y, w), dense[0].value(dense[1], y, w),
                                   rtol=1e-13)
        np.testing.assert_allclose(datafit.gradient(design, y, w),
                                   dense[0].gradient(dense[1], y, w), rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(datafit.lipschitz(design), dense[0].lipschitz(dense[1]),
                                   rtol=1e-5)


@pytest.mark.parametrize("name", DATAFITS)
@pytest.mark.parametrize("fit_intercept", [False, True])
def test_lipschitz_bounds_hessian(name, fit_intercept):
    """L >= largest Hessian eigenvalue everywhere, and equals it for least squares."""
    datafit, design, y = _problem(name, "dense", fit_intercept)
    L = datafit.lipschitz(design)
    rng = np.random.default_rng(2)
    q = design.n_params
    for _ in range(3):
        w = rng.standard_normal(q) * 0.1
        H = np.column_stack([datafit.hessp(design, y, w, e) for e in np.eye(q)])
        top = np.linalg.eigvalsh(0.5 * (H + H.T))[-1]
        assert top <= L * (1 + 1e-9)
    if name == "quadratic":
        assert L == pytest.approx(top, rel=1e-5)


@pytest.mark.parametrize("name", DATAFITS)
def test_dual_term_is_fenchel_lower_bound(name):
    """-f*(-theta) <= f(z) - theta . z for every z (Fenchel-Young), equality at theta = -grad."""
    datafit, design, y = _problem(name, "dense", False)
    rng = np.random.default_rng(3)
    z = rng.standard_normal((y.shape[0], datafit.n_outputs)).squeeze()
    theta = -datafit.raw_grad(y, z)
    # equality at the matching point
    np.testing.assert_allclose(datafit.dual_term(y, theta),
                               datafit.loss(y, z) + np.sum(theta * z), rtol=1e-10)
    for _ in range(5):
        z2 = rng.standard_normal(z.shape)
        assert datafit.dual_term(y, theta) <= datafit.loss(y, z2) + np.sum(theta * z2) + 1e-12


def test_labels_are_checked():
    with pytest.raises(ValueError, match="-1, \\+1"):
        Logistic().encode([0, 1, 1])
    with pytest.raises(ValueError, match="class indices"):
        Multinomial(2).encode([0, 2])
