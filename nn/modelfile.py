"""The model file that Network.save writes and Network.load reads: a pickle-free, versioned .npz.

Members (each an .npy array): ``format`` ("nn-network"), ``format_version``, ``sizes`` (n_in, n_1, ...,
n_L), ``activations`` (one name per layer), ``dtype`` ("float64" | "float32"), ``theta`` (every W
row-major, then b, layer by layer); from version 2 also ``classes`` (a classifier's labels, strings or
numbers, optional), ``dropout`` (each layer's input dropout while training, optional: none) and
``metadata`` (a JSON object of names to strings, numbers and lists of them, for what a model must
remember beside its weights: the CLI keeps its feature scaling and column names there). Version 1
files are read as version 2 files without classes and metadata.

Writing is atomic (a temp file beside the target, flushed, then renamed over it) and keeps the target's
permissions. Reading checks every claim of the file (zip sizes, .npy headers, theta's length from the
sizes) before anything is allocated from it, and every fault is a ValueError naming the file.
"""
import contextlib
import json
import math
import os
import stat
import struct
import threading
import zipfile
import zlib

import numpy as np

from .functions import ACTIVATIONS

FORMAT_NAME = "nn-network"
FORMAT_VERSION = 2


# ----- writing --------------------------------------------------------------------------------------------
TEMP_SUFFIX = ".nn-save.tmp"
_SAVE_LOCK = threading.Lock()


def write(path, arrays, classes=None, metadata=None):
    """Write ``arrays`` (sizes, activations, dtype, theta), ``classes`` (None or a 1-d array) and
    ``metadata`` (a JSON-able dict) to ``path`` atomically: a temp file beside it
    (``.{name}.{pid}.nn-save.tmp``), flushed to disk, then renamed over ``path``. The file keeps the mode
    of the file it replaces; a new one gets 0o666 less the umask. Temp files of ``path`` left by saves
    that were killed are removed first."""
    path = os.fspath(path)
    arrays = {"format": np.array(FORMAT_NAME), "format_version": np.array(FORMAT_VERSION), **arrays,
              "metadata": np.array(json.dumps(metadata or {}, allow_nan=False))}
    if classes is not None:
        arrays["classes"] = np.asarray(classes)
    write_atomically(path, lambda stream: np.savez(stream, **arrays))


def write_atomically(path, write):
    """Call ``write(stream)`` on a temp file beside ``path`` (``.{name}.{pid}.nn-save.tmp``), flush it to
    disk, then rename it over ``path``: a failure leaves no file, or the old one. The file keeps the mode
    of the file it replaces; a new one gets 0o666 less the umask. Temp files of ``path`` left by saves
    that were killed are removed first. (Model files and ONNX exports, nn.onnx_export.write_model.)"""
    path = os.fspath(path)
    with _SAVE_LOCK:  # one save at a time in this process: a temp file with our pid is never in use
        _remove_stale_temp_files(path)
        tmp = _temp_file_name(path, os.getpid())
        fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_BINARY", 0), 0o666)
        try:
            with os.fdopen(fd, "wb") as f:
                if os.path.exists(path):
                    os.chmod(tmp, stat.S_IMODE(os.stat(path).st_mode))
                write(f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise


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


# ----- reading --------------------------------------------------------------------------------------------
def read(path, vectors=()):
    """{"sizes", "activations", "dtype", "theta", "classes" (None if absent), "metadata" (a dict)} of
    the model file at ``path``, each checked; ValueError naming the file if anything is wrong. ``vectors``:
    names of further members, each a vector of theta's length (a checkpoint's optimizer state), read
    into the dict by name."""
    try:
        with zipfile.ZipFile(path) as archive:
            model = _read_model(archive, os.path.getsize(path))
            for name in vectors:
                model[name] = _read_member(archive, name, os.path.getsize(path), shape=model["theta"].shape,
                                           field=("f", 1, "a 1-d array of floats"))
            return model
    except FileNotFoundError:
        raise
    except _BadModelFile as exc:
        raise ValueError(f"{path} is not a valid nn model file: {exc}") from None
    except (OSError, EOFError, ValueError, RuntimeError, zipfile.BadZipFile, zlib.error, struct.error) as exc:
        # RuntimeError: an encrypted member; NotImplementedError (a RuntimeError): an unknown compression
        raise ValueError(f"{path} is not a readable nn model file ({type(exc).__name__}: {exc})") from None


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
    "classes": ("Uiuf", 1, "a 1-d array of labels"), "metadata": ("U", 0, "a JSON string"),
    "dropout": ("f", 1, "a 1-d array of probabilities"),
}
MAX_EXPANSION = {zipfile.ZIP_STORED: 1, zipfile.ZIP_DEFLATED: 1100}  # uncompressed / compressed bytes
NPY_HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}


class _BadModelFile(Exception):
    """What is wrong with a model file; read() names the file."""


def _read_model(archive, file_size):
    """The fields of an open model file (see read), each checked."""
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
    model = {"sizes": sizes, "activations": activations, "dtype": dtype, "theta": read("theta", shape=(n_params,)),
             "classes": None, "metadata": {}}
    if version >= 2:
        if "classes.npy" in archive.namelist():
            model["classes"] = read("classes")
        if "dropout.npy" in archive.namelist():
            model["dropout"] = read("dropout", shape=(len(activations),))
        model["metadata"] = _parse_metadata(str(read("metadata")))
    return model


def _parse_metadata(text):
    try:
        metadata = json.loads(text)
    except ValueError as exc:
        raise _BadModelFile(f"its metadata is not JSON ({exc})") from None
    if not isinstance(metadata, dict):
        raise _BadModelFile(f"its metadata must be a JSON object, got {type(metadata).__name__}")
    return metadata


def _read_member(archive, name, file_size, shape=None, field=None):
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
        kinds, ndim, expected = field or MODEL_FIELDS[name]
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
