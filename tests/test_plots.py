"""Figures: each is drawn, written as a PNG, and shows what it claims (titles, axes, legends, data)."""
import subprocess
import sys

import numpy as np
import pytest

import nn
from nn.datasets import gender, load_mnist, moons, xor

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
    np.testing.assert_allclose(loss_ax.get_lines()[1].get_ydata(), history.val_loss)
    assert acc_ax.get_ylabel() == "accuracy"
    assert [line.get_label() for line in acc_ax.get_lines()] == ["training", "validation"]
    assert all(line.get_marker() == "o" for line in fig.axes[0].get_lines())  # 30 epochs: each one marked


def history_of(epochs, validation=True, accuracy=True):
    """A History as a fit of ``epochs`` epochs would leave it (made up: the figures only read it)."""
    history = nn.History()
    for epoch in range(1, epochs + 1):
        logs = {"loss": 1 / epoch}
        if accuracy:
            logs["accuracy"] = 1 - 0.5 / epoch
        if validation:
            logs["val_loss"] = 1.1 / epoch
            if accuracy:
                logs["val_accuracy"] = 1 - 0.6 / epoch
        history.append(logs)
    return history


def legend_texts(ax):
    return [text.get_text() for text in ax.get_legend().get_texts()]


def test_training_curves_of_a_long_run_are_plain_lines_with_validation_beside():
    fig = plots.training_curves(history_of(500))
    for ax, key in zip(fig.axes, ["loss", "accuracy"]):
        assert (ax.get_xlabel(), ax.get_ylabel()) == ("epoch", key)
        assert [line.get_marker() for line in ax.get_lines()] == ["None", "None"]
        assert legend_texts(ax) == ["training", "validation"]
        assert len(ax.get_lines()[1].get_xdata()) == 500


def test_training_curves_without_validation_or_accuracy():
    fig = plots.training_curves(history_of(12, validation=False, accuracy=False))
    (ax,) = fig.axes  # a regressor: loss only
    assert legend_texts(ax) == ["training"] and ax.get_ylabel() == "loss"
    np.testing.assert_array_equal(ax.get_lines()[0].get_xdata(), np.arange(1, 13))


def test_training_curves_mark_the_best_epoch_after_early_stopping():
    history = history_of(40)
    history.stopped_early, history.best_epoch = True, 25
    loss_ax, acc_ax = plots.training_curves(history).axes
    for ax in (loss_ax, acc_ax):
        best = ax.get_lines()[2]
        assert best.get_xdata()[0] == 25 and best.get_label() == "best epoch (25), weights kept"


def made_up_trace(steps, period=4):
    """A WeightTrace as per-sample SGD leaves it: a weight drifting down, gradients and losses
    alternating between the ``period`` samples of each epoch."""
    trace = nn.WeightTrace(0, 1, 0)
    t = np.arange(steps)
    trace.weights = list(0.5 - 1e-4 * t)
    trace.gradients = list(0.01 + 0.02 * (t % period == 0))
    trace.losses = list(1 / (1 + t) + 0.1 * (t % period))
    return trace


def test_weight_trace_of_a_short_run_is_one_line_per_panel():
    fig = plots.weight_trace(made_up_trace(200))
    for ax in fig.axes:
        assert ax.get_xlabel() == "step" and ax.get_legend() is None
    assert [len(ax.get_lines()) for ax in fig.axes] == [1, 2, 1]  # the gradient's second line is y = 0
    np.testing.assert_allclose(fig.axes[2].get_lines()[0].get_ydata(), made_up_trace(200).losses)


def test_weight_trace_of_a_long_run_smooths_gradient_and_loss(tmp_path):
    trace = made_up_trace(4000)
    fig = plots.weight_trace(trace, tmp_path / "weight.png")
    png(tmp_path / "weight.png")
    weight_ax, gradient_ax, loss_ax = fig.axes
    assert len(weight_ax.get_lines()) == 1  # the weight is a path, drawn as is
    for ax, values in ((gradient_ax, trace.gradients), (loss_ax, trace.losses)):
        each, smooth = ax.get_lines()[:2]
        assert legend_texts(ax) == ["each step", "mean of 81 steps (centred)"]
        assert each.get_alpha() < 0.5 and smooth.get_linewidth() > each.get_linewidth()
        np.testing.assert_allclose(each.get_ydata(), values)
        np.testing.assert_allclose(smooth.get_ydata(), plots.centred_mean(values, 81))
    # the gradients alternate 0.03, 0.01, 0.01, 0.01: the smoothed line runs near their mean, 0.015
    assert np.ptp(gradient_ax.get_lines()[1].get_ydata()) < 0.001


def test_weight_trace_with_steps_per_epoch_draws_each_epochs_mean():
    trace = made_up_trace(4000)
    fig = plots.weight_trace(trace, steps_per_epoch=4)
    for ax in fig.axes:
        assert ax.get_xlabel() == "epoch (4 steps each)"
    np.testing.assert_allclose(fig.axes[0].get_lines()[0].get_xdata()[[0, 3, -1]], [0.25, 1, 1000])
    mean = fig.axes[1].get_lines()[1]
    assert mean.get_label() == "mean of each epoch" and len(mean.get_xdata()) == 1000
    np.testing.assert_allclose(mean.get_ydata(), 0.015)  # the full-batch gradient
    np.testing.assert_allclose(mean.get_xdata()[:2], [0.625, 1.625])  # the middle of each epoch's steps
    with pytest.raises(ValueError, match="steps_per_epoch must be >= 1"):
        plots.weight_trace(trace, steps_per_epoch=0)


def test_weight_trace_of_full_batch_training_has_nothing_to_smooth():
    fig = plots.weight_trace(made_up_trace(500), steps_per_epoch=1)
    assert [len(ax.get_lines()) for ax in fig.axes] == [1, 2, 1]
    assert fig.axes[2].get_xlabel() == "epoch (one step each)"


def test_centred_mean_and_epoch_means():
    # centred: a ramp keeps its value inside the run (no lag); the window is cut at the ends
    np.testing.assert_allclose(plots.centred_mean([1, 2, 3, 4, 5], 3), [1.5, 2, 3, 4, 4.5])
    np.testing.assert_allclose(plots.centred_mean([1, 2, 3, 4, 5], 1), [1, 2, 3, 4, 5])
    # an interrupted fit's last, partial epoch is the mean of its own steps
    np.testing.assert_allclose(plots.epoch_means([1, 2, 3, 4, 5, 6, 7], 3), [2, 5, 7])


def test_weight_trace_and_decision_boundary(tmp_path):
    X, y = xor()
    net = nn.Network([2, 4, 1], activation="tanh", output="sigmoid", seed=1, init="glorot")
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
    assert (fig.axes[0].get_xlabel(), fig.axes[0].get_ylabel()) == ("x1", "x2")
    assert legend_texts(fig.axes[0]) == ["class 0", "class 1", "training"]
    with pytest.raises(ValueError, match="2-D inputs"):
        plots.decision_boundary(net, np.ones((4, 3)), y)


def point_sets(ax):
    """The scatter plots of an axes (the regions are a contour set, not a PathCollection)."""
    from matplotlib.collections import PathCollection

    return [c for c in ax.collections if type(c) is PathCollection]


def marker_of(points):
    """The marker ("o", "X", ...) a scatter plot draws (scatter keeps the marker's transformed path)."""
    from matplotlib.markers import MarkerStyle

    path = points.get_paths()[0]
    for marker in "os^vDXx+":
        style = MarkerStyle(marker)
        expected = style.get_path().transformed(style.get_transform())
        if expected.vertices.shape == path.vertices.shape and np.allclose(expected.vertices, path.vertices):
            return marker


def test_decision_boundary_names_the_axes_and_the_classes(tmp_path):
    X, y = gender()
    net = nn.Network([2, 2, 1], activation="sigmoid", output="sigmoid", seed=0)
    nn.Trainer(net, loss="mse", optimizer=nn.SGD(0.1), batch_size=1, seed=0).fit(X, y, epochs=300, verbose=False)
    fig = plots.decision_boundary(net, X, y, tmp_path / "boundary.png",
                                  feature_names=("weight - 135 (lb)", "height - 66 (in)"),
                                  class_names=("male", "female"))
    png(tmp_path / "boundary.png")
    ax = fig.axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("weight - 135 (lb)", "height - 66 (in)")
    assert legend_texts(ax) == ["male", "female", "training"]
    (training,) = point_sets(ax)
    np.testing.assert_allclose(training.get_offsets(), X)
    tab10 = plots._pyplot().get_cmap("tab10").colors
    np.testing.assert_allclose(training.get_facecolors()[:, :3], [tab10[k] for k in y])  # in the class colours


def test_decision_boundary_draws_the_test_points_as_crosses(tmp_path):
    X, y = moons(120, seed=0)
    X_test, y_test = moons(40, seed=1)
    net = nn.Network([2, 8, 2], activation="tanh", output="softmax", seed=0)
    nn.Trainer(net, loss="cross_entropy", optimizer=nn.Adam(0.05), batch_size=16, seed=0).fit(
        X, y, epochs=60, verbose=False)
    fig = plots.decision_boundary(net, X, y, tmp_path / "boundary.png", X_test=X_test, y_test=y_test,
                                  class_names=["upper moon", "lower moon"])
    png(tmp_path / "boundary.png")
    ax = fig.axes[0]
    training, test = point_sets(ax)
    np.testing.assert_allclose(training.get_offsets(), X)
    np.testing.assert_allclose(test.get_offsets(), X_test)
    assert (marker_of(training), marker_of(test)) == ("o", "X")
    assert legend_texts(ax) == ["upper moon", "lower moon", "training", "test"]
    assert [h.get_marker() for h in ax.get_legend().legend_handles[2:]] == ["o", "X"]
    accuracy = np.mean(net.predict(X_test) == y_test)
    assert f"test accuracy {accuracy:.1%}" in ax.get_title()
    low, high = ax.get_xlim()
    assert low < np.r_[X, X_test][:, 0].min() and high > np.r_[X, X_test][:, 0].max()  # every point in view


def test_decision_boundary_errors_name_the_argument():
    X, y = xor()
    net = nn.Network([2, 4, 1], activation="tanh", output="sigmoid", seed=1)
    with pytest.raises(ValueError, match="class_names has 1 names but 2 are needed"):
        plots.decision_boundary(net, X, y, class_names=["only one"])
    with pytest.raises(ValueError, match="feature_names has 1 names but 2 are needed"):
        plots.decision_boundary(net, X, y, feature_names=["weight"])
    with pytest.raises(ValueError, match="X_test and y_test go together"):
        plots.decision_boundary(net, X, y, X_test=X)
    with pytest.raises(ValueError, match="X_test has shape"):
        plots.decision_boundary(net, X, y, X_test=np.ones((4, 3)), y_test=y)
    with pytest.raises(ValueError, match="y_test has 3 labels but X_test has 4 rows"):
        plots.decision_boundary(net, X, y, X_test=X, y_test=y[:3])
    with pytest.raises(ValueError, match="y must hold class ids 0, 1, ..., got -1"):
        plots.decision_boundary(net, X, 2 * y - 1)


def test_decision_boundary_lists_every_named_class():
    X, y = xor()
    net = nn.Network([2, 4, 1], activation="tanh", output="sigmoid", seed=1)  # untrained: one class or two
    fig = plots.decision_boundary(net, X, np.zeros(4), class_names=["no", "yes", "maybe"])
    assert legend_texts(fig.axes[0]) == ["no", "yes", "maybe", "training"]


def test_matplotlib_is_imported_only_when_a_figure_is_asked_for():
    code = "import sys, nn, nn.plots; print('matplotlib' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


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
