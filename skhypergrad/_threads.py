"""How many BLAS threads a search runs its linear algebra on."""

from contextlib import nullcontext
from functools import lru_cache

import scipy.sparse as sp
from threadpoolctl import ThreadpoolController

#: dense data of at most this many entries (64 MiB in float64) is searched on one
#: BLAS thread
SMALL_DENSE_ENTRIES = 2**23


def search_blas_limits(X):
    """One BLAS thread while searching on a dense ``X`` of at most
    :data:`SMALL_DENSE_ENTRIES` entries; no limit otherwise (sparse or larger data).

    Such a search makes thousands of BLAS calls of micro- to milliseconds
    (products with a fold's ``X`` or Gram matrix, Cholesky factorizations of
    small active sets): too short to share between threads, a multithreaded
    BLAS then spends its time synchronizing them, and when the other cores are
    busy, waiting for the scheduler (a 2,000 x 500 elastic-net search on a
    shared two-core machine: 4.6 s wall on two threads, 0.3 s on one).
    scikit-learn's ``KMeans`` limits its BLAS calls for the same reason.
    Larger dense data keeps the default: its Gram matrices and products are
    long enough to pay for threads. BLAS libraries already on one thread are left as
    they are.
    """
    if X is None or sp.issparse(X) or X.shape[0] * X.shape[1] > SMALL_DENSE_ENTRIES:
        return nullcontext()
    controller = _controller()
    if all(lib.num_threads == 1 for lib in controller.lib_controllers
           if lib.user_api == "blas"):
        return nullcontext()
    return controller.limit(limits=1, user_api="blas")


@lru_cache(maxsize=1)
def _controller():
    """The thread pools of the process's BLAS libraries, found once (finding them reads
    every loaded shared library: milliseconds, as long as a small search)."""
    return ThreadpoolController()
