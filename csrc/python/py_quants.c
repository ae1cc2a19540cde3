/* py_quants.c - _core.dequantize / quantize / type_info: the block formats
 * on Python buffers.
 *
 * Inputs are checked with the GIL held (type, counts, byte length, dtype,
 * contiguity, alignment) and raise ValueError with the numbers involved;
 * the conversion itself runs with the GIL released.  Every Py_buffer taken is
 * released on every path.
 */
#include "py_common.h"

#include <stdint.h>
#include <string.h>

#include "ga_quants.h"
#include "ga_types.h"

/* Type id and element count checks shared by both directions; sets *nbytes.
 * Returns the type info, or NULL with an exception set. */
static const ga_type_info *check_type_count(int type, long long n, int quantizing, uint64_t *nbytes) {
    const ga_type_info *t = ga_type_get(type);
    if (!t) {
        PyErr_Format(PyExc_ValueError, "unknown tensor type id %d", type);
        return NULL;
    }
    if (quantizing ? !ga_can_quantize(type) : !ga_can_dequantize(type)) {
        PyErr_Format(ga_py_Error, "cannot %s type %s (not supported)",
                     quantizing ? "quantize to" : "dequantize", t->name);
        return NULL;
    }
    if (n < 0) {
        PyErr_Format(PyExc_ValueError, "element count must be >= 0, got %lld", n);
        return NULL;
    }
    if (n % t->block_size) {
        PyErr_Format(PyExc_ValueError, "%lld elements is not a multiple of %s's block size %lld",
                     n, t->name, (long long)t->block_size);
        return NULL;
    }
    if (ga_mul_overflow((uint64_t)n / (uint64_t)t->block_size, t->type_size, nbytes) ||
        *nbytes > (uint64_t)PY_SSIZE_T_MAX) {
        PyErr_Format(PyExc_ValueError, "%lld %s elements do not fit in memory", n, t->name);
        return NULL;
    }
    return t;
}

/* PyObject_GetBuffer, with a non-contiguous exporter reported as ValueError. */
static int get_buffer(PyObject *obj, Py_buffer *view, int flags, const char *what) {
    if (PyObject_GetBuffer(obj, view, flags) == 0) return 0;
    if (PyErr_ExceptionMatches(PyExc_BufferError)) {
        PyErr_Clear();
        PyErr_Format(PyExc_ValueError, "%s must be a C-contiguous buffer", what);
    }
    return -1;
}

PyDoc_STRVAR(dequantize_doc,
"dequantize(data, type_id, n_elements)\n--\n\n"
"Decode n_elements values of ggml type type_id from the bytes of data (any\n"
"C-contiguous buffer of exactly the right length) into a new 1-D float32 array.");

static PyObject *py_dequantize(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *data;
    int type;
    long long n;
    if (!PyArg_ParseTuple(args, "OiL:dequantize", &data, &type, &n)) return NULL;
    uint64_t nbytes;
    const ga_type_info *t = check_type_count(type, n, 0, &nbytes);
    if (!t) return NULL;

    Py_buffer view;
    if (get_buffer(data, &view, PyBUF_SIMPLE, "data") < 0) return NULL;
    if ((uint64_t)view.len != nbytes) {
        PyErr_Format(PyExc_ValueError, "%lld %s elements need %llu bytes, got %zd", n, t->name,
                     (unsigned long long)nbytes, view.len);
        PyBuffer_Release(&view);
        return NULL;
    }
    npy_intp dims[1] = {(npy_intp)n};
    PyObject *out = PyArray_SimpleNew(1, dims, NPY_FLOAT32);
    if (!out) {
        PyBuffer_Release(&view);
        return NULL;
    }
    ga_error err = {{0}};
    ga_status st;
    Py_BEGIN_ALLOW_THREADS
    st = ga_dequantize(type, view.buf, (float *)PyArray_DATA((PyArrayObject *)out), (int64_t)n, &err);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    if (st != GA_OK) {
        Py_DECREF(out);
        return ga_py_raise(st, &err, NULL);
    }
    return out;
}

/* Native float32 buffer formats ('f', '<f', '=f' on little-endian hosts). */
static int is_native_float32(const Py_buffer *view) {
    const char *f = view->format ? view->format : "B";
    if (view->itemsize != 4) return 0;
    if (f[0] == '@' || f[0] == '=' || f[0] == '<') f++;
    return strcmp(f, "f") == 0;
}

PyDoc_STRVAR(quantize_doc,
"quantize(x, type_id)\n--\n\n"
"Round-to-nearest quantize the float32 values of x (a C-contiguous, aligned\n"
"buffer of at least one dimension, taken as flat) to ggml type type_id;\n"
"returns a new 1-D uint8 array of the blocks.");

static PyObject *py_quantize(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *x;
    int type;
    if (!PyArg_ParseTuple(args, "Oi:quantize", &x, &type)) return NULL;
    if (!ga_type_get(type)) return PyErr_Format(PyExc_ValueError, "unknown tensor type id %d", type);

    Py_buffer view;
    if (get_buffer(x, &view, PyBUF_FORMAT | PyBUF_C_CONTIGUOUS, "x") < 0) return NULL;
    PyObject *out = NULL;
    if (!is_native_float32(&view)) {
        PyErr_Format(PyExc_ValueError, "x must hold native float32 values, got buffer format '%s'",
                     view.format ? view.format : "B");
        goto done;
    }
    if (view.ndim == 0) {
        PyErr_SetString(PyExc_ValueError, "x must have at least one dimension, got a scalar");
        goto done;
    }
    if ((uintptr_t)view.buf % sizeof(float)) {
        PyErr_SetString(PyExc_ValueError, "x must be 4-byte aligned");
        goto done;
    }
    const long long n = (long long)(view.len / 4);
    uint64_t nbytes;
    if (!check_type_count(type, n, 1, &nbytes)) goto done;
    npy_intp dims[1] = {(npy_intp)nbytes};
    out = PyArray_SimpleNew(1, dims, NPY_UINT8);
    if (!out) goto done;
    ga_error err = {{0}};
    ga_status st;
    Py_BEGIN_ALLOW_THREADS
    st = ga_quantize(type, (const float *)view.buf, PyArray_DATA((PyArrayObject *)out), (int64_t)n, &err);
    Py_END_ALLOW_THREADS
    if (st != GA_OK) {
        Py_CLEAR(out);
        ga_py_raise(st, &err, NULL);
    }
done:
    PyBuffer_Release(&view);
    return out;
}

PyDoc_STRVAR(type_info_doc,
"type_info(id_or_name)\n--\n\n"
"Facts about one ggml type, by id (12) or name ('Q4_K', any case): a dict with\n"
"id, name, block_size, type_size, can_dequantize, can_quantize.  ValueError\n"
"for an unknown type.");

static PyObject *py_type_info(PyObject *self, PyObject *arg) {
    (void)self;
    long long id;
    if (PyUnicode_Check(arg)) {
        const char *name = PyUnicode_AsUTF8(arg);
        if (!name) return NULL;
        id = ga_type_from_name(name);
    } else if (PyLong_Check(arg)) {
        int overflow;
        id = PyLong_AsLongLongAndOverflow(arg, &overflow);
        if (id == -1 && PyErr_Occurred()) return NULL;
        if (overflow) id = -1;
    } else {
        return PyErr_Format(PyExc_TypeError, "type must be an int id or a name, not %.100s",
                            Py_TYPE(arg)->tp_name);
    }
    const ga_type_info *t = ga_type_get(id);
    if (!t) return PyErr_Format(PyExc_ValueError, "unknown tensor type %R", arg);
    const int type = (int)id;
    return Py_BuildValue("{s:i,s:s,s:L,s:n,s:O,s:O}", "id", type, "name", t->name, "block_size",
                         (long long)t->block_size, "type_size", (Py_ssize_t)t->type_size,
                         "can_dequantize", ga_can_dequantize(type) ? Py_True : Py_False,
                         "can_quantize", ga_can_quantize(type) ? Py_True : Py_False);
}

static PyMethodDef quants_methods[] = {
    {"dequantize", py_dequantize, METH_VARARGS, dequantize_doc},
    {"quantize", py_quantize, METH_VARARGS, quantize_doc},
    {"type_info", py_type_info, METH_O, type_info_doc},
    {NULL, NULL, 0, NULL},
};

int ga_py_add_quants(PyObject *m) { return PyModule_AddFunctions(m, quants_methods); }
