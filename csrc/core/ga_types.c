/* ga_types.c - the type table.  Sizes agree with gguf.constants.GGML_QUANT_SIZES
 * except Q8_1: ggml's block_q8_1 is 36 bytes (two halves + 32 int8) where
 * gguf-py lists 40.  Q8_1 is an activation format and never stored in files. */
#include <strings.h>

#include "ga_types.h"

static const ga_type_info TYPES[GA_TYPE_COUNT] = {
    [GA_TYPE_F32] = {"F32", 1, 4},
    [GA_TYPE_F16] = {"F16", 1, 2},
    [GA_TYPE_Q4_0] = {"Q4_0", 32, 18},
    [GA_TYPE_Q4_1] = {"Q4_1", 32, 20},
    [GA_TYPE_Q5_0] = {"Q5_0", 32, 22},
    [GA_TYPE_Q5_1] = {"Q5_1", 32, 24},
    [GA_TYPE_Q8_0] = {"Q8_0", 32, 34},
    [GA_TYPE_Q8_1] = {"Q8_1", 32, 36},
    [GA_TYPE_Q2_K] = {"Q2_K", 256, 84},
    [GA_TYPE_Q3_K] = {"Q3_K", 256, 110},
    [GA_TYPE_Q4_K] = {"Q4_K", 256, 144},
    [GA_TYPE_Q5_K] = {"Q5_K", 256, 176},
    [GA_TYPE_Q6_K] = {"Q6_K", 256, 210},
    [GA_TYPE_Q8_K] = {"Q8_K", 256, 292},
    [GA_TYPE_IQ2_XXS] = {"IQ2_XXS", 256, 66},
    [GA_TYPE_IQ2_XS] = {"IQ2_XS", 256, 74},
    [GA_TYPE_IQ3_XXS] = {"IQ3_XXS", 256, 98},
    [GA_TYPE_IQ1_S] = {"IQ1_S", 256, 50},
    [GA_TYPE_IQ4_NL] = {"IQ4_NL", 32, 18},
    [GA_TYPE_IQ3_S] = {"IQ3_S", 256, 110},
    [GA_TYPE_IQ2_S] = {"IQ2_S", 256, 82},
    [GA_TYPE_IQ4_XS] = {"IQ4_XS", 256, 136},
    [GA_TYPE_I8] = {"I8", 1, 1},
    [GA_TYPE_I16] = {"I16", 1, 2},
    [GA_TYPE_I32] = {"I32", 1, 4},
    [GA_TYPE_I64] = {"I64", 1, 8},
    [GA_TYPE_F64] = {"F64", 1, 8},
    [GA_TYPE_IQ1_M] = {"IQ1_M", 256, 56},
    [GA_TYPE_BF16] = {"BF16", 1, 2},
    [GA_TYPE_TQ1_0] = {"TQ1_0", 256, 54},
    [GA_TYPE_TQ2_0] = {"TQ2_0", 256, 66},
    [GA_TYPE_MXFP4] = {"MXFP4", 32, 17},
};

const ga_type_info *ga_type_get(int64_t id) {
    if (id < 0 || id >= GA_TYPE_COUNT || TYPES[id].name == NULL) return NULL;
    return &TYPES[id];
}

int ga_type_from_name(const char *name) {
    for (int i = 0; i < GA_TYPE_COUNT; i++)
        if (TYPES[i].name && strcasecmp(TYPES[i].name, name) == 0) return i;
    return -1;
}

ga_status ga_type_nbytes(int type, uint64_t n_elements, uint64_t *out, ga_error *err) {
    const ga_type_info *t = ga_type_get(type);
    if (!t) return ga_fail(err, GA_ERR_FORMAT, "unknown tensor type id %d", type);
    if (n_elements % (uint64_t)t->block_size)
        return ga_fail(err, GA_ERR_FORMAT, "%llu elements is not a multiple of %s's block size %lld",
                       (unsigned long long)n_elements, t->name, (long long)t->block_size);
    if (ga_mul_overflow(n_elements / (uint64_t)t->block_size, t->type_size, out))
        return ga_fail(err, GA_ERR_FORMAT, "byte size of %llu %s elements overflows",
                       (unsigned long long)n_elements, t->name);
    return GA_OK;
}
