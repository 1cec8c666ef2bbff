r"""Data poisoning of a sparse multinomial logistic regression, by hypergradients.

The victim trains a multinomial logistic regression with a fixed elastic net
(no intercept) on clean points and ``m`` poisoned ones,
:math:`x_i + \delta_i` for :math:`i \in R`:

.. math::

    W^*(\delta) = \arg\min_W \frac1n\sum_i \ell(y_i, W^T x_i(\delta))
    + \lambda_1\|W\|_1 + \frac{\lambda_2}{2}\|W\|^2 .

The attacker maximizes the validation cross-entropy
:math:`C(W^*(\delta)) = \frac{1}{n_{val}}\sum_j \ell(y_j, W^{*T} x_j)` over the
additive perturbation :math:`\delta` by projected gradient ascent,

.. math::

    \delta \leftarrow \Pi\Big(\delta + s\,\frac{\nabla_\delta C}{\|\nabla_\delta C\|_\infty}\Big),
    \qquad \Pi: \text{onto } \{\mathrm{lo} \le x_R + \delta \le \mathrm{hi},\;
    \|\delta\|_\infty \le \epsilon\},

the gradient taken through the solution map by any engine on
:class:`~skhypergrad.data_gradient.TrainingDataMap` (NSID, its biased SID
baseline, AID-FP, AID-CG, ITD); the normalized step makes ``step_size`` a
change of the inputs' units (e.g. pixels). This is the data-poisoning
experiment of Grazzi, Pontil and Salzo (2024), who used MNIST; the gallery
example uses scikit-learn's offline ``load_digits``.
"""

import numbers
from typing import Any, NamedTuple

import numpy as np
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import assert_all_finite, check_array, check_random_state, column_or_1d

from ._validation import check_sparse_structure
from .criteria import _heldout_loss
from .data_gradient import TrainingDataMap
from .hypergrad import ITD, NSID, AIDConjugateGradient, AIDFixedPoint
from .models import InnerModel
from .solvers import ProxGradient, StochasticProxGradient

__all__ = ["PoisoningResult", "poison", "POISONING_METHODS"]

#: hypergradient methods accepted by :func:`poison`
POISONING_METHODS = ("nsid", "sid", "aid-fp", "aid-cg", "itd")


class PoisoningResult(NamedTuple):
    """Outcome of :func:`poison`.

    Attributes
    ----------
    X_poisoned : ndarray of shape (m, n_features)
        The poisoned points after the attack (originals plus ``perturbation``).
    perturbation : ndarray of shape (m, n_features)
    poison_idx : ndarray of shape (m,)
        Rows of ``X_train`` that were poisoned.
    val_loss, val_accuracy : ndarray of shape (n_steps + 1,)
        Validation cross-entropy and accuracy of the victim before each step
        and after the last one.
    epochs : ndarray of shape (n_steps + 1,)
        Cumulative passes over the training data (inner solves plus
        hypergradients) spent before each entry of ``val_loss``.
    hypergrad_error : ndarray of shape (n_steps,) or None
        Relative error of every step's hypergradient against AID-CG at
        ``tol=1e-10`` at the same inner point (``track_errors=True`` only).
    coef : ndarray of shape (n_features, n_classes)
        The victim's coefficients trained on the final poisoned data.
    classes : ndarray
        Labels in the order of the columns of ``coef``.
    """

    X_poisoned: np.ndarray
    perturbation: np.ndarray
    poison_idx: np.ndarray
    val_loss: np.ndarray
    val_accuracy: np.ndarray
    epochs: np.ndarray
    hypergrad_error: Any
    coef: np.ndarray
    classes: np.ndarray


def _engine(method, n_samples, batch_size, step_schedule, n_iter, seed, n_jobs):
    if method in ("nsid", "sid"):
        return NSID(n_samples=n_samples, batch_size=batch_size, step_schedule=step_schedule,
                    random_state=seed, biased=method == "sid", n_jobs=n_jobs)
    if method == "aid-fp":
        return AIDFixedPoint(tol=1e-10, max_iter=n_iter)
    if method == "aid-cg":
        return AIDConjugateGradient(tol=1e-10, max_iter=n_iter)
    return ITD(n_iter=n_iter, mode="reverse")


def _engine_epochs(method, res, n, batch_size):
    """Passes over the training data spent by one hypergradient."""
    if method in ("nsid", "sid"):
        return (2 * res.n_iter + 1) * batch_size / n  # K minibatches, J = K + 1 for Psi_bar
    return float(res.n_iter)


def _check_rows(poison_idx, n):
    """``poison_idx`` as distinct indices in [0, n) (negative ones counted from the end, as
    NumPy's), or a ValueError naming it."""
    rows = np.asarray(poison_idx)
    if rows.ndim != 1 or rows.size == 0 or not np.issubdtype(rows.dtype, np.integer):
        raise ValueError(f"poison_idx must be a non-empty 1-d array of integer row indices, "
                         f"got shape {rows.shape} and dtype {rows.dtype}.")
    if rows.min() < -n or rows.max() >= n:
        raise ValueError(f"poison_idx must index the {n} rows of X_train, got values from "
                         f"{rows.min()} to {rows.max()}.")
    rows = np.where(rows < 0, rows + n, rows).astype(np.intp)
    if np.unique(rows).size != rows.size:
        raise ValueError("poison_idx must hold distinct rows.")
    return rows


def _check_bounds(bounds):
    """``(lo, hi)`` as floats with ``lo <= hi`` (NaN refused), or a ValueError naming
    ``bounds``."""
    try:
        lo, hi = (float(b) for b in bounds)
    except (TypeError, ValueError):
        raise ValueError(f"bounds must be None or (low, high), got {bounds!r}.") from None
    if not lo <= hi:
        raise ValueError(f"bounds must be None or (low, high) with low <= high, got "
                         f"{bounds!r}.")
    return lo, hi


def _check_within_bounds(X_train, lo, hi, rows=None):
    """A ValueError when an entry of the rows that may be poisoned, ``X_train[rows]``
    (every row when ``rows`` is None: the rows are then drawn), lies outside
    ``[lo, hi]``."""
    X = X_train if rows is None else X_train[rows]
    outside = (X < lo) | (X > hi)
    if outside.any():
        i, j = np.argwhere(outside)[0]
        what = "X_train (whose rows are drawn to poison)" if rows is None \
            else "X_train[poison_idx]"
        raise ValueError(
            f"bounds=({lo:g}, {hi:g}) is the valid range of the inputs, but {what} has "
            f"{int(outside.sum())} {'entry' if outside.sum() == 1 else 'entries'} outside "
            f"it (from {X.min():g} to {X.max():g}; e.g. "
            f"X_train[{i if rows is None else rows[i]}, {j}] = "
            f"{X[i, j]:g}). The perturbation is counted from these points and must keep "
            "them within bounds: scale the data into bounds, pass the range they lie in, "
            "or bounds=None.")


def poison(X_train, y_train, X_val, y_val, *, poison_idx=None, poison_fraction=0.3,
           lam=(0.02, 0.1), method="nsid", n_steps=10, step_size=0.1, epsilon=None,
           bounds=(0.0, 1.0), batch_size=300, n_samples=None, step_schedule="decreasing",
           n_iter=200, inner_tol=1e-6, track_errors=False, random_state=None, n_jobs=None):
    r"""Poison training points to maximize a victim's validation loss.

    See the module docstring for the problem and the projected gradient ascent.

    Parameters
    ----------
    X_train : ndarray of shape (n_samples, n_features)
        Clean training inputs (dense: sparse ``X_train`` and ``X_val`` are
        refused with a ``TypeError``, or a ``ValueError`` when malformed).
    y_train : array-like of shape (n_samples,)
        Training labels (the poisoned points keep theirs).
    X_val : ndarray of shape (n_val, n_features)
    y_val : array-like of shape (n_val,)
        Validation data the attacker evaluates the victim on.
    poison_idx : array-like of int, default=None
        Rows of ``X_train`` to poison; when None, ``round(poison_fraction * n)``
        rows drawn with ``random_state``.
    poison_fraction : float, default=0.3
        Fraction of poisoned rows when ``poison_idx`` is None.
    lam : (float, float), default=(0.02, 0.1)
        The victim's elastic net :math:`(\lambda_1, \lambda_2)` (normalized
        objective, see :class:`~skhypergrad.ElasticNetPenalty`).
    method : {"nsid", "sid", "aid-fp", "aid-cg", "itd"}, default="nsid"
        Hypergradient method. NSID / SID (biased baseline) train the victim
        with minibatch SAGA (:class:`~skhypergrad.StochasticProxGradient`, same
        ``batch_size``); the others with FISTA
        (:class:`~skhypergrad.ProxGradient`). ITD runs ``n_iter`` reverse-mode
        steps from the previous solution instead of an inner solve.
    n_steps : int, default=10
        Outer (ascent) steps.
    step_size : float, default=0.1
        Largest change of one input per step (the ascent direction is the
        hypergradient divided by its largest magnitude).
    epsilon : float or None, default=None
        Bound on :math:`\|\delta\|_\infty` (no bound when None), the
        perturbation counted from the clean points ``X_train[poison_idx]``.
    bounds : (float, float) or None, default=(0.0, 1.0)
        Valid range of the inputs (e.g. pixels); None for no range. The rows that
        may be poisoned (``X_train[poison_idx]``, or every row of ``X_train``
        when the rows are drawn) must lie within it, else a ``ValueError``: the
        projection onto :math:`\{\mathrm{lo} \le x_R + \delta \le \mathrm{hi},
        \|\delta\|_\infty \le \epsilon\}` then always exists (it holds
        :math:`\delta = 0`), so that every perturbation stays within ``epsilon``
        and every poisoned point within ``bounds``.
    batch_size : int, default=300
        Minibatch size of NSID / SID and of the stochastic inner solver.
    n_samples : int or None, default=None
        NSID / SID iterations K; ``10 * ceil(n / batch_size)`` (ten epochs) when None.
    step_schedule : {"decreasing", "constant"}, default="decreasing"
        NSID / SID step schedule.
    n_iter : int, default=200
        Iterations of AID-FP / AID-CG (at most) and of ITD.
    inner_tol : float, default=1e-6
        Relative duality gap of the inner solves.
    track_errors : bool, default=False
        Also compute every step's hypergradient error (against AID-CG at
        ``tol=1e-10``; not counted in ``epochs``).
    random_state : int, RandomState instance or None, default=None
        Seeds the choice of the poisoned rows, the inner solver and the
        engine; an int makes the whole attack deterministic.
    n_jobs : int or None, default=None
        Workers for NSID's averaged estimates (see :class:`~skhypergrad.NSID`).

    Returns
    -------
    PoisoningResult

    Examples
    --------
    >>> import numpy as np
    >>> from skhypergrad import poison
    >>> rng = np.random.RandomState(0)
    >>> X, y = rng.rand(60, 4), rng.randint(3, size=60)
    >>> res = poison(X[:40], y[:40], X[40:], y[40:], method="aid-cg", n_steps=2,
    ...              random_state=0)
    >>> res.X_poisoned.shape, res.val_loss.shape
    ((12, 4), (3,))
    """
    if method not in POISONING_METHODS:
        raise ValueError(f"method must be one of {POISONING_METHODS}, got {method!r}.")
    for name, value in (("n_steps", n_steps), ("batch_size", batch_size), ("n_iter", n_iter)):
        if not isinstance(value, numbers.Integral) or value < (0 if name == "n_steps" else 1):
            raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    if not (isinstance(step_size, numbers.Real) and step_size > 0):
        raise ValueError(f"step_size must be a positive float, got {step_size!r}.")
    # sparse input is refused; a malformed one names what is wrong with it
    X_train = check_array(check_sparse_structure(X_train, "X_train"), dtype=np.float64,
                          input_name="X_train")
    X_val = check_array(check_sparse_structure(X_val, "X_val"), dtype=np.float64,
                        input_name="X_val")
    y_train, y_val = column_or_1d(y_train), column_or_1d(y_val)
    assert_all_finite(y_train, input_name="y_train")
    assert_all_finite(y_val, input_name="y_val")
    if X_train.shape[0] != y_train.shape[0] or X_val.shape[0] != y_val.shape[0]:
        raise ValueError("X_train / y_train or X_val / y_val have different lengths.")
    if X_val.shape[1] != X_train.shape[1]:
        raise ValueError(f"X_val has {X_val.shape[1]} features, X_train has "
                         f"{X_train.shape[1]}.")
    if epsilon is not None and not (isinstance(epsilon, numbers.Real) and epsilon >= 0):
        raise ValueError(f"epsilon must be None or a non-negative number, got {epsilon!r}.")
    lo, hi = (-np.inf, np.inf) if bounds is None else _check_bounds(bounds)
    eps = np.inf if epsilon is None else float(epsilon)
    rng = check_random_state(random_state)
    n, p = X_train.shape
    if poison_idx is None:
        if not 0 < poison_fraction <= 1:
            raise ValueError(f"poison_fraction must be in (0, 1], got {poison_fraction!r}.")
        _check_within_bounds(X_train, lo, hi)
        m = max(1, int(round(poison_fraction * n)))
        poison_idx = np.sort(rng.choice(n, size=m, replace=False))
    poison_idx = _check_rows(poison_idx, n)
    _check_within_bounds(X_train, lo, hi, poison_idx)

    classes = LabelEncoder().fit(np.concatenate([y_train, y_val])).classes_
    model = InnerModel("multinomial", "elasticnet", fit_intercept=False, classes=classes)
    lam = model.check_lam(lam, p)
    y_enc = model.encode(y_train)
    outer = _heldout_loss(model, "multinomial", X_val, model.encode(y_val))
    y_val_enc = model.encode(y_val)
    stochastic = method in ("nsid", "sid")
    K = int(np.ceil(n / batch_size)) * 10 if n_samples is None else int(n_samples)

    X0 = X_train[poison_idx].copy()
    delta = np.zeros_like(X0)
    X_cur = X_train.copy()
    w, epochs = None, 0.0
    losses, accs, spent, errors = [], [], [], []

    def train(X, w0, seed):
        pgmap = model.make_map(X, y_enc)
        if stochastic:
            solver = StochasticProxGradient(batch_size=batch_size, tol=inner_tol,
                                            random_state=seed, warn=False)
        else:
            solver = ProxGradient(tol=inner_tol, warn=False)
        sol = solver.solve(pgmap, lam, w0)
        return pgmap, sol.w, float(sol.n_iter)

    def record(w):
        losses.append(outer.value(w))
        pred = np.argmax(X_val @ w.reshape(p, -1), axis=1)
        accs.append(float(np.mean(pred == y_val_enc)))
        spent.append(epochs)

    for _ in range(n_steps):
        seed_solver, seed_engine = rng.randint(np.iinfo(np.int32).max, size=2)
        X_cur[poison_idx] = X0 + delta
        engine = _engine(method, K, batch_size, step_schedule, n_iter, seed_engine, n_jobs)
        if method == "itd":
            pgmap = model.make_map(X_cur, y_enc)
            start = pgmap.design.zeros() if w is None else w
        else:
            pgmap, w, inner_epochs = train(X_cur, w, seed_solver)
            epochs += inner_epochs
            start = w
        dmap = TrainingDataMap(pgmap, lam, poison_idx)
        u0 = np.zeros(dmap.n_hyper)
        res = engine.hypergradient(dmap, u0, start, outer.grad)
        epochs += _engine_epochs(method, res, n, batch_size)
        w = res.w
        record(w)
        grad = np.asarray(res.grad).reshape(delta.shape)
        if track_errors:
            ref = AIDConjugateGradient(tol=1e-10, max_iter=10_000).hypergradient(
                dmap, u0, w, outer.grad).grad.reshape(delta.shape)
            errors.append(float(np.linalg.norm(grad - ref) / max(np.linalg.norm(ref), 1e-300)))
        scale = np.abs(grad).max()
        if scale > 0 and np.isfinite(scale):
            delta = delta + step_size * grad / scale
        delta = np.clip(np.clip(delta, -eps, eps), lo - X0, hi - X0)

    X_cur[poison_idx] = X0 + delta
    _, w, inner_epochs = train(X_cur, w, rng.randint(np.iinfo(np.int32).max))
    epochs += inner_epochs
    record(w)
    return PoisoningResult(
        X_poisoned=X0 + delta, perturbation=delta, poison_idx=poison_idx,
        val_loss=np.array(losses), val_accuracy=np.array(accs), epochs=np.array(spent),
        hypergrad_error=np.array(errors) if track_errors else None,
        coef=w.reshape(p, -1), classes=classes)
