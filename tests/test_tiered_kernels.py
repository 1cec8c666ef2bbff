"""Kernels run as Python until compiling them pays (:class:`skhypergrad._jit.TieredKernel`):
the Python runs compute the compiled kernels' numbers bit for bit, a cold process's small
fit compiles nothing, and a kernel is compiled once its budget is spent, then loaded from
numba's cache by later processes."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from numba import njit
from sklearn.datasets import load_diabetes
from sklearn.model_selection import KFold

import skhypergrad._gram_cv as gram_cv
from skhypergrad import (ElasticNetHyperGrad, LassoHyperGrad, RidgeHyperGrad,
                         WeightedLassoHyperGrad)
from skhypergrad._gram_cv_kernel import gram_cv_evaluate, gram_cv_least_norm_hypergradients
from skhypergrad._jit import (INTERPRETED_SECONDS, TieredKernel, _python_version, _Tiers,
                              always_compile)
from skhypergrad.criteria import CrossVal
from skhypergrad.models import InnerModel
from skhypergrad.solvers import CoordinateDescent
from skhypergrad.solvers._gap import _gap_start, gap_sums

from _data import make_one_hot_data


def _products(A, x, out, m):
    """``out[:m] = A[:m, :m] x[:m]`` and the number of rows with a negative sum."""
    count = 0
    for i in range(m):
        s = 0.0
        for j in range(m):
            s += A[i, j] * x[j]
        out[i] = s
        if s < 0.0:
            count += 1
    return count


@pytest.fixture
def tiers(monkeypatch):
    """The default policy (the suite otherwise always compiles), nothing spent yet."""
    monkeypatch.setattr(_Tiers, "always_compile", False)
    monkeypatch.setattr(_Tiers, "interpreted", 0.0)


def test_python_runs_until_the_budget_then_compiles(tiers):
    rng = np.random.default_rng(0)
    A, x = rng.standard_normal((6, 6)), rng.standard_normal(6)
    kernel = njit(error_model="numpy")(_products)
    tiered = TieredKernel(kernel)
    out, ref = np.zeros(6), np.zeros(6)
    expected = _products(A, x, ref, 5)
    assert tiered(A, x, out, 5) == expected
    np.testing.assert_array_equal(out, ref)
    assert kernel.signatures == [] and tiered.missed and not tiered.compiled
    assert 0.0 < _Tiers.interpreted < INTERPRETED_SECONDS
    assert tiered(A, x, out, 5) == expected and kernel.signatures == []
    _Tiers.interpreted = INTERPRETED_SECONDS  # the budget spent: compiled from now on
    out2 = np.zeros(6)
    assert tiered(A, x, out2, 5) == expected
    assert len(kernel.signatures) == 1 and tiered.compiled
    np.testing.assert_array_equal(out2, out)


def test_large_calls_and_always_compile_compile_at_once(tiers):
    A, x, out = np.eye(3), np.ones(3), np.zeros(3)
    for call in (lambda t: t(A, x, out, 3, small=False),
                 lambda t: (always_compile(), t(A, x, out, 3))):
        kernel = njit(error_model="numpy")(_products)
        tiered = TieredKernel(kernel)
        call(tiered)
        assert len(kernel.signatures) == 1 and tiered.compiled and not tiered.missed
        assert _Tiers.interpreted == 0.0
        always_compile(False)


def test_python_and_compiled_gram_kernels_compute_the_same_bits(monkeypatch):
    """Every call of the Gram kernels in a range of fits (elastic net, Lasso, positive, no
    intercept, sample weights, one weight per feature, sparse X, one-hot blocks whose
    singular supports reach the least-norm kernel, ridge with a constant column), run
    both ways from the same inputs:
    the same return value and every array written the same, bit for bit."""
    calls = {}

    def both(kernel):
        python = _python_version(kernel)

        def run(*args, small=True):
            runs = []
            for fn in (kernel, python):
                copies = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
                with np.errstate(all="ignore"):
                    runs.append((fn(*copies), copies))
            (r1, c1), (r2, c2) = runs
            assert r1 == r2
            for a1, a2 in zip(c1, c2):
                if isinstance(a1, np.ndarray):
                    np.testing.assert_array_equal(a1, a2, strict=True)
            for a, a1 in zip(args, c1):
                if isinstance(a, np.ndarray):
                    a[...] = a1
            calls[kernel.py_func.__name__] = calls.get(kernel.py_func.__name__, 0) + 1
            return r1
        return run

    monkeypatch.setattr(gram_cv, "_evaluate", both(gram_cv_evaluate))
    monkeypatch.setattr(gram_cv, "_least_norm_hypergradients",
                        both(gram_cv_least_norm_hypergradients))
    X, y = load_diabetes(return_X_y=True)
    X, y = X[:200], y[:200]
    Xo, yo = make_one_hot_data()
    cv = KFold(4, shuffle=True, random_state=0)
    weights = np.random.default_rng(1).uniform(0.1, 3.0, y.size)
    for est, A, b, kw in [(ElasticNetHyperGrad(cv=cv), X, y, {}),
                          (LassoHyperGrad(cv=cv, positive=True), X, y, {}),
                          (LassoHyperGrad(cv=cv, fit_intercept=False), X, y, {}),
                          (ElasticNetHyperGrad(cv=cv), X, y, {"sample_weight": weights}),
                          (WeightedLassoHyperGrad(cv=cv, max_iter=5), X, y, {}),
                          (LassoHyperGrad(cv=cv), sp.csr_matrix(X), y, {}),
                          (LassoHyperGrad(cv=cv), Xo, yo, {}),
                          (RidgeHyperGrad(cv=cv), np.column_stack([X, np.ones(y.size)]), y, {})]:
        est.fit(A, b, **kw)
    # a Lasso whose supports hold whole one-hot blocks: singular systems (least norm)
    lam = 0.002 * np.abs(Xo.T @ (yo - yo.mean())).max() / yo.size
    lasso = InnerModel("quadratic", "l1", fit_intercept=True)
    CrossVal(cv=list(KFold(3).split(Xo))).value_and_grad(
        lasso, Xo, yo, np.array([lam]), solver=CoordinateDescent(tol=1e-14), engine="aid-cg")
    assert calls["gram_cv_evaluate"] > 50
    assert calls.get("gram_cv_least_norm_hypergradients", 0) > 0


def test_python_and_compiled_gap_sums_compute_the_same_bits():
    """The duality gap's sums (:func:`~skhypergrad.solvers._gap.gap_sums`), run both ways
    on features with and without L1 / L2 weights, zero and signed coefficients,
    ``positive`` or not: the same accumulators, bit for bit."""
    python = _python_version(gap_sums)
    rng = np.random.default_rng(0)
    p = 40
    coef = np.where(rng.random(p) < 0.4, 0.0, rng.standard_normal(p))
    u = 3.0 * rng.standard_normal(p)
    for l1 in (np.full(p, 1.5), np.r_[np.zeros(5), np.full(p - 5, 0.7)]):
        for l2 in (np.full(p, 0.3), np.zeros(p), rng.uniform(0.01, 2.0, p)):
            for positive in (False, True):
                smooth = bool(np.min(l2) > 0)
                runs = []
                for fn in (gap_sums, python):
                    acc = _gap_start()
                    with np.errstate(all="ignore"):
                        fn(coef, u, l1, l2, smooth, positive, acc)
                    runs.append(acc)
                np.testing.assert_array_equal(runs[0], runs[1], strict=True)


CHILD = r"""
import json, sys
import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.model_selection import KFold
import skhypergrad
from skhypergrad import _gram_cv, _jit
from skhypergrad._kernel_cache import compiled_count
if sys.argv[1] == "compile":
    _jit.always_compile()
X, y = load_diabetes(return_X_y=True)
est = skhypergrad.ElasticNetHyperGrad(cv=KFold(5, shuffle=True, random_state=0)).fit(X, y)
print(json.dumps({"coef": est.coef_.tolist(), "alpha": est.alpha_,
                  "l1_ratio": est.l1_ratio_, "compiled": compiled_count(),
                  "numba_has_it": _gram_cv._evaluate.compiled,
                  "python_seconds": _jit._Tiers.interpreted}))
"""


def _child(mode, cache):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache), OMP_NUM_THREADS="1",
               OPENBLAS_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", CHILD, mode], env=env, check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_cold_process_compiles_nothing_for_a_small_fit_then_the_cache_serves(tmp_path):
    """An empty numba cache: a diabetes fit runs its kernels as Python (nothing compiled
    or written to the cache); a process that compiles them gets the same bits and writes
    them to the cache; a later process loads them from there (no Python run)."""
    cold = _child("default", tmp_path)
    assert cold["compiled"] == 0 and not cold["numba_has_it"]
    assert cold["python_seconds"] > 0.0
    assert not list(Path(tmp_path).rglob("*.nbi"))
    compiled = _child("compile", tmp_path)
    assert compiled["compiled"] >= 1 and compiled["numba_has_it"]
    assert list(Path(tmp_path).rglob("*gram_cv_evaluate*.nbi"))
    warm = _child("default", tmp_path)
    assert warm["compiled"] == 0 and warm["numba_has_it"]
    assert warm["python_seconds"] == 0.0
    for run in (compiled, warm):
        assert run["coef"] == cold["coef"]
        assert (run["alpha"], run["l1_ratio"]) == (cold["alpha"], cold["l1_ratio"])
