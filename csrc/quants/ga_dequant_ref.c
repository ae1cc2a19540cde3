/* ga_dequant_ref.c - portable dequantization of every block format we decode.
 *
 * These loops are the definition: the float operations are written in the
 * same order as ggml's dequantize_row_* (e.g. (d*sc)*q - dmin*m), so results
 * are bit-identical to ggml and to gguf-py's NumPy code.  Each block is copied
 * into a local struct first because the source may be unaligned.
 */
#include <string.h>

#include "ga_blocks.h"
#include "ga_half.h"
#include "ga_quants_impl.h"

#define LOAD_BLOCK(b, src, i) memcpy(&(b), (const uint8_t *)(src) + (size_t)(i) * sizeof(b), sizeof(b))

void ga_dequant_f32_ref(const void *src, float *dst, int64_t n) {
    memcpy(dst, src, (size_t)n * sizeof(float));
}

void ga_dequant_f16_ref(const void *src, float *dst, int64_t n) {
    const uint8_t *p = src;
    for (int64_t i = 0; i < n; i++) dst[i] = ga_fp16_to_fp32(ga_load_u16(p + 2 * i));
}

void ga_dequant_bf16_ref(const void *src, float *dst, int64_t n) {
    const uint8_t *p = src;
    for (int64_t i = 0; i < n; i++) dst[i] = ga_bf16_to_fp32(ga_load_u16(p + 2 * i));
}

/* Legacy formats: element j < 16 is the low nibble of qs[j], element j + 16
 * its high nibble. */
void ga_dequant_q4_0_ref(const void *src, float *dst, int64_t n) {
    for (int64_t i = 0; i < n / GA_QK; i++, dst += GA_QK) {
        ga_block_q4_0 b;
        LOAD_BLOCK(b, src, i);
        const float d = ga_fp16_to_fp32(b.d);
        for (int j = 0; j < GA_QK / 2; j++) {
            dst[j] = (float)((b.qs[j] & 0xF) - 8) * d;
            dst[j + GA_QK / 2] = (float)((b.qs[j] >> 4) - 8) * d;
        }
    }
}

void ga_dequant_q4_1_ref(const void *src, float *dst, int64_t n) {
    for (int64_t i = 0; i < n / GA_QK; i++, dst += GA_QK) {
        ga_block_q4_1 b;
        LOAD_BLOCK(b, src, i);
        const float d = ga_fp16_to_fp32(b.d), m = ga_fp16_to_fp32(b.m);
        for (int j = 0; j < GA_QK / 2; j++) {
            dst[j] = (float)(b.qs[j] & 0xF) * d + m;
            dst[j + GA_QK / 2] = (float)(b.qs[j] >> 4) * d + m;
        }
    }
}

/* Q5: bit j of the little-endian qh word is the fifth bit of element j. */
void ga_dequant_q5_0_ref(const void *src, float *dst, int64_t n) {
    for (int64_t i = 0; i < n / GA_QK; i++, dst += GA_QK) {
        ga_block_q5_0 b;
        LOAD_BLOCK(b, src, i);
        const float d = ga_fp16_to_fp32(b.d);
        const uint32_t qh = ga_load_u32(b.qh);
        for (int j = 0; j < GA_QK / 2; j++) {
            const int lo = (int)((b.qs[j] & 0xF) | (((qh >> j) & 1) << 4));
            const int hi = (int)((b.qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4));
            dst[j] = (float)(lo - 16) * d;
            dst[j + GA_QK / 2] = (float)(hi - 16) * d;
        }
    }
}

void ga_dequant_q5_1_ref(const void *src, float *dst, int64_t n) {
    for (int64_t i = 0; i < n / GA_QK; i++, dst += GA_QK) {
        ga_block_q5_1 b;
        LOAD_BLOCK(b, src, i);
        const float d = ga_fp16_to_fp32(b.d), m = ga_fp16_to_fp32(b.m);
        const uint32_t qh = ga_load_u32(b.qh);
        for (int j = 0; j < GA_QK / 2; j++) {
            const int lo = (int)((b.qs[j] & 0xF) | (((qh >> j) & 1) << 4));
            const int hi = (int)((b.qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4));
            dst[j] = (float)lo * d + m;
            dst[j + GA_QK / 2] = (float)hi * d + m;
        }
    }
}

void ga_dequant_q8_0_ref(const void *src, float *dst, int64_t n) {
    for (int64_t i = 0; i < n / GA_QK; i++, dst += GA_QK) {
        ga_block_q8_0 b;
        LOAD_BLOCK(b, src, i);
        const float d = ga_fp16_to_fp32(b.d);
        for (int j = 0; j < GA_QK; j++) dst[j] = (float)b.qs[j] * d;
    }
}

/* Q2_K: element e = 128h + 32j + t takes 2 bits (shift 2j) of qs[32h + t]
 * and scale byte 8h + 2j + t/16 (low nibble scale, high nibble min). */
void ga_dequant_q2_K_ref(const void *src, float *dst, int64_t n) {
    for (int64_t i = 0; i < n / GA_QK_K; i++, dst += GA_QK_K) {
        ga_block_q2_K b;
        LOAD_BLOCK(b, src, i);
        const float d = ga_fp16_to_fp32(b.d), dmin = ga_fp16_to_fp32(b.dmin);
        for (int e = 0; e < GA_QK_K; e++) {
            const int h = e / 128, j = (e % 128) / 32, t = e % 32;
            const uint8_t s = b.scales[8 * h + 2 * j + t / 16];
            const float dl = d * (float)(s & 0xF), ml = dmin * (float)(s >> 4);
            const int q = (b.qs[32 * h + t] >> (2 * j)) & 3;
            dst[e] = dl * (float)q - ml;
        }
    }
}

/* Q3_K: 16 signed 6-bit scales (low 4 bits in bytes 0..7, high 2 bits in
 * bytes 8..11), 2 low bits as in Q2_K, and a high bit in hmask whose
 * absence subtracts 4. */
void ga_dequant_q3_K_ref(const void *src, float *dst, int64_t n) {
    for (int64_t i = 0; i < n / GA_QK_K; i++, dst += GA_QK_K) {
        ga_block_q3_K b;
        LOAD_BLOCK(b, src, i);
        const float d = ga_fp16_to_fp32(b.d);
        float dl[16];
        for (int s = 0; s < 16; s++) {
            const int low4 = s < 8 ? b.scales[s] & 0xF : b.scales[s - 8] >> 4;
            const int high2 = (b.scales[8 + s % 4] >> (2 * (s / 4))) & 3;
            dl[s] = d * (float)((low4 | (high2 << 4)) - 32);
        }
        for (int e = 0; e < GA_QK_K; e++) {
            const int h = e / 128, j = (e % 128) / 32, t = e % 32;
            const int q2 = (b.qs[32 * h + t] >> (2 * j)) & 3;
            const int high = (b.hmask[t] >> (4 * h + j)) & 1;
            dst[e] = dl[8 * h + 2 * j + t / 16] * (float)(q2 - (high ? 0 : 4));
        }
    }
}

/* Q4_K: four chunks of 64; chunk c's 32 bytes hold sub-block 2c in the low
 * nibbles and sub-block 2c+1 in the high nibbles. */
void ga_dequant_q4_K_ref(const void *src, float *dst, int64_t n) {
    for (int64_t i = 0; i < n / GA_QK_K; i++, dst += GA_QK_K) {
        ga_block_q4_K b;
        LOAD_BLOCK(b, src, i);
        const float d = ga_fp16_to_fp32(b.d), dmin = ga_fp16_to_fp32(b.dmin);
        for (int c = 0; c < 4; c++) {
            uint8_t sc, m;
            ga_k4_scale_min(2 * c, b.scales, &sc, &m);
            const float d1 = d * (float)sc, m1 = dmin * (float)m;
            ga_k4_scale_min(2 * c + 1, b.scales, &sc, &m);
            const float d2 = d * (float)sc, m2 = dmin * (float)m;
            const uint8_t *q = b.qs + 32 * c;
            float *y = dst + 64 * c;
            for (int l = 0; l < 32; l++) y[l] = d1 * (float)(q[l] & 0xF) - m1;
            for (int l = 0; l < 32; l++) y[32 + l] = d2 * (float)(q[l] >> 4) - m2;
        }
    }
}

/* Q5_K: Q4_K plus a fifth bit: bit 2c (low half) or 2c+1 (high half) of qh[l]. */
void ga_dequant_q5_K_ref(const void *src, float *dst, int64_t n) {
    for (int64_t i = 0; i < n / GA_QK_K; i++, dst += GA_QK_K) {
        ga_block_q5_K b;
        LOAD_BLOCK(b, src, i);
        const float d = ga_fp16_to_fp32(b.d), dmin = ga_fp16_to_fp32(b.dmin);
        for (int c = 0; c < 4; c++) {
            uint8_t sc, m;
            ga_k4_scale_min(2 * c, b.scales, &sc, &m);
            const float d1 = d * (float)sc, m1 = dmin * (float)m;
            ga_k4_scale_min(2 * c + 1, b.scales, &sc, &m);
            const float d2 = d * (float)sc, m2 = dmin * (float)m;
            const uint8_t *q = b.qs + 32 * c;
            float *y = dst + 64 * c;
            for (int l = 0; l < 32; l++) {
                const int lo = (q[l] & 0xF) | (((b.qh[l] >> (2 * c)) & 1) << 4);
                const int hi = (q[l] >> 4) | (((b.qh[l] >> (2 * c + 1)) & 1) << 4);
                y[l] = d1 * (float)lo - m1;
                y[32 + l] = d2 * (float)hi - m2;
            }
        }
    }
}

/* Q6_K: per half h (128 elements) and quarter g, low 4 bits from
 * ql[64h + l + 32(g&1)] (low nibble for g<2), high 2 bits from qh[32h + l]. */
void ga_dequant_q6_K_ref(const void *src, float *dst, int64_t n) {
    for (int64_t i = 0; i < n / GA_QK_K; i++, dst += GA_QK_K) {
        ga_block_q6_K b;
        LOAD_BLOCK(b, src, i);
        const float d = ga_fp16_to_fp32(b.d);
        for (int e = 0; e < GA_QK_K; e++) {
            const int h = e / 128, g = (e % 128) / 32, l = e % 32;
            const uint8_t qlb = b.ql[64 * h + l + 32 * (g & 1)];
            const int low = g < 2 ? qlb & 0xF : qlb >> 4;
            const int high = (b.qh[32 * h + l] >> (2 * g)) & 3;
            const float ds = d * (float)b.scales[8 * h + 2 * g + l / 16];
            dst[e] = ds * (float)((low | (high << 4)) - 32);
        }
    }
}

void ga_dequant_q8_K_ref(const void *src, float *dst, int64_t n) {
    for (int64_t i = 0; i < n / GA_QK_K; i++, dst += GA_QK_K) {
        ga_block_q8_K b;
        LOAD_BLOCK(b, src, i);
        for (int j = 0; j < GA_QK_K; j++) dst[j] = b.d * (float)b.qs[j];
    }
}
