# cython: language_level=3
"""nn._core: the compiled core's entry points, the only calls nn.backends.compiled makes. Every check
happens here, before the kernels run: shapes, lengths, codes, offsets, sizes that could overflow, so that
no call from Python reads or writes out of bounds.

Layout (as in nn): samples are rows; layer l has W_l (n_{l-1}, n_l) row-major and b_l (n_l,), stored
in one flat theta: W_1, b_1, W_2, b_2, ... The numbers follow nn.functions / nn.backends.reference
operation for operation, so the two agree to rounding.

The modules behind it, each with its interface in a .pxd: nn._kernels (products, activations, losses,
optimizer steps), nn._sparse (the first layer on lists of nonzeros; C in src/nn_sparse.h), nn._passes
(a network's passes over a batch's rows), nn._train (the training loop on a team of threads; the team
in src/nn_team.h), nn._scratch (a training call's scratch), nn._infer (the outputs of many rows, in
blocks on the team). Their kernels' wrappers for the tests are re-exported here.
"""
from cython cimport floating
from libc.limits cimport INT_MAX
from libc.stdint cimport uint64_t
from libc.string cimport memset

from nn._kernels cimport (ADAM, CROSS_ENTROPY, SGD, SOFTMAX, Hyper, check_codes, check_weights, hyper_from,
                          loss_total, n_state_arrays, plus, times)
from nn._passes cimport APPLY_SGD, WRITE_GRADIENT, Net, backward_rows, drop_rows, forward_rows, update_part
from nn._infer cimport run_inference
from nn._scratch cimport scratch_free, scratch_init
from nn._train cimport NN_MAX_THREADS, Job, Scratch, run_training

from nn._kernels import (ACTIVATION_NAMES, HYPER_NAMES, LOSS_NAMES, OPTIMIZER_NAMES, activate_inplace,
                         backprop_inplace, loss_and_delta, matmul, simd_available, simd_level, squares, step)
from nn._passes import spmm_slice
from nn._sparse import SPARSE_KERNELS, all_plus_zero, sparse_matmul
from nn._train import TEAM

# At most this many threads train one network.
MAX_THREADS = NN_MAX_THREADS


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during ``train``; ``epochs_done`` epochs had been completed."""

    def __init__(self, epochs_done):
        super().__init__(epochs_done)
        self.epochs_done = epochs_done


cdef Py_ssize_t[::1] _zeros(Py_ssize_t n):
    import numpy as np
    return np.zeros(n, dtype=np.intp)


cdef double[::1] _zeros_double(Py_ssize_t n):
    import numpy as np
    return np.zeros(n, dtype=np.float64)


cdef Py_ssize_t[::1] _copy(Py_ssize_t[::1] values):
    cdef Py_ssize_t[::1] out = _zeros(values.shape[0])
    out[:] = values
    return out


cdef class _Layout:
    """The network's layout, checked against the buffers it will index. Made by ``layout``; one made
    otherwise (``_Layout.__new__``) or whose initialisation failed is refused by every entry point."""
    cdef Net net
    cdef Py_ssize_t[::1] sizes, acts, w_off, a_off, d_off, k_off, m_off, in_off
    cdef double[::1] drop
    cdef Py_ssize_t n_params, work_size, batch
    cdef bint inference, ready

    def __cinit__(self):
        memset(&self.net, 0, sizeof(Net))
        self.n_params = self.work_size = self.batch = 0
        self.ready = False

    def __init__(self, Py_ssize_t[::1] sizes not None, Py_ssize_t[::1] acts not None, Py_ssize_t batch,
                 bint inference=False, const double[::1] dropout=None):
        cdef Py_ssize_t l, L = acts.shape[0], offset = 0, n_params, stride
        # Once ready, a layout never changes: a train call may be running on it without the GIL.
        if self.ready:
            raise ValueError("this layout is already initialised; make a new one with layout()")
        # Checked and used from copies of its own: the caller may change its arrays meanwhile.
        sizes, acts = _copy(sizes), _copy(acts)
        if L < 1 or sizes.shape[0] != L + 1:
            raise ValueError(f"sizes must have one more entry than acts (got {sizes.shape[0]} and {L})")
        # The products take int dimensions: layer sizes and batch rows, also as leading dimensions.
        if batch < 1 or batch > INT_MAX:
            raise ValueError(f"batch must be in 1..{INT_MAX}, got {batch}")
        for l in range(L + 1):
            if sizes[l] < 1 or sizes[l] > INT_MAX:
                raise ValueError(f"layer sizes must be in 1..{INT_MAX}, got {list(sizes)}")
        for l in range(L):
            if acts[l] < 0 or acts[l] > SOFTMAX:
                raise ValueError(f"activation codes must be in 0..{SOFTMAX}, got {acts[l]}")
        self.drop = _zeros_double(L)
        if dropout is not None:
            if dropout.shape[0] != L:
                raise ValueError(f"dropout must have one probability per layer ({L}), got {dropout.shape[0]}")
            for l in range(L):
                if not (0 <= dropout[l] < 1):
                    raise ValueError(f"dropout probabilities must be in [0, 1), got {dropout[l]} for layer {l}")
                self.drop[l] = 0 if inference else dropout[l]  # inference: no dropout
        self.sizes, self.acts, self.batch, self.inference = sizes, acts, batch, inference
        self.w_off = _zeros(L)
        self.a_off = _zeros(L + 1)
        self.d_off = _zeros(L)
        for l in range(L):
            self.w_off[l] = offset
            offset = plus(offset, plus(times(sizes[l], sizes[l + 1], "a weight matrix"), sizes[l + 1],
                                         "a layer's parameters"), "the parameters")
        n_params = offset
        # Inference reads its input in place and needs no deltas: only the layers' outputs.
        offset = 0
        for l in range(L + 1):
            self.a_off[l] = offset
            if l > 0 or not inference:
                offset = plus(offset, times(batch, sizes[l], "a layer's outputs"), "the scratch")
        # Training: each layer's delta, and room for W_1's rows in use.
        for l in range(L):
            self.d_off[l] = offset
            if not inference:
                offset = plus(offset, times(batch, sizes[l + 1], "a layer's deltas"), "the scratch")
        self.net.wc_off = offset
        if not inference:
            offset = plus(offset, times(sizes[0], sizes[1], "W_1"), "the scratch")
        # Dropout of layer l >= 1's input: its dropped-out copy and its multipliers; counters' offsets.
        self.k_off, self.m_off, self.in_off = _zeros(L), _zeros(L), _zeros(L)
        stride = 0
        for l in range(L):
            self.in_off[l] = stride
            stride = plus(stride, sizes[l], "the dropout counters")
            if l > 0 and self.drop[l] > 0:
                self.k_off[l] = offset
                offset = plus(offset, times(batch, sizes[l], "a dropped-out input"), "the scratch")
                self.m_off[l] = offset
                offset = plus(offset, times(batch, sizes[l], "a dropout mask"), "the scratch")
            self.net.any_drop = self.net.any_drop or self.drop[l] > 0
        self.net.stride = stride
        self.n_params, self.work_size = n_params, offset
        self.net.n_layers = L
        self.net.sizes = &self.sizes[0]
        self.net.acts = &self.acts[0]
        self.net.w_off = &self.w_off[0]
        self.net.a_off = &self.a_off[0]
        self.net.d_off = &self.d_off[0]
        self.net.drop = &self.drop[0]
        self.net.k_off = &self.k_off[0]
        self.net.m_off = &self.m_off[0]
        self.net.in_off = &self.in_off[0]
        self.ready = True

    @property
    def n_params(self):
        return self.n_params

    @property
    def work_size(self):
        return self.work_size

    def weight_offsets(self):
        """[(offset of W_l, offset of b_l)] in theta, as the core computed them (the twin of
        nn.layout.layer_offsets, paired by tests/test_layout.py)."""
        self.require()
        return [(self.w_off[l], self.w_off[l] + self.sizes[l] * self.sizes[l + 1]) for l in range(self.net.n_layers)]

    def output_offsets(self):
        """[(offset, rows, cols)] of each layer's output in work, for a full batch."""
        self.require()
        return [(self.a_off[l + 1], self.batch, self.sizes[l + 1]) for l in range(self.net.n_layers)]

    cdef require(self):
        if not self.ready:
            raise ValueError("the layout is not initialised: make it with layout()")

    cdef check(self, Py_ssize_t theta_size, Py_ssize_t work_size, Py_ssize_t x_rows, Py_ssize_t x_cols,
               Py_ssize_t y_rows=-1, Py_ssize_t y_cols=-1):
        """theta, work and X (and Y, unless y_rows < 0) against the layout."""
        self.require()
        if theta_size != self.n_params:
            raise ValueError(f"theta has {theta_size} entries, the layout needs {self.n_params}")
        if work_size < self.work_size:
            raise ValueError(f"work has {work_size} entries, the layout needs {self.work_size}")
        if x_cols != self.sizes[0]:
            raise ValueError(f"X has {x_cols} columns, the layout expects {self.sizes[0]}")
        if y_rows >= 0 and (y_cols != self.sizes[self.net.n_layers] or y_rows != x_rows):
            raise ValueError(f"Y has shape ({y_rows}, {y_cols}); expected ({x_rows}, {self.sizes[self.net.n_layers]})")
        if x_rows < 1:
            raise ValueError("X has no rows")

    cdef check_batch(self, Py_ssize_t x_rows):
        if x_rows > self.batch:
            raise ValueError(f"X has {x_rows} rows, the layout holds {self.batch}")


def layout(Py_ssize_t[::1] sizes not None, Py_ssize_t[::1] acts not None, Py_ssize_t batch, bint inference=False,
           const double[::1] dropout=None):
    """A checked layout for a network of ``sizes`` (n_in, n_1, ..., n_L) with activation codes ``acts``
    and batches of up to ``batch`` rows. ``work_size`` is the scratch length it needs; an inference
    layout serves ``forward`` only. ``dropout``: each layer's input dropout probability while training
    (ignored by an inference layout)."""
    return _Layout(sizes, acts, batch, inference, dropout)


cdef _check_training(_Layout lay):
    lay.require()
    if lay.inference:
        raise ValueError("an inference layout cannot train or compute gradients")


def forward(_Layout lay not None, const floating[::1] theta not None, floating[::1] work not None,
            const floating[:, ::1] X not None):
    """Run X (n <= lay.batch rows) through the network into work; returns nothing (read the outputs
    with ``lay`` offsets from Python: see nn.backends.compiled)."""
    lay.check(theta.shape[0], work.shape[0], X.shape[0], X.shape[1])
    lay.check_batch(X.shape[0])
    with nogil:
        forward_rows(&lay.net, <floating*>&theta[0], &work[0], <floating*>&X[0, 0], X.shape[1], 0, X.shape[0])


def forward_output(_Layout lay not None, const floating[::1] theta not None, const floating[:, ::1] X not None,
                   floating[:, ::1] out not None, int threads=1, bint lists=False):
    """The output layer's rows for X (any number of rows) into out (n, n_outputs), in blocks of lay.batch
    rows on up to `threads` threads (nn._infer), each with scratch of its own: any number of callers may
    share the layout. Returns False when X holds an inf or NaN (out is then incomplete; the caller reports
    it). lists: the first layer runs on each row's list of nonzeros (for inputs mostly zero; one row).
    With threads > 1 the products call BLAS from every thread: set it to one thread meanwhile."""
    cdef Py_ssize_t n = X.shape[0], k
    cdef int failed
    lay.check(theta.shape[0], lay.work_size, n, X.shape[1])
    k = lay.sizes[lay.net.n_layers]
    if out.shape[0] != n or out.shape[1] != k:
        raise ValueError(f"out must have shape ({n}, {k}), got ({out.shape[0]}, {out.shape[1]})")
    if threads < 1 or threads > MAX_THREADS:
        raise ValueError(f"threads must be in 1..{MAX_THREADS}, got {threads}")
    if lists:
        times(times(lay.batch, X.shape[1], "a block's lists"), sizeof(double), "a block's lists")
    with nogil:
        failed = run_inference(&lay.net, <void*>&theta[0], <void*>&X[0, 0], <void*>&out[0, 0], n, lay.batch,
                               lay.work_size, lists, floating is double, threads)
    if failed == 2:
        raise MemoryError("no memory for forward_output's scratch")
    return failed == 0


def gradients(_Layout lay not None, int loss, const floating[::1] theta not None, floating[::1] work not None,
              const floating[:, ::1] X not None, const floating[:, ::1] Y not None, floating[::1] grad not None,
              const floating[::1] weights=None):
    """Loss of the batch (X, Y) and dL/dtheta into grad (theta's layout). With ``weights`` (one per row),
    the loss is sum(w_i l_i) / sum(w_i) (0 if the weights sum to 0) and the gradient is its gradient."""
    cdef double value
    cdef floating* A
    cdef floating* W = NULL
    cdef floating w_total = 0
    _check_training(lay)
    lay.check(theta.shape[0], work.shape[0], X.shape[0], X.shape[1], Y.shape[0], Y.shape[1])
    check_codes(loss, SGD)
    if grad.shape[0] != theta.shape[0]:
        raise ValueError(f"grad has {grad.shape[0]} entries, theta {theta.shape[0]}")
    lay.check_batch(X.shape[0])
    if weights is not None:
        w_total = <floating>check_weights(weights, X.shape[0])
        W = <floating*>&weights[0]
    with nogil:
        A = forward_rows(&lay.net, <floating*>&theta[0], &work[0], <floating*>&X[0, 0], X.shape[1], 0, X.shape[0])
        value = loss_total(loss, A, <floating*>&Y[0, 0], NULL, X.shape[0], Y.shape[1], W)
        if W == NULL:
            value /= X.shape[0]
        else:
            value = value / w_total if w_total != 0 else 0
        backward_rows(&lay.net, loss, <floating*>&theta[0], &work[0], <floating*>&Y[0, 0], NULL, 0, X.shape[0],
                      X.shape[0], W, w_total)
        update_part(&lay.net, <floating*>&theta[0], &work[0], <floating*>&X[0, 0], X.shape[1], NULL, X.shape[0], 0, 1,
                    &grad[0], WRITE_GRADIENT, 0)
    return value


cdef class TrainScratch:
    """What training a network in batches of up to ``batch_size`` rows writes besides theta and the
    optimizer's state (every layer's outputs and deltas, the gradient, the threads' shares, the lists of
    nonzeros), made once per network, batch size, thread count and dtype, and reused by every ``train``
    call given it. One call at a time: a second concurrent call with the same scratch is refused.

    threads: the team's size (at most ``batch_size`` and MAX_THREADS); sparse: room for the first layer
    on lists of nonzeros; dtype: "float64" or "float32", theta's.
    """
    cdef Scratch s
    cdef _Layout lay
    cdef bint busy
    cdef readonly Py_ssize_t batch_size
    cdef readonly int threads
    cdef readonly bint sparse
    cdef readonly str dtype
    cdef readonly bint backed_off  # whether the last train call's team went on as one thread (back_off)

    def __cinit__(self):
        memset(&self.s, 0, sizeof(Scratch))
        self.busy = False
        self.backed_off = False

    def __init__(self, _Layout lay not None, Py_ssize_t batch_size, int threads=1, bint sparse=False,
                 str dtype="float64"):
        cdef Py_ssize_t n_in
        if self.lay is not None:
            raise ValueError("this scratch is already initialised; make a new one")
        _check_training(lay)
        if batch_size < 1 or batch_size > lay.batch:
            raise ValueError(f"batch_size must be in 1..{lay.batch}, got {batch_size}")
        if threads < 1 or threads > MAX_THREADS:
            raise ValueError(f"threads must be in 1..{MAX_THREADS}, got {threads}")
        if dtype not in ("float64", "float32"):
            raise ValueError(f"dtype must be 'float64' or 'float32', got {dtype!r}")
        n_in = lay.sizes[0]
        # Sizes that could overflow: the work and the lists of nonzeros (the threads' arrays, at most
        # MAX_THREADS x (n_in + 1) entries, cannot: n_in <= INT_MAX).
        times(lay.work_size, sizeof(double), "the scratch")
        if sparse:
            times(times(batch_size, n_in, "a sparse batch"), sizeof(double), "a sparse batch")
        threads = <int>min(threads, batch_size)
        if scratch_init(&self.s, lay.work_size, lay.n_params, n_in, lay.sizes[1], batch_size, threads, sparse,
                        dtype == "float64") != 0:
            raise MemoryError()
        self.lay, self.batch_size, self.threads, self.sparse, self.dtype = lay, batch_size, threads, sparse, dtype

    def __dealloc__(self):
        scratch_free(&self.s)

    def __repr__(self):
        return (f"TrainScratch(batch_size={self.batch_size}, threads={self.threads}, sparse={self.sparse}, "
                f"dtype={self.dtype!r})")


def train(TrainScratch scratch not None, int loss, int optimizer, const double[::1] hyper not None,
          long long[::1] steps not None, floating[::1] theta not None, floating[::1] state1 not None,
          floating[::1] state2 not None, const floating[:, ::1] X not None, const floating[:, ::1] Y not None,
          const Py_ssize_t[:, ::1] order not None, double[::1] epoch_loss not None,
          Py_ssize_t[::1] epoch_correct not None, floating[::1] snapshot not None, Py_ssize_t check_every=0,
          const floating[::1] weights=None, const double[::1] rates=None, double clip_norm=0,
          const uint64_t[::1] keys=None, double back_off=0, bint fused=True):
    """Train for order.shape[0] epochs, epoch e visiting rows order[e] in batches of scratch.batch_size,
    without the GIL, on scratch.threads threads. Updates theta, the optimizer state and steps[0] (steps
    taken) in place; fills epoch_loss (sum over the epoch's samples of each one's loss) and epoch_correct.
    Stops after an epoch whose loss is not finite or after which theta holds a non-finite value (its loss
    is then reported as NaN); with a non-empty snapshot (theta and the state, concatenated), that epoch's
    start is kept there. Checks for Ctrl-C every check_every batches (0: never) and raises Interrupted,
    leaving the weights of the last completed batch. Returns the number of epochs completed.

    hyper: the optimizer's hyper-parameters in the order of HYPER_NAMES. Plain SGD without weight decay
    is applied inside the products (APPLY_SGD); every other optimizer steps from the batch's gradient.

    Threads (scratch.threads > 1) split every batch: each runs its share of the rows forward and back,
    and updates its share of each weight matrix's rows. Their products call BLAS at the same time: it
    should be set to one thread of its own meanwhile (the caller's job).

    scratch.sparse: the first layer of batches of two or more rows runs on each row's list of nonzeros
    (spmm: AVX-512 or AVX2 / FMA when SPARSE_KERNELS, else portable loops), for inputs that are mostly zeros.

    weights: one sample weight per row of X (or None): each batch's loss is sum(w_i l_i) / sum(w_i), and
    epoch_loss holds the sum over the epoch of w_i l_i.

    rates: each epoch's learning rate (a schedule; >= 0), or None: hyper's learning_rate throughout.
    clip_norm: > 0 scales each batch's gradient g by min(1, clip_norm / (||g|| + 1e-6)) before the
    optimizer's step (PyTorch's clip_grad_norm_); 0 leaves it.
    keys: each epoch's dropout key (nn.dropout), needed when the layout has dropout, unused otherwise.
    back_off: > 0 lets a team go on as one thread when that is faster: in an epoch of 64 batches or more
    it times 16 batches as a team and the next 16 with thread 0 alone (running every thread's part of
    the work: the same numbers, bit for bit), and when alone took less than back_off times the team's
    time (another process holds a core, or the batches are too small to share), thread 0 trains on
    alone for the rest of the call; scratch.backed_off then says so. Else it tries again next epoch.
    0: never tries.
    fused: on the sparse path with an optimizer other than plain SGD and no clipping, W_1's step is taken
    a few rows at a time as each part makes them (one pass over W_1 and its state, while the rows of the
    gradient are in cache), not from the whole gradient afterwards; the same bits either way (False: the
    tests' way to compare).
    """
    cdef _Layout lay = scratch.lay
    cdef Py_ssize_t P = theta.shape[0], n_epochs = order.shape[0], m = order.shape[1], i
    cdef Py_ssize_t n_state = n_state_arrays(optimizer), n_rows = X.shape[0], batches
    cdef Job job
    if lay is None:
        raise ValueError("the scratch is not initialised: make it with TrainScratch(layout, batch_size, ...)")
    lay.check(P, lay.work_size, X.shape[0], X.shape[1], Y.shape[0], Y.shape[1])
    if floating is double:
        dtype = "float64"
    else:
        dtype = "float32"
    if dtype != scratch.dtype:
        raise ValueError(f"theta is {dtype}, the scratch {scratch.dtype}")
    check_codes(loss, optimizer)
    memset(&job, 0, sizeof(Job))
    job.hyper = hyper_from(hyper)
    if rates is None and not job.hyper.learning_rate > 0:
        raise ValueError(f"learning_rate must be > 0, got {job.hyper.learning_rate}")
    if rates is not None:
        if rates.shape[0] < n_epochs:
            raise ValueError(f"rates must hold a rate for each of the {n_epochs} epochs, got {rates.shape[0]}")
        for i in range(n_epochs):
            if not (rates[i] >= 0 and rates[i] - rates[i] == 0):
                raise ValueError(f"rates must be finite and >= 0, got {rates[i]} for epoch {i}")
    if lay.net.any_drop:
        if keys is None or keys.shape[0] < n_epochs:
            raise ValueError(f"the layout has dropout: keys must hold a key for each of the {n_epochs} epochs")
        if lay.drop[0] > 0 and scratch.sparse:
            raise ValueError("dropout on the first layer's input needs the dense first layer (sparse=False)")
    if not (clip_norm >= 0 and clip_norm - clip_norm == 0):
        raise ValueError(f"clip_norm must be finite and >= 0 (0: no clipping), got {clip_norm}")
    if steps.shape[0] != 1:
        raise ValueError("steps must hold one value")
    if (n_state >= 1 and state1.shape[0] != P) or (n_state == 2 and state2.shape[0] != P):
        raise ValueError(f"{OPTIMIZER_NAMES[optimizer]} needs {n_state} state arrays of {P} entries")
    if snapshot.shape[0] != 0 and snapshot.shape[0] != (1 + n_state) * P:
        raise ValueError(f"snapshot must be empty or hold {(1 + n_state) * P} entries")
    if epoch_loss.shape[0] < n_epochs or epoch_correct.shape[0] < n_epochs:
        raise ValueError(f"epoch_loss and epoch_correct must hold {n_epochs} values")
    if check_every < 0:
        raise ValueError(f"check_every must be >= 0 (0: never), got {check_every}")
    if m == 0 or n_epochs == 0:
        return 0
    if steps[0] < 0:
        raise ValueError(f"steps must hold the steps taken so far (>= 0), got {steps[0]}")
    batches = (m + scratch.batch_size - 1) // scratch.batch_size
    plus(<Py_ssize_t>steps[0], times(n_epochs, batches, "the steps"), "the steps")
    for i in range(n_epochs * m):
        if order[i // m, i % m] < 0 or order[i // m, i % m] >= n_rows:
            raise ValueError(f"order holds row {order[i // m, i % m]}, outside 0..{n_rows - 1}")
    if weights is not None:
        check_weights(weights, n_rows)
    if scratch.busy:
        raise RuntimeError("this TrainScratch is in use by another train call; give each its own")
    job.net, job.scratch = &lay.net, &scratch.s
    # The core only reads hyper, X, Y, order and weights (they may be read-only arrays, memory maps).
    job.loss, job.optimizer = loss, optimizer
    job.mode = APPLY_SGD if optimizer == SGD and job.hyper.weight_decay == 0 and clip_norm == 0 else WRITE_GRADIENT
    job.rates = &rates[0] if rates is not None else NULL
    job.keys = &keys[0] if lay.net.any_drop else NULL
    job.clip_norm = clip_norm
    job.fused = fused and scratch.sparse and job.mode == WRITE_GRADIENT and clip_norm == 0
    if not back_off >= 0:
        raise ValueError(f"back_off must be >= 0, got {back_off}")
    job.back_off = back_off
    job.theta, job.X, job.Y = &theta[0], <void*>&X[0, 0], <void*>&Y[0, 0]
    job.s1 = &state1[0] if n_state >= 1 else NULL  # (an array the optimizer does not use is never read)
    job.s2 = &state2[0] if n_state == 2 else NULL
    job.snapshot = &snapshot[0] if snapshot.shape[0] else NULL
    job.weights = <void*>&weights[0] if weights is not None else NULL
    job.order, job.n_epochs, job.m, job.batch_size, job.n_params = <Py_ssize_t*>&order[0, 0], n_epochs, m, \
        scratch.batch_size, P
    job.check_every, job.epoch_loss, job.epoch_correct = check_every, &epoch_loss[0], &epoch_correct[0]
    scratch.busy = True
    try:
        with nogil:
            run_training(&job, steps[0])
    finally:
        scratch.busy = False
    scratch.backed_off = job.alone
    steps[0] = scratch.s.workers[0].t
    if scratch.s.workers[0].interrupted:
        raise Interrupted(scratch.s.workers[0].done)
    return scratch.s.workers[0].done


def dropout_rows(floating[:, ::1] A not None, const Py_ssize_t[::1] rows not None, uint64_t key, Py_ssize_t offset,
                 Py_ssize_t stride, double p, floating[:, ::1] M not None):
    """A *= the dropout multipliers of the samples ``rows`` (row i of A is sample rows[i]), also written
    to M: the kernel drop_rows, for the tests that pair it with its twin nn.dropout.multipliers."""
    cdef Py_ssize_t i, n = A.shape[0], k = A.shape[1]
    if rows.shape[0] != n or M.shape[0] != n or M.shape[1] != k:
        raise ValueError(f"rows must have one entry per row of A ({n}) and M the shape of A")
    if not 0 <= p < 1:
        raise ValueError(f"p must be in [0, 1), got {p}")
    if offset < 0 or stride < 0:
        raise ValueError("offset and stride must be >= 0")
    for i in range(n):
        if rows[i] < 0:
            raise ValueError(f"rows must be >= 0, got {rows[i]}")
    if n == 0 or k == 0:
        return
    with nogil:
        drop_rows(&A[0, 0], &A[0, 0], &M[0, 0], 0, n, k, <Py_ssize_t*>&rows[0], key, offset, stride, p)
