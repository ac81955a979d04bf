"""The PyTorch bridge: net.to_torch() computes net.forward; Network.from_torch reads a Sequential back (and
refuses, by name and index, what nn has no layer for); training goes on in PyTorch exactly as it would in nn."""
import copy

import numpy as np
import pytest

import nn

torch = pytest.importorskip("torch")

TOLERANCE = {"float64": 1e-12, "float32": 1e-6}


@pytest.mark.parametrize("dropout", [0.0, 0.5])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("output", sorted(nn.ACTIVATIONS))
@pytest.mark.parametrize("hidden", sorted(nn.ACTIVATIONS))
def test_to_torch_computes_forward(rng, hidden, output, dtype, dropout):
    """As returned (in eval mode: its Dropout modules pass their input through, as nn's inference does)."""
    net = nn.Network([4, 6, 5, 3], activation=hidden, output=output, dtype=dtype, seed=1, bias_init="normal",
                     dropout=dropout)
    module = net.to_torch()
    assert isinstance(module, torch.nn.Sequential) and not module.training
    assert {p.dtype for p in module.parameters()} == {getattr(torch, dtype)}
    for n in (1, 1000):
        X = rng.normal(size=(n, 4)).astype(dtype)
        with torch.no_grad():
            got = module(torch.from_numpy(X)).numpy()
        assert got.dtype == np.dtype(dtype)
        np.testing.assert_allclose(got, net.forward(X), rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype])


def test_linear_weight_is_w_transposed():
    net = nn.Network([3, 2], output="identity", seed=0)
    (linear,) = net.to_torch()
    np.testing.assert_array_equal(linear.weight.detach().numpy(), net.layers[0].W.T)
    np.testing.assert_array_equal(linear.bias.detach().numpy(), net.layers[0].b)
    linear.weight.data[0, 0] = 42.0  # a copy: the network is not changed through it
    assert net.layers[0].W[0, 0] != 42.0


def test_the_modules_of_each_activation():
    net = nn.Network([nn.Dense(2, 3, "relu"), nn.Dense(3, 3, "leaky_relu", dropout=0.25), nn.Dense(3, 3, "tanh"),
                      nn.Dense(3, 3, "identity"), nn.Dense(3, 3, "sigmoid"), nn.Dense(3, 2, "softmax")], seed=0)
    names = [type(m).__name__ for m in net.to_torch()]
    assert names == ["Linear", "ReLU", "Dropout", "Linear", "LeakyReLU", "Linear", "Tanh", "Linear", "Linear",
                     "Sigmoid", "Linear", "Softmax"]
    module = net.to_torch()
    assert module[4].negative_slope == 0.01 and module[2].p == 0.25 and module[11].dim == -1


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_round_trip_is_exact(dtype):
    net = nn.Network([5, 7, 7, 2], activation="leaky_relu", output="sigmoid", dtype=dtype, seed=4, dropout=0.1)
    back = nn.Network.from_torch(net.to_torch())
    assert back.sizes == net.sizes and back.activations == net.activations and back.dropouts == net.dropouts
    assert back.dtype == net.dtype
    np.testing.assert_array_equal(back.theta, net.theta)


def test_to_torch_in_train_mode_drops_inputs():
    net = nn.Network([nn.Dense(200, 1, "identity", dropout=0.5)], seed=0)
    module = net.to_torch().train()
    X = torch.ones(1, 200, dtype=torch.float64)
    torch.manual_seed(0)
    with torch.no_grad():
        assert module(X).item() != pytest.approx(net.forward(X.numpy()).item(), abs=1e-9)


def test_from_torch_on_a_subclass_returns_the_subclass():
    class Mine(nn.Network):
        pass

    net = Mine.from_torch(torch.nn.Sequential(linear(3, 2), torch.nn.Sigmoid()), backend="reference")
    assert type(net) is Mine and net.sizes == [3, 2] and net.backend == "reference"
    assert type(nn.Network.from_torch(net.to_torch())) is nn.Network


def test_from_torch_reads_a_sequential_written_by_hand(rng):
    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Dropout(0.2), torch.nn.Linear(4, 8, dtype=torch.float64),
                                 torch.nn.Tanh(), torch.nn.Identity(), torch.nn.Linear(8, 8, bias=False,
                                                                                         dtype=torch.float64),
                                 torch.nn.Linear(8, 3, dtype=torch.float64), torch.nn.Softmax(dim=1))
    net = nn.Network.from_torch(module, classes=["a", "b", "c"], backend="reference")
    assert net.sizes == [4, 8, 8, 3] and net.activations == ["tanh", "identity", "softmax"]
    assert net.dropouts == [0.2, 0.0, 0.0] and net.backend == "reference"
    assert net.classes.tolist() == ["a", "b", "c"]
    np.testing.assert_array_equal(net.layers[1].b, np.zeros(8))
    X = rng.normal(size=(10, 4))
    module.eval()
    with torch.no_grad():
        np.testing.assert_allclose(net.forward(X), module(torch.from_numpy(X)).numpy(), rtol=1e-12, atol=1e-12)


def linear(n_in=3, n_out=3, dtype=torch.float64):
    return torch.nn.Linear(n_in, n_out, dtype=dtype)


@pytest.mark.parametrize("modules, message", [
    (lambda: [linear(), torch.nn.Conv1d(3, 3, 1)], r"module\[1\] \(Conv1d\) is not supported"),
    (lambda: [linear(), torch.nn.GELU()], r"module\[1\] \(GELU\) is not supported"),
    (lambda: [linear(), torch.nn.LeakyReLU(0.2)], r"module\[1\] \(LeakyReLU\) is LeakyReLU\(negative_slope=0.2\)"),
    (lambda: [linear(), torch.nn.Softmax(dim=0)], r"module\[1\] \(Softmax\) is Softmax\(dim=0\)"),
    (lambda: [linear(), torch.nn.ReLU(), torch.nn.ReLU()], r"module\[2\] \(ReLU\) is a second activation"),
    (lambda: [torch.nn.ReLU(), linear()], r"module\[0\] \(ReLU\) comes before any Linear"),
    (lambda: [linear(3, 4), linear(5, 2)], r"module\[1\] \(Linear\) has 5 inputs but the layer before has 4"),
    (lambda: [linear(), torch.nn.Dropout(0.5)], r"module\[1\] \(Dropout\) is after the last Linear"),
    (lambda: [linear(), torch.nn.Dropout(0.5), torch.nn.ReLU()], r"module\[2\] \(ReLU\) follows a Dropout"),
    (lambda: [linear(dtype=torch.float32), linear()], r"must all be float32 or all float64, got \['float32', 'float64'\]"),
    (lambda: [linear(dtype=torch.float16)], r"must all be float32 or all float64, got \['float16'\]"),
    (lambda: [torch.nn.Identity()], "module has no Linear layer"),
])
def test_from_torch_refuses_what_nn_has_no_layer_for(modules, message):
    with pytest.raises(ValueError, match=message):
        nn.Network.from_torch(torch.nn.Sequential(*modules()))


def test_from_torch_needs_a_sequential():
    with pytest.raises(TypeError, match="module must be a torch.nn.Sequential .* got Linear"):
        nn.Network.from_torch(linear())


# ----- training goes on in PyTorch as it would in nn ------------------------------------------------------------------
PROBLEMS = {  # loss: (output, n_outputs, the torch loss of (A, y))
    "cross_entropy": ("softmax", 3, lambda A, y: torch.nn.functional.nll_loss(torch.log(A), y)),
    "binary_cross_entropy": ("sigmoid", 1, lambda A, y: torch.nn.functional.binary_cross_entropy(A, y)),
    "mse": ("identity", 2, lambda A, y: torch.nn.functional.mse_loss(A, y)),
}


@pytest.mark.parametrize("loss", sorted(PROBLEMS))
def test_training_goes_on_in_pytorch_exactly_as_in_nn(rng, loss):
    """A few epochs in nn, then SGD steps on given batches in PyTorch; brought back, the weights equal
    those of the same steps taken by nn (nn's losses are means over the batch, as PyTorch's)."""
    output, n_outputs, torch_loss = PROBLEMS[loss]
    X = rng.normal(size=(96, 4))
    y = (rng.integers(0, 3, size=96) if loss == "cross_entropy" else
         rng.integers(0, 2, size=(96, 1)).astype(float) if loss == "binary_cross_entropy" else
         rng.normal(size=(96, 2)))
    net = nn.Network([4, 8, 8, n_outputs], activation="tanh", output=output, seed=0)
    nn.Trainer(net, loss=loss, optimizer=nn.SGD(0.1), batch_size=16, seed=0).fit(X, y, epochs=3, verbose=False)
    start = net.theta
    batches = [rng.choice(96, size=size, replace=False) for size in (16, 16, 7, 32, 1)]
    rate = 0.5

    module = net.to_torch()
    optimizer = torch.optim.SGD(module.parameters(), lr=rate)
    for rows in batches:
        optimizer.zero_grad()
        torch_loss(module(torch.from_numpy(X[rows])), torch.from_numpy(y[rows])).backward()
        optimizer.step()
    from_pytorch = nn.Network.from_torch(module)

    in_nn = copy.deepcopy(net)
    for rows in batches:  # one batch per fit: the whole batch, in one step
        nn.Trainer(in_nn, loss=loss, optimizer=nn.SGD(rate), batch_size=len(rows), seed=0).fit(
            X[rows], y[rows], epochs=1, verbose=False)

    assert np.abs(in_nn.theta - start).max() > 1e-3  # the steps moved the weights
    np.testing.assert_allclose(from_pytorch.theta, in_nn.theta, rtol=0, atol=1e-10)
