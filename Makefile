# RushQueue developer commands. `make help` lists them; the README explains them.
#
# Every target that needs Python bootstraps it first: `.venv` is made with `python3 -m venv` and
# the project is installed into it with its pinned dev dependencies. The stamp file
# `.venv/.installed` is newer than pyproject.toml once that has been done, so a second `make test`
# goes straight to the checks.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
PYTEST_ARGS ?=

.DEFAULT_GOAL := help

.PHONY: help run observe test chaos bench lint format migrate venv system-packages browser-packages prometheus-package load-tools clean clean-data

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# `exec`, so that the SIGTERM make forwards to its child lands on the supervisor, not on a shell.
run: venv system-packages ## Start Redis, MariaDB (data in .data/), migrate, load demo data, run every Procfile process
	exec $(BIN)/python -m devstack.run

# Prometheus against the ports `make run` prints; run it beside `make run`, in another terminal.
observe: venv prometheus-package ## Start Prometheus (loopback, port 9095) scraping the make run stack; data in .data/prometheus/
	exec $(BIN)/python -m devstack.prometheus

# The long scenarios (marked `long`: more fault scenarios, the waiting-room rush) are left to
# `make chaos`, so the suite stays within CI's time.
test: lint browser-packages load-tools ## Lint, type-check, then the pytest suite but its long scenarios (it starts its own servers and browser)
	$(BIN)/pytest -m "not long" $(PYTEST_ARGS)

# The fault suite at full size: bigger rushes and longer outages (`make test` runs one scenario
# per kind of fault at scale 1 and leaves the ones marked `long` to this target).
CHAOS_SCALE ?= 5
chaos: venv system-packages load-tools browser-packages ## Fault suite (kill -9, SIGSTOP, Redis/MariaDB outages, SIGTERM) with a results table, and every long scenario (the benchmarks' smokes, the browser tests' desktop variants)
	CHAOS_SCALE=$(CHAOS_SCALE) $(BIN)/pytest -m "chaos or long" tests/chaos tests/bench tests/browser $(PYTEST_ARGS)

# Each benchmark starts its own servers and processes; results go to bench/results/. The
# engine's open-loop sweep and the hold-only rush's (bench.holdrush, driven by wrk) feed the
# latency-vs-load chart that bench.curve draws from their reports.
ENGINE_SWEEP ?= 1000,2000,4000
# Shards x engine processes sold out by `make bench` (kept short: the whole target stays under
# 5 minutes); `python -m bench.engine` alone sells out 1, 2, 4, 8 shards x 1, 2 processes.
ENGINE_CONFIGS ?= 1x1
# The waiting-room rush's crowd in `make bench`: admitted at 12,000 a minute, it takes about a
# minute. `python -m bench.rush --waiting-room` alone queues the issue's 50,000 with 10,000 queue
# sockets (about 2.5 min).
WAITING_ROOM_BUYERS ?= 12000
WAITING_ROOM_SOCKETS ?= 3000
bench: venv system-packages load-tools ## Benchmarks: the engine alone, its memory, the whole stack in a rush, then behind a waiting room, the hold-only rush under wrk, the latency-vs-load chart (about 5 min on 2 cores)
	$(BIN)/python -m bench.engine --configs $(ENGINE_CONFIGS) --sweep $(ENGINE_SWEEP)
	$(BIN)/python -m bench.memory
	$(BIN)/python -m bench.rush
	$(BIN)/python -m bench.rush --waiting-room --buyers $(WAITING_ROOM_BUYERS) --sockets $(WAITING_ROOM_SOCKETS)
	$(BIN)/python -m bench.holdrush
	$(BIN)/python -m bench.curve

lint: venv ## ruff check, ruff format --check, mypy
	$(BIN)/ruff check
	$(BIN)/ruff format --check
	$(BIN)/mypy

format: venv ## Sort imports and format the code in place
	$(BIN)/ruff check --select I --fix
	$(BIN)/ruff format

migrate: venv ## Apply migrations to the database at DATABASE_URL
	$(BIN)/python -m persistence.migrate

venv: $(INSTALLED) ## Create .venv and install the project with its dev dependencies

system-packages: ## Install redis-server, mariadb-server and mariadb-client from Debian if missing
	@bash devstack/ensure-system-packages.sh

browser-packages: ## The same, and chromium and prometheus for the browser and metrics tests
	@bash devstack/ensure-system-packages.sh --with-browser --with-prometheus

prometheus-package: ## The same, and prometheus (with promtool) for make observe
	@bash devstack/ensure-system-packages.sh --with-prometheus

load-tools: ## The same, and the C load generators wrk and h2load for the benchmarks
	@bash devstack/ensure-system-packages.sh --with-load-tools

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(INSTALLED): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --disable-pip-version-check -e '.[dev]'
	touch $@

clean: ## Remove .venv and caches (keeps .data/)
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build *.egg-info
	find . -path ./.data -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +

clean-data: ## Remove .data/, the Redis and MariaDB data of `make run` (stop make run first)
	rm -rf .data
