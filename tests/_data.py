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


def make_wide_sparse_data(n=400, p=400_000, per_row=8, seed=0):
    """Least squares with ``p >> n`` and ``per_row`` nonzeros per row (CSR, positions drawn
    directly, half of them among the first 2,000 columns where the 50 informative
    features are): a ``p``-vector outweighs ``X``, as in issue 7's benchmark."""
    rng = np.random.default_rng(seed)
    nnz = n * per_row
    rows = rng.integers(0, n, nnz)
    cols = rng.integers(0, 2_000, nnz)
    cols[::2] = rng.integers(0, p, nnz // 2)
    X = sp.csr_matrix((rng.standard_normal(nnz), (rows, cols)), shape=(n, p))
    X.sum_duplicates()
    w = np.zeros(p)
    w[:50] = rng.standard_normal(50)
    return X, np.asarray(X @ w + 0.1 * rng.standard_normal(n))


def traced_peak(func, *args, **kwargs):
    """``(result, peak)``: ``func(*args, **kwargs)`` and the peak of the memory it
    allocated (``tracemalloc``, bytes above the memory traced when it starts)."""
    import tracemalloc

    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        out = func(*args, **kwargs)
        return out, tracemalloc.get_traced_memory()[1] - start
    finally:
        tracemalloc.stop()


def log_lam_finite_differences(crit, model, X, y, lam, solver, eps=1e-5):
    """Central differences of ``crit``'s value in ``log(lam)``, one entry at a time: what
    a hypergradient in ``log lam`` must match."""
    out = []
    for j in range(len(lam)):
        up, down = np.array(lam, dtype=float), np.array(lam, dtype=float)
        up[j] *= np.exp(eps)
        down[j] *= np.exp(-eps)
        out.append((crit.value(model, X, y, up, solver=solver).value
                    - crit.value(model, X, y, down, solver=solver).value) / (2 * eps))
    return np.array(out)


def make_one_hot_data(n=300, seed=0, levels=(4, 6, 9)):
    """Every level of three categorical columns one-hot encoded, and two numeric
    columns: each block sums to the intercept's column (a rank-deficient design)."""
    rng = np.random.default_rng(seed)
    codes = np.column_stack([rng.integers(k, size=n) for k in levels])
    blocks = [np.eye(k)[codes[:, j]] for j, k in enumerate(levels)]
    numeric = rng.standard_normal((n, 2))
    y = sum(rng.standard_normal(k)[codes[:, j]] for j, k in enumerate(levels)) \
        + numeric[:, 0] + 0.5 * rng.standard_normal(n)
    return np.hstack(blocks + [numeric]), y
