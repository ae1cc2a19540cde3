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

#include "ga_arena.h"
#include "ga_common.h"
#include "ga_threadpool.h"

#define GA_MAX_LAYERS 512

typedef enum { GA_ARCH_LLAMA = 0, GA_ARCH_GEMMA = 1, GA_ARCH_GEMMA2 = 2, GA_ARCH_GEMMA3 = 3 } ga_arch;

/* One layer's shape, in the way of gemma.cpp's LayerConfig: Gemma 3n/4 vary head_dim, n_ff
 * and the head counts by layer, and let later layers read an earlier layer's KV. */
typedef struct {
    int n_head, n_head_kv, head_dim, n_ff;
    int swa;                      /* 1: sliding-window layer (keys further back than the window are masked) */
    int kv_from;                  /* the layer whose KV this layer reads: itself, or an earlier layer with the
                                   * same n_head_kv, head_dim and swa (KV sharing; it stores no KV of its own) */
    float rope_base, rope_freq_scale;
} ga_layer_hparams;

typedef struct {
    int arch;
    int n_layer, n_embd, n_vocab;
    float norm_eps;
    int rope_neox;      /* 1: rotate pairs (i, i + d/2); 0: adjacent pairs (2i, 2i + 1) */
    int sliding_window; /* keys further back than this are masked on SWA layers */
    float attn_scale;   /* multiplies q.k */
    float attn_softcap, final_softcap; /* 0 = none; else s = c * tanh(s / c) */
    int embed_scale;    /* multiply embeddings by sqrt(n_embd) (Gemma) */
    int act_gelu;       /* 1: gelu_tanh(gate) * up (Gemma); 0: silu(gate) * up (llama) */
    int post_norms;     /* Gemma 2/3: norm after attention and after the MLP */
    int qk_norm;        /* Gemma 3: per-head RMSNorm of q and k before RoPE */
    ga_layer_hparams layer[GA_MAX_LAYERS];
} ga_hparams;

/* A matrix of `rows` rows, each `cols` elements in block format `type`. */
typedef struct {
    const void *data;
    int type;
    int64_t rows, cols;
    uint64_t row_bytes;
    const void *packed; /* set by the backend's load_weights: its own copy (the CPU's 8-row
                         * interleaved decode layout), or NULL */
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

/* How a model is made.
 * n_ctx: most positions per sequence; n_seq: sequences the KV cache holds (ids 0..n_seq-1);
 * n_batch: most tokens per forward chunk.
 * act_bits: 8 quantizes activations to int8 per block for the integer dot products (as
 * llama.cpp does); 16 also quantizes each block's rounding residual to int8 and adds a
 * second dot product, carrying ~15 bits of every activation.  Gemma 3's large activation
 * outliers make 8 measurably lossy: 16 keeps the argmax of every position of our fidelity
 * prompts.
 * backend: "cpu" (NULL too), another backend's name (ga_backend.h), or "auto" (the first
 * accelerator built in); a backend that is not built in, or cannot run this model, leaves
 * the whole model on the CPU and says why in ga_model_fallback() -- except a model too large
 * for the device memory of a backend asked for by name: GA_ERR_DEVICE_MEMORY.  budget_bytes: the most working memory (KV cache and scratch) the
 * backend may reserve, 0 = no limit. */
typedef struct {
    int n_ctx, n_seq, n_batch, n_threads, act_bits;
    const char *backend;
    int device;            /* which device of that backend (0: the first) */
    uint64_t budget_bytes;
    uint64_t sram_bytes;   /* backend npu: its scratchpad (0: its default) */
    int align;             /* backend npu: the alignment of its regions (0: 64) */
} ga_model_params;

ga_status ga_model_new(const ga_hparams *hp, const ga_weights *w, const ga_model_params *p, ga_model **out,
                       ga_error *err);
void ga_model_free(ga_model *m);

/* A batch of tokens, each with its sequence id and position: a sequence's tokens must
 * come in order and continue it (the first at its n_past).  logits_out[i] != 0 asks for
 * token i's logits, written to logits in batch order (n_vocab floats per asked token). */
typedef struct {
    int n;
    const int32_t *tokens, *pos, *seq;
    const uint8_t *logits_out; /* NULL: none */
} ga_batch;

/* Runs the batch in chunks of at most n_batch tokens.  Nothing is kept of a chunk that
 * fails; chunks before it stay in the cache. */
ga_status ga_model_eval_batch(ga_model *m, const ga_batch *b, float *logits, ga_error *err);

/* Sequence 0's tokens[0..n) at its next positions.  logits: NULL (none), or n_vocab
 * floats for the last token (all_logits 0), or n * n_vocab floats (all_logits 1). */
ga_status ga_model_eval(ga_model *m, const int32_t *tokens, int n, float *logits, int all_logits,
                        ga_error *err);

/* Positions sequence seq has cached (0 for an id outside 0..n_seq-1). */
int ga_model_seq_n_past(const ga_model *m, int seq);
/* How many of seq's cached positions can be forgotten so that evaluation continues exactly:
 * all of them, unless its sliding-window layers have dropped pages that fell out of the
 * window; at least n_batch (a window + n_batch span of positions is kept). */
int ga_model_seq_max_rollback(const ga_model *m, int seq);
/* Forget seq's positions >= n: refused (GA_ERR_ARG) for n outside 0..n_past and for a
 * rollback past ga_model_seq_max_rollback, except to 0 (an empty sequence). */
ga_status ga_model_seq_truncate(ga_model *m, int seq, int n, ga_error *err);
/* Keep the longest prefix of seq's cache that equals tokens[0..n), at most max_keep
 * positions, and forget the rest (the whole sequence when the rollback rule forbids the
 * cut); *kept is the positions kept. */
ga_status ga_model_seq_keep_prefix(ga_model *m, int seq, const int32_t *tokens, int n, int max_keep, int *kept,
                                   ga_error *err);
/* dst becomes a copy of src that shares src's KV pages (a page is copied when either
 * writes into it); dst's former contents are forgotten. */
ga_status ga_model_seq_fork(ga_model *m, int src, int dst, ga_error *err);

/* Sequence 0 (the single-sequence API). */
int ga_model_n_past(const ga_model *m);
int ga_model_max_rollback(const ga_model *m);
ga_status ga_model_truncate(ga_model *m, int n, ga_error *err);

int ga_model_n_ctx(const ga_model *m);
int ga_model_n_seq(const ga_model *m);
int ga_model_n_batch(const ga_model *m);
const ga_hparams *ga_model_hparams(const ga_model *m);
/* The backend the model runs on, and why it is not the one asked for ("" when it is). */
const char *ga_model_backend(const ga_model *m);
const char *ga_model_fallback(const ga_model *m);
/* Bytes of working memory reserved (KV cache + scratch). */
uint64_t ga_model_reserved_bytes(const ga_model *m);
/* The backend's arena (backend "npu"), or NULL; and its budget. */
const ga_arena *ga_model_arena(const ga_model *m, uint64_t *budget);
/* The backend's counters: up to cap (name, value) pairs, how many there are (0: none). */
int ga_model_backend_stats(const ga_model *m, const char **names, double *values, int cap);
/* Per-op timing (only when the environment had GA_PROFILE=1 at ga_model_new):
 * returns the number of op kinds (0 when profiling is off), fills names[i] and
 * secs[i] (up to cap entries) and *tokens; reset clears the counters after. */
int ga_model_profile(ga_model *m, const char **names, double *secs, int cap, int64_t *tokens, int reset);

#endif
