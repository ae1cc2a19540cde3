/* ga_attention.c - chunked attention with an online softmax. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ga_attention.h"
#include "ga_ops.h"

ga_status ga_attn_scratch_init(ga_attn_scratch *s, int n_threads, int64_t head_dim) {
    s->n_threads = n_threads;
    s->head_dim = head_dim;
    s->buf = calloc((size_t)n_threads * (size_t)(GA_ATTN_CHUNK + head_dim), sizeof(float));
    return s->buf ? GA_OK : GA_ERR_NOMEM;
}

void ga_attn_scratch_free(ga_attn_scratch *s) {
    free(s->buf);
    s->buf = NULL;
}

uint64_t ga_attn_scratch_bytes(const ga_attn_scratch *s) {
    return (uint64_t)s->n_threads * (uint64_t)(GA_ATTN_CHUNK + s->head_dim) * sizeof(float);
}

void ga_attention_one(const ga_attn_args *a, ga_attn_scratch *s, int ith) {
    const int64_t d = a->head_dim;
    float *scores = s->buf + (size_t)ith * (size_t)(GA_ATTN_CHUNK + d);
    float *acc = scores + GA_ATTN_CHUNK;
    memset(acc, 0, (size_t)d * sizeof(float));
    float run_max = -INFINITY, run_sum = 0.0f;

    for (int64_t p0 = a->first; p0 <= a->last; p0 += GA_ATTN_CHUNK) {
        const int64_t n = a->last + 1 - p0 < GA_ATTN_CHUNK ? a->last + 1 - p0 : GA_ATTN_CHUNK;
        float chunk_max = -INFINITY;
        for (int64_t j = 0; j < n; j++) {
            const float *k = a->k_cache + ((p0 + j) % a->ring) * a->stride;
            float sc = ga_dot_f32(a->q, k, d) * a->scale;
            if (a->softcap > 0.0f) sc = a->softcap * tanhf(sc / a->softcap);
            scores[j] = sc;
            if (sc > chunk_max) chunk_max = sc;
        }
        const float new_max = chunk_max > run_max ? chunk_max : run_max;
        const float correction = expf(run_max - new_max); /* exp(-inf) = 0 on the first chunk */
        run_sum *= correction;
        for (int64_t i = 0; i < d; i++) acc[i] *= correction;
        for (int64_t j = 0; j < n; j++) scores[j] -= new_max;
        ga_exp_f32(scores, scores, n); /* the chunk's exps in one vector pass */
        for (int64_t j = 0; j < n; j++) {
            const float e = scores[j];
            run_sum += e;
            ga_axpy_f32(acc, e, a->v_cache + ((p0 + j) % a->ring) * a->stride, d);
        }
        run_max = new_max;
    }
    const float inv = 1.0f / run_sum;
    for (int64_t i = 0; i < d; i++) a->out[i] = acc[i] * inv;
}
