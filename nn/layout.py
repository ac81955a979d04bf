"""The flat parameter vector, theta: where each parameter of a network lives in it (its one owner).

A network of sizes [n_0, n_1, ..., n_L] has L layers; layer l (0-based) holds W_l of shape
(n_l, n_{l+1}) and b_l of shape (n_{l+1},). theta is W_0 (row-major), b_0, W_1, b_1, ..., so

    layer l starts at  start_l = sum over k < l of (n_k * n_{k+1} + n_{k+1}),
    W_l[i, j] is at    start_l + i * n_{l+1} + j,
    b_l[j] is at       start_l + n_l * n_{l+1} + j.

A snapshot is theta followed by each of an optimizer's state arrays (in ``state_names`` order), each laid
out like theta: (1 + len(state_names)) * n_params values, the vector the compiled core writes at the
start of each epoch; ``Snapshot`` keeps it with the optimizer's step count, to go back to when an epoch
diverges. This module imports only NumPy: the network, the reference backend, the trainer and its
callbacks (WeightTrace) read the layout here rather than compute it again. The compiled core computes
the same offsets in C (nn._core.layout, checked against theta's length on every call); a test pairs the
two (tests/test_layout.py). The benchmark's peers copy each layer's W and b, so they need no offsets.
"""
import numpy as np


def n_params(sizes):
    """The length of theta for layer sizes [n_0, ..., n_L]: the sum of n_l * n_{l+1} + n_{l+1}."""
    return sum(n_in * n_out + n_out for n_in, n_out in zip(sizes, sizes[1:]))


ALIGNMENT = 64  # bytes: a cache line


def zeros(n, dtype):
    """A vector of n zeros whose first value sits on a cache line's start (ALIGNMENT bytes; NumPy
    promises 16). theta is one: W_1 comes first, so its rows start on a line whenever a row is a whole
    number of lines (a multiple of 16 float32 or 8 float64 values), and the compiled core's vector loads
    of them split no line (784-128-10 float32 on one thread, AMD Zen 4: an SGD epoch about 10% faster)."""
    itemsize = np.dtype(dtype).itemsize
    buffer = np.zeros(n + ALIGNMENT // itemsize, dtype=dtype)
    start = (-buffer.ctypes.data % ALIGNMENT) // itemsize
    return buffer[start:start + n]


def layer_offsets(sizes):
    """[(offset of W_l, offset of b_l), ...]: where each layer's parameters start in theta."""
    offsets, start = [], 0
    for n_in, n_out in zip(sizes, sizes[1:]):
        offsets.append((start, start + n_in * n_out))
        start += n_in * n_out + n_out
    return offsets


def layer_views(sizes, flat):
    """[(W_l, b_l), ...]: views into ``flat`` (a vector laid out like theta, of n_params(sizes) values)
    of shapes (n_l, n_{l+1}) and (n_{l+1},); writing to them writes into ``flat``."""
    if flat.shape != (n_params(sizes),):
        raise ValueError(f"flat must hold the {n_params(sizes)} parameters of a network of sizes {list(sizes)}, "
                         f"got shape {flat.shape}")
    return [(flat[w:b].reshape(n_in, n_out), flat[b:b + n_out])
            for (w, b), n_in, n_out in zip(layer_offsets(sizes), sizes, sizes[1:])]


def weight_offset(sizes, layer, source, target):
    """The index in theta of W_layer[source, target], the weight from input ``source`` of layer
    ``layer`` (0-based) to its output ``target``."""
    if not 0 <= layer < len(sizes) - 1:
        raise ValueError(f"layer {layer} does not exist: the network has {len(sizes) - 1} layers")
    n_in, n_out = sizes[layer], sizes[layer + 1]
    if not (0 <= source < n_in and 0 <= target < n_out):
        raise ValueError(f"W[{source}, {target}] is outside layer {layer}'s {n_in} x {n_out} weights")
    return layer_offsets(sizes)[layer][0] + source * n_out + target


def snapshot_size(n_params, optimizer):
    """The length of a snapshot: theta and the optimizer's state arrays, (1 + state arrays) * n_params."""
    return (1 + len(optimizer.state_names)) * n_params


class Snapshot:
    """A network's theta and its optimizer's state, as they were at one moment (the start of an epoch):
    ``vector`` holds theta then each state array (see the module docstring), ``steps`` the optimizer's
    step count then. The backends fill it (``save``, or the core writing ``vector``); the trainer goes
    back to it (``restore``) when an epoch diverges."""

    def __init__(self, n_params, optimizer, dtype):
        self.n_params = n_params
        self.vector = np.empty(snapshot_size(n_params, optimizer), dtype=dtype)
        self.steps = None  # the optimizer's step count when saved

    def parts(self):
        """[theta, state array, ...]: views into ``vector``, one per part, n_params each."""
        return [self.vector[start:start + self.n_params] for start in range(0, self.vector.size, self.n_params)]

    def save(self, net, optimizer):
        """Copy ``net``'s theta, the optimizer's state arrays (created if it has none yet) and its step
        count here."""
        theta = net.parameter_vector()
        for part, source in zip(self.parts(), [theta] + _state_arrays(optimizer, theta)):
            part[...] = source
        self.steps = optimizer.steps

    def restore(self, net, optimizer):
        """Put ``net``'s theta (through its ``theta`` setter), the optimizer's state arrays and its step
        count back as they were saved."""
        if self.steps is None:
            raise RuntimeError("this snapshot was never saved: there is nothing to restore")
        theta, *states = self.parts()
        net.theta = theta
        for array, saved in zip(_state_arrays(optimizer, net.parameter_vector()), states):
            array[...] = saved
        optimizer.steps = self.steps

    def __repr__(self):
        return f"Snapshot(n_params={self.n_params}, parts={self.vector.size // self.n_params}, steps={self.steps})"


def _state_arrays(optimizer, theta):
    """The optimizer's state arrays for the single parameter ``theta``, in ``state_names`` order (zeros
    when it has none that fit yet)."""
    optimizer.init_state([theta])
    return [optimizer.state[name][0] for name in optimizer.state_names]
