/* py_safetensors.c - placeholder until the safetensors bindings land. */
#include "py_common.h"

static PyMethodDef safetensors_methods[] = {{NULL, NULL, 0, NULL}};

int ga_py_add_safetensors(PyObject *m) { return PyModule_AddFunctions(m, safetensors_methods); }
