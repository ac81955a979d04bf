"""The speed sweep of issue #15: nn against PyTorch (and JAX, when installed) across shapes, optimizers,
inference, a busy machine and the instruction sets, one table, every figure a ratio measured in this
process (the engines' runs alternate, so that a busy moment of the machine falls on all of them; each
timed run starts GAP seconds after the one before, once PyTorch's OpenMP threads have stopped spinning:
right after a PyTorch call they held the second core for 5-20 ms, and nn's two-thread inference of
10,000 rows took 14.8 ms then against 8.7 ms 20 ms later).

    python bench/sweep.py [--repeat 5] [--data DIR] [--only mnist,optimizers,dense,inference,busy,simd]
                          [--json FILE]

Sections (each run with one thread and with all threads, float32 and float64, unless said):
  mnist       784-128-10 SGD 0.1, one epoch over the MNIST training images, batch 32 and 128
  optimizers  the same at batch 32 with momentum, RMSprop and Adam: each epoch against nn's plain SGD
              epoch, and against PyTorch's epoch with the same optimizer; with one thread, also the
              optimizer's steps alone (nn._core.step over every parameter, once a batch) added to the SGD
              epoch: about what the optimizer adds (less the rows of inputs always zero, which training
              skips)
  dense       784-512-512-10 batch 64, 1024-1024-1024-10 batch 128, 2048-2048-10 batch 256, dense random
              inputs (2,048 rows); the epoch's achieved GFLOP/s against this machine's large GEMM
  inference   net.forward on 10,000 MNIST test images (784-128-10 and 784-512-512-10) against PyTorch's
              inference_mode; one-row latency of 784-128-10 (net.forward on a 1-D row, Python included)
  busy        MNIST batch 32 float32 with one CPU-bound process beside it (started here): nn's default
              thread count against one thread (all-threads column only)
  simd        the optimizer steps and the first layer's products on lists of nonzeros at each
              instruction-set level the processor has (nn._core.simd_level), one thread
JAX (jax.jit, the epoch in lax.scan; plain SGD) runs beside PyTorch in mnist and dense when installed,
in the all-threads column only (XLA sizes its own thread pool at start-up).

One thread means: nn.set_num_threads(1) under threadpoolctl's limit of 1 for the BLAS (nn's dense
products), torch.set_num_threads(1). All threads: nn's default (the BLAS's thread count: all cores),
torch's default.
"""
import argparse
import functools
import importlib
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
from nn.cli.diagnostics import processor
from nn.datasets import load_mnist

from peers import torch_network, try_import

HERE = Path(__file__).resolve().parent
SHARED_MNIST = HERE.parent.parent / "shared" / "data" / "mnist"
OPTIMIZERS = {  # name: (nn optimizer, torch optimizer class name and arguments), MNIST rates that train
    "sgd": (lambda: nn.SGD(0.1), ("SGD", {"lr": 0.1})),
    "momentum": (lambda: nn.Momentum(0.01, momentum=0.9), ("SGD", {"lr": 0.01, "momentum": 0.9})),
    "rmsprop": (lambda: nn.RMSprop(0.001), ("RMSprop", {"lr": 0.001, "alpha": 0.9, "eps": 1e-8})),
    "adam": (lambda: nn.Adam(0.001), ("Adam", {"lr": 0.001})),
}
DENSE_SHAPES = [([784, 512, 512, 10], 64), ([1024, 1024, 1024, 10], 128), ([2048, 2048, 10], 256)]
DENSE_ROWS = 2048


def cpu_flags():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("flags"):
                flags = line.split(":", 1)[1].split()
                return [f for f in ("avx2", "fma", "avx512f") if f in flags]
    except OSError:
        pass
    return []


class Threads:
    """The thread settings of one column: 1 (nn, its BLAS and torch on one thread) or None (defaults)."""

    def __init__(self, torch, count):
        self.torch, self.count = torch, count
        self.default_torch = torch.get_num_threads() if torch else None

    def __enter__(self):
        from threadpoolctl import threadpool_limits
        self.limits = threadpool_limits(1) if self.count == 1 else None
        nn.set_num_threads(self.count)
        if self.torch:
            self.torch.set_num_threads(self.count or self.default_torch)
        return self

    def __exit__(self, *exc):
        nn.set_num_threads(None)
        if self.limits is not None:
            self.limits.restore_original_limits()
        if self.torch:
            self.torch.set_num_threads(self.default_torch)


# {name: median seconds}: every run() once to warm up, then `repeat` rounds of each in turn (nn bench's),
# each timed run GAP seconds after the one before (see the docstring)
GAP = 0.05
alternate = functools.partial(importlib.import_module("nn.cli.bench").alternate, gap=GAP)


# ----- the engines -----------------------------------------------------------------------------------
def nn_epoch(sizes, X, y, dtype, batch, optimizer="sgd", output="softmax"):
    """Seconds of one Trainer.fit epoch (network construction not timed)."""
    def run():
        net = nn.Network(sizes, dtype=dtype, seed=0, output=output)
        trainer = nn.Trainer(net, optimizer=OPTIMIZERS[optimizer][0](), batch_size=batch, seed=0)
        start = time.perf_counter()
        trainer.fit(X, y, epochs=1, verbose=False)
        return time.perf_counter() - start
    return run


def torch_epoch(torch, sizes, X, y, dtype, batch, optimizer="sgd"):
    """Seconds of one epoch of the usual loop (zero_grad, forward, loss, backward, step), nn's weights."""
    model, set_weights = torch_network(torch, nn.Network(sizes, dtype=dtype, seed=0))
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))
    criterion = torch.nn.CrossEntropyLoss()
    name, kwargs = OPTIMIZERS[optimizer][1]
    order = torch.from_numpy(np.random.default_rng(0).permutation(len(X)))

    def run():
        set_weights()
        opt = getattr(torch.optim, name)(model.parameters(), **kwargs)
        start = time.perf_counter()
        for i in range(0, len(X), batch):
            rows = order[i:i + batch]
            opt.zero_grad()
            criterion(model(Xt[rows]), yt[rows]).backward()
            opt.step()
        return time.perf_counter() - start
    return run


def jax_epoch(jax, sizes, X, y, dtype, batch):
    """Seconds of one jitted SGD epoch (lax.scan over the batches; the data already on the device), after
    compiling. Rows beyond the last whole batch are left out (the caller gives whole batches)."""
    jnp = jax.numpy
    if dtype == "float64":
        jax.config.update("jax_enable_x64", True)
    net = nn.Network(sizes, dtype=dtype, seed=0)
    params0 = [(jnp.asarray(layer.W), jnp.asarray(layer.b)) for layer in net.layers]
    n = len(X) // batch * batch
    order = np.random.default_rng(0).permutation(n)
    Xb = jnp.asarray(X[order].reshape(-1, batch, X.shape[1]))
    Yb = jnp.asarray(np.eye(sizes[-1], dtype=dtype)[y[order]].reshape(-1, batch, sizes[-1]))

    def loss(params, xb, yb):
        a = xb
        for W, b in params[:-1]:
            a = jax.nn.relu(a @ W + b)
        W, b = params[-1]
        return -jnp.mean(jnp.sum(yb * jax.nn.log_softmax(a @ W + b), axis=1))

    @jax.jit
    def epoch(params):
        def step(p, batch_data):
            g = jax.grad(loss)(p, *batch_data)
            return jax.tree_util.tree_map(lambda w, d: w - 0.1 * d, p, g), None
        return jax.lax.scan(step, params, (Xb, Yb))[0]

    jax.block_until_ready(epoch(params0))  # compile

    def run():
        start = time.perf_counter()
        jax.block_until_ready(epoch(params0))
        return time.perf_counter() - start
    return run


# ----- the sections ----------------------------------------------------------------------------------
def section_mnist(ctx, rows):
    for batch in (32, 128):
        for dtype in ("float32", "float64"):
            X, y = ctx["mnist"][dtype]
            for threads in (1, None):
                with Threads(ctx["torch"], threads):
                    runs = {"nn": nn_epoch([784, 128, 10], X, y, dtype, batch)}
                    if ctx["torch"]:
                        runs["torch"] = torch_epoch(ctx["torch"], [784, 128, 10], X, y, dtype, batch)
                    if ctx["jax"] and threads is None:
                        n = len(X) // batch * batch
                        runs["jax"] = jax_epoch(ctx["jax"], [784, 128, 10], X[:n], y[:n], dtype, batch)
                    t = alternate(runs, ctx["repeat"])
                rows.append(row("mnist", f"784-128-10 b{batch} SGD epoch", dtype, threads, t))


def section_optimizers(ctx, rows):
    for dtype in ("float32", "float64"):
        X, y = ctx["mnist"][dtype]
        for threads in (1, None):
            with Threads(ctx["torch"], threads):
                runs = {f"nn {o}": nn_epoch([784, 128, 10], X, y, dtype, 32, o) for o in OPTIMIZERS}
                if ctx["torch"]:
                    runs.update({f"torch {o}": torch_epoch(ctx["torch"], [784, 128, 10], X, y, dtype, 32, o)
                                 for o in OPTIMIZERS if o != "sgd"})
                t = alternate(runs, ctx["repeat"])
            for o in list(OPTIMIZERS)[1:]:
                r = row("optimizers", f"784-128-10 b32 {o} epoch", dtype, threads,
                        {"nn": t[f"nn {o}"], **({"torch": t[f"torch {o}"]} if ctx["torch"] else {})})
                r["vs_sgd"] = t[f"nn {o}"] / t["nn sgd"]
                if threads == 1:
                    # the step alone, once per batch over every parameter: about what this optimizer adds to
                    # SGD's epoch (RMSprop and Adam: a square root and a division each; training skips the
                    # rows of W_1 whose inputs were always zero, MNIST's 88 border pixels)
                    r["step_alone"] = step_epoch(o, dtype, [784, 128, 10], len(X), 32, ctx["repeat"])
                    r["floor"] = 1 + r["step_alone"] / t["nn sgd"]
                rows.append(r)


def step_epoch(optimizer, dtype, sizes, m, batch, repeat):
    """Seconds of an epoch's optimizer steps alone (nn._core.step on all the parameters, once per batch of
    an epoch of m rows): the work an optimizer adds to the products, its gradient assumed made."""
    from nn import _core
    n = nn.Network(sizes, dtype=dtype, seed=0).n_params
    rng = np.random.default_rng(0)
    p, g, s1, s2 = (rng.random(n).astype(dtype) for _ in range(4))
    opt = OPTIMIZERS[optimizer][0]()
    hyper = np.array([float(getattr(opt, name, 0) or 0) for name in _core.HYPER_NAMES])
    code, steps = _core.OPTIMIZER_NAMES.index(optimizer), (m + batch - 1) // batch

    def run():
        start = time.perf_counter()
        for t in range(1, steps + 1):
            _core.step(code, hyper, t, p, g, s1, s2)
        return time.perf_counter() - start
    return alternate({"step": run}, repeat)["step"]


def section_dense(ctx, rows):
    rng = np.random.default_rng(0)
    for sizes, batch in DENSE_SHAPES:
        for dtype in ("float32", "float64"):
            X = rng.random((DENSE_ROWS, sizes[0])).astype(dtype)
            y = rng.integers(0, sizes[-1], DENSE_ROWS)
            flops = 6 * sum(a * b for a, b in zip(sizes[:-1], sizes[1:])) * len(X)  # forward, dW, delta
            for threads in (1, None):
                with Threads(ctx["torch"], threads):
                    runs = {"nn": nn_epoch(sizes, X, y, dtype, batch)}
                    if ctx["torch"]:
                        runs["torch"] = torch_epoch(ctx["torch"], sizes, X, y, dtype, batch)
                    if ctx["jax"] and threads is None:
                        runs["jax"] = jax_epoch(ctx["jax"], sizes, X, y, dtype, batch)
                    t = alternate(runs, ctx["repeat"])
                    gemm = gemm_gflops(dtype)
                r = row("dense", f"{'-'.join(map(str, sizes))} b{batch} SGD epoch", dtype, threads, t)
                r["gflops"], r["gemm_gflops"] = flops / t["nn"] / 1e9, gemm
                rows.append(r)


def gemm_gflops(dtype, n=2048):
    """This machine's large-GEMM throughput through the core's BLAS, with the threads in force."""
    A = np.random.default_rng(1).random((n, n)).astype(dtype)
    C = np.empty_like(A)
    compiled.matmul(A, A, C)
    times = []
    for _ in range(3):
        start = time.perf_counter()
        compiled.matmul(A, A, C)
        times.append(time.perf_counter() - start)
    return 2 * n ** 3 / min(times) / 1e9


def section_inference(ctx, rows):
    torch = ctx["torch"]
    for sizes in ([784, 128, 10], [784, 512, 512, 10]):
        for dtype in ("float32", "float64"):
            X = ctx["mnist_test"][dtype]
            net = nn.Network(sizes, dtype=dtype, seed=0)
            for threads in (1, None):
                with Threads(torch, threads):
                    runs = {"nn": timed(lambda: net.forward(X))}
                    if torch:
                        runs["torch"] = torch_forward(torch, net, X)
                    t = alternate(runs, ctx["repeat"])
                rows.append(row("inference", f"forward {'-'.join(map(str, sizes))}, 10,000 rows", dtype, threads, t))
    for dtype in ("float32", "float64"):
        net = nn.Network([784, 128, 10], dtype=dtype, seed=0)
        x = ctx["mnist_test"][dtype][3]
        for threads in (1, None):
            with Threads(torch, threads):
                runs = {"nn": per_call(lambda: net.forward(x))}
                if torch:
                    one = torch_forward(torch, net, x[None], calls=2000)
                    runs["torch"] = one
                t = alternate(runs, ctx["repeat"])
            rows.append(row("inference", "one-row latency 784-128-10 (per call)", dtype, threads, t))


def timed(f):
    def run():
        start = time.perf_counter()
        f()
        return time.perf_counter() - start
    return run


def per_call(f, calls=2000):
    def run():
        start = time.perf_counter()
        for _ in range(calls):
            f()
        return (time.perf_counter() - start) / calls
    return run


def torch_forward(torch, net, X, calls=1):
    """Seconds of one forward under inference_mode, with the output as a NumPy array (as nn returns)."""
    layers = []
    for layer in net.layers:
        layers.append(torch.nn.Linear(layer.n_in, layer.n_out))
        layers.append(torch.nn.ReLU() if layer.activation == "relu" else torch.nn.Softmax(-1))
    model = torch.nn.Sequential(*layers).to(getattr(torch, np.dtype(net.dtype).name))
    Xt = torch.from_numpy(X)

    def run():
        start = time.perf_counter()
        for _ in range(calls):
            with torch.inference_mode():
                model(Xt).numpy()
        return (time.perf_counter() - start) / calls
    return run


def section_busy(ctx, rows):
    X, y = ctx["mnist"]["float32"]
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)
        default, one = nn_epoch([784, 128, 10], X, y, "float32", 32), nn_epoch([784, 128, 10], X, y, "float32", 32)

        def single():
            with Threads(None, 1):
                return one()
        t = alternate({"nn default": default, "nn 1 thread": single}, ctx["repeat"])
    finally:
        hog.kill()
        hog.wait()
    rows.append({"section": "busy", "workload": "784-128-10 b32 SGD epoch, one CPU-bound process beside",
                 "dtype": "float32", "threads": "default vs 1", "nn": t["nn default"], "one": t["nn 1 thread"]})


def section_simd(ctx, rows):
    from nn import _core
    levels = list(range(_core.simd_available() + 1))
    P = 101770
    for dtype in ("float32", "float64"):
        p, g = np.random.default_rng(0).random((2, P)).astype(dtype)
        s1, s2 = np.zeros(P, dtype), np.zeros(P, dtype)
        hyper = np.array([0.001, 0, 0.9, 0, 0.9, 0.9, 0.999, 1e-8])
        X = ctx["mnist"][dtype][0][:512]
        W = np.random.default_rng(0).random((784, 128)).astype(dtype)
        C = np.empty((512, 128), dtype)
        for name, f in (("Adam step, 101,770 parameters", lambda: _core.step(3, hyper, 5, p, g, s1, s2)),
                        ("RMSprop step, 101,770 parameters", lambda: _core.step(2, hyper, 5, p, g, s1, s2)),
                        ("lists x W_1, 512 MNIST rows x 128", lambda: _core.sparse_matmul(X, W, C))):
            runs = {}
            for level in levels:
                def run(level=level):
                    _core.simd_level(level)
                    return per_call(f, 50)()
                runs[f"level {level}"] = run
            with Threads(None, 1):
                t = alternate(runs, ctx["repeat"])
            _core.simd_level(2)
            rows.append({"section": "simd", "workload": name, "dtype": dtype, "threads": 1,
                         **{k: v for k, v in t.items()}})


def row(section, workload, dtype, threads, t):
    return {"section": section, "workload": workload, "dtype": dtype, "threads": threads or "all", **t}


def print_table(rows):
    print(f"{'workload':58s} {'dtype':8s} {'thr':>3s} {'nn':>10s} {'torch':>10s} {'torch/nn':>8s} "
          f"{'jax/nn':>7s}  other")
    for r in rows:
        if r["section"] == "simd":
            levels = [k for k in r if k.startswith("level")]
            print(f"{r['workload']:58s} {r['dtype']:8s} {'1':>3s} " + "  ".join(
                f"{k} {r[k] * 1e6:.1f} us" for k in levels) + f"  (level 0 / top: {r['level 0'] / r[levels[-1]]:.2f}x,"
                f" level 1 / top: {r['level 1'] / r[levels[-1]]:.2f}x)" if len(levels) > 1 else "")
            continue
        if r["section"] == "busy":
            print(f"{r['workload']:58s} {r['dtype']:8s} {'-':>3s} {ms(r['nn']):>10s}  one thread {ms(r['one'])}: "
                  f"default / one = {r['nn'] / r['one']:.2f}")
            continue
        other = ""
        if "vs_sgd" in r:
            other = f"{r['vs_sgd']:.2f}x nn SGD" + (f" (the step alone: {r['floor']:.2f}x)" if "floor" in r else "")
        if "gflops" in r:
            other = f"{r['gflops']:.0f} GFLOP/s (GEMM {r['gemm_gflops']:.0f})"
        torch = f"{ms(r['torch']):>10s} {r['torch'] / r['nn']:7.2f}x" if "torch" in r else f"{'':>10s} {'':>8s}"
        jax = f"{r['jax'] / r['nn']:6.2f}x" if "jax" in r else f"{'':>7s}"
        print(f"{r['workload']:58s} {r['dtype']:8s} {str(r['threads']):>3s} {ms(r['nn']):>10s} {torch} {jax}  {other}")


def ms(seconds):
    return f"{seconds * 1e6:.1f}us" if seconds < 1e-3 else f"{seconds * 1e3:.1f}ms"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python bench/sweep.py", description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--data", default=str(SHARED_MNIST) if SHARED_MNIST.exists() else None)
    parser.add_argument("--only", default="mnist,optimizers,dense,inference,busy,simd")
    parser.add_argument("--json", default=str(HERE / "sweep.json"))
    args = parser.parse_args(argv)
    torch = try_import("torch")
    jax = try_import("jax")
    X, y = load_mnist(args.data, "train")
    Xt, _ = load_mnist(args.data, "test")
    ctx = {"repeat": args.repeat, "torch": torch, "jax": jax,
           "mnist": {d: (X.astype(d), y) for d in ("float32", "float64")},
           "mnist_test": {d: np.ascontiguousarray(Xt[:10000], dtype=d) for d in ("float32", "float64")}}
    versions = {"nn": nn.__version__, "numpy": np.__version__, "torch": getattr(torch, "__version__", None),
                "jax": getattr(jax, "__version__", None)}
    print(f"{processor()} ({', '.join(cpu_flags())}), {os.cpu_count()} cores; Python {platform.python_version()}; "
          + ", ".join(f"{k} {v}" for k, v in versions.items() if v) + f"; {len(X)} MNIST training images")
    rows = []
    for name in args.only.split(","):
        globals()[f"section_{name}"](ctx, rows)
    print_table(rows)
    if args.json:
        Path(args.json).write_text(json.dumps({"processor": processor(), "versions": versions, "rows": rows},
                                              indent=1))


if __name__ == "__main__":
    main()
