"""Ctrl-C at a safe moment: blocks of Python code that must not be cut in the middle.

Python raises KeyboardInterrupt between any two bytecodes of the main thread. An optimizer step that
has updated Adam's moments but not yet the weights, or a snapshot half copied back, would then leave
the network and its optimizer out of step. Inside ``deferred()`` a Ctrl-C is only recorded: it takes
effect at the block's next ``check()`` (a safe point, such as between two batches) or when the block
ends, by running the handler that was in place (normally: raise KeyboardInterrupt).
"""
import signal
import threading


class deferred:
    """``with deferred() as ctrl_c:`` ... ``ctrl_c.check()`` ...: SIGINT handled at safe points only.
    Outside the main thread (where Python delivers no signals) it does nothing."""

    def __enter__(self):
        self.received = None  # the frame of a recorded SIGINT
        self._previous = None
        if threading.current_thread() is threading.main_thread():
            handler = signal.getsignal(signal.SIGINT)
            if handler is not None:  # None: set outside Python, and could not be put back
                self._previous = signal.signal(signal.SIGINT, self._record)
        return self

    def _record(self, signum, frame):
        self.received = frame

    def check(self):
        """Handle a SIGINT recorded so far (normally: raise KeyboardInterrupt here)."""
        if self.received is not None:
            frame, self.received = self.received, None
            _deliver(self._previous, frame)

    def __exit__(self, exc_type, exc, tb):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        if exc_type is None:
            self.check()
        return False


def _deliver(handler, frame):
    """Do what ``handler`` (a signal.signal handler) would have done with the SIGINT."""
    if callable(handler):
        handler(signal.SIGINT, frame)
    elif handler == signal.SIG_DFL:
        signal.raise_signal(signal.SIGINT)
    # SIG_IGN: ignored, as it would have been
