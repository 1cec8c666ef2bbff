"""The layers of the package, checked on its import statements: the engines
(``skhypergrad/hypergrad``) talk to criteria and maps through declared protocols
(:mod:`skhypergrad.hypergrad._protocols`, :class:`~skhypergrad.fixed_point.FixedPointMap`),
never through the criteria's storage or the solvers' internals."""

import ast
import warnings
from pathlib import Path

import pytest

import skhypergrad

PACKAGE = Path(skhypergrad.__file__).parent
#: modules the engines must not import (and anything below them)
FORBIDDEN_FOR_ENGINES = ("skhypergrad.criteria", "skhypergrad._compact_states",
                         "skhypergrad.solvers", "skhypergrad._outer_loss",
                         "skhypergrad.linear_model", "skhypergrad.model_selection")


def _imports(path):
    """The absolute names of the modules a file imports (relative imports resolved)."""
    module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    package = module.rsplit(".", 1)[0] if path.name != "__init__.py" else module
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[:len(base) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module
            out.append(name)
            out.extend(f"{name}.{alias.name}" for alias in node.names)
    return out


ENGINE_FILES = sorted((PACKAGE / "hypergrad").glob("*.py"))


@pytest.mark.parametrize("path", ENGINE_FILES, ids=lambda p: p.name)
def test_engines_import_no_criteria_storage_nor_solver_internals(path):
    bad = [name for name in _imports(path)
           if any(name == f or name.startswith(f + ".") for f in FORBIDDEN_FOR_ENGINES)]
    assert not bad, f"{path.name} imports {bad}"


def test_the_check_sees_relative_imports():
    """The import resolver on a file known to import the protocols and the map."""
    names = _imports(PACKAGE / "hypergrad" / "aid.py")
    assert "skhypergrad.hypergrad._protocols" in names
    assert "skhypergrad.fixed_point" in names
    names = _imports(PACKAGE / "criteria.py")
    assert "skhypergrad._compact_states" in names


def test_package_holds_only_python_modules():
    """No merge leftovers (``*.orig``, ``*.rej``) or stray files shipped in the package."""
    stray = [str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*")
             if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".py"]
    assert not stray, f"non-module files in the package: {stray}"


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: p.name)
def test_module_compiles_without_warnings(path):
    """Invalid escapes in docstrings (``"\\o"`` for ``r"\\operatorname"``) warn today and will
    be syntax errors in a later Python."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compile(path.read_text(), str(path), "exec")


SOURCES = sorted([*PACKAGE.rglob("*.py"), *(PACKAGE.parent / "doc").glob("*.rst"),
                  *(PACKAGE.parent / "examples").glob("*.py")])


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_sources_hold_no_control_characters(path):
    """A ``"\\frac"`` or ``"\\rho"`` written through a non-raw string becomes a form feed
    or a carriage return: the docs then break (or render a wrong formula)."""
    text = path.read_text()
    bad = sorted({repr(c) for c in text if ord(c) < 32 and c not in "\n\t"})
    assert not bad, f"{path.name} holds control characters {bad}"


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: p.name)
def test_lines_fit_in_99_characters(path):
    long = [i for i, line in enumerate(path.read_text().splitlines(), 1) if len(line) > 99]
    assert not long, f"{path.name}: lines {long} are longer than 99 characters"
