"""How the schema's types read on PostgreSQL: every integer column is 64-bit, as SQLite's ``INTEGER`` is.

Task ids, sequences and rounds come from the platform and reach ``2**63 - 1`` (``app.protocol.INT64_MAX``; case
C11 stores a task_id beyond ``2**53``); PostgreSQL's ``INTEGER`` stops at ``2**31 - 1``. So an ``Integer`` column
is made ``BIGINT`` there, and an auto-numbered primary key ``BIGSERIAL`` (a key and the columns that refer to it
then have one type). Only column definitions change: a cast or a bound value stays ``INTEGER`` (SQLAlchemy's own
catalogue queries rely on it). The models keep SQLAlchemy's plain ``Integer``, so SQLite is unchanged;
``compare_type`` tells Alembic's comparison of models and database (autogenerate) that ``BIGINT`` is what an
``Integer`` is made as. Imported by ``app.migrations``, so these hold before any engine makes a table.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Column, Integer
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import CreateColumn
from sqlalchemy.sql.compiler import DDLCompiler, TypeCompiler
from sqlalchemy.types import TypeEngine


@compiles(Integer, "postgresql")
def _bigint(_type: Integer, _compiler: TypeCompiler, **kw: Any) -> str:
    return "BIGINT" if isinstance(kw.get("type_expression"), Column) else "INTEGER"


@compiles(CreateColumn, "postgresql")
def _bigserial(element: CreateColumn, compiler: DDLCompiler, **kw: Any) -> str:
    text = str(compiler.visit_create_column(element, **kw))  # type: ignore[no-untyped-call]
    name = compiler.preparer.format_column(element.element)
    return text.replace(f"{name} SERIAL", f"{name} BIGSERIAL", 1)


def compare_type(
    context: Any, _inspected: Any, _column: Any, inspected_type: TypeEngine[Any], metadata_type: TypeEngine[Any]
) -> bool | None:
    """For Alembic's ``compare_type``: on PostgreSQL a ``BIGINT`` column equals a model's ``Integer`` (``False``:
    no change); anything else is left to Alembic's own comparison (``None``)."""
    if context.dialect.name == "postgresql" and type(metadata_type) is Integer:
        return not isinstance(inspected_type, BigInteger)
    return None
