"""The worked numbers of the lessons, as specifications.

Each expected value is computed here from the lesson's formula in plain Python (math.exp, the chain rule
written out), compared with nn's result to float64 rounding and with the figures the lesson prints, to
the digits it gives them.
"""
import math

import numpy as np
import pytest

import nn
from nn.autograd import Value
from nn.backends import get as get_backend

PEOPLE = np.array([[-2, -1], [25, 6], [17, 4], [-15, -6]], dtype=float)  # Alice, Bob, Charlie, Diana
GENDER = np.array([1, 0, 0, 1], dtype=float)


def sigmoid(x):
    """The lessons' activation, f(x) = 1 / (1 + e^-x)."""
    return 1 / (1 + math.exp(-x))


def sigmoid_slope(x):
    """f'(x) = f(x) (1 - f(x))."""
    return sigmoid(x) * (1 - sigmoid(x))


def as_the_lesson_prints(value, printed):
    """``value`` agrees with the lesson's figure ``printed`` (a string such as "0.0214") to within one unit
    of its last digit: the lessons round, and some figures are products of already rounded ones."""
    decimals = len(printed.split(".")[1]) if "." in printed else 0
    assert abs(value - float(printed)) <= 10.0 ** -decimals, f"{value!r} is not the lesson's {printed}"


def test_single_neuron():
    """w = [0, 1], b = 4, x = [2, 3]: y = f(w . x + b) = f(7), which the lesson gives as 0.999 and the
    README and examples/neuron.py as 0.9990889488."""
    w, b, x = [0, 1], 4, [2, 3]
    expected = sigmoid(w[0] * x[0] + w[1] * x[1] + b)
    assert nn.Neuron(w, b).feedforward(x) == pytest.approx(expected, rel=1e-12)
    as_the_lesson_prints(expected, "0.999")
    assert f"{expected:.10f}" == "0.9990889488"


def lesson_network(weight, bias=0.0):
    layers = [nn.Dense(2, 2, "sigmoid", weights=np.full((2, 2), weight), bias=np.full(2, bias)),
              nn.Dense(2, 1, "sigmoid", weights=np.full((2, 1), weight), bias=np.full(1, bias))]
    return nn.Network(layers)


def test_221_network_feedforward():
    """Every neuron has w = [0, 1], b = 0; x = [2, 3]: h1 = h2 = f(0*2 + 1*3 + 0) = f(3) = 0.9526, and
    o1 = f(0*h1 + 1*h2 + 0) = f(0.9526) = 0.7216."""
    net = lesson_network(0.0)
    for layer in net.layers:  # W[:, j] = (0, 1) for each neuron j
        W = np.zeros_like(layer.W)
        W[1, :] = 1
        layer.W = W
    h = sigmoid(0 * 2 + 1 * 3 + 0)
    o = sigmoid(0 * h + 1 * h + 0)
    assert net.forward([2, 3])[0] == pytest.approx(o, rel=1e-12)
    as_the_lesson_prints(h, "0.9526")
    as_the_lesson_prints(o, "0.7216")


def test_221_network_alice_and_gradient():
    """Every weight 1, every bias 0; Alice x = (-2, -1), y = 1, L = (y - o)^2. The lesson's trace:
    h1 = h2 = f(-3) = 0.0474, o = f(h1 + h2) = 0.524; dL/do = -2 (1 - o) = -0.952, do/dh1 = w5 f'(h1 + h2)
    = 0.249, dh1/dw1 = x1 f'(x1 + x2) = -0.0904, so dL/dw1 = 0.0214. The whole gradient is the same
    chain rule for every weight and bias."""
    net = lesson_network(1.0)
    (x1, x2), y = PEOPLE[0], GENDER[0]
    z_hidden = x1 + x2  # w1 x1 + w2 x2 + b1, the same for both hidden neurons
    h = sigmoid(z_hidden)
    z_out = h + h
    o = sigmoid(z_out)
    dL_do = -2 * (y - o)
    dL_dz_out = dL_do * sigmoid_slope(z_out)
    dL_dz_hidden = dL_dz_out * 1 * sigmoid_slope(z_hidden)  # through w5 = w6 = 1
    # theta: W1 row-major (W1[i, j]: input i into hidden neuron j), b1, W2 (h_j into the output), b2
    expected = [dL_dz_hidden * x1, dL_dz_hidden * x1, dL_dz_hidden * x2, dL_dz_hidden * x2,
                dL_dz_hidden, dL_dz_hidden, dL_dz_out * h, dL_dz_out * h, dL_dz_out]

    assert net.forward(PEOPLE[0])[0] == pytest.approx(o, rel=1e-12)
    loss, grad = get_backend(net.backend).gradients(net, PEOPLE[:1], GENDER[:1, None], "mse")
    assert loss == pytest.approx((y - o) ** 2, rel=1e-12)
    np.testing.assert_allclose(grad, expected, rtol=1e-12)
    for value, printed in [(h, "0.0474"), (o, "0.524"), (dL_do, "-0.952"), (1 * sigmoid_slope(z_out), "0.249"),
                           (x1 * sigmoid_slope(z_hidden), "-0.0904"), (grad[0], "0.0214")]:
        as_the_lesson_prints(value, printed)


def test_mse_of_predicting_zero():
    """y = [1, 0, 0, 1], predictions all 0: MSE = (1 + 0 + 0 + 1) / 4 = 0.5 (exact)."""
    expected = sum((y - 0.0) ** 2 for y in GENDER) / len(GENDER)
    assert nn.LOSSES["mse"](GENDER[:, None], np.zeros((4, 1))) == pytest.approx(expected, rel=1e-15)
    assert expected == 0.5


def test_cross_entropy_example():
    """L = -(1/n) sum_i ln(p_i of sample i's class)."""
    Y = np.eye(3)
    A = np.array([[0.5, 0.25, 0.25], [0.1, 0.3, 0.6], [0.3, 0.3, 0.4]])
    expected = -sum(math.log(A[i, i]) for i in range(3)) / 3
    assert nn.LOSSES["cross_entropy"](Y, A) == pytest.approx(expected, rel=1e-14)


def test_the_worked_graph_backpropagates_by_the_chain_rule():
    """The micrograd lesson: L = (a b + c) f with a = 2, b = -3, c = 10, f = -2 is -8, and by the chain
    rule dL/da = b f = 6, dL/db = a f = -4, dL/dc = f = -2, dL/df = a b + c = 4 (exact in floats)."""
    a, b, c, f = 2.0, -3.0, 10.0, -2.0
    expected = {"a": b * f, "b": a * f, "c": f, "f": a * b + c}
    values = {name: Value(x, name) for name, x in zip("abcf", (a, b, c, f))}
    L = (values["a"] * values["b"] + values["c"]) * values["f"]
    L.backward()
    assert L.data == (a * b + c) * f
    assert {name: v.grad for name, v in values.items()} == expected
    assert expected == {"a": 6, "b": -4, "c": -2, "f": 4} and L.data == -8  # the lesson's numbers, exact


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
