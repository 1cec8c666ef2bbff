"""Elastic-net hyperparameter search: ElasticNetHyperGrad against grid, path, random, TPE.

For a dense and a sparse regression problem (80% train / 20% test) every method
picks ``(alpha, l1_ratio)`` by 5-fold cross-validation on the training part, with
the same ``KFold(5)`` folds:

- ``ElasticNetHyperGrad(cv=KFold(5))`` with the outer optimizers "gd" (default),
  "lbfgs" and "adam";
- ``GridSearchCV(ElasticNet())`` on 10 ``l1_ratio`` in {0.1, ..., 1.0} x 10 ``alpha``
  log-spaced from ``alpha_max(l1_ratio)`` down to ``1e-3 alpha_max(l1_ratio)`` (the
  grid ``ElasticNetCV`` uses, so both see the same 100 points);
- ``ElasticNetCV(l1_ratio=<same 10>, alphas=10)`` (warm-started paths);
- ``RandomizedSearchCV(ElasticNet())``, 100 draws, ``alpha`` log-uniform on
  ``[1e-3 alpha_max(1), alpha_max(0.1)]`` and ``l1_ratio`` uniform on ``[0.1, 1]``;
- Optuna's TPE sampler (100 trials, same space) when ``optuna`` is importable.

Columns: CPU time of the process during the search, final refit on the training
part included (the measure used for the speedups: everything is single-threaded,
and CPU time is not inflated by other load on the machine; the median of
``--repeat`` runs, 3 by default, for anything under 10 CPU seconds), and its wall time;
``fits``: inner problems solved (grid / random / TPE: 5 per candidate + 1 refit;
ElasticNetCV: 5 per path point + 1 refit, but path points are warm-started and
cheap, marked ``*``; ours: 5 per criterion evaluation, the coarse starting
scan's included, + 1 refit); ``CV MSE``: the
cross-validation MSE at the chosen hyperparameters, recomputed for every method by one common referee (``cross_val_score`` of
``ElasticNet(tol=1e-8)`` on the same folds), so solver accuracy does not bias
the comparison; ``/best``: ratio to the best CV MSE in the table; ``test MSE``:
of ``ElasticNet(tol=1e-8)`` refit on the whole training part at the chosen
hyperparameters; speedups against ``GridSearchCV`` and ``ElasticNetCV``.

Everything runs on one core (``n_jobs=1``, BLAS limited to one thread); numba is
warmed before timing. Targets (issue "estimators"): at equal or better CV loss,
ElasticNetHyperGrad >= 10x faster than GridSearchCV and >= 3x faster than
ElasticNetCV.

With ``--budget S`` (600 CPU seconds by default at full size, none with
``--quick``), ``GridSearchCV`` runs one ``l1_ratio`` (10 alphas) at a time, in an
order spread over [0.1, 1], ``RandomizedSearchCV``'s 100 draws (the very points it
would draw) run 10 at a time, and Optuna checks after each trial; each stops once
it has spent ``S`` and its time is extrapolated to the whole search (marked ``~``,
with the measured part in the note; its chosen point is then the best of what
was run). ElasticNetHyperGrad and ElasticNetCV always run to the end.

Run ``python benchmarks/bench_hpo.py`` (``--quick`` for small sizes, ``--dense-size
N P`` for another dense problem, ``--profile`` to print a cProfile of
ElasticNetHyperGrad.fit). ``--out NAME`` also writes the
tables to ``benchmarks/results/NAME.txt`` and the rows to ``NAME.json``; rows
measured in several runs (e.g. ``--only HyperGrad`` and ``--only Grid ElasticNetCV
Random Optuna`` side by side) are put in one table by ``--merge A.json B.json``.
"""

import argparse
import cProfile
import io
import json
import os
import pstats
import sys
import time
import warnings
from functools import partial

import numpy as np
import scipy.sparse as sp
from scipy.stats import loguniform, uniform
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import ElasticNet, ElasticNetCV
from sklearn.metrics import mean_squared_error
from sklearn.model_selection import (GridSearchCV, KFold, ParameterSampler,
                                     RandomizedSearchCV,
                                     cross_val_score, train_test_split)
from threadpoolctl import threadpool_limits

from skhypergrad._jit import always_compile  # noqa: E402
from skhypergrad import ElasticNetHyperGrad

L1_RATIOS = np.round(np.linspace(0.1, 1.0, 10), 10)
N_ALPHAS = 10
EPS = 1e-3
N_TRIALS = 100
REFEREE_TOL = 1e-8
SEED = 0


# -- problems ---------------------------------------------------------------------------
def correlated_dense(n, p, rho=0.6, seed=SEED):
    """Gaussian columns with AR(1) correlation ``rho`` between neighbours."""
    rng = np.random.default_rng(seed)
    X = np.empty((n, p), order="F")
    X[:, 0] = rng.standard_normal(n)
    for j in range(1, p):
        X[:, j] = rho * X[:, j - 1] + np.sqrt(1 - rho ** 2) * rng.standard_normal(n)
    return X


def planted_target(X, n_informative, snr=2.0, seed=SEED):
    """``X @ coef + noise + 1``: ``n_informative`` Gaussian coefficients, noise std(signal)/snr."""
    rng = np.random.default_rng(seed + 1)
    coef = np.zeros(X.shape[1])
    coef[rng.choice(X.shape[1], n_informative, replace=False)] = rng.standard_normal(n_informative)
    signal = np.asarray(X @ coef).ravel()
    return signal + np.std(signal) / snr * rng.standard_normal(X.shape[0]) + 1.0


def problems(quick, dense_size=None):
    """``(name, X, y)``: dense correlated (``dense_size = (n, p)`` if given) and sparse CSR."""
    n, p = dense_size or ((500, 100) if quick else (2000, 500))
    X = correlated_dense(n, p)
    yield f"dense n={n} p={p}", X, planted_target(X, p // 10)
    ns, ps, density = (2000, 5000, 5e-3) if quick else (20_000, 50_000, 1e-3)
    Xs = sp.random(ns, ps, density=density, format="csr", random_state=SEED,
                   data_rvs=np.random.default_rng(SEED).standard_normal)
    yield f"sparse n={ns} p={ps} d={density:g}", Xs, planted_target(Xs, ps // 100)


def alpha_max(X, y, l1_ratio):
    """Smallest ``alpha`` of ``ElasticNet(l1_ratio)`` (with intercept) giving zero coefficients."""
    r = y - y.mean()
    return float(np.max(np.abs(X.T @ r)) / (X.shape[0] * l1_ratio))


# -- the common referee ----------------------------------------------------------------
def referee(alpha, l1_ratio):
    return ElasticNet(alpha=alpha, l1_ratio=l1_ratio, tol=REFEREE_TOL, max_iter=100_000)


def cv_mse(X, y, cv, alpha, l1_ratio):
    """Mean over the folds of the held-out MSE (as ElasticNetCV's ``mse_path_``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        scores = cross_val_score(referee(alpha, l1_ratio), X, y, cv=cv,
                                 scoring="neg_mean_squared_error", n_jobs=1)
    return float(-scores.mean())


def test_mse(X, y, X_test, y_test, alpha, l1_ratio):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = referee(alpha, l1_ratio).fit(X, y)
    return float(mean_squared_error(y_test, model.predict(X_test)))


# -- methods: each returns (seconds, fits, alpha, l1_ratio, note) -----------------------
def timed(fn):
    """``(cpu seconds, result)``; the wall time goes to ``WALL`` (one entry per call).

    CPU time of the process is the measure: everything runs on one thread, and the
    machine may be shared, which inflates wall times but not CPU times (less so
    its cache and memory traffic). A call under ``REPEAT_BELOW`` CPU seconds is
    run ``REPEAT[0]`` times in all and its median times are reported, for every
    method alike: one run of a sub-second search is at the mercy of the machine.
    """
    cpu, wall = [], []
    while True:
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        if len(cpu) >= REPEAT[0] or cpu[0] >= REPEAT_BELOW:
            break
    WALL.append(float(np.median(wall)))
    return float(np.median(cpu)), out


WALL = []
REPEAT = [3]  # set by --repeat
REPEAT_BELOW = 10.0


def run_ours(X, y, cv, budget, optimizer):
    est = ElasticNetHyperGrad(cv=cv, optimizer=optimizer, n_jobs=1)
    t, est = timed(lambda: est.fit(X, y))
    note = f"{est.n_evals_} evals ({sum(h['grad'] is None for h in est.history_)} scan)"
    fits = est.n_evals_ * cv.get_n_splits() + 1
    return t, fits, est.alpha_, est.l1_ratio_, note, est


def grid_points(X, y):
    """One ``{"l1_ratio": [r], "alpha": ...}`` per ratio: ElasticNetCV's alpha grid."""
    return [{"l1_ratio": [r], "alpha": list(np.geomspace(alpha_max(X, y, r),
                                                         EPS * alpha_max(X, y, r), N_ALPHAS))}
            for r in L1_RATIOS]


def _chunked(X, y, cv, chunks, budget, what):
    """Candidates chunk by chunk (``GridSearchCV(refit=False)`` each), until ``budget`` CPU s.

    The search's time is extrapolated to all the chunks (chunks of equal size, in an
    order spread over the search space); its choice is the best of the chunks run.
    """
    spent, best, done = 0.0, None, 0
    for chunk in chunks:
        part = GridSearchCV(ElasticNet(), chunk, cv=cv, scoring="neg_mean_squared_error",
                            n_jobs=1, refit=False)
        t, part = timed(lambda: part.fit(X, y))
        spent += t
        done += 1
        if best is None or part.best_score_ > best[0]:
            best = (part.best_score_, part.best_params_)
        if budget is not None and spent > budget and done < len(chunks):
            break
    p = best[1]
    t_refit, _ = timed(lambda: ElasticNet(alpha=p["alpha"], l1_ratio=p["l1_ratio"]).fit(X, y))
    scale = len(chunks) / done
    WALL[:] = [sum(WALL[:-1]) * scale + WALL[-1]]
    note = "" if done == len(chunks) else \
        f"extrapolated from {done}/{len(chunks)} {what} ({spent:.0f} cpu s measured)"
    return spent * scale + t_refit, p, note


def run_grid(X, y, cv, budget):
    """GridSearchCV over all 100 points; with a budget, one ``l1_ratio`` at a time."""
    grid = grid_points(X, y)
    fits = len(L1_RATIOS) * N_ALPHAS * cv.get_n_splits() + 1
    if budget is None:
        search = GridSearchCV(ElasticNet(), grid, cv=cv, scoring="neg_mean_squared_error",
                              n_jobs=1, refit=True)
        t, search = timed(lambda: search.fit(X, y))
        p = search.best_params_
        return t, fits, p["alpha"], p["l1_ratio"], "", search
    order = [9, 0, 4, 2, 7, 1, 5, 8, 3, 6]  # l1_ratio 1.0, 0.1, 0.5, ...: spread over [0.1, 1]
    t, p, note = _chunked(X, y, cv, [[grid[i]] for i in order], budget, "l1_ratios")
    return t, fits, p["alpha"], p["l1_ratio"], note, None


def run_enetcv(X, y, cv, budget=None):
    est = ElasticNetCV(l1_ratio=list(L1_RATIOS), alphas=N_ALPHAS, eps=EPS, cv=cv, n_jobs=1)
    t, est = timed(lambda: est.fit(X, y))
    return t, len(L1_RATIOS) * N_ALPHAS * cv.get_n_splits() + 1, est.alpha_, est.l1_ratio_, \
        "warm-started paths", est


def search_space(X, y):
    return (EPS * alpha_max(X, y, 1.0), alpha_max(X, y, L1_RATIOS[0])), (L1_RATIOS[0], 1.0)


def run_random(X, y, cv, budget):
    """RandomizedSearchCV; with a budget, its very draws 10 at a time."""
    (a_lo, a_hi), (r_lo, r_hi) = search_space(X, y)
    dist = {"alpha": loguniform(a_lo, a_hi), "l1_ratio": uniform(r_lo, r_hi - r_lo)}
    fits = N_TRIALS * cv.get_n_splits() + 1
    if budget is None:
        search = RandomizedSearchCV(ElasticNet(), dist, n_iter=N_TRIALS, cv=cv,
                                    scoring="neg_mean_squared_error", n_jobs=1,
                                    random_state=SEED, refit=True)
        t, search = timed(lambda: search.fit(X, y))
        p = search.best_params_
        return t, fits, p["alpha"], p["l1_ratio"], "", search
    # the candidates RandomizedSearchCV(random_state=SEED) evaluates, in its order
    draws = [{k: [v] for k, v in d.items()}
             for d in ParameterSampler(dist, N_TRIALS, random_state=SEED)]
    chunks = [draws[i:i + 10] for i in range(0, N_TRIALS, 10)]
    t, p, note = _chunked(X, y, cv, chunks, budget, "chunks of 10 draws")
    return t, fits, p["alpha"], p["l1_ratio"], note, None


def run_optuna(X, y, cv, budget):
    """TPE, 100 trials; with a budget, stopped when spent and its time extrapolated."""
    import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    (a_lo, a_hi), (r_lo, r_hi) = search_space(X, y)
    c0 = time.process_time()

    def objective(trial):
        model = ElasticNet(alpha=trial.suggest_float("alpha", a_lo, a_hi, log=True),
                           l1_ratio=trial.suggest_float("l1_ratio", r_lo, r_hi))
        return -cross_val_score(model, X, y, cv=cv, scoring="neg_mean_squared_error",
                                n_jobs=1).mean()

    def stop(study, trial):
        if budget is not None and time.process_time() - c0 > budget:
            study.stop()

    def search():
        study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=SEED))
        study.optimize(objective, n_trials=N_TRIALS, callbacks=[stop])
        n_done = len(study.trials)
        t_search = time.process_time() - c0
        p = study.best_params
        ElasticNet(**p).fit(X, y)
        return p, n_done, t_search

    t, (p, n_done, t_search) = timed(search)
    note = ""
    if n_done < N_TRIALS:
        note = f"extrapolated from {n_done}/{N_TRIALS} trials ({t_search:.0f} cpu s measured)"
        t += t_search * (N_TRIALS / n_done - 1)
        WALL[:] = [WALL[-1] * N_TRIALS / n_done]
    return t, N_TRIALS * cv.get_n_splits() + 1, p["alpha"], p["l1_ratio"], note, None


METHODS = [("HyperGrad gd", partial(run_ours, optimizer="gd")),
           ("HyperGrad lbfgs", partial(run_ours, optimizer="lbfgs")),
           ("HyperGrad adam", partial(run_ours, optimizer="adam")),
           ("GridSearchCV", run_grid),
           ("ElasticNetCV", run_enetcv),
           ("RandomizedSearchCV", run_random),
           ("Optuna TPE", run_optuna)]


# -- table ------------------------------------------------------------------------------
def warm_numba():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 8))
    y = X[:, 0] + 0.1 * rng.standard_normal(60)
    for Xw in (X, sp.csr_matrix(X)):
        ElasticNetHyperGrad(cv=KFold(3), max_iter=2).fit(Xw, y)


def run_problem(name, X, y, args, log):
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.2, random_state=SEED)
    cv = KFold(5)
    try:
        import optuna  # noqa: F401
        has_optuna = True
    except ImportError:
        has_optuna = False
    rows = []
    for label, method in METHODS:
        fn = None
        if label != "Optuna TPE" or has_optuna:
            fn = partial(method, X_tr, y_tr, cv, args.budget)
        if args.only and not any(s.lower() in label.lower() for s in args.only):
            continue
        if fn is None:
            rows.append({"method": label, "missing": "optuna not installed"})
            continue
        WALL.clear()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            t, fits, alpha, l1_ratio, note, est = fn()
        row = {"method": label, "time": t, "wall": sum(WALL), "fits": fits,
               "alpha": float(alpha), "l1_ratio": float(l1_ratio), "note": note,
               "cv": cv_mse(X_tr, y_tr, cv, alpha, l1_ratio),
               "test": test_mse(X_tr, y_tr, X_te, y_te, alpha, l1_ratio)}
        if label.startswith("HyperGrad"):
            row["own_cv"] = float(est.best_loss_)
            row["note"] += f"; own best_loss_ {est.best_loss_:.5g}"
        elif label == "ElasticNetCV":
            row["fits_mark"] = "*"
        if "extrapolated" in note:
            row["time_mark"] = "~"
        rows.append(row)
        log(f"  done {label}: {t:.2f} s", file=sys.stderr)
    print_table(name, rows, log)
    return rows


def print_table(name, rows, log):
    order = [m for m, _ in METHODS]
    rows = sorted(rows, key=lambda r: order.index(r["method"]) if r["method"] in order else 99)
    measured = [r for r in rows if "missing" not in r]
    best_cv = min(r["cv"] for r in measured)
    ref = {r["method"]: r["time"] for r in measured}
    header = (f"{'method':<20}{'cpu s':>10}{'wall s':>9}{'fits':>7}{'alpha':>11}{'l1_ratio':>9}"
              f"{'CV MSE':>12}{'/best':>8}{'test MSE':>12}{'vs Grid':>9}{'vs ENetCV':>10}  note")
    log(f"\n{name}\n{header}\n{'-' * len(header)}")
    for r in rows:
        if "missing" in r:
            log(f"{r['method']:<20}{r['missing']}")
            continue
        vs = [f"{ref[m] / r['time']:.1f}x" if m in ref else "-" for m in
              ("GridSearchCV", "ElasticNetCV")]
        t = r.get("time_mark", "") + f"{r['time']:.2f}"
        fits = f"{r['fits']}{r.get('fits_mark', '')}"
        log(f"{r['method']:<20}{t:>10}{r['wall']:>9.2f}{fits:>7}{r['alpha']:>11.4g}"
            f"{r['l1_ratio']:>9.3f}{r['cv']:>12.6g}{r['cv'] / best_cv:>8.4f}{r['test']:>12.6g}"
            f"{vs[0]:>9}{vs[1]:>10}"
            f"  {r['note']}")


def targets(rows, log):
    ref = {r["method"]: r for r in rows if "missing" not in r}
    if "GridSearchCV" not in ref or "ElasticNetCV" not in ref:
        return
    base_cv = min(ref["GridSearchCV"]["cv"], ref["ElasticNetCV"]["cv"])
    for m, r in ref.items():
        if not m.startswith("HyperGrad"):
            continue
        ok_cv = r["cv"] <= base_cv * (1 + 1e-3)
        g = ref["GridSearchCV"]["time"] / r["time"]
        e = ref["ElasticNetCV"]["time"] / r["time"]
        log(f"target {m}: CV MSE {'<=' if ok_cv else '>'} min(grid, ENetCV) (+0.1%): "
            f"{'met' if ok_cv else 'NOT met'}; {g:.1f}x vs grid (>=10: "
            f"{'met' if g >= 10 else 'NOT met'}); {e:.1f}x vs ElasticNetCV (>=3: "
            f"{'met' if e >= 3 else 'NOT met'})")


def profile_ours(name, X, y, log, n_lines=30):
    X_tr, _, y_tr, _ = train_test_split(X, y, test_size=0.2, random_state=SEED)
    prof = cProfile.Profile()
    prof.enable()
    ElasticNetHyperGrad(cv=KFold(5), n_jobs=1).fit(X_tr, y_tr)
    prof.disable()
    for key in ("tottime", "cumulative"):
        s = io.StringIO()
        pstats.Stats(prof, stream=s).strip_dirs().sort_stats(key).print_stats(n_lines)
        log(f"\ncProfile of ElasticNetHyperGrad(cv=KFold(5)).fit, {name}, sorted by {key}")
        log(s.getvalue())


def main():
    always_compile()  # the compiled kernels timed, never their Python runs
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small problems")
    parser.add_argument("--budget", type=float, default=None,
                        help="CPU seconds after which grid / random / TPE searches are "
                             "extrapolated (default: none for --quick, 600 otherwise)")
    parser.add_argument("--problem", choices=["dense", "sparse", "both"], default="both")
    parser.add_argument("--only", nargs="*", help="run only methods whose name contains these")
    parser.add_argument("--profile", action="store_true",
                        help="also print a cProfile of ElasticNetHyperGrad.fit")
    parser.add_argument("--out", default=None,
                        help="also write benchmarks/results/OUT.txt and OUT.json")
    parser.add_argument("--merge", nargs="+", metavar="JSON",
                        help="print the tables of rows saved by --out runs, run nothing")
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads")
    parser.add_argument("--dense-size", type=int, nargs=2, metavar=("N", "P"), default=None,
                        help="size of the dense problem (default 2000 500; --quick 500 100)")
    parser.add_argument("--repeat", type=int, default=3,
                        help=f"runs of a call under {REPEAT_BELOW:.0f} cpu s (median reported)")
    args = parser.parse_args()
    REPEAT[0] = max(1, args.repeat)
    if args.budget is None and not args.quick:
        args.budget = 600.0
    results = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
    out = None
    if args.out:
        os.makedirs(results, exist_ok=True)
        out = open(os.path.join(results, args.out + ".txt"), "w")

    def log(msg, file=None):
        print(msg, file=file or sys.stdout, flush=True)
        if out is not None and file is None:
            print(msg, file=out, flush=True)

    if args.merge:
        tables = {}
        for path in args.merge:
            with open(path) as f:
                for name, rows in json.load(f).items():
                    tables.setdefault(name, []).extend(rows)
        for name, rows in tables.items():
            print_table(name, rows, log)
            targets(rows, log)
        return
    import skhypergrad
    log(f"skhypergrad {skhypergrad.__version__} from {os.path.dirname(skhypergrad.__file__)}; "
        f"{'quick' if args.quick else 'full'} sizes, BLAS threads {args.threads}, n_jobs=1")
    tables = {}
    with threadpool_limits(args.threads):
        warm_numba()
        for name, X, y in problems(args.quick, args.dense_size):
            if args.problem != "both" and not name.startswith(args.problem):
                continue
            tables[name] = run_problem(name, X, y, args, log)
            targets(tables[name], log)
            if args.out:
                with open(os.path.join(results, args.out + ".json"), "w") as f:
                    json.dump(tables, f, indent=1)
            if args.profile:
                profile_ours(name, X, y, log)
    if out is not None:
        out.close()


if __name__ == "__main__":
    main()
