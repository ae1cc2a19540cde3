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
    GA_AVX512 float NAME(int64_t n, const void *w, const void *hi, const void *lo, const int16_t *q16) { \
        (void)hi;                                                                               \
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

/* ---- K formats: the sub-block scale goes into the int16 weight codes (vpmullw), so one
 * vpdpwssd per 16 elements accumulates scale * code * q16 for a whole super-block. */

/* Q4_K: the 8 scales (bytes 0..7) and 8 mins (bytes 8..15) of a super-block's 12 packed
 * bytes at once (the unpacking of ga_k4_scale_min, four sub-blocks per 32-bit word) */
GA_AVX512 static inline __m128i q4k_scales_mins(const uint8_t *packed) {
    uint32_t u[4];
    memcpy(u, packed, 12);
    const uint32_t m6 = 0x3f3f3f3f, m4 = 0x0f0f0f0f, m2 = 0x03030303;
    u[3] = ((u[2] >> 4) & m4) | (((u[1] >> 6) & m2) << 4); /* mins 4..7 */
    const uint32_t mins_lo = u[1] & m6;                      /* mins 0..3 */
    u[1] = (u[2] & m4) | (((u[0] >> 6) & m2) << 4);          /* scales 4..7 */
    u[2] = mins_lo;
    u[0] &= m6;                                              /* scales 0..3 */
    return _mm_loadu_si128((const __m128i *)u);
}

/* Per super-block: |scale * code| <= 63 * 15 = 945, so the 32 products per int32 lane
 * stay below 32 * 945 * 32512 < 2^31.  The mins term uses the activations' sums of 16
 * (bsums): sum q16 = 256 sum hi + sum lo, per 32-element sub-block. */
GA_AVX512 float ga_vec_dot16_q4_K_avx512(int64_t n, const void *w, const void *hi, const void *lo,
                                         const int16_t *q16) {
    const uint8_t *b = w;
    const ga_block_q8_K *yh = hi, *yl = lo;
    const __m256i m4 = _mm256_set1_epi16(0x0F);
    __m256 acc = _mm256_setzero_ps(), acc_m = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / GA_QK_K; i++, b += sizeof(ga_block_q4_K), q16 += GA_QK_K) {
        const __m128i sm = q4k_scales_mins(GA_FIELD(ga_block_q4_K, b, scales));
        int16_t sc[8];
        _mm_storeu_si128((__m128i *)sc, _mm_cvtepu8_epi16(sm));
        const uint8_t *q4 = GA_FIELD(ga_block_q4_K, b, qs);
        /* four accumulators: one vpdpwssd chain would wait on its latency */
        __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;
        for (int c = 0; c < 4; c++, q4 += 32) {
            /* 32 bytes: low nibbles are sub-block 2c, high nibbles sub-block 2c + 1 */
            const __m256i v0 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)q4));
            const __m256i v1 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(q4 + 16)));
            const __m256i sa = _mm256_set1_epi16(sc[2 * c]), sb = _mm256_set1_epi16(sc[2 * c + 1]);
            const int16_t *x = q16 + 64 * c;
            s0 = _mm256_dpwssd_epi32(s0, _mm256_mullo_epi16(_mm256_and_si256(v0, m4), sa),
                                     _mm256_loadu_si256((const __m256i *)x));
            s1 = _mm256_dpwssd_epi32(s1, _mm256_mullo_epi16(_mm256_and_si256(v1, m4), sa),
                                     _mm256_loadu_si256((const __m256i *)(x + 16)));
            s2 = _mm256_dpwssd_epi32(s2, _mm256_mullo_epi16(_mm256_srli_epi16(v0, 4), sb),
                                     _mm256_loadu_si256((const __m256i *)(x + 32)));
            s3 = _mm256_dpwssd_epi32(s3, _mm256_mullo_epi16(_mm256_srli_epi16(v1, 4), sb),
                                     _mm256_loadu_si256((const __m256i *)(x + 48)));
        }
        const __m256i sumi = _mm256_add_epi32(_mm256_add_epi32(s0, s1), _mm256_add_epi32(s2, s3));
        /* mins: each int32 lane g holds min_g twice as int16, against bsums 2g and 2g + 1 */
        const __m256i mn = _mm256_cvtepu8_epi32(_mm_srli_si128(sm, 8));
        const __m256i mn2 = _mm256_or_si256(mn, _mm256_slli_epi32(mn, 16));
        const __m256i mh = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)yh[i].bsums), mn2);
        const __m256i ml = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)yl[i].bsums), mn2);
        const __m256i msum = _mm256_add_epi32(_mm256_slli_epi32(mh, 8), ml);
        const float d = f16_at(GA_FIELD(ga_block_q4_K, b, d)) * yl[i].d;
        const float dmin = f16_at(GA_FIELD(ga_block_q4_K, b, dmin)) * yl[i].d;
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
        acc_m = _mm256_fmadd_ps(_mm256_set1_ps(dmin), _mm256_cvtepi32_ps(msum), acc_m);
    }
    return hsum_f32x8(_mm256_sub_ps(acc, acc_m));
}

/* Q6_K: |scale * (code - 32)| <= 128 * 32 = 4096, so one half super-block (16 products
 * per int32 lane) stays below 16 * 4096 * 32512 < 2^31; each half is scaled on its own. */
GA_AVX512 float ga_vec_dot16_q6_K_avx512(int64_t n, const void *w, const void *hi, const void *lo,
                                         const int16_t *q16) {
    (void)hi;
    const uint8_t *b = w;
    const ga_block_q8_K *yl = lo;
    const __m256i k32 = _mm256_set1_epi16(32);
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / GA_QK_K; i++, b += sizeof(ga_block_q6_K)) {
        const uint8_t *ql = GA_FIELD(ga_block_q6_K, b, ql);
        const uint8_t *qh = GA_FIELD(ga_block_q6_K, b, qh);
        const int8_t *sc = (const int8_t *)GA_FIELD(ga_block_q6_K, b, scales);
        const __m256 d = _mm256_set1_ps(f16_at(GA_FIELD(ga_block_q6_K, b, d)) * yl[i].d);
        for (int h = 0; h < 2; h++, ql += 64, qh += 32, q16 += 128, sc += 8) {
            __m256i q[4];
            q6k_codes(ql, qh, q);
            __m256i s0 = _mm256_setzero_si256(), s1 = s0; /* two vpdpwssd chains */
            for (int g = 0; g < 4; g++) {
                const __m256i c0 = _mm256_sub_epi16(_mm256_cvtepu8_epi16(_mm256_castsi256_si128(q[g])), k32);
                const __m256i c1 = _mm256_sub_epi16(_mm256_cvtepu8_epi16(_mm256_extracti128_si256(q[g], 1)), k32);
                s0 = _mm256_dpwssd_epi32(s0, _mm256_mullo_epi16(c0, _mm256_set1_epi16(sc[2 * g])),
                                         _mm256_loadu_si256((const __m256i *)(q16 + 32 * g)));
                s1 = _mm256_dpwssd_epi32(s1, _mm256_mullo_epi16(c1, _mm256_set1_epi16(sc[2 * g + 1])),
                                         _mm256_loadu_si256((const __m256i *)(q16 + 32 * g + 16)));
            }
            const __m256i sumi = _mm256_add_epi32(s0, s1);
            if (h == 0) acc0 = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(sumi), acc0);
            else acc1 = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(sumi), acc1);
        }
    }
    return hsum_f32x8(_mm256_add_ps(acc0, acc1));
}

#endif
