"""``GET /api/deliveries`` pages by keyset (``before`` = the page before's ``next_before``) and counts up to a bound:
every delivery is listed exactly once, newest first, however many share a timestamp or arrive meanwhile."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from app.runtime import Runtime
from app.services import deliveries
from tests.builders import Console, encode, make_status, sign


async def _store(console: Console, count: int, *, task_id: int, forged_every: int = 0) -> list[int]:
    """``count`` deliveries for ``task_id`` (every ``forged_every``-th with a bad signature); their ids."""
    for n in range(count):
        body = encode(make_status(task_id, status="running", sequence=n + 1, round=None))
        headers = sign(body, msg_id=f"m_{task_id}_{n}")
        if forged_every and n % forged_every == 0:
            headers["webhook-signature"] = "v1,AAAA"
        answer = await console.post_webhook(body, headers)
        assert answer.status_code in {200, 401}
    listed = (await console.get("/api/deliveries", params={"task_id": task_id, "per_page": 500})).json()
    ids = [delivery["id"] for delivery in listed["deliveries"]]
    assert len(ids) == count
    return ids


async def _walk(console: Console, **params: Any) -> list[list[int]]:
    """Every page from the first, following ``next_before``; each page's ids."""
    pages: list[list[int]] = []
    before = None
    while True:
        query = params | ({"before": before} if before is not None else {})
        page = (await console.get("/api/deliveries", params=query)).json()
        pages.append([delivery["id"] for delivery in page["deliveries"]])
        before = page["next_before"]
        if before is None:
            return pages
        assert len(pages) < 50, "next_before never ran out"


async def test_deliveries_keyset_lists_each_delivery_once_with_equal_timestamps(console: Console, runtime: Runtime):
    ids = await _store(console, 7, task_id=7801)
    with runtime.engine.begin() as conn:
        conn.execute(text("UPDATE delivery SET received_at = 1800000000.0"))

    pages = await _walk(console, per_page=3)

    assert [len(page) for page in pages] == [3, 3, 1]
    assert [i for page in pages for i in page] == sorted(ids, reverse=True)


async def test_deliveries_keyset_keeps_verdict_filter(console: Console):
    await _store(console, 7, task_id=7802, forged_every=3)  # sequences 1, 4 and 7 refused

    pages = await _walk(console, per_page=2, verdict="bad_signature")

    listed = [i for page in pages for i in page]
    assert [len(page) for page in pages] == [2, 1]
    found = (await console.get("/api/deliveries", params={"verdict": "bad_signature"})).json()["deliveries"]
    assert listed == [delivery["id"] for delivery in found]
    assert len(found) == 3


async def test_deliveries_next_page_stays_put_when_new_deliveries_arrive(console: Console):
    ids = await _store(console, 4, task_id=7803)
    first = (await console.get("/api/deliveries", params={"per_page": 2})).json()

    await _store(console, 2, task_id=7804)
    second = (await console.get("/api/deliveries", params={"per_page": 2, "before": first["next_before"]})).json()

    assert [d["id"] for d in first["deliveries"] + second["deliveries"]] == sorted(ids, reverse=True)
    assert second["next_before"] is None


async def test_deliveries_page_counts_on_from_before(console: Console):
    ids = await _store(console, 5, task_id=7805)

    page = (await console.get("/api/deliveries", params={"per_page": 2, "page": 2, "before": ids[0]})).json()

    assert [d["id"] for d in page["deliveries"]] == ids[3:5]


async def test_deliveries_total_is_bounded(console: Console, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(deliveries, "COUNT_LIMIT", 3)
    await _store(console, 5, task_id=7806, forged_every=2)  # sequences 1, 3 and 5 refused

    everything = (await console.get("/api/deliveries")).json()
    refused = (await console.get("/api/deliveries", params={"verdict": "bad_signature"})).json()
    accepted = (await console.get("/api/deliveries", params={"verdict": "applied"})).json()

    assert (everything["total"], everything["total_exact"], len(everything["deliveries"])) == (3, False, 5)
    assert (refused["total"], refused["total_exact"]) == (3, True)
    assert (accepted["total"], accepted["total_exact"]) == (2, True)


async def test_deliveries_before_must_be_an_id(console: Console):
    response = await console.get("/api/deliveries", params={"before": "0"})
    assert response.status_code == 422
    assert "before" in response.json()["error"]["message"]
