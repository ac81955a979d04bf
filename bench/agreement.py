"""How closely the training features agree: compiled against reference, and against PyTorch.

    python bench/agreement.py [--data DIR] [--images 2000] [--epochs 2]

1. compiled vs reference: MNIST 784-128-10 (float64), SGD 0.1, batch 32, with a cosine schedule, with
   dropout 0.2, with clip_norm 1.0, and with all three (and the same in float32): the largest
   difference of any weight after the epochs, absolute and relative to the largest weight.
2. PyTorch (when installed), float64, full-batch steps from the same weights on the same images:
   Cosine against CosineAnnealingLR (SGD and Adam), clip_norm against clip_grad_norm_; and dropout: the
   gradient through given masks against PyTorch's autograd through the same masks.
"""
import argparse
from pathlib import Path

import numpy as np

import nn
from nn import schedules
from nn.backends import reference
from nn.datasets import load_mnist
from nn.layout import layer_views

HERE = Path(__file__).resolve().parent
SHARED_MNIST = HERE.parent.parent / "shared" / "data" / "mnist"
FEATURES = {"cosine": (0.0, True, None), "dropout 0.2": (0.2, False, None), "clip 1.0": (0.0, False, 1.0),
            "all three": (0.2, True, 1.0)}


def trained(backend, X, y, dtype, epochs, dropout, schedule, clip_norm):
    net = nn.Network([784, 128, 10], dtype=dtype, seed=0, dropout=dropout, backend=backend)
    rate = schedules.Cosine(0.1, epochs=epochs + 1) if schedule else 0.1
    nn.Trainer(net, optimizer=nn.SGD(rate), batch_size=32, seed=0, clip_norm=clip_norm).fit(X, y, epochs=epochs,
                                                                                            verbose=False)
    return net.theta


def backends_agree(X, y, epochs):
    print("compiled vs reference, 784-128-10, SGD 0.1, batch 32, "
          f"{len(X)} images, {epochs} epochs: max |difference| (relative to max |weight|)")
    for dtype in ("float64", "float32"):
        Xd = X.astype(dtype)
        for name, variant in FEATURES.items():
            a = trained("compiled", Xd, y, dtype, epochs, *variant)
            b = trained("reference", Xd, y, dtype, epochs, *variant)
            diff = float(np.max(np.abs(a.astype(np.float64) - b)))
            print(f"  {dtype}  {name:<12} {diff:.2e}  ({diff / np.max(np.abs(b)):.2e})")


def against_pytorch(X, y):
    try:
        import torch
    except ImportError:
        print("PyTorch is not installed: its comparisons are skipped")
        return
    X, y = X[:500], y[:500]
    Y = np.eye(10)[y]
    print(f"against PyTorch {torch.__version__}, float64, 784-128-10 on {len(X)} images, full-batch steps:")

    def run_torch(net, make_optimizer, make_scheduler, steps, clip_norm):
        params = [torch.tensor(p.copy(), requires_grad=True) for layer in net.layers for p in (layer.W, layer.b)]
        optimizer = make_optimizer(params)
        scheduler = make_scheduler(optimizer)
        for _ in range(steps):
            optimizer.zero_grad()
            Z = torch.relu(torch.tensor(X) @ params[0] + params[1]) @ params[2] + params[3]
            torch.nn.functional.cross_entropy(Z, torch.tensor(y)).backward()
            if clip_norm:
                torch.nn.utils.clip_grad_norm_(params, clip_norm)
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
        return np.concatenate([p.detach().numpy().ravel() for p in params])

    cases = {
        "Cosine vs CosineAnnealingLR, SGD": (lambda: nn.SGD(schedules.Cosine(0.5, epochs=10, min_rate=0.05)), None,
                                             lambda p: torch.optim.SGD(p, lr=0.5),
                                             lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, 10, 0.05)),
        "Cosine vs CosineAnnealingLR, Adam": (lambda: nn.Adam(schedules.Cosine(0.01, epochs=10)), None,
                                              lambda p: torch.optim.Adam(p, lr=0.01),
                                              lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, 10)),
        "clip_norm 0.5 vs clip_grad_norm_, SGD": (lambda: nn.SGD(0.5), 0.5, lambda p: torch.optim.SGD(p, lr=0.5),
                                                  lambda o: None),
        "clip_norm 0.5 vs clip_grad_norm_, Adam": (lambda: nn.Adam(0.01), 0.5, lambda p: torch.optim.Adam(p, lr=0.01),
                                                   lambda o: None),
    }
    for name, (make_nn, clip_norm, make_torch, make_scheduler) in cases.items():
        net = nn.Network([784, 128, 10], seed=0)
        theirs = run_torch(net, make_torch, make_scheduler, 10, clip_norm)
        nn.Trainer(net, optimizer=make_nn(), batch_size=None, seed=0, clip_norm=clip_norm).fit(X, y, epochs=10,
                                                                                               verbose=False)
        print(f"  {name:<40} max |difference| {np.max(np.abs(net.theta - theirs)):.2e} after 10 steps")
    net = nn.Network([784, 128, 10], seed=0, dropout=0.2, backend="reference")
    activations, inputs, multipliers = reference.forward_dropout(net, X, 12345, np.arange(len(X)))
    grad = np.empty(net.n_params)
    reference.backward(net, activations, Y, "cross_entropy", layer_views(net.sizes, grad), None, inputs, multipliers)
    params = [torch.tensor(p.copy(), requires_grad=True) for layer in net.layers for p in (layer.W, layer.b)]
    hidden = torch.relu(torch.tensor(X) @ params[0] + params[1]) * torch.tensor(multipliers[1])
    torch.nn.functional.cross_entropy(hidden @ params[2] + params[3], torch.tensor(y)).backward()
    theirs = np.concatenate([p.grad.numpy().ravel() for p in params])
    print(f"  {'dropout 0.2: gradient through the same masks':<40} max |difference| "
          f"{np.max(np.abs(grad - theirs)):.2e} (max |gradient| {np.max(np.abs(theirs)):.2e})")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python bench/agreement.py", description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=None)
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args(argv)
    folder = args.data or (str(SHARED_MNIST) if SHARED_MNIST.exists() else None)
    X, y = load_mnist(folder)
    X, y = X[:args.images], y[:args.images]
    backends_agree(X, y, args.epochs)
    against_pytorch(X, y)


if __name__ == "__main__":
    main()
