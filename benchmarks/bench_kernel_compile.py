"""Compile time of the Gram criterion kernel, function by function, in a fresh process.

A cold fit on folds too large to run the kernels as Python (more than 32 columns,
:class:`skhypergrad._jit.TieredKernel`), or under ``always_compile()``, is mostly numba
compiling :func:`~skhypergrad._gram_cv_kernel.gram_cv_evaluate` (see
``bench_cold_start.py``). This benchmark compiles it alone: a child process with a new
empty ``NUMBA_CACHE_DIR`` first compiles a trivial function (numba's one-time set-up,
reported apart), then ``gram_cv_evaluate`` for the signature a fit uses (read from a
small fit in this process). Reported: CPU seconds of the set-up and of the kernel's
compilation, and for the kernel and each helper it calls, numba's timings (wall
seconds) of type inference and of native lowering (LLVM optimization and machine code
included). A function's type inference includes the whole compilation of the helpers
it calls: each helper is compiled, optimized and emitted as machine code on its own,
then linked into its callers and optimized and emitted again with them.

Run ``python benchmarks/bench_kernel_compile.py [--repeat N]``.
"""

import argparse
import base64
import os
import pickle
import subprocess
import sys
import tempfile

CHILD = r"""
import base64, pickle, sys, time
from numba import njit
from skhypergrad import _gram_cv_kernel as K
c0 = time.process_time()
njit(lambda x: x + 1.0)(1.0)
c1 = time.process_time()
K.gram_cv_evaluate.compile(pickle.loads(base64.b64decode(sys.argv[1])))
c2 = time.process_time()
print(f"set-up {c1 - c0:.3f} s CPU, gram_cv_evaluate {c2 - c1:.3f} s CPU")
for name in sorted(vars(K)):
    disp = getattr(K, name)
    if not hasattr(disp, "overloads") or not disp.overloads:
        continue
    times = next(iter(disp.overloads.values())).metadata["pipeline_times"]["nopython"]
    run = {key.split("_", 1)[1]: t.run for key, t in times.items()}
    print(f"  {name:<32} type inference {run['nopython_type_inference']:6.3f}"
          f"   lowering {run['native_lowering']:6.3f}")
"""


def signature():
    """The argument types of ``gram_cv_evaluate`` in a fit (pickled, base64 text)."""
    from sklearn.datasets import load_diabetes

    from skhypergrad import ElasticNetHyperGrad
    from skhypergrad._gram_cv_kernel import gram_cv_evaluate

    X, y = load_diabetes(return_X_y=True)
    ElasticNetHyperGrad(cv=3, max_iter=1).fit(X[:60], y[:60])
    return base64.b64encode(pickle.dumps(gram_cv_evaluate.signatures[0])).decode()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="fresh compilations to run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as warm_cache:
        os.environ["NUMBA_CACHE_DIR"] = warm_cache
        sig = signature()
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as cache:
            env = dict(os.environ, NUMBA_CACHE_DIR=cache, OMP_NUM_THREADS="1",
                       OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
            subprocess.run([sys.executable, "-c", CHILD, sig], env=env, check=True)


if __name__ == "__main__":
    main()
