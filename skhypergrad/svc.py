r"""Support vector classification tuned by hypergradient: ``C`` and the kernel's ``gamma``.

Each fold trains scikit-learn's :class:`~sklearn.svm.SVC` model (libsvm's dual, solved by
:func:`~skhypergrad.svm.smo`): for two classes one binary problem, for more one per pair
of classes (**one-vs-one**, as ``SVC``), each on the training rows of its two classes,
labels :math:`+1` for the later class of the pair. The decision of a pair is
:math:`f(x) = \sum_i a_i y_i K(x_i, x) - \rho`; a class is predicted by the votes of the
pairs (ties to the first class), as ``SVC.predict``.

**Held-out loss** (the smooth surrogate that the descent follows): the logistic loss of
the margin after the best scaling of the decision function,
:math:`\min_s \mathrm{mean}\,\log(1 + e^{-s\,y f(x)})` (:func:`scaled_logistic_loss`),
over the held-out rows of each pair's two classes, averaged over the pairs. Unscaled,
the logistic loss of the margin would favour large ``C`` (a larger decision function)
rather than a better one. **Score** (what ranks the points): the
held-out accuracy of the votes.

**Hypergradient** (``hypergradient="kkt"``, exact): with F the free coefficients
(:math:`0 < a_i < C`) and U those at ``C``, the KKT conditions
:math:`(Qa)_F - \mathbf 1 - \rho\, y_F = 0`, :math:`y^T a = 0` hold on a neighbourhood
of :math:`\lambda = [C, \gamma]` where the sets do not change; differentiating them,

.. math::

    \begin{bmatrix} Q_{FF} & -y_F \\ y_F^T & 0 \end{bmatrix}
    \begin{bmatrix} \partial a_F \\ \partial\rho \end{bmatrix}
    = -\begin{bmatrix} Q_{FU}\,\partial a_U + (\partial_\gamma Q\, a)_F \\
    y_U^T\,\partial a_U \end{bmatrix},
    \qquad \partial_C a_U = w_U,

solved once per pair in its transposed (adjoint) form. With per-sample bounds
:math:`C_i = C w_i` (sample weights times class weights, as libsvm's; rows of weight 0
left out, as scikit-learn's) U holds the :math:`a_i = C w_i`; without weights
:math:`w = \mathbf 1`. The engines of
:mod:`skhypergrad.hypergrad` (``"aid-fp"``, ``"itd"``, ``"aid-cg"``: GMRES) give the
same gradient through :class:`~skhypergrad.svm.SVCDualMap`, with :math:`\rho` read from
``a`` as the mean of :math:`y_i G_i` on F. At a change of the sets (a coefficient
reaching 0 or ``C``) the loss has a kink and this is one of its one-sided derivatives.

This module holds the estimator :class:`SVCHyperGrad` and exports the parts it is built
from: the surrogate loss (:mod:`skhypergrad._svc_loss`), the rows' weights
(:mod:`skhypergrad._svc_weights`), the criterion and its hypergradients
(:mod:`skhypergrad._svc_criterion`) and the search (:mod:`skhypergrad._svc_search`).
"""

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.svm import SVC
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from ._base import check_fit_sample_weight
from ._kernel_estimator import BaseKernelHyperGrad, hypergradient_options
from ._kernel_search import best_entry, kernel_folds
from ._svc_criterion import SVCCriterion
from ._svc_loss import scaled_logistic_loss
from ._svc_search import search_svc
from ._svc_weights import fold_weights, training_weights
from ._validation import check_fold_weights, cv_splits

__all__ = ["SVCCriterion", "SVCHyperGrad", "search_svc", "scaled_logistic_loss",
           "fold_weights", "training_weights"]


class SVCHyperGrad(ClassifierMixin, BaseKernelHyperGrad):
    r"""Support vector classifier with ``C`` and ``gamma`` tuned by hypergradient descent.

    Searches :math:`\log C` and :math:`\log\gamma` of scikit-learn's
    :class:`~sklearn.svm.SVC` by K-fold cross-validation (:mod:`skhypergrad.svc`): a
    scan of a coarse grid (``C`` from 0.01 to 1e3, ``gamma`` from 1e-3 to 100 times
    scikit-learn's ``"scale"`` width, rows cut past their lowest loss), then L-BFGS-B
    on the held-out logistic loss of the margin after the best scaling (a smooth
    surrogate of the decision function, :func:`scaled_logistic_loss`), the gradient
    from implicit differentiation of the dual solution, then a compass search on the
    accuracy around its best point (:func:`search_svc`). The evaluated point of highest
    cross-validated accuracy is kept (the lowest surrogate loss among ties), and an
    ``SVC`` refit there on all the data predicts (``svc_``). Binary and multiclass
    (one-vs-one, as ``SVC``). Sample weights and class weights scale each row's bound,
    :math:`C_i = C\,w_i\,c_{y_i}`, as ``SVC``'s (:func:`fold_weights`).

    **Memory**: each fold keeps two dense matrices of its training rows against all its
    rows (the squared distances and the kernel; the derivative in ``gamma`` is formed
    on the free rows only): about ``16 n^2`` bytes per fold. A fit that would take more
    than half of the available memory is refused with a ``MemoryError``
    (:func:`~skhypergrad.kernels.check_kernel_memory`). Sparse ``X`` is not supported.

    Parameters
    ----------
    kernel : {"rbf", "laplacian", "poly", "sigmoid", "linear", "precomputed"}, default="rbf"
        The kernel (see :mod:`skhypergrad.kernels`); without a width only ``C`` is tuned.
    degree : float, default=3
        Degree of "poly".
    coef0 : float, default=1
        Constant of "poly" and "sigmoid" (scikit-learn's ``SVC`` defaults to 0; here 1, so that the
        width matters; the refit uses this value).
    class_weight : dict or "balanced", default=None
        ``SVC``'s: the bound of a row of class ``k`` is multiplied by the weight of
        ``k`` (computed on each training fold's labels for "balanced").
    cv : int or cross-validation generator, default=5
    hypergradient : {"kkt"} or engine name or BaseEngine, default="kkt"
        "kkt" (exact, module docstring), or an engine of :mod:`skhypergrad.hypergrad`
        ("aid-fp", "itd", "aid-cg").
    max_iter : int, default=30
        Steps of the descent after the scan.
    tol : float, default=1e-4
        Relative improvement under which the descent stops.
    optimizer : str or optimizer, default="lbfgs"

    Attributes
    ----------
    C_ : float
    gamma_ : float or None
    svc_ : sklearn.svm.SVC
        Refit on all the data at ``C_``, ``gamma_``.
    classes_ : ndarray
    best_score_ : float
        Cross-validated accuracy at the chosen point.
    history_ : list of dict
    n_iter_ : int
    n_features_in_ : int

    Examples
    --------
    >>> from sklearn.datasets import make_moons
    >>> from skhypergrad import SVCHyperGrad
    >>> X, y = make_moons(100, noise=0.2, random_state=0)
    >>> clf = SVCHyperGrad(cv=3, max_iter=5).fit(X, y)
    >>> bool(clf.best_score_ > 0.9)
    True
    """

    _parameter_constraints = {**BaseKernelHyperGrad._parameter_constraints,
                              "class_weight": [dict, StrOptions({"balanced"}), None],
                              "hypergradient": hypergradient_options("kkt")}

    def __init__(self, kernel="rbf", *, degree=3, coef0=1, class_weight=None, cv=5,
                 hypergradient="kkt", max_iter=30, tol=1e-4, optimizer="lbfgs"):
        self.kernel = kernel
        self.degree = degree
        self.coef0 = coef0
        self.class_weight = class_weight
        self.cv = cv
        self.hypergradient = hypergradient
        self.max_iter = max_iter
        self.tol = tol
        self.optimizer = optimizer

    def fit(self, X, y, sample_weight=None):
        """Tune ``C`` (and ``gamma``) by cross-validation, then refit an ``SVC``.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Dense data, or the kernel (n_samples, n_samples) for "precomputed".
        y : array-like of shape (n_samples,)
            Class labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative: each row's bound is :math:`C w_i` (a row of weight 0 is left
            out), as ``SVC.fit(X, y, sample_weight)``; the held-out surrogate loss and
            accuracy are weighted by them too; the refit gets them.

        Returns
        -------
        self
        """
        X, y = self._check_fit_data(X, y)
        check_classification_targets(y)
        sw = None if sample_weight is None else check_fit_sample_weight(sample_weight, X)
        enc = LabelEncoder().fit(y)
        self.classes_ = enc.classes_
        if self.classes_.shape[0] < 2:
            raise ValueError(f"The number of classes has to be greater than one; got "
                             f"{self.classes_.shape[0]} class.")
        if isinstance(self.class_weight, dict) and \
                not set(self.class_weight) <= set(self.classes_):
            raise ValueError(f"The class_weight dict must have class labels as keys; "
                             f"classes are {self.classes_}, got the keys "
                             f"{sorted(self.class_weight)}.")
        spec = self._spec()
        codes = enc.transform(y)
        splits = cv_splits(self.cv, X, codes, classifier=True)
        check_fold_weights(splits, sw, sw)
        folds = kernel_folds(X, codes, splits, precomputed=spec.kernel == "precomputed")
        weights, test_weights = fold_weights(y, splits, sw, self.class_weight)
        history, self.n_iter_ = search_svc(spec, folds, self.classes_.shape[0],
                                           self.hypergradient, self.optimizer,
                                           self.max_iter, self.tol, weights=weights,
                                           test_weights=test_weights)
        best = history[best_entry(history)]
        self.history_ = history
        self.best_score_ = float(np.mean(best["scores"]))
        self.C_ = float(best["lam"][0])
        self.gamma_ = float(best["lam"][1]) if spec.has_gamma else None
        self.svc_ = SVC(C=self.C_, kernel=self._libsvm_kernel(self.gamma_), degree=self.degree,
                        coef0=self.coef0, gamma=self.gamma_ or "scale",
                        class_weight=self.class_weight, tol=1e-6).fit(X, y, sample_weight=sw)
        return self

    def decision_function(self, X):
        """The refit ``SVC``'s decision function.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_classes)
        """
        check_is_fitted(self)
        X = self._check_X(X)
        return self.svc_.decision_function(X)

    def predict(self, X):
        """The refit ``SVC``'s predictions.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        X = self._check_X(X)
        return self.svc_.predict(X)
