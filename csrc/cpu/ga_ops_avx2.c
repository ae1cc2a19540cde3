/* ga_ops_avx2.c - AVX2 twins of ga_ops.c.
 *
 * exp: Cephes-style range reduction (x = n ln2 + r, |r| <= ln2/2, ln2 split in two
 * parts) and a degree-5 polynomial for (e^r - 1 - r) / r^2.  Measured on 2e7 points of
 * [-87.3, 88]: max relative error 1.2e-7 vs exact exp (float64), 2.5e-7 vs float32 libm.
 * Inputs below -87.33 (and -inf) give exactly 0 (the true value is under 1.2e-38), inputs
 * above 88.02 saturate at e^88.02 = 1.7e38; NaN in, NaN out.
 * gelu_tanh uses the identity 0.5 (1 + tanh(u)) = 1 / (1 + e^(-2u)), so
 * gelu(x) = x / (1 + e^(-2u)): one exp and one division, no cancellation for x < 0
 * (where the tanh form loses digits).  Max abs error vs a float64 reference:
 * ~1e-7 * max(1, |x|) (see tests/test_kernels.py GELU_* bounds).
 */
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#include <math.h>

#include "ga_ops.h"

#define GA_AVX2 __attribute__((target("avx2,fma,f16c")))

GA_AVX2 static inline float hsum_f32x8(__m256 v) {
    __m128 r = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    r = _mm_add_ps(r, _mm_movehl_ps(r, r));
    r = _mm_add_ss(r, _mm_movehdup_ps(r));
    return _mm_cvtss_f32(r);
}

GA_AVX2 static inline __m256 exp_ps(__m256 x) {
    const __m256 lo = _mm256_set1_ps(-87.33f);
    const __m256 underflow = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
    /* min/max return their second operand when one is NaN: x goes second so NaN survives */
    x = _mm256_max_ps(lo, _mm256_min_ps(_mm256_set1_ps(88.02f), x));
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    const __m256i pow2n = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_andnot_ps(underflow, _mm256_mul_ps(p, _mm256_castsi256_ps(pow2n)));
}

/* Exposed for the accuracy measurement in the header comment (not part of ga_ops.h). */
GA_AVX2 void ga_exp_f32_avx2(float *out, const float *x, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, exp_ps(_mm256_loadu_ps(x + i)));
    for (; i < n; i++) out[i] = expf(x[i]);
}

/* ---- rmsnorm ---- */

GA_AVX2 void ga_rmsnorm_avx2(float *out, const float *x, const float *w, int64_t n, float eps) {
    __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i);
        const __m256d a = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
        const __m256d b = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
        s0 = _mm256_fmadd_pd(a, a, s0);
        s1 = _mm256_fmadd_pd(b, b, s1);
    }
    double lanes[4];
    _mm256_storeu_pd(lanes, _mm256_add_pd(s0, s1));
    double ss = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
    for (; i < n; i++) ss += (double)x[i] * x[i];
    const float scale = (float)(1.0 / sqrt(ss / (double)n + eps));
    const __m256 vs = _mm256_set1_ps(scale);
    i = 0;
    if (w) {
        for (; i + 8 <= n; i += 8)
            _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), vs),
                                                    _mm256_loadu_ps(w + i)));
        for (; i < n; i++) out[i] = (x[i] * scale) * w[i];
    } else {
        for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), vs));
        for (; i < n; i++) out[i] = x[i] * scale;
    }
}

/* ---- rope: same angles as the ref (ga_rope_angles), rotation without FMA -> identical ---- */

GA_AVX2 void ga_rope_neox_avx2(float *x, int64_t n_heads, int64_t head_dim, int64_t rot_dim, int64_t pos,
                               float base, float freq_scale) {
    if (rot_dim > head_dim) rot_dim = head_dim;
    const int64_t half = rot_dim / 2;
    enum { CHUNK = 64 };
    float c[CHUNK], s[CHUNK];
    for (int64_t i0 = 0; i0 < half; i0 += CHUNK) {
        const int64_t cnt = half - i0 < CHUNK ? half - i0 : CHUNK;
        ga_rope_angles(c, s, i0, cnt, 2 * half, pos, base, freq_scale);
        for (int64_t h = 0; h < n_heads; h++) {
            float *a = x + h * head_dim + i0, *b = a + half;
            int64_t k = 0;
            for (; k + 8 <= cnt; k += 8) {
                const __m256 x0 = _mm256_loadu_ps(a + k), x1 = _mm256_loadu_ps(b + k);
                const __m256 vc = _mm256_loadu_ps(c + k), vs = _mm256_loadu_ps(s + k);
                _mm256_storeu_ps(a + k, _mm256_sub_ps(_mm256_mul_ps(x0, vc), _mm256_mul_ps(x1, vs)));
                _mm256_storeu_ps(b + k, _mm256_add_ps(_mm256_mul_ps(x0, vs), _mm256_mul_ps(x1, vc)));
            }
            for (; k < cnt; k++) {
                const float x0 = a[k], x1 = b[k];
                a[k] = x0 * c[k] - x1 * s[k];
                b[k] = x0 * s[k] + x1 * c[k];
            }
        }
    }
}

GA_AVX2 void ga_rope_neox_tab_avx2(float *x, int64_t n_heads, int64_t head_dim, int64_t half, const float *c,
                                   const float *s) {
    for (int64_t h = 0; h < n_heads; h++) {
        float *a = x + h * head_dim, *b = a + half;
        int64_t k = 0;
        for (; k + 8 <= half; k += 8) {
            const __m256 x0 = _mm256_loadu_ps(a + k), x1 = _mm256_loadu_ps(b + k);
            const __m256 vc = _mm256_loadu_ps(c + k), vs = _mm256_loadu_ps(s + k);
            _mm256_storeu_ps(a + k, _mm256_sub_ps(_mm256_mul_ps(x0, vc), _mm256_mul_ps(x1, vs)));
            _mm256_storeu_ps(b + k, _mm256_add_ps(_mm256_mul_ps(x0, vs), _mm256_mul_ps(x1, vc)));
        }
        for (; k < half; k++) {
            const float x0 = a[k], x1 = b[k];
            a[k] = x0 * c[k] - x1 * s[k];
            b[k] = x0 * s[k] + x1 * c[k];
        }
    }
}

/* ---- gelu ---- */

/* x / (1 + e^(-2u)), -2u = x (-2 sqrt(2/pi) - 2 sqrt(2/pi) 0.044715 x^2) */
GA_AVX2 static inline __m256 gelu_ps(__m256 x) {
    const __m256 k = _mm256_fmadd_ps(_mm256_mul_ps(x, x), _mm256_set1_ps(-0.0713548162726f),
                                     _mm256_set1_ps(-1.5957691216f));
    const __m256 e = exp_ps(_mm256_mul_ps(x, k));
    return _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
}

static inline float gelu_1(float x) {
    return x / (1.0f + expf(x * (-1.5957691216f - 0.0713548162726f * x * x)));
}

GA_AVX2 void ga_gelu_tanh_avx2(float *out, const float *x, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, gelu_ps(_mm256_loadu_ps(x + i)));
    for (; i < n; i++) out[i] = gelu_1(x[i]);
}

GA_AVX2 void ga_gelu_tanh_mul_avx2(float *out, const float *gate, const float *up, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(out + i, _mm256_mul_ps(gelu_ps(_mm256_loadu_ps(gate + i)), _mm256_loadu_ps(up + i)));
    for (; i < n; i++) out[i] = gelu_1(gate[i]) * up[i];
}

/* ---- softmax ---- */

GA_AVX2 void ga_softmax_avx2(float *x, int64_t n) {
    __m256 vmax = _mm256_set1_ps(-INFINITY);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) vmax = _mm256_max_ps(vmax, _mm256_loadu_ps(x + i));
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(vmax), _mm256_extractf128_ps(vmax, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
    float max = _mm_cvtss_f32(m4);
    for (; i < n; i++) max = x[i] > max ? x[i] : max;
    if (max == -INFINITY) {
        for (i = 0; i < n; i++) x[i] = 0.0f;
        return;
    }
    const __m256 vm = _mm256_set1_ps(max);
    __m256 vsum = _mm256_setzero_ps();
    for (i = 0; i + 8 <= n; i += 8) {
        const __m256 e = exp_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm));
        _mm256_storeu_ps(x + i, e);
        vsum = _mm256_add_ps(vsum, e);
    }
    double sum = hsum_f32x8(vsum);
    for (; i < n; i++) {
        x[i] = expf(x[i] - max);
        sum += x[i];
    }
    const float inv = (float)(1.0 / sum);
    const __m256 vinv = _mm256_set1_ps(inv);
    for (i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), vinv));
    for (; i < n; i++) x[i] *= inv;
}

/* ---- dot, axpy ---- */

GA_AVX2 float ga_dot_f32_avx2(const float *a, const float *b, int64_t n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
        s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
        s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
    }
    for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    float s = hsum_f32x8(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

GA_AVX2 void ga_axpy_f32_avx2(float *y, float a, const float *x, int64_t n) {
    const __m256 va = _mm256_set1_ps(a);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++) y[i] += a * x[i];
}

#endif /* x86 */
