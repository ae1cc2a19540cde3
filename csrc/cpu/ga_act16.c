/* ga_act16.c - the hi/lo split of 16-bit activation codes (see ga_act16.h). */
#include <math.h>
#include <string.h>

#include "ga_act16.h"
#include "ga_act16_impl.h"
#include "ga_blocks.h"
#include "ga_cpu.h"
#include "ga_half.h"
#include "ga_types.h"

#define Q_MAX GA_ACT16_QMAX

static float amax_ref(const float *x, int n) {
    float amax = 0.0f;
    for (int j = 0; j < n; j++) amax = fmaxf(amax, fabsf(x[j]));
    return amax;
}

/* codes of n values at scale d (0: all zero); hi = floor((q + 128) / 256), lo = q - 256 hi.
 * lo = -128 becomes -127 (q one code higher): the sign trick of the dot products
 * cannot negate -128, so no activation code may be -128 (ggml's Q8 never makes one).
 * Rounding is to nearest even, as the AVX2 twin's. */
static void codes_ref(const float *x, int n, float d, int8_t *hi, int8_t *lo, int16_t *q16) {
    const float id = d > 0.0f ? 1.0f / d : 0.0f;
    for (int j = 0; j < n; j++) {
        float v = rintf(x[j] * id);
        v = v < -Q_MAX ? -Q_MAX : v > Q_MAX ? Q_MAX : v;
        const int q = (int)v;
        const int h = (q + 128 + 32768) / 256 - 128; /* floor for negative q too */
        const int l = q - 256 * h;
        hi[j] = (int8_t)h;
        lo[j] = (int8_t)(l == -128 ? -127 : l);
        if (q16) q16[j] = (int16_t)(256 * h + lo[j]);
    }
}

#if defined(__x86_64__) || defined(__i386__)
static float block_amax(const float *x, int n) { return ga_kernels_avx2() ? ga_act16_amax_avx2(x, n) : amax_ref(x, n); }
static void split_codes(const float *x, int n, float d, int8_t *hi, int8_t *lo, int16_t *q16) {
    if (ga_kernels_avx2()) ga_act16_codes_avx2(x, n, d, hi, lo, q16);
    else codes_ref(x, n, d, hi, lo, q16);
}
#else
static float block_amax(const float *x, int n) { return amax_ref(x, n); }
static void split_codes(const float *x, int n, float d, int8_t *hi, int8_t *lo, int16_t *q16) {
    codes_ref(x, n, d, hi, lo, q16);
}
#endif

/* Q8_0 blocks store fp16 scales: d is rounded up to fp16 first (so the codes use the
 * stored value), kept above zero, and capped where 256 d would overflow fp16 */
static void split_q8_0(const float *x, ga_block_q8_0 *hi, ga_block_q8_0 *lo, int16_t *q16, int64_t nb) {
    for (int64_t b = 0; b < nb; b++, x += GA_QK) {
        const float amax = block_amax(x, GA_QK);
        uint16_t dh = 0;
        if (amax > 0.0f) {
            dh = ga_fp32_to_fp16(amax / Q_MAX);
            if (ga_fp16_to_fp32(dh) < amax / Q_MAX) dh++;       /* round up: no code clamps */
            if (dh == 0) dh = 1;                                  /* smallest subnormal */
            if (ga_fp16_to_fp32(dh) > 255.0f) dh = ga_fp32_to_fp16(255.0f); /* 256 d <= 65280 */
        }
        const float d = ga_fp16_to_fp32(dh);
        split_codes(x, GA_QK, d, hi[b].qs, lo[b].qs, q16 ? q16 + b * GA_QK : NULL);
        lo[b].d = dh;
        hi[b].d = ga_fp32_to_fp16(256.0f * d); /* exact: a power-of-two multiple */
    }
}

static void bsums(ga_block_q8_K *y) {
    for (int g = 0; g < GA_QK_K / 16; g++) {
        int s = 0;
        for (int j = 0; j < 16; j++) s += y->qs[16 * g + j];
        y->bsums[g] = (int16_t)s;
    }
}

static void split_q8_K(const float *x, ga_block_q8_K *hi, ga_block_q8_K *lo, int16_t *q16, int64_t nb) {
    for (int64_t b = 0; b < nb; b++, x += GA_QK_K) {
        const float d = block_amax(x, GA_QK_K) / Q_MAX;
        split_codes(x, GA_QK_K, d, hi[b].qs, lo[b].qs, q16 ? q16 + b * GA_QK_K : NULL);
        lo[b].d = d;
        hi[b].d = 256.0f * d;
        bsums(&hi[b]);
        bsums(&lo[b]);
    }
}

void ga_act16_split(int act_type, const float *x, void *hi, void *lo, int16_t *q16, int64_t n) {
    if (act_type == GA_TYPE_Q8_0) split_q8_0(x, hi, lo, q16, n / GA_QK);
    else if (act_type == GA_TYPE_Q8_K) split_q8_K(x, hi, lo, q16, n / GA_QK_K);
}
