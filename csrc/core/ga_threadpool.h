/* ga_threadpool.h - the process's persistent worker threads, shared by all models.
 *
 * ga_pool_new(n) returns a handle on the one process-wide set of workers, grown to
 * n threads if it has fewer; ga_pool_run() hands the same task to threads 0..n-1 of
 * it (the caller runs as thread 0) and returns when all have finished.  Runs from
 * several handles take turns.  Workers spin briefly before sleeping, so the
 * back-to-back ops of one token do not pay a kernel wake-up each.  The workers
 * end when the last handle is freed.
 */
#ifndef GA_THREADPOOL_H
#define GA_THREADPOOL_H

#include "ga_common.h"

/* fn(ctx, ith, nth): thread ith of nth does its share of the work. */
typedef void (*ga_task_fn)(void *ctx, int ith, int nth);

typedef struct ga_pool ga_pool;

ga_status ga_pool_new(int n_threads, ga_pool **out, ga_error *err);
void ga_pool_free(ga_pool *pool);
int ga_pool_size(const ga_pool *pool);
/* Worker threads the process has now (the callers of runs not counted). */
int ga_pool_threads_alive(void);
void ga_pool_run(ga_pool *pool, ga_task_fn fn, void *ctx);

/* The [begin, end) share of n items for thread ith of nth. */
static inline void ga_split(int64_t n, int ith, int nth, int64_t *begin, int64_t *end) {
    int64_t per = (n + nth - 1) / nth;
    *begin = per * ith < n ? per * ith : n;
    *end = *begin + per < n ? *begin + per : n;
}

#endif
