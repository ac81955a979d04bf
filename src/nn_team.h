/* nn_team.h: the threads that share one training call, and the barrier between its phases. Used by
   src/nn/_train.pyx; the only platform-specific code of the core.

   nn_run_team(body, arg, n) runs body(arg, i, size) on `size` threads at once (i = 0 .. size - 1; the
   calling thread is i = 0) and returns when all have returned. size is n, or fewer when threads
   cannot be had (then 1: the body must take the size it is given). Two implementations, chosen when
   the core is built (see bench/README.md, "The thread team", for the A/B that chose the default):
   - POSIX threads (the default where <pthread.h> exists): n - 1 threads started per call;
   - OpenMP (built with NN_TEAM=openmp: -fopenmp -DNN_TEAM_OPENMP): a parallel region, whose threads
     the OpenMP runtime keeps between calls.
   Elsewhere (no pthreads, no OpenMP, or built with NN_TEAM=none: -DNN_TEAM_NONE) the body runs on the
   calling thread alone, and the header needs nothing beyond C99.

   nn_barrier_wait: a sense-reversing barrier. A waiter spins for up to NN_SPIN_NS (the wait between
   two phases of a batch is usually a few microseconds), then sleeps until the last one arrives (a
   futex on Linux; elsewhere it yields the processor in a loop): on a busy machine a spinning thread
   would take the processor from the one it waits for.

   A team of several threads needs GCC's or Clang's __atomic builtins; without them (another compiler)
   the team is the calling thread alone, and the atomics below are plain loads and stores. */
#ifndef NN_TEAM_H
#define NN_TEAM_H

#include <time.h>

#define NN_MAX_THREADS 64  /* at most this many threads train one network */
#define NN_SPIN_NS 5000

#if defined(NN_TEAM_OPENMP) && (defined(__GNUC__) || defined(__clang__))
#include <omp.h>
#define NN_TEAM_OMP 1
#elif !defined(NN_TEAM_NONE) && (defined(__unix__) || defined(__APPLE__)) && (defined(__GNUC__) || defined(__clang__))
#include <pthread.h>
#include <sched.h>
#define NN_TEAM_PTHREADS 1
#endif
#if defined(__linux__) && (defined(NN_TEAM_PTHREADS) || defined(NN_TEAM_OMP))
#define NN_FUTEX 1
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

typedef void (*nn_team_body)(void* arg, int index, int size);
/* Not every module that includes this header calls everything in it. */
#if defined(__GNUC__) || defined(__clang__)
#define NN_UNUSED __attribute__((unused))
#define NN_ATOMICS 1
#else
#define NN_UNUSED
#endif

/* ----- atomics and the barrier -------------------------------------------------------------------- */
#ifdef NN_ATOMICS
static inline int nn_load(int* p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static inline void nn_store(int* p, int v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
/* *p += v, returning the value before: a team's threads take the next piece of work from a counter */
static inline long long nn_fetch_add(long long* p, long long v) { return __atomic_fetch_add(p, v, __ATOMIC_ACQ_REL); }
#else  /* one thread only: nothing to order */
static inline int nn_load(int* p) { return *(volatile int*)p; }
static inline void nn_store(int* p, int v) { *(volatile int*)p = v; }
static inline long long nn_fetch_add(long long* p, long long v) { long long old = *p; *p = old + v; return old; }
#endif

static inline void nn_yield(void) {
#if defined(NN_TEAM_PTHREADS)
    sched_yield();
#elif defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static inline long long nn_now_ns(void) {
#ifdef CLOCK_MONOTONIC
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
#else  /* C99's clock(): coarser, only the spin's limit depends on it */
    return (long long)((double)clock() * (1e9 / CLOCKS_PER_SEC));
#endif
}

typedef struct { int count; int sense; int sleepers; } nn_barrier;

/* Wait until all n threads of the team have called it; local_sense is the caller's own (starts 0). */
#ifndef NN_ATOMICS
NN_UNUSED static void nn_barrier_wait(nn_barrier* b, int n, int* local_sense) {
    (void)b; (void)n; (void)local_sense;  /* a team of one: nobody to wait for */
}
#else
NN_UNUSED static void nn_barrier_wait(nn_barrier* b, int n, int* local_sense) {
    int s = !*local_sense;
    long long start = 0;
    long spins = 0;
    *local_sense = s;
    if (__atomic_add_fetch(&b->count, 1, __ATOMIC_ACQ_REL) == n) {
        __atomic_store_n(&b->count, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&b->sense, s, __ATOMIC_SEQ_CST);
#ifdef NN_FUTEX
        if (__atomic_load_n(&b->sleepers, __ATOMIC_SEQ_CST) > 0)
            syscall(SYS_futex, &b->sense, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
#endif
        return;
    }
    while (__atomic_load_n(&b->sense, __ATOMIC_ACQUIRE) != s) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
        if ((++spins & 63) == 0) {
            if (start == 0) {
                start = nn_now_ns();
            } else if (nn_now_ns() - start > NN_SPIN_NS) {
#ifdef NN_FUTEX
                /* Sleep while the sense is still the old one. The last arriver stores the new sense,
                   then wakes the sleepers it sees: seq_cst on both sides, so either it sees this one
                   or this one sees the new sense and does not sleep. */
                __atomic_add_fetch(&b->sleepers, 1, __ATOMIC_SEQ_CST);
                while (__atomic_load_n(&b->sense, __ATOMIC_SEQ_CST) != s)
                    syscall(SYS_futex, &b->sense, FUTEX_WAIT_PRIVATE, !s, NULL, NULL, 0);
                __atomic_sub_fetch(&b->sleepers, 1, __ATOMIC_SEQ_CST);
                return;
#else
                nn_yield();
#endif
            }
        }
    }
}

#endif  /* NN_ATOMICS */

/* ----- running a team ----------------------------------------------------------------------------- */
#if defined(NN_TEAM_OMP)
#define NN_TEAM_KIND "openmp"
NN_UNUSED static int nn_run_team(nn_team_body body, void* arg, int n) {
    int size = 1;
    if (n <= 1) {
        body(arg, 0, 1);
        return 1;
    }
    #pragma omp parallel num_threads(n)
    {
        #pragma omp single
        size = omp_get_num_threads();
        /* the single's implicit barrier: every thread sees size */
        body(arg, omp_get_thread_num(), size);
    }
    return size;
}

#elif defined(NN_TEAM_PTHREADS)
#define NN_TEAM_KIND "pthreads"
typedef struct { nn_team_body body; void* arg; int go; int size; } nn_team_gate;
typedef struct { nn_team_gate* gate; int index; } nn_team_slot;

NN_UNUSED static void* nn_team_main(void* p) {
    nn_team_slot* slot = (nn_team_slot*)p;
    int go;
    while ((go = nn_load(&slot->gate->go)) == 0)  /* 1: run, -1: leave (a thread could not start) */
        sched_yield();
    if (go > 0)
        slot->gate->body(slot->gate->arg, slot->index, slot->gate->size);
    return NULL;
}

NN_UNUSED static int nn_run_team(nn_team_body body, void* arg, int n) {
    nn_team_gate gate = {body, arg, 0, n};
    nn_team_slot slots[NN_MAX_THREADS];
    pthread_t handles[NN_MAX_THREADS];
    int i, started = 0;
    if (n > NN_MAX_THREADS) n = gate.size = NN_MAX_THREADS;
    for (i = 1; i < n; i++) {
        slots[i].gate = &gate;
        slots[i].index = i;
        if (pthread_create(&handles[i], NULL, nn_team_main, &slots[i]) != 0)
            break;
        started++;
    }
    if (started < n - 1) {  /* run alone */
        nn_store(&gate.go, -1);
        for (i = 1; i <= started; i++)
            pthread_join(handles[i], NULL);
        body(arg, 0, 1);
        return 1;
    }
    nn_store(&gate.go, 1);
    body(arg, 0, n);
    for (i = 1; i < n; i++)
        pthread_join(handles[i], NULL);
    return n;
}

#else
#define NN_TEAM_KIND "none"
NN_UNUSED static int nn_run_team(nn_team_body body, void* arg, int n) {
    (void)n;
    body(arg, 0, 1);
    return 1;
}
#endif

#endif  /* NN_TEAM_H */
