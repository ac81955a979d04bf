"""`nn predict`: a saved model on MNIST images (accuracy and confusion matrix) or on a table from a file
(accuracy or R^2 against its target column, the predictions as CSV).
"""
import csv
import os
import sys

import numpy as np

from .. import tabular
from ..datasets import load_mnist
from ..network import Network
from .data import listed
from .figures import mnist_plots
from .options import check_file_options, check_paths, is_table

MNIST_PIXELS = 28 * 28


def _check_model(path):
    if not os.path.exists(path):
        raise ValueError(f"model: file {path!r} does not exist")
    if os.path.isdir(path):
        raise ValueError(f"model: {path!r} is a folder; give a file written by nn train --save")


def predict(args):
    """nn predict; returns the exit status."""
    from ..plots import confusion_matrix

    _check_model(args.model)
    check_paths(args)
    net = Network.load(args.model)
    if is_table(args.data):
        return _predict_table(args, net)
    trained_on = net.metadata.get("data")
    if trained_on:
        raise ValueError(f"--data: give the file to predict on: {args.model} was trained on {trained_on}, a table of "
                         f"{net.n_inputs} features, not on MNIST images")
    check_file_options(args, "MNIST images")
    if net.sizes[0] != MNIST_PIXELS or net.sizes[-1] != 10:
        raise ValueError(f"model: {args.model} is a {'-'.join(map(str, net.sizes))} network; nn predict needs "
                         f"one for MNIST ({MNIST_PIXELS} inputs, 10 outputs), or --data FILE with a table of its "
                         f"{net.n_inputs} features")
    X, y = load_mnist(args.data, args.kind, dtype=np.dtype(net.dtype).name)
    predictions = net.predict(X)
    counts = confusion_matrix(y, predictions, n_classes=10)
    print(f"{args.model}: accuracy {np.mean(predictions == y):.4f} on {len(y)} {args.kind} images "
          f"({args.data or 'bundled sample'})")
    print("confusion matrix (rows: true digit, columns: predicted):")
    print("      " + "".join(f"{j:6d}" for j in range(10)))
    for i, row in enumerate(counts):
        print(f"{i:6d}" + "".join(f"{c:6d}" for c in row))
    if args.plots:
        os.makedirs(args.plots, exist_ok=True)
        print(f"figures written to {args.plots}: {', '.join(mnist_plots(args.plots, X, y, predictions))}")
        from ..plots import close_all

        close_all()
    return 0


def _predict_table(args, net):
    """nn predict --data FILE: the saved scaling applied; the accuracy or R^2 when the file has the target
    column; the predictions as CSV to --output, or to stdout when there is no target to score."""
    if args.plots:
        raise ValueError("--plots is for MNIST models (the confusion matrix and mistakes), not --data FILE")
    meta = net.metadata
    table = tabular.read_table(args.data)
    X, target = tabular.model_columns(table, net.n_inputs, meta.get("feature_names"), meta.get("target_name"),
                                      meta.get("target_column"), args.target)
    if "scale_mean" in meta:
        X = (X - np.asarray(meta["scale_mean"])) / np.asarray(meta["scale_std"])
    predictions = net.predict(X)
    name = meta.get("target_name") or "prediction"
    if target is not None:
        print(f"{args.model}: {_table_score(net, predictions, X, target, name)} on {len(X)} samples "
              f"({os.path.basename(args.data)})")
    if args.output:
        with open(args.output, "w", newline="") as f:
            _write_predictions(f, predictions, name)
        print(f"predictions written to {args.output}")
    elif target is None:
        print(f"{args.data} has no target column: its {len(X)} predictions follow, as CSV (--output to write "
              "them to a file)", file=sys.stderr)
        _write_predictions(sys.stdout, predictions, name)
    return 0


def _table_score(net, predictions, X, target, name):
    """'accuracy 0.9667' (classifiers) or 'R^2 0.9512' (regressors) against a file's target column."""
    if not net.is_classifier:
        return f"R^2 {net.score(X, tabular.regression_targets(target, f'the target {name!r}')):.4f}"
    labels = tabular.as_labels(target) if net.classes is None else tabular.like_classes(target, net.classes)
    text = f"accuracy {np.mean(predictions == labels):.4f}"
    if net.classes is not None:
        unknown = sorted(set(labels.tolist()) - set(net.classes.tolist()))
        if unknown:
            text += f" (labels the model does not know, counted as mistakes: {listed(unknown)})"
    return text


def _write_predictions(stream, predictions, name):
    """The predictions as CSV with a header: one column named after the target (one per output of a
    network with several)."""
    rows = np.asarray(predictions).reshape(len(predictions), -1)
    writer = csv.writer(stream)
    writer.writerow([name] if rows.shape[1] == 1 else [f"{name}_{j}" for j in range(rows.shape[1])])
    writer.writerows(rows.tolist())

