/* ga_npu_attention.h - attention in the scratchpad: query and key tiles sized from it,
 * online softmax, and decode's keys split across workers with a merge step.
 *
 * FlashAttention's tiling (Dao et al. 2022): for a scratchpad of M floats per worker and head
 * size d, key tiles of Bc = ceil(M / 4d) and query tiles of Br = min(Bc, d) rows, shrunk
 * until the layout (Q, K, V, scores, output, row max and sum) fits.  A query tile holds the
 * heads of one kv head's group for consecutive tokens; its keys and values are copied into
 * the scratchpad tile by tile from the KV pages (the DMA), the running max and sum rescale
 * the output as each tile arrives.  A single token (decode) splits its keys instead: each
 * key tile, on whichever worker, leaves a partial (output, max, sum) for every head, and one
 * merge combines them, as Flash-Decoding does.  Reads and writes go through the owning backend's read/write, so
 * every offset is checked there.
 */
#ifndef GA_NPU_ATTENTION_H
#define GA_NPU_ATTENTION_H

#include <stdint.h>

#include "ga_backend.h"
#include "ga_threadpool.h"

typedef struct {
    int Br, Bc;     /* query rows and keys per tile */
    uint64_t bytes; /* one worker's layout */
} ga_npu_attn_plan;

/* The tiles for rows query rows of head size d over up to max_keys keys in share bytes
 * (one worker's part of the scratchpad).  GA_ERR_DEVICE_MEMORY when not even one query row
 * and 16 keys fit; *need is then that layout. */
ga_status ga_npu_plan_attention(uint64_t share, int rows, int64_t d, int64_t max_keys, ga_npu_attn_plan *out,
                                uint64_t *need, ga_error *err);

/* One attention op: the buffers of the backend that owns them, and the layer's shape. */
typedef struct {
    const ga_backend_i *bi;
    ga_backend *be;
    ga_buf q, kv, out;
    int64_t kv_rows; /* positions in the KV buffer's K pages (its V pages follow) */
    const ga_chunk *c;
    int kv_layer, window;
    int64_t H, Hkv, d;
    float scale, softcap;
} ga_npu_attn_op;

typedef struct {
    uint64_t bytes_moved; /* into the scratchpad: queries, keys, values */
    int64_t tiles;        /* key tiles */
    int64_t splits;       /* decode: key ranges merged */
} ga_npu_attn_counters;

/* a worker's result, one per thread of the pool (allocated once, by the caller) */
typedef struct {
    ga_status st;
    ga_error err;
    ga_npu_attn_counters cnt;
} ga_npu_attn_worker;

/* op over its chunk's tokens with plan, on pool's workers, each in its share of sram; a
 * single token's key tiles leave their partials in partials (room for max_split tiles of
 * n_head x (head_dim + 2) floats, in device memory) for the merge.  Adds to cnt. */
ga_status ga_npu_attention(const ga_npu_attn_op *op, const ga_npu_attn_plan *plan, ga_pool *pool, uint8_t *sram,
                           uint64_t share, ga_npu_attn_worker *workers, float *partials, int64_t max_split,
                           ga_npu_attn_counters *cnt, ga_error *err);

#endif
