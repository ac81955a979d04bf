# cython: language_level=3
"""nn._train: the training loop of the compiled core, the twin of nn.backends.reference.train_epochs.

run_training runs a Job (the network, the data, the epochs' orders, the optimizer) on a team of threads
(src/nn_team.h) without the GIL; each thread runs train_thread over the same batches. A batch takes one
of three paths:

- per_sample_sgd: one sample, one thread, plain SGD and a small network: sgd_one (nn._passes);
- run_batch, dense: the first layer on the batch's rows (only the columns in use, when few are: gather);
- run_batch, sparse: the first layer on each row's list of nonzeros (nn._sparse), for inputs mostly zero.

The work of a call is cut into parts, as many as the team has threads when it starts, and every phase
runs part by part: a thread of the team runs its own (w.index); thread 0 alone runs every part one after
the other with the same cuts: the same numbers, bit for bit. So a team may try whether thread 0 alone is
faster (trial: on a busy machine, or batches too small to share) and back off for the rest of the call.
Per batch: prepare_batch (the parts' column marks or lists of nonzeros; Ctrl-C) | sync | [dense:
gather the parts' rows (and parts of W_1's rows in use: | sync)] | forward_loss_deltas of the parts'
rows | sync | update the parts of the weights (APPLY_SGD: in the products; WRITE_GRADIENT: the parts'
gradient, on the sparse path with W_1's step fused into it | sync | [clipping | sync] | the optimizer's
step on the parts of theta). The next batch's first sync separates its reads of theta from this batch's
updates. end_epoch adds up the parts' figures and checks theta for inf and NaN.
"""
from cython cimport floating
from libc.math cimport NAN, sqrt
from libc.string cimport memcpy
from cpython.exc cimport PyErr_Clear

from nn._kernels cimport (ADAM, SGD, Hyper, StepConsts, all_finite, count_correct, loss_total, n_state_arrays,
                          optimizer_step, step_consts, step_with, sum_of_squares)
from nn._passes cimport (APPLY_SGD, WRITE_GRADIENT, Net, backward_rows, columns_in_use, forward_rows,
                         gather_rows, mark_nonzero, part, sgd_one, update_part)
from nn._sparse cimport (Prefetch, SparseBatch, prefetch_init, prefetch_lines, sparse_columns, sparse_rows, sparse_step,
                         spmm, zero_state_rows)

cdef extern from "Python.h":
    # Declared without Cython's `except -1`: the caller clears the error and reports it itself.
    int PyErr_CheckSignals()

cdef extern from "nn_team.h":
    ctypedef void (*nn_team_body)(void* arg, int index, int size) noexcept nogil
    int nn_run_team(nn_team_body body, void* arg, int n) nogil
    void nn_barrier_wait(nn_barrier* b, int n, int* local_sense) nogil
    int nn_load(int* p) nogil
    void nn_store(int* p, int v) nogil
    long long nn_now_ns() nogil

# The thread team's implementation in this build: "pthreads", "openmp" or "none" (see nn_team.h).
TEAM = NN_TEAM_KIND.decode()

# Networks up to this many parameters take sgd_one for batch-1 SGD steps. Beyond, a step is the
# products' memory traffic and the general path was measured as fast or faster (784-128-10: 263 against
# 287 ms per epoch of 20,000 samples).
cdef Py_ssize_t SGD_ONE_MAX_PARAMS = 16384

# A team that may back off (job.back_off > 0) times a window of TRIAL batches as a team and the next one
# with thread 0 alone, and keeps the faster (see trial).
cdef Py_ssize_t TRIAL = 16

# ----- running a job --------------------------------------------------------------------------------
cdef void run_training(Job* job, long long steps) noexcept nogil:
    """Run the job on up to job.scratch.threads threads; every worker starts at `steps` optimizer steps.
    The results: workers[0].done (epochs completed), .t (steps), .interrupted (Ctrl-C)."""
    cdef Scratch* s = job.scratch
    cdef int i
    for i in range(s.threads):
        s.workers[i].job = job
        s.workers[i].index = i
        s.workers[i].size = 1
        s.workers[i].sense = 0
        s.workers[i].t = steps
        s.workers[i].done = 0
        s.workers[i].until_check = job.check_every
        s.workers[i].batch = 0
        s.workers[i].interrupted = False
    job.barrier.count = job.barrier.sense = job.barrier.sleepers = 0
    job.stop = 0
    job.alone = False
    job.retest_zero_rows = False
    if job.fused:  # which rows of W_1 start with +0 state (read once here, then kept by the fused step)
        mark_zero_rows(job, False)
    nn_run_team(team_body, job, s.threads)


cdef void mark_zero_rows(Job* job, bint retest) noexcept nogil:
    """scratch.zero_rows from the optimizer's state of W_1 (nn._sparse.zero_state_rows): every row, or
    with retest only those still marked."""
    cdef Scratch* s = job.scratch
    if s.is_double:
        zero_state_rows(<double*>state_of(job.s1, job.net.w_off[0], sizeof(double)),
                        <double*>state_of(job.s2, job.net.w_off[0], sizeof(double)),
                        job.net.sizes[0], job.net.sizes[1], s.zero_rows, retest)
    else:
        zero_state_rows(<float*>state_of(job.s1, job.net.w_off[0], sizeof(float)),
                        <float*>state_of(job.s2, job.net.w_off[0], sizeof(float)),
                        job.net.sizes[0], job.net.sizes[1], s.zero_rows, retest)


cdef inline void* state_of(void* state, Py_ssize_t offset, size_t item) noexcept nogil:
    """A state array's entries from offset on (items of `item` bytes), or NULL for no array."""
    return <char*>state + offset * <Py_ssize_t>item if state != NULL else NULL


cdef void team_body(void* arg, int index, int size) noexcept nogil:
    cdef Job* job = <Job*>arg
    cdef Worker* w = &job.scratch.workers[index]
    w.thread, w.index, w.size, w.alone = index, index, size, False
    if job.scratch.is_double:
        w.done = train_thread(w, <double*>job.theta)
    else:
        w.done = train_thread(w, <float*>job.theta)


cdef inline void sync(Worker* w) noexcept nogil:
    if w.size > 1 and not w.alone:
        nn_barrier_wait(&(<Job*>w.job).barrier, w.size, &w.sense)


# The parts of a phase a thread runs (w.index takes each in turn): its own in a team; every part, one
# after the other, when alone. The work is cut into w.size parts, the team's size when the call started,
# whoever runs them: a thread alone computes exactly what the team would have, the same operations on
# the same numbers (the same bits).
cdef inline int first_part(Worker* w) noexcept nogil:
    return 0 if w.alone else w.thread


cdef inline int end_part(Worker* w) noexcept nogil:
    return w.size if w.alone else w.thread + 1


cdef int check_signals() noexcept nogil:
    """1 if Ctrl-C (or another signal handler) asked to stop; the exception is re-raised by the caller."""
    with gil:
        if PyErr_CheckSignals() != 0:
            PyErr_Clear()
            return 1
    return 0


# ----- one thread's epochs --------------------------------------------------------------------------
cdef Py_ssize_t train_thread(Worker* w, floating* theta) noexcept nogil:
    """One thread's share of the epochs; returns the epochs completed. With one thread, the whole job.
    After an epoch whose loss is not finite, or after which theta holds a non-finite value (its loss is
    then NaN: the epoch's last update overflowed), stop (the epoch's start is in snapshot, when given)."""
    cdef Job* job = <Job*>w.job
    cdef Scratch* s = job.scratch
    cdef Py_ssize_t e, start, n, m = job.m, skip
    cdef Py_ssize_t* rows
    cdef SparseBatch* sp
    cdef int v
    cdef bint per_sample = (job.mode == APPLY_SGD and job.weights == NULL and w.size == 1
                            and job.n_params <= SGD_ONE_MAX_PARAMS and job.keys == NULL)
    for e in range(job.n_epochs):
        for v in range(first_part(w), end_part(w)):
            w.index = v
            begin_epoch(w, theta, e)
        start = 0
        while start < m:
            if job.back_off > 0 and w.size > 1 and not job.alone:
                skip = trial(w, start // job.batch_size, (m + job.batch_size - 1) // job.batch_size)
                if skip < 0:
                    if nn_load(&job.stop):
                        w.interrupted = True
                    return e  # this thread leaves: thread 0 runs its parts from now on, or Ctrl-C
                start += skip * job.batch_size
            n = job.batch_size if start + job.batch_size <= m else m - start
            rows = job.order + e * m + start
            w.mask.rows = rows
            sp = &s.lists[w.batch & 1] if s.sparse and n > 1 else NULL
            for v in range(first_part(w), end_part(w)):
                w.index = v
                prepare_batch(w, <floating*>job.X, rows, n, sp)
            w.index = w.thread
            check_ctrl_c(w)
            w.batch += 1
            sync(w)  # (the batch before has made every update)
            if job.retest_zero_rows and w.thread == 0:  # read by the fused step after run_batch's first sync
                mark_zero_rows(job, True)
                job.retest_zero_rows = False
            if nn_load(&job.stop):
                w.interrupted = True
                if w.alone and not job.alone:  # Ctrl-C in a trial: the others wait in trial(); release them
                    nn_barrier_wait(&job.barrier, w.size, &w.sense)
                return e
            w.next_rows, w.next_n = next_batch(job, e, start)
            if n == 1 and per_sample:
                per_sample_sgd(w, theta, rows)
            else:
                run_batch(w, theta, rows, n, sp)
            start += job.batch_size
        if not end_epoch(w, theta, e):
            return e + 1
    return job.n_epochs


cdef (Py_ssize_t*, Py_ssize_t) next_batch(Job* job, Py_ssize_t e, Py_ssize_t start) noexcept nogil:
    """The rows of the batch after the one at `start` of epoch e, and how many (NULL, 0: none)."""
    cdef Py_ssize_t m = job.m, b = job.batch_size
    if start + b < m:
        return job.order + e * m + start + b, min(b, m - start - b)
    if e + 1 < job.n_epochs:
        return job.order + (e + 1) * m, min(b, m)
    return NULL, 0


cdef Py_ssize_t trial(Worker* w, Py_ssize_t b, Py_ssize_t batches) noexcept nogil:
    """Before batch b of an epoch of `batches`, in a team that may back off (job.back_off > 0): in an epoch
    of at least 4 windows of TRIAL batches, the team times its first window; then thread 0 runs the
    second window alone, running every part (the same numbers), while the others wait at the barrier.
    If alone took less than job.back_off times the team's time (another process holds a core, or the
    batches are too small to share), thread 0 goes on alone for the rest of the call and the others
    leave; else the team goes on, and tries again next epoch. Returns the batches this thread is to skip
    (the trial's, for the threads that waited), or -1 when it is to leave (alone chosen, or Ctrl-C)."""
    cdef Job* job = <Job*>w.job
    cdef long long now
    if batches < 4 * TRIAL or (b != 0 and b != TRIAL and b != 2 * TRIAL):
        return 0
    now = nn_now_ns()
    if b == 0:
        if w.thread == 0:
            job.wall_mark = now
        return 0
    if b == TRIAL and not w.alone:
        sync(w)  # the team's window is done
        if w.thread == 0:
            job.team_ns = nn_now_ns() - job.wall_mark
            job.wall_mark = nn_now_ns()
            w.alone = True
            return 0
        nn_barrier_wait(&job.barrier, w.size, &w.sense)  # until thread 0's window alone ends
        if nn_load(&job.stop) or job.alone:
            return -1
        w.batch += TRIAL
        w.t = job.scratch.workers[0].t
        return TRIAL
    if b == 2 * TRIAL and w.alone:  # thread 0, at the end of its window alone
        job.alone = now - job.wall_mark < job.back_off * job.team_ns
        w.alone = job.alone
        nn_barrier_wait(&job.barrier, w.size, &w.sense)
    return 0


cdef void begin_epoch(Worker* w, floating* theta, Py_ssize_t e) noexcept nogil:
    """Part 0 keeps the epoch's start in the snapshot (every thread is past the last epoch's updates);
    each part zeroes its share of the epoch's figures (every thread has read them: end_epoch); the
    thread takes the epoch's learning rate and dropout key."""
    cdef Job* job = <Job*>w.job
    w.rate = job.rates[e] if job.rates != NULL else job.hyper.learning_rate
    w.mask.key = job.keys[e] if job.keys != NULL else 0
    cdef Py_ssize_t P = job.n_params, n_state = n_state_arrays(job.optimizer)
    cdef floating* snapshot = <floating*>job.snapshot
    if w.index == 0 and snapshot != NULL:
        memcpy(snapshot, theta, P * sizeof(floating))
        if n_state >= 1:
            memcpy(snapshot + P, job.s1, P * sizeof(floating))
        if n_state == 2:
            memcpy(snapshot + 2 * P, job.s2, P * sizeof(floating))
    job.scratch.loss_part[w.index] = 0
    job.scratch.correct_part[w.index] = 0


cdef void prepare_batch(Worker* w, floating* X, Py_ssize_t* rows, Py_ssize_t n, SparseBatch* sp) noexcept nogil:
    """The part's rows' lists of nonzeros (sparse) or marks of the columns they use (dense, two rows or
    more)."""
    cdef Job* job = <Job*>w.job
    cdef Scratch* s = job.scratch
    cdef Py_ssize_t n_in = s.n_in, r0 = part(n, w.index, w.size), r1 = part(n, w.index + 1, w.size)
    if sp != NULL:
        sparse_rows(X, rows, r0, r1, n_in, sp.idx, <floating*>sp.val, sp.beg, sp.end, sp.counts + w.index * n_in)
    elif n > 1:
        mark_nonzero(X, rows + r0, r1 - r0, n_in, <floating*>s.marks + w.index * n_in)


cdef void check_ctrl_c(Worker* w) noexcept nogil:
    """Thread 0, before batches check_every, 2 check_every, ...: whether Ctrl-C asked to stop (job.stop)."""
    cdef Job* job = <Job*>w.job
    if w.thread == 0 and job.check_every > 0:
        if w.until_check == 0:
            w.until_check = job.check_every
            if check_signals():
                nn_store(&job.stop, 1)
        w.until_check -= 1


cdef void per_sample_sgd(Worker* w, floating* theta, Py_ssize_t* rows) noexcept nogil:
    """The per-sample path: one SGD step on the sample rows[0] (sgd_one) and its figures."""
    cdef Job* job = <Job*>w.job
    cdef Net* net = job.net
    cdef Py_ssize_t L = net.n_layers, n_in = net.sizes[0], k = net.sizes[L]
    sgd_one(net, job.loss, theta, <floating*>job.scratch.work, <floating*>job.X + rows[0] * n_in,
            <floating*>job.Y + rows[0] * k, w.rate, &job.scratch.loss_part[0],
            &job.scratch.correct_part[0])


cdef void run_batch(Worker* w, floating* theta, Py_ssize_t* rows, Py_ssize_t n, SparseBatch* sp) noexcept nogil:
    """A batch off the per-sample path, each phase on this thread's parts: [dense: gather (| sync when
    W_1's rows in use were copied)] | forward_loss_deltas | sync | update. With sp, the first layer runs
    on the lists of nonzeros (A0 unused)."""
    cdef Job* job = <Job*>w.job
    cdef Py_ssize_t n_in = job.net.sizes[0], K = n_in
    cdef floating* A0 = <floating*>job.scratch.work + job.net.a_off[0]
    cdef int v
    if sp == NULL:
        for v in range(first_part(w), end_part(w)):
            w.index = v
            K = gather(w, theta, rows, n, &A0)
        if K < n_in:
            sync(w)
    for v in range(first_part(w), end_part(w)):
        w.index = v
        forward_loss_deltas(w, theta, A0, K, rows, n, sp)
    sync(w)
    update(w, theta, A0, K, n, sp)
    w.index = w.thread


cdef Py_ssize_t gather(Worker* w, floating* theta, Py_ssize_t* rows, Py_ssize_t n, floating** A0) noexcept nogil:
    """The dense path's inputs for the part: the batch's rows gathered (only the columns in use, with
    those rows of W_1, when few are in use); one sample is read in place (*A0 set to it), the products'
    loops skip its zeros. Returns K, the columns in use (every part finds the same)."""
    cdef Job* job = <Job*>w.job
    cdef Net* net = job.net
    cdef Scratch* s = job.scratch
    cdef int me = w.index, T = w.size
    cdef Py_ssize_t n_in = net.sizes[0], n_1 = net.sizes[1], K, k
    cdef Py_ssize_t r0 = part(n, me, T), r1 = part(n, me + 1, T)
    cdef floating* work = <floating*>s.work
    cdef floating* W1 = theta + net.w_off[0]
    cdef Py_ssize_t* cols = s.cols + me * n_in
    cdef bint drop_inputs = job.keys != NULL and net.drop[0] > 0  # dropped in place: a copy of every column
    if n == 1 and not drop_inputs:
        A0[0] = <floating*>job.X + rows[0] * n_in
        return n_in
    K = n_in if drop_inputs or n == 1 else columns_in_use(<floating*>s.marks, T, n_in, cols)
    gather_rows(<floating*>job.X, rows, r0, r1, n_in, A0[0], cols, K)
    if K < n_in:
        for k in range(part(K, me, T), part(K, me + 1, T)):
            memcpy(work + net.wc_off + k * n_1, W1 + cols[k] * n_1, n_1 * sizeof(floating))
    return K


cdef void forward_loss_deltas(Worker* w, floating* theta, floating* A0, Py_ssize_t K, Py_ssize_t* rows,
                              Py_ssize_t n, SparseBatch* sp) noexcept nogil:
    """The part's rows forward, their loss and correct predictions into the part's share, their deltas."""
    cdef Job* job = <Job*>w.job
    cdef Net* net = job.net
    cdef Scratch* s = job.scratch
    cdef Py_ssize_t L = net.n_layers, k = net.sizes[L], q
    cdef Py_ssize_t r0 = part(n, w.index, w.size), r1 = part(n, w.index + 1, w.size)
    cdef floating* Y = <floating*>job.Y
    cdef floating* weights = <floating*>job.weights  # one per row of X, or NULL
    cdef floating w_total = 0
    cdef floating* A
    if weights != NULL:  # the batch's total weight, the same sum (in the same order) for every part
        for q in range(n):
            w_total += weights[rows[q]]
    A = forward_rows(net, theta, <floating*>s.work, A0, K, r0, r1, sp, &w.mask if job.keys != NULL else NULL)
    s.loss_part[w.index] += loss_total(job.loss, A, Y, rows + r0, r1 - r0, k, weights)
    s.correct_part[w.index] += count_correct(<int>net.acts[L - 1], A, Y, rows + r0, r1 - r0, k)
    backward_rows(net, job.loss, theta, <floating*>s.work, Y, rows, r0, r1, n, weights, w_total, job.keys != NULL)


cdef void update(Worker* w, floating* theta, floating* A0, Py_ssize_t K, Py_ssize_t n, SparseBatch* sp) noexcept nogil:
    """The batch's update, each phase on this thread's parts. APPLY_SGD: applied in the products.
    WRITE_GRADIENT: the parts' gradient (fused, lists of nonzeros: with W_1's step) | sync | [clipping:
    the parts' sums of squares | sync | the parts scaled] | the optimizer's step on the parts of theta
    (fused: of theta after W_1), at the epoch's rate."""
    cdef Job* job = <Job*>w.job
    cdef Net* net = job.net
    cdef Scratch* s = job.scratch
    cdef floating* grad = <floating*>s.grad
    cdef Py_ssize_t P = job.n_params, n_state = n_state_arrays(job.optimizer), p0, p1, p, n_in = net.sizes[0]
    cdef bint fused = job.fused and sp != NULL  # (a batch of one row has no lists)
    cdef Py_ssize_t first = net.w_off[0] + n_in * net.sizes[1] if fused else 0  # W_1 (first) has had its step
    cdef floating* s1 = <floating*>job.s1
    cdef floating* s2 = <floating*>job.s2
    cdef Hyper hyper = job.hyper
    cdef StepConsts consts
    cdef bint sgd = job.mode == APPLY_SGD
    cdef double total = 0, scale
    cdef int v
    hyper.learning_rate = w.rate
    if not sgd:
        step_consts(job.optimizer, &hyper, w.t + 1, &consts)
    for v in range(first_part(w), end_part(w)):
        w.index = v
        update_part(net, theta, <floating*>s.work, A0, K, s.cols + v * n_in, n, v, w.size, grad,
                    APPLY_SGD if sgd else WRITE_GRADIENT, w.rate if sgd else 0, sp != NULL, job.keys != NULL)
        if sp != NULL:
            if sgd:
                sparse_update(w, sp, n, theta + net.w_off[0], <floating>(-w.rate), 1, NULL)
            elif fused:
                sparse_update(w, sp, n, theta + net.w_off[0], 1, 0, &consts)
            else:
                sparse_update(w, sp, n, grad + net.w_off[0], 1, 0, NULL)
    if sgd:
        return
    if job.fused and not fused and w.thread == 0:  # W_1's whole step below may move any row's state:
        job.retest_zero_rows = True                 # the rows still marked are tested again (train_thread)
    sync(w)
    w.t += 1
    if job.clip_norm > 0:
        # Clipping by the global L2 norm (PyTorch's clip_grad_norm_): the parts' sums of squares, added in
        # part order (the same norm on every thread), scale each part by min(1, clip_norm / (norm + 1e-6)).
        for v in range(first_part(w), end_part(w)):
            p0, p1 = part(P, v, w.size), part(P, v + 1, w.size)
            s.norm_part[v] = sum_of_squares(grad + p0, p1 - p0)
        sync(w)
        for v in range(w.size):
            total += s.norm_part[v]
        scale = job.clip_norm / (sqrt(total) + 1e-6)
        if scale < 1 or scale != scale:  # a NaN norm makes the gradient NaN, as PyTorch's does
            for v in range(first_part(w), end_part(w)):
                for p in range(part(P, v, w.size), part(P, v + 1, w.size)):
                    grad[p] = grad[p] * <floating>scale
    for v in range(first_part(w), end_part(w)):
        p0, p1 = first + part(P - first, v, w.size), first + part(P - first, v + 1, w.size)
        step_with(&consts, theta + p0, grad + p0, s1 + p0 if n_state >= 1 else NULL,
                  s2 + p0 if n_state == 2 else NULL, p1 - p0)


cdef void sparse_update(Worker* w, SparseBatch* sp, Py_ssize_t n, floating* out, floating alpha,
                        int mode, StepConsts* consts) noexcept nogil:
    """The part's share of W_1's update from the batch's lists of nonzeros: its columns' rows of out
    get (mode 0) A_0^T delta_1 or (mode 1) alpha A_0^T delta_1 added. With consts (mode 0, out = W_1),
    the fused step (nn._sparse.sparse_step), with the thread's own scratch for the gradient's rows."""
    cdef Job* job = <Job*>w.job
    cdef Net* net = job.net
    cdef Scratch* s = job.scratch
    cdef Py_ssize_t n_in = net.sizes[0], n_out = net.sizes[1], c0, c1, n_state = n_state_arrays(job.optimizer), c, e
    cdef Py_ssize_t* ptr = s.sp_ptr + w.index * (n_in + 1)
    cdef floating* delta = <floating*>s.work + net.d_off[0]
    cdef Py_ssize_t r0 = part(w.next_n, w.index, w.size), r1 = part(w.next_n, w.index + 1, w.size)
    cdef Prefetch pf  # the rows of the next batch this part will list (prepare_batch)
    prefetch_init(&pf, job.X, n_in * sizeof(floating), w.next_rows + r0 if w.next_rows != NULL else NULL, r1 - r0)
    sparse_columns(sp.counts, w.size, n_in, w.index, w.size, n, sp.idx, <floating*>sp.val,
                   sp.beg, sp.end, ptr, s.sp_fill + w.index * n_in, s.sp_crow, <floating*>s.sp_cval, &c0, &c1)
    if consts == NULL:
        c = c0
        while c < c1:  # 4 columns at a time, the next batch's rows asked for in between
            e = min(c + 4, c1)
            spmm(s.sp_crow, <floating*>s.sp_cval, ptr + c, ptr + c + 1, e - c, delta, n_out, n_out,
                 out + c * n_out, n_out, alpha, mode, False)
            prefetch_lines(&pf, e - c0, c1 - c0)
            c = e
        prefetch_lines(&pf, 1, 1)  # (a part with no columns)
    else:
        sparse_step(s.sp_crow, <floating*>s.sp_cval, ptr, c0, c1, delta, n_out, out,
                    <floating*>job.s1 + net.w_off[0] if n_state >= 1 else NULL,
                    <floating*>job.s2 + net.w_off[0] if n_state == 2 else NULL,
                    <floating*>s.step_rows + w.thread * s.step_size, s.step_size, s.zero_rows, consts, &pf)


cdef bint end_epoch(Worker* w, floating* theta, Py_ssize_t e) noexcept nogil:
    """The epoch's figures (thread 0 writes them) from every part's share, once all updates are in;
    whether the epoch's loss is finite and theta too (else its loss is NaN)."""
    cdef Job* job = <Job*>w.job
    cdef Scratch* s = job.scratch
    cdef Py_ssize_t P = job.n_params, correct = 0, p0, p1
    cdef double total = 0
    cdef int i, v
    if job.mode == APPLY_SGD:
        w.t += (job.m + job.batch_size - 1) // job.batch_size
    sync(w)  # every part's share of the epoch is in, and every update
    for v in range(first_part(w), end_part(w)):
        p0, p1 = part(P, v, w.size), part(P, v + 1, w.size)
        s.theta_finite[v] = all_finite(theta + p0, p1 - p0)
    for i in range(w.size):
        total += s.loss_part[i]
        correct += s.correct_part[i]
    sync(w)  # every part of theta is checked
    for i in range(w.size):
        if not s.theta_finite[i]:
            total = NAN
    if w.thread == 0:
        job.epoch_loss[e] = total
        job.epoch_correct[e] = correct
    return total - total == 0  # not NaN or inf
