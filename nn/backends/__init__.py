"""Backends: the same three functions, ``forward``, ``gradients`` and ``train_epoch``, in NumPy
(``reference``) and over the compiled core (``compiled``)."""
import importlib
import os

NAMES = ("compiled", "reference")
DEFAULT = "reference"  # becomes "compiled" once the core covers training


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
