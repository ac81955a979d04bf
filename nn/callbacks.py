"""Callbacks of Trainer.fit: EarlyStopping (fit's ``early_stopping``), and in ``callbacks``: WeightTrace,
CSVLogger, TensorBoard and ModelCheckpoint.

A callback in ``callbacks`` is a callable ``f(epoch, logs)``, or an object with any of these hooks:

- ``on_train_begin(trainer)``: once, at the fit's start;
- ``on_batch_begin(trainer, X_batch, Y_batch)``: before every training step (it makes the fit go batch by
  batch);
- ``on_epoch_end(epoch, logs)``: after every epoch; ``epoch`` counts the trainer's epochs over all its fits
  (1 after its first, as ``trainer.epoch``); ``logs`` has keys among loss, accuracy, val_loss,
  val_accuracy, learning_rate, seconds; a True return stops training;
- ``on_train_end(trainer)``: at the fit's end, whatever ends it (an exception too).

CSVLogger, TensorBoard and ModelCheckpoint hold files or the trainer only during a fit: outside one they
pickle and deep-copy (without an open file or a writer).
"""
import csv
import math
import numbers
import os
import string
import time
import warnings

from . import backends, layout
from .validation import check_int, check_name, check_number


class EarlyStopping:
    """Stop when ``monitor`` (default: val_loss if there is validation data, else loss) has not improved
    by more than ``min_delta`` for ``patience`` epochs; then restore the best epoch's weights."""

    def __init__(self, patience=5, monitor=None, min_delta=0.0, restore_best_weights=True):
        self.patience = check_int("patience", patience, low=1)
        if monitor is not None:
            check_name("monitor", monitor, dict.fromkeys(("loss", "val_loss", "accuracy", "val_accuracy")))
        self.monitor = monitor
        self.min_delta = check_number("min_delta", min_delta, low=0)
        self.restore_best_weights = bool(restore_best_weights)

    def __repr__(self):
        return f"EarlyStopping(patience={self.patience}, monitor={self.monitor!r}, min_delta={self.min_delta})"


class WeightTrace:
    """A callback that records, before every training step, one weight ``W[source, target]`` of layer
    ``layer`` (0-based), its gradient on that step's batch and the batch's loss: the lessons' view of a
    single weight being learnt. Lists: ``weights``, ``gradients``, ``losses``. (It makes the trainer
    go batch by batch, and computes each gradient once more: meant for small networks.)"""

    def __init__(self, layer=0, source=0, target=0):
        self.layer, self.source, self.target = (check_int(n, v, low=0) for n, v in
                                                (("layer", layer), ("source", source), ("target", target)))
        self.weights, self.gradients, self.losses = [], [], []

    def on_batch_begin(self, trainer, X, Y):
        """Record W[source, target], its gradient on the batch (X, Y) and the batch's loss, before the step."""
        net = trainer.net
        try:
            offset = layout.weight_offset(net.sizes, self.layer, self.source, self.target)
        except ValueError as exc:
            raise ValueError(f"WeightTrace {exc}") from None
        loss, grad = backends.get(net.backend).gradients(net, X, Y, trainer.loss)
        self.weights.append(float(net.layers[self.layer].W[self.source, self.target]))
        self.gradients.append(float(grad[offset]))
        self.losses.append(float(loss))

    def __repr__(self):
        return f"WeightTrace(layer={self.layer}, source={self.source}, target={self.target}, steps={len(self.weights)})"


# ----- logging and checkpoints ----------------------------------------------------------------------
LOG_ORDER = ("loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "seconds")  # then others, sorted
CSV_SEPARATORS = dict.fromkeys((",", ";", "\t", "|", " "))


def _ordered_keys(logs):
    """The keys of ``logs`` in LOG_ORDER, then the others sorted: the same columns whatever order they came in."""
    return [key for key in LOG_ORDER if key in logs] + sorted(key for key in logs if key not in LOG_ORDER)


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check_path(name, path):
    """A file path (str or os.PathLike) as a str."""
    path = os.fspath(path) if isinstance(path, os.PathLike) else path
    if not isinstance(path, str) or not path:
        raise TypeError(f"{name} must be a file path (a non-empty str or os.PathLike), got {path!r}")
    return path


def _check_folder_exists(name, path):
    """The folder a file ``path`` goes into must exist, and ``path`` must not be a folder itself."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"{name} {path!r} is in folder {folder!r}, which does not exist; create it first")
    if os.path.isdir(path):
        raise IsADirectoryError(f"{name} {path!r} is a folder; give the path of a file in it")


def _cell(value):
    """A logs value as CSV text: numbers as repr(float), which float() reads back exactly."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return str(int(value))
    if _is_number(value):
        return repr(float(value))
    return str(value)


class CSVLogger:
    """Writes one row per epoch to the CSV file ``path``: ``epoch``, then the logs (loss, accuracy, val_loss,
    val_accuracy, learning_rate, seconds, then any others sorted by name), numbers as ``repr(float)`` so
    that ``float()`` reads them back exactly. Each row is flushed at once: a crash loses no epoch.

    A fresh trainer (``trainer.epoch == 0``) writes a new file, its columns those of the first epoch's
    logs. A trainer that has trained before (continued, or resumed from a checkpoint) appends to the file
    if it exists, after dropping the rows of epochs beyond ``trainer.epoch`` (a run resumed from an older
    checkpoint does those epochs again), under the file's own header: a column the logs lack is left
    empty, and logs the header has no column for are not written (with a warning naming them, once per
    fit). The folder of ``path`` must exist. ``separator``: one of , ; tab | space.
    """

    def __init__(self, path, separator=","):
        self.path = _check_path("path", path)
        _check_folder_exists("path", self.path)
        self.separator = check_name("separator", separator, CSV_SEPARATORS)
        self.columns = None  # the file's header: fixed at its first row, or read from the file appended to
        self._file = self._writer = None
        self._unwritten = set()  # logs keys without a column, warned about in this fit

    def on_train_begin(self, trainer):
        """Open ``path``: a new file for a fresh trainer; else append to it, its rows past ``trainer.epoch`` dropped."""
        self.on_train_end(trainer)  # a file left open by a fit that never ended
        self.columns, self._unwritten = None, set()
        if trainer.epoch > 0 and os.path.isfile(self.path) and os.path.getsize(self.path) > 0:
            self.columns = self._header()
            self._drop_rows_after(trainer.epoch)
            self._file = open(self.path, "a", newline="", encoding="utf-8")
            self._writer = self._dict_writer()
        else:
            self._file = open(self.path, "w", newline="", encoding="utf-8")

    def _drop_rows_after(self, epoch):
        """Rewrite the file (atomically) without the rows of epochs after ``epoch``, if it has any."""
        with open(self.path, newline="", encoding="utf-8") as file:
            rows = list(csv.reader(file, delimiter=self.separator))
        kept = [rows[0]] + [row for row in rows[1:] if not row or not row[0].isdigit() or int(row[0]) <= epoch]
        if len(kept) == len(rows):
            return
        temporary = self.path + ".tmp"
        with open(temporary, "w", newline="", encoding="utf-8") as file:
            csv.writer(file, delimiter=self.separator, lineterminator="\n").writerows(kept)
        os.replace(temporary, self.path)

    def _header(self):
        with open(self.path, newline="", encoding="utf-8") as file:
            header = next(csv.reader(file, delimiter=self.separator), [])
        if not header or header[0] != "epoch":
            raise ValueError(f"path {self.path!r} exists but its header {header[:8]} does not start with 'epoch' "
                             f"(separator {self.separator!r}): it is not this logger's file; give another path")
        return header

    def _dict_writer(self):
        return csv.DictWriter(self._file, fieldnames=self.columns, delimiter=self.separator, restval="",
                              extrasaction="ignore", lineterminator="\n")

    def on_epoch_end(self, epoch, logs):
        """Write the epoch's row (after the header, from the first epoch's logs) and flush it."""
        if self._file is None:
            raise RuntimeError("CSVLogger.on_epoch_end outside a fit: on_train_begin(trainer) opens the file")
        if self.columns is None:
            self.columns = ["epoch"] + _ordered_keys(logs)
            self._writer = self._dict_writer()
            self._writer.writeheader()
        unwritten = set(logs) - set(self.columns) - self._unwritten
        if unwritten:
            self._unwritten |= unwritten
            warnings.warn(f"CSVLogger: {self.path!r} has no column for {sorted(unwritten)} (its columns are those "
                          f"of its first row); those values are not logged", stacklevel=2)
        row = {key: _cell(value) for key, value in logs.items()}
        row["epoch"] = str(int(epoch))
        self._writer.writerow(row)
        self._file.flush()

    def on_train_end(self, trainer):
        """Close the file."""
        if self._file is not None:
            self._file.close()
        self._file = self._writer = None

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_file"] = state["_writer"] = None
        return state

    def __repr__(self):
        return f"CSVLogger(path={self.path!r}, separator={self.separator!r})"


class TensorBoard:
    """Writes each epoch's logs to TensorBoard event files in ``log_dir`` (created if need be), through
    tensorboardX (``pip install "nn-lessons[tensorboard]"``; imported when a fit begins).

    Per epoch, at step ``epoch``: a scalar ``epoch/<key>`` for every number in the logs but ``seconds``
    (``epoch/loss``, ``epoch/val_loss``, ``epoch/learning_rate``, ...), and with ``histograms``, the
    distribution of each layer's weights and biases, ``dense_<i>/W`` and ``dense_<i>/b`` (i from 1, as
    Network.summary names the layers). The writer is flushed every epoch and closed when the fit ends.
    Each fit starts with a purge at step ``trainer.epoch + 1``: TensorBoard hides the steps from there on
    written by an earlier run in ``log_dir`` (a run that crashed and was resumed, or a fresh trainer's
    rerun), so that no step shows twice.
    """

    def __init__(self, log_dir, histograms=True):
        self.log_dir = _check_path("log_dir", log_dir)
        if os.path.exists(self.log_dir) and not os.path.isdir(self.log_dir):
            raise NotADirectoryError(f"log_dir {self.log_dir!r} is a file; give a folder (created if need be)")
        self.histograms = bool(histograms)
        self.trainer = None  # the trainer of the fit under way
        self._writer = None

    def on_train_begin(self, trainer):
        """Open a writer on ``log_dir``, purging earlier runs' steps from ``trainer.epoch + 1`` on."""
        try:
            from tensorboardX import SummaryWriter
        except ImportError:
            raise ImportError('TensorBoard needs tensorboardX: pip install "nn-lessons[tensorboard]"') from None
        self.on_train_end(trainer)
        # tensorboardX names its file by the second: a second fit within it would overwrite the first's file.
        # The suffix keeps the names apart, in the order of time (TensorBoard reads the files in name order).
        self._writer = SummaryWriter(logdir=self.log_dir, purge_step=trainer.epoch + 1,
                                     filename_suffix=f".{time.time_ns()}")
        self.trainer = trainer

    def on_epoch_end(self, epoch, logs):
        """Write the epoch's scalars (with ``histograms``, each layer's W and b) at step ``epoch``; flush."""
        if self._writer is None:
            raise RuntimeError("TensorBoard.on_epoch_end outside a fit: on_train_begin(trainer) opens the writer")
        for key in _ordered_keys(logs):
            if key != "seconds" and _is_number(logs[key]):
                self._writer.add_scalar(f"epoch/{key}", float(logs[key]), global_step=epoch)
        if self.histograms:
            for i, layer in enumerate(self.trainer.net.layers, 1):
                self._writer.add_histogram(f"dense_{i}/W", layer.W, global_step=epoch)
                self._writer.add_histogram(f"dense_{i}/b", layer.b, global_step=epoch)
        self._writer.flush()

    def on_train_end(self, trainer):
        """Close the writer."""
        if self._writer is not None:
            self._writer.close()
        self._writer = self.trainer = None

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_writer"] = state["trainer"] = None
        return state

    def __repr__(self):
        return f"TensorBoard(log_dir={self.log_dir!r}, histograms={self.histograms})"


class ModelCheckpoint:
    """Saves the trainer's checkpoint (``trainer.save_checkpoint(path)``: weights, optimizer state, rng,
    epoch) after every epoch, or with ``save_best_only`` after the epochs that improve ``monitor``.

    ``path`` may name fields, formatted with the epoch and its logs: ``"ckpt-{epoch:03d}-{val_loss:.4f}.npz"``.
    ``monitor``: a logs key; None watches val_loss when the logs have it, else loss. An improvement is a
    value below the best so far (above it for a monitor ending in "accuracy"); a value that is not finite
    (NaN, inf) never is. A fresh trainer (epoch 0 at the fit's start) starts a new best. The best is this
    object's: a run resumed in another process starts without one (its first epoch is saved), unless
    ``initial_best`` (with ``monitor``) gives the value to beat, e.g. the best the first run reached.
    State: ``best`` (the best value so far, None before the first), ``monitored`` (the key it belongs to),
    ``last_saved`` (the path of the last checkpoint written, None before the first).
    """

    def __init__(self, path, monitor=None, save_best_only=False, initial_best=None):
        self.path = _check_path("path", path)
        self._check_template()
        if monitor is not None and (not isinstance(monitor, str) or not monitor):
            raise TypeError(f"monitor must be None or a logs key such as 'val_loss', got {monitor!r}")
        self.monitor = monitor
        self.save_best_only = bool(save_best_only)
        self.initial_best = None if initial_best is None else check_number("initial_best", initial_best)
        if initial_best is not None and monitor is None:
            raise ValueError("initial_best needs the monitor it is a value of: give monitor= too")
        self.best = self.initial_best
        self.monitored = self.monitor if initial_best is not None else None
        self.last_saved = None
        self.trainer = None  # the trainer of the fit under way

    def _check_template(self):
        """Fields must be named ({epoch}, {loss:.3f}); the folder, when it names none, must exist."""
        try:
            fields = [field for _, field, _, _ in string.Formatter().parse(self.path) if field is not None]
        except ValueError as exc:
            raise ValueError(f"path {self.path!r} is not a valid format string: {exc}") from None
        if any(not field or field[0].isdigit() for field in fields):
            raise ValueError(f"path {self.path!r} has a positional field {{}}; name the field, e.g. {{epoch}}")
        if "{" not in os.path.dirname(self.path):
            _check_folder_exists("path", self.path)

    def on_train_begin(self, trainer):
        """Hold the trainer; a fresh one (epoch 0) starts a new best (``initial_best``, or none)."""
        if not callable(getattr(trainer, "save_checkpoint", None)):
            raise TypeError(f"ModelCheckpoint needs a trainer with save_checkpoint(path), got {trainer!r}")
        if trainer.epoch == 0:
            self.best, self.monitored = self.initial_best, (self.monitor if self.initial_best is not None else None)
        self.trainer = trainer

    def on_epoch_end(self, epoch, logs):
        """Save a checkpoint to ``path`` (formatted with epoch and logs) each epoch, or when ``monitor`` improves."""
        if self.trainer is None:
            raise RuntimeError("ModelCheckpoint.on_epoch_end outside a fit: on_train_begin(trainer) sets the trainer")
        monitor = self.monitor if self.monitor is not None else ("val_loss" if "val_loss" in logs else "loss")
        if monitor not in logs:
            raise ValueError(f"ModelCheckpoint's monitor {monitor!r} is not in the epoch's logs, which have: "
                             f"{', '.join(_ordered_keys(logs))}")
        if monitor != self.monitored:
            self.best, self.monitored = None, monitor
        improved = self._improves(monitor, logs[monitor])
        if improved:
            self.best = float(logs[monitor])
        if improved or not self.save_best_only:
            path = self._format(epoch, logs)
            self.trainer.save_checkpoint(path)
            self.last_saved = path

    def _improves(self, monitor, value):
        if not _is_number(value) or not math.isfinite(value):
            return False
        if self.best is None:
            return True
        return value > self.best if monitor.endswith("accuracy") else value < self.best

    def _format(self, epoch, logs):
        fields = dict(logs, epoch=epoch)
        try:
            return self.path.format(**fields)
        except KeyError as exc:
            raise ValueError(f"path {self.path!r} names the field {exc.args[0]!r}, which this epoch does not have; "
                             f"the fields are: {', '.join(['epoch'] + _ordered_keys(logs))}") from None
        except (ValueError, TypeError, AttributeError, IndexError) as exc:
            raise ValueError(f"path {self.path!r} cannot be formatted with epoch {epoch} and the logs: {exc}") from None

    def on_train_end(self, trainer):
        """Let go of the trainer."""
        self.trainer = None

    def __getstate__(self):
        state = self.__dict__.copy()
        state["trainer"] = None
        return state

    def __repr__(self):
        return (f"ModelCheckpoint(path={self.path!r}, monitor={self.monitor!r}, save_best_only={self.save_best_only}, "
                f"best={self.best!r}, last_saved={self.last_saved!r})")
