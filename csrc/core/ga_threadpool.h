/* ga_threadpool.h - a persistent pool of worker threads.
 *
 * Created once per model; ga_pool_run() hands the same task to every thread
 * (the caller runs as thread 0) and returns when all have finished.  Workers
 * spin briefly before sleeping, so the back-to-back ops of one token do not
 * pay a kernel wake-up each.
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
void ga_pool_run(ga_pool *pool, ga_task_fn fn, void *ctx);

/* The [begin, end) share of n items for thread ith of nth. */
static inline void ga_split(int64_t n, int ith, int nth, int64_t *begin, int64_t *end) {
    int64_t per = (n + nth - 1) / nth;
    *begin = per * ith < n ? per * ith : n;
    *end = *begin + per < n ? *begin + per : n;
}

#endif
