"""Neuron, Dense and Network: parameters, forward/predict, theta, save/load.

Samples are rows. A layer holds W (n_in, n_out) and b (n_out,) and computes A = f(X @ W + b).
Every parameter of a Network lives in one flat vector, theta: each layer's W (row-major) then its b,
in layer order. ``layer.W`` and ``layer.b`` are views into it, so optimizers and backends can update
the whole network with one array and ``net.theta`` is a single copy.
"""
import contextlib
import math
import os
import stat
import struct
import threading
import weakref
import zipfile
import zlib

import numpy as np

from . import backends
from .functions import ACTIVATIONS, check_name
from .validation import as_finite, as_numeric, check_dtype, check_int, check_seed, check_X

INITS = ("auto", "he", "glorot", "normal")
BIAS_INITS = ("zeros", "normal")
FORMAT_NAME = "nn-network"
FORMAT_VERSION = 1


class Neuron:
    """The lessons' single neuron: y = f(w . x + b)."""

    def __init__(self, weights, bias=0.0, activation="sigmoid"):
        self.weights = np.asarray(weights, dtype=np.float64).ravel()
        self.bias = float(bias)
        self.activation = check_name("activation", activation, ACTIVATIONS)

    def feedforward(self, x):
        x = np.asarray(x, dtype=np.float64).ravel()
        if x.shape != self.weights.shape:
            raise ValueError(f"x has {x.size} inputs but the neuron has {self.weights.size} weights")
        z = np.dot(self.weights, x) + self.bias
        return float(ACTIVATIONS[self.activation](np.array([[z]]))[0, 0])

    def __repr__(self):
        return f"Neuron(weights={self.weights.tolist()}, bias={self.bias}, activation={self.activation!r})"


class Dense:
    """A fully connected layer: A = f(X @ W + b), W of shape (n_in, n_out), b of shape (n_out,).

    ``weights``/``bias`` give initial values; otherwise the Network initialises them. Assigning to
    ``layer.W`` or ``layer.b`` copies into the network's parameters (shapes must match).
    A Dense belongs to at most one network: the first one built with it. A network given a Dense that
    already belongs to another works on a copy (see ``copy``), so the two never share parameters.
    """

    def __init__(self, n_in, n_out, activation="identity", weights=None, bias=None):
        self.n_in = check_int("n_in", n_in, low=1)
        self.n_out = check_int("n_out", n_out, low=1)
        self.activation = check_name("activation", activation, ACTIVATIONS)
        self._W = None if weights is None else self._checked("weights", weights, (self.n_in, self.n_out))
        self._b = None if bias is None else self._checked("bias", bias, (self.n_out,))
        self._network = None  # a weak reference to the network whose theta W and b view

    def copy(self):
        """A Dense of the same sizes and activation holding a copy of the current W and b, in no network."""
        def copied(values):
            return None if values is None else np.array(values)

        return Dense(self.n_in, self.n_out, self.activation, weights=copied(self._W), bias=copied(self._b))

    def _belongs_to_a_network(self):
        return self._network is not None and self._network() is not None

    def __getstate__(self):
        # A weak reference does not travel; the network that unpickles this layer binds it again.
        return {**self.__dict__, "_network": None}

    @staticmethod
    def _checked(name, values, shape, dtype=np.float64):
        """``values`` as a finite array of ``shape`` and ``dtype`` (a value too large for it is an error)."""
        arr = as_numeric(name, values, dtype, ndim=(len(shape),))
        if arr.shape != shape:
            raise ValueError(f"{name} must have shape {shape}, got {arr.shape}")
        return arr

    @property
    def W(self):
        return self._W

    @W.setter
    def W(self, values):
        self._assign("_W", "W", values, (self.n_in, self.n_out))

    @property
    def b(self):
        return self._b

    @b.setter
    def b(self, values):
        self._assign("_b", "b", values, (self.n_out,))

    def _assign(self, attr, name, values, shape):
        current = getattr(self, attr)
        if current is None:
            setattr(self, attr, self._checked(name, values, shape))
        else:  # checked in the network's dtype: 1e39 does not fit in float32
            current[...] = self._checked(name, values, shape, current.dtype)

    @property
    def n_params(self):
        return self.n_in * self.n_out + self.n_out

    def __repr__(self):
        return f"Dense({self.n_in}, {self.n_out}, activation={self.activation!r})"


class Network:
    """A feed-forward network of Dense layers.

    ``Network([784, 128, 10], activation="relu", output="softmax")`` builds a network from layer sizes:
    every hidden layer uses ``activation``, the last uses ``output`` (default: ``activation``).
    A list of ``Dense`` gives per-layer control. Weights are drawn from ``seed``:
    init "auto" (He for ReLU and leaky ReLU, Glorot otherwise), "he" (normal, std sqrt(2/n_in)),
    "glorot" (uniform, limit sqrt(6/(n_in+n_out))) or "normal" (standard normal, as the blogs).
    Biases are zero unless ``bias_init="normal"``.
    ``backend`` is "compiled" or "reference"; by default the ``NN_BACKEND`` environment variable, else
    the compiled core.
    """

    def __init__(self, layers, activation="sigmoid", output=None, dtype="float64", seed=None,
                 init="auto", bias_init="zeros", backend=None):
        self.dtype = check_dtype(dtype)
        self.init = check_name("init", init, dict.fromkeys(INITS))
        self.bias_init = check_name("bias_init", bias_init, dict.fromkeys(BIAS_INITS))
        self.seed = check_seed("seed", seed)
        self.layers = self._build_layers(layers, activation, output)
        self.backend = backends.resolve(backend)
        given = self._allocate()
        self._initialise(np.random.default_rng(seed), given)

    @staticmethod
    def _build_layers(layers, activation, output):
        if isinstance(layers, (str, bytes)) or not hasattr(layers, "__len__") or len(layers) == 0:
            raise TypeError(f"layers must be a list of layer sizes or of Dense layers, got {layers!r}")
        if all(isinstance(layer, Dense) for layer in layers):
            for i, (a, b) in enumerate(zip(layers, layers[1:])):
                if a.n_out != b.n_in:
                    raise ValueError(f"layers[{i}] has {a.n_out} outputs but layers[{i + 1}] expects {b.n_in} inputs")
            return Network._own(layers)
        sizes = [check_int(f"layers[{i}]", n, low=1) for i, n in enumerate(layers)]
        if len(sizes) < 2:
            raise ValueError(f"layers needs at least an input and an output size, got {sizes}")
        activation = check_name("activation", activation, ACTIVATIONS)
        output = activation if output is None else check_name("output", output, ACTIVATIONS)
        acts = [activation] * (len(sizes) - 2) + [output]
        return [Dense(n_in, n_out, act) for n_in, n_out, act in zip(sizes, sizes[1:], acts)]

    @staticmethod
    def _own(layers):
        """The Dense layers this network may bind to its theta: each one that belongs to no network
        itself, a copy of any other (one of another network, or one listed twice), so that no two
        networks, and no two layers, view the same parameters."""
        owned, seen = [], set()
        for layer in layers:
            if layer._belongs_to_a_network() or id(layer) in seen:
                layer = layer.copy()
            seen.add(id(layer))
            owned.append(layer)
        return owned

    def _allocate(self):
        """One flat theta; each layer's W and b become views into it (keeping given values).
        Returns [(W given, b given), ...] per layer."""
        self._theta = np.zeros(sum(layer.n_params for layer in self.layers), dtype=self.dtype)
        given = [(layer.W is not None, layer.b is not None) for layer in self.layers]
        for i, (layer, (W, b)) in enumerate(zip(self.layers, backends.layer_views(self, self._theta))):
            if layer.W is not None:
                W[...] = as_finite(f"weights of layers[{i}]", layer.W, self.dtype)
            if layer.b is not None:
                b[...] = as_finite(f"bias of layers[{i}]", layer.b, self.dtype)
        self._bind_layers()
        return given

    def _bind_layers(self):
        """Make each layer's W and b views into this network's theta, and the layer this network's."""
        for layer, (W, b) in zip(self.layers, backends.layer_views(self, self._theta)):
            layer._W, layer._b = W, b
            layer._network = weakref.ref(self)

    def _initialise(self, rng, given):
        # Draw in float64 whatever the dtype, so a seed gives the same weights in float32 and float64.
        for layer, (w_given, b_given) in zip(self.layers, given):
            shape = (layer.n_in, layer.n_out)
            scheme = self.init
            if scheme == "auto":
                scheme = "he" if layer.activation in ("relu", "leaky_relu") else "glorot"
            if scheme == "he":
                W = rng.normal(0.0, np.sqrt(2.0 / layer.n_in), size=shape)
            elif scheme == "glorot":
                limit = np.sqrt(6.0 / (layer.n_in + layer.n_out))
                W = rng.uniform(-limit, limit, size=shape)
            else:
                W = rng.standard_normal(size=shape)
            if not w_given:
                layer.W[...] = W
            if self.bias_init == "normal" and not b_given:
                layer.b[...] = rng.standard_normal(size=layer.n_out)

    # ----- copies: pickle and deepcopy -------------------------------------------------------------
    def __getstate__(self):
        # Backends may keep caches on the network (keys starting with _core): scratch, rebuilt on use.
        return {key: value for key, value in self.__dict__.items() if not key.startswith("_core")}

    def __setstate__(self, state):
        # Pickle and deepcopy turn the layers' views into arrays of their own; theta holds the same
        # values, so the layers are made views into it again.
        self.__dict__.update(state)
        self._bind_layers()

    # ----- shape and parameters -------------------------------------------------------------------
    @property
    def sizes(self):
        """[n_inputs, n_hidden..., n_outputs]"""
        return [self.layers[0].n_in] + [layer.n_out for layer in self.layers]

    @property
    def activations(self):
        return [layer.activation for layer in self.layers]

    @property
    def n_inputs(self):
        return self.layers[0].n_in

    @property
    def n_outputs(self):
        return self.layers[-1].n_out

    @property
    def output(self):
        """The output layer's activation."""
        return self.layers[-1].activation

    @property
    def is_classifier(self):
        """Softmax outputs are classes (argmax); sigmoid outputs are yes/no per output (> 0.5)."""
        return self.output in ("softmax", "sigmoid")

    def parameters(self):
        """[W1, b1, W2, b2, ...]: views into theta; writing to them changes the network."""
        return [p for layer in self.layers for p in (layer.W, layer.b)]

    @property
    def theta(self):
        """A copy of the flat parameter vector: every W (row-major) then b, layer by layer."""
        return self._theta.copy()

    @theta.setter
    def theta(self, values):
        values = as_numeric("theta", values, self.dtype, ndim=(1,))
        if values.shape != self._theta.shape:
            raise ValueError(f"theta must have shape {self._theta.shape}, got {values.shape}")
        self._theta[...] = values

    @property
    def n_params(self):
        return self._theta.size

    # ----- inference ------------------------------------------------------------------------------
    def forward(self, X):
        """The output activations A_L for X (n_samples, n_inputs); a 1-D X is one sample."""
        X, one_sample = check_X(X, self.n_inputs, self.dtype)
        A = backends.get(self.backend).forward(self, X)[-1]
        return A[0] if one_sample else A

    feedforward = forward

    def predict_proba(self, X):
        """Class probabilities: the softmax or sigmoid outputs."""
        if not self.is_classifier:
            raise ValueError(f"predict_proba needs a softmax or sigmoid output, but the output is {self.output!r}")
        return self.forward(X)

    def predict(self, X):
        """Class ids (argmax of softmax; sigmoid > 0.5) for classifiers, output values for regressors.

        With one output the result is 1-D (one value per sample).
        """
        A = self.forward(X)
        if self.output == "softmax":
            return A.argmax(axis=-1)
        if self.output == "sigmoid":
            A = (A > 0.5).astype(np.int64)
        if self.n_outputs == 1:
            return A[..., 0]
        return A

    # ----- description ----------------------------------------------------------------------------
    def summary(self):
        """A table of layers, shapes and parameter counts."""
        rows = [("layer", "activation", "W", "b", "params")]
        for i, layer in enumerate(self.layers, 1):
            rows.append((f"dense_{i}", layer.activation, f"{layer.n_in} x {layer.n_out}",
                         f"{layer.n_out}", f"{layer.n_params:,}"))
        widths = [max(len(r[c]) for r in rows) for c in range(5)]
        line = "-" * (sum(widths) + 2 * 4)
        fmt = lambda r: "  ".join(s.ljust(w) if c < 2 else s.rjust(w) for c, (s, w) in enumerate(zip(r, widths)))
        out = [fmt(rows[0]), line] + [fmt(r) for r in rows[1:]] + [line]
        out.append(f"total parameters: {self.n_params:,}  (dtype {np.dtype(self.dtype).name}, backend {self.backend})")
        return "\n".join(out)

    def __repr__(self):
        return (f"Network({self.sizes}, activations={self.activations}, "
                f"dtype={np.dtype(self.dtype).name!r}, backend={self.backend!r})")

    # ----- persistence ----------------------------------------------------------------------------
    def save(self, path):
        """Write the network to ``path`` (.npz, no pickle) atomically: a temp file beside it
        (``.{name}.{pid}.nn-save.tmp``), flushed to disk, then renamed over ``path``. The file keeps the
        mode of the file it replaces; a new one gets 0o666 less the umask. Temp files of ``path`` left by
        saves that were killed are removed first."""
        path = os.fspath(path)
        arrays = {
            "format": np.array(FORMAT_NAME),
            "format_version": np.array(FORMAT_VERSION),
            "sizes": np.array(self.sizes, dtype=np.int64),
            "activations": np.array(self.activations),
            "dtype": np.array(np.dtype(self.dtype).name),
            "theta": self._theta,
        }
        with _SAVE_LOCK:  # one save at a time in this process: a temp file with our pid is never in use
            _remove_stale_temp_files(path)
            tmp = _temp_file_name(path, os.getpid())
            fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_BINARY", 0), 0o666)
            try:
                with os.fdopen(fd, "wb") as f:
                    if os.path.exists(path):
                        os.chmod(tmp, stat.S_IMODE(os.stat(path).st_mode))
                    np.savez(f, **arrays)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, path)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
                raise

    @classmethod
    def load(cls, path, backend=None):
        """Read a network written by ``save``. A corrupt, truncated or foreign file raises ValueError naming
        it; the file's claims (sizes, array headers) are checked before anything is allocated from them."""
        path = os.fspath(path)
        try:
            with zipfile.ZipFile(path) as archive:
                sizes, activations, dtype, theta = _read_model(archive, os.path.getsize(path))
        except FileNotFoundError:
            raise
        except _BadModelFile as exc:
            raise ValueError(f"{path} is not a valid nn model file: {exc}") from None
        except (OSError, EOFError, ValueError, RuntimeError, zipfile.BadZipFile, zlib.error, struct.error) as exc:
            # RuntimeError: an encrypted member; NotImplementedError (a RuntimeError): an unknown compression
            raise ValueError(f"{path} is not a readable nn model file ({type(exc).__name__}: {exc})") from None
        layers = [Dense(n_in, n_out, act) for n_in, n_out, act in zip(sizes, sizes[1:], activations)]
        net = cls(layers, dtype=dtype, backend=backend)
        try:
            net.theta = theta
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{path} is not a valid nn model file: {exc}") from None
        return net


# ----- writing a model file -------------------------------------------------------------------------------
TEMP_SUFFIX = ".nn-save.tmp"
_SAVE_LOCK = threading.Lock()


def _temp_file_name(path, pid):
    folder, name = os.path.split(os.path.abspath(path))
    return os.path.join(folder, f".{name}.{pid}{TEMP_SUFFIX}")


def _remove_stale_temp_files(path):
    """Remove the temp files of ``path`` whose saving process is gone (a save killed mid-write), and
    this process's own (only one save runs at a time here, so it is from a dead process with our pid)."""
    if os.name != "posix":  # os.kill(pid, 0) asks "are you there?" only on POSIX; on Windows it kills
        return
    folder, name = os.path.split(os.path.abspath(path))
    prefix = f".{name}."
    for entry in os.listdir(folder):
        pid = entry[len(prefix):-len(TEMP_SUFFIX)]
        if entry.startswith(prefix) and entry.endswith(TEMP_SUFFIX) and pid.isdigit() and int(pid) > 0:
            if int(pid) == os.getpid() or not _process_is_running(int(pid)):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(folder, entry))


def _process_is_running(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):  # another user's process; not a pid at all: leave it be
        return True
    return True


# ----- reading a model file -------------------------------------------------------------------------------
# A model file is a zip of .npy members, and every size in it is a claim: a 1.6 KB file can declare
# 12000x12000 layers, an .npy header 10^12 values. Each claim is checked against what the zip can hold
# before anything is allocated from it: the zip's own sizes against the file's size and what compression
# can deliver (deflate gives at most about 1032:1), each header against its member's size, theta's
# length against the sizes.
MODEL_FIELDS = {  # member: (dtype kinds accepted, dimensions, what that is)
    "format": ("U", 0, "a string"), "format_version": ("iu", 0, "an integer"),
    "sizes": ("iu", 1, "a 1-d array of integers"), "activations": ("U", 1, "a 1-d array of strings"),
    "dtype": ("U", 0, "a string"), "theta": ("f", 1, "a 1-d array of floats"),
}
MAX_EXPANSION = {zipfile.ZIP_STORED: 1, zipfile.ZIP_DEFLATED: 1100}  # uncompressed / compressed bytes
NPY_HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}


class _BadModelFile(Exception):
    """What is wrong with a model file; Network.load names the file."""


def _read_model(archive, file_size):
    """(sizes, activations, dtype name, theta) of an open model file, each checked."""
    def read(name, shape=None):
        return _read_member(archive, name, file_size, shape)

    name = str(read("format"))
    if name != FORMAT_NAME:
        raise _BadModelFile(f"its format is {name!r}, expected {FORMAT_NAME!r}")
    version = int(read("format_version"))
    if not 1 <= version <= FORMAT_VERSION:
        raise _BadModelFile(f"it has format version {version}; this nn reads 1 to {FORMAT_VERSION}")
    sizes = [int(n) for n in read("sizes")]  # Python ints: the parameter count cannot overflow
    if len(sizes) < 2 or min(sizes) < 1:
        raise _BadModelFile(f"sizes must be at least two positive integers, got {sizes}")
    activations = [str(a) for a in read("activations")]
    if len(activations) != len(sizes) - 1:
        raise _BadModelFile(f"{len(sizes)} sizes need {len(sizes) - 1} activations, got {len(activations)}")
    unknown = sorted(set(activations) - set(ACTIVATIONS))
    if unknown:
        raise _BadModelFile(f"unknown activations {unknown}; expected some of {', '.join(ACTIVATIONS)}")
    dtype = str(read("dtype"))
    if dtype not in ("float64", "float32"):
        raise _BadModelFile(f"dtype must be 'float64' or 'float32', got {dtype!r}")
    n_params = sum(n_in * n_out + n_out for n_in, n_out in zip(sizes, sizes[1:]))
    return sizes, activations, dtype, read("theta", shape=(n_params,))


def _read_member(archive, name, file_size, shape=None):
    """The array ``name``.npy of ``archive``. Its zip sizes, then its header (dtype, dimensions, and
    ``shape`` if given), then the header's size against the member's, are checked before its values
    are read, and exactly as many bytes as the header promises must follow."""
    try:
        info = archive.getinfo(name + ".npy")
    except KeyError:
        raise _BadModelFile(f"it has no {name!r} array") from None
    expansion = MAX_EXPANSION.get(info.compress_type)
    if expansion is None:
        raise _BadModelFile(f"{name} is compressed with method {info.compress_type}; expected stored or deflated")
    if info.compress_size > file_size or info.file_size > expansion * info.compress_size:
        raise _BadModelFile(f"{name} claims {info.file_size} bytes from {info.compress_size} stored bytes "
                            f"in a file of {file_size}: more than the file can hold")
    with archive.open(info) as stream:
        dtype, found_shape = _read_npy_header(stream, name)
        kinds, ndim, expected = MODEL_FIELDS[name]
        if dtype.kind not in kinds or dtype.itemsize == 0 or len(found_shape) != ndim:
            raise _BadModelFile(f"{name} is a {len(found_shape)}-d array of {dtype}; expected {expected}")
        if shape is not None and found_shape != shape:
            raise _BadModelFile(f"{name} has shape {found_shape}, but the sizes need {shape}")
        n_bytes = math.prod(found_shape) * dtype.itemsize
        if n_bytes != info.file_size - stream.tell():
            raise _BadModelFile(f"the header of {name} promises {n_bytes} bytes of values, "
                                f"but the member holds {info.file_size - stream.tell()}")
        data = stream.read(n_bytes)
        if len(data) != n_bytes or stream.read(1):  # reading to the end checks the zip's CRC
            raise _BadModelFile(f"{name} is truncated or corrupt")
    return np.frombuffer(data, dtype=dtype).reshape(found_shape)


def _read_npy_header(stream, name):
    """(dtype, shape) from the .npy header at the start of ``stream``; data in C order (or 1-d)."""
    try:
        reader = NPY_HEADER_READERS.get(np.lib.format.read_magic(stream))
        if reader is None:
            raise ValueError("an .npy format version this nn does not read")
        shape, fortran_order, dtype = reader(stream)
    except Exception as exc:  # a crafted header reaches many errors inside NumPy's parser: all mean "corrupt"
        raise _BadModelFile(f"{name} has an unreadable .npy header ({type(exc).__name__}: {exc})") from None
    if dtype.hasobject or min(shape, default=0) < 0 or (fortran_order and len(shape) > 1):
        raise _BadModelFile(f"{name} has an unusable .npy header (dtype {dtype}, shape {shape})")
    return dtype, shape
