/* py_gguf.c - _core.gguf_parse and the type tables behind GGUFFile/GGUFWriter.
 *
 * gguf_parse validates the whole header in C with the GIL released, then
 * converts keys, values and tensor infos to Python objects with it held.
 * Values are re-read from the (already validated) buffer through the same
 * bounds-checked cursor, so even a buffer changed in between cannot be
 * over-read: it only produces an error.
 */
#include "py_common.h"
#include "ga_gguf.h"
#include "ga_gguf_cursor.h"
#include "ga_types.h"

/* Numeric arrays are copied into NumPy arrays byte for byte. */
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "py_gguf.c assumes a little-endian host"
#endif

static const int NPY_OF_VTYPE[GA_GGUF_VTYPE_COUNT] = {
    [GA_GGUF_UINT8] = NPY_UINT8, [GA_GGUF_INT8] = NPY_INT8, [GA_GGUF_UINT16] = NPY_UINT16,
    [GA_GGUF_INT16] = NPY_INT16, [GA_GGUF_UINT32] = NPY_UINT32, [GA_GGUF_INT32] = NPY_INT32,
    [GA_GGUF_FLOAT32] = NPY_FLOAT32, [GA_GGUF_BOOL] = NPY_BOOL, [GA_GGUF_UINT64] = NPY_UINT64,
    [GA_GGUF_INT64] = NPY_INT64, [GA_GGUF_FLOAT64] = NPY_FLOAT64,
};

typedef struct {
    ga_gguf_cursor c;
    ga_error err;
    const char *filename;
} reader;

static PyObject *fail(reader *r, ga_status st) { return ga_py_raise(st, &r->err, r->filename); }

static PyObject *scalar_to_py(const uint8_t *p, uint32_t type) {
    uint64_t v = ga_gguf_le(p, (int)ga_gguf_vtype_size(type));
    switch (type) {
    case GA_GGUF_INT8: return PyLong_FromLong((int8_t)v);
    case GA_GGUF_INT16: return PyLong_FromLong((int16_t)v);
    case GA_GGUF_INT32: return PyLong_FromLong((int32_t)v);
    case GA_GGUF_INT64: return PyLong_FromLongLong((int64_t)v);
    case GA_GGUF_BOOL: return PyBool_FromLong(v != 0);
    case GA_GGUF_FLOAT32: {
        uint32_t bits = (uint32_t)v;
        float f;
        memcpy(&f, &bits, sizeof f);
        return PyFloat_FromDouble(f);
    }
    case GA_GGUF_FLOAT64: {
        double d;
        memcpy(&d, &v, sizeof d);
        return PyFloat_FromDouble(d);
    }
    default: return PyLong_FromUnsignedLongLong(v); /* the unsigned types */
    }
}

static PyObject *value_to_py(reader *r, uint32_t type, int depth);

/* An array: NumPy for numbers and bools, a list of str or of lists otherwise. */
static PyObject *array_to_py(reader *r, int depth) {
    uint32_t elem;
    uint64_t n;
    ga_status st = ga_gguf_read_u32(&r->c, &elem, "array element type");
    if (st == GA_OK) st = ga_gguf_read_u64(&r->c, &n, "array count");
    if (st == GA_OK && (elem >= GA_GGUF_VTYPE_COUNT || depth >= GA_GGUF_MAX_DEPTH))
        st = ga_fail(&r->err, GA_ERR_FORMAT, "bad array at offset %llu", (unsigned long long)r->c.pos);
    if (st != GA_OK) return fail(r, st);
    uint64_t size = ga_gguf_vtype_size(elem);
    if (size) {
        if (n > ga_gguf_left(&r->c) / size) return fail(r, ga_gguf_need(&r->c, UINT64_MAX, "array"));
        npy_intp dims[1] = {(npy_intp)n};
        PyObject *arr = PyArray_SimpleNew(1, dims, NPY_OF_VTYPE[elem]);
        if (!arr) return NULL;
        uint8_t *dst = PyArray_DATA((PyArrayObject *)arr);
        memcpy(dst, r->c.data + r->c.pos, n * size);
        if (elem == GA_GGUF_BOOL) /* NumPy bools must be 0 or 1 */
            for (uint64_t i = 0; i < n; i++) dst[i] = dst[i] != 0;
        r->c.pos += n * size;
        return arr;
    }
    if (n > ga_gguf_left(&r->c) / 8) return fail(r, ga_gguf_need(&r->c, UINT64_MAX, "array"));
    PyObject *list = PyList_New((Py_ssize_t)n);
    if (!list) return NULL;
    for (uint64_t i = 0; i < n; i++) {
        PyObject *item = value_to_py(r, elem, depth + 1);
        if (!item) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, item);
    }
    return list;
}

/* Strings decode with surrogateescape: a value that is not UTF-8 survives a
 * round trip through GGUFWriter unchanged. */
static PyObject *value_to_py(reader *r, uint32_t type, int depth) {
    ga_status st;
    uint64_t size = ga_gguf_vtype_size(type), off, len;
    if (size) {
        if ((st = ga_gguf_need(&r->c, size, "value")) != GA_OK) return fail(r, st);
        r->c.pos += size;
        return scalar_to_py(r->c.data + r->c.pos - size, type);
    }
    if (type == GA_GGUF_STRING) {
        if ((st = ga_gguf_read_str(&r->c, &off, &len, "string")) != GA_OK) return fail(r, st);
        return PyUnicode_DecodeUTF8((const char *)r->c.data + off, (Py_ssize_t)len, "surrogateescape");
    }
    if (type == GA_GGUF_ARRAY) return array_to_py(r, depth);
    return fail(r, ga_fail(&r->err, GA_ERR_FORMAT, "unknown value type %u", type));
}

/* "UINT32", "ARRAY[STRING]", "ARRAY[ARRAY[INT32]]" (nested: named after the
 * first inner array; "ARRAY[ARRAY]" when the outer array is empty). */
static void type_name(const uint8_t *data, uint64_t size, uint64_t off, uint32_t type, int depth,
                      char *buf, size_t cap) {
    if (type != GA_GGUF_ARRAY || depth >= GA_GGUF_MAX_DEPTH || off + 12 > size) {
        snprintf(buf, cap, "%s", ga_gguf_vtype_name(type) ? ga_gguf_vtype_name(type) : "?");
        return;
    }
    uint32_t elem = (uint32_t)ga_gguf_le(data + off, 4);
    uint64_t n = ga_gguf_le(data + off + 4, 8);
    char inner[128];
    if (elem == GA_GGUF_ARRAY && n > 0)
        type_name(data, size, off + 12, elem, depth + 1, inner, sizeof inner);
    else
        snprintf(inner, sizeof inner, "%s", ga_gguf_vtype_name(elem) ? ga_gguf_vtype_name(elem) : "?");
    snprintf(buf, cap, "ARRAY[%s]", inner);
}

static int add_metadata(reader *r, const ga_gguf *g, PyObject *values, PyObject *types) {
    for (uint64_t i = 0; i < g->n_kv; i++) {
        const ga_gguf_kv *kv = &g->kv[i];
        PyObject *key = PyUnicode_DecodeUTF8((const char *)r->c.data + kv->key_off,
                                             (Py_ssize_t)kv->key_len, "strict");
        if (!key) return -1;
        char name[160];
        type_name(r->c.data, r->c.size, kv->value_off, kv->type, 0, name, sizeof name);
        r->c.pos = kv->value_off;
        PyObject *value = value_to_py(r, kv->type, 0);
        PyObject *tname = PyUnicode_FromString(name);
        int rc = value && tname && PyDict_SetItem(values, key, value) == 0 &&
                         PyDict_SetItem(types, key, tname) == 0 ? 0 : -1;
        Py_DECREF(key);
        Py_XDECREF(value);
        Py_XDECREF(tname);
        if (rc < 0) return -1;
    }
    return 0;
}

/* [(name, shape in NumPy order, type id, absolute offset, nbytes), ...] */
static PyObject *tensor_list(const uint8_t *data, const ga_gguf *g) {
    PyObject *list = PyList_New((Py_ssize_t)g->n_tensors);
    if (!list) return NULL;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const ga_gguf_tensor *t = &g->tensors[i];
        PyObject *shape = PyTuple_New(t->n_dims);
        if (!shape) goto fail;
        for (uint32_t j = 0; j < t->n_dims; j++) {
            PyObject *dim = PyLong_FromUnsignedLongLong(t->ne[t->n_dims - 1 - j]);
            if (!dim) {
                Py_DECREF(shape);
                goto fail;
            }
            PyTuple_SET_ITEM(shape, j, dim);
        }
        PyObject *item = Py_BuildValue("(s#NIKK)", (const char *)data + t->name_off,
                                       (Py_ssize_t)t->name_len, shape, t->type,
                                       (unsigned long long)(g->data_offset + t->offset),
                                       (unsigned long long)t->nbytes);
        if (!item) goto fail;
        PyList_SET_ITEM(list, (Py_ssize_t)i, item);
    }
    return list;
fail:
    Py_DECREF(list);
    return NULL;
}

static PyObject *py_gguf_parse(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer view;
    const char *filename = NULL;
    if (!PyArg_ParseTuple(args, "y*|z:gguf_parse", &view, &filename)) return NULL;
    reader r = {{view.buf, (uint64_t)view.len, 0, NULL}, {{0}}, filename};
    r.c.err = &r.err;
    ga_gguf g;
    ga_status st;
    Py_BEGIN_ALLOW_THREADS
    st = ga_gguf_parse(view.buf, (uint64_t)view.len, &g, &r.err);
    Py_END_ALLOW_THREADS
    PyObject *result = NULL, *values = NULL, *types = NULL, *tensors = NULL;
    if (st != GA_OK) {
        ga_py_raise(st, &r.err, filename);
        goto done;
    }
    values = PyDict_New();
    types = PyDict_New();
    if (!values || !types || add_metadata(&r, &g, values, types) < 0) goto done;
    if (!(tensors = tensor_list(view.buf, &g))) goto done;
    result = Py_BuildValue("{s:I,s:I,s:K,s:O,s:O,s:O}", "version", g.version, "alignment", g.alignment,
                           "data_offset", (unsigned long long)g.data_offset, "metadata", values,
                           "metadata_types", types, "tensors", tensors);
done:
    Py_XDECREF(values);
    Py_XDECREF(types);
    Py_XDECREF(tensors);
    ga_gguf_free(&g);
    PyBuffer_Release(&view);
    return result;
}

static PyObject *py_type_table(PyObject *self, PyObject *noargs) {
    (void)self; (void)noargs;
    PyObject *table = PyDict_New();
    for (int id = 0; table && id < GA_TYPE_COUNT; id++) {
        const ga_type_info *t = ga_type_get(id);
        if (!t) continue;
        PyObject *key = PyLong_FromLong(id);
        PyObject *val = Py_BuildValue("(sLn)", t->name, (long long)t->block_size, (Py_ssize_t)t->type_size);
        if (!key || !val || PyDict_SetItem(table, key, val) < 0) Py_CLEAR(table);
        Py_XDECREF(key);
        Py_XDECREF(val);
    }
    return table;
}

static PyObject *py_gguf_value_types(PyObject *self, PyObject *noargs) {
    (void)self; (void)noargs;
    PyObject *names = PyTuple_New(GA_GGUF_VTYPE_COUNT);
    for (int i = 0; names && i < GA_GGUF_VTYPE_COUNT; i++) {
        PyObject *name = PyUnicode_FromString(ga_gguf_vtype_name(i));
        if (!name) Py_CLEAR(names);
        else PyTuple_SET_ITEM(names, i, name);
    }
    return names;
}

static PyMethodDef gguf_methods[] = {
    {"gguf_parse", py_gguf_parse, METH_VARARGS,
     "gguf_parse(buffer, filename=None)\n--\n\n"
     "Validate a whole GGUF file held in buffer and return a dict with version, alignment,\n"
     "data_offset, metadata, metadata_types and tensors [(name, shape, type_id, offset, nbytes)].\n"
     "Shapes are in NumPy order, offsets absolute.  Raises ModelFormatError naming filename."},
    {"type_table", py_type_table, METH_NOARGS,
     "type_table()\n--\n\nThe ggml type table: {type_id: (name, block_size, bytes_per_block)}."},
    {"gguf_value_types", py_gguf_value_types, METH_NOARGS,
     "gguf_value_types()\n--\n\nNames of the GGUF metadata value types, indexed by type id."},
    {NULL, NULL, 0, NULL},
};

int ga_py_add_gguf(PyObject *m) { return PyModule_AddFunctions(m, gguf_methods); }
