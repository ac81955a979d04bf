"""History: what a fit records, epoch by epoch (Trainer.fit returns one)."""


class History:
    """Per-epoch logs of a fit: ``loss``, ``accuracy``, ``val_loss``, ``val_accuracy``, ``learning_rate``
    (the rate the epoch trained at), ``seconds``.

    ``history["loss"]`` and ``history.loss`` are the same list. Accuracy is recorded for classifiers
    (softmax or sigmoid outputs) only; validation figures only with validation data.
    """

    KEYS = ("loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "seconds")

    def __init__(self):
        self.epochs = 0
        self.logs = {key: [] for key in self.KEYS}
        self.stopped_early = False
        self.best_epoch = None
        self.interrupted = False

    def append(self, logs):
        """Record one epoch: each value of ``logs`` (keys among KEYS) at the end of its key's list."""
        self.epochs += 1
        for key, value in logs.items():
            self.logs[key].append(value)

    @property
    def history(self):
        """The per-epoch logs as one dict {key: [value per epoch]}, as Keras names it."""
        return self.logs

    def __getitem__(self, key):
        return self.logs[key]

    def __getattr__(self, key):
        if key in History.KEYS:
            return self.logs[key]
        raise AttributeError(key)

    def __len__(self):
        return self.epochs

    def __repr__(self):
        last = {k: round(v[-1], 6) for k, v in self.logs.items() if v}
        return f"History(epochs={self.epochs}, last={last})"
