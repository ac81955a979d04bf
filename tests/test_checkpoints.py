"""Checkpoints: Trainer.save_checkpoint / Trainer.from_checkpoint hold everything needed to go on, and
resuming is exact: 2 epochs, a checkpoint, a fresh process, 3 more epochs give bit for bit the weights
of 5 epochs in one go, on both backends."""
import json
import subprocess
import sys

import numpy as np
import pytest

import nn
from nn import schedules
from nn.backends import available

BACKENDS = available()

CASES = {  # name: (optimizer factory, clip_norm, dtype)
    "adam-cosine-clip": (lambda: nn.Adam(schedules.Cosine(0.01, epochs=5, warmup=1)), 0.5, "float64"),
    "momentum-step": (lambda: nn.Momentum(schedules.Step(0.05, step_size=2, gamma=0.5), nesterov=True), None,
                      "float64"),
    "rmsprop-plateau": (lambda: nn.RMSprop(schedules.ReduceOnPlateau(0.005, factor=0.5, patience=0, monitor="loss",
                                                                      min_delta=1.0)), None, "float64"),
    "sgd-float32": (lambda: nn.SGD(0.1), None, "float32"),
    "adam-float32-clip": (lambda: nn.Adam(schedules.Exponential(0.01, gamma=0.8)), 1.0, "float32"),
}


def problem():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(120, 8))
    X *= rng.random(X.shape) < 0.5  # half zeros: the compiled first layer may take its lists of nonzeros
    return X, rng.integers(0, 3, size=120)


def new_trainer(case, backend):
    make_optimizer, clip_norm, dtype = CASES[case]
    net = nn.Network([8, 16, 3], seed=1, dtype=dtype, backend=backend)
    return nn.Trainer(net, optimizer=make_optimizer(), seed=2, batch_size=16, clip_norm=clip_norm)


RESUME = """
import sys, numpy as np, nn
sys.path.insert(0, {tests!r})
from test_checkpoints import problem
X, y = problem()
trainer = nn.Trainer.from_checkpoint({path!r}, backend={backend!r})
history = trainer.fit(X, y, epochs=3, verbose=False)
np.save({out!r}, trainer.net.theta)
print(trainer.epoch, history.learning_rate)
"""


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", CASES)
def test_resuming_in_a_fresh_process_is_exact(case, backend, tmp_path):
    X, y = problem()
    whole = new_trainer(case, backend)
    history = whole.fit(X, y, epochs=5, verbose=False)
    first = new_trainer(case, backend)
    first.fit(X, y, epochs=2, verbose=False)
    first.save_checkpoint(tmp_path / "after2.npz")
    script = RESUME.format(tests=str(__import__("pathlib").Path(__file__).parent), path=str(tmp_path / "after2.npz"),
                           backend=backend, out=str(tmp_path / "theta.npy"))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    epoch, rates = done.stdout.split(" ", 1)
    assert int(epoch) == 5
    assert json.loads(rates) == history.learning_rate[2:]
    np.testing.assert_array_equal(np.load(tmp_path / "theta.npy"), whole.net.theta)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_checkpoint_holds_the_trainers_state(backend, tmp_path):
    X, y = problem()
    trainer = new_trainer("rmsprop-plateau", backend)
    trainer.fit(X, y, epochs=3, verbose=False)
    trainer.save_checkpoint(tmp_path / "c.npz")
    back = nn.Trainer.from_checkpoint(tmp_path / "c.npz", backend=backend)
    assert (back.epoch, back.loss, back.batch_size, back.seed, back.clip_norm) == (3, trainer.loss, 16, 2, None)
    assert back.optimizer.steps == trainer.optimizer.steps == 3 * 8
    np.testing.assert_array_equal(back.optimizer.state["square_avg"][0], trainer.optimizer.state["square_avg"][0])
    assert back.optimizer.learning_rate.state() == trainer.optimizer.learning_rate.state()
    assert back.optimizer.rate == trainer.optimizer.rate
    assert back.rng.bit_generator.state == trainer.rng.bit_generator.state
    assert repr(back.optimizer) == repr(trainer.optimizer)
    np.testing.assert_array_equal(back.net.theta, trainer.net.theta)
    net = nn.Network.load(tmp_path / "c.npz")  # a checkpoint is also a model file
    np.testing.assert_array_equal(net.theta, trainer.net.theta)


def test_a_function_of_the_users_must_be_given_again(tmp_path):
    X, y = problem()
    rate = lambda epoch: 0.01 / (1 + epoch)  # noqa: E731
    trainer = nn.Trainer(nn.Network([8, 16, 3], seed=1), optimizer=nn.Adam(rate), seed=2)
    trainer.fit(X, y, epochs=2, verbose=False)
    trainer.save_checkpoint(tmp_path / "c.npz")
    with pytest.raises(ValueError, match="learning-rate function of your own.*learning_rate="):
        nn.Trainer.from_checkpoint(tmp_path / "c.npz")
    back = nn.Trainer.from_checkpoint(tmp_path / "c.npz", learning_rate=rate)
    trainer.fit(X, y, epochs=1, verbose=False)
    back.fit(X, y, epochs=1, verbose=False)
    np.testing.assert_array_equal(back.net.theta, trainer.net.theta)


def test_a_model_file_or_a_damaged_checkpoint_is_refused_naming_it(tmp_path):
    net = nn.Network([3, 2], seed=0)
    net.save(tmp_path / "model.npz")
    with pytest.raises(ValueError, match="model.npz is not an nn checkpoint"):
        nn.Trainer.from_checkpoint(tmp_path / "model.npz")
    trainer = nn.Trainer(net, optimizer=nn.Adam(0.01), seed=0)
    trainer.fit(np.ones((4, 3)), [0, 1, 0, 1], epochs=1, verbose=False)
    path = tmp_path / "c.npz"
    trainer.save_checkpoint(path)
    with np.load(path) as archive:
        members = dict(archive)
    members["state_m"] = members["state_m"][:-1]  # one value short
    np.savez(tmp_path / "short.npz", **members)
    with pytest.raises(ValueError, match="short.npz is not a valid nn model file: state_m has shape"):
        nn.Trainer.from_checkpoint(tmp_path / "short.npz")


def test_only_nns_own_optimizers_are_stored(tmp_path):
    class Halving(nn.SGD):
        pass

    trainer = nn.Trainer(nn.Network([3, 2], seed=0), optimizer=Halving(0.1))
    with pytest.raises(TypeError, match="not Halving"):
        trainer.save_checkpoint(tmp_path / "c.npz")
    assert not (tmp_path / "c.npz").exists()


@pytest.mark.parametrize("backend", BACKENDS)
def test_model_checkpoint_saves_checkpoints_that_resume(backend, tmp_path):
    X, y = problem()
    whole = new_trainer("adam-cosine-clip", backend)
    whole.fit(X, y, epochs=5, verbose=False)
    trainer = new_trainer("adam-cosine-clip", backend)
    saver = nn.ModelCheckpoint(str(tmp_path / "epoch{epoch}.npz"))
    trainer.fit(X, y, epochs=3, callbacks=[saver], verbose=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epoch1.npz", "epoch2.npz", "epoch3.npz"]
    back = nn.Trainer.from_checkpoint(tmp_path / "epoch3.npz", backend=backend)
    back.fit(X, y, epochs=2, verbose=False)
    np.testing.assert_array_equal(back.net.theta, whole.net.theta)


def test_an_optimizer_state_that_is_not_theta_shaped_is_refused(tmp_path):
    net = nn.Network([3, 2], seed=0)
    trainer = nn.Trainer(net, optimizer=nn.Adam(0.01))
    trainer.optimizer.step(net.parameters(), [np.ones_like(p) for p in net.parameters()])  # per-layer state
    with pytest.raises(ValueError, match="not one vector of theta's length"):
        trainer.save_checkpoint(tmp_path / "c.npz")
    assert not (tmp_path / "c.npz").exists()
