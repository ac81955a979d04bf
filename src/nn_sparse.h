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

/* The same with AVX-512F: up to 16 vector accumulators (a chunk of 128 doubles or 256 floats, a whole
   row of W_1 for 784-128-10, so that a dense row streams W_1 once, in order), then one chunk of as many
   vectors as the last columns need, its last vector masked: no column is left to the portable loop.
   A column's sum is the same FMAs in the same order as in the AVX2 kernel. */
/* Accumulator t (a0 .. a15: named variables, not an array, which GCC keeps on the stack and stores to
   every step): its FMA with B's row b, its store to o; nothing for t >= K, the last one masked. */
#define NN_SPMM512_FMA(t, K, L, FMADD, LOADU, MLOADU)                                                \
    if (t < K - 1) a##t = FMADD(x, LOADU(b + t * L), a##t);                                        \
    else if (t == K - 1) a##t = FMADD(x, MLOADU(last, b + t * L), a##t);
#define NN_SPMM512_STORE(t, K, L, FMADD, LOADU, MLOADU, STOREU, MSTOREU)                             \
    if (t < K - 1) STOREU(o + t * L, mode == 0 ? a##t : FMADD(va, a##t, LOADU(o + t * L)));        \
    else if (t == K - 1) MSTOREU(o + t * L, last, mode == 0 ? a##t                                 \
                                 : FMADD(va, a##t, MLOADU(last, o + t * L)));
#define NN_SPMM512_EACH(F, ...)                                                                    \
    F(0, __VA_ARGS__) F(1, __VA_ARGS__) F(2, __VA_ARGS__) F(3, __VA_ARGS__) F(4, __VA_ARGS__)      \
    F(5, __VA_ARGS__) F(6, __VA_ARGS__) F(7, __VA_ARGS__) F(8, __VA_ARGS__) F(9, __VA_ARGS__)      \
    F(10, __VA_ARGS__) F(11, __VA_ARGS__) F(12, __VA_ARGS__) F(13, __VA_ARGS__) F(14, __VA_ARGS__) \
    F(15, __VA_ARGS__)
#define NN_SPMM512_CHUNK(T, S, V, L, M, K, SETZERO, SET1, LOADU, MLOADU, STOREU, MSTOREU, FMADD)    \
__attribute__((target("avx512f"))) static inline void nn_spmm512_##S##K(                           \
        const int* idx, const T* val, Py_ssize_t e0, Py_ssize_t e1, const T* B, Py_ssize_t ldb,      \
        T* o, T alpha, int mode, M last) {                                                         \
    V a0 = SETZERO(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0,      \
      a9 = a0, a10 = a0, a11 = a0, a12 = a0, a13 = a0, a14 = a0, a15 = a0;                         \
    for (Py_ssize_t e = e0; e < e1; e++) {                                                         \
        const T* b = B + (Py_ssize_t)idx[e] * ldb;                                                 \
        const V x = SET1(val[e]);                                                                  \
        NN_SPMM512_EACH(NN_SPMM512_FMA, K, L, FMADD, LOADU, MLOADU)                                 \
    }                                                                                              \
    const V va = SET1(alpha);                                                                      \
    NN_SPMM512_EACH(NN_SPMM512_STORE, K, L, FMADD, LOADU, MLOADU, STOREU, MSTOREU)                  \
}
#define NN_SPMM512_CHUNKS(T, S, V, L, M, ...)                                                      \
    NN_SPMM512_CHUNK(T, S, V, L, M, 1, __VA_ARGS__) NN_SPMM512_CHUNK(T, S, V, L, M, 2, __VA_ARGS__)   \
    NN_SPMM512_CHUNK(T, S, V, L, M, 3, __VA_ARGS__) NN_SPMM512_CHUNK(T, S, V, L, M, 4, __VA_ARGS__)   \
    NN_SPMM512_CHUNK(T, S, V, L, M, 5, __VA_ARGS__) NN_SPMM512_CHUNK(T, S, V, L, M, 6, __VA_ARGS__)   \
    NN_SPMM512_CHUNK(T, S, V, L, M, 7, __VA_ARGS__) NN_SPMM512_CHUNK(T, S, V, L, M, 8, __VA_ARGS__)   \
    NN_SPMM512_CHUNK(T, S, V, L, M, 9, __VA_ARGS__) NN_SPMM512_CHUNK(T, S, V, L, M, 10, __VA_ARGS__)  \
    NN_SPMM512_CHUNK(T, S, V, L, M, 11, __VA_ARGS__) NN_SPMM512_CHUNK(T, S, V, L, M, 12, __VA_ARGS__) \
    NN_SPMM512_CHUNK(T, S, V, L, M, 13, __VA_ARGS__) NN_SPMM512_CHUNK(T, S, V, L, M, 14, __VA_ARGS__) \
    NN_SPMM512_CHUNK(T, S, V, L, M, 15, __VA_ARGS__) NN_SPMM512_CHUNK(T, S, V, L, M, 16, __VA_ARGS__)
NN_SPMM512_CHUNKS(double, d, __m512d, 8, __mmask8, _mm512_setzero_pd, _mm512_set1_pd, _mm512_loadu_pd,
                  _mm512_maskz_loadu_pd, _mm512_storeu_pd, _mm512_mask_storeu_pd, _mm512_fmadd_pd)
NN_SPMM512_CHUNKS(float, f, __m512, 16, __mmask16, _mm512_setzero_ps, _mm512_set1_ps, _mm512_loadu_ps,
                  _mm512_maskz_loadu_ps, _mm512_storeu_ps, _mm512_mask_storeu_ps, _mm512_fmadd_ps)

#define NN_SPMM_AVX512(T, S, L, M)                                                                 \
__attribute__((target("avx512f")))                                                                 \
static void nn_spmm_avx512_##S(const int* idx, const T* val, const Py_ssize_t* beg,                \
                               const Py_ssize_t* end, Py_ssize_t n_lists, const T* B,              \
                               Py_ssize_t ldb, Py_ssize_t N, T* out, Py_ssize_t ldo, T alpha,       \
                               int mode) {                                                         \
    const M full = (M)~(M)0;                                                                       \
    for (Py_ssize_t j = 0; j < n_lists; j++) {                                                     \
        T* o = out + j * ldo;                                                                      \
        if (beg[j] == end[j]) {                                                                    \
            if (mode == 0) memset(o, 0, N * sizeof(T));                                           \
            continue;                                                                              \
        }                                                                                          \
        Py_ssize_t c = 0;                                                                          \
        for (; N - c >= 16 * L; c += 16 * L)                                                       \
            nn_spmm512_##S##16(idx, val, beg[j], end[j], B + c, ldb, o + c, alpha, mode, full);    \
        if (c == N) continue;                                                                      \
        const Py_ssize_t rest = N - c, vectors = (rest + L - 1) / L;                               \
        const M last = rest % L ? (M)((1u << (rest % L)) - 1) : full;                              \
        const Py_ssize_t e0 = beg[j], e1 = end[j];                                                 \
        const T* Bc = B + c;                                                                       \
        T* oc = o + c;                                                                             \
        switch (vectors) {                                                                         \
        case 1: nn_spmm512_##S##1(idx, val, e0, e1, Bc, ldb, oc, alpha, mode, last); break;        \
        case 2: nn_spmm512_##S##2(idx, val, e0, e1, Bc, ldb, oc, alpha, mode, last); break;        \
        case 3: nn_spmm512_##S##3(idx, val, e0, e1, Bc, ldb, oc, alpha, mode, last); break;        \
        case 4: nn_spmm512_##S##4(idx, val, e0, e1, Bc, ldb, oc, alpha, mode, last); break;        \
        case 5: nn_spmm512_##S##5(idx, val, e0, e1, Bc, ldb, oc, alpha, mode, last); break;        \
        case 6: nn_spmm512_##S##6(idx, val, e0, e1, Bc, ldb, oc, alpha, mode, last); break;        \
        case 7: nn_spmm512_##S##7(idx, val, e0, e1, Bc, ldb, oc, alpha, mode, last); break;        \
        case 8: nn_spmm512_##S##8(idx, val, e0, e1, Bc, ldb, oc, alpha, mode, last); break;        \
        case 9: nn_spmm512_##S##9(idx, val, e0, e1, Bc, ldb, oc, alpha, mode, last); break;        \
        case 10: nn_spmm512_##S##10(idx, val, e0, e1, Bc, ldb, oc, alpha, mode, last); break;      \
        case 11: nn_spmm512_##S##11(idx, val, e0, e1, Bc, ldb, oc, alpha, mode, last); break;      \
        case 12: nn_spmm512_##S##12(idx, val, e0, e1, Bc, ldb, oc, alpha, mode, last); break;      \
        case 13: nn_spmm512_##S##13(idx, val, e0, e1, Bc, ldb, oc, alpha, mode, last); break;      \
        case 14: nn_spmm512_##S##14(idx, val, e0, e1, Bc, ldb, oc, alpha, mode, last); break;      \
        case 15: nn_spmm512_##S##15(idx, val, e0, e1, Bc, ldb, oc, alpha, mode, last); break;      \
        default: nn_spmm512_##S##16(idx, val, e0, e1, Bc, ldb, oc, alpha, mode, last); break;      \
        }                                                                                          \
    }                                                                                              \
}
NN_SPMM_AVX512(double, d, 8, __mmask8)
NN_SPMM_AVX512(float, f, 16, __mmask16)

/* One row's list of its nonzeros (the twin of sparse_rows' loop in _sparse.pyx): the columns and
   values of row[0..n) that are not 0 (NaN is not 0), in column order, compressed into a register a
   vector at a time and stored with a mask of as many lanes (a compress straight to memory is slow on
   some processors: AMD's Zen 4 microcodes it); returns how many. */
#define NN_LIST_AVX512(T, S, L, M, SETZERO, MLOADU, MCMP, MCOMPRESS, MSTOREU)                      \
__attribute__((target("avx512f")))                                                                 \
static Py_ssize_t nn_list_row_avx512_##S(const T* row, Py_ssize_t n, int* idx, T* val) {           \
    Py_ssize_t c = 0;                                                                              \
    __m512i k = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);            \
    const __m512i step = _mm512_set1_epi32(L);                                                     \
    for (Py_ssize_t j = 0; j < n; j += L) {                                                        \
        const M in = n - j >= L ? (M)~(M)0 : (M)((1u << (n - j)) - 1);                             \
        const M nz = MCMP(in, MLOADU(in, row + j), SETZERO(), _CMP_NEQ_UQ);                        \
        const int count = __builtin_popcount((unsigned)nz);                                        \
        const M first = (M)((1u << count) - 1);                                                    \
        MSTOREU(val + c, first, MCOMPRESS(nz, MLOADU(in, row + j)));                               \
        _mm512_mask_storeu_epi32(idx + c, (__mmask16)first, _mm512_maskz_compress_epi32((__mmask16)nz, k)); \
        c += count;                                                                                \
        k = _mm512_add_epi32(k, step);                                                             \
    }                                                                                              \
    return c;                                                                                      \
}
NN_LIST_AVX512(double, d, 8, __mmask8, _mm512_setzero_pd, _mm512_maskz_loadu_pd, _mm512_mask_cmp_pd_mask,
               _mm512_maskz_compress_pd, _mm512_mask_storeu_pd)
NN_LIST_AVX512(float, f, 16, __mmask16, _mm512_setzero_ps, _mm512_maskz_loadu_ps, _mm512_mask_cmp_ps_mask,
               _mm512_maskz_compress_ps, _mm512_mask_storeu_ps)
static int nn_cpu_has_avx512f(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f");
}
#else
static int nn_cpu_has_avx2_fma(void) { return 0; }
static int nn_cpu_has_avx512f(void) { return 0; }
#define nn_spmm_avx2_d nn_spmm_portable_d
#define nn_spmm_avx2_f nn_spmm_portable_f
#define nn_spmm_avx512_d nn_spmm_portable_d
#define nn_spmm_avx512_f nn_spmm_portable_f
static Py_ssize_t nn_list_row_avx512_d(const double* row, Py_ssize_t n, int* idx, double* val) {
    (void)row; (void)n; (void)idx; (void)val; return -1;  /* never called: no AVX-512 here */
}
static Py_ssize_t nn_list_row_avx512_f(const float* row, Py_ssize_t n, int* idx, float* val) {
    (void)row; (void)n; (void)idx; (void)val; return -1;
}
#endif

/* A hint that the cache line at p is read soon (no fault, whatever p is; nothing where the compiler
   has no such builtin). */
static inline void nn_prefetch_line(const void* p) {
#if defined(__GNUC__) || defined(__clang__)
    __builtin_prefetch(p, 0, 3);
#else
    (void)p;
#endif
}

/* Whether x[0 .. n - 1] are all +0, bit for bit (-0 is not): their bit patterns or-ed, read through
   memcpy (no aliasing question; the compiler makes it a vector load), so the loop vectorises; it stops
   at the first 32 values that are not. The test of which rows of W_1's optimizer state are +0, made once
   per training call (_sparse.zero_state_rows; the fused step may skip those rows). */
#define NN_ALL_PLUS_ZERO(T, U, S)                                                                  \
static int nn_all_plus_zero_##S(const T* x, Py_ssize_t n) {                                        \
    U acc = 0, u;                                                                                  \
    for (Py_ssize_t i0 = 0; i0 < n && acc == 0; i0 += 32) {                                        \
        const Py_ssize_t i1 = n - i0 < 32 ? n : i0 + 32;                                           \
        for (Py_ssize_t i = i0; i < i1; i++) {                                                     \
            memcpy(&u, x + i, sizeof u);                                                           \
            acc |= u;                                                                              \
        }                                                                                          \
    }                                                                                              \
    return acc == 0;                                                                               \
}
NN_ALL_PLUS_ZERO(double, unsigned long long, d)
NN_ALL_PLUS_ZERO(float, unsigned int, f)

#endif  /* NN_SPARSE_H */
