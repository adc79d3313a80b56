# The names a person and CI run. Every target sets itself up: the virtualenv is rebuilt only
# when pyproject.toml changes, node tools only when package.json changes.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
SPECS := openapi/v1beta.yaml openapi/mock-admin.yaml

HOST ?= 127.0.0.1
PORT ?= 8080
FUZZ_MINUTES ?= 2
export HYPOTHESIS_PROFILE

.PHONY: help venv mock test lint spec-check fuzz gate bench clean

help:
	@echo "make mock    serve the mock on http://$(HOST):$(PORT)/v1beta (seeded, admin at /_mock)"
	@echo "make test    spec checks, the mock's own tests, the suites' power, Schemathesis on the mock"
	@echo "make fuzz    both suites with the fuzz profile for FUZZ_MINUTES (default $(FUZZ_MINUTES))"
	@echo "make gate    the CI gate against MAXGOOD_BASE_URL with MAXGOOD_API_KEY [MAXGOOD_API_KEY_B]"
	@echo "make bench   the mock against Prism, time to detect each fault; writes bench/results"

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

venv: $(STAMP)

$(NODE_STAMP): package.json
	npm install --no-audit --no-fund --loglevel=error
	touch $@

mock: $(STAMP)
	$(BIN)/maxgood-mock --host $(HOST) --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check .

spec-check: $(STAMP) $(NODE_STAMP)
	$(BIN)/python -m openapi_spec_validator $(SPECS)
	npx --no-install spectral lint --fail-severity=warn $(SPECS)

test: spec-check lint
	$(BIN)/pytest -n 2 --dist loadgroup

fuzz: $(STAMP)
	FUZZ_MINUTES=$(FUZZ_MINUTES) $(BIN)/python -m harness.fuzz

gate: $(STAMP)
	$(BIN)/maxgood-contract --report-dir reports

clean:
	rm -rf $(VENV) node_modules reports .hypothesis
