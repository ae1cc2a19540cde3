/* ga_npu_schedule.h - the NPU backend's static schedule: compile once, run per chunk.
 *
 * An NPU runs precompiled graphs of fixed shapes: OpenVINO's NPUW compiles a prefill model
 * of [1, CHUNK] tokens and a generate model of [1, 1]; QNN ships one context binary per
 * (AR-N, AR-1) pair; ONNX Runtime GenAI on Ryzen AI does the same.  The backend takes that
 * shape.  At load the model emits the ops of two steps once (compile): a prefill chunk of
 * `rows` = n_batch tokens and a decode step of 1.  From then on the host loop's ops are only
 * checked against the step they belong to and bound (which rows want logits); the step
 * runs, whole, at the end of the chunk, through an executor that only ever walks these
 * arrays.  A vendor runtime replaces the executor (docs/ARCHITECTURE.md), not the host loop.
 *
 * A chunk of 1 token runs the decode step; a longer one (at most n_batch) the prefill step,
 * padded: the padding rows repeat the last token's embedding and go through every row-wise
 * op, but are masked out of the KV store and attention, so they never reach a real row.
 */
#ifndef GA_NPU_SCHEDULE_H
#define GA_NPU_SCHEDULE_H

#include "ga_arena.h"
#include "ga_backend.h"
#include "ga_npu_attention.h"
#include "ga_npu_sram.h"

typedef enum { GA_NPU_PREFILL = 0, GA_NPU_DECODE = 1, GA_NPU_N_STEPS } ga_npu_step_kind;

extern const char *const ga_npu_step_names[GA_NPU_N_STEPS];

/* One compiled step: its ops in order, recorded at rows tokens.  The body (embedding and
 * layers) is ops[0, n_body); the output head follows: its norm gathers the rows whose
 * logits are wanted, then one matmul and the softcap over those rows. */
typedef struct {
    int rows;
    int n_ops, cap, n_body;
    ga_op_args *ops;
    /* the executor's compile: each matmul weight's tiles, each attention's */
    ga_npu_tile_plan *plans; /* [cap][3] */
    ga_npu_attn_plan *attn;  /* [cap] */
} ga_npu_step;

/* Which rows of a chunk want logits: runs of (src_row0, dst_row0, T) of the head's norm. */
#define GA_NPU_MAX_GATHER 64
typedef struct {
    int n;
    struct { int64_t src_row0, dst_row0; int T; } run[GA_NPU_MAX_GATHER];
    int rows; /* their sum: the head's rows */
} ga_npu_gather;

/* The executor: runs a compiled step for one chunk.  The built-in one (ga_backend_npu.c)
 * emulates the device on the CPU; a vendor executor would map compile() onto its graph
 * compiler and run() onto one inference request with the chunk's ids, positions, KV block
 * tables and gather as inputs. */
typedef struct {
    const char *name;
    ga_status (*compile)(void *ctx, ga_npu_step *steps, int n_steps, ga_error *err); /* fills plans */
    ga_status (*run)(void *ctx, const ga_npu_step *step, const ga_chunk *c, const ga_npu_gather *g, ga_error *err);
} ga_npu_executor_i;

/* Room in the arena for a step of up to cap ops. */
ga_status ga_npu_step_init(ga_npu_step *s, ga_arena *a, int cap, ga_error *err);
/* Appends a recorded op (compile). */
ga_status ga_npu_step_record(ga_npu_step *s, const ga_op_args *op, ga_error *err);
/* Ends the recording: finds where the head begins. */
ga_status ga_npu_step_seal(ga_npu_step *s, ga_error *err);

/* The host loop's ops, checked against a step in order (run).  pc: the cursor, from 0. */
typedef struct {
    const ga_npu_step *step;
    int pc;
    ga_npu_gather gather;
} ga_npu_cursor;

void ga_npu_cursor_start(ga_npu_cursor *cur, const ga_npu_step *step);
/* op is the next op of the step for a chunk of T tokens (anything else is an error that
 * names it); the head's norms add to the gather. */
ga_status ga_npu_cursor_take(ga_npu_cursor *cur, const ga_op_args *op, int T, ga_error *err);
/* The chunk's ops are all in: the body whole, the head whole or absent. */
ga_status ga_npu_cursor_finish(const ga_npu_cursor *cur, ga_error *err);

#endif
