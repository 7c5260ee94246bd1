# The two commands: `make run` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint conformance bench-load chromium

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(PY) -m streamlit run app.py

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
