"""The parts the kernel estimators share: their kernel parameters, input checks and the
kernel handed to scikit-learn's refit models."""

import numbers
from functools import partial

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.metrics.pairwise import laplacian_kernel
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import validate_data

from .hypergrad import ENGINES, BaseEngine
from .kernels import KERNELS, KernelSpec
from ._validation import check_one_output


def hypergradient_options(exact):
    """The ``hypergradient`` constraint of a kernel estimator: its exact method ``exact``
    ("eig" or "kkt"), or an engine of :mod:`skhypergrad.hypergrad` but NSID."""
    return [StrOptions({exact} | set(ENGINES) - {"nsid"}), BaseEngine]


class BaseKernelHyperGrad(BaseEstimator):
    """Base of the estimators that tune a kernel model: ``kernel``, ``degree``, ``coef0``
    (see :class:`~skhypergrad.kernels.KernelSpec`), ``cv``, ``max_iter``, ``tol``,
    ``optimizer``; ``X`` is dense data, or the kernel matrix for ``kernel="precomputed"``
    (square to fit, ``(n_test, n_fit)`` to predict)."""

    _parameter_constraints = {
        "kernel": [StrOptions(set(KERNELS))],
        "degree": [Interval(numbers.Real, 0, None, closed="left")],
        "coef0": [numbers.Real],
        "cv": ["cv_object"],
        "max_iter": [Interval(numbers.Integral, 0, None, closed="left")],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "optimizer": "no_validation",  # a name or an optimizer: checked by get_optimizer
    }

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.pairwise = self.kernel == "precomputed"
        return tags

    def _spec(self):
        return KernelSpec(self.kernel, float(self.degree), float(self.coef0)).check()

    def _check_fit_data(self, X, y, **kwargs):
        """Parameters and ``(X, y)`` validated (``kwargs`` to ``validate_data``)."""
        self._validate_params()
        check_one_output(y)
        X, y = validate_data(self, X, y, dtype=np.float64, **kwargs)
        if self.kernel == "precomputed" and X.shape[0] != X.shape[1]:
            raise ValueError(f"kernel='precomputed' needs a square kernel matrix to fit, got "
                             f"shape {X.shape}.")
        return X, y

    def _check_X(self, X):
        """``X`` to predict on, validated against the fitted data."""
        return validate_data(self, X, reset=False, dtype=np.float64)

    def _libsvm_kernel(self, gamma):
        """The ``kernel`` argument of the refit ``SVC`` / ``SVR``: libsvm has no
        "laplacian", given as scikit-learn's kernel function at ``gamma``."""
        if self.kernel == "laplacian":
            return partial(laplacian_kernel, gamma=gamma)
        return self.kernel
