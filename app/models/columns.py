"""Column types shared by the tables."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Generic, TypeVar

from sqlalchemy import JSON, Dialect, String
from sqlalchemy.types import TypeDecorator

from app.json_values import same_json

E = TypeVar("E", bound=StrEnum)


class EnumText(TypeDecorator[E], Generic[E]):
    """A ``StrEnum`` stored as its value, a plain string column (``'pending'``, not the member's name
    ``'PENDING'`` that SQLAlchemy's ``Enum`` type would store), read back as the member.

    The column stays ``VARCHAR``, so databases written before the enums existed keep working, and raw SQL such
    as the partial index ``verdict IN ('applied', 'history')`` sees the same text.
    """

    impl = String
    cache_ok = True

    def __init__(self, enum: type[E]) -> None:
        super().__init__()
        self.enum = enum

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else str(self.enum(value))

    def process_result_value(self, value: Any, dialect: Dialect) -> E | None:
        return None if value is None else self.enum(value)


class JsonValue(TypeDecorator[Any]):
    """A JSON column whose "did this change?" is JSON's, not Python's (case C13).

    SQLAlchemy writes a changed attribute only when ``compare_values(old, new)`` is false, and the plain
    ``JSON`` type compares with ``==``: a handler spec changed from ``{"output": 0}`` to ``{"output": false}``
    looked unchanged, so the row kept ``0`` while a new version said ``false``. This type compares with
    ``app.json_values.same_json``. Stored text and schema are the same as ``JSON``.
    """

    impl = JSON
    cache_ok = True

    def compare_values(self, x: Any, y: Any) -> bool:
        return same_json(x, y)
