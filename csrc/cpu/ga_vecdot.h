/* ga_vecdot.h - one row dot products: weight row (n elements of a block type)
 * times an activation vector already in that type's activation format
 * (ga_matvec.h).  Internal to ga_matvec.c; tests reach them through it.
 *
 * Each *_ref is the portable definition: exact integer sums per block, then
 * float scaling in the order of ggml's generic vec_dot_*.  The *_avx2 twins
 * (ga_vecdot_avx2.c) compute the same integer sums and differ only in float
 * summation order.
 */
#ifndef GA_VECDOT_H
#define GA_VECDOT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ga_blocks.h"

/* Address of field f of the block of type T that starts at byte pointer b.
 * Weight blocks are read through byte pointers because a row need not be
 * aligned to its struct's alignment; 16-bit fields are loaded with memcpy. */
#define GA_FIELD(T, b, f) ((b) + offsetof(T, f))
static inline uint16_t ga_load_u16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }

/* n elements; w: one weight row (any alignment); act: 4-byte aligned. */
typedef float (*ga_vec_dot_fn)(int64_t n, const void *w, const void *act);

float ga_vec_dot_q4_0_q8_0_ref(int64_t n, const void *w, const void *act);
float ga_vec_dot_q4_1_q8_0_ref(int64_t n, const void *w, const void *act);
float ga_vec_dot_q5_0_q8_0_ref(int64_t n, const void *w, const void *act);
float ga_vec_dot_q5_1_q8_0_ref(int64_t n, const void *w, const void *act);
float ga_vec_dot_q8_0_q8_0_ref(int64_t n, const void *w, const void *act);
float ga_vec_dot_q2_K_q8_K_ref(int64_t n, const void *w, const void *act);
float ga_vec_dot_q3_K_q8_K_ref(int64_t n, const void *w, const void *act);
float ga_vec_dot_q4_K_q8_K_ref(int64_t n, const void *w, const void *act);
float ga_vec_dot_q5_K_q8_K_ref(int64_t n, const void *w, const void *act);
float ga_vec_dot_q6_K_q8_K_ref(int64_t n, const void *w, const void *act);
float ga_vec_dot_f32_f32_ref(int64_t n, const void *w, const void *act);
float ga_vec_dot_f16_f32_ref(int64_t n, const void *w, const void *act);
float ga_vec_dot_bf16_f32_ref(int64_t n, const void *w, const void *act);

float ga_vec_dot_q4_0_q8_0_avx2(int64_t n, const void *w, const void *act);
float ga_vec_dot_q4_1_q8_0_avx2(int64_t n, const void *w, const void *act);
float ga_vec_dot_q5_0_q8_0_avx2(int64_t n, const void *w, const void *act);
float ga_vec_dot_q5_1_q8_0_avx2(int64_t n, const void *w, const void *act);
float ga_vec_dot_q8_0_q8_0_avx2(int64_t n, const void *w, const void *act);
float ga_vec_dot_q4_K_q8_K_avx2(int64_t n, const void *w, const void *act);
float ga_vec_dot_q5_K_q8_K_avx2(int64_t n, const void *w, const void *act);
float ga_vec_dot_q6_K_q8_K_avx2(int64_t n, const void *w, const void *act);
float ga_vec_dot_f32_f32_avx2(int64_t n, const void *w, const void *act);
float ga_vec_dot_f16_f32_avx2(int64_t n, const void *w, const void *act);
float ga_vec_dot_bf16_f32_avx2(int64_t n, const void *w, const void *act);

/* Dual dot products for act_bits=16: dot(w, a) + dot(w, b) where a and b are the hi and
 * lo halves of 16-bit activation codes (ga_act16.h).  The SIMD twins unpack each weight
 * block once and combine both integer dots before scaling; the _ref versions are the sum
 * of two single _ref dots (the same integer sums; float summation order differs). */
typedef float (*ga_vec_dot2_fn)(int64_t n, const void *w, const void *a, const void *b);

float ga_vec_dot2_q4_0_q8_0_ref(int64_t n, const void *w, const void *a, const void *b);
float ga_vec_dot2_q5_0_q8_0_ref(int64_t n, const void *w, const void *a, const void *b);
float ga_vec_dot2_q8_0_q8_0_ref(int64_t n, const void *w, const void *a, const void *b);
float ga_vec_dot2_q4_K_q8_K_ref(int64_t n, const void *w, const void *a, const void *b);
float ga_vec_dot2_q6_K_q8_K_ref(int64_t n, const void *w, const void *a, const void *b);

float ga_vec_dot2_q4_0_q8_0_avx2(int64_t n, const void *w, const void *a, const void *b);
float ga_vec_dot2_q5_0_q8_0_avx2(int64_t n, const void *w, const void *a, const void *b);
float ga_vec_dot2_q8_0_q8_0_avx2(int64_t n, const void *w, const void *a, const void *b);
float ga_vec_dot2_q4_K_q8_K_avx2(int64_t n, const void *w, const void *a, const void *b);
float ga_vec_dot2_q6_K_q8_K_avx2(int64_t n, const void *w, const void *a, const void *b);

/* 16-bit-code dot products (AVX-512 VL/BW/VNNI, ga_vecdot_avx512.c): the same integer
 * sums as dot2, from the codes q16 = 256 hi + lo (ga_act16.h) multiplied as int16
 * (vpmaddwd), scaled per block by d_w * lo[b].d.  Per Q8_0-family block the sum is at
 * most 32 * 128 * 32512 < 2^31; the K formats' bounds are at their kernels.  hi, lo: the
 * activation blocks (lo for the scales, hi and lo for Q8_K's sums of 16). */
typedef float (*ga_vec_dot16_fn)(int64_t n, const void *w, const void *hi, const void *lo, const int16_t *q16);

float ga_vec_dot16_q4_0_avx512(int64_t n, const void *w, const void *hi, const void *lo, const int16_t *q16);
float ga_vec_dot16_q5_0_avx512(int64_t n, const void *w, const void *hi, const void *lo, const int16_t *q16);
float ga_vec_dot16_q8_0_avx512(int64_t n, const void *w, const void *hi, const void *lo, const int16_t *q16);
float ga_vec_dot16_q4_K_avx512(int64_t n, const void *w, const void *hi, const void *lo, const int16_t *q16);
float ga_vec_dot16_q6_K_avx512(int64_t n, const void *w, const void *hi, const void *lo, const int16_t *q16);

/* Q4_K/Q5_K: all 8 scales and mins of a super-block at once. */
static inline void ga_unpack_k4_scales(const uint8_t *packed, uint8_t sc[8], uint8_t mn[8]) {
    for (int j = 0; j < 8; j++) ga_k4_scale_min(j, packed, &sc[j], &mn[j]);
}

#endif
