"""The thread team's A/B (bench/README.md, "The thread team"): the same workloads on three builds of the
core, its team as a pool of POSIX threads kept between calls (NN_TEAM=pthreads, the default), as POSIX
threads started for each call (NN_TEAM=pthreads-per-call, the team before the pool), or as an OpenMP
parallel region whose threads the runtime keeps between calls (NN_TEAM=openmp).

    python bench/team.py [--repeat 7] [--data ../shared/data/mnist] [--only name,name]

Builds the variants into a temporary folder (a copy of nn/ with each build's modules), then runs every
workload in a fresh process per variant, alternating the variants, --repeat times; prints medians.
Workloads (two threads unless said):
  mnist b32 / b128   one epoch of 784-128-10 SGD (lr 0.1) over the MNIST training images, float32 and float64
  short calls        200 train calls of one epoch of 64 images each (784-128-10, batch 32): the cost of
                     starting a team per call
  digits adam        load_digits-sized data (1,797 x 64, 10 classes), 64-64-10 Adam, batch 200, 200 epochs
  busy b32           mnist b32 float32 with one CPU-bound process running beside it
  forward 10k        net.forward on the 10,000 MNIST test images (784-128-10, float32), median of 20
                     calls back to back
  forward 10k idle   the same, each call 50 ms after the one before (the team's threads have gone idle)
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VARIANTS = ("pthreads", "pthreads-per-call", "openmp")

WORKLOAD = r"""
import json, sys, time
import numpy as np
import nn
from nn import _core
from nn.datasets import load_mnist

data, which = sys.argv[1], sys.argv[2]
nn.set_num_threads(2)
X, y = load_mnist(data or None, "train")

def mnist(dtype, batch, epochs=1, rows=None):
    Xd = X[:rows].astype(dtype) if rows else X.astype(dtype)
    net = nn.Network([784, 128, 10], dtype=dtype, seed=0)
    trainer = nn.Trainer(net, optimizer=nn.SGD(0.1), batch_size=batch, seed=0)
    trainer.fit(Xd[:64], y[:64], epochs=1, verbose=0)  # warm-up: layouts, scratch, pages
    start = time.perf_counter()
    trainer.fit(Xd, y[:len(Xd)], epochs=epochs, verbose=0)
    return time.perf_counter() - start

def short_calls():
    net = nn.Network([784, 128, 10], dtype="float32", seed=0)
    trainer = nn.Trainer(net, optimizer=nn.SGD(0.1), batch_size=32, seed=0)
    Xs, ys = X[:64].astype("float32"), y[:64]
    trainer.fit(Xs, ys, epochs=1, verbose=0)
    start = time.perf_counter()
    for _ in range(200):
        trainer.fit(Xs, ys, epochs=1, verbose=0)
    return time.perf_counter() - start

def digits():
    rng = np.random.default_rng(0)
    Xd = rng.random((1797, 64)) * (rng.random((1797, 64)) < 0.5)
    yd = rng.integers(0, 10, 1797)
    net = nn.Network([64, 64, 10], seed=0)
    trainer = nn.Trainer(net, optimizer=nn.Adam(1e-3), batch_size=200, seed=0)
    trainer.fit(Xd, yd, epochs=1, verbose=0)
    start = time.perf_counter()
    trainer.fit(Xd, yd, epochs=200, verbose=0)
    return time.perf_counter() - start

def forward(gap):
    Xt, _ = load_mnist(data or None, "test")
    Xt = Xt.astype("float32")
    net = nn.Network([784, 128, 10], dtype="float32", seed=0)
    net.forward(Xt)
    times = []
    for _ in range(20):
        time.sleep(gap)
        start = time.perf_counter()
        net.forward(Xt)
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]

runs = {"mnist b32 float32": lambda: mnist("float32", 32), "mnist b32 float64": lambda: mnist("float64", 32),
        "mnist b128 float32": lambda: mnist("float32", 128), "mnist b128 float64": lambda: mnist("float64", 128),
        "short calls": short_calls, "digits adam": digits, "busy b32 float32": lambda: mnist("float32", 32),
        "forward 10k": lambda: forward(0.0), "forward 10k idle": lambda: forward(0.05)}
print(json.dumps({"team": _core.TEAM, "seconds": runs[which]()}))
"""
NAMES = ["mnist b32 float32", "mnist b32 float64", "mnist b128 float32", "mnist b128 float64", "short calls",
         "digits adam", "busy b32 float32", "forward 10k", "forward 10k idle"]


def build(variant, folder):
    """A copy of the package with the core built as `variant`, in folder/variant; returns its path."""
    target = folder / variant
    env = dict(os.environ, NN_TEAM=variant)
    subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "-b", str(target)], cwd=ROOT, env=env,
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    shutil.copytree(ROOT / "nn", target / "nn", dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("*.so", "__pycache__"))
    return target


def run(path, which, data):
    busy = None
    if which.startswith("busy"):
        busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        time.sleep(0.3)
    try:
        done = subprocess.run([sys.executable, "-c", WORKLOAD, data, which], cwd=path, capture_output=True,
                              text=True, env=dict(os.environ, PYTHONPATH=str(path)))
    finally:
        if busy is not None:
            busy.kill()
            busy.wait()
    if done.returncode != 0:
        sys.exit(f"{which} failed on {path.name}:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "mnist"))
    parser.add_argument("--only", default=",".join(NAMES), help="comma-separated workloads")
    args = parser.parse_args()
    names = [n for n in NAMES if n in args.only.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        paths = {v: build(v, Path(tmp)) for v in VARIANTS}
        times = {(v, n): [] for v in VARIANTS for n in names}
        for _ in range(args.repeat):
            for name in names:
                for variant in VARIANTS:
                    result = run(paths[variant], name, args.data)
                    assert result["team"] == variant, result
                    times[variant, name].append(result["seconds"])
    others = VARIANTS[1:]
    print(f"{'workload':20}" + "".join(f"{v:>19}" for v in VARIANTS) + "".join(f"{v + ' / ' + VARIANTS[0]:>32}" for v in others))
    for name in names:
        med = {v: statistics.median(times[v, name]) for v in VARIANTS}
        print(f"{name:20}" + "".join(f"{med[v] * 1000:17.1f}ms" for v in VARIANTS)
              + "".join(f"{med[v] / med[VARIANTS[0]]:31.2f}x" for v in others))


if __name__ == "__main__":
    main()
