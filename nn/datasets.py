"""Data: the MNIST IDX loader, the lessons' toy sets, one-hot, scaling and splits."""
import gzip
import os
import struct

import numpy as np

from .validation import check_dtype

IMAGES_MAGIC, LABELS_MAGIC = 2051, 2049
MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def _read_idx(path):
    """The bytes of an IDX file, gzip or raw."""
    try:
        with open(path, "rb") as f:
            head = f.read(2)
        opener = gzip.open if head == b"\x1f\x8b" else open
        with opener(path, "rb") as f:
            return f.read()
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise ValueError(f"{path}: cannot read ({exc})") from None


def _find(folder, stem):
    for name in (stem + ".gz", stem):
        path = os.path.join(folder, name)
        if os.path.exists(path):
            return path
    raise FileNotFoundError(f"{folder} has no {stem}.gz or {stem} (MNIST IDX files)")


def read_idx_images(path):
    """uint8 images (n, rows * cols) from an IDX3 file; the header and length are checked."""
    raw = _read_idx(path)
    if len(raw) < 16:
        raise ValueError(f"{path}: truncated IDX header ({len(raw)} bytes)")
    magic, count, rows, cols = struct.unpack(">IIII", raw[:16])
    if magic != IMAGES_MAGIC:
        raise ValueError(f"{path}: not an IDX image file (magic {magic}, expected {IMAGES_MAGIC})")
    expected = 16 + count * rows * cols
    if len(raw) != expected:
        raise ValueError(f"{path}: {len(raw)} bytes, but its header promises {count} images of "
                         f"{rows}x{cols} ({expected} bytes): the file is truncated or corrupt")
    return np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(count, rows * cols)


def read_idx_labels(path):
    """uint8 labels (n,) from an IDX1 file; the header, length and range 0..9 are checked."""
    raw = _read_idx(path)
    if len(raw) < 8:
        raise ValueError(f"{path}: truncated IDX header ({len(raw)} bytes)")
    magic, count = struct.unpack(">II", raw[:8])
    if magic != LABELS_MAGIC:
        raise ValueError(f"{path}: not an IDX label file (magic {magic}, expected {LABELS_MAGIC})")
    if len(raw) != 8 + count:
        raise ValueError(f"{path}: {len(raw)} bytes, but its header promises {count} labels "
                         f"({8 + count} bytes): the file is truncated or corrupt")
    labels = np.frombuffer(raw, dtype=np.uint8, offset=8)
    if labels.size and labels.max() > 9:
        raise ValueError(f"{path}: labels must be digits 0..9, found {labels.max()}")
    return labels


def load_mnist(path=None, kind="train", dtype="float64"):
    """MNIST from a folder of IDX files: X (n, 784) scaled to [0, 1] in ``dtype``, y (n,) int64 labels.

    ``kind`` is "train" or "test". Without ``path``, the sample bundled with nn is used.
    """
    if kind not in MNIST_FILES:
        raise ValueError(f"kind must be 'train' or 'test', got {kind!r}")
    dtype = check_dtype(dtype)
    if path is None:
        path = os.path.join(os.path.dirname(__file__), "data")
    if not os.path.isdir(path):
        raise FileNotFoundError(f"MNIST folder {path!r} does not exist")
    images_path, labels_path = (_find(path, stem) for stem in MNIST_FILES[kind])
    images, labels = read_idx_images(images_path), read_idx_labels(labels_path)
    if len(images) != len(labels):
        raise ValueError(f"{images_path} has {len(images)} images but {labels_path} has {len(labels)} labels")
    return images.astype(dtype) / dtype(255), labels.astype(np.int64)


def one_hot(y, n_classes=None, dtype="float64"):
    """Class ids (n,) -> one-hot rows (n, n_classes)."""
    y = np.asarray(y)
    if y.ndim != 1 or y.dtype.kind not in "iu" or (y.size and y.min() < 0):
        raise ValueError("y must be a 1-D array of non-negative integer class ids")
    n_classes = int(y.max()) + 1 if n_classes is None else int(n_classes)
    if y.size and y.max() >= n_classes:
        raise ValueError(f"y has class id {y.max()} but n_classes is {n_classes}")
    out = np.zeros((y.size, n_classes), dtype=check_dtype(dtype))
    out[np.arange(y.size), y] = 1
    return out
