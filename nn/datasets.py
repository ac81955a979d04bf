"""Data: the MNIST IDX loader, the lessons' toy sets, one-hot, scaling and splits (tables from files: nn.tabular)."""
import gzip
import math
import numbers
import os
import struct
import zlib

import numpy as np

from .validation import check_dtype, check_generator, check_int, check_number, check_seed

IMAGES_MAGIC, LABELS_MAGIC = 2051, 2049
GZIP_MAX_EXPANSION = 1100  # deflate gives at most about 1032 bytes per compressed byte
READ_CHUNK = 1 << 20
MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def _read_idx(path, magic, n_dims, kind):
    """(dims, values) of an IDX file, gzip or raw: the ``n_dims`` counts of its header and its values,
    uint8 and flat. The header is read first and checked (the magic number, then the bytes its counts
    promise against what the file can hold: its size if raw, GZIP_MAX_EXPANSION times its size if
    gzip); then exactly the promised bytes are read, in chunks into one array, so memory never exceeds
    the promise; a shorter or longer stream is an error."""
    try:
        with open(path, "rb") as f:
            gzipped = f.read(2) == b"\x1f\x8b"
        capacity = os.path.getsize(path) * (GZIP_MAX_EXPANSION if gzipped else 1)
        with (gzip.open if gzipped else open)(path, "rb") as stream:
            dims = _read_idx_header(stream, path, magic, n_dims, kind)
            promised = math.prod(dims)  # Python ints: no overflow
            if 4 * (n_dims + 1) + promised > capacity:
                raise ValueError(f"{path}: its header promises {_describe(dims, kind)} ({promised} bytes), more "
                                 f"than the file can hold ({capacity} bytes): the file is truncated or corrupt")
            return dims, _read_exactly(stream, promised, path, _describe(dims, kind))
    except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        raise ValueError(f"{path}: cannot read ({exc})") from None


def _read_idx_header(stream, path, magic, n_dims, kind):
    """The counts of an IDX header (magic, then ``n_dims`` big-endian uint32), the magic checked."""
    raw = stream.read(4 * (n_dims + 1))
    if len(raw) < 4 * (n_dims + 1):
        raise ValueError(f"{path}: truncated IDX header ({len(raw)} bytes)")
    found, *dims = struct.unpack(f">{n_dims + 1}I", raw)
    if found != magic:
        raise ValueError(f"{path}: not an IDX {kind} file (magic {found}, expected {magic})")
    return dims


def _describe(dims, kind):
    """'5 images of 28x28', '5 labels'"""
    shape = f" of {'x'.join(map(str, dims[1:]))}" if len(dims) > 1 else ""
    return f"{dims[0]} {kind}s{shape}"


def _read_exactly(stream, n_bytes, path, promise):
    """The next ``n_bytes`` of ``stream`` as uint8, read in chunks of READ_CHUNK; the stream must end there."""
    values = np.empty(n_bytes, dtype=np.uint8)
    view, filled = memoryview(values), 0
    while filled < n_bytes:
        got = stream.readinto(view[filled:filled + READ_CHUNK])
        if not got:
            raise ValueError(f"{path}: {filled} bytes of values, but its header promises {promise} "
                             f"({n_bytes} bytes): the file is truncated or corrupt")
        filled += got
    if stream.read(1):
        raise ValueError(f"{path}: more bytes than its header promises ({promise}, {n_bytes} bytes): "
                         f"the file is corrupt")
    return values


def _find(folder, stem):
    for name in (stem + ".gz", stem):
        path = os.path.join(folder, name)
        if os.path.exists(path):
            return path
    raise FileNotFoundError(f"{folder} has no {stem}.gz or {stem} (MNIST IDX files)")


def read_idx_images(path):
    """uint8 images (n, rows * cols) from an IDX3 file; the header and length are checked."""
    (count, rows, cols), values = _read_idx(path, IMAGES_MAGIC, 3, "image")
    return values.reshape(count, rows * cols)


def read_idx_labels(path):
    """uint8 labels (n,) from an IDX1 file; the header, length and range 0..9 are checked."""
    _, labels = _read_idx(path, LABELS_MAGIC, 1, "label")
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
    n_classes = int(y.max()) + 1 if n_classes is None else check_int("n_classes", n_classes, low=1)
    if y.size and y.max() >= n_classes:
        raise ValueError(f"y has class id {y.max()} but n_classes is {n_classes}")
    out = np.zeros((y.size, n_classes), dtype=check_dtype(dtype))
    out[np.arange(y.size), y] = 1
    return out


def shift_images(X, rng, max_shift=1, image_shape=(28, 28)):
    """Each image (a row of X) moved by a random whole number of pixels in [-max_shift, max_shift]
    along each axis, vacated pixels 0: data augmentation, as ``Trainer.fit(augment=...)`` expects
    (``augment=lambda X, rng, epoch: shift_images(X, rng)``). ``rng`` is a NumPy Generator."""
    check_generator("rng", rng)
    max_shift = check_int("max_shift", max_shift)
    if not isinstance(image_shape, (tuple, list)) or len(image_shape) != 2:
        raise TypeError(f"image_shape must be (height, width), got {image_shape!r}")
    height, width = (check_int(f"image_shape[{i}]", size, low=1) for i, size in enumerate(image_shape))
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != height * width:
        raise ValueError(f"X must have shape (n, {height * width}) for images of {height}x{width}, got {X.shape}")
    if max_shift < 0 or max_shift >= min(height, width):
        raise ValueError(f"max_shift must be in 0..{min(height, width) - 1}, got {max_shift}")
    images = X.reshape(-1, height, width)
    out = np.zeros_like(images)
    dy = rng.integers(-max_shift, max_shift + 1, size=len(X))
    dx = rng.integers(-max_shift, max_shift + 1, size=len(X))
    for sy in range(-max_shift, max_shift + 1):
        for sx in range(-max_shift, max_shift + 1):
            rows = np.flatnonzero((dy == sy) & (dx == sx))
            # destination and source windows of the shift
            dst_y, src_y = slice(max(sy, 0), height + min(sy, 0)), slice(max(-sy, 0), height + min(-sy, 0))
            dst_x, src_x = slice(max(sx, 0), width + min(sx, 0)), slice(max(-sx, 0), width + min(-sx, 0))
            out[rows, dst_y, dst_x] = images[rows, src_y, src_x]
    return out.reshape(X.shape)


# ----- the lessons' toy sets --------------------------------------------------------------------------
def xor():
    """The four XOR cases: X (4, 2), y (4,) in {0, 1}."""
    return np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64), np.array([0, 1, 1, 0])


def gender():
    """The lessons' four people (Alice, Bob, Charlie, Diana): X = [weight - 135 lb, height - 66 in],
    y = 1 for female."""
    X = np.array([[-2, -1], [25, 6], [17, 4], [-15, -6]], dtype=np.float64)
    return X, np.array([1, 0, 0, 1])


def toy4():
    """The micrograd lesson's 4 samples of 3 inputs with targets +-1."""
    X = np.array([[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]])
    return X, np.array([1.0, -1.0, -1.0, 1.0])


def spirals(n=100, classes=3, noise=0.2, seed=None):
    """``classes`` interleaved spiral arms of ``n`` points each in 2-D (the classic cs231n set):
    X (n * classes, 2), y class ids."""
    n, classes = check_int("n", n, low=1), check_int("classes", classes, low=2)
    noise, rng = check_number("noise", noise, low=0), np.random.default_rng(check_seed("seed", seed))
    X = np.zeros((n * classes, 2))
    y = np.repeat(np.arange(classes), n)
    for k in range(classes):
        radius = np.linspace(0.0, 1.0, n)
        angle = np.linspace(k * 4.0, (k + 1) * 4.0, n) + rng.normal(scale=noise, size=n)
        X[k * n:(k + 1) * n] = np.c_[radius * np.sin(angle), radius * np.cos(angle)]
    return X, y


def moons(n=200, noise=0.1, seed=None):
    """Two interleaving half circles of n // 2 and n - n // 2 points, with Gaussian noise:
    X (n, 2), y in {0, 1}."""
    n, noise, rng = check_int("n", n, low=2), check_number("noise", noise, low=0), np.random.default_rng(check_seed("seed", seed))
    n_top = n // 2
    t_top, t_bottom = np.linspace(0, np.pi, n_top), np.linspace(0, np.pi, n - n_top)
    top = np.c_[np.cos(t_top), np.sin(t_top)]
    bottom = np.c_[1 - np.cos(t_bottom), 0.5 - np.sin(t_bottom)]
    X = np.r_[top, bottom] + rng.normal(scale=noise, size=(n, 2))
    return X, np.r_[np.zeros(n_top, dtype=np.int64), np.ones(n - n_top, dtype=np.int64)]


# ----- scaling and splitting ---------------------------------------------------------------------------
def standardization(train):
    """(mean, std) of each column of ``train`` (n, d), as standardize uses them: a column of zero
    spread gets std 1, so that it is only centred. Keep them to scale new data the same way later."""
    train = np.asarray(train, dtype=np.float64)
    if train.ndim != 2 or len(train) == 0:
        raise ValueError(f"train must be a 2-D array with at least one row, got shape {train.shape}")
    std = train.std(axis=0)
    return train.mean(axis=0), np.where(std > 0, std, 1.0)


def standardize(train, *others):
    """(x - mean) / std with the mean and std of ``train`` (columns of zero spread are left centred),
    applied to ``train`` and to every array in ``others``. Returns the scaled arrays in order."""
    mean, std = standardization(train)
    return tuple((np.asarray(a, dtype=np.float64) - mean) / std for a in (train, *others))


def minmax(train, *others):
    """Scale every column to [0, 1] by the minimum and maximum of ``train`` (constant columns map to 0),
    applied to ``train`` and to every array in ``others``."""
    train = np.asarray(train, dtype=np.float64)
    low, span = train.min(axis=0), np.ptp(train, axis=0)
    span = np.where(span > 0, span, 1.0)
    return tuple((np.asarray(a, dtype=np.float64) - low) / span for a in (train, *others))


def train_test_split(X, y, test_size=0.2, seed=None):
    """A shuffled split: (X_train, X_test, y_train, y_test), ``test_size`` a fraction or a count."""
    X, y = np.asarray(X), np.asarray(y)
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} samples but y has {len(y)}")
    if isinstance(test_size, bool) or not isinstance(test_size, numbers.Real):
        raise TypeError(f"test_size must be a fraction in (0, 1) or a number of samples, got {test_size!r}")
    n_test = test_size if isinstance(test_size, numbers.Integral) else round(float(test_size) * len(X))
    if not 0 < n_test < len(X):
        raise ValueError(f"test_size={test_size} leaves no data for training or testing ({len(X)} samples)")
    order = np.random.default_rng(check_seed("seed", seed)).permutation(len(X))
    test, train = order[:n_test], order[n_test:]
    return X[train], X[test], y[train], y[test]


TOY_SETS = {"xor": xor, "gender": gender, "spirals": spirals, "moons": moons}
