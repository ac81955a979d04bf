# cython: language_level=3
"""nn._core: the compiled kernels. Knows nothing of nn: memoryviews in, memoryviews out.

Every hot function is a ``cdef ... noexcept nogil`` kernel over raw pointers, fused over float and
double; a thin ``def`` wrapper exposes it to Python and to the tests. Wrappers check everything a kernel
relies on (shapes, lengths, codes, offsets) so that no call from Python reads or writes out of bounds.

Layout (as in nn): samples are rows; layer l has W_l (n_{l-1}, n_l) row-major and b_l (n_l,), stored
in one flat theta: W_1, b_1, W_2, b_2, ... The numbers follow nn.functions / nn.backends.reference
operation for operation, so the two agree to rounding.
"""
from cython cimport floating
from libc.math cimport NAN, exp, fabs, log, pow, sqrt, tanh
from libc.float cimport DBL_EPSILON, FLT_EPSILON
from libc.limits cimport INT_MAX
from libc.stdlib cimport calloc, free, malloc
from libc.string cimport memcpy, memset
from cpython.exc cimport PyErr_Clear

cdef extern from "Python.h":
    # Declared without Cython's `except -1`: the caller clears the error and reports it itself.
    int PyErr_CheckSignals()
    const Py_ssize_t PY_SSIZE_T_MAX
from scipy.linalg.cython_blas cimport dgemm, sgemm

# ----- codes (indices into the name tuples) -------------------------------------------------------
cdef enum:
    IDENTITY = 0
    SIGMOID = 1
    TANH = 2
    RELU = 3
    LEAKY_RELU = 4
    SOFTMAX = 5

cdef enum:
    MSE = 0
    BINARY_CROSS_ENTROPY = 1
    CROSS_ENTROPY = 2

cdef enum:
    SGD = 0
    MOMENTUM = 1
    RMSPROP = 2
    ADAM = 3

ACTIVATION_NAMES = ("identity", "sigmoid", "tanh", "relu", "leaky_relu", "softmax")
LOSS_NAMES = ("mse", "binary_cross_entropy", "cross_entropy")
OPTIMIZER_NAMES = ("sgd", "momentum", "rmsprop", "adam")
# Optimizer hyper-parameters, in this order, in the `hyper` array.
HYPER_NAMES = ("learning_rate", "weight_decay", "momentum", "nesterov", "rho", "beta1", "beta2", "eps")

cdef double LEAKY_SLOPE = 0.01
# Products smaller than this many multiply-adds run in plain loops: BLAS call overhead would dominate.
cdef Py_ssize_t SMALL_PRODUCT = 8192


# ----- matrix products ----------------------------------------------------------------------------
cdef inline void add_scaled_row(floating* c_row, floating alpha, floating a, floating* b_row,
                                Py_ssize_t n) noexcept nogil:
    """c_row += alpha (a b_row): one row of an outer-product update (alpha last, as the reference's
    W - lr (a b) rounds)."""
    cdef Py_ssize_t j
    if alpha == 1:
        for j in range(n):
            c_row[j] += a * b_row[j]
    else:
        for j in range(n):
            c_row[j] += alpha * (a * b_row[j])


cdef void gemm(char trans_a, char trans_b, int M, int N, int K, floating alpha, floating* A, int lda,
               floating* B, int ldb, floating beta, floating* C, int ldc) noexcept nogil:
    """Row-major C (M x N) = alpha op(A) op(B) + beta C, op given by 'N' / 'T'.

    BLAS is column-major, where the memory of a row-major matrix is its transpose, so C^T = op(B)^T
    op(A)^T is asked for by swapping the operands and keeping the flags. With beta = 0, C is not read.
    Small products, and those with one row of A (one sample: A is mostly zeros for MNIST, and the
    loops skip zeros), run in loops.
    """
    if <double>M * N * K >= SMALL_PRODUCT and not (M == 1 and trans_a == c'N') \
            and not (K == 1 and trans_a == c'T'):
        if floating is double:
            dgemm(&trans_b, &trans_a, &N, &M, &K, &alpha, B, &ldb, A, &lda, &beta, C, &ldc)
        else:
            sgemm(&trans_b, &trans_a, &N, &M, &K, &alpha, B, &ldb, A, &lda, &beta, C, &ldc)
        return
    cdef Py_ssize_t i, j, k
    cdef floating a, s
    cdef floating* c_row
    cdef floating* b_row
    if beta == 0:
        for i in range(M):
            memset(C + i * ldc, 0, N * sizeof(floating))
    elif beta != 1:
        for i in range(M):
            for j in range(N):
                C[i * ldc + j] *= beta
    if trans_a == c'N' and trans_b == c'N':
        # C[i, :] += alpha A[i, k] B[k, :]
        for i in range(M):
            c_row = C + i * ldc
            for k in range(K):
                a = A[i * lda + k]
                if a == 0:
                    continue
                add_scaled_row(c_row, alpha, a, B + k * ldb, N)
    elif trans_a == c'T' and trans_b == c'N':
        # C[i, :] += alpha A[k, i] B[k, :]   (A stored K x M)
        for k in range(K):
            b_row = B + k * ldb
            for i in range(M):
                a = A[k * lda + i]
                if a == 0:
                    continue
                add_scaled_row(C + i * ldc, alpha, a, b_row, N)
    elif trans_a == c'N' and trans_b == c'T':
        # C[i, j] += alpha sum_k A[i, k] B[j, k]   (B stored N x K)
        for i in range(M):
            for j in range(N):
                s = 0
                for k in range(K):
                    s += A[i * lda + k] * B[j * ldb + k]
                C[i * ldc + j] += alpha * s
    else:
        for i in range(M):
            for j in range(N):
                s = 0
                for k in range(K):
                    s += A[k * lda + i] * B[j * ldb + k]
                C[i * ldc + j] += alpha * s


# ----- sparse rows times a dense matrix (the first layer on MNIST-like inputs) ---------------------
cdef extern from *:
    """
    #include <stddef.h>
    #include <string.h>
    /* For each list j < n_lists of (index, value) pairs, entries beg[j] .. end[j] - 1 of idx / val:
       s = sum over the entries, in order, of value * B[index, :] (B row-major, N columns), and
       mode 0: out[j, :] = s (zero for an empty list); mode 1: out[j, :] += alpha s (empty lists skipped).
       Row j of out is at out + j ldo. The sum runs in chunks of columns kept in registers. */
    #define NN_SPMM_PORTABLE(T, NAME, CH)                                                              \
    static void NAME(const int* idx, const T* val, const Py_ssize_t* beg, const Py_ssize_t* end,       \
                     Py_ssize_t n_lists, const T* B, Py_ssize_t ldb, Py_ssize_t N, T* out,             \
                     Py_ssize_t ldo, T alpha, int mode) {                                              \
        T acc[CH];                                                                                     \
        for (Py_ssize_t j = 0; j < n_lists; j++) {                                                     \
            T* o = out + j * ldo;                                                                      \
            if (beg[j] == end[j]) {                                                                    \
                if (mode == 0) memset(o, 0, N * sizeof(T));                                           \
                continue;                                                                              \
            }                                                                                          \
            for (Py_ssize_t c = 0; c < N; c += CH) {                                                   \
                Py_ssize_t w = N - c < CH ? N - c : CH;                                                \
                for (Py_ssize_t t = 0; t < w; t++) acc[t] = 0;                                         \
                for (Py_ssize_t e = beg[j]; e < end[j]; e++) {                                         \
                    const T x = val[e];                                                                \
                    const T* b = B + (Py_ssize_t)idx[e] * ldb + c;                                     \
                    for (Py_ssize_t t = 0; t < w; t++) acc[t] += x * b[t];                             \
                }                                                                                      \
                if (mode == 0) for (Py_ssize_t t = 0; t < w; t++) o[c + t] = acc[t];                   \
                else for (Py_ssize_t t = 0; t < w; t++) o[c + t] += alpha * acc[t];                    \
            }                                                                                          \
        }                                                                                              \
    }
    NN_SPMM_PORTABLE(double, nn_spmm_portable_d, 32)
    NN_SPMM_PORTABLE(float, nn_spmm_portable_f, 64)

    #if defined(__GNUC__) && defined(__x86_64__)
    #include <immintrin.h>
    /* The same with AVX2 and FMA, compiled for those instructions only here and called only when the
       processor has them (the rest of the core stays baseline x86-64): 8 vector accumulators, a chunk
       of 32 doubles or 64 floats, per list. */
    #define NN_SPMM_AVX2(T, NAME, PORTABLE, V, L, SETZERO, BCAST, LOADU, STOREU, FMADD, SET1)             \
    __attribute__((target("avx2,fma")))                                                                \
    static void NAME(const int* idx, const T* val, const Py_ssize_t* beg, const Py_ssize_t* end,       \
                     Py_ssize_t n_lists, const T* B, Py_ssize_t ldb, Py_ssize_t N, T* out,             \
                     Py_ssize_t ldo, T alpha, int mode) {                                              \
        const Py_ssize_t CH = 8 * L, n_full = N / CH * CH;                                             \
        const V va = SET1(alpha);                                                                      \
        for (Py_ssize_t j = 0; j < n_lists; j++) {                                                     \
            T* o = out + j * ldo;                                                                      \
            if (beg[j] == end[j] || n_full == 0) {  /* empty list, or fewer columns than a chunk */     \
                PORTABLE(idx, val, beg + j, end + j, 1, B, ldb, N, o, ldo, alpha, mode);               \
                continue;                                                                              \
            }                                                                                          \
            for (Py_ssize_t c = 0; c < n_full; c += CH) {                                              \
                V a0 = SETZERO(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;       \
                for (Py_ssize_t e = beg[j]; e < end[j]; e++) {                                         \
                    const T* b = B + (Py_ssize_t)idx[e] * ldb + c;                                     \
                    const V x = BCAST(val + e);                                                        \
                    a0 = FMADD(x, LOADU(b), a0);         a1 = FMADD(x, LOADU(b + L), a1);              \
                    a2 = FMADD(x, LOADU(b + 2 * L), a2); a3 = FMADD(x, LOADU(b + 3 * L), a3);          \
                    a4 = FMADD(x, LOADU(b + 4 * L), a4); a5 = FMADD(x, LOADU(b + 5 * L), a5);          \
                    a6 = FMADD(x, LOADU(b + 6 * L), a6); a7 = FMADD(x, LOADU(b + 7 * L), a7);          \
                }                                                                                      \
                T* p = o + c;                                                                          \
                if (mode == 0) {                                                                       \
                    STOREU(p, a0); STOREU(p + L, a1); STOREU(p + 2 * L, a2); STOREU(p + 3 * L, a3);    \
                    STOREU(p + 4 * L, a4); STOREU(p + 5 * L, a5); STOREU(p + 6 * L, a6);               \
                    STOREU(p + 7 * L, a7);                                                             \
                } else {                                                                               \
                    STOREU(p, FMADD(va, a0, LOADU(p)));                 STOREU(p + L, FMADD(va, a1, LOADU(p + L)));         \
                    STOREU(p + 2 * L, FMADD(va, a2, LOADU(p + 2 * L))); STOREU(p + 3 * L, FMADD(va, a3, LOADU(p + 3 * L))); \
                    STOREU(p + 4 * L, FMADD(va, a4, LOADU(p + 4 * L))); STOREU(p + 5 * L, FMADD(va, a5, LOADU(p + 5 * L))); \
                    STOREU(p + 6 * L, FMADD(va, a6, LOADU(p + 6 * L))); STOREU(p + 7 * L, FMADD(va, a7, LOADU(p + 7 * L))); \
                }                                                                                      \
            }                                                                                          \
            if (n_full < N)  /* the last columns, fewer than a chunk */                               \
                PORTABLE(idx, val, beg + j, end + j, 1, B + n_full, ldb, N - n_full, o + n_full, ldo,  \
                         alpha, mode);                                                                 \
        }                                                                                              \
    }
    NN_SPMM_AVX2(double, nn_spmm_avx2_d, nn_spmm_portable_d, __m256d, 4, _mm256_setzero_pd, _mm256_broadcast_sd,
                 _mm256_loadu_pd, _mm256_storeu_pd, _mm256_fmadd_pd, _mm256_set1_pd)
    NN_SPMM_AVX2(float, nn_spmm_avx2_f, nn_spmm_portable_f, __m256, 8, _mm256_setzero_ps, _mm256_broadcast_ss,
                 _mm256_loadu_ps, _mm256_storeu_ps, _mm256_fmadd_ps, _mm256_set1_ps)
    static int nn_cpu_has_avx2_fma(void) {
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }
    #else
    static int nn_cpu_has_avx2_fma(void) { return 0; }
    #define nn_spmm_avx2_d nn_spmm_portable_d
    #define nn_spmm_avx2_f nn_spmm_portable_f
    #endif
    """
    bint nn_cpu_has_avx2_fma() nogil
    void nn_spmm_portable_d(int* idx, double* val, Py_ssize_t* beg, Py_ssize_t* end, Py_ssize_t n_lists, double* B,
                          Py_ssize_t ldb, Py_ssize_t N, double* out, Py_ssize_t ldo, double alpha, int mode) nogil
    void nn_spmm_portable_f(int* idx, float* val, Py_ssize_t* beg, Py_ssize_t* end, Py_ssize_t n_lists, float* B,
                          Py_ssize_t ldb, Py_ssize_t N, float* out, Py_ssize_t ldo, float alpha, int mode) nogil
    void nn_spmm_avx2_d(int* idx, double* val, Py_ssize_t* beg, Py_ssize_t* end, Py_ssize_t n_lists, double* B,
                          Py_ssize_t ldb, Py_ssize_t N, double* out, Py_ssize_t ldo, double alpha, int mode) nogil
    void nn_spmm_avx2_f(int* idx, float* val, Py_ssize_t* beg, Py_ssize_t* end, Py_ssize_t n_lists, float* B,
                          Py_ssize_t ldb, Py_ssize_t N, float* out, Py_ssize_t ldo, float alpha, int mode) nogil

# Whether this processor runs the AVX2 / FMA sparse kernels (else only their portable twins exist).
SPARSE_KERNELS = bool(nn_cpu_has_avx2_fma())
cdef bint HAS_AVX2 = SPARSE_KERNELS


cdef void spmm(int* idx, floating* val, Py_ssize_t* beg, Py_ssize_t* end, Py_ssize_t n_lists, floating* B,
               Py_ssize_t ldb, Py_ssize_t N, floating* out, Py_ssize_t ldo, floating alpha, int mode,
               bint portable) noexcept nogil:
    """For each list j of (index, value) pairs (entries beg[j] .. end[j] - 1 of idx, val), s = the sum of
    value * B[index, 0:N] (B's rows ldb apart); mode 0: out[j] = s (zeros for an empty list), mode 1:
    out[j] += alpha s. Rows of out ldo apart. AVX2 / FMA when the processor has them, unless portable."""
    if floating is double:
        if HAS_AVX2 and not portable:
            nn_spmm_avx2_d(idx, val, beg, end, n_lists, B, ldb, N, out, ldo, alpha, mode)
        else:
            nn_spmm_portable_d(idx, val, beg, end, n_lists, B, ldb, N, out, ldo, alpha, mode)
    else:
        if HAS_AVX2 and not portable:
            nn_spmm_avx2_f(idx, val, beg, end, n_lists, B, ldb, N, out, ldo, alpha, mode)
        else:
            nn_spmm_portable_f(idx, val, beg, end, n_lists, B, ldb, N, out, ldo, alpha, mode)


cdef void sparse_rows(floating* X, Py_ssize_t* rows, Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t n_in, int* idx,
                      floating* val, Py_ssize_t* beg, Py_ssize_t* end, int* counts) noexcept nogil:
    """Rows r0..r1 of a batch (row i is X[rows[i]], or X[i] if rows is NULL) as lists of their nonzeros
    in column order: row i's at idx / val + i n_in, entries beg[i] .. end[i] - 1. counts[k] (n_in of
    them, zeroed here) = the nonzeros these rows have in column k."""
    cdef Py_ssize_t i, k, c
    cdef floating* row
    cdef floating a
    memset(counts, 0, n_in * sizeof(int))
    for i in range(r0, r1):
        row = X + (rows[i] if rows != NULL else i) * n_in
        c = i * n_in
        beg[i] = c
        for k in range(n_in):  # branch-free: every value is written, the position only moves past nonzeros
            a = row[k]
            idx[c] = <int>k
            val[c] = a
            c += a != 0
        end[i] = c
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


# ----- activations --------------------------------------------------------------------------------
cdef inline floating sigmoid(floating z) noexcept nogil:
    # e^-|z| never overflows; the same formula as the reference.
    cdef floating e = <floating>exp(-fabs(z))
    if z >= 0:
        return 1 / (1 + e)
    return e / (1 + e)


cdef void bias_activate(floating* Z, floating* b, Py_ssize_t n, Py_ssize_t k, int activation) noexcept nogil:
    """A = f(Z + b) in place over n rows of k units (b may be NULL: no bias)."""
    cdef Py_ssize_t i, j
    cdef floating m, s, z
    cdef floating* row
    for i in range(n):
        row = Z + i * k
        if b != NULL:
            for j in range(k):
                row[j] = row[j] + b[j]
        if activation == SIGMOID:
            for j in range(k):
                row[j] = sigmoid(row[j])
        elif activation == TANH:
            for j in range(k):
                row[j] = <floating>tanh(row[j])
        elif activation == RELU:
            # Written to compile without branches (half of the signs are unpredictable); NaN stays NaN
            # as in np.maximum.
            for j in range(k):
                row[j] = 0 if row[j] < 0 else row[j]
        elif activation == LEAKY_RELU:
            for j in range(k):
                row[j] = row[j] if row[j] > 0 else <floating>(LEAKY_SLOPE * row[j])
        elif activation == SOFTMAX:
            m = row[0]
            for j in range(1, k):
                if row[j] > m:
                    m = row[j]
            s = 0
            for j in range(k):
                row[j] = <floating>exp(row[j] - m)
                s += row[j]
            for j in range(k):
                row[j] = row[j] / s


cdef void backprop_activation(floating* A, floating* G, Py_ssize_t n, Py_ssize_t k, int activation) noexcept nogil:
    """G <- dL/dZ from G = dL/dA and the layer's output A (n x k), in place."""
    cdef Py_ssize_t i, j, size = n * k
    cdef floating s
    if activation == SIGMOID:
        for i in range(size):
            G[i] = G[i] * A[i] * (1 - A[i])
    elif activation == TANH:
        for i in range(size):
            G[i] = G[i] * (1 - A[i] * A[i])
    elif activation == RELU:
        # G * (A > 0), as the reference: no branch, and a NaN in G stays NaN.
        for i in range(size):
            G[i] = G[i] * (A[i] > 0)
    elif activation == LEAKY_RELU:
        for i in range(size):
            G[i] = G[i] * (<floating>1 if A[i] > 0 else <floating>LEAKY_SLOPE)
    elif activation == SOFTMAX:
        # dz_j = a_j (g_j - sum_k g_k a_k)
        for i in range(n):
            s = 0
            for j in range(k):
                s += G[i * k + j] * A[i * k + j]
            for j in range(k):
                G[i * k + j] = A[i * k + j] * (G[i * k + j] - s)


# ----- losses -------------------------------------------------------------------------------------
cdef inline floating clipped_log(floating a) noexcept nogil:
    """log(max(a, eps)), eps the dtype's: a NaN stays NaN (as np.maximum), so a diverged output shows
    in the loss rather than costing log(eps)."""
    cdef floating eps
    if floating is double:
        eps = DBL_EPSILON
    else:
        eps = FLT_EPSILON
    return <floating>log(eps if a <= eps else a)


cdef inline double loss_term(int loss, floating a, floating y) noexcept nogil:
    """One output's term of a row's loss: (y - a)^2 (mse), y log a + (1 - y) log(1 - a) (binary
    cross-entropy), y log a (cross-entropy; 0 where y is 0, unless a is NaN: the reference's 0 * log(NaN)
    is NaN too). finish_loss turns a sum of them into the loss."""
    if loss == MSE:
        return (y - a) * (y - a)
    if loss == BINARY_CROSS_ENTROPY:
        return y * clipped_log(a) + (1 - y) * clipped_log(1 - a)
    if y != 0 or a != a:
        return y * clipped_log(a)
    return 0


cdef inline double finish_loss(int loss, double total, Py_ssize_t k) noexcept nogil:
    """The loss from a sum of loss_term over k outputs: mse the mean, binary cross-entropy minus the
    mean, cross-entropy minus the sum."""
    if loss == MSE:
        return total / k
    if loss == BINARY_CROSS_ENTROPY:
        return -total / k
    return -total


cdef double row_loss(int loss, floating* a_row, floating* y_row, Py_ssize_t k) noexcept nogil:
    """One row's loss (as nn.functions.ROW_LOSSES)."""
    cdef Py_ssize_t j
    cdef double total = 0
    for j in range(k):
        total += loss_term(loss, a_row[j], y_row[j])
    return finish_loss(loss, total, k)


cdef double loss_total(int loss, floating* A, floating* Y, Py_ssize_t* rows, Py_ssize_t n, Py_ssize_t k,
                       floating* W) noexcept nogil:
    """The sum over the n rows of A (n x k) of each row's loss against its target, row rows[i] of Y (or
    row i if rows is NULL): the batch's loss is this over n. With sample weights W (indexed as Y), the
    sum of w_i times row i's loss (the batch's loss is this over the sum of its weights)."""
    cdef Py_ssize_t i, j
    cdef double total = 0
    cdef floating* y_row
    if W != NULL:
        for i in range(n):
            j = rows[i] if rows != NULL else i
            total += W[j] * row_loss(loss, A + i * k, Y + j * k, k)
        return total
    for i in range(n):  # unweighted: every term into one sum (the reference's order of rounding)
        y_row = Y + (rows[i] if rows != NULL else i) * k
        for j in range(k):
            total += loss_term(loss, A[i * k + j], y_row[j])
    return finish_loss(loss, total, k)


cdef void output_delta(int loss, int activation, floating* A, floating* Y, Py_ssize_t* rows,
                       Py_ssize_t n, Py_ssize_t batch, Py_ssize_t k, floating* D, floating* W,
                       floating w_total) noexcept nogil:
    """D = dL/dZ of the output layer for n rows (targets as in loss_total) of a batch of `batch` rows:
    (A - Y)/batch for cross-entropy (softmax), (A - Y)/(batch k) for binary cross-entropy (sigmoid),
    f'(A) * 2 (A - Y)/(batch k) for mse. With sample weights W (indexed as Y) whose sum over the batch
    is w_total, row i's is multiplied by w_i and batch becomes w_total (all zero if w_total is 0)."""
    cdef Py_ssize_t i, j, r
    cdef floating* y_row
    cdef Py_ssize_t size = batch * k
    cdef floating w, wk = w_total * k
    if W != NULL:
        for i in range(n):
            r = rows[i] if rows != NULL else i
            y_row = Y + r * k
            w = W[r] if w_total != 0 else 0
            for j in range(k):
                if w_total == 0:
                    D[i * k + j] = 0
                elif loss == CROSS_ENTROPY:
                    D[i * k + j] = (A[i * k + j] - y_row[j]) * w / w_total
                elif loss == BINARY_CROSS_ENTROPY:
                    D[i * k + j] = (A[i * k + j] - y_row[j]) * w / wk
                else:
                    D[i * k + j] = 2 * (A[i * k + j] - y_row[j]) * w / wk
        if loss == MSE:
            backprop_activation(A, D, n, k, activation)
        return
    for i in range(n):
        y_row = Y + (rows[i] if rows != NULL else i) * k
        for j in range(k):
            if loss == CROSS_ENTROPY:
                D[i * k + j] = (A[i * k + j] - y_row[j]) / batch
            elif loss == BINARY_CROSS_ENTROPY:
                D[i * k + j] = (A[i * k + j] - y_row[j]) / size
            else:
                D[i * k + j] = 2 * (A[i * k + j] - y_row[j]) / size
    if loss == MSE:
        backprop_activation(A, D, n, k, activation)


cdef Py_ssize_t count_correct(int activation, floating* A, floating* Y, Py_ssize_t* rows,
                              Py_ssize_t n, Py_ssize_t k) noexcept nogil:
    """Rows predicted right: argmax (first maximum) for softmax, every output > 0.5 for sigmoid."""
    cdef Py_ssize_t i, j, best_a, best_y, correct = 0
    cdef floating* y_row
    cdef floating* a_row
    cdef bint ok
    if activation != SOFTMAX and activation != SIGMOID:
        return 0
    for i in range(n):
        a_row = A + i * k
        y_row = Y + (rows[i] if rows != NULL else i) * k
        if activation == SOFTMAX:
            best_a = best_y = 0
            for j in range(1, k):
                if a_row[j] > a_row[best_a]:
                    best_a = j
                if y_row[j] > y_row[best_y]:
                    best_y = j
            correct += best_a == best_y
        else:
            ok = True
            for j in range(k):
                if (a_row[j] > 0.5) != (y_row[j] > 0.5):
                    ok = False
            correct += ok
    return correct


# ----- optimizers ---------------------------------------------------------------------------------
cdef void optimizer_step(int optimizer, double* hyper, long long t, floating* p, floating* g,
                         floating* s1, floating* s2, Py_ssize_t size) noexcept nogil:
    """One update of p (size) from g, as nn.optimizers; t is the step number (from 1), s1/s2 the state."""
    cdef Py_ssize_t i
    cdef double lr = hyper[0], wd = hyper[1], mu = hyper[2], rho = hyper[4]
    cdef double beta1 = hyper[5], beta2 = hyper[6], eps = hyper[7]
    cdef bint nesterov = hyper[3] != 0
    cdef double c1, c2
    if wd != 0:
        for i in range(size):
            g[i] = g[i] + <floating>(wd * p[i])
    if optimizer == SGD:
        for i in range(size):
            p[i] = p[i] - <floating>(lr * g[i])
    elif optimizer == MOMENTUM:
        for i in range(size):
            s1[i] = <floating>(s1[i] * mu)
            s1[i] = s1[i] + g[i]
            if nesterov:
                p[i] = p[i] - <floating>(lr * (g[i] + <floating>(mu * s1[i])))
            else:
                p[i] = p[i] - <floating>(lr * s1[i])
    elif optimizer == RMSPROP:
        for i in range(size):
            s1[i] = <floating>(s1[i] * rho)
            s1[i] = s1[i] + <floating>((1 - rho) * g[i] * g[i])
            p[i] = p[i] - <floating>(lr * g[i] / (sqrt(s1[i]) + eps))
    elif optimizer == ADAM:
        c1 = 1 - pow(beta1, <double>t)
        c2 = 1 - pow(beta2, <double>t)
        for i in range(size):
            s1[i] = <floating>(s1[i] * beta1)
            s1[i] = s1[i] + <floating>((1 - beta1) * g[i])
            s2[i] = <floating>(s2[i] * beta2)
            s2[i] = s2[i] + <floating>((1 - beta2) * g[i] * g[i])
            p[i] = p[i] - <floating>(lr * <floating>(s1[i] / c1) / (sqrt(<floating>(s2[i] / c2)) + eps))


# ----- the network --------------------------------------------------------------------------------
cdef struct Net:
    # Layer l (0-based) maps sizes[l] -> sizes[l + 1]; W at theta + w_off[l], b at theta + w_off[l] +
    # sizes[l] * sizes[l + 1]; its output for a batch at work + a_off[l + 1] (a_off[0]: the batch's
    # input rows) and its delta dL/dZ at work + d_off[l], both batch x sizes[l + 1], row i for sample i.
    # Training layouts also hold, at work + wc_off, room for the rows of W_1 that a batch uses
    # (see columns_in_use).
    Py_ssize_t n_layers
    Py_ssize_t* sizes
    Py_ssize_t* acts
    Py_ssize_t* w_off
    Py_ssize_t* a_off
    Py_ssize_t* d_off
    Py_ssize_t wc_off


cdef struct SparseBatch:
    # A batch's inputs as lists of their nonzeros (sparse_rows): row i's at idx / val + i sizes[0],
    # entries beg[i] .. end[i] - 1; counts: the nonzeros per column of each thread's rows (n_threads x
    # sizes[0]).
    int* idx
    void* val
    Py_ssize_t* beg
    Py_ssize_t* end
    int* counts


# A batch's first-layer products use only the input columns that hold a nonzero somewhere in the batch
# (MNIST: about 2/3 of the pixels at batch 128), when at most this fraction of them do.
cdef double COMPACT_LIMIT = 0.85


cdef inline Py_ssize_t part(Py_ssize_t n, int i, int parts) noexcept nogil:
    """Start of part i when 0..n is cut into `parts` contiguous parts (part(n, parts, parts) == n)."""
    if parts == 1:  # one thread (per-sample SGD): no division per layer and step
        return 0 if i == 0 else n
    return n * i // parts


cdef void mark_nonzero(floating* X, Py_ssize_t* rows, Py_ssize_t n, Py_ssize_t n_in,
                       floating* mark) noexcept nogil:
    """mark[k] = sum of |X[rows[i], k]| over i < n: nonzero exactly when column k holds a nonzero (a sum of
    non-negative numbers is at least its largest term; the inputs are finite). Adds, rather than or-ing
    comparisons, so that the loop vectorises."""
    cdef Py_ssize_t i, k
    cdef floating* row
    cdef floating a
    memset(mark, 0, n_in * sizeof(floating))
    for i in range(n):
        row = X + rows[i] * n_in
        for k in range(n_in):
            a = row[k]
            mark[k] += a if a >= 0 else -a


cdef Py_ssize_t columns_in_use(floating* marks, int n_marks, Py_ssize_t n_in, Py_ssize_t* cols) noexcept nogil:
    """The columns marked (nonzero) in any of the n_marks mark arrays (n_in each), into cols; returns their
    count, or n_in (cols unused) when too many are in use for the compact first layer to pay."""
    cdef Py_ssize_t k, n_cols = 0
    cdef int i
    cdef bint used
    for k in range(n_in):
        used = False
        for i in range(n_marks):
            used = used or marks[i * n_in + k] != 0
        if used:
            cols[n_cols] = k
            n_cols += 1
    return n_cols if n_cols <= COMPACT_LIMIT * n_in else n_in


cdef void gather_rows(floating* X, Py_ssize_t* rows, Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t n_in, floating* A0,
                      Py_ssize_t* cols, Py_ssize_t K) noexcept nogil:
    """Rows r0..r1 of the batch, X[rows[i]], into A0 (row i at A0 + i K): whole (K == n_in), or only the
    K columns cols."""
    cdef Py_ssize_t i, k
    cdef floating* row
    for i in range(r0, r1):
        row = X + rows[i] * n_in
        if K == n_in:
            memcpy(A0 + i * n_in, row, n_in * sizeof(floating))
        else:
            for k in range(K):
                A0[i * K + k] = row[cols[k]]


cdef floating* forward_rows(Net* net, floating* theta, floating* work, floating* A0, Py_ssize_t K,
                            Py_ssize_t r0, Py_ssize_t r1, SparseBatch* sp=NULL) noexcept nogil:
    """Every layer's output for rows r0..r1 of a batch whose inputs are A0 (row i at A0 + i K); returns
    the output layer's rows. K < sizes[0]: A0 holds only the first layer's columns in use, and
    work + wc_off the matching rows of W_1. With sp, the inputs are sp's lists of nonzeros instead (A0
    unused), and the first layer runs on them (spmm)."""
    cdef Py_ssize_t l, n_in, n_out, nr = r1 - r0
    cdef floating* A_prev = A0 + r0 * K
    cdef floating* A
    cdef floating* W
    for l in range(net.n_layers):
        n_in, n_out = net.sizes[l], net.sizes[l + 1]
        W = theta + net.w_off[l]
        A = work + net.a_off[l + 1] + r0 * n_out
        if nr > 0:
            if l == 0 and sp != NULL:
                spmm(sp.idx, <floating*>sp.val, sp.beg + r0, sp.end + r0, nr, W, n_out, n_out, A, n_out, 1, 0,
                     False)
            elif l == 0:
                gemm(c'N', c'N', <int>nr, <int>n_out, <int>K, <floating>1, A_prev, <int>max(K, 1),
                     W if K == n_in else work + net.wc_off, <int>n_out, <floating>0, A, <int>n_out)
            else:
                gemm(c'N', c'N', <int>nr, <int>n_out, <int>n_in, <floating>1, A_prev, <int>n_in, W, <int>n_out,
                     <floating>0, A, <int>n_out)
            bias_activate(A, W + n_in * n_out, nr, n_out, <int>net.acts[l])
        A_prev = A
    return A_prev


cdef void backward_rows(Net* net, int loss, floating* theta, floating* work, floating* Y, Py_ssize_t* rows,
                        Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t n, floating* W, floating w_total) noexcept nogil:
    """After forward_rows: every layer's delta for rows r0..r1 of a batch of n (the targets of row i are
    Y[rows[i]], or Y[i] if rows is NULL; sample weights W, indexed as Y, summing to w_total over the
    batch, or NULL). delta_L from the loss; delta_{l-1} = f'(A_{l-1}) * (delta_l @ W_l^T), from the
    weights as they are (before the batch's update)."""
    cdef Py_ssize_t L = net.n_layers, l, n_in, n_out, k = net.sizes[L], nr = r1 - r0
    cdef floating* delta = work + net.d_off[L - 1] + r0 * k
    cdef floating* delta_prev
    if nr <= 0:
        return
    output_delta(loss, <int>net.acts[L - 1], work + net.a_off[L] + r0 * k, Y if rows != NULL else Y + r0 * k,
                 rows + r0 if rows != NULL else NULL, nr, n, k, delta,
                 W if (rows != NULL or W == NULL) else W + r0, w_total)
    for l in range(L - 1, 0, -1):
        n_in, n_out = net.sizes[l], net.sizes[l + 1]
        delta_prev = work + net.d_off[l - 1] + r0 * n_in
        gemm(c'N', c'T', <int>nr, <int>n_in, <int>n_out, <floating>1, delta, <int>n_out, theta + net.w_off[l],
             <int>n_out, <floating>0, delta_prev, <int>n_in)
        backprop_activation(work + net.a_off[l] + r0 * n_in, delta_prev, nr, n_in, <int>net.acts[l - 1])
        delta = delta_prev


cdef void update_part(Net* net, floating* theta, floating* work, floating* A0, Py_ssize_t K, Py_ssize_t* cols,
                      Py_ssize_t n, int i, int parts, floating* grad, double sgd_rate, bint skip_w1=False) noexcept nogil:
    """Part i of `parts` of the batch's weight update, after backward_rows of all its n rows: rows
    part(.., i) to part(.., i + 1) of every W_l and those columns of every b_l.

    dW_l = A_{l-1}^T delta_l, db_l = column sums of delta_l (row by row, as NumPy sums axis 0). With
    sgd_rate = 0 they go to grad (theta's layout); with sgd_rate > 0 plain SGD is applied directly
    (W += -rate A^T delta, written by the product itself; db through grad's b block as scratch).
    Compact first layer (K < sizes[0]): only W_1's rows cols[0..K] can have a nonzero gradient; SGD
    updates them in work + wc_off and copies them back, the gradient zeroes the others. skip_w1: W_1
    is left to the caller (the sparse first layer: sparse_update), b_1 is not.
    """
    cdef Py_ssize_t l, r, k, j, s, n_in, n_out, R, i0, i1, lda, lo, hi
    cdef floating* A_prev
    cdef floating* W
    cdef floating* dW
    cdef floating* db
    cdef floating* delta
    cdef floating* Wc = work + net.wc_off
    cdef bint compact
    for l in range(net.n_layers):
        n_in, n_out = net.sizes[l], net.sizes[l + 1]
        W = theta + net.w_off[l]
        dW = grad + net.w_off[l]
        delta = work + net.d_off[l]
        compact = l == 0 and K < n_in
        if l == 0:
            A_prev, lda, R = A0, K, K
        else:
            A_prev, lda, R = work + net.a_off[l], n_in, n_in
        i0, i1 = part(R, i, parts), part(R, i + 1, parts)
        if l == 0 and skip_w1:
            pass
        elif i1 > i0:
            if compact:
                gemm(c'T', c'N', <int>(i1 - i0), <int>n_out, <int>n, <floating>(-sgd_rate if sgd_rate > 0 else 1),
                     A_prev + i0, <int>max(lda, 1), delta, <int>n_out, <floating>(1 if sgd_rate > 0 else 0),
                     Wc + i0 * n_out, <int>n_out)
                for k in range(i0, i1):
                    memcpy((W if sgd_rate > 0 else dW) + cols[k] * n_out, Wc + k * n_out, n_out * sizeof(floating))
                if sgd_rate == 0:
                    # The rows between this part's columns (and before / after them, for the first and last
                    # part) have no input in the batch: zero gradient.
                    lo = 0 if i0 == 0 else cols[i0 - 1] + 1
                    hi = n_in if i1 == K else cols[i1 - 1] + 1
                    k = i0
                    for r in range(lo, hi):
                        if k < i1 and cols[k] == r:
                            k += 1
                        else:
                            memset(dW + r * n_out, 0, n_out * sizeof(floating))
            elif sgd_rate > 0:
                gemm(c'T', c'N', <int>(i1 - i0), <int>n_out, <int>n, <floating>(-sgd_rate), A_prev + i0, <int>lda,
                     delta, <int>n_out, <floating>1, W + i0 * n_out, <int>n_out)
            else:
                gemm(c'T', c'N', <int>(i1 - i0), <int>n_out, <int>n, <floating>1, A_prev + i0, <int>lda, delta,
                     <int>n_out, <floating>0, dW + i0 * n_out, <int>n_out)
        elif compact and K == 0 and i == 0 and sgd_rate == 0 and not skip_w1:
            memset(dW, 0, n_in * n_out * sizeof(floating))  # a batch of zeros: no part has a column
        db = dW + n_in * n_out
        i0, i1 = part(n_out, i, parts), part(n_out, i + 1, parts)
        for j in range(i0, i1):
            db[j] = delta[j]
        for s in range(1, n):
            for j in range(i0, i1):
                db[j] += delta[s * n_out + j]
        if sgd_rate > 0:
            for j in range(i0, i1):
                W[n_in * n_out + j] = W[n_in * n_out + j] - <floating>(sgd_rate * db[j])


# Networks up to this many parameters take sgd_one for batch-1 SGD steps. Beyond, a step is the
# products' memory traffic and the general path was measured as fast or faster (784-128-10: 263 against
# 287 ms per epoch of 20,000 samples).
cdef Py_ssize_t SGD_ONE_MAX_PARAMS = 16384


cdef floating* sgd_one(Net* net, int loss, floating* theta, floating* work, floating* x, floating* y,
                       double rate) noexcept nogil:
    """One sample's plain SGD step on one thread (batch 1: the lessons' per-sample SGD): forward_rows,
    backward_rows and update_part for a single row, the same operations in the same order, without
    the batch machinery (for a 2-2-1 network that machinery is most of the step). x: the sample's
    inputs, y: its targets. Returns the output layer's row (as it was before the update)."""
    cdef Py_ssize_t L = net.n_layers, l, n_in, n_out, k, j
    cdef floating* a_prev = x
    cdef floating* a
    cdef floating* W
    cdef floating* delta
    cdef floating* delta_prev
    cdef floating v, s, alpha = <floating>(-rate)
    for l in range(L):  # forward: a = f(a_prev W + b), the product's one-row loop (zeros skipped)
        n_in, n_out = net.sizes[l], net.sizes[l + 1]
        W = theta + net.w_off[l]
        a = work + net.a_off[l + 1]
        for j in range(n_out):
            a[j] = 0
        for k in range(n_in):
            v = a_prev[k]
            if v != 0:
                add_scaled_row(a, 1, v, W + k * n_out, n_out)
        bias_activate(a, W + n_in * n_out, 1, n_out, <int>net.acts[l])
        a_prev = a
    delta = work + net.d_off[L - 1]
    output_delta(loss, <int>net.acts[L - 1], a_prev, y, NULL, 1, 1, net.sizes[L], delta, NULL, 0)
    for l in range(L - 1, 0, -1):  # backward: delta_prev = f'(a) (delta W^T), from the old weights
        n_in, n_out = net.sizes[l], net.sizes[l + 1]
        W = theta + net.w_off[l]
        delta_prev = work + net.d_off[l - 1]
        for k in range(n_in):
            s = 0
            for j in range(n_out):
                s += delta[j] * W[k * n_out + j]
            delta_prev[k] = s
        backprop_activation(work + net.a_off[l], delta_prev, 1, n_in, <int>net.acts[l - 1])
        delta = delta_prev
    for l in range(L):  # update: W += -rate (a_prev^T delta), b -= rate delta
        n_in, n_out = net.sizes[l], net.sizes[l + 1]
        W = theta + net.w_off[l]
        delta = work + net.d_off[l]
        a_prev = x if l == 0 else work + net.a_off[l]
        for k in range(n_in):
            v = a_prev[k]
            if v != 0:
                add_scaled_row(W + k * n_out, alpha, v, delta, n_out)
        W += n_in * n_out
        for j in range(n_out):
            W[j] = W[j] - <floating>(rate * delta[j])
    return work + net.a_off[L]


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during ``train``; ``epochs_done`` epochs had been completed."""

    def __init__(self, epochs_done):
        super().__init__(epochs_done)
        self.epochs_done = epochs_done


cdef int check_signals() noexcept nogil:
    """1 if Ctrl-C (or another signal handler) asked to stop; the exception is re-raised by the caller."""
    with gil:
        if PyErr_CheckSignals() != 0:
            PyErr_Clear()
            return 1
    return 0


# ----- training, on one thread or a team of them ----------------------------------------------------
cdef extern from *:
    """
    #include <pthread.h>
    #include <sched.h>
    #include <time.h>
    #ifdef __linux__
    #include <linux/futex.h>
    #include <sys/syscall.h>
    #include <unistd.h>
    #include <limits.h>
    #endif
    /* A sense-reversing barrier for the threads of one training call. A waiter spins for up to
       NN_SPIN_NS (the wait between two phases of a batch is usually a few microseconds), then sleeps
       until the last one arrives (a futex on Linux; elsewhere it yields the processor in a loop):
       on a busy machine a spinning thread would take the processor from the one it waits for. */
    #define NN_SPIN_NS 5000
    typedef struct { int count; int sense; int sleepers; } nn_barrier;
    static inline long long nn_now_ns(void) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
    }
    static void nn_barrier_wait(nn_barrier* b, int n, int* local_sense) {
        int s = !*local_sense;
        long long start = 0;
        long spins = 0;
        *local_sense = s;
        if (__atomic_add_fetch(&b->count, 1, __ATOMIC_ACQ_REL) == n) {
            __atomic_store_n(&b->count, 0, __ATOMIC_RELAXED);
            __atomic_store_n(&b->sense, s, __ATOMIC_SEQ_CST);
    #ifdef __linux__
            if (__atomic_load_n(&b->sleepers, __ATOMIC_SEQ_CST) > 0)
                syscall(SYS_futex, &b->sense, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
    #endif
            return;
        }
        while (__atomic_load_n(&b->sense, __ATOMIC_ACQUIRE) != s) {
    #if defined(__x86_64__) || defined(__i386__)
            __builtin_ia32_pause();
    #endif
            if ((++spins & 63) == 0) {
                if (start == 0) {
                    start = nn_now_ns();
                } else if (nn_now_ns() - start > NN_SPIN_NS) {
    #ifdef __linux__
                    /* Sleep while the sense is still the old one. The last arriver stores the new
                       sense, then wakes the sleepers it sees: seq_cst on both sides, so either it sees
                       this one or this one sees the new sense and does not sleep. */
                    __atomic_add_fetch(&b->sleepers, 1, __ATOMIC_SEQ_CST);
                    while (__atomic_load_n(&b->sense, __ATOMIC_SEQ_CST) != s)
                        syscall(SYS_futex, &b->sense, FUTEX_WAIT_PRIVATE, !s, NULL, NULL, 0);
                    __atomic_sub_fetch(&b->sleepers, 1, __ATOMIC_SEQ_CST);
                    return;
    #else
                    sched_yield();
    #endif
                }
            }
        }
    }
    static inline int nn_load(int* p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
    static inline void nn_store(int* p, int v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
    """
    ctypedef struct nn_barrier:
        int count
        int sense
        int sleepers
    void nn_barrier_wait(nn_barrier* b, int n, int* local_sense) nogil
    int nn_load(int* p) nogil
    void nn_store(int* p, int v) nogil
    ctypedef unsigned long pthread_t
    int pthread_create(pthread_t* thread, void* attr, void* (*start)(void*) noexcept nogil, void* arg) nogil
    int pthread_join(pthread_t thread, void** retval) nogil
    void sched_yield() nogil


cdef struct Job:
    # One train call, shared by its threads. Thread i owns rows part(n, i, T) .. part(n, i + 1, T) of
    # each batch (forward, loss, deltas) and part i of every weight matrix's rows (update).
    Net* net
    int loss, optimizer, n_threads
    double* hyper
    void* theta
    void* grad
    void* s1
    void* s2
    void* work
    void* X
    void* Y
    void* weights            # one sample weight per row of X (theta's dtype), or NULL
    void* snapshot
    Py_ssize_t* order
    Py_ssize_t n_epochs, m, batch_size, n_params, check_every
    double* epoch_loss
    Py_ssize_t* epoch_correct
    double* loss_part        # [e * n_threads + thread]: a thread's share of epoch e
    bint* theta_finite       # [thread]: whether its part of theta is finite after the current epoch
    Py_ssize_t* correct_part
    void* marks              # n_threads x sizes[0] (theta's dtype): the input columns each thread's rows use
    Py_ssize_t* cols         # n_threads x sizes[0]: each thread's copy of the columns in use
    bint use_sparse          # the first layer on lists of nonzeros (sparse_rows, spmm) instead
    SparseBatch sparse[2]    # for even and odd batches: a batch's lists are read until its last update
    Py_ssize_t* sp_ptr       # n_threads x (sizes[0] + 1): each thread's column offsets (sparse_columns)
    Py_ssize_t* sp_fill      # n_threads x sizes[0]: scratch
    int* sp_crow             # batch_size x sizes[0]: the batch's nonzeros by column (row, value)
    void* sp_cval
    nn_barrier barrier
    int go                   # 0 wait, 1 run, -1 leave (a thread could not be started)
    int stop                 # set by thread 0 on Ctrl-C
    bint is_double


cdef struct Worker:
    Job* job
    int index
    int sense                # this thread's barrier sense
    long long t              # optimizer steps taken
    Py_ssize_t done          # epochs completed
    bint interrupted


cdef inline void sync(Worker* w) noexcept nogil:
    if w.job.n_threads > 1:
        nn_barrier_wait(&w.job.barrier, w.job.n_threads, &w.sense)


cdef void sparse_update(Job* job, SparseBatch* sp, int me, Py_ssize_t n, floating* out, floating alpha,
                        int mode) noexcept nogil:
    """This thread's part of W_1's update from the batch's lists of nonzeros: its columns' rows of out
    get (mode 0) A_0^T delta_1 or (mode 1) alpha A_0^T delta_1 added."""
    cdef Net* net = job.net
    cdef Py_ssize_t n_in = net.sizes[0], n_out = net.sizes[1], c0, c1
    cdef Py_ssize_t* ptr = job.sp_ptr + me * (n_in + 1)
    sparse_columns(sp.counts, job.n_threads, n_in, me, job.n_threads, n, sp.idx, <floating*>sp.val, sp.beg,
                   sp.end, ptr, job.sp_fill + me * n_in, job.sp_crow, <floating*>job.sp_cval, &c0, &c1)
    spmm(job.sp_crow, <floating*>job.sp_cval, ptr + c0, ptr + c0 + 1, c1 - c0, <floating*>job.work + net.d_off[0],
         n_out, n_out, out + c0 * n_out, n_out, alpha, mode, False)


cdef bint all_finite(floating* x, Py_ssize_t n) noexcept nogil:
    """Whether x[0..n) holds no inf or NaN: x - x is 0 exactly for finite x (a sum, no branch)."""
    cdef Py_ssize_t i
    cdef floating s = 0
    for i in range(n):
        s += x[i] - x[i]
    return s == 0


cdef Py_ssize_t train_thread(Worker* w, floating* theta) noexcept nogil:
    """One thread's share of the epochs; returns the epochs completed. With one thread, the whole job.

    Per batch: mark the input columns of own rows | sync | gather own rows (and a part of W_1's rows in
    use: | sync) | forward, loss, deltas of own rows | sync | update own part of the weights (other
    optimizers: gradient part | sync | step on own part of theta). The next batch's first sync
    separates its reads of theta from this batch's updates. Sparse first layer: own rows as lists of
    nonzeros | sync | forward ... | sync | W_1's update for own columns from the lists, by column.
    Batch 1 with plain SGD on one thread and a small network: sgd_one. After an epoch whose loss is not
    finite, or after which theta holds a non-finite value (its loss is then NaN: the epoch's last
    update overflowed), stop (the epoch's start is in snapshot, when given).
    """
    cdef Job* job = w.job
    cdef Net* net = job.net
    cdef int me = w.index, T = job.n_threads, i
    cdef Py_ssize_t L = net.n_layers, n_in = net.sizes[0], k_out = net.sizes[L], P = job.n_params
    cdef Py_ssize_t e, start, n, r0, r1, K, k, batch = 0, p0, p1, correct, m = job.m
    cdef Py_ssize_t until_check = job.check_every
    cdef Py_ssize_t n_state = (job.optimizer != SGD) + (job.optimizer == ADAM)
    cdef floating* work = <floating*>job.work
    cdef floating* X = <floating*>job.X
    cdef floating* Y = <floating*>job.Y
    cdef floating* grad = <floating*>job.grad
    cdef floating* s1 = <floating*>job.s1
    cdef floating* s2 = <floating*>job.s2
    cdef floating* snapshot = <floating*>job.snapshot
    cdef floating* weights = <floating*>job.weights  # one per row of X, or NULL
    cdef floating w_total = 0
    cdef Py_ssize_t q
    cdef floating* W1 = theta + net.w_off[0]
    cdef floating* A0
    cdef floating* A
    cdef Py_ssize_t* cols = job.cols + me * n_in
    cdef Py_ssize_t* rows
    cdef bint fused_sgd = job.optimizer == SGD and job.hyper[1] == 0
    cdef SparseBatch* sp
    cdef double total
    for e in range(job.n_epochs):
        if me == 0 and snapshot != NULL:  # every thread is past the last epoch's updates
            memcpy(snapshot, theta, P * sizeof(floating))
            if n_state >= 1:
                memcpy(snapshot + P, s1, P * sizeof(floating))
            if n_state == 2:
                memcpy(snapshot + 2 * P, s2, P * sizeof(floating))
        job.loss_part[e * T + me] = 0
        job.correct_part[e * T + me] = 0
        start = 0
        while start < m:
            n = job.batch_size if start + job.batch_size <= m else m - start
            rows = job.order + e * m + start
            r0, r1 = part(n, me, T), part(n, me + 1, T)
            sp = &job.sparse[batch & 1] if job.use_sparse and n > 1 else NULL
            if sp != NULL:
                sparse_rows(X, rows, r0, r1, n_in, sp.idx, <floating*>sp.val, sp.beg, sp.end, sp.counts + me * n_in)
            elif n > 1:
                mark_nonzero(X, rows + r0, r1 - r0, n_in, <floating*>job.marks + me * n_in)
            if me == 0 and job.check_every > 0:  # Ctrl-C? before batches check_every, 2 check_every, ...
                if until_check == 0:
                    until_check = job.check_every
                    if check_signals():
                        nn_store(&job.stop, 1)
                until_check -= 1
            batch += 1
            sync(w)
            if nn_load(&job.stop):
                w.interrupted = True
                return e
            if weights != NULL:  # the batch's total weight, the same sum (in the same order) on every thread
                w_total = 0
                for q in range(n):
                    w_total += weights[rows[q]]
            elif n == 1 and T == 1 and fused_sgd and P <= SGD_ONE_MAX_PARAMS:
                A = sgd_one(net, job.loss, theta, work, X + rows[0] * n_in, Y + rows[0] * k_out, job.hyper[0])
                job.loss_part[e * T] += loss_total(job.loss, A, Y, rows, 1, k_out, NULL)
                job.correct_part[e * T] += count_correct(<int>net.acts[L - 1], A, Y, rows, 1, k_out)
                start += job.batch_size
                continue
            if n == 1:  # one sample: read in place (the product's loops skip its zeros)
                A0, K = X + rows[0] * n_in, n_in
            elif sp != NULL:
                A0, K = work + net.a_off[0], n_in  # not read
            else:
                A0 = work + net.a_off[0]
                K = columns_in_use(<floating*>job.marks, T, n_in, cols)
                gather_rows(X, rows, r0, r1, n_in, A0, cols, K)
                if K < n_in:
                    for k in range(part(K, me, T), part(K, me + 1, T)):
                        memcpy(work + net.wc_off + k * net.sizes[1], W1 + cols[k] * net.sizes[1],
                               net.sizes[1] * sizeof(floating))
                    sync(w)
            A = forward_rows(net, theta, work, A0, K, r0, r1, sp)
            job.loss_part[e * T + me] += loss_total(job.loss, A, Y, rows + r0, r1 - r0, k_out, weights)
            job.correct_part[e * T + me] += count_correct(<int>net.acts[L - 1], A, Y, rows + r0, r1 - r0, k_out)
            backward_rows(net, job.loss, theta, work, Y, rows, r0, r1, n, weights, w_total)
            sync(w)
            if fused_sgd:
                update_part(net, theta, work, A0, K, cols, n, me, T, grad, job.hyper[0], sp != NULL)
                if sp != NULL:
                    sparse_update(job, sp, me, n, W1, <floating>(-job.hyper[0]), 1)
            else:
                update_part(net, theta, work, A0, K, cols, n, me, T, grad, 0, sp != NULL)
                if sp != NULL:
                    sparse_update(job, sp, me, n, grad + net.w_off[0], 1, 0)
                sync(w)
                w.t += 1
                p0, p1 = part(P, me, T), part(P, me + 1, T)
                optimizer_step(job.optimizer, job.hyper, w.t, theta + p0, grad + p0,
                               s1 + p0 if n_state >= 1 else NULL, s2 + p0 if n_state == 2 else NULL, p1 - p0)
            start += job.batch_size
        if fused_sgd:
            w.t += (m + job.batch_size - 1) // job.batch_size
        sync(w)  # every thread's share of the epoch is in, and every update
        p0, p1 = part(P, me, T), part(P, me + 1, T)
        job.theta_finite[me] = all_finite(theta + p0, p1 - p0)
        total = 0
        correct = 0
        for i in range(T):
            total += job.loss_part[e * T + i]
            correct += job.correct_part[e * T + i]
        sync(w)  # every part of theta is checked
        for i in range(T):
            if not job.theta_finite[i]:
                total = NAN
        if me == 0:
            job.epoch_loss[e] = total
            job.epoch_correct[e] = correct
        if not (total - total == 0):  # NaN or inf
            return e + 1
    return job.n_epochs


cdef void run_worker(Worker* w) noexcept nogil:
    if w.job.is_double:
        w.done = train_thread(w, <double*>w.job.theta)
    else:
        w.done = train_thread(w, <float*>w.job.theta)


cdef void* worker_main(void* arg) noexcept nogil:
    cdef Worker* w = <Worker*>arg
    cdef int go = nn_load(&w.job.go)
    while go == 0:
        sched_yield()
        go = nn_load(&w.job.go)
    if go > 0:
        run_worker(w)
    return NULL


cdef void run_job(Job* job, Worker* workers, pthread_t* handles) noexcept nogil:
    """Run the job on job.n_threads threads: this one (thread 0) and the others started here. If a
    thread cannot be started, the job runs on this thread alone."""
    cdef int i, started = 0
    for i in range(1, job.n_threads):
        if pthread_create(&handles[i], NULL, worker_main, &workers[i]) != 0:
            break
        started += 1
    if started < job.n_threads - 1:
        nn_store(&job.go, -1)
        for i in range(1, started + 1):
            pthread_join(handles[i], NULL)
        job.n_threads = 1
        run_worker(&workers[0])
        return
    nn_store(&job.go, 1)
    run_worker(&workers[0])
    for i in range(1, job.n_threads):
        pthread_join(handles[i], NULL)


# ----- Python entry points: every check happens here, before the kernels run -----------------------
cdef Py_ssize_t _times(Py_ssize_t a, Py_ssize_t b, str what) except -1:
    """a b (a, b >= 0), or a ValueError naming `what` if it overflows Py_ssize_t."""
    if b != 0 and a > PY_SSIZE_T_MAX // b:
        raise ValueError(f"too large: {what} ({a} x {b}) overflows Py_ssize_t")
    return a * b


cdef Py_ssize_t _plus(Py_ssize_t a, Py_ssize_t b, str what) except -1:
    """a + b (a, b >= 0), or a ValueError naming `what` if it overflows Py_ssize_t."""
    if a > PY_SSIZE_T_MAX - b:
        raise ValueError(f"too large: {what} ({a} + {b}) overflows Py_ssize_t")
    return a + b


cdef Py_ssize_t[::1] _zeros(Py_ssize_t n):
    import numpy as np
    return np.zeros(n, dtype=np.intp)


cdef Py_ssize_t[::1] _copy(Py_ssize_t[::1] values):
    cdef Py_ssize_t[::1] out = _zeros(values.shape[0])
    out[:] = values
    return out


cdef class _Layout:
    """The network's layout, checked against the buffers it will index. Made by ``layout``; one made
    otherwise (``_Layout.__new__``) or whose initialisation failed is refused by every entry point."""
    cdef Net net
    cdef Py_ssize_t[::1] sizes, acts, w_off, a_off, d_off
    cdef Py_ssize_t n_params, work_size, batch
    cdef bint inference, ready

    def __cinit__(self):
        memset(&self.net, 0, sizeof(Net))
        self.n_params = self.work_size = self.batch = 0
        self.ready = False

    def __init__(self, Py_ssize_t[::1] sizes not None, Py_ssize_t[::1] acts not None, Py_ssize_t batch,
                 bint inference=False):
        cdef Py_ssize_t l, L = acts.shape[0], offset = 0, n_params
        # Once ready, a layout never changes: a train call may be running on it without the GIL.
        if self.ready:
            raise ValueError("this layout is already initialised; make a new one with layout()")
        # Checked and used from copies of its own: the caller may change its arrays meanwhile.
        sizes, acts = _copy(sizes), _copy(acts)
        if L < 1 or sizes.shape[0] != L + 1:
            raise ValueError(f"sizes must have one more entry than acts (got {sizes.shape[0]} and {L})")
        # The products take int dimensions: layer sizes and batch rows, also as leading dimensions.
        if batch < 1 or batch > INT_MAX:
            raise ValueError(f"batch must be in 1..{INT_MAX}, got {batch}")
        for l in range(L + 1):
            if sizes[l] < 1 or sizes[l] > INT_MAX:
                raise ValueError(f"layer sizes must be in 1..{INT_MAX}, got {list(sizes)}")
        for l in range(L):
            if acts[l] < 0 or acts[l] > SOFTMAX:
                raise ValueError(f"activation codes must be in 0..{SOFTMAX}, got {acts[l]}")
        self.sizes, self.acts, self.batch, self.inference = sizes, acts, batch, inference
        self.w_off = _zeros(L)
        self.a_off = _zeros(L + 1)
        self.d_off = _zeros(L)
        for l in range(L):
            self.w_off[l] = offset
            offset = _plus(offset, _plus(_times(sizes[l], sizes[l + 1], "a weight matrix"), sizes[l + 1],
                                         "a layer's parameters"), "the parameters")
        n_params = offset
        # Inference reads its input in place and needs no deltas: only the layers' outputs.
        offset = 0
        for l in range(L + 1):
            self.a_off[l] = offset
            if l > 0 or not inference:
                offset = _plus(offset, _times(batch, sizes[l], "a layer's outputs"), "the scratch")
        # Training: each layer's delta, and room for W_1's rows in use.
        for l in range(L):
            self.d_off[l] = offset
            if not inference:
                offset = _plus(offset, _times(batch, sizes[l + 1], "a layer's deltas"), "the scratch")
        self.net.wc_off = offset
        if not inference:
            offset = _plus(offset, _times(sizes[0], sizes[1], "W_1"), "the scratch")
        self.n_params, self.work_size = n_params, offset
        self.net.n_layers = L
        self.net.sizes = &self.sizes[0]
        self.net.acts = &self.acts[0]
        self.net.w_off = &self.w_off[0]
        self.net.a_off = &self.a_off[0]
        self.net.d_off = &self.d_off[0]
        self.ready = True

    @property
    def n_params(self):
        return self.n_params

    @property
    def work_size(self):
        return self.work_size

    def output_offsets(self):
        """[(offset, rows, cols)] of each layer's output in work, for a full batch."""
        self.require()
        return [(self.a_off[l + 1], self.batch, self.sizes[l + 1]) for l in range(self.net.n_layers)]

    cdef require(self):
        if not self.ready:
            raise ValueError("the layout is not initialised: make it with layout()")

    cdef check(self, Py_ssize_t theta_size, Py_ssize_t work_size, Py_ssize_t x_rows, Py_ssize_t x_cols,
               Py_ssize_t y_rows=-1, Py_ssize_t y_cols=-1):
        """theta, work and X (and Y, unless y_rows < 0) against the layout."""
        self.require()
        if theta_size != self.n_params:
            raise ValueError(f"theta has {theta_size} entries, the layout needs {self.n_params}")
        if work_size < self.work_size:
            raise ValueError(f"work has {work_size} entries, the layout needs {self.work_size}")
        if x_cols != self.sizes[0]:
            raise ValueError(f"X has {x_cols} columns, the layout expects {self.sizes[0]}")
        if y_rows >= 0 and (y_cols != self.sizes[self.net.n_layers] or y_rows != x_rows):
            raise ValueError(f"Y has shape ({y_rows}, {y_cols}); expected ({x_rows}, {self.sizes[self.net.n_layers]})")
        if x_rows < 1:
            raise ValueError("X has no rows")

    cdef check_batch(self, Py_ssize_t x_rows):
        if x_rows > self.batch:
            raise ValueError(f"X has {x_rows} rows, the layout holds {self.batch}")


def layout(Py_ssize_t[::1] sizes not None, Py_ssize_t[::1] acts not None, Py_ssize_t batch, bint inference=False):
    """A checked layout for a network of ``sizes`` (n_in, n_1, ..., n_L) with activation codes ``acts``
    and batches of up to ``batch`` rows. ``work_size`` is the scratch length it needs; an inference
    layout serves ``forward`` only."""
    return _Layout(sizes, acts, batch, inference)


cdef _check_training(_Layout lay):
    lay.require()
    if lay.inference:
        raise ValueError("an inference layout cannot train or compute gradients")


def forward(_Layout lay not None, const floating[::1] theta not None, floating[::1] work not None,
            const floating[:, ::1] X not None):
    """Run X (n <= lay.batch rows) through the network into work; returns nothing (read the outputs
    with ``lay`` offsets from Python: see nn.backends.compiled)."""
    lay.check(theta.shape[0], work.shape[0], X.shape[0], X.shape[1])
    lay.check_batch(X.shape[0])
    with nogil:
        forward_rows(&lay.net, <floating*>&theta[0], &work[0], <floating*>&X[0, 0], X.shape[1], 0, X.shape[0])


def gradients(_Layout lay not None, int loss, const floating[::1] theta not None, floating[::1] work not None,
              const floating[:, ::1] X not None, const floating[:, ::1] Y not None, floating[::1] grad not None,
              const floating[::1] weights=None):
    """Loss of the batch (X, Y) and dL/dtheta into grad (theta's layout). With ``weights`` (one per row),
    the loss is sum(w_i l_i) / sum(w_i) (0 if the weights sum to 0) and the gradient is its gradient."""
    cdef double value
    cdef floating* A
    cdef floating* W = NULL
    cdef floating w_total = 0
    cdef Py_ssize_t i
    _check_training(lay)
    lay.check(theta.shape[0], work.shape[0], X.shape[0], X.shape[1], Y.shape[0], Y.shape[1])
    _check_codes(loss, SGD)
    if grad.shape[0] != theta.shape[0]:
        raise ValueError(f"grad has {grad.shape[0]} entries, theta {theta.shape[0]}")
    lay.check_batch(X.shape[0])
    if weights is not None:
        _check_weights(weights, X.shape[0])
        W = <floating*>&weights[0]
        for i in range(X.shape[0]):
            w_total += W[i]
    with nogil:
        A = forward_rows(&lay.net, <floating*>&theta[0], &work[0], <floating*>&X[0, 0], X.shape[1], 0, X.shape[0])
        value = loss_total(loss, A, <floating*>&Y[0, 0], NULL, X.shape[0], Y.shape[1], W)
        if W == NULL:
            value /= X.shape[0]
        else:
            value = value / w_total if w_total != 0 else 0
        backward_rows(&lay.net, loss, <floating*>&theta[0], &work[0], <floating*>&Y[0, 0], NULL, 0, X.shape[0],
                      X.shape[0], W, w_total)
        update_part(&lay.net, <floating*>&theta[0], &work[0], <floating*>&X[0, 0], X.shape[1], NULL, X.shape[0], 0, 1,
                    &grad[0], 0)
    return value


cdef _check_weights(const floating[::1] weights, Py_ssize_t n_rows):
    """Sample weights: one per row of X, each finite and >= 0."""
    cdef Py_ssize_t i
    if weights.shape[0] != n_rows:
        raise ValueError(f"weights has {weights.shape[0]} entries, X has {n_rows} rows")
    for i in range(n_rows):
        if not (weights[i] >= 0 and weights[i] - weights[i] == 0):
            raise ValueError(f"weights must be finite and >= 0, got {weights[i]} at {i}")


cdef _check_codes(int loss, int optimizer):
    if loss < 0 or loss > CROSS_ENTROPY:
        raise ValueError(f"loss code must be in 0..{CROSS_ENTROPY}, got {loss}")
    if optimizer < 0 or optimizer > ADAM:
        raise ValueError(f"optimizer code must be in 0..{ADAM}, got {optimizer}")


# At most this many threads train one network.
MAX_THREADS = 64


def train(_Layout lay not None, int loss, int optimizer, const double[::1] hyper not None,
          long long[::1] steps not None, floating[::1] theta not None, floating[::1] grad not None,
          floating[::1] state1 not None, floating[::1] state2 not None, floating[::1] work not None,
          const floating[:, ::1] X not None, const floating[:, ::1] Y not None,
          const Py_ssize_t[:, ::1] order not None, Py_ssize_t batch_size,
          double[::1] epoch_loss not None, Py_ssize_t[::1] epoch_correct not None,
          floating[::1] snapshot not None, Py_ssize_t check_every=0, int threads=1, bint sparse=False,
          const floating[::1] weights=None):
    """Train for order.shape[0] epochs, epoch e visiting rows order[e] in batches of batch_size, without
    the GIL. Updates theta, the optimizer state and steps[0] (steps taken) in place; fills epoch_loss
    (sum over the epoch's samples of each one's loss) and epoch_correct. Stops after an epoch whose loss
    is not finite or after which theta holds a non-finite value (its loss is then reported as NaN); with
    a non-empty snapshot (theta and the state, concatenated), that epoch's start is kept there. Checks
    for Ctrl-C every check_every batches (0: never) and raises Interrupted, leaving the weights of the
    last completed batch. Returns the number of epochs completed.

    threads > 1 splits every batch between that many threads (at most batch_size): each runs its share
    of the rows forward and back, and updates its share of each weight matrix's rows. Their products
    call BLAS at the same time: it should be set to one thread of its own meanwhile (the caller's job).

    sparse: the first layer of batches of two or more rows runs on each row's list of nonzeros (spmm:
    AVX2 / FMA when SPARSE_KERNELS, else portable loops), for inputs that are mostly zeros.

    weights: one sample weight per row of X (or None): each batch's loss is sum(w_i l_i) / sum(w_i), and
    epoch_loss holds the sum over the epoch of w_i l_i.
    """
    cdef Py_ssize_t P = theta.shape[0], n_epochs = order.shape[0], m = order.shape[1], i
    cdef Py_ssize_t n_state = (optimizer != SGD) + (optimizer == ADAM)
    cdef Py_ssize_t n_rows = X.shape[0], n_in
    cdef int T
    _check_training(lay)
    lay.check(P, work.shape[0], X.shape[0], X.shape[1], Y.shape[0], Y.shape[1])
    _check_codes(loss, optimizer)
    if hyper.shape[0] != len(HYPER_NAMES):
        raise ValueError(f"hyper must hold {len(HYPER_NAMES)} values: {HYPER_NAMES}")
    if not hyper[0] > 0:
        raise ValueError(f"learning_rate must be > 0, got {hyper[0]}")
    if steps.shape[0] != 1:
        raise ValueError("steps must hold one value")
    if grad.shape[0] != P:
        raise ValueError(f"grad has {grad.shape[0]} entries, theta {P}")
    if (n_state >= 1 and state1.shape[0] != P) or (n_state == 2 and state2.shape[0] != P):
        raise ValueError(f"{OPTIMIZER_NAMES[optimizer]} needs {n_state} state arrays of {P} entries")
    if snapshot.shape[0] != 0 and snapshot.shape[0] != (1 + n_state) * P:
        raise ValueError(f"snapshot must be empty or hold {(1 + n_state) * P} entries")
    if batch_size < 1 or batch_size > lay.batch:
        raise ValueError(f"batch_size must be in 1..{lay.batch}, got {batch_size}")
    if epoch_loss.shape[0] < n_epochs or epoch_correct.shape[0] < n_epochs:
        raise ValueError(f"epoch_loss and epoch_correct must hold {n_epochs} values")
    if threads < 1 or threads > MAX_THREADS:
        raise ValueError(f"threads must be in 1..{MAX_THREADS}, got {threads}")
    if check_every < 0:
        raise ValueError(f"check_every must be >= 0 (0: never), got {check_every}")
    if m == 0 or n_epochs == 0:
        return 0
    if steps[0] < 0:
        raise ValueError(f"steps must hold the steps taken so far (>= 0), got {steps[0]}")
    _plus(<Py_ssize_t>steps[0], _times(n_epochs, (m + batch_size - 1) // batch_size, "the steps"), "the steps")
    for i in range(n_epochs * m):
        if order[i // m, i % m] < 0 or order[i // m, i % m] >= n_rows:
            raise ValueError(f"order holds row {order[i // m, i % m]}, outside 0..{n_rows - 1}")
    if weights is not None:
        _check_weights(weights, n_rows)
    T = <int>min(threads, batch_size)
    n_in = lay.sizes[0]
    # Scratch sizes that could overflow: the epochs' figures, a batch's lists of nonzeros (the others,
    # at most MAX_THREADS x (n_in + 1) entries, cannot: n_in <= INT_MAX).
    cdef Py_ssize_t epoch_parts = _times(n_epochs, T, "order's epochs")
    _times(epoch_parts, sizeof(double), "order's epochs")
    if sparse:
        _times(_times(batch_size, n_in, "a sparse batch"), sizeof(double), "a sparse batch")
    cdef Job job
    memset(&job, 0, sizeof(Job))
    job.net = &lay.net
    # The core only reads hyper, X, Y and order (they may be read-only arrays, such as memory maps).
    job.loss, job.optimizer, job.n_threads, job.hyper = loss, optimizer, T, <double*>&hyper[0]
    job.theta, job.grad, job.work, job.X, job.Y = &theta[0], &grad[0], &work[0], <void*>&X[0, 0], <void*>&Y[0, 0]
    job.s1 = &state1[0] if state1.shape[0] else NULL
    job.s2 = &state2[0] if state2.shape[0] else NULL
    job.snapshot = &snapshot[0] if snapshot.shape[0] else NULL
    job.weights = <void*>&weights[0] if weights is not None else NULL
    job.order, job.n_epochs, job.m, job.batch_size, job.n_params = <Py_ssize_t*>&order[0, 0], n_epochs, m, batch_size, P
    job.check_every, job.epoch_loss, job.epoch_correct = check_every, &epoch_loss[0], &epoch_correct[0]
    job.is_double = floating is double
    # Scratch, allocated once per call: each thread's share of the epochs' figures, its marks and
    # columns of the first layer's inputs in use (see columns_in_use), the threads themselves.
    job.loss_part = <double*>malloc(n_epochs * T * sizeof(double))
    job.correct_part = <Py_ssize_t*>malloc(n_epochs * T * sizeof(Py_ssize_t))
    job.theta_finite = <bint*>malloc(T * sizeof(bint))
    job.marks = malloc(T * n_in * sizeof(double))
    job.cols = <Py_ssize_t*>malloc(T * n_in * sizeof(Py_ssize_t))
    cdef bint sparse_ok = True
    job.use_sparse = sparse
    if sparse:  # sizeof(double): room for either dtype
        for i in range(2):
            job.sparse[i].idx = <int*>malloc(batch_size * n_in * sizeof(int))
            job.sparse[i].val = malloc(batch_size * n_in * sizeof(double))
            job.sparse[i].beg = <Py_ssize_t*>malloc(batch_size * sizeof(Py_ssize_t))
            job.sparse[i].end = <Py_ssize_t*>malloc(batch_size * sizeof(Py_ssize_t))
            job.sparse[i].counts = <int*>malloc(T * n_in * sizeof(int))
            sparse_ok = sparse_ok and (job.sparse[i].idx != NULL and job.sparse[i].val != NULL
                                       and job.sparse[i].beg != NULL and job.sparse[i].end != NULL
                                       and job.sparse[i].counts != NULL)
        job.sp_ptr = <Py_ssize_t*>malloc(T * (n_in + 1) * sizeof(Py_ssize_t))
        job.sp_fill = <Py_ssize_t*>malloc(T * n_in * sizeof(Py_ssize_t))
        job.sp_crow = <int*>malloc(batch_size * n_in * sizeof(int))
        job.sp_cval = malloc(batch_size * n_in * sizeof(double))
        sparse_ok = sparse_ok and (job.sp_ptr != NULL and job.sp_fill != NULL and job.sp_crow != NULL
                                   and job.sp_cval != NULL)
    cdef Worker* workers = <Worker*>calloc(T, sizeof(Worker))
    cdef pthread_t* handles = <pthread_t*>calloc(T, sizeof(pthread_t))
    try:
        if (job.loss_part == NULL or job.correct_part == NULL or job.theta_finite == NULL or job.marks == NULL
                or job.cols == NULL
                or workers == NULL or handles == NULL or not sparse_ok):
            raise MemoryError()
        for i in range(T):
            workers[i].job = &job
            workers[i].index = <int>i
            workers[i].t = steps[0]
        with nogil:
            run_job(&job, workers, handles)
        steps[0] = workers[0].t
        if workers[0].interrupted:
            raise Interrupted(workers[0].done)
        return workers[0].done
    finally:
        free(job.loss_part)
        free(job.correct_part)
        free(job.theta_finite)
        free(job.marks)
        free(job.cols)
        for i in range(2):
            free(job.sparse[i].idx)
            free(job.sparse[i].val)
            free(job.sparse[i].beg)
            free(job.sparse[i].end)
            free(job.sparse[i].counts)
        free(job.sp_ptr)
        free(job.sp_fill)
        free(job.sp_crow)
        free(job.sp_cval)
        free(workers)
        free(handles)


# ----- kernels exposed one by one, for the tests that pair them with their NumPy twins -------------
def activate_inplace(floating[:, ::1] Z not None, int activation, const floating[::1] bias=None):
    """Z <- f(Z + bias) in place, f given by its code (index into ACTIVATION_NAMES)."""
    if activation < 0 or activation > SOFTMAX:
        raise ValueError(f"activation code must be in 0..{SOFTMAX}, got {activation}")
    if bias is not None and bias.shape[0] != Z.shape[1]:
        raise ValueError(f"bias has {bias.shape[0]} entries, Z has {Z.shape[1]} columns")
    if Z.shape[0] == 0 or Z.shape[1] == 0:
        return
    with nogil:
        bias_activate(&Z[0, 0], <floating*>&bias[0] if bias is not None else NULL, Z.shape[0], Z.shape[1], activation)


def backprop_inplace(const floating[:, ::1] A not None, floating[:, ::1] G not None, int activation):
    """G <- dL/dZ from G = dL/dA and the output A, in place."""
    if activation < 0 or activation > SOFTMAX:
        raise ValueError(f"activation code must be in 0..{SOFTMAX}, got {activation}")
    if A.shape[0] != G.shape[0] or A.shape[1] != G.shape[1]:
        raise ValueError(f"A and G must have the same shape, got ({A.shape[0]}, {A.shape[1]}) and ({G.shape[0]}, {G.shape[1]})")
    if A.shape[0] == 0 or A.shape[1] == 0:
        return
    with nogil:
        backprop_activation(<floating*>&A[0, 0], &G[0, 0], A.shape[0], A.shape[1], activation)


def loss_and_delta(int loss, int activation, const floating[:, ::1] A not None, const floating[:, ::1] Y not None,
                   floating[:, ::1] D not None, const floating[::1] weights=None):
    """(loss, correct rows) of A against Y, and the output delta dL/dZ into D; with ``weights`` (one per
    row), the weighted loss sum(w_i l_i) / sum(w_i) and its delta."""
    cdef double value
    cdef Py_ssize_t correct, i
    cdef floating* W = NULL
    cdef floating w_total = 0
    _check_codes(loss, SGD)
    if activation < 0 or activation > SOFTMAX:
        raise ValueError(f"activation code must be in 0..{SOFTMAX}, got {activation}")
    if A.shape[0] != Y.shape[0] or A.shape[1] != Y.shape[1] or A.shape[0] != D.shape[0] or A.shape[1] != D.shape[1]:
        raise ValueError("A, Y and D must have the same shape")
    if A.shape[0] == 0 or A.shape[1] == 0:
        raise ValueError("A is empty")
    if weights is not None:
        _check_weights(weights, A.shape[0])
        W = <floating*>&weights[0]
        for i in range(A.shape[0]):
            w_total += W[i]
    with nogil:
        value = loss_total(loss, <floating*>&A[0, 0], <floating*>&Y[0, 0], NULL, A.shape[0], A.shape[1], W)
        if W == NULL:
            value /= A.shape[0]
        else:
            value = value / w_total if w_total != 0 else 0
        correct = count_correct(activation, <floating*>&A[0, 0], <floating*>&Y[0, 0], NULL, A.shape[0], A.shape[1])
        output_delta(loss, activation, <floating*>&A[0, 0], <floating*>&Y[0, 0], NULL, A.shape[0], A.shape[0],
                     A.shape[1], &D[0, 0], W, w_total)
    return value, correct


def matmul(const floating[:, ::1] A not None, const floating[:, ::1] B not None, floating[:, ::1] C not None,
           bint trans_a=False, bint trans_b=False, double alpha=1, double beta=0):
    """C <- alpha op(A) op(B) + beta C (row-major), through BLAS or the small-product loops."""
    cdef Py_ssize_t M = A.shape[1] if trans_a else A.shape[0], K = A.shape[0] if trans_a else A.shape[1]
    cdef Py_ssize_t KB = B.shape[1] if trans_b else B.shape[0], N = B.shape[0] if trans_b else B.shape[1]
    if K != KB or C.shape[0] != M or C.shape[1] != N:
        raise ValueError(f"shapes do not match: op(A) {M}x{K}, op(B) {KB}x{N}, C {C.shape[0]}x{C.shape[1]}")
    # BLAS takes int sizes; A's and B's dimensions are every size and leading dimension passed.
    if max(A.shape[0], A.shape[1], B.shape[0], B.shape[1]) > INT_MAX:
        raise ValueError(f"matmul's dimensions must be at most {INT_MAX}, got A ({A.shape[0]}, {A.shape[1]}) "
                         f"and B ({B.shape[0]}, {B.shape[1]})")
    if M == 0 or N == 0:
        return
    if K == 0:
        raise ValueError("the inner dimension is 0")
    with nogil:
        gemm(c'T' if trans_a else c'N', c'T' if trans_b else c'N', <int>M, <int>N, <int>K, <floating>alpha,
             <floating*>&A[0, 0], <int>A.shape[1], <floating*>&B[0, 0], <int>B.shape[1], <floating>beta, &C[0, 0],
             <int>C.shape[1])


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
    if parts < 1 or parts > MAX_THREADS:
        raise ValueError(f"parts must be in 1..{MAX_THREADS} (a team's threads), got {parts}")
    if _times(n, k, "A") >= INT_MAX:  # the lists' indices are int
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


def step(int optimizer, const double[::1] hyper not None, long long t, floating[::1] p not None,
         floating[::1] g not None, floating[::1] s1 not None, floating[::1] s2 not None):
    """One optimizer update of p from g (g is scratch), t the step number (from 1)."""
    cdef Py_ssize_t n = p.shape[0]
    cdef Py_ssize_t n_state = (optimizer != SGD) + (optimizer == ADAM)
    _check_codes(MSE, optimizer)
    if hyper.shape[0] != len(HYPER_NAMES):
        raise ValueError(f"hyper must hold {len(HYPER_NAMES)} values: {HYPER_NAMES}")
    if g.shape[0] != n or (n_state >= 1 and s1.shape[0] != n) or (n_state == 2 and s2.shape[0] != n):
        raise ValueError("p, g and the state arrays must have the same length")
    if t < 1:
        raise ValueError(f"t must be >= 1, got {t}")
    if n == 0:
        return
    with nogil:
        optimizer_step(optimizer, <double*>&hyper[0], t, &p[0], &g[0], &s1[0] if n_state >= 1 else NULL,
                       &s2[0] if n_state == 2 else NULL, n)
