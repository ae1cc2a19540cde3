/* ga_attention.c - chunked attention with an online softmax. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef GA_HAVE_OPENBLAS
#include <cblas.h>

#include "ga_gemm.h"
#endif

#include "ga_attention.h"
#include "ga_cpu.h"
#include "ga_ops.h"

static size_t blk_floats(int64_t head_dim) {
    return (size_t)GA_ATTN_QBLOCK * (size_t)(GA_ATTN_CHUNK + head_dim + 2);
}

static size_t part_floats(int64_t n_head, int64_t head_dim) { return (size_t)(n_head * (head_dim + 2)); }

uint64_t ga_attn_scratch_need(int n_threads, int64_t n_head, int64_t head_dim) {
    return (uint64_t)n_threads * ((uint64_t)(GA_ATTN_CHUNK + head_dim) + blk_floats(head_dim) +
                                  part_floats(n_head, head_dim)) * sizeof(float);
}

ga_status ga_attn_scratch_init(ga_attn_scratch *s, int n_threads, int64_t n_head, int64_t head_dim, void *mem) {
    s->n_threads = n_threads;
    s->n_head = n_head;
    s->head_dim = head_dim;
    const size_t n_buf = (size_t)n_threads * (size_t)(GA_ATTN_CHUNK + head_dim),
                 n_blk = (size_t)n_threads * blk_floats(head_dim), n_part = (size_t)n_threads * part_floats(n_head, head_dim);
    if (mem) {
        s->owned = 0;
        s->buf = mem;
        s->blk = s->buf + n_buf;
        s->part = s->blk + n_blk;
        return GA_OK;
    }
    s->owned = 1;
    s->buf = calloc(n_buf, sizeof(float));
    s->blk = calloc(n_blk, sizeof(float));
    s->part = calloc(n_part, sizeof(float));
    if (!s->buf || !s->blk || !s->part) {
        ga_attn_scratch_free(s);
        return GA_ERR_NOMEM;
    }
    return GA_OK;
}

void ga_attn_scratch_free(ga_attn_scratch *s) {
    if (s->owned) {
        free(s->buf);
        free(s->blk);
        free(s->part);
    }
    s->buf = s->blk = s->part = NULL;
}

uint64_t ga_attn_scratch_bytes(const ga_attn_scratch *s) {
    return ga_attn_scratch_need(s->n_threads, s->n_head, s->head_dim);
}

void ga_attention_one(const ga_attn_args *a, ga_attn_scratch *s, int ith) {
    const int64_t d = a->head_dim;
    float *scores = s->buf + (size_t)ith * (size_t)(GA_ATTN_CHUNK + d);
    float *acc = scores + GA_ATTN_CHUNK;
    memset(acc, 0, (size_t)d * sizeof(float));
    float run_max = -INFINITY, run_sum = 0.0f;

    for (int64_t p0 = a->first; p0 <= a->last; p0 += GA_ATTN_CHUNK) {
        const int64_t n = a->last + 1 - p0 < GA_ATTN_CHUNK ? a->last + 1 - p0 : GA_ATTN_CHUNK;
        float chunk_max = -INFINITY;
        for (int64_t j = 0; j < n; j++) {
            const float *k = a->kv.k + ga_kv_row(&a->kv, p0 + j);
            float sc = ga_dot_f32(a->q, k, d) * a->scale;
            if (a->softcap > 0.0f) sc = a->softcap * tanhf(sc / a->softcap);
            scores[j] = sc;
            if (sc > chunk_max) chunk_max = sc;
        }
        const float new_max = chunk_max > run_max ? chunk_max : run_max;
        const float correction = expf(run_max - new_max); /* exp(-inf) = 0 on the first chunk */
        run_sum *= correction;
        for (int64_t i = 0; i < d; i++) acc[i] *= correction;
        for (int64_t j = 0; j < n; j++) scores[j] -= new_max;
        ga_exp_f32(scores, scores, n); /* the chunk's exps in one vector pass */
        for (int64_t j = 0; j < n; j++) {
            const float e = scores[j];
            run_sum += e;
            ga_axpy_f32(acc, e, a->kv.v + ga_kv_row(&a->kv, p0 + j), d);
        }
        run_max = new_max;
    }
    const float inv = 1.0f / run_sum;
    for (int64_t i = 0; i < d; i++) a->out[i] = acc[i] * inv;
}

#ifdef GA_HAVE_OPENBLAS
/* keys from p0 up to last in one chunk that stays in one page (contiguous rows) */
static int64_t chunk_len(const ga_kv_view *kv, int64_t p0, int64_t last) {
    int64_t n = last + 1 - p0;
    if (n > GA_ATTN_CHUNK) n = GA_ATTN_CHUNK;
    if (kv->pages && n > GA_ATTN_CHUNK - p0 % GA_ATTN_CHUNK) n = GA_ATTN_CHUNK - p0 % GA_ATTN_CHUNK;
    return n;
}

/* The online softmax step of one query row over a chunk of n scores (-inf where masked):
 * softcap, rescale the running max *mx, denominator *sum and value sums o[d] to the new
 * max, and leave the chunk's weights in row (zeros when nothing is visible yet). */
static void online_softmax_row(float *row, int64_t n, float softcap, float *mx, float *sum, float *o, int64_t d) {
    float cmax = -INFINITY;
    for (int64_t j = 0; j < n; j++) {
        if (row[j] == -INFINITY) continue;
        if (softcap > 0.0f) row[j] = softcap * tanhf(row[j] / softcap);
        if (row[j] > cmax) cmax = row[j];
    }
    const float new_max = cmax > *mx ? cmax : *mx;
    if (new_max == -INFINITY) { /* no visible key yet: nothing to add */
        memset(row, 0, (size_t)n * sizeof(float));
        return;
    }
    const float corr = expf(*mx - new_max); /* 0 on the first visible chunk */
    for (int64_t j = 0; j < n; j++) row[j] -= new_max;
    ga_exp_f32(row, row, n); /* exp(-inf) = 0 for masked keys */
    float rs = 0.0f;
    for (int64_t j = 0; j < n; j++) rs += row[j];
    *sum = *sum * corr + rs;
    if (corr != 1.0f)
        for (int64_t c = 0; c < d; c++) o[c] *= corr;
    *mx = new_max;
}
#endif

int ga_attention_block(const ga_attn_block_args *a, ga_attn_scratch *s, int ith) {
#ifdef GA_HAVE_OPENBLAS
    if (!ga_kernels_avx2() || a->nq < 1 || a->nq > GA_ATTN_QBLOCK) return 0;
    const int64_t d = a->head_dim, nq = a->nq;
    float *S = s->blk + (size_t)ith * blk_floats(d); /* nq x CHUNK */
    float *O = S + (size_t)GA_ATTN_QBLOCK * GA_ATTN_CHUNK;  /* nq x d */
    float *mx = O + (size_t)GA_ATTN_QBLOCK * d, *sum = mx + GA_ATTN_QBLOCK;
    memset(O, 0, (size_t)(nq * d) * sizeof(float));
    for (int64_t i = 0; i < nq; i++) { mx[i] = -INFINITY; sum[i] = 0.0f; }
    const int64_t last = a->last0 + nq - 1;
    ga_blas_single_thread();
    int64_t first = a->window > 0 ? a->last0 - a->window + 1 : 0;
    if (first < 0) first = 0;
    for (int64_t p0 = first; p0 <= last;) {
        const int64_t row = ga_kv_row(&a->kv, p0), n = chunk_len(&a->kv, p0, last);
        const float *K = a->kv.k + row, *V = a->kv.v + row;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nq, (int)n, (int)d, a->scale, a->q,
                    (int)a->q_stride, K, (int)a->kv.stride, 0.0f, S, (int)n);
        for (int64_t i = 0; i < nq; i++) {
            float *row = S + i * n;
            const int64_t pos = a->last0 + i;
            const int64_t lo = a->window > 0 ? pos - a->window + 1 : 0;
            for (int64_t j = 0; j < n; j++)
                if (p0 + j > pos || p0 + j < lo) row[j] = -INFINITY;
            online_softmax_row(row, n, a->softcap, &mx[i], &sum[i], O + i * d, d);
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nq, (int)d, (int)n, 1.0f, S, (int)n, V,
                    (int)a->kv.stride, 1.0f, O, (int)d);
        p0 += n;
    }
    for (int64_t i = 0; i < nq; i++) {
        const float inv = 1.0f / sum[i];
        for (int64_t c = 0; c < d; c++) a->out[i * a->out_stride + c] = O[i * d + c] * inv;
    }
    return 1;
#else
    (void)a; (void)s; (void)ith;
    return 0;
#endif
}

ga_attn_partial ga_attn_partial_at(const ga_attn_scratch *s, int ith, int64_t hk, int G) {
    float *base = s->part + (size_t)ith * part_floats(s->n_head, s->head_dim) + (size_t)(hk * G * (s->head_dim + 2));
    return (ga_attn_partial){.mx = base, .sum = base + G, .o = base + 2 * G};
}

int ga_attention_group_available(int G) {
#ifdef GA_HAVE_OPENBLAS
    return ga_kernels_avx2() && G >= 1 && G <= GA_ATTN_QBLOCK;
#else
    (void)G;
    return 0;
#endif
}

void ga_attention_group(const ga_attn_group_args *a, const ga_attn_partial *p, ga_attn_scratch *s, int ith) {
#ifdef GA_HAVE_OPENBLAS
    const int64_t d = a->head_dim, G = a->G;
    float *S = s->blk + (size_t)ith * blk_floats(d); /* G x CHUNK */
    memset(p->o, 0, (size_t)(G * d) * sizeof(float));
    for (int64_t g = 0; g < G; g++) { p->mx[g] = -INFINITY; p->sum[g] = 0.0f; }
    ga_blas_single_thread();
    for (int64_t p0 = a->first; p0 <= a->last;) {
        const int64_t row = ga_kv_row(&a->kv, p0), n = chunk_len(&a->kv, p0, a->last);
        const float *K = a->kv.k + row, *V = a->kv.v + row;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)G, (int)n, (int)d, a->scale, a->q, (int)d, K,
                    (int)a->kv.stride, 0.0f, S, (int)n);
        for (int64_t g = 0; g < G; g++)
            online_softmax_row(S + g * n, n, a->softcap, &p->mx[g], &p->sum[g], p->o + g * d, d);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)G, (int)d, (int)n, 1.0f, S, (int)n, V,
                    (int)a->kv.stride, 1.0f, p->o, (int)d);
        p0 += n;
    }
#else
    (void)a; (void)p; (void)s; (void)ith;
#endif
}

void ga_attention_merge(const ga_attn_scratch *s, int n, int64_t hk, int G, int64_t head_dim, float *out) {
    for (int g = 0; g < G; g++) {
        float mx = -INFINITY;
        for (int i = 0; i < n; i++) {
            const float v = ga_attn_partial_at(s, i, hk, G).mx[g];
            mx = v > mx ? v : mx;
        }
        float *o = out + g * head_dim;
        memset(o, 0, (size_t)head_dim * sizeof(float));
        float sum = 0.0f;
        for (int i = 0; i < n; i++) {
            const ga_attn_partial p = ga_attn_partial_at(s, i, hk, G);
            if (p.mx[g] == -INFINITY) continue; /* a part without keys */
            const float w = expf(p.mx[g] - mx);
            sum += w * p.sum[g];
            for (int64_t c = 0; c < head_dim; c++) o[c] += w * p.o[g * head_dim + c];
        }
        const float inv = 1.0f / sum;
        for (int64_t c = 0; c < head_dim; c++) o[c] *= inv;
    }
}
