"""Builds the C extension gemma_accel._core from csrc/ (one folder per layer: core, formats,
quants, tokenizer, model, cpu, vulkan, python; each folder is on the include path), and the
Vulkan kernels: kernels/*.comp compiled to SPIR-V by glslc (scripts/gen_spirv.py) into
build/generated/ga_vk_spirv_data.c.  The Vulkan headers are used when installed; the loader
itself is opened at run time, so the extension never links libvulkan.

Environment knobs:
  GA_SANITIZE=1   build with AddressSanitizer + UndefinedBehaviorSanitizer (make test-asan)
  GA_NO_OPENBLAS=1  do not link OpenBLAS even when it is installed
"""
import glob
import os
import shutil
import subprocess
import sys

import numpy
from setuptools import Extension, setup


def openblas_flags():
    """Return (include_dirs, libraries, macros) for OpenBLAS when it is installed."""
    if os.environ.get("GA_NO_OPENBLAS"):
        return [], [], []
    if shutil.which("pkg-config"):
        res = subprocess.run(["pkg-config", "--cflags", "--libs", "openblas"],
                             capture_output=True, text=True)
        if res.returncode == 0:
            incs = [f[2:] for f in res.stdout.split() if f.startswith("-I")]
            libs = [f[2:] for f in res.stdout.split() if f.startswith("-l")]
            return incs, libs, [("GA_HAVE_OPENBLAS", "1")]
    for inc in ("/usr/include/x86_64-linux-gnu/openblas-pthread", "/usr/include/openblas"):
        if os.path.exists(os.path.join(inc, "cblas.h")):
            return [inc], ["openblas"], [("GA_HAVE_OPENBLAS", "1")]
    return [], [], []


blas_inc, blas_libs, blas_macros = openblas_flags()
cflags = ["-std=c11", "-O3", "-Wall", "-Wextra", "-fno-strict-aliasing",
          "-D_GNU_SOURCE", "-pthread"]
ldflags = ["-pthread", "-lm"]
if os.environ.get("GA_SANITIZE"):
    san = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-fno-sanitize-recover=undefined"]
    cflags = [f for f in cflags if f != "-O3"] + ["-O1", "-g"] + san
    ldflags += san

SPIRV_C = os.path.join("build", "generated", "ga_vk_spirv_data.c")
subprocess.run([sys.executable, os.path.join("scripts", "gen_spirv.py"), SPIRV_C], check=True)
vk_macros = [("GA_HAVE_VULKAN_HEADERS", "1")] if os.path.exists("/usr/include/vulkan/vulkan.h") else []

layers = sorted(d for d in glob.glob("csrc/*") if os.path.isdir(d))
core = Extension(
    "gemma_accel._core",
    sources=sorted(glob.glob("csrc/*/*.c")) + [SPIRV_C],
    depends=sorted(glob.glob("csrc/*/*.h")) + sorted(glob.glob("kernels/*")),
    include_dirs=[numpy.get_include()] + layers + blas_inc,
    libraries=blas_libs + ["dl"],
    define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")] + blas_macros + vk_macros,
    extra_compile_args=cflags,
    extra_link_args=ldflags,
)

# build_ext compiles the C files in parallel (pip wheel / pip install run it without -j)
setup(ext_modules=[core], options={"build_ext": {"parallel": os.cpu_count() or 1}})
