/* ga_vecdot_avx512.c - 16-bit-code dot products for act_bits=16 (ga_vecdot.h, dot16).
 *
 * The AVX2 dual kernels run two int8 dot products per weight block (against
 * hi and lo, ga_act16.h).  Here the weight codes are widened to int16 once and
 * multiplied with the 16-bit codes q16 = 256 hi + lo in one vpmaddwd plus one
 * VNNI vpdpwssd per 32-element block: the same exact integer sum with about
 * half the instructions.  AVX-512 BW/VL masks set the fifth bit of Q5_0 from
 * its 32-bit field directly.  Vectors stay 256 bits wide: on CPUs that split
 * 512-bit operations in two (AMD Zen 4) zmm measured slower, and ymm avoids
 * the frequency drop of heavy 512-bit code on older Intel parts.
 */
#if defined(__x86_64__) || defined(__i386__)
#include "ga_simd_avx512.h"

#define GA_LEGACY_DOT16(NAME, BLOCK, UNPACK16)                                                  \
    GA_AVX512 static inline __m256 NAME##_block(const uint8_t *b, const ga_block_q8_0 *yl,      \
                                                const int16_t *q, __m256 acc) {                 \
        __m256i w0, w1;                                                                         \
        UNPACK16(b, w0, w1);                                                                    \
        __m256i s = _mm256_madd_epi16(w0, _mm256_loadu_si256((const __m256i *)q));              \
        s = _mm256_dpwssd_epi32(s, w1, _mm256_loadu_si256((const __m256i *)(q + 16)));          \
        const float d = f16_at(GA_FIELD(BLOCK, b, d)) * _cvtsh_ss(yl->d);                       \
        return _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(s), acc);                  \
    }                                                                                           \
    GA_AVX512 float NAME(int64_t n, const void *w, const void *lo, const int16_t *q16) {        \
        const uint8_t *b = w;                                                                   \
        const ga_block_q8_0 *yl = lo;                                                           \
        const int64_t nb = n / GA_QK;                                                           \
        __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();                          \
        int64_t i = 0;                                                                          \
        for (; i + 1 < nb; i += 2, b += 2 * sizeof(BLOCK)) {                                    \
            acc0 = NAME##_block(b, &yl[i], q16 + i * GA_QK, acc0);                              \
            acc1 = NAME##_block(b + sizeof(BLOCK), &yl[i + 1], q16 + (i + 1) * GA_QK, acc1);    \
        }                                                                                       \
        if (i < nb) acc0 = NAME##_block(b, &yl[i], q16 + i * GA_QK, acc0);                      \
        return hsum_f32x8(_mm256_add_ps(acc0, acc1));                                           \
    }

GA_LEGACY_DOT16(ga_vec_dot16_q4_0_avx512, ga_block_q4_0, GA_UNPACK16_Q4_0)
GA_LEGACY_DOT16(ga_vec_dot16_q5_0_avx512, ga_block_q5_0, GA_UNPACK16_Q5_0)
GA_LEGACY_DOT16(ga_vec_dot16_q8_0_avx512, ga_block_q8_0, GA_UNPACK16_Q8_0)

#endif
