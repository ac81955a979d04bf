"""The `nn` command: train, predict, gradcheck, bench, info.

Errors are one clear line on stderr and a non-zero exit, not a traceback.
"""
import argparse
import math
import os
import sys
import time
from typing import NamedTuple

import numpy as np

from . import __version__, backends
from .datasets import TOY_SETS, load_mnist, shift_images, standardize, train_test_split
from .functions import ACTIVATIONS, LOSS_OUTPUT, LOSSES
from .network import Network
from .optimizers import OPTIMIZERS
from .trainer import EarlyStopping, Trainer, TrainingDiverged, WeightTrace

DATASETS = ["mnist", *TOY_SETS]
PLOT_EXTRA = 'pip install "nn-lessons[plot]"'


# ----- the parser: argument types that refuse bad values before anything is loaded ---------------------
class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors, like the rest of the command: ``nn train: error: --epochs: must be
    >= 1, got 0`` (no usage block; ``nn train --help`` has it)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message.removeprefix('argument ')}\n")


def _number(text):
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None


def _integer(low):
    """An argparse type: an integer >= ``low``."""
    def integer(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {value}")
        return value
    return integer


def _positive(text):
    """An argparse type: a finite number > 0 (nan and inf fail both tests)."""
    value = _number(text)
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def _fraction(zero_allowed):
    """An argparse type: a fraction in [0, 1) or, without ``zero_allowed``, in (0, 1)."""
    def fraction(text):
        value = _number(text)
        if not ((value >= 0 if zero_allowed else value > 0) and value < 1):
            raise argparse.ArgumentTypeError(f"must be a fraction in {'[' if zero_allowed else '('}0, 1), got {text}")
        return value
    return fraction


def _parser():
    parser = _Parser(prog="nn", description="Small neural networks from scratch.")
    parser.add_argument("--version", action="version", version=f"nn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="command")

    train = sub.add_parser("train", help="train a network (784-128-10 on the bundled MNIST sample by default)")
    train.add_argument("--dataset", default="mnist", choices=DATASETS)
    train.add_argument("--data", help="folder of MNIST IDX files (default: the sample bundled with nn)")
    train.add_argument("--hidden", type=_integer(1), nargs="+", default=None,
                       help=f"hidden layer sizes (default: {_defaults_help('hidden')})")
    train.add_argument("--activation", default=None, choices=sorted(ACTIVATIONS),
                       help=f"hidden activation (default: {_defaults_help('activation')})")
    train.add_argument("--epochs", type=_integer(1), default=None, help=f"(default: {_defaults_help('epochs')})")
    train.add_argument("--batch-size", type=_integer(1), default=None,
                       help=f"(default: {_defaults_help('batch_size')})")
    train.add_argument("--learning-rate", type=_positive, default=None,
                       help=f"(default with sgd: {_defaults_help('learning_rate')}; momentum: a tenth of that; "
                            "rmsprop and adam: 0.001)")
    train.add_argument("--optimizer", default="sgd", choices=sorted(OPTIMIZERS), help="(default: sgd)")
    train.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    train.add_argument("--backend", default=None, choices=list(backends.NAMES))
    train.add_argument("--seed", type=_integer(0), default=0)
    train.add_argument("--validation-split", type=_fraction(zero_allowed=False), default=None)
    train.add_argument("--early-stopping", type=_integer(1), default=None, metavar="PATIENCE")
    train.add_argument("--augment", type=_integer(0), default=1, metavar="PIXELS",
                       help="mnist: shift each image by up to this many pixels each epoch (0: off; default 1)")
    train.add_argument("--fine-tune", type=_fraction(zero_allowed=True), default=0.2, metavar="FRACTION",
                       help="with --augment: the last FRACTION of the epochs run on the plain images at a "
                            "tenth of the learning rate (default 0.2)")
    train.add_argument("--save", metavar="PATH", help="write the trained network here (.npz)")
    train.add_argument("--plots", metavar="DIR", help="write PNG figures here (needs matplotlib)")

    predict = sub.add_parser("predict", help="accuracy and confusion matrix of a saved MNIST model")
    predict.add_argument("model", help="a file written by nn train --save")
    predict.add_argument("--data", help="folder of MNIST IDX files (default: the bundled sample)")
    predict.add_argument("--kind", default="test", choices=["test", "train"])
    predict.add_argument("--plots", metavar="DIR", help="write the confusion matrix and mistakes as PNGs")

    gradcheck = sub.add_parser("gradcheck", help="check backpropagation against finite differences")
    gradcheck.add_argument("--backend", default=None, choices=list(backends.NAMES))
    gradcheck.add_argument("--seed", type=_integer(0), default=0)

    sub.add_parser("bench", help="run the benchmarks (options: nn bench --help)", add_help=False)
    sub.add_parser("info", help="version, compiled core, dtypes, BLAS")
    return parser


# ----- paths: checked before the data is loaded and the network trained, not after ----------------------
def _folder_problem(folder):
    """Why files cannot be written in ``folder``, or None."""
    if not os.path.exists(folder):
        return f"folder {folder!r} does not exist"
    if not os.path.isdir(folder):
        return f"{folder!r} is a file, not a folder"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"folder {folder!r} is not writable"
    return None


def _parent(path):
    return os.path.dirname(os.path.normpath(path)) or "."


def _check_save(path):
    if os.path.isdir(path):
        raise ValueError(f"--save: {path!r} is a folder; give a file name, e.g. {os.path.join(path, 'model.npz')!r}")
    problem = _folder_problem(_parent(path))
    if problem:
        raise ValueError(f"--save: {problem}")


def _check_plots(folder):
    """The folder exists and is writable, or its parent is (it is made when the figures are written);
    and matplotlib is there to draw them."""
    if os.path.exists(folder):
        problem = _folder_problem(folder)
    else:
        problem = _folder_problem(_parent(folder))
        problem = problem and f"cannot create folder {folder!r}: {problem}"
    if problem:
        raise ValueError(f"--plots: {problem}")
    try:
        import matplotlib  # noqa: F401 (imported for real only when the figures are drawn)
    except ImportError:
        raise ValueError(f"--plots: the figures need matplotlib, which is not installed: {PLOT_EXTRA}") from None


def _check_paths(args):
    """--data, --save and --plots, before the data is loaded and the network trained: a typo costs nothing."""
    _check_data(args.data)
    if getattr(args, "save", None):
        _check_save(args.save)
    if args.plots:
        _check_plots(args.plots)


def _check_data(folder):
    """--data names a readable folder (the IDX files in it are the loader's to check)."""
    if folder is None:
        return
    if not os.path.exists(folder):
        raise ValueError(f"--data: folder {folder!r} does not exist")
    if not os.path.isdir(folder):
        raise ValueError(f"--data: {folder!r} is a file; give the folder that holds the MNIST IDX files")
    if not os.access(folder, os.R_OK | os.X_OK):
        raise ValueError(f"--data: folder {folder!r} is not readable")


# ----- train ------------------------------------------------------------------------------------------
INTERRUPTED = 130  # the exit status of a process stopped by Ctrl-C (128 + SIGINT)


class Defaults(NamedTuple):
    hidden: list
    activation: str
    output: str
    loss: str
    epochs: int
    batch_size: int
    learning_rate: float


MNIST_DEFAULTS = Defaults([128], "relu", "softmax", "cross_entropy", 20, 16, 0.1)
TOY_DEFAULTS = {
    "gender": Defaults([2], "sigmoid", "sigmoid", "mse", 1000, 1, 0.1),
    "xor": Defaults([4], "tanh", "sigmoid", "binary_cross_entropy", 2000, 4, 0.5),
    "spirals": Defaults([32, 32], "relu", "softmax", "cross_entropy", 300, 16, 0.1),
    "moons": Defaults([16, 16], "relu", "softmax", "cross_entropy", 200, 16, 0.1),
}


def _defaults_help(field):
    """The default of ``field`` for each dataset, for --help: 'mnist 20, gender 1000, ...'."""
    def shown(value):
        return " ".join(map(str, value)) if isinstance(value, list) else f"{value:g}" if isinstance(value, float) \
            else str(value)
    tables = {"mnist": MNIST_DEFAULTS, **TOY_DEFAULTS}
    return ", ".join(f"{name} {shown(getattr(defaults, field))}" for name, defaults in tables.items())


def _load(args):
    """(X, y, X_test, y_test, the dataset's Defaults)."""
    if args.dataset == "mnist":
        X, y = load_mnist(args.data, "train", dtype=args.dtype)
        X_test, y_test = load_mnist(args.data, "test", dtype=args.dtype)
        return X, y, X_test, y_test, MNIST_DEFAULTS
    if args.data:
        raise ValueError("--data is for --dataset mnist")
    X, y = TOY_SETS[args.dataset](seed=args.seed) if args.dataset in ("spirals", "moons") else TOY_SETS[args.dataset]()
    if args.dataset in ("spirals", "moons"):
        X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, seed=args.seed)
        X_train, X_test = standardize(X_train, X_test)
        return X_train, y_train, X_test, y_test, TOY_DEFAULTS[args.dataset]
    return X, y, X, y, TOY_DEFAULTS[args.dataset]  # four samples: the training set is the test


def _given(value, default):
    return default if value is None else value


def _default_rate(optimizer, defaults):
    """The learning rate of ``optimizer`` when none is given: the dataset's for SGD; for momentum the
    same step once the velocity has built up (v -> g / (1 - 0.9), so a tenth of it); for RMSprop and
    Adam, which scale their steps themselves, their own default (0.001)."""
    if optimizer == "sgd":
        return defaults.learning_rate
    if optimizer == "momentum":
        return defaults.learning_rate * (1 - 0.9)
    return OPTIMIZERS[optimizer]().learning_rate


def _trainer(args, X, y, defaults):
    """The Trainer of a new network (trainer.net), from the options and the dataset's defaults."""
    activation = args.activation or defaults.activation
    output = defaults.output
    n_out = 10 if args.dataset == "mnist" else (1 if output == "sigmoid" else int(np.max(y)) + 1)
    net = Network([X.shape[1], *(args.hidden or defaults.hidden), n_out], activation=activation, output=output,
                  dtype=args.dtype, seed=args.seed, backend=args.backend)
    rate = _given(args.learning_rate, _default_rate(args.optimizer, defaults))
    return Trainer(net, loss=defaults.loss, optimizer=OPTIMIZERS[args.optimizer](learning_rate=rate),
                   batch_size=_given(args.batch_size, defaults.batch_size), seed=args.seed)


def train(args):
    _check_paths(args)
    X, y, X_test, y_test, defaults = _load(args)
    trainer = _trainer(args, X, y, defaults)
    net, epochs = trainer.net, _given(args.epochs, defaults.epochs)
    noun = "images" if args.dataset == "mnist" else "samples"
    source = args.data or "bundled sample" if args.dataset == "mnist" else args.dataset
    print(f"training on {len(X)} {noun} ({source}), testing on {len(X_test)}")
    print(net.summary())

    callbacks, augment = [], None
    if args.dataset == "mnist" and args.augment > 0:
        augment, fine_tune = _augmentation(args, epochs, trainer.optimizer, callbacks)
        print(f"augmenting: images shifted by up to {args.augment} pixel(s) for {epochs - fine_tune} epochs, "
              f"then {fine_tune} on the plain images at a tenth of the learning rate")
    trace = None
    if args.plots and net.n_params <= 5000:
        trace = WeightTrace(0, 0, 0)
        callbacks.append(trace)
    stopper = None if args.early_stopping is None else EarlyStopping(args.early_stopping)
    start = time.perf_counter()
    # Ctrl-C in fit returns the history so far (history.interrupted); one that escapes fit reaches main.
    history = trainer.fit(X, y, epochs=epochs, validation_split=args.validation_split, early_stopping=stopper,
                          callbacks=callbacks, augment=augment, verbose=epochs <= 100)
    seconds = time.perf_counter() - start
    if len(history) == 0:  # only an interrupt ends a fit before its first epoch
        print("interrupted in the first epoch: no epoch completed")
        _not_written(args, "no epoch completed")
        return INTERRUPTED
    predictions = net.predict(X_test)
    accuracy = float(np.mean(predictions == np.asarray(y_test).ravel()))
    print(_outcome(history, epochs, seconds) + f"; test accuracy {accuracy:.4f} on {len(X_test)} {noun}"
          + (" (the weights of the last completed batch)" if history.interrupted else ""))
    if args.save:
        _save(net, args.save)
    if args.plots:
        _train_plots(args.plots, args.dataset, net, history, trace, X, y, X_test, y_test, predictions)
    return INTERRUPTED if history.interrupted else 0


def _outcome(history, epochs, seconds):
    done = f"interrupted after {len(history)} of {epochs} epochs" if history.interrupted else f"{len(history)} epochs"
    return f"{done} in {seconds:.1f} s; final training loss {history.loss[-1]:.4f}"


def _save(net, path):
    try:
        net.save(path)
    except OSError as exc:  # checked before training, but a disk fills up, a folder goes read-only
        raise ValueError(f"--save: cannot write {path!r}: {exc.strerror or exc}") from None
    print(f"saved to {path}")


def _not_written(args, reason):
    if args.save:
        print(f"not saved to {args.save}: {reason}")
    if args.plots:
        print(f"no figures written to {args.plots}: {reason}")


def _augmentation(args, epochs, optimizer, callbacks):
    fine_tune = int(round(epochs * args.fine_tune)) if epochs > 1 else 0
    shifted_epochs = epochs - fine_tune
    augment = lambda X, rng, epoch: shift_images(X, rng, args.augment) if epoch <= shifted_epochs else X

    def lower_rate(epoch, logs):
        if epoch == shifted_epochs and fine_tune:
            optimizer.learning_rate /= 10
    callbacks.append(lower_rate)
    return augment, fine_tune


PLOT_NAMES = {  # dataset: (its two features, its classes) for the decision boundary's axes and legend
    "gender": (("weight - 135 (lb)", "height - 66 (in)"), ("male", "female")),
    "xor": (("x1", "x2"), ("0 (x1 = x2)", "1 (x1 != x2)")),
    "spirals": (("x1 (standardized)", "x2 (standardized)"), None),
    "moons": (("x1 (standardized)", "x2 (standardized)"), ("upper moon", "lower moon")),
}


def _train_plots(folder, dataset, net, history, trace, X, y, X_test, y_test, predictions):
    from . import plots

    os.makedirs(folder, exist_ok=True)
    plots.training_curves(history, os.path.join(folder, "curves.png"))
    written = ["curves.png"]
    if trace is not None:
        steps_per_epoch = None if history.interrupted or not len(history) else len(trace.weights) // len(history)
        plots.weight_trace(trace, os.path.join(folder, "weight.png"), steps_per_epoch=steps_per_epoch)
        written.append("weight.png")
    if X.shape[1] == 2 and net.is_classifier:
        feature_names, class_names = PLOT_NAMES.get(dataset, (None, None))
        separate_test = X_test is not X  # gender and xor: the four samples are their own test set
        plots.decision_boundary(net, X, y, os.path.join(folder, "boundary.png"),
                                X_test=X_test if separate_test else None, y_test=y_test if separate_test else None,
                                feature_names=feature_names, class_names=class_names)
        written.append("boundary.png")
    if dataset == "mnist":
        written += _mnist_plots(folder, X_test, y_test, predictions)
    print(f"figures written to {folder}: {', '.join(written)}")
    plots.close_all()


def _mnist_plots(folder, X, y, predictions):
    from . import plots

    plots.confusion(y, predictions, os.path.join(folder, "confusion.png"))
    plots.misclassified(X, y, predictions, os.path.join(folder, "misclassified.png"))
    return ["confusion.png", "misclassified.png"]


# ----- predict, gradcheck, bench, info ------------------------------------------------------------------
MNIST_PIXELS = 28 * 28


def _check_model(path):
    if not os.path.exists(path):
        raise ValueError(f"model: file {path!r} does not exist")
    if os.path.isdir(path):
        raise ValueError(f"model: {path!r} is a folder; give a file written by nn train --save")


def predict(args):
    from .plots import confusion_matrix

    _check_model(args.model)
    _check_paths(args)
    net = Network.load(args.model)
    if net.sizes[0] != MNIST_PIXELS or net.sizes[-1] != 10:
        raise ValueError(f"model: {args.model} is a {'-'.join(map(str, net.sizes))} network; nn predict needs "
                         f"one for MNIST ({MNIST_PIXELS} inputs, 10 outputs), as nn train --save writes")
    X, y = load_mnist(args.data, args.kind, dtype=np.dtype(net.dtype).name)
    predictions = net.predict(X)
    counts = confusion_matrix(y, predictions, n_classes=10)
    print(f"{args.model}: accuracy {np.mean(predictions == y):.4f} on {len(y)} {args.kind} images "
          f"({args.data or 'bundled sample'})")
    print("confusion matrix (rows: true digit, columns: predicted):")
    print("      " + "".join(f"{j:6d}" for j in range(10)))
    for i, row in enumerate(counts):
        print(f"{i:6d}" + "".join(f"{c:6d}" for c in row))
    if args.plots:
        os.makedirs(args.plots, exist_ok=True)
        print(f"figures written to {args.plots}: {', '.join(_mnist_plots(args.plots, X, y, predictions))}")
        from .plots import close_all

        close_all()
    return 0


def gradcheck(args):
    from .gradcheck import gradcheck as check

    rng = np.random.default_rng(args.seed)
    worst = 0.0
    print(f"{'hidden':>10s} {'output':>10s} {'loss':>21s}  relative error")
    for loss in sorted(LOSSES):
        for output in sorted(ACTIVATIONS):
            if LOSS_OUTPUT[loss] not in (None, output):
                continue
            for hidden in sorted(ACTIVATIONS):
                n_out = 1 if loss == "binary_cross_entropy" else 3
                net = Network([4, 5, n_out], activation=hidden, output=output, seed=args.seed,
                              bias_init="normal", backend=args.backend)
                X = rng.normal(size=(6, 4))
                y = (rng.integers(0, n_out, size=6) if loss == "cross_entropy" else
                     rng.integers(0, 2, size=6).astype(float) if loss == "binary_cross_entropy" else
                     rng.normal(size=(6, n_out)))
                error = check(net, X, y, loss)
                worst = max(worst, error)
                print(f"{hidden:>10s} {output:>10s} {loss:>21s}  {error:.2e}")
    verdict = "pass" if worst < 1e-6 else "FAIL"
    print(f"max relative error {worst:.2e}: {verdict} (below 1e-6 passes)")
    return 0 if worst < 1e-6 else 1


def bench(argv):
    from .benchmark import run

    return run(argv)


def info(args):
    import scipy

    print(f"nn {__version__}")
    try:
        from .backends import compiled

        print(f"compiled core: loaded ({compiled.CORE_FILE})")
    except ImportError as exc:
        print(f"compiled core: NOT loaded ({exc})")
    print(f"default backend: {backends.resolve()}; dtypes: float64, float32")
    for name, module, role in (("scipy", scipy, "the compiled core's products"), ("numpy", np, "the reference's")):
        print(f"{name} {module.__version__}: {_blas(module)} ({role})")
    print(f"BLAS threads: OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', '(unset: all cores)')}")
    print(f"training threads: {backends.get_num_threads()} (nn.set_num_threads, NN_NUM_THREADS; batches too "
          "small to share train on one)")
    return 0


def _blas(module):
    """The BLAS a NumPy or SciPy build links, from its build configuration."""
    try:
        blas = module.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception:  # older builds describe themselves differently
        return "BLAS (see show_config())"


COMMANDS = {"train": train, "predict": predict, "gradcheck": gradcheck, "info": info}
# The user's mistakes (a bad option value, a missing or unreadable file, a full disk, no matplotlib) are one
# line; anything else is a bug and keeps its traceback.
USER_ERRORS = (ValueError, TypeError, OSError, ImportError)


def main(argv=None):
    """The `nn` command; returns the exit status (0, 1: training diverged or a check failed, 2: the user's
    error, 130: Ctrl-C, 141: stdout's reader went away)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    name = "nn"
    try:
        if argv[:1] == ["bench"]:  # its options are the benchmark's own
            name = "nn bench"
            status = bench(argv[1:])
        else:
            parser = _parser()
            args = parser.parse_args(argv)
            if args.command is None:
                parser.print_help(sys.stderr)
                return 2
            name = f"nn {args.command}"
            status = COMMANDS[args.command](args)
        sys.stdout.flush()  # a reader that went away shows here, where it is handled, not at exit
        return status
    except BrokenPipeError:
        return _stdout_gone()
    except TrainingDiverged as exc:
        print(f"{name}: training diverged: {exc}", file=sys.stderr)
        return 1
    except USER_ERRORS as exc:
        print(f"{name}: error: {_message(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{name}: interrupted", file=sys.stderr)
        return INTERRUPTED


def _message(exc):
    """One line for a user's error: an OSError as 'reason: path', the others as their own message."""
    if isinstance(exc, OSError) and exc.strerror:
        paths = " -> ".join(repr(p) for p in (exc.filename, exc.filename2) if p is not None)
        return f"{exc.strerror}: {paths}" if paths else exc.strerror
    return str(exc) or type(exc).__name__


def _stdout_gone():
    """`nn info | head -1`: the reader has gone. Point stdout at os.devnull, so that Python's flush at exit
    does not fail again, and exit quietly as a process killed by SIGPIPE would (128 + 13)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 141
