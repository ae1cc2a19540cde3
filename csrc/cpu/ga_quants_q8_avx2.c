/* ga_quants_q8_avx2.c - AVX2 Q8_0 / Q8_K activation quantizers, byte-identical to the
 * _ref versions in ga_quants_q8.c (plain multiplies, no FMA, the same scalar scale math). */
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "ga_blocks.h"
#include "ga_quants_q8.h"

#define GA_AVX2 __attribute__((target("avx2,fma,f16c")))

GA_AVX2 static inline float hmax_f32x8(__m256 v) {
    __m128 r = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    r = _mm_max_ps(r, _mm_movehl_ps(r, r));
    r = _mm_max_ss(r, _mm_movehdup_ps(r));
    return _mm_cvtss_f32(r);
}

/* roundf semantics (half away from zero), exact: t = trunc(v); t += sign(v) if |v - t| >= 0.5 */
GA_AVX2 static inline __m256i round_half_away(__m256 v) {
    const __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m256 sign_mask = _mm256_set1_ps(-0.0f);
    const __m256 frac = _mm256_andnot_ps(sign_mask, _mm256_sub_ps(v, t));
    const __m256 bump = _mm256_and_ps(_mm256_cmp_ps(frac, _mm256_set1_ps(0.5f), _CMP_GE_OQ),
                                      _mm256_or_ps(_mm256_set1_ps(1.0f), _mm256_and_ps(v, sign_mask)));
    return _mm256_cvttps_epi32(_mm256_add_ps(t, bump));
}

/* 4 x 8 int32 (each within int8 range) -> 32 int8 in order */
GA_AVX2 static inline __m256i pack_i32x32_to_i8(__m256i a, __m256i b, __m256i c, __m256i d) {
    const __m256i ab = _mm256_packs_epi32(a, b);  /* lanes: a0-3 b0-3 | a4-7 b4-7 */
    const __m256i cd = _mm256_packs_epi32(c, d);
    const __m256i abcd = _mm256_packs_epi16(ab, cd); /* a0-3 b0-3 c0-3 d0-3 | a4-7 b4-7 c4-7 d4-7 */
    return _mm256_permutevar8x32_epi32(abcd, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

GA_AVX2 void ga_quantize_row_q8_0_avx2(const float *x, void *vy, int64_t n) {
    ga_block_q8_0 *y = vy;
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    for (int64_t b = 0; b < n / GA_QK; b++, x += GA_QK) {
        __m256 v[4];
        __m256 amax = _mm256_setzero_ps();
        for (int k = 0; k < 4; k++) {
            v[k] = _mm256_loadu_ps(x + 8 * k);
            amax = _mm256_max_ps(amax, _mm256_and_ps(v[k], abs_mask));
        }
        const float d = hmax_f32x8(amax) / 127.0f;
        const float id = d ? 1.0f / d : 0.0f;
        y[b].d = _cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT);
        const __m256 vid = _mm256_set1_ps(id);
        __m256i q[4];
        for (int k = 0; k < 4; k++) q[k] = round_half_away(_mm256_mul_ps(v[k], vid));
        _mm256_storeu_si256((__m256i *)y[b].qs, pack_i32x32_to_i8(q[0], q[1], q[2], q[3]));
    }
}

GA_AVX2 void ga_quantize_row_q8_K_avx2(const float *x, void *vy, int64_t n) {
    ga_block_q8_K *y = vy;
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    for (int64_t b = 0; b < n / GA_QK_K; b++, x += GA_QK_K) {
        __m256 amax8 = _mm256_setzero_ps();
        for (int k = 0; k < GA_QK_K; k += 8) amax8 = _mm256_max_ps(amax8, _mm256_and_ps(_mm256_loadu_ps(x + k), abs_mask));
        const float amax = hmax_f32x8(amax8);
        if (amax == 0.0f) {
            memset(&y[b], 0, sizeof y[b]);
            continue;
        }
        /* the first element whose magnitude is amax, as the ref's strict '>' scan picks */
        float max = 0.0f;
        for (int j = 0; j < GA_QK_K; j++)
            if (fabsf(x[j]) == amax) { max = x[j]; break; }
        const float iscale = -127.0f / max;
        const __m256 vis = _mm256_set1_ps(iscale);
        const __m256i top = _mm256_set1_epi32(127);
        for (int k = 0; k < GA_QK_K; k += 32) {
            __m256i q[4];
            for (int m = 0; m < 4; m++) {
                /* nearest_int in the ref is round-half-even, as _MM_FROUND_TO_NEAREST_INT */
                const __m256 v = _mm256_round_ps(_mm256_mul_ps(vis, _mm256_loadu_ps(x + k + 8 * m)),
                                                 _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
                q[m] = _mm256_min_epi32(_mm256_cvtps_epi32(v), top);
            }
            _mm256_storeu_si256((__m256i *)(y[b].qs + k), pack_i32x32_to_i8(q[0], q[1], q[2], q[3]));
        }
        for (int g = 0; g < GA_QK_K / 16; g++) {
            const __m256i w = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(y[b].qs + 16 * g)));
            __m256i s = _mm256_madd_epi16(w, _mm256_set1_epi16(1));
            __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
            s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4E));
            s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xB1));
            y[b].bsums[g] = (int16_t)_mm_cvtsi128_si32(s4);
        }
        y[b].d = 1.0f / iscale;
    }
}

#endif /* x86 */
