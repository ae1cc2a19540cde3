/* ga_act16_impl.h - pieces of the hi/lo split shared by ga_act16.c and its AVX2 twin. */
#ifndef GA_ACT16_IMPL_H
#define GA_ACT16_IMPL_H

#include <stdint.h>

#define GA_ACT16_QMAX 32512.0f /* 127 * 256: keeps hi within [-127, 127] */

/* n a multiple of 32: codes q = rint(x / d) clamped to +-QMAX, hi = floor((q + 128) / 256),
 * lo = q - 256 hi, and a lo of -128 raised to -127; q16 (NULL: not written) = 256 hi + lo */
float ga_act16_amax_avx2(const float *x, int n);
void ga_act16_codes_avx2(const float *x, int n, float d, int8_t *hi, int8_t *lo, int16_t *q16);

#endif
