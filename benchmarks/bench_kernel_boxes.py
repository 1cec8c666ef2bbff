"""The kernel models' searches in a ``param_grid`` box against a finer ``GridSearchCV``.

Each row is a user's call ``HyperGradSearchCV(estimator, param_grid, cv=5, scoring=...)``
with 8 log-spaced values per parameter, against ``GridSearchCV`` with 20 values per
parameter over the same ranges and folds. CPU seconds (``time.process_time``, the
smallest of ``--repeat`` fits after a first one that compiles), one BLAS thread. Printed
per row: the ratio of the best scores (ours over the grid's for scores above 0, the
grid's over ours below: 1 is the grid's best), the number of evaluations, and both
times.

Rows (standardized data): ``SVR`` on diabetes in ``C`` x ``epsilon`` and in ``C`` x
``gamma`` (two boxes), linear-kernel ``SVR`` in ``C`` x ``epsilon``, ``KernelRidge``
(rbf) in ``alpha`` x ``gamma`` (two boxes), ``LinearSVR`` in ``C`` x ``epsilon``, ``SVC``
with accuracy on breast cancer (two boxes) and wine in ``C`` x ``gamma``.

Usage::

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/bench_kernel_boxes.py
    python benchmarks/bench_kernel_boxes.py svr-c-eps --no-grid   # some rows, ours only
"""

import argparse
import os
import warnings

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine  # noqa: E402
from sklearn.kernel_ridge import KernelRidge  # noqa: E402
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.svm import SVC, SVR, LinearSVR  # noqa: E402

from bench_quality import best_cpu  # noqa: E402
from skhypergrad._jit import always_compile  # noqa: E402
from skhypergrad import HyperGradSearchCV  # noqa: E402


def _rows():
    std = StandardScaler().fit_transform
    Xd, yd = load_diabetes(return_X_y=True)
    Xb, yb = load_breast_cancer(return_X_y=True)
    Xw, yw = load_wine(return_X_y=True)
    d, b, w = (std(Xd), yd), (std(Xb), yb), (std(Xw), yw)
    krr = KernelRidge(kernel="rbf")
    return {
        "svr-c-eps": (SVR(), {"C": (0, 3), "epsilon": (-1, 1.5)}, d, None),
        "svr-c-gamma": (SVR(), {"C": (0, 3), "gamma": (-3, 0)}, d, None),
        "svr-c-gamma-2": (SVR(), {"C": (-1, 2), "gamma": (-2, 1)}, d, None),
        "svr-linear-c-eps": (SVR(kernel="linear"), {"C": (-2, 1), "epsilon": (-1, 1.5)}, d,
                             None),
        "krr-alpha-gamma": (krr, {"alpha": (-3, 1), "gamma": (-3, 0)}, d, None),
        "krr-alpha-gamma-2": (krr, {"alpha": (-4, 0), "gamma": (-2, 1)}, d, None),
        "linsvr-c-eps": (LinearSVR(max_iter=100_000), {"C": (-2, 2), "epsilon": (-1, 1.5)},
                         d, None),
        "svc-bc": (SVC(), {"C": (-1, 3), "gamma": (-4, 0)}, b, "accuracy"),
        "svc-bc-2": (SVC(), {"C": (0, 2), "gamma": (-3, -1)}, b, "accuracy"),
        "svc-wine": (SVC(), {"C": (-1, 3), "gamma": (-4, 0)}, w, "accuracy"),
    }


def run(name, row, repeat, grid):
    est, ranges, (X, y), scoring = row
    cv = StratifiedKFold(5) if scoring else KFold(5)
    user = {k: np.logspace(lo, hi, 8) for k, (lo, hi) in ranges.items()}
    ours, t_ours = best_cpu(lambda: HyperGradSearchCV(est, user, cv=cv, scoring=scoring)
                        .fit(X, y), repeat)
    line = (f"{name:18s} ours {ours.best_score_:.5f} n {len(ours.cv_results_['params']):2d}"
            f" {t_ours:5.2f} s")
    if grid:
        full = {k: np.logspace(lo, hi, 20) for k, (lo, hi) in ranges.items()}
        peer, t_peer = best_cpu(lambda: GridSearchCV(est, full, cv=cv, scoring=scoring)
                            .fit(X, y), 1)
        s, g = ours.best_score_, peer.best_score_
        line += f"  grid {g:.5f} {t_peer:6.2f} s  ratio {s / g if g > 0 else g / s:.4f}"
    print(line, flush=True)


def main():
    always_compile()  # the compiled kernels timed, never their Python runs
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", nargs="*", help="rows to run (default: all)")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--no-grid", action="store_true", help="our searches only")
    args = parser.parse_args()
    rows = _rows()
    warnings.simplefilter("ignore")
    for name in args.rows or rows:
        run(name, rows[name], args.repeat, not args.no_grid)


if __name__ == "__main__":
    main()
