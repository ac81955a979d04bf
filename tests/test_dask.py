"""When one machine is not enough: a grid search on a real local Dask cluster (worker processes), and
training out of core, block by block, from a dask.array or a memory-mapped file larger than a budget."""
import tracemalloc

import numpy as np
import pytest

pytest.importorskip("sklearn")
distributed = pytest.importorskip("dask.distributed")
import dask  # noqa: E402
import dask.array as da  # noqa: E402
import joblib  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402

import nn  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def problem(rng, n=300):
    centers = rng.normal(scale=4, size=(3, 6))
    ids = rng.integers(0, 3, size=n)
    return centers[ids] + rng.normal(size=(n, 6)), ids


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        yield client


def test_grid_search_on_a_local_dask_cluster_equals_the_local_search(client, rng):
    X, y = problem(rng)
    grid = {"hidden_layer_sizes": [(4,), (16,)], "learning_rate": [1e-3, 1e-2]}
    estimator = nn.Classifier(max_iter=30, random_state=0)
    with joblib.parallel_backend("dask"):
        on_cluster = GridSearchCV(estimator, grid, cv=3, n_jobs=-1).fit(X, y)
    workers = client.run(lambda: __import__("nn").__file__)
    assert len(workers) == 2  # two worker processes, each importing nn
    local = GridSearchCV(estimator, grid, cv=3, n_jobs=1).fit(X, y)
    np.testing.assert_array_equal(on_cluster.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"])
    assert on_cluster.best_params_ == local.best_params_ and on_cluster.best_score_ > 0.8


def test_partial_fit_over_the_blocks_of_a_dask_array(rng):
    """Streaming a dask.array block by block through partial_fit is the same training as the same
    blocks given as NumPy arrays."""
    X, y = problem(rng, n=400)
    X_dask, y_dask = da.from_array(X, chunks=(100, 6)), da.from_array(y, chunks=100)
    streamed = nn.Classifier(hidden_layer_sizes=(8,), batch_size=16, learning_rate=0.05, random_state=0)
    direct = nn.Classifier(hidden_layer_sizes=(8,), batch_size=16, learning_rate=0.05, random_state=0)
    for _ in range(2):
        for i in range(X_dask.numblocks[0]):
            X_block, y_block = dask.compute(X_dask.blocks[i], y_dask.blocks[i])
            streamed.partial_fit(X_block, y_block, classes=[0, 1, 2])
            direct.partial_fit(X[i * 100:(i + 1) * 100], y[i * 100:(i + 1) * 100], classes=[0, 1, 2])
    np.testing.assert_array_equal(streamed.network_.theta, direct.network_.theta)
    assert streamed.n_iter_ == 8 and streamed.score(X, y) > 0.8


@pytest.mark.parametrize("backend", ["compiled", "reference"])
def test_training_on_a_memory_mapped_file_larger_than_the_memory_budget(tmp_path, rng, backend):
    """A 48 MB float32 .npy file, trained on through a read-only memory map in blocks of 2 MB: the
    Python heap never holds more than a small part of it (budget: 16 MB, a third of the file)."""
    n, d = 6000, 2000
    centers = rng.normal(scale=3, size=(2, d)).astype(np.float32)
    ids = rng.integers(0, 2, size=n)
    path = tmp_path / "big.npy"
    data = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, d))
    for start in range(0, n, 500):
        stop = start + 500
        data[start:stop] = centers[ids[start:stop]] + rng.normal(size=(stop - start, d)).astype(np.float32)
    data.flush()
    del data
    X = np.load(path, mmap_mode="r")
    assert not X.flags.writeable and X.nbytes == 48_000_000
    clf = nn.Classifier(hidden_layer_sizes=(16,), batch_size=32, dtype="float32", random_state=0, backend=backend)
    block = 250  # 2 MB of rows
    tracemalloc.start()
    try:
        for start in range(0, n, block):
            clf.partial_fit(X[start:start + block], ids[start:start + block], classes=[0, 1])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16_000_000, f"peak {peak / 1e6:.1f} MB"
    assert clf.score(X[:500], ids[:500]) > 0.9
