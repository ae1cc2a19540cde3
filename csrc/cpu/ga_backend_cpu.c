/* ga_backend_cpu.c - the CPU implementation of the model's ops.
 *
 * Every op splits its work over the model's persistent thread pool.  Matrix
 * products read each weight row once per chunk and dot it with all T
 * quantized activations: rows go in small blocks so a block stays in L1
 * while the chunk's activations stream past.
 */
#include <math.h>
#include <string.h>

#include "ga_gemm.h"
#include "ga_gemm_q16.h"
#include "ga_matvec.h"
#include "ga_model_impl.h"
#include "ga_ops.h"
#include "ga_quants.h"

#define ROW_BLOCK 16 /* weight rows kept hot while all tokens of a chunk pass */

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
        int fam = ga_act_family(t->w[i]->type);
        if (done[fam]) continue;
        done[fam] = 1;
        int64_t b, e;
        ga_split(t->T, ith, nth, &b, &e);
        const int64_t cols = t->w[i]->cols;
        for (int64_t tok = b; tok < e; tok++)
            ga_matvec_quantize_act2(t->w[i]->type, t->x + tok * cols, m->act[fam] + tok * m->act_stride[fam],
                                    m->act_res[fam] ? m->act_res[fam] + tok * m->act_res_stride[fam] : NULL, cols,
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
    ga_model *m = t->m;
    for (int i = 0; i < t->nw; i++) {
        const ga_weight *w = t->w[i];
        int64_t r0, r1;
        if (!share_of_rows(t, ith, nth, i, &r0, &r1)) continue;
        int fam = ga_act_family(w->type);
        /* one token (decode): no block reuse to gain, one call for the whole range */
        const int64_t block = t->T == 1 ? r1 - r0 : ROW_BLOCK;
        for (int64_t rb = r0; rb < r1; rb += block) {
            int64_t re = rb + block < r1 ? rb + block : r1;
            for (int tok = 0; tok < t->T; tok++) {
                float *y = t->y[i] + tok * t->y_stride[i];
                const uint8_t *act = m->act[fam] + tok * m->act_stride[fam];
                if (m->act_res[fam]) /* one weight unpack, two integer dots */
                    ga_matvec_rows2_packed(w->type, w->data, w->packed, w->cols, act,
                                           m->act_res[fam] + tok * m->act_res_stride[fam], y, rb, re, m->fused_dot2,
                                           NULL);
                else
                    ga_matvec_rows_packed(w->type, w->data, w->packed, w->cols, act, y, rb, re, NULL);
            }
        }
    }
}

/* prefill: f32 activations times dequantized weight tiles (ga_gemm.c), no quantize pass */
static void gemm_task(void *p, int ith, int nth) {
    matmul_task *t = p;
    ga_model *m = t->m;
    float *scratch = m->gemm_scratch + (int64_t)ith * m->gemm_scratch_stride;
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
    ga_model *m = t->m;
    int done[ACT_FAMILIES] = {0};
    for (int i = 0; i < t->nw; i++) {
        const ga_weight *w = t->w[i];
        int64_t r0, r1;
        if (!share_of_rows(t, ith, nth, i, &r0, &r1)) continue;
        const int fam = ga_act_family(w->type);
        uint8_t *act = m->act[fam] + (size_t)ith * m->act_stride[fam];
        uint8_t *res = m->act_res[fam] ? m->act_res[fam] + (size_t)ith * m->act_res_stride[fam] : NULL;
        if (!done[fam]) {
            ga_matvec_quantize_act2(w->type, t->x, act, res, w->cols, NULL);
            done[fam] = 1;
        }
        if (res)
            ga_matvec_rows2_packed(w->type, w->data, w->packed, w->cols, act, res, t->y[i], r0, r1, m->fused_dot2,
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
        ga_gemm_q16_pack(t->x, cols, cols, t->T, (int)b, (int)e, t->m->q16_x2, t->m->q16_dx,
                         t->m->q16_scratch + (size_t)ith * t->m->q16_scratch_stride);
}

/* ...then runs its rows of every weight against all of them */
static void q16_rows_task(void *p, int ith, int nth) {
    matmul_task *t = p;
    ga_model *m = t->m;
    for (int i = 0; i < t->nw; i++) {
        int64_t r0, r1;
        if (!share_of_rows(t, ith, nth, i, &r0, &r1)) continue;
        ga_gemm_q16_rows(t->w[i]->type, t->w[i]->data, t->w[i]->cols, m->q16_x2, m->q16_dx, t->T, t->y[i],
                         t->y_stride[i], r0, r1, m->q16_scratch + (size_t)ith * m->q16_scratch_stride, NULL);
    }
}

static int q16_applies(const ga_model *m, int T, int nw, const ga_weight *const *w) {
    if (!m->q16_x2 || T < GA_GEMM_Q16_MIN_T || T < m->gemm_min_t || m->gemm_min_t == 0) return 0;
    for (int i = 0; i < nw; i++)
        if (!ga_gemm_q16_supports(w[i]->type)) return 0;
    return 1;
}

static void cpu_matmul(ga_model *m, const float *x, int T, int nw, const ga_weight *const *w, float *const *y) {
    matmul_task t = {.m = m, .x = x, .T = T, .nw = nw};
    for (int i = 0; i < nw; i++) {
        t.w[i] = w[i];
        t.y[i] = y[i];
        t.y_stride[i] = w[i]->rows;
    }
    if (q16_applies(m, T, nw, w)) {
        ga_pool_run(m->pool, q16_pack_task, &t);
        ga_pool_run(m->pool, q16_rows_task, &t);
        return;
    }
    if (m->gemm_scratch && T >= m->gemm_min_t) {
        ga_pool_run(m->pool, gemm_task, &t);
        return;
    }
    for (int i = 0; i < nw; i++) /* the row kernels below read the interleaved copies */
        if (w[i]->packed) ga_model_finish_packing(m);
    if (T == 1 && m->n_batch >= ga_pool_size(m->pool)) {
        ga_pool_run(m->pool, decode_rows_task, &t);
        return;
    }
    ga_pool_run(m->pool, quantize_task, &t);
    ga_pool_run(m->pool, rows_task, &t);
}

/* Element ops split over tokens: with one token only thread 0 would have work, so the
 * caller runs it alone and no thread is woken. */
static void run_rows(ga_model *m, ga_task_fn fn, void *ctx, int T) {
    if (T == 1) fn(ctx, 0, 1);
    else ga_pool_run(m->pool, fn, ctx);
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

static void cpu_rms_norm_rows(ga_model *m, float *dst, const float *src, const float *w, int T, int64_t width) {
    elem_task t = {.m = m, .T = T, .norm_w = w, .src = src, .dst = dst, .width = width};
    run_rows(m, norm_rows_task, &t, T);
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
        if (hp->rope_neox && m->rope_tables) {
            /* the chunk's angles are computed once (first layer of this kind), then reused */
            const int64_t half = d / 2;
            float *c = m->rope_cos + ((int64_t)swa * m->n_batch + i) * half;
            float *s = m->rope_sin + ((int64_t)swa * m->n_batch + i) * half;
            if (t->inout) ga_rope_angles(c, s, 0, half, 2 * half, pos, base, scale);
            ga_rope_neox_tab(q, H, d, half, c, s);
            ga_rope_neox_tab(k, Hkv, d, half, c, s);
        } else if (hp->rope_neox) {
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

/* the first position a query at pos sees in layer l (sliding-window layers see window) */
static int64_t first_key(const ga_model *m, int l, int64_t pos) {
    const int window = m->hp.layer_swa[l] ? m->hp.sliding_window : 0;
    return window > 0 && pos - window + 1 > 0 ? pos - window + 1 : 0;
}

static void attention_one_job(ga_model *m, int l, int64_t i, int64_t h, int ith) {
    const ga_hparams *hp = &m->hp;
    const int64_t d = hp->head_dim, H = hp->n_head, group = hp->n_head / hp->n_head_kv;
    const int64_t pos = m->n_past + i;
    const int64_t first = first_key(m, l, pos);
    ga_attn_args a = {
        .q = m->q + (i * H + h) * d, .out = m->att + (i * H + h) * d,
        .k_cache = m->k_cache[l] + (h / group) * d, .v_cache = m->v_cache[l] + (h / group) * d,
        .stride = hp->n_head_kv * d, .head_dim = d,
        .first = first, .last = pos, .ring = m->cache_len[l],
        .scale = hp->attn_scale, .softcap = hp->attn_softcap,
    };
    ga_attention_one(&a, &m->attn, ith);
}

static void attention_task(void *p, int ith, int nth) {
    elem_task *t = p;
    ga_model *m = t->m;
    const ga_hparams *hp = &m->hp;
    const int l = t->layer;
    const int64_t d = hp->head_dim, H = hp->n_head, group = hp->n_head / hp->n_head_kv;
    const int window = hp->layer_swa[l] ? hp->sliding_window : 0;
    int64_t b, e;
    if (t->T >= 2 && m->attn_blocked) {
        /* prefill: blocks of GA_ATTN_QBLOCK queries of one head, scores and sums as sgemm */
        const int64_t nblk = (t->T + GA_ATTN_QBLOCK - 1) / GA_ATTN_QBLOCK;
        /* jobs dealt round-robin: later query blocks see more keys (causal), so contiguous
         * shares would leave the first thread idle while the last finishes */
        for (int64_t job = ith; job < nblk * H; job += nth) {
            const int64_t h = job % H, i0 = job / H * GA_ATTN_QBLOCK;
            const int nq = (int)(t->T - i0 < GA_ATTN_QBLOCK ? t->T - i0 : GA_ATTN_QBLOCK);
            ga_attn_block_args a = {
                .q = m->q + (i0 * H + h) * d, .out = m->att + (i0 * H + h) * d,
                .q_stride = H * d, .out_stride = H * d,
                .k_cache = m->k_cache[l] + (h / group) * d, .v_cache = m->v_cache[l] + (h / group) * d,
                .stride = hp->n_head_kv * d, .head_dim = d,
                .last0 = m->n_past + i0, .window = window, .nq = nq, .ring = m->cache_len[l],
                .scale = hp->attn_scale, .softcap = hp->attn_softcap,
            };
            if (!ga_attention_block(&a, &m->attn, ith))
                for (int64_t i = i0; i < i0 + nq; i++) attention_one_job(m, l, i, h, ith);
        }
        return;
    }
    ga_split((int64_t)t->T * H, ith, nth, &b, &e);
    for (int64_t job = b; job < e; job++) attention_one_job(m, l, job / H, job % H, ith);
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

static void cpu_qk_rope_store(ga_model *m, int layer, int T) {
    const int swa = m->hp.layer_swa[layer] ? 1 : 0;
    /* inout != NULL tells qk_task to (re)compute this chunk's RoPE tables */
    const int stale = m->rope_key_pos[swa] != m->n_past || m->rope_key_T[swa] != T;
    elem_task t = {.m = m, .T = T, .layer = layer, .inout = stale ? m->rope_cos : NULL};
    run_rows(m, qk_task, &t, T);
    m->rope_key_pos[swa] = m->n_past;
    m->rope_key_T[swa] = T;
}

/* decode, grouped: thread ith's share of the visible keys for every kv head's group of
 * query heads, left as partial softmax states in its scratch */
static void attention_group_task(void *p, int ith, int nth) {
    elem_task *t = p;
    ga_model *m = t->m;
    const ga_hparams *hp = &m->hp;
    const int l = t->layer;
    const int64_t d = hp->head_dim, Hkv = hp->n_head_kv;
    const int G = (int)(hp->n_head / Hkv);
    const int64_t pos = m->n_past, first = first_key(m, l, pos);
    int64_t b, e;
    ga_split(pos + 1 - first, ith, nth, &b, &e);
    for (int64_t hk = 0; hk < Hkv; hk++) {
        ga_attn_group_args a = {
            .q = m->q + hk * G * d, .k_cache = m->k_cache[l] + hk * d, .v_cache = m->v_cache[l] + hk * d,
            .stride = Hkv * d, .head_dim = d, .first = first + b, .last = first + e - 1,
            .ring = m->cache_len[l], .G = G, .scale = hp->attn_scale, .softcap = hp->attn_softcap,
        };
        ga_attn_partial part = ga_attn_partial_at(&m->attn, ith, hk, G);
        ga_attention_group(&a, &part, &m->attn, ith);
    }
}

/* One token over a short context is a few microseconds of work: less than waking the pool */
#define ATTN_INLINE_MACS (1 << 18)
/* ...except that the grouped kernel's time is the first read of the layer's keys and
 * values (evicted by the weights since the last token): two threads halve it from 32
 * keys on (measured: 0.45 -> 0.28 ms per token at 80 positions on the default model) */
#define ATTN_GROUP_SPLIT_KEYS 32

static void cpu_attention(ga_model *m, int layer, int T) {
    const ga_hparams *hp = &m->hp;
    const int64_t macs = (int64_t)(m->n_past + 1) * hp->n_head * hp->head_dim;
    elem_task t = {.m = m, .T = T, .layer = layer};
    const int G = (int)(hp->n_head / hp->n_head_kv);
    if (T == 1 && m->attn_blocked && ga_attention_group_available(G)) {
        /* the heads sharing a kv head read each key once; long contexts split the keys */
        const int64_t keys = m->n_past + 1 - first_key(m, layer, m->n_past);
        const int nth = keys < ATTN_GROUP_SPLIT_KEYS ? 1 : ga_pool_size(m->pool);
        if (nth == 1) attention_group_task(&t, 0, 1);
        else ga_pool_run(m->pool, attention_group_task, &t);
        for (int64_t hk = 0; hk < hp->n_head_kv; hk++)
            ga_attention_merge(&m->attn, nth, hk, G, m->att + hk * G * hp->head_dim);
        return;
    }
    if (T == 1 && macs <= ATTN_INLINE_MACS) attention_task(&t, 0, 1);
    else ga_pool_run(m->pool, attention_task, &t);
}

static void cpu_mlp_act(ga_model *m, int T) {
    elem_task t = {.m = m, .T = T};
    run_rows(m, mlp_act_task, &t, T);
}

/* x += (optionally normed) o */
static void cpu_residual_add(ga_model *m, float *o, const float *post_norm, int T) {
    const int64_t D = m->hp.n_embd;
    if (post_norm) cpu_rms_norm_rows(m, o, o, post_norm, T, D);
    for (int64_t i = 0; i < (int64_t)T * D; i++) m->x[i] += o[i];
}


const ga_backend_ops ga_backend_cpu = {
    .name = "cpu",
    .rms_norm_rows = cpu_rms_norm_rows,
    .matmul = cpu_matmul,
    .qk_rope_store = cpu_qk_rope_store,
    .attention = cpu_attention,
    .mlp_act = cpu_mlp_act,
    .residual_add = cpu_residual_add,
};
