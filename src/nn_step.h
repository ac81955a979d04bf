/* nn_step.h: the loops over long vectors: the optimizer steps, the clipping's sum of squares and the
   check for inf and NaN, the twins of nn.optimizers' _update, np.dot(g, g) and np.isfinite(x).all()
   (nn._kernels calls them; see optimizer_step there).

   Each loop is plain C, compiled three times on x86-64 with GCC or clang: for the baseline (SSE2),
   for AVX2 and for AVX-512F, and the widest one the processor has is chosen at run time (the wheel
   stays portable: nothing here needs more than SSE2 to load). The loops hold only additions,
   multiplications, divisions and square roots, each correctly rounded in every instruction set, and
   the build forbids contracting them into FMAs (-ffp-contract=off): the three versions give the same
   bits. nn_simd_level() says which is in use; nn_set_simd_level(k) caps it (0 baseline, 1 AVX2,
   2 AVX-512), for the tests that compare them and the benchmark that times them. */
#ifndef NN_STEP_H
#define NN_STEP_H

#include <math.h>
#include <stddef.h>

#define NN_STEP_LOOPS(T, SQRT, SUFFIX, ATTR)                                                       \
ATTR static void nn_decay_##SUFFIX(T* restrict g, const T* restrict p, ptrdiff_t n, T wd) {        \
    for (ptrdiff_t i = 0; i < n; i++) g[i] = g[i] + wd * p[i];                                     \
}                                                                                                  \
ATTR static void nn_sgd_##SUFFIX(T* restrict p, const T* restrict g, ptrdiff_t n, T lr) {          \
    for (ptrdiff_t i = 0; i < n; i++) p[i] = p[i] - lr * g[i];                                     \
}                                                                                                  \
ATTR static void nn_momentum_##SUFFIX(T* restrict p, const T* restrict g, T* restrict s, ptrdiff_t n, \
                                      T lr, T mu, int nesterov) {                                  \
    if (nesterov) {                                                                                \
        for (ptrdiff_t i = 0; i < n; i++) {                                                        \
            s[i] = s[i] * mu + g[i];                                                               \
            p[i] = p[i] - lr * (g[i] + mu * s[i]);                                                 \
        }                                                                                          \
    } else {                                                                                       \
        for (ptrdiff_t i = 0; i < n; i++) {                                                        \
            s[i] = s[i] * mu + g[i];                                                               \
            p[i] = p[i] - lr * s[i];                                                               \
        }                                                                                          \
    }                                                                                              \
}                                                                                                  \
ATTR static void nn_rmsprop_##SUFFIX(T* restrict p, const T* restrict g, T* restrict s, ptrdiff_t n, \
                                     T lr, T rho, T one_rho, T eps) {                              \
    for (ptrdiff_t i = 0; i < n; i++) {                                                            \
        s[i] = s[i] * rho + one_rho * g[i] * g[i];                                                 \
        p[i] = p[i] - lr * g[i] / (SQRT(s[i]) + eps);                                              \
    }                                                                                              \
}                                                                                                  \
/* Adam with the bias corrections folded into two constants, as PyTorch folds them: step_size =     \
   rate / (1 - beta1^t) and scale = 1 / sqrt(1 - beta2^t), so that an element costs one square root  \
   and one division. */                                                                            \
ATTR static void nn_adam_##SUFFIX(T* restrict p, const T* restrict g, T* restrict m, T* restrict v, \
                                  ptrdiff_t n, T step_size, T beta1, T one_beta1, T beta2,          \
                                  T one_beta2, T scale, T eps) {                                   \
    for (ptrdiff_t i = 0; i < n; i++) {                                                            \
        m[i] = m[i] * beta1 + one_beta1 * g[i];                                                    \
        v[i] = v[i] * beta2 + one_beta2 * g[i] * g[i];                                             \
        p[i] = p[i] - step_size * m[i] / (SQRT(v[i]) * scale + eps);                               \
    }                                                                                              \
}                                                                                                  \
/* Whether x holds no inf or NaN: x - x is 0 exactly for a finite x, NaN otherwise; the flags are   \
   or-ed (an integer reduction vectorises, a floating-point sum would not). */                    \
ATTR static int nn_finite_##SUFFIX(const T* restrict x, ptrdiff_t n) {                             \
    int bad = 0;                                                                                   \
    for (ptrdiff_t i = 0; i < n; i++) bad |= (x[i] - x[i]) != (T)0;                                \
    return !bad;                                                                                   \
}                                                                                                  \
/* Eight running sums in double, added pairwise at the end (they vectorise; one sum would not). */ \
ATTR static double nn_sumsq_##SUFFIX(const T* restrict x, ptrdiff_t n) {                           \
    double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};                                                     \
    ptrdiff_t i = 0, k;                                                                            \
    for (; i + 8 <= n; i += 8)                                                                     \
        for (k = 0; k < 8; k++) acc[k] += (double)x[i + k] * (double)x[i + k];                     \
    for (; i < n; i++) acc[0] += (double)x[i] * (double)x[i];                                      \
    return ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));       \
}

NN_STEP_LOOPS(double, sqrt, base_d, )
NN_STEP_LOOPS(float, sqrtf, base_f, )

#if defined(__GNUC__) && defined(__x86_64__)
#define NN_AVX2_ATTR __attribute__((target("avx2")))
#define NN_AVX512_ATTR __attribute__((target("avx512f,prefer-vector-width=512")))
NN_STEP_LOOPS(double, sqrt, avx2_d, NN_AVX2_ATTR)
NN_STEP_LOOPS(float, sqrtf, avx2_f, NN_AVX2_ATTR)
NN_STEP_LOOPS(double, sqrt, avx512_d, NN_AVX512_ATTR)
NN_STEP_LOOPS(float, sqrtf, avx512_f, NN_AVX512_ATTR)
static int nn_simd_detect(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return 2;
    return __builtin_cpu_supports("avx2") ? 1 : 0;
}
#else
static int nn_simd_detect(void) { return 0; }
#endif

/* The processor's level (detected once; every thread writes the same value) and the level in use. */
static int nn_simd_found = -1, nn_simd_cap = 2;
static int nn_simd_level(void) {
    if (nn_simd_found < 0) nn_simd_found = nn_simd_detect();
    return nn_simd_found < nn_simd_cap ? nn_simd_found : nn_simd_cap;
}
static int nn_simd_available(void) { nn_simd_level(); return nn_simd_found; }
static void nn_set_simd_level(int cap) { nn_simd_cap = cap < 0 ? 0 : cap; }

#if defined(__GNUC__) && defined(__x86_64__)
#define NN_DISPATCH(NAME, T, SUFFIX_T, ARGS)                                                       \
    switch (nn_simd_level()) {                                                                     \
    case 2: NAME##_avx512_##SUFFIX_T ARGS; break;                                                   \
    case 1: NAME##_avx2_##SUFFIX_T ARGS; break;                                                     \
    default: NAME##_base_##SUFFIX_T ARGS;                                                           \
    }
#define NN_DISPATCH_RETURN(NAME, SUFFIX_T, ARGS)                                                   \
    switch (nn_simd_level()) {                                                                     \
    case 2: return NAME##_avx512_##SUFFIX_T ARGS;                                                   \
    case 1: return NAME##_avx2_##SUFFIX_T ARGS;                                                     \
    default: return NAME##_base_##SUFFIX_T ARGS;                                                    \
    }
#else
#define NN_DISPATCH(NAME, T, SUFFIX_T, ARGS) NAME##_base_##SUFFIX_T ARGS;
#define NN_DISPATCH_RETURN(NAME, SUFFIX_T, ARGS) return NAME##_base_##SUFFIX_T ARGS;
#endif

/* The entry points nn._kernels calls, one per loop and dtype. */
#define NN_STEP_ENTRIES(T, S)                                                                      \
static void nn_decay_##S(T* g, const T* p, ptrdiff_t n, T wd) {                                    \
    NN_DISPATCH(nn_decay, T, S, (g, p, n, wd)) }                                                   \
static void nn_sgd_##S(T* p, const T* g, ptrdiff_t n, T lr) {                                      \
    NN_DISPATCH(nn_sgd, T, S, (p, g, n, lr)) }                                                     \
static void nn_momentum_##S(T* p, const T* g, T* s, ptrdiff_t n, T lr, T mu, int nesterov) {       \
    NN_DISPATCH(nn_momentum, T, S, (p, g, s, n, lr, mu, nesterov)) }                               \
static void nn_rmsprop_##S(T* p, const T* g, T* s, ptrdiff_t n, T lr, T rho, T one_rho, T eps) {   \
    NN_DISPATCH(nn_rmsprop, T, S, (p, g, s, n, lr, rho, one_rho, eps)) }                           \
static void nn_adam_##S(T* p, const T* g, T* m, T* v, ptrdiff_t n, T step_size, T beta1,           \
                        T one_beta1, T beta2, T one_beta2, T scale, T eps) {                       \
    NN_DISPATCH(nn_adam, T, S, (p, g, m, v, n, step_size, beta1, one_beta1, beta2, one_beta2, scale, eps)) } \
static double nn_sumsq_##S(const T* x, ptrdiff_t n) {                                              \
    NN_DISPATCH_RETURN(nn_sumsq, S, (x, n)) }                                                      \
static int nn_finite_##S(const T* x, ptrdiff_t n) {                                                \
    NN_DISPATCH_RETURN(nn_finite, S, (x, n)) }

NN_STEP_ENTRIES(double, d)
NN_STEP_ENTRIES(float, f)

#endif  /* NN_STEP_H */
