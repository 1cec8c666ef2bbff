r"""Figures of a hyperparameter search (matplotlib, an optional dependency).

Three pictures, each drawn on a matplotlib ``Axes`` (a new one when ``ax`` is
None) and returning it:

* :func:`plot_trajectory`: the descent drawn on the cross-validation loss
  landscape of a two-hyperparameter model (contours of the criterion over a
  coarse log-spaced grid of ``(alpha, l1_ratio)``, or ``(C, l1_ratio)``,
  computed with the estimator's own folds and solver; the path of
  ``history_`` on top);
* :func:`plot_criterion`: the criterion against the evaluation number or
  against seconds, with the best value so far;
* :func:`plot_coef_path`: the coefficients along the search (one refit per
  evaluated point) or along a grid of regularization strengths around the
  chosen one.

matplotlib is imported inside the functions, so ``import skhypergrad.plotting``
works without it; install it with ``pip install "skhypergrad[plot]"``.
"""

import numpy as np

from ._validation import check_sparse_structure

__all__ = ["plot_trajectory", "plot_criterion", "plot_coef_path"]

_MISSING = ("skhypergrad.plotting needs matplotlib: pip install \"skhypergrad[plot]\" "
            "(or pip install matplotlib).")


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - exercised with matplotlib hidden
        raise ImportError(_MISSING) from exc
    return plt


def _axes(ax):
    if ax is None:
        return _pyplot().subplots()[1]
    _pyplot()
    return ax


def _history(estimator):
    """``history_`` of a fitted estimator, or the list itself."""
    if isinstance(estimator, (list, tuple)):
        return list(estimator)
    history = getattr(estimator, "history_", None)
    if history is None:
        raise ValueError(f"{type(estimator).__name__} has no history_: fit a skhypergrad "
                         "estimator first (LassoHyperGrad, ElasticNetHyperGrad, ...).")
    return history


def _problem(estimator, X, y):
    """Validated data, the bound inner model, its criterion and the training rows.

    The same construction as the estimator's ``fit``: same inner model, same
    folds (or held-out split), so the landscape is the function that was descended.
    """
    from sklearn.utils import check_X_y

    history = _history(estimator)
    if not hasattr(estimator, "_inner_model"):
        raise ValueError(f"expected a skhypergrad estimator, got {type(estimator).__name__}.")
    X = check_sparse_structure(X, "X")
    X, y = check_X_y(X, y, accept_sparse=("csr", "csc"), dtype=np.float64,
                     y_numeric=not estimator._is_classifier)
    if X.shape[1] != estimator.n_features_in_:
        raise ValueError(f"X has {X.shape[1]} features, the estimator was fitted on "
                         f"{estimator.n_features_in_}.")
    model = estimator._inner_model(y).bind(y)
    criterion, X_fit, y_fit = estimator._criterion(X, y)
    return X, y, model, criterion, X_fit, y_fit, history


def _solver(estimator, model, tol):
    from ._base import default_solver
    return default_solver(estimator.solver, tol=tol,
                          random_state=estimator.random_state, datafit=model.get_datafit())


def _strength_name(estimator):
    """The name of the regularization strength in scikit-learn's vocabulary."""
    return "C" if estimator._is_classifier else "alpha"


def plot_trajectory(estimator, X, y, *, space="sklearn", ax=None, n_grid=(12, 8),
                    xs=None, ys=None, levels=15, tol=1e-6, cmap="viridis"):
    r"""Draw the descent on the cross-validation loss landscape of two hyperparameters.

    The criterion :math:`E` minimized by ``estimator`` (same folds, same inner
    model, same solver) is evaluated on a coarse log-spaced grid, each row
    warm-started along the path. Filled contours show :math:`E`; the points
    of ``estimator.history_`` are drawn on top: the starting scan as hollow
    circles, the gradient steps as a connected path, the chosen point as a
    star.

    Parameters
    ----------
    estimator : ElasticNetHyperGrad or LogisticRegressionHyperGrad
        Fitted, with two hyperparameters (``penalty="elasticnet"`` for the
        classifier).
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        The data ``estimator`` was fitted on.
    y : array-like of shape (n_samples,)
        Its targets.
    space : {"sklearn", "lam"}, default="sklearn"
        Coordinates: ``"sklearn"`` draws the regularization strength
        (``alpha``, or ``C`` for the classifier) against ``l1_ratio``;
        ``"lam"`` draws the L1 weight :math:`\lambda_1` against the L2
        weight :math:`\lambda_2` (for the elastic net
        :math:`\lambda_1 = \alpha\rho`, :math:`\lambda_2 = \alpha(1-\rho)`),
        the coordinates in whose logarithms the descent runs, so that gradient
        steps are straight and the Lasso end (:math:`\lambda_2 \to 0`) is not
        squeezed against an edge. Both axes are logarithmic.
    ax : matplotlib Axes, default=None
        Where to draw; a new figure when None.
    n_grid : (int, int), default=(12, 8)
        Grid size along the horizontal and vertical axes, used when ``xs`` /
        ``ys`` are None. Each grid point solves every fold once.
    xs : array-like, default=None
        Horizontal grid values (``alpha``, ``C`` or :math:`\lambda_1`); by
        default log-spaced over the range of the history widened by a factor 3
        on both sides.
    ys : array-like, default=None
        Vertical grid values: ``l1_ratio`` in (0, 1] (default log-spaced from
        0.01 to 1) or :math:`\lambda_2` (default: the history's range widened
        by 3).
    levels : int, default=15
        Number of contour levels, placed at quantiles of the grid's values.
    tol : float, default=1e-6
        Relative duality gap of the inner solves of the grid.
    cmap : str, default="viridis"
        Colormap of the contours.

    Returns
    -------
    ax : matplotlib Axes
    """
    from .penalties import enet_lam_from_sklearn, logistic_lam_from_sklearn

    if space not in ("sklearn", "lam"):
        raise ValueError(f"space must be 'sklearn' or 'lam', got {space!r}.")
    X, y, model, criterion, X_fit, y_fit, history = _problem(estimator, X, y)
    if estimator.lam_.shape[0] != 2:
        raise ValueError(f"plot_trajectory needs two hyperparameters (ElasticNetHyperGrad, or "
                         f"LogisticRegressionHyperGrad(penalty='elasticnet')); "
                         f"{type(estimator).__name__} has {estimator.lam_.shape[0]}.")
    ax = _axes(ax)
    name = _strength_name(estimator)
    n = X.shape[0]
    path_lam = np.array([h["lam"] for h in history], dtype=np.float64)

    if space == "sklearn":
        def to_lam(a, b):
            if name == "C":
                return logistic_lam_from_sklearn(a, b, n)
            return enet_lam_from_sklearn(a, b)

        path_x = np.array([h[name] for h in history])
        path_y = np.array([h["l1_ratio"] for h in history])
        best = (getattr(estimator, name + "_"), estimator.l1_ratio_)
        xlabel, ylabel = name, "l1_ratio"
        xs = np.geomspace(path_x.min() / 3, path_x.max() * 3, n_grid[0]) if xs is None else xs
        ys = np.geomspace(0.01, 1.0, n_grid[1]) if ys is None else ys
    else:
        def to_lam(a, b):
            return np.array([a, b])

        path_x, path_y = path_lam[:, 0], path_lam[:, 1]
        best = tuple(estimator.lam_)
        xlabel, ylabel = "L1 weight $\\lambda_1$", "L2 weight $\\lambda_2$"
        xs = np.geomspace(path_x.min() / 3, path_x.max() * 3, n_grid[0]) if xs is None else xs
        ys = np.geomspace(path_y.min() / 3, path_y.max() * 3, n_grid[1]) if ys is None else ys
    xs = np.sort(np.asarray(xs, dtype=np.float64))
    ys = np.sort(np.asarray(ys, dtype=np.float64))
    if np.any(xs <= 0) or np.any(ys <= 0) or (space == "sklearn" and np.any(ys > 1)):
        raise ValueError("grid values must be > 0 (and l1_ratio <= 1).")

    solver = _solver(estimator, model, tol)
    # strong to weak regularization along each row: the warm starts stay close
    order = np.argsort(xs) if name == "C" and space == "sklearn" else np.argsort(xs)[::-1]
    values = np.empty((ys.shape[0], xs.shape[0]))
    for i, b in enumerate(ys):
        state = None
        for j in order:
            lam = to_lam(xs[j], b)
            # l1_ratio = 1: an L2 weight of 1e-6 of the L1 one, as the estimators' bounds
            lam = np.maximum(lam, 1e-6 * lam.max())
            res = criterion.value(model, X_fit, y_fit, lam, solver=solver, state=state)
            values[i, j], state = res.value, res.state

    from matplotlib.colors import LogNorm
    XX, YY = np.meshgrid(xs, ys)
    # levels at quantiles of the grid values: detail where the landscape is, typically a
    # wide flat basin next to steep walls, rather than evenly spaced values
    bounds = np.unique(np.quantile(values, np.linspace(0.0, 1.0, levels)))
    cs = ax.contourf(XX, YY, values, levels=bounds, cmap=cmap,
                     norm=LogNorm(vmin=values.min(), vmax=values.max()))
    ax.figure.colorbar(cs, ax=ax, label="criterion (CV loss)", format="%.4g")
    ax.set_xscale("log")
    ax.set_yscale("log")

    scan = np.array([h["grad"] is None for h in history])
    if scan.any():
        ax.plot(path_x[scan], path_y[scan], "o", mfc="none", mec="white", ms=6,
                label="starting scan", clip_on=False)
    if (~scan).any():
        ax.plot(path_x[~scan], path_y[~scan], "-o", color="tab:red", ms=4, lw=1.5,
                label="gradient steps", clip_on=False)
    ax.plot(*best, "*", color="gold", mec="black", ms=16, label="chosen", clip_on=False)
    ax.set_xlim(xs.min(), xs.max())
    ax.set_ylim(ys.min(), ys.max())
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(f"{type(estimator).__name__}: descent on the CV loss", fontsize="medium")
    ax.legend(loc="lower left", fontsize="small", framealpha=0.8)
    return ax


def _search_history(search):
    """History-like entries of a fitted :class:`~skhypergrad.HyperGradSearchCV`: the
    negated mean test score of the refit metric (the first with several metrics and
    no metric named by ``refit``)."""
    res = search.cv_results_
    key = "score"
    if search.multimetric_:
        key = search.refit if isinstance(search.refit, str) else next(iter(search.scorer_))
    seconds = np.cumsum(np.asarray(res["mean_fit_time"]) * search.n_splits_)
    return [{"value": -float(v), "seconds": float(s), "grad": 0.0}
            for v, s in zip(res[f"mean_test_{key}"], seconds)]


def plot_criterion(estimator, *, x="step", ax=None, label=None, best_so_far=True,
                   logy=False):
    """Plot the criterion against the evaluation number or the elapsed seconds.

    Every criterion evaluation of the search is one point: the cheap starting
    scan (no gradient) as hollow markers, the gradient steps as filled circles,
    and the best value so far as a line.
    Call it several times on the same ``ax`` to compare searches (engines,
    optimizers) against seconds.

    Parameters
    ----------
    estimator : fitted skhypergrad estimator, HyperGradSearchCV or list of dict
        Anything with a ``history_`` (or the list itself); for
        :class:`~skhypergrad.HyperGradSearchCV` the rows of ``cv_results_``
        (the negated mean test score of its refit metric, cumulative fit time; a
        positive loss with ``scoring="neg_mean_squared_error"`` and the like).
    x : {"step", "seconds"}, default="step"
        Horizontal axis: evaluation number, or seconds since the search started.
    ax : matplotlib Axes, default=None
        Where to draw; a new figure when None.
    label : str, default=None
        Legend label of the best-so-far line (the estimator's class name when None).
    best_so_far : bool, default=True
        Also draw the running minimum as a step line.
    logy : bool, default=False
        Logarithmic vertical axis.

    Returns
    -------
    ax : matplotlib Axes
    """
    if x not in ("step", "seconds"):
        raise ValueError(f"x must be 'step' or 'seconds', got {x!r}.")
    ax = _axes(ax)
    if hasattr(estimator, "cv_results_") and not hasattr(estimator, "history_"):
        history = _search_history(estimator)
    else:
        history = _history(estimator)
    if not history:
        raise ValueError("the history is empty.")
    values = np.array([h["value"] for h in history], dtype=np.float64)
    xs = (np.arange(1, len(history) + 1) if x == "step"
          else np.array([h["seconds"] for h in history], dtype=np.float64))
    scan = np.array([h["grad"] is None for h in history])
    label = type(estimator).__name__ if label is None else label
    if best_so_far:
        line, = ax.step(xs, np.minimum.accumulate(values), where="post", label=label)
        color = line.get_color()
    else:
        color = None
    if scan.any():
        ax.plot(xs[scan], values[scan], "o", mfc="none", color=color, ms=5)
    ax.plot(xs[~scan], values[~scan], "o", color=color, ms=4,
            label=None if best_so_far else label)
    ax.set_xlabel("criterion evaluation" if x == "step" else "seconds")
    if x == "step":
        from matplotlib.ticker import MaxNLocator
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("criterion (CV loss)")
    if logy:
        ax.set_yscale("log")
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    return ax


def plot_coef_path(estimator, X, y, *, along="strength", n_points=30, span=100.0, ax=None,
                   tol=1e-8):
    """Plot the coefficients along the search or along a grid of regularization strengths.

    The model is refit on all of ``(X, y)`` (warm-started from point to point)
    with the estimator's inner solver.

    Parameters
    ----------
    estimator : fitted skhypergrad estimator
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        The data ``estimator`` was fitted on.
    y : array-like of shape (n_samples,)
        Its targets.
    along : {"strength", "history"}, default="strength"
        ``"strength"``: every hyperparameter multiplied by the same factor,
        log-spaced over ``span`` around the chosen ones; the horizontal axis is
        ``alpha`` (``C`` for the classifier; for :class:`~skhypergrad.WeightedLassoHyperGrad`
        the factor applied to ``alphas_``) and a vertical line marks the
        choice. ``"history"``: one refit per evaluated point of ``history_``,
        against the evaluation number.
    n_points : int, default=30
        Grid size (``along="strength"``).
    span : float, default=100.0
        The grid goes from ``1 / span`` to ``span`` times the chosen strength.
    ax : matplotlib Axes, default=None
        Where to draw; a new figure when None.
    tol : float, default=1e-8
        Relative duality gap of the refits.

    Returns
    -------
    ax : matplotlib Axes
    """
    if along not in ("strength", "history"):
        raise ValueError(f"along must be 'strength' or 'history', got {along!r}.")
    ax = _axes(ax)
    X, y, model, _, _, _, history = _problem(estimator, X, y)
    pgmap = model.make_map(X, model.encode(y))
    solver = _solver(estimator, model, tol)
    lam_best = np.asarray(estimator.lam_, dtype=np.float64)
    if along == "strength":
        factors = np.geomspace(span, 1.0 / span, n_points)   # strong to weak
        lams = [lam_best * f for f in factors]
    else:
        lams = [np.asarray(h["lam"], dtype=np.float64) for h in history]
    coefs, w = [], None
    for lam in lams:
        w = solver.solve(pgmap, lam, w).w
        coefs.append(np.ravel(pgmap.design.coef(w)))
    coefs = np.array(coefs)

    name = _strength_name(estimator)
    if along == "strength":
        weighted = np.ndim(getattr(estimator, "alphas_", None)) == 1
        if weighted:
            xs, chosen, xlabel = factors, 1.0, "factor applied to alphas_"
        elif name == "C":
            xs, chosen, xlabel = estimator.C_ / factors, estimator.C_, "C"
        else:
            xs, chosen, xlabel = estimator.alpha_ * factors, estimator.alpha_, "alpha"
        ax.plot(xs, coefs, lw=1)
        ax.axvline(chosen, color="black", ls="--", lw=1, label="chosen")
        ax.set_xscale("log")
        ax.set_xlabel(xlabel)
        ax.legend(fontsize="small")
    else:
        ax.plot(np.arange(1, len(lams) + 1), coefs, lw=1, marker=".", ms=3)
        ax.set_xlabel("criterion evaluation")
        from matplotlib.ticker import MaxNLocator
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.axhline(0.0, color="grey", lw=0.5)
    ax.set_ylabel("coefficients")
    ax.set_title(f"{type(estimator).__name__}: coefficient paths", fontsize="medium")
    return ax
