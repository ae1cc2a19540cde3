/* ga_npu_attention.c - attention in query and key tiles of the scratchpad (ga_npu_attention.h). */
#include <math.h>
#include <string.h>

#include "ga_npu_attention.h"
#include "ga_ops.h"

#define KEY_ALIGN 16 /* key tiles are multiples of this */

/* one worker's layout, in floats: Q [Br][d], K and V [Bc][d], scores [Bc], O [Br][d], max and sum [Br] */
static uint64_t layout(int Br, int Bc, int64_t d) {
    return 4 * ((uint64_t)Br * d * 2 + (uint64_t)Bc * d * 2 + (uint64_t)Bc + 2 * (uint64_t)Br);
}

ga_status ga_npu_plan_attention(uint64_t share, int rows, int64_t d, int64_t max_keys, ga_npu_attn_plan *out,
                                uint64_t *need, ga_error *err) {
    if (rows < 1 || d < 1 || max_keys < 1) return ga_fail(err, GA_ERR_ARG, "an attention with no rows");
    *need = layout(1, KEY_ALIGN, d);
    if (*need > share)
        return ga_fail(err, GA_ERR_DEVICE_MEMORY, "attention with head size %lld needs %llu bytes of scratchpad a "
                       "worker for one query row and %d keys", (long long)d, (unsigned long long)*need, KEY_ALIGN);
    /* FlashAttention's sizes for M floats: Bc = ceil(M / 4d), Br = min(Bc, d) */
    const uint64_t M = share / 4;
    int64_t Bc = (int64_t)((M + 4 * (uint64_t)d - 1) / (4 * (uint64_t)d));
    const int64_t keys = (max_keys + KEY_ALIGN - 1) / KEY_ALIGN * KEY_ALIGN;
    if (Bc > keys) Bc = keys;
    Bc -= Bc % KEY_ALIGN;
    if (Bc < KEY_ALIGN) Bc = KEY_ALIGN;
    int64_t Br = Bc < d ? Bc : d;
    if (Br > rows) Br = rows;
    while (layout((int)Br, (int)Bc, d) > share) { /* halve the larger, keys first */
        if (Bc > KEY_ALIGN && (Bc >= Br || Br == 1)) Bc = Bc / 2 < KEY_ALIGN ? KEY_ALIGN : Bc / 2 / KEY_ALIGN * KEY_ALIGN;
        else Br = Br / 2 > 1 ? Br / 2 : 1;
    }
    out->Br = (int)Br;
    out->Bc = (int)Bc;
    out->bytes = layout(out->Br, out->Bc, d);
    return GA_OK;
}

typedef struct {
    const ga_npu_attn_op *op;
    const ga_npu_attn_plan *plan;
    uint8_t *sram;
    uint64_t share;
    int G, nth;
    int64_t per_head; /* prefill: row tiles per kv head */
    int64_t n_split;  /* decode: key tiles */
    float *partials;  /* decode: [n_split][H][d + 2] */
    ga_npu_attn_worker *w;
} attn_ctx;

typedef struct {
    float *Q, *K, *V, *S, *O, *m, *l;
} tiles;

static tiles tiles_of(const attn_ctx *a, int ith) {
    const int64_t d = a->op->d, Br = a->plan->Br, Bc = a->plan->Bc;
    float *f = (float *)(void *)(a->sram + (uint64_t)ith * a->share);
    tiles t = {.Q = f};
    t.K = t.Q + Br * d;
    t.V = t.K + Bc * d;
    t.S = t.V + Bc * d;
    t.O = t.S + Bc;
    t.m = t.O + Br * d;
    t.l = t.m + Br;
    return t;
}

static int64_t first_key(const ga_npu_attn_op *op, int64_t pos) {
    return op->window > 0 && pos - op->window + 1 > 0 ? pos - op->window + 1 : 0;
}

/* keys [k0, k0 + n) of kv head hk of seq into the K and V tiles */
static ga_status load_keys(const attn_ctx *a, int ith, int seq, int64_t hk, int64_t k0, int64_t n, tiles *t,
                           ga_error *err) {
    const ga_npu_attn_op *op = a->op;
    const int64_t d = op->d, KV = op->Hkv * d;
    const int32_t *pages = ga_kv_pages(op->c->kv, seq, op->kv_layer);
    for (int64_t j = 0; j < n; j++) {
        const int64_t p = k0 + j, row = (int64_t)pages[p / GA_KV_PAGE] * GA_KV_PAGE + p % GA_KV_PAGE;
        ga_status st = op->bi->read(op->be, op->kv, row * KV + hk * d, d, t->K + j * d, err);
        if (!st) st = op->bi->read(op->be, op->kv, (op->kv_rows + row) * KV + hk * d, d, t->V + j * d, err);
        if (st) return st;
    }
    a->w[ith].cnt.bytes_moved += (uint64_t)n * (uint64_t)d * 8;
    a->w[ith].cnt.tiles++;
    return GA_OK;
}

/* the online softmax step of query row r (in the tiles) over keys [lo, hi], which are in the
 * K and V tiles from k0 */
static void step_row(const ga_npu_attn_op *op, tiles *t, int r, int64_t k0, int64_t lo, int64_t hi) {
    const int64_t d = op->d, n = hi + 1 - lo;
    const float *q = t->Q + r * d;
    float *s = t->S, *o = t->O + r * d, mx = -INFINITY;
    for (int64_t j = 0; j < n; j++) {
        float sc = ga_dot_f32(q, t->K + (lo - k0 + j) * d, d) * op->scale;
        if (op->softcap > 0.0f) sc = op->softcap * tanhf(sc / op->softcap);
        s[j] = sc;
        if (sc > mx) mx = sc;
    }
    const float new_m = mx > t->m[r] ? mx : t->m[r];
    const float corr = expf(t->m[r] - new_m); /* 0 on the first tile: exp(-inf) */
    if (corr != 1.0f) {
        t->l[r] *= corr;
        for (int64_t i = 0; i < d; i++) o[i] *= corr;
    }
    for (int64_t j = 0; j < n; j++) s[j] -= new_m;
    ga_exp_f32(s, s, n);
    for (int64_t j = 0; j < n; j++) {
        t->l[r] += s[j];
        ga_axpy_f32(o, s[j], t->V + (lo - k0 + j) * d, d);
    }
    t->m[r] = new_m;
}

static void start_rows(tiles *t, int nr, int64_t d) {
    memset(t->O, 0, (size_t)nr * (size_t)d * sizeof(float));
    for (int r = 0; r < nr; r++) {
        t->m[r] = -INFINITY;
        t->l[r] = 0.0f;
    }
}

/* rows [r0, r0 + nr) of kv head hk's group (row r: token r / G, head hk * G + r % G), all of
 * one sequence: queries in, key tiles through, outputs back */
static ga_status run_rows(const attn_ctx *a, int ith, int64_t hk, int64_t r0, int nr, ga_error *err) {
    const ga_npu_attn_op *op = a->op;
    const ga_chunk *c = op->c;
    const int64_t d = op->d, H = op->H, G = a->G, Bc = a->plan->Bc;
    tiles t = tiles_of(a, ith);
    int64_t lo = INT64_MAX, hi = -1;
    for (int r = 0; r < nr; r++) {
        const int64_t i = (r0 + r) / G, h = hk * G + (r0 + r) % G, pos = c->pos[i];
        const ga_status st = op->bi->read(op->be, op->q, (i * H + h) * d, d, t.Q + r * d, err);
        if (st) return st;
        if (first_key(op, pos) < lo) lo = first_key(op, pos);
        if (pos > hi) hi = pos;
    }
    a->w[ith].cnt.bytes_moved += (uint64_t)nr * (uint64_t)d * 4;
    start_rows(&t, nr, d);
    const int seq = c->seq[r0 / G];
    for (int64_t k0 = lo; k0 <= hi; k0 += Bc) {
        const int64_t n = hi + 1 - k0 < Bc ? hi + 1 - k0 : Bc;
        const ga_status st = load_keys(a, ith, seq, hk, k0, n, &t, err);
        if (st) return st;
        for (int r = 0; r < nr; r++) {
            const int64_t pos = c->pos[(r0 + r) / G], f = first_key(op, pos);
            const int64_t b = f > k0 ? f : k0, e = pos < k0 + n - 1 ? pos : k0 + n - 1; /* causal, window */
            if (b <= e) step_row(op, &t, r, k0, b, e);
        }
    }
    for (int r = 0; r < nr; r++) {
        const int64_t i = (r0 + r) / G, h = hk * G + (r0 + r) % G;
        float *o = t.O + r * d;
        const float inv = 1.0f / t.l[r]; /* every row sees its own key */
        for (int64_t k = 0; k < d; k++) o[k] *= inv;
        const ga_status st = op->bi->write(op->be, op->out, (i * H + h) * d, d, o, err);
        if (st) return st;
    }
    return GA_OK;
}

/* prefill: jobs (kv head, row tile) dealt round-robin; a tile stops where the sequence changes */
static void prefill_task(void *p, int ith, int nth) {
    attn_ctx *a = p;
    const ga_npu_attn_op *op = a->op;
    const int64_t rows = (int64_t)op->c->T * a->G, Br = a->plan->Br;
    ga_status st = GA_OK;
    for (int64_t job = ith; job < op->Hkv * a->per_head && !st; job += nth) {
        const int64_t hk = job / a->per_head;
        int64_t r0 = job % a->per_head * Br;
        const int64_t end = r0 + Br < rows ? r0 + Br : rows;
        while (r0 < end && !st) {
            int64_t r1 = r0 + 1;
            while (r1 < end && op->c->seq[r1 / a->G] == op->c->seq[r0 / a->G]) r1++;
            st = run_rows(a, ith, hk, r0, (int)(r1 - r0), &a->w[ith].err);
            r0 = r1;
        }
    }
    a->w[ith].st = st;
}

/* decode: the keys in tiles of Bc, dealt round-robin to the workers; tile j leaves its
 * partial for every head (output, max, sum) in partials[j], in device memory */
static void decode_task(void *p, int ith, int nth) {
    attn_ctx *a = p;
    const ga_npu_attn_op *op = a->op;
    const int64_t d = op->d, H = op->H, G = a->G, Bc = a->plan->Bc, pos = op->c->pos[0], first = first_key(op, pos);
    tiles t = tiles_of(a, ith);
    ga_status st = GA_OK;
    for (int64_t j = ith; j < a->n_split && !st; j += nth) {
        if (j == ith) {
            for (int64_t h = 0; h < H && !st; h++)
                st = op->bi->read(op->be, op->q, h * d, d, t.Q + h * d, &a->w[ith].err);
            a->w[ith].cnt.bytes_moved += (uint64_t)H * (uint64_t)d * 4;
        }
        const int64_t k0 = first + j * Bc, n = pos + 1 - k0 < Bc ? pos + 1 - k0 : Bc;
        start_rows(&t, (int)H, d);
        for (int64_t hk = 0; hk < op->Hkv && !st; hk++) {
            if ((st = load_keys(a, ith, op->c->seq[0], hk, k0, n, &t, &a->w[ith].err))) break;
            for (int64_t g = 0; g < G; g++) step_row(op, &t, (int)(hk * G + g), k0, k0, k0 + n - 1);
        }
        float *part = a->partials + j * H * (d + 2);
        memcpy(part, t.O, (size_t)(H * d) * sizeof(float));
        memcpy(part + H * d, t.m, (size_t)H * sizeof(float));
        memcpy(part + H * d + H, t.l, (size_t)H * sizeof(float));
        a->w[ith].cnt.splits++;
    }
    a->w[ith].st = st;
}

/* the merge: head h's partials rescaled to their common max, summed, divided once */
static ga_status merge(const attn_ctx *a, ga_error *err) {
    const ga_npu_attn_op *op = a->op;
    const int64_t d = op->d, H = op->H, stride = H * (d + 2);
    float *o = tiles_of(a, 0).O; /* worker 0's output tile, free again */
    for (int64_t h = 0; h < H; h++) {
        float M = -INFINITY, L = 0.0f;
        for (int64_t j = 0; j < a->n_split; j++) {
            const float m = a->partials[j * stride + H * d + h];
            if (m > M) M = m;
        }
        memset(o, 0, (size_t)d * sizeof(float));
        for (int64_t j = 0; j < a->n_split; j++) {
            const float *part = a->partials + j * stride;
            const float c = expf(part[H * d + h] - M);
            ga_axpy_f32(o, c, part + h * d, d);
            L += part[H * d + H + h] * c;
        }
        const float inv = 1.0f / L;
        for (int64_t k = 0; k < d; k++) o[k] *= inv;
        const ga_status st = op->bi->write(op->be, op->out, h * d, d, o, err);
        if (st) return st;
    }
    return GA_OK;
}

ga_status ga_npu_attention(const ga_npu_attn_op *op, const ga_npu_attn_plan *plan, ga_pool *pool, uint8_t *sram,
                           uint64_t share, ga_npu_attn_worker *workers, float *partials, int64_t max_split,
                           ga_npu_attn_counters *cnt, ga_error *err) {
    attn_ctx a = {.op = op, .plan = plan, .sram = sram, .share = share, .G = (int)(op->H / op->Hkv),
                  .nth = ga_pool_size(pool), .w = workers, .partials = partials};
    if (plan->bytes > share) return ga_fail(err, GA_ERR_ARG, "attention: a plan larger than a worker's scratchpad");
    for (int w = 0; w < a.nth; w++) {
        a.w[w].st = GA_OK;
        memset(&a.w[w].cnt, 0, sizeof a.w[w].cnt);
    }
    const int decode = op->c->T == 1 && plan->Br >= op->H;
    if (decode) {
        const int64_t pos = op->c->pos[0];
        a.n_split = (pos + 1 - first_key(op, pos) + plan->Bc - 1) / plan->Bc;
        if (a.n_split > max_split)
            return ga_fail(err, GA_ERR_ARG, "attention: %lld key tiles, room for %lld partials", (long long)a.n_split,
                           (long long)max_split);
        if (a.n_split == 1 || a.nth == 1) decode_task(&a, 0, 1);
        else ga_pool_run(pool, decode_task, &a);
    } else {
        const int64_t rows = (int64_t)op->c->T * a.G;
        a.per_head = (rows + plan->Br - 1) / plan->Br;
        ga_pool_run(pool, prefill_task, &a);
    }
    ga_status st = GA_OK;
    for (int w = 0; w < a.nth; w++) {
        cnt->bytes_moved += a.w[w].cnt.bytes_moved;
        cnt->tiles += a.w[w].cnt.tiles;
        cnt->splits += a.w[w].cnt.splits;
        if (a.w[w].st && !st) {
            st = a.w[w].st;
            *err = a.w[w].err;
        }
    }
    if (!st && decode) st = merge(&a, err);
    return st;
}
