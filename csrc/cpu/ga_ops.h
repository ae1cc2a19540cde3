/* ga_ops.h - the small elementwise / per-row ops of the Gemma forward pass.
 *
 * All work on f32, in place when out == x.  Each public function dispatches
 * on ga_kernels_avx2() to its *_avx2 twin (ga_ops_avx2.c); the *_ref twins
 * (ga_ops.c) are the portable definitions.
 */
#ifndef GA_OPS_H
#define GA_OPS_H

#include <stdint.h>

/* out[n] = x / sqrt(mean(x^2) + eps) * w; w NULL means no weight.  Sum of squares in double. */
void ga_rmsnorm(float *out, const float *x, const float *w, int64_t n, float eps);
/* x: n_heads * head_dim contiguous.  NEOX: rotates pairs (i, i + rot_dim/2), i < rot_dim/2, by
 * angle pos * freq_scale * base^(-2i/rot_dim); elements >= rot_dim are left alone. */
void ga_rope_neox(float *x, int64_t n_heads, int64_t head_dim, int64_t rot_dim, int64_t pos,
                  float base, float freq_scale);
/* NEOX rotation of every head with precomputed tables: cos/sin[i] for pairs (i, i + half),
 * i < half (from ga_rope_angles(cos, sin, 0, half, 2 * half, ...)): the same products as
 * ga_rope_neox with rot_dim = 2 * half, without recomputing the angles. */
void ga_rope_neox_tab(float *x, int64_t n_heads, int64_t head_dim, int64_t half, const float *cos_t,
                      const float *sin_t);
/* out = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
void ga_gelu_tanh(float *out, const float *x, int64_t n);
/* out = gelu_tanh(gate) * up (fused) */
void ga_gelu_tanh_mul(float *out, const float *gate, const float *up, int64_t n);
/* in place, max-subtracted; -inf entries give 0; a row of only -inf gives all 0. */
void ga_softmax(float *x, int64_t n);
float ga_dot_f32(const float *a, const float *b, int64_t n);
/* out[i] = exp(x[i]) (in place when out == x); AVX2: max relative error 2.5e-7 vs expf */
void ga_exp_f32(float *out, const float *x, int64_t n);
/* y += a * x */
void ga_axpy_f32(float *y, float a, const float *x, int64_t n);

void ga_rmsnorm_ref(float *out, const float *x, const float *w, int64_t n, float eps);
void ga_rope_neox_ref(float *x, int64_t n_heads, int64_t head_dim, int64_t rot_dim, int64_t pos,
                      float base, float freq_scale);
void ga_rope_neox_tab_ref(float *x, int64_t n_heads, int64_t head_dim, int64_t half, const float *cos_t,
                          const float *sin_t);
void ga_gelu_tanh_ref(float *out, const float *x, int64_t n);
void ga_gelu_tanh_mul_ref(float *out, const float *gate, const float *up, int64_t n);
void ga_softmax_ref(float *x, int64_t n);
float ga_dot_f32_ref(const float *a, const float *b, int64_t n);
void ga_exp_f32_ref(float *out, const float *x, int64_t n);
void ga_axpy_f32_ref(float *y, float a, const float *x, int64_t n);

void ga_rmsnorm_avx2(float *out, const float *x, const float *w, int64_t n, float eps);
void ga_rope_neox_avx2(float *x, int64_t n_heads, int64_t head_dim, int64_t rot_dim, int64_t pos,
                       float base, float freq_scale);
void ga_rope_neox_tab_avx2(float *x, int64_t n_heads, int64_t head_dim, int64_t half, const float *cos_t,
                           const float *sin_t);
void ga_gelu_tanh_avx2(float *out, const float *x, int64_t n);
void ga_gelu_tanh_mul_avx2(float *out, const float *gate, const float *up, int64_t n);
void ga_softmax_avx2(float *x, int64_t n);
float ga_dot_f32_avx2(const float *a, const float *b, int64_t n);
void ga_exp_f32_avx2(float *out, const float *x, int64_t n);
void ga_axpy_f32_avx2(float *y, float a, const float *x, int64_t n);

/* RoPE angles for pairs [i0, i0 + count): cos/sin of pos * freq_scale * base^(-2i/rot_dim),
 * computed in double so ref and AVX2 rotate by identical factors. */
void ga_rope_angles(float *cos_out, float *sin_out, int64_t i0, int64_t count, int64_t rot_dim,
                    int64_t pos, float base, float freq_scale);
/* The angles of adjacent-pair RoPE (llama GGUF files), in float as the CPU applies them:
 * pair i of head_dim d turns by pos * (scale / base^(2i / d)), for i in [0, d / 2). */
void ga_rope_angles_adjacent(float *cos_out, float *sin_out, int64_t d, int64_t pos, float base, float freq_scale);

#endif
