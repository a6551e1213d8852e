# Dateline: two commands matter - `make run` and `make test`. Each sets up what is missing.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: lock setup run up down status test test-unit test-integration bench bench-export bench-scale eval lint typecheck screenshots clean help

help:
	@echo "make run    - start everything in the foreground (Ctrl-C stops it)"
	@echo "make up     - start everything in the background; make down stops it"
	@echo "make test   - run the whole test suite against real Redis, Elasticsearch, Celery"
	@echo "make bench  - benchmarks (figures go in the README)"
	@echo "make bench-export - the export part of make bench alone (rows/s, peak RSS at 2k and 20k rows)"
	@echo "make bench-scale - costs at 10k/100k/1M articles (SIZES=...) into .dateline/bench/scale.json"
	@echo "make eval   - summary quality (ROUGE) against Lead-3; story grouping precision/recall"
	@echo "make status - what is queued, processing, indexed and failed"
	@echo "make screenshots - the README's pictures of the pages, from a stack of their own (docs/screenshots)"
	@echo "make lint   - static checks: ruff, and the import contracts (services never import each other)"
	@echo "make typecheck - mypy over services/ and shared/"
	@echo "make lock   - pin pyproject.toml's dependencies again in requirements.lock (with hashes)"

# The venv holds exactly the versions in requirements.lock, each checked against its hash
# (a changed or substituted file on the index fails the install): uv from its own small lock
# first (pip checks that one), then everything else with uv, then Dateline itself without
# dependencies. Reinstalled when the lock or pyproject.toml changes; `make lock` after editing
# pyproject.toml's dependencies.
LOCK := requirements.lock
UV_LOCK := requirements-uv.lock
# The platform the lock is resolved for (Linux x86-64, glibc 2.28+, CPython 3.11).
LOCK_TARGET := --python-version 3.11.7 --python-platform x86_64-manylinux_2_28

$(STAMP): pyproject.toml $(LOCK) $(UV_LOCK)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r $(UV_LOCK)
	$(BIN)/uv pip install --quiet --python $(BIN)/python --require-hashes -r $(LOCK)
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	@touch $(STAMP)

# Resolve pyproject.toml's dependencies (with the dev extra) again, keeping every pinned
# version that still fits; `make lock UPGRADE=1` moves everything to the newest allowed.
lock: $(STAMP)
	$(BIN)/uv pip compile pyproject.toml --extra dev --generate-hashes $(LOCK_TARGET) \
		--custom-compile-command "make lock" $(if $(UPGRADE),--upgrade) -o $(LOCK)
	grep -E '^uv==' $(LOCK) | cut -d' ' -f1 | $(BIN)/uv pip compile - --generate-hashes $(LOCK_TARGET) \
		--no-header --no-annotate -o $(UV_LOCK)
	@echo "[dateline] $(LOCK) and $(UV_LOCK) written; commit them with pyproject.toml"

setup: $(STAMP)
	@bash deploy/local/redis.sh install >/dev/null
	@bash deploy/local/elasticsearch.sh install >/dev/null
	@$(BIN)/python deploy/env_secrets.py
	@echo "[dateline] setup complete: $(BIN)/dateline is ready"

run: setup
	$(BIN)/dateline stack run

up: setup
	$(BIN)/dateline stack up

# Everything runs under one supervisord; without the venv nothing of ours can be running.
down:
	@if [ -x $(BIN)/dateline ]; then $(BIN)/dateline stack down; \
	else echo "[dateline] not installed, so nothing of Dateline's is running"; fi

status: $(STAMP)
	$(BIN)/dateline status

# Tests run in PYTEST_WORKERS processes side by side (pytest-xdist), each with its own Redis and
# Elasticsearch; most tests wait on services, so more processes than cores pay. Whole files go
# to one process (--dist loadfile), so a module's shared stack starts once.
# The 25 slowest tests are listed at the end: where the suite's time goes, run by run.
PYTEST_WORKERS ?= 3
test: setup
	$(BIN)/python -m pytest tests -n $(PYTEST_WORKERS) --dist loadfile --durations=25

test-unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit

test-integration: setup
	$(BIN)/python -m pytest tests/integration -n $(PYTEST_WORKERS) --dist loadfile

bench: setup
	$(BIN)/python -m tests.bench

bench-export: setup
	$(BIN)/python -m tests.bench.export

# Not part of make test: the archive at 10k, 100k and 1M articles (SIZES=10000,100000 for less).
SIZES ?= 10000,100000,1000000
bench-scale: setup
	$(BIN)/python -m tests.bench.scale --sizes $(SIZES)

lint: $(STAMP)
	$(BIN)/ruff check services shared tests
	$(BIN)/ruff format --check services shared tests
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

screenshots: setup
	$(BIN)/python -m tests.screenshots

eval: $(STAMP)
	$(BIN)/python -m services.worker.evaluation
	$(BIN)/python -m services.worker.story_evaluation

clean: down
	rm -rf .dateline
