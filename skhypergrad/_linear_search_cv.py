"""The search of a linear model's parameters, one run of ``HyperGradSearchCV``.

:func:`fit_linear_search` reads the scorers and the routed ``fit`` parameters, builds
the :class:`~skhypergrad.models.InnerModel` of the final step, prepares the folds once
(:mod:`skhypergrad._prepared_folds`), starts from :mod:`skhypergrad._search_start`, runs
:func:`skhypergrad._tune.tune` on the mean of the folds' held-out losses (when the
search follows a surrogate, its scan follows the refit scorer too: ``scan_rank``),
refines the best point by the refit scorer then
(:func:`~skhypergrad._scoring.polish`) and assembles the rows of ``cv_results_``
(:mod:`skhypergrad._search_results`). The kernel models' searches run in
:mod:`skhypergrad._kernel_search_cv`.
"""

import time

import numpy as np
from joblib import Parallel, delayed
from sklearn.utils import indexable
from sklearn.utils.validation import _num_samples

from ._base import class_sample_weights, inner_setup
from ._decision_scores import decision_metrics
from ._linear_adapters import decision_of
from ._progress import Progress
from ._scoring import (POLISH_EVALS, FoldScorer, FoldTransform, check_error_score,
                       check_search_scoring, descended_name, fold_view, polish, routing_scorer,
                       scan_entry, transform_power)
from ._search_estimator import SearchSpace, n_penalty_hyper, search_model, tie_ratio
from ._search_results import SearchRun, format_results
from ._search_start import linear_lam_box, search_start
from ._threads import search_blas_limits
from ._tune import _with_tol, tune
from ._validation import (check_cv_size, check_sparse_structure, check_target, cv_splits,
                          lam_max_floor, named, one_convergence_warning, warn_unfinished_search)
from ._prepared_folds import PreparedFolds, prepare_fold
from ._parallel import design_entries, fold_n_jobs
from ._routing import route_fit_params
from ._weighted_datafit import weighted
from .optimizers import get_optimizer

#: Inner accuracy (relative duality gap) of every evaluation. Not the loose-to-tight
#: schedule of the estimators: every row of ``cv_results_`` is a record the user
#: compares with ``GridSearchCV``, so its scores must be as accurate as the user's
#: estimator's (a relative gap of 1e-4 gives errors near 1e-2). The value-only rows of
#: an estimator whose adapter states its own stopping rule (``row_tol``) stop there.
_INNER_TOL = (1e-10, 1e-10)


def fit_linear_search(search, final, preprocessing, prefix, adapter, X, y, groups, params,
                      cv, box, target=None):
    """One search of the parameters of ``final``, the final step of a pipeline whose
    other steps are ``preprocessing`` (None: no pipeline) and whose parameters are named
    with ``prefix``, declared by its ``adapter``
    (:mod:`skhypergrad._linear_adapters`), run by ``search`` (a ``HyperGradSearchCV``,
    whose ``n_splits_`` it sets) on the splits of ``cv``, within ``box`` (``{name: (low,
    high)}`` in the estimator's parameters, see :mod:`skhypergrad._param_grid`; None:
    ``bounds`` or the data's scales): a :class:`~skhypergrad._search_results.SearchRun`.

    ``target``: the :class:`~skhypergrad._target_transform.TargetTransform` of a
    ``TransformedTargetRegressor`` (None: none). Each fold's inner problems are then
    solved on its transformed training targets and descend the transformed held-out
    loss (a surrogate); every point is scored on the original targets, by the wrapper's
    inverse-transformed predictions, and refined by the refit scorer as any surrogate
    search is."""
    kind, classifier, multi_output = adapter.loss, adapter.classifier, adapter.multi_output
    error_score = check_error_score(search.error_score)
    get_optimizer(search.optimizer)
    X = check_sparse_structure(X, "X")  # before scipy's indexing reads its indices
    with named("X and y"):
        X, y, groups = indexable(X, y, groups)
    check_cv_size(cv, _num_samples(X))
    y = check_target(y, classifier=classifier, multi_output=multi_output)
    # the targets of the model's checks and scales (transformed on the full data, as
    # the refit transforms them); the folds transform their own
    y_model = y if target is None else target.fit(X, y)[1]
    plan = check_search_scoring(search.scoring, search.refit, kind, final,
                                len(np.unique(y)) if classifier else None, multi_output,
                                rescaled=target is not None)
    fit_params = route_fit_params(search, routing_scorer(search.scoring, final), X, groups,
                                  params)
    groups = fit_params.groups
    class_weight = final.class_weight if classifier else None  # (every classifier's)
    fit_weight = class_sample_weights(class_weight, y, fit_params.sample_weight)
    # the n of C and of a sum of losses' alpha: the sum of the weights of the refit's
    n_samples = y.shape[0] if fit_weight is None else float(np.sum(fit_weight))
    model = search_model(adapter, final, y_model, n_samples)
    model.encode(y_model)  # the datafit's checks of y (a Gamma's y > 0), before any fold's
    if box is not None:  # l1_ratio fixed, alpha (C) searched: a penalty of one weight
        model = tie_ratio(model, box, adapter.parametrization, prefix)
    if fit_weight is not None and not model.get_datafit().accepts_sample_weight:
        raise ValueError(f"{type(final).__name__} cannot be searched with sample "
                         "weights: its datafit takes none; fit without sample_weight, "
                         "or use GridSearchCV.")
    space = SearchSpace(prefix, adapter.parametrization, n_penalty_hyper(model), n_samples)

    splits = cv_splits(cv, X, y, groups, classifier=classifier)
    search.n_splits_ = len(splits)
    progress = Progress(search.verbose, type(search).__name__, space.params)
    progress.start(search.n_splits_, descended_name(plan, kind),
                   [_scoring_label(search.scoring) if name == "score" else name
                    for name in plan.scorers])
    # without preprocessing, a fold is its rows: a worker would only index them and
    # send the copies back, slower than the process copies them
    parallel = Parallel(n_jobs=fold_n_jobs(search.n_jobs, design_entries(X) * len(splits),
                                           in_process=preprocessing is None),
                        pre_dispatch=search.pre_dispatch)
    sw = fit_params.sample_weight
    train_weights = [class_sample_weights(class_weight, y[train], _rows(sw, train))
                     for train, _ in splits]
    folds = parallel(
        delayed(prepare_fold)(preprocessing, X, y, train, test,
                              n_samples / _total(w_train, train)
                              if space.sum_of_losses else 1.0,
                              w_train, fit_params.score_weight, target)
        for (train, test), w_train in zip(splits, train_weights))
    # constants the datafit estimates (Huber's scale), once, on the first training fold
    # with its weights, at the weights its datafit states in units of the data (not the
    # estimator's own alpha, which the search replaces)
    X0, y0, w0 = folds[0].X_train, model.encode(folds[0].y_train), train_weights[0]
    model = model.with_data_constants(X0, y0, model.get_datafit().constants_lam(
        model, X0, y0, _fold_lam(model, model.lam, folds[0].scale),
        adapter.defaults.l2_range[0], w0), w0)
    engine, solver, inner_tol = inner_setup(search.hypergradient, search.solver, _INNER_TOL,
                                            search.random_state,
                                            weighted(model.get_datafit(), fit_weight),
                                            weighted=fit_weight is not None)
    # the value-only rows at the user's estimator's own accuracy (doc/search_cv.rst)
    row_tol = None if adapter.row_tol is None or solver is None \
        else adapter.row_tol(adapter.read(final))
    scan_solver = None if row_tol is None else solver.loosened(row_tol)
    stopped = [False]  # whether callback asked the search to stop
    callback = _entry_callback(search, plan, space, stopped)
    criterion = PreparedFolds(folds, n_jobs=search.n_jobs, pre_dispatch=search.pre_dispatch,
                              train_loss=search.return_train_score, loss=plan.loss,
                              **_scoring_parts(plan, final, adapter, model, folds, splits,
                                               fit_params, error_score, parallel))
    # the floors of lam1_max from the folds' raw rows, before their maps centre them
    floors = [lam_max_floor(f.X_train, f.y_train) for f in folds]
    lam0, bounds, candidates, back, below = search_start(
        search, model, folds, criterion.training_maps(model, solver), floors, space,
        adapter.defaults,
        None if box is None else linear_lam_box(box, prefix, adapter, final, y_model,
                                                n_samples, model))
    # a surrogate search: the refit scorer's own landscape, scanned and refined
    surrogate = plan.rescore and not plan.exact and plan.refit_key is not None
    score_of = _refit_score(search, plan) if surrogate else None
    t0 = time.perf_counter()
    with one_convergence_warning(type(search).__name__), \
            search_blas_limits(folds[0].X_train):
        result = tune(model, None, None, criterion, lam0, bounds=bounds,
                      candidates=candidates, optimizer=search.optimizer, engine=engine,
                      solver=solver,
                      max_iter=search.max_iter, tol=search.tol, inner_tol=inner_tol,
                      callback=callback, verbose=search.verbose,
                      label=type(search).__name__, names=space.params,
                      loss_name=descended_name(plan, kind), scan_solver=scan_solver,
                      scan_back=back, scan_below=below,
                      scan_patience=adapter.defaults.patience(
                          fit_weight is not None or fit_params.scorer_weight is not None),
                      scan_rank=None if score_of is None else lambda entry: -score_of(entry))
        history = list(result.history)
        if surrogate and not stopped[0]:
            _polish(history, plan, criterion, model, result.state, bounds,
                    _with_tol(solver, inner_tol[1]), callback, stopped, progress, t0,
                    score_of, None if scan_solver is None
                    else _with_tol(scan_solver, inner_tol[1]))
    warn_unfinished_search(type(search).__name__, result, search.max_iter, search.tol)

    results = format_results(history, [space.params(h["lam"]) for h in history],
                             search.n_splits_, plan, error_score, search.return_train_score)
    key = "score" if not plan.multimetric else plan.refit_key

    def chosen(index, key, score):
        if plan.rescore:
            progress.chosen(history[index]["lam"], key, score)

    return SearchRun(results, result.n_iter, plan.multimetric,
                     plan.scorers if plan.multimetric else plan.scorers["score"], key,
                     X, y, fit_params.estimator, chosen=chosen)


def _refit_score(search, plan):
    """``entry -> float``: the refit scorer's mean over the folds of a history entry
    (nan for a failed point)."""
    k, train = search.n_splits_, int(search.return_train_score)
    m = list(plan.scorers).index(plan.refit_key)

    def score_of(entry):
        scores = np.asarray(entry["values"])[k * (1 + train):]
        return float(scores.reshape(k, 1 + train, len(plan.scorers))[:, 0, m].mean())
    return score_of


def _polish(history, plan, criterion, model, state, bounds, solver, callback, stopped,
            progress, t0, score_of, row_solver=None):
    """Refine the best point by the refit scorer itself (a surrogate search; see
    :func:`~skhypergrad._scoring.polish`, stopped on a plateau after its first round),
    :data:`POLISH_EVALS` evaluations per parameter at most; the new entries are
    appended to ``history``; ``score_of``: :func:`_refit_score`.

    ``row_solver``: the solver of the scan's rows (the user's estimator's own stopping
    rule; None: ``solver``), whose rows get ``tol = inf``: value-only rows, as the
    scan's."""
    last = [state]
    row_solver = solver if row_solver is None else row_solver
    loose = row_solver is not solver

    def evaluate(lam):
        if stopped[0]:
            return None
        entry, last[0] = scan_entry(criterion, model, None, None, lam, row_solver, last[0],
                                    t0)
        if loose:
            entry["tol"] = np.inf
        progress.refine(lam, plan.refit_key, score_of(entry))
        if callback is not None:
            callback(entry)
        return entry

    polish(evaluate, history, score_of, bounds, POLISH_EVALS * len(bounds[0]),
           plateau_stop=True)


def _entry_callback(search, plan, space, stopped):
    """Called by the search with every history entry: prints each fold's scores
    (``verbose >= 3``, scorers), then calls ``callback`` with ``params``; when it
    returns True, sets ``stopped[0]`` and asks the search to stop."""
    progress = Progress(search.verbose if plan.rescore else 0, type(search).__name__)
    if progress.verbose < 3 and search.callback is None:
        return None
    k, train, seen = search.n_splits_, int(search.return_train_score), [0]

    def on_entry(entry):
        seen[0] += 1
        if progress.verbose >= 3:
            scores = np.asarray(entry["values"])[k * (1 + train):]
            scores = scores.reshape(k, 1 + train, len(plan.scorers))[:, 0]
            progress.fold_scores(seen[0], [dict(zip(plan.scorers, s)) for s in scores])
        if search.callback is not None and \
                search.callback({**entry, "params": space.params(entry["lam"])}):
            stopped[0] = True
        return stopped[0]
    return on_entry


def _scoring_parts(plan, final, adapter, model, folds, splits, fit_params, error_score,
                   parallel):
    """The keyword arguments of :class:`PreparedFolds` that score the points:
    the per-fold map of the descended loss, and the scorer of the folds' models (the
    scorers ``fit_params.weighted`` weighted by ``fit_params.scorer_weight`` on the
    rows of ``splits``)."""
    parts = {}
    if plan.transform != "identity":
        parts["transform"] = FoldTransform(plan.transform, [f.y_test for f in folds],
                                           transform_power(adapter.loss, final),
                                           [f.score_weight_test for f in folds])
    if plan.rescore:
        column, sw = adapter.column(final), fit_params.scorer_weight
        parts["views"] = parallel(delayed(fold_view)(final, fold, column,
                                                     model.fit_intercept,
                                                     _weight_params(_rows(sw, test)),
                                                     _weight_params(_rows(sw, train)))
                                  for fold, (train, test) in zip(folds, splits))
        # the decision values' metrics score the model's own scale: not a wrapper's
        metrics = None if folds[0].target is not None else \
            decision_metrics(plan.names, decision_of(final))
        parts["scorer"] = FoldScorer(plan.scorers, error_score, metrics, fit_params.weighted)
    return parts


def _rows(values, rows):
    """``values[rows]``, None for None."""
    return None if values is None else values[rows]


def _weight_params(weights):
    """The scorers' keyword arguments of a fold's rows: ``{"sample_weight": weights}``,
    None without weights."""
    return None if weights is None else {"sample_weight": weights}


def _total(weights, rows):
    """The sum of ``weights`` (the number of ``rows`` for None)."""
    return len(rows) if weights is None else float(np.sum(weights))


def _scoring_label(scoring):
    """How the progress lines name a single-metric ``scoring``."""
    if scoring is None:
        return "the estimator's score"
    return scoring if isinstance(scoring, str) else getattr(scoring, "__name__", "a callable")


def _fold_lam(model, lam, scale):
    """``lam`` of a fold: the penalty's weights times the fold's ``scale``."""
    lam = np.array(lam, dtype=np.float64)
    lam[:lam.shape[0] - model.n_datafit_hyper] *= scale
    return lam
