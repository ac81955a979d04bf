"""The `nn` command: run as a user would (a real process, the installed console script) where signals,
pipes or the whole program matter, and in this process (nn.cli.main) where only its answers do."""
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

import nn
from nn.cli import main
from nn.trainer import History, Trainer


def run(*args):
    exe = shutil.which("nn")
    cmd = [exe, *args] if exe else [sys.executable, "-m", "nn", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def nn_main(capsys, *args):
    """nn.cli.main(args) in this process: (exit status, stdout, stderr)."""
    try:
        status = main(list(args))
    except SystemExit as exc:  # argparse's own exits (--help, --version, usage errors)
        status = exc.code
    out, err = capsys.readouterr()
    return status, out, err


def interrupted_run(tmp_path, args, after, delay):
    """`python -m nn *args` sent a real Ctrl-C (SIGINT) ``delay`` seconds after it printed a line starting
    with ``after``: (exit status, stdout, stderr)."""
    with open(tmp_path / "stderr.txt", "w+") as stderr:  # a file: a full stderr pipe would block nn
        proc = subprocess.Popen([sys.executable, "-u", "-m", "nn", *args], stdout=subprocess.PIPE,
                                stderr=stderr, text=True)
        out = ""
        while not out.splitlines()[-1:] or not out.splitlines()[-1].startswith(after):
            out += proc.stdout.readline()
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        out += proc.stdout.read()
        proc.wait(timeout=120)
        stderr.seek(0)
        return proc.returncode, out, stderr.read()


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


# ----- Ctrl-C ------------------------------------------------------------------------------------------
def fit_interrupted_after(n_epochs):
    """A Trainer.fit that runs ``n_epochs`` epochs and then reports a Ctrl-C, as fit does."""
    real_fit = Trainer.fit

    def fit(self, X, y, epochs=1, **kwargs):
        history = real_fit(self, X, y, epochs=n_epochs, **kwargs) if n_epochs else History()
        history.interrupted = True
        return history
    return fit


def test_ctrl_c_after_some_epochs_reports_them_saves_and_exits_130(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(Trainer, "fit", fit_interrupted_after(2))
    model = tmp_path / "model.npz"
    status, out, err = nn_main(capsys, "train", "--dataset", "gender", "--save", str(model))
    assert status == 130, err
    assert "interrupted after 2 of 1000 epochs" in out and "test accuracy" in out
    assert f"saved to {model}" in out
    assert nn.Network.load(model).sizes == [2, 2, 1]


def test_ctrl_c_in_the_first_epoch_says_so_writes_nothing_and_exits_130(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(Trainer, "fit", fit_interrupted_after(0))
    model, figures = tmp_path / "model.npz", tmp_path / "figures"
    status, out, err = nn_main(capsys, "train", "--dataset", "gender", "--save", str(model), "--plots", str(figures))
    assert status == 130, err
    assert "no epoch completed" in out and "test accuracy" not in out
    assert f"not saved to {model}: no epoch completed" in out
    assert f"no figures written to {figures}: no epoch completed" in out
    assert not model.exists() and not figures.exists()
    assert "Traceback" not in err


@pytest.mark.parametrize("where", ["Trainer.fit", "load_mnist"])
def test_a_ctrl_c_anywhere_else_is_one_line_and_exit_130(capsys, tmp_path, monkeypatch, where):
    def ctrl_c(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(*((Trainer, "fit") if where == "Trainer.fit" else ("nn.cli.load_mnist",)), ctrl_c)
    model = tmp_path / "model.npz"
    status, out, err = nn_main(capsys, "train", "--hidden", "4", "--save", str(model))
    assert status == 130
    assert err == "nn train: interrupted\n"
    assert not model.exists()


@pytest.mark.parametrize("args, after, delay", [
    (("--hidden", "16", "--augment", "0", "--epochs", "1000"), "total", 1.0),  # some epochs done
    (("--hidden", "2048", "--epochs", "100"), "augmenting", 0.3),            # likely in the first epoch
    (("--epochs", "1000"), "training on", 0.0),         # while the network is built, or images shifted
    (("--dataset", "gender", "--epochs", "10000000"), "total", 0.05),   # in the first block of epochs
])
def test_a_real_ctrl_c_exits_130_without_a_traceback(tmp_path, args, after, delay):
    model = tmp_path / "model.npz"
    status, out, err = interrupted_run(tmp_path, ("train", *args, "--save", str(model)), after, delay)
    assert status == 130, (out, err)
    assert "Traceback" not in err
    # Whichever moment the signal met: what was done is said, and the model is saved exactly when an epoch was.
    if "interrupted after" in out:
        assert f"saved to {model}" in out and model.exists()
    else:
        assert "no epoch completed" in out or err.endswith("nn train: interrupted\n")
        assert not model.exists()


# ----- output paths: checked before anything is loaded or trained ----------------------------------------
def command(name, tmp_path):
    """The start of an `nn train` or `nn predict` command line that would run if its options were good."""
    if name == "train":
        return ["train", "--dataset", "gender", "--epochs", "2"]
    model = tmp_path / "mnist.npz"
    nn.Network([784, 2, 10], seed=0).save(model)
    return ["predict", str(model)]


def inaccessible(monkeypatch, folder):
    """os.access says ``folder`` can be neither read nor written (chmod cannot show it: the tests may run
    as root)."""
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode, **kw: (os.path.abspath(path) != os.path.abspath(folder)
                                                                and real_access(path, mode, **kw)))


BAD_PLOTS = [  # (the path given, made in the current folder as named; the error)
    ("nope/figures", "--plots: cannot create folder 'nope/figures': folder 'nope' does not exist"),
    ("file", "--plots: 'file' is a file, not a folder"),
    ("unwritable", "--plots: folder 'unwritable' is not writable"),
    ("unwritable/figures", "--plots: cannot create folder 'unwritable/figures': folder 'unwritable' is not writable"),
]
BAD_SAVES = [
    ("nope/model.npz", "--save: folder 'nope' does not exist"),
    ("folder", "--save: 'folder' is a folder; give a file name, e.g. 'folder/model.npz'"),
    ("file/model.npz", "--save: 'file' is a file, not a folder"),
    ("unwritable/model.npz", "--save: folder 'unwritable' is not writable"),
]


@pytest.mark.parametrize("name, option, path, message", [("train", "--plots", *case) for case in BAD_PLOTS]
                         + [("predict", "--plots", *case) for case in BAD_PLOTS]
                         + [("train", "--save", *case) for case in BAD_SAVES])
def test_a_bad_output_path_stops_before_anything_is_loaded(capsys, tmp_path, monkeypatch, name, option, path, message):
    args = command(name, tmp_path)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "file").write_text("not a folder")
    (tmp_path / "folder").mkdir()
    (tmp_path / "unwritable").mkdir()
    inaccessible(monkeypatch, tmp_path / "unwritable")
    status, out, err = nn_main(capsys, *args, option, path)
    assert (status, out, err) == (2, "", f"nn {name}: error: {message}\n")


@pytest.mark.parametrize("name", ["train", "predict"])
@pytest.mark.parametrize("path, message", [
    ("nope", "--data: folder 'nope' does not exist"),
    ("file", "--data: 'file' is a file; give the folder that holds the MNIST IDX files"),
    ("unreadable", "--data: folder 'unreadable' is not readable"),
    ("empty", "empty has no {stem}.gz or {stem} (MNIST IDX files)"),
])
def test_a_bad_data_folder_is_one_line(capsys, tmp_path, monkeypatch, name, path, message):
    args = ["train", "--epochs", "1"] if name == "train" else command(name, tmp_path)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "file").write_text("not a folder")
    (tmp_path / "unreadable").mkdir()
    (tmp_path / "empty").mkdir()
    inaccessible(monkeypatch, tmp_path / "unreadable")
    status, out, err = nn_main(capsys, *args, "--data", path)
    stem = "train-images-idx3-ubyte" if name == "train" else "t10k-images-idx3-ubyte"
    assert (status, out, err) == (2, "", f"nn {name}: error: {message.format(stem=stem)}\n")


@pytest.mark.parametrize("name", ["train", "predict"])
def test_plots_without_matplotlib_say_how_to_install_it(capsys, tmp_path, monkeypatch, name):
    args = command(name, tmp_path)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    status, out, err = nn_main(capsys, *args, "--plots", str(tmp_path / "figures"))
    assert (status, out) == (2, "")
    assert err == f'nn {name}: error: --plots: the figures need matplotlib, which is not installed: pip install "nn[plot]"\n'


def test_good_output_paths_are_written(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    model, figures = tmp_path / "model.npz", tmp_path / "figures"
    status, out, err = nn_main(capsys, "train", "--dataset", "xor", "--epochs", "3", "--save", str(model),
                               "--plots", str(figures))
    assert status == 0, err
    assert model.exists() and sorted(p.name for p in figures.iterdir()) == ["boundary.png", "curves.png", "weight.png"]
