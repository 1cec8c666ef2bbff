r"""Inner models: what is trained for given hyperparameters, independent of the data.

An :class:`InnerModel` names a datafit, a penalty and whether an intercept is
fitted. Given rows of a design and their targets it builds the proximal-gradient
fixed-point map (:class:`~skhypergrad.fixed_point.ProxGradMap`) of

.. math::

    w^*(\lambda) = \arg\min_w \; F(w) + G_\lambda(w), \qquad
    F(w) = \frac{1}{n} \sum_{i=1}^n \ell(y_i, x_i^T w + b),

for *any* subset of rows, so the same object describes the model trained on the
full data, on one cross-validation fold or on a perturbed target. It is a frozen
dataclass: picklable (joblib workers receive it), comparable by fields, never
mutated.

:func:`from_estimator` converts a scikit-learn ``Lasso``, ``ElasticNet``,
``LogisticRegression`` or ``LinearSVC`` to an inner model carrying its current
hyperparameters.
"""

import functools
import inspect
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from sklearn.preprocessing import LabelEncoder

from ._datafit_contract import BaseDatafit, check_datafit, datafit_class
from ._weighted_datafit import weighted
from .fixed_point import ProxGradMap
from .penalties import L1, L2, BasePenalty, ElasticNetPenalty, WeightedL1, WeightedL2, check_hyper

__all__ = ["InnerModel", "from_estimator"]

_PENALTIES = {"l1": L1, "elasticnet": ElasticNetPenalty, "weighted_l1": WeightedL1, "l2": L2,
              "weighted_l2": WeightedL2}


@dataclass(frozen=True, eq=False)
class InnerModel:
    r"""A regularized linear model as a datafit, a penalty and an intercept flag.

    Parameters
    ----------
    datafit : str or datafit instance, default="quadratic"
        :math:`F`: the name of a registered datafit (see
        :func:`~skhypergrad.datafits.register_datafit`): "quadratic" (least squares
        :math:`\frac{1}{2n}\|y - Xw - b\|^2`), "logistic" (binary,
        :math:`\frac1n \sum_i \log(1 + e^{-y_i (x_i^T w + b)})`) or "multinomial"
        (log-loss), or an instance of a :class:`~skhypergrad.datafits.BaseDatafit`
        subclass (e.g. with parameters of its own). Anything else raises a
        ValueError here, as does the name of a regression datafit that needs
        parameters (``"multitask_quadratic"``: pass ``MultiTaskQuadratic(n_tasks)``).
    penalty : str or penalty instance, default="l1"
        :math:`G_\lambda`, by name "l1", "elasticnet", "weighted_l1", "l2" or
        "weighted_l2": :math:`\lambda_1\|w\|_1` (``lam = [lam1]``),
        :math:`\lambda_1\|w\|_1 + \frac{\lambda_2}{2}\|w\|^2` (``lam = [lam1, lam2]``),
        :math:`\sum_j \lambda_j |w_j|` (one ``lam`` per feature),
        :math:`\frac{\lambda_2}{2}\|w\|^2` (``lam = [lam2]``) or
        :math:`\frac12 \sum_j \lambda_j w_j^2` (one ``lam`` per feature).
    fit_intercept : bool, default=False
        Fit an unpenalized intercept :math:`b`.
    lam : array-like, default=None
        Current hyperparameters (not their log). Read only by
        :func:`skhypergrad.hypergradient`; criteria take ``lam`` explicitly.
    classes : ndarray, default=None
        Labels of a classifier, in the order of their encoding; set by
        :meth:`bind` from the targets (user labels of any type).
    positive : bool, default=False
        Nonnegative coefficients (the ``positive`` of a penalty named by a string;
        a penalty instance carries its own).

    Examples
    --------
    >>> from skhypergrad.models import InnerModel
    >>> InnerModel("quadratic", "weighted_l1", lam=[0.1, 0.2, 0.3])  # doctest: +ELLIPSIS
    InnerModel(datafit='quadratic', penalty='weighted_l1', fit_intercept=False, lam=...)
    """

    datafit: Any = "quadratic"
    penalty: Any = "l1"
    fit_intercept: bool = False
    lam: Any = None
    classes: Any = None
    positive: bool = False

    def __post_init__(self):
        # an unknown datafit, or a name whose datafit needs parameters, is refused here,
        # not in a solver
        if not self.datafit_class.is_classifier and isinstance(self.datafit, str):
            self.get_datafit()
        for name in ("fit_intercept", "positive"):  # 'no' would be True
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}.")

    # -- description ----------------------------------------------------------------
    @property
    def datafit_class(self):
        """The datafit's class, from its registered name or its instance (ValueError for
        anything else)."""
        df = self.datafit
        if isinstance(df, str):
            return datafit_class(df)
        return type(check_datafit(df))

    @property
    def is_classifier(self):
        """Whether targets are class labels (the datafit's ``is_classifier``)."""
        return self.datafit_class.is_classifier

    @property
    def smooth_criterion(self):
        """Whether a held-out loss of the model is a smooth function of ``lam``: a
        datafit declaring ``smooth_hessian`` (its solutions' Hessian continuous in the
        coefficients) and a penalty without an L1 part or a sign constraint (no support
        to enter or leave), so that :math:`w^*(\\lambda)` is smooth and the criterion has
        no kinks."""
        penalty = self.get_penalty()
        return bool(self.datafit_class.smooth_hessian) and not penalty.has_l1 \
            and not penalty.positive

    def get_penalty(self):
        """The penalty instance."""
        pen = self.penalty
        if isinstance(pen, BasePenalty):
            return pen
        if isinstance(pen, str) and pen in _PENALTIES:
            return _PENALTIES[pen](positive=self.positive)
        raise ValueError(f"penalty must be one of {tuple(_PENALTIES)} or a penalty "
                         f"instance, got {pen!r}.")

    def get_datafit(self):
        """The datafit instance (a classifier's must be bound, see :meth:`bind`)."""
        cls = self.datafit_class
        given = self.datafit if isinstance(self.datafit, BaseDatafit) else None
        if not cls.is_classifier:
            return given if given is not None else _by_name(cls)
        n_classes = self._n_classes()
        expected = cls.for_classes(n_classes)
        if given is None:
            return expected
        if given.n_outputs != expected.n_outputs:
            raise ValueError(f"{given!r} but the targets have {n_classes} classes.")
        return given

    def _n_classes(self):
        if self.classes is None:
            raise ValueError("This classifier InnerModel has no classes yet; call "
                             "bind(y) with the full targets first.")
        return len(self.classes)

    # -- targets ------------------------------------------------------------------------
    def bind(self, y):
        """The same model with its ``classes`` read from the targets ``y``.

        Regression models and models already bound are returned unchanged, so
        binding on the full targets once, before any split, fixes the label
        encoding of every fold.

        Parameters
        ----------
        y : array-like of shape (n_samples,)

        Returns
        -------
        InnerModel
        """
        if not self.is_classifier or self.classes is not None:
            return self
        classes = LabelEncoder().fit(np.asarray(y)).classes_
        if len(classes) < 2:
            raise ValueError(f"y has {len(classes)} class; a classifier needs at least 2 "
                             "classes.")
        return replace(self, classes=classes)

    def encode(self, y):
        r"""Targets as the datafit uses them.

        Real values for regression (the datafit's ``encode``: float64, of shape
        (n, T) for a multi-task datafit; a ValueError for targets outside its domain,
        e.g. ``y < 0`` for the Poisson datafit); for classifiers the labels are
        mapped through ``classes`` (scikit-learn's ``LabelEncoder``) to class
        indices, then by the datafit's ``encode_classes``: :math:`\{-1, +1\}`
        (logistic, ``classes[1]`` is +1) or the indices (multinomial). Labels
        outside ``classes`` raise a ValueError.

        Parameters
        ----------
        y : array-like of shape (n_samples,)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        if not self.is_classifier:
            return self.get_datafit().encode(y)
        datafit = self.get_datafit()
        enc = LabelEncoder()
        enc.classes_ = np.asarray(self.classes)
        return datafit.encode_classes(enc.transform(np.asarray(y)))

    @property
    def n_datafit_hyper(self):
        """How many of the last entries of ``lam`` are the datafit's hyperparameters."""
        return self.get_datafit().n_hyper

    # -- problems -----------------------------------------------------------------------
    def with_data_constants(self, X, y_encoded, lam, sample_weight=None):
        """The model whose datafit has the constants it estimates from the training data
        ``(X, y_encoded)``, its rows weighted by ``sample_weight`` (None: all 1), at
        ``lam`` (e.g. Huber's scale, see
        :meth:`~skhypergrad.datafits.BaseDatafit.estimate_constants`); the model
        itself when its datafit estimates none."""
        datafit = self.get_datafit()
        if not datafit.estimates_constants:
            return self
        return replace(self, datafit=datafit.estimate_constants(
            self.make_map(X, y_encoded, center=True, sample_weight=sample_weight),
            self.check_lam(lam, X.shape[1])))

    def check_lam(self, lam, n_features):
        """``lam`` as a float64 array: the penalty's hyperparameters, then the datafit's
        (ValueError otherwise).

        Parameters
        ----------
        lam : array-like
            Hyperparameters (not their log), all >= 0.
        n_features : int

        Returns
        -------
        ndarray of shape (n_hyper,)
        """
        pen, datafit = self.get_penalty(), self.get_datafit()
        lam = np.atleast_1d(np.asarray(lam, dtype=np.float64))
        k = pen.n_hyper(n_features)
        if not datafit.n_hyper:
            return pen.check_lam(lam, n_features)
        if lam.shape != (k + datafit.n_hyper,):
            raise ValueError(f"{pen!r} with {datafit!r} takes {k + datafit.n_hyper} "
                             f"hyperparameter(s) (the penalty's {k}, then the datafit's "
                             f"{datafit.n_hyper}), got lam of shape {lam.shape}.")
        return np.concatenate([pen.check_lam(lam[:k], n_features), check_hyper(lam[k:])])

    def check_path(self, path, n_features):
        """The points of ``path`` (one ``lam`` per row) as a float64 array of shape
        ``(n_points, n_hyper)``, every row checked as by :meth:`check_lam` (all at once)."""
        pen, datafit = self.get_penalty(), self.get_datafit()
        lams = np.atleast_2d(np.asarray(path, dtype=np.float64))
        if not datafit.n_hyper:
            return pen.check_path(lams, n_features)
        k = pen.n_hyper(n_features)
        if lams.ndim != 2 or lams.shape[1] != k + datafit.n_hyper:
            raise ValueError(f"{pen!r} with {datafit!r} takes {k + datafit.n_hyper} "
                             f"hyperparameter(s) (the penalty's {k}, then the datafit's "
                             f"{datafit.n_hyper}), got points of shape {lams.shape}.")
        return np.concatenate([pen.check_path(lams[:, :k], n_features),
                               check_hyper(lams[:, k:])], axis=1)

    def make_map(self, X, y_encoded, lipschitz=None, center=False, sample_weight=None):
        """The fixed-point map of the model trained on ``(X, y_encoded)``.

        Parameters
        ----------
        X : ndarray or sparse matrix of shape (n_samples, n_features)
            Training rows, used as given (float64).
        y_encoded : ndarray of shape (n_samples,)
            Targets already passed through :meth:`encode`.
        lipschitz : float, default=None
            Lipschitz constant of the datafit's gradient on these rows, when known
            (carried in :class:`~skhypergrad.criteria.InnerState` between evaluations).
        center : {False, True, "inplace"}, default=False
            Centre a dense ``X`` when the model fits an intercept (see
            :class:`~skhypergrad.fixed_point.ProxGradMap`): what the criteria and
            estimators do, so that shifting the columns or the target changes nothing.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the rows (rescaled to mean 1): the datafit is then
            :func:`~skhypergrad.datafits.weighted`, the mean of ``s_i`` times the losses.

        Returns
        -------
        ProxGradMap
        """
        return ProxGradMap(weighted(self.get_datafit(), sample_weight), self.get_penalty(),
                           X, y_encoded,
                           fit_intercept=self.fit_intercept, lipschitz=lipschitz,
                           center=center)

    def __repr__(self):
        def short(v):
            return repr(v) if v is None or isinstance(v, (str, BaseDatafit, BasePenalty)) \
                else np.array2string(np.asarray(v), threshold=6)
        return (f"InnerModel(datafit={short(self.datafit)}, penalty={short(self.penalty)}, "
                f"fit_intercept={self.fit_intercept}, lam={short(self.lam)}"
                + (", positive=True" if self.positive else "")
                + (f", classes={short(self.classes)})" if self.classes is not None else ")"))


@functools.lru_cache(maxsize=None)
def _required_parameters(cls):
    """The parameters of the datafit class ``cls`` without a default (read once per class:
    ``inspect.signature`` costs about 0.15 ms, and a model's datafit is asked for at
    every evaluation)."""
    return tuple(name for name, par in inspect.signature(cls).parameters.items()
                 if par.default is inspect.Parameter.empty
                 and par.kind not in (par.VAR_POSITIONAL, par.VAR_KEYWORD))


def _by_name(cls):
    """The datafit ``cls()`` of a name, or a ValueError naming the parameters it needs."""
    needed = _required_parameters(cls)
    if needed:
        raise ValueError(f"datafit {cls.name!r} needs {', '.join(needed)}: pass an instance, "
                         f"{cls.__name__}({', '.join(needed)}=...), not its name.")
    return cls()


def from_estimator(estimator, y, *, n_samples=None, class_weight_applied=False):
    r"""The inner model and hyperparameters of a scikit-learn linear model.

    Conversions (``n`` is the number of samples of ``y``, the *full* training
    set given to the estimator, or ``n_samples``: the sum of the sample weights of
    a weighted fit, whose ``C`` multiplies the weighted sum of the losses):

    ==========================================  ===========================================
    estimator                                   ``lam``
    ==========================================  ===========================================
    ``Lasso(alpha)``                            :math:`[\alpha]` (penalty ``"l1"``)
    ``ElasticNet(alpha, l1_ratio=\rho)``        :math:`[\alpha\rho, \alpha(1-\rho)]`
    ``MultiTaskLasso(alpha)``                   :math:`[\alpha]` (block penalty)
    ``MultiTaskElasticNet(alpha, \rho)``        :math:`[\alpha\rho, \alpha(1-\rho)]` (block)
    ``LogisticRegression(C)``, L1               :math:`[1/(Cn)]`
    ``LogisticRegression(C, l1_ratio=\rho)``    :math:`[\rho/(Cn), (1-\rho)/(Cn)]`
    ``LogisticRegression(C)``, L2               :math:`[1/(Cn)]` (penalty ``"l2"``)
    ``Ridge(alpha)``                            :math:`[\alpha/n]` (penalty ``"l2"``)
    ``RidgeClassifier(alpha)``                  :math:`[\alpha/n]`, targets :math:`\pm 1`
    ``LinearSVC(C, penalty)``                   :math:`[1/(Cn)]` (penalty ``"l2"`` or ``"l1"``)
    ``PoissonRegressor(alpha)``, ``Gamma...``   :math:`[\alpha]` (penalty ``"l2"``)
    ``TweedieRegressor(alpha, power)``          :math:`[\alpha]`, 1 <= power <= 2, log link
    ``HuberRegressor(alpha, epsilon)``          :math:`[2\alpha/n, \epsilon]` (penalty ``"l2"``)
    ==========================================  ===========================================

    scikit-learn's GLMs minimize the mean half deviance plus
    :math:`\frac{\alpha}{2}\|w\|^2`: the datafits of :mod:`skhypergrad.glm`
    with the :class:`~skhypergrad.penalties.L2` penalty.

    scikit-learn's ``LogisticRegression`` minimizes :math:`C\sum_i \ell_i +
    \rho\|w\|_1 + \frac{1-\rho}{2}\|w\|^2`; dividing by :math:`Cn` gives the
    normalized objective used here. Its L1 / elastic-net choice is read from
    ``l1_ratio`` (scikit-learn >= 1.8, ``penalty`` left at its default; 0, the
    default, is the L2 penalty) or from the deprecated ``penalty="l1"`` /
    ``"l2"`` / ``"elasticnet"``; an unpenalized model raises a ValueError. Two
    classes give the binary logistic datafit, more give the multinomial one.

    scikit-learn's ``Ridge`` minimizes :math:`\|y - Xw - b\|^2 + \alpha\|w\|^2`, a
    *sum* of squares; dividing by :math:`2n` gives the normalized objective with
    :math:`\lambda_2 = \alpha / n`. ``RidgeClassifier`` is ``Ridge`` on the labels
    :math:`\pm 1` (one column per class, one-vs-all, for more than two classes; the
    datafits of :mod:`skhypergrad.ridge_classifier`).
    ``HuberRegressor`` minimizes
    :math:`\sum_i \sigma + \sigma H_\epsilon(r_i/\sigma) + \alpha\|w\|^2`: the
    :class:`~skhypergrad.huber.Huber` datafit, ``epsilon`` its hyperparameter, at the
    scale 1 until :meth:`InnerModel.with_data_constants` estimates it from data.

    ``LinearSVC`` (``loss="squared_hinge"``, one-vs-rest) gives the datafit
    "squared_hinge" (:mod:`skhypergrad.squared_hinge`) with ``fit_intercept=False``:
    liblinear penalizes its intercept as the weight of a synthetic feature, so its
    model is this one on ``append_intercept_column(X, intercept_scaling)`` when
    the estimator fits an intercept.

    Each supported class has one declared adapter
    (``ADAPTERS`` of ``skhypergrad._linear_adapters``), which does the conversion; any
    other estimator raises a ValueError listing the supported ones.

    Parameters
    ----------
    estimator : scikit-learn linear model
        ``Lasso``, ``ElasticNet``, ``MultiTaskLasso``, ``MultiTaskElasticNet``,
        ``Ridge``, ``RidgeClassifier``, ``LogisticRegression``, ``LinearSVC``, a
        log-link GLM regressor (``PoissonRegressor``, ``GammaRegressor``,
        ``TweedieRegressor``) or ``HuberRegressor`` (or a subclass of one).
        Unfitted or fitted; only its parameters are read.
    y : array-like of shape (n_samples,)
        Training targets (their classes for a classifier, their number for ``C``).
    n_samples : float, default=None
        The ``n`` of the conversions above when it is not the number of targets.
    class_weight_applied : bool, default=False
        Whether the caller multiplies the estimator's ``class_weight`` into the sample
        weights of the datafit itself (the inner model has none); otherwise an
        estimator with a ``class_weight`` raises a ValueError.

    Returns
    -------
    InnerModel
        With ``lam`` set, and bound to the classes of ``y`` for a classifier.
    """
    from ._linear_adapters import linear_adapter, supported_names

    adapter = linear_adapter(estimator)
    if adapter is None:
        raise ValueError(f"model must be a scikit-learn {supported_names()}, or a "
                         f"skhypergrad InnerModel; got {type(estimator).__name__}.")
    return adapter.inner_model(estimator, y, n_samples, class_weight_applied)
