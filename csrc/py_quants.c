/* py_quants.c - placeholder until the quants bindings land. */
#include "py_common.h"

static PyMethodDef quants_methods[] = {{NULL, NULL, 0, NULL}};

int ga_py_add_quants(PyObject *m) { return PyModule_AddFunctions(m, quants_methods); }
