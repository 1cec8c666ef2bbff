"""Cost of the sparse structure check (``check_sparse_structure``) against a fit.

A CSR ``X`` with ``n = 100,000`` rows, ``p = 1,000,000`` columns and 50
entries per row (about 5,000,000 nonzeros, canonical). Reported:

* the check alone on that ``X`` as CSR and CSC, with int32 and int64 indices
  (best of 7; a canonical ``X`` is returned without a copy, which is asserted);
* one product ``X @ w``, for scale;
* the check of a non-canonical ``X`` (one row stored unsorted), which makes
  the canonical copy;
* with ``--fit K``: ``LassoHyperGrad(cv=3, max_iter=K).fit(X, y)``, with the
  number of checks made during the fit and their total time.

Usage::

    python benchmarks/bench_sparse_check.py            # the check alone (seconds)
    python benchmarks/bench_sparse_check.py --fit 3    # and a fit (about a minute)
"""

import argparse
import time

import numpy as np
import scipy.sparse as sp

from skhypergrad._jit import always_compile  # noqa: E402
import skhypergrad._validation as validation


def make_X(n=100_000, p=1_000_000, per_row=50, seed=0):
    rng = np.random.default_rng(seed)
    indices = rng.integers(0, p, size=n * per_row).astype(np.int32)
    indptr = np.arange(0, n * per_row + 1, per_row, dtype=np.int32)
    X = sp.csr_matrix((rng.standard_normal(n * per_row), indices, indptr), shape=(n, p))
    X.has_sorted_indices = False
    X.sum_duplicates()
    return sp.csr_matrix((X.data, X.indices, X.indptr), shape=X.shape)  # no cached flags


def best_of(f, repeat=7):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main():
    always_compile()  # the compiled kernels timed, never their Python runs
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fit", type=int, default=None, metavar="K",
                        help="also time LassoHyperGrad(cv=3, max_iter=K).fit")
    args = parser.parse_args()

    X = make_X()
    print(f"X: {X.shape[0]:,} x {X.shape[1]:,}, nnz {X.nnz:,}")
    check = validation.check_sparse_structure
    for dtype in (np.int32, np.int64):
        A = X.copy()
        A.indices, A.indptr = A.indices.astype(dtype), A.indptr.astype(dtype)
        for fmt_A in (A, A.tocsc()):
            t, out = best_of(lambda: check(fmt_A))
            assert out is fmt_A
            print(f"check {fmt_A.format.upper()} {np.dtype(dtype).name}: {t * 1e3:7.1f} ms")
    w = np.random.default_rng(1).standard_normal(X.shape[1])
    t, _ = best_of(lambda: X @ w)
    print(f"one X @ w:            {t * 1e3:7.1f} ms")
    U = X.copy()
    U.indices[:2] = U.indices[1::-1]
    U = sp.csr_matrix((U.data, U.indices, U.indptr), shape=U.shape)
    t, out = best_of(lambda: check(U), repeat=3)
    assert out is not U and out.has_canonical_format
    print(f"check + canonical copy: {t * 1e3:5.1f} ms")

    if args.fit is None:
        return
    from skhypergrad import LassoHyperGrad
    from skhypergrad import _api, _base, _criterion_data, fixed_point

    spent = {"n": 0, "seconds": 0.0}

    def timed(X, name="X"):
        t0 = time.perf_counter()
        out = check(X, name)
        spent["seconds"] += time.perf_counter() - t0
        spent["n"] += sp.issparse(X)
        return out

    for module in (validation, _api, _base, _criterion_data, fixed_point):
        module.check_sparse_structure = timed
    rng = np.random.default_rng(2)
    beta = np.zeros(X.shape[1])
    beta[:20] = 1.0
    y = X @ beta + 0.5 * rng.standard_normal(X.shape[0])
    est = LassoHyperGrad(cv=3, max_iter=args.fit)
    t0 = time.perf_counter()
    est.fit(X, y)
    fit_seconds = time.perf_counter() - t0
    print(f"LassoHyperGrad(cv=3, max_iter={args.fit}).fit: {fit_seconds:.1f} s, "
          f"{est.n_evals_} evaluations; {spent['n']} checks, {spent['seconds'] * 1e3:.0f} ms "
          f"({100 * spent['seconds'] / fit_seconds:.2f} % of the fit)")


if __name__ == "__main__":
    main()
