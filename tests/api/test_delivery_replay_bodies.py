"""``POST /api/deliveries/{id}/replay`` with an edited body that cannot be sent: a 422 naming why, never a 500."""

from __future__ import annotations

import json

import pytest

from tests.builders import Console, make_status


@pytest.mark.parametrize(
    "edited",
    ["X\ud800", {"status": "running", "note": {"k": "X\ud800"}}],
    ids=["text", "json"],
)
async def test_replay_with_lone_surrogate_is_422_and_nothing_replayed(console: Console, edited: object):
    """Regression: a lone UTF-16 surrogate (``"\\ud800"``, valid JSON escape, not Unicode text) could not be
    encoded as the replay's UTF-8 bytes and the route answered 500."""
    await console.deliver(make_status(7901, status="running", sequence=1, round=None), "m_7901")
    [stored] = (await console.get("/api/deliveries", params={"task_id": 7901})).json()["deliveries"]

    text = json.dumps({"body": edited})  # Python's JSON escapes the surrogate as a careless sender writes it
    response = await console.post(
        f"/api/deliveries/{stored['id']}/replay", content=text, headers={"content-type": "application/json"}
    )

    assert response.status_code == 422, response.text
    assert "lone UTF-16 surrogate" in response.json()["error"]["message"]
    assert (await console.get("/api/deliveries", params={"task_id": 7901})).json()["total"] == 1
