/* ga_backend.h - the interface every execution backend implements.
 *
 * The model code (ga_model.c) keeps the layer sequence, positions, chunking,
 * the KV cache's bookkeeping (ga_kv.h) and every check; it touches no
 * activation or KV memory.  A backend owns that memory and hands out handles
 * (ga_buf), loads the weights its own way, and runs ops: one call per op, in
 * the order of the layer sequence, between begin_chunk and end_chunk.  That
 * one entry point lets a GPU backend record a command buffer and an NPU
 * backend build a static schedule.  As in ggml, ops come from an append-only
 * enum with a name table, and every op returns a status.
 *
 * Adding a backend: implement ga_backend_i, add it to ga_backends[]
 * (ga_model.c), and run tests/test_backend_ops.py against it.
 */
#ifndef GA_BACKEND_H
#define GA_BACKEND_H

#include <stdint.h>

#include "ga_arena.h"
#include "ga_common.h"
#include "ga_kv.h"
#include "ga_model.h"

/* Append only: the values are part of the test and profiling interfaces. */
typedef enum {
    GA_OP_GET_ROWS = 0,      /* dst[t] = dequantized row tokens[t] of w[0], times scale */
    GA_OP_RMS_NORM = 1,      /* dst[t] = rmsnorm(src[src_row0 + t]) * norm, width floats per row */
    GA_OP_MATMUL = 2,        /* dst_i[t] = src[t] @ w_i^T for the nw (1..3) weights sharing src */
    GA_OP_QK_ROPE_STORE = 3, /* q (src), k (src2): per-head norm and RoPE in place; k and v (src3)
                              * stored at each token's position in layer kv_layer's pages */
    GA_OP_ATTENTION = 4,     /* dst[t] = softmax(q k^T * scale, softcap, causal, window) v over the
                              * KV pages of layer kv_layer, for each token's sequence */
    GA_OP_GLU = 5,           /* dst[t] = act(dst[t]) * src[t] (gelu_tanh or silu) */
    GA_OP_RESIDUAL_ADD = 6,  /* dst[t] += (norm ? rmsnorm(src[t]) * norm : src[t]); src may be normed in place */
    GA_OP_SOFTCAP = 7,       /* dst[t] = cap * tanh(dst[t] / cap) */
    GA_OP_KV_COPY = 8,       /* layer kv_layer's page page_dst = page page_src (copy-on-write after a fork) */
    GA_OP_COUNT
} ga_op;

extern const char *const ga_op_names[GA_OP_COUNT];

/* A backend's memory, by handle. */
typedef int32_t ga_buf;
#define GA_BUF_NONE (-1)

typedef enum {
    GA_MEM_ACT = 0,    /* activations: rows x width floats */
    GA_MEM_KV = 1,     /* one layer's K and V pages: rows = pages * GA_KV_PAGE, width = n_head_kv * head_dim */
    GA_MEM_OUTPUT = 2, /* results the caller reads (the logits): bound to host memory per chunk */
} ga_mem_kind;

/* The tokens of one chunk: ids, positions, sequence ids, and the KV page tables. */
typedef struct {
    int T;
    const int32_t *tokens, *pos, *seq;
    const ga_kv *kv;
    int one_seq; /* 1: all T tokens belong to seq[0], at positions pos[0], pos[0] + 1, ... */
} ga_chunk;

typedef struct {
    ga_op op;
    int layer;                /* the layer the op belongs to; -1 for the embedding and the head */
    int kv_layer;             /* QK_ROPE_STORE, ATTENTION, KV_COPY: whose KV pages */
    int T;                    /* rows (tokens) */
    int64_t width;            /* floats per row of src/dst (RMS_NORM, RESIDUAL_ADD, SOFTCAP, GLU) */
    ga_buf src, src2, src3;   /* operands, as described per op */
    int64_t src_row0;         /* RMS_NORM: first row of src, and of dst (the output head gathers the rows */
    int64_t dst_row0;         /* whose logits are wanted) */
    ga_buf dst[3];
    int nw;
    const ga_weight *w[3];
    const float *norm, *norm2; /* host f32 vectors: RMS_NORM/RESIDUAL_ADD norm; QK_ROPE_STORE q and k norms */
    float scale;              /* GET_ROWS: embedding scale */
    float cap;                /* SOFTCAP */
    int32_t page_src, page_dst; /* KV_COPY */
} ga_op_args;

typedef struct {
    int n_threads, act_bits, n_batch;
    int n_ctx, n_seq;         /* the KV cache's positions per sequence and sequences (ga_kv) */
    int device;               /* which device of the backend's kind (Vulkan: as ga_vk_devices lists them) */
    uint64_t budget_bytes;    /* 0 = no limit on alloc() */
    ga_arena *arena;          /* CPU: take every buffer and scratch from it (NULL: the heap) */
    int weights_move;         /* CPU: the weights' data may change between ops (streamed): keep no
                               * copies of them (the interleaved decode layout) */
    int n_threads_decode;     /* CPU: threads for one-token chunks (0: n_threads) */
    uint64_t sram_bytes;      /* npu: the scratchpad its tiles are planned in (0: 8 MiB) */
    int align;                /* npu: its arena regions' alignment, a power of two (0: 64) */
} ga_backend_params;

typedef struct ga_backend ga_backend; /* each backend's own state */

typedef struct {
    const char *name;
    ga_status (*init)(const ga_backend_params *p, const ga_hparams *hp, ga_backend **out, ga_error *err);
    void (*free)(ga_backend *be);
    /* 1 if op runs on weights of type wtype (-1: the op at all, or an op without weights) */
    int (*supports)(const ga_backend *be, ga_op op, int wtype);
    /* rows x width floats of kind; GA_ERR_NOMEM beyond the budget.  layer: GA_MEM_KV's layer */
    ga_status (*alloc)(ga_backend *be, ga_mem_kind kind, int layer, int64_t rows, int64_t width, ga_buf *out,
                       ga_error *err);
    /* floats [off, off + n) of buffer b from / to host memory (tests; not on the token path).
     * A KV buffer holds its K pages, then its V pages. */
    ga_status (*write)(ga_backend *be, ga_buf b, int64_t off, int64_t n, const float *src, ga_error *err);
    ga_status (*read)(ga_backend *be, ga_buf b, int64_t off, int64_t n, float *dst, ga_error *err);
    /* after every alloc: the weights, which the backend may copy or repack (ga_weight.packed) */
    ga_status (*load_weights)(ga_backend *be, ga_weights *w, ga_error *err);
    /* output: the host memory the GA_MEM_OUTPUT buffer stands for during this chunk */
    ga_status (*begin_chunk)(ga_backend *be, const ga_chunk *c, float *output, ga_error *err);
    ga_status (*run)(ga_backend *be, const ga_op_args *op, ga_error *err);
    ga_status (*end_chunk)(ga_backend *be, ga_error *err);
    uint64_t (*reserved_bytes)(const ga_backend *be);
    /* optional (NULL): the one arena a budgeted backend allocates from, for its memory plan */
    const ga_arena *(*arena)(const ga_backend *be);
    /* optional (NULL): up to cap named counters (bytes moved, seconds per stage, ...) */
    int (*stats)(const ga_backend *be, const char **names, double *values, int cap);
    /* optional (NULL): a static-shape backend compiles its steps once, after load_weights.
     * For T = n_batch, then T = 1, the model calls compile_step with a chunk of T tokens,
     * emits that step's ops (run) and calls end_chunk: the backend records them, runs nothing. */
    ga_status (*compile_step)(ga_backend *be, const ga_chunk *c, ga_error *err);
} ga_backend_i;

/* The checks every backend makes before an op reads or writes KV pages (ga_chunk.c): each
 * token of c has a sequence and position in range and a page, in a pool of n_pages, for its
 * own position; with keys, also for every position it attends to (from pos - window + 1
 * when window > 0, else from 0). */
ga_status ga_chunk_check_pages(const ga_chunk *c, int kv_layer, int64_t n_pages, int window, int keys,
                               ga_error *err);

extern const ga_backend_i ga_backend_cpu;
extern const ga_backend_i ga_backend_vulkan; /* csrc/vulkan/ga_backend_vk.c */
extern const ga_backend_i ga_backend_npu;    /* csrc/npu/ga_backend_npu.c */

/* The backends built in, NULL-terminated; the CPU first. */
extern const ga_backend_i *const ga_backends[];

#endif
