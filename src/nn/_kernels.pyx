# cython: language_level=3
"""nn._kernels: the dense kernels of the compiled core, each the twin of a NumPy function of the
reference (nn.functions, nn.optimizers): the matrix product (SciPy's BLAS, or loops for small ones),
activations and their derivatives, losses and the output layer's delta, optimizer steps. Knows nothing
of networks: raw pointers in, raw pointers out, fused over float and double (interface: _kernels.pxd).

A ``def`` wrapper per kernel exposes it to the tests that pair it with its twin; the wrappers, and the
check helpers the other modules' entry points share, check everything a kernel relies on first.
"""
from cython cimport floating
from libc.math cimport exp, fabs, log, pow, sqrt, sqrtf, tanh
from libc.float cimport DBL_EPSILON, FLT_EPSILON
from libc.limits cimport INT_MAX
from libc.string cimport memset
from scipy.linalg.cython_blas cimport dgemm, sgemm

cdef extern from "Python.h":
    const Py_ssize_t PY_SSIZE_T_MAX

cdef extern from "nn_step.h":
    void nn_decay_d(double* g, const double* p, Py_ssize_t n, double wd) nogil
    void nn_decay_f(float* g, const float* p, Py_ssize_t n, float wd) nogil
    void nn_sgd_d(double* p, const double* g, Py_ssize_t n, double lr) nogil
    void nn_sgd_f(float* p, const float* g, Py_ssize_t n, float lr) nogil
    void nn_momentum_d(double* p, const double* g, double* s, Py_ssize_t n, double lr, double mu, int nesterov) nogil
    void nn_momentum_f(float* p, const float* g, float* s, Py_ssize_t n, float lr, float mu, int nesterov) nogil
    void nn_rmsprop_d(double* p, const double* g, double* s, Py_ssize_t n, double lr, double rho, double one_rho,
                      double eps) nogil
    void nn_rmsprop_f(float* p, const float* g, float* s, Py_ssize_t n, float lr, float rho, float one_rho,
                      float eps) nogil
    void nn_adam_d(double* p, const double* g, double* m, double* v, Py_ssize_t n, double step_size, double beta1,
                   double one_beta1, double beta2, double one_beta2, double scale, double eps) nogil
    void nn_adam_f(float* p, const float* g, float* m, float* v, Py_ssize_t n, float step_size, float beta1,
                   float one_beta1, float beta2, float one_beta2, float scale, float eps) nogil
    double nn_sumsq_d(const double* x, Py_ssize_t n) nogil
    double nn_sumsq_f(const float* x, Py_ssize_t n) nogil
    bint nn_finite_d(const double* x, Py_ssize_t n) nogil
    bint nn_finite_f(const float* x, Py_ssize_t n) nogil
    int nn_simd_level() nogil
    int nn_simd_available() nogil
    void nn_set_simd_level(int cap) nogil

ACTIVATION_NAMES = ("identity", "sigmoid", "tanh", "relu", "leaky_relu", "softmax")
LOSS_NAMES = ("mse", "binary_cross_entropy", "cross_entropy")
OPTIMIZER_NAMES = ("sgd", "momentum", "rmsprop", "adam")
# The hyper-parameters' table: the order of the `hyper` arrays the entry points take (each the
# attribute of that name of an nn optimizer, 0 if it has none), and the fields of Hyper.
HYPER_NAMES = ("learning_rate", "weight_decay", "momentum", "nesterov", "rho", "beta1", "beta2", "eps")

# Products smaller than this many multiply-adds run in plain loops: BLAS call overhead would dominate.
cdef Py_ssize_t SMALL_PRODUCT = 8192


# ----- matrix products ----------------------------------------------------------------------------
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


# (activations, their derivatives and the output delta are inline, in _kernels.pxd)
# ----- optimizers ---------------------------------------------------------------------------------
cdef void optimizer_step(int optimizer, Hyper* hyper, long long t, floating* p, floating* g,
                         floating* s1, floating* s2, Py_ssize_t size) noexcept nogil:
    """One update of p (size) from g, as nn.optimizers; t is the step number (from 1), s1/s2 the state.
    The same as step_consts, then step_with (which runs a step on several pieces of theta)."""
    cdef StepConsts c
    step_consts(optimizer, hyper, t, &c)
    step_with(&c, p, g, s1, s2, size)


cdef void step_consts(int optimizer, Hyper* hyper, long long t, StepConsts* c) noexcept nogil:
    """The constants of step t (from 1) of the optimizer: Adam's bias corrections folded into two
    (nn.optimizers.Adam computes them alike)."""
    c.optimizer, c.nesterov = optimizer, hyper.nesterov
    c.lr, c.wd, c.mu = hyper.learning_rate, hyper.weight_decay, hyper.momentum
    c.rho, c.one_rho = hyper.rho, 1 - hyper.rho
    c.beta1, c.one_beta1, c.beta2, c.one_beta2 = hyper.beta1, 1 - hyper.beta1, hyper.beta2, 1 - hyper.beta2
    c.eps = hyper.eps
    c.step_size = hyper.learning_rate / (1 - pow(hyper.beta1, <double>t))
    c.scale = 1 / sqrt(1 - pow(hyper.beta2, <double>t))


cdef void step_with(StepConsts* c, floating* p, floating* g, floating* s1, floating* s2,
                    Py_ssize_t size) noexcept nogil:
    """One update of p (size) from g (scratch: weight decay is added to it) and the state s1/s2, with the
    step's constants c.

    The loops are in src/nn_step.h, compiled for the baseline, AVX2 and AVX-512 (the widest the
    processor has runs; the same bits from each). Every constant is rounded to theta's dtype first and
    every operation is one of that dtype, as NumPy computes the reference's ``p -= rate * g`` (a Python
    float times a float32 array is float32 arithmetic): the same roundings in float32 as the reference.
    Each element's update depends on that element alone: a step run piece by piece gives the same bits."""
    cdef floating lr = <floating>c.lr, wd = <floating>c.wd
    cdef floating mu = <floating>c.mu, rho = <floating>c.rho, one_rho = <floating>c.one_rho
    cdef floating beta1 = <floating>c.beta1, beta2 = <floating>c.beta2, eps = <floating>c.eps
    cdef floating one_beta1 = <floating>c.one_beta1, one_beta2 = <floating>c.one_beta2
    cdef floating step_size = <floating>c.step_size, scale = <floating>c.scale
    cdef int optimizer = c.optimizer
    if floating is double:
        if wd != 0:
            nn_decay_d(g, p, size, wd)
        if optimizer == SGD:
            nn_sgd_d(p, g, size, lr)
        elif optimizer == MOMENTUM:
            nn_momentum_d(p, g, s1, size, lr, mu, c.nesterov)
        elif optimizer == RMSPROP:
            nn_rmsprop_d(p, g, s1, size, lr, rho, one_rho, eps)
        elif optimizer == ADAM:
            nn_adam_d(p, g, s1, s2, size, step_size, beta1, one_beta1, beta2, one_beta2, scale, eps)
    else:
        if wd != 0:
            nn_decay_f(g, p, size, wd)
        if optimizer == SGD:
            nn_sgd_f(p, g, size, lr)
        elif optimizer == MOMENTUM:
            nn_momentum_f(p, g, s1, size, lr, mu, c.nesterov)
        elif optimizer == RMSPROP:
            nn_rmsprop_f(p, g, s1, size, lr, rho, one_rho, eps)
        elif optimizer == ADAM:
            nn_adam_f(p, g, s1, s2, size, step_size, beta1, one_beta1, beta2, one_beta2, scale, eps)


cdef bint all_finite(floating* x, Py_ssize_t n) noexcept nogil:
    """Whether x[0..n) holds no inf or NaN (nn_step.h: x - x is 0 exactly for a finite x)."""
    if floating is double:
        return nn_finite_d(x, n)
    else:
        return nn_finite_f(x, n)


cdef double sum_of_squares(floating* x, Py_ssize_t n) noexcept nogil:
    """The sum of x[i]^2 over x[0..n), accumulated in double in eight running sums (nn_step.h; the twin
    of np.dot(x, x) in float64, equal to rounding: neither adds in one fixed order)."""
    if floating is double:
        return nn_sumsq_d(x, n)
    else:
        return nn_sumsq_f(x, n)


# ----- checks the entry points share -----------------------------------------------------------------
cdef Hyper hyper_from(const double[::1] values) except *:
    """The Hyper of a `hyper` array, read by the table: values[i] is the field HYPER_NAMES[i] (Cython
    fills the struct from the dict by field name; a name missing from either side is an error)."""
    if values.shape[0] != len(HYPER_NAMES):
        raise ValueError(f"hyper must hold {len(HYPER_NAMES)} values: {HYPER_NAMES}")
    named = dict(zip(HYPER_NAMES, values))
    named["nesterov"] = named["nesterov"] != 0
    return named


cdef Py_ssize_t times(Py_ssize_t a, Py_ssize_t b, str what) except -1:
    """a b (a, b >= 0), or a ValueError naming `what` if it overflows Py_ssize_t."""
    if b != 0 and a > PY_SSIZE_T_MAX // b:
        raise ValueError(f"too large: {what} ({a} x {b}) overflows Py_ssize_t")
    return a * b


cdef Py_ssize_t plus(Py_ssize_t a, Py_ssize_t b, str what) except -1:
    """a + b (a, b >= 0), or a ValueError naming `what` if it overflows Py_ssize_t."""
    if a > PY_SSIZE_T_MAX - b:
        raise ValueError(f"too large: {what} ({a} + {b}) overflows Py_ssize_t")
    return a + b


cdef double check_weights(const floating[::1] weights, Py_ssize_t n_rows) except? -1:
    """Sample weights: one per row of X, each finite and >= 0. Returns their sum (in order, in the
    weights' dtype, as every thread of a team sums a batch's; exact in the double returned)."""
    cdef Py_ssize_t i
    cdef floating total = 0
    if weights.shape[0] != n_rows:
        raise ValueError(f"weights has {weights.shape[0]} entries, X has {n_rows} rows")
    for i in range(n_rows):
        if not (weights[i] >= 0 and weights[i] - weights[i] == 0):
            raise ValueError(f"weights must be finite and >= 0, got {weights[i]} at {i}")
        total += weights[i]
    return total


cdef check_codes(int loss, int optimizer):
    if loss < 0 or loss > CROSS_ENTROPY:
        raise ValueError(f"loss code must be in 0..{CROSS_ENTROPY}, got {loss}")
    if optimizer < 0 or optimizer >= len(OPTIMIZER_NAMES):
        raise ValueError(f"optimizer code must be in 0..{len(OPTIMIZER_NAMES) - 1}, got {optimizer}")


cdef check_activation(int activation):
    if activation < 0 or activation > SOFTMAX:
        raise ValueError(f"activation code must be in 0..{SOFTMAX}, got {activation}")


# ----- the kernels one by one, for the tests that pair them with their NumPy twins ---------------------
def activate_inplace(floating[:, ::1] Z not None, int activation, const floating[::1] bias=None):
    """Z <- f(Z + bias) in place, f given by its code (index into ACTIVATION_NAMES)."""
    check_activation(activation)
    if bias is not None and bias.shape[0] != Z.shape[1]:
        raise ValueError(f"bias has {bias.shape[0]} entries, Z has {Z.shape[1]} columns")
    if Z.shape[0] == 0 or Z.shape[1] == 0:
        return
    with nogil:
        bias_activate(&Z[0, 0], <floating*>&bias[0] if bias is not None else NULL, Z.shape[0], Z.shape[1], activation)


def backprop_inplace(const floating[:, ::1] A not None, floating[:, ::1] G not None, int activation):
    """G <- dL/dZ from G = dL/dA and the output A, in place."""
    check_activation(activation)
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
    cdef Py_ssize_t correct
    cdef floating* W = NULL
    cdef floating w_total = 0
    check_codes(loss, SGD)
    check_activation(activation)
    if A.shape[0] != Y.shape[0] or A.shape[1] != Y.shape[1] or A.shape[0] != D.shape[0] or A.shape[1] != D.shape[1]:
        raise ValueError("A, Y and D must have the same shape")
    if A.shape[0] == 0 or A.shape[1] == 0:
        raise ValueError("A is empty")
    if weights is not None:
        w_total = <floating>check_weights(weights, A.shape[0])
        W = <floating*>&weights[0]
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


def step(int optimizer, const double[::1] hyper not None, long long t, floating[::1] p not None,
         floating[::1] g not None, floating[::1] s1 not None, floating[::1] s2 not None):
    """One optimizer update of p from g (g is scratch), t the step number (from 1)."""
    cdef Py_ssize_t n = p.shape[0]
    cdef Py_ssize_t n_state = n_state_arrays(optimizer)
    cdef Hyper h
    check_codes(MSE, optimizer)
    h = hyper_from(hyper)
    if g.shape[0] != n or (n_state >= 1 and s1.shape[0] != n) or (n_state == 2 and s2.shape[0] != n):
        raise ValueError("p, g and the state arrays must have the same length")
    if t < 1:
        raise ValueError(f"t must be >= 1, got {t}")
    if n == 0:
        return
    arrays = [(<size_t>&p[0], "p"), (<size_t>&g[0], "g")]
    if n_state >= 1:
        arrays.append((<size_t>&s1[0], "s1"))
    if n_state == 2:
        arrays.append((<size_t>&s2[0], "s2"))
    for i in range(len(arrays)):  # the loops take them as restrict pointers: no two may overlap
        for j in range(i):
            if abs(arrays[i][0] - arrays[j][0]) < n * sizeof(floating):
                raise ValueError(f"{arrays[j][1]} and {arrays[i][1]} must not overlap")
    with nogil:
        optimizer_step(optimizer, &h, t, &p[0], &g[0], &s1[0] if n_state >= 1 else NULL,
                       &s2[0] if n_state == 2 else NULL, n)


cdef int simd() noexcept nogil:
    return nn_simd_level()


def simd_level(cap=None):
    """The instruction set the optimizer steps, the clipping's sum and the products on lists of nonzeros
    (nn._sparse) run in: 0 the baseline (SSE2 on x86-64; portable loops), 1 AVX2 (with FMA for the
    lists), 2 AVX-512F; the widest the processor has unless capped. simd_level(k) caps it at
    k (for the tests that compare the versions and the benchmark that times them) and returns the
    level now in use; simd_level(2) lifts the cap. The optimizer steps and the sum give the same bits at every
    level; the lists' products differ by rounding from the portable loops (which have no FMA)."""
    if cap is not None:
        if cap not in (0, 1, 2):
            raise ValueError(f"cap must be 0, 1 or 2, got {cap!r}")
        nn_set_simd_level(cap)
    return nn_simd_level()


def simd_available():
    """The widest level the processor has (see simd_level)."""
    return nn_simd_available()


def squares(const floating[::1] x not None):
    """sum(x ** 2), accumulated in double: the clipping's norm is its square root (see nn._train)."""
    cdef double total
    with nogil:
        total = sum_of_squares(<floating*>&x[0], x.shape[0]) if x.shape[0] else 0
    return total
