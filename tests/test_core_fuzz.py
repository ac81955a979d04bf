"""Random inputs thrown at every public entry point of nn._core, as specifications:

- valid random inputs: the compiled kernel gives its NumPy twin's numbers (nn.functions, nn.optimizers,
  nn.backends.reference, plain NumPy) at rtol 1e-12 in float64, 1e-5 in float32;
- invalid random inputs (a valid call with one thing broken: an array's dtype, dimensions, contiguity,
  writability or length, or a code out of range): ValueError or TypeError, raised before anything is
  written (every array argument is left as it was), never a crash or a result.

Run this under the debug and sanitizer builds too (NN_DEBUG_BUILD=1, NN_SANITIZE=1), where an access out
of bounds is reported.
"""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nn
_core = pytest.importorskip("nn._core", reason="the compiled core is not built")  # noqa: E402
from nn.backends import reference
from nn.backends.compiled import hyper_values
from nn.functions import ACTIVATIONS, BACKPROP, LOSSES, n_correct, output_delta

RTOL = {np.float64: 1e-12, np.float32: 1e-5}
FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))

dtypes = st.sampled_from([np.float64, np.float32])
dims = st.integers(1, 6)
activations = st.sampled_from(_core.ACTIVATION_NAMES)
losses = st.sampled_from(_core.LOSS_NAMES)


def close(actual, expected, dtype, scale=1.0):
    """Finite, and within the dtype's rtol; atol for entries that cancel to about 0 (scale: the terms' size).
    Valid inputs of these sizes give finite numbers: a NaN or an infinity on both sides is a failure too."""
    assert np.isfinite(actual).all(), f"not finite: {actual}"
    np.testing.assert_allclose(actual, expected, rtol=RTOL[dtype], atol=RTOL[dtype] * scale, equal_nan=False)


@st.composite
def matrices(draw, shape, dtype, bound=10.0, zeros=0.0):
    """A random C-contiguous matrix; about a `zeros` fraction of its entries exactly 0."""
    seed = draw(st.integers(0, 2 ** 32 - 1))
    rng = np.random.default_rng(seed)
    A = rng.uniform(-bound, bound, size=shape)
    A[rng.random(shape) < zeros] = 0
    return A.astype(dtype)


# ----- valid input: the kernel equals its twin --------------------------------------------------------
@FUZZ
@given(st.data(), dtypes, dims, dims, activations, st.booleans())
def test_activate_equals_reference(data, dtype, n, k, activation, with_bias):
    Z = data.draw(matrices((n, k), dtype, bound=50))
    b = data.draw(matrices((1, k), dtype))[0] if with_bias else None
    expected = ACTIVATIONS[activation](Z + b if with_bias else Z)
    _core.activate_inplace(Z, _core.ACTIVATION_NAMES.index(activation), b)
    close(Z, expected, dtype, 1e-3)


@FUZZ
@given(st.data(), dtypes, dims, dims, activations)
def test_backprop_equals_reference(data, dtype, n, k, activation):
    A = ACTIVATIONS[activation](data.draw(matrices((n, k), dtype, bound=5))).astype(dtype)
    G = data.draw(matrices((n, k), dtype))
    expected = BACKPROP[activation](A, G)
    _core.backprop_inplace(A, G, _core.ACTIVATION_NAMES.index(activation))
    close(G, expected, dtype, 1e-2)


@FUZZ
@given(st.data(), dtypes, dims, dims, losses, activations)
def test_loss_and_delta_equal_reference(data, dtype, n, k, loss, activation):
    A = ACTIVATIONS[activation](data.draw(matrices((n, k), dtype, bound=5))).astype(dtype)
    Y = (data.draw(matrices((n, k), dtype, bound=1)) > 0).astype(dtype)  # 0/1 targets, several per row
    D = np.full_like(A, np.nan)
    value, correct = _core.loss_and_delta(_core.LOSS_NAMES.index(loss), _core.ACTIVATION_NAMES.index(activation),
                                          A, Y, D)
    expected = LOSSES[loss](Y, A)
    close(value, expected, dtype, 1e-3 if dtype == np.float64 else max(1.0, abs(expected)))  # see below
    close(D, output_delta(loss, activation, A, Y), dtype, 1e-3)
    assert correct == n_correct(activation, A, Y)


@FUZZ
@given(st.data(), dtypes, st.integers(1, 40), st.integers(1, 40), st.integers(1, 40), st.booleans(), st.booleans(),
       st.sampled_from([(1.0, 0.0), (-0.3, 1.0), (2.0, 0.5)]))
def test_matmul_equals_numpy(data, dtype, M, N, K, trans_a, trans_b, alpha_beta):
    """Sizes on both sides of the small-product loops' limit (M N K = 8192)."""
    alpha, beta = alpha_beta
    A = data.draw(matrices((K, M) if trans_a else (M, K), dtype, bound=1, zeros=0.3))
    B = data.draw(matrices((N, K) if trans_b else (K, N), dtype, bound=1))
    C = data.draw(matrices((M, N), dtype, bound=1))
    opA, opB = (A.T if trans_a else A).astype(np.float64), (B.T if trans_b else B).astype(np.float64)
    expected = alpha * (opA @ opB) + beta * C
    _core.matmul(A, B, C, trans_a, trans_b, alpha, beta)
    close(C, expected, dtype, 10 * np.sqrt(K))  # float32 sums of K terms cancel


@FUZZ
@given(st.data(), dtypes, dims, st.integers(1, 70), st.integers(1, 70), st.booleans(), st.booleans(),
       st.integers(1, 5), st.booleans())
def test_sparse_matmul_equals_numpy(data, dtype, n, k, N, trans_a, accumulate, parts, portable):
    """Widths around the kernels' 32 / 64-column chunks; rows and columns of zeros."""
    A = data.draw(matrices((n, k), dtype, bound=1, zeros=0.7))
    B = data.draw(matrices((k if not trans_a else n, N), dtype, bound=1))
    C = data.draw(matrices((k if trans_a else n, N), dtype, bound=1))
    product = (A.T if trans_a else A).astype(np.float64) @ B
    expected = C - 0.5 * product if accumulate else product
    _core.sparse_matmul(A, B, C, trans_a, -0.5, accumulate, parts, portable)
    close(C, expected, dtype, 10 * np.sqrt(max(n, k)))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_all_plus_zero_is_its_numpy_twin(dtype):
    """nn_all_plus_zero (the fused step's test of a row's state): every length up to past two of its 32-value
    chunks, all +0, and one -0, NaN, inf, subnormal or 1 at each place; its twin: no value nonzero, none
    with its sign bit set."""
    tiny = np.finfo(dtype).smallest_subnormal
    for n in range(0, 70):
        x = np.zeros(n, dtype=dtype)
        assert _core.all_plus_zero(x) is True
        for i in range(n):
            for odd in (-0.0, np.nan, np.inf, tiny, 1.0):
                x[i] = odd
                assert _core.all_plus_zero(x) == (not x.any() and not np.signbit(x).any()) == False
                x[i] = 0
    assert _core.all_plus_zero(np.zeros(100, dtype=dtype)[1:]) is True  # any alignment


OPTIMIZERS = {
    "sgd": lambda h: nn.SGD(h["lr"], weight_decay=h["wd"]),
    "momentum": lambda h: nn.Momentum(h["lr"], h["mu"], nesterov=h["nesterov"], weight_decay=h["wd"]),
    "rmsprop": lambda h: nn.RMSprop(h["lr"], h["rho"], h["eps"], weight_decay=h["wd"]),
    "adam": lambda h: nn.Adam(h["lr"], h["rho"], h["beta2"], h["eps"], weight_decay=h["wd"]),
}
optimizers = st.builds(
    lambda name, h: OPTIMIZERS[name](h), st.sampled_from(sorted(OPTIMIZERS)),
    st.fixed_dictionaries(dict(lr=st.floats(1e-4, 0.1), wd=st.sampled_from([0.0, 0.01]), mu=st.floats(0, 0.99),
                               nesterov=st.booleans(), rho=st.floats(0, 0.99), beta2=st.floats(0.5, 0.999),
                               eps=st.sampled_from([1e-8, 1e-3]))))


def state_arrays(optimizer, p):
    """The core's two state arrays for `optimizer` (empty where it keeps none)."""
    states = [np.zeros_like(p) for _ in optimizer.state_names]
    return (states + [np.zeros(0, p.dtype)] * 2)[:2]


@FUZZ
@given(st.data(), dtypes, st.integers(1, 50), optimizers, st.integers(1, 4))
def test_step_equals_reference(data, dtype, size, optimizer, steps):
    p = data.draw(matrices((1, size), dtype, bound=1))[0]
    p_ref = p.copy()
    s1, s2 = state_arrays(optimizer, p)
    code = _core.OPTIMIZER_NAMES.index(type(optimizer).__name__.lower())
    for t in range(1, steps + 1):
        g = data.draw(matrices((1, size), dtype, bound=1))[0]
        optimizer.step([p_ref], [g.copy()])
        _core.step(code, hyper_values(optimizer), t, p, g, s1, s2)
    close(p, p_ref, dtype)


@st.composite
def networks(draw, dtype):
    """A random small network (1 to 3 layers, any activations) with random weights."""
    sizes = draw(st.lists(dims, min_size=2, max_size=4))
    hidden, output = draw(activations), draw(activations)
    net = nn.Network(sizes, activation=hidden, output=output, dtype=dtype.__name__, backend="reference")
    net.theta = draw(matrices((1, net.n_params), dtype, bound=1))[0]
    return net


def core_layout(net, batch, inference=False):
    codes = [_core.ACTIVATION_NAMES.index(a) for a in net.activations]
    return _core.layout(np.array(net.sizes, dtype=np.intp), np.array(codes, dtype=np.intp), batch, inference)


@FUZZ
@given(st.data(), dtypes, dims, st.booleans())
def test_forward_equals_reference(data, dtype, n, inference):
    net = data.draw(networks(dtype))
    X = data.draw(matrices((n, net.sizes[0]), dtype, bound=2))
    lay = core_layout(net, n + data.draw(st.integers(0, 2)), inference)
    work = np.full(lay.work_size, np.nan, dtype=dtype)
    _core.forward(lay, net.theta, work, X)
    for (offset, _, cols), expected in zip(lay.output_offsets(), reference.forward(net, X)[1:]):
        close(work[offset:offset + n * cols].reshape(n, cols), expected, dtype, 10)  # X @ W + b cancels


@FUZZ
@given(st.data(), dtypes, st.integers(1, 40), st.integers(1, 8), st.integers(1, 3), st.booleans())
def test_forward_output_equals_reference(data, dtype, n, block, threads, lists):
    """Any number of rows in blocks of the layout's batch, on 1 to 3 threads, through the products or on
    the lists of nonzeros: the reference's outputs."""
    net = data.draw(networks(dtype))
    X = data.draw(matrices((n, net.sizes[0]), dtype, bound=2, zeros=0.5))
    out = np.full((n, net.sizes[-1]), np.nan, dtype=dtype)
    assert _core.forward_output(core_layout(net, block, True), net.theta, X, out, threads, lists)
    close(out, reference.forward(net, X)[-1], dtype, 10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("lists", [True, False])
def test_forward_output_is_the_same_bits_on_any_number_of_threads(dtype, lists):
    """The threads take blocks from a shared counter (which thread runs which block varies from call to
    call): every block's answer is computed alone, so any thread count gives the same bits; also with
    W_1 wide enough to be packed in slices (150 columns, 100 rows)."""
    rng = np.random.default_rng(3)
    for sizes in ([30, 12, 4], [30, 150, 4]):
        lay = _core.layout(np.array(sizes, dtype=np.intp), np.array([1, 5], dtype=np.intp), 8, True)
        theta = rng.standard_normal(lay.n_params).astype(dtype)
        X = rng.standard_normal((100, 30)).astype(dtype) * (rng.random((100, 30)) < 0.3)
        outs = []
        for threads in (1, 2, 3, 5, 1, 3):
            outs.append(np.full((100, 4), np.nan, dtype=dtype))
            assert _core.forward_output(lay, theta, X, outs[-1], threads, lists)
        for out in outs[1:]:
            np.testing.assert_array_equal(out, outs[0])


@pytest.mark.parametrize("threads", [1, 3])
def test_forward_output_refuses_inf_and_nan_in_any_block(threads):
    lay = _core.layout(np.array([3, 4, 2], dtype=np.intp), np.array([1, 5], dtype=np.intp), 4, True)
    for row in (0, 5, 9):
        for bad in (np.nan, np.inf, -np.inf):
            for lists in (True, False):  # with lists, the check reads them (every value not zero)
                X = np.zeros((10, 3))
                X[:, 0] = 1
                X[row, 1] = bad
                assert not _core.forward_output(lay, np.zeros(lay.n_params), X, np.zeros((10, 2)), threads, lists)
    with pytest.raises(ValueError, match="threads must be in"):
        _core.forward_output(lay, np.zeros(lay.n_params), np.ones((2, 3)), np.zeros((2, 2)), 0)


@FUZZ
@given(st.data(), dtypes, dims, losses)
def test_gradients_equal_reference(data, dtype, n, loss):
    net = data.draw(networks(dtype))
    X = data.draw(matrices((n, net.sizes[0]), dtype, bound=2))
    Y = (data.draw(matrices((n, net.sizes[-1]), dtype, bound=1)) > 0).astype(dtype)
    lay = core_layout(net, n)
    grad = np.full(net.n_params, np.nan, dtype=dtype)
    value = _core.gradients(lay, _core.LOSS_NAMES.index(loss), net.theta, np.zeros(lay.work_size, dtype), X, Y, grad)
    value_ref, grad_ref = reference.gradients(net, X, Y, loss)
    # The core sums a float32 loss in double, NumPy in float32: they differ by float32's rounding of the
    # sum (about 1e-5 of the loss), so float32 losses are compared to 1e-5 of max(1, the loss). A loss
    # near saturation is ill-conditioned (-log(1 - a) with a = 0.99991 moves 7e-4 when a moves one
    # float32 ulp): there the reference's own float32 error (against the same inputs in float64) counts too.
    if dtype == np.float32:
        exact = nn.Network(net.sizes, activation=net.activations[0], output=net.activations[-1], backend="reference")
        exact.theta = net.theta.astype(np.float64)
        value_exact = reference.gradients(exact, X.astype(np.float64), Y.astype(np.float64), loss)[0]
        slack = 2 * abs(value_ref - value_exact) / RTOL[dtype]
        close(value, value_ref, dtype, max(1.0, abs(value_ref), slack))
    else:
        close(value, value_ref, dtype, 1e-3)
    close(grad, grad_ref, dtype, 10)  # sums over the batch cancel


@settings(FUZZ, max_examples=40)
@given(st.data(), dims, losses, optimizers, st.integers(1, 2), st.booleans(), st.integers(1, 2))
def test_train_equals_reference(data, batch_size, loss, optimizer, threads, sparse, n_epochs):
    """Whole epochs in float64, on one or two threads, dense or sparse first layer; the reference's
    numbers to 1e-10, as the equivalence tests (rounding compounds over the steps)."""
    net = data.draw(networks(np.float64))
    X = data.draw(matrices((9, net.sizes[0]), np.float64, bound=2, zeros=0.5))
    Y = (data.draw(matrices((9, net.sizes[-1]), np.float64, bound=1)) > 0).astype(np.float64)
    orders = np.array([np.random.default_rng(e).permutation(9) for e in range(n_epochs)], dtype=np.intp)
    theta, lay = net.theta.copy(), core_layout(net, batch_size)
    s1, s2 = state_arrays(optimizer, theta)
    loss_sums, corrects = np.zeros(n_epochs), np.zeros(n_epochs, dtype=np.intp)
    scratch = _core.TrainScratch(lay, batch_size, threads, sparse)
    done = _core.train(scratch, _core.LOSS_NAMES.index(loss),
                       _core.OPTIMIZER_NAMES.index(type(optimizer).__name__.lower()), hyper_values(optimizer),
                       np.zeros(1, dtype=np.longlong), theta, s1, s2, X, Y, orders, loss_sums, corrects, np.zeros(0), 0)
    loss_ref, correct_ref = reference.train_epochs(net, X, Y, loss, optimizer, orders, batch_size)
    assert done == len(loss_ref) == n_epochs  # rates <= 0.1 on weights <= 1: nothing diverges
    assert np.isfinite(theta).all() and np.isfinite(loss_sums).all()
    np.testing.assert_allclose(theta, net.theta, rtol=1e-10, atol=1e-13, equal_nan=False)
    np.testing.assert_allclose(loss_sums, loss_ref, rtol=1e-10, atol=1e-13, equal_nan=False)
    np.testing.assert_array_equal(corrects, correct_ref)


# ----- invalid input: ValueError or TypeError, never a crash ------------------------------------------
def valid_calls():
    """{name: (function, a valid argument list, {index of a code: its largest valid value}, the (index,
    axis, change) of array dimensions that must match another argument or the layout, by changes
    (+1, -1) that break the call)}."""
    Z, b = np.ones((2, 3)), np.ones(3)
    lay = _core.layout(np.array([3, 4, 2], dtype=np.intp), np.array([1, 5], dtype=np.intp), 4)
    P, work, X, Y = lay.n_params, np.zeros(lay.work_size), np.ones((4, 3)), np.eye(2)[[0, 1, 1, 0]]
    hyper = np.array([0.1, 0, 0.9, 0, 0.9, 0.9, 0.99, 1e-8])
    order = np.array([[3, 1, 0, 2], [0, 1, 2, 3]], dtype=np.intp)
    dropout_lay = _core.layout(np.array([3, 4, 2], dtype=np.intp), np.array([1, 5], dtype=np.intp), 4, False,
                               np.array([0.0, 0.5]))
    return {
        "activate_inplace": (_core.activate_inplace, [Z, 1, b], {1: 5}, exact((2, 0))),
        "backprop_inplace": (_core.backprop_inplace, [Z, np.ones((2, 3)), 1], {2: 5},
                             exact((0, 0), (0, 1), (1, 0), (1, 1))),
        "loss_and_delta": (_core.loss_and_delta, [2, 5, Z, np.ones((2, 3)), np.ones((2, 3))], {0: 2, 1: 5},
                           exact((2, 0), (2, 1), (3, 0), (3, 1), (4, 0), (4, 1))),
        "matmul": (_core.matmul, [Z, np.ones((3, 4)), np.ones((2, 4))], {},
                   exact((0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1))),
        "sparse_matmul": (_core.sparse_matmul, [Z, np.ones((3, 4)), np.ones((2, 4))], {},
                          exact((0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1))),
        "step": (_core.step, [3, hyper, 1, np.ones(5), np.ones(5), np.zeros(5), np.zeros(5)],
                 {0: len(_core.OPTIMIZER_NAMES) - 1},
                 exact((1, 0), (4, 0), (5, 0), (6, 0))),
        "forward": (_core.forward, [lay, np.zeros(P), work, X], {},
                    exact((1, 0), (3, 1)) + [(2, 0, -1), (3, 0, +1)]),  # work may be longer, X have fewer rows
        "forward_output": (_core.forward_output, [lay, np.zeros(P), X, np.zeros((4, 2))], {},
                           exact((1, 0), (2, 1), (3, 0), (3, 1)) + [(2, 0, +1)]),  # out's rows are X's
        "gradients": (_core.gradients, [lay, 2, np.zeros(P), work, X, Y, np.zeros(P)], {1: 2},
                      exact((2, 0), (4, 0), (4, 1), (5, 0), (5, 1), (6, 0)) + [(3, 0, -1)]),
        "train": (_core.train, [_core.TrainScratch(lay, 2, 2, True), 2, 3, hyper, np.zeros(1, dtype=np.longlong),
                                np.zeros(P), np.zeros(P), np.zeros(P), X, Y, order, np.zeros(2),
                                np.zeros(2, dtype=np.intp), np.zeros(3 * P), 0], {1: 2, 2: 3},
                  exact((3, 0), (4, 0), (5, 0), (6, 0), (7, 0), (8, 1), (9, 0), (9, 1), (13, 0))
                  + [(11, 0, -1), (12, 0, -1)]),  # the epochs' figures may be longer
        # Training with a schedule's rates, clipping and dropout (on the hidden layer's input).
        "train_features": (_core.train, [_core.TrainScratch(dropout_lay, 2, 2, True), 2, 3, hyper,
                                         np.zeros(1, dtype=np.longlong), np.zeros(P), np.zeros(P), np.zeros(P), X, Y,
                                         order, np.zeros(2), np.zeros(2, dtype=np.intp), np.zeros(3 * P), 0, None,
                                         np.array([0.1, 0.05]), 0.5, np.array([7, 8], dtype=np.uint64)], {1: 2, 2: 3},
                           exact((3, 0), (4, 0), (5, 0), (6, 0), (7, 0), (8, 1), (9, 0), (9, 1), (13, 0))
                           + [(11, 0, -1), (12, 0, -1), (16, 0, -1), (18, 0, -1)]),  # rates, keys may be longer
        "squares": (_core.squares, [np.ones(5)], {}, []),
        "all_plus_zero": (_core.all_plus_zero, [np.zeros(5)], {}, []),
        "dropout_rows": (_core.dropout_rows, [np.ones((2, 3)), np.array([0, 4], dtype=np.intp), 7, 0, 3, 0.5,
                                              np.ones((2, 3))], {}, exact((1, 0), (6, 0), (6, 1))),
    }


# The arguments each function only reads: any of them may be a read-only array (a memory map, joblib's
# shared arrays); the others are written and must be writable.
READ_ONLY = {"activate_inplace": {2}, "backprop_inplace": {0}, "loss_and_delta": {2, 3}, "matmul": {0, 1},
             "sparse_matmul": {0, 1}, "step": {1}, "forward": {1, 3}, "forward_output": {1, 2}, "gradients": {2, 4, 5},
             "train": {3, 8, 9, 10}, "train_features": {3, 8, 9, 10, 16, 18}, "squares": {0}, "all_plus_zero": {0},
             "dropout_rows": {1}}


def exact(*dimensions):
    """Dimensions that break the call one longer or shorter."""
    return [(i, axis, change) for i, axis in dimensions for change in (-1, +1)]


def arrays_of(args):
    return [i for i, a in enumerate(args) if isinstance(a, np.ndarray)]


def wrong_dtype(a):
    return a.astype(np.int64 if a.dtype.kind == "f" else np.float64)


def wrong_dimensions(a):
    return a.reshape(a.shape + (1,))


def not_contiguous(a):
    wide = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), dtype=a.dtype)
    return wide[..., ::2]


def read_only(a):
    a = a.copy()
    a.flags.writeable = False
    return a


BREAK_AN_ARRAY = [wrong_dtype, wrong_dimensions, not_contiguous, read_only]


def breakable(name, args):
    """The (index, way to break) pairs that make a call invalid: not a one-entry array (contiguous however
    it is cut), nor a read-only copy of an input the function only reads (see
    test_read_only_inputs_are_read_in_place)."""
    return [(i, breaking) for i in arrays_of(args) if args[i].size > 1 for breaking in BREAK_AN_ARRAY
            if not (breaking is read_only and i in READ_ONLY[name])]


def assert_refused(function, args, errors=(ValueError, TypeError), match=None):
    """function(*args) raises one of ``errors`` before writing anything: every array argument holds what
    it held before the call."""
    before = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    with pytest.raises(errors, match=match):
        function(*args)
    for i, (now, was) in enumerate(zip(args, before)):
        if isinstance(now, np.ndarray):
            np.testing.assert_array_equal(now, was, err_msg=f"argument {i} was written before the call was refused")


@pytest.mark.parametrize("name", sorted(valid_calls()))
def test_the_valid_calls_are_valid(name):
    """The calls the refusal tests break are themselves valid: they return finite numbers, leave what
    they only read as it was and write only finite values."""
    function, args, _, _ = valid_calls()[name]
    before = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    result = function(*args)
    assert result is None or np.isfinite(np.array(result, dtype=float)).all()
    for i, (now, was) in enumerate(zip(args, before)):
        if i in READ_ONLY[name]:
            np.testing.assert_array_equal(now, was, err_msg=f"{name} wrote argument {i}, which it only reads")
        elif isinstance(now, np.ndarray):
            assert np.isfinite(now).all(), f"{name} wrote a value that is not finite into argument {i}"


@FUZZ
@given(st.data(), st.sampled_from(sorted(valid_calls())))
def test_a_broken_array_is_refused(data, name):
    function, args, _, _ = valid_calls()[name]
    i, breaking = data.draw(st.sampled_from(breakable(name, args)))
    args[i] = breaking(args[i])
    assert_refused(function, args)


@pytest.mark.parametrize("name", sorted(valid_calls()))
def test_read_only_inputs_are_read_in_place(name):
    """Every argument the core only reads may be read-only, and gives what a writable one gives."""
    function, args, _, _ = valid_calls()[name]
    _, writable_args, _, _ = valid_calls()[name]
    for i in READ_ONLY[name]:
        args[i] = read_only(args[i])
    function(*args)
    function(*writable_args)
    for got, expected in zip(args, writable_args):
        if isinstance(got, np.ndarray):
            np.testing.assert_array_equal(got, expected)
    assert all(isinstance(args[i], np.ndarray) for i in READ_ONLY[name])


@FUZZ
@given(st.data(), st.sampled_from(sorted(name for name, c in valid_calls().items() if c[3])))
def test_a_mismatched_length_is_refused(data, name):
    """One dimension of an array one longer or shorter than the others (or the layout) need."""
    function, args, _, matched = valid_calls()[name]
    i, axis, change = data.draw(st.sampled_from(matched))
    shape = list(args[i].shape)
    shape[axis] += change
    args[i] = np.ones(shape, dtype=args[i].dtype)
    assert_refused(function, args)


@FUZZ
@given(st.data(), st.sampled_from([name for name, c in valid_calls().items() if c[2]]), st.integers(1, 1000))
def test_a_code_out_of_range_is_refused(data, name, distance):
    function, args, codes, _ = valid_calls()[name]
    i = data.draw(st.sampled_from(sorted(codes)))
    args[i] = data.draw(st.sampled_from([-distance, codes[i] + distance]))
    assert_refused(function, args, ValueError, match="code")
