r"""What the engines read of the outer function and of their warm starts.

Engines take the gradient of the outer function :math:`C` as ``outer_grad``, any
callable ``w -> grad C(w)``. An :class:`OuterGradient` declares what more it
offers (a criterion's held-out loss is one):

- ``returns_new_array``: every call returns a new array, which the engine may
  write into instead of copying;
- ``reads_entries``: :meth:`OuterGradient.take` computes the entries asked for
  alone, cheaper than the whole gradient when they are few (the columns of a
  small support);
- ``reads_compact_w``: ``w`` may be any :class:`LazyVector` (e.g. a compact
  stored solution), read as it is.

A warm start (the adjoint of a previous call) is an ndarray or a
:class:`LazyVector`: read by entries with ``take``, made dense by
``np.asarray`` only when needed. AID-CG's adjoint equals :math:`\nabla C(w)` off
the active set; :class:`GradientAt` and :class:`GradientWithEntries` keep it as
that gradient plus the entries that differ, without the gradient itself.
"""

import numpy as np

__all__ = ["OuterGradient", "LazyVector", "GradientAt", "GradientWithEntries",
           "lazy_gradient", "returns_new_array"]


class OuterGradient:
    """``w -> grad C(w)`` with declared capabilities (see the module docstring)."""

    #: every call returns a new array the engine may write into
    returns_new_array = False
    #: ``take`` computes the entries asked for alone
    reads_entries = False
    #: ``w`` may be a :class:`LazyVector`, read as it is
    reads_compact_w = False

    def __call__(self, w):
        raise NotImplementedError

    def take(self, w, indices):
        """``grad C(w)[indices]`` (the whole gradient taken unless ``reads_entries``)."""
        return np.asarray(self(w)).take(indices)


def returns_new_array(outer_grad):
    """Whether the engine may write into the arrays ``outer_grad`` returns."""
    return isinstance(outer_grad, OuterGradient) and outer_grad.returns_new_array


class LazyVector:
    """A vector read by entries (:meth:`take`) and made dense on demand (``np.asarray``)."""

    @property
    def shape(self):
        raise NotImplementedError

    def take(self, indices):
        raise NotImplementedError

    def toarray(self):
        raise NotImplementedError

    def __array__(self, dtype=None, copy=None):
        x = self.toarray()
        return x if dtype is None else x.astype(dtype, copy=False)


def _dense(outer_grad, w):
    """``outer_grad(w)``, ``w`` made dense unless the gradient reads it compact."""
    if isinstance(w, LazyVector) and not outer_grad.reads_compact_w:
        w = np.asarray(w)
    return outer_grad(w)


class GradientAt(LazyVector):
    r""":math:`\nabla C(w)` read by entries through ``outer_grad.take`` (an
    :class:`OuterGradient` that ``reads_entries``), never formed unless made dense.

    Parameters
    ----------
    outer_grad : OuterGradient
    w : ndarray or LazyVector
    """

    def __init__(self, outer_grad, w):
        self.outer_grad = outer_grad
        self.w = w

    @property
    def shape(self):
        return self.w.shape

    def take(self, indices):
        return self.outer_grad.take(self.w, indices)

    def toarray(self):
        return _dense(self.outer_grad, self.w)

    def with_entries(self, indices, values):
        """The gradient with the entries ``indices`` replaced by ``values``, lazy."""
        return GradientWithEntries(self.outer_grad, self.w, indices, values)


class GradientWithEntries(LazyVector):
    r""":math:`\nabla C(w)` with the entries ``indices`` (sorted) replaced by ``values``.

    Parameters
    ----------
    outer_grad : OuterGradient
        ``w -> grad C(w)``.
    w : ndarray or LazyVector
        The point of the gradient.
    indices : ndarray of int
        Sorted entries that differ from the gradient.
    values : ndarray
        The vector there.
    """

    def __init__(self, outer_grad, w, indices, values):
        self.outer_grad = outer_grad
        self.w = w
        self.indices = indices
        self.values = values

    @property
    def shape(self):
        return self.w.shape

    def take(self, indices):
        indices = np.asarray(indices)
        out = np.array(self.outer_grad.take(self.w, indices), dtype=np.float64)
        if self.indices.shape[0]:
            pos = np.minimum(np.searchsorted(self.indices, indices), self.indices.shape[0] - 1)
            found = self.indices[pos] == indices
            out[found] = self.values[pos[found]]
        return out

    def toarray(self):
        v = np.array(_dense(self.outer_grad, self.w), dtype=np.float64)
        v[self.indices] = self.values
        return v

    def on_entries(self):
        """The vector with the stored entries only (zeros elsewhere): what :math:`B^T`
        reads of an adjoint stored on the active set."""
        x = np.zeros(self.shape)
        x[self.indices] = self.values
        return x


def lazy_gradient(outer_grad, w):
    r""":math:`\nabla C(w)` as a :class:`GradientAt` when ``outer_grad`` computes entries
    alone and ``w`` has fewer nonzero entries than a quarter of its length (reading
    their columns alone then pays), else None."""
    if isinstance(outer_grad, OuterGradient) and outer_grad.reads_entries \
            and 4 * np.count_nonzero(w) < w.shape[0]:
        return GradientAt(outer_grad, w)
    return None
