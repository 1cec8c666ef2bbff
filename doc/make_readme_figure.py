"""Regenerate ``doc/_static/trajectory.png``, the picture of the README and the docs' front page.

Run from the repository root: ``python doc/make_readme_figure.py`` (needs matplotlib).
The data are those of ``examples/plot_elastic_net_vs_grid.py``.
"""

import pathlib

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy.linalg import toeplitz  # noqa: E402
from sklearn.model_selection import KFold  # noqa: E402

from skhypergrad import ElasticNetHyperGrad  # noqa: E402
from skhypergrad.plotting import plot_criterion, plot_trajectory  # noqa: E402

rng = np.random.RandomState(2)
n, p = 300, 80
X = rng.randn(n, p) @ np.linalg.cholesky(toeplitz(0.95 ** np.arange(p))).T
w_true = np.zeros(p)
w_true[rng.choice(p, 10, replace=False)] = rng.randn(10)
y = X @ w_true
y += y.std() * rng.randn(n)
X, y = X[:150], y[:150]

est = ElasticNetHyperGrad(cv=KFold(5, shuffle=True, random_state=0)).fit(X, y)
fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), gridspec_kw={"width_ratios": [1.25, 1]})
plot_trajectory(est, X, y, space="lam", ax=axes[0], n_grid=(14, 12))
plot_criterion(est, ax=axes[1], label="CV loss, best so far")
axes[1].set_ylim(top=1.6 * est.best_loss_)
axes[1].set_title("one point per criterion evaluation", fontsize="medium")
fig.tight_layout()
out = pathlib.Path(__file__).parent / "_static" / "trajectory.png"
fig.savefig(out, dpi=80)
print(f"wrote {out} ({out.stat().st_size // 1024} kB)")
