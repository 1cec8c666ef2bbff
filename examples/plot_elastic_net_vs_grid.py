"""
===================================================
Elastic net: gradient descent instead of a 2-D grid
===================================================

:class:`~skhypergrad.ElasticNetHyperGrad` tunes ``alpha`` and ``l1_ratio``
together by gradient descent on the 5-fold cross-validation loss. This example
compares it with what one would otherwise do, ``GridSearchCV`` over a 10 x 10
grid and ``ElasticNetCV``, on strongly correlated features where the best
``l1_ratio`` lies strictly between the Lasso and ridge regression, and draws
the descent on the loss landscape.
"""

# %%
# Correlated features, a sparse signal
# ------------------------------------
# 150 training samples of 80 features with correlation :math:`0.95^{|i-j|}`,
# 10 of them informative, noise as large as the signal; 150 more samples are
# kept for testing.
import time

import matplotlib.pyplot as plt
import numpy as np
from scipy.linalg import toeplitz
from sklearn.linear_model import ElasticNet, ElasticNetCV
from sklearn.metrics import mean_squared_error
from sklearn.model_selection import GridSearchCV, KFold

from skhypergrad import ElasticNetHyperGrad
from skhypergrad.plotting import plot_criterion, plot_trajectory

rng = np.random.RandomState(2)
n, p = 300, 80
X = rng.randn(n, p) @ np.linalg.cholesky(toeplitz(0.95 ** np.arange(p))).T
w_true = np.zeros(p)
w_true[rng.choice(p, 10, replace=False)] = rng.randn(10)
y = X @ w_true
y += y.std() * rng.randn(n)
X_train, X_test, y_train, y_test = X[:150], X[150:], y[:150], y[150:]
cv = KFold(5, shuffle=True, random_state=0)

# %%
# The three searches
# ------------------
results = {}

t0 = time.perf_counter()
est = ElasticNetHyperGrad(cv=cv).fit(X_train, y_train)
results["ElasticNetHyperGrad"] = (time.perf_counter() - t0, est.alpha_, est.l1_ratio_, est)

alpha_max = np.abs(X_train.T @ (y_train - y_train.mean())).max() / 150
grid = {"alpha": alpha_max * np.logspace(0, -3, 10), "l1_ratio": np.linspace(0.1, 1, 10)}
t0 = time.perf_counter()
gs = GridSearchCV(ElasticNet(max_iter=10_000), grid, cv=cv,
                  scoring="neg_mean_squared_error").fit(X_train, y_train)
results["GridSearchCV 10x10"] = (time.perf_counter() - t0, gs.best_params_["alpha"],
                                 gs.best_params_["l1_ratio"], gs.best_estimator_)

t0 = time.perf_counter()
encv = ElasticNetCV(l1_ratio=grid["l1_ratio"], cv=cv, max_iter=10_000).fit(X_train, y_train)
results["ElasticNetCV"] = (time.perf_counter() - t0, encv.alpha_, encv.l1_ratio_, encv)

print(f"{'method':<22}{'seconds':>8}{'alpha':>9}{'l1_ratio':>10}{'test MSE':>10}")
for name, (seconds, alpha, l1_ratio, fitted) in results.items():
    mse = mean_squared_error(y_test, fitted.predict(X_test))
    print(f"{name:<22}{seconds:>8.2f}{alpha:>9.4f}{l1_ratio:>10.3f}{mse:>10.3f}")
print(f"ElasticNetHyperGrad evaluated the CV loss {est.n_evals_} times "
      f"(the grid: 100 times)")

# %%
# The descent on the landscape
# ----------------------------
# Contours of the cross-validation loss on a coarse grid (computed with the
# same folds), the starting scan (hollow circles) and the gradient steps (red).
# On the left in scikit-learn's coordinates; on the right in the L1 and L2
# weights :math:`\lambda_1 = \alpha\rho`, :math:`\lambda_2 = \alpha(1-\rho)`,
# in whose logarithms the descent runs.
fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
plot_trajectory(est, X_train, y_train, ax=axes[0], n_grid=(9, 6))
plot_trajectory(est, X_train, y_train, space="lam", ax=axes[1], n_grid=(9, 7))
fig.tight_layout()

# %%
# The criterion along the search
# ------------------------------
# The cheap starting scan (no gradients, hollow) picks the basin; the gradient
# steps (filled) then refine ``alpha`` and ``l1_ratio`` continuously, where a
# grid can only land on its own points.
fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
plot_criterion(est, ax=axes[0])
plot_criterion(est, x="seconds", ax=axes[1])
axes[0].set_ylim(top=2 * est.best_loss_)
axes[1].set_ylim(top=2 * est.best_loss_)
fig.tight_layout()
plt.show()
