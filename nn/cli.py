"""The `nn` command: train, predict, gradcheck, bench, info.

Errors are one clear line on stderr and a non-zero exit, not a traceback.
"""
import argparse
import copy
import csv
import math
import os
import sys
import time
from typing import NamedTuple

import numpy as np

from . import __version__, backends
from . import tabular
from .datasets import TOY_SETS, load_mnist, shift_images, standardization, standardize, train_test_split
from .functions import ACTIVATIONS, LOSS_OUTPUT, LOSSES
from .network import Network
from .optimizers import OPTIMIZERS
from .trainer import EarlyStopping, History, Trainer, TrainingDiverged, WeightTrace

DATASETS = ["mnist", *TOY_SETS]
TASKS = ["classify", "regress"]
DEFAULT_TEST_SPLIT = 0.2
FILE_OPTIONS = ("target", "task", "test", "test_split", "scale", "output")  # only for --data FILE
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
    train.add_argument("--dataset", default=None, choices=DATASETS,
                       help="a built-in dataset (default: mnist, or your file given with --data)")
    train.add_argument("--data", metavar="FILE|DIR",
                       help="your own data: a .csv (a header row or not), .npy (a 2-D array) or .npz (arrays X and "
                            "y) file; or a folder of MNIST IDX files (default: the MNIST sample bundled with nn)")
    train.add_argument("--target", metavar="COLUMN",
                       help="--data FILE: the target column, by header name or 0-based index (default: the last)")
    train.add_argument("--task", choices=TASKS,
                       help="--data FILE: classify (the target holds labels) or regress (numbers); default: "
                            "guessed from the target")
    train.add_argument("--test", metavar="FILE", help="--data FILE: test on this file (same columns)")
    train.add_argument("--test-split", type=_fraction(zero_allowed=True), default=None, metavar="FRACTION",
                       help=f"--data FILE without --test: hold out this fraction of the rows for testing, drawn "
                            f"with --seed (default {DEFAULT_TEST_SPLIT}; 0: no test set)")
    train.add_argument("--scale", action="store_true",
                       help="--data FILE: standardize the features with the training rows' mean and std (saved "
                            "with the model, applied by nn predict)")
    train.add_argument("--hidden", type=_integer(1), nargs="+", default=None,
                       help=f"hidden layer sizes (default: {_defaults_help('hidden')})")
    train.add_argument("--activation", default=None, choices=sorted(ACTIVATIONS),
                       help=f"hidden activation (default: {_defaults_help('activation')})")
    train.add_argument("--epochs", type=_integer(1), default=None, help=f"(default: {_defaults_help('epochs')})")
    train.add_argument("--batch-size", type=_integer(1), default=None,
                       help=f"(default: {_defaults_help('batch_size')})")
    train.add_argument("--learning-rate", type=_positive, default=None,
                       help=f"(default with sgd: {_defaults_help('learning_rate')}; momentum: a tenth of that; "
                            "rmsprop and adam: 0.01 for --data FILE, else 0.001)")
    train.add_argument("--optimizer", default=None, choices=sorted(OPTIMIZERS),
                       help="(default: sgd; adam for --data FILE)")
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

    predict = sub.add_parser("predict", help="a saved model's predictions, accuracy or R^2 on data")
    predict.add_argument("model", help="a file written by nn train --save")
    predict.add_argument("--data", metavar="FILE|DIR",
                         help="a .csv, .npy or .npz file with the columns the model was trained on (the target "
                              "column optional), or a folder of MNIST IDX files (default: the bundled sample)")
    predict.add_argument("--target", metavar="COLUMN",
                         help="--data FILE: the target column (default: the one the model was trained on, if there)")
    predict.add_argument("--output", metavar="PATH",
                         help="--data FILE: write the predictions here as CSV (default: to stdout when the file "
                              "has no target column)")
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
    """--data, --test, --save, --output and --plots, before the data is loaded and the network trained: a
    typo costs nothing."""
    _check_data(args.data)
    if getattr(args, "test", None):
        _check_table("--test", args.test)
    if getattr(args, "save", None):
        _check_save(args.save)
    if getattr(args, "output", None):
        _check_output(args.output)
    if args.plots:
        _check_plots(args.plots)


def _is_table(path):
    """--data names a file (a table), not a folder of MNIST IDX files."""
    return path is not None and not os.path.isdir(path)


def _check_data(path):
    """--data names a readable folder (the IDX files in it are the loader's to check) or a table file."""
    if path is None:
        return
    if not os.path.exists(path):
        kind = "file" if tabular.table_format(path) else "folder"
        raise ValueError(f"--data: {kind} {path!r} does not exist")
    if os.path.isdir(path):
        if not os.access(path, os.R_OK | os.X_OK):
            raise ValueError(f"--data: folder {path!r} is not readable")
        return
    _check_table("--data", path)


def _check_table(option, path):
    if not os.path.exists(path):
        raise ValueError(f"{option}: file {path!r} does not exist")
    if os.path.isdir(path):
        raise ValueError(f"{option}: {path!r} is a folder; give {tabular.FORMATS_TEXT}")
    if tabular.table_format(path) is None:
        folder = " a folder of MNIST IDX files nor" if option == "--data" else ""
        raise ValueError(f"{option}: {path!r} is neither{folder} {tabular.FORMATS_TEXT}")
    if not os.access(path, os.R_OK):
        raise ValueError(f"{option}: file {path!r} is not readable")


def _check_output(path):
    if os.path.isdir(path):
        raise ValueError(f"--output: {path!r} is a folder; give a file name, e.g. "
                         f"{os.path.join(path, 'predictions.csv')!r}")
    problem = _folder_problem(_parent(path))
    if problem:
        raise ValueError(f"--output: {problem}")


def _check_file_options(args, why):
    """--target, --task, --test, --test-split, --scale and --output are for --data FILE only."""
    for name in FILE_OPTIONS:
        value = getattr(args, name, None)
        if value is not None and value is not False:  # --test-split 0 is given, though 0 == False
            raise ValueError(f"--{name.replace('_', '-')} is for --data FILE (a .csv, .npy or .npz table), not {why}")


# ----- train ------------------------------------------------------------------------------------------
INTERRUPTED = 130  # the exit status of a process stopped by Ctrl-C (128 + SIGINT)


class Defaults(NamedTuple):
    hidden: list
    activation: str
    output: str
    loss: str
    epochs: int
    batch_size: int
    learning_rate: float  # with SGD; momentum's follows from it (see _default_rate)
    optimizer: str = "sgd"
    adaptive_rate: float = None  # RMSprop's and Adam's (None: their own default, 0.001)


MNIST_DEFAULTS = Defaults([128], "relu", "softmax", "cross_entropy", 20, 16, 0.1)
TOY_DEFAULTS = {
    "gender": Defaults([2], "sigmoid", "sigmoid", "mse", 1000, 1, 0.1),
    "xor": Defaults([4], "tanh", "sigmoid", "binary_cross_entropy", 2000, 4, 0.5),
    "spirals": Defaults([32, 32], "relu", "softmax", "cross_entropy", 300, 16, 0.1),
    "moons": Defaults([16, 16], "relu", "softmax", "cross_entropy", 200, 16, 0.1),
}
# A file's features and targets may be on any scale: Adam's steps do not grow with them, as SGD's do;
# at 0.01 a target of mean 10 is reached in 200 epochs of a few hundred rows (0.001 is ten times slower).
FILE_DEFAULTS = {
    "classify": Defaults([32], "relu", "softmax", "cross_entropy", 200, 16, 0.1, "adam", 0.01),
    "regress": Defaults([32], "relu", "identity", "mse", 200, 16, 0.1, "adam", 0.01),
}


def _defaults_help(field):
    """The default of ``field`` for each dataset, for --help: 'mnist 20, gender 1000, ...'."""
    def shown(value):
        return " ".join(map(str, value)) if isinstance(value, list) else f"{value:g}" if isinstance(value, float) \
            else str(value)
    tables = {"mnist": MNIST_DEFAULTS, **TOY_DEFAULTS, "FILE": FILE_DEFAULTS["classify"]}
    return ", ".join(f"{name} {shown(getattr(defaults, field))}" for name, defaults in tables.items())


class Data(NamedTuple):
    """What nn train learns from. ``y`` is what fit takes (class ids or values), ``y_test`` what predict
    returns (labels for a file's classes); ``X_test`` is None without a test set. ``lines`` describe the
    data, printed before the network; ``classes`` and ``metadata`` go to the network."""
    X: np.ndarray
    y: np.ndarray
    X_test: object
    y_test: object
    defaults: Defaults
    n_outputs: int
    noun: str
    lines: list
    classes: object = None
    metadata: dict = {}
    feature_names: object = None  # the decision boundary's axes and legend
    class_names: object = None
    mnist: bool = False


def _load(args):
    """The Data of --dataset or --data."""
    if _is_table(args.data):
        if args.dataset is not None:
            raise ValueError(f"--data: {args.data!r} is a file; --dataset {args.dataset} needs "
                             + ("the folder that holds the MNIST IDX files" if args.dataset == "mnist" else
                                "no --data (its data is built in)"))
        return _load_file(args)
    dataset = args.dataset or "mnist"
    _check_file_options(args, f"--dataset {dataset}")
    if dataset == "mnist":
        X, y = load_mnist(args.data, "train", dtype=args.dtype)
        X_test, y_test = load_mnist(args.data, "test", dtype=args.dtype)
        line = f"training on {len(X)} images ({args.data or 'bundled sample'}), testing on {len(X_test)}"
        return Data(X, y, X_test, y_test, MNIST_DEFAULTS, 10, "images", [line], mnist=True)
    if args.data:
        raise ValueError(f"--data is for --dataset mnist (a folder) or your own data (a file), not --dataset {dataset}")
    defaults = TOY_DEFAULTS[dataset]
    X, y = TOY_SETS[dataset](seed=args.seed) if dataset in ("spirals", "moons") else TOY_SETS[dataset]()
    if dataset in ("spirals", "moons"):
        X, X_test, y, y_test = train_test_split(X, y, test_size=0.25, seed=args.seed)
        X, X_test = standardize(X, X_test)
    else:
        X_test, y_test = X, y  # four samples: the training set is the test
    n_outputs = 1 if defaults.output == "sigmoid" else int(np.max(y)) + 1
    feature_names, class_names = PLOT_NAMES.get(dataset, (None, None))
    return Data(X, y, X_test, y_test, defaults, n_outputs, "samples",
                [f"training on {len(X)} samples ({dataset}), testing on {len(X_test)}"],
                feature_names=feature_names, class_names=class_names)


# ----- your own data: a table from a file ----------------------------------------------------------------
def _load_file(args):
    """The Data of a table file (--data FILE): the target column (--target), the task (--task, or
    guessed), a test set (--test FILE, or --test-split of the rows) and the scaling (--scale)."""
    table = tabular.read_table(args.data)
    X, target, feature_names, target_name = tabular.features_and_target(table, args.target)
    target_column = table.names.index(target_name)
    task = args.task or tabular.guess_task(target)
    lines = [_data_line(table, X, feature_names, target_name, target_column, args.target)]
    if args.test:
        if args.test_split is not None:
            raise ValueError("--test-split: give --test FILE or --test-split, not both")
        test_table = tabular.read_table(args.test)
        X_test, target_test = tabular.model_columns(test_table, X.shape[1], feature_names, target_name, target_column)
        if target_test is None:
            raise ValueError(f"--test: {args.test} has no target column {target_name!r}")
    else:
        X_test = target_test = None

    encode = _classes if task == "classify" else _values
    classes, y, y_test, described = encode(table, target, target_name, target_test)
    how = "as --task says" if args.task else "guessed from the target; --task to choose"
    lines.append(f"task: {task} ({described}), {how}")
    if classes is not None and y_test is not None:
        unknown = sorted(set(y_test.tolist()) - set(classes.tolist()))
        if unknown:
            lines.append(f"note: {args.test} has labels the training data lacks ({_listed(unknown)}): they count "
                         "as mistakes")

    if X_test is None:
        X, y, X_test, y_test, held_out = _split(args, X, y, classes)
    else:
        order = np.random.default_rng(args.seed).permutation(len(X))  # validation_split takes the last rows
        X, y, held_out = X[order], y[order], f"({args.test})"
    metadata = {"data": os.path.basename(args.data), "feature_names": feature_names, "target_name": target_name,
                "target_column": target_column, "task": task}
    if args.scale:
        mean, std = standardization(X)
        X = (X - mean) / std
        X_test = None if X_test is None else (X_test - mean) / std
        metadata.update(scale_mean=mean.tolist(), scale_std=std.tolist())
    testing = "no test set (--test-split 0)" if X_test is None else f"testing on {len(X_test)} {held_out}"
    lines.append(f"training on {len(X)} samples ({os.path.basename(args.data)}), {testing}"
                 + ("; features standardized (--scale)" if args.scale else _scale_hint(X)))
    n_outputs = 1 if classes is None else len(classes)
    class_names = None if classes is None else [str(c) for c in classes]
    return Data(X, y, X_test, y_test, FILE_DEFAULTS[task], n_outputs, "samples", lines, classes, metadata,
                feature_names, class_names)


def _data_line(table, X, feature_names, target_name, target_column, target_option):
    """'data: iris.csv (a header row): 150 rows, 4 features (a, b, c, d), the target column 'species' (the last)'"""
    form = {"csv": "a header row" if table.header else "no header row", "npy": "a 2-D array", "npz": "X and y"}
    which = "" if table.kind == "npz" else " (--target)" if target_option is not None else \
        " (the last; --target to choose)"
    return (f"data: {os.path.basename(table.path)} ({form[table.kind]}): {len(X)} rows, {X.shape[1]} features "
            f"({_listed(feature_names)}), the target {table.column(target_column)}{which}")


def _listed(items, limit=8):
    items = [str(item) for item in items]
    return ", ".join(items) if len(items) <= limit else ", ".join(items[:limit - 2]) + f", ... ({len(items)} in all)"


def _classes(table, target, target_name, target_test):
    """(classes, class ids, test labels, a description) of a classification's target column."""
    classes, y = np.unique(tabular.as_labels(target), return_inverse=True)
    if len(classes) < 2:
        raise ValueError(f"{table.path}: the target {target_name!r} holds one class only ({classes[0]!r}): nothing "
                         "to tell apart")
    y_test = None if target_test is None else tabular.like_classes(target_test, classes)
    return classes, y, y_test, f"{len(classes)} classes: {_listed(classes, 10)}"


def _values(table, target, target_name, target_test):
    """(None, targets, test targets, a description) of a regression's target column."""
    y = tabular.regression_targets(target, f"{table.path}'s target {target_name!r}")
    y_test = None if target_test is None else tabular.regression_targets(target_test, f"the --test target {target_name!r}")
    return None, y, y_test, f"{target_name!r} from {y.min():g} to {y.max():g}"


def _split(args, X, y, classes):
    """(X, y, X_test, y_test, how the test rows were chosen) of --test-split; y_test as labels."""
    fraction = DEFAULT_TEST_SPLIT if args.test_split is None else args.test_split
    if fraction == 0:
        order = np.random.default_rng(args.seed).permutation(len(X))
        return X[order], y[order], None, None, ""
    X, X_test, y, y_test = train_test_split(X, y, test_size=fraction, seed=args.seed)
    return X, y, X_test, (y_test if classes is None else classes[y_test]), \
        f"(held out: --test-split {fraction:g}, seed {args.seed})"


def _scale_hint(X):
    """A hint to --scale when the features' spreads differ a hundredfold or more."""
    std = X.std(axis=0)
    spread = std[std > 0]
    if len(spread) > 1 and spread.max() >= 100 * spread.min():
        return f"; the features' spreads range from {spread.min():.3g} to {spread.max():.3g}: --scale may help"
    return ""


# ----- the network and its training -------------------------------------------------------------------
def _given(value, default):
    return default if value is None else value


def _default_rate(optimizer, defaults):
    """The learning rate of ``optimizer`` when none is given: the dataset's for SGD; for momentum the
    same step once the velocity has built up (v -> g / (1 - 0.9), so a tenth of it); for RMSprop and
    Adam, which scale their steps themselves, the dataset's adaptive rate, else their own default (0.001)."""
    if optimizer == "sgd":
        return defaults.learning_rate
    if optimizer == "momentum":
        return defaults.learning_rate * (1 - 0.9)
    return _given(defaults.adaptive_rate, OPTIMIZERS[optimizer]().learning_rate)


def _trainer(args, data):
    """The Trainer of a new network (trainer.net), from the options and the data's defaults."""
    defaults = data.defaults
    net = Network([data.X.shape[1], *(args.hidden or defaults.hidden), data.n_outputs],
                  activation=args.activation or defaults.activation, output=defaults.output,
                  dtype=args.dtype, seed=args.seed, backend=args.backend, classes=data.classes)
    net.metadata = dict(data.metadata)
    optimizer = args.optimizer or defaults.optimizer
    rate = _given(args.learning_rate, _default_rate(optimizer, defaults))
    return Trainer(net, loss=defaults.loss, optimizer=OPTIMIZERS[optimizer](learning_rate=rate),
                   batch_size=_given(args.batch_size, defaults.batch_size), seed=args.seed)


def train(args):
    _check_paths(args)
    data = _load(args)
    trainer = _trainer(args, data)
    net, epochs = trainer.net, _given(args.epochs, data.defaults.epochs)
    print("\n".join(data.lines))
    print(net.summary())

    callbacks, phases = [], None
    if args.dataset in (None, "mnist") and not _is_table(args.data) and args.augment > 0:
        phases = _phases(args, epochs)
        print(f"augmenting: images shifted by up to {args.augment} pixel(s) for {phases.shifted} epochs, "
              f"then {phases.fine_tune} on the plain images at a tenth of the learning rate")
    trace = None
    if args.plots and net.n_params <= 5000:
        trace = WeightTrace(0, 0, 0)
        callbacks.append(trace)
    stopper = None
    if args.early_stopping is not None:
        stopper = EarlyStopping(args.early_stopping)
        print(_watching(args, phases))
    start = time.perf_counter()
    # Ctrl-C in fit returns the history so far (history.interrupted); one that escapes fit reaches main.
    # Progress bars only on a terminal: a redirected stderr would fill with their redraws.
    history = _fit(trainer, data, epochs, args.validation_split, stopper, callbacks, phases,
                   verbose=epochs <= 100 and sys.stderr.isatty())
    seconds = time.perf_counter() - start
    if len(history) == 0:  # only an interrupt ends a fit before its first epoch
        print("interrupted in the first epoch: no epoch completed")
        _not_written(args, "no epoch completed")
        return INTERRUPTED
    print(_outcome(history, epochs, seconds) + "; " + _score_text(net, data)
          + (" (the weights of the last completed batch)" if history.interrupted else ""))
    if args.save:
        _save(net, args.save)
    if args.plots:
        _train_plots(args.plots, net, history, trace, data)
    return INTERRUPTED if history.interrupted else 0


def _score_text(net, data):
    """'test accuracy 0.9667 on 30 samples', 'test R^2 0.9512 on 30 samples'; the training rows' when
    there is no test set."""
    X, y, where = (data.X, data.y, "training") if data.X_test is None else (data.X_test, data.y_test, "test")
    if data.X_test is None and data.classes is not None:
        y = data.classes[y]
    measure = "accuracy" if net.is_classifier else "R^2"
    return f"{where} {measure} {net.score(X, y):.4f} on {len(X)} {data.noun}"


def _outcome(history, epochs, seconds):
    if history.interrupted:
        done = f"interrupted after {len(history)} of {epochs} epochs"
    elif history.stopped_early:
        done = f"stopped early after {len(history)} of {epochs} epochs (keeping epoch {history.best_epoch}'s weights)"
    else:
        done = f"{len(history)} epochs"
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


# ----- MNIST augmentation, early stopping and the fine-tune phase ----------------------------------------
class Phases(NamedTuple):
    """MNIST's training with augmentation: ``shifted`` epochs on shifted images (``augment``), then
    ``fine_tune`` epochs on the plain images at a tenth of the learning rate."""
    shifted: int
    fine_tune: int
    augment: object


def _phases(args, epochs):
    fine_tune = int(round(epochs * args.fine_tune)) if epochs > 1 else 0
    return Phases(epochs - fine_tune, fine_tune, lambda X, rng, epoch: shift_images(X, rng, args.augment))


def _watching(args, phases):
    """What early stopping watches, said before training. In a fine-tune phase it watches only that phase:
    the loss on shifted images, and the rate before the drop, are not the ones of the end."""
    what = "validation loss" if args.validation_split else "training loss: no --validation-split"
    when = ""
    if phases is not None and phases.fine_tune:
        when = (f"; only in the {phases.fine_tune} fine-tune epochs ({phases.shifted + 1} on), not while the "
                "images are shifted")
    return f"early stopping watches the {what}{when} (patience {args.early_stopping})"


def _fit(trainer, data, epochs, validation_split, stopper, callbacks, phases, verbose):
    """trainer.fit on the data, in two calls with a fine-tune phase (early stopping in the second only)."""
    def fit(n_epochs, early_stopping, augment=None):
        return trainer.fit(data.X, data.y, epochs=n_epochs, validation_split=validation_split,
                           early_stopping=early_stopping, callbacks=callbacks, augment=augment, verbose=verbose)
    if phases is None:
        return fit(epochs, stopper)
    if not phases.fine_tune:
        return fit(epochs, stopper, phases.augment)
    shifted = fit(phases.shifted, None, phases.augment)
    if shifted.interrupted:
        return shifted
    trainer.optimizer.learning_rate /= 10
    return _joined(shifted, fit(phases.fine_tune, stopper))


def _joined(first, second):
    """One History of two fits, one after the other."""
    history = History()
    for part in (first, second):
        for i in range(len(part)):
            history.append({key: values[i] for key, values in part.logs.items() if values})
    history.interrupted, history.stopped_early = second.interrupted, second.stopped_early
    history.best_epoch = None if second.best_epoch is None else len(first) + second.best_epoch
    return history


PLOT_NAMES = {  # dataset: (its two features, its classes) for the decision boundary's axes and legend
    "gender": (("weight - 135 (lb)", "height - 66 (in)"), ("male", "female")),
    "xor": (("x1", "x2"), ("0 (x1 = x2)", "1 (x1 != x2)")),
    "spirals": (("x1 (standardized)", "x2 (standardized)"), None),
    "moons": (("x1 (standardized)", "x2 (standardized)"), ("upper moon", "lower moon")),
}


def _train_plots(folder, net, history, trace, data):
    from . import plots

    os.makedirs(folder, exist_ok=True)
    plots.training_curves(history, os.path.join(folder, "curves.png"))
    written = ["curves.png"]
    if trace is not None:
        steps_per_epoch = None if history.interrupted or not len(history) else len(trace.weights) // len(history)
        plots.weight_trace(trace, os.path.join(folder, "weight.png"), steps_per_epoch=steps_per_epoch)
        written.append("weight.png")
    if data.X.shape[1] == 2 and net.is_classifier:
        _boundary(plots, os.path.join(folder, "boundary.png"), net, data)
        written.append("boundary.png")
    if data.mnist:
        written += _mnist_plots(folder, data.X_test, data.y_test, net.predict(data.X_test))
    print(f"figures written to {folder}: {', '.join(written)}")
    plots.close_all()


def _boundary(plots, path, net, data):
    """The decision boundary, which speaks in class ids: a network with labels (a file's classes) is drawn
    through a copy without them, and test rows whose label the network does not know are left out."""
    X_test, y_test = data.X_test, data.y_test
    if X_test is data.X:  # gender and xor: the four samples are their own test set
        X_test = y_test = None
    if net.classes is not None:
        if X_test is not None:
            known = np.isin(y_test, net.classes)
            X_test, y_test = X_test[known], np.searchsorted(net.classes, y_test[known])
        net = copy.deepcopy(net)
        net.classes = None
    plots.decision_boundary(net, data.X, data.y, path, X_test=X_test, y_test=y_test,
                            feature_names=data.feature_names, class_names=data.class_names)


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
    if _is_table(args.data):
        return _predict_table(args, net)
    trained_on = net.metadata.get("data")
    if trained_on:
        raise ValueError(f"--data: give the file to predict on: {args.model} was trained on {trained_on}, a table of "
                         f"{net.n_inputs} features, not on MNIST images")
    _check_file_options(args, "MNIST images")
    if net.sizes[0] != MNIST_PIXELS or net.sizes[-1] != 10:
        raise ValueError(f"model: {args.model} is a {'-'.join(map(str, net.sizes))} network; nn predict needs "
                         f"one for MNIST ({MNIST_PIXELS} inputs, 10 outputs), or --data FILE with a table of its "
                         f"{net.n_inputs} features")
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


def _predict_table(args, net):
    """nn predict --data FILE: the saved scaling applied; the accuracy or R^2 when the file has the target
    column; the predictions as CSV to --output, or to stdout when there is no target to score."""
    if args.plots:
        raise ValueError("--plots is for MNIST models (the confusion matrix and mistakes), not --data FILE")
    meta = net.metadata
    table = tabular.read_table(args.data)
    X, target = tabular.model_columns(table, net.n_inputs, meta.get("feature_names"), meta.get("target_name"),
                                      meta.get("target_column"), args.target)
    if "scale_mean" in meta:
        X = (X - np.asarray(meta["scale_mean"])) / np.asarray(meta["scale_std"])
    predictions = net.predict(X)
    name = meta.get("target_name") or "prediction"
    if target is not None:
        print(f"{args.model}: {_table_score(net, predictions, X, target, name)} on {len(X)} samples "
              f"({os.path.basename(args.data)})")
    if args.output:
        with open(args.output, "w", newline="") as f:
            _write_predictions(f, predictions, name)
        print(f"predictions written to {args.output}")
    elif target is None:
        print(f"{args.data} has no target column: its {len(X)} predictions follow, as CSV (--output to write "
              "them to a file)", file=sys.stderr)
        _write_predictions(sys.stdout, predictions, name)
    return 0


def _table_score(net, predictions, X, target, name):
    """'accuracy 0.9667' (classifiers) or 'R^2 0.9512' (regressors) against a file's target column."""
    if not net.is_classifier:
        return f"R^2 {net.score(X, tabular.regression_targets(target, f'the target {name!r}')):.4f}"
    labels = tabular.as_labels(target) if net.classes is None else tabular.like_classes(target, net.classes)
    text = f"accuracy {np.mean(predictions == labels):.4f}"
    if net.classes is not None:
        unknown = sorted(set(labels.tolist()) - set(net.classes.tolist()))
        if unknown:
            text += f" (labels the model does not know, counted as mistakes: {_listed(unknown)})"
    return text


def _write_predictions(stream, predictions, name):
    """The predictions as CSV with a header: one column named after the target (one per output of a
    network with several)."""
    rows = np.asarray(predictions).reshape(len(predictions), -1)
    writer = csv.writer(stream)
    writer.writerow([name] if rows.shape[1] == 1 else [f"{name}_{j}" for j in range(rows.shape[1])])
    writer.writerows(rows.tolist())


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
    print(f"training threads: {backends.threads.get_num_threads()} (nn.set_num_threads, NN_NUM_THREADS; batches too "
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
