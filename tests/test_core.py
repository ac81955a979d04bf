"""Each kernel of nn._core against its NumPy twin (nn.functions, nn.optimizers), over dtypes and shapes.

rtol 1e-12 in float64 and 1e-5 in float32, as scikit-learn's Cython tests.
"""
import numpy as np
import pytest

import nn
_core = pytest.importorskip("nn._core", reason="the compiled core is not built")  # noqa: E402
from nn.functions import ACTIVATIONS, BACKPROP, LOSSES, n_correct, output_delta

DTYPES = [np.float64, np.float32]
RTOL = {np.float64: 1e-12, np.float32: 1e-5}
SHAPES = [(1, 1), (1, 7), (5, 1), (13, 10), (64, 33)]


def close(actual, expected, dtype, atol_scale=1e-3):
    np.testing.assert_allclose(actual, expected, rtol=RTOL[dtype], atol=RTOL[dtype] * atol_scale)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", _core.ACTIVATION_NAMES)
def test_bias_activate_matches_reference(name, shape, dtype, rng):
    Z = (rng.normal(size=shape) * 5).astype(dtype)
    b = rng.normal(size=shape[1]).astype(dtype)
    if Z.size > 1:
        Z.flat[0] = 900  # a large input must not overflow
    expected = ACTIVATIONS[name](Z + b)
    _core.activate_inplace(Z, _core.ACTIVATION_NAMES.index(name), b)
    assert Z.dtype == dtype
    close(Z, expected, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", _core.ACTIVATION_NAMES)
def test_backprop_matches_reference(name, shape, dtype, rng):
    A = ACTIVATIONS[name](rng.normal(size=shape)).astype(dtype)
    G = rng.normal(size=shape).astype(dtype)
    expected = BACKPROP[name](A, G)
    _core.backprop_inplace(A, G, _core.ACTIVATION_NAMES.index(name))
    close(G, expected, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("loss, activation", [("mse", "identity"), ("mse", "sigmoid"), ("mse", "tanh"),
                                              ("mse", "softmax"), ("binary_cross_entropy", "sigmoid"),
                                              ("cross_entropy", "softmax")])
def test_loss_delta_and_correct_match_reference(loss, activation, shape, dtype, rng):
    A = ACTIVATIONS[activation](rng.normal(size=shape) * 3).astype(dtype)
    if activation == "softmax":
        Y = np.eye(shape[1], dtype=dtype)[rng.integers(0, shape[1], size=shape[0])]
    else:
        Y = rng.integers(0, 2, size=shape).astype(dtype)
    if shape[0] > 1:
        A[0, 0] = 0  # a clipped log
    D = np.empty_like(A)
    value, correct = _core.loss_and_delta(_core.LOSS_NAMES.index(loss), _core.ACTIVATION_NAMES.index(activation),
                                          A, Y, D)
    np.testing.assert_allclose(value, LOSSES[loss](Y, A), rtol=RTOL[dtype])
    close(D, output_delta(loss, activation, A, Y), dtype)
    assert correct == n_correct(activation, A, Y)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss, activation", [("mse", "identity"), ("binary_cross_entropy", "sigmoid"),
                                              ("cross_entropy", "softmax")])
def test_loss_of_a_nan_output_is_nan(loss, activation, dtype, rng):
    """A diverged output must show in the loss: the clipped log keeps NaN (as the reference's
    np.maximum), wherever the NaN is, also where the target is 0."""
    A = ACTIVATIONS[activation](rng.normal(size=(3, 4))).astype(dtype)
    Y = np.eye(4, dtype=dtype)[[0, 2, 3]]
    for i, j in np.ndindex(A.shape):
        A_nan = A.copy()
        A_nan[i, j] = np.nan
        value, _ = _core.loss_and_delta(_core.LOSS_NAMES.index(loss), _core.ACTIVATION_NAMES.index(activation),
                                        A_nan, Y, np.empty_like(A))
        assert np.isnan(value), (i, j)
        assert np.isnan(LOSSES[loss](Y, A_nan))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("M, N, K", [(1, 1, 1), (1, 128, 784), (3, 5, 7), (32, 128, 784), (33, 17, 65), (200, 64, 9)])
@pytest.mark.parametrize("trans_a, trans_b", [(False, False), (True, False), (False, True), (True, True)])
@pytest.mark.parametrize("alpha, beta", [(1.0, 0.0), (-0.1, 1.0), (0.5, 2.0)])
def test_matmul_matches_numpy(M, N, K, trans_a, trans_b, alpha, beta, dtype, rng):
    A = rng.normal(size=(K, M) if trans_a else (M, K)).astype(dtype)
    A[A < -1] = 0  # the loops skip zeros
    B = rng.normal(size=(N, K) if trans_b else (K, N)).astype(dtype)
    C = rng.normal(size=(M, N)).astype(dtype)
    opA, opB = (A.T if trans_a else A), (B.T if trans_b else B)
    expected = alpha * (opA.astype(np.float64) @ opB.astype(np.float64)) + beta * C
    _core.matmul(A, B, C, trans_a, trans_b, alpha, beta)
    np.testing.assert_allclose(C, expected, rtol=RTOL[dtype] * 10, atol=RTOL[dtype] * 10 * np.sqrt(K))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n, k, N", [(1, 1, 1), (1, 784, 128), (3, 5, 7), (32, 784, 128), (33, 17, 65),
                                     (9, 40, 96), (6, 11, 31), (200, 64, 9)])
@pytest.mark.parametrize("portable", [False, True])
def test_sparse_matmul_matches_numpy(n, k, N, portable, dtype, rng):
    """The first layer's sparse kernels (AVX2 / FMA, or their portable twins): A @ B with A's rows as
    lists of nonzeros, and W += alpha A^T delta with A's columns cut into parts as a team's threads
    cut them. Column counts around the 32 / 64-wide register chunks."""
    A = rng.normal(size=(n, k)).astype(dtype)
    A[rng.random((n, k)) < 0.75] = 0
    if n > 2:
        A[1] = 0  # a sample of zeros
        A[:, k // 2] = 0  # a column nobody uses
    B = rng.normal(size=(k, N)).astype(dtype)
    C = np.full((n, N), np.nan, dtype=dtype)
    A64 = A.astype(np.float64)

    def close_to(actual, expected, inner):  # float32 sums cancel: compare with the float64 product
        np.testing.assert_allclose(actual, expected, rtol=RTOL[dtype] * 10, atol=RTOL[dtype] * 10 * np.sqrt(inner))

    _core.sparse_matmul(A, B, C, portable=portable)
    close_to(C, A64 @ B, k)
    D = rng.normal(size=(n, N)).astype(dtype)
    for parts in (1, 2, 3, 5):
        W = rng.normal(size=(k, N)).astype(dtype)
        expected = W - 0.1 * (A64.T @ D)
        _core.sparse_matmul(A, D, W, trans_a=True, alpha=-0.1, accumulate=True, parts=parts, portable=portable)
        close_to(W, expected, n)
        G = np.full((k, N), np.nan, dtype=dtype)
        _core.sparse_matmul(A, D, G, trans_a=True, parts=parts, portable=portable)
        close_to(G, A64.T @ D, n)


def test_sparse_matmul_rejects_bad_shapes():
    A, B = np.zeros((3, 4)), np.zeros((4, 5))
    with pytest.raises(ValueError, match="shapes do not match"):
        _core.sparse_matmul(A, B, np.zeros((3, 4)))
    with pytest.raises(ValueError, match="shapes do not match"):
        _core.sparse_matmul(A, B, np.zeros((4, 5)), trans_a=True)
    for parts in (0, 65):  # at most a team of MAX_THREADS
        with pytest.raises(ValueError, match="parts must be in 1..64"):
            _core.sparse_matmul(A, np.zeros((3, 5)), np.zeros((4, 5)), trans_a=True, parts=parts)
    with pytest.raises(ValueError):
        _core.sparse_matmul(A, B.astype(np.float32), np.zeros((3, 5)))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size", [1, 7, 1000])
@pytest.mark.parametrize("make_optimizer", [
    lambda: nn.SGD(0.1), lambda: nn.SGD(0.1, weight_decay=0.01), lambda: nn.Momentum(0.1, 0.9),
    lambda: nn.Momentum(0.05, 0.8, nesterov=True, weight_decay=0.1), lambda: nn.RMSprop(0.01), lambda: nn.Adam(0.01),
    lambda: nn.Adam(0.02, 0.8, 0.99, 1e-6, weight_decay=0.01)], ids=lambda make: repr(make()))
def test_optimizer_step_matches_reference(make_optimizer, size, dtype, rng):
    optimizer = make_optimizer()  # a fresh one per case: no state carried over from another case
    p = rng.normal(size=size).astype(dtype)
    p_ref = p.copy()
    hyper = np.array([float(getattr(optimizer, n, 0.0)) for n in _core.HYPER_NAMES])
    states = [np.zeros_like(p) for _ in optimizer.state_names] + [np.empty(0, dtype), np.empty(0, dtype)]
    code = _core.OPTIMIZER_NAMES.index({cls: name for name, cls in nn.optimizers.OPTIMIZERS.items()}[type(optimizer)])
    for t in range(1, 4):
        g = rng.normal(size=size).astype(dtype)
        optimizer.step([p_ref], [g.copy()])
        _core.step(code, hyper, t, p, g, states[0], states[1])
        # The same operations on the same dtype's roundings as NumPy's (constants rounded to the dtype
        # first): equal to the last bit, in float32 too.
        np.testing.assert_array_equal(p, p_ref)
    for name, state in zip(optimizer.state_names, states):
        np.testing.assert_array_equal(state, optimizer.state[name][0])


def sgd_hyper(learning_rate):
    return np.array([learning_rate if name == "learning_rate" else 0.0 for name in _core.HYPER_NAMES])


def core_train(lay, X, Y, batch_size=None, threads=1, sparse=False, **changes):
    """_core.train's arguments for plain SGD (rate 0.1) with cross-entropy, one epoch of X's rows in
    order, full batches (or batch_size), one thread, zero weights; any argument replaced by name in
    `changes`, the scratch made from batch_size, threads and sparse unless given. Returns (epochs done,
    the arguments, whose arrays train has updated)."""
    P, empty = lay.n_params, np.zeros(0, X.dtype)
    args = dict(loss=2, optimizer=0, hyper=sgd_hyper(0.1), steps=np.zeros(1, dtype=np.longlong),
                theta=np.zeros(P, X.dtype), state1=empty, state2=empty, X=X, Y=Y,
                order=np.arange(len(X), dtype=np.intp)[None], epoch_loss=np.zeros(1),
                epoch_correct=np.zeros(1, dtype=np.intp), snapshot=empty, check_every=0)
    args.update(changes)
    if "scratch" not in args:
        args["scratch"] = _core.TrainScratch(lay, batch_size or len(X), threads, sparse, X.dtype.name)
    return _core.train(**args), args


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("threads", [1, 2])
def test_train_stops_when_the_last_update_overflows_theta(threads, dtype, rng):
    """The loss of a batch comes before its update: an epoch whose last update overflows theta has a
    finite loss. It must still count as diverged: reported as NaN, training stops after it, and the
    snapshot holds the epoch's start."""
    lay = _core.layout(np.array([3, 4, 1], dtype=np.intp), np.array([2, 0], dtype=np.intp), 8)
    X = (rng.normal(size=(8, 3)) * 10).astype(dtype)
    Y = np.full((8, 1), 100, dtype=dtype)
    theta = rng.normal(size=lay.n_params).astype(dtype)
    start = theta.copy()
    done, args = core_train(lay, X, Y, loss=0, hyper=sgd_hyper(1e308), theta=theta, threads=threads,
                            order=np.tile(np.arange(8, dtype=np.intp), (3, 1)), epoch_loss=np.zeros(3),
                            epoch_correct=np.zeros(3, dtype=np.intp), snapshot=np.zeros(lay.n_params, dtype))
    assert not np.isfinite(theta).all()  # the one batch's update overflowed
    assert done == 1
    assert np.isnan(args["epoch_loss"][0])
    np.testing.assert_array_equal(args["epoch_loss"][1:], 0)  # the later epochs never ran
    np.testing.assert_array_equal(args["snapshot"], start)


# ----- bad input never reaches a kernel ---------------------------------------------------------------
def test_kernels_reject_bad_codes_and_arrays():
    Z = np.zeros((2, 2))
    with pytest.raises(ValueError, match="activation code"):
        _core.activate_inplace(Z, 6)
    with pytest.raises(ValueError):
        _core.activate_inplace(np.zeros((4, 4))[:, ::2], 1)  # not C-contiguous
    with pytest.raises((ValueError, TypeError)):
        _core.activate_inplace(np.zeros((2, 2), dtype=np.int64), 1)
    with pytest.raises((ValueError, TypeError)):
        _core.activate_inplace(np.zeros(4), 1)
    with pytest.raises(ValueError, match="bias has 3 entries"):
        _core.activate_inplace(Z, 1, np.zeros(3))
    read_only = np.zeros((2, 2))
    read_only.flags.writeable = False
    with pytest.raises(ValueError):
        _core.activate_inplace(read_only, 1)
    with pytest.raises(ValueError, match="shapes do not match"):
        _core.matmul(np.zeros((2, 3)), np.zeros((2, 3)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="same shape"):
        _core.backprop_inplace(np.zeros((2, 3)), np.zeros((3, 2)), 1)
    with pytest.raises(ValueError, match="loss code"):
        _core.loss_and_delta(7, 1, Z, Z, Z)
    with pytest.raises(ValueError, match="t must be >= 1"):
        _core.step(0, np.zeros(8), 0, np.zeros(2), np.zeros(2), np.zeros(0), np.zeros(0))
    with pytest.raises(ValueError, match="state arrays"):
        _core.step(3, np.zeros(8), 1, np.zeros(2), np.zeros(2), np.zeros(1), np.zeros(2))
    with pytest.raises((TypeError, ValueError)):
        _core.matmul(np.zeros((2, 2)), np.zeros((2, 2), dtype=np.float32), np.zeros((2, 2)))  # mixed dtypes
    with pytest.raises(ValueError, match="activation code"):
        _core.backprop_inplace(Z, Z, -1)
    with pytest.raises(ValueError, match="activation code"):
        _core.loss_and_delta(0, 6, Z, Z, Z)
    with pytest.raises(ValueError, match="same shape"):
        _core.loss_and_delta(0, 0, Z, Z, np.zeros((2, 3)))
    with pytest.raises(ValueError, match="A is empty"):
        _core.loss_and_delta(0, 0, np.zeros((0, 2)), np.zeros((0, 2)), np.zeros((0, 2)))
    with pytest.raises(ValueError, match="inner dimension is 0"):
        _core.matmul(np.zeros((2, 0)), np.zeros((0, 2)), Z)
    with pytest.raises(ValueError, match="optimizer code"):
        _core.step(4, np.zeros(8), 1, np.zeros(2), np.zeros(2), np.zeros(2), np.zeros(2))
    with pytest.raises(ValueError, match="hyper must hold 8 values"):
        _core.step(0, np.zeros(7), 1, np.zeros(2), np.zeros(2), np.zeros(0), np.zeros(0))
    with pytest.raises(ValueError, match="same length"):
        _core.step(0, np.zeros(8), 1, np.zeros(2), np.zeros(3), np.zeros(0), np.zeros(0))
    _core.activate_inplace(np.zeros((0, 3)), 1)  # empty: nothing to do, no crash


@pytest.mark.parametrize("trans_a, trans_b", [(False, False), (True, False), (False, True), (True, True)])
def test_matmul_refuses_dimensions_over_int_max(trans_a, trans_b):
    """BLAS takes int sizes: a larger one would be cut, and the product silently wrong. Empty arrays
    (no memory) with a huge dimension show the check."""
    huge = 2 ** 31
    A = np.empty((huge, 0) if trans_a else (0, huge))
    B = np.empty((0, huge) if trans_b else (huge, 0))
    with pytest.raises(ValueError, match="dimensions must be at most 2147483647"):
        _core.matmul(A, B, np.empty((0, 0)), trans_a, trans_b)


INT_MAX = 2 ** 31 - 1


def layout(sizes, batch=8, inference=False, acts=None):
    acts = [0] * (len(sizes) - 1) if acts is None else acts
    return _core.layout(np.array(sizes, dtype=np.intp), np.array(acts, dtype=np.intp), batch, inference)


@pytest.mark.parametrize("sizes, batch, inference, match", [
    ([3, 4], 8, False, None),  # the working case: the others must fail for the reason named
    ([3, 0], 8, False, "layer sizes must be in 1..2147483647"),
    ([2 ** 31, 1], 1, False, "layer sizes must be in 1..2147483647"),  # an int dimension of the products
    ([2 ** 62, 2 ** 62], 1, False, "layer sizes must be in 1..2147483647"),
    ([3, 4], 0, False, "batch must be in 1..2147483647"),
    ([3, 4], 2 ** 31, True, "batch must be in 1..2147483647"),
    ([INT_MAX] * 4, 1, True, "too large: the parameters"),  # each W fits, not their sum
    ([INT_MAX, 2, INT_MAX], INT_MAX, False, "too large: the scratch"),  # each layer's outputs fit, not all
])
def test_layout_refuses_sizes_that_overflow(sizes, batch, inference, match):
    """Offsets and scratch sizes are Py_ssize_t sums of products: an overflow would wrap to a small or
    negative size that a short buffer passes. No memory is needed to ask for such a layout."""
    if match is None:
        assert layout(sizes, batch, inference).n_params == 3 * 4 + 4
        return
    with pytest.raises(ValueError, match=match):
        layout(sizes, batch, inference)


def test_layout_keeps_its_own_copy_of_sizes(rng):
    """Changing the arrays a layout was made from changes nothing: its offsets and checks agree."""
    sizes, acts = np.array([3, 4, 2], dtype=np.intp), np.array([1, 5], dtype=np.intp)
    lay = _core.layout(sizes, acts, 8)
    sizes[:], acts[:] = 1000, 0
    theta, X = rng.normal(size=lay.n_params), rng.normal(size=(5, 3))
    work = np.zeros(lay.work_size)
    _core.forward(lay, theta, work, X)
    offset, _, cols = lay.output_offsets()[-1]
    assert cols == 2
    hidden = ACTIVATIONS["sigmoid"](X @ theta[:12].reshape(3, 4) + theta[12:16])
    expected = ACTIVATIONS["softmax"](hidden @ theta[16:24].reshape(4, 2) + theta[24:])
    close(work[offset:offset + 10].reshape(5, 2), expected, np.float64)


def new_layout():
    return _core._Layout.__new__(_core._Layout)


def failed_layout():
    lay = _core._Layout.__new__(_core._Layout)
    with pytest.raises(ValueError, match="too large"):
        lay.__init__(np.array([INT_MAX] * 4, dtype=np.intp), np.zeros(3, dtype=np.intp), 1)
    return lay  # its initialisation stopped half-way


@pytest.mark.parametrize("make", [new_layout, failed_layout])
def test_an_uninitialised_layout_is_refused(make):
    """A layout not made by layout() holds no arrays: every entry point refuses it rather than follow
    its NULL pointers."""
    lay, X, Y = make(), np.zeros((1, 1)), np.zeros((1, 1))
    for call in [lambda: lay.output_offsets(), lambda: _core.forward(lay, np.zeros(0), np.zeros(0), X),
                 lambda: _core.gradients(lay, 0, np.zeros(0), np.zeros(0), X, Y, np.zeros(0)),
                 lambda: core_train(lay, X, Y)]:
        with pytest.raises(ValueError, match="not initialised"):
            call()
    assert lay.n_params == 0 and lay.work_size == 0


def test_a_layout_is_initialised_once():
    """A layout never changes once made (a train call may be using it without the GIL)."""
    lay = layout([3, 4])
    with pytest.raises(ValueError, match="already initialised"):
        lay.__init__(np.array([300, 400], dtype=np.intp), np.zeros(1, dtype=np.intp), 8)
    assert lay.n_params == 3 * 4 + 4


def test_forward_and_gradients_refuse_bad_input():
    lay = layout([3, 4, 2], acts=[1, 5])
    P, work, X, Y = lay.n_params, np.zeros(lay.work_size), np.zeros((8, 3)), np.zeros((8, 2))
    _core.forward(lay, np.zeros(P), work, X)  # the unchanged calls work
    _core.gradients(lay, 2, np.zeros(P), work, X, Y, np.zeros(P))
    for theta, work_, X_, match in [(np.zeros(P - 1), work, X, "theta has"), (np.zeros(P), work[:-1], X, "work has"),
                                    (np.zeros(P), work, np.zeros((9, 3)), "X has 9 rows, the layout holds 8"),
                                    (np.zeros(P), work, np.zeros((0, 3)), "X has no rows"),
                                    (np.zeros(P), work, np.zeros((8, 2)), "X has 2 columns")]:
        with pytest.raises(ValueError, match=match):
            _core.forward(lay, theta, work_, X_)
        with pytest.raises(ValueError, match=match):
            _core.gradients(lay, 2, theta, work_, X_, np.zeros((len(X_), 2)), np.zeros(P))
    for loss, Y_, grad, match in [(3, Y, np.zeros(P), "loss code"), (2, Y[:7], np.zeros(P), "Y has shape"),
                                  (2, np.zeros((8, 3)), np.zeros(P), "Y has shape"), (2, Y, np.zeros(3), "grad has")]:
        with pytest.raises(ValueError, match=match):
            _core.gradients(lay, loss, np.zeros(P), work, X, Y_, grad)
    with pytest.raises((ValueError, TypeError)):
        _core.forward(lay, np.zeros(P, dtype=np.float32), work, X)  # mixed dtypes


# The layout of the training calls below: 3 inputs, 2 classes, batches of up to 8.
TRAIN_SIZES, TRAIN_ACTS, TRAIN_P = [3, 4, 2], [1, 5], 3 * 4 + 4 + 4 * 2 + 2


def bad_train_input():
    """(changes to core_train's arguments, the error they must raise), one thing wrong each."""
    zeros, P = np.zeros, TRAIN_P
    read_only = zeros(P)
    read_only.flags.writeable = False
    return [
        (dict(theta=zeros(P - 1)), "theta has"),
        (dict(X=zeros((10, 4))), "X has 4 columns"), (dict(Y=zeros((9, 2))), "Y has shape"),
        (dict(order=np.array([[0, 10]], dtype=np.intp)), "outside 0..9"),
        (dict(order=np.array([[-1]], dtype=np.intp)), "outside"),
        (dict(order=np.arange(10, dtype=np.intp)), "dimensions"),  # epochs are rows: (n_epochs, m)
        (dict(batch_size=9), "batch_size must be in 1..8"), (dict(batch_size=0), "batch_size"),
        (dict(snapshot=zeros(3)), "snapshot"), (dict(epoch_loss=zeros(0)), "epoch_loss"),
        (dict(epoch_correct=zeros(0, dtype=np.intp)), "epoch_correct"),
        (dict(loss=3), "loss code"), (dict(optimizer=-1), "optimizer code"),
        (dict(optimizer=1), "momentum needs 1 state arrays"),  # SGD's empty state arrays
        (dict(optimizer=3, state1=zeros(P)), "adam needs 2 state arrays"),
        (dict(hyper=zeros(7)), "hyper must hold 8"), (dict(hyper=sgd_hyper(0.0)), "learning_rate must be > 0"),
        (dict(hyper=sgd_hyper(np.nan)), "learning_rate must be > 0"),
        (dict(steps=zeros(2, dtype=np.longlong)), "steps must hold one value"),
        (dict(steps=np.array([-1], dtype=np.longlong)), "steps must hold the steps taken"),
        (dict(steps=np.array([2 ** 63 - 2], dtype=np.longlong)), "too large: the steps"),
        (dict(check_every=-1), "check_every must be >= 0"),
        (dict(threads=0), "threads must be in 1..64"), (dict(threads=65), "threads must be in 1..64"),
        (dict(theta=zeros(2 * P)[::2]), "contiguous"), (dict(theta=read_only), "read-only"),
        (dict(theta=zeros(P, dtype=np.float32)), None),  # mixed dtypes
        (dict(scratch=None), "scratch"), (dict(scratch=_core.TrainScratch.__new__(_core.TrainScratch)), "not initialised"),
    ]


@pytest.mark.parametrize("changes, match", bad_train_input(),
                         ids=[f"{','.join(changes)}: {match}" for changes, match in bad_train_input()])
def test_train_refuses_bad_input(changes, match):
    lay = layout(TRAIN_SIZES, acts=TRAIN_ACTS)
    X, Y = np.zeros((10, 3)), np.eye(2)[np.zeros(10, dtype=int)]
    assert core_train(lay, X, Y, batch_size=4)[0] == 1  # the unchanged call works
    with pytest.raises((ValueError, TypeError), match=match):
        core_train(lay, **{"X": X, "Y": Y, "batch_size": 4, **changes})


def test_layout_checks_everything_train_relies_on():
    sizes, acts = np.array(TRAIN_SIZES, dtype=np.intp), np.array(TRAIN_ACTS, dtype=np.intp)
    lay = _core.layout(sizes, acts, 8)
    assert lay.n_params == TRAIN_P
    P, work = lay.n_params, np.zeros(lay.work_size)
    X, Y = np.zeros((10, 3)), np.eye(2)[np.zeros(10, dtype=int)]
    with pytest.raises(ValueError, match="sizes must have one more entry"):
        _core.layout(np.array([3, 4], dtype=np.intp), acts, 8)
    with pytest.raises(ValueError, match="activation codes"):
        _core.layout(sizes, np.array([1, 9], dtype=np.intp), 8)
    with pytest.raises(ValueError, match="inference layout"):
        _core.gradients(_core.layout(sizes, acts, 8, True), 2, np.zeros(P), work, X[:8], Y[:8], np.zeros(P))
    with pytest.raises(ValueError, match="inference layout"):
        core_train(_core.layout(sizes, acts, 8, True), X, Y, batch_size=4)


@pytest.mark.parametrize("args, match", [
    (dict(batch_size=9), "batch_size must be in 1..8"), (dict(batch_size=0), "batch_size"),
    (dict(threads=0), "threads must be in 1..64"), (dict(threads=65), "threads must be in 1..64"),
    (dict(dtype="float16"), "dtype must be"), (dict(lay=None), "lay"),
])
def test_train_scratch_refuses_bad_settings(args, match):
    lay = layout(TRAIN_SIZES, acts=TRAIN_ACTS)
    settings = {"lay": lay, "batch_size": 4, "threads": 1, "sparse": False, "dtype": "float64"}
    assert _core.TrainScratch(**settings).batch_size == 4  # the unchanged settings work
    with pytest.raises((ValueError, TypeError), match=match):
        _core.TrainScratch(**{**settings, **args})


def test_train_scratch_is_made_once_and_reused():
    """A scratch serves any number of calls (their results as with a fresh one each time); it cannot be
    initialised twice, and holds the team's size at most the batch."""
    lay = layout(TRAIN_SIZES, acts=TRAIN_ACTS)
    X, Y = np.random.default_rng(1).normal(size=(10, 3)), np.eye(2)[np.arange(10) % 2]
    scratch = _core.TrainScratch(lay, 4, 8, True)
    assert scratch.threads == 4 and "threads=4" in repr(scratch)
    with pytest.raises(ValueError, match="already initialised"):
        scratch.__init__(lay, 4)
    theta = np.random.default_rng(2).normal(size=lay.n_params)
    shared, fresh = theta.copy(), theta.copy()
    for _ in range(3):
        core_train(lay, X, Y, scratch=scratch, theta=shared)
        core_train(lay, X, Y, batch_size=4, threads=4, sparse=True, theta=fresh)
    np.testing.assert_array_equal(shared, fresh)
    X32, Y32 = X.astype(np.float32), Y.astype(np.float32)
    with pytest.raises(ValueError, match="theta is float32, the scratch float64"):
        core_train(lay, X32, Y32, scratch=scratch, theta=theta.astype(np.float32))


@pytest.mark.parametrize("change, match", [
    ({"rates": np.array([0.1, np.nan])}, "rates must be finite and >= 0, got nan for epoch 1"),
    ({"rates": np.array([0.1, -1.0])}, "rates must be finite and >= 0"),
    ({"rates": np.array([0.1])}, "rates must hold a rate for each of the 2 epochs"),
    ({"clip_norm": -1.0}, "clip_norm must be finite and >= 0"),
    ({"clip_norm": np.inf}, "clip_norm must be finite and >= 0"),
])
def test_train_refuses_bad_rates_and_clip_norms(change, match, rng):
    lay = layout(TRAIN_SIZES, acts=TRAIN_ACTS)
    X = rng.normal(size=(8, TRAIN_SIZES[0]))
    Y = np.eye(TRAIN_SIZES[-1])[rng.integers(0, TRAIN_SIZES[-1], size=8)]
    theta = np.zeros(lay.n_params)
    order = np.tile(np.arange(8, dtype=np.intp), (2, 1))
    with pytest.raises(ValueError, match=match):
        _core.train(_core.TrainScratch(lay, 4), 2, 0, sgd_hyper(0.1), np.zeros(1, dtype=np.longlong), theta,
                    np.empty(0), np.empty(0), X, Y, order, np.zeros(2), np.zeros(2, dtype=np.intp), np.empty(0),
                    **change)
    assert not theta.any()  # nothing written
