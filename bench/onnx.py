"""ONNX export, the figures of issue 16's acceptance, in one process:

1. the largest difference between onnxruntime's outputs and nn's, per dtype, over every hidden activation
   and output (networks 20-32-32-k, 1000 random rows), and on the MNIST model;
2. the size of the MNIST model's file (784-128-10, trained briefly on the bundled sample), .onnx beside .npz;
3. single-sample latency of 784-128-10: onnxruntime's session.run against net.forward (and the backend's
   forward without the checks), medians of --repeat blocks of --calls calls each, after a warm-up.

    python bench/onnx.py [--repeat 15] [--calls 2000] [--threads 1]

onnxruntime's session uses --threads intra-op threads (1: a single sample has nothing to share).
"""
import argparse
import os
import sys
import tempfile
import time

import numpy as np

import nn
from nn import backends
from nn.cli.diagnostics import processor
from nn.datasets import load_mnist

# bench/ is on sys.path when this script runs: "import onnx" would find this very file. Drop it first.
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]
import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402


def session(model, threads):
    """An onnxruntime session of ``model`` (a ModelProto or a file) on ``threads`` intra-op threads."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    source = model if isinstance(model, str) else model.SerializeToString()
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


def max_difference(net, X, threads):
    """max |onnxruntime - nn| over the network's outputs (probabilities, or the output) and whether the
    labels are identical (True for a regressor)."""
    outputs = session(net.to_onnx(), threads).run(None, {"X": X})
    A = net.forward(X)
    if net.is_classifier:
        return float(np.abs(outputs[1] - A).max()), bool(np.array_equal(outputs[0], net.predict(X)))
    return float(np.abs(outputs[0] - A).max()), True


def differences(args, mnist_nets, Xt):
    """Figure 1: the largest |onnxruntime - nn| per dtype."""
    print("1. max |onnxruntime - nn| over every hidden activation x output (20-32-32-k, k = 1 and 5, 1000 rows)")
    rng = np.random.default_rng(0)
    for dtype in ("float64", "float32"):
        worst, labels_equal = 0.0, True
        X = rng.normal(size=(1000, 20)).astype(dtype)
        for hidden in nn.ACTIVATIONS:
            for output in nn.ACTIVATIONS:
                for k in (1, 5):
                    net = nn.Network([20, 32, 32, k], activation=hidden, output=output, dtype=dtype, seed=1,
                                     bias_init="normal")
                    difference, same = max_difference(net, X, args.threads)
                    worst, labels_equal = max(worst, difference), labels_equal and same
        mnist_difference, mnist_same = max_difference(mnist_nets[dtype], Xt.astype(dtype), args.threads)
        print(f"   {dtype}: {worst:.2e} (72 networks; labels identical: {labels_equal}); MNIST model on "
              f"{len(Xt)} test images: {mnist_difference:.2e} (labels identical: {mnist_same})")


def file_sizes(mnist_nets):
    """Figure 2: the MNIST model's .onnx (and .npz) size per dtype."""
    print("2. the MNIST model's file, 784-128-10 (101,770 parameters)")
    with tempfile.TemporaryDirectory() as folder:
        for dtype, net in mnist_nets.items():
            onnx_path, npz_path = os.path.join(folder, "m.onnx"), os.path.join(folder, "m.npz")
            net.to_onnx(onnx_path)
            net.save(npz_path)
            print(f"   {dtype}: .onnx {os.path.getsize(onnx_path):,} bytes; .npz {os.path.getsize(npz_path):,} bytes; "
                  f"the weights alone {net.n_params * np.dtype(dtype).itemsize:,} bytes")


def per_call(run, repeat, calls):
    """Median over ``repeat`` blocks of the seconds per call of ``run`` (``calls`` calls a block)."""
    run()
    blocks = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(calls):
            run()
        blocks.append((time.perf_counter() - start) / calls)
    return float(np.median(blocks))


def latency(args, mnist_nets, Xt):
    """Figure 3: one sample through onnxruntime, net.forward and the backend's forward."""
    print(f"3. single-sample latency, 784-128-10 (median of {args.repeat} blocks of {args.calls} calls)")
    print(f"   {'dtype':8s} {'onnxruntime':>12s} {'net.forward':>12s} {'backend.forward':>16s}  ratio forward / ort")
    for dtype, net in mnist_nets.items():
        x = np.ascontiguousarray(Xt[:1].astype(dtype))
        run_ort = session(net.to_onnx(), args.threads)
        backend = backends.get(net.backend)
        t_ort = per_call(lambda: run_ort.run(None, {"X": x}), args.repeat, args.calls)
        t_forward = per_call(lambda: net.forward(x), args.repeat, args.calls)
        t_backend = per_call(lambda: backend.forward(net, x), args.repeat, args.calls)
        print(f"   {dtype:8s} {t_ort * 1e6:9.1f} µs {t_forward * 1e6:9.1f} µs {t_backend * 1e6:13.1f} µs  "
              f"{t_forward / t_ort:.2f}")


def main():
    """The three figures, after the machine's and the libraries' names."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=1, help="onnxruntime's intra-op threads")
    parser.add_argument("--backend", default=None, choices=list(backends.NAMES))
    args = parser.parse_args()
    net_backend = backends.resolve(args.backend)
    print(f"processor: {processor()}; nn {nn.__version__} (backend {net_backend}), onnx {onnx.__version__}, "
          f"onnxruntime {ort.__version__}, NumPy {np.__version__}; onnxruntime threads {args.threads}, "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', '(unset)')}")
    X, y = load_mnist()
    Xt, _ = load_mnist(kind="test")
    mnist_nets = {}
    for dtype in ("float64", "float32"):
        net = nn.Network([784, 128, 10], dtype=dtype, seed=0, backend=net_backend)
        nn.Trainer(net, optimizer=nn.SGD(0.1), batch_size=16, seed=0).fit(X.astype(dtype), y, epochs=2, verbose=False)
        mnist_nets[dtype] = net
    differences(args, mnist_nets, Xt)
    file_sizes(mnist_nets)
    latency(args, mnist_nets, Xt)


if __name__ == "__main__":
    main()
