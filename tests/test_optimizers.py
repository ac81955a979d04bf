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
