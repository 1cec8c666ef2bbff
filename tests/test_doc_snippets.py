"""The Python code blocks of the README and of the pages a user reads first run as written.

Each page's ``.. code-block:: python`` blocks run in order in one namespace (a page
builds on its earlier blocks), in a temporary directory, and what a page states about
their results is checked: the README's "same coef_", the command-line page's numbers
(its Python block reproduces the command's search on the file its first block writes).
Pages whose blocks are fragments of a larger program (``adding_a_model.rst``: parts of a
class; ``distributed.rst``: a cluster) are not run here.
"""

import pathlib
import re
import textwrap

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).parents[1]
PAGES = ["README.rst", "doc/index.rst", "doc/getting_started.rst", "doc/cli.rst"]


def python_blocks(path):
    """The bodies of the ``.. code-block:: python`` directives of ``path``, dedented."""
    blocks, lines, i = [], path.read_text().splitlines(), 0
    while i < len(lines):
        match = re.match(r"^(\s*)\.\. code-block:: python\s*$", lines[i])
        i += 1
        if not match:
            continue
        indent, body = len(match.group(1)), []
        while i < len(lines) and (not lines[i].strip()
                                  or len(lines[i]) - len(lines[i].lstrip()) > indent):
            body.append(lines[i])
            i += 1
        blocks.append(textwrap.dedent("\n".join(body)).strip("\n"))
    return blocks


def run_page(page, tmp_path, monkeypatch):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__main__"}
    try:
        for k, block in enumerate(python_blocks(ROOT / page)):
            exec(compile(block, f"{page} (python block {k})", "exec"), namespace)
    finally:
        plt.close("all")
    return namespace


@pytest.mark.parametrize("page", PAGES)
def test_page_blocks_run(page, tmp_path, monkeypatch, capsys):
    assert python_blocks(ROOT / page)
    namespace = run_page(page, tmp_path, monkeypatch)
    if page == "README.rst":             # "same coef_"
        est, sk = namespace["est"], namespace["sk"]
        np.testing.assert_allclose(sk.coef_, est.coef_, rtol=1e-5,
                                   atol=1e-6 * np.abs(est.coef_).max())
    if page == "doc/cli.rst":            # the numbers of the example's table, in Python
        printed = capsys.readouterr().out.split()
        text = (ROOT / page).read_text()
        alpha, loss, r2 = printed[-3:]
        assert f"alpha={alpha}" in text and f"alpha_`` {alpha}" in text
        row = next(line for line in text.splitlines()
                   if line.strip().startswith("LassoHyperGrad ") and "alpha=" in line)
        assert row.split()[-2:] == [loss, r2]

