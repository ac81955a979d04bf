"""Finite-difference gradient check on theta."""
import numpy as np

from . import backends
from .functions import LOSSES, check_loss_output, check_name
from .validation import check_X, check_y


def numerical_gradient(net, X, Y, loss, eps=1e-6):
    """dL/dtheta by central differences: (L(theta + eps e_i) - L(theta - eps e_i)) / (2 eps)."""
    backend = backends.get(net.backend)
    theta = net._theta
    grad = np.zeros_like(theta)
    for i in range(theta.size):
        saved = theta[i]
        theta[i] = saved + eps
        plus = LOSSES[loss](Y, backend.forward(net, X)[-1])
        theta[i] = saved - eps
        minus = LOSSES[loss](Y, backend.forward(net, X)[-1])
        theta[i] = saved
        grad[i] = (plus - minus) / (2 * eps)
    return grad


def gradcheck(net, X, y, loss="mse", eps=1e-6):
    """The relative error between backpropagation's gradient g and central differences n on theta:
    ||g - n|| / (||g|| + ||n||) (0 when both vanish). Use a float64 network: below 1e-6 is a pass.

    (Per-component ratios are not used: a component of 1e-6 carries the differences' rounding error
    of about 1e-10 as a relative error of 1e-4, though nothing is wrong.)"""
    loss = check_name("loss", loss, LOSSES)
    check_loss_output(loss, net.output)
    X, _ = check_X(X, net.n_inputs, net.dtype)
    Y = check_y(y, X.shape[0], net.n_outputs, net.dtype)
    _, analytic = backends.get(net.backend).gradients(net, X, Y, loss)
    numeric = numerical_gradient(net, X, Y, loss, eps)
    scale = np.linalg.norm(analytic) + np.linalg.norm(numeric)
    return float(np.linalg.norm(analytic - numeric) / scale) if scale > 0 else 0.0
