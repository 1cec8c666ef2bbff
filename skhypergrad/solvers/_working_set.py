r"""The working set of coordinate descent: the support plus the worst violators.

A working set is the sorted array of the features whose coefficient is nonzero
(in any class) plus, among the others, those of largest positive score
:math:`L_j |\Delta_j|`, up to ``size`` features in all; ``size`` never
decreases and is at least twice the support. :func:`working_set` ranks a
``p``-sized array of scores; :class:`TopScores` ranks the scores a block of
features at a time (sparse ``X``, ``p`` possibly large: no ``p``-sized array).
Both give the same set when the scores are distinct.
"""

import numpy as np

from ._cd_kernels import support_and_candidates

__all__ = ["working_set", "TopScores"]


def _grown_size(size, n_support, p):
    """The next working-set size: ``size``, at least twice the support, at most ``p``."""
    return int(min(p, max(size, 2 * n_support)))


def working_set(scores, coef, n_outputs, size):
    """The working set from the scores of all ``p`` features, and its size.

    ``scores`` is overwritten (the support's scores set to infinity); only the
    features with a positive score are ranked, found by
    :func:`~skhypergrad.solvers._cd_kernels.support_and_candidates` without a
    ``p``-sized mask.
    """
    p = scores.shape[0]
    ws, n_support = support_and_candidates(scores, coef, n_outputs)
    size = _grown_size(size, n_support, p)
    m = ws.shape[0]
    if size < m:
        ws = np.sort(ws[np.argpartition(scores[ws], m - size)[m - size:]])
    return ws, size


class TopScores:
    """The working set of one output, from scores given a block of features at a time.

    Parameters
    ----------
    coef : ndarray of shape (p,)
        The coefficients (one output): their nonzeros are the support.
    size : int
        The current working-set size (grown as :func:`working_set` does).

    Keeps the ``size - |support|`` largest positive scores outside the support
    seen so far (indices and values, at most twice that many plus one block
    before a trim): memory in the working set's size, not in ``p``.
    """

    def __init__(self, coef, size):
        self.coef = coef
        self.support = np.flatnonzero(coef)
        self.size = _grown_size(size, self.support.shape[0], coef.shape[0])
        self.k = self.size - self.support.shape[0]
        self._idx, self._val, self._pending = [], [], 0

    def add(self, j0, scores):
        """Rank ``scores``, those of the features ``j0, j0 + 1, ...`` (modified in place)."""
        if self.k == 0:
            return
        scores[self.coef[j0:j0 + scores.shape[0]] != 0.0] = 0.0  # the support is in anyway
        pos = np.flatnonzero(scores > 0.0)
        if pos.shape[0]:
            self._idx.append(pos + j0)
            self._val.append(scores[pos])
            self._pending += pos.shape[0]
            if self._pending > 2 * self.k:
                self._trim()

    def _trim(self):
        idx, val = np.concatenate(self._idx), np.concatenate(self._val)
        if idx.shape[0] > self.k:
            keep = np.argpartition(val, idx.shape[0] - self.k)[idx.shape[0] - self.k:]
            idx, val = idx[keep], val[keep]
        self._idx, self._val, self._pending = [idx], [val], idx.shape[0]

    def result(self):
        """``(ws, size)``: the support and the kept violators, sorted; the size."""
        if self._idx:
            self._trim()
            return np.union1d(self.support, self._idx[0]), self.size
        return self.support, self.size
