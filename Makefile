# Pressroom: `make run` and `make test` do all their own set-up on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test lint migrate-up migrate-down-one bench-indexes bench-jobs clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "error: Python >= 3.11 is required (set PYTHON=python3.11)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

## API (+ worker) on the embedded PostgreSQL, or on DATABASE_URL when set.
run: install
	$(BIN)/pressroom up

## The whole suite on a real PostgreSQL (a throwaway embedded one unless DATABASE_URL is set).
test: install
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pressroom db lint

migrate-up: install
	$(BIN)/alembic upgrade head

migrate-down-one: install
	$(BIN)/alembic downgrade -1

## Measure the seed's index migration (before vs head) and publish docs/database-indexes.md.
bench-indexes: install
	$(BIN)/python -m bench.indexes

## The jobs API through HTTP with 1M jobs (needs wrk) and publish docs/jobs.md.
bench-jobs: install
	$(BIN)/python -m bench.jobs_api

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
