"""Warm starts kept compact between evaluations: a vector as its nonzero entries, an
adjoint as the entries where it differs from the outer gradient.

For sparse ``X`` with many features, :class:`~skhypergrad.criteria.CrossVal`
keeps each fold's solution and adjoint in these forms between evaluations and
makes them dense only inside the fold being solved: K dense warm starts (and
adjoints) would otherwise outweigh ``X`` itself.
"""

import numpy as np

__all__ = ["SparseVector"]


class SparseVector:
    """A 1-d float64 vector stored as its nonzero entries (a compact warm start).

    ``np.asarray(v)`` (or :meth:`toarray`) gives the dense vector back, equal to
    the one compressed (a negative zero comes back as ``0.0``).

    Parameters
    ----------
    indices : ndarray of int32 or int64
        Positions of the stored entries, increasing.
    values : ndarray of float64
        Their values.
    size : int
        Length of the dense vector.
    """

    __slots__ = ("indices", "values", "size")

    def __init__(self, indices, values, size):
        self.indices = indices
        self.values = values
        self.size = int(size)

    @classmethod
    def from_dense(cls, x):
        """The nonzero entries of the 1-d array ``x``.

        Parameters
        ----------
        x : ndarray of shape (size,)

        Returns
        -------
        SparseVector
        """
        idx = np.flatnonzero(x)
        index_dtype = np.int32 if x.shape[0] <= np.iinfo(np.int32).max else np.int64
        return cls(idx.astype(index_dtype), x[idx], x.shape[0])

    @property
    def shape(self):
        return (self.size,)

    @property
    def nbytes(self):
        """Bytes held (indices and values)."""
        return self.indices.nbytes + self.values.nbytes

    def toarray(self):
        """The dense vector.

        Returns
        -------
        ndarray of shape (size,)
        """
        x = np.zeros(self.size)
        x[self.indices] = self.values
        return x

    def take(self, indices):
        """The entries ``indices`` (like ``ndarray.take``), without the dense vector.

        Parameters
        ----------
        indices : ndarray of int

        Returns
        -------
        ndarray of shape (len(indices),)
        """
        indices = np.asarray(indices)
        pos = np.searchsorted(self.indices, indices)
        pos_in = np.minimum(pos, max(self.indices.shape[0] - 1, 0))
        found = (pos < self.indices.shape[0]) & (self.indices[pos_in] == indices) \
            if self.indices.shape[0] else np.zeros(indices.shape, dtype=bool)
        out = np.zeros(indices.shape)
        out[found] = self.values[pos_in[found]]
        return out

    def __array__(self, dtype=None, copy=None):
        x = self.toarray()
        return x if dtype is None else x.astype(dtype, copy=False)

    def __getstate__(self):
        return (self.indices, self.values, self.size)

    def __setstate__(self, state):
        self.indices, self.values, self.size = state

    def __repr__(self):
        return f"SparseVector(nnz={self.values.shape[0]}, size={self.size})"


class _AdjointOffGradient:
    """An adjoint ``v`` stored as the entries where it differs from ``grad C(w)``.

    The AID adjoint is ``grad C(w)`` outside the active set (exactly, for
    AID-CG), and ``grad C`` at the stored solution ``w`` can be computed again,
    bit for bit, from the fold's held-out rows: only the other entries are kept.

    Parameters
    ----------
    w : SparseVector or ndarray
        The solution at which ``v`` was computed (shared with the fold's
        :class:`~skhypergrad.criteria.InnerState`, not a copy).
    indices : ndarray of int
        Entries where ``v`` differs from ``grad C(w)``.
    values : ndarray of float64
        ``v`` there.
    """

    __slots__ = ("w", "indices", "values")

    def __init__(self, w, indices, values):
        self.w = w
        self.indices = indices
        self.values = values

    @classmethod
    def compress(cls, v, w_stored, outer_grad):
        """``v`` relative to ``outer_grad(w)`` when that is smaller than :func:`_compact`'s.

        Parameters
        ----------
        v : ndarray of shape (n_params,)
            The adjoint.
        w_stored : SparseVector or ndarray
            The solution ``w`` it was computed at, as kept in the state (referenced,
            not copied; a held-out loss reads a compact ``w`` as it is, so that the
            dense ``w`` can be freed before).
        outer_grad : callable
            ``w -> grad C(w)``, the engine's outer gradient.

        Returns
        -------
        _AdjointOffGradient, SparseVector or ndarray
            An :class:`_AdjointOffGradient` shares the index array of a compact
            ``w_stored`` when its entries are the same (the support and the
            intercept, as AID-CG's adjoint).
        """
        differs = np.flatnonzero(v != _outer_grad_at(w_stored, outer_grad))
        if 3 * differs.shape[0] >= np.count_nonzero(v):
            return _compact(v)
        if isinstance(w_stored, SparseVector) and np.array_equal(w_stored.indices, differs):
            return cls(w_stored, w_stored.indices, v[differs])
        index_dtype = np.int32 if v.shape[0] <= np.iinfo(np.int32).max else np.int64
        return cls(w_stored, differs.astype(index_dtype), v[differs])

    @property
    def nbytes(self):
        """Bytes held (the shared ``w`` not counted, nor its indices when shared)."""
        shared = isinstance(self.w, SparseVector) and self.indices is self.w.indices
        return (0 if shared else self.indices.nbytes) + self.values.nbytes

    def toarray(self, outer_grad):
        """The dense adjoint: ``outer_grad(w)`` with the stored entries put back.

        Parameters
        ----------
        outer_grad : callable
            The fold's ``w -> grad C(w)`` (the one ``v`` was compressed with).

        Returns
        -------
        ndarray of shape (n_params,)
        """
        v = _outer_grad_at(self.w, outer_grad)
        v[self.indices] = self.values
        return v

    def take(self, indices, outer_grad):
        """``toarray(outer_grad).take(indices)``, without the dense adjoint when
        ``outer_grad`` is a held-out loss's (it then reads those columns only)."""
        owner = getattr(outer_grad, "__self__", None)
        if not _reads_compact_w(owner):
            return self.toarray(outer_grad).take(indices)
        indices = np.asarray(indices)
        out = owner.grad_take(self.w, indices)
        if self.indices.shape[0]:
            pos = np.minimum(np.searchsorted(self.indices, indices), self.indices.shape[0] - 1)
            found = self.indices[pos] == indices
            out[found] = self.values[pos[found]]
        return out

    def __getstate__(self):
        return (self.w, self.indices, self.values)

    def __setstate__(self, state):
        self.w, self.indices, self.values = state

    def rebase(self, w_stored):
        """The same entries relative to ``w_stored``, the same solution kept in another
        form (compact); its index array is shared when it holds the same entries.

        Parameters
        ----------
        w_stored : SparseVector or ndarray

        Returns
        -------
        _AdjointOffGradient
        """
        indices = self.indices
        if isinstance(w_stored, SparseVector) and np.array_equal(w_stored.indices, indices):
            indices = w_stored.indices
        return type(self)(w_stored, indices, self.values)


class _LazyGradient:
    """``grad C(w)`` of a held-out loss, read by entries: an engine's gradient when the
    outer function can give entries alone (:func:`_lazy_gradient`).

    ``take(indices)`` reads those columns of the held-out data only (``grad_take``),
    ``np.asarray`` computes the whole gradient, and :meth:`with_entries` gives an adjoint
    that differs from it on a few entries without computing it.
    """

    def __init__(self, w, outer_grad):
        self.w = w
        self.outer_grad = outer_grad

    @property
    def shape(self):
        return self.w.shape

    def take(self, indices):
        return self.outer_grad.__self__.grad_take(self.w, indices)

    def __array__(self, dtype=None, copy=None):
        x = self.outer_grad(self.w)
        return x if dtype is None else x.astype(dtype, copy=False)

    def with_entries(self, indices, values):
        """The gradient with the entries ``indices`` replaced by ``values``, lazy.

        Returns
        -------
        _LazyAdjoint
        """
        return _LazyAdjoint(_AdjointOffGradient(self.w, indices, values), self.outer_grad)


def _lazy_gradient(outer_grad, w):
    """``grad C(w)`` as a :class:`_LazyGradient` when ``outer_grad`` is a held-out loss's
    (it gives entries without the whole gradient) and ``w`` has fewer nonzero entries
    than a quarter of its length (reading their columns alone then pays), else None."""
    if (_reads_compact_w(getattr(outer_grad, "__self__", None))
            and 4 * np.count_nonzero(w) < w.shape[0]):
        return _LazyGradient(w, outer_grad)
    return None


def _outer_grad_at(w, outer_grad):
    """``outer_grad(w)`` for a stored ``w``: a held-out loss reads a compact ``w`` as it
    is (no dense copy of it, the same sums), any other function gets it dense."""
    sparse_ok = _reads_compact_w(getattr(outer_grad, "__self__", None))
    return outer_grad(w if sparse_ok else _expand(w))


def _reads_compact_w(outer):
    """Whether ``outer`` (the owner of an ``outer_grad`` method) reads a
    :class:`SparseVector` ``w`` as it is, and has ``grad_take``: the held-out loss."""
    return getattr(outer, "reads_compact_w", False)


class _LazyAdjoint:
    """A stored adjoint as an engine's lazy warm start: dense only if asked.

    ``take(indices)`` reads a few entries (AID-CG reads the active set), and
    ``np.asarray`` gives the whole vector (see :func:`skhypergrad.hypergrad.aid._warm_start`).

    Parameters
    ----------
    stored : SparseVector or _AdjointOffGradient
    outer_grad : callable
        The fold's ``w -> grad C(w)`` (for an :class:`_AdjointOffGradient`).
    """

    def __init__(self, stored, outer_grad):
        self.stored = stored
        self.outer_grad = outer_grad

    @property
    def shape(self):
        w = self.stored.w if isinstance(self.stored, _AdjointOffGradient) else self.stored
        return w.shape

    def take(self, indices):
        """The entries ``indices`` of the adjoint."""
        if isinstance(self.stored, SparseVector):
            return self.stored.take(indices)
        return self.stored.take(indices, self.outer_grad)

    def __array__(self, dtype=None, copy=None):
        x = _expand(self.stored, self.outer_grad)
        return x if dtype is None else x.astype(dtype, copy=False)


def _compact(x):
    """``x`` as a :class:`SparseVector` when that is smaller (a 1-d float vector), else ``x``.

    Twelve bytes per stored entry (int32 index and value) against eight per entry:
    compact below two thirds of nonzeros.
    """
    if not (isinstance(x, np.ndarray) and x.ndim == 1 and x.dtype == np.float64):
        return x
    nnz = np.count_nonzero(x)
    return SparseVector.from_dense(x) if 3 * nnz < 2 * x.shape[0] else x


def _expand(x, outer_grad=None):
    """The dense array of a :class:`SparseVector` (or of an adjoint stored relative
    to ``outer_grad``), anything else as it is."""
    if isinstance(x, _AdjointOffGradient):
        return x.toarray(outer_grad)
    return x.toarray() if isinstance(x, SparseVector) else x
