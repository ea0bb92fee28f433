"""The SQLModel table of the audit: who changed handlers, modes, settings, users or tokens, and when."""

from __future__ import annotations

from sqlmodel import Field, SQLModel

from app.models.columns import EnumText
from app.states import AuditAction


class AuditEntry(SQLModel, table=True):
    """One change, written in the same transaction as the change itself (``app.services.audit``).

    ``at`` is Unix seconds; ``who`` a user's name, ``token NAME`` for an API token, ``command line`` for
    ``python -m app ...``, ``sign-in off`` or ``the console`` (a change nobody asked for, e.g. the first-start
    admin); ``detail`` a short text such as ``Clock · get_current_time v3 (static, auto)``.
    """

    __tablename__ = "audit"

    id: int | None = Field(default=None, primary_key=True)
    at: float = Field(index=True)
    who: str
    action: AuditAction = Field(sa_type=EnumText(AuditAction))
    detail: str = ""


class AuditPublic(SQLModel):
    """One audit line as ``GET /api/audit`` and the Audit page show it."""

    id: int
    at: float
    who: str
    action: AuditAction
    detail: str
