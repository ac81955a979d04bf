"""Learning-rate schedules: the rate of each epoch.

A schedule is a callable ``schedule(epoch) -> rate``, epochs counted from 0, the rate used for the whole
epoch. The stateless ones (Step, MultiStep, Exponential, Cosine) are formulas of the epoch alone and may be asked in
any order. ReduceOnPlateau reacts to the logs: the trainer calls ``schedule.on_epoch_end(epoch, logs)``
after each epoch, and ``schedule(epoch + 1)`` then gives the next epoch's rate.

``state()`` is a schedule's mutable state as plain numbers (a dict of str -> float / int / bool / None,
{} for the stateless ones), what a pickle-free checkpoint stores; ``load_state(state)`` puts it back.

``rate_at(learning_rate, epoch)`` is the one place a trainer turns its ``learning_rate`` (a number, a
Schedule, or any function epoch -> rate) into the rate of an epoch, checked.
"""
import bisect
import math

import numpy as np

from .validation import check_fraction, check_int, check_number


class Schedule:
    """Base class: ``schedule(epoch)`` is ``_rate(epoch)`` for a checked epoch >= 0.

    Subclasses store their constructor's arguments as attributes (``_hyper_parameters`` lists them for
    the repr) and, when they have state that changes, name it in ``state_names``.
    """

    state_names = ()

    def __call__(self, epoch):
        return self._rate(check_int("epoch", epoch, 0))

    def _rate(self, epoch):
        raise NotImplementedError

    def state(self):
        """The mutable state, by name ({} for a stateless schedule)."""
        return {name: getattr(self, name) for name in self.state_names}

    def load_state(self, state):
        """Restore what ``state()`` returned; every name must be there, and no other."""
        if not isinstance(state, dict):
            raise TypeError(f"the state of {type(self).__name__} must be a dict, got {state!r}")
        for key in state:
            if key not in self.state_names:
                expected = ", ".join(self.state_names) or "none"
                raise ValueError(f"unexpected key {key!r} in the state of {type(self).__name__} "
                                 f"(expected: {expected})")
        for name in self.state_names:
            if name not in state:
                raise ValueError(f"the state of {type(self).__name__} is missing the key {name!r}")
        self._load_state(state)

    def _load_state(self, state):
        """Check and set the values (the keys are checked already)."""

    def _hyper_parameters(self):
        """The constructor's arguments by name, as the repr shows them."""
        return {}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self._hyper_parameters().items())
        return f"{type(self).__name__}({args})"


class Step(Schedule):
    """rate * gamma ** (epoch // step_size): the rate times gamma every step_size epochs (PyTorch's StepLR)."""

    def __init__(self, rate, step_size, gamma=0.1):
        self.rate = check_number("rate", rate, 0, low_open=True)
        self.step_size = check_int("step_size", step_size, 1)
        self.gamma = check_number("gamma", gamma, 0, low_open=True)

    def _rate(self, epoch):
        return self.rate * self.gamma ** (epoch // self.step_size)

    def _hyper_parameters(self):
        return {"rate": self.rate, "step_size": self.step_size, "gamma": self.gamma}


class MultiStep(Schedule):
    """rate * gamma ** n, n the number of milestones <= epoch: the rate times gamma at each milestone
    (PyTorch's MultiStepLR). ``milestones``: increasing epochs >= 1.

    When 1 / gamma is a whole number k (gamma 0.1: k = 10), the rate is computed as rate / k ** n: a
    rate divided by 10 is then the float the division gives (0.1 / 10 is 0.01; 0.1 * 0.1 is
    0.010000000000000002), as a run that divided its rate by 10 by hand had it.
    """

    def __init__(self, rate, milestones, gamma=0.1):
        self.rate = check_number("rate", rate, 0, low_open=True)
        if isinstance(milestones, (str, bytes)) or not hasattr(milestones, "__iter__"):
            raise TypeError(f"milestones must be a list of epochs, got {milestones!r}")
        self.milestones = [check_int(f"milestones[{i}]", m, 1) for i, m in enumerate(milestones)]
        if any(b <= a for a, b in zip(self.milestones, self.milestones[1:])):
            raise ValueError(f"milestones must be increasing, got {self.milestones}")
        self.gamma = check_number("gamma", gamma, 0, low_open=True)

    def _rate(self, epoch):
        n = bisect.bisect_right(self.milestones, epoch)
        divisor = 1 / self.gamma
        if divisor == round(divisor):
            return self.rate / divisor ** n
        return self.rate * self.gamma ** n

    def _hyper_parameters(self):
        return {"rate": self.rate, "milestones": list(self.milestones), "gamma": self.gamma}


class Exponential(Schedule):
    """rate * gamma ** epoch (PyTorch's ExponentialLR)."""

    def __init__(self, rate, gamma):
        self.rate = check_number("rate", rate, 0, low_open=True)
        self.gamma = check_number("gamma", gamma, 0, low_open=True)

    def _rate(self, epoch):
        return self.rate * self.gamma ** epoch

    def _hyper_parameters(self):
        return {"rate": self.rate, "gamma": self.gamma}


class Cosine(Schedule):
    """Linear warm-up over ``warmup`` epochs (w), then half a cosine from rate down to min_rate:

        epoch < w:   rate * (epoch + 1) / w
        then, with t = epoch - w and T = epochs - w:
        t <= T:      min_rate + (rate - min_rate) * (1 + cos(pi * t / T)) / 2
        t > T:       min_rate

    With warmup=0 this is PyTorch's CosineAnnealingLR(T_max=epochs, eta_min=min_rate) for epochs
    0..epochs (PyTorch's rate climbs back up after T_max; this one stays at min_rate).
    """

    def __init__(self, rate, epochs, min_rate=0.0, warmup=0):
        self.rate = check_number("rate", rate, 0, low_open=True)
        self.epochs = check_int("epochs", epochs, 1)
        self.min_rate = check_number("min_rate", min_rate, 0, self.rate)
        self.warmup = check_int("warmup", warmup, 0)
        if self.warmup >= self.epochs:
            raise ValueError(f"warmup must be < epochs ({self.epochs}), got {warmup!r}")

    def _rate(self, epoch):
        if epoch < self.warmup:
            return self.rate * (epoch + 1) / self.warmup
        t, T = epoch - self.warmup, self.epochs - self.warmup
        if t > T:
            return self.min_rate
        return self.min_rate + (self.rate - self.min_rate) * (1 + math.cos(math.pi * t / T)) / 2

    def _hyper_parameters(self):
        return {"rate": self.rate, "epochs": self.epochs, "min_rate": self.min_rate, "warmup": self.warmup}


class ReduceOnPlateau(Schedule):
    """The rate times ``factor`` when the monitored value has stopped improving.

    Starts at ``rate``. After each epoch, ``on_epoch_end`` reads ``logs[monitor]``: an improvement is
    value < best - min_delta (for a monitor whose name ends in "accuracy": value > best + min_delta), and
    sets best = value and wait = 0; anything else, NaN included, adds 1 to wait. When wait exceeds
    ``patience`` (patience + 1 epochs in a row without improvement), the rate becomes
    max(rate * factor, min_rate) and wait restarts from 0.

    This is PyTorch's ReduceLROnPlateau(mode="min" ("max" for accuracies), factor=factor,
    patience=patience, threshold=min_delta, threshold_mode="abs", min_lr=min_rate, cooldown=0) stepped
    once per epoch, including its eps: a reduction by no more than ``smallest_reduction`` (1e-8) is not
    made (the wait restarts all the same).

    State: ``current_rate``, ``best`` (the best value so far, None until the first improvement) and
    ``wait``.
    """

    state_names = ("current_rate", "best", "wait")
    smallest_reduction = 1e-8  # PyTorch's eps

    def __init__(self, rate, factor=0.1, patience=10, monitor="val_loss", min_delta=0.0, min_rate=0.0):
        self.rate = check_number("rate", rate, 0, low_open=True)
        self.factor = check_fraction("factor", factor)
        self.patience = check_int("patience", patience, 0)
        if not isinstance(monitor, str) or not monitor:
            raise ValueError(f"monitor must be the name of a logged value, such as 'val_loss', got {monitor!r}")
        self.monitor = monitor
        self.min_delta = check_number("min_delta", min_delta, 0)
        self.min_rate = check_number("min_rate", min_rate, 0, self.rate)
        self.current_rate = self.rate
        self.best = None
        self.wait = 0

    @property
    def higher_is_better(self):
        """True for accuracies, False for losses."""
        return self.monitor.endswith("accuracy")

    def _rate(self, epoch):
        return self.current_rate

    def _improves(self, value):
        if self.higher_is_better:
            best = -math.inf if self.best is None else self.best
            return value > best + self.min_delta
        best = math.inf if self.best is None else self.best
        return value < best - self.min_delta

    def on_epoch_end(self, epoch, logs):
        """Take the monitored value of the epoch just completed (``epoch``, 0-based) from ``logs``."""
        if self.monitor not in logs:
            have = ", ".join(map(str, logs)) or "none"
            raise ValueError(f"ReduceOnPlateau monitors {self.monitor!r}, which the logs do not have ({have})")
        try:
            value = float(logs[self.monitor])
        except (TypeError, ValueError):
            raise ValueError(f"ReduceOnPlateau monitors {self.monitor!r}, which must be a number in the logs, "
                             f"got {logs[self.monitor]!r}") from None
        if self._improves(value):  # never for NaN: every comparison with NaN is False
            self.best = value
            self.wait = 0
        else:
            self.wait += 1
        if self.wait > self.patience:
            reduced = max(self.current_rate * self.factor, self.min_rate)
            if self.current_rate - reduced > self.smallest_reduction:
                self.current_rate = reduced
            self.wait = 0

    def _load_state(self, state):
        current_rate = check_number("current_rate", state["current_rate"], self.min_rate, self.rate)
        best = state["best"]
        if best is not None:
            if not _is_real(best) or math.isnan(best):
                raise ValueError(f"best must be None or a number, got {best!r}")
            best = float(best)
        self.current_rate, self.best, self.wait = current_rate, best, check_int("wait", state["wait"], 0)

    def _hyper_parameters(self):
        return {"rate": self.rate, "factor": self.factor, "patience": self.patience, "monitor": self.monitor,
                "min_delta": self.min_delta, "min_rate": self.min_rate}


def rate_at(learning_rate, epoch):
    """The rate of ``epoch``: ``learning_rate`` itself when it is a number, else ``learning_rate(epoch)``
    (a Schedule, or any function epoch -> rate), as a float. A rate must be a finite number >= 0."""
    epoch = check_int("epoch", epoch, 0)
    if callable(learning_rate):
        rate = learning_rate(epoch)
        if not _is_rate(rate):
            raise ValueError(f"the learning_rate schedule gave {rate!r} for epoch {epoch}; "
                             f"a rate must be a finite number >= 0")
        return float(rate)
    if not _is_rate(learning_rate):
        raise ValueError(f"learning_rate must be a finite number >= 0 or a schedule (a function epoch -> rate), "
                         f"got {learning_rate!r}")
    return float(learning_rate)


def _is_real(value):
    """A real number: a Python or NumPy int or float, not a bool."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _is_rate(value):
    """A finite real number >= 0."""
    return _is_real(value) and math.isfinite(value) and value >= 0
