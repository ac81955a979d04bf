"""Dropout: inverted dropout on a layer's input while training, masks from a counter-based generator
(nn.dropout, src/nn_random.h) so that both backends and every thread count see the same masks."""
import copy
import pickle

import numpy as np
import pytest

import nn
from nn import dropout
from nn.backends import available
from nn.backends import reference

COMPILED = "compiled" in available()
needs_core = pytest.mark.skipif(not COMPILED, reason="the compiled core is not built")
# Rates that train stably (batch 1 at a tenth of them): at 0.1 per sample, heavy dropout makes SGD's
# updates chaotic, and two backends' rounding (1e-16) grows to 1e-10 within 500 steps.
OPTIMIZERS = {"sgd": lambda scale=1: nn.SGD(0.1 * scale),
              "momentum": lambda scale=1: nn.Momentum(0.05 * scale, nesterov=True),
              "rmsprop": lambda scale=1: nn.RMSprop(0.005 * scale),
              "adam": lambda scale=1: nn.Adam(0.005 * scale, weight_decay=0.01)}


def splitmix64(key, counter):
    """The generator written out with Python's integers, mod 2^64: the formula both twins implement."""
    mask = (1 << 64) - 1
    z = (key + 0x9E3779B97F4A7C15 * (counter + 1)) & mask
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
    z ^= z >> 31
    return (z >> 11) / 2 ** 53


def test_uniform_is_splitmix64_of_the_key_and_counter():
    keys = [0, 1, 12345, 2 ** 64 - 1]
    counters = np.array([0, 1, 2, 10 ** 6, 2 ** 40 + 7], dtype=np.uint64)
    for key in keys:
        np.testing.assert_array_equal(dropout.uniform(key, counters),
                                      [splitmix64(key, int(c)) for c in counters])


def test_uniform_numbers_look_uniform():
    u = dropout.uniform(2024, np.arange(200_000, dtype=np.uint64))
    assert 0 <= u.min() and u.max() < 1
    assert abs(u.mean() - 0.5) < 0.005
    counts = np.histogram(u, bins=10, range=(0, 1))[0]
    assert counts.min() > 19_000 and counts.max() < 21_000
    assert not np.array_equal(u, dropout.uniform(2025, np.arange(200_000, dtype=np.uint64)))


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_multipliers_drop_a_fraction_p_and_scale_the_rest(p):
    sizes = [50, 40, 3]
    M = dropout.multipliers(7, np.arange(2000), 1, sizes, p, "float64")
    assert M.shape == (2000, 40)
    assert set(np.unique(M)) == {0.0, 1.0 / (1.0 - p)}
    assert abs((M == 0).mean() - p) < 0.01
    # The counters: row * stride + the layer's offset + unit (stride 90, layer 1 starts at 50).
    assert (M[3, 5] == 0) == (splitmix64(7, 3 * 90 + 50 + 5) < p)


@needs_core
@pytest.mark.parametrize("p", [0.0, 0.3, 0.5, 0.9])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_the_cores_dropout_kernel_is_its_numpy_twin(dtype, p, rng):
    from nn import _core
    A = rng.normal(size=(33, 17)).astype(dtype)
    rows = rng.permutation(100)[:33].astype(np.intp)
    sizes = [5, 17, 4]  # layer 1: offset 5, stride 22
    M = np.empty_like(A)
    dropped = A.copy()
    _core.dropout_rows(dropped, rows, 99, 5, 22, p, M)
    expected = dropout.multipliers(99, rows, 1, sizes, p, dtype)  # the core decides on u's integer bits
    np.testing.assert_array_equal(M, expected)
    np.testing.assert_array_equal(dropped, A * expected)
    with pytest.raises(ValueError, match="p must be in"):
        _core.dropout_rows(A.copy(), rows, 1, 0, 1, 1.0, M)
    with pytest.raises(ValueError, match="one entry per row"):
        _core.dropout_rows(A.copy(), rows[:-1], 1, 0, 1, 0.5, M)
    with pytest.raises(ValueError, match=">= 0"):
        _core.dropout_rows(A.copy(), -rows - 1, 1, 0, 1, 0.5, M)


def problem(rng, n=160, n_in=30, sparse=False):
    X = rng.normal(size=(n, n_in))
    if sparse:
        X *= rng.random(X.shape) < 0.2
    return X, rng.integers(0, 3, size=n)


def dropout_net(backend, n_in=30, dtype="float64", input_dropout=0.2):
    layers = [nn.Dense(n_in, 24, "relu", dropout=input_dropout), nn.Dense(24, 16, "tanh", dropout=0.5),
              nn.Dense(16, 3, "softmax", dropout=0.25)]
    return nn.Network(layers, seed=4, dtype=dtype, backend=backend)


@needs_core
@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("inputs", ["dense", "sparse"])
@pytest.mark.parametrize("input_dropout", [0.0, 0.2])
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("batch_size", [1, 32])
def test_the_backends_train_with_the_same_masks(optimizer, input_dropout, inputs, threads, batch_size, team, rng):
    X, y = problem(rng, sparse=inputs == "sparse")
    results = []
    for backend in ("reference", "compiled"):
        team(threads if backend == "compiled" else None)
        net = dropout_net(backend, input_dropout=input_dropout)
        history = nn.Trainer(net, optimizer=OPTIMIZERS[optimizer](1 if batch_size > 1 else 0.1), seed=6,
                             batch_size=batch_size,
                             clip_norm=1.0 if optimizer == "momentum" else None).fit(X, y, epochs=3, verbose=False)
        results.append((net.theta, history.loss))
    np.testing.assert_allclose(results[1][0], results[0][0], rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(results[1][1], results[0][1], rtol=1e-10)


@needs_core
def test_float32_backends_agree_with_dropout(rng):
    X, y = problem(rng)
    thetas = []
    for backend in ("reference", "compiled"):
        net = dropout_net(backend, dtype="float32")
        nn.Trainer(net, optimizer=nn.Adam(0.005), seed=6).fit(X, y, epochs=3, verbose=False)
        thetas.append(net.theta)
    np.testing.assert_allclose(thetas[1], thetas[0], rtol=1e-4, atol=1e-5)


def test_dropout_zero_is_exactly_no_dropout(rng):
    X, y = problem(rng)
    plain = nn.Network([30, 24, 3], seed=4)
    zero = nn.Network([30, 24, 3], seed=4, dropout=0.0)
    for net in (plain, zero):
        nn.Trainer(net, seed=6).fit(X, y, epochs=3, verbose=False)
    np.testing.assert_array_equal(zero.theta, plain.theta)
    assert repr(zero) == repr(plain)


def test_the_same_seed_gives_the_same_weights_and_another_seed_other_masks(rng):
    X, y = problem(rng)
    runs = []
    for seed in (6, 6, 7):
        net = nn.Network([30, 24, 3], seed=4, dropout=0.5)
        nn.Trainer(net, seed=seed).fit(X, y, epochs=2, verbose=False)
        runs.append(net.theta)
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.allclose(runs[0], runs[2])
    plain = nn.Network([30, 24, 3], seed=4)
    nn.Trainer(plain, seed=6).fit(X, y, epochs=2, verbose=False)
    assert not np.allclose(plain.theta, runs[0])  # dropout changed the training


def test_nothing_is_dropped_at_inference(rng):
    X, _ = problem(rng)
    net = nn.Network([30, 24, 3], seed=4, dropout=0.5)
    twin = nn.Network([30, 24, 3], seed=4)
    np.testing.assert_array_equal(net.forward(X), twin.forward(X))
    np.testing.assert_array_equal(net.predict(X), twin.predict(X))
    np.testing.assert_array_equal(nn.Trainer(net).evaluate(X, np.zeros(len(X), dtype=int))["loss"],
                                  nn.Trainer(twin).evaluate(X, np.zeros(len(X), dtype=int))["loss"])


def test_backpropagation_through_dropout_is_pytorchs_with_the_same_masks(rng):
    """The reference's gradient with given masks equals PyTorch's autograd of the same masked network."""
    torch = pytest.importorskip("torch")
    X, y = problem(rng, n=20)
    Y = np.eye(3)[y]
    net = dropout_net("reference")
    rows = np.arange(20)
    activations, inputs, multipliers = reference.forward_dropout(net, X, 11, rows)
    grad = np.empty(net.n_params)
    from nn.layout import layer_views
    reference.backward(net, activations, Y, "cross_entropy", layer_views(net.sizes, grad), None, inputs, multipliers)
    params = [torch.tensor(p.copy(), requires_grad=True) for layer in net.layers for p in (layer.W, layer.b)]
    A = torch.tensor(X)
    acts = [torch.relu, torch.tanh, lambda Z: Z]
    for l, act in enumerate(acts):
        A = act((A * torch.tensor(multipliers[l])) @ params[2 * l] + params[2 * l + 1])
    torch.nn.functional.cross_entropy(A, torch.tensor(y)).backward()
    np.testing.assert_allclose(grad, np.concatenate([p.grad.numpy().ravel() for p in params]), rtol=1e-10,
                               atol=1e-13)


def test_inverted_dropout_scales_as_pytorchs(rng):
    torch = pytest.importorskip("torch")
    x = torch.ones(100_000, dtype=torch.float64)
    kept = torch.nn.functional.dropout(x, p=0.3, training=True)
    ours = dropout.multipliers(5, np.arange(1), 0, [100_000, 1], 0.3, "float64")[0]
    assert set(np.unique(kept.numpy())) == set(np.unique(ours)) == {0.0, 1 / 0.7}


def test_dropout_is_checked_shown_saved_and_copied(tmp_path):
    with pytest.raises(ValueError, match="dropout"):
        nn.Dense(3, 2, dropout=1.0)
    with pytest.raises((ValueError, TypeError), match="dropout"):
        nn.Network([3, 4, 2], dropout=-0.1)
    with pytest.raises(ValueError, match="give each Dense its own dropout"):
        nn.Network([nn.Dense(3, 4), nn.Dense(4, 2)], dropout=0.5)
    net = nn.Network([3, 4, 4, 2], dropout=0.25, seed=0)
    assert net.dropouts == [0.0, 0.25, 0.25]
    assert "dropout=0.25" in repr(net.layers[1]) and "input dropout 0.25" in net.summary()
    net.save(tmp_path / "m.npz")
    assert nn.Network.load(tmp_path / "m.npz").dropouts == net.dropouts
    assert pickle.loads(pickle.dumps(net)).dropouts == copy.deepcopy(net).dropouts == net.dropouts
    assert net.layers[1].copy().dropout == 0.25


@pytest.mark.parametrize("backend", available())
def test_a_checkpoint_resumes_dropout_exactly(backend, rng, tmp_path):
    X, y = problem(rng)
    whole = nn.Trainer(dropout_net(backend), optimizer=nn.Adam(0.005), seed=6)
    whole.fit(X, y, epochs=4, verbose=False)
    first = nn.Trainer(dropout_net(backend), optimizer=nn.Adam(0.005), seed=6)
    first.fit(X, y, epochs=2, verbose=False)
    first.save_checkpoint(tmp_path / "c.npz")
    back = nn.Trainer.from_checkpoint(tmp_path / "c.npz", backend=backend)
    assert back.net.dropouts == whole.net.dropouts
    back.fit(X, y, epochs=2, verbose=False)
    np.testing.assert_array_equal(back.net.theta, whole.net.theta)


@needs_core
def test_the_core_refuses_dropout_without_keys_and_input_dropout_on_lists(rng):
    from nn import _core
    from nn.backends import compiled
    net = dropout_net("compiled")
    lay = compiled._layout(net, 8)
    X, Y = rng.normal(size=(16, 30)), np.eye(3)[rng.integers(0, 3, size=16)]
    theta = net.parameter_vector().copy()
    args = (0, 2, 0, compiled.hyper_values(nn.SGD(0.1)), np.zeros(1, dtype=np.longlong), theta, np.empty(0),
            np.empty(0), X, Y, np.arange(16, dtype=np.intp)[None], np.zeros(1), np.zeros(1, dtype=np.intp), np.empty(0))
    with pytest.raises(ValueError, match="keys must hold a key"):
        _core.train(_core.TrainScratch(lay, 8), *args[1:])
    with pytest.raises(ValueError, match="dense first layer"):
        _core.train(_core.TrainScratch(lay, 8, 1, True), *args[1:], keys=np.zeros(1, dtype=np.uint64))
    np.testing.assert_array_equal(theta, net.parameter_vector())  # refused calls wrote nothing
    with pytest.raises(ValueError, match="dropout probabilities"):
        _core.layout(np.array([3, 2], dtype=np.intp), np.zeros(1, dtype=np.intp), 4, False, np.array([1.5]))


@needs_core
@pytest.mark.parametrize("threads", [1, 2])
def test_hidden_dropout_with_the_compact_first_layer(threads, team, rng, monkeypatch):
    """Inputs whose batches use few of their columns (half the columns all zero) and no sparse kernels:
    the first layer runs on the columns in use (compact), the hidden layers with dropout."""
    from nn.backends import compiled
    monkeypatch.setattr(compiled, "SPARSE_DENSITY", -1.0)
    X, y = problem(rng)
    X[:, ::2] = 0
    results = []
    for backend in ("reference", "compiled"):
        team(threads if backend == "compiled" else None)
        net = nn.Network([30, 24, 16, 3], seed=4, dropout=0.3, backend=backend)
        nn.Trainer(net, optimizer=nn.Adam(0.005), seed=6).fit(X, y, epochs=3, verbose=False)
        results.append(net.theta)
    np.testing.assert_allclose(results[1], results[0], rtol=1e-10, atol=1e-13)
