"""The ``skhypergrad`` command (``skhypergrad._cli``): runs, reads CSV files, fails cleanly.

Protects the promises of the demo command: the default run prints progress and
the comparison table; a user's CSV file works for every model; bad arguments
and bad files give one line on stderr and exit status 2, never a traceback.
"""

import subprocess
import sys

import numpy as np
import pytest

from skhypergrad._cli import main
from skhypergrad._cli_data import UsageError, read_table


def _write_csv(path, X, y, names=None, target="y"):
    names = names or [f"x{j}" for j in range(X.shape[1])]
    lines = [",".join(names + [target])]
    lines += [",".join([repr(float(v)) for v in row] + [str(t)]) for row, t in zip(X, y)]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def regression_csv(tmp_path):
    rng = np.random.RandomState(0)
    X = rng.randn(80, 6)
    y = X[:, 0] - 2 * X[:, 1] + 0.5 * rng.randn(80)
    return _write_csv(tmp_path / "reg.csv", X, y, target="price")


def _one_line_error(capsys, argv, *, fragment):
    """Run ``main(argv)``; assert exit status 2 and a single stderr line containing ``fragment``."""
    try:
        code = main(argv)
    except SystemExit as exc:          # argparse's errors
        code = exc.code
    out, err = capsys.readouterr()
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("skhypergrad: error:")
    assert fragment in lines[0]
    assert "Traceback" not in err + out


def test_default_dataset_quick(capsys):
    assert main(["--quick"]) == 0
    out = capsys.readouterr().out
    assert "diabetes" in out
    assert "[scan   1]" in out and "[step" in out            # progress lines
    for name in ("ElasticNetHyperGrad", "GridSearchCV(ElasticNet)", "ElasticNetCV"):
        assert name in out
    assert "CV MSE" in out and "test R2" in out


def test_csv_lasso_with_plot(regression_csv, tmp_path, capsys):
    png = tmp_path / "search.png"
    argv = ["--csv", str(regression_csv), "--target", "price", "--model", "lasso",
            "--cv", "3", "--quick", "--plot", str(png)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "reg.csv" in out and "6 features" in out
    assert "LassoHyperGrad" in out and "LassoCV" in out
    assert png.stat().st_size > 1000 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("model", ["enet", "weighted-lasso"])
def test_csv_other_regressors(regression_csv, model, capsys):
    argv = ["--csv", str(regression_csv), "--target", "price", "--model", model,
            "--cv", "3", "--max-iter", "2", "--no-compare", "--quiet"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "[scan" not in out                                  # --quiet
    assert "HyperGrad" in out


def test_csv_logistic_string_labels(tmp_path, capsys):
    rng = np.random.RandomState(0)
    X = rng.randn(90, 4)
    y = np.where(X[:, 0] + 0.5 * rng.randn(90) > 0, "yes", "no")
    path = _write_csv(tmp_path / "clf.csv", X, y, target="label")
    argv = ["--csv", str(path), "--target", "label", "--model", "logistic", "--cv", "3",
            "--max-iter", "3", "--no-compare"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "LogisticRegressionHyperGrad" in out and "C=" in out and "test acc" in out


def test_target_by_index_and_read_table(regression_csv):
    table = read_table(str(regression_csv), "6")
    assert table.X.shape == (80, 6) and table.y.shape == (80,)
    assert table.numeric == [f"x{j}" for j in range(6)] and table.categorical == []
    assert table.delimiter == "," and table.warnings == []


def test_bad_path(tmp_path, capsys):
    _one_line_error(capsys, ["--csv", str(tmp_path / "missing.csv"), "--target", "y"],
                    fragment="no such file")


def test_missing_target_column(regression_csv, capsys):
    _one_line_error(capsys, ["--csv", str(regression_csv), "--target", "nope"],
                    fragment="target column 'nope' not found")


def test_non_numeric_data(tmp_path, capsys):
    path = tmp_path / "bad.csv"
    path.write_text("a,b,y\n1,2,3\n4,hello,5\n6,7,8\n")
    _one_line_error(capsys, ["--csv", str(path), "--target", "y"],
                    fragment="column 'b' mixes numbers and text ('hello' on 1 of 3 rows)")


@pytest.mark.parametrize("content, fragment", [
    ("", "is empty"),
    ("a,y\n1,2\n", "fewer than 2 usable data rows"),
    ("a,y\n1,2\n3\n4,5\n", "line 3: 1 fields, the first line has 2"),
    ("a,y\n1,2\n,3\n4,5\n5,6\n", "too few for 5 folds"),
    ("y\n1\n2\n3\n", "no feature column besides the target 'y'"),
    ("a,y\n" + "".join(f"{i},{i}\n" for i in range(6)), "too few for 5 folds"),
])
def test_malformed_csv(tmp_path, capsys, content, fragment):
    path = tmp_path / "m.csv"
    path.write_text(content)
    _one_line_error(capsys, ["--csv", str(path), "--target", "y"], fragment=fragment)


@pytest.mark.parametrize("argv, fragment", [
    (["--cv", "1"], "--cv must be at least 2"),
    (["--model", "ridge"], "invalid choice"),
    (["--csv", "x.csv"], "--csv and --target go together"),
    (["--test-size", "2"], "--test-size"),
])
def test_bad_arguments(capsys, argv, fragment):
    _one_line_error(capsys, argv, fragment=fragment)


def test_unwritable_plot(regression_csv, tmp_path, capsys):
    argv = ["--csv", str(regression_csv), "--target", "price", "--model", "lasso", "--cv",
            "3", "--max-iter", "1", "--no-compare", "--quiet",
            "--plot", str(tmp_path / "no" / "such" / "dir" / "f.png")]
    _one_line_error(capsys, argv, fragment="cannot write the figure")


def test_usage_error_is_an_exception():
    with pytest.raises(UsageError):
        read_table("/nonexistent/file.csv", "y")


def test_module_entry_point_process(tmp_path):
    """``python -m skhypergrad`` in a real process: exit status 2, one line, no traceback."""
    proc = subprocess.run([sys.executable, "-m", "skhypergrad", "--csv",
                           str(tmp_path / "missing.csv"), "--target", "y"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0
    assert "no such file" in proc.stderr and "Traceback" not in proc.stderr
