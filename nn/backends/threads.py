"""How many threads the compiled backend trains with: ``set_num_threads`` and ``get_num_threads``
(``nn.set_num_threads``, ``nn.get_num_threads``).

The setting lives here, beside the compiled backend rather than in it, so that it can be read and set
without loading the core: ``import nn`` never loads it, and without it the names still work. The
reference backend trains on one thread whatever this says (NumPy's BLAS has threads of its own, which
threadpoolctl sets); the compiled backend splits a batch between up to this many threads (see
nn.backends.compiled.team_size) and sets its BLAS to one thread while they run.
"""
import os

from ..validation import check_int
from . import get, problem

_threads = None  # set_num_threads's value


def set_num_threads(n):
    """The number of threads the compiled backend trains with; None restores the default (see
    get_num_threads)."""
    global _threads
    _threads = check_int("n", n, low=1, allow_none=True)


def get_num_threads():
    """The number of threads the compiled backend trains with: set_num_threads's value, else
    $NN_NUM_THREADS, else as many as its BLAS is set to use at this moment ($OPENBLAS_NUM_THREADS, by
    default all cores; threadpoolctl.threadpool_limits and joblib's workers lower it, and nn follows:
    n_jobs=2 on 2 cores never runs 4 busy threads). Small batches of small networks train on one thread
    whatever this says: see nn.backends.compiled.team_size. Without the compiled core, 1 (the reference
    backend trains on one thread; NumPy's BLAS has its own)."""
    if _threads is not None:
        return _threads
    env = os.environ.get("NN_NUM_THREADS", "").strip()
    if env:
        if not env.isdigit() or int(env) < 1:
            raise ValueError(f"NN_NUM_THREADS must be a whole number >= 1, got {env!r}")
        return int(env)
    return 1 if problem("compiled") is not None else get("compiled").blas_threads()


def num_threads_is_set():
    """Whether the thread count was chosen (set_num_threads or $NN_NUM_THREADS) rather than defaulted: a
    chosen count is kept for the whole of a fit; the default one backs off to a single thread on a busy
    machine (see nn.backends.compiled.BACK_OFF)."""
    return _threads is not None or bool(os.environ.get("NN_NUM_THREADS", "").strip())
