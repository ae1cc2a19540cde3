/* ga_backend_cpu.c - the CPU backend: its memory, its weight copies, and its ops.
 *
 * Every op splits its work over the process's thread pool.  Matrix products
 * read each weight row once per chunk and dot it with all T quantized
 * activations: rows go in small blocks so a block stays in L1 while the
 * chunk's activations stream past.  The kernels themselves (ga_matvec,
 * ga_gemm, ga_attention, ga_ops) know nothing of models or backends.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "ga_attention.h"
#include "ga_backend.h"
#include "ga_cpu.h"
#include "ga_gemm.h"
#include "ga_gemm_q16.h"
#include "ga_matvec.h"
#include "ga_ops.h"
#include "ga_quants.h"
#include "ga_threadpool.h"
#include "ga_types.h"
#include "ga_x8.h"

_Static_assert(GA_KV_PAGE == GA_ATTN_CHUNK, "attention walks one KV page per chunk of keys");

#define ROW_BLOCK 16 /* weight rows kept hot while all tokens of a chunk pass */
/* chunks of at least this many tokens use the f32 gemm on dequantized tiles: measured
 * faster than the integer dot products from here on (benchmarks/bench.py) */
#define GEMM_MIN_T 2
#define MAX_BUFS (16 + GA_MAX_LAYERS)
#define ROPE_SLOTS 4 /* RoPE tables kept per chunk: one per (base, scale, head_dim) in use */

enum { ACT_Q8_0, ACT_Q8_K, ACT_F32, ACT_FAMILIES };

typedef struct {
    float *data;   /* GA_MEM_KV: the K pages; GA_MEM_OUTPUT: NULL (bound per chunk) */
    float *data2;  /* GA_MEM_KV: the V pages */
    int kind;
    int64_t floats; /* capacity of data (and data2) */
    int64_t width;  /* GA_MEM_KV: floats per position */
} cpu_buf;

struct ga_pack_job {
    ga_weight *w[7 * GA_MAX_LAYERS];
    int n;
};

struct ga_backend {
    ga_hparams hp;
    ga_backend_params p;
    ga_pool *pool;             /* the chunk's: pool_all, or pool_one for one token */
    ga_pool *pool_all, *pool_one;
    cpu_buf bufs[MAX_BUFS];
    int n_bufs;
    float *output;         /* the GA_MEM_OUTPUT buffers during a chunk */
    const ga_chunk *c;     /* the chunk running */
    int32_t chunk_serial;
    uint8_t *act[ACT_FAMILIES];     /* quantized activations per family */
    uint8_t *act_res[ACT_FAMILIES]; /* act_bits=16: the lo codes (and int16 codes, ga_matvec.h) */
    size_t act_stride[ACT_FAMILIES], act_res_stride[ACT_FAMILIES];
    ga_attn_scratch attn;
    float *gemm_scratch;          /* per thread: one dequantized weight tile (prefill gemm) */
    int64_t gemm_scratch_stride;  /* floats per thread */
    /* int16 GEMM (ga_gemm_q16.h) for chunks of legacy-format weights in the avx512 set:
     * packed activations of one chunk, per-thread scratch; NULL where the CPU lacks it */
    int32_t *q16_x2;
    float *q16_dx;
    uint8_t *q16_scratch;
    size_t q16_scratch_stride;
    /* RoPE tables of the current chunk, [ROPE_SLOTS][n_batch][max head_dim / 2] each: filled
     * by the first layer with those angles, reused by the others */
    float *rope_cos, *rope_sin;
    struct { int32_t serial; float base, scale; int64_t half; } rope_key[ROPE_SLOTS];
    int rope_next;
    int64_t rope_half_max;
    int rope_tables;              /* 0 when GA_ROPE=direct (angles per call) */
    int attn_blocked;             /* prefill attention on sgemm blocks (GA_ATTN=one: per query) */
    int fused_dot2;               /* act_bits=16: dual kernels (GA_FUSED=0: two single dots) */
    int gemm_min_t;               /* chunks of at least this many tokens take the f32 gemm path */
    void *packed_arena;           /* the interleaved weight copies (ga_weight.packed point into it) */
    struct ga_pack_job *pack_job; /* the weights with copies, or NULL */
    int pack_pending;             /* 1 until the copies are filled */
    uint64_t reserved;
};

static int act_family(int wtype) {
    switch (ga_matvec_act_type(wtype)) {
    case GA_TYPE_Q8_0: return ACT_Q8_0;
    case GA_TYPE_Q8_K: return ACT_Q8_K;
    case GA_TYPE_F32: return ACT_F32;
    default: return -1;
    }
}

/* ------------------------------------------------------------------ memory */

/* Counts n bytes against the budget; 0 when they do not fit. */
static int reserve(ga_backend *be, uint64_t n) {
    if (be->p.budget_bytes && be->reserved + n > be->p.budget_bytes) return 0;
    be->reserved += n;
    return 1;
}

static ga_status over_budget(ga_backend *be, uint64_t n, ga_error *err) {
    return ga_fail(err, GA_ERR_NOMEM, "the CPU backend needs %llu more bytes than its budget of %llu allows "
                   "(%llu reserved)", (unsigned long long)n, (unsigned long long)be->p.budget_bytes,
                   (unsigned long long)be->reserved);
}

/* n zeroed bytes, counted against the budget: from the arena when there is one (named
 * for its memory plan), else the heap (calloc: large blocks are mmapped, and untouched pages
 * cost no RSS; aligned64: 64-byte aligned for the SIMD kernels that need it).  NULL when
 * the budget, the arena or the heap is exhausted. */
static void *cpu_mem(ga_backend *be, size_t n, const char *name, int aligned64) {
    if (!reserve(be, n)) return NULL;
    if (be->p.arena) return ga_arena_alloc(be->p.arena, n, name);
    if (!aligned64) return calloc(1, n ? n : 1);
    void *p = aligned_alloc(64, (n + 63) & ~(size_t)63);
    if (p) memset(p, 0, n);
    return p;
}

static void cpu_release(ga_backend *be, void *p) {
    if (!be->p.arena) free(p); /* arena memory goes with the arena */
}

static float *cpu_floats(ga_backend *be, int64_t n, const char *name) {
    return cpu_mem(be, (size_t)n * sizeof(float), name, 0);
}

static ga_status cpu_alloc(ga_backend *be, ga_mem_kind kind, int layer, int64_t rows, int64_t width, ga_buf *out,
                           ga_error *err) {
    (void)layer;
    if (be->n_bufs == MAX_BUFS) return ga_fail(err, GA_ERR_ARG, "the CPU backend has no more buffer handles");
    if (rows < 1 || width < 1 || rows > (INT64_C(1) << 40) / width)
        return ga_fail(err, GA_ERR_ARG, "buffer of %lld x %lld floats", (long long)rows, (long long)width);
    cpu_buf *b = &be->bufs[be->n_bufs];
    *b = (cpu_buf){.kind = kind, .floats = rows * width, .width = width};
    if (kind != GA_MEM_OUTPUT) {
        const uint64_t bytes = (uint64_t)(rows * width) * sizeof(float) * (kind == GA_MEM_KV ? 2 : 1);
        if (be->p.budget_bytes && be->reserved + bytes > be->p.budget_bytes) return over_budget(be, bytes, err);
        const char *name = kind == GA_MEM_KV ? "KV cache" : "activations";
        if (!(b->data = cpu_floats(be, rows * width, name)) ||
            (kind == GA_MEM_KV && !(b->data2 = cpu_floats(be, rows * width, name)))) {
            cpu_release(be, b->data);
            b->data = NULL;
            return ga_fail(err, GA_ERR_NOMEM, "out of memory for %llu bytes", (unsigned long long)bytes);
        }
    }
    *out = be->n_bufs++;
    return GA_OK;
}

static cpu_buf *buf_of(ga_backend *be, ga_buf b) {
    return b >= 0 && b < be->n_bufs ? &be->bufs[b] : NULL;
}

static float *data_of(ga_backend *be, ga_buf b) {
    cpu_buf *cb = buf_of(be, b);
    if (!cb) return NULL;
    return cb->kind == GA_MEM_OUTPUT ? be->output : cb->data;
}

/* The op may touch rows [row0, row0 + rows) of width floats in b. */
static ga_status check_rows(ga_backend *be, ga_buf b, int64_t row0, int64_t rows, int64_t width, const char *what,
                            ga_error *err) {
    cpu_buf *cb = buf_of(be, b);
    if (!cb || (cb->kind == GA_MEM_OUTPUT && !be->output))
        return ga_fail(err, GA_ERR_ARG, "%s: no such buffer (%d)", what, (int)b);
    if (row0 < 0 || rows < 0 || width < 1 || row0 + rows > cb->floats / width)
        return ga_fail(err, GA_ERR_ARG, "%s: rows %lld..%lld of width %lld overrun a buffer of %lld floats", what,
                       (long long)row0, (long long)(row0 + rows), (long long)width, (long long)cb->floats);
    return GA_OK;
}

/* floats [off, off + n) of buffer b; a KV buffer's K pages come first, then its V pages */
static float *span_of(ga_backend *be, ga_buf b, int64_t off, int64_t n, ga_error *err) {
    cpu_buf *cb = buf_of(be, b);
    if (!cb || cb->kind == GA_MEM_OUTPUT) {
        ga_fail(err, GA_ERR_ARG, "buffer %d cannot be read or written from the host", (int)b);
        return NULL;
    }
    const int64_t total = cb->floats * (cb->kind == GA_MEM_KV ? 2 : 1);
    const int64_t half = cb->kind == GA_MEM_KV ? cb->floats : total;
    if (off < 0 || n < 0 || off > total - n || (off < half && off + n > half)) {
        ga_fail(err, GA_ERR_ARG, "floats %lld..%lld are outside buffer %d (%lld floats)", (long long)off,
                (long long)(off + n), (int)b, (long long)total);
        return NULL;
    }
    return off < half ? cb->data + off : cb->data2 + (off - half);
}

static ga_status cpu_write(ga_backend *be, ga_buf b, int64_t off, int64_t n, const float *src, ga_error *err) {
    float *dst = span_of(be, b, off, n, err);
    if (!dst) return GA_ERR_ARG;
    memcpy(dst, src, (size_t)n * sizeof(float));
    return GA_OK;
}

static ga_status cpu_read(ga_backend *be, ga_buf b, int64_t off, int64_t n, float *dst, ga_error *err) {
    const float *src = span_of(be, b, off, n, err);
    if (!src) return GA_ERR_ARG;
    memcpy(dst, src, (size_t)n * sizeof(float));
    return GA_OK;
}

static uint64_t cpu_reserved(const ga_backend *be) { return be->reserved; }

/* ----------------------------------------------------------------- lifetime */

static const char *env_is(const char *name, const char *value) {
    const char *v = getenv(name);
    return v && strcmp(v, value) == 0 ? v : NULL;
}

static void cpu_free(ga_backend *be);

static ga_status cpu_init(const ga_backend_params *p, const ga_hparams *hp, ga_backend **out, ga_error *err) {
    ga_backend *be = calloc(1, sizeof *be);
    if (!be) return ga_fail(err, GA_ERR_NOMEM, "out of memory");
    be->hp = *hp;
    be->p = *p;
    ga_status st = ga_pool_new(p->n_threads, &be->pool_all, err);
    if (st) { free(be); return st; }
    be->pool = be->pool_all;
    if (p->n_threads_decode > 0 && p->n_threads_decode < p->n_threads &&
        (st = ga_pool_new(p->n_threads_decode, &be->pool_one, err))) {
        cpu_free(be);
        return st;
    }
    int64_t max_head = 1, max_hd = 2;
    for (int l = 0; l < hp->n_layer; l++) {
        if (hp->layer[l].n_head > max_head) max_head = hp->layer[l].n_head;
        if (hp->layer[l].head_dim > max_hd) max_hd = hp->layer[l].head_dim;
    }
    /* the process-wide knobs (docs/ARCHITECTURE.md), read once here */
    be->rope_tables = hp->rope_neox && !env_is("GA_ROPE", "direct");
    be->attn_blocked = !env_is("GA_ATTN", "one");
    be->fused_dot2 = !env_is("GA_FUSED", "0");
    be->gemm_min_t = env_is("GA_GEMM", "int") ? 0 : GEMM_MIN_T;
    be->rope_half_max = max_hd / 2;
    for (int i = 0; i < ROPE_SLOTS; i++) be->rope_key[i].serial = -1;
    int ok = 1;
    if (be->rope_tables) {
        const int64_t n = ROPE_SLOTS * (int64_t)p->n_batch * be->rope_half_max;
        ok &= (be->rope_cos = cpu_floats(be, n, "RoPE tables")) != NULL;
        ok &= (be->rope_sin = cpu_floats(be, n, "RoPE tables")) != NULL;
    }
    void *attn_mem = NULL;
    if (ok && p->arena)
        ok = (attn_mem = cpu_mem(be, ga_attn_scratch_need(p->n_threads, max_head, max_hd), "attention scratch", 1))
             != NULL;
    if (ok && ga_attn_scratch_init(&be->attn, p->n_threads, max_head, max_hd, attn_mem) != GA_OK) ok = 0;
    if (ok && !p->arena && !reserve(be, ga_attn_scratch_bytes(&be->attn))) ok = 0;
    if (!ok) {
        cpu_free(be);
        return ga_fail(err, GA_ERR_NOMEM, "out of memory (or budget) for the CPU backend's scratch");
    }
    *out = be;
    return GA_OK;
}

static void cpu_free(ga_backend *be) {
    if (!be) return;
    ga_pool_free(be->pool_all);
    if (be->pool_one) ga_pool_free(be->pool_one);
    for (int i = 0; i < be->n_bufs; i++) { cpu_release(be, be->bufs[i].data); cpu_release(be, be->bufs[i].data2); }
    for (int f = 0; f < ACT_FAMILIES; f++) { cpu_release(be, be->act[f]); cpu_release(be, be->act_res[f]); }
    cpu_release(be, be->gemm_scratch);
    cpu_release(be, be->q16_x2); cpu_release(be, be->q16_dx); cpu_release(be, be->q16_scratch);
    cpu_release(be, be->rope_cos); cpu_release(be, be->rope_sin);
    ga_attn_scratch_free(&be->attn);
    free(be->packed_arena);
    free(be->pack_job);
    free(be);
}

static int cpu_supports(const ga_backend *be, ga_op op, int wtype) {
    (void)be;
    if (op < 0 || op >= GA_OP_COUNT) return 0;
    if (wtype < 0) return 1; /* the op in general */
    if (op == GA_OP_GET_ROWS) return ga_can_dequantize(wtype);
    if (op == GA_OP_MATMUL) return act_family(wtype) >= 0;
    return 1;
}

/* ------------------------------------------------------- interleaved copies */

static void pack_part(void *p, int ith, int nth) {
    const struct ga_pack_job *t = p;
    for (int i = 0; i < t->n; i++) {
        const ga_weight *w = t->w[i];
        int64_t g0, g1;
        ga_split(w->rows / GA_X8_ROWS, ith, nth, &g0, &g1);
        ga_x8_pack(w->type, w->data, w->cols, g0, g1, (void *)w->packed);
    }
}

/* Decode in the avx512 set runs Q4_0 and Q5_0 layer weights from an 8-row
 * interleaved copy (ga_x8.h): as many bytes again as those weights, in one arena
 * reserved here and filled on all threads when a row kernel first needs it
 * (finish_packing).  GA_PACK=0 skips it.  0 when out of memory or budget. */
static int pack_weights(ga_backend *be, ga_weights *w) {
    if (env_is("GA_PACK", "0") || be->p.weights_move || be->p.arena || !ga_kernel_set_runnable(GA_KSET_AVX512))
        return 1;
    struct ga_pack_job *t = calloc(1, sizeof *t);
    if (!t) return 0;
    size_t total = 0;
    for (int l = 0; l < be->hp.n_layer; l++) {
        ga_layer_weights *L = &w->layers[l];
        ga_weight *lw[7] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->gate, &L->up, &L->down};
        for (int i = 0; i < 7; i++)
            if (lw[i]->data && ga_x8_applies(lw[i]->type, lw[i]->rows, lw[i]->cols)) {
                t->w[t->n++] = lw[i];
                total += (ga_x8_bytes(lw[i]->type, lw[i]->rows, lw[i]->cols) + 63) & ~(size_t)63;
            }
    }
    if (t->n == 0) { free(t); return 1; }
    /* 2 MiB aligned so transparent huge pages can back it: fewer TLB misses */
    if (!reserve(be, total) || posix_memalign(&be->packed_arena, (size_t)2 << 20, total) != 0) {
        be->packed_arena = NULL;
        free(t);
        return 0;
    }
#ifdef MADV_HUGEPAGE
    madvise(be->packed_arena, total, MADV_HUGEPAGE);
#endif
    uint8_t *p = be->packed_arena;
    for (int i = 0; i < t->n; i++) {
        t->w[i]->packed = p;
        p += (ga_x8_bytes(t->w[i]->type, t->w[i]->rows, t->w[i]->cols) + 63) & ~(size_t)63;
    }
    be->pack_job = t;
    be->pack_pending = 1;
    return 1;
}

/* Fills the interleaved copies on the first call (all threads); later calls return at
 * once.  The row-kernel paths call it first: the copies cost no time before a token
 * needs them, so load and the first (prefilled) token do not wait for them. */
static void finish_packing(ga_backend *be) {
    if (!be->pack_pending) return;
    ga_pool_run(be->pool, pack_part, be->pack_job);
    be->pack_pending = 0; /* the job stays until free: nothing is freed mid-generation */
}

static ga_status cpu_load_weights(ga_backend *be, ga_weights *w, ga_error *err) {
    const int64_t B = be->p.n_batch;
    const int n_threads = be->p.n_threads;
    /* activation buffers: the widest input any weight of each family takes */
    const ga_weight *all[7 * GA_MAX_LAYERS + 1];
    int n_all = 0;
    all[n_all++] = &w->output;
    for (int l = 0; l < be->hp.n_layer; l++) {
        ga_layer_weights *L = &w->layers[l];
        const ga_weight *lw[7] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->gate, &L->up, &L->down};
        for (int i = 0; i < 7; i++)
            if (lw[i]->data) all[n_all++] = lw[i];
    }
    int64_t max_cols = 0, q16_cols = 0;
    for (int i = 0; i < n_all; i++) {
        if (all[i]->cols > max_cols) max_cols = all[i]->cols;
        if (ga_gemm_q16_type(all[i]->type) && all[i]->cols > q16_cols) q16_cols = all[i]->cols;
        const int fam = act_family(all[i]->type);
        if (fam < 0) return ga_fail(err, GA_ERR_UNSUPPORTED, "weight type %d has no CPU matmul", all[i]->type);
        size_t size = (ga_matvec_act_size(all[i]->type, all[i]->cols) + 63) & ~(size_t)63;
        if (size > be->act_stride[fam]) be->act_stride[fam] = size;
        size = (ga_matvec_act_res_size(all[i]->type, all[i]->cols) + 63) & ~(size_t)63;
        if (size > be->act_res_stride[fam]) be->act_res_stride[fam] = size;
    }
    int ok = 1;
    for (int f = 0; f < ACT_FAMILIES && ok; f++) {
        if (!be->act_stride[f]) continue;
        ok &= (be->act[f] = cpu_mem(be, (size_t)B * be->act_stride[f], "quantized activations", 0)) != NULL;
        if (ok && f != ACT_F32 && be->p.act_bits == 16)
            ok &= (be->act_res[f] = cpu_mem(be, (size_t)B * be->act_res_stride[f], "quantized activations", 0)) != NULL;
    }
    /* prefill path (ga_gemm.c): GA_GEMM=int keeps the integer path for every chunk */
    if (ok && be->gemm_min_t > 0 && B >= be->gemm_min_t) {
        be->gemm_scratch_stride = (ga_gemm_scratch_floats(max_cols) + 15) & ~(int64_t)15;
        ok &= (be->gemm_scratch = cpu_floats(be, (int64_t)n_threads * be->gemm_scratch_stride, "gemm tiles")) != NULL;
    }
    /* the int16 GEMM's buffers, wherever the CPU could run it (the kernel set may change later) */
    if (ok && q16_cols && ga_kernel_set_runnable(GA_KSET_AVX512) && !env_is("GA_GEMM", "f32") &&
        B >= GA_GEMM_Q16_MIN_T) {
        const size_t x2 = (ga_gemm_q16_x2_bytes(q16_cols, B) + 63) & ~(size_t)63;
        const size_t dx = (ga_gemm_q16_dx_bytes(q16_cols, B) + 63) & ~(size_t)63;
        be->q16_scratch_stride = (ga_gemm_q16_scratch_bytes(q16_cols) + 63) & ~(size_t)63;
        ok &= (be->q16_x2 = cpu_mem(be, x2, "int16 gemm", 1)) != NULL &&
              (be->q16_dx = cpu_mem(be, dx, "int16 gemm", 1)) != NULL &&
              (be->q16_scratch = cpu_mem(be, (size_t)n_threads * be->q16_scratch_stride, "int16 gemm", 1)) != NULL;
    }
    if (ok) ok = pack_weights(be, w);
    if (!ok)
        return ga_fail(err, GA_ERR_NOMEM, "out of memory (or over the budget of %llu bytes) for the CPU backend's "
                       "scratch and weight copies", (unsigned long long)be->p.budget_bytes);
    return GA_OK;
}

/* ------------------------------------------------------------------ matmul */

typedef struct {
    ga_backend *be;
    const ga_weight *w[3]; /* up to three weights sharing one input */
    float *y[3];
    int nw;
    const float *x; /* [T][cols] */
    int T;
    int64_t y_stride[3];
} matmul_task;

static void quantize_task(void *p, int ith, int nth) {
    matmul_task *t = p;
    ga_backend *be = t->be;
    int done[ACT_FAMILIES] = {0};
    for (int i = 0; i < t->nw; i++) {
        int fam = act_family(t->w[i]->type);
        if (done[fam]) continue;
        done[fam] = 1;
        int64_t b, e;
        ga_split(t->T, ith, nth, &b, &e);
        const int64_t cols = t->w[i]->cols;
        for (int64_t tok = b; tok < e; tok++)
            ga_matvec_quantize_act2(t->w[i]->type, t->x + tok * cols, be->act[fam] + tok * be->act_stride[fam],
                                    be->act_res[fam] ? be->act_res[fam] + tok * be->act_res_stride[fam] : NULL, cols,
                                    NULL);
    }
}

/* Thread ith's rows [r0, r1) of weight i, when the concatenated rows of all t->nw
 * weights are split evenly over the threads; 0 if it has none. */
static int share_of_rows(const matmul_task *t, int ith, int nth, int i, int64_t *r0, int64_t *r1) {
    int64_t total = 0, base = 0, b, e;
    for (int j = 0; j < t->nw; j++) total += t->w[j]->rows;
    for (int j = 0; j < i; j++) base += t->w[j]->rows;
    ga_split(total, ith, nth, &b, &e);
    *r0 = b - base > 0 ? b - base : 0;
    *r1 = e - base < t->w[i]->rows ? e - base : t->w[i]->rows;
    return *r0 < *r1;
}

static void rows_task(void *p, int ith, int nth) {
    matmul_task *t = p;
    ga_backend *be = t->be;
    for (int i = 0; i < t->nw; i++) {
        const ga_weight *w = t->w[i];
        int64_t r0, r1;
        if (!share_of_rows(t, ith, nth, i, &r0, &r1)) continue;
        int fam = act_family(w->type);
        /* one token (decode): no block reuse to gain, one call for the whole range */
        const int64_t block = t->T == 1 ? r1 - r0 : ROW_BLOCK;
        for (int64_t rb = r0; rb < r1; rb += block) {
            int64_t re = rb + block < r1 ? rb + block : r1;
            for (int tok = 0; tok < t->T; tok++) {
                float *y = t->y[i] + tok * t->y_stride[i];
                const uint8_t *act = be->act[fam] + tok * be->act_stride[fam];
                if (be->act_res[fam]) /* one weight unpack, two integer dots */
                    ga_matvec_rows2_packed(w->type, w->data, w->packed, w->cols, act,
                                           be->act_res[fam] + tok * be->act_res_stride[fam], y, rb, re,
                                           be->fused_dot2, NULL);
                else
                    ga_matvec_rows_packed(w->type, w->data, w->packed, w->cols, act, y, rb, re, NULL);
            }
        }
    }
}

/* prefill: f32 activations times dequantized weight tiles (ga_gemm.c), no quantize pass */
static void gemm_task(void *p, int ith, int nth) {
    matmul_task *t = p;
    ga_backend *be = t->be;
    float *scratch = be->gemm_scratch + (int64_t)ith * be->gemm_scratch_stride;
    for (int i = 0; i < t->nw; i++) {
        const ga_weight *w = t->w[i];
        int64_t r0, r1;
        if (!share_of_rows(t, ith, nth, i, &r0, &r1)) continue;
        ga_gemm_f32_rows(w->type, w->data, w->cols, t->x, t->T, w->cols, t->y[i], t->y_stride[i], r0, r1,
                         scratch, NULL);
    }
}

/* decode (T = 1): each thread quantizes the one activation row itself, into its own slot
 * of the activation buffers, then runs its rows -- one pool run instead of two */
static void decode_rows_task(void *p, int ith, int nth) {
    matmul_task *t = p;
    ga_backend *be = t->be;
    int done[ACT_FAMILIES] = {0};
    for (int i = 0; i < t->nw; i++) {
        const ga_weight *w = t->w[i];
        int64_t r0, r1;
        if (!share_of_rows(t, ith, nth, i, &r0, &r1)) continue;
        const int fam = act_family(w->type);
        uint8_t *act = be->act[fam] + (size_t)ith * be->act_stride[fam];
        uint8_t *res = be->act_res[fam] ? be->act_res[fam] + (size_t)ith * be->act_res_stride[fam] : NULL;
        if (!done[fam]) {
            ga_matvec_quantize_act2(w->type, t->x, act, res, w->cols, NULL);
            done[fam] = 1;
        }
        if (res)
            ga_matvec_rows2_packed(w->type, w->data, w->packed, w->cols, act, res, t->y[i], r0, r1, be->fused_dot2,
                                   NULL);
        else ga_matvec_rows_packed(w->type, w->data, w->packed, w->cols, act, t->y[i], r0, r1, NULL);
    }
}

/* prefill on 16-bit codes (ga_gemm_q16.h): each thread packs a share of the tokens... */
static void q16_pack_task(void *p, int ith, int nth) {
    matmul_task *t = p;
    int64_t b, e;
    ga_split(t->T, ith, nth, &b, &e);
    const int64_t cols = t->w[0]->cols;
    /* the last share also zeroes the padding tokens */
    if (b < e || ith == nth - 1)
        ga_gemm_q16_pack(t->x, cols, cols, t->T, (int)b, (int)e, t->be->q16_x2, t->be->q16_dx,
                         t->be->q16_scratch + (size_t)ith * t->be->q16_scratch_stride);
}

/* ...then runs its rows of every weight against all of them */
static void q16_rows_task(void *p, int ith, int nth) {
    matmul_task *t = p;
    ga_backend *be = t->be;
    for (int i = 0; i < t->nw; i++) {
        int64_t r0, r1;
        if (!share_of_rows(t, ith, nth, i, &r0, &r1)) continue;
        ga_gemm_q16_rows(t->w[i]->type, t->w[i]->data, t->w[i]->cols, be->q16_x2, be->q16_dx, t->T, t->y[i],
                         t->y_stride[i], r0, r1, be->q16_scratch + (size_t)ith * be->q16_scratch_stride, NULL);
    }
}

static int q16_applies(const ga_backend *be, int T, int nw, const ga_weight *const *w) {
    if (!be->q16_x2 || T < GA_GEMM_Q16_MIN_T || T < be->gemm_min_t || be->gemm_min_t == 0) return 0;
    for (int i = 0; i < nw; i++)
        if (!ga_gemm_q16_supports(w[i]->type)) return 0;
    return 1;
}

static ga_status op_matmul(ga_backend *be, const ga_op_args *op, ga_error *err) {
    ga_status st;
    if (op->nw < 1 || op->nw > 3) return ga_fail(err, GA_ERR_ARG, "matmul of %d weights", op->nw);
    matmul_task t = {.be = be, .T = op->T, .nw = op->nw};
    const int64_t cols = op->w[0]->cols;
    for (int i = 0; i < op->nw; i++) {
        const ga_weight *w = op->w[i];
        if (!w || !w->data || act_family(w->type) < 0 || w->cols != cols)
            return ga_fail(err, GA_ERR_ARG, "matmul: weight %d is missing, unsupported or of another width", i);
        if ((st = check_rows(be, op->dst[i], 0, op->T, w->rows, "matmul output", err))) return st;
        t.w[i] = w;
        t.y[i] = data_of(be, op->dst[i]);
        t.y_stride[i] = w->rows;
        if ((int64_t)op->T > be->p.n_batch) return ga_fail(err, GA_ERR_ARG, "matmul of more rows than n_batch");
    }
    if ((st = check_rows(be, op->src, 0, op->T, cols, "matmul input", err))) return st;
    t.x = data_of(be, op->src);
    if (q16_applies(be, t.T, t.nw, t.w)) {
        ga_pool_run(be->pool, q16_pack_task, &t);
        ga_pool_run(be->pool, q16_rows_task, &t);
        return GA_OK;
    }
    if (be->gemm_scratch && t.T >= be->gemm_min_t) {
        ga_pool_run(be->pool, gemm_task, &t);
        return GA_OK;
    }
    for (int i = 0; i < t.nw; i++) /* the row kernels below read the interleaved copies */
        if (t.w[i]->packed) finish_packing(be);
    if (t.T == 1 && be->p.n_batch >= ga_pool_size(be->pool)) {
        ga_pool_run(be->pool, decode_rows_task, &t);
        return GA_OK;
    }
    ga_pool_run(be->pool, quantize_task, &t);
    ga_pool_run(be->pool, rows_task, &t);
    return GA_OK;
}

/* ------------------------------------------------------------ element ops */

/* Element ops split over tokens: with one token only thread 0 would have work, so the
 * caller runs it alone and no thread is woken. */
static void run_rows(ga_backend *be, ga_task_fn fn, void *ctx, int T) {
    if (T == 1) fn(ctx, 0, 1);
    else ga_pool_run(be->pool, fn, ctx);
}

typedef struct {
    ga_backend *be;
    const ga_op_args *op;
    int T, layer, fill_rope;
    const float *norm_w;
    const float *src;
    float *dst;
    float *q, *k, *v, *kc, *vc, *att; /* attention operands */
    int64_t width, rope_slot;
} elem_task;

static void norm_rows_task(void *p, int ith, int nth) {
    elem_task *t = p;
    int64_t b, e;
    ga_split(t->T, ith, nth, &b, &e);
    for (int64_t i = b; i < e; i++)
        ga_rmsnorm(t->dst + i * t->width, t->src + i * t->width, t->norm_w, t->width, t->be->hp.norm_eps);
}

static ga_status op_rms_norm(ga_backend *be, const ga_op_args *op, ga_error *err) {
    ga_status st;
    if ((st = check_rows(be, op->src, op->src_row0, op->T, op->width, "rms_norm input", err)) ||
        (st = check_rows(be, op->dst[0], op->dst_row0, op->T, op->width, "rms_norm output", err)))
        return st;
    if (!op->norm) return ga_fail(err, GA_ERR_ARG, "rms_norm without a weight");
    elem_task t = {.be = be, .T = op->T, .norm_w = op->norm, .width = op->width,
                   .src = data_of(be, op->src) + op->src_row0 * op->width,
                   .dst = data_of(be, op->dst[0]) + op->dst_row0 * op->width};
    run_rows(be, norm_rows_task, &t, op->T);
    return GA_OK;
}

/* llama GGUF files permute q/k so that RoPE rotates adjacent pairs */
static void rope_adjacent(float *x, int64_t n_heads, int64_t d, int64_t pos, float base, float scale) {
    float c[2048], sn[2048]; /* head_dim <= 4096 (check_hparams) */
    ga_rope_angles_adjacent(c, sn, d, pos, base, scale);
    for (int64_t h = 0; h < n_heads; h++) {
        float *v = x + h * d;
        for (int64_t i = 0; i < d / 2; i++) {
            const float a = v[2 * i], b2 = v[2 * i + 1];
            v[2 * i] = a * c[i] - b2 * sn[i];
            v[2 * i + 1] = a * sn[i] + b2 * c[i];
        }
    }
}

/* position pos's K (or V) row in buffer base of width KV, through seq's page table */
static float *kv_slot(float *base, const int32_t *pages, int64_t pos, int64_t KV) {
    return base + ((int64_t)pages[pos / GA_KV_PAGE] * GA_KV_PAGE + pos % GA_KV_PAGE) * KV;
}

/* q/k per-head norm, RoPE, and the k/v store into the pages */
static void qk_task(void *p, int ith, int nth) {
    elem_task *t = p;
    ga_backend *be = t->be;
    const ga_hparams *hp = &be->hp;
    const ga_op_args *op = t->op;
    const ga_layer_hparams *lh = &hp->layer[t->layer];
    const ga_chunk *c = be->c;
    const int64_t d = lh->head_dim, H = lh->n_head, Hkv = lh->n_head_kv, KV = Hkv * d, half = d / 2;
    const float base = lh->rope_base, scale = lh->rope_freq_scale;
    int64_t b, e;
    ga_split(t->T, ith, nth, &b, &e);
    for (int64_t i = b; i < e; i++) {
        const int64_t pos = c->pos[i];
        float *q = t->q + i * H * d, *k = t->k ? t->k + i * KV : NULL;
        if (op->norm) {
            for (int64_t h = 0; h < H; h++) ga_rmsnorm(q + h * d, q + h * d, op->norm, d, hp->norm_eps);
            if (k)
                for (int64_t h = 0; h < Hkv; h++) ga_rmsnorm(k + h * d, k + h * d, op->norm2, d, hp->norm_eps);
        }
        if (hp->rope_neox && be->rope_tables) {
            /* the chunk's angles are computed once (first layer with these angles), then reused */
            float *cs = be->rope_cos + (t->rope_slot * be->p.n_batch + i) * be->rope_half_max;
            float *sn = be->rope_sin + (t->rope_slot * be->p.n_batch + i) * be->rope_half_max;
            if (t->fill_rope) ga_rope_angles(cs, sn, 0, half, 2 * half, pos, base, scale);
            ga_rope_neox_tab(q, H, d, half, cs, sn);
            if (k) ga_rope_neox_tab(k, Hkv, d, half, cs, sn);
        } else if (hp->rope_neox) {
            ga_rope_neox(q, H, d, d, pos, base, scale);
            if (k) ga_rope_neox(k, Hkv, d, d, pos, base, scale);
        } else {
            rope_adjacent(q, H, d, pos, base, scale);
            if (k) rope_adjacent(k, Hkv, d, pos, base, scale);
        }
        if (k) {
            const int32_t *pages = ga_kv_pages(c->kv, c->seq[i], op->kv_layer);
            memcpy(kv_slot(t->kc, pages, pos, KV), k, (size_t)KV * sizeof(float));
            memcpy(kv_slot(t->vc, pages, pos, KV), t->v + i * KV, (size_t)KV * sizeof(float));
        }
    }
}

/* the chunk's pages must exist where its tokens write and read (ga_kv_prepare did that) */
static ga_status check_chunk_pages(ga_backend *be, const ga_op_args *op, const cpu_buf *kvb, int keys,
                                   ga_error *err) {
    if (!be->c || op->T != be->c->T)
        return ga_fail(err, GA_ERR_ARG, "%s outside a chunk of %d tokens", ga_op_names[op->op], op->T);
    const int window = keys && be->hp.layer[op->layer].swa ? be->hp.sliding_window : 0;
    return ga_chunk_check_pages(be->c, op->kv_layer, kvb->floats / kvb->width / GA_KV_PAGE, window, keys, err);
}

static ga_status op_qk_rope_store(ga_backend *be, const ga_op_args *op, ga_error *err) {
    if (op->layer < 0 || op->layer >= be->hp.n_layer) return ga_fail(err, GA_ERR_ARG, "no layer %d", op->layer);
    const ga_layer_hparams *lh = &be->hp.layer[op->layer];
    const int64_t H = lh->n_head, KV = (int64_t)lh->n_head_kv * lh->head_dim;
    const cpu_buf *kvb = buf_of(be, op->dst[0]);
    ga_status st;
    if (!kvb || kvb->kind != GA_MEM_KV || kvb->width != KV)
        return ga_fail(err, GA_ERR_ARG, "qk_rope_store: dst is not a KV buffer of width %lld", (long long)KV);
    if ((st = check_chunk_pages(be, op, kvb, 0, err)) ||
        (st = check_rows(be, op->src, 0, op->T, H * lh->head_dim, "q", err)))
        return st;
    const int store = op->src2 != GA_BUF_NONE;
    if (store && ((st = check_rows(be, op->src2, 0, op->T, KV, "k", err)) ||
                  (st = check_rows(be, op->src3, 0, op->T, KV, "v", err))))
        return st;
    if (op->norm && store && !op->norm2) return ga_fail(err, GA_ERR_ARG, "q norm without a k norm");
    elem_task t = {.be = be, .op = op, .T = op->T, .layer = op->layer, .q = data_of(be, op->src),
                   .k = store ? data_of(be, op->src2) : NULL, .v = store ? data_of(be, op->src3) : NULL,
                   .kc = kvb->data, .vc = kvb->data2};
    if (be->rope_tables) {
        /* one table per (base, scale, head_dim) and chunk: the first layer fills it */
        int slot = -1;
        for (int i = 0; i < ROPE_SLOTS; i++)
            if (be->rope_key[i].serial == be->chunk_serial && be->rope_key[i].base == lh->rope_base &&
                be->rope_key[i].scale == lh->rope_freq_scale && be->rope_key[i].half == lh->head_dim / 2)
                slot = i;
        if (slot < 0) {
            slot = be->rope_next;
            be->rope_next = (be->rope_next + 1) % ROPE_SLOTS;
            be->rope_key[slot].serial = be->chunk_serial;
            be->rope_key[slot].base = lh->rope_base;
            be->rope_key[slot].scale = lh->rope_freq_scale;
            be->rope_key[slot].half = lh->head_dim / 2;
            t.fill_rope = 1;
        }
        t.rope_slot = slot;
    }
    run_rows(be, qk_task, &t, op->T);
    return GA_OK;
}

/* the first position a query at pos sees in layer l (sliding-window layers see window) */
static int64_t first_key(const ga_backend *be, int l, int64_t pos) {
    const int window = be->hp.layer[l].swa ? be->hp.sliding_window : 0;
    return window > 0 && pos - window + 1 > 0 ? pos - window + 1 : 0;
}

/* kv head hk's keys and values for the sequence of token i */
static ga_kv_view kv_view(const elem_task *t, int i, int64_t hk) {
    const ga_layer_hparams *lh = &t->be->hp.layer[t->layer];
    const int64_t KV = (int64_t)lh->n_head_kv * lh->head_dim, d = lh->head_dim;
    return (ga_kv_view){.k = t->kc + hk * d, .v = t->vc + hk * d,
                        .pages = ga_kv_pages(t->be->c->kv, t->be->c->seq[i], t->op->kv_layer),
                        .stride = KV, .page_stride = GA_KV_PAGE * KV};
}

static void attention_one_job(const elem_task *t, int64_t i, int64_t h, int ith) {
    ga_backend *be = t->be;
    const ga_layer_hparams *lh = &be->hp.layer[t->layer];
    const int64_t d = lh->head_dim, H = lh->n_head, group = lh->n_head / lh->n_head_kv;
    const int64_t pos = be->c->pos[i];
    ga_attn_args a = {
        .q = t->q + (i * H + h) * d, .out = t->att + (i * H + h) * d, .kv = kv_view(t, (int)i, h / group),
        .head_dim = d, .first = first_key(be, t->layer, pos), .last = pos,
        .scale = be->hp.attn_scale, .softcap = be->hp.attn_softcap,
    };
    ga_attention_one(&a, &be->attn, ith);
}

static void attention_task(void *p, int ith, int nth) {
    elem_task *t = p;
    ga_backend *be = t->be;
    const ga_layer_hparams *lh = &be->hp.layer[t->layer];
    const int64_t d = lh->head_dim, H = lh->n_head, group = lh->n_head / lh->n_head_kv;
    const int window = lh->swa ? be->hp.sliding_window : 0;
    int64_t b, e;
    if (t->T >= 2 && be->attn_blocked && be->c->one_seq) {
        /* prefill of one sequence: blocks of GA_ATTN_QBLOCK queries of one head, scores and
         * sums as sgemm */
        const int64_t nblk = (t->T + GA_ATTN_QBLOCK - 1) / GA_ATTN_QBLOCK;
        /* jobs dealt round-robin: later query blocks see more keys (causal), so contiguous
         * shares would leave the first thread idle while the last finishes */
        for (int64_t job = ith; job < nblk * H; job += nth) {
            const int64_t h = job % H, i0 = job / H * GA_ATTN_QBLOCK;
            const int nq = (int)(t->T - i0 < GA_ATTN_QBLOCK ? t->T - i0 : GA_ATTN_QBLOCK);
            ga_attn_block_args a = {
                .q = t->q + (i0 * H + h) * d, .out = t->att + (i0 * H + h) * d,
                .q_stride = H * d, .out_stride = H * d, .kv = kv_view(t, 0, h / group), .head_dim = d,
                .last0 = be->c->pos[0] + i0, .window = window, .nq = nq,
                .scale = be->hp.attn_scale, .softcap = be->hp.attn_softcap,
            };
            if (!ga_attention_block(&a, &be->attn, ith))
                for (int64_t i = i0; i < i0 + nq; i++) attention_one_job(t, i, h, ith);
        }
        return;
    }
    ga_split((int64_t)t->T * H, ith, nth, &b, &e);
    for (int64_t job = b; job < e; job++) attention_one_job(t, job / H, job % H, ith);
}

/* decode, grouped: thread ith's share of the visible keys for every kv head's group of
 * query heads, left as partial softmax states in its scratch */
static void attention_group_task(void *p, int ith, int nth) {
    elem_task *t = p;
    ga_backend *be = t->be;
    const ga_layer_hparams *lh = &be->hp.layer[t->layer];
    const int64_t d = lh->head_dim, Hkv = lh->n_head_kv;
    const int G = (int)(lh->n_head / Hkv);
    const int64_t pos = be->c->pos[0], first = first_key(be, t->layer, pos);
    int64_t b, e;
    ga_split(pos + 1 - first, ith, nth, &b, &e);
    for (int64_t hk = 0; hk < Hkv; hk++) {
        ga_attn_group_args a = {
            .q = t->q + hk * G * d, .kv = kv_view(t, 0, hk), .head_dim = d, .first = first + b, .last = first + e - 1,
            .G = G, .scale = be->hp.attn_scale, .softcap = be->hp.attn_softcap,
        };
        ga_attn_partial part = ga_attn_partial_at(&be->attn, ith, hk, G);
        ga_attention_group(&a, &part, &be->attn, ith);
    }
}

/* One token over a short context is a few microseconds of work: less than waking the pool */
#define ATTN_INLINE_MACS (1 << 18)
/* ...except that the grouped kernel's time is the first read of the layer's keys and
 * values (evicted by the weights since the last token): two threads halve it from 32
 * keys on (measured: 0.45 -> 0.28 ms per token at 80 positions on the default model) */
#define ATTN_GROUP_SPLIT_KEYS 32

static ga_status op_attention(ga_backend *be, const ga_op_args *op, ga_error *err) {
    if (op->layer < 0 || op->layer >= be->hp.n_layer) return ga_fail(err, GA_ERR_ARG, "no layer %d", op->layer);
    const ga_layer_hparams *lh = &be->hp.layer[op->layer];
    const int64_t Q = (int64_t)lh->n_head * lh->head_dim, KV = (int64_t)lh->n_head_kv * lh->head_dim;
    const cpu_buf *kvb = buf_of(be, op->src2);
    ga_status st;
    if (!kvb || kvb->kind != GA_MEM_KV || kvb->width != KV)
        return ga_fail(err, GA_ERR_ARG, "attention: src2 is not a KV buffer of width %lld", (long long)KV);
    if ((st = check_chunk_pages(be, op, kvb, 1, err)) || (st = check_rows(be, op->src, 0, op->T, Q, "q", err)) ||
        (st = check_rows(be, op->dst[0], 0, op->T, Q, "attention output", err)))
        return st;
    elem_task t = {.be = be, .op = op, .T = op->T, .layer = op->layer, .q = data_of(be, op->src),
                   .att = data_of(be, op->dst[0]), .kc = kvb->data, .vc = kvb->data2};
    const int64_t pos = be->c->pos[0];
    const int G = (int)(lh->n_head / lh->n_head_kv);
    if (op->T == 1 && be->attn_blocked && ga_attention_group_available(G)) {
        /* the heads sharing a kv head read each key once; long contexts split the keys */
        const int64_t keys = pos + 1 - first_key(be, op->layer, pos);
        const int nth = keys < ATTN_GROUP_SPLIT_KEYS ? 1 : ga_pool_size(be->pool);
        if (nth == 1) attention_group_task(&t, 0, 1);
        else ga_pool_run(be->pool, attention_group_task, &t);
        for (int64_t hk = 0; hk < lh->n_head_kv; hk++)
            ga_attention_merge(&be->attn, nth, hk, G, lh->head_dim, t.att + hk * G * lh->head_dim);
        return GA_OK;
    }
    const int64_t macs = (pos + 1) * lh->n_head * lh->head_dim;
    if (op->T == 1 && macs <= ATTN_INLINE_MACS) attention_task(&t, 0, 1);
    else ga_pool_run(be->pool, attention_task, &t);
    return GA_OK;
}

static void glu_task(void *p, int ith, int nth) {
    elem_task *t = p;
    const int64_t F = t->width;
    int64_t b, e;
    ga_split(t->T, ith, nth, &b, &e);
    for (int64_t i = b; i < e; i++) {
        float *g = t->dst + i * F;
        const float *u = t->src + i * F;
        if (t->be->hp.act_gelu) {
            ga_gelu_tanh_mul(g, g, u, F);
        } else {
            for (int64_t j = 0; j < F; j++) g[j] = g[j] / (1.0f + expf(-g[j])) * u[j];
        }
    }
}

static ga_status op_glu(ga_backend *be, const ga_op_args *op, ga_error *err) {
    ga_status st;
    if ((st = check_rows(be, op->src, 0, op->T, op->width, "glu input", err)) ||
        (st = check_rows(be, op->dst[0], 0, op->T, op->width, "glu output", err)))
        return st;
    elem_task t = {.be = be, .T = op->T, .width = op->width, .src = data_of(be, op->src),
                   .dst = data_of(be, op->dst[0])};
    run_rows(be, glu_task, &t, op->T);
    return GA_OK;
}

/* x += (optionally normed) o */
static ga_status op_residual_add(ga_backend *be, const ga_op_args *op, ga_error *err) {
    ga_status st;
    if ((st = check_rows(be, op->src, 0, op->T, op->width, "residual input", err)) ||
        (st = check_rows(be, op->dst[0], 0, op->T, op->width, "residual output", err)))
        return st;
    float *o = data_of(be, op->src), *x = data_of(be, op->dst[0]);
    if (op->norm) {
        elem_task t = {.be = be, .T = op->T, .norm_w = op->norm, .width = op->width, .src = o, .dst = o};
        run_rows(be, norm_rows_task, &t, op->T);
    }
    for (int64_t i = 0; i < (int64_t)op->T * op->width; i++) x[i] += o[i];
    return GA_OK;
}

static ga_status op_softcap(ga_backend *be, const ga_op_args *op, ga_error *err) {
    ga_status st = check_rows(be, op->dst[0], 0, op->T, op->width, "softcap", err);
    if (st) return st;
    if (!(op->cap > 0)) return ga_fail(err, GA_ERR_ARG, "softcap needs a cap > 0");
    float *x = data_of(be, op->dst[0]);
    const float c = op->cap;
    for (int64_t i = 0; i < (int64_t)op->T * op->width; i++) x[i] = c * tanhf(x[i] / c);
    return GA_OK;
}

static ga_status op_get_rows(ga_backend *be, const ga_op_args *op, ga_error *err) {
    const ga_weight *E = op->w[0];
    const int64_t D = op->width;
    ga_status st;
    if (!be->c || op->T != be->c->T) return ga_fail(err, GA_ERR_ARG, "get_rows outside a chunk");
    if (!E || E->cols != D) return ga_fail(err, GA_ERR_ARG, "get_rows: the table's rows are not %lld wide", (long long)D);
    if ((st = check_rows(be, op->dst[0], 0, op->T, D, "get_rows output", err))) return st;
    float *x = data_of(be, op->dst[0]);
    for (int i = 0; i < op->T; i++) {
        const int32_t tok = be->c->tokens[i];
        if (tok < 0 || tok >= E->rows)
            return ga_fail(err, GA_ERR_ARG, "token id %d is outside the vocabulary (0..%lld)", tok,
                           (long long)E->rows - 1);
        const uint8_t *row = (const uint8_t *)E->data + (uint64_t)tok * E->row_bytes;
        if ((st = ga_dequantize(E->type, row, x + i * D, D, err))) return st;
        if (op->scale != 1.0f)
            for (int64_t j = 0; j < D; j++) x[i * D + j] *= op->scale;
    }
    return GA_OK;
}

static ga_status op_kv_copy(ga_backend *be, const ga_op_args *op, ga_error *err) {
    const cpu_buf *kvb = buf_of(be, op->dst[0]);
    if (!kvb || kvb->kind != GA_MEM_KV) return ga_fail(err, GA_ERR_ARG, "kv_copy: not a KV buffer");
    const int64_t page = GA_KV_PAGE * kvb->width, n_pages = kvb->floats / page;
    if (op->page_src < 0 || op->page_src >= n_pages || op->page_dst < 0 || op->page_dst >= n_pages)
        return ga_fail(err, GA_ERR_ARG, "kv_copy: page %d -> %d outside 0..%lld", op->page_src, op->page_dst,
                       (long long)n_pages - 1);
    memcpy(kvb->data + op->page_dst * page, kvb->data + op->page_src * page, (size_t)page * sizeof(float));
    memcpy(kvb->data2 + op->page_dst * page, kvb->data2 + op->page_src * page, (size_t)page * sizeof(float));
    return GA_OK;
}

/* ------------------------------------------------------------------ chunks */

static ga_status cpu_begin_chunk(ga_backend *be, const ga_chunk *c, float *output, ga_error *err) {
    if (!c || c->T < 1 || c->T > be->p.n_batch)
        return ga_fail(err, GA_ERR_ARG, "a chunk of %d tokens (1..%d)", c ? c->T : 0, be->p.n_batch);
    be->c = c;
    be->output = output;
    be->chunk_serial++;
    be->pool = c->T == 1 && be->pool_one ? be->pool_one : be->pool_all;
    return GA_OK;
}

static ga_status cpu_end_chunk(ga_backend *be, ga_error *err) {
    (void)err;
    be->c = NULL;
    be->output = NULL;
    be->pool = be->pool_all;
    return GA_OK;
}

static ga_status cpu_run(ga_backend *be, const ga_op_args *op, ga_error *err) {
    if (op->T < 0 || op->T > be->p.n_batch) return ga_fail(err, GA_ERR_ARG, "an op over %d rows", op->T);
    if (op->T == 0 && op->op != GA_OP_KV_COPY) return GA_OK;
    switch (op->op) {
    case GA_OP_GET_ROWS: return op_get_rows(be, op, err);
    case GA_OP_RMS_NORM: return op_rms_norm(be, op, err);
    case GA_OP_MATMUL: return op_matmul(be, op, err);
    case GA_OP_QK_ROPE_STORE: return op_qk_rope_store(be, op, err);
    case GA_OP_ATTENTION: return op_attention(be, op, err);
    case GA_OP_GLU: return op_glu(be, op, err);
    case GA_OP_RESIDUAL_ADD: return op_residual_add(be, op, err);
    case GA_OP_SOFTCAP: return op_softcap(be, op, err);
    case GA_OP_KV_COPY: return op_kv_copy(be, op, err);
    default: return ga_fail(err, GA_ERR_ARG, "unknown op %d", (int)op->op);
    }
}

const ga_backend_i ga_backend_cpu = {
    .name = "cpu",
    .init = cpu_init,
    .free = cpu_free,
    .supports = cpu_supports,
    .alloc = cpu_alloc,
    .write = cpu_write,
    .read = cpu_read,
    .load_weights = cpu_load_weights,
    .begin_chunk = cpu_begin_chunk,
    .run = cpu_run,
    .end_chunk = cpu_end_chunk,
    .reserved_bytes = cpu_reserved,
};
