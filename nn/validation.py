"""Checks on user input, each raising an error that names the argument and what was expected."""
import numbers
import os
import threading

import numpy as np

from .functions import LOSS_OUTPUT

DTYPES = {"float64": np.float64, "float32": np.float32}


def check_dtype(dtype):
    """'float64' | 'float32' (or the NumPy types) -> the NumPy scalar type."""
    try:
        name = np.dtype(dtype).name
    except TypeError:
        name = None
    if name not in DTYPES:
        raise ValueError(f"dtype must be 'float64' or 'float32', got {dtype!r}")
    return DTYPES[name]


def check_int(name, value, low=None, allow_none=False):
    """A whole number (NumPy integers too) >= low, as an int."""
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if low is not None and value < low:
        raise ValueError(f"{name} must be >= {low}, got {value!r}")
    return int(value)


def check_number(name, value, low=None, high=None, low_open=False, high_open=False):
    """A finite real number (NumPy scalars too) within [low, high] (open ends on request), as a float."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise TypeError(f"{name} must be a finite number, got {value!r}")
    if low is not None and (value < low or (low_open and value == low)):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low}, got {value!r}")
    if high is not None and (value > high or (high_open and value == high)):
        raise ValueError(f"{name} must be {'<' if high_open else '<='} {high}, got {value!r}")
    return float(value)


def check_fraction(name, value):
    """A number strictly between 0 and 1 (NumPy scalars too), as a float."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or not 0 < value < 1:
        raise ValueError(f"{name} must be a fraction in (0, 1), got {value!r}")
    return float(value)


def check_seed(name, seed):
    """A seed for np.random.default_rng: None, a whole number >= 0, a SeedSequence or a Generator."""
    if seed is None or isinstance(seed, (np.random.Generator, np.random.SeedSequence)):
        return seed
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"{name} must be None or a whole number >= 0, got {seed!r}")
    return int(seed)


def check_generator(name, rng):
    """A NumPy Generator (what the data helpers draw from)."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"{name} must be a NumPy Generator, such as np.random.default_rng(0), got {rng!r}")
    return rng


def as_numeric(name, values, dtype, ndim=(1, 2)):
    """``values`` as a C-contiguous array of ``dtype``, numeric, finite, non-empty, of a known rank."""
    try:
        arr = np.asarray(values)
    except (ValueError, TypeError) as exc:
        raise TypeError(f"{name} must be a numeric array: {exc}") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be numeric, got an array of dtype {arr.dtype}")
    if arr.ndim not in ndim:
        raise ValueError(f"{name} must have {' or '.join(map(str, ndim))} dimensions, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape})")
    return as_finite(name, arr, dtype)


def as_finite(name, arr, dtype=None):
    """``arr`` (an array) as a C-contiguous array of ``dtype`` (None: its own), every value finite. A finite
    value that ``dtype`` cannot hold (float64 beyond float32's +-3.4e38) is an error, not an inf."""
    with np.errstate(over="ignore", invalid="ignore"):
        out = np.ascontiguousarray(arr, dtype=dtype)
    if not all_finite(out):
        if out.dtype != arr.dtype and all_finite(arr):
            with np.errstate(over="ignore", invalid="ignore"):
                largest = float(np.max(np.abs(arr)))
            raise ValueError(f"{name} has values too large for {out.dtype.name} (largest magnitude {largest:.3g}; "
                             f"{out.dtype.name} holds up to {float(np.finfo(out.dtype).max):.3g})")
        raise ValueError(f"{name} contains NaN or infinite values")
    return out


def all_finite(arr, chunk=1 << 18, parallel_from=1 << 22):
    """np.isfinite(arr).all() in pieces, so that a large array needs no mask of its own size. Arrays of
    at least ``parallel_from`` elements are checked in two halves on two threads when the machine has
    two cores (the check is bound by memory reads, and one core does not draw all the bandwidth: MNIST's
    20,000 training images in float64 take 5 ms instead of 9)."""
    flat = arr.reshape(-1)
    if flat.dtype.kind in "iub":
        return True
    if flat.size >= parallel_from and (os.cpu_count() or 1) > 1:
        half = flat.size // 2
        results = [True, True]

        def check_half(i, piece):
            results[i] = _all_finite_pieces(piece, chunk)

        helper = threading.Thread(target=check_half, args=(1, flat[half:]), name="nn-all-finite")
        helper.start()
        check_half(0, flat[:half])
        helper.join()
        return all(results)
    return _all_finite_pieces(flat, chunk)


def _all_finite_pieces(flat, chunk):
    mask = np.empty(min(flat.size, chunk), dtype=bool)
    for start in range(0, flat.size, chunk):
        piece = flat[start:start + chunk]
        if not np.isfinite(piece, out=mask[:piece.size]).all():
            return False
    return True


def check_X(X, n_features, dtype, ndim=(1, 2), name="X"):
    """X as a 2-D array (n_samples, n_features); a 1-D X is one sample. Returns (X, was_1d)."""
    X = as_numeric(name, X, dtype, ndim)
    one_sample = X.ndim == 1
    if one_sample:
        X = X.reshape(1, -1)
    if X.shape[1] != n_features:
        raise ValueError(f"{name} has {X.shape[1]} features but the network expects {n_features}")
    return X, one_sample


def check_y(y, n_samples, n_outputs, dtype, name="y"):
    """Targets as a 2-D array (n_samples, n_outputs).

    With several outputs a 1-D ``y`` holds class ids 0..n_outputs-1 and is one-hot encoded; with one
    output a 1-D ``y`` is the column of targets.
    """
    y = as_numeric(name, y, None)
    if y.shape[0] != n_samples:
        raise ValueError(f"X has {n_samples} samples but {name} has {y.shape[0]}")
    if y.ndim == 1 and n_outputs > 1:
        ids = y
        if not np.array_equal(ids, np.round(ids)) or ids.min() < 0 or ids.max() > n_outputs - 1:
            raise ValueError(
                f"{name} holds class ids, which must be integers in 0..{n_outputs - 1} "
                f"(the network has {n_outputs} outputs); got values from {ids.min()} to {ids.max()}"
            )
        Y = np.zeros((n_samples, n_outputs), dtype=dtype)
        Y[np.arange(n_samples), ids.astype(np.intp)] = 1
        return Y
    Y = np.ascontiguousarray(y.reshape(n_samples, -1), dtype=dtype)
    if Y.shape[1] != n_outputs:
        raise ValueError(f"{name} has {Y.shape[1]} columns but the network has {n_outputs} outputs")
    return Y


def check_targets(loss, Y, name="y"):
    """Targets (n, k) that ``loss`` is defined for: for cross_entropy, rows of non-negative class
    probabilities summing to 1 (one-hot rows, or soft labels); for binary_cross_entropy, values in
    [0, 1]; for mse, any finite values. Returns Y."""
    if loss == "cross_entropy":
        tolerance = np.sqrt(np.finfo(np.float32).eps)  # soft labels that went through float32 still pass
        sums = Y.sum(axis=1)
        bad = np.flatnonzero((Y < 0).any(axis=1) | (np.abs(sums - 1) > tolerance))
        if bad.size:
            i = int(bad[0])
            raise ValueError(f"{name} must hold one-hot rows or class probabilities for cross_entropy (each row "
                             f"non-negative and summing to 1); row {i} is {Y[i].tolist()[:10]} (sum {sums[i]:g})")
    elif loss == "binary_cross_entropy":
        bad = np.flatnonzero(((Y < 0) | (Y > 1)).any(axis=1))
        if bad.size:
            i = int(bad[0])
            raise ValueError(f"{name} must be in [0, 1] for binary_cross_entropy (0/1 labels or probabilities); "
                             f"row {i} is {Y[i].tolist()[:10]}. For a regression, build the network with "
                             f"output='identity' (its loss is then mse)")
    return Y


def check_name(kind, name, table):
    """Return ``name`` if it is a key of ``table``, else a ValueError listing the valid names."""
    if not isinstance(name, str) or name not in table:
        raise ValueError(f"unknown {kind} {name!r}; expected one of: {', '.join(sorted(table))}")
    return name


def check_loss_output(loss, output_activation):
    """Cross-entropies need the output activation they are fused with."""
    needed = LOSS_OUTPUT[loss]
    if needed is not None and output_activation != needed:
        hint = "binary_cross_entropy" if output_activation == "sigmoid" else "mse"
        raise ValueError(
            f"loss {loss!r} needs a {needed!r} output layer, but the network's output is "
            f"{output_activation!r}; use output={needed!r} or loss={hint!r}"
        )
