# cython: language_level=3
"""nn._infer: a network's outputs for many rows (nn._core.forward_output), the twin of the reference's
forward (nn.backends.reference.forward, its last layer).

The rows go in blocks of `block` (the layout's batch): each block is optionally turned into lists of
its rows' nonzeros (nn._sparse: for inputs that are mostly zeros, the first layer then reads only W_1's
rows in use, its sums kept in registers; a wide W_1 is read a packed slice of columns at a time, which
stays in cache), checked for inf and NaN (on its lists, when it has them: X is read once), run forward
through every layer (nn._passes.forward_rows), and its output rows copied out. A team of threads
(src/nn_team.h) takes the blocks one at a time from a shared counter (a slower core takes fewer), each
thread with scratch of its own, so the blocks' answers do not depend on the thread count or on which
thread ran them. The products call BLAS from every thread: the caller sets it to one thread meanwhile.
"""
from cython cimport floating
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy, memset

from nn._kernels cimport all_finite
from nn._passes cimport Net, forward_rows, pack_slices, slice_columns
from nn._sparse cimport SparseBatch, sparse_rows

cdef extern from "nn_team.h":
    ctypedef void (*nn_team_body)(void* arg, int index, int size) noexcept nogil
    int nn_run_team(nn_team_body body, void* arg, int n) nogil
    void nn_store(int* p, int v) nogil
    int nn_load(int* p) nogil
    long long nn_fetch_add(long long* p, long long v) nogil
    void nn_team_last_call(int* steered, int* caller_cpu, int* woke_on) nogil


# W_1 is packed for calls of at least this many rows: packing copies W_1 once, the rows read it (n_in x
# n_out against rows x nonzeros x n_out); a call of a few rows (latency) reads W_1 in place.
cdef Py_ssize_t PACK_MIN_ROWS = 64


cdef struct Inference:
    Net* net
    void* theta
    void* X                  # n x sizes[0], only read
    void* out                # n x sizes[L]
    Py_ssize_t n, block, work_size
    bint lists, is_double
    void* W1_slices          # lists, W_1 wider than two slices: W_1 packed by slices (pack_slices), or NULL
    int failed               # 0; 1: a block holds inf or NaN; 2: a thread's scratch could not be had
    long long next_block     # the next block a thread takes (nn_fetch_add)


cdef int run_inference(Net* net, void* theta, void* X, void* out, Py_ssize_t n, Py_ssize_t block,
                       Py_ssize_t work_size, bint lists, bint is_double, int threads) noexcept nogil:
    """out = the output layer for the n rows of X, in blocks of `block` rows (work_size: the scratch of
    an inference layout of that batch, already checked), on up to `threads` threads (at most one per
    block). Returns 0; 1 when X holds an inf or NaN (out is then incomplete); 2 when memory ran out."""
    cdef Inference job
    cdef Py_ssize_t blocks = (n + block - 1) // block, n_in = net.sizes[0], n_out = net.sizes[1]
    cdef size_t item = sizeof(double) if is_double else sizeof(float)
    job.net, job.theta, job.X, job.out = net, theta, X, out
    job.n, job.block, job.work_size, job.lists, job.is_double, job.failed = n, block, work_size, lists, is_double, 0
    job.W1_slices, job.next_block = NULL, 0
    if lists and n >= PACK_MIN_ROWS and slice_columns(n_out, item) < n_out:  # W_1's size: it is in theta
        job.W1_slices = malloc(n_in * n_out * item)
        if job.W1_slices == NULL:
            return 2
        if is_double:
            pack_slices(<double*>theta + net.w_off[0], n_in, n_out, <double*>job.W1_slices)
        else:
            pack_slices(<float*>theta + net.w_off[0], n_in, n_out, <float*>job.W1_slices)
    if threads > blocks:
        threads = <int>blocks
    if threads <= 1:
        inference_body(&job, 0, 1)
    else:
        nn_run_team(inference_body, &job, threads)
    free(job.W1_slices)
    return job.failed


cdef void inference_body(void* arg, int index, int size) noexcept nogil:
    cdef Inference* job = <Inference*>arg
    if job.is_double:
        infer_blocks(job, <double*>job.X, index, size)
    else:
        infer_blocks(job, <float*>job.X, index, size)


cdef void infer_blocks(Inference* job, floating* X, int index, int size) noexcept nogil:
    """Thread `index` of `size`, with its own scratch: the next block not yet taken, until none is left
    (a core that runs slower, another process on it, takes fewer), or a block holds inf or NaN."""
    cdef Net* net = job.net
    cdef Py_ssize_t n_in = net.sizes[0], k = net.sizes[net.n_layers], block = job.block
    cdef Py_ssize_t blocks = (job.n + block - 1) // block, b, r, rows, i
    cdef bint finite
    cdef floating* out = <floating*>job.out
    cdef floating* A
    cdef floating* work = <floating*>malloc(max(job.work_size, 1) * sizeof(floating))
    cdef SparseBatch sp
    cdef bint ok = work != NULL
    memset(&sp, 0, sizeof(SparseBatch))
    if ok and job.lists:  # block x n_in entries: the caller checked that the product does not overflow
        sp.idx = <int*>malloc(block * n_in * sizeof(int))
        sp.val = malloc(block * n_in * sizeof(floating))
        sp.beg = <Py_ssize_t*>malloc(block * sizeof(Py_ssize_t))
        sp.end = <Py_ssize_t*>malloc(block * sizeof(Py_ssize_t))
        ok = sp.idx != NULL and sp.val != NULL and sp.beg != NULL and sp.end != NULL
    if not ok:
        nn_store(&job.failed, 2)
    else:
        while True:
            b = <Py_ssize_t>nn_fetch_add(&job.next_block, 1)
            if b >= blocks or nn_load(&job.failed) != 0:
                break
            r = b * block
            rows = min(block, job.n - r)
            if job.lists:
                # the lists hold every value that is not zero, inf and NaN included: X is read once
                sparse_rows(X + r * n_in, NULL, 0, rows, n_in, sp.idx, <floating*>sp.val, sp.beg, sp.end, NULL)
                finite = True
                for i in range(rows):
                    finite = finite and all_finite(<floating*>sp.val + sp.beg[i], sp.end[i] - sp.beg[i])
            else:
                finite = all_finite(X + r * n_in, rows * n_in)
            if not finite:
                nn_store(&job.failed, 1)
                break
            A = forward_rows(net, <floating*>job.theta, work, X + r * n_in, n_in, 0, rows, &sp if job.lists else NULL,
                             NULL, <floating*>job.W1_slices)
            memcpy(out + r * k, A, rows * k * sizeof(floating))
    free(work)
    free(sp.idx)
    free(sp.val)
    free(sp.beg)
    free(sp.end)


def _team_last_call():
    """For the tests: (steered, caller_cpu, woke_on) of the last inference call that used the thread
    pool (src/nn_team.h, nn_team_last_call): whether its thread was sent off the caller's processor, the
    caller's processor and the one thread 1 woke on (-1 when not known: no pool, or not Linux)."""
    cdef int steered, caller_cpu, woke_on
    nn_team_last_call(&steered, &caller_cpu, &woke_on)
    return bool(steered), caller_cpu, woke_on
