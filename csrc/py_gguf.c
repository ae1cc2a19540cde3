/* py_gguf.c - placeholder until the gguf bindings land. */
#include "py_common.h"

static PyMethodDef gguf_methods[] = {{NULL, NULL, 0, NULL}};

int ga_py_add_gguf(PyObject *m) { return PyModule_AddFunctions(m, gguf_methods); }
