"""The tables of the ``skhypergrad`` command: read a delimited file, type its columns, preprocess.

:func:`read_table` reads a user's file with pandas (compressed ``.gz``, ``.bz2``,
``.zip`` or ``.xz`` too) into feature columns of three kinds, and
:func:`make_preprocessor` builds the scikit-learn ``ColumnTransformer`` that turns
them into the numeric matrix the models see:

* numeric columns: missing values replaced by the column's median (on the rows
  the transformer is fitted on), then standardized;
* text columns (categories) and boolean columns (``True``/``False``, any case):
  missing values replaced by the most frequent value, then one-hot encoded (a
  two-valued column becomes one 0/1 column), then standardized; categories not
  seen when fitting are encoded as all zeros.

Columns that cannot inform other rows are ignored with a warning: an empty one, and
a text column with a different value on every row (an identifier, a date per row).
Layouts that would otherwise be read silently wrong give a warning naming the flag
that decides (a first line made only of numbers: ``--no-header``; an unnamed first
column numbering the rows 0..n-1, as ``DataFrame.to_csv`` writes its index, or 1..n,
as R's ``write.csv`` writes row names: ``--index-col 0``). Everything the model cannot
use raises :class:`UsageError` with a one-line message that says what to change.
"""

import bz2
import csv
import gzip
import io
import itertools
import lzma
import re
import zipfile
from typing import NamedTuple

import numpy as np

__all__ = ["UsageError", "Table", "read_table", "make_preprocessor", "describe_preprocessor",
           "parse_delimiter"]

#: separators tried, in this order of preference, when ``--delimiter`` is not given
CANDIDATE_DELIMITERS = (",", ";", "\t", "|")
_SAMPLE_LINES = 50
_TRUE_FALSE = {"true", "false"}
#: the first line Excel writes to name a file's separator ("sep=;")
_EXCEL_SEP = re.compile(r'^"?sep=(.)"?\s*$')
_DECIMAL_COMMA = re.compile(r"^[+-]?\d[\d.]*,\d+$")
#: thousands separators suggested when a text column reads as numbers with one of them
_THOUSANDS = (",", ".", " ", "'")


class UsageError(Exception):
    """An error the user can fix: printed as one line, exit status 2."""


class Table(NamedTuple):
    """A file read by :func:`read_table`.

    Attributes
    ----------
    X : pandas.DataFrame
        The feature columns: numeric ones as floats, the others as strings (booleans
        as ``"False"``/``"True"``), missing values as NaN.
    y : ndarray of shape (n_samples,)
        The target (floats for regression, the labels as read for classification).
    numeric, categorical : list of str
        Names of the numeric and of the text or boolean columns of ``X``.
    delimiter : str
        The separator used (given or detected).
    n_missing_rows : int
        Rows of ``X`` with at least one missing value (after ``drop_missing``).
    warnings : list of str
        One-line warnings about the layout, to print before the run.
    """

    X: object
    y: np.ndarray
    numeric: list
    categorical: list
    delimiter: str
    n_missing_rows: int
    warnings: list


def parse_delimiter(text):
    r"""The one-character separator meant by ``text``: ``"\t"`` (backslash, t) and
    ``"tab"`` mean a tab; ``None`` stays ``None`` (detect it).

    Raises
    ------
    ValueError
        ``text`` is neither one character nor a tab spelling.
    """
    if text is None:
        return None
    if text in ("\\t", "tab", "TAB"):
        return "\t"
    if len(text) != 1:
        raise ValueError("--delimiter must be one character (or \\t for a tab)")
    return text


def _pandas():
    try:
        import pandas
    except ImportError:
        raise UsageError('reading --csv files needs pandas: pip install "skhypergrad[demo]"'
                         ) from None
    return pandas


def _text_encoding(encoding):
    """``encoding`` as Python's codecs name it, UTF-8 read as ``utf-8-sig`` (a byte-order
    mark is skipped, as spreadsheets write one)."""
    import codecs
    name = codecs.lookup(encoding).name
    return "utf-8-sig" if name == "utf-8" else name


def _open_text(path, encoding):
    """A text stream over ``path``, decompressed according to its suffix."""
    lower = path.lower()
    if lower.endswith(".zip"):
        archive = zipfile.ZipFile(path)
        names = [n for n in archive.namelist() if not n.endswith("/")]
        if len(names) != 1:
            archive.close()
            raise UsageError(f"cannot read {path!r}: the zip archive holds {len(names)} files,"
                             f" not one")
        return io.TextIOWrapper(archive.open(names[0]), encoding=encoding, newline="")
    for suffix, opener in ((".gz", gzip.open), (".bz2", bz2.open), (".xz", lzma.open)):
        if lower.endswith(suffix):
            return opener(path, "rt", encoding=encoding, newline="")
    return open(path, encoding=encoding, newline="")


def _checked_lines(path, delimiter, decimal, encoding):
    """``(delimiter, first lines, skip)`` of ``path``, all its rows checked to have one
    length.

    Blank lines are skipped, and a first line ``sep=X`` as Excel writes it (``skip`` is
    then 1: the lines start after it), which names the delimiter when it is ``None``.
    Otherwise a ``None`` delimiter is the candidate of
    :data:`CANDIDATE_DELIMITERS` (without the decimal separator) that splits the
    first lines into the same number of fields, the most fields winning; a comma
    when none does.
    """
    try:
        with _open_text(path, encoding) as f:
            first = f.readline()
            excel = _EXCEL_SEP.match(first)
            lines = f if excel else itertools.chain([first], f)
            sample = [line for _, line in zip(range(_SAMPLE_LINES), _nonblank(lines))]
        skip = 1 if excel else 0
        if delimiter is None:
            delimiter = excel.group(1) if excel else _sniff(sample, exclude=decimal)
        width, line_no = None, 0
        for line_no, row in _numbered_rows(path, delimiter, encoding, skip):
            if width is None:
                width = len(row)
            elif len(row) != width:
                raise UsageError(f"{path!r}, line {line_no}: {len(row)} fields, the first "
                                 f"line has {width} (is the separator {delimiter!r} right? "
                                 f"--delimiter sets it)")
    except FileNotFoundError:
        raise UsageError(f"cannot read {path!r}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"cannot read {path!r}: it is a directory") from None
    except UnicodeDecodeError:
        if encoding == "utf-8-sig":
            raise UsageError(f"cannot read {path!r}: not UTF-8 text; a text file "
                             f"saved in another encoding needs --encoding (e.g. latin-1 or "
                             f"cp1252); compressed files must end in .gz, .bz2, .zip or .xz"
                             ) from None
        raise UsageError(f"cannot read {path!r}: not {encoding} text (--encoding sets "
                         f"it; compressed files must end in .gz, .bz2, .zip or .xz)") from None
    except (OSError, EOFError, zipfile.BadZipFile, lzma.LZMAError, csv.Error) as exc:
        raise UsageError(f"cannot read {path!r}: {' '.join(str(exc).split())}") from None
    return delimiter, sample, skip


def _nonblank(lines):
    return (line for line in lines if line.strip())


def _numbered_rows(path, delimiter, encoding, skip=0):
    """``(line number, fields)`` of the non-blank rows of ``path`` after its first ``skip``
    lines (numbered from 1, as an editor does)."""
    with _open_text(path, encoding) as f:
        reader = csv.reader(f, delimiter=delimiter)
        for row in reader:
            if reader.line_num > skip and row and any(c.strip() for c in row):
                yield reader.line_num, row


def _sniff(lines, exclude):
    best, best_width = ("," if exclude != "," else ";"), 1
    for d in CANDIDATE_DELIMITERS:
        if d == exclude:
            continue
        widths = {len(r) for r in csv.reader(lines, delimiter=d)}
        if len(widths) == 1 and (width := widths.pop()) > best_width:
            best, best_width = d, width
    return best


def _looks_numeric(text, decimal):
    text = str(text).strip()
    if decimal == ",":
        text = text.replace(".", "").replace(",", ".")
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_table(path, target, *, delimiter=None, decimal=".", header=True, index_col=None,
               classifier=False, drop_missing=False, encoding="utf-8", thousands=None):
    """Read the delimited file ``path`` into features and a target.

    Parameters
    ----------
    path : str
        The file; ``.gz``, ``.bz2``, ``.zip`` (one file inside) and ``.xz`` are
        decompressed. Text is UTF-8 (a byte-order mark is skipped).
    target : str
        Name of the target column, or its 0-based position (digits) when no column
        has that name. Without a header, columns are named by their position.
    delimiter : str or None, default=None
        Field separator; ``None`` detects it among ``, ; TAB |``.
    decimal : {".", ","}, default="."
        Decimal separator of the numbers.
    header : bool, default=True
        Whether the first non-blank line holds the column names.
    index_col : int or None, default=None
        Position of a row-index column to drop (``target``'s position counts the
        columns of the file, this one included).
    classifier : bool, default=False
        The target holds class labels (kept as read) instead of numbers.
    drop_missing : bool, default=False
        Drop the rows with a missing feature value instead of keeping them for
        imputation. Rows without a target value are always dropped (with a warning).
    encoding : str, default="utf-8"
        Text encoding of the file (UTF-8: a byte-order mark is skipped).
    thousands : str or None, default=None
        Thousands separator of the numbers (``"1,234.5"``: ``","``).

    Returns
    -------
    Table

    Raises
    ------
    UsageError
        Unreadable file (or not text in ``encoding``), rows of different lengths, unknown
        target, a target the model cannot use, numbers with a decimal comma without
        ``decimal=","``, fewer than 2 rows or no feature column.
    """
    pd = _pandas()
    try:
        encoding = _text_encoding(encoding)
    except LookupError:
        raise UsageError(f"unknown --encoding {encoding!r} (e.g. utf-8, latin-1, cp1252)"
                         ) from None
    delimiter, sample, skip = _checked_lines(path, delimiter, decimal, encoding)
    if thousands is not None:
        _check_thousands(path, sample, delimiter, decimal, thousands)
    if not sample:
        raise UsageError(f"{path!r} is empty")
    warnings = []
    try:
        df = pd.read_csv(path, sep=delimiter, decimal=decimal, thousands=thousands,
                         header=0 if header else None, skiprows=skip,
                         skipinitialspace=True, encoding=encoding, skip_blank_lines=True)
    except (ValueError, IndexError, pd.errors.ParserError) as exc:
        raise UsageError(f"cannot read {path!r}: {' '.join(str(exc).split())}") from None
    if df.shape[0] == 0:
        raise UsageError(f"{path!r} has no data rows (only the line "
                         f"{'of column names' if header else 'read as data'})")
    df.columns = [str(c).strip() for c in df.columns]
    names = list(df.columns)
    if header:
        written = [c.strip() for c in next(csv.reader(sample[:1], delimiter=delimiter))]
        twice = sorted({c for c in written if written.count(c) > 1 and c})
        if twice and len(written) == len(names):
            renamed = [f"{n!r}" for w, n in zip(written, names) if w in twice and w != n]
            warnings.append(f"column names used more than once ({', '.join(map(repr, twice))})"
                            f": the later columns are read as {', '.join(renamed)}")
    first_looks_like_data = header and _header_looks_like_data(df, decimal)
    if not header and _first_row_looks_like_names(df, decimal):
        shown = ", ".join(repr(str(v).strip()) for v in df.iloc[0].tolist()[:4])
        raise UsageError(f"the first line of {path!r} looks like column names ({shown}, ...: "
                         f"text over numeric columns) but --no-header reads it as data: leave "
                         f"out --no-header")
    if first_looks_like_data:
        warnings.append("the first line looks like data (numbers over numeric columns) but "
                        "is read as the header; pass --no-header if the file has none")
    if header and index_col is None and names[0].startswith("Unnamed: 0"):
        first = df.iloc[:, 0]
        if first.dtype.kind in "iu":
            rows = np.sort(first.to_numpy()) - np.arange(len(df))
            if np.all(rows == 0) or np.all(rows == 1):
                warnings.append("the first column is unnamed and numbers the rows (0..n-1 "
                                "or 1..n: a written DataFrame index or R's row names?): it "
                                "is used as a feature; pass --index-col 0 to drop it")

    name = _target_name(path, target, names, delimiter, decimal, first_looks_like_data)
    y = df[name]
    X = df.drop(columns=[name])
    if index_col is not None:
        if not 0 <= index_col < len(names) or names[index_col] == name:
            raise UsageError(f"--index-col {index_col} is not a feature column of {path!r} "
                             f"(columns 0 to {len(names) - 1}, the target is {name!r})")
        X = X.drop(columns=[names[index_col]])
    if X.shape[1] == 0:
        raise UsageError(f"{path!r} has no feature column besides the target {name!r}")
    no_target = y.isna().to_numpy()
    if no_target.any():
        warnings.append(f"{int(no_target.sum())} rows have no value in the target column "
                        f"{name!r}: dropped")
        X, y = X[~no_target], y[~no_target]
    if y.shape[0] == 0:
        raise UsageError(f"the target column {name!r} of {path!r} has no value on any row")
    y = _target_values(y, name, classifier, decimal)

    numeric, categorical, columns = [], [], {}
    for col in X.columns:
        values = X[col]
        if values.isna().all():
            warnings.append(f"column {col!r} is empty: ignored")
            continue
        kind, converted = _column_kind(values, col, decimal)
        present = converted.dropna()
        if kind == "categorical" and len(present) > 2 and present.nunique() == len(present):
            warnings.append(f"column {col!r} has a different text value on every row (an "
                            f"identifier?), which says nothing about other rows: ignored")
            continue
        (numeric if kind == "numeric" else categorical).append(col)
        columns[col] = converted
    if not columns:
        raise UsageError(f"{path!r} has no non-empty feature column")
    X = pd.DataFrame(columns, index=X.index)
    missing = X.isna().any(axis=1).to_numpy()
    if drop_missing and missing.any():
        warnings.append(f"{int(missing.sum())} rows with a missing value dropped "
                        f"(--drop-missing)")
        X, y, missing = X[~missing], y[~missing], missing[~missing]
    if X.shape[0] < 2:
        raise UsageError(f"{path!r} has fewer than 2 usable data rows")
    for col in categorical:
        n_values = X[col].nunique()
        if n_values > 50:
            warnings.append(f"column {col!r} has {n_values} distinct text values: one "
                            f"feature each after one-hot encoding")
    return Table(X=X.reset_index(drop=True), y=y, numeric=numeric, categorical=categorical,
                 delimiter=delimiter, n_missing_rows=int(missing.sum()), warnings=warnings)


def _first_row_looks_like_names(df, decimal):
    """Whether at least half of the columns are text on the first row only (numbers on
    every other row): column names read as data."""
    if df.shape[0] < 2:
        return False
    like = 0
    for name in df.columns:
        values = df[name]
        if values.dtype.kind in "iufb" or _looks_numeric(values.iloc[0], decimal):
            continue
        rest = values.iloc[1:].dropna()
        like += len(rest) > 0 and all(_looks_numeric(v, decimal) for v in rest.tolist())
    return 2 * like >= df.shape[1]


def _header_looks_like_data(df, decimal):
    """Whether at least half of the header cells are values of their column's type:
    numbers over numeric columns, True/False over boolean ones (names rarely are)."""
    like = 0
    for name in df.columns:
        kind = df[name].dtype.kind
        if kind in "iuf":
            like += _looks_numeric(name, decimal)
        elif kind == "b" or df[name].dtype == object:
            like += name.lower() in _TRUE_FALSE
    return 2 * like >= len(df.columns)


def _target_name(path, target, names, delimiter, decimal, first_looks_like_data):
    if target in names:
        return target
    if target.isdigit() and int(target) < len(names):
        return names[int(target)]
    if first_looks_like_data:
        raise UsageError(f"target column {target!r} not found in {path!r}, whose first line "
                         f"holds only numbers: pass --no-header and give --target as a 0-based "
                         f"column position")
    shown = ", ".join(names[:10]) + (", ..." if len(names) > 10 else "")
    hint = ""
    # a space separates too, but column names hold spaces: suggested for a single column
    spaces = (" ",) if len(names) == 1 else ()
    found = [d for d in CANDIDATE_DELIMITERS + spaces
             if d != delimiter and any(d in n for n in names)]
    if found and found[0] == decimal:
        hint = (f"; the header contains {found[0]!r} (a {found[0]!r}-separated file, whose "
                f"numbers cannot use a decimal comma?): leave out --decimal {decimal!r}")
    elif found:
        hint = f"; the header contains {found[0]!r}: pass --delimiter {found[0]!r}"
    raise UsageError(f"target column {target!r} not found in {path!r} (columns: {shown})"
                     + hint)


def _target_values(y, name, classifier, decimal):
    from sklearn.utils.multiclass import type_of_target

    numeric = y.dtype.kind in "iuf"
    if not classifier:
        if not numeric:
            example = str(y.iloc[0])
            _check_number_format(y.map(lambda v: str(v).strip()), f"the target column {name!r}",
                                 decimal)
            raise UsageError(f"the target column {name!r} is not numeric ({example!r}): "
                             f"for class labels use --model logistic")
        _check_finite(y, name, what="the target column")
        return y.to_numpy(dtype=float)
    values = y.to_numpy()
    if numeric and type_of_target(values) == "continuous":
        example = next(v for v in values.tolist() if float(v) != int(v))
        raise UsageError(f"the target column {name!r} is continuous ({y.nunique()} distinct "
                         f"values such as {example!r}): --model logistic needs class labels; "
                         f"use a regression model (--model enet, lasso or weighted-lasso)")
    if not numeric:
        values = np.array([str(v).strip() for v in values.tolist()], dtype=object)
    return values


#: magnitude above which a number's square overflows in the sums of a standardization
_TOO_LARGE = 1e150


def _check_finite(values, name, what="column"):
    """Refuse infinite numbers (``inf`` in the file) and numbers whose squares overflow
    (above 1e150), which no scaling or model takes."""
    bad = ~(np.abs(values.to_numpy(dtype=float)) <= _TOO_LARGE) & values.notna().to_numpy()
    if bad.any():
        raise UsageError(f"{what} {name!r} holds {int(bad.sum())} infinite or too large "
                         f"values (such as {values[bad].iloc[0]}; at most 1e150 in absolute "
                         f"value): write numbers in other units, or leave the cells empty "
                         f"for missing values")


def _check_thousands(path, lines, delimiter, decimal, thousands):
    """Refuse a ``thousands`` separator that the numbers of ``lines`` (the file's first
    lines) do not group by three digits: pandas would drop it anywhere (with
    ``thousands=","``, the decimal-comma ``0,25`` reads as 25)."""
    point = re.escape(decimal)
    sep = re.escape(thousands)
    grouped = re.compile(rf"^[+-]?\d{{1,3}}(?:{sep}\d{{3}})+(?:{point}\d+)?$")
    number_like = re.compile(rf"^[+-]?[\d{sep}]+(?:{point}\d+)?$")
    for line_no, row in enumerate(csv.reader(lines, delimiter=delimiter), start=1):
        for field in row:
            field = field.strip()
            if thousands in field and number_like.match(field) and not grouped.match(field):
                hint = (" (is it the decimal separator? --decimal ',')"
                        if thousands == "," else "")
                raise UsageError(f"--thousands {thousands!r} does not fit {field!r} in "
                                 f"{path!r}, line {line_no}: digits are grouped by three"
                                 + hint)


def _check_number_format(text, what, decimal):
    """Raise the fix when every value of ``text`` (stripped strings) is a number written
    with a decimal comma (``decimal="."``) or with a thousands separator."""
    if decimal == "." and text.map(lambda v: bool(_DECIMAL_COMMA.match(v))).all():
        both = " --thousands '.'" if text.str.contains(".", regex=False).any() else ""
        raise UsageError(f"{what} holds numbers with a decimal comma ({text.iloc[0]!r}): "
                         f"pass --decimal ','{both}")
    point = re.escape(decimal)
    for sep in _THOUSANDS:
        if sep == decimal:
            continue
        grouped = re.compile(rf"^[+-]?\d{{1,3}}(?:{re.escape(sep)}\d{{3}})+(?:{point}\d+)?$")
        plain = re.compile(rf"^[+-]?\d+(?:{point}\d+)?$")
        has_sep = text.map(lambda v: bool(grouped.match(v)))
        if has_sep.any() and (has_sep | text.map(lambda v: bool(plain.match(v)))).all():
            raise UsageError(f"{what} holds numbers with a thousands separator "
                             f"({text[has_sep].iloc[0]!r}): pass --thousands {sep!r}")


def _column_kind(values, name, decimal):
    """``("numeric", floats)`` or ``("categorical", strings with NaN)`` for one column."""
    kind = values.dtype.kind
    if kind in "iuf":
        _check_finite(values, name)
        return "numeric", values.astype(float)
    present = values.dropna()
    if kind == "b" or {str(v).strip().lower() for v in present.tolist()} <= _TRUE_FALSE:
        text = present.map(lambda v: str(v).strip().capitalize())
    else:
        text = present.map(lambda v: str(v).strip())
        _check_number_format(text, f"column {name!r}", decimal)
        numbers = text.map(lambda v: _looks_numeric(v, decimal))
        if numbers.all():
            raise UsageError(f"column {name!r} holds numbers written in a form not read as "
                             f"numbers (such as {text.iloc[0]!r}): write them as 1234.5, or "
                             f"see --decimal and --thousands")
        if numbers.mean() >= 0.5:
            other = text[~numbers].iloc[0]
            raise UsageError(f"column {name!r} mixes numbers and text ({other!r} on "
                             f"{int((~numbers).sum())} of {len(text)} rows): leave missing "
                             f"values empty or write NA")
    return "categorical", text.reindex(values.index).astype(object)


def make_preprocessor(numeric, categorical):
    """The ``ColumnTransformer`` of the command's tables (see the module docstring).

    Parameters
    ----------
    numeric, categorical : list of str
        Column names (or positions) of each kind; an empty list drops its branch.

    Returns
    -------
    sklearn.compose.ColumnTransformer
        Numeric columns first, then the one-hot columns, every output standardized.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    branches = []
    if numeric:
        branches.append(("numeric", make_pipeline(SimpleImputer(strategy="median"),
                                                  StandardScaler()), numeric))
    if categorical:
        branches.append(("categorical", make_pipeline(
            SimpleImputer(strategy="most_frequent"),
            OneHotEncoder(drop="if_binary", handle_unknown="ignore", sparse_output=False),
            StandardScaler()), categorical))
    return ColumnTransformer(branches, verbose_feature_names_out=False)


def describe_preprocessor(prep, width=8):
    """Lines describing a fitted :func:`make_preprocessor` (or a fitted ``StandardScaler``).

    Parameters
    ----------
    prep : fitted ColumnTransformer or StandardScaler
    width : int, default=8
        Column names shown per branch before ``...``.

    Returns
    -------
    list of str
    """
    from sklearn.compose import ColumnTransformer

    if not isinstance(prep, ColumnTransformer):
        return [f"{type(prep).__name__}(): every feature standardized"]

    def names(columns):
        return ", ".join(columns[:width]) + (", ..." if len(columns) > width else "")

    lines = []
    for branch, pipeline, columns in prep.transformers_:
        if branch == "numeric":
            lines.append(f"numeric ({len(columns)}): {names(columns)} -> median of the column "
                         f"for missing values, standardized")
        elif branch == "categorical":
            encoder = pipeline.named_steps["onehotencoder"]
            n_out = sum(1 if drop is not None else len(c)
                        for c, drop in zip(encoder.categories_, encoder.drop_idx_
                                           if encoder.drop_idx_ is not None
                                           else [None] * len(encoder.categories_)))
            lines.append(f"text and boolean ({len(columns)}): {names(columns)} -> most "
                         f"frequent value for missing values, one-hot ({n_out} features; "
                         f"a two-valued column is one 0/1 feature), standardized")
    return lines
