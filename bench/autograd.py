"""The micrograd lesson's run, timed: 100 steps of gradient descent on MLP(3, [4, 4, 1]) with tanh,
sum-of-squares loss on the 4 samples, learning rate 0.05, gradients zeroed each step.

    python bench/autograd.py [--repeat 5]

nn.autograd against the `micrograd` package (when installed), in one process: a warm-up run of each,
then `repeat` rounds of one timed run of each in turn (so that the machine's slow moments fall on both);
the medians per step, and the median of the rounds' ratios. Python's garbage collector stays on (as a
user runs), and each timed run starts after gc.collect(), so that it pays for the collections its own
graphs trigger and not for the garbage the run before left (micrograd's closures hold reference cycles:
without the collect, its garbage was collected during nn's next run, and the rounds' ratios spread
from 1.7x to 9.4x). With the collector off, micrograd's steps take about a third of the time, nn's
about 70%: `--no-gc` measures that too.
"""
import argparse
import gc
import time

import numpy as np

XS = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]
YS = [1.0, -1.0, -1.0, 1.0]
STEPS = 100


def lesson_run(Value, model):
    """The lesson's loop, written once for both engines; returns the final loss."""
    for _ in range(STEPS):
        loss = sum(((model(x) - y) ** 2 for x, y in zip(XS, YS)), Value(0.0))
        model.zero_grad()
        loss.backward()
        for p in model.parameters():
            p.data -= 0.05 * p.grad
    return loss.data


def nn_engine():
    from nn.autograd import MLP, Value

    return Value, lambda: MLP(3, [4, 4, 1], seed=1)


def micrograd_engine():
    from micrograd.engine import Value
    from micrograd.nn import MLP

    class TanhMLP(MLP):
        """micrograd's MLP with tanh everywhere, as in the lesson (micrograd.nn uses ReLU)."""

        def __call__(self, x):
            for layer in self.layers:
                x = [sum((wi * xi for wi, xi in zip(n.w, x)), n.b).tanh() for n in layer.neurons]
            return x[0] if len(x) == 1 else x

    def make():
        import random

        random.seed(1)
        return TanhMLP(3, [4, 4, 1])

    if not hasattr(Value, "tanh"):
        # micrograd's package has no tanh: add it as one operation, written as the lesson writes it,
        # so both engines build graphs of the same size.
        import math

        def tanh(self):
            t = math.tanh(self.data)
            out = Value(t, (self,), "tanh")

            def _backward():
                self.grad += (1 - t ** 2) * out.grad
            out._backward = _backward
            return out
        Value.tanh = tanh
    return Value, make


def timed_run(engine, collector=True):
    """(seconds per step, final loss) of one lesson run on a fresh model, after gc.collect(); with
    collector False, the garbage collector is off while it runs."""
    Value, make = engine
    model = make()
    gc.collect()
    if not collector:
        gc.disable()
    try:
        start = time.perf_counter()
        loss = lesson_run(Value, model)
        seconds = time.perf_counter() - start
    finally:
        gc.enable()
    return seconds / STEPS, loss


def main(repeat=5, collector=True):
    engines = {"nn.autograd": nn_engine()}
    try:
        engines["micrograd"] = micrograd_engine()
    except ImportError:
        pass
    for engine in engines.values():
        timed_run(engine)  # warm-up
    runs = {name: [] for name in engines}
    for _ in range(repeat):
        for name, engine in engines.items():
            runs[name].append(timed_run(engine, collector))
    results = {name: {"seconds_per_step": float(np.median([s for s, _ in r])), "final_loss": r[-1][1]}
               for name, r in runs.items()}
    for name, r in results.items():
        line = f"{name:12s} {r['seconds_per_step'] * 1e6:9.1f} us/step   final loss {r['final_loss']:.5f}"
        if name != "nn.autograd":
            ratios = [a[0] / b[0] for a, b in zip(runs[name], runs["nn.autograd"])]
            r["ratio_median"] = float(np.median(ratios))
            line += (f"   nn.autograd is {r['seconds_per_step'] / results['nn.autograd']['seconds_per_step']:.2f}x"
                     f" faster (the rounds' ratios: median {r['ratio_median']:.2f}x, {min(ratios):.2f}x-"
                     f"{max(ratios):.2f}x)")
        print(line)
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-gc", action="store_true", help="the garbage collector off during the timed runs")
    args = parser.parse_args()
    main(args.repeat, collector=not args.no_gc)
