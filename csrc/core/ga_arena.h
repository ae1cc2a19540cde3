/* ga_arena.h - one block of memory, reserved once, handed out in named regions.
 *
 * The NPU-chunked backend runs a model inside a hard memory budget: everything it
 * allocates (streamed weight slots, the KV pool, activations, scratch) comes from one
 * arena of at most the budget, mapped at load.  Regions are never freed one by one; the
 * arena goes as a whole.  Its pages are touched only as regions are used, so RSS grows
 * with what runs, never past the arena's size.
 */
#ifndef GA_ARENA_H
#define GA_ARENA_H

#include <stdint.h>

#include "ga_common.h"

#define GA_ARENA_MAX_REGIONS 96

typedef struct {
    char name[40];
    uint64_t offset, bytes;
} ga_arena_region;

typedef struct {
    uint8_t *base;
    uint64_t size, used;
    uint64_t align; /* every region starts on a multiple of this (a power of two, 64 by default) */
    ga_arena_region regions[GA_ARENA_MAX_REGIONS];
    int n_regions;
} ga_arena;

/* Maps size bytes (zeroed, untouched). */
ga_status ga_arena_init(ga_arena *a, uint64_t size, ga_error *err);
void ga_arena_free(ga_arena *a);

/* bytes zeroed bytes aligned to a->align, named for the memory plan; NULL when they do not fit
 * (regions of the same name are counted as one in the plan). */
void *ga_arena_alloc(ga_arena *a, uint64_t bytes, const char *name);

#endif
