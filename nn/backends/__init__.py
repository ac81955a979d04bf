"""Backends: the same three functions, ``forward``, ``gradients`` and ``train_epoch``, in NumPy
(``reference``) and over the compiled core (``compiled``)."""
import importlib
import os

NAMES = ("compiled", "reference")
DEFAULT = "compiled"


def resolve(name=None):
    """The backend name to use: ``name``, else $NN_BACKEND, else the compiled core."""
    if name is None:
        name = os.environ.get("NN_BACKEND", "") or DEFAULT
    if name not in NAMES:
        raise ValueError(f"unknown backend {name!r}; expected one of: {', '.join(NAMES)}")
    return name


def get(name):
    """The backend module for ``name``."""
    return importlib.import_module(f"{__name__}.{resolve(name)}")


def layer_views(net, flat):
    """[(W, b), ...] views into ``flat``, a vector laid out like ``net.theta``."""
    views, offset = [], 0
    for layer in net.layers:
        n_w = layer.n_in * layer.n_out
        views.append((flat[offset:offset + n_w].reshape(layer.n_in, layer.n_out),
                      flat[offset + n_w:offset + n_w + layer.n_out]))
        offset += n_w + layer.n_out
    return views


def snapshot_size(net, optimizer):
    """Length of a snapshot of the network and the optimizer's state: (1 + state arrays) * n_params."""
    return (1 + len(optimizer.state_names)) * net.n_params


def _snapshot_parts(net, optimizer):
    """theta, then each optimizer state array: what a snapshot holds, in order."""
    optimizer.init_state([net._theta])
    return [net._theta] + [optimizer.state[name][0] for name in optimizer.state_names]


def save_snapshot(net, optimizer, snapshot):
    """Copy theta, then each optimizer state array, into ``snapshot``."""
    for i, part in enumerate(_snapshot_parts(net, optimizer)):
        snapshot[i * net.n_params:(i + 1) * net.n_params] = part


def restore_snapshot(net, optimizer, snapshot):
    """The reverse of save_snapshot."""
    for i, part in enumerate(_snapshot_parts(net, optimizer)):
        part[...] = snapshot[i * net.n_params:(i + 1) * net.n_params]
