/* ga_model.c - model lifetime, checks, sequences and the layer sequence of one chunk.
 *
 * One chunk of T <= n_batch tokens (of one or several sequences) runs through
 * every layer as a sequence of ops on the backend (ga_backend.h).  This file
 * keeps positions, chunking, the KV cache's bookkeeping (ga_kv.h) and every
 * check; it never touches activation or KV memory, which the backend owns.
 * Nothing is allocated after ga_model_new().
 */
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ga_backend.h"
#include "ga_kv.h"
#include "ga_model.h"

const char *const ga_op_names[GA_OP_COUNT] = {
    "get_rows", "rms_norm", "matmul", "qk_rope_store", "attention", "glu", "residual_add", "softcap", "kv_copy",
};
_Static_assert(GA_OP_COUNT == 9, "a new op needs its name in ga_op_names");

const ga_backend_i *const ga_backends[] = {&ga_backend_cpu, &ga_backend_vulkan, &ga_backend_npu, NULL};

/* op kinds timed when GA_PROFILE is set (ga_model_profile) */
enum { PROF_EMBED, PROF_NORM, PROF_QKV, PROF_ROPE, PROF_ATTN, PROF_ATTN_OUT, PROF_RESIDUAL, PROF_GATE_UP,
       PROF_MLP_ACT, PROF_DOWN, PROF_HEAD, PROF_N };

static const char *const prof_names[PROF_N] = {
    "embed", "rms_norm", "matmul_qkv", "qk_norm_rope", "attention", "matmul_attn_out",
    "residual_post_norm", "matmul_gate_up", "gelu_mul", "matmul_down", "output_head",
};

struct ga_model {
    ga_hparams hp;
    ga_weights w;
    const ga_backend_i *bi;
    ga_backend *be;
    int n_ctx, n_seq, n_batch;
    uint64_t budget_bytes;
    atomic_int busy;
    ga_kv kv;
    /* the backend's buffers: chunk activations [n_batch][widest], KV per storing layer, logits */
    ga_buf x, xn, q, k, v, att, o, g, u, logits;
    ga_buf kv_buf[GA_MAX_LAYERS];
    int32_t *chunk_pos, *chunk_seq; /* ga_model_eval's chunk: positions, sequence 0 */
    uint8_t *chunk_want;            /* ...and which rows' logits it wants */
    int32_t *seq_next;              /* [n_seq] batch checks: each sequence's next position */
    int32_t *seq_mark;              /* [n_seq] the chunk that last prepared each sequence */
    int32_t chunk_serial;
    char fallback[640];
    int profile;                    /* GA_PROFILE set at creation: time every op */
    double prof_s[PROF_N];
    int64_t prof_tokens;
};

/* ------------------------------------------------------------------ checks */

/* Shapes only: backend_runs_model has already asked the backend about every weight type. */
static ga_status check_weight(const ga_weight *w, const char *what, int layer, int64_t rows,
                              int64_t cols, ga_error *err) {
    if (!w->data) return ga_fail(err, GA_ERR_ARG, "layer %d: missing weight %s", layer, what);
    if (w->rows != rows || w->cols != cols)
        return ga_fail(err, GA_ERR_FORMAT, "layer %d: %s is %lldx%lld, expected %lldx%lld", layer,
                       what, (long long)w->rows, (long long)w->cols, (long long)rows, (long long)cols);
    return GA_OK;
}

static ga_status check_weights(const ga_model *m, ga_error *err) {
    const ga_hparams *hp = &m->hp;
    const ga_weights *w = &m->w;
    const int64_t D = hp->n_embd;
    ga_status st;
    if ((st = check_weight(&w->tok_embd, "token_embd", -1, hp->n_vocab, D, err))) return st;
    if ((st = check_weight(&w->output, "output", -1, hp->n_vocab, D, err))) return st;
    if (!w->output_norm) return ga_fail(err, GA_ERR_ARG, "missing output_norm");
    for (int l = 0; l < hp->n_layer; l++) {
        const ga_layer_weights *L = &w->layers[l];
        const ga_layer_hparams *lh = &hp->layer[l];
        const int64_t Q = (int64_t)lh->n_head * lh->head_dim, KV = (int64_t)lh->n_head_kv * lh->head_dim,
                      F = lh->n_ff;
        if ((st = check_weight(&L->wq, "attn_q", l, Q, D, err)) ||
            (lh->kv_from == l && (st = check_weight(&L->wk, "attn_k", l, KV, D, err))) ||
            (lh->kv_from == l && (st = check_weight(&L->wv, "attn_v", l, KV, D, err))) ||
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
    if (hp->n_embd < 1 || hp->n_vocab < 1 || hp->n_embd > (1 << 20))
        return ga_fail(err, GA_ERR_FORMAT, "invalid model dimensions (n_embd %d, n_vocab %d)", hp->n_embd,
                       hp->n_vocab);
    if (hp->sliding_window < 0) return ga_fail(err, GA_ERR_FORMAT, "negative sliding window");
    for (int l = 0; l < hp->n_layer; l++) {
        const ga_layer_hparams *lh = &hp->layer[l];
        if (lh->n_head < 1 || lh->n_head_kv < 1 || lh->head_dim < 2 || lh->n_ff < 1 || lh->head_dim % 2)
            return ga_fail(err, GA_ERR_FORMAT, "layer %d: invalid dimensions", l);
        if (lh->n_ff > (1 << 22) || lh->head_dim > 4096 || lh->n_head > 4096)
            return ga_fail(err, GA_ERR_FORMAT, "layer %d: dimensions are implausibly large", l);
        if (lh->n_head % lh->n_head_kv)
            return ga_fail(err, GA_ERR_FORMAT, "layer %d: n_head %d is not a multiple of n_head_kv %d", l,
                           lh->n_head, lh->n_head_kv);
        if (!(lh->rope_base > 0.0f) || !isfinite(lh->rope_base) || !isfinite(lh->rope_freq_scale))
            return ga_fail(err, GA_ERR_FORMAT, "layer %d: invalid RoPE base or scale", l);
        if (lh->kv_from < 0 || lh->kv_from > l)
            return ga_fail(err, GA_ERR_FORMAT, "layer %d: reads the KV of layer %d (not an earlier layer)", l,
                           lh->kv_from);
        const ga_layer_hparams *src = &hp->layer[lh->kv_from];
        if (lh->kv_from != l && (src->kv_from != lh->kv_from || src->n_head_kv != lh->n_head_kv ||
                                 src->head_dim != lh->head_dim || src->swa != lh->swa))
            return ga_fail(err, GA_ERR_FORMAT,
                           "layer %d: cannot read the KV of layer %d (another shape, or not its own KV)", l,
                           lh->kv_from);
    }
    return GA_OK;
}

/* ---------------------------------------------------------------- lifetime */

static const ga_backend_i *find_backend(const char *name) {
    for (int i = 0; ga_backends[i]; i++)
        if (strcmp(ga_backends[i]->name, name) == 0) return ga_backends[i];
    return NULL;
}

/* every op the model runs, with the weight types it runs them on */
static int backend_runs_model(const ga_backend_i *bi, const ga_backend *be, const ga_hparams *hp,
                              const ga_weights *w, char *why, size_t why_len) {
    static const ga_op plain[] = {GA_OP_RMS_NORM, GA_OP_QK_ROPE_STORE, GA_OP_ATTENTION, GA_OP_GLU,
                                  GA_OP_RESIDUAL_ADD, GA_OP_SOFTCAP, GA_OP_KV_COPY};
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++)
        if (!bi->supports(be, plain[i], -1)) {
            snprintf(why, why_len, "backend %s has no %s op", bi->name, ga_op_names[plain[i]]);
            return 0;
        }
    if (!bi->supports(be, GA_OP_GET_ROWS, w->tok_embd.type) || !bi->supports(be, GA_OP_MATMUL, w->output.type)) {
        snprintf(why, why_len, "backend %s cannot run the embedding or output types", bi->name);
        return 0;
    }
    for (int l = 0; l < hp->n_layer; l++) {
        const ga_layer_weights *L = &w->layers[l];
        const ga_weight *lw[7] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->gate, &L->up, &L->down};
        for (int i = 0; i < 7; i++)
            if (lw[i]->data && !bi->supports(be, GA_OP_MATMUL, lw[i]->type)) {
                snprintf(why, why_len, "backend %s has no matmul for weight type %d (layer %d)", bi->name,
                         lw[i]->type, l);
                return 0;
            }
    }
    return 1;
}

static ga_status alloc_buffers(ga_model *m, ga_error *err) {
    const ga_hparams *hp = &m->hp;
    const int64_t B = m->n_batch, D = hp->n_embd;
    int64_t Q = 0, KV = 0, F = 0;
    for (int l = 0; l < hp->n_layer; l++) {
        const ga_layer_hparams *lh = &hp->layer[l];
        if ((int64_t)lh->n_head * lh->head_dim > Q) Q = (int64_t)lh->n_head * lh->head_dim;
        if ((int64_t)lh->n_head_kv * lh->head_dim > KV) KV = (int64_t)lh->n_head_kv * lh->head_dim;
        if (lh->n_ff > F) F = lh->n_ff;
    }
    const ga_backend_i *bi = m->bi;
    ga_status st;
    struct { ga_buf *buf; int64_t width; } act[] = {
        {&m->x, D}, {&m->xn, D}, {&m->q, Q}, {&m->k, KV}, {&m->v, KV}, {&m->att, Q}, {&m->o, D}, {&m->g, F}, {&m->u, F},
    };
    for (size_t i = 0; i < sizeof act / sizeof act[0]; i++)
        if ((st = bi->alloc(m->be, GA_MEM_ACT, -1, B, act[i].width, act[i].buf, err))) return st;
    if ((st = bi->alloc(m->be, GA_MEM_OUTPUT, -1, B, hp->n_vocab, &m->logits, err))) return st;
    for (int l = 0; l < hp->n_layer; l++) {
        m->kv_buf[l] = GA_BUF_NONE;
        if (!m->kv.n_pages[l]) continue;
        const ga_layer_hparams *lh = &hp->layer[l];
        if ((st = bi->alloc(m->be, GA_MEM_KV, l, (int64_t)m->kv.n_pages[l] * GA_KV_PAGE,
                            (int64_t)lh->n_head_kv * lh->head_dim, &m->kv_buf[l], err)))
            return st;
    }
    return GA_OK;
}

static ga_status forward(ga_model *m, const ga_chunk *c, const uint8_t *want, ga_error *err);

/* A static-shape backend's two steps, compiled once: the ops of a chunk of n_batch tokens,
 * then of 1, every row wanting logits (the backend learns the output head's shape). */
static ga_status compile_steps(ga_model *m, ga_error *err) {
    if (!m->bi->compile_step) return GA_OK;
    const int shapes[2] = {m->n_batch, 1};
    for (int s = 0; s < (m->n_batch > 1 ? 2 : 1); s++) {
        const int T = shapes[s];
        for (int i = 0; i < T; i++) {
            m->chunk_pos[i] = i;
            m->chunk_want[i] = 1;
        }
        ga_chunk c = {.T = T, .tokens = m->chunk_seq, .pos = m->chunk_pos, .seq = m->chunk_seq, .kv = &m->kv,
                      .one_seq = 1};
        m->kv.n_copies = 0;
        ga_status st = m->bi->compile_step(m->be, &c, err);
        if (!st) st = forward(m, &c, m->chunk_want, err);
        ga_error end_err;
        const ga_status st_end = m->bi->end_chunk(m->be, st ? &end_err : err);
        if (st || st_end) return st ? st : st_end;
    }
    return GA_OK;
}

/* The backend's part of ga_model_new: init, checks, buffers, weights. */
static ga_status start_backend(ga_model *m, const ga_backend_i *bi, const ga_model_params *p, ga_error *err) {
    ga_backend_params bp = {.n_threads = p->n_threads, .act_bits = p->act_bits, .n_batch = m->n_batch,
                            .n_ctx = m->n_ctx, .n_seq = m->n_seq,
                            .device = p->device, .budget_bytes = p->budget_bytes,
                            .sram_bytes = p->sram_bytes, .align = p->align};
    m->bi = bi;
    ga_status st = bi->init(&bp, &m->hp, &m->be, err);
    if (st) return st;
    char why[256];
    if (!backend_runs_model(bi, m->be, &m->hp, &m->w, why, sizeof why))
        st = ga_fail(err, GA_ERR_UNSUPPORTED, "%s", why);
    if (st || (st = check_weights(m, err)) || (st = alloc_buffers(m, err)) ||
        (st = bi->load_weights(m->be, &m->w, err)) || (st = compile_steps(m, err))) {
        bi->free(m->be);
        m->be = NULL;
    }
    return st;
}

ga_status ga_model_new(const ga_hparams *hp, const ga_weights *w, const ga_model_params *p, ga_model **out,
                       ga_error *err) {
    ga_status st;
    if ((st = check_hparams(hp, err))) return st;
    if (p->n_ctx < 1 || p->n_batch < 1 || p->n_seq < 1 || p->n_threads < 1)
        return ga_fail(err, GA_ERR_ARG, "n_ctx, n_seq, n_batch and n_threads must be positive");
    if (p->n_seq > 4096) return ga_fail(err, GA_ERR_ARG, "n_seq %d exceeds 4096", p->n_seq);
    if (p->act_bits != 8 && p->act_bits != 16)
        return ga_fail(err, GA_ERR_ARG, "act_bits must be 8 or 16, got %d", p->act_bits);
    const char *want = p->backend && *p->backend ? p->backend : "cpu";
    ga_model *m = calloc(1, sizeof *m);
    if (!m) return ga_fail(err, GA_ERR_NOMEM, "out of memory");
    m->hp = *hp;
    m->w = *w;
    m->n_ctx = p->n_ctx;
    m->n_seq = p->n_seq;
    m->budget_bytes = p->budget_bytes;
    m->n_batch = p->n_batch < p->n_ctx ? p->n_batch : p->n_ctx;
    const char *prof = getenv("GA_PROFILE");
    m->profile = prof && *prof && strcmp(prof, "0") != 0;
    uint8_t owns[GA_MAX_LAYERS];
    for (int l = 0; l < hp->n_layer; l++) owns[l] = hp->layer[l].kv_from == l;
    m->chunk_pos = malloc((size_t)m->n_batch * sizeof(int32_t));
    m->chunk_seq = calloc((size_t)m->n_batch, sizeof(int32_t));
    m->chunk_want = calloc((size_t)m->n_batch, 1);
    m->seq_next = malloc((size_t)m->n_seq * sizeof(int32_t));
    m->seq_mark = calloc((size_t)m->n_seq, sizeof(int32_t));
    if (!m->chunk_pos || !m->chunk_seq || !m->chunk_want || !m->seq_next || !m->seq_mark) {
        ga_model_free(m);
        return ga_fail(err, GA_ERR_NOMEM, "out of memory");
    }
    if ((st = ga_kv_init(&m->kv, hp, owns, m->n_ctx, m->n_seq, m->n_batch, err))) {
        ga_model_free(m);
        return st;
    }
    /* "auto": the first accelerator built in, and the CPU whenever it cannot run the model */
    const int is_auto = strcmp(want, "auto") == 0;
    const ga_backend_i *bi = is_auto ? (ga_backends[1] ? ga_backends[1] : &ga_backend_cpu) : find_backend(want);
    if (!bi) {
        snprintf(m->fallback, sizeof m->fallback, "backend %s is not built into this gemma_accel", want);
    } else if (bi != &ga_backend_cpu) {
        if ((st = start_backend(m, bi, p, err)) == GA_OK) {
            *out = m;
            return GA_OK;
        }
        /* a model too large for the device asked for is the caller's error, not a reason to
         * quietly run it elsewhere */
        if (st == GA_ERR_DEVICE_MEMORY && !is_auto) {
            ga_model_free(m);
            return st;
        }
        /* the whole model moves to the CPU, never op by op */
        snprintf(m->fallback, sizeof m->fallback, "backend %s cannot run this model: %s", bi->name, err->msg);
    }
    bi = &ga_backend_cpu;
    if ((st = start_backend(m, bi, p, err))) {
        ga_model_free(m);
        return st;
    }
    *out = m;
    return GA_OK;
}

void ga_model_free(ga_model *m) {
    if (!m) return;
    if (m->be) m->bi->free(m->be);
    ga_kv_free(&m->kv);
    free(m->chunk_pos);
    free(m->chunk_seq);
    free(m->chunk_want);
    free(m->seq_next);
    free(m->seq_mark);
    free(m);
}

int ga_model_n_ctx(const ga_model *m) { return m->n_ctx; }
int ga_model_n_seq(const ga_model *m) { return m->n_seq; }
int ga_model_n_batch(const ga_model *m) { return m->n_batch; }
const ga_hparams *ga_model_hparams(const ga_model *m) { return &m->hp; }
const char *ga_model_backend(const ga_model *m) { return m->bi->name; }
const char *ga_model_fallback(const ga_model *m) { return m->fallback; }
uint64_t ga_model_reserved_bytes(const ga_model *m) { return m->bi->reserved_bytes(m->be); }

const ga_arena *ga_model_arena(const ga_model *m, uint64_t *budget) {
    *budget = m->budget_bytes;
    return m->bi->arena ? m->bi->arena(m->be) : NULL;
}

int ga_model_backend_stats(const ga_model *m, const char **names, double *values, int cap) {
    return m->bi->stats ? m->bi->stats(m->be, names, values, cap) : 0;
}

/* --------------------------------------------------------------- sequences */

static int seq_ok(const ga_model *m, int seq) { return seq >= 0 && seq < m->n_seq; }

int ga_model_seq_n_past(const ga_model *m, int seq) { return seq_ok(m, seq) ? m->kv.n_past[seq] : 0; }
int ga_model_seq_max_rollback(const ga_model *m, int seq) { return seq_ok(m, seq) ? ga_kv_max_rollback(&m->kv, seq) : 0; }

/* Sequence calls refuse to run while an eval runs (they change what it reads). */
static ga_status enter(ga_model *m, int seq, ga_error *err) {
    if (!seq_ok(m, seq)) return ga_fail(err, GA_ERR_ARG, "sequence %d is outside 0..%d", seq, m->n_seq - 1);
    int expected = 0;
    if (!atomic_compare_exchange_strong(&m->busy, &expected, 1))
        return ga_fail(err, GA_ERR_ARG, "the model is already evaluating on another thread");
    return GA_OK;
}

static ga_status truncate_locked(ga_model *m, int seq, int n, ga_error *err) {
    const int n_past = m->kv.n_past[seq];
    if (n < 0 || n > n_past)
        return ga_fail(err, GA_ERR_ARG, "cannot truncate to %d: %d positions cached", n, n_past);
    const int rb = ga_kv_max_rollback(&m->kv, seq);
    if (n > 0 && n_past - n > rb)
        return ga_fail(err, GA_ERR_ARG,
                       "cannot roll back %d positions: the sliding-window layers keep the keys for a "
                       "rollback of at most %d (truncate to 0 instead)", n_past - n, rb);
    ga_kv_truncate(&m->kv, seq, n);
    return GA_OK;
}

ga_status ga_model_seq_truncate(ga_model *m, int seq, int n, ga_error *err) {
    ga_status st = enter(m, seq, err);
    if (st) return st;
    st = truncate_locked(m, seq, n, err);
    atomic_store(&m->busy, 0);
    return st;
}

ga_status ga_model_seq_keep_prefix(ga_model *m, int seq, const int32_t *tokens, int n, int max_keep, int *kept,
                                   ga_error *err) {
    ga_status st = enter(m, seq, err);
    if (st) return st;
    const int n_past = m->kv.n_past[seq];
    const int32_t *cached = m->kv.tokens + (int64_t)seq * m->n_ctx;
    int keep = 0;
    while (keep < n && keep < n_past && keep < max_keep && cached[keep] == tokens[keep]) keep++;
    if (n_past - keep > ga_kv_max_rollback(&m->kv, seq)) keep = 0; /* the window moved past the cut */
    st = truncate_locked(m, seq, keep, err);
    *kept = st ? 0 : keep;
    atomic_store(&m->busy, 0);
    return st;
}

ga_status ga_model_seq_fork(ga_model *m, int src, int dst, ga_error *err) {
    if (!seq_ok(m, src)) return ga_fail(err, GA_ERR_ARG, "sequence %d is outside 0..%d", src, m->n_seq - 1);
    ga_status st = enter(m, dst, err);
    if (st) return st;
    ga_kv_fork(&m->kv, src, dst);
    atomic_store(&m->busy, 0);
    return GA_OK;
}

int ga_model_n_past(const ga_model *m) { return ga_model_seq_n_past(m, 0); }
int ga_model_max_rollback(const ga_model *m) { return ga_model_seq_max_rollback(m, 0); }
ga_status ga_model_truncate(ga_model *m, int n, ga_error *err) { return ga_model_seq_truncate(m, 0, n, err); }

/* ------------------------------------------------------------- profiling */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int ga_model_profile(ga_model *m, const char **names, double *secs, int cap, int64_t *tokens, int reset) {
    if (!m->profile) return 0;
    for (int i = 0; i < PROF_N && i < cap; i++) {
        names[i] = prof_names[i];
        secs[i] = m->prof_s[i];
    }
    if (tokens) *tokens = m->prof_tokens;
    if (reset) {
        memset(m->prof_s, 0, sizeof m->prof_s);
        m->prof_tokens = 0;
    }
    return PROF_N;
}

/* Runs one op on the backend, charging its time to kind when profiling. */
static ga_status run(ga_model *m, int kind, const ga_op_args *op, ga_error *err) {
    if (!m->profile) return m->bi->run(m->be, op, err);
    const double t0 = now_s();
    ga_status st = m->bi->run(m->be, op, err);
    m->prof_s[kind] += now_s() - t0;
    return st;
}

#define RUN(kind, ...)                                                         \
    do {                                                                       \
        ga_status st_ = run(m, kind, &(ga_op_args){__VA_ARGS__}, err);         \
        if (st_) return st_;                                                   \
    } while (0)

/* ------------------------------------------------------------------- eval */

static ga_status layer_forward(ga_model *m, int l, int T, ga_error *err) {
    const ga_hparams *hp = &m->hp;
    const ga_layer_hparams *lh = &hp->layer[l];
    const ga_layer_weights *L = &m->w.layers[l];
    const int64_t D = hp->n_embd;
    const int own_kv = lh->kv_from == l;
    const ga_buf none = GA_BUF_NONE;

    RUN(PROF_NORM, .op = GA_OP_RMS_NORM, .layer = l, .T = T, .width = D, .src = m->x, .dst = {m->xn},
        .norm = L->attn_norm);
    RUN(PROF_QKV, .op = GA_OP_MATMUL, .layer = l, .T = T, .src = m->xn, .nw = own_kv ? 3 : 1,
        .w = {&L->wq, &L->wk, &L->wv}, .dst = {m->q, m->k, m->v});
    RUN(PROF_ROPE, .op = GA_OP_QK_ROPE_STORE, .layer = l, .kv_layer = lh->kv_from, .T = T, .src = m->q,
        .src2 = own_kv ? m->k : none, .src3 = own_kv ? m->v : none, .dst = {m->kv_buf[lh->kv_from]},
        .norm = hp->qk_norm ? L->q_norm : NULL, .norm2 = hp->qk_norm ? L->k_norm : NULL);
    RUN(PROF_ATTN, .op = GA_OP_ATTENTION, .layer = l, .kv_layer = lh->kv_from, .T = T, .src = m->q,
        .src2 = m->kv_buf[lh->kv_from], .dst = {m->att});
    RUN(PROF_ATTN_OUT, .op = GA_OP_MATMUL, .layer = l, .T = T, .src = m->att, .nw = 1, .w = {&L->wo},
        .dst = {m->o});
    RUN(PROF_RESIDUAL, .op = GA_OP_RESIDUAL_ADD, .layer = l, .T = T, .width = D, .src = m->o, .dst = {m->x},
        .norm = hp->post_norms ? L->post_attn_norm : NULL);

    RUN(PROF_NORM, .op = GA_OP_RMS_NORM, .layer = l, .T = T, .width = D, .src = m->x, .dst = {m->xn},
        .norm = L->ffn_norm);
    RUN(PROF_GATE_UP, .op = GA_OP_MATMUL, .layer = l, .T = T, .src = m->xn, .nw = 2, .w = {&L->gate, &L->up},
        .dst = {m->g, m->u});
    RUN(PROF_MLP_ACT, .op = GA_OP_GLU, .layer = l, .T = T, .width = lh->n_ff, .src = m->u, .dst = {m->g});
    RUN(PROF_DOWN, .op = GA_OP_MATMUL, .layer = l, .T = T, .src = m->g, .nw = 1, .w = {&L->down}, .dst = {m->o});
    RUN(PROF_RESIDUAL, .op = GA_OP_RESIDUAL_ADD, .layer = l, .T = T, .width = D, .src = m->o, .dst = {m->x},
        .norm = hp->post_norms ? L->post_ffw_norm : NULL);
    return GA_OK;
}

/* The forward pass of one prepared chunk; want[i] asks for token i's logits. */
static ga_status forward(ga_model *m, const ga_chunk *c, const uint8_t *want, ga_error *err) {
    const ga_hparams *hp = &m->hp;
    const int64_t D = hp->n_embd, T = c->T;
    for (int i = 0; i < m->kv.n_copies; i++) {
        const ga_kv_copy *cp = &m->kv.copies[i];
        RUN(PROF_EMBED, .op = GA_OP_KV_COPY, .layer = cp->layer, .kv_layer = cp->layer, .dst = {m->kv_buf[cp->layer]},
            .page_src = cp->src, .page_dst = cp->dst);
    }
    RUN(PROF_EMBED, .op = GA_OP_GET_ROWS, .layer = -1, .T = (int)T, .width = D, .nw = 1, .w = {&m->w.tok_embd},
        .dst = {m->x}, .scale = hp->embed_scale ? sqrtf((float)D) : 1.0f);
    for (int l = 0; l < hp->n_layer; l++) {
        ga_status st = layer_forward(m, l, (int)T, err);
        if (st) return st;
    }
    if (!want) return GA_OK;
    /* only the rows whose logits are wanted go through the output head: runs of them normed
     * into xn rows 0.., then one matmul */
    int n = 0;
    for (int i = 0; i < T;) {
        if (!want[i]) { i++; continue; }
        int j = i;
        while (j < T && want[j]) j++;
        RUN(PROF_HEAD, .op = GA_OP_RMS_NORM, .layer = -1, .T = j - i, .width = D, .src = m->x, .src_row0 = i,
            .dst_row0 = n, .dst = {m->xn}, .norm = m->w.output_norm);
        n += j - i;
        i = j;
    }
    if (n == 0) return GA_OK;
    RUN(PROF_HEAD, .op = GA_OP_MATMUL, .layer = -1, .T = n, .src = m->xn, .nw = 1, .w = {&m->w.output},
        .dst = {m->logits});
    if (hp->final_softcap > 0)
        RUN(PROF_HEAD, .op = GA_OP_SOFTCAP, .layer = -1, .T = n, .width = hp->n_vocab, .dst = {m->logits},
            .cap = hp->final_softcap);
    return GA_OK;
}

/* Checks the whole batch before any of it runs. */
static ga_status check_batch(ga_model *m, const ga_batch *b, ga_error *err) {
    if (b->n < 1) return ga_fail(err, GA_ERR_ARG, "no tokens to evaluate");
    for (int s = 0; s < m->n_seq; s++) m->seq_next[s] = m->kv.n_past[s];
    for (int i = 0; i < b->n; i++) {
        const int32_t tok = b->tokens[i], seq = b->seq[i], pos = b->pos[i];
        if (tok < 0 || tok >= m->hp.n_vocab)
            return ga_fail(err, GA_ERR_ARG, "token id %d is outside the vocabulary (0..%d)", tok, m->hp.n_vocab - 1);
        if (!seq_ok(m, seq))
            return ga_fail(err, GA_ERR_ARG, "token %d: sequence %d is outside 0..%d", i, seq, m->n_seq - 1);
        if (pos != m->seq_next[seq])
            return ga_fail(err, GA_ERR_ARG, "token %d: position %d, but sequence %d continues at %d", i, pos, seq,
                           m->seq_next[seq]);
        if (pos >= m->n_ctx)
            return ga_fail(err, GA_ERR_ARG, "context overflow: sequence %d reaches position %d, n_ctx is %d", seq,
                           pos + 1, m->n_ctx);
        m->seq_next[seq]++;
    }
    return GA_OK;
}

/* Tokens [start, start + T) of the batch: pages, then the forward pass, then the bookkeeping.
 * want: T flags (logits of token i to the next row of logits), or NULL. */
static ga_status eval_chunk(ga_model *m, const ga_batch *b, int start, int T, const uint8_t *want, float *logits,
                            ga_error *err) {
    ga_chunk c = {.T = T, .tokens = b->tokens + start, .pos = b->pos + start, .seq = b->seq + start, .kv = &m->kv,
                  .one_seq = 1};
    for (int i = 1; i < T; i++)
        if (c.seq[i] != c.seq[0] || c.pos[i] != c.pos[0] + i) c.one_seq = 0;
    /* pages for every sequence of the chunk, before anything runs */
    m->kv.n_copies = 0;
    const int32_t serial = ++m->chunk_serial;
    ga_status st;
    for (int i = 0; i < T; i++) {
        const int s = c.seq[i];
        if (m->seq_mark[s] == serial) continue;
        m->seq_mark[s] = serial;
        int last = c.pos[i];
        for (int j = i + 1; j < T; j++)
            if (c.seq[j] == s) last = c.pos[j];
        if ((st = ga_kv_prepare(&m->kv, s, c.pos[i], last + 1, err))) return st;
    }
    if ((st = m->bi->begin_chunk(m->be, &c, logits, err))) return st;
    st = forward(m, &c, want, err);
    ga_error end_err;
    ga_status st_end = m->bi->end_chunk(m->be, st ? &end_err : err);
    if (st) return st;
    if (st_end) return st_end;
    for (int i = 0; i < T; i++) {
        m->kv.tokens[(int64_t)c.seq[i] * m->n_ctx + c.pos[i]] = c.tokens[i];
        m->kv.n_past[c.seq[i]] = c.pos[i] + 1;
    }
    m->prof_tokens += T;
    return GA_OK;
}

ga_status ga_model_eval_batch(ga_model *m, const ga_batch *b, float *logits, ga_error *err) {
    int expected = 0;
    if (!atomic_compare_exchange_strong(&m->busy, &expected, 1))
        return ga_fail(err, GA_ERR_ARG, "the model is already evaluating on another thread");
    ga_status st = check_batch(m, b, err);
    const int64_t V = m->hp.n_vocab;
    int64_t rows_done = 0;
    for (int done = 0; done < b->n && st == GA_OK; done += m->n_batch) {
        const int T = b->n - done < m->n_batch ? b->n - done : m->n_batch;
        int rows = 0;
        if (b->logits_out)
            for (int i = done; i < done + T; i++) rows += b->logits_out[i] != 0;
        st = eval_chunk(m, b, done, T, rows && logits ? b->logits_out + done : NULL,
                        rows && logits ? logits + rows_done * V : NULL, err);
        rows_done += rows;
    }
    atomic_store(&m->busy, 0);
    return st;
}

ga_status ga_model_eval(ga_model *m, const int32_t *tokens, int n, float *logits, int all_logits,
                        ga_error *err) {
    if (n < 1) return ga_fail(err, GA_ERR_ARG, "no tokens to evaluate");
    int expected = 0;
    if (!atomic_compare_exchange_strong(&m->busy, &expected, 1))
        return ga_fail(err, GA_ERR_ARG, "the model is already evaluating on another thread");
    const int n_past = m->kv.n_past[0];
    ga_status st = GA_OK;
    if ((int64_t)n_past + n > m->n_ctx)
        st = ga_fail(err, GA_ERR_ARG, "context overflow: %d cached + %d new tokens exceed n_ctx %d", n_past, n,
                     m->n_ctx);
    for (int i = 0; i < n && st == GA_OK; i++)
        if (tokens[i] < 0 || tokens[i] >= m->hp.n_vocab)
            st = ga_fail(err, GA_ERR_ARG, "token id %d is outside the vocabulary (0..%d)", tokens[i],
                         m->hp.n_vocab - 1);
    /* chunk by chunk, on the model's own position and flag arrays (sequence 0) */
    for (int done = 0; done < n && st == GA_OK; done += m->n_batch) {
        const int T = n - done < m->n_batch ? n - done : m->n_batch;
        const int is_last = done + T == n;
        for (int i = 0; i < T; i++) {
            m->chunk_pos[i] = n_past + done + i;
            m->chunk_want[i] = all_logits || i == T - 1;
        }
        ga_batch b = {.n = T, .tokens = tokens + done, .pos = m->chunk_pos, .seq = m->chunk_seq};
        const int want = logits && (all_logits || is_last);
        st = eval_chunk(m, &b, 0, T, want ? m->chunk_want : NULL,
                        want ? logits + (all_logits ? (int64_t)done * m->hp.n_vocab : 0) : NULL, err);
    }
    atomic_store(&m->busy, 0);
    return st;
}
