"""Callbacks of Trainer.fit: EarlyStopping (fit's ``early_stopping``) and WeightTrace (in ``callbacks``).

A callback in ``callbacks`` is a callable ``f(epoch, logs)``, or an object with ``on_epoch_end(epoch,
logs)`` and / or ``on_batch_begin(trainer, X_batch, Y_batch)`` (which makes the fit go batch by batch).
"""
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
