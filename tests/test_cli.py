"""The `nn` command, run as a user would: a real process, the installed console script."""
import shutil
import subprocess
import sys

import pytest

import nn


def run(*args):
    exe = shutil.which("nn")
    cmd = [exe, *args] if exe else [sys.executable, "-m", "nn", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def test_train_on_the_bundled_sample_and_save(tmp_path):
    model = tmp_path / "model.npz"
    result = run("train", "--epochs", "3", "--hidden", "32", "--save", str(model))
    assert result.returncode == 0, result.stderr
    assert "training on 6000 images (bundled sample)" in result.stdout
    accuracy = float(result.stdout.split("test accuracy ")[1].split()[0])
    assert accuracy > 0.8
    assert "epoch 3/3" in result.stderr  # the progress bars
    assert nn.Network.load(model).sizes == [784, 32, 10]


def test_info_reports_the_compiled_core():
    result = run("info")
    assert result.returncode == 0
    assert "compiled core: loaded" in result.stdout


@pytest.mark.parametrize("args, message", [
    (("train", "--data", "/nonexistent/mnist"), "does not exist"),
    (("train", "--activation", "swish", "--epochs", "1"), "unknown activation 'swish'"),
    (("train", "--batch-size", "0"), "batch_size must be >= 1"),
    (("train", "--learning-rate", "-1"), "learning_rate must be > 0"),
])
def test_errors_are_one_line_and_a_nonzero_exit(args, message):
    result = run(*args)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
