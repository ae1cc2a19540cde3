/* TEMPORARY STUB (model branch only) - replaced by the kernels branch */
#ifndef GA_MATVEC_H
#define GA_MATVEC_H
#include <stddef.h>
#include <stdint.h>
#include "ga_common.h"
int ga_matvec_act_type(int wtype);
size_t ga_matvec_act_size(int wtype, int64_t n);
ga_status ga_matvec_quantize_act(int wtype, const float *x, void *act, int64_t n, ga_error *err);
ga_status ga_matvec_rows(int wtype, const void *w, int64_t n, const void *act, float *y, int64_t r0, int64_t r1, ga_error *err);
#endif
