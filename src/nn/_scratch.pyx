# cython: language_level=3
"""nn._scratch: what a training call writes besides theta, the optimizer's state and its results (the
Scratch of nn._train), allocated once per network, batch size and thread count; nn._core.TrainScratch
owns one."""
from libc.stdlib cimport calloc, free, malloc
from libc.string cimport memset
from cpython.pyport cimport PY_SSIZE_T_MAX

from nn._train cimport Scratch, Worker

# The fused step (sparse_update with the step's constants) makes W_1's gradient this many elements at a
# time (whole rows; one row if a row is longer): 16 KB in float64, in the first-level cache while the step
# reads it.
cdef Py_ssize_t STEP_BLOCK = 2048


# ----- the scratch ----------------------------------------------------------------------------------
cdef int scratch_init(Scratch* s, Py_ssize_t work_size, Py_ssize_t n_params, Py_ssize_t n_in,
                      Py_ssize_t n_hidden, Py_ssize_t batch_size, int threads, bint sparse,
                      bint is_double) noexcept nogil:
    """Allocate s (zeroed by the caller) for these sizes (the caller checked that none overflows):
    0, or -1 when memory runs out (s is then freed)."""
    cdef size_t item = sizeof(double) if is_double else sizeof(float)
    cdef int i
    cdef bint ok
    s.work_size, s.n_params, s.n_in, s.batch_size = work_size, n_params, n_in, batch_size
    s.threads, s.sparse, s.is_double = threads, sparse, is_double
    s.work = malloc(max(work_size, 1) * item)
    s.grad = malloc(n_params * item)
    s.loss_part = <double*>malloc(threads * sizeof(double))
    s.norm_part = <double*>malloc(threads * sizeof(double))
    s.correct_part = <Py_ssize_t*>malloc(threads * sizeof(Py_ssize_t))
    s.theta_finite = <bint*>malloc(threads * sizeof(bint))
    s.marks = malloc(threads * n_in * item)
    s.cols = <Py_ssize_t*>malloc(threads * n_in * sizeof(Py_ssize_t))
    s.workers = <Worker*>calloc(threads, sizeof(Worker))
    ok = (s.work != NULL and s.grad != NULL and s.loss_part != NULL and s.norm_part != NULL and s.correct_part != NULL
          and s.theta_finite != NULL and s.marks != NULL and s.cols != NULL and s.workers != NULL)
    if sparse:
        for i in range(2):
            s.lists[i].idx = <int*>malloc(batch_size * n_in * sizeof(int))
            s.lists[i].val = malloc(batch_size * n_in * item)
            s.lists[i].beg = <Py_ssize_t*>malloc(batch_size * sizeof(Py_ssize_t))
            s.lists[i].end = <Py_ssize_t*>malloc(batch_size * sizeof(Py_ssize_t))
            s.lists[i].counts = <int*>malloc(threads * n_in * sizeof(int))
            ok = ok and (s.lists[i].idx != NULL and s.lists[i].val != NULL and s.lists[i].beg != NULL
                         and s.lists[i].end != NULL and s.lists[i].counts != NULL)
        s.sp_ptr = <Py_ssize_t*>malloc(threads * (n_in + 1) * sizeof(Py_ssize_t))
        s.sp_fill = <Py_ssize_t*>malloc(threads * n_in * sizeof(Py_ssize_t))
        s.sp_crow = <int*>malloc(batch_size * n_in * sizeof(int))
        s.sp_cval = malloc(batch_size * n_in * item)
        s.zero_rows = <unsigned char*>malloc(max(n_in, 1))
        s.step_size = max(STEP_BLOCK, n_hidden)
        if s.step_size <= PY_SSIZE_T_MAX // <Py_ssize_t>item // threads:  # else too large: out of memory
            s.step_rows = malloc(threads * s.step_size * item)
        ok = (ok and s.sp_ptr != NULL and s.sp_fill != NULL and s.sp_crow != NULL and s.sp_cval != NULL
              and s.step_rows != NULL and s.zero_rows != NULL)
    if not ok:
        scratch_free(s)
        return -1
    return 0


cdef void scratch_free(Scratch* s) noexcept nogil:
    """Free what scratch_init allocated (any of it NULL); s can be initialised again."""
    cdef int i
    free(s.work)
    free(s.grad)
    free(s.loss_part)
    free(s.norm_part)
    free(s.correct_part)
    free(s.theta_finite)
    free(s.marks)
    free(s.cols)
    free(s.workers)
    for i in range(2):
        free(s.lists[i].idx)
        free(s.lists[i].val)
        free(s.lists[i].beg)
        free(s.lists[i].end)
        free(s.lists[i].counts)
    free(s.sp_ptr)
    free(s.sp_fill)
    free(s.sp_crow)
    free(s.sp_cval)
    free(s.step_rows)
    free(s.zero_rows)
    memset(s, 0, sizeof(Scratch))
