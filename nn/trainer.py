"""Trainer.fit: epochs, batches, shuffle order, validation, early stopping, callbacks, history, progress.
(The callbacks themselves, EarlyStopping and WeightTrace, are in nn.callbacks.)

The shuffle order of each epoch is drawn here, from the trainer's seeded generator, and handed to the
backend: both backends see the same batches and give the same result.
"""
import contextlib
import copy
import math
import sys
import threading
import time
import warnings
import weakref

import numpy as np

from . import backends, dropout, interrupts, layout, progress
from .callbacks import EarlyStopping, WeightTrace  # noqa: F401 (WeightTrace: nn.cli imports both from here)
from .functions import LOSSES, n_correct
from .history import History
from .network import Network
from .optimizers import OPTIMIZERS, Optimizer
from .schedules import rate_at
from .validation import (as_numeric, check_fraction, check_int, check_loss_output, check_name, check_number,
                         check_seed, check_targets, check_X, check_y)


MAX_ORDER_ENTRIES = 1 << 22  # shuffle orders drawn at once (32 MB of indices)
DEFAULT_LOSS = {"softmax": "cross_entropy", "sigmoid": "binary_cross_entropy"}  # else mse


class TrainingDiverged(FloatingPointError):
    """The loss or the weights became NaN or infinite; the network keeps the weights (and the optimizer
    its state) of the end of the last epoch that ended finite. ``history``: the epochs of the fit
    completed before it (set when raised by Trainer.fit)."""

    history = None


_training = weakref.WeakSet()  # networks being trained now, in any thread
_training_lock = threading.Lock()


@contextlib.contextmanager
def _exclusive(net):
    """One fit at a time per network: a second, from another thread, is refused (it would mix two
    trainings' updates in one set of weights)."""
    with _training_lock:
        if net in _training:
            raise RuntimeError(f"{net!r} is already being trained (in another thread); train one network in one "
                               f"fit at a time, or train a copy (copy.deepcopy(net))")
        _training.add(net)
    try:
        yield
    finally:
        with _training_lock:
            _training.discard(net)


class Trainer:
    """Trains a Network with a loss and an optimizer by mini-batch gradient descent.

    ``batch_size=1`` is the lessons' per-sample SGD; ``batch_size=None`` is full batch.
    ``loss`` defaults to the one that goes with the output (DEFAULT_LOSS: cross_entropy for softmax,
    binary_cross_entropy for sigmoid, mse otherwise). ``optimizer`` is an Optimizer or a name (sgd,
    momentum, rmsprop, adam) with that optimizer's default learning rate; by default Adam (0.001). Its
    ``learning_rate`` may be a schedule (nn.schedules, or any function epoch -> rate): epoch e of this
    trainer (counted from 0 over all its fits, ``trainer.epoch`` before it) trains at ``schedule(e)``.
    ``clip_norm``: each batch's gradient is scaled to an L2 norm (over all the parameters) of at most
    ``clip_norm`` before the optimizer's step, as PyTorch's ``clip_grad_norm_`` (None: never).
    """

    def __init__(self, net, loss=None, optimizer="adam", batch_size=32, seed=None, clip_norm=None):
        if not isinstance(net, Network):
            raise TypeError(f"net must be an nn.Network, got {net!r}")
        self.net = net
        if loss is None:
            loss = DEFAULT_LOSS.get(net.output, "mse")
        self.loss = check_name("loss", loss, LOSSES)
        check_loss_output(self.loss, net.output)
        if self.loss == "mse" and net.output == "softmax":
            warnings.warn("mse on a softmax output learns slowly (its gradient vanishes as the outputs saturate); "
                          "use loss='cross_entropy', the loss softmax is made for", stacklevel=2)
        if isinstance(optimizer, str):
            optimizer = OPTIMIZERS[check_name("optimizer", optimizer, OPTIMIZERS)]()
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"optimizer must be an nn optimizer or one of {sorted(OPTIMIZERS)}, got {optimizer!r}")
        self.optimizer = optimizer
        self.batch_size = check_int("batch_size", batch_size, low=1, allow_none=True)
        self.seed = check_seed("seed", seed)
        self.rng = np.random.default_rng(seed)
        self.clip_norm = None if clip_norm is None else check_number("clip_norm", clip_norm, 0, low_open=True)
        self.epoch = 0  # epochs this trainer has completed, over all its fits
        self._dropout_key = None  # the base of dropout's keys (nn.dropout), drawn at the first fit with dropout

    def __repr__(self):
        clip = "" if self.clip_norm is None else f", clip_norm={self.clip_norm}"
        return (f"Trainer({self.net!r}, loss={self.loss!r}, optimizer={self.optimizer!r}, "
                f"batch_size={self.batch_size}{clip})")

    # ----- checkpoints (nn.checkpoints) ----------------------------------------------------------------
    def save_checkpoint(self, path):
        """Write everything needed to go on training exactly where this trainer stands to ``path``
        (pickle-free .npz, versioned; atomic): the network, the optimizer's state and step count, the
        learning-rate schedule and its state, the random generator and the epoch count."""
        from . import checkpoints

        checkpoints.save(self, path)

    @classmethod
    def from_checkpoint(cls, path, backend=None, learning_rate=None):
        """The trainer saved by ``save_checkpoint``, ready to go on: its next ``fit`` epochs are exactly
        those the saved trainer would have run. ``learning_rate``: a schedule of your own (a function
        cannot be stored in the file), or one to replace the stored one."""
        from . import checkpoints

        return checkpoints.load(path, backend=backend, learning_rate=learning_rate)

    # ----- data -----------------------------------------------------------------------------------
    def _data(self, X, y, name="X", naming=False):
        """(X, Y) checked; a classifier's labels become one-hot rows. With ``naming`` (fit's training
        data), labels may name the network's classes: returns (X, Y, the classes to set, or None)."""
        X, _ = check_X(X, self.net.n_inputs, self.net.dtype, ndim=(2,), name=name)
        y_name = "y" if name == "X" else name + "_y"
        y, classes = self._class_ids(y, y_name, naming)
        Y = check_targets(self.loss, check_y(y, X.shape[0], self.net.n_outputs, self.net.dtype, name=y_name), y_name)
        return (X, Y, classes) if naming else (X, Y)

    def _class_ids(self, y, name, naming):
        """A classifier's 1-D labels as class ids, through ``net.classes``: (ids or y as it was, the
        classes these labels name or None). Labels that are not the ids 0..k-1 themselves (strings,
        other whole numbers) name the classes when there are none yet and ``naming`` (the caller sets
        them once every check has passed): the sorted distinct labels, so that predict returns them.
        The ids themselves, and one sigmoid output's targets in [0, 1], are left to check_y and
        check_targets. Once a network has classes, every label must be one of them (or all be ids that
        are none of them)."""
        net, labels = self.net, np.asarray(y)
        if labels.dtype == object and labels.size and all(isinstance(v, str) for v in labels.ravel().tolist()):
            labels = labels.astype(str)  # strings from pandas and lists of mixed origin
        one_sigmoid = net.output == "sigmoid" and net.n_outputs == 1
        if labels.ndim != 1 or labels.size == 0 or not (net.output == "softmax" or one_sigmoid):
            return y, None
        n_classes = 2 if one_sigmoid else net.n_outputs
        numeric = labels.dtype.kind in "biuf"
        if numeric and not np.all(np.isfinite(labels)):
            return y, None  # check_y names the NaN
        are_ids = numeric and labels.min() >= 0 and labels.max() <= n_classes - 1 and (
            one_sigmoid or np.all(labels == np.round(labels)))
        classes, named = net.classes, None
        if classes is None:
            distinct = np.unique(labels)
            if are_ids or (numeric and (len(distinct) != n_classes or not np.all(distinct == np.round(distinct)))):
                return y, None  # the ids, or not labels of these classes: check_y and check_targets judge them
            if not naming:
                raise ValueError(f"{name} holds labels {distinct.tolist()[:10]}, but the network's classes have no "
                                 f"names: fit it on labels first, or give Network(..., classes=[...])")
            if len(distinct) != n_classes:
                raise ValueError(f"{name} has {len(distinct)} distinct labels {distinct.tolist()[:10]} but the network "
                                 f"has {n_classes} classes; give Network(..., classes=[...]) to name them")
            classes = named = distinct
        order = np.argsort(classes)
        known = classes[order]
        try:
            where = np.minimum(np.searchsorted(known, labels), len(known) - 1)
            unknown = known[where] != labels
        except (TypeError, np.exceptions.DTypePromotionError):  # labels of another kind than the classes
            where, unknown = None, np.ones(len(labels), dtype=bool)
        if unknown.all() and are_ids:
            return y, None  # the class ids of a network whose classes are named (none of them is a label)
        if unknown.any():
            raise ValueError(f"{name} has labels that are not the network's classes {classes.tolist()[:10]}: "
                             f"{np.unique(labels[unknown]).tolist()[:5]}")
        return order[where], named

    def evaluate(self, X, y):
        """{"loss": ..., "accuracy": ...} of the network on (X, y); accuracy for classifiers only."""
        X, Y = self._data(X, y)
        return self._evaluate(X, Y)

    def _evaluate(self, X, Y):
        with np.errstate(over="ignore", invalid="ignore"):  # a diverging network: inf / NaN figures, no warning
            A = backends.get(self.net.backend).forward(self.net, X)[-1]
            logs = {"loss": LOSSES[self.loss](Y, A)}
        if self.net.is_classifier:
            logs["accuracy"] = n_correct(self.net.output, A, Y) / len(Y)
        return logs

    # ----- training -------------------------------------------------------------------------------
    def fit(self, X, y, epochs=1, validation_data=None, validation_split=None, early_stopping=None,
            callbacks=(), verbose=True, augment=None, sample_weight=None, class_weight=None):
        """Train for ``epochs`` epochs and return the History.

        sample_weight: a weight >= 0 per sample; class_weight: classifiers only, None, "balanced"
        (n_samples / (n_classes * count of the class)) or a dict {class id: weight}; the two multiply.
        Each batch's loss is then sum(w_i * l_i) / sum(w_i), as scikit-learn weighs it, and so is each
        epoch's training loss (validation figures are unweighted). All weights 1 is exactly unweighted.

        validation_data: (X_val, y_val); validation_split: a fraction in (0, 1) of (X, y), taken from
        the end before shuffling, held out for validation. early_stopping: a patience (int) or an
        EarlyStopping. callbacks: callables ``f(epoch, logs)`` (or objects with ``on_epoch_end(epoch,
        logs)``) run after every epoch, ``epoch`` counting this trainer's epochs over all its fits (1 after
        its first); a callback returning True stops training. Objects may also have
        ``on_train_begin(trainer)`` and ``on_train_end(trainer)`` (called at the fit's start, and at its
        end whatever ends it) and ``on_batch_begin(trainer, X_batch, Y_batch)`` (see nn.callbacks). verbose: True / 1
        (a progress bar on a terminal, else one summary line), 2 (a line per epoch), False / 0 (nothing):
        see nn.progress.
        A NaN/inf loss raises TrainingDiverged and leaves the weights of the last good epoch;
        Ctrl-C ends training early, keeping the weights of the last completed batch.
        """
        epochs = check_int("epochs", epochs, low=1)
        X, Y, classes = self._data(X, y, naming=True)
        if classes is not None:  # the labels name the classes (validation labels are read with them) ...
            self.net.classes = classes
        try:
            weights = self._weights(sample_weight, class_weight, Y)
            X, Y, validation = self._validation(X, Y, validation_data, validation_split)
            if weights is not None:
                weights = weights[:len(X)]  # validation_split holds out the last rows
                if not weights.sum() > 0:
                    raise ValueError("the training samples' weights are all zero: there is nothing to learn from")
            stopper = self._early_stopping(early_stopping, validation is not None)
            if augment is not None and not callable(augment):
                raise TypeError(f"augment must be a function augment(X, rng, epoch), got {augment!r}")
            hooks, batch_callbacks, callbacks = self._callbacks(callbacks)
            shown = progress.mode(verbose)
        except BaseException:
            if classes is not None:  # ... unless the fit is refused: then the network is as it was
                self.net.classes = None
            raise
        monitor = getattr(self.optimizer.learning_rate, "monitor", None)  # ReduceOnPlateau's
        if isinstance(monitor, str) and monitor.startswith("val_") and validation is None:
            raise ValueError(f"the learning-rate schedule monitors {monitor!r} but there is no validation data; "
                             f"give validation_data / validation_split, or monitor='loss'")
        if stopper is not None and stopper.monitor == "loss" and validation is None and shown != "silent":
            print("early stopping watches the training loss (there is no validation data)", file=sys.stderr)

        history = History()
        best = {"value": math.inf, "theta": None, "wait": 0}
        display = progress.Progress(shown, epochs, len(X), history)
        # As many epochs per backend call as need no Python in between (see _block).
        plateau = getattr(self.optimizer.learning_rate, "on_epoch_end", None)  # a schedule that reads the logs
        per_epoch = (display.per_epoch or validation is not None or callbacks or batch_callbacks or augment
                     or plateau or (stopper is not None and stopper.restore_best_weights))
        epoch = 0
        if any(self.net.dropouts) and self._dropout_key is None:  # before any shuffle order: see nn.dropout
            self._dropout_key = int(self.rng.integers(0, 2 ** 64, dtype=np.uint64))
        with _exclusive(self.net), display:
            self.optimizer.bind(self.net)
            try:
                for cb in hooks:
                    if hasattr(cb, "on_train_begin"):
                        cb.on_train_begin(self)
                while epoch < epochs:
                    n_block = min(self._block(per_epoch, stopper, best, epochs), epochs - epoch,
                                  max(1, MAX_ORDER_ENTRIES // len(X)))
                    X_epoch = X if augment is None else self._augmented(augment, X, epoch + 1)
                    epoch_logs = self._epochs(X_epoch, Y, weights, epoch, n_block, display, history, batch_callbacks)
                    stop = history.interrupted
                    for logs in epoch_logs:
                        epoch += 1
                        self.epoch += 1
                        if validation is not None:
                            logs.update({"val_" + k: v for k, v in self._evaluate(*validation).items()})
                        history.append(logs)
                        if plateau is not None:
                            plateau(self.epoch - 1, logs)
                        display.epoch_done(epoch, logs)
                        if any([bool(cb(self.epoch, logs)) for cb in callbacks]):
                            stop = True
                        if stopper is not None and self._should_stop(stopper, logs, best, epoch, history):
                            stop = True
                    if stop:
                        break
            except TrainingDiverged as exc:
                for logs in getattr(exc, "completed", ()):  # the good epochs of a call that ran several
                    self.epoch += 1
                    history.append(logs)
                exc.history = history  # the epochs completed before the one that diverged
                raise
            except KeyboardInterrupt:  # between the backend's calls (drawing orders, validating, callbacks)
                if not history.interrupted:
                    history.interrupted = True
                    print(f"\ninterrupted after epoch {len(history)}", file=sys.stderr)
            finally:
                for cb in hooks:
                    if hasattr(cb, "on_train_end"):
                        cb.on_train_end(self)
            # An early stop keeps the best epoch's weights; if no epoch ever improved (the monitored value
            # was NaN or inf throughout), there is nothing better to go back to.
            if stopper is not None and stopper.restore_best_weights and history.stopped_early \
                    and best["theta"] is not None:
                with interrupts.deferred():
                    self.net.theta = best["theta"]
        return history

    @staticmethod
    def _block(per_epoch, stopper, best, epochs):
        """How many epochs the next backend call may run before Python must look. Early stopping on the
        training loss without restoring weights needs no look before ``patience - wait`` epochs: the
        wait grows by at most one an epoch, so the stop can come no sooner, and checking those epochs'
        losses after the call decides exactly as checking each in turn would."""
        if per_epoch:
            return 1
        if stopper is not None:
            return stopper.patience - best["wait"]
        return epochs

    def _weights(self, sample_weight, class_weight, Y):
        """Each sample's weight, in the network's dtype, or None when every weight is 1 (the unweighted
        computation, exactly)."""
        weights = None
        if sample_weight is not None:
            weights = as_numeric("sample_weight", sample_weight, np.float64, ndim=(1,))
            if len(weights) != len(Y):
                raise ValueError(f"X has {len(Y)} samples but sample_weight has {len(weights)}")
            if (weights < 0).any():
                raise ValueError(f"sample_weight must be >= 0, got {weights.min()}")
        if class_weight is not None:
            per_class = _class_weights(class_weight, Y, self.net)
            weights = per_class if weights is None else weights * per_class
        if weights is None or (weights == 1).all():
            return None
        return weights.astype(self.net.dtype)

    @staticmethod
    def _callbacks(callbacks):
        """(the callback objects, batch callbacks, epoch callbacks) from fit's ``callbacks`` list (None:
        none)."""
        if callbacks is None:
            return [], [], []
        if callable(callbacks) or hasattr(callbacks, "on_epoch_end") or hasattr(callbacks, "on_batch_begin"):
            raise TypeError(f"callbacks must be a list of callbacks, got the single callback {callbacks!r}; "
                            f"pass callbacks=[...] around it")
        if isinstance(callbacks, (str, bytes)) or not hasattr(callbacks, "__iter__"):
            raise TypeError(f"callbacks must be a list of callbacks, got {callbacks!r}")
        callbacks = list(callbacks)
        batch_callbacks = [cb for cb in callbacks if hasattr(cb, "on_batch_begin")]
        epoch_callbacks = [getattr(cb, "on_epoch_end", cb) for cb in callbacks if not hasattr(cb, "on_batch_begin")
                           or hasattr(cb, "on_epoch_end")]
        for cb in epoch_callbacks:
            if not callable(cb):
                raise TypeError(f"callbacks must be callables f(epoch, logs) or have on_epoch_end / "
                                f"on_batch_begin methods, got {cb!r}")
        return callbacks, batch_callbacks, epoch_callbacks

    def _augmented(self, augment, X, epoch):
        X_epoch = augment(X, self.rng, epoch)
        X_epoch = as_numeric("augment(X)", X_epoch, self.net.dtype, ndim=(2,))
        if X_epoch.shape != X.shape:
            raise ValueError(f"augment must return an array of X's shape {X.shape}, got {X_epoch.shape}")
        return X_epoch

    def _validation(self, X, Y, validation_data, validation_split):
        if validation_data is not None and validation_split is not None:
            raise ValueError("give validation_data or validation_split, not both")
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise TypeError("validation_data must be a pair (X_val, y_val)")
            return X, Y, self._data(*validation_data, name="validation_data")
        if validation_split is not None:
            validation_split = check_fraction("validation_split", validation_split)
            n_val = int(round(len(X) * validation_split))
            if n_val < 1 or n_val >= len(X):
                raise ValueError(f"validation_split={validation_split} leaves no data for training or validation "
                                 f"({len(X)} samples)")
            return X[:-n_val], Y[:-n_val], (X[-n_val:], Y[-n_val:])
        return X, Y, None

    @staticmethod
    def _early_stopping(early_stopping, has_validation):
        if early_stopping is None or early_stopping is False:
            return None
        if not isinstance(early_stopping, EarlyStopping):
            early_stopping = EarlyStopping(patience=early_stopping)
        if early_stopping.monitor is None:  # a copy: the caller's object may serve another fit
            early_stopping = copy.copy(early_stopping)
            early_stopping.monitor = "val_loss" if has_validation else "loss"
        if early_stopping.monitor.startswith("val_") and not has_validation:
            raise ValueError(f"early stopping monitors {early_stopping.monitor!r} but there is no validation data")
        return early_stopping

    def _should_stop(self, stopper, logs, best, epoch, history):
        if stopper.monitor not in logs:
            raise ValueError(f"early stopping monitors {stopper.monitor!r}, which this network does not record")
        value = logs[stopper.monitor]
        if stopper.monitor.endswith("accuracy"):
            value = -value
        if value < best["value"] - stopper.min_delta:
            best.update(value=value, theta=self.net.theta, wait=0)
            history.best_epoch = epoch
            return False
        best["wait"] += 1
        if best["wait"] >= stopper.patience:
            history.stopped_early = True
            return True
        return False

    def _epochs(self, X, Y, weights, done, n_epochs, display, history, batch_callbacks=()):
        """Run ``n_epochs`` epochs (after ``done``); returns the logs of those completed. ``weights``:
        each sample's weight, or None.

        A NaN/inf loss rolls its epoch back and raises TrainingDiverged; Ctrl-C sets
        history.interrupted and returns the epochs completed before it.
        """
        net, optimizer = self.net, self.optimizer
        n = len(X)
        batch_size = n if self.batch_size is None else min(self.batch_size, n)
        orders = self.rng.permuted(np.tile(np.arange(n), (n_epochs, 1)), axis=1)
        rates = np.array([rate_at(optimizer.learning_rate, self.epoch + i) for i in range(n_epochs)])
        keys = None if self._dropout_key is None else dropout.epoch_keys(self._dropout_key, self.epoch, n_epochs)
        backend = backends.get(net.backend)
        snapshot = layout.Snapshot(net.n_params, optimizer, net.dtype)  # the backend saves each epoch's start
        start = time.perf_counter()
        try:
            if display.within_epochs or batch_callbacks:
                loss_sums, corrects = self._chunked_epoch(backend, X, Y, weights, orders[0], batch_size, snapshot,
                                                          display, batch_callbacks, rates, keys)
            else:
                loss_sums, corrects = backend.train_epochs(net, X, Y, self.loss, optimizer, orders, batch_size,
                                                           snapshot, weights, rates, self.clip_norm, keys)
        except KeyboardInterrupt as exc:
            loss_sums, corrects = getattr(exc, "completed", ((), ()))
            history.interrupted = True
            print(f"\ninterrupted in epoch {done + len(loss_sums) + 1}: keeping the weights of the last "
                  "completed batch", file=sys.stderr)
        seconds = (time.perf_counter() - start) / max(1, len(loss_sums))
        optimizer.rate = float(rates[max(len(loss_sums), 1) - 1])  # the rate of the last epoch run
        losses = np.asarray(loss_sums, dtype=float) / (n if weights is None else float(weights.sum()))
        all_logs = []
        for loss, correct in zip(losses.tolist(), np.asarray(corrects).tolist()):
            logs = {"loss": loss}
            if net.is_classifier:
                logs["accuracy"] = correct / n
            logs["learning_rate"] = float(rates[len(all_logs)])
            logs["seconds"] = seconds
            all_logs.append(logs)
        if len(losses) and not np.isfinite(losses[-1]):  # the loss, or the weights after the epoch
            with interrupts.deferred():
                snapshot.restore(net, optimizer)
            bad = done + len(losses)
            diverged = TrainingDiverged(
                f"the loss or the weights became {losses[-1]} in epoch {bad}; the network keeps the weights from "
                f"the end of epoch {bad - 1}. Try a lower learning rate "
                f"(it is {rates[len(losses) - 1]:g})")
            diverged.completed = all_logs[:-1]  # the epochs of this call before it, which the network keeps
            raise diverged
        return all_logs

    def _chunked_epoch(self, backend, X, Y, weights, order, batch_size, snapshot, display, batch_callbacks, rates,
                       keys):
        """One epoch in pieces: batch by batch when callbacks watch each batch, else in about 50 pieces
        of whole batches to move the progress bar. The first piece leaves the epoch's start in
        ``snapshot``."""
        net = self.net
        n_batches = -(-len(order) // batch_size)
        per_chunk = batch_size if batch_callbacks else max(1, -(-n_batches // 50)) * batch_size
        loss_sum, correct = 0.0, 0
        try:
            for i in range(0, len(order), per_chunk):
                chunk = order[i:i + per_chunk]
                for cb in batch_callbacks:
                    cb.on_batch_begin(self, X[chunk], Y[chunk])
                chunk_losses, chunk_corrects = backend.train_epochs(
                    net, X, Y, self.loss, self.optimizer, chunk[None], batch_size, snapshot if i == 0 else None,
                    weights, rates[:1], self.clip_norm, None if keys is None else keys[:1])
                loss_sum += float(chunk_losses[0])
                correct += int(chunk_corrects[0])
                display.advance(len(chunk))
        except KeyboardInterrupt as exc:
            exc.completed = ((), ())
            raise
        return [loss_sum], [correct]


def _class_weights(class_weight, Y, net):
    """Each sample's weight from its class: ``class_weight`` "balanced" (n_samples / (n_classes * count
    of the class), over the classes present) or a dict {class id: weight} (classes not named: 1). The
    class of a row of Y is its argmax (softmax outputs) or Y > 0.5 (one sigmoid output)."""
    if net.output == "softmax":
        classes, n_classes = Y.argmax(axis=1), net.n_outputs
    elif net.output == "sigmoid" and net.n_outputs == 1:
        classes, n_classes = (Y[:, 0] > 0.5).astype(np.intp), 2
    else:
        raise ValueError(f"class_weight needs a classifier (a softmax output, or one sigmoid output); this network's "
                         f"output is {net.n_outputs} x {net.output!r}")
    counts = np.bincount(classes, minlength=n_classes)
    if isinstance(class_weight, str) and class_weight == "balanced":
        table = np.where(counts > 0, len(classes) / (np.count_nonzero(counts) * np.maximum(counts, 1)), 0.0)
    elif isinstance(class_weight, dict):
        table = np.ones(n_classes)
        for key, value in class_weight.items():
            if isinstance(key, bool) or not isinstance(key, (int, np.integer)) or not 0 <= key < n_classes:
                raise ValueError(f"class_weight has key {key!r}; the classes are the ids 0..{n_classes - 1}")
            table[key] = check_number(f"class_weight[{key}]", value, low=0)
    else:
        raise TypeError(f"class_weight must be None, 'balanced' or a dict {{class id: weight}}, got {class_weight!r}")
    return table[classes]
