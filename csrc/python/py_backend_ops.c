/* py_backend_ops.c - _core.OpRunner: one backend's ops, one at a time, on NumPy data.
 *
 * The harness of tests/test_backend_ops.py (in the way of ggml's test-backend-ops):
 * it makes a backend for a model shape, hands out its buffers, sets up a chunk of
 * tokens with KV pages of its own, runs single ops and reads the results back, so
 * the same op can be compared across backends and kernel sets.
 *
 *   r = OpRunner(hparams, backend="cpu", n_ctx=512, n_seq=2, n_batch=64, n_threads=2, act_bits=16)
 *   b = r.alloc("act" | "kv" | "output", rows, width, layer=-1)
 *   r.write(b, floats, offset=0); r.read(b, n, offset=0) -> float32 array
 *   r.chunk(tokens, pos, seq) -> [(layer, page_src, page_dst)]   (pages for the chunk: ga_kv_prepare)
 *   r.load([(buffer, type, rows, cols), ...])   up to 8 weights, once: the backend loads them its way
 *   r.run(op, output=None, **fields)   fields as in ga_op_args; weights as indices into load()'s list
 *   r.pages(seq, layer) -> list of page indices; r.fork(src, dst)
 */
#include "py_common.h"
#include "ga_backend.h"
#include "ga_kv.h"
#include "ga_types.h"
#include "ga_vk.h"

typedef struct {
    PyObject_HEAD
    const ga_backend_i *bi;
    ga_backend *be;
    ga_hparams hp;
    ga_kv kv;
    int kv_ready;
    int n_batch;
    ga_chunk chunk;
    int32_t *tokens, *pos, *seq; /* the chunk's arrays, n_batch each */
    ga_weights *w;               /* load()'s weights: the output head's slot, then layer 0's seven */
    Py_buffer views[8];
    int n_loaded;
} OpRunnerObject;

#define MAX_LOADED 8

static ga_weight *slot(OpRunnerObject *self, int i) {
    ga_layer_weights *L = &self->w->layers[0];
    ga_weight *slots[MAX_LOADED] = {&self->w->output, &L->wq, &L->wk, &L->wv, &L->wo, &L->gate, &L->up, &L->down};
    return i >= 0 && i < self->n_loaded ? slots[i] : NULL;
}

static void runner_free(OpRunnerObject *self) {
    if (self->be) self->bi->free(self->be);
    self->be = NULL;
    for (int i = 0; i < self->n_loaded; i++) PyBuffer_Release(&self->views[i]);
    self->n_loaded = 0;
    PyMem_Free(self->w);
    self->w = NULL;
    if (self->kv_ready) ga_kv_free(&self->kv);
    self->kv_ready = 0;
    PyMem_Free(self->tokens);
    PyMem_Free(self->pos);
    PyMem_Free(self->seq);
    self->tokens = self->pos = self->seq = NULL;
}

static int OpRunner_init(OpRunnerObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"hparams", "backend", "n_ctx", "n_seq", "n_batch", "n_threads", "act_bits", "device",
                             NULL};
    PyObject *hp_dict;
    const char *backend = "cpu";
    int n_ctx = 512, n_seq = 1, n_batch = 64, n_threads = 1, act_bits = 16, device = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!|siiiiii", kwlist, &PyDict_Type, &hp_dict, &backend, &n_ctx,
                                     &n_seq, &n_batch, &n_threads, &act_bits, &device))
        return -1;
    runner_free(self);
    if (ga_py_parse_hparams(hp_dict, &self->hp) < 0) return -1;
    if (n_ctx < 1 || n_seq < 1 || n_seq > 64 || n_batch < 1 || n_batch > n_ctx || n_threads < 1 || n_threads > 256) {
        PyErr_SetString(PyExc_ValueError, "OpRunner: n_ctx, n_seq (<= 64), n_batch (<= n_ctx), n_threads out of range");
        return -1;
    }
    self->bi = NULL;
    for (int i = 0; ga_backends[i]; i++)
        if (strcmp(ga_backends[i]->name, backend) == 0) self->bi = ga_backends[i];
    if (!self->bi) {
        PyErr_Format(PyExc_ValueError, "backend %s is not built in", backend);
        return -1;
    }
    ga_error err;
    uint8_t owns[GA_MAX_LAYERS];
    for (int l = 0; l < self->hp.n_layer; l++) owns[l] = self->hp.layer[l].kv_from == l;
    ga_status st = ga_kv_init(&self->kv, &self->hp, owns, n_ctx, n_seq, n_batch, &err);
    if (st) { ga_py_raise(st, &err, NULL); return -1; }
    self->kv_ready = 1;
    self->n_batch = n_batch;
    self->w = PyMem_Calloc(1, sizeof *self->w);
    self->tokens = PyMem_Calloc((size_t)n_batch, sizeof(int32_t));
    self->pos = PyMem_Calloc((size_t)n_batch, sizeof(int32_t));
    self->seq = PyMem_Calloc((size_t)n_batch, sizeof(int32_t));
    if (!self->w || !self->tokens || !self->pos || !self->seq) { runner_free(self); PyErr_NoMemory(); return -1; }
    ga_backend_params bp = {.n_threads = n_threads, .act_bits = act_bits, .n_batch = n_batch, .n_ctx = n_ctx,
                            .n_seq = n_seq, .device = device};
    if ((st = self->bi->init(&bp, &self->hp, &self->be, &err))) {
        runner_free(self);
        ga_py_raise(st, &err, NULL);
        return -1;
    }
    self->chunk = (ga_chunk){.T = 0, .tokens = self->tokens, .pos = self->pos, .seq = self->seq, .kv = &self->kv};
    return 0;
}

static void OpRunner_dealloc(OpRunnerObject *self) {
    runner_free(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int check_ready(OpRunnerObject *self) {
    if (!self->be) { PyErr_SetString(PyExc_RuntimeError, "OpRunner is not initialized"); return -1; }
    return 0;
}

/* alloc(kind, rows, width, layer=-1) -> handle */
static PyObject *OpRunner_alloc(OpRunnerObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"kind", "rows", "width", "layer", NULL};
    const char *kind;
    long long rows, width;
    int layer = -1;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "sLL|i", kwlist, &kind, &rows, &width, &layer)) return NULL;
    if (check_ready(self) < 0) return NULL;
    ga_mem_kind k;
    if (strcmp(kind, "act") == 0) k = GA_MEM_ACT;
    else if (strcmp(kind, "kv") == 0) k = GA_MEM_KV;
    else if (strcmp(kind, "output") == 0) k = GA_MEM_OUTPUT;
    else return PyErr_Format(PyExc_ValueError, "kind must be 'act', 'kv' or 'output', not '%s'", kind);
    ga_error err;
    ga_buf b;
    ga_status st = self->bi->alloc(self->be, k, layer, rows, width, &b, &err);
    if (st) return ga_py_raise(st, &err, NULL);
    return PyLong_FromLong(b);
}

/* write(handle, floats, offset=0) */
static PyObject *OpRunner_write(OpRunnerObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"buf", "data", "offset", NULL};
    int b;
    PyObject *obj;
    long long off = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "iO|L", kwlist, &b, &obj, &off)) return NULL;
    if (check_ready(self) < 0) return NULL;
    PyArrayObject *a = (PyArrayObject *)PyArray_FROMANY(obj, NPY_FLOAT32, 0, 0, NPY_ARRAY_CARRAY_RO);
    if (!a) return NULL;
    ga_error err;
    ga_status st = self->bi->write(self->be, b, off, PyArray_SIZE(a), PyArray_DATA(a), &err);
    Py_DECREF(a);
    if (st) return ga_py_raise(st, &err, NULL);
    Py_RETURN_NONE;
}

/* read(handle, n, offset=0) -> float32 array */
static PyObject *OpRunner_read(OpRunnerObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"buf", "n", "offset", NULL};
    int b;
    long long n, off = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "iL|L", kwlist, &b, &n, &off)) return NULL;
    if (check_ready(self) < 0) return NULL;
    if (n < 0 || n > ((long long)1 << 34)) return PyErr_Format(PyExc_ValueError, "cannot read %lld floats", n);
    npy_intp dims[1] = {(npy_intp)n};
    PyArrayObject *out = (PyArrayObject *)PyArray_SimpleNew(1, dims, NPY_FLOAT32);
    if (!out) return NULL;
    ga_error err;
    ga_status st = self->bi->read(self->be, b, off, n, PyArray_DATA(out), &err);
    if (st) { Py_DECREF(out); return ga_py_raise(st, &err, NULL); }
    return (PyObject *)out;
}

static int int_list(PyObject *obj, int32_t *dst, int cap, const char *what) {
    PyObject *seq = PySequence_Fast(obj, "expected a sequence of ints");
    if (!seq) return -1;
    const Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    if (n > cap) {
        Py_DECREF(seq);
        PyErr_Format(PyExc_ValueError, "%s: more than %d entries", what, cap);
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        long v = PyLong_AsLong(PySequence_Fast_GET_ITEM(seq, i));
        if ((v == -1 && PyErr_Occurred()) || v < INT32_MIN || v > INT32_MAX) {
            Py_DECREF(seq);
            if (!PyErr_Occurred()) PyErr_Format(PyExc_ValueError, "%s: %ld out of range", what, v);
            return -1;
        }
        dst[i] = (int32_t)v;
    }
    Py_DECREF(seq);
    return (int)n;
}

/* chunk(tokens, pos, seq) -> [(layer, page_src, page_dst)]: the copies a fork left to make */
static PyObject *OpRunner_chunk(OpRunnerObject *self, PyObject *args) {
    PyObject *t_obj, *p_obj, *s_obj;
    if (!PyArg_ParseTuple(args, "OOO", &t_obj, &p_obj, &s_obj)) return NULL;
    if (check_ready(self) < 0) return NULL;
    int n = int_list(t_obj, self->tokens, self->n_batch, "tokens");
    if (n < 0) return NULL;
    if (n < 1) return PyErr_Format(PyExc_ValueError, "a chunk needs a token");
    if (int_list(p_obj, self->pos, self->n_batch, "pos") != n || int_list(s_obj, self->seq, self->n_batch, "seq") != n) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "tokens, pos and seq differ in length");
        return NULL;
    }
    ga_kv *kv = &self->kv;
    for (int i = 0; i < n; i++) {
        const int s = self->seq[i];
        if (s < 0 || s >= kv->n_seq || self->pos[i] != kv->n_past[s] || self->pos[i] >= kv->n_ctx)
            return PyErr_Format(PyExc_ValueError, "token %d: sequence %d position %d does not continue it", i, s,
                                self->pos[i]);
        kv->n_past[s]++; /* the next token of s must follow this one */
    }
    for (int i = 0; i < n; i++) kv->n_past[self->seq[i]]--;
    kv->n_copies = 0;
    ga_error err;
    for (int i = 0; i < n; i++) {
        const int s = self->seq[i];
        if (kv->n_past[s] != self->pos[i]) continue; /* prepared with its first token */
        int last = self->pos[i];
        for (int j = i + 1; j < n; j++)
            if (self->seq[j] == s) last = self->pos[j];
        ga_status st = ga_kv_prepare(kv, s, self->pos[i], last + 1, &err);
        if (st) return ga_py_raise(st, &err, NULL);
        kv->n_past[s] = last + 1;
    }
    self->chunk.T = n;
    self->chunk.one_seq = 1;
    for (int i = 1; i < n; i++)
        if (self->seq[i] != self->seq[0] || self->pos[i] != self->pos[0] + i) self->chunk.one_seq = 0;
    PyObject *copies = PyList_New(kv->n_copies);
    if (!copies) return NULL;
    for (int i = 0; i < kv->n_copies; i++)
        PyList_SET_ITEM(copies, i, Py_BuildValue("(iii)", kv->copies[i].layer, kv->copies[i].src, kv->copies[i].dst));
    return copies;
}

static PyObject *OpRunner_fork(OpRunnerObject *self, PyObject *args) {
    int src, dst;
    if (!PyArg_ParseTuple(args, "ii", &src, &dst)) return NULL;
    if (check_ready(self) < 0) return NULL;
    if (src < 0 || dst < 0 || src >= self->kv.n_seq || dst >= self->kv.n_seq)
        return PyErr_Format(PyExc_ValueError, "no sequence %d or %d", src, dst);
    ga_kv_fork(&self->kv, src, dst);
    Py_RETURN_NONE;
}

static PyObject *OpRunner_pages(OpRunnerObject *self, PyObject *args) {
    int seq, layer;
    if (!PyArg_ParseTuple(args, "ii", &seq, &layer)) return NULL;
    if (check_ready(self) < 0) return NULL;
    if (seq < 0 || seq >= self->kv.n_seq || layer < 0 || layer >= self->kv.n_layer)
        return PyErr_Format(PyExc_ValueError, "no sequence %d or layer %d", seq, layer);
    const int32_t *p = ga_kv_pages(&self->kv, seq, layer);
    PyObject *out = PyList_New(self->kv.n_blocks);
    if (!out) return NULL;
    for (int b = 0; b < self->kv.n_blocks; b++) PyList_SET_ITEM(out, b, PyLong_FromLong(p[b]));
    return out;
}

/* load([(buffer, type, rows, cols), ...]): the weights later ops name by index */
static PyObject *OpRunner_load(OpRunnerObject *self, PyObject *list) {
    if (check_ready(self) < 0) return NULL;
    if (self->n_loaded) return PyErr_Format(PyExc_RuntimeError, "weights are loaded once per OpRunner");
    PyObject *seq = PySequence_Fast(list, "weights must be a sequence of (buffer, type, rows, cols)");
    if (!seq) return NULL;
    const Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    if (n < 1 || n > MAX_LOADED) {
        Py_DECREF(seq);
        return PyErr_Format(PyExc_ValueError, "load 1..%d weights", MAX_LOADED);
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *buf;
        int type;
        long long rows, cols;
        Py_buffer *view = &self->views[self->n_loaded];
        if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(seq, i), "OiLL", &buf, &type, &rows, &cols) ||
            PyObject_GetBuffer(buf, view, PyBUF_SIMPLE) < 0)
            goto fail;
        self->n_loaded++;
        ga_error err;
        uint64_t row_bytes = 0;
        ga_status st = rows < 1 || cols < 1 ? ga_fail(&err, GA_ERR_ARG, "empty weight")
                                            : ga_type_nbytes(type, (uint64_t)cols, &row_bytes, &err);
        if (st == GA_OK && (uint64_t)view->len != row_bytes * (uint64_t)rows)
            st = ga_fail(&err, GA_ERR_ARG, "weight %d: %zd bytes, not %lld rows of %llu", (int)i, view->len, rows,
                         (unsigned long long)row_bytes);
        if (st) { ga_py_raise(st, &err, NULL); goto fail; }
        *slot(self, (int)i) = (ga_weight){.data = view->buf, .type = type, .rows = rows, .cols = cols,
                                          .row_bytes = row_bytes};
    }
    Py_DECREF(seq);
    ga_error err;
    ga_status st;
    Py_BEGIN_ALLOW_THREADS
    st = self->bi->load_weights(self->be, self->w, &err);
    Py_END_ALLOW_THREADS
    if (st) return ga_py_raise(st, &err, NULL);
    Py_RETURN_NONE;
fail:
    Py_DECREF(seq);
    for (int i = 0; i < self->n_loaded; i++) PyBuffer_Release(&self->views[i]);
    memset(self->w, 0, sizeof *self->w);
    self->n_loaded = 0;
    return NULL;
}

static int op_from_name(const char *name) {
    for (int i = 0; i < GA_OP_COUNT; i++)
        if (strcmp(ga_op_names[i], name) == 0) return i;
    return -1;
}

/* a float32 vector that stays alive (in *hold) for the op */
static int get_norm(PyObject *obj, const float **out, PyArrayObject **hold) {
    *out = NULL;
    if (!obj || obj == Py_None) return 0;
    *hold = (PyArrayObject *)PyArray_FROMANY(obj, NPY_FLOAT32, 1, 1, NPY_ARRAY_CARRAY_RO);
    if (!*hold) return -1;
    *out = PyArray_DATA(*hold);
    return 0;
}

/* run(op, output=None, **fields) */
static PyObject *OpRunner_run(OpRunnerObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"op", "T", "layer", "kv_layer", "width", "src", "src2", "src3", "src_row0", "dst_row0",
                             "dst", "weights", "norm", "norm2", "scale", "cap", "page_src", "page_dst", "output",
                             NULL};
    const char *name;
    ga_op_args op = {.layer = -1, .src = GA_BUF_NONE, .src2 = GA_BUF_NONE, .src3 = GA_BUF_NONE,
                     .dst = {GA_BUF_NONE, GA_BUF_NONE, GA_BUF_NONE}, .scale = 1.0f};
    long long width = 0, src_row0 = 0, dst_row0 = 0;
    PyObject *dst_obj = NULL, *w_obj = NULL, *norm_obj = NULL, *norm2_obj = NULL, *out_obj = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "s|iiiLiiiLLOOOOffiiO", kwlist, &name, &op.T, &op.layer, &op.kv_layer,
                                     &width, &op.src, &op.src2, &op.src3, &src_row0, &dst_row0, &dst_obj, &w_obj,
                                     &norm_obj, &norm2_obj, &op.scale, &op.cap, &op.page_src, &op.page_dst, &out_obj))
        return NULL;
    if (check_ready(self) < 0) return NULL;
    const int code = op_from_name(name);
    if (code < 0) return PyErr_Format(PyExc_ValueError, "no op named %s", name);
    op.op = (ga_op)code;
    op.width = width;
    op.src_row0 = src_row0;
    op.dst_row0 = dst_row0;
    if (op.layer >= self->hp.n_layer || op.kv_layer < 0 || op.kv_layer >= self->hp.n_layer)
        return PyErr_Format(PyExc_ValueError, "layer %d / kv_layer %d outside the model", op.layer, op.kv_layer);
    if (dst_obj) {
        int32_t d[3];
        int n = int_list(dst_obj, d, 3, "dst");
        if (n < 0) return NULL;
        for (int i = 0; i < n; i++) op.dst[i] = d[i];
    }
    PyArrayObject *holds[2] = {NULL, NULL}, *out_arr = NULL;
    PyObject *res = NULL;
    if (get_norm(norm_obj, &op.norm, &holds[0]) < 0 || get_norm(norm2_obj, &op.norm2, &holds[1]) < 0) goto done;
    if (w_obj) {
        int32_t idx[3];
        const int nw = int_list(w_obj, idx, 3, "weights");
        if (nw < 0) goto done;
        for (int i = 0; i < nw; i++)
            if (!(op.w[i] = slot(self, idx[i]))) {
                PyErr_Format(PyExc_ValueError, "no loaded weight %d", idx[i]);
                goto done;
            }
        op.nw = nw;
    }
    float *output = NULL;
    if (out_obj != Py_None) {
        out_arr = (PyArrayObject *)PyArray_FROMANY(out_obj, NPY_FLOAT32, 1, 1,
                                                   NPY_ARRAY_CARRAY | NPY_ARRAY_WRITEBACKIFCOPY);
        if (!out_arr) goto done;
        output = PyArray_DATA(out_arr);
    }
    ga_error err;
    ga_status st;
    Py_BEGIN_ALLOW_THREADS
    st = self->bi->begin_chunk(self->be, &self->chunk, output, &err);
    if (st == GA_OK) {
        st = self->bi->run(self->be, &op, &err);
        ga_error end_err;
        ga_status st_end = self->bi->end_chunk(self->be, st ? &end_err : &err);
        if (st == GA_OK) st = st_end;
    }
    Py_END_ALLOW_THREADS
    if (out_arr) PyArray_ResolveWritebackIfCopy(out_arr);
    if (st) { ga_py_raise(st, &err, NULL); goto done; }
    res = Py_None;
    Py_INCREF(res);
done:
    Py_XDECREF(holds[0]);
    Py_XDECREF(holds[1]);
    Py_XDECREF(out_arr);
    return res;
}

/* supports(op, wtype=-1) -> bool */
static PyObject *OpRunner_supports(OpRunnerObject *self, PyObject *args) {
    const char *name;
    int wtype = -1;
    if (!PyArg_ParseTuple(args, "s|i", &name, &wtype)) return NULL;
    if (check_ready(self) < 0) return NULL;
    const int code = op_from_name(name);
    if (code < 0) return PyErr_Format(PyExc_ValueError, "no op named %s", name);
    return PyBool_FromLong(self->bi->supports(self->be, (ga_op)code, wtype));
}

static PyMethodDef OpRunner_methods[] = {
    {"supports", (PyCFunction)OpRunner_supports, METH_VARARGS,
     "supports(op, wtype=-1)\n--\n\nWhether the backend runs op (on weights of type wtype)."},
    {"alloc", (PyCFunction)(void (*)(void))OpRunner_alloc, METH_VARARGS | METH_KEYWORDS,
     "alloc(kind, rows, width, layer=-1)\n--\n\nA buffer of the backend: 'act', 'kv' (K then V pages) or 'output'."},
    {"write", (PyCFunction)(void (*)(void))OpRunner_write, METH_VARARGS | METH_KEYWORDS,
     "write(buf, data, offset=0)\n--\n\nCopy float32 data into the buffer from float offset."},
    {"read", (PyCFunction)(void (*)(void))OpRunner_read, METH_VARARGS | METH_KEYWORDS,
     "read(buf, n, offset=0)\n--\n\nn floats of the buffer from float offset."},
    {"chunk", (PyCFunction)OpRunner_chunk, METH_VARARGS,
     "chunk(tokens, pos, seq)\n--\n\nThe tokens the next ops run on, with KV pages for them; returns the page "
     "copies a fork left to make, as (layer, src, dst)."},
    {"load", (PyCFunction)OpRunner_load, METH_O,
     "load(weights)\n--\n\nUp to 8 (buffer, type, rows, cols) weights, loaded by the backend; ops name them by "
     "index (0 is loaded as an output head, 1.. as layer weights)."},
    {"fork", (PyCFunction)OpRunner_fork, METH_VARARGS, "fork(src, dst)\n--\n\nSequence dst shares src's pages."},
    {"pages", (PyCFunction)OpRunner_pages, METH_VARARGS, "pages(seq, layer)\n--\n\nThe block table (-1 = none)."},
    {"run", (PyCFunction)(void (*)(void))OpRunner_run, METH_VARARGS | METH_KEYWORDS,
     "run(op, output=None, **fields)\n--\n\nRun one op (ga_op_args fields; weights as (buffer, type, rows, cols); "
     "output: the float32 array the 'output' buffers stand for)."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject OpRunnerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "gemma_accel._core.OpRunner",
    .tp_basicsize = sizeof(OpRunnerObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "OpRunner(hparams, backend='cpu', n_ctx=512, n_seq=1, n_batch=64, n_threads=1, act_bits=16, device=0): "
              "single backend ops on NumPy data (tests/test_backend_ops.py).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)OpRunner_init,
    .tp_dealloc = (destructor)OpRunner_dealloc,
    .tp_methods = OpRunner_methods,
};

static PyObject *py_op_names(PyObject *self, PyObject *noargs) {
    (void)self; (void)noargs;
    PyObject *out = PyList_New(GA_OP_COUNT);
    if (!out) return NULL;
    for (int i = 0; i < GA_OP_COUNT; i++) PyList_SET_ITEM(out, i, PyUnicode_FromString(ga_op_names[i]));
    return out;
}

static PyObject *py_backends(PyObject *self, PyObject *noargs) {
    (void)self; (void)noargs;
    PyObject *out = PyList_New(0);
    for (int i = 0; out && ga_backends[i]; i++) {
        PyObject *s = PyUnicode_FromString(ga_backends[i]->name);
        if (!s || PyList_Append(out, s) < 0) { Py_XDECREF(s); Py_DECREF(out); return NULL; }
        Py_DECREF(s);
    }
    return out;
}

static const char *version_text(uint32_t v, char *buf, size_t n) {
    snprintf(buf, n, "%u.%u.%u", (v >> 22) & 0x7f, (v >> 12) & 0x3ff, v & 0xfff);
    return buf;
}

/* vulkan_devices() -> (devices, reason): reason says why the list is empty (None otherwise) */
static PyObject *py_vulkan_devices(PyObject *self, PyObject *noargs) {
    (void)self; (void)noargs;
    ga_vk_device_info info[16];
    int n = 0;
    ga_error err;
    ga_status st;
    Py_BEGIN_ALLOW_THREADS
    st = ga_vk_devices(info, 16, &n, &err);
    Py_END_ALLOW_THREADS
    PyObject *list = PyList_New(0);
    if (!list) return NULL;
    for (int i = 0; i < n; i++) {
        char ver[32];
        PyObject *d = Py_BuildValue(
            "{s:i,s:s,s:s,s:s,s:K,s:I,s:K,s:I,s:{s:O,s:O,s:O,s:O}}", "index", i, "name", info[i].name, "type",
            info[i].type, "api_version", version_text(info[i].api_version, ver, sizeof ver), "memory_bytes",
            (unsigned long long)info[i].memory_bytes, "subgroup_size", info[i].subgroup_size, "max_storage_range",
            (unsigned long long)info[i].max_storage_range, "max_shared_bytes", info[i].max_shared_bytes, "features",
            "shader_float16", info[i].fp16 ? Py_True : Py_False, "storage_buffer_16bit",
            info[i].storage16 ? Py_True : Py_False, "storage_buffer_8bit", info[i].storage8 ? Py_True : Py_False,
            "integer_dot_product", info[i].int_dot ? Py_True : Py_False);
        if (!d || PyList_Append(list, d) < 0) { Py_XDECREF(d); Py_DECREF(list); return NULL; }
        Py_DECREF(d);
    }
    const char *reason = st ? err.msg : n == 0 ? "no Vulkan device" : NULL;
    return Py_BuildValue("(Nz)", list, reason);
}

/* vulkan_validation_messages() -> (count, last message) */
static PyObject *py_vulkan_validation(PyObject *self, PyObject *noargs) {
    (void)self; (void)noargs;
    return Py_BuildValue("(Ls)", (long long)ga_vk_validation_messages(), ga_vk_last_validation_message());
}

/* vulkan_inject_device_lost(n): testing; the n-th submission from now fails as lost */
static PyObject *py_vulkan_inject(PyObject *self, PyObject *arg) {
    (void)self;
    const long n = PyLong_AsLong(arg);
    if (n == -1 && PyErr_Occurred()) return NULL;
    if (n < 0 || n > INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "vulkan_inject_device_lost: n must be >= 0");
        return NULL;
    }
    ga_vk_inject_device_lost((int)n);
    Py_RETURN_NONE;
}

static PyMethodDef functions[] = {
    {"vulkan_devices", py_vulkan_devices, METH_NOARGS,
     "vulkan_devices()\n--\n\n(devices, reason): the Vulkan devices (name, type, memory, subgroup size, features), "
     "and why there are none (no loader, no device) or None."},
    {"vulkan_validation_messages", py_vulkan_validation, METH_NOARGS,
     "vulkan_validation_messages()\n--\n\n(count, last): what the Khronos validation layer reported since the "
     "process started (with GA_VK_VALIDATION=1)."},
    {"vulkan_inject_device_lost", py_vulkan_inject, METH_O,
     "vulkan_inject_device_lost(n)\n--\n\nTesting: the n-th Vulkan queue submission from now reports a lost device "
     "instead of running, as a driver does after a GPU reset; 0 disarms."},
    {"op_names", py_op_names, METH_NOARGS, "op_names()\n--\n\nThe backend ops, in enum order."},
    {"backends", py_backends, METH_NOARGS, "backends()\n--\n\nThe backends built in."},
    {NULL, NULL, 0, NULL},
};

int ga_py_add_backend_ops(PyObject *m) {
    if (PyType_Ready(&OpRunnerType) < 0) return -1;
    if (PyModule_AddObjectRef(m, "OpRunner", (PyObject *)&OpRunnerType) < 0) return -1;
    return PyModule_AddFunctions(m, functions);
}
