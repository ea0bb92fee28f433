"""Rows written straight through the DBAPI cursor (``sqlite3``), for the webhook's hot path.

SQLAlchemy Core costs tens of microseconds of Python per statement (cache keys, parameter processing, result
set-up); ``sqlite3`` keeps its own cache of prepared statements, so the same SQL text runs again for a few. Values
still go through each column's own bind processor (``JsonValue``'s JSON, ``EnumText``, ``Boolean``) and scalar
column defaults are filled in as Core fills them, so a row written here reads back exactly as one written by Core.
Used only inside a transaction the caller holds (``app.db.write_connection``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.engine import Dialect


@dataclass(frozen=True)
class _Plan:
    sql: str
    names: tuple[str, ...]
    processors: tuple[Callable[[Any], Any] | None, ...]
    defaults: tuple[Any, ...]  # for the columns past the given ones


_plans: dict[tuple[str, str, tuple[str, ...]], _Plan] = {}


def cursor_of(conn: Connection) -> sqlite3.Cursor:
    """The ``sqlite3`` cursor under a SQLAlchemy connection (same transaction)."""
    driver = conn.connection.driver_connection
    assert isinstance(driver, sqlite3.Connection)
    return driver.cursor()


def insert_row(cursor: sqlite3.Cursor, dialect: Dialect, table: Table, values: Mapping[str, Any]) -> int:
    """``INSERT`` one row of ``values`` (column name to value) into ``table``; its ``rowid``."""
    plan = _plan("insert", dialect, table, tuple(values))
    cursor.execute(plan.sql, _params(plan, values))
    return int(cursor.lastrowid or 0)


def update_row(
    cursor: sqlite3.Cursor, dialect: Dialect, table: Table, key: tuple[str, Any], values: Mapping[str, Any]
) -> None:
    """``UPDATE table SET values WHERE key[0] = key[1]``."""
    plan = _plan("update", dialect, table, (*values, key[0]))
    cursor.execute(plan.sql, _params(plan, {**values, key[0]: key[1]}))


def _params(plan: _Plan, values: Mapping[str, Any]) -> list[Any]:
    given = [values[name] for name in plan.names[: len(plan.names) - len(plan.defaults)]]
    return [
        value if process is None else process(value)
        for value, process in zip([*given, *plan.defaults], plan.processors, strict=True)
    ]


def _plan(kind: str, dialect: Dialect, table: Table, names: tuple[str, ...]) -> _Plan:
    key = (kind, table.name, names)
    plan = _plans.get(key)
    if plan is not None:
        return plan
    defaults: dict[str, Any] = {}
    if kind == "insert":
        for column in table.columns:
            default = column.default
            if column.name not in names and default is not None and getattr(default, "is_scalar", False):
                defaults[column.name] = getattr(default, "arg", None)
    every = (*names, *defaults)
    processors = tuple(table.columns[name].type.bind_processor(dialect) for name in every)
    quoted = [f'"{name}"' for name in every]
    if kind == "insert":
        sql = f'INSERT INTO "{table.name}" ({", ".join(quoted)}) VALUES ({", ".join("?" * len(every))})'
    else:
        sets = ", ".join(f"{name} = ?" for name in quoted[:-1])
        sql = f'UPDATE "{table.name}" SET {sets} WHERE {quoted[-1]} = ?'
    plan = _plans[key] = _Plan(sql, every, processors, tuple(defaults.values()))
    return plan
