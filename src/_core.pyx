# cython: language_level=3
"""nn._core: the compiled kernels. Knows nothing of nn: memoryviews in, memoryviews out.

Every hot function is a ``cdef ... noexcept nogil`` kernel over raw pointers, fused over float and
double; a thin ``def`` wrapper exposes it to Python and to the tests. Wrappers check what a kernel
relies on (shapes, codes) so that no call from Python can read or write out of bounds.
"""
from cython cimport floating
from libc.math cimport exp, fabs, tanh

# Activation codes, in the order of ACTIVATION_NAMES.
cdef enum:
    IDENTITY = 0
    SIGMOID = 1
    TANH = 2
    RELU = 3
    LEAKY_RELU = 4
    SOFTMAX = 5

ACTIVATION_NAMES = ("identity", "sigmoid", "tanh", "relu", "leaky_relu", "softmax")
cdef double LEAKY_SLOPE = 0.01


cdef inline floating sigmoid(floating z) noexcept nogil:
    # e^-|z| never overflows; same formula as the reference.
    cdef floating e = <floating>exp(-fabs(z))
    if z >= 0:
        return 1 / (1 + e)
    return e / (1 + e)


cdef void activate(floating* Z, Py_ssize_t n, Py_ssize_t k, int activation) noexcept nogil:
    """A = f(Z) in place over n rows of k units."""
    cdef Py_ssize_t i, j, size = n * k
    cdef floating m, s
    cdef floating* row
    if activation == SIGMOID:
        for i in range(size):
            Z[i] = sigmoid(Z[i])
    elif activation == TANH:
        for i in range(size):
            Z[i] = <floating>tanh(Z[i])
    elif activation == RELU:
        for i in range(size):
            if not Z[i] > 0:
                Z[i] = 0
    elif activation == LEAKY_RELU:
        for i in range(size):
            if not Z[i] > 0:
                Z[i] = <floating>(LEAKY_SLOPE * Z[i])
    elif activation == SOFTMAX:
        for i in range(n):
            row = Z + i * k
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


cdef int check_activation(int activation) except -1:
    if activation < 0 or activation > SOFTMAX:
        raise ValueError(f"activation code must be in 0..{SOFTMAX}, got {activation}")
    return 0


def activate_inplace(floating[:, ::1] Z not None, int activation):
    """Z <- f(Z) in place, f given by its code (index into ACTIVATION_NAMES)."""
    check_activation(activation)
    if Z.shape[0] == 0 or Z.shape[1] == 0:
        return
    with nogil:
        activate(&Z[0, 0], Z.shape[0], Z.shape[1], activation)
