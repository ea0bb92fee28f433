"""Schema migrations, by Alembic: the revisions in ``versions/`` take a database from nothing (or from the schema
an older version made) to what ``app.models`` describe.

- ``upgrade(engine)`` applies every revision the database lacks, in one transaction (``BEGIN IMMEDIATE`` on
  SQLite, a transaction-scoped advisory lock on PostgreSQL, so two processes starting at once take turns); ``app.db.make_engine`` calls it at every start, and
  ``python -m app db upgrade`` by hand (``cli``).
- ``0001_baseline`` (``baseline``) makes the schema as it was when migrations began, or adopts a database made
  before them: a database with the console's tables and no ``alembic_version`` is brought to the baseline the way
  starts used to (missing columns and indexes added, the old ``answered_by`` text upgraded) and stamped.
- Objects the models cannot describe (SQLite's FTS5 index, triggers) live in functions of their own, called only
  when ``op.get_bind().dialect.name == "sqlite"``; another database gets functions of its own beside them.
- On PostgreSQL every integer column is ``BIGINT``, as 64-bit as SQLite's (``postgres.widen_integers``).

Alembic is configured here in code (``config``), so no ``alembic.ini`` is needed, and the scripts are found
beside this file wherever the package is installed.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, MetaData

HERE = Path(__file__).resolve().parent
_one_at_a_time = threading.Lock()
"""Alembic's ``context`` and ``op`` are module-level proxies: one migration run per process at a time."""


def config(connection: Connection | None = None) -> Config:
    """Alembic's configuration: the scripts beside this file, and ``connection`` for ``env.py`` to run on."""
    settings = Config()
    settings.set_main_option("script_location", str(HERE))
    settings.attributes["connection"] = connection
    return settings


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply the revisions up to ``revision`` that ``engine``'s database lacks, in one transaction. Blocking.
    Raises ``sqlalchemy.exc.SQLAlchemyError`` when the database cannot be read or written."""
    with _one_at_a_time, engine.connect() as conn:
        command.upgrade(config(conn), revision)


def current(engine: Engine) -> str | None:
    """The revision ``engine``'s database is at; ``None`` for a fresh one or one made before migrations."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head() -> str:
    """The newest revision in ``versions/``."""
    revision = ScriptDirectory.from_config(config()).get_current_head()
    assert revision is not None
    return revision


def target_metadata() -> list[MetaData]:
    """What the migrated schema must equal: the console's models and the embedded simulator's tables."""
    from sqlmodel import SQLModel

    import app.models  # noqa: F401  (registers every table on SQLModel.metadata)
    from app.simulator.storage import metadata as simulator

    return [SQLModel.metadata, simulator]


SEARCH_INDEX_SUFFIX = "_search"
"""PostgreSQL's trigram indexes of the runs search (revision ``0003_postgres_search``) end so: indexes on
expressions, which the models do not describe."""


def include_name(name: str | None, type_: str, _parents: Any) -> bool:
    """Whether autogenerate compares an object: not the tables the models do not describe (the run counts, the
    search index and its FTS5 shadow tables on SQLite), nor PostgreSQL's search indexes."""
    from app.migrations.baseline import sqlite

    if name is None:
        return True
    if type_ == "index":
        return not name.endswith(SEARCH_INDEX_SUFFIX)
    return not (type_ == "table" and (name in sqlite.TABLES or name.startswith("run_fts_")))
