# cython: language_level=3
"""nn._passes: a network's passes over the rows of a batch, the twins of nn.backends.reference's
forward and gradients: forward_rows (every layer's output), backward_rows (every layer's delta),
update_part (a part of the weight update: the gradient, or plain SGD applied in the product), and
sgd_one, the three fused for one sample on one thread (the lessons' per-sample SGD). Each pass works
on a range of rows or a part of the weights, so that a team's threads can share a batch (nn._train).

The first layer can run on fewer inputs: only the columns a batch uses (mark_nonzero, columns_in_use,
gather_rows: the "compact" first layer), or the lists of nonzeros of nn._sparse.
"""
from cython cimport floating
from libc.stdint cimport uint64_t
from libc.string cimport memcpy, memset

from nn._kernels cimport (add_scaled_row, backprop_activation, bias_activate, count_correct, gemm, loss_total,
                          output_delta)
from nn._sparse cimport spmm

cdef extern from "nn_random.h":
    uint64_t nn_keep_threshold(double p) nogil
    bint nn_keep(uint64_t key, uint64_t counter, uint64_t threshold) nogil


# A batch's first-layer products use only the input columns that hold a nonzero somewhere in the batch
# (MNIST: about 2/3 of the pixels at batch 128), when at most this fraction of them do.
cdef double COMPACT_LIMIT = 0.85

# Inference's first layer on lists of nonzeros runs on slices of W_1's columns of this many bytes a row,
# packed (pack_slices), when W_1 is more than twice as wide: 32 doubles, 64 floats, multiples of the AVX2
# kernel's chunk, so that every column's sum is the same FMAs in the same order.
cdef Py_ssize_t SPMM_SLICE = 256


cdef Py_ssize_t slice_columns(Py_ssize_t n_out, size_t item) noexcept nogil:
    """The columns of W_1 in a slice (pack_slices): all of them, unless more than two slices' worth."""
    cdef Py_ssize_t step = SPMM_SLICE // <Py_ssize_t>item
    return n_out if n_out <= 2 * step else step


cdef void pack_slices(floating* W1, Py_ssize_t n_in, Py_ssize_t n_out, floating* out) noexcept nogil:
    """W_1 (n_in x n_out) into out (as many elements) a slice of slice_columns at a time: the slice of
    columns c.. (w of them) is at out + c n_in, its rows w apart. A slice read by many rows then stays in
    the second-level cache: W_1's own rows, n_out apart, map a slice onto few of the cache's sets when
    n_out x the item is a multiple of 4 KB (784-512-512-10)."""
    cdef Py_ssize_t step = slice_columns(n_out, sizeof(floating)), c = 0, w, j
    while c < n_out:
        w = min(step, n_out - c)
        for j in range(n_in):
            memcpy(out + c * n_in + j * w, W1 + j * n_out + c, w * sizeof(floating))
        c += step


cdef void mark_nonzero(floating* X, Py_ssize_t* rows, Py_ssize_t n, Py_ssize_t n_in,
                       floating* mark) noexcept nogil:
    """mark[k] = sum of |X[rows[i], k]| over i < n: nonzero exactly when column k holds a nonzero (a sum of
    non-negative numbers is at least its largest term; the inputs are finite). Adds, rather than or-ing
    comparisons, so that the loop vectorises."""
    cdef Py_ssize_t i, k
    cdef floating* row
    cdef floating a
    memset(mark, 0, n_in * sizeof(floating))
    for i in range(n):
        row = X + rows[i] * n_in
        for k in range(n_in):
            a = row[k]
            mark[k] += a if a >= 0 else -a


cdef Py_ssize_t columns_in_use(floating* marks, int n_marks, Py_ssize_t n_in, Py_ssize_t* cols) noexcept nogil:
    """The columns marked (nonzero) in any of the n_marks mark arrays (n_in each), into cols; returns their
    count, or n_in (cols unused) when too many are in use for the compact first layer to pay."""
    cdef Py_ssize_t k, n_cols = 0
    cdef int i
    cdef bint used
    for k in range(n_in):
        used = False
        for i in range(n_marks):
            used = used or marks[i * n_in + k] != 0
        if used:
            cols[n_cols] = k
            n_cols += 1
    return n_cols if n_cols <= COMPACT_LIMIT * n_in else n_in


cdef void gather_rows(floating* X, Py_ssize_t* rows, Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t n_in, floating* A0,
                      Py_ssize_t* cols, Py_ssize_t K) noexcept nogil:
    """Rows r0..r1 of the batch, X[rows[i]], into A0 (row i at A0 + i K): whole (K == n_in), or only the
    K columns cols."""
    cdef Py_ssize_t i, k
    cdef floating* row
    for i in range(r0, r1):
        row = X + rows[i] * n_in
        if K == n_in:
            memcpy(A0 + i * n_in, row, n_in * sizeof(floating))
        else:
            for k in range(K):
                A0[i * K + k] = row[cols[k]]


cdef void drop_rows(floating* A, floating* out, floating* M, Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t k,
                    Py_ssize_t* rows, uint64_t key, Py_ssize_t offset, Py_ssize_t stride, double p) noexcept nogil:
    """Dropout on rows r0..r1 of a batch's inputs to a layer of k units (row i at A + i k): out = A M with
    M = 1 / (1 - p) where nn_uniform(key, rows[i] stride + offset + j) >= p (decided on its integer bits:
    nn_keep), else 0 (kept in M unless NULL; out may be A). The twin of nn.dropout.multipliers."""
    cdef Py_ssize_t i, j
    cdef uint64_t base, threshold = nn_keep_threshold(p)  # u >= p, decided on u's integer bits
    cdef floating scale = <floating>(1.0 / (1.0 - p)), m
    for i in range(r0, r1):
        base = <uint64_t>rows[i] * <uint64_t>stride + <uint64_t>offset
        for j in range(k):
            m = scale if nn_keep(key, base + <uint64_t>j, threshold) else 0
            if M != NULL:
                M[i * k + j] = m
            out[i * k + j] = A[i * k + j] * m


cdef floating* forward_rows(Net* net, floating* theta, floating* work, floating* A0, Py_ssize_t K,
                            Py_ssize_t r0, Py_ssize_t r1, SparseBatch* sp=NULL, Masking* mask=NULL,
                            floating* W1_slices=NULL) noexcept nogil:
    """Every layer's output for rows r0..r1 of a batch whose inputs are A0 (row i at A0 + i K); returns
    the output layer's rows. K < sizes[0]: A0 holds only the first layer's columns in use, and
    work + wc_off the matching rows of W_1. With sp, the inputs are sp's lists of nonzeros instead (A0
    unused), and the first layer runs on them (spmm), reading W_1 from W1_slices when given (W_1 as
    pack_slices packs it: the same sums). With mask (training with dropout), each layer's input is
    dropped out first (drop_rows): the first layer's in place in A0 (its own copy of the rows, all
    columns), the others' into work + k_off[l], the multipliers into work + m_off[l]."""
    cdef Py_ssize_t l, n_in, n_out, nr = r1 - r0, c, step
    cdef floating* A_prev = A0 + r0 * K
    cdef floating* A
    cdef floating* W
    for l in range(net.n_layers):
        n_in, n_out = net.sizes[l], net.sizes[l + 1]
        W = theta + net.w_off[l]
        A = work + net.a_off[l + 1] + r0 * n_out
        if mask != NULL and net.drop[l] > 0 and nr > 0:
            if l == 0:
                drop_rows(A0, A0, <floating*>NULL, r0, r1, n_in, mask.rows, mask.key, net.in_off[0], net.stride,
                          net.drop[0])
            else:
                drop_rows(A_prev - r0 * n_in, work + net.k_off[l], work + net.m_off[l], r0, r1, n_in, mask.rows,
                          mask.key, net.in_off[l], net.stride, net.drop[l])
                A_prev = work + net.k_off[l] + r0 * n_in
        if nr > 0:
            if l == 0 and sp != NULL and W1_slices != NULL:
                step = slice_columns(n_out, sizeof(floating))
                c = 0
                while c < n_out:
                    spmm(sp.idx, <floating*>sp.val, sp.beg + r0, sp.end + r0, nr, W1_slices + c * n_in,
                         min(step, n_out - c), min(step, n_out - c), A + c, n_out, 1, 0, False)
                    c += step
            elif l == 0 and sp != NULL:
                spmm(sp.idx, <floating*>sp.val, sp.beg + r0, sp.end + r0, nr, W, n_out, n_out, A, n_out, 1, 0,
                     False)
            elif l == 0:
                gemm(c'N', c'N', <int>nr, <int>n_out, <int>K, <floating>1, A_prev, <int>max(K, 1),
                     W if K == n_in else work + net.wc_off, <int>n_out, <floating>0, A, <int>n_out)
            else:
                gemm(c'N', c'N', <int>nr, <int>n_out, <int>n_in, <floating>1, A_prev, <int>n_in, W, <int>n_out,
                     <floating>0, A, <int>n_out)
            bias_activate(A, W + n_in * n_out, nr, n_out, <int>net.acts[l])
        A_prev = A
    return A_prev


cdef void backward_rows(Net* net, int loss, floating* theta, floating* work, floating* Y, Py_ssize_t* rows,
                        Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t n, floating* W, floating w_total,
                        bint masked=False) noexcept nogil:
    """After forward_rows: every layer's delta for rows r0..r1 of a batch of n (the targets of row i are
    Y[rows[i]], or Y[i] if rows is NULL; sample weights W, indexed as Y, summing to w_total over the
    batch, or NULL). delta_L from the loss; delta_{l-1} = f'(A_{l-1}) * (delta_l @ W_l^T), from the
    weights as they are (before the batch's update); masked (forward_rows ran with dropout):
    f'(A_{l-1}) * ((delta_l @ W_l^T) * M_l), M_l the multipliers of layer l's input."""
    cdef Py_ssize_t L = net.n_layers, l, n_in, n_out, k = net.sizes[L], nr = r1 - r0, q
    cdef floating* M
    cdef floating* delta = work + net.d_off[L - 1] + r0 * k
    cdef floating* delta_prev
    if nr <= 0:
        return
    output_delta(loss, <int>net.acts[L - 1], work + net.a_off[L] + r0 * k, Y if rows != NULL else Y + r0 * k,
                 rows + r0 if rows != NULL else NULL, nr, n, k, delta,
                 W if (rows != NULL or W == NULL) else W + r0, w_total)
    for l in range(L - 1, 0, -1):
        n_in, n_out = net.sizes[l], net.sizes[l + 1]
        delta_prev = work + net.d_off[l - 1] + r0 * n_in
        gemm(c'N', c'T', <int>nr, <int>n_in, <int>n_out, <floating>1, delta, <int>n_out, theta + net.w_off[l],
             <int>n_out, <floating>0, delta_prev, <int>n_in)
        if masked and net.drop[l] > 0:
            M = work + net.m_off[l] + r0 * n_in
            for q in range(nr * n_in):
                delta_prev[q] = delta_prev[q] * M[q]
        backprop_activation(work + net.a_off[l] + r0 * n_in, delta_prev, nr, n_in, <int>net.acts[l - 1])
        delta = delta_prev


cdef void update_part(Net* net, floating* theta, floating* work, floating* A0, Py_ssize_t K, Py_ssize_t* cols,
                      Py_ssize_t n, int i, int parts, floating* grad, UpdateMode mode, double rate,
                      bint skip_w1=False, bint masked=False) noexcept nogil:
    """Part i of `parts` of the batch's weight update, after backward_rows of all its n rows: rows
    part(.., i) to part(.., i + 1) of every W_l and those columns of every b_l.

    dW_l = A_{l-1}^T delta_l, db_l = column sums of delta_l (row by row, as NumPy sums axis 0).
    WRITE_GRADIENT: they go to grad (theta's layout; rate unused). APPLY_SGD: plain SGD at `rate` is
    applied directly (W += -rate A^T delta, written by the product itself; db through grad's b block
    as scratch).
    Compact first layer (K < sizes[0]): only W_1's rows cols[0..K] can have a nonzero gradient; SGD
    updates them in work + wc_off and copies them back, the gradient zeroes the others. skip_w1: W_1
    is left to the caller (the sparse first layer: sparse_update), b_1 is not. masked: a layer whose
    input was dropped out reads the dropped-out input (work + k_off[l]).
    """
    cdef Py_ssize_t l, r, k, j, s, n_in, n_out, R, i0, i1, lda, lo, hi
    cdef floating* A_prev
    cdef floating* W
    cdef floating* dW
    cdef floating* db
    cdef floating* delta
    cdef floating* Wc = work + net.wc_off
    cdef bint compact, sgd = mode == APPLY_SGD
    for l in range(net.n_layers):
        n_in, n_out = net.sizes[l], net.sizes[l + 1]
        W = theta + net.w_off[l]
        dW = grad + net.w_off[l]
        delta = work + net.d_off[l]
        compact = l == 0 and K < n_in
        if l == 0:
            A_prev, lda, R = A0, K, K
        elif masked and net.drop[l] > 0:
            A_prev, lda, R = work + net.k_off[l], n_in, n_in
        else:
            A_prev, lda, R = work + net.a_off[l], n_in, n_in
        i0, i1 = part(R, i, parts), part(R, i + 1, parts)
        if l == 0 and skip_w1:
            pass
        elif i1 > i0:
            if compact:
                gemm(c'T', c'N', <int>(i1 - i0), <int>n_out, <int>n, <floating>(-rate if sgd else 1),
                     A_prev + i0, <int>max(lda, 1), delta, <int>n_out, <floating>(1 if sgd else 0),
                     Wc + i0 * n_out, <int>n_out)
                for k in range(i0, i1):
                    memcpy((W if sgd else dW) + cols[k] * n_out, Wc + k * n_out, n_out * sizeof(floating))
                if not sgd:
                    # The rows between this part's columns (and before / after them, for the first and last
                    # part) have no input in the batch: zero gradient.
                    lo = 0 if i0 == 0 else cols[i0 - 1] + 1
                    hi = n_in if i1 == K else cols[i1 - 1] + 1
                    k = i0
                    for r in range(lo, hi):
                        if k < i1 and cols[k] == r:
                            k += 1
                        else:
                            memset(dW + r * n_out, 0, n_out * sizeof(floating))
            elif sgd:
                gemm(c'T', c'N', <int>(i1 - i0), <int>n_out, <int>n, <floating>(-rate), A_prev + i0, <int>lda,
                     delta, <int>n_out, <floating>1, W + i0 * n_out, <int>n_out)
            else:
                gemm(c'T', c'N', <int>(i1 - i0), <int>n_out, <int>n, <floating>1, A_prev + i0, <int>lda, delta,
                     <int>n_out, <floating>0, dW + i0 * n_out, <int>n_out)
        elif compact and K == 0 and i == 0 and not sgd and not skip_w1:
            memset(dW, 0, n_in * n_out * sizeof(floating))  # a batch of zeros: no part has a column
        db = dW + n_in * n_out
        i0, i1 = part(n_out, i, parts), part(n_out, i + 1, parts)
        for j in range(i0, i1):
            db[j] = delta[j]
        for s in range(1, n):
            for j in range(i0, i1):
                db[j] += delta[s * n_out + j]
        if sgd:
            for j in range(i0, i1):
                W[n_in * n_out + j] = W[n_in * n_out + j] - <floating>rate * db[j]


cdef void sgd_one(Net* net, int loss, floating* theta, floating* work, floating* x, floating* y, double rate,
                  double* loss_sum, Py_ssize_t* correct) noexcept nogil:
    """One sample's plain SGD step on one thread (batch 1: the lessons' per-sample SGD): forward_rows,
    backward_rows and update_part for a single row, the same operations in the same order, without
    the batch machinery (for a 2-2-1 network that machinery is most of the step). x: the sample's
    inputs, y: its targets. Its loss is added to loss_sum, 1 to correct if predicted right (from the
    output before the update)."""
    cdef Py_ssize_t L = net.n_layers, l, n_in, n_out, k, j
    cdef floating* a_prev = x
    cdef floating* a
    cdef floating* W
    cdef floating* delta
    cdef floating* delta_prev
    cdef floating v, s, alpha = <floating>(-rate)
    for l in range(L):  # forward: a = f(a_prev W + b), the product's one-row loop (zeros skipped)
        n_in, n_out = net.sizes[l], net.sizes[l + 1]
        W = theta + net.w_off[l]
        a = work + net.a_off[l + 1]
        for j in range(n_out):
            a[j] = 0
        for k in range(n_in):
            v = a_prev[k]
            if v != 0:
                add_scaled_row(a, 1, v, W + k * n_out, n_out)
        bias_activate(a, W + n_in * n_out, 1, n_out, <int>net.acts[l])
        a_prev = a
    delta = work + net.d_off[L - 1]
    output_delta(loss, <int>net.acts[L - 1], a_prev, y, NULL, 1, 1, net.sizes[L], delta, NULL, 0)
    for l in range(L - 1, 0, -1):  # backward: delta_prev = f'(a) (delta W^T), from the old weights
        n_in, n_out = net.sizes[l], net.sizes[l + 1]
        W = theta + net.w_off[l]
        delta_prev = work + net.d_off[l - 1]
        for k in range(n_in):
            s = 0
            for j in range(n_out):
                s += delta[j] * W[k * n_out + j]
            delta_prev[k] = s
        backprop_activation(work + net.a_off[l], delta_prev, 1, n_in, <int>net.acts[l - 1])
        delta = delta_prev
    for l in range(L):  # update: W += -rate (a_prev^T delta), b -= rate delta
        n_in, n_out = net.sizes[l], net.sizes[l + 1]
        W = theta + net.w_off[l]
        delta = work + net.d_off[l]
        a_prev = x if l == 0 else work + net.a_off[l]
        for k in range(n_in):
            v = a_prev[k]
            if v != 0:
                add_scaled_row(W + k * n_out, alpha, v, delta, n_out)
        W += n_in * n_out
        for j in range(n_out):
            W[j] = W[j] - <floating>rate * delta[j]
    loss_sum[0] += loss_total(loss, work + net.a_off[L], y, NULL, 1, net.sizes[L], NULL)
    correct[0] += count_correct(<int>net.acts[L - 1], work + net.a_off[L], y, NULL, 1, net.sizes[L])


def spmm_slice(Py_ssize_t size=-1):
    """The bytes of a row of W_1 that inference's first layer on lists of nonzeros reads per slice (size >
    0 sets it, for the tests and benchmarks that compare them: not while an inference runs; a multiple
    of 256); returns it."""
    global SPMM_SLICE
    if size != -1:
        if size <= 0 or size % 256:
            raise ValueError(f"size must be a positive multiple of 256, got {size}")
        SPMM_SLICE = size
    return SPMM_SLICE
