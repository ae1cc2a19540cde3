/* ga_matvec.c - y = W x on block-format weights: activation format per weight type,
 * the row loop, and the choice between the portable and the AVX2 dot products. */
#include <stdlib.h>
#include <string.h>

#include "ga_act16.h"
#include "ga_blocks.h"
#include "ga_cpu.h"
#include "ga_matvec.h"
#include "ga_quants.h"
#include "ga_types.h"
#include "ga_vecdot.h"
#include "ga_x8.h"

int ga_matvec_act_type(int wtype) {
    switch (wtype) {
    case GA_TYPE_Q4_0: case GA_TYPE_Q4_1: case GA_TYPE_Q5_0: case GA_TYPE_Q5_1: case GA_TYPE_Q8_0:
        return GA_TYPE_Q8_0;
    case GA_TYPE_Q2_K: case GA_TYPE_Q3_K: case GA_TYPE_Q4_K: case GA_TYPE_Q5_K: case GA_TYPE_Q6_K:
        return GA_TYPE_Q8_K;
    case GA_TYPE_F32: case GA_TYPE_F16: case GA_TYPE_BF16:
        return GA_TYPE_F32;
    default:
        return -1;
    }
}

size_t ga_matvec_act_size(int wtype, int64_t n) {
    const int at = ga_matvec_act_type(wtype);
    if (at < 0 || n < 0) return 0;
    const ga_type_info *t = ga_type_get(at);
    return (size_t)(n / t->block_size) * t->type_size;
}

static size_t round64(size_t v) { return (v + 63) & ~(size_t)63; }

size_t ga_matvec_act_res_size(int wtype, int64_t n) {
    const size_t lo = ga_matvec_act_size(wtype, n);
    if (ga_matvec_act_type(wtype) == GA_TYPE_F32) return lo;
    return round64(lo) + (size_t)n * sizeof(int16_t);
}

/* the int16 codes inside an act_res buffer of an integer family */
static const int16_t *act_res_codes(int wtype, int64_t n, const void *act_res) {
    return (const int16_t *)((const uint8_t *)act_res + round64(ga_matvec_act_size(wtype, n)));
}

/* The dot product for wtype in the current kernel set; NULL if unsupported. */
static ga_vec_dot_fn vec_dot_for(int wtype) {
#if defined(__x86_64__) || defined(__i386__)
    if (ga_kernels_avx2()) {
        switch (wtype) {
        case GA_TYPE_Q4_0: return ga_vec_dot_q4_0_q8_0_avx2;
        case GA_TYPE_Q4_1: return ga_vec_dot_q4_1_q8_0_avx2;
        case GA_TYPE_Q5_0: return ga_vec_dot_q5_0_q8_0_avx2;
        case GA_TYPE_Q5_1: return ga_vec_dot_q5_1_q8_0_avx2;
        case GA_TYPE_Q8_0: return ga_vec_dot_q8_0_q8_0_avx2;
        case GA_TYPE_Q2_K: return ga_vec_dot_q2_K_q8_K_ref; /* no AVX2 twin yet */
        case GA_TYPE_Q3_K: return ga_vec_dot_q3_K_q8_K_ref; /* no AVX2 twin yet */
        case GA_TYPE_Q4_K: return ga_vec_dot_q4_K_q8_K_avx2;
        case GA_TYPE_Q5_K: return ga_vec_dot_q5_K_q8_K_avx2;
        case GA_TYPE_Q6_K: return ga_vec_dot_q6_K_q8_K_avx2;
        case GA_TYPE_F32: return ga_vec_dot_f32_f32_avx2;
        case GA_TYPE_F16: return ga_vec_dot_f16_f32_avx2;
        case GA_TYPE_BF16: return ga_vec_dot_bf16_f32_avx2;
        default: return NULL;
        }
    }
#endif
    switch (wtype) {
    case GA_TYPE_Q4_0: return ga_vec_dot_q4_0_q8_0_ref;
    case GA_TYPE_Q4_1: return ga_vec_dot_q4_1_q8_0_ref;
    case GA_TYPE_Q5_0: return ga_vec_dot_q5_0_q8_0_ref;
    case GA_TYPE_Q5_1: return ga_vec_dot_q5_1_q8_0_ref;
    case GA_TYPE_Q8_0: return ga_vec_dot_q8_0_q8_0_ref;
    case GA_TYPE_Q2_K: return ga_vec_dot_q2_K_q8_K_ref;
    case GA_TYPE_Q3_K: return ga_vec_dot_q3_K_q8_K_ref;
    case GA_TYPE_Q4_K: return ga_vec_dot_q4_K_q8_K_ref;
    case GA_TYPE_Q5_K: return ga_vec_dot_q5_K_q8_K_ref;
    case GA_TYPE_Q6_K: return ga_vec_dot_q6_K_q8_K_ref;
    case GA_TYPE_F32: return ga_vec_dot_f32_f32_ref;
    case GA_TYPE_F16: return ga_vec_dot_f16_f32_ref;
    case GA_TYPE_BF16: return ga_vec_dot_bf16_f32_ref;
    default: return NULL;
    }
}

/* The fused dual dot product for wtype, NULL where there is none (two single dots then). */
static ga_vec_dot2_fn vec_dot2_for(int wtype) {
#if defined(__x86_64__) || defined(__i386__)
    if (ga_kernels_avx2()) {
        switch (wtype) {
        case GA_TYPE_Q4_0: return ga_vec_dot2_q4_0_q8_0_avx2;
        case GA_TYPE_Q5_0: return ga_vec_dot2_q5_0_q8_0_avx2;
        case GA_TYPE_Q8_0: return ga_vec_dot2_q8_0_q8_0_avx2;
        case GA_TYPE_Q4_K: return ga_vec_dot2_q4_K_q8_K_avx2;
        case GA_TYPE_Q6_K: return ga_vec_dot2_q6_K_q8_K_avx2;
        default: return NULL;
        }
    }
#endif
    switch (wtype) {
    case GA_TYPE_Q4_0: return ga_vec_dot2_q4_0_q8_0_ref;
    case GA_TYPE_Q5_0: return ga_vec_dot2_q5_0_q8_0_ref;
    case GA_TYPE_Q8_0: return ga_vec_dot2_q8_0_q8_0_ref;
    case GA_TYPE_Q4_K: return ga_vec_dot2_q4_K_q8_K_ref;
    case GA_TYPE_Q6_K: return ga_vec_dot2_q6_K_q8_K_ref;
    default: return NULL;
    }
}

/* The 16-bit-code dot product for wtype, NULL where the kernel set has none. */
static ga_vec_dot16_fn vec_dot16_for(int wtype) {
#if defined(__x86_64__) || defined(__i386__)
    if (ga_kernels_avx512()) {
        switch (wtype) {
        case GA_TYPE_Q4_0: return ga_vec_dot16_q4_0_avx512;
        case GA_TYPE_Q5_0: return ga_vec_dot16_q5_0_avx512;
        case GA_TYPE_Q8_0: return ga_vec_dot16_q8_0_avx512;
        case GA_TYPE_Q4_K: return ga_vec_dot16_q4_K_avx512;
        case GA_TYPE_Q6_K: return ga_vec_dot16_q6_K_avx512;
        default: return NULL;
        }
    }
#endif
    (void)wtype;
    return NULL;
}

/* Checks shared by the entry points: supported type, n a positive multiple of the block. */
static ga_status check_type_and_n(int wtype, int64_t n, ga_error *err) {
    const ga_type_info *t = ga_type_get(wtype);
    if (!t || ga_matvec_act_type(wtype) < 0)
        return ga_fail(err, GA_ERR_UNSUPPORTED, "matvec does not support weight type %s (id %d)",
                       t ? t->name : "?", wtype);
    if (n <= 0 || n % t->block_size)
        return ga_fail(err, GA_ERR_ARG, "row length %lld is not a positive multiple of %s's block size %lld",
                       (long long)n, t->name, (long long)t->block_size);
    return GA_OK;
}

ga_status ga_matvec_quantize_act(int wtype, const float *x, void *act, int64_t n, ga_error *err) {
    ga_status st = check_type_and_n(wtype, n, err);
    if (st != GA_OK) return st;
    if ((uintptr_t)act % 4)
        return ga_fail(err, GA_ERR_ARG, "activation buffer must be 4-byte aligned");
    switch (ga_matvec_act_type(wtype)) {
    case GA_TYPE_Q8_0: ga_quantize_row_q8_0(x, act, n); break;
    case GA_TYPE_Q8_K: ga_quantize_row_q8_K(x, act, n); break;
    default: memcpy(act, x, (size_t)n * sizeof(float)); break;
    }
    return GA_OK;
}

ga_status ga_matvec_rows(int wtype, const void *w, int64_t n, const void *act, float *y,
                         int64_t r0, int64_t r1, ga_error *err) {
    ga_status st = check_type_and_n(wtype, n, err);
    if (st != GA_OK) return st;
    if ((uintptr_t)act % 4)
        return ga_fail(err, GA_ERR_ARG, "activation buffer must be 4-byte aligned");
    if (r0 < 0 || r1 < r0)
        return ga_fail(err, GA_ERR_ARG, "bad row range [%lld, %lld)", (long long)r0, (long long)r1);
    const ga_type_info *t = ga_type_get(wtype);
    const size_t row_bytes = (size_t)(n / t->block_size) * t->type_size;
    const ga_vec_dot_fn dot = vec_dot_for(wtype);
    const uint8_t *row = (const uint8_t *)w + (size_t)r0 * row_bytes;
    for (int64_t r = r0; r < r1; r++, row += row_bytes) y[r] = dot(n, row, act);
    return GA_OK;
}

ga_status ga_matvec_quantize_act2(int wtype, const float *x, void *act, void *act_res, int64_t n,
                                  ga_error *err) {
    if (!act_res) return ga_matvec_quantize_act(wtype, x, act, n, err);
    ga_status st = check_type_and_n(wtype, n, err);
    if (st != GA_OK) return st;
    if ((uintptr_t)act % 4 || (uintptr_t)act_res % 4)
        return ga_fail(err, GA_ERR_ARG, "activation buffers must be 4-byte aligned");
    const int at = ga_matvec_act_type(wtype);
    if (at == GA_TYPE_F32) {
        memcpy(act, x, (size_t)n * sizeof(float));
        memset(act_res, 0, (size_t)n * sizeof(float));
        return GA_OK;
    }
    /* 16-bit codes as 256 * hi + lo: two int8 arrays in the family's own format */
    int16_t *q16 = (int16_t *)act_res_codes(wtype, n, act_res);
    ga_act16_split(at, x, act, act_res, q16, n);
    return GA_OK;
}

ga_status ga_matvec_rows2(int wtype, const void *w, int64_t n, const void *act, const void *act_res,
                          float *y, int64_t r0, int64_t r1, int fused, ga_error *err) {
    ga_status st = check_type_and_n(wtype, n, err);
    if (st != GA_OK) return st;
    if ((uintptr_t)act % 4 || (uintptr_t)act_res % 4)
        return ga_fail(err, GA_ERR_ARG, "activation buffers must be 4-byte aligned");
    if (r0 < 0 || r1 < r0)
        return ga_fail(err, GA_ERR_ARG, "bad row range [%lld, %lld)", (long long)r0, (long long)r1);
    const ga_type_info *t = ga_type_get(wtype);
    const size_t row_bytes = (size_t)(n / t->block_size) * t->type_size;
    const ga_vec_dot16_fn dot16 = fused ? vec_dot16_for(wtype) : NULL;
    const ga_vec_dot2_fn dot2 = fused ? vec_dot2_for(wtype) : NULL;
    const ga_vec_dot_fn dot = vec_dot_for(wtype);
    const uint8_t *row = (const uint8_t *)w + (size_t)r0 * row_bytes;
    if (dot16) {
        const int16_t *q16 = act_res_codes(wtype, n, act_res);
        for (int64_t r = r0; r < r1; r++, row += row_bytes) y[r] = dot16(n, row, act, act_res, q16);
    } else if (dot2) {
        for (int64_t r = r0; r < r1; r++, row += row_bytes) y[r] = dot2(n, row, act, act_res);
    } else {
        for (int64_t r = r0; r < r1; r++, row += row_bytes) y[r] = dot(n, row, act) + dot(n, row, act_res);
    }
    return GA_OK;
}

/* the row groups of [r0, r1) when the interleaved kernel can run them: 1, else 0 */
static int packed_groups(int wtype, const void *packed, int64_t n, int64_t r0, int64_t r1, int64_t *g0,
                         int64_t *g1) {
#if defined(__x86_64__) || defined(__i386__)
    *g0 = (r0 + GA_X8_ROWS - 1) / GA_X8_ROWS;
    *g1 = r1 / GA_X8_ROWS;
    return packed && ga_kernels_avx512() && ga_x8_block_bytes(wtype) && r0 >= 0 && *g0 < *g1 &&
           n <= GA_X8_MAX_COLS;
#else
    (void)wtype; (void)packed; (void)n; (void)r0; (void)r1; (void)g0; (void)g1;
    return 0;
#endif
}

/* the row kernels: act_bits=16 (act_res given) or act_bits=8 */
static ga_status rows_of(int wtype, const void *w, int64_t n, const void *act, const void *act_res, float *y,
                         int64_t r0, int64_t r1, int fused, ga_error *err) {
    return act_res ? ga_matvec_rows2(wtype, w, n, act, act_res, y, r0, r1, fused, err)
                   : ga_matvec_rows(wtype, w, n, act, y, r0, r1, err);
}

/* whole row groups on the interleaved copy, the rows before and after them on the row kernels */
static ga_status rows_on_packed(int wtype, const void *w, const void *packed, int64_t n, const void *act,
                                const void *act_res, float *y, int64_t r0, int64_t r1, int fused, ga_error *err) {
    int64_t g0, g1;
    ga_status st = check_type_and_n(wtype, n, err);
    if (st != GA_OK) return st;
    if ((act_res && !fused) || !packed_groups(wtype, packed, n, r0, r1, &g0, &g1) || (uintptr_t)act % 4 ||
        (uintptr_t)act_res % 4)
        return rows_of(wtype, w, n, act, act_res, y, r0, r1, fused, err);
    const int64_t R = GA_X8_ROWS;
    if (r0 < g0 * R) st = rows_of(wtype, w, n, act, act_res, y, r0, g0 * R, fused, err);
    if (st == GA_OK && g1 * R < r1) st = rows_of(wtype, w, n, act, act_res, y, g1 * R, r1, fused, err);
#if defined(__x86_64__) || defined(__i386__)
    if (st == GA_OK && act_res)
        ga_x8_rows16_avx512(wtype, packed, n, act, act_res, act_res_codes(wtype, n, act_res), y, g0, g1);
    else if (st == GA_OK)
        ga_x8_rows8_avx512(wtype, packed, n, act, y, g0, g1);
#endif
    return st;
}

ga_status ga_matvec_rows_packed(int wtype, const void *w, const void *packed, int64_t n, const void *act, float *y,
                                int64_t r0, int64_t r1, ga_error *err) {
    return rows_on_packed(wtype, w, packed, n, act, NULL, y, r0, r1, 1, err);
}

ga_status ga_matvec_rows2_packed(int wtype, const void *w, const void *packed, int64_t n, const void *act,
                                 const void *act_res, float *y, int64_t r0, int64_t r1, int fused,
                                 ga_error *err) {
    return rows_on_packed(wtype, w, packed, n, act, act_res, y, r0, r1, fused, err);
}

ga_status ga_matvec(int wtype, const void *w, int64_t rows, int64_t n, const float *x, float *y,
                    ga_error *err) {
    ga_status st = check_type_and_n(wtype, n, err);
    if (st != GA_OK) return st;
    void *act = malloc(ga_matvec_act_size(wtype, n));
    if (!act) return ga_fail(err, GA_ERR_NOMEM, "no memory for a %lld-element activation", (long long)n);
    st = ga_matvec_quantize_act(wtype, x, act, n, err);
    if (st == GA_OK) st = ga_matvec_rows(wtype, w, n, act, y, 0, rows, err);
    free(act);
    return st;
}
