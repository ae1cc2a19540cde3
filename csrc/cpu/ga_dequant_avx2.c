/* ga_dequant_avx2.c - AVX2 twins of the dequantizers Gemma files use most
 * (F16, BF16, Q4_0, Q5_0, Q8_0, Q4_K, Q6_K).
 *
 * Bit-identical to ga_dequant_ref.c: the same scalar products are formed
 * (d*sc once per sub-block) and each element is one multiply and, for the
 * affine formats, one separate subtract -- never a fused multiply-add, which
 * would round differently.  All block loads are unaligned.  Every function
 * carries the target attribute; the dispatcher calls them only when the CPU
 * has AVX2+FMA+F16C (ga_kernels_avx2()).
 */
#if defined(__x86_64__) || defined(__i386__)

#include <immintrin.h>
#include <stddef.h>

#include "ga_blocks.h"
#include "ga_half.h"
#include "ga_quants_impl.h"

#define AVX2 __attribute__((target("avx2,fma,f16c")))

/* The low 8 signed bytes of v as floats. */
AVX2 static inline __m256 i8x8_to_ps(__m128i v) {
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(v));
}

/* Stores 16 signed bytes v times d as 16 floats. */
AVX2 static inline void store_i8x16_scaled(float *dst, __m128i v, __m256 d) {
    _mm256_storeu_ps(dst, _mm256_mul_ps(i8x8_to_ps(v), d));
    _mm256_storeu_ps(dst + 8, _mm256_mul_ps(i8x8_to_ps(_mm_unpackhi_epi64(v, v)), d));
}

/* F16C sets the quiet bit of signalling NaNs where NumPy and the portable path
 * keep the payload, so any group of 8 holding an inf/NaN goes the scalar way. */
AVX2 void ga_dequant_f16_avx2(const void *src, float *dst, int64_t n) {
    const uint8_t *p = src;
    const __m128i exp_mask = _mm_set1_epi16(0x7c00);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m128i h = _mm_loadu_si128((const __m128i *)(p + 2 * i));
        const __m128i special = _mm_cmpeq_epi16(_mm_and_si128(h, exp_mask), exp_mask);
        if (_mm_movemask_epi8(special)) {
            for (int j = 0; j < 8; j++) dst[i + j] = ga_fp16_to_fp32(ga_load_u16(p + 2 * (i + j)));
        } else {
            _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h));
        }
    }
    for (; i < n; i++) dst[i] = ga_fp16_to_fp32(ga_load_u16(p + 2 * i));
}

AVX2 void ga_dequant_bf16_avx2(const void *src, float *dst, int64_t n) {
    const uint8_t *p = src;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(p + 2 * i)));
        _mm256_storeu_ps(dst + i, _mm256_castsi256_ps(_mm256_slli_epi32(w, 16)));
    }
    for (; i < n; i++) dst[i] = ga_bf16_to_fp32(ga_load_u16(p + 2 * i));
}

AVX2 void ga_dequant_q8_0_avx2(const void *src, float *dst, int64_t n) {
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / GA_QK; i++, b += sizeof(ga_block_q8_0), dst += GA_QK) {
        const __m256 d = _mm256_set1_ps(ga_fp16_to_fp32(ga_load_u16(b)));
        const uint8_t *qs = b + offsetof(ga_block_q8_0, qs);
        store_i8x16_scaled(dst, _mm_loadu_si128((const __m128i *)qs), d);
        store_i8x16_scaled(dst + 16, _mm_loadu_si128((const __m128i *)(qs + 16)), d);
    }
}

AVX2 void ga_dequant_q4_0_avx2(const void *src, float *dst, int64_t n) {
    const uint8_t *b = src;
    const __m128i low4 = _mm_set1_epi8(0xF), eight = _mm_set1_epi8(8);
    for (int64_t i = 0; i < n / GA_QK; i++, b += sizeof(ga_block_q4_0), dst += GA_QK) {
        const __m256 d = _mm256_set1_ps(ga_fp16_to_fp32(ga_load_u16(b)));
        const __m128i qs = _mm_loadu_si128((const __m128i *)(b + offsetof(ga_block_q4_0, qs)));
        const __m128i lo = _mm_sub_epi8(_mm_and_si128(qs, low4), eight);                     /* 0..15 */
        const __m128i hi = _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(qs, 4), low4), eight);  /* 16..31 */
        store_i8x16_scaled(dst, lo, d);
        store_i8x16_scaled(dst + 16, hi, d);
    }
}

/* Q5_0: the fifth bit of element j is bit j of qh, spread to bytes with a
 * shuffle + bit-select compare (bytes_from_bits in ggml's SIMD code). */
AVX2 static inline __m128i fifth_bits_16(uint32_t qh16) {
    const __m128i bytes = _mm_shuffle_epi8(_mm_set1_epi32((int)qh16),
                                           _mm_set_epi64x(0x0101010101010101LL, 0));
    const __m128i bit = _mm_set1_epi64x((long long)0x8040201008040201ULL);
    return _mm_and_si128(_mm_cmpeq_epi8(_mm_and_si128(bytes, bit), bit), _mm_set1_epi8(0x10));
}

AVX2 void ga_dequant_q5_0_avx2(const void *src, float *dst, int64_t n) {
    const uint8_t *b = src;
    const __m128i low4 = _mm_set1_epi8(0xF), sixteen = _mm_set1_epi8(16);
    for (int64_t i = 0; i < n / GA_QK; i++, b += sizeof(ga_block_q5_0), dst += GA_QK) {
        const __m256 d = _mm256_set1_ps(ga_fp16_to_fp32(ga_load_u16(b)));
        const uint32_t qh = ga_load_u32(b + offsetof(ga_block_q5_0, qh));
        const __m128i qs = _mm_loadu_si128((const __m128i *)(b + offsetof(ga_block_q5_0, qs)));
        __m128i lo = _mm_or_si128(_mm_and_si128(qs, low4), fifth_bits_16(qh & 0xFFFF));
        __m128i hi = _mm_or_si128(_mm_and_si128(_mm_srli_epi16(qs, 4), low4), fifth_bits_16(qh >> 16));
        store_i8x16_scaled(dst, _mm_sub_epi8(lo, sixteen), d);
        store_i8x16_scaled(dst + 16, _mm_sub_epi8(hi, sixteen), d);
    }
}

/* Stores 16 unsigned levels v (bytes) as d*v - m. */
AVX2 static inline void store_u8x16_affine(float *dst, __m128i v, __m256 d, __m256 m) {
    const __m256 a = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(v));
    const __m256 b = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_unpackhi_epi64(v, v)));
    _mm256_storeu_ps(dst, _mm256_sub_ps(_mm256_mul_ps(d, a), m));
    _mm256_storeu_ps(dst + 8, _mm256_sub_ps(_mm256_mul_ps(d, b), m));
}

AVX2 void ga_dequant_q4_K_avx2(const void *src, float *dst, int64_t n) {
    const uint8_t *b = src;
    const __m256i low4 = _mm256_set1_epi8(0xF);
    for (int64_t i = 0; i < n / GA_QK_K; i++, b += sizeof(ga_block_q4_K), dst += GA_QK_K) {
        const float d = ga_fp16_to_fp32(ga_load_u16(b + offsetof(ga_block_q4_K, d)));
        const float dmin = ga_fp16_to_fp32(ga_load_u16(b + offsetof(ga_block_q4_K, dmin)));
        const uint8_t *scales = b + offsetof(ga_block_q4_K, scales);
        const uint8_t *qs = b + offsetof(ga_block_q4_K, qs);
        for (int c = 0; c < 4; c++) {
            uint8_t sc, m;
            ga_k4_scale_min(2 * c, scales, &sc, &m);
            const __m256 d1 = _mm256_set1_ps(d * (float)sc), m1 = _mm256_set1_ps(dmin * (float)m);
            ga_k4_scale_min(2 * c + 1, scales, &sc, &m);
            const __m256 d2 = _mm256_set1_ps(d * (float)sc), m2 = _mm256_set1_ps(dmin * (float)m);
            const __m256i q = _mm256_loadu_si256((const __m256i *)(qs + 32 * c));
            const __m256i lo = _mm256_and_si256(q, low4);
            const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), low4);
            float *y = dst + 64 * c;
            store_u8x16_affine(y, _mm256_castsi256_si128(lo), d1, m1);
            store_u8x16_affine(y + 16, _mm256_extracti128_si256(lo, 1), d1, m1);
            store_u8x16_affine(y + 32, _mm256_castsi256_si128(hi), d2, m2);
            store_u8x16_affine(y + 48, _mm256_extracti128_si256(hi, 1), d2, m2);
        }
    }
}

/* Q6_K, per half of 128: four 32-element quarters, each (4 low bits | 2 high
 * bits << 4) - 32, the first 16 with scale sc[2g], the next 16 with sc[2g+1]. */
AVX2 void ga_dequant_q6_K_avx2(const void *src, float *dst, int64_t n) {
    const uint8_t *b = src;
    const __m256i low4 = _mm256_set1_epi8(0xF), low2 = _mm256_set1_epi8(3);
    const __m256i bias = _mm256_set1_epi8(32);
    for (int64_t i = 0; i < n / GA_QK_K; i++, b += sizeof(ga_block_q6_K), dst += GA_QK_K) {
        const float d = ga_fp16_to_fp32(ga_load_u16(b + offsetof(ga_block_q6_K, d)));
        const int8_t *sc = (const int8_t *)(b + offsetof(ga_block_q6_K, scales));
        for (int h = 0; h < 2; h++) {
            const uint8_t *ql = b + offsetof(ga_block_q6_K, ql) + 64 * h;
            const uint8_t *qhp = b + offsetof(ga_block_q6_K, qh) + 32 * h;
            const __m256i ql0 = _mm256_loadu_si256((const __m256i *)ql);
            const __m256i ql1 = _mm256_loadu_si256((const __m256i *)(ql + 32));
            const __m256i qh = _mm256_loadu_si256((const __m256i *)qhp);
            __m256i q[4];
            q[0] = _mm256_and_si256(ql0, low4);
            q[1] = _mm256_and_si256(ql1, low4);
            q[2] = _mm256_and_si256(_mm256_srli_epi16(ql0, 4), low4);
            q[3] = _mm256_and_si256(_mm256_srli_epi16(ql1, 4), low4);
            for (int g = 0; g < 4; g++) {
                const __m256i high = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * g), low2);
                q[g] = _mm256_sub_epi8(_mm256_or_si256(q[g], _mm256_slli_epi16(high, 4)), bias);
                const __m256 da = _mm256_set1_ps(d * (float)sc[8 * h + 2 * g]);
                const __m256 db = _mm256_set1_ps(d * (float)sc[8 * h + 2 * g + 1]);
                float *y = dst + 128 * h + 32 * g;
                store_i8x16_scaled(y, _mm256_castsi256_si128(q[g]), da);
                store_i8x16_scaled(y + 16, _mm256_extracti128_si256(q[g], 1), db);
            }
        }
    }
}

#endif /* x86 */
