#!/usr/bin/env bash
# Installs the Debian packages gemma_accel needs to build, when they are missing.
# Runs as root on a fresh Debian machine; elsewhere it only reports what is missing.
set -euo pipefail

PYTHON=${PYTHON:-python3}
missing=()
have_cmd() { command -v "$1" >/dev/null 2>&1; }
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

have_cmd gcc || missing+=(gcc)
have_cmd make || missing+=(make)
have_cmd git || missing+=(git)
have_cmd pkg-config || missing+=(pkg-config)
have_cmd "$PYTHON" || missing+=(python3)
if have_cmd "$PYTHON"; then
  "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
  "$PYTHON" - <<'PY' || missing+=(python3-dev)
import os, sys, sysconfig
sys.exit(0 if os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")) else 1)
PY
fi
# OpenBLAS is optional for the build but wanted for batched prefill.
have_pkg libopenblas-dev || missing+=(libopenblas-dev)
# The Vulkan backend: glslc compiles kernels/*.comp at build time, libvulkan-dev gives the
# headers (the loader itself is opened at run time), and the tests run on Mesa's lavapipe
# (a CPU Vulkan device) under the Khronos validation layer.
# They are optional: without them the build skips the Vulkan kernels and runs on the CPU.
vulkan=()
have_cmd glslc || vulkan+=(glslc)
have_pkg libvulkan-dev || vulkan+=(libvulkan-dev)
have_pkg mesa-vulkan-drivers || vulkan+=(mesa-vulkan-drivers)
have_pkg vulkan-validationlayers || vulkan+=(vulkan-validationlayers)

if [ ${#missing[@]} -eq 0 ] && [ ${#vulkan[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! have_cmd apt-get; then
  echo "install-system-deps: missing ${missing[*]} ${vulkan[*]} (not root or no apt-get: install them yourself)" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-system-deps: installing ${missing[*]}"
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [ ${#vulkan[@]} -gt 0 ]; then
  echo "install-system-deps: installing ${vulkan[*]} (the Vulkan backend)"
  apt-get install -y -qq --no-install-recommends "${vulkan[@]}" >/dev/null ||
    echo "install-system-deps: could not install ${vulkan[*]}: building without the Vulkan backend" >&2
fi
