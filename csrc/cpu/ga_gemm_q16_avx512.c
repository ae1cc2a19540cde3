/* ga_gemm_q16_avx512.c - the int16 GEMM micro-kernel (ga_gemm_q16.h): NR weight rows
 * times NT tokens per tile.  Each tile's rows are unpacked once to int16 codes and float
 * scales; per 32-element block every (row, 8 tokens) pair gets an int32 accumulator
 * (16 broadcast weight pairs x vpdpwssd), then one convert and one FMA with
 * d_w * d_x of those tokens.  12 integer and 12 float accumulators fit the 32 vector
 * registers AVX-512 VL provides at 256 bits. */
#if defined(__x86_64__) || defined(__i386__)
#include "ga_gemm_q16.h"
#include "ga_gemm_q16_impl.h"
#include "ga_simd_avx512.h"
#include "ga_types.h"

#define NR GA_GEMM_Q16_NR
#define NT GA_GEMM_Q16_NT

/* one row's blocks -> int16 codes and float scales */
GA_AVX512 static void unpack_row(int wtype, const uint8_t *b, int64_t nb, int16_t *codes, float *dw) {
    for (int64_t i = 0; i < nb; i++) {
        __m256i w0, w1;
        switch (wtype) {
        case GA_TYPE_Q4_0: GA_UNPACK16_Q4_0(b, w0, w1); dw[i] = f16_at(b); b += sizeof(ga_block_q4_0); break;
        case GA_TYPE_Q5_0: GA_UNPACK16_Q5_0(b, w0, w1); dw[i] = f16_at(b); b += sizeof(ga_block_q5_0); break;
        default: GA_UNPACK16_Q8_0(b, w0, w1); dw[i] = f16_at(b); b += sizeof(ga_block_q8_0); break;
        }
        _mm256_storeu_si256((__m256i *)(codes + 32 * i), w0);
        _mm256_storeu_si256((__m256i *)(codes + 32 * i + 16), w1);
    }
}

/* NR rows (codes/dw, nr of them real) x tokens [t0, t0 + NT): y[t][r0 + r] for r < nr, t < T */
GA_AVX512 static void tile(int64_t nb, const int16_t *codes, const float *dw, const int32_t *x2, const float *dx,
                           int TP, int t0, int T, float *y, int64_t ldy, int64_t r0, int nr) {
    __m256 f[NR][2];
    for (int r = 0; r < NR; r++) f[r][0] = f[r][1] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        __m256i a[NR][2];
        for (int r = 0; r < NR; r++) a[r][0] = a[r][1] = _mm256_setzero_si256();
        const int32_t *xb = x2 + b * 16 * TP + t0;
        for (int k = 0; k < 16; k++) {
            const __m256i x0 = _mm256_loadu_si256((const __m256i *)(xb + k * TP));
            const __m256i x1 = _mm256_loadu_si256((const __m256i *)(xb + k * TP + 8));
            for (int r = 0; r < NR; r++) {
                int32_t pair;
                memcpy(&pair, codes + (int64_t)r * nb * 32 + 32 * b + 2 * k, 4);
                const __m256i wp = _mm256_set1_epi32(pair);
                a[r][0] = _mm256_dpwssd_epi32(a[r][0], wp, x0);
                a[r][1] = _mm256_dpwssd_epi32(a[r][1], wp, x1);
            }
        }
        const __m256 d0 = _mm256_loadu_ps(dx + b * TP + t0), d1 = _mm256_loadu_ps(dx + b * TP + t0 + 8);
        for (int r = 0; r < NR; r++) {
            const __m256 s = _mm256_set1_ps(dw[r * nb + b]);
            f[r][0] = _mm256_fmadd_ps(_mm256_mul_ps(d0, s), _mm256_cvtepi32_ps(a[r][0]), f[r][0]);
            f[r][1] = _mm256_fmadd_ps(_mm256_mul_ps(d1, s), _mm256_cvtepi32_ps(a[r][1]), f[r][1]);
        }
    }
    const int nt = T - t0 < NT ? T - t0 : NT;
    float out[NT];
    for (int r = 0; r < nr; r++) {
        _mm256_storeu_ps(out, f[r][0]);
        _mm256_storeu_ps(out + 8, f[r][1]);
        for (int t = 0; t < nt; t++) y[(int64_t)(t0 + t) * ldy + r0 + r] = out[t];
    }
}

GA_AVX512 void ga_gemm_q16_rows_avx512(int wtype, const uint8_t *w, size_t row_bytes, int64_t n, const int32_t *x2,
                                       const float *dx, int T, float *y, int64_t ldy, int64_t r0, int64_t r1,
                                       int16_t *codes, float *dw) {
    const int64_t nb = n / 32;
    const int TP = ga_gemm_q16_padded(T);
    for (int64_t rt = r0; rt < r1; rt += NR) {
        const int nr = r1 - rt < NR ? (int)(r1 - rt) : NR;
        for (int r = 0; r < nr; r++) unpack_row(wtype, w + (size_t)(rt + r) * row_bytes, nb, codes + r * n, dw + r * nb);
        for (int r = nr; r < NR; r++) { /* padding rows: zero codes and scales */
            memset(codes + r * n, 0, (size_t)n * sizeof(int16_t));
            memset(dw + r * nb, 0, (size_t)nb * sizeof(float));
        }
        for (int t0 = 0; t0 < T; t0 += NT) tile(nb, codes, dw, x2, dx, TP, t0, T, y, ldy, rt, nr);
    }
}
#endif
