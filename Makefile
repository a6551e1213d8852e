# Dateline: two commands matter - `make run` and `make test`. Each sets up what is missing.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run up down status test test-unit test-integration bench eval lint typecheck screenshots clean help

help:
	@echo "make run    - start everything in the foreground (Ctrl-C stops it)"
	@echo "make up     - start everything in the background; make down stops it"
	@echo "make test   - run the whole test suite against real Redis, Elasticsearch, Celery"
	@echo "make bench  - benchmarks (figures go in the README)"
	@echo "make eval   - summary quality (ROUGE) against Lead-3"
	@echo "make status - what is queued, processing, indexed and failed"
	@echo "make screenshots - the README's pictures of the pages, from a stack of their own (docs/screenshots)"
	@echo "make lint   - static checks: ruff, and the import contracts (services never import each other)"
	@echo "make typecheck - mypy over services/ and shared/"

# The venv is rebuilt only when pyproject.toml changes.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

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

test: setup
	$(BIN)/python -m pytest tests

test-unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit

test-integration: setup
	$(BIN)/python -m pytest tests/integration

bench: setup
	$(BIN)/python -m tests.bench

lint: $(STAMP)
	$(BIN)/ruff check services shared tests
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

screenshots: setup
	$(BIN)/python -m tests.screenshots

eval: $(STAMP)
	$(BIN)/python -m services.worker.evaluation

clean: down
	rm -rf .dateline
