"""Only the extension list lives here; metadata is in pyproject.toml.

Build modes, chosen by environment variables at build time:
- NN_DEBUG_BUILD=1: bounds, wraparound and initialisation checks back on, -O0 -g.
- NN_SANITIZE=1: those checks, and AddressSanitizer with UndefinedBehaviorSanitizer (-O1 -g). The
  module then needs the sanitizer runtimes loaded first: run Python with
  LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)" (see .ci/run).
- NN_TEAM=openmp: the thread team as an OpenMP parallel region instead of POSIX threads (src/nn_team.h);
  NN_TEAM=none: no team (one thread), the portable fallback of platforms without either;
  NN_TEAM=pthreads-per-call: POSIX threads started for each call instead of the pool (for bench/team.py).
- NN_REQUIRE_CORE=1: a core that fails to compile fails the build (CI). By default the build goes on
  without it (no C compiler, say): nn is installed and runs on its NumPy reference backend.
"""
import os
import sys

from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.errors import BaseError, CCompilerError


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
# -fno-trapping-math lets gcc vectorise compare-and-select loops (ReLU); -fno-math-errno lets it use the
# sqrt instruction, vectorised, in RMSprop's and Adam's steps (the core never reads errno). Neither
# changes a result: the same weights to the last bit (load_digits 64-64-10, Adam: 131 -> 126 ms for 200
# epochs, AMD EPYC).
# No contraction of a * b + c into one fused multiply-add where the target has one (aarch64, or x86-64
# with FMA): the kernels round as their NumPy twins do, operation by operation.
contract = ["-ffp-contract=off"]
if sanitize:
    sanitizers = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer"]
    # Python's own flags hold -fwrapv, under which signed overflow is defined and goes unreported.
    compile_args, link_args = sanitizers + ["-O1", "-g", "-fno-wrapv"] + contract, list(sanitizers)
elif debug:
    compile_args, link_args = ["-O0", "-g"] + contract, []
else:
    compile_args, link_args = ["-O3", "-fno-trapping-math", "-fno-math-errno"] + contract, []
# The thread team (src/nn_team.h): POSIX threads by default, OpenMP with NN_TEAM=openmp (the A/B of
# bench/README.md, "The thread team").
team = os.environ.get("NN_TEAM", "pthreads")
if team not in ("pthreads", "openmp", "none", "pthreads-per-call"):
    sys.exit(f"NN_TEAM must be 'pthreads', 'openmp', 'none' or 'pthreads-per-call', got {team!r}")
if team == "openmp":
    compile_args += ["-fopenmp", "-DNN_TEAM_OPENMP"]
    link_args.append("-fopenmp")
elif team == "none":  # the portable fallback: one thread, no pthreads or futex (what other platforms get)
    compile_args.append("-DNN_TEAM_NONE")
else:
    compile_args.append("-pthread")
    link_args.append("-pthread")
    if team == "pthreads-per-call":  # the team before its pool (the A/B of bench/team.py)
        compile_args.append("-DNN_TEAM_PER_CALL")

# The core's modules (src/nn/*.pyx, interfaces in the .pxd beside them, C in src/*.h), in the order of
# their imports: each cimports only those before it. nn._core holds the entry points.
MODULES = ["_kernels", "_sparse", "_passes", "_train", "_scratch", "_infer", "_core"]
extensions = [Extension(f"nn.{name}", [f"src/nn/{name}.pyx"], include_dirs=["src"], extra_compile_args=compile_args,
                        extra_link_args=link_args) for name in MODULES]


class build_ext_or_explain(build_ext):
    """build_ext, and when an optional extension fails to compile or link: no module from an earlier
    build left in its place, and a message that says what it means (setuptools then goes on without it)."""

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except (CCompilerError, BaseError) as exc:  # what setuptools forgives an optional extension
            if not ext.optional:
                raise
            stale = self.get_ext_fullpath(ext.name)
            if os.path.exists(stale):
                os.remove(stale)
            print(f"\n*** nn: the compiled core ({ext.name}) was NOT built: {exc}\n"
                  "*** nn works without it, on its NumPy reference backend (slower); `nn info` says which backend\n"
                  "*** loads. To build the core, install a C compiler (gcc or clang; on Debian/Ubuntu:\n"
                  "*** apt install build-essential python3-dev) and install nn again.\n",
                  file=sys.stderr, flush=True)
            raise
# One build folder per mode (generated C, objects, the module): cythonize and build_ext skip a file
# newer than its sources, so a shared folder would hand out the last mode's build.
build_base = os.path.join("build", "sanitize" if sanitize else "debug" if debug else "release")
if team != "pthreads":
    build_base += "-" + team

ext_modules = cythonize(extensions, compiler_directives=directives, build_dir=os.path.join(build_base, "cython"),
                        include_path=["src"])
# nn.autograd: the readable nn/autograd.py itself, compiled, with the C types of nn/autograd.pxd beside it
# (Cython's "augmenting" .pxd: Value becomes an extension type with double fields). Python's semantics
# throughout (division, indexing): no directive beyond the language level. Where it does not build,
# Python imports nn/autograd.py as it is.
ext_modules += cythonize([Extension("nn.autograd", ["nn/autograd.py"], extra_compile_args=compile_args,
                                    extra_link_args=link_args)],
                         compiler_directives={"language_level": 3}, build_dir=os.path.join(build_base, "cython"))
# Set after cythonize, which makes new Extensions without the flag (Cython 3.3: optional=True given to
# Extension is lost). Optional: a failed compile or link is a message, not the end of the install.
for ext in ext_modules:
    ext.optional = not flag("NN_REQUIRE_CORE")

setup(cmdclass={"build_ext": build_ext_or_explain}, ext_modules=ext_modules, options={"build": {"build_base": build_base}})
