/* py_model.c - _core.Model (the forward pass over caller-owned weight buffers)
 * and _core.Sampler.
 *
 * Model(hparams: dict, weights: dict, n_ctx, n_batch, n_threads)
 *   hparams: the ga_hparams fields by name, layer_swa a sequence of bools; the per-layer
 *            fields (n_head, n_head_kv, head_dim, n_ff, rope_base, rope_freq_scale) as
 *            scalars, each overridable per layer by a "layer_<field>" list (and
 *            "layer_kv_from" for KV sharing).
 *   weights: "token_embd", "output", "blk.N.attn_q", ... -> (buffer, type_id, rows, cols);
 *            norms ("output_norm", "blk.N.attn_norm", ...) -> float32 buffers.
 * The model holds a buffer view on every weight, so the mapped file outlives it.
 */
#include "py_common.h"
#include "ga_model.h"
#include "ga_sampler.h"
#include "ga_types.h"

/* ------------------------------------------------------------------ Sampler */

typedef struct {
    PyObject_HEAD
    ga_sampler s;
    int ready;
} SamplerObject;

static int Sampler_init(SamplerObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"n_vocab", "temperature", "top_k", "top_p", "min_p", "repeat_penalty",
                             "repeat_last_n", "seed", NULL};
    ga_sampler_params p = {0};
    int n_vocab;
    unsigned long long seed;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "ififffiK", kwlist, &n_vocab, &p.temperature, &p.top_k,
                                     &p.top_p, &p.min_p, &p.repeat_penalty, &p.repeat_last_n, &seed))
        return -1;
    if (self->ready) ga_sampler_free(&self->s);
    ga_error err;
    ga_status st = ga_sampler_init(&self->s, &p, seed, n_vocab, &err);
    if (st) { ga_py_raise(st, &err, NULL); return -1; }
    self->ready = 1;
    return 0;
}

static void Sampler_dealloc(SamplerObject *self) {
    if (self->ready) ga_sampler_free(&self->s);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Sampler_accept(SamplerObject *self, PyObject *arg) {
    PyArrayObject *ids = (PyArrayObject *)PyArray_FROMANY(arg, NPY_INT64, 0, 1, NPY_ARRAY_CARRAY_RO);
    if (!ids) return NULL;
    const int64_t *p = PyArray_DATA(ids);
    for (npy_intp i = 0; i < PyArray_SIZE(ids); i++)
        if (p[i] >= 0 && p[i] <= INT32_MAX) ga_sampler_accept(&self->s, (int32_t)p[i]);
    Py_DECREF(ids);
    Py_RETURN_NONE;
}

static PyMethodDef Sampler_methods[] = {
    {"accept", (PyCFunction)Sampler_accept, METH_O,
     "accept(ids)\n--\n\nRecord tokens in the repetition-penalty history."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject SamplerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "gemma_accel._core.Sampler",
    .tp_basicsize = sizeof(SamplerObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Sampler(n_vocab, temperature, top_k, top_p, min_p, repeat_penalty, repeat_last_n, seed)",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Sampler_init,
    .tp_dealloc = (destructor)Sampler_dealloc,
    .tp_methods = Sampler_methods,
};

/* -------------------------------------------------------------------- Model */

typedef struct {
    PyObject_HEAD
    ga_model *model;
    Py_buffer *views;
    int n_views, cap_views;
    float *last_logits; /* logits of the last evaluated position */
    float *scratch;     /* a copy the sampler may modify */
    int has_logits;
    int n_vocab;
    /* Held (with the GIL released) by every call that uses the C model without the GIL;
     * close() takes it too, so memory is never freed under a running eval. */
    PyThread_type_lock call_lock;
} ModelObject;

static void release_views(ModelObject *self) {
    for (int i = 0; i < self->n_views; i++) PyBuffer_Release(&self->views[i]);
    PyMem_Free(self->views);
    self->views = NULL;
    self->n_views = self->cap_views = 0;
}

static void model_close(ModelObject *self) {
    ga_model_free(self->model);
    self->model = NULL;
    release_views(self);
    PyMem_Free(self->last_logits);
    PyMem_Free(self->scratch);
    self->last_logits = self->scratch = NULL;
    self->has_logits = 0;
}

static Py_buffer *new_view(ModelObject *self) {
    if (self->n_views == self->cap_views) {
        int cap = self->cap_views ? self->cap_views * 2 : 64;
        Py_buffer *v = PyMem_Realloc(self->views, (size_t)cap * sizeof(Py_buffer));
        if (!v) { PyErr_NoMemory(); return NULL; }
        self->views = v;
        self->cap_views = cap;
    }
    return &self->views[self->n_views];
}

static PyObject *get_item(PyObject *dict, const char *name, int required) {
    PyObject *item = PyDict_GetItemString(dict, name);
    if (!item && required) PyErr_Format(ga_py_ModelFormatError, "missing tensor %s.weight", name);
    return item;
}

static int get_matrix(ModelObject *self, PyObject *weights, const char *name, ga_weight *out) {
    PyObject *item = get_item(weights, name, 1), *buf;
    if (!item) return -1;
    int type;
    long long rows, cols;
    if (!PyArg_ParseTuple(item, "OiLL", &buf, &type, &rows, &cols)) return -1;
    ga_error err;
    uint64_t row_bytes;
    if (rows < 1 || cols < 1) { PyErr_Format(PyExc_ValueError, "%s: empty matrix", name); return -1; }
    ga_status st = ga_type_nbytes(type, (uint64_t)cols, &row_bytes, &err);
    if (st) { ga_py_raise(st, &err, name); return -1; }
    Py_buffer *view = new_view(self);
    if (!view || PyObject_GetBuffer(buf, view, PyBUF_SIMPLE) < 0) return -1;
    self->n_views++;
    if ((uint64_t)view->len / row_bytes < (uint64_t)rows || (uint64_t)view->len != row_bytes * (uint64_t)rows) {
        PyErr_Format(ga_py_ModelFormatError, "%s: buffer holds %zd bytes, %lld rows of %llu bytes expected", name,
                     view->len, rows, (unsigned long long)row_bytes);
        return -1;
    }
    *out = (ga_weight){.data = view->buf, .type = type, .rows = rows, .cols = cols, .row_bytes = row_bytes};
    return 0;
}

static int get_vector(ModelObject *self, PyObject *weights, const char *name, int64_t n, int required,
                      const float **out) {
    PyObject *item = get_item(weights, name, required);
    *out = NULL;
    if (!item) return required ? -1 : 0;
    Py_buffer *view = new_view(self);
    if (!view || PyObject_GetBuffer(item, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) return -1;
    self->n_views++;
    if (!view->format || strcmp(view->format, "f") != 0 || view->len != n * (Py_ssize_t)sizeof(float) ||
        ((uintptr_t)view->buf % sizeof(float)) != 0) {
        PyErr_Format(ga_py_ModelFormatError, "%s: expected %lld aligned float32 values", name, (long long)n);
        return -1;
    }
    *out = view->buf;
    return 0;
}

#define HP_INT(field) { #field, 'i', offsetof(ga_hparams, field) }
#define HP_FLOAT(field) { #field, 'f', offsetof(ga_hparams, field) }
static const struct { const char *name; char kind; size_t offset; } HP_FIELDS[] = {
    HP_INT(arch), HP_INT(n_layer), HP_INT(n_embd), HP_INT(n_vocab), HP_FLOAT(norm_eps),
    HP_INT(rope_neox), HP_INT(sliding_window), HP_FLOAT(attn_scale), HP_FLOAT(attn_softcap),
    HP_FLOAT(final_softcap), HP_INT(embed_scale), HP_INT(act_gelu), HP_INT(post_norms), HP_INT(qk_norm),
};

/* One number from the dict: kind 'i' into *(int *)dst, 'f' into *(float *)dst. */
static int parse_number(PyObject *v, const char *name, char kind, void *dst) {
    if (kind == 'i') {
        long x = PyLong_AsLong(v);
        if (x == -1 && PyErr_Occurred()) return -1;
        if (x < INT32_MIN || x > INT32_MAX) {
            PyErr_Format(PyExc_ValueError, "hparams: %s out of range", name);
            return -1;
        }
        *(int *)dst = (int)x;
    } else {
        double x = PyFloat_AsDouble(v);
        if (x == -1.0 && PyErr_Occurred()) return -1;
        *(float *)dst = (float)x;
    }
    return 0;
}

/* The per-layer fields: a scalar key (the value of every layer; for the RoPE fields, of the
 * full-attention layers, with "<key>_swa" for the sliding ones), and an optional
 * "layer_<key>" list of one value per layer that overrides it. */
#define LH_INT(field) { #field, 'i', offsetof(ga_layer_hparams, field) }
#define LH_FLOAT(field) { #field, 'f', offsetof(ga_layer_hparams, field) }
static const struct { const char *name; char kind; size_t offset; } LH_FIELDS[] = {
    LH_INT(n_head), LH_INT(n_head_kv), LH_INT(head_dim), LH_INT(n_ff),
    LH_FLOAT(rope_base), LH_FLOAT(rope_freq_scale), LH_INT(kv_from), LH_INT(swa),
};

static int parse_layer_list(PyObject *dict, const char *key, int n_layer, char kind, size_t offset, ga_hparams *hp) {
    PyObject *list = PyDict_GetItemString(dict, key);
    if (!list) return 0;
    PyObject *seq = PySequence_Fast(list, "per-layer hparams must be sequences");
    if (!seq) return -1;
    if (PySequence_Fast_GET_SIZE(seq) != n_layer) {
        Py_DECREF(seq);
        PyErr_Format(PyExc_ValueError, "hparams: %s needs one entry per layer (%d)", key, n_layer);
        return -1;
    }
    for (int l = 0; l < n_layer; l++) {
        PyObject *item = PySequence_Fast_GET_ITEM(seq, l);
        if (kind == 'b') {
            int t = PyObject_IsTrue(item);
            if (t < 0) { Py_DECREF(seq); return -1; }
            *(int *)((char *)&hp->layer[l] + offset) = t;
        } else if (parse_number(item, key, kind, (char *)&hp->layer[l] + offset) < 0) {
            Py_DECREF(seq);
            return -1;
        }
    }
    Py_DECREF(seq);
    return 0;
}

int ga_py_parse_hparams(PyObject *dict, void *out) {
    ga_hparams *hp = out;
    memset(hp, 0, sizeof *hp);
    for (size_t i = 0; i < sizeof HP_FIELDS / sizeof HP_FIELDS[0]; i++) {
        PyObject *v = PyDict_GetItemString(dict, HP_FIELDS[i].name);
        if (!v) { PyErr_Format(ga_py_ModelFormatError, "hparams: missing %s", HP_FIELDS[i].name); return -1; }
        if (parse_number(v, HP_FIELDS[i].name, HP_FIELDS[i].kind, (char *)hp + HP_FIELDS[i].offset) < 0) return -1;
    }
    if (hp->n_layer < 1 || hp->n_layer > GA_MAX_LAYERS) {
        PyErr_Format(PyExc_ValueError, "hparams: n_layer %d outside 1..%d", hp->n_layer, GA_MAX_LAYERS);
        return -1;
    }
    if (!PyDict_GetItemString(dict, "layer_swa")) {
        PyErr_SetString(ga_py_ModelFormatError, "hparams: missing layer_swa");
        return -1;
    }
    if (parse_layer_list(dict, "layer_swa", hp->n_layer, 'b', offsetof(ga_layer_hparams, swa), hp) < 0) return -1;
    for (int l = 0; l < hp->n_layer; l++) hp->layer[l].kv_from = l;
    for (size_t i = 0; i < sizeof LH_FIELDS / sizeof LH_FIELDS[0]; i++) {
        const char *name = LH_FIELDS[i].name;
        char key[64];
        if (strcmp(name, "kv_from") != 0 && strcmp(name, "swa") != 0) {
            PyObject *v = PyDict_GetItemString(dict, name);
            if (!v) { PyErr_Format(ga_py_ModelFormatError, "hparams: missing %s", name); return -1; }
            snprintf(key, sizeof key, "%s_swa", name);
            PyObject *v_swa = PyDict_GetItemString(dict, key);
            for (int l = 0; l < hp->n_layer; l++) {
                PyObject *src = hp->layer[l].swa && v_swa ? v_swa : v;
                if (parse_number(src, name, LH_FIELDS[i].kind, (char *)&hp->layer[l] + LH_FIELDS[i].offset) < 0)
                    return -1;
            }
        }
        snprintf(key, sizeof key, "layer_%s", name);
        if (strcmp(name, "swa") != 0 &&
            parse_layer_list(dict, key, hp->n_layer, LH_FIELDS[i].kind, LH_FIELDS[i].offset, hp) < 0)
            return -1;
    }
    return 0;
}

static int parse_weights(ModelObject *self, PyObject *weights, const ga_hparams *hp, ga_weights *w) {
    char name[64];
    const int64_t D = hp->n_embd;
    memset(w, 0, sizeof *w);
    if (get_matrix(self, weights, "token_embd", &w->tok_embd) < 0) return -1;
    if (get_item(weights, "output", 0)) {
        if (get_matrix(self, weights, "output", &w->output) < 0) return -1;
    } else {
        w->output = w->tok_embd; /* tied */
    }
    if (get_vector(self, weights, "output_norm", D, 1, &w->output_norm) < 0) return -1;
    static const char *mats[] = {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"};
    for (int l = 0; l < hp->n_layer; l++) {
        ga_layer_weights *L = &w->layers[l];
        const int64_t d = hp->layer[l].head_dim;
        ga_weight *dst[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->gate, &L->up, &L->down};
        for (int i = 0; i < 7; i++) {
            snprintf(name, sizeof name, "blk.%d.%s", l, mats[i]);
            /* a layer reading another layer's KV has no k and v of its own to run */
            if ((i == 1 || i == 2) && hp->layer[l].kv_from != l && !get_item(weights, name, 0)) continue;
            if (get_matrix(self, weights, name, dst[i]) < 0) return -1;
        }
        struct { const char *suffix; int64_t n; int required; const float **out; } vecs[] = {
            {"attn_norm", D, 1, &L->attn_norm},
            {"ffn_norm", D, 1, &L->ffn_norm},
            {"post_attention_norm", D, hp->post_norms, &L->post_attn_norm},
            {"post_ffw_norm", D, hp->post_norms, &L->post_ffw_norm},
            {"attn_q_norm", d, hp->qk_norm, &L->q_norm},
            {"attn_k_norm", d, hp->qk_norm, &L->k_norm},
        };
        for (size_t i = 0; i < sizeof vecs / sizeof vecs[0]; i++) {
            snprintf(name, sizeof name, "blk.%d.%s", l, vecs[i].suffix);
            if (get_vector(self, weights, name, vecs[i].n, vecs[i].required, vecs[i].out) < 0) return -1;
        }
    }
    return 0;
}

static int check_open(ModelObject *self) {
    if (!self->model) { PyErr_SetString(ga_py_ModelClosedError, "the model is closed"); return -1; }
    return 0;
}

/* Starts a call that will use the C model: refuses a closed model, and a second call
 * while one runs on another thread (Python's Model gives calls their turns). */
static int enter_call(ModelObject *self) {
    if (check_open(self) < 0) return -1;
    if (!PyThread_acquire_lock(self->call_lock, NOWAIT_LOCK)) {
        PyErr_SetString(PyExc_RuntimeError, "the model is busy in a call on another thread");
        return -1;
    }
    return 0;
}

static void leave_call(ModelObject *self) { PyThread_release_lock(self->call_lock); }

/* Waits, without the GIL, for a call running on another thread, then frees the model. */
static void close_after_calls(ModelObject *self) {
    if (!self->call_lock) { model_close(self); return; }
    if (!PyThread_acquire_lock(self->call_lock, NOWAIT_LOCK)) {
        Py_BEGIN_ALLOW_THREADS
        PyThread_acquire_lock(self->call_lock, WAIT_LOCK);
        Py_END_ALLOW_THREADS
    }
    model_close(self);
    PyThread_release_lock(self->call_lock);
}

static int Model_init(ModelObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"hparams", "weights", "n_ctx", "n_batch", "n_threads", "act_bits", "n_seq", "backend",
                             "budget_bytes", "device", "sram_bytes", "align", NULL};
    PyObject *hp_dict, *weights;
    ga_model_params mp = {.act_bits = 16, .n_seq = 1, .backend = "cpu"};
    unsigned long long budget = 0, sram = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!O!iii|iisKiKi", kwlist, &PyDict_Type, &hp_dict, &PyDict_Type,
                                     &weights, &mp.n_ctx, &mp.n_batch, &mp.n_threads, &mp.act_bits, &mp.n_seq,
                                     &mp.backend, &budget, &mp.device, &sram, &mp.align))
        return -1;
    if (mp.align < 0 || (mp.align & (mp.align - 1))) {
        PyErr_Format(PyExc_ValueError, "align must be a power of two, got %d", mp.align);
        return -1;
    }
    mp.budget_bytes = budget;
    mp.sram_bytes = sram;
    if (!self->call_lock && !(self->call_lock = PyThread_allocate_lock())) {
        PyErr_NoMemory();
        return -1;
    }
    close_after_calls(self);
    ga_hparams hp;
    ga_weights *w = PyMem_Calloc(1, sizeof *w);
    if (!w) { PyErr_NoMemory(); return -1; }
    if (ga_py_parse_hparams(hp_dict, &hp) < 0 || parse_weights(self, weights, &hp, w) < 0) {
        PyMem_Free(w);
        release_views(self);
        return -1;
    }
    ga_error err;
    ga_status st;
    ga_model *model = NULL;
    Py_BEGIN_ALLOW_THREADS
    st = ga_model_new(&hp, w, &mp, &model, &err);
    Py_END_ALLOW_THREADS
    PyMem_Free(w);
    if (st) { release_views(self); ga_py_raise(st, &err, NULL); return -1; }
    self->model = model;
    self->n_vocab = hp.n_vocab;
    self->last_logits = PyMem_Calloc((size_t)hp.n_vocab, sizeof(float));
    self->scratch = PyMem_Calloc((size_t)hp.n_vocab, sizeof(float));
    if (!self->last_logits || !self->scratch) { model_close(self); PyErr_NoMemory(); return -1; }
    return 0;
}

static void Model_dealloc(ModelObject *self) {
    model_close(self);  /* no call can be running: each holds a reference to self */
    if (self->call_lock) PyThread_free_lock(self->call_lock);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* A fresh int32 array of token ids (ids outside int32 are refused, not wrapped). */
static PyArrayObject *as_token_array(PyObject *obj) {
    PyArrayObject *wide = (PyArrayObject *)PyArray_FROMANY(obj, NPY_INT64, 1, 1, NPY_ARRAY_CARRAY_RO);
    if (!wide) return NULL;
    npy_intp n = PyArray_SIZE(wide);
    if (n < 1) {
        Py_DECREF(wide);
        PyErr_SetString(PyExc_ValueError, "need at least one token");
        return NULL;
    }
    PyArrayObject *ids = (PyArrayObject *)PyArray_SimpleNew(1, &n, NPY_INT32);
    if (!ids) { Py_DECREF(wide); return NULL; }
    const int64_t *src = PyArray_DATA(wide);
    int32_t *dst = PyArray_DATA(ids);
    for (npy_intp i = 0; i < n; i++) {
        if (src[i] < 0 || src[i] > INT32_MAX) {
            PyErr_Format(PyExc_ValueError, "token id %lld is outside the vocabulary", (long long)src[i]);
            Py_DECREF(wide); Py_DECREF(ids);
            return NULL;
        }
        dst[i] = (int32_t)src[i];
    }
    Py_DECREF(wide);
    return ids;
}

/* Model.eval with the call lock held. */
static PyObject *eval_locked(ModelObject *self, PyObject *tokens_obj, const char *mode) {
    int all = strcmp(mode, "all") == 0, none = strcmp(mode, "none") == 0;
    if (!all && !none && strcmp(mode, "last") != 0)
        return PyErr_Format(PyExc_ValueError, "logits must be 'last', 'all' or 'none', not '%s'", mode);
    PyArrayObject *tokens = as_token_array(tokens_obj);
    if (!tokens) return NULL;
    npy_intp n = PyArray_SIZE(tokens);
    PyArrayObject *out = NULL;
    float *dst = NULL;
    if (all) {
        npy_intp dims[2] = {n, self->n_vocab};
        out = (PyArrayObject *)PyArray_SimpleNew(2, dims, NPY_FLOAT32);
        if (!out) { Py_DECREF(tokens); return NULL; }
        dst = PyArray_DATA(out);
    } else if (!none) {
        dst = self->last_logits;
    }
    ga_error err;
    ga_status st;
    const int32_t *ids = PyArray_DATA(tokens);
    Py_BEGIN_ALLOW_THREADS
    st = ga_model_eval(self->model, ids, (int)n, dst, all, &err);
    Py_END_ALLOW_THREADS
    Py_DECREF(tokens);
    if (st) { Py_XDECREF(out); return ga_py_raise(st, &err, NULL); }
    if (all) {
        memcpy(self->last_logits, dst + (n - 1) * self->n_vocab, (size_t)self->n_vocab * sizeof(float));
        self->has_logits = 1;
        return (PyObject *)out;
    }
    if (none) { self->has_logits = 0; Py_RETURN_NONE; }
    self->has_logits = 1;
    npy_intp dims[1] = {self->n_vocab};
    out = (PyArrayObject *)PyArray_SimpleNew(1, dims, NPY_FLOAT32);
    if (!out) return NULL;
    memcpy(PyArray_DATA(out), self->last_logits, (size_t)self->n_vocab * sizeof(float));
    return (PyObject *)out;
}

/* eval(tokens, logits="last"|"all"|"none") -> ndarray | None */
static PyObject *Model_eval(ModelObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"tokens", "logits", NULL};
    PyObject *tokens_obj;
    const char *mode = "last";
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|s", kwlist, &tokens_obj, &mode)) return NULL;
    if (enter_call(self) < 0) return NULL;
    PyObject *res = eval_locked(self, tokens_obj, mode);
    leave_call(self);
    return res;
}

static int32_t sample_last(ModelObject *self, SamplerObject *sampler) {
    const ga_sampler_params *p = &sampler->s.p;
    /* greedy without a repetition penalty only reads the logits: no 1 MB copy per token */
    if (p->temperature <= 0.0f && (p->repeat_penalty == 1.0f || p->repeat_last_n <= 0))
        return ga_sampler_sample(&sampler->s, self->last_logits);
    memcpy(self->scratch, self->last_logits, (size_t)self->n_vocab * sizeof(float));
    return ga_sampler_sample(&sampler->s, self->scratch);
}

static int check_sampler(ModelObject *self, PyObject *obj) {
    if (!PyObject_TypeCheck(obj, &SamplerType) || !((SamplerObject *)obj)->ready) {
        PyErr_SetString(PyExc_TypeError, "expected an initialized _core.Sampler");
        return -1;
    }
    if (((SamplerObject *)obj)->s.n_vocab != self->n_vocab) {
        PyErr_SetString(PyExc_ValueError, "the sampler was made for another vocabulary size");
        return -1;
    }
    return 0;
}

/* sample(sampler) -> int: the next token from the last evaluated position */
static PyObject *Model_sample(ModelObject *self, PyObject *sampler) {
    if (check_open(self) < 0 || check_sampler(self, sampler) < 0) return NULL;
    if (!self->has_logits) return PyErr_Format(PyExc_RuntimeError, "no logits: evaluate tokens first");
    if (enter_call(self) < 0) return NULL;
    int32_t tok;
    Py_BEGIN_ALLOW_THREADS
    tok = sample_last(self, (SamplerObject *)sampler);
    Py_END_ALLOW_THREADS
    leave_call(self);
    return PyLong_FromLong(tok);
}

/* step(token, sampler) -> int: feed one token, sample the next (one call per generated token) */
static PyObject *Model_step(ModelObject *self, PyObject *args) {
    int token;
    PyObject *sampler;
    if (!PyArg_ParseTuple(args, "iO", &token, &sampler)) return NULL;
    if (check_open(self) < 0 || check_sampler(self, sampler) < 0 || enter_call(self) < 0) return NULL;
    ga_error err;
    ga_status st;
    int32_t next = -1, tok = token;
    SamplerObject *s = (SamplerObject *)sampler;
    Py_BEGIN_ALLOW_THREADS
    st = ga_model_eval(self->model, &tok, 1, self->last_logits, 0, &err);
    if (st == GA_OK) {
        ga_sampler_accept(&s->s, tok);
        next = sample_last(self, s);
    }
    Py_END_ALLOW_THREADS
    leave_call(self);
    if (st) { self->has_logits = 0; return ga_py_raise(st, &err, NULL); }
    self->has_logits = 1;
    return PyLong_FromLong(next);
}

/* A sequence id argument: a Python int in 0..n_seq-1 (the C model checks the range). */
static int seq_arg(PyObject *obj, int *seq) {
    long v = PyLong_AsLong(obj);
    if (v == -1 && PyErr_Occurred()) return -1;
    *seq = v < INT32_MIN ? INT32_MIN : v > INT32_MAX ? INT32_MAX : (int)v;
    return 0;
}

/* truncate(n, seq=0) */
static PyObject *Model_truncate(ModelObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"n", "seq", NULL};
    long n;
    int seq = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "l|i", kwlist, &n, &seq)) return NULL;
    if (enter_call(self) < 0) return NULL;
    ga_error err;
    ga_status st = n < 0 || n > INT32_MAX
        ? ga_fail(&err, GA_ERR_ARG, "cannot truncate to %ld: %d positions cached", n,
                  ga_model_seq_n_past(self->model, seq))
        : ga_model_seq_truncate(self->model, seq, (int)n, &err);
    if (st == GA_OK && seq == 0) self->has_logits = 0;
    leave_call(self);
    if (st) return ga_py_raise(st, &err, NULL);
    Py_RETURN_NONE;
}

/* keep_prefix(tokens, max_keep, seq=0) -> int: keep the longest cached prefix equal to tokens */
static PyObject *Model_keep_prefix(ModelObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"tokens", "max_keep", "seq", NULL};
    PyObject *tokens_obj;
    int max_keep, seq = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "Oi|i", kwlist, &tokens_obj, &max_keep, &seq)) return NULL;
    PyArrayObject *tokens = as_token_array(tokens_obj);
    if (!tokens) return NULL;
    if (enter_call(self) < 0) { Py_DECREF(tokens); return NULL; }
    ga_error err;
    int kept = 0;
    const npy_intp n = PyArray_SIZE(tokens);
    ga_status st = ga_model_seq_keep_prefix(self->model, seq, PyArray_DATA(tokens), n > INT32_MAX ? INT32_MAX : (int)n,
                                            max_keep, &kept, &err);
    if (seq == 0) self->has_logits = 0;
    leave_call(self);
    Py_DECREF(tokens);
    if (st) return ga_py_raise(st, &err, NULL);
    return PyLong_FromLong(kept);
}

/* fork(src, dst): dst shares src's cached positions */
static PyObject *Model_fork(ModelObject *self, PyObject *args) {
    int src, dst;
    if (!PyArg_ParseTuple(args, "ii", &src, &dst)) return NULL;
    if (enter_call(self) < 0) return NULL;
    ga_error err;
    ga_status st = ga_model_seq_fork(self->model, src, dst, &err);
    if (st == GA_OK && dst == 0) self->has_logits = 0;
    leave_call(self);
    if (st) return ga_py_raise(st, &err, NULL);
    Py_RETURN_NONE;
}

static PyObject *Model_seq_n_past(ModelObject *self, PyObject *arg) {
    int seq;
    if (seq_arg(arg, &seq) < 0 || check_open(self) < 0) return NULL;
    if (seq < 0 || seq >= ga_model_n_seq(self->model))
        return PyErr_Format(PyExc_ValueError, "sequence %d is outside 0..%d", seq, ga_model_n_seq(self->model) - 1);
    return PyLong_FromLong(ga_model_seq_n_past(self->model, seq));
}

static PyObject *Model_seq_max_rollback(ModelObject *self, PyObject *arg) {
    int seq;
    if (seq_arg(arg, &seq) < 0 || check_open(self) < 0) return NULL;
    if (seq < 0 || seq >= ga_model_n_seq(self->model))
        return PyErr_Format(PyExc_ValueError, "sequence %d is outside 0..%d", seq, ga_model_n_seq(self->model) - 1);
    return PyLong_FromLong(ga_model_seq_max_rollback(self->model, seq));
}

/* A fresh int32 array of n values from obj (each within int32). */
static PyArrayObject *as_int32_array(PyObject *obj, npy_intp n, const char *what) {
    PyArrayObject *wide = (PyArrayObject *)PyArray_FROMANY(obj, NPY_INT64, 1, 1, NPY_ARRAY_CARRAY_RO);
    if (!wide) return NULL;
    if (PyArray_SIZE(wide) != n) {
        Py_DECREF(wide);
        PyErr_Format(PyExc_ValueError, "%s needs one entry per token (%zd)", what, (Py_ssize_t)n);
        return NULL;
    }
    PyArrayObject *out = (PyArrayObject *)PyArray_SimpleNew(1, &n, NPY_INT32);
    if (!out) { Py_DECREF(wide); return NULL; }
    const int64_t *src = PyArray_DATA(wide);
    int32_t *dst = PyArray_DATA(out);
    for (npy_intp i = 0; i < n; i++) {
        if (src[i] < INT32_MIN || src[i] > INT32_MAX) {
            PyErr_Format(PyExc_ValueError, "%s %lld is out of range", what, (long long)src[i]);
            Py_DECREF(wide); Py_DECREF(out);
            return NULL;
        }
        dst[i] = (int32_t)src[i];
    }
    Py_DECREF(wide);
    return out;
}

/* eval_batch(tokens, seq, pos, logits=None) -> ndarray (rows asked, n_vocab): several
 * sequences in one forward pass; logits: per-token flags (None: none) */
static PyObject *Model_eval_batch(ModelObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"tokens", "seq", "pos", "logits", NULL};
    PyObject *tok_obj, *seq_obj, *pos_obj, *want_obj = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOO|O", kwlist, &tok_obj, &seq_obj, &pos_obj, &want_obj))
        return NULL;
    PyArrayObject *tokens = as_token_array(tok_obj), *seq = NULL, *pos = NULL, *want = NULL, *out = NULL;
    PyObject *res = NULL;
    if (!tokens) return NULL;
    const npy_intp n = PyArray_SIZE(tokens);
    if (n > INT32_MAX) { PyErr_SetString(PyExc_ValueError, "too many tokens"); goto done; }
    if (!(seq = as_int32_array(seq_obj, n, "seq")) || !(pos = as_int32_array(pos_obj, n, "pos"))) goto done;
    npy_intp rows = 0;
    if (want_obj != Py_None) {
        want = (PyArrayObject *)PyArray_FROMANY(want_obj, NPY_BOOL, 1, 1, NPY_ARRAY_CARRAY_RO);
        if (!want) goto done;
        if (PyArray_SIZE(want) != n) {
            PyErr_Format(PyExc_ValueError, "logits needs one flag per token (%zd)", (Py_ssize_t)n);
            goto done;
        }
        for (npy_intp i = 0; i < n; i++) rows += ((const npy_bool *)PyArray_DATA(want))[i] != 0;
    }
    npy_intp dims[2] = {rows, self->n_vocab};
    if (!(out = (PyArrayObject *)PyArray_SimpleNew(2, dims, NPY_FLOAT32))) goto done;
    if (enter_call(self) < 0) goto done;
    ga_batch b = {.n = (int)n, .tokens = PyArray_DATA(tokens), .pos = PyArray_DATA(pos), .seq = PyArray_DATA(seq),
                  .logits_out = want ? (const uint8_t *)PyArray_DATA(want) : NULL};
    ga_error err;
    ga_status st;
    float *dst = PyArray_DATA(out);
    Py_BEGIN_ALLOW_THREADS
    st = ga_model_eval_batch(self->model, &b, dst, &err);
    Py_END_ALLOW_THREADS
    self->has_logits = 0;
    leave_call(self);
    if (st) { ga_py_raise(st, &err, NULL); goto done; }
    res = (PyObject *)out;
    out = NULL;
done:
    Py_XDECREF(tokens); Py_XDECREF(seq); Py_XDECREF(pos); Py_XDECREF(want); Py_XDECREF(out);
    return res;
}

/* profile(reset=False) -> None (GA_PROFILE unset) or {"tokens": n, "ops": {name: seconds}} */
static PyObject *Model_profile(ModelObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"reset", NULL};
    int reset = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|p", kwlist, &reset)) return NULL;
    if (check_open(self) < 0) return NULL;
    const char *names[32];
    double secs[32];
    int64_t tokens = 0;
    int n = ga_model_profile(self->model, names, secs, 32, &tokens, reset);
    if (n == 0) Py_RETURN_NONE;
    PyObject *ops = PyDict_New();
    if (!ops) return NULL;
    for (int i = 0; i < n && i < 32; i++) {
        PyObject *v = PyFloat_FromDouble(secs[i]);
        if (!v || PyDict_SetItemString(ops, names[i], v) < 0) { Py_XDECREF(v); Py_DECREF(ops); return NULL; }
        Py_DECREF(v);
    }
    PyObject *out = Py_BuildValue("{s:L,s:N}", "tokens", (long long)tokens, "ops", ops);
    return out;
}

static PyObject *Model_close(ModelObject *self, PyObject *noargs) {
    (void)noargs;
    close_after_calls(self);
    Py_RETURN_NONE;
}

static PyObject *Model_get_n_past(ModelObject *self, void *c) {
    (void)c;
    if (check_open(self) < 0) return NULL;
    return PyLong_FromLong(ga_model_n_past(self->model));
}
static PyObject *Model_get_n_ctx(ModelObject *self, void *c) {
    (void)c;
    if (check_open(self) < 0) return NULL;
    return PyLong_FromLong(ga_model_n_ctx(self->model));
}
static PyObject *Model_get_max_rollback(ModelObject *self, void *c) {
    (void)c;
    if (check_open(self) < 0) return NULL;
    return PyLong_FromLong(ga_model_max_rollback(self->model));
}
static PyObject *Model_get_n_batch(ModelObject *self, void *c) {
    (void)c;
    if (check_open(self) < 0) return NULL;
    return PyLong_FromLong(ga_model_n_batch(self->model));
}
static PyObject *Model_get_reserved(ModelObject *self, void *c) {
    (void)c;
    if (check_open(self) < 0) return NULL;
    return PyLong_FromUnsignedLongLong(ga_model_reserved_bytes(self->model));
}
/* memory_plan() -> None, or {"budget": bytes, "used": bytes, "regions": [(name, offset, bytes), ...]} */
static PyObject *Model_memory_plan(ModelObject *self, PyObject *noargs) {
    (void)noargs;
    if (check_open(self) < 0) return NULL;
    uint64_t budget = 0;
    const ga_arena *a = ga_model_arena(self->model, &budget);
    if (!a) Py_RETURN_NONE;
    PyObject *regions = PyList_New(0);
    if (!regions) return NULL;
    for (int i = 0; i < a->n_regions; i++) {
        PyObject *r = Py_BuildValue("(sKK)", a->regions[i].name, (unsigned long long)a->regions[i].offset,
                                    (unsigned long long)a->regions[i].bytes);
        if (!r || PyList_Append(regions, r) < 0) { Py_XDECREF(r); Py_DECREF(regions); return NULL; }
        Py_DECREF(r);
    }
    return Py_BuildValue("{sKsKsN}", "budget", (unsigned long long)budget, "used", (unsigned long long)a->used,
                         "regions", regions);
}

/* backend_stats() -> {name: value} (empty for a backend without counters) */
static PyObject *Model_backend_stats(ModelObject *self, PyObject *noargs) {
    (void)noargs;
    if (check_open(self) < 0) return NULL;
    const char *names[64];
    double values[64];
    const int n = ga_model_backend_stats(self->model, names, values, 64);
    PyObject *d = PyDict_New();
    for (int i = 0; d && i < n && i < 64; i++) {
        PyObject *v = PyFloat_FromDouble(values[i]);
        if (!v || PyDict_SetItemString(d, names[i], v) < 0) { Py_XDECREF(v); Py_DECREF(d); return NULL; }
        Py_DECREF(v);
    }
    return d;
}

static PyObject *Model_get_n_seq(ModelObject *self, void *c) {
    (void)c;
    if (check_open(self) < 0) return NULL;
    return PyLong_FromLong(ga_model_n_seq(self->model));
}
static PyObject *Model_get_backend(ModelObject *self, void *c) {
    (void)c;
    if (check_open(self) < 0) return NULL;
    return PyUnicode_FromString(ga_model_backend(self->model));
}
static PyObject *Model_get_fallback(ModelObject *self, void *c) {
    (void)c;
    if (check_open(self) < 0) return NULL;
    const char *why = ga_model_fallback(self->model);
    if (!*why) Py_RETURN_NONE;
    return PyUnicode_DecodeUTF8(why, (Py_ssize_t)strlen(why), "replace");
}
static PyObject *Model_get_closed(ModelObject *self, void *c) {
    (void)c;
    return PyBool_FromLong(self->model == NULL);
}

static PyMethodDef Model_methods[] = {
    {"eval", (PyCFunction)(void (*)(void))Model_eval, METH_VARARGS | METH_KEYWORDS,
     "eval(tokens, logits='last')\n--\n\nRun tokens after the cached ones; return the last row of logits, "
     "all rows (logits='all') or None."},
    {"sample", (PyCFunction)Model_sample, METH_O,
     "sample(sampler)\n--\n\nSample the next token from the last evaluated position."},
    {"step", (PyCFunction)Model_step, METH_VARARGS,
     "step(token, sampler)\n--\n\nEvaluate one token and sample the next."},
    {"truncate", (PyCFunction)(void (*)(void))Model_truncate, METH_VARARGS | METH_KEYWORDS,
     "truncate(n, seq=0)\n--\n\nForget sequence seq's cached positions from n on."},
    {"keep_prefix", (PyCFunction)(void (*)(void))Model_keep_prefix, METH_VARARGS | METH_KEYWORDS,
     "keep_prefix(tokens, max_keep, seq=0)\n--\n\nKeep the longest cached prefix equal to tokens (at most max_keep, "
     "none if the sliding window forbids the cut), forget the rest; returns its length."},
    {"fork", (PyCFunction)Model_fork, METH_VARARGS,
     "fork(src, dst)\n--\n\nSequence dst becomes a copy of src, sharing its KV pages."},
    {"seq_n_past", (PyCFunction)Model_seq_n_past, METH_O, "seq_n_past(seq)\n--\n\nPositions sequence seq has cached."},
    {"seq_max_rollback", (PyCFunction)Model_seq_max_rollback, METH_O,
     "seq_max_rollback(seq)\n--\n\nHow many of sequence seq's positions truncate() may forget."},
    {"eval_batch", (PyCFunction)(void (*)(void))Model_eval_batch, METH_VARARGS | METH_KEYWORDS,
     "eval_batch(tokens, seq, pos, logits=None)\n--\n\nRun tokens of several sequences (ids seq, positions pos) in "
     "one forward pass; returns the logits of the tokens flagged in logits, in order."},
    {"profile", (PyCFunction)(void (*)(void))Model_profile, METH_VARARGS | METH_KEYWORDS,
     "profile(reset=False)\n--\n\nSeconds per op kind and tokens since the last reset (None unless GA_PROFILE=1 "
     "was set when the model was created)."},
    {"memory_plan", (PyCFunction)Model_memory_plan, METH_NOARGS,
     "memory_plan()\n--\n\nThe backend's arena (backend 'npu'): its budget, the bytes used, and its regions "
     "(name, offset, bytes); None for a backend without one."},
    {"backend_stats", (PyCFunction)Model_backend_stats, METH_NOARGS,
     "backend_stats()\n--\n\nThe backend's counters (backend 'npu': bytes read, seconds reading and waiting, "
     "layers read, head tiles); empty for a backend without them."},
    {"close", (PyCFunction)Model_close, METH_NOARGS, "close()\n--\n\nFree the KV cache and release the weights."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Model_getset[] = {
    {"n_past", (getter)Model_get_n_past, NULL, "positions in the KV cache", NULL},
    {"n_ctx", (getter)Model_get_n_ctx, NULL, "KV-cache capacity", NULL},
    {"n_batch", (getter)Model_get_n_batch, NULL, "most tokens per forward chunk", NULL},
    {"max_rollback", (getter)Model_get_max_rollback, NULL,
     "how many cached positions truncate() may forget (a wrapped sliding-window ring limits it)", NULL},
    {"reserved_bytes", (getter)Model_get_reserved, NULL, "bytes reserved for KV cache and scratch", NULL},
    {"n_seq", (getter)Model_get_n_seq, NULL, "sequences the KV cache holds", NULL},
    {"backend", (getter)Model_get_backend, NULL, "the backend the model runs on", NULL},
    {"fallback", (getter)Model_get_fallback, NULL,
     "why the model runs on the CPU instead of the backend asked for, or None", NULL},
    {"closed", (getter)Model_get_closed, NULL, "True after close()", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject ModelType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "gemma_accel._core.Model",
    .tp_basicsize = sizeof(ModelObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Model(hparams, weights, n_ctx, n_batch, n_threads, act_bits=16, n_seq=1, backend='cpu', budget_bytes=0, "
               "device=0, sram_bytes=0, align=0): "
               "the C forward pass.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Model_init,
    .tp_dealloc = (destructor)Model_dealloc,
    .tp_methods = Model_methods,
    .tp_getset = Model_getset,
};

int ga_py_add_model(PyObject *m) {
    if (PyType_Ready(&SamplerType) < 0 || PyType_Ready(&ModelType) < 0) return -1;
    if (PyModule_AddObjectRef(m, "Sampler", (PyObject *)&SamplerType) < 0) return -1;
    if (PyModule_AddObjectRef(m, "Model", (PyObject *)&ModelType) < 0) return -1;
    return 0;
}
