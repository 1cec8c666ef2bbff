"""
===================================================================
Beyond the Lasso: GLM, Huber, LinearSVC and multi-task searches
===================================================================

:class:`~skhypergrad.HyperGradSearchCV` takes the other linear models people tune
with ``GridSearchCV``: the GLMs (``PoissonRegressor``, ``GammaRegressor``,
``TweedieRegressor``), ``HuberRegressor``, ``LinearSVC`` and the multi-task Lasso and
elastic net. For each model below, on data bundled with scikit-learn, the
``GridSearchCV`` call a user would write runs first; the same call with
``HyperGradSearchCV`` in its place follows. Both use the same folds and scorer, and
the grid's values give the search its box.

The search descends the cross-validation loss of the scorer when it is smooth in the
predictions: the Poisson deviance, the squared error. It descends the model's own loss
when the scorer is piecewise constant, here the accuracy of ``LinearSVC`` and the
absolute error of a Huber fit to targets with outliers, and then refines the best point
by the scorer itself (see :ref:`scorers`). Every evaluated point is one row of
``cv_results_``, as a grid point is.
"""

# %%
# The four searches
# -----------------
import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_breast_cancer, load_diabetes, load_linnerud
from sklearn.linear_model import HuberRegressor, MultiTaskLasso, PoissonRegressor
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from skhypergrad import HyperGradSearchCV

X_d, y_d = load_diabetes(return_X_y=True)
# the same targets with 5% of them replaced by gross errors, for the Huber loss
rng = np.random.default_rng(0)
y_out = y_d.copy()
bad = rng.choice(y_d.shape[0], y_d.shape[0] // 20, replace=False)
y_out[bad] += rng.choice([-1, 1], bad.shape[0]) * 1000.0
X_bc, y_bc = load_breast_cancer(return_X_y=True)
X_l, Y_l = load_linnerud(return_X_y=True)
folds = KFold(5, shuffle=True, random_state=0)

cases = {
    # model: (estimator, its parameter, grid values, X, y, scoring, cv)
    "PoissonRegressor": (make_pipeline(StandardScaler(), PoissonRegressor()),
                         "poissonregressor__alpha", np.logspace(-4, 1, 20), X_d, y_d,
                         "neg_mean_poisson_deviance", folds),
    "HuberRegressor": (make_pipeline(StandardScaler(), HuberRegressor()),
                       "huberregressor__alpha", np.logspace(-4, 2, 20), X_d, y_out,
                       "neg_mean_absolute_error", folds),
    "LinearSVC": (make_pipeline(StandardScaler(), LinearSVC()), "linearsvc__C",
                  np.logspace(-4, 2, 20), X_bc, y_bc, "accuracy",
                  StratifiedKFold(5, shuffle=True, random_state=0)),
    "MultiTaskLasso": (make_pipeline(StandardScaler(), MultiTaskLasso()),
                       "multitasklasso__alpha", np.logspace(-2, 1, 20), X_l, Y_l,
                       "neg_mean_squared_error", KFold(5, shuffle=True, random_state=0)),
}

runs = {}
for name, (estimator, param, values, X, y, scoring, cv) in cases.items():
    t0 = time.perf_counter()
    grid = GridSearchCV(estimator, {param: values}, cv=cv, scoring=scoring).fit(X, y)
    t_grid = time.perf_counter() - t0
    t0 = time.perf_counter()
    search = HyperGradSearchCV(estimator, {param: values}, cv=cv, scoring=scoring).fit(X, y)
    t_search = time.perf_counter() - t0
    runs[name] = (param, grid, search)
    print(f"{name:17s} grid: {t_grid:5.2f} s, {len(grid.cv_results_['params'])} points, "
          f"best {grid.best_score_:.4f} at {grid.best_params_[param]:.3g} | "
          f"HyperGradSearchCV: {t_search:5.2f} s, {len(search.cv_results_['params'])} "
          f"points, best {search.best_score_:.4f} at {search.best_params_[param]:.3g}")

# %%
# Each search's best estimator is the user's own pipeline, refit at its best point:
name, (param, grid, search) = "PoissonRegressor", runs["PoissonRegressor"]
print(search.best_estimator_)
print("predictions of the refit:", np.round(search.predict(X_d[:3]), 1))

# %%
# The grid's curve and the searches' points
# -----------------------------------------
# Each panel draws the grid's cross-validation score over its parameter (line) and the
# points the search evaluated (dots: its scan, then its descent and, for the
# accuracy and the absolute error, its refinement), its best point starred.
fig, axes = plt.subplots(2, 2, figsize=(10, 7.5))
for ax, (name, (param, grid, search)) in zip(axes.ravel(), runs.items()):
    values = np.asarray(grid.cv_results_[f"param_{param}"], dtype=float)
    ax.semilogx(values, grid.cv_results_["mean_test_score"], "-o", color="0.6", ms=4,
                label="GridSearchCV (20 values)")
    points = np.asarray(search.cv_results_[f"param_{param}"], dtype=float)
    ax.semilogx(points, search.cv_results_["mean_test_score"], "o", color="C3", ms=5,
                label=f"HyperGradSearchCV ({points.shape[0]} points)")
    ax.semilogx(search.best_params_[param], search.best_score_, "*", color="C3", ms=16)
    ax.set(title=name, xlabel=param.split("__")[1], ylabel=f"CV {search.scoring}")
    ax.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %%
# What to read
# ------------
# - The search's best score matches or beats the grid's: its points are not tied to
#   the grid's values, and its scores are those of solves at a tight tolerance (a
#   grid point's carry its solver's own, e.g. ``lbfgs``'s ``tol=1e-4`` for the GLMs).
# - On data this small both take under a second; the searches pay off as the
#   data grow (``benchmarks/bench_models.py`` times them on 5,000 x 200 tables).
# - The same works with the models' own estimators, e.g.
#   :class:`~skhypergrad.PoissonRegressorHyperGrad` or
#   :class:`~skhypergrad.LinearSVCHyperGrad`, which tune their regularization in
#   ``fit``.
