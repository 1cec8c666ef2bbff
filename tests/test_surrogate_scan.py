"""The starting scan of a search through a surrogate follows the refit scorer too.

Protects ``scan_rank`` of :func:`skhypergrad._tune.tune` as
:mod:`skhypergrad._linear_search_cv` uses it: a refit scorer that is not the model's
loss can be best where the loss has long been rising (the median absolute error of
``Lasso`` on diabetes is flat near least squares, a decade weaker than the mean
squared error's minimum), and the scan goes on along its path while that scorer
still improves, so the search lands on the scorer's best region, which the local
refinement alone cannot reach.
"""

from typing import NamedTuple

import numpy as np
import pytest
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Lasso
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.preprocessing import StandardScaler

from skhypergrad import _path_scan
from skhypergrad.model_selection import HyperGradSearchCV

CV = KFold(5, shuffle=True, random_state=0)


def _diabetes():
    X, y = load_diabetes(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def test_median_absolute_error_lands_on_the_grid():
    X, y = _diabetes()
    search = HyperGradSearchCV(Lasso(), scoring="neg_median_absolute_error", cv=CV).fit(X, y)
    alpha_max = float(np.max(np.abs(X.T @ (y - y.mean()))) / X.shape[0])
    grid = GridSearchCV(Lasso(tol=1e-10, max_iter=100_000),
                        {"alpha": alpha_max * np.logspace(-3, 0, 30)},
                        scoring="neg_median_absolute_error", cv=CV).fit(X, y)
    ours = search.cv_results_["mean_test_score"][search.best_index_]
    theirs = grid.best_score_
    # the mean squared error's minimum, where the scan used to stop, is 2% below
    assert ours >= theirs - 0.005 * abs(theirs), (ours, theirs)
    # the scan went past the mean squared error's minimum (alpha ~ 0.4) into the flat
    # region of the median absolute error, and the best row is there
    assert search.best_params_["alpha"] < 0.2
    assert len(search.cv_results_["params"]) <= 20  # a few rows more than the loss's


class _Curve:
    """A criterion of one hyperparameter whose value at ``lam`` is ``loss(log10 lam)``;
    ``values`` holds ``score(log10 lam)`` (the refit scorer, greater is better)."""

    def __init__(self, loss, score):
        self.loss, self.score, self.seen = loss, score, []

    def value(self, model, X, y, lam, *, solver, state=None):
        t = float(np.log10(lam[0]))
        self.seen.append(t)
        return _Result(self.loss(t), np.array([self.score(t)]), None, 0)

    def value_path(self, model, X, y, path, *, solver, state=None, near, patience):
        return None  # the points one by one


class _Result(NamedTuple):
    value: float
    values: np.ndarray
    state: object
    n_iter: int


def _scan(curve, rank):
    path = 10.0 ** np.arange(2.0, -4.01, -1 / 3)[:, None]
    return _path_scan._scan(None, None, None, curve, [path], None, 1e-4, [None], 0.0, None,
                       patience=1.0, rank=rank)


def test_scan_leaves_a_path_once_the_loss_and_the_rank_are_past_their_minimum():
    # the loss is smallest at 10**0; the score rises until 10**-2.2 and is flat beyond,
    # its first best point 10**(-7/3)
    curve = _Curve(lambda t: t ** 2, lambda t: -max(t + 2.2, 0.0))
    lam, scan, stop, _, _ = _scan(curve, None)
    assert not stop and lam[0] == pytest.approx(1.0)
    assert min(curve.seen) == pytest.approx(-1.0)  # a decade past the loss's minimum
    curve.seen.clear()
    lam, scan, _, _, _ = _scan(curve, lambda entry: -entry["values"][0])
    assert lam[0] == pytest.approx(1.0)  # the descent still starts from the loss's minimum
    # a decade past the score's first best point: the ties of its plateau end the path
    assert min(curve.seen) == pytest.approx(-10 / 3)
    assert max(entry["values"][0] for entry in scan) == 0.0
