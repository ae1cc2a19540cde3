/* ga_simd_avx2.h - AVX2 helpers shared by the integer dot products
 * (ga_vecdot_avx2.c and its kin): block unpacking and reductions. */
#ifndef GA_SIMD_AVX2_H
#define GA_SIMD_AVX2_H
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#include <string.h>

#include "ga_blocks.h"
#include "ga_vecdot.h"

#define GA_AVX2 __attribute__((target("avx2,fma,f16c")))

GA_AVX2 static inline float f16_at(const uint8_t *p) { return _cvtsh_ss(ga_load_u16(p)); }

GA_AVX2 static inline float hsum_f32x8(__m256 v) {
    __m128 r = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    r = _mm_add_ps(r, _mm_movehl_ps(r, r));
    r = _mm_add_ss(r, _mm_movehdup_ps(r));
    return _mm_cvtss_f32(r);
}

/* 16 bytes of nibble pairs -> 32 bytes: low nibbles in bytes 0..15, high nibbles in 16..31
 * (the order of elements in a legacy block). */
GA_AVX2 static inline __m256i unpack_nibbles_32(const uint8_t *p) {
    const __m128i packed = _mm_loadu_si128((const __m128i *)p);
    const __m256i both = _mm256_set_m128i(_mm_srli_epi16(packed, 4), packed);
    return _mm256_and_si256(both, _mm256_set1_epi8(0x0F));
}

/* 32 bits -> 32 bytes, byte j = 0xFF if bit j is set else 0. */
GA_AVX2 static inline __m256i expand_bits_32(const uint8_t *p) {
    uint32_t bits;
    memcpy(&bits, p, 4);
    const __m256i spread = _mm256_shuffle_epi8(_mm256_set1_epi32((int)bits),
        _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0));
    /* every bit of byte j set except bit j % 8: the byte is all ones iff that bit was set */
    const __m256i others = _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe);
    return _mm256_cmpeq_epi8(_mm256_or_si256(spread, others), _mm256_set1_epi64x(-1));
}

/* unsigned u8 x signed s8, 32 pairs -> 8 int32 partial sums */
GA_AVX2 static inline __m256i dot_u8_i8(__m256i u, __m256i s) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

/* signed x signed via the sign trick */
GA_AVX2 static inline __m256i dot_i8_i8(__m256i a, __m256i b) {
    return dot_u8_i8(_mm256_sign_epi8(a, a), _mm256_sign_epi8(b, a));
}

/* sum of a Q8_0 block's 32 codes, as 8 int32 partial sums */
GA_AVX2 static inline __m256i code_sums_i8(__m256i q) {
    return dot_u8_i8(_mm256_set1_epi8(1), q);
}

/* signed weight codes of one legacy block at byte pointer b */
#define GA_UNPACK_Q4_0(b) \
    _mm256_sub_epi8(unpack_nibbles_32(GA_FIELD(ga_block_q4_0, b, qs)), _mm256_set1_epi8(8))
/* code - 16 = nibble | 0xF0 when the 5th bit is clear, the nibble itself when set */
#define GA_UNPACK_Q5_0(b)                                                     \
    _mm256_or_si256(unpack_nibbles_32(GA_FIELD(ga_block_q5_0, b, qs)),        \
                    _mm256_andnot_si256(expand_bits_32(GA_FIELD(ga_block_q5_0, b, qh)), \
                                        _mm256_set1_epi8((char)0xF0)))
#define GA_UNPACK_Q8_0(b) _mm256_loadu_si256((const __m256i *)GA_FIELD(ga_block_q8_0, b, qs))

/* unsigned 6-bit codes (q + 32) of the four 32-element groups in one half of a Q6_K block */
GA_AVX2 static inline void q6k_codes(const uint8_t *ql, const uint8_t *qh, __m256i q[4]) {
    const __m256i m4 = _mm256_set1_epi8(0x0F), m2 = _mm256_set1_epi8(0x03);
    const __m256i l0 = _mm256_loadu_si256((const __m256i *)ql);
    const __m256i l1 = _mm256_loadu_si256((const __m256i *)(ql + 32));
    const __m256i hb = _mm256_loadu_si256((const __m256i *)qh);
    q[0] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(hb, m2), 4));
    q[1] = _mm256_or_si256(_mm256_and_si256(l1, m4),
                           _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2), m2), 4));
    q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4),
                           _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 4), m2), 4));
    q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                           _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 6), m2), 4));
}

#endif /* x86 */
#endif
