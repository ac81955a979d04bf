"""nn.validation: each helper accepts what it documents (NumPy scalars and arrays too) and returns it in
one form; it refuses anything else with an error that names the argument and what was expected."""
import inspect
import re
from pathlib import Path

import numpy as np
import pytest

import nn.validation
from nn.validation import (all_finite, as_finite, as_numeric, check_dtype, check_fraction, check_generator, check_int,
                           check_loss_output, check_name, check_number, check_seed, check_targets, check_X, check_y)


def test_every_helper_is_tested_here():
    """A helper added to nn/validation.py gets its tests in this file (a call of it here)."""
    helpers = [name for name, f in inspect.getmembers(nn.validation, inspect.isfunction)
               if f.__module__ == nn.validation.__name__ and not name.startswith("_")]
    source = Path(__file__).read_text()
    assert [name for name in helpers if not re.search(rf"(?<![\w.]){name}\(", source)] == []


# ----- check_dtype ------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype, expected", [("float64", np.float64), ("float32", np.float32), (np.float64, np.float64),
                                             (np.float32, np.float32), (np.dtype("float32"), np.float32),
                                             ("f4", np.float32)])
def test_check_dtype_accepts_the_two_float_types(dtype, expected):
    assert check_dtype(dtype) is expected


@pytest.mark.parametrize("dtype", ["int8", "float16", np.int64, "complex128", "nonsense", object(), [("a", "f8")]])
def test_check_dtype_refuses_the_others(dtype):
    with pytest.raises(ValueError, match="dtype must be 'float64' or 'float32', got "):
        check_dtype(dtype)


# ----- check_int --------------------------------------------------------------------------------------
@pytest.mark.parametrize("value", [3, np.int64(3), np.int32(3), np.uint8(3)])
def test_check_int_takes_python_and_numpy_integers_as_an_int(value):
    out = check_int("epochs", value, low=1)
    assert out == 3 and type(out) is int


def test_check_int_bounds_and_none():
    assert check_int("epochs", 1, low=1) == 1  # low is allowed
    assert check_int("epochs", -5) == -5  # no low: any integer
    with pytest.raises(ValueError, match="epochs must be >= 1, got 0"):
        check_int("epochs", 0, low=1)
    assert check_int("batch_size", None, allow_none=True) is None
    with pytest.raises(TypeError, match="batch_size must be an integer, got None"):
        check_int("batch_size", None)


@pytest.mark.parametrize("value", [2.5, 3.0, "3", True, np.bool_(True), np.float64(3), [3]])
def test_check_int_refuses_what_is_not_an_integer(value):
    with pytest.raises(TypeError, match="epochs must be an integer, got "):
        check_int("epochs", value)


# ----- check_number -----------------------------------------------------------------------------------
@pytest.mark.parametrize("value", [np.float32(0.25), np.float64(0.25), 0.25, np.int64(0), 3])
def test_check_number_takes_numpy_scalars_as_a_float(value):
    out = check_number("rate", value)
    assert out == float(value) and type(out) is float


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -np.inf, "0.1", None, True, np.bool_(True), [0.1]])
def test_check_number_refuses_what_is_not_a_finite_number(value):
    with pytest.raises(TypeError, match="rate must be a finite number"):
        check_number("rate", value)


def test_check_number_bounds():
    assert check_number("rate", 0, low=0) == 0.0 and check_number("rate", 1, high=1) == 1.0  # closed ends
    assert check_number("rate", 1, low=0, low_open=True) == 1.0
    with pytest.raises(ValueError, match="rate must be >= 0, got -0.5"):
        check_number("rate", -0.5, low=0)
    with pytest.raises(ValueError, match="rate must be > 0, got 0"):
        check_number("rate", 0, low=0, low_open=True)
    with pytest.raises(ValueError, match="momentum must be <= 1, got 1.5"):
        check_number("momentum", 1.5, 0, 1)
    with pytest.raises(ValueError, match="momentum must be < 1, got 1"):
        check_number("momentum", 1, 0, 1, high_open=True)


# ----- check_fraction ---------------------------------------------------------------------------------
@pytest.mark.parametrize("value", [0.5, np.float32(0.5), np.float64(0.5), 1e-9, 1 - 1e-9])
def test_check_fraction_takes_numbers_between_0_and_1_as_a_float(value):
    out = check_fraction("split", value)
    assert out == float(value) and type(out) is float


@pytest.mark.parametrize("value", [0, 1, -0.1, 1.5, float("nan"), float("inf"), "0.5", None, True])
def test_check_fraction_refuses_the_rest(value):
    with pytest.raises(ValueError, match="split must be a fraction in \\(0, 1\\), got "):
        check_fraction("split", value)


# ----- check_seed and check_generator -----------------------------------------------------------------
def test_check_seed_takes_none_integers_seed_sequences_and_generators():
    assert check_seed("seed", None) is None
    assert check_seed("seed", 0) == 0
    out = check_seed("seed", np.int64(3))
    assert out == 3 and type(out) is int
    generator, sequence = np.random.default_rng(0), np.random.SeedSequence(1)
    assert check_seed("seed", generator) is generator and check_seed("seed", sequence) is sequence


@pytest.mark.parametrize("seed", [-1, 1.5, "1", True, np.bool_(False), [1], np.random.RandomState(0)])
def test_check_seed_refuses_the_rest(seed):
    with pytest.raises(ValueError, match="random_state must be None or a whole number >= 0, got "):
        check_seed("random_state", seed)


def test_check_generator():
    generator = np.random.default_rng(0)
    assert check_generator("rng", generator) is generator
    for bad in (None, 0, np.random.RandomState(0), np.random.SeedSequence(0)):
        with pytest.raises(TypeError, match="rng must be a NumPy Generator, such as np.random.default_rng\\(0\\)"):
            check_generator("rng", bad)


# ----- arrays: as_numeric, as_finite, all_finite ------------------------------------------------------
def test_as_numeric():
    out = as_numeric("X", [[1, 2], [3, 4]], np.float32)
    assert out.dtype == np.float32 and out.flags.c_contiguous
    np.testing.assert_array_equal(out, [[1, 2], [3, 4]])
    assert as_numeric("X", np.array([True, False]), np.float64).tolist() == [1.0, 0.0]
    assert as_numeric("y", np.array([1, 2], dtype=np.uint8), None).dtype == np.uint8  # None: its own dtype
    assert as_numeric("X", np.ones((3, 4))[:, ::2], np.float64).flags.c_contiguous
    assert as_numeric("X", np.zeros((2, 2, 2)), np.float64, ndim=(3,)).shape == (2, 2, 2)


@pytest.mark.parametrize("values, error, message", [
    ([["a"]], TypeError, "X must be numeric, got an array of dtype <U1"),
    ([None], TypeError, "X must be numeric, got an array of dtype object"),
    (np.array([1 + 2j]), TypeError, "X must be numeric, got an array of dtype complex128"),
    ([[1, 2], [3]], TypeError, "X must be a numeric array: "),
    (np.zeros((2, 2, 2)), ValueError, "X must have 1 or 2 dimensions, got shape \\(2, 2, 2\\)"),
    (np.float64(1.0), ValueError, "X must have 1 or 2 dimensions, got shape \\(\\)"),
    (np.zeros((0, 2)), ValueError, "X is empty \\(shape \\(0, 2\\)\\)"),
    ([1.0, np.nan], ValueError, "X contains NaN or infinite values"),
])
def test_as_numeric_refuses_what_is_not_a_finite_numeric_array(values, error, message):
    with pytest.raises(error, match=message):
        as_numeric("X", values, np.float64)


def test_as_numeric_names_the_ranks_it_wants():
    with pytest.raises(ValueError, match="X_val must have 2 dimensions, got shape \\(3,\\)"):
        as_numeric("X_val", np.zeros(3), np.float64, ndim=(2,))


def test_as_numeric_accepts_read_only_arrays():
    X = np.arange(6.0).reshape(3, 2)
    X.flags.writeable = False
    assert as_numeric("X", X, np.float64) is X


def test_as_finite():
    w = np.array([1.0, -2.0])
    assert as_finite("weights", w) is w  # already suitable: no copy
    assert as_finite("weights", w, np.float32).dtype == np.float32
    strided = np.arange(8.0).reshape(2, 4)[:, ::2]
    np.testing.assert_array_equal(as_finite("weights", strided), strided)
    assert as_finite("weights", strided).flags.c_contiguous
    assert as_finite("labels", np.array([1, 2])).dtype.kind == "i"


def test_as_finite_refuses_values_that_overflow_the_dtype():
    big = np.array([1.0, -1e39])
    too_large = "weights has values too large for float32 \\(largest magnitude 1e\\+39; float32 holds up to 3.4e\\+38"
    with pytest.raises(ValueError, match=too_large):
        as_finite("weights", big, np.float32)
    assert as_finite("weights", big, np.float64).dtype == np.float64
    for bad in (np.nan, np.inf, -np.inf):
        with pytest.raises(ValueError, match="weights contains NaN or infinite values"):
            as_finite("weights", np.array([0.0, bad]), np.float32)
        with pytest.raises(ValueError, match="bias contains NaN or infinite values"):
            as_finite("bias", np.array([0.0, bad]))


@pytest.mark.parametrize("position", [0, 6, 7, 49, 50, 99])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("parallel_from", [10, 1 << 22], ids=["two-threads", "one-thread"])
def test_all_finite_finds_a_bad_value_anywhere(position, bad, parallel_from):
    """In any chunk (7 here), in either half when the check runs on two threads."""
    arr = np.zeros(100)
    assert all_finite(arr, chunk=7, parallel_from=parallel_from)
    arr[position] = bad
    assert not all_finite(arr, chunk=7, parallel_from=parallel_from)
    assert not all_finite(arr.reshape(10, 10), chunk=7, parallel_from=parallel_from)
    assert not all_finite(arr.reshape(10, 10).T, chunk=7, parallel_from=parallel_from)  # not contiguous


def test_all_finite_of_integers_and_empty_arrays():
    assert all_finite(np.array([np.iinfo(np.int64).max])) and all_finite(np.array([True]))
    assert all_finite(np.zeros(0)) and all_finite(np.zeros((0, 3), dtype=np.float32))
    assert not all_finite(np.array([np.float32(np.inf)]))


# ----- check_X, check_y, check_targets ----------------------------------------------------------------
def test_check_X():
    X, one = check_X([1.0, 2.0], 2, np.float64)
    assert one and X.shape == (1, 2)
    X, one = check_X([[1, 2], [3, 4]], 2, np.float32)
    assert not one and X.shape == (2, 2) and X.dtype == np.float32
    with pytest.raises(ValueError, match="X has 3 features but the network expects 2"):
        check_X(np.zeros((1, 3)), 2, np.float64)
    with pytest.raises(ValueError, match="X_val has 1 features but the network expects 2"):
        check_X(np.zeros((4, 1)), 2, np.float64, name="X_val")
    with pytest.raises(ValueError, match="X_val must have 2 dimensions"):
        check_X(np.zeros(2), 2, np.float64, ndim=(2,), name="X_val")
    with pytest.raises(ValueError, match="X_val contains NaN"):
        check_X([[np.nan, 0]], 2, np.float64, name="X_val")


def test_check_y_one_hot_encodes_class_ids():
    Y = check_y([0, 2, 1], 3, 3, np.float64)
    np.testing.assert_array_equal(Y, np.eye(3)[[0, 2, 1]])
    Y = check_y(np.array([1, 0]), 2, 2, np.float32)
    assert Y.dtype == np.float32 and Y.tolist() == [[0, 1], [1, 0]]


def test_check_y_takes_columns_of_targets():
    Y = check_y([0.5, 1.5], 2, 1, np.float32)  # one output: a 1-D y is the column
    assert Y.shape == (2, 1) and Y.dtype == np.float32 and Y.flags.c_contiguous
    np.testing.assert_array_equal(check_y(np.eye(3), 3, 3, np.float64), np.eye(3))


@pytest.mark.parametrize("y, n_outputs, message", [
    ([0, 3, 1], 3, "y_val holds class ids, which must be integers in 0..2 \\(the network has 3 outputs\\); "
                   "got values from 0 to 3"),
    ([0, -1, 1], 3, "y_val holds class ids, which must be integers in 0..2"),
    ([0, 0.5, 1], 3, "y_val holds class ids, which must be integers in 0..2"),
    (np.zeros((3, 2)), 3, "y_val has 2 columns but the network has 3 outputs"),
    ([[0], [1], [2]], 2, "y_val has 1 columns but the network has 2 outputs"),
    ([0, np.inf, 1], 1, "y_val contains NaN or infinite values"),
])
def test_check_y_refuses_targets_that_do_not_fit(y, n_outputs, message):
    with pytest.raises(ValueError, match=message):
        check_y(y, 3, n_outputs, np.float64, name="y_val")


def test_check_y_counts_samples():
    with pytest.raises(ValueError, match="X has 3 samples but y has 2"):
        check_y([0, 1], 3, 3, np.float64)
    with pytest.raises(ValueError, match="X has 3 samples but y_val has 4"):
        check_y(np.zeros((4, 1)), 3, 1, np.float64, name="y_val")


def test_check_targets_accepts_what_each_loss_is_defined_for():
    onehot = np.eye(3)
    assert check_targets("cross_entropy", onehot) is onehot
    soft = np.array([[0.7, 0.2, 0.1]], dtype=np.float32).astype(np.float64)  # sums to 1 in float32 only
    assert check_targets("cross_entropy", soft) is soft
    probabilities = np.array([[0.0], [0.3], [1.0]])
    assert check_targets("binary_cross_entropy", probabilities) is probabilities
    big = np.array([[1e6, -3.0]])
    assert check_targets("mse", big) is big


@pytest.mark.parametrize("loss, Y, message", [
    ("cross_entropy", np.array([[1.0, 0, 0], [1, 1, 0]]),
     "y_val must hold one-hot rows or class probabilities for cross_entropy .*"
     "row 1 is \\[1.0, 1.0, 0.0\\] \\(sum 2\\)"),
    ("cross_entropy", np.array([[1.5, -0.5]]), "y_val must hold one-hot rows .*row 0 is \\[1.5, -0.5\\] \\(sum 1\\)"),
    ("cross_entropy", np.array([[0.5, 0.4]]), "row 0 is \\[0.5, 0.4\\] \\(sum 0.9\\)"),
    ("binary_cross_entropy", np.array([[0.5], [1.5]]), "y_val must be in \\[0, 1\\] for binary_cross_entropy .*"
                                                       "row 1 is \\[1.5\\].*output='identity'"),
    ("binary_cross_entropy", np.array([[-0.1, 0.5]]), "y_val must be in \\[0, 1\\] .*row 0 is \\[-0.1, 0.5\\]"),
])
def test_check_targets_refuses_targets_the_loss_is_not_defined_for(loss, Y, message):
    with pytest.raises(ValueError, match=message):
        check_targets(loss, Y, name="y_val")


# ----- check_name, check_loss_output --------------------------------------------------------------------
def test_check_name_returns_a_known_name_and_lists_the_known_ones_otherwise():
    table = {"relu": None, "tanh": None}
    assert check_name("activation", "tanh", table) == "tanh"
    for bad in ("ReLU", None, 3):
        with pytest.raises(ValueError, match=r"unknown activation .*expected one of: relu, tanh"):
            check_name("activation", bad, table)


@pytest.mark.parametrize("loss, output", [("cross_entropy", "softmax"), ("binary_cross_entropy", "sigmoid"),
                                          ("mse", "identity"), ("mse", "sigmoid")])
def test_check_loss_output_accepts_the_output_a_loss_is_fused_with(loss, output):
    assert check_loss_output(loss, output) is None


@pytest.mark.parametrize("loss, output, hint", [("cross_entropy", "sigmoid", "binary_cross_entropy"),
                                                ("cross_entropy", "identity", "mse"),
                                                ("binary_cross_entropy", "softmax", "mse")])
def test_check_loss_output_names_the_output_needed_and_a_loss_that_fits(loss, output, hint):
    with pytest.raises(ValueError, match=f"loss '{loss}' needs a .* output layer.*loss='{hint}'"):
        check_loss_output(loss, output)

