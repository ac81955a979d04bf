"""The `nn` command: run as a user would (a real process, the installed console script) where signals,
pipes or the whole program matter, and in this process (nn.cli.main) where only its answers do."""
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import nn
import nn.cli
from nn.cli import main
from nn.schedules import rate_at
from nn.trainer import History, Trainer


def run(*args):
    exe = shutil.which("nn")
    cmd = [exe, *args] if exe else [sys.executable, "-m", "nn", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def nn_main(capsys, *args):
    """nn.cli.main(args) in this process: (exit status, stdout, stderr)."""
    try:
        status = main([str(arg) for arg in args])
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
    from nn import _core
    from nn.cli.diagnostics import SIMD_NAMES
    assert f"instruction set: {SIMD_NAMES[_core.simd_level()]} " in result.stdout
    from nn.cli.diagnostics import processor
    assert f"processor: {processor()}, " in result.stdout and processor()


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
    monkeypatch.setattr(*((Trainer, "fit") if where == "Trainer.fit" else ("nn.cli.data.load_mnist",)), ctrl_c)
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
    (["train", "--schedule", "linear"], "nn train: error: --schedule: must be constant, step:STEP_SIZE[:GAMMA], "
                                        "exponential:GAMMA, cosine[:MIN_RATE[:WARMUP]] or plateau[:FACTOR[:PATIENCE]], "
                                        "got 'linear'"),
    (["train", "--schedule", "step"], "nn train: error: --schedule: must be constant, step:STEP_SIZE[:GAMMA], "),
    (["train", "--schedule", "step:2:0.5:1"], "nn train: error: --schedule: must be constant, step:"),
    (["train", "--schedule", "constant:1"], "nn train: error: --schedule: must be constant, step:"),
    (["train", "--schedule", "step:0"], "nn train: error: --schedule: 'step:0': STEP_SIZE must be >= 1, got 0 "
                                        "(the forms: constant, step:STEP_SIZE[:GAMMA], exponential:GAMMA, "),
    (["train", "--schedule", "exponential:-1"], "nn train: error: --schedule: 'exponential:-1': GAMMA must be a "
                                                "finite number > 0, got -1 (the forms: constant, "),
    (["train", "--schedule", "plateau:1"], "nn train: error: --schedule: 'plateau:1': FACTOR must be a fraction in "
                                           "(0, 1), got 1 (the forms: "),
    (["train", "--schedule", "cosine:x"], "nn train: error: --schedule: 'cosine:x': MIN_RATE must be a number, got "
                                          "'x' (the forms: "),
    (["train", "--dataset", "moons", "--schedule", "cosine:0.5"],
     "nn train: error: --schedule cosine:0.5: min_rate must be <= 0.1, got 0.5"),
    (["train", "--dataset", "moons", "--epochs", "5", "--schedule", "cosine:0:5"],
     "nn train: error: --schedule cosine:0:5: warmup must be < epochs (5), got 5"),
    (["train", "--clip-norm", "0"], "nn train: error: --clip-norm: must be a finite number > 0, got 0"),
    (["train", "--clip-norm", "inf"], "nn train: error: --clip-norm: must be a finite number > 0, got inf"),
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
    monkeypatch.setattr("nn.cli.data.load_mnist", fail)
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


# ----- your own data: nn train --data FILE, nn predict --data FILE ----------------------------------------
FEATURES = ["length", "width", "height"]


def blobs(n=40, seed=0):
    """Three well separated blobs of ``n`` points in 3-D, labelled "a", "b", "c": (X, labels)."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0, 0, 0], [4, 4, 0], [0, 4, 4]], dtype=float)
    X = np.vstack([rng.normal(centre, 0.6, size=(n, 3)) for centre in centres])
    return X, np.repeat(["a", "b", "c"], n)


def write_csv(path, X, target, header=None, target_first=False):
    """Rows of X with the target last (or first), under an optional header row."""
    with open(path, "w") as f:
        if header:
            f.write(",".join(header) + "\n")
        for row, value in zip(X, target):
            cells = [f"{v:.6g}" for v in row]
            f.write(",".join([str(value), *cells] if target_first else [*cells, str(value)]) + "\n")
    return str(path)


def iris_like(tmp_path, name="blobs.csv"):
    X, labels = blobs()
    return write_csv(tmp_path / name, X, labels, header=[*FEATURES, "kind"])


def regression(n=200, seed=1):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, size=(n, 3))
    return X, 3 * X[:, 0] - X[:, 1] ** 2 + X[:, 2] + 10 + rng.normal(0, 0.05, n)


def score_in(out, measure):
    """The number after ``measure`` ('test accuracy', 'R^2', ...) in nn's output."""
    return float(out.split(measure + " ")[1].split()[0].rstrip(";"))


def test_a_csv_with_a_header_and_labels_trains_saves_and_predicts(capsys, tmp_path):
    data, model, output = iris_like(tmp_path), tmp_path / "model.npz", tmp_path / "predictions.csv"
    status, out, err = nn_main(capsys, "train", "--data", data, "--save", str(model))
    assert status == 0, err
    assert ("data: blobs.csv (a header row): 120 rows, 3 features (length, width, height), the target column "
            "'kind' (the last; --target to choose)") in out
    assert "task: classify (3 classes: a, b, c), guessed from the target; --task to choose" in out
    assert "training on 96 samples (blobs.csv), testing on 24 (held out: --test-split 0.2, seed 0)" in out
    assert score_in(out, "test accuracy") >= 0.95
    net = nn.Network.load(model)
    assert net.classes.tolist() == ["a", "b", "c"] and net.sizes == [3, 32, 3]
    metadata = dict(net.metadata)
    train_args = metadata.pop("train_args")  # what --resume needs (tests/test_cli_resume.py)
    assert train_args["data"] == os.path.abspath(data) and train_args["optimizer"] == "adam"
    assert metadata == {"data": "blobs.csv", "feature_names": FEATURES, "target_name": "kind",
                            "target_column": 3, "task": "classify"}

    status, out, err = nn_main(capsys, "predict", str(model), "--data", data, "--output", str(output))
    assert status == 0, err
    assert out.startswith(f"{model}: accuracy ") and "on 120 samples (blobs.csv)" in out
    assert score_in(out, "accuracy") >= 0.95
    written = output.read_text().splitlines()
    assert written[0] == "kind" and len(written) == 121
    assert set(written[1:]) == {"a", "b", "c"}
    assert np.mean(np.array(written[1:]) == blobs()[1]) == score_in(out, "accuracy")


def test_a_csv_without_a_header_takes_target_by_index(capsys, tmp_path):
    X, labels = blobs()
    data = write_csv(tmp_path / "plain.csv", X, np.searchsorted(["a", "b", "c"], labels), target_first=True)
    model = tmp_path / "model.npz"
    status, out, err = nn_main(capsys, "train", "--data", data, "--target", "0", "--save", str(model))
    assert status == 0, err
    assert "(no header row): 120 rows, 3 features (column 1, column 2, column 3), the target column 0 (--target)" in out
    assert "task: classify (3 classes: 0, 1, 2)" in out and score_in(out, "test accuracy") >= 0.95
    net = nn.Network.load(model)
    assert net.classes.tolist() == [0, 1, 2] and net.metadata["target_column"] == 0
    status, out, err = nn_main(capsys, "predict", str(model), "--data", data)  # the target found where it was
    assert status == 0 and score_in(out, "accuracy") >= 0.95


@pytest.mark.parametrize("kind", ["npy", "npz"])
def test_npy_and_npz_files_train_and_predict(capsys, tmp_path, kind):
    X, labels = blobs()
    y = np.searchsorted(["a", "b", "c"], labels)
    data, model = tmp_path / f"blobs.{kind}", tmp_path / "model.npz"
    if kind == "npy":
        np.save(data, np.column_stack([X, y]))
        shape = "a 2-D array"
    else:
        np.savez(data, X=X, y=labels)
        shape = "X and y"
    status, out, err = nn_main(capsys, "train", "--data", str(data), "--save", str(model))
    assert status == 0, err
    assert f"data: blobs.{kind} ({shape}): 120 rows, 3 features" in out
    assert score_in(out, "test accuracy") >= 0.95
    status, out, err = nn_main(capsys, "predict", str(model), "--data", str(data))
    assert status == 0, err
    assert score_in(out, "accuracy") >= 0.95
    if kind == "npz":  # X alone: the predictions, as CSV on stdout
        np.savez(tmp_path / "features.npz", X=X)
        status, out, err = nn_main(capsys, "predict", str(model), "--data", str(tmp_path / "features.npz"))
        assert status == 0 and out.splitlines()[0] == "y" and len(out.splitlines()) == 121
        assert "has no target column" in err


def test_a_regression_csv_is_guessed_and_scored_with_r2(capsys, tmp_path):
    X, y = regression()
    data, model = write_csv(tmp_path / "houses.csv", X, y, header=["a", "b", "c", "price"]), tmp_path / "m.npz"
    status, out, err = nn_main(capsys, "train", "--data", data, "--save", str(model))
    assert status == 0, err
    assert "task: regress ('price' from " in out and "guessed from the target; --task to choose" in out
    assert score_in(out, "test R^2") >= 0.95
    net = nn.Network.load(model)
    assert net.output == "identity" and net.classes is None and net.metadata["task"] == "regress"
    status, out, err = nn_main(capsys, "predict", str(model), "--data", data)
    assert status == 0 and score_in(out, "R^2") >= 0.95
    features = write_csv(tmp_path / "new.csv", X[:5], [""] * 5, header=["a", "b", "c", ""])
    with open(features) as f:  # the same columns without the target
        rows = [line.rsplit(",", 1)[0] for line in f.read().splitlines()]
    (tmp_path / "new.csv").write_text("\n".join(rows) + "\n")
    status, out, err = nn_main(capsys, "predict", str(model), "--data", features)
    assert status == 0 and out.splitlines()[0] == "price"
    np.testing.assert_allclose([float(v) for v in out.splitlines()[1:]], net.predict(X[:5]), rtol=1e-5)


def test_scale_is_saved_and_applied_by_predict(capsys, tmp_path):
    X, labels = blobs()
    X = X * [1, 100, 0.01] + [0, 500, 0]  # features on very different scales
    data = write_csv(tmp_path / "scales.csv", X, labels, header=[*FEATURES, "kind"])
    model, output = tmp_path / "model.npz", tmp_path / "predictions.csv"
    status, out, err = nn_main(capsys, "train", "--data", data, "--scale", "--test-split", "0", "--save", str(model))
    assert status == 0, err
    assert "training on 120 samples (scales.csv), no test set (--test-split 0); features standardized (--scale)" in out
    raw = np.loadtxt(data, delimiter=",", skiprows=1, usecols=(0, 1, 2))
    net = nn.Network.load(model)
    np.testing.assert_allclose(net.metadata["scale_mean"], raw.mean(axis=0))
    np.testing.assert_allclose(net.metadata["scale_std"], raw.std(axis=0))
    status, out, err = nn_main(capsys, "predict", str(model), "--data", data, "--output", str(output))
    assert status == 0, err
    scaled = (raw - raw.mean(axis=0)) / raw.std(axis=0)
    assert output.read_text().splitlines()[1:] == net.predict(scaled).tolist()
    assert score_in(out, "accuracy") >= 0.95


def test_scale_uses_the_training_rows_only(capsys, tmp_path, monkeypatch):
    X, labels = blobs()
    data, model = write_csv(tmp_path / "b.csv", X, labels, header=[*FEATURES, "kind"]), tmp_path / "m.npz"
    status, _, err = nn_main(capsys, "train", "--data", data, "--scale", "--save", str(model), "--epochs", "1")
    assert status == 0, err
    train_rows = nn.datasets.train_test_split(X, labels, test_size=0.2, seed=0)[0]
    np.testing.assert_allclose(nn.Network.load(model).metadata["scale_mean"], train_rows.mean(axis=0), rtol=1e-5)


def test_unscaled_features_of_different_spreads_get_a_hint(capsys, tmp_path):
    X, labels = blobs()
    data = write_csv(tmp_path / "b.csv", X * [1, 1000, 1], labels, header=[*FEATURES, "kind"])
    status, out, err = nn_main(capsys, "train", "--data", data, "--epochs", "1")
    assert status == 0 and "--scale may help" in out


@pytest.mark.parametrize("task, guessed, option, expected", [
    ("classify", "classify", "regress", "task: regress ("),
    ("regress", "regress", "classify", "task: classify (4 classes: 0.5, 1.5, 2.5, 3.5), as --task says"),
])
def test_task_overrides_the_guess(capsys, tmp_path, task, guessed, option, expected):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 2))
    y = (X[:, 0] > 0) + 2 * (X[:, 1] > 0) + (0 if task == "classify" else 0.5)  # 0..3 or 0.5..3.5
    if task == "regress":
        X = np.r_[X, rng.normal(size=(1, 2))]
        y = np.r_[y, 10.25]  # one value that is not a whole number: regress is guessed
        option, expected = "classify", "task: classify (5 classes: 0.5, 1.5, 2.5, 3.5, 10.25), as --task says"
    data = write_csv(tmp_path / "t.csv", X, y, header=["x1", "x2", "y"])
    status, out, err = nn_main(capsys, "train", "--data", data, "--epochs", "2")
    assert status == 0 and f"task: {guessed} (" in out and "guessed from the target" in out
    status, out, err = nn_main(capsys, "train", "--data", data, "--epochs", "2", "--task", option)
    assert status == 0, err
    assert expected in out and ("test R^2" if option == "regress" else "test accuracy") in out


def test_a_test_file_is_matched_by_column_names(capsys, tmp_path):
    X, labels = blobs()
    train = write_csv(tmp_path / "train.csv", X, labels, header=[*FEATURES, "kind"])
    X_test, test_labels = blobs(n=10, seed=1)
    # the same columns in another order, and a label the training data lacks
    test_labels[0] = "z"
    with open(tmp_path / "test.csv", "w") as f:
        f.write("kind,height,length,width\n")
        for row, label in zip(X_test, test_labels):
            f.write(f"{label},{row[2]},{row[0]},{row[1]}\n")
    status, out, err = nn_main(capsys, "train", "--data", train, "--test", str(tmp_path / "test.csv"))
    assert status == 0, err
    assert "training on 120 samples (train.csv), testing on 30 (" in out
    assert "has labels the training data lacks (z): they count as mistakes" in out
    assert 0.9 <= score_in(out, "test accuracy") <= 0.9667  # 29 / 30 at most


def test_a_file_of_two_features_gets_its_decision_boundary_with_names(capsys, tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    from nn import plots

    drawn = {}
    real = plots.decision_boundary
    monkeypatch.setattr(plots, "decision_boundary", lambda *a, **kw: drawn.update(kw) or real(*a, **kw))
    X, labels = blobs()
    data = write_csv(tmp_path / "two.csv", X[:, :2], labels, header=["length", "width", "kind"])
    status, out, err = nn_main(capsys, "train", "--data", data, "--epochs", "20", "--plots", str(tmp_path / "f"))
    assert status == 0, err
    assert sorted(p.name for p in (tmp_path / "f").iterdir()) == ["boundary.png", "curves.png", "weight.png"]
    assert drawn["feature_names"] == ["length", "width"] and drawn["class_names"] == ["a", "b", "c"]
    assert set(drawn["y_test"].tolist()) <= {0, 1, 2}  # class ids, as the figure counts them


def test_early_stopping_without_validation_says_it_watches_the_training_loss(capsys, tmp_path):
    status, out, err = nn_main(capsys, "train", "--data", iris_like(tmp_path), "--early-stopping", "3")
    assert status == 0, err
    assert "early stopping watches the training loss: no --validation-split (patience 3)" in out
    status, out, err = nn_main(capsys, "train", "--data", iris_like(tmp_path), "--early-stopping", "3",
                               "--validation-split", "0.2")
    assert "early stopping watches the validation loss (patience 3)" in out


def test_augmented_mnist_watches_for_early_stopping_only_in_the_fine_tune_phase(capsys, monkeypatch):
    calls = []
    real_fit = Trainer.fit

    def fit(self, X, y, epochs=1, **kwargs):
        calls.append((epochs, kwargs["early_stopping"] is not None, kwargs["augment"] is not None,
                      [rate_at(self.optimizer.learning_rate, self.epoch + i) for i in range(epochs)]))
        return real_fit(self, X[:500], y[:500], epochs=epochs, **kwargs)
    monkeypatch.setattr(Trainer, "fit", fit)
    status, out, err = nn_main(capsys, "train", "--hidden", "8", "--epochs", "5", "--fine-tune", "0.4",
                               "--early-stopping", "1")
    assert status == 0, err
    assert ("early stopping watches the training loss: no --validation-split; only in the 2 fine-tune epochs "
            "(4 on), not while the images are shifted (patience 1)") in out
    # 3 epochs on shifted images, never stopped early; then 2 plain ones at a tenth of the rate (0.1 / 10, the
    # float a division gives: the schedule MultiStep(0.1, [3]) keeps the numbers of the division it replaced)
    assert calls == [(3, False, True, [0.1] * 3), (2, True, False, [0.1 / 10] * 2)]
    assert "5 epochs in" in out or "stopped early after 4 of 5 epochs (keeping epoch 4's weights)" in out


# ----- your own data: mistakes --------------------------------------------------------------------------
def mixed_table(tmp_path):
    (tmp_path / "mixed.csv").write_text("size,colour,kind\n1.5,red,a\n2.5,blue,b\n")
    return str(tmp_path / "mixed.csv")


BAD_DATA = [  # (arguments, the one line on stderr); {tmp} is a fresh folder with blobs.csv and a model of it
    (["train", "--data", "{tmp}/missing.csv"], "nn train: error: --data: file '{tmp}/missing.csv' does not exist"),
    (["train", "--data", "{tmp}/blobs.csv", "--target", "species"],
     "nn train: error: --target: {tmp}/blobs.csv has no column 'species' (its columns: length, width, height, kind)"),
    (["train", "--data", "{tmp}/blobs.csv", "--target", "7"],
     "nn train: error: --target: {tmp}/blobs.csv has 4 columns (0..3), no column 7"),
    (["train", "--data", "{tmp}/mixed.csv"],
     "nn train: error: {tmp}/mixed.csv: feature column 'colour' is not numeric: line 2 holds 'red'"),
    (["train", "--data", "{tmp}/blobs.csv", "--task", "regress"],
     "nn train: error: --task regress needs a numeric target, but {tmp}/blobs.csv's target 'kind' holds labels "
     "such as 'a'"),
    (["train", "--data", "{tmp}/blobs.csv", "--test", "{tmp}/nope.csv"],
     "nn train: error: --test: file '{tmp}/nope.csv' does not exist"),
    (["train", "--data", "{tmp}/blobs.csv", "--dataset", "moons"],
     "nn train: error: --data: '{tmp}/blobs.csv' is a file; --dataset moons needs no --data (its data is built in)"),
    (["train", "--dataset", "moons", "--scale"],
     "nn train: error: --scale is for --data FILE (a .csv, .npy or .npz table), not --dataset moons"),
    (["train", "--dataset", "moons", "--test-split", "0"],
     "nn train: error: --test-split is for --data FILE (a .csv, .npy or .npz table), not --dataset moons"),
    (["train", "--data", "{tmp}/model.txt"], "nn train: error: {tmp}/model.txt: the file is empty"),
    (["predict", "{tmp}/model.npz", "--data", "{tmp}/wide.csv"],
     "nn predict: error: {tmp}/wide.csv has 6 columns, but the model expects 3 features, or 4 with the target 'kind'"),
    (["predict", "{tmp}/model.npz", "--data", "{tmp}/wide.csv", "--target", "5"],
     "nn predict: error: {tmp}/wide.csv has 5 feature columns besides the target, but the model expects 3 features"),
    (["predict", "{tmp}/model.npz", "--data", "{tmp}/blobs.csv", "--target", "length"],
     "nn predict: error: {tmp}/blobs.csv: feature column 'kind' is not numeric: line 2 holds 'a'"),
    (["predict", "{tmp}/model.npz"],
     "nn predict: error: --data: give the file to predict on: {tmp}/model.npz was trained on blobs.csv, a table "
     "of 3 features, not on MNIST images"),
    (["predict", "{tmp}/model.npz", "--data", "{tmp}/missing.csv"],
     "nn predict: error: --data: file '{tmp}/missing.csv' does not exist"),
    (["predict", "{tmp}/model.npz", "--data", "{tmp}/blobs.csv", "--output", "{tmp}"],
     "nn predict: error: --output: '{tmp}' is a folder; give a file name, e.g. '{tmp}/predictions.csv'"),
]


@pytest.fixture(scope="module")
def blobs_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("blobs")
    X, labels = blobs()
    data = write_csv(folder / "blobs.csv", X, labels, header=[*FEATURES, "kind"])
    assert main(["train", "--data", data, "--epochs", "5", "--save", str(folder / "model.npz")]) == 0
    write_csv(folder / "wide.csv", np.c_[X, X[:, :2]], labels)
    (folder / "model.txt").write_text("\n")
    mixed_table(folder)
    return folder


@pytest.mark.parametrize("args, message", BAD_DATA, ids=[" ".join(args) for args, _ in BAD_DATA])
def test_a_mistake_with_your_own_data_is_one_line_and_exit_2(capsys, blobs_model, args, message):
    capsys.readouterr()
    status, out, err = nn_main(capsys, *(a.format(tmp=blobs_model) for a in args))
    assert (status, err) == (2, message.format(tmp=blobs_model) + "\n")
    assert "Traceback" not in err and "accuracy" not in out


# ----- schedules, clipping, validation figures ----------------------------------------------------------
def fits_recorded(monkeypatch):
    """Trainer.fit, recording each fit's (trainer, the rates of its epochs)."""
    calls = []
    real_fit = Trainer.fit

    def fit(self, X, y, epochs=1, **kwargs):
        calls.append((self, [rate_at(self.optimizer.learning_rate, self.epoch + i) for i in range(epochs)]))
        return real_fit(self, X, y, epochs=epochs, **kwargs)
    monkeypatch.setattr(Trainer, "fit", fit)
    return calls


@pytest.mark.parametrize("spec, options, shown, rates", [
    (None, (), None, [0.1] * 4),
    ("constant", (), None, [0.1] * 4),
    ("step:2", (), "Step(rate=0.1, step_size=2, gamma=0.1)", [0.1, 0.1, 0.1 * 0.1, 0.1 * 0.1]),
    ("step:3:0.5", ("--learning-rate", "0.2"), "Step(rate=0.2, step_size=3, gamma=0.5)", [0.2, 0.2, 0.2, 0.1]),
    ("exponential:0.5", (), "Exponential(rate=0.1, gamma=0.5)", [0.1, 0.05, 0.025, 0.0125]),
    ("cosine", (), "Cosine(rate=0.1, epochs=4, min_rate=0.0, warmup=0)", [0.1, 0.0853553391, 0.05, 0.0146446609]),
    ("cosine:0.01:2", (), "Cosine(rate=0.1, epochs=4, min_rate=0.01, warmup=2)", [0.05, 0.1, 0.1, 0.055]),
    ("plateau", (), "ReduceOnPlateau(rate=0.1, factor=0.1, patience=10, monitor='loss', min_delta=0.0, "
                    "min_rate=0.0)", [0.1] * 4),
    ("plateau:0.5:3", ("--validation-split", "0.2"), "ReduceOnPlateau(rate=0.1, factor=0.5, patience=3, "
                                                     "monitor='val_loss', min_delta=0.0, min_rate=0.0)", [0.1] * 4),
    ("step:1", ("--optimizer", "adam"), "Step(rate=0.001, step_size=1, gamma=0.1)", [1e-3, 1e-4, 1e-5, 1e-6]),
])
def test_schedule_wraps_the_learning_rate_chosen(capsys, monkeypatch, spec, options, shown, rates):
    calls = fits_recorded(monkeypatch)
    schedule = () if spec is None else ("--schedule", spec)
    status, out, err = nn_main(capsys, "train", "--dataset", "moons", "--epochs", "4", *schedule, *options)
    assert status == 0, err
    assert len(calls) == 1 and calls[0][1] == pytest.approx(rates, rel=1e-6)
    if shown is None:
        assert "learning rate:" not in out
    else:
        assert f"learning rate: {shown}\n" in out


def test_plateau_lowers_the_rate_of_nn_train(capsys, monkeypatch, tmp_path):
    calls = fits_recorded(monkeypatch)
    status, out, err = nn_main(capsys, "train", "--dataset", "moons", "--epochs", "30", "--schedule", "plateau:0.5:0",
                               "--validation-split", "0.3", "--learning-rate", "2", "--save", tmp_path / "model.npz")
    assert status == 0, err
    trainer = calls[0][0]
    assert trainer.optimizer.learning_rate.current_rate < 2  # the validation loss did not always improve


def test_mnist_with_a_schedule_keeps_its_phases_without_the_tenth(capsys, monkeypatch):
    calls = fits_recorded(monkeypatch)
    status, out, err = nn_main(capsys, "train", "--hidden", "8", "--epochs", "5", "--batch-size", "256",
                               "--fine-tune", "0.4", "--schedule", "exponential:0.5")
    assert status == 0, err
    assert ("augmenting: images shifted by up to 1 pixel(s) for 3 epochs, then 2 on the plain images "
            "(--schedule exponential:0.5)") in out
    assert [rates for _, rates in calls] == [[0.1, 0.05, 0.025], [0.0125, 0.00625]]


def test_clip_norm_clips_the_gradients_of_nn_train(capsys, monkeypatch, tmp_path):
    calls = fits_recorded(monkeypatch)
    for name, clip in (("clipped.npz", ("--clip-norm", "0.05")), ("free.npz", ())):
        status, out, err = nn_main(capsys, "train", "--dataset", "moons", "--epochs", "3", *clip,
                                   "--save", tmp_path / name)
        assert status == 0, err
    assert [trainer.clip_norm for trainer, _ in calls] == [0.05, None]
    assert nn.Network.load(tmp_path / "clipped.npz").metadata["train_args"]["clip_norm"] == 0.05
    assert not np.array_equal(nn.Network.load(tmp_path / "clipped.npz").theta,
                              nn.Network.load(tmp_path / "free.npz").theta)


def test_the_help_documents_the_new_options(capsys):
    status, out, err = nn_main(capsys, "train", "--help")
    assert status == 0
    text = " ".join(out.split())
    for piece in ("--schedule SPEC", "step:STEP_SIZE[:GAMMA]", "exponential:GAMMA", "cosine[:MIN_RATE[:WARMUP]]",
                  "plateau[:FACTOR[:PATIENCE]]", "--clip-norm C", "--checkpoint DIR", "--resume FILE"):
        assert piece in text


def test_validation_figures_are_reported(capsys, monkeypatch):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)  # the progress bar shows the last epoch's figures
    status, out, err = nn_main(capsys, "train", "--dataset", "moons", "--epochs", "3", "--validation-split", "0.2")
    assert status == 0, err
    summary = [line for line in out.splitlines() if line.startswith("3 epochs in")]
    assert len(summary) == 1
    validation = summary[0].split("; validation loss ")[1]
    loss, accuracy = validation.split("; test accuracy")[0].split(", accuracy ")
    assert float(loss) > 0 and 0 <= float(accuracy) <= 1
    assert "epoch 3/3" in err and "val_loss" in err and "val_accuracy" in err and "lr 0.1" in err


def test_without_validation_there_are_no_validation_figures(capsys):
    status, out, err = nn_main(capsys, "train", "--dataset", "moons", "--epochs", "2")
    assert status == 0, err
    assert "validation" not in out and "val_loss" not in err


def test_each_epochs_line_shows_the_validation_figures_and_the_rate(capsys):
    from nn.progress import describe
    logs = {"loss": 0.5, "accuracy": 0.9, "learning_rate": 0.001, "val_loss": 0.6, "val_accuracy": 0.8,
            "seconds": 1.5}
    assert describe(logs) == "loss 0.5000, accuracy 0.9000, val_loss 0.6000, val_accuracy 0.8000, lr 0.001"
    assert describe({"loss": 0.25, "learning_rate": 1.25e-05}) == "loss 0.2500, lr 1.25e-05"
    X, y = blobs()
    trainer = Trainer(nn.Network([3, 4, 3], seed=0), optimizer=nn.SGD(0.001), seed=0)
    trainer.fit(X, y, epochs=2, validation_split=0.25, verbose=2)
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(":")[0] for line in lines] == ["epoch 1/2", "epoch 2/2"]
    assert all("val_loss" in line and "val_accuracy" in line and line.endswith(", lr 0.001") for line in lines)
