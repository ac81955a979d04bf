"""Trainer.fit: batches, seeds, history, validation, early stopping, callbacks, failures."""
import re

import numpy as np
import pytest
from conftest import fit_until_ctrl_c

import nn
from nn.backends import get as get_backend


def blobs(rng, n=120, n_features=4, n_classes=3):
    centers = rng.normal(scale=4, size=(n_classes, n_features))
    y = rng.integers(0, n_classes, size=n)
    return centers[y] + rng.normal(size=(n, n_features)), y


def make(seed=0, **kwargs):
    net = nn.Network([4, 8, 3], activation="tanh", output="softmax", seed=seed)
    return net, nn.Trainer(net, optimizer=kwargs.pop("optimizer", nn.SGD(0.1)), seed=seed, **kwargs)


@pytest.mark.parametrize("batch_size", [1, 7, 32, None])
@pytest.mark.parametrize("make_optimizer", [lambda: nn.SGD(0.05), lambda: nn.Momentum(0.05, 0.9, nesterov=True),
                                            lambda: nn.RMSprop(0.01), lambda: nn.Adam(0.01, weight_decay=1e-3)],
                         ids=lambda make: repr(make()))
def test_training_lowers_the_loss(rng, batch_size, make_optimizer):
    X, y = blobs(rng)
    net, trainer = make(batch_size=batch_size, optimizer=make_optimizer())  # fresh: no state from another case
    before = trainer.evaluate(X, y)["loss"]
    history = trainer.fit(X, y, epochs=15, verbose=False)
    assert history.loss[-1] < before
    assert trainer.evaluate(X, y)["loss"] < before
    assert history.accuracy[-1] > 0.8
    assert set(history.logs) == set(nn.History.KEYS) and len(history.seconds) == 15


def test_same_seed_gives_identical_weights(rng):
    X, y = blobs(rng)
    results = []
    for _ in range(2):
        net, trainer = make(seed=11, batch_size=7)
        trainer.fit(X, y, epochs=3, verbose=False)
        results.append(net.theta)
    np.testing.assert_array_equal(results[0], results[1])
    net, trainer = make(seed=12, batch_size=7)
    trainer.fit(X, y, epochs=3, verbose=False)
    assert not np.array_equal(net.theta, results[0])


def test_one_hot_and_class_id_labels_train_the_same(rng):
    X, y = blobs(rng)
    a, ta = make(seed=5)
    b, tb = make(seed=5)
    ta.fit(X, y, epochs=2, verbose=False)
    tb.fit(X, np.eye(3)[y], epochs=2, verbose=False)
    np.testing.assert_array_equal(a.theta, b.theta)


def test_full_batch_is_gradient_descent(rng):
    X, y = blobs(rng, n=20)
    net, trainer = make(batch_size=None)
    theta = net.theta
    loss, grad = get_backend(net.backend).gradients(net, X, np.eye(3)[y], "cross_entropy")
    trainer.fit(X, y, epochs=1, verbose=False)
    np.testing.assert_allclose(net.theta, theta - 0.1 * grad, rtol=1e-12, atol=1e-15)


def test_validation_data_and_split(rng):
    X, y = blobs(rng)
    net, trainer = make()
    history = trainer.fit(X[:100], y[:100], epochs=2, validation_data=(X[100:], y[100:]), verbose=False)
    assert len(history.val_loss) == 2 and len(history.val_accuracy) == 2
    net2, trainer2 = make()
    history2 = trainer2.fit(X, y, epochs=2, validation_split=20 / 120, verbose=False)
    np.testing.assert_allclose(history2.val_loss, history.val_loss, rtol=1e-12)
    with pytest.raises(ValueError, match="not both"):
        trainer.fit(X, y, validation_data=(X, y), validation_split=0.1, verbose=False)
    with pytest.raises(ValueError, match="validation_split must be a fraction"):
        trainer.fit(X, y, validation_split=1.5, verbose=False)


def test_early_stopping_restores_the_best_weights(rng):
    X, y = rng.normal(size=(120, 4)), rng.integers(0, 3, size=120)  # noise: validation loss soon rises
    net, trainer = make(optimizer=nn.SGD(0.5))
    seen = {}
    history = trainer.fit(X[:90], y[:90], epochs=200, validation_data=(X[90:], y[90:]),
                          early_stopping=nn.EarlyStopping(patience=3),
                          callbacks=[lambda epoch, logs: seen.__setitem__(epoch, net.theta)], verbose=False)
    assert history.stopped_early and len(history) < 200
    best = history.best_epoch
    assert history.val_loss[best - 1] == min(history.val_loss)
    assert len(history) == best + 3
    np.testing.assert_array_equal(net.theta, seen[best])


def test_an_early_stopping_object_serves_several_fits(rng):
    """Its default monitor is chosen per fit (val_loss with validation data, else loss), not stored."""
    X, y = blobs(rng)
    stopper = nn.EarlyStopping(patience=2)
    _, trainer = make()
    trainer.fit(X[:90], y[:90], epochs=3, validation_data=(X[90:], y[90:]), early_stopping=stopper, verbose=False)
    trainer.fit(X, y, epochs=3, early_stopping=stopper, verbose=False)  # no validation data this time
    assert stopper.monitor is None


def test_early_stopping_needs_validation_for_val_metrics(rng):
    X, y = blobs(rng)
    _, trainer = make()
    with pytest.raises(ValueError, match="no validation data"):
        trainer.fit(X, y, early_stopping=nn.EarlyStopping(monitor="val_loss"), verbose=False)


def test_callbacks_see_logs_and_may_stop(rng):
    X, y = blobs(rng)
    _, trainer = make()
    calls = []

    class Recorder:
        def on_epoch_end(self, epoch, logs):
            calls.append((epoch, sorted(logs)))

    history = trainer.fit(X, y, epochs=10, callbacks=[Recorder(), lambda epoch, logs: epoch == 4], verbose=False)
    assert len(history) == 4
    assert calls[0] == (1, ["accuracy", "learning_rate", "loss", "seconds"])


def test_nan_loss_stops_with_a_clear_error_and_keeps_the_last_good_weights(rng):
    X, y = blobs(rng)
    net = nn.Network([4, 8, 1], activation="relu", output="identity", seed=0)
    optimizer = nn.Momentum(0.001, 0.9)
    trainer = nn.Trainer(net, loss="mse", optimizer=optimizer, batch_size=4, seed=0)
    good = {}

    def record_then_break(epoch, logs):
        good[epoch] = (net.theta, optimizer.state["velocity"][0].copy(), optimizer.steps)
        if epoch == 3:
            optimizer.learning_rate = 1e4  # a bad schedule: epoch 4 blows up

    with pytest.raises(nn.TrainingDiverged, match=r"the loss or the weights became .* in epoch 4; .* end of epoch 3. Try a lower learning rate"):
        trainer.fit(X, y.astype(float), epochs=10, verbose=False, callbacks=[record_then_break])
    theta, velocity, steps = good[3]
    np.testing.assert_array_equal(net.theta, theta)
    np.testing.assert_array_equal(optimizer.state["velocity"][0], velocity)
    assert optimizer.steps == steps and max(good) == 3


def test_nan_loss_in_the_many_epochs_path_rolls_back_too(rng):
    """No callbacks: all epochs run in one backend call, which keeps each epoch's start itself."""
    X, y = blobs(rng)
    net = nn.Network([4, 8, 1], activation="relu", output="identity", seed=0)
    start = net.theta
    trainer = nn.Trainer(net, loss="mse", optimizer=nn.SGD(0.001), batch_size=4, seed=0)
    history = trainer.fit(X, y.astype(float), epochs=3, verbose=False)
    after_three = net.theta
    trainer.optimizer.learning_rate = 10.0
    with pytest.raises(nn.TrainingDiverged, match="in epoch 1; .* end of epoch 0"):
        trainer.fit(X, y.astype(float), epochs=20, verbose=False)
    np.testing.assert_array_equal(net.theta, after_three)
    assert trainer.optimizer.steps == 3 * 30 and len(history) == 3 and not np.array_equal(start, after_three)


@pytest.mark.parametrize("backend", ["compiled", "reference"])
def test_a_late_divergence_in_one_backend_call_rolls_back_as_epoch_by_epoch(backend, rng):
    """Many epochs in one backend call: the backend's snapshot keeps the diverged epoch's start, the
    optimizer's state and its step count with it, as when the trainer looks after every epoch."""
    X, y = rng.normal(size=(10, 3)), rng.normal(size=(10, 1))
    runs = []
    for callbacks in ([], [lambda epoch, logs: None]):  # a callback: one epoch per backend call
        net = nn.Network([3, 1], activation="identity", output="identity", seed=0, backend=backend)
        trainer = nn.Trainer(net, loss="mse", optimizer=nn.Momentum(1.0, 0.9), batch_size=3, seed=0)
        with pytest.raises(nn.TrainingDiverged) as diverged:
            trainer.fit(X, y, epochs=1000, verbose=False, callbacks=callbacks)
        epoch = int(re.search(r"in epoch (\d+);", str(diverged.value)).group(1))
        runs.append((epoch, net.theta, trainer.optimizer.state["velocity"][0].copy(), trainer.optimizer.steps))
    (epoch, theta, velocity, steps), by_epoch = runs
    assert epoch == by_epoch[0] > 2 and steps == by_epoch[3] == (epoch - 1) * 4  # ceil(10 / 3) updates an epoch
    np.testing.assert_array_equal(theta, by_epoch[1])
    np.testing.assert_array_equal(velocity, by_epoch[2])
    assert np.isfinite(theta).all()


@pytest.mark.parametrize("verbose", [False, True])
def test_ctrl_c_returns_the_history_so_far(rng, verbose):
    """A real SIGINT in the middle of training: fit returns, history and weights intact."""
    X = rng.normal(size=(2000, 20))
    y = rng.integers(0, 3, size=2000)
    net = nn.Network([20, 64, 3], activation="relu", output="softmax", seed=0)
    trainer = nn.Trainer(net, optimizer=nn.Adam(1e-3), batch_size=1, seed=0)
    trainer.fit(X, y, epochs=1, verbose=False)  # warm-up: imports and buffers
    history = fit_until_ctrl_c(trainer, X, y, verbose=verbose)
    assert history.interrupted
    assert len(history) < 10_000 and len(history.loss) == len(history)
    assert np.isfinite(net.theta).all()
    assert trainer.optimizer.steps >= 2000 * (1 + len(history))


class Terminal:
    """stderr as a terminal, for the progress bar."""

    def __init__(self):
        import io

        self.buffer = io.StringIO()

    def isatty(self):
        return True

    def write(self, text):
        return self.buffer.write(text)

    def flush(self):
        pass


def test_one_progress_bar_for_the_whole_fit_on_a_terminal(rng, monkeypatch):
    X, y = blobs(rng)
    _, trainer = make()
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    trainer.fit(X, y, epochs=30, verbose=True)
    out = terminal.buffer.getvalue()
    assert "epoch 30/30" in out and "loss 0." in out and "3600/3600" in out
    assert out.count("\n") <= 1  # one bar, redrawn in place, left when done


def test_a_redirected_fit_writes_one_summary_line(rng, capsys):
    """stderr is not a terminal (pytest captures it): 1000 epochs, one line, not 1000 finished bars."""
    X, y = blobs(rng)
    _, trainer = make()
    trainer.fit(X, y, epochs=1000, verbose=True)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("1000 epochs in ") and "loss 0." in err


def test_verbose_2_is_a_line_per_epoch_and_false_is_silence(rng, capsys):
    X, y = blobs(rng)
    _, trainer = make()
    trainer.fit(X, y, epochs=3, verbose=2, validation_split=0.2)
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(":")[0] for line in lines] == ["epoch 1/3", "epoch 2/3", "epoch 3/3"]
    assert "val_loss" in lines[-1] and "accuracy" in lines[-1]
    trainer.fit(X, y, epochs=3, verbose=False)
    assert capsys.readouterr().err == ""
    with pytest.raises(ValueError, match="verbose must be"):
        trainer.fit(X, y, verbose=3)


def test_early_stopping_without_validation_says_it_watches_the_training_loss(rng, capsys):
    X, y = blobs(rng)
    _, trainer = make()
    history = trainer.fit(X, y, epochs=500, early_stopping=nn.EarlyStopping(3, min_delta=0.01), verbose=True)
    err = capsys.readouterr().err
    assert "early stopping watches the training loss (there is no validation data)" in err
    assert history.stopped_early and "(stopped early)" in err
    trainer.fit(X, y, epochs=5, early_stopping=3, validation_split=0.2, verbose=True)
    assert "watches the training loss" not in capsys.readouterr().err


@pytest.mark.parametrize("call, error, match", [
    (lambda t, X, y: t.fit(X, y[:-1], verbose=False), ValueError, "X has 120 samples but y has 119"),
    (lambda t, X, y: t.fit(X[:, :3], y, verbose=False), ValueError, "X has 3 features but the network expects 4"),
    (lambda t, X, y: t.fit(np.where(X > 3, np.nan, X), y, verbose=False), ValueError, "X contains NaN"),
    (lambda t, X, y: t.fit(X, np.where(y == 0, np.inf, y), verbose=False), ValueError, "y contains NaN"),
    (lambda t, X, y: t.fit(X, y + 1.5, verbose=False), ValueError, r"integers in 0..2"),
    (lambda t, X, y: t.fit(X, np.r_[y[:-1], 3], verbose=False), ValueError, r"integers in 0..2"),
    (lambda t, X, y: t.fit(X, y - 0.5, verbose=False), ValueError, r"integers in 0..2"),
    (lambda t, X, y: t.fit(X[:0], y[:0], verbose=False), ValueError, "X is empty"),
    (lambda t, X, y: t.fit(X.astype(str), y, verbose=False), TypeError, "X must be numeric"),
    (lambda t, X, y: t.fit(X, y, epochs=0, verbose=False), ValueError, "epochs must be >= 1"),
    (lambda t, X, y: t.fit(X, np.ones((120, 2)), verbose=False), ValueError, "y has 2 columns but the network has 3"),
])
def test_bad_fit_input(rng, call, error, match):
    X, y = blobs(rng)
    _, trainer = make()
    with pytest.raises(error, match=match):
        call(trainer, X, y)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(loss="hinge"), ValueError, "unknown loss 'hinge'; expected one of: binary_cross_entropy"),
    (dict(optimizer="adagrad"), ValueError, "unknown optimizer 'adagrad'; expected one of: adam"),
    (dict(optimizer=object()), TypeError, "optimizer must be"),
    (dict(batch_size=0), ValueError, "batch_size must be >= 1"),
    (dict(batch_size=2.0), TypeError, "batch_size must be an integer"),
])
def test_bad_trainer_arguments(kwargs, error, match):
    net = nn.Network([4, 8, 3], output="softmax")
    with pytest.raises(error, match=match):
        nn.Trainer(net, **kwargs)


def test_augment_changes_each_epochs_inputs_reproducibly(rng):
    X, y = blobs(rng)
    seen = []

    def augment(X_, rng_, epoch):
        seen.append(epoch)
        return X_ + rng_.normal(scale=0.1, size=X_.shape)

    thetas = []
    for _ in range(2):
        net, trainer = make(seed=4)
        trainer.fit(X, y, epochs=3, augment=augment, verbose=False)
        thetas.append(net.theta)
    assert seen == [1, 2, 3, 1, 2, 3]
    np.testing.assert_array_equal(thetas[0], thetas[1])
    net, trainer = make(seed=4)
    trainer.fit(X, y, epochs=3, verbose=False)
    assert not np.array_equal(net.theta, thetas[0])
    with pytest.raises(ValueError, match="augment must return an array of X's shape"):
        trainer.fit(X, y, augment=lambda X_, r, e: X_[:10], verbose=False)
    with pytest.raises(TypeError, match="augment must be a function"):
        trainer.fit(X, y, augment=3, verbose=False)


@pytest.mark.parametrize("batch_size", [1, 5])
def test_weight_trace_records_every_step(rng, batch_size):
    X, y = blobs(rng, n=20)
    net, trainer = make(batch_size=batch_size)
    trace = nn.WeightTrace(layer=1, source=2, target=1)
    start = net.layers[1].W[2, 1]
    trainer.fit(X, y, epochs=2, callbacks=[trace], verbose=False)
    steps = 2 * -(-20 // batch_size)
    assert len(trace.weights) == len(trace.gradients) == len(trace.losses) == steps
    assert trace.weights[0] == start
    # plain SGD: each step moves the weight by -learning_rate x its gradient
    np.testing.assert_allclose(np.diff(trace.weights + [net.layers[1].W[2, 1]]), -0.1 * np.array(trace.gradients),
                               rtol=1e-9, atol=1e-15)
    with pytest.raises(ValueError, match="outside layer 0"):
        trainer.fit(X, y, callbacks=[nn.WeightTrace(0, 9, 0)], verbose=False)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("parallel_from", [1, 1 << 22])
def test_all_finite_finds_every_bad_value_on_one_thread_or_two(dtype, parallel_from):
    from nn.validation import all_finite

    n = 1001  # odd: the halves differ in length; chunk 64: pieces end mid-half
    for bad in (np.nan, np.inf, -np.inf):
        for where in (0, n // 2 - 1, n // 2, n // 2 + 1, n - 1):
            X = np.zeros(n, dtype=dtype)
            assert all_finite(X, chunk=64, parallel_from=parallel_from)
            X[where] = bad
            assert not all_finite(X, chunk=64, parallel_from=parallel_from), (bad, where)
            assert not all_finite(X.reshape(7, 143), chunk=64, parallel_from=parallel_from)


def test_a_large_X_with_one_nan_is_rejected_before_training():
    """MNIST-sized: the check runs on two threads."""
    X = np.zeros((6000, 784))
    X[-1, -1] = np.nan
    net = nn.Network([784, 10], output="softmax", seed=0)
    before = net.theta.copy()
    with pytest.raises(ValueError, match="X contains NaN"):
        nn.Trainer(net, loss="cross_entropy").fit(X, np.zeros(6000, dtype=int), verbose=False)
    assert np.array_equal(net.theta, before)


# ----- nothing silently wrong -------------------------------------------------------------------------
BOTH = ["compiled", "reference"]


@pytest.mark.parametrize("backend", BOTH)
@pytest.mark.parametrize("batch_size", [None, 2])
def test_an_update_that_overflows_the_weights_is_divergence_even_if_the_loss_was_finite(backend, batch_size):
    """A batch's loss is computed before its update: when the epoch's last update overflows the weights,
    the loss is finite, but the weights are not. fit raises and keeps the epoch's start."""
    X = np.full((4, 3), 1e10)
    y = np.ones((4, 2))
    net = nn.Network([3, 2], activation="identity", output="identity", seed=0, backend=backend)
    start = net.theta
    trainer = nn.Trainer(net, loss="mse", optimizer=nn.SGD(1e300), batch_size=batch_size, seed=0)
    assert np.isfinite(trainer.evaluate(X, y)["loss"])
    for verbose in (False, True):
        with pytest.raises(nn.TrainingDiverged, match="the loss or the weights became .* in epoch 1;"):
            trainer.fit(X, y, epochs=1, verbose=verbose)
        np.testing.assert_array_equal(net.theta, start)


@pytest.mark.parametrize("backend", BOTH)
def test_after_fit_the_weights_are_finite_or_it_raised(backend, rng):
    """Learning rates from fine to absurd: every fit ends with finite weights or TrainingDiverged (and then
    the weights of the last epoch that ended finite, here the start)."""
    X, y = blobs(rng)
    for rate in (0.1, 10.0, 1e6, 1e30, 1e300):
        net = nn.Network([4, 8, 3], activation="relu", output="softmax", seed=0, backend=backend)
        start = net.theta
        try:
            nn.Trainer(net, optimizer=nn.SGD(rate), batch_size=16, seed=0).fit(X, y, epochs=1, verbose=False)
        except nn.TrainingDiverged:
            np.testing.assert_array_equal(net.theta, start)
        assert np.isfinite(net.theta).all()


@pytest.mark.parametrize("backend", BOTH)
def test_early_stopping_that_never_improves_keeps_finite_weights(backend, rng):
    """The monitored validation loss is inf every epoch (inputs that overflow the outputs): no epoch is
    ever "best", and stopping must not write NaN (no best weights) into the network."""
    X, y = blobs(rng)
    net = nn.Network([4, 8, 1], activation="identity", output="identity", seed=0, backend=backend)
    trainer = nn.Trainer(net, loss="mse", optimizer=nn.SGD(1e-4), seed=0)
    X_val = np.full((5, 4), 1e300)
    history = trainer.fit(X, y.astype(float), epochs=10, validation_data=(X_val, np.zeros(5)),
                          early_stopping=2, verbose=False)
    assert history.stopped_early and history.best_epoch is None and len(history) == 2
    assert np.isinf(history.val_loss).all()
    assert np.isfinite(net.theta).all()


@pytest.mark.parametrize("min_delta", [float("nan"), float("inf"), "x", None, -0.1])
def test_early_stopping_min_delta_must_be_a_finite_number(min_delta):
    with pytest.raises((TypeError, ValueError), match="min_delta must be"):
        nn.EarlyStopping(min_delta=min_delta)


def test_early_stopping_accepts_numpy_numbers():
    assert nn.EarlyStopping(patience=np.int64(3), min_delta=np.float32(0.5)).min_delta == 0.5


@pytest.mark.parametrize("backend", BOTH)
def test_ctrl_c_while_the_shuffle_orders_are_drawn_returns_the_history(backend, rng, monkeypatch):
    X, y = blobs(rng)
    net = nn.Network([4, 8, 3], activation="tanh", output="softmax", seed=0, backend=backend)
    trainer = nn.Trainer(net, seed=0)
    calls = []
    permuted = trainer.rng.permuted

    class Generator:  # the trainer's generator, with Ctrl-C arriving in its third draw of orders
        def permuted(self, *args, **kwargs):
            calls.append(1)
            if len(calls) == 3:
                raise KeyboardInterrupt
            return permuted(*args, **kwargs)

    trainer.rng = Generator()
    history = trainer.fit(X, y, epochs=10, callbacks=[lambda epoch, logs: None], verbose=False)
    assert history.interrupted and len(history) == 2 and np.isfinite(net.theta).all()


def test_ctrl_c_in_a_callback_returns_the_history(rng):
    X, y = blobs(rng)
    net, trainer = make()

    def interrupt(epoch, logs):
        if epoch == 3:
            raise KeyboardInterrupt

    history = trainer.fit(X, y, epochs=10, callbacks=[interrupt], verbose=False)
    assert history.interrupted and len(history) == 3


class InterruptedAdam(nn.Adam):
    """Adam that receives a real SIGINT in the middle of its third update (after the step count moved,
    before the moments and weights did): an optimizer of the user's own runs the reference loop on
    both backends."""

    def _update(self, i, p, g):
        if self.steps == 3:
            import signal
            signal.raise_signal(signal.SIGINT)
        super()._update(i, p, g)


class ThetaBeforeEachBatch:
    def __init__(self):
        self.thetas = []

    def on_batch_begin(self, trainer, X, Y):
        self.thetas.append(trainer.net.theta)


@pytest.mark.parametrize("backend", BOTH)
def test_ctrl_c_lands_between_updates_never_inside_one(backend, rng):
    """The weights, moments and step count after an interrupt are exactly those after the last whole
    update: the third update completes, the fourth never starts."""
    X, y = blobs(rng, n=20)
    net = nn.Network([4, 8, 3], activation="tanh", output="softmax", seed=0, backend=backend)
    optimizer = InterruptedAdam(0.01)
    history = nn.Trainer(net, optimizer=optimizer, batch_size=1, seed=0).fit(X, y, epochs=1, verbose=False)
    assert history.interrupted and len(history) == 0
    assert optimizer.steps == 3
    # An optimizer of the user's own trains through the NumPy loop on either backend: compare with it.
    plain = nn.Network([4, 8, 3], activation="tanh", output="softmax", seed=0, backend="reference")
    trace = ThetaBeforeEachBatch()
    plain_adam = nn.Adam(0.01)
    nn.Trainer(plain, optimizer=plain_adam, batch_size=1, seed=0).fit(X, y, epochs=1, callbacks=[trace],
                                                                       verbose=False)
    np.testing.assert_array_equal(net.theta, trace.thetas[3])


def test_trainer_needs_a_network():
    with pytest.raises(TypeError, match="net must be an nn.Network, got None"):
        nn.Trainer(None)


@pytest.mark.parametrize("seed", [-1, 1.5, "0", True])
def test_trainer_seed_must_be_a_whole_number(seed):
    net = nn.Network([2, 1])
    with pytest.raises(ValueError, match="seed must be None or a whole number >= 0"):
        nn.Trainer(net, seed=seed)


def test_callbacks_none_is_no_callbacks_and_a_bare_callback_is_refused(rng):
    X, y = blobs(rng)
    net, trainer = make()
    assert len(trainer.fit(X, y, epochs=2, callbacks=None, verbose=False)) == 2
    with pytest.raises(TypeError, match=r"callbacks must be a list .* single callback"):
        trainer.fit(X, y, callbacks=lambda epoch, logs: None, verbose=False)
    with pytest.raises(TypeError, match=r"callbacks must be a list .* single callback"):
        trainer.fit(X, y, callbacks=nn.WeightTrace(), verbose=False)
    with pytest.raises(TypeError, match="callbacks must be a list"):
        trainer.fit(X, y, callbacks=3, verbose=False)


def test_validation_split_accepts_numpy_numbers(rng):
    X, y = blobs(rng)
    net, trainer = make()
    history = trainer.fit(X, y, epochs=1, validation_split=np.float32(0.25), verbose=False)
    assert len(history.val_loss) == 1


@pytest.mark.parametrize("bad_y, match", [
    (np.array([[1, 1, 0]] * 120), "one-hot rows or class probabilities"),       # multi-hot
    (np.array([[-1, 0, 0]] * 120), "one-hot rows or class probabilities"),      # negative one-hot
    (np.array([[0.5, 0.25, 0.2]] * 120), "one-hot rows or class probabilities"),  # sums to 0.95
])
def test_cross_entropy_targets_must_be_class_probabilities(rng, bad_y, match):
    X, _ = blobs(rng)
    net, trainer = make()
    with pytest.raises(ValueError, match=match):
        trainer.fit(X, bad_y, verbose=False)
    with pytest.raises(ValueError, match=match):
        trainer.evaluate(X, bad_y)


def test_cross_entropy_takes_soft_labels(rng):
    X, y = blobs(rng)
    net, trainer = make()
    soft = np.full((len(y), 3), 0.05)
    soft[np.arange(len(y)), y] = 0.9
    assert len(trainer.fit(X, soft.astype(np.float32), epochs=1, verbose=False)) == 1


@pytest.mark.parametrize("bad", [2.0, -0.5])
def test_binary_targets_must_be_in_0_1(rng, bad):
    X, y = blobs(rng)
    net = nn.Network([4, 8, 1], activation="tanh", output="sigmoid", seed=0)
    trainer = nn.Trainer(net, loss="binary_cross_entropy")
    targets = (y > 0).astype(float)
    targets[7] = bad
    with pytest.raises(ValueError, match=r"y must be in \[0, 1\] for binary_cross_entropy .*; row 7"):
        trainer.fit(X, targets, verbose=False)
    targets[7] = 0.3  # a probability is a fine target
    trainer.fit(X, targets, verbose=False)


def test_float32_inputs_beyond_its_range_are_an_error_not_inf(rng):
    X, y = blobs(rng)
    net = nn.Network([4, 8, 3], activation="tanh", output="softmax", seed=0, dtype="float32")
    X[3, 1] = 1e39
    with pytest.raises(ValueError, match="X has values too large for float32"):
        nn.Trainer(net).fit(X, y, verbose=False)
    with pytest.raises(ValueError, match="X has values too large for float32"):
        net.predict(X)


@pytest.mark.parametrize("backend", BOTH)
@pytest.mark.parametrize("min_delta", [0.0, 0.01, 0.05])
def test_early_stopping_in_blocks_decides_as_epoch_by_epoch(rng, backend, min_delta):
    """Without restoring weights, early stopping on the training loss lets fit run patience - wait epochs
    per backend call: the same stop, the same weights and history as looking after every epoch (which a
    callback forces)."""
    X, y = blobs(rng)
    results = []
    for callbacks in ([], [lambda epoch, logs: None]):
        net = nn.Network([4, 8, 3], activation="tanh", output="softmax", seed=0, backend=backend)
        stopper = nn.EarlyStopping(patience=4, min_delta=min_delta, restore_best_weights=False)
        history = nn.Trainer(net, optimizer=nn.SGD(0.05), batch_size=16, seed=0).fit(
            X, y, epochs=300, early_stopping=stopper, callbacks=callbacks, verbose=False)
        results.append((net.theta, history.loss, history.stopped_early, history.best_epoch))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    assert results[0][1:] == results[1][1:]
    if min_delta > 0:
        assert results[0][2] and len(results[0][1]) < 300
