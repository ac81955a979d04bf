"""Dropout's masks, the NumPy twin of src/nn_random.h: the same numbers on both backends, any thread count.

Inverted dropout on a layer's input during training: each input unit is kept with probability 1 - p
and then multiplied by 1 / (1 - p), so that its expected value is unchanged; nothing happens at
inference. A unit's fate is a function of three numbers, with no generator state:

    u = uniform(key, row * stride + offset_l + unit),  kept if u >= p,

``key`` one 64-bit number per epoch (``epoch_keys``: a function of the epoch's number and of one base key
the trainer draws from its seeded generator when it first trains a network with dropout), ``row`` the sample's row
in X, ``offset_l`` where layer l's inputs start among a sample's (the sum of the layer sizes before it)
and ``stride`` the sum of every layer's input size. ``uniform`` is SplitMix64's finaliser applied to
``key + 0x9E3779B97F4A7C15 * (counter + 1)`` (mod 2^64), its top 53 bits times 2^-53.
"""
import numpy as np

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
MIX1 = np.uint64(0xBF58476D1CE4E5B9)
MIX2 = np.uint64(0x94D049BB133111EB)


def uniform(key, counters):
    """Numbers in [0, 1) for each counter (a uint64 array), a function of (key, counter) alone."""
    counters = np.atleast_1d(np.asarray(counters, dtype=np.uint64))  # arrays wrap mod 2^64 without a warning
    return (_mix(np.uint64(key) + GOLDEN * (counters + np.uint64(1))) >> np.uint64(11)).astype(np.float64) * 2.0 ** -53


def epoch_keys(base, first, n):
    """The keys of epochs first .. first + n - 1 (counted from 0 over a trainer's fits): SplitMix64 of
    the base key and the epoch's number, so that an epoch's masks do not depend on how the epochs were
    split between fits, or across a checkpoint."""
    return _mix(np.uint64(base) + GOLDEN * (np.arange(first, first + n, dtype=np.uint64) + np.uint64(1)))


def _mix(z):
    """SplitMix64's finaliser on a uint64 array (nn_mix64 in src/nn_random.h)."""
    z ^= z >> np.uint64(30)
    z *= MIX1
    z ^= z >> np.uint64(27)
    z *= MIX2
    z ^= z >> np.uint64(31)
    return z


def input_offsets(sizes):
    """(offsets, stride): where each layer's inputs start among a sample's counters, and their total."""
    offsets = np.concatenate([[0], np.cumsum(sizes[:-1])]).astype(np.uint64)
    return offsets[:-1], int(offsets[-1])


def multipliers(key, rows, layer, sizes, p, dtype):
    """What layer ``layer``'s inputs are multiplied by for the samples ``rows`` (rows of X): 1 / (1 - p)
    in the network's dtype where kept, 0 where dropped; shape (len(rows), sizes[layer])."""
    offsets, stride = input_offsets(sizes)
    counters = (np.asarray(rows, dtype=np.uint64)[:, None] * np.uint64(stride) + offsets[layer]
                + np.arange(sizes[layer], dtype=np.uint64))
    scale = np.dtype(dtype).type(1.0 / (1.0 - p))
    return np.where(uniform(key, counters) >= p, scale, np.dtype(dtype).type(0))
