"""Properties of every fit over random shapes, scales and sparsity (hypothesis).

Protects issue 7, item 3: whatever the data, the fitted hyperparameters lie
inside their bounds, the criterion never ends above its value at the starting
point (the fitted model is the best point evaluated), and a fit is reproducible
for a fixed ``random_state``. Examples are few and tiny (2 cores shared).
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from skhypergrad import (ElasticNetHyperGrad, LassoHyperGrad,  # noqa: E402
                         LogisticRegressionHyperGrad, WeightedLassoHyperGrad)
from skhypergrad._base import lam1_max  # noqa: E402
from skhypergrad._validation import safe_lam_max  # noqa: E402

SETTINGS = settings(max_examples=8, deadline=None, database=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])

KINDS = ["lasso", "enet", "weighted_lasso", "logistic"]


@st.composite
def problems(draw):
    """``(kind, X, y)``: a random shape, scale of X and y, and density (None: dense)."""
    kind = draw(st.sampled_from(KINDS))
    n = draw(st.integers(12, 36))
    p = draw(st.integers(1, 12))
    x_scale = 10.0 ** draw(st.integers(-3, 3))
    y_scale = 10.0 ** draw(st.integers(-3, 3))
    density = draw(st.sampled_from([None, 0.05, 0.3, 0.8]))
    fmt = draw(st.sampled_from(["csr", "csc"]))
    seed = draw(st.integers(0, 2 ** 16))
    rng = np.random.default_rng(seed)
    if density is None:
        X = rng.standard_normal((n, p))
    else:
        X = sp.random(n, p, density=density, format=fmt, random_state=seed,
                      data_rvs=rng.standard_normal)
    X = X * x_scale
    w = rng.standard_normal(p) * (rng.random(p) < 0.5)
    t = np.asarray(X @ w).ravel() / x_scale + 0.5 * rng.standard_normal(n)
    if kind == "logistic":
        y = (t > np.median(t)).astype(int)
    else:
        y = y_scale * t + y_scale * draw(st.sampled_from([0.0, 3.0]))
    return kind, X, y


def _estimator(kind, **params):
    params = {"cv": 3, "max_iter": 4, **params}
    return {"lasso": LassoHyperGrad, "enet": ElasticNetHyperGrad,
            "weighted_lasso": WeightedLassoHyperGrad,
            "logistic": LogisticRegressionHyperGrad}[kind](**params)


def _fit(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y)


def _lam_max(est, X, y):
    model = est._inner_model(y).bind(y)
    Xd = X.tocsc() if sp.issparse(X) else X
    return safe_lam_max(lam1_max(model.make_map(Xd.astype(np.float64), model.encode(y))), X, y)


@SETTINGS
@given(problems())
def test_default_bounds_hold_and_the_best_point_is_kept(problem):
    kind, X, y = problem
    est = _fit(_estimator(kind), X, y)
    lo, hi = est.lam_bounds_
    assert np.all(est.lam_ >= lo) and np.all(est.lam_ <= hi)
    values = [h["value"] for h in est.history_]
    assert np.all(np.isfinite(values))
    # never above the start (the first evaluation of the whole criterion), and the
    # fitted point is the best one
    assert est.best_loss_ <= values[0]
    assert est.best_loss_ == min(values)
    assert np.all(np.isfinite(est.coef_)) and np.all(np.isfinite(est.intercept_))


@SETTINGS
@given(problems(), st.floats(-3, 1), st.floats(0.2, 3), st.floats(-4, 2))
def test_user_bounds_hold_from_any_start(problem, log_lo, log_width, log_start):
    """Bounds in the user's parameter (alpha or C) hold, even from a start outside them."""
    kind, X, y = problem
    lo, hi = 10.0 ** log_lo, 10.0 ** (log_lo + log_width)
    start = 10.0 ** log_start
    if kind == "logistic":
        est = _fit(_estimator(kind, C_init=start, C_bounds=(lo, hi)), X, y)
        assert lo * (1 - 1e-12) <= est.C_ <= hi * (1 + 1e-12)
    else:
        est = _fit(_estimator(kind, alpha_init=start, alpha_bounds=(lo, hi)), X, y)
        assert np.all(est.lam_ >= lo) and np.all(est.lam_ <= hi)
        if kind == "lasso":
            assert lo <= est.alpha_ <= hi
    values = [h["value"] for h in est.history_]
    assert est.best_loss_ <= values[0] and est.best_loss_ == min(values)


@SETTINGS
@given(problems(), st.sampled_from([3, 0.3]), st.integers(0, 100))
def test_reproducible_for_a_fixed_random_state(problem, cv, seed):
    kind, X, y = problem
    first = _fit(_estimator(kind, cv=cv, random_state=seed), X, y)
    second = _fit(_estimator(kind, cv=cv, random_state=seed), X, y)
    np.testing.assert_array_equal(first.lam_, second.lam_)
    np.testing.assert_array_equal(first.coef_, second.coef_)
    assert [h["value"] for h in first.history_] == [h["value"] for h in second.history_]
