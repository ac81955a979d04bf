"""What a fit shows while it runs (``Trainer.fit(verbose=...)``), on stderr.

- ``verbose=True`` (or 1): one progress bar for the whole fit, moving within epochs, with the last
  epoch's figures, when stderr is a terminal; otherwise (a log file, a pipe, CI) only one summary line
  at the end, so that a redirected run of 1,000 epochs writes one line, not 1,000 finished bars.
- ``verbose=2``: one line per epoch (its figures), terminal or not.
- ``verbose=False`` (or 0): nothing.
"""
import sys
import time

MODES = {0: "silent", 1: "bar", 2: "lines"}


def mode(verbose, stream=None):
    """"silent", "bar", "lines" or "summary" (a bar asked for where no terminal shows it)."""
    if isinstance(verbose, bool) or verbose in MODES:
        name = MODES[int(verbose)]
    else:
        raise ValueError(f"verbose must be True / 1 (a progress bar), 2 (a line per epoch) or False / 0, "
                         f"got {verbose!r}")
    stream = sys.stderr if stream is None else stream
    if name == "bar" and not (hasattr(stream, "isatty") and stream.isatty()):
        return "summary"
    return name


def describe(logs):
    """'loss 0.1234, accuracy 0.9500, val_loss 0.2345, val_accuracy 0.9300, lr 0.001' for an epoch's
    logs: the figures to 4 decimals, then the learning rate as it was given (seconds left out)."""
    figures = [f"{key} {value:.4f}" for key, value in logs.items() if key not in ("seconds", "learning_rate")]
    if "learning_rate" in logs:
        figures.append(f"lr {logs['learning_rate']:g}")
    return ", ".join(figures)


class Progress:
    """The display of one fit of ``epochs`` epochs over ``n_samples`` samples, in mode ``kind``, whose
    epochs go to ``history``. A context manager: it closes (the bar, or the summary line) however the
    fit ends."""

    def __init__(self, kind, epochs, n_samples, history):
        self.kind, self.epochs, self.n_samples, self.history = kind, epochs, n_samples, history
        self.start = time.perf_counter()
        self.bar = None
        if kind == "bar":
            from tqdm.auto import tqdm

            self.bar = tqdm(total=epochs * n_samples, desc=f"epoch 1/{epochs}", unit="sample", file=sys.stderr,
                            dynamic_ncols=True, mininterval=0.2, leave=True)

    @property
    def within_epochs(self):
        """Whether it moves during an epoch (the trainer then runs each epoch in pieces)."""
        return self.bar is not None

    @property
    def per_epoch(self):
        """Whether it shows something after every epoch (the trainer then returns to Python each epoch)."""
        return self.kind in ("bar", "lines")

    def advance(self, samples):
        if self.bar is not None:
            self.bar.update(samples)

    def epoch_done(self, epoch, logs):
        if self.bar is not None:
            self.bar.set_description(f"epoch {min(epoch + 1, self.epochs)}/{self.epochs}", refresh=False)
            self.bar.set_postfix_str(describe(logs))
        elif self.kind == "lines":
            print(f"epoch {epoch}/{self.epochs}: {describe(logs)}", file=sys.stderr)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def close(self):
        history, seconds = self.history, time.perf_counter() - self.start
        if self.bar is not None:
            self.bar.close()
        if self.kind == "summary" and len(history):
            last = {key: values[-1] for key, values in history.logs.items() if values}
            stopped = " (interrupted)" if history.interrupted else " (stopped early)" if history.stopped_early else ""
            print(f"{len(history)} epochs in {seconds:.1f} s{stopped}: {describe(last)}", file=sys.stderr)
