"""The training features' cost: an MNIST 784-128-10 epoch (batch 32, SGD 0.1) with a cosine schedule,
with dropout 0.2 on the hidden layer, with gradient clipping (norm 1.0), and with all three, and with
the other optimizers (momentum 0.9, RMSprop, Adam), as ratios to the plain SGD epoch measured in the
same process, in float64 and float32. The runs alternate
(plain, cosine, dropout, clip, all, then again) so that a busy moment of the machine falls on all.

    python bench/features.py [--data DIR] [--repeat 7] [--batch-size 32]

Run from a checkout (see bench/README.md); the data defaults to ../shared/data/mnist beside it, else
the bundled sample.
"""
import argparse
import time
from pathlib import Path

import numpy as np

import nn
from nn import schedules
from nn.cli.diagnostics import processor
from nn.datasets import load_mnist

HERE = Path(__file__).resolve().parent
SHARED_MNIST = HERE.parent.parent / "shared" / "data" / "mnist"

VARIANTS = {  # name: (dropout, schedule?, clip_norm)
    "plain SGD": (0.0, False, None),
    "cosine schedule": (0.0, True, None),
    "dropout 0.2": (0.2, False, None),
    "clip_norm 1.0": (0.0, False, 1.0),
    "all three": (0.2, True, 1.0),
    "momentum": (0.0, False, None, "momentum"),
    "RMSprop": (0.0, False, None, "rmsprop"),
    "Adam": (0.0, False, None, "adam"),
}
OPTIMIZERS = {"sgd": lambda rate: nn.SGD(rate), "momentum": lambda rate: nn.Momentum(rate / 10),
              "rmsprop": lambda rate: nn.RMSprop(rate / 100), "adam": lambda rate: nn.Adam(rate / 100)}


def one_epoch(X, y, dtype, batch_size, dropout, schedule, clip_norm, optimizer="sgd"):
    """Seconds of one Trainer.fit epoch (the network's construction not timed)."""
    net = nn.Network([784, 128, 10], dtype=dtype, seed=0, dropout=dropout)
    rate = schedules.Cosine(0.1, epochs=10) if schedule else 0.1
    trainer = nn.Trainer(net, optimizer=OPTIMIZERS[optimizer](rate), batch_size=batch_size, seed=0,
                         clip_norm=clip_norm)
    start = time.perf_counter()
    trainer.fit(X, y, epochs=1, verbose=False)
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python bench/features.py", description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=None)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args(argv)
    folder = args.data or (str(SHARED_MNIST) if SHARED_MNIST.exists() else None)
    print(f"{processor()}, nn threads {nn.get_num_threads()}, MNIST {'from ' + folder if folder else 'bundled sample'}, "
          f"784-128-10, batch {args.batch_size}, one epoch, medians of {args.repeat} alternating runs")
    print(f"{'variant':<18}{'float64 ms':>12}{'ratio':>8}{'float32 ms':>12}{'ratio':>8}")
    results = {}
    for dtype in ("float64", "float32"):
        X, y = load_mnist(folder, dtype=dtype)
        times = {name: [] for name in VARIANTS}
        for name, variant in VARIANTS.items():  # warm-up
            one_epoch(X, y, dtype, args.batch_size, *variant)
        for _ in range(args.repeat):
            for name, variant in VARIANTS.items():
                times[name].append(one_epoch(X, y, dtype, args.batch_size, *variant))
        results[dtype] = {name: float(np.median(t)) for name, t in times.items()}
    for name in VARIANTS:
        cells = []
        for dtype in ("float64", "float32"):
            ms, base = results[dtype][name] * 1e3, results[dtype]["plain SGD"] * 1e3
            cells.append(f"{ms:>12.1f}{ms / base:>7.2f}x")
        print(f"{name:<18}" + "".join(cells))


if __name__ == "__main__":
    main()
