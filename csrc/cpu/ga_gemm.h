/* ga_gemm.h - batched products for prefill: Y[T][rows] = X[T][n] W^T with f32
 * activations, on tiles of W dequantized to f32 (OpenBLAS sgemm when linked and
 * the AVX2 kernel set is on; a portable loop otherwise, its reference twin). */
#ifndef GA_GEMM_H
#define GA_GEMM_H

#include <stddef.h>
#include <stdint.h>

#include "ga_common.h"

/* Floats of scratch ga_gemm_f32_rows needs for rows of up to n elements. */
int64_t ga_gemm_scratch_floats(int64_t n);
/* Rows of a dequantized tile for rows of n elements (the tile stays in L2). */
int64_t ga_gemm_tile_rows(int64_t n);
/* OpenBLAS's own threads off (once per process): our pool's threads each call sgemm, and
 * OpenBLAS threads spinning beside them would take the cores.  Every sgemm caller runs it. */
void ga_blas_single_thread(void);
/* 1 when the f32 path runs on OpenBLAS (linked and the AVX2 kernel set active). */
int ga_gemm_uses_blas(void);

/* y[t * ldy + r] = sum_j W[r][j] * x[t * ldx + j] for r in [r0, r1), t in [0, T).
 * scratch: ga_gemm_scratch_floats(n) floats, private to the caller's thread. */
ga_status ga_gemm_f32_rows(int wtype, const void *w, int64_t n, const float *x, int T, int64_t ldx,
                           float *y, int64_t ldy, int64_t r0, int64_t r1, float *scratch, ga_error *err);

#endif
