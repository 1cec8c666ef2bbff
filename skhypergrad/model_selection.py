r"""A drop-in for ``GridSearchCV`` that follows the gradient instead of a grid.

:class:`HyperGradSearchCV` takes the estimator a user would give to
:class:`~sklearn.model_selection.GridSearchCV` (a scikit-learn linear or kernel model,
alone or at the end of a ``Pipeline``) and, instead of a parameter grid, nothing: a
coarse scan in units of the data (:mod:`skhypergrad._search_space`) picks where to
start. It minimizes the cross-validation loss by gradient descent on the logarithms
of the regularization parameters, recording every evaluated point as a row of
``cv_results_`` in ``GridSearchCV``'s format, then refits the user's estimator at the
best point.

Which estimators are supported, and how each one's parameters read as the
regularization weights :math:`\lambda`, is declared once per scikit-learn class
(:mod:`skhypergrad._linear_adapters`; :mod:`skhypergrad._kernel_search_cv` for the
kernel models). How it fits together: the folds are prepared once (the preprocessing
steps of a pipeline fitted on each training fold, as ``GridSearchCV`` does, since they
do not depend on the tuned parameters), the estimator is converted to an
:class:`~skhypergrad.models.InnerModel`, and :func:`skhypergrad._tune.tune` minimizes
the mean of the folds' :class:`~skhypergrad.criteria.HeldOut` losses
(:mod:`skhypergrad._prepared_folds`); :mod:`skhypergrad._search_cv` holds the search
class, :mod:`skhypergrad._linear_search_cv` the search of a linear model (its start and
bounds in :mod:`skhypergrad._search_start`), :mod:`skhypergrad._search_results` the
assembly of ``cv_results_`` and :mod:`skhypergrad._search_refit` the refit.
"""

from ._search_cv import HyperGradSearchCV

__all__ = ["HyperGradSearchCV"]
