/* ga_vecdot_avx2.c - AVX2 row dot products (twins of ga_vecdot_ref.c).
 *
 * Integer core as in llama.cpp on AVX2 without VNNI: _mm256_maddubs_epi16
 * multiplies unsigned x signed bytes and adds pairs into int16, then
 * _mm256_madd_epi16 widens pairs into int32.  Signed x signed uses the sign
 * trick (|w| and x * sign(w)).  No int16 overflow: weight codes are within
 * [-32, 63] or [-128, 127] and activation codes within [-127, 127], so a pair
 * sum is at most 2 * 128 * 127 = 32512.  The integer sums equal the _ref ones
 * exactly; only the float accumulation order differs (8 lanes, then a
 * horizontal sum).  Types without an AVX2 twin here (Q2_K, Q3_K) run the
 * portable versions (see ga_matvec.c).
 */
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "ga_blocks.h"
#include "ga_simd_avx2.h"
#include "ga_vecdot.h"

/* ---- legacy formats x Q8_0 ---------------------------------------------------------- */

GA_AVX2 float ga_vec_dot_q4_0_q8_0_avx2(int64_t n, const void *w, const void *act) {
    const uint8_t *b = w;
    const ga_block_q8_0 *y = act;
    const int64_t nb = n / GA_QK;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int64_t i = 0;
    /* two blocks per step, two accumulators: keeps both FMA ports busy */
    for (; i + 1 < nb; i += 2, b += 2 * sizeof(ga_block_q4_0)) {
        const uint8_t *b1 = b + sizeof(ga_block_q4_0);
        const __m256i w0 = _mm256_sub_epi8(unpack_nibbles_32(GA_FIELD(ga_block_q4_0, b, qs)), _mm256_set1_epi8(8));
        const __m256i w1 = _mm256_sub_epi8(unpack_nibbles_32(GA_FIELD(ga_block_q4_0, b1, qs)), _mm256_set1_epi8(8));
        const __m256i p0 = dot_i8_i8(w0, _mm256_loadu_si256((const __m256i *)y[i].qs));
        const __m256i p1 = dot_i8_i8(w1, _mm256_loadu_si256((const __m256i *)y[i + 1].qs));
        const float d0 = f16_at(GA_FIELD(ga_block_q4_0, b, d)) * _cvtsh_ss(y[i].d);
        const float d1 = f16_at(GA_FIELD(ga_block_q4_0, b1, d)) * _cvtsh_ss(y[i + 1].d);
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(d0), _mm256_cvtepi32_ps(p0), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_set1_ps(d1), _mm256_cvtepi32_ps(p1), acc1);
    }
    for (; i < nb; i++, b += sizeof(ga_block_q4_0)) {
        const __m256i w0 = _mm256_sub_epi8(unpack_nibbles_32(GA_FIELD(ga_block_q4_0, b, qs)), _mm256_set1_epi8(8));
        const __m256i p0 = dot_i8_i8(w0, _mm256_loadu_si256((const __m256i *)y[i].qs));
        const float d0 = f16_at(GA_FIELD(ga_block_q4_0, b, d)) * _cvtsh_ss(y[i].d);
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(d0), _mm256_cvtepi32_ps(p0), acc0);
    }
    return hsum_f32x8(_mm256_add_ps(acc0, acc1));
}

GA_AVX2 float ga_vec_dot_q4_1_q8_0_avx2(int64_t n, const void *w, const void *act) {
    const uint8_t *b = w;
    const ga_block_q8_0 *y = act;
    __m256 acc = _mm256_setzero_ps(), acc_m = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / GA_QK; i++, b += sizeof(ga_block_q4_1)) {
        const __m256i wq = unpack_nibbles_32(GA_FIELD(ga_block_q4_1, b, qs));
        const __m256i xq = _mm256_loadu_si256((const __m256i *)y[i].qs);
        const float dy = _cvtsh_ss(y[i].d);
        const float dxy = f16_at(GA_FIELD(ga_block_q4_1, b, d)) * dy;
        const float my = f16_at(GA_FIELD(ga_block_q4_1, b, m)) * dy;
        acc = _mm256_fmadd_ps(_mm256_set1_ps(dxy), _mm256_cvtepi32_ps(dot_u8_i8(wq, xq)), acc);
        acc_m = _mm256_fmadd_ps(_mm256_set1_ps(my), _mm256_cvtepi32_ps(code_sums_i8(xq)), acc_m);
    }
    return hsum_f32x8(_mm256_add_ps(acc, acc_m));
}

GA_AVX2 float ga_vec_dot_q5_0_q8_0_avx2(int64_t n, const void *w, const void *act) {
    const uint8_t *b = w;
    const ga_block_q8_0 *y = act;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / GA_QK; i++, b += sizeof(ga_block_q5_0)) {
        /* code - 16 = nibble | 0xF0 when the 5th bit is clear, the nibble itself when set */
        const __m256i high = _mm256_andnot_si256(expand_bits_32(GA_FIELD(ga_block_q5_0, b, qh)),
                                                 _mm256_set1_epi8((char)0xF0));
        const __m256i wq = _mm256_or_si256(unpack_nibbles_32(GA_FIELD(ga_block_q5_0, b, qs)), high);
        const __m256i p = dot_i8_i8(wq, _mm256_loadu_si256((const __m256i *)y[i].qs));
        const float d = f16_at(GA_FIELD(ga_block_q5_0, b, d)) * _cvtsh_ss(y[i].d);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(p), acc);
    }
    return hsum_f32x8(acc);
}

GA_AVX2 float ga_vec_dot_q5_1_q8_0_avx2(int64_t n, const void *w, const void *act) {
    const uint8_t *b = w;
    const ga_block_q8_0 *y = act;
    __m256 acc = _mm256_setzero_ps(), acc_m = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / GA_QK; i++, b += sizeof(ga_block_q5_1)) {
        const __m256i high = _mm256_and_si256(expand_bits_32(GA_FIELD(ga_block_q5_1, b, qh)),
                                              _mm256_set1_epi8(0x10));
        const __m256i wq = _mm256_or_si256(unpack_nibbles_32(GA_FIELD(ga_block_q5_1, b, qs)), high);
        const __m256i xq = _mm256_loadu_si256((const __m256i *)y[i].qs);
        const float dy = _cvtsh_ss(y[i].d);
        const float dxy = f16_at(GA_FIELD(ga_block_q5_1, b, d)) * dy;
        const float my = f16_at(GA_FIELD(ga_block_q5_1, b, m)) * dy;
        acc = _mm256_fmadd_ps(_mm256_set1_ps(dxy), _mm256_cvtepi32_ps(dot_u8_i8(wq, xq)), acc);
        acc_m = _mm256_fmadd_ps(_mm256_set1_ps(my), _mm256_cvtepi32_ps(code_sums_i8(xq)), acc_m);
    }
    return hsum_f32x8(_mm256_add_ps(acc, acc_m));
}

GA_AVX2 float ga_vec_dot_q8_0_q8_0_avx2(int64_t n, const void *w, const void *act) {
    const uint8_t *b = w;
    const ga_block_q8_0 *y = act;
    const int64_t nb = n / GA_QK;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 1 < nb; i += 2, b += 2 * sizeof(ga_block_q8_0)) {
        const uint8_t *b1 = b + sizeof(ga_block_q8_0);
        const __m256i w0 = _mm256_loadu_si256((const __m256i *)GA_FIELD(ga_block_q8_0, b, qs));
        const __m256i w1 = _mm256_loadu_si256((const __m256i *)GA_FIELD(ga_block_q8_0, b1, qs));
        const __m256i p0 = dot_i8_i8(w0, _mm256_loadu_si256((const __m256i *)y[i].qs));
        const __m256i p1 = dot_i8_i8(w1, _mm256_loadu_si256((const __m256i *)y[i + 1].qs));
        const float d0 = f16_at(GA_FIELD(ga_block_q8_0, b, d)) * _cvtsh_ss(y[i].d);
        const float d1 = f16_at(GA_FIELD(ga_block_q8_0, b1, d)) * _cvtsh_ss(y[i + 1].d);
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(d0), _mm256_cvtepi32_ps(p0), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_set1_ps(d1), _mm256_cvtepi32_ps(p1), acc1);
    }
    for (; i < nb; i++, b += sizeof(ga_block_q8_0)) {
        const __m256i w0 = _mm256_loadu_si256((const __m256i *)GA_FIELD(ga_block_q8_0, b, qs));
        const __m256i p0 = dot_i8_i8(w0, _mm256_loadu_si256((const __m256i *)y[i].qs));
        const float d0 = f16_at(GA_FIELD(ga_block_q8_0, b, d)) * _cvtsh_ss(y[i].d);
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(d0), _mm256_cvtepi32_ps(p0), acc0);
    }
    return hsum_f32x8(_mm256_add_ps(acc0, acc1));
}

/* ---- K formats x Q8_K --------------------------------------------------------------- */

/* sum_j mins[j] * (code sum of sub-block j), from the 16 bsums; exact in int32 */
GA_AVX2 static inline int k4_min_sum(const uint8_t mn[8], const ga_block_q8_K *y) {
    const __m256i bs = _mm256_loadu_si256((const __m256i *)y->bsums);
    const __m128i sub = _mm_hadd_epi16(_mm256_castsi256_si128(bs), _mm256_extracti128_si256(bs, 1));
    uint64_t m8;
    memcpy(&m8, mn, 8);
    const __m128i mins = _mm_cvtepu8_epi16(_mm_cvtsi64_si128((long long)m8));
    __m128i p = _mm_madd_epi16(mins, sub);
    p = _mm_add_epi32(p, _mm_shuffle_epi32(p, 0x4E));
    p = _mm_add_epi32(p, _mm_shuffle_epi32(p, 0xB1));
    return _mm_cvtsi128_si32(p);
}

GA_AVX2 float ga_vec_dot_q4_K_q8_K_avx2(int64_t n, const void *w, const void *act) {
    const uint8_t *b = w;
    const ga_block_q8_K *y = act;
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    __m256 acc = _mm256_setzero_ps();
    float acc_m = 0.0f;
    for (int64_t i = 0; i < n / GA_QK_K; i++, b += sizeof(ga_block_q4_K)) {
        uint8_t sc[8], mn[8];
        ga_unpack_k4_scales(GA_FIELD(ga_block_q4_K, b, scales), sc, mn);
        const uint8_t *q4 = GA_FIELD(ga_block_q4_K, b, qs);
        const int8_t *q8 = y[i].qs;
        __m256i sumi = _mm256_setzero_si256();
        for (int c = 0; c < 4; c++, q4 += 32, q8 += 64) {
            const __m256i bits = _mm256_loadu_si256((const __m256i *)q4);
            const __m256i lo = _mm256_and_si256(bits, m4);
            const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(bits, 4), m4);
            __m256i plo = _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)q8));
            __m256i phi = _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(q8 + 32)));
            plo = _mm256_madd_epi16(plo, _mm256_set1_epi16(sc[2 * c]));
            phi = _mm256_madd_epi16(phi, _mm256_set1_epi16(sc[2 * c + 1]));
            sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(plo, phi));
        }
        const float d = y[i].d * f16_at(GA_FIELD(ga_block_q4_K, b, d));
        const float dmin = y[i].d * f16_at(GA_FIELD(ga_block_q4_K, b, dmin));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
        acc_m += dmin * (float)k4_min_sum(mn, &y[i]);
    }
    return hsum_f32x8(acc) - acc_m;
}

GA_AVX2 float ga_vec_dot_q5_K_q8_K_avx2(int64_t n, const void *w, const void *act) {
    const uint8_t *b = w;
    const ga_block_q8_K *y = act;
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    const __m256i one = _mm256_set1_epi8(1);
    __m256 acc = _mm256_setzero_ps();
    float acc_m = 0.0f;
    for (int64_t i = 0; i < n / GA_QK_K; i++, b += sizeof(ga_block_q5_K)) {
        uint8_t sc[8], mn[8];
        ga_unpack_k4_scales(GA_FIELD(ga_block_q5_K, b, scales), sc, mn);
        const uint8_t *q4 = GA_FIELD(ga_block_q5_K, b, qs);
        const __m256i hbits = _mm256_loadu_si256((const __m256i *)GA_FIELD(ga_block_q5_K, b, qh));
        const int8_t *q8 = y[i].qs;
        __m256i sumi = _mm256_setzero_si256();
        for (int c = 0; c < 4; c++, q4 += 32, q8 += 64) {
            const __m256i bits = _mm256_loadu_si256((const __m256i *)q4);
            /* bit 2c / 2c+1 of each qh byte, moved to bit 4 (the 16-bit shifts leak bits across
             * bytes only above bit 0, which the mask drops) */
            const __m256i h_lo = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hbits, 2 * c), one), 4);
            const __m256i h_hi = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hbits, 2 * c + 1), one), 4);
            const __m256i lo = _mm256_or_si256(_mm256_and_si256(bits, m4), h_lo);
            const __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(bits, 4), m4), h_hi);
            __m256i plo = _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)q8));
            __m256i phi = _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(q8 + 32)));
            plo = _mm256_madd_epi16(plo, _mm256_set1_epi16(sc[2 * c]));
            phi = _mm256_madd_epi16(phi, _mm256_set1_epi16(sc[2 * c + 1]));
            sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(plo, phi));
        }
        const float d = y[i].d * f16_at(GA_FIELD(ga_block_q5_K, b, d));
        const float dmin = y[i].d * f16_at(GA_FIELD(ga_block_q5_K, b, dmin));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
        acc_m += dmin * (float)k4_min_sum(mn, &y[i]);
    }
    return hsum_f32x8(acc) - acc_m;
}

/* int16 lanes 0..7 = s0, 8..15 = s1 (the two scales of a 32-lane group) */
GA_AVX2 static inline __m256i scale_pair(int8_t s0, int8_t s1) {
    return _mm256_set_m128i(_mm_set1_epi16(s1), _mm_set1_epi16(s0));
}

GA_AVX2 float ga_vec_dot_q6_K_q8_K_avx2(int64_t n, const void *w, const void *act) {
    const uint8_t *b = w;
    const ga_block_q8_K *y = act;
    const __m256i k32 = _mm256_set1_epi8(32);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / GA_QK_K; i++, b += sizeof(ga_block_q6_K)) {
        const uint8_t *ql = GA_FIELD(ga_block_q6_K, b, ql);
        const uint8_t *qh = GA_FIELD(ga_block_q6_K, b, qh);
        const int8_t *sc = (const int8_t *)GA_FIELD(ga_block_q6_K, b, scales);
        const int8_t *q8 = y[i].qs;
        __m256i sumi = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++, ql += 64, qh += 32, q8 += 128, sc += 8) {
            __m256i q[4];
            q6k_codes(ql, qh, q);
            for (int g = 0; g < 4; g++) {
                const __m256i x8 = _mm256_loadu_si256((const __m256i *)(q8 + 32 * g));
                /* (q + 32) * x - 32 * x, both pair sums within int16 */
                const __m256i p = _mm256_sub_epi16(_mm256_maddubs_epi16(q[g], x8), _mm256_maddubs_epi16(k32, x8));
                sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p, scale_pair(sc[2 * g], sc[2 * g + 1])));
            }
        }
        const float d = y[i].d * f16_at(GA_FIELD(ga_block_q6_K, b, d));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    }
    return hsum_f32x8(acc);
}

/* ---- dual dot products (act_bits=16): one weight unpack, two integer dots ----------- */

/* legacy blocks, act16 (ga_act16.h): hi's scale is 256 times lo's, so per block
 * s = 256 * dot(w, hi) + dot(w, lo) in int32 (at most 32 * 128 * 127 * 257, no
 * overflow) and one float multiply-add with d_w * d_lo.  UNPACK gives the signed
 * weight codes of the block at byte pointer b. */
#define GA_LEGACY_DOT2(NAME, BLOCK, UNPACK)                                                     \
    GA_AVX2 static inline __m256 NAME##_block(const uint8_t *b, const ga_block_q8_0 *yh,        \
                                              const ga_block_q8_0 *yl, __m256 acc) {            \
        const __m256i wq = UNPACK;                                                              \
        const __m256i aw = _mm256_sign_epi8(wq, wq);                                            \
        const __m256i ph = _mm256_maddubs_epi16(aw, _mm256_sign_epi8(_mm256_loadu_si256((const __m256i *)yh->qs), wq)); \
        const __m256i pl = _mm256_maddubs_epi16(aw, _mm256_sign_epi8(_mm256_loadu_si256((const __m256i *)yl->qs), wq)); \
        const __m256i s = _mm256_add_epi32(_mm256_madd_epi16(ph, _mm256_set1_epi16(256)),      \
                                           _mm256_madd_epi16(pl, _mm256_set1_epi16(1)));        \
        const float d = f16_at(GA_FIELD(BLOCK, b, d)) * _cvtsh_ss(yl->d);                       \
        return _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(s), acc);                  \
    }                                                                                           \
    GA_AVX2 float NAME(int64_t n, const void *w, const void *a, const void *r) {                \
        const uint8_t *b = w;                                                                   \
        const ga_block_q8_0 *yh = a, *yl = r;                                                   \
        const int64_t nb = n / GA_QK;                                                           \
        __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();                          \
        int64_t i = 0;                                                                          \
        for (; i + 1 < nb; i += 2, b += 2 * sizeof(BLOCK)) {                                    \
            acc0 = NAME##_block(b, &yh[i], &yl[i], acc0);                                       \
            acc1 = NAME##_block(b + sizeof(BLOCK), &yh[i + 1], &yl[i + 1], acc1);               \
        }                                                                                       \
        if (i < nb) acc0 = NAME##_block(b, &yh[i], &yl[i], acc0);                               \
        return hsum_f32x8(_mm256_add_ps(acc0, acc1));                                           \
    }

GA_LEGACY_DOT2(ga_vec_dot2_q4_0_q8_0_avx2, ga_block_q4_0, GA_UNPACK_Q4_0(b))
GA_LEGACY_DOT2(ga_vec_dot2_q5_0_q8_0_avx2, ga_block_q5_0, GA_UNPACK_Q5_0(b))
GA_LEGACY_DOT2(ga_vec_dot2_q8_0_q8_0_avx2, ga_block_q8_0, GA_UNPACK_Q8_0(b))

GA_AVX2 float ga_vec_dot2_q4_K_q8_K_avx2(int64_t n, const void *w, const void *a, const void *r) {
    const uint8_t *b = w;
    const ga_block_q8_K *ya = a, *yr = r;
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    float acc_m = 0.0f;
    for (int64_t i = 0; i < n / GA_QK_K; i++, b += sizeof(ga_block_q4_K)) {
        uint8_t sc[8], mn[8];
        ga_unpack_k4_scales(GA_FIELD(ga_block_q4_K, b, scales), sc, mn);
        const uint8_t *q4 = GA_FIELD(ga_block_q4_K, b, qs);
        const int8_t *qa = ya[i].qs, *qr = yr[i].qs;
        __m256i suma = _mm256_setzero_si256(), sumr = _mm256_setzero_si256();
        for (int c = 0; c < 4; c++, q4 += 32, qa += 64, qr += 64) {
            const __m256i bits = _mm256_loadu_si256((const __m256i *)q4);
            const __m256i lo = _mm256_and_si256(bits, m4);
            const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(bits, 4), m4);
            const __m256i slo = _mm256_set1_epi16(sc[2 * c]), shi = _mm256_set1_epi16(sc[2 * c + 1]);
            const __m256i alo = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)qa)), slo);
            const __m256i ahi = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(qa + 32))), shi);
            const __m256i rlo = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)qr)), slo);
            const __m256i rhi = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(qr + 32))), shi);
            suma = _mm256_add_epi32(suma, _mm256_add_epi32(alo, ahi));
            sumr = _mm256_add_epi32(sumr, _mm256_add_epi32(rlo, rhi));
        }
        const float d = f16_at(GA_FIELD(ga_block_q4_K, b, d));
        const float dmin = f16_at(GA_FIELD(ga_block_q4_K, b, dmin));
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(d * ya[i].d), _mm256_cvtepi32_ps(suma), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_set1_ps(d * yr[i].d), _mm256_cvtepi32_ps(sumr), acc1);
        acc_m += (ya[i].d * dmin) * (float)k4_min_sum(mn, &ya[i]) + (yr[i].d * dmin) * (float)k4_min_sum(mn, &yr[i]);
    }
    return hsum_f32x8(_mm256_add_ps(acc0, acc1)) - acc_m;
}

GA_AVX2 float ga_vec_dot2_q6_K_q8_K_avx2(int64_t n, const void *w, const void *a, const void *r) {
    const uint8_t *b = w;
    const ga_block_q8_K *ya = a, *yr = r;
    const __m256i k32 = _mm256_set1_epi8(32);
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / GA_QK_K; i++, b += sizeof(ga_block_q6_K)) {
        const uint8_t *ql = GA_FIELD(ga_block_q6_K, b, ql);
        const uint8_t *qh = GA_FIELD(ga_block_q6_K, b, qh);
        const int8_t *sc = (const int8_t *)GA_FIELD(ga_block_q6_K, b, scales);
        const int8_t *qa = ya[i].qs, *qr = yr[i].qs;
        __m256i suma = _mm256_setzero_si256(), sumr = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++, ql += 64, qh += 32, qa += 128, qr += 128, sc += 8) {
            __m256i q[4];
            q6k_codes(ql, qh, q);
            for (int g = 0; g < 4; g++) {
                const __m256i s = scale_pair(sc[2 * g], sc[2 * g + 1]);
                const __m256i xa = _mm256_loadu_si256((const __m256i *)(qa + 32 * g));
                const __m256i xr = _mm256_loadu_si256((const __m256i *)(qr + 32 * g));
                const __m256i pa = _mm256_sub_epi16(_mm256_maddubs_epi16(q[g], xa), _mm256_maddubs_epi16(k32, xa));
                const __m256i pr = _mm256_sub_epi16(_mm256_maddubs_epi16(q[g], xr), _mm256_maddubs_epi16(k32, xr));
                suma = _mm256_add_epi32(suma, _mm256_madd_epi16(pa, s));
                sumr = _mm256_add_epi32(sumr, _mm256_madd_epi16(pr, s));
            }
        }
        const float d = f16_at(GA_FIELD(ga_block_q6_K, b, d));
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(d * ya[i].d), _mm256_cvtepi32_ps(suma), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_set1_ps(d * yr[i].d), _mm256_cvtepi32_ps(sumr), acc1);
    }
    return hsum_f32x8(_mm256_add_ps(acc0, acc1));
}

/* ---- float formats x F32 (4 accumulators of 8, scalar tail) ------------------------- */

#define GA_FLOAT_DOT(NAME, LOAD8, SCALAR)                                                  \
    GA_AVX2 float NAME(int64_t n, const void *w, const void *act) {                       \
        const uint8_t *b = w;                                                              \
        const float *x = act;                                                              \
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;                        \
        int64_t j = 0;                                                                     \
        for (; j + 32 <= n; j += 32) {                                                     \
            a0 = _mm256_fmadd_ps(LOAD8(b, j), _mm256_loadu_ps(x + j), a0);                 \
            a1 = _mm256_fmadd_ps(LOAD8(b, j + 8), _mm256_loadu_ps(x + j + 8), a1);         \
            a2 = _mm256_fmadd_ps(LOAD8(b, j + 16), _mm256_loadu_ps(x + j + 16), a2);       \
            a3 = _mm256_fmadd_ps(LOAD8(b, j + 24), _mm256_loadu_ps(x + j + 24), a3);       \
        }                                                                                  \
        for (; j + 8 <= n; j += 8) a0 = _mm256_fmadd_ps(LOAD8(b, j), _mm256_loadu_ps(x + j), a0); \
        float s = hsum_f32x8(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3))); \
        for (; j < n; j++) s += SCALAR(b, j) * x[j];                                       \
        return s;                                                                          \
    }

#define LOAD8_F32(b, j) _mm256_loadu_ps((const float *)((b) + 4 * (j)))
#define LOAD8_F16(b, j) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((b) + 2 * (j))))
#define LOAD8_BF16(b, j) _mm256_castsi256_ps(_mm256_slli_epi32( \
    _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)((b) + 2 * (j)))), 16))

GA_AVX2 static inline float f32_at(const uint8_t *b, int64_t j) { float v; memcpy(&v, b + 4 * j, 4); return v; }
GA_AVX2 static inline float f16_at_j(const uint8_t *b, int64_t j) { return f16_at(b + 2 * j); }
GA_AVX2 static inline float bf16_at_j(const uint8_t *b, int64_t j) {
    uint32_t u = (uint32_t)ga_load_u16(b + 2 * j) << 16;
    float v;
    memcpy(&v, &u, 4);
    return v;
}

GA_FLOAT_DOT(ga_vec_dot_f32_f32_avx2, LOAD8_F32, f32_at)
GA_FLOAT_DOT(ga_vec_dot_f16_f32_avx2, LOAD8_F16, f16_at_j)
GA_FLOAT_DOT(ga_vec_dot_bf16_f32_avx2, LOAD8_BF16, bf16_at_j)

#endif /* x86 */


