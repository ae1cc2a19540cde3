/* ga_gemm_q16_impl.h - the AVX-512 half of the int16 GEMM (ga_gemm_q16.h). */
#ifndef GA_GEMM_Q16_IMPL_H
#define GA_GEMM_Q16_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "ga_blocks.h"
#include "ga_half.h"

/* The float scale of an activation block (the lo half of act16: d itself). */
static inline float ga_act16_scale_q8_0(const ga_block_q8_0 *lo) { return ga_fp16_to_fp32(lo->d); }

/* codes: NR * n int16, dw: NR * n / 32 floats (per-thread scratch). */
void ga_gemm_q16_rows_avx512(int wtype, const uint8_t *w, size_t row_bytes, int64_t n, const int32_t *x2,
                             const float *dx, int T, float *y, int64_t ldy, int64_t r0, int64_t r1,
                             int16_t *codes, float *dw);

#endif
