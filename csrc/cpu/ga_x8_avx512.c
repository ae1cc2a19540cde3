/* ga_x8_avx512.c - decode on interleaved Q4_0 / Q5_0 rows (ga_x8.h).
 *
 * Per block and group of 8 rows: 4 loads of nibbles give the 8 code vectors,
 * AVX-512 masks add Q5_0's fifth bits, and 16 vpdpbusd (8 against the hi bytes,
 * 8 against the lo bytes of the act16 split) leave row i's integer sums in
 * lane i.  s = 256 hi_sum + lo_sum - off sum(q16) is the signed block sum
 * (|s| <= 32 * 16 * 32512 < 2^31); one multiply-add with the 8 row scales
 * times the activation scale accumulates it.  act_bits=8 runs the hi half alone on
 * the int8 activations: s = sum - off sum(x).  off = 8 (Q4_0) or 16 (Q5_0).
 */
#if defined(__x86_64__) || defined(__i386__)
#include "ga_simd_avx512.h"
#include "ga_types.h"
#include "ga_x8.h"

/* per activation block: the sum of its codes (int16 codes q16 when given, else the int8
 * codes of x) and its scale */
GA_AVX512 static void block_sums(const ga_block_q8_0 *x, const int16_t *q16, int64_t nb, int32_t *sum, float *dx) {
    const __m256i one16 = _mm256_set1_epi16(1);
    const __m256i one8 = _mm256_set1_epi8(1);
    for (int64_t b = 0; b < nb; b++) {
        __m256i s;
        if (q16)
            s = _mm256_add_epi32(_mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)(q16 + b * GA_QK)), one16),
                                 _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)(q16 + b * GA_QK + 16)), one16));
        else
            s = _mm256_dpbusd_epi32(_mm256_setzero_si256(), one8, _mm256_loadu_si256((const __m256i *)x[b].qs));
        __m128i t = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
        t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0x4E));
        t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0xB1));
        sum[b] = _mm_cvtsi128_si32(t);
        dx[b] = _cvtsh_ss(x[b].d);
    }
}

GA_AVX512 static inline __m256i bcast4(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

GA_AVX512 static inline __m256i fifth_bits(__m256i c, const uint8_t *qh, int k) {
    uint32_t m;
    memcpy(&m, qh + 4 * k, 4);
    return _mm256_mask_add_epi8(c, _cvtu32_mask32(m), c, _mm256_set1_epi8(16));
}

/* Row groups [g0, g1) against int8 activations yh, plus yl (the lo bytes of act16, whose
 * sums combine as 256 hi + lo) when act16.  sum, dx: per block, from block_sums. */
GA_AVX512 static inline void rows_core(const void *packed, int64_t nb, const ga_block_q8_0 *yh,
                                       const ga_block_q8_0 *yl, const int32_t *sum, const float *dx, float *y,
                                       int64_t g0, int64_t g1, const int act16, const int q5) {
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    const size_t bytes = q5 ? 176 : 144;
    const int32_t off = q5 ? 16 : 8;
    const uint8_t *o = (const uint8_t *)packed + (size_t)(g0 * nb) * bytes;
    for (int64_t g = g0; g < g1; g++) {
        __m256 acc = _mm256_setzero_ps();
        for (int64_t b = 0; b < nb; b++, o += bytes) {
            const uint8_t *qs = o + 16, *qh = o + 144;
            const int8_t *xh = yh[b].qs, *xl = act16 ? yl[b].qs : NULL;
            __m256i h0 = _mm256_setzero_si256(), h1 = h0, l0 = h0, l1 = h0;
            for (int p = 0; p < 4; p++) {
                const __m256i v = _mm256_loadu_si256((const __m256i *)(qs + 32 * p));
                __m256i c0 = _mm256_and_si256(v, m4), c1 = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
                if (q5) {
                    c0 = fifth_bits(c0, qh, 2 * p);
                    c1 = fifth_bits(c1, qh, 2 * p + 1);
                }
                h0 = _mm256_dpbusd_epi32(h0, c0, bcast4(xh + 8 * p));
                h1 = _mm256_dpbusd_epi32(h1, c1, bcast4(xh + 8 * p + 4));
                if (act16) {
                    l0 = _mm256_dpbusd_epi32(l0, c0, bcast4(xl + 8 * p));
                    l1 = _mm256_dpbusd_epi32(l1, c1, bcast4(xl + 8 * p + 4));
                }
            }
            __m256i s = _mm256_add_epi32(h0, h1);
            if (act16) s = _mm256_add_epi32(_mm256_slli_epi32(s, 8), _mm256_add_epi32(l0, l1));
            s = _mm256_sub_epi32(s, _mm256_set1_epi32(off * sum[b]));
            const __m256 d = _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)o)), _mm256_set1_ps(dx[b]));
            acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(s), acc);
        }
        _mm256_storeu_ps(y + g * GA_X8_ROWS, acc);
    }
}

/* act_bits=16 when lo is given (hi, lo, q16), act_bits=8 otherwise (hi: the int8 blocks) */
GA_AVX512 static void rows(int wtype, const void *packed, int64_t cols, const void *hi, const void *lo,
                           const int16_t *q16, float *y, int64_t g0, int64_t g1) {
    const int64_t nb = cols / GA_QK;
    int32_t sum[GA_X8_MAX_COLS / GA_QK];
    float dx[GA_X8_MAX_COLS / GA_QK];
    block_sums(lo ? lo : hi, q16, nb, sum, dx);
    /* constant flags: each call below gets its own specialised copy of the loop */
    const int q5 = wtype == GA_TYPE_Q5_0;
    if (lo && q5) rows_core(packed, nb, hi, lo, sum, dx, y, g0, g1, 1, 1);
    else if (lo) rows_core(packed, nb, hi, lo, sum, dx, y, g0, g1, 1, 0);
    else if (q5) rows_core(packed, nb, hi, NULL, sum, dx, y, g0, g1, 0, 1);
    else rows_core(packed, nb, hi, NULL, sum, dx, y, g0, g1, 0, 0);
}

GA_AVX512 void ga_x8_rows16_avx512(int wtype, const void *packed, int64_t cols, const void *hi, const void *lo,
                                   const int16_t *q16, float *y, int64_t g0, int64_t g1) {
    rows(wtype, packed, cols, hi, lo, q16, y, g0, g1);
}

GA_AVX512 void ga_x8_rows8_avx512(int wtype, const void *packed, int64_t cols, const void *act, float *y,
                                  int64_t g0, int64_t g1) {
    rows(wtype, packed, cols, act, NULL, NULL, y, g0, g1);
}

#endif
