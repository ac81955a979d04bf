"""The micrograd lesson's run, timed: 100 steps of gradient descent on MLP(3, [4, 4, 1]) with tanh,
sum-of-squares loss on the 4 samples, learning rate 0.05, gradients zeroed each step.

    python bench/autograd.py [--repeat 5]

nn.autograd against the `micrograd` package (when installed), in one process, medians after a warm-up.
"""
import argparse
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


def median_step(engine, repeat):
    Value, make = engine
    lesson_run(Value, make())
    times, losses = [], []
    for _ in range(repeat):
        model = make()
        start = time.perf_counter()
        losses.append(lesson_run(Value, model))
        times.append((time.perf_counter() - start) / STEPS)
    return float(np.median(times)), losses[-1]


def main(repeat=5):
    results = {}
    step, loss = median_step(nn_engine(), repeat)
    results["nn.autograd"] = {"seconds_per_step": step, "final_loss": loss}
    try:
        engine = micrograd_engine()
    except ImportError:
        engine = None
    if engine is not None:
        step, loss = median_step(engine, repeat)
        results["micrograd"] = {"seconds_per_step": step, "final_loss": loss}
    for name, r in results.items():
        line = f"{name:12s} {r['seconds_per_step'] * 1e6:9.1f} us/step   final loss {r['final_loss']:.5f}"
        if name != "nn.autograd":
            line += f"   nn.autograd is {r['seconds_per_step'] / results['nn.autograd']['seconds_per_step']:.2f}x faster"
        print(line)
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    main(parser.parse_args().repeat)
