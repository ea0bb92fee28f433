"""Rows written straight through the DBAPI cursor (``sqlite3``, or ``psycopg`` on PostgreSQL), for the webhook's
hot path.

SQLAlchemy Core costs tens of microseconds of Python per statement (cache keys, parameter processing, result
set-up); ``sqlite3`` keeps its own cache of prepared statements, so the same SQL text runs again for a few, and
``psycopg`` prepares a statement on the server once the same text has run a few times on a connection. Values
still go through each column's own bind processor (``JsonValue``'s JSON, ``EnumText``, ``Boolean``) and scalar
column defaults are filled in as Core fills them, so a row written here reads back exactly as one written by Core.
Used only inside a transaction the caller holds (``app.db.write_connection``).

SQL is written once, with ``?`` placeholders (SQLite's): ``cursor_of`` gives SQLite's own cursor, untouched, and
on PostgreSQL a ``PgCursor`` that rewrites each text once to ``%s`` placeholders. An ``INSERT`` gives the new
row's key from ``lastrowid`` on SQLite and from ``RETURNING`` on PostgreSQL.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from sqlalchemy import JSON, Connection, Table
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import OperationalError
from sqlalchemy.sql.elements import Null
from sqlalchemy.types import TypeDecorator

try:
    import psycopg
except ImportError:  # pragma: no cover - SQLite only
    INTEGRITY_ERRORS: tuple[type[Exception], ...] = (sqlite3.IntegrityError,)
    RETRY_ERRORS: tuple[type[Exception], ...] = ()
    UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (sqlite3.OperationalError, OperationalError)
else:
    INTEGRITY_ERRORS = (sqlite3.IntegrityError, psycopg.IntegrityError)
    RETRY_ERRORS = (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure)
    UNAVAILABLE_ERRORS = (sqlite3.OperationalError, psycopg.OperationalError, OperationalError)
"""The drivers' ``IntegrityError`` (a cursor's statements raise the driver's own, not SQLAlchemy's);
``RETRY_ERRORS``: PostgreSQL aborted the transaction for another's sake (deadlock, serialization), doing it again
succeeds; ``UNAVAILABLE_ERRORS``: the database cannot be used right now (server gone, lock or statement timeout,
SQLite's "database is locked" or read-only file), the driver's ``OperationalError`` or SQLAlchemy's wrapping of it
(check ``RETRY_ERRORS`` first: they are ``OperationalError`` too)."""


def constraint_of(exc: Exception) -> str | None:
    """The name of the constraint a PostgreSQL ``IntegrityError`` names (``None`` from SQLite, which names none)."""
    return getattr(getattr(exc, "diag", None), "constraint_name", None)


class Cursor(Protocol):
    """What the hot path needs of a DBAPI cursor: ``sqlite3.Cursor`` or ``PgCursor``."""

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Any: ...

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]], /) -> Any: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class PgCursor:
    """A ``psycopg`` cursor that takes SQLite's ``?`` placeholders (each text rewritten once, then cached);
    ``execute`` returns the cursor, as ``sqlite3``'s does, so ``execute(...).fetchone()`` reads alike."""

    _texts: ClassVar[dict[str, str]] = {}

    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> PgCursor:
        self._cursor.execute(self._text(sql), parameters)
        return self

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]], /) -> None:
        """``sql`` once for each of ``rows``: psycopg sends them all before reading any answer (pipeline mode),
        one exchange with the server for all of them."""
        self._cursor.executemany(self._text(sql), rows)

    @classmethod
    def _text(cls, sql: str) -> str:
        text = cls._texts.get(sql)
        if text is None:
            text = cls._texts[sql] = sql.replace("%", "%%").replace("?", "%s")
        return text

    def fetchone(self) -> Any:
        return self._cursor.fetchone()

    def fetchall(self) -> list[Any]:
        return list(self._cursor.fetchall())

    def __iter__(self) -> Any:
        return iter(self._cursor)


@dataclass(frozen=True)
class _Plan:
    sql: str
    names: tuple[str, ...]
    processors: tuple[Callable[[Any], Any] | None, ...]
    defaults: tuple[Any, ...]  # for the columns past the given ones
    returning: bool  # the key comes back as a row (PostgreSQL), not as ``lastrowid``


_plans: dict[tuple[str, str, str, tuple[str, ...]], _Plan] = {}


def cursor_of(conn: Connection) -> Cursor:
    """A DBAPI cursor under a SQLAlchemy connection (same transaction): ``sqlite3``'s own, or a ``PgCursor``."""
    driver = conn.connection.driver_connection
    if isinstance(driver, sqlite3.Connection):
        return driver.cursor()
    assert driver is not None
    return PgCursor(driver.cursor())


def insert_row(cursor: Cursor, dialect: Dialect, table: Table, values: Mapping[str, Any]) -> int:
    """``INSERT`` one row of ``values`` (column name to value) into ``table``; its generated key (SQLite's
    ``rowid``; on PostgreSQL the table's autoincrement column, 0 for a table without one)."""
    plan = _plan("insert", dialect, table, tuple(values))
    cursor.execute(plan.sql, _params(plan, values))
    if plan.returning:
        return int(cursor.fetchone()[0])
    return int(getattr(cursor, "lastrowid", 0) or 0)


def insert_rows(cursor: Cursor, dialect: Dialect, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """``INSERT`` every one of ``rows`` (each column name to value, the same columns in each) into ``table`` in one
    ``executemany``: on PostgreSQL one exchange with the server for all of them. Their keys are not read."""
    if not rows:
        return
    plan = _plan("insert_many", dialect, table, tuple(rows[0]))
    cursor.executemany(plan.sql, [_params(plan, values) for values in rows])


def upsert_row(cursor: Cursor, dialect: Dialect, table: Table, key: str, values: Mapping[str, Any]) -> None:
    """``INSERT`` one row of ``values`` (which hold the column ``key``, unique), or when a row with that key is
    there, set its other columns to ``values`` (``ON CONFLICT (key) DO UPDATE``, the same text on both
    databases; ``DO NOTHING`` when ``values`` holds the key alone)."""
    plan = _plan("upsert", dialect, table, (key, *(name for name in values if name != key)))
    cursor.execute(plan.sql, _params(plan, values))


def update_row(cursor: Cursor, dialect: Dialect, table: Table, key: tuple[str, Any], values: Mapping[str, Any]) -> None:
    """``UPDATE table SET values WHERE key[0] = key[1]``."""
    plan = _plan("update", dialect, table, (*values, key[0]))
    cursor.execute(plan.sql, _params(plan, {**values, key[0]: key[1]}))


_readers: dict[tuple[str, str, tuple[str, ...]], tuple[Callable[[Any], Any] | None, ...]] = {}


def read_row(dialect: Dialect, table: Table, names: tuple[str, ...], row: Sequence[Any]) -> dict[str, Any]:
    """A raw row of ``table``'s columns ``names`` (in that order, as a cursor of this module returns them) as
    column name to value, each through its column's result processor, as Core reads it: JSON decoded (on
    PostgreSQL the driver already did), ``EnumText`` as its member, SQLite's 0 and 1 as ``bool``."""
    key = (dialect.name, table.name, names)
    processors = _readers.get(key)
    if processors is None:
        processors = _readers[key] = tuple(_reader(table.columns[name].type, dialect) for name in names)
    return {
        name: value if process is None or value is None else process(value)
        for name, value, process in zip(names, row, processors, strict=True)
    }


def _reader(kind: Any, dialect: Dialect) -> Callable[[Any], Any] | None:
    """The column's result processor. ``psycopg`` already gives Python's values (numbers, booleans, JSON decoded
    by the dialect's loader), and SQLAlchemy's PostgreSQL processors need the driver's type code: there only a
    ``TypeDecorator``'s own ``process_result_value`` (``EnumText``'s member) applies."""
    if dialect.name == "sqlite":
        return kind.dialect_impl(dialect).result_processor(dialect, None)  # type: ignore[no-any-return]
    if isinstance(kind, TypeDecorator) and type(kind).process_result_value is not TypeDecorator.process_result_value:
        return lambda value: kind.process_result_value(value, dialect)
    return None


def _params(plan: _Plan, values: Mapping[str, Any]) -> list[Any]:
    given = [values[name] for name in plan.names[: len(plan.names) - len(plan.defaults)]]
    return [
        value if process is None else process(value)
        for value, process in zip([*given, *plan.defaults], plan.processors, strict=True)
    ]


def _plan(kind: str, dialect: Dialect, table: Table, names: tuple[str, ...]) -> _Plan:
    key = (kind, dialect.name, table.name, names)
    plan = _plans.get(key)
    if plan is not None:
        return plan
    defaults: dict[str, Any] = {}
    if kind in ("insert", "insert_many", "upsert"):
        for column in table.columns:
            default = column.default
            if column.name not in names and default is not None and getattr(default, "is_scalar", False):
                defaults[column.name] = getattr(default, "arg", None)
    every = (*names, *defaults)
    processors = tuple(_processor(table.columns[name].type, dialect) for name in every)
    quoted = [f'"{name}"' for name in every]
    returning = False
    if kind in ("insert", "insert_many"):
        sql = f'INSERT INTO "{table.name}" ({", ".join(quoted)}) VALUES ({", ".join("?" * len(every))})'
        key_column = table.autoincrement_column
        if kind == "insert" and dialect.name != "sqlite" and key_column is not None and key_column.name not in names:
            sql += f' RETURNING "{key_column.name}"'
            returning = True
    elif kind == "upsert":
        sets = ", ".join(f"{name} = excluded.{name}" for name in quoted[1 : len(names)])
        sql = f'INSERT INTO "{table.name}" ({", ".join(quoted)}) VALUES ({", ".join("?" * len(every))})'
        sql += f" ON CONFLICT ({quoted[0]}) " + (f"DO UPDATE SET {sets}" if sets else "DO NOTHING")
    else:
        sets = ", ".join(f"{name} = ?" for name in quoted[:-1])
        sql = f'UPDATE "{table.name}" SET {sets} WHERE {quoted[-1]} = ?'
    plan = _plans[key] = _Plan(sql, every, processors, tuple(defaults.values()), returning)
    return plan


def _processor(kind: Any, dialect: Dialect) -> Callable[[Any], Any] | None:
    """The column's bind processor; for JSON on PostgreSQL the JSON text Core would send (``psycopg``'s own JSON
    wrapper needs the cast Core adds to its SQL), with Core's rule for ``None`` (JSON ``null`` unless the column
    says ``none_as_null``)."""
    json_type = kind.impl if isinstance(kind, TypeDecorator) else kind
    if dialect.name == "sqlite" or not isinstance(json_type, JSON):
        return kind.bind_processor(dialect)  # type: ignore[no-any-return]
    serialize: Callable[[Any], str] = getattr(dialect, "_json_serializer", None) or (
        lambda value: json.dumps(value, ensure_ascii=False)
    )
    none_as_null = json_type.none_as_null

    def process(value: Any) -> str | None:
        if value is JSON.NULL:
            value = None
        elif isinstance(value, Null) or (value is None and none_as_null):
            return None
        return serialize(value)

    return process


@contextmanager
def savepoint(cursor: Cursor) -> Iterator[None]:
    """A part of the caller's transaction rolled back alone when it raises (one delivery of a batch): after a
    failed statement PostgreSQL refuses every other until the rollback to the savepoint."""
    cursor.execute("SAVEPOINT delivery")
    try:
        yield
    except BaseException:
        cursor.execute("ROLLBACK TO delivery")
        cursor.execute("RELEASE delivery")
        raise
    cursor.execute("RELEASE delivery")
