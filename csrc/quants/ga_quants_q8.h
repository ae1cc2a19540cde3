/* ga_quants_q8.h - AVX2 twins of the activation quantizers in ga_quants.h
 * (ga_quantize_row_q8_0 / q8_K dispatch to them).  Output bytes are identical
 * to the _ref versions: same products, same rounding (half away from zero for
 * Q8_0, half to even for Q8_K), same choice of the signed extreme. */
#ifndef GA_QUANTS_Q8_H
#define GA_QUANTS_Q8_H

#include <stdint.h>

void ga_quantize_row_q8_0_avx2(const float *x, void *y, int64_t n);
void ga_quantize_row_q8_K_avx2(const float *x, void *y, int64_t n);

#endif
