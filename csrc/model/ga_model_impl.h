/* ga_model_impl.h - the model's private state, shared by ga_model.c (lifetime,
 * the layer sequence) and the backends that implement its ops. */
#ifndef GA_MODEL_IMPL_H
#define GA_MODEL_IMPL_H

#include <stdatomic.h>

#include "ga_attention.h"
#include "ga_model.h"

enum { ACT_Q8_0, ACT_Q8_K, ACT_F32, ACT_FAMILIES };

/* op kinds timed when GA_PROFILE is set (ga_model_profile) */
enum { GA_PROF_EMBED, GA_PROF_NORM, GA_PROF_QKV, GA_PROF_ROPE, GA_PROF_ATTN, GA_PROF_ATTN_OUT,
       GA_PROF_RESIDUAL, GA_PROF_GATE_UP, GA_PROF_MLP_ACT, GA_PROF_DOWN, GA_PROF_HEAD, GA_PROF_N };

typedef struct ga_backend_ops ga_backend_ops;

struct ga_model {
    const ga_backend_ops *ops;
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
    uint8_t *act[ACT_FAMILIES];     /* quantized activations per family */
    uint8_t *act_res[ACT_FAMILIES]; /* act_bits=16: the lo codes (and int16 codes, ga_matvec.h) */
    size_t act_stride[ACT_FAMILIES], act_res_stride[ACT_FAMILIES];
    ga_attn_scratch attn;
    int64_t max_cols, max_rows;
    float *gemm_scratch;          /* per thread: one dequantized weight tile (prefill gemm) */
    int64_t gemm_scratch_stride;  /* floats per thread */
    /* RoPE tables of the current chunk, [2 (global, sliding)][n_batch][head_dim / 2] each:
     * computed by the first layer of each kind, reused by the others */
    float *rope_cos, *rope_sin;
    int64_t rope_key_pos[2], rope_key_T[2];
    int rope_tables;              /* 0 when GA_ROPE=direct (angles per call) */
    int attn_blocked;             /* prefill attention on sgemm blocks (GA_ATTN=one: per query) */
    int fused_dot2;               /* act_bits=16: dual kernels (GA_FUSED=0: two single dots) */
    int gemm_min_t;               /* chunks of at least this many tokens take the f32 gemm path */
    /* int16 GEMM (ga_gemm_q16.h) for chunks of legacy-format weights in the avx512 set:
     * packed activations of one chunk, per-thread scratch; NULL where the CPU lacks it */
    int32_t *q16_x2;
    float *q16_dx;
    uint8_t *q16_scratch;
    size_t q16_scratch_stride;
    void *packed_arena;           /* the interleaved weight copies (ga_weight.packed point into it) */
    struct ga_pack_job *pack_job; /* the weights with copies (ga_model_finish_packing), or NULL */
    int pack_pending;             /* 1 until the copies are filled */
    uint64_t reserved;
    int profile;                  /* GA_PROFILE set at creation: time every op */
    double prof_s[GA_PROF_N];     /* seconds per op kind since the last reset */
    int64_t prof_tokens;          /* tokens evaluated since the last reset */
};

/* Fills the interleaved weight copies on the first call (all threads); later calls return
 * at once.  The row-kernel paths call it first: the copies cost no time before a token
 * needs them, so load and the first (prefilled) token do not wait for them. */
void ga_model_finish_packing(ga_model *m);

/* Which activation buffer a weight type reads: ACT_Q8_0, ACT_Q8_K, ACT_F32, or -1. */
int ga_act_family(int wtype);

/* The ops a backend provides; the layer sequence in ga_model.c calls only these. */
struct ga_backend_ops {
    const char *name;
    /* dst[T][width] = rmsnorm(src[T][width]) * w */
    void (*rms_norm_rows)(ga_model *m, float *dst, const float *src, const float *w, int T, int64_t width);
    /* y_i[T][rows_i] = x[T][cols] @ W_i^T for nw (1..3) weights sharing their input */
    void (*matmul)(ga_model *m, const float *x, int T, int nw, const ga_weight *const *w, float *const *y);
    /* per-head q/k norm, RoPE, and the k/v store into layer's cache slots */
    void (*qk_rope_store)(ga_model *m, int layer, int T);
    /* att[T][H*d] = softmax(q k^T) v over the cache */
    void (*attention)(ga_model *m, int layer, int T);
    /* g[T][F] = act(g) * u */
    void (*mlp_act)(ga_model *m, int T);
    /* x += (post_norm ? rmsnorm(o) * post_norm : o) */
    void (*residual_add)(ga_model *m, float *o, const float *post_norm, int T);
};

extern const ga_backend_ops ga_backend_cpu;

#endif
