"""Progress lines of a search, in the estimator's own vocabulary.

Levels as scikit-learn's searches: ``verbose=1`` prints the start of the
starting scan, its best point, every descent step and the result; ``verbose>=2``
also every point of the scan; ``verbose>=3`` (where the search scores its points
with scorers) also every fold's scores at every point. Each line names the estimator, the
hyperparameters as the estimator calls them (``alpha``, ``l1_ratio``, ``C``, ...)
and the elapsed time; the first one is printed before any inner problem is solved.
"""

import sys
import time

import numpy as np

__all__ = ["Progress", "format_point"]


def _plain_names(lam):
    return {"lam": np.asarray(lam)}


def format_point(named):
    """``{name: value}`` as ``"name=value  ..."``: scalars to 4 significant digits,
    arrays summarized (``alphas=[0.1 0.2 ... 3.]``), never a numpy repr."""
    parts = []
    for name, v in named.items():
        v = np.asarray(v)
        parts.append(f"{name}={v:.4g}" if v.ndim == 0 else
                     f"{name}={np.array2string(v, precision=3, threshold=4)}")
    return "  ".join(parts)


class Progress:
    """Prints the progress of a search when ``verbose > 0`` (else nothing).

    Parameters
    ----------
    verbose : int
    label : str
        The searching estimator's name, the prefix of every line.
    names : callable, default=None
        ``lam -> {name: value}`` in the estimator's vocabulary; ``{"lam": lam}`` when None.
    loss : str, default="CV loss"
        What the criterion's value is called.
    stream : file, default=None
        Where the lines go (``sys.stdout`` at the time of each line when None).
    """

    def __init__(self, verbose, label, names=None, loss="CV loss", stream=None):
        self.verbose = int(verbose or 0)
        self.label = label
        self.names = _plain_names if names is None else names
        self.loss = loss
        self.stream = stream
        self.t0 = time.perf_counter()

    def shows(self, level):
        """Whether the lines of ``level`` are printed (each line is built only then)."""
        return self.verbose >= level

    def _print(self, text):
        stream = sys.stdout if self.stream is None else self.stream
        print(f"[{self.label}] {text} ({time.perf_counter() - self.t0:.1f} s)",
              file=stream, flush=True)

    def _point(self, lam, value, loss=None):
        return format_point(self.names(lam)) + \
            f"  {self.loss if loss is None else loss}={value:.6g}"

    def start(self, n_splits, descended, scorers):
        """Level 1, before anything is solved: the folds, the criterion descended and
        the scorers recorded."""
        if self.shows(1):
            self._print(f"{n_splits} folds; descending the {descended}; scoring "
                        f"{', '.join(scorers)}")

    def scan_start(self, n_points):
        if self.shows(1):
            self._print(f"scan of up to {n_points} points, from strong to weak regularization")

    def scan_point(self, k, n_points, lam, value):
        """Level 2: the ``k``-th point of a scan of ``n_points`` (None: not known ahead,
        an adaptive scan)."""
        if self.shows(2):
            of = "" if n_points is None else f"/{n_points}"
            self._print(f"scan {k}{of}  {self._point(lam, value)}")

    def scan_end(self, n_done, lam, value):
        if self.shows(1):
            self._print(f"scan done ({n_done} points); best  {self._point(lam, value)}")

    def step(self, k, lam, value):
        if self.shows(1):
            self._print(f"evaluation {k}  {self._point(lam, value)}")

    def fold_scores(self, k, scores):
        """Level 3: the scores of every fold at the ``k``-th point evaluated; ``scores``: one
        ``{name: value}`` per fold."""
        if not self.shows(3):
            return
        for i, fold in enumerate(scores):
            parts = "  ".join(f"{name}={v:.6g}" for name, v in fold.items())
            self._print(f"point {k}  fold {i + 1}/{len(scores)}  {parts}")

    def refine(self, lam, name, score):
        """Level 1: a point of the refinement by the refit scorer ``name``."""
        if self.shows(1):
            self._print(f"refine by {name}  {self._point(lam, score, loss=name)}")

    def chosen(self, lam, name, score):
        """Level 1: the point chosen by the refit scorer ``name``."""
        if self.shows(1):
            self._print(f"best by {name}  {self._point(lam, score, loss=name)}")

    def done(self, n_evals, lam, value):
        if self.shows(1):
            self._print(f"done, {n_evals} evaluations; chosen  {self._point(lam, value)}")
