"""The optimizer steps and the clipping's sum of squares (src/nn_step.h) are compiled for the baseline,
AVX2 and AVX-512 and chosen at run time: every version the processor has gives the same bits, and the
same numbers as the reference (nn.optimizers, np.dot). On a processor without AVX-512 only the levels
it has are compared (simd_available() says which)."""
import numpy as np
import pytest

import nn

_core = pytest.importorskip("nn._core", reason="the compiled core is not built")

SIZES = [1, 7, 8, 9, 31, 64, 1000, 4099]  # below, at and past the vectors' widths (4, 8, 16)
OPTIMIZERS = {
    "sgd": lambda: nn.SGD(0.05, weight_decay=0.01),
    "momentum": lambda: nn.Momentum(0.05, momentum=0.9),
    "nesterov": lambda: nn.Momentum(0.05, momentum=0.9, nesterov=True),
    "rmsprop": lambda: nn.RMSprop(0.01),
    "adam": lambda: nn.Adam(0.01, weight_decay=0.001),
}


@pytest.fixture
def levels():
    """The levels this processor has; the cap is lifted again afterwards."""
    yield list(range(_core.simd_available() + 1))
    _core.simd_level(2)


def hyper_of(optimizer):
    return np.array([float(getattr(optimizer, name, 0) or 0) for name in _core.HYPER_NAMES])


def run_steps(name, dtype, size, level, steps=5):
    """theta and the state after `steps` core steps at `level` (the same gradients for every level)."""
    rng = np.random.default_rng(size)
    optimizer = OPTIMIZERS[name]()
    code = _core.OPTIMIZER_NAMES.index(type(optimizer).__name__.lower())
    p = rng.standard_normal(size).astype(dtype)
    s1, s2 = np.zeros(size, dtype), np.zeros(size, dtype)
    assert _core.simd_level(level) == level
    for t in range(1, steps + 1):
        g = rng.standard_normal(size).astype(dtype)
        _core.step(code, hyper_of(optimizer), t, p, g, s1, s2)
    return p, s1, s2


def reference_steps(name, dtype, size, steps=5):
    rng = np.random.default_rng(size)
    optimizer = OPTIMIZERS[name]()
    p = rng.standard_normal(size).astype(dtype)
    for _ in range(steps):
        g = rng.standard_normal(size).astype(dtype)
        optimizer.step([p], [g])
    return p


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_every_level_gives_the_same_bits_as_the_reference(levels, name, dtype):
    for size in SIZES:
        expected = reference_steps(name, dtype, size)
        results = [run_steps(name, dtype, size, level) for level in levels]
        for level, (p, s1, s2) in zip(levels, results):
            np.testing.assert_array_equal(p, results[0][0], err_msg=f"level {level}, size {size}")
            np.testing.assert_array_equal(s1, results[0][1])
            np.testing.assert_array_equal(s2, results[0][2])
            # the same operations in the same order as NumPy: equal bits in float32, and in float64
            np.testing.assert_array_equal(p, expected, err_msg=f"{name} level {level}, size {size}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_sum_of_squares_is_the_same_at_every_level(levels, dtype):
    for size in SIZES + [0]:
        x = np.random.default_rng(size).standard_normal(size).astype(dtype)
        sums = []
        for level in levels:
            _core.simd_level(level)
            sums.append(_core.squares(x))
        assert len(set(sums)) == 1, sums
        assert sums[0] == pytest.approx(float(np.dot(x.astype(np.float64), x.astype(np.float64))), rel=1e-13)


def test_the_level_can_be_capped_and_lifted(levels):
    assert _core.simd_level(0) == 0
    assert _core.simd_level(2) == levels[-1]
    with pytest.raises(ValueError, match="cap must be 0, 1 or 2"):
        _core.simd_level(3)


@pytest.mark.parametrize("pair", [("p", "g"), ("p", "s1"), ("g", "s2"), ("s1", "s2")])
def test_overlapping_arrays_are_refused(pair):
    """The loops take restrict pointers: two views of one buffer would be undefined behaviour."""
    buffer = np.zeros(12)
    arrays = {"p": np.zeros(4), "g": np.zeros(4), "s1": np.zeros(4), "s2": np.zeros(4)}
    arrays[pair[0]], arrays[pair[1]] = buffer[0:4], buffer[2:6]
    with pytest.raises(ValueError, match=f"{pair[0]} and {pair[1]} must not overlap"):
        _core.step(3, hyper_of(nn.Adam()), 1, arrays["p"], arrays["g"], arrays["s1"], arrays["s2"])
    arrays[pair[1]] = buffer[4:8]  # adjacent, not overlapping: accepted
    _core.step(3, hyper_of(nn.Adam()), 1, arrays["p"], arrays["g"], arrays["s1"], arrays["s2"])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("N", [1, 10, 64, 128, 200, 256, 300])
@pytest.mark.parametrize("trans_a, accumulate", [(False, False), (True, True)])
def test_the_products_on_lists_of_nonzeros_at_every_level(levels, dtype, N, trans_a, accumulate):
    """AVX-512 (16 vectors a chunk, the last masked) and AVX2 (8 vectors, the last columns portable) add
    the same FMAs in the same order: equal bits in the columns both vectorise; every level equals the
    dense product to rounding, for every width (the masked tail included) and both modes (set, add)."""
    if not _core.SPARSE_KERNELS:
        pytest.skip("no AVX2 / FMA on this processor")
    rng = np.random.default_rng(N)
    A = rng.standard_normal((7, 30)).astype(dtype)
    A[rng.random(A.shape) < 0.6] = 0
    A[2] = 0  # an empty list
    B = rng.standard_normal((7 if trans_a else 30, N)).astype(dtype)
    C0 = rng.standard_normal((30 if trans_a else 7, N)).astype(dtype)
    results = {}
    for level in levels:
        _core.simd_level(level)
        C = C0.copy()
        _core.sparse_matmul(A, B, C, trans_a=trans_a, alpha=-0.5, accumulate=accumulate)
        results[level] = C
    product = (A.T if trans_a else A).astype(np.float64) @ B.astype(np.float64)
    expected = C0 - 0.5 * product if accumulate else product
    tol = 1e-12 if dtype == np.float64 else 2e-5
    for level, C in results.items():
        np.testing.assert_allclose(C, expected, rtol=tol, atol=tol, err_msg=f"level {level}")
    if 2 in results:
        vectorised = N // (32 if dtype == np.float64 else 64) * (32 if dtype == np.float64 else 64)
        np.testing.assert_array_equal(results[2][:, :vectorised], results[1][:, :vectorised])


@pytest.fixture
def slices():
    """spmm_slice(size) for the test; the default restored afterwards."""
    default = _core.spmm_slice()
    yield _core.spmm_slice
    _core.spmm_slice(default)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_out", [63, 64, 65, 100, 128, 129, 200, 257, 300])
def test_a_wide_first_layer_read_a_packed_slice_at_a_time_gives_the_same_bits(levels, slices, dtype, n_out):
    """Inference on lists of nonzeros reads a wide W_1 a packed slice of columns at a time (more than two
    slices wide: 32 doubles or 64 floats each at the default 256 bytes): at every level, the same bits as
    reading W_1 whole (each column's sum the same FMAs in the same order), and the reference's numbers."""
    rng = np.random.default_rng(n_out)
    net = nn.Network([50, n_out, 7], dtype=np.dtype(dtype).name, seed=n_out, backend="reference")
    X = rng.standard_normal((70, 50)).astype(dtype)  # 70 rows: packed from 64 (_infer.PACK_MIN_ROWS)
    X[rng.random(X.shape) < 0.7] = 0
    X[3] = 0  # an empty list
    codes = np.array([_core.ACTIVATION_NAMES.index(a) for a in net.activations], dtype=np.intp)
    lay = _core.layout(np.array(net.sizes, dtype=np.intp), codes, 16, True)
    expected = nn.backends.reference.forward(net, X)[-1]
    for level in levels:
        _core.simd_level(level)
        outputs = {}
        for size in (256, 512, 1 << 20):
            slices(size)
            outputs[size] = np.full((70, 7), np.nan, dtype=dtype)
            assert _core.forward_output(lay, net.theta, X, outputs[size], 2, True)
        for size in (256, 512):
            np.testing.assert_array_equal(outputs[size], outputs[1 << 20], err_msg=f"level {level}, {size} bytes")
        tol = 1e-12 if dtype == np.float64 else 2e-5
        np.testing.assert_allclose(outputs[256], expected, rtol=tol, atol=tol)
    with pytest.raises(ValueError, match="multiple of 256"):
        slices(100)
