/* ga_backend_npu.c - the NPU-chunked backend: a model inside a hard memory budget.
 *
 * Everything the backend allocates comes from one arena (ga_arena.h) mapped at load:
 * two layer slots for the streamed weights, the KV pool, activations and scratch; beside
 * it, a second and smaller arena emulates the device's scratchpad (ga_npu_sram.h).  The
 * weights are never mapped: each layer's matrices are read from the model file (pread,
 * found through /proc/self/maps from the loader's zero-copy views) into a slot, and a
 * prefetch thread reads layer l + 1 into the other slot while layer l computes, so the
 * file's pages stay in the page cache and out of this process.  The output head streams
 * from the file straight into the scratchpad's two halves, the embedding one row per token.
 *
 * Two steps are compiled at load (ga_npu_schedule.h): a prefill chunk of n_batch tokens
 * and a decode step of 1.  The host loop's ops are checked against the chunk's step and
 * bound; the step runs at end_chunk through the executor, which walks only the compiled
 * ops.  The built-in executor runs them on an inner CPU backend whose buffers and scratch
 * live in the arena (ga_backend_params.arena), on weight views into the slots: the same
 * kernels, so the results are the CPU backend's.  The budget is checked once, at load, for
 * the whole plan: a budget too small names the smallest that works.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ga_arena.h"
#include "ga_backend.h"
#include "ga_npu_schedule.h"
#include "ga_quants.h"
#include "ga_threadpool.h"

#define N_LW 7                          /* weights per layer: q k v o gate up down */
#define HEAD_TILE_BYTES ((uint64_t)1 << 20) /* the output head's tiles stop here: every byte of the two
                                              * is resident, within the peak RSS the budget promises */
#define MAX_FILES 16
#define VIRTUAL_SLACK ((uint64_t)16 << 30)  /* address space past the budget, so the plan can be
                                              * measured before it is refused (never touched) */
#define MAX_BUFS (16 + GA_MAX_LAYERS)
enum { B_SLOT0, B_SLOT1, B_HEAD0, B_HEAD1, N_STREAM }; /* the streamed buffers */
#define HEAD_ID 0x40000000                             /* holds[]: head tile k is HEAD_ID + k */

typedef struct {
    const void *data; /* the loader's view (never read here) */
    int fd;           /* where its bytes are: file and offset */
    uint64_t off, bytes, row_bytes;
    uint64_t slot_off; /* layer weights: offset in a slot */
} npu_weight;

struct ga_backend {
    ga_hparams hp;
    ga_backend_params p;
    ga_arena arena;
    ga_backend *cpu;  /* the inner CPU backend, in the arena */
    int fds[MAX_FILES], n_fds;
    char paths[MAX_FILES][512]; /* as long as a line of /proc/self/maps can name */
    npu_weight lw[GA_MAX_LAYERS][N_LW], embd, head;
    ga_weight head_view;
    uint8_t *buf[N_STREAM]; /* two layer slots, two head tiles */
    uint64_t slot_bytes;
    uint8_t *row_buf;
    float *row_f32;
    int64_t head_rows, n_head_tiles;
    ga_buf head_out;
    struct { const float *host; float *copy; } norms[1 + 6 * GA_MAX_LAYERS]; /* norm vectors, in the arena */
    int n_norms;
    int kinds[MAX_BUFS];     /* the kind of each buffer handle */
    int64_t kv_rows[MAX_BUFS]; /* a KV buffer's positions */
    int n_bufs;
    float *output;
    const ga_chunk *c;
    /* the compiled steps; recording: the step being compiled (-1: none) */
    ga_npu_step steps[GA_NPU_N_STEPS];
    int n_steps, recording, n_compiled;
    ga_npu_cursor cur;
    const ga_npu_executor_i *exec;
    int64_t steps_run[GA_NPU_N_STEPS], ops_run, padded_rows;
    /* the scratchpad: its own arena, its halves a matmul's two weight tiles, its shares the
     * attention workers' */
    ga_arena sram_arena;
    uint8_t *sram;
    uint64_t sram_bytes, sram_moved, sram_peak;
    int64_t sram_tiles, max_rows;
    ga_buf tile_out;  /* a tile's outputs [n_batch][max_rows], then scattered to their columns */
    float *tile_host; /* one row of them on its way */
    ga_pool *pool, *pool_decode; /* attention's workers (a decode step leaves the reader a core) */
    ga_npu_attn_worker *workers;   /* one per worker, one share of the scratchpad each */
    float *partials;               /* decode: each key tile's partial, for the merge */
    int64_t max_split;
    ga_npu_attn_counters attn;
    double exec_s, op_s[GA_OP_COUNT];
    /* prefetch: the thread reads, in order, what each queued buffer is to hold (holds[b]: a
     * layer, or HEAD_ID + a head tile); only the caller's thread queues */
    pthread_t thread;
    int thread_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int holds[N_STREAM], ready[N_STREAM], queue[N_STREAM], n_queued, reading, stop, io_failed, cur_layer;
    char io_msg[256];
    /* counters (npu_stats): the prefetch thread's under mu, the caller's own */
    uint64_t bytes_read, main_bytes_read;
    double read_s, wait_s, idle_s;
    int64_t layers_read, head_tiles;
};

static const ga_npu_executor_i cpu_executor; /* below */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* bytes at off of fd into dst, the whole of it; 0 on success, else errno */
static int read_all(int fd, uint64_t off, void *dst, uint64_t bytes) {
    uint8_t *p = dst;
    while (bytes) {
        const ssize_t n = pread(fd, p, bytes < ((uint64_t)1 << 30) ? (size_t)bytes : (size_t)1 << 30, (off_t)off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return n < 0 ? errno : EIO;
        p += n;
        off += (uint64_t)n;
        bytes -= (uint64_t)n;
    }
    return 0;
}

/* ----------------------------------------------------------- where weights live */

/* The file and offset of [data, data + bytes), from the process's mappings. */
static ga_status locate(ga_backend *be, const void *data, uint64_t bytes, int *fd, uint64_t *off, ga_error *err) {
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f) return ga_fail(err, GA_ERR_UNSUPPORTED, "backend npu needs /proc/self/maps to find the weights' file");
    char line[1024];
    const uintptr_t a = (uintptr_t)data;
    ga_status st = ga_fail(err, GA_ERR_UNSUPPORTED,
                           "backend npu streams weights from the model file, but a weight is not in a mapped file");
    while (fgets(line, sizeof line, f)) {
        uintptr_t lo, hi;
        unsigned long long moff;
        char perms[8], path[512] = "";
        if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " %7s %llx %*s %*s %511[^\n]", &lo, &hi, perms, &moff, path) < 4)
            continue;
        if (a < lo || a >= hi) continue;
        const char *p = path;
        while (*p == ' ') p++;
        if (*p != '/' || a + bytes > hi) break;
        int i = 0;
        while (i < be->n_fds && strcmp(be->paths[i], p) != 0) i++;
        if (i == be->n_fds) {
            if (i == MAX_FILES || strlen(p) >= sizeof be->paths[0]) break;
            if ((be->fds[i] = open(p, O_RDONLY | O_CLOEXEC)) < 0) {
                st = ga_fail(err, GA_ERR_IO, "backend npu cannot open %s: %s", p, strerror(errno));
                break;
            }
            snprintf(be->paths[i], sizeof be->paths[i], "%s", p);
            be->n_fds++;
        }
        *fd = be->fds[i];
        *off = (uint64_t)moff + (uint64_t)(a - lo);
        st = GA_OK;
        break;
    }
    fclose(f);
    return st;
}

static ga_status describe(ga_backend *be, const ga_weight *w, npu_weight *nw, ga_error *err) {
    memset(nw, 0, sizeof *nw);
    nw->fd = -1;
    if (!w->data) return GA_OK;
    nw->data = w->data;
    nw->bytes = (uint64_t)w->rows * w->row_bytes;
    nw->row_bytes = w->row_bytes;
    return locate(be, w->data, nw->bytes, &nw->fd, &nw->off, err);
}

/* ------------------------------------------------------------------ prefetch */

/* what id stands for into buffer b: a layer's matrices, or a tile of the output head */
static int read_item(ga_backend *be, int id, int b, uint64_t *n) {
    *n = 0;
    if (id >= HEAD_ID) {
        const int64_t r0 = (int64_t)(id - HEAD_ID) * be->head_rows, V = be->head_view.rows;
        const int64_t rows = V - r0 < be->head_rows ? V - r0 : be->head_rows;
        *n = (uint64_t)rows * be->head_view.row_bytes;
        return read_all(be->head.fd, be->head.off + (uint64_t)r0 * be->head_view.row_bytes, be->buf[b], *n);
    }
    for (int i = 0; i < N_LW; i++) {
        const npu_weight *w = &be->lw[id][i];
        if (!w->data) continue;
        const int e = read_all(w->fd, w->off, be->buf[b] + w->slot_off, w->bytes);
        if (e) return e;
        *n += w->bytes;
    }
    return 0;
}

static void *prefetch_main(void *arg) {
    ga_backend *be = arg;
    pthread_mutex_lock(&be->mu);
    for (;;) {
        if (!be->stop && be->n_queued == 0) { /* idle: nothing queued (what decode speed hides in) */
            const double t0 = now_s();
            while (!be->stop && be->n_queued == 0) pthread_cond_wait(&be->cv, &be->mu);
            be->idle_s += now_s() - t0;
        }
        if (be->stop) break;
        const int b = be->queue[0], id = be->holds[b];
        memmove(be->queue, be->queue + 1, (size_t)(--be->n_queued) * sizeof be->queue[0]);
        be->reading = b;
        pthread_mutex_unlock(&be->mu);
        const double t0 = now_s();
        uint64_t n;
        const int e = read_item(be, id, b, &n);
        pthread_mutex_lock(&be->mu);
        be->read_s += now_s() - t0;
        be->bytes_read += n;
        if (id >= HEAD_ID) be->head_tiles++;
        else be->layers_read++;
        be->reading = -1;
        if (e) {
            be->io_failed = 1;
            snprintf(be->io_msg, sizeof be->io_msg, "reading %s %d: %s", id >= HEAD_ID ? "output head tile" : "layer",
                     id >= HEAD_ID ? id - HEAD_ID : id, strerror(e));
        } else {
            be->ready[b] = 1;
        }
        pthread_cond_broadcast(&be->cv);
    }
    pthread_mutex_unlock(&be->mu);
    return NULL;
}

/* with mu held: buffer b is to hold id (a no-op if it does or will) */
static void request_locked(ga_backend *be, int b, int id) {
    if (be->holds[b] == id) return;
    while (be->reading == b) pthread_cond_wait(&be->cv, &be->mu); /* never under the thread's feet */
    int k = 0;
    while (k < be->n_queued && be->queue[k] != b) k++;
    if (k == be->n_queued) be->queue[be->n_queued++] = b; /* else it keeps its place, with the new id */
    be->holds[b] = id;
    be->ready[b] = 0;
    pthread_cond_broadcast(&be->cv);
}

/* with mu held: waits until buffer b holds id; 0, or -1 after a failed read */
static int wait_locked(ga_backend *be, int b, int id, ga_error *err) {
    request_locked(be, b, id);
    const double t0 = now_s();
    while (!be->ready[b] && !be->io_failed) pthread_cond_wait(&be->cv, &be->mu);
    be->wait_s += now_s() - t0;
    if (be->io_failed) {
        ga_fail(err, GA_ERR_IO, "backend npu: %s", be->io_msg);
        return -1;
    }
    return 0;
}

/* The slot holding layer l, once read; queues what comes next: layer l + 1 in the other
 * slot (after the last layer, layer 0 of the next step). */
static int layer_slot(ga_backend *be, int l, ga_error *err) {
    pthread_mutex_lock(&be->mu);
    int s = be->holds[B_SLOT0] == l ? B_SLOT0 : be->holds[B_SLOT1] == l ? B_SLOT1 : -1;
    if (s < 0) s = be->holds[B_SLOT0] == be->cur_layer ? B_SLOT1 : B_SLOT0; /* never the slot in use */
    if (wait_locked(be, s, l, err)) {
        pthread_mutex_unlock(&be->mu);
        return -1;
    }
    if (be->cur_layer != l) {
        be->cur_layer = l;
        const int next = (l + 1) % be->hp.n_layer;
        if (next != l) request_locked(be, s == B_SLOT0 ? B_SLOT1 : B_SLOT0, next);
    }
    pthread_mutex_unlock(&be->mu);
    return s;
}

/* ------------------------------------------------------------------ lifetime */

static void npu_free(ga_backend *be) {
    if (!be) return;
    if (be->thread_started) {
        pthread_mutex_lock(&be->mu);
        be->stop = 1;
        pthread_cond_broadcast(&be->cv);
        pthread_mutex_unlock(&be->mu);
        pthread_join(be->thread, NULL);
    }
    pthread_mutex_destroy(&be->mu);
    pthread_cond_destroy(&be->cv);
    if (be->cpu) ga_backend_cpu.free(be->cpu);
    if (be->pool) ga_pool_free(be->pool);
    if (be->pool_decode) ga_pool_free(be->pool_decode);
    for (int i = 0; i < be->n_fds; i++) close(be->fds[i]);
    ga_arena_free(&be->arena);
    ga_arena_free(&be->sram_arena);
    free(be);
}

static ga_status npu_init(const ga_backend_params *p, const ga_hparams *hp, ga_backend **out, ga_error *err) {
    if (!p->budget_bytes)
        return ga_fail(err, GA_ERR_ARG, "backend npu runs inside a memory budget: give one (memory_budget)");
    ga_backend *be = calloc(1, sizeof *be);
    if (!be) return ga_fail(err, GA_ERR_NOMEM, "out of memory");
    be->hp = *hp;
    be->p = *p;
    pthread_mutex_init(&be->mu, NULL);
    pthread_cond_init(&be->cv, NULL);
    for (int b = 0; b < N_STREAM; b++) be->holds[b] = -1;
    be->reading = -1;
    be->cur_layer = -1;
    be->recording = -1;
    be->exec = &cpu_executor;
    be->head_out = be->tile_out = GA_BUF_NONE;
    be->sram_bytes = p->sram_bytes ? p->sram_bytes : (uint64_t)8 << 20;
    ga_status st = ga_arena_init(&be->arena, p->budget_bytes + VIRTUAL_SLACK, err);
    if (st) { npu_free(be); return st; }
    if (p->align > 64) be->arena.align = (uint64_t)p->align;
    ga_backend_params ip = *p;
    ip.arena = &be->arena;
    ip.weights_move = 1;
    ip.budget_bytes = 0; /* the arena and the check at load are the limit */
    /* a decode step waits on the reader: leave it a core (prefill is compute-bound: all) */
    ip.n_threads_decode = p->n_threads > 1 ? p->n_threads - 1 : 0;
    if ((st = ga_backend_cpu.init(&ip, hp, &be->cpu, err)) || (st = ga_pool_new(p->n_threads, &be->pool, err)) ||
        (st = ga_pool_new(ip.n_threads_decode ? ip.n_threads_decode : p->n_threads, &be->pool_decode, err))) {
        npu_free(be);
        return st;
    }
    *out = be;
    return GA_OK;
}

static int npu_supports(const ga_backend *be, ga_op op, int wtype) { return ga_backend_cpu.supports(be->cpu, op, wtype); }

static ga_status npu_alloc(ga_backend *be, ga_mem_kind kind, int layer, int64_t rows, int64_t width, ga_buf *out,
                           ga_error *err) {
    ga_status st = ga_backend_cpu.alloc(be->cpu, kind, layer, rows, width, out, err);
    if (st == GA_ERR_NOMEM)
        return ga_fail(err, GA_ERR_DEVICE_MEMORY, "backend npu: the arena's address space is exhausted");
    if (!st && *out >= 0 && *out < MAX_BUFS) {
        be->kinds[*out] = kind;
        be->kv_rows[*out] = kind == GA_MEM_KV ? rows : 0;
    }
    return st;
}

static ga_status npu_write(ga_backend *be, ga_buf b, int64_t off, int64_t n, const float *src, ga_error *err) {
    return ga_backend_cpu.write(be->cpu, b, off, n, src, err);
}

static ga_status npu_read(ga_backend *be, ga_buf b, int64_t off, int64_t n, float *dst, ga_error *err) {
    return ga_backend_cpu.read(be->cpu, b, off, n, dst, err);
}

static uint64_t npu_reserved(const ga_backend *be) { return be->arena.used; }

static double mib(uint64_t b) { return (double)b / (1024.0 * 1024.0); }

/* a norm vector of n floats into the arena: read from its file if it is in one */
static ga_status copy_norm(ga_backend *be, const float *v, int64_t n, ga_error *err) {
    if (!v) return GA_OK;
    for (int i = 0; i < be->n_norms; i++)
        if (be->norms[i].host == v) return GA_OK;
    float *copy = ga_arena_alloc(&be->arena, (uint64_t)n * sizeof(float), "norm weights");
    if (!copy) return ga_fail(err, GA_ERR_DEVICE_MEMORY, "backend npu: the arena's address space is exhausted");
    int fd;
    uint64_t off;
    ga_error ignored;
    if (locate(be, v, (uint64_t)n * sizeof(float), &fd, &off, &ignored) == GA_OK) {
        const int e = read_all(fd, off, copy, (uint64_t)n * sizeof(float));
        if (e) return ga_fail(err, GA_ERR_IO, "backend npu: reading a norm vector: %s", strerror(e));
    } else {
        memcpy(copy, v, (size_t)n * sizeof(float)); /* made by the loader (a Hugging Face norm's +1) */
    }
    be->norms[be->n_norms].host = v;
    be->norms[be->n_norms++].copy = copy;
    return GA_OK;
}

static const float *norm_copy(const ga_backend *be, const float *v) {
    if (!v) return NULL;
    for (int i = 0; i < be->n_norms; i++)
        if (be->norms[i].host == v) return be->norms[i].copy;
    return v; /* not a model weight (tests pass their own) */
}

static ga_status npu_load_weights(ga_backend *be, ga_weights *w, ga_error *err) {
    const ga_hparams *hp = &be->hp;
    ga_status st;
    if ((st = describe(be, &w->tok_embd, &be->embd, err)) || (st = describe(be, &w->output, &be->head, err)))
        return st;
    be->slot_bytes = 0;
    for (int l = 0; l < hp->n_layer; l++) {
        ga_layer_weights *L = &w->layers[l];
        const ga_weight *lw[N_LW] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->gate, &L->up, &L->down};
        uint64_t at = 0;
        for (int i = 0; i < N_LW; i++) {
            if ((st = describe(be, lw[i], &be->lw[l][i], err))) return st;
            be->lw[l][i].slot_off = at;
            at += (be->lw[l][i].bytes + 63) & ~(uint64_t)63;
        }
        if (at > be->slot_bytes) be->slot_bytes = at;
    }
    const int64_t D = hp->n_embd;
    /* the scratchpad is a second, smaller arena, as on-chip SRAM is beside device memory */
    if ((st = ga_arena_init(&be->sram_arena, be->sram_bytes, err))) return st;
    if (!(be->sram = ga_arena_alloc(&be->sram_arena, be->sram_bytes, "scratchpad")))
        return ga_fail(err, GA_ERR_DEVICE_MEMORY, "backend npu: the scratchpad's address space is exhausted");
    /* The output head (the largest weight: 170 MB of the default model's 247) streams from the
     * file straight into the scratchpad's halves, double-buffered, tiles as large as its plan
     * allows: the reader's pread is its DMA.  (A scratchpad too small for the plan: compile
     * says so; one-row tiles meanwhile.) */
    ga_npu_tile_plan head_plan = {1, 0};
    uint64_t need;
    ga_error ignored;
    ga_npu_plan_matmul(be->sram_bytes, be->p.n_batch, w->output.rows, w->output.cols, w->output.row_bytes, &head_plan,
                       &need, &ignored);
    be->head_rows = head_plan.tile_rows;
    const int64_t mib_rows = (int64_t)(HEAD_TILE_BYTES / w->output.row_bytes) / GA_NPU_TILE_ALIGN * GA_NPU_TILE_ALIGN;
    if (be->head_rows > mib_rows && mib_rows > 0) be->head_rows = mib_rows;
    if ((uint64_t)be->head_rows * w->output.row_bytes > be->sram_bytes / 2) be->head_rows = 1;
    be->head_view = w->output;
    be->head_view.packed = NULL;
    be->n_head_tiles = (w->output.rows + be->head_rows - 1) / be->head_rows;
    be->buf[B_HEAD0] = be->sram;
    be->buf[B_HEAD1] = be->sram + be->sram_bytes / 2;
    if (!(be->buf[B_SLOT0] = ga_arena_alloc(&be->arena, be->slot_bytes, "weights: layer slots")) ||
        !(be->buf[B_SLOT1] = ga_arena_alloc(&be->arena, be->slot_bytes, "weights: layer slots")) ||
        !(be->row_buf = ga_arena_alloc(&be->arena, w->tok_embd.row_bytes, "weights: embedding row")) ||
        !(be->row_f32 = ga_arena_alloc(&be->arena, (uint64_t)D * sizeof(float), "weights: embedding row")))
        return ga_fail(err, GA_ERR_DEVICE_MEMORY, "backend npu: the arena's address space is exhausted");
    if ((st = npu_alloc(be, GA_MEM_ACT, -1, be->p.n_batch, be->head_rows, &be->head_out, err))) return st;
    /* where a layer weight's tile outputs wait for their columns (the widest weight) */
    be->max_rows = 1;
    for (int l = 0; l < hp->n_layer; l++)
        for (int i = 0; i < N_LW; i++) {
            const npu_weight *nw = &be->lw[l][i];
            const int64_t rows = nw->data ? (int64_t)(nw->bytes / nw->row_bytes) : 0;
            if (rows > be->max_rows) be->max_rows = rows;
        }
    if (!(be->tile_host = ga_arena_alloc(&be->arena, (uint64_t)be->max_rows * sizeof(float), "scratchpad output rows")) ||
        !(be->workers = ga_arena_alloc(&be->arena, (uint64_t)ga_pool_size(be->pool) * sizeof *be->workers,
                                       "schedule")))
        return ga_fail(err, GA_ERR_DEVICE_MEMORY, "backend npu: the arena's address space is exhausted");
    if ((st = npu_alloc(be, GA_MEM_ACT, -1, be->p.n_batch, be->max_rows, &be->tile_out, err))) return st;
    /* the decode step's attention partials, one per key tile of its plan (the plan compile
     * makes again): in device memory, where the merge reads them */
    int64_t per_split = 0;
    for (int l = 0; l < hp->n_layer; l++) {
        const ga_layer_hparams *lh = &hp->layer[l];
        ga_npu_attn_plan plan;
        uint64_t need;
        ga_error ignored;
        if (ga_npu_plan_attention(be->sram_bytes / (uint64_t)ga_pool_size(be->pool_decode), lh->n_head, lh->head_dim,
                                  be->p.n_ctx, &plan, &need, &ignored))
            continue; /* compile names the scratchpad that works */
        const int64_t splits = (be->p.n_ctx + plan.Bc - 1) / plan.Bc;
        if (splits > be->max_split) be->max_split = splits;
        if ((int64_t)lh->n_head * (lh->head_dim + 2) > per_split) per_split = (int64_t)lh->n_head * (lh->head_dim + 2);
    }
    if (be->max_split &&
        !(be->partials = ga_arena_alloc(&be->arena, (uint64_t)(be->max_split * per_split) * sizeof(float),
                                        "attention partials")))
        return ga_fail(err, GA_ERR_DEVICE_MEMORY, "backend npu: the arena's address space is exhausted");
    /* the norm vectors: copied into the arena, so no op touches the file's mapping (a fault
     * there maps neighbouring pages too) */
    if ((st = copy_norm(be, w->output_norm, D, err))) return st;
    for (int l = 0; l < hp->n_layer; l++) {
        const ga_layer_weights *L = &w->layers[l];
        const float *nv[6] = {L->attn_norm, L->ffn_norm, L->post_attn_norm, L->post_ffw_norm, L->q_norm, L->k_norm};
        for (int i = 0; i < 6; i++)
            if ((st = copy_norm(be, nv[i], i < 4 ? D : hp->layer[l].head_dim, err))) return st;
    }
    /* room for the two compiled steps: 11 ops a layer, the embedding and the head */
    be->n_steps = be->p.n_batch > 1 ? 2 : 1;
    for (int s = 0; s < be->n_steps; s++)
        if ((st = ga_npu_step_init(&be->steps[s], &be->arena, 12 * hp->n_layer + 8, err))) return st;
    if ((st = ga_backend_cpu.load_weights(be->cpu, w, err))) return st;
    /* the whole plan against the budget, before a byte of it is touched */
    if (be->arena.used > be->p.budget_bytes) {
        char plan[512] = "";
        size_t n = 0;
        for (int r = 0; r < be->arena.n_regions && n < sizeof plan - 64; r++)
            n += (size_t)snprintf(plan + n, sizeof plan - n, "%s%s %.1f", r ? ", " : "", be->arena.regions[r].name,
                                  mib(be->arena.regions[r].bytes));
        return ga_fail(err, GA_ERR_DEVICE_MEMORY,
                       "memory_budget %.1f MiB is too small for this model with n_ctx %d and n_batch %d: the smallest "
                       "that works is %.1f MiB (MiB: %s)", mib(be->p.budget_bytes), be->p.n_ctx, be->p.n_batch,
                       mib(be->arena.used), plan);
    }
    if (pthread_create(&be->thread, NULL, prefetch_main, be) != 0)
        return ga_fail(err, GA_ERR_NOMEM, "backend npu cannot start its prefetch thread");
    be->thread_started = 1;
    pthread_mutex_lock(&be->mu);
    request_locked(be, B_SLOT0, 0); /* layer 0 is read while the caller tokenizes */
    pthread_mutex_unlock(&be->mu);
    return GA_OK;
}

/* ------------------------------------------------------------------- chunks */

/* the embedding rows of the chunk's tokens, read one by one; padding rows (past the
 * chunk's tokens, up to the step's rows) repeat the last */
static ga_status get_rows(ga_backend *be, const ga_op_args *op, ga_error *err) {
    const ga_weight *E = op->w[0];
    const int64_t D = op->width;
    if (!be->c || op->T < be->c->T || op->T > be->p.n_batch) return ga_fail(err, GA_ERR_ARG, "get_rows outside a chunk");
    if (!E || E->data != be->embd.data || E->cols != D)
        return ga_fail(err, GA_ERR_ARG, "get_rows: not the model's embedding table");
    for (int i = 0; i < op->T; i++) {
        ga_status st;
        if (i < be->c->T) {
            const int32_t tok = be->c->tokens[i];
            if (tok < 0 || tok >= E->rows)
                return ga_fail(err, GA_ERR_ARG, "token id %d is outside the vocabulary (0..%lld)", tok,
                               (long long)E->rows - 1);
            const int e = read_all(be->embd.fd, be->embd.off + (uint64_t)tok * E->row_bytes, be->row_buf,
                                   E->row_bytes);
            if (e) return ga_fail(err, GA_ERR_IO, "backend npu: reading an embedding row: %s", strerror(e));
            be->main_bytes_read += E->row_bytes;
            if ((st = ga_dequantize(E->type, be->row_buf, be->row_f32, D, err))) return st;
            for (int64_t j = 0; j < D; j++) be->row_f32[j] *= op->scale;
        }
        if ((st = ga_backend_cpu.write(be->cpu, op->dst[0], (int64_t)i * D, D, be->row_f32, err))) return st;
    }
    return GA_OK;
}

/* op (one weight, in device memory) through the scratchpad: tile_rows rows of the weight
 * at a time copied into one half of it (the DMA), the matmul run on that copy, and its
 * outputs moved to their columns of op's destination unless the tile is the whole weight */
static ga_status sram_matmul(ga_backend *be, const ga_op_args *op, const ga_npu_tile_plan *plan, ga_error *err) {
    const ga_weight *W = op->w[0];
    const int64_t N = W->rows, tr = plan->tile_rows;
    if (op->nw != 1 || tr < 1 || (uint64_t)tr * W->row_bytes > be->sram_bytes / 2 || (tr < N && tr > be->max_rows))
        return ga_fail(err, GA_ERR_ARG, "backend npu: a matmul tile of %lld rows does not fit its plan", (long long)tr);
    if (plan->bytes > be->sram_peak) be->sram_peak = plan->bytes;
    for (int64_t r0 = 0, k = 0; r0 < N; r0 += tr, k++) {
        const int64_t n = N - r0 < tr ? N - r0 : tr;
        uint8_t *tile = be->sram + (k & 1) * (be->sram_bytes / 2);
        memcpy(tile, (const uint8_t *)W->data + (uint64_t)r0 * W->row_bytes, (size_t)n * W->row_bytes);
        be->sram_moved += (uint64_t)n * W->row_bytes;
        be->sram_tiles++;
        ga_weight t = *W;
        t.data = tile;
        t.rows = n;
        t.packed = NULL;
        ga_op_args a = *op;
        a.w[0] = &t;
        if (n == N) return ga_backend_cpu.run(be->cpu, &a, err);
        a.dst[0] = be->tile_out;
        ga_status st = ga_backend_cpu.run(be->cpu, &a, err);
        for (int i = 0; i < op->T && !st; i++)
            if (!(st = ga_backend_cpu.read(be->cpu, be->tile_out, (int64_t)i * n, n, be->tile_host, err)))
                st = ga_backend_cpu.write(be->cpu, op->dst[0], (int64_t)i * N + r0, n, be->tile_host, err);
        if (st) return st;
    }
    return GA_OK;
}

/* with mu held: no head tile is queued or being read (the scratchpad's halves are free) */
static void drop_head_reads_locked(ga_backend *be) {
    for (int b = B_HEAD0; b <= B_HEAD1; b++) {
        while (be->reading == b) pthread_cond_wait(&be->cv, &be->mu);
        int k = 0;
        while (k < be->n_queued && be->queue[k] != b) k++;
        if (k < be->n_queued) memmove(be->queue + k, be->queue + k + 1, (size_t)(--be->n_queued - k) * sizeof be->queue[0]);
        be->holds[b] = -1;
        be->ready[b] = 0;
    }
}

/* The output head, one tile of rows at a time, read by the prefetch thread straight into
 * the scratchpad's two halves (tile k + 2 into a half as soon as tile k is done with it),
 * into the caller's logits.  The head owns the scratchpad while it runs: its first reads
 * start here, and none is left in flight when it returns. */
static ga_status head_matmul(ga_backend *be, const ga_op_args *op, const ga_npu_tile_plan *plan, ga_error *err) {
    const ga_weight *H = op->w[0];
    if (op->nw != 1 || !H || H->data != be->head.data) return ga_fail(err, GA_ERR_ARG, "matmul: an unknown weight");
    if (op->dst[0] < 0 || op->dst[0] >= MAX_BUFS || be->kinds[op->dst[0]] != GA_MEM_OUTPUT || !be->output)
        return ga_fail(err, GA_ERR_ARG, "the output head writes the output buffer");
    if (plan->tile_rows != be->head_rows) return ga_fail(err, GA_ERR_ARG, "the output head's tiles are not its plan's");
    if (plan->bytes > be->sram_peak) be->sram_peak = plan->bytes;
    const int64_t V = H->rows;
    ga_status st = GA_OK;
    pthread_mutex_lock(&be->mu);
    request_locked(be, B_HEAD0, HEAD_ID);
    if (be->n_head_tiles > 1) request_locked(be, B_HEAD1, HEAD_ID + 1);
    pthread_mutex_unlock(&be->mu);
    for (int64_t k = 0; k < be->n_head_tiles && !st; k++) {
        const int b = B_HEAD0 + (int)(k & 1);
        const int64_t r0 = k * be->head_rows, n = V - r0 < be->head_rows ? V - r0 : be->head_rows;
        pthread_mutex_lock(&be->mu);
        const int failed = wait_locked(be, b, HEAD_ID + (int)k, err);
        pthread_mutex_unlock(&be->mu);
        if (failed) {
            st = GA_ERR_IO;
            break;
        }
        be->sram_moved += (uint64_t)n * H->row_bytes;
        be->sram_tiles++;
        ga_weight tile = *H;
        tile.data = be->buf[b];
        tile.rows = n;
        tile.packed = NULL;
        ga_op_args a = *op;
        a.w[0] = &tile;
        a.dst[0] = be->head_out;
        if ((st = ga_backend_cpu.run(be->cpu, &a, err))) break;
        if (k + 2 < be->n_head_tiles) { /* this half is free again: the tile after next */
            pthread_mutex_lock(&be->mu);
            request_locked(be, b, HEAD_ID + (int)k + 2);
            pthread_mutex_unlock(&be->mu);
        }
        /* the tile's [T][n] block into columns r0.. of the logits */
        for (int t = 0; t < op->T && !st; t++)
            st = ga_backend_cpu.read(be->cpu, be->head_out, (int64_t)t * n, n, be->output + (int64_t)t * V + r0, err);
    }
    pthread_mutex_lock(&be->mu);
    drop_head_reads_locked(be); /* after an error: nothing may write the scratchpad behind the next op */
    pthread_mutex_unlock(&be->mu);
    return st;
}

/* one op of a step, on the inner CPU backend: streamed weights swapped in for the file's,
 * a matmul's through the scratchpad by its plans (one per weight) */
static ga_status exec_op(ga_backend *be, const ga_op_args *op, const ga_npu_tile_plan *plans, ga_error *err) {
    if (op->op == GA_OP_GET_ROWS && op->T > 0) return get_rows(be, op, err);
    if (op->op != GA_OP_MATMUL || op->T == 0) {
        ga_op_args a = *op;
        a.norm = norm_copy(be, op->norm);
        a.norm2 = norm_copy(be, op->norm2);
        return ga_backend_cpu.run(be->cpu, &a, err);
    }
    if (op->layer < 0) return head_matmul(be, op, &plans[0], err);
    if (op->layer >= be->hp.n_layer || op->nw < 1 || op->nw > 3)
        return ga_fail(err, GA_ERR_ARG, "matmul: layer %d, %d weights", op->layer, op->nw);
    const int s = layer_slot(be, op->layer, err);
    if (s < 0) return GA_ERR_IO;
    ga_weight views[3];
    ga_op_args a = *op;
    a.w[1] = a.w[2] = NULL;
    a.dst[1] = a.dst[2] = 0;
    for (int i = 0; i < op->nw; i++) {
        const npu_weight *nw = NULL;
        for (int j = 0; j < N_LW && !nw; j++)
            if (op->w[i] && be->lw[op->layer][j].data && be->lw[op->layer][j].data == op->w[i]->data)
                nw = &be->lw[op->layer][j];
        if (!nw) return ga_fail(err, GA_ERR_ARG, "matmul: a weight that is not layer %d's", op->layer);
        views[i] = *op->w[i];
        views[i].data = be->buf[s] + nw->slot_off;
        views[i].packed = NULL;
    }
    for (int i = 0; i < op->nw; i++) {
        a.nw = 1;
        a.w[0] = &views[i];
        a.dst[0] = op->dst[i];
        const ga_status st = sram_matmul(be, &a, &plans[i], err);
        if (st) return st;
    }
    return GA_OK;
}

/* attention in the scratchpad's tiles (ga_npu_attention.h), each worker in its share */
static ga_status npu_attention(ga_backend *be, const ga_op_args *op, const ga_npu_attn_plan *plan, ga_error *err) {
    const ga_hparams *hp = &be->hp;
    if (op->layer < 0 || op->layer >= hp->n_layer || op->kv_layer < 0 || op->kv_layer >= hp->n_layer)
        return ga_fail(err, GA_ERR_ARG, "attention: layer %d reading layer %d", op->layer, op->kv_layer);
    const ga_layer_hparams *lh = &hp->layer[op->layer];
    if (op->src2 < 0 || op->src2 >= MAX_BUFS || be->kinds[op->src2] != GA_MEM_KV || !be->c || op->T != be->c->T)
        return ga_fail(err, GA_ERR_ARG, "attention: src2 is not a KV buffer, or outside its chunk");
    const int window = lh->swa ? hp->sliding_window : 0;
    ga_status st = ga_chunk_check_pages(be->c, op->kv_layer, be->kv_rows[op->src2] / GA_KV_PAGE, window, 1, err);
    if (st) return st;
    const ga_npu_attn_op a = {.bi = &ga_backend_cpu, .be = be->cpu, .q = op->src, .kv = op->src2, .out = op->dst[0],
                              .kv_rows = be->kv_rows[op->src2], .c = be->c, .kv_layer = op->kv_layer,
                              .window = window, .H = lh->n_head, .Hkv = lh->n_head_kv, .d = lh->head_dim,
                              .scale = hp->attn_scale, .softcap = hp->attn_softcap};
    ga_pool *pool = be->c->T == 1 ? be->pool_decode : be->pool;
    const int nth = ga_pool_size(pool);
    const uint64_t used = plan->bytes * (uint64_t)nth;
    if (used > be->sram_peak) be->sram_peak = used;
    return ga_npu_attention(&a, plan, pool, be->sram, be->sram_bytes / (uint64_t)nth, be->workers, be->partials,
                            be->max_split, &be->attn, err);
}

/* ------------------------------------------------------------ the executor */

/* The built-in executor: a compiled step for one chunk, op by op.  Row-wise ops run over
 * the step's rows; the KV store and attention over the chunk's tokens only, which masks
 * the padding out of the cache and out of every real row; the head over the gathered rows. */
static ga_status cpu_exec_run(void *ctx, const ga_npu_step *s, const ga_chunk *c, const ga_npu_gather *g,
                              ga_error *err) {
    ga_backend *be = ctx;
    for (int i = 0; i < s->n_ops; i++) {
        ga_op_args a = s->ops[i];
        if (i >= s->n_body && g->rows == 0) break; /* no logits wanted: the head does not run */
        const double t0 = now_s();
        ga_status st = GA_OK;
        if (i < s->n_body) {
            a.T = a.op == GA_OP_QK_ROPE_STORE || a.op == GA_OP_ATTENTION ? c->T : s->rows;
            st = a.op == GA_OP_ATTENTION ? npu_attention(be, &a, &s->attn[i], err)
                                         : exec_op(be, &a, &s->plans[i * 3], err);
        } else if (a.op == GA_OP_RMS_NORM) {
            for (int k = 0; k < g->n && !st; k++) {
                a.src_row0 = g->run[k].src_row0;
                a.dst_row0 = g->run[k].dst_row0;
                a.T = g->run[k].T;
                st = exec_op(be, &a, NULL, err);
            }
        } else {
            a.T = g->rows;
            st = exec_op(be, &a, &s->plans[i * 3], err);
        }
        be->op_s[a.op] += now_s() - t0;
        be->ops_run++;
        if (st) return st;
    }
    return GA_OK;
}

/* Every matmul's scratchpad layout, per step: the largest tiles that fit.  A scratchpad
 * too small for any op's smallest layout is refused, naming the op and the size that works. */
static ga_status cpu_exec_compile(void *ctx, ga_npu_step *steps, int n_steps, ga_error *err) {
    ga_backend *be = ctx;
    uint64_t worst = 0;
    const ga_op_args *worst_op = NULL;
    int worst_rows = 0;
    for (int k = 0; k < n_steps; k++) {
        ga_npu_step *s = &steps[k];
        for (int i = 0; i < s->n_ops; i++) {
            const ga_op_args *op = &s->ops[i];
            if (op->op == GA_OP_ATTENTION && op->layer >= 0 && op->layer < be->hp.n_layer) {
                /* a step of one token: every head's row at once (keys split across workers);
                 * else each kv head's group over the chunk's tokens */
                const ga_layer_hparams *lh = &be->hp.layer[op->layer];
                const int nth = ga_pool_size(s->rows == 1 ? be->pool_decode : be->pool);
                const int rows = s->rows == 1 ? lh->n_head : s->rows * (lh->n_head / lh->n_head_kv);
                uint64_t need = 0;
                ga_error ignored;
                if (ga_npu_plan_attention(be->sram_bytes / (uint64_t)nth, rows, lh->head_dim, be->p.n_ctx, &s->attn[i],
                                          &need, &ignored) && need * (uint64_t)nth > worst) {
                    worst = need * (uint64_t)nth;
                    worst_op = op;
                    worst_rows = s->rows;
                }
            }
            if (op->op != GA_OP_MATMUL) continue;
            for (int j = 0; j < op->nw && j < 3; j++) {
                const ga_weight *W = op->w[j];
                const int64_t rows = op->layer < 0 ? be->head_rows : W->rows;
                uint64_t need = 0;
                ga_error ignored;
                if (ga_npu_plan_matmul(be->sram_bytes, s->rows, rows, W->cols, W->row_bytes, &s->plans[i * 3 + j],
                                       &need, &ignored) && need > worst) {
                    worst = need;
                    worst_op = op;
                    worst_rows = s->rows;
                }
            }
        }
    }
    /* the decode plans are the ones load_weights sized the partials for */
    for (int k = 0; k < n_steps && !worst_op; k++)
        for (int i = 0; i < steps[k].n_ops; i++)
            if (steps[k].rows == 1 && steps[k].ops[i].op == GA_OP_ATTENTION &&
                (be->p.n_ctx + steps[k].attn[i].Bc - 1) / steps[k].attn[i].Bc > be->max_split)
                return ga_fail(err, GA_ERR_ARG, "backend npu: the decode attention's partials outgrow their plan");
    if (worst_op)
        return ga_fail(err, GA_ERR_DEVICE_MEMORY,
                       "the scratchpad (sram_bytes %.3f MiB) is too small: the %s %s over %d tokens needs "
                       "%.3f MiB for its smallest tiles, so the smallest scratchpad that works is %.3f MiB (or give "
                       "a shorter chunk)", mib(be->sram_bytes), worst_op->op == GA_OP_ATTENTION ? "layers'" : worst_op->layer < 0 ? "output head's" : "layers'",
                       worst_op->op == GA_OP_ATTENTION ? "attention" : "matmul", worst_rows, mib(worst), mib(worst));
    return GA_OK;
}

static const ga_npu_executor_i cpu_executor = {.name = "cpu-emulation", .compile = cpu_exec_compile,
                                               .run = cpu_exec_run};

/* ------------------------------------------------------------------- chunks */

static ga_status npu_compile_step(ga_backend *be, const ga_chunk *c, ga_error *err) {
    const int k = c->T == 1 && be->p.n_batch > 1 ? GA_NPU_DECODE : GA_NPU_PREFILL;
    if (be->n_compiled == be->n_steps || (c->T != 1 && c->T != be->p.n_batch) || be->steps[k].n_ops)
        return ga_fail(err, GA_ERR_ARG, "backend npu compiles its two steps once, at load");
    be->steps[k].rows = c->T;
    be->recording = k;
    return GA_OK;
}

static ga_status npu_begin_chunk(ga_backend *be, const ga_chunk *c, float *output, ga_error *err) {
    if (be->n_compiled != be->n_steps) return ga_fail(err, GA_ERR_ARG, "backend npu: its steps are not compiled");
    if (c->T < 1 || c->T > be->p.n_batch)
        return ga_fail(err, GA_ERR_ARG, "backend npu: a chunk of %d tokens (its steps take 1 to %d)", c->T,
                       be->p.n_batch);
    ga_status st = ga_backend_cpu.begin_chunk(be->cpu, c, output, err);
    if (st) return st;
    ga_npu_cursor_start(&be->cur, &be->steps[c->T == 1 && be->n_steps > 1 ? GA_NPU_DECODE : GA_NPU_PREFILL]);
    be->c = c;
    be->output = output;
    return GA_OK;
}

static ga_status npu_run(ga_backend *be, const ga_op_args *op, ga_error *err) {
    if (be->recording >= 0) return ga_npu_step_record(&be->steps[be->recording], op, err);
    if (!be->c) return ga_fail(err, GA_ERR_ARG, "backend npu: %s outside a chunk", ga_op_names[op->op]);
    /* page copies before a step (copy-on-write after a fork) are DMA, not part of a step */
    if (op->op == GA_OP_KV_COPY) return ga_backend_cpu.run(be->cpu, op, err);
    return ga_npu_cursor_take(&be->cur, op, be->c->T, err);
}

static ga_status npu_end_chunk(ga_backend *be, ga_error *err) {
    if (be->recording >= 0) {
        ga_npu_step *s = &be->steps[be->recording];
        be->recording = -1;
        ga_status st = ga_npu_step_seal(s, err);
        if (st) return st;
        if (++be->n_compiled == be->n_steps) return be->exec->compile(be, be->steps, be->n_steps, err);
        return GA_OK;
    }
    ga_status st = be->c ? ga_npu_cursor_finish(&be->cur, err) : GA_OK;
    if (!st && be->c) {
        const ga_npu_step *s = be->cur.step;
        const double t0 = now_s();
        st = be->exec->run(be, s, be->c, &be->cur.gather, err);
        be->exec_s += now_s() - t0;
        be->steps_run[s->rows == 1 && be->n_steps > 1 ? GA_NPU_DECODE : GA_NPU_PREFILL]++;
        be->padded_rows += s->rows - be->c->T;
    }
    be->c = NULL;
    be->output = NULL;
    ga_error end_err;
    const ga_status st_end = ga_backend_cpu.end_chunk(be->cpu, st ? &end_err : err);
    return st ? st : st_end;
}

static const ga_arena *npu_arena(const ga_backend *be) { return &be->arena; }

/* the first attention's plan of step k (all layers share a head size in the models we run) */
static ga_npu_attn_plan attn_plan(const ga_backend *be, int k) {
    const ga_npu_attn_plan none = {0, 0, 0};
    if (k >= be->n_steps) return none;
    const ga_npu_step *s = &be->steps[k];
    for (int i = 0; i < s->n_ops; i++)
        if (s->ops[i].op == GA_OP_ATTENTION) return s->attn[i];
    return none;
}

static int npu_stats(const ga_backend *be, const char **names, double *values, int cap) {
    ga_backend *m = (ga_backend *)be; /* the counters are read under the prefetch lock */
    pthread_mutex_lock(&m->mu);
    const struct { const char *name; double v; } all[] = {
        {"bytes_read", (double)(be->bytes_read + be->main_bytes_read)},
        {"read_s", be->read_s},
        {"wait_s", be->wait_s},
        {"reader_idle_s", be->idle_s},
        {"layers_read", (double)be->layers_read},
        {"head_tiles", (double)be->head_tiles},
        {"arena_used_bytes", (double)be->arena.used},
        {"budget_bytes", (double)be->p.budget_bytes},
        {"steps_compiled", (double)be->n_compiled},
        {"prefill_rows", (double)be->steps[GA_NPU_PREFILL].rows},
        {"prefill_ops", (double)be->steps[GA_NPU_PREFILL].n_ops},
        {"decode_ops", (double)(be->n_steps > 1 ? be->steps[GA_NPU_DECODE].n_ops : 0)},
        {"prefill_steps", (double)be->steps_run[GA_NPU_PREFILL]},
        {"decode_steps", (double)be->steps_run[GA_NPU_DECODE]},
        {"ops_run", (double)be->ops_run},
        {"padded_rows", (double)be->padded_rows},
        {"exec_s", be->exec_s},
        {"matmul_s", be->op_s[GA_OP_MATMUL]},
        {"attention_s", be->op_s[GA_OP_ATTENTION]},
        {"get_rows_s", be->op_s[GA_OP_GET_ROWS]},
        {"sram_bytes", (double)be->sram_bytes},
        {"sram_peak_bytes", (double)be->sram_peak},
        {"sram_bytes_moved", (double)(be->sram_moved + be->attn.bytes_moved)},
        {"sram_tiles", (double)be->sram_tiles},
        {"attention_bytes_moved", (double)be->attn.bytes_moved},
        {"attention_tiles", (double)be->attn.tiles},
        {"attention_splits", (double)be->attn.splits},
        {"prefill_attention_Br", (double)attn_plan(be, GA_NPU_PREFILL).Br},
        {"prefill_attention_Bc", (double)attn_plan(be, GA_NPU_PREFILL).Bc},
        {"decode_attention_Br", (double)attn_plan(be, GA_NPU_DECODE).Br},
        {"decode_attention_Bc", (double)attn_plan(be, GA_NPU_DECODE).Bc},
    };
    pthread_mutex_unlock(&m->mu);
    const int n = (int)(sizeof all / sizeof all[0]);
    for (int i = 0; i < n && i < cap; i++) {
        names[i] = all[i].name;
        values[i] = all[i].v;
    }
    return n;
}

const ga_backend_i ga_backend_npu = {
    .name = "npu",
    .init = npu_init,
    .free = npu_free,
    .supports = npu_supports,
    .alloc = npu_alloc,
    .write = npu_write,
    .read = npu_read,
    .load_weights = npu_load_weights,
    .begin_chunk = npu_begin_chunk,
    .run = npu_run,
    .end_chunk = npu_end_chunk,
    .reserved_bytes = npu_reserved,
    .arena = npu_arena,
    .stats = npu_stats,
    .compile_step = npu_compile_step,
};
