"""``skhypergrad.plotting``: every figure is drawn, returns its Axes and saves as PNG.

matplotlib is in the ``test`` extra, so these run in CI (Agg backend, no display).
Also protects the clear message when matplotlib is missing.
"""

import sys

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from sklearn.linear_model import ElasticNet  # noqa: E402

from skhypergrad import (ElasticNetHyperGrad, HyperGradSearchCV, LassoHyperGrad,  # noqa: E402
                         LogisticRegressionHyperGrad, WeightedLassoHyperGrad)
from skhypergrad import plotting  # noqa: E402
from skhypergrad.plotting import plot_coef_path, plot_criterion, plot_trajectory  # noqa: E402


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.randn(60, 8)
    y = X[:, 0] - X[:, 1] + 0.5 * rng.randn(60)
    return X, y


@pytest.fixture(scope="module")
def enet(data):
    return ElasticNetHyperGrad(cv=3, max_iter=5).fit(*data)


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _saved(ax, tmp_path, name):
    assert isinstance(ax, Axes)
    path = tmp_path / f"{name}.png"
    ax.figure.savefig(path, dpi=50)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return path


@pytest.mark.parametrize("space", ["sklearn", "lam"])
def test_trajectory(enet, data, tmp_path, space):
    ax = plot_trajectory(enet, *data, space=space, n_grid=(5, 4))
    _saved(ax, tmp_path, f"trajectory_{space}")
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["starting scan", "gradient steps", "chosen"]
    assert ax.get_ylabel() == ("l1_ratio" if space == "sklearn" else "L2 weight $\\lambda_2$")


def test_trajectory_logistic_elasticnet_on_given_axes(tmp_path):
    rng = np.random.RandomState(0)
    X = rng.randn(60, 5)
    y = (X[:, 0] + 0.5 * rng.randn(60) > 0).astype(int)
    clf = LogisticRegressionHyperGrad(penalty="elasticnet", cv=3, max_iter=3).fit(X, y)
    fig, ax = plt.subplots()
    out = plot_trajectory(clf, X, y, ax=ax, n_grid=(4, 3))
    assert out is ax and ax.get_xlabel() == "C"
    _saved(out, tmp_path, "trajectory_logistic")


def test_trajectory_needs_two_hyperparameters(data):
    est = LassoHyperGrad(cv=3, max_iter=2).fit(*data)
    with pytest.raises(ValueError, match="two hyperparameters"):
        plot_trajectory(est, *data)


@pytest.mark.parametrize("x", ["step", "seconds"])
def test_criterion(enet, tmp_path, x):
    ax = plot_criterion(enet, x=x, label="aid-cg")
    _saved(ax, tmp_path, f"criterion_{x}")
    assert ax.get_xlabel() == ("criterion evaluation" if x == "step" else "seconds")
    # overlaying a second search on the same axes
    assert plot_criterion(enet.history_[:3], x=x, ax=ax, label="first three") is ax


def test_criterion_of_search_cv(data, tmp_path):
    search = HyperGradSearchCV(ElasticNet(alpha=0.1, l1_ratio=0.5), cv=3, max_iter=3,
                               scoring="neg_mean_squared_error")
    search.fit(*data)
    ax = plot_criterion(search, x="seconds", logy=True)
    _saved(ax, tmp_path, "criterion_search")
    assert ax.get_yscale() == "log"


@pytest.mark.parametrize("along", ["strength", "history"])
def test_coef_path(enet, data, tmp_path, along):
    ax = plot_coef_path(enet, *data, along=along, n_points=8)
    _saved(ax, tmp_path, f"coef_{along}")
    n_lines = len([line for line in ax.get_lines() if line.get_xydata().shape[0] > 2])
    assert n_lines == data[0].shape[1]          # one path per coefficient


def test_coef_path_weighted_lasso(data, tmp_path):
    est = WeightedLassoHyperGrad(cv=3, max_iter=2).fit(*data)
    ax = plot_coef_path(est, *data, n_points=6)
    assert ax.get_xlabel() == "factor applied to alphas_"
    _saved(ax, tmp_path, "coef_weighted")


def test_bad_arguments(enet, data):
    with pytest.raises(ValueError, match="'step' or 'seconds'"):
        plot_criterion(enet, x="time")
    with pytest.raises(ValueError, match="'strength' or 'history'"):
        plot_coef_path(enet, *data, along="grid")
    with pytest.raises(ValueError, match="no history_"):
        plot_criterion(ElasticNetHyperGrad())
    with pytest.raises(ValueError, match="features"):
        plot_coef_path(enet, data[0][:, :3], data[1])


def test_clear_message_without_matplotlib(enet, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)   # import fails
    with pytest.raises(ImportError, match=r"pip install \"skhypergrad\[plot\]\""):
        plotting.plot_criterion(enet)
