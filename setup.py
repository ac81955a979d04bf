"""Only the extension list lives here; metadata is in pyproject.toml.

Build modes, chosen by environment variables at build time:
- NN_DEBUG_BUILD=1: bounds, wraparound and initialisation checks back on, -O0 -g.
- NN_SANITIZE=1: those checks, and AddressSanitizer with UndefinedBehaviorSanitizer (-O1 -g). The
  module then needs the sanitizer runtimes loaded first: run Python with
  LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)" (see .ci/run).
"""
import os

from Cython.Build import cythonize
from setuptools import Extension, setup


def flag(name):
    return os.environ.get(name, "") not in ("", "0")


sanitize = flag("NN_SANITIZE")
debug = flag("NN_DEBUG_BUILD") or sanitize
directives = {
    "language_level": 3,
    "boundscheck": debug,
    "wraparound": debug,
    "initializedcheck": debug,
    "cdivision": not debug,
}
# No -march=native: the wheel must run on any x86-64.
# -fno-trapping-math lets gcc vectorise compare-and-select loops (ReLU); it changes no result.
if sanitize:
    sanitizers = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer"]
    # Python's own flags hold -fwrapv, under which signed overflow is defined and goes unreported.
    compile_args, link_args = sanitizers + ["-O1", "-g", "-fno-wrapv"], list(sanitizers)
elif debug:
    compile_args, link_args = ["-O0", "-g"], []
else:
    compile_args, link_args = ["-O3", "-fno-trapping-math"], []
# The core starts its own threads to share a batch (POSIX threads).
compile_args.append("-pthread")
link_args.append("-pthread")

extensions = [Extension("nn._core", ["src/_core.pyx"], extra_compile_args=compile_args, extra_link_args=link_args)]
# One build folder per mode (generated C, objects, the module): cythonize and build_ext skip a file
# newer than its sources, so a shared folder would hand out the last mode's build.
build_base = os.path.join("build", "sanitize" if sanitize else "debug" if debug else "release")

setup(ext_modules=cythonize(extensions, compiler_directives=directives, build_dir=os.path.join(build_base, "cython")),
      options={"build": {"build_base": build_base}})
