"""Training on a team of threads (the compiled backend splits each batch between them): the same numbers
as the reference, the same result every run, BLAS's own threads restored, Ctrl-C and divergence
still handled, bad settings rejected."""
import os

import numpy as np
import pytest
from conftest import fit_until_ctrl_c, random_problem

import nn
_core = pytest.importorskip("nn._core", reason="the compiled core is not built")  # noqa: E402
from nn.backends import compiled

# Every loss with every output, softmax with mse included (nn warns about that pair: it learns slowly).
pytestmark = pytest.mark.filterwarnings("ignore:mse on a softmax output")

blas_controlled = pytest.mark.skipif(compiled._openblas() is None,
                                     reason="the BLAS behind SciPy is not an OpenBLAS whose threads nn can set")


def sparse_inputs(rng, n, n_in):
    """Inputs zero in most places (the first layer runs on lists of nonzeros, or compact), with
    always-zero columns and an all-zero stretch of rows (batches with no column in use)."""
    X = rng.normal(size=(n, n_in)) * (rng.random(size=(n, n_in)) < 0.15)
    X[:, : n_in // 3] = 0
    X[n // 3: n // 2] = 0
    return X


def fit(backend, X, y, sizes, hidden, output, loss, make_optimizer, batch_size, epochs=2, callbacks=()):
    net = nn.Network(sizes, activation=hidden, output=output, seed=4, backend=backend)
    trainer = nn.Trainer(net, loss=loss, optimizer=make_optimizer(), batch_size=batch_size, seed=8)
    history = trainer.fit(X, y, epochs=epochs, verbose=False, callbacks=callbacks)
    return net, history, trainer


OPTIMIZERS = [lambda: nn.SGD(0.05), lambda: nn.SGD(0.05, weight_decay=0.01), lambda: nn.Momentum(0.05, 0.9, nesterov=True),
              lambda: nn.Adam(0.005, weight_decay=0.01)]


@blas_controlled
@pytest.mark.parametrize("threads", [2, 3, 5])
@pytest.mark.parametrize("batch_size", [1, 4, 7, 32, None])
@pytest.mark.parametrize("make_optimizer", OPTIMIZERS, ids=lambda f: repr(f()))
@pytest.mark.parametrize("inputs", ["dense", "sparse", "sparse-compact"])
def test_team_gives_the_reference_numbers(team, threads, batch_size, make_optimizer, inputs, rng, monkeypatch):
    """Dense inputs; mostly-zero inputs through the first layer's lists of nonzeros; the same through
    the compact dense first layer (the sparse kernels turned off)."""
    n = 75
    X = rng.normal(size=(n, 12)) if inputs == "dense" else sparse_inputs(rng, n, 12)
    y = rng.integers(0, 3, size=n)
    if inputs == "sparse-compact":
        monkeypatch.setattr(compiled, "SPARSE_DENSITY", -1.0)
    uses_lists = inputs == "sparse" and (batch_size or n) > 1 and _core.SPARSE_KERNELS
    assert compiled.sparse_first_layer(nn.Network([12, 3]), X, batch_size or n) == uses_lists
    ref, h_ref, t_ref = fit("reference", X, y, [12, 9, 7, 3], "relu", "softmax", "cross_entropy", make_optimizer,
                            batch_size)
    team(threads)
    # A core built without a team (NN_TEAM=none, the portable fallback) trains on one thread.
    assert compiled.team_size(ref, batch_size or n) == (1 if compiled.TEAM == "none" else min(threads, batch_size or n))
    comp, h_comp, t_comp = fit("compiled", X, y, [12, 9, 7, 3], "relu", "softmax", "cross_entropy", make_optimizer,
                               batch_size)
    np.testing.assert_allclose(comp.theta, ref.theta, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(h_comp.loss, h_ref.loss, rtol=1e-10)
    assert h_comp.accuracy == h_ref.accuracy
    assert t_comp.optimizer.steps == t_ref.optimizer.steps


@blas_controlled
@pytest.mark.parametrize("loss, output, hidden", [("mse", "identity", "tanh"), ("binary_cross_entropy", "sigmoid", "sigmoid"),
                                                  ("mse", "softmax", "leaky_relu")])
@pytest.mark.parametrize("sparse", [False, True])
def test_team_every_loss(team, loss, output, hidden, sparse, rng):
    X, y = random_problem(rng, loss, 2, n=64, n_in=6)
    if sparse:  # the first layer on lists of nonzeros
        X = X * (rng.random(X.shape) < 0.2)
    assert compiled.sparse_first_layer(nn.Network([6, 2]), X, 16) == (sparse and _core.SPARSE_KERNELS)
    ref, h_ref, _ = fit("reference", X, y, [6, 10, 2], hidden, output, loss, lambda: nn.SGD(0.05), 16)
    team(2)
    comp, h_comp, _ = fit("compiled", X, y, [6, 10, 2], hidden, output, loss, lambda: nn.SGD(0.05), 16)
    np.testing.assert_allclose(comp.theta, ref.theta, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(h_comp.loss, h_ref.loss, rtol=1e-10)


@blas_controlled
def test_team_gives_the_same_result_every_run(team, rng):
    X = sparse_inputs(rng, 300, 30)
    y = rng.integers(0, 4, size=300)
    team(2)
    runs = [fit("compiled", X, y, [30, 16, 4], "relu", "softmax", "cross_entropy", lambda: nn.Adam(0.01), 32)
            for _ in range(3)]
    for net, history, _ in runs[1:]:
        np.testing.assert_array_equal(net.theta, runs[0][0].theta)
        assert history.loss == runs[0][1].loss


@pytest.mark.parametrize("threads", [1, 2, 4])
@pytest.mark.parametrize("sparse", [False, True])
def test_core_train_on_threads_equals_one_thread(threads, sparse, rng):
    """The core's own team, BLAS's threads left as they are: the same numbers as one thread, and the
    first layer on lists of nonzeros the same as on the dense rows."""
    X = sparse_inputs(rng, 90, 20)
    Y = np.eye(5)[rng.integers(0, 5, size=90)]
    sizes, acts = np.array([20, 11, 8, 5], dtype=np.intp), np.array([3, 2, 5], dtype=np.intp)
    lay = _core.layout(sizes, acts, 16)
    order = np.stack([rng.permutation(90) for _ in range(3)])
    results = []
    for t, sparse_ in ((1, False), (threads, sparse)):
        theta = np.random.default_rng(0).normal(size=lay.n_params) * 0.3
        s1, s2 = np.zeros_like(theta), np.zeros_like(theta)
        loss_sums, correct = np.zeros(3), np.zeros(3, dtype=np.intp)
        steps = np.zeros(1, dtype=np.longlong)
        scratch = _core.TrainScratch(lay, 16, t, sparse_)
        done = _core.train(scratch, 2, 3, np.array([0.01, 0.001, 0, 0, 0, 0.9, 0.999, 1e-8]), steps, theta,
                           s1, s2, X, Y, order, loss_sums, correct, np.empty(0), 0)
        assert done == 3 and steps[0] == 3 * 6
        results.append((theta, s1, s2, loss_sums, correct))
    for a, b in zip(*results):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("threads", [0, -1, _core.MAX_THREADS + 1])
def test_core_rejects_a_bad_thread_count(threads):
    lay = _core.layout(np.array([2, 2], dtype=np.intp), np.array([1], dtype=np.intp), 4)
    with pytest.raises(ValueError, match="threads must be in"):
        _core.TrainScratch(lay, 4, threads)


@blas_controlled
def test_blas_threads_are_restored(team, rng):
    before = compiled.blas_threads()
    X, y = rng.normal(size=(64, 5)), rng.integers(0, 2, size=64)
    seen = []
    team(2)
    # The callback runs between two epochs, outside the core: BLAS has its threads back then.
    fit("compiled", X, y, [5, 8, 2], "relu", "softmax", "cross_entropy", lambda: nn.SGD(0.1), 16,
        callbacks=[lambda epoch, logs: seen.append(compiled.blas_threads())])
    assert seen == [before, before] and compiled.blas_threads() == before


@blas_controlled
def test_blas_threads_are_restored_after_divergence(team, rng):
    before = compiled.blas_threads()
    X, y = rng.normal(size=(64, 5)) * 1e200, rng.normal(size=64)
    team(2)
    with pytest.raises(nn.TrainingDiverged):
        fit("compiled", X, y, [5, 8, 1], "relu", "identity", "mse", lambda: nn.SGD(10.0), 16, epochs=5)
    assert compiled.blas_threads() == before


@blas_controlled
def test_ctrl_c_stops_a_team(team, rng):
    """A real SIGINT while a team trains: fit returns the history so far, the weights are finite, every
    thread has stopped and BLAS has its threads back."""
    before = compiled.blas_threads()
    X = rng.normal(size=(4000, 30))
    y = rng.integers(0, 3, size=4000)
    net = nn.Network([30, 64, 3], activation="relu", output="softmax", seed=0)
    trainer = nn.Trainer(net, optimizer=nn.Adam(1e-3), batch_size=8, seed=0)
    team(2)
    trainer.fit(X, y, epochs=1, verbose=False)
    tasks = len(os.listdir(f"/proc/{os.getpid()}/task")) if os.path.isdir("/proc/self/task") else None
    history = fit_until_ctrl_c(trainer, X, y, verbose=False)
    assert history.interrupted and len(history) < 10_000
    assert np.isfinite(net.theta).all()
    assert trainer.optimizer.steps >= 500 * (1 + len(history))
    assert compiled.blas_threads() == before
    if tasks is not None:  # the team's other thread has been joined
        assert len(os.listdir(f"/proc/{os.getpid()}/task")) == tasks


def test_set_num_threads(monkeypatch):
    try:
        nn.set_num_threads(3)
        assert nn.get_num_threads() == 3
        nn.set_num_threads(None)
        monkeypatch.setenv("NN_NUM_THREADS", "2")
        assert nn.get_num_threads() == 2
        monkeypatch.delenv("NN_NUM_THREADS")
        assert nn.get_num_threads() == compiled.blas_threads() >= 1
        with pytest.raises(ValueError, match="n must be >= 1"):
            nn.set_num_threads(0)
        with pytest.raises(TypeError, match="n must be an integer"):
            nn.set_num_threads("2")
        monkeypatch.setenv("NN_NUM_THREADS", "two")
        with pytest.raises(ValueError, match="NN_NUM_THREADS must be a whole number"):
            nn.get_num_threads()
    finally:
        nn.set_num_threads(None)


def test_bad_thread_count_in_the_environment_stops_a_team_training(monkeypatch):
    net = nn.Network([784, 128, 10], output="softmax", seed=0, backend="compiled")
    X = np.random.default_rng(0).random((256, 784))
    monkeypatch.setenv("NN_NUM_THREADS", "0")
    before = net.theta.copy()
    with pytest.raises(ValueError, match="NN_NUM_THREADS"):
        nn.Trainer(net, loss="cross_entropy", batch_size=128).fit(X, np.arange(256) % 10, verbose=False)
    assert np.array_equal(net.theta, before)


def test_small_work_trains_on_one_thread():
    """The lessons' networks are far too small to share a batch."""
    nn.set_num_threads(4)
    try:
        assert compiled.team_size(nn.Network([2, 2, 1]), 1) == 1
        assert compiled.team_size(nn.Network([2, 2, 1]), 64) == 1
        nn.set_num_threads(1)
        assert compiled.team_size(nn.Network([784, 128, 10]), 128) == 1
    finally:
        nn.set_num_threads(None)


def _threads_in_worker(_):
    import nn as nn_in_worker

    return nn_in_worker.get_num_threads()


@blas_controlled
def test_the_default_thread_count_follows_threadpoolctl_limits(monkeypatch):
    """threadpool_limits(1) (what joblib's workers and scikit-learn's searches set) caps nn's team too;
    set_num_threads and NN_NUM_THREADS still win."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    monkeypatch.delenv("NN_NUM_THREADS", raising=False)
    with threadpoolctl.threadpool_limits(1, user_api="blas"):
        assert nn.get_num_threads() == 1
        net = nn.Network([50, 400, 10], activation="relu", output="softmax", seed=0)
        assert compiled.team_size(net, 256) == 1
        nn.set_num_threads(2)
        try:
            assert nn.get_num_threads() == 2
        finally:
            nn.set_num_threads(None)
        monkeypatch.setenv("NN_NUM_THREADS", "2")
        assert nn.get_num_threads() == 2


@blas_controlled
def test_joblib_workers_train_on_their_share_of_the_cores():
    """n_jobs=2 on a machine of c cores: each worker's team has at most c // 2 threads (never 4 busy
    threads on 2 cores)."""
    joblib = pytest.importorskip("joblib")
    counts = joblib.Parallel(n_jobs=2, backend="loky")(joblib.delayed(_threads_in_worker)(i) for i in range(2))
    assert all(1 <= count <= max(1, (os.cpu_count() or 1) // 2) for count in counts)


@pytest.mark.parametrize("optimizer", [0, 3])  # plain SGD (in the products), Adam (from the gradient)
@pytest.mark.parametrize("sparse", [False, True])  # dense: the compact first layer (few columns in use)
@pytest.mark.parametrize("threads, clip", [(2, 0.0), (3, 0.5)])
def test_a_team_that_backs_off_goes_on_alone_with_the_same_numbers(optimizer, sparse, threads, clip, rng):
    """back_off so large that the trial always chooses thread 0 alone: after 16 batches as a team, 16
    alone, it goes on alone, mid-epoch, running the others' parts of every phase as well as its own. The
    result is the team's bit for bit (the same cuts of the work, the same operations), and one thread's
    to rounding; back_off=0 never tries; a tiny one tries every epoch (16 batches alone) but never backs
    off: the team's bits again."""
    if _core.TEAM == "none":
        pytest.skip("a build without a team")
    X = sparse_inputs(rng, 560, 20)
    Y = np.eye(5)[rng.integers(0, 5, size=560)]
    lay = _core.layout(np.array([20, 11, 5], dtype=np.intp), np.array([3, 5], dtype=np.intp), 8)
    order = np.stack([rng.permutation(560) for _ in range(3)])  # 70 batches an epoch: a trial, mid-epoch
    hyper = np.array([0.01, 0.001 if optimizer else 0, 0, 0, 0, 0.9, 0.999, 1e-8])
    results = {}
    team_size = threads
    for name, threads, back_off in (("one", 1, 0.0), ("team", team_size, 0.0), ("alone", team_size, 1e12),
                                    ("patient", team_size, 1e-12)):
        theta = np.random.default_rng(0).normal(size=lay.n_params) * 0.3
        s1, s2 = np.zeros_like(theta), np.zeros_like(theta)
        loss_sums, correct = np.zeros(3), np.zeros(3, dtype=np.intp)
        steps = np.zeros(1, dtype=np.longlong)
        scratch = _core.TrainScratch(lay, 8, threads, sparse)
        done = _core.train(scratch, 2, optimizer, hyper, steps, theta, s1, s2, X, Y, order, loss_sums, correct,
                           np.empty(0), 0, None, None, clip, None, back_off)
        assert done == 3 and steps[0] == 3 * 70
        results[name] = (theta, s1, loss_sums, correct, scratch.backed_off)
    assert [results[name][4] for name in ("one", "team", "alone", "patient")] == [False, False, True, False]
    for name in ("team", "alone"):
        for a, b in zip(results["one"][:3], results[name][:3]):
            np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-15)
        np.testing.assert_array_equal(results[name][3], results["one"][3])
    for name in ("alone", "patient"):
        for a, b in zip(results["team"][:4], results[name][:4]):
            np.testing.assert_array_equal(b, a)  # theta, the state, the losses, the correct counts
    with pytest.raises(ValueError, match="back_off must be >= 0"):
        _core.train(_core.TrainScratch(lay, 8, 2, sparse), 2, optimizer, hyper, np.zeros(1, dtype=np.longlong),
                    np.zeros(lay.n_params), np.zeros(lay.n_params), np.zeros(lay.n_params), X, Y, order, np.zeros(3),
                    np.zeros(3, dtype=np.intp), np.empty(0), 0, None, None, 0.0, None, -1.0)


@blas_controlled
def test_only_the_default_thread_count_backs_off(team, monkeypatch, rng):
    """The default team may back off (here made to, at its first trial); a count set by set_num_threads
    or NN_NUM_THREADS is kept for the whole fit."""
    if _core.TEAM == "none":
        pytest.skip("a build without a team")
    monkeypatch.setattr(compiled, "BACK_OFF", 1e12)
    X, y = rng.normal(size=(1280, 30)), rng.integers(0, 3, size=1280)  # 80 batches: a trial

    def backed_off():
        net = nn.Network([30, 16, 3], seed=0, backend="compiled")
        nn.Trainer(net, optimizer=nn.SGD(0.1), batch_size=16, seed=0).fit(X, y, epochs=1, verbose=False)
        return [s.backed_off for s in compiled._caches[net]["train"].values()]

    team(None)
    monkeypatch.setattr(compiled, "get_num_threads", lambda: 2)  # the default, as on a 2-core machine
    assert backed_off() == [True]
    team(2)
    assert backed_off() == [False]
    team(None)
    monkeypatch.setenv("NN_NUM_THREADS", "2")
    assert backed_off() == [False]


CTRL_C_IN_TRIALS = r"""
import random, sys
import numpy as np
import nn
from nn.backends import compiled
from conftest import fit_until_ctrl_c
compiled.TEAM_MIN_ROWS, compiled.TEAM_MIN_WORK = 1, 0
compiled.BACK_OFF = 1e-12  # a trial (16 batches with thread 0 alone) every epoch, the team kept
compiled.get_num_threads = lambda: 2  # the default count, two threads
rng = np.random.default_rng(0)
X, y = rng.normal(size=(512, 20)), rng.integers(0, 3, size=512)  # 64 batches of 8: a quarter of them alone
random.seed(1)
for i in range(12):
    net = nn.Network([20, 16, 3], seed=i, backend="compiled")
    trainer = nn.Trainer(net, optimizer=nn.Adam(1e-3), batch_size=8, seed=i)
    history = fit_until_ctrl_c(trainer, X, y, after=random.uniform(0.05, 0.3), verbose=False)
    assert history.interrupted and np.isfinite(net.theta).all()
print("no hang")
"""


@blas_controlled
def test_ctrl_c_during_trials_never_hangs(tmp_path):
    """Ctrl-C at random moments of fits whose every epoch holds a trial: when it lands while thread 0 runs
    alone, the thread waiting for it is released and both stop (a subprocess, so that a hang fails)."""
    if _core.TEAM == "none":
        pytest.skip("a build without a team")
    import subprocess
    import sys
    from pathlib import Path
    done = subprocess.run([sys.executable, "-c", CTRL_C_IN_TRIALS], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).parent)
    assert done.returncode == 0 and "no hang" in done.stdout, done.stderr[-2000:]


FUSED_OPTIMIZERS = {
    "momentum": lambda: nn.Momentum(0.05, momentum=0.9),
    "nesterov": lambda: nn.Momentum(0.05, momentum=0.9, nesterov=True),
    "rmsprop": lambda: nn.RMSprop(0.01),
    "adam": lambda: nn.Adam(0.01),
    "adam, weight decay": lambda: nn.Adam(0.01, weight_decay=1e-3),
    "sgd, weight decay": lambda: nn.SGD(0.1, weight_decay=1e-3),
}


def bits(a):
    """The array's bit patterns (-0.0 and +0.0 differ)."""
    return np.ascontiguousarray(a).view(f"u{a.itemsize}")


@blas_controlled
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("hidden", [24, 700, 3000])  # blocks of 85 rows, 2 rows, 1 row
@pytest.mark.parametrize("name", list(FUSED_OPTIMIZERS))
def test_the_fused_first_layer_step_gives_the_same_bits(team, monkeypatch, rng, name, hidden, dtype, threads):
    """On the sparse path, W_1's step taken a block of rows at a time as the rows of its gradient are made
    (and skipped for rows untouched so far) gives the same weights and state, bit for bit, as the step from
    the whole gradient. The inputs have columns always zero (their rows are skipped) and columns zero in a
    first fit only (their state starts at zero, then moves in a second); between the fits the state's
    zeros become -0.0 (as a checkpoint could hold them: the step makes them +0.0, a skip must not keep
    them). (Making the skip ignore the state fails this test.)"""
    if not _core.SPARSE_KERNELS:
        pytest.skip("no AVX2 / FMA: no lists of nonzeros")
    X = sparse_inputs(rng, 257, 40)  # columns 0-12 always zero; a last batch of one row (no lists)
    first = X.copy()
    first[:, 13:17] = 0
    X[:, 13:17] = rng.normal(size=(257, 4))
    y = rng.integers(0, 3, size=257)
    team(threads)
    results = {}
    for fused in (True, False):
        monkeypatch.setattr(compiled, "FUSED_STEP", fused)
        net = nn.Network([40, hidden, 3], dtype=dtype, seed=1, backend="compiled")
        assert compiled.sparse_first_layer(net, first.astype(dtype), 16)
        trainer = nn.Trainer(net, optimizer=FUSED_OPTIMIZERS[name](), batch_size=16, seed=2)
        start = net.theta.copy()
        trainer.fit(first.astype(dtype), y, epochs=2, verbose=False)
        after_first = net.theta.copy()
        for arrays in trainer.optimizer.state.values():
            for a in arrays:
                a[a == 0] = -0.0
        trainer.fit(X[:256].astype(dtype), y[:256], epochs=1, verbose=False)  # (a batch of one steps every row)
        results[fused] = (after_first, net.theta.copy(),
                          {k: [a.copy() for a in v] for k, v in trainer.optimizer.state.items()})
    for a, b in zip(results[False][:2], results[True][:2]):
        np.testing.assert_array_equal(bits(b), bits(a))
    for key, arrays in results[False][2].items():
        for a, b in zip(arrays, results[True][2][key]):
            np.testing.assert_array_equal(bits(b), bits(a))
    unused, late = slice(0, 13 * hidden), slice(13 * hidden, 17 * hidden)  # rows of W_1 (first in theta)
    if "decay" not in name:  # those rows have had nothing to learn
        np.testing.assert_array_equal(results[True][0][unused], start[unused])
        np.testing.assert_array_equal(results[True][0][late], start[late])
        np.testing.assert_array_equal(results[True][1][unused], start[unused])
    assert (results[True][1][late] != start[late]).mean() > 0.5  # learnt in the second fit (but dead units)


@blas_controlled
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("name", ["momentum", "adam"])
def test_the_fused_step_forgets_its_skips_after_a_batch_of_one_row(team, monkeypatch, rng, name, dtype, threads):
    """The fused step knows which rows of W_1 still have +0 state from the call's start on (it clears a
    row's mark as it steps it). A batch of one row has no lists: the whole step runs, and may move the
    state of any row, so the rows still marked are tested again. Here column 20 is nonzero only in the
    last row, a batch of its own at the end of each epoch: in the second epoch its row's state is no
    longer zero, and every batch must step it. The same bits as the unfused step. (Keeping the marks
    after a batch of one row, untested, fails this test.)"""
    if not _core.SPARSE_KERNELS:
        pytest.skip("no AVX2 / FMA: no lists of nonzeros")
    X = sparse_inputs(rng, 257, 40)
    X[:, 20] = 0
    X[256, 20] = 3.0
    Y = np.eye(3, dtype=dtype)[rng.integers(0, 3, size=257)]
    orders = np.tile(np.arange(257), (2, 1))  # in order: row 256 alone last, twice in one call
    team(threads)
    results = []
    for fused in (True, False):
        monkeypatch.setattr(compiled, "FUSED_STEP", fused)
        net = nn.Network([40, 24, 3], dtype=dtype, seed=1, backend="compiled")
        assert compiled.sparse_first_layer(net, X.astype(dtype), 16)
        optimizer = FUSED_OPTIMIZERS[name]()
        compiled.train_epochs(net, X.astype(dtype), Y, "cross_entropy", optimizer, orders, 16)
        results.append((bits(net.theta), [bits(a) for a in optimizer.state[optimizer.state_names[0]]]))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    for a, b in zip(results[0][1], results[1][1]):
        np.testing.assert_array_equal(a, b)


@blas_controlled
@pytest.mark.parametrize("threads", [1, 2])
def test_the_fused_step_skips_nothing_when_a_zero_step_is_not_zero(team, monkeypatch, rng, threads):
    """An eps that rounds to 0 in float32 makes Adam's step on a zero gradient and zero state 0 / 0: NaN.
    The fused step then skips no row, as the step from the whole gradient: both diverge alike. (Skipping
    regardless fails this test: the rows of the inputs always zero would stay finite.)"""
    if not _core.SPARSE_KERNELS:
        pytest.skip("no AVX2 / FMA: no lists of nonzeros")
    X = sparse_inputs(rng, 256, 40).astype(np.float32)
    y = rng.integers(0, 3, size=256)
    team(threads)
    outcomes = []
    for fused in (True, False):
        monkeypatch.setattr(compiled, "FUSED_STEP", fused)
        # sigmoid hidden units: every gradient but those of W_1's rows for the zero columns is nonzero
        net = nn.Network([40, 24, 3], activation="sigmoid", dtype="float32", seed=1, backend="compiled")
        trainer = nn.Trainer(net, optimizer=nn.Adam(0.01, eps=1e-46), batch_size=16, seed=2)
        with pytest.raises(nn.TrainingDiverged):
            trainer.fit(X, y, epochs=2, verbose=False)
        outcomes.append(bits(net.theta))
    np.testing.assert_array_equal(outcomes[0], outcomes[1])
