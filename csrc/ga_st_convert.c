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

void ga_st_f16_to_f32(float *dst, const uint8_t *src, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint16_t h;
        memcpy(&h, src + 2 * i, 2);
        dst[i] = ga_fp16_to_fp32(h);
    }
}
