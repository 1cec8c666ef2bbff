"""Small problems shared by the tests (dense and sparse versions of the same data)."""

import numpy as np
import scipy.sparse as sp


def make_regression_data(n=60, p=20, seed=0, density=None):
    """Small least-squares problem; ``density`` makes X sparse (CSR) with that density."""
    rng = np.random.default_rng(seed)
    if density is None:
        X = rng.standard_normal((n, p))
    else:
        X = sp.random(n, p, density=density, random_state=seed, format="csr",
                      data_rvs=rng.standard_normal)
    w = np.zeros(p)
    w[: max(1, p // 4)] = rng.standard_normal(max(1, p // 4)) * 2
    y = X @ w + 0.3 * rng.standard_normal(n) + 1.0
    return X, np.asarray(y).ravel()


def make_classification_data(n=60, p=20, seed=0, n_classes=2, density=None):
    """Small classification problem: labels {-1, +1} for 2 classes, 0..K-1 otherwise."""
    X, t = make_regression_data(n, p, seed, density)
    if n_classes == 2:
        return X, np.where(t > np.median(t), 1.0, -1.0)
    edges = np.quantile(t, np.linspace(0, 1, n_classes + 1)[1:-1])
    return X, np.searchsorted(edges, t).astype(np.int64)


def as_storage(X, storage):
    """``X`` converted to dense, CSR or CSC."""
    if storage == "dense":
        return X.toarray() if sp.issparse(X) else np.asarray(X)
    return sp.csr_matrix(X) if storage == "csr" else sp.csc_matrix(X)
