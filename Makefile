# chatapp: `make run` to use it, `make test` to check it. See README.md.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/chatapp
TEST_REDIS_URL ?= redis://127.0.0.1:6379/9
PYTEST_ARGS ?=
# Where settings.py keeps the database, static files and uploads (CHATAPP_VAR_DIR).
VAR := $(or $(CHATAPP_VAR_DIR),var)
# Running needs the app's dependencies only; tests add their tools (pyproject's [test] extra).
RUN_STAMP := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed-test
# collectstatic again only when a static source file changed.
STATIC_STAMP := $(VAR)/staticfiles/.collected
STATIC_SOURCES := $(shell find static -type f -not -name .built 2>/dev/null)

.PHONY: run test test-embedded test-services lint static chromium lock clean help bench-images \
	bench screenshots bench-contract test-image test-image-clean container-tools

help:
	@echo "make run    - install, migrate and start chatapp on http://$(HOST):$(PORT)/"
	@echo "make test   - install test needs (incl. chromium, podman) and run the whole suite"
	@echo "make lint   - ruff, import-linter and ESLint"

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(RUN_STAMP): pyproject.toml constraints.txt | $(PY)
	$(PY) -m pip install --quiet -c constraints.txt -e .
	touch $@

$(TEST_STAMP): $(RUN_STAMP)
	$(PY) -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

static/vendor/.built: node_modules/.installed
	npm run --silent build
	touch $@

$(STATIC_STAMP): $(RUN_STAMP) static/vendor/.built $(STATIC_SOURCES)
	$(PY) manage.py collectstatic --noinput --verbosity 0
	touch $@

static: $(STATIC_STAMP)

# Migrations are applied by `serve` itself, and only when some are pending (one Python start
# less). Metrics of every process meet in PROMETHEUS_MULTIPROC_DIR, emptied at each start
# (docs/operations.md, Metrics).
run: static
	rm -rf $(VAR)/prometheus && mkdir -p $(VAR)/prometheus
	PROMETHEUS_MULTIPROC_DIR=$(abspath $(VAR)/prometheus) \
		$(PY) manage.py serve --migrate --host $(HOST) --port $(PORT)

chromium:
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)

test: $(TEST_STAMP) static chromium container-tools
	$(MAKE) --no-print-directory test-embedded
	$(MAKE) --no-print-directory test-services
	$(MAKE) --no-print-directory test-image

# Embedded defaults: SQLite and the in-memory channel layer.
test-embedded:
	env -u DATABASE_URL -u REDIS_URL $(PY) -m pytest $(PYTEST_ARGS)

# PostgreSQL and Redis. Where CI=true a missing service fails the run; elsewhere it is said
# plainly and this pass is left out. Left out of this pass because they never touch the
# database or the channel layer: the offline upstream's own tests, and the browser tests
# beyond the core chat page (they all ran in the embedded pass).
SERVICES_PASS_SKIPS := --ignore=tests/offline_upstream/test_upstream.py \
	--ignore=tests/offline_upstream/test_batches.py \
	$(patsubst %,--ignore=%,$(filter-out tests/browser/test_chat_page.py,$(wildcard tests/browser/test_*.py)))
test-services:
	@if (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null && (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then \
		DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(PY) -m pytest $(SERVICES_PASS_SKIPS) $(PYTEST_ARGS); \
	elif [ "$$CI" = "true" ]; then \
		echo "PostgreSQL (127.0.0.1:5432) or Redis (127.0.0.1:6379) is not answering: CI needs both." >&2; exit 1; \
	else \
		echo "NOTE: PostgreSQL or Redis is not answering; the services pass was NOT run."; \
	fi

# The container image and compose.yaml, for real under podman (tests/image/check_stack.py;
# docs/operations.md, Container). Where podman cannot run it says so; with CI=true that fails.
container-tools:
	@command -v podman >/dev/null && command -v podman-compose >/dev/null && command -v mmdebstrap >/dev/null && command -v runc >/dev/null \
		|| (apt-get update -qq && apt-get install -y -qq podman podman-compose mmdebstrap runc >/dev/null) \
		|| echo "NOTE: could not install podman, podman-compose and mmdebstrap."

test-image: $(TEST_STAMP) container-tools
	@status=0; $(PY) tests/image/check_stack.py || status=$$?; \
	if [ $$status = 2 ] && [ "$$CI" != "true" ]; then \
		echo "NOTE: the container image test was NOT run (the reason is above)."; \
	elif [ $$status = 2 ]; then \
		echo "CI needs podman for the container image test." >&2; exit 1; \
	else exit $$status; fi

# Removes every image make test-image made (base images, app image, build cache): its next run
# starts from nothing, as on a fresh machine (docs/benchmarks.md, "make test-image").
test-image-clean:
	bash scripts/container/remove-images.sh

# The README's pictures, taken in real Chromium against a throwaway server (scripts/screenshots.py).
screenshots: $(TEST_STAMP) static chromium
	$(PY) scripts/screenshots.py

# Time and peak memory to prepare a 12 MP photo and a 4000×3000 screenshot (docs/benchmarks.md).
bench-images: $(TEST_STAMP)
	$(PY) -m benchmarks.images

# The contract workload: a 100-page contract, ten questions a minute apart (docs/benchmarks.md).
bench-contract: $(TEST_STAMP)
	$(PY) -m benchmarks.contract

# What the relay adds to a streaming reply, under daphne and uvicorn (docs/benchmarks.md).
# BENCH_ARGS=--redis: PostgreSQL + Redis, two processes; --burst-only: only the burst of
# 50 messages at once (issue 18); --help lists the run sizes.
BENCH_ARGS ?=
bench: $(TEST_STAMP)
	env -u DATABASE_URL -u REDIS_URL $(PY) -m benchmarks.relay $(BENCH_ARGS)

# ruff for Python; import-linter for the direction of chatapp's imports (pyproject.toml,
# [tool.importlinter]; docs/architecture.md); ESLint (eslint.config.js, pinned in package.json)
# for the pages' scripts.
lint: $(TEST_STAMP) node_modules/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports --no-logo --no-cache
	node_modules/.bin/eslint .

# Re-pin: install from pyproject.toml without constraints, then freeze.
lock:
	rm -rf /tmp/chatapp-lock && $(PYTHON) -m venv /tmp/chatapp-lock
	/tmp/chatapp-lock/bin/pip install --quiet -e '.[test]'
	/tmp/chatapp-lock/bin/pip freeze --exclude-editable | grep -v '^-e' > constraints.txt

clean:
	rm -rf $(VENV) node_modules static/vendor var/staticfiles
