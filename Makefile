# The two commands: `make run` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint conformance bench-load chromium lock

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The image's own entry point (services/serve.py): checks the environment, migrates, starts
# Streamlit, and here also the worker service with its own Dask LocalCluster. Plain-text logs here unless LOG_FORMAT says otherwise.
run: $(STAMP)
	LOG_FORMAT=$${LOG_FORMAT:-text} $(PY) -m services.serve --with-worker

test: $(STAMP) chromium
	$(PY) -m ruff check .
	$(PY) -m pytest

# Browser tests drive the system's Chromium; install it where apt can (CI runs as root).
chromium:
	@command -v chromium >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1 || \
		( apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium )

lint: $(STAMP)
	$(PY) -m ruff check .

# Formula fidelity against Excel-saved workbooks (never copied into this repository).
ORACLE ?= ../shared/excel-oracle
conformance: $(STAMP)
	$(PY) scripts/conformance.py $(ORACLE)

bench-load: $(STAMP)
	$(PY) benchmarks/load_speed.py

# requirements.lock: the image's runtime dependencies, hash-pinned for CPython 3.11.10 on
# manylinux x86-64 (the Dockerfile's base); requirements-gpu.lock: the same plus the `gpu` extra
# (numba-cuda and NVIDIA's CUDA wheels) for the GPU image. Existing pins are kept where they still
# satisfy pyproject.toml; `make lock LOCK_ARGS=--upgrade` moves everything to the newest releases.
TOOLS := .venv-tools
UV_COMPILE = $(TOOLS)/bin/uv pip compile pyproject.toml --quiet --generate-hashes \
	--python-version 3.11.10 --python-platform x86_64-manylinux_2_28 \
	--custom-compile-command 'make lock' $(LOCK_ARGS)
lock:
	test -x $(TOOLS)/bin/uv || { $(PYTHON) -m venv $(TOOLS) && $(TOOLS)/bin/pip install --quiet uv==0.13.9; }
	$(UV_COMPILE) -o requirements.lock
	$(UV_COMPILE) --extra gpu -c requirements.lock -o requirements-gpu.lock
