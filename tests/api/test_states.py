"""Named states: the API documents the allowed words, and the database keeps the same lowercase text as ever."""

from __future__ import annotations

import httpx
from sqlalchemy import text

from app.runtime import Runtime
from tests.builders import encode, make_status, sign


async def test_openapi_lists_allowed_states_and_kinds(console: httpx.AsyncClient):
    schemas = (await console.get("/openapi.json")).json()["components"]["schemas"]

    assert schemas["RoundState"]["enum"] == ["pending", "submitting", "submitted", "expired", "closed"]
    assert schemas["HandlerMode"]["enum"] == ["manual", "suggest", "auto"]
    assert schemas["HandlerKind"]["enum"] == ["static", "rules", "python"]
    assert "bad_signature" in schemas["Verdict"]["enum"]


async def test_webhook_stores_states_as_lowercase_words(console: httpx.AsyncClient, runtime: Runtime):
    body = encode(make_status(8801))
    answered = await console.post("/webhooks/sudoiq", content=body, headers=sign(body, msg_id="m8801"))
    assert answered.status_code == 200, answered.text

    with runtime.engine.connect() as conn:
        verdicts = conn.execute(text("SELECT verdict FROM delivery WHERE task_id = 8801")).scalars().all()
        states = conn.execute(text("SELECT state FROM round WHERE task_id = 8801")).scalars().all()
        kinds = conn.execute(text("SELECT kind FROM event WHERE task_id = 8801 ORDER BY id")).scalars().all()
    assert (verdicts, states, kinds) == (["applied"], ["pending"], ["state", "round_opened"])


async def test_run_with_unknown_status_shows_it_as_sent(console: httpx.AsyncClient):
    body = encode(make_status(8802, status="paused_by_operator", round=None))
    assert (await console.post("/webhooks/sudoiq", content=body, headers=sign(body, msg_id="m8802"))).status_code == 200

    assert (await console.get("/api/runs/8802")).json()["status"] == "paused_by_operator"
