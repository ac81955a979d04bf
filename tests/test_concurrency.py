"""Serving one network from many threads: every call gets exactly its own rows, whatever runs beside
it; training one network from two threads at once is refused."""
import threading

import numpy as np
import pytest

import nn

BACKENDS = ["compiled", "reference"]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("output", ["softmax", "sigmoid"])
def test_eight_threads_predicting_with_one_network_get_the_sequential_answers(rng, backend, output):
    """8 threads x 50 calls of forward / predict / evaluate on one network, batch sizes shared between
    threads (the compiled backend once kept one scratch buffer per network and batch size, and calls of
    the same size returned each other's rows)."""
    net = nn.Network([20, 64, 32, 5 if output == "softmax" else 1], activation="relu", output=output, seed=0,
                     backend=backend)
    trainer = nn.Trainer(net, loss="cross_entropy" if output == "softmax" else "binary_cross_entropy")
    inputs = [rng.normal(size=(int(rng.choice([1, 16, 16, 64, 300])), 20)) for _ in range(8 * 50)]
    labels = [rng.integers(0, 5, size=len(X)) if output == "softmax" else rng.integers(0, 2, size=len(X))
              for X in inputs]
    expected = [(net.forward(X), net.predict(X), trainer.evaluate(X, y)) for X, y in zip(inputs, labels)]
    results = [None] * len(inputs)
    start = threading.Barrier(8)

    def serve(t):
        start.wait()
        for i in range(t, len(inputs), 8):
            results[i] = (net.forward(inputs[i]), net.predict(inputs[i]), trainer.evaluate(inputs[i], labels[i]))

    threads = [threading.Thread(target=serve, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for (A, p, logs), (A_seq, p_seq, logs_seq) in zip(results, expected):
        np.testing.assert_array_equal(A, A_seq)
        np.testing.assert_array_equal(p, p_seq)
        assert logs == logs_seq


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_second_fit_of_the_same_network_from_another_thread_is_refused(rng, backend):
    X, y = rng.normal(size=(64, 4)), rng.integers(0, 3, size=64)
    net = nn.Network([4, 8, 3], activation="tanh", output="softmax", seed=0, backend=backend)
    started, checked = threading.Event(), threading.Event()
    errors = []

    def hold(epoch, logs):  # the first fit waits inside its first epoch's callback
        started.set()
        checked.wait(10)

    def first():
        try:
            nn.Trainer(net, seed=0).fit(X, y, epochs=2, callbacks=[hold], verbose=False)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=first)
    thread.start()
    try:
        assert started.wait(10)
        with pytest.raises(RuntimeError, match="already being trained"):
            nn.Trainer(net, seed=1).fit(X, y, epochs=1, verbose=False)
        other = nn.Network([4, 8, 3], activation="tanh", output="softmax", seed=0, backend=backend)
        nn.Trainer(other, seed=1).fit(X, y, epochs=1, verbose=False)  # another network trains meanwhile
    finally:
        checked.set()
        thread.join()
    assert not errors
    nn.Trainer(net, seed=1).fit(X, y, epochs=1, verbose=False)  # and the network is free again after


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_fit_that_fails_frees_the_network(rng, backend):
    X, y = rng.normal(size=(64, 4)), rng.integers(0, 3, size=64)
    net = nn.Network([4, 8, 3], activation="tanh", output="softmax", seed=0, backend=backend)

    def fail(epoch, logs):
        raise RuntimeError("a callback's own error")

    with pytest.raises(RuntimeError, match="callback's own"):
        nn.Trainer(net).fit(X, y, epochs=2, callbacks=[fail], verbose=False)
    nn.Trainer(net).fit(X, y, epochs=1, verbose=False)
