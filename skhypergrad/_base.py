"""The fit shared by every estimator: validate -> build the problem -> search -> refit.

An estimator only states what differs: its inner model, the starting
hyperparameters and their bounds, and how the chosen ``lam`` reads in
scikit-learn's vocabulary (``alpha_``, ``l1_ratio_``, ``C_``, ``alphas_``).
"""

import copy
import numbers
import types
import warnings
from functools import partial
from typing import Any, NamedTuple

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.model_selection import train_test_split
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils import check_consistent_length, column_or_1d
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from ._design import gram_pays
from ._gram_cv import gram_fit, gram_path_applies
from ._jit import set_up_numba
from ._progress import format_point
from ._search_space import LEAST_SQUARES, clipped_back, lam1_max, null_model, search_scales
from ._threads import search_blas_limits
from ._tune import tune
from ._validation import (atomic_fit, check_cv_size, check_fold_weights,
                          check_sparse_structure, check_X_y, cv_splits,
                          one_convergence_warning, warn_unfinished_search)
from .criteria import CrossVal, HeldOut
from ._weighted_datafit import weighted
from .hypergrad import ENGINES, BaseEngine
from .optimizers import get_optimizer
from .solvers import CoordinateDescent, ProxGradient, StochasticProxGradient, duality_gap

__all__ = ["BaseHyperGrad", "ClassWeightMixin", "default_solver", "inner_setup",
           "refit_solver", "lam1_max", "null_model"]

_SOLVERS = {"cd": CoordinateDescent, "fista": ProxGradient, "saga": StochasticProxGradient}


def default_solver(solver, tol=1e-8, random_state=None, datafit=None):
    """The inner solver for a name ("auto", "cd", "fista", "saga") or an instance.

    ``"auto"`` is coordinate descent, or FISTA for a ``datafit`` that declares no
    Newton model (``newton_model = None``: coordinate descent does not apply).
    """
    if not isinstance(solver, str):
        return solver
    if solver == "auto":
        solver = "fista" if datafit is not None and datafit.newton_model is None else "cd"
    if solver == "saga":
        return StochasticProxGradient(tol=tol, random_state=random_state)
    return _SOLVERS[solver](tol=tol)


def refit_solver(solver, tol, random_state, pgmap):
    """The solver of a single tight solve on ``pgmap`` (the final refit), from the
    estimator's ``solver`` parameter.

    Coordinate descent with ``precompute="auto"`` forms the Gram matrix from the
    first solve on least squares when it pays for repeated products
    (:func:`~skhypergrad._design.gram_pays`: dense, ``n_samples > n_features``, at
    most 2048 features): a solve to a tight tolerance on a rank-deficient design (e.g.
    one-hot blocks with an intercept, a tiny L2 weight) takes thousands of epochs,
    each ``O(|W|^2)`` on it against ``O(n |W|)`` on ``X``.
    """
    solver = default_solver(solver, tol=tol, random_state=random_state,
                            datafit=pgmap.datafit)
    if isinstance(solver, CoordinateDescent) and isinstance(solver.precompute, str) and \
            solver.precompute == "auto" and pgmap.datafit.least_squares and \
            gram_pays(pgmap.design):
        solver = copy.copy(solver)
        solver.precompute = True
    return solver


def inner_setup(hypergradient, solver, inner_tol, random_state=None, datafit=None,
                weighted=False):
    """``(engine, solver, inner_tol)`` of a search from the estimator's parameters.

    ``"nsid"`` is :class:`~skhypergrad.hypergrad.NSID` seeded by ``random_state``
    (as is an NSID instance without a seed of its own);
    with a stochastic engine (NSID) the inner problems are solved by minibatch
    SAGA when ``solver="auto"`` (a full gradient per step is what NSID avoids),
    unless the problems are ``weighted`` (SAGA's kernels take no sample weights),
    and a stochastic solver is asked for no more than a relative gap of 1e-6.
    """
    from .hypergrad import NSID

    engine = hypergradient
    if isinstance(engine, str) and engine == "nsid":
        engine = NSID(random_state=random_state)
    if isinstance(engine, NSID):
        if engine.random_state is None and random_state is not None:
            engine = copy.copy(engine)  # the estimator's seed, the user's instance untouched
            engine.random_state = random_state
        if isinstance(solver, str) and solver == "auto" and not weighted:
            solver = "saga"
    solver = default_solver(solver, random_state=random_state, datafit=datafit)
    if isinstance(solver, StochasticProxGradient):
        inner_tol = (max(inner_tol[0], 1e-4), max(inner_tol[1], 1e-6))
    return engine, solver, inner_tol


class BaseHyperGrad(BaseEstimator):
    """Shared fit of the self-tuning estimators.

    Subclasses define ``_inner_model(y)``, ``_initial_lam(scales, n_samples)`` (the
    user's starting point, or None to start from the best point of the scan),
    ``_bounds(scales, n_samples)`` (in ``lam``) and ``_hyper_names(lam, n_samples)``
    (``lam`` in scikit-learn's vocabulary). ``scales`` is the problem's
    :class:`~skhypergrad._search_space.SearchScales`: default bounds and the scan are
    relative to the data (see :mod:`skhypergrad._search_space`), so that the chosen
    model does not depend on the units of ``y`` or ``X``.
    """

    _parameter_constraints = {
        "cv": ["cv_object", Interval(numbers.Real, 0, 1, closed="neither")],
        "hypergradient": [StrOptions(set(ENGINES)), BaseEngine],
        "solver": [StrOptions({"auto", "cd", "fista", "saga"}), HasMethods(["solve"])],
        "optimizer": "no_validation",  # a name or an optimizer: checked by get_optimizer
        "max_iter": [Interval(numbers.Integral, 0, None, closed="left")],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "fit_intercept": ["boolean"],
        "n_jobs": [None, numbers.Integral],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "callback": [None, callable],
    }

    def __init_subclass__(cls, **kwargs):
        """A public subclass that inherits ``fit`` from a private one gets its own copy
        of it, named after the public class: Python's errors for a bad call
        (``fit() got an unexpected keyword argument``) then name the class the user
        holds."""
        super().__init_subclass__(**kwargs)
        if not cls.__name__.startswith("_") and "fit" not in vars(cls):
            cls.fit = _renamed_method(cls.fit, cls.__qualname__)

    _is_classifier = False
    #: whether ``coef_`` and ``intercept_`` are float32 for float32 data, as those of the
    #: scikit-learn estimator it mirrors (``RidgeClassifierCV``'s are; those of
    #: ``HuberRegressor``, ``LogisticRegressionCV`` and ``LinearSVC`` are float64)
    _coef_follows_dtype = True
    #: whether the targets are 2d, one column per output (multi-task regression)
    _multi_output = False
    #: whether the fit sets ``dual_gap_``, the duality gap of the refit's objective at
    #: ``coef_``, as the scikit-learn estimator it mirrors (``LassoCV``, ``ElasticNetCV``,
    #: the multi-task ones)
    _reports_dual_gap = False
    #: accuracy of the inner solves (relative duality gap: the gap over the null model's
    #: datafit, ``||y - mean(y)||^2 / (2 n)`` for least squares) at the start and the end
    #: of the search, and for the final refit. A gap ``g`` bounds the predictions' error
    #: (in the datafit's metric) by ``sqrt(2 g)`` times the null model's: ``1e-12`` gives
    #: predictions to about 1e-6 (scikit-learn's default ``tol=1e-4`` on ``||y||^2`` is
    #: ``g = 2e-4``)
    _inner_tol = (1e-6, 1e-10)
    _refit_tol = 1e-12
    #: default bounds and starting scan, relative to the data (:mod:`skhypergrad._search_space`)
    _search_defaults = LEAST_SQUARES

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    # -- the shared fit ------------------------------------------------------------------
    @atomic_fit
    def _fit(self, X, y, groups=None, sample_weight=None):
        set_up_numba()
        X, y, dtype = check_X_y(X, y, estimator=self, classifier=self._is_classifier,
                                multi_output=self._multi_output, return_dtype=True)
        if groups is not None:
            groups = column_or_1d(groups)
            check_consistent_length(X, groups)
        if not sp.issparse(X):  # once: coordinate descent and fold rows read columns
            X = np.asfortranarray(X)
        X = self._training_design(X)
        get_optimizer(self.optimizer)
        model = self._inner_model(y).bind(y)
        weights = self._sample_weights(X, y, model, sample_weight)
        sw = weights.fit
        model = self._prepare_model(model, X, y, sw)
        if self._is_classifier and sw is not None and \
                np.unique(y[sw > 0]).shape[0] < len(model.classes):
            raise ValueError("The sample weights leave some class with no positive weight; a "
                             "classifier needs every class of y weighted.")
        # the number of samples the estimator's C reads: the sum of the weights
        n_samples = X.shape[0] if sw is None else float(np.sum(sw))
        scales = search_scales(model.make_map(X, model.encode(y), sample_weight=sw), X, y)
        lo, hi = self._bounds(scales, n_samples)
        if np.any(lo <= 0) or np.any(hi < lo) or not np.all(np.isfinite(hi)):
            raise ValueError(
                f"The search range of the hyperparameters is not positive and finite (low="
                f"{lo}, high={hi}): the data's scale is out of float64's range for its "
                "squares and products (values of about 1e-150 or 1e150). Standardize X "
                "(e.g. StandardScaler) and scale y, or give the bounds explicitly.")
        lam0 = self._initial_lam(scales, n_samples)
        candidates = back = below = None
        if lam0 is None:  # the best point of a coarse scan, relative to the data
            candidates = [np.clip(self._scan_path(path), lo, hi)
                          for path in scales.scan(self._search_defaults)]
            lam0 = candidates[0][0]
            back = scales.scan_back(self._search_defaults)
            back = None if back is None else clipped_back(back, lam0, lo, hi)
            below = scales.scan_below(self._search_defaults)
            below = None if below is None else \
                [clipped_back(self._scan_path(tail), path[-1], lo, hi)
                 for tail, path in zip(below, candidates)]
        else:
            lam0 = self._leave_flat_start(np.clip(lam0, lo, hi), scales, lo, hi, n_samples)
        datafit = weighted(model.get_datafit(), sw)  # what "auto" solvers are chosen for
        engine, solver, inner_tol = inner_setup(self.hypergradient, self.solver,
                                                self._inner_tol, self.random_state, datafit,
                                                weighted=sw is not None)

        search = partial(tune, optimizer=self.optimizer, engine=engine, solver=solver,
                         max_iter=self.max_iter, tol=self.tol, inner_tol=inner_tol,
                         callback=self._history_callback(n_samples), verbose=self.verbose,
                         label=type(self).__name__,
                         names=lambda lam: self._hyper_names(lam, n_samples),
                         scan_patience=self._search_defaults.patience(
                             sw is not None or weights.score is not None),
                         scan_back=back, scan_below=below)
        with one_convergence_warning(type(self).__name__), search_blas_limits(X):
            result = self._search(search, model, X, y, groups, lam0, (lo, hi), candidates,
                                  weights)
            lam = np.clip(result.lam, lo, hi)  # exp(log(bound)) may round past a bound
            # refit on all the data at the chosen hyperparameters
            gram = None if result.criterion is None else result.criterion.whole_gram(X, y)
            starts = None if result.state is None else [st.w for st in result.state]
            full_map, w = self._refit(model, X, y, lam, sw, gram, starts)
        warn_unfinished_search(type(self).__name__, result, self.max_iter, self.tol)
        self._set_solution(full_map, model, w, dtype)
        if self._reports_dual_gap:  # the objective's units, as sklearn's (not relative)
            self.dual_gap_ = np.float64(duality_gap(full_map, w, lam)[2])
        self._set_hyperparameters(lam, n_samples)
        self.lam_bounds_ = (lo, hi)
        self.at_bound_ = _at_bound(lam, lo, hi)
        self.n_iter_ = result.n_iter
        self.n_evals_ = result.n_evals
        self.best_loss_ = float(result.value)
        self.best_score_ = -self.best_loss_
        self.history_ = [self._history_entry(h, n_samples) for h in result.history]
        return self

    def _sample_weights(self, X, y, model, sample_weight):
        """The :class:`SampleWeights` of a fit: ``sample_weight`` validated (None when
        not given), for the datafit and the held-out losses alike; a classifier with a
        ``class_weight`` overrides this to weigh its datafit by class."""
        sw = None if sample_weight is None else check_fit_sample_weight(sample_weight, X)
        return SampleWeights(sw, sw)

    def _search(self, search, model, X, y, groups, lam0, bounds, candidates,
                weights=None):
        """The :class:`~skhypergrad._tune.TuneResult` of the search: ``search``
        (:func:`~skhypergrad._tune.tune` with the estimator's settings) of the criterion
        of ``cv`` (``groups`` as its splitter takes them, ``weights`` a
        :class:`SampleWeights`), from ``lam0`` or the best of the scan's
        ``candidates``."""
        criterion, X_train, y_train = self._criterion(X, y, groups, weights)
        return search(model, X_train, y_train, criterion, lam0, bounds=bounds,
                      candidates=candidates)

    def _training_design(self, X):
        """The matrix the model is trained on, from the validated ``X`` (``X`` itself; a
        model with a synthetic feature appends it here)."""
        return X

    def _prepare_model(self, model, X, y, sample_weight=None):
        """The inner model with what it reads from the validated data (e.g. a datafit's
        scale), its rows weighted by the datafit's weights ``sample_weight``; the model
        itself here."""
        return model

    def _scan_path(self, path):
        """The points of ``lam`` of a path of the starting scan (when ``_initial_lam``
        gives None) from its penalty's weights ``path``
        (:meth:`~skhypergrad._search_space.SearchScales.scan`): ``path`` itself here; a
        model with hyperparameters of its datafit appends their starting values."""
        return path

    def _refit(self, model, X, y, lam, sample_weight=None, gram=None, starts=None):
        """``(pgmap, w)``: the model refit on all the data at ``lam`` by
        :func:`refit_solver` at ``_refit_tol`` (for a small least-squares model, by
        the compiled coordinate descent of :func:`~skhypergrad._gram_cv.gram_fit` to the
        same relative gap, from the mean coefficients of the search's last solutions
        ``starts``), else from the intercept-only model (exact, all
        zeros, when ``lam >= lam_max``); a dense ``X`` centred in a copy (the
        criterion's folds read ``X``; not for the compiled solve, which reads its Gram
        matrix); its datafit weighted by ``sample_weight`` (the
        datafit's weights of the fit, or None); ``gram``: the compiled solve's data of
        all the rows when the search's criterion kept it
        (:meth:`~skhypergrad.criteria.BaseCriterion.whole_gram`), else None."""
        y_enc = model.encode(y)
        # the map on X as it is (no copy) tells the solver; the compiled solve's w is in
        # X's own frame, the map's
        plain = model.make_map(X, y_enc, sample_weight=sample_weight)
        solver = refit_solver(self.solver, self._refit_tol, self.random_state, plain)
        if gram_path_applies(model, X, solver, None, 1, "squared", sample_weight is not None):
            # small least squares: the compiled solve of the searches, to the same tol
            return plain, gram_fit(model, X, y_enc, lam, solver, gram, starts, sample_weight)
        full_map = model.make_map(X, y_enc, center=True, sample_weight=sample_weight)
        return full_map, solver.solve(full_map, lam, null_model(full_map)).w

    def _leave_flat_start(self, lam0, scales, lo, hi, n_samples):
        """``lam0``, or a tenth of ``lam1_max`` in its L1 weight when every coefficient is
        zero there (the criterion is flat: its gradient is exactly 0), with a warning."""
        l1 = scales.penalty.weights(lam0, scales.n_features)[0]
        if np.min(l1) < scales.l1:
            return lam0
        moved = np.clip(lam0 * (0.1 * scales.l1 / np.max(l1)), lo, hi)
        names = format_point(self._hyper_names(lam0, n_samples))
        if np.array_equal(moved, lam0):
            warnings.warn(f"{type(self).__name__}: the starting point ({names}) zeroes every "
                          "coefficient, where the cross-validation loss is flat, and the "
                          "bounds keep the search there; lower them.", UserWarning,
                          stacklevel=4)
        else:
            warnings.warn(
                f"{type(self).__name__}: the starting point ({names}) zeroes every "
                "coefficient, where the cross-validation loss is flat; the search starts "
                f"from {format_point(self._hyper_names(moved, n_samples))} instead.", UserWarning,
                stacklevel=4)
        return moved

    def _criterion(self, X, y, groups=None, weights=None):
        """``(criterion, X_train, y_train)`` from ``cv``: a held-out fraction or folds.

        The folds are split once, with ``groups`` (for group splitters), and the same
        ones serve every evaluation: a generator or an iterable of splits is read once,
        and a shuffling splitter without a seed does not change its folds during the
        search. ``weights`` (a :class:`SampleWeights` of the rows of ``X``, or None)
        are split with the rows.
        """
        cv = self.cv
        fit_w, score_w = (None, None) if weights is None else weights
        check_cv_size(cv, X.shape[0])
        if isinstance(cv, numbers.Real) and not isinstance(cv, numbers.Integral):
            stratify = y if self._is_classifier else None
            tr, val = train_test_split(np.arange(X.shape[0]), test_size=cv,
                                       random_state=self.random_state, stratify=stratify)
            check_fold_weights([(tr, val)], fit_w, score_w)
            return HeldOut(X[val], y[val], sample_weight=_rows_of(fit_w, tr),
                           sample_weight_val=_rows_of(score_w, val)), X[tr], y[tr]
        splits = cv_splits(cv, X, y, groups, classifier=self._is_classifier)
        check_fold_weights(splits, fit_w, score_w)
        return CrossVal(cv=splits, n_jobs=self.n_jobs, sample_weight=fit_w,
                        score_sample_weight=score_w), X, y

    def _set_solution(self, pgmap, model, w, dtype):
        """``coef_`` and ``intercept_`` from the refit's ``w``: float64, or float32 for a
        model trained on float32 data (``dtype``) whose scikit-learn counterpart keeps
        it (:attr:`_coef_follows_dtype`: ``LassoCV``, ``RidgeCV``, the GLMs,
        ``RidgeClassifierCV``, ...); without an intercept, a single output's
        ``intercept_`` stays ``0.0``, as scikit-learn sets it."""
        design = pgmap.design
        coef = design.coef(w)
        # one output: a view of the refit's w (its own array, not used after), so that the
        # fit does not hold two p-vectors with the solver's copy of X at its end
        self.coef_ = coef.T.copy() if coef.ndim == 2 else coef
        b = design.original_intercept(w)
        self.intercept_ = np.array(b, dtype=np.float64) if np.ndim(b) else float(b)
        if self._coef_follows_dtype and dtype == np.float32:
            self.coef_ = self.coef_.astype(np.float32)
            if np.ndim(b):
                self.intercept_ = self.intercept_.astype(np.float32)
            elif design.fit_intercept:
                self.intercept_ = np.float32(self.intercept_)
        if self._is_classifier:
            self.classes_ = np.asarray(model.classes)
            if coef.ndim == 1:
                self.coef_ = self.coef_[None, :]
                self.intercept_ = np.atleast_1d(self.intercept_)

    def _history_callback(self, n_samples):
        """``callback`` called with the ``history_`` entry (sklearn's names included)."""
        if self.callback is None:
            return None
        return lambda h: self.callback(self._history_entry(h, n_samples))

    def _history_entry(self, h, n_samples):
        entry = dict(h)
        entry.update(self._hyper_names(h["lam"], n_samples))
        return entry

    def _set_hyperparameters(self, lam, n_samples):
        self.lam_ = np.asarray(lam)
        for name, value in self._hyper_names(lam, n_samples).items():
            setattr(self, name + "_", value)

    # -- prediction ----------------------------------------------------------------------
    def _decision(self, X):
        check_is_fitted(self, "coef_")
        X = check_sparse_structure(X, "X")
        X = validate_data(self, X, accept_sparse=("csr", "csc"), reset=False,
                          dtype=[np.float64, np.float32])
        coef = self.coef_
        out = X @ (coef.T if coef.ndim == 2 else coef)
        return np.asarray(out) + self.intercept_


def _renamed_method(func, owner):
    """A copy of the function ``func`` whose qualified name (the one Python's call errors
    print) is ``owner.<name>``; its code, defaults and attributes are ``func``'s. A
    decorated ``func`` (``functools.wraps``: ``__wrapped__``, held in its closure) is
    copied with a renamed copy of the function it wraps, where the call errors arise."""
    qualname = f"{owner}.{func.__name__}"
    closure = func.__closure__
    wrapped = func.__dict__.get("__wrapped__")
    if wrapped is not None and closure:
        inner = _renamed_method(wrapped, owner)
        closure = tuple(types.CellType(inner) if cell.cell_contents is wrapped else cell
                        for cell in closure)
    code = func.__code__
    if hasattr(code, "co_qualname"):  # Python >= 3.11 prints the code's own name
        code = code.replace(co_qualname=qualname)
    out = types.FunctionType(code, func.__globals__, func.__name__, func.__defaults__,
                             closure)
    out.__kwdefaults__ = func.__kwdefaults__
    out.__dict__.update(func.__dict__)
    if wrapped is not None and closure:
        out.__wrapped__ = inner
    out.__doc__, out.__module__, out.__qualname__ = func.__doc__, func.__module__, qualname
    return out


class ClassWeightMixin:
    """``class_weight`` of a classifier (a dict of labels to weights, "balanced" or
    None): the weights of its datafit are ``sample_weight`` times those of the
    classes (:func:`class_sample_weights`), its held-out losses are weighted by
    ``sample_weight`` alone."""

    def _sample_weights(self, X, y, model, sample_weight):
        sw = None if sample_weight is None else check_fit_sample_weight(sample_weight, X)
        return SampleWeights(class_sample_weights(self.class_weight, y, sw), sw)


class SampleWeights(NamedTuple):
    """The per-sample weights of a fit: ``fit`` those of the datafit (the user's
    ``sample_weight`` times the class weights), ``score`` those of the held-out losses
    (the user's ``sample_weight``, as ``ElasticNetCV`` weighs its ``mse_path_``); None
    for unit weights."""

    fit: Any
    score: Any


def check_fit_sample_weight(sample_weight, X):
    """``sample_weight`` of a fit as float64 (scikit-learn's ``_check_sample_weight``:
    a number for every row, or one weight per row), nonnegative with a positive sum
    (ValueError otherwise)."""
    sw = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
    if not np.sum(sw) > 0:
        raise ValueError("sample_weight must have a positive sum.")
    return sw


def class_sample_weights(class_weight, y, sample_weight):
    r"""The weights of a classifier's datafit: ``sample_weight`` (None: all 1) times
    the weight of each sample's class, as scikit-learn's ``LogisticRegressionCV``
    computes them: a dict (labels to weights, 1 for a label not in it; ValueError
    for a key that is not a class of ``y``) or ``"balanced"``,
    :math:`\sum_i w_i / (K \sum_{i: y_i = k} w_i)` for class ``k`` (scikit-learn's
    ``compute_class_weight`` on all of ``y``, once, before any split); None when
    ``class_weight`` is None."""
    if class_weight is None:
        return sample_weight
    classes = np.unique(y)
    if isinstance(class_weight, dict) and not set(class_weight) <= set(classes):
        raise ValueError(f"The class_weight dict must have class labels as keys; classes "
                         f"are {classes}, got the keys {sorted(class_weight)}.")
    per_class = compute_class_weight(class_weight, classes=classes, y=y,
                                     sample_weight=sample_weight)
    cw = per_class[np.searchsorted(classes, y)]
    return cw if sample_weight is None else sample_weight * cw


def _rows_of(values, rows):
    """``values[rows]``, None for None."""
    return None if values is None else values[rows]


def _at_bound(lam, lo, hi):
    """-1 where ``lam`` is on its lower bound, +1 on its upper bound, 0 inside (to 1e-9
    in log-space)."""
    theta, tlo, thi = np.log(lam), np.log(lo), np.log(hi)
    return np.where(theta <= tlo + 1e-9, -1, np.where(theta >= thi - 1e-9, 1, 0)).astype(np.int8)
