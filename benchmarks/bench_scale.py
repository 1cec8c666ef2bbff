"""Time and peak memory of ``ElasticNetHyperGrad(cv=5)`` on a large sparse problem.

The issue-7 setting: ``n = 100,000`` samples, ``p = 1,000,000`` features, density
``1e-5`` (about 10 nonzeros per row, 1,000,000 in all), CSR. The target is that
the peak memory of the fit stays under 3 times the size of ``X`` (its ``data``,
``indices`` and ``indptr`` arrays): no densifying, no copy of ``X`` per fold
beyond the row indexing of the fold itself.

Two measures of memory, both reported against ``size(X)``:

* ``tracemalloc`` peak: every NumPy / SciPy buffer allocated during the fit
  (NumPy reports its allocations to tracemalloc). Memory allocated inside numba
  kernels is not traced (it is small here: the kernels work in place).
* peak resident set size (``ru_maxrss``) of the process, minus its value before
  the fit: everything, including numba, BLAS and the interpreter's own growth,
  and with ``--n-jobs`` the largest worker process's whole peak RSS
  (``RUSAGE_CHILDREN``, once the workers have exited).

The RSS peak is above the traced one mostly by memory glibc keeps after it is
freed: once a large array (mapped with ``mmap``) is freed, glibc raises its
mmap threshold to that size, so the next arrays up to it come from the heap,
whose freed chunks stay resident. Run with ``MALLOC_MMAP_THRESHOLD_=131072``
in the environment (glibc's default threshold, kept fixed) to measure the RSS
of the arrays themselves; the script says which allocator setting it ran with.

Usage::

    python benchmarks/bench_scale.py            # the full problem (minutes)
    python benchmarks/bench_scale.py --quick    # n = 20,000, p = 200,000, density 5e-5
    python benchmarks/bench_scale.py --top 15   # where the traced peak comes from

``--top k`` samples the traced memory every millisecond in a background
thread and, at every new high, takes a snapshot: it prints the ``k`` largest
live allocation sites at the highest sample (close to the traced peak, which
is reached inside a criterion evaluation, not between two of them).
"""

import argparse
import gc
import os
import resource
import sys
import threading
import time
import tracemalloc

import numpy as np
import scipy.sparse as sp


def make_data(n, p, density, seed=0, n_informative=200):
    """CSR ``X`` with ``density * n * p`` entries at uniform random positions, and ``y``.

    Built from coordinates directly (``scipy.sparse.random`` would draw positions
    among all ``n * p`` cells).
    """
    rng = np.random.default_rng(seed)
    nnz = int(round(density * n * p))
    rows = rng.integers(0, n, size=nnz, dtype=np.int64)
    cols = rng.integers(0, p, size=nnz, dtype=np.int64)
    vals = rng.standard_normal(nnz)
    X = sp.csr_matrix((vals, (rows, cols)), shape=(n, p))
    X.sum_duplicates()
    X.indices = X.indices.astype(np.int32)
    X.indptr = X.indptr.astype(np.int32)
    # informative features among the most frequent columns, so that they matter
    counts = np.bincount(X.indices, minlength=p)
    support = np.argsort(counts)[-n_informative:]
    w = np.zeros(p)
    w[support] = rng.standard_normal(n_informative) * 2.0
    y = X @ w + 0.5 * rng.standard_normal(n)
    return X, y


def nbytes(X):
    return X.data.nbytes + X.indices.nbytes + X.indptr.nbytes


def _maxrss_bytes(who=resource.RUSAGE_SELF):
    return resource.getrusage(who).ru_maxrss * 1024  # kilobytes on Linux


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--p", type=int, default=1_000_000)
    parser.add_argument("--density", type=float, default=1e-5)
    parser.add_argument("--cv", type=int, default=5)
    parser.add_argument("--max-iter", type=int, default=10, help="outer steps")
    parser.add_argument("--n-jobs", type=int, default=None)
    parser.add_argument("--quick", action="store_true",
                        help="n = 20,000, p = 200,000, density 5e-5: the full problem scaled "
                             "down 5 times in n and p, with the same 10 nonzeros per row, so "
                             "that a p-vector is the same fraction of size(X)")
    parser.add_argument("--scan", action="store_true",
                        help="the default start (a coarse path down to alpha_max / 1e4) "
                             "instead of alpha_init = alpha_max / 10; with p >> n the "
                             "weakly regularized end of the path costs minutes of coordinate "
                             "descent per fold")
    parser.add_argument("--top", type=int, default=0,
                        help="show the largest live allocation sites at the traced peak")
    parser.add_argument("--frames", type=int, default=2,
                        help="with --top: the innermost skhypergrad frames shown per site")
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.p, args.density = 20_000, 200_000, 5e-5

    from skhypergrad import ElasticNetHyperGrad
    from skhypergrad._jit import always_compile

    always_compile()  # the compiled kernels timed, never their Python runs
    t0 = time.perf_counter()
    X, y = make_data(args.n, args.p, args.density)
    size = nbytes(X)
    print(f"X: {X.shape[0]:,} x {X.shape[1]:,} CSR, nnz = {X.nnz:,}, "
          f"size(X) = {size / 2**20:.1f} MiB (data + indices + indptr); "
          f"generated in {time.perf_counter() - t0:.1f}s", flush=True)

    # warm up numba (compiled or loaded from cache) outside the measurement
    Xs, ys = make_data(200, 2_000, 5e-3, seed=1)
    ElasticNetHyperGrad(cv=2, max_iter=1).fit(Xs, ys)
    del Xs, ys
    gc.collect()

    snapshots = []
    done = threading.Event()

    def sample():  # snapshot at every new high of the traced memory (5% above the last)
        while not done.wait(0.001):
            current, _ = tracemalloc.get_traced_memory()
            if not snapshots or current > 1.05 * snapshots[0][0]:
                snapshots[:] = [(current, tracemalloc.take_snapshot())]

    alpha_init = None
    if not args.scan:  # alpha_max of l1_ratio = 0.5: max_j |X_j^T (y - mean y)| / (n / 2)
        alpha_init = 0.1 * np.abs(X.T @ (y - y.mean())).max() / (0.5 * X.shape[0])
    est = ElasticNetHyperGrad(cv=args.cv, max_iter=args.max_iter, n_jobs=args.n_jobs,
                              alpha_init=alpha_init)
    X_before = (X.data.copy(), X.indices.copy(), X.indptr.copy())
    rss_before = _maxrss_bytes()
    tracemalloc.start(25 if args.top else 1)
    sampler = threading.Thread(target=sample, daemon=True)
    if args.top:
        sampler.start()
    t0 = time.perf_counter()
    est.fit(X, y)
    seconds = time.perf_counter() - t0
    done.set()
    if args.top:
        sampler.join()
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_peak = _maxrss_bytes() - rss_before
    if args.n_jobs not in (None, 1):
        # loky keeps its workers alive; once they exit (and are waited for) the kernel
        # reports the largest one's peak RSS (its whole process: interpreter and imports)
        from joblib.externals.loky import get_reusable_executor
        get_reusable_executor().shutdown(wait=True, kill_workers=False)
    child_rss = _maxrss_bytes(resource.RUSAGE_CHILDREN)
    unchanged = all(np.array_equal(a, b) for a, b in
                    zip(X_before, (X.data, X.indices, X.indptr)))

    print(f"fit: {seconds:.1f}s, {est.n_evals_} criterion evaluations "
          f"({est.n_iter_} outer steps), alpha_ = {est.alpha_:.4g}, "
          f"l1_ratio_ = {est.l1_ratio_:.3f}, {np.count_nonzero(est.coef_)} nonzero "
          f"coefficients, CV MSE = {est.best_loss_:.4g}")
    print(f"peak traced memory (tracemalloc): {traced_peak / 2**20:8.1f} MiB = "
          f"{traced_peak / size:.2f} x size(X)")
    print(f"peak RSS growth (ru_maxrss):      {rss_peak / 2**20:8.1f} MiB = "
          f"{rss_peak / size:.2f} x size(X)")
    if args.n_jobs not in (None, 1):
        print(f"largest worker peak RSS (whole process, imports included): "
              f"{child_rss / 2**20:8.1f} MiB")
    threshold = os.environ.get("MALLOC_MMAP_THRESHOLD_")
    print("allocator: glibc mmap threshold " +
          (f"fixed at {threshold} bytes" if threshold else "dynamic (default)"))
    print(f"X unchanged by the fit: {unchanged}")
    print(f"target peak < 3 x size(X): "
          f"{'met' if max(traced_peak, rss_peak) < 3 * size else 'NOT met'}")
    if args.top and snapshots:
        current, snap = snapshots[0]
        print(f"\nlargest live allocations at the highest sampled point "
              f"({current / 2**20:.1f} MiB):")
        for stat in snap.statistics("traceback")[: args.top]:
            frames = [f for f in stat.traceback if "skhypergrad" in f.filename]
            frames = frames[-args.frames:][::-1] if frames else [stat.traceback[-1]]
            where = " <- ".join(f"{f.filename.split('skhypergrad/')[-1]}:{f.lineno}"
                                for f in frames)
            print(f"  {stat.size / 2**20:7.1f} MiB  {stat.count:5d} blocks  {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
