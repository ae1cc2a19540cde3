/* ga_gemm_q16.c - the int16 prefill GEMM's driver: activation packing and the row loop
 * (the SIMD work is in ga_gemm_q16_avx512.c). */
#include <string.h>

#include "ga_act16.h"
#include "ga_blocks.h"
#include "ga_cpu.h"
#include "ga_gemm_q16.h"
#include "ga_gemm_q16_impl.h"
#include "ga_types.h"

int ga_gemm_q16_supports(int wtype) {
#if defined(__x86_64__) || defined(__i386__)
    if (!ga_kernels_avx512()) return 0;
    return ga_gemm_q16_type(wtype);
#else
    (void)wtype;
    return 0;
#endif
}

static size_t round64(size_t v) { return (v + 63) & ~(size_t)63; }

size_t ga_gemm_q16_scratch_bytes(int64_t n) {
    const size_t rows = round64((size_t)GA_GEMM_Q16_NR * n * sizeof(int16_t)) +
                        round64((size_t)GA_GEMM_Q16_NR * (n / 32) * sizeof(float));
    const size_t split = 2 * round64((size_t)(n / 32) * sizeof(ga_block_q8_0)) + round64((size_t)n * sizeof(int16_t));
    return rows > split ? rows : split;
}

void ga_gemm_q16_pack(const float *x, int64_t n, int64_t ldx, int T, int t0, int t1, int32_t *x2, float *dx,
                      void *scratch) {
    const int TP = ga_gemm_q16_padded(T);
    const int64_t nb = n / 32;
    ga_block_q8_0 *hi = scratch;
    ga_block_q8_0 *lo = (ga_block_q8_0 *)((uint8_t *)scratch + round64((size_t)nb * sizeof(ga_block_q8_0)));
    int16_t *q = (int16_t *)((uint8_t *)lo + round64((size_t)nb * sizeof(ga_block_q8_0)));
    for (int t = t0; t < t1; t++) {
        /* the act16 codes of this token, exactly as the matvec path makes them */
        ga_act16_split(GA_TYPE_Q8_0, x + (int64_t)t * ldx, hi, lo, q, n);
        for (int64_t b = 0; b < nb; b++) {
            dx[b * TP + t] = ga_act16_scale_q8_0(&lo[b]);
            for (int k = 0; k < 16; k++) memcpy(&x2[(b * 16 + k) * TP + t], &q[32 * b + 2 * k], 4);
        }
    }
    if (t1 == T)
        for (int64_t b = 0; b < nb; b++) {
            for (int t = T; t < TP; t++) dx[b * TP + t] = 0.0f;
            for (int k = 0; k < 16; k++)
                for (int t = T; t < TP; t++) x2[(b * 16 + k) * TP + t] = 0;
        }
}

ga_status ga_gemm_q16_rows(int wtype, const void *w, int64_t n, const int32_t *x2, const float *dx, int T,
                           float *y, int64_t ldy, int64_t r0, int64_t r1, void *scratch, ga_error *err) {
    if (!ga_gemm_q16_supports(wtype))
        return ga_fail(err, GA_ERR_UNSUPPORTED, "the int16 GEMM does not run type %d in this kernel set", wtype);
    if (n <= 0 || n % 32 || T < 1 || r0 < 0 || r1 < r0)
        return ga_fail(err, GA_ERR_ARG, "bad int16 GEMM shape (n %lld, T %d, rows [%lld, %lld))", (long long)n, T,
                       (long long)r0, (long long)r1);
#if defined(__x86_64__) || defined(__i386__)
    const ga_type_info *t = ga_type_get(wtype);
    const size_t row_bytes = (size_t)(n / 32) * t->type_size;
    int16_t *codes = scratch;
    float *dw = (float *)((uint8_t *)scratch + round64((size_t)GA_GEMM_Q16_NR * n * sizeof(int16_t)));
    ga_gemm_q16_rows_avx512(wtype, (const uint8_t *)w, row_bytes, n, x2, dx, T, y, ldy, r0, r1, codes, dw);
#else
    (void)x2; (void)dx; (void)y; (void)ldy; (void)scratch; (void)w;
#endif
    return GA_OK;
}
