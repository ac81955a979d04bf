"""The compiled backend gives the reference's numbers: forward, gradients, and whole training runs."""
import os

import numpy as np
import pytest

import nn
from nn.backends import get as get_backend
from nn.functions import LOSS_OUTPUT

from conftest import MNIST_DIR, mnist_available, random_problem

# Every loss with every output, softmax with mse included (nn warns about that pair: it learns slowly).
pytestmark = pytest.mark.filterwarnings("ignore:mse on a softmax output")

BATCH_SIZES = [1, 7, 32, None]
PAIRS = [(loss, out) for loss in sorted(nn.LOSSES) for out in sorted(nn.ACTIVATIONS) if LOSS_OUTPUT[loss] in (None, out)]
OPTIMIZERS = [lambda: nn.SGD(0.05), lambda: nn.SGD(0.05, weight_decay=0.01), lambda: nn.Momentum(0.05, 0.9),
              lambda: nn.Momentum(0.05, 0.9, nesterov=True), lambda: nn.RMSprop(0.005), lambda: nn.Adam(0.005),
              lambda: nn.Adam(0.005, weight_decay=0.01)]


def problem(rng, loss, n_out):
    return random_problem(rng, loss, n_out, n=70, n_in=5)


def train_both(make_net, make_optimizer, loss, X, y, batch_size, epochs=1, dtype="float64"):
    results = []
    for backend in ("reference", "compiled"):
        net = make_net(backend)
        trainer = nn.Trainer(net, loss=loss, optimizer=make_optimizer(), batch_size=batch_size, seed=3)
        history = trainer.fit(X, y, epochs=epochs, verbose=False)
        results.append((net, history, trainer))
    return results


@pytest.mark.parametrize("batch_size", BATCH_SIZES)
@pytest.mark.parametrize("loss, output", PAIRS)
@pytest.mark.parametrize("hidden", sorted(nn.ACTIVATIONS))
def test_one_epoch_every_activation_and_loss(hidden, loss, output, batch_size, rng):
    n_out = 2 if output == "sigmoid" else 3
    X, y = problem(rng, loss, n_out)
    make = lambda backend: nn.Network([5, 8, 6, n_out], activation=hidden, output=output, seed=1, backend=backend)
    (ref, h_ref, _), (comp, h_comp, _) = train_both(make, lambda: nn.SGD(0.02), loss, X, y, batch_size)
    np.testing.assert_allclose(comp.theta, ref.theta, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(h_comp.loss, h_ref.loss, rtol=1e-10)
    assert h_comp.accuracy == h_ref.accuracy


@pytest.mark.parametrize("sizes", [[5, 8, 6, 3], [300, 60, 3]], ids=["small", "over-sgd_one-size"])
def test_per_sample_sgd_on_small_and_large_networks(sizes, rng):
    """Batch-1 plain SGD takes the core's one-sample step for small networks (up to 16,384 parameters)
    and the general path beyond: both give the reference's numbers, with sparse inputs too."""
    X = rng.normal(size=(60, sizes[0])) * (rng.random(size=(60, sizes[0])) < 0.3)
    y = rng.integers(0, 3, size=60)
    make = lambda backend: nn.Network(sizes, activation="relu", output="softmax", seed=1, backend=backend)
    (ref, h_ref, _), (comp, h_comp, _) = train_both(make, lambda: nn.SGD(0.05), "cross_entropy", X, y, 1, epochs=2)
    np.testing.assert_allclose(comp.theta, ref.theta, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(h_comp.loss, h_ref.loss, rtol=1e-10)
    assert (ref.n_params <= 16384) == (sizes[0] == 5)


@pytest.mark.parametrize("batch_size", BATCH_SIZES)
@pytest.mark.parametrize("make_optimizer", OPTIMIZERS, ids=lambda f: repr(f()))
def test_three_epochs_every_optimizer(make_optimizer, batch_size, rng):
    X, y = problem(rng, "cross_entropy", 4)
    make = lambda backend: nn.Network([5, 16, 4], activation="relu", output="softmax", seed=2, backend=backend)
    (ref, h_ref, t_ref), (comp, h_comp, t_comp) = train_both(make, make_optimizer, "cross_entropy", X, y,
                                                             batch_size, epochs=3)
    np.testing.assert_allclose(comp.theta, ref.theta, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(h_comp.loss, h_ref.loss, rtol=1e-10)
    assert t_comp.optimizer.steps == t_ref.optimizer.steps
    for name in t_ref.optimizer.state_names:
        np.testing.assert_allclose(t_comp.optimizer.state[name][0], t_ref.optimizer.state[name][0],
                                   rtol=1e-9, atol=1e-13)


@pytest.mark.parametrize("batch_size", [1, 32])
def test_float32_training_agrees_to_float32_precision(batch_size, rng):
    X, y = problem(rng, "cross_entropy", 3)
    make = lambda backend: nn.Network([5, 16, 3], activation="tanh", output="softmax", seed=2, dtype="float32",
                                      backend=backend)
    (ref, _, _), (comp, _, _) = train_both(make, lambda: nn.Adam(0.01), "cross_entropy", X, y, batch_size)
    assert comp.theta.dtype == np.float32
    np.testing.assert_allclose(comp.theta, ref.theta, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_forward_and_gradients_agree(dtype, rng):
    X = rng.normal(size=(5000, 20))  # more rows than one inference piece
    Y = np.eye(4)[rng.integers(0, 4, size=5000)]
    nets = [nn.Network([20, 33, 17, 4], activation="leaky_relu", output="softmax", seed=4, dtype=dtype, backend=b)
            for b in ("reference", "compiled")]
    tol = dict(rtol=1e-12, atol=1e-15) if dtype == "float64" else dict(rtol=1e-5, atol=1e-6)
    for a_ref, a_comp in zip(*[get_backend(net.backend).forward(net, X.astype(dtype)) for net in nets]):
        np.testing.assert_allclose(a_comp, a_ref, **tol)
    (l_ref, g_ref), (l_comp, g_comp) = [get_backend(net.backend).gradients(net, X[:64].astype(dtype),
                                                                         Y[:64].astype(dtype), "cross_entropy")
                                        for net in nets]
    np.testing.assert_allclose(l_comp, l_ref, **tol)
    np.testing.assert_allclose(g_comp, g_ref, rtol=tol["rtol"] * 100, atol=tol["atol"] * 100)


def test_gender_network_1000_epochs_same_loss():
    from test_lessons import GENDER, PEOPLE

    make = lambda backend: nn.Network([2, 2, 1], activation="sigmoid", seed=0, init="normal", backend=backend)
    (ref, h_ref, t_ref), (comp, h_comp, t_comp) = train_both(make, lambda: nn.SGD(0.1), "mse", PEOPLE, GENDER, 1,
                                                             epochs=1000)
    assert abs(t_comp.evaluate(PEOPLE, GENDER)["loss"] - t_ref.evaluate(PEOPLE, GENDER)["loss"]) < 1e-12
    np.testing.assert_allclose(h_comp.loss, h_ref.loss, rtol=1e-10)


def test_many_epochs_in_one_call_equal_epoch_by_epoch(rng):
    """The trainer's fast path (all epochs in one core call) and the per-epoch path (with a callback)."""
    X, y = problem(rng, "cross_entropy", 3)
    thetas = []
    for callbacks in ((), (lambda epoch, logs: None,)):
        net = nn.Network([5, 8, 3], activation="tanh", output="softmax", seed=1)
        nn.Trainer(net, optimizer=nn.Adam(0.01), batch_size=7, seed=9).fit(X, y, epochs=5, callbacks=callbacks,
                                                                           verbose=False)
        thetas.append(net.theta)
    np.testing.assert_array_equal(thetas[0], thetas[1])


@pytest.mark.skipif(not mnist_available(), reason="../shared/data/mnist is absent")
@pytest.mark.parametrize("first_layer", ["lists", "compact"])
def test_mnist_one_epoch_batch_32(first_layer, monkeypatch):
    """The first layer on lists of nonzeros (the default for MNIST where the processor has AVX2), and
    dense on the columns in use."""
    from nn.backends import compiled
    from nn.datasets import load_mnist

    if first_layer == "compact":
        monkeypatch.setattr(compiled, "SPARSE_DENSITY", -1.0)

    X, y = load_mnist(MNIST_DIR, "train")
    make = lambda backend: nn.Network([784, 128, 10], activation="relu", output="softmax", seed=0, backend=backend)
    (ref, _, _), (comp, _, _) = train_both(make, lambda: nn.SGD(0.1), "cross_entropy", X, y, 32)
    np.testing.assert_allclose(comp.theta, ref.theta, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("batch_size", [1, 32])
@pytest.mark.parametrize("inputs", ["dense", "sparse"])
def test_training_memory_does_not_grow(batch_size, inputs, rng):
    """Everything is allocated before the loop: a second and third epoch allocate nothing that stays
    (mostly-zero inputs: the first layer on lists of nonzeros)."""
    import tracemalloc

    X = rng.normal(size=(3000, 50))
    if inputs == "sparse":
        X *= rng.random(X.shape) < 0.2
    y = rng.integers(0, 10, size=3000)
    net = nn.Network([50, 64, 10], activation="relu", output="softmax", seed=0)
    trainer = nn.Trainer(net, optimizer=nn.Adam(1e-3), batch_size=batch_size, seed=0)
    trainer.fit(X, y, epochs=1, verbose=False)
    tracemalloc.start()
    try:
        trainer.fit(X, y, epochs=1, verbose=False)
        before, _ = tracemalloc.get_traced_memory()
        trainer.fit(X, y, epochs=2, verbose=False)
        after, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert after - before < 1_000_000


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs Linux's /proc")
@pytest.mark.skipif("libasan" in os.environ.get("LD_PRELOAD", ""),
                    reason="AddressSanitizer keeps freed memory resident (its quarantine) to catch use after free")
def test_core_scratch_is_freed_after_every_call(rng):
    """The core's own scratch (malloc'd per train call: the lists of nonzeros, about 6 MB here, and the
    threads' shares) is freed: 40 more fits leave the resident size where it was."""
    def resident_mb():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

    X = rng.normal(size=(2000, 784)) * (rng.random((2000, 784)) < 0.2)
    y = rng.integers(0, 10, size=2000)
    net = nn.Network([784, 32, 10], output="softmax", seed=0, backend="compiled")
    trainer = nn.Trainer(net, optimizer=nn.SGD(0.01), batch_size=256, seed=0)
    for _ in range(5):
        trainer.fit(X, y, verbose=False)
    before = resident_mb()
    for _ in range(40):
        trainer.fit(X, y, verbose=False)
    assert resident_mb() - before < 20


@pytest.mark.parametrize("batch_size", [7, 32])
@pytest.mark.parametrize("make_optimizer", [lambda: nn.SGD(0.1), lambda: nn.Adam(0.01, weight_decay=0.01)],
                         ids=["sgd", "adam"])
@pytest.mark.parametrize("first_layer", ["lists", "compact"])
def test_inputs_with_zero_columns(first_layer, make_optimizer, batch_size, rng, monkeypatch):
    """Batches whose inputs are zero in many columns (MNIST's blank borders) run the first layer on each
    sample's nonzeros, or (lists off) on the nonzero columns only; the numbers stay the reference's,
    all-zero batches included."""
    from nn.backends import compiled

    if first_layer == "compact":
        monkeypatch.setattr(compiled, "SPARSE_DENSITY", -1.0)
    X = rng.normal(size=(96, 40)) * (rng.random(size=(96, 40)) < 0.1)
    X[:, :15] = 0  # columns that are always zero
    X[32:64] = 0   # whole batches of zeros
    y = rng.integers(0, 4, size=96)
    make = lambda backend: nn.Network([40, 24, 4], activation="relu", output="softmax", seed=5, backend=backend)
    results = []
    for backend in ("reference", "compiled"):
        net = make(backend)
        trainer = nn.Trainer(net, optimizer=make_optimizer(), batch_size=batch_size, seed=3)
        trainer.fit(X, y, epochs=3, verbose=False, callbacks=[lambda e, logs: None])  # epoch by epoch
        net2 = make(backend)
        nn.Trainer(net2, optimizer=make_optimizer(), batch_size=batch_size, seed=3).fit(X, y, epochs=3, verbose=False)
        np.testing.assert_array_equal(net.theta, net2.theta)
        results.append(net.theta)
    np.testing.assert_allclose(results[1], results[0], rtol=1e-10, atol=1e-13)


@pytest.mark.skipif(not mnist_available(), reason="../shared/data/mnist is absent")
def test_mnist_five_epochs_same_test_accuracy():
    from nn.datasets import load_mnist

    X, y = load_mnist(MNIST_DIR, "train")
    X_test, y_test = load_mnist(MNIST_DIR, "test")
    make = lambda backend: nn.Network([784, 128, 10], activation="relu", output="softmax", seed=0, backend=backend)
    (ref, _, _), (comp, _, _) = train_both(make, lambda: nn.SGD(0.1), "cross_entropy", X, y, 32, epochs=5)
    accuracies = [np.mean(net.predict(X_test) == y_test) for net in (ref, comp)]
    assert accuracies[0] == accuracies[1] >= 0.95
    np.testing.assert_allclose(comp.theta, ref.theta, rtol=1e-7, atol=1e-9)


def test_an_optimizer_of_the_users_own_trains_on_both_backends(rng):
    """The core knows four update rules; any other Optimizer subclass works too (its loop runs in Python)."""

    class SignSGD(nn.optimizers.Optimizer):
        def _update(self, i, p, g):
            p -= self.learning_rate * np.sign(g)

    X, y = problem(rng, "cross_entropy", 3)
    make = lambda backend: nn.Network([5, 8, 3], activation="tanh", output="softmax", seed=1, backend=backend)
    (ref, h_ref, _), (comp, h_comp, _) = train_both(make, lambda: SignSGD(0.01), "cross_entropy", X, y, 7, epochs=2)
    np.testing.assert_allclose(comp.theta, ref.theta, rtol=1e-12)
    assert h_comp.loss[-1] < h_comp.loss[0]
