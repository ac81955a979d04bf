/* nn_random.h: the dropout masks' random numbers, a counter-based generator (SplitMix64's finaliser).

   nn_uniform(key, counter) is a number in [0, 1), a function of its two arguments alone: the masks of
   a batch need no generator state, so any thread computes any row's mask, in any order, and gets the
   same numbers as the NumPy twin (nn.dropout.uniform) and as any other thread count.
   The trainer draws one 64-bit key per epoch from its seeded generator; the counter names the unit:
   row * stride + offset of the layer's inputs + unit (see nn.dropout.multipliers).

   z = key + 0x9E3779B97F4A7C15 * (counter + 1)  (mod 2^64), then SplitMix64's mix of z; the top 53
   bits of the result, times 2^-53. */
#ifndef NN_RANDOM_H
#define NN_RANDOM_H

#include <stdint.h>

static inline uint64_t nn_mix64(uint64_t z) {
    z ^= z >> 30;
    z *= 0xBF58476D1CE4E5B9ULL;
    z ^= z >> 27;
    z *= 0x94D049BB133111EBULL;
    z ^= z >> 31;
    return z;
}

static inline double nn_uniform(uint64_t key, uint64_t counter) {
    return (double)(nn_mix64(key + 0x9E3779B97F4A7C15ULL * (counter + 1)) >> 11) * (1.0 / 9007199254740992.0);
}

/* Whether a unit is kept, nn_uniform(key, counter) >= p, decided on the integer: u = k 2^-53 with k the
   top 53 bits, so u >= p exactly when k >= ceil(p 2^53) = nn_keep_threshold(p) (p 2^53 is exact). */
static inline uint64_t nn_keep_threshold(double p) {
    double t = p * 9007199254740992.0;
    uint64_t k = (uint64_t)t;
    return k + ((double)k < t);
}

static inline int nn_keep(uint64_t key, uint64_t counter, uint64_t threshold) {
    return (nn_mix64(key + 0x9E3779B97F4A7C15ULL * (counter + 1)) >> 11) >= threshold;
}

#endif  /* NN_RANDOM_H */
