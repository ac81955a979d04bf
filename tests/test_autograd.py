"""nn.Value: the lesson's worked graph, every operator against finite differences, reuse, deep graphs,
accumulation, limits, pictures, and the Value MLP against nn.Network."""
import math

import numpy as np
import pytest

import nn
from nn.autograd import MLP, Layer, Value, ValueNeuron, draw, render, zero_grad
from nn.backends import get as get_backend


def test_the_lessons_worked_graph():
    a, b, c, f = Value(2.0, "a"), Value(-3.0, "b"), Value(10.0, "c"), Value(-2.0, "f")
    e = a * b
    d = e + c
    L = d * f
    assert L.data == -8.0
    L.backward()
    assert (a.grad, b.grad, c.grad, f.grad, e.grad, d.grad, L.grad) == (6.0, -4.0, -2.0, 4.0, -2.0, -2.0, 1.0)


UNARY = {
    "neg": lambda v: -v, "exp": lambda v: v.exp(), "log": lambda v: v.log(), "tanh": lambda v: v.tanh(),
    "sigmoid": lambda v: v.sigmoid(), "relu": lambda v: v.relu(), "pow2": lambda v: v ** 2,
    "pow-1.5": lambda v: v ** -1.5, "radd": lambda v: 3 + v, "rsub": lambda v: 1 - v, "rmul": lambda v: 2 * v,
    "rdiv": lambda v: 1 / v, "add_num": lambda v: v + 2.5, "sub_num": lambda v: v - 2.5,
    "mul_num": lambda v: v * 4, "div_num": lambda v: v / 4,
}
BINARY = {"add": lambda x, y: x + y, "sub": lambda x, y: x - y, "mul": lambda x, y: x * y,
          "div": lambda x, y: x / y, "mixed": lambda x, y: (x * y + x.exp()) / (y ** 2 + 1) - (x - y).tanh()}


def numeric(f, xs, eps=1e-6):
    grads = []
    for i in range(len(xs)):
        up, down = list(xs), list(xs)
        up[i] += eps
        down[i] -= eps
        grads.append((f(*map(Value, up)).data - f(*map(Value, down)).data) / (2 * eps))
    return grads


@pytest.mark.parametrize("name", sorted(UNARY))
@pytest.mark.parametrize("x", [0.7, 1.9])
def test_unary_gradients_match_finite_differences(name, x):
    v = Value(x)
    out = UNARY[name](v)
    out.backward()
    assert v.grad == pytest.approx(numeric(UNARY[name], [x])[0], rel=1e-6, abs=1e-9)


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_gradients_match_finite_differences(name):
    x, y = Value(0.8), Value(-1.3)
    BINARY[name](x, y).backward()
    expected = numeric(BINARY[name], [0.8, -1.3])
    assert [x.grad, y.grad] == pytest.approx(expected, rel=1e-6, abs=1e-9)


def test_reused_nodes_accumulate():
    a = Value(3.0)
    b = a + a
    c = b * b  # c = 4 a^2, dc/da = 8 a
    c.backward()
    assert a.grad == 24.0 and b.grad == 12.0


def test_a_chain_of_100000_nodes_needs_no_recursion():
    x = Value(1.0)
    y = x
    for _ in range(100_000):
        y = y * 1.0 + 0.0
    y.backward()
    assert x.grad == 1.0


def test_gradients_accumulate_until_zeroed():
    x = Value(2.0)
    y = x * x
    y.backward()
    y.backward()
    assert x.grad == 8.0  # 4 + 4, as in PyTorch
    zero_grad(y)
    assert x.grad == 0.0 and y.grad == 0.0
    y.backward()
    assert x.grad == 4.0


def test_limits_without_overflow_errors():
    assert Value(1000).exp().data == math.inf
    assert Value(-1000).exp().data == 0.0
    assert Value(1000).tanh().data == 1.0 and Value(-1000).tanh().data == -1.0
    assert Value(1000).sigmoid().data == 1.0 and Value(-1000).sigmoid().data == 0.0
    s = Value(-1000.0)
    s.sigmoid().backward()
    assert s.grad == 0.0
    for bad in (0.0, -1.0):
        with pytest.raises(ValueError, match="log of a non-positive number"):
            Value(bad).log()
    with pytest.raises(TypeError, match="number exponents"):
        Value(2) ** Value(3)


def test_repr_and_draw():
    a, b = Value(2.0, "a"), Value(-3.0, "b")
    L = a * b
    L.label = "L"
    L.backward()
    assert repr(a) == "Value('a', data=2, grad=-3)"
    dot = draw(L)
    assert dot.startswith("digraph") and dot.count("->") == 3
    assert "data 2.0000 | grad -3.0000" in dot and 'label="*"' in dot


def test_render_says_clearly_when_graphviz_is_missing(tmp_path, monkeypatch):
    monkeypatch.setattr("shutil.which", lambda name: None)
    with pytest.raises(RuntimeError, match="Graphviz"):
        render(Value(1.0) * 2, tmp_path / "g.svg")


@pytest.mark.skipif(__import__("shutil").which("dot") is None, reason="Graphviz is not installed")
def test_render_to_svg(tmp_path):
    path = render(Value(1.0, "x") * 2, tmp_path / "g.svg")
    assert "<svg" in path.read_text()


XS = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]
YS = [1.0, -1.0, -1.0, 1.0]


def test_the_lessons_run_learns():
    mlp = MLP(3, [4, 4, 1], seed=1)
    assert len(mlp.parameters()) == 41
    for _ in range(100):
        loss = sum(((mlp(x) - y) ** 2 for x, y in zip(XS, YS)), Value(0.0))
        mlp.zero_grad()
        loss.backward()
        for p in mlp.parameters():
            p.data -= 0.05 * p.grad
    assert loss.data < 0.01


def test_module_zero_grad_and_weights_in_range():
    mlp = MLP(3, [4, 1], seed=0)
    assert all(-1 <= p.data <= 1 for p in mlp.parameters())
    sum(mlp(x) for x in XS).backward()
    assert any(p.grad for p in mlp.parameters())
    mlp.zero_grad()
    assert all(p.grad == 0 for p in mlp.parameters())
    assert repr(ValueNeuron(2)) == "ValueNeuron(2, activation='tanh')" and "Layer([" in repr(Layer(2, 2))
    with pytest.raises(ValueError, match="unknown activation"):
        ValueNeuron(2, activation="swish")


@pytest.mark.parametrize("backend", ["reference", "compiled"])
def test_value_mlp_gradients_equal_network_gradients(backend):
    """Same weights: same outputs and the same MSE gradients in Value and in nn.Network."""
    mlp = MLP(3, [4, 4, 2], activation="tanh", seed=3)
    net = mlp.to_network(backend=backend)
    X = np.array(XS)
    Y = np.array([[1.0, 0.5], [-1.0, 0.0], [-1.0, 0.2], [1.0, -0.3]])
    outputs = [mlp(x) for x in XS]
    np.testing.assert_allclose([[o.data for o in out] for out in outputs], net.forward(X), rtol=1e-12)
    loss = sum(((o - y) ** 2 for out, ys in zip(outputs, Y) for o, y in zip(out, ys)), Value(0.0)) / Y.size
    loss.backward()
    value, grad = get_backend(net.backend).gradients(net, X, Y, "mse")
    assert loss.data == pytest.approx(value, rel=1e-12)
    # theta order: each layer's W row-major (W[i, j] = neuron j's weight i), then b
    expected = []
    for layer in mlp.layers:
        n_in = len(layer.neurons[0].w)
        expected += [layer.neurons[j].w[i].grad for i in range(n_in) for j in range(len(layer.neurons))]
        expected += [n.b.grad for n in layer.neurons]
    np.testing.assert_allclose(grad, expected, rtol=1e-12, atol=1e-15)


def test_round_trip_through_a_network():
    net = nn.Network([3, 5, 2], activation="tanh", output="sigmoid", seed=0)
    mlp = MLP.from_network(net)
    np.testing.assert_allclose([[o.data for o in mlp(x)] for x in XS], net.forward(np.array(XS)), rtol=1e-12)
    np.testing.assert_array_equal(mlp.to_network().theta, net.theta)
    with pytest.raises(ValueError, match="Value networks support"):
        MLP.from_network(nn.Network([3, 2], output="softmax"))


# ----- powers are real-valued; a Value holds a real number --------------------------------------------------
@pytest.mark.parametrize("exponent", [1 / 3, 0.5, -1.5, 2.5])
def test_a_negative_base_needs_an_integer_exponent(exponent):
    with pytest.raises(ValueError, match="not a real number: a negative base needs an integer exponent"):
        Value(-8.0) ** exponent


@pytest.mark.parametrize("exponent, power, slope", [(3, -8.0, 12.0), (2.0, 4.0, -4.0), (-1, -0.5, -0.25)])
def test_a_negative_base_with_an_integer_exponent_is_real(exponent, power, slope):
    x = Value(-2.0)
    y = x ** exponent
    y.backward()
    assert (y.data, x.grad) == (power, slope)


@pytest.mark.parametrize("make", [lambda: Value(0.0) ** -1, lambda: Value(0.0) ** -0.5,
                                  lambda: Value(1.0) / Value(0.0), lambda: 2 / Value(0.0)])
def test_zero_to_a_negative_power_is_an_error_that_names_it(make):
    with pytest.raises(ValueError, match="division by zero"):
        make()


def test_zero_to_a_power_between_0_and_1_has_an_infinite_slope_and_to_the_0_none():
    x = Value(0.0)
    root, one = x ** 0.5, x ** 0
    root.backward()
    assert (root.data, x.grad) == (0.0, math.inf)
    one.backward()
    assert (one.data, x.grad) == (1.0, math.inf)  # adds d(x^0)/dx = 0


@pytest.mark.parametrize("exponent", [Value(3.0), "2", 2j, True, None])
def test_exponents_are_int_or_float(exponent):
    with pytest.raises(TypeError, match=r"only number exponents \(int or float\)"):
        Value(2.0) ** exponent


@pytest.mark.parametrize("exponent", [np.int64(3), np.float64(3.0), 3])
def test_numpy_exponents_work_like_python_ones(exponent):
    x = Value(2.0)
    y = x ** exponent
    y.backward()
    assert (y.data, x.grad) == (8.0, 12.0) and type(y.data) is float


@pytest.mark.parametrize("data", ["3", None, [1.0], 2j, True, np.array([1.0, 2.0])])
def test_a_value_holds_a_real_number(data):
    with pytest.raises(TypeError, match="data must be a real number"):
        Value(data)


@pytest.mark.parametrize("data", [2, np.float32(2.0), np.int64(2)])
def test_a_value_stores_any_real_number_as_a_float(data):
    assert type(Value(data).data) is float and Value(data).data == 2.0


def load_source_autograd():
    """nn/autograd.py run as the plain Python it is, whatever Python imports as nn.autograd."""
    import importlib.util
    from pathlib import Path

    import nn.autograd as imported
    path = Path(nn.__file__).parent / "autograd.py"
    spec = importlib.util.spec_from_file_location("nn_autograd_as_source", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return imported, module


def test_the_compiled_autograd_is_the_source_file_compiled():
    """Where the core is built, nn.autograd is nn/autograd.py compiled (setup.py, with nn/autograd.pxd):
    the same numbers, bit for bit, as the file run as plain Python, over the micrograd lesson's run."""
    imported, source = load_source_autograd()
    if "compiled" in nn.backends.available():
        assert imported.__file__.endswith((".so", ".pyd")), imported.__file__
    results = []
    for module in (imported, source):
        model = module.MLP(3, [4, 4, 1], seed=1)
        xs = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]
        ys = [1.0, -1.0, -1.0, 1.0]
        losses = []
        for _ in range(20):
            loss = sum(((model(x) - y) ** 2 for x, y in zip(xs, ys)), module.Value(0.0))
            model.zero_grad()
            loss.backward()
            for p in model.parameters():
                p.data -= 0.05 * p.grad
            losses.append(loss.data)
        results.append((losses, [p.data for p in model.parameters()], [p.grad for p in model.parameters()]))
    assert results[0] == results[1]
    a, b = source.Value(2.0), source.Value(-3.0)
    L = (a * b + 10.0) * -2.0
    L.backward()
    assert (a.grad, b.grad, L.op) == (6.0, -4.0, "*-2")
