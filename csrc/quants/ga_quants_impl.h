/* ga_quants_impl.h - private prototypes of the block-format converters.
 *
 * Every converter handles n elements, n a multiple of the type's block size
 * (the dispatcher in ga_quants.c checks that).  Block pointers may be
 * unaligned (they often point into a memory-mapped file), so converters copy
 * each block into a local struct or use unaligned loads; float pointers are
 * naturally aligned.
 *
 *   ga_dequant_<t>_ref   ga_dequant_ref.c    portable, the definition
 *   ga_dequant_<t>_avx2  ga_dequant_avx2.c   AVX2 twins, bit-identical
 *   ga_quant_<t>_ref     ga_quant_ref.c      legacy formats, f16/bf16/f32
 *                        ga_quant_kquants.c  Q4_K, Q5_K, Q6_K
 */
#ifndef GA_QUANTS_IMPL_H
#define GA_QUANTS_IMPL_H

#include <stdint.h>
#include <string.h>

#include "ga_blocks.h"

/* src: n/block_size blocks; dst: n floats. */
typedef void (*ga_dequant_fn)(const void *src, float *dst, int64_t n);
/* src: n floats; dst: n/block_size blocks. */
typedef void (*ga_quant_fn)(const float *src, void *dst, int64_t n);

/* Unaligned little-endian loads and stores (x86 and every target we build for
 * is little-endian; the blocks are little-endian on disk). */
static inline uint16_t ga_load_u16(const void *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static inline uint32_t ga_load_u32(const void *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline float ga_load_f32(const void *p) { float v; memcpy(&v, p, 4); return v; }

/* ---- portable dequantizers (ga_dequant_ref.c) ---- */
void ga_dequant_f32_ref(const void *src, float *dst, int64_t n);
void ga_dequant_f16_ref(const void *src, float *dst, int64_t n);
void ga_dequant_bf16_ref(const void *src, float *dst, int64_t n);
void ga_dequant_q4_0_ref(const void *src, float *dst, int64_t n);
void ga_dequant_q4_1_ref(const void *src, float *dst, int64_t n);
void ga_dequant_q5_0_ref(const void *src, float *dst, int64_t n);
void ga_dequant_q5_1_ref(const void *src, float *dst, int64_t n);
void ga_dequant_q8_0_ref(const void *src, float *dst, int64_t n);
void ga_dequant_q2_K_ref(const void *src, float *dst, int64_t n);
void ga_dequant_q3_K_ref(const void *src, float *dst, int64_t n);
void ga_dequant_q4_K_ref(const void *src, float *dst, int64_t n);
void ga_dequant_q5_K_ref(const void *src, float *dst, int64_t n);
void ga_dequant_q6_K_ref(const void *src, float *dst, int64_t n);
void ga_dequant_q8_K_ref(const void *src, float *dst, int64_t n);

/* ---- AVX2 twins (ga_dequant_avx2.c); call only when ga_kernels_avx2() ---- */
void ga_dequant_f16_avx2(const void *src, float *dst, int64_t n);
void ga_dequant_bf16_avx2(const void *src, float *dst, int64_t n);
void ga_dequant_q4_0_avx2(const void *src, float *dst, int64_t n);
void ga_dequant_q5_0_avx2(const void *src, float *dst, int64_t n);
void ga_dequant_q8_0_avx2(const void *src, float *dst, int64_t n);
void ga_dequant_q4_K_avx2(const void *src, float *dst, int64_t n);
void ga_dequant_q6_K_avx2(const void *src, float *dst, int64_t n);

/* ---- round-to-nearest quantizers (ga_quant_ref.c, ga_quant_kquants.c) ---- */
void ga_quant_f32_ref(const float *src, void *dst, int64_t n);
void ga_quant_f16_ref(const float *src, void *dst, int64_t n);
void ga_quant_bf16_ref(const float *src, void *dst, int64_t n);
void ga_quant_q4_0_ref(const float *src, void *dst, int64_t n);
void ga_quant_q4_1_ref(const float *src, void *dst, int64_t n);
void ga_quant_q5_0_ref(const float *src, void *dst, int64_t n);
void ga_quant_q5_1_ref(const float *src, void *dst, int64_t n);
void ga_quant_q4_K_ref(const float *src, void *dst, int64_t n);
void ga_quant_q5_K_ref(const float *src, void *dst, int64_t n);
void ga_quant_q6_K_ref(const float *src, void *dst, int64_t n);

#endif
