/* TEMPORARY STUB (model branch only) - replaced by the kernels branch */
#ifndef GA_OPS_H
#define GA_OPS_H
#include <stdint.h>
void ga_rmsnorm(float *out, const float *x, const float *w, int64_t n, float eps);
void ga_rope_neox(float *x, int64_t n_heads, int64_t head_dim, int64_t rot_dim, int64_t pos, float base, float freq_scale);
void ga_gelu_tanh_mul(float *out, const float *gate, const float *up, int64_t n);
float ga_dot_f32(const float *a, const float *b, int64_t n);
void ga_axpy_f32(float *y, float a, const float *x, int64_t n);
#endif
