"""The ``skhypergrad`` command (``skhypergrad._cli``): runs, reads CSV files, fails cleanly.

Protects the promises of the demo command: the default run prints progress and
the comparison table; a user's CSV file works for every model and in every common
layout (text, boolean and missing values, decimal comma, compressed, tab or
semicolon separated, without header, with a written index), with the CV loss of
the same data encoded by hand; layouts that could be misread warn with the flag
that decides; bad arguments and bad files give one line on stderr and exit
status 2, never a traceback; nothing is computed that the options do not ask for.
"""

import os
import re
import subprocess
import sys
import warnings

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
    """Run ``main(argv)``; assert exit status 2 and one stderr line containing ``fragment``."""
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


# -- the files people have: one test per layout -----------------------------------------
# Each layout of the same small table either gives the CV loss of the equivalent clean
# numeric matrix run through the same steps in Python (one-hot by hand, the split, a
# StandardScaler fitted on the training rows, ElasticNetHyperGrad on the same folds), or
# exits with status 2 and its documented one-line message.
_FAST = ["--cv", "3", "--max-iter", "2", "--no-compare", "--quiet"]


@pytest.fixture(scope="module")
def table():
    """A table with numbers, a text column (3 values), a boolean column and a target."""
    pd = pytest.importorskip("pandas")
    rng = np.random.RandomState(0)
    n = 60
    df = pd.DataFrame({"a": rng.randn(n).round(3), "b": rng.randn(n).round(3),
                       "region": rng.choice(["west", "east", "north"], n),
                       "flag": rng.rand(n) > 0.5})
    df["y"] = (df.a - 2 * df.b + (df.region == "west") + df.flag
               + 0.3 * rng.randn(n)).round(3)
    return df


def _numeric(df):
    """``df``'s features as the preprocessing encodes them: numbers, then one-hot columns
    in sorted category order (one 0/1 column for a two-valued one)."""
    import pandas as pd
    parts = [df[["a", "b"]].astype(float)]
    parts.append(pd.get_dummies(df["region"], dtype=float)[["east", "north", "west"]])
    parts.append((df["flag"].astype(str) == "True").astype(float).to_frame())
    return pd.concat(parts, axis=1).to_numpy()


def _python_loss(X, y):
    from sklearn.model_selection import KFold, train_test_split
    from sklearn.preprocessing import StandardScaler

    from skhypergrad import ElasticNetHyperGrad

    X_train, _, y_train, _ = train_test_split(X, y, test_size=0.2, random_state=0)
    Z = StandardScaler().fit_transform(X_train)
    est = ElasticNetHyperGrad(cv=KFold(3, shuffle=True, random_state=0), max_iter=2)
    return f"{est.fit(Z, y_train).best_loss_:.5g}"


def _cli_loss(capsys, argv):
    """``(CV loss printed for the search, stderr)`` of a successful run of ``argv``."""
    assert main(argv + _FAST) == 0
    out, err = capsys.readouterr()
    row = next(line for line in out.splitlines()
               if line.startswith("ElasticNetHyperGrad") and "alpha=" in line)
    return row.split()[-2], err


@pytest.fixture(scope="module")
def expected(table):
    return _python_loss(_numeric(table), table["y"].to_numpy())


def test_clean_numeric_file_matches_python(table, expected, tmp_path, capsys):
    clean = table[["a", "b"]].copy()
    for j, name in enumerate(["east", "north", "west", "flag"]):
        clean[name] = _numeric(table)[:, 2 + j]
    clean["y"] = table["y"]
    clean.to_csv(tmp_path / "clean.csv", index=False)
    loss, err = _cli_loss(capsys, ["--csv", str(tmp_path / "clean.csv"), "--target", "y"])
    assert loss == expected and err == ""


def test_layout_categorical_and_boolean(table, expected, tmp_path, capsys):
    # 'region' is text, 'flag' is written True/False
    table.to_csv(tmp_path / "t.csv", index=False)
    loss, err = _cli_loss(capsys, ["--csv", str(tmp_path / "t.csv"), "--target", "y"])
    assert loss == expected and err == ""


def test_layout_boolean_spellings(table, expected, tmp_path, capsys):
    # true/FALSE in any case are the same booleans
    df = table.copy()
    df["flag"] = np.where(df["flag"], "true", "FALSE")
    df.to_csv(tmp_path / "t.csv", index=False)
    assert _cli_loss(capsys, ["--csv", str(tmp_path / "t.csv"), "--target", "y"])[0] == expected


def test_layout_missing_values(table, tmp_path, capsys):
    from sklearn.model_selection import train_test_split

    df = table.astype({"flag": object, "region": object})
    df.loc[[1, 5, 9], "a"] = np.nan
    df.loc[[2, 7], "region"] = np.nan
    df.loc[3, "flag"] = np.nan
    df.to_csv(tmp_path / "t.csv", index=False)
    loss, _ = _cli_loss(capsys, ["--csv", str(tmp_path / "t.csv"), "--target", "y"])
    # by hand: the training rows' median and most frequent values fill the gaps
    train, _ = train_test_split(df, test_size=0.2, random_state=0)
    filled = df.fillna({"a": train["a"].median(), "region": train["region"].mode()[0],
                        "flag": train["flag"].dropna().mode()[0]})
    filled["flag"] = filled["flag"].astype(str)
    assert loss == _python_loss(_numeric(filled), df["y"].to_numpy())

    loss, err = _cli_loss(capsys, ["--csv", str(tmp_path / "t.csv"), "--target", "y",
                                   "--drop-missing"])
    assert "6 rows with a missing value dropped (--drop-missing)" in err
    kept = df.dropna().reset_index(drop=True)
    assert loss == _python_loss(_numeric(kept), kept["y"].to_numpy())


def test_layout_missing_target_rows_dropped(table, tmp_path, capsys):
    df = table.copy()
    df.loc[[0, 10], "y"] = np.nan
    df.to_csv(tmp_path / "t.csv", index=False)
    loss, err = _cli_loss(capsys, ["--csv", str(tmp_path / "t.csv"), "--target", "y"])
    assert "2 rows have no value in the target column 'y': dropped" in err
    kept = table.drop(index=[0, 10]).reset_index(drop=True)
    assert loss == _python_loss(_numeric(kept), kept["y"].to_numpy())


def test_layout_decimal_comma(table, expected, tmp_path, capsys):
    path = tmp_path / "t.csv"
    table.to_csv(path, sep=";", decimal=",", index=False)
    _one_line_error(capsys, ["--csv", str(path), "--target", "y"] + _FAST,
                    fragment="holds numbers with a decimal comma ('5,096'): pass --decimal ','")
    assert _cli_loss(capsys, ["--csv", str(path), "--target", "y", "--decimal", ","]
                     )[0] == expected


@pytest.mark.parametrize("suffix", [".csv.gz", ".csv.bz2", ".csv.zip", ".csv.xz"])
def test_layout_compressed(table, expected, tmp_path, capsys, suffix):
    path = tmp_path / ("t" + suffix)
    table.to_csv(path, index=False)          # pandas compresses by the suffix
    assert path.read_bytes()[:1] not in (b"a", b"")
    assert _cli_loss(capsys, ["--csv", str(path), "--target", "y"])[0] == expected


def test_layout_tab_separated(table, expected, tmp_path, capsys):
    path = tmp_path / "t.tsv"
    table.to_csv(path, sep="\t", index=False)
    assert _cli_loss(capsys, ["--csv", str(path), "--target", "y"])[0] == expected  # sniffed
    for spelling in ("\\t", "\t", "tab"):
        assert _cli_loss(capsys, ["--csv", str(path), "--target", "y", "--delimiter",
                                  spelling])[0] == expected


def test_layout_semicolon(table, expected, tmp_path, capsys):
    path = tmp_path / "t.csv"
    table.to_csv(path, sep=";", index=False)
    loss, err = _cli_loss(capsys, ["--csv", str(path), "--target", "y"])       # sniffed
    assert loss == expected and err == ""
    _one_line_error(capsys, ["--csv", str(path), "--target", "y", "--delimiter", ","],
                    fragment="the header contains ';': pass --delimiter ';'")


def test_layout_excel_separator_line(table, expected, tmp_path, capsys):
    # Excel's first line "sep=;" names the separator; it is no header
    path = tmp_path / "t.csv"
    path.write_text("sep=;\n" + table.to_csv(sep=";", index=False), encoding="utf-8-sig")
    loss, err = _cli_loss(capsys, ["--csv", str(path), "--target", "y"])
    assert loss == expected and err == ""


def test_layout_no_header(table, expected, tmp_path, capsys):
    path = tmp_path / "t.csv"
    table.to_csv(path, index=False, header=False)
    loss, err = _cli_loss(capsys, ["--csv", str(path), "--target", "4", "--no-header"])
    assert loss == expected and err == ""
    # without the flag: the first row is lost to the header, and a warning says so
    _, err = _cli_loss(capsys, ["--csv", str(path), "--target", "4"])
    assert err.count("\n") == 1
    assert "the first line looks like data" in err and "pass --no-header" in err
    _one_line_error(capsys, ["--csv", str(path), "--target", "y"],
                    fragment="pass --no-header and give --target as a 0-based column")


def test_no_header_on_a_file_with_one(table, tmp_path, capsys):
    # the names became a data row: 'y' was called a text target; now the flag is named
    path = tmp_path / "t.csv"
    table.to_csv(path, index=False)
    _one_line_error(capsys, ["--csv", str(path), "--target", "4", "--no-header"],
                    fragment="looks like column names ('a', 'b', 'region', 'flag', ...: text "
                             "over numeric columns) but --no-header reads it as data: leave out")


def test_layout_index_column(table, expected, tmp_path, capsys):
    path = tmp_path / "t.csv"
    table.to_csv(path)                       # with pandas's unnamed 0..n-1 index
    loss, err = _cli_loss(capsys, ["--csv", str(path), "--target", "y", "--index-col", "0"])
    assert loss == expected and err == ""
    loss, err = _cli_loss(capsys, ["--csv", str(path), "--target", "y"])
    assert err.count("\n") == 1
    assert "numbers the rows (0..n-1 or 1..n" in err and "pass --index-col 0" in err
    assert loss != expected                  # kept as a feature, as the warning says


def test_layout_r_row_names(table, expected, tmp_path, capsys):
    # R's write.csv: an unnamed first column "" numbering the rows 1..n
    path = tmp_path / "t.csv"
    table.set_axis(np.arange(1, len(table) + 1)).to_csv(path)
    loss, err = _cli_loss(capsys, ["--csv", str(path), "--target", "y"])
    assert "numbers the rows (0..n-1 or 1..n" in err and "pass --index-col 0" in err
    loss, err = _cli_loss(capsys, ["--csv", str(path), "--target", "y", "--index-col", "0"])
    assert loss == expected and err == ""


def test_layout_identifier_and_date_columns(table, expected, tmp_path, capsys):
    # a text value on every row (an ID, a date per row) cannot inform other rows: dropped
    df = table.copy()
    df.insert(0, "id", [f"P{i:04d}" for i in range(len(df))])
    df.insert(1, "date", [f"2020-01-{i + 1:02d}" if i < 31 else f"2020-02-{i - 30:02d}"
                          for i in range(len(df))])
    df.to_csv(tmp_path / "t.csv", index=False)
    loss, err = _cli_loss(capsys, ["--csv", str(tmp_path / "t.csv"), "--target", "y"])
    assert loss == expected
    assert err.count("has a different text value on every row (an identifier?)") == 2
    assert err.count("\n") == 2 and "column 'id'" in err and "column 'date'" in err


def test_category_seen_only_in_test_rows_is_quiet(table, tmp_path, capsys):
    """The documented encoding (zeros) without scikit-learn's multi-line warning."""
    from sklearn.model_selection import train_test_split

    df = table.copy()
    _, test = train_test_split(df, test_size=0.2, random_state=0)
    df.loc[test.index[0], "region"] = "south"
    df.to_csv(tmp_path / "t.csv", index=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")          # as a plain `python -m` run shows them
        _, err = _cli_loss(capsys, ["--csv", str(tmp_path / "t.csv"), "--target", "y"])
    assert err == "" and not [w for w in caught if "unknown categories" in str(w.message)]


def test_layout_latin1(table, expected, tmp_path, capsys):
    path = tmp_path / "t.csv"
    df = table.copy()
    df["region"] = df["region"].replace({"north": "n\u00f6rd"})    # sorts as "north" did
    path.write_bytes(df.to_csv(index=False).encode("latin-1"))
    _one_line_error(capsys, ["--csv", str(path), "--target", "y"] + _FAST,
                    fragment="needs --encoding (e.g. latin-1 or cp1252)")
    loss, err = _cli_loss(capsys, ["--csv", str(path), "--target", "y", "--encoding",
                                   "latin-1"])
    assert loss == expected and err == ""
    _one_line_error(capsys, ["--csv", str(path), "--target", "y", "--encoding", "klingon"],
                    fragment="unknown --encoding 'klingon'")


def test_header_without_rows(tmp_path, capsys):
    path = tmp_path / "t.csv"
    path.write_text("a,b,y\n")
    _one_line_error(capsys, ["--csv", str(path), "--target", "y"],
                    fragment="has no data rows (only the line of column names)")


def test_infinite_values_and_a_target_without_values(table, tmp_path, capsys):
    path = tmp_path / "t.csv"
    df = table.copy()
    df.loc[4, "a"] = np.inf
    df.to_csv(path, index=False)
    _one_line_error(capsys, ["--csv", str(path), "--target", "y"],
                    fragment="column 'a' holds 1 infinite or too large values (such as inf")
    _one_line_error(capsys, ["--csv", str(path), "--target", "a"],
                    fragment="the target column 'a' holds 1 infinite or too large values")
    df.loc[4, "a"] = -1e300                  # its square overflows in StandardScaler
    df.to_csv(path, index=False)
    _one_line_error(capsys, ["--csv", str(path), "--target", "y"],
                    fragment="(such as -1e+300; at most 1e150 in absolute value)")
    table.assign(y=np.nan).to_csv(path, index=False)
    _one_line_error(capsys, ["--csv", str(path), "--target", "y"],
                    fragment="the target column 'y' of")


def test_layout_thousands_separator(table, tmp_path, capsys):
    df = table.copy()
    df["a"] = (df["a"] * 10_000).round(1)    # -12,345.6 and 234.5 alike
    df.to_csv(tmp_path / "plain.csv", index=False)
    plain, _ = _cli_loss(capsys, ["--csv", str(tmp_path / "plain.csv"), "--target", "y"])

    us = tmp_path / "us.csv"
    df.assign(a=df["a"].map(lambda v: f"{v:,.1f}")).to_csv(us, index=False)   # quoted
    _one_line_error(capsys, ["--csv", str(us), "--target", "y"] + _FAST,
                    fragment="column 'a' holds numbers with a thousands separator (")
    assert _cli_loss(capsys, ["--csv", str(us), "--target", "y", "--thousands", ","]
                     )[0] == plain

    eu = tmp_path / "eu.csv"
    swap = str.maketrans(",.", ".,")
    df.assign(a=df["a"].map(lambda v: f"{v:,.1f}".translate(swap))).to_csv(
        eu, sep=";", decimal=",", index=False)
    _one_line_error(capsys, ["--csv", str(eu), "--target", "y", "--decimal", ","] + _FAST,
                    fragment="pass --thousands '.'")
    assert _cli_loss(capsys, ["--csv", str(eu), "--target", "y", "--decimal", ",",
                              "--thousands", "."])[0] == plain
    # a decimal comma is no thousands separator: refused, not read as 10 000 times larger
    table.to_csv(eu, sep=";", decimal=",", index=False)
    _one_line_error(capsys, ["--csv", str(eu), "--target", "y", "--thousands", ","] + _FAST,
                    fragment="(is it the decimal separator? --decimal ',')")


def test_layout_duplicate_column_names(table, expected, tmp_path, capsys):
    path = tmp_path / "t.csv"
    table.to_csv(path, index=False, header=["a", "a", "region", "flag", "y"])
    loss, err = _cli_loss(capsys, ["--csv", str(path), "--target", "y"])
    assert loss == expected                  # both columns kept, in their order
    assert err == ("skhypergrad: warning: column names used more than once ('a'): the "
                   "later columns are read as 'a.1'\n")


def test_separator_hints(table, tmp_path, capsys):
    path = tmp_path / "t.csv"
    table.to_csv(path, sep=" ", index=False)
    _one_line_error(capsys, ["--csv", str(path), "--target", "y"],
                    fragment="the header contains ' ': pass --delimiter ' '")
    table.to_csv(path, index=False)        # commas, numbers with a decimal point
    _one_line_error(capsys, ["--csv", str(path), "--target", "y", "--decimal", ","],
                    fragment="leave out --decimal ','")


def test_quantity_target_with_logistic_names_the_regressors(tmp_path, capsys):
    # an integer-valued quantity (as diabetes' target) is no continuous float column
    rng = np.random.RandomState(0)
    y = rng.randint(25, 346, 80).astype(float)
    _write_csv(tmp_path / "t.csv", rng.randn(80, 3), y)
    _one_line_error(capsys, ["--csv", str(tmp_path / "t.csv"), "--target", "y", "--model",
                             "logistic"], fragment="numeric classes: if the target is a "
                    "quantity, use a regression model (--model enet, lasso or weighted-lasso)")


# -- messages that point to the fix ------------------------------------------------------
@pytest.mark.parametrize("target, model, fragment", [
    ("region", "lasso", "the target column 'region' is not numeric ('west'): for class "
                        "labels use --model logistic"),
    ("y", "logistic", "the target column 'y' is continuous (60 distinct values such as "),
])
def test_target_type_mismatch(table, tmp_path, capsys, target, model, fragment):
    table.to_csv(tmp_path / "t.csv", index=False)
    _one_line_error(capsys, ["--csv", str(tmp_path / "t.csv"), "--target", target,
                             "--model", model], fragment=fragment)


def test_single_class_message_has_no_numpy_repr(tmp_path, capsys):
    path = tmp_path / "t.csv"
    path.write_text("a,label\n" + "".join(f"{i},1\n" for i in range(20)))
    _one_line_error(capsys, ["--csv", str(path), "--target", "label", "--model", "logistic"],
                    fragment="single class (1)")
    path.write_text("a,label\n" + "".join(f"{i},{'yes' if i else 'no'}\n" for i in range(20)))
    _one_line_error(capsys, ["--csv", str(path), "--target", "label", "--model", "logistic"],
                    fragment="class 'no' has a single row")


def test_bad_delimiter_argument(capsys):
    _one_line_error(capsys, ["--delimiter", ";;"], fragment="--delimiter must be one")


def test_compressed_garbage_names_the_suffixes(tmp_path, capsys):
    path = tmp_path / "t.csv"
    path.write_bytes(b"\x1f\x8b\x08\x00\xff\xfe\x00\x00")
    _one_line_error(capsys, ["--csv", str(path), "--target", "y"],
                    fragment="not UTF-8 text; a text file saved in another encoding")


# -- no wasted runs ----------------------------------------------------------------------
def _count_sklearn_fits(monkeypatch):
    """Patch the ``fit`` of every scikit-learn estimator the command may use; returns the
    list that records each call's class name."""
    import sklearn.linear_model as lm
    from sklearn.model_selection import GridSearchCV

    calls = []
    for cls in (lm.ElasticNet, lm.Lasso, lm.LogisticRegression, lm.ElasticNetCV, lm.LassoCV,
                lm.LogisticRegressionCV, GridSearchCV):
        def fit(self, *args, _orig=cls.fit, **kwargs):
            calls.append(type(self).__name__)
            return _orig(self, *args, **kwargs)
        monkeypatch.setattr(cls, "fit", fit)
    return calls


def test_no_compare_fits_nothing_but_the_search(regression_csv, monkeypatch, capsys):
    calls = _count_sklearn_fits(monkeypatch)
    argv = ["--csv", str(regression_csv), "--target", "price", "--model", "lasso",
            "--cv", "3", "--max-iter", "2", "--quiet"]
    assert main(argv + ["--no-compare"]) == 0
    # the search and its refit use skhypergrad's own solvers: no scikit-learn model fit
    assert calls == []
    out = capsys.readouterr().out
    assert "the search's own criterion" in out and "LassoCV" not in out
    assert main(argv + ["--quick"]) == 0     # the counter does see the baselines
    assert "GridSearchCV" in calls and "LassoCV" in calls and calls.count("Lasso") > 10


def test_bad_plot_path_fails_before_reading_or_solving(regression_csv, tmp_path, monkeypatch,
                                                       capsys):
    import skhypergrad._cli as cli

    def no_data(*args):
        raise AssertionError("the data were read before the output path was checked")
    monkeypatch.setattr(cli, "_load", no_data)
    argv = ["--csv", str(regression_csv), "--target", "price"]
    _one_line_error(capsys, argv + ["--plot", str(tmp_path / "no" / "dir" / "f.png")],
                    fragment="no directory")
    _one_line_error(capsys, argv + ["--plot", str(tmp_path / "f.xyz")],
                    fragment="unknown image format 'xyz'")
    _one_line_error(capsys, argv + ["--plot", str(tmp_path)], fragment="it is a directory")


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs Linux's /proc")
def test_plot_path_the_file_system_refuses_fails_before_reading(regression_csv, tmp_path,
                                                                 monkeypatch, capsys):
    """os.access says yes (as it does to root on /proc): the file system is asked."""
    import skhypergrad._cli as cli

    def no_data(*args):
        raise AssertionError("the data were read before the output path was checked")
    monkeypatch.setattr(cli, "_load", no_data)
    monkeypatch.setattr(os, "access", lambda *args: True)
    _one_line_error(capsys, ["--csv", str(regression_csv), "--target", "price", "--plot",
                             "/proc/skhypergrad-figure.png"],
                    fragment="cannot write the figure to '/proc/skhypergrad-figure.png': ")
    # a writable path is left as it was: an existing file untouched, no new file
    existing = tmp_path / "old.png"
    existing.write_bytes(b"keep")
    cli._check_plot_path(str(existing))
    cli._check_plot_path(str(tmp_path / "new.png"))
    assert existing.read_bytes() == b"keep" and not (tmp_path / "new.png").exists()


def test_baselines_print_progress(regression_csv, capsys):
    argv = ["--csv", str(regression_csv), "--target", "price", "--cv", "3", "--quick",
            "--quiet"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "GridSearchCV(ElasticNet) 4x3: 37 fits ..." in out
    assert "  GridSearchCV(ElasticNet) 4x3: 36/36 fits," in out      # how far, seconds
    assert "  ElasticNetCV: done in" in out


def test_compiling_kernels_is_said(regression_csv, monkeypatch, capsys):
    import skhypergrad._kernel_cache as cache

    # the counts read around the compiling fit (12 kernels), then around the timed fit
    # (3 more, e.g. reached only by the longer search)
    counts = iter([0, 12, 12, 15])
    monkeypatch.setattr(cache, "kernels_cached", lambda: False)
    monkeypatch.setattr(cache, "compiled_count", lambda: next(counts))
    argv = ["--csv", str(regression_csv), "--target", "price", "--model", "lasso"]
    assert main(argv + ["--cv", "3", "--max-iter", "1", "--no-compare", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "Compiling numerical kernels once" in out
    assert "compiled 12 kernels in" in out
    assert out.index("compiled 12 kernels") < out.index("LassoHyperGrad (")
    assert "LassoHyperGrad (+)" in out
    assert "(+) its time includes compiling 3 numerical kernels" in out


def test_kernels_compiled_over_a_stale_cache_are_said(regression_csv, monkeypatch, capsys):
    """A cache that holds kernels of other sources (the package edited or upgraded since)
    is not announced, but what the warm-up compiles is said and left out of the times."""
    import skhypergrad._kernel_cache as cache

    counts = iter([0, 9, 9, 9])
    monkeypatch.setattr(cache, "kernels_cached", lambda: True)
    monkeypatch.setattr(cache, "compiled_count", lambda: next(counts))
    argv = ["--csv", str(regression_csv), "--target", "price", "--model", "lasso"]
    assert main(argv + ["--cv", "3", "--max-iter", "1", "--no-compare", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "Compiling numerical kernels once" not in out
    assert "compiled 9 kernels in" in out
    assert out.index("compiled 9 kernels") < out.index("LassoHyperGrad (")
    assert "(+)" not in out


def test_kernel_cache_detection_in_a_fresh_cache(regression_csv, tmp_path):
    """With an empty numba cache the first process compiles the kernels before the timed
    search (which then compiles none: no ``(+)``), the second loads them."""
    import os
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba"))
    argv = [sys.executable, "-m", "skhypergrad", "--csv", str(regression_csv), "--target",
            "price", "--model", "lasso", "--cv", "3", "--max-iter", "1", "--no-compare",
            "--quiet"]
    first = subprocess.run(argv, capture_output=True, text=True, timeout=300, env=env)
    second = subprocess.run(argv, capture_output=True, text=True, timeout=300, env=env)
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert "Compiling numerical kernels once" in first.stdout
    compiled = re.search(r"compiled (\d+) kernels in", first.stdout)
    assert compiled and int(compiled.group(1)) > 0
    assert "(+)" not in first.stdout
    assert "ompil" not in second.stdout and "(+)" not in second.stdout
    assert "a one-step search loaded the numerical kernels from numba's cache" in second.stdout


def test_index_col_positions_count_the_file_columns(table, expected, tmp_path, capsys):
    path = tmp_path / "t.csv"
    table.to_csv(path, header=False)         # index first, no header: y is column 5
    loss, err = _cli_loss(capsys, ["--csv", str(path), "--target", "5", "--no-header",
                                   "--index-col", "0"])
    assert loss == expected and err == ""
    _one_line_error(capsys, ["--csv", str(path), "--target", "5", "--no-header",
                             "--index-col", "5"], fragment="--index-col 5 is not a feature")


def test_without_pandas_the_message_names_the_extra(regression_csv, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "pandas", None)        # import pandas fails
    _one_line_error(capsys, ["--csv", str(regression_csv), "--target", "price"],
                    fragment='reading --csv files needs pandas: pip install "skhypergrad[demo]"')
