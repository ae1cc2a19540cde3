/* ga_kv.h - the KV cache's bookkeeping: pages, block tables, sequences.
 *
 * Each layer that stores KV has a pool of pages of GA_KV_PAGE positions; the
 * memory itself belongs to the backend (page i of layer l is its rows
 * i * GA_KV_PAGE ...).  A sequence maps block b (its positions b * GA_KV_PAGE
 * ...) of layer l to a page through its block table.  Pages are counted:
 * forking a sequence shares them, and a page is copied before a sequence
 * writes into one it shares (ga_kv_prepare lists the copies).  Sliding-window
 * layers give back the pages that fell out of the window, keeping window +
 * n_batch positions, so a rollback of up to n_batch stays exact.
 *
 * Everything is allocated in ga_kv_init; nothing after.
 */
#ifndef GA_KV_H
#define GA_KV_H

#include <stdint.h>

#include "ga_common.h"
#include "ga_model.h"

#define GA_KV_PAGE 128 /* = GA_ATTN_CHUNK: attention walks one page per chunk of keys */

typedef struct {
    int layer;
    int32_t src, dst; /* page indices in that layer's pool */
} ga_kv_copy;

typedef struct {
    int n_layer, n_seq, n_ctx, n_batch, window;
    int n_blocks;                  /* block-table entries per sequence and layer */
    int32_t n_pages[GA_MAX_LAYERS];/* pool size per layer; 0 for a layer that reads another's KV */
    uint8_t swa[GA_MAX_LAYERS];
    int32_t *table;                /* [n_seq][n_layer][n_blocks] page, -1 = none */
    int32_t *refs[GA_MAX_LAYERS];  /* per page: block tables that hold it */
    int32_t *free_list[GA_MAX_LAYERS], n_free[GA_MAX_LAYERS];
    int32_t *n_past;               /* [n_seq] */
    int32_t *floor;                /* [n_seq] first position still kept on every sliding layer */
    int32_t *tokens;               /* [n_seq][n_ctx] the token at each cached position */
    ga_kv_copy *copies;            /* the copies ga_kv_prepare asks for */
    int n_copies, max_copies;
} ga_kv;

/* owns[l]: layer l stores KV (0 for a layer reading another layer's). */
ga_status ga_kv_init(ga_kv *kv, const ga_hparams *hp, const uint8_t *owns, int n_ctx, int n_seq, int n_batch,
                     ga_error *err);
void ga_kv_free(ga_kv *kv);

/* Page indices of seq's blocks in layer l (-1 where none). */
static inline const int32_t *ga_kv_pages(const ga_kv *kv, int seq, int layer) {
    return kv->table + ((int64_t)seq * kv->n_layer + layer) * kv->n_blocks;
}

/* Gives every block that seq's positions [from, to) write a page of its own in every
 * layer: fresh pages, or copies of shared ones (listed in kv->copies for the backend to
 * make before the chunk runs).  Sliding-window layers first give back the pages before
 * to - window - n_batch.  GA_ERR_ARG, with nothing taken, when a pool has too few pages. */
ga_status ga_kv_prepare(ga_kv *kv, int seq, int from, int to, ga_error *err);

/* After a chunk: seq's positions [from, to) hold tokens. */
void ga_kv_commit(ga_kv *kv, int seq, int from, int to, const int32_t *tokens);

int ga_kv_max_rollback(const ga_kv *kv, int seq);
/* Forgets seq's positions >= n (no checks: the model applies the rollback rule). */
void ga_kv_truncate(ga_kv *kv, int seq, int n);
/* dst = src, sharing src's pages. */
void ga_kv_fork(ga_kv *kv, int src, int dst);

#endif
