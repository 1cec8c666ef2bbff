"""Every script of ``examples/`` (the documentation's gallery) runs to the end.

Marked ``examples``: deselect locally with ``pytest -m "not examples"``; CI runs
them (they are also what ``make -C doc html`` executes).
"""

import pathlib
import runpy

import matplotlib
import pytest
from threadpoolctl import threadpool_limits

EXAMPLES = sorted((pathlib.Path(__file__).parents[1] / "examples").glob("*.py"))


@pytest.mark.examples
@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs(path, monkeypatch, tmp_path):
    matplotlib.use("Agg")                # matplotlib is in the test extra
    import matplotlib.pyplot as plt

    monkeypatch.chdir(tmp_path)          # whatever an example writes stays out of the tree
    # one thread for BLAS and OpenMP: on a machine busier than its cores, OpenMP's
    # spin-waiting threads make scikit-learn's GLM fits (GridSearchCV(PoissonRegressor())
    # on diabetes) up to 100x slower
    try:
        with threadpool_limits(1):
            runpy.run_path(str(path), run_name="__main__")
    finally:
        plt.close("all")


def test_there_are_examples():
    assert len(EXAMPLES) >= 6
