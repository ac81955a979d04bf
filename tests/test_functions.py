"""Activations and losses: values, derivatives, stability on large inputs."""
import warnings

import numpy as np
import pytest

from nn.functions import ACTIVATIONS, BACKPROP, LOSSES, output_delta


def numeric_gradient(scalar_function, Z, eps=1e-6):
    """d scalar_function / dZ by central differences, element by element."""
    numeric = np.zeros_like(Z)
    for idx in np.ndindex(Z.shape):
        Zp, Zm = Z.copy(), Z.copy()
        Zp[idx] += eps
        Zm[idx] -= eps
        numeric[idx] = (scalar_function(Zp) - scalar_function(Zm)) / (2 * eps)
    return numeric


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_no_overflow_warnings_or_nans_on_large_inputs(name, dtype):
    Z = np.array([[-1e4, -800.0, -1.0, 0.0, 1.0, 800.0, 1e4]], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        A = ACTIVATIONS[name](Z)
    assert np.isfinite(A).all()
    assert A.dtype == dtype


def test_sigmoid_limits_and_symmetry():
    Z = np.array([[-1e4, -40.0, 0.0, 40.0, 1e4]])
    A = ACTIVATIONS["sigmoid"](Z)
    assert A[0, 0] == 0.0 and A[0, -1] == 1.0 and A[0, 2] == 0.5
    np.testing.assert_allclose(A + ACTIVATIONS["sigmoid"](-Z), 1.0, rtol=1e-15)


def test_softmax_rows_sum_to_one_and_are_shift_invariant(rng):
    Z = rng.normal(size=(5, 7)) * 50
    A = ACTIVATIONS["softmax"](Z)
    np.testing.assert_allclose(A.sum(axis=1), 1.0, rtol=1e-14)
    np.testing.assert_allclose(ACTIVATIONS["softmax"](Z + 1000.0), A, rtol=1e-12)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_backprop_matches_finite_differences(name, rng):
    Z = rng.normal(size=(4, 5))
    Z[np.abs(Z) < 1e-3] = 0.5  # away from the kinks of relu / leaky_relu
    G = rng.normal(size=Z.shape)
    analytic = BACKPROP[name](ACTIVATIONS[name](Z), G)
    numeric = numeric_gradient(lambda Z_: np.sum(G * ACTIVATIONS[name](Z_)), Z)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-9)


def test_losses_are_finite_for_confident_wrong_answers():
    Y = np.array([[1.0, 0.0]])
    A = np.array([[0.0, 1.0]])
    assert np.isfinite(LOSSES["cross_entropy"](Y, A))
    assert np.isfinite(LOSSES["binary_cross_entropy"](Y, A))
    assert LOSSES["cross_entropy"](Y, A) == pytest.approx(-np.log(np.finfo(float).eps))


@pytest.mark.parametrize("loss, activation", [("cross_entropy", "softmax"), ("binary_cross_entropy", "sigmoid"),
                                              ("mse", "tanh"), ("mse", "softmax")])
def test_output_delta_is_the_loss_gradient_through_the_activation(loss, activation, rng):
    Z = rng.normal(size=(3, 4))
    Y = np.eye(4)[[0, 2, 3]]
    f = ACTIVATIONS[activation]
    delta = output_delta(loss, activation, f(Z), Y)
    numeric = numeric_gradient(lambda Z_: LOSSES[loss](Y, f(Z_)), Z)
    np.testing.assert_allclose(delta, numeric, rtol=1e-6, atol=1e-10)
