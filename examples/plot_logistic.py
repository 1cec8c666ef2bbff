"""
==========================================================
Logistic regression: tuning C and l1_ratio on the log-loss
==========================================================

:class:`~skhypergrad.LogisticRegressionHyperGrad` tunes an L1 (``C``) or
elastic-net (``C`` and ``l1_ratio``) logistic regression by gradient descent
on the cross-validated log-loss, here on the breast cancer data, against
``GridSearchCV`` over ``C``.
"""

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split
from sklearn.preprocessing import StandardScaler

from skhypergrad import LogisticRegressionHyperGrad
from skhypergrad.plotting import plot_coef_path, plot_criterion

X, y = load_breast_cancer(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y,
                                                    random_state=0)
scaler = StandardScaler().fit(X_train)
X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
cv = StratifiedKFold(5, shuffle=True, random_state=0)

t0 = time.perf_counter()
l1 = LogisticRegressionHyperGrad(cv=cv).fit(X_train, y_train)
t_l1 = time.perf_counter() - t0
enet = LogisticRegressionHyperGrad(penalty="elasticnet", cv=cv).fit(X_train, y_train)

t0 = time.perf_counter()
grid = GridSearchCV(LogisticRegression(l1_ratio=1.0, solver="liblinear"),
                    {"C": np.logspace(-2, 2, 20)}, cv=cv, scoring="neg_log_loss")
grid.fit(X_train, y_train)
t_grid = time.perf_counter() - t0

print(f"{'model':<40}{'C':>8}{'l1_ratio':>10}{'CV log-loss':>13}{'test acc':>10}")
print(f"{'LogisticRegressionHyperGrad (L1)':<40}{l1.C_:>8.3f}{1.0:>10.2f}"
      f"{l1.best_loss_:>13.4f}{l1.score(X_test, y_test):>10.3f}   {t_l1:.2f}s")
print(f"{'LogisticRegressionHyperGrad (enet)':<40}{enet.C_:>8.3f}{enet.l1_ratio_:>10.2f}"
      f"{enet.best_loss_:>13.4f}{enet.score(X_test, y_test):>10.3f}")
print(f"{'GridSearchCV, 20 values of C':<40}{grid.best_params_['C']:>8.3f}{1.0:>10.2f}"
      f"{-grid.best_score_:>13.4f}{grid.best_estimator_.score(X_test, y_test):>10.3f}"
      f"   {t_grid:.2f}s")

# %%
# The log-loss along the searches, and the L1 coefficient paths
# -------------------------------------------------------------
# ``liblinear`` penalizes the intercept, so the grid's log-loss is a little
# different from the one skhypergrad minimizes; the chosen ``C`` are close.
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
plot_criterion(l1, ax=axes[0], label="L1")
plot_criterion(enet, ax=axes[0], label="elastic net (aid-cg)")
axes[0].set_ylim(top=3 * l1.best_loss_)
plot_coef_path(l1, X_train, y_train, ax=axes[1], n_points=25)
fig.tight_layout()
plt.show()
