/* ga_gemm.c - prefill products on dequantized weight tiles (see ga_gemm.h).
 *
 * A tile of weight rows is dequantized once into f32 scratch sized to L2 and
 * multiplied with all T activation rows: the unpack cost is shared by T
 * tokens and the product runs at f32 FMA speed with no activation rounding
 * (exact up to f32 summation, closer to the reference than int8 + int8).
 */
#include <pthread.h>

#include "ga_cpu.h"
#include "ga_gemm.h"
#include "ga_quants.h"
#include "ga_types.h"

#ifdef GA_HAVE_OPENBLAS
#include <cblas.h>
static pthread_once_t blas_once = PTHREAD_ONCE_INIT;
/* our pool owns the threads: each calls sgemm on its own tile */
static void blas_single_thread(void) { openblas_set_num_threads(1); }
#endif

#define GA_GEMM_TILE_FLOATS 262144 /* 1 MiB of f32 weights per tile: fewer, larger sgemm calls (+10% over 128 KiB) */

int64_t ga_gemm_tile_rows(int64_t n) {
    int64_t r = n > 0 ? GA_GEMM_TILE_FLOATS / n : 16;
    r = r / 8 * 8;
    return r < 8 ? 8 : r;
}

/* Scratch for any row length up to max_n: a tile holds tile_rows(n) * n floats, which is at
 * most max(GA_GEMM_TILE_FLOATS, 8 * n) -- narrower matrices get more rows per tile. */
int64_t ga_gemm_scratch_floats(int64_t max_n) {
    return 8 * max_n > GA_GEMM_TILE_FLOATS ? 8 * max_n : GA_GEMM_TILE_FLOATS;
}

void ga_blas_single_thread(void) {
#ifdef GA_HAVE_OPENBLAS
    pthread_once(&blas_once, blas_single_thread);
#endif
}

int ga_gemm_uses_blas(void) {
#ifdef GA_HAVE_OPENBLAS
    return ga_kernels_avx2();
#else
    return 0;
#endif
}

/* portable twin: plain f32 sums in j order */
static void tile_ref(const float *wt, int64_t rows, int64_t n, const float *x, int T, int64_t ldx, float *y,
                     int64_t ldy) {
    for (int t = 0; t < T; t++) {
        const float *xt = x + (int64_t)t * ldx;
        for (int64_t r = 0; r < rows; r++) {
            const float *wr = wt + r * n;
            float s = 0.0f;
            for (int64_t j = 0; j < n; j++) s += wr[j] * xt[j];
            y[(int64_t)t * ldy + r] = s;
        }
    }
}

ga_status ga_gemm_f32_rows(int wtype, const void *w, int64_t n, const float *x, int T, int64_t ldx,
                           float *y, int64_t ldy, int64_t r0, int64_t r1, float *scratch, ga_error *err) {
    const ga_type_info *ti = ga_type_get(wtype);
    if (!ti || !ga_can_dequantize(wtype))
        return ga_fail(err, GA_ERR_UNSUPPORTED, "gemm cannot dequantize weight type %d", wtype);
    if (n <= 0 || n % ti->block_size || T < 0 || r0 < 0 || r1 < r0)
        return ga_fail(err, GA_ERR_ARG, "bad gemm shape");
    const size_t row_bytes = (size_t)(n / ti->block_size) * ti->type_size;
    const int64_t tile = ga_gemm_tile_rows(n);
    const int blas = ga_gemm_uses_blas();
#ifdef GA_HAVE_OPENBLAS
    if (blas) ga_blas_single_thread();
#endif
    for (int64_t rb = r0; rb < r1; rb += tile) {
        const int64_t rows = r1 - rb < tile ? r1 - rb : tile;
        const uint8_t *src = (const uint8_t *)w + (size_t)rb * row_bytes;
        ga_status st = ga_dequantize(wtype, src, scratch, rows * n, err);
        if (st) return st;
        if (blas) {
#ifdef GA_HAVE_OPENBLAS
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, (int)rows, (int)n, 1.0f, x, (int)ldx,
                        scratch, (int)n, 0.0f, y + rb, (int)ldy);
#endif
        } else {
            tile_ref(scratch, rows, n, x, T, ldx, y + rb, ldy);
        }
    }
    return GA_OK;
}
