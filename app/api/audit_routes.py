"""``/api`` route for the audit: who changed handlers, modes, settings, users or tokens, newest first."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from app.auth.access import need
from app.models import AuditPublic
from app.runtime import get_runtime
from app.services import audit
from app.states import Role

router = APIRouter(prefix="/api", tags=["api"])
"""The audit (reading only: lines are written by the changes themselves, ``app.services.audit``)."""


class AuditPage(BaseModel):
    """One page of audit lines, newest first, and how many there are in all."""

    entries: list[AuditPublic]
    total: int


@router.get(
    "/audit",
    dependencies=[Depends(need(Role.VIEWER))],
    response_model=AuditPage,
    summary="Who changed handlers, modes, settings, users or tokens, and when; newest first",
)
async def list_audit(
    limit: int = Query(default=50, ge=1, le=500), offset: int = Query(default=0, ge=0, le=10**9)
) -> AuditPage:
    engine = get_runtime().engine
    entries, total = await asyncio.to_thread(lambda: audit.list_audit(engine=engine, limit=limit, offset=offset))
    return AuditPage(entries=entries, total=total)
