"""What `nn train` stores for --resume, and how --resume reads it back.

A run's options, resolved (the dataset's defaults filled in, paths made absolute), are stored in the
network's metadata under "train_args" (saved with every checkpoint of --checkpoint and with the model of
--save), as a JSON object. --resume turns them back into a command line and parses it as one (so they are
checked as the user's are), with --epochs, --checkpoint, --save, --plots and --backend from its own command
line; the trainer comes from the checkpoint (Trainer.from_checkpoint), its schedule rebuilt for the total.
"""
import os

from ..schedules import Schedule
from ..trainer import Trainer
from .options import RESUME_OPTIONS, RESUME_TEXT, check_resume, train_options

KEY = "train_args"
STORED = ("dataset", "data", "target", "task", "test", "test_split", "scale", "hidden", "activation", "epochs",
          "batch_size", "optimizer", "learning_rate", "schedule", "augment", "fine_tune", "validation_split",
          "early_stopping", "seed", "dtype", "clip_norm", "backend")


def train_args(args):
    """The options of the run, as stored: ``args`` resolved, the paths of --data and --test absolute."""
    stored = {name: getattr(args, name) for name in STORED}
    for name in ("data", "test"):
        if stored[name] is not None:
            stored[name] = os.path.abspath(stored[name])
    return stored


def as_argv(stored):
    """The command line that gives the ``stored`` options (None and False: not given)."""
    argv = []
    for name, value in stored.items():
        option = "--" + name.replace("_", "-")
        if value is True:
            argv.append(option)
        elif isinstance(value, list):
            argv += [option, *map(str, value)]
        elif value is not None and value is not False:
            argv.append(f"{option}={value!r}" if isinstance(value, float) else f"{option}={value}")
    return argv


def stored_run(args):
    """(the options of the run to resume, the trainer as the checkpoint ``args.resume`` stored it): the
    stored options, with those of RESUME_OPTIONS that the command line gives; any other given is refused."""
    path = args.resume
    refused = sorted(getattr(args, "given", set()) - set(RESUME_OPTIONS))
    if refused:
        names = ", ".join("--" + name.replace("_", "-") for name in refused)
        raise ValueError(f"--resume: {names}: the options come from the checkpoint; with --resume give only "
                         f"{RESUME_TEXT}")
    check_resume(path)
    stored = _trainer(path, args.backend)
    record = stored.net.metadata.get(KEY)
    if not isinstance(record, dict):
        raise ValueError(f"--resume: {path} is a checkpoint, but not one of nn train --checkpoint: its metadata "
                         f"has no {KEY!r}")
    unknown = sorted(set(record) - set(STORED))
    if unknown:
        raise ValueError(f"--resume: {path} stores train arguments this version of nn does not know: "
                         f"{', '.join(unknown)}")
    try:
        options = train_options(as_argv(record))
    except ValueError as exc:
        raise ValueError(f"--resume: {path} stores a bad train argument: {exc}") from None
    for name in RESUME_OPTIONS:
        if name in getattr(args, "given", ()) or name == "resume":
            setattr(options, name, getattr(args, name))
    options.given = getattr(args, "given", set())
    if stored.epoch >= options.epochs:
        raise ValueError(f"--epochs: {path} has trained {stored.epoch} epochs of {options.epochs} already; give a "
                         f"larger total, --epochs N with N > {stored.epoch}")
    return options, stored


def resumed_trainer(options, stored, learning_rate):
    """The checkpoint's trainer, its learning rate ``learning_rate`` (the schedule for the run's total, in
    the state of the stored one), its train_args those of ``options``."""
    old = stored.optimizer.learning_rate
    if isinstance(learning_rate, Schedule) and type(old) is type(learning_rate):
        learning_rate.load_state(old.state())
    trainer = _trainer(options.resume, options.backend, learning_rate)
    trainer.net.metadata[KEY] = train_args(options)
    return trainer


def _trainer(path, backend, learning_rate=None):
    try:
        return Trainer.from_checkpoint(path, backend=backend, learning_rate=learning_rate)
    except ValueError as exc:
        raise ValueError(f"--resume: {exc}") from None
