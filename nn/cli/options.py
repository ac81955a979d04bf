"""The options of `nn train`, `nn predict`, `nn export`, `nn gradcheck` and `nn bench`: the parser and its
argument types (they refuse bad values before anything is loaded), --schedule's forms, the defaults each
dataset trains with (shown in --help), nn bench's workloads, which options a command line gave (for
--resume), and the checks of the paths given, made before the data is loaded and the network trained.
"""
import argparse
import math
import os
from typing import NamedTuple

from .. import __version__, backends
from .. import tabular
from ..datasets import TOY_SETS
from ..functions import ACTIVATIONS
from ..onnx_export import DEFAULT_OPSET, MIN_OPSET
from ..optimizers import OPTIMIZERS

DATASETS = ["mnist", *TOY_SETS]
TASKS = ["classify", "regress"]
DEFAULT_TEST_SPLIT = 0.2
RESUME_OPTIONS = ("resume", "epochs", "checkpoint", "save", "plots", "backend")  # the others: from the checkpoint
RESUME_TEXT = "--epochs, --checkpoint, --save, --plots and --backend"
FILE_OPTIONS = ("target", "task", "test", "test_split", "scale", "output")  # only for --data FILE
CHECKPOINT_NAME = "last.npz"  # in --checkpoint DIR
PLOT_EXTRA = 'pip install "nn-lessons[plot]"'
# nn bench's workloads, in the order they run (nn.cli.bench has a function for each)
BENCH_WORKLOADS = {
    "lesson": "the lessons' 2-2-1 gender network, per-sample SGD, 1000 epochs",
    "mnist": "one MNIST epoch of 784-128-10, batch 32 and 128, float32 and float64",
    "optimizers": "that epoch at batch 32 with momentum, RMSprop and Adam, against SGD's",
    "inference": "net.forward on the test images (rows/s) and on one row (latency)",
}
REFERENCE_MAX_IMAGES = 10_000  # nn bench: the reference trains MNIST epochs of at most this many images


# ----- the defaults each dataset trains with ----------------------------------------------------------
class Defaults(NamedTuple):
    """What a dataset trains with where an option is not given."""
    hidden: list
    activation: str
    output: str
    loss: str
    epochs: int
    batch_size: int
    learning_rate: float  # with SGD; momentum's follows from it (see train._default_rate)
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


def _non_negative(text):
    """An argparse type: a finite number >= 0."""
    value = _number(text)
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value


def _fraction(zero_allowed):
    """An argparse type: a fraction in [0, 1) or, without ``zero_allowed``, in (0, 1)."""
    def fraction(text):
        value = _number(text)
        if not ((value >= 0 if zero_allowed else value > 0) and value < 1):
            raise argparse.ArgumentTypeError(f"must be a fraction in {'[' if zero_allowed else '('}0, 1), got {text}")
        return value
    return fraction


# ----- --schedule SPEC: the learning rate of each epoch ----------------------------------------------------
class ScheduleForm(NamedTuple):
    """A form of --schedule: the names and argparse types of its numbers, after the name and a colon each,
    and how many of them must be given."""
    numbers: tuple
    required: int


SCHEDULE_FORMS = {
    "constant": ScheduleForm((), 0),
    "step": ScheduleForm((("STEP_SIZE", _integer(1)), ("GAMMA", _positive)), 1),
    "exponential": ScheduleForm((("GAMMA", _positive),), 1),
    "cosine": ScheduleForm((("MIN_RATE", _non_negative), ("WARMUP", _integer(0))), 0),
    "plateau": ScheduleForm((("FACTOR", _fraction(zero_allowed=False)), ("PATIENCE", _integer(0))), 0),
}
SCHEDULES_TEXT = ("constant, step:STEP_SIZE[:GAMMA], exponential:GAMMA, cosine[:MIN_RATE[:WARMUP]] or "
                  "plateau[:FACTOR[:PATIENCE]]")


def parse_schedule(text):
    """(name, [its numbers]) of a --schedule SPEC such as 'step:10:0.5'; a ValueError that names the
    accepted forms otherwise."""
    name, *values = text.split(":")
    form = SCHEDULE_FORMS.get(name)
    if form is None or not form.required <= len(values) <= len(form.numbers):
        raise ValueError(f"must be {SCHEDULES_TEXT}, got {text!r}")
    numbers = []
    for (number, kind), value in zip(form.numbers, values):
        try:
            numbers.append(kind(value))
        except argparse.ArgumentTypeError as exc:
            raise ValueError(f"{text!r}: {number} {exc} (the forms: {SCHEDULES_TEXT})") from None
    return name, numbers


def _workloads(text):
    """An argparse type: --only's comma-separated workload names, as a list in the order they run."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in BENCH_WORKLOADS]
    if unknown or not names:
        what = f"unknown workload {unknown[0]!r}" if unknown else f"no workload in {text!r}"
        raise argparse.ArgumentTypeError(f"{what}; expected a comma-separated list of {', '.join(BENCH_WORKLOADS)}")
    return [name for name in BENCH_WORKLOADS if name in names]


def _schedule(text):
    """An argparse type: a --schedule SPEC, checked, kept as text (stored as given for --resume)."""
    try:
        parse_schedule(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def make_parser(parser_class=_Parser):
    """The parser of every command. ``parser.commands``: each command's parser."""
    parser = parser_class(prog="nn", description="Small neural networks from scratch.")
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
                       help="with --augment: the last FRACTION of the epochs run on the plain images, at a "
                            "tenth of the learning rate unless --schedule is given (default 0.2)")
    train.add_argument("--schedule", type=_schedule, default=None, metavar="SPEC",
                       help="the learning rate of each epoch, from the rate chosen (--learning-rate or its "
                            "default): constant; step:STEP_SIZE[:GAMMA] (times GAMMA, default 0.1, every "
                            "STEP_SIZE epochs); exponential:GAMMA (times GAMMA every epoch); "
                            "cosine[:MIN_RATE[:WARMUP]] (a linear warm-up over WARMUP epochs, default 0, then "
                            "half a cosine towards MIN_RATE, default 0, reached after the last epoch); "
                            "plateau[:FACTOR[:PATIENCE]] (times FACTOR, default 0.1, after PATIENCE + 1 epochs, "
                            "default 10, without a lower validation loss, or training loss without "
                            "--validation-split). Default: constant, and for mnist with --augment a tenth of "
                            "the rate in the fine-tune epochs")
    train.add_argument("--clip-norm", type=_positive, default=None, metavar="C",
                       help="scale each batch's gradient to an L2 norm (over all the parameters) of at most C "
                            "(default: no clipping)")
    train.add_argument("--save", metavar="PATH", help="write the trained network here (.npz)")
    train.add_argument("--plots", metavar="DIR", help="write PNG figures here (needs matplotlib)")
    train.add_argument("--checkpoint", metavar="DIR",
                       help=f"write a checkpoint, DIR/{CHECKPOINT_NAME}, after every epoch (the folder is made "
                            "if missing): after a Ctrl-C or a crash, --resume goes on from the last epoch "
                            "completed")
    train.add_argument("--resume", metavar="FILE",
                       help=f"go on from a checkpoint ({CHECKPOINT_NAME} of --checkpoint) to --epochs (the "
                            "total; default the stored one), with the data and options stored in it; only "
                            f"{RESUME_TEXT} may be given with it")

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

    export = sub.add_parser("export", help="a saved model as an ONNX file (needs nn-lessons[onnx])")
    export.add_argument("model", help="a file written by nn train --save")
    export.add_argument("output", help="the ONNX file to write, e.g. model.onnx")
    export.add_argument("--opset", type=_integer(1), default=DEFAULT_OPSET,
                        help=f"the ONNX opset, from {MIN_OPSET} to the newest the installed onnx knows "
                             f"(default {DEFAULT_OPSET})")

    bench = sub.add_parser("bench", help="time nn's own workloads: the compiled core against the NumPy reference",
                           description="Time nn's own workloads on this machine, the compiled core against the "
                                       "NumPy reference in one process (their runs alternate; medians after a "
                                       "warm-up). The comparisons with PyTorch, scikit-learn and JAX are in a "
                                       "checkout of nn's repository: python bench/run.py, bench/sweep.py.")
    bench.add_argument("--repeat", type=_integer(1), default=5, metavar="N",
                       help="timed runs of each figure, after a warm-up (default 5)")
    bench.add_argument("--data", metavar="DIR",
                       help="a folder of MNIST IDX files (default: the MNIST sample bundled with nn); the "
                            f"reference's MNIST epochs are skipped above {REFERENCE_MAX_IMAGES:,} training images")
    bench.add_argument("--threads", type=_integer(1), default=None, metavar="N",
                       help="the compiled backend's threads and the BLAS's (default: nn's, as nn info shows)")
    bench.add_argument("--only", type=_workloads, default=list(BENCH_WORKLOADS), metavar="LIST",
                       help="comma-separated workloads: " + "; ".join(f"{name}: {text}"
                                                                       for name, text in BENCH_WORKLOADS.items()))
    bench.add_argument("--json", metavar="FILE", help="also write the results to this file, as JSON")
    sub.add_parser("info", help="version, compiled core, dtypes, BLAS")
    parser.commands = sub.choices
    return parser


def given_options(argv):
    """The options (by dest) that the command line ``argv`` gives, whether or not equal to the
    defaults: it is parsed again with no defaults at all (argv has parsed once already)."""
    parser = make_parser()
    for command in parser.commands.values():
        for action in command._actions:
            action.default = argparse.SUPPRESS
    return set(vars(parser.parse_args(argv))) - {"command"}


class _Checking(_Parser):
    """A parser whose errors are ValueErrors (for arguments read back from a file, not typed)."""

    def error(self, message):
        raise ValueError(message.removeprefix("argument "))


def train_options(argv):
    """`nn train` options parsed from the list ``argv`` (without "train"), checked as on the command
    line; a ValueError for a bad one."""
    return make_parser(_Checking).parse_args(["train", *argv])


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


def _creatable_folder_problem(folder):
    """Why ``folder`` can neither be written in nor made, or None."""
    if os.path.exists(folder):
        return _folder_problem(folder)
    problem = _folder_problem(_parent(folder))
    return problem and f"cannot create folder {folder!r}: {problem}"


def check_new_file(option, path, example):
    """``option`` names a file that can be written (the folder exists and is writable): a ValueError that
    suggests ``example`` as a name when ``path`` is a folder."""
    if os.path.isdir(path):
        raise ValueError(f"{option}: {path!r} is a folder; give a file name, e.g. {os.path.join(path, example)!r}")
    problem = _folder_problem(_parent(path))
    if problem:
        raise ValueError(f"{option}: {problem}")


def check_mnist_folder(option, path):
    """``option`` names a readable folder (the IDX files in it are the loader's to check)."""
    if not os.path.exists(path):
        raise ValueError(f"{option}: folder {path!r} does not exist")
    if not os.path.isdir(path):
        raise ValueError(f"{option}: {path!r} is a file; give a folder of MNIST IDX files")
    if not os.access(path, os.R_OK | os.X_OK):
        raise ValueError(f"{option}: folder {path!r} is not readable")


def _check_plots(folder):
    """The folder exists and is writable, or can be made (it is made when the figures are written); and
    matplotlib is there to draw them."""
    problem = _creatable_folder_problem(folder)
    if problem:
        raise ValueError(f"--plots: {problem}")
    try:
        import matplotlib  # noqa: F401 (imported for real only when the figures are drawn)
    except ImportError:
        raise ValueError(f"--plots: the figures need matplotlib, which is not installed: {PLOT_EXTRA}") from None


def _check_checkpoint(folder):
    """--checkpoint DIR: a writable folder, or one that can be made (it is made before training)."""
    problem = _creatable_folder_problem(folder)
    if problem:
        raise ValueError(f"--checkpoint: {problem}")


def check_resume(path):
    """--resume FILE: a readable file (what it holds is the checkpoint reader's to check)."""
    if not os.path.exists(path):
        raise ValueError(f"--resume: file {path!r} does not exist")
    if os.path.isdir(path):
        raise ValueError(f"--resume: {path!r} is a folder; give the checkpoint file, e.g. "
                         f"{os.path.join(path, CHECKPOINT_NAME)!r}")
    if not os.access(path, os.R_OK):
        raise ValueError(f"--resume: file {path!r} is not readable")


def check_paths(args):
    """--data, --test, --save, --output, --plots and --checkpoint, before the data is loaded and the network
    trained: a typo costs nothing."""
    _check_data(args.data)
    if getattr(args, "test", None):
        _check_table("--test", args.test)
    if getattr(args, "save", None):
        check_new_file("--save", args.save, "model.npz")
    if getattr(args, "output", None):
        check_new_file("--output", args.output, "predictions.csv")
    if args.plots:
        _check_plots(args.plots)
    if getattr(args, "checkpoint", None):
        _check_checkpoint(args.checkpoint)


def is_table(path):
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
        check_mnist_folder("--data", path)
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


def check_file_options(args, why):
    """--target, --task, --test, --test-split, --scale and --output are for --data FILE only."""
    for name in FILE_OPTIONS:
        value = getattr(args, name, None)
        if value is not None and value is not False:  # --test-split 0 is given, though 0 == False
            raise ValueError(f"--{name.replace('_', '-')} is for --data FILE (a .csv, .npy or .npz table), not {why}")
