/* ga_gguf.h - a GGUF parser that trusts nothing in the file.
 *
 * Input is the whole file as bytes (normally an mmap).  The parser checks
 * every count, length, type, shape and offset against the buffer and the
 * rules ggml's own loader (gguf.cpp) applies, then records *where* things
 * are: keys, names and values stay in the buffer and are located by offset,
 * so a caller converts them while the buffer is alive.  Plain C, no Python.
 *
 * Layout (little-endian): "GGUF", u32 version, u64 tensor_count,
 * u64 kv_count, kv_count x {string key, u32 value type, value},
 * tensor_count x {string name, u32 n_dims, u64 ne[n_dims], u32 type,
 * u64 offset}, zero padding to the alignment, data section.
 */
#ifndef GA_GGUF_H
#define GA_GGUF_H

#include <stdint.h>

#include "ga_common.h"

/* Metadata value types, numbered as in the file. */
typedef enum {
    GA_GGUF_UINT8 = 0,
    GA_GGUF_INT8 = 1,
    GA_GGUF_UINT16 = 2,
    GA_GGUF_INT16 = 3,
    GA_GGUF_UINT32 = 4,
    GA_GGUF_INT32 = 5,
    GA_GGUF_FLOAT32 = 6,
    GA_GGUF_BOOL = 7,
    GA_GGUF_STRING = 8,
    GA_GGUF_ARRAY = 9,   /* u32 element type, u64 count, elements */
    GA_GGUF_UINT64 = 10,
    GA_GGUF_INT64 = 11,
    GA_GGUF_FLOAT64 = 12,
    GA_GGUF_VTYPE_COUNT = 13
} ga_gguf_vtype;

#define GA_GGUF_MAX_DIMS 4
#define GA_GGUF_MAX_NAME 64           /* ggml's GGML_MAX_NAME: names are at most 63 bytes */
#define GA_GGUF_MAX_DEPTH 8           /* arrays of arrays nest at most this deep */
#define GA_GGUF_DEFAULT_ALIGNMENT 32

typedef struct {
    uint64_t key_off, key_len; /* key bytes at data + key_off, valid UTF-8, no NUL added */
    uint32_t type;             /* ga_gguf_vtype */
    uint64_t value_off;        /* first byte of the value (an array starts with its element type) */
} ga_gguf_kv;

typedef struct {
    uint64_t name_off, name_len; /* name bytes at data + name_off, valid UTF-8 */
    uint32_t n_dims;             /* 0..4 */
    uint64_t ne[GA_GGUF_MAX_DIMS]; /* ggml order, ne[0] contiguous; unused dims are 1 */
    uint32_t type;               /* ggml type id, known to ga_type_get */
    uint64_t offset;             /* relative to data_offset */
    uint64_t nbytes;
} ga_gguf_tensor;

typedef struct {
    uint32_t version;      /* 2 or 3 */
    uint32_t alignment;    /* power of 2 */
    uint64_t data_offset;  /* absolute file offset of the data section */
    uint64_t n_kv;
    ga_gguf_kv *kv;
    uint64_t n_tensors;
    ga_gguf_tensor *tensors;
} ga_gguf;

/* Parses data[0..size).  On success *out owns two arrays (ga_gguf_free);
 * on failure *out is left empty and err says what is wrong and where. */
ga_status ga_gguf_parse(const uint8_t *data, uint64_t size, ga_gguf *out, ga_error *err);
void ga_gguf_free(ga_gguf *g);

/* "UINT32", ... ; NULL outside the table. */
const char *ga_gguf_vtype_name(uint32_t type);
/* Bytes of one scalar value; 0 for STRING, ARRAY and unknown types. */
uint64_t ga_gguf_vtype_size(uint32_t type);

#endif
