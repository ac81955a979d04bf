"""Every lesson in examples/ runs, in seconds, and says what the lesson says."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
pytestmark = pytest.mark.skipif(not EXAMPLES.is_dir(), reason="examples/ is not beside tests/")


def run(name, *args):
    result = subprocess.run([sys.executable, str(EXAMPLES / name), *args], capture_output=True, text=True,
                            timeout=120, cwd=EXAMPLES.parent / "tests")
    assert result.returncode == 0, result.stderr
    return result.stdout


def number(pattern, text):
    return float(re.search(pattern, text).group(1))


def test_neuron():
    assert "0.9990889488" in run("neuron.py")


def test_gender():
    out = run("gender.py")
    assert len(re.findall(r"^epoch", out, re.M)) == 100
    assert number(r"Emily.*?: ([\d.]+)", out) > 0.9
    assert number(r"Frank.*?: ([\d.]+)", out) < 0.1
    assert number(r"final MSE on the four people: ([\d.]+)", out) < 0.01


def test_xor():
    assert "accuracy 100%" in run("xor.py")


def test_value_graph_and_the_forgotten_zero_grad(tmp_path):
    out = run("value_graph.py", "--dot", str(tmp_path / "g.dot"))
    assert "Value('a', data=2, grad=6)" in out
    assert (tmp_path / "g.dot").read_text().startswith("digraph")
    last = re.search(r"^\s+100\s+([\d.]+)\s+([\d.]+)$", out, re.M)
    with_zero, without_zero = float(last.group(1)), float(last.group(2))
    assert with_zero < 0.01 < 1 < without_zero
    sizes = re.search(r"largest \|weight\| at the end: ([\d.]+) with zero_grad, ([\d.]+) without", out)
    assert float(sizes.group(2)) > 20 * float(sizes.group(1))


def test_mnist_on_the_bundled_sample():
    out = run("mnist.py", "--epochs", "3")
    assert number(r"test accuracy ([\d.]+)", out) > 0.8


def test_cluster_search_on_a_local_cluster_and_out_of_core():
    pytest.importorskip("sklearn")
    pytest.importorskip("dask.distributed")
    out = run("cluster_search.py", "--quick")
    assert "grid search on the local cluster of 2 worker processes: 4 candidates x 3 folds" in out
    assert number(r"cross-validated accuracy ([\d.]+)", out) > 0.7
    assert "out of core: 6000 images in 6 blocks" in out
    assert number(r"test accuracy ([\d.]+)", out) > 0.8
