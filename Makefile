# `make run` serves the console; `make test` lints, type-checks and runs every test (the database-layer ones twice:
# on SQLite, then on PostgreSQL).
# Both create .venv and install what they need on a fresh machine: `make run` the runtime dependencies only
# (requirements.lock), `make test` the test tools too (requirements-test.lock). `make lock` remakes both files from
# pyproject.toml with pip-tools.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
DESKTOP := $(VENV)/.desktop-installed
RUN_STAMP := $(VENV)/.installed-run
STAMP := $(VENV)/.installed-test

.PHONY: run desktop test lint unit unit-pg postgresql e2e bench bench-quick reliability lock clean

run: $(RUN_STAMP) /usr/bin/bwrap
	$(BIN)/python -m app

# the console in a window of its own (`tooldesk desktop`), signed in, on a database in the user's data folder
desktop: $(RUN_STAMP) $(DESKTOP) /usr/bin/bwrap
	$(BIN)/python -m app desktop

test: $(STAMP) $(DESKTOP) /usr/bin/chromium /usr/bin/bwrap postgresql lint unit unit-pg e2e

lint: $(STAMP)
	$(BIN)/ruff check app tests bench
	$(BIN)/ruff format --check app tests bench
	$(BIN)/mypy

# tests run in TEST_JOBS processes (pytest-xdist), each test file whole in one of them: every test has its own
# database, ports and temporary folder, and a file's shared fixtures (a simulator, a console) start once
TEST_JOBS ?= 2

unit: $(STAMP) /usr/bin/bwrap postgresql
	$(BIN)/pytest -q -n $(TEST_JOBS) --dist loadfile

# the tests that touch the database layer, a second time on PostgreSQL: each test process starts a throwaway cluster
# of Debian's server on a free port in a temporary folder (as the postgres user when run as root) and gives every
# test a database of its own (tests/postgres.py); tests about SQLite's file, lock or WAL are skipped there, saying why
# (the pages' own queries: the Overview, the runs list and the deliveries' paging; the rest of tests/ui goes through the
# services tests/api already runs). Left out there: the files about checks made before any database work (the guard's
# headers and origins, request bodies, roles on every route, handler limits and isolation)
PG_TESTS ?= tests/api tests/cases tests/auth $(PG_UI_TESTS) $(PG_UNIT_TESTS) $(PG_NOT_DATABASE)
PG_NOT_DATABASE := $(addprefix --ignore=tests/,api/test_guard.py api/test_request_bodies.py api/test_handler_bounds.py \
	api/test_handler_isolation.py auth/test_access.py auth/test_origin.py auth/test_origin_socket.py auth/test_ui_events.py)
PG_UI_TESTS := $(addprefix tests/ui/,test_overview_page.py test_runs_page.py test_deliveries_paging.py)
PG_UNIT_TESTS := $(addprefix tests/unit/,test_postgres_fixture.py test_migrations_postgres.py \
	test_refused_retention.py test_secret_rotation.py test_simulator_storage.py test_read_snapshot.py)

unit-pg: $(STAMP) /usr/bin/bwrap postgresql
	TOOLDESK_TEST_DATABASE=postgresql $(BIN)/pytest -q -n $(TEST_JOBS) --dist loadfile $(PG_TESTS)

e2e: $(STAMP) $(DESKTOP) /usr/bin/chromium postgresql
	$(BIN)/pytest -q -n $(TEST_JOBS) --dist loadfile -p no:nicegui.testing.user_plugin tests/e2e

# the benchmark table of the README (bench/run_all.py): every measure, goal, figure and verdict; the load comes
# from wrk, the tabs from Chromium. bench-quick is the same in short runs, under 2 minutes.
BENCH_TOOLS := $(STAMP) /usr/bin/wrk /usr/bin/chromium /usr/bin/bwrap postgresql

bench: $(BENCH_TOOLS)
	$(BIN)/python bench/run_all.py

bench-quick: $(BENCH_TOOLS)
	$(BIN)/python bench/run_all.py --quick

# the chaos figures of the README (several minutes); make test runs its --quick mode
reliability: $(STAMP) /usr/bin/bwrap
	$(BIN)/python bench/reliability.py

$(RUN_STAMP): requirements.lock pyproject.toml
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.lock
	$(BIN)/pip install -q --no-deps -e .
	touch $(RUN_STAMP)

$(STAMP): $(RUN_STAMP) requirements-test.lock
	$(BIN)/pip install -q -r requirements-test.lock
	touch $(STAMP)

# the lock files, from pyproject.toml (pip-tools); the test file keeps the runtime file's versions
LOCK_FLAGS := --quiet --strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links --no-emit-trusted-host

lock: $(RUN_STAMP)
	$(BIN)/pip install -q pip-tools
	$(BIN)/pip-compile $(LOCK_FLAGS) -o requirements.lock pyproject.toml
	$(BIN)/pip-compile $(LOCK_FLAGS) --extra test -c requirements.lock -o requirements-test.lock pyproject.toml
	$(BIN)/pip-compile $(LOCK_FLAGS) --extra desktop -c requirements.lock -o requirements-desktop.lock pyproject.toml

/usr/bin/chromium:
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

# the benchmarks' HTTP load generator (a C client, lighter than the console it loads)
/usr/bin/wrk:
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk

# the PostgreSQL pass of the tests (unit-pg) runs Debian's server binaries, /usr/lib/postgresql/<version>/bin: the
# version differs between Debian releases, hence a check rather than a file target
postgresql:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; }

# Python handlers' workers run under bubblewrap (app/handlers/_confine.py)
/usr/bin/bwrap:
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap

# the desktop window (`tooldesk desktop`) and its test: pywebview shows it with WebKitGTK through PyGObject, which
# builds against Debian's GObject introspection and cairo headers; the test runs it on Xvfb and takes its screenshot
# with ImageMagick. Only `make test` installs these: `make run` serves to a browser.
$(DESKTOP): $(STAMP) requirements-desktop.lock /usr/bin/Xvfb
	$(BIN)/pip install -q -r requirements-desktop.lock
	touch $(DESKTOP)

/usr/bin/Xvfb:
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq xvfb imagemagick gir1.2-webkit2-4.1 \
		libgirepository1.0-dev libcairo2-dev pkg-config

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
