"""Model files from outside: every size in a file is a claim, checked before anything is allocated from
it, and every kind of broken file is a ValueError naming the file."""
import io
import os
import signal
import stat
import struct
import subprocess
import sys
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

import nn

MODEL = dict(format="nn-network", format_version=1, sizes=[3, 2], activations=["sigmoid"], dtype="float64",
             theta=np.zeros(8))


def npy(array=None, header=None, data=b""):
    """The bytes of an .npy file: of ``array``, or of a ``header`` (a dict, or raw text) and ``data``."""
    f = io.BytesIO()
    if array is not None:
        np.lib.format.write_array(f, np.asarray(array), allow_pickle=True)
    elif isinstance(header, dict):
        np.lib.format.write_array_header_1_0(f, header)
    else:
        text = header.encode("latin1")
        f.write(np.lib.format.magic(1, 0) + struct.pack("<H", len(text)) + text)
    return f.getvalue() + data


def write_model(path, compression=zipfile.ZIP_STORED, **members):
    """A model file at ``path``: MODEL's arrays, with ``members`` replacing (None: removing) some; a
    member is an array or the bytes of an .npy file."""
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, value in {**MODEL, **members}.items():
            if value is not None:
                archive.writestr(name + ".npy", value if isinstance(value, bytes) else npy(value))
    return path


def claim_uncompressed_size(path, member, size):
    """Rewrite the zip's central directory so that ``member`` claims ``size`` bytes uncompressed."""
    raw = bytearray(path.read_bytes())
    entry = raw.rindex(member.encode()) - 46  # the central directory follows the members
    assert raw[entry:entry + 4] == b"PK\x01\x02"
    struct.pack_into("<I", raw, entry + 24, size)
    path.write_bytes(bytes(raw))


def header(shape, descr="<f8"):
    return dict(descr=descr, fortran_order=False, shape=shape)


LIAR_SIZES = [12000, 12000, 12000]  # 288 million parameters: 2.3 GB of float64
LIAR_PARAMS = 12000 * 12000 * 2 + 12000 * 2

BROKEN = {  # id: (members of write_model, what the error says)
    "sizes declare 12000x12000 layers": (dict(sizes=LIAR_SIZES, activations=["tanh", "tanh"]),
                                         r"theta has shape \(8,\), but the sizes need \(288024000,\)"),
    "header declares 10^12 values": (dict(sizes=[999999, 1000000],
                                          theta=npy(header=header((10 ** 12,)), data=bytes(64))),
                                     "promises 8000000000000 bytes of values, but the member holds 64"),
    "sizes' header declares 10^12 values": (dict(sizes=npy(header=header((10 ** 12,), "<i8"))),
                                            "the header of sizes promises 8000000000000 bytes"),
    "a negative dimension": (dict(theta=npy(header=header((-8,)))), "unusable .npy header"),
    "a header that is not a dict": (dict(theta=npy(header="[1, 2, 3]" + " " * 50 + "\n")), "not a dictionary"),
    "a garbage header": (dict(theta=npy(header="{'descr': <f8 ((( \x00\x01 '" + "\n")), "unreadable .npy header"),
    "a garbage magic": (dict(theta=b"\x93NUMPX\x01\x00" + bytes(100)), "unreadable .npy header"),
    "npy version 9": (dict(theta=b"\x93NUMPY\x09\x00" + bytes(100)), "unreadable .npy header"),
    "an object dtype": (dict(theta=np.array([1.0, None] * 4, dtype=object)), "unusable .npy header"),
    "a theta of strings": (dict(theta=np.array(["x"] * 8)),
                           "theta is a 1-d array of <U1; expected a 1-d array of floats"),
    "a short theta member": (dict(theta=npy(header=header((8,)), data=bytes(32))), "but the member holds 32"),
    "a missing member": (dict(theta=None), "it has no 'theta' array"),
    "another format": (dict(format="other"), "its format is 'other'"),
    "a future format version": (dict(format_version=99), "format version 99"),
    "one size": (dict(sizes=[3], activations=[]), "at least two positive integers"),
    "a zero size": (dict(sizes=[3, 0]), "at least two positive integers"),
    "an unknown activation": (dict(activations=["swish"]), r"unknown activations \['swish'\]"),
    "too few activations": (dict(sizes=[3, 2, 1]), "3 sizes need 2 activations, got 1"),
    "an integer dtype": (dict(dtype="int32"), "dtype must be 'float64' or 'float32'"),
}


@pytest.mark.parametrize("members, match", BROKEN.values(), ids=BROKEN.keys())
def test_a_broken_model_file_raises_value_error_naming_it(tmp_path, members, match):
    path = write_model(tmp_path / "broken-model.npz", **members)
    with pytest.raises(ValueError, match=match) as info:
        nn.Network.load(path)
    assert "broken-model.npz" in str(info.value)


@pytest.mark.parametrize("content", [os.urandom(500), b"PK\x03\x04" + bytes(60), b"", b"just text\n"],
                         ids=["random", "a zip's signature only", "empty", "text"])
def test_a_file_that_is_not_a_zip(tmp_path, content):
    path = tmp_path / "not-a-model.npz"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="not-a-model.npz is not a readable nn model file"):
        nn.Network.load(path)


@pytest.mark.parametrize("cut", [0.2, 0.5, 0.9, 0.99])
def test_a_truncated_file(tmp_path, cut):
    good = nn.Network([30, 20, 2], seed=0)
    good.save(tmp_path / "good.npz")
    raw = (tmp_path / "good.npz").read_bytes()
    path = tmp_path / "truncated.npz"
    path.write_bytes(raw[:int(len(raw) * cut)])
    with pytest.raises(ValueError, match="truncated.npz"):
        nn.Network.load(path)


def test_a_corrupt_compressed_member(tmp_path):
    path = write_model(tmp_path / "flipped.npz", zipfile.ZIP_DEFLATED, theta=np.arange(8.0))
    raw = bytearray(path.read_bytes())
    member = raw.index(b"theta.npy") + len("theta.npy") + 30  # inside theta's compressed bytes
    raw[member] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="flipped.npz"):
        nn.Network.load(path)


def test_a_member_claiming_more_than_deflate_can_give(tmp_path):
    liar = npy(header=header((LIAR_PARAMS,)), data=bytes(800))
    path = write_model(tmp_path / "bomb.npz", zipfile.ZIP_DEFLATED, sizes=LIAR_SIZES, activations=["tanh", "tanh"],
                       theta=liar)
    claim_uncompressed_size(path, "theta.npy", len(liar) - 800 + LIAR_PARAMS * 8)
    with pytest.raises(ValueError, match="bomb.npz .*theta claims 2304192128 bytes .*more than the file can hold"):
        nn.Network.load(path)


def test_loading_a_liar_allocates_next_to_nothing(tmp_path):
    path = write_model(tmp_path / "liar.npz", zipfile.ZIP_DEFLATED, sizes=LIAR_SIZES, activations=["tanh", "tanh"])
    assert path.stat().st_size < 2000
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="liar.npz"):
            nn.Network.load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2 * 2 ** 20


def test_a_saved_file_loads_back_compressed_or_not(tmp_path, rng):
    net = nn.Network([4, 6, 3], activation="relu", output="softmax", seed=0)
    theta = net.theta
    arrays = dict(MODEL, sizes=net.sizes, activations=net.activations, theta=theta)
    for compression in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        loaded = nn.Network.load(write_model(tmp_path / f"model-{compression}.npz", compression, **arrays))
        np.testing.assert_array_equal(loaded.theta, theta)
    big_endian = nn.Network.load(write_model(tmp_path / "big-endian.npz", **dict(arrays, theta=theta.astype(">f8"))))
    np.testing.assert_array_equal(big_endian.theta, theta)


# ----- saving: atomic, no junk left, permissions kept ----------------------------------------------------
def temp_file(path, pid):
    return path.parent / f".{path.name}.{pid}.nn-save.tmp"


def a_dead_pid():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.fixture
def restore_umask():
    """The umask at 0o022 for the test, which may change it; restored after."""
    saved = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(saved)


def test_a_save_removes_the_temp_files_of_killed_saves_only(tmp_path):
    path = tmp_path / "model.npz"
    dead, alive = temp_file(path, a_dead_pid()), temp_file(path, os.getppid())
    other_target = temp_file(tmp_path / "other.npz", a_dead_pid())
    for junk in (dead, alive, other_target):
        junk.write_bytes(b"half a model")
    nn.Network([3, 2], seed=0).save(path)
    assert not dead.exists()
    assert alive.exists() and other_target.exists()  # a save still running; another file's
    nn.Network.load(path)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o600], ids=oct)
def test_a_save_keeps_the_mode_of_the_file_it_replaces(tmp_path, restore_umask, mode):
    path = tmp_path / "model.npz"
    path.write_bytes(b"old")
    path.chmod(mode)
    os.umask(0o077)
    nn.Network([3, 2], seed=0).save(path)
    assert stat.S_IMODE(path.stat().st_mode) == mode


@pytest.mark.parametrize("mask", [0o022, 0o027], ids=oct)
def test_a_new_file_honours_the_umask(tmp_path, restore_umask, mask):
    os.umask(mask)
    nn.Network([3, 2], seed=0).save(tmp_path / "model.npz")
    assert stat.S_IMODE((tmp_path / "model.npz").stat().st_mode) == 0o666 & ~mask


KILLED_MID_SAVE = """
import sys, time
import numpy as np
import nn

def half_a_save(f, **arrays):
    f.write(b"PK" + bytes(100_000))
    f.flush()
    print("writing", flush=True)
    time.sleep(60)

np.savez = half_a_save
nn.Network([3, 2], seed=1).save(sys.argv[1])
"""


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL and os.kill(pid, 0) are POSIX")
def test_a_save_killed_mid_write_leaves_a_temp_file_that_the_next_save_removes(tmp_path):
    path = tmp_path / "model.npz"
    nn.Network([3, 2], seed=0).save(path)
    before = path.read_bytes()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(nn.__file__).parents[1]),
                                                       os.environ.get("PYTHONPATH", "")]))
    child = subprocess.Popen([sys.executable, "-c", KILLED_MID_SAVE, str(path)], stdout=subprocess.PIPE, env=env)
    try:
        assert child.stdout.readline() == b"writing\n"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
    leftover = temp_file(path, child.pid)
    assert leftover.stat().st_size > 100_000 and path.read_bytes() == before
    nn.Network([3, 2], seed=2).save(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz"]
    np.testing.assert_array_equal(nn.Network.load(path).theta, nn.Network([3, 2], seed=2).theta)
