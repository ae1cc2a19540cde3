/* ga_quants.h - converting rows between f32 and the block formats.
 *
 * n is the element count and must be a multiple of the type's block size.
 * Each function dispatches to an AVX2 twin when the kernel set allows, and
 * the portable *_ref versions are the definition the twins are tested against.
 */
#ifndef GA_QUANTS_H
#define GA_QUANTS_H

#include <stdint.h>

#include "ga_common.h"

int ga_can_dequantize(int type);
int ga_can_quantize(int type);

/* dst gets n floats.  GA_ERR_UNSUPPORTED for types we cannot decode. */
ga_status ga_dequantize(int type, const void *src, float *dst, int64_t n, ga_error *err);
/* Round-to-nearest quantization (no importance matrix); dst gets the blocks. */
ga_status ga_quantize(int type, const float *src, void *dst, int64_t n, ga_error *err);

/* Activation quantizers used by the matrix-vector kernels (and by ga_quantize). */
void ga_quantize_row_q8_0_ref(const float *x, void *y, int64_t n);
void ga_quantize_row_q8_K_ref(const float *x, void *y, int64_t n);
void ga_quantize_row_q8_0(const float *x, void *y, int64_t n);
void ga_quantize_row_q8_K(const float *x, void *y, int64_t n);

#endif
