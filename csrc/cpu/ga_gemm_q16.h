/* ga_gemm_q16.h - prefill products on 16-bit activation codes (avx512 kernel set).
 *
 * Y[T][rows] = X[T][n] W^T for the legacy block formats (Q4_0, Q5_0, Q8_0) with the
 * activations quantized exactly as act_bits=16 does (ga_act16.h: per 32-block scale d
 * and codes q = 256 hi + lo): per block and token the integer sum of w * q is exact,
 * then scaled by d_w * d_x, so each y equals the act16 dot product of that token up to
 * float summation order.  The micro-kernel keeps one token per int32 lane: pairs of
 * weight codes are broadcast and multiplied with pairs of codes of 16 tokens by VNNI
 * vpdpwssd, 16 multiply-adds per instruction against 8 for an f32 FMA.
 *
 * Layout of packed activations (ga_gemm_q16_pack): TP = T rounded up to 16 tokens;
 * x2[(b * 16 + k) * TP + t] = the int16 pair (q[t][32 b + 2 k], q[t][32 b + 2 k + 1]) as
 * one int32, dx[b * TP + t] = the block's scale; tokens T..TP-1 are zero.
 */
#ifndef GA_GEMM_Q16_H
#define GA_GEMM_Q16_H

#include <stddef.h>
#include <stdint.h>

#include "ga_common.h"
#include "ga_types.h"

#define GA_GEMM_Q16_NR 6  /* weight rows per micro-kernel tile */
#define GA_GEMM_Q16_NT 16 /* tokens per micro-kernel tile */
#define GA_GEMM_Q16_MIN_T 4 /* fewer tokens: padding to 16 costs more than it saves */

/* 1 for the block types the int16 GEMM multiplies (in any kernel set). */
static inline int ga_gemm_q16_type(int wtype) { return wtype == GA_TYPE_Q4_0 || wtype == GA_TYPE_Q5_0 || wtype == GA_TYPE_Q8_0; }
/* 1 when the current kernel set has the int16 GEMM for wtype. */
int ga_gemm_q16_supports(int wtype);
static inline int ga_gemm_q16_padded(int T) { return (T + GA_GEMM_Q16_NT - 1) / GA_GEMM_Q16_NT * GA_GEMM_Q16_NT; }
/* Bytes of x2 and of dx for n elements and T tokens. */
static inline size_t ga_gemm_q16_x2_bytes(int64_t n, int T) { return (size_t)n / 2 * ga_gemm_q16_padded(T) * 4; }
static inline size_t ga_gemm_q16_dx_bytes(int64_t n, int T) { return (size_t)n / 32 * ga_gemm_q16_padded(T) * 4; }
/* Per-thread scratch bytes for rows of n elements: NR unpacked rows and their scales,
 * plus one token's act16 split (ga_gemm_q16_pack). */
size_t ga_gemm_q16_scratch_bytes(int64_t n);

/* Quantize tokens [t0, t1) of x (T rows of n floats, stride ldx) into x2/dx; t1 == T also
 * zeroes the padding tokens.  scratch: ga_gemm_q16_scratch_bytes(n), 64-byte aligned. */
void ga_gemm_q16_pack(const float *x, int64_t n, int64_t ldx, int T, int t0, int t1, int32_t *x2, float *dx,
                      void *scratch);
/* y[t * ldy + r] for r in [r0, r1), t in [0, T); x2/dx from ga_gemm_q16_pack. */
ga_status ga_gemm_q16_rows(int wtype, const void *w, int64_t n, const int32_t *x2, const float *dx, int T,
                           float *y, int64_t ldy, int64_t r0, int64_t r1, void *scratch, ga_error *err);

#endif
