"""The benchmark (see bench/README.md): reference and compiled backends, PyTorch and scikit-learn when
installed, in one process and one table. The code lives in nn/benchmark.py so that `nn bench` runs it
from any install.

    python bench/run.py [--data DIR] [--repeat 5] [--threads N] [--only W1,W3,limit] [--json FILE]
"""
import sys

from nn.benchmark import run

if __name__ == "__main__":
    sys.exit(run())
