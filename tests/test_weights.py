"""Sample weights: a batch's loss is sum(w_i l_i) / sum(w_i), as scikit-learn weighs it. The core's
weighted loss and delta are paired with the reference's; training with weights agrees between the
backends; all-ones weights are exactly the unweighted training; integer weights are repeated samples;
and the weighted losses and gradients are PyTorch's."""
import numpy as np
import pytest

import nn
_core = pytest.importorskip("nn._core", reason="the compiled core is not built")  # noqa: E402
from nn.backends import get as get_backend
from nn.backends import compiled
from nn.functions import ACTIVATIONS, LOSS_OUTPUT, loss_value, output_delta

from conftest import random_problem

# Every loss with every output, softmax with mse included (nn warns about that pair: it learns slowly).
pytestmark = pytest.mark.filterwarnings("ignore:mse on a softmax output")

PAIRS = [(loss, out) for loss in sorted(nn.LOSSES) for out in sorted(ACTIVATIONS) if LOSS_OUTPUT[loss] in (None, out)]
RTOL = {np.float64: 1e-12, np.float32: 1e-5}


def weights_for(rng, n, zeros=True):
    w = rng.random(n) * 3
    if zeros:
        w[rng.random(n) < 0.2] = 0
    return w


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("loss, output", PAIRS)
def test_core_weighted_loss_and_delta_equal_the_reference(loss, output, dtype, rng):
    k = 1 if output == "sigmoid" and loss == "binary_cross_entropy" else 4
    A = ACTIVATIONS[output](rng.normal(size=(9, k))).astype(dtype)
    _, y = random_problem(rng, loss, k, 9, 1)
    Y = (np.eye(k)[y] if np.ndim(y) == 1 else y).astype(dtype)
    w = weights_for(rng, 9).astype(dtype)
    D = np.empty_like(A)
    value, _ = _core.loss_and_delta(compiled.LOSS_CODES[loss], compiled.ACTIVATION_CODES[output], A, Y, D, w)
    np.testing.assert_allclose(value, loss_value(loss, Y, A, w), rtol=RTOL[dtype])
    np.testing.assert_allclose(D, output_delta(loss, output, A, Y, w), rtol=RTOL[dtype], atol=1e-7 if dtype == np.float32 else 0)
    value, _ = _core.loss_and_delta(compiled.LOSS_CODES[loss], compiled.ACTIVATION_CODES[output], A, Y, D,
                                    np.zeros(9, dtype=dtype))
    assert value == 0 and not D.any()  # weights that sum to 0: no loss, no gradient


@pytest.mark.parametrize("bad", [np.full(9, -1.0), np.full(9, np.nan), np.ones(8)])
def test_core_refuses_bad_weights(bad):
    A, D = np.full((9, 2), 0.5), np.empty((9, 2))
    with pytest.raises(ValueError, match="weights"):
        _core.loss_and_delta(0, 0, A, A, D, bad)


@pytest.mark.parametrize("backend", ["compiled", "reference"])
@pytest.mark.parametrize("loss, output", PAIRS)
def test_weighted_gradient_is_the_gradient_of_the_weighted_loss(backend, loss, output, rng):
    n_out = 1 if output == "sigmoid" and loss == "binary_cross_entropy" else 3
    net = nn.Network([3, 4, n_out], activation="tanh", output=output, seed=2, bias_init="normal", backend=backend)
    X, y = random_problem(rng, loss, n_out, 6, 3)
    Y = np.eye(n_out)[y] if np.ndim(y) == 1 else y
    w = weights_for(rng, 6)
    value, grad = get_backend(backend).gradients(net, X, Y, loss, w)
    theta = net.parameter_vector()
    numeric, eps = np.empty_like(theta), 1e-6
    for i in range(theta.size):
        saved = theta[i]
        theta[i] = saved + eps
        plus = loss_value(loss, Y, net.forward(X), w)
        theta[i] = saved - eps
        minus = loss_value(loss, Y, net.forward(X), w)
        theta[i] = saved
        numeric[i] = (plus - minus) / (2 * eps)
    assert np.linalg.norm(grad - numeric) / (np.linalg.norm(grad) + np.linalg.norm(numeric)) < 1e-6
    assert value == pytest.approx(loss_value(loss, Y, net.forward(X), w), rel=1e-12)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("batch_size", [1, 7, None])
@pytest.mark.parametrize("make_optimizer", [lambda: nn.SGD(0.05), lambda: nn.Adam(0.01)], ids=["sgd", "adam"])
@pytest.mark.parametrize("loss, output", PAIRS)
def test_weighted_training_is_the_same_on_both_backends(loss, output, make_optimizer, batch_size, threads, rng,
                                                         monkeypatch):
    monkeypatch.setattr(compiled, "TEAM_MIN_ROWS", 1)
    monkeypatch.setattr(compiled, "TEAM_MIN_WORK", 0)
    nn.set_num_threads(threads)
    try:
        n_out = 1 if output == "sigmoid" and loss == "binary_cross_entropy" else 3
        X, y = random_problem(rng, loss, n_out, 50, 5)
        X[:, :2] *= rng.random(size=(50, 2)) < 0.2  # some zeros
        w = weights_for(rng, 50)
        results = []
        for backend in ("reference", "compiled"):
            net = nn.Network([5, 8, n_out], activation="relu", output=output, seed=1, backend=backend)
            trainer = nn.Trainer(net, loss=loss, optimizer=make_optimizer(), batch_size=batch_size, seed=3)
            history = trainer.fit(X, y, epochs=2, sample_weight=w, verbose=False)
            results.append((net.theta, history.loss))
        np.testing.assert_allclose(results[1][0], results[0][0], rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(results[1][1], results[0][1], rtol=1e-10)
    finally:
        nn.set_num_threads(None)


@pytest.mark.parametrize("backend", ["compiled", "reference"])
def test_weighted_mnist_like_inputs_on_the_sparse_first_layer(backend, rng):
    """Mostly-zero inputs take the core's lists of nonzeros; weights reach that path too."""
    X = rng.random(size=(200, 100)) * (rng.random(size=(200, 100)) < 0.15)
    y = rng.integers(0, 4, size=200)
    w = weights_for(rng, 200)
    results = []
    for backend_ in ("reference", backend):
        net = nn.Network([100, 32, 4], activation="relu", output="softmax", seed=1, backend=backend_)
        nn.Trainer(net, optimizer=nn.SGD(0.1), batch_size=32, seed=0).fit(X, y, epochs=2, sample_weight=w,
                                                                           verbose=False)
        results.append(net.theta)
    np.testing.assert_allclose(results[1], results[0], rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("backend", ["compiled", "reference"])
def test_all_ones_weights_are_exactly_the_unweighted_training(backend, rng):
    X, y = random_problem(rng, "cross_entropy", 3, 60, 4)
    thetas = []
    for weights in (None, np.ones(60), np.ones(60, dtype=np.float32)):
        net = nn.Network([4, 6, 3], activation="tanh", output="softmax", seed=0, backend=backend)
        nn.Trainer(net, optimizer=nn.Adam(0.01), batch_size=8, seed=0).fit(X, y, epochs=2, sample_weight=weights,
                                                                           verbose=False)
        thetas.append(net.theta)
    np.testing.assert_array_equal(thetas[1], thetas[0])
    np.testing.assert_array_equal(thetas[2], thetas[0])
    # and the weighted computation itself, given ones, agrees with the unweighted one to rounding
    net = nn.Network([4, 6, 3], activation="tanh", output="softmax", seed=0, backend=backend)
    Y = np.eye(3)[y]
    plain = get_backend(backend).gradients(net, X, Y, "cross_entropy")
    ones = get_backend(backend).gradients(net, X, Y, "cross_entropy", np.ones(60))
    np.testing.assert_allclose(ones[1], plain[1], rtol=1e-12, atol=1e-16)
    assert ones[0] == pytest.approx(plain[0], rel=1e-12)


@pytest.mark.parametrize("backend", ["compiled", "reference"])
def test_integer_weights_are_repeated_samples_in_full_batch_training(backend, rng):
    X, y = random_problem(rng, "cross_entropy", 3, 30, 4)
    counts = rng.integers(0, 4, size=30)
    thetas = []
    for X_, y_, w in ((X, y, counts), (np.repeat(X, counts, axis=0), np.repeat(y, counts), None)):
        net = nn.Network([4, 6, 3], activation="tanh", output="softmax", seed=0, backend=backend)
        nn.Trainer(net, optimizer=nn.SGD(0.2), batch_size=None, seed=0).fit(X_, y_, epochs=5, sample_weight=w,
                                                                            verbose=False)
        thetas.append(net.theta)
    np.testing.assert_allclose(thetas[0], thetas[1], rtol=1e-10, atol=1e-13)


def test_sample_weight_errors(rng):
    X, y = random_problem(rng, "cross_entropy", 3, 20, 4)
    trainer = nn.Trainer(nn.Network([4, 3], output="softmax"))
    with pytest.raises(ValueError, match="X has 20 samples but sample_weight has 19"):
        trainer.fit(X, y, sample_weight=np.ones(19), verbose=False)
    with pytest.raises(ValueError, match="sample_weight must be >= 0"):
        trainer.fit(X, y, sample_weight=-np.ones(20), verbose=False)
    with pytest.raises(ValueError, match="sample_weight contains NaN"):
        trainer.fit(X, y, sample_weight=np.full(20, np.nan), verbose=False)
    with pytest.raises(ValueError, match="weights are all zero"):
        trainer.fit(X, y, sample_weight=np.zeros(20), verbose=False)
    with pytest.raises(ValueError, match="class_weight has key 5"):
        trainer.fit(X, y, class_weight={5: 2.0}, verbose=False)
    with pytest.raises(TypeError, match="class_weight must be None, 'balanced' or a dict"):
        trainer.fit(X, y, class_weight="even", verbose=False)
    with pytest.raises(ValueError, match="class_weight needs a classifier"):
        nn.Trainer(nn.Network([4, 2], output="identity"), loss="mse").fit(X, X[:, :2], class_weight="balanced",
                                                                          verbose=False)


def test_balanced_class_weight(rng):
    """'balanced': n_samples / (n_classes * count of the class), as scikit-learn computes it."""
    X, _ = random_problem(rng, "cross_entropy", 3, 40, 4)
    y = np.r_[np.zeros(30, int), np.ones(8, int), np.full(2, 2)]
    results = []
    for kwargs in ({"class_weight": "balanced"}, {"sample_weight": 40 / (3 * np.array([30, 8, 2]))[y]}):
        net = nn.Network([4, 3], output="softmax", seed=0)
        results.append(nn.Trainer(net, seed=0).fit(X, y, epochs=2, verbose=False, **kwargs).loss)
        results.append(net.theta)
    np.testing.assert_array_equal(results[1], results[3])
    assert results[0] == results[2]


@pytest.mark.parametrize("loss, output", PAIRS)
def test_weighted_losses_and_gradients_are_pytorchs(loss, output, rng):
    torch = pytest.importorskip("torch")
    n_out = 1 if output == "sigmoid" and loss == "binary_cross_entropy" else 3
    net = nn.Network([4, 5, n_out], activation="tanh", output=output, seed=3, bias_init="normal")
    X, y = random_problem(rng, loss, n_out, 8, 4)
    Y = np.eye(n_out)[y] if np.ndim(y) == 1 else y
    w = weights_for(rng, 8, zeros=False)
    value, grad = get_backend("compiled").gradients(net, X, Y, loss, w)
    params = [torch.tensor(p, requires_grad=True) for layer in net.layers for p in (layer.W, layer.b)]
    Z = torch.tensor(X) @ params[0] + params[1]
    Z = torch.tanh(Z) @ params[2] + params[3]
    Yt, wt = torch.tensor(Y), torch.tensor(w)
    if loss == "cross_entropy":
        per_row = torch.nn.functional.cross_entropy(Z, Yt, reduction="none")
    elif loss == "binary_cross_entropy":
        per_row = torch.nn.functional.binary_cross_entropy_with_logits(Z, Yt, reduction="none").mean(dim=1)
    else:
        out = {"identity": Z, "sigmoid": torch.sigmoid(Z), "tanh": torch.tanh(Z), "relu": torch.relu(Z),
               "leaky_relu": torch.nn.functional.leaky_relu(Z, 0.01), "softmax": torch.softmax(Z, dim=1)}[output]
        per_row = ((out - Yt) ** 2).mean(dim=1)
    torch_loss = (wt * per_row).sum() / wt.sum()
    torch_loss.backward()
    torch_grad = np.concatenate([p.grad.numpy().ravel() for p in params])
    assert value == pytest.approx(torch_loss.item(), rel=1e-10)
    np.testing.assert_allclose(grad, torch_grad, rtol=1e-9, atol=1e-12)
