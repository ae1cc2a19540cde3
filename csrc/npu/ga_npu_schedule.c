/* ga_npu_schedule.c - recording the two compiled steps, and checking the host loop's ops
 * against them (ga_npu_schedule.h). */
#include <string.h>

#include "ga_npu_schedule.h"

const char *const ga_npu_step_names[GA_NPU_N_STEPS] = {"prefill", "decode"};

ga_status ga_npu_step_init(ga_npu_step *s, ga_arena *a, int cap, ga_error *err) {
    memset(s, 0, sizeof *s);
    s->ops = ga_arena_alloc(a, (uint64_t)cap * sizeof *s->ops, "schedule");
    s->plans = ga_arena_alloc(a, (uint64_t)cap * 3 * sizeof *s->plans, "schedule");
    s->attn = ga_arena_alloc(a, (uint64_t)cap * sizeof *s->attn, "schedule");
    if (!s->ops || !s->plans || !s->attn) return ga_fail(err, GA_ERR_DEVICE_MEMORY, "backend npu: the arena's address space is exhausted");
    s->cap = cap;
    return GA_OK;
}

ga_status ga_npu_step_record(ga_npu_step *s, const ga_op_args *op, ga_error *err) {
    if (s->n_ops == s->cap) return ga_fail(err, GA_ERR_UNSUPPORTED, "backend npu: a step of more than %d ops", s->cap);
    s->ops[s->n_ops++] = *op;
    return GA_OK;
}

static int is_head(const ga_op_args *op) { return op->layer < 0 && op->op != GA_OP_GET_ROWS; }

ga_status ga_npu_step_seal(ga_npu_step *s, ga_error *err) {
    int i = 0;
    while (i < s->n_ops && !is_head(&s->ops[i])) i++;
    s->n_body = i;
    /* the head as the model emits it: one norm (every row wanted), the matmul, maybe the softcap */
    const int n_head = s->n_ops - i;
    if (n_head < 2 || n_head > 3 || s->ops[i].op != GA_OP_RMS_NORM || s->ops[i + 1].op != GA_OP_MATMUL ||
        (n_head == 3 && s->ops[i + 2].op != GA_OP_SOFTCAP))
        return ga_fail(err, GA_ERR_UNSUPPORTED, "backend npu: the %d-token step does not end in the output head",
                       s->rows);
    for (int k = i; k < s->n_ops; k++)
        if (!is_head(&s->ops[k]))
            return ga_fail(err, GA_ERR_UNSUPPORTED, "backend npu: an op of layer %d after the output head",
                           s->ops[k].layer);
    return GA_OK;
}

/* op is the recorded one, bar its rows (T and the head norm's row offsets) */
static int same_op(const ga_op_args *a, const ga_op_args *b) {
    return a->op == b->op && a->layer == b->layer && a->kv_layer == b->kv_layer && a->width == b->width &&
           a->src == b->src && a->src2 == b->src2 && a->src3 == b->src3 && a->dst[0] == b->dst[0] &&
           a->dst[1] == b->dst[1] && a->dst[2] == b->dst[2] && a->nw == b->nw && a->w[0] == b->w[0] &&
           a->w[1] == b->w[1] && a->w[2] == b->w[2] && a->norm == b->norm && a->norm2 == b->norm2 &&
           a->scale == b->scale && a->cap == b->cap;
}

void ga_npu_cursor_start(ga_npu_cursor *cur, const ga_npu_step *step) {
    cur->step = step;
    cur->pc = 0;
    cur->gather.n = cur->gather.rows = 0;
}

ga_status ga_npu_cursor_take(ga_npu_cursor *cur, const ga_op_args *op, int T, ga_error *err) {
    const ga_npu_step *s = cur->step;
    ga_npu_gather *g = &cur->gather;
    if (cur->pc < s->n_body) {
        if (same_op(op, &s->ops[cur->pc]) && op->T == T) {
            cur->pc++;
            return GA_OK;
        }
    } else if (cur->pc == s->n_body && op->op == GA_OP_RMS_NORM && same_op(op, &s->ops[s->n_body])) {
        /* a run of rows whose logits are wanted, packed after the previous runs */
        if (g->n == GA_NPU_MAX_GATHER || op->T < 1 || op->src_row0 < 0 || op->src_row0 + op->T > T ||
            op->dst_row0 != g->rows || g->rows + op->T > T)
            return ga_fail(err, GA_ERR_ARG, "backend npu: the output head's rows %lld..%lld of a %d-token chunk",
                           (long long)op->src_row0, (long long)op->src_row0 + op->T, T);
        g->run[g->n].src_row0 = op->src_row0;
        g->run[g->n].dst_row0 = op->dst_row0;
        g->run[g->n++].T = op->T;
        g->rows += op->T;
        return GA_OK;
    } else if (cur->pc == s->n_body && g->n > 0 && same_op(op, &s->ops[s->n_body + 1]) && op->T == g->rows) {
        cur->pc = s->n_body + 2;
        return GA_OK;
    } else if (cur->pc > s->n_body && cur->pc < s->n_ops && same_op(op, &s->ops[cur->pc]) && op->T == g->rows) {
        cur->pc++;
        return GA_OK;
    }
    return ga_fail(err, GA_ERR_UNSUPPORTED,
                   "backend npu: %s of layer %d over %d rows is not op %d of the compiled %s step (%d ops): only "
                   "the steps compiled at load run", ga_op_names[op->op < GA_OP_COUNT ? op->op : 0], op->layer,
                   op->T, cur->pc, ga_npu_step_names[s->rows == 1 ? GA_NPU_DECODE : GA_NPU_PREFILL], s->n_ops);
}

ga_status ga_npu_cursor_finish(const ga_npu_cursor *cur, ga_error *err) {
    const ga_npu_step *s = cur->step;
    if (cur->pc == s->n_ops || (cur->pc == s->n_body && cur->gather.n == 0)) return GA_OK;
    return ga_fail(err, GA_ERR_UNSUPPORTED, "backend npu: the chunk ended after %d of the %s step's %d ops", cur->pc,
                   ga_npu_step_names[s->rows == 1 ? GA_NPU_DECODE : GA_NPU_PREFILL], s->n_ops);
}
