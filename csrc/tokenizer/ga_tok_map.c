/* ga_tok_map.c - piece -> id lookup: open addressing, linear probing, keys
 * kept in the caller's blob (no copies).  Load factor <= 1/2, so a 262144
 * piece vocabulary builds in a few milliseconds. */
#include <stdlib.h>
#include <string.h>

#include "ga_tok_internal.h"

/* 64-bit FNV-1a followed by a murmur finalizer (FNV alone spreads short keys poorly). */
uint64_t ga_tok_hash(const char *s, size_t len) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ULL;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

static int key_equal(const ga_strmap *m, int32_t id, const char *s, size_t len) {
    uint64_t a = m->offs[id], b = m->offs[id + 1];
    return b - a == len && memcmp(m->blob + a, s, len) == 0;
}

ga_status ga_strmap_build(ga_strmap *m, const char *blob, const uint64_t *offs, int64_t n,
                          int keep_first, int32_t *dup_first, int32_t *dup_second) {
    uint64_t size = 16;
    while (size < (uint64_t)n * 2) size <<= 1;
    m->blob = blob;
    m->offs = offs;
    m->mask = size - 1;
    m->slots = malloc(size * sizeof *m->slots);
    if (!m->slots) return GA_ERR_NOMEM;
    for (uint64_t i = 0; i < size; i++) m->slots[i].id = -1;
    for (int64_t id = 0; id < n; id++) {
        const char *s = blob + offs[id];
        size_t len = (size_t)(offs[id + 1] - offs[id]);
        uint64_t h = ga_tok_hash(s, len);
        uint32_t tag = (uint32_t)(h >> 32);
        for (uint64_t i = h & m->mask;; i = (i + 1) & m->mask) {
            ga_strmap_slot *sl = &m->slots[i];
            if (sl->id < 0) {
                sl->id = (int32_t)id;
                sl->h = tag;
                break;
            }
            if (sl->h == tag && key_equal(m, sl->id, s, len)) {
                if (keep_first) break;
                *dup_first = sl->id;
                *dup_second = (int32_t)id;
                return GA_ERR_FORMAT;
            }
        }
    }
    return GA_OK;
}

int32_t ga_strmap_find(const ga_strmap *m, const char *s, size_t len) {
    uint64_t h = ga_tok_hash(s, len);
    uint32_t tag = (uint32_t)(h >> 32);
    for (uint64_t i = h & m->mask;; i = (i + 1) & m->mask) {
        const ga_strmap_slot *sl = &m->slots[i];
        if (sl->id < 0) return -1;
        if (sl->h == tag && key_equal(m, sl->id, s, len)) return sl->id;
    }
}

void ga_strmap_free(ga_strmap *m) {
    free(m->slots);
    m->slots = NULL;
}

ga_status ga_ids_push(ga_ids *ids, int32_t id) {
    if (ids->n == ids->cap) {
        int64_t cap = ids->cap ? ids->cap * 2 : 64;
        int32_t *v = realloc(ids->v, (size_t)cap * sizeof *v);
        if (!v) return GA_ERR_NOMEM;
        ids->v = v;
        ids->cap = cap;
    }
    ids->v[ids->n++] = id;
    return GA_OK;
}
