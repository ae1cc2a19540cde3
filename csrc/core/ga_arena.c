/* ga_arena.c - one mapped block in named regions (ga_arena.h). */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "ga_arena.h"

ga_status ga_arena_init(ga_arena *a, uint64_t size, ga_error *err) {
    memset(a, 0, sizeof *a);
    if (size < 4096) return ga_fail(err, GA_ERR_ARG, "an arena of %llu bytes", (unsigned long long)size);
    void *p = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return ga_fail(err, GA_ERR_NOMEM, "cannot map an arena of %llu bytes", (unsigned long long)size);
    a->base = p;
    a->size = size;
    a->align = 64;
    return GA_OK;
}

void ga_arena_free(ga_arena *a) {
    if (a->base) munmap(a->base, (size_t)a->size);
    memset(a, 0, sizeof *a);
}

void *ga_arena_alloc(ga_arena *a, uint64_t bytes, const char *name) {
    const uint64_t at = (a->used + a->align - 1) & ~(a->align - 1);
    if (!a->base || bytes > a->size || at > a->size - bytes) return NULL;
    a->used = at + bytes;
    int r = 0;
    while (r < a->n_regions && strcmp(a->regions[r].name, name) != 0) r++;
    if (r == a->n_regions && r < GA_ARENA_MAX_REGIONS) {
        snprintf(a->regions[r].name, sizeof a->regions[r].name, "%s", name);
        a->regions[r].offset = at;
        a->n_regions++;
    }
    if (r < GA_ARENA_MAX_REGIONS) a->regions[r].bytes += bytes;
    return a->base + at;
}
