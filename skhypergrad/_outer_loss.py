"""The held-out loss as the outer function of an inner problem (:func:`_heldout_loss`
makes it for a model and a loss name), and the sparse products it reads its rows
and columns with.

The held-out loss is chosen separately from the inner datafit: a datafit declares
the losses it can be scored by (``outer_losses``, the first for ``loss="auto"``),
and each loss name is a mean loss of its own (:data:`OUTER_LOSSES`), e.g. the
squared error for a Huber model. A loss may also name the datafits it scores when
it is registered (the Brier score, ``"brier"``, of the logistic model: a
:class:`BrierLoss` of its logits; ``"multinomial_brier"`` of the multinomial model).
A loss that is only ever a held-out loss (not a datafit) derives from
:class:`HeldOutLoss`.
"""

import numpy as np
import scipy.sparse as sp
from numba import njit
from scipy.special import expit, softmax

from ._compact_states import SparseVector, _expand
from ._design import Design
from ._core_datafits import Logistic, Quadratic
from ._sample_weight import check_sample_weight, weighted_mean
from ._weighted_datafit import weighted
from .hypergrad._protocols import OuterGradient

#: a dense ``X`` predicts from the columns of the nonzero coefficients when they are
#: fewer than ``p / _SUPPORT_FRACTION``
_SUPPORT_FRACTION = 4

#: held-out losses: name -> ``datafit -> (mean-loss datafit, factor)``, the loss being
#: ``factor`` times the mean loss of the first on the encoded targets of the model's
#: ``datafit``
OUTER_LOSSES = {
    # Quadratic's loss is ||r||^2 / (2 n): twice it is the mean squared error
    "squared": lambda datafit: (Quadratic(), 2.0),
    "logistic": lambda datafit: (Logistic(), 1.0),
    "multinomial": lambda datafit: (datafit, 1.0),  # the model's, with its classes
}


#: held-out losses a datafit is scored by besides its own ``outer_losses``: loss name ->
#: names of those datafits
_ALSO_FOR = {}


def register_outer_loss(name, factory, datafits=()):
    """Make ``name`` a held-out loss: ``factory(datafit) -> (mean-loss datafit, factor)``
    for a model whose datafit is ``datafit`` (whose ``outer_losses`` names it, or whose
    name is in ``datafits``)."""
    OUTER_LOSSES[name] = factory
    if datafits:
        _ALSO_FOR[name] = tuple(datafits)


class HeldOutLoss:
    """A mean loss used only as a held-out loss: ``loss(y, z)`` (the mean) and
    ``raw_grad(y, z)`` (its gradient in the predictions ``z``), weighted by the rows'
    ``sample_weight`` (rescaled to mean 1; None: unit weights)."""

    def __init__(self, sample_weight=None):
        self.sample_weight = sample_weight

    def with_weights(self, sample_weight):
        """The loss of the rows weighted by ``sample_weight`` (rescaled to mean 1)."""
        return type(self)(check_sample_weight(sample_weight, np.shape(sample_weight)[0]))

    def __repr__(self):
        return f"{type(self).__name__}()"


class BrierLoss(HeldOutLoss):
    r"""Binary Brier score on the logistic model's labels :math:`y_i = \pm 1`, as a
    mean loss of the predictions :math:`z` (the logits).

    .. math::

        \ell(y, z) = (\sigma(z) - t)^2, \quad t = (1 + y) / 2, \qquad
        \partial_z \ell = 2 (\sigma(z) - t)\, \sigma(z) (1 - \sigma(z)),

    ``sklearn.metrics.brier_score_loss`` of the probability of the second class.
    Only ``loss`` and ``raw_grad`` (the mean and its gradient in ``z``), as the
    held-out loss reads them. With ``sample_weight`` (of the rows, rescaled to mean 1,
    see :meth:`with_weights`), the weighted mean :math:`\frac1n\sum_i s_i \ell_i`.
    """

    def loss(self, y, z):
        return weighted_mean((expit(z) - 0.5 * (1.0 + y)) ** 2, self.sample_weight)

    def raw_grad(self, y, z):
        p = expit(z)
        g = 2.0 * (p - 0.5 * (1.0 + y)) * p * (1.0 - p) / y.shape[0]
        return g if self.sample_weight is None else g * self.sample_weight


register_outer_loss("brier", lambda datafit: (BrierLoss(), 1.0), datafits=("logistic",))


class MultinomialBrierLoss(HeldOutLoss):
    r"""Multiclass Brier score of the multinomial model, as a mean loss of its logits
    :math:`z_i` (shape (n, K)), on class indices :math:`y_i`.

    With :math:`p_i = \mathrm{softmax}(z_i)` and :math:`t_i` the one-hot label,

    .. math::

        \ell(y_i, z_i) = \sum_k (p_{ik} - t_{ik})^2, \qquad
        \partial_{z_{ik}} \ell = 2 p_{ik} \big((p_{ik} - t_{ik})
        - \textstyle\sum_c p_{ic} (p_{ic} - t_{ic})\big),

    ``sklearn.metrics.brier_score_loss`` of the class probabilities for three
    classes or more (not halved). Weighted as :class:`BrierLoss`.
    """

    @staticmethod
    def _residuals(y, z):
        P = softmax(z, axis=1)
        R = P.copy()
        R[np.arange(y.shape[0]), y] -= 1.0
        return P, R

    def loss(self, y, z):
        _, R = self._residuals(y, z)
        return weighted_mean(np.einsum("ik,ik->i", R, R), self.sample_weight)

    def raw_grad(self, y, z):
        P, R = self._residuals(y, z)
        G = 2.0 * P * (R - np.einsum("ik,ik->i", P, R)[:, None]) / y.shape[0]
        return G if self.sample_weight is None else G * self.sample_weight[:, None]


register_outer_loss("multinomial_brier", lambda datafit: (MultinomialBrierLoss(), 1.0),
                    datafits=("multinomial",))


def _weigh_outer(loss_datafit, sample_weight):
    """The mean-loss ``loss_datafit`` of a held-out loss weighted by ``sample_weight``
    (itself for None): a datafit by :func:`~skhypergrad.datafits.weighted`, a
    held-out-only :class:`HeldOutLoss` by its own ``with_weights``."""
    if sample_weight is None:
        return loss_datafit
    if isinstance(loss_datafit, HeldOutLoss):
        return loss_datafit.with_weights(sample_weight)
    return weighted(loss_datafit, sample_weight)


class _OuterLoss:
    r"""Outer function :math:`C(w) = a\,F_{\mathrm{val}}(w) + u^T z(w)`, :math:`z = X w + b`.

    ``F_val`` is a datafit's mean loss on ``(design, y)``; ``u`` an optional
    linear term on the predictions. With ``rows`` (a CSR ``design.X`` and one
    output), ``X`` is the rows ``rows`` of ``design.X``, read in place (no copy
    of them: a cross-validation fold's held-out rows), with the sums of the copy;
    with ``columns`` too (sorted), ``X`` is also restricted to those columns:
    coefficient ``k`` of ``w`` multiplies column ``columns[k]`` of ``design.X``
    (a fold trained on the columns its training rows use). A sparse design centred
    implicitly (its ``sparse_offset`` :math:`\mu`, one entry per coefficient)
    predicts :math:`Xw - \mu^T w + b`, and its gradient in the coefficients is
    :math:`X^T g - \mu\, 1^T g`.
    """

    def __init__(self, design, y, datafit, factor=1.0, linear=None, rows=None, columns=None):
        if columns is not None and rows is None:
            raise ValueError("columns are only read with rows (CSR rows read in place).")
        self.design = design
        self.y = y
        self.datafit = datafit
        self.factor = factor
        self.linear = linear
        self.rows = rows
        self.columns = columns
        #: the number of coefficients of ``w`` per output (its intercepts follow)
        self.n_features = design.n_features if columns is None else columns.shape[0]
        #: column means subtracted implicitly (sparse design, one per coefficient), or None
        self.mu = design.sparse_offset
        #: ``w -> grad C(w)`` as the engines take it; ``value`` and ``grad`` read a compact
        #: ``w`` (SparseVector) as it is, and ``grad_take`` gives entries alone
        self.grad = _HeldOutGradient(self)
        #: ``(w, z)``: a copy of the last dense ``w`` predicted on a dense ``X``, and ``z``
        self._last = None

    def _columns(self, k):
        """The columns of ``design.X`` that coefficients ``k`` multiply."""
        return k if self.columns is None else self.columns[k]

    def _kernel_args(self):
        """``(data, indices, indptr, rows)`` of the rows read in place."""
        X = self.design.X
        return X.data, X.indices, X.indptr, self.rows

    def _with_intercept(self, z, w):
        """``z + b - mu^T w`` (``b`` the intercept entry of ``w``, dense or compact; ``mu``
        the column means subtracted implicitly, if any) for one output."""
        p = self.n_features
        if self.mu is not None:
            if isinstance(w, SparseVector):
                coef = w.indices < p
                z = z - self.mu[w.indices[coef]] @ w.values[coef]
            else:
                z = z - self.mu @ w[:p]
        if not self.design.fit_intercept:
            return z
        if isinstance(w, SparseVector):
            b = w.values[w.indices >= p]
            return z + (b[0] if b.shape[0] else 0.0)
        return z + w[p]

    def _predict(self, w):
        """``z = X w + b`` for ``w`` dense or a :class:`SparseVector` (:meth:`_predictions`);
        on a dense ``X``, those of a dense ``w`` kept until the next one, so that the value
        and the gradient at one point (an evaluation with its hypergradient) make one pass
        over ``X`` (``w`` compared by value, a copy kept: ``p`` entries against the ``n p``
        of ``X``, never a sparse ``X``'s ``p``-vector; the callers only read ``z``)."""
        if not isinstance(w, np.ndarray) or self.design.is_sparse:
            return self._predictions(w)
        last = self._last
        if last is not None and last[0].shape == w.shape and np.array_equal(last[0], w):
            return last[1]
        z = self._predictions(w)
        self._last = (w.copy(), z)
        return z

    def _predictions(self, w):
        """``z = X w + b`` for ``w`` dense or a :class:`SparseVector`.

        With one output, a compact ``w`` is read on its nonzero columns (a sparse ``X``:
        the same sums as the dense product, bit for bit), and so is a dense ``w`` when
        ``X`` is dense and they are fewer than ``p / 4``: the same sums for both."""
        design = self.design
        if self.rows is not None:
            z = np.empty(self.rows.shape[0])
            if isinstance(w, SparseVector):
                coef = w.indices < self.n_features
                _csr_rows_matvec_subset(*self._kernel_args(), self._columns(w.indices[coef]),
                                        w.values[coef], z)
            elif self.columns is not None:
                nz = np.flatnonzero(w[:self.n_features])
                _csr_rows_matvec_subset(*self._kernel_args(), self.columns[nz], w[nz], z)
            else:
                _csr_rows_matvec(*self._kernel_args(), design.coef(w), z)
            return self._with_intercept(z, w)
        X = design.X
        if design.n_outputs != 1 or (design.is_sparse and not isinstance(w, SparseVector)):
            return design.matvec(_expand(w))
        p = design.n_features
        if isinstance(w, SparseVector):
            coef = w.indices < p
            cols, vals = w.indices[coef], w.values[coef]
            if design.is_sparse:
                return self._with_intercept(np.asarray(X[:, cols] @ vals), w)
            nnz = cols.shape[0]
        else:
            nnz = np.count_nonzero(w[:p])
        if _SUPPORT_FRACTION * nnz >= p:
            return design.matvec(_expand(w))
        if not isinstance(w, SparseVector):
            cols = np.flatnonzero(w[:p])
            vals = w[cols]
        # a sparse w on a dense X: its columns only (a copy of n |S| entries, not a pass
        # over X)
        return self._with_intercept(X[:, cols] @ vals, w)

    def _rmatvec(self, gz):
        """``design.rmatvec(gz)``; for a sparse ``X`` and one output written into the
        result directly (no ``p``-sized temporary), with scipy's sums."""
        design = self.design
        X = design.X
        if not (design.is_sparse and X.format in ("csr", "csc") and design.n_outputs == 1
                and gz.ndim == 1):
            return design.rmatvec(gz)
        p = self.n_features
        out = np.zeros(p + int(design.fit_intercept))
        u = np.ascontiguousarray(gz, dtype=np.float64)
        if self.columns is not None:
            _csr_rows_rmatvec_subset(*self._kernel_args(), u, self.columns, out)
        elif self.rows is not None:
            _csr_rows_rmatvec(*self._kernel_args(), u, out)
        elif X.format == "csr":
            _csr_rmatvec(X.data, X.indices, X.indptr, u, out)
        else:
            _csc_rmatvec(X.data, X.indices, X.indptr, u, out)
        if self.mu is not None:
            out[:p] -= self.mu * gz.sum()
        if design.fit_intercept:
            out[p] = gz.sum(axis=0)
        return out

    def value(self, w):
        z = self._predict(w)
        out = self.factor * self.datafit.loss(self.y, z) if self.factor else 0.0
        if self.linear is not None:
            out += float(self.linear @ z)
        return float(out)

    def _grad_z(self, w):
        """The gradient in the predictions ``z``."""
        z = self._predict(w)
        gz = self.factor * self.datafit.raw_grad(self.y, z) if self.factor \
            else np.zeros_like(z)
        if self.linear is not None:
            gz = gz + self.linear
        return gz

    def grad_take(self, w, indices):
        """``grad(w)[indices]``, for one output from those columns only (no ``p``-sized
        array; for a sparse ``X`` the same sums, bit for bit)."""
        design, X = self.design, self.design.X
        if design.n_outputs != 1 or (design.is_sparse and X.format not in ("csr", "csc")):
            return self.grad(_expand(w)).take(indices)
        gz = self._grad_z(w)
        indices = np.asarray(indices)
        is_coef = indices < self.n_features
        out = np.empty(indices.shape[0])
        if not design.is_sparse:
            out[is_coef] = gz @ X[:, indices[is_coef]]
        elif self.rows is not None:
            cols, where = np.unique(indices[is_coef], return_inverse=True)
            at_cols = np.zeros(cols.shape[0])
            _csr_rows_rmatvec_subset(*self._kernel_args(),
                                     np.ascontiguousarray(gz, dtype=np.float64),
                                     self._columns(cols), at_cols)
            out[is_coef] = at_cols[where.ravel()]
        else:
            out[is_coef] = np.asarray(X[:, indices[is_coef]].T @ gz).ravel()
        if self.mu is not None:
            out[is_coef] -= self.mu[indices[is_coef]] * gz.sum()
        out[~is_coef] = gz.sum(axis=0)
        return out


class _HeldOutGradient(OuterGradient):
    """The gradient of an :class:`_OuterLoss` as the engines read it: a new array at every
    call, entries alone by ``take``, a compact ``w`` read as it is."""

    returns_new_array = True
    reads_entries = True
    reads_compact_w = True

    def __init__(self, outer):
        self.outer = outer

    def __call__(self, w):
        outer = self.outer
        return outer._rmatvec(outer._grad_z(w))

    def take(self, w, indices):
        return self.outer.grad_take(w, indices)


def _heldout_loss(model, loss, X_val, y_val_encoded, rows=None, columns=None, frame=None,
                  sample_weight=None):
    r"""Mean held-out loss of ``model`` on encoded validation data, as an outer function.

    ``loss``: a name of :data:`OUTER_LOSSES` the model's datafit declares, or "auto"
    (its first). ``"squared"``: :math:`\frac{1}{n_{val}}\|X_{val} w + b - y_{val}\|^2`;
    ``"logistic"`` / ``"multinomial"``: the mean log-loss (natural log). With
    ``rows``, the validation data are ``X_val[rows]`` (``y_val_encoded`` already
    those rows'), read in place from a CSR ``X_val`` for one output (copied otherwise),
    and with ``columns`` (sorted; only with ``rows``) their columns ``columns``.
    ``frame``: the training map's design when it is centred (see
    :mod:`skhypergrad._design`): its column means are subtracted from the
    validation rows (from a copy of dense rows; implicitly from sparse ones, read
    in place) and its target mean from the validation targets, so that ``w`` is
    read in the training map's coordinates. ``sample_weight`` (of the validation
    rows, as ``y_val_encoded``): the weighted mean loss
    :math:`\sum_i s_i \ell_i / \sum_i s_i`, as scikit-learn's metrics take
    ``sample_weight``.
    """
    loss_datafit, factor = _outer_datafit(loss, model)
    loss_datafit = _weigh_outer(loss_datafit, sample_weight)
    datafit = model.get_datafit()
    if rows is not None and not (sp.issparse(X_val) and X_val.format == "csr"
                                 and datafit.n_outputs == 1):
        X_val, rows = X_val[rows], None
        if columns is not None:
            X_val, columns = X_val[:, columns], None
    offset = None if frame is None else frame.offset
    if offset is not None:
        if not sp.issparse(X_val):  # (rows is None: dense rows are copied above)
            X_val = X_val - offset
        if np.any(frame.target_offset):
            y_val_encoded = y_val_encoded - frame.target_offset
    design = Design(X_val, model.fit_intercept, datafit.n_outputs, offset,
                    0.0 if frame is None else frame.target_offset)
    return _OuterLoss(design, y_val_encoded, loss_datafit, factor, rows=rows, columns=columns)


def _check_loss(loss, model):
    """The held-out loss name ``loss`` resolves to for ``model`` ("auto": its datafit's
    first ``outer_losses``); ValueError for a loss the model cannot be scored by."""
    allowed = model.datafit_class.outer_losses
    allowed = allowed + tuple(name for name, datafits in _ALSO_FOR.items()
                              if model.datafit_class.name in datafits)
    if loss == "auto":
        return allowed[0]
    if loss not in allowed:
        known = ("auto",) + tuple(OUTER_LOSSES)
        if loss not in known:
            raise ValueError(f"loss must be one of {known}, got {loss!r}.")
        raise ValueError(f"loss={loss!r} does not match the model's datafit; use one of "
                         f"{('auto',) + tuple(allowed)}.")
    return loss


def _outer_datafit(loss, model):
    """``(mean-loss datafit, factor)`` of the held-out loss ``loss`` for ``model``."""
    return OUTER_LOSSES[_check_loss(loss, model)](model.get_datafit())


@njit(cache=True)
def _csr_rmatvec(data, indices, indptr, u, out):
    """``out[:p] += X^T u`` for CSR ``X``, in scipy's order (``csc_matvec`` of ``X^T``)."""
    for i in range(indptr.shape[0] - 1):
        ui = u[i]
        for k in range(indptr[i], indptr[i + 1]):
            out[indices[k]] += data[k] * ui


@njit(cache=True)
def _csr_rows_matvec(data, indices, indptr, rows, x, out):
    """``out[t] = X[rows[t]] . x`` for CSR ``X``: ``X[rows] @ x`` in scipy's order
    (``csr_matvec`` of the copy), without the copy."""
    for t in range(rows.shape[0]):
        i = rows[t]
        s = 0.0
        for k in range(indptr[i], indptr[i + 1]):
            s += data[k] * x[indices[k]]
        out[t] = s


@njit(cache=True)
def _csr_rows_matvec_subset(data, indices, indptr, rows, cols, vals, out):
    """``out[t] = X[rows[t], cols] . vals`` for CSR ``X`` and sorted distinct ``cols``:
    ``X[rows][:, cols] @ vals`` in scipy's order (a row's entries as stored)."""
    m = cols.shape[0]
    for t in range(rows.shape[0]):
        i = rows[t]
        s = 0.0
        for k in range(indptr[i], indptr[i + 1]):
            pos = np.searchsorted(cols, indices[k])
            if pos < m and cols[pos] == indices[k]:
                s += data[k] * vals[pos]
        out[t] = s


@njit(cache=True)
def _csr_rows_rmatvec(data, indices, indptr, rows, u, out):
    """``out[:p] += X[rows]^T u`` for CSR ``X``, in scipy's order (:func:`_csr_rmatvec` of
    the copy), without the copy."""
    for t in range(rows.shape[0]):
        i = rows[t]
        ut = u[t]
        for k in range(indptr[i], indptr[i + 1]):
            out[indices[k]] += data[k] * ut


@njit(cache=True)
def _csr_rows_rmatvec_subset(data, indices, indptr, rows, u, cols, out):
    """``out += X[rows][:, cols]^T u`` for CSR ``X`` and sorted distinct ``cols``, in
    scipy's order (``csc_matvec`` of the transposed copy: rows in turn)."""
    m = cols.shape[0]
    for t in range(rows.shape[0]):
        i = rows[t]
        ut = u[t]
        for k in range(indptr[i], indptr[i + 1]):
            pos = np.searchsorted(cols, indices[k])
            if pos < m and cols[pos] == indices[k]:
                out[pos] += data[k] * ut


@njit(cache=True)
def _csc_rmatvec(data, indices, indptr, u, out):
    """``out[:p] = X^T u`` for CSC ``X``, in scipy's order (``csr_matvec`` of ``X^T``)."""
    for j in range(indptr.shape[0] - 1):
        s = 0.0
        for k in range(indptr[j], indptr[j + 1]):
            s += data[k] * u[indices[k]]
        out[j] = s
