# Lianku's two commands: `make run` (install, migrate, demo data, serve) and `make test`.
# Nothing global is assumed but Python 3.11+; everything else lands in .venv and node_modules.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml examples/*/pyproject.toml examples/*/src/*/*.py | cksum | cut -d' ' -f1)
ASSETS := node_modules/.installed-$(shell cat package-lock.json | cksum | cut -d' ' -f1)
HOST   ?= 127.0.0.1
PORT   ?= 5000

.PHONY: setup run test lint translations translations-update clean

$(STAMP):
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11+ is required")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,assets]'
	# the example third-party plugin, installed the way an integrator's package would be
	$(BIN)/python -m pip install --quiet --no-deps ./examples/lianku-example-plugin
	rm -f $(VENV)/.installed-*
	touch $@

$(ASSETS): $(STAMP)
	$(BIN)/npm ci --no-audit --no-fund --loglevel=error
	touch $@

translations: $(STAMP)
	$(BIN)/pybabel compile --statistics -d app/translations 2>&1 | grep -v '^compiling' || true

setup: $(STAMP) $(ASSETS) translations

run: setup
	$(BIN)/lianku init
	$(BIN)/lianku demo --if-empty
	@echo "Lianku is serving on http://$(HOST):$(PORT)"
	$(BIN)/lianku run --host $(HOST) --port $(PORT)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

# With PostgreSQL, the two runs go side by side (one core each; the PostgreSQL run waits on its
# server much of the time), each into its own log, printed whole once both have ended. Each log
# ends with its 30 slowest steps: CI has 30 minutes for both runs on a 2-core machine.
test: lint
	@if [ -n "$$LIANKU_TEST_POSTGRES_URL" ]; then \
		mkdir -p test-logs; \
		echo "=== the suite on SQLite and on PostgreSQL, side by side ==="; \
		LIANKU_TEST_DB=sqlite $(BIN)/pytest --durations=30 > test-logs/sqlite.log 2>&1 & sqlite=$$!; \
		LIANKU_TEST_DB=postgres $(BIN)/pytest --durations=30 > test-logs/postgres.log 2>&1; postgres=$$?; \
		wait $$sqlite; sqlite=$$?; \
		echo "=== SQLite ==="; cat test-logs/sqlite.log; \
		echo "=== PostgreSQL ==="; cat test-logs/postgres.log; \
		test $$sqlite -eq 0 -a $$postgres -eq 0; \
	else \
		LIANKU_TEST_DB=sqlite $(BIN)/pytest --durations=30 && \
		echo "LIANKU_TEST_POSTGRES_URL not set: PostgreSQL run skipped"; \
	fi

# Re-extract translatable strings after changing code or templates, then translate the new
# entries in app/translations/zh/LC_MESSAGES/messages.po.
translations-update: $(STAMP)
	$(BIN)/pybabel extract --omit-header -F babel.cfg -k _l -k _ -o /tmp/lianku-messages.pot .
	$(BIN)/pybabel update --no-fuzzy-matching -i /tmp/lianku-messages.pot -d app/translations

clean:
	rm -rf $(VENV) node_modules instance
