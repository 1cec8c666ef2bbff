"""Folds on a real Dask cluster give the results of the default backend.

Protects issue 7, item 5 (and DESIGN section 6): cross-validation folds run
under ``joblib.Parallel``, so ``joblib.parallel_config(backend="dask")`` sends
them to a ``dask.distributed`` cluster unchanged. The test starts a
``LocalCluster`` of two single-threaded worker *processes* on the loopback
interface (data and models are pickled to the workers, as on a multi-machine
cluster), checks that the tasks ran there, and compares the fits with the
default backend to 1e-10. See doc/distributed.rst.
"""

import joblib
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import Lasso

distributed = pytest.importorskip("distributed")

from skhypergrad import (CrossVal, ElasticNetHyperGrad, HyperGradSearchCV,  # noqa: E402
                         LogisticRegressionHyperGrad, hypergradient)


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       host="127.0.0.1", dashboard_address=None)
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def _data(n=60, p=12, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    y = X[:, :3] @ np.array([1.5, -1.0, 0.5]) + 0.3 * rng.standard_normal(n)
    return X, y


def _not_compiled(X):
    """``X`` sparse with zero columns appended, so that it has more than 512 columns and its
    Gram matrix more than 4 times as many entries as it stores: its folds are not one
    compiled call in the process (:mod:`skhypergrad._gram_cv`) but tasks for the backend."""
    return sp.hstack([sp.csr_matrix(X), sp.csr_matrix((X.shape[0], 50 * X.shape[1]))]).tocsr()


def _on_dask(client, fit):
    """``fit()`` under the dask backend; asserts tasks ran on the cluster's workers."""
    with distributed.get_task_stream(client) as stream, \
            joblib.parallel_config(backend="dask"):
        out = fit()
    workers = {t["worker"] for t in stream.data}
    assert len(stream.data) > 0 and workers <= set(client.scheduler_info()["workers"])
    return out


def test_estimators_folds_on_dask(client):
    X, y = _data()
    labels = (y > np.median(y)).astype(int)
    # least squares on a wide sparse X: on dense X (or a sparse one with few columns) its
    # folds are one compiled call in the process, with no task for any backend
    cases = [(ElasticNetHyperGrad(cv=3, max_iter=3, n_jobs=2), _not_compiled(X), y),
             (LogisticRegressionHyperGrad(cv=3, max_iter=2, n_jobs=2), X, labels)]
    for est, X, target in cases:
        ref = est.set_params(n_jobs=None).fit(X, target)
        ref_lam, ref_coef = ref.lam_.copy(), ref.coef_.copy()
        ref_values = [h["value"] for h in ref.history_]
        est = _on_dask(client, lambda: est.set_params(n_jobs=2).fit(X, target))
        np.testing.assert_allclose(est.lam_, ref_lam, rtol=1e-10, atol=0)
        np.testing.assert_allclose(est.coef_, ref_coef, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose([h["value"] for h in est.history_], ref_values, rtol=1e-10)


def test_search_and_hypergradient_on_dask(client):
    X, y = _data(seed=1)
    X = _not_compiled(X)  # see test_estimators_folds_on_dask
    ref = HyperGradSearchCV(Lasso(alpha=0.1), cv=3, max_iter=3).fit(X, y)
    ref_scores = ref.cv_results_["mean_test_score"].copy()
    ref_value, ref_grad = hypergradient(Lasso(alpha=0.05), X, y, criterion=CrossVal(cv=4))

    search = _on_dask(client, lambda: HyperGradSearchCV(Lasso(alpha=0.1), cv=3, max_iter=3,
                                                        n_jobs=2).fit(X, y))
    np.testing.assert_allclose(search.cv_results_["mean_test_score"], ref_scores, rtol=1e-10)
    value, grad = _on_dask(client, lambda: hypergradient(
        Lasso(alpha=0.05), X, y, criterion=CrossVal(cv=4, n_jobs=2)))
    assert value == pytest.approx(ref_value, rel=1e-10)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-10)


def _scattered_shapes(monkeypatch):
    """The shapes of the arrays (dense or sparse, also inside tuples, lists and the
    attributes of objects) sent to the cluster by ``Client.scatter``, one per send."""
    shapes = []

    def arrays(obj, depth=0):
        if hasattr(obj, "shape") and (isinstance(obj, np.ndarray) or sp.issparse(obj)):
            shapes.append(obj.shape)
        elif depth < 3 and isinstance(obj, (tuple, list)):
            for item in obj:
                arrays(item, depth + 1)
        elif depth < 3 and hasattr(obj, "__dict__"):
            for item in vars(obj).values():
                arrays(item, depth + 1)

    scatter = distributed.Client.scatter

    def counting(self, data, *args, **kwargs):
        arrays(data)
        return scatter(self, data, *args, **kwargs)

    monkeypatch.setattr(distributed.Client, "scatter", counting)
    return shapes


def test_the_data_is_scattered_once_per_fit(client, monkeypatch):
    """One fit sends X (and each fold's training rows) to the cluster once, not once per
    evaluation, and gives the serial coefficients."""
    X, y = _data(n=90)
    labels = (y > np.median(y)).astype(int)
    est = LogisticRegressionHyperGrad(cv=3, max_iter=3)  # dense X in C order
    ref = est.fit(X, labels).coef_.copy()
    shapes = _scattered_shapes(monkeypatch)
    est = _on_dask(client, lambda: est.set_params(n_jobs=2).fit(X, labels))
    assert len(est.history_) > 2 and shapes.count(X.shape) == 1
    np.testing.assert_allclose(est.coef_, ref, rtol=1e-10, atol=1e-12)

    shapes.clear()
    X = sp.csr_matrix(X)  # see test_estimators_folds_on_dask
    search = HyperGradSearchCV(Lasso(alpha=0.1), cv=3, max_iter=4)
    ref = search.fit(X, y).best_estimator_.coef_.copy()
    search = _on_dask(client, lambda: search.set_params(n_jobs=2).fit(X, y))
    # every fold's training rows (60 of the 90) sent once, whatever the number of
    # evaluations: in its fold and in its scorer's view, for each of the 3 folds
    assert len(search.cv_results_["params"]) > 2 and shapes.count((60, X.shape[1])) == 6
    np.testing.assert_allclose(search.best_estimator_.coef_, ref, rtol=1e-10, atol=1e-12)
