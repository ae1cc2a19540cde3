/* ga_matvec.h - matrix-vector product on block-format weights: y = W x.
 *
 * W is rows x n (NumPy order; GGUF ne[0] = n), each row a run of blocks of
 * wtype; row stride = n / block_size * type_size bytes.  x is first quantized
 * once to the activation format of the weight's dot product (as llama.cpp
 * does), then every row is an exact integer dot product per block followed by
 * float scaling.  Weight bytes may sit at any address (f16 scales are read
 * with memcpy); activation buffers must be 4-byte aligned (malloc'd).
 *
 * Activation formats:
 *   Q4_0 Q4_1 Q5_0 Q5_1 Q8_0   -> Q8_0 (the _1 types get sum(x) per block as d * sum(qs),
 *                                 computed in the dot product, kept exact in f32)
 *   Q2_K Q3_K Q4_K Q5_K Q6_K   -> Q8_K (carries bsums per 16 for the min terms)
 *   F32 F16 BF16               -> F32 (a plain copy of x)
 */
#ifndef GA_MATVEC_H
#define GA_MATVEC_H

#include <stddef.h>
#include <stdint.h>

#include "ga_common.h"

/* The activation format a weight type's dot product consumes, -1 if unsupported. */
int ga_matvec_act_type(int wtype);
/* Bytes needed to hold a quantized activation vector of n elements for wtype (0 if unsupported). */
size_t ga_matvec_act_size(int wtype, int64_t n);
/* Quantize x[n] once into act (act_size bytes), reusable for every matrix of the same wtype family. */
ga_status ga_matvec_quantize_act(int wtype, const float *x, void *act, int64_t n, ga_error *err);
/* y[r] = dot(W row r, x) for r in [r0, r1); y is indexed by absolute row (y[r]).
 * act from ga_matvec_quantize_act.  No allocation: callers split rows across threads. */
ga_status ga_matvec_rows(int wtype, const void *w, int64_t n, const void *act, float *y,
                         int64_t r0, int64_t r1, ga_error *err);
/* act_bits=16: 16-bit codes split into act (256 * hi) and act_res (lo), two arrays in the
 * activation format above (ga_act16.h); act_res NULL: plain 8-bit act only.  act holds
 * act_size bytes, act_res act_res_size: for the Q8_0 family the lo blocks are followed
 * (at act_size rounded up to 64) by the int16 codes the AVX-512 kernels read. */
size_t ga_matvec_act_res_size(int wtype, int64_t n);
ga_status ga_matvec_quantize_act2(int wtype, const float *x, void *act, void *act_res, int64_t n,
                                  ga_error *err);
/* y[r] = dot(W row r, act) + dot(W row r, act_res) for r in [r0, r1).  fused=1 uses the
 * dual kernels (one weight unpack, two integer dots) where the type has one; fused=0
 * always runs two single dots (the reference the fused kernels are tested against). */
ga_status ga_matvec_rows2(int wtype, const void *w, int64_t n, const void *act, const void *act_res,
                          float *y, int64_t r0, int64_t r1, int fused, ga_error *err);
/* rows / rows2 with an interleaved copy of the weight (ga_x8.h), or packed = NULL: the
 * whole groups of 8 rows inside [r0, r1) run on the copy where the kernel set has its
 * kernel (avx512; fused for act_bits=16), everything else as ga_matvec_rows / rows2. */
ga_status ga_matvec_rows_packed(int wtype, const void *w, const void *packed, int64_t n, const void *act, float *y,
                                int64_t r0, int64_t r1, ga_error *err);
ga_status ga_matvec_rows2_packed(int wtype, const void *w, const void *packed, int64_t n, const void *act,
                                 const void *act_res, float *y, int64_t r0, int64_t r1, int fused,
                                 ga_error *err);
/* Convenience: quantize x then all rows (allocates a temporary act buffer). */
ga_status ga_matvec(int wtype, const void *w, int64_t rows, int64_t n, const float *x, float *y,
                    ga_error *err);

#endif
