"""``GET /api/deliveries?q=``: deliveries whose stored body holds a text, with the task_id filter, bounded."""

from __future__ import annotations

import pytest

from app.services import body_search, deliveries
from tests.builders import Console, encode, make_status, sign


async def _deliver_cities(console: Console) -> None:
    calls = [
        (7701, [{"id": "c1", "name": "get_weather", "arguments": {"city": "Zürich"}}]),
        (7702, [{"id": "c1", "name": "get_weather", "arguments": '{"city": "Porto"}'}]),  # C08: a JSON string
        (7703, [{"id": "c1", "name": "search_flights", "arguments": {"to": "Porto"}}]),
    ]
    for task_id, tool_calls in calls:
        await console.deliver(make_status(task_id, tool_calls=tool_calls), f"m_{task_id}")


def _task_ids(page: dict) -> list[int]:
    return [d["task_id"] for d in page["deliveries"]]


async def test_search_deliveries_by_text_finds_bodies_holding_it(console: Console):
    await _deliver_cities(console)
    found = (await console.get("/api/deliveries", params={"q": "Porto"})).json()
    assert _task_ids(found) == [7703, 7702]
    assert found["total"] == 2 and found["searched_above"] is None


async def test_search_deliveries_finds_text_escaped_in_json(console: Console):
    await _deliver_cities(console)  # json.dumps writes Zürich as Z\u00fcrich; 7702's city is inside a JSON string
    assert _task_ids((await console.get("/api/deliveries", params={"q": "Zürich"})).json()) == [7701]
    quoted = (await console.get("/api/deliveries", params={"q": '"city": "Porto"'})).json()
    assert _task_ids(quoted) == [7702]


async def test_search_deliveries_is_case_sensitive_and_narrowed_by_task_id(console: Console):
    await _deliver_cities(console)
    assert _task_ids((await console.get("/api/deliveries", params={"q": "porto"})).json()) == []
    one = (await console.get("/api/deliveries", params={"q": "Porto", "task_id": 7702})).json()
    assert _task_ids(one) == [7702]


async def test_search_deliveries_includes_refused_bodies(console: Console):
    body = encode(make_status(7704, note="forged-marker"))
    forged = sign(body, msg_id="m_forged") | {"webhook-signature": "v1,AAAA"}
    assert (await console.post_webhook(body, forged)).status_code == 401
    [found] = (await console.get("/api/deliveries", params={"q": "forged-marker"})).json()["deliveries"]
    assert (found["verdict"], found["task_id_claimed"]) == ("bad_signature", True)


async def test_search_deliveries_reads_only_the_newest_window(console: Console, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(deliveries, "SEARCH_WINDOW", 2)
    await _deliver_cities(console)
    page = (await console.get("/api/deliveries", params={"q": "Porto"})).json()
    assert _task_ids(page) == [7703, 7702]
    narrow = (await console.get("/api/deliveries", params={"q": "Zürich"})).json()
    assert _task_ids(narrow) == [] and narrow["searched_above"] is not None  # 7701 is older than the window
    assert body_search.SEARCH_WINDOW == 20_000


async def test_search_deliveries_query_too_long_is_422(console: Console):
    response = await console.get("/api/deliveries", params={"q": "x" * 201})
    assert response.status_code == 422
    assert "q" in response.json()["error"]["message"]


async def test_search_deliveries_empty_query_lists_everything(console: Console):
    await _deliver_cities(console)
    assert len((await console.get("/api/deliveries", params={"q": ""})).json()["deliveries"]) == 3
