"""Every module of nn imports without the optional packages (PyTorch, scikit-learn, matplotlib, Dask,
pandas), and ``import nn`` imports none of them.

The rule: a module imports with only nn's requirements installed (NumPy, SciPy, tqdm), and reaches for an
optional package only when a feature that needs it is used, which then raises an ImportError naming the
extra to install (nn.plots: a figure needs matplotlib). The exceptions are the modules whose whole job is
one optional integration (INTEGRATIONS): importing one of those without its extra raises an ImportError
that names the extra (nn.estimators: scikit-learn's classes are its estimators' base classes).

A fresh interpreter hides the optional packages behind a ``sys.meta_path`` finder that refuses them and
records who asked, then imports every module that ``pkgutil.walk_packages`` finds under nn/, so a new
module is covered without a change here. ``nn.__main__`` is left out: importing it runs the command line
(test_cli runs ``python -m nn``).
"""
import json
import subprocess
import sys
from pathlib import Path

import pytest

import nn

OPTIONAL = ("torch", "sklearn", "matplotlib", "dask", "pandas", "onnx", "onnxruntime", "skl2onnx")
# module -> the extra it needs, as its ImportError names it
INTEGRATIONS = {"nn.estimators": 'pip install "nn-lessons[sklearn]"'}

HIDE_AND_IMPORT = r"""
import importlib, importlib.abc, json, pkgutil, sys

ROOT, OPTIONAL = sys.argv[1], tuple(json.loads(sys.argv[2]))
sys.path.insert(0, ROOT)
tried = []  # (the optional package, the nn module whose code asked for it)


def importer():
    frame = sys._getframe(2)
    while frame is not None:
        name = frame.f_globals.get("__name__", "")
        if name == "nn" or name.startswith("nn."):
            return name
        frame = frame.f_back
    return None


class HideOptional(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        top = fullname.partition(".")[0]
        if top in OPTIONAL:
            tried.append((top, importer()))
            raise ModuleNotFoundError(f"No module named {top!r} (hidden by tests/test_imports.py)", name=top)
        return None


assert not [m for m in sys.modules if m.partition(".")[0] in OPTIONAL], "already imported before the test"
sys.meta_path.insert(0, HideOptional())
report = {"modules": {}}

import nn
report["import nn tried"] = sorted({top for top, _ in tried})
report["walk errors"] = []
names = [m.name for m in pkgutil.walk_packages(nn.__path__, "nn.", onerror=report["walk errors"].append)]
for name in names:
    if name.rpartition(".")[2] == "__main__":
        continue
    del tried[:]
    try:
        importlib.import_module(name)
        error = None
    except Exception as exc:
        error = [type(exc).__name__, str(exc)]
    report["modules"][name] = {"error": error, "tried": sorted(set(map(tuple, tried)))}


def error_of(use):
    try:
        use()
    except ImportError as exc:
        return str(exc)
    return None


import nn.plots
report["counting without matplotlib"] = nn.plots.confusion_matrix([0, 1, 1], [0, 1, 0]).tolist()
report["a figure without matplotlib"] = error_of(lambda: nn.plots.confusion([0, 1], [0, 1]))
report["nn.Classifier without scikit-learn"] = error_of(lambda: nn.Classifier)
print(json.dumps(report))
"""


def python(code, *args):
    """Runs ``code`` in a fresh interpreter that finds this nn first; its stdout."""
    root = str(Path(nn.__file__).resolve().parents[1])
    result = subprocess.run([sys.executable, "-c", code, root, *args], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def hidden():
    """What a Python without the optional packages makes of nn (HIDE_AND_IMPORT's report)."""
    return json.loads(python(HIDE_AND_IMPORT, json.dumps(OPTIONAL)))


def test_the_walk_finds_the_modules(hidden):
    assert hidden["walk errors"] == []
    modules = set(hidden["modules"])
    assert {"nn.network", "nn.trainer", "nn.validation", "nn.backends.reference", "nn.backends.compiled",
            "nn.plots", "nn.cli"} <= modules
    assert set(INTEGRATIONS) <= modules, "INTEGRATIONS names a module that is not in nn/"


def test_every_module_imports_without_the_optional_packages(hidden):
    failed = {name: " ".join(result["error"]) for name, result in hidden["modules"].items()
              if result["error"] and name not in INTEGRATIONS}
    assert failed == {}


def test_no_module_asks_for_an_optional_package_while_it_is_imported(hidden):
    """Not even inside a try: an optional package is imported when its feature is used."""
    asked = {name: result["tried"] for name, result in hidden["modules"].items()
             if any(importer not in INTEGRATIONS for _, importer in result["tried"])}
    assert asked == {}


@pytest.mark.parametrize("module", sorted(INTEGRATIONS))
def test_an_integration_without_its_extra_says_which_to_install(hidden, module):
    assert hidden["modules"][module]["error"][0] in ("ImportError", "ModuleNotFoundError")
    assert INTEGRATIONS[module] in hidden["modules"][module]["error"][1]


def test_optional_features_say_which_extra_to_install_when_used(hidden):
    assert hidden["counting without matplotlib"] == [[1, 0], [1, 1]]  # no figure: no matplotlib needed
    assert "nn-lessons[plot]" in hidden["a figure without matplotlib"]
    assert 'pip install "nn-lessons[sklearn]"' in hidden["nn.Classifier without scikit-learn"]


def test_import_nn_imports_no_optional_package(hidden):
    """Hidden, it asks for none; installed (as in CI), none is in sys.modules afterwards."""
    assert hidden["import nn tried"] == []
    code = ("import json, sys; sys.path.insert(0, sys.argv[1]); import nn; "
            "print(json.dumps(sorted(m for m in sys.modules if m.partition('.')[0] in json.loads(sys.argv[2]))))")
    assert json.loads(python(code, json.dumps(OPTIONAL))) == []
