"""The interface of nn._passes (src/nn/_passes.pyx): a network's layout in C, and its passes over the
rows of a batch."""
from cython cimport floating
from libc.stdint cimport uint64_t

from nn._sparse cimport SparseBatch

cdef struct Net:
    # Layer l (0-based) maps sizes[l] -> sizes[l + 1]; W at theta + w_off[l], b at theta + w_off[l] +
    # sizes[l] * sizes[l + 1]; its output for a batch at work + a_off[l + 1] (a_off[0]: the batch's
    # input rows) and its delta dL/dZ at work + d_off[l], both batch x sizes[l + 1], row i for sample i.
    # Training layouts also hold, at work + wc_off, room for the rows of W_1 that a batch uses
    # (see columns_in_use). Filled and checked by nn._core's layout.
    # Dropout: layer l's input is dropped with probability drop[l] while training (nn.dropout); for
    # l >= 1, its dropped-out input (what layer l reads) is at work + k_off[l] and the multipliers
    # (1 / (1 - p) or 0) at work + m_off[l], batch x sizes[l] each; the mask's counters of a sample
    # start at row * stride + in_off[l]. (Layer 0's input is dropped in place, in the gathered rows.)
    Py_ssize_t n_layers
    Py_ssize_t* sizes
    Py_ssize_t* acts
    Py_ssize_t* w_off
    Py_ssize_t* a_off
    Py_ssize_t* d_off
    Py_ssize_t wc_off
    double* drop
    Py_ssize_t* k_off
    Py_ssize_t* m_off
    Py_ssize_t* in_off
    Py_ssize_t stride
    bint any_drop

cdef struct Masking:
    # A training batch's dropout: the epoch's key, and the batch's rows in X (row i of the batch is
    # sample rows[i]), which name the units' counters.
    uint64_t key
    Py_ssize_t* rows

cdef enum UpdateMode:
    # What update_part does with a batch's gradient:
    WRITE_GRADIENT = 0  # write it to grad (theta's layout), for an optimizer step or the caller
    APPLY_SGD = 1       # apply plain SGD directly, theta -= rate gradient (W through the product itself)


cdef inline Py_ssize_t part(Py_ssize_t n, int i, int parts) noexcept nogil:
    """Start of part i when 0..n is cut into `parts` contiguous parts (part(n, parts, parts) == n)."""
    if parts == 1:  # one thread (per-sample SGD): no division per layer and step
        return 0 if i == 0 else n
    return n * i // parts


cdef void mark_nonzero(floating* X, Py_ssize_t* rows, Py_ssize_t n, Py_ssize_t n_in, floating* mark) noexcept nogil
cdef Py_ssize_t columns_in_use(floating* marks, int n_marks, Py_ssize_t n_in, Py_ssize_t* cols) noexcept nogil
cdef void gather_rows(floating* X, Py_ssize_t* rows, Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t n_in, floating* A0,
                      Py_ssize_t* cols, Py_ssize_t K) noexcept nogil
cdef void drop_rows(floating* A, floating* out, floating* M, Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t k,
                    Py_ssize_t* rows, uint64_t key, Py_ssize_t offset, Py_ssize_t stride, double p) noexcept nogil
cdef floating* forward_rows(Net* net, floating* theta, floating* work, floating* A0, Py_ssize_t K,
                            Py_ssize_t r0, Py_ssize_t r1, SparseBatch* sp=*, Masking* mask=*,
                            floating* W1_slices=*) noexcept nogil
cdef Py_ssize_t slice_columns(Py_ssize_t n_out, size_t item) noexcept nogil
cdef void pack_slices(floating* W1, Py_ssize_t n_in, Py_ssize_t n_out, floating* out) noexcept nogil
cdef void backward_rows(Net* net, int loss, floating* theta, floating* work, floating* Y, Py_ssize_t* rows,
                        Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t n, floating* W, floating w_total,
                        bint masked=*) noexcept nogil
cdef void update_part(Net* net, floating* theta, floating* work, floating* A0, Py_ssize_t K, Py_ssize_t* cols,
                      Py_ssize_t n, int i, int parts, floating* grad, UpdateMode mode, double rate,
                      bint skip_w1=*, bint masked=*) noexcept nogil
cdef void sgd_one(Net* net, int loss, floating* theta, floating* work, floating* x, floating* y, double rate,
                  double* loss_sum, Py_ssize_t* correct) noexcept nogil
