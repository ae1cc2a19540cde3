/* TEMPORARY STUB (model branch only): F32-only kernels to test the model early */
#include <math.h>
#include <string.h>
#include "ga_matvec.h"
#include "ga_ops.h"
#include "ga_types.h"
int ga_matvec_act_type(int wtype) { return wtype == GA_TYPE_F32 ? GA_TYPE_F32 : -1; }
size_t ga_matvec_act_size(int wtype, int64_t n) { (void)wtype; return (size_t)n * 4; }
ga_status ga_matvec_quantize_act(int wtype, const float *x, void *act, int64_t n, ga_error *err) { (void)wtype; (void)err; memcpy(act, x, (size_t)n * 4); return GA_OK; }
ga_status ga_matvec_rows(int wtype, const void *w, int64_t n, const void *act, float *y, int64_t r0, int64_t r1, ga_error *err) {
  (void)wtype; (void)err; const float *W = w, *x = act;
  for (int64_t r = r0; r < r1; r++) { float s = 0; for (int64_t i = 0; i < n; i++) s += W[r*n+i]*x[i]; y[r] = s; }
  return GA_OK; }
void ga_rmsnorm(float *out, const float *x, const float *w, int64_t n, float eps) {
  float ss = 0; for (int64_t i = 0; i < n; i++) ss += x[i]*x[i];
  float sc = 1.0f / sqrtf(ss / n + eps);
  for (int64_t i = 0; i < n; i++) out[i] = x[i] * sc * (w ? w[i] : 1.0f); }
void ga_rope_neox(float *x, int64_t n_heads, int64_t d, int64_t rot, int64_t pos, float base, float fs) {
  for (int64_t h = 0; h < n_heads; h++) { float *v = x + h*d;
    for (int64_t i = 0; i < rot/2; i++) { float inv = 1.0f / powf(base, (float)(2*i)/(float)rot);
      float a = (float)pos * (inv * fs); float c = cosf(a), s = sinf(a);
      float x0 = v[i], x1 = v[i+rot/2]; v[i] = x0*c - x1*s; v[i+rot/2] = x0*s + x1*c; } } }
void ga_gelu_tanh_mul(float *out, const float *g, const float *u, int64_t n) {
  for (int64_t i = 0; i < n; i++) { float x = g[i]; out[i] = 0.5f*x*(1.0f+tanhf(0.7978845608f*(x+0.044715f*x*x*x))) * u[i]; } }
float ga_dot_f32(const float *a, const float *b, int64_t n) { float s = 0; for (int64_t i = 0; i < n; i++) s += a[i]*b[i]; return s; }
void ga_axpy_f32(float *y, float a, const float *x, int64_t n) { for (int64_t i = 0; i < n; i++) y[i] += a*x[i]; }
