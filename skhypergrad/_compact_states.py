"""Warm starts kept compact between evaluations: a vector as its nonzero entries, an
adjoint as the entries where it differs from the outer gradient.

For sparse ``X`` with many features, :class:`~skhypergrad.criteria.CrossVal`
keeps each fold's solution and adjoint in these forms between evaluations and
makes them dense only inside the fold being solved: K dense warm starts (and
adjoints) would otherwise outweigh ``X`` itself.
"""

import numpy as np

from .hypergrad._protocols import GradientWithEntries, LazyVector

__all__ = ["SparseVector"]


class SparseVector(LazyVector):
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

    def lazy(self, outer_grad):
        """The adjoint as an engine's warm start: a lazy vector reading the gradient's
        entries through ``outer_grad``
        (:class:`~skhypergrad.hypergrad._protocols.GradientWithEntries`)."""
        return GradientWithEntries(outer_grad, self.w, self.indices, self.values)

    @classmethod
    def from_lazy(cls, v):
        """The stored form of an engine's lazy adjoint
        (:class:`~skhypergrad.hypergrad._protocols.GradientWithEntries`), without its
        outer function."""
        return cls(v.w, v.indices, v.values)

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


def _outer_grad_at(w, outer_grad):
    """``outer_grad(w)`` for a stored ``w``: a held-out loss reads a compact ``w`` as it
    is (no dense copy of it, the same sums), any other function gets it dense."""
    return outer_grad(w if outer_grad.reads_compact_w else _expand(w))


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
