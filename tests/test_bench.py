"""bench/ (in a checkout only): run.py runs from any folder and finds its data beside the checkout, and
the PyTorch runner starts from the network's own weights."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import nn

BENCH = Path(__file__).resolve().parents[1] / "bench"
pytestmark = pytest.mark.skipif(not (BENCH / "run.py").exists(), reason="bench/ is not beside tests/")


def test_run_py_works_from_any_folder_and_finds_the_shared_mnist_beside_the_checkout(tmp_path):
    """W1 once (a few seconds), from a folder that is not the checkout's: the default data folder comes from
    the script's place, not the current folder; the results go where --json says."""
    nn_parent = os.path.dirname(os.path.dirname(nn.__file__))  # the nn these tests import, for the child too
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [nn_parent, os.environ.get("PYTHONPATH")])))
    results = tmp_path / "out" / "results.json"
    result = subprocess.run([sys.executable, str(BENCH / "run.py"), "--only", "W1", "--repeat", "1", "--threads", "1",
                             "--json", str(results)], capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1].split()[:3] == ["workload", "reference", "compiled"]
    assert lines[2].startswith("W1 gender 2-2-1, 1000 epochs per-sample")
    assert "W1 core time per SGD step" in result.stdout and f"results written to {results}" in result.stdout
    written = json.loads(results.read_text())
    shared = BENCH.parent.parent / "shared" / "data" / "mnist"
    assert written["data"] == (str(shared) if shared.is_dir() else None)
    assert written["threads"] == 1 and set(written) >= {"machine", "command", "W1"}
    engines = {"reference", "compiled"} | ({"pytorch"} if written["machine"]["torch"] else set())
    assert set(written["W1"]["fit_seconds"]) == engines
    assert all(seconds > 0 for seconds in written["W1"]["fit_seconds"].values())


@pytest.mark.parametrize("dtype, rtol", [("float64", 1e-12), ("float32", 1e-5)])
@pytest.mark.parametrize("activation, output", [("relu", "sigmoid"), ("tanh", "softmax"), ("sigmoid", "identity")])
def test_the_torch_runner_starts_from_the_networks_weights(monkeypatch, dtype, rtol, activation, output):
    torch = pytest.importorskip("torch")
    monkeypatch.syspath_prepend(str(BENCH))
    from peers import torch_network

    net = nn.Network([3, 5, 4, 2], activation=activation, output=output, seed=1, dtype=dtype)
    model, set_weights = torch_network(torch, net)
    set_weights()
    X = np.random.default_rng(0).normal(size=(7, 3)).astype(dtype)
    with torch.no_grad():
        out = model(torch.from_numpy(X))
    if output == "softmax":  # left to the loss in torch (CrossEntropyLoss takes logits)
        out = torch.softmax(out, dim=1)
    assert out.dtype == getattr(torch, dtype)
    np.testing.assert_allclose(out.numpy(), net.forward(X), rtol=rtol)
