"""The MNIST IDX loader: the bundled sample, the shared data, and every kind of broken file."""
import gzip
import struct

import numpy as np
import pytest

from nn.datasets import load_mnist, one_hot

from conftest import MNIST_DIR, mnist_available


def test_bundled_sample_loads():
    X, y = load_mnist()
    X_test, y_test = load_mnist(kind="test", dtype="float32")
    assert X.shape == (6000, 784) and y.shape == (6000,) and X.dtype == np.float64
    assert X_test.shape == (2000, 784) and X_test.dtype == np.float32
    assert 0 <= X.min() and X.max() == 1.0
    assert set(np.unique(y)) == set(range(10))


@pytest.mark.skipif(not mnist_available(), reason="../shared/data/mnist is absent")
def test_bundled_sample_is_the_start_of_the_real_files():
    X, y = load_mnist(MNIST_DIR)
    Xs, ys = load_mnist()
    assert X.shape == (20000, 784)
    np.testing.assert_array_equal(Xs, X[:6000])
    np.testing.assert_array_equal(ys, y[:6000])


def write_idx(folder, images, labels, image_magic=2051, label_magic=2049, image_count=None, label_count=None,
              cut=0, compress=True):
    n = len(images)
    img = struct.pack(">IIII", image_magic, n if image_count is None else image_count, 28, 28) + images.tobytes()
    lab = struct.pack(">II", label_magic, n if label_count is None else label_count) + labels.tobytes()
    img = img[:len(img) - cut]
    opener = gzip.open if compress else open
    suffix = ".gz" if compress else ""
    with opener(folder / f"train-images-idx3-ubyte{suffix}", "wb") as f:
        f.write(img)
    with opener(folder / f"train-labels-idx1-ubyte{suffix}", "wb") as f:
        f.write(lab)


@pytest.fixture
def digits(rng):
    return rng.integers(0, 256, size=(5, 784), dtype=np.uint8), rng.integers(0, 10, size=5, dtype=np.uint8)


@pytest.mark.parametrize("compress", [True, False])
def test_reads_gzip_and_raw(tmp_path, digits, compress):
    write_idx(tmp_path, *digits, compress=compress)
    X, y = load_mnist(tmp_path)
    np.testing.assert_allclose(X * 255, digits[0])
    np.testing.assert_array_equal(y, digits[1])


@pytest.mark.parametrize("kwargs, match", [
    (dict(cut=100), "truncated or corrupt"),
    (dict(image_magic=1234), "not an IDX image file"),
    (dict(label_magic=7), "not an IDX label file"),
    (dict(image_count=6), "truncated or corrupt"),
])
def test_broken_files_raise_naming_the_file(tmp_path, digits, kwargs, match):
    write_idx(tmp_path, *digits, **kwargs)
    with pytest.raises(ValueError, match=match) as info:
        load_mnist(tmp_path)
    assert "ubyte" in str(info.value)


def test_mismatched_counts_and_bad_labels(tmp_path, digits):
    images, labels = digits
    write_idx(tmp_path, images, labels[:4], label_count=4)
    with pytest.raises(ValueError, match="5 images but .* 4 labels"):
        load_mnist(tmp_path)
    write_idx(tmp_path, images, np.full(5, 12, dtype=np.uint8))
    with pytest.raises(ValueError, match="digits 0..9"):
        load_mnist(tmp_path)


def test_not_gzip_garbage_and_missing(tmp_path):
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8b" + b"not really gzip" * 10)
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(b"")
    with pytest.raises(ValueError, match="train-images"):
        load_mnist(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_mnist(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="t10k-images"):
        load_mnist(tmp_path, "test")
    with pytest.raises(ValueError, match="kind must be"):
        load_mnist(kind="validation")


def test_one_hot():
    np.testing.assert_array_equal(one_hot([2, 0]), [[0, 0, 1], [1, 0, 0]])
    assert one_hot(np.array([1]), 4).shape == (1, 4)
    with pytest.raises(ValueError):
        one_hot([3], 2)
