/* ga_simd_avx512.h - AVX-512 (VL, BW, VNNI; 256-bit vectors) helpers shared by the
 * 16-bit-code dot products (ga_vecdot_avx512.c) and the int16 GEMM (ga_gemm_q16_avx512.c). */
#ifndef GA_SIMD_AVX512_H
#define GA_SIMD_AVX512_H
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#include <string.h>

#include "ga_blocks.h"
#include "ga_simd_avx2.h" /* f16_at, hsum_f32x8: inlined into the wider target too */
#include "ga_vecdot.h"

#define GA_AVX512 __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")))

/* Each UNPACK16 sets w0 (elements 0..15) and w1 (16..31) to the signed codes of the
 * block at byte pointer b, as int16. */
#define GA_UNPACK16_Q4_0(b, w0, w1)                                                              \
    do {                                                                                         \
        const __m256i v = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)GA_FIELD(ga_block_q4_0, b, qs))); \
        w0 = _mm256_sub_epi16(_mm256_and_si256(v, _mm256_set1_epi16(15)), _mm256_set1_epi16(8));  \
        w1 = _mm256_sub_epi16(_mm256_srli_epi16(v, 4), _mm256_set1_epi16(8));                   \
    } while (0)

/* code - 16 = the nibble where the fifth bit is set, nibble - 16 where it is clear */
#define GA_UNPACK16_Q5_0(b, w0, w1)                                                              \
    do {                                                                                         \
        uint32_t clear;                                                                          \
        memcpy(&clear, GA_FIELD(ga_block_q5_0, b, qh), 4);                                       \
        clear = ~clear;                                                                          \
        const __m256i v = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)GA_FIELD(ga_block_q5_0, b, qs))); \
        const __m256i k16 = _mm256_set1_epi16(16);                                               \
        const __m256i lo = _mm256_and_si256(v, _mm256_set1_epi16(15));                          \
        const __m256i hi = _mm256_srli_epi16(v, 4);                                              \
        w0 = _mm256_mask_sub_epi16(lo, _cvtu32_mask16(clear & 0xFFFF), lo, k16);                \
        w1 = _mm256_mask_sub_epi16(hi, _cvtu32_mask16(clear >> 16), hi, k16);                   \
    } while (0)

#define GA_UNPACK16_Q8_0(b, w0, w1)                                                              \
    do {                                                                                         \
        const uint8_t *q_ = GA_FIELD(ga_block_q8_0, b, qs);                                     \
        w0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)q_));                         \
        w1 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(q_ + 16)));                  \
    } while (0)

#endif /* x86 */
#endif
