/* py_tokenizer.c - _core.Tokenizer: a Python type around ga_tokenizer.
 *
 * The C object is immutable after construction, so encode/decode release the
 * GIL and may run from several threads at once.  Text is str (encoded as
 * UTF-8) or any bytes-like object (copied unless it is bytes, so a bytearray
 * mutated by another thread cannot change under us).
 */
#include "py_common.h"

#include "ga_tokenizer.h"

typedef struct {
    PyObject_HEAD
    ga_tokenizer *tok;
} TokenizerObject;

static void Tokenizer_dealloc(TokenizerObject *self) {
    PyTypeObject *tp = Py_TYPE(self);
    ga_tokenizer_free(self->tok);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

/* Borrowed UTF-8/bytes view of every item of seq (a PySequence_Fast result). */
static int string_items(PyObject *seq, const char *what, const char ***texts, size_t **lens) {
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    *texts = PyMem_Malloc((size_t)(n ? n : 1) * sizeof **texts);
    *lens = PyMem_Malloc((size_t)(n ? n : 1) * sizeof **lens);
    if (!*texts || !*lens) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *it = PySequence_Fast_GET_ITEM(seq, i);
        Py_ssize_t len;
        const char *s;
        if (PyUnicode_Check(it)) {
            s = PyUnicode_AsUTF8AndSize(it, &len);
            if (!s) return -1;
        } else if (PyBytes_Check(it)) {
            s = PyBytes_AS_STRING(it);
            len = PyBytes_GET_SIZE(it);
        } else {
            PyErr_Format(PyExc_TypeError, "%s[%zd] must be str or bytes, not %.80s", what, i,
                         Py_TYPE(it)->tp_name);
            return -1;
        }
        (*texts)[i] = s;
        (*lens)[i] = (size_t)len;
    }
    return 0;
}

/* 1-D array of dtype with at least n elements, or NULL with an exception; None -> Py_None. */
static PyArrayObject *vector_arg(PyObject *obj, int dtype, Py_ssize_t n, const char *what) {
    if (obj == Py_None) return NULL;
    PyArrayObject *a = (PyArrayObject *)PyArray_FROMANY(obj, dtype, 1, 1,
                                                        NPY_ARRAY_IN_ARRAY | NPY_ARRAY_FORCECAST);
    if (!a) return NULL;
    if (PyArray_DIM(a, 0) < n) {
        PyErr_Format(PyExc_ValueError, "%s has %zd entries but the vocabulary has %zd tokens", what,
                     (Py_ssize_t)PyArray_DIM(a, 0), n);
        Py_DECREF(a);
        return NULL;
    }
    return a;
}

static int parse_model(const char *model, const char *pre, ga_tokenizer_params *p) {
    if (strcmp(model, "llama") == 0) {
        p->model = GA_TOK_MODEL_SPM;
        p->pre = GA_TOK_PRE_DEFAULT;
        return 0;
    }
    if (strcmp(model, "gpt2") == 0) {
        p->model = GA_TOK_MODEL_BPE;
        /* Decode is raw bytes: llama.cpp cleans spaces when decoding "gpt-2" GGUF
         * vocabularies, which tokenizer.py refuses for GGUF files; a Hugging Face
         * tokenizer.json decodes raw bytes, so folders may use "gpt-2". */
        if (strcmp(pre, "smollm") == 0) {
            p->pre = GA_TOK_PRE_SMOLLM;
        } else if (strcmp(pre, "gpt-2") == 0) {
            p->pre = GA_TOK_PRE_GPT2;
        } else {
            PyErr_Format(ga_py_Error, "tokenizer pre-tokenizer '%s' for model 'gpt2' not supported yet", pre);
            return -1;
        }
        return 0;
    }
    PyErr_Format(ga_py_Error, "tokenizer model '%s' not supported yet", model);
    return -1;
}

static int Tokenizer_init(TokenizerObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"tokens", "scores", "types", "bos_id", "eos_id", "unk_id", "add_bos",
                             "add_space_prefix", "add_eos", "model", "pre", "merges", NULL};
    PyObject *tokens_obj, *scores_obj, *types_obj, *merges_obj = Py_None;
    int bos = -1, eos = -1, unk = -1, add_bos = 1, add_space_prefix = 1, add_eos = 0;
    const char *model = "llama", *pre = "default";
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOO|iiippp$ssO", kwlist, &tokens_obj, &scores_obj,
                                     &types_obj, &bos, &eos, &unk, &add_bos, &add_space_prefix,
                                     &add_eos, &model, &pre, &merges_obj))
        return -1;
    ga_tokenizer_params p = {0};
    if (parse_model(model, pre, &p) < 0) return -1;

    int rc = -1;
    PyObject *tokens = NULL, *merges = NULL;
    PyArrayObject *scores = NULL, *types = NULL;
    const char **texts = NULL, **mtexts = NULL;
    size_t *lens = NULL, *mlens = NULL;

    tokens = PySequence_Fast(tokens_obj, "tokens must be a sequence of str or bytes");
    if (!tokens || string_items(tokens, "tokens", &texts, &lens) < 0) goto done;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(tokens);
    scores = vector_arg(scores_obj, NPY_FLOAT32, n, "scores");
    if (!scores && PyErr_Occurred()) goto done;
    types = vector_arg(types_obj, NPY_INT32, n, "types");
    if (!types && PyErr_Occurred()) goto done;
    if (merges_obj != Py_None) {
        merges = PySequence_Fast(merges_obj, "merges must be a sequence of str or bytes");
        if (!merges || string_items(merges, "merges", &mtexts, &mlens) < 0) goto done;
        p.n_merges = PySequence_Fast_GET_SIZE(merges);
        p.merges = mtexts;
        p.merge_lens = mlens;
    }
    p.n_vocab = n;
    p.texts = texts;
    p.text_lens = lens;
    p.scores = scores ? (const float *)PyArray_DATA(scores) : NULL;
    p.types = types ? (const int32_t *)PyArray_DATA(types) : NULL;
    p.bos_id = bos;
    p.eos_id = eos;
    p.unk_id = unk;
    p.add_bos = add_bos;
    p.add_eos = add_eos;
    p.add_space_prefix = add_space_prefix;

    ga_tokenizer *tok = NULL;
    ga_error err = {{0}};
    ga_status st;
    Py_BEGIN_ALLOW_THREADS
    st = ga_tokenizer_new(&tok, &p, &err);
    Py_END_ALLOW_THREADS
    if (st != GA_OK) {
        ga_py_raise(st, &err, NULL);
        goto done;
    }
    ga_tokenizer_free(self->tok);
    self->tok = tok;
    rc = 0;
done:
    PyMem_Free(texts);
    PyMem_Free(lens);
    PyMem_Free(mtexts);
    PyMem_Free(mlens);
    Py_XDECREF(tokens);
    Py_XDECREF(merges);
    Py_XDECREF(scores);
    Py_XDECREF(types);
    return rc;
}

static int check_ready(TokenizerObject *self) {
    if (!self->tok) {
        PyErr_SetString(PyExc_ValueError, "Tokenizer is not initialized");
        return -1;
    }
    return 0;
}

/* Text argument as bytes: str -> UTF-8 (borrowed from the str), bytes ->
 * itself, other buffers -> a private copy.  *keep holds what must stay alive. */
static int text_arg(PyObject *obj, const char **s, Py_ssize_t *len, PyObject **keep) {
    if (PyUnicode_Check(obj)) {
        *s = PyUnicode_AsUTF8AndSize(obj, len);
        if (!*s) return -1;
        Py_INCREF(obj);
        *keep = obj;
        return 0;
    }
    if (PyBytes_Check(obj)) {
        Py_INCREF(obj);
        *keep = obj;
    } else {
        *keep = PyBytes_FromObject(obj);
        if (!*keep) return -1;
    }
    *s = PyBytes_AS_STRING(*keep);
    *len = PyBytes_GET_SIZE(*keep);
    return 0;
}

PyDoc_STRVAR(encode_doc,
             "encode(text, add_bos=True, special=False)\n--\n\n"
             "Token ids of text (str or bytes), as llama_tokenize(add_special=add_bos,\n"
             "parse_special=special).");

static PyObject *Tokenizer_encode(TokenizerObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"text", "add_bos", "special", NULL};
    PyObject *text_obj, *keep = NULL, *result = NULL;
    int add_bos = 1, special = 0;
    if (check_ready(self) < 0) return NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|pp", kwlist, &text_obj, &add_bos, &special))
        return NULL;
    const char *s;
    Py_ssize_t len;
    if (text_arg(text_obj, &s, &len, &keep) < 0) return NULL;

    int64_t cap = (int64_t)len + 16, n = 0;
    int32_t *ids = NULL;
    ga_error err = {{0}};
    ga_status st = GA_OK;
    for (int attempt = 0; attempt < 2; attempt++) {
        PyMem_RawFree(ids);
        ids = PyMem_RawMalloc((size_t)cap * sizeof *ids);
        if (!ids) {
            PyErr_NoMemory();
            goto done;
        }
        Py_BEGIN_ALLOW_THREADS
        st = ga_tokenizer_encode(self->tok, s, (size_t)len, add_bos, special, ids, cap, &n, &err);
        Py_END_ALLOW_THREADS
        if (st != GA_OK || n <= cap) break;
        cap = n;
    }
    if (st != GA_OK) {
        ga_py_raise(st, &err, NULL);
        goto done;
    }
    result = PyList_New((Py_ssize_t)n);
    if (!result) goto done;
    for (int64_t i = 0; i < n; i++) {
        PyObject *v = PyLong_FromLong(ids[i]);
        if (!v) {
            Py_CLEAR(result);
            goto done;
        }
        PyList_SET_ITEM(result, (Py_ssize_t)i, v);
    }
done:
    PyMem_RawFree(ids);
    Py_XDECREF(keep);
    return result;
}

/* Decoded bytes of ids (a sequence of ints or an integer array). */
static PyObject *decode_to_bytes(TokenizerObject *self, PyObject *ids_obj, int special) {
    PyArrayObject *arr = (PyArrayObject *)PyArray_FROMANY(ids_obj, NPY_INT64, 1, 1,
                                                          NPY_ARRAY_IN_ARRAY | NPY_ARRAY_FORCECAST);
    if (!arr) return NULL;
    npy_intp n = PyArray_DIM(arr, 0);
    const int64_t *src = (const int64_t *)PyArray_DATA(arr);
    int64_t n_vocab = ga_tokenizer_n_vocab(self->tok);
    int32_t *ids = PyMem_Malloc((size_t)(n ? n : 1) * sizeof *ids);
    PyObject *result = NULL;
    char *buf = NULL;
    if (!ids) {
        PyErr_NoMemory();
        goto done;
    }
    for (npy_intp i = 0; i < n; i++) {
        if (src[i] < 0 || src[i] >= n_vocab) {
            PyErr_Format(PyExc_ValueError, "token id %lld at position %zd is outside the vocabulary (0..%lld)",
                         (long long)src[i], (Py_ssize_t)i, (long long)n_vocab - 1);
            goto done;
        }
        ids[i] = (int32_t)src[i];
    }
    size_t cap = (size_t)n * 8 + 16, total = 0;
    ga_error err = {{0}};
    ga_status st = GA_OK;
    for (int attempt = 0; attempt < 2; attempt++) {
        PyMem_RawFree(buf);
        buf = PyMem_RawMalloc(cap);
        if (!buf) {
            PyErr_NoMemory();
            goto done;
        }
        Py_BEGIN_ALLOW_THREADS
        st = ga_tokenizer_decode(self->tok, ids, (int64_t)n, special, buf, cap, &total, &err);
        Py_END_ALLOW_THREADS
        if (st != GA_OK || total <= cap) break;
        cap = total;
    }
    if (st != GA_OK) {
        ga_py_raise(st, &err, NULL);
        goto done;
    }
    result = PyBytes_FromStringAndSize(buf, (Py_ssize_t)total);
done:
    PyMem_RawFree(buf);
    PyMem_Free(ids);
    Py_DECREF(arr);
    return result;
}

PyDoc_STRVAR(decode_bytes_doc,
             "decode_bytes(ids, special=False)\n--\n\n"
             "Concatenated token bytes, as llama_detokenize(remove_special=False,\n"
             "unparse_special=special).  An id outside the vocabulary is a ValueError.");

static PyObject *Tokenizer_decode_bytes(TokenizerObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"ids", "special", NULL};
    PyObject *ids;
    int special = 0;
    if (check_ready(self) < 0) return NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|p", kwlist, &ids, &special)) return NULL;
    return decode_to_bytes(self, ids, special);
}

PyDoc_STRVAR(decode_doc,
             "decode(ids, special=False)\n--\n\n"
             "decode_bytes(ids, special) as str (UTF-8, invalid sequences replaced by U+FFFD).");

static PyObject *Tokenizer_decode(TokenizerObject *self, PyObject *args, PyObject *kwds) {
    PyObject *b = Tokenizer_decode_bytes(self, args, kwds);
    if (!b) return NULL;
    PyObject *s = PyUnicode_DecodeUTF8(PyBytes_AS_STRING(b), PyBytes_GET_SIZE(b), "replace");
    Py_DECREF(b);
    return s;
}

PyDoc_STRVAR(token_to_piece_doc,
             "token_to_piece(id, special=False)\n--\n\n"
             "Bytes of one token, as llama_token_to_piece(lstrip=0): CONTROL and UNKNOWN\n"
             "tokens are empty unless special.");

static PyObject *Tokenizer_token_to_piece(TokenizerObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"id", "special", NULL};
    long long id;
    int special = 0;
    if (check_ready(self) < 0) return NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "L|p", kwlist, &id, &special)) return NULL;
    if (id < 0 || id >= ga_tokenizer_n_vocab(self->tok))
        return PyErr_Format(PyExc_ValueError, "token id %lld is outside the vocabulary (0..%lld)", id,
                            (long long)ga_tokenizer_n_vocab(self->tok) - 1);
    char small[256];
    size_t n = 0;
    ga_error err = {{0}};
    ga_status st = ga_tokenizer_token_to_piece(self->tok, (int32_t)id, special, small, sizeof small, &n, &err);
    if (st != GA_OK) return ga_py_raise(st, &err, NULL);
    if (n <= sizeof small) return PyBytes_FromStringAndSize(small, (Py_ssize_t)n);
    PyObject *b = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)n);
    if (!b) return NULL;
    ga_tokenizer_token_to_piece(self->tok, (int32_t)id, special, PyBytes_AS_STRING(b), n, &n, &err);
    return b;
}

PyDoc_STRVAR(piece_to_id_doc,
             "piece_to_id(piece)\n--\n\n"
             "Id of the vocabulary entry whose text is exactly piece (str or bytes), or -1.");

static PyObject *Tokenizer_piece_to_id(TokenizerObject *self, PyObject *arg) {
    const char *s;
    Py_ssize_t len;
    PyObject *keep = NULL;
    if (check_ready(self) < 0) return NULL;
    if (text_arg(arg, &s, &len, &keep) < 0) return NULL;
    int32_t id = ga_tokenizer_piece_to_id(self->tok, s, (size_t)len);
    Py_DECREF(keep);
    return PyLong_FromLong(id);
}

static PyObject *Tokenizer_get_n_vocab(TokenizerObject *self, void *closure) {
    (void)closure;
    if (check_ready(self) < 0) return NULL;
    return PyLong_FromLongLong(ga_tokenizer_n_vocab(self->tok));
}

static PyMethodDef Tokenizer_methods[] = {
    {"encode", (PyCFunction)(void (*)(void))Tokenizer_encode, METH_VARARGS | METH_KEYWORDS, encode_doc},
    {"decode", (PyCFunction)(void (*)(void))Tokenizer_decode, METH_VARARGS | METH_KEYWORDS, decode_doc},
    {"decode_bytes", (PyCFunction)(void (*)(void))Tokenizer_decode_bytes, METH_VARARGS | METH_KEYWORDS,
     decode_bytes_doc},
    {"token_to_piece", (PyCFunction)(void (*)(void))Tokenizer_token_to_piece, METH_VARARGS | METH_KEYWORDS,
     token_to_piece_doc},
    {"piece_to_id", (PyCFunction)Tokenizer_piece_to_id, METH_O, piece_to_id_doc},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Tokenizer_getset[] = {
    {"n_vocab", (getter)Tokenizer_get_n_vocab, NULL, "number of tokens in the vocabulary", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyDoc_STRVAR(Tokenizer_doc,
             "Tokenizer(tokens, scores, types, bos_id=-1, eos_id=-1, unk_id=-1, add_bos=True,\n"
             "          add_space_prefix=True, add_eos=False, *, model='llama', pre='default', merges=None)\n"
             "--\n\n"
             "GGUF vocabulary tokenizer in C, matching llama.cpp. tokens: list of str/bytes;\n"
             "scores: float32 per token (or None); types: int32 llama token types (or None).");

static PyType_Slot Tokenizer_slots[] = {
    {Py_tp_dealloc, Tokenizer_dealloc},
    {Py_tp_init, Tokenizer_init},
    {Py_tp_new, PyType_GenericNew},
    {Py_tp_methods, Tokenizer_methods},
    {Py_tp_getset, Tokenizer_getset},
    {Py_tp_doc, (void *)Tokenizer_doc},
    {0, NULL},
};

static PyType_Spec Tokenizer_spec = {
    "gemma_accel._core.Tokenizer", sizeof(TokenizerObject), 0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE, Tokenizer_slots,
};

int ga_py_add_tokenizer(PyObject *m) {
    PyObject *type = PyType_FromSpec(&Tokenizer_spec);
    if (!type) return -1;
    int rc = PyModule_AddObjectRef(m, "Tokenizer", type);
    Py_DECREF(type);
    return rc;
}
