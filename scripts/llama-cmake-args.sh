#!/usr/bin/env bash
# CMAKE_ARGS for building llama-cpp-python (the test and benchmark reference) on this machine:
# the x86 SIMD extensions the CPU has, as GGML_NATIVE would pick them, but never AMX.  With
# GGML_NATIVE, llama.cpp 0.3.36's AMX matmul (ggml_backend_amx_mul_mat) segfaults on the
# first decode on Sapphire Rapids VMs; naming each extension leaves AMX off.
set -euo pipefail
flags=" $(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | cut -d: -f2) "
if [ "$flags" = "  " ] || [ "$(uname -m)" != "x86_64" ]; then
  echo "-DGGML_NATIVE=ON"  # not x86 (or no /proc/cpuinfo): llama.cpp's own choice
  exit 0
fi
has() { for f in "$@"; do [[ "$flags" == *" $f "* ]] || return 1; done; }
args="-DGGML_NATIVE=OFF"
on() { args+=" -D$1=$2"; }
has avx && on GGML_AVX ON || on GGML_AVX OFF
has avx2 && on GGML_AVX2 ON || on GGML_AVX2 OFF
has fma && on GGML_FMA ON || on GGML_FMA OFF
has f16c && on GGML_F16C ON || on GGML_F16C OFF
has bmi2 && on GGML_BMI2 ON || on GGML_BMI2 OFF
has avx_vnni && on GGML_AVX_VNNI ON || on GGML_AVX_VNNI OFF
has avx512f avx512cd avx512vl avx512dq avx512bw && on GGML_AVX512 ON || on GGML_AVX512 OFF
has avx512f avx512_vnni && on GGML_AVX512_VNNI ON || on GGML_AVX512_VNNI OFF
has avx512f avx512vbmi && on GGML_AVX512_VBMI ON || on GGML_AVX512_VBMI OFF
has avx512f avx512_bf16 && on GGML_AVX512_BF16 ON || on GGML_AVX512_BF16 OFF
on GGML_AMX_TILE OFF; on GGML_AMX_INT8 OFF; on GGML_AMX_BF16 OFF
echo "$args"
