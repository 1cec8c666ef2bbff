"""
===========================================================
Weighted Lasso: one penalty per feature, 30 hyperparameters
===========================================================

:class:`~skhypergrad.WeightedLassoHyperGrad` gives every feature its own
penalty weight :math:`\\alpha_j` and tunes all of them on the
cross-validation loss. A grid search over 30 hyperparameters is out of the
question; a hypergradient gives all 30 partial derivatives for the price of
one. Reverse-mode iterative differentiation (``"itd-reverse"``) computes them
in a single backward pass whatever their number; the default ``"aid-cg"``
does so at the solution.

Weighted Lasso can overfit the validation folds (30 knobs for 200 samples:
its CV loss is optimistic), so the test error is the judge: it is compared
with ``LassoCV``. Here 22 of the 30 features are useless and five times larger
than the 8 informative ones, which a single ``alpha`` lets in first. The
estimators below run with ``early_stopping=False``, to show the weights as the
descent leaves them; by default the weights descend from the tuned Lasso's
common weight on four fifths of the rows and are kept only if they predict the
last fifth significantly better (on these 200 rows they are not: the default
returns the tuned Lasso).
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
from sklearn.linear_model import LassoCV
from sklearn.metrics import mean_squared_error
from sklearn.model_selection import KFold

from skhypergrad import ITD, WeightedLassoHyperGrad
from skhypergrad.plotting import plot_criterion

rng = np.random.RandomState(0)
n, p = 500, 30
X = rng.randn(n, p)
X[:, 8:] *= 5.0  # the useless features, on a larger scale
w_true = np.zeros(p)
w_true[:8] = [3, -2, 2, -1.5, 1, 1, -1, 0.5]
y = X @ w_true + 1.5 * rng.randn(n)
X_train, X_test, y_train, y_test = X[:200], X[200:], y[:200], y[200:]
cv = KFold(4, shuffle=True, random_state=0)

lasso = LassoCV(cv=cv).fit(X_train, y_train)
weighted = {
    "aid-cg": WeightedLassoHyperGrad(cv=cv, max_iter=20, early_stopping=False)
    .fit(X_train, y_train),
    "itd-reverse": WeightedLassoHyperGrad(cv=cv, max_iter=20, early_stopping=False,
                                          hypergradient=ITD(n_iter=200, mode="reverse"))
    .fit(X_train, y_train),
}
print(f"{'model':<30}{'CV MSE':>8}{'test MSE':>10}{'nonzeros':>10}")
print(f"{'LassoCV':<30}{lasso.mse_path_.mean(axis=1).min():>8.3f}"
      f"{mean_squared_error(y_test, lasso.predict(X_test)):>10.3f}"
      f"{np.count_nonzero(lasso.coef_):>10d}")
for name, est in weighted.items():
    print(f"{'WeightedLassoHyperGrad ' + name:<30}{est.best_loss_:>8.3f}"
          f"{mean_squared_error(y_test, est.predict(X_test)):>10.3f}"
          f"{np.count_nonzero(est.coef_):>10d}")

# %%
# The learned weights
# -------------------
# The descent raises the penalty of most useless features and lowers that of
# most informative ones, which a single ``alpha`` cannot do: fewer useless
# features enter, and the informative coefficients are shrunk less. On the right, the criterion along both searches:
# the two engines give the same hypergradients, so the curves overlap.
est = weighted["aid-cg"]
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
colors = np.where(w_true != 0, "tab:red", "tab:grey")
axes[0].bar(np.arange(p), est.alphas_, color=colors)
axes[0].axhline(lasso.alpha_, color="black", ls="--", lw=1, label="LassoCV's alpha")
axes[0].set_yscale("log")
axes[0].set_xlabel("feature (red: informative)")
axes[0].set_ylabel("alpha_j")
axes[0].legend(fontsize="small")
for name, e in weighted.items():
    plot_criterion(e, ax=axes[1], label=name)
axes[1].set_ylim(top=2 * est.best_loss_)
fig.tight_layout()
plt.show()
