"""What every inner solver returns and how it reports non-convergence."""

import warnings
from numbers import Real
from typing import Any, NamedTuple

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from ._gap import duality_gap, gap_scale


class SolveResult(NamedTuple):
    """Outcome of an inner solve.

    Attributes
    ----------
    w : ndarray
        Flat parameter vector ``[coef.ravel(), intercept]``.
    n_iter : int
        Iterations (epochs for coordinate descent and stochastic solvers).
    gap : float
        Relative stopping measure reached (duality gap / objective scale, or
        fixed-point residual for maps without a dual).
    converged : bool
    reference : ndarray or None
        A reference Hessian of the datafit near ``w`` (see
        :mod:`~skhypergrad.solvers._reference_hessian`), for the next solve of the same
        problem (``reference`` of :meth:`BaseSolver.solve`), or None.
    """

    w: np.ndarray
    n_iter: int
    gap: float
    converged: bool
    reference: Any = None


class BaseSolver:
    """Shared stopping test and warning; subclasses implement ``_solve``.

    Every solver has a ``tol``: the relative stopping measure (duality gap) at
    which it stops, or None for a fixed budget.
    """

    tol = None
    #: whether a solve that stops above ``tol`` warns (a ``ConvergenceWarning``)
    warn = True

    #: whether the solver starts from, and returns, a reference Hessian (``reference`` of
    #: :meth:`solve` and of :class:`SolveResult`); a caller passes it only then, and a
    #: subclass that overrides :meth:`solve` without that argument declares False
    takes_reference = False

    #: the sparse format the solver reads ``X`` in ("csc", "csr"), None if any: a caller
    #: that builds ``X`` for it (a cross-validation fold's training rows) gives that one
    sparse_format = None

    #: (budget parameter, unit of ``n_iter``) named in the non-convergence warning
    _budget = ("max_iter", "iterations")

    def spawn(self, n_tasks):
        """The solvers for ``n_tasks`` independent tasks run in parallel (a criterion's
        folds): this solver itself by default; a stochastic one holding a ``RandomState``
        instance returns copies seeded from it in the calling thread (see
        :func:`~skhypergrad._parallel.spawn_seeded`)."""
        return [self] * n_tasks

    def check_params(self):
        """Raise a ValueError naming an invalid setting of the solver.

        :meth:`solve` calls it first; a criterion calls it too before an evaluation that
        may stand for the solver's solves without calling :meth:`solve` (see
        :meth:`gram_budget`). Checked here: ``tol``, None or a number >= 0; a subclass
        adds its own settings.
        """
        if self.tol is not None and not (isinstance(self.tol, Real) and self.tol >= 0):
            raise ValueError(f"tol must be a non-negative number, got {self.tol!r}.")

    def gram_budget(self):
        """``(rounds, epochs)``: the budget of a coordinate descent on a Gram matrix that
        may stand for this solver's solve of a least-squares problem (one output, dense
        ``X``) to the same relative duality gap ``tol`` (at most ``rounds`` rounds of a
        full sweep and sweeps over the support, ``epochs`` epochs in all), or None when
        its solves may not be replaced (e.g. by a criterion's compiled evaluation,
        :mod:`skhypergrad._gram_cv`). A subclass that changes what ``solve`` does
        returns None."""
        return None

    def loosened(self, grad_tol):
        """A copy of this solver that also stops, converged, once the largest entry of the
        objective's gradient is at most ``grad_tol`` (scikit-learn's stopping rule for its
        smooth models), or None when the solver has no such rule (this base class)."""
        return None

    def solve(self, pgmap, lam, w0=None, reference=None):
        """Minimize ``F + G_lam`` for the problem of ``pgmap``, warm-started at ``w0``.

        Parameters
        ----------
        pgmap : ProxGradMap
            The problem (datafit, penalty, design, encoded target).
        lam : array-like
            Hyperparameters (not their log): the penalty's, then the datafit's
            (see :meth:`~skhypergrad.fixed_point.ProxGradMap.problem`).
        w0 : ndarray, default=None
            Warm start; zeros when None. Copied (never modified); the reference
            is dropped once copied, so a temporary ``w0`` is freed during the solve.
        reference : ndarray, default=None
            The ``reference`` of a previous solve of the same problem (other
            hyperparameters), which a solver declaring ``takes_reference`` may start from
            (see :class:`~skhypergrad.solvers.CoordinateDescent`); the others ignore it.

        Returns
        -------
        SolveResult
        """
        self.check_params()
        # the datafit fixed at its hyperparameters, lam the penalty's: all a solver reads
        pgmap, lam = pgmap.problem(lam)
        w = pgmap.design.zeros() if w0 is None else np.array(w0, dtype=np.float64)
        del w0  # a temporary warm start (e.g. made dense by a criterion) is freed here
        if w.shape != (pgmap.n_params,):
            raise ValueError(f"w0 has shape {w.shape}, expected ({pgmap.n_params},).")
        res = self._solve(pgmap, lam, w, reference)
        if not res.converged and self.warn:
            warnings.warn(
                f"{type(self).__name__} did not converge in {res.n_iter} {self._budget[1]} "
                f"(relative gap {res.gap:.2e} > tol {self.tol:.2e}); increase "
                f"{self._budget[0]} or tol.", ConvergenceWarning, stacklevel=2)
        return res

    def _stop_measure(self, pgmap, lam, w, z=None, xt_theta=None, scale=None):
        """Relative duality gap at ``w``, plus ``|grad_b|^2 / (2 curvature)`` for the intercept.

        ``z`` and ``xt_theta`` as in :func:`~skhypergrad.solvers.duality_gap`; ``scale``
        the objective's scale (:func:`~skhypergrad.solvers._gap.gap_scale`) when known.
        """
        _, _, gap, grad_b = duality_gap(pgmap, w, lam, z, xt_theta)
        scale = gap_scale(pgmap) if scale is None else scale
        return (max(gap, 0.0) + 0.5 * grad_b ** 2 / pgmap.curvature) / scale
