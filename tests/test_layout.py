"""nn.layout: where each parameter lives in theta, the per-layer views, one weight's offset, snapshots."""
import copy
import pickle

import numpy as np
import pytest

import nn
from nn import layout
from nn.backends import available
from nn.backends import get as get_backend

# Hand-computed: sizes -> (n_params, [(W offset, b offset), ...]).
# [3, 2, 1]: W_0 3x2 at 0..5, b_0 at 6..7, W_1 2x1 at 8..9, b_1 at 10.
# [4, 5, 3, 2]: W_0 at 0 (20), b_0 at 20 (5), W_1 at 25 (15), b_1 at 40 (3), W_2 at 43 (6), b_2 at 49 (2).
SHAPES = {(3, 2, 1): (11, [(0, 6), (8, 10)]),
          (4, 5, 3, 2): (51, [(0, 20), (25, 40), (43, 49)]),
          (7, 1): (8, [(0, 7)])}


@pytest.mark.parametrize("sizes", SHAPES)
def test_offsets_by_hand(sizes):
    n, offsets = SHAPES[sizes]
    assert layout.n_params(sizes) == n == nn.Network(list(sizes)).n_params
    assert layout.layer_offsets(sizes) == offsets


@pytest.mark.skipif("compiled" not in available(), reason="the compiled core is not built")
@pytest.mark.parametrize("sizes", list(SHAPES) + [(784, 128, 10), (2, 2, 1)])
@pytest.mark.parametrize("inference", [False, True])
def test_the_core_places_every_parameter_where_the_layout_does(sizes, inference):
    from nn import _core
    lay = _core.layout(np.array(sizes, dtype=np.intp), np.zeros(len(sizes) - 1, dtype=np.intp), 4, inference)
    assert lay.n_params == layout.n_params(sizes)
    assert lay.weight_offsets() == layout.layer_offsets(sizes)


@pytest.mark.parametrize("sizes", SHAPES)
def test_views_share_the_vector_and_cover_it_in_order(sizes):
    flat = np.arange(layout.n_params(sizes), dtype=float)
    views = layout.layer_views(sizes, flat)
    shapes = [((n_in, n_out), (n_out,)) for n_in, n_out in zip(sizes, sizes[1:])]
    assert [(W.shape, b.shape) for W, b in views] == shapes
    assert all(np.shares_memory(W, flat) and np.shares_memory(b, flat) for W, b in views)
    np.testing.assert_array_equal(np.concatenate([p.ravel() for W, b in views for p in (W, b)]), flat)
    views[-1][0][...] = -1.0  # writing to a view writes into the vector
    W_start, b_start = layout.layer_offsets(sizes)[-1]
    assert (flat[W_start:b_start] == -1).all() and (flat[:W_start] >= 0).all() and (flat[b_start:] >= 0).all()


def test_a_networks_layers_are_its_views():
    net = nn.Network([4, 5, 3, 2], seed=0)
    for layer, (W, b) in zip(net.layers, layout.layer_views(net.sizes, net.parameter_vector())):
        np.testing.assert_array_equal(layer.W, W)
        np.testing.assert_array_equal(layer.b, b)


def on_a_line(array):
    return array.ctypes.data % layout.ALIGNMENT == 0


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_zeros_start_on_a_cache_line(dtype):
    """NumPy aligns to 16 bytes: among these sizes some arrays would start off a line without the offset."""
    for n in [1, 3, 10, 101, 1000, 101_770, 1 << 20]:
        z = layout.zeros(n, dtype)
        assert z.shape == (n,) and z.dtype == dtype and z.flags.c_contiguous and z.flags.writeable
        assert on_a_line(z)
        assert not z.any()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_theta_starts_on_a_cache_line_made_loaded_or_copied(tmp_path, dtype):
    net = nn.Network([784, 128, 10], dtype=dtype, seed=0)
    net.save(tmp_path / "net.npz")
    for other in (net, nn.Network.load(tmp_path / "net.npz"), copy.deepcopy(net),
                  pickle.loads(pickle.dumps(net))):
        assert on_a_line(other.parameter_vector())
        np.testing.assert_array_equal(other.parameter_vector(), net.parameter_vector())
        assert np.shares_memory(other.layers[0].W, other.parameter_vector())  # the layers are views into it again
    misaligned = np.zeros(net.n_params + 8, dtype=dtype)[1:net.n_params + 1]
    misaligned[...] = net.parameter_vector()
    misaligned.flags.writeable = False  # (as a read-only memory map could arrive)
    state = copy.deepcopy(net).__dict__  # as a copy's state arrives, but with theta off a line
    state["_theta"] = misaligned
    twin = nn.Network.__new__(nn.Network)
    twin.__setstate__(state)
    assert on_a_line(twin.parameter_vector()) and twin.parameter_vector().flags.writeable
    np.testing.assert_array_equal(twin.parameter_vector(), net.parameter_vector())


def test_views_need_a_vector_of_the_right_length():
    with pytest.raises(ValueError, match="flat must hold the 11 parameters"):
        layout.layer_views([3, 2, 1], np.zeros(10))


@pytest.mark.parametrize("sizes", SHAPES)
def test_weight_offset_finds_each_weight(sizes):
    flat = np.arange(layout.n_params(sizes), dtype=float)
    for layer, (W, _) in enumerate(layout.layer_views(sizes, flat)):
        for source in range(W.shape[0]):
            for target in range(W.shape[1]):
                assert flat[layout.weight_offset(sizes, layer, source, target)] == W[source, target]
    assert layout.weight_offset([3, 2, 1], 1, 1, 0) == 8 + 1  # W_1 starts at 8; row 1 of one column


@pytest.mark.parametrize("where, match", [((2, 0, 0), "layer 2 does not exist: the network has 2 layers"),
                                          ((0, 3, 0), r"W\[3, 0\] is outside layer 0's 3 x 2 weights"),
                                          ((1, 0, 1), r"W\[0, 1\] is outside layer 1's 2 x 1 weights")])
def test_weight_offset_outside_the_network(where, match):
    with pytest.raises(ValueError, match=match):
        layout.weight_offset([3, 2, 1], *where)


@pytest.mark.parametrize("optimizer, parts", [(nn.SGD, 1), (nn.Momentum, 2), (nn.RMSprop, 2), (nn.Adam, 3)])
def test_snapshot_size_is_theta_and_each_state_array(optimizer, parts):
    assert layout.snapshot_size(11, optimizer()) == parts * 11 == (1 + len(optimizer.state_names)) * 11
    assert layout.Snapshot(11, optimizer(), np.float32).vector.dtype == np.float32


def adam_trained(rng, steps=3):
    net = nn.Network([3, 4, 2], activation="tanh", output="softmax", seed=0, backend="reference")
    adam = nn.Adam(0.01)
    trainer = nn.Trainer(net, optimizer=adam, batch_size=4, seed=0)
    X, y = rng.normal(size=(4 * steps, 3)), rng.integers(0, 2, size=4 * steps)
    return net, adam, trainer, X, y


def test_snapshot_round_trip_with_adam_state(rng):
    net, adam, trainer, X, y = adam_trained(rng)
    trainer.fit(X, y, verbose=False)
    snapshot = layout.Snapshot(net.n_params, adam, net.dtype)
    snapshot.save(net, adam)
    theta, m, v, steps = net.theta, adam.state["m"][0].copy(), adam.state["v"][0].copy(), adam.steps
    assert steps == 3 and m.any() and v.any()
    saved_theta, saved_m, saved_v = snapshot.parts()
    np.testing.assert_array_equal(saved_theta, theta)  # the layout: theta, then m, then v
    np.testing.assert_array_equal(saved_m, m)
    np.testing.assert_array_equal(saved_v, v)
    trainer.fit(X, y, epochs=2, verbose=False)  # moves all four
    assert adam.steps == 9 and not np.array_equal(net.theta, theta) and not np.array_equal(adam.state["m"][0], m)
    snapshot.restore(net, adam)
    np.testing.assert_array_equal(net.theta, theta)
    np.testing.assert_array_equal(adam.state["m"][0], m)
    np.testing.assert_array_equal(adam.state["v"][0], v)
    assert adam.steps == steps
    assert np.shares_memory(net.layers[0].W, net.parameter_vector())  # restored in place: the views still see it


def test_a_snapshot_never_saved_cannot_be_restored():
    net, adam = nn.Network([2, 1]), nn.Adam()
    with pytest.raises(RuntimeError, match="never saved"):
        layout.Snapshot(net.n_params, adam, net.dtype).restore(net, adam)


@pytest.mark.parametrize("backend", available())
@pytest.mark.parametrize("make_optimizer", [lambda: nn.SGD(0.1), lambda: nn.Momentum(0.1, 0.9), lambda: nn.Adam(0.01)],
                         ids=["sgd", "momentum", "adam"])
def test_train_epochs_leaves_the_last_epochs_start_in_the_snapshot(backend, make_optimizer, rng):
    """Three epochs in one call: the snapshot holds what one epoch fewer leaves (theta, state, steps)."""
    X, Y = rng.normal(size=(10, 3)), np.eye(2)[rng.integers(0, 2, size=10)]
    orders = np.array([rng.permutation(10) for _ in range(3)])
    runs = []
    for n_epochs in (2, 3):
        net = nn.Network([3, 4, 2], activation="tanh", output="softmax", seed=0, backend=backend)
        optimizer = make_optimizer()
        snapshot = layout.Snapshot(net.n_params, optimizer, net.dtype)
        get_backend(backend).train_epochs(net, X, Y, "cross_entropy", optimizer, orders[:n_epochs], 3, snapshot)
        states = [optimizer.state[name][0].copy() for name in optimizer.state_names]
        runs.append((net.theta, states, optimizer.steps, snapshot))
    (theta, states, steps, _), (_, _, _, snapshot) = runs
    assert steps == 2 * 4  # ceil(10 / 3) updates an epoch
    assert snapshot.steps == steps
    for saved, expected in zip(snapshot.parts(), [theta] + states):
        np.testing.assert_array_equal(saved, expected)
