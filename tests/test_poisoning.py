"""Data poisoning (skhypergrad.poisoning).

Protects: a few projected-gradient-ascent steps raise the victim's validation loss, for
the deterministic (AID-CG) and stochastic (NSID) hypergradients; the attack is
deterministic for a fixed random_state; the perturbed points stay in the valid range and
the epsilon-box, and rows to poison that start outside the range are refused;
hypergradient errors are tracked on request.
"""

from functools import lru_cache

import numpy as np
import pytest

from skhypergrad import poison


@lru_cache(maxsize=None)
def data():
    """Three Gaussian classes in [0, 1]^5: 90 training and 60 validation points."""
    rng = np.random.default_rng(0)
    centers = rng.uniform(0.25, 0.75, size=(3, 5))
    y = np.repeat(np.arange(3), 50)
    X = np.clip(centers[y] + 0.12 * rng.standard_normal((150, 5)), 0.0, 1.0)
    perm = rng.permutation(150)
    X, y = X[perm], y[perm]
    return X[:90], y[:90], X[90:], y[90:]


@pytest.mark.parametrize("method", ["aid-cg", "nsid"])
def test_poisoning_increases_validation_loss_deterministically(method):
    X, y, X_val, y_val = data()
    kw = dict(method=method, n_steps=4, step_size=0.25, lam=(0.005, 0.01), batch_size=10,
              epsilon=0.5, random_state=0)
    res = poison(X, y, X_val, y_val, **kw)
    assert res.val_loss.shape == res.val_accuracy.shape == res.epochs.shape == (5,)
    assert res.val_loss[-1] > res.val_loss[0] + 0.02, res.val_loss
    assert np.all(np.diff(res.epochs) > 0)
    assert res.poison_idx.shape == (27,)
    assert np.all((res.X_poisoned >= 0) & (res.X_poisoned <= 1))
    assert np.abs(res.perturbation).max() <= 0.5 + 1e-12
    np.testing.assert_array_equal(res.X_poisoned, X[res.poison_idx] + res.perturbation)
    again = poison(X, y, X_val, y_val, **kw)
    np.testing.assert_array_equal(again.X_poisoned, res.X_poisoned)
    np.testing.assert_array_equal(again.val_loss, res.val_loss)


def test_hypergradient_errors_are_tracked():
    """AID-CG is its own reference (error ~ 0); SID at a small K is far from it."""
    X, y, X_val, y_val = data()
    kw = dict(n_steps=2, lam=(0.005, 0.01), batch_size=10, random_state=1,
              track_errors=True, poison_idx=np.arange(10))
    exact = poison(X, y, X_val, y_val, method="aid-cg", **kw)
    assert exact.hypergrad_error.shape == (2,) and np.all(exact.hypergrad_error < 1e-6)
    sid = poison(X, y, X_val, y_val, method="sid", n_samples=20, **kw)
    assert np.all(sid.hypergrad_error > 1e-3)
    assert poison(X, y, X_val, y_val, method="itd", **dict(kw, track_errors=False)
                  ).hypergrad_error is None
    with pytest.raises(ValueError, match="method"):
        poison(X, y, X_val, y_val, method="grid")


@pytest.mark.parametrize("kwargs, name", [
    (dict(poison_idx=[0, 1000]), "poison_idx"),   # IndexError before
    (dict(poison_idx=[0.5, 1.2]), "poison_idx"),  # truncated to [0, 1] before
    (dict(poison_idx=np.arange(90) < 5), "poison_idx"),  # a mask read as rows 0 and 1
    (dict(epsilon=-0.1), "epsilon"),  # every perturbation set to -0.1 before
    (dict(epsilon=np.nan), "epsilon"),
    (dict(bounds=(1.0, 0.0)), "bounds"),  # clipped to an empty box before
    (dict(X_val_columns=3), "X_val"),  # IndexError before
])
def test_bad_arguments_raise_naming_them(kwargs, name):
    X, y, X_val, y_val = data()
    columns = kwargs.pop("X_val_columns", None)
    if columns is not None:
        X_val = X_val[:, :columns]
    with pytest.raises(ValueError, match=name):
        poison(X, y, X_val, y_val, method="aid-cg", n_steps=1, random_state=0, **kwargs)


def test_negative_rows_count_from_the_end():
    X, y, X_val, y_val = data()
    res = poison(X, y, X_val, y_val, method="aid-cg", n_steps=1, poison_idx=[0, -1])
    np.testing.assert_array_equal(res.poison_idx, [0, len(y) - 1])



@pytest.mark.parametrize("rows", [None, [3, 7]])
def test_rows_to_poison_outside_bounds_are_refused(rows):
    """A start outside bounds could only be brought within them by more than epsilon:
    refused, naming an entry outside (given rows: those; drawn rows: any row); other rows
    outside bounds do not matter when the rows are given, and the perturbations of the
    rows inside stay within epsilon and bounds."""
    X, y, X_val, y_val = data()
    X = X.copy()
    X[7, 2] = 1.4
    kw = dict(method="aid-cg", n_steps=3, step_size=0.25, epsilon=0.05, random_state=0)
    with pytest.raises(ValueError, match=r"bounds=\(0, 1\).*X_train\[7, 2\] = 1\.4"):
        poison(X, y, X_val, y_val, poison_idx=rows, **kw)
    res = poison(X, y, X_val, y_val, poison_idx=[3, 8], **kw)
    assert np.abs(res.perturbation).max() == pytest.approx(0.05)
    assert np.all((res.X_poisoned >= 0) & (res.X_poisoned <= 1))
