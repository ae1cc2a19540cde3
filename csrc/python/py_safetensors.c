/* py_safetensors.c - _core.safetensors_parse and the bf16/f16 -> f32 converters.
 *
 * Python maps the file and passes the mapping; C validates the header with
 * the GIL released and hands back plain Python objects.  Tensor bytes are
 * never copied here: gemma_accel/safetensors_file.py makes NumPy views.
 */
#include "py_common.h"

#include "ga_safetensors.h"

#define GIL_MINELEMS 4096

/* (name, dtype, shape tuple, absolute offset, nbytes) */
static PyObject *tensor_tuple(const ga_st_file *f, const ga_st_tensor *t) {
    PyObject *shape = PyTuple_New(t->shape->count);
    if (!shape) return NULL;
    Py_ssize_t i = 0;
    for (const ga_json_value *d = ga_json_first(&f->doc, t->shape); d; d = ga_json_next(&f->doc, d)) {
        PyObject *dim = PyLong_FromUnsignedLongLong(d->u64);
        if (!dim) { Py_DECREF(shape); return NULL; }
        PyTuple_SET_ITEM(shape, i++, dim);
    }
    return Py_BuildValue("(s#sNKK)", t->name, (Py_ssize_t)t->name_len, ga_st_dtype_name(t->dtype),
                         shape, (unsigned long long)(f->data_start + t->begin),
                         (unsigned long long)(t->end - t->begin));
}

static PyObject *metadata_dict(const ga_st_file *f) {
    PyObject *meta = PyDict_New();
    if (!meta || !f->metadata) return meta;
    for (const ga_json_value *m = ga_json_first(&f->doc, f->metadata); m; m = ga_json_next(&f->doc, m)) {
        PyObject *k = PyUnicode_DecodeUTF8(m->key, (Py_ssize_t)m->key_len, "strict");
        PyObject *v = k ? PyUnicode_DecodeUTF8(m->str, (Py_ssize_t)m->len, "strict") : NULL;
        int bad = !v || PyDict_SetItem(meta, k, v) < 0;
        Py_XDECREF(k);
        Py_XDECREF(v);
        if (bad) { Py_DECREF(meta); return NULL; }
    }
    return meta;
}

static PyObject *header_dict(const ga_st_file *f) {
    PyObject *tensors = PyList_New((Py_ssize_t)f->n_tensors);
    if (!tensors) return NULL;
    for (size_t i = 0; i < f->n_tensors; i++) {
        PyObject *t = tensor_tuple(f, &f->tensors[i]);
        if (!t) { Py_DECREF(tensors); return NULL; }
        PyList_SET_ITEM(tensors, (Py_ssize_t)i, t);
    }
    PyObject *meta = metadata_dict(f);
    if (!meta) { Py_DECREF(tensors); return NULL; }
    return Py_BuildValue("{s:N,s:N,s:K,s:K}", "metadata", meta, "tensors", tensors,
                         "header_length", (unsigned long long)f->header_len,
                         "data_offset", (unsigned long long)f->data_start);
}

PyDoc_STRVAR(safetensors_parse_doc,
"safetensors_parse(buffer, filename=None)\n--\n\n"
"Validate a whole safetensors file's bytes; return {'metadata': {str: str},\n"
"'tensors': [(name, dtype, shape, absolute_offset, nbytes)] sorted by offset,\n"
"'header_length': N, 'data_offset': 8 + N}.  Raises ModelFormatError naming\n"
"filename and the problem.");

static PyObject *py_safetensors_parse(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer buf;
    const char *filename = NULL;
    if (!PyArg_ParseTuple(args, "y*|z:safetensors_parse", &buf, &filename)) return NULL;
    ga_st_file f;
    ga_error err = {{0}};
    ga_status st;
    Py_BEGIN_ALLOW_THREADS
    st = ga_st_parse(&f, buf.buf, (uint64_t)buf.len, &err);
    Py_END_ALLOW_THREADS
    PyObject *result = st ? ga_py_raise(st, &err, filename) : header_dict(&f);
    ga_st_free(&f);
    PyBuffer_Release(&buf);
    return result;
}

typedef void (*widen_fn)(float *dst, const uint8_t *src, size_t n);

/* Shared body of bf16_to_f32 / f16_to_f32: src bytes -> out (float32, C order). */
static PyObject *widen_16(PyObject *args, const char *fmt, widen_fn fn) {
    Py_buffer src;
    PyArrayObject *out;
    if (!PyArg_ParseTuple(args, fmt, &src, &PyArray_Type, &out)) return NULL;
    PyObject *res = NULL;
    if (PyArray_TYPE(out) != NPY_FLOAT32 || !PyArray_IS_C_CONTIGUOUS(out) ||
        !PyArray_ISWRITEABLE(out) || !PyArray_ISNOTSWAPPED(out)) {
        PyErr_SetString(PyExc_ValueError, "out must be a writeable C-contiguous float32 array");
        goto done;
    }
    npy_intp n = PyArray_SIZE(out);
    if (src.len != 2 * (Py_ssize_t)n) {
        PyErr_Format(PyExc_ValueError, "src has %zd bytes but out has %zd elements (needs %zd bytes)",
                     src.len, (Py_ssize_t)n, 2 * (Py_ssize_t)n);
        goto done;
    }
    if (n >= GIL_MINELEMS) {
        Py_BEGIN_ALLOW_THREADS
        fn(PyArray_DATA(out), src.buf, (size_t)n);
        Py_END_ALLOW_THREADS
    } else {
        fn(PyArray_DATA(out), src.buf, (size_t)n);
    }
    res = Py_NewRef(Py_None);
done:
    PyBuffer_Release(&src);
    return res;
}

PyDoc_STRVAR(bf16_to_f32_doc,
"bf16_to_f32(src, out)\n--\n\n"
"Widen little-endian bfloat16 bytes (any alignment) into out, a writeable\n"
"C-contiguous float32 array with len(src) // 2 elements.  Exact.");

static PyObject *py_bf16_to_f32(PyObject *self, PyObject *args) {
    (void)self;
    return widen_16(args, "y*O!:bf16_to_f32", ga_st_bf16_to_f32);
}

PyDoc_STRVAR(f16_to_f32_doc,
"f16_to_f32(src, out)\n--\n\n"
"Widen little-endian IEEE half bytes (any alignment) into out, a writeable\n"
"C-contiguous float32 array with len(src) // 2 elements.  Exact.");

static PyObject *py_f16_to_f32(PyObject *self, PyObject *args) {
    (void)self;
    return widen_16(args, "y*O!:f16_to_f32", ga_st_f16_to_f32);
}

static PyMethodDef safetensors_methods[] = {
    {"safetensors_parse", py_safetensors_parse, METH_VARARGS, safetensors_parse_doc},
    {"bf16_to_f32", py_bf16_to_f32, METH_VARARGS, bf16_to_f32_doc},
    {"f16_to_f32", py_f16_to_f32, METH_VARARGS, f16_to_f32_doc},
    {NULL, NULL, 0, NULL},
};

int ga_py_add_safetensors(PyObject *m) { return PyModule_AddFunctions(m, safetensors_methods); }
