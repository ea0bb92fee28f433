# `make run` serves the console; `make test` lints, type-checks and runs every test.
# Both create .venv and install what they need on a fresh machine.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint unit e2e bench bench-quick reliability clean

run: $(STAMP) /usr/bin/bwrap
	$(BIN)/python -m app

test: $(STAMP) /usr/bin/chromium /usr/bin/bwrap lint unit e2e

lint: $(STAMP)
	$(BIN)/ruff check app tests bench
	$(BIN)/ruff format --check app tests bench
	$(BIN)/mypy

# tests run in TEST_JOBS processes (pytest-xdist), each test file whole in one of them: every test has its own
# database, ports and temporary folder, and a file's shared fixtures (a simulator, a console) start once
TEST_JOBS ?= 2

unit: $(STAMP) /usr/bin/bwrap
	$(BIN)/pytest -q -n $(TEST_JOBS) --dist loadfile

e2e: $(STAMP) /usr/bin/chromium
	$(BIN)/pytest -q -n $(TEST_JOBS) --dist loadfile -p no:nicegui.testing.user_plugin tests/e2e

# the benchmark table of the README (bench/run_all.py): every measure, goal, figure and verdict; the load comes
# from wrk, the tabs from Chromium. bench-quick is the same in short runs, under 2 minutes.
BENCH_TOOLS := $(STAMP) /usr/bin/wrk /usr/bin/chromium /usr/bin/bwrap

bench: $(BENCH_TOOLS)
	$(BIN)/python bench/run_all.py

bench-quick: $(BENCH_TOOLS)
	$(BIN)/python bench/run_all.py --quick

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

# the benchmarks' HTTP load generator (a C client, lighter than the console it loads)
/usr/bin/wrk:
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk

# Python handlers' workers run under bubblewrap (app/handlers/_confine.py)
/usr/bin/bwrap:
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
