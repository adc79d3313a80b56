# The names a person and CI run. Every target sets itself up: the virtualenv is rebuilt only
# when pyproject.toml changes, node tools only when package.json changes.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
BENCH_STAMP := $(VENV)/.installed-bench
BENCH_NODE_STAMP := bench/node_modules/.installed
SPECS := openapi/v1beta.yaml openapi/mock-admin.yaml

HOST ?= 127.0.0.1
PORT ?= 8080
SERVER ?= granian
FUZZ_MINUTES ?= 2
BENCH_ARGS ?=
FUZZ_ARGS ?=
SHARDS ?= shards/*/summary.json
GATE_ARGS ?=
export HYPOTHESIS_PROFILE

.PHONY: help venv mock test lint spec-check fuzz fuzz-merge gate bench clean

help:
	@echo "make mock    serve the mock on http://$(HOST):$(PORT)/v1beta (seeded, admin at /_mock); SERVER=waitress"
	@echo "make test    spec checks, the mock's own tests, the suites' power, Schemathesis on the mock"
	@echo "make fuzz    both suites with the fuzz profile for FUZZ_MINUTES (default $(FUZZ_MINUTES)),"
	@echo "             on FUZZ_WORKERS cores, FUZZ_SHARD=i/n of a campaign, FUZZ_DB=redis://... or a dir"
	@echo "make fuzz-merge  one report of a campaign's shards: SHARDS=shards/*/summary.json"
	@echo "make gate    the CI gate against MAXGOOD_BASE_URL with MAXGOOD_API_KEY [MAXGOOD_API_KEY_B]; GATE_ARGS=--read-only ..."
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
	$(BIN)/maxgood-mock --host $(HOST) --port $(PORT) --server $(SERVER)

lint: $(STAMP)
	$(BIN)/ruff check .

spec-check: $(STAMP) $(NODE_STAMP)
	$(BIN)/python -m openapi_spec_validator $(SPECS)
	npx --no-install spectral lint --fail-severity=warn $(SPECS)

test: spec-check lint
	$(BIN)/pytest -n 2 --dist loadgroup

fuzz: $(STAMP)
	FUZZ_MINUTES=$(FUZZ_MINUTES) $(BIN)/python -m harness.fuzz $(FUZZ_ARGS)

fuzz-merge: $(STAMP)
	$(BIN)/python -m harness.merge $(SHARDS) --report-dir reports

gate: $(STAMP)
	$(BIN)/maxgood-contract --report-dir reports $(GATE_ARGS)

# Benchmarks, not tests: Prism (pinned in bench/package.json, apart from the light tools above)
# and wrk (Debian's package; without it the Python load generator in bench/ stands in).
$(BENCH_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	touch $@

$(BENCH_NODE_STAMP): bench/package.json bench/package-lock.json
	cd bench && npm ci --no-audit --no-fund --loglevel=error
	touch $@

bench: $(BENCH_STAMP) $(BENCH_NODE_STAMP)
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
		&& { apt-get install -y -qq wrk || { apt-get update -qq && apt-get install -y -qq wrk; }; }; } \
		|| echo "wrk is not available: the Python load generator in bench/ stands in for it"
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) node_modules bench/node_modules reports .hypothesis
