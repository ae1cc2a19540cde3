/* ga_act16_avx2.c - AVX2 twin of the hi/lo activation split (ga_act16.c): the same
 * products, nearest-even rounding, clamps and packing, so the bytes are identical. */
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "ga_act16_impl.h"

#define GA_AVX2 __attribute__((target("avx2,fma,f16c")))

GA_AVX2 float ga_act16_amax_avx2(const float *x, int n) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 m = _mm256_setzero_ps();
    for (int j = 0; j < n; j += 8) m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + j)));
    __m128 r = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    r = _mm_max_ps(r, _mm_movehl_ps(r, r));
    r = _mm_max_ss(r, _mm_movehdup_ps(r));
    return _mm_cvtss_f32(r);
}

/* 32 int32 lanes (4 vectors) -> 32 int8 in element order */
GA_AVX2 static inline __m256i pack32(const __m256i v[4]) {
    const __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(v[0], v[1]), _mm256_packs_epi32(v[2], v[3]));
    return _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

/* 32 int32 lanes (4 vectors) -> 32 int16 in element order */
GA_AVX2 static inline void store16(int16_t *dst, const __m256i v[4]) {
    const __m256i a = _mm256_permute4x64_epi64(_mm256_packs_epi32(v[0], v[1]), 0xD8);
    const __m256i b = _mm256_permute4x64_epi64(_mm256_packs_epi32(v[2], v[3]), 0xD8);
    _mm256_storeu_si256((__m256i *)dst, a);
    _mm256_storeu_si256((__m256i *)(dst + 16), b);
}

GA_AVX2 void ga_act16_codes_avx2(const float *x, int n, float d, int8_t *hi, int8_t *lo, int16_t *q16) {
    const __m256 id = _mm256_set1_ps(d > 0.0f ? 1.0f / d : 0.0f);
    const __m256 qmax = _mm256_set1_ps(GA_ACT16_QMAX), qmin = _mm256_set1_ps(-GA_ACT16_QMAX);
    for (int j = 0; j < n; j += 32) {
        __m256i h[4], l[4];
        for (int k = 0; k < 4; k++) {
            __m256 v = _mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(x + j + 8 * k), id),
                                       _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
            const __m256i q = _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(v, qmin), qmax));
            h[k] = _mm256_srai_epi32(_mm256_add_epi32(q, _mm256_set1_epi32(128)), 8);
            l[k] = _mm256_max_epi32(_mm256_sub_epi32(q, _mm256_slli_epi32(h[k], 8)), _mm256_set1_epi32(-127));
        }
        _mm256_storeu_si256((__m256i *)(hi + j), pack32(h));
        _mm256_storeu_si256((__m256i *)(lo + j), pack32(l));
        if (q16) {
            __m256i q[4];
            for (int k = 0; k < 4; k++) q[k] = _mm256_add_epi32(_mm256_slli_epi32(h[k], 8), l[k]);
            store16(q16 + j, q);
        }
    }
}
#endif
