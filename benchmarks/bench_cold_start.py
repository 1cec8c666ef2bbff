"""Cold start: import + first fit of the demo problem in a fresh process.

Each run is a new Python process that imports skhypergrad and fits
``ElasticNetHyperGrad`` (and ``LassoHyperGrad``) on diabetes (``KFold(5)``,
shuffled with seed 0), timed from the process start:

- **cold**: ``NUMBA_CACHE_DIR`` set to a new empty directory: the fits' kernels are
  neither compiled in the process nor cached, and run as Python (small folds,
  :class:`skhypergrad._jit.TieredKernel`);
- **warm**: the same directory again (still nothing cached: the cold run compiled
  nothing), the state a user is in from the second run on unless a process has
  compiled the kernels;
- **cold, compiled**: a new empty directory, the kernels compiled at their first call
  (:func:`skhypergrad._jit.always_compile`: the cost of a first fit on folds too large
  to run as Python);
- **warm, cached**: that directory again, default policy: the kernels load from the
  cache.

Reported: seconds of the import and of the first fits, wall and CPU (the CPU time of
the process: on a shared machine the wall time also counts the other processes), the
wall seconds of the whole process, and the number of kernels in the cache (its index
files) after the run. Targets (issue "fast where users are"): cold import + first fit
under 3 s, warm first fit under 1 s.

Run ``python benchmarks/bench_cold_start.py [--repeat N]``.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import json, sys, time
t0, c0 = time.perf_counter(), time.process_time()
import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.model_selection import KFold
import skhypergrad
t_import, c_import = time.perf_counter(), time.process_time()
if sys.argv[1] == "compile":
    from skhypergrad._jit import always_compile
    always_compile()
X, y = load_diabetes(return_X_y=True)
cv = KFold(5, shuffle=True, random_state=0)
skhypergrad.ElasticNetHyperGrad(cv=cv).fit(X, y)
t_enet, c_enet = time.perf_counter(), time.process_time()
skhypergrad.LassoHyperGrad(cv=cv).fit(X, y)
t_lasso, c_lasso = time.perf_counter(), time.process_time()
print(json.dumps({"import": t_import - t0, "enet": t_enet - t_import,
                  "lasso": t_lasso - t_enet, "import_cpu": c_import - c0,
                  "enet_cpu": c_enet - c_import, "lasso_cpu": c_lasso - c_enet}))
"""


def run(cache_dir, mode):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir), OMP_NUM_THREADS="1",
               OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    import time
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", CHILD, mode], env=env, check=True,
                         capture_output=True, text=True)
    total = time.perf_counter() - start
    times = json.loads(out.stdout.strip().splitlines()[-1])
    times["process"] = total
    times["kernels"] = len(list(Path(cache_dir).rglob("*.nbi")))
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="cold/warm pairs to run")
    args = parser.parse_args()
    print(f"{'':<16}{'import s':>10}{'enet fit s':>12}{'lasso fit s':>13}{'process s':>11}"
          f"{'kernels':>9}   CPU s: {'import':>7}{'enet':>7}{'lasso':>7}")
    for _ in range(args.repeat):
        for rows in ((("cold", "default"), ("warm", "default")),
                     (("cold, compiled", "compile"), ("warm, cached", "default"))):
            with tempfile.TemporaryDirectory() as cache:
                for label, mode in rows:
                    t = run(cache, mode)
                    print(f"{label:<16}{t['import']:>10.2f}{t['enet']:>12.2f}"
                          f"{t['lasso']:>13.2f}{t['process']:>11.2f}{t['kernels']:>9}   "
                          f"       {t['import_cpu']:>7.2f}{t['enet_cpu']:>7.2f}"
                          f"{t['lasso_cpu']:>7.2f}", flush=True)


if __name__ == "__main__":
    main()
