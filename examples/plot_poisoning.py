"""
Poisoning a sparse classifier with stochastic hypergradients
=============================================================

An attacker controls 30% of the training points of a multinomial logistic
regression with a fixed elastic net (``lam1 = 0.02``, ``lam2 = 0.1``, no
intercept) and adds a perturbation to them, keeping the pixels in [0, 1], to
*maximize* the victim's validation cross-entropy. The gradient of that loss
with respect to the poisoned pixels goes through the victim's training, by
implicit differentiation of its nonsmooth fixed point
(:func:`skhypergrad.poison`, built on :class:`skhypergrad.TrainingDataMap`).

This is the data-poisoning experiment of Grazzi, Pontil and Salzo (2024), run
here on scikit-learn's offline ``load_digits`` (8x8 images scaled to [0, 1])
instead of MNIST. We show

* the validation and test accuracy of the victim before and after a few
  ascent steps driven by NSID;
* at the clean data, the hypergradient error versus epochs (passes over the
  training data) of NSID (decreasing and constant steps), its biased SID
  baseline and AID-FP (full batch), against AID-CG solved to 1e-10.
"""

import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from skhypergrad import (AIDConjugateGradient, AIDFixedPoint, ElasticNetPenalty, Multinomial, NSID,
                         ProxGradMap, StochasticProxGradient, TrainingDataMap, poison)

X, y = load_digits(return_X_y=True)
X = X / 16.0
X_train, X_rest, y_train, y_rest = train_test_split(X, y, train_size=500, stratify=y,
                                                    random_state=0)
X_val, X_test, y_val, y_test = train_test_split(X_rest, y_rest, train_size=500,
                                                stratify=y_rest, random_state=0)
lam = (0.02, 0.1)

# %%
# The attack: 8 steps of projected gradient ascent, NSID hypergradients
# ----------------------------------------------------------------------
res = poison(X_train, y_train, X_val, y_val, lam=lam, method="nsid", n_steps=8,
             step_size=0.2, batch_size=50, poison_fraction=0.3, random_state=0)


def test_accuracy(coef):
    return np.mean(res.classes[np.argmax(X_test @ coef, axis=1)] == y_test)


clean = poison(X_train, y_train, X_val, y_val, lam=lam, method="aid-cg", n_steps=0)
print(f"validation accuracy: {res.val_accuracy[0]:.3f} -> {res.val_accuracy[-1]:.3f}")
print(f"validation loss:     {res.val_loss[0]:.3f} -> {res.val_loss[-1]:.3f}")
print(f"test accuracy:       {test_accuracy(clean.coef):.3f} -> {test_accuracy(res.coef):.3f}")

# %%
# Hypergradient error versus epochs at the clean data
# ---------------------------------------------------
# One victim trained to a relative gap of 1e-10; the outer variable is the
# perturbation of the same poisoned rows.
n = X_train.shape[0]
datafit = Multinomial(10)
pgmap = ProxGradMap(datafit, ElasticNetPenalty(), X_train, datafit.encode(y_train))
lam_arr = np.asarray(lam)
w = StochasticProxGradient(batch_size=50, tol=1e-10, random_state=0).solve(pgmap, lam_arr).w
dmap = TrainingDataMap(pgmap, lam_arr, res.poison_idx)
u0 = np.zeros(dmap.n_hyper)
Y_val = np.zeros((len(y_val), 10))
Y_val[np.arange(len(y_val)), y_val] = 1.0


def grad_C(w):
    Z = X_val @ w.reshape(-1, 10)
    P = np.exp(Z - Z.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    return (X_val.T @ (P - Y_val) / len(y_val)).ravel()


exact = AIDConjugateGradient(tol=1e-10, max_iter=10_000).hypergradient(
    dmap, u0, w, grad_C).grad


def error(g):
    return np.linalg.norm(g - exact) / np.linalg.norm(exact)


def aid_fp_after(k):
    """AID-FP's hypergradient after exactly ``k`` iterations: ``tol=0`` is never reached,
    and the ConvergenceWarning that says so is expected here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return AIDFixedPoint(tol=0.0, max_iter=int(k)).hypergradient(dmap, u0, w, grad_C).grad


curves = {}
ks = np.array([10, 30, 100, 300, 1000])
curves["AID-FP (full batch)"] = (ks, [error(aid_fp_after(k)) for k in ks])
b = 50
for name, params in (("NSID (decreasing)", {}), ("NSID (constant)",
                                                  {"step_schedule": "constant"}),
                     ("SID (biased)", {"biased": True})):
    errs = [np.mean([error(NSID(n_samples=int(K), batch_size=b, random_state=s, **params)
                           .hypergradient(dmap, u0, w, grad_C).grad) for s in range(2)])
            for K in ks * n // b // 2]
    per_iter = b / n if params.get("biased") else 2 * b / n
    curves[name] = (ks * n // b // 2 * per_iter, errs)

# %%
# Plots
# -----
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
steps = np.arange(len(res.val_accuracy))
ax1.plot(steps, res.val_accuracy, "o-", label="validation accuracy")
ax1.plot(steps, res.val_loss / res.val_loss[0] * res.val_accuracy[0], "s--",
         label="validation loss (scaled)")
ax1.set_xlabel("attack step")
ax1.set_title("Victim before and after the attack (NSID)")
ax1.legend()
for name, (ep, err) in curves.items():
    ax2.loglog(ep, err, "o-", label=name, ms=3)
ax2.set_xlabel("epochs")
ax2.set_ylabel("relative hypergradient error")
ax2.set_title("Hypergradient w.r.t. the poisoned pixels")
ax2.legend()
fig.tight_layout()
plt.show()
