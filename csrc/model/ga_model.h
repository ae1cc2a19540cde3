/* ga_model.h - the decoder-only transformer forward pass (Gemma 1/2/3, llama).
 *
 * The model never copies or dequantizes its matrices: every ga_weight points
 * into the caller's memory (the mapped file), and the caller keeps that memory
 * alive for the model's lifetime.  Norm vectors are f32 and already in the
 * "multiply by w" convention (the Python loader adds Gemma's +1 for
 * Hugging Face checkpoints).  All working memory is allocated once, in
 * ga_model_new(); ga_model_eval() allocates nothing.
 */
#ifndef GA_MODEL_H
#define GA_MODEL_H

#include <stdint.h>

#include "ga_common.h"
#include "ga_threadpool.h"

#define GA_MAX_LAYERS 512

typedef enum { GA_ARCH_LLAMA = 0, GA_ARCH_GEMMA = 1, GA_ARCH_GEMMA2 = 2, GA_ARCH_GEMMA3 = 3 } ga_arch;

typedef struct {
    int arch;
    int n_layer, n_embd, n_head, n_head_kv, head_dim, n_ff, n_vocab;
    float norm_eps;
    float rope_base, rope_freq_scale;         /* full-attention layers */
    float rope_base_swa, rope_freq_scale_swa; /* sliding-window layers */
    int rope_neox;      /* 1: rotate pairs (i, i + d/2); 0: adjacent pairs (2i, 2i + 1) */
    int sliding_window; /* keys further back than this are masked on SWA layers */
    float attn_scale;   /* multiplies q.k */
    float attn_softcap, final_softcap; /* 0 = none; else s = c * tanh(s / c) */
    int embed_scale;    /* multiply embeddings by sqrt(n_embd) (Gemma) */
    int act_gelu;       /* 1: gelu_tanh(gate) * up (Gemma); 0: silu(gate) * up (llama) */
    int post_norms;     /* Gemma 2/3: norm after attention and after the MLP */
    int qk_norm;        /* Gemma 3: per-head RMSNorm of q and k before RoPE */
    uint8_t layer_swa[GA_MAX_LAYERS]; /* 1 = sliding-window layer */
} ga_hparams;

/* A matrix of `rows` rows, each `cols` elements in block format `type`. */
typedef struct {
    const void *data;
    int type;
    int64_t rows, cols;
    uint64_t row_bytes;
    const void *packed; /* set by the model: an 8-row interleaved copy for decode, or NULL */
} ga_weight;

typedef struct {
    const float *attn_norm, *q_norm, *k_norm, *post_attn_norm, *ffn_norm, *post_ffw_norm;
    ga_weight wq, wk, wv, wo, gate, up, down;
} ga_layer_weights;

typedef struct {
    ga_weight tok_embd; /* [n_vocab][n_embd] */
    ga_weight output;   /* [n_vocab][n_embd]; equal to tok_embd when tied */
    const float *output_norm;
    ga_layer_weights layers[GA_MAX_LAYERS];
} ga_weights;

typedef struct ga_model ga_model;

/* n_ctx: KV-cache capacity in tokens; n_batch: most tokens per eval call.
 * act_bits: 8 quantizes activations to int8 per block for the integer dot
 * products (as llama.cpp does); 16 also quantizes each block's rounding
 * residual to int8 and adds a second dot product, carrying ~15 bits of every
 * activation.  Gemma 3's large activation outliers make 8 measurably lossy:
 * 16 keeps the argmax of every position of our fidelity prompts. */
ga_status ga_model_new(const ga_hparams *hp, const ga_weights *w, int n_ctx, int n_batch,
                       int n_threads, int act_bits, ga_model **out, ga_error *err);
void ga_model_free(ga_model *m);

/* Runs tokens[0..n) at positions n_past.. and appends them to the KV cache.
 * logits: NULL (none), or n_vocab floats for the last token (all_logits 0),
 * or n * n_vocab floats (all_logits 1). */
ga_status ga_model_eval(ga_model *m, const int32_t *tokens, int n, float *logits, int all_logits,
                        ga_error *err);

int ga_model_n_past(const ga_model *m);
/* How many cached positions can be forgotten so that evaluation continues exactly: all of
 * them, unless a sliding-window layer's ring (window + n_batch slots) has wrapped, which
 * keeps the keys a query needs only for a rollback of up to n_batch positions. */
int ga_model_max_rollback(const ga_model *m);
/* Forget cached positions >= n: refused (GA_ERR_ARG) for n outside 0..n_past and for a
 * rollback past ga_model_max_rollback, except to 0 (an empty cache). */
ga_status ga_model_truncate(ga_model *m, int n, ga_error *err);
int ga_model_n_ctx(const ga_model *m);
int ga_model_n_batch(const ga_model *m);
const ga_hparams *ga_model_hparams(const ga_model *m);
/* Bytes of working memory reserved (KV cache + scratch). */
uint64_t ga_model_reserved_bytes(const ga_model *m);
/* Per-op timing (only when the environment had GA_PROFILE=1 at ga_model_new):
 * returns the number of op kinds (0 when profiling is off), fills names[i] and
 * secs[i] (up to cap entries) and *tokens; reset clears the counters after. */
int ga_model_profile(ga_model *m, const char **names, double *secs, int cap, int64_t *tokens, int reset);

#endif
