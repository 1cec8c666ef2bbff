r"""The cross-validated criterion of SVC (:class:`SVCCriterion`).

On each fold, one binary dual problem per pair of classes (one-vs-one), solved by
:func:`~skhypergrad.svm.smo` from the solution at the nearest point evaluated before; the
value is the held-out surrogate loss (:func:`~skhypergrad._svc_loss.scaled_logistic_loss`)
averaged over the pairs and the folds, the score the held-out accuracy of the votes, and
the hypergradient the exact one from the KKT conditions of each pair's dual (derived in
:mod:`skhypergrad.svc`) or an engine's on :class:`~skhypergrad.svm.SVCDualMap`.
"""

import numpy as np

from ._kernel_search import FoldMeanCriterion, NearestWarmStart
from ._svc_loss import scaled_logistic_loss
from .hypergrad import get_engine
from .kernels import pair_data
from .svm import SVCDualMap, free_set, intercept_from_gradient, libsvm_intercept, smo

__all__ = ["SVCCriterion"]


class _Pair(NearestWarmStart):
    """One binary problem of a fold: its training rows (those of positive weight), their
    labels and bound multipliers, its held-out rows and their weights, and the solutions
    at the points evaluated (warm starts)."""

    def __init__(self, train, y, w, test, y_test, v, whole):
        self.train = train
        self.y = y
        self.w = w            # C_i = C w_i; None: all C
        self.test = test
        self.y_test = y_test
        self.v = v            # held-out weights; None: all 1
        self.whole = whole    # the fold's rows are the pair's (no slicing)
        self.solutions = []   # (log lam, C, a)
        self.a = None
        self.rho = 0.0

    def bounds(self, C):
        """The upper bounds of the dual coefficients at ``C``."""
        return C if self.w is None else C * self.w


class _Fold:
    def __init__(self, spec, data, n_classes, weight=None, test_weight=None):
        self.train = pair_data(spec, data.X_train)
        self.test = pair_data(spec, data.X_test, None if spec.kernel == "precomputed"
                              else data.X_train)
        self.y_test = data.y_test
        self.n_test = data.y_test.shape[0]
        self.test_weight = test_weight
        self.pairs = []
        for p in range(n_classes):
            for q in range(p + 1, n_classes):
                tr = (data.y_train == p) | (data.y_train == q)
                if weight is not None:
                    tr &= weight > 0
                tr = np.flatnonzero(tr)
                te = np.flatnonzero((data.y_test == p) | (data.y_test == q))
                whole = tr.shape[0] == data.y_train.shape[0]
                self.pairs.append(((p, q), _Pair(
                    tr, np.where(data.y_train[tr] == q, 1.0, -1.0),
                    None if weight is None else weight[tr], te,
                    np.where(data.y_test[te] == q, 1.0, -1.0),
                    None if test_weight is None else test_weight[te], whole)))
        self._gamma = None
        self._K = self._Kv = None

    def at(self, gamma):
        """``(K, Kv)`` at ``gamma``, computed once per width (into the same arrays: the
        previous width's are overwritten)."""
        if self._gamma != gamma:
            self._K = self.train.kernel(gamma, out=self._K)[0]
            self._Kv = self.test.kernel(gamma, out=self._Kv)[0]
            self._gamma = gamma
        return self._K, self._Kv


class SVCCriterion(FoldMeanCriterion):
    r"""Mean over folds of the held-out surrogate loss of SVC, its gradient, and accuracy.

    Parameters
    ----------
    spec : KernelSpec
    folds : list of FoldData
        Targets encoded as class indices 0..n_classes-1 (see
        :func:`~skhypergrad._kernel_search.kernel_folds`).
    n_classes : int
    hypergradient : str or BaseEngine, default="kkt"
        "kkt" (:mod:`skhypergrad.svc`) or an engine run on
        :class:`~skhypergrad.svm.SVCDualMap` (without ``weights`` only).
    tol : float, default=1e-8
        KKT violation at which the solver stops (evaluations with the gradient).
    value_tol : float, default=None
        That of the evaluations without the gradient (:meth:`value`); ``tol`` when None.
    weights : list of ndarray, default=None
        Per fold, the non-negative weights of its training rows (sample weights times
        class weights): the bound of row i's coefficient is :math:`C w_i`, as
        libsvm's; rows of weight 0 are left out. None: all 1.
    test_weights : list of ndarray, default=None
        Per fold, the weights of its held-out rows in the surrogate loss and the
        accuracy. None: all 1.

    Notes
    -----
    ``lam`` is ``[C, gamma]`` for kernels with a width, ``[C]`` otherwise.
    """

    def __init__(self, spec, folds, n_classes, hypergradient="kkt", tol=1e-8, weights=None,
                 test_weights=None, value_tol=None):
        if weights is not None and hypergradient != "kkt":
            raise ValueError("With sample weights or class weights, the SVC hypergradient is "
                             "the exact KKT one: use hypergradient='kkt'.")
        weights = [None] * len(folds) if weights is None else weights
        test_weights = [None] * len(folds) if test_weights is None else test_weights
        self.spec = spec
        self.folds = [_Fold(spec, f, n_classes, w, v)
                      for f, w, v in zip(folds, weights, test_weights)]
        self.n_classes = n_classes
        self.engine = None if hypergradient == "kkt" else get_engine(hypergradient)
        self.tol = tol
        self.value_tol = tol if value_tol is None else value_tol

    def _pair(self, fold, pair, K, Kv, lam, gradient):
        """``(loss, grad, f)`` of one binary problem: ``grad`` None unless ``gradient``,
        ``f`` the decision function on every held-out row of the fold (the solution and
        intercept kept on ``pair``)."""
        C = float(lam[0])
        Cb = pair.bounds(C)
        whole = pair.whole
        Kp = K if whole else K[np.ix_(pair.train, pair.train)]
        y = pair.y
        theta = pair.log_point(lam)
        a, G, _, _ = smo(Kp, y, Cb, pair.warm_start(theta, C),
                         self.tol if gradient else self.value_tol)
        pair.solutions.append((theta, C, a))
        free, upper = free_set(a, Cb)
        # at a vertex of the box, the intercept of the SVC fitted there (libsvm's); a
        # pair with one class in the training fold (a = 0) votes for it whatever rho
        vertex = not np.any(free) and np.any(y > 0) and np.any(y < 0)
        rho = libsvm_intercept(Kp, y, Cb) if vertex else intercept_from_gradient(a, G, y, Cb)
        pair.a, pair.rho = a, rho
        ay = a * y
        Kv_cols = Kv if whole else Kv[:, pair.train]
        f_all = Kv_cols @ ay - rho
        f = f_all if whole else f_all[pair.test]
        loss, gf, _ = scaled_logistic_loss(pair.y_test, f, pair.v)
        if not gradient:
            return loss, None, f_all
        Kvp = Kv_cols if whole else Kv_cols[pair.test]
        dl_da = y * (Kvp.T @ gf)
        dl_drho = -float(np.sum(gf))
        gamma = float(lam[1]) if self.spec.has_gamma else 0.0

        def dK_rows(rows):
            """d K / d gamma on the pair's training rows ``rows`` and its columns."""
            out = fold.train.derivative_rows(gamma, K, pair.train[rows])
            return out if whole else out[:, pair.train]

        dK = dK_rows if self.spec.has_gamma else None
        if self.engine is None:
            grad = self._kkt(pair, Kp, dK, a, free, upper, dl_da, dl_drho)
        else:
            dKp = None if dK is None else dK(np.arange(pair.train.shape[0]))
            grad = self._engine(Kp, dKp, y, a, lam, free, dl_da, dl_drho)
        if dK is not None:  # the held-out decision's own dependence on gamma
            dKv = fold.test.derivative_rows(gamma, Kv, pair.test)
            grad[1] += float(gf @ ((dKv if whole else dKv[:, pair.train]) @ ay))
        return loss, grad, f_all

    def _kkt(self, pair, Kp, dK_rows, a, free, upper, dl_da, dl_drho):
        """The KKT hypergradient (:mod:`skhypergrad.svc`); ``dK_rows``: ``rows -> d Kp / d
        gamma`` on those rows, or None without a width."""
        y = pair.y
        F, U = np.flatnonzero(free), np.flatnonzero(upper)
        nf = F.shape[0]
        grad = np.zeros(1 if dK_rows is None else 2)
        dU = np.ones(U.shape[0]) if pair.w is None else pair.w[U]  # d a_U / dC
        grad[0] = float(dl_da[U] @ dU)
        if nf == 0:
            return grad
        yF = y[F]
        M = np.empty((nf + 1, nf + 1))
        M[:nf, :nf] = (yF[:, None] * yF[None, :]) * Kp[np.ix_(F, F)]
        M[:nf, nf] = -yF
        M[nf, :nf] = yF
        M[nf, nf] = 0.0
        rhs = np.append(dl_da[F], dl_drho)
        try:
            adj = np.linalg.solve(M.T, rhs)
        except np.linalg.LinAlgError:
            adj = np.linalg.lstsq(M.T, rhs, rcond=None)[0]
        ydU = y[U] * dU
        r_C = -np.append(yF * (Kp[np.ix_(F, U)] @ ydU), np.sum(ydU))
        grad[0] += float(adj @ r_C)
        if dK_rows is not None:
            grad[1] = -float(adj[:nf] @ (yF * (dK_rows(F) @ (a * y))))
        return grad

    def _engine(self, Kp, dKp, y, a, lam, free, dl_da, dl_drho):
        pgmap = SVCDualMap(Kp, y, dKp)
        F = np.flatnonzero(free)
        c = dl_da.copy()
        extra = 0.0
        if F.shape[0]:  # rho = mean_F y_i G_i, G = Q a - 1
            c += dl_drho * y * Kp[F].sum(axis=0) / F.shape[0]
            if dKp is not None:
                extra = dl_drho * float(np.sum(dKp[F] @ (a * y))) / F.shape[0]
        lam = np.asarray(lam, dtype=np.float64)[:pgmap.n_hyper]
        grad = self.engine.hypergradient(pgmap, lam, a, lambda _: c).grad.copy()
        if dKp is not None:
            grad[1] += extra
        return grad

    def fold(self, k, lam, gradient=True):
        """``(loss, grad, accuracy)`` of fold ``k`` at ``lam`` (``grad`` None unless
        ``gradient``)."""
        lam = np.asarray(lam, dtype=np.float64)
        gamma = float(lam[1]) if self.spec.has_gamma else 0.0
        fold = self.folds[k]
        K, Kv = fold.at(gamma)
        votes = np.zeros((fold.n_test, self.n_classes))
        loss, grad = 0.0, np.zeros(lam.shape[0])
        rows = np.arange(fold.n_test)
        for (p, q), pair in fold.pairs:
            lp, gp, f_all = self._pair(fold, pair, K, Kv, lam, gradient)
            loss += lp
            if gradient:
                grad += gp
            # every held-out row votes in every pair (the rows of other classes too)
            votes[rows, np.where(f_all > 0, q, p)] += 1
        correct = np.argmax(votes, axis=1) == fold.y_test
        accuracy = float(np.average(correct, weights=fold.test_weight))
        n_pairs = len(fold.pairs)
        return loss / n_pairs, grad / n_pairs if gradient else None, accuracy

    def scores(self, out, losses):
        """Each fold's accuracy (the third entry of :meth:`fold`'s output)."""
        return np.array([o[2] for o in out])
