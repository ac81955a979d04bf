"""`nn gradcheck` (backpropagation against finite differences for every activation, output and loss) and
`nn info` (version, compiled core, default backend, BLAS and threads).
"""
import os
import platform

import numpy as np

from .. import __version__, backends
from ..backends.threads import get_num_threads
from ..functions import ACTIVATIONS, LOSS_OUTPUT, LOSSES
from ..network import Network


def gradcheck(args):
    """nn gradcheck: every hidden activation, output and loss on a small network; 1 when one fails."""
    from ..gradcheck import gradcheck as check

    rng = np.random.default_rng(args.seed)
    worst = 0.0
    print(f"{'hidden':>10s} {'output':>10s} {'loss':>21s}  relative error")
    for loss in sorted(LOSSES):
        for output in sorted(ACTIVATIONS):
            if LOSS_OUTPUT[loss] not in (None, output):
                continue
            for hidden in sorted(ACTIVATIONS):
                n_out = 1 if loss == "binary_cross_entropy" else 3
                net = Network([4, 5, n_out], activation=hidden, output=output, seed=args.seed,
                              bias_init="normal", backend=args.backend)
                X = rng.normal(size=(6, 4))
                y = (rng.integers(0, n_out, size=6) if loss == "cross_entropy" else
                     rng.integers(0, 2, size=6).astype(float) if loss == "binary_cross_entropy" else
                     rng.normal(size=(6, n_out)))
                error = check(net, X, y, loss)
                worst = max(worst, error)
                print(f"{hidden:>10s} {output:>10s} {loss:>21s}  {error:.2e}")
    verdict = "pass" if worst < 1e-6 else "FAIL"
    print(f"max relative error {worst:.2e}: {verdict} (below 1e-6 passes)")
    return 0 if worst < 1e-6 else 1


def processor():
    """The processor's model name (/proc/cpuinfo), else what the platform module knows of it: the name
    every benchmark prints beside its figures (nn bench, nn info, the scripts in the repository's bench/)."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown processor"


# nn._core.simd_level()'s levels
SIMD_NAMES = ("baseline (SSE2; portable loops)", "AVX2 with FMA", "AVX-512")


def info(args):
    """nn info: what this install runs on."""
    import scipy

    print(f"nn {__version__}")
    try:
        from ..backends import compiled

        print(f"compiled core: loaded ({compiled.CORE_FILE}); thread team: {compiled.TEAM}")
        print(f"processor: {processor()}, {os.cpu_count()} logical cores")
        level = compiled._core.simd_level()
        print(f"instruction set: {SIMD_NAMES[level]} (the processor's widest: "
              f"{SIMD_NAMES[compiled._core.simd_available()]}; chosen at run time)")
    except ImportError as exc:
        print(f"compiled core: NOT loaded ({exc})")
    print(f"default backend: {backends.resolve()}; dtypes: float64, float32")
    for name, module, role in (("scipy", scipy, "the compiled core's products"), ("numpy", np, "the reference's")):
        print(f"{name} {module.__version__}: {_blas(module)} ({role})")
    print(f"BLAS threads: OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', '(unset: all cores)')}")
    print(f"training threads: {get_num_threads()} (nn.set_num_threads, NN_NUM_THREADS; batches too "
          "small to share train on one)")
    return 0


def _blas(module):
    """The BLAS a NumPy or SciPy build links, from its build configuration."""
    try:
        blas = module.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception:  # older builds describe themselves differently
        return "BLAS (see show_config())"
