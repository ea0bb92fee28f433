"""A throwaway PostgreSQL cluster for the tests' PostgreSQL pass (``TOOLDESK_TEST_DATABASE=postgresql``).

``make test`` runs the database-layer tests twice: on SQLite files, then on a real PostgreSQL (Debian's
``postgresql`` package, which the Makefile installs when it is missing). Here:

- ``Cluster.start()`` makes a cluster in a temporary folder (``initdb``, trust authentication on 127.0.0.1 only,
  UTF-8 with the ``C.UTF-8`` locale so that ``lower()`` and ``ILIKE`` fold non-ASCII letters as Python does) and
  starts it on a free port (``pg_ctl``). PostgreSQL refuses to run as root: when the tests run as root, every
  server command runs as the ``postgres`` user (``runuser``), which owns the folder; otherwise as the user running
  the tests. Durability is off (``fsync``, ``synchronous_commit``, ``full_page_writes``): the cluster is thrown
  away, and a killed console process still keeps what it committed (the server's memory outlives it).
- One cluster per test process (pytest-xdist worker): each has its own port and folder, so the processes share
  nothing, as on SQLite. ``stop()`` ends it (``pg_ctl stop -m immediate``) and removes the folder; an ``atexit``
  hook does the same when the session ends some other way.
- ``fresh_database()``: a database of its own per test, named for it alone, with the schema a new console makes
  and no rows. The first is copied from a template made once per cluster and already migrated
  (``app.db.make_engine``); ``release_database`` then takes a test's database back: it cuts the connections left
  on it, renames it (a stray thread of the finished test can no longer reach it by name), empties every table and
  restarts every sequence, and keeps it for the next test. That takes about a tenth of a second where copying the
  template (``CREATE DATABASE ... TEMPLATE``) takes half a second to a second on a busy two-core machine. A
  database whose schema the test changed is dropped instead.

pytest-postgresql does the same for a non-root user; it starts ``pg_ctl`` as the user running the tests, which
PostgreSQL refuses when that is root (CI containers, these machines), hence this module.
"""

from __future__ import annotations

import atexit
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from tests.builders import free_port

SELECT = "TOOLDESK_TEST_DATABASE"
"""``postgresql`` runs the tests on PostgreSQL; unset or ``sqlite``, on SQLite files."""
SERVER_USER = "postgres"
"""Who runs the server when the tests run as root (Debian's package makes this user)."""
TEMPLATE = "tooldesk_template"
AVOIDED_PORTS = range(55430, 55440)
"""Ports kept for clusters people start by hand for development: the tests' clusters never take them."""


def selected() -> bool:
    """True when the tests run on PostgreSQL (``TOOLDESK_TEST_DATABASE=postgresql``); raises ``ValueError`` on
    another value than ``postgresql`` or ``sqlite``."""
    value = os.environ.get(SELECT, "sqlite").strip().lower() or "sqlite"
    if value not in {"sqlite", "postgresql"}:
        raise ValueError(f"{SELECT}={value!r}: expected sqlite or postgresql")
    return value == "postgresql"


def server_bin() -> Path:
    """The folder of ``initdb`` and ``pg_ctl``: ``PG_BINDIR`` when set, else the newest
    ``/usr/lib/postgresql/<version>/bin`` (Debian's layout), else the folder of ``pg_ctl`` on ``PATH``. Raises
    ``FileNotFoundError`` saying how to install it."""
    if configured := os.environ.get("PG_BINDIR"):
        return Path(configured)
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda path: int(path.parts[-3]))
    if found:
        return found[-1].parent
    if on_path := shutil.which("pg_ctl"):
        return Path(on_path).parent
    raise FileNotFoundError(
        "PostgreSQL's server is not installed (no /usr/lib/postgresql/*/bin/initdb): `make postgresql` installs "
        "Debian's package, or set PG_BINDIR to the folder of initdb and pg_ctl"
    )


class Cluster:
    """A running throwaway cluster on 127.0.0.1:``port``, its files in ``folder``."""

    def __init__(self, folder: Path, port: int, bindir: Path, *, durable: bool = False) -> None:
        self.folder = folder
        self.port = port
        self.bindir = bindir
        self._names = itertools.count(1)
        self._stopped = False
        self._spares: list[str] = []
        self._schema: tuple[object, ...] = ()
        self._connection: psycopg.Connection[tuple[object, ...]] | None = None
        self.durable = durable

    @classmethod
    def start(cls, *, durable: bool = False) -> Cluster:
        """Make, start and template a cluster (a few seconds). Raises ``RuntimeError`` with the server's log when it
        does not start. ``durable``: PostgreSQL's own durability (``fsync``, ``synchronous_commit`` and
        ``full_page_writes`` on, its defaults) for the benchmarks; the tests' clusters run without."""
        bindir = server_bin()
        owner = _server_user() if os.geteuid() == 0 else None
        folder = Path(tempfile.mkdtemp(prefix="tooldesk-pg-"))
        if owner is not None:
            os.chown(folder, owner.pw_uid, owner.pw_gid)
        cluster = cls(folder, 0, bindir, durable=durable)
        atexit.register(cluster.stop)
        cluster._run("initdb", "-D", str(folder / "data"), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                     "--locale=C.UTF-8", "--no-sync")  # fmt: skip
        for _attempt in range(5):  # a free port may be taken between the pick and the bind
            cluster.port = _port()
            if cluster._start_server():
                break
        else:
            log = (folder / "server.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"the test PostgreSQL cluster in {folder} did not start:\n{log}")
        cluster._make_template()
        return cluster

    def url(self, database: str) -> str:
        """The console's URL for ``database`` on this cluster."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def fresh_database(self) -> str:
        """A database of the migrated schema with no rows, under a name no other test had; returns the name."""
        name = f"test_{next(self._names)}"
        if self._spares:
            self._admin(f'ALTER DATABASE "{self._spares.pop()}" RENAME TO "{name}"')
        else:
            self._admin(f'CREATE DATABASE "{name}" TEMPLATE {TEMPLATE}')
        return name

    def empty_database(self) -> str:
        """A database with nothing in it (not migrated), dropped with the cluster; returns its name."""
        name = f"empty_{next(self._names)}"
        self._admin(f'CREATE DATABASE "{name}" TEMPLATE template0')
        return name

    def release_database(self, name: str) -> None:
        """Take back the database ``name`` after its test: kept empty for the next one (module docstring), or
        dropped when its schema is no longer the template's or it cannot be emptied."""
        spare = f"spare_{next(self._names)}"
        try:
            self._rename(name, spare)
            with self._connect(spare) as conn:
                if _schema(conn) != self._schema:
                    raise RuntimeError(f"the test changed the schema of {name}")
                _empty(conn)
        except (psycopg.Error, RuntimeError):
            for gone in (name, spare):
                self._admin(f'DROP DATABASE IF EXISTS "{gone}" WITH (FORCE)')
            return
        self._spares.append(spare)

    @contextmanager
    def taken_away(self, name: str) -> Iterator[None]:
        """The database ``name`` out of reach meanwhile (its connections cut, renamed), as when its server or its
        network is gone; back under its name after."""
        away = f"away_{next(self._names)}"
        self._rename(name, away)
        try:
            yield
        finally:
            self._rename(away, name)

    def stop(self) -> None:
        """Stop the server at once and remove its folder; calling it again does nothing."""
        if self._stopped:
            return
        self._stopped = True
        if self._connection is not None:
            self._connection.close()
        if (self.folder / "data" / "postmaster.pid").exists():
            self._run("pg_ctl", "stop", "-D", str(self.folder / "data"), "-m", "immediate", check=False)
        shutil.rmtree(self.folder, ignore_errors=True)

    def _rename(self, name: str, new_name: str) -> None:
        """Cut every connection to ``name`` and rename it. Raises ``RuntimeError`` when it stays in use."""
        for _attempt in range(5):  # a pool may connect again between the cut and the rename
            self._admin(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")
            try:
                self._admin(f'ALTER DATABASE "{name}" RENAME TO "{new_name}"')
                return
            except psycopg.errors.ObjectInUse:
                continue
        raise RuntimeError(f"{name} is still in use")

    def _start_server(self) -> bool:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c max_connections=300"
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c shared_buffers=32MB"
        done = self._run("pg_ctl", "start", "-w", "-t", "60", "-D", str(self.folder / "data"), "-o", options,
                         "-l", str(self.folder / "server.log"), check=False)  # fmt: skip
        return done.returncode == 0

    def _make_template(self) -> None:
        from app.db import make_engine

        self._admin(f"CREATE DATABASE {TEMPLATE}")
        make_engine(self.url(TEMPLATE)).dispose()  # every migration, as a console's first start runs them
        with self._connect(TEMPLATE) as conn:
            self._schema = _schema(conn)
            filled = [table for table in _tables(conn) if conn.execute(f'SELECT 1 FROM "{table}" LIMIT 1').fetchone()]
        if filled:  # emptying every table would then lose what the migrations wrote
            raise RuntimeError(f"the migrations write rows in {filled}: teach tests/postgres.py to keep them")

    def _admin(self, statement: str) -> None:
        """Run ``statement`` on the cluster's ``postgres`` database, on one connection kept open."""
        if self._connection is None or self._connection.closed:
            self._connection = self._connect("postgres")
        self._connection.execute(statement.encode())

    def _connect(self, database: str) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", dbname=database, autocommit=True)

    def _run(self, program: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(self.bindir / program), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", SERVER_USER, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False, cwd=self.folder)
        if check and done.returncode != 0:
            raise RuntimeError(f"{program} failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
        return done


def _server_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(SERVER_USER)
    except KeyError:
        raise RuntimeError(
            f"PostgreSQL refuses to run as root, and there is no {SERVER_USER} user to run it as: `make postgresql` "
            "installs Debian's package, which makes it"
        ) from None


def _tables(conn: psycopg.Connection[tuple[object, ...]]) -> list[str]:
    """The tables of the console's schema, ``alembic_version`` aside."""
    rows = conn.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename != 'alembic_version' ORDER BY 1"
    )
    return [str(row[0]) for row in rows]


def _schema(conn: psycopg.Connection[tuple[object, ...]]) -> tuple[object, ...]:
    """What a test must not have changed for its database to be reused: the revision, tables, columns,
    indexes, sequences, functions and triggers."""
    queries = (
        "SELECT version_num FROM alembic_version",
        "SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = 'public' "
        "ORDER BY 1, 2",
        "SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1",
        "SELECT sequencename FROM pg_sequences WHERE schemaname = 'public' ORDER BY 1",
        "SELECT p.proname FROM pg_proc AS p JOIN pg_namespace AS n ON n.oid = p.pronamespace "
        "WHERE n.nspname = 'public' ORDER BY 1",
        "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1",
    )
    return tuple(tuple(conn.execute(query.encode()).fetchall()) for query in queries)


def _empty(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    """Delete every row (triggers and foreign keys off meanwhile, so the order does not matter and no trigger
    counts the deletions) and restart every sequence at 1, in one transaction."""
    tables = _tables(conn)
    sequences = [
        str(row[0]) for row in conn.execute("SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'")
    ]
    with conn.transaction():
        conn.execute(b"SET LOCAL session_replication_role = replica")
        for table in tables:
            conn.execute(f'DELETE FROM "{table}"'.encode())
        if sequences:
            conn.execute(("SELECT " + ", ".join(f"setval('\"{name}\"', 1, false)" for name in sequences)).encode())


def _port() -> int:
    while (port := free_port()) in AVOIDED_PORTS:
        pass
    return port
