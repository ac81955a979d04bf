"""The logging and checkpoint callbacks: CSVLogger, TensorBoard, ModelCheckpoint (nn.callbacks)."""
import copy
import csv
import glob
import math
import os
import pickle
import struct
import sys

import numpy as np
import pytest

import nn
from nn.callbacks import CSVLogger, ModelCheckpoint, TensorBoard


def problem(rng, n=40):
    X = rng.normal(size=(n, 2))
    return X, (X[:, 0] + X[:, 1] > 0).astype(int)


def new_trainer():
    return nn.Trainer(nn.Network([2, 4, 2], seed=0), seed=0)


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as file:
        rows = list(csv.reader(file))
    return rows[0], rows[1:]


# ----- CSVLogger --------------------------------------------------------------------------------------
def test_csv_logger_writes_a_row_per_epoch_that_reads_back_exactly(rng, tmp_path):
    X, y = problem(rng)
    path = tmp_path / "log.csv"
    history = new_trainer().fit(X, y, epochs=3, validation_split=0.25, callbacks=[CSVLogger(path)], verbose=False)
    header, rows = read_csv(path)
    assert header == ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "seconds"]
    assert [row[0] for row in rows] == ["1", "2", "3"]
    for column, key in enumerate(header[1:], 1):
        assert [float(row[column]) for row in rows] == history.history[key]  # exactly: repr(float)


def test_csv_logger_flushes_every_epoch_and_closes_at_the_end(rng, tmp_path):
    X, y = problem(rng)
    path = tmp_path / "log.csv"
    logger = CSVLogger(path)
    seen = []
    new_trainer().fit(X, y, epochs=3, callbacks=[logger, lambda epoch, logs: seen.append(len(read_csv(path)[1]))],
                      verbose=False)
    assert seen == [1, 2, 3]  # each row on disk before the next epoch: a crash loses nothing
    assert logger._file is None


def test_csv_logger_closes_its_file_when_a_fit_fails(rng, tmp_path):
    X, y = problem(rng)
    path = tmp_path / "log.csv"
    logger = CSVLogger(path)

    def fail(epoch, logs):
        if epoch == 2:
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        new_trainer().fit(X, y, epochs=5, callbacks=[logger, fail], verbose=False)
    assert logger._file is None
    assert [row[0] for row in read_csv(path)[1]] == ["1", "2"]


def test_csv_logger_appends_when_the_trainer_continues(rng, tmp_path):
    X, y = problem(rng)
    path = tmp_path / "log.csv"
    trainer, logger = new_trainer(), CSVLogger(path)
    first = trainer.fit(X, y, epochs=3, callbacks=[logger], verbose=False)
    second = trainer.fit(X, y, epochs=2, callbacks=[logger], verbose=False)
    header, rows = read_csv(path)
    assert header == ["epoch", "loss", "accuracy", "learning_rate", "seconds"]
    assert [row[0] for row in rows] == ["1", "2", "3", "4", "5"]
    assert [float(row[1]) for row in rows] == first.loss + second.loss


def test_csv_logger_keeps_the_existing_columns_when_appending(rng, tmp_path):
    """A continued fit keeps the file's header: a missing value is empty, a new key is warned about."""
    X, y = problem(rng)
    path = tmp_path / "log.csv"
    trainer = new_trainer()
    trainer.fit(X, y, epochs=1, validation_split=0.25, callbacks=[CSVLogger(path)], verbose=False)
    trainer.fit(X, y, epochs=1, callbacks=[CSVLogger(path)], verbose=False)  # no validation this time
    header, rows = read_csv(path)
    assert header == ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "seconds"]
    assert rows[1][0] == "2" and rows[1][3:5] == ["", ""] and rows[1][1] != ""

    path = tmp_path / "other.csv"
    trainer = new_trainer()
    trainer.fit(X, y, epochs=1, callbacks=[CSVLogger(path)], verbose=False)
    with pytest.warns(UserWarning, match=r"no column for \['val_accuracy', 'val_loss'\]"):
        trainer.fit(X, y, epochs=2, validation_split=0.25, callbacks=[CSVLogger(path)], verbose=False)
    header, rows = read_csv(path)
    assert header == ["epoch", "loss", "accuracy", "learning_rate", "seconds"] and len(rows) == 3


def test_csv_logger_overwrites_for_a_new_trainer(rng, tmp_path):
    X, y = problem(rng)
    path = tmp_path / "log.csv"
    new_trainer().fit(X, y, epochs=3, callbacks=[CSVLogger(path)], verbose=False)
    history = new_trainer().fit(X, y, epochs=2, callbacks=[CSVLogger(path)], verbose=False)
    header, rows = read_csv(path)
    assert [row[0] for row in rows] == ["1", "2"]
    assert [float(row[1]) for row in rows] == history.loss


def test_csv_logger_separator_and_a_foreign_file(rng, tmp_path):
    X, y = problem(rng)
    path = tmp_path / "log.tsv"
    trainer = new_trainer()
    trainer.fit(X, y, epochs=1, callbacks=[CSVLogger(path, separator="\t")], verbose=False)
    assert open(path).readline() == "epoch\tloss\taccuracy\tlearning_rate\tseconds\n"
    with pytest.raises(ValueError, match="does not start with 'epoch'"):  # the wrong separator: not our header
        trainer.fit(X, y, epochs=1, callbacks=[CSVLogger(path)], verbose=False)


def test_csv_logger_checks_its_arguments(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"path .*missing.* does not exist"):
        CSVLogger(tmp_path / "missing" / "log.csv")
    with pytest.raises(IsADirectoryError, match="path"):
        CSVLogger(tmp_path)
    with pytest.raises(TypeError, match="path must be a file path"):
        CSVLogger(3)
    with pytest.raises(ValueError, match="separator"):
        CSVLogger(tmp_path / "log.csv", separator=",,")


# ----- TensorBoard ------------------------------------------------------------------------------------
def read_events(log_dir):
    """(scalars {tag: [(step, value)]}, histograms {tag: [(step, HistogramProto)]}, the steps of the
    session starts, from which TensorBoard hides older events) from the event files of ``log_dir``:
    TFRecords (length u64, its masked crc32c, data, its masked crc32c) of Event protobufs, read with
    tensorboardX's own protobufs and checksum (tensorboard, with its reader, need not be installed)."""
    from tensorboardX.proto.event_pb2 import Event, SessionLog
    from tensorboardX.record_writer import masked_crc32c

    scalars, histograms, starts = {}, {}, []
    for name in sorted(glob.glob(os.path.join(log_dir, "events.out.tfevents.*"))):
        with open(name, "rb") as file:
            while header := file.read(8):
                (length,) = struct.unpack("<Q", header)
                assert struct.unpack("<I", file.read(4))[0] == masked_crc32c(header)
                data = file.read(length)
                assert struct.unpack("<I", file.read(4))[0] == masked_crc32c(data)
                event = Event.FromString(data)
                if event.HasField("session_log") and event.session_log.status == SessionLog.START:
                    starts.append(event.step)
                for value in event.summary.value:
                    if value.HasField("simple_value"):
                        scalars.setdefault(value.tag, []).append((event.step, value.simple_value))
                    elif value.HasField("histo"):
                        histograms.setdefault(value.tag, []).append((event.step, value.histo))
    return scalars, histograms, starts


def test_tensorboard_writes_scalars_and_histograms_per_epoch(rng, tmp_path):
    pytest.importorskip("tensorboardX")
    X, y = problem(rng)
    trainer = new_trainer()
    weights = []  # each epoch's weights, as the TensorBoard callback before saw them
    history = trainer.fit(X, y, epochs=3, validation_split=0.25, verbose=False,
                          callbacks=[TensorBoard(tmp_path / "runs"),
                                     lambda epoch, logs: weights.append([(L.W.copy(), L.b.copy())
                                                                         for L in trainer.net.layers])])
    scalars, histograms, starts = read_events(tmp_path / "runs")
    assert starts == [1]
    assert set(scalars) == {"epoch/loss", "epoch/accuracy", "epoch/val_loss", "epoch/val_accuracy",
                            "epoch/learning_rate"}
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"):
        assert [step for step, _ in scalars[f"epoch/{key}"]] == [1, 2, 3]
        assert [value for _, value in scalars[f"epoch/{key}"]] == [np.float32(v) for v in history.history[key]]
    assert set(histograms) == {"dense_1/W", "dense_1/b", "dense_2/W", "dense_2/b"}
    for i in (1, 2):
        for name in ("W", "b"):
            steps = histograms[f"dense_{i}/{name}"]
            assert [step for step, _ in steps] == [1, 2, 3]
            for (_, histo), epoch_weights in zip(steps, weights):
                values = epoch_weights[i - 1][name == "b"]
                assert histo.num == values.size and sum(histo.bucket) == values.size
                assert (histo.min, histo.max) == (values.min(), values.max())
                assert histo.sum == pytest.approx(values.sum(), rel=1e-12, abs=1e-12)


def test_tensorboard_continues_the_steps_and_can_leave_out_histograms(rng, tmp_path):
    pytest.importorskip("tensorboardX")
    X, y = problem(rng)
    trainer, board = new_trainer(), TensorBoard(str(tmp_path), histograms=False)
    trainer.fit(X, y, epochs=2, callbacks=[board], verbose=False)
    trainer.fit(X, y, epochs=2, callbacks=[board], verbose=False)
    scalars, histograms, starts = read_events(tmp_path)
    assert histograms == {}
    assert [step for step, _ in scalars["epoch/loss"]] == [1, 2, 3, 4]
    assert starts == [1, 3]  # each fit hides, in TensorBoard, what an earlier run wrote from its first step on
    assert board._writer is None and board.trainer is None  # closed, and the trainer let go


def test_tensorboard_without_tensorboardx_names_the_extra(rng, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)  # as if it were not installed
    X, y = problem(rng)
    board = TensorBoard(tmp_path)
    with pytest.raises(ImportError, match=r'pip install "nn-lessons\[tensorboard\]"'):
        new_trainer().fit(X, y, epochs=1, callbacks=[board], verbose=False)


def test_tensorboard_checks_its_arguments(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(NotADirectoryError, match="log_dir"):
        TensorBoard(tmp_path / "file")
    with pytest.raises(TypeError, match="log_dir must be a file path"):
        TensorBoard(None)


# ----- ModelCheckpoint ----------------------------------------------------------------------------------
class FakeTrainer:
    """What ModelCheckpoint uses of a trainer: ``epoch``, ``net`` and save_checkpoint(path), which records
    the path and writes the file atomically (a temporary file, then os.replace)."""

    def __init__(self, epoch=0):
        self.epoch, self.net, self.saved = epoch, None, []

    def save_checkpoint(self, path):
        self.saved.append(path)
        with open(path + ".tmp", "w") as file:
            file.write(f"epoch {self.epoch}")
        os.replace(path + ".tmp", path)


def run(checkpoint, trainer, all_logs):
    """Drive ``checkpoint`` as Trainer.fit would, through one fit with these epochs' logs."""
    checkpoint.on_train_begin(trainer)
    try:
        for logs in all_logs:
            trainer.epoch += 1
            assert not checkpoint.on_epoch_end(trainer.epoch, logs)
    finally:
        checkpoint.on_train_end(trainer)


def test_model_checkpoint_saves_every_epoch_with_the_path_formatted(tmp_path):
    trainer = FakeTrainer()
    checkpoint = ModelCheckpoint(str(tmp_path / "ckpt-{epoch:02d}-{loss:.3f}.npz"))
    run(checkpoint, trainer, [{"loss": 0.5}, {"loss": 0.61234}, {"loss": 0.25}])
    expected = [str(tmp_path / name) for name in ("ckpt-01-0.500.npz", "ckpt-02-0.612.npz", "ckpt-03-0.250.npz")]
    assert trainer.saved == expected and all(os.path.exists(path) for path in expected)
    assert checkpoint.last_saved == expected[-1] and checkpoint.best == 0.25 and checkpoint.monitored == "loss"
    assert checkpoint.trainer is None  # let go at the fit's end


def test_model_checkpoint_saves_only_improvements(tmp_path):
    trainer = FakeTrainer()
    checkpoint = ModelCheckpoint(str(tmp_path / "best-{epoch}.npz"), save_best_only=True)
    losses = [0.9, 0.7, 0.8, 0.7, 0.6, 0.65]
    run(checkpoint, trainer, [{"loss": v, "val_loss": v} for v in losses])
    assert trainer.saved == [str(tmp_path / f"best-{e}.npz") for e in (1, 2, 5)]  # strictly lower only
    assert checkpoint.best == 0.6 and checkpoint.last_saved == trainer.saved[-1]


def test_model_checkpoint_accuracy_is_better_higher(tmp_path):
    trainer = FakeTrainer()
    checkpoint = ModelCheckpoint(str(tmp_path / "{epoch}.npz"), monitor="val_accuracy", save_best_only=True)
    run(checkpoint, trainer, [{"loss": 1.0, "val_accuracy": a} for a in (0.5, 0.4, 0.75, 0.75)])
    assert trainer.saved == [str(tmp_path / "1.npz"), str(tmp_path / "3.npz")] and checkpoint.best == 0.75


def test_model_checkpoint_default_monitor(tmp_path):
    """None watches val_loss when the logs have it, else loss."""
    checkpoint = ModelCheckpoint(str(tmp_path / "{epoch}.npz"), save_best_only=True)
    trainer = FakeTrainer()
    run(checkpoint, trainer, [{"loss": 0.1, "val_loss": 0.9}, {"loss": 0.2, "val_loss": 0.8}])
    assert checkpoint.monitored == "val_loss" and checkpoint.best == 0.8 and len(trainer.saved) == 2

    checkpoint = ModelCheckpoint(str(tmp_path / "{epoch}.npz"), save_best_only=True)
    trainer = FakeTrainer()
    run(checkpoint, trainer, [{"loss": 0.5}, {"loss": 0.6}])
    assert checkpoint.monitored == "loss" and checkpoint.best == 0.5 and trainer.saved == [str(tmp_path / "1.npz")]


def test_model_checkpoint_nan_is_never_an_improvement(tmp_path):
    trainer = FakeTrainer()
    checkpoint = ModelCheckpoint(str(tmp_path / "{epoch}.npz"), save_best_only=True)
    run(checkpoint, trainer, [{"loss": math.nan}, {"loss": 0.5}, {"loss": math.nan}, {"loss": math.inf}])
    assert trainer.saved == [str(tmp_path / "2.npz")] and checkpoint.best == 0.5

    checkpoint, trainer = ModelCheckpoint(str(tmp_path / "{epoch}.npz"), save_best_only=True), FakeTrainer()
    run(checkpoint, trainer, [{"loss": math.nan}])
    assert trainer.saved == [] and checkpoint.best is None and checkpoint.last_saved is None


def test_model_checkpoint_best_carries_over_a_continued_fit_not_a_fresh_one(tmp_path):
    checkpoint, trainer = ModelCheckpoint(str(tmp_path / "{epoch}.npz"), save_best_only=True), FakeTrainer()
    run(checkpoint, trainer, [{"loss": 0.5}])
    run(checkpoint, trainer, [{"loss": 0.6}])  # the same trainer goes on: 0.6 is no improvement on 0.5
    assert trainer.saved == [str(tmp_path / "1.npz")]
    fresh = FakeTrainer()
    run(checkpoint, fresh, [{"loss": 0.6}])  # a fresh trainer starts a new best
    assert fresh.saved == [str(tmp_path / "1.npz")] and checkpoint.best == 0.6


def test_model_checkpoint_errors_name_what_is_wrong(tmp_path):
    checkpoint = ModelCheckpoint(str(tmp_path / "{epoch}.npz"), monitor="val_los")
    with pytest.raises(ValueError, match=r"monitor 'val_los' is not in the epoch's logs, which have: loss, val_loss"):
        run(checkpoint, FakeTrainer(), [{"loss": 0.5, "val_loss": 0.5}])
    assert checkpoint.trainer is None

    checkpoint = ModelCheckpoint(str(tmp_path / "{epoch}-{val_loss:.2f}.npz"))
    with pytest.raises(ValueError, match=r"names the field 'val_loss'.*the fields are: epoch, loss"):
        run(checkpoint, FakeTrainer(), [{"loss": 0.5}])

    with pytest.raises(ValueError, match="positional field"):
        ModelCheckpoint(str(tmp_path / "ckpt-{}.npz"))
    with pytest.raises(ValueError, match="not a valid format string"):
        ModelCheckpoint(str(tmp_path / "ckpt-{epoch.npz"))
    with pytest.raises(FileNotFoundError, match="path"):
        ModelCheckpoint(str(tmp_path / "missing" / "{epoch}.npz"))
    with pytest.raises(TypeError, match="monitor"):
        ModelCheckpoint(str(tmp_path / "{epoch}.npz"), monitor=3)
    with pytest.raises(TypeError, match="save_checkpoint"):
        ModelCheckpoint(str(tmp_path / "{epoch}.npz")).on_train_begin(object())


@pytest.mark.skipif(not hasattr(nn.Trainer, "save_checkpoint"), reason="Trainer.save_checkpoint not written yet")
def test_model_checkpoint_in_a_real_fit(rng, tmp_path):
    X, y = problem(rng)
    checkpoint = ModelCheckpoint(tmp_path / "ckpt-{epoch}.npz")
    new_trainer().fit(X, y, epochs=2, callbacks=[checkpoint], verbose=False)
    assert sorted(os.listdir(tmp_path)) == ["ckpt-1.npz", "ckpt-2.npz"]
    assert checkpoint.last_saved == str(tmp_path / "ckpt-2.npz")


# ----- travel -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [lambda d: CSVLogger(d / "log.csv", separator=";"),
                                  lambda d: TensorBoard(d / "runs", histograms=False),
                                  lambda d: ModelCheckpoint(str(d / "{epoch}.npz"), monitor="loss",
                                                            save_best_only=True)],
                         ids=["CSVLogger", "TensorBoard", "ModelCheckpoint"])
@pytest.mark.parametrize("travel", [lambda cb: pickle.loads(pickle.dumps(cb)), copy.deepcopy],
                         ids=["pickle", "deepcopy"])
def test_callbacks_pickle_and_deepcopy_before_use(tmp_path, make, travel):
    callback = make(tmp_path)
    copied = travel(callback)
    assert type(copied) is type(callback) and repr(copied) == repr(callback)
    assert vars(copied) == vars(callback)


def test_csv_logger_travels_after_a_fit_without_its_file(rng, tmp_path):
    X, y = problem(rng)
    logger = CSVLogger(tmp_path / "log.csv")
    trainer = new_trainer()
    trainer.fit(X, y, epochs=1, callbacks=[logger], verbose=False)
    copied = pickle.loads(pickle.dumps(logger))
    assert copied._file is None and copied.columns == logger.columns
    trainer.fit(X, y, epochs=1, callbacks=[copied], verbose=False)  # the copy goes on appending
    assert [row[0] for row in read_csv(tmp_path / "log.csv")[1]] == ["1", "2"]


def test_reprs(tmp_path):
    assert repr(CSVLogger(tmp_path / "a.csv")) == f"CSVLogger(path={str(tmp_path / 'a.csv')!r}, separator=',')"
    assert repr(TensorBoard("runs")) == "TensorBoard(log_dir='runs', histograms=True)"
    assert repr(ModelCheckpoint("c-{epoch}.npz", save_best_only=True)) == (
        "ModelCheckpoint(path='c-{epoch}.npz', monitor=None, save_best_only=True, best=None, last_saved=None)")


def test_csv_logger_drops_the_epochs_a_resumed_run_does_again(rng, tmp_path):
    """A run resumed from an older checkpoint (epoch 2, the file has rows to 4) rewrites epochs 3 and 4."""
    X, y = problem(rng)
    path = tmp_path / "log.csv"
    trainer = new_trainer()
    trainer.fit(X, y, epochs=2, callbacks=[CSVLogger(path)], verbose=False)
    trainer.save_checkpoint(tmp_path / "c.npz")
    trainer.fit(X, y, epochs=2, callbacks=[CSVLogger(path)], verbose=False)
    resumed = nn.Trainer.from_checkpoint(tmp_path / "c.npz")
    again = resumed.fit(X, y, epochs=3, callbacks=[CSVLogger(path)], verbose=False)
    header, rows = read_csv(path)
    assert [row[0] for row in rows] == ["1", "2", "3", "4", "5"]
    assert [float(row[1]) for row in rows[2:]] == again.loss


def test_model_checkpoint_beats_an_initial_best(tmp_path):
    saver = ModelCheckpoint(str(tmp_path / "best.npz"), monitor="loss", save_best_only=True, initial_best=0.5)
    trainer = FakeTrainer(epoch=3)
    saver.on_train_begin(trainer)
    saver.on_epoch_end(4, {"loss": 0.6})
    assert trainer.saved == [] and saver.best == 0.5
    saver.on_epoch_end(5, {"loss": 0.4})
    assert trainer.saved == [str(tmp_path / "best.npz")] and saver.best == 0.4
    with pytest.raises(ValueError, match="initial_best needs the monitor"):
        ModelCheckpoint(str(tmp_path / "best.npz"), initial_best=0.5)
