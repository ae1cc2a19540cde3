/* ga_model.c - model lifetime, KV cache, and the layer sequence of one chunk.
 *
 * One eval call runs a chunk of T <= n_batch tokens through every layer.  The
 * layer sequence below calls its ops only through m->ops (the backend table),
 * so another backend can plug in without touching this file.  Nothing is
 * allocated after ga_model_new().
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "ga_cpu.h"
#include "ga_gemm.h"
#include "ga_gemm_q16.h"
#include "ga_matvec.h"
#include "ga_model_impl.h"
#include "ga_quants.h"
#include "ga_types.h"
#include "ga_x8.h"

/* chunks of at least this many tokens use the f32 gemm on dequantized tiles: measured
 * faster than the integer dot products from here on (benchmarks/bench.py) */
#define GA_GEMM_MIN_T 2

int ga_act_family(int wtype) {
    switch (ga_matvec_act_type(wtype)) {
    case GA_TYPE_Q8_0: return ACT_Q8_0;
    case GA_TYPE_Q8_K: return ACT_Q8_K;
    case GA_TYPE_F32: return ACT_F32;
    default: return -1;
    }
}

/* ---------------------------------------------------------------- lifetime */

static ga_status check_weight(const ga_weight *w, const char *what, int layer, int64_t rows,
                              int64_t cols, ga_error *err) {
    if (!w->data) return ga_fail(err, GA_ERR_ARG, "layer %d: missing weight %s", layer, what);
    if (w->rows != rows || w->cols != cols)
        return ga_fail(err, GA_ERR_FORMAT, "layer %d: %s is %lldx%lld, expected %lldx%lld", layer,
                       what, (long long)w->rows, (long long)w->cols, (long long)rows, (long long)cols);
    if (ga_act_family(w->type) < 0)
        return ga_fail(err, GA_ERR_UNSUPPORTED, "layer %d: %s has type %d, which has no matmul kernel",
                       layer, what, w->type);
    return GA_OK;
}

static ga_status check_weights(const ga_hparams *hp, const ga_weights *w, ga_error *err) {
    const int64_t D = hp->n_embd, Q = (int64_t)hp->n_head * hp->head_dim,
                  KV = (int64_t)hp->n_head_kv * hp->head_dim, F = hp->n_ff;
    ga_status st;
    if ((st = check_weight(&w->tok_embd, "token_embd", -1, hp->n_vocab, D, err))) return st;
    if (!ga_can_dequantize(w->tok_embd.type))
        return ga_fail(err, GA_ERR_UNSUPPORTED, "token_embd type %d cannot be decoded", w->tok_embd.type);
    if ((st = check_weight(&w->output, "output", -1, hp->n_vocab, D, err))) return st;
    if (!w->output_norm) return ga_fail(err, GA_ERR_ARG, "missing output_norm");
    for (int l = 0; l < hp->n_layer; l++) {
        const ga_layer_weights *L = &w->layers[l];
        if ((st = check_weight(&L->wq, "attn_q", l, Q, D, err)) ||
            (st = check_weight(&L->wk, "attn_k", l, KV, D, err)) ||
            (st = check_weight(&L->wv, "attn_v", l, KV, D, err)) ||
            (st = check_weight(&L->wo, "attn_output", l, D, Q, err)) ||
            (st = check_weight(&L->gate, "ffn_gate", l, F, D, err)) ||
            (st = check_weight(&L->up, "ffn_up", l, F, D, err)) ||
            (st = check_weight(&L->down, "ffn_down", l, D, F, err)))
            return st;
        if (!L->attn_norm || !L->ffn_norm) return ga_fail(err, GA_ERR_ARG, "layer %d: missing norms", l);
        if (hp->post_norms && (!L->post_attn_norm || !L->post_ffw_norm))
            return ga_fail(err, GA_ERR_ARG, "layer %d: missing post norms", l);
        if (hp->qk_norm && (!L->q_norm || !L->k_norm))
            return ga_fail(err, GA_ERR_ARG, "layer %d: missing q/k norms", l);
    }
    return GA_OK;
}

static ga_status check_hparams(const ga_hparams *hp, ga_error *err) {
    if (hp->n_layer < 1 || hp->n_layer > GA_MAX_LAYERS)
        return ga_fail(err, GA_ERR_FORMAT, "n_layer %d outside 1..%d", hp->n_layer, GA_MAX_LAYERS);
    if (hp->n_embd < 1 || hp->n_head < 1 || hp->n_head_kv < 1 || hp->head_dim < 2 || hp->n_ff < 1 ||
        hp->n_vocab < 1 || hp->head_dim % 2)
        return ga_fail(err, GA_ERR_FORMAT, "invalid model dimensions");
    if (hp->n_head % hp->n_head_kv)
        return ga_fail(err, GA_ERR_FORMAT, "n_head %d is not a multiple of n_head_kv %d", hp->n_head,
                       hp->n_head_kv);
    if (hp->n_embd > (1 << 20) || hp->n_ff > (1 << 22) || hp->head_dim > 4096 || hp->n_head > 4096)
        return ga_fail(err, GA_ERR_FORMAT, "model dimensions are implausibly large");
    return GA_OK;
}

static void *alloc_floats(ga_model *m, int64_t n) {
    m->reserved += (uint64_t)n * sizeof(float);
    return calloc((size_t)n, sizeof(float)); /* large blocks are mmapped: untouched pages cost no RSS */
}

/* ------------------------------------------------------- interleaved copies */

struct ga_pack_job {
    ga_weight *w[7 * GA_MAX_LAYERS];
    int n;
};

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
 * (ga_model_finish_packing).  GA_PACK=0 skips it.  0 when out of memory. */
static int pack_weights(ga_model *m) {
    const char *env = getenv("GA_PACK");
    if ((env && strcmp(env, "0") == 0) || !ga_kernel_set_runnable(GA_KSET_AVX512)) return 1;
    struct ga_pack_job *t = calloc(1, sizeof *t);
    if (!t) return 0;
    size_t total = 0;
    for (int l = 0; l < m->hp.n_layer; l++) {
        ga_layer_weights *L = &m->w.layers[l];
        ga_weight *lw[7] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->gate, &L->up, &L->down};
        for (int i = 0; i < 7; i++)
            if (ga_x8_applies(lw[i]->type, lw[i]->rows, lw[i]->cols)) {
                t->w[t->n++] = lw[i];
                total += (ga_x8_bytes(lw[i]->type, lw[i]->rows, lw[i]->cols) + 63) & ~(size_t)63;
            }
    }
    if (t->n == 0) { free(t); return 1; }
    /* 2 MiB aligned so transparent huge pages can back it: fewer TLB misses */
    if (posix_memalign(&m->packed_arena, (size_t)2 << 20, total) != 0) {
        m->packed_arena = NULL;
        free(t);
        return 0;
    }
#ifdef MADV_HUGEPAGE
    madvise(m->packed_arena, total, MADV_HUGEPAGE);
#endif
    m->reserved += total;
    uint8_t *p = m->packed_arena;
    for (int i = 0; i < t->n; i++) {
        t->w[i]->packed = p;
        p += (ga_x8_bytes(t->w[i]->type, t->w[i]->rows, t->w[i]->cols) + 63) & ~(size_t)63;
    }
    m->pack_job = t;
    m->pack_pending = 1;
    return 1;
}

void ga_model_finish_packing(ga_model *m) {
    if (!m->pack_pending) return;
    ga_pool_run(m->pool, pack_part, m->pack_job);
    m->pack_pending = 0; /* the job stays until ga_model_free: nothing is freed mid-generation */
}

ga_status ga_model_new(const ga_hparams *hp, const ga_weights *w, int n_ctx, int n_batch,
                       int n_threads, int act_bits, ga_model **out, ga_error *err) {
    ga_status st;
    if ((st = check_hparams(hp, err)) || (st = check_weights(hp, w, err))) return st;
    if (n_ctx < 1 || n_batch < 1)
        return ga_fail(err, GA_ERR_ARG, "n_ctx and n_batch must be positive");
    if (act_bits != 8 && act_bits != 16)
        return ga_fail(err, GA_ERR_ARG, "act_bits must be 8 or 16, got %d", act_bits);
    if (n_batch > n_ctx) n_batch = n_ctx;
    ga_model *m = calloc(1, sizeof *m);
    if (!m) return ga_fail(err, GA_ERR_NOMEM, "out of memory");
    m->ops = &ga_backend_cpu;
    m->hp = *hp;
    m->w = *w;
    m->n_ctx = n_ctx;
    m->n_batch = n_batch;
    const char *prof = getenv("GA_PROFILE");
    m->profile = prof && *prof && strcmp(prof, "0") != 0;
    if ((st = ga_pool_new(n_threads, &m->pool, err))) { free(m); return st; }

    const int64_t D = hp->n_embd, Q = (int64_t)hp->n_head * hp->head_dim,
                  KV = (int64_t)hp->n_head_kv * hp->head_dim, F = hp->n_ff, B = n_batch;
    int ok = 1;
    for (int l = 0; l < hp->n_layer; l++) {
        int len = n_ctx;
        /* a ring of window + n_batch slots keeps every key a chunk's queries can see */
        if (hp->layer_swa[l] && hp->sliding_window > 0 && (int64_t)hp->sliding_window + B < n_ctx)
            len = hp->sliding_window + (int)B;
        m->cache_len[l] = len;
        ok &= (m->k_cache[l] = alloc_floats(m, (int64_t)len * KV)) != NULL;
        ok &= (m->v_cache[l] = alloc_floats(m, (int64_t)len * KV)) != NULL;
    }
    ok &= (m->x = alloc_floats(m, B * D)) != NULL;
    ok &= (m->xn = alloc_floats(m, B * D)) != NULL;
    ok &= (m->q = alloc_floats(m, B * Q)) != NULL;
    ok &= (m->k = alloc_floats(m, B * KV)) != NULL;
    ok &= (m->v = alloc_floats(m, B * KV)) != NULL;
    ok &= (m->att = alloc_floats(m, B * Q)) != NULL;
    ok &= (m->o = alloc_floats(m, B * D)) != NULL;
    ok &= (m->g = alloc_floats(m, B * F)) != NULL;
    ok &= (m->u = alloc_floats(m, B * F)) != NULL;
    /* activation buffers: the widest input any weight of each family takes */
    const ga_weight *all[7 * GA_MAX_LAYERS + 1];
    int n_all = 0;
    all[n_all++] = &m->w.output;
    for (int l = 0; l < hp->n_layer; l++) {
        ga_layer_weights *L = &m->w.layers[l];
        all[n_all++] = &L->wq; all[n_all++] = &L->wk; all[n_all++] = &L->wv;
        all[n_all++] = &L->wo; all[n_all++] = &L->gate; all[n_all++] = &L->up;
        all[n_all++] = &L->down;
    }
    for (int i = 0; i < n_all; i++) {
        if (all[i]->cols > m->max_cols) m->max_cols = all[i]->cols;
        if (all[i]->rows > m->max_rows) m->max_rows = all[i]->rows;
        int fam = ga_act_family(all[i]->type);
        size_t size = ga_matvec_act_size(all[i]->type, all[i]->cols);
        size = (size + 63) & ~(size_t)63;
        if (size > m->act_stride[fam]) m->act_stride[fam] = size;
        size = (ga_matvec_act_res_size(all[i]->type, all[i]->cols) + 63) & ~(size_t)63;
        if (size > m->act_res_stride[fam]) m->act_res_stride[fam] = size;
    }
    for (int f = 0; f < ACT_FAMILIES && ok; f++) {
        if (!m->act_stride[f]) continue;
        m->act[f] = calloc((size_t)B, m->act_stride[f]);
        m->reserved += (uint64_t)B * m->act_stride[f];
        ok &= m->act[f] != NULL;
        if (f != ACT_F32 && act_bits == 16) {
            m->act_res[f] = calloc((size_t)B, m->act_res_stride[f]);
            m->reserved += (uint64_t)B * m->act_res_stride[f];
            ok &= m->act_res[f] != NULL;
        }
    }
    if (ok && ga_attn_scratch_init(&m->attn, n_threads, hp->n_head, hp->head_dim) != GA_OK) ok = 0;
    /* prefill path (ga_gemm.c): GA_GEMM=int keeps the integer path for every chunk,
     * GA_GEMM=f32 takes the f32 tiles from 2 tokens on; by default from GA_GEMM_MIN_T */
    const char *rp = getenv("GA_ROPE");
    m->rope_tables = hp->rope_neox && !(rp && strcmp(rp, "direct") == 0);
    m->rope_key_pos[0] = m->rope_key_pos[1] = -1;
    if (m->rope_tables) {
        ok &= (m->rope_cos = alloc_floats(m, 2 * B * (hp->head_dim / 2))) != NULL;
        ok &= (m->rope_sin = alloc_floats(m, 2 * B * (hp->head_dim / 2))) != NULL;
    }
    const char *at = getenv("GA_ATTN");
    m->attn_blocked = !(at && strcmp(at, "one") == 0);
    const char *fz = getenv("GA_FUSED");
    m->fused_dot2 = !(fz && strcmp(fz, "0") == 0);
    const char *gm = getenv("GA_GEMM");
    m->gemm_min_t = GA_GEMM_MIN_T;
    if (gm && strcmp(gm, "int") == 0) m->gemm_min_t = 0;
    else if (gm && strcmp(gm, "f32") == 0) m->gemm_min_t = 2;
    if (m->gemm_min_t > 0 && n_batch >= m->gemm_min_t) {
        m->gemm_scratch_stride = (ga_gemm_scratch_floats(m->max_cols) + 15) & ~(int64_t)15;
        ok &= (m->gemm_scratch = alloc_floats(m, (int64_t)n_threads * m->gemm_scratch_stride)) != NULL;
    }
    /* the int16 GEMM's buffers, wherever the CPU could run it (the kernel set may change later) */
    int64_t q16_cols = 0;
    for (int i = 0; i < n_all; i++)
        if (ga_gemm_q16_type(all[i]->type) && all[i]->cols > q16_cols)
            q16_cols = all[i]->cols;
    if (ok && q16_cols && ga_kernel_set_runnable(GA_KSET_AVX512) && !(gm && strcmp(gm, "f32") == 0) &&
        n_batch >= GA_GEMM_Q16_MIN_T) {
        const size_t x2 = (ga_gemm_q16_x2_bytes(q16_cols, B) + 63) & ~(size_t)63;
        const size_t dx = (ga_gemm_q16_dx_bytes(q16_cols, B) + 63) & ~(size_t)63;
        m->q16_scratch_stride = (ga_gemm_q16_scratch_bytes(q16_cols) + 63) & ~(size_t)63;
        m->q16_x2 = aligned_alloc(64, x2);
        m->q16_dx = aligned_alloc(64, dx);
        m->q16_scratch = aligned_alloc(64, (size_t)n_threads * m->q16_scratch_stride);
        m->reserved += x2 + dx + (size_t)n_threads * m->q16_scratch_stride;
        ok &= m->q16_x2 && m->q16_dx && m->q16_scratch;
    }
    m->reserved += ga_attn_scratch_bytes(&m->attn);
    if (ok) ok = pack_weights(m);
    if (!ok) {
        ga_model_free(m);
        return ga_fail(err, GA_ERR_NOMEM, "out of memory for the KV cache and scratch (n_ctx %d)", n_ctx);
    }
    *out = m;
    return GA_OK;
}

void ga_model_free(ga_model *m) {
    if (!m) return;
    ga_pool_free(m->pool);
    for (int l = 0; l < GA_MAX_LAYERS; l++) { free(m->k_cache[l]); free(m->v_cache[l]); }
    free(m->x); free(m->xn); free(m->q); free(m->k); free(m->v);
    free(m->att); free(m->o); free(m->g); free(m->u);
    for (int f = 0; f < ACT_FAMILIES; f++) { free(m->act[f]); free(m->act_res[f]); }
    free(m->gemm_scratch);
    free(m->q16_x2); free(m->q16_dx); free(m->q16_scratch);
    free(m->rope_cos);
    free(m->rope_sin);
    ga_attn_scratch_free(&m->attn);
    free(m->packed_arena);
    free(m->pack_job);
    free(m);
}

int ga_model_n_past(const ga_model *m) { return m->n_past; }
int ga_model_n_ctx(const ga_model *m) { return m->n_ctx; }
int ga_model_n_batch(const ga_model *m) { return m->n_batch; }
const ga_hparams *ga_model_hparams(const ga_model *m) { return &m->hp; }
uint64_t ga_model_reserved_bytes(const ga_model *m) { return m->reserved; }

int ga_model_max_rollback(const ga_model *m) {
    for (int l = 0; l < m->hp.n_layer; l++)
        if (m->cache_len[l] < m->n_ctx && m->n_past > m->cache_len[l])
            return m->n_batch < m->n_past ? m->n_batch : m->n_past;
    return m->n_past;
}

ga_status ga_model_truncate(ga_model *m, int n, ga_error *err) {
    if (n < 0 || n > m->n_past)
        return ga_fail(err, GA_ERR_ARG, "cannot truncate to %d: %d positions cached", n, m->n_past);
    if (n > 0 && m->n_past - n > ga_model_max_rollback(m))
        return ga_fail(err, GA_ERR_ARG,
                       "cannot roll back %d positions: the sliding-window layers keep the keys for a "
                       "rollback of at most %d (truncate to 0 instead)", m->n_past - n, ga_model_max_rollback(m));
    m->n_past = n;
    return GA_OK;
}


/* ------------------------------------------------------------------- eval */

static ga_status embed(ga_model *m, const int32_t *tokens, int T, ga_error *err) {
    const ga_weight *E = &m->w.tok_embd;
    const int64_t D = m->hp.n_embd;
    const float scale = m->hp.embed_scale ? sqrtf((float)D) : 1.0f;
    for (int i = 0; i < T; i++) {
        if (tokens[i] < 0 || tokens[i] >= m->hp.n_vocab)
            return ga_fail(err, GA_ERR_ARG, "token id %d is outside the vocabulary (0..%d)", tokens[i],
                           m->hp.n_vocab - 1);
        const uint8_t *row = (const uint8_t *)E->data + (uint64_t)tokens[i] * E->row_bytes;
        ga_status st = ga_dequantize(E->type, row, m->x + i * D, D, err);
        if (st) return st;
        if (scale != 1.0f)
            for (int64_t j = 0; j < D; j++) m->x[i * D + j] *= scale;
    }
    return GA_OK;
}

/* ------------------------------------------------------------- profiling */

static const char *const prof_names[GA_PROF_N] = {
    "embed", "rms_norm", "matmul_qkv", "qk_norm_rope", "attention", "matmul_attn_out",
    "residual_post_norm", "matmul_gate_up", "gelu_mul", "matmul_down", "output_head",
};

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* run the statement, charging its time to op kind K when profiling */
#define PROF(m, K, ...)                                   \
    do {                                                   \
        if ((m)->profile) {                                \
            const double t0_ = now_s();                    \
            __VA_ARGS__;                                   \
            (m)->prof_s[K] += now_s() - t0_;               \
        } else {                                           \
            __VA_ARGS__;                                   \
        }                                                  \
    } while (0)

int ga_model_profile(ga_model *m, const char **names, double *secs, int cap, int64_t *tokens, int reset) {
    if (!m->profile) return 0;
    for (int i = 0; i < GA_PROF_N && i < cap; i++) {
        names[i] = prof_names[i];
        secs[i] = m->prof_s[i];
    }
    if (tokens) *tokens = m->prof_tokens;
    if (reset) {
        memset(m->prof_s, 0, sizeof m->prof_s);
        m->prof_tokens = 0;
    }
    return GA_PROF_N;
}

static void layer_forward(ga_model *m, int l, int T) {
    const ga_backend_ops *ops = m->ops;
    const ga_hparams *hp = &m->hp;
    const ga_layer_weights *L = &m->w.layers[l];
    const int64_t D = hp->n_embd;

    PROF(m, GA_PROF_NORM, ops->rms_norm_rows(m, m->xn, m->x, L->attn_norm, T, D));
    PROF(m, GA_PROF_QKV, ops->matmul(m, m->xn, T, 3, (const ga_weight *const[]){&L->wq, &L->wk, &L->wv},
                                     (float *const[]){m->q, m->k, m->v}));
    PROF(m, GA_PROF_ROPE, ops->qk_rope_store(m, l, T));
    PROF(m, GA_PROF_ATTN, ops->attention(m, l, T));
    PROF(m, GA_PROF_ATTN_OUT,
         ops->matmul(m, m->att, T, 1, (const ga_weight *const[]){&L->wo}, (float *const[]){m->o}));
    PROF(m, GA_PROF_RESIDUAL, ops->residual_add(m, m->o, hp->post_norms ? L->post_attn_norm : NULL, T));

    PROF(m, GA_PROF_NORM, ops->rms_norm_rows(m, m->xn, m->x, L->ffn_norm, T, D));
    PROF(m, GA_PROF_GATE_UP, ops->matmul(m, m->xn, T, 2, (const ga_weight *const[]){&L->gate, &L->up},
                                         (float *const[]){m->g, m->u}));
    PROF(m, GA_PROF_MLP_ACT, ops->mlp_act(m, T));
    PROF(m, GA_PROF_DOWN,
         ops->matmul(m, m->g, T, 1, (const ga_weight *const[]){&L->down}, (float *const[]){m->o}));
    PROF(m, GA_PROF_RESIDUAL, ops->residual_add(m, m->o, hp->post_norms ? L->post_ffw_norm : NULL, T));
}

static ga_status eval_chunk(ga_model *m, const int32_t *tokens, int T, float *logits, int all_logits,
                            ga_error *err) {
    const ga_hparams *hp = &m->hp;
    const int64_t D = hp->n_embd, V = hp->n_vocab;
    ga_status st;
    PROF(m, GA_PROF_EMBED, st = embed(m, tokens, T, err));
    if (st) return st;
    for (int l = 0; l < hp->n_layer; l++) layer_forward(m, l, T);
    if (logits) {
        /* only the rows whose logits are wanted go through the output head */
        const int first = all_logits ? 0 : T - 1, n = all_logits ? T : 1;
        PROF(m, GA_PROF_HEAD, {
            m->ops->rms_norm_rows(m, m->xn, m->x + first * D, m->w.output_norm, n, D);
            m->ops->matmul(m, m->xn, n, 1, (const ga_weight *const[]){&m->w.output},
                           (float *const[]){logits});
            if (hp->final_softcap > 0) {
                const float c = hp->final_softcap;
                for (int64_t i = 0; i < (int64_t)n * V; i++) logits[i] = c * tanhf(logits[i] / c);
            }
        });
    }
    m->n_past += T;
    m->prof_tokens += T;
    return GA_OK;
}

ga_status ga_model_eval(ga_model *m, const int32_t *tokens, int n, float *logits, int all_logits,
                        ga_error *err) {
    if (n < 1) return ga_fail(err, GA_ERR_ARG, "no tokens to evaluate");
    if ((int64_t)m->n_past + n > m->n_ctx)
        return ga_fail(err, GA_ERR_ARG, "context overflow: %d cached + %d new tokens exceed n_ctx %d",
                       m->n_past, n, m->n_ctx);
    int expected = 0;
    if (!atomic_compare_exchange_strong(&m->busy, &expected, 1))
        return ga_fail(err, GA_ERR_ARG, "the model is already evaluating on another thread");
    ga_status st = GA_OK;
    const int64_t V = m->hp.n_vocab;
    for (int done = 0; done < n && st == GA_OK; done += m->n_batch) {
        int T = n - done < m->n_batch ? n - done : m->n_batch;
        int is_last = done + T == n;
        float *out = NULL;
        if (logits && all_logits) out = logits + (int64_t)done * V;
        else if (logits && is_last) out = logits;
        st = eval_chunk(m, tokens + done, T, out, all_logits, err);
    }
    atomic_store(&m->busy, 0);
    return st;
}
