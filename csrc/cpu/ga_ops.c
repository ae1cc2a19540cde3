/* ga_ops.c - portable rmsnorm, rope, gelu_tanh, softmax, dot, axpy (the *_ref definitions)
 * and the public functions, which pick the AVX2 twins (ga_ops_avx2.c) when allowed. */
#include <math.h>

#include "ga_cpu.h"
#include "ga_ops.h"

#if defined(__x86_64__) || defined(__i386__)
#define USE_AVX2() ga_kernels_avx2()
#else
#define USE_AVX2() 0
#endif

/* ---- rmsnorm ---- */

void ga_rmsnorm_ref(float *out, const float *x, const float *w, int64_t n, float eps) {
    double ss = 0.0;
    for (int64_t i = 0; i < n; i++) ss += (double)x[i] * x[i];
    const float scale = (float)(1.0 / sqrt(ss / (double)n + eps));
    for (int64_t i = 0; i < n; i++) out[i] = w ? (x[i] * scale) * w[i] : x[i] * scale;
}

/* ---- rope (NEOX pairs) ---- */

void ga_rope_angles(float *cos_out, float *sin_out, int64_t i0, int64_t count, int64_t rot_dim,
                    int64_t pos, float base, float freq_scale) {
    for (int64_t k = 0; k < count; k++) {
        const double theta = (double)pos * freq_scale *
                             pow((double)base, -2.0 * (double)(i0 + k) / (double)rot_dim);
        cos_out[k] = (float)cos(theta);
        sin_out[k] = (float)sin(theta);
    }
}

void ga_rope_angles_adjacent(float *cos_out, float *sin_out, int64_t d, int64_t pos, float base, float freq_scale) {
    for (int64_t i = 0; i < d / 2; i++) {
        const float inv = 1.0f / powf(base, (float)(2 * i) / (float)d);
        const float ang = (float)pos * (inv * freq_scale);
        cos_out[i] = cosf(ang);
        sin_out[i] = sinf(ang);
    }
}

/* rot_dim is clamped to head_dim and rounded down to even. */
void ga_rope_neox_ref(float *x, int64_t n_heads, int64_t head_dim, int64_t rot_dim, int64_t pos,
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
            for (int64_t k = 0; k < cnt; k++) {
                const float x0 = a[k], x1 = b[k];
                a[k] = x0 * c[k] - x1 * s[k];
                b[k] = x0 * s[k] + x1 * c[k];
            }
        }
    }
}

void ga_rope_neox_tab_ref(float *x, int64_t n_heads, int64_t head_dim, int64_t half, const float *c,
                          const float *s) {
    for (int64_t h = 0; h < n_heads; h++) {
        float *a = x + h * head_dim, *b = a + half;
        for (int64_t k = 0; k < half; k++) {
            const float x0 = a[k], x1 = b[k];
            a[k] = x0 * c[k] - x1 * s[k];
            b[k] = x0 * s[k] + x1 * c[k];
        }
    }
}

/* ---- gelu (tanh approximation) ---- */

static inline float gelu_tanh_1(float x) {
    return 0.5f * x * (1.0f + tanhf(0.7978845608f * (x + 0.044715f * x * x * x)));
}

void ga_gelu_tanh_ref(float *out, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) out[i] = gelu_tanh_1(x[i]);
}

void ga_gelu_tanh_mul_ref(float *out, const float *gate, const float *up, int64_t n) {
    for (int64_t i = 0; i < n; i++) out[i] = gelu_tanh_1(gate[i]) * up[i];
}

/* ---- softmax ---- */

void ga_softmax_ref(float *x, int64_t n) {
    float max = -INFINITY;
    for (int64_t i = 0; i < n; i++) max = x[i] > max ? x[i] : max;
    if (max == -INFINITY) { /* nothing finite to attend to: all zeros, no NaN */
        for (int64_t i = 0; i < n; i++) x[i] = 0.0f;
        return;
    }
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) {
        x[i] = expf(x[i] - max);
        sum += x[i];
    }
    const float inv = (float)(1.0 / sum);
    for (int64_t i = 0; i < n; i++) x[i] *= inv;
}

/* ---- dot, axpy ---- */

float ga_dot_f32_ref(const float *a, const float *b, int64_t n) {
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return (float)s;
}

void ga_axpy_f32_ref(float *y, float a, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] += a * x[i];
}

/* ---- dispatch ---- */

void ga_rmsnorm(float *out, const float *x, const float *w, int64_t n, float eps) {
    if (USE_AVX2()) ga_rmsnorm_avx2(out, x, w, n, eps);
    else ga_rmsnorm_ref(out, x, w, n, eps);
}

void ga_rope_neox_tab(float *x, int64_t n_heads, int64_t head_dim, int64_t half, const float *cos_t,
                      const float *sin_t) {
    if (USE_AVX2()) ga_rope_neox_tab_avx2(x, n_heads, head_dim, half, cos_t, sin_t);
    else ga_rope_neox_tab_ref(x, n_heads, head_dim, half, cos_t, sin_t);
}

void ga_rope_neox(float *x, int64_t n_heads, int64_t head_dim, int64_t rot_dim, int64_t pos,
                  float base, float freq_scale) {
    if (USE_AVX2()) ga_rope_neox_avx2(x, n_heads, head_dim, rot_dim, pos, base, freq_scale);
    else ga_rope_neox_ref(x, n_heads, head_dim, rot_dim, pos, base, freq_scale);
}

void ga_gelu_tanh(float *out, const float *x, int64_t n) {
    if (USE_AVX2()) ga_gelu_tanh_avx2(out, x, n);
    else ga_gelu_tanh_ref(out, x, n);
}

void ga_gelu_tanh_mul(float *out, const float *gate, const float *up, int64_t n) {
    if (USE_AVX2()) ga_gelu_tanh_mul_avx2(out, gate, up, n);
    else ga_gelu_tanh_mul_ref(out, gate, up, n);
}

void ga_softmax(float *x, int64_t n) {
    if (USE_AVX2()) ga_softmax_avx2(x, n);
    else ga_softmax_ref(x, n);
}

void ga_exp_f32_ref(float *out, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) out[i] = expf(x[i]);
}

void ga_exp_f32(float *out, const float *x, int64_t n) {
    if (USE_AVX2()) ga_exp_f32_avx2(out, x, n);
    else ga_exp_f32_ref(out, x, n);
}

float ga_dot_f32(const float *a, const float *b, int64_t n) {
    return USE_AVX2() ? ga_dot_f32_avx2(a, b, n) : ga_dot_f32_ref(a, b, n);
}

void ga_axpy_f32(float *y, float a, const float *x, int64_t n) {
    if (USE_AVX2()) ga_axpy_f32_avx2(y, a, x, n);
    else ga_axpy_f32_ref(y, a, x, n);
}
