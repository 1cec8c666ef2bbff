"""``n_jobs`` below the work threshold: the folds run in the process, X never pickled.

The rule (:mod:`skhypergrad._parallel`): under a process backend the folds run in
parallel when the estimated work of an evaluation, the stored entries of the folds'
training designs, reaches ``10^8`` and the folds are not solved on Gram matrices in the
calling process."""

import joblib
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import make_regression
from sklearn.linear_model import Lasso

import skhypergrad._parallel as parallel
from skhypergrad import ElasticNetHyperGrad, HyperGradSearchCV, LogisticRegressionHyperGrad
from skhypergrad._gram_cv import SPARSE_GRAM_FEATURES
from skhypergrad.datafits import Logistic, Multinomial, Quadratic
from skhypergrad.multitask import MultiTaskQuadratic


class _Recorder:
    """``joblib.Parallel`` that records the effective ``n_jobs`` of every call."""

    calls = []

    def __init__(self, n_jobs=None, **kwargs):
        type(self).calls.append(joblib.effective_n_jobs(n_jobs))
        self._parallel = joblib.Parallel(n_jobs=n_jobs, **kwargs)

    def __call__(self, tasks):
        return self._parallel(tasks)

    def __enter__(self):
        self._parallel.__enter__()
        return self

    def __exit__(self, *exc):
        return self._parallel.__exit__(*exc)


@pytest.fixture
def recorder(monkeypatch):
    import skhypergrad._base_criterion as base_criterion

    _Recorder.calls = []
    monkeypatch.setattr(base_criterion, "Parallel", _Recorder)
    return _Recorder.calls


def _data():
    X, y = make_regression(120, 15, n_informative=5, noise=5.0, random_state=0)
    return X, y


@pytest.mark.parametrize("make", [
    lambda: ElasticNetHyperGrad(cv=3, max_iter=3),
    lambda: LogisticRegressionHyperGrad(cv=3, max_iter=2),
])
def test_small_folds_run_serially_with_the_same_coef(make, recorder):
    X, y = _data()
    target = y > np.median(y) if isinstance(make(), LogisticRegressionHyperGrad) else y
    one = make().set_params(n_jobs=1).fit(X, target)
    recorder.clear()
    two = make().set_params(n_jobs=2).fit(X, target)
    # no worker: X is pickled 0 times (the compiled least-squares evaluations of
    # skhypergrad._gram_cv make no Parallel at all)
    assert set(recorder) <= {1}
    np.testing.assert_allclose(two.coef_, one.coef_, rtol=0, atol=1e-10)


def test_search_cv_small_folds_run_serially(recorder):
    X, y = _data()
    one = HyperGradSearchCV(Lasso(), cv=3, max_iter=3, n_jobs=1).fit(X, y)
    recorder.clear()
    two = HyperGradSearchCV(Lasso(), cv=3, max_iter=3, n_jobs=2).fit(X, y)
    assert recorder and set(recorder) == {1}
    np.testing.assert_allclose(two.best_estimator_.coef_, one.best_estimator_.coef_,
                               rtol=0, atol=1e-10)


def test_above_the_threshold_and_other_backends_run_in_parallel(monkeypatch, recorder):
    X, y = _data()
    # sparse with zero columns appended, more than SPARSE_GRAM_FEATURES (512) of them and a
    # Gram matrix of more than 4 times as many entries as X stores: not compiled
    # (skhypergrad._gram_cv)
    wide = sp.hstack([sp.csr_matrix(X), sp.csr_matrix((X.shape[0], 36 * X.shape[1]))]).tocsr()
    assert wide.shape[1] > SPARSE_GRAM_FEATURES
    with joblib.parallel_config(backend="threading"):
        ElasticNetHyperGrad(cv=3, max_iter=1, n_jobs=2).fit(wide, y)
    assert set(recorder) == {2}
    recorder.clear()
    monkeypatch.setattr(parallel, "PARALLEL_MIN_WORK", 0)
    assert parallel.fold_n_jobs(2, 10) == 2


def test_one_set_of_workers_per_fit_gets_x_once(monkeypatch):
    """Above the work threshold, a fit keeps one ``Parallel`` for its search: X (above
    loky's memmapping size) is written for the workers once, not once per evaluation,
    and the coefficients equal the serial fit's."""
    import joblib._memmapping_reducer as reducer

    rng = np.random.default_rng(0)
    X = np.asfortranarray(rng.standard_normal((1000, 140)))  # 1.1 MiB
    y = X[:, :5] @ np.ones(5) + rng.standard_normal(1000) > 0
    writes = []
    dump = reducer.dump

    def counting_dump(value, filename, *args, **kwargs):
        if getattr(value, "shape", None) == X.shape:
            writes.append(filename)
        return dump(value, filename, *args, **kwargs)

    monkeypatch.setattr(reducer, "dump", counting_dump)
    monkeypatch.setattr(parallel, "PARALLEL_MIN_WORK", 0)
    one = LogisticRegressionHyperGrad(cv=3, max_iter=1, n_jobs=1).fit(X, y)
    assert writes == []
    two = LogisticRegressionHyperGrad(cv=3, max_iter=1, n_jobs=2).fit(X, y)
    assert len(two.history_) > 1 and len(writes) == 1
    np.testing.assert_allclose(two.coef_, one.coef_, rtol=0, atol=1e-10)


def _big(n, p):
    """A dense design of shape ``(n, p)`` that takes no memory (the rule reads shapes)."""
    return np.broadcast_to(np.zeros(1), (n, p))


@pytest.mark.parametrize("datafit, shape, n_jobs", [
    (Quadratic(), (442, 10), 1),  # diabetes
    (Logistic(), (5_000, 500), 1),  # W = 10^7
    (Logistic(), (25_000, 1_000), 2),  # W = 4/5 * 25,000 * 1,000 * 5 folds = 10^8
    (Quadratic(), (25_000, 1_000), 1),  # as large, but solved on the folds' Gram matrices
    (Quadratic(), (2_000, 50_000), 2),  # more features than rows: no Gram matrix
    (MultiTaskQuadratic(3), (25_000, 1_000), 2),  # three outputs: no Gram matrix
    (MultiTaskQuadratic(10), (5_000, 500), 1),  # the outputs do not count
    (Multinomial(10), (5_000, 500), 1),
    (Multinomial(10), (25_000, 1_000), 2),
])
def test_which_folds_run_in_parallel(datafit, shape, n_jobs):
    X = _big(*shape)
    train = [shape[0] * 4 // 5] * 5
    work, gram = parallel.evaluation_work(datafit, [(X, n) for n in train])
    assert work == shape[1] * sum(train)
    assert parallel.fold_n_jobs(2, work, gram) == n_jobs
    # a fold's own training design counts as all of its rows
    assert parallel.evaluation_work(datafit, [(X[:n], None) for n in train]) == (work, gram)
    with joblib.parallel_config(backend="threading"):
        assert parallel.fold_n_jobs(2, work, gram) == 2


def test_weighted_least_squares_folds_are_kept_on_gram_matrices():
    """Sample weights of least squares enter its Gram matrices: the folds stay in the
    process as unweighted ones do; a datafit that does not take weights is not kept."""
    folds = [(_big(25_000, 1_000), 20_000)] * 5
    work, gram = parallel.evaluation_work(Quadratic(), folds, weighted=True)
    assert (work, gram) == (1e8, True) and parallel.fold_n_jobs(2, work, gram) == 1
    refusing = Quadratic()
    refusing.accepts_sample_weight = False
    assert parallel.evaluation_work(refusing, folds, weighted=True) == (1e8, False)


def test_gram_folds_run_serially_whatever_their_size(monkeypatch, recorder):
    """A least-squares search on dense rows (more than its features) keeps its folds in
    the process even with no work threshold: its Gram matrices stay there; without a
    pipeline, the folds are prepared (their rows copied) there too."""
    import skhypergrad._linear_search_cv as linear_search

    monkeypatch.setattr(parallel, "PARALLEL_MIN_WORK", 0)
    monkeypatch.setattr(linear_search, "Parallel", _Recorder)
    X, y = _data()
    one = HyperGradSearchCV(Lasso(), cv=3, max_iter=3, n_jobs=1).fit(X, y)
    recorder.clear()
    two = HyperGradSearchCV(Lasso(), cv=3, max_iter=3, n_jobs=2).fit(X, y)
    assert recorder and set(recorder) == {1}
    np.testing.assert_allclose(two.best_estimator_.coef_, one.best_estimator_.coef_,
                               rtol=0, atol=1e-10)
