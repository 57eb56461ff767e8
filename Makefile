# One place for the commands the README and CI use.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
QUESTION ?= 2024年便民服务中心一共办了多少件便民服务事项？

.PHONY: install demo test bench web

$(BIN)/fazhi: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e .
	touch $(BIN)/fazhi

install: $(BIN)/fazhi

# Test tools, including llama.cpp's server for the LLM-mode tests. llama-cpp-python ships no wheels on
# PyPI, so pip compiles it; a native build (GGML_NATIVE, the default) uses whatever the build CPU has,
# and ggml's AMX kernels segfault on chat requests on CPUs with AMX. So it is built here, once, with
# the same portable flags on every x86-64 machine, into a wheel folder keyed by those flags and the
# architecture; pip's own cache is bypassed, so a wheel built natively elsewhere can never come back.
LLAMA_VERSION := $(shell sed -n 's/.*"llama-cpp-python\[server\]==\([0-9.]*\)".*/\1/p' pyproject.toml)
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_BACKEND_DL=OFF -DGGML_CPU_ALL_VARIANTS=OFF \
	-DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF \
	-DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF
LLAMA_WHEELS := $(HOME)/.cache/fazhi/llama-wheels/$(LLAMA_VERSION)-$(shell uname -m)-$(shell printf '%s' '$(LLAMA_CMAKE_ARGS)' | sha1sum | cut -c1-12)

$(VENV)/.test-deps: $(BIN)/fazhi
	ls $(LLAMA_WHEELS)/llama_cpp_python-$(LLAMA_VERSION)-*.whl >/dev/null 2>&1 || \
		CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip wheel -q --no-cache-dir --no-deps \
		--no-binary llama-cpp-python -w $(LLAMA_WHEELS) "llama-cpp-python==$(LLAMA_VERSION)"
	$(BIN)/pip install -q --find-links $(LLAMA_WHEELS) --only-binary llama-cpp-python -e ".[test]"
	touch $@

# The web channel's browser tests drive Debian's Chromium through Playwright (`executable_path`), so no
# browser is downloaded; install it from the distribution when missing (CI runs as root), with a Chinese
# font and an emoji font so that the screenshots the tests take show text rather than empty boxes.
/usr/bin/chromium:
	apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium fonts-wqy-microhei fonts-noto-color-emoji

node_modules/.package-lock.json: package-lock.json
	npm ci --no-audit --no-fund
	touch $@

demo: install
	$(BIN)/fazhi setup
	$(BIN)/fazhi ask "$(QUESTION)"
	$(BIN)/fazhi ask --as public "人民调解收费吗？"

test: $(VENV)/.test-deps node_modules/.package-lock.json /usr/bin/chromium
	$(BIN)/ruff check bot tests benchmarks
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/fazhi bench

web: install
	$(BIN)/fazhi web
