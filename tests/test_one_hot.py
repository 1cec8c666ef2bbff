"""Rank-deficient one-hot designs: every level of 10 categorical columns encoded, with an
intercept (each block of columns sums to the intercept's column)."""

import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import ElasticNet, ElasticNetCV
from sklearn.model_selection import KFold
from sklearn.preprocessing import OneHotEncoder

from skhypergrad import ElasticNetHyperGrad, HyperGradSearchCV, InnerModel
from skhypergrad._base import null_model, refit_solver
from skhypergrad._gram_cv import cv_gram_folds, evaluate_gram_folds
from skhypergrad.penalties import enet_lam_from_sklearn
from skhypergrad.solvers import CoordinateDescent

LEVELS = (5, 7, 9, 11, 13, 16, 19, 22, 26, 30)


def one_hot_table(n=600, seed=0):
    rng = np.random.default_rng(seed)
    codes = np.column_stack([rng.integers(k, size=n) for k in LEVELS])
    y = sum(rng.standard_normal(k)[codes[:, j]] for j, k in enumerate(LEVELS) if j % 3)
    numeric = rng.standard_normal((n, 3))
    y = y + 0.5 * numeric[:, 0] + rng.standard_normal(n)
    onehot = OneHotEncoder(sparse_output=False).fit_transform(codes)
    return np.asfortranarray(np.hstack([onehot, numeric])), y


def enet_objective(X, y, coef, intercept, alpha, l1_ratio):
    r = y - X @ coef - intercept
    return (r @ r / (2 * len(y)) + alpha * l1_ratio * np.abs(coef).sum()
            + 0.5 * alpha * (1 - l1_ratio) * coef @ coef)


def sklearn_cv_loss(X, y, folds, alpha, l1_ratio):
    """The folds' mean held-out MSE of scikit-learn's ``ElasticNet`` at ``tol=1e-12``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        models = [ElasticNet(alpha=alpha, l1_ratio=l1_ratio, tol=1e-12,
                             max_iter=100_000).fit(X[tr], y[tr]) for tr, _ in folds]
    return np.mean([np.mean((m.predict(X[te]) - y[te]) ** 2)
                    for m, (_, te) in zip(models, folds)])


def test_one_hot_fit_matches_scikit_learn_on_the_same_folds():
    X, y = one_hot_table()
    assert np.linalg.matrix_rank(np.column_stack([X, np.ones(len(y))])) < X.shape[1] + 1
    cv = KFold(5, shuffle=True, random_state=0)
    est = ElasticNetHyperGrad(cv=cv, max_iter=8).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sk = [ElasticNet(alpha=est.alpha_, l1_ratio=est.l1_ratio_, tol=1e-12,
                         max_iter=100_000).fit(X[tr], y[tr]) for tr, _ in cv.split(X)]
        full = ElasticNet(alpha=est.alpha_, l1_ratio=est.l1_ratio_, tol=1e-12,
                          max_iter=100_000).fit(X, y)
    cv_loss = np.mean([np.mean((m.predict(X[te]) - y[te]) ** 2)
                       for m, (_, te) in zip(sk, cv.split(X))])
    assert abs(est.best_loss_ - cv_loss) <= 1e-6 * cv_loss
    ours = enet_objective(X, y, est.coef_, est.intercept_, est.alpha_, est.l1_ratio_)
    theirs = enet_objective(X, y, full.coef_, full.intercept_, est.alpha_, est.l1_ratio_)
    assert ours <= theirs * (1 + 1e-6)


def test_one_hot_refit_epochs_stay_bounded():
    """The refit at a tiny L2 weight: at most 100 epochs (on the Gram matrix) per feature
    (10,052 for these 161 features: the working sets stop on coordinate violations, which
    stay above their tolerance along the blocks' flat direction)."""
    X, y = one_hot_table()
    model = InnerModel("quadratic", "elasticnet", True).bind(y)
    pgmap = model.make_map(X, model.encode(y), center=True)
    alpha, l1_ratio = 1e-3, 1 - 1e-4
    solver = refit_solver("auto", ElasticNetHyperGrad._refit_tol, None, pgmap)
    res = solver.solve(pgmap, enet_lam_from_sklearn(alpha, l1_ratio), null_model(pgmap))
    assert res.converged
    assert res.n_iter <= 100 * X.shape[1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        full = ElasticNet(alpha=alpha, l1_ratio=l1_ratio, tol=1e-12, max_iter=100_000).fit(X, y)
    design = pgmap.design
    ours = enet_objective(X, y, design.coef(res.w), design.original_intercept(res.w), alpha,
                          l1_ratio)
    theirs = enet_objective(X, y, full.coef_, full.intercept_, alpha, l1_ratio)
    assert ours <= theirs * (1 + 1e-6)


def test_search_on_a_sparse_one_hot_table_matches_scikit_learn():
    """HyperGradSearchCV(ElasticNet()) on the CSR table: the dense table's search (the
    same rows, scores and best point), scikit-learn's CV loss at its best point to 1e-6,
    at most ElasticNetCV's (refereed at 1e-12) times 1.002, and at most 40 epochs per
    fold solve on average (cyclic epochs crawl along the blocks' flat directions at the
    small L2 weight the search reaches: ~1000 per solve)."""
    X, y = one_hot_table(300)
    cv = KFold(5, shuffle=True, random_state=0)
    folds = list(cv.split(X))
    epochs = []
    sparse = HyperGradSearchCV(ElasticNet(), cv=cv, scoring="neg_mean_squared_error",
                               callback=lambda h: epochs.append(h["n_iter_inner"])
                               ).fit(sp.csr_matrix(X), y)
    dense = HyperGradSearchCV(ElasticNet(), cv=cv,
                              scoring="neg_mean_squared_error").fit(X, y)
    assert sparse.best_index_ == dense.best_index_
    np.testing.assert_allclose(sparse.cv_results_["mean_test_score"],
                               dense.cv_results_["mean_test_score"], rtol=1e-8)
    best = sparse.best_params_
    assert best["l1_ratio"] < 1  # the small L2 weight of the flat directions
    cv_loss = sklearn_cv_loss(X, y, folds, best["alpha"], best["l1_ratio"])
    assert abs(-sparse.best_score_ - cv_loss) <= 1e-6 * cv_loss
    grid = ElasticNetCV(l1_ratio=[0.5, 0.9, 0.99, 1.0], alphas=30, cv=cv).fit(X, y)
    assert cv_loss <= 1.002 * sklearn_cv_loss(X, y, folds, grid.alpha_, grid.l1_ratio_)
    assert sum(epochs) <= 40 * len(folds) * len(epochs)


def test_compiled_path_solves_tiny_l2_weights_in_few_epochs():
    """The compiled folds along a path of L1 weights at an L2 weight of 1e-7 (where the
    search's scan goes): every fold solve within 60 epochs to a relative gap of 1e-10
    (cyclic epochs alone crawl along a block's near-null direction, by about the L2
    weight per epoch), at solutions that satisfy the optimality conditions."""
    X, y = one_hot_table(300)
    folds = list(KFold(5, shuffle=True, random_state=0).split(X))
    data = cv_gram_folds(X, y, folds, True)
    model = InnerModel("quadratic", "elasticnet", True).bind(y)
    solver = CoordinateDescent(tol=1e-10)
    l1_max = np.abs((X - X.mean(axis=0)).T @ (y - y.mean())).max() / len(y)
    warm = [None] * len(folds)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        for l1 in l1_max * np.logspace(0, -3, 10):
            lam = np.array([l1, 1e-7])
            out = evaluate_gram_folds(data, model.get_penalty(), lam, warm, solver, None,
                                      False, range(len(folds)))
            warm = [o.w for o in out]
            assert max(o.n_iter for o in out) <= 60
    # the optimality conditions on each fold's training rows (the intercept's included)
    for (train, _), w in zip(folds, warm):
        r = X[train] @ w[:-1] + w[-1] - y[train]
        grad = X[train].T @ r / len(train) + lam[1] * w[:-1]
        on = w[:-1] != 0
        assert np.all(np.abs(grad[on] + lam[0] * np.sign(w[:-1][on])) <= 1e-8 * lam[0])
        assert np.all(np.abs(grad[~on]) <= lam[0] * (1 + 1e-8))
        assert abs(r.mean()) <= 1e-8 * lam[0]


def test_weighted_search_on_a_sparse_one_hot_table_matches_scikit_learn():
    """HyperGradSearchCV(ElasticNet()) with sample weights (the fits' and the scorer's) on
    the CSR table: scikit-learn's weighted CV loss (``ElasticNet(...).fit(...,
    sample_weight)``, each fold's held-out MSE weighted) at its best point to 1e-6; at
    most 20 epochs per fold solve on average and 40 in any evaluation (the compiled
    folds' exact solves on the support, weighted as unweighted: cyclic epochs on the
    weighted rows crawl along the blocks' flat directions, 56 on average and ~2000 in
    the worst evaluation)."""
    X, y = one_hot_table(300)
    sw = np.random.default_rng(1).uniform(0.2, 3.0, y.shape[0])
    cv = KFold(5, shuffle=True, random_state=0)
    epochs = []
    search = HyperGradSearchCV(ElasticNet(), cv=cv, scoring="neg_mean_squared_error",
                               callback=lambda h: epochs.append(h["n_iter_inner"])
                               ).fit(sp.csr_matrix(X), y, sample_weight=sw)
    best = search.best_params_
    assert best["l1_ratio"] < 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        models = [ElasticNet(**best, tol=1e-12, max_iter=100_000).fit(
            X[tr], y[tr], sample_weight=sw[tr]) for tr, _ in cv.split(X)]
    cv_loss = np.mean([np.average((m.predict(X[te]) - y[te]) ** 2, weights=sw[te])
                       for m, (_, te) in zip(models, cv.split(X))])
    assert abs(-search.best_score_ - cv_loss) <= 1e-6 * cv_loss
    assert sum(epochs) <= 20 * cv.get_n_splits() * len(epochs)
    assert max(epochs) <= 40 * cv.get_n_splits()
