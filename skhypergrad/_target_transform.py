r"""The target transformation of a :class:`~sklearn.compose.TransformedTargetRegressor`
searched by :class:`~skhypergrad.HyperGradSearchCV`: each fold's inner model is trained
on the transformed training targets, and scored by the wrapper's predictions, on the
original scale (see :class:`TargetTransform`).
"""

import copy
from typing import Any, NamedTuple

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, clone

__all__ = ["TargetTransform"]


class _TargetRecorder(RegressorMixin, BaseEstimator):
    """The regressor a :class:`TargetTransform` fits its wrapper with: it keeps the
    targets it is fitted on (``y_``), the wrapper's transformed targets."""

    def fit(self, X, y):
        self.y_ = np.asarray(y)
        return self

    def predict(self, X):
        """Never called: the wrapper requires a regressor's ``predict``."""
        raise NotImplementedError


class TargetTransform(NamedTuple):
    r"""The target transformation of a ``TransformedTargetRegressor`` ``wrapper``.

    On each training fold, :meth:`fit` fits ``wrapper`` itself (its regressor replaced by
    one that records its targets): the transformer (``transformer`` or ``func`` /
    ``inverse_func``) is fitted on the fold's training targets :math:`y` and checked as
    the wrapper checks it (``check_inverse``), and the inner model is trained on
    :math:`t(y)`. :meth:`scored` is the wrapper predicting with the inner model of a
    point, :math:`t^{-1}(\hat z)`: the scorers score the original targets, as
    ``GridSearchCV`` scores the wrapper.
    """

    wrapper: Any

    def fit(self, X, y):
        """``(fitted, t(y))``: the wrapper fitted on ``(X, y)`` (its ``transformer_``
        fitted) and the targets it trains its regressor on."""
        fitted = clone(self.wrapper).set_params(regressor=_TargetRecorder())
        fitted.fit(X, y)
        return fitted, np.asarray(fitted.regressor_.y_, dtype=np.float64)

    @staticmethod
    def transform(fitted, y):
        """``t(y)`` by the transformer of ``fitted`` (shaped as the training targets)."""
        z = fitted.transformer_.transform(np.asarray(y).reshape(len(y), -1))
        return np.asarray(z, dtype=np.float64).reshape(np.shape(y))

    @staticmethod
    def scored(fitted, regressor):
        """A copy of the wrapper ``fitted`` predicting with ``regressor`` (fitted on the
        transformed targets): its ``predict`` is ``t^{-1}`` of ``regressor``'s."""
        wrapped = copy.copy(fitted)
        wrapped.regressor_ = regressor
        return wrapped
