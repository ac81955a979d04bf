"""Figures (matplotlib, the optional extra ``nn-lessons[plot]``, imported only when a figure is asked for).

Each function returns the matplotlib Figure; with ``path`` it also writes it (PNG by the file name).
"""
import numpy as np

from .validation import check_int


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("plots need matplotlib: pip install 'nn-lessons[plot]' (or pip install matplotlib)") from None
    return plt


def close_all():
    """Free every open figure."""
    _pyplot().close("all")


def _finish(fig, path):
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig


MARKED_EPOCHS = 30  # up to this many epochs a training curve marks each one; longer runs are plain lines
LONG_TRACE = 200  # above this many steps a weight trace draws each step faint, a smoothed line on top


def training_curves(history, path=None):
    """Loss and accuracy per epoch (accuracy only for classifiers): the training figures and, when the
    history has them, the validation ones (``val_loss``, ``val_accuracy``) on the same axes, with a
    legend. Each epoch is a marker up to ``MARKED_EPOCHS`` epochs; longer runs are plain lines. After
    early stopping a dotted line marks the best epoch, whose weights the network holds."""
    plt = _pyplot()
    has_accuracy = bool(history.accuracy)
    fig, axes = plt.subplots(1, 2 if has_accuracy else 1, figsize=(10 if has_accuracy else 5.5, 4), squeeze=False)
    epochs = np.arange(1, len(history) + 1)
    style = dict(marker="o", ms=3) if len(history) <= MARKED_EPOCHS else dict(lw=1.2)
    for ax, key in zip(axes[0], ["loss", "accuracy"] if has_accuracy else ["loss"]):
        ax.plot(epochs, history[key], label="training", **style)
        if history["val_" + key]:
            ax.plot(epochs, history["val_" + key], label="validation", **style)
        if history.stopped_early and history.best_epoch is not None:
            ax.axvline(history.best_epoch, color="0.4", ls=":", lw=1,
                       label=f"best epoch ({history.best_epoch}), weights kept")
        ax.set_xlabel("epoch")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_ylabel(key)
        ax.set_title(f"{key} per epoch")
        ax.grid(alpha=0.3)
        ax.legend()
    return _finish(fig, path)


def centred_mean(values, window):
    """The moving average of ``window`` steps centred on each step, so the line does not lag:
    ``s[t] = mean(v[t-h] .. v[t+h])`` with ``h = window // 2``, the window cut at the ends of the run
    (``s[0] = mean(v[0] .. v[h])``; narrowing it symmetrically instead would leave the last steps
    unsmoothed, a spike where per-sample values alternate). values (n,) -> (n,)."""
    values = np.asarray(values, dtype=float)
    t = np.arange(len(values))
    low, high = np.maximum(t - window // 2, 0), np.minimum(t + window // 2 + 1, len(values))
    sums = np.r_[0.0, np.cumsum(values)]
    return (sums[high] - sums[low]) / (high - low)


def epoch_means(values, steps_per_epoch):
    """The mean of each epoch's ``steps_per_epoch`` consecutive steps (a last, partial epoch of an
    interrupted fit is the mean of its own steps). values (n,) -> (ceil(n / steps_per_epoch),).
    Of per-sample gradients, an epoch's mean is the full-batch gradient."""
    values = np.asarray(values, dtype=float)
    starts = np.arange(0, len(values), steps_per_epoch)
    return np.add.reduceat(values, starts) / np.diff(np.r_[starts, len(values)])


def _trace_panel(ax, values, color, smooth, steps_per_epoch):
    """One panel of weight_trace: a line through every step's value; with ``smooth``, each step
    faint and a smoothed line on top. x is in epochs when ``steps_per_epoch`` is given, else steps."""
    values = np.asarray(values, dtype=float)
    steps = np.arange(1, len(values) + 1)
    x = steps if steps_per_epoch is None else steps / steps_per_epoch  # epoch e holds the steps in (e - 1, e]
    ax.set_xlabel("step" if steps_per_epoch is None else
                  "epoch (one step each)" if steps_per_epoch == 1 else f"epoch ({steps_per_epoch} steps each)")
    if not smooth or steps_per_epoch == 1:  # one step an epoch: nothing to average
        ax.plot(x, values, color=color, lw=0.8 if len(values) <= LONG_TRACE else 1.2)
        return
    ax.plot(x, values, color=color, lw=0.6, alpha=0.3, label="each step")
    if steps_per_epoch is None:
        window = 2 * (len(values) // 100) + 1  # odd, about a fiftieth of the run
        ax.plot(x, centred_mean(values, window), color=color, lw=2, label=f"mean of {window} steps (centred)")
    else:
        ax.plot(epoch_means(x, steps_per_epoch), epoch_means(values, steps_per_epoch), color=color, lw=2,
                label="mean of each epoch")
    ax.legend(fontsize=8)
    # the first steps' values can be 100 times the rest: keep them off the axis range
    low, high = np.percentile(values, [1, 99])
    margin = 0.1 * (high - low) + 1e-12
    ax.set_ylim(low - margin, high + margin)


def weight_trace(trace, path=None, steps_per_epoch=None):
    """The lessons' view of one weight: its value and its gradient at every step (from a
    nn.WeightTrace callback), beside the loss of each step's batch.

    Up to ``LONG_TRACE`` steps each panel is one line over the steps, as is the weight on any run (it
    moves by a rate times the gradient per step: a path, not noise). On longer runs the gradient and
    the loss, which jump from sample to sample, are drawn faint with a smoothed line on top: the mean
    of each epoch when ``steps_per_epoch`` is given (x in epochs; see ``epoch_means``), else a centred
    moving average over about a fiftieth of the run (``centred_mean``); their axis range is the 1st to
    99th percentile, so the first steps' large values do not flatten the rest.
    """
    plt = _pyplot()
    steps_per_epoch = check_int("steps_per_epoch", steps_per_epoch, low=1, allow_none=True)
    long_run = len(trace.weights) > LONG_TRACE
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
    name = f"W{trace.layer + 1}[{trace.source}, {trace.target}]"
    panels = [(trace.weights, f"weight {name}", "C0", False),
              (trace.gradients, f"gradient dL/d{name}", "C1", long_run),
              (trace.losses, "loss of each step's batch", "C2", long_run)]
    for ax, (values, title, color, smooth) in zip(axes, panels):
        _trace_panel(ax, values, color, smooth, steps_per_epoch if long_run else None)
        ax.set_title(title)
        ax.grid(alpha=0.3)
    axes[1].axhline(0, color="k", lw=0.6)
    return _finish(fig, path)


def _class_colour(k):
    return _pyplot().get_cmap("tab10").colors[k % 10]


def _points(name_X, name_y, X, y):
    """(X, y) as (n, 2) floats and (n,) class ids, or an error naming the argument."""
    X, y = np.asarray(X, dtype=float), np.asarray(y).astype(int).ravel()
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"decision_boundary needs 2-D inputs, {name_X} has shape {X.shape}")
    if len(y) != len(X):
        raise ValueError(f"{name_y} has {len(y)} labels but {name_X} has {len(X)} rows")
    if len(y) and y.min() < 0:
        raise ValueError(f"{name_y} must hold class ids 0, 1, ..., got {y.min()}")
    return X, y


def _names(argument, names, count, what):
    if len(names) < count:
        raise ValueError(f"{argument} has {len(names)} names but {count} are needed ({what})")
    return [str(name) for name in names]


def _class_regions(net, points, resolution):
    """The class the network assigns at each node of a ``resolution`` x ``resolution`` grid spanning
    the points (n, 2) with a tenth of their range to spare: gx, gy, classes, each (resolution, resolution)."""
    pad = 0.1 * np.ptp(points, axis=0) + 1e-9
    (x0, y0), (x1, y1) = points.min(axis=0) - pad, points.max(axis=0) + pad
    gx, gy = np.meshgrid(np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution))
    return gx, gy, net.predict(np.c_[gx.ravel(), gy.ravel()]).reshape(gx.shape)


def decision_boundary(net, X, y, path=None, resolution=300, *, X_test=None, y_test=None,
                      feature_names=None, class_names=None):
    """The classes a 2-D classifier assigns over the plane (each class's region in a pale shade of
    its colour), with the data on top in the class colours: training points ``X`` (n, 2), ``y`` (n,)
    as circles, test points ``X_test`` (m, 2), ``y_test`` (m,) (optional) as crosses.

    feature_names: the names of the two inputs, for the axes (default "x1", "x2"); class_names: a
    name for each class id 0, 1, ... for the legend (default "class 0", "class 1", ...). The title
    gives the training accuracy and, with test points, the test accuracy."""
    plt = _pyplot()
    X, y = _points("X", "y", X, y)
    if (X_test is None) != (y_test is None):
        raise ValueError("X_test and y_test go together: give both or neither")
    if X_test is not None:
        X_test, y_test = _points("X_test", "y_test", X_test, y_test)
    feature_names = _names("feature_names", ("x1", "x2") if feature_names is None else feature_names, 2,
                           "one for each input")
    gx, gy, regions = _class_regions(net, X if X_test is None else np.r_[X, X_test], resolution)
    n_classes = max(2, int(y.max()) + 1, int(regions.max()) + 1, 0 if y_test is None else int(y_test.max()) + 1)
    if class_names is None:
        class_names = [f"class {k}" for k in range(n_classes)]
    class_names = _names("class_names", class_names, n_classes, f"one for each class id 0 to {n_classes - 1}")
    colours = [_class_colour(k) for k in range(len(class_names))]

    size = 60 if len(X) <= 50 else 28  # the lessons' four people should not look like dust
    fig, ax = plt.subplots(figsize=(7, 5))
    ax.contourf(gx, gy, regions, levels=np.arange(len(colours) + 1) - 0.5, colors=colours, alpha=0.3)
    ax.scatter(X[:, 0], X[:, 1], c=[colours[k] for k in y], marker="o", s=size, edgecolors="k", linewidths=0.6)
    title = f"decision boundary\ntraining accuracy {np.mean(net.predict(X) == y):.1%}"
    if X_test is not None:
        ax.scatter(X_test[:, 0], X_test[:, 1], c=[colours[k] for k in y_test], marker="X", s=2 * size,
                   edgecolors="k", linewidths=0.6)
        title += f", test accuracy {np.mean(net.predict(X_test) == y_test):.1%}"
    ax.set_title(title)
    ax.set_xlabel(feature_names[0])
    ax.set_ylabel(feature_names[1])
    _boundary_legend(ax, colours, class_names, X_test is not None)
    return _finish(fig, path)


def _boundary_legend(ax, colours, class_names, has_test):
    """Outside the plot, on the right (it would hide points inside): a colour swatch per class, then
    the marker of each kind of point."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles = [Patch(facecolor=colour, edgecolor="k", lw=0.5, label=name) for colour, name in zip(colours, class_names)]
    handles.append(Line2D([], [], ls="", marker="o", ms=6, mfc="0.6", mec="k", mew=0.6, label="training"))
    if has_test:
        handles.append(Line2D([], [], ls="", marker="X", ms=8, mfc="0.6", mec="k", mew=0.6, label="test"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1), borderaxespad=0, frameon=False)


def confusion_matrix(y_true, y_pred, n_classes=None):
    """counts[i, j]: samples of class i predicted as j."""
    y_true, y_pred = np.asarray(y_true, dtype=int), np.asarray(y_pred, dtype=int)
    n_classes = n_classes or int(max(y_true.max(), y_pred.max())) + 1
    counts = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(counts, (y_true, y_pred), 1)
    return counts


def confusion(y_true, y_pred, path=None):
    """The confusion matrix as a picture: rows are true classes, columns predictions."""
    plt = _pyplot()
    counts = confusion_matrix(y_true, y_pred)
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    image = ax.imshow(counts, cmap="Blues")
    fig.colorbar(image, ax=ax, label="images")
    n = len(counts)
    for i in range(n):
        for j in range(n):
            ax.text(j, i, counts[i, j], ha="center", va="center", fontsize=8,
                    color="white" if counts[i, j] > counts.max() / 2 else "black")
    ax.set_xticks(range(n))
    ax.set_yticks(range(n))
    ax.set_xlabel("predicted digit")
    ax.set_ylabel("true digit")
    ax.set_title(f"confusion matrix (accuracy {np.trace(counts) / counts.sum():.2%})")
    return _finish(fig, path)


def misclassified(X, y_true, y_pred, path=None, count=24, image_shape=(28, 28)):
    """A grid of the first ``count`` misclassified images, each titled true -> predicted."""
    plt = _pyplot()
    wrong = np.flatnonzero(np.asarray(y_true) != np.asarray(y_pred))[:count]
    cols = 8
    rows = max(1, -(-len(wrong) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.3, rows * 1.5), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, i in zip(axes.ravel(), wrong):
        ax.imshow(np.asarray(X[i]).reshape(image_shape), cmap="gray_r")
        ax.set_title(f"{y_true[i]} -> {y_pred[i]}", fontsize=9, color="C3")
    fig.suptitle(f"misclassified: true -> predicted ({len(wrong)} shown of "
                 f"{int(np.sum(np.asarray(y_true) != np.asarray(y_pred)))})")
    return _finish(fig, path)
