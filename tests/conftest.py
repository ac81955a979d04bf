import os
from pathlib import Path

import numpy as np
import pytest

import nn

MNIST_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"


def pytest_report_header(config):
    return [f"nn from {os.path.dirname(nn.__file__)}; NN_BACKEND={os.environ.get('NN_BACKEND', '(default)')}"]


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def mnist_available():
    return (MNIST_DIR / "train-images-idx3-ubyte.gz").exists()
