/* ga_attention.h - one query head against the KV cache, in chunks, with an
 * online softmax.
 *
 * Keys are visited GA_ATTN_CHUNK at a time: the chunk's scores go into a small
 * per-thread buffer, the running max and denominator are rescaled, and the
 * chunk's values are accumulated.  The scratch is allocated once (per thread)
 * when the model is created, so working memory does not grow with the
 * context.  ga_attention_one is the reference every path is tested against;
 * prefill runs blocks of queries (ga_attention_block) and decode the heads of
 * one kv group together (ga_attention_group), both on sgemm where available.
 */
#ifndef GA_ATTENTION_H
#define GA_ATTENTION_H

#include <stdint.h>

#include "ga_common.h"

#define GA_ATTN_CHUNK 128 /* 128 keys x 256 dims x 4 B = 128 KiB: fits L2 */

#define GA_ATTN_QBLOCK 64 /* queries per job of the blocked (prefill) path */

typedef struct {
    int n_threads;
    int64_t n_head, head_dim;
    float *buf;  /* per thread: GA_ATTN_CHUNK scores + head_dim accumulator */
    float *blk;  /* per thread, blocked path: QBLOCK x CHUNK scores, QBLOCK x head_dim out, 2 x QBLOCK */
    float *part; /* per thread, grouped decode: n_head partial states (ga_attn_partial) */
    int owned;   /* 1: allocated here (freed by ga_attn_scratch_free) */
} ga_attn_scratch;

/* Where the keys and values of one kv head live: position p's row is at
 * base + pages[p / GA_ATTN_CHUNK] * page_stride + (p % GA_ATTN_CHUNK) * stride, or
 * base + p * stride when pages is NULL (one contiguous run). */
typedef struct {
    const float *k, *v;
    const int32_t *pages;
    int64_t stride, page_stride;
} ga_kv_view;

static inline int64_t ga_kv_row(const ga_kv_view *kv, int64_t p) {
    return kv->pages ? kv->pages[p / GA_ATTN_CHUNK] * kv->page_stride + (p % GA_ATTN_CHUNK) * kv->stride
                     : p * kv->stride;
}

typedef struct {
    const float *q;       /* [head_dim] */
    float *out;           /* [head_dim] */
    ga_kv_view kv;
    int64_t head_dim;
    int64_t first, last;  /* attend to positions first..last inclusive */
    float scale, softcap; /* softcap 0 = none */
} ga_attn_args;

/* mem: NULL to allocate, or ga_attn_scratch_need() zeroed bytes (64-aligned) the caller owns. */
ga_status ga_attn_scratch_init(ga_attn_scratch *s, int n_threads, int64_t n_head, int64_t head_dim, void *mem);
uint64_t ga_attn_scratch_need(int n_threads, int64_t n_head, int64_t head_dim);
void ga_attn_scratch_free(ga_attn_scratch *s);
uint64_t ga_attn_scratch_bytes(const ga_attn_scratch *s);

void ga_attention_one(const ga_attn_args *a, ga_attn_scratch *s, int ith);

/* nq consecutive query positions (last0, last0 + 1, ...) of one head, q rows q_stride
 * apart, out rows out_stride apart; query i attends to [max(0, last0 + i - window + 1),
 * last0 + i] (window 0 = no window).  Keys in chunks of GA_ATTN_CHUNK: scores and the
 * value sums are matrix products (OpenBLAS sgemm), with the same online softmax as
 * ga_attention_one (its reference twin).  1 if it ran, 0 if unavailable (no BLAS, or
 * the portable kernel set): then call ga_attention_one per query. */
typedef struct {
    const float *q;
    float *out;
    int64_t q_stride, out_stride;
    ga_kv_view kv;
    int64_t head_dim;
    int64_t last0, window;
    int nq;
    float scale, softcap;
} ga_attn_block_args;
int ga_attention_block(const ga_attn_block_args *a, ga_attn_scratch *s, int ith);

/* Decode with grouped-query attention: the G query heads that share one kv head, all at
 * one position, read each key and value row once (ga_attention_one reads them once per
 * head).  Over keys first..last it leaves the online softmax's partial state: running
 * max mx[g], denominator sum[g] and the unnormalized value sum o[g * head_dim ...], so a
 * long context can be split over threads and the parts merged (ga_attention_merge).
 * Scores and value sums are sgemm products.  Unavailable without BLAS, in the portable
 * kernel set, or for G > GA_ATTN_QBLOCK: then call ga_attention_one per head. */
typedef struct {
    const float *q; /* G rows of head_dim, consecutive */
    ga_kv_view kv;
    int64_t head_dim;
    int64_t first, last; /* first > last: no keys (an empty part) */
    int G;
    float scale, softcap;
} ga_attn_group_args;

typedef struct {
    float *mx, *sum, *o; /* G, G, G x head_dim */
} ga_attn_partial;

int ga_attention_group_available(int G);
/* The partial state of kv head hk's group in thread ith's scratch. */
ga_attn_partial ga_attn_partial_at(const ga_attn_scratch *s, int ith, int64_t hk, int G);
void ga_attention_group(const ga_attn_group_args *a, const ga_attn_partial *p, ga_attn_scratch *s, int ith);
/* out[g * head_dim ...] = the attention output of kv head hk's group from the partial
 * states of threads 0..n_parts-1 (head_dim: the layer's, at most the scratch's) */
void ga_attention_merge(const ga_attn_scratch *s, int n_parts, int64_t hk, int G, int64_t head_dim, float *out);

#endif
