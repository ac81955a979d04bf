"""Figures (matplotlib, the optional extra ``nn[plot]``, imported only when a figure is asked for).

Each function returns the matplotlib Figure; with ``path`` it also writes it (PNG by the file name).
"""
import numpy as np


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("plots need matplotlib: pip install 'nn[plot]' (or pip install matplotlib)") from None
    return plt


def close_all():
    """Free every open figure."""
    _pyplot().close("all")


def _finish(fig, path):
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig


def training_curves(history, path=None):
    """Loss and accuracy per epoch, training and validation (accuracy only for classifiers)."""
    plt = _pyplot()
    has_accuracy = bool(history.accuracy)
    fig, axes = plt.subplots(1, 2 if has_accuracy else 1, figsize=(10 if has_accuracy else 5.5, 4), squeeze=False)
    epochs = np.arange(1, len(history) + 1)
    panels = [("loss", "loss")] + ([("accuracy", "accuracy")] if has_accuracy else [])
    for ax, (key, title) in zip(axes[0], panels):
        ax.plot(epochs, history[key], marker="o", ms=3, label="training")
        if history["val_" + key]:
            ax.plot(epochs, history["val_" + key], marker="o", ms=3, label="validation")
        ax.set_xlabel("epoch")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_ylabel(title)
        ax.set_title(f"{title} per epoch")
        ax.grid(alpha=0.3)
        ax.legend()
    return _finish(fig, path)


def _moving_average(values, window):
    if window <= 1 or len(values) < window:
        return np.asarray(values, dtype=float)
    return np.convolve(values, np.ones(window) / window, mode="valid")


def weight_trace(trace, path=None):
    """The lessons' view of one weight: its value and its gradient at every step (from a
    nn.WeightTrace callback), beside the loss of each step's batch. Per-sample gradients and losses
    jump from step to step: a moving average shows the trend, and the first steps' large values are
    clipped from the axis range."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
    steps = np.arange(1, len(trace.weights) + 1)
    window = max(1, len(steps) // 50)
    name = f"W{trace.layer + 1}[{trace.source}, {trace.target}]"
    panels = [(axes[0], trace.weights, f"weight {name}", "C0", False),
              (axes[1], trace.gradients, f"gradient dL/d{name}", "C1", True),
              (axes[2], trace.losses, "loss of each step's batch", "C2", True)]
    for ax, values, title, color, noisy in panels:
        values = np.asarray(values, dtype=float)
        ax.plot(steps, values, color=color, lw=0.6, alpha=0.35 if noisy and window > 1 else 1.0, label="each step")
        if noisy and window > 1:
            smooth = _moving_average(values, window)
            ax.plot(steps[window - 1:], smooth, color=color, lw=2, label=f"mean of {window} steps")
            low, high = np.percentile(values, [1, 99])
            margin = 0.1 * (high - low) + 1e-12
            ax.set_ylim(low - margin, high + margin)
            ax.legend(fontsize=8)
        ax.set_xlabel("step")
        ax.set_title(title)
        ax.grid(alpha=0.3)
    axes[1].axhline(0, color="k", lw=0.6)
    return _finish(fig, path)


def decision_boundary(net, X, y, path=None, resolution=300):
    """The classes a 2-D classifier assigns over the plane, with the data points on top."""
    plt = _pyplot()
    X, y = np.asarray(X, dtype=float), np.asarray(y).astype(int).ravel()
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"decision_boundary needs 2-D inputs, X has shape {X.shape}")
    pad = 0.1 * np.ptp(X, axis=0) + 1e-9
    (x0, y0), (x1, y1) = X.min(axis=0) - pad, X.max(axis=0) + pad
    gx, gy = np.meshgrid(np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution))
    classes = net.predict(np.c_[gx.ravel(), gy.ravel()]).reshape(gx.shape)
    n_classes = max(int(y.max()) + 1, int(classes.max()) + 1, 2)
    fig, ax = plt.subplots(figsize=(5.5, 5))
    cmap = plt.get_cmap("tab10", 10)
    ax.contourf(gx, gy, classes, levels=np.arange(n_classes + 1) - 0.5, cmap=cmap, vmin=-0.5, vmax=9.5, alpha=0.3)
    ax.scatter(X[:, 0], X[:, 1], c=y, cmap=cmap, vmin=-0.5, vmax=9.5, edgecolors="k", s=25)
    accuracy = np.mean(net.predict(X) == y)
    ax.set_title(f"decision boundary (training accuracy {accuracy:.1%})")
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    return _finish(fig, path)


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
