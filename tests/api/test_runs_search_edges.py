"""Runs search: it searches tool names, arguments, results and the run's result, not their JSON encoding."""

from __future__ import annotations

import httpx

from tests.builders import encode, make_status, sign


async def test_search_runs_quote_matches_no_run_without_one(console: httpx.AsyncClient):
    """Regression: ``Run.result`` is a JSON column searched as ``CAST(result AS TEXT)``: a string result is stored with its
    quotes, so ``q="`` (or any JSON syntax such as ``:``) matches every run with a text result."""
    raw = encode(make_status(8801, status="completed", sequence=4, round=None, result="done"))
    assert (await console.post("/webhooks/sudoiq", content=raw, headers=sign(raw, msg_id="m1"))).status_code == 200
    found = (await console.get("/api/runs", params={"q": '"'})).json()
    assert found["total"] == 0
