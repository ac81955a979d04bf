"""The compiled backend: the reference's functions, same signatures, over nn._core.

Everything the core relies on is prepared here: C-contiguous arrays of the network's dtype, codes for
activations, losses and optimizers, layouts and training scratch sized once per (network, batch size)
and kept outside the network (see _caches). ``forward`` and ``gradients`` take fresh scratch per call,
so any number of threads may predict with one network at once. The core checks shapes again, so a
mistake here is an exception, never a crash.
"""
import contextlib
import ctypes
import functools
import threading
import weakref

import numpy as np

from .. import _core
from ..optimizers import OPTIMIZERS
from . import reference
from .threads import get_num_threads, num_threads_is_set

CORE_FILE = _core.__file__
TEAM = _core.TEAM  # the thread team's implementation in this build: pthreads, openmp or none
ACTIVATION_CODES = {name: i for i, name in enumerate(_core.ACTIVATION_NAMES)}
LOSS_CODES = {name: i for i, name in enumerate(_core.LOSS_NAMES)}
OPTIMIZER_CODES = {OPTIMIZERS[name]: i for i, name in enumerate(_core.OPTIMIZER_NAMES)}  # class -> the core's code
INFERENCE_ROWS = 4096  # forward runs in pieces of this many rows
# forward_output: blocks of at most this many rows; up to LIST_ROWS rows run the first layer on lists of
# their nonzeros whatever the inputs (one MNIST row in float64: 3.6 us instead of 14 through the loop);
# from INFERENCE_TEAM_MIN_WORK multiply-adds (rows x parameters) a team shares the blocks.
INFERENCE_BLOCK = 256
LIST_ROWS = 4
INFERENCE_TEAM_MIN_WORK = 5_000_000
SIGNAL_CHECK_WORK = 200_000  # check for Ctrl-C about every this many multiply-adds of training
# A batch is split between threads only when each gets at least this many rows and this many
# multiply-adds (rows x parameters): below that, waiting for each other costs more than it saves.
TEAM_MIN_ROWS = 8
TEAM_MIN_WORK = 400_000
# The first layer runs on lists of nonzeros when at most this fraction of the inputs are nonzero (see
# sparse_first_layer), and a batch's lists hold at most this many entries.
SPARSE_DENSITY = 0.3
SPARSE_MAX_ENTRIES = 1 << 22
# A team of the default size tries, each long epoch, 16 batches with thread 0 alone after 16 as a team, and
# goes on alone when that took less than this fraction of the team's time (another process holds a core,
# or the batches are too small to share; the same numbers either way: see _core.train's back_off). A
# thread count set by nn.set_num_threads or NN_NUM_THREADS is kept throughout.
BACK_OFF = 0.97
# On the sparse path without clipping, every optimizer but plain SGD takes W_1's step a few rows at a
# time, as the rows of its gradient are made (_core.train's fused); the same bits as the step from the
# whole gradient (False, for the tests that compare them).
FUSED_STEP = True


@functools.lru_cache(maxsize=None)
def _openblas():
    """(get, set) of the thread count of the BLAS the core calls (SciPy's, behind
    scipy.linalg.cython_blas) when it is an OpenBLAS we can reach, else None."""
    from scipy.linalg import cython_blas

    try:
        lib = ctypes.CDLL(cython_blas.__file__)  # its symbols and those of the libraries it loaded
    except OSError:
        return None
    for prefix in ("scipy_openblas", "openblas"):  # SciPy's wheels prefix OpenBLAS's names
        get = getattr(lib, prefix + "_get_num_threads", None)
        set_ = getattr(lib, prefix + "_set_num_threads", None)
        if get is not None and set_ is not None:
            get.restype, get.argtypes = ctypes.c_int, []
            set_.restype, set_.argtypes = None, [ctypes.c_int]
            return get, set_
    return None


def blas_threads():
    """The number of threads the core's BLAS is set to use; 1 if that BLAS's threads cannot be set
    (the team needs to set them to one while it trains)."""
    control = _openblas()
    return max(1, control[0]()) if control is not None else 1


_blas_lock = threading.Lock()
_blas_users = [0, 0]  # trainings running with BLAS on one thread, the thread count to restore


@contextlib.contextmanager
def _blas_on_one_thread():
    """BLAS on one thread while a team trains (its threads make their own products); restored after the
    last concurrent training ends."""
    get, set_ = _openblas()
    with _blas_lock:
        if _blas_users[0] == 0:
            _blas_users[1] = get()
            set_(1)
        _blas_users[0] += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_users[0] -= 1
            if _blas_users[0] == 0:
                set_(_blas_users[1])


def team_size(net, batch_size):
    """Threads to train ``net`` with in batches of ``batch_size``: nn.get_num_threads(), fewer when
    the batches are too small to share (TEAM_MIN_ROWS, TEAM_MIN_WORK), one if BLAS's threads cannot
    be set or the core was built without a team (NN_TEAM=none)."""
    threads = min(batch_size // TEAM_MIN_ROWS, _core.MAX_THREADS)
    if TEAM_MIN_WORK > 0:
        threads = min(threads, batch_size * net.n_params // TEAM_MIN_WORK)
    if threads <= 1:  # decided before asking for the thread count: per-sample SGD pays no lookup per call
        return 1
    threads = min(threads, get_num_threads())
    if threads <= 1 or _openblas() is None or TEAM == "none":
        return 1
    return threads


def mostly_zeros(X):
    """Whether at most SPARSE_DENSITY of X's values are nonzero, in an even sample of about 256 rows."""
    rows = X[::max(1, len(X) // 256)]
    return np.count_nonzero(rows) <= SPARSE_DENSITY * rows.size


def sparse_first_layer(net, X, batch_size):
    """Whether training runs the first layer on each sample's list of nonzero inputs rather than on the
    dense rows: for inputs that are mostly zeros (at most SPARSE_DENSITY of them nonzero, in an even
    sample of about 256 rows; MNIST: 19%), batches of two or more rows, lists of at most
    SPARSE_MAX_ENTRIES per batch, and a processor with AVX2 and FMA (the kernels' only fast form)."""
    if batch_size < 2 or not _core.SPARSE_KERNELS or batch_size * net.sizes[0] > SPARSE_MAX_ENTRIES \
            or net.dropouts[0]:  # dropout on the inputs: the first layer runs on the dropped-out rows
        return False
    return mostly_zeros(X)


# What the backend keeps for a network lives here, not on the network (which pickles and copies without
# it): per network, its core layouts by batch size (read-only once built: any number of threads may share
# one) and its training scratch. A network that changes shape or is reloaded is a new key; a collected
# network's entries go with it.
_caches = weakref.WeakKeyDictionary()
_caches_lock = threading.Lock()
# Entries per network and pool, the oldest dropped first: layouts for a few batch sizes, and training
# scratch for a few (batch size, threads) settings, in pools of their own so that predicting at many
# sizes between epochs never drops the scratch a fit goes on with.
MAX_CACHED = {"layout": 4, "train": 2}


def _cached(net, pool, key, make):
    """The network's cached value for ``key`` in ``pool``, made by ``make()`` on first use."""
    try:  # found without the lock (reading dicts is atomic; they change only under it): one-row latency
        return _caches[net][pool][key]
    except KeyError:
        pass
    with _caches_lock:
        cache = _caches.setdefault(net, {}).setdefault(pool, {})
        value = cache.get(key)
        if value is None:
            if len(cache) >= MAX_CACHED[pool]:
                cache.pop(next(iter(cache)))
            value = cache[key] = make()
        return value


def _layout(net, batch, inference=False):
    """The core layout of ``net`` for batches of up to ``batch`` rows (shared; the core only reads it);
    a training layout has room for the network's dropout."""
    sizes, activations = tuple(net.sizes), tuple(net.activations)
    dropouts = (0.0,) * len(activations) if inference else tuple(net.dropouts)
    return _cached(net, "layout", (sizes, activations, batch, inference, dropouts), lambda: _core.layout(
        np.array(sizes, dtype=np.intp), np.array([ACTIVATION_CODES[a] for a in activations], dtype=np.intp),
        batch, inference, np.array(dropouts, dtype=np.float64)))


def _training_scratch(net, lay, batch_size, threads, sparse):
    """The core's TrainScratch for training ``net`` in batches of ``batch_size`` on ``threads`` threads: made
    once per network and these settings, reused by every call. Training a network is exclusive
    (Trainer.fit refuses a second concurrent fit; the core refuses a scratch in use)."""
    dtype = np.dtype(net.dtype).name
    key = (tuple(net.sizes), tuple(net.activations), tuple(net.dropouts), batch_size, threads, sparse, dtype)
    return _cached(net, "train", key, lambda: _core.TrainScratch(lay, batch_size, threads, sparse, dtype))


def _contiguous(net, A):
    return np.ascontiguousarray(A, dtype=net.dtype)


def forward(net, X):
    """[A_0 = X, A_1, ..., A_L]: every layer's output, as the reference."""
    X = _contiguous(net, X)
    n = len(X)
    outputs = [np.empty((n, size), dtype=net.dtype) for size in net.sizes[1:]]
    # Layouts for batch sizes rounded up to a power of two: a server's calls of many sizes share a few.
    lay = _layout(net, min(1 << (n - 1).bit_length(), INFERENCE_ROWS), inference=True)
    work = np.empty(lay.work_size, dtype=net.dtype)  # per call: many threads may run forward at once
    theta = net.parameter_vector()
    for start in range(0, n, INFERENCE_ROWS):
        piece = X[start:start + INFERENCE_ROWS]
        _core.forward(lay, theta, work, piece)
        for out, (offset, _, cols) in zip(outputs, lay.output_offsets()):
            out[start:start + len(piece)] = work[offset:offset + len(piece) * cols].reshape(-1, cols)
    return [X] + outputs


def forward_output(net, X):
    """The output layer's activations for X (2-D, C-contiguous, of the network's dtype), or None when X
    holds an inf or NaN (the caller's checks then say so): Network.forward's path for arrays that need no
    conversion. The core checks X's values and writes the outputs only, in blocks of up to
    INFERENCE_BLOCK rows, with scratch of its own; a few rows, or inputs mostly zero, run the first layer
    on lists of their nonzeros; enough work is shared by a team of threads (nn.get_num_threads())."""
    n = len(X)
    block = min(1 << (n - 1).bit_length(), INFERENCE_BLOCK)
    lay = _layout(net, block, inference=True)
    out = np.empty((n, net.layers[-1].n_out), dtype=net.dtype)
    lists = _core.SPARSE_KERNELS and (n <= LIST_ROWS or mostly_zeros(X))
    threads = 1
    if n * net.n_params >= INFERENCE_TEAM_MIN_WORK and n > block and TEAM != "none" and _openblas() is not None:
        threads = min(get_num_threads(), -(-n // block))
    if threads > 1:
        with _blas_on_one_thread():
            finite = _core.forward_output(lay, net.parameter_vector(), X, out, threads, lists)
    else:
        finite = _core.forward_output(lay, net.parameter_vector(), X, out, 1, lists)
    return out if finite else None


def gradients(net, X, Y, loss, weights=None):
    """The loss on the batch (X, Y) and its gradient with respect to theta (same layout)."""
    X, Y = _contiguous(net, X), _contiguous(net, Y)
    lay = _layout(net, len(X))
    work = np.empty(lay.work_size, dtype=net.dtype)  # per call, as forward
    theta = net.parameter_vector()
    grad = np.empty_like(theta)
    value = _core.gradients(lay, LOSS_CODES[loss], theta, work, X, Y, grad,
                            None if weights is None else _contiguous(net, weights))
    return value, grad


def matmul(A, B, C):
    """C = A @ B through the core's product (SciPy's BLAS for large matrices): for the benchmark."""
    _core.matmul(A, B, C)


def hyper_values(optimizer):
    """The optimizer's hyper-parameters as the core takes them: in the order of its table HYPER_NAMES (0
    for one the optimizer does not have; the learning rate is the one in force, ``optimizer.rate``)."""
    values = {name: getattr(optimizer, name, 0.0) for name in _core.HYPER_NAMES}
    values["learning_rate"] = optimizer.rate
    return np.array([float(values[name]) for name in _core.HYPER_NAMES], dtype=np.float64)


def train_epochs(net, X, Y, loss, optimizer, orders, batch_size, snapshot=None, weights=None, rates=None,
                 clip_norm=None, keys=None):
    """Train one epoch per row of ``orders`` (indices into X, Y) in batches of ``batch_size``, in one
    call into the core without the GIL. Returns (loss_sums, corrects) for the epochs completed: per
    epoch, the sum over batches of loss * batch length (with sample ``weights``, one per row of X: of
    loss * the batch's total weight) and the correct predictions. Stops after the first epoch whose loss
    is not finite, or after which the weights are not (its loss is then NaN). With ``snapshot`` (an
    nn.layout.Snapshot), the start of the last epoch run is left there: theta and the optimizer's state
    arrays (the core writes them into ``snapshot.vector``), and its step count.
    Ctrl-C raises KeyboardInterrupt carrying ``completed``, the figures of the epochs completed.
    ``rates`` (each epoch's learning rate), ``clip_norm`` and ``keys`` (each epoch's dropout key): as the
    reference's.
    """
    code = OPTIMIZER_CODES.get(type(optimizer))
    if code is None:  # an optimizer of the user's own: its update rule is Python, so is the loop
        return reference.train_epochs(net, X, Y, loss, optimizer, orders, batch_size, snapshot, weights, rates,
                                      clip_norm, keys)
    theta = net.parameter_vector()
    optimizer.init_state([theta])
    states = [optimizer.state[name][0] for name in optimizer.state_names]
    empty = np.empty(0, dtype=net.dtype)
    state1, state2 = (states + [empty, empty])[:2]
    orders = np.ascontiguousarray(np.atleast_2d(orders), dtype=np.intp)
    rates = None if rates is None else np.ascontiguousarray(rates, dtype=np.float64)
    loss_sums = np.zeros(len(orders))
    corrects = np.zeros(len(orders), dtype=np.intp)
    steps = np.array([optimizer.steps], dtype=np.longlong)
    steps_before, n_batches = optimizer.steps, -(-orders.shape[1] // batch_size)  # updates per epoch
    check_every = max(1, SIGNAL_CHECK_WORK // (batch_size * net.n_params))
    scratch = _training_scratch(net, _layout(net, batch_size), batch_size, team_size(net, batch_size),
                                sparse_first_layer(net, X, batch_size))
    keys = None if keys is None else np.ascontiguousarray(keys, dtype=np.uint64)
    try:
        with _blas_on_one_thread() if scratch.threads > 1 else contextlib.nullcontext():
            done = _core.train(scratch, LOSS_CODES[loss], code, hyper_values(optimizer), steps, theta, state1,
                               state2, X, Y, orders, loss_sums, corrects, empty if snapshot is None else snapshot.vector,
                               check_every, None if weights is None else _contiguous(net, weights), rates,
                               float(clip_norm or 0), keys, 0.0 if num_threads_is_set() else BACK_OFF,
                               FUSED_STEP)
    except _core.Interrupted as exc:
        exc.completed = (loss_sums[:exc.epochs_done], corrects[:exc.epochs_done])
        raise
    finally:
        optimizer.steps = int(steps[0])
    if snapshot is not None:  # the core saved the start of the last epoch run; each epoch before took n_batches
        snapshot.steps = steps_before + (done - 1) * n_batches
    return loss_sums[:done], corrects[:done]


__all__ = ["forward", "forward_output", "gradients", "train_epochs", "matmul"]
