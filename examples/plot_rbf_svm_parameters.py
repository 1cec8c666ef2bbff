"""
====================================================
RBF SVM parameters: the grid, and the gradient path
====================================================

scikit-learn's "RBF SVM parameters" example maps the cross-validated accuracy of an
RBF :class:`~sklearn.svm.SVC` over a grid of ``C`` and ``gamma``: small ``gamma``
gives smooth decision functions, large ``gamma`` lets each support vector act alone,
and ``C`` trades the margin against training errors. Good models lie on a diagonal
band of the map.

:class:`~skhypergrad.HyperGradSearchCV` searches the same two parameters without a
grid: a coarse scan, then a descent along the gradient of a smooth held-out loss (the
logistic loss of the scaled decision function, see :mod:`skhypergrad.svc`), the
gradient from implicit differentiation of the SVM's dual solution. The points it
evaluates are drawn on the heat map; the accuracy ranks them, and the user's ``SVC``
is refit at the best.
"""

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_iris
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from skhypergrad import HyperGradSearchCV

X, y = load_iris(return_X_y=True)
X = StandardScaler().fit_transform(X)
cv = StratifiedKFold(3, shuffle=True, random_state=0)

t0 = time.perf_counter()
search = HyperGradSearchCV(SVC(kernel="rbf"), cv=cv).fit(X, y)
t_search = time.perf_counter() - t0

C_range = np.logspace(-2, 4, 13)
gamma_range = np.logspace(-4, 2, 13)
t0 = time.perf_counter()
grid = GridSearchCV(SVC(), {"C": C_range, "gamma": gamma_range}, cv=cv).fit(X, y)
t_grid = time.perf_counter() - t0
scores = grid.cv_results_["mean_test_score"].reshape(len(C_range), len(gamma_range))

print(f"HyperGradSearchCV: {len(search.cv_results_['params'])} points in {t_search:.2f} s, "
      f"accuracy {search.best_score_:.3f} at {search.best_params_}")
print(f"GridSearchCV 13 x 13: {scores.size} points in {t_grid:.2f} s, accuracy "
      f"{grid.best_score_:.3f} at {grid.best_params_}")

# %%
# The heat map of the grid's accuracy, with the points of the search: the scan (grey),
# the descent (white, joined in the order they were evaluated) and the compass search on
# the accuracy around the descent's end (orange); the star is the point refit.
res = search.cv_results_
Cs = np.array(res["param_C"], dtype=float)
gammas = np.array(res["param_gamma"], dtype=float)

fig, ax = plt.subplots(figsize=(6.5, 5))
extent = [np.log10(gamma_range[0]), np.log10(gamma_range[-1]),
          np.log10(C_range[0]), np.log10(C_range[-1])]
im = ax.imshow(scores, origin="lower", extent=extent, aspect="auto", cmap="viridis",
               vmin=0.3)
fig.colorbar(im, ax=ax, label="CV accuracy (13 x 13 grid)")
scan, descent, polish = (res["phase"] == name for name in ("scan", "descent", "polish"))
ax.scatter(np.log10(gammas[scan]), np.log10(Cs[scan]), c="0.7", s=14, label="scan")
ax.plot(np.log10(gammas[descent]), np.log10(Cs[descent]), "w.-", lw=1, ms=5,
        label="gradient path")
ax.scatter(np.log10(gammas[polish]), np.log10(Cs[polish]), c="tab:orange", s=10,
           label="accuracy polish")
best = search.best_params_
ax.plot(np.log10(best["gamma"]), np.log10(best["C"]), "r*", ms=14, label="best point")
ax.set_xlabel("log10(gamma)")
ax.set_ylabel("log10(C)")
ax.set_xlim(extent[:2])
ax.set_ylim(extent[2:])
ax.legend(loc="lower left", fontsize=8)
ax.set_title("RBF SVM on iris: validation accuracy")
plt.tight_layout()
plt.show()
