"""How the schema's integers read on PostgreSQL: 64-bit, as SQLite's ``INTEGER`` is.

Task ids, sequences and rounds come from the platform and reach ``2**63 - 1`` (``app.protocol.INT64_MAX``; case
C11 stores a task_id beyond ``2**53``); PostgreSQL's ``INTEGER`` stops at ``2**31 - 1``. ``widen_integers``
gives every plain ``Integer`` column of the console's tables (the models, the embedded simulator's tables and the
baseline's frozen copy) a ``BIGINT`` variant on PostgreSQL: its columns are made ``BIGINT`` (``BIGSERIAL`` for an
auto-numbered key, so a key and the columns that refer to it have one type), values are sent as ``BIGINT``, and
Alembic's comparison of models and database (autogenerate) sees ``BIGINT`` on both sides. SQLite is unchanged.
``app.db.make_engine`` calls it before it opens a PostgreSQL database; a variant, not a global compile rule, so
that SQLAlchemy's own catalogue queries keep their ``INTEGER``. A revision written by autogenerate gets the same
variant for a new integer column (``render_item``).
"""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import BigInteger, Integer, MetaData

__all__ = ["render_item", "widen_integers"]

_done = False


def widen_integers() -> None:
    """Give every plain ``Integer`` column a ``BIGINT`` variant on PostgreSQL; once per process (later calls do
    nothing)."""
    global _done
    if _done:
        return
    from sqlmodel import SQLModel

    import app.models  # noqa: F401  (registers every table on SQLModel.metadata)
    from app.migrations.baseline.tables import metadata as baseline
    from app.simulator.storage import metadata as simulator

    for metadata in (SQLModel.metadata, simulator, baseline):
        _widen(metadata)
    _done = True


def render_item(kind: str, item: Any, autogen_context: Any) -> str | Literal[False]:
    """For Alembic's autogenerate (``tooldesk db revision``): a plain ``Integer`` is written with its ``BIGINT``
    variant, so a new integer column of a revision is 64-bit on PostgreSQL too; anything else as Alembic writes it."""
    if kind == "type" and type(item) is Integer and not item._variant_mapping:
        return 'sa.Integer().with_variant(sa.BigInteger(), "postgresql")'
    return False


def _widen(metadata: MetaData) -> None:
    for table in metadata.tables.values():
        for column in table.columns:
            if type(column.type) is Integer and "postgresql" not in column.type._variant_mapping:
                column.type = column.type.with_variant(BigInteger(), "postgresql")
