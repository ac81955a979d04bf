"""The interface of nn._train (src/nn/_train.pyx): a training call's job, its scratch, and running it
on a team of threads."""
from nn._kernels cimport Hyper
from libc.stdint cimport uint64_t

from nn._passes cimport Masking, Net, UpdateMode
from nn._sparse cimport SparseBatch

cdef extern from "nn_team.h":
    ctypedef struct nn_barrier:
        int count
        int sense
        int sleepers
    const int NN_MAX_THREADS
    const char* NN_TEAM_KIND


cdef struct Worker:
    # One thread of a training call.
    void* job                # its Job
    int thread               # this thread's index in the team
    int index, size          # the part of the work being run, and the number of parts: the team's size
    bint alone               # thread 0 after the team backed off: it runs every part (see _train.pyx)
    int sense                # this thread's barrier sense
    long long t              # optimizer steps taken
    Py_ssize_t done          # epochs completed
    Py_ssize_t until_check   # batches until the next Ctrl-C check (thread 0)
    Py_ssize_t batch         # batches run (even and odd batches use their own sparse lists)
    double rate              # the learning rate of the current epoch
    Masking mask             # the current batch's dropout (the epoch's key, the batch's rows)
    bint interrupted
    Py_ssize_t* next_rows    # the next batch's rows in X (NULL: none), for the update to prefetch
    Py_ssize_t next_n


cdef struct Scratch:
    # Everything a training call writes besides theta, the optimizer's state and the results: made once
    # per network, batch size and thread count (nn._scratch.scratch_init; nn._core.TrainScratch owns one).
    Py_ssize_t work_size, n_params, n_in, batch_size
    int threads
    bint sparse, is_double
    void* work               # the layout's scratch: every layer's outputs and deltas for a batch
    void* grad               # n_params: the batch's gradient (optimizers other than plain SGD)
    double* loss_part        # [thread]: its share of the current epoch's loss
    double* norm_part        # [thread]: the sum of squares of its part of the batch's gradient (clipping)
    Py_ssize_t* correct_part
    bint* theta_finite       # [thread]: whether its part of theta is finite after the current epoch
    void* marks              # threads x n_in (theta's dtype): the input columns each thread's rows use
    Py_ssize_t* cols         # threads x n_in: each thread's copy of the columns in use
    SparseBatch lists[2]     # sparse: for even and odd batches (a batch's lists are read until its last update)
    Py_ssize_t* sp_ptr       # threads x (n_in + 1): each thread's column offsets (sparse_columns)
    Py_ssize_t* sp_fill      # threads x n_in: scratch
    int* sp_crow             # batch_size x n_in: the batch's nonzeros by column (row, value)
    void* sp_cval
    void* step_rows          # sparse: threads x step_size, each thread's rows of W_1's gradient (the fused step)
    Py_ssize_t step_size     # elements: STEP_BLOCK, or one row of W_1 if longer
    unsigned char* zero_rows # sparse: n_in, 1 for each row of W_1 whose optimizer state is known to be +0
                             # (the fused step may skip it; see nn._sparse.sparse_step)
    Worker* workers          # threads


cdef struct Job:
    # One training call, shared by its threads. Thread i owns rows part(n, i, T) .. part(n, i + 1, T) of
    # each batch (forward, loss, deltas) and part i of every weight matrix's rows (update).
    Net* net
    Scratch* scratch
    int loss, optimizer
    Hyper hyper              # hyper.learning_rate: the rate of every epoch, unless rates is given
    const double* rates      # [epoch]: each epoch's learning rate (a schedule), or NULL
    double clip_norm         # > 0: each batch's gradient is scaled to at most this L2 norm; 0: not clipped
    const uint64_t* keys     # [epoch]: the dropout masks' key (net.any_drop), or NULL
    UpdateMode mode          # APPLY_SGD: plain SGD without weight decay or clipping, applied in the products
    void* theta
    void* s1                 # the optimizer's state arrays (n_params each), or NULL
    void* s2
    void* X                  # the data: m_rows x n_in and m_rows x n_out, only read
    void* Y
    void* weights            # one sample weight per row of X (theta's dtype), or NULL
    void* snapshot           # NULL, or room for theta and the state: the start of the last epoch run
    Py_ssize_t* order        # n_epochs x m: the rows each epoch visits, in order
    Py_ssize_t n_epochs, m, batch_size, n_params, check_every
    double* epoch_loss       # [epoch]: the sum over its batches of loss x batch length (or weight)
    Py_ssize_t* epoch_correct
    nn_barrier barrier
    int stop                 # set by thread 0 on Ctrl-C
    bint fused               # sparse, not plain SGD, not clipped: W_1's step taken from its gradient's
                             # rows as they are made (sparse_update), not from grad
    bint retest_zero_rows    # a batch of one row stepped all of W_1: scratch.zero_rows to be tested again
                             # (thread 0, at the next batch's start)
    double back_off          # > 0: thread 0 goes on alone when that is faster than the team (_train.trial)
    bint alone               # it does (thread 0 decides, the others read it after a barrier)
    long long wall_mark      # the trial's current window's start (ns, thread 0)
    long long team_ns        # the team's window's wall time (ns)


cdef void run_training(Job* job, long long steps) noexcept nogil
