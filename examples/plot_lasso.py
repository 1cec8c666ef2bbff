"""
==========================================
Lasso: tuning alpha against LassoCV's path
==========================================

:class:`~skhypergrad.LassoHyperGrad` tunes the single ``alpha`` of a Lasso by
gradient descent on the cross-validation loss, here with the ``"aid-fp"``
engine (implicit differentiation, the adjoint system solved by fixed-point
iterations). ``LassoCV`` computes the same loss on a path of 100 values of
``alpha``: both should agree, and the coefficient paths show where the
chosen ``alpha`` sits.
"""

# %%
import time

import matplotlib.pyplot as plt
from sklearn.datasets import load_diabetes
from sklearn.linear_model import LassoCV
from sklearn.model_selection import KFold
from sklearn.preprocessing import StandardScaler

from skhypergrad import LassoHyperGrad
from skhypergrad.plotting import plot_coef_path, plot_criterion

X, y = load_diabetes(return_X_y=True)
X = StandardScaler().fit_transform(X)   # 442 patients, 10 standardized features
cv = KFold(5, shuffle=True, random_state=0)

t0 = time.perf_counter()
est = LassoHyperGrad(cv=cv, hypergradient="aid-fp").fit(X, y)
t_hg = time.perf_counter() - t0

t0 = time.perf_counter()
lcv = LassoCV(cv=cv, max_iter=10_000).fit(X, y)
t_cv = time.perf_counter() - t0

path_mse = lcv.mse_path_.mean(axis=1)
print(f"LassoHyperGrad: alpha={est.alpha_:.4f}  CV MSE={est.best_loss_:.1f}  "
      f"{est.n_evals_} evaluations, {t_hg:.2f}s")
print(f"LassoCV:        alpha={lcv.alpha_:.4f}  CV MSE={path_mse.min():.1f}  "
      f"100 alphas, {t_cv:.2f}s")

# %%
# The CV loss along LassoCV's path, and the points the descent evaluated
# ----------------------------------------------------------------------
# The hollow points are the cheap starting scan (three values per decade, no
# gradient); the filled ones are the gradient steps that refine ``alpha``.
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
ax = axes[0]
ax.semilogx(lcv.alphas_, path_mse, color="grey", label="LassoCV path (100 alphas)")
scan = [h for h in est.history_ if h["grad"] is None]
steps = [h for h in est.history_ if h["grad"] is not None]
ax.semilogx([h["alpha"] for h in scan], [h["value"] for h in scan], "o", mfc="none",
            label="starting scan")
ax.semilogx([h["alpha"] for h in steps], [h["value"] for h in steps], "o-", ms=4,
            label="gradient steps")
ax.axvline(est.alpha_, color="black", ls="--", lw=1)
ax.set_ylim(top=1.5 * path_mse.min())
ax.set_xlabel("alpha")
ax.set_ylabel("CV mean squared error")
ax.legend(fontsize="small")
plot_criterion(est, x="seconds", ax=axes[1], label="LassoHyperGrad (aid-fp)")
axes[1].set_ylim(top=1.5 * est.best_loss_)
fig.tight_layout()

# %%
# Coefficient paths around the chosen alpha
# -----------------------------------------
# Refits on all the data for ``alpha`` from a hundredth to a hundred times the
# chosen one; the dashed line marks ``alpha_``.
ax = plot_coef_path(est, X, y, n_points=40)
ax.figure.set_size_inches(7, 4)
plt.show()
