"""nn.interrupts.deferred: Ctrl-C inside the block waits for a safe point."""
import signal
import threading

import pytest

from nn import interrupts


def test_a_sigint_inside_the_block_is_raised_at_its_end():
    steps = []
    with pytest.raises(KeyboardInterrupt):
        with interrupts.deferred():
            signal.raise_signal(signal.SIGINT)
            steps.append("after the signal")  # still runs: the block is not cut
    assert steps == ["after the signal"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_check_is_the_safe_point():
    done = []
    with pytest.raises(KeyboardInterrupt):
        with interrupts.deferred() as ctrl_c:
            for i in range(5):
                ctrl_c.check()
                if i == 2:
                    signal.raise_signal(signal.SIGINT)
                done.append(i)
    assert done == [0, 1, 2]


def test_nothing_happens_without_a_signal_and_the_handler_is_put_back():
    with interrupts.deferred() as ctrl_c:
        ctrl_c.check()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_handler_of_the_users_own_runs_once_at_the_end():
    calls = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: calls.append(signum))
    try:
        with interrupts.deferred():
            signal.raise_signal(signal.SIGINT)
            assert calls == []
        assert calls == [signal.SIGINT]
    finally:
        signal.signal(signal.SIGINT, previous)


def test_an_ignored_sigint_stays_ignored():
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with interrupts.deferred():
            signal.raise_signal(signal.SIGINT)
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN  # put back, and nothing raised
    finally:
        signal.signal(signal.SIGINT, previous)


def test_outside_the_main_thread_it_does_nothing():
    errors = []

    def run():
        try:
            with interrupts.deferred() as ctrl_c:
                ctrl_c.check()
        except Exception as exc:  # signal.signal would raise ValueError outside the main thread
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert errors == []
