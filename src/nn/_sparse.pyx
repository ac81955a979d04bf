# cython: language_level=3
"""nn._sparse: the first layer of training on inputs that are mostly zeros (MNIST: 19% nonzero). A
batch's rows become lists of their nonzeros (sparse_rows); the forward product runs on those lists
(spmm), and W_1's update on the same nonzeros listed by column (sparse_columns), the columns cut between
a team's threads by nonzero count; for the optimizers with a step, that step fused in (sparse_step).
The kernels are C, in src/nn_sparse.h (AVX-512, or AVX2 / FMA, when the processor has them, else
portable loops). The NumPy twin is the dense product (nn.functions); the
tests pair them through ``sparse_matmul``.
"""
from cython cimport floating
from libc.limits cimport INT_MAX
from libc.math cimport signbit
from libc.stdlib cimport malloc, free
from libc.string cimport memset

from nn._kernels cimport StepConsts, simd, step_with, times

cdef extern from "nn_sparse.h":
    bint nn_cpu_has_avx2_fma() nogil
    void nn_spmm_portable_d(int* idx, double* val, Py_ssize_t* beg, Py_ssize_t* end, Py_ssize_t n_lists, double* B,
                            Py_ssize_t ldb, Py_ssize_t N, double* out, Py_ssize_t ldo, double alpha, int mode) nogil
    void nn_spmm_portable_f(int* idx, float* val, Py_ssize_t* beg, Py_ssize_t* end, Py_ssize_t n_lists, float* B,
                            Py_ssize_t ldb, Py_ssize_t N, float* out, Py_ssize_t ldo, float alpha, int mode) nogil
    void nn_spmm_avx2_d(int* idx, double* val, Py_ssize_t* beg, Py_ssize_t* end, Py_ssize_t n_lists, double* B,
                        Py_ssize_t ldb, Py_ssize_t N, double* out, Py_ssize_t ldo, double alpha, int mode) nogil
    void nn_spmm_avx2_f(int* idx, float* val, Py_ssize_t* beg, Py_ssize_t* end, Py_ssize_t n_lists, float* B,
                        Py_ssize_t ldb, Py_ssize_t N, float* out, Py_ssize_t ldo, float alpha, int mode) nogil
    void nn_prefetch_line(const void* p) nogil
    bint nn_all_plus_zero_d(const double* x, Py_ssize_t n) nogil
    bint nn_all_plus_zero_f(const float* x, Py_ssize_t n) nogil
    Py_ssize_t nn_list_row_avx512_d(const double* row, Py_ssize_t n, int* idx, double* val) nogil
    Py_ssize_t nn_list_row_avx512_f(const float* row, Py_ssize_t n, int* idx, float* val) nogil
    void nn_spmm_avx512_d(int* idx, double* val, Py_ssize_t* beg, Py_ssize_t* end, Py_ssize_t n_lists, double* B,
                          Py_ssize_t ldb, Py_ssize_t N, double* out, Py_ssize_t ldo, double alpha, int mode) nogil
    void nn_spmm_avx512_f(int* idx, float* val, Py_ssize_t* beg, Py_ssize_t* end, Py_ssize_t n_lists, float* B,
                          Py_ssize_t ldb, Py_ssize_t N, float* out, Py_ssize_t ldo, float alpha, int mode) nogil

cdef extern from "nn_team.h":
    const int NN_MAX_THREADS  # a team's threads: the parts sparse_matmul cuts columns into, as they do

# Whether this processor runs the AVX2 / FMA sparse kernels (else only their portable twins exist).
SPARSE_KERNELS = bool(nn_cpu_has_avx2_fma())
cdef bint HAS_AVX2 = SPARSE_KERNELS
# At most this many cache lines (512 KB) of the next batch are asked for by one thread: wide inputs would
# otherwise push the rows being stepped out of the cache (MNIST's batch of 32 float64 rows: 3,136 lines).
cdef Py_ssize_t PREFETCH_LINES = 8192


cdef void spmm(int* idx, floating* val, Py_ssize_t* beg, Py_ssize_t* end, Py_ssize_t n_lists, floating* B,
               Py_ssize_t ldb, Py_ssize_t N, floating* out, Py_ssize_t ldo, floating alpha, int mode,
               bint portable) noexcept nogil:
    """For each list j of (index, value) pairs (entries beg[j] .. end[j] - 1 of idx, val), s = the sum of
    value * B[index, 0:N] (B's rows ldb apart); mode 0: out[j] = s (zeros for an empty list), mode 1:
    out[j] += alpha s. Rows of out ldo apart. AVX-512 or AVX2 with FMA when the processor has them (and
    nn._kernels.simd_level allows them), unless portable. The AVX2 and AVX-512 forms add the same FMAs in
    the same order (except the AVX2 form's last N % 32 columns in float64, N % 64 in float32: portable)."""
    cdef int level = 0 if portable or not HAS_AVX2 else simd()
    if floating is double:
        if level == 2:
            nn_spmm_avx512_d(idx, val, beg, end, n_lists, B, ldb, N, out, ldo, alpha, mode)
        elif level == 1:
            nn_spmm_avx2_d(idx, val, beg, end, n_lists, B, ldb, N, out, ldo, alpha, mode)
        else:
            nn_spmm_portable_d(idx, val, beg, end, n_lists, B, ldb, N, out, ldo, alpha, mode)
    else:
        if level == 2:
            nn_spmm_avx512_f(idx, val, beg, end, n_lists, B, ldb, N, out, ldo, alpha, mode)
        elif level == 1:
            nn_spmm_avx2_f(idx, val, beg, end, n_lists, B, ldb, N, out, ldo, alpha, mode)
        else:
            nn_spmm_portable_f(idx, val, beg, end, n_lists, B, ldb, N, out, ldo, alpha, mode)


cdef void sparse_rows(floating* X, Py_ssize_t* rows, Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t n_in, int* idx,
                      floating* val, Py_ssize_t* beg, Py_ssize_t* end, int* counts) noexcept nogil:
    """Rows r0..r1 of a batch (row i is X[rows[i]], or X[i] if rows is NULL) as lists of their nonzeros
    in column order: row i's at idx / val + i n_in, entries beg[i] .. end[i] - 1. counts[k] (n_in of
    them, zeroed here; NULL: not counted) = the nonzeros these rows have in column k. With AVX-512 a
    row is compress-stored a vector at a time (nn_sparse.h), else this loop runs."""
    cdef Py_ssize_t i, k, c
    cdef floating* row
    cdef floating a
    cdef bint compress = HAS_AVX2 and simd() == 2
    if counts != NULL:
        memset(counts, 0, n_in * sizeof(int))
    for i in range(r0, r1):
        row = X + (rows[i] if rows != NULL else i) * n_in
        c = i * n_in
        beg[i] = c
        if compress:
            if floating is double:
                c += nn_list_row_avx512_d(row, n_in, idx + c, val + c)
            else:
                c += nn_list_row_avx512_f(row, n_in, idx + c, val + c)
        else:
            for k in range(n_in):  # branch-free: every value is written, the position only moves past nonzeros
                a = row[k]
                idx[c] = <int>k
                val[c] = a
                c += a != 0
        end[i] = c
        if counts != NULL:
            for k in range(beg[i], c):
                counts[idx[k]] += 1


cdef inline Py_ssize_t column_cut(Py_ssize_t* ptr, Py_ssize_t n_in, int t, int parts) noexcept nogil:
    """Where part t of `parts` starts: the first column with at least total t / parts nonzeros before it
    (ptr[k]: the nonzeros in columns before k, ptr[n_in] the total); 0 for t = 0, n_in for t = parts."""
    cdef Py_ssize_t k = 0, target
    if t >= parts:
        return n_in
    target = ptr[n_in] * t // parts
    while ptr[k] < target:
        k += 1
    return k


cdef void sparse_columns(int* counts, int n_counts, Py_ssize_t n_in, int part_i, int parts, Py_ssize_t n,
                         int* idx, floating* val, Py_ssize_t* beg, Py_ssize_t* end, Py_ssize_t* ptr,
                         Py_ssize_t* fill, int* crow, floating* cval, Py_ssize_t* c0, Py_ssize_t* c1) noexcept nogil:
    """After sparse_rows of all n rows (column counts in n_counts arrays of n_in): the columns of part
    part_i of `parts`, c0..c1, cut so that every part holds about as many nonzeros, as lists of (row,
    value) in row order: column k's are entries ptr[k] .. ptr[k + 1] - 1 of crow / cval (ptr holds n_in +
    1 offsets; the parts write disjoint ranges of crow / cval). fill: scratch of n_in."""
    cdef Py_ssize_t k, total = 0, i, e, lo, hi, mid, q
    cdef int t
    for k in range(n_in):
        ptr[k] = total
        for t in range(n_counts):
            total += counts[t * n_in + k]
    ptr[n_in] = total
    c0[0] = column_cut(ptr, n_in, part_i, parts)
    c1[0] = column_cut(ptr, n_in, part_i + 1, parts)
    for k in range(c0[0], c1[0]):
        fill[k] = ptr[k]
    for i in range(n):
        lo, hi = beg[i], end[i]  # the row's first entry at column >= c0
        while lo < hi:
            mid = (lo + hi) // 2
            if idx[mid] < c0[0]:
                lo = mid + 1
            else:
                hi = mid
        e = lo
        while e < end[i] and idx[e] < c1[0]:
            q = fill[idx[e]]
            fill[idx[e]] = q + 1
            crow[q] = <int>i
            cval[q] = val[e]
            e += 1


cdef void sparse_step(int* crow, floating* cval, Py_ssize_t* ptr, Py_ssize_t c0, Py_ssize_t c1, floating* delta,
                      Py_ssize_t n_out, floating* W, floating* s1, floating* s2, floating* g, Py_ssize_t g_size,
                      unsigned char* zero_rows, StepConsts* consts, Prefetch* pf) noexcept nogil:
    """The fused step of W_1's rows c0..c1 (W, n_out columns; the optimizer's state s1 / s2 laid out alike,
    or NULL): their gradient, A_0^T delta (the columns' lists crow / cval, ptr: sparse_columns), made a
    block of whole rows at a time into g (g_size elements, at least one row), and the optimizer's step
    taken on those rows while they are in cache: one pass over W_1 and its state, the same numbers as
    the step from the whole gradient. Rows the step would leave exactly as they are are skipped: their
    column has no nonzero this batch (a zero gradient) and zero_rows says their state is +0 (see
    zero_state_rows; a row stepped here is no longer known to be, and its flag is cleared). Between rows,
    pf's share of the next batch's rows is asked into the cache (prefetch_lines)."""
    cdef Py_ssize_t block = max(1, g_size // max(n_out, 1)), c = c0, e, r, o
    cdef bint may_skip = consts.wd == 0 and s1 != NULL and zero_step_is_none(consts, g)
    while c < c1:
        if may_skip and untouched(ptr, c, zero_rows):
            c += 1
            continue
        e = c + 1  # a run of rows to step, up to a block
        while e < c1 and e - c < block and not (may_skip and untouched(ptr, e, zero_rows)):
            e += 1
        spmm(crow, cval, ptr + c, ptr + c + 1, e - c, delta, n_out, n_out, g, n_out, 1, 0, False)
        for r in range(c, e):  # a row at a time, the next batch's rows asked for in between
            o = r * n_out
            step_with(consts, W + o, g + (r - c) * n_out, s1 + o if s1 != NULL else NULL,
                      s2 + o if s2 != NULL else NULL, n_out)
            prefetch_lines(pf, r + 1 - c0, c1 - c0)
        memset(zero_rows + c, 0, e - c)
        c = e
    prefetch_lines(pf, 1, 1)  # (rows skipped at the end)


cdef void prefetch_init(Prefetch* p, const void* X, Py_ssize_t row_bytes, Py_ssize_t* rows,
                        Py_ssize_t n) noexcept nogil:
    """p for X's rows rows[0 .. n - 1] (rows NULL or n 0: nothing), row_bytes each, none asked for yet."""
    p.X, p.rows, p.row_bytes, p.done = <const char*>X, rows, row_bytes, 0
    p.per_row = (row_bytes + 63) // 64
    p.lines = min(n * p.per_row, PREFETCH_LINES) if rows != NULL else 0


cdef void prefetch_lines(Prefetch* p, Py_ssize_t done, Py_ssize_t total) noexcept nogil:
    """With `done` of `total` pieces of other work done, ask for as big a share of the rows' cache lines
    (those not asked for yet, in order). A hint: nothing waits for them; spread out between pieces of
    work, they do not queue up behind each other."""
    cdef Py_ssize_t i, upto = <Py_ssize_t>(<double>p.lines * done / total) if done < total else p.lines
    while p.done < upto:
        i = p.done // p.per_row
        nn_prefetch_line(p.X + p.rows[i] * p.row_bytes + (p.done - i * p.per_row) * 64)
        p.done += 1


cdef inline bint untouched(Py_ssize_t* ptr, Py_ssize_t k, unsigned char* zero_rows) noexcept nogil:
    """Whether row k of W_1 is left as it is by a step whose zero term is none (zero_step_is_none): no
    nonzero in its column this batch and its state +0 (an input zero in every batch so far: MNIST's border
    pixels)."""
    return ptr[k] == ptr[k + 1] and zero_rows[k]


cdef void zero_state_rows(floating* s1, floating* s2, Py_ssize_t n_rows, Py_ssize_t n_out,
                          unsigned char* zero_rows, bint retest) noexcept nogil:
    """zero_rows[k] = 1 when row k of the state s1 (n_rows x n_out; and of s2, unless NULL) is all +0, bit
    for bit, else 0; s1 NULL: all 0. retest: only the rows marked 1 are tested again (the others stay 0).
    The state this core writes is never -0, but one restored from a checkpoint could be, and the step
    would turn it into +0: such a row is stepped."""
    cdef Py_ssize_t k, o
    for k in range(n_rows):
        o = k * n_out
        if retest and not zero_rows[k]:
            continue
        if s1 == NULL:
            zero_rows[k] = 0
        elif floating is double:
            zero_rows[k] = nn_all_plus_zero_d(s1 + o, n_out) and (s2 == NULL or nn_all_plus_zero_d(s2 + o, n_out))
        else:
            zero_rows[k] = nn_all_plus_zero_f(s1 + o, n_out) and (s2 == NULL or nn_all_plus_zero_f(s2 + o, n_out))


cdef bint zero_step_is_none(StepConsts* consts, floating* like) noexcept nogil:
    """Whether the step (no weight decay) leaves an element with a zero gradient and +0 state exactly as
    it is: its constants, rounded to theta's dtype, make the step's term +0 (not NaN, as 0 / 0 with an
    eps that rounds to 0 would, nor -0). Tried on p = -0, the one value that p - (+0) could change."""
    cdef floating p[1]
    cdef floating g[1]
    cdef floating m[1]
    cdef floating v[1]
    p[0], g[0], m[0], v[0] = -0.0, 0, 0, 0
    step_with(consts, p, g, m, v, 1)
    return (p[0] == 0 and signbit(p[0]) and m[0] == 0 and not signbit(m[0]) and v[0] == 0
            and not signbit(v[0]))


def all_plus_zero(const floating[::1] x not None):
    """Whether every value of x is +0, bit for bit (nn_all_plus_zero; its twin: not x.any() and not
    np.signbit(x).any())."""
    if floating is double:
        return bool(nn_all_plus_zero_d(&x[0] if x.shape[0] else NULL, x.shape[0]))
    else:
        return bool(nn_all_plus_zero_f(&x[0] if x.shape[0] else NULL, x.shape[0]))


def sparse_matmul(const floating[:, ::1] A not None, const floating[:, ::1] B not None, floating[:, ::1] C not None,
                  bint trans_a=False, double alpha=1, bint accumulate=False, int parts=1, bint portable=False):
    """C <- op(A) B, or C <- C + alpha op(A) B with accumulate, through the sparse kernels, as training's
    first layer uses them: A's rows as lists of their nonzeros (sparse_rows); for op(A) = A^T, its
    columns cut into `parts` parts (sparse_columns) computed one after the other, as a team's threads do.
    portable: the kernels without AVX2 / FMA."""
    cdef Py_ssize_t n = A.shape[0], k = A.shape[1], M = k if trans_a else n, N = B.shape[1]
    cdef Py_ssize_t KB = B.shape[0], i, c0, c1
    cdef int part_i
    if (KB != (n if trans_a else k)) or C.shape[0] != M or C.shape[1] != N:
        raise ValueError(f"shapes do not match: op(A) {M}x{n if trans_a else k}, B {KB}x{N}, C {C.shape[0]}x{C.shape[1]}")
    if parts < 1 or parts > NN_MAX_THREADS:
        raise ValueError(f"parts must be in 1..{NN_MAX_THREADS} (a team's threads), got {parts}")
    if times(n, k, "A") >= INT_MAX:  # the lists' indices are int
        raise ValueError(f"A is too large for the sparse kernels ({n} x {k})")
    if M == 0 or N == 0:
        return
    if n == 0 or k == 0:  # an empty sum
        if not accumulate:
            C[:, :] = 0
        return
    cdef int* idx = <int*>malloc(n * k * sizeof(int))
    cdef floating* val = <floating*>malloc(n * k * sizeof(floating))
    cdef Py_ssize_t* beg = <Py_ssize_t*>malloc(n * sizeof(Py_ssize_t))
    cdef Py_ssize_t* end = <Py_ssize_t*>malloc(n * sizeof(Py_ssize_t))
    cdef int* counts = <int*>malloc(k * sizeof(int))
    cdef Py_ssize_t* ptr = <Py_ssize_t*>malloc((k + 1) * sizeof(Py_ssize_t))
    cdef Py_ssize_t* fill = <Py_ssize_t*>malloc(k * sizeof(Py_ssize_t))
    cdef int* crow = <int*>malloc(n * k * sizeof(int))
    cdef floating* cval = <floating*>malloc(n * k * sizeof(floating))
    try:
        if (idx == NULL or val == NULL or beg == NULL or end == NULL or counts == NULL or ptr == NULL
                or fill == NULL or crow == NULL or cval == NULL):
            raise MemoryError()
        with nogil:
            sparse_rows(<floating*>&A[0, 0], NULL, 0, n, k, idx, val, beg, end, counts)
            if not trans_a:
                spmm(idx, val, beg, end, n, <floating*>&B[0, 0], N, N, &C[0, 0], N, <floating>alpha, accumulate, portable)
            else:
                for part_i in range(parts):
                    sparse_columns(counts, 1, k, part_i, parts, n, idx, val, beg, end, ptr, fill, crow, cval,
                                   &c0, &c1)
                    spmm(crow, cval, ptr + c0, ptr + c0 + 1, c1 - c0, <floating*>&B[0, 0], N, N, &C[0, 0] + c0 * N, N,
                         <floating>alpha, accumulate, portable)
    finally:
        free(idx)
        free(val)
        free(beg)
        free(end)
        free(counts)
        free(ptr)
        free(fill)
        free(crow)
        free(cval)

