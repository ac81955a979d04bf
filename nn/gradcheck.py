"""Finite-difference gradient check on theta."""
import numpy as np

from . import backends, interrupts
from .functions import LOSSES
from .validation import (all_finite, check_loss_output, check_name, check_number, check_targets, check_X,
                         check_y)


def numerical_gradient(net, X, Y, loss, eps=1e-6):
    """dL/dtheta by central differences: (L(theta + eps e_i) - L(theta - eps e_i)) / (2 eps)."""
    backend = backends.get(net.backend)
    theta = net.parameter_vector()  # perturbed in place, one component at a time, and put back
    grad = np.zeros_like(theta)
    with interrupts.deferred() as ctrl_c:  # Ctrl-C never leaves a weight moved by eps
        for i in range(theta.size):
            ctrl_c.check()
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
    eps = check_number("eps", eps, low=0, low_open=True)
    X, _ = check_X(X, net.n_inputs, net.dtype)
    Y = check_targets(loss, check_y(y, X.shape[0], net.n_outputs, net.dtype))
    if not all_finite(net.parameter_vector()):
        raise ValueError("the network's weights contain NaN or infinite values: there is no gradient to check")
    with np.errstate(over="ignore", invalid="ignore"):
        _, analytic = backends.get(net.backend).gradients(net, X, Y, loss)
        numeric = numerical_gradient(net, X, Y, loss, eps)
    for name, grad in (("backpropagation", analytic), ("finite differences", numeric)):
        if not all_finite(grad):
            raise ValueError(f"the gradient by {name} is not finite (NaN or inf) at these weights and inputs "
                             f"(eps={eps:g}): there is nothing to compare")
    scale = np.linalg.norm(analytic) + np.linalg.norm(numeric)
    return float(np.linalg.norm(analytic - numeric) / scale) if scale > 0 else 0.0
