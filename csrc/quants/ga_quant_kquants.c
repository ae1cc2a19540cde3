/* ga_quant_kquants.c - round-to-nearest quantizers of the K formats
 * (Q4_K, Q5_K, Q6_K) with no importance matrix.
 *
 * These reproduce ggml's quantize_row_q{4,5,6}_K_ref: the per-sub-block
 * scale search (make_qkx2_quants for the affine Q4_K/Q5_K, make_qx_quants for
 * the symmetric Q6_K), 6- or 8-bit quantization of the sub-block scales
 * against one f16 super-scale, then a final requantization of every element
 * against the scales actually stored.  Float expressions keep ggml's order so
 * the bytes match llama.cpp's (tests/test_quants.py compares them).  Q8_K is
 * in ga_quants_q8.c.
 */
#include <math.h>
#include <string.h>

#include "ga_blocks.h"
#include "ga_half.h"
#include "ga_quants_impl.h"

#define GROUP_MAX_EPS 1e-15f /* ggml's "this group is all zeros" threshold */

#define STORE_BLOCK(dst, i, b) memcpy((uint8_t *)(dst) + (size_t)(i) * sizeof(b), &(b), sizeof(b))

/* ggml's nearest_int: round half to even via the 1.5*2^23 trick.  Exact for
 * |v| < 2^22; for larger or non-finite v it returns some value in
 * [-2^22, 2^22) (never undefined behaviour). */
static inline int nearest_int(float v) {
    float val = v + 12582912.0f;
    int32_t i;
    memcpy(&i, &val, sizeof i);
    return (int)((i & 0x007fffff) - 0x00400000);
}

static inline int clamp_int(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* Affine fit x ~ scale*L - the_min with L in 0..nmax, weighted least squares
 * over nstep+1 candidate inverse scales around nmax/(max-min).  Returns the
 * scale, writes the (non-negative) min and the levels L.  ggml's use_mad is
 * false for Q4_K/Q5_K, so the error here is the weighted squared error. */
static float make_qkx2_quants(int n, int nmax, const float *x, const float *weights, uint8_t *L,
                              float *the_min, uint8_t *Laux, float rmin, float rdelta, int nstep) {
    float min = x[0], max = x[0];
    float sum_w = weights[0];
    float sum_x = sum_w * x[0];
    for (int i = 1; i < n; i++) {
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
        const float w = weights[i];
        sum_w += w;
        sum_x += w * x[i];
    }
    if (min > 0) min = 0;
    if (max == min) {
        memset(L, 0, (size_t)n);
        *the_min = -min;
        return 0.0f;
    }
    float iscale = (float)nmax / (max - min);
    float scale = 1 / iscale;
    float best_error = 0;
    for (int i = 0; i < n; i++) {
        L[i] = (uint8_t)clamp_int(nearest_int(iscale * (x[i] - min)), 0, nmax);
        const float diff = scale * (float)L[i] + min - x[i];
        best_error += weights[i] * (diff * diff);
    }
    for (int is = 0; is <= nstep; is++) {
        iscale = (rmin + rdelta * (float)is + (float)nmax) / (max - min);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; i++) {
            const int l = clamp_int(nearest_int(iscale * (x[i] - min)), 0, nmax);
            Laux[i] = (uint8_t)l;
            const float w = weights[i];
            sum_l += w * (float)l;
            sum_l2 += w * (float)l * (float)l;
            sum_xl += w * (float)l * x[i];
        }
        const float D = sum_w * sum_l2 - sum_l * sum_l;
        if (D > 0) {
            float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
            float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
            if (this_min > 0) {
                this_min = 0;
                this_scale = sum_xl / sum_l2;
            }
            float cur_error = 0;
            for (int i = 0; i < n; i++) {
                const float diff = this_scale * (float)Laux[i] + this_min - x[i];
                cur_error += weights[i] * (diff * diff);
            }
            if (cur_error < best_error) {
                memcpy(L, Laux, (size_t)n);
                best_error = cur_error;
                scale = this_scale;
                min = this_min;
            }
        }
    }
    *the_min = -min;
    return scale;
}

/* One pass of the symmetric level search at inverse scale iscale, weights x^2
 * (ggml's rmse_type 1).  Writes L = level + nmax when L is non-NULL. */
static void qx_pass(int n, int nmax, const float *x, float iscale, float *sumlx, float *suml2,
                    int8_t *L) {
    float slx = 0, sl2 = 0;
    for (int i = 0; i < n; i++) {
        const int l = clamp_int(nearest_int(iscale * x[i]), -nmax, nmax - 1);
        if (L) L[i] = (int8_t)(l + nmax);
        const float w = x[i] * x[i];
        slx += w * x[i] * (float)l;
        sl2 += w * (float)l * (float)l;
    }
    *sumlx = slx;
    *suml2 = sl2;
}

/* Symmetric fit x ~ scale*(L - nmax), L in 0..2*nmax-1, trying 19 inverse
 * scales around -nmax/max and keeping the best weighted fit. */
static float make_qx_quants(int n, int nmax, const float *x, int8_t *L) {
    float max = 0, amax = 0;
    for (int i = 0; i < n; i++) {
        const float ax = fabsf(x[i]);
        if (ax > amax) {
            amax = ax;
            max = x[i];
        }
    }
    if (amax < GROUP_MAX_EPS) {
        memset(L, 0, (size_t)n);
        return 0.0f;
    }
    float sumlx, suml2;
    qx_pass(n, nmax, x, (float)-nmax / max, &sumlx, &suml2, L);
    float scale = suml2 ? sumlx / suml2 : 0.0f;
    float best = scale * sumlx;
    for (int is = -9; is <= 9; is++) {
        if (is == 0) continue;
        const float iscale = -((float)nmax + 0.1f * (float)is) / max;
        qx_pass(n, nmax, x, iscale, &sumlx, &suml2, NULL);
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            qx_pass(n, nmax, x, iscale, &sumlx, &suml2, L);
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

/* Packs 8 six-bit scales and mins into the 12 bytes read by ga_k4_scale_min. */
static void pack_k4_scales(const uint8_t ls[8], const uint8_t lm[8], uint8_t out[GA_K_SCALE_SIZE]) {
    for (int j = 0; j < 8; j++) {
        if (j < 4) {
            out[j] = ls[j];
            out[j + 4] = lm[j];
        } else {
            out[j + 4] = (uint8_t)((ls[j] & 0xF) | ((lm[j] & 0xF) << 4));
            out[j - 4] |= (uint8_t)((ls[j] >> 4) << 6);
            out[j] |= (uint8_t)((lm[j] >> 4) << 6);
        }
    }
}

/* Shared body of Q4_K and Q5_K for one super-block x[256]: searches the 8
 * sub-block scales, stores d, dmin and the packed scales, and writes the final
 * levels L[256] (0..nmax). */
static void k4_superblock(const float *x, int nmax, float rmin, float rdelta, int nstep,
                          uint16_t *d_out, uint16_t *dmin_out, uint8_t scales_out[GA_K_SCALE_SIZE],
                          uint8_t L[GA_QK_K]) {
    float scales[8], mins[8], weights[32];
    uint8_t Laux[32];
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < 8; j++) {
        const float *xj = x + 32 * j;
        float sum_x2 = 0;
        for (int l = 0; l < 32; l++) sum_x2 += xj[l] * xj[l];
        const float av_x = sqrtf(sum_x2 / 32);
        for (int l = 0; l < 32; l++) weights[l] = av_x + fabsf(xj[l]);
        scales[j] = make_qkx2_quants(32, nmax, xj, weights, L + 32 * j, &mins[j], Laux, rmin, rdelta,
                                     nstep);
        if (scales[j] > max_scale) max_scale = scales[j];
        if (mins[j] > max_min) max_min = mins[j];
    }

    const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
    const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
    uint8_t ls[8], lm[8];
    for (int j = 0; j < 8; j++) {
        /* the uint8_t wrap, then MIN(63, .), is ggml's */
        const uint8_t s = (uint8_t)nearest_int(inv_scale * scales[j]);
        const uint8_t m = (uint8_t)nearest_int(inv_min * mins[j]);
        ls[j] = s < 63 ? s : 63;
        lm[j] = m < 63 ? m : 63;
    }
    memset(scales_out, 0, GA_K_SCALE_SIZE);
    pack_k4_scales(ls, lm, scales_out);
    *d_out = ga_fp32_to_fp16(max_scale / 63.f);
    *dmin_out = ga_fp32_to_fp16(max_min / 63.f);

    /* requantize against the stored (rounded) scales */
    const float d_all = ga_fp16_to_fp32(*d_out), dmin_all = ga_fp16_to_fp32(*dmin_out);
    for (int j = 0; j < 8; j++) {
        uint8_t sc, m;
        ga_k4_scale_min(j, scales_out, &sc, &m);
        const float d = d_all * (float)sc;
        if (!d) continue;
        const float dm = dmin_all * (float)m;
        for (int l = 0; l < 32; l++)
            L[32 * j + l] = (uint8_t)clamp_int(nearest_int((x[32 * j + l] + dm) / d), 0, nmax);
    }
}

void ga_quant_q4_K_ref(const float *src, void *dst, int64_t n) {
    for (int64_t i = 0; i < n / GA_QK_K; i++, src += GA_QK_K) {
        ga_block_q4_K b;
        uint8_t L[GA_QK_K];
        k4_superblock(src, 15, -1.0f, 0.1f, 20, &b.d, &b.dmin, b.scales, L);
        /* chunk c of 64: levels 64c..64c+31 in low nibbles, the next 32 in high */
        for (int c = 0; c < 4; c++)
            for (int l = 0; l < 32; l++)
                b.qs[32 * c + l] = (uint8_t)(L[64 * c + l] | (L[64 * c + 32 + l] << 4));
        STORE_BLOCK(dst, i, b);
    }
}

void ga_quant_q5_K_ref(const float *src, void *dst, int64_t n) {
    for (int64_t i = 0; i < n / GA_QK_K; i++, src += GA_QK_K) {
        ga_block_q5_K b;
        uint8_t L[GA_QK_K];
        k4_superblock(src, 31, -0.5f, 0.1f, 15, &b.d, &b.dmin, b.scales, L);
        /* as Q4_K, plus the fifth bit of chunk c in bits 2c / 2c+1 of qh[l] */
        memset(b.qh, 0, sizeof b.qh);
        for (int c = 0; c < 4; c++) {
            for (int l = 0; l < 32; l++) {
                const int lo = L[64 * c + l], hi = L[64 * c + 32 + l];
                b.qs[32 * c + l] = (uint8_t)((lo & 0xF) | ((hi & 0xF) << 4));
                b.qh[l] |= (uint8_t)(((lo >> 4) << (2 * c)) | ((hi >> 4) << (2 * c + 1)));
            }
        }
        STORE_BLOCK(dst, i, b);
    }
}

void ga_quant_q6_K_ref(const float *src, void *dst, int64_t n) {
    for (int64_t i = 0; i < n / GA_QK_K; i++, src += GA_QK_K) {
        ga_block_q6_K b;
        int8_t L[GA_QK_K];
        float scales[16];
        float max_scale = 0, max_abs_scale = 0;
        for (int ib = 0; ib < 16; ib++) {
            scales[ib] = make_qx_quants(16, 32, src + 16 * ib, L + 16 * ib);
            if (fabsf(scales[ib]) > max_abs_scale) {
                max_abs_scale = fabsf(scales[ib]);
                max_scale = scales[ib];
            }
        }
        if (max_abs_scale < GROUP_MAX_EPS) {
            memset(&b, 0, sizeof b);
            STORE_BLOCK(dst, i, b);
            continue;
        }

        /* 8-bit signed sub-block scales against d = max_scale/-128 */
        const float iscale = -128.f / max_scale;
        b.d = ga_fp32_to_fp16(1 / iscale);
        for (int ib = 0; ib < 16; ib++) {
            const int s = nearest_int(iscale * scales[ib]);
            b.scales[ib] = (int8_t)(s < 127 ? s : 127);
        }
        const float d_all = ga_fp16_to_fp32(b.d);
        for (int j = 0; j < 16; j++) {
            const float d = d_all * (float)b.scales[j];
            if (!d) continue;
            for (int l = 0; l < 16; l++)
                L[16 * j + l] = (int8_t)(clamp_int(nearest_int(src[16 * j + l] / d), -32, 31) + 32);
        }

        /* half h: ql[64h + l] = L[l] | L[l+64] << 4, ql[64h + 32 + l] = L[l+32] | L[l+96] << 4,
         * qh[32h + l] = top 2 bits of L[l], L[l+32], L[l+64], L[l+96] */
        for (int h = 0; h < 2; h++) {
            const int8_t *Lh = L + 128 * h;
            for (int l = 0; l < 32; l++) {
                b.ql[64 * h + l] = (uint8_t)((Lh[l] & 0xF) | ((Lh[l + 64] & 0xF) << 4));
                b.ql[64 * h + 32 + l] = (uint8_t)((Lh[l + 32] & 0xF) | ((Lh[l + 96] & 0xF) << 4));
                b.qh[32 * h + l] = (uint8_t)((Lh[l] >> 4) | ((Lh[l + 32] >> 4) << 2) |
                                             ((Lh[l + 64] >> 4) << 4) | ((Lh[l + 96] >> 4) << 6));
            }
        }
        STORE_BLOCK(dst, i, b);
    }
}
