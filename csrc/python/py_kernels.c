/* py_kernels.c - NumPy bindings of the compute kernels (ga_matvec.h, ga_ops.h).
 *
 * Each wrapper: check arguments (float32, C-contiguous, aligned, shapes) -> allocate
 * the result -> release the GIL -> one C call -> translate the status.  The friendly
 * conversions (type names, reshaping, dtype casts for the ops) live in kernels.py.
 */
#include "py_common.h"
#include "ga_attention.h"
#include "ga_gemm.h"
#include "ga_gemm_q16.h"
#include "ga_matvec.h"
#include "ga_ops.h"
#include "ga_x8.h"
#include "ga_threadpool.h"
#include "ga_types.h"

/* obj must be an aligned, C-contiguous float32 ndarray; writable if asked.  Borrowed. */
static PyArrayObject *f32_array(PyObject *obj, const char *name, int writable) {
    if (!PyArray_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "%s must be a numpy.ndarray of float32, not %.100s", name,
                     Py_TYPE(obj)->tp_name);
        return NULL;
    }
    PyArrayObject *a = (PyArrayObject *)obj;
    if (PyArray_TYPE(a) != NPY_FLOAT32) {
        PyObject *d = PyObject_Str((PyObject *)PyArray_DESCR(a));
        PyErr_Format(PyExc_TypeError, "%s must have dtype float32, not %S", name, d ? d : Py_None);
        Py_XDECREF(d);
        return NULL;
    }
    if (!PyArray_IS_C_CONTIGUOUS(a) || !PyArray_ISALIGNED(a)) {
        PyErr_Format(PyExc_ValueError, "%s must be C-contiguous and aligned (use np.ascontiguousarray)", name);
        return NULL;
    }
    if (writable && !PyArray_ISWRITEABLE(a)) {
        PyErr_Format(PyExc_ValueError, "%s must be writable", name);
        return NULL;
    }
    return a;
}

/* A new C-contiguous float32 array shaped like a, holding a copy of a's data. */
static PyArrayObject *f32_copy(PyArrayObject *a) {
    PyArrayObject *r = (PyArrayObject *)PyArray_NewCopy(a, NPY_CORDER);
    return r;
}

/* Weight type from an int id or a name like "Q4_K"; -1 with an exception set. */
static int parse_wtype(PyObject *obj) {
    int t;
    if (PyUnicode_Check(obj)) {
        const char *s = PyUnicode_AsUTF8(obj);
        if (!s) return -1;
        t = ga_type_from_name(s);
        if (t < 0) {
            PyErr_Format(PyExc_ValueError, "unknown tensor type %R", obj);
            return -1;
        }
    } else {
        long v = PyLong_AsLong(obj);
        if (v == -1 && PyErr_Occurred()) {
            PyErr_Format(PyExc_TypeError, "type must be a type name or a ggml type id, not %.100s",
                         Py_TYPE(obj)->tp_name);
            return -1;
        }
        if (!ga_type_get(v)) {
            PyErr_Format(PyExc_ValueError, "unknown tensor type id %ld", v);
            return -1;
        }
        t = (int)v;
    }
    if (ga_matvec_act_type(t) < 0) {
        PyErr_Format(ga_py_Error, "matvec does not support weight type %s", ga_type_get(t)->name);
        return -1;
    }
    return t;
}

static PyObject *py_matvec(PyObject *self, PyObject *args, PyObject *kwargs) {
    (void)self;
    static char *kwlist[] = {"weight", "type", "rows", "n", "x", "out", NULL};
    PyObject *wobj, *tobj, *xobj, *outobj = Py_None;
    Py_ssize_t rows, n;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOnnO|O:matvec", kwlist, &wobj, &tobj, &rows, &n,
                                     &xobj, &outobj))
        return NULL;
    const int wtype = parse_wtype(tobj);
    if (wtype < 0) return NULL;
    const ga_type_info *t = ga_type_get(wtype);
    if (rows < 0 || n <= 0 || n % t->block_size)
        return PyErr_Format(PyExc_ValueError, "shape (%zd, %zd): rows must be >= 0 and n a positive "
                            "multiple of %s's block size %lld", rows, n, t->name, (long long)t->block_size);
    PyArrayObject *x = f32_array(xobj, "x", 0);
    if (!x) return NULL;
    if (PyArray_NDIM(x) != 1 || PyArray_DIM(x, 0) != n)
        return PyErr_Format(PyExc_ValueError, "x must have shape (%zd,) to match the weight's shape (%zd, %zd)",
                            n, rows, n);
    PyArrayObject *out;
    if (outobj == Py_None) {
        npy_intp dim = rows;
        out = (PyArrayObject *)PyArray_SimpleNew(1, &dim, NPY_FLOAT32);
        if (!out) return NULL;
    } else {
        out = f32_array(outobj, "out", 1);
        if (!out) return NULL;
        if (PyArray_NDIM(out) != 1 || PyArray_DIM(out, 0) != rows)
            return PyErr_Format(PyExc_ValueError, "out must have shape (%zd,)", rows);
        Py_INCREF(out);
    }
    Py_buffer view;
    if (PyObject_GetBuffer(wobj, &view, PyBUF_C_CONTIGUOUS) < 0) {
        Py_DECREF(out);
        if (PyErr_ExceptionMatches(PyExc_BufferError)) {
            PyErr_Clear();
            PyErr_SetString(PyExc_ValueError, "weight must be a C-contiguous buffer (use np.ascontiguousarray)");
        } else if (PyErr_ExceptionMatches(PyExc_TypeError)) {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError, "weight must support the buffer protocol (bytes, uint8 array, "
                         "memoryview), not %.100s", Py_TYPE(wobj)->tp_name);
        }
        return NULL;
    }
    const size_t row_bytes = (size_t)(n / t->block_size) * t->type_size;
    if ((size_t)view.len != (size_t)rows * row_bytes) {
        PyErr_Format(PyExc_ValueError, "weight holds %zd bytes, but %zd rows of %zd %s elements need %zu",
                     view.len, rows, n, t->name, (size_t)rows * row_bytes);
        PyBuffer_Release(&view);
        Py_DECREF(out);
        return NULL;
    }
    ga_error err = {{0}};
    ga_status st;
    Py_BEGIN_ALLOW_THREADS
    st = ga_matvec(wtype, view.buf, rows, n, (const float *)PyArray_DATA(x), (float *)PyArray_DATA(out), &err);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    if (st != GA_OK) {
        Py_DECREF(out);
        return ga_py_raise(st, &err, "matvec");
    }
    return (PyObject *)out;
}

/* The activation bytes matvec would use for x (tests compare kernel sets and gguf.quants). */
static PyObject *py_matvec_quantize_act(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *tobj, *xobj;
    int bits = 8;
    if (!PyArg_ParseTuple(args, "OO|i:matvec_quantize_act", &tobj, &xobj, &bits)) return NULL;
    if (bits != 8 && bits != 16) return PyErr_Format(PyExc_ValueError, "bits must be 8 or 16, not %d", bits);
    const int wtype = parse_wtype(tobj);
    if (wtype < 0) return NULL;
    PyArrayObject *x = f32_array(xobj, "x", 0);
    if (!x) return NULL;
    if (PyArray_NDIM(x) != 1) return PyErr_Format(PyExc_ValueError, "x must be 1-D");
    const int64_t n = PyArray_DIM(x, 0);
    const size_t size = ga_matvec_act_size(wtype, n), res_size = ga_matvec_act_res_size(wtype, n);
    void *act = PyMem_RawMalloc(size ? size : 1), *lo = bits == 16 ? PyMem_RawMalloc(res_size ? res_size : 1) : NULL;
    if (!act || (bits == 16 && !lo)) { PyMem_RawFree(act); PyMem_RawFree(lo); return PyErr_NoMemory(); }
    ga_error err = {{0}};
    ga_status st = ga_matvec_quantize_act2(wtype, PyArray_DATA(x), act, lo, n, &err);
    PyObject *res;
    if (st != GA_OK) {
        res = ga_py_raise(st, &err, "matvec_quantize_act");
    } else if (bits == 8) {
        res = PyBytes_FromStringAndSize(act, (Py_ssize_t)size);
    } else if (res_size > size) { /* integer families: the int16 codes follow the lo blocks */
        const char *codes = (const char *)lo + res_size - (size_t)n * sizeof(int16_t);
        res = Py_BuildValue("(y#y#y#)", (const char *)act, (Py_ssize_t)size, (const char *)lo, (Py_ssize_t)size,
                            codes, (Py_ssize_t)(n * (int64_t)sizeof(int16_t)));
    } else {
        res = Py_BuildValue("(y#y#O)", (const char *)act, (Py_ssize_t)size, (const char *)lo, (Py_ssize_t)size, Py_None);
    }
    PyMem_RawFree(act);
    PyMem_RawFree(lo);
    return res;
}

static PyObject *py_rmsnorm(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *xobj, *wobj;
    float eps;
    if (!PyArg_ParseTuple(args, "OOf:rmsnorm", &xobj, &wobj, &eps)) return NULL;
    PyArrayObject *x = f32_array(xobj, "x", 0), *w = NULL;
    if (!x) return NULL;
    if (PyArray_NDIM(x) < 1 || PyArray_DIM(x, PyArray_NDIM(x) - 1) < 1)
        return PyErr_Format(PyExc_ValueError, "x must have at least one axis of length >= 1");
    const npy_intp n = PyArray_DIM(x, PyArray_NDIM(x) - 1);
    if (wobj != Py_None) {
        if (!(w = f32_array(wobj, "weight", 0))) return NULL;
        if (PyArray_NDIM(w) != 1 || PyArray_DIM(w, 0) != n)
            return PyErr_Format(PyExc_ValueError, "weight must have shape (%zd,) (x's last axis)", (Py_ssize_t)n);
    }
    PyArrayObject *out = (PyArrayObject *)PyArray_NewLikeArray(x, NPY_CORDER, NULL, 0);
    if (!out) return NULL;
    const npy_intp rows = PyArray_SIZE(x) / n;
    const float *xp = PyArray_DATA(x), *wp = w ? PyArray_DATA(w) : NULL;
    float *op = PyArray_DATA(out);
    Py_BEGIN_ALLOW_THREADS
    for (npy_intp r = 0; r < rows; r++) ga_rmsnorm(op + r * n, xp + r * n, wp, n, eps);
    Py_END_ALLOW_THREADS
    return (PyObject *)out;
}

static PyObject *py_rope(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *xobj, *pobj;
    float base, freq_scale;
    Py_ssize_t rot_dim;
    if (!PyArg_ParseTuple(args, "OOffn:rope", &xobj, &pobj, &base, &freq_scale, &rot_dim)) return NULL;
    PyArrayObject *x = f32_array(xobj, "x", 0);
    if (!x) return NULL;
    if (PyArray_NDIM(x) != 3)
        return PyErr_Format(PyExc_ValueError, "x must have shape (seq, n_heads, head_dim)");
    const npy_intp seq = PyArray_DIM(x, 0), heads = PyArray_DIM(x, 1), hd = PyArray_DIM(x, 2);
    if (rot_dim <= 0 || rot_dim > hd || rot_dim % 2)
        return PyErr_Format(PyExc_ValueError, "rot_dim %zd must be even and in [2, head_dim=%zd]", rot_dim,
                            (Py_ssize_t)hd);
    PyArrayObject *pos = (PyArrayObject *)PyArray_FROMANY(pobj, NPY_INT64, 1, 1, NPY_ARRAY_CARRAY_RO);
    if (!pos) return NULL;
    if (PyArray_DIM(pos, 0) != seq) {
        Py_DECREF(pos);
        return PyErr_Format(PyExc_ValueError, "positions has %zd entries for %zd rows of x",
                            (Py_ssize_t)PyArray_DIM(pos, 0), (Py_ssize_t)seq);
    }
    PyArrayObject *out = f32_copy(x);
    if (!out) {
        Py_DECREF(pos);
        return NULL;
    }
    const int64_t *pp = PyArray_DATA(pos);
    float *op = PyArray_DATA(out);
    Py_BEGIN_ALLOW_THREADS
    for (npy_intp s = 0; s < seq; s++) ga_rope_neox(op + s * heads * hd, heads, hd, rot_dim, pp[s], base, freq_scale);
    Py_END_ALLOW_THREADS
    Py_DECREF(pos);
    return (PyObject *)out;
}

static PyObject *py_gelu_tanh(PyObject *self, PyObject *arg) {
    (void)self;
    PyArrayObject *x = f32_array(arg, "x", 0);
    if (!x) return NULL;
    PyArrayObject *out = (PyArrayObject *)PyArray_NewLikeArray(x, NPY_CORDER, NULL, 0);
    if (!out) return NULL;
    const npy_intp n = PyArray_SIZE(x);
    const float *xp = PyArray_DATA(x);
    float *op = PyArray_DATA(out);
    Py_BEGIN_ALLOW_THREADS
    ga_gelu_tanh(op, xp, n);
    Py_END_ALLOW_THREADS
    return (PyObject *)out;
}

static PyObject *py_gelu_tanh_mul(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *gobj, *uobj;
    if (!PyArg_ParseTuple(args, "OO:gelu_tanh_mul", &gobj, &uobj)) return NULL;
    PyArrayObject *g = f32_array(gobj, "gate", 0), *u = g ? f32_array(uobj, "up", 0) : NULL;
    if (!u) return NULL;
    if (!PyArray_SAMESHAPE(g, u)) return PyErr_Format(PyExc_ValueError, "gate and up must have the same shape");
    PyArrayObject *out = (PyArrayObject *)PyArray_NewLikeArray(g, NPY_CORDER, NULL, 0);
    if (!out) return NULL;
    const npy_intp n = PyArray_SIZE(g);
    const float *gp = PyArray_DATA(g), *up = PyArray_DATA(u);
    float *op = PyArray_DATA(out);
    Py_BEGIN_ALLOW_THREADS
    ga_gelu_tanh_mul(op, gp, up, n);
    Py_END_ALLOW_THREADS
    return (PyObject *)out;
}

static PyObject *py_exp_f32(PyObject *self, PyObject *arg) {
    (void)self;
    PyArrayObject *x = f32_array(arg, "x", 0);
    if (!x) return NULL;
    PyArrayObject *out = f32_copy(x);
    if (!out) return NULL;
    float *op = PyArray_DATA(out);
    const npy_intp n = PyArray_SIZE(out);
    Py_BEGIN_ALLOW_THREADS
    ga_exp_f32(op, op, n);
    Py_END_ALLOW_THREADS
    return (PyObject *)out;
}

static PyObject *py_softmax(PyObject *self, PyObject *arg) {
    (void)self;
    PyArrayObject *x = f32_array(arg, "x", 0);
    if (!x) return NULL;
    if (PyArray_NDIM(x) < 1 || PyArray_DIM(x, PyArray_NDIM(x) - 1) < 1)
        return PyErr_Format(PyExc_ValueError, "x must have at least one axis of length >= 1");
    PyArrayObject *out = f32_copy(x);
    if (!out) return NULL;
    const npy_intp n = PyArray_DIM(x, PyArray_NDIM(x) - 1), rows = PyArray_SIZE(x) / n;
    float *op = PyArray_DATA(out);
    Py_BEGIN_ALLOW_THREADS
    for (npy_intp r = 0; r < rows; r++) ga_softmax(op + r * n, n);
    Py_END_ALLOW_THREADS
    return (PyObject *)out;
}

/* gemm(weight, type, rows, n, x[T][n], mode) -> y[T][rows], the model's matmul paths one by one:
 * "act8" int8 activations, "act16" int8 + residual with the fused dual kernels,
 * "act16_unfused" the same with two single dots, "f32" dequantized tiles x f32 activations. */
static PyObject *py_gemm(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *wobj, *tobj, *xobj;
    Py_ssize_t rows, n;
    const char *mode;
    if (!PyArg_ParseTuple(args, "OOnnOs:gemm", &wobj, &tobj, &rows, &n, &xobj, &mode)) return NULL;
    const int wtype = parse_wtype(tobj);
    if (wtype < 0) return NULL;
    const ga_type_info *t = ga_type_get(wtype);
    int m_act16 = 0, fused = 1, f32 = 0, q16 = 0, x8 = 0;
    if (strcmp(mode, "act8") == 0) {
    } else if (strcmp(mode, "act16") == 0) {
        m_act16 = 1;
    } else if (strcmp(mode, "act16_x8") == 0 || strcmp(mode, "act8_x8") == 0) {
        m_act16 = mode[3] == '1'; x8 = 1;
        if (!ga_x8_applies(wtype, rows, n))
            return PyErr_Format(ga_py_Error, "8-row interleaving takes Q4_0 or Q5_0 with rows a multiple of 8 and "
                                             "at most %d columns, not %s (%zd, %zd)", GA_X8_MAX_COLS, t->name, rows, n);
    } else if (strcmp(mode, "act16_unfused") == 0) {
        m_act16 = 1; fused = 0;
    } else if (strcmp(mode, "f32") == 0) {
        f32 = 1;
    } else if (strcmp(mode, "q16") == 0) {
        q16 = 1;
        if (!ga_gemm_q16_supports(wtype))
            return PyErr_Format(ga_py_Error, "the int16 GEMM does not run %s in the current kernel set", t->name);
    } else {
        return PyErr_Format(PyExc_ValueError,
                            "mode must be act8, act8_x8, act16, act16_x8, act16_unfused, f32 or q16, not %s", mode);
    }
    if (rows < 1 || n <= 0 || n % t->block_size)
        return PyErr_Format(PyExc_ValueError, "bad shape (%zd, %zd) for %s", rows, n, t->name);
    PyArrayObject *x = f32_array(xobj, "x", 0);
    if (!x) return NULL;
    if (PyArray_NDIM(x) != 2 || PyArray_DIM(x, 1) != n)
        return PyErr_Format(PyExc_ValueError, "x must have shape (T, %zd)", n);
    const int T = (int)PyArray_DIM(x, 0);
    npy_intp dims[2] = {T, rows};
    PyArrayObject *out = (PyArrayObject *)PyArray_SimpleNew(2, dims, NPY_FLOAT32);
    if (!out) return NULL;
    Py_buffer view;
    if (PyObject_GetBuffer(wobj, &view, PyBUF_C_CONTIGUOUS) < 0) { Py_DECREF(out); return NULL; }
    const size_t row_bytes = (size_t)(n / t->block_size) * t->type_size;
    if ((size_t)view.len != (size_t)rows * row_bytes) {
        PyBuffer_Release(&view);
        Py_DECREF(out);
        return PyErr_Format(PyExc_ValueError, "weight holds %zd bytes, expected %zu", view.len,
                            (size_t)rows * row_bytes);
    }
    const size_t asize = (ga_matvec_act_size(wtype, n) + 63) & ~(size_t)63;
    const size_t rsize = (ga_matvec_act_res_size(wtype, n) + 63) & ~(size_t)63;
    const size_t scratch_n = (size_t)(f32 ? ga_gemm_scratch_floats(n) : n);
    void *act = malloc(asize), *res = malloc(rsize);
    float *scratch = malloc(scratch_n * sizeof(float));
    int32_t *x2 = NULL;
    float *dx = NULL;
    void *qscratch = NULL, *packed = NULL;
    if (x8) packed = aligned_alloc(64, (ga_x8_bytes(wtype, rows, n) + 63) & ~(size_t)63);
    if (q16) {
        x2 = aligned_alloc(64, (ga_gemm_q16_x2_bytes(n, T) + 63) & ~(size_t)63);
        dx = aligned_alloc(64, (ga_gemm_q16_dx_bytes(n, T) + 63) & ~(size_t)63);
        qscratch = aligned_alloc(64, ga_gemm_q16_scratch_bytes(n));
    }
    ga_error err = {{0}};
    ga_status st = GA_OK;
    if (!act || !res || !scratch || (q16 && (!x2 || !dx || !qscratch)) || (x8 && !packed)) {
        st = ga_fail(&err, GA_ERR_NOMEM, "out of memory");
    } else {
        const float *xd = PyArray_DATA(x);
        float *yd = PyArray_DATA(out);
        Py_BEGIN_ALLOW_THREADS
        if (f32) {
            st = ga_gemm_f32_rows(wtype, view.buf, n, xd, T, n, yd, rows, 0, rows, scratch, &err);
        } else if (q16) {
            ga_gemm_q16_pack(xd, n, n, T, 0, T, x2, dx, qscratch);
            st = ga_gemm_q16_rows(wtype, view.buf, n, x2, dx, T, yd, rows, 0, rows, qscratch, &err);
        } else {
            if (x8) ga_x8_pack(wtype, view.buf, n, 0, rows / GA_X8_ROWS, packed);
            for (int i = 0; i < T && st == GA_OK; i++) {
                st = ga_matvec_quantize_act2(wtype, xd + (int64_t)i * n, act, m_act16 ? res : NULL, n, &err);
                if (st) break;
                if (m_act16)
                    st = ga_matvec_rows2_packed(wtype, view.buf, packed, n, act, res, yd + (int64_t)i * rows, 0, rows,
                                                fused, &err);
                else st = ga_matvec_rows_packed(wtype, view.buf, packed, n, act, yd + (int64_t)i * rows, 0, rows, &err);
            }
        }
        Py_END_ALLOW_THREADS
    }
    free(act); free(res); free(scratch); free(x2); free(dx); free(qscratch); free(packed);
    PyBuffer_Release(&view);
    if (st != GA_OK) { Py_DECREF(out); return ga_py_raise(st, &err, "gemm"); }
    return (PyObject *)out;
}

/* attention_decode(q[G][d], k[n][d], v[n][d], scale, softcap, parts) -> out[G][d]: G query
 * heads at the last of n positions sharing one kv head.  parts = 0: the per-head reference
 * (ga_attention_one); parts >= 1: the grouped kernel over that many key ranges, merged. */
static PyObject *py_attention_decode(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *qo, *ko, *vo;
    float scale, softcap;
    int parts;
    if (!PyArg_ParseTuple(args, "OOOffi:attention_decode", &qo, &ko, &vo, &scale, &softcap, &parts)) return NULL;
    PyArrayObject *q = f32_array(qo, "q", 0), *k = q ? f32_array(ko, "k", 0) : NULL;
    PyArrayObject *v = k ? f32_array(vo, "v", 0) : NULL;
    if (!v) return NULL;
    if (PyArray_NDIM(q) != 2 || PyArray_NDIM(k) != 2 || PyArray_NDIM(v) != 2 || PyArray_DIM(q, 0) < 1 ||
        PyArray_DIM(k, 0) < 1 || PyArray_DIM(q, 1) < 1 || PyArray_DIM(k, 1) != PyArray_DIM(q, 1) ||
        PyArray_DIM(v, 0) != PyArray_DIM(k, 0) || PyArray_DIM(v, 1) != PyArray_DIM(q, 1))
        return PyErr_Format(PyExc_ValueError, "need q (G, d), k and v (n, d) with G, n, d >= 1");
    const int64_t G = PyArray_DIM(q, 0), n = PyArray_DIM(k, 0), d = PyArray_DIM(q, 1);
    if (parts < 0 || parts > 64 || parts > n)
        return PyErr_Format(PyExc_ValueError, "parts must be in 0..min(64, n), got %d", parts);
    if (parts > 0 && !ga_attention_group_available((int)G))
        return PyErr_Format(ga_py_Error, "the grouped kernel does not run here (no OpenBLAS, the portable "
                                         "kernel set, or G > %d)", GA_ATTN_QBLOCK);
    npy_intp dims[2] = {(npy_intp)G, (npy_intp)d};
    PyArrayObject *out = (PyArrayObject *)PyArray_SimpleNew(2, dims, NPY_FLOAT32);
    if (!out) return NULL;
    ga_attn_scratch s;
    if (ga_attn_scratch_init(&s, parts > 0 ? parts : 1, G, d, NULL) != GA_OK) {
        Py_DECREF(out);
        return PyErr_NoMemory();
    }
    const float *qd = PyArray_DATA(q), *kd = PyArray_DATA(k), *vd = PyArray_DATA(v);
    float *od = PyArray_DATA(out);
    Py_BEGIN_ALLOW_THREADS
    if (parts == 0) {
        for (int64_t g = 0; g < G; g++) {
            ga_attn_args a = {.q = qd + g * d, .out = od + g * d, .kv = {.k = kd, .v = vd, .stride = d},
                              .head_dim = d, .first = 0, .last = n - 1, .scale = scale,
                              .softcap = softcap};
            ga_attention_one(&a, &s, 0);
        }
    } else {
        for (int i = 0; i < parts; i++) {
            int64_t b, e;
            ga_split(n, i, parts, &b, &e);
            ga_attn_group_args a = {.q = qd, .kv = {.k = kd, .v = vd, .stride = d}, .head_dim = d,
                                    .first = b, .last = e - 1, .G = (int)G, .scale = scale,
                                    .softcap = softcap};
            ga_attn_partial p = ga_attn_partial_at(&s, i, 0, (int)G);
            ga_attention_group(&a, &p, &s, i);
        }
        ga_attention_merge(&s, parts, 0, (int)G, d, od);
    }
    Py_END_ALLOW_THREADS
    ga_attn_scratch_free(&s);
    return (PyObject *)out;
}

static PyObject *py_gemm_uses_blas(PyObject *self, PyObject *noargs) {
    (void)self; (void)noargs;
    return PyBool_FromLong(ga_gemm_uses_blas());
}

static PyMethodDef kernels_methods[] = {
    {"gemm", py_gemm, METH_VARARGS,
     "gemm(weight, type, rows, n, x, mode)\n--\n\nY[T][rows] = X[T][n] W^T through one of the model's matmul "
     "paths: 'act8', 'act16', 'act8_x8' / 'act16_x8' (on Q4_0 / Q5_0 rows interleaved by 8, the avx512 decode "
     "kernels), "
     "'act16_unfused', 'f32', 'q16' (the int16 GEMM of the avx512 set)."},
    {"attention_decode", py_attention_decode, METH_VARARGS,
     "attention_decode(q, k, v, scale, softcap, parts)\n--\n\nSoftmax attention of G query heads q (G, d) at "
     "the last of n positions over keys k and values v (n, d) of their shared kv head.  parts=0: the per-head "
     "reference kernel; parts>=1: the grouped decode kernel over that many key ranges, merged."},
    {"gemm_uses_blas", py_gemm_uses_blas, METH_NOARGS,
     "gemm_uses_blas()\n--\n\nWhether the f32 gemm path runs on OpenBLAS in the current kernel set."},
    {"matvec", (PyCFunction)(void (*)(void))py_matvec, METH_VARARGS | METH_KEYWORDS,
     "matvec(weight, type, rows, n, x, out=None)\n--\n\n"
     "y = W x for W (rows, n) in block format type (name or id); x float32 (n,)."},
    {"matvec_quantize_act", py_matvec_quantize_act, METH_VARARGS,
     "matvec_quantize_act(type, x, bits=8)\n--\n\nThe activation block bytes matvec computes from float32 x for "
     "type; bits=16: (hi, lo, codes) of act_bits=16 (csrc/ga_act16.h), codes the int16 codes of the AVX-512 "
     "kernels."},
    {"rmsnorm", py_rmsnorm, METH_VARARGS,
     "rmsnorm(x, weight, eps)\n--\n\nRMS norm over the last axis of a float32 array; weight may be None."},
    {"rope", py_rope, METH_VARARGS,
     "rope(x, positions, base, freq_scale, rot_dim)\n--\n\nNEOX RoPE on a copy of x (seq, n_heads, head_dim)."},
    {"gelu_tanh", py_gelu_tanh, METH_O, "gelu_tanh(x)\n--\n\nGELU (tanh approximation) of a float32 array."},
    {"gelu_tanh_mul", py_gelu_tanh_mul, METH_VARARGS,
     "gelu_tanh_mul(gate, up)\n--\n\ngelu_tanh(gate) * up for float32 arrays of one shape."},
    {"exp_f32", py_exp_f32, METH_O, "exp_f32(x)\n--\n\nexp of a float32 array (the attention's softmax exps)."},
    {"softmax", py_softmax, METH_O, "softmax(x)\n--\n\nSoftmax over the last axis of a float32 array."},
    {NULL, NULL, 0, NULL},
};

int ga_py_add_kernels(PyObject *m) { return PyModule_AddFunctions(m, kernels_methods); }
