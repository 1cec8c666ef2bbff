"""Malformed and non-canonical sparse inputs fed to every public entry point, in one process.

Run by ``tests/test_input_validation.py`` in a subprocess (a malformed matrix
that reached a kernel would crash the interpreter, not raise): ``main(group)``
prints one JSON line per case and a ``start`` line before it, so that a crash
names the case it happened in.

For each entry point of the group, each of its sparse inputs and each format
(CSR, CSC):

* every defect of :data:`DEFECTS` is put in that input, the others kept valid;
  the record holds the exception raised (type and message) or ``None``;
* every valid variant of :data:`VARIANTS` (unsorted indices, duplicates,
  int64 indices, sparse array) is run too and compared with the canonical
  matrix of the same format, which is compared with the dense input; the
  record holds the relative differences and whether the input was modified.

The group ``"estimators"`` also puts the defects of
:data:`OTHER_FORMAT_DEFECTS` in a COO and a BSR ``X`` given to
``LassoHyperGrad.fit``.
"""

import json
import sys
import traceback
import warnings

import numpy as np
import scipy.sparse as sp

N, P, N_VAL = 30, 6, 12
FORMATS = ("csr", "csc")


# -- defects: name -> (make(A) -> malformed copy of A, word the message must contain) ------------
def _minor(A):
    return A.shape[1] if A.format == "csr" else A.shape[0]


def _set(A, **arrays):
    """A copy of ``A`` whose arrays are replaced (scipy's constructor would refuse them)."""
    B = A.copy()
    for attr, value in arrays.items():
        setattr(B, attr, value)
    return B


def _with_index(A, value):
    indices = A.indices.copy()
    indices[1] = value
    return _set(A, indices=indices)


def _with_pointer(A, k, value):
    indptr = A.indptr.copy()
    indptr[k] = value
    return _set(A, indptr=indptr)


DEFECTS = {
    "index_out_of_range": (lambda A: _with_index(A, _minor(A) + 3), "out of range"),
    "index_equal_to_size": (lambda A: _with_index(A, _minor(A)), "out of range"),
    "index_negative": (lambda A: _with_index(A, -1), "negative"),
    "indptr_decreasing": (lambda A: _with_pointer(A, 1, A.nnz), "indptr"),
    "indptr_too_short": (lambda A: _set(A, indptr=A.indptr[:-1].copy()), "indptr"),
    "indptr_first_not_zero": (lambda A: _with_pointer(A, 0, 1), "indptr"),
    "indptr_last_not_nnz": (lambda A: _with_pointer(A, -1, A.nnz - 1), "indptr"),
    "data_too_short": (lambda A: _set(A, data=A.data[:-1].copy()), "data"),
}


def _coo_with(A, axis, k, value):
    B = A.copy()
    (B.row, B.col)[axis][k] = value
    return B


# COO and BSR (converted to CSR by scipy, which reads their indices unchecked)
OTHER_FORMAT_DEFECTS = {
    "coo": {
        "row_out_of_range": (lambda A: _coo_with(A, 0, 1, A.shape[0] + 3), "out of range"),
        "col_negative": (lambda A: _coo_with(A, 1, 1, -1), "negative"),
        "data_too_short": (lambda A: _set(A, data=A.data[:-1].copy()), "same length"),
    },
    "bsr": {
        "block_index_out_of_range": (lambda A: _with_index(A, A.shape[1] // 2 + 1),
                                     "out of range"),
        "indptr_decreasing": (lambda A: _with_pointer(A, 1, A.indices.shape[0]), "indptr"),
    },
}


# -- valid variants: name -> make(A) -> a matrix equal to A ----------------------------------
def _rebuild(A, rows):
    """``A``'s format from ``rows[i]``: the (index, value) pairs stored for major slice i."""
    indptr = np.cumsum([0] + [len(r) for r in rows])
    indices = np.array([j for r in rows for j, _ in r], dtype=A.indices.dtype)
    data = np.array([v for r in rows for _, v in r], dtype=np.float64)
    return type(A)((data, indices, indptr.astype(A.indptr.dtype)), shape=A.shape)


def _slices(A):
    return [list(zip(A.indices[a:b], A.data[a:b])) for a, b in zip(A.indptr[:-1], A.indptr[1:])]


VARIANTS = {
    # every row (column) stored in reverse order
    "unsorted": lambda A: _rebuild(A, [r[::-1] for r in _slices(A)]),
    # every entry stored as two halves (exact in floating point), in reverse order
    "duplicates": lambda A: _rebuild(A, [[(j, v / 2) for j, v in r for _ in (0, 1)][::-1]
                                         for r in _slices(A)]),
    # set after construction: scipy's constructor would make them int32 again
    "int64_indices": lambda A: _set(A, indices=A.indices.astype(np.int64),
                                    indptr=A.indptr.astype(np.int64)),
    "sparse_array": lambda A: (sp.csr_array if A.format == "csr" else sp.csc_array)(A),
}


# -- the data --------------------------------------------------------------------------------
def _data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((N + N_VAL, P))
    X[np.abs(X) < 0.4] = 0.0  # about a third zeros; every row has two entries or more
    y = X[:, 0] - 0.7 * X[:, 1] + 0.3 * rng.standard_normal(N + N_VAL)
    return X[:N], y[:N], X[N:], y[N:]


X, Y, X_VAL, Y_VAL = _data()
LABELS, LABELS_VAL = (Y > np.median(Y)).astype(int), (Y_VAL > np.median(Y)).astype(int)


# -- the entry points, by group: name -> ({input: its name in messages}, run(**inputs) -> array)
def _result(est):
    return np.concatenate([np.ravel(est.lam_), np.ravel(est.coef_), np.ravel(est.intercept_)])


def _estimators():
    from sklearn.base import clone

    from skhypergrad import (ElasticNetHyperGrad, LassoHyperGrad, LogisticRegressionHyperGrad,
                             WeightedLassoHyperGrad)

    # a given start: no scan of starting points, two criterion evaluations per fit
    estimators = {
        "LassoHyperGrad": (LassoHyperGrad(cv=3, max_iter=1, alpha_init=0.05), Y),
        "ElasticNetHyperGrad": (ElasticNetHyperGrad(cv=3, max_iter=1, alpha_init=0.1), Y),
        "WeightedLassoHyperGrad": (WeightedLassoHyperGrad(cv=3, max_iter=1, alpha_init=0.05),
                                   Y),
        "LogisticRegressionHyperGrad": (LogisticRegressionHyperGrad(cv=3, max_iter=1,
                                                                    C_init=1.0), LABELS),
    }
    entries = {}
    for name, (est, target) in estimators.items():
        entries[f"{name}.fit"] = ({"X": "X"}, lambda X=X, est=est, target=target: _result(
            clone(est).fit(X, target)))
    entries["LassoHyperGrad.fit(cv=0.3)"] = ({"X": "X"}, lambda X=X: _result(
        LassoHyperGrad(cv=0.3, max_iter=1, alpha_init=0.05, random_state=0).fit(X, Y)))
    for name, (est, target) in estimators.items():
        est = clone(est).fit(X, target)
        methods = ["predict", "score"]
        if name == "LogisticRegressionHyperGrad":
            methods += ["decision_function", "predict_proba", "predict_log_proba"]
        for method in methods:
            args = (target,) if method == "score" else ()
            entries[f"{name}.{method}"] = ({"X": "X"}, lambda X=X, f=getattr(est, method),
                                           a=args: np.ravel(f(X, *a)))
    return entries


def _search():
    from sklearn.linear_model import Lasso, LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MaxAbsScaler

    from skhypergrad import HyperGradSearchCV

    # refit=False: the refit is the estimator's own fit (scikit-learn's Lasso refuses
    # int64 CSR indices), the search's result is best_params_ and best_score_
    def search(estimator, target):
        def run(X=X):
            s = HyperGradSearchCV(estimator, cv=3, max_iter=1, refit=False).fit(X, target)
            return np.array(list(s.best_params_.values()) + [s.best_score_])
        return run
    entries = {
        "HyperGradSearchCV(Lasso).fit": ({"X": "X"}, search(Lasso(alpha=0.1), Y)),
        "HyperGradSearchCV(LogisticRegression).fit": ({"X": "X"}, search(
            LogisticRegression(C=1.0, l1_ratio=1.0, solver="saga"), LABELS)),
        "HyperGradSearchCV(pipeline).fit": ({"X": "X"}, search(
            make_pipeline(MaxAbsScaler(), Lasso(alpha=0.1)), Y)),
    }
    # the methods that pass X to the refit estimator
    fitted = {
        "Lasso": (HyperGradSearchCV(Lasso(alpha=0.1), cv=3, max_iter=1).fit(X, Y), Y),
        "LogisticRegression": (HyperGradSearchCV(
            LogisticRegression(C=1.0, l1_ratio=1.0, solver="saga"), cv=3, max_iter=1
        ).fit(X, LABELS), LABELS),
    }
    for name, (s, target) in fitted.items():
        methods = ["predict", "score"]
        if name == "LogisticRegression":
            methods += ["decision_function", "predict_proba"]
        for method in methods:
            args = (target,) if method == "score" else ()
            entries[f"HyperGradSearchCV({name}).{method}"] = (
                {"X": "X"}, lambda X=X, f=getattr(s, method), a=args: np.ravel(f(X, *a)))
    return entries


def _criteria():
    from sklearn.linear_model import Lasso, LogisticRegression

    from skhypergrad import SURE, CrossVal, HeldOut, InnerModel, ProxGradient, hypergradient

    def hg(model, criterion, target=Y):
        def run(X=X):
            value, grad = hypergradient(model, X, target, criterion=criterion)
            return np.concatenate([[value], grad])
        return run

    def hg_heldout(X=X, X_val=X_VAL):
        value, grad = hypergradient(Lasso(alpha=0.05), X, Y, criterion=HeldOut(X_val, Y_VAL))
        return np.concatenate([[value], grad])

    model = InnerModel("quadratic", "l1", fit_intercept=True)
    lam = np.array([0.05])

    def heldout(X=X, X_val=X_VAL):
        res = HeldOut(X_val, Y_VAL).value_and_grad(model, X, Y, lam, solver=ProxGradient(),
                                                   engine="aid-cg")
        return np.concatenate([[res.value], res.grad])

    def crossval(X=X):
        return CrossVal(cv=3).value(model, X, Y, lam, solver=ProxGradient()).values

    def sure(X=X):
        res = SURE(sigma=0.3).value_and_grad(model, X, Y, lam, solver=ProxGradient(),
                                             engine="aid-cg")
        return np.concatenate([[res.value], res.grad])
    return {
        "hypergradient(CrossVal)": ({"X": "X"}, hg(Lasso(alpha=0.05), CrossVal(cv=3))),
        "hypergradient(CrossVal, logistic)": ({"X": "X"}, hg(
            LogisticRegression(C=1.0, l1_ratio=1.0), CrossVal(cv=3), LABELS)),
        "hypergradient(SURE)": ({"X": "X"}, hg(Lasso(alpha=0.05), SURE(sigma=0.3))),
        "hypergradient(HeldOut)": ({"X": "X", "X_val": "criterion.X_val"}, hg_heldout),
        "HeldOut.value_and_grad": ({"X": "X", "X_val": "X_val"}, heldout),
        "CrossVal.value": ({"X": "X"}, crossval),
        "SURE.value_and_grad": ({"X": "X"}, sure),
    }


def _data_and_solvers():
    from sklearn.linear_model import Lasso

    from skhypergrad import (L1, CoordinateDescent, ProxGradient, ProxGradMap, Quadratic,
                             StochasticProxGradient, data_gradient, poison)

    def data_grad(X_train=X, X_val=X_VAL):
        value, grad = data_gradient(Lasso(alpha=0.05), X_train, Y, X_val, Y_VAL, rows=[0, 3])
        return np.concatenate([[value], grad.ravel()])

    def poisoning(X_train=X, X_val=X_VAL):
        res = poison(X_train, LABELS, X_val, LABELS_VAL, method="aid-cg", n_steps=1,
                     random_state=0)
        return np.ravel(res.X_poisoned)
    entries = {"data_gradient": ({"X_train": "X_train", "X_val": "X_val"}, data_grad),
               "poison": ({"X_train": "X_train", "X_val": "X_val"}, poisoning)}
    lam = np.array([0.05])
    for solver in (CoordinateDescent(), ProxGradient(),
                   StochasticProxGradient(random_state=0, max_epochs=50)):
        entries[f"{type(solver).__name__}.solve(ProxGradMap)"] = (
            {"X": "X"}, lambda X=X, solver=solver: solver.solve(
                ProxGradMap(Quadratic(), L1(), X, Y, fit_intercept=True), lam).w)
    return entries


GROUPS = {"estimators": _estimators, "search": _search, "criteria": _criteria,
          "data_and_solvers": _data_and_solvers}


# -- the cases ---------------------------------------------------------------------------------
def _emit(**record):
    print(json.dumps(record), flush=True)


def _attempt(run, kwargs):
    """``(result, None)`` or ``(None, (type name, message))``."""
    try:
        return np.asarray(run(**kwargs), dtype=np.float64), None
    except Exception as exc:  # recorded, judged by the test
        return None, (type(exc).__name__, str(exc))


def _arrays(A):
    return {k: np.copy(getattr(A, k)) for k in ("data", "indices", "indptr")}


def _unchanged(A, before):
    return all(np.array_equal(getattr(A, k), v) and getattr(A, k).dtype == v.dtype
               for k, v in before.items())


def _rel_diff(a, b):
    if a is None or b is None or a.shape != b.shape:
        return None
    return float(np.max(np.abs(a - b), initial=0.0) / max(np.max(np.abs(b), initial=0.0),
                                                         1e-300))


def _other_formats(entry, run):
    """The defects of :data:`OTHER_FORMAT_DEFECTS` in ``X`` given to ``run``."""
    for fmt, defects in OTHER_FORMAT_DEFECTS.items():
        A = sp.coo_matrix(X) if fmt == "coo" else sp.bsr_matrix(X, blocksize=(2, 2))
        case = dict(entry=entry, input="X", name="X", format=fmt)
        for defect, (make, word) in defects.items():
            _emit(start=dict(case, case=defect))
            _, error = _attempt(run, {"X": make(A)})
            _emit(kind="malformed", case=defect, word=word, error=error, **case)


def main(group):
    """Run every case of the entry points of ``group``, one JSON line each."""
    warnings.simplefilter("ignore")
    entries = GROUPS[group]()
    if group == "estimators":
        _other_formats("LassoHyperGrad.fit", entries["LassoHyperGrad.fit"][1])
    for entry, (inputs, run) in entries.items():
        dense, _ = _attempt(run, {})
        for arg, message_name in inputs.items():
            base = {"X": X, "X_train": X, "X_val": X_VAL}[arg]
            for fmt in FORMATS:
                A = sp.csr_matrix(base).asformat(fmt)
                case = dict(entry=entry, input=arg, name=message_name, format=fmt)
                for defect, (make, word) in DEFECTS.items():
                    _emit(start=dict(case, case=defect))
                    _, error = _attempt(run, {arg: make(A)})
                    _emit(kind="malformed", case=defect, word=word, error=error, **case)
                _emit(start=dict(case, case="canonical"))
                canonical, error = _attempt(run, {arg: A})
                _emit(kind="valid", case="canonical", error=error,
                      diff=_rel_diff(canonical, dense), **case)
                for variant, make in VARIANTS.items():
                    B = make(A)
                    before = _arrays(B)
                    _emit(start=dict(case, case=variant))
                    out, error = _attempt(run, {arg: B})
                    _emit(kind="valid", case=variant, error=error,
                          diff=_rel_diff(out, canonical), unchanged=_unchanged(B, before),
                          **case)
    _emit(done=group)


if __name__ == "__main__":
    try:
        main(sys.argv[1])
    except Exception:
        traceback.print_exc()
        sys.exit(3)
