/* ga_chunk.c - the KV page checks every backend makes before an op touches KV memory. */
#include "ga_backend.h"

ga_status ga_chunk_check_pages(const ga_chunk *c, int kv_layer, int64_t n_pages, int window, int keys,
                               ga_error *err) {
    if (!c) return ga_fail(err, GA_ERR_ARG, "a KV op outside a chunk");
    if (kv_layer < 0 || kv_layer >= c->kv->n_layer) return ga_fail(err, GA_ERR_ARG, "no KV layer %d", kv_layer);
    for (int i = 0; i < c->T; i++) {
        const int32_t seq = c->seq[i], pos = c->pos[i];
        if (seq < 0 || seq >= c->kv->n_seq || pos < 0 || pos >= c->kv->n_ctx)
            return ga_fail(err, GA_ERR_ARG, "token %d: sequence %d position %d out of range", i, seq, pos);
        const int32_t *pages = ga_kv_pages(c->kv, seq, kv_layer);
        const int64_t first = keys ? (window > 0 && pos - window + 1 > 0 ? pos - window + 1 : 0) : pos;
        for (int64_t b = first / GA_KV_PAGE; b <= pos / GA_KV_PAGE; b++)
            if (pages[b] < 0 || pages[b] >= n_pages)
                return ga_fail(err, GA_ERR_ARG, "token %d: no KV page for positions %lld..", i,
                               (long long)b * GA_KV_PAGE);
    }
    return GA_OK;
}
