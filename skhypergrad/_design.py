r"""The design matrix seen as a linear operator on the flat parameter vector.

The parameter vector of every inner problem is flat::

    w = [coef.ravel(), intercept]      coef of shape (n_features, n_outputs), C order

with ``intercept`` of length ``n_outputs`` present only when ``fit_intercept``.
For one output (least squares, binary logistic) ``coef`` is ``w[:p]`` and the
intercept ``w[p]``. The penalty only sees the first ``n_coefs = p * n_outputs``
entries.

With an intercept, a dense design is centred (:func:`centred`): its ``X`` holds
:math:`X - 1\mu^T` for the column means :math:`\mu` of the training rows (its
``offset``), so that the predictions :math:`Xw + b = (X - 1\mu^T) w + b'` are
unchanged for :math:`b' = b + \mu^T w`. The two are the same model; in the
centred one the intercept is orthogonal to the columns, so that solvers and
stopping rules see no shift of the columns. For least squares the target is
centred too (its mean :math:`\bar y` is the design's ``target_offset``): the
predictions of the map are then :math:`Xw + b - \bar y`, its intercept
:math:`b' = b + \mu^T w - \bar y`, and no shift of ``y`` reaches the solvers
either (their residuals are not rounded at the scale of the shift). The
intercept entry of ``w`` is :math:`b'`; :meth:`Design.original_intercept` gives
:math:`b`.

A sparse design is centred implicitly: its ``X`` stays the stored (uncentred)
matrix, whose centred copy would be dense, and every product subtracts the
rank-one term, :math:`(X - 1\mu^T) w = Xw - (\mu^T w) 1` and
:math:`(X - 1\mu^T)^T u = X^T u - \mu\, 1^T u` (its ``sparse_offset`` is
:math:`\mu`). The columns stored on every row are read from a copy centred in their
stored values (:meth:`Design.implicit`), the rank-one term holding only the other
columns' means: the products then lose nothing to a large mean next to a small spread
(``X + 1e4``), which :math:`X^T X - n\mu\mu^T` loses :math:`(\mu_j/sd_j)^2` times the
round-off of. Kernels that read the stored arrays of ``X`` themselves take the
offset too: coordinate descent's those of such a copy (see
:mod:`skhypergrad.solvers._cd_design`), the stochastic solver's ``X`` and
``sparse_offset``.
"""

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import LinearOperator, eigsh

#: entries of a block of rows of :meth:`Design.weighted_gram_matvec` (1 MiB of float64)
_BLOCK_ENTRIES = 2**17


class Design:
    r"""``X`` with an optional unpenalized intercept, as ``w -> X coef + intercept``.

    Parameters
    ----------
    X : ndarray or scipy.sparse matrix of shape (n_samples, n_features)
        Used as given (no copy); float64 is expected.
    fit_intercept : bool, default=False
        Whether the last ``n_outputs`` entries of ``w`` are an unpenalized intercept.
    n_outputs : int, default=1
        Number of linear predictions per sample (classes of a multinomial model).
    offset : ndarray of shape (n_features,), default=None
        The column means :math:`\mu` of a centred design (see the module
        docstring), or None. A dense ``X`` is then the centred matrix; a sparse
        ``X`` is the uncentred one, centred implicitly in every product.
    target_offset : float or ndarray of shape (n_outputs,), default=0.0
        The mean :math:`\bar y` subtracted from a least-squares target (0 for any
        other; one per output for several): the predictions of ``w`` are those of
        the model minus it.
    """

    def __init__(self, X, fit_intercept=False, n_outputs=1, offset=None, target_offset=0.0):
        self.X = X
        self.fit_intercept = bool(fit_intercept)
        self.n_outputs = int(n_outputs)
        self.offset = offset
        # a float for one output, one per output otherwise
        self.target_offset = float(target_offset) if np.ndim(target_offset) == 0 \
            else np.asarray(target_offset, dtype=np.float64)
        # plain attributes (read at every product): X is not replaced
        self.n_samples, self.n_features = X.shape
        #: number of penalized entries of ``w``
        self.n_coefs = self.n_features * self.n_outputs
        #: length of the flat parameter vector ``w``
        self.n_params = self.n_coefs + self.n_outputs * self.fit_intercept
        self.is_sparse = sp.issparse(X)
        #: the column means every product subtracts from a sparse ``X`` (None if none)
        self.sparse_offset = offset if self.is_sparse else None
        # products of X computed once and kept with it (gram_of, xty_of): gone with the
        # design, rebuilt if X is replaced, never pickled
        self._cache = {}

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_cache"] = {}
        return state

    def implicit(self):
        r"""``(X', m)`` with :math:`X' - 1 m^T` the centred ``X``: ``(X, None)`` unless
        ``X`` is sparse and centred implicitly; then ``X'`` holds the columns stored on
        every row centred in their stored values, ``m`` the means of the others
        (:func:`centre_stored_columns`, computed once and cached with the design), so
        that the products read no cancellation of a large mean against a small spread."""
        if self.sparse_offset is None:
            return self.X, None
        entry = self._cache.get("implicit")
        if entry is None or entry[0] is not self.X:
            Xs, stored = centre_stored_columns(self.X, self.sparse_offset)
            entry = (self.X, (Xs, self.sparse_offset - stored))
            self._cache["implicit"] = entry
        return entry[1]

    def coef(self, w):
        """The penalized part of ``w``: shape (p,) for one output, (p, K) otherwise."""
        c = w[: self.n_coefs]
        return c if self.n_outputs == 1 else c.reshape(self.n_features, self.n_outputs)

    def intercept(self, w):
        """The intercept part of ``w`` (0.0 or zeros when there is none)."""
        if not self.fit_intercept:
            return 0.0 if self.n_outputs == 1 else np.zeros(self.n_outputs)
        b = w[self.n_coefs:]
        return b[0] if self.n_outputs == 1 else b

    def original_intercept(self, w):
        r"""The intercept of the model on the uncentred ``X``: :math:`b' - \mu^T w`
        (the intercept entry of ``w`` itself when the design is not centred)."""
        b = self.intercept(w)
        if self.offset is None or not self.fit_intercept:
            return b
        return b + self.target_offset - self.offset @ self.coef(w)

    def to_original(self, w):
        r"""``w`` of the centred design as the model's own ``[coef, b]`` (a new array;
        ``w`` itself when the design is not centred)."""
        if self.offset is None or not self.fit_intercept:
            return w
        out = np.array(w, dtype=np.float64)
        out[self.n_coefs:] = np.atleast_1d(self.original_intercept(w))
        return out

    def from_original(self, w):
        r"""The inverse of :meth:`to_original`: ``[coef, b + \mu^T coef]``."""
        if self.offset is None or not self.fit_intercept or w is None:
            return w
        out = np.array(w, dtype=np.float64)
        out[self.n_coefs:] += np.atleast_1d(self.offset @ self.coef(out)) - self.target_offset
        return out

    def zeros(self):
        return np.zeros(self.n_params)

    def matvec(self, w):
        """Linear predictions ``z = X coef + intercept``: shape (n,) or (n, K)."""
        coef = self.coef(w)
        X, mu = self.implicit()
        z = np.asarray(X @ coef)
        if mu is not None:
            z = z - mu @ coef
        if self.fit_intercept:
            z = z + self.intercept(w)
        return z

    def rmatvec_coef(self, u):
        """``X^T u`` (of the centred ``X``): shape (p,) for ``u`` of shape (n,), (p, K)
        for (n, K)."""
        X, mu = self.implicit()
        g = np.asarray(X.T @ u)
        if mu is not None:
            g = g - np.multiply.outer(mu, u.sum(axis=0))
        return g

    def rmatvec(self, u):
        """Adjoint of :meth:`matvec`: ``[ (X^T u).ravel(), sum_i u_i ]``."""
        g = self.rmatvec_coef(u).ravel()
        if self.fit_intercept:
            return np.concatenate([g, np.atleast_1d(u.sum(axis=0))])
        return g

    def squared_norm(self):
        """Squared spectral norm of ``w -> matvec(w)`` for one output.

        Computed from the Gram matrix ``[X, 1]^T [X, 1]`` for a dense ``X`` with at
        most 512 columns and more rows than columns (one BLAS-3 pass, cheaper than
        the tens of matrix-vector passes of Lanczos on a tall matrix), else by
        Lanczos (matrix-free); slightly inflated so that ``1 / squared_norm`` is a
        safe gradient step.
        """
        n, p = self.X.shape
        q = p + self.fit_intercept
        X = self.X
        fi = self.fit_intercept
        one = Design(X, fi, 1, self.sparse_offset)

        def mv(v):
            return one.rmatvec(one.matvec(np.asarray(v).ravel()))

        if not sp.issparse(X) and 64 < q <= 512 and n > q:
            X = np.asarray(X)
            G = X.T @ X
            if fi:
                col = X.sum(axis=0)
                G = np.block([[G, col[:, None]], [col[None, :], np.full((1, 1), float(n))]])
            s = np.linalg.eigvalsh(G)[-1]
        elif q == 1 or min(n, q) <= 64 and not sp.issparse(X):
            Xd = X.toarray() if sp.issparse(X) else np.asarray(X)
            if self.sparse_offset is not None:
                Xd = Xd - self.sparse_offset
            if fi:
                Xd = np.column_stack([Xd, np.ones(n)])
            s = np.linalg.norm(Xd, ord=2) ** 2 if Xd.size else 0.0
        else:
            op = LinearOperator((q, q), matvec=mv, dtype=np.float64)
            v0 = np.ones(q) / np.sqrt(q)
            s = float(eigsh(op, k=1, which="LA", v0=v0, tol=1e-8,
                            return_eigenvectors=False)[0])
        return float(s) * (1.0 + 1e-6)

    def column_squared_norms(self):
        """``||X_j||^2`` for every column (and ``n`` for the intercept column)."""
        X = self.X
        if self.sparse_offset is not None:
            norms = centred_column_squares(X, self.sparse_offset)
        elif sp.issparse(X):
            norms = np.asarray(X.multiply(X).sum(axis=0)).ravel()
        else:
            norms = np.einsum("ij,ij->j", X, X)
        if self.fit_intercept:
            norms = np.concatenate([norms, [float(self.n_samples)]])
        return norms

    def frobenius_norm(self):
        """``||[X, 1]||_F`` of the (centred) design for one output (the intercept column
        counted when fitted): computed once and cached with the design."""
        entry = self._cache.get("frobenius")
        if entry is None or entry[0] is not self.X:
            entry = (self.X, float(np.sqrt(np.sum(self.column_squared_norms()))))
            self._cache["frobenius"] = entry
        return entry[1]

    def row_squared_norms(self):
        """``||x_i||^2`` for every row (of the centred ``X``; the intercept not counted)."""
        X, mu = self.implicit()
        if not sp.issparse(X):
            return np.einsum("ij,ij->i", X, X)
        out = np.asarray(X.multiply(X).sum(axis=1)).ravel()
        if mu is not None:  # ||x_i - mu||^2 = ||x_i||^2 - 2 x_i^T mu + ||mu||^2
            out += float(mu @ mu) - 2.0 * np.asarray(X @ mu).ravel()
            np.maximum(out, 0.0, out=out)
        return out

    def weighted_gram(self, h):
        r"""Dense :math:`[X, 1]^T \mathrm{diag}(h)\, [X, 1]` for sample weights ``h >= 0``
        (one output): an array, or one number for every sample.

        A sparse ``X`` centred implicitly gives the Gram of its centred matrix,
        :math:`X^T H X - \mu (X^T h)^T - (X^T h) \mu^T + (1^T h) \mu\mu^T` (of
        :meth:`implicit`'s ``X'`` and means).
        """
        X, mu = self.implicit()
        if not isinstance(h, np.ndarray) or h.ndim == 0:  # h X^T X: no scaled copy of X
            G = (X.T @ X).toarray() if self.is_sparse else X.T @ X
            G *= h
            xh, h_sum = h * np.asarray(X.sum(axis=0)).ravel(), h * X.shape[0]
        else:
            s = np.sqrt(h)
            if sp.issparse(X):
                Xs = sp.csr_matrix(X).multiply(s[:, None]).tocsc()
                G = (Xs.T @ Xs).toarray()
            else:  # by blocks of rows of about 1 MiB: the scaled copies stay in cache
                G = np.zeros((X.shape[1], X.shape[1]))
                rows = max(1, 2**17 // max(X.shape[1], 1))
                for start in range(0, X.shape[0], rows):
                    Xs = X[start:start + rows] * s[start:start + rows, None]
                    G += Xs.T @ Xs
            xh, h_sum = np.asarray(X.T @ h).ravel(), float(h.sum())
        if mu is not None:
            G -= np.outer(mu, xh)
            G -= np.outer(xh, mu)
            G += h_sum * np.outer(mu, mu)
            xh = xh - h_sum * mu
        if self.fit_intercept:
            G = np.block([[G, xh[:, None]], [xh[None, :], np.array([[h_sum]])]])
        return G

    def weighted_gram_matvec(self, h, v):
        r""":math:`[X, 1]^T \mathrm{diag}(h)\, [X, 1]\, v` (one output; without the ``1``
        when there is no intercept), ``rmatvec(h * matvec(v))``: for a dense ``X`` centred
        explicitly (or not centred), by blocks of rows of about 1 MiB, each read from
        memory once for both of its products (the second reads it from cache); ``h`` an
        array of one weight per sample."""
        X, mu = self.implicit()
        if self.n_outputs != 1 or mu is not None or sp.issparse(X) \
                or not isinstance(h, np.ndarray) or h.ndim != 1:
            return self.rmatvec(h * self.matvec(v))
        n, p = X.shape
        coef, b = v[:p], self.intercept(v)
        out = np.zeros(p + self.fit_intercept)
        rows = max(1, _BLOCK_ENTRIES // max(p, 1))
        for start in range(0, n, rows):
            block = X[start:start + rows]
            u = block @ coef
            if self.fit_intercept:
                u += b
            u *= h[start:start + rows]
            out[:p] += block.T @ u
            if self.fit_intercept:
                out[p] += u.sum()
        return out

    def take_columns(self, idx):
        """The design of the parameters ``idx`` (one output): columns ``X[:, j]`` for the
        coefficients in ``idx`` and the intercept if its index ``p`` is in ``idx``.

        ``matvec`` / ``rmatvec`` of the result act on vectors of length ``len(idx)``.
        """
        if self.n_outputs != 1:
            raise ValueError("take_columns supports one output only.")
        idx = np.asarray(idx)
        cols = idx[idx < self.n_features]
        has_b = self.fit_intercept and idx.shape[0] > cols.shape[0]
        every = cols.shape[0] == self.n_features and \
            np.array_equal(cols, np.arange(self.n_features))
        X = self.X if every else self.X[:, cols]  # every column in order: no copy
        offset = None if self.offset is None else self.offset[cols]
        return Design(X.tocsc() if self.is_sparse else X, has_b, 1, offset, self.target_offset)

    def take_rows(self, idx):
        """The same design restricted to the samples ``idx`` (the same ``offset``)."""
        return Design(self.X[idx], self.fit_intercept, self.n_outputs, self.offset,
                      self.target_offset)


def column_offset(X, fit_intercept):
    """The ``offset`` of the centred design of ``X`` (its column means; see
    :func:`centred`), or None when it is not centred (no intercept)."""
    if not fit_intercept:
        return None
    return np.asarray(X.mean(axis=0), dtype=np.float64).ravel()


def centred_squared_norms(sq_norms, mu, n):
    r"""``||X_j - mu_j 1||^2 = ||X_j||^2 - n mu_j^2`` (at least 0) from the squared norms
    of the columns and their means ``mu`` over ``n`` rows."""
    out = sq_norms - n * np.square(mu)
    return np.maximum(out, 0.0, out=out)


def centred_column_squares(X, mu, sample_weight=None):
    r"""``sum_i s_i (x_ij - mu_j)^2`` for every column of ``X`` (``s_i = 1`` without
    ``sample_weight``), summed over the differences: no cancellation when the
    columns' means are large next to their spread (``X + 1e4``), where
    :func:`centred_squared_norms` loses ``(mu_j / sd_j)^2`` times the round-off.

    A sparse ``X`` (canonical: no duplicate entries) is read from its stored entries:
    the rows where column ``j`` stores no entry add :math:`\mu_j^2` times their total
    weight."""
    mu = np.asarray(mu, dtype=np.float64)
    s = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    if not sp.issparse(X):
        d = np.subtract(X, mu, dtype=np.float64)
        np.square(d, out=d)  # in place: one temporary the size of X, not two
        return d.sum(axis=0) if s is None else s @ d
    coo = X.tocoo()
    coo.sum_duplicates()
    p = X.shape[1]
    d = np.square(coo.data - mu[coo.col])
    rw = np.ones(coo.data.shape[0]) if s is None else s[coo.row]
    stored = np.bincount(coo.col, weights=rw * d, minlength=p)
    total = float(X.shape[0] if s is None else s.sum())
    unstored = total - np.bincount(coo.col, weights=rw, minlength=p)
    # a column stored on every row has none: 0 exactly, not the round-off of the total
    unstored[np.bincount(coo.col, minlength=p) == X.shape[0]] = 0.0
    return stored + np.maximum(unstored, 0.0) * np.square(mu)


def centre_stored_columns(X, mu):
    r"""``(X - 1 s^T, s)`` for a sparse ``X`` (CSR or CSC, kept; canonical) and its column
    means ``mu``: ``s_j = mu_j`` for the columns that store an entry on every row, whose
    stored values are centred in place of an implicit offset (the same sparsity; no
    cancellation in :math:`X^T X - n \mu\mu^T` or :math:`X^T u - \mu 1^T u` when a
    column's mean is large next to its spread, as in ``X + 1e4``), ``s_j = 0`` for the
    others. ``X`` itself (not copied) when no column is full.

    The offset left to centre implicitly is ``mu - s``: a column with unstored entries
    has a spread of at least its mean's order unless nearly all its rows store one."""
    X = sp.csc_matrix(X, dtype=np.float64) if X.format == "csc" \
        else sp.csr_matrix(X, dtype=np.float64)
    if not X.has_canonical_format:
        X = X.copy()
        X.sum_duplicates()
    n, p = X.shape
    full = X.getnnz(axis=0) == n
    s = np.where(full, np.asarray(mu, dtype=np.float64), 0.0)
    if n == 0 or not np.any(full):
        return X, s
    X = X.copy()
    if X.format == "csc":
        X.data -= np.repeat(s, np.diff(X.indptr))
    else:
        X.data -= s[X.indices]
    return X, s


def centred(X, fit_intercept, copy=True):
    """``(X - 1 mu^T, mu)`` for a dense ``X`` with an intercept (``mu`` its column
    means; a new array unless ``copy=False``, in the layout of ``X``); ``(X, mu)`` for
    a sparse ``X`` (centred implicitly, see :class:`Design`); else ``(X, None)``.
    """
    mu = column_offset(X, fit_intercept)
    if mu is None or sp.issparse(X):
        return X, mu
    if copy:
        return np.subtract(X, mu, order="K"), mu
    X -= mu
    return X, mu


#: largest number of features for which a Gram matrix is formed unasked (32 MiB)
GRAM_MAX_FEATURES = 2048


def gram_of(design, X=None):
    r"""``(X^T X / n, X^T 1 / n)`` of a design, computed once and cached.

    ``X`` is ``design.X`` or a converted copy of it (e.g. Fortran-ordered; read for a
    dense design only). A sparse design gives those of its centred matrix
    :math:`X' - 1 m^T` (:meth:`Design.implicit`) from one sparse product, never a dense
    copy of ``X``: :math:`X'^T X' / n - m s^T - s m^T + m m^T` and :math:`s - m`, with
    :math:`s = X'^T 1 / n`.
    """
    entry = design._cache.get("gram")
    if entry is None or entry[0] is not design.X:
        if design.is_sparse:
            gram = _sparse_gram(*design.implicit())
        else:
            X = design.X if X is None else X
            n = X.shape[0]
            G = X.T @ X
            G /= n
            gram = (np.ascontiguousarray(G), np.asarray(X.sum(axis=0)).ravel() / n)
        entry = (design.X, gram)
        design._cache["gram"] = entry
    return entry[1]


def _sparse_gram(X, m):
    """:func:`gram_of` of the sparse ``X`` centred implicitly by ``m`` (None: not)."""
    n = X.shape[0]
    G = np.ascontiguousarray((X.T @ X).toarray(), dtype=np.float64)
    G /= n
    s = np.asarray(X.sum(axis=0), dtype=np.float64).ravel() / n
    if m is not None:
        G -= np.outer(m, s)
        G -= np.outer(s, m)
        G += np.outer(m, m)
        s = s - m
    return G, s


def xty_of(design, y, X=None):
    """``X^T y / n`` of a design and a target ``y`` (shape (p,) for ``y`` of shape
    (n,), (p, K) for (n, K)), computed once and cached with the design while its ``X``
    and ``y`` (the same object) stay; of the centred matrix of a sparse design, as
    :func:`gram_of`.

    ``X`` is ``design.X`` or a converted copy of it (e.g. Fortran-ordered; read for a
    dense design only).
    """
    entry = design._cache.get("xty")
    if entry is None or entry[0] is not design.X or entry[1] is not y:
        y64, m = np.asarray(y, dtype=np.float64), None
        if design.is_sparse:  # of the centred matrix, as gram_of's
            X, m = design.implicit()
        else:
            X = design.X if X is None else X
        xty = np.asarray(X.T @ y64)
        if m is not None:
            xty = xty - np.multiply.outer(m, y64.sum(axis=0))
        entry = (design.X, y, (xty.ravel() if np.ndim(y) == 1 else xty) / X.shape[0])
        design._cache["xty"] = entry
    return entry[2]


def gram_pays(design):
    """Whether repeated least-squares work on ``design`` should form its Gram matrix.

    Dense, one output, more samples than features and at most
    :data:`GRAM_MAX_FEATURES` features: then ``X^T X`` (``O(n p^2)`` once, ``p^2``
    memory) replaces products with ``X`` (``O(n p)`` each).
    """
    return gram_pays_shape(design.n_samples, design.n_features, design.n_outputs,
                           design.is_sparse)


def gram_pays_shape(n_samples, n_features, n_outputs, is_sparse):
    """:func:`gram_pays` of a design of that shape, outputs and storage."""
    return (not is_sparse and n_outputs == 1 and n_features < n_samples
            and n_features <= GRAM_MAX_FEATURES)


def seed_row_subset_grams(X, designs, subsets):
    r"""Cache the Gram matrices of row subsets of a dense ``X`` from the Gram of ``X``.

    ``designs[k].X`` holds the rows ``subsets[k]`` of ``X`` (a cross-validation
    fold's training rows). With :math:`G = X^T X` and :math:`C_k` the rows not
    in the subset, the subset's Gram is :math:`G - X_{C_k}^T X_{C_k}` and its
    column sums :math:`X^T 1 - X_{C_k}^T 1`: one product with all of ``X`` and
    one with each (small) complement, instead of one with each (large) subset.
    A subset with repeated rows, or no larger than its complement, is computed
    directly. A centred design (``offset``) gets the centred Gram
    :math:`G_k / n - \mu\mu^T` and column means :math:`\mu - \mathrm{offset}`
    (zero up to rounding). What :func:`gram_of` then returns for these designs.
    """
    G = colsum = None
    n_all = X.shape[0]
    # centred designs: the sums on X centred as a whole, whose columns then have small
    # means on every subset (no cancellation in G_k / n - m m^T)
    mu = None
    if any(design.offset is not None for design in designs):
        mu = X.mean(axis=0)
        X = X - mu
    for design, rows in zip(designs, subsets):
        n = design.n_samples
        outside = np.ones(n_all, dtype=bool)
        outside[rows] = False
        complement = np.flatnonzero(outside)
        if complement.shape[0] >= n or complement.shape[0] + n != n_all:
            gram_of(design)
            continue
        if G is None:
            G, colsum = X.T @ X, np.asarray(X.sum(axis=0)).ravel()
        Xc = X[complement]
        Gk = G - Xc.T @ Xc
        Gk /= n
        means = (colsum - Xc.sum(axis=0)) / n
        if mu is not None:
            if design.offset is not None:  # the subset centred by its own means
                Gk -= np.outer(means, means)
                means = means + mu - design.offset
            else:  # back from X centred as a whole to X
                Gk += np.outer(means, mu) + np.outer(mu, means + mu)
                means = means + mu
        design._cache["gram"] = (design.X, (np.ascontiguousarray(Gk), means))


def cached_gram(design):
    """The Gram matrix of :func:`gram_of` if it was computed for ``design``, else None."""
    entry = design._cache.get("gram")
    return entry[1] if entry is not None and entry[0] is design.X else None
