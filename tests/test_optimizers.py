"""Optimizers: each update rule worked by hand, state, weight decay, argument checks."""
import numpy as np
import pytest

import nn


def run(optimizer, steps=1, p=(1.0, -2.0), g=(0.5, 0.25)):
    params = [np.array(p)]
    for _ in range(steps):
        optimizer.step(params, [np.array(g)])
    return params[0]


def test_sgd():
    np.testing.assert_allclose(run(nn.SGD(0.1)), [0.95, -2.025], rtol=1e-15)


def test_sgd_weight_decay_adds_decay_times_parameter():
    # g + wd * p = [0.5 + 0.1, 0.25 - 0.2]
    np.testing.assert_allclose(run(nn.SGD(0.1, weight_decay=0.1)), [1 - 0.06, -2 - 0.005], rtol=1e-15)


def test_momentum_two_steps():
    # v1 = g, p1 = p - lr g; v2 = mu g + g, p2 = p1 - lr (1 + mu) g
    p = run(nn.Momentum(0.1, momentum=0.9), steps=2)
    np.testing.assert_allclose(p, np.array([1.0, -2.0]) - 0.1 * (1 + 1.9) * np.array([0.5, 0.25]), rtol=1e-15)


def test_nesterov_two_steps():
    # step 1: v = g, p -= lr (g + mu g); step 2: v = 1.9 g, p -= lr (g + mu 1.9 g)
    p = run(nn.Momentum(0.1, momentum=0.9, nesterov=True), steps=2)
    total = (1 + 0.9) + (1 + 0.9 * 1.9)
    np.testing.assert_allclose(p, np.array([1.0, -2.0]) - 0.1 * total * np.array([0.5, 0.25]), rtol=1e-15)


def test_rmsprop_first_step():
    g = np.array([0.5, 0.25])
    s = 0.1 * g * g
    expected = np.array([1.0, -2.0]) - 0.01 * g / (np.sqrt(s) + 1e-8)
    np.testing.assert_allclose(run(nn.RMSprop(0.01)), expected, rtol=1e-15)


def test_adam_first_steps_move_by_the_learning_rate():
    # with a constant gradient, m_hat = g and v_hat = g^2, so each step is lr * g / (|g| + eps)
    p = run(nn.Adam(0.01), steps=3)
    np.testing.assert_allclose(p, np.array([1.0, -2.0]) - 3 * 0.01 / (1 + 4e-8 * np.array([0.5, 1])), rtol=1e-12)


def test_state_is_reset():
    opt = nn.Adam(0.01)
    run(opt, steps=2)
    assert opt.steps == 2 and opt.state["m"][0].any()
    opt.reset()
    assert opt.steps == 0 and opt.state == {}


@pytest.mark.parametrize("make, match", [
    (lambda: nn.SGD(0), "learning_rate must be > 0"),
    (lambda: nn.SGD(-0.1), "learning_rate must be > 0"),
    (lambda: nn.Adam(learning_rate="fast"), "learning_rate must be a finite number"),
    (lambda: nn.Momentum(0.1, momentum=1.0), "momentum must be < 1"),
    (lambda: nn.RMSprop(0.1, rho=-0.5), "rho must be >= 0"),
    (lambda: nn.SGD(0.1, weight_decay=-1), "weight_decay must be >= 0"),
])
def test_bad_hyper_parameters(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


def test_repr_shows_hyper_parameters():
    assert repr(nn.Momentum(0.1, 0.8, nesterov=True)) == \
        "Momentum(learning_rate=0.1, weight_decay=0.0, momentum=0.8, nesterov=True)"


@pytest.mark.parametrize("make", [lambda: nn.Adam(0.01), lambda: nn.Momentum(0.01, 0.9), lambda: nn.RMSprop(0.01)])
def test_an_optimizer_given_to_another_network_starts_fresh(make, rng):
    """One optimizer object, two networks of the same shape: the second training must not inherit the
    first one's moments and step count (it gives what a new optimizer gives)."""
    X, y = rng.normal(size=(40, 3)), rng.integers(0, 2, size=40)
    shared = make()
    first = nn.Network([3, 4, 2], activation="tanh", output="softmax", seed=0)
    nn.Trainer(first, optimizer=shared, seed=0).fit(X, y, epochs=2, verbose=False)
    assert shared.steps > 0
    second = nn.Network([3, 4, 2], activation="tanh", output="softmax", seed=1)
    nn.Trainer(second, optimizer=shared, seed=0).fit(X, y, epochs=2, verbose=False)
    fresh = nn.Network([3, 4, 2], activation="tanh", output="softmax", seed=1)
    nn.Trainer(fresh, optimizer=make(), seed=0).fit(X, y, epochs=2, verbose=False)
    np.testing.assert_array_equal(second.theta, fresh.theta)


def test_an_optimizer_goes_on_with_its_own_network(rng):
    """Two fits of one network with one optimizer are one training: the state carries over."""
    X, y = rng.normal(size=(40, 3)), rng.integers(0, 2, size=40)
    net = nn.Network([3, 4, 2], activation="tanh", output="softmax", seed=0)
    adam = nn.Adam(0.01)
    trainer = nn.Trainer(net, optimizer=adam, seed=0)
    trainer.fit(X, y, epochs=1, verbose=False)
    steps = adam.steps
    trainer.fit(X, y, epochs=1, verbose=False)
    assert adam.steps == 2 * steps


def test_optimizers_pickle_and_copy_with_their_state(rng):
    import copy
    import pickle

    X, y = rng.normal(size=(40, 3)), rng.integers(0, 2, size=40)
    net = nn.Network([3, 4, 2], activation="tanh", output="softmax", seed=0)
    trainer = nn.Trainer(net, optimizer=nn.Adam(0.01), seed=0)
    trainer.fit(X, y, epochs=1, verbose=False)
    for clone in (pickle.loads(pickle.dumps(trainer)), copy.deepcopy(trainer)):
        assert clone.optimizer.steps == trainer.optimizer.steps
        np.testing.assert_array_equal(clone.optimizer.state["m"][0], trainer.optimizer.state["m"][0])
        clone.fit(X, y, epochs=1, verbose=False)  # the copy goes on from the copied state ...
        assert clone.optimizer.steps == 2 * trainer.optimizer.steps
    trainer.fit(X, y, epochs=1, verbose=False)  # ... and so does the original, untouched by the copies
    np.testing.assert_array_equal(clone.net.theta, trainer.net.theta)


def test_a_shallow_copy_of_an_optimizer_has_its_own_state(rng):
    import copy

    X, y = rng.normal(size=(20, 3)), rng.integers(0, 2, size=20)
    net = nn.Network([3, 2], seed=0)
    adam = nn.Adam(0.01)
    nn.Trainer(net, optimizer=adam, seed=0).fit(X, y, epochs=1, verbose=False)
    twin = copy.copy(adam)
    np.testing.assert_array_equal(twin.state["m"][0], adam.state["m"][0])
    assert not np.shares_memory(twin.state["m"][0], adam.state["m"][0]) and twin.steps == adam.steps
