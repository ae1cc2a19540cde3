/* ga_membw.h - a streaming-read memory bandwidth probe (benchmarks/bench.py). */
#ifndef GA_MEMBW_H
#define GA_MEMBW_H

#include <stddef.h>

#include "ga_common.h"

/* Reads a `bytes` buffer with n_threads threads `passes` times; *best_gbs = best GB/s (1e9 B/s). */
ga_status ga_mem_read_bandwidth(size_t bytes, int n_threads, int passes, double *best_gbs, ga_error *err);

#endif
