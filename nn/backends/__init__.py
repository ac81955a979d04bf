"""The registry of backends: the same functions (``forward``, ``gradients``, ``train_epochs``) in NumPy
(``reference``) and over the compiled core (``compiled``). A backend's module is imported the first time
it is asked for (``get``), never by ``import nn``. (The compiled backend's thread count is set in
``threads``; the parameter layout the backends share is ``nn.layout``.)

The compiled backend needs ``nn._core``, which is built when nn is installed (``pip install .``, or
``pip install -e .`` in a clone). Without it nn still works: the default backend becomes the reference,
with one UserWarning per process, issued when the default is first resolved (the first ``Network()``
without ``backend``, or ``nn info``), that says why the core did not load and how to build it. Asking for
the compiled backend by name (``backend="compiled"``, ``NN_BACKEND=compiled``) raises ImportError instead.
"""
import importlib
import os
import warnings

MODULES = {"compiled": f"{__name__}.compiled", "reference": f"{__name__}.reference"}
NAMES = tuple(MODULES)
PREFERENCE = ("compiled", "reference")  # the default: the first of these that loads
BUILD_HINT = ("`pip install -e .` in a clone of nn (then `python setup.py build_ext --inplace` rebuilds it), "
              "or `pip install .`, with a C compiler")

_modules = {}  # name -> the backend's module, once loaded
_errors = {}  # name -> the exception its import raised, once tried and failed
_warned = False  # the fallback's warning is given once per process


def _try_load(name):
    """The backend's module, or None when it does not load (the exception is kept in _errors)."""
    if name not in _modules and name not in _errors:
        try:
            _modules[name] = importlib.import_module(MODULES[name])
        except (ImportError, AttributeError) as exc:  # AttributeError: a core built from older sources
            _errors[name] = exc
    return _modules.get(name)


def problem(name):
    """Why backend ``name`` does not load (its ImportError's text), or None when it loads."""
    if name not in MODULES:
        raise ValueError(f"unknown backend {name!r}; expected one of: {', '.join(NAMES)}")
    _try_load(name)
    error = _errors.get(name)
    return None if error is None else f"{type(error).__name__}: {error}"


def available():
    """The names of the backends that load here, in order of preference: ("compiled", "reference"),
    or ("reference",) when the compiled core is not built."""
    return tuple(name for name in PREFERENCE if _try_load(name) is not None)


def _default():
    """The first backend in PREFERENCE that loads; warns (once) when that is not the compiled one."""
    global _warned
    name = available()[0]
    if name != PREFERENCE[0] and not _warned:
        _warned = True
        # stacklevel 4: the line that built the Network (Network.__init__ -> resolve -> _default -> here)
        warnings.warn(f"nn's compiled core did not load ({problem(PREFERENCE[0])}); nn runs on the NumPy "
                      f"reference backend, which is slower. To build the core: {BUILD_HINT}. backend=\"reference\" or "
                      "NN_BACKEND=reference choose the NumPy backend without this warning.", UserWarning, stacklevel=4)
    return name


def resolve(name=None):
    """The backend name to use: ``name``, else $NN_BACKEND, else the compiled backend when its core
    loads, else the reference (with a warning, once per process). A backend asked for by name must
    load: asking for "compiled" without the core raises ImportError (it says how to build the core)."""
    if name is None:
        name = os.environ.get("NN_BACKEND", "")
        if not name:
            return _default()
        where = "NN_BACKEND"
    else:
        where = "backend"
    if name not in MODULES:
        raise ValueError(f"unknown backend {name!r} ({where}); expected one of: {', '.join(NAMES)}")
    if _try_load(name) is None:
        needs = " needs nn's compiled core (nn._core), which" if name == "compiled" else ""
        raise ImportError(f"{where}={name!r}{needs} did not load ({problem(name)}); build it: {BUILD_HINT}; or use "
                          "the NumPy backend: backend=\"reference\" or NN_BACKEND=reference") from _errors[name]
    return name


def get(name=None):
    """The backend module for ``name`` (see resolve)."""
    return _modules[resolve(name)]
