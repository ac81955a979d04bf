import os
import signal
import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings

import nn

# In CI the property-based tests draw the same examples every run (a failure there reproduces); a
# developer's runs explore new ones.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

MNIST_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"


def pytest_report_header(config):
    return [f"nn from {os.path.dirname(nn.__file__)}; NN_BACKEND={os.environ.get('NN_BACKEND', '(default)')}"]


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture
def team(monkeypatch):
    """A function ``team(n)`` that makes every batch of the compiled backend, however small, go to a team
    of n threads (None: the default thread count); restored after the test."""
    from nn.backends import compiled  # only the tests that use it need the core
    monkeypatch.setattr(compiled, "TEAM_MIN_ROWS", 1)
    monkeypatch.setattr(compiled, "TEAM_MIN_WORK", 0)
    yield nn.set_num_threads
    nn.set_num_threads(None)


def mnist_available():
    return (MNIST_DIR / "train-images-idx3-ubyte.gz").exists()


def random_problem(rng, loss, n_out, n, n_in):
    """Random inputs (n, n_in) and targets that suit ``loss``: class ids for cross_entropy, 0/1 for
    binary_cross_entropy, real values for mse."""
    X = rng.normal(size=(n, n_in))
    if loss == "cross_entropy":
        return X, rng.integers(0, n_out, size=n)
    if loss == "binary_cross_entropy":
        return X, rng.integers(0, 2, size=(n, n_out)).astype(float)
    return X, rng.normal(size=(n, n_out))


def fit_until_ctrl_c(trainer, X, y, after=0.3, **kwargs):
    """trainer.fit(X, y, epochs=10_000, **kwargs) with a real SIGINT sent to this process after `after`
    seconds; returns the History."""
    timer = threading.Timer(after, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        return trainer.fit(X, y, epochs=10_000, **kwargs)
    finally:
        timer.cancel()
