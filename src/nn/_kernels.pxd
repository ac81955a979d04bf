"""The interface of nn._kernels (src/nn/_kernels.pyx): the codes, the matrix product, activations,
losses and optimizer steps, each over raw pointers and fused over float and double."""
from cython cimport floating

# Codes: indices into ACTIVATION_NAMES, LOSS_NAMES and OPTIMIZER_NAMES (_kernels.pyx).
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

cdef struct Hyper:
    # An optimizer's hyper-parameters, as nn.optimizers names them (filled by hyper_from, from the
    # table HYPER_NAMES; an optimizer ignores those it does not have).
    double learning_rate
    double weight_decay
    double momentum
    bint nesterov
    double rho
    double beta1
    double beta2
    double eps


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


cdef inline Py_ssize_t n_state_arrays(int optimizer) noexcept nogil:
    """The state arrays an optimizer keeps: none (SGD), one (momentum, RMSprop), two (Adam)."""
    return (optimizer != SGD) + (optimizer == ADAM)


cdef void gemm(char trans_a, char trans_b, int M, int N, int K, floating alpha, floating* A, int lda,
               floating* B, int ldb, floating beta, floating* C, int ldc) noexcept nogil
cdef void bias_activate(floating* Z, floating* b, Py_ssize_t n, Py_ssize_t k, int activation) noexcept nogil
cdef void backprop_activation(floating* A, floating* G, Py_ssize_t n, Py_ssize_t k, int activation) noexcept nogil
cdef double loss_total(int loss, floating* A, floating* Y, Py_ssize_t* rows, Py_ssize_t n, Py_ssize_t k,
                       floating* W) noexcept nogil
cdef void output_delta(int loss, int activation, floating* A, floating* Y, Py_ssize_t* rows,
                       Py_ssize_t n, Py_ssize_t batch, Py_ssize_t k, floating* D, floating* W,
                       floating w_total) noexcept nogil
cdef Py_ssize_t count_correct(int activation, floating* A, floating* Y, Py_ssize_t* rows,
                              Py_ssize_t n, Py_ssize_t k) noexcept nogil
cdef void optimizer_step(int optimizer, Hyper* hyper, long long t, floating* p, floating* g,
                         floating* s1, floating* s2, Py_ssize_t size) noexcept nogil
cdef bint all_finite(floating* x, Py_ssize_t n) noexcept nogil

# Checks shared by the entry points of every module (they raise ValueError naming the argument).
cdef Hyper hyper_from(const double[::1] values) except *
cdef Py_ssize_t times(Py_ssize_t a, Py_ssize_t b, str what) except -1
cdef Py_ssize_t plus(Py_ssize_t a, Py_ssize_t b, str what) except -1
cdef check_codes(int loss, int optimizer)
cdef check_activation(int activation)
cdef double check_weights(const floating[::1] weights, Py_ssize_t n_rows) except? -1
