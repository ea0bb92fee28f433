"""Alembic's environment: runs the revisions on the connection ``app.migrations.config`` hands it, in one
transaction that this file begins and commits, so a start that dies half-way leaves the database as it was.

On SQLite the transaction is begun by hand: Python's ``sqlite3`` begins one only before a data change, so each
``CREATE`` would commit alone (and Alembic assumes SQLite has no transactional DDL). ``IMMEDIATE`` takes the write
lock first, so a second process starting at the same moment waits, then finds the work done. On PostgreSQL, where
DDL is transactional, a transaction-scoped advisory lock (``MIGRATION_LOCK``) does the same for several consoles
starting on one database."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from app.migrations import include_name, target_metadata
from app.migrations.postgres import render_item

MIGRATION_LOCK = 0x746F6F6C6465736B  # "tooldesk": the advisory lock's key, the same in every console


def run(connection: Connection) -> None:
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    elif connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
    context.configure(
        connection=connection,
        target_metadata=target_metadata(),
        include_name=include_name,
        render_as_batch=True,
        compare_type=True,
        render_item=render_item,  # a new Integer column is BIGINT on PostgreSQL
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()


connection = context.config.attributes.get("connection")
if connection is None:
    raise SystemExit("run migrations through app.migrations (python -m app db upgrade), which opens the database")
run(connection)
