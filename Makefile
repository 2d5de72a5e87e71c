# vndx — make targets for operators and developers. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help install system-deps web-assets up test test-unit test-integration test-reliability lint format bench clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) web-assets ## create .venv and install the project with pinned versions

system-deps: ## install PostgreSQL and Chromium (portal e2e tests) from Debian's packages if missing
	@bash infra/scripts/ensure-postgres.sh
	@bash infra/scripts/ensure-chromium.sh

web-assets: node_modules/.package-lock.json ## the portal's front-end packages (npm ci from package-lock.json)

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

up: $(STAMP) web-assets ## run the embedded stack (Tansu, SeaweedFS, services) until Ctrl-C
	$(VENV)/bin/vndx up

lint: $(STAMP) ## ruff (lint + format check), mypy --strict, import-linter
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy services streams vndx
	$(VENV)/bin/lint-imports

format: $(STAMP) ## apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

test: $(STAMP) web-assets system-deps lint ## lint, then unit + integration tests on real Tansu, SeaweedFS, PostgreSQL
	$(VENV)/bin/pytest -m "not slow" --durations=15 $(PYTEST_ARGS)

test-unit: $(STAMP) ## unit tests only (nothing running)
	$(VENV)/bin/pytest tests/unit $(PYTEST_ARGS)

test-integration: $(STAMP) web-assets system-deps ## integration and end-to-end tests
	$(VENV)/bin/pytest tests/integration tests/e2e -m "not slow" $(PYTEST_ARGS)

test-reliability: $(STAMP) web-assets system-deps ## the full reliability suite and every slow test (long; docs/reliability.md)
	$(VENV)/bin/pytest tests/reliability --durations=0 $(PYTEST_ARGS)
	$(VENV)/bin/pytest -m slow tests/integration tests/e2e $(PYTEST_ARGS)

bench: $(STAMP) ## run every benchmark (end to end included) and print the figures
	$(PY) -m tests.bench.run_all

clean: ## remove the embedded stack's data (.vndx) and caches
	rm -rf .vndx .pytest_cache .mypy_cache .ruff_cache
