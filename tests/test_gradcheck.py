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
