"""Objects that travel: every public object pickles and deep-copies, on both backends, before and after
training; the copy behaves exactly as the original, and changing it leaves the original untouched."""
import copy
import pickle
import weakref

import numpy as np
import pytest

import nn

BACKENDS = ["compiled", "reference"]
CLONES = {"pickle": lambda obj: pickle.loads(pickle.dumps(obj)), "deepcopy": copy.deepcopy}


def problem(rng):
    X = rng.normal(size=(60, 4))
    return X, (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1)


@pytest.mark.parametrize("clone", CLONES.values(), ids=CLONES.keys())
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_trainer_and_everything_it_holds_travel_before_and_after_training(rng, backend, clone):
    X, y = problem(rng)
    net = nn.Network([4, 6, 3], activation="tanh", output="softmax", seed=0, backend=backend)
    trainer = nn.Trainer(net, optimizer=nn.Adam(0.01), batch_size=8, seed=0)
    for stage in ("fresh", "trained"):
        twin = clone(trainer)
        assert twin.net is not net and twin.optimizer is not trainer.optimizer
        np.testing.assert_array_equal(twin.net.forward(X), net.forward(X))
        # Both go on identically: same weights, optimizer state and random generator state ...
        history_twin = twin.fit(X, y, epochs=2, verbose=False)
        history = trainer.fit(X, y, epochs=2, verbose=False)
        np.testing.assert_array_equal(twin.net.theta, net.theta)
        assert history_twin.loss == history.loss
        # ... and are independent.
        twin.net.layers[0].W[...] = 0
        assert not np.array_equal(twin.net.forward(X), net.forward(X))
        assert stage


@pytest.mark.parametrize("clone", CLONES.values(), ids=CLONES.keys())
def test_history_early_stopping_weight_trace_and_neuron_travel(rng, clone):
    X, y = problem(rng)
    net = nn.Network([4, 6, 3], activation="tanh", output="softmax", seed=0)
    trace = nn.WeightTrace(0, 1, 2)
    stopper = nn.EarlyStopping(patience=2, min_delta=0.01)
    history = nn.Trainer(net, seed=0).fit(X, y, epochs=3, validation_split=0.2, callbacks=[trace],
                                          early_stopping=stopper, verbose=False)
    for obj in (history, stopper, trace, nn.Neuron([0.5, -1.0], 4.0)):
        twin = clone(obj)
        assert type(twin) is type(obj) and repr(twin) == repr(obj)
    twin = clone(history)
    assert twin.loss == history.loss and twin["val_loss"] == history["val_loss"] and len(twin) == len(history)
    twin.loss.append(0.0)
    assert len(history.loss) == 3
    assert clone(trace).weights == trace.weights


@pytest.mark.parametrize("clone", CLONES.values(), ids=CLONES.keys())
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_dense_layer_travels_alone_and_within_its_network(rng, clone, backend):
    net = nn.Network([4, 6, 3], activation="tanh", output="softmax", seed=0, backend=backend)
    layer = clone(net.layers[0])
    np.testing.assert_array_equal(layer.W, net.layers[0].W)
    layer.W[...] = 1  # the copy is its own
    assert not np.array_equal(net.layers[0].W, layer.W)
    other = nn.Network([layer, nn.Dense(6, 3, "softmax")], backend=backend)
    np.testing.assert_array_equal(other.layers[0].W, np.ones((4, 6)))


def test_the_compiled_backends_caches_live_outside_the_network(rng):
    """Layouts and scratch are kept beside the network, not in it: a pickle of a network that has run
    is no larger than one of a fresh network, and the caches go when the network goes."""
    import gc

    from nn.backends import compiled

    net = nn.Network([30, 40, 3], activation="relu", output="softmax", seed=0, backend="compiled")
    fresh_size = len(pickle.dumps(net))
    X, y = rng.normal(size=(64, 30)), rng.integers(0, 3, size=64)
    nn.Trainer(net, seed=0).fit(X, y, epochs=1, verbose=False)
    net.forward(X)
    assert net in compiled._caches and not any(key.startswith("_core") for key in vars(net))
    assert len(pickle.dumps(net)) == fresh_size
    copy_ = copy.deepcopy(net)
    assert copy_ not in compiled._caches  # a copy makes its own, on first use
    copy_.forward(X)
    assert copy_ in compiled._caches
    networks = [weakref.ref(net), weakref.ref(copy_)]
    del net, copy_
    gc.collect()
    # The networks went (their caches held no strong reference to them), and with them their entries in the
    # weak dictionary: none of its keys is either of them.
    assert [ref() for ref in networks] == [None, None]


def test_a_networks_training_scratch_is_made_once_and_kept_while_it_predicts_at_many_sizes(rng):
    """The core's TrainScratch is allocated once per network and batch size: a second fit reuses it,
    also after predictions at more batch sizes than the layouts' cache holds; a new batch size gets its
    own."""
    from nn.backends import compiled

    net = nn.Network([30, 40, 3], activation="relu", output="softmax", seed=0, backend="compiled")
    X, y = rng.normal(size=(256, 30)), rng.integers(0, 3, size=256)
    trainer = nn.Trainer(net, batch_size=64, seed=0)
    trainer.fit(X, y, epochs=1, verbose=False)
    scratch = dict(compiled._caches[net]["train"])
    assert len(scratch) == 1
    for n in (1, 3, 9, 17, 33, 65, 129):  # seven power-of-two layouts: more than the layout pool keeps
        net.forward(X[:n])
    assert len(compiled._caches[net]["layout"]) == compiled.MAX_CACHED["layout"]
    trainer.fit(X, y, epochs=1, verbose=False)
    assert compiled._caches[net]["train"] == scratch  # the very same objects
    nn.Trainer(net, batch_size=32, seed=0).fit(X, y, epochs=1, verbose=False)
    assert len(compiled._caches[net]["train"]) == 2
