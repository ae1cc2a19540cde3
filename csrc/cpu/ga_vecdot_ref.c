/* ga_vecdot_ref.c - portable row dot products (the definitions the AVX2 twins match).
 *
 * Legacy types (blocks of 32) x Q8_0: sumi = exact integer dot of the codes,
 * then sumf += sumi * (d_w * d_x) [+ m_w * d_x * sum(x codes) for the _1 types].
 * K types (super-blocks of 256) x Q8_K: isum = sum over sub-blocks of
 * scale * integer dot, mins via the activation bsums, then
 * sumf += d * isum - dmin * summs, as ggml's generic kernels.
 */
#include "ga_blocks.h"
#include "ga_half.h"
#include "ga_vecdot.h"

static inline float f16_at(const uint8_t *p) { return ga_fp16_to_fp32(ga_load_u16(p)); }

/* ---- legacy formats x Q8_0 ---------------------------------------------------------- */

float ga_vec_dot_q4_0_q8_0_ref(int64_t n, const void *w, const void *act) {
    const uint8_t *b = w;
    const ga_block_q8_0 *y = act;
    float sumf = 0.0f;
    for (int64_t i = 0; i < n / GA_QK; i++, b += sizeof(ga_block_q4_0)) {
        const uint8_t *qs = GA_FIELD(ga_block_q4_0, b, qs);
        int sumi = 0;
        for (int j = 0; j < GA_QK / 2; j++) {
            sumi += ((qs[j] & 0xF) - 8) * y[i].qs[j];
            sumi += ((qs[j] >> 4) - 8) * y[i].qs[j + GA_QK / 2];
        }
        sumf += (float)sumi * (f16_at(GA_FIELD(ga_block_q4_0, b, d)) * ga_fp16_to_fp32(y[i].d));
    }
    return sumf;
}

/* sum of a Q8_0 block's codes (the _1 formats need sum(x) = d * this) */
static inline int q8_0_code_sum(const ga_block_q8_0 *y) {
    int s = 0;
    for (int j = 0; j < GA_QK; j++) s += y->qs[j];
    return s;
}

float ga_vec_dot_q4_1_q8_0_ref(int64_t n, const void *w, const void *act) {
    const uint8_t *b = w;
    const ga_block_q8_0 *y = act;
    float sumf = 0.0f;
    for (int64_t i = 0; i < n / GA_QK; i++, b += sizeof(ga_block_q4_1)) {
        const uint8_t *qs = GA_FIELD(ga_block_q4_1, b, qs);
        int sumi = 0;
        for (int j = 0; j < GA_QK / 2; j++) {
            sumi += (qs[j] & 0xF) * y[i].qs[j];
            sumi += (qs[j] >> 4) * y[i].qs[j + GA_QK / 2];
        }
        const float dy = ga_fp16_to_fp32(y[i].d);
        const float sy = dy * (float)q8_0_code_sum(&y[i]);
        sumf += (f16_at(GA_FIELD(ga_block_q4_1, b, d)) * dy) * (float)sumi +
                f16_at(GA_FIELD(ga_block_q4_1, b, m)) * sy;
    }
    return sumf;
}

float ga_vec_dot_q5_0_q8_0_ref(int64_t n, const void *w, const void *act) {
    const uint8_t *b = w;
    const ga_block_q8_0 *y = act;
    float sumf = 0.0f;
    for (int64_t i = 0; i < n / GA_QK; i++, b += sizeof(ga_block_q5_0)) {
        const uint8_t *qs = GA_FIELD(ga_block_q5_0, b, qs);
        uint32_t qh;
        memcpy(&qh, GA_FIELD(ga_block_q5_0, b, qh), 4);
        int sumi = 0;
        for (int j = 0; j < GA_QK / 2; j++) {
            const int lo = (int)((qs[j] & 0xF) | (((qh >> j) & 1) << 4)) - 16;
            const int hi = (int)((qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4)) - 16;
            sumi += lo * y[i].qs[j] + hi * y[i].qs[j + GA_QK / 2];
        }
        sumf += (float)sumi * (f16_at(GA_FIELD(ga_block_q5_0, b, d)) * ga_fp16_to_fp32(y[i].d));
    }
    return sumf;
}

float ga_vec_dot_q5_1_q8_0_ref(int64_t n, const void *w, const void *act) {
    const uint8_t *b = w;
    const ga_block_q8_0 *y = act;
    float sumf = 0.0f;
    for (int64_t i = 0; i < n / GA_QK; i++, b += sizeof(ga_block_q5_1)) {
        const uint8_t *qs = GA_FIELD(ga_block_q5_1, b, qs);
        uint32_t qh;
        memcpy(&qh, GA_FIELD(ga_block_q5_1, b, qh), 4);
        int sumi = 0;
        for (int j = 0; j < GA_QK / 2; j++) {
            const int lo = (int)((qs[j] & 0xF) | (((qh >> j) & 1) << 4));
            const int hi = (int)((qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4));
            sumi += lo * y[i].qs[j] + hi * y[i].qs[j + GA_QK / 2];
        }
        const float dy = ga_fp16_to_fp32(y[i].d);
        const float sy = dy * (float)q8_0_code_sum(&y[i]);
        sumf += (f16_at(GA_FIELD(ga_block_q5_1, b, d)) * dy) * (float)sumi +
                f16_at(GA_FIELD(ga_block_q5_1, b, m)) * sy;
    }
    return sumf;
}

float ga_vec_dot_q8_0_q8_0_ref(int64_t n, const void *w, const void *act) {
    const uint8_t *b = w;
    const ga_block_q8_0 *y = act;
    float sumf = 0.0f;
    for (int64_t i = 0; i < n / GA_QK; i++, b += sizeof(ga_block_q8_0)) {
        const int8_t *qs = (const int8_t *)GA_FIELD(ga_block_q8_0, b, qs);
        int sumi = 0;
        for (int j = 0; j < GA_QK; j++) sumi += qs[j] * y[i].qs[j];
        sumf += (float)sumi * (f16_at(GA_FIELD(ga_block_q8_0, b, d)) * ga_fp16_to_fp32(y[i].d));
    }
    return sumf;
}

/* ---- K formats x Q8_K --------------------------------------------------------------- */

float ga_vec_dot_q2_K_q8_K_ref(int64_t n, const void *w, const void *act) {
    const uint8_t *b = w;
    const ga_block_q8_K *y = act;
    float sumf = 0.0f;
    for (int64_t i = 0; i < n / GA_QK_K; i++, b += sizeof(ga_block_q2_K)) {
        const uint8_t *sc = GA_FIELD(ga_block_q2_K, b, scales);
        const uint8_t *q2 = GA_FIELD(ga_block_q2_K, b, qs);
        const int8_t *q8 = y[i].qs;
        int summs = 0;
        for (int j = 0; j < 16; j++) summs += y[i].bsums[j] * (sc[j] >> 4);
        /* element e: h = e/128, shift pair j = (e%128)/32, t = e%32 -> (q2[32h+t] >> 2j) & 3,
         * scale sc[8h + 2j + t/16] */
        int isum = 0, is = 0;
        for (int h = 0; h < 2; h++, q2 += 32) {
            for (int j = 0; j < 4; j++, q8 += 32) {
                for (int half = 0; half < 2; half++) {
                    int s = 0;
                    for (int l = 16 * half; l < 16 * half + 16; l++) s += q8[l] * ((q2[l] >> (2 * j)) & 3);
                    isum += (sc[is++] & 0xF) * s;
                }
            }
        }
        const float dall = y[i].d * f16_at(GA_FIELD(ga_block_q2_K, b, d));
        const float dmin = y[i].d * f16_at(GA_FIELD(ga_block_q2_K, b, dmin));
        sumf += dall * (float)isum - dmin * (float)summs;
    }
    return sumf;
}

/* Q3_K's 16 signed 6-bit scales from the 12 packed bytes. */
static void unpack_q3_K_scales(const uint8_t *p, int out[16]) {
    for (int s = 0; s < 16; s++) {
        const int low4 = s < 8 ? (p[s] & 0xF) : (p[s - 8] >> 4);
        const int high2 = (p[8 + (s % 4)] >> (2 * (s / 4))) & 3;
        out[s] = (low4 | (high2 << 4)) - 32;
    }
}

float ga_vec_dot_q3_K_q8_K_ref(int64_t n, const void *w, const void *act) {
    const uint8_t *b = w;
    const ga_block_q8_K *y = act;
    float sumf = 0.0f;
    for (int64_t i = 0; i < n / GA_QK_K; i++, b += sizeof(ga_block_q3_K)) {
        const uint8_t *hm = GA_FIELD(ga_block_q3_K, b, hmask);
        const uint8_t *q3 = GA_FIELD(ga_block_q3_K, b, qs);
        const int8_t *q8 = y[i].qs;
        int sc[16];
        unpack_q3_K_scales(GA_FIELD(ga_block_q3_K, b, scales), sc);
        /* as Q2_K, plus a high bit (hmask[t] >> (4h + j)) & 1; q = q2 - (bit ? 0 : 4) */
        int isum = 0, is = 0;
        for (int h = 0; h < 2; h++, q3 += 32) {
            for (int j = 0; j < 4; j++, q8 += 32) {
                for (int half = 0; half < 2; half++) {
                    int s = 0;
                    for (int l = 16 * half; l < 16 * half + 16; l++) {
                        const int q = ((q3[l] >> (2 * j)) & 3) - (((hm[l] >> (4 * h + j)) & 1) ? 0 : 4);
                        s += q8[l] * q;
                    }
                    isum += sc[is++] * s;
                }
            }
        }
        sumf += (y[i].d * f16_at(GA_FIELD(ga_block_q3_K, b, d))) * (float)isum;
    }
    return sumf;
}

/* sum of the Q8_K codes of sub-block j (32 elements) from the bsums of 16 */
static inline int q8_K_sub_sum(const ga_block_q8_K *y, int j) {
    return y->bsums[2 * j] + y->bsums[2 * j + 1];
}

float ga_vec_dot_q4_K_q8_K_ref(int64_t n, const void *w, const void *act) {
    const uint8_t *b = w;
    const ga_block_q8_K *y = act;
    float sumf = 0.0f;
    for (int64_t i = 0; i < n / GA_QK_K; i++, b += sizeof(ga_block_q4_K)) {
        uint8_t sc[8], mn[8];
        ga_unpack_k4_scales(GA_FIELD(ga_block_q4_K, b, scales), sc, mn);
        const uint8_t *q4 = GA_FIELD(ga_block_q4_K, b, qs);
        const int8_t *q8 = y[i].qs;
        int summs = 0;
        for (int j = 0; j < 8; j++) summs += mn[j] * q8_K_sub_sum(&y[i], j);
        /* chunk c of 64: low nibbles of q4[32c..] are sub-block 2c, high nibbles 2c+1 */
        int isum = 0;
        for (int c = 0; c < 4; c++, q4 += 32, q8 += 64) {
            int lo = 0, hi = 0;
            for (int l = 0; l < 32; l++) {
                lo += (q4[l] & 0xF) * q8[l];
                hi += (q4[l] >> 4) * q8[l + 32];
            }
            isum += sc[2 * c] * lo + sc[2 * c + 1] * hi;
        }
        const float d = y[i].d * f16_at(GA_FIELD(ga_block_q4_K, b, d));
        const float dmin = y[i].d * f16_at(GA_FIELD(ga_block_q4_K, b, dmin));
        sumf += d * (float)isum - dmin * (float)summs;
    }
    return sumf;
}

float ga_vec_dot_q5_K_q8_K_ref(int64_t n, const void *w, const void *act) {
    const uint8_t *b = w;
    const ga_block_q8_K *y = act;
    float sumf = 0.0f;
    for (int64_t i = 0; i < n / GA_QK_K; i++, b += sizeof(ga_block_q5_K)) {
        uint8_t sc[8], mn[8];
        ga_unpack_k4_scales(GA_FIELD(ga_block_q5_K, b, scales), sc, mn);
        const uint8_t *q4 = GA_FIELD(ga_block_q5_K, b, qs);
        const uint8_t *qh = GA_FIELD(ga_block_q5_K, b, qh);
        const int8_t *q8 = y[i].qs;
        int summs = 0;
        for (int j = 0; j < 8; j++) summs += mn[j] * q8_K_sub_sum(&y[i], j);
        /* as Q4_K; the 5th bit of chunk c is bit 2c (low half) / 2c+1 (high half) of qh[l] */
        int isum = 0;
        for (int c = 0; c < 4; c++, q4 += 32, q8 += 64) {
            int lo = 0, hi = 0;
            for (int l = 0; l < 32; l++) {
                lo += ((q4[l] & 0xF) | (((qh[l] >> (2 * c)) & 1) << 4)) * q8[l];
                hi += ((q4[l] >> 4) | (((qh[l] >> (2 * c + 1)) & 1) << 4)) * q8[l + 32];
            }
            isum += sc[2 * c] * lo + sc[2 * c + 1] * hi;
        }
        const float d = y[i].d * f16_at(GA_FIELD(ga_block_q5_K, b, d));
        const float dmin = y[i].d * f16_at(GA_FIELD(ga_block_q5_K, b, dmin));
        sumf += d * (float)isum - dmin * (float)summs;
    }
    return sumf;
}

float ga_vec_dot_q6_K_q8_K_ref(int64_t n, const void *w, const void *act) {
    const uint8_t *b = w;
    const ga_block_q8_K *y = act;
    float sumf = 0.0f;
    for (int64_t i = 0; i < n / GA_QK_K; i++, b += sizeof(ga_block_q6_K)) {
        const uint8_t *ql = GA_FIELD(ga_block_q6_K, b, ql);
        const uint8_t *qh = GA_FIELD(ga_block_q6_K, b, qh);
        const int8_t *sc = (const int8_t *)GA_FIELD(ga_block_q6_K, b, scales);
        const int8_t *q8 = y[i].qs;
        /* half h (128 elements), group g (32), lane l: low 4 bits from ql[64h + l + 32(g&1)]
         * (low nibble for g < 2, high for g >= 2), high 2 bits (qh[32h + l] >> 2g) & 3,
         * q = that - 32, scale sc[8h + 2g + l/16] */
        int isum = 0;
        for (int h = 0; h < 2; h++, ql += 64, qh += 32, q8 += 128) {
            for (int g = 0; g < 4; g++) {
                for (int half = 0; half < 2; half++) {
                    int s = 0;
                    for (int l = 16 * half; l < 16 * half + 16; l++) {
                        const int byte = ql[l + 32 * (g & 1)];
                        const int low = g < 2 ? (byte & 0xF) : (byte >> 4);
                        const int q = (low | (((qh[l] >> (2 * g)) & 3) << 4)) - 32;
                        s += q * q8[32 * g + l];
                    }
                    isum += sc[8 * h + 2 * g + half] * s;
                }
            }
        }
        sumf += (y[i].d * f16_at(GA_FIELD(ga_block_q6_K, b, d))) * (float)isum;
    }
    return sumf;
}

/* ---- float formats x F32 (sums in double) ------------------------------------------- */

float ga_vec_dot_f32_f32_ref(int64_t n, const void *w, const void *act) {
    const uint8_t *b = w;
    const float *x = act;
    double s = 0.0;
    for (int64_t j = 0; j < n; j++) {
        float v;
        memcpy(&v, b + 4 * j, 4);
        s += (double)v * x[j];
    }
    return (float)s;
}

float ga_vec_dot_f16_f32_ref(int64_t n, const void *w, const void *act) {
    const uint8_t *b = w;
    const float *x = act;
    double s = 0.0;
    for (int64_t j = 0; j < n; j++) s += (double)f16_at(b + 2 * j) * x[j];
    return (float)s;
}

float ga_vec_dot_bf16_f32_ref(int64_t n, const void *w, const void *act) {
    const uint8_t *b = w;
    const float *x = act;
    double s = 0.0;
    for (int64_t j = 0; j < n; j++) s += (double)ga_bf16_to_fp32(ga_load_u16(b + 2 * j)) * x[j];
    return (float)s;
}

/* ---- dual dot products (act_bits=16): the sum of two single dots ------------------------ */

#define GA_DOT2_REF(T)                                                                          \
    float ga_vec_dot2_##T##_ref(int64_t n, const void *w, const void *a, const void *b) {       \
        return ga_vec_dot_##T##_ref(n, w, a) + ga_vec_dot_##T##_ref(n, w, b);                     \
    }
GA_DOT2_REF(q4_0_q8_0)
GA_DOT2_REF(q5_0_q8_0)
GA_DOT2_REF(q8_0_q8_0)
GA_DOT2_REF(q4_K_q8_K)
GA_DOT2_REF(q6_K_q8_K)
