"""`nn bench`: nn's own workloads, timed from the installed package, the compiled core against the NumPy
reference. The tests shrink the work (a few epochs, 256 images) so that a run takes a second or so; what
they check is the table and the JSON, never a speed (the machines are shared and noisy)."""
import importlib
import json
import os
import re
import subprocess
import sys

import pytest

import nn
import nn.backends
from nn.cli import main, options
from nn.cli.diagnostics import SIMD_NAMES

bench = importlib.import_module("nn.cli.bench")  # the module: nn.cli.bench is the command's function

PEERS = ("torch", "sklearn", "jax", "jaxlib")
IMAGES = 256
ALL = "lesson,mnist,optimizers,inference"
needs_core = pytest.mark.skipif("compiled" not in nn.backends.available(), reason="the compiled core is not built")


@pytest.fixture
def tiny(monkeypatch):
    """Every workload shrunk to a few milliseconds a run."""
    monkeypatch.setattr(bench, "LESSON_EPOCHS", 5)
    monkeypatch.setattr(bench, "MNIST_IMAGES", IMAGES)
    monkeypatch.setattr(bench, "FORWARD_CALLS", 1)
    monkeypatch.setattr(bench, "LATENCY_CALLS", 5)


def nn_bench(capsys, *args):
    """nn.cli.main(["bench", *args]) in this process: (exit status, stdout, stderr)."""
    try:
        status = main(["bench", *map(str, args)])
    except SystemExit as exc:  # argparse's own exits
        status = exc.code
    out, err = capsys.readouterr()
    return status, out, err


def table_rows(out):
    """{section: [[case, compiled, reference, speed-up], ...]} from the table: a section's title line starts
    with its name, its lines with two spaces; cells are at least two spaces apart (a note is one cell)."""
    sections, current = {}, None
    for line in out.splitlines():
        name = line.split(" ", 1)[0]
        if name in options.BENCH_WORKLOADS:
            current = sections.setdefault(name, [])
        elif current is not None and line.startswith("  ") and len(re.split(r"\s{2,}", line.strip())) > 1:
            current.append(re.split(r"\s{2,}", line.strip()))
    return sections


def test_the_workloads_are_the_options_names():
    assert list(bench.WORKLOADS) == list(options.BENCH_WORKLOADS)


@needs_core
def test_every_workload_gives_its_table_rows_and_json(tmp_path, capsys, tiny):
    written = tmp_path / "bench.json"
    status, out, err = nn_bench(capsys, "--repeat", 1, "--only", ALL, "--json", written)
    assert (status, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].startswith(f"nn {nn.__version__}: compiled core against the NumPy reference; "
                               f"{bench.processor()}, instruction set ")
    assert any(name in lines[0] for name in SIMD_NAMES) and f"NumPy {__import__('numpy').__version__}" in lines[0]
    threads = nn.get_num_threads()
    assert f", {threads} thread{'s' if threads > 1 else ''};" in lines[0]
    assert lines[1] == (f"data: the bundled MNIST sample ({IMAGES} training and {IMAGES} test images); "
                        "the lessons' gender set (4 people)")
    assert lines[2] == "each figure: one run after a warm-up, the backends' runs alternating"
    assert lines[-1] == f"results written to {written}"

    rows = table_rows(out)
    assert list(rows) == ["lesson", "mnist", "optimizers", "inference"]
    assert [row[0] for row in rows["lesson"]] == ["5 epochs (20 steps), float64"]
    assert [row[0] for row in rows["mnist"]] == [f"batch {b}, {d}" for b in (32, 128) for d in ("float32", "float64")]
    assert [row[0] for row in rows["optimizers"]] == [f"{o}, {d}" for d in ("float32", "float64")
                                                      for o in ("sgd", "momentum", "rmsprop", "adam")]
    assert [row[0] for row in rows["inference"]] == [f"{case}, {d}" for d in ("float32", "float64") for case in
                                                     (f"{IMAGES} rows per call", "one row (1-D) per call")]
    for section in ("lesson", "mnist", "inference"):
        for case, compiled, reference, speedup in rows[section]:
            assert re.fullmatch(r"[\d.,]+ (s|ms|µs|rows/s)", compiled) and re.fullmatch(r"[\d.,]+ (s|ms|µs|rows/s)",
                                                                                         reference), case
            assert float(speedup.rstrip("x")) > 0
    assert all(row[1].endswith("s") and row[2] == "-" and row[3].endswith("x SGD") for row in rows["optimizers"])
    assert [row[3] for row in rows["optimizers"][::4]] == ["1.00x SGD"] * 2  # sgd's own
    assert all(row[-2].endswith("rows/s") for row in rows["inference"][::2])

    results = json.loads(written.read_text())
    assert results["nn"] == nn.__version__ and results["repeat"] == 1 and results["threads"] == threads
    assert results["backends"] == ["compiled", "reference"] and results["instruction_set"] in SIMD_NAMES
    assert results["data"] == {"folder": None, "train_images": IMAGES, "test_images": IMAGES}
    assert list(results["workloads"]) == ["lesson", "mnist", "optimizers", "inference"]
    for name, workload in results["workloads"].items():
        assert len(workload["results"]) == len(rows[name])
        for result in workload["results"]:
            assert result["compiled"] > 0 and result["ratio"] > 0
            if name == "optimizers":
                assert result["reference"] is None and result["ratio_of"] == "optimizer / sgd"
            else:
                assert result["reference"] > 0 and not result["skipped"]
    units = [result["unit"] for result in results["workloads"]["inference"]["results"]]
    assert units == ["rows/s", "seconds"] * 2


@needs_core
def test_only_runs_the_workloads_named_in_their_order_and_writes_no_json_unasked(tmp_path, capsys, tiny,
                                                                                monkeypatch):
    monkeypatch.chdir(tmp_path)
    status, out, _ = nn_bench(capsys, "--repeat", 2, "--only", "inference,lesson")
    assert status == 0
    assert list(table_rows(out)) == ["lesson", "inference"]
    assert "median of 2 runs after a warm-up" in out and "results written" not in out
    assert os.listdir(tmp_path) == []


@needs_core
def test_the_reference_is_skipped_on_large_data_and_the_table_says_so(tmp_path, capsys, tiny, monkeypatch):
    monkeypatch.setattr(bench, "REFERENCE_MAX_IMAGES", IMAGES - 1)
    written = tmp_path / "bench.json"
    status, out, _ = nn_bench(capsys, "--repeat", 1, "--only", "mnist", "--json", written)
    assert status == 0
    assert all(row[2] == "skipped" and len(row) == 3 for row in table_rows(out)["mnist"])
    assert f"reference skipped: nn bench runs its epochs on at most {IMAGES - 1} images, to keep the run short " \
           f"({IMAGES} here)" in out
    results = json.loads(written.read_text())["workloads"]["mnist"]["results"]
    assert all(r["skipped"] and r["reference"] is None and r["compiled"] > 0 for r in results)


def test_without_the_compiled_core_the_reference_runs_alone_and_says_so(tmp_path, capsys, tiny, monkeypatch):
    monkeypatch.setattr(nn.backends, "available", lambda: ("reference",))
    monkeypatch.setattr(nn.backends, "problem", lambda name: "ImportError: no core here")
    written = tmp_path / "bench.json"
    status, out, _ = nn_bench(capsys, "--repeat", 1, "--only", "lesson,optimizers,inference", "--json", written)
    assert status == 0
    assert out.startswith(f"nn {nn.__version__}: the NumPy reference only; ") and "instruction set" not in out
    assert "the compiled core did not load (ImportError: no core here): the reference column only" in out
    rows = table_rows(out)
    assert rows["optimizers"] == [] and "\n  skipped: the compiled core did not load\n" in out
    assert all(row[1] == "-" and len(row) == 3 for name in ("lesson", "inference") for row in rows[name])
    results = json.loads(written.read_text())
    assert results["backends"] == ["reference"] and results["instruction_set"] is None
    assert all(r["compiled"] is None and r["reference"] > 0 and r["ratio"] is None
               for r in results["workloads"]["inference"]["results"])


@pytest.mark.parametrize("args, message", [
    (("--only", "lesson,fast"), "--only: unknown workload 'fast'; expected a comma-separated list of lesson, "
                                "mnist, optimizers, inference"),
    (("--only", ","), "--only: no workload in ','; expected a comma-separated list of lesson, mnist, optimizers, "
                      "inference"),
    (("--only", "W1"), "--only: unknown workload 'W1'"),
    (("--repeat", "0"), "--repeat: must be >= 1, got 0"),
    (("--threads", "two"), "--threads: must be an integer, got 'two'"),
    (("--data", "no-such-folder"), "--data: folder 'no-such-folder' does not exist"),
])
def test_a_bad_option_is_one_line_and_exit_2(capsys, args, message):
    status, out, err = nn_bench(capsys, *args)
    assert (status, out) == (2, "")
    assert err.startswith(f"nn bench: error: {message}") and err.count("\n") == 1


def test_a_data_path_that_is_no_mnist_folder_is_one_line_before_anything_is_printed(tmp_path, capsys):
    (tmp_path / "file").write_text("not a folder")
    (tmp_path / "empty").mkdir()
    status, out, err = nn_bench(capsys, "--data", tmp_path / "file")
    assert (status, out) == (2, "")
    assert err == f"nn bench: error: --data: {str(tmp_path / 'file')!r} is a file; give a folder of MNIST IDX files\n"
    status, out, err = nn_bench(capsys, "--data", tmp_path / "empty", "--only", "lesson,inference")
    assert (status, out) == (2, "")
    assert err.startswith("nn bench: error: ") and "(MNIST IDX files)" in err and err.count("\n") == 1


def test_json_into_a_folder_is_refused_before_anything_runs(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(bench, "WORKLOADS", {})  # a KeyError if it got that far
    status, out, err = nn_bench(capsys, "--json", tmp_path)
    assert (status, out) == (2, "")
    assert err == f"nn bench: error: --json: {str(tmp_path)!r} is a folder; give a file name, e.g. " \
                  f"{os.path.join(str(tmp_path), 'bench.json')!r}\n"


def test_the_help_lists_bench(capsys):
    try:
        main(["--help"])
    except SystemExit:
        pass
    assert "time nn's own workloads" in " ".join(capsys.readouterr().out.split())


# A new interpreter that records every import a peer library would need, found or not (the peers may be
# installed here: they must not be asked for), then runs every workload, tiny.
RECORD_AND_RUN = r"""
import importlib.abc, json, sys

PEERS = tuple(sys.argv[1].split(","))
asked = []


class Record(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if fullname.partition(".")[0] in PEERS or fullname == "peers":
            asked.append(fullname)
        return None


sys.meta_path.insert(0, Record())
from nn.cli import main
bench = sys.modules["nn.cli.bench"]
bench.LESSON_EPOCHS, bench.MNIST_IMAGES, bench.FORWARD_CALLS, bench.LATENCY_CALLS = 2, 64, 1, 2
status = main(["bench", "--repeat", "1", "--only", sys.argv[2]])
loaded = [name for name in sys.modules if name.partition(".")[0] in PEERS]
print(json.dumps({"status": status, "asked": asked, "loaded": loaded}))
"""


def test_nn_bench_imports_no_peer_library():
    result = subprocess.run([sys.executable, "-c", RECORD_AND_RUN, ",".join(PEERS), ALL], capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == {"status": 0, "asked": [], "loaded": []}
    assert "\nlesson " in result.stdout and "\ninference " in result.stdout


def test_threads_runs_the_benchmark_in_a_process_whose_blas_starts_with_that_many(tmp_path):
    """BLAS reads its thread count when it loads: without the variables set, --threads N runs nn bench
    again in a new process with them set (N threads for nn too)."""
    written = tmp_path / "bench.json"
    env = {name: value for name, value in os.environ.items() if name not in bench.THREAD_VARIABLES}
    result = subprocess.run([sys.executable, "-m", "nn", "bench", "--threads", "1", "--repeat", "1", "--only",
                             "lesson", "--json", str(written)], capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr
    results = json.loads(written.read_text())
    assert results["threads"] == 1 and results["thread_variables"] == dict.fromkeys(bench.THREAD_VARIABLES, "1")
    assert ", 1 thread;" in result.stdout.splitlines()[0]


@pytest.mark.parametrize("gap", [0.0, 0.25])
def test_alternate_takes_medians_of_rounds_in_turn_and_sleeps_the_gap_before_each_timed_run(monkeypatch, gap):
    """alternate: a warm-up call of each, then `repeat` rounds of all in turn; with a gap, a sleep of it
    before each timed call (not the warm-ups), so that threads the call before left spinning are idle."""
    events = []
    monkeypatch.setattr(bench.time, "sleep", lambda seconds: events.append(("sleep", seconds)))
    values = {"a": iter([9.0, 1.0, 3.0, 2.0]), "b": iter([9.0, 5.0, 4.0, 6.0])}

    def make(name):
        def run():
            events.append(("run", name))
            return next(values[name])
        return run
    medians = bench.alternate({"a": make("a"), "b": make("b")}, 3, gap=gap)
    assert medians == {"a": 2.0, "b": 5.0}  # the warm-ups (9.0) are not counted
    timed = [("run", "a"), ("run", "b")] * 3
    if gap:
        timed = [e for pair in zip([("sleep", gap)] * 6, timed) for e in pair]
    assert events == [("run", "a"), ("run", "b")] + timed
