"""nn.Classifier against scikit-learn's MLPClassifier, in one process: load_digits with a standard split,
hidden_layer_sizes=(64,), the same epochs (no early stop: tol=0) and batch size, medians of repeated fits;
and the cost of one 32-row partial_fit call against one batch inside fit.

    python bench/estimators.py [--repeat 5] [--epochs 200] [--backend compiled]
"""
import argparse
import os
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

import nn
from nn.cli.diagnostics import processor
from nn.datasets import load_mnist


def median_seconds(run, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def digits(args):
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
    common = dict(hidden_layer_sizes=(64,), max_iter=args.epochs, tol=0.0, n_iter_no_change=args.epochs + 1,
                  batch_size=200, alpha=1e-4)
    print(f"load_digits: {len(X_train)} training / {len(X_test)} test images, 64-64-10, Adam 1e-3, batch 200, "
          f"{args.epochs} epochs; medians of {args.repeat} fits")
    print(f"{'seed':>4s}  {'nn accuracy':>11s}  {'MLP accuracy':>12s}  {'nn fit s':>8s}  {'MLP fit s':>9s}  speed-up")
    ratios, gaps = [], []
    for seed in range(args.seeds):
        ours = nn.Classifier(random_state=seed, backend=args.backend, **common)
        theirs = MLPClassifier(random_state=seed, learning_rate_init=1e-3, **common)
        t_ours = median_seconds(lambda: ours.fit(X_train, y_train), args.repeat)
        t_theirs = median_seconds(lambda: theirs.fit(X_train, y_train), args.repeat)
        a_ours, a_theirs = ours.score(X_test, y_test), theirs.score(X_test, y_test)
        assert ours.n_iter_ == theirs.n_iter_ == args.epochs
        ratios.append(t_theirs / t_ours)
        gaps.append(a_ours - a_theirs)
        print(f"{seed:4d}  {a_ours:11.4f}  {a_theirs:12.4f}  {t_ours:8.3f}  {t_theirs:9.3f}  {t_theirs / t_ours:7.1f}x")
    print(f"mean accuracy difference (nn - MLP): {100 * np.mean(gaps):+.2f} points; median speed-up "
          f"{np.median(ratios):.1f}x")


def partial_fit_cost(args):
    """One partial_fit call on 32 rows against one batch of 32 inside fit (an epoch's time / batches)."""
    X, y = load_mnist(kind="train")
    clf = nn.Classifier(hidden_layer_sizes=(128,), batch_size=32, random_state=0, backend=args.backend)
    clf.partial_fit(X[:32], y[:32], classes=np.arange(10))
    n_calls = len(X) // 32

    def stream():
        for i in range(n_calls):
            clf.partial_fit(X[32 * i:32 * (i + 1)], y[32 * i:32 * (i + 1)])

    per_call = median_seconds(stream, args.repeat) / n_calls
    whole = nn.Classifier(hidden_layer_sizes=(128,), batch_size=32, max_iter=1, random_state=0, backend=args.backend)
    per_batch = median_seconds(lambda: whole.fit(X, y), args.repeat) / -(-len(X) // 32)
    print(f"784-128-10 on {len(X)} MNIST images: partial_fit of 32 rows {per_call * 1e6:.0f} us per call, "
          f"one batch of 32 inside fit {per_batch * 1e6:.0f} us: {per_call / per_batch:.2f}x")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--backend", default="compiled")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    print(f"{processor()}, {os.cpu_count()} cores, nn {nn.__version__} "
          f"({args.backend}), threads {nn.get_num_threads()}")
    digits(args)
    partial_fit_cost(args)


if __name__ == "__main__":
    main()
