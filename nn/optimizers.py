"""Optimizers: hyper-parameters, state and the update rule (the reference, in NumPy).

An optimizer sees lists of arrays, ``params`` and ``grads`` of equal shapes, and updates ``params`` in
place. Each one implements a single hook, ``_update(i, p, g)``, for one (parameter, gradient) pair;
``step`` applies the L2 weight decay (g <- g + weight_decay * p, for every parameter, as PyTorch) first.
State arrays are created on the first step, shaped like the parameters, and named in ``state_names``.

``learning_rate`` is a number or a schedule: any callable ``schedule(epoch) -> rate`` (see nn.schedules),
epoch counted from 0. ``rate`` is the rate in force: the trainer sets it at the start of every epoch
(``schedule(epoch)``); the update rules read it.
"""
import math
import weakref

import numpy as np

from .schedules import rate_at
from .validation import check_number


class Optimizer:
    """Base class. ``state`` holds one list of arrays per name in ``state_names``."""

    state_names = ()

    def __init__(self, learning_rate, weight_decay=0.0):
        self.learning_rate = learning_rate
        self.weight_decay = check_number("weight_decay", weight_decay, 0)
        self.reset()

    @property
    def learning_rate(self):
        """A number > 0, or a schedule: a callable epoch -> rate."""
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        if not callable(value):
            value = check_number("learning_rate", value, 0, low_open=True)
        self._learning_rate = value
        self.rate = rate_at(value, 0)  # the rate in force until a trainer sets an epoch's

    def reset(self):
        """Forget the state (velocities, moments, step count)."""
        self.state = {}
        self.steps = 0
        self._network = None

    def bind(self, network):
        """Train ``network`` from now on. The state belongs to the network it was built on: given to
        another network, the optimizer starts fresh (reset) rather than carry one network's moments and
        step count into another's training. A copied or unpickled optimizer adopts the first network it
        is bound to (its copy travels with the network's copy)."""
        owner = self._network() if self._network is not None else None
        if self._network is not None and owner is not network:
            self.reset()
        self._network = weakref.ref(network)

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_network"] = None  # a weak reference neither pickles nor means anything in the copy
        return state

    def __copy__(self):
        """A copy with state arrays of its own (a shallow copy would update the same moments)."""
        copied = type(self).__new__(type(self))
        copied.__dict__.update(self.__getstate__())
        copied.state = {name: [array.copy() for array in arrays] for name, arrays in self.state.items()}
        return copied

    def init_state(self, params):
        """Create zeroed state arrays shaped like ``params`` unless they already fit."""
        fits = all(
            len(self.state.get(name, ())) == len(params)
            and all(s.shape == p.shape and s.dtype == p.dtype for s, p in zip(self.state[name], params))
            for name in self.state_names
        )
        if not fits:
            self.state = {name: [np.zeros_like(p) for p in params] for name in self.state_names}
            self.steps = 0

    def step(self, params, grads):
        """One update of every parameter from its gradient. ``grads`` is used as scratch."""
        self.init_state(params)
        self.steps += 1
        for i, (p, g) in enumerate(zip(params, grads)):
            if self.weight_decay:
                g += self.weight_decay * p
            self._update(i, p, g)

    def _update(self, i, p, g):
        raise NotImplementedError

    def _hyper_parameters(self):
        """The constructor's arguments by name, as repr shows them (subclasses add their own)."""
        return {"learning_rate": self.learning_rate, "weight_decay": self.weight_decay}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self._hyper_parameters().items())
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    """p <- p - learning_rate * g"""

    def __init__(self, learning_rate=0.01, weight_decay=0.0):
        super().__init__(learning_rate, weight_decay)

    def _update(self, i, p, g):
        p -= self.rate * g


class Momentum(Optimizer):
    """v <- momentum * v + g;  p <- p - learning_rate * v  (PyTorch's form).

    Nesterov: p <- p - learning_rate * (g + momentum * v).
    """

    state_names = ("velocity",)

    def __init__(self, learning_rate=0.01, momentum=0.9, nesterov=False, weight_decay=0.0):
        self.momentum = check_number("momentum", momentum, 0, 1, high_open=True)
        self.nesterov = bool(nesterov)
        super().__init__(learning_rate, weight_decay)

    def _update(self, i, p, g):
        v = self.state["velocity"][i]
        v *= self.momentum
        v += g
        if self.nesterov:
            p -= self.rate * (g + self.momentum * v)
        else:
            p -= self.rate * v

    def _hyper_parameters(self):
        return {**super()._hyper_parameters(), "momentum": self.momentum, "nesterov": self.nesterov}


class RMSprop(Optimizer):
    """s <- rho * s + (1 - rho) g^2;  p <- p - learning_rate * g / (sqrt(s) + eps)"""

    state_names = ("square_avg",)

    def __init__(self, learning_rate=0.001, rho=0.9, eps=1e-8, weight_decay=0.0):
        self.rho = check_number("rho", rho, 0, 1, high_open=True)
        self.eps = check_number("eps", eps, 0, low_open=True)
        super().__init__(learning_rate, weight_decay)

    def _update(self, i, p, g):
        s = self.state["square_avg"][i]
        s *= self.rho
        s += (1 - self.rho) * g * g
        p -= self.rate * g / (np.sqrt(s) + self.eps)

    def _hyper_parameters(self):
        return {**super()._hyper_parameters(), "rho": self.rho, "eps": self.eps}


class Adam(Optimizer):
    """m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2;  with t the step count,
    p <- p - learning_rate * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)

    computed as PyTorch computes it, with the bias corrections folded into two numbers (one square
    root and one division an element): step_size = learning_rate / (1 - b1^t),
    scale = 1 / sqrt(1 - b2^t), p <- p - step_size * m / (sqrt(v) * scale + eps).
    """

    state_names = ("m", "v")

    def __init__(self, learning_rate=0.001, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
        self.beta1 = check_number("beta1", beta1, 0, 1, high_open=True)
        self.beta2 = check_number("beta2", beta2, 0, 1, high_open=True)
        self.eps = check_number("eps", eps, 0, low_open=True)
        super().__init__(learning_rate, weight_decay)

    def _update(self, i, p, g):
        m, v = self.state["m"][i], self.state["v"][i]
        m *= self.beta1
        m += (1 - self.beta1) * g
        v *= self.beta2
        v += (1 - self.beta2) * g * g
        step_size = self.rate / (1 - self.beta1 ** self.steps)
        scale = 1 / math.sqrt(1 - self.beta2 ** self.steps)
        p -= step_size * m / (np.sqrt(v) * scale + self.eps)

    def _hyper_parameters(self):
        return {**super()._hyper_parameters(), "beta1": self.beta1, "beta2": self.beta2, "eps": self.eps}


OPTIMIZERS = {"sgd": SGD, "momentum": Momentum, "rmsprop": RMSprop, "adam": Adam}
