/* ga_threadpool.c - one process-wide set of persistent workers, shared by every model.
 *
 * Each model holds a handle (ga_pool) naming how many threads its runs use; all
 * handles share one core.  A run publishes a task by bumping the generation; the
 * first nth - 1 workers run it and decrement `pending`; the caller runs share 0
 * and waits for pending == 0.  Runs from several models take turns on run_mu, so
 * N loaded models cost one set of threads, not N.  Workers that took part spin on
 * the counter for a short while (the back-to-back ops of one token), then sleep on
 * a condition variable; workers a run did not need go straight back to sleep.
 * The core keeps as many threads as its widest live handle, and ends with the last.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "ga_threadpool.h"

#define GA_SPIN_ITERS 20000
#define GA_MAX_THREADS 1024

typedef struct pool_core {
    int n;                       /* workers + 1: the caller is thread 0 of every run */
    pthread_t *threads;          /* [GA_MAX_THREADS], index 0 unused */
    int refs[GA_MAX_THREADS + 1]; /* handles alive per thread count (under g_mu) */
    atomic_int limit;            /* workers with ith >= limit exit (a shrink) */
    pthread_mutex_t mu;
    pthread_cond_t wake, done;
    pthread_mutex_t run_mu;      /* one run at a time */
    /* generation << 32 | nth of that run, published in one store so that a worker
     * never pairs one run's generation with another run's thread count */
    _Atomic uint64_t gen_nth;
    atomic_int pending;
    ga_task_fn fn;
    void *ctx;
} pool_core;

struct ga_pool {
    pool_core *core;
    int n;                       /* threads this handle's runs use */
};

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pool_core *g_core;

/* seen: the generation when the worker was made (no run in flight then).  The thread may
 * first run after the next run is published, so it must not read the generation itself. */
typedef struct { pool_core *core; int ith; uint32_t seen; } worker_arg;

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static void *worker_main(void *p) {
    worker_arg *arg = p;
    pool_core *c = arg->core;
    int ith = arg->ith;
    uint32_t seen = arg->seen;
    free(arg);
    int spin = 0; /* spin only after taking part in a run */
    for (;;) {
        uint64_t v;
        int spins = spin ? 0 : GA_SPIN_ITERS;
        while ((uint32_t)((v = atomic_load_explicit(&c->gen_nth, memory_order_acquire)) >> 32) == seen &&
               ith < atomic_load(&c->limit)) {
            if (++spins < GA_SPIN_ITERS) { cpu_relax(); continue; }
            pthread_mutex_lock(&c->mu);
            while ((uint32_t)(atomic_load(&c->gen_nth) >> 32) == seen && ith < atomic_load(&c->limit))
                pthread_cond_wait(&c->wake, &c->mu);
            pthread_mutex_unlock(&c->mu);
        }
        if (ith >= atomic_load(&c->limit)) return NULL;
        seen = (uint32_t)(v >> 32);
        const int nth = (int)(uint32_t)v;
        /* a run this worker takes part in cannot end (nor fn/ctx change) before it does */
        spin = ith < nth;
        if (!spin) continue;
        c->fn(c->ctx, ith, nth);
        if (atomic_fetch_sub_explicit(&c->pending, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&c->mu);
            pthread_cond_signal(&c->done);
            pthread_mutex_unlock(&c->mu);
        }
    }
}

/* Ends the workers from n threads on; call with run_mu held (no run in flight) or at the end. */
static void core_shrink(pool_core *c, int n) {
    if (n >= c->n) return;
    pthread_mutex_lock(&c->mu);
    atomic_store(&c->limit, n);
    pthread_cond_broadcast(&c->wake);
    pthread_mutex_unlock(&c->mu);
    for (int i = n < 1 ? 1 : n; i < c->n; i++) pthread_join(c->threads[i], NULL);
    c->n = n < 1 ? 1 : n;
}

static void core_free(pool_core *c) {
    core_shrink(c, 0);
    pthread_mutex_destroy(&c->mu);
    pthread_mutex_destroy(&c->run_mu);
    pthread_cond_destroy(&c->wake);
    pthread_cond_destroy(&c->done);
    free(c->threads);
    free(c);
}

static pool_core *core_new(void) {
    pool_core *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->threads = calloc(GA_MAX_THREADS, sizeof(pthread_t));
    if (!c->threads) { free(c); return NULL; }
    c->n = 1;
    atomic_store(&c->limit, GA_MAX_THREADS);
    pthread_mutex_init(&c->mu, NULL);
    pthread_mutex_init(&c->run_mu, NULL);
    pthread_cond_init(&c->wake, NULL);
    pthread_cond_init(&c->done, NULL);
    return c;
}

/* Starts workers up to n threads in all; call with g_mu and run_mu held (no run in flight). */
static ga_status core_grow(pool_core *c, int n, ga_error *err) {
    if (c->n < n) atomic_store(&c->limit, GA_MAX_THREADS);  /* after a shrink, joined already */
    while (c->n < n) {
        worker_arg *arg = malloc(sizeof *arg);
        if (!arg) return ga_fail(err, GA_ERR_NOMEM, "out of memory for worker thread %d", c->n);
        arg->core = c;
        arg->ith = c->n;
        arg->seen = (uint32_t)(atomic_load(&c->gen_nth) >> 32);
        if (pthread_create(&c->threads[c->n], NULL, worker_main, arg) != 0) {
            free(arg);
            return ga_fail(err, GA_ERR_NOMEM, "could not start worker thread %d", c->n);
        }
        c->n++;
    }
    return GA_OK;
}

ga_status ga_pool_new(int n_threads, ga_pool **out, ga_error *err) {
    if (n_threads < 1 || n_threads > GA_MAX_THREADS)
        return ga_fail(err, GA_ERR_ARG, "n_threads must be in 1..%d, got %d", GA_MAX_THREADS, n_threads);
    ga_pool *h = calloc(1, sizeof *h);
    if (!h) return ga_fail(err, GA_ERR_NOMEM, "out of memory for the thread pool");
    pthread_mutex_lock(&g_mu);
    if (!g_core && !(g_core = core_new())) {
        pthread_mutex_unlock(&g_mu);
        free(h);
        return ga_fail(err, GA_ERR_NOMEM, "out of memory for the thread pool");
    }
    pool_core *c = g_core;
    pthread_mutex_lock(&c->run_mu);
    ga_status st = core_grow(c, n_threads, err);
    pthread_mutex_unlock(&c->run_mu);
    int live = 0;
    for (int i = 1; i <= GA_MAX_THREADS && !live; i++) live = c->refs[i];
    if (st == GA_OK) c->refs[n_threads]++;
    else if (!live) { core_free(c); g_core = NULL; }
    pthread_mutex_unlock(&g_mu);
    if (st) { free(h); return st; }
    h->core = c;
    h->n = n_threads;
    *out = h;
    return GA_OK;
}

void ga_pool_free(ga_pool *pool) {
    if (!pool) return;
    pthread_mutex_lock(&g_mu);
    pool_core *c = pool->core;
    c->refs[pool->n]--;
    int want = GA_MAX_THREADS;
    while (want > 0 && c->refs[want] == 0) want--;
    if (want == 0) {  /* the last model is gone: so are the threads */
        core_free(c);
        g_core = NULL;
    } else if (want < c->n) {  /* nobody needs the widest threads any more */
        pthread_mutex_lock(&c->run_mu);
        core_shrink(c, want);
        pthread_mutex_unlock(&c->run_mu);
    }
    pthread_mutex_unlock(&g_mu);
    free(pool);
}

int ga_pool_size(const ga_pool *pool) { return pool->n; }

int ga_pool_threads_alive(void) {
    pthread_mutex_lock(&g_mu);
    int n = g_core ? g_core->n - 1 : 0;
    pthread_mutex_unlock(&g_mu);
    return n;
}

void ga_pool_run(ga_pool *pool, ga_task_fn fn, void *ctx) {
    if (pool->n == 1) { fn(ctx, 0, 1); return; }
    pool_core *c = pool->core;
    pthread_mutex_lock(&c->run_mu);
    c->fn = fn;
    c->ctx = ctx;
    atomic_store(&c->pending, pool->n - 1);
    uint64_t next = ((atomic_load(&c->gen_nth) >> 32) + 1) << 32 | (uint32_t)pool->n;
    pthread_mutex_lock(&c->mu);
    atomic_store_explicit(&c->gen_nth, next, memory_order_release);
    pthread_cond_broadcast(&c->wake);
    pthread_mutex_unlock(&c->mu);
    fn(ctx, 0, pool->n);
    int spins = 0;
    while (atomic_load_explicit(&c->pending, memory_order_acquire) > 0) {
        if (++spins < GA_SPIN_ITERS) { cpu_relax(); continue; }
        pthread_mutex_lock(&c->mu);
        while (atomic_load(&c->pending) > 0) pthread_cond_wait(&c->done, &c->mu);
        pthread_mutex_unlock(&c->mu);
    }
    pthread_mutex_unlock(&c->run_mu);
}
