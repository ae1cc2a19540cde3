/* py_module.c - module init for gemma_accel._core: exceptions, NumPy import,
 * and the per-topic function tables. */
#define GA_IMPORT_ARRAY
#include "py_common.h"

PyObject *ga_py_Error = NULL;
PyObject *ga_py_ModelFormatError = NULL;
PyObject *ga_py_ModelClosedError = NULL;
PyObject *ga_py_DeviceError = NULL;
PyObject *ga_py_DeviceMemoryError = NULL;

PyObject *ga_py_raise(ga_status status, const ga_error *err, const char *context) {
    PyObject *type;
    switch (status) {
    case GA_ERR_FORMAT: type = ga_py_ModelFormatError; break;
    case GA_ERR_ARG: type = PyExc_ValueError; break;
    case GA_ERR_NOMEM: type = PyExc_MemoryError; break;
    case GA_ERR_IO: type = PyExc_OSError; break;
    case GA_ERR_INTERRUPT: type = PyExc_KeyboardInterrupt; break;
    case GA_ERR_DEVICE: type = ga_py_DeviceError; break;
    case GA_ERR_DEVICE_MEMORY: type = ga_py_DeviceMemoryError; break;
    default: type = ga_py_Error; break;
    }
    const char *msg = err && err->msg[0] ? err->msg : "unknown error";
    if (context && context[0])
        PyErr_Format(type, "%s: %s", context, msg);
    else
        PyErr_SetString(type, msg);
    return NULL;
}

static struct PyModuleDef core_module = {
    PyModuleDef_HEAD_INIT, "gemma_accel._core",
    "C core of gemma_accel: file parsers, block formats and kernels.", -1, NULL,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__core(void) {
    import_array();
    PyObject *m = PyModule_Create(&core_module);
    if (!m) return NULL;
    ga_py_Error = PyErr_NewExceptionWithDoc(
        "gemma_accel.Error", "Base class of every error gemma_accel raises on purpose.", NULL, NULL);
    if (!ga_py_Error) goto fail;
    PyObject *bases = PyTuple_Pack(2, ga_py_Error, PyExc_ValueError);
    if (!bases) goto fail;
    ga_py_ModelFormatError = PyErr_NewExceptionWithDoc(
        "gemma_accel.ModelFormatError",
        "A model file is malformed, truncated or hostile; the message names the file and the problem.",
        bases, NULL);
    Py_DECREF(bases);
    if (!ga_py_ModelFormatError) goto fail;
    bases = PyTuple_Pack(2, ga_py_Error, PyExc_RuntimeError);
    if (!bases) goto fail;
    ga_py_ModelClosedError = PyErr_NewExceptionWithDoc(
        "gemma_accel.ModelClosedError", "The model was closed (a stream from it cannot go on).", bases, NULL);
    Py_DECREF(bases);
    if (!ga_py_ModelClosedError) goto fail;
    ga_py_DeviceError = PyErr_NewExceptionWithDoc(
        "gemma_accel.DeviceError",
        "The accelerator failed during a call (a lost Vulkan device); the model cannot go on, a new load can.",
        ga_py_Error, NULL);
    if (!ga_py_DeviceError) goto fail;
    bases = PyTuple_Pack(2, ga_py_Error, PyExc_MemoryError);
    if (!bases) goto fail;
    ga_py_DeviceMemoryError = PyErr_NewExceptionWithDoc(
        "gemma_accel.DeviceMemoryError",
        "The model does not fit the accelerator's memory (or the budget); the message says how much was needed "
        "and how much was available.", bases, NULL);
    Py_DECREF(bases);
    if (!ga_py_DeviceMemoryError) goto fail;
    if (PyModule_AddObjectRef(m, "Error", ga_py_Error) < 0) goto fail;
    if (PyModule_AddObjectRef(m, "DeviceError", ga_py_DeviceError) < 0) goto fail;
    if (PyModule_AddObjectRef(m, "DeviceMemoryError", ga_py_DeviceMemoryError) < 0) goto fail;
    if (PyModule_AddObjectRef(m, "ModelClosedError", ga_py_ModelClosedError) < 0) goto fail;
    if (PyModule_AddObjectRef(m, "ModelFormatError", ga_py_ModelFormatError) < 0) goto fail;
    if (ga_py_add_info(m) < 0 || ga_py_add_gguf(m) < 0 || ga_py_add_safetensors(m) < 0 ||
        ga_py_add_quants(m) < 0 || ga_py_add_kernels(m) < 0 || ga_py_add_tokenizer(m) < 0 ||
        ga_py_add_model(m) < 0 || ga_py_add_backend_ops(m) < 0)
        goto fail;
    return m;
fail:
    Py_DECREF(m);
    return NULL;
}
