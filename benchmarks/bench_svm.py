"""Squared-hinge linear SVM: HyperGradSearchCV(LinearSVC) against GridSearchCV (20 C).

For ``make_classification`` data (n = 5,000, p = 200, 20 informative features, 5%
of the labels flipped; ``--classes 3`` for one-vs-rest) each method picks ``C`` of
``LinearSVC(penalty)`` by the cross-validated mean squared hinge
(:func:`skhypergrad.squared_hinge.squared_hinge_scorer`) on the same
``StratifiedKFold(5)`` folds:

- ``HyperGradSearchCV(LinearSVC(penalty))`` with its defaults (coarse scan relative
  to the data, then gradient descent on ``log(1 / C)``);
- ``GridSearchCV(LinearSVC(penalty), {"C": 20 values log-spaced on [1e-4, 1e2]})``.

Both refit ``LinearSVC`` (scikit-learn's defaults otherwise: ``tol=1e-4``,
``dual="auto"``) on all the data at the chosen ``C``. Columns: CPU seconds of the
search (refit included; everything single-threaded), wall seconds, the CV squared
hinge at the chosen ``C`` recomputed by one referee (``cross_val_score`` of
``LinearSVC(C, tol=1e-10, dual=False)`` on the same folds), its ratio to the
grid's, the CV accuracy at the chosen ``C`` (same referee), and the speedup.

Run ``python benchmarks/bench_svm.py`` (``--quick`` for n = 1,000, p = 50).
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from sklearn.svm import LinearSVC
from threadpoolctl import threadpool_limits

from skhypergrad._jit import always_compile  # noqa: E402
from skhypergrad import HyperGradSearchCV
from skhypergrad.squared_hinge import squared_hinge_scorer

GRID = np.logspace(-4, 2, 20)


def timed(fn):
    c0, t0 = time.process_time(), time.perf_counter()
    out = fn()
    return out, time.process_time() - c0, time.perf_counter() - t0


def referee(X, y, cv, C, penalty):
    """``(CV squared hinge, CV accuracy)`` of a tight ``LinearSVC(C)`` on the folds."""
    svc = LinearSVC(C=C, penalty=penalty, dual=False, tol=1e-10, max_iter=100_000)
    loss = -cross_val_score(svc, X, y, cv=cv, scoring=squared_hinge_scorer).mean()
    return loss, cross_val_score(svc, X, y, cv=cv).mean()


def run(X, y, penalty):
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    svc = LinearSVC(penalty=penalty, dual=False) if penalty == "l1" else \
        LinearSVC(penalty=penalty)
    ours, cpu_h, wall_h = timed(lambda: HyperGradSearchCV(svc, cv=cv,
                                                          scoring="neg_squared_hinge").fit(X, y))
    grid, cpu_g, wall_g = timed(lambda: GridSearchCV(svc, {"C": GRID}, cv=cv,
                                                     scoring=squared_hinge_scorer).fit(X, y))
    rows = []
    for name, search, cpu, wall, fits in (
            ("HyperGradSearchCV", ours, cpu_h, wall_h,
             5 * len(ours.cv_results_["params"]) + 1),
            ("GridSearchCV(20 C)", grid, cpu_g, wall_g, 5 * len(GRID) + 1)):
        C = search.best_params_["C"]
        loss, acc = referee(X, y, cv, C, penalty)
        rows.append(dict(method=name, cpu=cpu, wall=wall, fits=fits, C=C, loss=loss, acc=acc))
    base = rows[1]
    for r in rows:
        print(f"  {r['method']:<20} {r['cpu']:8.2f} {r['wall']:8.2f} {r['fits']:5d} "
              f"{r['C']:10.4g} {r['loss']:10.6f} {r['loss'] / base['loss']:7.4f} "
              f"{r['acc']:7.4f} {base['cpu'] / r['cpu']:7.1f}x")


def main():
    always_compile()  # the compiled kernels timed, never their Python runs
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--classes", type=int, default=2)
    parser.add_argument("--penalty", nargs="+", default=["l2", "l1"])
    args = parser.parse_args()
    n, p = (1000, 50) if args.quick else (5000, 200)
    X, y = make_classification(n_samples=n, n_features=p, n_informative=20, flip_y=0.05,
                               n_classes=args.classes, random_state=0)
    HyperGradSearchCV(LinearSVC(), cv=3, max_iter=1).fit(X[:100], y[:100])  # warm numba
    print(f"n={n} p={p} classes={args.classes}")
    print(f"  {'method':<20} {'cpu s':>8} {'wall s':>8} {'fits':>5} {'C':>10} "
          f"{'CV sq.hinge':>10} {'/grid':>7} {'CV acc':>7} {'speedup':>8}")
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for penalty in args.penalty:
            print(f"LinearSVC(penalty={penalty!r})")
            run(X, y, penalty)


if __name__ == "__main__":
    main()
