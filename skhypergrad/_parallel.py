"""When folds run in parallel: the work threshold below which they run serially.

A criterion evaluation under a process backend (joblib's default, loky, or
multiprocessing) sends the data to the workers and rebuilds each fold's inner
problem there (its centred copy of the rows, Lipschitz constant, Gram matrix), work
that a single process does once per search and keeps. That costs about as much as a
few passes over the data; the folds' solves must be much larger for the workers to
pay. Other backends chosen with ``joblib.parallel_config`` (threads, Dask) get the
folds as asked.

Under the Dask backend, :func:`dask_client` gives the cluster's client, to which a
search scatters its folds' data once (see
:meth:`skhypergrad.criteria.BaseCriterion.workers`).
"""

import numpy as np
import scipy.sparse as sp
from joblib import effective_n_jobs
from joblib.parallel import BACKENDS, get_active_backend

__all__ = ["PARALLEL_MIN_WORK", "dask_client", "fold_n_jobs"]

#: stored entries of the design times the number of folds below which the folds of a
#: criterion evaluation run serially under a process backend (e.g. 20,000 x 1,000
#: dense with 5 folds is ``10^8``)
PARALLEL_MIN_WORK = 1e8


def design_entries(X):
    """Stored entries of ``X``: ``nnz`` when sparse, the product of its shape otherwise
    (an array, a data frame or nested lists)."""
    return int(X.nnz) if sp.issparse(X) else int(np.prod(np.shape(X)))


def fold_n_jobs(n_jobs, work):
    """The ``n_jobs`` that the folds' ``joblib.Parallel`` is given: 1 when ``work``
    (design entries times folds, summed over the folds' training designs) is below
    :data:`PARALLEL_MIN_WORK` and the active backend is a process backend (joblib's
    default); ``n_jobs`` otherwise."""
    if effective_n_jobs(n_jobs) == 1 or work >= PARALLEL_MIN_WORK:
        return n_jobs
    backend, _ = get_active_backend()
    process_backends = (BACKENDS["loky"], BACKENDS["multiprocessing"])
    return 1 if isinstance(backend, process_backends) else n_jobs


def dask_client():
    """The ``dask.distributed`` client of the active joblib backend when it is joblib's
    Dask backend (``joblib.parallel_config(backend="dask")``), else None."""
    backend, _ = get_active_backend()
    dask = BACKENDS.get("dask")  # registered by joblib once the backend is asked for
    return backend.client if dask is not None and isinstance(backend, dask) else None
