"""Random shapes, dtypes and strides thrown at every public entry point of nn._core.

An exception is fine; a crash (which would take the test run down) is a failure. Run this under the
debug build too (NN_DEBUG_BUILD=1), where bounds checks are on.
"""
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nn import _core

DTYPES = [np.float64, np.float32, np.int64, np.intp, np.longlong, np.uint8]


@st.composite
def arrays(draw):
    ndim = draw(st.integers(0, 3))
    shape = tuple(draw(st.lists(st.integers(0, 6), min_size=ndim, max_size=ndim)))
    dtype = draw(st.sampled_from(DTYPES))
    arr = (np.arange(int(np.prod(shape)), dtype=np.float64).reshape(shape) % 7 - 3).astype(dtype)
    if ndim and draw(st.booleans()):
        arr = arr[(slice(None, None, 2),) * ndim]  # not contiguous
    if draw(st.booleans()):
        arr = np.array(arr)
        arr.flags.writeable = draw(st.booleans())
    return arr


small_ints = st.integers(-2, 12)
floats = st.one_of(st.floats(-10, 10), st.just(float("nan")))


def call(f, *args):
    try:
        f(*args)
    except (ValueError, TypeError, IndexError, OverflowError, BufferError, ZeroDivisionError):
        pass


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(arrays(), arrays(), arrays(), small_ints, small_ints, st.booleans(), st.booleans(), floats, floats)
def test_kernels_never_crash(a, b, c, code1, code2, t1, t2, x, y):
    call(_core.activate_inplace, a, code1)
    call(_core.activate_inplace, a, code1, b)
    call(_core.backprop_inplace, a, b, code1)
    call(_core.loss_and_delta, code1, code2, a, b, c)
    call(_core.matmul, a, b, c, t1, t2, x, y)
    call(_core.sparse_matmul, a, b, c, t1, x, t2, code2, t1)
    call(_core.step, code1, np.array([x, 0, 0.5, t1, 0.9, 0.9, 0.99, 1e-8]), code2, a, b, c, c)
    call(_core.layout, a, b, code1)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.integers(-1, 5), min_size=1, max_size=4), st.lists(st.integers(-1, 6), min_size=0, max_size=4),
       st.integers(-1, 6), arrays(), arrays(), arrays(), arrays(), small_ints, small_ints, st.integers(-1, 7),
       st.integers(-1, 5))
def test_network_entry_points_never_crash(sizes, acts, batch, theta, work, X, Y, loss, optimizer, batch_size,
                                          threads):
    try:
        lay = _core.layout(np.array(sizes, dtype=np.intp), np.array(acts, dtype=np.intp), batch)
    except (ValueError, TypeError):
        return
    P = lay.n_params
    for theta_ in (theta, np.zeros(P), np.zeros(P, dtype=np.float32)):
        for work_ in (work, np.zeros(lay.work_size)):
            call(_core.forward, lay, theta_, work_, X)
            call(_core.gradients, lay, loss, theta_, work_, X, Y, theta_.copy())
            order = np.arange(max(len(X), 1), dtype=np.intp)[None] if np.ndim(X) else np.zeros((1, 1), np.intp)
            call(_core.train, lay, loss, optimizer, np.array([0.1, 0, 0.9, 0, 0.9, 0.9, 0.99, 1e-8]),
                 np.zeros(1, dtype=np.longlong), theta_, np.zeros_like(theta_), np.zeros_like(theta_),
                 np.zeros_like(theta_), work_, X, Y, order, batch_size, np.zeros(1), np.zeros(1, dtype=np.intp),
                 np.zeros(0, dtype=theta_.dtype), 0, threads, threads % 2 == 1)
