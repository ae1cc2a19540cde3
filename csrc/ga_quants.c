/* ga_quants.c - placeholder dispatcher until the block formats land. */
#include "ga_quants.h"
int ga_can_dequantize(int type) { (void)type; return 0; }
int ga_can_quantize(int type) { (void)type; return 0; }
ga_status ga_dequantize(int type, const void *src, float *dst, int64_t n, ga_error *err) {
    (void)src; (void)dst; (void)n;
    return ga_fail(err, GA_ERR_UNSUPPORTED, "type %d not implemented", type);
}
ga_status ga_quantize(int type, const float *src, void *dst, int64_t n, ga_error *err) {
    (void)src; (void)dst; (void)n;
    return ga_fail(err, GA_ERR_UNSUPPORTED, "type %d not implemented", type);
}
