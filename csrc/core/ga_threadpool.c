/* ga_threadpool.c - persistent workers with a generation counter.
 *
 * The caller bumps `generation` to publish a task; each worker runs it and
 * decrements `pending`; the caller waits for pending == 0.  Workers spin on
 * the counter for a short while, then sleep on a condition variable.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "ga_threadpool.h"

#define GA_SPIN_ITERS 20000

struct ga_pool {
    int n;                       /* threads including the caller */
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t wake, done;
    atomic_uint generation;
    atomic_int pending;
    atomic_int stop;
    ga_task_fn fn;
    void *ctx;
};

typedef struct { ga_pool *pool; int ith; } worker_arg;

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static void *worker_main(void *p) {
    worker_arg *arg = p;
    ga_pool *pool = arg->pool;
    int ith = arg->ith;
    free(arg);
    unsigned seen = 0;
    for (;;) {
        unsigned gen;
        int spins = 0;
        while ((gen = atomic_load_explicit(&pool->generation, memory_order_acquire)) == seen &&
               !atomic_load(&pool->stop)) {
            if (++spins < GA_SPIN_ITERS) { cpu_relax(); continue; }
            pthread_mutex_lock(&pool->mu);
            while (atomic_load(&pool->generation) == seen && !atomic_load(&pool->stop))
                pthread_cond_wait(&pool->wake, &pool->mu);
            pthread_mutex_unlock(&pool->mu);
        }
        if (atomic_load(&pool->stop)) return NULL;
        seen = gen;
        pool->fn(pool->ctx, ith, pool->n);
        if (atomic_fetch_sub_explicit(&pool->pending, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&pool->mu);
            pthread_cond_signal(&pool->done);
            pthread_mutex_unlock(&pool->mu);
        }
    }
}

ga_status ga_pool_new(int n_threads, ga_pool **out, ga_error *err) {
    if (n_threads < 1 || n_threads > 1024)
        return ga_fail(err, GA_ERR_ARG, "n_threads must be in 1..1024, got %d", n_threads);
    ga_pool *pool = calloc(1, sizeof *pool);
    if (!pool) return ga_fail(err, GA_ERR_NOMEM, "out of memory for the thread pool");
    pool->n = n_threads;
    pthread_mutex_init(&pool->mu, NULL);
    pthread_cond_init(&pool->wake, NULL);
    pthread_cond_init(&pool->done, NULL);
    pool->threads = calloc((size_t)n_threads, sizeof(pthread_t));
    if (!pool->threads) { free(pool); return ga_fail(err, GA_ERR_NOMEM, "out of memory for threads"); }
    for (int i = 1; i < n_threads; i++) {
        worker_arg *arg = malloc(sizeof *arg);
        if (!arg || (arg->pool = pool, arg->ith = i,
                     pthread_create(&pool->threads[i], NULL, worker_main, arg) != 0)) {
            free(arg);
            pool->n = i; /* join the ones already started */
            ga_pool_free(pool);
            return ga_fail(err, GA_ERR_NOMEM, "could not start worker thread %d", i);
        }
    }
    *out = pool;
    return GA_OK;
}

void ga_pool_free(ga_pool *pool) {
    if (!pool) return;
    pthread_mutex_lock(&pool->mu);
    atomic_store(&pool->stop, 1);
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->mu);
    for (int i = 1; i < pool->n; i++) pthread_join(pool->threads[i], NULL);
    pthread_mutex_destroy(&pool->mu);
    pthread_cond_destroy(&pool->wake);
    pthread_cond_destroy(&pool->done);
    free(pool->threads);
    free(pool);
}

int ga_pool_size(const ga_pool *pool) { return pool->n; }

void ga_pool_run(ga_pool *pool, ga_task_fn fn, void *ctx) {
    if (pool->n == 1) { fn(ctx, 0, 1); return; }
    pool->fn = fn;
    pool->ctx = ctx;
    atomic_store(&pool->pending, pool->n - 1);
    pthread_mutex_lock(&pool->mu);
    atomic_fetch_add_explicit(&pool->generation, 1, memory_order_release);
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->mu);
    fn(ctx, 0, pool->n);
    int spins = 0;
    while (atomic_load_explicit(&pool->pending, memory_order_acquire) > 0) {
        if (++spins < GA_SPIN_ITERS) { cpu_relax(); continue; }
        pthread_mutex_lock(&pool->mu);
        while (atomic_load(&pool->pending) > 0) pthread_cond_wait(&pool->done, &pool->mu);
        pthread_mutex_unlock(&pool->mu);
    }
}
