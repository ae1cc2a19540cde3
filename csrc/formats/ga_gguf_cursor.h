/* ga_gguf_cursor.h - a bounds-checked little-endian reader over a byte buffer.
 *
 * Every read checks the bytes it needs against the end of the buffer first
 * and fails with "truncated at offset N reading X".  Multi-byte values are
 * assembled byte by byte: no unaligned loads, no host-endianness assumption.
 */
#ifndef GA_GGUF_CURSOR_H
#define GA_GGUF_CURSOR_H

#include <stdint.h>

#include "ga_common.h"

typedef struct {
    const uint8_t *data;
    uint64_t size;
    uint64_t pos;   /* invariant: pos <= size */
    ga_error *err;
} ga_gguf_cursor;

static inline uint64_t ga_gguf_left(const ga_gguf_cursor *c) { return c->size - c->pos; }

/* GA_OK when n more bytes are available; what names the field in the message. */
static inline ga_status ga_gguf_need(ga_gguf_cursor *c, uint64_t n, const char *what) {
    if (n <= ga_gguf_left(c)) return GA_OK;
    return ga_fail(c->err, GA_ERR_FORMAT,
                   "truncated at offset %llu reading %s (needs %llu bytes, the file has %llu left)",
                   (unsigned long long)c->pos, what, (unsigned long long)n,
                   (unsigned long long)ga_gguf_left(c));
}

static inline ga_status ga_gguf_skip(ga_gguf_cursor *c, uint64_t n, const char *what) {
    ga_status st = ga_gguf_need(c, n, what);
    if (st == GA_OK) c->pos += n;
    return st;
}

static inline uint64_t ga_gguf_le(const uint8_t *p, int nbytes) {
    uint64_t v = 0;
    for (int i = nbytes - 1; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static inline ga_status ga_gguf_read_u32(ga_gguf_cursor *c, uint32_t *v, const char *what) {
    ga_status st = ga_gguf_need(c, 4, what);
    if (st != GA_OK) return st;
    *v = (uint32_t)ga_gguf_le(c->data + c->pos, 4);
    c->pos += 4;
    return GA_OK;
}

static inline ga_status ga_gguf_read_u64(ga_gguf_cursor *c, uint64_t *v, const char *what) {
    ga_status st = ga_gguf_need(c, 8, what);
    if (st != GA_OK) return st;
    *v = ga_gguf_le(c->data + c->pos, 8);
    c->pos += 8;
    return GA_OK;
}

/* A gguf string (u64 length + bytes): *off and *len locate the bytes in data. */
static inline ga_status ga_gguf_read_str(ga_gguf_cursor *c, uint64_t *off, uint64_t *len,
                                         const char *what) {
    ga_status st = ga_gguf_read_u64(c, len, what);
    if (st != GA_OK) return st;
    *off = c->pos;
    return ga_gguf_skip(c, *len, what);
}

#endif
