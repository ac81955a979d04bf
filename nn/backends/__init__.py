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


_threads = None  # set_num_threads's value


def set_num_threads(n):
    """The number of threads the compiled backend trains with; None restores the default (see
    get_num_threads)."""
    global _threads
    from ..validation import check_int

    _threads = check_int("n", n, low=1, allow_none=True)


def get_num_threads():
    """The number of threads the compiled backend trains with: set_num_threads's value, else
    $NN_NUM_THREADS, else as many as its BLAS is set to use at this moment ($OPENBLAS_NUM_THREADS, by
    default all cores; threadpoolctl.threadpool_limits and joblib's workers lower it, and nn follows:
    n_jobs=2 on 2 cores never runs 4 busy threads). Small batches of small networks train on one thread whatever this says: see
    nn.backends.compiled.team_size."""
    if _threads is not None:
        return _threads
    env = os.environ.get("NN_NUM_THREADS", "").strip()
    if env:
        if not env.isdigit() or int(env) < 1:
            raise ValueError(f"NN_NUM_THREADS must be a whole number >= 1, got {env!r}")
        return int(env)
    return get("compiled").blas_threads()


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
