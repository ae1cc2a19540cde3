/* ga_model.c - model lifetime, KV cache and the per-chunk forward pass.
 *
 * One eval call runs a chunk of T <= n_batch tokens through every layer.
 * Matrix products read each weight row once per chunk and dot it with all T
 * quantized activations (rows are processed in small blocks so the block
 * stays in L1 while the activations stream past).  Work is split over the
 * persistent thread pool; nothing is allocated after ga_model_new().
 */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "ga_attention.h"
#include "ga_matvec.h"
#include "ga_model.h"
#include "ga_ops.h"
#include "ga_quants.h"
#include "ga_types.h"

#define ROW_BLOCK 16 /* weight rows kept hot while all tokens of a chunk pass */

enum { ACT_Q8_0, ACT_Q8_K, ACT_F32, ACT_FAMILIES };

struct ga_model {
    ga_hparams hp;
    ga_weights w;
    int n_ctx, n_batch, n_past;
    ga_pool *pool;
    atomic_int busy;
    /* KV cache: layer l holds cache_len[l] slots of kv_dim floats; position p
     * lives in slot p % cache_len[l] (a ring on sliding-window layers). */
    float *k_cache[GA_MAX_LAYERS], *v_cache[GA_MAX_LAYERS];
    int cache_len[GA_MAX_LAYERS];
    /* chunk scratch, [n_batch][width] each */
    float *x, *xn, *q, *k, *v, *att, *o, *g, *u;
    uint8_t *act[ACT_FAMILIES]; /* quantized activations per family */
    size_t act_stride[ACT_FAMILIES];
    ga_attn_scratch attn;
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

/* ---------------------------------------------------------------- lifetime */

static ga_status check_weight(const ga_weight *w, const char *what, int layer, int64_t rows,
                              int64_t cols, ga_error *err) {
    if (!w->data) return ga_fail(err, GA_ERR_ARG, "layer %d: missing weight %s", layer, what);
    if (w->rows != rows || w->cols != cols)
        return ga_fail(err, GA_ERR_FORMAT, "layer %d: %s is %lldx%lld, expected %lldx%lld", layer,
                       what, (long long)w->rows, (long long)w->cols, (long long)rows, (long long)cols);
    if (act_family(w->type) < 0)
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

ga_status ga_model_new(const ga_hparams *hp, const ga_weights *w, int n_ctx, int n_batch,
                       int n_threads, ga_model **out, ga_error *err) {
    ga_status st;
    if ((st = check_hparams(hp, err)) || (st = check_weights(hp, w, err))) return st;
    if (n_ctx < 1 || n_batch < 1)
        return ga_fail(err, GA_ERR_ARG, "n_ctx and n_batch must be positive");
    if (n_batch > n_ctx) n_batch = n_ctx;
    ga_model *m = calloc(1, sizeof *m);
    if (!m) return ga_fail(err, GA_ERR_NOMEM, "out of memory");
    m->hp = *hp;
    m->w = *w;
    m->n_ctx = n_ctx;
    m->n_batch = n_batch;
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
        int fam = act_family(all[i]->type);
        size_t size = ga_matvec_act_size(all[i]->type, all[i]->cols);
        size = (size + 63) & ~(size_t)63;
        if (size > m->act_stride[fam]) m->act_stride[fam] = size;
    }
    for (int f = 0; f < ACT_FAMILIES && ok; f++) {
        if (!m->act_stride[f]) continue;
        m->act[f] = calloc((size_t)B, m->act_stride[f]);
        m->reserved += (uint64_t)B * m->act_stride[f];
        ok &= m->act[f] != NULL;
    }
    if (ok && ga_attn_scratch_init(&m->attn, n_threads, hp->head_dim) != GA_OK) ok = 0;
    m->reserved += ga_attn_scratch_bytes(&m->attn);
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
    for (int f = 0; f < ACT_FAMILIES; f++) free(m->act[f]);
    ga_attn_scratch_free(&m->attn);
    free(m);
}

int ga_model_n_past(const ga_model *m) { return m->n_past; }
int ga_model_n_ctx(const ga_model *m) { return m->n_ctx; }
int ga_model_n_batch(const ga_model *m) { return m->n_batch; }
const ga_hparams *ga_model_hparams(const ga_model *m) { return &m->hp; }
uint64_t ga_model_reserved_bytes(const ga_model *m) { return m->reserved; }

void ga_model_truncate(ga_model *m, int n) {
    if (n >= 0 && n < m->n_past) m->n_past = n;
}

/* ------------------------------------------------------------ matmul tasks */

typedef struct {
    ga_model *m;
    const ga_weight *w[3]; /* up to three weights sharing one input */
    float *y[3];
    int nw;
    const float *x; /* [T][cols] */
    int T;
    int64_t y_stride[3];
} matmul_task;

static void quantize_task(void *p, int ith, int nth) {
    matmul_task *t = p;
    ga_model *m = t->m;
    int done[ACT_FAMILIES] = {0};
    for (int i = 0; i < t->nw; i++) {
        int fam = act_family(t->w[i]->type);
        if (done[fam]) continue;
        done[fam] = 1;
        int64_t b, e;
        ga_split(t->T, ith, nth, &b, &e);
        for (int64_t tok = b; tok < e; tok++)
            ga_matvec_quantize_act(t->w[i]->type, t->x + tok * t->w[i]->cols,
                                   m->act[fam] + tok * m->act_stride[fam], t->w[i]->cols, NULL);
    }
}

static void rows_task(void *p, int ith, int nth) {
    matmul_task *t = p;
    ga_model *m = t->m;
    /* split the concatenated rows of all weights evenly over the threads */
    int64_t total = 0;
    for (int i = 0; i < t->nw; i++) total += t->w[i]->rows;
    int64_t b, e;
    ga_split(total, ith, nth, &b, &e);
    int64_t base = 0;
    for (int i = 0; i < t->nw; i++) {
        const ga_weight *w = t->w[i];
        int64_t r0 = b - base > 0 ? b - base : 0, r1 = e - base < w->rows ? e - base : w->rows;
        base += w->rows;
        if (r0 >= r1) continue;
        int fam = act_family(w->type);
        for (int64_t rb = r0; rb < r1; rb += ROW_BLOCK) {
            int64_t re = rb + ROW_BLOCK < r1 ? rb + ROW_BLOCK : r1;
            for (int tok = 0; tok < t->T; tok++)
                ga_matvec_rows(w->type, w->data, w->cols, m->act[fam] + tok * m->act_stride[fam],
                               t->y[i] + tok * t->y_stride[i], rb, re, NULL);
        }
    }
}

/* y_i[T][rows_i] = x[T][cols] @ W_i^T for the nw weights, which share their input. */
static void matmul(ga_model *m, const float *x, int T, int nw, const ga_weight *w0, float *y0,
                   const ga_weight *w1, float *y1, const ga_weight *w2, float *y2) {
    matmul_task t = {.m = m, .x = x, .T = T, .nw = nw,
                     .w = {w0, w1, w2}, .y = {y0, y1, y2},
                     .y_stride = {w0->rows, w1 ? w1->rows : 0, w2 ? w2->rows : 0}};
    ga_pool_run(m->pool, quantize_task, &t);
    ga_pool_run(m->pool, rows_task, &t);
}

/* ----------------------------------------------------------- element tasks */

typedef struct {
    ga_model *m;
    int T, layer;
    const float *norm_w;
    float *inout;
    const float *src;
    float *dst;
    int64_t width;
} elem_task;

static void norm_rows_task(void *p, int ith, int nth) {
    elem_task *t = p;
    int64_t b, e;
    ga_split(t->T, ith, nth, &b, &e);
    for (int64_t i = b; i < e; i++)
        ga_rmsnorm(t->dst + i * t->width, t->src + i * t->width, t->norm_w, t->width, t->m->hp.norm_eps);
}

static void rms_norm_rows(ga_model *m, float *dst, const float *src, const float *w, int T, int64_t width) {
    elem_task t = {.m = m, .T = T, .norm_w = w, .src = src, .dst = dst, .width = width};
    ga_pool_run(m->pool, norm_rows_task, &t);
}

/* llama GGUF files permute q/k so that RoPE rotates adjacent pairs */
static void rope_adjacent(float *x, int64_t n_heads, int64_t d, int64_t pos, float base, float scale) {
    for (int64_t h = 0; h < n_heads; h++) {
        float *v = x + h * d;
        for (int64_t i = 0; i < d / 2; i++) {
            float inv = 1.0f / powf(base, (float)(2 * i) / (float)d);
            float ang = (float)pos * (inv * scale);
            float c = cosf(ang), s = sinf(ang);
            float a = v[2 * i], b2 = v[2 * i + 1];
            v[2 * i] = a * c - b2 * s;
            v[2 * i + 1] = a * s + b2 * c;
        }
    }
}

/* q/k per-head norm, RoPE, and the k/v store into the cache slots */
static void qk_task(void *p, int ith, int nth) {
    elem_task *t = p;
    ga_model *m = t->m;
    const ga_hparams *hp = &m->hp;
    const ga_layer_weights *L = &m->w.layers[t->layer];
    const int64_t d = hp->head_dim, H = hp->n_head, Hkv = hp->n_head_kv, KV = Hkv * d;
    const int swa = hp->layer_swa[t->layer];
    const float base = swa ? hp->rope_base_swa : hp->rope_base;
    const float scale = swa ? hp->rope_freq_scale_swa : hp->rope_freq_scale;
    int64_t b, e;
    ga_split(t->T, ith, nth, &b, &e);
    for (int64_t i = b; i < e; i++) {
        const int64_t pos = m->n_past + i;
        float *q = m->q + i * H * d, *k = m->k + i * KV;
        if (hp->qk_norm) {
            for (int64_t h = 0; h < H; h++) ga_rmsnorm(q + h * d, q + h * d, L->q_norm, d, hp->norm_eps);
            for (int64_t h = 0; h < Hkv; h++) ga_rmsnorm(k + h * d, k + h * d, L->k_norm, d, hp->norm_eps);
        }
        if (hp->rope_neox) {
            ga_rope_neox(q, H, d, d, pos, base, scale);
            ga_rope_neox(k, Hkv, d, d, pos, base, scale);
        } else {
            rope_adjacent(q, H, d, pos, base, scale);
            rope_adjacent(k, Hkv, d, pos, base, scale);
        }
        const int64_t slot = pos % m->cache_len[t->layer];
        memcpy(m->k_cache[t->layer] + slot * KV, k, (size_t)KV * sizeof(float));
        memcpy(m->v_cache[t->layer] + slot * KV, m->v + i * KV, (size_t)KV * sizeof(float));
    }
}

static void attention_task(void *p, int ith, int nth) {
    elem_task *t = p;
    ga_model *m = t->m;
    const ga_hparams *hp = &m->hp;
    const int l = t->layer;
    const int64_t d = hp->head_dim, H = hp->n_head, group = hp->n_head / hp->n_head_kv;
    const int window = hp->layer_swa[l] ? hp->sliding_window : 0;
    int64_t b, e;
    ga_split((int64_t)t->T * H, ith, nth, &b, &e);
    for (int64_t job = b; job < e; job++) {
        const int64_t i = job / H, h = job % H;
        const int64_t pos = m->n_past + i;
        int64_t first = window > 0 && pos - window + 1 > 0 ? pos - window + 1 : 0;
        ga_attn_args a = {
            .q = m->q + (i * H + h) * d, .out = m->att + (i * H + h) * d,
            .k_cache = m->k_cache[l] + (h / group) * d, .v_cache = m->v_cache[l] + (h / group) * d,
            .stride = hp->n_head_kv * d, .head_dim = d,
            .first = first, .last = pos, .ring = m->cache_len[l],
            .scale = hp->attn_scale, .softcap = hp->attn_softcap,
        };
        ga_attention_one(&a, &m->attn, ith);
    }
}

static void mlp_act_task(void *p, int ith, int nth) {
    elem_task *t = p;
    ga_model *m = t->m;
    const int64_t F = m->hp.n_ff;
    int64_t b, e;
    ga_split(t->T, ith, nth, &b, &e);
    for (int64_t i = b; i < e; i++) {
        float *g = m->g + i * F, *u = m->u + i * F;
        if (m->hp.act_gelu) {
            ga_gelu_tanh_mul(g, g, u, F);
        } else {
            for (int64_t j = 0; j < F; j++) g[j] = g[j] / (1.0f + expf(-g[j])) * u[j];
        }
    }
}

static void run_elem(ga_model *m, ga_task_fn fn, int T, int layer) {
    elem_task t = {.m = m, .T = T, .layer = layer};
    ga_pool_run(m->pool, fn, &t);
}

/* x += (optionally normed) o */
static void residual_add(ga_model *m, float *o, const float *post_norm, int T) {
    const int64_t D = m->hp.n_embd;
    if (post_norm) rms_norm_rows(m, o, o, post_norm, T, D);
    for (int64_t i = 0; i < (int64_t)T * D; i++) m->x[i] += o[i];
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

static void layer_forward(ga_model *m, int l, int T) {
    const ga_hparams *hp = &m->hp;
    const ga_layer_weights *L = &m->w.layers[l];
    const int64_t D = hp->n_embd;

    rms_norm_rows(m, m->xn, m->x, L->attn_norm, T, D);
    matmul(m, m->xn, T, 3, &L->wq, m->q, &L->wk, m->k, &L->wv, m->v);
    run_elem(m, qk_task, T, l);
    run_elem(m, attention_task, T, l);
    matmul(m, m->att, T, 1, &L->wo, m->o, NULL, NULL, NULL, NULL);
    residual_add(m, m->o, hp->post_norms ? L->post_attn_norm : NULL, T);

    rms_norm_rows(m, m->xn, m->x, L->ffn_norm, T, D);
    matmul(m, m->xn, T, 2, &L->gate, m->g, &L->up, m->u, NULL, NULL);
    run_elem(m, mlp_act_task, T, l);
    matmul(m, m->g, T, 1, &L->down, m->o, NULL, NULL, NULL, NULL);
    residual_add(m, m->o, hp->post_norms ? L->post_ffw_norm : NULL, T);
}

static ga_status eval_chunk(ga_model *m, const int32_t *tokens, int T, float *logits, int all_logits,
                            ga_error *err) {
    const ga_hparams *hp = &m->hp;
    const int64_t D = hp->n_embd, V = hp->n_vocab;
    ga_status st = embed(m, tokens, T, err);
    if (st) return st;
    for (int l = 0; l < hp->n_layer; l++) layer_forward(m, l, T);
    if (logits) {
        /* only the rows whose logits are wanted go through the output head */
        const int first = all_logits ? 0 : T - 1, n = all_logits ? T : 1;
        rms_norm_rows(m, m->xn, m->x + first * D, m->w.output_norm, n, D);
        matmul(m, m->xn, n, 1, &m->w.output, logits, NULL, NULL, NULL, NULL);
        if (hp->final_softcap > 0) {
            const float c = hp->final_softcap;
            for (int64_t i = 0; i < (int64_t)n * V; i++) logits[i] = c * tanhf(logits[i] / c);
        }
    }
    m->n_past += T;
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
