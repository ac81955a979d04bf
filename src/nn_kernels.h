/* nn_kernels.h: the constants of the core's kernels that C must see as constants (src/nn/_kernels.pxd).
   Their twins in the reference: nn/functions.py (LEAKY_SLOPE), paired by tests/test_core.py. */
#ifndef NN_KERNELS_H
#define NN_KERNELS_H

static const double NN_LEAKY_SLOPE = 0.01;  /* leaky ReLU's slope for negative inputs */

#endif  /* NN_KERNELS_H */
