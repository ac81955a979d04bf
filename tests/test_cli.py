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
    assert f"training threads: {nn.get_num_threads()} " in result.stdout


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


@pytest.mark.parametrize("dataset", ["gender", "xor", "spirals", "moons"])
def test_train_the_toy_sets_with_plots(tmp_path, dataset):
    pytest.importorskip("matplotlib")
    result = run("train", "--dataset", dataset, "--plots", str(tmp_path))
    assert result.returncode == 0, result.stderr
    accuracy = float(result.stdout.split("test accuracy ")[1].split()[0])
    assert accuracy >= 0.9
    assert sorted(p.name for p in tmp_path.iterdir()) == ["boundary.png", "curves.png", "weight.png"]


def test_train_mnist_plots_then_predict(tmp_path):
    pytest.importorskip("matplotlib")
    model = tmp_path / "m.npz"
    result = run("train", "--epochs", "2", "--hidden", "16", "--save", str(model), "--plots", str(tmp_path / "f"))
    assert result.returncode == 0, result.stderr
    assert "augmenting" in result.stdout
    assert sorted(p.name for p in (tmp_path / "f").iterdir()) == ["confusion.png", "curves.png", "misclassified.png"]
    result = run("predict", str(model))
    assert result.returncode == 0, result.stderr
    assert "on 2000 test images" in result.stdout
    rows = [line.split() for line in result.stdout.splitlines()[-10:]]
    assert [int(r[0]) for r in rows] == list(range(10))
    assert sum(int(c) for r in rows for c in r[1:]) == 2000
    bad = run("predict", str(tmp_path / "missing.npz"))
    assert bad.returncode != 0 and "missing.npz" in bad.stderr and "Traceback" not in bad.stderr


def test_gradcheck_command_checks_every_pair():
    result = run("gradcheck")
    assert result.returncode == 0, result.stderr
    assert "pass" in result.stdout.splitlines()[-1]
    assert len(result.stdout.splitlines()) == 2 + 6 * (6 + 1 + 1)


def test_bench_command_runs():
    result = run("bench", "--only", "W1", "--repeat", "1", "--json", "")
    assert result.returncode == 0, result.stderr
    assert "W1 gender" in result.stdout and "core time per SGD step" in result.stdout


def test_python_dash_m_nn_works_too():
    result = subprocess.run([sys.executable, "-m", "nn", "info"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "compiled core: loaded" in result.stdout
    assert "scipy" in result.stdout and "BLAS threads" in result.stdout


@pytest.mark.skipif(not __import__("conftest").mnist_available(), reason="../shared/data/mnist is absent")
def test_ten_epochs_on_the_shared_mnist_reach_97_5_percent():
    from conftest import MNIST_DIR

    result = run("train", "--data", str(MNIST_DIR), "--epochs", "10")
    assert result.returncode == 0, result.stderr
    assert "on 10000 images" in result.stdout
    assert float(result.stdout.split("test accuracy ")[1].split()[0]) >= 0.975
