"""The pthreads team's pool (src/nn_team.h): threads started once and kept between calls, kept off the
calling thread's processor, started afresh in a child made by fork(), and shared safely by calls that
come from several threads at once (a call that finds the pool taken starts threads of its own)."""
import multiprocessing
import os
import sys
import threading
import time

import numpy as np
import pytest

import nn
from nn import _core, _infer
from nn.backends import compiled

pytestmark = pytest.mark.skipif(_core.TEAM != "pthreads" or not sys.platform.startswith("linux")
                                or compiled._openblas() is None,
                                reason="the pool of the pthreads team, as Linux shows it in /proc (and teams: "
                                       "they need an OpenBLAS whose threads can be set)")


def pool_threads():
    """The thread ids of this process's pool threads (named nn-team)."""
    found = set()
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/comm") as f:
                if f.read().strip() == "nn-team":
                    found.add(int(tid))
        except FileNotFoundError:  # a thread that ended meanwhile
            pass
    return found


@pytest.fixture
def two_threads(monkeypatch):
    """Two threads for every call, and a team for any work worth two threads."""
    monkeypatch.setattr(compiled, "INFERENCE_TEAM_MIN_WORK", 0)
    monkeypatch.setattr(compiled, "TEAM_MIN_WORK", 0)
    before = nn.get_num_threads() if os.environ.get("NN_NUM_THREADS") else None
    nn.set_num_threads(2)
    yield
    nn.set_num_threads(before)


def problem(rng, rows=1024):
    net = nn.Network([30, 40, 5], seed=0)
    X = rng.normal(size=(rows, 30))
    y = rng.integers(0, 5, size=rows)
    return net, X, y


def test_the_pool_keeps_its_threads_between_calls(two_threads, rng):
    net, X, _ = problem(rng)
    first = net.forward(X)
    assert _infer._team_last_call()[1] >= 0  # this call used inference's pool
    kept = pool_threads()
    assert kept, "no pool thread after a call on two threads"
    for _ in range(20):
        np.testing.assert_array_equal(net.forward(X), first)
        assert _infer._team_last_call()[1] >= 0
    assert pool_threads() == kept  # the same threads: none started, none ended


def test_training_and_inference_each_keep_a_pool(two_threads, rng):
    """Each module that runs teams (nn._train, nn._infer) has a pool of its own."""
    net, X, y = problem(rng)
    net.forward(X)
    nn.Trainer(net, batch_size=512, seed=0).fit(X, y, epochs=1, verbose=False)
    kept = pool_threads()
    assert len(kept) >= 2
    nn.Trainer(net, batch_size=512, seed=0).fit(X, y, epochs=2, verbose=False)
    net.forward(X)
    assert pool_threads() == kept


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2,
                    reason="needs two processors to choose from")
def test_pool_threads_wake_off_the_callers_processor_then_may_go_anywhere(two_threads, rng):
    """On a machine with a processor free, the woken thread is sent off the caller's processor (on a VM
    Linux would wake it on the caller's), then frees itself: after the call it may run on every
    processor the caller may."""
    net, X, _ = problem(rng)
    steered = []
    for _ in range(20):
        time.sleep(0.03)  # idle a while: a VM's scheduler then wakes a thread on the caller's processor
        net.forward(X)
        was_steered, caller_cpu, woke_on = _infer._team_last_call()
        assert caller_cpu >= 0 and woke_on >= 0
        if was_steered:
            assert woke_on != caller_cpu
        steered.append(was_steered)
    if not any(steered):
        pytest.skip("never a free processor in 20 calls: the machine is busy")
    allowed = os.sched_getaffinity(0)
    for tid in pool_threads():
        assert os.sched_getaffinity(tid) == allowed


def _child(queue, X, y):
    try:
        net = nn.Network([30, 40, 5], seed=0)
        out = net.forward(X)
        nn.Trainer(net, batch_size=512, seed=0).fit(X, y, epochs=2, verbose=False)
        queue.put((out, net.theta.copy()))
    except BaseException as error:  # pragma: no cover - reported to the parent
        queue.put(repr(error))


def test_a_child_made_by_fork_never_waits_for_the_parents_pool(two_threads, rng):
    """The parent's pool threads do not exist in a child made by fork(): a child that used them would
    wait for them forever."""
    net, X, y = problem(rng)
    out = net.forward(X)
    nn.Trainer(net, batch_size=512, seed=0).fit(X, y, epochs=2, verbose=False)
    assert pool_threads()
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_child, args=(queue, X, y))
    child.start()
    try:  # read before joining: the child exits only once its result is through the pipe
        result = queue.get(timeout=60)
    except Exception:
        child.kill()
        pytest.fail("the child made by fork() hung in a team call")
    child.join(30)
    assert not isinstance(result, str), result
    child_out, child_theta = result
    np.testing.assert_array_equal(child_out, out)
    np.testing.assert_array_equal(child_theta, net.theta)


def test_calls_from_several_threads_at_once_get_their_own_answers(two_threads, rng):
    """Four Python threads, two training networks of their own and two predicting, each call on two
    threads of the core: one call holds the pool, the others start threads of their own; every call gets
    the answer it gets alone. (A training team's threads each take a fixed share of every batch: a
    thread lent to two calls at once would leave one waiting forever.)"""
    data = [(rng.normal(size=(2048, 200)), rng.integers(0, 10, size=2048)) for _ in range(2)]
    inputs = [rng.normal(size=(int(rng.integers(1500, 4000)), 200)) for _ in range(2 * 10)]

    def train(t):
        net = nn.Network([200, 256, 10], seed=t)
        for _ in range(3):
            nn.Trainer(net, batch_size=512, seed=0).fit(*data[t], epochs=1, verbose=False)
        return net.theta.copy()

    predictor = nn.Network([200, 256, 10], seed=5)
    expected = {"train": [train(t) for t in range(2)], "predict": [predictor.forward(X) for X in inputs]}
    got = {"train": [None, None], "predict": [None] * len(inputs)}
    start = threading.Barrier(4)

    def serve(t):
        start.wait()
        if t < 2:
            got["train"][t] = train(t)
        else:
            for i in range(t - 2, len(inputs), 2):
                got["predict"][i] = predictor.forward(inputs[i])

    workers = [threading.Thread(target=serve, args=(t,), daemon=True) for t in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    assert not any(w.is_alive() for w in workers), "a call hung"
    for kind in ("train", "predict"):
        for a, b in zip(got[kind], expected[kind]):
            np.testing.assert_array_equal(a, b)
