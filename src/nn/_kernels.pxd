"""The interface of nn._kernels (src/nn/_kernels.pyx): the codes, the matrix product, activations,
losses and optimizer steps, each over raw pointers and fused over float and double."""
from cython cimport floating
from libc.math cimport exp, fabs, log, tanh
from libc.float cimport DBL_EPSILON, FLT_EPSILON

cdef extern from "nn_kernels.h":
    const double LEAKY_SLOPE "NN_LEAKY_SLOPE"

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


cdef int simd() noexcept nogil  # the instruction-set level in use (see simd_level in _kernels.pyx)


cdef inline Py_ssize_t n_state_arrays(int optimizer) noexcept nogil:
    """The state arrays an optimizer keeps: none (SGD), one (momentum, RMSprop), two (Adam)."""
    return (optimizer != SGD) + (optimizer == ADAM)


cdef void gemm(char trans_a, char trans_b, int M, int N, int K, floating alpha, floating* A, int lda,
               floating* B, int ldb, floating beta, floating* C, int ldc) noexcept nogil
cdef struct StepConsts:
    # One optimizer step's constants (step_consts), in double: each is rounded to theta's dtype where used.
    int optimizer
    bint nesterov
    double lr, wd, mu, rho, one_rho, beta1, one_beta1, beta2, one_beta2, eps, step_size, scale


cdef void optimizer_step(int optimizer, Hyper* hyper, long long t, floating* p, floating* g,
                         floating* s1, floating* s2, Py_ssize_t size) noexcept nogil
cdef void step_consts(int optimizer, Hyper* hyper, long long t, StepConsts* c) noexcept nogil
cdef void step_with(StepConsts* c, floating* p, floating* g, floating* s1, floating* s2,
                    Py_ssize_t size) noexcept nogil
cdef bint all_finite(floating* x, Py_ssize_t n) noexcept nogil
cdef double sum_of_squares(floating* x, Py_ssize_t n) noexcept nogil

# Checks shared by the entry points of every module (they raise ValueError naming the argument).
cdef Hyper hyper_from(const double[::1] values) except *
cdef Py_ssize_t times(Py_ssize_t a, Py_ssize_t b, str what) except -1
cdef Py_ssize_t plus(Py_ssize_t a, Py_ssize_t b, str what) except -1
cdef check_codes(int loss, int optimizer)
cdef check_activation(int activation)
cdef double check_weights(const floating[::1] weights, Py_ssize_t n_rows) except? -1


# ----- inline kernels ------------------------------------------------------------------------------------
# Activations, their derivatives, losses and the output layer's delta are defined here, not in _kernels.pyx, so
# that every module calling them per layer and sample (nn._passes: sgd_one's 2-2-1 step is 0.1 us)
# compiles its own copy, inlined, rather than calling across modules through a pointer.
cdef inline floating sigmoid(floating z) noexcept nogil:
    # e^-|z| never overflows; the same formula as the reference.
    cdef floating e = <floating>exp(-fabs(z))
    if z >= 0:
        return 1 / (1 + e)
    return e / (1 + e)


cdef inline void bias_activate(floating* Z, floating* b, Py_ssize_t n, Py_ssize_t k, int activation) noexcept nogil:
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


cdef inline void backprop_activation(floating* A, floating* G, Py_ssize_t n, Py_ssize_t k, int activation) noexcept nogil:
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


cdef inline void output_delta(int loss, int activation, floating* A, floating* Y, Py_ssize_t* rows,
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


cdef inline double row_loss(int loss, floating* a_row, floating* y_row, Py_ssize_t k) noexcept nogil:
    """One row's loss (as nn.functions.ROW_LOSSES)."""
    cdef Py_ssize_t j
    cdef double total = 0
    for j in range(k):
        total += loss_term(loss, a_row[j], y_row[j])
    return finish_loss(loss, total, k)


cdef inline double loss_total(int loss, floating* A, floating* Y, Py_ssize_t* rows, Py_ssize_t n, Py_ssize_t k,
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


cdef inline Py_ssize_t count_correct(int activation, floating* A, floating* Y, Py_ssize_t* rows,
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
