"""Benchmarks: nn's reference and compiled backends, and PyTorch and scikit-learn when installed.

One process and one table, with the same data, initial weights, batch order and thread count (the
runners of PyTorch and scikit-learn are in peers.py). Run from a checkout of nn's repository, with nn
installed from it or on PYTHONPATH (see bench/README.md):

    python bench/run.py [--data DIR] [--repeat 5] [--threads N] [--only W1,W3,limit] [--json FILE]

Workloads:
  W1     the lessons' gender network: 2-2-1 sigmoid, MSE, per-sample SGD lr 0.1, 1000 epochs (4000 steps)
  W3     MNIST 784-128-10 ReLU/softmax, cross-entropy, SGD lr 0.1, one epoch over the training images,
         batch 32 and 128 in float64 and float32, and batch 1 in float64
  limit  this machine's matrix-product throughput (a large GEMM through the core's BLAS) and the W3
         epoch's FLOP count: the time an epoch would take at that throughput
Every figure is the median of --repeat runs after one warm-up run.
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import nn
from nn.backends import compiled
from nn.datasets import load_mnist

from peers import sklearn_fit, torch_fit, try_import

HERE = Path(__file__).resolve().parent
# The project's full MNIST, beside the checkout (<repository>/../shared/data/mnist), wherever this runs from
SHARED_MNIST = HERE.parent.parent / "shared" / "data" / "mnist"
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python bench/run.py", description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=None,
                        help=f"MNIST folder (default: {SHARED_MNIST} when it is there, else nn's bundled sample)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per figure (median), after a warm-up")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="BLAS / PyTorch threads (default: all cores)")
    parser.add_argument("--only", default="W1,W3,limit", help="comma-separated workloads")
    parser.add_argument("--json", default=str(HERE / "results.json"),
                        help="where to write the results (default: results.json beside this script; '' for nowhere)")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be >= 1")
    if args.threads < 1:
        parser.error("--threads must be >= 1")
    return args


def median_time(run, repeat):
    """Median seconds of ``repeat`` calls of run() after one warm-up call. run() may return a setup-free
    callable's own timing by returning a float."""
    run()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        inner = run()
        times.append(inner if isinstance(inner, float) else time.perf_counter() - start)
    return float(np.median(times))


def starting_point(initial, dtype, backend=None):
    """A new network of ``initial``'s layers and weights, in ``dtype``: where every engine starts from."""
    return nn.Network([layer.copy() for layer in initial.layers], dtype=dtype, backend=backend)


def nn_fit(backend, start, X, y, loss, lr, batch_size, epochs, seed=0):
    """Time Trainer.fit from the weights of the network ``start``, in its dtype (construction is not timed)."""
    def run():
        net = starting_point(start, start.dtype, backend)
        trainer = nn.Trainer(net, loss=loss, optimizer=nn.SGD(lr), batch_size=batch_size, seed=seed)
        begin = time.perf_counter()
        trainer.fit(X, y, epochs=epochs, verbose=False)
        return time.perf_counter() - begin
    return run


# ----- workloads ------------------------------------------------------------------------------------
def workload_w1(repeat, torch, rows):
    X = np.array([[-2, -1], [25, 6], [17, 4], [-15, -6]], dtype=float)
    y = np.array([1, 0, 0, 1], dtype=float)
    start = nn.Network([2, 2, 1], activation="sigmoid", seed=0, init="normal")  # a sigmoid output too
    args = (start, X, y, "mse", 0.1, 1, 1000)
    results = {"reference": median_time(nn_fit("reference", *args), repeat),
               "compiled": median_time(nn_fit("compiled", *args), repeat)}
    if torch is not None:
        results["pytorch"] = median_time(torch_fit(torch, *args), max(1, repeat // 2))
    rows.append(("W1 gender 2-2-1, 1000 epochs per-sample", results))
    # The core's own time per SGD step: 1000 epochs in one call, no Trainer around it.
    net = starting_point(start, "float64")
    orders = np.random.default_rng(0).permuted(np.tile(np.arange(4), (1000, 1)), axis=1)
    Y = y[:, None].copy()

    def core_only():
        net.theta = start.theta
        begin = time.perf_counter()
        compiled.train_epochs(net, X, Y, "mse", nn.SGD(0.1), orders, 1)
        return time.perf_counter() - begin
    per_step = median_time(core_only, repeat) / 4000
    return {"fit_seconds": results, "core_seconds_per_step": per_step}


def workload_w3(repeat, torch, sklearn, data, rows):
    X64, y = load_mnist(data, "train")
    initial = nn.Network([784, 128, 10], activation="relu", output="softmax", seed=0)
    out = {}
    for batch_size, dtype in [(32, "float64"), (32, "float32"), (128, "float64"), (128, "float32"), (1, "float64")]:
        X = X64.astype(dtype)
        args = (starting_point(initial, dtype), X, y, "cross_entropy", 0.1, batch_size, 1)
        slow = batch_size == 1
        reps = max(1, repeat // 2) if slow else repeat
        results = {"reference": median_time(nn_fit("reference", *args), reps),
                   "compiled": median_time(nn_fit("compiled", *args), repeat)}
        if torch is not None:
            results["pytorch"] = median_time(torch_fit(torch, *args), reps)
        if sklearn is not None and not slow:
            results["sklearn"] = median_time(sklearn_fit(X, y, batch_size, dtype), reps)
        label = f"W3 MNIST 784-128-10 epoch ({len(X)} images), batch {batch_size}, {dtype}"
        rows.append((label, results))
        out[f"batch{batch_size}_{dtype}"] = results
    return out


def workload_limit(repeat, rows, n_images):
    out = {}
    for dtype in ("float64", "float32"):
        n = 2048
        rng = np.random.default_rng(0)
        A, B = rng.normal(size=(n, n)).astype(dtype), rng.normal(size=(n, n)).astype(dtype)
        C = np.empty((n, n), dtype=dtype)
        seconds = median_time(lambda A=A, B=B, C=C: compiled.matmul(A, B, C), repeat)
        flops_per_s = 2 * n ** 3 / seconds
        # Per sample: forward 784x128 + 128x10, backward dW1 784x128, dW2 and delta1 128x10 each.
        epoch_flops = 2 * n_images * (2 * 784 * 128 + 3 * 128 * 10)
        out[dtype] = {"gemm_gflops": flops_per_s / 1e9, "w3_epoch_gflop": epoch_flops / 1e9,
                      "w3_epoch_seconds_at_limit": epoch_flops / flops_per_s}
        rows.append((f"limit {dtype}: GEMM {flops_per_s / 1e9:.1f} GFLOP/s; W3 epoch {epoch_flops / 1e9:.2f} GFLOP",
                     {"epoch at limit": epoch_flops / flops_per_s}))
    return out


def print_table(rows):
    engines = ["reference", "compiled", "pytorch", "sklearn", "epoch at limit"]
    width = max(len(label) for label, _ in rows)
    print(f"{'workload'.ljust(width)}  " + "  ".join(e.rjust(10) for e in engines[:4])
          + "   ref/comp  torch/comp  sk/comp")
    for label, results in rows:
        cells = [f"{results[e] * 1e3:8.1f}ms" if e in results else " " * 10 for e in engines[:4]]
        line = f"{label.ljust(width)}  " + "  ".join(cells)
        if "compiled" in results:
            ratios = [f"{results[e] / results['compiled']:9.2f}x" if e in results else " " * 10
                      for e in ("reference", "pytorch", "sklearn")]
            line += "  " + " ".join(ratios)
        elif "epoch at limit" in results:
            line = f"{label.ljust(width)}  epoch at this throughput: {results['epoch at limit'] * 1e3:.1f} ms"
        print(line)


def main(args):
    data = args.data
    if data is None:  # the project's shared MNIST beside the checkout, else the bundled sample
        data = str(SHARED_MNIST) if SHARED_MNIST.is_dir() else None
    only = set(args.only.split(","))
    torch, sklearn = try_import("torch"), try_import("sklearn")
    if torch is not None:
        torch.set_num_threads(args.threads)
    rows, results = [], {
        "machine": {"platform": platform.platform(), "processor": platform.processor(), "cores": os.cpu_count(),
                    "python": sys.version.split()[0], "numpy": np.__version__, "nn": nn.__version__,
                    "torch": getattr(torch, "__version__", None), "sklearn": getattr(sklearn, "__version__", None)},
        "command": " ".join([os.path.basename(sys.executable)] + sys.argv),
        "threads": args.threads, "repeat": args.repeat, "data": data,
    }
    if "W1" in only:
        results["W1"] = workload_w1(args.repeat, torch, rows)
    if "W3" in only:
        results["W3"] = workload_w3(args.repeat, torch, sklearn, data, rows)
    if "limit" in only:
        n_images = len(load_mnist(data, "train")[1])
        results["limit"] = workload_limit(args.repeat, rows, n_images)
    print(f"threads {args.threads}, medians of {args.repeat} runs after a warm-up; "
          f"torch {results['machine']['torch']}, sklearn {results['machine']['sklearn']}")
    print_table(rows)
    if "W1" in results:
        print(f"W1 core time per SGD step: {results['W1']['core_seconds_per_step'] * 1e6:.3f} us")
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
        print(f"results written to {args.json}")
    return results


def run(argv=None):
    """Parse the options and run. BLAS reads its thread count when it loads, so unless this process was
    started with it, the benchmark runs in a new process with the thread variables set."""
    args = parse_args(argv)
    if any(os.environ.get(var) != str(args.threads) for var in THREAD_VARIABLES):
        env = dict(os.environ, **{var: str(args.threads) for var in THREAD_VARIABLES})
        argv = sys.argv[1:] if argv is None else list(argv)
        return subprocess.run([sys.executable, str(Path(__file__).resolve()), *argv], env=env).returncode
    main(args)
    return 0


if __name__ == "__main__":
    sys.exit(run())
