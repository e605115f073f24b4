# The two commands of the quick start: `make run` and `make test`. Each sets itself up (virtual environment,
# install) and is harmless to run again.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8000

export TIERDESK_DATA_DIR ?= $(CURDIR)/var

.PHONY: run test install bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall only when the dependencies change.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

## Set up, load the demo data (once) and run the service on the embedded SQLite database.
run: $(STAMP)
	$(BIN)/tierdesk demo
	$(BIN)/tierdesk serve --host $(HOST) --port $(PORT)

## Set up, lint, and run the whole test suite (SQLite; PostgreSQL too when TIERDESK_TEST_DATABASE_URL is set).
test: $(STAMP)
	$(BIN)/ruff check --quiet src tests bench
	$(BIN)/python -m pytest -q

## The intake benchmark (SQLite, and PostgreSQL when TIERDESK_BENCH_PG_URL is set).
bench: $(STAMP)
	$(BIN)/python bench/intake.py

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis
