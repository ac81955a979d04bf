"""Packaging: nn without its compiled core, and installs from a clone.

Without nn._core (not built, no C compiler, a broken build) ``import nn`` works, the default backend is
the NumPy reference with one UserWarning per process saying why and how to build the core, and asking
for the compiled backend by name raises ImportError saying the same. Each check runs in a fresh Python
whose ``nn._core`` is blocked, so the core of this process is untouched.

The install tests (NN_TEST_INSTALL=1; a minute or two each, PyPI needed for the isolated build) install
a copy of this clone into a fresh venv: with a C compiler that fails (the install goes on without the
core) and as an editable install (the core is built in the source folder).
"""
import os
import shutil
import subprocess
import sys
import textwrap
import venv
from pathlib import Path

import pytest

import nn

ROOT = Path(__file__).resolve().parents[1]  # the clone
SOURCE = str(Path(nn.__file__).resolve().parents[1])  # where the nn under test is imported from

# Run before `import nn` in the child: the core cannot be imported, as if it were never built.
BLOCK_CORE = "import sys; sys.modules['nn._core'] = None"
# ... or a core built from older sources: it imports, but lacks names the compiled backend uses.
STALE_CORE = "import sys, types; sys.modules['nn._core'] = types.ModuleType('nn._core')"
# Every warning, each time, kept in `caught` as (category name, file, message).
RECORD_WARNINGS = """
import warnings
caught = []
warnings.showwarning = lambda message, category, filename, *rest: caught.append((category.__name__, filename, str(message)))
warnings.simplefilter("always")
"""

XOR_TRAINS = """
import numpy as np
X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
y = np.array([0, 1, 1, 0], dtype=float)
net = nn.Network([2, 4, 1], activation="tanh", output="sigmoid", seed=0)
nn.Trainer(net, loss="binary_cross_entropy", optimizer=nn.Adam(0.05), batch_size=4, seed=0).fit(X, y, epochs=300)
assert net.backend == "reference", net.backend
assert ((net.predict(X).ravel() > 0.5) == y.astype(bool)).all(), net.predict(X)
"""


def child_env(**extra):
    """This process's environment, nn importable from SOURCE, NN_BACKEND unset, then ``extra``."""
    env = {key: value for key, value in os.environ.items() if key != "NN_BACKEND"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [SOURCE, os.environ.get("PYTHONPATH")]))
    return {**env, **extra}


def python(*parts, **env):
    """Run the code ``parts`` (one after the other) in a fresh Python (nn from SOURCE, NN_BACKEND unset
    unless given): the CompletedProcess."""
    code = "\n".join(textwrap.dedent(part) for part in parts)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=child_env(**env),
                          cwd=SOURCE, timeout=300)


def ok(result):
    assert result.returncode == 0, f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result


# ----- without the core -----------------------------------------------------------------------------------
def test_without_the_core_nn_imports_and_trains_on_the_reference_backend_with_one_warning():
    result = ok(python(BLOCK_CORE, RECORD_WARNINGS, """
        import nn
        assert caught == [], "import nn warns nothing: the default backend is resolved later"
        """, XOR_TRAINS, """
        nn.Network([2, 2, 1])  # a second network: no second warning
        assert len(caught) == 1, caught
        print(*caught[0], sep="\\n")
        print(nn.backends.available())
    """))
    category, filename, message, available = result.stdout.strip().split("\n")
    assert category == "UserWarning"
    assert filename == "<string>"  # it points at the line that built the network, not into nn
    assert "compiled core did not load" in message and "nn._core" in message  # why
    assert "NumPy reference backend" in message  # what happens instead
    assert "pip install -e ." in message and "pip install ." in message  # how to build it
    assert "NN_BACKEND=reference" in message  # how to choose the NumPy backend and silence it
    assert available == "('reference',)"


def test_without_the_core_asking_for_compiled_by_name_raises_a_clear_import_error():
    result = ok(python(BLOCK_CORE, """
        import nn
        try:
            nn.Network([2, 2, 1], backend="compiled")
        except ImportError as exc:
            print(exc)
        else:
            raise AssertionError("no ImportError")
        print(nn.backends.problem("compiled"))
        print(nn.backends.problem("reference"))
    """))
    message, problem, reference_problem = result.stdout.strip().split("\n")
    assert message.startswith("backend='compiled' needs nn's compiled core (nn._core), which did not load")
    assert problem in message  # the ImportError's own words
    assert "pip install -e ." in message and 'backend="reference"' in message
    assert reference_problem == "None"


def test_without_the_core_nn_backend_compiled_raises_when_a_network_is_built_not_at_import():
    result = python(BLOCK_CORE, """
        import nn  # NN_BACKEND is read when a network is built
        nn.Network([2, 2, 1])
    """, NN_BACKEND="compiled")
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: NN_BACKEND='compiled' needs nn's compiled core (nn._core)"), last
    assert "pip install -e ." in last


def test_without_the_core_nn_backend_reference_gives_no_warning():
    ok(python(BLOCK_CORE, """
        import warnings
        warnings.simplefilter("error")
        import nn
        """, XOR_TRAINS, NN_BACKEND="reference"))


def test_a_core_built_from_older_sources_counts_as_not_loaded():
    result = ok(python(STALE_CORE, RECORD_WARNINGS, "import nn", XOR_TRAINS, """
        assert len(caught) == 1, caught
        print(nn.backends.problem("compiled"))
    """))
    assert result.stdout.startswith("AttributeError: ")


def test_nn_info_without_the_core_says_so_and_names_the_reference_backend():
    result = ok(python(BLOCK_CORE, """
        from nn.cli import main
        raise SystemExit(main(["info"]))
    """))
    assert "compiled core: NOT loaded (" in result.stdout
    assert "default backend: reference" in result.stdout
    assert "training threads: 1 " in result.stdout
    assert result.stderr.count("UserWarning: nn's compiled core did not load") == 1


def test_unknown_backends_are_still_value_errors():
    with pytest.raises(ValueError, match="unknown backend 'gpu'; expected one of: compiled, reference"):
        nn.backends.problem("gpu")


# ----- installs into a fresh venv (slow: NN_TEST_INSTALL=1) ---------------------------------------------------
install = pytest.mark.skipif(os.environ.get("NN_TEST_INSTALL", "") in ("", "0"),
                             reason="installs into a fresh venv (a minute or two, PyPI): set NN_TEST_INSTALL=1")


def clean_copy(destination):
    """A copy of this clone without anything built (build folders, modules, venvs): what a user clones.
    (pip builds in the source folder: an up-to-date module in build/ would be installed without compiling.)"""
    ignore = shutil.ignore_patterns("build", "dist*", "*.so", "*.egg-info", ".venv*", ".git", "__pycache__",
                                    ".hypothesis", ".pytest_cache", "_core.c")
    shutil.copytree(ROOT, destination, ignore=ignore)
    return destination


def make_venv(path):
    venv.create(path, with_pip=True)
    return path / "bin" / "python", path / "bin" / "nn"


def pip_install(python_exe, *args, env=None):
    return subprocess.run([str(python_exe), "-m", "pip", "install", "--no-cache-dir", "-v", *args], capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=1200)


@install
def test_without_a_c_compiler_pip_install_goes_on_without_the_core(tmp_path):
    source = clean_copy(tmp_path / "clone")
    python_exe, nn_exe = make_venv(tmp_path / "venv")
    result = ok(pip_install(python_exe, str(source), env={"CC": "/bin/false", "CXX": "/bin/false"}))
    assert "*** nn: the compiled core (nn._core) was NOT built" in result.stdout + result.stderr

    env = {key: value for key, value in os.environ.items() if key not in ("NN_BACKEND", "PYTHONPATH")}
    info = ok(subprocess.run([str(nn_exe), "info"], capture_output=True, text=True, env=env, cwd=tmp_path))
    assert "compiled core: NOT loaded" in info.stdout and "default backend: reference" in info.stdout

    trained = ok(subprocess.run([str(python_exe), "-c", "import nn\n" + XOR_TRAINS], capture_output=True,
                                text=True, env=env, cwd=tmp_path))
    assert trained.stderr.count("UserWarning") == 1

    refused = subprocess.run([str(nn_exe), "train", "--dataset", "xor"], capture_output=True, text=True,
                             env={**env, "NN_BACKEND": "compiled"}, cwd=tmp_path)
    assert refused.returncode == 2
    assert refused.stderr.startswith("nn train: error: NN_BACKEND='compiled' needs nn's compiled core")


@install
def test_an_editable_install_builds_the_core_in_the_source_folder(tmp_path):
    source = clean_copy(tmp_path / "clone")
    python_exe, nn_exe = make_venv(tmp_path / "venv")
    ok(pip_install(python_exe, "-e", str(source)))
    assert list((source / "nn").glob("_core*.so")), "the core is built beside nn's sources"

    env = {key: value for key, value in os.environ.items() if key not in ("NN_BACKEND", "PYTHONPATH")}
    info = ok(subprocess.run([str(nn_exe), "info"], capture_output=True, text=True, env=env, cwd=tmp_path))
    assert f"compiled core: loaded ({source / 'nn'}" in info.stdout
    # From the clone's root, `python -m nn` imports the source folder: the same nn, core included.
    from_root = ok(subprocess.run([str(python_exe), "-m", "nn", "info"], capture_output=True, text=True, env=env,
                                  cwd=source))
    assert "default backend: compiled" in from_root.stdout and from_root.stderr == ""
