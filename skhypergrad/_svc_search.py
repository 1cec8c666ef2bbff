r"""The search of SVC's hyperparameters (:func:`search_svc`): a scan of a coarse grid of
``C`` (and ``gamma``), a descent of the cross-validated surrogate loss
(:class:`~skhypergrad._svc_criterion.SVCCriterion`), then a refinement by accuracy."""

import numpy as np

from ._kernel_search import AdaptiveScan, kernel_search
from ._scoring import POLISH_EVALS
from ._svc_criterion import SVCCriterion
from .kernel_ridge import default_gamma
from .kernels import check_kernel_memory

__all__ = ["search_svc"]

_C_FACTORS = 10.0 ** np.arange(-2, 4)
_GAMMA_FACTORS = 10.0 ** np.arange(-3, 3)
_C_RANGE = (1e-3, 1e6)
_GAMMA_RANGE = (1e-5, 1e3)


#: KKT violations at which SMO stops in the search: evaluations with / without the gradient
_GRADIENT_TOL = 1e-6
_VALUE_TOL = 1e-3

#: the descent ends after 3 evaluations in a row that lower the surrogate by less than
#: 0.1% (too little to move the accuracy; the compass search refines)
_STALL = (3, 1e-3)


def search_svc(spec, folds, n_classes, hypergradient="kkt", optimizer="lbfgs", max_iter=30,
               tol=1e-4, callback=None, weights=None, test_weights=None,
               polish=POLISH_EVALS, criterion=None, box=None):
    """Scan, descend the cross-validated surrogate loss of SVC, then refine by accuracy.

    The scan (:class:`~skhypergrad._kernel_search.AdaptiveScan`: rows of a coarse grid,
    ``C`` in :data:`_C_FACTORS` by
    :data:`_GAMMA_FACTORS` times scikit-learn's ``"scale"`` width, each row cut past its
    lowest loss, rows added away from the ``"scale"`` width while they improve)
    evaluates the loss and the accuracy only; the descent (with the hypergradient)
    starts from its point of lowest loss, and stops (besides L-BFGS-B's own rule) after
    3 evaluations in a row that do not lower the loss by 0.1%; then a compass search on
    the accuracy (``polish`` evaluations per hyperparameter,
    :func:`skhypergrad._scoring.polish`) starts from the point of lowest loss: the
    accuracy is often best a little away from the surrogate's minimum. Every point
    warm-starts from the solution at the nearest point evaluated before. The solver
    stops at a KKT violation of 1e-3 (libsvm's default, as the ``SVC`` of a
    ``GridSearchCV``) where only the loss and the accuracy are needed, and of 1e-6 where
    the hypergradient is (it needs the right free set).

    Parameters
    ----------
    spec : KernelSpec
    folds : list of FoldData
        Targets as class indices.
    n_classes : int
    hypergradient : str or BaseEngine, default="kkt"
    optimizer : str or optimizer, default="lbfgs"
    max_iter : int, default=30
    tol : float, default=1e-4
    callback : callable, default=None
    weights, test_weights : list of ndarray, default=None
        Per fold, the weights of the training rows (bounds ``C w_i``) and of the
        held-out rows (see :class:`SVCCriterion`).
    polish : int, default=6
        Evaluations of the refinement by accuracy per hyperparameter (0: none).
    criterion : callable, default=None
        ``SVCCriterion -> evaluate``: what is searched, built on the folds' criterion,
        an object with ``evaluate(lam)`` and ``evaluate.value(lam)`` (``Evaluation`` objects
        with and without the gradient; their scores rank the points and the refinement
        follows them); the criterion itself when None.
    box : (ndarray, ndarray), default=None
        The user's bounds on ``lam`` (see :func:`~skhypergrad._kernel_search.kernel_search`);
        the scan covers the box (at most half a decade apart)
        (:meth:`~skhypergrad._kernel_search.AdaptiveScan.within`).

    Returns
    -------
    history : list of dict
        ``lam`` is ``[C, gamma]`` (``[C]`` without a width); scores are accuracies.
    n_iter : int
    """
    n_train = max(f.y_train.shape[0] for f in folds)
    n_test = max(f.y_test.shape[0] for f in folds)
    check_kernel_memory(n_train, n_train + n_test, 2 * len(folds))
    X0 = folds[0].X_train
    g = default_gamma(X0) if spec.has_gamma and spec.kernel != "precomputed" else None
    evaluate = SVCCriterion(spec, folds, n_classes, hypergradient, _GRADIENT_TOL, weights,
                            test_weights, _VALUE_TOL)
    if criterion is not None:
        evaluate = criterion(evaluate)
    lo = [_C_RANGE[0]] + ([] if g is None else [g * _GAMMA_RANGE[0]])
    hi = [_C_RANGE[1]] + ([] if g is None else [g * _GAMMA_RANGE[1]])
    scan = AdaptiveScan(_C_FACTORS) if g is None else AdaptiveScan(
        _C_FACTORS, g * _GAMMA_FACTORS, int(np.argmin(np.abs(_GAMMA_FACTORS - 1.0))))
    return kernel_search(evaluate, scan.within(box, 0, 1), (np.array(lo), np.array(hi)),
                         optimizer, max_iter, tol, callback, n_rows=n_train,
                         value=evaluate.value, start="loss", polish=polish * len(lo),
                         stall=_STALL, box=box)
