"""The worked numbers of the lessons, as specifications."""
import numpy as np
import pytest

import nn
from nn.backends import get as get_backend

PEOPLE = np.array([[-2, -1], [25, 6], [17, 4], [-15, -6]], dtype=float)  # Alice, Bob, Charlie, Diana
GENDER = np.array([1, 0, 0, 1], dtype=float)


def test_single_neuron():
    neuron = nn.Neuron([0, 1], 4)
    assert neuron.feedforward([2, 3]) == pytest.approx(0.9990889488, abs=1e-10)


def lesson_network(weight, bias=0.0):
    layers = [nn.Dense(2, 2, "sigmoid", weights=np.full((2, 2), weight), bias=np.full(2, bias)),
              nn.Dense(2, 1, "sigmoid", weights=np.full((2, 1), weight), bias=np.full(1, bias))]
    return nn.Network(layers)


def test_221_network_feedforward():
    net = lesson_network(0.0)
    # every neuron has w = [0, 1]: W[:, j] = (0, 1) for each neuron j
    for layer in net.layers:
        W = np.zeros_like(layer.W)
        W[1, :] = 1
        layer.W = W
    assert net.forward([2, 3])[0] == pytest.approx(0.7216325609518421, rel=1e-14)


def test_221_network_alice_and_gradient():
    net = lesson_network(1.0)
    assert net.forward([-2, -1])[0] == pytest.approx(0.5236951740839997, rel=1e-14)
    _, grad = get_backend(net.backend).gradients(net, PEOPLE[:1], GENDER[:1, None], "mse")
    # theta starts with W1 row-major: W1[0, 0] is the first input into the first hidden neuron
    assert grad[0] == pytest.approx(0.02146953526581111, rel=1e-12)


def test_mse_of_predicting_zero():
    assert nn.LOSSES["mse"](GENDER[:, None], np.zeros((4, 1))) == pytest.approx(0.5)


def test_cross_entropy_example():
    Y = np.eye(3)
    A = np.array([[0.5, 0.25, 0.25], [0.1, 0.3, 0.6], [0.3, 0.3, 0.4]])
    expected = -(np.log(0.5) + np.log(0.3) + np.log(0.4)) / 3
    assert expected == pytest.approx(0.9378035722533454, rel=1e-15)
    assert nn.LOSSES["cross_entropy"](Y, A) == pytest.approx(0.9378035722533454, rel=1e-14)


def test_gender_network_trains_per_sample():
    net = nn.Network([2, 2, 1], activation="sigmoid", seed=0, init="normal")
    trainer = nn.Trainer(net, loss="mse", optimizer=nn.SGD(0.1), batch_size=1, seed=0)
    history = trainer.fit(PEOPLE, GENDER, epochs=1000, verbose=False)
    assert len(history) == 1000
    assert trainer.evaluate(PEOPLE, GENDER)["loss"] < 0.01
    assert history.loss[-1] < history.loss[0]
    emily, frank = net.forward(np.array([[-7, -3], [20, 2]], dtype=float))[:, 0]
    assert emily > 0.9
    assert frank < 0.1


def test_xor_2_4_1():
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    y = np.array([0, 1, 1, 0])
    net = nn.Network([2, 4, 1], activation="tanh", output="sigmoid", seed=1)
    trainer = nn.Trainer(net, loss="binary_cross_entropy", optimizer=nn.SGD(0.5), batch_size=None, seed=1)
    history = trainer.fit(X, y, epochs=2000, verbose=False)
    assert np.array_equal(net.predict(X), y)
    assert history.accuracy[-1] == 1.0


@pytest.mark.skipif(not __import__("conftest").mnist_available(), reason="../shared/data/mnist is absent")
def test_mnist_784_128_10_reaches_95_percent():
    from conftest import MNIST_DIR
    from nn.datasets import load_mnist

    X, y = load_mnist(MNIST_DIR, "train")
    X_test, y_test = load_mnist(MNIST_DIR, "test")
    net = nn.Network([784, 128, 10], activation="relu", output="softmax", seed=0)
    nn.Trainer(net, loss="cross_entropy", optimizer=nn.SGD(0.1), batch_size=32, seed=0).fit(
        X, y, epochs=5, verbose=False)
    assert np.mean(net.predict(X_test) == y_test) >= 0.95
