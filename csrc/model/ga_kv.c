/* ga_kv.c - pages, block tables and sequences of the KV cache (ga_kv.h). */
#include <stdlib.h>
#include <string.h>

#include "ga_kv.h"

static int32_t *table_of(ga_kv *kv, int seq, int layer) {
    return kv->table + ((int64_t)seq * kv->n_layer + layer) * kv->n_blocks;
}

ga_status ga_kv_init(ga_kv *kv, const ga_hparams *hp, const uint8_t *owns, int n_ctx, int n_seq, int n_batch,
                     ga_error *err) {
    memset(kv, 0, sizeof *kv);
    kv->n_layer = hp->n_layer;
    kv->n_seq = n_seq;
    kv->n_ctx = n_ctx;
    kv->n_batch = n_batch;
    kv->window = hp->sliding_window;
    kv->n_blocks = (n_ctx + GA_KV_PAGE - 1) / GA_KV_PAGE;
    /* a sliding layer holds window + n_batch positions per sequence, on at most one page more */
    int64_t swa_pages = 0;
    if (hp->sliding_window > 0) swa_pages = ((int64_t)hp->sliding_window + n_batch + GA_KV_PAGE - 1) / GA_KV_PAGE + 1;
    int ok = 1;
    for (int l = 0; l < hp->n_layer; l++) {
        kv->swa[l] = hp->layer[l].swa && hp->sliding_window > 0;
        if (!owns[l]) continue;
        int64_t per_seq = kv->swa[l] && swa_pages < kv->n_blocks ? swa_pages : kv->n_blocks;
        if (per_seq * n_seq > INT32_MAX) return ga_fail(err, GA_ERR_ARG, "KV cache too large");
        kv->n_pages[l] = (int32_t)(per_seq * n_seq);
        kv->refs[l] = calloc((size_t)kv->n_pages[l], sizeof(int32_t));
        kv->free_list[l] = malloc((size_t)kv->n_pages[l] * sizeof(int32_t));
        if (!kv->refs[l] || !kv->free_list[l]) { ok = 0; break; }
        /* popped from the end: page 0 first, so a short context touches the pool's start only */
        for (int32_t i = 0; i < kv->n_pages[l]; i++) kv->free_list[l][i] = kv->n_pages[l] - 1 - i;
        kv->n_free[l] = kv->n_pages[l];
    }
    const size_t entries = (size_t)n_seq * (size_t)hp->n_layer * (size_t)kv->n_blocks;
    kv->table = ok ? malloc(entries * sizeof(int32_t)) : NULL;
    kv->n_past = calloc((size_t)n_seq, sizeof(int32_t));
    kv->floor = calloc((size_t)n_seq, sizeof(int32_t));
    kv->tokens = calloc((size_t)n_seq * (size_t)n_ctx, sizeof(int32_t));
    kv->max_copies = hp->n_layer * (n_seq < n_batch ? n_seq : n_batch);
    kv->copies = calloc((size_t)kv->max_copies, sizeof(ga_kv_copy));
    if (!ok || !kv->table || !kv->n_past || !kv->floor || !kv->tokens || !kv->copies) {
        ga_kv_free(kv);
        return ga_fail(err, GA_ERR_NOMEM, "out of memory for the KV cache's tables");
    }
    for (size_t i = 0; i < entries; i++) kv->table[i] = -1;
    return GA_OK;
}

void ga_kv_free(ga_kv *kv) {
    for (int l = 0; l < GA_MAX_LAYERS; l++) {
        free(kv->refs[l]);
        free(kv->free_list[l]);
    }
    free(kv->table);
    free(kv->n_past);
    free(kv->floor);
    free(kv->tokens);
    free(kv->copies);
    memset(kv, 0, sizeof *kv);
}

static int32_t take_page(ga_kv *kv, int l) {
    const int32_t p = kv->free_list[l][--kv->n_free[l]];
    kv->refs[l][p] = 1;
    return p;
}

static void drop_page(ga_kv *kv, int l, int32_t *entry) {
    if (*entry < 0) return;
    if (--kv->refs[l][*entry] == 0) kv->free_list[l][kv->n_free[l]++] = *entry;
    *entry = -1;
}

/* the first position a sliding layer must keep once positions up to `to` are written */
static int keep_from(const ga_kv *kv, int to) {
    const int k = to - kv->window - kv->n_batch + 1;
    return k > 0 ? k : 0;
}

ga_status ga_kv_prepare(ga_kv *kv, int seq, int from, int to, ga_error *err) {
    const int b0 = from / GA_KV_PAGE, b1 = (to - 1) / GA_KV_PAGE;
    const int drop_below = keep_from(kv, to) / GA_KV_PAGE; /* sliding layers: blocks < this go */
    /* count first, so that a pool too small takes nothing */
    for (int l = 0; l < kv->n_layer; l++) {
        if (!kv->n_pages[l]) continue;
        const int32_t *t = table_of(kv, seq, l);
        int need = 0, freed = 0;
        for (int b = b0; b <= b1; b++)
            if (t[b] < 0 || kv->refs[l][t[b]] > 1) need++;
        if (kv->swa[l])
            for (int b = 0; b < drop_below && b < b0; b++)
                if (t[b] >= 0 && kv->refs[l][t[b]] == 1) freed++;
        if (need > kv->n_free[l] + freed)
            return ga_fail(err, GA_ERR_ARG,
                           "the KV cache is full: layer %d has %d free pages of %d positions, sequence %d needs %d "
                           "(more sequences or a longer context need a larger n_ctx)",
                           l, kv->n_free[l] + freed, GA_KV_PAGE, seq, need);
        if (need > 0 && kv->n_copies + 1 > kv->max_copies)
            return ga_fail(err, GA_ERR_ARG, "too many shared KV pages written in one chunk");
    }
    for (int l = 0; l < kv->n_layer; l++) {
        if (!kv->n_pages[l]) continue;
        int32_t *t = table_of(kv, seq, l);
        if (kv->swa[l])
            for (int b = 0; b < drop_below && b < b0; b++) drop_page(kv, l, &t[b]);
        for (int b = b0; b <= b1; b++) {
            if (t[b] < 0) {
                t[b] = take_page(kv, l);
            } else if (kv->refs[l][t[b]] > 1) { /* shared since a fork: write into a copy */
                const int32_t copy = take_page(kv, l);
                kv->copies[kv->n_copies++] = (ga_kv_copy){.layer = l, .src = t[b], .dst = copy};
                kv->refs[l][t[b]]--;
                t[b] = copy;
            }
        }
    }
    for (int l = 0; l < kv->n_layer; l++)
        if (kv->swa[l] && kv->n_pages[l]) {
            const int f = (drop_below < b0 ? drop_below : b0) * GA_KV_PAGE;
            if (f > kv->floor[seq]) kv->floor[seq] = f;
            break;
        }
    return GA_OK;
}

void ga_kv_commit(ga_kv *kv, int seq, int from, int to, const int32_t *tokens) {
    memcpy(kv->tokens + (int64_t)seq * kv->n_ctx + from, tokens, (size_t)(to - from) * sizeof(int32_t));
    kv->n_past[seq] = to;
}

int ga_kv_max_rollback(const ga_kv *kv, int seq) {
    const int n = kv->n_past[seq];
    if (kv->floor[seq] == 0) return n;
    const int lowest = kv->floor[seq] + kv->window - 1; /* the lowest n whose window is still kept */
    return lowest < n ? n - lowest : 0;
}

void ga_kv_truncate(ga_kv *kv, int seq, int n) {
    const int first_gone = (n + GA_KV_PAGE - 1) / GA_KV_PAGE; /* blocks holding only positions >= n */
    for (int l = 0; l < kv->n_layer; l++) {
        if (!kv->n_pages[l]) continue;
        int32_t *t = table_of(kv, seq, l);
        for (int b = n == 0 ? 0 : first_gone; b < kv->n_blocks; b++) drop_page(kv, l, &t[b]);
    }
    kv->n_past[seq] = n;
    if (n == 0) kv->floor[seq] = 0;
}

void ga_kv_fork(ga_kv *kv, int src, int dst) {
    if (src == dst) return;
    ga_kv_truncate(kv, dst, 0);
    const int n = kv->n_past[src];
    const int used = (n + GA_KV_PAGE - 1) / GA_KV_PAGE;
    for (int l = 0; l < kv->n_layer; l++) {
        if (!kv->n_pages[l]) continue;
        const int32_t *s = table_of(kv, src, l);
        int32_t *d = table_of(kv, dst, l);
        for (int b = 0; b < used; b++)
            if ((d[b] = s[b]) >= 0) kv->refs[l][d[b]]++;
    }
    memcpy(kv->tokens + (int64_t)dst * kv->n_ctx, kv->tokens + (int64_t)src * kv->n_ctx, (size_t)n * sizeof(int32_t));
    kv->n_past[dst] = n;
    kv->floor[dst] = kv->floor[src];
}
