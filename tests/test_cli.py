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
import nn.cli
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
        for line in proc.stdout:  # (an nn that ends first ends the loop too, and fails the test's checks)
            out += line
            if line.startswith(after):
                break
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
    assert result.stderr == ""  # no progress bars: stderr is not a terminal
    assert nn.Network.load(model).sizes == [784, 32, 10]


@pytest.mark.parametrize("terminal", [True, False])
def test_progress_bars_only_on_a_terminal(capsys, monkeypatch, terminal):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: terminal)
    status, out, err = nn_main(capsys, "train", "--dataset", "moons", "--epochs", "3")
    assert status == 0
    assert ("epoch 3/3" in err) == terminal
    assert out.count("test accuracy") == 1 and "\r" not in out


def test_info_reports_the_compiled_core():
    result = run("info")
    assert result.returncode == 0
    assert "compiled core: loaded" in result.stdout
    assert f"training threads: {nn.get_num_threads()} " in result.stdout


@pytest.mark.parametrize("args, message", [
    (("train", "--data", "/nonexistent/mnist"), "nn train: error: --data: folder '/nonexistent/mnist' does not exist"),
    (("train", "--batch-size", "0"), "nn train: error: --batch-size: must be >= 1, got 0"),
    (("predict", "/nonexistent/model.npz"), "nn predict: error: model: file '/nonexistent/model.npz' does not exist"),
])
def test_a_real_process_errs_in_one_line(args, message):
    result = run(*args)
    assert (result.returncode, result.stdout, result.stderr) == (2, "", message + "\n")


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
    ("file", "--data: 'file' is neither a folder of MNIST IDX files nor a .csv, .npy or .npz file"),
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
    assert err == (f"nn {name}: error: --plots: the figures need matplotlib, which is not installed: "
                   'pip install "nn-lessons[plot]"\n')


def test_good_output_paths_are_written(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    model, figures = tmp_path / "model.npz", tmp_path / "figures"
    status, out, err = nn_main(capsys, "train", "--dataset", "xor", "--epochs", "3", "--save", str(model),
                               "--plots", str(figures))
    assert status == 0, err
    assert model.exists() and sorted(p.name for p in figures.iterdir()) == ["boundary.png", "curves.png", "weight.png"]


# ----- the user's mistakes: one line, exit 2 (no traceback); a bug keeps its traceback ----------------------
def gender_model(tmp_path):
    path = tmp_path / "gender.npz"
    nn.Network([2, 2, 1], activation="sigmoid", seed=0).save(path)
    return str(path)


BAD_COMMANDS = [  # (arguments, the start of the one line on stderr); {tmp} is a fresh folder
    (["frobnicate"], "nn: error: command: invalid choice: 'frobnicate'"),
    (["info", "extra"], "nn: error: unrecognized arguments: extra"),
    (["train", "--epochs", "0"], "nn train: error: --epochs: must be >= 1, got 0"),
    (["train", "--epochs", "ten"], "nn train: error: --epochs: must be an integer, got 'ten'"),
    (["train", "--batch-size", "0"], "nn train: error: --batch-size: must be >= 1, got 0"),
    (["train", "--hidden", "16", "0"], "nn train: error: --hidden: must be >= 1, got 0"),
    (["train", "--hidden"], "nn train: error: --hidden: expected at least one argument"),
    (["train", "--learning-rate", "-1"], "nn train: error: --learning-rate: must be a finite number > 0, got -1"),
    (["train", "--learning-rate", "0"], "nn train: error: --learning-rate: must be a finite number > 0, got 0"),
    (["train", "--learning-rate", "nan"], "nn train: error: --learning-rate: must be a finite number > 0, got nan"),
    (["train", "--learning-rate", "inf"], "nn train: error: --learning-rate: must be a finite number > 0, got inf"),
    (["train", "--learning-rate", "fast"], "nn train: error: --learning-rate: must be a number, got 'fast'"),
    (["train", "--early-stopping", "0"], "nn train: error: --early-stopping: must be >= 1, got 0"),
    (["train", "--validation-split", "0"], "nn train: error: --validation-split: must be a fraction in (0, 1), got 0"),
    (["train", "--validation-split", "1"], "nn train: error: --validation-split: must be a fraction in (0, 1), got 1"),
    (["train", "--dataset", "gender", "--validation-split", "0.99"],
     "nn train: error: validation_split=0.99 leaves no data for training or validation (4 samples)"),
    (["train", "--fine-tune", "1"], "nn train: error: --fine-tune: must be a fraction in [0, 1), got 1"),
    (["train", "--augment", "-1"], "nn train: error: --augment: must be >= 0, got -1"),
    (["train", "--seed", "-1"], "nn train: error: --seed: must be >= 0, got -1"),
    (["train", "--activation", "swish"], "nn train: error: --activation: invalid choice: 'swish'"),
    (["train", "--dataset", "iris"], "nn train: error: --dataset: invalid choice: 'iris'"),
    (["train", "--dataset", "xor", "--data", "{tmp}"], "nn train: error: --data is for --dataset mnist"),
    (["predict"], "nn predict: error: the following arguments are required: model"),
    (["predict", "{tmp}/missing.npz"], "nn predict: error: model: file '{tmp}/missing.npz' does not exist"),
    (["predict", "{tmp}"], "nn predict: error: model: '{tmp}' is a folder; give a file written by nn train --save"),
    (["predict", "{tmp}/garbage.npz"], "nn predict: error: {tmp}/garbage.npz is not a readable nn model file"),
    (["predict", "{tmp}/gender.npz"], "nn predict: error: model: {tmp}/gender.npz is a 2-2-1 network; nn predict "
                                      "needs one for MNIST (784 inputs, 10 outputs)"),
    (["predict", "{tmp}/gender.npz", "--kind", "validation"], "nn predict: error: --kind: invalid choice"),
    (["gradcheck", "--seed", "x"], "nn gradcheck: error: --seed: must be an integer, got 'x'"),
]


@pytest.mark.parametrize("args, message", BAD_COMMANDS, ids=[" ".join(args) for args, _ in BAD_COMMANDS])
def test_a_users_mistake_is_one_line_and_exit_2(capsys, tmp_path, args, message):
    gender_model(tmp_path)
    (tmp_path / "garbage.npz").write_text("not a model")
    status, out, err = nn_main(capsys, *(a.format(tmp=tmp_path) for a in args))
    assert status == 2 and "test accuracy" not in out
    assert err.startswith(message.format(tmp=tmp_path)) and err.count("\n") == 1, err


def test_a_failed_save_is_one_line_and_exit_2(capsys, tmp_path, monkeypatch):
    def no_room(self, path):
        raise OSError(28, "No space left on device", str(path))
    monkeypatch.setattr(nn.Network, "save", no_room)
    model = tmp_path / "model.npz"
    status, out, err = nn_main(capsys, "train", "--dataset", "gender", "--epochs", "101", "--save", str(model))
    assert status == 2 and "test accuracy" in out
    assert err == f"nn train: error: --save: cannot write {str(model)!r}: No space left on device\n"


@pytest.mark.parametrize("error", [PermissionError(13, "Permission denied", "/data/x"),
                                   IsADirectoryError(21, "Is a directory", "/data/x")])
def test_an_os_error_is_one_line_naming_the_path(capsys, monkeypatch, error):
    def fail(*args, **kwargs):
        raise error
    monkeypatch.setattr("nn.cli.load_mnist", fail)
    status, out, err = nn_main(capsys, "train")
    assert (status, out, err) == (2, "", f"nn train: error: {error.strerror}: '/data/x'\n")


def test_a_diverging_run_is_one_line_and_exit_1(capsys):
    status, out, err = nn_main(capsys, "train", "--dataset", "moons", "--learning-rate", "1e308", "--backend",
                               "reference", "--epochs", "101")
    assert status == 1 and "test accuracy" not in out
    assert err.startswith("nn train: training diverged: the loss or the weights became nan in epoch 1;")
    assert err.count("\n") == 1


def test_a_bug_keeps_its_traceback(capsys, monkeypatch):
    def bug(args):
        raise RuntimeError("a bug inside nn")
    monkeypatch.setitem(nn.cli.COMMANDS, "info", bug)
    with pytest.raises(RuntimeError, match="a bug inside nn"):
        main(["info"])


def test_no_command_prints_the_help_and_version_prints_the_version(capsys):
    status, out, err = nn_main(capsys)
    assert status == 2 and out == "" and err.startswith("usage: nn") and "train" in err and "predict" in err
    assert nn_main(capsys, "--version") == (0, f"nn {nn.__version__}\n", "")


@pytest.mark.parametrize("args", [("info",), ("train", "--dataset", "gender", "--epochs", "2")])
def test_a_reader_that_goes_away_ends_nn_quietly(tmp_path, args):
    """`nn info | head -1`: the reader of stdout has gone before nn writes to it."""
    with open(tmp_path / "stderr.txt", "w+") as stderr:
        proc = subprocess.Popen([sys.executable, "-m", "nn", *args], stdout=subprocess.PIPE, stderr=stderr)
        proc.stdout.close()  # long before nn has imported numpy
        assert proc.wait(timeout=120) == 141
        stderr.seek(0)
        assert "Traceback" not in stderr.read()
