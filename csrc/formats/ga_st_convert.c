/* ga_st_convert.c - widen bf16/f16 tensor bytes to float32.
 *
 * NumPy has no bfloat16, so BF16 -> F32 must be done here; F16 is here too so
 * both paths are exact bit for bit (subnormals, inf, NaN payloads) and run
 * without the GIL.  Safetensors data offsets need not be aligned, so the
 * source is read with memcpy (the compiler turns it into plain loads).
 */
#include <string.h>

#include "ga_half.h"
#include "ga_safetensors.h"

void ga_st_bf16_to_f32(float *dst, const uint8_t *src, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint16_t h;
        memcpy(&h, src + 2 * i, 2);  /* little-endian host assumed, as everywhere in the core */
        dst[i] = ga_bf16_to_fp32(h);
    }
}

/* Same result as ga_fp16_to_fp32 (NaN payloads included: no float arithmetic
 * touches a NaN), written with selects instead of branches so the loop
 * vectorizes; tests compare all 65536 patterns. */
static inline float f16_to_f32_select(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t e = h & 0x7c00;
    uint32_t body = (uint32_t)(h & 0x7fff) << 13;
    uint32_t normal = body + 0x38000000u;            /* rebias exponent 15 -> 127 */
    uint32_t infnan = body | 0x7f800000u;
    uint32_t sub = ga_f32_to_bits((float)(h & 0x3ff) * 5.9604644775390625e-8f);  /* man * 2^-24 */
    uint32_t r = e == 0x7c00 ? infnan : e == 0 ? sub : normal;
    return ga_bits_to_f32(r | sign);
}

void ga_st_f16_to_f32(float *dst, const uint8_t *src, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint16_t h;
        memcpy(&h, src + 2 * i, 2);
        dst[i] = f16_to_f32_select(h);
    }
}
