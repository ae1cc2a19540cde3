/* py_common.h - shared pieces of the CPython/NumPy binding layer (py_*.c).
 *
 * Only py_*.c files include Python.h; the ga_*.c core stays plain C11.
 * Each py_<topic>.c defines ga_py_add_<topic>(module), called from
 * py_module.c, which adds that topic's functions to gemma_accel._core.
 */
#ifndef GA_PY_COMMON_H
#define GA_PY_COMMON_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#define PY_ARRAY_UNIQUE_SYMBOL ga_ARRAY_API
#ifndef GA_IMPORT_ARRAY
#define NO_IMPORT_ARRAY
#endif
#include <numpy/arrayobject.h>

#include "ga_common.h"

/* gemma_accel.Error and gemma_accel.ModelFormatError(Error, ValueError). */
extern PyObject *ga_py_Error;
extern PyObject *ga_py_ModelFormatError;
/* gemma_accel.ModelClosedError(Error, RuntimeError): a call on a closed model. */
extern PyObject *ga_py_ModelClosedError;

/* Sets the Python exception matching status, with err's message; returns NULL.
 * context (may be NULL) is prefixed, e.g. the file name: "model.gguf: ...". */
PyObject *ga_py_raise(ga_status status, const ga_error *err, const char *context);

int ga_py_add_info(PyObject *m);
int ga_py_add_gguf(PyObject *m);
int ga_py_add_safetensors(PyObject *m);
int ga_py_add_quants(PyObject *m);
int ga_py_add_kernels(PyObject *m);
int ga_py_add_tokenizer(PyObject *m);
int ga_py_add_model(PyObject *m);
int ga_py_add_backend_ops(PyObject *m);

/* The hparams dict of _core.Model (py_model.c) into hp; -1 with an exception set. */
int ga_py_parse_hparams(PyObject *dict, void *hp); /* hp: a ga_hparams */

#endif
