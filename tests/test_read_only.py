"""Read-only data (np.load(..., mmap_mode="r"), joblib's shared arrays, Ray's object store) is read in
place by fit, predict, forward, evaluate and gradcheck, on both backends, with the same results."""
import numpy as np
import pytest

import nn

BACKENDS = ["compiled", "reference"]


@pytest.fixture
def mapped(tmp_path, rng):
    """(X, y) as read-only memory maps of .npy files, and writable copies."""
    X = rng.random(size=(200, 30)) * (rng.random(size=(200, 30)) < 0.2)  # mostly zeros: the sparse path too
    y = rng.integers(0, 3, size=200)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    X_map, y_map = np.load(tmp_path / "X.npy", mmap_mode="r"), np.load(tmp_path / "y.npy", mmap_mode="r")
    assert not X_map.flags.writeable and not y_map.flags.writeable
    return X_map, y_map, X, y


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_read_only_arrays_everywhere(mapped, backend, dtype):
    X_map, y_map, X, y = mapped
    results = []
    for X_, y_ in ((X_map, y_map), (X, y)):
        net = nn.Network([30, 16, 3], activation="relu", output="softmax", seed=0, backend=backend, dtype=dtype)
        trainer = nn.Trainer(net, optimizer=nn.Adam(0.01), batch_size=16, seed=0)
        trainer.fit(X_, y_, epochs=2, verbose=False)
        results.append((net.theta, net.forward(X_), net.predict(X_), trainer.evaluate(X_, y_)))
        if dtype == "float64":
            assert nn.gradcheck(net, X_[:5], y_[:5], "cross_entropy") < 1e-6
    for got, expected in zip(*results):
        if isinstance(got, dict):
            assert got == expected
        else:
            np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_read_only_network_file_and_weights_from_a_read_only_array(tmp_path, backend, rng):
    net = nn.Network([4, 5, 2], activation="tanh", output="softmax", seed=0, backend=backend)
    weights = net.theta
    weights.flags.writeable = False
    other = nn.Network([4, 5, 2], activation="tanh", output="softmax", seed=1, backend=backend)
    other.theta = weights
    X = rng.normal(size=(3, 4))
    X.flags.writeable = False
    np.testing.assert_array_equal(other.forward(X), net.forward(X))


def _fit_in_worker(X, y, seed):
    import nn as nn_in_worker

    assert not X.flags.writeable  # joblib handed the worker a read-only memory map
    net = nn_in_worker.Network([X.shape[1], 8, 3], activation="relu", output="softmax", seed=seed)
    nn_in_worker.Trainer(net, seed=seed).fit(X, y, epochs=1, verbose=False)
    return net.predict(X[:10])


def test_joblib_workers_train_on_memory_mapped_data(rng):
    """joblib memory-maps every array over 1 MB for its worker processes, read-only: training there works."""
    joblib = pytest.importorskip("joblib")
    X = rng.random(size=(2000, 100))  # 1.6 MB
    y = rng.integers(0, 3, size=2000)
    results = joblib.Parallel(n_jobs=2, max_nbytes="1M")(joblib.delayed(_fit_in_worker)(X, y, s) for s in range(2))
    assert len(results) == 2 and all(r.shape == (10,) for r in results)
