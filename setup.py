"""Only the extension list lives here; metadata is in pyproject.toml.

Set NN_DEBUG_BUILD=1 at build time to turn bounds, wraparound and initialisation checks back on.
"""
import os

from Cython.Build import cythonize
from setuptools import Extension, setup

debug = os.environ.get("NN_DEBUG_BUILD", "") not in ("", "0")
directives = {
    "language_level": 3,
    "boundscheck": debug,
    "wraparound": debug,
    "initializedcheck": debug,
    "cdivision": not debug,
}
# No -march=native: the wheel must run on any x86-64.
# -fno-trapping-math lets gcc vectorise compare-and-select loops (ReLU); it changes no result.
compile_args = ["-O0", "-g"] if debug else ["-O3", "-fno-trapping-math"]
# The core starts its own threads to share a batch (POSIX threads).
compile_args.append("-pthread")

extensions = [Extension("nn._core", ["src/_core.pyx"], extra_compile_args=compile_args, extra_link_args=["-pthread"])]

setup(ext_modules=cythonize(extensions, compiler_directives=directives))
