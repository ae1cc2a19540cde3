/* ga_quants_q8.c - the 8-bit formats activations are quantized to (Q8_0, Q8_K).
 *
 * Reference versions follow ggml's quantize_row_q8_0_ref / q8_K_ref exactly, so
 * Q8_0 bytes match gguf.quants and llama.cpp bit for bit.
 */
#include <math.h>
#include <string.h>

#include "ga_blocks.h"
#include "ga_cpu.h"
#include "ga_half.h"
#include "ga_quants.h"
#include "ga_quants_q8.h"

void ga_quantize_row_q8_0_ref(const float *x, void *vy, int64_t n) {
    ga_block_q8_0 *y = vy;
    for (int64_t b = 0; b < n / GA_QK; b++, x += GA_QK) {
        float amax = 0.0f;
        for (int j = 0; j < GA_QK; j++) amax = fmaxf(amax, fabsf(x[j]));
        const float d = amax / 127.0f;
        const float id = d ? 1.0f / d : 0.0f;
        y[b].d = ga_fp32_to_fp16(d);
        for (int j = 0; j < GA_QK; j++) y[b].qs[j] = (int8_t)roundf(x[j] * id);
    }
}

/* ggml's nearest_int: round half to even via the 1.5*2^23 trick (|v| < 2^22). */
static inline int nearest_int(float v) {
    float val = v + 12582912.0f;
    int i;
    memcpy(&i, &val, sizeof(int));
    return (i & 0x007fffff) - 0x00400000;
}

void ga_quantize_row_q8_K_ref(const float *x, void *vy, int64_t n) {
    ga_block_q8_K *y = vy;
    for (int64_t b = 0; b < n / GA_QK_K; b++, x += GA_QK_K) {
        float max = 0.0f, amax = 0.0f;
        for (int j = 0; j < GA_QK_K; j++) {
            float ax = fabsf(x[j]);
            if (ax > amax) { amax = ax; max = x[j]; }
        }
        if (amax == 0.0f) {
            memset(&y[b], 0, sizeof y[b]);
            continue;
        }
        /* scaling by the signed extreme maps it to -127 exactly */
        const float iscale = -127.0f / max;
        for (int j = 0; j < GA_QK_K; j++) {
            int v = nearest_int(iscale * x[j]);
            y[b].qs[j] = (int8_t)(v < 127 ? v : 127);
        }
        for (int g = 0; g < GA_QK_K / 16; g++) {
            int sum = 0;
            for (int j = 0; j < 16; j++) sum += y[b].qs[16 * g + j];
            y[b].bsums[g] = (int16_t)sum;
        }
        y[b].d = 1.0f / iscale;
    }
}

#if defined(__x86_64__) || defined(__i386__)
void ga_quantize_row_q8_0(const float *x, void *y, int64_t n) {
    if (ga_kernels_avx2()) ga_quantize_row_q8_0_avx2(x, y, n);
    else ga_quantize_row_q8_0_ref(x, y, n);
}
void ga_quantize_row_q8_K(const float *x, void *y, int64_t n) {
    if (ga_kernels_avx2()) ga_quantize_row_q8_K_avx2(x, y, n);
    else ga_quantize_row_q8_K_ref(x, y, n);
}
#else
void ga_quantize_row_q8_0(const float *x, void *y, int64_t n) { ga_quantize_row_q8_0_ref(x, y, n); }
void ga_quantize_row_q8_K(const float *x, void *y, int64_t n) { ga_quantize_row_q8_K_ref(x, y, n); }
#endif
