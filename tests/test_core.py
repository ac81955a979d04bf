"""Each kernel of nn._core against its NumPy twin in nn.functions, over dtypes and shapes."""
import numpy as np
import pytest

from nn import _core
from nn.functions import ACTIVATIONS

RTOL = {np.float64: 1e-12, np.float32: 1e-5}
SHAPES = [(1, 1), (1, 7), (5, 1), (13, 10), (64, 33)]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", _core.ACTIVATION_NAMES)
def test_activate_matches_reference(name, shape, dtype, rng):
    Z = (rng.normal(size=shape) * 5).astype(dtype)
    Z.flat[0] = 900 if Z.size > 1 else Z.flat[0]  # a large input must not overflow
    expected = ACTIVATIONS[name](Z.copy())
    _core.activate_inplace(Z, _core.ACTIVATION_NAMES.index(name))
    assert Z.dtype == dtype
    np.testing.assert_allclose(Z, expected, rtol=RTOL[dtype], atol=RTOL[dtype] * 1e-3)


def test_activate_rejects_bad_codes_and_arrays():
    Z = np.zeros((2, 2))
    with pytest.raises(ValueError, match="activation code"):
        _core.activate_inplace(Z, 6)
    with pytest.raises(ValueError):
        _core.activate_inplace(np.zeros((4, 4))[:, ::2], 1)  # not C-contiguous
    with pytest.raises((ValueError, TypeError)):
        _core.activate_inplace(np.zeros((2, 2), dtype=np.int64), 1)
    with pytest.raises((ValueError, TypeError)):
        _core.activate_inplace(np.zeros(4), 1)
    _core.activate_inplace(np.zeros((0, 3)), 1)  # empty: nothing to do, no crash
