/* ga_name_set.h - a set of byte strings that live in one buffer, for finding
 * duplicate keys and tensor names in linear time (a hostile file can hold
 * millions of names, so a pairwise comparison is not an option). */
#ifndef GA_NAME_SET_H
#define GA_NAME_SET_H

#include <stdint.h>

#include "ga_common.h"

typedef struct {
    uint64_t off, len; /* the name is base[off .. off+len) */
} ga_name_slot;

typedef struct {
    const uint8_t *base;
    ga_name_slot *slots; /* open addressing; len == UINT64_MAX marks an empty slot */
    uint64_t cap;        /* a power of 2, or 0 before the first add */
    uint64_t count;
} ga_name_set;

void ga_name_set_init(ga_name_set *s, const uint8_t *base);
/* Adds base[off..off+len): GA_OK when new, GA_ERR_FORMAT (err untouched) when
 * already present, GA_ERR_NOMEM when growing fails. */
ga_status ga_name_set_add(ga_name_set *s, uint64_t off, uint64_t len);
void ga_name_set_free(ga_name_set *s);

#endif
