"""Activations and losses: the math in NumPy, one small function each, in tables by name.

Shapes: ``Z`` and ``A`` are (n_samples, n_units); ``Y`` has the shape of ``A``.

An activation ``f`` comes with ``backprop`` that turns dL/dA into dL/dZ using only the layer's output
``A`` (sigmoid: a(1-a); tanh: 1-a^2; ReLU: a>0), so the forward pass never has to keep ``Z``.
"""
import numpy as np

LEAKY_SLOPE = 0.01


def identity(Z):
    """f(z) = z"""
    return Z


def sigmoid(Z):
    """f(z) = 1 / (1 + e^-z), computed from e^-|z| so that no input overflows."""
    E = np.exp(-np.abs(Z))
    return np.where(Z >= 0, 1.0, E) / (1.0 + E)


def tanh(Z):
    """f(z) = tanh(z)"""
    return np.tanh(Z)


def relu(Z):
    """f(z) = max(z, 0)"""
    return np.maximum(Z, 0)


def leaky_relu(Z):
    """f(z) = z for z > 0, else 0.01 z"""
    return np.where(Z > 0, Z, LEAKY_SLOPE * Z)


def softmax(Z):
    """f(z)_j = e^(z_j - max z) / sum_k e^(z_k - max z), row by row (the max keeps exp finite)."""
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    return E / E.sum(axis=1, keepdims=True)


ACTIVATIONS = {
    "identity": identity,
    "sigmoid": sigmoid,
    "tanh": tanh,
    "relu": relu,
    "leaky_relu": leaky_relu,
    "softmax": softmax,
}

# dL/dZ from dL/dA (G) and the layer's output A.
BACKPROP = {
    "identity": lambda A, G: G,
    "sigmoid": lambda A, G: G * A * (1 - A),
    "tanh": lambda A, G: G * (1 - A * A),
    "relu": lambda A, G: G * (A > 0),
    "leaky_relu": lambda A, G: G * np.where(A > 0, 1.0, LEAKY_SLOPE),
    # The softmax Jacobian applied to G: dz_j = a_j (g_j - sum_k g_k a_k).
    "softmax": lambda A, G: A * (G - (G * A).sum(axis=1, keepdims=True)),
}


def _log(A):
    """log clipped at the dtype's eps, so a confident wrong answer costs a large finite loss."""
    return np.log(np.maximum(A, np.finfo(A.dtype).eps))


def mse(Y, A):
    """mean((Y - A)^2) over every element, as PyTorch and Keras."""
    return float(np.mean((Y - A) ** 2))


def binary_cross_entropy(Y, A):
    """-mean(y log a + (1 - y) log(1 - a)) over every element."""
    return float(-np.mean(Y * _log(A) + (1 - Y) * _log(1 - A)))


def cross_entropy(Y, A):
    """-(1/n) sum_i sum_j y_ij log a_ij: the mean over samples of the categorical cross-entropy."""
    return float(-np.sum(Y * _log(A)) / A.shape[0])


LOSSES = {
    "mse": mse,
    "binary_cross_entropy": binary_cross_entropy,
    "cross_entropy": cross_entropy,
}

# Each row's loss l_i, shape (n,): the batch's loss is their mean, or with sample weights w,
# sum_i w_i l_i / sum_i w_i.
ROW_LOSSES = {
    "mse": lambda Y, A: np.mean((Y - A) ** 2, axis=1),
    "binary_cross_entropy": lambda Y, A: -np.mean(Y * _log(A) + (1 - Y) * _log(1 - A), axis=1),
    "cross_entropy": lambda Y, A: -np.sum(Y * _log(A), axis=1),
}


def loss_value(loss, Y, A, weights=None):
    """The batch's loss: LOSSES[loss](Y, A), or with sample weights w (n,), the weighted mean of the rows'
    losses sum_i w_i l_i / sum_i w_i (0 for a batch whose weights are all 0)."""
    if weights is None:
        return LOSSES[loss](Y, A)
    total = weights.sum()
    return float(weights @ ROW_LOSSES[loss](Y, A) / total) if total > 0 else 0.0

# The output activation each loss is defined with. Cross-entropies are fused with their activation:
# the output delta dL/dZ is simply (A - Y) / n, never a division by A.
LOSS_OUTPUT = {
    "mse": None,
    "binary_cross_entropy": "sigmoid",
    "cross_entropy": "softmax",
}


def output_delta(loss, activation, A, Y, weights=None):
    """dL/dZ of the output layer for a batch of n rows and k outputs.

    mse: 2 (A - Y) / (n k) times f'; binary_cross_entropy (sigmoid): (A - Y) / (n k);
    cross_entropy (softmax): (A - Y) / n. With sample weights w (n,), row i's delta is multiplied by
    w_i and n becomes sum(w) (a batch whose weights are all 0 has a zero delta).
    """
    if weights is not None:
        return _weighted_output_delta(loss, activation, A, Y, weights)
    if loss == "cross_entropy":
        return (A - Y) / A.shape[0]
    if loss == "binary_cross_entropy":
        return (A - Y) / A.size
    return BACKPROP[activation](A, 2 * (A - Y) / A.size)


def _weighted_output_delta(loss, activation, A, Y, weights):
    total = weights.sum()
    if total == 0:
        return np.zeros_like(A)
    w, k = weights[:, None], A.shape[1]
    if loss == "cross_entropy":
        return (A - Y) * w / total
    if loss == "binary_cross_entropy":
        return (A - Y) * w / (total * k)
    return BACKPROP[activation](A, 2 * (A - Y) * w / (total * k))


def n_correct(output_activation, A, Y):
    """How many rows of A are predicted right: argmax for softmax, every output > 0.5 for sigmoid.
    Other outputs are regressions and count 0."""
    if output_activation == "softmax":
        return int(np.count_nonzero(A.argmax(axis=1) == Y.argmax(axis=1)))
    if output_activation == "sigmoid":
        return int(np.count_nonzero(((A > 0.5) == (Y > 0.5)).all(axis=1)))
    return 0
