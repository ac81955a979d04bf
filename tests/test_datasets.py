"""The MNIST IDX loader: the bundled sample, the shared data, and every kind of broken file."""
import gzip
import struct
import time
import tracemalloc

import numpy as np
import pytest

from nn.datasets import load_mnist, one_hot, standardization

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


@pytest.mark.parametrize("compress", [True, False], ids=["gzip", "raw"])
@pytest.mark.parametrize("which, extra, match", [
    ("images", -1, "truncated or corrupt"),
    ("images", +1, "more bytes than its header promises"),
    ("labels", -1, "truncated or corrupt"),
    ("labels", +3, "more bytes than its header promises"),
])
def test_truncated_and_over_long_files(tmp_path, digits, compress, which, extra, match):
    write_idx(tmp_path, *digits, compress=compress)
    path = tmp_path / f"train-{which}-idx{3 if which == 'images' else 1}-ubyte{'.gz' if compress else ''}"
    raw = gzip.decompress(path.read_bytes()) if compress else path.read_bytes()
    raw = raw[:extra] if extra < 0 else raw + bytes(extra)
    path.write_bytes(gzip.compress(raw) if compress else raw)
    with pytest.raises(ValueError, match=match) as info:
        load_mnist(tmp_path)
    assert path.name in str(info.value)


def test_a_gzip_bomb_is_refused_from_its_header(tmp_path, digits):
    write_idx(tmp_path, *digits)
    promised = 2_730_000  # images of 28x28: 2.1 GB
    bomb = tmp_path / "train-images-idx3-ubyte.gz"
    with gzip.open(bomb, "wb") as f:
        f.write(struct.pack(">IIII", 2051, promised, 28, 28))
        f.write(bytes(2 ** 20))
    assert bomb.stat().st_size < 5000
    started = time.perf_counter()
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=f"{bomb.name}: its header promises {promised} images of 28x28"):
            load_mnist(tmp_path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2 ** 20 and time.perf_counter() - started < 1.0


def test_a_raw_file_promising_more_than_its_size(tmp_path, digits):
    write_idx(tmp_path, *digits, image_count=10 ** 9, compress=False)
    with pytest.raises(ValueError, match="promises 1000000000 images of 28x28 .*more than the file can hold"):
        load_mnist(tmp_path)


def test_a_gzip_promising_more_than_it_decompresses_to_reads_no_more_than_the_promise(tmp_path, digits, rng):
    write_idx(tmp_path, *digits)
    images = tmp_path / "train-images-idx3-ubyte.gz"
    with gzip.open(images, "wb") as f:  # within deflate's ratio, but 2 MB short of the promise
        f.write(struct.pack(">IIII", 2051, 5000, 28, 28))
        f.write(rng.integers(0, 4, size=784 * 2500, dtype=np.uint8).tobytes())
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"1960000 bytes of values, but its header promises 5000 images"):
            load_mnist(tmp_path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 784 * 5000 + 2 ** 20 + 2 ** 18  # the promised array and one chunk


def test_one_hot():
    np.testing.assert_array_equal(one_hot([2, 0]), [[0, 0, 1], [1, 0, 0]])
    assert one_hot(np.array([1]), 4).shape == (1, 4)
    with pytest.raises(ValueError):
        one_hot([3], 2)


# ----- toy sets, scaling, splits, augmentation ---------------------------------------------------------
from nn.datasets import gender, minmax, moons, shift_images, spirals, standardize, toy4, train_test_split, xor  # noqa


def test_the_lessons_toy_sets():
    X, y = xor()
    assert X.tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]] and y.tolist() == [0, 1, 1, 0]
    X, y = gender()
    assert X.tolist() == [[-2, -1], [25, 6], [17, 4], [-15, -6]] and y.tolist() == [1, 0, 0, 1]
    X, y = toy4()
    assert X.shape == (4, 3) and y.tolist() == [1, -1, -1, 1]


@pytest.mark.parametrize("make", [lambda s: spirals(50, 3, 0.2, seed=s), lambda s: moons(101, 0.1, seed=s)])
def test_generators_are_seeded_and_balanced(make):
    X, y = make(0)
    X2, y2 = make(0)
    np.testing.assert_array_equal(X, X2)
    assert not np.array_equal(X, make(1)[0])
    counts = np.bincount(y)
    assert X.shape == (len(y), 2) and counts.max() - counts.min() <= 1


@pytest.mark.parametrize("make, error, match", [
    (lambda: spirals(10, classes=1), ValueError, "classes must be >= 2, got 1"),
    (lambda: spirals(0), ValueError, "n must be >= 1, got 0"),
    (lambda: spirals(10.5), TypeError, "n must be an integer, got 10.5"),
    (lambda: spirals("100"), TypeError, "n must be an integer, got '100'"),
    (lambda: spirals(10, noise="0.2"), TypeError, "noise must be a finite number"),
    (lambda: spirals(10, noise=-0.1), ValueError, "noise must be >= 0, got -0.1"),
    (lambda: spirals(10, seed=1.5), ValueError, "seed must be None or a whole number >= 0, got 1.5"),
    (lambda: moons(1), ValueError, "n must be >= 2, got 1"),
    (lambda: moons(None), TypeError, "n must be an integer, got None"),
    (lambda: moons(10, noise=None), TypeError, "noise must be a finite number"),
    (lambda: moons(10, noise=float("nan")), TypeError, "noise must be a finite number"),
    (lambda: moons(10, seed=-1), ValueError, "seed must be None or a whole number >= 0"),
])
def test_generators_reject_bad_arguments_naming_them(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_standardize_and_minmax_fit_on_train_only(rng):
    train, test = rng.normal(3, 2, size=(100, 3)), rng.normal(3, 2, size=(10, 3))
    train[:, 2] = 5.0  # a constant column
    s_train, s_test = standardize(train, test)
    np.testing.assert_allclose(s_train[:, :2].mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(s_train[:, :2].std(axis=0), 1)
    np.testing.assert_allclose(s_test[:, 0], (test[:, 0] - train[:, 0].mean()) / train[:, 0].std())
    assert np.all(s_train[:, 2] == 0)
    m_train, m_test = minmax(train, test)
    assert m_train[:, :2].min() == 0 and m_train[:, :2].max() == 1
    np.testing.assert_allclose(m_test[:, 1], (test[:, 1] - train[:, 1].min()) / np.ptp(train[:, 1]))


def test_train_test_split_is_a_seeded_partition():
    X, y = np.arange(20).reshape(10, 2), np.arange(10)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, seed=0)
    assert len(y_test) == 3 and sorted(np.r_[y_train, y_test]) == list(range(10))
    np.testing.assert_array_equal(X_test[:, 0] // 2, y_test)
    assert train_test_split(X, y, 0.3, seed=0)[3].tolist() == y_test.tolist()
    with pytest.raises(ValueError, match="leaves no data"):
        train_test_split(X, y, test_size=1.0)
    with pytest.raises(ValueError, match="10 samples but y has 9"):
        train_test_split(X, y[:-1])
    assert len(train_test_split(X, y, test_size=np.float32(0.3))[1]) == 3  # any real fraction
    assert len(train_test_split(X, y, test_size=np.int64(4))[1]) == 4  # any integer count


@pytest.mark.parametrize("test_size, error, match", [
    ("0.2", TypeError, "test_size must be a fraction in \\(0, 1\\) or a number of samples, got '0.2'"),
    (None, TypeError, "test_size must be a fraction"),
    (True, TypeError, "test_size must be a fraction"),
    (0, ValueError, "test_size=0 leaves no data"),
    (10, ValueError, "test_size=10 leaves no data"),
])
def test_train_test_split_rejects_bad_test_sizes(test_size, error, match):
    with pytest.raises(error, match=match):
        train_test_split(np.zeros((10, 2)), np.zeros(10), test_size=test_size)
    with pytest.raises(ValueError, match="seed must be None"):
        train_test_split(np.zeros((10, 2)), np.zeros(10), seed="s")


def test_shift_images_moves_each_image_by_at_most_max_shift(rng):
    X = np.zeros((200, 36))
    X[:, 2 * 6 + 3] = 1.0  # one lit pixel at row 2, column 3 of a 6x6 image
    shifted = shift_images(X, rng, max_shift=1, image_shape=(6, 6))
    assert shifted.shape == X.shape
    rows, cols = np.divmod(shifted.argmax(axis=1), 6)
    assert np.all(shifted.sum(axis=1) == 1)  # the pixel stays in the picture
    assert set(rows) == {1, 2, 3} and set(cols) == {2, 3, 4}  # every shift in -1..1 happens
    edge = np.zeros((50, 36))
    edge[:, 0] = 1.0  # a corner pixel falls off for some shifts, nothing wraps around
    assert shift_images(edge, rng, 1, (6, 6))[:, 35].sum() == 0
    with pytest.raises(ValueError, match="max_shift"):
        shift_images(X, rng, 6, (6, 6))
    with pytest.raises(ValueError, match=r"shape \(n, 784\)"):
        shift_images(X, rng)


@pytest.mark.parametrize("rng", [None, 0, np.random.RandomState(0), "rng"], ids=["None", "int", "RandomState", "str"])
def test_shift_images_needs_a_generator(rng):
    with pytest.raises(TypeError, match=r"rng must be a NumPy Generator, such as np.random.default_rng\(0\), got"):
        shift_images(np.zeros((2, 784)), rng)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(max_shift=1.5), TypeError, "max_shift must be an integer, got 1.5"),
    (dict(max_shift=-1), ValueError, "max_shift must be in 0..27, got -1"),
    (dict(image_shape=784), TypeError, r"image_shape must be \(height, width\), got 784"),
    (dict(image_shape=(28, 28, 1)), TypeError, r"image_shape must be \(height, width\)"),
    (dict(image_shape=(28, "28")), TypeError, r"image_shape\[1\] must be an integer"),
    (dict(image_shape=(0, 28)), ValueError, r"image_shape\[0\] must be >= 1"),
])
def test_shift_images_rejects_bad_arguments_naming_them(kwargs, error, match, rng):
    with pytest.raises(error, match=match):
        shift_images(np.zeros((2, 784)), rng, **kwargs)


def test_one_hot_checks_n_classes():
    with pytest.raises(TypeError, match="n_classes must be an integer, got 2.5"):
        one_hot([1], n_classes=2.5)


def test_standardization_gives_the_mean_and_std_standardize_uses(rng):
    train = rng.normal(3, 2, size=(50, 3))
    train[:, 1] = -4.0  # no spread: only centred
    mean, std = standardization(train)
    np.testing.assert_allclose(mean, train.mean(axis=0))
    assert std[1] == 1.0
    np.testing.assert_allclose(std[[0, 2]], train[:, [0, 2]].std(axis=0))
    new = rng.normal(size=(5, 3))
    np.testing.assert_array_equal(standardize(train, new)[1], (new - mean) / std)
    with pytest.raises(ValueError, match=r"train must be a 2-D array with at least one row, got shape \(0, 3\)"):
        standardization(np.zeros((0, 3)))
