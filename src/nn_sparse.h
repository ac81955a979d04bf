/* nn_sparse.h: a sparse matrix (lists of (index, value) pairs) times a dense one, the first layer of
   training on inputs that are mostly zeros (MNIST). Used by src/nn/_sparse.pyx.

   Two forms of one kernel: a portable one, and one compiled for AVX2 and FMA only here (the rest of the
   core stays baseline x86-64) and called only when the processor has them (nn_cpu_has_avx2_fma).
   Included after Python.h (Cython's modules include it first): Py_ssize_t is Python's. */
#ifndef NN_SPARSE_H
#define NN_SPARSE_H
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

#endif  /* NN_SPARSE_H */
