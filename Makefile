# Clarion: `make run` starts everything, `make test` proves it. Both set themselves up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint setup migrate demo clean browser-deps bench

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

# Debian's chromium for the browser tests, where it is missing and can be installed (root
# with apt-get); otherwise the browser tests skip, loudly, and the rest still runs.
browser-deps:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "Installing chromium for the browser tests..."; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
			|| echo "WARNING: could not install chromium; the browser tests will be skipped."; \
	else \
		echo "WARNING: /usr/bin/chromium is missing and cannot be installed here (needs root and apt-get);" \
			"the browser tests will be skipped."; \
	fi

# The tests start well over a hundred web, worker and beat processes: compiled up front, where
# PYTHONDONTWRITEBYTECODE is set (as on CI machines) each would compile Clarion's modules again.
test: lint browser-deps
	$(BIN)/python -m compileall -q -j 0 config notifications preferences delivery monitoring scripts bench manage.py
	$(BIN)/python -m scripts.embedded_redis $(BIN)/python -m pytest $(PYTEST_ARGS)

# Clarion against a naive pipeline and a bare-loop ceiling (README, "Benchmark"); writes
# bench/results.json. `make bench ARGS=--quick` proves it still works, in about a minute.
bench: setup
	$(BIN)/python -m bench $(ARGS)

clean:
	rm -rf $(VENV) var db.sqlite3 db.sqlite3-* .pytest_cache .ruff_cache
