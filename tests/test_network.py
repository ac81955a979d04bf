"""Network: construction, initialisation, theta, forward/predict, summary, save/load."""
import copy
import os
import pickle

import numpy as np
import pytest

import nn


def test_mnist_shape_and_parameter_count():
    net = nn.Network([784, 128, 10], activation="relu", output="softmax")
    assert net.sizes == [784, 128, 10]
    assert net.activations == ["relu", "softmax"]
    assert [p.shape for p in net.parameters()] == [(784, 128), (128,), (128, 10), (10,)]
    assert net.n_params == 784 * 128 + 128 + 128 * 10 + 10


def test_any_depth_and_dense_list():
    net = nn.Network([nn.Dense(3, 5, "tanh"), nn.Dense(5, 4, "relu"), nn.Dense(4, 4, "leaky_relu"),
                      nn.Dense(4, 2, "identity")], seed=0)
    assert net.activations == ["tanh", "relu", "leaky_relu", "identity"]
    assert net.forward(np.ones((6, 3))).shape == (6, 2)


def test_dense_sizes_must_chain():
    with pytest.raises(ValueError, match=r"layers\[0\] has 5 outputs but layers\[1\] expects 4"):
        nn.Network([nn.Dense(3, 5), nn.Dense(4, 2)])


def test_init_schemes(rng):
    big = [400, 300, 10]
    default = nn.Network(big, seed=0)  # scikit-learn's: W and b uniform in +-sqrt(6/(n_in+n_out))
    torch_like = nn.Network(big, seed=0, init="uniform")  # PyTorch's: W and b uniform in +-1/sqrt(n_in)
    for network, bound in ((default, np.sqrt(6 / 700)), (torch_like, 1 / np.sqrt(400))):
        for p in (network.layers[0].W, network.layers[0].b):
            assert np.abs(p).max() <= bound and np.std(p) == pytest.approx(bound / np.sqrt(3), rel=0.1)
    sigmoid = nn.Network(big, activation="sigmoid", seed=0)
    assert np.abs(sigmoid.layers[0].W).max() <= np.sqrt(2 / 700) < np.abs(default.layers[0].W).max()
    he = nn.Network(big, init="he", seed=0)
    assert np.std(he.layers[0].W) == pytest.approx(np.sqrt(2 / 400), rel=0.02)
    glorot = nn.Network(big, activation="tanh", init="glorot", seed=0)
    limit = np.sqrt(6 / 700)
    assert np.abs(glorot.layers[0].W).max() <= limit
    assert np.std(glorot.layers[0].W) == pytest.approx(limit / np.sqrt(3), rel=0.02)
    normal = nn.Network(big, init="normal", seed=0)
    assert np.std(normal.layers[0].W) == pytest.approx(1.0, rel=0.02)
    assert all(np.all(layer.b == 0) for network in (he, glorot, normal) for layer in network.layers)
    assert np.std(nn.Network(big, bias_init="normal", seed=0).layers[0].b) > 0.5
    assert np.all(nn.Network(big, bias_init="zeros", seed=0).layers[0].b == 0)


def test_same_seed_same_weights_in_both_dtypes():
    a = nn.Network([5, 4, 3], seed=3)
    b = nn.Network([5, 4, 3], seed=3)
    c = nn.Network([5, 4, 3], seed=3, dtype="float32")
    np.testing.assert_array_equal(a.theta, b.theta)
    np.testing.assert_array_equal(c.theta, a.theta.astype(np.float32))
    assert c.theta.dtype == np.float32
    assert not np.array_equal(a.theta, nn.Network([5, 4, 3], seed=4).theta)


def test_theta_layout_and_assignment():
    net = nn.Network([3, 2, 1], seed=0)
    W1, b1, W2, b2 = net.parameters()
    np.testing.assert_array_equal(net.theta, np.concatenate([W1.ravel(), b1, W2.ravel(), b2]))
    new = np.arange(net.n_params, dtype=float)
    net.theta = new
    np.testing.assert_array_equal(net.layers[0].W, new[:6].reshape(3, 2))
    np.testing.assert_array_equal(net.layers[1].b, new[-1:])
    theta = net.theta
    theta[0] = 99  # a copy: changing it leaves the network alone
    assert net.layers[0].W[0, 0] == 0
    with pytest.raises(ValueError, match="theta must have shape"):
        net.theta = np.zeros(3)
    with pytest.raises(ValueError, match="finite"):
        net.theta = np.full(net.n_params, np.nan)


def test_parameter_vector_is_the_live_theta():
    """The backends' and optimizers' accessor: the vector itself, which layer.W and layer.b view."""
    net = nn.Network([3, 2, 1], seed=0)
    live = net.parameter_vector()
    assert live is net.parameter_vector()
    np.testing.assert_array_equal(live, net.theta)
    live[1] = 5.0  # W_0[0, 1]
    assert net.layers[0].W[0, 1] == 5.0 and net.theta[1] == 5.0
    net.layers[1].b = [7.0]
    assert live[-1] == 7.0


def test_layer_assignment_writes_into_theta():
    net = nn.Network([2, 2, 1])
    net.layers[1].W = [[3.0], [4.0]]
    assert list(net.theta[6:8]) == [3.0, 4.0]
    with pytest.raises(ValueError, match="W must have shape"):
        net.layers[1].W = np.zeros((3, 3))


def test_predict_and_predict_proba(rng):
    X = rng.normal(size=(8, 4))
    clf = nn.Network([4, 6, 3], activation="relu", output="softmax", seed=0)
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1)
    np.testing.assert_array_equal(clf.predict(X), proba.argmax(axis=1))
    binary = nn.Network([4, 3, 1], output="sigmoid", seed=0)
    assert binary.predict(X).shape == (8,)
    assert set(binary.predict(X)) <= {0, 1}
    reg = nn.Network([4, 3, 1], activation="tanh", output="identity", seed=0)
    np.testing.assert_array_equal(reg.predict(X), reg.forward(X)[:, 0])
    with pytest.raises(ValueError, match="predict_proba needs"):
        reg.predict_proba(X)
    assert clf.forward(X[0]).shape == (3,)  # a 1-D X is one sample


def test_summary_lists_layers_and_counts():
    text = nn.Network([784, 128, 10], activation="relu", output="softmax").summary()
    assert "784 x 128" in text and "128 x 10" in text
    assert "100,480" in text and "1,290" in text and "total parameters: 101,770" in text
    assert "Network([784, 128, 10]" in repr(nn.Network([784, 128, 10]))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_save_load_round_trip(tmp_path, dtype, rng):
    net = nn.Network([nn.Dense(4, 5, "tanh"), nn.Dense(5, 3, "softmax")], dtype=dtype, seed=2)
    path = tmp_path / "model.npz"
    net.save(path)
    loaded = nn.Network.load(path)
    assert loaded.sizes == net.sizes and loaded.activations == net.activations
    assert loaded.theta.dtype == net.theta.dtype
    np.testing.assert_array_equal(loaded.theta, net.theta)
    X = rng.normal(size=(3, 4))
    np.testing.assert_array_equal(loaded.forward(X), net.forward(X))
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]  # no temp file left behind


def test_save_is_atomic_when_writing_fails(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    nn.Network([2, 1], seed=0).save(path)
    before = path.read_bytes()

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken)
    with pytest.raises(OSError, match="disk full"):
        nn.Network([2, 1], seed=1).save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]


def test_load_rejects_corrupt_truncated_and_foreign_files(tmp_path):
    good = tmp_path / "good.npz"
    nn.Network([3, 2], seed=0).save(good)
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(os.urandom(500))
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, weights=np.ones(3))
    wrong_format = tmp_path / "wrong.npz"
    np.savez(wrong_format, format=np.array("other"), format_version=np.array(1), sizes=np.array([3, 2]),
             activations=np.array(["sigmoid"]), dtype=np.array("float64"), theta=np.zeros(8))
    bad_theta = tmp_path / "bad_theta.npz"
    np.savez(bad_theta, format=np.array("nn-network"), format_version=np.array(1), sizes=np.array([3, 2]),
             activations=np.array(["sigmoid"]), dtype=np.array("float64"), theta=np.zeros(5))
    future = tmp_path / "future.npz"
    np.savez(future, format=np.array("nn-network"), format_version=np.array(99), sizes=np.array([3, 2]),
             activations=np.array(["sigmoid"]), dtype=np.array("float64"), theta=np.zeros(8))
    for path in (truncated, garbage, foreign, wrong_format, bad_theta, future):
        with pytest.raises(ValueError, match=path.name):
            nn.Network.load(path)
    with pytest.raises(FileNotFoundError):
        nn.Network.load(tmp_path / "missing.npz")


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(layers=[2, 3], activation="swish"), ValueError, "unknown activation 'swish'; expected one of: identity"),
    (dict(layers=[2, 3], output="gelu"), ValueError, "unknown output"),
    (dict(layers=[2, 3], dtype="int32"), ValueError, "dtype must be 'float64' or 'float32'"),
    (dict(layers=[2]), ValueError, "at least an input and an output"),
    (dict(layers=[2, 0]), ValueError, r"layers\[1\] must be >= 1"),
    (dict(layers=[2, 2.5]), TypeError, r"layers\[1\] must be an integer"),
    (dict(layers="784"), TypeError, "layers must be a list"),
    (dict(layers=[2, 3], init="xavier"), ValueError, "unknown init"),
    (dict(layers=[2, 3], backend="gpu"), ValueError, "unknown backend 'gpu'"),
])
def test_bad_construction_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        nn.Network(**kwargs)


@pytest.mark.parametrize("X, error, match", [
    (np.ones((4, 3)), ValueError, "X has 3 features but the network expects 2"),
    (np.array([[1.0, np.nan]]), ValueError, "X contains NaN"),
    (np.array([[1.0, np.inf]]), ValueError, "X contains NaN"),
    (np.zeros((0, 2)), ValueError, "X is empty"),
    (np.array([["a", "b"]]), TypeError, "X must be numeric"),
    (np.ones((2, 2, 2)), ValueError, "X must have 1 or 2 dimensions"),
])
def test_forward_rejects_bad_X(X, error, match):
    with pytest.raises(error, match=match):
        nn.Network([2, 1]).forward(X)


def test_neuron_checks_its_input():
    with pytest.raises(ValueError, match="x has 3 inputs but the neuron has 2 weights"):
        nn.Neuron([0, 1], 4).feedforward([1, 2, 3])
    assert "Neuron(weights=[0.0, 1.0]" in repr(nn.Neuron([0, 1], 4))


# ----- a Dense belongs to one network ---------------------------------------------------------------------
def test_a_network_adopts_dense_layers_that_belong_to_no_network():
    first, second = nn.Dense(3, 4, "tanh"), nn.Dense(4, 2)
    net = nn.Network([first, second], seed=0)
    assert net.layers[0] is first and net.layers[1] is second
    assert np.shares_memory(first.W, net.parameter_vector())


def test_layers_of_another_network_are_copied_not_shared(rng):
    a = nn.Network([3, 4, 2], activation="tanh", seed=0)
    before = a.theta
    b = nn.Network(a.layers, seed=1)
    assert b.sizes == a.sizes and b.activations == a.activations
    np.testing.assert_array_equal(b.theta, before)  # the copies keep the current values
    assert all(mine is not theirs for mine, theirs in zip(b.layers, a.layers))
    b.theta = np.zeros(b.n_params)
    b.layers[0].W = np.ones((3, 4))
    np.testing.assert_array_equal(a.theta, before)
    assert all(np.shares_memory(layer.W, a.parameter_vector()) for layer in a.layers)
    X = rng.normal(size=(5, 3))
    a.backend = "reference"
    by_reference = a.forward(X)
    a.backend = "compiled"
    np.testing.assert_allclose(a.forward(X), by_reference, rtol=1e-12)


def test_one_dense_listed_twice_gets_two_sets_of_parameters():
    square = nn.Dense(3, 3, "tanh")
    net = nn.Network([square, square], seed=0)
    assert net.layers[0] is square and net.layers[1] is not square
    assert np.shares_memory(net.layers[1].W, net.parameter_vector())
    assert not np.shares_memory(net.layers[0].W, net.layers[1].W)


# ----- copies: pickle and deepcopy ------------------------------------------------------------------------
def pickled(net):
    return pickle.loads(pickle.dumps(net))


def trained(net, rng):
    X, y = rng.normal(size=(40, 3)), rng.integers(0, 2, size=40)
    nn.Trainer(net, seed=0, batch_size=8).fit(X, y, epochs=3, verbose=False)
    return net


def after_a_forward(net, rng):
    net.forward(rng.normal(size=(4, 3)))
    return net


@pytest.mark.parametrize("backend", ["reference", "compiled"])
@pytest.mark.parametrize("copier", [pickled, copy.deepcopy], ids=["pickle", "deepcopy"])
@pytest.mark.parametrize("history", [lambda net, rng: net, trained, after_a_forward],
                         ids=["fresh", "trained", "after-forward"])
def test_a_copy_predicts_the_same_and_owns_its_parameters(backend, copier, history, rng):
    original = history(nn.Network([3, 5, 2], activation="tanh", output="softmax", seed=0, backend=backend), rng)
    before = original.theta
    twin = copier(original)
    assert twin.backend == backend and twin.sizes == original.sizes and twin.activations == original.activations
    X = rng.normal(size=(6, 3))
    np.testing.assert_array_equal(twin.forward(X), original.forward(X))
    for layer in twin.layers:
        assert np.shares_memory(layer.W, twin.parameter_vector()) and np.shares_memory(layer.b, twin.parameter_vector())
        assert not np.shares_memory(layer.W, original.parameter_vector())
    twin.layers[0].W = np.zeros((3, 5))
    twin.theta = twin.theta + 1
    np.testing.assert_array_equal(original.theta, before)
    assert twin.layers[1].b[0] == twin.theta[-2]  # still views after the writes
    twin2 = nn.Network(twin.layers)  # the copy's layers belong to the copy
    assert twin2.layers[0] is not twin.layers[0]


# ----- float32: a finite value too large for it is an error, never an inf ---------------------------------
HUGE = 1e39  # finite in float64, beyond float32's 3.4e38


@pytest.mark.parametrize("argument, layer", [
    ("weights", lambda: nn.Dense(2, 2, weights=np.full((2, 2), HUGE))),
    ("bias", lambda: nn.Dense(2, 2, bias=[0.0, -HUGE])),
])
def test_given_values_too_large_for_float32(argument, layer):
    nn.Network([layer()], dtype="float64")  # float64 holds them
    with pytest.raises(ValueError, match=rf"{argument} of layers\[0\] has values too large for float32"):
        nn.Network([layer()], dtype="float32")


def test_theta_and_layer_values_too_large_for_float32():
    net = nn.Network([2, 3, 1], dtype="float32", seed=0)
    before = net.theta
    with pytest.raises(ValueError, match="theta has values too large for float32"):
        net.theta = np.full(net.n_params, HUGE)
    with pytest.raises(ValueError, match="W has values too large for float32"):
        net.layers[0].W = np.full((2, 3), HUGE)
    with pytest.raises(ValueError, match="b has values too large for float32"):
        net.layers[1].b = [-HUGE]
    np.testing.assert_array_equal(net.theta, before)
    with pytest.raises(TypeError, match="theta must be numeric"):
        net.theta = ["a"] * net.n_params


def test_a_float32_model_file_with_values_too_large_for_float32(tmp_path):
    path = tmp_path / "huge.npz"
    np.savez(path, format=np.array("nn-network"), format_version=np.array(1), sizes=np.array([2, 1]),
             activations=np.array(["sigmoid"]), dtype=np.array("float32"), theta=np.array([1.0, HUGE, 0.0]))
    with pytest.raises(ValueError, match="huge.npz.*too large for float32"):
        nn.Network.load(path)


@pytest.mark.parametrize("seed", [-1, 2.5, "3"])
def test_network_seed_must_be_a_whole_number(seed):
    with pytest.raises(ValueError, match="seed must be None or a whole number >= 0"):
        nn.Network([2, 1], seed=seed)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("backend", ["reference", "compiled", "compiled-team"])
def test_forward_on_arrays_that_need_no_conversion(backend, dtype, rng, monkeypatch):
    """Network.forward hands a C-contiguous array of the network's dtype straight to the backend (the
    compiled one checks its values itself: one-row latency). The answers are those of the converted path
    (a list, another dtype, a strided view) and of the reference, one row or many, read-only or not."""
    if backend.split("-")[0] not in nn.backends.available():
        pytest.skip("the compiled core is not built")
    if backend == "compiled-team":  # blocks of 8 rows shared by 3 threads, on lists of nonzeros
        from nn.backends import compiled
        monkeypatch.setattr(compiled, "INFERENCE_TEAM_MIN_WORK", 0)
        monkeypatch.setattr(compiled, "INFERENCE_BLOCK", 8)
        monkeypatch.setattr(compiled, "get_num_threads", lambda: 3)
        backend = "compiled"
    net = nn.Network([20, 16, 3], dtype=dtype, seed=1, backend=backend)
    twin = nn.Network([20, 16, 3], dtype=dtype, seed=1, backend="reference")
    X = rng.standard_normal((90, 20)).astype(dtype)
    X[:, ::3] = 0  # some zeros: the lists of nonzeros skip them
    X[40:] *= rng.random((50, 20)) < 0.2  # mostly zeros: lists
    tol = 1e-12 if dtype == "float64" else 1e-5
    for rows in (X[:1], X[:4], X[:5], X[:9], X, X[40:]):
        np.testing.assert_allclose(net.forward(rows), twin.forward(rows), rtol=tol, atol=tol)
        np.testing.assert_allclose(net.forward(rows), net.forward(rows.tolist()), rtol=tol, atol=tol)
    np.testing.assert_allclose(net.forward(X[0]), twin.forward(X[0]), rtol=tol, atol=tol)
    assert net.forward(X[0]).shape == (3,)
    wide = np.zeros((90, 40), dtype=dtype)
    wide[:, ::2] = X  # a strided view: converted, same answers
    np.testing.assert_allclose(net.forward(wide[:, ::2]), net.forward(X), rtol=tol, atol=tol)
    frozen = X.copy()
    frozen.flags.writeable = False
    np.testing.assert_array_equal(net.forward(frozen), net.forward(X))


@pytest.mark.parametrize("backend", ["reference", "compiled"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_forward_reports_nan_and_inf_on_the_fast_path(backend, bad):
    if backend not in nn.backends.available():
        pytest.skip("the compiled core is not built")
    net = nn.Network([5, 4, 2], seed=0, backend=backend)
    for X in (np.ones(5), np.ones((3, 5)), np.ones((6000, 5))):  # one row, a few, several pieces
        X.reshape(-1)[-1] = bad
        with pytest.raises(ValueError, match="X contains NaN or infinite values"):
            net.forward(X)


def test_several_sigmoid_outputs_predict_a_yes_or_no_per_output(rng):
    """Multi-label: each sigmoid output answers on its own; the classes name the outputs (the columns), so
    the prediction is the 0/1 matrix, not labels picked by 0 and 1."""
    net = nn.Network([4, 3], output="sigmoid", seed=2, bias_init="normal")
    X = rng.normal(size=(50, 4))
    expected = (net.forward(X) > 0.5).astype(np.int64)
    np.testing.assert_array_equal(net.predict(X), expected)
    net.classes = ["red", "green", "blue"]
    np.testing.assert_array_equal(net.predict(X), expected)
    one = nn.Network([4, 1], output="sigmoid", seed=2)
    one.classes = ["no", "yes"]  # one output: its two answers are the classes
    assert set(one.predict(X)) <= {"no", "yes"}
