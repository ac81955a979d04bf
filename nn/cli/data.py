"""What `nn train` learns from: MNIST (the bundled sample or a folder of IDX files), the lessons' toy sets,
or a table from a file (--data FILE) with its target, task, test set and scaling; described in the lines
printed before training.
"""
import os
from typing import NamedTuple

import numpy as np

from .. import tabular
from ..datasets import TOY_SETS, load_mnist, standardization, standardize, train_test_split
from .options import (DEFAULT_TEST_SPLIT, FILE_DEFAULTS, MNIST_DEFAULTS, TOY_DEFAULTS, Defaults,
                      check_file_options, is_table)

PLOT_NAMES = {  # dataset: (its two features, its classes) for the decision boundary's axes and legend
    "gender": (("weight - 135 (lb)", "height - 66 (in)"), ("male", "female")),
    "xor": (("x1", "x2"), ("0 (x1 = x2)", "1 (x1 != x2)")),
    "spirals": (("x1 (standardized)", "x2 (standardized)"), None),
    "moons": (("x1 (standardized)", "x2 (standardized)"), ("upper moon", "lower moon")),
}


class Data(NamedTuple):
    """What nn train learns from. ``y`` is what fit takes (class ids or values), ``y_test`` what predict
    returns (labels for a file's classes); ``X_test`` is None without a test set. ``lines`` describe the
    data, printed before the network; ``classes`` and ``metadata`` go to the network."""
    X: np.ndarray
    y: np.ndarray
    X_test: object
    y_test: object
    defaults: Defaults
    n_outputs: int
    noun: str
    lines: list
    classes: object = None
    metadata: dict = {}
    feature_names: object = None  # the decision boundary's axes and legend
    class_names: object = None
    mnist: bool = False


# ----- the built-in datasets: MNIST and the lessons' toy sets --------------------------------------------
def load_data(args):
    """The Data of --dataset or --data."""
    if is_table(args.data):
        if args.dataset is not None:
            raise ValueError(f"--data: {args.data!r} is a file; --dataset {args.dataset} needs "
                             + ("the folder that holds the MNIST IDX files" if args.dataset == "mnist" else
                                "no --data (its data is built in)"))
        return _load_file(args)
    dataset = args.dataset or "mnist"
    check_file_options(args, f"--dataset {dataset}")
    if dataset == "mnist":
        X, y = load_mnist(args.data, "train", dtype=args.dtype)
        X_test, y_test = load_mnist(args.data, "test", dtype=args.dtype)
        line = f"training on {len(X)} images ({args.data or 'bundled sample'}), testing on {len(X_test)}"
        return Data(X, y, X_test, y_test, MNIST_DEFAULTS, 10, "images", [line], mnist=True)
    if args.data:
        raise ValueError(f"--data is for --dataset mnist (a folder) or your own data (a file), not --dataset {dataset}")
    defaults = TOY_DEFAULTS[dataset]
    X, y = TOY_SETS[dataset](seed=args.seed) if dataset in ("spirals", "moons") else TOY_SETS[dataset]()
    if dataset in ("spirals", "moons"):
        X, X_test, y, y_test = train_test_split(X, y, test_size=0.25, seed=args.seed)
        X, X_test = standardize(X, X_test)
    else:
        X_test, y_test = X, y  # four samples: the training set is the test
    n_outputs = 1 if defaults.output == "sigmoid" else int(np.max(y)) + 1
    feature_names, class_names = PLOT_NAMES.get(dataset, (None, None))
    return Data(X, y, X_test, y_test, defaults, n_outputs, "samples",
                [f"training on {len(X)} samples ({dataset}), testing on {len(X_test)}"],
                feature_names=feature_names, class_names=class_names)


# ----- your own data: a table from a file ----------------------------------------------------------------
def _load_file(args):
    """The Data of a table file (--data FILE): the target column (--target), the task (--task, or
    guessed), a test set (--test FILE, or --test-split of the rows) and the scaling (--scale)."""
    table = tabular.read_table(args.data)
    X, target, feature_names, target_name = tabular.features_and_target(table, args.target)
    target_column = table.names.index(target_name)
    task = args.task or tabular.guess_task(target)
    lines = [_data_line(table, X, feature_names, target_name, target_column, args.target)]
    if args.test:
        if args.test_split is not None:
            raise ValueError("--test-split: give --test FILE or --test-split, not both")
        test_table = tabular.read_table(args.test)
        X_test, target_test = tabular.model_columns(test_table, X.shape[1], feature_names, target_name, target_column)
        if target_test is None:
            raise ValueError(f"--test: {args.test} has no target column {target_name!r}")
    else:
        X_test = target_test = None

    encode = _classes if task == "classify" else _values
    classes, y, y_test, described = encode(table, target, target_name, target_test)
    how = "as --task says" if args.task else "guessed from the target; --task to choose"
    lines.append(f"task: {task} ({described}), {how}")
    if classes is not None and y_test is not None:
        unknown = sorted(set(y_test.tolist()) - set(classes.tolist()))
        if unknown:
            lines.append(f"note: {args.test} has labels the training data lacks ({listed(unknown)}): they count "
                         "as mistakes")

    if X_test is None:
        X, y, X_test, y_test, held_out = _split(args, X, y, classes)
    else:
        order = np.random.default_rng(args.seed).permutation(len(X))  # validation_split takes the last rows
        X, y, held_out = X[order], y[order], f"({args.test})"
    metadata = {"data": os.path.basename(args.data), "feature_names": feature_names, "target_name": target_name,
                "target_column": target_column, "task": task}
    if args.scale:
        mean, std = standardization(X)
        X = (X - mean) / std
        X_test = None if X_test is None else (X_test - mean) / std
        metadata.update(scale_mean=mean.tolist(), scale_std=std.tolist())
    testing = "no test set (--test-split 0)" if X_test is None else f"testing on {len(X_test)} {held_out}"
    lines.append(f"training on {len(X)} samples ({os.path.basename(args.data)}), {testing}"
                 + ("; features standardized (--scale)" if args.scale else _scale_hint(X)))
    n_outputs = 1 if classes is None else len(classes)
    class_names = None if classes is None else [str(c) for c in classes]
    return Data(X, y, X_test, y_test, FILE_DEFAULTS[task], n_outputs, "samples", lines, classes, metadata,
                feature_names, class_names)


def _data_line(table, X, feature_names, target_name, target_column, target_option):
    """'data: iris.csv (a header row): 150 rows, 4 features (a, b, c, d), the target column 'species' (the last)'"""
    form = {"csv": "a header row" if table.header else "no header row", "npy": "a 2-D array", "npz": "X and y"}
    which = "" if table.kind == "npz" else " (--target)" if target_option is not None else \
        " (the last; --target to choose)"
    return (f"data: {os.path.basename(table.path)} ({form[table.kind]}): {len(X)} rows, {X.shape[1]} features "
            f"({listed(feature_names)}), the target {table.column(target_column)}{which}")


def listed(items, limit=8):
    items = [str(item) for item in items]
    return ", ".join(items) if len(items) <= limit else ", ".join(items[:limit - 2]) + f", ... ({len(items)} in all)"


def _classes(table, target, target_name, target_test):
    """(classes, class ids, test labels, a description) of a classification's target column."""
    classes, y = np.unique(tabular.as_labels(target), return_inverse=True)
    if len(classes) < 2:
        raise ValueError(f"{table.path}: the target {target_name!r} holds one class only ({classes[0]!r}): nothing "
                         "to tell apart")
    y_test = None if target_test is None else tabular.like_classes(target_test, classes)
    return classes, y, y_test, f"{len(classes)} classes: {listed(classes, 10)}"


def _values(table, target, target_name, target_test):
    """(None, targets, test targets, a description) of a regression's target column."""
    y = tabular.regression_targets(target, f"{table.path}'s target {target_name!r}")
    y_test = None if target_test is None else tabular.regression_targets(target_test, f"the --test target {target_name!r}")
    return None, y, y_test, f"{target_name!r} from {y.min():g} to {y.max():g}"


def _split(args, X, y, classes):
    """(X, y, X_test, y_test, how the test rows were chosen) of --test-split; y_test as labels."""
    fraction = DEFAULT_TEST_SPLIT if args.test_split is None else args.test_split
    if fraction == 0:
        order = np.random.default_rng(args.seed).permutation(len(X))
        return X[order], y[order], None, None, ""
    X, X_test, y, y_test = train_test_split(X, y, test_size=fraction, seed=args.seed)
    return X, y, X_test, (y_test if classes is None else classes[y_test]), \
        f"(held out: --test-split {fraction:g}, seed {args.seed})"


def _scale_hint(X):
    """A hint to --scale when the features' spreads differ a hundredfold or more."""
    std = X.std(axis=0)
    spread = std[std > 0]
    if len(spread) > 1 and spread.max() >= 100 * spread.min():
        return f"; the features' spreads range from {spread.min():.3g} to {spread.max():.3g}: --scale may help"
    return ""
