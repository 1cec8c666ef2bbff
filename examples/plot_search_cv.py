"""
===========================================================
HyperGradSearchCV: a drop-in for GridSearchCV on a pipeline
===========================================================

:class:`~skhypergrad.HyperGradSearchCV` takes the scikit-learn estimator (or
pipeline) you would give ``GridSearchCV`` (and, if you like, the grid too: see
the last section), starts from a coarse scan in units of the data and
follows the gradient of the cross-validation loss (here the mean squared error,
``scoring="neg_mean_squared_error"``, to compare with the grid's; any scorer
works). It records every evaluated
point in ``cv_results_`` with ``GridSearchCV``'s keys and refits a plain
scikit-learn model.
"""

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.linear_model import ElasticNet
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import PolynomialFeatures, StandardScaler

from skhypergrad import HyperGradSearchCV
from skhypergrad.plotting import plot_criterion

X, y = load_diabetes(return_X_y=True)
pipe = make_pipeline(PolynomialFeatures(2, include_bias=False), StandardScaler(),
                     ElasticNet(alpha=1.0, l1_ratio=0.5))
cv = KFold(5, shuffle=True, random_state=0)

t0 = time.perf_counter()
search = HyperGradSearchCV(pipe, cv=cv, scoring="neg_mean_squared_error").fit(X, y)
t_search = time.perf_counter() - t0

grid = {"elasticnet__alpha": np.logspace(-1, 1, 8), "elasticnet__l1_ratio": [0.1, 0.5, 0.9, 1]}
t0 = time.perf_counter()
gs = GridSearchCV(pipe, grid, cv=cv, scoring="neg_mean_squared_error").fit(X, y)
t_grid = time.perf_counter() - t0

n_rows = len(search.cv_results_["params"])
print(f"HyperGradSearchCV: {search.best_params_}  CV MSE {-search.best_score_:.1f}  "
      f"{n_rows} rows of cv_results_, {t_search:.2f}s")
print(f"GridSearchCV:      {gs.best_params_}  CV MSE {-gs.best_score_:.1f}  "
      f"32 rows, {t_grid:.2f}s")
print("best_estimator_ is a", type(search.best_estimator_).__name__, "of",
      [type(s).__name__ for s in search.best_estimator_])

# %%
# Both searches in the same coordinates
# -------------------------------------
# ``cv_results_`` has the same keys in both objects, so the same code reads
# them: every evaluated point, coloured by its CV mean squared error.
#
# The starting scan runs warm-started paths over the L1 weight for a few L2
# weights, the lowest of them next to the Lasso end, where the best points of
# this problem lie; the descent then moves in the logarithms of the L1 and L2
# weights ``alpha * l1_ratio`` and ``alpha * (1 - l1_ratio)``.
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
for res, marker, label in [(gs.cv_results_, "s", "GridSearchCV"),
                           (search.cv_results_, "o-", "HyperGradSearchCV")]:
    alpha = np.asarray(res["param_elasticnet__alpha"], dtype=float)
    rho = np.asarray(res["param_elasticnet__l1_ratio"], dtype=float)
    mse = -np.asarray(res["mean_test_score"])
    if marker == "o-":
        axes[0].plot(alpha, rho, "-", color="tab:red", lw=1, zorder=1)
    sc = axes[0].scatter(alpha, rho, c=mse, marker=marker[0], cmap="viridis",
                         vmin=-gs.best_score_, vmax=1.3 * -gs.best_score_, zorder=2,
                         edgecolors="black" if marker == "o-" else "none", label=label)
fig.colorbar(sc, ax=axes[0], label="CV mean squared error")
axes[0].set_xscale("log")
axes[0].set_xlabel("elasticnet__alpha")
axes[0].set_ylabel("elasticnet__l1_ratio")
axes[0].legend(fontsize="small")
plot_criterion(search, ax=axes[1], label="HyperGradSearchCV")
axes[1].set_ylim(top=1.3 * -gs.best_score_)
fig.tight_layout()
plt.show()

# %%
# The GridSearchCV call, grid included
# ------------------------------------
# The grid can stay: each searched parameter's values give its range (here
# ``alpha`` in [0.1, 10] and ``l1_ratio`` in [0.1, 1]: the search moves in the
# box of the L1 and L2 weights they span), a parameter with one value is fixed,
# and the others (here the polynomial degree) are enumerated, one search each,
# as ``GridSearchCV`` enumerates them. The rows of every search form one
# ``cv_results_``, ranked together.
grid["polynomialfeatures__degree"] = [1, 2]
t0 = time.perf_counter()
boxed = HyperGradSearchCV(pipe, grid, cv=cv, scoring="neg_mean_squared_error").fit(X, y)
t_boxed = time.perf_counter() - t0
degree = np.asarray(boxed.cv_results_["param_polynomialfeatures__degree"])
print(f"HyperGradSearchCV(pipe, grid): {boxed.best_params_}  CV MSE "
      f"{-boxed.best_score_:.1f}  rows per degree {np.bincount(degree.astype(int))[1:]}, "
      f"{t_boxed:.2f}s")
