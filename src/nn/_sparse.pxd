"""The interface of nn._sparse (src/nn/_sparse.pyx): a batch's inputs as lists of their nonzeros, and
the first layer's products on them."""
from cython cimport floating

from nn._kernels cimport StepConsts

cdef struct SparseBatch:
    # A batch's inputs as lists of their nonzeros (sparse_rows): row i's at idx / val + i n_in, entries
    # beg[i] .. end[i] - 1; counts: the nonzeros per column of each thread's rows (threads x n_in).
    int* idx
    void* val
    Py_ssize_t* beg
    Py_ssize_t* end
    int* counts

cdef struct Prefetch:
    # Rows of X the next batch reads, asked into the cache a few lines at a time while this batch's
    # update of W_1 runs (prefetch_lines): a shuffled row is a miss to memory, which the update leaves
    # idle. The next batch's lists are then made from the last-level cache (on MNIST, float32, an epoch's
    # lists took 13 ms from memory and 5.7 from cache).
    const char* X
    Py_ssize_t* rows         # X's rows rows[i]
    Py_ssize_t row_bytes
    Py_ssize_t per_row       # cache lines a row spans
    Py_ssize_t lines         # lines to ask for in all (0: nothing)
    Py_ssize_t done          # lines asked for so far

cdef void prefetch_init(Prefetch* p, const void* X, Py_ssize_t row_bytes, Py_ssize_t* rows,
                        Py_ssize_t n) noexcept nogil
cdef void prefetch_lines(Prefetch* p, Py_ssize_t done, Py_ssize_t total) noexcept nogil
cdef void spmm(int* idx, floating* val, Py_ssize_t* beg, Py_ssize_t* end, Py_ssize_t n_lists, floating* B,
               Py_ssize_t ldb, Py_ssize_t N, floating* out, Py_ssize_t ldo, floating alpha, int mode,
               bint portable) noexcept nogil
cdef void sparse_rows(floating* X, Py_ssize_t* rows, Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t n_in, int* idx,
                      floating* val, Py_ssize_t* beg, Py_ssize_t* end, int* counts) noexcept nogil
cdef void sparse_columns(int* counts, int n_counts, Py_ssize_t n_in, int part_i, int parts, Py_ssize_t n,
                         int* idx, floating* val, Py_ssize_t* beg, Py_ssize_t* end, Py_ssize_t* ptr,
                         Py_ssize_t* fill, int* crow, floating* cval, Py_ssize_t* c0, Py_ssize_t* c1) noexcept nogil
cdef void sparse_step(int* crow, floating* cval, Py_ssize_t* ptr, Py_ssize_t c0, Py_ssize_t c1, floating* delta,
                      Py_ssize_t n_out, floating* W, floating* s1, floating* s2, floating* g, Py_ssize_t g_size,
                      unsigned char* zero_rows, StepConsts* consts, Prefetch* pf) noexcept nogil
cdef void zero_state_rows(floating* s1, floating* s2, Py_ssize_t n_rows, Py_ssize_t n_out,
                          unsigned char* zero_rows, bint retest) noexcept nogil
