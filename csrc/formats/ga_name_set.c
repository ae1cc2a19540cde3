/* ga_name_set.c - open-addressing hash set of names in a buffer (FNV-1a). */
#include <stdlib.h>
#include <string.h>

#include "ga_name_set.h"

#define EMPTY UINT64_MAX

static uint64_t hash(const uint8_t *p, uint64_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (uint64_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

/* Slot holding name, or the empty slot where it belongs. */
static ga_name_slot *find(const ga_name_set *s, ga_name_slot *slots, uint64_t cap,
                          uint64_t off, uint64_t len) {
    const uint8_t *name = s->base + off;
    for (uint64_t i = hash(name, len) & (cap - 1);; i = (i + 1) & (cap - 1)) {
        ga_name_slot *slot = &slots[i];
        if (slot->len == EMPTY) return slot;
        if (slot->len == len && memcmp(s->base + slot->off, name, len) == 0) return slot;
    }
}

static ga_status grow(ga_name_set *s) {
    uint64_t cap = s->cap ? s->cap * 2 : 64;
    ga_name_slot *slots = malloc(cap * sizeof *slots);
    if (!slots) return GA_ERR_NOMEM;
    for (uint64_t i = 0; i < cap; i++) slots[i].len = EMPTY;
    for (uint64_t i = 0; i < s->cap; i++)
        if (s->slots[i].len != EMPTY)
            *find(s, slots, cap, s->slots[i].off, s->slots[i].len) = s->slots[i];
    free(s->slots);
    s->slots = slots;
    s->cap = cap;
    return GA_OK;
}

void ga_name_set_init(ga_name_set *s, const uint8_t *base) {
    memset(s, 0, sizeof *s);
    s->base = base;
}

ga_status ga_name_set_add(ga_name_set *s, uint64_t off, uint64_t len) {
    if (2 * (s->count + 1) > s->cap && grow(s) != GA_OK) return GA_ERR_NOMEM; /* load <= 1/2 */
    ga_name_slot *slot = find(s, s->slots, s->cap, off, len);
    if (slot->len != EMPTY) return GA_ERR_FORMAT;
    slot->off = off;
    slot->len = len;
    s->count++;
    return GA_OK;
}

void ga_name_set_free(ga_name_set *s) {
    free(s->slots);
    memset(s, 0, sizeof *s);
}
