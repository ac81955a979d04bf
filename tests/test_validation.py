"""nn.validation: every check names the argument and what was expected."""
import numpy as np
import pytest

from nn.validation import (as_finite, as_numeric, check_dtype, check_fraction, check_int, check_number, check_seed,
                           check_targets, check_X, check_y)


def test_check_int_takes_numpy_integers_and_names_the_argument():
    assert check_int("epochs", np.int64(3), low=1) == 3
    with pytest.raises(TypeError, match="epochs must be an integer, got 2.5"):
        check_int("epochs", 2.5)
    with pytest.raises(TypeError, match="epochs must be an integer"):
        check_int("epochs", True)
    with pytest.raises(ValueError, match="epochs must be >= 1, got 0"):
        check_int("epochs", 0, low=1)
    assert check_int("batch_size", None, allow_none=True) is None


@pytest.mark.parametrize("value", [np.float32(0.25), np.float64(0.25), 0.25, np.int64(0)])
def test_check_number_takes_numpy_scalars(value):
    assert check_number("rate", value) == float(value)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), "0.1", None, True, np.bool_(True), [0.1]])
def test_check_number_refuses_what_is_not_a_finite_number(value):
    with pytest.raises(TypeError, match="rate must be a finite number"):
        check_number("rate", value)


def test_check_number_bounds():
    with pytest.raises(ValueError, match="rate must be > 0, got 0"):
        check_number("rate", 0, low=0, low_open=True)
    with pytest.raises(ValueError, match="momentum must be < 1, got 1"):
        check_number("momentum", 1, 0, 1, high_open=True)
    assert check_number("rate", 1, low=0, low_open=True) == 1.0


@pytest.mark.parametrize("value", [0, 1, -0.1, 1.5, float("nan"), "0.5", None, True])
def test_check_fraction(value):
    with pytest.raises(ValueError, match="split must be a fraction in \\(0, 1\\)"):
        check_fraction("split", value)
    assert check_fraction("split", np.float32(0.5)) == 0.5


def test_check_seed():
    assert check_seed("seed", None) is None and check_seed("seed", np.int64(3)) == 3
    generator = np.random.default_rng(0)
    assert check_seed("seed", generator) is generator
    for bad in (-1, 1.5, "1", True):
        with pytest.raises(ValueError, match="seed must be None or a whole number >= 0"):
            check_seed("seed", bad)


def test_check_dtype():
    assert check_dtype("float32") is np.float32 and check_dtype(np.float64) is np.float64
    with pytest.raises(ValueError, match="dtype must be 'float64' or 'float32', got 'int8'"):
        check_dtype("int8")


def test_as_finite_refuses_values_that_overflow_the_dtype():
    big = np.array([1.0, -1e39])
    with pytest.raises(ValueError, match="weights has values too large for float32 .*1e\\+39"):
        as_finite("weights", big, np.float32)
    assert as_finite("weights", big, np.float64).dtype == np.float64
    with pytest.raises(ValueError, match="weights contains NaN or infinite values"):
        as_finite("weights", np.array([np.nan]), np.float32)


def test_as_numeric():
    out = as_numeric("X", [[1, 2], [3, 4]], np.float32)
    assert out.dtype == np.float32 and out.flags.c_contiguous
    with pytest.raises(TypeError, match="X must be numeric"):
        as_numeric("X", [["a"]], np.float64)
    with pytest.raises(ValueError, match="X must have 1 or 2 dimensions"):
        as_numeric("X", np.zeros((2, 2, 2)), np.float64)
    with pytest.raises(ValueError, match="X is empty"):
        as_numeric("X", np.zeros((0, 2)), np.float64)


def test_as_numeric_accepts_read_only_arrays():
    X = np.arange(6.0).reshape(3, 2)
    X.flags.writeable = False
    assert as_numeric("X", X, np.float64) is X


def test_check_X_and_check_y():
    X, one = check_X([1.0, 2.0], 2, np.float64)
    assert one and X.shape == (1, 2)
    with pytest.raises(ValueError, match="X has 3 features but the network expects 2"):
        check_X(np.zeros((1, 3)), 2, np.float64)
    Y = check_y([0, 2, 1], 3, 3, np.float64)
    np.testing.assert_array_equal(Y, np.eye(3)[[0, 2, 1]])
    with pytest.raises(ValueError, match="class ids, which must be integers in 0..2"):
        check_y([0, 3, 1], 3, 3, np.float64)
    with pytest.raises(ValueError, match="X has 3 samples but y has 2"):
        check_y([0, 1], 3, 3, np.float64)


def test_check_targets():
    onehot = np.eye(3)
    assert check_targets("cross_entropy", onehot) is onehot
    soft = np.array([[0.7, 0.2, 0.1]], dtype=np.float32).astype(np.float64)
    check_targets("cross_entropy", soft)
    with pytest.raises(ValueError, match="row 1 is \\[1.0, 1.0, 0.0\\]"):
        check_targets("cross_entropy", np.array([[1.0, 0, 0], [1, 1, 0]]))
    with pytest.raises(ValueError, match="for binary_cross_entropy"):
        check_targets("binary_cross_entropy", np.array([[1.5]]))
    big = np.array([[1e6, -3.0]])
    assert check_targets("mse", big) is big
