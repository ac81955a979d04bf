"""`nn bench`: nn's own workloads timed on this machine, the compiled core against the NumPy reference in
one process, with nothing but nn, NumPy and SciPy loaded. (The comparisons with PyTorch, scikit-learn and
JAX live in a checkout of the repository, bench/run.py and bench/sweep.py: the installed package never
imports them.)

Every figure is the median of --repeat runs after a warm-up run; the backends' runs alternate, so that a
busy moment of the machine falls on both. Each training run starts from a new network with the same seed
(its construction is not timed): the time is that of ``Trainer.fit``. The header names what the figures
depend on: nn's version, the processor, the instruction set the core runs, the threads, NumPy, the data.

  lesson      the lessons' gender network: 2-2-1 sigmoid, MSE, per-sample SGD 0.1, 1000 epochs
  mnist       784-128-10 ReLU/softmax, cross-entropy, SGD 0.1, one epoch over the training images,
              batch 32 and 128, float32 and float64 (the reference's epochs only up to
              REFERENCE_MAX_IMAGES images: the full MNIST's would make the run take minutes)
  optimizers  that epoch at batch 32 with momentum, RMSprop and Adam, as a ratio to the SGD epoch
              (measured beside it), on the compiled backend only
  inference   net.forward on the test images in one call (rows per second), and on one 1-D row (the
              latency of a call, Python included), float32 and float64

Without the compiled core the reference runs alone (and the optimizers not at all). --threads N runs the
benchmark again in a new process whose BLAS libraries start with N threads (see _run_with_threads).
"""
import json
import os
import platform
import subprocess
import sys
import time
from typing import NamedTuple

import numpy as np

from .. import __version__, backends
from ..backends.threads import get_num_threads, num_threads_is_set, set_num_threads
from ..datasets import gender, load_mnist
from ..network import Network
from ..optimizers import SGD, Adam, Momentum, RMSprop
from ..trainer import Trainer
from .diagnostics import SIMD_NAMES, processor
from .options import REFERENCE_MAX_IMAGES, check_mnist_folder, check_new_file

# How much work each figure is: the real workloads' sizes. The tests make them tiny.
LESSON_EPOCHS = 1000
MNIST_IMAGES = None  # the first this many training and test images (None: all of them)
FORWARD_CALLS = 5  # net.forward over the test images, per timed run
LATENCY_CALLS = 1000  # net.forward on one row, per timed run
DTYPES = ("float32", "float64")
# The rates that train MNIST with each optimizer (bench/sweep.py uses the same)
OPTIMIZERS = {"sgd": lambda: SGD(0.1), "momentum": lambda: Momentum(0.01, momentum=0.9),
              "rmsprop": lambda: RMSprop(0.001), "adam": lambda: Adam(0.001)}
# BLAS libraries read their thread count when they load: --threads runs the benchmark in a new process
# with these set, unless this one was started with them.
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
MISSING, SKIPPED = "-", "skipped"  # the table's cells without a figure


class Result(NamedTuple):
    """One line of the table: a case of a workload and its figure on each backend that ran it (seconds a
    run, or rows a second when ``unit`` is "rows/s"); ``ratio`` is how many times faster the compiled
    backend is, or for the optimizers the epoch's time over SGD's (``ratio_of`` says which)."""
    case: str
    dtype: str
    unit: str
    compiled: float = None
    reference: float = None
    ratio: float = None
    ratio_of: str = "reference / compiled"
    skipped: bool = False  # the reference was not run (too long), as opposed to not loaded


class Section(NamedTuple):
    """A workload's part of the table: its title, its lines, and notes printed under them."""
    name: str
    title: str
    results: list
    notes: list


class Setup(NamedTuple):
    """What every workload needs: the backends that load (compiled first), --repeat, the MNIST data."""
    backends: tuple
    repeat: int
    data: "Data"


class Data:
    """The MNIST training and test images of --data (or the bundled sample), loaded when first asked for,
    in each dtype."""

    def __init__(self, folder):
        self.folder = folder
        self._read = {}  # kind -> (X, y) as read, float64
        self._arrays = {}  # (kind, dtype) -> (X, y)

    def __repr__(self):
        return f"Data(folder={self.folder!r}, loaded={self.sizes()})"

    def get(self, kind, dtype):
        """(X, y) of ``kind`` ("train" or "test"): X C-contiguous in ``dtype``, the first MNIST_IMAGES rows."""
        if (kind, dtype) not in self._arrays:
            if kind not in self._read:  # read once (float64), cast for each dtype
                X, y = load_mnist(self.folder, kind)
                self._read[kind] = X[:MNIST_IMAGES], y[:MNIST_IMAGES]
            X, y = self._read[kind]
            self._arrays[kind, dtype] = np.ascontiguousarray(X, dtype=dtype), y
        return self._arrays[kind, dtype]

    def sizes(self):
        """{kind: number of images} of what was loaded: {} before any workload asked for MNIST."""
        return {kind: len(y) for kind, (_, y) in self._read.items()}

    def describe(self):
        """'the bundled MNIST sample (6,000 training and 2,000 test images)', or the folder's, from what
        was loaded."""
        sizes = self.sizes()
        counts = " and ".join(f"{sizes[kind]:,} {name}" for kind, name in (("train", "training"), ("test", "test"))
                              if kind in sizes)
        where = "the bundled MNIST sample" if self.folder is None else f"MNIST from {self.folder}"
        return f"{where} ({counts} images)"


# ----- timing ------------------------------------------------------------------------------------------
def alternate(runs, repeat, gap=0.0):
    """{name: median seconds} of the callables ``runs`` (each returns the seconds it measured): each is
    called once to warm up, then ``repeat`` rounds of all of them in turn. ``gap``: seconds slept before
    each timed call, so that threads the call before left spinning have gone idle (bench/sweep.py:
    PyTorch's OpenMP threads spin for milliseconds after a call, on a core the next engine would use)."""
    for run in runs.values():
        run()
    times = {name: [] for name in runs}
    for _ in range(repeat):
        for name, run in runs.items():
            if gap > 0:
                time.sleep(gap)
            times[name].append(run())
    return {name: float(np.median(seconds)) for name, seconds in times.items()}


def fit_run(backend, sizes, X, y, dtype, loss, optimizer, batch_size, epochs=1, **network):
    """A callable that trains a new ``sizes`` network (seed 0) on (X, y) with ``Trainer.fit`` and returns
    the seconds fit took; a Ctrl-C that fit caught ends the benchmark."""
    def run():
        net = Network(sizes, dtype=dtype, seed=0, backend=backend, **network)
        trainer = Trainer(net, loss=loss, optimizer=optimizer(), batch_size=batch_size, seed=0)
        start = time.perf_counter()
        history = trainer.fit(X, y, epochs=epochs, verbose=False)
        seconds = time.perf_counter() - start
        if history.interrupted:
            raise KeyboardInterrupt
        return seconds
    return run


def calls_run(function, argument, calls):
    """A callable that calls ``function(argument)`` ``calls`` times and returns the seconds per call."""
    def run():
        start = time.perf_counter()
        for _ in range(calls):
            function(argument)
        return (time.perf_counter() - start) / calls
    return run


def compare(setup, make_run, case, dtype, skip_reference=False, rows=None):
    """A Result of each backend in ``setup`` (``make_run(backend)`` makes its run; runs alternating): the
    seconds a run, or with ``rows`` the rows a second; the reference left out when ``skip_reference``."""
    names = [name for name in setup.backends if not (skip_reference and name == "reference")]
    seconds = alternate({name: make_run(name) for name in names}, setup.repeat)
    ratio = seconds["reference"] / seconds["compiled"] if len(seconds) == 2 else None
    figures = seconds if rows is None else {name: rows / time for name, time in seconds.items()}
    return Result(case, dtype, "seconds" if rows is None else "rows/s", figures.get("compiled"),
                  figures.get("reference"), ratio, skipped=skip_reference and "reference" in setup.backends)


# ----- the workloads -----------------------------------------------------------------------------------
def lesson(setup):
    """The lessons' gender network: 2-2-1 sigmoid, MSE, per-sample SGD 0.1, LESSON_EPOCHS epochs."""
    X, y = gender()
    y = y.astype(np.float64)

    def make_run(backend):
        return fit_run(backend, [2, 2, 1], X, y, "float64", "mse", OPTIMIZERS["sgd"], batch_size=1,
                       epochs=LESSON_EPOCHS, activation="sigmoid", output="sigmoid", init="normal")
    result = compare(setup, make_run, f"{LESSON_EPOCHS:,} epochs ({LESSON_EPOCHS * len(X):,} steps)", "float64")
    return Section("lesson", "the gender network: 2-2-1 sigmoid, MSE, per-sample SGD 0.1", [result], [])


def mnist(setup):
    """One epoch of 784-128-10 (ReLU, softmax, cross-entropy, SGD 0.1) over the training images, batch 32
    and 128, float32 and float64; the reference's only up to REFERENCE_MAX_IMAGES images."""
    results = []
    for batch_size in (32, 128):
        for dtype in DTYPES:
            X, y = setup.data.get("train", dtype)
            skip = len(X) > REFERENCE_MAX_IMAGES

            def make_run(backend, X=X, y=y, dtype=dtype, batch_size=batch_size):
                return fit_run(backend, [784, 128, 10], X, y, dtype, "cross_entropy", OPTIMIZERS["sgd"],
                               batch_size, activation="relu", output="softmax")
            results.append(compare(setup, make_run, f"batch {batch_size}", dtype, skip_reference=skip))
    n = setup.data.sizes()["train"]
    notes = []
    if any(result.skipped for result in results):
        notes.append(f"reference skipped: nn bench runs its epochs on at most {REFERENCE_MAX_IMAGES:,} images, to keep "
                     f"the run short ({n:,} here)")
    return Section("mnist", f"one epoch of {n:,} images: 784-128-10 ReLU/softmax, cross-entropy, SGD 0.1", results,
                   notes)


def optimizers(setup):
    """The mnist epoch at batch 32 with each optimizer but SGD, each as a ratio to the SGD epoch timed
    beside it, on the compiled backend only (nothing without it: the reference's would take minutes)."""
    title = "the 784-128-10 epoch at batch 32 with each optimizer; ratio: its time over SGD's (compiled only)"
    if "compiled" not in setup.backends:
        return Section("optimizers", title, [], ["skipped: the compiled core did not load"])
    results = []
    for dtype in DTYPES:
        X, y = setup.data.get("train", dtype)
        runs = {name: fit_run("compiled", [784, 128, 10], X, y, dtype, "cross_entropy", make, 32, activation="relu",
                              output="softmax") for name, make in OPTIMIZERS.items()}
        seconds = alternate(runs, setup.repeat)
        for name in OPTIMIZERS:  # SGD's line too: the figure the others are divided by
            results.append(Result(name, dtype, "seconds", compiled=seconds[name], ratio=seconds[name] / seconds["sgd"],
                                  ratio_of="optimizer / sgd"))
    return Section("optimizers", title, results, [])


def inference(setup):
    """net.forward on the test images, FORWARD_CALLS calls a run (rows per second), and on one 1-D row,
    LATENCY_CALLS calls a run (seconds per call), float32 and float64."""
    results = []
    for dtype in DTYPES:
        X, _ = setup.data.get("test", dtype)
        nets = {name: Network([784, 128, 10], dtype=dtype, seed=0, backend=name) for name in setup.backends}
        results.append(compare(setup, lambda name: calls_run(nets[name].forward, X, FORWARD_CALLS),
                               f"{len(X):,} rows per call", dtype, rows=len(X)))
        results.append(compare(setup, lambda name: calls_run(nets[name].forward, X[0], LATENCY_CALLS),
                               "one row (1-D) per call", dtype))
    return Section("inference", "net.forward of 784-128-10 on the test images: throughput, and one row's latency",
                   results, [])


WORKLOADS = {"lesson": lesson, "mnist": mnist, "optimizers": optimizers, "inference": inference}
DATA_KINDS = {"lesson": (), "mnist": ("train",), "optimizers": ("train",), "inference": ("test",)}  # MNIST's


# ----- the machine and the table -------------------------------------------------------------------------
def machine(available):
    """What the figures were measured with: nn, the backends, the processor, its instruction set in use,
    the threads, NumPy."""
    if "compiled" in available:
        core = backends.get("compiled")._core
        simd, backend = SIMD_NAMES[core.simd_level()], "compiled core against the NumPy reference"
    else:  # the instruction set is the core's choice: none without it
        simd, backend = None, "the NumPy reference only"
    return {"nn": __version__, "backend": backend, "processor": processor(), "instruction_set": simd,
            "threads": get_num_threads(), "thread_variables": {name: os.environ.get(name) for name in THREAD_VARIABLES},
            "numpy": np.__version__, "python": platform.python_version()}


def header(info, setup, workloads):
    """The lines above the table: the machine, then the data and how the figures were taken."""
    gender_set = "the lessons' gender set (4 people)"
    data = setup.data.describe() if setup.data.sizes() else gender_set
    if "lesson" in workloads and setup.data.sizes():
        data += f"; {gender_set}"
    runs = "runs" if setup.repeat > 1 else "run"
    each = f"median of {setup.repeat} {runs}" if setup.repeat > 1 else "one run"
    simd = f"instruction set {info['instruction_set']}, " if info["instruction_set"] else ""
    lines = [f"nn {info['nn']}: {info['backend']}; {info['processor']}, {simd}"
             f"{info['threads']} thread{'s' if info['threads'] > 1 else ''}; NumPy {info['numpy']}",
             f"data: {data}",
             f"each figure: {each} after a warm-up" + (", the backends' runs alternating" if len(setup.backends) > 1
                                                        else "")]
    if "compiled" not in setup.backends:
        lines.append(f"the compiled core did not load ({backends.problem('compiled')}): the reference column only")
    else:
        lines.append("speed-up: how many times faster the compiled core is than the reference")
    return lines


def figure(value, unit):
    """A cell: seconds as s, ms or µs, rows a second to 3 significant digits."""
    if unit == "rows/s":
        return f"{float(f'{value:.3g}'):,.0f} rows/s"
    for scale, name in ((1, "s"), (1e-3, "ms"), (1e-6, "µs")):
        if value >= scale or name == "µs":
            shown = value / scale
            return f"{shown:.{2 if shown < 10 else 1 if shown < 100 else 0}f} {name}"


COLUMNS = f"{'':<38}{'compiled':>18}{'reference':>18}{'speed-up':>12}"  # the table's head


def table(section):
    """A workload's part of the table, under COLUMNS: a blank line, its title, a line per case, its notes."""
    lines = ["", f"{section.name:<12}{section.title}"]
    for result in section.results:
        cells = [MISSING if value is None else figure(value, result.unit)
                 for value in (result.compiled, result.reference)]
        if result.skipped:
            cells[1] = SKIPPED
        ratio = "" if result.ratio is None else f"{result.ratio:.1f}x"
        if result.ratio_of == "optimizer / sgd":
            ratio = f"{result.ratio:.2f}x SGD"
        lines.append(f"{'  ' + result.case + ', ' + result.dtype:<38}{cells[0]:>18}{cells[1]:>18}{ratio:>12}")
    return lines + [f"  {note}" for note in section.notes]


# ----- the command -------------------------------------------------------------------------------------
def bench(args):
    """nn bench: the workloads of --only, a table on stdout and, with --json, the results in a file."""
    if args.data is not None:
        check_mnist_folder("--data", args.data)
    if args.json:
        check_new_file("--json", args.json, "bench.json")
    if args.threads is not None and any(os.environ.get(name) != str(args.threads) for name in THREAD_VARIABLES):
        return _run_with_threads(args)
    previous = get_num_threads() if num_threads_is_set() else None
    try:
        if args.threads is not None:
            set_num_threads(args.threads)
        available = backends.available()
        setup = Setup(available, args.repeat, Data(args.data))
        for name in args.only:  # the data first: a bad folder is an error before anything is printed
            for kind in DATA_KINDS[name]:
                setup.data.get(kind, DTYPES[0])
        info = machine(available)
        print("\n".join(header(info, setup, args.only) + ["", COLUMNS]), flush=True)
        sections = []
        for name in args.only:  # each part of the table as soon as it is measured
            sections.append(WORKLOADS[name](setup))
            print("\n".join(table(sections[-1])), flush=True)
    finally:  # main may be called again in this process (the tests do)
        set_num_threads(previous)
    if args.json:
        with open(args.json, "w") as file:
            json.dump(results_json(info, setup, sections), file, indent=1)
        print(f"\nresults written to {args.json}")
    return 0


def results_json(info, setup, sections):
    """The JSON of a run: the machine, the data, --repeat and each workload's results (seconds, or rows
    per second where unit says so; null where a backend did not run)."""
    data = {"folder": setup.data.folder, **{f"{kind}_images": n for kind, n in setup.data.sizes().items()}}
    return {**info, "backends": list(setup.backends), "repeat": setup.repeat, "data": data,
            "workloads": {section.name: {"title": section.title, "notes": section.notes,
                                         "results": [result._asdict() for result in section.results]}
                          for section in sections}}


def _run_with_threads(args):
    """The benchmark in a new process whose BLAS libraries start with --threads threads: its exit status."""
    env = dict(os.environ, **{name: str(args.threads) for name in THREAD_VARIABLES})
    command = [sys.executable, "-m", "nn", "bench", "--repeat", str(args.repeat), "--threads", str(args.threads),
               "--only", ",".join(args.only)]
    command += ["--data", args.data] if args.data is not None else []
    command += ["--json", args.json] if args.json else []
    sys.stdout.flush()
    process = subprocess.Popen(command, env=env)
    while True:
        try:
            return process.wait()
        except KeyboardInterrupt:  # the child has the Ctrl-C too (one process group), says so and exits 130
            continue
