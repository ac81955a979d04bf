"""Your own data: tables read from CSV (a header row or not), .npy (a 2-D array) and .npz (arrays X
and y) files, the target column picked out, the task guessed from it.

A Table holds a file's columns as they are (a CSV's as text); ``features_and_target`` splits it into
numeric features X (n, d) and the target column, ``model_columns`` finds the columns a trained model
expects in another file (by name when both files have a header, else by position).
"""
import csv
import os
import re
import zipfile
import zlib
from typing import NamedTuple

import numpy as np

FORMATS = {".csv": "csv", ".txt": "csv", ".tsv": "csv", ".npy": "npy", ".npz": "npz"}
FORMATS_TEXT = "a .csv, .npy or .npz file"
MAX_CLASSES = 20  # a numeric target of at most this many whole numbers (and fewer than half the rows): classes
HEADER_SAMPLE = 1000  # rows looked at to tell a header row from data


class Table(NamedTuple):
    """A file's columns: ``names`` (a CSV's header, else "column 0", "column 1", ...; a .npz file's are
    "x0", "x1", ... and "y"), ``columns`` (1-D arrays: a CSV's text, a .npy or .npz file's numbers),
    ``header`` (the names are the file's), ``lines`` (each row's line in a CSV, for messages; else None)
    and ``kind`` ("csv", "npy" or "npz")."""
    path: str
    names: list
    columns: list
    header: bool
    lines: object
    kind: str

    @property
    def n_rows(self):
        return len(self.columns[0])

    def column(self, i):
        """How messages name column ``i``: "column 'species'" with a header, else "column 4"."""
        if self.kind == "npz":
            return "y" if self.names[i] == "y" else f"column {i} of X"
        return f"column {self.names[i]!r}" if self.header else f"column {i}"

    def row(self, r):
        """How messages name row ``r`` (0-based among the data rows): its line in a CSV."""
        return f"line {self.lines[r]}" if self.lines is not None else f"row {r}"


def table_format(path):
    """"csv", "npy" or "npz" from the file name's ending; None for anything else."""
    return FORMATS.get(os.path.splitext(os.fspath(path))[1].lower())


def read_table(path):
    """The Table of the file at ``path`` (by its ending: .csv/.tsv/.txt, .npy, .npz). Every fault is a
    ValueError (or OSError) naming the file."""
    path = os.fspath(path)
    kind = table_format(path)
    if kind is None:
        raise ValueError(f"{path}: not {FORMATS_TEXT} (the name must end in one of {', '.join(FORMATS)})")
    return {"csv": _read_csv, "npy": _read_npy, "npz": _read_npz}[kind](path)


# ----- the three formats --------------------------------------------------------------------------------
def _read_csv(path):
    delimiter = "\t" if path.lower().endswith(".tsv") else ","
    rows, lines = [], []
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f, delimiter=delimiter, skipinitialspace=True)
            for row in reader:
                cells = [cell.strip() for cell in row]
                if any(cells):  # blank lines are skipped
                    rows.append(cells)
                    lines.append(reader.line_num)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ValueError(f"{path}: not a readable CSV file ({exc})") from None
    if not rows:
        raise ValueError(f"{path}: the file is empty")
    for cells, line in zip(rows, lines):
        if len(cells) != len(rows[0]):
            raise ValueError(f"{path}: line {line} has {len(cells)} cells, but line {lines[0]} has {len(rows[0])}")
    header = _has_header(rows)
    if header and len(rows) == 1:
        raise ValueError(f"{path}: a header row and no data")
    names = _header_names(path, rows[0]) if header else [f"column {i}" for i in range(len(rows[0]))]
    body = rows[1:] if header else rows
    columns = [np.array(cells, dtype=str) for cells in zip(*body)]
    return Table(path, names, columns, header, np.array(lines[1:] if header else lines), "csv")


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def _has_header(rows):
    """The first row is a header when none of its cells is a number, or when it has a word (not a number,
    not empty) in a column that holds numbers in every other row looked at."""
    first, rest = rows[0], rows[1:HEADER_SAMPLE + 1]
    if not any(_is_number(cell) for cell in first):
        return True
    return any(cell and not _is_number(cell) and rest and all(_is_number(row[i]) for row in rest)
               for i, cell in enumerate(first))


def _header_names(path, cells):
    names = [cell or f"column {i}" for i, cell in enumerate(cells)]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise ValueError(f"{path}: the header names column {name!r} twice (columns {names.index(name)} and {i})")
    return names


def _load_numpy(path):
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:  # a pickle, a corrupt or foreign file
        raise ValueError(f"{path}: cannot read as {os.path.splitext(path)[1]} ({exc})") from None


def _read_npy(path):
    array = _load_numpy(path)
    if not isinstance(array, np.ndarray):
        raise ValueError(f"{path}: holds several arrays; a .npy table is one 2-D array")
    if array.ndim != 2 or array.shape[0] == 0:
        raise ValueError(f"{path}: a .npy table must be a 2-D array with at least one row, got shape {array.shape}")
    if array.dtype.kind not in "biufUS":
        raise ValueError(f"{path}: an array of {array.dtype} is not a table of numbers or text")
    if array.dtype.kind == "S":
        array = array.astype(str)
    columns = [array[:, i] for i in range(array.shape[1])]
    return Table(path, [f"column {i}" for i in range(len(columns))], columns, False, None, "npy")


def _read_npz(path):
    archive = _load_numpy(path)
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(f"{path}: not a .npz archive")
    with archive:
        if "X" not in archive.files:
            raise ValueError(f"{path}: a .npz table needs an array X (and y for training); it has: "
                             f"{', '.join(archive.files) or 'no arrays'}")
        try:
            X, y = archive["X"], archive["y"] if "y" in archive.files else None
        except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:  # corrupt, or pickled
            raise ValueError(f"{path}: its arrays cannot be read ({type(exc).__name__}: {exc})") from None
    if X.ndim != 2 or X.shape[0] == 0 or X.dtype.kind not in "biuf":
        raise ValueError(f"{path}: X must be a 2-D array of numbers with at least one row, got {X.dtype} of "
                         f"shape {X.shape}")
    columns, names = [X[:, i] for i in range(X.shape[1])], [f"x{i}" for i in range(X.shape[1])]
    if y is not None:
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.ndim != 1 or len(y) != len(X) or y.dtype.kind not in "biufUS":
            raise ValueError(f"{path}: y must be one value (a number or a label) per row of X ({len(X)}), got "
                             f"{y.dtype} of shape {y.shape}")
        columns.append(y.astype(str) if y.dtype.kind == "S" else y)
        names.append("y")
    return Table(path, names, columns, False, None, "npz")


# ----- the target and the features ----------------------------------------------------------------------
def target_index(table, target=None):
    """The index of the column ``target`` names (``--target``): a header name, or a 0-based index
    (negative ones count from the end); by default the last column (a .npz file's y)."""
    if table.kind == "npz":
        if target is not None:
            raise ValueError(f"--target: {table.path} is a .npz file, whose target is its array y; --target is for "
                             f".csv and .npy files")
        if "y" not in table.names:
            raise ValueError(f"{table.path}: no array y (the target); a .npz table holds X and y")
        return len(table.names) - 1
    n = len(table.columns)
    if target is None:
        return n - 1
    target = str(target)
    if table.header and target in table.names:
        return table.names.index(target)
    if re.fullmatch(r"-?\d+", target):
        index = int(target)
        if not -n <= index < n:
            raise ValueError(f"--target: {table.path} has {n} columns (0..{n - 1}), no column {index}")
        return index % n
    if table.header:
        raise ValueError(f"--target: {table.path} has no column {target!r} (its columns: {', '.join(table.names)})")
    raise ValueError(f"--target: {table.path} has no header row to name its columns; give a 0-based index "
                     f"(0..{n - 1}), not {target!r}")


def numbers(table, i, what="feature"):
    """Column ``i`` as finite float64 numbers; ValueError naming the column and the first bad cell."""
    values = table.columns[i]
    try:
        values = np.asarray(values, dtype=np.float64)
    except ValueError:
        r = next(r for r, cell in enumerate(values) if not _is_number(cell))
        cell = str(values[r])
        found = "is empty" if cell == "" else f"holds {cell!r}"
        raise ValueError(f"{table.path}: {what} {table.column(i)} is not numeric: {table.row(r)} {found}") from None
    bad = np.flatnonzero(~np.isfinite(values))
    if len(bad):
        raise ValueError(f"{table.path}: {what} {table.column(i)} must hold finite numbers: {table.row(bad[0])} "
                         f"holds {str(table.columns[i][bad[0]])!r}")
    return values


def features_and_target(table, target=None):
    """(X (n, d) float64, the target column as it is in the file, feature names, target name) with the
    target picked by ``target`` (see target_index). A feature column that is not numeric is an error
    naming it; the target may hold labels."""
    t = target_index(table, target)
    features = [i for i in range(len(table.columns)) if i != t]
    if not features:
        raise ValueError(f"{table.path}: only one column, the target {table.column(t)}: no features to learn from")
    return _features(table, features), table.columns[t], [table.names[i] for i in features], table.names[t]


def _features(table, indices):
    return np.column_stack([numbers(table, i) for i in indices])


def model_columns(table, n_features, feature_names=None, target_name=None, target_column=None, target=None):
    """(X, the target column or None) of ``table`` for a model of ``n_features`` inputs trained on
    columns ``feature_names`` with target ``target_name`` (column ``target_column`` of its file).

    ``target`` (--target) names the target column. Otherwise, when the file has a header holding every
    feature name, columns are taken by name (the target's if present); else by position: the file has
    the features alone, or the features and the target (at ``target_column``, else last)."""
    if target is None and table.header and feature_names and all(name in table.names for name in feature_names):
        X = _features(table, [table.names.index(name) for name in feature_names])
        y = table.columns[table.names.index(target_name)] if target_name in table.names else None
        return X, y
    n_columns = len(table.columns)
    if target is not None or table.kind == "npz" and "y" in table.names:
        t = target_index(table, target)
        what = "features (columns of X)" if table.kind == "npz" else "feature columns besides the target"
        _check_width(table, n_columns - 1, n_features, what)
        return _features(table, [i for i in range(n_columns) if i != t]), table.columns[t]
    if n_columns == n_features + 1:
        t = target_column if target_column is not None and 0 <= target_column < n_columns else n_columns - 1
        return _features(table, [i for i in range(n_columns) if i != t]), table.columns[t]
    _check_width(table, n_columns, n_features, "columns" if table.kind != "npz" else "features (columns of X)",
                 target_name)
    return _features(table, range(n_columns)), None


def _check_width(table, found, expected, what, target_name=None):
    if found != expected:
        with_target = f", or {expected + 1} with the target {target_name!r}" if target_name else ""
        raise ValueError(f"{table.path} has {found} {what}, but the model expects {expected} features"
                         f"{with_target}")


# ----- the task and the labels --------------------------------------------------------------------------
def as_numbers(values):
    """The target column as float64 numbers, or None if it holds text that is not all numbers."""
    try:
        return np.asarray(values, dtype=np.float64)
    except ValueError:
        return None


def guess_task(values):
    """"classify" for a target of labels (text), or of at most MAX_CLASSES distinct whole numbers that
    are fewer than half the rows; else "regress"."""
    y = as_numbers(values)
    if y is None:
        return "classify"
    distinct = np.unique(y)
    whole = np.all(np.isfinite(distinct)) and np.array_equal(distinct, np.round(distinct))
    return "classify" if whole and len(distinct) <= MAX_CLASSES and len(distinct) < len(y) / 2 else "regress"


def as_labels(values):
    """Class labels from a target column: numbers stay numbers (whole ones as int64), text stays text."""
    values = np.asarray(values)
    y = as_numbers(values) if values.dtype.kind in "US" else values
    if y is None:
        return values.astype(str)
    if y.dtype.kind == "b":
        return y.astype(np.int64)
    if y.dtype.kind == "f" and np.all(np.isfinite(y)) and np.array_equal(y, np.round(y)):
        return y.astype(np.int64)
    return y


def like_classes(values, classes):
    """The labels of a target column in the type of a model's ``classes`` (text or numbers), so that
    they compare equal: a CSV's "1" is the class 1 of a model trained on numbers, and stays "1" for a
    model trained on text."""
    labels = as_labels(values)
    if classes.dtype.kind == "U" and labels.dtype.kind != "U":
        return np.asarray(values).astype(str)
    return labels


def regression_targets(values, where):
    """A target column as finite float64 numbers, for a regression; ``where`` names it in errors."""
    y = as_numbers(values)
    if y is None:
        label = str(next(cell for cell in values if not _is_number(cell)))
        raise ValueError(f"--task regress needs a numeric target, but {where} holds labels such as {label!r}")
    if not np.all(np.isfinite(y)):
        raise ValueError(f"{where} must hold finite numbers for a regression, found {y[~np.isfinite(y)][0]}")
    return y
