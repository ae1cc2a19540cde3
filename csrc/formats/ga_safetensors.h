/* ga_safetensors.h - safetensors header parser and validator (plain C).
 *
 * File layout: u64 LE header length N, N bytes of UTF-8 JSON, then the data
 * section.  ga_st_parse checks everything a reader relies on before any
 * tensor byte is touched: header bounds, JSON shape, dtype names, shape
 * products, and that the tensors tile the data section exactly.  It does not
 * map or read files: the caller passes the whole file's bytes.
 */
#ifndef GA_SAFETENSORS_H
#define GA_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "ga_common.h"
#include "ga_json.h"

/* The reference implementation (huggingface/safetensors) refuses headers
 * above 100 MB; so do we. */
#define GA_ST_MAX_HEADER 100000000ull

typedef enum {
    GA_ST_BOOL, GA_ST_U8, GA_ST_I8, GA_ST_F8_E5M2, GA_ST_F8_E4M3,
    GA_ST_I16, GA_ST_U16, GA_ST_F16, GA_ST_BF16,
    GA_ST_I32, GA_ST_U32, GA_ST_F32,
    GA_ST_F64, GA_ST_I64, GA_ST_U64,
    GA_ST_F8_E8M0, GA_ST_C64,   /* newer additions to the format */
    GA_ST_DTYPE_COUNT,
} ga_st_dtype;

/* "F32" -> GA_ST_F32; -1 if unknown.  name need not be NUL-terminated. */
int ga_st_dtype_from_name(const char *name, size_t len);
const char *ga_st_dtype_name(int dtype);
size_t ga_st_dtype_size(int dtype);

typedef struct {
    const char *name;             /* UTF-8, in the JSON arena (may contain NUL) */
    size_t name_len;
    int dtype;                    /* ga_st_dtype */
    const ga_json_value *shape;   /* JSON array of uint64 dims; ndim = shape->count */
    uint64_t begin, end;          /* byte range relative to the data section */
} ga_st_tensor;

typedef struct {
    ga_json_doc doc;
    uint64_t header_len;          /* N */
    uint64_t data_start;          /* 8 + N: absolute offset of the data section */
    const ga_json_value *metadata;  /* "__metadata__" object of strings, or NULL */
    ga_st_tensor *tensors;        /* sorted by begin offset */
    size_t n_tensors;
} ga_st_file;

/* Parses and validates the file data[0..size).  On failure f is left empty
 * (safe to ga_st_free) and err says what is wrong. */
ga_status ga_st_parse(ga_st_file *f, const uint8_t *data, uint64_t size, ga_error *err);
void ga_st_free(ga_st_file *f);

/* Converters for the float types NumPy cannot widen itself (or not exactly).
 * src may be unaligned: it is read with memcpy. */
void ga_st_bf16_to_f32(float *dst, const uint8_t *src, size_t n);  /* src: (n,) bf16 LE */
void ga_st_f16_to_f32(float *dst, const uint8_t *src, size_t n);   /* src: (n,) f16 LE */

#endif
