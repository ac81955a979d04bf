"""The figures `nn train --plots` and `nn predict --plots` write (nn.plots, and so matplotlib, imported
only when they are drawn).
"""
import copy
import os

import numpy as np


def train_plots(folder, net, history, trace, data):
    """nn train --plots: the training curves, the weight trace of a small network, the decision boundary of
    two features, MNIST's confusion matrix and mistakes; the files written are listed."""
    from .. import plots

    os.makedirs(folder, exist_ok=True)
    plots.training_curves(history, os.path.join(folder, "curves.png"))
    written = ["curves.png"]
    if trace is not None:
        steps_per_epoch = None if history.interrupted or not len(history) else len(trace.weights) // len(history)
        plots.weight_trace(trace, os.path.join(folder, "weight.png"), steps_per_epoch=steps_per_epoch)
        written.append("weight.png")
    if data.X.shape[1] == 2 and net.is_classifier:
        _boundary(plots, os.path.join(folder, "boundary.png"), net, data)
        written.append("boundary.png")
    if data.mnist:
        written += mnist_plots(folder, data.X_test, data.y_test, net.predict(data.X_test))
    print(f"figures written to {folder}: {', '.join(written)}")
    plots.close_all()


def _boundary(plots, path, net, data):
    """The decision boundary, which speaks in class ids: a network with labels (a file's classes) is drawn
    through a copy without them, and test rows whose label the network does not know are left out."""
    X_test, y_test = data.X_test, data.y_test
    if X_test is data.X:  # gender and xor: the four samples are their own test set
        X_test = y_test = None
    if net.classes is not None:
        if X_test is not None:
            known = np.isin(y_test, net.classes)
            X_test, y_test = X_test[known], np.searchsorted(net.classes, y_test[known])
        net = copy.deepcopy(net)
        net.classes = None
    plots.decision_boundary(net, data.X, data.y, path, X_test=X_test, y_test=y_test,
                            feature_names=data.feature_names, class_names=data.class_names)


def mnist_plots(folder, X, y, predictions):
    """The confusion matrix and the misclassified images; returns the names of the files written."""
    from .. import plots

    plots.confusion(y, predictions, os.path.join(folder, "confusion.png"))
    plots.misclassified(X, y, predictions, os.path.join(folder, "misclassified.png"))
    return ["confusion.png", "misclassified.png"]
