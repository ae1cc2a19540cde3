/* ga_quants.c - the block-format dispatcher: which converter serves which type.
 *
 * One table row per type id: the portable dequantizer (the definition), its
 * AVX2 twin where one exists, and the round-to-nearest quantizer.  Types with
 * no AVX2 twin (F32, Q4_1, Q5_1, Q2_K, Q3_K, Q5_K, Q8_K) use the portable
 * dequantizer under both kernel sets: Gemma files hold few or none of them.
 * Quantizers are portable only.  Types absent from the table (IQ*, TQ*,
 * MXFP4, integer types) are known to ga_types.c but not converted here.
 */
#include <stdint.h>
#include <string.h>

#include "ga_blocks.h"
#include "ga_cpu.h"
#include "ga_quants.h"
#include "ga_quants_impl.h"
#include "ga_types.h"

#if defined(__x86_64__) || defined(__i386__)
#define AVX2_TWIN(f) f
#else
#define AVX2_TWIN(f) NULL
#endif

/* Q8_0 and Q8_K come from ga_quants_q8.c, whose reference functions write
 * through block pointers; dst may be unaligned (Q8_K starts with a float), so
 * each block is built in a local and copied out.  The _ref versions are used,
 * not the activation-path dispatchers, so files are byte-identical whatever
 * the kernel set. */
static void quant_q8_0(const float *src, void *dst, int64_t n) {
    for (int64_t i = 0; i < n / GA_QK; i++) {
        ga_block_q8_0 b;
        ga_quantize_row_q8_0_ref(src + i * GA_QK, &b, GA_QK);
        memcpy((uint8_t *)dst + (size_t)i * sizeof b, &b, sizeof b);
    }
}

static void quant_q8_K(const float *src, void *dst, int64_t n) {
    for (int64_t i = 0; i < n / GA_QK_K; i++) {
        ga_block_q8_K b;
        ga_quantize_row_q8_K_ref(src + i * GA_QK_K, &b, GA_QK_K);
        memcpy((uint8_t *)dst + (size_t)i * sizeof b, &b, sizeof b);
    }
}

typedef struct {
    ga_dequant_fn dequant;      /* portable; NULL: cannot decode */
    ga_dequant_fn dequant_avx2; /* NULL: the portable one serves AVX2 too */
    ga_quant_fn quant;          /* NULL: cannot encode */
} converters;

static const converters CONVERTERS[GA_TYPE_COUNT] = {
    [GA_TYPE_F32] = {ga_dequant_f32_ref, NULL, ga_quant_f32_ref},
    [GA_TYPE_F16] = {ga_dequant_f16_ref, AVX2_TWIN(ga_dequant_f16_avx2), ga_quant_f16_ref},
    [GA_TYPE_BF16] = {ga_dequant_bf16_ref, AVX2_TWIN(ga_dequant_bf16_avx2), ga_quant_bf16_ref},
    [GA_TYPE_Q4_0] = {ga_dequant_q4_0_ref, AVX2_TWIN(ga_dequant_q4_0_avx2), ga_quant_q4_0_ref},
    [GA_TYPE_Q4_1] = {ga_dequant_q4_1_ref, NULL, ga_quant_q4_1_ref},
    [GA_TYPE_Q5_0] = {ga_dequant_q5_0_ref, AVX2_TWIN(ga_dequant_q5_0_avx2), ga_quant_q5_0_ref},
    [GA_TYPE_Q5_1] = {ga_dequant_q5_1_ref, NULL, ga_quant_q5_1_ref},
    [GA_TYPE_Q8_0] = {ga_dequant_q8_0_ref, AVX2_TWIN(ga_dequant_q8_0_avx2), quant_q8_0},
    [GA_TYPE_Q2_K] = {ga_dequant_q2_K_ref, NULL, NULL},
    [GA_TYPE_Q3_K] = {ga_dequant_q3_K_ref, NULL, NULL},
    [GA_TYPE_Q4_K] = {ga_dequant_q4_K_ref, AVX2_TWIN(ga_dequant_q4_K_avx2), ga_quant_q4_K_ref},
    [GA_TYPE_Q5_K] = {ga_dequant_q5_K_ref, NULL, ga_quant_q5_K_ref},
    [GA_TYPE_Q6_K] = {ga_dequant_q6_K_ref, AVX2_TWIN(ga_dequant_q6_K_avx2), ga_quant_q6_K_ref},
    [GA_TYPE_Q8_K] = {ga_dequant_q8_K_ref, NULL, quant_q8_K},
};

static const converters *converters_of(int type) {
    return type >= 0 && type < GA_TYPE_COUNT ? &CONVERTERS[type] : NULL;
}

int ga_can_dequantize(int type) {
    const converters *c = converters_of(type);
    return c && c->dequant;
}

int ga_can_quantize(int type) {
    const converters *c = converters_of(type);
    return c && c->quant;
}

typedef enum { DEQUANTIZE, QUANTIZE } direction;

/* Validates type and n (>= 0, whole blocks, byte size representable) and that
 * the type converts in that direction. */
static ga_status check_row(int type, int64_t n, direction dir, ga_error *err) {
    const ga_type_info *t = ga_type_get(type);
    if (!t) return ga_fail(err, GA_ERR_ARG, "unknown tensor type id %d", type);
    if (n < 0) return ga_fail(err, GA_ERR_ARG, "negative element count %lld", (long long)n);
    if (n % t->block_size)
        return ga_fail(err, GA_ERR_ARG, "%lld elements is not a multiple of %s's block size %lld",
                       (long long)n, t->name, (long long)t->block_size);
    uint64_t nbytes;
    if (ga_mul_overflow((uint64_t)(n / t->block_size), t->type_size, &nbytes) || nbytes > SIZE_MAX)
        return ga_fail(err, GA_ERR_ARG, "byte size of %lld %s elements overflows", (long long)n, t->name);
    const converters *c = converters_of(type);
    if (dir == DEQUANTIZE ? !c->dequant : !c->quant)
        return ga_fail(err, GA_ERR_UNSUPPORTED, "cannot %s type %s (not supported)",
                       dir == DEQUANTIZE ? "dequantize" : "quantize", t->name);
    return GA_OK;
}

ga_status ga_dequantize(int type, const void *src, float *dst, int64_t n, ga_error *err) {
    ga_status st = check_row(type, n, DEQUANTIZE, err);
    if (st != GA_OK) return st;
    if (n == 0) return GA_OK;
    if (!src || !dst) return ga_fail(err, GA_ERR_ARG, "NULL buffer");
    const converters *c = &CONVERTERS[type];
    if (c->dequant_avx2 && ga_kernels_avx2())
        c->dequant_avx2(src, dst, n);
    else
        c->dequant(src, dst, n);
    return GA_OK;
}

ga_status ga_quantize(int type, const float *src, void *dst, int64_t n, ga_error *err) {
    ga_status st = check_row(type, n, QUANTIZE, err);
    if (st != GA_OK) return st;
    if (n == 0) return GA_OK;
    if (!src || !dst) return ga_fail(err, GA_ERR_ARG, "NULL buffer");
    CONVERTERS[type].quant(src, dst, n);
    return GA_OK;
}
