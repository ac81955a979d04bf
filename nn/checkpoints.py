"""Checkpoints: everything a Trainer needs to go on exactly where it stopped, in a pickle-free .npz.

A checkpoint is a model file (nn.modelfile; ``Network.load`` reads it as the network it holds) with
  - one member ``state_<name>`` per state array of the optimizer (Adam's m and v, ...), theta's length;
  - in the metadata, under "checkpoint", a JSON object: its ``version``; the trainer's ``loss``,
    ``batch_size``, ``seed``, ``clip_norm``, ``epoch`` (epochs completed) and dropout's base key; the
    state of its random generator (the next epochs' shuffle orders, and augmentation, come from it); the
    optimizer's name,
    hyper-parameters and step count; the learning-rate schedule's name, arguments and state (or the
    number, or "function" for a user's own function, which cannot be stored: give it again on loading).

Resuming is exact: the epochs run after ``Trainer.from_checkpoint`` give, bit for bit, the weights the
uninterrupted run gives (same backend, dtype, thread count and library versions; see the README's "What
determinism covers"). Not stored: fit's own arguments (validation data, early stopping's patience and
best epoch so far, callbacks), which the resumed fit is given again.
"""
import numpy as np

from . import schedules
from .network import Network
from .optimizers import OPTIMIZERS
from .trainer import Trainer

CHECKPOINT_VERSION = 1
KEY = "checkpoint"


def save(trainer, path):
    """Write ``trainer``'s checkpoint to ``path`` (atomically, as Network.save)."""
    optimizer = trainer.optimizer
    names = {cls: name for name, cls in OPTIMIZERS.items()}
    if type(optimizer) not in names:
        raise TypeError(f"a checkpoint stores nn's own optimizers ({', '.join(OPTIMIZERS)}), "
                        f"not {type(optimizer).__name__}")
    hyper = optimizer._hyper_parameters()
    hyper.pop("learning_rate")
    theta = trainer.net.parameter_vector()
    state = {}
    for name in optimizer.state_names:
        arrays = optimizer.state.get(name)
        if arrays is None:  # not trained yet: no state to keep
            continue
        if len(arrays) != 1 or arrays[0].shape != theta.shape:
            raise ValueError(f"the optimizer's state {name!r} is not one vector of theta's length (it was stepped "
                             f"outside a Trainer?): a checkpoint of it would not resume exactly")
        state[name] = arrays[0]
    record = {
        "version": CHECKPOINT_VERSION,
        "trainer": {"loss": trainer.loss, "batch_size": trainer.batch_size, "seed": trainer.seed,
                    "clip_norm": trainer.clip_norm, "epoch": trainer.epoch, "dropout_key": trainer._dropout_key},
        "rng": trainer.rng.bit_generator.state,
        "optimizer": {"name": names[type(optimizer)], "hyper_parameters": hyper, "steps": optimizer.steps,
                      "rate": optimizer.rate, "state_names": sorted(state)},
        "learning_rate": _schedule_record(optimizer.learning_rate),
    }
    trainer.net.save(path, _vectors={f"state_{name}": array for name, array in state.items()},
                     _metadata={KEY: record})


def load(path, backend=None, learning_rate=None):
    """The Trainer saved at ``path``, with its network, optimizer (state and steps), schedule, random
    generator and epoch count. ``learning_rate``: the schedule, when the checkpoint's was a function of
    the user's (it cannot be stored), or to replace the stored one."""
    from . import modelfile

    head = modelfile.read(path)
    record = head["metadata"].get(KEY)
    if not isinstance(record, dict) or record.get("version") != CHECKPOINT_VERSION:
        raise ValueError(f"{path} is not an nn checkpoint (version {CHECKPOINT_VERSION}): its metadata has no "
                         f"{KEY!r} record of that version (a model file? read it with nn.Network.load)")
    try:
        state_names = [str(name) for name in record["optimizer"]["state_names"]]
        model = modelfile.read(path, vectors=[f"state_{name}" for name in state_names])
        metadata = dict(model["metadata"])
        del metadata[KEY]
        model["metadata"] = metadata
        net = Network._from_model(path, model, backend)
        optimizer = _optimizer(record["optimizer"], record["learning_rate"], learning_rate, path)
        settings = record["trainer"]
        trainer = Trainer(net, loss=settings["loss"], optimizer=optimizer, batch_size=settings["batch_size"],
                          seed=settings["seed"], clip_norm=settings["clip_norm"])
        trainer.epoch = int(settings["epoch"])
        trainer._dropout_key = settings["dropout_key"]
        trainer.rng.bit_generator.state = record["rng"]
    except (KeyError, TypeError) as exc:
        raise ValueError(f"{path} is not a valid nn checkpoint: {type(exc).__name__}: {exc}") from None
    if state_names:
        optimizer.state = {name: [np.array(model[f"state_{name}"], dtype=net.dtype)] for name in state_names}
    optimizer.steps = int(record["optimizer"]["steps"])
    optimizer.rate = float(record["optimizer"]["rate"])
    optimizer.bind(net)
    return trainer


def _schedule_record(learning_rate):
    """The learning rate as JSON: a number, a schedule of nn.schedules (name, arguments, state), or
    "function" (a user's function: not stored)."""
    if not callable(learning_rate):
        return learning_rate
    if isinstance(learning_rate, schedules.Schedule) and getattr(schedules, type(learning_rate).__name__, None) \
            is type(learning_rate):
        return {"name": type(learning_rate).__name__, "arguments": learning_rate._hyper_parameters(),
                "state": learning_rate.state()}
    return "function"


def _optimizer(record, schedule, learning_rate, path):
    if learning_rate is None:
        if schedule == "function":
            raise ValueError(f"{path} was trained with a learning-rate function of your own, which a checkpoint "
                             f"cannot store: give it again, Trainer.from_checkpoint(path, learning_rate=...)")
        if isinstance(schedule, dict):
            learning_rate = getattr(schedules, schedule["name"])(**schedule["arguments"])
            learning_rate.load_state(schedule["state"])
        else:
            learning_rate = float(schedule)
    return OPTIMIZERS[record["name"]](learning_rate=learning_rate, **record["hyper_parameters"])
