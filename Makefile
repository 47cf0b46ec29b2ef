# The BIN platform. `make install` once, then `make run` (the system) or `make test` (the suite).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SERVICES_WITH_DATABASE := registry intake dispatch digest connectors

.PHONY: help install lock run migrate system-packages test test-unit test-integration test-e2e test-browser test-faults test-cluster soak bench docs lint format clean up down
COMPOSE := docker compose -f deploy/compose.yaml

help:
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

INSTALLED := $(VENV)/.installed

# run and test install first when the pins changed, so a fresh clone needs no extra step.
$(INSTALLED): requirements.lock pyproject.toml
	@PYTHON=$(PYTHON) bash scripts/system-packages.sh run
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

install: $(INSTALLED) ## Create .venv with the pinned dependencies (requirements.lock)

lock: ## Re-pin every dependency from pyproject.toml into requirements.lock
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 --generate-hashes -o requirements.lock

migrate: $(INSTALLED) ## Apply every service's SQL migrations to its own schema
	@for service in $(SERVICES_WITH_DATABASE); do $(BIN)/python -m services.$$service migrate || exit 1; done

# honcho gives each service a pipe, not the terminal, so BIN_LOG_FORMAT=auto would pick JSON:
# on a terminal, make run asks for the readable console lines itself.
run: migrate ## Run all services and the gateway simulator locally; Ctrl-C stops all
	@echo "registry :8001  intake :8002  dispatch :8003  digest :8004  gateway simulator :8005"
	@if [ -t 1 ]; then export BIN_LOG_FORMAT=$${BIN_LOG_FORMAT:-console}; fi; \
		PATH=$(abspath $(BIN)):$$PATH $(BIN)/honcho start -f Procfile

up: ## The whole system in containers (needs a Docker engine and the secrets in deploy/.env)
	$(COMPOSE) up -d --build

down: ## Stop the containers (volumes are kept; `docker compose ... down -v` drops them)
	$(COMPOSE) down

system-packages: ## The Debian packages the tests need (Chromium, Prometheus, Kannel, Postfix, psql), when missing
	@PYTHON=$(PYTHON) bash scripts/system-packages.sh test

test: system-packages $(INSTALLED) ## The whole suite: unit, integration, e2e, faults, browser; installs what it needs
	$(BIN)/pytest

test-unit: $(INSTALLED) ## Only the pure-logic tests (no broker, no database)
	$(BIN)/pytest -m unit

test-integration: system-packages $(INSTALLED)
	$(BIN)/pytest -m integration

test-e2e: system-packages $(INSTALLED)
	$(BIN)/pytest -m e2e

test-browser: system-packages $(INSTALLED) ## The consoles in Debian's Chromium (apt-get install chromium); screenshots to docs/screenshots
	$(BIN)/pytest -m browser

test-faults: system-packages $(INSTALLED) ## Faults injected into the running services (part of `make test` too)
	$(BIN)/pytest -m faults -s

test-cluster: system-packages $(INSTALLED) ## Node loss, partition, failover, rolling restart on 3 RabbitMQ nodes (network namespaces: root) + a PostgreSQL standby (part of test-faults)
	$(BIN)/pytest -m cluster -s

bench: $(INSTALLED) ## Benchmarks (not tests): JSON results in bench/results/
	$(BIN)/python -m bench.dispatch_fanout
	$(BIN)/python -m bench.progress_polling
	$(BIN)/python -m bench.registry_import
	$(BIN)/python -m bench.intake_load
	$(BIN)/python -m bench.connectors
	$(BIN)/python -m bench.voice
	$(BIN)/python -m bench.dispatch_sweep

soak: $(INSTALLED) ## Mixed traffic for 30 minutes (SOAK_MINUTES), memory growth per process (not in CI)
	$(BIN)/python -m bench.soak

docs: $(INSTALLED) ## Regenerate the AsyncAPI and OpenAPI documents in docs/ (a test fails when stale)
	$(BIN)/python -m shared.contracts

lint: $(INSTALLED) ## ruff and mypy, both must be clean
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format:
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache *.egg-info
