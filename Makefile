# Clarion: `make run` starts everything, `make test` proves it. Both set themselves up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint setup migrate demo clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

.env:
	$(PYTHON) scripts/bootstrap_env.py

setup: $(STAMP) .env

migrate: setup
	$(BIN)/python manage.py migrate --noinput

demo: migrate
	$(BIN)/python manage.py clarion_demo

run: demo
	$(BIN)/python -m scripts.run

lint: setup
	$(BIN)/ruff check .

test: lint
	$(BIN)/python -m scripts.embedded_redis $(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) var db.sqlite3 db.sqlite3-* .pytest_cache .ruff_cache
