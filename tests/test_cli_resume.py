"""`nn train --checkpoint DIR` and `nn train --resume FILE`: a run stopped after any epoch (by its
--epochs, a Ctrl-C, or in the middle of MNIST's shifted or fine-tune epochs) and resumed gives, bit for
bit, the weights of the run that never stopped; the options come from the checkpoint; mistakes are one
line. The runs are in this process (nn.cli.main) but for the real Ctrl-C."""
import json
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import nn
from nn.callbacks import ModelCheckpoint
from nn.cli import main

MOONS = ("--dataset", "moons", "--seed", "3")
MNIST = ("--epochs", "5", "--hidden", "16", "--batch-size", "128", "--fine-tune", "0.4")  # 3 shifted, 2 plain


def nn_main(capsys, *args):
    """nn.cli.main(args) in this process: (exit status, stdout, stderr)."""
    try:
        status = main([str(arg) for arg in args])
    except SystemExit as exc:  # argparse's own exits
        status = exc.code
    out, err = capsys.readouterr()
    return status, out, err


def theta(path):
    return nn.Network.load(path).theta


def trained(capsys, tmp_path, name, *args):
    """The weights `nn train *args --save tmp_path/name` ends with (it must succeed)."""
    status, out, err = nn_main(capsys, "train", *args, "--save", tmp_path / name)
    assert status == 0, err
    return theta(tmp_path / name), out


def checkpoints_of(capsys, tmp_path, monkeypatch, *args):
    """Run `nn train *args --checkpoint tmp_path/run` and keep a copy of its last.npz after every epoch:
    (the final weights, {epoch: the copy's path}). The run with checkpoints must end where the one
    without does."""
    real = ModelCheckpoint.on_epoch_end
    copies = {}

    def on_epoch_end(self, epoch, logs):
        real(self, epoch, logs)
        copies[epoch] = tmp_path / f"epoch-{epoch}.npz"
        shutil.copy(self.last_saved, copies[epoch])
    monkeypatch.setattr(ModelCheckpoint, "on_epoch_end", on_epoch_end)
    final, out = trained(capsys, tmp_path, "with-checkpoints.npz", *args, "--checkpoint", tmp_path / "run")
    monkeypatch.undo()
    assert f"checkpoints: {tmp_path / 'run' / 'last.npz'}, after every epoch" in out
    assert np.array_equal(theta(tmp_path / "run" / "last.npz"), final)  # the last epoch's is the end's
    return final, copies


def resumed(capsys, tmp_path, checkpoint, *args):
    status, out, err = nn_main(capsys, "train", "--resume", checkpoint, *args, "--save", tmp_path / "resumed.npz")
    assert status == 0, err
    return theta(tmp_path / "resumed.npz"), out


# ----- exactness ------------------------------------------------------------------------------------------
def test_three_epochs_then_resumed_to_six_are_six_epochs(capsys, tmp_path):
    whole, _ = trained(capsys, tmp_path, "whole.npz", *MOONS, "--epochs", "6")
    status, out, err = nn_main(capsys, "train", *MOONS, "--epochs", "3", "--checkpoint", tmp_path / "d")
    assert status == 0, err
    weights, out = resumed(capsys, tmp_path, tmp_path / "d" / "last.npz", "--epochs", "6")
    assert f"resuming from {tmp_path / 'd' / 'last.npz'} at epoch 3 of 6" in out
    assert "epochs 4-6 of 6 in" in out
    assert np.array_equal(weights, whole)


@pytest.fixture(scope="module")
def mnist_run(tmp_path_factory):
    """The default MNIST run (shifted images, then a fine-tune phase at a tenth of the rate), small."""
    folder = tmp_path_factory.mktemp("mnist")
    assert main(["train", *MNIST, "--save", str(folder / "whole.npz")]) == 0
    return theta(folder / "whole.npz")


@pytest.mark.parametrize("epoch, where", [(2, "among the shifted epochs"), (3, "after the last shifted epoch"),
                                          (4, "in the fine-tune phase")])
def test_mnist_resumed_from_any_epoch_ends_as_the_whole_run(capsys, tmp_path, monkeypatch, mnist_run, epoch, where):
    final, copies = checkpoints_of(capsys, tmp_path, monkeypatch, *MNIST)
    assert np.array_equal(final, mnist_run)  # checkpoints change nothing
    weights, out = resumed(capsys, tmp_path, copies[epoch])
    assert f"at epoch {epoch} of 5" in out
    assert "then 2 on the plain images at a tenth of the learning rate" in out
    assert np.array_equal(weights, mnist_run), where


def test_a_larger_total_on_resume_plans_the_phases_for_it(capsys, tmp_path):
    # 2 epochs: both shifted (no fine-tune epoch in so short a run); resumed to 4: one more shifted, one plain,
    # as in a run of 4 from the start
    whole, _ = trained(capsys, tmp_path, "whole.npz", "--epochs", "4", "--hidden", "16", "--batch-size", "128")
    status, out, err = nn_main(capsys, "train", "--epochs", "2", "--hidden", "16", "--batch-size", "128",
                               "--checkpoint", tmp_path / "d")
    assert status == 0, err
    weights, out = resumed(capsys, tmp_path, tmp_path / "d" / "last.npz", "--epochs", "4")
    assert "for 3 epochs, then 1 on the plain images" in out
    assert np.array_equal(weights, whole)


@pytest.mark.parametrize("options", [
    ("--schedule", "plateau:0.5:0", "--validation-split", "0.2"),
    ("--schedule", "cosine:0.0001:2", "--optimizer", "adam", "--clip-norm", "0.5"),
    ("--schedule", "step:2:0.5", "--optimizer", "momentum", "--dtype", "float32", "--early-stopping", "50"),
    ("--schedule", "exponential:0.9", "--optimizer", "rmsprop", "--hidden", "8", "--batch-size", "4"),
], ids=lambda options: options[1])
def test_schedules_and_options_resume_exactly(capsys, tmp_path, monkeypatch, options):
    args = (*MOONS, "--epochs", "6", *options)
    whole, _ = trained(capsys, tmp_path, "whole.npz", *args)
    final, copies = checkpoints_of(capsys, tmp_path, monkeypatch, *args)
    assert np.array_equal(final, whole)
    for epoch in (1, 4):
        weights, out = resumed(capsys, tmp_path, copies[epoch])
        assert np.array_equal(weights, whole), epoch


def test_the_checkpoint_and_the_model_store_the_resolved_options(capsys, tmp_path):
    nn_main(capsys, "train", *MOONS, "--epochs", "2", "--schedule", "step:5", "--checkpoint", tmp_path / "d",
            "--save", tmp_path / "model.npz")
    for path in (tmp_path / "d" / "last.npz", tmp_path / "model.npz"):
        stored = nn.Network.load(path).metadata["train_args"]
        json.dumps(stored)
        assert stored["hidden"] == [16, 16] and stored["epochs"] == 2 and stored["learning_rate"] == 0.1
        assert stored["schedule"] == "step:5" and stored["seed"] == 3 and stored["optimizer"] == "sgd"
        assert stored["dataset"] == "moons" and stored["batch_size"] == 16 and stored["dtype"] == "float64"


def test_resume_writes_checkpoints_and_goes_on_again(capsys, tmp_path):
    whole, _ = trained(capsys, tmp_path, "whole.npz", *MOONS, "--epochs", "6")
    nn_main(capsys, "train", *MOONS, "--epochs", "2", "--checkpoint", tmp_path / "a")
    status, out, err = nn_main(capsys, "train", "--resume", tmp_path / "a" / "last.npz", "--epochs", "4",
                               "--checkpoint", tmp_path / "b")
    assert status == 0, err
    stored = nn.Network.load(tmp_path / "b" / "last.npz").metadata["train_args"]
    assert stored["epochs"] == 4  # the new total
    weights, out = resumed(capsys, tmp_path, tmp_path / "b" / "last.npz", "--epochs", "6")
    assert "at epoch 4 of 6" in out
    assert np.array_equal(weights, whole)


def test_a_real_ctrl_c_leaves_a_checkpoint_that_resumes_exactly(capsys, tmp_path):
    args = ("--epochs", "25", "--hidden", "16", "--batch-size", "64")
    whole, _ = trained(capsys, tmp_path, "whole.npz", *args)
    checkpoint = tmp_path / "d" / "last.npz"
    with open(tmp_path / "stderr.txt", "w+") as stderr:
        proc = subprocess.Popen([sys.executable, "-m", "nn", "train", *args, "--checkpoint", str(tmp_path / "d")],
                                stdout=subprocess.PIPE, stderr=stderr, text=True)
        deadline = time.monotonic() + 60
        while not checkpoint.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        proc.send_signal(signal.SIGINT)
        out = proc.communicate(timeout=120)[0]
        stderr.seek(0)
        err = stderr.read()
    assert proc.returncode == 130, (out, err)
    assert "Traceback" not in err and "interrupted after" in out
    done = nn.Trainer.from_checkpoint(checkpoint).epoch
    assert 1 <= done < 25
    weights, out = resumed(capsys, tmp_path, checkpoint)
    assert f"at epoch {done} of 25" in out
    assert np.array_equal(weights, whole)


# ----- mistakes: one line, exit 2 -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A folder with the checkpoint of a finished 2-epoch run (d/last.npz), a model file and a checkpoint
    written by Trainer.save_checkpoint (no train arguments)."""
    folder = tmp_path_factory.mktemp("finished")
    assert main(["train", *MOONS, "--epochs", "2", "--checkpoint", str(folder / "d"),
                 "--save", str(folder / "model.npz")]) == 0
    trainer = nn.Trainer(nn.Network([2, 3, 2], seed=0), optimizer="sgd")
    trainer.save_checkpoint(folder / "python.npz")
    (folder / "file").write_text("")
    return folder


RESUME_MISTAKES = [
    (["--resume", "{tmp}/d/last.npz", "--hidden", "8"],
     "nn train: error: --resume: --hidden: the options come from the checkpoint; with --resume give only "
     "--epochs, --checkpoint, --save, --plots and --backend"),
    (["--resume", "{tmp}/d/last.npz", "--seed", "0", "--dataset", "moons", "--schedule", "constant"],
     "nn train: error: --resume: --dataset, --schedule, --seed: the options come from the checkpoint"),
    (["--resume", "{tmp}/d/last.npz"],
     "nn train: error: --epochs: {tmp}/d/last.npz has trained 2 epochs of 2 already; give a larger total, "
     "--epochs N with N > 2"),
    (["--resume", "{tmp}/d/last.npz", "--epochs", "2"], "nn train: error: --epochs: {tmp}/d/last.npz has trained"),
    (["--resume", "{tmp}/model.npz", "--epochs", "4"],
     "nn train: error: --resume: {tmp}/model.npz is not an nn checkpoint"),
    (["--resume", "{tmp}/python.npz", "--epochs", "4"],
     "nn train: error: --resume: {tmp}/python.npz is a checkpoint, but not one of nn train --checkpoint: its "
     "metadata has no 'train_args'"),
    (["--resume", "{tmp}/missing.npz"], "nn train: error: --resume: file '{tmp}/missing.npz' does not exist"),
    (["--resume", "{tmp}/d"], "nn train: error: --resume: '{tmp}/d' is a folder; give the checkpoint file, e.g. "
                              "'{tmp}/d/last.npz'"),
    (["--resume", "{tmp}/d/last.npz", "--epochs", "4", "--checkpoint", "{tmp}/file/d"],
     "nn train: error: --checkpoint: cannot create folder '{tmp}/file/d': '{tmp}/file' is a file, not a folder"),
    (["--dataset", "moons", "--checkpoint", "{tmp}/file"],
     "nn train: error: --checkpoint: '{tmp}/file' is a file, not a folder"),
]


@pytest.mark.parametrize("args, message", RESUME_MISTAKES, ids=[" ".join(args[2:]) for args, _ in RESUME_MISTAKES])
def test_a_resume_mistake_is_one_line_and_exit_2(capsys, finished, args, message):
    status, out, err = nn_main(capsys, "train", *(arg.format(tmp=finished) for arg in args))
    assert status == 2 and "accuracy" not in out
    assert err.startswith(message.format(tmp=finished)) and err.count("\n") == 1, err
