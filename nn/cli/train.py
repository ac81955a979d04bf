"""`nn train`: the network and trainer built from the options and the data's defaults, MNIST's
augmentation with its fine-tune phase, early stopping, and what is reported, saved and drawn afterwards.
"""
import sys
import time
from typing import NamedTuple

from ..datasets import shift_images
from ..network import Network
from ..optimizers import OPTIMIZERS
from ..trainer import EarlyStopping, History, Trainer, WeightTrace
from .data import load_data
from .figures import train_plots
from .options import check_paths, is_table

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
    """nn train; returns the exit status (130 when Ctrl-C ended the fit: what it did is reported and saved)."""
    check_paths(args)
    data = load_data(args)
    trainer = _trainer(args, data)
    net, epochs = trainer.net, _given(args.epochs, data.defaults.epochs)
    print("\n".join(data.lines))
    print(net.summary())

    callbacks, phases = [], None
    if args.dataset in (None, "mnist") and not is_table(args.data) and args.augment > 0:
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
        train_plots(args.plots, net, history, trace, data)
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
