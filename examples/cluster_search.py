"""When one machine is not enough: a hyper-parameter search on a Dask cluster, and training on data
stored on disk in chunks that never all sit in memory.

    python examples/cluster_search.py                      # a local cluster of 2 worker processes
    python examples/cluster_search.py --scheduler tcp://scheduler-host:8786   # a real cluster
    python examples/cluster_search.py --quick              # smaller grid and data (the tests run this)

nn brings no engine of its own. The search is scikit-learn's GridSearchCV, sent to the cluster's
workers by joblib's "dask" backend; every worker needs nn installed (``pip install "nn-lessons[dask]"``), and
each trains one candidate at a time on its own share of the cores. The out-of-core part streams a
dask.array, one block at a time, through ``partial_fit``: one pass over each block, the network and its
optimizer going on exactly where the last block left them.
"""
import argparse
import os
import tempfile
import time
import warnings

import numpy as np

import nn
from nn.datasets import load_mnist


def search(client_kind, quick):
    """GridSearchCV over an nn.Classifier pipeline, its fits run on the Dask workers."""
    import joblib
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_mnist(kind="train")
    X, y = (X[:1500], y[:1500]) if quick else (X, y)
    grid = {"classifier__hidden_layer_sizes": [(32,), (128,)], "classifier__learning_rate": [1e-3, 3e-3]}
    if not quick:
        grid["classifier__alpha"] = [1e-4, 1e-2]
    pipe = make_pipeline(StandardScaler(), nn.Classifier(max_iter=5 if quick else 20, batch_size=64, random_state=0))
    start = time.perf_counter()
    with joblib.parallel_backend("dask"):
        found = GridSearchCV(pipe, grid, cv=3, n_jobs=-1).fit(X, y)
    print(f"grid search on the {client_kind}: {len(found.cv_results_['params'])} candidates x 3 folds in "
          f"{time.perf_counter() - start:.1f} s")
    print(f"best {found.best_params_}: cross-validated accuracy {found.best_score_:.4f}")


def write_chunks(folder, chunk_rows):
    """The bundled MNIST training sample written to disk as one .npy file per chunk of rows (a
    stand-in for a dataset too large for memory); returns the chunk files."""
    X, y = load_mnist(kind="train", dtype="float32")
    files = []
    for i, start in enumerate(range(0, len(X), chunk_rows)):
        path = os.path.join(folder, f"chunk_{i:03d}.npz")
        np.savez(path, X=X[start:start + chunk_rows], y=y[start:start + chunk_rows])
        files.append(path)
    return files


def out_of_core(folder, epochs, chunk_rows):
    """Train on a dask.array built lazily from the chunk files: only one block is in memory at once."""
    import dask
    import dask.array as da

    files = write_chunks(folder, chunk_rows)
    load = dask.delayed(lambda path, name: np.load(path)[name], pure=True)
    rows = [len(np.load(path)["y"]) for path in files]
    X = da.concatenate([da.from_delayed(load(p, "X"), shape=(n, 784), dtype=np.float32) for p, n in zip(files, rows)])
    y = da.concatenate([da.from_delayed(load(p, "y"), shape=(n,), dtype=np.int64) for p, n in zip(files, rows)])
    print(f"out of core: {X.shape[0]} images in {X.numblocks[0]} blocks of up to {chunk_rows} rows on disk")
    clf = nn.Classifier(hidden_layer_sizes=(128,), learning_rate=1e-3, batch_size=32, dtype="float32", random_state=0)
    for epoch in range(1, epochs + 1):
        for i in range(X.numblocks[0]):  # one block at a time; compute() reads just that chunk
            X_block, y_block = dask.compute(X.blocks[i], y.blocks[i])
            clf.partial_fit(X_block, y_block, classes=np.arange(10))
        print(f"epoch {epoch}: mean loss over the blocks {np.mean(clf.loss_curve_[-X.numblocks[0]:]):.4f}")
    X_test, y_test = load_mnist(kind="test", dtype="float32")
    print(f"test accuracy {clf.score(X_test, y_test):.4f} on {len(X_test)} images")


def quiet():
    """Short runs end before the loss stops improving; that is expected here, so no ConvergenceWarning."""
    from sklearn.exceptions import ConvergenceWarning

    warnings.filterwarnings("ignore", category=ConvergenceWarning)


def main():
    quiet()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scheduler", help="address of a running Dask scheduler (default: start a local cluster)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes of the local cluster")
    parser.add_argument("--epochs", type=int, default=3, help="passes over the on-disk data")
    parser.add_argument("--quick", action="store_true", help="a small grid and data, for a quick check")
    args = parser.parse_args()

    from dask.distributed import Client, LocalCluster

    if args.scheduler:
        client, kind = Client(args.scheduler), f"cluster at {args.scheduler}"
        cluster = None
    else:
        cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None)
        client, kind = Client(cluster), f"local cluster of {args.workers} worker processes"
    try:
        client.run(quiet)  # in every worker process too
        search(kind, args.quick)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    with tempfile.TemporaryDirectory() as folder:
        out_of_core(folder, 1 if args.quick else args.epochs, 1000)


if __name__ == "__main__":
    main()
