"""BLAS threads during a search (``skhypergrad._threads``).

Protects: a search on small dense data runs its BLAS calls on one thread (thousands
of sub-millisecond calls, which a multithreaded BLAS slows down, badly so on a busy
machine), and restores the user's settings after ``fit``; sparse or large data keep
the default.
"""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import Lasso
from threadpoolctl import threadpool_info, threadpool_limits

from skhypergrad import HyperGradSearchCV, LassoHyperGrad
from skhypergrad._threads import SMALL_DENSE_ENTRIES, search_blas_limits

from _data import make_regression_data


def _blas_threads():
    return {lib["filepath"]: lib["num_threads"] for lib in threadpool_info()
            if lib["user_api"] == "blas"}


@pytest.fixture
def two_blas_threads():
    with threadpool_limits(limits=2, user_api="blas"):
        if not _blas_threads() or max(_blas_threads().values()) < 2:
            pytest.skip("no BLAS with two threads to limit")
        yield _blas_threads()


def _threads_seen(make, X, y):
    seen = []

    def callback(entry):
        seen.append(max(_blas_threads().values()))

    make(callback).fit(X, y)
    return seen


@pytest.mark.parametrize("make", [
    lambda cb: LassoHyperGrad(cv=3, max_iter=3, callback=cb),
    lambda cb: HyperGradSearchCV(Lasso(alpha=0.1), cv=3, max_iter=3, callback=cb),
])
def test_small_dense_search_runs_on_one_blas_thread(two_blas_threads, make):
    X, y = make_regression_data(n=60, p=8)
    seen = _threads_seen(make, X, y)
    assert seen and set(seen) == {1}
    assert _blas_threads() == two_blas_threads  # restored after fit


def test_sparse_or_large_data_keeps_the_blas_threads(two_blas_threads):
    X, y = make_regression_data(n=60, p=8)
    seen = _threads_seen(lambda cb: LassoHyperGrad(cv=3, max_iter=3, callback=cb),
                         sp.csr_matrix(X), y)
    assert seen and set(seen) == {2}
    large = np.lib.stride_tricks.as_strided(np.zeros(1), (SMALL_DENSE_ENTRIES + 1, 1), (0, 0))
    with search_blas_limits(large):
        assert max(_blas_threads().values()) == 2
    with search_blas_limits(X):
        assert max(_blas_threads().values()) == 1
