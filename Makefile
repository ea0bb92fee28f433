# `make run` serves the console; `make test` lints, type-checks and runs every test.
# Both create .venv and install what they need on a fresh machine.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint unit e2e bench reliability clean

run: $(STAMP) /usr/bin/bwrap
	$(BIN)/python -m app

test: $(STAMP) /usr/bin/chromium /usr/bin/bwrap lint unit e2e

lint: $(STAMP)
	$(BIN)/ruff check app tests bench
	$(BIN)/ruff format --check app tests bench
	$(BIN)/mypy

unit: $(STAMP) /usr/bin/bwrap
	$(BIN)/pytest -q

e2e: $(STAMP) /usr/bin/chromium
	$(BIN)/pytest -q -p no:nicegui.testing.user_plugin tests/e2e

bench: $(STAMP)
	$(BIN)/python bench/ingest.py

# the chaos figures of the README (several minutes); make test runs its --quick mode
reliability: $(STAMP) /usr/bin/bwrap
	$(BIN)/python bench/reliability.py

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

/usr/bin/chromium:
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

# Python handlers' workers run under bubblewrap (app/handlers/_confine.py)
/usr/bin/bwrap:
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
