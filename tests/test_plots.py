"""Figures: each is drawn, written as a PNG, and shows what it claims (titles, axes, data)."""
import numpy as np
import pytest

import nn
from nn.datasets import load_mnist, xor

pytest.importorskip("matplotlib")
from nn import plots  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plots.close_all()


def png(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    return data


def test_training_curves(tmp_path):
    X, y = xor()
    net = nn.Network([2, 4, 1], activation="tanh", output="sigmoid", seed=1)
    history = nn.Trainer(net, loss="binary_cross_entropy", optimizer=nn.SGD(0.5), batch_size=None, seed=1).fit(
        np.r_[X, X], np.r_[y, y], epochs=30, validation_split=0.5, verbose=False)
    fig = plots.training_curves(history, tmp_path / "curves.png")
    png(tmp_path / "curves.png")
    loss_ax, acc_ax = fig.axes
    assert loss_ax.get_xlabel() == "epoch" and loss_ax.get_ylabel() == "loss"
    assert [line.get_label() for line in loss_ax.get_lines()] == ["training", "validation"]
    np.testing.assert_allclose(loss_ax.get_lines()[0].get_ydata(), history.loss)
    assert acc_ax.get_ylabel() == "accuracy"


def test_weight_trace_and_decision_boundary(tmp_path):
    X, y = xor()
    net = nn.Network([2, 4, 1], activation="tanh", output="sigmoid", seed=1)
    trace = nn.WeightTrace(0, 1, 2)
    nn.Trainer(net, loss="binary_cross_entropy", optimizer=nn.SGD(0.5), batch_size=1, seed=1).fit(
        X, y, epochs=300, callbacks=[trace], verbose=False)
    fig = plots.weight_trace(trace, tmp_path / "weight.png")
    png(tmp_path / "weight.png")
    assert [ax.get_title() for ax in fig.axes] == ["weight W1[1, 2]", "gradient dL/dW1[1, 2]",
                                                  "loss of each step's batch"]
    np.testing.assert_allclose(fig.axes[0].get_lines()[0].get_ydata(), trace.weights)
    fig = plots.decision_boundary(net, X, y, tmp_path / "boundary.png")
    png(tmp_path / "boundary.png")
    assert "training accuracy 100.0%" in fig.axes[0].get_title()
    with pytest.raises(ValueError, match="2-D inputs"):
        plots.decision_boundary(net, np.ones((4, 3)), y)


def test_confusion_matrix_counts():
    counts = plots.confusion_matrix([0, 1, 1, 2, 2, 2], [0, 1, 2, 2, 2, 0])
    assert counts.tolist() == [[1, 0, 0], [0, 1, 1], [1, 0, 2]]


def test_mnist_figures(tmp_path):
    X, y = load_mnist(kind="test")
    X, y = X[:300], y[:300]
    predictions = (y + (np.arange(300) % 10 == 0)) % 10  # every tenth one wrong
    fig = plots.confusion(y, predictions, tmp_path / "confusion.png")
    png(tmp_path / "confusion.png")
    assert "accuracy 90.00%" in fig.axes[0].get_title()
    fig = plots.misclassified(X, y, predictions, tmp_path / "wrong.png", count=16)
    png(tmp_path / "wrong.png")
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert len(titles) == 16 and titles[0] == f"{y[0]} -> {predictions[0]}"
