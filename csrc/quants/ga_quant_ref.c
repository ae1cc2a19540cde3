/* ga_quant_ref.c - round-to-nearest quantizers of the float and legacy 32-block
 * formats (F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1).
 *
 * Each follows ggml's quantize_row_*_ref step for step (same extreme picked,
 * same float expressions, same truncation), so the bytes equal ggml's and
 * gguf-py's.  Q8_0 lives in ga_quants_q8.c.  Blocks are built in a local
 * struct and copied out because dst may be unaligned.
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include "ga_blocks.h"
#include "ga_half.h"
#include "ga_quants_impl.h"

#define STORE_BLOCK(dst, i, b) memcpy((uint8_t *)(dst) + (size_t)(i) * sizeof(b), &(b), sizeof(b))

/* ggml converts with MIN(hi, (int8_t)v) where v >= 0 by construction; this is
 * the same truncation without undefined behaviour for NaN or out-of-range v. */
static inline int trunc_clamp(float v, int hi) {
    if (!(v > 0.0f)) return 0;
    if (v >= (float)hi) return hi;
    return (int)v;
}

/* The element of largest magnitude, keeping its sign (first one on ties). */
static inline float signed_absmax(const float *x, int n) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < n; j++) {
        if (amax < fabsf(x[j])) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    }
    return max;
}

static inline void min_max(const float *x, int n, float *min, float *max) {
    *min = FLT_MAX;
    *max = -FLT_MAX;
    for (int j = 0; j < n; j++) {
        if (x[j] < *min) *min = x[j];
        if (x[j] > *max) *max = x[j];
    }
}

void ga_quant_f32_ref(const float *src, void *dst, int64_t n) {
    memcpy(dst, src, (size_t)n * sizeof(float));
}

void ga_quant_f16_ref(const float *src, void *dst, int64_t n) {
    uint8_t *p = dst;
    for (int64_t i = 0; i < n; i++) {
        const uint16_t h = ga_fp32_to_fp16(src[i]);
        memcpy(p + 2 * i, &h, 2);
    }
}

void ga_quant_bf16_ref(const float *src, void *dst, int64_t n) {
    uint8_t *p = dst;
    for (int64_t i = 0; i < n; i++) {
        const uint16_t h = ga_fp32_to_bf16(src[i]);
        memcpy(p + 2 * i, &h, 2);
    }
}

/* Symmetric 4-bit: d = max/-8 maps the extreme to q = 0 exactly. */
void ga_quant_q4_0_ref(const float *src, void *dst, int64_t n) {
    for (int64_t i = 0; i < n / GA_QK; i++, src += GA_QK) {
        const float d = signed_absmax(src, GA_QK) / -8;
        const float id = d ? 1.0f / d : 0.0f;
        ga_block_q4_0 b;
        b.d = ga_fp32_to_fp16(d);
        for (int j = 0; j < GA_QK / 2; j++) {
            const int q0 = trunc_clamp(src[j] * id + 8.5f, 15);
            const int q1 = trunc_clamp(src[j + GA_QK / 2] * id + 8.5f, 15);
            b.qs[j] = (uint8_t)(q0 | (q1 << 4));
        }
        STORE_BLOCK(dst, i, b);
    }
}

/* Affine 4-bit: y = d*q + min over [min, max]. */
void ga_quant_q4_1_ref(const float *src, void *dst, int64_t n) {
    for (int64_t i = 0; i < n / GA_QK; i++, src += GA_QK) {
        float min, max;
        min_max(src, GA_QK, &min, &max);
        const float d = (max - min) / 15;
        const float id = d ? 1.0f / d : 0.0f;
        ga_block_q4_1 b;
        b.d = ga_fp32_to_fp16(d);
        b.m = ga_fp32_to_fp16(min);
        for (int j = 0; j < GA_QK / 2; j++) {
            const int q0 = trunc_clamp((src[j] - min) * id + 0.5f, 15);
            const int q1 = trunc_clamp((src[j + GA_QK / 2] - min) * id + 0.5f, 15);
            b.qs[j] = (uint8_t)(q0 | (q1 << 4));
        }
        STORE_BLOCK(dst, i, b);
    }
}

/* Packs 32 five-bit values: low nibbles into qs as Q4 does, fifth bits into qh. */
static inline void pack_q5(const int q[GA_QK], uint8_t qs[GA_QK / 2], uint8_t qh_bytes[4]) {
    uint32_t qh = 0;
    for (int j = 0; j < GA_QK / 2; j++) {
        qs[j] = (uint8_t)((q[j] & 0xF) | ((q[j + GA_QK / 2] & 0xF) << 4));
        qh |= (uint32_t)((q[j] >> 4) & 1) << j;
        qh |= (uint32_t)((q[j + GA_QK / 2] >> 4) & 1) << (j + GA_QK / 2);
    }
    memcpy(qh_bytes, &qh, 4);
}

void ga_quant_q5_0_ref(const float *src, void *dst, int64_t n) {
    for (int64_t i = 0; i < n / GA_QK; i++, src += GA_QK) {
        const float d = signed_absmax(src, GA_QK) / -16;
        const float id = d ? 1.0f / d : 0.0f;
        int q[GA_QK];
        for (int j = 0; j < GA_QK; j++) q[j] = trunc_clamp(src[j] * id + 16.5f, 31);
        ga_block_q5_0 b;
        b.d = ga_fp32_to_fp16(d);
        pack_q5(q, b.qs, b.qh);
        STORE_BLOCK(dst, i, b);
    }
}

void ga_quant_q5_1_ref(const float *src, void *dst, int64_t n) {
    for (int64_t i = 0; i < n / GA_QK; i++, src += GA_QK) {
        float min, max;
        min_max(src, GA_QK, &min, &max);
        const float d = (max - min) / 31;
        const float id = d ? 1.0f / d : 0.0f;
        int q[GA_QK];
        for (int j = 0; j < GA_QK; j++) q[j] = trunc_clamp((src[j] - min) * id + 0.5f, 31);
        ga_block_q5_1 b;
        b.d = ga_fp32_to_fp16(d);
        b.m = ga_fp32_to_fp16(min);
        pack_q5(q, b.qs, b.qh);
        STORE_BLOCK(dst, i, b);
    }
}
