/* ga_membw.c - memory read bandwidth, measured the way decode reads weights:
 * every thread of a pool streams its share of one large buffer once per pass. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ga_membw.h"
#include "ga_threadpool.h"

typedef struct {
    const uint64_t *buf;
    int64_t n;               /* uint64 words */
    uint64_t sink[64 * 8];   /* one cache line per thread (first 64 threads) */
} read_task;

static void read_part(void *p, int ith, int nth) {
    read_task *t = p;
    int64_t b, e;
    ga_split(t->n / 8, ith, nth, &b, &e);
    uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0;
    for (const uint64_t *q = t->buf + 8 * b, *end = t->buf + 8 * e; q < end; q += 8) {
        a0 ^= q[0]; a1 ^= q[1]; a2 ^= q[2]; a3 ^= q[3];
        a4 ^= q[4]; a5 ^= q[5]; a6 ^= q[6]; a7 ^= q[7];
    }
    if (ith < 64) t->sink[8 * ith] = a0 ^ a1 ^ a2 ^ a3 ^ a4 ^ a5 ^ a6 ^ a7;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

ga_status ga_mem_read_bandwidth(size_t bytes, int n_threads, int passes, double *best_gbs, ga_error *err) {
    if (bytes < (1u << 20) || passes < 1)
        return ga_fail(err, GA_ERR_ARG, "need at least 1 MiB and one pass");
    ga_pool *pool;
    ga_status st = ga_pool_new(n_threads, &pool, err);
    if (st) return st;
    read_task *t = calloc(1, sizeof *t);
    uint64_t *buf = malloc(bytes);
    if (!t || !buf) {
        free(t); free(buf); ga_pool_free(pool);
        return ga_fail(err, GA_ERR_NOMEM, "no memory for a %zu-byte buffer", bytes);
    }
    memset(buf, 0x5a, bytes); /* touch every page before timing */
    t->buf = buf;
    t->n = (int64_t)(bytes / 8) & ~(int64_t)7;
    double best = 0.0;
    ga_pool_run(pool, read_part, t); /* warm-up pass */
    for (int i = 0; i < passes; i++) {
        const double t0 = now_s();
        ga_pool_run(pool, read_part, t);
        const double dt = now_s() - t0;
        const double gbs = (double)t->n * 8.0 / dt / 1e9;
        if (gbs > best) best = gbs;
    }
    free(buf);
    free(t);
    ga_pool_free(pool);
    *best_gbs = best;
    return GA_OK;
}
