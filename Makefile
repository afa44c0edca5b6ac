# The two commands: `make run` and `make test`. Everything else is a helper of theirs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app webapp
# `make run PORT=8080 HOST=127.0.0.1` serves elsewhere.
HOST ?= 0.0.0.0
PORT ?= 5000
# The suite runs on every core (pytest-xdist; each worker gets its own PostgreSQL database).
PYTEST_ARGS ?= -n auto

.PHONY: run test install install-test db lint bench bench-cluster clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

## make run: install, create the SQLite database with demo data when missing, serve on $(HOST):$(PORT)
run: install
	FLASK_RUN_PORT=$(PORT) $(FLASK) init-demo
	$(FLASK) run --host $(HOST) --port $(PORT)

## make test: install what the tests need and run the whole suite
test: install-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install-test
	$(BIN)/ruff check webapp tests bench
	$(BIN)/mypy webapp

bench: install-test
	$(BIN)/python bench/run.py $(BENCH_ARGS)

## make bench-cluster: two instances behind nginx sharing PostgreSQL and Redis (checks + figures)
bench-cluster: install-test
	$(BIN)/python bench/cluster.py

clean:
	rm -rf $(VENV) .pytest_cache
