/* ga_types.h - the ggml tensor type table (ids, names, block geometry).
 *
 * Ids are GGUF's ggml_type values and are append-only: a file's type id is
 * looked up here before anything else touches the data.  Types we know the
 * geometry of but cannot decode (IQ*, TQ*, MXFP4 ...) still appear, so a
 * reader can size and skip them and report "unsupported" only when asked to
 * decode one.
 */
#ifndef GA_TYPES_H
#define GA_TYPES_H

#include <stdint.h>
#include <stddef.h>

#include "ga_common.h"

typedef enum {
    GA_TYPE_F32 = 0,
    GA_TYPE_F16 = 1,
    GA_TYPE_Q4_0 = 2,
    GA_TYPE_Q4_1 = 3,
    /* 4, 5: removed Q4_2, Q4_3 */
    GA_TYPE_Q5_0 = 6,
    GA_TYPE_Q5_1 = 7,
    GA_TYPE_Q8_0 = 8,
    GA_TYPE_Q8_1 = 9,
    GA_TYPE_Q2_K = 10,
    GA_TYPE_Q3_K = 11,
    GA_TYPE_Q4_K = 12,
    GA_TYPE_Q5_K = 13,
    GA_TYPE_Q6_K = 14,
    GA_TYPE_Q8_K = 15,
    GA_TYPE_IQ2_XXS = 16,
    GA_TYPE_IQ2_XS = 17,
    GA_TYPE_IQ3_XXS = 18,
    GA_TYPE_IQ1_S = 19,
    GA_TYPE_IQ4_NL = 20,
    GA_TYPE_IQ3_S = 21,
    GA_TYPE_IQ2_S = 22,
    GA_TYPE_IQ4_XS = 23,
    GA_TYPE_I8 = 24,
    GA_TYPE_I16 = 25,
    GA_TYPE_I32 = 26,
    GA_TYPE_I64 = 27,
    GA_TYPE_F64 = 28,
    GA_TYPE_IQ1_M = 29,
    GA_TYPE_BF16 = 30,
    /* 31-33 removed */
    GA_TYPE_TQ1_0 = 34,
    GA_TYPE_TQ2_0 = 35,
    /* 36-38 removed */
    GA_TYPE_MXFP4 = 39,
    GA_TYPE_COUNT = 40
} ga_type;

typedef struct {
    const char *name;    /* "Q4_K"; NULL for ids that are not types */
    int64_t block_size;  /* elements per block */
    size_t type_size;    /* bytes per block */
} ga_type_info;

/* NULL when id is outside the table or names no type. */
const ga_type_info *ga_type_get(int64_t id);
/* -1 when no type has that name (case-insensitive). */
int ga_type_from_name(const char *name);

/* Bytes of n_elements of type, with n_elements a multiple of the block size.
 * Returns GA_ERR_FORMAT on an unknown type, indivisible count or overflow. */
ga_status ga_type_nbytes(int type, uint64_t n_elements, uint64_t *out, ga_error *err);

#endif
