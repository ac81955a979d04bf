"""The `nn` command: `nn train` (MNIST by default, on the bundled sample) and `nn info`.

Errors are one clear line on stderr and a non-zero exit, not a traceback.
"""
import argparse
import sys
import time

import numpy as np

from . import __version__, backends
from .datasets import load_mnist
from .network import Network
from .optimizers import OPTIMIZERS
from .trainer import EarlyStopping, Trainer, TrainingDiverged


def _parser():
    parser = argparse.ArgumentParser(prog="nn", description="Small neural networks from scratch.")
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train a network on MNIST (the bundled sample unless --data)")
    train.add_argument("--data", help="folder of MNIST IDX files (default: the sample bundled with nn)")
    train.add_argument("--hidden", type=int, nargs="+", default=[128], help="hidden layer sizes (default: 128)")
    train.add_argument("--activation", default="relu", help="hidden activation (default: relu)")
    train.add_argument("--epochs", type=int, default=20)
    train.add_argument("--batch-size", type=int, default=32)
    train.add_argument("--learning-rate", type=float, default=0.1)
    train.add_argument("--optimizer", default="sgd", choices=sorted(OPTIMIZERS))
    train.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    train.add_argument("--backend", default=None, choices=list(backends.NAMES))
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--validation-split", type=float, default=None)
    train.add_argument("--early-stopping", type=int, default=None, metavar="PATIENCE")
    train.add_argument("--save", metavar="PATH", help="write the trained network here (.npz)")
    sub.add_parser("info", help="version, compiled core, dtypes, BLAS")
    return parser


def train(args):
    X, y = load_mnist(args.data, "train", dtype=args.dtype)
    X_test, y_test = load_mnist(args.data, "test", dtype=args.dtype)
    net = Network([X.shape[1], *args.hidden, 10], activation=args.activation, output="softmax",
                  dtype=args.dtype, seed=args.seed, backend=args.backend)
    optimizer = OPTIMIZERS[args.optimizer](learning_rate=args.learning_rate)
    trainer = Trainer(net, loss="cross_entropy", optimizer=optimizer, batch_size=args.batch_size, seed=args.seed)
    print(f"training on {len(X)} images ({args.data or 'bundled sample'}), testing on {len(X_test)}")
    print(net.summary())
    stopper = None if args.early_stopping is None else EarlyStopping(args.early_stopping)
    start = time.perf_counter()
    history = trainer.fit(X, y, epochs=args.epochs, validation_split=args.validation_split,
                          early_stopping=stopper, verbose=True)
    accuracy = float(np.mean(net.predict(X_test) == y_test))
    print(f"{len(history)} epochs in {time.perf_counter() - start:.1f} s; "
          f"test accuracy {accuracy:.4f} on {len(X_test)} images")
    if args.save:
        net.save(args.save)
        print(f"saved to {args.save}")
    return 0


def info(args):
    import scipy

    print(f"nn {__version__}")
    try:
        from . import _core

        print(f"compiled core: loaded ({_core.__file__})")
    except ImportError as exc:
        print(f"compiled core: NOT loaded ({exc})")
    print(f"default backend: {backends.resolve()}; dtypes: float64, float32")
    print(f"numpy {np.__version__}, scipy {scipy.__version__} (the core calls SciPy's BLAS)")
    return 0


def main(argv=None):
    args = _parser().parse_args(argv)
    try:
        return {"train": train, "info": info}[args.command](args)
    except (ValueError, TypeError, FileNotFoundError, TrainingDiverged) as exc:
        print(f"nn {args.command}: error: {exc}", file=sys.stderr)
        return 2
