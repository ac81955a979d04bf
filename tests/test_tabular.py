"""Tables from files (nn.tabular): CSV with or without a header, .npy, .npz; the target, the task, labels."""
import numpy as np
import pytest

from nn.tabular import (as_labels, features_and_target, guess_task, like_classes, model_columns, read_table,
                        regression_targets, target_index)


def csv_file(tmp_path, text, name="t.csv"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("text, header", [
    ("a,b,label\n1,2,x\n3,4,y\n", True),           # names only
    ("1,2,x\n3,4,y\n", False),                     # data only, labels in the last column
    ("x,2019,label\n1,2,x\n3,4,y\n", True),        # a number among the names: 'x' heads a numeric column
    ("1,,x\n3,4,y\n", False),                      # a missing cell in the first row is no header
    ("a,b\nc,d\n", True),                          # nothing numeric anywhere: the first row names the columns
])
def test_a_header_row_is_told_from_data(tmp_path, text, header):
    table = read_table(csv_file(tmp_path, text))
    assert table.header == header
    assert table.n_rows == (1 if text.startswith("a,b\n") else 2)
    if not header:
        assert table.names[:2] == ["column 0", "column 1"]


def test_csv_details(tmp_path):
    text = '\ufeffname, "size" ,kind\n\n"a, quoted",1.5, x \n  \nb,2,y\n'
    table = read_table(csv_file(tmp_path, text))  # BOM, spaces, quotes, blank lines
    assert table.names == ["name", "size", "kind"] and table.lines.tolist() == [3, 5]
    assert table.columns[0].tolist() == ["a, quoted", "b"] and table.columns[2].tolist() == ["x", "y"]
    tsv = read_table(csv_file(tmp_path, "a\tb\n1\t2\n", "t.tsv"))
    assert tsv.names == ["a", "b"] and tsv.columns[1].tolist() == ["2"]


@pytest.mark.parametrize("text, message", [
    ("", "the file is empty"),
    ("a,b,c\n", "a header row and no data"),
    ("a,b,c\n1,2,3\n4,5\n", "line 3 has 2 cells, but line 1 has 3"),
    ("a,b,a\n1,2,3\n", "the header names column 'a' twice \\(columns 0 and 2\\)"),
])
def test_broken_csv_files_are_errors_naming_the_file(tmp_path, text, message):
    path = csv_file(tmp_path, text)
    with pytest.raises(ValueError, match=f"^{path}: {message}"):
        read_table(path)


def test_other_endings_and_binary_garbage_are_refused(tmp_path):
    with pytest.raises(ValueError, match="not a .csv, .npy or .npz file"):
        read_table(tmp_path / "data.xlsx")
    (tmp_path / "bad.csv").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ValueError, match="not a readable CSV file"):
        read_table(tmp_path / "bad.csv")
    (tmp_path / "bad.npy").write_bytes(b"not numpy")
    with pytest.raises(ValueError, match="bad.npy: cannot read as .npy"):
        read_table(tmp_path / "bad.npy")


def test_npy_tables(tmp_path):
    np.save(tmp_path / "t.npy", np.arange(12.0).reshape(4, 3))
    table = read_table(tmp_path / "t.npy")
    assert (table.kind, table.header, table.names) == ("npy", False, ["column 0", "column 1", "column 2"])
    X, y, names, target = features_and_target(table, "0")
    assert X.tolist() == [[1, 2], [4, 5], [7, 8], [10, 11]] and y.tolist() == [0, 3, 6, 9] and target == "column 0"
    np.save(tmp_path / "flat.npy", np.arange(3.0))
    with pytest.raises(ValueError, match=r"a .npy table must be a 2-D array with at least one row, got shape \(3,\)"):
        read_table(tmp_path / "flat.npy")


def test_npz_tables(tmp_path):
    np.savez(tmp_path / "t.npz", X=np.ones((3, 2)), y=np.array([b"a", b"b", b"a"]))
    table = read_table(tmp_path / "t.npz")
    assert table.names == ["x0", "x1", "y"] and table.columns[2].tolist() == ["a", "b", "a"]
    assert target_index(table) == 2
    with pytest.raises(ValueError, match="--target: .* is a .npz file, whose target is its array y"):
        target_index(table, "x0")
    np.savez(tmp_path / "noX.npz", features=np.ones((3, 2)))
    with pytest.raises(ValueError, match="a .npz table needs an array X \\(and y for training\\); it has: features"):
        read_table(tmp_path / "noX.npz")
    np.savez(tmp_path / "short.npz", X=np.ones((3, 2)), y=np.ones(2))
    with pytest.raises(ValueError, match=r"y must be one value .* per row of X \(3\)"):
        read_table(tmp_path / "short.npz")


def test_the_target_by_name_index_or_default(tmp_path):
    table = read_table(csv_file(tmp_path, "a,b,c\n1,2,3\n"))
    assert [target_index(table, t) for t in (None, "a", "1", "-1", 0)] == [2, 0, 1, 2, 0]
    with pytest.raises(ValueError, match=r"--target: .* has no column 'd' \(its columns: a, b, c\)"):
        target_index(table, "d")
    with pytest.raises(ValueError, match=r"--target: .* has 3 columns \(0..2\), no column 3"):
        target_index(table, "3")
    plain = read_table(csv_file(tmp_path, "1,2,3\n", "plain.csv"))
    with pytest.raises(ValueError, match="has no header row to name its columns; give a 0-based index \\(0..2\\)"):
        target_index(plain, "a")


@pytest.mark.parametrize("text, message", [
    ("a,b,y\n1,red,0\n", "feature column 'b' is not numeric: line 2 holds 'red'"),
    ("a,b,y\n1,2,0\n1,,0\n", "feature column 'b' is not numeric: line 3 is empty"),
    ("a,b,y\n1,2,0\n1,nan,0\n", "feature column 'b' must hold finite numbers: line 3 holds 'nan'"),
    ("y\n1\n", "only one column, the target column 'y': no features to learn from"),
])
def test_features_must_be_numbers(tmp_path, text, message):
    path = csv_file(tmp_path, text)
    with pytest.raises(ValueError, match=f"^{path}: {message}$"):
        features_and_target(read_table(path))


@pytest.mark.parametrize("values, task", [
    (["a", "b", "a", "c"], "classify"),
    ([0, 1, 1, 0, 2, 2, 1], "classify"),                  # few whole numbers
    (np.arange(30) % 21, "regress"),                      # 21 distinct: more than MAX_CLASSES
    ([1, 2, 3, 4], "regress"),                            # as many values as rows
    ([0.5, 1.5, 0.5, 1.5, 0.5], "regress"),               # not whole numbers
    (np.array(["1", "2", "1", "2", "1"]), "classify"),    # a CSV's text that is numbers
])
def test_the_task_is_guessed_from_the_target(values, task):
    assert guess_task(np.asarray(values)) == task


def test_labels_keep_their_kind():
    assert as_labels(np.array(["1", "2.0"])).tolist() == [1, 2] and as_labels(np.array(["1", "2"])).dtype == np.int64
    assert as_labels(np.array(["0.5", "1"])).tolist() == [0.5, 1.0]
    assert as_labels(np.array(["a", "1"])).tolist() == ["a", "1"]
    assert as_labels(np.array([True, False])).tolist() == [1, 0]
    assert like_classes(np.array(["1", "x"]), np.array(["1", "x"])).tolist() == ["1", "x"]
    assert like_classes(np.array(["1", "2"]), np.array(["1", "x"])).tolist() == ["1", "2"]  # text, as the classes
    assert like_classes(np.array(["1", "2"]), np.array([1, 2])).tolist() == [1, 2]


def test_regression_targets_are_finite_numbers():
    assert regression_targets(np.array(["1.5", "2"]), "y").tolist() == [1.5, 2.0]
    with pytest.raises(ValueError, match="--task regress needs a numeric target, but y holds labels such as 'b'"):
        regression_targets(np.array(["1", "b"]), "y")
    with pytest.raises(ValueError, match="y must hold finite numbers for a regression, found inf"):
        regression_targets(np.array(["1", "inf"]), "y")


def test_a_models_columns_by_name_or_position(tmp_path):
    names = ["a", "b"]
    reordered = read_table(csv_file(tmp_path, "y,b,a\nq,2,1\n", "r.csv"))
    X, y = model_columns(reordered, 2, names, "y", 2)
    assert X.tolist() == [[1, 2]] and y.tolist() == ["q"]
    features_only = read_table(csv_file(tmp_path, "b,a\n2,1\n", "f.csv"))
    X, y = model_columns(features_only, 2, names, "y", 2)
    assert X.tolist() == [[1, 2]] and y is None
    plain = read_table(csv_file(tmp_path, "q,1,2\n", "p.csv"))  # by position: the target where it was
    X, y = model_columns(plain, 2, ["column 1", "column 2"], "column 0", 0)
    assert X.tolist() == [[1, 2]] and y.tolist() == ["q"]
    X, y = model_columns(read_table(csv_file(tmp_path, "1,2\n", "n.csv")), 2, None, None, None)
    assert X.tolist() == [[1, 2]] and y is None
    with pytest.raises(ValueError, match="has 3 columns, but the model expects 5 features, or 6 with the target 'y'"):
        model_columns(plain, 5, None, "y", None)


def test_a_damaged_or_pickled_npz_is_one_error_naming_the_file(tmp_path):
    good = tmp_path / "good.npz"
    np.savez(good, X=np.ones((40, 3)), y=np.arange(40))
    damaged = tmp_path / "damaged.npz"
    data = bytearray(good.read_bytes())
    start = data.index(b"\x93NUMPY") + 200  # inside X's values: the member's CRC no longer matches
    data[start:start + 8] = b"\xff" * 8
    damaged.write_bytes(bytes(data))
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, X=np.array([[object()]], dtype=object))
    for path in (damaged, pickled):
        with pytest.raises(ValueError, match=str(path.name)):
            read_table(str(path))
