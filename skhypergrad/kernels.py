r"""Kernel matrices, their derivative in the width :math:`\gamma`, and their memory limit.

The kernels are scikit-learn's (:func:`sklearn.metrics.pairwise.pairwise_kernels`):

============== =================================== =============================================
kernel         :math:`k(x, x')`                    :math:`\partial_\gamma k`
============== =================================== =============================================
"linear"       :math:`x^T x'`                      (no :math:`\gamma`)
"rbf"          :math:`\exp(-\gamma\|x - x'\|^2)`   :math:`-\|x - x'\|^2 k`
"laplacian"    :math:`\exp(-\gamma\|x - x'\|_1)`   :math:`-\|x - x'\|_1 k`
"poly"         :math:`(\gamma x^T x' + c_0)^d`     :math:`d\,(\gamma x^T x' + c_0)^{d-1} x^T x'`
"sigmoid"      :math:`\tanh(\gamma x^T x' + c_0)`  :math:`(1 - k^2)\, x^T x'`
"precomputed"  the matrix given                    (no :math:`\gamma`)
============== =================================== =============================================

"sigmoid" is not positive semidefinite (:attr:`KernelSpec.semidefinite`; nor need a
precomputed or callable kernel be): the dual problems are solved as scikit-learn solves
them (libsvm's pairs of negative curvature, kernel ridge's linear system whatever the
signs of its eigenvalues); SVR refuses it (its solver needs a convex dual).

A :class:`KernelSpec` holds the kernel's name and its fixed parameters (``degree``,
``coef0``); a :class:`PairData` holds what does not depend on :math:`\gamma`
between two sets of rows (squared distances, L1 distances or inner products), from
which :meth:`PairData.kernel` gives :math:`K` and :math:`\partial_\gamma K` at any
:math:`\gamma` in one elementwise pass.

**Memory.** The models of this library that use kernels store dense
``n x n`` matrices of float64 (8 n^2 bytes each, a few at a time: the kernel, its
derivative, the pair data). :func:`check_kernel_memory` refuses, with a
``MemoryError`` that states the sizes, matrices that would not fit in a fraction of
the memory available.
"""

import os
from typing import NamedTuple

import numpy as np
from sklearn.metrics.pairwise import euclidean_distances, manhattan_distances

__all__ = ["KERNELS", "KernelSpec", "PairData", "pair_data", "check_kernel_memory",
           "available_memory", "is_semidefinite"]

#: the kernels supported, and whether each has a width gamma
KERNELS = {"linear": False, "rbf": True, "laplacian": True, "poly": True, "sigmoid": True,
           "precomputed": False}

#: largest fraction of the available memory the kernel matrices of a fit may take
MEMORY_FRACTION = 0.5


class KernelSpec(NamedTuple):
    """A kernel by name with its fixed parameters (see the module docstring).

    Attributes
    ----------
    kernel : str
        One of :data:`KERNELS`.
    degree : float
        Degree ``d`` of "poly".
    coef0 : float
        Constant ``c_0`` of "poly" and "sigmoid".
    """

    kernel: str = "rbf"
    degree: float = 3.0
    coef0: float = 1.0

    @property
    def has_gamma(self):
        """Whether the kernel has a width :math:`\\gamma` (a hyperparameter)."""
        return KERNELS[self.kernel]

    @property
    def semidefinite(self):
        """Whether every kernel matrix of the kernel is positive semidefinite (all but
        "sigmoid"; a precomputed kernel is taken to be)."""
        return self.kernel != "sigmoid"

    def diagonal(self, X, gamma=None):
        """The diagonal :math:`k(x_i, x_i)` of the kernel of the rows of ``X`` at ``gamma``
        (for "precomputed", ``X`` is the kernel).

        Parameters
        ----------
        X : ndarray of shape (n, n_features)
        gamma : float, default=None
            Width (kernels with one).

        Returns
        -------
        ndarray of shape (n,)
        """
        if self.kernel == "precomputed":
            return np.diag(X).copy()
        if self.kernel in ("rbf", "laplacian"):
            return np.ones(X.shape[0])
        sq = np.einsum("ij,ij->i", X, X)
        if self.kernel == "linear":
            return sq
        s = gamma * sq + self.coef0
        return s ** self.degree if self.kernel == "poly" else np.tanh(s)

    def check(self):
        """The spec itself; ValueError for an unknown kernel."""
        if not isinstance(self.kernel, str) or self.kernel not in KERNELS:
            raise ValueError(f"kernel must be one of {sorted(KERNELS)}, got {self.kernel!r}.")
        return self


class PairData(NamedTuple):
    """What :math:`K(X_a, X_b)` needs that does not depend on :math:`\\gamma`.

    Attributes
    ----------
    spec : KernelSpec
    base : ndarray of shape (n_a, n_b)
        Squared distances ("rbf"), L1 distances ("laplacian"), inner products
        ("linear", "poly", "sigmoid") or the kernel itself ("precomputed").
    """

    spec: KernelSpec
    base: np.ndarray

    def kernel(self, gamma, derivative=False, out=None):
        r"""``K`` at ``gamma``, and :math:`\partial_\gamma K` when ``derivative``
        (None for kernels without a width).

        Parameters
        ----------
        gamma : float
            Width (ignored by "linear" and "precomputed").
        derivative : bool, default=False
        out : ndarray of shape (n_a, n_b), default=None
            Where ``K`` is written (kernels with a width), instead of a new array.

        Returns
        -------
        K : ndarray of shape (n_a, n_b)
        dK : ndarray of shape (n_a, n_b) or None
        """
        kind, B = self.spec.kernel, self.base
        if kind in ("linear", "precomputed"):
            return B, None
        if kind in ("rbf", "laplacian"):
            K = np.multiply(B, -gamma, out=out)
            np.exp(K, out=K)
            return K, (-B * K if derivative else None)
        if kind == "sigmoid":
            K = np.multiply(B, gamma, out=out)
            K += self.spec.coef0
            np.tanh(K, out=K)
            return K, ((1.0 - K * K) * B if derivative else None)
        d, c0 = self.spec.degree, self.spec.coef0
        s = gamma * B + c0
        K = np.power(s, d, out=out)
        return K, (d * s ** (d - 1) * B if derivative else None)

    def derivative_rows(self, gamma, K, rows):
        r""":math:`\partial_\gamma K` on the rows ``rows`` only, from ``K`` at ``gamma``
        (:meth:`kernel`); None for kernels without a width.

        Parameters
        ----------
        gamma : float
        K : ndarray of shape (n_a, n_b)
            The kernel at ``gamma``.
        rows : ndarray of int

        Returns
        -------
        ndarray of shape (len(rows), n_b) or None
        """
        kind = self.spec.kernel
        if kind in ("linear", "precomputed"):
            return None
        B = self.base[rows]
        if kind in ("rbf", "laplacian"):
            return -B * K[rows]
        if kind == "sigmoid":
            return (1.0 - K[rows] ** 2) * B
        d, c0 = self.spec.degree, self.spec.coef0
        return d * (gamma * B + c0) ** (d - 1) * B


def pair_data(spec, Xa, Xb=None):
    """The :class:`PairData` of rows ``Xa`` against rows ``Xb`` (``Xa`` when None).

    Parameters
    ----------
    spec : KernelSpec
    Xa : ndarray of shape (n_a, n_features)
        For "precomputed": the kernel rows themselves, of shape (n_a, n_b), with
        ``Xb`` the column indices (an int array) or None (all).
    Xb : ndarray of shape (n_b, n_features), default=None

    Returns
    -------
    PairData
    """
    kind = spec.kernel
    if kind == "precomputed":
        return PairData(spec, Xa if Xb is None else Xa[:, Xb])
    same = Xb is None
    Xb = Xa if same else Xb
    if kind == "rbf":
        D = euclidean_distances(Xa, None if same else Xb, squared=True)
        if same:
            np.fill_diagonal(D, 0.0)
        return PairData(spec, np.maximum(D, 0.0, out=D))
    if kind == "laplacian":
        return PairData(spec, manhattan_distances(Xa, Xb))
    return PairData(spec, Xa @ Xb.T)


def is_semidefinite(K, rtol=1e-10):
    r"""Whether the symmetric ``K`` is positive semidefinite up to rounding: whether
    :math:`K + \delta I`, :math:`\delta` = ``rtol`` times its trace, has a Cholesky
    factorization (:math:`n^3/3` flops).

    Parameters
    ----------
    K : ndarray of shape (n, n)
    rtol : float, default=1e-10

    Returns
    -------
    bool
    """
    from numpy.linalg import LinAlgError
    from scipy.linalg import cho_factor

    A = np.array(K, dtype=np.float64)
    A[np.diag_indices_from(A)] += rtol * max(float(np.trace(A)), np.finfo(float).tiny)
    try:
        cho_factor(A, overwrite_a=True, check_finite=False)
    except LinAlgError:
        return False
    return True


def available_memory():
    """Bytes of memory available (Linux ``MemAvailable``), or None when unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_kernel_memory(n_rows, n_cols, n_matrices, available=None):
    """Refuse kernel matrices that would not fit in memory.

    ``n_matrices`` dense float64 matrices of shape (n_rows, n_cols) must take at most
    :data:`MEMORY_FRACTION` (a half) of the available memory.

    Parameters
    ----------
    n_rows, n_cols : int
    n_matrices : int
        How many such matrices are alive at once.
    available : int, default=None
        Bytes available (:func:`available_memory` when None; no check when unknown).

    Raises
    ------
    MemoryError
        With the sizes, when they would not fit.
    """
    available = available_memory() if available is None else available
    need = 8.0 * n_rows * n_cols * n_matrices
    if available is not None and need > MEMORY_FRACTION * available:
        raise MemoryError(
            f"Kernel methods store dense n x n matrices: {n_matrices} matrices of "
            f"{n_rows} x {n_cols} float64 need {need / 2**30:.2f} GiB, more than "
            f"{MEMORY_FRACTION:.0%} of the {available / 2**30:.2f} GiB available. Use fewer "
            "samples (e.g. a subsample, or a Nystroem approximation with a linear model).")
