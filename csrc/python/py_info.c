/* py_info.c - build and CPU facts for gemma_accel.info(), kernel-set switch. */
#include "py_common.h"
#include "ga_cpu.h"
#include "ga_membw.h"
#include "ga_threadpool.h"

#if defined(__SANITIZE_ADDRESS__)
#define GA_SANITIZED_BUILD Py_True
#else
#define GA_SANITIZED_BUILD Py_False
#endif

static PyObject *py_cpu_info(PyObject *self, PyObject *noargs) {
    (void)self; (void)noargs;
    const ga_cpu_features *f = ga_cpu_get();
#ifdef GA_HAVE_OPENBLAS
    PyObject *blas = Py_True;
#else
    PyObject *blas = Py_False;
#endif
    PyObject *feat = Py_BuildValue("{s:O,s:O,s:O,s:O,s:O,s:O,s:O,s:O,s:O,s:O}",
        "sse3", f->sse3 ? Py_True : Py_False, "ssse3", f->ssse3 ? Py_True : Py_False,
        "avx", f->avx ? Py_True : Py_False, "avx2", f->avx2 ? Py_True : Py_False,
        "fma", f->fma ? Py_True : Py_False, "f16c", f->f16c ? Py_True : Py_False,
        "avx512f", f->avx512f ? Py_True : Py_False, "avx512bw", f->avx512bw ? Py_True : Py_False,
        "avx512vl", f->avx512vl ? Py_True : Py_False, "avx512vnni", f->avx512vnni ? Py_True : Py_False);
    PyObject *sets = PyList_New(0);
    for (int s = GA_KSET_PORTABLE; feat && sets && s <= GA_KSET_AVX512; s++) {
        if (!ga_kernel_set_runnable((ga_kernel_set)s)) continue;
        PyObject *name = PyUnicode_FromString(ga_kernel_set_name((ga_kernel_set)s));
        if (!name || PyList_Append(sets, name) < 0) { Py_XDECREF(name); Py_CLEAR(sets); break; }
        Py_DECREF(name);
    }
    if (!feat || !sets) { Py_XDECREF(feat); Py_XDECREF(sets); return NULL; }
    return Py_BuildValue("{s:N,s:s,s:N,s:O,s:O,s:i}", "cpu_features", feat,
        "kernel_set", ga_kernel_set_name(ga_kernel_set_get()), "kernel_sets", sets,
        "openblas", blas, "sanitized", GA_SANITIZED_BUILD, "pool_threads", ga_pool_threads_alive());
}

static PyObject *py_set_kernel_set(PyObject *self, PyObject *arg) {
    (void)self;
    const char *name = PyUnicode_AsUTF8(arg);
    if (!name) return NULL;
    ga_kernel_set set;
    if (strcmp(name, "portable") == 0) set = GA_KSET_PORTABLE;
    else if (strcmp(name, "avx2") == 0) set = GA_KSET_AVX2;
    else if (strcmp(name, "avx512") == 0) set = GA_KSET_AVX512;
    else {
        PyErr_Format(PyExc_ValueError, "unknown kernel set %R: use 'portable', 'avx2' or 'avx512'", arg);
        return NULL;
    }
    ga_kernel_set previous = ga_kernel_set_get();
    if (ga_kernel_set_force(set) < 0) {
        PyErr_Format(ga_py_Error, "this CPU cannot run the %s kernel set (it needs %s)", name,
                     set == GA_KSET_AVX2 ? "AVX2, FMA and F16C" : "AVX2, FMA, F16C and AVX-512 F/BW/VL/VNNI");
        return NULL;
    }
    return PyUnicode_FromString(ga_kernel_set_name(previous));
}

/* mem_read_bandwidth(mib, n_threads, passes) -> best GB/s of a streaming read */
static PyObject *py_mem_read_bandwidth(PyObject *self, PyObject *args) {
    (void)self;
    long long mib;
    int n_threads, passes;
    if (!PyArg_ParseTuple(args, "Lii", &mib, &n_threads, &passes)) return NULL;
    if (mib < 1 || mib > (1LL << 20)) return PyErr_Format(PyExc_ValueError, "mib must be in 1..2^20");
    ga_error err;
    ga_status st;
    double gbs = 0.0;
    Py_BEGIN_ALLOW_THREADS
    st = ga_mem_read_bandwidth((size_t)mib << 20, n_threads, passes, &gbs, &err);
    Py_END_ALLOW_THREADS
    if (st) return ga_py_raise(st, &err, NULL);
    return PyFloat_FromDouble(gbs);
}

static PyMethodDef info_methods[] = {
    {"mem_read_bandwidth", py_mem_read_bandwidth, METH_VARARGS,
     "mem_read_bandwidth(mib, n_threads, passes)\n--\n\nBest GB/s of n_threads threads streaming a "
     "mib-MiB buffer."},
    {"cpu_info", py_cpu_info, METH_NOARGS,
     "cpu_info()\n--\n\nCPU features found, kernel set chosen and whether OpenBLAS is linked."},
    {"set_kernel_set", py_set_kernel_set, METH_O,
     "set_kernel_set(name)\n--\n\nSelect 'portable', 'avx2' or 'avx512' kernels; returns the previous name."},
    {NULL, NULL, 0, NULL},
};

int ga_py_add_info(PyObject *m) { return PyModule_AddFunctions(m, info_methods); }
