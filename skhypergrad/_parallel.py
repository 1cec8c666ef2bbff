r"""When folds run in parallel: a declared estimate of the work of an evaluation.

A criterion evaluation under a process backend (joblib's default, loky, or
multiprocessing) sends the folds' data to the workers and rebuilds each fold's inner
problem there at every evaluation (its centred copy of the rows, the solver's
preparations), work that a single process does once per search and keeps. The folds
run in parallel only when the solves are estimated to outweigh that, by
:func:`fold_n_jobs`:

- the **work of an evaluation** is estimated as :math:`W = \sum_k e_k`, with
  :math:`e_k` the stored entries of fold :math:`k`'s training design (``nnz`` when
  sparse): the entries a worker reads to rebuild the folds' problems, and a solver's
  pass over the folds. The folds run serially while :math:`W` is below
  :data:`PARALLEL_MIN_WORK` (``10^8``, e.g. 25,000 x 1,000 dense in 5 folds): the
  dispatch and the rebuilt problems then cost about as much as the solves, which
  start warm and often take few passes (on two cores, forced parallel:
  ``LogisticRegressionHyperGrad`` on 5,000 x 500, :math:`W = 10^7`, 1.2 times the
  serial wall time; ``MultiTaskLassoHyperGrad`` on 5,000 x 500 with 10 tasks, 2.9
  times: the outputs do not count, a multi-output solve costing little more than
  the rebuilt problem);
- folds of least-squares problems (weighted or not) that a single process solves on their
  Gram matrices (dense, one output, more rows than features, at most
  :data:`~skhypergrad._design.GRAM_MAX_FEATURES` features; see
  :func:`~skhypergrad._design.gram_pays`) run serially whatever :math:`W`: the single
  process forms each fold's ``X^T X`` once per search and an iteration then costs
  :math:`p^2` where a worker, which starts from the rows at every evaluation, pays
  :math:`n p` (``HyperGradSearchCV(Lasso())`` on 5,000 x 500, forced parallel: 7 times
  the serial wall time).

Backends chosen with ``joblib.parallel_config`` other than the process ones (threads,
Dask) get the folds in parallel as asked.

Under the Dask backend, :func:`dask_client` gives the cluster's client, to which a
search scatters its folds' data once (see
:meth:`skhypergrad.criteria.BaseCriterion.workers`).
"""

import copy

import numpy as np
import scipy.sparse as sp
from joblib.parallel import BACKENDS, get_active_backend

from ._design import gram_pays_shape

__all__ = ["PARALLEL_MIN_WORK", "dask_client", "evaluation_work", "fold_n_jobs",
           "spawn_seeded"]

#: the estimated work of an evaluation (:func:`evaluation_work`) below which the folds
#: run serially under a process backend
PARALLEL_MIN_WORK = 1e8


def design_entries(X):
    """Stored entries of ``X``: ``nnz`` when sparse, the product of its shape otherwise
    (an array, a data frame or nested lists)."""
    return int(X.nnz) if sp.issparse(X) else int(np.prod(np.shape(X)))


def evaluation_work(datafit, folds, weighted=False):
    r"""The declared estimate of the work of one evaluation of the folds, and whether a
    single process solves them on Gram matrices: ``(W, gram)``.

    ``folds``: one ``(X, n_rows)`` per fold, its training design being ``n_rows`` rows
    of ``X`` (all of them when None). :math:`W = \sum_k e_k`, with :math:`e_k` the
    stored entries of ``X`` times ``n_rows / X.shape[0]``; ``gram`` when the
    ``datafit`` is least squares, ``weighted`` by sample weights only if it takes them
    (``accepts_sample_weight``: its weighted Gram matrices are formed as its unweighted
    ones, see :func:`~skhypergrad._gram_cv.cv_gram_folds`), and
    :func:`~skhypergrad._design.gram_pays` for every training design with the
    datafit's ``n_outputs``.
    """
    m = datafit.n_outputs
    work = 0.0
    gram = datafit.least_squares and (not weighted or datafit.accepts_sample_weight)
    for X, n_rows in folds:
        n, p = np.shape(X)
        n_rows = n if n_rows is None else n_rows
        work += design_entries(X) * n_rows / max(n, 1)
        gram = gram and gram_pays_shape(n_rows, p, m, sp.issparse(X))
    return work, bool(gram)


def fold_n_jobs(n_jobs, work, in_process=False):
    """The ``n_jobs`` that the folds' ``joblib.Parallel`` is given: 1 under a process
    backend (joblib's default) when the estimated ``work`` of an evaluation (see
    :func:`evaluation_work`) is below :data:`PARALLEL_MIN_WORK`, or ``in_process``: the
    calling process does the folds' work more cheaply whatever its size (solves on the
    Gram matrices it keeps, rows it only copies); ``n_jobs`` otherwise."""
    # the backend (microseconds) asked before effective_n_jobs(-1) (joblib counts the
    # usable CPUs from the cgroup files: 0.2 ms, a small search's evaluation)
    if n_jobs == 1 or (work >= PARALLEL_MIN_WORK and not in_process):
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


def spawn_seeded(obj, n_tasks):
    """``n_tasks`` copies of ``obj`` for parallel tasks, by its ``random_state``.

    An integer or None is kept (each task draws as ``obj`` would); a ``RandomState``
    instance, which tasks would otherwise share (threads draw from it in an order that
    changes from run to run, processes each receive a copy in the same state), gives
    copies seeded by ``n_tasks`` integers drawn from it once, in the calling thread.
    """
    rs = obj.random_state
    if not isinstance(rs, np.random.RandomState):
        return [obj] * n_tasks
    seeds = rs.randint(np.iinfo(np.int32).max, size=n_tasks)
    out = []
    for seed in seeds:
        task = copy.copy(obj)
        task.random_state = int(seed)
        out.append(task)
    return out
