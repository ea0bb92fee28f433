"""Skipping a round: every call answered as failed, with the reason a person gave.

A skip is an ordinary submission (``rounds.submit_round``: claimed once, sent through the outbox with an
idempotency key) whose results all have ``is_error: true`` and the reason as ``output``; the contract says an
error result's ``output`` "holds the error text" (contract, "Tool results"), so the model reads the reason.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import Engine

from app.answerers import Answerer
from app.errors import BadRequest
from app.models import RoundPublic
from app.protocol import ToolResult
from app.services.outbox import Outbox
from app.services.rounds import get_round, submit_round

MAX_REASON_CHARS = 2_000
"""A reason is a sentence or two for the model and the timeline, not a document."""


async def skip_round(
    *, engine: Engine, outbox: Outbox, round_id: int, reason: str, answered_by: Answerer
) -> RoundPublic:
    """Answer every call of a pending round with ``is_error: true`` and ``reason`` (stripped) as its output.

    Raises ``BadRequest`` (422) for a reason with nothing visible in it or one over ``MAX_REASON_CHARS``, ``NotFound`` for an
    unknown round, and whatever ``submit_round`` raises (``RoundClosed`` 409 when it is not pending any more,
    ``PlatformError`` with the platform's words). The returned round is ``submitting`` while the outbox retries.
    """
    text = reason.strip()
    if not any(char.isprintable() and not char.isspace() for char in text):  # blank, NULs, zero-width spaces
        raise BadRequest("reason: say why the round is skipped; the model reads it as the tools' error")
    if len(text) > MAX_REASON_CHARS:
        raise BadRequest(f"reason: {len(text):,} characters; keep it under {MAX_REASON_CHARS:,}")
    round_ = await asyncio.to_thread(lambda: get_round(engine=engine, round_id=round_id))
    results = [ToolResult(tool_call_id=call.tool_call_id, output=text, is_error=True) for call in round_.tool_calls]
    return await submit_round(engine=engine, outbox=outbox, round_id=round_id, results=results, answered_by=answered_by)
