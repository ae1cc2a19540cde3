/* ga_attention.h - one query head against the KV cache, in chunks, with an
 * online softmax.
 *
 * Keys are visited GA_ATTN_CHUNK at a time: the chunk's scores go into a small
 * per-thread buffer, the running max and denominator are rescaled, and the
 * chunk's values are accumulated.  The scratch is allocated once (per thread)
 * when the model is created, so working memory does not grow with the
 * context; prefill and decode share this kernel.
 */
#ifndef GA_ATTENTION_H
#define GA_ATTENTION_H

#include <stdint.h>

#include "ga_common.h"

#define GA_ATTN_CHUNK 128 /* 128 keys x 256 dims x 4 B = 128 KiB: fits L2 */

typedef struct {
    int n_threads;
    int64_t head_dim;
    float *buf; /* per thread: GA_ATTN_CHUNK scores + head_dim accumulator */
} ga_attn_scratch;

typedef struct {
    const float *q;       /* [head_dim] */
    float *out;           /* [head_dim] */
    const float *k_cache; /* slot s of this kv head at k_cache + s * stride */
    const float *v_cache;
    int64_t stride, head_dim;
    int64_t first, last;  /* attend to positions first..last inclusive */
    int64_t ring;         /* position p lives in slot p % ring */
    float scale, softcap; /* softcap 0 = none */
} ga_attn_args;

ga_status ga_attn_scratch_init(ga_attn_scratch *s, int n_threads, int64_t head_dim);
void ga_attn_scratch_free(ga_attn_scratch *s);
uint64_t ga_attn_scratch_bytes(const ga_attn_scratch *s);

void ga_attention_one(const ga_attn_args *a, ga_attn_scratch *s, int ith);

#endif
