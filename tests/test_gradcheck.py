"""Finite-difference gradient checks for every activation x loss pair (float64)."""
import numpy as np
import pytest

import nn
from nn.functions import LOSS_OUTPUT

from conftest import random_problem

HIDDEN = sorted(nn.ACTIVATIONS)
PAIRS = [(loss, out) for loss in sorted(nn.LOSSES) for out in sorted(nn.ACTIVATIONS)
         if LOSS_OUTPUT[loss] in (None, out)]


def data(rng, n_out, loss):
    return random_problem(rng, loss, n_out, n=6, n_in=3)


@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("loss, output", PAIRS)
def test_gradcheck_every_activation_and_loss(hidden, loss, output, rng):
    n_out = 1 if output == "sigmoid" and loss == "binary_cross_entropy" else 3
    net = nn.Network([3, 4, 5, n_out], activation=hidden, output=output, seed=7, bias_init="normal")
    X, y = data(rng, n_out, loss)
    assert nn.gradcheck(net, X, y, loss) < 1e-6


def test_gradcheck_detects_a_wrong_gradient(rng, monkeypatch):
    net = nn.Network([3, 4, 2], activation="tanh", output="softmax", seed=1)
    X, y = data(rng, 2, "cross_entropy")
    from nn.backends import get

    backend = get(net.backend)
    real = backend.gradients
    monkeypatch.setattr(backend, "gradients", lambda *a: (lambda lg: (lg[0], lg[1] * 1.01))(real(*a)))
    assert nn.gradcheck(net, X, y, "cross_entropy") > 1e-3


@pytest.mark.parametrize("loss, output", [("cross_entropy", "sigmoid"), ("cross_entropy", "relu"),
                                          ("binary_cross_entropy", "softmax")])
def test_cross_entropies_need_their_output(loss, output):
    net = nn.Network([2, 3], output=output)
    with pytest.raises(ValueError, match=loss):
        nn.gradcheck(net, np.ones((2, 2)), np.zeros(2, dtype=int) if output != "sigmoid" else np.zeros((2, 3)), loss)
    with pytest.raises(ValueError, match="output"):
        nn.Trainer(net, loss=loss)


@pytest.mark.parametrize("backend", ["reference", "compiled"])
def test_gradcheck_refuses_a_network_with_nan_weights(rng, backend):
    """A NaN network has no gradient: a perfect 0.0 would be a lie."""
    net = nn.Network([3, 4, 2], activation="tanh", output="softmax", seed=1, backend=backend)
    X, y = data(rng, 2, "cross_entropy")
    net.parameter_vector()[0] = np.nan  # the live vector: theta= refuses NaN
    with pytest.raises(ValueError, match="weights contain NaN"):
        nn.gradcheck(net, X, y, "cross_entropy")


@pytest.mark.parametrize("eps", [0, 0.0, -1e-6, float("nan"), float("inf"), "1e-6", None])
def test_gradcheck_eps_must_be_a_positive_number(rng, eps):
    net = nn.Network([3, 4, 2], activation="tanh", output="softmax", seed=1)
    X, y = data(rng, 2, "cross_entropy")
    with pytest.raises((ValueError, TypeError), match="eps must be"):
        nn.gradcheck(net, X, y, "cross_entropy", eps=eps)


def test_gradcheck_refuses_gradients_that_overflow(rng):
    """Finite weights whose loss overflows (huge inputs through an identity layer, mse): no figure."""
    net = nn.Network([3, 2], activation="identity", output="identity", seed=1)
    X = np.full((2, 3), 1e200)
    with pytest.raises(ValueError, match="not finite"):
        nn.gradcheck(net, X, np.zeros((2, 2)), "mse")


def test_gradcheck_accepts_numpy_scalars_for_eps(rng):
    net = nn.Network([3, 4, 2], activation="tanh", output="softmax", seed=1)
    X, y = data(rng, 2, "cross_entropy")
    assert nn.gradcheck(net, X, y, "cross_entropy", eps=np.float64(1e-6)) < 1e-6
