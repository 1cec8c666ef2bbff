"""
====================================================
The hypergradient engines against finite differences
====================================================

skhypergrad computes the gradient of a validation loss with respect to the
regularization (the *hypergradient*) in five ways, all from the same
fixed-point map :math:`w = \\Phi(w, \\lambda)` of proximal gradient descent:

* ``"itd"`` / ``"itd-reverse"``: differentiate through the iterations
  themselves (forward or reverse accumulation);
* ``"aid-fp"`` / ``"aid-cg"``: implicit differentiation at the solution, the
  linear system solved by fixed-point iterations or conjugate gradients;
* ``"nsid"``: stochastic implicit differentiation from minibatches.

Here each is checked against a central finite difference of the held-out
loss of an elastic net (the setting of the seed papers, scaled down), and ITD
is shown converging as its number of iterations grows.
"""

# %%
# An elastic net and its held-out criterion
# -----------------------------------------
# 100 training and 200 validation samples, 100 features of which 30 are
# informative. The hyperparameters are scikit-learn's ``alpha`` and
# ``l1_ratio``; the gradient is taken in the logarithms of the L1 and L2
# weights :math:`\lambda = (\alpha\rho, \alpha(1-\rho))`.
import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_regression
from sklearn.linear_model import ElasticNet

from skhypergrad import ITD, HeldOut, ProxGradient, hypergradient

X, y = make_regression(n_samples=300, n_features=100, n_informative=30, noise=0.1,
                       random_state=0)
y /= y.std()
X_train, y_train, X_val, y_val = X[:100], y[:100], X[100:], y[100:]
criterion = HeldOut(X_val, y_val)
model = ElasticNet(alpha=0.05, l1_ratio=0.5)

# %%
# The reference: central finite differences in log(lambda)
# --------------------------------------------------------
# With an inner solver run to a duality gap of 1e-13 the held-out loss is a
# smooth function of :math:`\log\lambda` near this point (the support of the
# solution does not change for small steps), so a central difference is
# accurate to about ``eps**2``.
solver = ProxGradient(tol=1e-13, max_iter=100_000)


def value_at(alpha, l1_ratio):
    est = ElasticNet(alpha=alpha, l1_ratio=l1_ratio)
    return hypergradient(est, X_train, y_train, criterion=criterion, solver=solver)[0]


lam = np.array([model.alpha * model.l1_ratio, model.alpha * (1 - model.l1_ratio)])
eps = 1e-4
reference = np.empty(2)
for i in range(2):
    step = np.zeros(2)
    step[i] = eps
    values = []
    for sign in (1, -1):
        l1, l2 = lam * np.exp(sign * step)
        values.append(value_at(l1 + l2, l1 / (l1 + l2)))
    reference[i] = (values[0] - values[1]) / (2 * eps)
print("finite differences:", reference)

# %%
# Every engine at the same point
# ------------------------------
# Every engine by name runs until it reaches ``tol`` (or warns that it could not):
# the deterministic ones to a relative residual of 1e-10, NSID, a stochastic
# estimate whose cost grows as 1 / tol^2, to a predicted relative error of 20%.
rows = []
for method in ["itd", "itd-reverse", "aid-fp", "aid-cg", "nsid"]:
    tol = 0.2 if method == "nsid" else 1e-10
    t0 = time.perf_counter()
    value, grad = hypergradient(model, X_train, y_train, criterion=criterion, method=method,
                                tol=tol, solver=solver, random_state=0)
    seconds = time.perf_counter() - t0
    error = np.linalg.norm(grad - reference) / np.linalg.norm(reference)
    rows.append((method, error, seconds))
    print(f"{method:<12} grad={np.array2string(grad, precision=6)}  "
          f"relative error {error:.1e}  {seconds:.2f}s")

# %%
# The deterministic engines agree with finite differences to about six digits
# (the accuracy of the finite difference itself);
# NSID, which only sees minibatches of 100 rows, is unbiased with an error
# decreasing as :math:`O(1/K)` in its number of minibatches ``K``; it takes
# the ``K`` at which a conservative prediction of that error (from the
# contraction factor, the minibatch noise and the steps) reaches ``tol``, and
# lands well within it: the prediction takes all the noise to decay at the
# slowest rate.
fig, ax = plt.subplots(figsize=(6, 3.5))
names, errors, _ = zip(*rows)
ax.bar(names, errors, color=["tab:blue"] * 2 + ["tab:green"] * 2 + ["tab:orange"])
ax.set_yscale("log")
ax.set_ylabel("relative error vs finite differences")
ax.set_title("Hypergradient engines at one point")
fig.tight_layout()

# %%
# ITD: the error decays once the support is found
# -----------------------------------------------
# Iterative differentiation starts from zero and differentiates ``T`` plain
# proximal-gradient steps (``ITD(n_iter=T)``: exactly ``T``, whereas the names
# run until the iterates and their Jacobian stop moving). Its hypergradient
# converges linearly once the iterates have identified the support of the
# solution.
n_iters = [10, 30, 100, 300, 1000, 2000]
itd_errors = []
for n_iter in n_iters:
    _, grad = hypergradient(model, X_train, y_train, criterion=criterion,
                            method=ITD(n_iter=n_iter, mode="reverse"))
    itd_errors.append(np.linalg.norm(grad - reference) / np.linalg.norm(reference))
print("ITD relative errors:", np.array2string(np.array(itd_errors), precision=1))

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.loglog(n_iters, itd_errors, "o-")
ax.set_xlabel("ITD iterations T")
ax.set_ylabel("relative error")
ax.set_title("ITD converges with the number of iterations")
fig.tight_layout()
plt.show()
