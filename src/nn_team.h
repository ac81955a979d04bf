/* nn_team.h: the threads that share one training or inference call, and the barrier between its
   phases. Used by src/nn/_train.pyx and src/nn/_infer.pyx; the only platform-specific code of the core.

   nn_run_team(body, arg, n) runs body(arg, i, size) on `size` threads at once (i = 0 .. size - 1; the
   calling thread is i = 0) and returns when all have returned. size is n, or fewer when threads
   cannot be had (then 1: the body must take the size it is given). Two implementations, chosen when
   the core is built (see bench/README.md, "The thread team", for the A/B that chose the default):
   - POSIX threads (the default where <pthread.h> exists): a pool of threads started on first use and
     kept, asleep between calls (a call that finds the pool in use starts n - 1 threads of its own);
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
#if defined(__linux__) && defined(NN_TEAM_PTHREADS) && defined(CPU_SET)
#define NN_AFFINITY 1  /* the pool's threads may be placed (sched_getcpu, pthread_setaffinity_np) */
#endif
#if defined(__linux__) && (defined(NN_TEAM_PTHREADS) || defined(NN_TEAM_OMP))
#define NN_FUTEX 1
#include <fcntl.h>
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

/* One turn of a waiting loop: a pause, and every 64 turns a look at the clock; 1 once the wait has
   spun NN_SPIN_NS (start: 0 before the first turn). */
NN_UNUSED static inline int nn_spun_out(long* spins, long long* start) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
    if ((++*spins & 63) != 0)
        return 0;
    if (*start == 0) {
        *start = nn_now_ns();
        return 0;
    }
    return nn_now_ns() - *start > NN_SPIN_NS;
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
        if (nn_spun_out(&spins, &start)) {
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
#ifdef NN_TEAM_PER_CALL
#define NN_TEAM_KIND "pthreads-per-call"
#else
#define NN_TEAM_KIND "pthreads"
#endif
/* The pool: threads started once (per module that includes this header), kept between calls, each asleep
   on a word of its own until a call needs it. A thread started per call costs milliseconds on some
   machines: Linux queues a new thread on its parent's processor, which is busy with the call, until
   the next scheduler tick moves it (2-4 ms measured on a 2-core VM, against 10-20 us to wake a pooled
   thread; bench/README.md, "The thread team"). A call takes the pool when no other call holds it;
   calls from other threads at the same time start threads of their own, as every call once did. */
typedef struct {
    nn_team_body body; void* arg; int size;
    int remaining;  /* the pool's threads still in the call (the caller waits for 0) */
    int caller_sleeps;
#ifdef NN_AFFINITY
    int steered;          /* 1: the threads were woken off the caller's processor */
    int known;            /* 1: allowed holds the caller's processors: each thread takes them once awake */
    cpu_set_t allowed;    /* (the caller's, not the first caller's that the threads inherited) */
#endif
    int caller_cpu;       /* for the tests (nn_team_last_call): the caller's processor, or -1 */
} nn_team_gate;

typedef struct {
    int go;       /* its count of the calls it was asked to run (0 when started); its futex word */
    int sleeps;   /* 1 while it sleeps on go */
    int index;
    int woke_on;  /* the processor it woke on in the last call, or -1 (for the tests) */
} __attribute__((aligned(64))) nn_pool_slot;  /* a cache line each */

static pthread_mutex_t nn_pool_lock = PTHREAD_MUTEX_INITIALIZER;
static nn_pool_slot nn_pool_slots[NN_MAX_THREADS];
static int nn_pool_started = 0;   /* threads 1 .. nn_pool_started are running (under nn_pool_lock) */
static int nn_pool_atfork = 0;
static pthread_t nn_pool_handles[NN_MAX_THREADS];
/* The call's body, in static storage rather than on the caller's stack: the last thread to finish
   reads it (caller_sleeps, to wake the caller) after the caller may already have returned. */
static nn_team_gate nn_pool_gate;

/* Wait, spinning NN_SPIN_NS first, until *word != old; *sleeps says when this thread sleeps. */
NN_UNUSED static void nn_wait_change(int* word, int old, int* sleeps) {
    long long start = 0;
    long spins = 0;
    while (__atomic_load_n(word, __ATOMIC_ACQUIRE) == old) {
        if (nn_spun_out(&spins, &start)) {
#ifdef NN_FUTEX
            /* as in nn_barrier_wait: seq_cst on both sides, so either the waker sees sleeps or this
               thread sees the new value and does not sleep */
            __atomic_store_n(sleeps, 1, __ATOMIC_SEQ_CST);
            while (__atomic_load_n(word, __ATOMIC_SEQ_CST) == old)
                syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, old, NULL, NULL, 0);
            __atomic_store_n(sleeps, 0, __ATOMIC_SEQ_CST);
            return;
#else
            sched_yield();
#endif
        }
    }
}

/* Set *word to value (a waiter sees it), waking the waiter when *sleeps says it sleeps. */
NN_UNUSED static void nn_set_and_wake(int* word, int value, int* sleeps) {
    __atomic_store_n(word, value, __ATOMIC_SEQ_CST);
#ifdef NN_FUTEX
    if (__atomic_load_n(sleeps, __ATOMIC_SEQ_CST))
        syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
#else
    (void)sleeps;
#endif
}

NN_UNUSED static void* nn_pool_main(void* p) {
    nn_pool_slot* slot = (nn_pool_slot*)p;
    int seen = 0;
#if defined(__linux__) && defined(_GNU_SOURCE)
    pthread_setname_np(pthread_self(), "nn-team");  /* what top -H and /proc/<pid>/task/<tid>/comm show */
#endif
    for (;;) {
        nn_wait_change(&slot->go, seen, &slot->sleeps);
        seen = __atomic_load_n(&slot->go, __ATOMIC_ACQUIRE);
#ifdef NN_AFFINITY
        slot->woke_on = sched_getcpu();
        if (nn_pool_gate.known)  /* awake (where it was sent, if it was): the caller's processors */
            pthread_setaffinity_np(pthread_self(), sizeof(cpu_set_t), &nn_pool_gate.allowed);
#endif
        nn_pool_gate.body(nn_pool_gate.arg, slot->index, nn_pool_gate.size);
        /* the last one out wakes the caller (a late wake of the next call's caller is harmless: it
           checks remaining again) */
        if (__atomic_sub_fetch(&nn_pool_gate.remaining, 1, __ATOMIC_SEQ_CST) == 0) {
#ifdef NN_FUTEX
            if (__atomic_load_n(&nn_pool_gate.caller_sleeps, __ATOMIC_SEQ_CST))
                syscall(SYS_futex, &nn_pool_gate.remaining, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
#endif
        }
    }
    return NULL;
}

/* In a child made by fork() the pool's threads do not exist: it starts its own. */
NN_UNUSED static void nn_pool_after_fork(void) {
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    nn_pool_lock = fresh;
    nn_pool_started = 0;
}

/* The old way, for a call that finds the pool taken: n - 1 threads started for this call. */
typedef struct { nn_team_body body; void* arg; int go; int size; } nn_once_gate;
typedef struct { nn_once_gate* gate; int index; } nn_once_slot;

NN_UNUSED static void* nn_once_main(void* p) {
    nn_once_slot* slot = (nn_once_slot*)p;
    int go;
    while ((go = nn_load(&slot->gate->go)) == 0)  /* 1: run, -1: leave (a thread could not start) */
        sched_yield();
    if (go > 0)
        slot->gate->body(slot->gate->arg, slot->index, slot->gate->size);
    return NULL;
}

NN_UNUSED static int nn_run_once(nn_team_body body, void* arg, int n) {
    nn_once_gate gate = {body, arg, 0, n};
    nn_once_slot slots[NN_MAX_THREADS];
    pthread_t handles[NN_MAX_THREADS];
    int i, started = 0;
    for (i = 1; i < n; i++) {
        slots[i].gate = &gate;
        slots[i].index = i;
        if (pthread_create(&handles[i], NULL, nn_once_main, &slots[i]) != 0)
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

/* Wake the pool's threads off the caller's processor. Woken from sleep, a thread goes where the
   kernel puts it, and under a hypervisor Linux puts it on the waker's processor when the others have
   been idle for a while (an idle virtual processor looks preempted): the two then share one processor
   until the load balancer moves one, milliseconds later, and the team is no faster than one thread
   (measured on a 2-core VM: bench/README.md, "The thread team"). So when a processor stands idle (fewer
   threads running on the machine than the caller has processors), the threads this call wakes may run
   on any processor the caller may but the one it is on; once awake, each lets itself run anywhere the
   caller may again (kept off, it could not leave a processor another process takes later). On a busy
   machine they are left where the kernel puts them: sent to a processor another process holds, a
   thread would slow the whole team. A read of /proc/loadavg and a system call or two per thread a
   call. Linux only. */
#ifdef NN_AFFINITY
/* The number of threads running or ready to run on the whole machine, the caller included (the 4th
   field of /proc/loadavg: "0.43 0.44 0.67 1/110 15393"), or -1. */
NN_UNUSED static int nn_running_threads(void) {
    char text[128];
    int fd = open("/proc/loadavg", O_RDONLY | O_CLOEXEC), n = -1, i = 0, fields = 0;
    ssize_t got;
    if (fd < 0)
        return -1;
    got = read(fd, text, sizeof(text) - 1);
    close(fd);
    if (got <= 0)
        return -1;
    text[got] = 0;
    while (text[i] && fields < 3)  /* skip the three averages */
        if (text[i++] == ' ')
            fields++;
    if (text[i] >= '0' && text[i] <= '9')
        for (n = 0; text[i] >= '0' && text[i] <= '9' && n < 1000000; i++)
            n = n * 10 + (text[i] - '0');
    return n;
}

NN_UNUSED static void nn_pool_place(int n) {
    cpu_set_t where;
    int cpu = sched_getcpu(), i, running;
    nn_pool_gate.steered = 0;
    nn_pool_gate.caller_cpu = cpu;
    nn_pool_gate.known = sched_getaffinity(0, sizeof(cpu_set_t), &nn_pool_gate.allowed) == 0;
    if (!nn_pool_gate.known || cpu < 0 || cpu >= CPU_SETSIZE || !CPU_ISSET(cpu, &nn_pool_gate.allowed)
            || CPU_COUNT(&nn_pool_gate.allowed) < 2)
        return;
    /* Only when a processor stands idle: on a busy machine the threads are left where the kernel puts
       them (sent to a processor another process holds, a thread would slow the whole team) */
    running = nn_running_threads();
    if (running < 0 || running >= CPU_COUNT(&nn_pool_gate.allowed))
        return;
    where = nn_pool_gate.allowed;
    CPU_CLR(cpu, &where);
    for (i = 1; i < n; i++)
        pthread_setaffinity_np(nn_pool_handles[i], sizeof(where), &where);  /* a hint: no check */
    nn_pool_gate.steered = 1;
}
#else
NN_UNUSED static void nn_pool_place(int n) { (void)n; nn_pool_gate.caller_cpu = -1; }
#endif

NN_UNUSED static int nn_run_team(nn_team_body body, void* arg, int n) {
    pthread_attr_t attr;
    int i;
    if (n > NN_MAX_THREADS) n = NN_MAX_THREADS;
    if (n <= 1) {
        body(arg, 0, 1);
        return 1;
    }
#if !defined(NN_FUTEX) || defined(NN_TEAM_PER_CALL)
    /* no way to sleep until woken (idle pool threads would keep yielding), or built without the pool */
    return nn_run_once(body, arg, n);
#endif
    if (pthread_mutex_trylock(&nn_pool_lock) != 0)
        return nn_run_once(body, arg, n);
    if (!nn_pool_atfork) {
        nn_pool_atfork = pthread_atfork(NULL, NULL, nn_pool_after_fork) == 0 ? 1 : -1;
    }
    if (nn_pool_atfork < 0) {  /* a child could inherit a pool without threads: no pool */
        pthread_mutex_unlock(&nn_pool_lock);
        return nn_run_once(body, arg, n);
    }
    if (nn_pool_started < n - 1 && pthread_attr_init(&attr) == 0) {  /* more threads (they never end) */
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        for (i = nn_pool_started + 1; i < n; i++) {
            nn_pool_slot* slot = &nn_pool_slots[i];
            slot->go = 0;
            slot->woke_on = -1;
            slot->sleeps = 0;
            slot->index = i;
            if (pthread_create(&nn_pool_handles[i], &attr, nn_pool_main, slot) != 0)
                break;
            nn_pool_started = i;
        }
        pthread_attr_destroy(&attr);
    }
    if (nn_pool_started < n - 1) {  /* threads cannot be had: run alone */
        pthread_mutex_unlock(&nn_pool_lock);
        body(arg, 0, 1);
        return 1;
    }
    nn_pool_gate.body = body;
    nn_pool_gate.arg = arg;
    nn_pool_gate.size = n;
    __atomic_store_n(&nn_pool_gate.caller_sleeps, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&nn_pool_gate.remaining, n - 1, __ATOMIC_SEQ_CST);
    nn_pool_place(n);
    /* Each thread's own count of its calls: only this caller changes it, and only once the thread is done
       with the last one, so the thread always sees it change (a count shared by all threads could come
       round, after 2^30 calls that left a thread out, to the value that thread last saw). */
    for (i = 1; i < n; i++)  /* (go's store publishes the gate) */
        nn_set_and_wake(&nn_pool_slots[i].go, (nn_pool_slots[i].go + 1) & 0x3fffffff,
                        &nn_pool_slots[i].sleeps);
    body(arg, 0, n);
    for (;;) {  /* until the pool's threads of this call are done */
        int left = __atomic_load_n(&nn_pool_gate.remaining, __ATOMIC_ACQUIRE);
        if (left == 0)
            break;
        nn_wait_change(&nn_pool_gate.remaining, left, &nn_pool_gate.caller_sleeps);
    }
    pthread_mutex_unlock(&nn_pool_lock);
    return n;
}

/* What the last call that used the pool did, for the tests: whether its threads were sent off the
   caller's processor, the caller's processor, and the processor thread 1 woke on (-1: not known).
   Call it when no call runs. */
NN_UNUSED static void nn_team_last_call(int* steered, int* caller_cpu, int* woke_on) {
#ifdef NN_AFFINITY
    *steered = nn_pool_gate.steered;
#else
    *steered = 0;
#endif
    *caller_cpu = nn_pool_started >= 1 ? nn_pool_gate.caller_cpu : -1;
    *woke_on = nn_pool_started >= 1 ? nn_pool_slots[1].woke_on : -1;
}

#else
#define NN_TEAM_KIND "none"
NN_UNUSED static int nn_run_team(nn_team_body body, void* arg, int n) {
    (void)n;
    body(arg, 0, 1);
    return 1;
}
#endif

#ifndef NN_TEAM_PTHREADS  /* no pool: nothing to tell (see the pthreads team's) */
NN_UNUSED static void nn_team_last_call(int* steered, int* caller_cpu, int* woke_on) {
    *steered = 0; *caller_cpu = -1; *woke_on = -1;
}
#endif

#endif  /* NN_TEAM_H */
