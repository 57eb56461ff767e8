# One place for the commands the README and CI use.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
QUESTION ?= 去年便民服务中心一共办了多少件便民服务事项？

.PHONY: install demo test bench

$(BIN)/fazhi: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e .
	touch $(BIN)/fazhi

install: $(BIN)/fazhi

# Test tools, including llama.cpp's server (compiled once, a few minutes) for the LLM-mode tests.
$(VENV)/.test-deps: $(BIN)/fazhi
	$(BIN)/pip install -q -e ".[test]"
	touch $@

node_modules/.package-lock.json: package-lock.json
	npm ci --no-audit --no-fund
	touch $@

demo: install
	$(BIN)/fazhi setup
	$(BIN)/fazhi ask "$(QUESTION)"
	$(BIN)/fazhi ask --as public "人民调解收费吗？"

test: $(VENV)/.test-deps node_modules/.package-lock.json
	$(BIN)/ruff check bot tests
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/fazhi bench
