"""`nn train`: the network and trainer built from the options and the data's defaults (or, with --resume,
from a checkpoint and the options stored in it), the learning-rate schedule, MNIST's augmentation with its
fine-tune phase, early stopping, checkpoints, and what is reported, saved and drawn afterwards.
"""
import argparse
import os
import sys
import time
from typing import NamedTuple

from ..callbacks import ModelCheckpoint
from ..datasets import shift_images
from ..network import Network
from ..optimizers import OPTIMIZERS
from ..schedules import Cosine, Exponential, MultiStep, ReduceOnPlateau, Schedule, Step
from ..trainer import EarlyStopping, History, Trainer, WeightTrace
from .data import load_data
from .figures import train_plots
from .options import CHECKPOINT_NAME, check_paths, parse_schedule
from .resume import KEY, resumed_trainer, stored_run, train_args

INTERRUPTED = 130  # the exit status of a process stopped by Ctrl-C (128 + SIGINT)


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


def _resolved(args, defaults):
    """A copy of ``args`` with the dataset's ``defaults`` filled in: what the run uses, and stores."""
    args = argparse.Namespace(**vars(args))
    args.hidden = list(args.hidden or defaults.hidden)
    args.activation = args.activation or defaults.activation
    args.epochs = _given(args.epochs, defaults.epochs)
    args.batch_size = _given(args.batch_size, defaults.batch_size)
    args.optimizer = args.optimizer or defaults.optimizer
    args.learning_rate = _given(args.learning_rate, _default_rate(args.optimizer, defaults))
    return args


def _new_trainer(args, data, learning_rate):
    """The Trainer of a new network (trainer.net), from the resolved options."""
    defaults = data.defaults
    net = Network([data.X.shape[1], *args.hidden, data.n_outputs], activation=args.activation,
                  output=defaults.output, dtype=args.dtype, seed=args.seed, backend=args.backend,
                  classes=data.classes)
    net.metadata = {**data.metadata, KEY: train_args(args)}
    return Trainer(net, loss=defaults.loss, optimizer=OPTIMIZERS[args.optimizer](learning_rate=learning_rate),
                   batch_size=args.batch_size, seed=args.seed, clip_norm=args.clip_norm)


# --schedule's forms: (rate, epochs, monitor, the spec's numbers) -> the learning rate
SCHEDULES = {
    "constant": lambda rate, epochs, monitor: rate,
    "step": lambda rate, epochs, monitor, step_size, gamma=0.1: Step(rate, step_size, gamma),
    "exponential": lambda rate, epochs, monitor, gamma: Exponential(rate, gamma),
    "cosine": lambda rate, epochs, monitor, min_rate=0.0, warmup=0: Cosine(rate, epochs, min_rate, warmup),
    "plateau": lambda rate, epochs, monitor, factor=0.1, patience=10: ReduceOnPlateau(rate, factor, patience,
                                                                                      monitor),
}


def _learning_rate(args, phases):
    """The optimizer's learning rate: --learning-rate (or its default), through --schedule; without
    --schedule, MNIST's fine-tune epochs run at a tenth of it (MultiStep at the phase's first epoch)."""
    rate = args.learning_rate
    if args.schedule is None:
        if phases is not None and phases.fine_tune:
            return MultiStep(rate, [phases.shifted], gamma=0.1)
        return rate
    name, numbers = parse_schedule(args.schedule)
    monitor = "loss" if args.validation_split is None else "val_loss"
    try:
        return SCHEDULES[name](rate, args.epochs, monitor, *numbers)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"--schedule {args.schedule}: {exc}") from None


def _check_fits(net, data, path):
    """The data --resume loaded is still the data of the checkpoint's network."""
    if (net.n_inputs, net.n_outputs) != (data.X.shape[1], data.n_outputs):
        raise ValueError(f"--resume: the data now has {data.X.shape[1]} features and {data.n_outputs} outputs, but "
                         f"{path}'s network takes {net.n_inputs} and gives {net.n_outputs}: the data has changed")


def train(args):
    """nn train; returns the exit status (130 when Ctrl-C ended the fit: what it did is reported and saved)."""
    stored = None
    if args.resume:
        args, stored = stored_run(args)
    check_paths(args)
    data = load_data(args)
    if stored is None:
        args = _resolved(args, data.defaults)
    epochs = args.epochs
    phases = _phases(args, epochs) if data.mnist and args.augment > 0 else None
    learning_rate = _learning_rate(args, phases)
    if stored is None:
        trainer = _new_trainer(args, data, learning_rate)
    else:
        trainer = resumed_trainer(args, stored, learning_rate)
        _check_fits(trainer.net, data, args.resume)
    net, done = trainer.net, trainer.epoch
    print("\n".join(data.lines))
    print(net.summary())
    if stored is not None:
        print(f"resuming from {args.resume} at epoch {done} of {epochs}")
    if isinstance(learning_rate, Schedule) and args.schedule is not None:
        print(f"learning rate: {learning_rate!r}")
    if phases is not None:
        rates = "at a tenth of the learning rate" if args.schedule is None else f"(--schedule {args.schedule})"
        print(f"augmenting: images shifted by up to {args.augment} pixel(s) for {phases.shifted} epochs, "
              f"then {phases.fine_tune} on the plain images {rates}")

    callbacks = []
    trace = None
    if args.plots and net.n_params <= 5000:
        trace = WeightTrace(0, 0, 0)
        callbacks.append(trace)
    if args.checkpoint:
        callbacks.append(_checkpoints(args.checkpoint))
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
    print(_outcome(history, done, epochs, seconds) + "; " + _score_text(net, data)
          + (" (the weights of the last completed batch)" if history.interrupted else ""))
    if args.save:
        _save(net, args.save)
    if args.plots:
        train_plots(args.plots, net, history, trace, data)
    return INTERRUPTED if history.interrupted else 0


def _checkpoints(folder):
    """The callback that writes the trainer's checkpoint to folder/last.npz after every epoch (so a Ctrl-C
    leaves the last completed epoch's; the writes are atomic)."""
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, CHECKPOINT_NAME)
    print(f"checkpoints: {path}, after every epoch")
    return ModelCheckpoint(path.replace("{", "{{").replace("}", "}}"))  # a path, not a template


def _score_text(net, data):
    """'test accuracy 0.9667 on 30 samples', 'test R^2 0.9512 on 30 samples'; the training rows' when
    there is no test set."""
    X, y, where = (data.X, data.y, "training") if data.X_test is None else (data.X_test, data.y_test, "test")
    if data.X_test is None and data.classes is not None:
        y = data.classes[y]
    measure = "accuracy" if net.is_classifier else "R^2"
    return f"{where} {measure} {net.score(X, y):.4f} on {len(X)} {data.noun}"


def _outcome(history, done, epochs, seconds):
    """What the fit did, after the ``done`` epochs of a resumed checkpoint: '5 epochs in 0.3 s; final
    training loss 0.1883', with the last epoch's validation figures when there are some."""
    last = done + len(history)
    if history.interrupted:
        what = f"interrupted after {last} of {epochs} epochs"
    elif history.stopped_early:
        what = (f"stopped early after {last} of {epochs} epochs (keeping epoch {done + history.best_epoch}'s "
                f"weights)")
    elif done:
        what = f"epochs {done + 1}-{last} of {epochs}" if len(history) > 1 else f"epoch {last} of {epochs}"
    else:
        what = f"{len(history)} epochs"
    text = f"{what} in {seconds:.1f} s; final training loss {history.loss[-1]:.4f}"
    if history.val_loss:
        text += f"; validation loss {history.val_loss[-1]:.4f}"
        if history.val_accuracy:
            text += f", accuracy {history.val_accuracy[-1]:.4f}"
    return text


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
    ``fine_tune`` epochs on the plain images (at a tenth of the learning rate, unless --schedule)."""
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
    """trainer.fit on the data, from the trainer's epoch (0, or a checkpoint's) to ``epochs``: with a
    fine-tune phase, the shifted epochs left then the plain ones, in two calls (early stopping in the
    second only); the schedule lowers the rate in the fine-tune epochs."""
    def fit(n_epochs, early_stopping, augment=None):
        return trainer.fit(data.X, data.y, epochs=n_epochs, validation_split=validation_split,
                           early_stopping=early_stopping, callbacks=callbacks, augment=augment, verbose=verbose)
    done = trainer.epoch
    if phases is None:
        return fit(epochs - done, stopper)
    if not phases.fine_tune:
        return fit(epochs - done, stopper, phases.augment)
    if done >= phases.shifted:
        return fit(epochs - done, stopper)
    shifted = fit(phases.shifted - done, None, phases.augment)
    if shifted.interrupted:
        return shifted
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
